//! TOML values to Cedar's JSON value form: strings, integers, booleans, arrays
//! and tables map directly; a TOML datetime becomes a Cedar `datetime`; entity
//! references and extension values use Cedar's `__entity` / `__extn` escapes.

use serde_json::{Map, Value, json};

/// How to write Cedar values in TOML, shown with any value error.
pub const HELP: &str = "values are Cedar JSON: strings, integers, booleans, arrays, records; entities as { __entity = { type = \"User\", id = \"alice\" } }; extension values as { __extn = { fn = \"decimal\", arg = \"1.5\" } }; a TOML date-time with an offset becomes a Cedar datetime";

/// Converts a TOML table to a JSON object of Cedar values.
pub fn table_to_json(table: &toml::Table) -> Result<Map<String, Value>, String> {
    table
        .iter()
        .map(|(key, value)| {
            Ok((
                key.clone(),
                to_json(value).map_err(|e| format!("`{key}`: {e}"))?,
            ))
        })
        .collect()
}

fn to_json(value: &toml::Value) -> Result<Value, String> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Float(f) => {
            return Err(format!(
                "{f} is a floating-point number, which Cedar does not have; use an integer or a decimal: {{ __extn = {{ fn = \"decimal\", arg = \"{f}\" }} }}"
            ));
        }
        toml::Value::Datetime(datetime) => {
            if datetime.date.is_none() || datetime.time.is_none() || datetime.offset.is_none() {
                return Err(format!(
                    "`{datetime}` needs a date, a time and an offset (e.g. `2026-06-01T09:00:00Z`) to be a Cedar datetime"
                ));
            }
            let text = datetime.to_string();
            let instant = privsim_model::time::Instant::parse_rfc3339(&text)?;
            json!({ "__extn": { "fn": "datetime", "arg": instant.to_string() } })
        }
        toml::Value::Array(items) => {
            Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(table) => Value::Object(table_to_json(table)?),
    })
}
