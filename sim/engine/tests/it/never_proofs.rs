//! `[[never]]` rules proven (`privsim::prove::rules`) against exhaustive
//! enumeration on generated worlds small enough to enumerate: a rule proven
//! impossible matches no request Cedar allows in the world (any principal,
//! action and resource of it, with every context tried), and a rule with
//! such a request is never proven; every refutation's counterexample is
//! allowed by Cedar and matched by the rule. Needs cvc5.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use privsim::result::NeverVerdict;
use std::str::FromStr;

use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, Request};
use privsim::load::rules::{NeverRule, Pattern};
use privsim::prove::rules::{Proving, never_permit, never_verdicts};
use privsim::prove::{Prover, SolverConfig};
use privsim_testkit::generate::{self, ACTIONS, Spec};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use crate::common::*;

fn uid(text: &str) -> EntityUid {
    EntityUid::from_str(text).unwrap()
}

fn prover() -> Prover {
    Prover::new(SolverConfig {
        per_query_ms: 20_000,
        parallelism: 2,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("these tests need the cvc5 solver: run `apt-get install -y cvc5`, or set $CVC5 to its path: {e}"))
}

/// A random rule over the world's types, entities and actions.
fn rule(rng: &mut Xoshiro256PlusPlus, index: usize, agents: usize, docs: usize) -> NeverRule {
    let principal = match rng.random_range(0..4) {
        0 => Pattern::Any,
        1 => Pattern::Type("Agent".into()),
        2 => Pattern::Type("User".into()),
        _ => Pattern::Entity(uid(&format!("Agent::\"a{}\"", rng.random_range(0..agents)))),
    };
    let action = (rng.random_range(0..4) > 0).then(|| {
        uid(&format!(
            "Action::\"{}\"",
            ACTIONS[rng.random_range(0..ACTIONS.len())]
        ))
    });
    let resource = match rng.random_range(0..4) {
        0 => Pattern::Any,
        1 => Pattern::Type("Doc".into()),
        2 => Pattern::Type("Folder".into()),
        _ => Pattern::Entity(uid(&format!("Doc::\"d{}\"", rng.random_range(0..docs)))),
    };
    let resource = if principal == Pattern::Any && action.is_none() && resource == Pattern::Any {
        Pattern::Type("Doc".into())
    } else {
        resource
    };
    NeverRule {
        index,
        line: 100 + index,
        principal,
        action,
        resource,
        reason: None,
    }
}

/// The contexts tried per request: the schema's `Ctx` with and without MFA,
/// with and without a delegator.
fn contexts() -> Vec<Context> {
    let mut out = Vec::new();
    for mfa in [true, false] {
        for delegator in [false, true] {
            let mut json = serde_json::json!({
                "now": { "__extn": { "fn": "datetime", "arg": "2026-06-01T09:00:00Z" } },
                "mfa": mfa,
            });
            if delegator {
                json["delegator"] =
                    serde_json::json!({ "__entity": { "type": "User", "id": "u0" } });
            }
            out.push(Context::from_json_value(json, None).unwrap());
        }
    }
    out
}

/// A request of the world that Cedar allows and the rule matches, if any.
fn allowed_match(
    scenario: &privsim::Scenario,
    entities: &Entities,
    rule: &NeverRule,
) -> Option<String> {
    let schema = scenario.schema.as_ref().unwrap();
    let uids: Vec<EntityUid> = scenario.world.base.keys().map(|k| uid(k)).collect();
    let authorizer = Authorizer::new();
    let contexts = contexts();
    for principal in uids.iter().filter(|u| rule.principal.matches(u)) {
        for action in ACTIONS {
            let action = uid(&format!("Action::\"{action}\""));
            if rule.action.as_ref().is_some_and(|a| *a != action) {
                continue;
            }
            for resource in uids.iter().filter(|u| rule.resource.matches(u)) {
                for context in &contexts {
                    let Ok(request) = Request::new(
                        principal.clone(),
                        action.clone(),
                        resource.clone(),
                        context.clone(),
                        Some(schema),
                    ) else {
                        continue;
                    };
                    if authorizer
                        .is_authorized(&request, &scenario.policies.set, entities)
                        .decision()
                        == Decision::Allow
                    {
                        return Some(format!("{principal} {action} {resource}"));
                    }
                }
            }
        }
    }
    None
}

#[test]
fn proven_never_rules_agree_with_exhaustive_enumeration_on_small_worlds() {
    let spec = Spec {
        agents: 3,
        users: 2,
        docs: 6,
        fanout: 2,
        depth: 1,
        policies: 10,
        schema: true,
        workflow: false,
        grammar: false,
        effects: false,
    };
    let prover = prover();
    let (mut proven, mut refuted, mut found_in_world) = (0, 0, 0);
    for seed in 0..4u64 {
        let world = generate::world(&spec, seed);
        let files: Vec<(&str, &str)> = world
            .files
            .iter()
            .map(|(name, text)| (name.as_str(), text.as_str()))
            .collect();
        let mut scenario = load("never-proofs", &files);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x9e7e);
        scenario.never = (0..6)
            .map(|i| rule(&mut rng, i, spec.agents, spec.docs))
            .collect();
        let entities = scenario.world.segments[0].entities.clone();
        let schema = scenario.schema.clone().unwrap();
        let proved = never_verdicts(&scenario, &[], Proving::With(&prover, None)).unwrap();
        assert_eq!(proved.rules.len(), scenario.never.len());
        for (rule, verdict) in scenario.never.iter().zip(&proved.rules) {
            let witness = allowed_match(&scenario, &entities, rule);
            let what = format!("seed {seed}: {} ({})", never_permit(rule), verdict.verdict);
            match verdict.verdict.as_str() {
                "proven-impossible" => {
                    proven += 1;
                    assert_eq!(witness, None, "{what}: proven, yet the world allows it");
                }
                "refuted-by-proof" => refuted += 1,
                "not-proven" => eprintln!("{what}: {:?}", verdict.reason),
                other => panic!("{what}: unexpected verdict {other}"),
            }
            if witness.is_some() {
                found_in_world += 1;
                assert_ne!(verdict.verdict, NeverVerdict::ProvenImpossible, "{what}");
            }
        }
        // Every counterexample: Cedar allows it, and its rule matches it.
        for (finding, _) in &proved.findings {
            let cex = finding.counterexample.as_ref().unwrap();
            let rule = scenario
                .never
                .iter()
                .find(|r| {
                    finding
                        .rule
                        .as_deref()
                        .is_some_and(|l| l.ends_with(&format!(":{}", r.line)))
                })
                .unwrap();
            let store = Entities::from_json_value(cex.entities.clone(), Some(&schema)).unwrap();
            let request = Request::new(
                uid(&cex.principal),
                uid(&cex.action),
                uid(&cex.resource),
                Context::from_json_value(cex.context.clone(), None).unwrap(),
                Some(&schema),
            )
            .unwrap();
            assert_eq!(
                Authorizer::new()
                    .is_authorized(&request, &scenario.policies.set, &store)
                    .decision(),
                Decision::Allow,
                "seed {seed}: {cex:?}"
            );
            assert!(rule.principal.matches(&uid(&cex.principal)));
            assert!(rule.action.as_ref().is_none_or(|a| *a == uid(&cex.action)));
            assert!(rule.resource.matches(&uid(&cex.resource)));
        }
    }
    eprintln!("{proven} proven, {refuted} refuted, {found_in_world} allowed in the world");
    assert!(
        proven > 0 && refuted > 0,
        "{proven} proven, {refuted} refuted: too few of each to test"
    );
}
