//! The `privsim` command line end to end: exit codes, `--format json`,
//! `--policies`, `--output` and usage errors, run on the example scenarios
//! through one `check(args, expected exit code)` helper.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use crate::common::{TempFolder, check};

const LEAST: &str = "scenarios/mcp-support/least-privilege.toml";
const OVER_POLICIES: &str = "scenarios/mcp-support/policies/over-privileged.cedar";

#[test]
fn a_least_privilege_scenario_passes() {
    let run = check(&["run", LEAST], 0);
    assert!(run.stdout.starts_with("PASS "), "{}", run.stdout);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn json_output_parses_and_is_byte_identical_across_runs() {
    let first = check(&["run", "--format", "json", LEAST], 0).stdout;
    let second = check(&["run", "--format", "json", LEAST], 0).stdout;
    assert_eq!(first, second, "two runs differ");
    let json: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(json["format"], "privsim-result/1");
    assert_eq!(json["scenarios"][0]["passed"], true);
    assert_eq!(json["scenarios"][0]["file"], LEAST);
}

#[test]
fn policies_override_the_scenarios_own() {
    let run = check(&["run", "--policies", OVER_POLICIES, LEAST], 1);
    assert!(run.stdout.starts_with("FAIL "), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("policies: {OVER_POLICIES}")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("FAILED step 3"),
        "the injected read is allowed by the over-privileged policy:\n{}",
        run.stdout
    );
}

#[test]
fn output_writes_the_file_instead_of_standard_output() {
    let folder = TempFolder::new("output");
    let file = folder.0.join("result.json");
    let written = check(
        &[
            "run",
            "--format",
            "json",
            "--output",
            file.to_str().unwrap(),
            LEAST,
        ],
        0,
    );
    assert!(written.stdout.is_empty(), "{}", written.stdout);
    let expected = check(&["run", "--format", "json", LEAST], 0).stdout;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);
    // Written atomically: nothing but the file is left in the folder.
    let entries: Vec<_> = std::fs::read_dir(&folder.0).unwrap().collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
}

#[test]
fn no_arguments_is_a_usage_error() {
    let run = check(&[], 2);
    assert!(run.stderr.contains("Usage: privsim"), "{}", run.stderr);
    let run = check(&["run"], 2);
    assert!(run.stderr.contains("<PATHS>"), "{}", run.stderr);
}

#[test]
fn a_nonexistent_path_is_bad_input() {
    let run = check(&["run", "scenarios/no-such-scenario.toml"], 2);
    assert!(
        run.stderr
            .contains("cannot read `scenarios/no-such-scenario.toml`"),
        "{}",
        run.stderr
    );
    // The operating system's reason is printed once, as the cause.
    assert_eq!(
        run.stderr.matches("(os error 2)").count(),
        1,
        "{}",
        run.stderr
    );
}

#[test]
fn fuzz_options_the_search_cannot_honour_are_usage_errors() {
    // `--depth 18446744073709551615` once wrapped to an empty search that
    // printed "0 findings"; depth 0 and no moves at all searched nothing too.
    for args in [
        ["--depth", "18446744073709551615"],
        ["--depth", "10001"],
        ["--depth", "0"],
        ["--max-steps", "0"],
    ] {
        let mut all = vec!["fuzz", "--no-repro"];
        all.extend(args);
        all.push(LEAST);
        let run = check(&all, 2);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert!(
            run.stderr.contains(args[0]),
            "{args:?} is not named: {}",
            run.stderr
        );
    }
}

#[test]
fn one_broken_scenario_does_not_hide_the_verdict_on_the_others() {
    let folder = TempFolder::new("all-or-nothing");
    let good = r#"
[scenario]
name = "good"
policies = ["p.cedar"]
start = "2026-06-01T09:00:00Z"

[[entity]]
uid = 'User::"alice"'

[[entity]]
uid = 'Doc::"d"'

[[step]]
at = "+1m"
principal = 'User::"alice"'
action = 'Action::"read"'
resource = 'Doc::"d"'
expect = "allow"
"#;
    std::fs::write(folder.0.join("a-good.toml"), good).unwrap();
    std::fs::write(folder.0.join("b-broken.toml"), "[scenario]\nname = 3\n").unwrap();
    std::fs::write(
        folder.0.join("c-good.toml"),
        good.replace("\"good\"", "\"good too\""),
    )
    .unwrap();
    std::fs::write(
        folder.0.join("p.cedar"),
        r#"permit (principal, action == Action::"read", resource);"#,
    )
    .unwrap();
    // The gate's configuration beside the scenarios is not one of them.
    std::fs::write(folder.0.join("privsim-gate.toml"), "[fail_on]\n").unwrap();

    let run = crate::common::check_in(&folder.0, &["run", "."], 2);
    assert!(run.stdout.contains("PASS good"), "{}", run.stdout);
    assert!(run.stdout.contains("PASS good too"), "{}", run.stdout);
    assert!(run.stderr.contains("b-broken.toml:2:8"), "{}", run.stderr);
    assert!(!run.stderr.contains("privsim-gate.toml"), "{}", run.stderr);

    let json = crate::common::check_in(&folder.0, &["run", "--format", "json", "."], 2);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["scenarios"].as_array().unwrap().len(), 2);
    assert_eq!(json["load_errors"][0]["file"], "./b-broken.toml");
    assert!(
        json["load_errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("b-broken.toml:2:8"),
        "{json}"
    );
}
