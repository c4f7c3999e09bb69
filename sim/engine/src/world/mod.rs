//! The simulated world over time: the base entities plus whichever grants are
//! active, precomputed as one Cedar entity store per stretch of time in which
//! nothing changes.

mod rows;
pub mod slices;
pub mod state;
pub mod timeline;

use std::collections::BTreeMap;
use std::sync::Arc;

use cedar_policy::{Entities, Entity, EntityUid, Schema};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use privsim_model::time::Instant;

pub use timeline::{Lived, Timeline};

/// Cedar's JSON form of an entity reference: `{"type": "T", "id": "x"}`.
pub fn uid_json(uid: &EntityUid) -> Value {
    json!({ "type": uid.type_name().to_string(), "id": uid.id().unescaped() })
}

/// Cedar's JSON escape for an entity reference inside a value: `{"__entity": {...}}`.
pub fn entity_value(uid: &EntityUid) -> Value {
    json!({ "__entity": uid_json(uid) })
}

/// An actor's universe flattened to (action, resource) pairs, grouped by
/// action in the universe's order; shared by the actors of one principal type.
pub type Universe = Arc<Vec<(EntityUid, EntityUid)>>;

/// `derive` of each actor's universe, computed once per distinct universe
/// (actors of one principal type share theirs) and cloned for the others.
pub fn per_universe<T: Clone>(
    pairs: &[Universe],
    mut derive: impl FnMut(&Universe) -> T,
) -> Vec<T> {
    let mut derived: std::collections::HashMap<*const Vec<(EntityUid, EntityUid)>, T> =
        std::collections::HashMap::new();
    pairs
        .iter()
        .map(|universe| {
            derived
                .entry(Arc::as_ptr(universe))
                .or_insert_with(|| derive(universe))
                .clone()
        })
        .collect()
}

/// A universe's runs of pairs of one action (pairs are grouped by action):
/// each run's action and the range of its pairs.
pub fn action_runs(
    pairs: &[(EntityUid, EntityUid)],
) -> impl Iterator<Item = (&EntityUid, std::ops::Range<usize>)> {
    let mut start = 0;
    std::iter::from_fn(move || {
        let (action, _) = pairs.get(start)?;
        let end = start
            + pairs[start..]
                .iter()
                .take_while(|(a, _)| a == action)
                .count();
        let run = (action, start..end);
        start = end;
        Some(run)
    })
}

/// Who can act: a session, or a principal alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The session (index into `Scenario::sessions`), if any.
    pub session: Option<usize>,
    /// The acting principal.
    pub principal: EntityUid,
    /// Root delegator first, the principal last.
    pub chain: Vec<EntityUid>,
}

/// A time-bound change to one principal's entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// The grant's name (its `id`, or `grant-N`).
    pub id: String,
    /// Whose entity changes.
    pub principal: EntityUid,
    /// Parents added while the grant is active.
    pub parents: Vec<EntityUid>,
    /// Parents removed while the grant is active (effects' `remove_parent`).
    pub removed_parents: Vec<EntityUid>,
    /// Attributes set while the grant is active (Cedar JSON values).
    pub attrs: Map<String, Value>,
    /// When the simulator adds the grant.
    pub from: Instant,
    /// When the grant is meant to end.
    pub until: Option<Instant>,
    /// The change ticket, for reports.
    pub ticket: Option<String>,
    /// Whether the simulator removes the grant at `until` (`true`) or leaves the
    /// expiry to the policies (`false`).
    pub removed_at_until: bool,
    /// Whether a `revoke` effect ends it: `[[grant]]`s, `grant` effects and
    /// parents added by `add_parent`; not the changes of `remove_parent` and
    /// `set_attr` (ending those would widen access or rewrite attributes).
    pub revocable: bool,
}

impl Grant {
    /// Whether the simulator has the grant in the world at `time`.
    pub fn active_at(&self, time: Instant) -> bool {
        time >= self.from && (!self.removed_at_until || self.until.is_none_or(|until| time < until))
    }
}

/// One stretch of simulated time with a fixed entity store.
#[derive(Debug, Clone)]
pub struct Segment {
    /// When the stretch starts (`None`: from the beginning of time).
    pub from: Option<Instant>,
    /// Indices of the grants active in it.
    pub active_grants: Vec<usize>,
    /// The Cedar entity store.
    pub entities: Entities,
}

/// The world as it evolves: base entities and the segments grants cut time into.
#[derive(Debug, Clone)]
pub struct World {
    /// Base entities in Cedar JSON form, keyed by their UID string, each kept
    /// as its JSON text (parsed when a store is built: a large world's parsed
    /// JSON would take as much memory as Cedar's own entities).
    pub base: BTreeMap<String, Box<RawValue>>,
    /// Time segments in order; the first starts at the beginning of time.
    pub segments: Vec<Segment>,
}

/// Why the world could not be built: the grant involved (if any) and Cedar's message.
#[derive(Debug)]
pub struct WorldError {
    /// The grant whose application made the entity store invalid, if it was one.
    pub grant: Option<usize>,
    /// What Cedar said.
    pub message: String,
}

impl World {
    /// Builds every segment. Grants must already be checked; an entity store that
    /// Cedar rejects (for instance against the schema) is an error.
    pub fn build(
        base: BTreeMap<String, Box<RawValue>>,
        grants: &[Grant],
        schema: Option<&Schema>,
    ) -> Result<Self, WorldError> {
        let mut cuts: Vec<Instant> = grants
            .iter()
            .flat_map(|g| std::iter::once(g.from).chain(g.until.filter(|_| g.removed_at_until)))
            .collect();
        cuts.sort();
        cuts.dedup();
        let starts = std::iter::once(None).chain(cuts.into_iter().map(Some));
        let mut segments: Vec<Segment> = Vec::new();
        for from in starts {
            let active_grants: Vec<usize> = match from {
                None => Vec::new(),
                Some(time) => (0..grants.len())
                    .filter(|&i| grants[i].active_at(time))
                    .collect(),
            };
            // Grants apply in the order they start (a later change wins).
            let mut active_grants = active_grants;
            active_grants.sort_by_key(|&i| (grants[i].from, i));
            if segments
                .last()
                .is_some_and(|previous| previous.active_grants == active_grants)
            {
                continue;
            }
            let entities = match segments.first() {
                Some(first) => with_grants(&first.entities, &base, grants, &active_grants, schema)?,
                None => store(&base, grants, &active_grants, schema)?,
            };
            segments.push(Segment {
                from,
                active_grants,
                entities,
            });
        }
        Ok(World { base, segments })
    }

    /// A new copy of the grant-free store (the first segment's), built as
    /// [`World::build`] built it: from the base entities' JSON with the
    /// schema, so it shares no `Arc` with the first segment's and Cedar
    /// reads it exactly as that one.
    pub fn grant_free(
        &self,
        grants: &[Grant],
        schema: Option<&Schema>,
    ) -> Result<Entities, WorldError> {
        store(&self.base, grants, &[], schema)
    }

    /// The entity store of a segment as it would be without one of its grants.
    pub fn entities_without(
        &self,
        segment: usize,
        grant: usize,
        grants: &[Grant],
        schema: Option<&Schema>,
    ) -> Result<Entities, WorldError> {
        let active: Vec<usize> = self
            .segments
            .get(segment)
            .map(|s| {
                s.active_grants
                    .iter()
                    .copied()
                    .filter(|&g| g != grant)
                    .collect()
            })
            .unwrap_or_default();
        match self.segments.first() {
            Some(first) => with_grants(&first.entities, &self.base, grants, &active, schema),
            None => store(&self.base, grants, &active, schema),
        }
    }

    /// The index of the segment in force at `time`.
    pub fn segment_at(&self, time: Instant) -> usize {
        self.segments
            .partition_point(|s| s.from.is_none_or(|from| from <= time))
            .saturating_sub(1)
    }
}

/// The grant-free store `base_entities` with the given grants applied: only
/// the entities the grants change are parsed, the rest are shared.
pub fn with_grants(
    base_entities: &Entities,
    base: &BTreeMap<String, Box<RawValue>>,
    grants: &[Grant],
    active: &[usize],
    schema: Option<&Schema>,
) -> Result<Entities, WorldError> {
    let changed = changed_entities(base, grants, active);
    with_changed(base_entities, &changed, |value| {
        crate::load::request::read_entity(value, schema)
    })
    .map_err(|message| WorldError {
        grant: active.last().copied(),
        message,
    })
}

/// The grant-free store `base_entities` with the `changed` entities' JSON
/// (by uid text, [`changed_entities`]) in place, each read by `read` (with
/// the schema, as [`Entity::from_json_value`] reads it): the grant-free
/// store itself when nothing changed. Reading with the schema checks each
/// entity against it, which is all Cedar's `upsert_entities` does with a
/// schema, so they are put in without checking them again.
pub fn with_changed(
    base_entities: &Entities,
    changed: &BTreeMap<String, Value>,
    mut read: impl FnMut(&Value) -> Result<Entity, String>,
) -> Result<Entities, String> {
    if changed.is_empty() {
        return Ok(base_entities.clone());
    }
    let mut entities = Vec::with_capacity(changed.len());
    for value in changed.values() {
        entities.push(read(value)?);
    }
    base_entities
        .clone()
        .upsert_entities(entities, None)
        .map_err(|e| crate::load::cedar_files::error_chain(&e))
}

/// The entities whose JSON the given grants change, as changed.
pub fn changed_entities(
    base: &BTreeMap<String, Box<RawValue>>,
    grants: &[Grant],
    active: &[usize],
) -> BTreeMap<String, Value> {
    changed_entities_from(grants, active, |key| {
        base.get(key).and_then(|raw| parse(raw).ok())
    })
}

/// [`changed_entities`], with each changed entity's grant-free JSON (by
/// its uid's text) from `base`.
pub fn changed_entities_from(
    grants: &[Grant],
    active: &[usize],
    base: impl Fn(&str) -> Option<Value>,
) -> BTreeMap<String, Value> {
    let mut changed: BTreeMap<String, Value> = BTreeMap::new();
    for &index in active {
        let grant = &grants[index];
        let key = grant.principal.to_string();
        if !changed.contains_key(&key)
            && let Some(entity) = base(&key)
        {
            changed.insert(key, entity);
        }
        apply_grant(&mut changed, grant);
    }
    changed
}

/// One entity's JSON text, parsed (the loader has checked it is JSON).
fn parse(raw: &RawValue) -> Result<Value, serde_json::Error> {
    serde_json::from_str(raw.get())
}

/// The entity store with the given grants applied. Entities are parsed one at
/// a time, so the world's JSON is never copied whole (a 100,000-entity world
/// would otherwise need its JSON twice over at once).
fn store(
    base: &BTreeMap<String, Box<RawValue>>,
    grants: &[Grant],
    active: &[usize],
    schema: Option<&Schema>,
) -> Result<Entities, WorldError> {
    let mut changed = changed_entities(base, grants, active);
    let failed = |message: String| WorldError {
        grant: active.last().copied(),
        message,
    };
    let error = |e: &dyn std::error::Error| failed(crate::load::cedar_files::error_chain(e));
    let read = |value: &Value| crate::load::request::read_entity(value, schema).map_err(failed);
    let mut parsed = Vec::with_capacity(base.len() + changed.len());
    for (key, raw) in base {
        let value = match changed.remove(key) {
            Some(value) => value,
            None => parse(raw).map_err(|e| error(&e))?,
        };
        parsed.push(read(&value)?);
    }
    for value in changed.into_values() {
        parsed.push(read(&value)?);
    }
    Entities::from_entities(parsed, schema).map_err(|e| error(&e))
}

/// Adds a grant's parents and attributes to its principal's entity, creating the
/// entity when the world does not have it.
pub fn apply_grant(entities: &mut BTreeMap<String, Value>, grant: &Grant) {
    let key = grant.principal.to_string();
    let entity = entities.entry(key).or_insert_with(
        || json!({ "uid": uid_json(&grant.principal), "attrs": {}, "parents": [] }),
    );
    let Some(object) = entity.as_object_mut() else {
        return;
    };
    let parents = object
        .entry("parents")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(parents) = parents.as_array_mut() {
        for parent in &grant.removed_parents {
            let parent = uid_json(parent);
            parents.retain(|p| p != &parent);
        }
        for parent in &grant.parents {
            let parent = uid_json(parent);
            if !parents.contains(&parent) {
                parents.push(parent);
            }
        }
    }
    let attrs = object
        .entry("attrs")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(attrs) = attrs.as_object_mut() {
        for (name, value) in &grant.attrs {
            attrs.insert(name.clone(), value.clone());
        }
    }
}

/// The determining policies of a response, sorted (Cedar's reason is a set
/// with no stable order).
pub fn determining(response: &cedar_policy::Response) -> Vec<String> {
    let mut ids: Vec<String> = response
        .diagnostics()
        .reason()
        .map(ToString::to_string)
        .collect();
    ids.sort_unstable();
    ids
}
