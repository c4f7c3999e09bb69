//! `load::read_context`, which builds plain contexts without Cedar's JSON
//! parser, reads every generated context exactly as Cedar's own
//! `Context::from_json_value` does: the same context (canonical form and
//! every attribute's value) or the same error message, with and without a
//! schema, for declared and undeclared actions
//! (`privsim_testkit::json_context` covers Cedar's whole value grammar).
//! `load::plain_request`, which checks a plain context against the schema
//! once, gives what reading the context and then building the request give.
//! A step's delegation-ceiling requests, built without a second schema check
//! once one of the same principal, action and resource was accepted, are
//! each the one `load::build_request` builds and checks alone.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::str::FromStr;

use cedar_policy::{Context, EntityUid, EvalResult, Schema};
use privsim::load::{
    build_request, error_chain, plain_context, plain_entity, plain_request, read_context,
    read_entity, request_from_context,
};
use privsim_testkit::json_context::{self, ACTIONS, SCHEMA};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde_json::Value;

/// A context's canonical form: its text and each attribute's value.
fn canonical(context: &Context, keys: &[String]) -> (String, Vec<Option<EvalResult>>) {
    (
        context.to_string(),
        keys.iter().map(|key| context.get(key)).collect(),
    )
}

/// What the cases read to, counted, so a generator that stopped reaching a
/// kind of context would fail the test.
#[derive(Debug, Default)]
struct Seen {
    read: usize,
    rejected: usize,
    with_entity_or_extension: usize,
    /// Read without Cedar's parser, holding an entity or extension value
    /// (an `__entity` or `__extn` escape).
    plain_with_entity_or_extension: usize,
}

fn contains_entity_or_extension(value: &EvalResult) -> bool {
    match value {
        EvalResult::EntityUid(_) | EvalResult::ExtensionValue(_) => true,
        EvalResult::Set(set) => set.iter().any(contains_entity_or_extension),
        EvalResult::Record(record) => record.iter().any(|(_, v)| contains_entity_or_extension(v)),
        _ => false,
    }
}

#[test]
fn read_context_equals_cedars_parser() {
    let (schema, _) = Schema::from_cedarschema_str(SCHEMA).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(17);
    let mut seen = Seen::default();
    for case in 0..6_000 {
        let action_name = ACTIONS[case % ACTIONS.len()];
        let action = EntityUid::from_str(&format!("Action::\"{action_name}\"")).unwrap();
        let text = json_context::context(&mut rng, action_name);
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            panic!("the generator wrote invalid JSON: {text}");
        };
        let keys: Vec<String> = value
            .as_object()
            .map(|entries| entries.keys().cloned().collect())
            .unwrap_or_default();
        for schema in [Some(&schema), None] {
            let fast = read_context(&action, &value, schema);
            let cedar = Context::from_json_value(value.clone(), schema.map(|s| (s, &action)))
                .map_err(|e| error_chain(&e));
            match (&fast, &cedar) {
                (Ok(fast), Ok(cedar)) => {
                    assert_eq!(
                        canonical(fast, &keys),
                        canonical(cedar, &keys),
                        "{action} with schema {}: {text}",
                        schema.is_some()
                    );
                    seen.read += 1;
                    if keys
                        .iter()
                        .filter_map(|key| cedar.get(key))
                        .any(|v| contains_entity_or_extension(&v))
                    {
                        seen.with_entity_or_extension += 1;
                        if plain_context(&action, &value, schema).is_some() {
                            seen.plain_with_entity_or_extension += 1;
                        }
                    }
                }
                (Err(fast), Err(cedar)) => {
                    assert_eq!(fast, cedar, "{action}: {text}");
                    seen.rejected += 1;
                }
                _ => panic!(
                    "{action} with schema {}: {text}\nread_context: {fast:?}\nCedar: {cedar:?}",
                    schema.is_some()
                ),
            }
        }
    }
    assert!(seen.read > 3_000, "{seen:?}");
    assert!(seen.rejected > 1_000, "{seen:?}");
    assert!(seen.with_entity_or_extension > 300, "{seen:?}");
    assert!(seen.plain_with_entity_or_extension > 100, "{seen:?}");
}

/// `plain_request` (one schema check) against its slow definition, reading
/// the context (`read_context`) and then building the request under the
/// schema (`request_from_context`): wherever it gives a request, the two
/// steps give the same context and the same request. Principals of a type
/// the action does not apply to are drawn too, so the request's own check
/// fails where the context's alone would pass.
#[test]
fn plain_request_equals_two_steps() {
    let (schema, _) = Schema::from_cedarschema_str(SCHEMA).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(23);
    let principals = [
        EntityUid::from_str("User::\"u\"").unwrap(),
        EntityUid::from_str("Team::\"t\"").unwrap(),
    ];
    let resource = EntityUid::from_str("Doc::\"d\"").unwrap();
    let (mut fast_built, mut refused, mut refused_but_context_reads) = (0, 0, 0);
    for case in 0..3_000 {
        let action_name = ACTIONS[case % ACTIONS.len()];
        let action = EntityUid::from_str(&format!("Action::\"{action_name}\"")).unwrap();
        let principal = &principals[(case / ACTIONS.len()) % principals.len()];
        let text = json_context::context(&mut rng, action_name);
        let value: Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<String> = value
            .as_object()
            .map(|entries| entries.keys().cloned().collect())
            .unwrap_or_default();
        let read = read_context(&action, &value, Some(&schema));
        let built = read.clone().and_then(|context| {
            request_from_context(principal, &action, &resource, context, Some(&schema))
        });
        match plain_request(principal, &action, &resource, &value, &schema) {
            Some((context, request)) => {
                let (Ok(read), Ok(built)) = (&read, &built) else {
                    panic!(
                        "{principal} {action}: {text}\nplain_request built a request, the two steps: {read:?} / {built:?}"
                    );
                };
                assert_eq!(
                    canonical(&context, &keys),
                    canonical(read, &keys),
                    "{action}: {text}"
                );
                assert_eq!(request.to_string(), built.to_string(), "{action}: {text}");
                assert_eq!(
                    request.context().map(|c| canonical(c, &keys)),
                    built.context().map(|c| canonical(c, &keys)),
                    "{action}: {text}"
                );
                fast_built += 1;
            }
            None => {
                refused += 1;
                if read.is_ok() {
                    refused_but_context_reads += 1;
                }
            }
        }
    }
    assert!(fast_built > 250, "{fast_built} built, {refused} refused");
    assert!(refused > 500, "{fast_built} built, {refused} refused");
    assert!(
        refused_but_context_reads > 100,
        "{refused_but_context_reads} refused whose context reads"
    );
}

/// Every step's delegation-ceiling requests against `build_request`, which
/// reads and checks each alone: delegators the schema accepts and refuses
/// for an action (by type, and by id for an enumerated type), each asked
/// again with other contexts, a context the schema refuses (`expect =
/// "error"`), and a step whose own request is not checked
/// (`validate_request = false`).
#[test]
fn ceiling_requests_equal_checked_ones() {
    let schema = r#"
entity User, Agent, Doc;
entity Svc enum ["ok", "other"];
action read appliesTo { principal: [User, Agent, Svc], resource: [Doc], context: { flag: Bool, note?: String } };
action edit appliesTo { principal: [Agent], resource: [Doc], context: { flag: Bool, note?: String } };
"#;
    let mut scenario = String::from(
        r#"
[scenario]
name = "ceiling requests"
policies = ["p.cedar"]
schema = "s.cedarschema"
start = "2026-06-01T09:00:00Z"

[[entity]]
uid = 'Doc::"d1"'

[[entity]]
uid = 'Doc::"d2"'

[[session]]
id = "by-user"
principal = 'Agent::"a"'
on_behalf_of = 'User::"u"'

[[session]]
id = "by-service"
principal = 'Agent::"b"'
on_behalf_of = 'Svc::"ok"'

[[session]]
id = "by-unknown-service"
principal = 'Agent::"c"'
on_behalf_of = 'Svc::"nope"'

[[session]]
id = "sub-agent"
principal = 'Agent::"d"'
parent = "by-user"
"#,
    );
    let sessions = ["by-user", "by-service", "by-unknown-service", "sub-agent"];
    let mut number = 0;
    for round in 0..3 {
        for session in sessions {
            for action in ["read", "edit"] {
                for doc in ["d1", "d2"] {
                    number += 1;
                    let context = match number % 4 {
                        0 => format!("{{ flag = true, note = \"n{number}\" }}"),
                        1 => "{ flag = false }".to_string(),
                        2 if round == 1 => "{ flag = 1 }\nexpect = \"error\"".to_string(),
                        2 => "{ flag = true }\nvalidate_request = false".to_string(),
                        _ => format!("{{ flag = true, note = \"{round}\" }}"),
                    };
                    scenario.push_str(&format!(
                        "\n[[step]]\nsession = \"{session}\"\naction = 'Action::\"{action}\"'\nresource = 'Doc::\"{doc}\"'\ncontext = {context}\n"
                    ));
                }
            }
        }
    }
    let policies = r#"@id("all") permit (principal, action, resource) when { context.flag };"#;
    let loaded = crate::common::load(
        "ceiling_requests",
        &[
            ("scenario.toml", &scenario),
            ("s.cedarschema", schema),
            ("p.cedar", policies),
        ],
    );
    let schema = loaded.schema.as_ref().unwrap();
    let (mut accepted, mut refused) = (0, 0);
    for step in &loaded.steps {
        assert_eq!(step.ceiling.len(), step.chain.len() - 1);
        for (delegator, got) in &step.ceiling {
            let want = build_request(
                delegator,
                &step.action,
                &step.resource,
                &step.context,
                Some(schema),
            )
            .ok();
            assert_eq!(
                got.as_ref().map(ToString::to_string),
                want.as_ref().map(ToString::to_string),
                "step {}: ceiling request of {delegator}",
                step.index + 1
            );
            if want.is_some() {
                accepted += 1;
            } else {
                refused += 1;
            }
        }
    }
    // Both kinds, each asked many times.
    assert!(
        accepted > 20 && refused > 20,
        "{accepted} accepted, {refused} refused"
    );
}

/// A value of an entity as the API gives it.
type Read = Option<Result<EvalResult, String>>;

/// An entity's canonical form: its uid, its attributes (by name, sorted)
/// and parents (sorted; Cedar keeps both in hash maps and sets), and its
/// tags under `tag_keys`. (Its JSON form cannot be had when a record holds
/// a key like `__entity`.)
#[allow(clippy::type_complexity, reason = "one comparison")]
fn canonical_entity(
    entity: &cedar_policy::Entity,
    tag_keys: &[String],
) -> (String, Vec<(String, Read)>, Vec<String>, Vec<Read>) {
    let read = |value: Option<Result<EvalResult, cedar_policy::PartialValueToValueError>>| {
        value.map(|v| v.map_err(|e| e.to_string()))
    };
    let tags = tag_keys.iter().map(|key| read(entity.tag(key))).collect();
    let (uid, attrs, parents) = entity.clone().into_inner();
    let mut names: Vec<String> = attrs.into_keys().collect();
    names.sort();
    let attrs = names
        .into_iter()
        .map(|name| {
            let value = read(entity.attr(&name));
            (name, value)
        })
        .collect();
    let mut parents: Vec<String> = parents.iter().map(ToString::to_string).collect();
    parents.sort();
    (uid.to_string(), attrs, parents, tags)
}

/// Whether a JSON value holds an object of exactly `type` and `id` below
/// its top (`depth` 0: the attributes or tags object itself).
fn holds_implicit_uid(value: &Value, depth: usize) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|item| holds_implicit_uid(item, depth + 1)),
        Value::Object(entries) => {
            (depth > 0
                && entries.len() == 2
                && entries.contains_key("type")
                && entries.contains_key("id"))
                || entries.values().any(|v| holds_implicit_uid(v, depth + 1))
        }
        _ => false,
    }
}

#[test]
fn read_entity_equals_cedars_reader() {
    let (schema, _) = Schema::from_cedarschema_str(json_context::ENTITY_SCHEMA).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(23);
    let (mut read, mut rejected, mut compared) = (0, 0, 0);
    let (mut plain, mut plain_with_schema, mut plain_with_implicit_uids) = (0, 0, 0);
    for _ in 0..6_000 {
        let text = json_context::entity(&mut rng);
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            panic!("the generator wrote invalid JSON: {text}");
        };
        for schema in [Some(&schema), None] {
            let fast = read_entity(&value, schema);
            let cedar = cedar_policy::Entity::from_json_value(value.clone(), schema)
                .map_err(|e| error_chain(&e));
            match (&fast, &cedar) {
                (Ok(fast), Ok(cedar)) => {
                    let tag_keys: Vec<String> = value
                        .get("tags")
                        .and_then(Value::as_object)
                        .map(|tags| tags.keys().cloned().collect())
                        .unwrap_or_default();
                    assert_eq!(
                        canonical_entity(fast, &tag_keys),
                        canonical_entity(cedar, &tag_keys),
                        "with schema {}: {text}",
                        schema.is_some()
                    );
                    read += 1;
                    if plain_entity(&value, schema).is_some() {
                        plain += 1;
                        plain_with_schema += usize::from(schema.is_some());
                        // References in the form `{"type", "id"}`, which
                        // only the schema makes uids.
                        let implicit = ["attrs", "tags"]
                            .iter()
                            .any(|key| value.get(key).is_some_and(|v| holds_implicit_uid(v, 0)));
                        plain_with_implicit_uids += usize::from(schema.is_some() && implicit);
                    }
                }
                (Err(fast), Err(cedar)) => {
                    // Cedar reads the attributes, tags and parents into
                    // hash maps and sets, so which of several bad ones its
                    // message names varies from one call to the next: the
                    // messages are compared where there is at most one of
                    // each.
                    let entries = |key: &str| match value.get(key) {
                        Some(Value::Object(entries)) => entries.len(),
                        Some(Value::Array(items)) => items.len(),
                        _ => 0,
                    };
                    if ["attrs", "tags", "parents"]
                        .iter()
                        .all(|key| entries(key) <= 1)
                    {
                        assert_eq!(fast, cedar, "{text}");
                        compared += 1;
                    }
                    rejected += 1;
                }
                _ => panic!(
                    "with schema {}: {text}\nread_entity: {fast:?}\nCedar: {cedar:?}",
                    schema.is_some()
                ),
            }
        }
    }
    let seen = format!(
        "read {read}, rejected {rejected} ({compared} messages compared), read without Cedar's reader {plain} ({plain_with_schema} with the schema, {plain_with_implicit_uids} of them with references as {{\"type\", \"id\"}})"
    );
    eprintln!("{seen}");
    assert!(read > 3_000, "{seen}");
    assert!(rejected > 1_000, "{seen}");
    assert!(compared > 300, "{seen}");
    assert!(plain > 1_500, "{seen}");
    assert!(plain_with_schema > 500, "{seen}");
    assert!(plain_with_implicit_uids > 50, "{seen}");
}
