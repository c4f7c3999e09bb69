//! The universe of a principal: which (action, resource) pairs could apply to it.
//! With a schema, an action's resources are every world entity of the resource
//! types the schema gives it; without one, the resource types its steps use
//! and its policies' resource scopes can reach ([`pairs`]).

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use cedar_policy::{ActionConstraint, EntityUid, ResourceConstraint};

use crate::load::Scenario;
use crate::world::World;

/// The resource types `action` applies to in this scenario.
pub fn resource_types(scenario: &Scenario, action: &EntityUid) -> Result<BTreeSet<String>, String> {
    match &scenario.schema {
        Some(schema) => match schema.resources_for_action(action) {
            Some(types) => Ok(types.map(ToString::to_string).collect()),
            None => Err(format!("the schema has no action `{action}`")),
        },
        None => Ok(without_schema(scenario)
            .remove(&action.to_string())
            .map(|(_, types)| types)
            .unwrap_or_default()),
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
/// types that action applies to. Without a schema: the actions and resource
/// types its steps and policies can reach (the rules are on `without_schema`).
pub fn pairs(scenario: &Scenario, principal: &EntityUid) -> Vec<(EntityUid, Vec<EntityUid>)> {
    let principal_type = principal.type_name().to_string();
    let by_action = match &scenario.schema {
        Some(schema) => {
            let mut by_action = BTreeMap::new();
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
            by_action
        }
        None => without_schema(scenario),
    };
    by_action
        .into_values()
        .map(|(action, types)| (action, entities_of_types(&scenario.world, &types)))
        .filter(|(_, resources)| !resources.is_empty())
        .collect()
}

/// [`pairs`] flattened to (action, resource) pairs, grouped by action in
/// the same order.
pub fn flattened(scenario: &Scenario, principal: &EntityUid) -> Vec<(EntityUid, EntityUid)> {
    pairs(scenario, principal)
        .into_iter()
        .flat_map(|(action, resources)| resources.into_iter().map(move |r| (action.clone(), r)))
        .collect()
}

/// Without a schema, the actions of the steps and of the policy scopes, each
/// with the resource types that can reach it:
/// - the types of its steps' resources, and the types its policies' resource
///   scopes name (`is T`, `== T::"x"`);
/// - for a scope `resource in E`: the type of `E` and of every world entity
///   under `E` at any time of the run;
/// - for an open scope (`resource`): every resource type the scenario uses
///   anywhere (its steps, any policy's resource scope), since Cedar lets such a
///   policy match any of them.
fn without_schema(scenario: &Scenario) -> BTreeMap<String, (EntityUid, BTreeSet<String>)> {
    let mut by_action: BTreeMap<String, (EntityUid, BTreeSet<String>)> = BTreeMap::new();
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
    // What each policy's resource scope reaches, and every type used at all.
    let mut used: BTreeSet<String> = scenario
        .steps
        .iter()
        .map(|s| s.resource.type_name().to_string())
        .collect();
    let mut reaches: Vec<Option<BTreeSet<String>>> = Vec::with_capacity(policies.len());
    for policy in &policies {
        let types = match policy.resource_constraint() {
            ResourceConstraint::Is(name) => Some(BTreeSet::from([name.to_string()])),
            ResourceConstraint::Eq(uid) => Some(BTreeSet::from([uid.type_name().to_string()])),
            ResourceConstraint::IsIn(name, _) => Some(BTreeSet::from([name.to_string()])),
            ResourceConstraint::In(ancestor) => Some(under(&scenario.world, &ancestor)),
            ResourceConstraint::Any => None,
        };
        if let Some(types) = &types {
            used.extend(types.iter().cloned());
        }
        reaches.push(types);
    }
    for (policy, types) in policies.iter().zip(&reaches) {
        let types = types.as_ref().unwrap_or(&used);
        for (key, (_, action_types)) in by_action.iter_mut() {
            let covers = match policy.action_constraint() {
                ActionConstraint::Any => true,
                ActionConstraint::Eq(action) => &action.to_string() == key,
                ActionConstraint::In(actions) => actions.iter().any(|a| &a.to_string() == key),
            };
            if covers {
                action_types.extend(types.iter().cloned());
            }
        }
    }
    by_action
}

/// The type of `ancestor` and of every base entity under it in some segment
/// of the world.
fn under(world: &World, ancestor: &EntityUid) -> BTreeSet<String> {
    let mut types = BTreeSet::from([ancestor.type_name().to_string()]);
    for key in world.base.keys() {
        let Ok(uid) = EntityUid::from_str(key) else {
            continue;
        };
        if world.segments.iter().any(|segment| {
            segment
                .entities
                .ancestors(&uid)
                .is_some_and(|mut ancestors| ancestors.any(|a| a == ancestor))
        }) {
            types.insert(uid.type_name().to_string());
        }
    }
    types
}
