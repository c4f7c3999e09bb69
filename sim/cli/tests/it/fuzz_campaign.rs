//! `privsim fuzz` as a campaign: `--jobs N` gives the same bytes for the same
//! seed, budget and N; SIGINT sent to a real child process stops the search
//! cleanly, and the results written (standard output, `--output`,
//! `--report-dir`) say it was interrupted; `--stats` writes JSON lines.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TempFolder, check_in, workspace_root};

/// A copy of a planted escalation's folder.
fn copy_escalation(folder: &Path, name: &str, variant: &str) {
    let source = workspace_root().join("scenarios/escalations").join(name);
    std::fs::create_dir_all(folder.join("policies")).unwrap();
    for file in [
        "entities.json",
        "schema.cedarschema",
        &format!("{variant}.toml"),
        &format!("policies/{variant}.cedar"),
    ] {
        std::fs::copy(source.join(file), folder.join(file)).unwrap();
    }
}

#[test]
fn the_same_seed_budget_and_jobs_give_the_same_bytes() {
    let folder = TempFolder::new("fuzz-jobs");
    copy_escalation(&folder.0, "self-assign-role", "planted");
    for strategy in ["random", "novelty", "exhaustive"] {
        let args = [
            "fuzz",
            "--no-repro",
            "--seed",
            "3",
            "--max-steps",
            "3000",
            "--depth",
            "4",
            "--jobs",
            "3",
            "--strategy",
            strategy,
            "--format",
            "json",
            "planted.toml",
        ];
        let first = check_in(&folder.0, &args, 1);
        let second = check_in(&folder.0, &args, 1);
        assert_eq!(first.stdout, second.stdout, "{strategy}");
        let result: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
        let search = &result["scenarios"][0]["search"];
        assert_eq!(search["jobs"], 3, "{strategy}: {search}");
        // One job is the single-threaded search, which does not name its jobs.
        let mut one = args.to_vec();
        one[9] = "1";
        let one = check_in(&folder.0, &one, 1);
        let one: serde_json::Value = serde_json::from_str(&one.stdout).unwrap();
        assert!(
            one["scenarios"][0]["search"].get("jobs").is_none(),
            "{strategy}"
        );
    }
}

/// Runs `privsim fuzz` in `folder` until it has searched for a while (its
/// `--stats` file has a line), then sends it SIGINT; returns its exit code.
fn interrupt(folder: &Path, args: &[&str]) -> i32 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_privsim"))
        .args(args)
        .current_dir(folder)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stats = folder.join("stats.jsonl");
    let started = Instant::now();
    while std::fs::read_to_string(&stats).map_or(true, |s| s.lines().count() < 2) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the search wrote no statistics"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "it ended before the signal"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    output.status.code().unwrap_or(-1)
}

#[test]
fn sigint_stops_the_search_and_writes_what_it_found_so_far() {
    let folder = TempFolder::new("fuzz-sigint");
    copy_escalation(&folder.0, "self-assign-role", "fixed");
    // A budget no test waits for: only the signal ends it.
    let args = [
        "fuzz",
        "--no-repro",
        "--max-steps",
        "1000000000",
        "--depth",
        "10",
        "--jobs",
        "2",
        "--stats",
        "stats.jsonl",
        "--format",
        "json",
        "--output",
        "out.json",
        "--report-dir",
        "reports",
        "fixed.toml",
    ];
    let code = interrupt(&folder.0, &args);
    // Not a clean verdict: interrupted, no finding.
    assert_eq!(code, 130);
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.0.join("out.json")).unwrap()).unwrap();
    let search = &result["scenarios"][0]["search"];
    assert_eq!(search["interrupted"], true, "{search}");
    assert_eq!(search["budget_exhausted"], true, "{search}");
    assert!(search["moves"].as_u64().unwrap() > 0, "{search}");
    assert!(
        search["moves"].as_u64().unwrap() < 1_000_000_000,
        "{search}"
    );
    let text = std::fs::read_to_string(folder.0.join("reports/report.md")).unwrap();
    assert!(text.contains("interrupted"), "{text}");
    // The statistics are JSON lines, the last one final.
    let stats = std::fs::read_to_string(folder.0.join("stats.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = stats
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = lines.last().unwrap();
    assert_eq!(last["final"], true, "{stats}");
    for key in [
        "elapsed_s",
        "moves",
        "moves_per_s",
        "states",
        "held",
        "universe",
        "findings",
    ] {
        assert!(last[key].is_number(), "{key}: {last}");
    }
    assert!(last["held"].as_u64().unwrap() > 0, "{last}");
}
