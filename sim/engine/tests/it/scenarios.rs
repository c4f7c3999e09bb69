//! The example scenarios in `scenarios/`: each one passes, its JSON result is
//! snapshot-tested, and each over-privileged variant allows strictly more than
//! its least-privilege twin.
//!
//! The tests run from the workspace root, so scenario and policy paths in the
//! results read exactly as `privsim run scenarios/` prints them there.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use privsim::result::{Decision, ScenarioResult};
use privsim::time::Instant;
use privsim::{LoadOptions, RunResult, load as scenario};

use crate::common::{from_workspace_root, workspace_root};

/// Loads, replays and accounts for one scenario (what `privsim run` does),
/// given relative to the workspace root.
fn evaluate(relative: &Path) -> ScenarioResult {
    from_workspace_root();
    let loaded = scenario::load(relative, &LoadOptions::default().under(relative))
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    privsim::evaluate(&loaded)
}

/// A human-readable list of what failed in a scenario.
fn failures(result: &ScenarioResult) -> String {
    let mut lines = Vec::new();
    for step in &result.steps {
        if let Some(expectation) = step.expectation.as_ref().filter(|e| !e.passed) {
            lines.push(format!(
                "step {} (line {}): {}",
                step.index,
                step.line,
                expectation.failures.join("; ")
            ));
        }
    }
    for access in result.access.iter().filter(|a| !a.passed) {
        lines.push(format!(
            "access #{} (line {}): missing {:?}, unexpected {:?}",
            access.index, access.line, access.missing, access.unexpected
        ));
    }
    lines.join("\n")
}

#[test]
fn scenario() {
    let root = workspace_root();
    insta::glob!("../../../../scenarios", "**/*.toml", |path| {
        // A shared world is read through the scenarios that name it.
        if scenario::is_shared_world(path) {
            return;
        }
        let relative = path.strip_prefix(&root).unwrap();
        let result = evaluate(relative);
        assert!(
            result.passed,
            "{} failed:\n{}",
            relative.display(),
            failures(&result)
        );
        // The exact `privsim run --format json` output for this one file.
        insta::assert_snapshot!(privsim_reports::json(&RunResult::new(vec![result])));
    });
}

#[test]
fn the_whole_folder_passes_and_shows_the_planted_findings() {
    from_workspace_root();
    let run = privsim::run_paths(&["scenarios"], &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    assert!(
        run.scenarios.len() >= 10,
        "{} scenarios",
        run.scenarios.len()
    );
    for result in &run.scenarios {
        assert!(
            result.passed,
            "{} failed:\n{}",
            result.file,
            failures(result)
        );
        // The only warnings allowed say which pairs accounting could not ask
        // about (an action whose context only a step supplies, like the
        // escalations' `assignee` and `requester`), one per unchecked entry.
        let unchecked: usize = result.principals.iter().map(|p| p.unchecked.len()).sum();
        assert!(
            result.warnings.len() == unchecked
                && result
                    .warnings
                    .iter()
                    .all(|w| w.contains("could not be asked about")),
            "{}: {:?}",
            result.file,
            result.warnings
        );
    }
    assert!(run.passed());
    let kinds: BTreeSet<&str> = run
        .scenarios
        .iter()
        .flat_map(|s| &s.findings)
        .map(|f| f.kind.as_str())
        .collect();
    assert!(kinds.contains("delegation-ceiling"), "{kinds:?}");
    assert!(kinds.contains("expiry"), "{kinds:?}");
}

/// Every (action, resource) pair each principal held over the run.
fn held(result: &ScenarioResult) -> BTreeMap<&str, BTreeSet<(&str, &str)>> {
    result
        .principals
        .iter()
        .map(|p| {
            (
                p.principal.as_str(),
                p.held
                    .iter()
                    .map(|h| (h.action.as_str(), h.resource.as_str()))
                    .collect(),
            )
        })
        .collect()
}

fn allowed_steps(result: &ScenarioResult) -> BTreeSet<usize> {
    result
        .steps
        .iter()
        .filter(|s| s.decision == Decision::Allow)
        .map(|s| s.index)
        .collect()
}

#[test]
fn over_privileged_variants_allow_strictly_more() {
    from_workspace_root();
    // Pairs of least-privilege and over-privileged variants, at any depth
    // (`scenarios/shared-world/triage`); the planted escalations
    // (`scenarios/escalations`) are tested in `search.rs`.
    fn pairs(folder: &Path, found: &mut Vec<std::path::PathBuf>) {
        if folder.join("least-privilege.toml").is_file() {
            found.push(folder.to_path_buf());
        }
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pairs(&path, found);
            }
        }
    }
    let mut folders = Vec::new();
    pairs(Path::new("scenarios"), &mut folders);
    folders.sort();
    assert!(folders.len() >= 5, "{folders:?}");
    for folder in &folders {
        let least = evaluate(&folder.join("least-privilege.toml"));
        let over = evaluate(&folder.join("over-privileged.toml"));
        let name = folder.display();

        // The pair replays the same workflow; only the policies differ.
        let workflow = |r: &ScenarioResult| -> Vec<(Instant, String, String, String)> {
            r.steps
                .iter()
                .map(|s| {
                    (
                        s.time,
                        s.principal.clone(),
                        s.action.clone(),
                        s.resource.clone(),
                    )
                })
                .collect()
        };
        assert_eq!(
            workflow(&least),
            workflow(&over),
            "{name}: workflows differ"
        );
        assert_ne!(least.policy_files, over.policy_files, "{name}");

        // Every step least privilege allows, the over-privileged policy allows,
        // and at least one more.
        let (least_allowed, over_allowed) = (allowed_steps(&least), allowed_steps(&over));
        assert!(
            least_allowed.is_subset(&over_allowed) && least_allowed.len() < over_allowed.len(),
            "{name}: allowed steps {least_allowed:?} vs {over_allowed:?}"
        );

        // The same for what each principal held over the run.
        let (least_held, over_held) = (held(&least), held(&over));
        for (principal, pairs) in &least_held {
            let wider = over_held.get(principal).cloned().unwrap_or_default();
            assert!(
                pairs.is_subset(&wider),
                "{name}: {principal} holds {:?} only under least privilege",
                pairs.difference(&wider).collect::<Vec<_>>()
            );
        }
        let count = |h: &BTreeMap<&str, BTreeSet<(&str, &str)>>| -> usize {
            h.values().map(BTreeSet::len).sum()
        };
        assert!(
            count(&least_held) < count(&over_held),
            "{name}: held {} vs {}",
            count(&least_held),
            count(&over_held)
        );
        let gap = |r: &ScenarioResult| -> u64 {
            r.principals.iter().map(|p| p.metrics.weighted_gap).sum()
        };
        assert!(gap(&least) <= gap(&over), "{name}: weighted gap");

        // Least privilege is clean; the over-privileged variant is not better.
        assert!(
            least.findings.is_empty(),
            "{name}: least privilege has findings: {:?}",
            least.findings
        );
    }
}
