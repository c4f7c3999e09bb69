//! `[[never]]` rules proven by `privsim fuzz` and `privsim run`: a rule the
//! replay breaks, one proven impossible in every world the schema allows, and
//! one no request of the scenario's world breaks but a proof refutes, with a
//! counterexample that replays through Cedar and a repro that fails until
//! the policies are fixed; without a solver, a caveat, or exit 2 with
//! `--prove`.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use std::path::Path;
use std::process::Command;
use std::str::FromStr;

use crate::common::*;

/// The fixture copied into a fresh folder (fuzz writes repros beside it).
fn fixture() -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap();
    let from = workspace_root().join("sim/tests/never");
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), folder.path().join(entry.file_name())).unwrap();
    }
    folder
}

fn verdicts(result: &serde_json::Value) -> Vec<(String, String)> {
    result["scenarios"][0]["never_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap().to_string(),
                r["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_never_rule_no_scenario_request_breaks_is_refuted_by_proof_with_a_counterexample_cedar_replays()
{
    let folder = fixture();
    let run = check_in(
        folder.path(),
        &["fuzz", "--prove", "--format", "json", "scenario.toml"],
        1,
    );
    let result: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        verdicts(&result),
        [
            ("scenario.toml:19", "found-by-replay"),
            ("scenario.toml:24", "proven-impossible"),
            ("scenario.toml:29", "refuted-by-proof"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // The search alone cannot reach it: no finding of the search or replay
    // names the export rule.
    let findings = result["scenarios"][0]["findings"].as_array().unwrap();
    let export: Vec<_> = findings
        .iter()
        .filter(|f| f["rule"] == "scenario.toml:29")
        .collect();
    assert_eq!(export.len(), 1, "{findings:#?}");
    let finding = export[0];
    assert!(finding["trace"].is_null() && finding["step"].is_null());
    assert_eq!(finding["determining_policies"][0], "finance-export");
    // The counterexample replays through Cedar: the policies allow it, and
    // it is a request the rule forbids.
    let cex = &finding["counterexample"];
    let schema_text = std::fs::read_to_string(folder.path().join("schema.cedarschema")).unwrap();
    let schema = cedar_policy::Schema::from_cedarschema_str(&schema_text)
        .unwrap()
        .0;
    let entities =
        cedar_policy::Entities::from_json_value(cex["entities"].clone(), Some(&schema)).unwrap();
    let uid = |key: &str| cedar_policy::EntityUid::from_str(cex[key].as_str().unwrap()).unwrap();
    let request = cedar_policy::Request::new(
        uid("principal"),
        uid("action"),
        uid("resource"),
        cedar_policy::Context::from_json_value(cex["context"].clone(), None).unwrap(),
        Some(&schema),
    )
    .unwrap();
    let policies = cedar_policy::PolicySet::from_str(
        &std::fs::read_to_string(folder.path().join("policies.cedar")).unwrap(),
    )
    .unwrap();
    let answer = cedar_policy::Authorizer::new().is_authorized(&request, &policies, &entities);
    assert_eq!(answer.decision(), cedar_policy::Decision::Allow);
    assert_eq!(uid("principal").type_name().to_string(), "Agent");
    assert_eq!(uid("action").to_string(), "Action::\"export\"");
    assert_eq!(uid("resource").type_name().to_string(), "Record");
    // The repro fails with the policies and passes once the export permit is gone.
    let repro = finding["repro"].as_str().unwrap();
    assert!(folder.path().join(repro).is_file(), "{repro}");
    check_in(folder.path(), &["run", repro], 1);
    check_in(
        folder.path(),
        &["run", "--policies", "fixed.cedar", repro],
        0,
    );
    // With the fix, the export rule is proven impossible.
    let fixed = check_in(
        folder.path(),
        &[
            "fuzz",
            "--prove",
            "--no-repro",
            "--policies",
            "fixed.cedar",
            "--format",
            "json",
            "scenario.toml",
        ],
        1,
    );
    let fixed: serde_json::Value = serde_json::from_str(&fixed.stdout).unwrap();
    assert_eq!(verdicts(&fixed)[2].1, "proven-impossible");
}

#[test]
fn never_rule_verdicts_in_the_text_report() {
    let run = check(
        &[
            "fuzz",
            "--prove",
            "--no-repro",
            "--strategy",
            "exhaustive",
            "sim/tests/never/scenario.toml",
        ],
        1,
    );
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn run_proves_never_rules_too_and_writes_no_repro() {
    let folder = fixture();
    let run = check_in(
        folder.path(),
        &["run", "--prove", "--format", "json", "scenario.toml"],
        0,
    );
    let result: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(verdicts(&result)[1].1, "proven-impossible");
    assert_eq!(verdicts(&result)[2].1, "refuted-by-proof");
    assert!(!folder.path().join("scenario.repro-1.toml").exists());
}

/// `privsim` in the fixture with `$CVC5` naming no solver.
fn without_solver(folder: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_privsim"))
        .args(args)
        .current_dir(folder)
        .env("CVC5", "/nonexistent/cvc5")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn without_a_solver_never_rules_are_not_proven_with_a_caveat_or_prove_is_bad_input() {
    let folder = fixture();
    for args in [
        &["fuzz", "--no-repro", "scenario.toml"][..],
        &["run", "scenario.toml"][..],
    ] {
        let command = args[0];
        let out = without_solver(folder.path(), args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(
                "never rule scenario.toml:24 (any Agent may never Action::\"deleteRecord\" on anything): not found, not proven; proofs skipped: no cvc5 solver found"
            ),
            "{command}: {stdout}"
        );
        let out = without_solver(folder.path(), &[command, "--prove", "scenario.toml"]);
        assert_eq!(out.status.code(), Some(2), "{command}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("needs the cvc5 solver"), "{stderr}");
    }
}

const HYGIENE: &str = "sim/tests/check/hygiene";

/// `privsim check --prove` of the hygiene scenario, base against candidate,
/// with one of its gate configurations.
fn hygiene_check(config: &str, format: &str, expected_code: i32) -> Run {
    check(
        &[
            "check",
            "--prove",
            "--today",
            "2026-06-01",
            "--baseline",
            &format!("{HYGIENE}/base.cedar"),
            "--candidate",
            &format!("{HYGIENE}/candidate.cedar"),
            "--config",
            &format!("{HYGIENE}/{config}"),
            "--format",
            format,
            &format!("{HYGIENE}/scenario.toml"),
        ],
        expected_code,
    )
}

fn hygiene_changes(result: &serde_json::Value) -> Vec<(String, String, String)> {
    result["scenarios"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"].as_str().unwrap().starts_with("policy-"))
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["policies"][0]["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn policy_hygiene_dead_redundant_overridden_and_erring_policies_are_proven() {
    let run = hygiene_check("gate.toml", "json", 1);
    let result: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let hygiene: Vec<(String, Vec<String>)> = result["scenarios"][0]["hygiene"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["id"].as_str().unwrap().to_string(),
                h["issues"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    let expected = [
        ("dead", "never-applies"),
        ("delete-anything", "never-grants"),
        ("overflowing-forbid", "may-error"),
        ("sales-read", "redundant"),
    ];
    assert_eq!(
        hygiene,
        expected.map(|(id, issue)| (id.to_string(), vec![issue.to_string()]))
    );
    // Each is new (the baseline has none of these policies): a change, and
    // only the erring one fails the gate by default.
    let mut changes = hygiene_changes(&result);
    changes.sort();
    assert_eq!(
        changes,
        [
            ("policy-may-error", "overflowing-forbid", "fail"),
            ("policy-never-applies", "dead", "info"),
            ("policy-never-grants", "delete-anything", "info"),
            ("policy-redundant", "sales-read", "info"),
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
    insta::assert_snapshot!(hygiene_check("gate.toml", "text", 1).stdout);
}

#[test]
fn a_gate_fails_on_the_hygiene_problems_its_config_names_and_passes_without() {
    // The erring forbid allowed: the gate passes, the problems still listed.
    let run = hygiene_check("gate-no-error.toml", "json", 0);
    let result: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        hygiene_changes(&result)
            .iter()
            .all(|(_, _, status)| status == "info")
    );
    assert_eq!(result["config"]["fail_on"]["policy_may_error"], false);
    // Redundant permits switched on: `sales-read` fails it.
    let run = hygiene_check("gate-redundant.toml", "json", 1);
    let result: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let failing: Vec<_> = hygiene_changes(&result)
        .into_iter()
        .filter(|(_, _, status)| status == "fail")
        .collect();
    assert_eq!(
        failing,
        [(
            "policy-redundant".to_string(),
            "sales-read".to_string(),
            "fail".to_string()
        )]
    );
    // Markdown and JUnit say it too.
    let md = hygiene_check("gate-redundant.toml", "md", 1).stdout;
    assert!(
        md.contains("redundant: the other permits allow everything it allows"),
        "{md}"
    );
    let junit = hygiene_check("gate-redundant.toml", "junit", 1).stdout;
    assert!(junit.contains("policy-redundant"), "{junit}");
}

#[test]
fn a_hygiene_problem_the_baseline_had_too_is_listed_but_is_no_change() {
    let run = check(
        &[
            "check",
            "--prove",
            "--today",
            "2026-06-01",
            "--baseline",
            &format!("{HYGIENE}/candidate.cedar"),
            "--candidate",
            &format!("{HYGIENE}/candidate.cedar"),
            "--config",
            &format!("{HYGIENE}/gate.toml"),
            "--format",
            "json",
            &format!("{HYGIENE}/scenario.toml"),
        ],
        0,
    );
    let result: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(hygiene_changes(&result).is_empty());
    for policy in result["scenarios"][0]["hygiene"].as_array().unwrap() {
        assert_eq!(policy["issues"], policy["on_baseline"], "{policy:#}");
    }
}

#[test]
fn a_never_rule_only_the_search_breaks_is_found_by_search_and_not_proven_again() {
    let folder = tempfile::tempdir().unwrap();
    let from = workspace_root().join("scenarios/escalations/self-assign-role");
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        let target = folder.path().join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            for inner in std::fs::read_dir(entry.path()).unwrap() {
                let inner = inner.unwrap();
                std::fs::copy(inner.path(), target.join(inner.file_name())).unwrap();
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
    let run = check_in(
        folder.path(),
        &[
            "fuzz",
            "--prove",
            "--no-repro",
            "--strategy",
            "exhaustive",
            "--format",
            "json",
            "planted.toml",
        ],
        1,
    );
    let result: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let rules = &result["scenarios"][0]["never_rules"];
    assert_eq!(rules[0]["verdict"], "found-by-search", "{rules:#}");
    assert!(rules[0]["environments"].is_null(), "{rules:#}");
    // The replay alone does not break it: no finding without a trace names it.
    let rule = rules[0]["rule"].as_str().unwrap();
    assert!(
        !result["scenarios"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == rule && f["trace"].is_null())
    );
}

/// `privsim <args>` in `folder` with `$CVC5` set to `solver`: exit code,
/// stdout, stderr.
fn with_solver(folder: &Path, solver: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_privsim"))
        .args(args)
        .current_dir(folder)
        .env("CVC5", solver)
        .env("NO_COLOR", "1")
        .env("SOURCE_DATE_EPOCH", RUN_EPOCH)
        .env_remove("PRIVSIM_CACHE_DIR")
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        stderr,
    )
}

/// `run` and `fuzz` keep never-rule verdicts in the proof cache (by default
/// in `.privsim/cache/proofs`): a second run with unchanged policies asks the
/// solver nothing and prints the same bytes; a changed policy asks again only
/// in the environments it may apply to.
#[test]
fn a_second_run_or_fuzz_with_unchanged_policies_asks_the_solver_nothing() {
    let folder = fixture();
    let counting = TempFolder::new("never-cache-solver");
    let (solver, log) = crate::check_whole::counting_solver(&counting);
    let fresh = |log: &Path| {
        let _ = std::fs::remove_file(log);
    };
    for command in [
        &["run", "--prove", "--format", "json", "scenario.toml"][..],
        &[
            "fuzz",
            "--prove",
            "--no-repro",
            "--seed",
            "1",
            "--format",
            "json",
            "scenario.toml",
        ][..],
    ] {
        let _ = std::fs::remove_dir_all(folder.path().join(".privsim"));
        fresh(&log);
        let (code, cold, cold_err) = with_solver(folder.path(), &solver, command);
        let cold_queries = crate::check_whole::queries(&log);
        assert!(cold_queries > 0, "{command:?}: {cold_err}");
        assert!(
            folder.path().join(".privsim/cache/proofs").is_dir(),
            "{command:?}: the default cache folder"
        );
        fresh(&log);
        let (warm_code, warm, warm_err) = with_solver(folder.path(), &solver, command);
        assert_eq!(
            crate::check_whole::queries(&log),
            0,
            "{command:?}: {warm_err}"
        );
        assert_eq!((warm_code, &warm), (code, &cold), "{command:?}");
        // Without the cache, the same again, from the solver.
        fresh(&log);
        let mut uncached = command.to_vec();
        uncached.insert(1, "--no-proof-cache");
        let (_, again, _) = with_solver(folder.path(), &solver, &uncached);
        assert_eq!(
            crate::check_whole::queries(&log),
            cold_queries,
            "{command:?}"
        );
        assert_eq!(again, cold, "{command:?}");
    }

    // The delete permit changed: the rule about deletes is proven anew, the
    // rule about exports (whose environment the permit cannot match) is not
    // (the engine's proof_cache tests count each question).
    let changed = std::fs::read_to_string(folder.path().join("policies.cedar"))
        .unwrap()
        .replace("principal.clearance > 5", "principal.clearance > 7");
    std::fs::write(folder.path().join("changed.cedar"), changed).unwrap();
    let args = [
        "run",
        "--prove",
        "--policies",
        "changed.cedar",
        "--format",
        "json",
        "scenario.toml",
    ];
    fresh(&log);
    let (_, partial, _) = with_solver(folder.path(), &solver, &args);
    let partial_queries = crate::check_whole::queries(&log);
    let _ = std::fs::remove_dir_all(folder.path().join(".privsim"));
    fresh(&log);
    let (_, cold, _) = with_solver(folder.path(), &solver, &args);
    let cold_queries = crate::check_whole::queries(&log);
    assert_eq!(partial, cold);
    // Without the cache the export rule asks the solver; with it, only the
    // delete rule's environment is proven anew (the forbid of every delete
    // decides it before any query), so fewer queries.
    assert!(
        partial_queries < cold_queries,
        "{partial_queries} queries with the cache, {cold_queries} without"
    );
}
