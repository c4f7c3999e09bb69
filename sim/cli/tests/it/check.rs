//! `privsim check`, the CI gate, end to end: policy changes that add access,
//! narrow it, break a workflow, open an escalation or change nothing, each
//! through the gate with its verdict and a snapshot of the Markdown summary;
//! configuration errors located at `file:line:col`; exceptions that apply,
//! expire or match nothing; baselines read from a real git history; every
//! output format deterministic and valid (SARIF against the OASIS schema).
//! Runs go through one `check(args, expected exit code)` helper.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Run, TempFolder, check, check_in, workspace_root as root};
use privsim::diag::SourceFile;
use privsim::gate::config;
use privsim::gate::model::ChangeStatus;

const SCENARIO: &str = "sim/tests/check/support/scenario.toml";
const DEFAULTS: &str = "sim/tests/check/configs/defaults.toml";

fn policies(name: &str) -> String {
    format!("sim/tests/check/support/policies/{name}.cedar")
}

/// `privsim check` of the support scenario, base policies against `candidate`.
fn gate(candidate: &str, config: &str, format: &str, expected_code: i32) -> Run {
    let candidate = policies(candidate);
    check(
        &[
            "check",
            "--config",
            config,
            "--today",
            "2026-06-01",
            "--baseline",
            &policies("base"),
            "--candidate",
            &candidate,
            "--format",
            format,
            SCENARIO,
        ],
        expected_code,
    )
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.stdout))
}

/// The changes of the first scenario as `(kind, status, action, resource)`.
fn changes(result: &serde_json::Value) -> Vec<(String, String, String, String)> {
    result["scenarios"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let text = |key: &str| c[key].as_str().unwrap_or("").to_string();
            (
                text("kind"),
                text("status"),
                text("action"),
                text("resource"),
            )
        })
        .collect()
}

#[test]
fn adding_access_fails_at_the_policy_that_grants_it() {
    let run = gate("wider", DEFAULTS, "md", 1);
    insta::assert_snapshot!("adds_access", run.stdout);
    let result = json(&gate("wider", DEFAULTS, "json", 1));
    assert_eq!(result["passed"], false);
    let added: Vec<_> = changes(&result)
        .into_iter()
        .filter(|c| c.0 == "new-access")
        .collect();
    assert_eq!(
        added,
        [
            (
                "new-access",
                "fail",
                "Action::\"comment\"",
                "Ticket::\"T-2\""
            ),
            (
                "new-access",
                "fail",
                "Action::\"comment\"",
                "Ticket::\"T-3\""
            ),
            ("new-access", "fail", "Action::\"read\"", "Ticket::\"T-3\""),
        ]
        .map(|(a, b, c, d)| (a.into(), b.into(), c.into(), d.into()))
    );
    let first = &result["scenarios"][0]["changes"][0];
    assert_eq!(first["policies"][0]["id"], "helper-works-every-ticket");
    assert_eq!(
        first["location"],
        format!("{}:10", policies("wider")),
        "new access is located at the granting policy"
    );
    let delta = &result["scenarios"][0]["principals"][0];
    assert_eq!(delta["new_pairs"], 3);
    assert_eq!(delta["weighted_gap_change"], 7);
}

#[test]
fn narrowing_access_passes_and_is_reported() {
    let run = gate("narrower", DEFAULTS, "md", 0);
    insta::assert_snapshot!("narrows_access", run.stdout);
    let result = json(&gate("narrower", DEFAULTS, "json", 0));
    assert_eq!(
        changes(&result),
        [(
            "narrowed".to_string(),
            "info".to_string(),
            "Action::\"read\"".to_string(),
            "Ticket::\"T-2\"".to_string()
        )]
    );
    // The baseline's policy that granted the pair no longer held.
    let change = &result["scenarios"][0]["changes"][0];
    assert_eq!(change["policies"][0]["id"], "helper-reads");
    assert_eq!(
        change["policies"][0]["location"],
        format!("{}:2", policies("base"))
    );
}

#[test]
fn narrowing_fails_when_the_rules_say_so() {
    let run = gate("narrower", "sim/tests/check/configs/strict.toml", "json", 1);
    let result = json(&run);
    assert_eq!(result["config"]["fail_on"]["narrowed"], true);
    assert_eq!(result["config"]["search"]["strategy"], "novelty");
    assert_eq!(changes(&result)[0].1, "fail");
}

#[test]
fn breaking_a_workflow_fails_at_the_step() {
    let run = gate("broken", DEFAULTS, "md", 1);
    insta::assert_snapshot!("breaks_workflow", run.stdout);
    let result = json(&gate("broken", DEFAULTS, "json", 1));
    let kinds: Vec<(String, String)> = changes(&result).into_iter().map(|c| (c.0, c.1)).collect();
    assert_eq!(
        kinds,
        [
            ("broken-workflow", "fail"),
            ("expectation-failed", "fail"),
            ("narrowed", "info"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let broken = &result["scenarios"][0]["changes"][0];
    assert_eq!(broken["step"], 2);
    // The step's `[[step]]` line in the scenario file.
    assert_eq!(broken["location"], format!("{SCENARIO}:43"));
    // Denied by default: the policy shown is the baseline's that allowed it.
    assert_eq!(broken["policies"][0]["id"], "helper-comments");
    assert_eq!(broken["baseline"], "allow");
    assert_eq!(broken["candidate"], "deny");
}

#[test]
fn a_change_that_changes_nothing_passes() {
    let run = gate("reformatted", DEFAULTS, "md", 0);
    insta::assert_snapshot!("changes_nothing", run.stdout);
    let result = json(&gate("reformatted", DEFAULTS, "json", 0));
    assert_eq!(result["passed"], true);
    assert!(changes(&result).is_empty());
    // The same policy set on both sides changes nothing either.
    let same = json(&gate("base", DEFAULTS, "json", 0));
    assert!(changes(&same).is_empty());
}

#[test]
fn budgets_fail_when_a_principal_holds_more_than_it_uses() {
    let run = gate("wider", "sim/tests/check/configs/strict.toml", "json", 1);
    let result = json(&run);
    let over: Vec<_> = changes(&result)
        .into_iter()
        .filter(|c| c.0 == "weighted-gap-growth" || c.0 == "utilization-drop")
        .map(|c| (c.0, c.1))
        .collect();
    assert_eq!(
        over,
        [
            ("weighted-gap-growth".to_string(), "fail".to_string()),
            ("utilization-drop".to_string(), "fail".to_string())
        ]
    );
}

/// Each planted escalation in `scenarios/escalations/` against its fix: the
/// fixed scenario with the fixed policies as baseline and the planted ones as
/// candidate fails with a new escalation; the other way round it passes, the
/// escalation reported as fixed.
#[test]
fn planted_escalations_fail_against_their_fixes() {
    for name in [
        "confused-deputy",
        "jit-forgetful",
        "self-assign-role",
        "subagent-scope",
    ] {
        let folder = format!("scenarios/escalations/{name}");
        let fixed = format!("{folder}/policies/fixed.cedar");
        let planted = format!("{folder}/policies/planted.cedar");
        let scenario = format!("{folder}/fixed.toml");
        let args = |baseline: &str, candidate: &str, format: &'static str| {
            [
                "check",
                "--config",
                DEFAULTS,
                "--baseline",
                baseline,
                "--candidate",
                candidate,
                "--format",
                format,
                &scenario,
            ]
            .map(str::to_string)
        };
        let run_args = |list: &[String; 10], code| {
            let refs: Vec<&str> = list.iter().map(String::as_str).collect();
            check(&refs, code)
        };
        let opened = run_args(&args(&fixed, &planted, "md"), 1);
        insta::assert_snapshot!(format!("opens_escalation_{name}"), opened.stdout);
        let result = json(&run_args(&args(&fixed, &planted, "json"), 1));
        let new: Vec<_> = changes(&result)
            .into_iter()
            .filter(|c| c.0 == "new-escalation")
            .collect();
        assert!(!new.is_empty(), "{name}: no new escalation");
        assert!(new.iter().all(|c| c.1 == "fail"), "{name}: {new:?}");
        let fixed_result = json(&run_args(&args(&planted, &fixed, "json"), 0));
        assert!(
            changes(&fixed_result)
                .iter()
                .any(|c| c.0 == "fixed-escalation" && c.1 == "info"),
            "{name}: the fix is not reported"
        );
    }
}

/// Configuration errors, each located at `file:line:col` of the gate file.
#[test]
fn configuration_errors_point_at_the_line() {
    let cases = [
        (
            "unknown top-level key",
            "[fail_on]\nnew_access = true\n\n[gate]\nx = 1\n",
        ),
        ("unknown rule", "[fail_on]\nnew_acess = true\n"),
        ("rule not a boolean", "[fail_on]\nnarrowed = \"yes\"\n"),
        ("negative budget", "[budget]\nweighted_gap_growth = -1\n"),
        (
            "utilization out of range",
            "[budget]\nutilization_drop = 10\n",
        ),
        ("unknown strategy", "[search]\nstrategy = \"dfs\"\n"),
        ("zero depth", "[search]\ndepth = 0\n"),
        ("bad tick", "[search]\ntick = \"soon\"\n"),
        (
            "exception without kind",
            "# accepted\n\n[[exception]]\nreason = \"fine\"\n",
        ),
        (
            "exception of an unknown kind",
            "[[exception]]\nkind = \"new-acess\"\nreason = \"fine\"\n",
        ),
        (
            "exception without reason",
            "[[exception]]\nkind = \"new-access\"\nreason = \"fine\"\n\n[[exception]]\nkind = \"new-access\"\n",
        ),
        (
            "exception with an empty reason",
            "[[exception]]\nkind = \"new-access\"\nreason = \"  \"\n",
        ),
        (
            "exception with a bad date",
            "[[exception]]\nkind = \"narrowed\"\nreason = \"fine\"\nexpires = 2026-02-30\n",
        ),
        (
            "exception with a date and time",
            "[[exception]]\nkind = \"narrowed\"\nreason = \"fine\"\nexpires = 2026-12-31T10:00:00Z\n",
        ),
        (
            "exception with a bad principal",
            "[[exception]]\nkind = \"new-access\"\nreason = \"fine\"\nprincipal = 'Agent::\"helper'\n",
        ),
        (
            "exception with an unknown key",
            "[[exception]]\nkind = \"new-access\"\nreason = \"fine\"\nuntil = 2026-12-31\n",
        ),
        ("not TOML", "[fail_on\n"),
    ];
    let mut out = String::new();
    for (case, text) in cases {
        let file = SourceFile::from_text(
            PathBuf::from("privsim-gate.toml"),
            "privsim-gate.toml".to_string(),
            text.to_string(),
        );
        let error = match config::parse(&file) {
            Ok(_) => panic!("{case}: accepted"),
            Err(error) => error.to_string(),
        };
        assert!(
            error.starts_with("privsim-gate.toml:"),
            "{case}: not located: {error}"
        );
        out.push_str(&format!("{case}:\n  {error}\n"));
    }
    insta::assert_snapshot!("config_errors", out);
}

#[test]
fn a_bad_configuration_is_bad_input() {
    let folder = TempFolder::new("bad-config");
    let path = folder.0.join("gate.toml");
    std::fs::write(&path, "[fail_on]\nnew_access = true\nbroken = false\n").unwrap();
    let run = check(
        &[
            "check",
            "--config",
            path.to_str().unwrap(),
            "--baseline",
            &policies("base"),
            SCENARIO,
        ],
        2,
    );
    assert!(
        run.stderr.contains("gate.toml:3:1: unknown field") && run.stderr.contains("`broken`"),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_specs_and_dates_are_bad_input() {
    for (args, expected) in [
        (
            vec!["--baseline", "sim/tests/check/support/nothing.cedar"],
            "cannot read",
        ),
        (vec!["--baseline", "git:"], "names no revision"),
        (vec!["--baseline", "git:HEAD:"], "names no path"),
        (
            vec!["--baseline", "base.cedar", "--today", "2026-13-01"],
            "is not a date",
        ),
    ] {
        let mut all = vec!["check", "--config", DEFAULTS];
        all.extend(args);
        all.push(SCENARIO);
        let run = check(&all, 2);
        assert!(run.stderr.contains(expected), "{all:?}: {}", run.stderr);
    }
}

#[test]
fn exceptions_accept_matching_changes_until_they_expire() {
    let accept = "sim/tests/check/configs/accept-wider.toml";
    let run = gate("wider", accept, "md", 0);
    insta::assert_snapshot!("exceptions_applied", run.stdout);
    let result = json(&gate("wider", accept, "json", 0));
    assert!(
        changes(&result).iter().all(|c| c.1 == "excepted"),
        "{:?}",
        changes(&result)
    );
    let statuses: Vec<(&str, &str)> = result["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["location"].as_str().unwrap(),
                e["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (format!("{accept}:3").as_str(), "applied"),
            (format!("{accept}:10").as_str(), "applied"),
            // Limited to a scenario that was not checked: neither used nor stale.
            (format!("{accept}:17").as_str(), "not-checked"),
        ]
    );

    // After its last day the first exception no longer applies: the comment
    // on T-2 fails again, with a word about the expiry; T-3 is still accepted
    // by the second one, which never expires.
    let args = [
        "check",
        "--config",
        accept,
        "--today",
        "2027-01-01",
        "--baseline",
        &policies("base"),
        "--candidate",
        &policies("wider"),
        "--format",
        "json",
        SCENARIO,
    ];
    let expired = json(&check(&args, 1));
    let statuses: Vec<(String, String)> = expired["scenarios"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["resource"].as_str().unwrap().to_string() + " " + c["action"].as_str().unwrap(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("Ticket::\"T-2\" Action::\"comment\"", "fail"),
            ("Ticket::\"T-3\" Action::\"comment\"", "excepted"),
            ("Ticket::\"T-3\" Action::\"read\"", "excepted"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let message = expired["scenarios"][0]["changes"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains(&format!(
            "the exception at {accept}:3 expired on 2026-12-31"
        )),
        "{message}"
    );
    assert_eq!(expired["exceptions"][0]["status"], "expired");
    // On its last day it still applies.
    let mut last_day = args;
    last_day[4] = "2026-12-31";
    check(&last_day, 0);
}

#[test]
fn an_exception_that_matches_nothing_fails_with_its_line() {
    let accept = "sim/tests/check/configs/accept-wider.toml";
    let run = gate("reformatted", accept, "md", 1);
    insta::assert_snapshot!("stale_exceptions", run.stdout);
    let text = gate("reformatted", accept, "text", 1).stdout;
    assert!(
        text.contains(&format!(
            "exception {accept}:3: stale: matches nothing; remove it (FAIL)"
        )),
        "{text}"
    );
    let result = json(&gate("reformatted", accept, "json", 1));
    assert_eq!(result["summary"]["stale_exceptions"], 2);
    assert_eq!(result["summary"]["failures"], 0);
}

#[test]
fn the_configuration_in_the_current_folder_is_the_default() {
    // The repository's own privsim-gate.toml sets budgets; the built-in rules do not.
    let result = json(&check(
        &[
            "check",
            "--baseline",
            &policies("base"),
            "--candidate",
            &policies("wider"),
            "--format",
            "json",
            SCENARIO,
        ],
        1,
    ));
    assert_eq!(result["config"]["file"], "privsim-gate.toml");
    assert_eq!(result["config"]["budget"]["weighted_gap_growth"], 0);
    let elsewhere = TempFolder::new("no-config");
    let scenario = root().join(SCENARIO);
    let base = root().join(policies("base"));
    let result = json(&check_in(
        &elsewhere.0,
        &[
            "check",
            "--baseline",
            base.to_str().unwrap(),
            "--format",
            "json",
            scenario.to_str().unwrap(),
        ],
        0,
    ));
    assert!(
        result["config"].get("file").is_none(),
        "{}",
        result["config"]
    );
    assert_eq!(result["config"]["budget"], serde_json::json!({}));
}

#[test]
fn every_format_is_byte_identical_across_runs() {
    for format in ["text", "md", "json", "junit", "sarif"] {
        let first = gate("wider", "sim/tests/check/configs/strict.toml", format, 1).stdout;
        let second = gate("wider", "sim/tests/check/configs/strict.toml", format, 1).stdout;
        assert_eq!(first, second, "{format} differs between runs");
        assert!(!first.is_empty());
    }
    let one = TempFolder::new("report-dir-1");
    let two = TempFolder::new("report-dir-2");
    for folder in [&one, &two] {
        check(
            &[
                "check",
                "--config",
                DEFAULTS,
                "--baseline",
                &policies("base"),
                "--candidate",
                &policies("broken"),
                "--report-dir",
                folder.0.to_str().unwrap(),
                SCENARIO,
            ],
            1,
        );
    }
    for name in ["check.md", "check.json", "check.junit.xml", "check.sarif"] {
        let first = std::fs::read(one.0.join(name)).unwrap();
        assert_eq!(first, std::fs::read(two.0.join(name)).unwrap(), "{name}");
    }
}

/// The OASIS SARIF 2.1.0 schema, vendored under reports/schemas/.
fn sarif_validator() -> jsonschema::Validator {
    let text =
        std::fs::read_to_string(root().join("reports/schemas/sarif-schema-2.1.0.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

#[test]
fn sarif_is_valid_and_carries_accepted_changes_as_suppressed() {
    let validator = sarif_validator();
    let cases = [
        ("wider", "sim/tests/check/configs/accept-wider.toml", 0),
        ("wider", DEFAULTS, 1),
        ("broken", "sim/tests/check/configs/strict.toml", 1),
        (
            "reformatted",
            "sim/tests/check/configs/accept-wider.toml",
            1,
        ),
    ];
    for (candidate, config, code) in cases {
        let run = gate(candidate, config, "sarif", code);
        let sarif: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&sarif)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{candidate}: {}", errors.join("\n"));
        let run0 = &sarif["runs"][0];
        let rules: Vec<&str> = run0["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        for result in run0["results"].as_array().unwrap() {
            let rule = result["ruleId"].as_str().unwrap();
            assert_eq!(rules[result["ruleIndex"].as_u64().unwrap() as usize], rule);
            let physical = &result["locations"][0]["physicalLocation"];
            let uri = physical["artifactLocation"]["uri"].as_str().unwrap();
            assert!(root().join(uri).exists(), "{uri}");
            assert!(physical["region"]["startLine"].as_u64().unwrap() >= 1);
        }
    }
    let accepted = gate(
        "wider",
        "sim/tests/check/configs/accept-wider.toml",
        "sarif",
        0,
    );
    let sarif: serde_json::Value = serde_json::from_str(&accepted.stdout).unwrap();
    let first = &sarif["runs"][0]["results"][0];
    assert_eq!(first["suppressions"][0]["kind"], "external");
    assert!(
        first["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .contains("SUP-12")
    );
    let stale = gate(
        "reformatted",
        "sim/tests/check/configs/accept-wider.toml",
        "sarif",
        1,
    );
    assert!(stale.stdout.contains("\"ruleId\": \"stale-exception\""));
}

#[test]
fn junit_has_a_case_per_scenario_and_rule() {
    let run = gate("broken", DEFAULTS, "junit", 1);
    let document = roxmltree::Document::parse(&run.stdout).unwrap();
    let suites: Vec<_> = document
        .root_element()
        .children()
        .filter(roxmltree::Node::is_element)
        .collect();
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    // When the run happened (`SOURCE_DATE_EPOCH` in tests); the simulated
    // clock's start is a property.
    assert_eq!(suite.attribute("timestamp"), Some(crate::common::RUN_AT));
    assert!(
        run.stdout
            .contains("<property name=\"simulated_start\" value=\"2026-06-01T09:00:00Z\"/>"),
        "{}",
        run.stdout
    );
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let outcome = |name: &str| -> String {
        let case = cases
            .iter()
            .find(|c| c.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no case {name}"));
        case.children()
            .find(roxmltree::Node::is_element)
            .map_or("pass".to_string(), |n| n.tag_name().name().to_string())
    };
    assert_eq!(cases.len(), 10);
    assert_eq!(outcome("broken workflow"), "failure");
    assert_eq!(outcome("failed expectation"), "failure");
    assert_eq!(outcome("new access"), "pass");
    assert_eq!(outcome("held longer"), "pass");
    assert_eq!(outcome("narrowed"), "skipped");
    assert_eq!(outcome("held shorter"), "skipped");
    assert_eq!(suite.attribute("failures"), Some("2"));
    assert_eq!(suite.attribute("skipped"), Some("4"));
    // A stale exception is a failing case of its own suite.
    let stale = gate(
        "reformatted",
        "sim/tests/check/configs/accept-wider.toml",
        "junit",
        1,
    );
    let document = roxmltree::Document::parse(&stale.stdout).unwrap();
    let exceptions = document
        .root_element()
        .children()
        .find(|n| n.attribute("name") == Some("exceptions"))
        .unwrap();
    assert_eq!(exceptions.attribute("failures"), Some("2"));
}

#[test]
fn under_github_actions_it_annotates_and_writes_the_job_summary() {
    let folder = TempFolder::new("github");
    let summary = folder.0.join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let wider = policies("wider");
    let base = policies("base");
    let output = Command::new(env!("CARGO_BIN_EXE_privsim"))
        .env("SOURCE_DATE_EPOCH", crate::common::RUN_EPOCH)
        .args([
            "check",
            "--no-proof-cache",
            "--config",
            DEFAULTS,
            "--baseline",
            &base,
            "--candidate",
            &wider,
            "--format",
            "json",
            "--output",
            folder.0.join("check.json").to_str().unwrap(),
            SCENARIO,
        ])
        .current_dir(root())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let annotations: Vec<&str> = stdout.lines().collect();
    assert_eq!(annotations.len(), 3, "{stdout}");
    assert!(
        annotations[0].starts_with(&format!(
            "::error file={wider},line=10,title=privsim check%3A new access::Agent::\"helper\" can now Action::\"comment\" on Ticket::\"T-2\""
        )),
        "{stdout}"
    );
    let written = std::fs::read_to_string(&summary).unwrap();
    assert!(
        written.starts_with("earlier step\n## privsim check: ❌ failed"),
        "the summary is appended:\n{written}"
    );

    // A broken workflow is annotated at the step; a stale exception at its line.
    let (_, stdout) = under_github_actions(
        &root(),
        &[
            "check",
            "--no-proof-cache",
            "--config",
            "sim/tests/check/configs/accept-wider.toml",
            "--baseline",
            &base,
            "--candidate",
            &policies("broken"),
            SCENARIO,
        ],
    );
    assert!(
        stdout.contains(&format!(
            "::error file={SCENARIO},line=43,title=privsim check%3A broken workflow::"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "::error file=sim/tests/check/configs/accept-wider.toml,line=3,title=privsim check%3A stale exception::"
        ),
        "{stdout}"
    );
}

/// `privsim ARGS` in `folder` as under GitHub Actions without a job
/// summary file: the exit code and standard output (the annotations).
fn under_github_actions(folder: &Path, args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_privsim"))
        .env("SOURCE_DATE_EPOCH", crate::common::RUN_EPOCH)
        .args(args)
        .current_dir(folder)
        .env("GITHUB_ACTIONS", "true")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

/// Runs git in `folder`, failing the test on error; hooks and signing off.
fn git(folder: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=privsim test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(folder)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .unwrap();
    assert!(status.success(), "git {}", args.join(" "));
}

fn git_installed() -> bool {
    Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A repository whose history changes the support scenario's policy: the
/// first commit has the baseline, the second widens it.
#[test]
fn git_revisions_are_baselines_without_a_checkout() {
    if !git_installed() {
        eprintln!("skipped: `git` is not installed, so git baselines cannot be tested");
        return;
    }
    let repo = TempFolder::new("git");
    let dir = repo.0.join("support");
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    let fixture = root().join("sim/tests/check/support");
    std::fs::copy(fixture.join("scenario.toml"), dir.join("scenario.toml")).unwrap();
    let policy = dir.join("policies/base.cedar");
    std::fs::copy(fixture.join("policies/base.cedar"), &policy).unwrap();
    git(&repo.0, &["init", "-q"]);
    git(&repo.0, &["add", "."]);
    git(&repo.0, &["commit", "-qm", "support scenario"]);
    std::fs::copy(fixture.join("policies/wider.cedar"), &policy).unwrap();
    git(&repo.0, &["commit", "-qam", "widen the helper's access"]);

    let run = |args: &[&str], code| {
        let mut all = vec!["check", "--today", "2026-06-01"];
        all.extend(args);
        check_in(&repo.0, &all, code)
    };
    // The previous commit's policies against the working tree's.
    let result: serde_json::Value = serde_json::from_str(
        &run(
            &["--baseline", "git:HEAD~1", "--format", "json", "support/"],
            1,
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(
        result["scenarios"][0]["baseline_policy_files"],
        serde_json::json!(["HEAD~1:support/policies/base.cedar"])
    );
    assert_eq!(result["baseline"]["spec"], "git:HEAD~1");
    assert_eq!(result["baseline"]["commit"].as_str().unwrap().len(), 40);
    let added: Vec<_> = changes(&result)
        .into_iter()
        .filter(|c| c.0 == "new-access")
        .collect();
    assert_eq!(added.len(), 3, "{added:?}");
    // The narrowed pairs of the baseline point into the revision.
    assert!(
        run(
            &[
                "--baseline",
                "git:HEAD~1",
                "--format",
                "md",
                "support/scenario.toml"
            ],
            1
        )
        .stdout
        .contains("new access")
    );

    // The latest commit is the working tree: nothing changes.
    run(&["--baseline", "git:HEAD", "support/"], 0);
    // An uncommitted edit is the candidate.
    std::fs::copy(fixture.join("policies/broken.cedar"), &policy).unwrap();
    let broken = run(
        &["--baseline", "git:HEAD", "--format", "json", "support/"],
        1,
    );
    assert!(
        changes(&json(&broken))
            .iter()
            .any(|c| c.0 == "broken-workflow"),
        "{}",
        broken.stdout
    );
    // A file at a revision, from the repository's top folder or from here.
    run(
        &[
            "--baseline",
            "git:HEAD~1:support/policies/base.cedar",
            "--candidate",
            "git:HEAD~1",
            "support/scenario.toml",
        ],
        0,
    );
    run(
        &[
            "--baseline",
            "git:HEAD~1:./support/policies",
            "--candidate",
            "git:HEAD:support/policies",
            "support/scenario.toml",
        ],
        1,
    );

    // Bad input: an unknown revision, a path missing at the revision, a path
    // leaving the repository.
    let unknown = run(&["--baseline", "git:no-such-branch", "support/"], 2);
    assert!(
        unknown
            .stderr
            .contains("the git revision `no-such-branch` does not exist"),
        "{}",
        unknown.stderr
    );
    let missing = run(
        &["--baseline", "git:HEAD:support/nothing.cedar", "support/"],
        2,
    );
    assert!(
        missing
            .stderr
            .contains("`support/nothing.cedar` does not exist at `HEAD`"),
        "{}",
        missing.stderr
    );
    let outside = run(&["--baseline", "git:HEAD:../etc/passwd", "support/"], 2);
    assert!(
        outside.stderr.contains("the path leaves the repository"),
        "{}",
        outside.stderr
    );

    // A scenario added since the revision: its baseline allows nothing.
    let added_dir = repo.0.join("added");
    std::fs::create_dir_all(added_dir.join("policies")).unwrap();
    std::fs::copy(
        fixture.join("scenario.toml"),
        added_dir.join("scenario.toml"),
    )
    .unwrap();
    std::fs::copy(
        fixture.join("policies/base.cedar"),
        added_dir.join("policies/base.cedar"),
    )
    .unwrap();
    let new = json(&run(
        &["--baseline", "git:HEAD", "--format", "json", "added/"],
        1,
    ));
    let notes = new["scenarios"][0]["notes"].as_array().unwrap();
    assert!(
        notes[0]
            .as_str()
            .unwrap()
            .contains("none of the scenario's policy files exists at `HEAD`"),
        "{notes:?}"
    );

    // A scenario naming policies outside its folder is refused before git reads them.
    let escape = repo.0.join("escape");
    std::fs::create_dir_all(&escape).unwrap();
    let text = std::fs::read_to_string(fixture.join("scenario.toml"))
        .unwrap()
        .replace("policies/base.cedar", "../support/policies/base.cedar");
    std::fs::write(escape.join("scenario.toml"), text).unwrap();
    let refused = run(&["--baseline", "git:HEAD", "escape/"], 2);
    assert!(
        refused.stderr.contains("escape/scenario.toml:8:13: path")
            && refused.stderr.contains("leaves"),
        "{}",
        refused.stderr
    );

    // Outside any repository, a git spec is bad input with a clear message.
    let elsewhere = TempFolder::new("not-a-repo");
    std::fs::copy(
        fixture.join("scenario.toml"),
        elsewhere.0.join("scenario.toml"),
    )
    .unwrap();
    std::fs::create_dir_all(elsewhere.0.join("policies")).unwrap();
    std::fs::copy(
        fixture.join("policies/base.cedar"),
        elsewhere.0.join("policies/base.cedar"),
    )
    .unwrap();
    let outside = check_in(
        &elsewhere.0,
        &["check", "--baseline", "git:HEAD", "scenario.toml"],
        2,
    );
    assert!(
        outside.stderr.contains("is not inside a git repository"),
        "{}",
        outside.stderr
    );
}

#[test]
fn the_json_reads_back_and_a_long_summary_stays_within_a_comment() {
    use privsim::gate::model::CheckResult;
    use privsim_reports::check as render;
    let run = gate("wider", DEFAULTS, "json", 1);
    let mut result: CheckResult = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(render::json(&result), run.stdout, "the JSON reads back");
    // Many scenarios, the failing ones last: their sections come first.
    let failing = result.scenarios[0].clone();
    let mut passing = failing.clone();
    passing.passed = true;
    passing.name = "a passing scenario".to_string();
    for change in &mut passing.changes {
        change.status = ChangeStatus::Info;
    }
    result.scenarios = std::iter::repeat_n(passing, 300)
        .chain(std::iter::repeat_n(failing, 3))
        .collect();
    let markdown = render::markdown(&result).unwrap_or_else(|e| panic!("{e}"));
    assert!(markdown.chars().count() <= privsim_reports::MARKDOWN_LIMIT);
    assert_eq!(
        markdown
            .matches("### ❌ Support agent works one ticket")
            .count(),
        3,
        "every failing section fits"
    );
    assert!(
        markdown.contains("scenario sections left out to stay within GitHub's comment size"),
        "{markdown}"
    );
}

#[test]
fn the_example_workflow_is_the_one_in_the_docs() {
    let docs = std::fs::read_to_string(root().join("docs/check.md")).unwrap();
    let workflow = std::fs::read_to_string(root().join("docs/examples/privsim-check.yml")).unwrap();
    let body: String = workflow
        .lines()
        .skip_while(|line| line.starts_with('#'))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(
        docs.contains(&format!("```yaml\n{body}```")),
        "docs/check.md and docs/examples/privsim-check.yml differ"
    );
    // It uses the action at the repository's root, with inputs it declares.
    assert!(body.contains("uses: OWNER/privsim@"), "{body}");
    let action = std::fs::read_to_string(root().join("action.yml")).unwrap();
    assert!(
        action.contains("\n  scenarios:\n"),
        "action.yml lost its `scenarios` input"
    );
    assert!(
        action.contains("\n  report-dir:\n"),
        "action.yml lost its `report-dir` output"
    );
}

/// A time window that grows is `held-longer` (failing by default, at the
/// policy that grants the extra time); one that shrinks is `held-shorter`
/// (reported, governed by the `narrowed` rule).
#[test]
fn a_longer_holding_fails_and_a_shorter_one_is_reported() {
    let run = |baseline: &str, candidate: &str, code: i32| {
        json(&check(
            &[
                "check",
                "--config",
                DEFAULTS,
                "--baseline",
                &policies(baseline),
                "--candidate",
                &policies(candidate),
                "--format",
                "json",
                SCENARIO,
            ],
            code,
        ))
    };
    let longer = run("shorter", "base", 1);
    assert_eq!(
        changes(&longer),
        [
            ("held-longer", "fail", "Action::\"read\"", "Ticket::\"T-1\""),
            ("held-longer", "fail", "Action::\"read\"", "Ticket::\"T-2\""),
        ]
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
    );
    let change = &longer["scenarios"][0]["changes"][0];
    assert_eq!(change["baseline"], "2m");
    assert_eq!(change["candidate"], "3m");
    // Asked at a moment only the candidate holds the pair: the candidate's
    // policy, at the line where it differs from the baseline's (its `when`,
    // which lost the time window).
    assert_eq!(change["policies"][0]["id"], "helper-reads");
    assert_eq!(change["location"], format!("{}:8", policies("base")));
    assert!(
        change["message"]
            .as_str()
            .unwrap()
            .contains("for 3m instead of 2m (+1m)"),
        "{change}"
    );

    let shorter = run("base", "shorter", 0);
    assert_eq!(
        changes(&shorter),
        [
            (
                "held-shorter",
                "info",
                "Action::\"read\"",
                "Ticket::\"T-1\""
            ),
            (
                "held-shorter",
                "info",
                "Action::\"read\"",
                "Ticket::\"T-2\""
            ),
        ]
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
    );
    // The rule can be switched off: the same change then passes.
    let folder = TempFolder::new("held-longer-off");
    let config = folder.0.join("gate.toml");
    std::fs::write(&config, "[fail_on]\nheld_longer = false\n").unwrap();
    let off = json(&check(
        &[
            "check",
            "--config",
            config.to_str().unwrap(),
            "--baseline",
            &policies("shorter"),
            "--candidate",
            &policies("base"),
            "--format",
            "json",
            SCENARIO,
        ],
        0,
    ));
    assert_eq!(changes(&off)[0].1, "info");
}

/// When the search left moves out (here: 64 of 81 context combinations),
/// the summary says its proof holds over the moves tried and lists what was
/// left out, once for both sides.
#[test]
fn search_caveats_are_listed_in_the_summary() {
    let folder = TempFolder::new("caveats");
    let scenario = crate::common::eighty_one_combinations();
    std::fs::write(folder.0.join("scenario.toml"), scenario).unwrap();
    std::fs::write(folder.0.join("p.cedar"), crate::common::ADMIN_ASSIGNS).unwrap();
    std::fs::write(
        folder.0.join("gate.toml"),
        "[search]\nstrategy = \"exhaustive\"\ndepth = 1\nmax_steps = 200000\n",
    )
    .unwrap();
    let run = check_in(
        &folder.0,
        &[
            "check",
            "--config",
            "gate.toml",
            "--baseline",
            "p.cedar",
            "--format",
            "md",
            "scenario.toml",
        ],
        0,
    );
    assert!(
        run.stdout
            .contains("every state to depth 1 explored over the moves tried; candidate"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "Moves the search left out:\n\n- both: context values: Action::\"assign\" was requested with 64 of its 81 combinations"
        ),
        "{}",
        run.stdout
    );
}

const PROVE_SCENARIO: &str = "sim/tests/check/prove/scenario.toml";

fn prove_policies(name: &str) -> String {
    format!("sim/tests/check/prove/policies/{name}.cedar")
}

/// `privsim check --prove` of the proofs' scenario, base policies against
/// `candidate`, as JSON.
fn prove(candidate: &str, extra: &[&str], expected_code: i32) -> serde_json::Value {
    let baseline = prove_policies("base");
    let candidate = prove_policies(candidate);
    let mut args = vec![
        "check",
        "--prove",
        "--today",
        "2026-06-01",
        "--config",
        DEFAULTS,
        "--baseline",
        &baseline,
        "--candidate",
        &candidate,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    args.push(PROVE_SCENARIO);
    json(&check(&args, expected_code))
}

fn verdicts(result: &serde_json::Value, direction: &str) -> Vec<String> {
    result["scenarios"][0]["proofs"][direction]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["verdict"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn access_outside_every_scenario_world_is_proven_new_and_written_as_a_repro() {
    let reports = TempFolder::new("prove-finance");
    let folder = reports.0.display().to_string();
    let result = prove("finance", &["--report-dir", &folder], 1);
    assert_eq!(result["passed"], false);
    let proven: Vec<&serde_json::Value> = result["scenarios"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "new-access-proven")
        .collect();
    assert!(!proven.is_empty(), "{result:#}");
    for change in &proven {
        assert_eq!(change["status"], "fail");
        assert_eq!(change["action"], "Action::\"export\"");
        assert_eq!(change["policies"][0]["id"], "export-finance", "{change:#}");
    }
    // The simulation alone sees nothing: the world has no finance record.
    assert!(
        !result["scenarios"][0]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "new-access")
    );
    let refuted: Vec<&serde_json::Value> = result["scenarios"][0]["proofs"]["no_new_access"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["verdict"] == "refuted")
        .collect();
    assert_eq!(refuted.len(), proven.len());
    let cex = &refuted[0]["counterexample"];
    assert!(
        cex["entities"].to_string().contains("finance"),
        "the counterexample's store puts the resource in finance: {cex:#}"
    );
    // The repro replays through privsim (Cedar): it fails on the candidate
    // and passes on the baseline.
    let repro = reports.0.join(cex["repro"].as_str().unwrap());
    let repro_text = std::fs::read_to_string(&repro).unwrap();
    assert!(repro_text.contains("[[entity]]"), "{repro_text}");
    assert!(repro_text.contains("expect = \"deny\""), "{repro_text}");
    let repro_arg = repro.display().to_string();
    check(&["run", &repro_arg], 1);
    let baseline = repro.with_file_name("baseline.cedar").display().to_string();
    check(&["run", "--policies", &baseline, &repro_arg], 0);
    let text = check(
        &[
            "check",
            "--prove",
            "--config",
            DEFAULTS,
            "--baseline",
            &prove_policies("base"),
            "--candidate",
            &prove_policies("finance"),
            PROVE_SCENARIO,
        ],
        1,
    );
    assert!(text.stdout.contains("new-access-proven"), "{}", text.stdout);
    assert!(
        text.stdout.contains("refuted: no new access"),
        "{}",
        text.stdout
    );
}

#[test]
fn an_unchanged_policy_set_is_proven_everywhere() {
    let result = prove("base", &[], 0);
    let gained = verdicts(&result, "no_new_access");
    assert!(!gained.is_empty());
    assert!(gained.iter().all(|v| v == "proven"), "{gained:?}");
    assert!(
        verdicts(&result, "lost_access")
            .iter()
            .all(|v| v == "proven")
    );
    assert_eq!(result["proofs"]["status"], "ran");
    assert_eq!(result["proofs"]["refuted"], 0);
    assert_eq!(result["proofs"]["unknown"], 0);
}

#[test]
fn a_proven_narrowing_is_reported_and_passes() {
    let result = prove("narrower", &[], 0);
    assert!(
        verdicts(&result, "no_new_access")
            .iter()
            .all(|v| v == "proven")
    );
    assert!(verdicts(&result, "lost_access").contains(&"refuted".to_string()));
    let narrowed: Vec<_> = changes(&result)
        .into_iter()
        .filter(|(kind, ..)| kind == "narrowed-proven")
        .collect();
    assert!(!narrowed.is_empty());
    assert!(narrowed.iter().all(|(_, status, ..)| status == "info"));
}

/// `privsim check` with `$CVC5` naming no solver.
fn without_solver(extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_privsim"))
        .env("SOURCE_DATE_EPOCH", crate::common::RUN_EPOCH)
        .args(["check", "--config", DEFAULTS, "--baseline"])
        .arg(prove_policies("base"))
        .args(extra)
        .arg(PROVE_SCENARIO)
        .current_dir(root())
        .env("CVC5", "/nonexistent/cvc5")
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap()
}

#[test]
fn without_a_solver_proofs_are_skipped_with_a_caveat_or_asked_for_and_bad_input() {
    for format in ["text", "md", "json"] {
        let out = without_solver(&["--format", format]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("proofs skipped: no cvc5 solver found (set $CVC5 or install cvc5)"),
            "{format}: {stdout}"
        );
    }
    let out = without_solver(&["--prove"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`--prove` needs the cvc5 solver"),
        "{stderr}"
    );
    assert!(stderr.contains("apt-get install -y"), "{stderr}");
}

/// A pull request that widens a policy and, in the same change, switches the
/// rule off that would fail it used to pass: the gate read its rules from the
/// working tree. With a git baseline, the baseline's rules apply, and the
/// changed configuration is itself reported and fails the gate.
#[test]
fn a_pull_request_cannot_switch_off_the_gate_that_judges_it() {
    if !git_installed() {
        eprintln!("skipped: `git` is not installed, so git baselines cannot be tested");
        return;
    }
    let repo = TempFolder::new("git-config");
    let dir = repo.0.join("support");
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    let fixture = root().join("sim/tests/check/support");
    std::fs::copy(fixture.join("scenario.toml"), dir.join("scenario.toml")).unwrap();
    let policy = dir.join("policies/base.cedar");
    std::fs::copy(fixture.join("policies/base.cedar"), &policy).unwrap();
    let config = repo.0.join("privsim-gate.toml");
    std::fs::write(
        &config,
        "[fail_on]\nnew_access = true\n\n[search]\nenabled = false\n",
    )
    .unwrap();
    git(&repo.0, &["init", "-q"]);
    git(&repo.0, &["add", "."]);
    git(&repo.0, &["commit", "-qm", "support scenario and its gate"]);
    let args = [
        "check",
        "--today",
        "2026-06-01",
        "--baseline",
        "git:HEAD",
        "--format",
        "json",
        "support/",
    ];

    // Unchanged: the gate passes and says nothing about its configuration.
    let run = check_in(&repo.0, &args, 0);
    assert!(!run.stderr.contains("privsim-gate.toml"), "{}", run.stderr);

    // The change widens the policy and turns the rule off in the same commit.
    std::fs::copy(fixture.join("policies/wider.cedar"), &policy).unwrap();
    std::fs::write(
        &config,
        "[fail_on]\nnew_access = false\n\n[search]\nenabled = false\n",
    )
    .unwrap();
    let run = check_in(&repo.0, &args, 1);
    assert!(
        run.stderr
            .contains("`privsim-gate.toml` differs from its version at `HEAD`"),
        "{}",
        run.stderr
    );
    let result: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        result["passed"], false,
        "the baseline's rule still fails new access"
    );

    // A baseline whose rules allow changing them: the change is a warning.
    std::fs::copy(fixture.join("policies/base.cedar"), &policy).unwrap();
    std::fs::write(
        &config,
        "[fail_on]\nnew_access = true\nconfig_change = false\n\n[search]\nenabled = false\n",
    )
    .unwrap();
    git(
        &repo.0,
        &["commit", "-qam", "the gate may be retuned in a change"],
    );
    std::fs::write(
        &config,
        "[fail_on]\nnew_access = true\nconfig_change = false\nnarrowed = true\n\n[search]\nenabled = false\n",
    )
    .unwrap();
    let run = check_in(&repo.0, &args, 0);
    assert!(
        run.stderr.contains("warning: `privsim-gate.toml` differs"),
        "{}",
        run.stderr
    );
    let result: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(result["config_change"]["status"], "allowed");
    assert_eq!(result["config_change"]["change"], "changed");
    assert_eq!(result["passed"], true);

    // A change to the rules alone, the policies untouched: every format
    // says so, and the gate fails.
    std::fs::write(
        &config,
        "[fail_on]\nnew_access = true\n\n[search]\nenabled = false\n",
    )
    .unwrap();
    git(&repo.0, &["commit", "-qam", "the gate may not be retuned"]);
    std::fs::write(
        &config,
        "[fail_on]\nnew_access = false\n\n[search]\nenabled = false\n",
    )
    .unwrap();
    let run = check_in(&repo.0, &args, 1);
    let result: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(result["passed"], false);
    assert_eq!(result["summary"]["failures"], 0, "no policy changed");
    assert_eq!(result["config_change"]["status"], "fail");
    assert_eq!(result["config_change"]["revision"], "HEAD");
    let with = |format: &str| {
        let mut args = args.to_vec();
        args[6] = format;
        check_in(&repo.0, &args, 1).stdout
    };
    let text = with("text");
    assert!(
        text.starts_with("FAIL gate configuration privsim-gate.toml: "),
        "{text}"
    );
    assert!(text.contains("; the gate configuration changed"), "{text}");
    let markdown = with("md");
    assert!(
        markdown.contains("**Gate rules changed:** ❌ `privsim-gate.toml`"),
        "{markdown}"
    );
    assert!(
        markdown.contains("## privsim check: ❌ failed"),
        "{markdown}"
    );
    let junit = with("junit");
    assert!(
        junit.contains("name=\"gate configuration\"")
            && junit.contains("<failure type=\"config-change\""),
        "{junit}"
    );
    let sarif: serde_json::Value = serde_json::from_str(&with("sarif")).unwrap();
    assert!(
        sarif["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["ruleId"] == "config-change" && r["level"] == "error"),
        "{sarif}"
    );
}

#[test]
fn one_broken_scenario_does_not_hide_the_gate_verdict_on_the_others() {
    let folder = one_good_one_broken("check-all-or-nothing");
    let run = check_in(
        &folder.0,
        &[
            "check",
            "--today",
            "2026-06-01",
            "--baseline",
            "policies/base.cedar",
            ".",
        ],
        2,
    );
    assert!(run.stdout.contains("PASS "), "{}", run.stdout);
    assert!(
        run.stdout.contains("NOT LOADED ./b-broken.toml"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("b-broken.toml:2:8"), "{}", run.stderr);
}

/// A folder with the support scenario (`a.toml`, its policies as
/// `policies/base.cedar`) and `b-broken.toml`, which fails to load at 2:8.
fn one_good_one_broken(name: &str) -> TempFolder {
    let folder = TempFolder::new(name);
    let fixture = root().join("sim/tests/check/support");
    std::fs::create_dir_all(folder.0.join("policies")).unwrap();
    std::fs::copy(fixture.join("scenario.toml"), folder.0.join("a.toml")).unwrap();
    std::fs::copy(
        fixture.join("policies/base.cedar"),
        folder.0.join("policies/base.cedar"),
    )
    .unwrap();
    std::fs::write(folder.0.join("b-broken.toml"), "[scenario]\nname = 3\n").unwrap();
    folder
}

/// A scenario file that could not be loaded was not checked, and every
/// report of the gate says so: SARIF has a `load-error` result at the
/// error's line, JUnit an `<error>` case, GitHub an `::error` annotation, the
/// Markdown a "Not checked" line. Before, only the Markdown, the text and the
/// JSON named it: the SARIF and JUnit views of the run showed a clean gate.
#[test]
fn a_scenario_file_that_fails_to_load_is_in_every_gate_report() {
    let folder = one_good_one_broken("check-not-loaded");
    let run = check_in(
        &folder.0,
        &[
            "check",
            "--today",
            "2026-06-01",
            "--baseline",
            "policies/base.cedar",
            "--report-dir",
            "out",
            ".",
        ],
        2,
    );
    assert!(
        run.stdout.contains("NOT LOADED ./b-broken.toml"),
        "{}",
        run.stdout
    );
    let read = |name: &str| std::fs::read_to_string(folder.0.join("out").join(name)).unwrap();

    let sarif: serde_json::Value = serde_json::from_str(&read("check.sarif")).unwrap();
    let errors: Vec<String> = sarif_validator()
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let run = &sarif["runs"][0];
    let loads: Vec<&serde_json::Value> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ruleId"] == "load-error")
        .collect();
    assert_eq!(loads.len(), 1, "{run}");
    let index = loads[0]["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(run["tool"]["driver"]["rules"][index]["id"], "load-error");
    assert_eq!(loads[0]["level"], "error");
    let physical = &loads[0]["locations"][0]["physicalLocation"];
    assert_eq!(physical["artifactLocation"]["uri"], "./b-broken.toml");
    assert_eq!(physical["region"]["startLine"], 2, "the error's line");

    let junit = read("check.junit.xml");
    let document = roxmltree::Document::parse(&junit).unwrap();
    let suite = document
        .root_element()
        .children()
        .find(|n| n.attribute("name") == Some("./b-broken.toml"))
        .unwrap_or_else(|| panic!("no suite for the file:\n{junit}"));
    assert_eq!(suite.attribute("errors"), Some("1"));
    let error = suite
        .descendants()
        .find(|n| n.has_tag_name("error"))
        .expect("an <error> case");
    assert!(
        error
            .text()
            .unwrap_or_default()
            .starts_with("./b-broken.toml:2:8: "),
        "{junit}"
    );

    let markdown = read("check.md");
    assert!(
        markdown.starts_with("## privsim check: ❌ failed"),
        "{markdown}"
    );
    assert!(
        markdown.contains("**Not checked:** 1 scenario file"),
        "{markdown}"
    );

    let (code, stdout) = under_github_actions(
        &folder.0,
        &[
            "check",
            "--no-prove",
            "--today",
            "2026-06-01",
            "--baseline",
            "policies/base.cedar",
            ".",
        ],
    );
    assert_eq!(code, Some(2));
    assert!(
        stdout.lines().any(|l| l.starts_with(
            "::error file=./b-broken.toml,line=2,title=privsim check%3A scenario not loaded::"
        )),
        "{stdout}"
    );
}

/// `[fail_on] failed_expectation_on_baseline = false`: an expectation that
/// failed with the baseline too is reported, not failed; one that fails
/// only with the candidate still fails the gate.
#[test]
fn the_gate_can_fail_only_on_new_failed_expectations() {
    let new_only = "sim/tests/check/configs/new-failures-only.toml";
    let run = |baseline: &str, config: &str, code: i32| {
        json(&check(
            &[
                "check",
                "--config",
                config,
                "--today",
                "2026-06-01",
                "--baseline",
                &policies(baseline),
                "--candidate",
                &policies("broken"),
                "--format",
                "json",
                SCENARIO,
            ],
            code,
        ))
    };
    let expectation_statuses = |result: &serde_json::Value| -> Vec<(String, String)> {
        result["scenarios"][0]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "expectation-failed")
            .map(|c| {
                (
                    c["status"].as_str().unwrap().to_string(),
                    c["baseline"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    // The same broken policy on both sides: by default its failed
    // expectation fails the gate; configured, it is reported.
    let by_default = expectation_statuses(&run("broken", DEFAULTS, 1));
    assert!(!by_default.is_empty());
    assert!(
        by_default
            .iter()
            .all(|(status, baseline)| status == "fail" && baseline == "failed"),
        "{by_default:?}"
    );
    let configured = expectation_statuses(&run("broken", new_only, 0));
    assert_eq!(configured.len(), by_default.len());
    assert!(
        configured.iter().all(|(status, _)| status == "info"),
        "{configured:?}"
    );
    // A failure new with the candidate still fails.
    let new_failure = expectation_statuses(&run("base", new_only, 1));
    assert!(
        new_failure
            .iter()
            .all(|(status, baseline)| status == "fail" && baseline == "passed"),
        "{new_failure:?}"
    );
    assert!(!new_failure.is_empty());
}

/// A policy widened in place (same `@id`) is located at the edited line,
/// not its first, in the JSON, the SARIF and the annotations; a policy new
/// in the candidate keeps its first line.
#[test]
fn a_policy_changed_in_place_points_at_the_changed_line() {
    let changed = "sim/tests/check/support/policies/widened-in-place.cedar";
    let run = |format: &str| {
        check(
            &[
                "check",
                "--config",
                DEFAULTS,
                "--today",
                "2026-06-01",
                "--baseline",
                &policies("base"),
                "--candidate",
                changed,
                "--format",
                format,
                SCENARIO,
            ],
            1,
        )
    };
    let result = json(&run("json"));
    let changes = result["scenarios"][0]["changes"].as_array().unwrap();
    let new_access: Vec<&serde_json::Value> = changes
        .iter()
        .filter(|c| c["kind"] == "new-access")
        .collect();
    assert!(!new_access.is_empty(), "{result:#}");
    // Line 14 is `resource is Ticket`, the one line of `helper-comments`
    // that changed; the policy starts on line 10.
    let at_changed_line = format!("{changed}:14");
    for change in &new_access {
        let policy = &change["policies"][0];
        assert_eq!(policy["id"], "helper-comments", "{change:#}");
        assert_eq!(policy["location"], at_changed_line.as_str(), "{change:#}");
        assert_eq!(change["location"], at_changed_line.as_str(), "{change:#}");
    }
    let sarif = run("sarif").stdout;
    assert!(sarif.contains("\"startLine\": 14"), "{sarif}");

    // `wider` adds a new policy (`helper-works-every-ticket`): its first line.
    let wider = json(&gate("wider", DEFAULTS, "json", 1));
    let lines: Vec<String> = wider["scenarios"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "new-access")
        .filter_map(|c| c["policies"][0]["location"].as_str().map(str::to_string))
        .collect();
    assert!(
        lines.iter().any(|l| l.ends_with("wider.cedar:10")),
        "{lines:?}"
    );
}

/// `(change, id, exercised_by)` of the check's per-policy coverage.
fn coverage(result: &serde_json::Value) -> Vec<(String, String, Vec<String>)> {
    result["coverage"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|c| {
                    (
                        c["change"].as_str().unwrap().to_string(),
                        c["id"].as_str().unwrap().to_string(),
                        c["exercised_by"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|f| f.as_str().unwrap().to_string())
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_policy_change_no_scenario_reaches_fails_in_every_format() {
    // The added permit grants a contractor everything, and the scenario has
    // no contractor: no access changes, and before per-policy coverage the
    // gate said "passed, 0 failing changes".
    let result = json(&gate("unreached", DEFAULTS, "json", 1));
    assert_eq!(result["passed"], false);
    assert_eq!(
        changes(&result),
        [(
            "unexercised-change".to_string(),
            "fail".to_string(),
            String::new(),
            String::new()
        )]
    );
    assert_eq!(result["summary"]["unexercised_changes"], 1);
    assert_eq!(
        coverage(&result),
        [(
            "added".to_string(),
            "contractors-do-anything".to_string(),
            Vec::new()
        )]
    );
    let change = &result["scenarios"][0]["changes"][0];
    assert_eq!(
        change["location"],
        "sim/tests/check/support/policies/unreached.cedar:27"
    );
    // Every human format names it; JUnit fails its case; SARIF has a result.
    let text = gate("unreached", DEFAULTS, "text", 1).stdout;
    assert!(
        text.contains("NOT REACHED added permit contractors-do-anything"),
        "{text}"
    );
    assert!(
        text.contains("1 policy change(s) no scenario reached"),
        "{text}"
    );
    let markdown = gate("unreached", DEFAULTS, "md", 1).stdout;
    assert!(
        markdown.contains("**Not reached by any scenario:** 1 policy change"),
        "{markdown}"
    );
    assert!(markdown.contains("unexercised change"), "{markdown}");
    let junit = gate("unreached", DEFAULTS, "junit", 1).stdout;
    assert!(
        junit.contains("<failure type=\"unexercised-change\""),
        "{junit}"
    );
    let sarif: serde_json::Value =
        serde_json::from_str(&gate("unreached", DEFAULTS, "sarif", 1).stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "unexercised-change" && r["level"] == "error"),
        "{results:?}"
    );
    // The rules can let it pass; it is still reported.
    let allowed = json(&gate(
        "unreached",
        "sim/tests/check/configs/allow-unexercised.toml",
        "json",
        0,
    ));
    assert_eq!(
        changes(&allowed),
        [(
            "unexercised-change".to_string(),
            "info".to_string(),
            String::new(),
            String::new()
        )]
    );
}

#[test]
fn policy_changes_reached_only_through_held_sets_or_the_baseline_count_as_exercised() {
    // `wider` removes `helper-comments` (step 2 used it with the baseline)
    // and adds `helper-works-every-ticket`, which decides the new held pairs
    // on T-2 and T-3 that no step asks about.
    let result = json(&gate("wider", DEFAULTS, "json", 1));
    assert_eq!(
        coverage(&result),
        [
            (
                "removed".to_string(),
                "helper-comments".to_string(),
                vec![SCENARIO.to_string()]
            ),
            (
                "added".to_string(),
                "helper-works-every-ticket".to_string(),
                vec![SCENARIO.to_string()]
            ),
        ]
    );
    assert!(!changes(&result).iter().any(|c| c.0 == "unexercised-change"));
    // Reworded policies are changed ones (the same access is not judged by
    // their text), each reached by the scenario's steps.
    let result = json(&gate("reformatted", DEFAULTS, "json", 0));
    assert_eq!(
        coverage(&result),
        [
            (
                "changed".to_string(),
                "helper-comments".to_string(),
                vec![SCENARIO.to_string()]
            ),
            (
                "changed".to_string(),
                "helper-reads".to_string(),
                vec![SCENARIO.to_string()]
            ),
        ]
    );
    // An unchanged policy set touches no policy.
    let base = json(&gate("base", DEFAULTS, "json", 0));
    assert!(base.get("coverage").is_none(), "{base}");
    // Removing the unreached permit again is just as unreached (judged with
    // the baseline, which had it), but a removed permit can only take access
    // away: listed, not a failing change.
    let removed = json(&check(
        &[
            "check",
            "--config",
            DEFAULTS,
            "--today",
            "2026-06-01",
            "--baseline",
            &policies("unreached"),
            "--candidate",
            &policies("base"),
            "--format",
            "json",
            SCENARIO,
        ],
        0,
    ));
    assert!(changes(&removed).is_empty(), "{removed}");
    assert_eq!(removed["summary"]["unexercised_changes"], 1);
    assert_eq!(
        coverage(&removed),
        [(
            "removed".to_string(),
            "contractors-do-anything".to_string(),
            Vec::new()
        )]
    );
}

#[test]
fn errors_in_a_git_baseline_name_the_revision_and_path() {
    if !git_installed() {
        eprintln!("skipped: `git` is not installed, so git baselines cannot be tested");
        return;
    }
    let repo = TempFolder::new("git-errors");
    let dir = repo.0.join("support");
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    let fixture = root().join("sim/tests/check/support");
    std::fs::copy(fixture.join("scenario.toml"), dir.join("scenario.toml")).unwrap();
    let policy = dir.join("policies/base.cedar");
    // The committed policy does not parse; the working tree's does.
    std::fs::write(&policy, "permit (principal, action, resource) when { ;\n").unwrap();
    git(&repo.0, &["init", "-q"]);
    git(&repo.0, &["add", "."]);
    git(&repo.0, &["commit", "-qm", "a broken policy"]);
    std::fs::copy(fixture.join("policies/base.cedar"), &policy).unwrap();
    let run = check_in(&repo.0, &["check", "--baseline", "git:HEAD", "support/"], 2);
    assert!(
        run.stderr.contains("HEAD:support/policies/base.cedar:1:"),
        "{}",
        run.stderr
    );
    // Never the temporary folder the revision was written to.
    let temp = std::env::temp_dir().display().to_string();
    assert!(!run.stderr.contains(&temp), "{}", run.stderr);
    assert!(!run.stderr.contains("/000/"), "{}", run.stderr);
}

#[test]
fn a_spent_time_budget_fails_and_says_what_was_not_checked() {
    // A budget of nothing: no scenario is reached, whatever the machine's
    // speed, and the gate must not pass on an empty comparison.
    let args = |config: &'static str, format: &'static str| {
        [
            "check",
            "--config",
            config,
            "--today",
            "2026-06-01",
            "--time-budget",
            "0s",
            "--baseline",
            "sim/tests/check/support/policies/base.cedar",
            "--candidate",
            "sim/tests/check/support/policies/wider.cedar",
            "--format",
            format,
            SCENARIO,
        ]
    };
    let result = json(&check(&args(DEFAULTS, "json"), 1));
    assert_eq!(result["passed"], false);
    assert_eq!(result["budget_exhausted"]["status"], "fail");
    assert_eq!(
        result["budget_exhausted"]["not_checked"],
        serde_json::json!([SCENARIO])
    );
    assert_eq!(result["summary"]["scenarios"], 0);
    let text = check(&args(DEFAULTS, "text"), 1).stdout;
    assert!(
        text.starts_with("FAIL budget exhausted: the time budget of 0s was exhausted; 1 scenario(s) not checked at all: sim/tests/check/support/scenario.toml"),
        "{text}"
    );
    let markdown = check(&args(DEFAULTS, "md"), 1).stdout;
    assert!(
        markdown.contains("**Time budget exhausted:** ❌"),
        "{markdown}"
    );
    let junit = check(&args(DEFAULTS, "junit"), 1).stdout;
    assert!(
        junit.contains("<failure type=\"budget-exhausted\""),
        "{junit}"
    );
    let sarif: serde_json::Value =
        serde_json::from_str(&check(&args(DEFAULTS, "sarif"), 1).stdout).unwrap();
    assert!(
        sarif["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["ruleId"] == "budget-exhausted"),
        "{sarif}"
    );
    // The rules may let a check that ran out of time pass; it still says so.
    let allowed = json(&check(
        &args("sim/tests/check/configs/allow-over-budget.toml", "json"),
        0,
    ));
    assert_eq!(allowed["budget_exhausted"]["status"], "allowed");
    // A malformed budget is a usage error.
    check(
        &[
            "check",
            "--time-budget",
            "soon",
            "--baseline",
            "sim/tests/check/support/policies/base.cedar",
            SCENARIO,
        ],
        2,
    );
}

#[test]
fn proofs_ran_on_after_the_time_budget_was_spent() {
    // The search takes the whole budget; no proof starts after it: every
    // environment is unknown (never proven), and the gate fails on the
    // budget.
    let folder = TempFolder::new("budget-proofs");
    let config = folder.0.join("gate.toml");
    std::fs::write(
        &config,
        "[search]\nstrategy = \"novelty\"\nseed = 0\nmax_steps = 1000000000\ndepth = 6\n",
    )
    .unwrap();
    let config = config.display().to_string();
    let (baseline, candidate) = (prove_policies("base"), prove_policies("finance"));
    let result = json(&check(
        &[
            "check",
            "--prove",
            "--no-proof-cache",
            "--today",
            "2026-06-01",
            "--config",
            &config,
            "--time-budget",
            "2s",
            "--baseline",
            &baseline,
            "--candidate",
            &candidate,
            "--format",
            "json",
            PROVE_SCENARIO,
        ],
        1,
    ));
    assert_eq!(result["budget_exhausted"]["status"], "fail", "{result:#}");
    for direction in ["no_new_access", "lost_access"] {
        let environments = result["scenarios"][0]["proofs"][direction]
            .as_array()
            .unwrap();
        assert!(!environments.is_empty(), "{result:#}");
        for environment in environments {
            assert_eq!(environment["verdict"], "unknown", "{environment:#}");
            assert!(
                environment["reason"]
                    .as_str()
                    .unwrap()
                    .contains("time budget"),
                "{environment:#}"
            );
        }
    }
    assert!(
        !result["scenarios"][0]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "new-access-proven"),
        "{result:#}"
    );
}
