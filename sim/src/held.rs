//! Held sets, fast and exact.
//!
//! The definition of held is brute force: ask Cedar about every (principal,
//! action, resource) of the universe ([`crate::accounting::Evaluator`]). This
//! module computes the same sets with far fewer Cedar calls, by three exact
//! reductions:
//!
//! 1. **Decisions from policies.** Cedar allows a request exactly when some
//!    permit is satisfied and no forbid is; a policy whose scope does not match
//!    or whose condition errs is not satisfied. So the decision is a function
//!    of each policy's satisfaction, and each policy can be looked at alone.
//! 2. **Slicing.** A policy whose principal or action scope cannot match is
//!    never satisfied; it is skipped without evaluation.
//! 3. **Resource classes per policy.** A policy sees a resource `r` only
//!    through its type, the attributes the policy reads by name (`r.a`,
//!    `r has a`, `r["a"]`), its tags (when the policy reads tags), `==` against
//!    other entity values and `in`. Every other entity value the policy can
//!    produce is one of its literals, the principal, the action, a context
//!    value, or the value of an attribute (or tag) it reads on some entity:
//!    those and their ancestors form the policy's *relevant* set R. If `r` is
//!    not in R, then `r == x` is false for every such `x`, `x in r` is false (r
//!    is no relevant entity's ancestor) and `r in x` holds exactly when `x` is
//!    one of r's ancestors in R. So resources with the same type, the same
//!    values of the attributes the policy reads, the same tags (if read), the
//!    same ancestors within R (if the policy uses `in` at all), and neither in
//!    R, satisfy the policy alike; a resource in R is a class of its own. One
//!    representative per class goes through Cedar's `Authorizer`, with the
//!    policy alone, and the policy is satisfied when it is among the reasons.
//!
//! Classes are computed once per entity store, resource list and policy, for
//! every principal, with R built from every principal, chain member, action and
//! context entity the scenario names. A call whose principal, action or context
//! brings an entity outside that R gets classes of its own, computed for it:
//! never a shortcut that could be wrong. `tests/held.rs` checks the result
//! against brute force on generated worlds.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use cedar_policy::{
    ActionConstraint, Authorizer, Context, Effect, Entities, EntityId, EntityTypeName, EntityUid,
    Policy, PolicySet, PrincipalConstraint, Request, ResourceConstraint, Schema,
};
use serde_json::Value;

use crate::scenario::Scenario;
use crate::world::{self, Grant};

/// A list of resources, interned so that classes computed for it are shared
/// by every action and principal asking about the same resources.
#[derive(Debug)]
struct ResourceList {
    id: usize,
    resources: Vec<EntityUid>,
    keys: Vec<String>,
}

/// The resources one action is asked about.
#[derive(Debug, Clone)]
pub struct Targets {
    /// The action.
    pub action: EntityUid,
    list: Arc<ResourceList>,
}

impl Targets {
    /// The resources, in a fixed order; results are indexed like it.
    pub fn resources(&self) -> &[EntityUid] {
        &self.list.resources
    }

    /// The UID string of resource `index`.
    pub fn key(&self, index: usize) -> &str {
        &self.list.keys[index]
    }
}

/// An entity store the engine evaluates in, by handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StoreId(usize);

enum Store<'a> {
    Borrowed(&'a Entities),
    Owned(Entities),
}

struct StoreData<'a> {
    entities: Store<'a>,
    /// Entities of this store whose JSON differs from the world's base.
    overrides: BTreeMap<String, Value>,
    /// R per policy, built on first use.
    relevant: Vec<OnceLock<Arc<HashSet<EntityUid>>>>,
}

impl StoreData<'_> {
    fn entities(&self) -> &Entities {
        match &self.entities {
            Store::Borrowed(entities) => entities,
            Store::Owned(entities) => entities,
        }
    }
}

/// What the engine knows about one policy.
struct PolicyFacts {
    policy: Policy,
    /// The policy alone, as a set (with its template when it is linked).
    alone: PolicySet,
    permit: bool,
    /// Attribute names the policy reads; `None`: it cannot be inspected, so
    /// every resource is a class of its own.
    reads: Option<Vec<String>>,
    tags: bool,
    /// Whether the policy uses `in` (in its condition or resource scope).
    uses_in: bool,
    literals: Vec<EntityUid>,
}

/// The resources of a list grouped into classes that satisfy one policy alike.
struct Partition {
    /// For each class, its representative (an index into the list).
    representatives: Vec<usize>,
    /// For each resource, its class, or [`NO_CLASS`] when the policy's resource
    /// scope excludes its type.
    class_of: Vec<u32>,
}

const NO_CLASS: u32 = u32::MAX;

type PartitionCell = Arc<OnceLock<Arc<Partition>>>;

/// Computes held sets exactly, with slicing and equivalence classes.
pub struct Engine<'a> {
    authorizer: Authorizer,
    all: &'a PolicySet,
    schema: Option<&'a Schema>,
    base: &'a BTreeMap<String, Value>,
    grants: &'a [Grant],
    policies: Vec<PolicyFacts>,
    /// Entities calls are expected to name as principal, action or in contexts.
    subjects: HashSet<EntityUid>,
    stores: Mutex<Vec<Arc<StoreData<'a>>>>,
    lists: Mutex<HashMap<u64, Vec<Arc<ResourceList>>>>,
    partitions: Mutex<HashMap<(usize, usize, usize), PartitionCell>>,
    next_list: AtomicUsize,
}

impl<'a> Engine<'a> {
    /// An engine for a scenario: its policies, schema and world. The scenario's
    /// segments are the stores [`Engine::segment`]`(0..segments.len())`.
    pub fn new(scenario: &'a Scenario) -> Self {
        let mut subjects = HashSet::new();
        let mut named = Vec::new();
        for session in &scenario.sessions {
            subjects.insert(session.principal.clone());
            subjects.extend(session.chain.iter().cloned());
            for value in session.context.values() {
                collect_uids(value, &mut named);
            }
        }
        for step in &scenario.steps {
            subjects.insert(step.principal.clone());
            subjects.insert(step.action.clone());
            collect_uids(&step.context, &mut named);
        }
        for grant in &scenario.grants {
            subjects.insert(grant.principal.clone());
        }
        if let Some(schema) = &scenario.schema {
            subjects.extend(schema.actions().cloned());
        }
        subjects.extend(named);
        let engine = Self::with_world(
            &scenario.policies.set,
            scenario.schema.as_ref(),
            &scenario.world.base,
            &scenario.grants,
            subjects,
        );
        for segment in &scenario.world.segments {
            engine.push_store(
                Store::Borrowed(&segment.entities),
                &segment.active_grants,
            );
        }
        engine
    }

    /// An engine for a policy set over a world of base entities, with no
    /// stores yet (add them with [`Engine::add_store`]). `subjects` are the
    /// entities calls are expected to name as principal, action or in
    /// contexts; others work too, only without shared classes.
    pub fn with_world(
        policies: &'a PolicySet,
        schema: Option<&'a Schema>,
        base: &'a BTreeMap<String, Value>,
        grants: &'a [Grant],
        subjects: HashSet<EntityUid>,
    ) -> Self {
        let facts = policies
            .policies()
            .map(|policy| policy_facts(policies, policy))
            .collect();
        Self {
            authorizer: Authorizer::new(),
            all: policies,
            schema,
            base,
            grants,
            policies: facts,
            subjects,
            stores: Mutex::new(Vec::new()),
            lists: Mutex::new(HashMap::new()),
            partitions: Mutex::new(HashMap::new()),
            next_list: AtomicUsize::new(0),
        }
    }

    fn push_store(&self, entities: Store<'a>, active_grants: &[usize]) -> StoreId {
        let overrides = overrides(self.base, self.grants, active_grants);
        let mut stores = lock(&self.stores);
        stores.push(Arc::new(StoreData {
            entities,
            overrides,
            relevant: (0..self.policies.len()).map(|_| OnceLock::new()).collect(),
        }));
        StoreId(stores.len() - 1)
    }

    /// Adds an entity store: `entities` must be the Cedar store of the base
    /// world with the `active_grants` applied.
    pub fn add_store(&self, entities: Entities, active_grants: &[usize]) -> StoreId {
        self.push_store(Store::Owned(entities), active_grants)
    }

    /// The store of segment `index` of the scenario the engine was made for.
    pub fn segment(index: usize) -> StoreId {
        StoreId(index)
    }

    /// Names the resources asked about for one action. Equal resource lists
    /// share their classes, whatever the action.
    pub fn targets(&self, action: EntityUid, resources: Vec<EntityUid>) -> Targets {
        let mut hasher = DefaultHasher::new();
        resources.hash(&mut hasher);
        let hash = hasher.finish();
        let mut lists = lock(&self.lists);
        let bucket = lists.entry(hash).or_default();
        let list = match bucket.iter().find(|list| list.resources == resources) {
            Some(list) => list.clone(),
            None => {
                let keys = resources.iter().map(ToString::to_string).collect();
                let list = Arc::new(ResourceList {
                    id: self.next_list.fetch_add(1, Ordering::Relaxed),
                    resources,
                    keys,
                });
                bucket.push(list.clone());
                list
            }
        };
        Targets { action, list }
    }

    /// For each resource of `targets`, whether Cedar allows `principal` the
    /// action on it with `context` in `store`: exactly what asking Cedar about
    /// each resource gives. A request the schema rejects is not allowed.
    pub fn allowed(
        &self,
        principal: &EntityUid,
        targets: &Targets,
        context: &Value,
        store: StoreId,
    ) -> Vec<bool> {
        let count = targets.list.resources.len();
        let mut allowed = vec![false; count];
        let Some(data) = lock(&self.stores).get(store.0).cloned() else {
            return allowed;
        };
        let action = &targets.action;
        let Ok(cedar_context) =
            Context::from_json_value(context.clone(), self.schema.map(|s| (s, action)))
        else {
            return allowed;
        };
        let entities = data.entities();
        let mut extra: Vec<EntityUid> = Vec::new();
        collect_uids(context, &mut extra);
        extra.push(principal.clone());
        extra.push(action.clone());
        let extra: Vec<EntityUid> = extra
            .into_iter()
            .filter(|uid| !self.subjects.contains(uid))
            .collect();
        // Requests the schema rejects, by resource type; one check per type.
        let mut valid_types: HashMap<String, bool> = HashMap::new();
        let mut request_for = |resource: &EntityUid| -> Option<Request> {
            let request = Request::new(
                principal.clone(),
                action.clone(),
                resource.clone(),
                cedar_context.clone(),
                self.schema,
            );
            valid_types.insert(resource.type_name().to_string(), request.is_ok());
            request.ok()
        };
        let mut forbidden = vec![false; count];
        let mut any_permit = false;
        for (index, facts) in self.policies.iter().enumerate() {
            if !principal_matches(&facts.policy.principal_constraint(), principal, entities)
                || !action_matches(&facts.policy.action_constraint(), action, entities)
            {
                continue;
            }
            let partition = if extra.is_empty() {
                self.shared_partition(store, &targets.list, &data, index)
            } else {
                let mut relevant = (*self.relevant(&data, index)).clone();
                close_over_ancestors(entities, extra.iter().cloned(), &mut relevant);
                Arc::new(self.partition(&targets.list, &data, index, &relevant))
            };
            let satisfied: Vec<bool> = partition
                .representatives
                .iter()
                .map(|&representative| {
                    let Some(request) = request_for(&targets.list.resources[representative])
                    else {
                        return false;
                    };
                    let response = self.authorizer.is_authorized(&request, &facts.alone, entities);
                    response.diagnostics().reason().next().is_some()
                })
                .collect();
            if !satisfied.contains(&true) {
                continue;
            }
            let marks = if facts.permit {
                any_permit = true;
                &mut allowed
            } else {
                &mut forbidden
            };
            for (mark, &class) in marks.iter_mut().zip(&partition.class_of) {
                if class != NO_CLASS && satisfied[class as usize] {
                    *mark = true;
                }
            }
        }
        if !any_permit {
            return vec![false; count];
        }
        for (index, (allow, forbid)) in allowed.iter_mut().zip(&forbidden).enumerate() {
            if *forbid {
                *allow = false;
            } else if *allow {
                // A permit was satisfied, so the request was valid; a type
                // never checked had no satisfied policy.
                let type_name = targets.list.resources[index].type_name().to_string();
                *allow = valid_types.get(&type_name).copied().unwrap_or(false);
            }
        }
        allowed
    }

    /// The same answer as [`Engine::allowed`], the slow and obvious way: every
    /// resource through Cedar with the whole policy set. The oracle the fast
    /// path is tested and benchmarked against.
    pub fn allowed_brute_force(
        &self,
        principal: &EntityUid,
        targets: &Targets,
        context: &Value,
        store: StoreId,
    ) -> Vec<bool> {
        let count = targets.list.resources.len();
        let Some(data) = lock(&self.stores).get(store.0).cloned() else {
            return vec![false; count];
        };
        let Ok(context) = Context::from_json_value(
            context.clone(),
            self.schema.map(|s| (s, &targets.action)),
        ) else {
            return vec![false; count];
        };
        targets
            .list
            .resources
            .iter()
            .map(|resource| {
                Request::new(
                    principal.clone(),
                    targets.action.clone(),
                    resource.clone(),
                    context.clone(),
                    self.schema,
                )
                .is_ok_and(|request| {
                    self.authorizer
                        .is_authorized(&request, self.all, data.entities())
                        .decision()
                        == cedar_policy::Decision::Allow
                })
            })
            .collect()
    }

    /// How many Cedar evaluations one [`Engine::allowed`] call by a principal
    /// every policy applies to would make on `targets` in `store`: the sum of
    /// the classes over the policies (for benchmarks and reports).
    pub fn class_count(&self, targets: &Targets, store: StoreId) -> usize {
        let Some(data) = lock(&self.stores).get(store.0).cloned() else {
            return 0;
        };
        (0..self.policies.len())
            .map(|index| {
                self.shared_partition(store, &targets.list, &data, index)
                    .representatives
                    .len()
            })
            .sum()
    }

    fn shared_partition(
        &self,
        store: StoreId,
        list: &ResourceList,
        data: &StoreData<'_>,
        policy: usize,
    ) -> Arc<Partition> {
        let cell = lock(&self.partitions)
            .entry((store.0, list.id, policy))
            .or_default()
            .clone();
        cell.get_or_init(|| {
            let relevant = self.relevant(data, policy);
            Arc::new(self.partition(list, data, policy, &relevant))
        })
        .clone()
    }

    /// R of a policy in a store: its literals, the subjects, every entity
    /// value of the attributes (and tags) it reads on any entity, and all
    /// their ancestors.
    fn relevant(&self, data: &StoreData<'_>, policy: usize) -> Arc<HashSet<EntityUid>> {
        data.relevant[policy]
            .get_or_init(|| {
                let facts = &self.policies[policy];
                let mut seeds: Vec<EntityUid> = facts.literals.clone();
                seeds.extend(self.subjects.iter().cloned());
                let names = facts.reads.as_deref().unwrap_or_default();
                let mut visit = |entity: &Value| {
                    if let Some(attrs) = entity.get("attrs") {
                        for name in names {
                            if let Some(value) = attrs.get(name) {
                                collect_uids(value, &mut seeds);
                            }
                        }
                    }
                    if facts.tags
                        && let Some(tags) = entity.get("tags")
                    {
                        collect_uids(tags, &mut seeds);
                    }
                };
                if !names.is_empty() || facts.tags {
                    for (key, entity) in self.base {
                        visit(data.overrides.get(key).unwrap_or(entity));
                    }
                    for (key, entity) in &data.overrides {
                        if !self.base.contains_key(key) {
                            visit(entity);
                        }
                    }
                }
                let mut relevant = HashSet::new();
                close_over_ancestors(data.entities(), seeds, &mut relevant);
                Arc::new(relevant)
            })
            .clone()
    }

    /// The classes of a resource list for one policy, given its R.
    fn partition(
        &self,
        list: &ResourceList,
        data: &StoreData<'_>,
        policy: usize,
        relevant: &HashSet<EntityUid>,
    ) -> Partition {
        let facts = &self.policies[policy];
        let constraint = facts.policy.resource_constraint();
        let entities = data.entities();
        let mut admitted: HashMap<String, bool> = HashMap::new();
        let mut classes: HashMap<ClassKey<'_>, u32> = HashMap::new();
        let mut representatives = Vec::new();
        let mut class_of = Vec::with_capacity(list.resources.len());
        for (index, resource) in list.resources.iter().enumerate() {
            let type_name = resource.type_name().to_string();
            let admits = *admitted
                .entry(type_name.clone())
                .or_insert_with_key(|type_name| resource_type_matches(&constraint, type_name));
            if !admits {
                class_of.push(NO_CLASS);
                continue;
            }
            let key = &list.keys[index];
            let json = data.overrides.get(key).or_else(|| self.base.get(key));
            let class_key = match (&facts.reads, json) {
                (Some(names), Some(json)) if !relevant.contains(resource) => {
                    let attrs_json = json.get("attrs");
                    let attrs = names
                        .iter()
                        .map(|name| attrs_json.and_then(|a| a.get(name)))
                        .collect();
                    let tags = facts.tags.then(|| json.get("tags"));
                    let mut ancestors: Vec<&EntityUid> = if facts.uses_in {
                        entities
                            .ancestors(resource)
                            .map(|found| found.filter(|a| relevant.contains(*a)).collect())
                            .unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    ancestors.sort();
                    ClassKey {
                        type_name,
                        identity: None,
                        attrs,
                        tags,
                        ancestors,
                    }
                }
                // Named somewhere, not inspectable, or no JSON to compare.
                _ => ClassKey {
                    type_name,
                    identity: Some(key),
                    attrs: Vec::new(),
                    tags: None,
                    ancestors: Vec::new(),
                },
            };
            let next = u32::try_from(representatives.len()).unwrap_or(NO_CLASS - 1);
            let class = *classes.entry(class_key).or_insert_with(|| {
                representatives.push(index);
                next
            });
            class_of.push(class);
        }
        Partition {
            representatives,
            class_of,
        }
    }
}

/// What makes resources alike for one policy. JSON values compare by their
/// structure: two spellings of one Cedar value only make classes finer.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ClassKey<'v> {
    type_name: String,
    identity: Option<&'v str>,
    attrs: Vec<Option<&'v Value>>,
    tags: Option<Option<&'v Value>>,
    ancestors: Vec<&'v EntityUid>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads a policy: its single-policy set, the attributes and tags it reads,
/// whether it uses `in`, and its entity literals (including link values).
fn policy_facts(policies: &PolicySet, policy: &Policy) -> PolicyFacts {
    let template = policy
        .template_id()
        .and_then(|id| policies.template(id))
        .cloned();
    let mut alone = PolicySet::new();
    let mut literals = Vec::new();
    let mut json_forms: Vec<Value> = policy.to_json().ok().into_iter().collect();
    let mut complete = !json_forms.is_empty();
    match (template, policy.template_links()) {
        (Some(template), Some(links)) => {
            json_forms.extend(template.to_json().ok());
            literals.extend(links.values().cloned());
            let template_id = template.id().clone();
            complete &= alone.add_template(template).is_ok()
                && alone.link(template_id, policy.id().clone(), links).is_ok();
        }
        _ => complete &= alone.add(policy.clone()).is_ok(),
    }
    let mut names = BTreeSet::new();
    let mut tags = false;
    let mut uses_in = matches!(
        policy.resource_constraint(),
        ResourceConstraint::In(_) | ResourceConstraint::IsIn(..)
    );
    for json in &json_forms {
        if let Some(conditions) = json.get("conditions") {
            walk_policy(conditions, &mut names, &mut tags, &mut uses_in);
        }
        collect_uids(json, &mut literals);
    }
    PolicyFacts {
        permit: policy.effect() == Effect::Permit,
        alone,
        reads: complete.then(|| names.into_iter().collect()),
        tags,
        uses_in,
        literals,
        policy: policy.clone(),
    }
}

/// The entities whose JSON differs from the base when `active` grants apply.
fn overrides(
    base: &BTreeMap<String, Value>,
    grants: &[Grant],
    active: &[usize],
) -> BTreeMap<String, Value> {
    let mut changed: BTreeMap<String, Value> = BTreeMap::new();
    for &index in active {
        let Some(grant) = grants.get(index) else {
            continue;
        };
        let key = grant.principal.to_string();
        if !changed.contains_key(&key)
            && let Some(entity) = base.get(&key)
        {
            changed.insert(key.clone(), entity.clone());
        }
        world::apply_grant(&mut changed, grant);
    }
    changed
}

/// Adds `seeds` and all their ancestors in `entities` to `into`.
fn close_over_ancestors(
    entities: &Entities,
    seeds: impl IntoIterator<Item = EntityUid>,
    into: &mut HashSet<EntityUid>,
) {
    for seed in seeds {
        if into.contains(&seed) {
            continue;
        }
        if let Some(ancestors) = entities.ancestors(&seed) {
            into.extend(ancestors.cloned());
        }
        into.insert(seed);
    }
}

/// Every entity reference in a JSON value: `{"__entity": {...}}` and any
/// object with string `type` and `id` (the implicit form). Over-collecting only
/// makes classes finer.
fn collect_uids(json: &Value, into: &mut Vec<EntityUid>) {
    match json {
        Value::Object(map) => {
            if let (Some(Value::String(type_name)), Some(Value::String(id))) =
                (map.get("type"), map.get("id"))
                && let Ok(type_name) = EntityTypeName::from_str(type_name)
            {
                into.push(EntityUid::from_type_name_and_id(type_name, EntityId::new(id)));
            }
            for value in map.values() {
                collect_uids(value, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_uids(item, into)),
        _ => {}
    }
}

/// Walks a policy condition's JSON form: attribute names read (`.`, `has`,
/// including `has a.b` paths), whether tags are read, whether `in` is used.
fn walk_policy(json: &Value, names: &mut BTreeSet<String>, tags: &mut bool, uses_in: &mut bool) {
    match json {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("attr", Value::String(name)) => {
                        names.insert(name.clone());
                    }
                    ("attr", Value::Array(path)) => {
                        names.extend(path.iter().filter_map(Value::as_str).map(str::to_string));
                    }
                    ("getTag" | "hasTag", _) => *tags = true,
                    ("in", _) => *uses_in = true,
                    _ => {}
                }
                walk_policy(value, names, tags, uses_in);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| walk_policy(item, names, tags, uses_in)),
        _ => {}
    }
}

/// Cedar's `in` on entities: equal, or an ancestor in the store.
fn is_in(child: &EntityUid, parent: &EntityUid, entities: &Entities) -> bool {
    child == parent
        || entities
            .ancestors(child)
            .is_some_and(|mut ancestors| ancestors.any(|a| a == parent))
}

fn principal_matches(
    constraint: &PrincipalConstraint,
    principal: &EntityUid,
    entities: &Entities,
) -> bool {
    match constraint {
        PrincipalConstraint::Any => true,
        PrincipalConstraint::Eq(uid) => principal == uid,
        PrincipalConstraint::In(uid) => is_in(principal, uid, entities),
        PrincipalConstraint::Is(type_name) => principal.type_name() == type_name,
        PrincipalConstraint::IsIn(type_name, uid) => {
            principal.type_name() == type_name && is_in(principal, uid, entities)
        }
    }
}

fn action_matches(constraint: &ActionConstraint, action: &EntityUid, entities: &Entities) -> bool {
    match constraint {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(uid) => action == uid,
        ActionConstraint::In(uids) => uids.iter().any(|uid| is_in(action, uid, entities)),
    }
}

fn resource_type_matches(constraint: &ResourceConstraint, type_name: &str) -> bool {
    match constraint {
        ResourceConstraint::Any | ResourceConstraint::In(_) => true,
        ResourceConstraint::Eq(uid) => uid.type_name().to_string() == type_name,
        ResourceConstraint::Is(name) | ResourceConstraint::IsIn(name, _) => {
            name.to_string() == type_name
        }
    }
}
