//! The `privsim` command line end to end: exit codes, `--format json`,
//! `--policies`, `--output` and usage errors, run on the example scenarios
//! through one `check(args, expected exit code)` helper.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};
use std::process::Command;

const LEAST: &str = "scenarios/mcp-support/least-privilege.toml";
const OVER_POLICIES: &str = "scenarios/mcp-support/policies/over-privileged.cedar";

/// The repository root: the example scenarios' paths are relative to it.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What one run printed.
struct Run {
    stdout: String,
    stderr: String,
}

/// Runs `privsim <args>` from the repository root and checks the exit code.
fn check(args: &[&str], expected_code: i32) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_privsim"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let run = Run {
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(
        output.status.code(),
        Some(expected_code),
        "privsim {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        run.stdout,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

/// A fresh folder for output files, removed when dropped.
struct TempFolder(PathBuf);

impl TempFolder {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("privsim-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempFolder(path)
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

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
