//! The editor schemas (`sim/engine/schemas/*.schema.json`): generated from the
//! loader's serde types and committed, so a test fails when they are stale;
//! every example file matches them, and a typo'd key is caught by the schema
//! as it is by the loader.
#![expect(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::path::{Path, PathBuf};

use privsim::diag::SourceFile;

use crate::common::workspace_root;

/// Set to `1` to rewrite the committed schemas from the serde types.
const UPDATE: &str = "PRIVSIM_UPDATE_SCHEMAS";

fn committed(name: &str) -> PathBuf {
    workspace_root().join("sim/engine/schemas").join(name)
}

/// Compares a generated schema with its committed copy (or rewrites it with
/// `PRIVSIM_UPDATE_SCHEMAS=1`).
fn check_current(name: &str, generated: &str, embedded: &str) {
    let path = committed(name);
    if std::env::var(UPDATE).is_ok_and(|v| v == "1") {
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap();
    assert!(
        on_disk == generated,
        "{} is stale: the serde types changed. Regenerate it with \
         `{UPDATE}=1 cargo test -p privsim --test it schema` and commit it",
        path.display()
    );
    // The copy compiled into the binary (what `privsim init` writes) is the
    // committed file.
    assert_eq!(embedded, on_disk);
}

#[test]
fn committed_scenario_schema_is_current() {
    check_current(
        "scenario.schema.json",
        &privsim::schema::generate_scenario(),
        privsim::schema::SCENARIO,
    );
}

#[test]
fn committed_world_schema_is_current() {
    check_current(
        "world.schema.json",
        &privsim::schema::generate_world(),
        privsim::schema::WORLD,
    );
}

#[test]
fn committed_gate_schema_is_current() {
    check_current(
        "privsim-gate.schema.json",
        &privsim::schema::generate_gate_config(),
        privsim::schema::GATE_CONFIG,
    );
}

/// TOML as an editor hands it to a JSON Schema validator: dates and times
/// become strings.
fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => s.clone().into(),
        toml::Value::Integer(i) => (*i).into(),
        toml::Value::Float(f) => (*f).into(),
        toml::Value::Boolean(b) => (*b).into(),
        toml::Value::Datetime(d) => d.to_string().into(),
        toml::Value::Array(items) => items.iter().map(toml_to_json).collect(),
        toml::Value::Table(table) => table
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// The schema's complaints about a TOML text, as `message at path` lines.
fn schema_errors(schema: &str, toml_text: &str) -> Vec<String> {
    let schema: serde_json::Value = serde_json::from_str(schema).unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let document = toml_to_json(&toml::from_str::<toml::Value>(toml_text).unwrap());
    validator
        .iter_errors(&document)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn toml_files(folder: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            toml_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "toml") {
            found.push(path);
        }
    }
}

#[test]
fn every_example_scenario_matches_the_schema() {
    let mut files = Vec::new();
    toml_files(&workspace_root().join("scenarios"), &mut files);
    files.sort();
    assert!(files.len() > 10, "the examples moved: {files:?}");
    for file in files {
        let schema = if privsim::load::is_shared_world(&file) {
            privsim::schema::WORLD
        } else {
            privsim::schema::SCENARIO
        };
        let errors = schema_errors(schema, &std::fs::read_to_string(&file).unwrap());
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
}

#[test]
fn every_gate_config_matches_the_schema() {
    let root = workspace_root();
    let mut files = vec![root.join("privsim-gate.toml")];
    toml_files(&root.join("sim/tests/check/configs"), &mut files);
    for file in files {
        let errors = schema_errors(
            privsim::schema::GATE_CONFIG,
            &std::fs::read_to_string(&file).unwrap(),
        );
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
}

/// A typo'd key in a step (`expcet` for `expect`) is underlined by the schema
/// at the step that holds it, and the loader rejects the same file at the
/// same key.
#[test]
fn schema_catches_a_typod_scenario_key() {
    let path = workspace_root().join("scenarios/ticket-agent/least-privilege.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        schema_errors(privsim::schema::SCENARIO, &text).is_empty(),
        "the untouched example must match"
    );
    let typo = text.replacen("\nexpect = ", "\nexpcet = ", 1);
    assert_ne!(typo, text, "the example has no `expect` key to misspell");

    let errors = schema_errors(privsim::schema::SCENARIO, &typo);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("expcet"), "{errors:#?}");
    assert!(errors[0].ends_with("at /step/0"), "{errors:#?}");

    let file = SourceFile::from_text(path.clone(), path.display().to_string(), typo);
    let error = privsim::load::parse_toml(&file).unwrap_err().to_string();
    assert!(error.contains("expcet"), "{error}");
}

#[test]
fn schema_catches_a_typod_gate_key() {
    let text = std::fs::read_to_string(workspace_root().join("privsim-gate.toml")).unwrap();
    let typo = text.replacen("new_access = true", "new_acess = true", 1);
    assert_ne!(typo, text);
    let errors = schema_errors(privsim::schema::GATE_CONFIG, &typo);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("new_acess"), "{errors:#?}");
    assert!(errors[0].ends_with("at /fail_on"), "{errors:#?}");

    // A value of the wrong type is caught too, not only names.
    let wrong = text.replacen("depth = 4", "depth = \"four\"", 1);
    assert_ne!(wrong, text);
    let errors = schema_errors(privsim::schema::GATE_CONFIG, &wrong);
    assert!(
        errors.iter().any(|e| e.ends_with("at /search/depth")),
        "{errors:#?}"
    );
}
