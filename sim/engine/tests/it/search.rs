//! The escalation search on the planted escalations in `scenarios/escalations`:
//! each planted variant is found within a fixed budget and seed, by every
//! strategy; each fixed variant has no finding and exhaustive search proves it
//! to depth 4; repros replay, fail on the planted policy and pass on the fixed
//! one; traces are minimal; runs are deterministic; and a state's entity store
//! (cached, built incrementally) decides exactly like a world built from
//! scratch with the same grants. What the move set leaves out (clock moments
//! beyond the first few, context combinations beyond the cap, effects that
//! cannot apply) is a caveat of the summary, so a proof never claims more than
//! the moves tried; the planted escalations leave nothing out.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use privsim::result::FindingKind;
use std::path::{Path, PathBuf};

use cedar_policy::{Authorizer, Decision};
use privsim::load::{self as scenario, LoadOptions, Scenario};
use privsim::search::{self, Move, Options, Strategy};
use privsim::world::state::Machine;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::Map;

use crate::common::workspace_root;

/// The planted escalations and the invariant each breaks.
const PLANTED: [(&str, &[&str]); 5] = [
    ("self-assign-role", &["never"]),
    ("hidden-flag", &["never"]),
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

/// A report's findings, each the whole violation (its determining policies
/// too) and its trace.
fn whole_findings(report: &search::Report) -> Vec<String> {
    report
        .findings
        .iter()
        .map(|f| format!("{:?} {:?}", f.violation, f.trace))
        .collect()
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
        .map(|f| f.kind.to_string())
        .collect()
}

#[test]
fn planted_escalations_are_found_by_every_strategy() {
    for (name, expected) in PLANTED {
        let planted = load(&folder(name).join("planted.toml"), &LoadOptions::default());
        for strategy in [Strategy::Random, Strategy::Novelty, Strategy::Exhaustive] {
            let fuzzed = privsim::fuzz(&planted, &options(strategy, 7), &mut |_| {});
            let caveats = &fuzzed.result.search.as_ref().unwrap().caveats;
            assert!(caveats.is_empty(), "{name}: {caveats:#?}");
            // Every search finding names the policies that allow it.
            for finding in fuzzed
                .result
                .findings
                .iter()
                .filter(|f| !f.trace.is_empty())
            {
                assert!(
                    !finding.determining_policies.is_empty(),
                    "{name}: {finding:#?}"
                );
            }
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
        // Nothing was left out of the move set: the proof stands as stated.
        assert!(summary.caveats.is_empty(), "{name}: {summary:#?}");
        for strategy in [Strategy::Random, Strategy::Novelty] {
            let fuzzed = privsim::fuzz(&fixed, &options(strategy, 7), &mut |_| {});
            assert!(kinds(&fuzzed).is_empty(), "{name}: {:?}", kinds(&fuzzed));
            let caveats = &fuzzed.result.search.as_ref().unwrap().caveats;
            assert!(caveats.is_empty(), "{name}: {caveats:#?}");
        }
    }
}

/// Regression: a flag no scripted step sends (`hidden-flag`: break glass
/// on `context.emergency`, an `INC-` ticket and severity 3 or more) was never
/// tried, so the search missed the escalation behind it. With the values the
/// policies compare, every strategy finds it; without them, none does.
#[test]
fn a_context_flag_no_step_sends_is_still_tried() {
    let planted = load(
        &folder("hidden-flag").join("planted.toml"),
        &LoadOptions::default(),
    );
    for strategy in [Strategy::Random, Strategy::Novelty, Strategy::Exhaustive] {
        let unguided = Options {
            policy_contexts: false,
            ..options(strategy, 7)
        };
        let fuzzed = privsim::fuzz(&planted, &unguided, &mut |_| {});
        assert!(
            kinds(&fuzzed).is_empty(),
            "{strategy:?}: {:?}",
            kinds(&fuzzed)
        );
        let fuzzed = privsim::fuzz(&planted, &options(strategy, 7), &mut |_| {});
        let finding = fuzzed
            .result
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::Never && !f.trace.is_empty())
            .unwrap_or_else(|| panic!("{strategy:?}: {:#?}", fuzzed.result.findings));
        // The witness sends the three keys the policy compares.
        let context = finding.trace.last().and_then(|s| s.context.clone());
        let context = context.unwrap_or_default();
        assert_eq!(context["emergency"], true, "{strategy:?}: {context}");
        assert!(
            context["ticket"]
                .as_str()
                .is_some_and(|t| t.starts_with("INC-")),
            "{strategy:?}: {context}"
        );
        assert!(
            context["severity"].as_i64().is_some_and(|s| s >= 3),
            "{strategy:?}: {context}"
        );
    }
}

/// Several workers (`Options::jobs`): the result depends on the seed, the
/// budget and the number of jobs only (the same three give the same bytes),
/// every planted escalation is still found by every strategy, and each fixed
/// variant is still proven clean to depth 4 with each worker exploring its
/// share of the first moves.
#[test]
fn parallel_workers_are_deterministic_and_find_what_one_finds() {
    for (name, expected) in PLANTED {
        let planted = load(&folder(name).join("planted.toml"), &LoadOptions::default());
        for strategy in [Strategy::Random, Strategy::Novelty, Strategy::Exhaustive] {
            let jobs = Options {
                jobs: 3,
                ..options(strategy, 7)
            };
            let first = privsim::fuzz(&planted, &jobs, &mut |_| {});
            let second = privsim::fuzz(&planted, &jobs, &mut |_| {});
            let bytes = |f: &privsim::Fuzzed| serde_json::to_string(&f.result).unwrap();
            assert_eq!(bytes(&first), bytes(&second), "{name} {strategy:?}");
            assert_eq!(first.repros, second.repros, "{name} {strategy:?}");
            let summary = first.result.search.as_ref().unwrap();
            assert_eq!(summary.jobs, 3);
            assert!(summary.moves <= 5_000, "{summary:?}");
            let found = kinds(&first);
            for kind in expected {
                assert!(
                    found.iter().any(|k| k == kind),
                    "{name}, {strategy:?} with 3 jobs: no `{kind}` finding in {found:?}"
                );
            }
        }
        let fixed = load(&folder(name).join("fixed.toml"), &LoadOptions::default());
        let exhaustive = Options {
            max_steps: 200_000,
            jobs: 2,
            ..options(Strategy::Exhaustive, 0)
        };
        let fuzzed = privsim::fuzz(&fixed, &exhaustive, &mut |_| {});
        assert!(kinds(&fuzzed).is_empty(), "{name}: {:?}", kinds(&fuzzed));
        let summary = fuzzed.result.search.unwrap();
        assert_eq!(summary.exhaustive_depth, Some(4), "{name}: {summary:?}");
    }
}

/// A stop flag set from outside (SIGINT in `privsim fuzz`) ends the search
/// at once; the summary says it was interrupted and proves nothing.
#[test]
fn a_stopped_search_says_it_was_interrupted() {
    let fixed = load(
        &folder("self-assign-role").join("fixed.toml"),
        &LoadOptions::default(),
    );
    for jobs in [1, 2] {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let stopped = Options {
            jobs,
            stop: Some(stop),
            ..options(Strategy::Exhaustive, 0)
        };
        let summary = privsim::fuzz(&fixed, &stopped, &mut |_| {})
            .result
            .search
            .unwrap();
        assert!(
            summary.interrupted && summary.budget_exhausted,
            "{summary:?}"
        );
        assert_eq!(summary.exhaustive_depth, None, "{summary:?}");
        assert_eq!(summary.moves, 0, "{summary:?}");
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

/// Regression for the unbounded state table (issue 16.5): `max_states`
/// bounds the distinct states a search keeps. A search that reaches it stops
/// there, says so in a `states:` caveat, keeps no more states than the cap,
/// and claims no exhaustive depth it did not complete (with a cap of 2, less
/// than the 4 proven without it), on every fixed variant whose search
/// reaches more than 4 states.
#[test]
fn a_state_cap_stops_the_search_and_says_so() {
    let mut capped_somewhere = false;
    for (name, _) in PLANTED {
        let fixed = load(&folder(name).join("fixed.toml"), &LoadOptions::default());
        capped_somewhere |= state_cap(&fixed);
    }
    assert!(
        capped_somewhere,
        "no fixed variant reaches more than 4 states"
    );
}

/// [`a_state_cap_stops_the_search_and_says_so`] on one scenario; `false`
/// when its search reaches too few states to cap.
fn state_cap(fixed: &Scenario) -> bool {
    let full = Options {
        max_steps: 200_000,
        ..options(Strategy::Exhaustive, 0)
    };
    let uncapped = privsim::fuzz(fixed, &full, &mut |_| {})
        .result
        .search
        .unwrap();
    assert_eq!(uncapped.exhaustive_depth, Some(4), "{uncapped:?}");
    if uncapped.states <= 4 {
        return false;
    }
    let has_cap_caveat = |caveats: &[String]| caveats.iter().any(|c| c.starts_with("states:"));
    assert!(!has_cap_caveat(&uncapped.caveats), "{uncapped:?}");
    for strategy in [Strategy::Exhaustive, Strategy::Novelty, Strategy::Random] {
        for jobs in [1, 2] {
            let capped = Options {
                strategy,
                jobs,
                max_states: 2,
                ..full.clone()
            };
            let first = privsim::fuzz(fixed, &capped, &mut |_| {}).result;
            let summary = first.search.as_ref().unwrap();
            let what = format!("{strategy:?}, {jobs} jobs: {summary:#?}");
            assert!(has_cap_caveat(&summary.caveats), "{what}");
            assert!(summary.states <= 2, "{what}");
            assert!(summary.budget_exhausted, "{what}");
            // Only levels completed before the cap are claimed: fewer
            // than without it.
            assert!(
                summary.exhaustive_depth.is_none_or(|depth| depth < 4),
                "{what}"
            );
            assert!(summary.moves < uncapped.moves, "{what}");
            // Still deterministic.
            let second = privsim::fuzz(fixed, &capped, &mut |_| {}).result;
            assert_eq!(
                serde_json::to_string(&first).unwrap(),
                serde_json::to_string(&second).unwrap()
            );
        }
    }
    // A cap the search never reaches changes nothing.
    let roomy = Options {
        max_states: uncapped.states,
        ..full.clone()
    };
    let roomy = privsim::fuzz(fixed, &roomy, &mut |_| {})
        .result
        .search
        .unwrap();
    assert_eq!(roomy, uncapped);
    true
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
                assert_ne!(
                    step.decision,
                    privsim::result::Decision::Error,
                    "{name}: {step:?}\n{text}"
                );
            }
            let fixed = LoadOptions {
                policies: Some(dir.join("policies/fixed.cedar")),
                ..LoadOptions::default()
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
                    privsim_reports::json(&privsim::RunResult::new(vec![fuzzed.result])),
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
                // A violation of the request itself (a ceiling, a never rule
                // broken by the request) shows after the whole trace; a
                // state's, before its witness.
                let check: &[Move] = if found.violation.on_request {
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

// ---- what the move set leaves out ----

/// Searches an inline scenario; returns the result, as `privsim fuzz` has it.
fn fuzz_inline(
    test: &str,
    files: &[(&str, &str)],
    options: &Options,
) -> privsim::result::ScenarioResult {
    let loaded = crate::common::load(test, files);
    privsim::fuzz(&loaded, options, &mut |_| {}).result
}

/// Five grants of a role to one agent, an hour each with an hour between
/// them: ten moments the world changes at, pending from the start.
fn ten_moments() -> String {
    let mut scenario = String::from(
        r#"
[scenario]
name = "ten moments"
policies = ["p.cedar"]
start = "2026-06-01T09:00:00Z"

[[entity]]
uid = 'Agent::"bot"'

[[entity]]
uid = 'Role::"r"'

[[entity]]
uid = 'Doc::"d"'

[[session]]
id = "bot"
principal = 'Agent::"bot"'

[[step]]
at = "+1m"
session = "bot"
action = 'Action::"read"'
resource = 'Doc::"d"'
expect = "deny"
"#,
    );
    for hour in [1, 3, 5, 7, 9] {
        scenario.push_str(&format!(
            "\n[[grant]]\nprincipal = 'Agent::\"bot\"'\nparents = ['Role::\"r\"']\nfrom = \"+{hour}h\"\nuntil = \"+{}h\"\n",
            hour + 1
        ));
    }
    scenario
}

const ROLE_READS: &str =
    r#"@id("r-reads") permit (principal in Role::"r", action == Action::"read", resource);"#;

/// Only the earliest 4 pending moments are clock moves: a state at the 10th
/// is one jump away but 10 moves deep, so a proof to depth 2 says so.
#[test]
fn more_pending_clock_moments_than_tried_is_a_caveat() {
    let scenario = ten_moments();
    let files = [
        ("scenario.toml", scenario.as_str()),
        ("p.cedar", ROLE_READS),
    ];
    let exhaustive = Options {
        depth: 2,
        ..options(Strategy::Exhaustive, 0)
    };
    let result = fuzz_inline("clock-caveat", &files, &exhaustive);
    let summary = result.search.as_ref().unwrap();
    assert_eq!(summary.exhaustive_depth, Some(2), "{summary:#?}");
    assert_eq!(summary.caveats.len(), 1, "{summary:#?}");
    let caveat = &summary.caveats[0];
    for needle in [
        "clock moves: in ",
        " states more than 4 moments the world changes at were pending (the most, 10, at 2026-06-01T09:00:00Z), only the earliest 4 were tried from each; ",
        "raise --depth, or use --tick to move the clock in fixed steps",
    ] {
        assert!(caveat.contains(needle), "no `{needle}` in {caveat}");
    }
    // Every rendering says the proof is relative to the moves tried.
    let run = privsim::RunResult::new(vec![result.clone()]);
    let text = privsim_reports::text::render(&run);
    assert!(
        text.contains("no violation up to depth 2 (exhaustive over the moves tried, with the moves listed below left out)\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("  search caveat: {caveat}\n")),
        "{text}"
    );

    // The other strategies meet the same states.
    let novelty = fuzz_inline(
        "clock-caveat-novelty",
        &files,
        &options(Strategy::Novelty, 7),
    );
    let caveats = &novelty.search.as_ref().unwrap().caveats;
    assert!(caveats[0].starts_with("clock moves: "), "{caveats:#?}");
}

/// When the exhaustive search runs out of new states, every state was
/// reached (a far moment through the nearer ones), so the clock lost nothing.
#[test]
fn a_closed_exhaustive_search_has_no_clock_caveat() {
    let scenario = ten_moments();
    let files = [
        ("scenario.toml", scenario.as_str()),
        ("p.cedar", ROLE_READS),
    ];
    let deep = Options {
        depth: 12,
        max_steps: 200_000,
        ..options(Strategy::Exhaustive, 0)
    };
    let result = fuzz_inline("clock-closed", &files, &deep);
    let summary = result.search.as_ref().unwrap();
    assert_eq!(summary.exhaustive_depth, Some(12), "{summary:#?}");
    assert_eq!(
        summary.states, 11,
        "the start and ten moments: {summary:#?}"
    );
    assert!(summary.caveats.is_empty(), "{summary:#?}");
}

/// Nine agents times nine roles are 81 combinations of context values for
/// `assign`; only 64 are tried.
#[test]
fn more_context_combinations_than_tried_is_a_caveat() {
    let scenario = crate::common::eighty_one_combinations();
    let files = [
        ("scenario.toml", scenario.as_str()),
        ("p.cedar", crate::common::ADMIN_ASSIGNS),
    ];
    let exhaustive = Options {
        depth: 1,
        max_steps: 200_000,
        ..options(Strategy::Exhaustive, 0)
    };
    for (strategy, options) in [
        ("exhaustive", exhaustive),
        ("random", options(Strategy::Random, 7)),
    ] {
        let result = fuzz_inline(&format!("context-caveat-{strategy}"), &files, &options);
        let summary = result.search.as_ref().unwrap();
        assert_eq!(
            summary.caveats,
            [
                r#"context values: Action::"assign" was requested with 64 of its 81 combinations of context values (`assignee`: 9 values × `role`: 9 values); requests with the other 17 were never made"#
            ],
            "{strategy}"
        );
    }
}

/// Effects of allowed requests that cannot apply (no delegator), that would
/// make a world the schema rejects, or that need an entity the world does
/// not have are not silently states that never happen.
#[test]
fn effects_that_cannot_apply_are_caveats() {
    let scenario = r#"
[scenario]
name = "effects that cannot apply"
policies = ["p.cedar"]
schema = "s.cedarschema"
start = "2026-06-01T09:00:00Z"

[[entity]]
uid = 'User::"admin"'

[[entity]]
uid = 'Agent::"bot"'

[[entity]]
uid = 'Role::"r"'

# The schema gives `level` a Long: the world after this effect is invalid.
[[effect]]
action = 'Action::"raise"'
set_attr = { entity = "resource", name = "level", value = "high" }

# The admin acts alone: there is no delegator to change.
[[effect]]
action = 'Action::"hand"'
add_parent = { entity = "delegator", parent = 'Role::"r"' }

# The world has no Ghost to put under `assignee`.
[[effect]]
action = 'Action::"promote"'
add_parent = { entity = "context.assignee", parent = "resource" }

[[step]]
at = "+1m"
principal = 'User::"admin"'
action = 'Action::"promote"'
resource = 'Role::"r"'
context = { assignee = { __entity = { type = "Ghost", id = "g" } } }
"#;
    let schema = r#"
entity Role;
entity Ghost;
entity User;
entity Agent in [Role] { level?: Long };
action raise, hand appliesTo { principal: [User], resource: [Agent] };
action promote appliesTo { principal: [User], resource: [Role], context: { assignee?: Ghost } };
"#;
    let policies = r#"@id("admin-acts") permit (principal == User::"admin", action in [Action::"raise", Action::"hand", Action::"promote"], resource);"#;
    let files = [
        ("scenario.toml", scenario),
        ("s.cedarschema", schema),
        ("p.cedar", policies),
    ];
    let result = fuzz_inline("effect-caveats", &files, &options(Strategy::Exhaustive, 0));
    let summary = result.search.as_ref().unwrap();
    assert_eq!(summary.exhaustive_depth, Some(4), "{summary:#?}");
    let caveats: Vec<&str> = summary.caveats.iter().map(String::as_str).collect();
    assert_eq!(caveats.len(), 3, "{caveats:#?}");
    assert_eq!(
        caveats[0],
        r#"context values: 1 action was never requested, because an effect of the action reads an entity from a context key and the world has no entity to put there: Action::"promote" (no entity of type Ghost for context key `assignee`); neither the requests nor their effects were tried"#
    );
    assert_eq!(
        caveats[1],
        r#"effects not applied: effect 2 (line 23) of Action::"hand" could not apply on 1 allowed request (the request has no delegator); the search went on without its change, so the states it would have made were not explored"#
    );
    assert!(
        caveats[2].starts_with(
            r#"effects rejected: 1 allowed request had effects that would make the world invalid: Action::"raise" once (entity does not conform to the schema: "#
        ),
        "{}",
        caveats[2]
    );
    assert!(
        caveats[2].ends_with(
            "; each was treated as changing nothing, so the states past them were not explored"
        ),
        "{}",
        caveats[2]
    );
}

/// A policy's `datetime` literal is a clock moment in every form Cedar
/// accepts (a date alone, a `+hhmm` offset, milliseconds); one that cannot
/// be read is a caveat rather than a moment silently missing.
#[test]
fn policy_datetime_literals_are_clock_moments_in_every_cedar_form() {
    let scenario = r#"
[scenario]
name = "datetime literals"
policies = ["p.cedar"]
start = "2026-06-01T09:00:00Z"

[facts]
now = "now"

[[entity]]
uid = 'Agent::"bot"'

[[entity]]
uid = 'Doc::"d"'

[[step]]
at = "+1m"
principal = 'Agent::"bot"'
action = 'Action::"read"'
resource = 'Doc::"d"'
"#;
    let policies = r#"
@id("a") permit (principal, action, resource) when { context.now < datetime("2026-06-03") };
@id("b") permit (principal, action, resource) when { context.now < datetime("2026-06-01T12:00:00+0200") };
@id("c") permit (principal, action, resource) when { context.now < datetime("2026-06-01T11:00:00.500Z") };
@id("d") permit (principal, action, resource) when { context.now < datetime("2026-06-01T13:00:00-0130") };
@id("e") permit (principal, action, resource) when { context.now < datetime("sometime") };
"#;
    let loaded = crate::common::load(
        "datetime-moments",
        &[("scenario.toml", scenario), ("p.cedar", policies)],
    );
    let machine = Machine::new(&loaded);
    let moments: Vec<String> = machine
        .boundaries(&machine.initial())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        moments,
        [
            "2026-06-01T10:00:00Z",
            "2026-06-01T11:00:00.500Z",
            "2026-06-01T14:30:00Z",
            "2026-06-03T00:00:00Z",
        ]
    );
    let result = privsim::fuzz(&loaded, &options(Strategy::Exhaustive, 0), &mut |_| {}).result;
    assert_eq!(
        result.search.unwrap().caveats,
        [
            "clock moments: the policies' datetime literal `sometime` could not be read as a moment, so the clock was never moved there (if Cedar cannot read it either, the policy errs and nothing changes there); use --tick to move the clock in fixed steps"
        ]
    );
}

/// A `[[never]]` rule about a type covers every entity of that type in the
/// world, scripted or not: an idle agent holding the forbidden access is a
/// finding of replay and search. Past the cap, the rest is a caveat.
#[test]
fn never_type_patterns_cover_unscripted_entities() {
    let scenario = |agents: usize| {
        let mut text = String::from(
            r#"
[scenario]
name = "idle agents"
policies = ["p.cedar"]
schema = "s.cedarschema"
start = "2026-06-01T09:00:00Z"

[[entity]]
uid = 'Role::"admin"'

[[entity]]
uid = 'Repo::"api"'

[[entity]]
uid = 'Agent::"bot"'

[[session]]
id = "bot"
principal = 'Agent::"bot"'

[[step]]
at = "+1m"
session = "bot"
action = 'Action::"read"'
resource = 'Repo::"api"'
expect = "allow"

[[never]]
principal = 'Agent'
action = 'Action::"delete"'
reason = "no agent deletes a repository"
"#,
        );
        for n in 0..agents {
            text.push_str(&format!(
                "\n[[entity]]\nuid = 'Agent::\"idle-{n:02}\"'\nparents = ['Role::\"admin\"']\n"
            ));
        }
        text
    };
    let policies = r#"
@id("agents-read") permit (principal is Agent, action == Action::"read", resource);
@id("admins-delete") permit (principal in Role::"admin", action == Action::"delete", resource);
"#;
    let schema = r#"
entity Role;
entity Repo;
entity Agent in [Role];
action read, delete appliesTo { principal: [Agent], resource: [Repo] };
"#;
    let one = scenario(1);
    let files = [
        ("scenario.toml", one.as_str()),
        ("p.cedar", policies),
        ("s.cedarschema", schema),
    ];
    let replayed = crate::common::evaluate("never-type-replay", &files);
    let idle: Vec<&privsim::result::Finding> = replayed
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Never)
        .collect();
    assert_eq!(idle.len(), 1, "{:#?}", replayed.findings);
    assert_eq!(idle[0].principal, "Agent::\"idle-00\"");
    assert_eq!(idle[0].determining_policies, ["admins-delete"]);
    let searched = fuzz_inline(
        "never-type-search",
        &files,
        &options(Strategy::Exhaustive, 0),
    );
    assert!(
        searched
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::Never && f.principal == "Agent::\"idle-00\""),
        "{:#?}",
        searched.findings
    );
    assert!(searched.search.unwrap().caveats.is_empty());

    // 40 idle agents: 32 act, 8 are a caveat.
    let many = scenario(40);
    let files = [
        ("scenario.toml", many.as_str()),
        ("p.cedar", policies),
        ("s.cedarschema", schema),
    ];
    let searched = fuzz_inline("never-type-cap", &files, &options(Strategy::Random, 1));
    let caveats = searched.search.unwrap().caveats;
    assert_eq!(
        caveats,
        [
            "principals: a never rule's type pattern matched more entities than the 32 per rule that act in the search (line 28: 8 more); the others were never tried as actors"
        ]
    );
}

/// The delegation ceiling and attenuation ask another actor (a delegator,
/// a parent session) with the acting actor's context. The incremental
/// machine reads that actor's row instead only when its own context reads
/// alike to every policy (`Machine::held_allows_other`). Here the
/// delegator and the parent hold the pair with their own contexts but not
/// with the acting actor's (a policy reads the chain's facts), so reading
/// their rows anyway would miss both findings.
#[test]
fn other_actors_rows_answer_only_for_contexts_that_read_alike() {
    let scenario = crate::common::load(
        "rows-read-alike",
        &[
            (
                "scenario.toml",
                r#"
[scenario]
name = "rows read alike"
policies = ["p.cedar"]
entities = "entities.json"
start = "2026-06-01T09:00:00Z"

[facts]
now = "now"
root = "root"
delegator = "delegator"

[[session]]
id = "s0"
principal = 'Agent::"a0"'
on_behalf_of = 'User::"u0"'

[[session]]
id = "s1"
principal = 'Agent::"a1"'
parent = "s0"

[[step]]
at = "+1m"
session = "s0"
action = 'Action::"read"'
resource = 'Doc::"d0"'
"#,
            ),
            (
                "p.cedar",
                r#"
permit (principal == Agent::"a0", action == Action::"read", resource);
permit (principal == User::"u0", action == Action::"read", resource) when { !(context has root) };
permit (principal == Agent::"a1", action == Action::"write", resource);
permit (principal == Agent::"a0", action == Action::"write", resource) when { context.delegator is User };
"#,
            ),
            (
                "entities.json",
                r#"[
  {"uid": {"type": "Agent", "id": "a0"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Agent", "id": "a1"}, "attrs": {}, "parents": []},
  {"uid": {"type": "User", "id": "u0"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Doc", "id": "d0"}, "attrs": {}, "parents": []}
]"#,
            ),
        ],
    );
    let options = options(Strategy::Exhaustive, 3);
    let fast_machine = Machine::new(&scenario);
    let slow_machine = Machine::new(&scenario).brute_force();
    let fast = search::search(&fast_machine, &options, &mut |_| {});
    let slow = search::search(&slow_machine, &options, &mut |_| {});
    assert_eq!(whole_findings(&fast), whole_findings(&slow));
    let kinds: Vec<FindingKind> = fast.findings.iter().map(|f| f.violation.kind).collect();
    assert!(
        kinds.contains(&FindingKind::DelegationCeiling)
            && kinds.contains(&FindingKind::Attenuation),
        "{kinds:?}"
    );
}

/// States computed incrementally search and replay exactly as brute-force
/// snapshots do: every strategy finds the same findings with the same
/// (minimized) traces and the same summary, and replay gives the same result
/// byte for byte, on the planted escalations, their fixes and generated
/// worlds with effects of every kind (with a schema, without, and with
/// policies from Cedar's whole grammar). The incremental machine answers
/// requests made with the actor's own context from the state's held sets
/// (`Machine::held_answer`); the brute-force one asks Cedar every time.
#[test]
fn incremental_states_search_and_replay_like_brute_force() {
    use privsim_testkit::generate::{self, Spec};
    let mut scenarios = Vec::new();
    for (name, _) in PLANTED {
        for variant in ["planted.toml", "fixed.toml"] {
            scenarios.push(load(&folder(name).join(variant), &LoadOptions::default()));
        }
    }
    for (seed, (schema, grammar)) in [(true, false), (false, false), (false, true)]
        .into_iter()
        .enumerate()
    {
        let spec = Spec {
            agents: 4,
            users: 3,
            docs: 12,
            fanout: 2,
            depth: 2,
            policies: 30,
            schema,
            workflow: true,
            grammar,
            effects: true,
        };
        let world = generate::world(&spec, 100 + seed as u64);
        scenarios.push(privsim_testkit::properties::load_generated(
            &world,
            "incremental-search",
        ));
        if !schema {
            // The same world with contexts that no session sets and no
            // fact fills but the clock: a session's context then reads as
            // its delegator's and its parent's own, so the ceiling and
            // attenuation read those actors' rows instead of asking Cedar
            // (`Machine::held_allows_other`), a path compared too.
            let mut alike = world.clone();
            for (file, text) in &mut alike.files {
                if file == "scenario.toml" {
                    *text = text
                        .lines()
                        .filter(|line| {
                            *line != "root = \"delegator\"" && !line.starts_with("context = { mfa")
                        })
                        .map(|line| format!("{line}\n"))
                        .collect();
                }
            }
            scenarios.push(privsim_testkit::properties::load_generated(
                &alike,
                "incremental-search-alike",
            ));
        }
    }
    let (mut found, mut partial_rows, mut contexts_reused) = (0, 0, 0);
    let mut unasked = [0; 6];
    for scenario in &scenarios {
        let fast = serde_json::to_string(&privsim::replay::replay(scenario)).unwrap();
        let slow = serde_json::to_string(&privsim::replay::replay_brute_force(scenario)).unwrap();
        assert_eq!(fast, slow, "replay of {}", scenario.name);
        for strategy in [Strategy::Random, Strategy::Novelty, Strategy::Exhaustive] {
            let options = Options {
                max_steps: 250,
                ..options(strategy, 5)
            };
            let fast_machine = Machine::new(scenario);
            let slow_machine = Machine::new(scenario).brute_force();
            let fast = search::search(&fast_machine, &options, &mut |_| {});
            let slow = search::search(&slow_machine, &options, &mut |_| {});
            assert_eq!(
                whole_findings(&fast),
                whole_findings(&slow),
                "{} {strategy:?}",
                scenario.name
            );
            assert_eq!(fast.summary, slow.summary, "{} {strategy:?}", scenario.name);
            // Search coverage: the policies brute force saw decide, no
            // fewer (rows kept whole or in part note their pairs' deciding
            // policies) and no more.
            assert_eq!(
                fast_machine.decided(),
                slow_machine.decided(),
                "{} {strategy:?}: policies seen deciding",
                scenario.name
            );
            assert_eq!(fast.decided, slow.decided, "{} {strategy:?}", scenario.name);
            found += fast.findings.len();
            partial_rows += fast_machine.partial_rows.get();
            contexts_reused += fast_machine.contexts_reused();
            for (total, count) in unasked.iter_mut().zip(fast_machine.unasked.get()) {
                *total += count;
            }
            assert_eq!(slow_machine.unasked.get(), [0; 6]);
        }
    }
    assert!(found > 0, "no search found anything to compare");
    // Some changed states kept part of a row the change reaches (no policy
    // the change touches applies there): that path is compared too.
    assert!(partial_rows > 0, "no row was recomputed only in part");
    // Rows asked with a context the engine had already read: that path is
    // compared too.
    assert!(contexts_reused > 0, "no context was read only once");
    // Requests answered from held sets, denied and allowed, and allowed
    // ones with a violation to report (its determining policies then asked
    // of Cedar), and requests no policy's scope admits: those paths are
    // compared too.
    assert!(
        unasked.iter().all(|&count| count > 0),
        "answered without Cedar (held: denied, allowed, with a violation; admitted by no scope; a delegator allowed, for the ceiling; a parent, for attenuation): {unasked:?}"
    );
}

// ---- weighted moves ----

/// An agent with 300 documents to read or remove (600 requests that change
/// nothing) and three roles to climb, each open only to the previous one's
/// members: removing is allowed three world changes deep.
fn idle_requests_and_a_climb() -> (String, String, String) {
    let mut scenario = String::from(
        r#"
[scenario]
name = "idle requests and a climb"
policies = ["p.cedar"]
schema = "s.cedarschema"
start = "2026-06-01T09:00:00Z"

[[entity]]
uid = 'Agent::"bot"'

[[session]]
id = "bot"
principal = 'Agent::"bot"'

[[effect]]
action = 'Action::"climb"'
add_parent = { entity = "principal", parent = "resource" }

[[never]]
principal = 'Agent'
action = 'Action::"remove"'
reason = "no agent removes a document"

[[step]]
at = "+1m"
session = "bot"
action = 'Action::"read"'
resource = 'Doc::"d0"'
expect = "allow"
"#,
    );
    for role in ["r1", "r2", "r3"] {
        scenario.push_str(&format!("\n[[entity]]\nuid = 'Role::\"{role}\"'\n"));
    }
    for doc in 0..300 {
        scenario.push_str(&format!("\n[[entity]]\nuid = 'Doc::\"d{doc}\"'\n"));
    }
    let schema = r#"
entity Role;
entity Doc;
entity Agent in [Role];
action read, remove appliesTo { principal: [Agent], resource: [Doc] };
action climb appliesTo { principal: [Agent], resource: [Role] };
"#
    .to_string();
    let policies = r#"
@id("reads") permit (principal, action == Action::"read", resource);
@id("climb-1") permit (principal, action == Action::"climb", resource == Role::"r1");
@id("climb-2") permit (principal in Role::"r1", action == Action::"climb", resource == Role::"r2");
@id("climb-3") permit (principal in Role::"r2", action == Action::"climb", resource == Role::"r3");
@id("top-removes") permit (principal in Role::"r3", action == Action::"remove", resource);
"#
    .to_string();
    (scenario, schema, policies)
}

/// Weighted moves spend the budget where the world can change: with 603
/// moves a state of which 3 climb, novelty and random find the 3-change
/// climb within 400 moves for every seed tried, and novelty with every move
/// equally likely does not for the same seeds (each climb is 1 move in 603). Exhaustive
/// search does not choose, so weighting does not change what it finds.
#[test]
fn weighted_moves_find_a_chain_that_idle_requests_hide() {
    let (scenario, schema, policies) = idle_requests_and_a_climb();
    let files = [
        ("scenario.toml", scenario.as_str()),
        ("s.cedarschema", schema.as_str()),
        ("p.cedar", policies.as_str()),
    ];
    let loaded = crate::common::load("weighted-climb", &files);
    let never = |fuzzed: &privsim::Fuzzed| {
        let kinds = kinds(fuzzed);
        assert!(kinds.iter().all(|k| k == "never"), "{kinds:?}");
        kinds.len()
    };
    for strategy in [Strategy::Novelty, Strategy::Random] {
        for seed in 0..4 {
            let weighted = Options {
                max_steps: 400,
                depth: 4,
                ..options(strategy, seed)
            };
            let found = privsim::fuzz(&loaded, &weighted, &mut |_| {});
            assert!(
                never(&found) > 0,
                "{strategy:?} seed {seed}: weighted moves did not find the climb: {:#?}",
                found.result.search
            );
            // Uniform random walks, seed 2, did reach it once within 400
            // moves (not yet explained): the comparison is novelty's.
            if strategy != Strategy::Novelty {
                continue;
            }
            let uniform = Options {
                weighted: false,
                ..weighted
            };
            let missed = privsim::fuzz(&loaded, &uniform, &mut |_| {});
            assert_eq!(
                never(&missed),
                0,
                "{strategy:?} seed {seed}: uniform moves found the climb within 400 moves"
            );
        }
    }
}

// ---- novelty over world facts, focused moves ----

/// A role manager, ten agents, four users (two in the release team), 60
/// documents to read (requests that change nothing) and a chain four world
/// changes deep: the manager makes an agent on-call, an on-call agent
/// raises an agent's tier to 3, a release user approves that agent as a
/// deployer (only for tier 3), the deployer makes another agent admin, who
/// may remove documents. The tier and the deployer role change no held set
/// (both are read only through a request's context), so a novelty search
/// that keeps only states with new held sets does not keep those states.
/// With `fixed`, no one is on-call-able and the chain is broken.
fn hidden_chain(fixed: bool) -> (String, String, String) {
    hidden_chain_among(10, fixed)
}

/// [`hidden_chain`] with `agents` agents (at least 10), each able to ask for
/// every role for every agent: the world-changing requests grow as
/// `agents`², the ones the policies allow (the manager's) as `agents`.
fn hidden_chain_among(agents: usize, fixed: bool) -> (String, String, String) {
    let mut scenario = String::from(
        r#"
[scenario]
name = "a chain behind context-only changes"
policies = ["p.cedar"]
schema = "s.cedarschema"
start = "2026-06-01T09:00:00Z"

[[entity]]
uid = 'Team::"release"'

[[effect]]
action = 'Action::"assign"'
add_parent = { entity = "context.assignee", parent = "resource" }

[[effect]]
action = 'Action::"raise"'
set_attr = { entity = "resource", name = "tier", value = 3 }

[[effect]]
action = 'Action::"approve"'
add_parent = { entity = "context.requester", parent = "resource" }

[[never]]
principal = 'Agent'
action = 'Action::"remove"'
reason = "no agent removes a document"

[[step]]
at = "+1m"
session = "s0"
action = 'Action::"assign"'
resource = 'Role::"reader"'
context = { assignee = { __entity = { type = "Agent", id = "a9" } } }
"#,
    );
    for role in [
        "manager", "on-call", "deployer", "admin", "reader", "writer",
    ] {
        scenario.push_str(&format!("\n[[entity]]\nuid = 'Role::\"{role}\"'\n"));
    }
    for agent in 0..agents {
        let parents = if agent == 0 {
            "['Role::\"manager\"']"
        } else {
            "[]"
        };
        scenario.push_str(&format!(
            "\n[[entity]]\nuid = 'Agent::\"a{agent}\"'\nattrs = {{ tier = 1 }}\nparents = {parents}\n\n[[session]]\nid = \"s{agent}\"\nprincipal = 'Agent::\"a{agent}\"'\n"
        ));
    }
    for user in 0..4 {
        let parents = if user < 2 {
            "['Team::\"release\"']"
        } else {
            "[]"
        };
        scenario.push_str(&format!(
            "\n[[entity]]\nuid = 'User::\"u{user}\"'\nparents = {parents}\n\n[[step]]\nat = \"+{}m\"\nprincipal = 'User::\"u{user}\"'\naction = 'Action::\"approve\"'\nresource = 'Role::\"deployer\"'\ncontext = {{ requester = {{ __entity = {{ type = \"Agent\", id = \"a9\" }} }} }}\nexpect = \"deny\"\n",
            user + 2
        ));
    }
    for doc in 0..60 {
        scenario.push_str(&format!("\n[[entity]]\nuid = 'Doc::\"d{doc}\"'\n"));
    }
    let schema = r#"
entity Role;
entity Team;
entity User in [Team];
entity Doc;
entity Agent in [Role] { tier: Long };
action read, remove appliesTo { principal: [Agent], resource: [Doc] };
action assign appliesTo { principal: [Agent], resource: [Role], context: { assignee: Agent } };
action raise appliesTo { principal: [Agent], resource: [Agent] };
action approve appliesTo { principal: [User], resource: [Role], context: { requester: Agent } };
"#
    .to_string();
    let on_call = if fixed { "nobody" } else { "on-call" };
    let policies = format!(
        r#"
@id("reads") permit (principal, action == Action::"read", resource);
@id("manager-assigns") permit (principal in Role::"manager", action == Action::"assign", resource)
  when {{ context.assignee != principal && (resource == Role::"{on_call}" || resource == Role::"reader" || resource == Role::"writer") }};
@id("on-call-raises") permit (principal in Role::"on-call", action == Action::"raise", resource);
@id("release-approves") permit (principal in Team::"release", action == Action::"approve", resource == Role::"deployer")
  when {{ context.requester.tier >= 3 }};
@id("deployers-assign-admin") permit (principal in Role::"deployer", action == Action::"assign", resource == Role::"admin")
  when {{ context.assignee != principal }};
@id("admins-remove") permit (principal in Role::"admin", action == Action::"remove", resource);
"#
    );
    (scenario, schema, policies)
}

/// Novelty keeps states that make a new world fact true and, from a pooled
/// state, favours the world-changing requests its last change may have
/// enabled (`docs/search.md`): it finds the four-change chain of
/// [`hidden_chain`] within the budget for every seed tried, and nothing in
/// the fixed variant.
#[test]
fn novelty_finds_a_chain_behind_context_only_changes() {
    finds_the_hidden_chain(Strategy::Novelty, "hidden-chain");
}

/// A random walk favours the world-changing requests its last change of an
/// entity may have enabled (its focus, `docs/search.md`), and keeps no
/// pool: it finds the four-change chain of [`hidden_chain`] within the
/// budget for every seed tried, and nothing in the fixed variant.
#[test]
fn random_walks_find_a_chain_behind_context_only_changes() {
    finds_the_hidden_chain(Strategy::Random, "hidden-chain-random");
}

/// Issue 16.5 item 5.3: a random walk draws its world-changing moves first
/// among the requests some permit's scope admits in its state
/// (`Options::in_scope`, `docs/search.md`). In [`hidden_chain_among`] with 40
/// agents, 12,160 world-changing requests of which the manager's 117
/// assignments are allowed at first, random walks find the four-change
/// chain within the budget for every seed tried, and nothing in the fixed
/// variant; drawing uniformly among all effect requests (the old weighting,
/// `in_scope` off) finds it for fewer of these seeds (seed 0 does not).
#[test]
fn random_walks_find_a_chain_behind_many_denied_requests() {
    for fixed in [false, true] {
        let (scenario, schema, policies) = hidden_chain_among(40, fixed);
        let files = [
            ("scenario.toml", scenario.as_str()),
            ("s.cedarschema", schema.as_str()),
            ("p.cedar", policies.as_str()),
        ];
        let name = if fixed {
            "many-denied-fixed"
        } else {
            "many-denied"
        };
        let loaded = crate::common::load(name, &files);
        // Seeds whose walks found the chain, with and without scope.
        let mut found_by = [Vec::new(), Vec::new()];
        for seed in 0..4 {
            for in_scope in [true, false] {
                if fixed && !in_scope {
                    continue;
                }
                let options = Options {
                    max_steps: MANY_DENIED_BUDGET,
                    depth: 6,
                    minimize: false,
                    in_scope,
                    ..options(Strategy::Random, seed)
                };
                let found = privsim::fuzz(&loaded, &options, &mut |_| {});
                let kinds = kinds(&found);
                let what = format!("seed {seed}, in_scope {in_scope}: {kinds:?}");
                let never = kinds.iter().any(|k| k == "never");
                assert!(!(fixed && never), "{what}");
                if never {
                    found_by[usize::from(!in_scope)].push(seed);
                }
            }
        }
        if !fixed {
            assert_eq!(found_by[0], [0, 1, 2, 3], "in scope: {found_by:?}");
            assert!(
                found_by[1].len() < found_by[0].len(),
                "the old weighting found it as often: {found_by:?}"
            );
        }
    }
}

/// The move budget of [`random_walks_find_a_chain_behind_many_denied_requests`].
const MANY_DENIED_BUDGET: u64 = 3_000;

/// Regression for novelty's unbounded pool memory (issue 16.5): with
/// `focus_memory` too small to keep any state's focus, every pooled state
/// drops its own and it is computed again whenever the state is picked, and
/// the search makes exactly the same moves: the same findings, traces,
/// states and summary as with every focus kept, for one and two jobs.
#[test]
fn novelty_with_its_foci_dropped_searches_exactly_as_with_them_kept() {
    let (scenario, schema, policies) = hidden_chain(false);
    let files = [
        ("scenario.toml", scenario.as_str()),
        ("s.cedarschema", schema.as_str()),
        ("p.cedar", policies.as_str()),
    ];
    let loaded = crate::common::load("focus-budget", &files);
    for jobs in [1, 2] {
        for seed in 0..2 {
            let kept = Options {
                max_steps: 3_000,
                depth: 6,
                minimize: false,
                jobs,
                ..options(Strategy::Novelty, seed)
            };
            let dropped = Options {
                focus_memory: 0,
                ..kept.clone()
            };
            let machine = Machine::new(&loaded);
            let with = search::search_jobs(&machine, &kept, &mut |_| {});
            let machine = Machine::new(&loaded);
            let without = search::search_jobs(&machine, &dropped, &mut |_| {});
            let what = format!("jobs {jobs}, seed {seed}");
            assert_eq!(with.focus.recomputed, 0, "{what}");
            assert!(with.focus.pooled > 0 && with.focus.bytes > 0, "{what}");
            assert_eq!(with.focus.peak_kept, with.focus.bytes, "{what}");
            assert!(without.focus.recomputed > 0, "{what}");
            // Each focus is dropped as soon as it joins (the peaks are
            // summed over the workers).
            assert!(
                without.focus.peak_kept <= jobs as u64 * with.focus.largest,
                "{what}"
            );
            assert!(with.focus.peak_kept > with.focus.largest, "{what}");
            assert_eq!(with.summary, without.summary, "{what}");
            let traces = |report: &search::Report| {
                report
                    .findings
                    .iter()
                    .map(|f| (f.violation.message.clone(), f.trace.clone()))
                    .collect::<Vec<_>>()
            };
            assert!(!with.findings.is_empty(), "{what}");
            assert_eq!(traces(&with), traces(&without), "{what}");
        }
    }
}

/// `strategy` finds the chain of [`hidden_chain`] in 3,000 moves for seeds 0
/// to 3, and nothing in its fixed variant.
fn finds_the_hidden_chain(strategy: Strategy, name: &str) {
    for fixed in [false, true] {
        let (scenario, schema, policies) = hidden_chain(fixed);
        let files = [
            ("scenario.toml", scenario.as_str()),
            ("s.cedarschema", schema.as_str()),
            ("p.cedar", policies.as_str()),
        ];
        let folder = if fixed {
            format!("{name}-fixed")
        } else {
            name.to_string()
        };
        let loaded = crate::common::load(&folder, &files);
        for seed in 0..4 {
            let options = Options {
                max_steps: 3_000,
                depth: 6,
                ..options(strategy, seed)
            };
            let found = privsim::fuzz(&loaded, &options, &mut |_| {});
            let kinds = kinds(&found);
            if fixed {
                assert!(kinds.is_empty(), "{strategy:?}, seed {seed}: {kinds:?}");
            } else {
                assert!(
                    kinds.iter().any(|k| k == "never"),
                    "seed {seed}: {strategy:?} did not find the chain: {:#?}",
                    found.result.search
                );
            }
        }
    }
}

/// A machine checks a request against the schema once per shape (action,
/// context, principal type, resource type) and builds later requests of
/// that shape without the check (`docs/search.md`). Whatever the schema
/// rejects is still rejected with Cedar's own message, as when every
/// request is checked: another context for the same action, another
/// principal or resource type with an accepted context, and, in a schema
/// with an enumerated type (which Cedar checks by id), another id.
#[test]
fn requests_of_an_accepted_shape_are_still_checked_by_the_schema() {
    let scenario = r#"
[scenario]
name = "requests checked once per shape"
policies = ["p.cedar"]
schema = "s.cedarschema"
start = "2026-06-01T09:00:00Z"

[[entity]]
uid = 'Agent::"bot"'

[[entity]]
uid = 'User::"alice"'

[[entity]]
uid = 'Doc::"d1"'

[[entity]]
uid = 'Doc::"d2"'

[[entity]]
uid = 'Folder::"f"'
"#;
    let plain = r#"
entity Agent, User, Folder;
entity Doc in [Folder];
action read appliesTo { principal: [Agent], resource: [Doc], context: { flag: Bool } };
"#;
    let enumerated = format!(
        "{plain}\nentity Color enum [\"red\", \"blue\"];\naction paint appliesTo {{ principal: [Agent], resource: [Color], context: {{ flag: Bool }} }};\n"
    );
    let policies = r#"@id("reads") permit (principal, action, resource) when { context.flag };"#;
    let uid = |text: &str| text.parse::<cedar_policy::EntityUid>().unwrap();
    let (bot, alice) = (uid(r#"Agent::"bot""#), uid(r#"User::"alice""#));
    let (read, paint) = (uid(r#"Action::"read""#), uid(r#"Action::"paint""#));
    let (d1, d2, folder) = (
        uid(r#"Doc::"d1""#),
        uid(r#"Doc::"d2""#),
        uid(r#"Folder::"f""#),
    );
    let (red, blue, green) = (
        uid(r#"Color::"red""#),
        uid(r#"Color::"blue""#),
        uid(r#"Color::"green""#),
    );
    let flag = serde_json::json!({ "flag": true });
    let wrong = serde_json::json!({ "flag": 1 });
    // Asks each request twice (the second time of an accepted shape) of a
    // machine and of `build_request`, which checks every request; returns
    // the resources of the requests rejected.
    let rejected = |test: &str,
                    schema: &str,
                    asked: &[(
        &cedar_policy::EntityUid,
        &cedar_policy::EntityUid,
        &cedar_policy::EntityUid,
        &serde_json::Value,
    )]| {
        let loaded = crate::common::load(
            test,
            &[
                ("scenario.toml", scenario),
                ("s.cedarschema", schema),
                ("p.cedar", policies),
            ],
        );
        let machine = Machine::new(&loaded);
        let mut rejected = Vec::new();
        for round in 0..2 {
            for &(principal, action, resource, context) in asked {
                let fast = machine.request(principal, action, resource, context);
                let checked = privsim::load::build_request(
                    principal,
                    action,
                    resource,
                    context,
                    loaded.schema.as_ref(),
                );
                assert_eq!(
                    fast.as_ref().map(|r| format!("{r:?}")),
                    checked.as_ref().map(|r| format!("{r:?}")),
                    "round {round}: {principal} {action} {resource} {context}"
                );
                if fast.is_err() && round == 1 {
                    rejected.push(resource.to_string());
                }
            }
        }
        rejected
    };
    let asked = [
        (&bot, &read, &d1, &flag),
        (&bot, &read, &d2, &flag),
        (&bot, &read, &d2, &wrong),
        (&alice, &read, &d1, &flag),
        (&bot, &read, &folder, &flag),
    ];
    assert_eq!(
        rejected("shape-checks", plain, &asked),
        [r#"Doc::"d2""#, r#"Doc::"d1""#, r#"Folder::"f""#]
    );
    let painted = [
        (&bot, &paint, &red, &flag),
        (&bot, &paint, &blue, &flag),
        (&bot, &paint, &green, &flag),
    ];
    assert_eq!(
        rejected("shape-checks-enum", &enumerated, &painted),
        [r#"Color::"green""#]
    );
}
