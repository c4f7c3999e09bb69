//! Repro scenarios for search findings: the original scenario file with its
//! workflow replaced by the finding's trace, the last step expecting `deny`.
//! `privsim run` on it fails while the policy allows the escalation, and
//! passes (guarding the fix) once it does not.
//!
//! The repro is written beside the original (same folder), so every path it
//! inherits (`policies`, `schema`, `entities`) still resolves. Everything but
//! `[[step]]` and point-in-time `[[access]]` is kept as written (comments are
//! not: the file is re-serialized).
//!
//! With `privsim fuzz --repro-dir DIR` it is written outside the source tree
//! instead ([`write_in_dir`]): each repro gets a folder of its own holding a
//! copy of every file the scenario was loaded from, laid out as they were, so
//! the same relative paths resolve there.

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

/// Writes a repro into a folder of its own under `dir`,
/// `<stem>.repro-<n>/`, with `n` the first number from `*number + 1` whose
/// folder does not exist yet (created exclusively, so an existing repro is
/// never written over, even by a run at the same moment). The folder holds a
/// copy of each of the scenario's input files (`Scenario::inputs`: the
/// scenario, its shared world, schema, entities, template links and policy
/// files), laid out as they were below the deepest folder holding them all,
/// and the repro file at the scenario's place there. When the policies
/// searched were not the scenario's own (`privsim fuzz --policies`), they
/// are copied to `policies-searched/` beside the repro, which names them in
/// `policies`, so the repro replays the policies that allowed the escalation.
///
/// Returns the path of the repro file, below `dir` as given; `*number`
/// becomes the number used.
pub fn write_in_dir(
    scenario: &crate::load::Scenario,
    text: &str,
    dir: &Path,
    policies_overridden: bool,
    number: &mut usize,
) -> std::io::Result<PathBuf> {
    let inputs: Vec<&PathBuf> = scenario.inputs.iter().collect();
    let own = scenario.file.path.canonicalize()?;
    // The deepest folder holding every input.
    let mut base = own.parent().map(Path::to_path_buf).unwrap_or_default();
    for input in &inputs {
        while !input.starts_with(&base) {
            if !base.pop() {
                break;
            }
        }
    }
    let stem = own
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".to_string());
    std::fs::create_dir_all(dir)?;
    let folder = loop {
        *number += 1;
        let candidate = dir.join(format!("{stem}.repro-{number}"));
        match std::fs::create_dir(&candidate) {
            Ok(()) => break candidate,
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
    };
    for input in inputs {
        let Ok(relative) = input.strip_prefix(&base) else {
            continue;
        };
        if input == &own {
            continue;
        }
        let target = folder.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(input, &target)?;
    }
    let relative = own.strip_prefix(&base).unwrap_or(Path::new(""));
    let place = folder.join(relative.parent().unwrap_or(Path::new("")));
    std::fs::create_dir_all(&place)?;
    let text = if policies_overridden {
        let searched = place.join("policies-searched");
        std::fs::create_dir_all(&searched)?;
        let mut names = Vec::new();
        for (index, file) in scenario.policies.files.iter().enumerate() {
            let name = file
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "policies.cedar".to_string());
            // Numbered, so files of the same name from different folders
            // stay apart and keep their order.
            let name = format!("{:03}-{name}", index + 1);
            std::fs::write(searched.join(&name), file.text.as_bytes())?;
            names.push(format!("policies-searched/{name}"));
        }
        with_policies(text, &names).map_err(std::io::Error::other)?
    } else {
        text.to_string()
    };
    let file = place.join(format!("{stem}.repro-{number}.toml"));
    if !crate::output::write_new_file(&file, text.as_bytes())? {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("`{}` appeared while it was written", file.display()),
        ));
    }
    Ok(file)
}

/// A repro's text with `[scenario] policies` replaced by `policies`; the
/// comment lines it starts with are kept.
fn with_policies(text: &str, policies: &[String]) -> Result<String, String> {
    let header: String = text
        .lines()
        .take_while(|line| line.starts_with('#') || line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    let mut document: toml::Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
    if let Some(toml::Value::Table(scenario)) = document.get_mut("scenario") {
        scenario.insert(
            "policies".to_string(),
            toml::Value::Array(
                policies
                    .iter()
                    .map(|p| toml::Value::String(p.clone()))
                    .collect(),
            ),
        );
    }
    let body = toml::to_string(&document).map_err(|e| e.to_string())?;
    Ok(format!("{header}{body}"))
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
