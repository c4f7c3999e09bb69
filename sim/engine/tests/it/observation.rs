//! Observation windows: `last_used`, idle times and unused-access findings
//! agree with a brute-force recomputation from the replay's step list and
//! held sets asked of Cedar pair by pair at every evaluated instant, on
//! generated scenarios, with windows drawn from each kind (the steps' own,
//! inside the run, past its end, too short). The hand-counted cases are
//! `sim/cli/tests/it/observation.rs` on `scenarios/stale-access`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::collections::{BTreeMap, BTreeSet};

use privsim::held::Engine;
use privsim::load::{self as scenario, Scenario, universe};
use privsim::result::{Decision, ScenarioResult};
use privsim::time::Instant;
use privsim_testkit::generate::{self, Spec};
use privsim_testkit::properties::load_generated;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::Value;

type Key = (String, String);

/// What the brute force expects of one principal.
#[derive(Debug, Default)]
struct Expected {
    pairs: BTreeMap<Key, (Option<Instant>, i64)>,
    actions: BTreeMap<String, (Option<Instant>, i64)>,
    principal: (Option<Instant>, i64),
}

/// The pairs `principal` holds at `at`: every pair of its universe Cedar
/// allows, one request at a time, with the context of any of its sessions
/// open at `at` (or alone, without sessions).
fn held_at(
    scenario: &Scenario,
    engine: &Engine<'_>,
    principal: &str,
    at: Instant,
) -> BTreeSet<Key> {
    let uid: cedar_policy::EntityUid = principal.parse().unwrap();
    let store = Engine::segment(scenario.world.segment_at(at));
    let sessions: Vec<_> = scenario
        .sessions
        .iter()
        .filter(|s| s.principal == uid)
        .collect();
    let mut contexts = Vec::new();
    if sessions.is_empty() {
        contexts.push(Value::Object(scenario::session_context(
            &scenario.facts,
            at,
            None,
            &uid,
            std::slice::from_ref(&uid),
        )));
    }
    for session in sessions {
        let open = session.from.is_none_or(|from| from <= at)
            && session.until.is_none_or(|until| at < until);
        if open {
            contexts.push(Value::Object(scenario::session_context(
                &scenario.facts,
                at,
                Some(session),
                &uid,
                &session.chain,
            )));
        }
    }
    let mut held = BTreeSet::new();
    for (action, resources) in universe::pairs(scenario, &uid) {
        let targets = engine.targets(action.clone(), resources.clone());
        for context in &contexts {
            let allowed = engine.allowed_brute_force(&uid, &targets, context, store);
            for (resource, _) in resources.iter().zip(allowed).filter(|(_, a)| *a) {
                held.insert((action.to_string(), resource.to_string()));
            }
        }
    }
    held
}

/// Last uses and idle times, the obvious way: last uses from the allowed
/// steps inside the window; idle time as the sum, over the evaluated
/// instants, of the span to the next instant that lies inside the window
/// after the last use, whenever the pair (action, anything) is held then.
fn brute_force(
    scenario: &Scenario,
    result: &ScenarioResult,
    counted_from: Instant,
    end: Instant,
) -> BTreeMap<String, Expected> {
    let engine = Engine::new(scenario);
    let instants: Vec<Instant> = result
        .accounting
        .as_ref()
        .unwrap()
        .evaluated_instants
        .clone();
    let mut expected = BTreeMap::new();
    for account in &result.principals {
        let p = &account.principal;
        let mut e = Expected::default();
        for step in &result.steps {
            let at = step.time;
            if &step.principal != p
                || step.decision != Decision::Allow
                || at < counted_from
                || at > end
            {
                continue;
            }
            let later = |slot: &mut Option<Instant>| *slot = Some(slot.map_or(at, |l| l.max(at)));
            later(
                &mut e
                    .pairs
                    .entry((step.action.clone(), step.resource.clone()))
                    .or_default()
                    .0,
            );
            later(&mut e.actions.entry(step.action.clone()).or_default().0);
            later(&mut e.principal.0);
        }
        let idle = |last: Option<Instant>, at: Instant, until: Instant| {
            let since = last.unwrap_or(counted_from).max(counted_from);
            (until.0.min(end.0) - at.0.max(since.0)).max(0)
        };
        for (i, &at) in instants.iter().enumerate() {
            let until = instants.get(i + 1).copied().unwrap_or(at);
            let held = held_at(scenario, &engine, p, at);
            let actions: BTreeSet<&String> = held.iter().map(|(a, _)| a).collect();
            for key in &held {
                let slot = e.pairs.entry(key.clone()).or_default();
                slot.1 += idle(slot.0, at, until);
            }
            for action in actions {
                let slot = e.actions.entry(action.clone()).or_default();
                slot.1 += idle(slot.0, at, until);
            }
            if !held.is_empty() {
                e.principal.1 += idle(e.principal.0, at, until);
            }
        }
        expected.insert(p.clone(), e);
    }
    expected
}

/// A generated world whose steps use pairs its principals hold (so last
/// uses fall inside and outside the window and before and after the JIT
/// grant), with a window and threshold drawn at random.
fn scenario_with_window(seed: u64) -> (Scenario, &'static str) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let spec = Spec {
        effects: false,
        ..Spec::small(!seed.is_multiple_of(3))
    };
    let mut world = generate::world(&spec, seed);
    let first = load_generated(&world, "observation-first");
    let result = privsim::evaluate(&first);
    let toml = &mut world.files[0].1;
    let cut = toml.find("\n[[step]]").unwrap_or(toml.len());
    toml.truncate(cut);
    let sessions: Vec<(String, String)> = first
        .sessions
        .iter()
        .map(|s| (s.id.clone(), s.principal.to_string()))
        .collect();
    for minute in 1..50 {
        if !rng.random_bool(0.4) {
            continue;
        }
        let (session, principal) = &sessions[rng.random_range(0..sessions.len())];
        let account = result.principals.iter().find(|a| &a.principal == principal);
        let Some(held) = account.map(|a| &a.held).filter(|h| !h.is_empty()) else {
            continue;
        };
        let pair = &held[rng.random_range(0..held.len())];
        toml.push_str(&format!(
            "\n[[step]]\nat = \"+{minute}m\"\nsession = \"{session}\"\naction = '{}'\nresource = '{}'\n",
            pair.action, pair.resource
        ));
    }
    let (keys, label) = match seed % 4 {
        0 => ("unused_after = \"10m\"\n", "default window"),
        1 => (
            "window_start = \"+12m\"\nwindow_end = \"+38m\"\nunused_after = \"8m\"\n",
            "inner window",
        ),
        2 => (
            "window_end = \"+1h30m\"\nunused_after = \"20m\"\n",
            "window past the run",
        ),
        _ => ("unused_after = \"2h\"\n", "window too short"),
    };
    let header = toml.find("\n[facts]").unwrap();
    toml.insert_str(header, &format!("\n{keys}"));
    (load_generated(&world, "observation"), label)
}

#[test]
fn last_used_and_idle_times_agree_with_brute_force_from_the_step_list() {
    let mut compared_pairs = 0;
    let mut used_pairs = 0;
    let mut findings = 0;
    let mut labels = BTreeSet::new();
    for seed in 0..4 {
        let (scenario, label) = scenario_with_window(seed);
        labels.insert(label);
        let result = privsim::evaluate(&scenario);
        let window = result.observation.as_ref().unwrap();
        let (start, end) = (window.start, window.end);
        let counted_from = start.max(scenario.start);
        let long_enough = end.0 - counted_from.0 >= window.unused_after_ms;
        assert_eq!(
            window.status.as_str(),
            if long_enough {
                "evaluated"
            } else {
                "window-too-short"
            },
            "seed {seed}"
        );
        let unused = |idle: i64| long_enough && idle >= window.unused_after_ms;
        let expected = brute_force(&scenario, &result, counted_from, end);
        for account in &result.principals {
            let e = &expected[&account.principal];
            let who = format!("seed {seed} ({label}), {}", account.principal);
            assert_eq!(account.last_used, e.principal.0, "{who}");
            assert_eq!(account.idle_ms, e.principal.1, "{who}");
            assert_eq!(account.unused_finding, unused(e.principal.1), "{who}");
            for pair in &account.held {
                let key = (pair.action.clone(), pair.resource.clone());
                let (last, idle) = e.pairs.get(&key).copied().unwrap_or_default();
                assert_eq!(pair.last_used, last, "{who} {key:?}");
                assert_eq!(pair.idle_ms, idle, "{who} {key:?}");
                assert_eq!(pair.unused_finding, unused(idle), "{who} {key:?}");
                compared_pairs += 1;
                used_pairs += usize::from(last.is_some());
                findings += usize::from(pair.unused_finding);
            }
            // Every action unused as a whole or with an unused pair is
            // listed, with the brute force's last use and idle time.
            let listed: BTreeMap<&str, _> = account
                .unused_access
                .iter()
                .map(|u| (u.action.as_str(), u))
                .collect();
            for (action, &(last, idle)) in &e.actions {
                let with_pairs: Vec<&String> = account
                    .held
                    .iter()
                    .filter(|p| &p.action == action && p.unused_finding)
                    .map(|p| &p.resource)
                    .collect();
                match listed.get(action.as_str()) {
                    Some(u) => {
                        assert_eq!(u.last_used, last, "{who} {action}");
                        assert_eq!(u.idle_ms, idle, "{who} {action}");
                        assert_eq!(u.whole_action, unused(idle), "{who} {action}");
                        assert_eq!(u.resources.iter().collect::<Vec<_>>(), with_pairs);
                    }
                    None => assert!(
                        !unused(idle) && with_pairs.is_empty(),
                        "{who}: {action} is not listed"
                    ),
                }
            }
        }
    }
    assert_eq!(labels.len(), 4, "every kind of window was drawn");
    assert!(
        compared_pairs > 200 && used_pairs > 20 && findings > 20,
        "the scenarios test little: {compared_pairs} pairs, {used_pairs} used, {findings} findings"
    );
}
