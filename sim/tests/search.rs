//! The escalation search on the planted escalations in `scenarios/escalations`:
//! each planted variant is found within a fixed budget and seed, by every
//! strategy; each fixed variant has no finding and exhaustive search proves it
//! to depth 4; repros replay, fail on the planted policy and pass on the fixed
//! one; traces are minimal; runs are deterministic; and a state's entity store
//! (cached, built incrementally) decides exactly like a world built from
//! scratch with the same grants.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::path::{Path, PathBuf};

use cedar_policy::{Authorizer, Decision};
use privsim::scenario::{self, LoadOptions, Scenario};
use privsim::search::{self, Move, Options, Strategy};
use privsim::state::Machine;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::Map;

use common::workspace_root;

/// The planted escalations and the invariant each breaks.
const PLANTED: [(&str, &[&str]); 4] = [
    ("self-assign-role", &["never"]),
    ("subagent-scope", &["attenuation"]),
    ("jit-forgetful", &["expiry"]),
    ("confused-deputy", &["delegation-ceiling"]),
];

fn folder(name: &str) -> PathBuf {
    workspace_root().join("scenarios/escalations").join(name)
}

fn load(path: &Path, options: &LoadOptions) -> Scenario {
    scenario::load(path, options).unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
}

fn options(strategy: Strategy, seed: u64) -> Options {
    Options {
        strategy,
        seed,
        max_steps: 5_000,
        depth: 4,
        ..Options::default()
    }
}

fn kinds(fuzzed: &privsim::Fuzzed) -> Vec<String> {
    fuzzed
        .result
        .findings
        .iter()
        .filter(|f| !f.trace.is_empty())
        .map(|f| f.kind.clone())
        .collect()
}

#[test]
fn planted_escalations_are_found_by_every_strategy() {
    for (name, expected) in PLANTED {
        let planted = load(&folder(name).join("planted.toml"), &LoadOptions::default());
        for strategy in [Strategy::Random, Strategy::Novelty, Strategy::Exhaustive] {
            let fuzzed = privsim::fuzz(&planted, &options(strategy, 7), &mut |_| {});
            let found = kinds(&fuzzed);
            for kind in expected {
                assert!(
                    found.iter().any(|k| k == kind),
                    "{name}, {}: no `{kind}` finding in {found:?}",
                    strategy.name()
                );
            }
        }
    }
}

#[test]
fn fixed_variants_are_clean_and_proven_to_depth_four() {
    for (name, _) in PLANTED {
        let fixed = load(&folder(name).join("fixed.toml"), &LoadOptions::default());
        let exhaustive = Options {
            max_steps: 200_000,
            ..options(Strategy::Exhaustive, 0)
        };
        let fuzzed = privsim::fuzz(&fixed, &exhaustive, &mut |_| {});
        assert!(
            fuzzed.result.findings.is_empty(),
            "{name}: {:#?}",
            fuzzed.result.findings
        );
        let summary = fuzzed.result.search.as_ref().unwrap();
        assert_eq!(summary.exhaustive_depth, Some(4), "{name}: {summary:?}");
        assert!(!summary.budget_exhausted, "{name}: {summary:?}");
        for strategy in [Strategy::Random, Strategy::Novelty] {
            let fuzzed = privsim::fuzz(&fixed, &options(strategy, 7), &mut |_| {});
            assert!(kinds(&fuzzed).is_empty(), "{name}: {:?}", kinds(&fuzzed));
        }
    }
}

/// The exhaustive proof is honest: a budget too small to finish proves nothing.
#[test]
fn a_budget_that_runs_out_proves_nothing() {
    let fixed = load(
        &folder("self-assign-role").join("fixed.toml"),
        &LoadOptions::default(),
    );
    let tiny = Options {
        max_steps: 10,
        ..options(Strategy::Exhaustive, 0)
    };
    let fuzzed = privsim::fuzz(&fixed, &tiny, &mut |_| {});
    let summary = fuzzed.result.search.unwrap();
    assert!(summary.budget_exhausted);
    assert_ne!(summary.exhaustive_depth, Some(4));
}

/// Copies a scenario folder into a fresh temporary folder.
fn copy_folder(from: &Path, name: &str) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
    let to = std::env::temp_dir().join(format!("privsim-search-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&to);
    copy(from, &to);
    to
}

#[test]
fn repros_fail_on_the_planted_policy_and_pass_on_the_fixed_one() {
    for (name, _) in PLANTED {
        let dir = copy_folder(&folder(name), name);
        let planted = load(&dir.join("planted.toml"), &LoadOptions::default());
        let fuzzed = privsim::fuzz(&planted, &options(Strategy::Novelty, 7), &mut |_| {});
        assert!(!fuzzed.repros.is_empty(), "{name}: no repro");
        for (path, text) in &fuzzed.repros {
            assert!(path.starts_with(&dir), "{name}: {} outside", path.display());
            std::fs::write(path, text).unwrap();
            let repro = load(path, &LoadOptions::default());
            let result = privsim::evaluate(&repro);
            let last = result.steps.last().unwrap();
            let expectation = last.expectation.as_ref().unwrap();
            assert!(
                !expectation.passed,
                "{name}: {} passes on the planted policy:\n{text}",
                path.display()
            );
            assert!(!result.passed);
            for step in &result.steps[..result.steps.len() - 1] {
                assert!(step.expectation.is_none(), "{name}: {text}");
                assert_ne!(step.decision, "error", "{name}: {step:?}\n{text}");
            }
            let fixed = LoadOptions {
                policies: Some(dir.join("policies/fixed.cedar")),
            };
            let guarded = privsim::evaluate(&load(path, &fixed));
            assert!(
                guarded.passed,
                "{name}: {} fails on the fixed policy:\n{text}\n{:#?}",
                path.display(),
                guarded.steps.last()
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    for (name, _) in PLANTED {
        let planted = load(&folder(name).join("planted.toml"), &LoadOptions::default());
        for strategy in [Strategy::Random, Strategy::Novelty] {
            let run = || {
                let fuzzed = privsim::fuzz(&planted, &options(strategy, 11), &mut |_| {});
                let repros: Vec<String> = fuzzed.repros.iter().map(|(_, t)| t.clone()).collect();
                (
                    privsim::report::json(&privsim::RunResult::new(vec![fuzzed.result])),
                    repros,
                )
            };
            assert_eq!(run(), run(), "{name} {}", strategy.name());
        }
    }
}

/// Every finding's trace is 1-minimal: dropping any move before the witness
/// loses the violation.
#[test]
fn traces_are_minimal() {
    for (name, _) in PLANTED {
        let planted = load(&folder(name).join("planted.toml"), &LoadOptions::default());
        let machine = Machine::new(&planted);
        let report = search::search(&machine, &options(Strategy::Random, 3), &mut |_| {});
        assert!(!report.findings.is_empty(), "{name}");
        for found in &report.findings {
            let key = found.violation.key();
            let reproduces = |trace: &[Move]| {
                let (prefix, last) = trace.split_at(trace.len() - 1);
                let check: &[Move] = if found.violation.kind == "delegation-ceiling" {
                    trace
                } else {
                    let _ = last;
                    prefix
                };
                search::violations_at_end(&machine, check)
                    .iter()
                    .any(|v| v.key() == key)
            };
            assert!(reproduces(&found.trace), "{name}: {found:?}");
            for drop in 0..found.trace.len() - 1 {
                let mut shorter = found.trace.clone();
                shorter.remove(drop);
                assert!(
                    !reproduces(&shorter),
                    "{name}: move {drop} of {:?} is not needed",
                    found.trace
                );
            }
        }
    }
}

/// A state's store (the grant-free store with active grants upserted, cached
/// by content) against the slow way: the whole world built from scratch with
/// the state's grants, asked about every pair of every running actor.
#[test]
fn state_stores_decide_like_worlds_built_from_scratch() {
    let authorizer = Authorizer::new();
    let mut compared = 0;
    for (name, _) in PLANTED {
        for variant in ["planted.toml", "fixed.toml"] {
            let loaded = load(&folder(name).join(variant), &LoadOptions::default());
            let machine = Machine::new(&loaded);
            let mover = search::Mover::new(&machine, Some(10 * 60_000));
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
            for _walk in 0..20 {
                let mut state = machine.initial();
                for _ in 0..12 {
                    let moves = mover.moves(&machine, &state);
                    let mv = &moves[rng.random_range(0..moves.len())];
                    search::execute(&machine, &mut state, mv);
                    let world = privsim::world::World::build(
                        loaded.world.base.clone(),
                        &state.grants,
                        loaded.schema.as_ref(),
                    )
                    .unwrap();
                    let slow = &world.segments[world.segment_at(state.time)].entities;
                    let snapshot = machine.snapshot(&state).unwrap();
                    for (actor, flags) in snapshot.allowed.iter().enumerate() {
                        if flags.is_empty() {
                            continue;
                        }
                        let context = machine.context(&state, actor, &Map::new());
                        for (pair, fast) in flags.iter().enumerate() {
                            let (action, resource) = &machine.pairs[actor][pair];
                            let principal = &machine.actors[actor].principal;
                            let brute = machine
                                .request(principal, action, resource, &context)
                                .is_ok_and(|request| {
                                    authorizer
                                        .is_authorized(&request, &loaded.policies.set, slow)
                                        .decision()
                                        == Decision::Allow
                                });
                            assert_eq!(
                                *fast, brute,
                                "{name}/{variant}: {principal} {action} {resource} at {}",
                                state.time
                            );
                            compared += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(compared > 10_000, "{compared}");
}
