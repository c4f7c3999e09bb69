//! Same inputs, same bytes out: outputs that come from Cedar's hash-ordered
//! collections (a schema's `appliesTo` types, a policy's validation errors)
//! are sorted before they are written. Each test uses 16 or more elements,
//! so hash order (std's hasher is seeded per process and per map) differs
//! from the sorted order almost surely.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use privsim::load::{self as scenario, LoadOptions};

use crate::common::write_world;

/// The load error of a scenario that must not load, as its message.
fn load_error(test: &str, files: &[(&str, &str)]) -> String {
    let path = write_world(test, files);
    let loaded = scenario::load(&path, &LoadOptions::default());
    if let Some(folder) = path.parent() {
        let _ = std::fs::remove_dir_all(folder);
    }
    match loaded {
        Ok(_) => panic!("{test}: the scenario loaded"),
        Err(error) => error.to_string(),
    }
}

/// Sixteen entity type names, `T00` to `T15`, in sorted order.
fn types() -> Vec<String> {
    (0..16).map(|i| format!("T{i:02}")).collect()
}

/// Regression: an effect writing an attribute the schema does not give the
/// resource named the resource types in the order of Cedar's hash set.
#[test]
fn effect_attribute_error_names_the_types_sorted() {
    let types = types();
    let mut schema: String = types.iter().map(|t| format!("entity {t};\n")).collect();
    schema.push_str("entity User;\ntype Ctx = { now: datetime };\n");
    // Written in reverse, so the file's order is not the sorted one either.
    let resources: Vec<&str> = types.iter().rev().map(String::as_str).collect();
    schema.push_str(&format!(
        "action touch appliesTo {{ principal: [User], resource: [{}], context: Ctx }};\n",
        resources.join(", ")
    ));
    let policies = r#"@id("p") permit (principal, action, resource);"#;
    let entities = r#"[{"uid": {"type": "User", "id": "alice"}, "attrs": {}, "parents": []}]"#;
    let toml = r#"
[scenario]
name = "determinism"
policies = ["p.cedar"]
schema = "s.cedarschema"
entities = "entities.json"
start = "2026-06-01T09:00:00Z"

[facts]
now = "now"

[[effect]]
action = 'Action::"touch"'
set_attr = { entity = "resource", name = "expiers", value_of = "now" }
"#;
    let error = load_error(
        "determinism-effect-attribute",
        &[
            ("scenario.toml", toml),
            ("p.cedar", policies),
            ("s.cedarschema", &schema),
            ("entities.json", entities),
        ],
    );
    let named: Vec<String> = types.iter().map(|t| format!("`{t}`")).collect();
    let expected = format!(
        "the schema gives {} no attribute `expiers`",
        named.join(" or ")
    );
    assert!(
        error.contains(&expected),
        "expected `{expected}` in:\n{error}"
    );
}

/// Regression: Cedar's validator keeps a policy's type errors in a hash set,
/// so which error came first (the headline) and the order of the others
/// changed from one run to the next.
#[test]
fn validation_errors_come_in_source_order() {
    let attributes: Vec<String> = (0..16).map(|i| format!("a{i:02}")).collect();
    let reads: Vec<String> = attributes
        .iter()
        .map(|a| format!("principal.{a} == 1"))
        .collect();
    let policies = format!(
        "@id(\"p\") permit (principal, action, resource) when {{ {} }};",
        reads.join(" || ")
    );
    let schema = "entity User;\nentity Doc;\naction read appliesTo { principal: [User], resource: [Doc] };\n";
    let entities = r#"[{"uid": {"type": "User", "id": "alice"}, "attrs": {}, "parents": []}]"#;
    let toml = r#"
[scenario]
name = "determinism"
policies = ["p.cedar"]
schema = "s.cedarschema"
entities = "entities.json"
start = "2026-06-01T09:00:00Z"
"#;
    let path = write_world(
        "determinism-validation",
        &[
            ("scenario.toml", toml),
            ("p.cedar", &policies),
            ("s.cedarschema", schema),
            ("entities.json", entities),
        ],
    );
    let loaded = scenario::load(&path, &LoadOptions::default());
    if let Some(folder) = path.parent() {
        let _ = std::fs::remove_dir_all(folder);
    }
    let Err(error) = loaded else {
        panic!("the policies validated");
    };
    // The headline, then the related errors, each naming its attribute.
    let report = miette::Report::new(error);
    let mut messages = vec![report.to_string()];
    messages.extend(
        report
            .related()
            .into_iter()
            .flatten()
            .map(ToString::to_string),
    );
    let named: Vec<String> = messages
        .iter()
        .filter_map(|m| attributes.iter().find(|a| m.contains(&format!("`{a}`"))))
        .cloned()
        .collect();
    assert_eq!(named, attributes, "in:\n{messages:#?}");
}

/// A scenario of the schema `schema` (`.cedarschema`, or JSON when
/// `file_name` ends in `.json`) and nothing else.
fn schema_error(test: &str, file_name: &str, schema: &str) -> String {
    let toml = format!(
        r#"
[scenario]
name = "determinism"
policies = ["p.cedar"]
schema = "{file_name}"
entities = "entities.json"
start = "2026-06-01T09:00:00Z"
"#
    );
    let policies = r#"@id("p") permit (principal, action, resource);"#;
    load_error(
        test,
        &[
            ("scenario.toml", &toml),
            ("p.cedar", policies),
            (file_name, schema),
            ("entities.json", "[]"),
        ],
    )
}

/// Regression: Cedar lists a schema's undeclared types in hash order, and
/// locates the first of them: the message and its location changed from run
/// to run.
#[test]
fn undeclared_schema_types_are_named_sorted_and_located_at_the_first() {
    let names: Vec<String> = (0..16).map(|i| format!("Missing{i:02}")).collect();
    // Declared in reverse, so the file's order is not the sorted one either
    // (the first in the file is `Missing15`, on line 2).
    let mut schema = String::from("entity User;\n");
    for (at, name) in names.iter().enumerate().rev() {
        schema.push_str(&format!("entity E{at:02} in [{name}];\n"));
    }
    let error = schema_error("determinism-schema-types", "s.cedarschema", &schema);
    let expected = format!(
        "s.cedarschema:2:16: failed to resolve types: {}",
        names.join(", ")
    );
    assert!(
        error.contains(&expected),
        "expected `{expected}` in:\n{error}"
    );

    // The same in a JSON schema.
    let types: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(at, name)| {
            (
                format!("E{at:02}"),
                serde_json::json!({"memberOfTypes": [name]}),
            )
        })
        .collect();
    let json = serde_json::to_string_pretty(&serde_json::json!({"": {
        "entityTypes": types,
        "actions": {},
    }}))
    .unwrap();
    let error = schema_error("determinism-schema-types-json", "s.json", &json);
    let expected = format!("failed to resolve types: {}", names.join(", "));
    assert!(
        error.contains(&expected),
        "expected `{expected}` in:\n{error}"
    );
    // At the first of them in the file: `E00`'s `Missing00`.
    let at = json.find("\"Missing00\"").unwrap() + 1;
    let line = json[..at].lines().count();
    let column = at - json[..at].rfind('\n').map_or(0, |newline| newline + 1) + 1;
    let location = format!("s.json:{line}:{column}: failed");
    assert!(
        error.contains(&location),
        "expected `{location}` in:\n{error}"
    );
}

/// Regression: Cedar lists a schema's undeclared actions in hash order.
#[test]
fn undeclared_schema_actions_are_named_sorted() {
    let names: Vec<String> = (0..16).map(|i| format!("ghost{i:02}")).collect();
    let mut schema = String::from("entity User;\n");
    for (at, name) in names.iter().enumerate().rev() {
        schema.push_str(&format!(
            "action a{at:02} in [{name}] appliesTo {{ principal: [User], resource: [User] }};\n"
        ));
    }
    let error = schema_error("determinism-schema-actions", "s.cedarschema", &schema);
    let quoted: Vec<String> = names.iter().map(|n| format!("Action::\"{n}\"")).collect();
    let (last, rest) = quoted.split_last().unwrap();
    let expected = format!("undeclared actions: {}, and {last}", rest.join(", "));
    assert!(
        error.contains(&expected),
        "expected `{expected}` in:\n{error}"
    );
}
