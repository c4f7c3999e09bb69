//! Same inputs, same bytes out, across processes: std's `HashMap` and
//! `HashSet` are seeded per process, so an output that leaks hash order
//! (Cedar keeps an entity's parents in a hash set, its attributes and tags in
//! hash maps) can be identical within one process and differ between two.
//! Each test here runs the `privsim` binary [`RUNS`] times on the same inputs,
//! each time in a fresh copy of them, and compares every byte it printed or
//! wrote.
//!
//! The world (`sim/tests/determinism/`) has 16 groups, 6 agents and 8
//! repositories of up to five parents, several attributes and several tags
//! each; one never rule the search breaks (repro files), and two a proof
//! refutes, with a counterexample entity of nine parents and six tags; and a
//! scenario whose schema has 16 undeclared types (`broken.toml`).
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::common::*;

/// How many processes run each command.
const RUNS: usize = 4;

fn solver_installed() -> bool {
    Command::new(std::env::var_os("CVC5").unwrap_or_else(|| "cvc5".into()))
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Every file under `folder`, by its path relative to `root`, with its bytes.
fn files_under(root: &Path, folder: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(root, &path, out);
        } else {
            let name = path.strip_prefix(root).unwrap().display().to_string();
            out.insert(name, std::fs::read(&path).unwrap());
        }
    }
}

/// One command of a run: its arguments, and the exit code it must end with.
struct Step {
    args: Vec<&'static str>,
    code: i32,
}

/// Runs every step in a fresh copy of the fixtures and returns what each
/// printed (exit code, standard output, standard error) and every file the
/// steps wrote.
fn one_run(steps: &[Step]) -> BTreeMap<String, Vec<u8>> {
    let folder = tempfile::tempdir().unwrap();
    let world = folder.path().join("world");
    copy_tree(&workspace_root().join("sim/tests/determinism"), &world);
    copy_tree(
        &workspace_root().join("scenarios/mcp-helpdesk"),
        &folder.path().join("mcp"),
    );
    let mut before = BTreeMap::new();
    files_under(folder.path(), folder.path(), &mut before);
    let mut out = BTreeMap::new();
    for (at, step) in steps.iter().enumerate() {
        let dir = if step.args.contains(&"--tools") {
            folder.path().join("mcp")
        } else {
            world.clone()
        };
        let (code, stdout, stderr) = privsim_in(&dir, &step.args);
        assert_eq!(
            code,
            step.code,
            "privsim {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            step.args.join(" ")
        );
        let name = format!("{at:02} privsim {}", step.args.join(" "));
        out.insert(format!("{name}: stdout"), stdout.into_bytes());
        out.insert(
            format!("{name}: stderr"),
            without_timings(&stderr).into_bytes(),
        );
    }
    let mut after = BTreeMap::new();
    files_under(folder.path(), folder.path(), &mut after);
    for (name, bytes) in after {
        if before.get(&name) != Some(&bytes) {
            out.insert(name, bytes);
        }
    }
    out
}

/// `stderr` without the wall-clock figures of `fuzz`'s summary lines
/// (`300 moves in 0.3s (942/s), ...` becomes `300 moves, ...`).
fn without_timings(stderr: &str) -> String {
    let mut out = String::new();
    for line in stderr.lines() {
        match (line.find(" moves in "), line.find("/s)")) {
            (Some(from), Some(to)) if from < to => {
                out.push_str(&line[..from + " moves".len()]);
                out.push_str(&line[to + "/s)".len()..]);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Runs `steps` in [`RUNS`] processes each and asserts that every run printed
/// and wrote the same bytes; returns the first run's outputs.
fn same_bytes_every_run(steps: &[Step]) -> BTreeMap<String, Vec<u8>> {
    let first = one_run(steps);
    for run in 1..RUNS {
        let other = one_run(steps);
        assert_eq!(
            first.keys().collect::<Vec<_>>(),
            other.keys().collect::<Vec<_>>(),
            "run {run} wrote other files than run 0"
        );
        for (name, bytes) in &first {
            let theirs = &other[name];
            if bytes != theirs {
                let at = bytes
                    .iter()
                    .zip(theirs)
                    .position(|(a, b)| a != b)
                    .unwrap_or(bytes.len().min(theirs.len()));
                let context = |b: &[u8]| {
                    String::from_utf8_lossy(&b[at.saturating_sub(200)..(at + 200).min(b.len())])
                        .into_owned()
                };
                panic!(
                    "`{name}` differs between run 0 and run {run} at byte {at}:\n--- run 0:\n{}\n--- run {run}:\n{}",
                    context(bytes),
                    context(theirs)
                );
            }
        }
    }
    first
}

/// The standard output of the step whose command line contains `command`.
fn stdout_of(outputs: &BTreeMap<String, Vec<u8>>, command: &str) -> String {
    let (_, bytes) = outputs
        .iter()
        .find(|(name, _)| name.contains(command) && name.ends_with(": stdout"))
        .unwrap_or_else(|| panic!("no step ran `{command}`"));
    String::from_utf8(bytes.clone()).unwrap()
}

#[test]
fn every_command_prints_and_writes_the_same_bytes_in_every_process() {
    // Without cvc5 the commands run without proofs (no counterexamples):
    // without `--prove`, the test helper adds `--no-prove`.
    let solver = solver_installed();
    if !solver {
        eprintln!("the cvc5 solver is not installed: comparing without proofs");
    }
    let prove = "--prove";
    let steps = [
        Step {
            args: vec!["run", prove, "--format", "json", "scenario.toml"],
            code: 0,
        },
        Step {
            args: vec!["run", prove, "scenario.toml"],
            code: 0,
        },
        Step {
            args: vec![
                "fuzz",
                prove,
                "--max-steps",
                "300",
                "--format",
                "json",
                "--repro-dir",
                "repros",
                "scenario.toml",
            ],
            code: 1,
        },
        Step {
            args: vec!["suggest", prove, "--format", "json", "scenario.toml"],
            code: 1,
        },
        Step {
            args: vec![
                "check",
                prove,
                "--config",
                "gate.toml",
                "--baseline",
                "fixed.cedar",
                "--today",
                "2026-06-08",
                "--format",
                "json",
                "--report-dir",
                "report",
                "scenario.toml",
            ],
            code: 1,
        },
        Step {
            args: vec![
                "import",
                "log",
                "log.jsonl",
                "--policies",
                "policies.cedar",
                "--schema",
                "schema.cedarschema",
                "--entities",
                "entities.json",
                "--output-format",
                "json",
            ],
            code: 0,
        },
        // A schema of 16 undeclared types: the load error names them.
        Step {
            args: vec!["run", "broken.toml"],
            code: 2,
        },
        // MCP `tools_call` lines: entities the generator makes, with
        // random ids privsim renames, written as `[[entity]]` tables.
        Step {
            args: vec![
                "import",
                "log",
                "log.jsonl",
                "--policies",
                "policies/production.cedar",
                "--schema",
                "schema.cedarschema",
                "--entities",
                "entities.json",
                "--tools",
                "tools.json",
                "--stub",
                "stub.cedarschema",
                "--name",
                "again",
                "--out",
                "imported",
            ],
            code: 0,
        },
    ];
    let steps: Vec<Step> = steps
        .into_iter()
        .map(|mut step| {
            step.args.retain(|arg| solver || *arg != prove);
            step
        })
        .collect();
    let outputs = same_bytes_every_run(&steps);
    // The comparison covers what it is meant to: repro files, the gate's
    // reports and the imported scenario were written, and with proofs, a
    // counterexample entity of many parents and tags.
    for written in [
        "world/repros/scenario.repro-1/scenario.repro-1.toml",
        "world/report/check.json",
        "world/report/check.sarif",
        "mcp/imported/again.toml",
    ] {
        assert!(outputs.contains_key(written), "{written} was not written");
    }
    assert!(
        stdout_of(&outputs, "privsim run broken.toml")
            .contains("failed to resolve types: Missing00, Missing01,"),
        "the broken schema's error"
    );
    let imported = String::from_utf8(outputs["mcp/imported/again.toml"].clone()).unwrap();
    assert!(imported.contains("::\"line-1-1\"'"), "no generated entity");
    if solver {
        let fuzz: serde_json::Value =
            serde_json::from_str(&stdout_of(&outputs, "privsim fuzz")).unwrap();
        let counterexample = fuzz["scenarios"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "scenario.toml:32")
            .map(|f| f["counterexample"].clone())
            .unwrap();
        let principal = counterexample["entities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["uid"]["type"] == "Agent" && e["parents"].as_array().unwrap().len() >= 8)
            .unwrap_or_else(|| panic!("no agent of 8 or more parents in {counterexample:#}"));
        assert!(
            principal["tags"].as_object().unwrap().len() >= 6,
            "{principal:#}"
        );
        let repros = outputs
            .keys()
            .filter(|name| name.starts_with("world/repros/") && name.ends_with(".toml"))
            .count();
        assert!(repros >= 3, "{repros} repro scenarios");
    }
}
