//! The universe of a principal: which (action, resource) pairs could apply to it.
//! With a schema, an action's resources are every world entity of the resource
//! types the schema gives it; without one, the resource types its steps use.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use cedar_policy::{ActionConstraint, EntityUid, ResourceConstraint};

use crate::scenario::Scenario;
use crate::world::World;

/// The resource types `action` applies to in this scenario.
pub fn resource_types(scenario: &Scenario, action: &EntityUid) -> Result<BTreeSet<String>, String> {
    match &scenario.schema {
        Some(schema) => match schema.resources_for_action(action) {
            Some(types) => Ok(types.map(ToString::to_string).collect()),
            None => Err(format!("the schema has no action `{action}`")),
        },
        None => Ok(scenario
            .steps
            .iter()
            .filter(|s| &s.action == action)
            .map(|s| s.resource.type_name().to_string())
            .collect()),
    }
}

/// Every base entity of the world whose type is one of `types`, in UID order.
pub fn entities_of_types(world: &World, types: &BTreeSet<String>) -> Vec<EntityUid> {
    world
        .base
        .keys()
        .filter_map(|key| EntityUid::from_str(key).ok())
        .filter(|uid| types.contains(&uid.type_name().to_string()))
        .collect()
}

/// The universe U(p) of a principal, grouped by action: each action the schema
/// lets the principal's type perform, with every world entity of the resource
/// types that action applies to. Without a schema: the actions of the steps and
/// policy scopes, each with the entities of the resource types its steps use or
/// its policies' resource scopes name (`is T`, `== T::"x"`).
pub fn pairs(scenario: &Scenario, principal: &EntityUid) -> Vec<(EntityUid, Vec<EntityUid>)> {
    let principal_type = principal.type_name().to_string();
    let mut by_action: BTreeMap<String, (EntityUid, BTreeSet<String>)> = BTreeMap::new();
    match &scenario.schema {
        Some(schema) => {
            for action in schema.actions() {
                let applies = schema
                    .principals_for_action(action)
                    .is_some_and(|mut types| types.any(|t| t.to_string() == principal_type));
                if applies {
                    let types = schema
                        .resources_for_action(action)
                        .map(|types| types.map(ToString::to_string).collect())
                        .unwrap_or_default();
                    by_action.insert(action.to_string(), (action.clone(), types));
                }
            }
        }
        None => {
            for step in &scenario.steps {
                by_action
                    .entry(step.action.to_string())
                    .or_insert_with(|| (step.action.clone(), BTreeSet::new()))
                    .1
                    .insert(step.resource.type_name().to_string());
            }
            let policies: Vec<_> = scenario.policies.set.policies().collect();
            for policy in &policies {
                if let ActionConstraint::Eq(action) = policy.action_constraint() {
                    by_action
                        .entry(action.to_string())
                        .or_insert_with(|| (action.clone(), BTreeSet::new()));
                } else if let ActionConstraint::In(actions) = policy.action_constraint() {
                    for action in actions {
                        by_action
                            .entry(action.to_string())
                            .or_insert_with(|| (action.clone(), BTreeSet::new()));
                    }
                }
            }
            for policy in &policies {
                let named = match policy.resource_constraint() {
                    ResourceConstraint::Is(name) | ResourceConstraint::IsIn(name, _) => {
                        Some(name.to_string())
                    }
                    ResourceConstraint::Eq(uid) => Some(uid.type_name().to_string()),
                    ResourceConstraint::Any | ResourceConstraint::In(_) => None,
                };
                let Some(named) = named else { continue };
                for (key, (_, types)) in by_action.iter_mut() {
                    let covers = match policy.action_constraint() {
                        ActionConstraint::Any => true,
                        ActionConstraint::Eq(action) => &action.to_string() == key,
                        ActionConstraint::In(actions) => {
                            actions.iter().any(|a| &a.to_string() == key)
                        }
                    };
                    if covers {
                        types.insert(named.clone());
                    }
                }
            }
        }
    }
    by_action
        .into_values()
        .map(|(action, types)| (action, entities_of_types(&scenario.world, &types)))
        .filter(|(_, resources)| !resources.is_empty())
        .collect()
}
