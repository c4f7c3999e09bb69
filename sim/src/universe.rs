//! The universe of a principal: which (action, resource) pairs could apply to it.
//! With a schema, an action's resources are every world entity of the resource
//! types the schema gives it; without one, the resource types its steps use.

use std::collections::BTreeSet;
use std::str::FromStr;

use cedar_policy::EntityUid;

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
