//! The moments policies and data name: every `datetime("...")` and
//! `duration("...")` literal in a policy set, the time arithmetic the policies
//! do, datetime values in Cedar JSON data, and Cedar's forms of them read as
//! instants and milliseconds. Accounting evaluates at the moments and the
//! search moves the clock to them.

use std::collections::BTreeSet;

use privsim_model::time::Instant;
use serde_json::Value;

use crate::load::cedar_files::Policies;

/// The text of every `datetime("...")` literal in the policies and templates
/// (read from their JSON form, so comments and spacing do not matter).
pub fn policy_datetime_literals(policies: &Policies) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for json in policies.json().in_order(&policies.set).flatten() {
        collect_datetimes(json, &mut found);
    }
    found
}

fn collect_datetimes(json: &Value, found: &mut BTreeSet<String>) {
    collect_literals(json, "datetime", found);
}

/// The string literals given to the extension function `name` in a policy's
/// JSON form.
fn collect_literals(json: &Value, name: &str, found: &mut BTreeSet<String>) {
    match json {
        Value::Object(map) => {
            for (key, value) in map {
                if key == name
                    && let Some(text) = value
                        .get(0)
                        .and_then(|arg| arg.get("Value"))
                        .and_then(Value::as_str)
                {
                    found.insert(text.to_string());
                }
                collect_literals(value, name, found);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_literals(item, name, found)),
        _ => {}
    }
}

/// The datetime methods that compute a time or a span from others: a policy
/// using them may change its decision at moments no literal names.
pub const TIME_ARITHMETIC: [&str; 9] = [
    "offset",
    "durationSince",
    "toDate",
    "toTime",
    "toDays",
    "toHours",
    "toMinutes",
    "toSeconds",
    "toMilliseconds",
];

/// What the policies say about time beyond their datetime literals.
#[derive(Debug, Clone, Default)]
pub struct PolicyTimes {
    /// The `duration("...")` literals, in milliseconds.
    pub durations: BTreeSet<i64>,
    /// `duration` literals that could not be read.
    pub unread_durations: BTreeSet<String>,
    /// The [`TIME_ARITHMETIC`] methods used.
    pub arithmetic: BTreeSet<String>,
    /// Whether any policy reads `context.<key>` for the given fact keys.
    pub reads_facts: BTreeSet<String>,
    /// Every attribute (and context key) name the policies read or test
    /// with `has`.
    pub attributes: BTreeSet<String>,
}

/// The durations, time arithmetic and context keys of the policies and
/// templates (from their JSON form).
pub fn policy_times(policies: &Policies, fact_keys: &[&str]) -> PolicyTimes {
    let mut times = PolicyTimes::default();
    let mut durations = BTreeSet::new();
    for json in policies.json().in_order(&policies.set).flatten() {
        collect_literals(json, "duration", &mut durations);
        collect_keys(json, &mut times.arithmetic, &TIME_ARITHMETIC);
        collect_attributes(json, &mut times.attributes);
        let text = json.to_string();
        for key in fact_keys {
            if text.contains(&format!("\"attr\":\"{key}\"")) {
                times.reads_facts.insert((*key).to_string());
            }
        }
    }
    for text in durations {
        match cedar_duration(&text) {
            Some(millis) => {
                times.durations.insert(millis);
            }
            None => {
                times.unread_durations.insert(text);
            }
        }
    }
    times
}

fn collect_attributes(json: &Value, found: &mut BTreeSet<String>) {
    match json {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "attr"
                    && let Some(name) = value.as_str()
                {
                    found.insert(name.to_string());
                }
                collect_attributes(value, found);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_attributes(item, found)),
        _ => {}
    }
}

/// The datetimes in a Cedar JSON value that sit under one of `names` (at
/// any depth below it): the values of attributes or context keys a policy
/// reads.
pub fn datetimes_under(value: &Value, names: &BTreeSet<String>, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if names.contains(key) {
                    value_datetimes(inner, found);
                } else {
                    datetimes_under(inner, names, found);
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| datetimes_under(item, names, found)),
        _ => {}
    }
}

fn collect_keys(json: &Value, found: &mut BTreeSet<String>, names: &[&str]) {
    match json {
        Value::Object(map) => {
            for (key, value) in map {
                if names.contains(&key.as_str()) {
                    found.insert(key.clone());
                }
                collect_keys(value, found, names);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_keys(item, found, names)),
        _ => {}
    }
}

/// Parses Cedar's `duration()` form: an optional `-`, then one or more
/// amounts with units `d`, `h`, `m`, `s`, `ms`, largest first.
pub fn cedar_duration(text: &str) -> Option<i64> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let millis = privsim_model::time::parse_duration(rest).ok()?;
    Some(if negative { -millis } else { millis })
}

/// Every datetime in a Cedar JSON value (entity JSON, attribute values,
/// contexts): `{"__extn": {"fn": "datetime", "arg": "…"}}` and its short
/// form without `__extn`.
pub fn value_datetimes(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if map.get("fn").and_then(Value::as_str) == Some("datetime")
                && let Some(text) = map.get("arg").and_then(Value::as_str)
            {
                found.insert(text.to_string());
            }
            for inner in map.values() {
                value_datetimes(inner, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| value_datetimes(item, found)),
        _ => {}
    }
}

/// Parses the forms Cedar's `datetime()` accepts: a date, or a date and time in
/// UTC or with a `+hhmm` offset.
pub fn cedar_datetime(text: &str) -> Option<Instant> {
    if text.len() == 10 {
        return Instant::parse_rfc3339(&format!("{text}T00:00:00Z")).ok();
    }
    if let Ok(at) = Instant::parse_rfc3339(text) {
        return Some(at);
    }
    // `2025-01-01T10:00:00+0130` → `+01:30`
    let (head, offset) = text.split_at_checked(text.len().checked_sub(5)?)?;
    if offset.starts_with(['+', '-']) && offset[1..].bytes().all(|b| b.is_ascii_digit()) {
        return Instant::parse_rfc3339(&format!("{head}{}:{}", &offset[..3], &offset[3..])).ok();
    }
    None
}
