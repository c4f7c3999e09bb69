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

#[cfg(test)]
mod tests {
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::{RngExt, SeedableRng};
    use serde_json::{Value, json};

    use crate::import::json::{sort_cedar_map, to_table};

    /// Keys that sort differently by bytes than by eye, escapes included.
    const KEYS: [&str; 9] = ["b", "a", "B", "__extn", "é", "a b", "", "z\"q", "10"];

    fn value(rng: &mut Xoshiro256PlusPlus, depth: u32) -> Value {
        let leaf = depth == 0 || rng.random_bool(0.5);
        match rng.random_range(0..if leaf { 9 } else { 11 }) {
            0 => Value::Null,
            1 => Value::Bool(rng.random_bool(0.5)),
            2 => json!(rng.random_range(-5_i64..5)),
            3 => json!(i64::MIN),
            4 => json!(u64::MAX),
            5 => json!(1.5),
            6 => json!(2.0),
            7 => Value::String(KEYS[rng.random_range(0..KEYS.len())].repeat(2)),
            8 => json!({ "__entity": { "type": "User", "id": "alice" } }),
            9 => Value::Array(
                (0..rng.random_range(0..4))
                    .map(|_| value(rng, depth - 1))
                    .collect(),
            ),
            _ => Value::Object(map(rng, depth - 1)),
        }
    }

    fn map(rng: &mut Xoshiro256PlusPlus, depth: u32) -> serde_json::Map<String, Value> {
        (0..rng.random_range(0..6))
            .map(|_| {
                (
                    KEYS[rng.random_range(0..KEYS.len())].to_string(),
                    value(rng, depth),
                )
            })
            .collect()
    }

    /// A logged context is kept as JSON with its keys sorted instead of as
    /// a TOML table read back as JSON when replayed: the two must be the
    /// same values in the same order, and refused alike.
    #[test]
    fn sorted_cedar_maps_are_tables_read_back() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(17);
        let (mut kept, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let original = map(&mut rng, 3);
            let mut sorted = original.clone();
            let accepted = sort_cedar_map(&mut sorted).is_ok();
            match to_table(&original) {
                Ok(table) => {
                    assert!(accepted, "refused {original:?}");
                    let read_back = super::table_to_json(&table).unwrap();
                    // Compared as text: map equality ignores the order.
                    assert_eq!(
                        serde_json::to_string(&sorted).unwrap(),
                        serde_json::to_string(&read_back).unwrap(),
                        "{original:?}"
                    );
                    kept += 1;
                }
                Err(_) => {
                    assert!(!accepted, "accepted {original:?}");
                    refused += 1;
                }
            }
        }
        assert!(
            kept > 1_000 && refused > 1_000,
            "{kept} kept, {refused} refused"
        );
    }
}
