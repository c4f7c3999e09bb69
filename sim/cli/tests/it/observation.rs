//! `privsim run` with an observation window: the example's unused-access
//! findings in the text report (snapshot), the flags replacing the
//! scenario's keys, a window too short said as such, and bad flags as
//! usage errors.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use crate::common::check;

const QUARTER: &str = "scenarios/stale-access/quarter.toml";
const HAND_WRITTEN: &str = "scenarios/mcp-support/least-privilege.toml";

#[test]
fn the_quarter_example_reports_unused_access_in_text() {
    let run = check(&["run", QUARTER], 0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn unused_after_replaces_the_scenarios_threshold() {
    // 124 days: archive-bot's exports and its reads of q2 and q3 (idle
    // 125d) are still unused, its read of q1, its read action and the
    // principal (idle 123d) are not; of report-bot's, export q2 and q3
    // (idle 125d) stay, read q2 (idle 120d) does not: 7 pairs, and one
    // whole action (archive-bot's export).
    let run = check(
        &["run", "--format", "json", "--unused-after", "124d", QUARTER],
        0,
    );
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let window = &json["scenarios"][0]["observation"];
    assert_eq!(window["status"], "evaluated");
    assert_eq!(window["unused_after_ms"], 124 * 86_400_000_i64);
    assert_eq!(window["unused_pairs"], 7, "{window}");
    assert_eq!(window["unused_actions"], 1, "{window}");
    assert_eq!(window["unused_principals"], 0, "{window}");
}

#[test]
fn a_window_shorter_than_the_threshold_claims_nothing_unused() {
    let run = check(&["run", HAND_WRITTEN], 0);
    assert!(
        run.stdout
            .contains("is shorter than the unused-access threshold of 90d: window too short"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("UNUSED"), "{}", run.stdout);
    // The same window with a threshold it can hold is evaluated.
    let run = check(&["run", "--unused-after", "1m", HAND_WRITTEN], 0);
    assert!(
        run.stdout.contains("unused for 1m of held time"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_window_end_after_the_run_is_observed_up_to_it() {
    // Ten more days of holding: the quarter's window ends on day 135.
    let run = check(
        &["run", "--format", "json", "--window-end", "+135d", QUARTER],
        0,
    );
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let scenario = &json["scenarios"][0];
    assert_eq!(scenario["observation"]["end"], "2026-05-16T00:00:00Z");
    let bot = scenario["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["principal"] == "Agent::\"report-bot\"")
        .unwrap();
    let delete = bot["held"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["action"] == "Action::\"deleteReport\"")
        .unwrap();
    // The cleanup grant runs from day 100 to day 130: 30 days held.
    assert_eq!(delete["idle_ms"], 30 * 86_400_000_i64, "{delete}");
}

#[test]
fn allowed_steps_outside_a_window_are_not_uses_and_are_counted() {
    // From day 50: report-bot's read of q2 (day 5) is outside, so q2 is
    // unused from day 50 to day 125, 75 days; two steps fall outside.
    let run = check(
        &[
            "run",
            "--format",
            "json",
            "--window-start",
            "+50d",
            "--unused-after",
            "70d",
            QUARTER,
        ],
        0,
    );
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let scenario = &json["scenarios"][0];
    let caveats = scenario["observation"]["caveats"].to_string();
    assert!(
        caveats.contains("4 allowed step(s) fall outside the window"),
        "{caveats}"
    );
    let bot = scenario["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["principal"] == "Agent::\"report-bot\"")
        .unwrap();
    let read_q2 = bot["held"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["action"] == "Action::\"readReport\"" && p["resource"] == "Report::\"q2\"")
        .unwrap();
    assert!(read_q2.get("last_used").is_none(), "{read_q2}");
    assert_eq!(read_q2["idle_ms"], 75 * 86_400_000_i64, "{read_q2}");
    assert_eq!(read_q2["unused_finding"], true, "{read_q2}");
}

#[test]
fn bad_window_flags_are_usage_errors() {
    let run = check(&["run", "--unused-after", "ninety days", QUARTER], 2);
    assert!(run.stderr.contains("`--unused-after`"), "{}", run.stderr);
    let run = check(&["run", "--unused-after", "0d", QUARTER], 2);
    assert!(run.stderr.contains("longer than zero"), "{}", run.stderr);
    let run = check(&["run", "--window-end", "yesterday", QUARTER], 2);
    assert!(run.stderr.contains("`--window-end`"), "{}", run.stderr);
    let run = check(
        &[
            "run",
            "--window-start",
            "+10d",
            "--window-end",
            "+5d",
            QUARTER,
        ],
        2,
    );
    assert!(
        run.stderr
            .contains("ends (2026-01-06T00:00:00Z) before it starts"),
        "{}",
        run.stderr
    );
}
