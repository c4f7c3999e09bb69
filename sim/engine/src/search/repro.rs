//! Repro scenarios for search findings: the original scenario file with its
//! workflow replaced by the finding's trace, the last step expecting `deny`.
//! `privsim run` on it fails while the policy allows the escalation, and
//! passes (guarding the fix) once it does not.
//!
//! The repro is written beside the original (same folder), so every path it
//! inherits (`policies`, `schema`, `entities`) still resolves. Everything but
//! `[[step]]` and point-in-time `[[access]]` is kept as written (comments are
//! not: the file is re-serialized).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::search::{Found, Move};
use crate::world::state::Machine;
use privsim_model::time::Instant;

/// The file name a repro gets: `<stem>.repro-<n>.toml` beside the scenario.
pub fn path_for(scenario: &Path, number: usize) -> PathBuf {
    let stem = scenario
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".to_string());
    scenario.with_file_name(format!("{stem}.repro-{number}.toml"))
}

/// Whether a path is a repro file (searching it again would only find the
/// same escalation).
pub fn is_repro(path: &Path) -> bool {
    path.file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.contains(".repro-"))
}

/// The repro scenario's TOML text.
pub fn render(machine: &Machine<'_>, found: &Found) -> Result<String, String> {
    let scenario = machine.scenario;
    let mut document: toml::Table =
        toml::from_str(&scenario.file.text).map_err(|e| e.message().to_string())?;
    document.remove("step");
    if let Some(toml::Value::Array(access)) = document.get_mut("access") {
        access.retain(|a| a.get("always").and_then(toml::Value::as_bool) == Some(true));
        if access.is_empty() {
            document.remove("access");
        }
    }
    if let Some(toml::Value::Table(header)) = document.get_mut("scenario") {
        let name = header
            .get("name")
            .and_then(toml::Value::as_str)
            .unwrap_or_default()
            .to_string();
        header.insert(
            "name".to_string(),
            toml::Value::String(format!("{name} (repro: {})", found.violation.kind)),
        );
        header.insert(
            "description".to_string(),
            toml::Value::String(format!(
                "Written by `privsim fuzz`: {}. The last step must be denied; it fails until the policies are fixed.",
                found.violation.message.trim_end_matches('.')
            )),
        );
    }
    let mut steps = Vec::new();
    let mut state = machine.initial();
    let last = found.trace.len().saturating_sub(1);
    for (index, mv) in found.trace.iter().enumerate() {
        match mv {
            Move::Advance(time) => state.time = (*time).max(state.time),
            Move::Request {
                actor,
                action,
                resource,
                extra,
            } => {
                let at = state.time;
                let outcome = machine.act(&mut state, *actor, action, resource, extra);
                let mut step = toml::Table::new();
                let a = &machine.actors[*actor];
                if index == last {
                    step.insert(
                        "name".to_string(),
                        toml::Value::String(format!(
                            "privsim fuzz: {} ({})",
                            found.violation.kind, found.violation.message
                        )),
                    );
                }
                step.insert(
                    "at".to_string(),
                    toml::Value::String(offset(scenario.start, at)),
                );
                match a.session {
                    Some(s) => step.insert(
                        "session".to_string(),
                        toml::Value::String(scenario.sessions[s].id.clone()),
                    ),
                    None => step.insert(
                        "principal".to_string(),
                        toml::Value::String(a.principal.to_string()),
                    ),
                };
                step.insert(
                    "action".to_string(),
                    toml::Value::String(action.to_string()),
                );
                step.insert(
                    "resource".to_string(),
                    toml::Value::String(resource.to_string()),
                );
                if !extra.is_empty() {
                    let mut context = toml::Table::new();
                    for (key, value) in extra {
                        if let Some(value) = to_toml(value) {
                            context.insert(key.clone(), value);
                        }
                    }
                    step.insert("context".to_string(), toml::Value::Table(context));
                }
                // Only the last step has an expectation: the moves before it
                // set the scene, and a fix may well deny some of them too.
                if index == last {
                    let expect = if found.violation.missing {
                        "allow"
                    } else {
                        "deny"
                    };
                    step.insert(
                        "expect".to_string(),
                        toml::Value::String(expect.to_string()),
                    );
                } else {
                    step.insert(
                        "name".to_string(),
                        toml::Value::String(format!(
                            "move {}: {} when found{}",
                            index + 1,
                            outcome.decision,
                            if outcome.effects.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", outcome.effects.join("; "))
                            }
                        )),
                    );
                }
                steps.push(toml::Value::Table(step));
            }
        }
    }
    document.insert("step".to_string(), toml::Value::Array(steps));
    let body = toml::to_string(&document).map_err(|e| e.to_string())?;
    Ok(format!(
        "# Repro of an escalation found by `privsim fuzz` in {}.\n# Replay it with `privsim run <this file>`; the last step expects the fix.\n\n{body}",
        scenario.file.display
    ))
}

/// `+1h30m`-style offset of `at` from `start`.
fn offset(start: Instant, at: Instant) -> String {
    let mut millis = (at.0 - start.0).max(0);
    if millis == 0 {
        return "+0s".to_string();
    }
    let mut text = String::from("+");
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if millis >= size {
            text.push_str(&format!("{}{unit}", millis / size));
            millis %= size;
        }
    }
    if millis > 0 {
        text.push_str(&format!("{millis}ms"));
    }
    text
}

/// A Cedar JSON value as TOML (entities and extension values keep their
/// `__entity` / `__extn` escapes, which the scenario format reads back).
fn to_toml(value: &Value) -> Option<toml::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => toml::Value::Integer(n.as_i64()?),
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(items) => toml::Value::Array(items.iter().filter_map(to_toml).collect()),
        Value::Object(map) => toml::Value::Table(
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), to_toml(v)?)))
                .collect(),
        ),
    })
}
