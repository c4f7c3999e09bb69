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
