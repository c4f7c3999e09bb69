//! Proof results as the result model's data: a request environment's verdict
//! (`EnvProof`), a confirmed counterexample with the policies that allow it
//! (`ProofCounterexample`), and the repro scenario that replays one.

use cedar_policy::{Authorizer, EntityUid};

use super::{Counterexample, EnvPresence, EnvResult, Verdict};
use crate::load::Scenario;
use privsim_model::check::{EnvProof, PolicyRef, ProofCounterexample, ProofVerdict, Side};

/// One environment's verdict as data (the counterexample is left to the caller).
/// `sides` names the quantified side and the other one, for an environment
/// that only one side's schema has; `None` when both sides read one schema
/// (a never rule's proof), so every environment is in both.
pub fn env_proof(result: &EnvResult, sides: Option<(Side, Side)>) -> EnvProof {
    let (verdict, reason) = match &result.verdict {
        Verdict::Proven => (ProofVerdict::Proven, None),
        Verdict::Refuted { .. } => (ProofVerdict::Refuted, None),
        Verdict::Unknown { reason } => (ProofVerdict::Unknown, Some(reason.to_string())),
        Verdict::NotApplicable { note } => (ProofVerdict::NotApplicable, Some(note.clone())),
    };
    EnvProof {
        principal_type: result.env.principal().to_string(),
        action: result.env.action().to_string(),
        resource_type: result.env.resource().to_string(),
        verdict,
        reason,
        counterexample: None,
        only_in: match result.presence {
            EnvPresence::Both => None,
            EnvPresence::QuantifiedSideOnly => sides.map(|(quantified, _)| quantified),
            EnvPresence::OtherSideOnly => sides.map(|(_, other)| other),
        },
    }
}

/// The counterexample as data, with the policies of `allowing` that Cedar
/// says allow it.
pub fn counterexample_view(
    counterexample: &Counterexample,
    allowing: &Scenario,
) -> ProofCounterexample {
    let request = &counterexample.request;
    let uid = |u: Option<&EntityUid>| u.map(ToString::to_string).unwrap_or_default();
    let context = request
        .context()
        .and_then(|c| c.to_json_value().ok())
        .unwrap_or(serde_json::Value::Object(serde_json::Map::new()));
    let entities = entities_json(&counterexample.entities);
    let response =
        Authorizer::new().is_authorized(request, &allowing.policies.set, &counterexample.entities);
    let mut policies: Vec<PolicyRef> = response
        .diagnostics()
        .reason()
        .map(|id| PolicyRef {
            id: id.to_string(),
            location: allowing
                .policies
                .location(id.as_ref())
                .map(|(file, line)| format!("{file}:{line}")),
        })
        .collect();
    policies.sort();
    ProofCounterexample {
        principal: uid(request.principal()),
        action: uid(request.action()),
        resource: uid(request.resource()),
        context,
        entities,
        policies,
        repro: None,
    }
}

/// A repro scenario for a counterexample of a proof over `scenario`'s
/// policies: beside the scenario (so its `policies`, `links` and `schema`
/// paths resolve as written), with the counterexample's entities inline in
/// place of the scenario's world, and one step, the counterexample's request,
/// expecting `deny`. `privsim run` on it fails while the policies allow the
/// request. Nothing else of the scenario is kept: its sessions, grants and
/// rules name entities of a world the repro does not have.
pub fn repro_scenario(
    scenario: &Scenario,
    counterexample: &Counterexample,
    description: &str,
) -> Result<String, String> {
    use toml::{Table, Value};
    let to_toml = |json: &serde_json::Value| -> Result<Value, String> {
        Value::try_from(json).map_err(|e| e.to_string())
    };
    let original: Table =
        toml::from_str(&scenario.file.text).map_err(|e| e.message().to_string())?;
    let mut header = Table::new();
    let name = original
        .get("scenario")
        .and_then(|s| s.get("name"))
        .and_then(Value::as_str)
        .unwrap_or(&scenario.name);
    header.insert(
        "name".into(),
        Value::String(format!("{name} (repro: proof)")),
    );
    header.insert("description".into(), Value::String(description.to_string()));
    for key in ["policies", "links", "schema", "validate"] {
        if let Some(value) = original.get("scenario").and_then(|s| s.get(key)) {
            header.insert(key.into(), value.clone());
        }
    }
    header.insert("start".into(), Value::String(scenario.start.to_string()));
    let mut document = Table::new();
    document.insert("scenario".into(), Value::Table(header));
    let entities = entity_tables(&counterexample.entities)?;
    if !entities.is_empty() {
        document.insert("entity".into(), Value::Array(entities));
    }
    let request = &counterexample.request;
    let uid = |u: Option<&EntityUid>| u.map(ToString::to_string).unwrap_or_default();
    let mut step = Table::new();
    step.insert("principal".into(), Value::String(uid(request.principal())));
    step.insert("action".into(), Value::String(uid(request.action())));
    step.insert("resource".into(), Value::String(uid(request.resource())));
    if let Some(context) = request.context().and_then(|c| c.to_json_value().ok())
        && context.as_object().is_some_and(|m| !m.is_empty())
    {
        step.insert("context".into(), to_toml(&context)?);
    }
    step.insert("expect".into(), Value::String("deny".into()));
    document.insert("step".into(), Value::Array(vec![Value::Table(step)]));
    let body = toml::to_string(&document).map_err(|e| e.to_string())?;
    Ok(format!(
        "# A counterexample of a proof, confirmed by Cedar.\n{body}"
    ))
}

/// A store as Cedar's entities JSON, sorted by uid, each entity's parents
/// sorted and its attributes and tags by name: Cedar's store, an entity's
/// parents and the attribute and tag maps of its JSON form (`HashMap`s,
/// which this workspace's `serde_json`, keeping insertion order, does not
/// sort) iterate in hash order, which differs between runs.
pub(super) fn entities_json(store: &cedar_policy::Entities) -> serde_json::Value {
    let mut entities = store
        .to_json_value()
        .unwrap_or(serde_json::Value::Array(Vec::new()));
    if let Some(list) = entities.as_array_mut() {
        list.sort_by_cached_key(|entity| entity["uid"].to_string());
        for entity in list {
            if let Some(parents) = entity.get_mut("parents").and_then(|p| p.as_array_mut()) {
                parents.sort_by_cached_key(ToString::to_string);
            }
            for key in ["attrs", "tags"] {
                if let Some(map) = entity.get_mut(key).and_then(|m| m.as_object_mut()) {
                    map.sort_keys();
                }
            }
        }
    }
    entities
}

/// A counterexample's entities as `[[entity]]` tables of a repro scenario,
/// sorted by uid (Cedar iterates a store in hash order); actions are left
/// out, the schema declares them.
pub(crate) fn entity_tables(store: &cedar_policy::Entities) -> Result<Vec<toml::Value>, String> {
    use toml::{Table, Value};
    let to_toml = |json: &serde_json::Value| -> Result<Value, String> {
        Value::try_from(json).map_err(|e| e.to_string())
    };
    let mut entities = Vec::new();
    let mut sorted: Vec<_> = store.iter().collect();
    sorted.sort_by_cached_key(|entity| entity.uid().to_string());
    for entity in sorted {
        let uid = entity.uid();
        let type_name = uid.type_name().to_string();
        if type_name == "Action" || type_name.ends_with("::Action") {
            continue;
        }
        let json = entity.to_json_value().map_err(|e| e.to_string())?;
        let mut table = Table::new();
        table.insert("uid".into(), Value::String(uid.to_string()));
        // Sorted: an entity's parents iterate in hash order.
        let mut parents: Vec<String> = json["parents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| EntityUid::from_json(p.clone()).ok())
            .map(|p| p.to_string())
            .collect();
        parents.sort();
        let parents: Vec<Value> = parents.into_iter().map(Value::String).collect();
        if !parents.is_empty() {
            table.insert("parents".into(), Value::Array(parents));
        }
        for key in ["attrs", "tags"] {
            if let Some(map) = json[key].as_object().filter(|m| !m.is_empty()) {
                table.insert(
                    key.into(),
                    to_toml(&serde_json::Value::Object(map.clone()))?,
                );
            }
        }
        entities.push(Value::Table(table));
    }
    Ok(entities)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entity with many parents: Cedar keeps them in a hash set, so
    /// without sorting, their order would change from one run to the next.
    fn store() -> cedar_policy::Entities {
        let parents: Vec<serde_json::Value> = (0..16)
            .rev()
            .map(|i| serde_json::json!({"type": "Group", "id": format!("g{i:02}")}))
            .collect();
        // Attributes and tags too: Cedar's JSON form keeps them in hash
        // maps.
        let named = |prefix: &str| -> serde_json::Map<String, serde_json::Value> {
            (0..16)
                .rev()
                .map(|i| (format!("{prefix}{i:02}"), serde_json::json!(i)))
                .collect()
        };
        let mut list = vec![serde_json::json!({
            "uid": {"type": "User", "id": "alice"},
            "attrs": named("a"),
            "parents": parents,
            "tags": named("t"),
        })];
        list.extend((0..16).map(|i| {
            serde_json::json!({"uid": {"type": "Group", "id": format!("g{i:02}")}, "attrs": {}, "parents": []})
        }));
        cedar_policy::Entities::from_json_value(serde_json::Value::Array(list), None).unwrap()
    }

    fn expected_parents() -> Vec<String> {
        (0..16).map(|i| format!("Group::\"g{i:02}\"")).collect()
    }

    #[test]
    fn counterexample_entities_list_parents_attributes_and_tags_sorted() {
        let json = entities_json(&store());
        let alice = json
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["uid"]["id"] == "alice")
            .unwrap();
        let parents: Vec<String> = alice["parents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| EntityUid::from_json(p.clone()).unwrap().to_string())
            .collect();
        assert_eq!(parents, expected_parents());
        for (key, prefix) in [("attrs", "a"), ("tags", "t")] {
            let names: Vec<&String> = alice[key].as_object().unwrap().keys().collect();
            let expected: Vec<String> = (0..16).map(|i| format!("{prefix}{i:02}")).collect();
            assert_eq!(names, expected.iter().collect::<Vec<_>>(), "{key}");
        }
    }

    #[test]
    fn repro_entity_tables_list_parents_sorted() {
        let tables = entity_tables(&store()).unwrap();
        let alice = tables
            .iter()
            .find(|t| t["uid"].as_str() == Some("User::\"alice\""))
            .unwrap();
        let parents: Vec<&str> = alice["parents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert_eq!(parents, expected_parents());
    }
}
