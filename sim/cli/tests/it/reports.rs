//! The reports: every example scenario's Markdown, JSON and JUnit output is
//! snapshot-tested (snapshots in `sim/tests/snapshots/reports__*.snap`), its
//! HTML checked structurally, its JUnit against the rules of the Ant JUnit
//! schema (`reports/schemas/JUnit.xsd`) and its SARIF against the OASIS
//! SARIF 2.1.0 schema (`reports/schemas/sarif-schema-2.1.0.json`). A scenario
//! whose ids and names are hostile (`sim/tests/fixtures/hostile/`) renders
//! escaped everywhere, and `privsim run --report-dir` and `privsim report`
//! are run end to end. A handcrafted result of the escalation search
//! (`sim/tests/fixtures/search-result.json`: a search summary, findings of
//! every kind with traces, hostile ids) renders in every format
//! (`reports__search_*.snap`).
//!
//! The tests run from the workspace root, so paths in the reports read as
//! `privsim run scenarios/` prints them there.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::collections::BTreeSet;
use std::path::Path;

use privsim::{LoadOptions, RunResult, load as scenario};
use privsim_reports::{self as report, Format};

const HOSTILE: &str = "sim/tests/fixtures/hostile/scenario.toml";
const SEARCH_RESULT: &str = "sim/tests/fixtures/search-result.json";

use crate::common::{TempFolder, from_workspace_root, unwrapped, workspace_root};

/// What `privsim run <file> --report-dir` renders: the replay, the accounting
/// and the suggestion of one scenario, given relative to the workspace root.
fn result_of(relative: &Path) -> RunResult {
    from_workspace_root();
    let loaded = scenario::load(relative, &LoadOptions::default().under(relative))
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    RunResult::new(vec![privsim::evaluate_and_suggest(&loaded)])
}

fn render(result: &RunResult, format: Format) -> String {
    report::render_at(result, format, crate::common::RUN_AT).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn example_reports() {
    let root = workspace_root();
    let sarif_validator = sarif_validator();
    insta::glob!("../../../../scenarios", "**/*.toml", |path| {
        // A shared world is read through the scenarios that name it.
        if scenario::is_shared_world(path) {
            return;
        }
        let relative = path.strip_prefix(&root).unwrap();
        let result = result_of(relative);
        let files = report::render_all_at(&result, crate::common::RUN_AT).unwrap();

        // Same input, byte-identical output, and `render_all` agrees with `render`.
        for (name, text) in &files {
            let format = Format::ALL
                .into_iter()
                .find(|f| f.file_name() == *name)
                .unwrap();
            assert_eq!(&render(&result, format), text, "{name} differs");
        }
        let markdown = render(&result, Format::Markdown);
        let junit = render(&result, Format::Junit);
        check_markdown_tables(&markdown);
        let html = render(&result, Format::Html);
        check_html(&html, &result);
        assert!(
            !html.contains("://"),
            "no URL at all in the examples' pages"
        );
        check_junit(&junit, &result);
        check_sarif(&sarif_validator, &render(&result, Format::Sarif));

        insta::assert_snapshot!("markdown", markdown);
        insta::assert_snapshot!("json", render(&result, Format::Json));
        insta::assert_snapshot!("junit", junit);
    });
}

#[test]
fn the_whole_example_folder_renders_one_report() {
    from_workspace_root();
    let run = privsim::run_paths_with(&["scenarios"], &LoadOptions::default(), true).unwrap();
    let markdown = render(&run, Format::Markdown);
    let html = render(&run, Format::Html);
    assert!(
        markdown.starts_with("### ⚠️ privsim: PASS with findings."),
        "{markdown}"
    );
    // GitHub refuses comments over 65,536 characters.
    assert!(
        markdown.chars().count() < 65_536,
        "{} characters",
        markdown.chars().count()
    );
    // The overview links every scenario's section.
    for number in 1..=run.scenarios.len() {
        assert!(markdown.contains(&format!("(#scenario-{number})")));
        assert!(html.contains(&format!("id=\"scenario-{number}\"")));
    }
    check_markdown_tables(&markdown);
    check_html(&html, &run);
    check_junit(&render(&run, Format::Junit), &run);
    check_sarif(&sarif_validator(), &render(&run, Format::Sarif));
}

/// A run repeated `times` times, as one result.
fn repeated(result: &RunResult, times: usize) -> RunResult {
    let scenarios = (0..times)
        .flat_map(|_| result.scenarios.iter().cloned())
        .collect();
    RunResult::new(scenarios)
}

/// The `(#scenario-N)` links of the overview, and the sections' anchors.
fn links_and_anchors(markdown: &str) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let numbers = |pattern: &str, end: char| -> BTreeSet<usize> {
        markdown
            .match_indices(pattern)
            .map(|(at, _)| {
                let rest = &markdown[at + pattern.len()..];
                rest[..rest.find(end).unwrap()].parse().unwrap()
            })
            .collect()
    };
    (
        numbers("](#scenario-", ')'),
        numbers("<a id=\"scenario-", '"'),
    )
}

/// Checks what every size-limited Markdown report must hold: within the
/// limit, tables intact, every scenario in the overview, every link with its
/// section, deterministic; returns the report.
fn check_limited_markdown(result: &RunResult) -> String {
    let markdown = render(result, Format::Markdown);
    let length = markdown.chars().count();
    // GitHub refuses comments over 65,536 characters.
    assert!(length < 65_536, "{length} characters");
    assert!(length <= report::MARKDOWN_LIMIT, "{length} characters");
    assert!(
        markdown.ends_with(".\n"),
        "{}",
        &markdown[markdown.len() - 200..]
    );
    check_markdown_tables(&markdown);
    let (links, anchors) = links_and_anchors(&markdown);
    assert_eq!(
        links, anchors,
        "every link has its section, every section its link"
    );
    assert_eq!(
        render(result, Format::Markdown),
        markdown,
        "not deterministic"
    );
    markdown
}

#[test]
fn a_long_run_shortens_sections_to_stay_within_a_comment() {
    let (_, search) = search_result();
    let one = render(&search, Format::Markdown);
    assert!(
        !one.contains("Shortened"),
        "a small result is not shortened"
    );

    let long = repeated(&search, 50);
    let markdown = check_limited_markdown(&long);
    let files = report::render_all_at(&long, crate::common::RUN_AT).unwrap();
    assert_eq!(files[0], ("report.md", markdown.clone()));
    assert!(render(&long, Format::Html).chars().count() > 65_536);
    // The overview still lists every scenario.
    let rows = markdown
        .lines()
        .filter(|l| l.starts_with("| ⚠️ |") || l.starts_with("| ❌ |") || l.starts_with("| ✅ |"))
        .count();
    assert_eq!(rows, 100);
    let (links, _) = links_and_anchors(&markdown);
    let full = markdown.matches("\n### Search\n").count();
    let compact = markdown.matches("*Shortened to fit the comment:").count();
    let omitted = 100 - links.len();
    assert!(full > 0 && compact > 0, "{full} in full, {compact} compact");
    assert_eq!(full + compact, links.len());
    // Scenarios with findings are served before passing ones, each group in
    // run order: the (identical) scenarios with findings that have a section
    // are the first ones.
    let with_findings: Vec<usize> = (1..=100).step_by(2).collect();
    let shown = with_findings
        .iter()
        .take_while(|n| links.contains(n))
        .count();
    assert!(shown > 0, "{links:?}");
    assert!(
        with_findings[shown..].iter().all(|n| !links.contains(n)),
        "{links:?}"
    );
    // A compact section: verdict, counts, the search, one line per finding.
    let compact_section = markdown
        .split("\n<a id=\"scenario-")
        .find(|s| s.contains("*Shortened to fit the comment:"))
        .unwrap();
    for needle in [
        "\n## ⚠️ PASS with findings: &lt;script&gt;alert('fuzz')&lt;/script&gt; \\| \\*search\\* \\[link\\](x)\n",
        "\nSearch: strategy novelty, seed 42: 50000 moves tried, 8123 distinct states, max depth 16; budget exhausted: ",
        "\n- Finding 1, never at 2026-06-01T09:03:00Z, after 2 moves: ",
        "\n- Finding 6, ",
    ] {
        assert!(
            compact_section.contains(needle),
            "no `{needle}` in:\n{compact_section}"
        );
    }
    assert!(!compact_section.contains("\n- Finding 7, "));
    assert!(
        !compact_section.lines().any(|l| l.starts_with('|')),
        "no table in a compact section"
    );
    let note = format!(
        "**Shortened to fit a GitHub comment.** Of 100 scenarios, {compact} {} summarized above (verdict, counts, one line per failure and finding){}. `report.html` and `result.json` have every scenario in full.\n",
        if compact == 1 { "is" } else { "are" },
        match omitted {
            0 => String::new(),
            1 => ", and 1 has only its row in the table at the top".to_string(),
            n => format!(", and {n} have only their row in the table at the top"),
        }
    );
    assert!(
        markdown.ends_with(&note),
        "{}",
        &markdown[markdown.len() - 400..]
    );
    // Hostile ids stay escaped in compact sections too.
    let prose = without_code_spans(&markdown);
    for raw in ["<script", "<img", "<b>", "<i>", "<docs>"] {
        assert!(!prose.contains(raw), "`{raw}` is not escaped");
    }
}

#[test]
fn failed_scenarios_keep_their_full_section_in_a_long_run() {
    // A failing scenario at the very end of a long run of passing ones.
    let passing = result_of(Path::new("scenarios/ticket-agent/least-privilege.toml"));
    let hostile = result_of(Path::new(HOSTILE));
    let mut long = repeated(&passing, 200);
    long.scenarios.extend(hostile.scenarios.iter().cloned());
    let markdown = check_limited_markdown(&long);
    let last = markdown.split("\n<a id=\"scenario-201\">").nth(1).unwrap();
    assert!(last.contains("### Failed expectations (1)"), "{last}");
    assert!(last.contains("<details><summary>Trace"), "{last}");
    // Compact sections for the passing ones while they fit, then rows only.
    let (links, _) = links_and_anchors(&markdown);
    assert!(links.contains(&1) && links.contains(&201));
    assert!(links.len() < 201, "some scenarios have only their row");
    assert!(markdown.contains(" have only their row in the table at the top."));
    assert!(
        markdown.contains(
            "| ✅ | Ticket-summarizing agent that retrieves and drafts (least privilege) | 10/10 |"
        ),
        "a scenario without a section is not linked"
    );
}

#[test]
fn an_overview_too_long_for_a_comment_is_cut_at_a_line() {
    let (_, search) = search_result();
    let huge = repeated(&search, 400);
    let markdown = check_limited_markdown(&huge);
    assert!(
        markdown.ends_with("\n\n---\n\n**Cut short to fit a GitHub comment**: the overview above ends early and no scenario section fits. `report.html` and `result.json` have every scenario in full.\n"),
        "{}",
        &markdown[markdown.len() - 400..]
    );
    assert!(!markdown.contains("<a id="), "no section");
    let rows = markdown.lines().filter(|l| l.starts_with("| ⚠️ |")).count();
    assert!(rows > 100 && rows < 800, "{rows} rows");
}

#[test]
fn step_effects_are_shown_escaped_under_their_step() {
    let hostile_effect = "grant `jit|<1>` to <script>x</script> *y* [l](u) @here\nnext line";
    // A failed scenario: its failed expectation and its whole trace.
    let mut result = result_of(Path::new(HOSTILE));
    let failed = result.scenarios[0]
        .steps
        .iter()
        .position(|st| st.expectation.as_ref().is_some_and(|e| !e.passed))
        .unwrap();
    result.scenarios[0].steps[failed].effects = vec![
        hostile_effect.to_string(),
        "Agent::\"a\" joins Role::\"b\"".to_string(),
    ];
    let markdown = render(&result, Format::Markdown);
    check_markdown_tables(&markdown);
    let row = r#"| | | ↳ effects | grant \`jit\|&lt;1&gt;\` to &lt;script&gt;x&lt;/script&gt; \*y\* \[l\](u) \@here next line; Agent::"a" joins Role::"b" | | | | |"#;
    assert_eq!(
        markdown.matches(row).count(),
        2,
        "under the failed expectation and in the trace:\n{markdown}"
    );
    let prose = without_code_spans(&markdown);
    assert!(!prose.contains("<script>x"));

    let html = render(&result, Format::Html);
    check_html(&html, &result);
    assert!(!html.contains("<script>x"));
    assert_eq!(
        html.matches("<td class=\"muted\">effects</td><td colspan=\"4\"><ul><li>grant `jit|&lt;1&gt;` to &lt;script&gt;x&lt;/script&gt; *y* [l](u) @here&#10;next line</li><li>Agent::&quot;a&quot; joins Role::&quot;b&quot;</li></ul></td></tr>").count(),
        1
    );
    assert_eq!(html.matches("<tr class=\"effects\">").count(), 2);

    let text = report::text::render(&result);
    assert!(text.contains(
        "\n        effect: grant `jit|<1>` to <script>x</script> *y* [l](u) @here next line\n        effect: Agent::\"a\" joins Role::\"b\"\n"
    ), "{text}");

    // A finding's trace: the effects row under the step, marked with it.
    let mut result = result_of(Path::new("scenarios/break-glass/over-privileged.toml"));
    let step = result.scenarios[0].findings[0].step.unwrap();
    let at = result.scenarios[0]
        .steps
        .iter()
        .position(|st| st.index == step)
        .unwrap();
    result.scenarios[0].steps[at].effects = vec![hostile_effect.to_string()];
    let markdown = render(&result, Format::Markdown);
    check_markdown_tables(&markdown);
    assert!(markdown.contains(
        r"| | ↳ effects | grant \`jit\|&lt;1&gt;\` to &lt;script&gt;x&lt;/script&gt; \*y\* \[l\](u) \@here next line | | | | | |"
    ), "{markdown}");
    let html = render(&result, Format::Html);
    check_html(&html, &result);
    assert!(html.contains("<tr class=\"effects finding-step\"><td></td><td class=\"muted\">effects</td><td colspan=\"5\">"));

    // Without effects, nothing is added.
    let plain = result_of(Path::new("scenarios/break-glass/over-privileged.toml"));
    assert!(!render(&plain, Format::Markdown).contains("effects"));
    assert!(!render(&plain, Format::Html).contains("class=\"effects"));
    assert!(!report::text::render(&plain).contains("effect:"));
}

/// Every row of every Markdown table has as many cells as its header: an
/// unescaped `|` in a value would add one.
fn check_markdown_tables(markdown: &str) {
    let mut columns: Option<usize> = None;
    for (number, line) in markdown.lines().enumerate() {
        if !line.starts_with('|') {
            columns = None;
            continue;
        }
        let cells = cell_count(line);
        match columns {
            None => columns = Some(cells),
            Some(expected) => assert_eq!(
                cells,
                expected,
                "line {}: {cells} cells, the header has {expected}:\n{line}",
                number + 1
            ),
        }
    }
}

/// Cells of a GitHub table row: `|` not preceded by a backslash split cells,
/// also inside code spans (GitHub splits rows before parsing inlines).
fn cell_count(line: &str) -> usize {
    let mut pipes = 0;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => pipes += 1,
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    pipes - 1
}

/// The HTML page is self-contained and its elements balance; it has the
/// timeline when anything was held.
fn check_html(html: &str, result: &RunResult) {
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..80]);
    assert!(html.trim_end().ends_with("</html>"));
    // Nothing is loaded from anywhere: no scripts, no external resources, and
    // the only links are to the page's own sections.
    for forbidden in [
        "<script", "<link", "<iframe", "<img", "<object", "<embed", "src=\"", "@import", "url(h",
    ] {
        assert!(!html.contains(forbidden), "the page contains `{forbidden}`");
    }
    for (at, _) in html.match_indices("href=\"") {
        assert!(
            html[at..].starts_with("href=\"#"),
            "an external link: {}",
            &html[at..at + 40]
        );
    }
    for tag in [
        "table", "tr", "td", "th", "section", "svg", "details", "summary", "g", "code", "ul", "li",
        "p", "figure",
    ] {
        let opened =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        let closed = html.matches(&format!("</{tag}>")).count();
        assert_eq!(
            opened, closed,
            "<{tag}> opened {opened} times, closed {closed}"
        );
    }
    let held = result
        .scenarios
        .iter()
        .filter(|s| s.principals.iter().any(|p| !p.held.is_empty()))
        .count();
    assert_eq!(
        html.matches("<svg ").count(),
        held,
        "one timeline per scenario that held anything"
    );
    if held > 0 {
        // A pair held only at the moments steps asked with their own
        // context (the MCP example's tools) is an intermittent bar.
        assert!(
            html.contains("<rect class=\"held\"") || html.contains("<rect class=\"intermittent\""),
            "the timeline has no bar"
        );
    }
}

/// The JUnit XML follows reports/schemas/JUnit.xsd (Apache Ant's schema), checked
/// element by element since Rust has no XSD validator: `testsuites` with no
/// attributes holds `testsuite`s with every required attribute, each holding
/// `properties`, `testcase`s, `system-out` and `system-err` in that order; a
/// `testcase` has `name`, `classname` and `time` and at most one `failure`
/// with a `type`. The counts match, and there is a case per expectation,
/// access assertion and finding.
fn check_junit(xml: &str, result: &RunResult) {
    let document = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(
        root.attributes().count(),
        0,
        "the schema gives testsuites no attributes"
    );
    let suites: Vec<_> = root
        .children()
        .filter(roxmltree::Node::is_element)
        .collect();
    assert_eq!(suites.len(), result.scenarios.len());
    for (id, (suite, scenario)) in suites.iter().zip(&result.scenarios).enumerate() {
        assert_eq!(suite.tag_name().name(), "testsuite");
        let attribute = |name: &str| {
            suite
                .attribute(name)
                .unwrap_or_else(|| panic!("testsuite has no `{name}`"))
        };
        assert_eq!(attribute("id"), id.to_string());
        for name in ["package", "name", "hostname"] {
            assert!(!attribute(name).trim().is_empty(), "empty `{name}`");
        }
        let timestamp = attribute("timestamp");
        assert!(
            timestamp.len() == 19
                && timestamp.chars().enumerate().all(|(i, c)| match i {
                    4 | 7 => c == '-',
                    10 => c == 'T',
                    13 | 16 => c == ':',
                    _ => c.is_ascii_digit(),
                }),
            "timestamp `{timestamp}` is not YYYY-MM-DDTHH:MM:SS"
        );
        let number = |name: &str| -> usize { attribute(name).parse().unwrap() };
        assert_eq!(attribute("time").parse::<f64>().unwrap(), 0.0);
        assert_eq!(number("errors"), 0);
        let children: Vec<_> = suite
            .children()
            .filter(roxmltree::Node::is_element)
            .collect();
        let names: Vec<&str> = children.iter().map(|c| c.tag_name().name()).collect();
        assert_eq!(names.first(), Some(&"properties"), "{names:?}");
        assert_eq!(
            &names[names.len() - 2..],
            ["system-out", "system-err"],
            "{names:?}"
        );
        let cases: Vec<_> = children[1..children.len() - 2].to_vec();
        assert!(
            cases.iter().all(|c| c.tag_name().name() == "testcase"),
            "{names:?}"
        );
        for property in children[0].children().filter(roxmltree::Node::is_element) {
            assert_eq!(property.tag_name().name(), "property");
            assert!(!property.attribute("name").unwrap().is_empty());
            assert!(property.attribute("value").is_some());
        }
        let mut failures = 0;
        for case in &cases {
            for name in ["name", "classname", "time"] {
                assert!(case.attribute(name).is_some(), "testcase without `{name}`");
            }
            let outcome: Vec<_> = case
                .children()
                .filter(roxmltree::Node::is_element)
                .collect();
            assert!(outcome.len() <= 1, "more than one outcome in a testcase");
            if let Some(failure) = outcome.first() {
                assert_eq!(failure.tag_name().name(), "failure");
                assert!(failure.attribute("type").is_some());
                failures += 1;
            }
        }
        assert_eq!(number("tests"), cases.len());
        assert_eq!(number("failures"), failures);
        let expectations = scenario
            .steps
            .iter()
            .filter(|s| s.expectation.is_some())
            .count();
        assert_eq!(
            cases.len(),
            expectations + scenario.access.len() + scenario.findings.len().max(1),
            "a case per expectation, access assertion and finding"
        );
        assert_eq!(
            failures,
            scenario.summary.expectations_failed
                + scenario.summary.access_failed
                + scenario.findings.len()
        );
    }
}

/// The OASIS SARIF 2.1.0 schema, vendored under reports/schemas/.
fn sarif_validator() -> jsonschema::Validator {
    let text =
        std::fs::read_to_string(workspace_root().join("reports/schemas/sarif-schema-2.1.0.json"))
            .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

fn check_sarif(validator: &jsonschema::Validator, text: &str) -> serde_json::Value {
    let sarif: serde_json::Value = serde_json::from_str(text).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF is invalid:\n{}",
        errors.join("\n")
    );
    // What code-scanning tools need beyond the schema: a rule for each result,
    // a relative file and a line for each location.
    let run = &sarif["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for result in run["results"].as_array().unwrap() {
        let rule = result["ruleId"].as_str().unwrap();
        assert_eq!(rules[result["ruleIndex"].as_u64().unwrap() as usize], rule);
        let physical = &result["locations"][0]["physicalLocation"];
        let uri = physical["artifactLocation"]["uri"].as_str().unwrap();
        assert!(!uri.starts_with('/') && Path::new(uri).exists(), "{uri}");
        assert!(physical["region"]["startLine"].as_u64().unwrap() >= 1);
    }
    sarif
}

#[test]
fn sarif_locates_findings_at_the_determining_policy_and_failures_at_the_step() {
    let result = result_of(Path::new("scenarios/break-glass/over-privileged.toml"));
    let sarif = check_sarif(&sarif_validator(), &render(&result, Format::Sarif));
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let ceiling = results
        .iter()
        .find(|r| r["ruleId"] == "delegation-ceiling")
        .unwrap();
    let location = &ceiling["locations"][0]["physicalLocation"];
    let policy = &result.scenarios[0].policies["breakglass-operator"];
    assert_eq!(
        format!(
            "{}:{}",
            location["artifactLocation"]["uri"].as_str().unwrap(),
            location["region"]["startLine"]
        ),
        *policy
    );
    // The trace is a code flow through the scenario's steps, ending at the finding.
    let flow = ceiling["codeFlows"][0]["threadFlows"][0]["locations"]
        .as_array()
        .unwrap();
    assert_eq!(flow.len(), 5);
    assert_eq!(flow[4]["importance"], "essential");
    assert_eq!(
        flow[4]["location"]["physicalLocation"]["region"]["startLine"],
        result.scenarios[0].steps[4].line
    );
    let kinds: BTreeSet<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains("expiry")
            && kinds.contains("over-privilege")
            && kinds.contains("dead-policy"),
        "{kinds:?}"
    );

    let hostile = result_of(Path::new(HOSTILE));
    let sarif = check_sarif(&sarif_validator(), &render(&hostile, Format::Sarif));
    let failed = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "expectation-failed")
        .unwrap();
    let location = &failed["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], HOSTILE);
    assert_eq!(
        location["region"]["startLine"],
        hostile.scenarios[0].steps[1].line
    );
}

#[test]
fn hostile_ids_render_escaped() {
    let result = result_of(Path::new(HOSTILE));
    assert!(!result.passed(), "the fixture has a failing expectation");
    let markdown = render(&result, Format::Markdown);
    let html = render(&result, Format::Html);
    let junit = render(&result, Format::Junit);

    // Markdown: tables keep their columns; outside code spans no HTML gets
    // through, and nothing turns into emphasis, links, math or mentions.
    check_markdown_tables(&markdown);
    let prose = without_code_spans(&markdown);
    for raw in [
        "<script",
        "<img",
        "<b>",
        "</td>",
        "<i>",
        "*not bold*",
        "[link]",
        " @here",
        "$x$",
    ] {
        assert!(
            !prose.contains(raw),
            "`{raw}` is not escaped in:\n{markdown}"
        );
    }
    assert!(
        markdown.contains(r"&lt;script&gt;alert('name')&lt;/script&gt; \| \*not bold\* \[link\]")
    );
    assert!(markdown.contains(r#"| `Agent::"<script>alert(1)</script>"` |"#));
    assert!(markdown.contains(r#"`Doc::"a\|b"`"#));
    assert!(markdown.contains(r#"``Doc::"x`y"``"#));
    // The step name's line break does not end the table row.
    assert!(!markdown.contains("table-breaking\nname"));

    // HTML: no markup of the input survives; the ids are there as text.
    check_html(&html, &result);
    for raw in ["<script", "<img", "<b>", "<i>", "</td><td>|"] {
        assert!(!html.contains(raw), "`{raw}` is not escaped");
    }
    assert!(
        html.contains("Agent::&quot;&lt;script&gt;alert(1)&lt;&#x2f;script&gt;&quot;")
            || html.contains("Agent::&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;")
    );
    assert!(html.contains("Doc::&quot;a|b&quot;"));

    // JUnit: parses, and the ids come back exactly.
    check_junit(&junit, &result);
    let document = roxmltree::Document::parse(&junit).unwrap();
    let names: Vec<&str> = document
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.contains(r#"Agent::"<script>alert(1)</script>" Action::"read" Doc::"a|b""#)),
        "{names:?}"
    );
    let suite = document
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(
        suite.attribute("name"),
        Some(result.scenarios[0].name.as_str())
    );
}

/// The Markdown with every code span (and fenced block) removed.
fn without_code_spans(markdown: &str) -> String {
    let mut out = String::new();
    let mut in_fence = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '`' && (i == 0 || chars[i - 1] != '\\') {
                let mut ticks = 0;
                while i < chars.len() && chars[i] == '`' {
                    ticks += 1;
                    i += 1;
                }
                // Skip to the closing run of the same length.
                let mut run = 0;
                while i < chars.len() {
                    if chars[i] == '`' {
                        run += 1;
                    } else if run == ticks {
                        break;
                    } else {
                        run = 0;
                    }
                    i += 1;
                }
                continue;
            }
            out.push(chars[i]);
            i += 1;
        }
        out.push('\n');
    }
    out
}

#[test]
fn markdown_escaping_and_code_spans() {
    assert_eq!(
        report::escape_markdown("a|b <script> *x* _y_ [l](u) `c` #1 ~s~ $m$ @me\nnext & \\"),
        r"a\|b &lt;script&gt; \*x\* \_y\_ \[l\](u) \`c\` \#1 \~s\~ \$m\$ \@me next &amp; \\"
    );
    assert_eq!(report::code_span("a|b", true), r"`a\|b`");
    assert_eq!(report::code_span("a|b", false), "`a|b`");
    assert_eq!(report::code_span("x`y", true), "``x`y``");
    assert_eq!(report::code_span("`edge`", true), "`` `edge` ``");
    assert_eq!(report::code_span("two\nlines", true), "`two lines`");
    assert_eq!(
        report::escape_xml("<a b=\"c\"> & 'd'\u{1}"),
        "&lt;a b=&quot;c&quot;&gt; &amp; &apos;d&apos;\u{FFFD}"
    );
}

// ---- results of the escalation search ----

/// The handcrafted search result, read as `privsim report` reads it.
fn search_result() -> (String, RunResult) {
    from_workspace_root();
    let file = privsim::diag::SourceFile::read(Path::new(SEARCH_RESULT), SEARCH_RESULT.to_string())
        .unwrap();
    let result = report::parse(&file).unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    (file.text.to_string(), result)
}

#[test]
fn search_findings_and_summary_render_in_every_format() {
    let (text, result) = search_result();
    let scenario = &result.scenarios[0];
    let kinds: BTreeSet<&str> = scenario.findings.iter().map(|f| f.kind.as_str()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "access",
            "attenuation",
            "delegation-ceiling",
            "expiry",
            "never"
        ]),
        "the fixture has a finding of every kind"
    );
    assert!(scenario.findings.iter().all(|f| !f.trace.is_empty()));

    // JSON is the contract itself: the stored result comes back byte for byte.
    assert_eq!(render(&result, Format::Json), text);
    for (name, text) in report::render_all_at(&result, crate::common::RUN_AT).unwrap() {
        let format = Format::ALL
            .into_iter()
            .find(|f| f.file_name() == name)
            .unwrap();
        assert_eq!(render(&result, format), text, "{name} differs");
    }

    let markdown = render(&result, Format::Markdown);
    check_markdown_tables(&markdown);
    assert!(markdown.chars().count() < 65_536);
    for needle in [
        "### Search",
        "| novelty | 42 | 50000 | 8123 | 16 | budget exhausted: the search was not exhaustive, so nothing more is proven |",
        "| exhaustive | 7 | 1234 | 321 | 4 | no violation up to depth 4 (exhaustive) |",
        "#### 1. never at 2026-06-01T09:03:00Z, after 2 moves",
        "Rule broken: `sim/tests/fixtures/hostile/scenario.toml:20`.",
        "Repro scenario: `out/repro/never-1 <b>|x</b>.toml`.",
        // The size limit: a long trace lists its last 12 moves only.
        "The first 4 moves are not shown (they are in the repro and in `result.json`).",
        r#"| 16 | +16m | `Agent::"<script>alert(1)</script>"` | `Action::"deployProd"` | `Env::"prod"` |  | allow |  | **◀ must be denied** |"#,
        r"| 2 | +45m | | advance to 2026-06-01T09:45:00Z | | | | grant \`jit\|&lt;1&gt;\` ended | |",
        r#"``{"task":"summarize \| `all` <docs>"}``"#,
    ] {
        assert!(
            markdown.contains(needle),
            "no `{needle}` in:
{markdown}"
        );
    }
    assert_eq!(markdown.matches("**◀ must be denied**").count(), 6);
    assert!(
        !markdown.contains("| 4 | +4m |"),
        "an omitted move is listed"
    );
    // A line break in an effect does not end the table row.
    assert!(markdown.contains(r"set elevated\_until of the requester |"));
    let prose = without_code_spans(&markdown);
    for raw in [
        "<script", "<img", "<b>", "<i>", "<docs>", "*search*", "[link]",
    ] {
        assert!(
            !prose.contains(raw),
            "`{raw}` is not escaped in:
{markdown}"
        );
    }

    let html = render(&result, Format::Html);
    check_html(&html, &result);
    assert!(!html.contains("://"));
    for raw in ["<script", "<img", "<b>", "<i>", "<docs>", "</td><td>|"] {
        assert!(!html.contains(raw), "`{raw}` is not escaped");
    }
    for needle in [
        "<h3>Search</h3>",
        "<td>no violation up to depth 4 (exhaustive)</td>",
        "Rule broken: <code>sim/tests/fixtures/hostile/scenario.toml:20</code>",
        "Repro scenario: <code>out/repro/never-1 &lt;b&gt;|x&lt;/b&gt;.toml</code>",
        "<code>{&quot;task&quot;:&quot;summarize | `all` &lt;docs&gt;&quot;}</code>",
        "<li>grant `jit|&lt;1&gt;` ended</li>",
        "<td colspan=\"5\">advance to 2026-06-01T09:45:00Z</td>",
    ] {
        assert!(html.contains(needle), "no `{needle}` in the HTML");
    }
    // The HTML has no size limit: every move of the long trace is there.
    assert!(html.contains("<code>Doc::&quot;page-1|&lt;1&gt;&quot;</code>"));
    assert_eq!(html.matches("<strong>must be denied</strong>").count(), 6);

    let junit = render(&result, Format::Junit);
    check_junit(&junit, &result);
    let document = roxmltree::Document::parse(&junit).unwrap();
    let failures: Vec<&str> = document
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(failures.len(), 6);
    assert!(failures[0].contains("\nrule: sim/tests/fixtures/hostile/scenario.toml:20\n"));
    assert!(failures[0].contains("\nrepro: out/repro/never-1 <b>|x</b>.toml\n"));
    assert!(failures[0].ends_with(
        r#"move 2 at 2026-06-01T09:03:00Z (+3m): session `s|1 <i>`, Agent::"<script>alert(1)</script>" Action::"delete" Doc::"<img src=x onerror=alert(2)>" -> allow  <- must be denied"#
    ), "{}", failures[0]);
    assert!(failures[4].contains(
        "\nmove 2 at 2026-06-01T09:45:00Z (+45m): the clock advances; effects: grant `jit|<1>` ended\n"
    ));
    assert_eq!(
        failures[5]
            .lines()
            .filter(|l| l.starts_with("move "))
            .count(),
        16
    );
    assert!(junit.contains(
        r#"<property name="search" value="strategy exhaustive, seed 7: 1234 moves tried, 321 distinct states, max depth 4; no violation up to depth 4 (exhaustive)"/>"#
    ));

    let text = report::text::render(&result);
    assert!(text.contains(
        "  search: strategy exhaustive, seed 7: 1234 move(s) tried, 321 distinct state(s), max depth 4; no violation up to depth 4 (exhaustive)\n"
    ));

    insta::assert_snapshot!("search_markdown", markdown);
    insta::assert_snapshot!("search_junit", junit);
    insta::assert_snapshot!("search_text", text);
}

#[test]
fn sarif_locates_search_findings_at_their_rule_with_the_moves_as_a_code_flow() {
    let (_, result) = search_result();
    let sarif = check_sarif(&sarif_validator(), &render(&result, Format::Sarif));
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for kind in ["attenuation", "never", "access"] {
        let rule = rules.iter().find(|r| r["id"] == kind).unwrap();
        assert!(
            !rule["shortDescription"]["text"]
                .as_str()
                .unwrap()
                .starts_with("Invariant"),
            "`{kind}` has a description of its own"
        );
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    for (sarif_result, finding) in results.iter().zip(&result.scenarios[0].findings) {
        assert_eq!(sarif_result["ruleId"], finding.kind.as_str());
        let physical = &sarif_result["locations"][0]["physicalLocation"];
        let at = format!(
            "{}:{}",
            physical["artifactLocation"]["uri"].as_str().unwrap(),
            physical["region"]["startLine"]
        );
        // `never` and `access` at their rule; the others at the policy that allowed them.
        match (&finding.rule, finding.determining_policies.first()) {
            (Some(rule), _) => assert_eq!(&at, rule),
            (None, Some(policy)) => assert_eq!(at, result.scenarios[0].policies[policy]),
            (None, None) => assert_eq!(at, format!("{HOSTILE}:1")),
        }
        // The trace is a code flow, one location per move, the last request
        // (the one that must be denied) essential and where the finding is.
        let flow = sarif_result["codeFlows"][0]["threadFlows"][0]["locations"]
            .as_array()
            .unwrap();
        assert_eq!(flow.len(), finding.trace.len());
        for (i, (step, m)) in flow.iter().zip(&finding.trace).enumerate() {
            assert_eq!(step["executionOrder"], i + 1);
            let message = step["location"]["message"]["text"].as_str().unwrap();
            assert!(
                message.starts_with(&format!("move {} at {}", i + 1, m.time)),
                "{message}"
            );
        }
        let last = flow.last().unwrap();
        assert_eq!(last["importance"], "essential");
        assert_eq!(last["location"]["physicalLocation"], *physical);
        assert!(
            last["location"]["message"]["text"]
                .as_str()
                .unwrap()
                .ends_with("-> allow (must be denied)")
        );
        assert_eq!(
            flow.iter()
                .filter(|l| l["importance"] == "essential")
                .count(),
            1
        );
        assert_eq!(
            sarif_result["properties"]["moves"],
            finding.trace.len(),
            "{sarif_result}"
        );
    }
    assert_eq!(
        results[0]["properties"]["repro"],
        "out/repro/never-1 <b>|x</b>.toml"
    );
    let searches = run["properties"]["searches"].as_array().unwrap();
    assert_eq!(searches.len(), 2);
    assert_eq!(searches[1]["exhaustiveDepth"], 4);
    assert!(searches[0].get("exhaustiveDepth").is_none());
}

/// Caveats of the search (what its move set left out) are in every format,
/// and an exhaustive proof with caveats says it covers only the moves tried.
#[test]
fn search_caveats_render_in_every_format() {
    let (_, mut result) = search_result();
    let caveats = [
        "clock moves: 7 moments the world changes at were pending at 2026-06-01T09:00:00Z, only the earliest 4 were tried; <b>bold</b> | `code`",
        r#"context values: Action::"assign" was requested with 64 of its 81 combinations of context values"#,
    ];
    // The second scenario's search is the exhaustive one.
    result.scenarios[1].search.as_mut().unwrap().caveats =
        caveats.iter().map(ToString::to_string).collect();
    let outcome = "no violation up to depth 4 (exhaustive over the moves tried, with the moves listed below left out)";

    let json = render(&result, Format::Json);
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["scenarios"][1]["search"]["caveats"][1], caveats[1]);
    assert!(parsed["scenarios"][0]["search"].get("caveats").is_none());
    assert_eq!(serde_json::from_str::<RunResult>(&json).unwrap(), result);

    let text = report::text::render(&result);
    assert!(
        text.contains(&format!(
            "max depth 4; {outcome}\n  search caveat: {}\n  search caveat: {}\n",
            caveats[0], caveats[1]
        )),
        "{text}"
    );

    let markdown = render(&result, Format::Markdown);
    check_markdown_tables(&markdown);
    for needle in [
        format!("| {outcome} |\n\n**Left out of the search**\n- clock moves: 7 moments"),
        r"<b>bold</b> \| \`code\`"
            .replace('<', "&lt;")
            .replace('>', "&gt;"),
        r#"- context values: Action::"assign" was requested with 64"#.to_string(),
    ] {
        assert!(markdown.contains(&needle), "no `{needle}` in:\n{markdown}");
    }
    assert_eq!(markdown.matches("**Left out of the search**").count(), 1);

    let compact = check_limited_markdown(&repeated(&result, 50));
    assert!(
        compact.contains(&format!(
            "{outcome}.\n- Left out of the search: clock moves: "
        )),
        "{compact}"
    );

    let html = render(&result, Format::Html);
    check_html(&html, &result);
    assert!(html.contains(&format!("<td>{outcome}</td>")));
    assert!(html.contains("<p>Left out of the search:</p>\n<ul><li>clock moves: 7 moments"));
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"));
    assert!(!html.contains("<b>bold"));

    let junit = render(&result, Format::Junit);
    check_junit(&junit, &result);
    assert_eq!(
        junit
            .matches(r#"<property name="search_caveat" value=""#)
            .count(),
        2
    );
    assert!(junit.contains("\nsearch caveat: context values: "));

    let sarif = check_sarif(&sarif_validator(), &render(&result, Format::Sarif));
    let searches = sarif["runs"][0]["properties"]["searches"]
        .as_array()
        .unwrap();
    assert!(searches[0].get("caveats").is_none());
    assert_eq!(searches[1]["caveats"][0], caveats[0]);
    assert_eq!(searches[1]["outcome"], outcome);
}

#[test]
fn report_renders_a_stored_search_result() {
    let (_, result) = search_result();
    for (format, expected) in [
        ("md", Format::Markdown),
        ("html", Format::Html),
        ("json", Format::Json),
        ("junit", Format::Junit),
        ("sarif", Format::Sarif),
    ] {
        let (code, stdout, stderr) = privsim(&["report", SEARCH_RESULT, "--format", format]);
        assert_eq!(code, 0, "findings fail only when asked: {stderr}");
        assert_eq!(stdout, render(&result, expected), "--format {format}");
    }
    assert_eq!(
        privsim(&["report", SEARCH_RESULT, "--fail-on-findings"]).0,
        1
    );
}

// ---- the command line ----

/// Runs `privsim <args>` from the workspace root; returns (exit code, stdout, stderr).
fn privsim(args: &[&str]) -> (i32, String, String) {
    crate::common::privsim_in(&workspace_root(), args)
}

fn listing(folder: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn run_with_report_dir_writes_every_format_and_report_renders_them_again() {
    let temp = TempFolder::new("report-dir");
    let first = temp.join("first/nested");
    let (code, stdout, _) = privsim(&["run", "scenarios/mcp-support", "--report-dir", &first]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("PASS "),
        "the text summary is still printed"
    );
    assert_eq!(
        listing(&first),
        [
            "junit.xml",
            "report.html",
            "report.md",
            "result.json",
            "results.sarif"
        ],
        "exactly the five files, no temporary files left"
    );

    // `report` renders the stored result into the very same files.
    let second = temp.join("second");
    let result_json = format!("{first}/result.json");
    let (code, _, stderr) = privsim(&["report", &result_json, "--report-dir", &second]);
    assert_eq!(code, 0, "{stderr}");
    for name in listing(&first) {
        assert_eq!(
            std::fs::read(format!("{first}/{name}")).unwrap(),
            std::fs::read(format!("{second}/{name}")).unwrap(),
            "{name} differs"
        );
    }
    // One format to standard output or a file.
    for (format, name) in [
        ("md", "report.md"),
        ("html", "report.html"),
        ("json", "result.json"),
        ("junit", "junit.xml"),
        ("sarif", "results.sarif"),
    ] {
        let expected = std::fs::read_to_string(format!("{first}/{name}")).unwrap();
        let (code, stdout, _) = privsim(&["report", &result_json, "--format", format]);
        assert_eq!((code, &stdout), (0, &expected), "--format {format}");
        let output = temp.join(&format!("one.{format}"));
        let (code, _, _) = privsim(&[
            "report",
            &result_json,
            "--format",
            format,
            "--output",
            &output,
        ]);
        assert_eq!(code, 0);
        assert_eq!(std::fs::read_to_string(&output).unwrap(), expected);
    }
    // The suggestion travels in the stored result.
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&result_json).unwrap()).unwrap();
    assert!(stored["scenarios"][0]["suggestion"]["status"].is_string());
}

/// A stored result with a value no privsim writes (a decision, a kind of
/// finding) is refused with a located error naming the known values, never
/// rendered with the value passed over (exit 2).
#[test]
fn report_refuses_a_stored_result_with_an_unknown_closed_set_value_or_time() {
    let temp = TempFolder::new("unknown-value");
    let stored = std::fs::read_to_string(workspace_root().join(SEARCH_RESULT)).unwrap();
    for (from, to, message) in [
        (
            "\"decision\": \"allow\"",
            "\"decision\": \"maybe\"",
            "not a valid privsim result: unknown decision `maybe`, expected one of `allow`, `deny`, `error`",
        ),
        (
            "\"kind\": \"never\"",
            "\"kind\": \"forever\"",
            "not a valid privsim result: unknown kind of finding `forever`, expected one of `delegation-ceiling`, `attenuation`, `expiry`, `never`, `access`",
        ),
        (
            "\"strategy\": \"novelty\"",
            "\"strategy\": \"greedy\"",
            "not a valid privsim result: unknown search strategy `greedy`, expected one of `random`, `novelty`, `exhaustive`",
        ),
        // Times are typed too: a stored time that is not a timestamp, or not
        // a real date, is refused where it stands, never read as the start.
        (
            "\"start\": \"2026-06-01T09:00:00Z\"",
            "\"start\": \"2026-06-01 09:00\"",
            "not a valid privsim result: `2026-06-01 09:00` is not an RFC 3339 timestamp like `2026-06-01T09:00:00Z`",
        ),
        (
            "\"time\": \"2026-06-01T09:03:00Z\"",
            "\"time\": \"2026-06-31T09:03:00Z\"",
            "not a valid privsim result: `2026-06-31T09:03:00Z` is not a valid date and time",
        ),
    ] {
        assert!(stored.contains(from), "{from}");
        let changed = temp.join("result.json");
        std::fs::write(&changed, stored.replacen(from, to, 1)).unwrap();
        let (code, stdout, stderr) = privsim(&["report", &changed, "--format", "md"]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        let line = stored.split(from).next().unwrap().lines().count();
        assert!(
            stderr.contains(&format!("result.json:{line}:"))
                && unwrapped(&stderr).contains(&unwrapped(message)),
            "{stderr}"
        );
    }
}

#[test]
fn a_failing_run_still_writes_its_reports_and_report_exits_like_run() {
    let temp = TempFolder::new("failing");
    let folder = temp.join("out");
    let (code, _, _) = privsim(&["run", HOSTILE, "--report-dir", &folder]);
    assert_eq!(code, 1, "a failed expectation");
    let result_json = format!("{folder}/result.json");
    assert_eq!(privsim(&["report", &result_json]).0, 1);
    // Findings fail only when asked, as with `run`.
    let over = temp.join("over");
    assert_eq!(
        privsim(&[
            "run",
            "scenarios/ci-pipeline/over-privileged.toml",
            "--report-dir",
            &over
        ])
        .0,
        0
    );
    let stored = format!("{over}/result.json");
    assert_eq!(privsim(&["report", &stored, "--format", "junit"]).0, 0);
    assert_eq!(privsim(&["report", &stored, "--fail-on-findings"]).0, 1);
}

/// Regression: a scenario file that could not be loaded used to leave every
/// report but the JSON saying nothing of it: the Markdown said "PASS with
/// findings", the text "ok: 1 scenario(s)", while `run` exited 2. Each format
/// now names the file and fails.
#[test]
fn a_scenario_file_that_fails_to_load_fails_every_report() {
    let temp = TempFolder::new("not-loaded");
    let broken = temp.join("broken.toml");
    std::fs::write(&broken, "[scenario]\nname = \"x\"\nbogus = 1\n").unwrap();
    let folder = temp.join("out");
    let (code, stdout, _) = privsim(&[
        "run",
        "scenarios/ci-pipeline/least-privilege.toml",
        &broken,
        "--report-dir",
        &folder,
    ]);
    assert_eq!(code, 2, "a file that could not be loaded is bad input");
    let located = format!("{broken}:3:1: unknown field `bogus`");
    assert!(
        stdout.contains(&format!("NOT LOADED {broken}: {located}")),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("FAILED: 1 scenario(s), 0 failed, 1 not loaded, 0 finding(s)\n"),
        "{stdout}"
    );

    let read = |name: &str| std::fs::read_to_string(format!("{folder}/{name}")).unwrap();
    let markdown = read("report.md");
    assert!(
        markdown.starts_with(
            "### ❌ privsim: FAIL. 1 scenario file could not be loaded and was not evaluated; every expectation held in 1 scenario;"
        ),
        "{markdown}"
    );
    assert!(markdown.contains("**Not evaluated**"), "{markdown}");
    check_markdown_tables(&markdown);
    let html = read("report.html");
    assert!(
        html.contains("<span class=\"badge fail\">FAIL</span>"),
        "{html}"
    );
    assert!(html.contains("<h3>Not evaluated</h3>"), "{html}");
    assert!(html.contains("unknown field `bogus`"), "{html}");

    let junit = read("junit.xml");
    let document = roxmltree::Document::parse(&junit).unwrap_or_else(|e| panic!("{e}\n{junit}"));
    let suites: Vec<_> = document
        .root_element()
        .children()
        .filter(roxmltree::Node::is_element)
        .collect();
    assert_eq!(
        suites.len(),
        2,
        "one suite per scenario, one per file not loaded"
    );
    let not_loaded = suites[1];
    assert_eq!(not_loaded.attribute("name"), Some(broken.as_str()));
    assert_eq!(not_loaded.attribute("errors"), Some("1"));
    let error = not_loaded
        .descendants()
        .find(|n| n.has_tag_name("error"))
        .expect("an <error> case");
    assert!(error.text().unwrap_or_default().starts_with(&located));

    let sarif: serde_json::Value = serde_json::from_str(&read("results.sarif")).unwrap();
    let errors: Vec<String> = sarif_validator()
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF is invalid:\n{}",
        errors.join("\n")
    );
    let run = &sarif["runs"][0];
    let results: Vec<&serde_json::Value> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ruleId"] == "load-error")
        .collect();
    assert_eq!(results.len(), 1, "{run}");
    let index = results[0]["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(run["tool"]["driver"]["rules"][index]["id"], "load-error");
    assert_eq!(results[0]["level"], "error");
    let physical = &results[0]["locations"][0]["physicalLocation"];
    assert!(
        physical["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("/broken.toml")
    );
    assert_eq!(physical["region"]["startLine"], 3, "the error's line");

    // The stored result renders the same and `report` fails like `run`.
    let (code, text, _) = privsim(&["report", &format!("{folder}/result.json")]);
    assert_ne!(code, 0);
    assert!(
        text.contains("1 scenario file could not be loaded"),
        "{text}"
    );
}

#[test]
fn report_rejects_what_is_not_a_stored_result() {
    let temp = TempFolder::new("bad-input");
    let cases = [
        (
            "broken.json",
            "{\n  \"format\": \"privsim-result/1\",\n  \"scenarios\": [\n",
            "not valid JSON",
        ),
        (
            "suggest.json",
            "{\"format\": \"privsim-suggest/1\", \"scenarios\": []}",
            "`privsim-suggest/1` document, not a privsim result",
        ),
        ("other.json", "[1, 2, 3]", "not a privsim result"),
        (
            "shape.json",
            "{\"format\": \"privsim-result/1\",\n \"scenarios\": [{\"name\": 3}]}",
            "not a valid privsim result: invalid type",
        ),
    ];
    for (name, text, message) in cases {
        let path = temp.join(name);
        std::fs::write(&path, text).unwrap();
        let (code, stdout, stderr) = privsim(&["report", &path]);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert!(stdout.is_empty());
        assert!(
            unwrapped(&stderr).contains(&unwrapped(message)),
            "{name}: {stderr}"
        );
        assert!(
            unwrapped(&stderr).contains(&unwrapped(&format!("{path}:"))),
            "{name} is not located: {stderr}"
        );
    }
    let (code, _, stderr) = privsim(&["report", &temp.join("missing.json")]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");
    let (code, _, _) = privsim(&["report", &temp.join("x.json"), "--format", "pdf"]);
    assert_eq!(code, 2, "an unknown format is a usage error");
}

/// A time with milliseconds is longer than the others: the text report's
/// columns still line up (each row's principal starts where the header's does).
#[test]
fn text_columns_line_up_with_millisecond_times() {
    let mut result = result_of(Path::new("scenarios/ticket-agent/least-privilege.toml"));
    let first = &mut result.scenarios[0].steps[0];
    first.time = privsim::time::Instant(first.time.0 + 250);
    let text = report::text::render(&result);
    let header = text
        .lines()
        .find(|l| l.trim_start().starts_with("step  time"))
        .unwrap_or_else(|| panic!("{text}"));
    let column = header.find("principal").unwrap();
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| {
            let mut words = l.split_whitespace();
            words.next().is_some_and(|w| w.parse::<usize>().is_ok())
                && words.next().is_some_and(|w| w.starts_with("2026-"))
        })
        .collect();
    assert!(rows.len() > 1, "{text}");
    for row in rows {
        assert_eq!(row.find("Agent::"), Some(column), "{text}");
    }
}

/// JUnit's `timestamp` is when the run happened: `SOURCE_DATE_EPOCH` when
/// set, else the system clock; the simulated start is a property.
#[test]
fn junit_timestamp_is_the_run_time_and_the_simulated_start_a_property() {
    let root = workspace_root();
    let out = TempFolder::new("junit-timestamp");
    let run = |epoch: Option<&str>| {
        let folder = out.0.join(epoch.unwrap_or("live"));
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_privsim"));
        command
            .args([
                "run",
                "scenarios/mcp-support/least-privilege.toml",
                "--report-dir",
            ])
            .arg(&folder)
            .current_dir(&root)
            .env_remove("SOURCE_DATE_EPOCH");
        if let Some(epoch) = epoch {
            command.env("SOURCE_DATE_EPOCH", epoch);
        }
        assert!(command.status().unwrap().success());
        std::fs::read_to_string(folder.join("junit.xml")).unwrap()
    };
    let fixed = run(Some(crate::common::RUN_EPOCH));
    assert!(
        fixed.contains(&format!("timestamp=\"{}\"", crate::common::RUN_AT)),
        "{fixed}"
    );
    assert!(
        fixed.contains("<property name=\"simulated_start\" value=\"2026-06-01T09:00:00Z\"/>"),
        "{fixed}"
    );
    // Without the variable: the wall clock, between before and after the run.
    let stamp = |text: &str| -> String {
        let at = text.find("timestamp=\"").unwrap() + "timestamp=\"".len();
        text[at..at + 19].to_string()
    };
    let now = || {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        privsim::time::Instant::parse_rfc3339("1970-01-01T00:00:00Z")
            .unwrap()
            .checked_add(i64::try_from(seconds).unwrap() * 1000)
            .unwrap()
            .to_string()[..19]
            .to_string()
    };
    let before = now();
    let live = stamp(&run(None));
    let after = now();
    assert!(
        before <= live && live <= after,
        "{before} <= {live} <= {after}"
    );
}

/// One step six hours after a few minutes of activity: the HTML timeline
/// breaks its axis over the idle hours (a shaded, marked break), so the
/// minutes of activity are spread over the plot instead of a few pixels.
#[test]
fn html_timeline_breaks_the_axis_over_a_multi_hour_gap() {
    from_workspace_root();
    let path = Path::new("sim/tests/fixtures/timeline-gap/scenario.toml");
    let loaded = scenario::load(path, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    let result = RunResult::new(vec![privsim::evaluate(&loaded)]);
    let html = render(&result, Format::Html);
    let figure = &html[html.find("<figure>").unwrap()..html.find("</figure>").unwrap() + 9];
    assert_eq!(
        figure.matches("class=\"axis-break\"").count(),
        1,
        "{figure}"
    );
    assert!(figure.contains("class=\"break-mark\""), "{figure}");
    // The marks of the first five minutes (steps 1 to 4) are far apart:
    // without the break they would share about 8 of the plot's 560 pixels.
    let xs: Vec<i64> = figure
        .match_indices("<path class=\"mark allow\" d=\"M ")
        .map(|(at, m)| {
            let rest = &figure[at + m.len()..];
            rest[..rest.find(' ').unwrap()].parse::<i64>().unwrap()
        })
        .collect();
    let mut xs = xs;
    xs.sort_unstable();
    assert_eq!(xs.len(), 5, "{xs:?}");
    // Steps 1 to 4 (+1m to +5m) spread over hundreds of pixels, each at
    // least a mark's width from the next; step 5 (+6h) comes last.
    assert!(xs[3] - xs[0] > 200, "{xs:?}");
    assert!(xs.windows(2).all(|w| w[1] - w[0] >= 8), "{xs:?}");
    insta::assert_snapshot!(figure);
}
