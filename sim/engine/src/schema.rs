//! JSON Schemas of the files people write by hand, a scenario, a shared
//! world and `privsim-gate.toml`, for editors (Taplo / Even Better TOML read a
//! `#:schema` line): keys complete and unknown keys underline while typing.
//!
//! The schemas are generated from the loader's own serde types
//! (`load::raw`, `gate::config`) with schemars behind the `json-schema`
//! feature, so the shipped binary does not carry schemars; the committed
//! copies below are what `privsim init` writes, and a test fails when they
//! are stale (`sim/engine/tests/it/schema.rs`). The loader stays the
//! authority: the schema checks shape and key names, not entity literals,
//! times or references.

/// The committed JSON Schema of a scenario file.
pub const SCENARIO: &str = include_str!("../schemas/scenario.schema.json");

/// The committed JSON Schema of a shared world file (`world = "..."` in a
/// scenario's `[scenario]`).
pub const WORLD: &str = include_str!("../schemas/world.schema.json");

/// The committed JSON Schema of `privsim-gate.toml`.
pub const GATE_CONFIG: &str = include_str!("../schemas/privsim-gate.schema.json");

/// The scenario schema generated from the serde types, as committed (pretty
/// JSON with a final newline).
#[cfg(feature = "json-schema")]
pub fn generate_scenario() -> String {
    let mut schema = generator().into_root_schema_for::<crate::load::raw::RawScenario>();
    schema.insert("title".into(), "privsim scenario".into());
    pretty(&schema)
}

/// The shared world schema generated from the serde types, as committed.
#[cfg(feature = "json-schema")]
pub fn generate_world() -> String {
    let mut schema = generator().into_root_schema_for::<crate::load::raw::RawWorld>();
    schema.insert("title".into(), "privsim shared world".into());
    pretty(&schema)
}

/// The `privsim-gate.toml` schema generated from the serde types, as committed.
#[cfg(feature = "json-schema")]
pub fn generate_gate_config() -> String {
    let mut schema = generator().into_root_schema_for::<crate::gate::config::RawConfig>();
    schema.insert(
        "title".into(),
        "privsim gate configuration (privsim-gate.toml)".into(),
    );
    schema.insert(
        "description".into(),
        "Which kinds of change fail `privsim check`, budgets, the search and proofs, and acknowledged exceptions (docs/check.md)".into(),
    );
    pretty(&schema)
}

/// Draft 7: the newest draft Taplo and most editors read.
#[cfg(feature = "json-schema")]
pub(crate) fn generator() -> schemars::SchemaGenerator {
    schemars::generate::SchemaSettings::draft07().into_generator()
}

#[cfg(feature = "json-schema")]
fn pretty(schema: &schemars::Schema) -> String {
    let mut value = schema.as_value().clone();
    without_null(&mut value);
    // A JSON value; printing one cannot fail.
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// TOML has no null: an optional key is one that may be left out, so the
/// `null` schemars allows for an `Option` only clutters completion.
#[cfg(feature = "json-schema")]
fn without_null(value: &mut serde_json::Value) {
    use serde_json::Value;
    let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t.as_str() != Some("null"));
                if let [single] = types.as_slice() {
                    let single = single.clone();
                    map.insert("type".into(), single);
                }
            }
            if let Some(Value::Array(options)) = map.get_mut("anyOf") {
                options.retain(|o| !is_null(o));
                if let [single] = options.as_slice()
                    && let Value::Object(inner) = single.clone()
                {
                    map.remove("anyOf");
                    map.extend(inner);
                }
            }
            map.values_mut().for_each(without_null);
        }
        Value::Array(items) => items.iter_mut().for_each(without_null),
        _ => {}
    }
}
