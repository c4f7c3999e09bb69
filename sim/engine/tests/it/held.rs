//! Fast held sets against brute force on generated worlds (seeded, so every
//! failure reproduces): with and without a schema; forbids, `unless`, datetime
//! conditions, template links, folder hierarchies, tags, policies that err,
//! requests the schema rejects, principals and context entities the scenario
//! never named, and JIT grants (a store per segment, and stores without a
//! grant). Then whole accounting, fast against brute force, byte for byte.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use std::str::FromStr;

use cedar_policy::EntityUid;
use privsim::accounting::{self, Evaluation, Method};
use privsim::held::Engine;
use privsim::load::Scenario;
use privsim::world::timeline;
use privsim_testkit::generate::{self, ACTIONS, Spec};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

fn load(test: &str, world: &generate::World) -> Scenario {
    let files: Vec<(&str, &str)> = world
        .files
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_str()))
        .collect();
    crate::common::load(test, &files)
}

fn uid(text: &str) -> EntityUid {
    EntityUid::from_str(text).unwrap()
}

fn entity(type_name: &str, id: &str) -> Value {
    json!({ "__entity": { "type": type_name, "id": id } })
}

/// Contexts a session could present: the clock before, inside and after the
/// policies' datetime literals, with and without MFA, and now and then a
/// target document, a scope folder or a delegator, some of which the
/// scenario never names.
fn contexts(rng: &mut Xoshiro256PlusPlus, world: &generate::World, docs: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for hour in ["09:00", "10:30", "13:00"] {
        let mut context = serde_json::Map::new();
        context.insert(
            "now".into(),
            json!({ "__extn": { "fn": "datetime", "arg": format!("2026-06-01T{hour}:00Z") } }),
        );
        context.insert("mfa".into(), json!(rng.random_bool(0.5)));
        if rng.random_bool(0.5) {
            let doc = format!("d{}", rng.random_range(0..docs));
            context.insert("target".into(), entity("Doc", &doc));
        }
        if rng.random_bool(0.5) {
            let folder = &world.folders[rng.random_range(0..world.folders.len())];
            let folder = uid(folder);
            context.insert("scope".into(), entity("Folder", folder.id().unescaped()));
        }
        if rng.random_bool(0.3) {
            context.insert("delegator".into(), entity("User", "u0"));
        }
        out.push(Value::Object(context));
    }
    out
}

/// The generated world's agents and users, and one agent it never names
/// (its classes are computed for it alone).
fn principals(scenario: &Scenario) -> Vec<EntityUid> {
    let mut principals: Vec<EntityUid> = scenario
        .world
        .base
        .keys()
        .filter(|k| k.starts_with("Agent::") || k.starts_with("User::"))
        .map(|k| uid(k))
        .collect();
    principals.push(uid(r#"Agent::"ghost""#));
    principals
}

fn compare_engine_with_brute_force(test: &str, spec: &Spec, seed: u64) -> usize {
    let (compared, allowed) = compare_decisions(test, spec, seed);
    assert!(
        allowed > 0,
        "seed {seed}: a world where nothing is allowed tests little"
    );
    assert!(
        allowed < compared,
        "seed {seed}: a world where everything is allowed tests little"
    );
    compared
}

/// Fast against brute force, decision by decision; (compared, allowed).
fn compare_decisions(test: &str, spec: &Spec, seed: u64) -> (usize, usize) {
    let world = generate::world(spec, seed);
    let scenario = load(test, &world);
    let engine = Engine::new(&scenario);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5eed);
    let principals = principals(&scenario);
    let resources: Vec<EntityUid> = scenario
        .world
        .base
        .keys()
        .filter(|k| k.starts_with("Doc::") || k.starts_with("Folder::") || k == &r#"User::"u1""#)
        .map(|k| uid(k))
        .collect();
    let mut compared = 0;
    let mut allowed = 0;
    for segment in 0..scenario.world.segments.len() {
        let store = Engine::segment(segment);
        for context in contexts(&mut rng, &world, spec.docs) {
            for action in ACTIONS {
                let targets =
                    engine.targets(uid(&format!("Action::\"{action}\"")), resources.clone());
                for principal in &principals {
                    let fast = engine.allowed(principal, &targets, &context, store);
                    // Cedar on every request: its decision and its reason.
                    let reasons = engine.deciding_brute_force(principal, &targets, &context, store);
                    let slow: Vec<bool> = reasons.iter().map(|(allowed, _)| *allowed).collect();
                    for (index, (f, s)) in fast.iter().zip(&slow).enumerate() {
                        assert_eq!(
                            f,
                            s,
                            "seed {seed} schema {}: {principal} {action} {} in segment {segment} with {context}: fast {f}, brute force {s}",
                            spec.schema,
                            targets.key(index)
                        );
                    }
                    // Which policies decide each request: Cedar's reason.
                    let (flags, deciding) =
                        engine.allowed_deciding(principal, &targets, &context, store);
                    assert_eq!(flags, fast);
                    for (index, (_, reason)) in reasons.iter().enumerate() {
                        let decided: Vec<usize> = deciding
                            .iter()
                            .filter(|d| d.decides(index))
                            .map(|d| d.policy)
                            .collect();
                        assert_eq!(
                            &decided,
                            reason,
                            "seed {seed} schema {}: {principal} {action} {} in segment {segment} with {context}: deciding policies",
                            spec.schema,
                            targets.key(index)
                        );
                    }
                    compared += fast.len();
                    allowed += fast.iter().filter(|a| **a).count();
                }
            }
        }
    }
    (compared, allowed)
}

#[test]
fn fast_held_sets_equal_brute_force_with_a_schema() {
    let mut compared = 0;
    for seed in 0..12 {
        compared += compare_engine_with_brute_force("held-schema", &Spec::small(true), seed);
    }
    assert!(compared > 100_000, "only {compared} decisions compared");
}

#[test]
fn fast_held_sets_equal_brute_force_without_a_schema() {
    let mut compared = 0;
    for seed in 100..112 {
        compared += compare_engine_with_brute_force("held-no-schema", &Spec::small(false), seed);
    }
    assert!(compared > 100_000, "only {compared} decisions compared");
}

/// Worlds whose every other policy comes from Cedar's whole expression
/// grammar (`Spec::grammar`): records, sets, `if`, `is ... in`, `has`,
/// `like`, tags and extension calls around `resource`, in permits and forbids.
#[test]
fn fast_held_sets_equal_brute_force_on_the_whole_grammar() {
    let spec = Spec {
        agents: 3,
        users: 2,
        docs: 24,
        fanout: 2,
        depth: 2,
        policies: 30,
        schema: false,
        workflow: true,
        grammar: true,
        effects: false,
    };
    let (mut compared, mut mixed) = (0, 0);
    for seed in 300..GRAMMAR_WORLDS {
        // A forbid from the grammar may deny everything in a world: count
        // the worlds with both decisions instead of requiring each.
        let (count, allowed) = compare_decisions("held-grammar", &spec, seed);
        compared += count;
        mixed += usize::from(allowed > 0 && allowed < count);
    }
    eprintln!("{compared} decisions compared, {mixed} worlds with both decisions");
    assert!(compared > 200_000, "only {compared} decisions compared");
    assert!(mixed >= 25, "only {mixed} worlds allow some and deny some");
}

/// The grammar worlds compared, as the end of a seed range from 300.
const GRAMMAR_WORLDS: u64 = 330;

#[test]
fn a_wide_world_with_few_policies_also_matches() {
    // Many resources per class: the classes, not the evaluations, decide.
    let spec = Spec {
        agents: 3,
        users: 2,
        docs: 400,
        fanout: 3,
        depth: 2,
        policies: 12,
        schema: true,
        workflow: true,
        grammar: false,
        effects: false,
    };
    for seed in 200..203 {
        compare_engine_with_brute_force("held-wide", &spec, seed);
    }
}

fn accounting_json(scenario: &Scenario, method: Method) -> String {
    let (mut result, lived) = privsim::replay::replay_with_state(scenario);
    accounting::account_with(timeline::of(scenario, lived.as_ref()), &mut result, method);
    serde_json::to_string_pretty(&result).unwrap()
}

#[test]
fn accounting_is_byte_identical_fast_or_brute_force() {
    let mut held_pairs = 0;
    for (seed, schema) in [(7, true), (8, true), (9, false), (10, false)] {
        let world = generate::world(&Spec::small(schema), seed);
        let scenario = load("held-accounting", &world);
        let fast = accounting_json(&scenario, Method::Fast);
        let slow = accounting_json(&scenario, Method::BruteForce);
        assert!(
            fast == slow,
            "seed {seed}: accounting differs between fast and brute force"
        );
        let value: Value = serde_json::from_str(&fast).unwrap();
        held_pairs += value["principals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["held"].as_array().unwrap().len())
            .sum::<usize>();
    }
    assert!(
        held_pairs > 50,
        "only {held_pairs} held pairs: the worlds test little"
    );
}

/// The generated world without the clock among the facts: each session
/// presents a fixed `now` of its own instead, so the policies' datetime
/// conditions still decide, but nothing a session presents changes with
/// the instant (the case where held sets are asked only at change points);
/// one session is bounded with `from` and `until`.
fn without_clock(world: &generate::World, seed: u64) -> generate::World {
    let mut world = world.clone();
    let mut session = 0;
    for (name, text) in &mut world.files {
        if name != "scenario.toml" {
            continue;
        }
        assert!(text.contains("\n[facts]\nnow = \"now\"\n"));
        *text = text.replace("\n[facts]\nnow = \"now\"\n", "\n[facts]\n");
        // A session that opens and closes inside the run (around its step
        // at +15m), so its bounds are change points of their own.
        assert!(text.contains("\nid = \"s1\"\n"));
        *text = text.replace(
            "\nid = \"s1\"\n",
            "\nid = \"s1\"\nfrom = \"+12m\"\nuntil = \"+35m\"\n",
        );
        // Sessions on either side of the policies' literals (09:20 to 10:20
        // and the JIT grant's 09:30).
        while let Some(at) = text.find("context = { mfa = ") {
            let hour = 9 + (seed as usize + session) % 3;
            text.replace_range(
                at..at + "context = { mfa = ".len(),
                &format!("context = {{ now = 2026-06-01T{hour:02}:25:00Z, mfa = "),
            );
            session += 1;
        }
    }
    world
}

fn accounting_json_evaluating(scenario: &Scenario, evaluation: Evaluation) -> String {
    let (mut result, lived) = privsim::replay::replay_with_state(scenario);
    accounting::account_evaluating(
        timeline::of(scenario, lived.as_ref()),
        &mut result,
        Method::Fast,
        evaluation,
    );
    serde_json::to_string_pretty(&result).unwrap()
}

/// Held sets asked only where they can change give the accounting of held
/// sets asked at every instant, byte for byte, on generated worlds with
/// datetime conditions in the policies, a time-bound JIT grant and (with
/// effects) grants, revocations and a dormant session started by an
/// action: with the clock in the context (every instant is a change point)
/// and without it (only sessions, segments and grants are).
#[test]
fn accounting_at_changes_equals_every_instant() {
    let mut compared = 0;
    let mut instants_without_clock = 0;
    for seed in 20..23 {
        for (schema, effects) in [(true, false), (false, false), (true, true), (false, true)] {
            // Smaller than `Spec::small`: the instants, not the world's
            // size, are what this compares (and every instant is asked
            // about once more).
            let spec = Spec {
                docs: 16,
                policies: 24,
                effects,
                ..Spec::small(schema)
            };
            let world = generate::world(&spec, seed);
            for world in [world.clone(), without_clock(&world, seed)] {
                let scenario = load("held-at-changes", &world);
                let every = accounting_json_evaluating(&scenario, Evaluation::EveryInstant);
                let at_changes = accounting_json_evaluating(&scenario, Evaluation::AtChanges);
                if every != at_changes {
                    let at = every
                        .bytes()
                        .zip(at_changes.bytes())
                        .position(|(a, b)| a != b)
                        .unwrap_or(0);
                    let from = at.saturating_sub(400);
                    panic!(
                        "seed {seed}, schema {schema}, effects {effects}: accounting differs\nevery instant: {}\nat changes: {}",
                        &every[from..(at + 200).min(every.len())],
                        &at_changes[from..(at + 200).min(at_changes.len())]
                    );
                }
                compared += 1;
                if scenario.facts.now.is_none() {
                    let value: Value = serde_json::from_str(&every).unwrap();
                    let instants = value["accounting"]["evaluated_instants"]
                        .as_array()
                        .unwrap()
                        .len();
                    let held: usize = value["principals"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p["held"].as_array().unwrap().len())
                        .sum();
                    assert!(held > 0, "seed {seed}: nothing held without the clock");
                    instants_without_clock += instants;
                }
            }
        }
    }
    assert_eq!(compared, 24);
    assert!(
        instants_without_clock > 50,
        "{instants_without_clock} instants"
    );
}

#[test]
fn example_scenarios_account_alike_fast_or_brute_force() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let files = privsim::load::discover(&root).unwrap();
    assert!(files.len() >= 10);
    for file in files {
        let scenario =
            privsim::load::load(&file, &privsim::LoadOptions::default().under(&root)).unwrap();
        assert_eq!(
            accounting_json(&scenario, Method::Fast),
            accounting_json(&scenario, Method::BruteForce),
            "{}",
            file.display()
        );
    }
}

#[test]
fn generated_worlds_are_deterministic() {
    let a = generate::world(&Spec::small(true), 42);
    let b = generate::world(&Spec::small(true), 42);
    assert_eq!(a.files, b.files);
    let c = generate::world(&Spec::small(true), 43);
    assert_ne!(a.files, c.files);
}

/// Docs `d1` in `f1` and `d2` in `f2`, and one user; no schema.
const ANCESTRY_WORLD: &str = r#"
[scenario]
name = "ancestry tested through is-in and records"
policies = ["p.cedar"]
start = "2026-06-01T09:00:00Z"

[[entity]]
uid = 'Folder::"f1"'
[[entity]]
uid = 'Folder::"f2"'
[[entity]]
uid = 'Doc::"d1"'
parents = ['Folder::"f1"']
[[entity]]
uid = 'Doc::"d2"'
parents = ['Folder::"f2"']
[[entity]]
uid = 'User::"alice"'

[[step]]
at = "+1m"
principal = 'User::"alice"'
action = 'Action::"read"'
resource = 'Doc::"d1"'
"#;

/// Which of `d1`, `d2` alice holds under `policies`, fast and brute force.
fn held_docs(test: &str, policies: &str) -> (Vec<bool>, Vec<bool>) {
    let scenario = crate::common::load(
        test,
        &[("scenario.toml", ANCESTRY_WORLD), ("p.cedar", policies)],
    );
    let engine = Engine::new(&scenario);
    let targets = engine.targets(
        uid(r#"Action::"read""#),
        vec![uid(r#"Doc::"d1""#), uid(r#"Doc::"d2""#)],
    );
    let alice = uid(r#"User::"alice""#);
    let store = Engine::segment(0);
    (
        engine.allowed(&alice, &targets, &json!({}), store),
        engine.allowed_brute_force(&alice, &targets, &json!({}), store),
    )
}

/// The conditions that test the resource's ancestry without `resource in`
/// itself: each is true of `d1` only.
const ANCESTRY_FORMS: [&str; 5] = [
    r#"resource is Doc in Folder::"f1""#,
    r#"{r: resource}.r in Folder::"f1""#,
    r#"[resource].contains(resource) && (if true then resource else principal) in Folder::"f1""#,
    r#"{a: {b: resource}}.a.b is Doc in [Folder::"f1"]"#,
    r#"[{r: resource}.r].containsAny([Doc::"zz"]) || {r: resource}["r"] in Folder::"f1""#,
];

#[test]
fn a_permit_testing_ancestry_through_is_in_or_a_record_holds_only_the_matching_doc() {
    for (n, form) in ANCESTRY_FORMS.iter().enumerate() {
        let policies = format!("permit(principal, action, resource) when {{ {form} }};");
        let (fast, slow) = held_docs(&format!("held-ancestry-permit-{n}"), &policies);
        assert_eq!(slow, vec![true, false], "Cedar on `{form}`");
        assert_eq!(fast, slow, "`{form}` in a permit: fast vs brute force");
    }
}

#[test]
fn a_forbid_testing_ancestry_through_is_in_or_a_record_still_allows_the_other_doc() {
    for (n, form) in ANCESTRY_FORMS.iter().enumerate() {
        let policies = format!(
            "permit(principal, action, resource);\nforbid(principal, action, resource) when {{ {form} }};"
        );
        let (fast, slow) = held_docs(&format!("held-ancestry-forbid-{n}"), &policies);
        assert_eq!(slow, vec![false, true], "Cedar on `{form}`");
        assert_eq!(fast, slow, "`{form}` in a forbid: fast vs brute force");
    }
}

/// Asking Cedar with only the policies whose scope admits a request
/// (`privsim::world::slices`, what replay does) answers as the full policy
/// set does: the same decision, reasons and errors, on generated worlds
/// (with a schema, without, Cedar's whole expression grammar, template
/// links, a store per grant segment, principals the scenario never names).
#[test]
fn sliced_asks_answer_as_the_full_policy_set() {
    use cedar_policy::{Authorizer, Context, Request, Response};
    use privsim::world::slices::Slices;

    let answer = |response: &Response| {
        let mut reasons: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        reasons.sort();
        let mut errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        errors.sort();
        (response.decision(), reasons, errors)
    };
    let authorizer = Authorizer::new();
    let (mut compared, mut allowed, mut erred, mut sliced) = (0, 0, 0, 0);
    for (seed, (schema, grammar)) in [
        (true, false),
        (false, false),
        (false, true),
        (false, true),
        (true, false),
        (false, true),
    ]
    .into_iter()
    .enumerate()
    {
        let seed = seed as u64;
        let spec = Spec {
            grammar,
            ..Spec::small(schema)
        };
        let world = generate::world(&spec, seed);
        let scenario = load("sliced-asks", &world);
        let slices = Slices::new(&scenario.policies.set);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x51ce);
        let principals = principals(&scenario);
        let resources: Vec<EntityUid> = scenario
            .world
            .base
            .keys()
            .filter(|k| k.starts_with("Doc::") || k.starts_with("Folder::"))
            .map(|k| uid(k))
            .collect();
        for segment in &scenario.world.segments {
            let store = &segment.entities;
            for context in contexts(&mut rng, &world, spec.docs) {
                let context = Context::from_json_value(context, None).unwrap();
                for action in ACTIONS {
                    let action = uid(&format!("Action::\"{action}\""));
                    for principal in &principals {
                        for resource in resources.iter().step_by(3) {
                            let request = Request::new(
                                principal.clone(),
                                action.clone(),
                                resource.clone(),
                                context.clone(),
                                None,
                            )
                            .unwrap();
                            let want = answer(&authorizer.is_authorized(
                                &request,
                                &scenario.policies.set,
                                store,
                            ));
                            let got = answer(&slices.is_authorized(&request, store));
                            assert_eq!(
                                got, want,
                                "seed {seed} schema {schema} grammar {grammar}: {principal} {action} {resource} with {context:?}"
                            );
                            compared += 1;
                            allowed += usize::from(want.0 == cedar_policy::Decision::Allow);
                            erred += usize::from(!want.2.is_empty());
                        }
                    }
                }
            }
        }
        sliced += slices.kept();
    }
    assert!(compared > 50_000, "only {compared} requests compared");
    assert!(
        allowed > 1_000 && erred > 1_000,
        "{allowed} allowed, {erred} with errors"
    );
    assert!(sliced > 10, "only {sliced} sliced policy sets made");
}

/// An enumerated resource type: Cedar checks a request's resource of such a
/// type by id, so a resource the store lacks whose id is no member is no
/// request at all (not held), while the members are held alike.
#[test]
fn a_resource_of_an_enumerated_type_that_is_no_member_is_not_held() {
    let scenario = crate::common::load(
        "held-enumerated-resource",
        &[
            (
                "scenario.toml",
                r#"
[scenario]
name = "an enumerated resource type"
policies = ["p.cedar"]
schema = "s.cedarschema"
start = "2026-06-01T09:00:00Z"

[[entity]]
uid = 'User::"alice"'

[[step]]
at = "+1m"
principal = 'User::"alice"'
action = 'Action::"paint"'
resource = 'Color::"red"'
"#,
            ),
            (
                "s.cedarschema",
                r#"entity User;
entity Color enum ["red", "blue"];
action paint appliesTo { principal: [User], resource: [Color] };
"#,
            ),
            ("p.cedar", "permit(principal, action, resource);\n"),
        ],
    );
    let engine = Engine::new(&scenario);
    let alice = uid(r#"User::"alice""#);
    let store = Engine::segment(0);
    // The member first, then the non-member, and the other way round: the
    // answer must not depend on which one is looked at first.
    for colors in [["red", "green", "blue"], ["green", "red", "blue"]] {
        let targets = engine.targets(
            uid(r#"Action::"paint""#),
            colors
                .iter()
                .map(|c| uid(&format!("Color::\"{c}\"")))
                .collect(),
        );
        let slow = engine.allowed_brute_force(&alice, &targets, &json!({}), store);
        let expected: Vec<bool> = colors.iter().map(|&c| c != "green").collect();
        assert_eq!(slow, expected, "Cedar on {colors:?}");
        let fast = engine.allowed(&alice, &targets, &json!({}), store);
        assert_eq!(fast, slow, "{colors:?}: fast vs brute force");
    }
}
