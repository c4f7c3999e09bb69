//! `privsim import log` streamed (without `--out`): on generated logs the
//! streamed replay gives the materialized path's answers (held, used, gap,
//! observation, expectations failed, ceiling findings); its errors are
//! located at the log's line, including lines too long to read.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use privsim::LoadOptions;
use privsim::import::log::{self as request_log, LogOptions};
use privsim::import::stream;
use privsim::result::{FindingKind, ScenarioResult};
use privsim_testkit::request_log::{self as generated, Variety};
use serde_json::Value;

fn temp_folder(test: &str) -> PathBuf {
    let folder =
        std::env::temp_dir().join(format!("privsim-log-stream-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

/// The generated world in `folder`, and options replaying against it.
fn world(folder: &Path) -> LogOptions {
    std::fs::write(folder.join("schema.cedarschema"), generated::SCHEMA).unwrap();
    std::fs::write(folder.join("policies.cedar"), generated::POLICIES).unwrap();
    std::fs::write(folder.join("entities.json"), generated::entities_json()).unwrap();
    LogOptions::new(vec![folder.join("policies.cedar")])
        .schema(Some(folder.join("schema.cedarschema")))
        .entities(Some(folder.join("entities.json")))
}

fn materialized(log: &Path, options: &LogOptions) -> ScenarioResult {
    let logged = request_log::import_log(log, options)
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    let scenario = logged
        .load()
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    privsim::evaluate(&scenario)
}

fn streamed(
    log: &Path,
    options: &LogOptions,
    listed: usize,
) -> (ScenarioResult, stream::StreamStats) {
    stream::replay_log(log, options, &LoadOptions::default(), listed)
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
}

/// The log line a step's name gives (`LOG:LINE`).
fn line_of(name: Option<&String>) -> usize {
    name.and_then(|n| n.rsplit(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap()
}

/// Ceiling findings as (principal, delegator, action, resource) with how
/// many requests raised each.
fn ceiling(result: &ScenarioResult) -> BTreeMap<(String, String, String, String), usize> {
    let mut out = BTreeMap::new();
    for finding in result
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::DelegationCeiling)
    {
        *out.entry((
            finding.principal.clone(),
            finding.delegator.clone().unwrap_or_default(),
            finding.action.clone(),
            finding.resource.clone(),
        ))
        .or_insert(0) += 1;
    }
    out
}

/// Findings other than the ceiling's, without their step.
fn other_findings(result: &ScenarioResult) -> Vec<Value> {
    result
        .findings
        .iter()
        .filter(|f| f.kind != FindingKind::DelegationCeiling)
        .map(|f| {
            let mut value = serde_json::to_value(f).unwrap();
            value.as_object_mut().unwrap().remove("step");
            value
        })
        .collect()
}

#[test]
fn streamed_replay_equals_materialized() {
    let folder = temp_folder("equal");
    let options = world(&folder);
    let mut seen_ceiling = 0;
    let mut seen_mismatches = 0;
    let mut seen_unused = 0;
    // Long spans (unused-access findings) and a short one (window too short);
    // logs that repeat their requests a lot (the same context written with
    // its keys in either order too) and logs whose every request is distinct.
    for (seed, lines, span_days, variety) in [
        (1, 150, 200, Variety::Mixed),
        (2, 300, 400, Variety::Mixed),
        (3, 400, 120, Variety::Mixed),
        (4, 250, 3, Variety::Mixed),
        (5, 400, 365, Variety::Mixed),
        (6, 200, 200, Variety::Mixed),
        (8, 600, 200, Variety::Repeating),
        (9, 300, 30, Variety::Repeating),
        (10, 200, 200, Variety::Distinct),
    ] {
        let log = folder.join(format!("log-{seed}.jsonl"));
        let mut text = Vec::new();
        generated::write_log_of(seed, lines, span_days, variety, &mut text).unwrap();
        std::fs::write(&log, &text).unwrap();
        let whole = materialized(&log, &options);
        let (part, stats) = streamed(&log, &options, usize::MAX);
        let case = format!("seed {seed} ({variety:?})");
        assert_eq!(
            serde_json::to_value(&part.principals).unwrap(),
            serde_json::to_value(&whole.principals).unwrap(),
            "{case}: held, used, gap"
        );
        assert_eq!(
            serde_json::to_value(&part.observation).unwrap(),
            serde_json::to_value(&whole.observation).unwrap(),
            "{case}: observation"
        );
        // The accounting summary, but for the instants evaluated: a streamed
        // replay evaluates at its representatives' times only (held sets
        // change only at a session's first and last request, which are kept).
        let without_instants = |result: &ScenarioResult| {
            let mut value = serde_json::to_value(&result.accounting).unwrap();
            value.as_object_mut().unwrap().remove("evaluated_instants");
            value
        };
        assert_eq!(
            without_instants(&part),
            without_instants(&whole),
            "{case}: accounting summary"
        );
        assert_eq!(
            serde_json::to_value(&part.summary).unwrap(),
            serde_json::to_value(&whole.summary).unwrap(),
            "{case}: summary"
        );
        assert_eq!(part.passed, whole.passed, "{case}");
        assert_eq!(part.dead_policies, whole.dead_policies, "{case}");
        assert_eq!(other_findings(&part), other_findings(&whole), "{case}");
        // Every ceiling finding of the log is listed once per distinct
        // request and counted once per request.
        let whole_ceiling = ceiling(&whole);
        assert_eq!(
            ceiling(&part).keys().collect::<Vec<_>>(),
            whole_ceiling.keys().collect::<Vec<_>>(),
            "{case}: ceiling findings"
        );
        // The mismatching lines: every listed one mismatches in the
        // materialized replay, and each distinct mismatching request is
        // listed by its first line.
        let failed_lines: BTreeSet<usize> = whole
            .steps
            .iter()
            .filter(|s| s.expectation.as_ref().is_some_and(|e| !e.passed))
            .map(|s| line_of(s.name.as_ref()))
            .collect();
        let listed: BTreeSet<usize> = part
            .steps
            .iter()
            .map(|s| line_of(s.name.as_ref()))
            .collect();
        assert!(listed.is_subset(&failed_lines), "{case}: {listed:?}");
        assert_eq!(stats.mismatches, failed_lines.len(), "{case}");
        assert_eq!(
            stats.requests,
            whole.steps.len(),
            "{case}: every request counted"
        );
        assert!(stats.distinct <= stats.requests, "{case}");
        match variety {
            Variety::Distinct => assert_eq!(stats.distinct, stats.requests, "{case}"),
            Variety::Repeating => assert!(stats.distinct < stats.requests, "{case}"),
            _ => {}
        }
        // The warnings of the materialized replay, plus the streamed note.
        for warning in &whole.warnings {
            assert!(part.warnings.contains(warning), "{case}: {warning}");
        }
        seen_ceiling += whole_ceiling.values().sum::<usize>();
        seen_mismatches += failed_lines.len();
        seen_unused += whole
            .principals
            .iter()
            .filter(|p| p.unused_finding || p.held.iter().any(|h| h.unused_finding))
            .count();
    }
    // The generated logs exercise what is compared.
    assert!(seen_ceiling > 0, "no ceiling finding generated");
    assert!(seen_mismatches > 0, "no mismatch generated");
    assert!(seen_unused > 0, "no unused-access finding generated");
}

#[test]
fn streamed_mismatches_are_bounded_and_counted() {
    let folder = temp_folder("bounded");
    let options = world(&folder);
    let log = folder.join("log.jsonl");
    let mut text = Vec::new();
    generated::write_log(7, 600, 100, &mut text).unwrap();
    std::fs::write(&log, &text).unwrap();
    let (all, stats) = streamed(&log, &options, usize::MAX);
    let (few, _) = streamed(&log, &options, 3);
    assert!(
        all.steps.len() > 3,
        "the log needs more than 3 distinct mismatches"
    );
    assert_eq!(few.steps.len(), 3);
    // The first three by log line.
    let first: Vec<usize> = all.steps.iter().take(3).map(|s| s.index).collect();
    let kept: Vec<usize> = few.steps.iter().map(|s| s.index).collect();
    assert_eq!(kept, first);
    assert_eq!(few.summary.expectations_failed, stats.mismatches);
    assert!(
        few.warnings.iter().any(
            |w| w.contains(&format!("{} request(s) in", stats.mismatches))
                && w.contains("the first 3 listed")
        ),
        "{:?}",
        few.warnings
    );
}

#[test]
fn streamed_errors_are_located_at_the_logs_line() {
    let folder = temp_folder("errors");
    let options = world(&folder);
    let good = r#"{"timestamp": "2026-01-01T00:00:00Z", "principal": "User::\"u1\"", "action": "Action::\"read\"", "resource": "Doc::\"d1\"", "decision": "allow"}"#;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bad-json",
            format!("{good}\n\n{{\"timestamp\": 3\n").into_bytes(),
            "log.jsonl:3:",
        ),
        (
            "unknown-field",
            format!("{good}\n{}\n", good.replace("\"decision\"", "\"decison\"")).into_bytes(),
            "log.jsonl:2:",
        ),
        (
            "session-changes",
            format!(
                "{}\n{}\n",
                good.replace("}", r#", "session": "s"}"#),
                good.replace("u1", "u2")
                    .replace("}", r#", "session": "s"}"#)
            )
            .into_bytes(),
            "session `s` changes its principal: line 1",
        ),
        (
            "too-long",
            format!(
                "{good}\n{good}\n{}\n",
                " ".repeat(request_log::MAX_LINE_BYTES + 1)
            )
            .into_bytes(),
            "log.jsonl:3:1: line 3 is longer than",
        ),
        (
            "not-utf8",
            [good.as_bytes(), b"\n{\"timestamp\xff\n"].concat(),
            "log.jsonl:2:12: not UTF-8",
        ),
    ];
    for (name, text, expected) in cases {
        let log = folder.join("log.jsonl");
        std::fs::write(&log, text).unwrap();
        let error = stream::replay_log(&log, &options, &LoadOptions::default(), 5)
            .map(|_| ())
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains(expected), "{name}: {message}");
    }
}

/// A streamed replay's whole output, as the JSON contract writes it.
fn json_of(result: &ScenarioResult, stats: &stream::StreamStats) -> String {
    format!(
        "{}\n{stats:?}",
        serde_json::to_string_pretty(result).unwrap()
    )
}

#[test]
fn windowed_replay_equals_whole() {
    let folder = temp_folder("windowed");
    let options = world(&folder);
    // The window of the accounting as the log sets it, or set inside the
    // log (allowed requests outside it, idle times cut at its end).
    let mut narrow = LoadOptions::default();
    narrow.observation.start = Some("+20d".to_string());
    narrow.observation.end = Some("+60d".to_string());
    narrow.observation.unused_after = Some(5 * 86_400_000);
    let (mut seen_outside, mut seen_ceiling, mut seen_mismatch) = (false, false, false);
    // (seed, lines, days, variety, window, upside down, narrow window, listed).
    // Upside down, children's lines come before their parent's, so windows
    // wait for the parent session.
    for (seed, lines, span_days, variety, window, reversed, narrowed, listed) in [
        (1, 30, 100, Variety::Mixed, 1, false, false, 3),
        (5, 90, 365, Variety::Mixed, 7, true, true, usize::MAX),
        (8, 120, 200, Variety::Repeating, 16, true, false, 3),
        (10, 60, 200, Variety::Distinct, 16, false, true, usize::MAX),
        // Pairs used many times before, inside and after the narrow window.
        (9, 1500, 100, Variety::Repeating, 512, false, true, 3),
    ] {
        let mut text = Vec::new();
        generated::write_log_of(seed, lines, span_days, variety, &mut text).unwrap();
        let mut text = String::from_utf8(text).unwrap();
        if reversed {
            let mut lines: Vec<&str> = text.lines().collect();
            lines.reverse();
            text = lines.join("\n");
        }
        let log = folder.join(format!("log-{seed}.jsonl"));
        std::fs::write(&log, &text).unwrap();
        let load = if narrowed {
            &narrow
        } else {
            &LoadOptions::default()
        };
        let case = format!(
            "seed {seed} {variety:?}, window {window}, reversed {reversed}, narrow {narrowed}"
        );
        let (whole, whole_stats) = stream::replay_log_whole(&log, &options, load, listed)
            .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
        let expected = json_of(&whole, &whole_stats);
        // One thread, and windows replayed on a second thread.
        for jobs in [1, 2] {
            let (part, stats) =
                stream::replay_log_windowed(&log, &options, load, listed, window, jobs)
                    .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
            let actual = json_of(&part, &stats);
            let case = format!("{case}, jobs {jobs}");
            if actual != expected {
                let (number, (want, got)) = expected
                    .lines()
                    .zip(actual.lines())
                    .enumerate()
                    .find(|(_, (want, got))| want != got)
                    .unwrap_or((0, ("(lengths differ)", "")));
                panic!(
                    "{case}: line {} differs:\n  whole:    {want}\n  windowed: {got}",
                    number + 1
                );
            }
        }
        seen_ceiling |= whole
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::DelegationCeiling);
        seen_mismatch |= whole_stats.mismatches > 0;
        seen_outside |= whole
            .observation
            .as_ref()
            .is_some_and(|o| o.caveats.iter().any(|c| c.contains("outside the window")));
    }
    // The generated logs exercise what is compared.
    assert!(
        seen_outside,
        "no allowed request outside the window generated"
    );
    assert!(seen_ceiling, "no ceiling finding generated");
    assert!(seen_mismatch, "no mismatch generated");
}

/// `result` as JSON with what an untexted load cannot give cleared: each
/// step's line in the scenario's text, and the location in each warning.
fn without_text_lines(result: &ScenarioResult) -> Value {
    let mut json = serde_json::to_value(result).unwrap();
    if let Some(steps) = json.get_mut("steps").and_then(Value::as_array_mut) {
        for step in steps {
            step["line"] = Value::Null;
        }
    }
    json
}

#[test]
fn untexted_load_equals_text_load() {
    let folder = temp_folder("untexted");
    let options = world(&folder);
    let mut narrow = LoadOptions::default();
    narrow.observation.start = Some("+20d".to_string());
    narrow.observation.end = Some("+60d".to_string());
    let mut seen_ceiling = false;
    for (seed, lines, variety, load) in [
        (1, 40, Variety::Mixed, &LoadOptions::default()),
        (2, 200, Variety::Repeating, &narrow),
        (3, 120, Variety::Distinct, &LoadOptions::default()),
    ] {
        let mut text = Vec::new();
        generated::write_log_of(seed, lines, 100, variety, &mut text).unwrap();
        let log = folder.join(format!("log-{seed}.jsonl"));
        std::fs::write(&log, &text).unwrap();
        let logged = request_log::import_log(&log, &options)
            .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
        let from_text = logged
            .load_with(load)
            .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
        let in_memory = logged
            .load_untexted(load)
            .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
        assert_eq!(in_memory.file.display, from_text.file.display);
        assert_eq!(in_memory.warnings.len(), from_text.warnings.len());
        // Each step's context, given as read, is the one read from the text,
        // in the same order.
        assert_eq!(in_memory.steps.len(), from_text.steps.len());
        for (got, want) in in_memory.steps.iter().zip(&from_text.steps) {
            assert_eq!(
                serde_json::to_string(&*got.context).unwrap(),
                serde_json::to_string(&*want.context).unwrap(),
                "seed {seed} {variety:?}: step {}",
                want.index
            );
        }
        let (want, got) = (privsim::evaluate(&from_text), privsim::evaluate(&in_memory));
        seen_ceiling |= want
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::DelegationCeiling);
        assert_eq!(
            without_text_lines(&got),
            without_text_lines(&want),
            "seed {seed} {variety:?}: the untexted load replays otherwise"
        );
    }
    assert!(seen_ceiling, "no ceiling finding generated");

    // A scenario that does not load: the error is the text's, located in it.
    let bad = folder.join("bad.jsonl");
    std::fs::write(
        &bad,
        concat!(
            r#"{"timestamp": "2026-06-01T09:00:00Z", "principal": "Agent::\"a0\"", "action": "Action::\"read\"", "resource": "Doc::\"d0\"", "context": {"undeclared": 1}}"#,
            "\n"
        ),
    )
    .unwrap();
    let logged = request_log::import_log(&bad, &options).unwrap();
    let render = |error: privsim::Error| format!("{:?}", miette::Report::new(error));
    let want = render(logged.load_with(&LoadOptions::default()).unwrap_err());
    let got = render(logged.load_untexted(&LoadOptions::default()).unwrap_err());
    assert_eq!(got, want);
    assert!(want.contains("step 1"), "{want}");
}

/// With windows replayed on a second thread, a window that does not load
/// gives the error one thread gives: the first such window's, in log order,
/// though later windows were already handed to the worker.
#[test]
fn pipelined_replay_reports_the_first_windows_error() {
    let folder = temp_folder("pipelined-error");
    let options = world(&folder);
    let line = |second: u32, resource: &str, context: &str| {
        format!(
            r#"{{"timestamp": "2026-06-01T09:00:{second:02}Z", "principal": "Agent::\"a0\"", "action": "Action::\"read\"", "resource": "Doc::\"{resource}\"", "context": {context}}}"#
        )
    };
    let log = folder.join("log.jsonl");
    std::fs::write(
        &log,
        [
            line(1, "d0", "{}"),
            line(2, "d1", r#"{"undeclared": 1}"#),
            line(3, "d2", "{}"),
            line(4, "d3", r#"{"other": 2}"#),
            line(5, "d4", "{}"),
        ]
        .join("\n"),
    )
    .unwrap();
    let render = |jobs: usize| {
        let error =
            stream::replay_log_windowed(&log, &options, &LoadOptions::default(), 5, 1, jobs)
                .map(|_| ())
                .unwrap_err();
        format!("{:?}", miette::Report::new(error))
    };
    let (one, two) = (render(1), render(2));
    assert_eq!(two, one);
    assert!(one.contains("undeclared"), "{one}");
}
