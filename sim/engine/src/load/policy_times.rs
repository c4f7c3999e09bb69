//! The moments policies name: every `datetime("...")` literal in a policy set,
//! and Cedar's forms of it read as instants. Accounting evaluates at them and
//! the search moves the clock to them.

use std::collections::BTreeSet;

use cedar_policy::PolicySet;
use privsim_model::time::Instant;
use serde_json::Value;

/// The text of every `datetime("...")` literal in the policies and templates
/// (read from their JSON form, so comments and spacing do not matter).
pub fn policy_datetime_literals(policies: &PolicySet) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let jsons = policies
        .policies()
        .filter_map(|p| p.to_json().ok())
        .chain(policies.templates().filter_map(|t| t.to_json().ok()));
    for json in jsons {
        collect_datetimes(&json, &mut found);
    }
    found
}

fn collect_datetimes(json: &Value, found: &mut BTreeSet<String>) {
    match json {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "datetime"
                    && let Some(text) = value
                        .get(0)
                        .and_then(|arg| arg.get("Value"))
                        .and_then(Value::as_str)
                {
                    found.insert(text.to_string());
                }
                collect_datetimes(value, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_datetimes(item, found)),
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
