//! Held sets, fast and exact.
//!
//! The definition of held is brute force: ask Cedar about every (principal,
//! action, resource) of the universe ([`Engine::allowed_brute_force`]). This
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
//!    representative per class is evaluated by Cedar: a static policy's
//!    condition with Cedar's evaluator (`eval_expression`, satisfied when
//!    it gives `true`), a template-linked one through Cedar's `Authorizer`
//!    with the policy alone (satisfied when it is among the reasons).
//!
//!    What a policy reads comes from the `reads` submodule, a whitelist over
//!    Cedar's JSON form with one arm per node kind: the ancestors enter the
//!    key whenever an `in` (or `is ... in`) may have the resource, or a value
//!    holding it (a record, a set, an `if`), on its left, and a node it does
//!    not know makes the policy opaque, so that every resource is a class of
//!    its own. Conservative by construction: an unknown shape can make the
//!    classes finer, never coarser. The full argument is in `reads`.
//!
//! Classes are computed once per entity store, resource list and policy, for
//! every principal, with R built from every principal, chain member, action and
//! context entity the scenario names. A call whose principal, action or context
//! brings an entity outside that R gets classes of its own, computed for it:
//! never a shortcut that could be wrong. `sim/engine/tests/it/held.rs` checks
//! the result against brute force on generated worlds, the fixed policy kinds
//! and Cedar's whole expression grammar.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use cedar_policy::{
    ActionConstraint, Authorizer, Context, Effect, Entities, EntityId, EntityTypeName, EntityUid,
    EvalResult, Expression, Policy, PolicySet, PrincipalConstraint, Request, ResourceConstraint,
    Schema,
};
use serde_json::Value;

use crate::load::Scenario;
use crate::load::cedar_files::PolicyJson;
use crate::world::Timeline;

mod reads;
use reads::Reads;

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

/// The policies that decided some request asked through
/// [`Engine::allowed_noting_into_over`]: one flag per policy of the engine.
#[derive(Debug)]
pub struct Noted(Vec<AtomicBool>);

impl Noted {
    /// Whether the policy of index `index` is noted.
    pub fn contains(&self, index: usize) -> bool {
        self.0
            .get(index)
            .is_some_and(|noted| noted.load(Ordering::Relaxed))
    }

    /// Notes the policies of `indices` (the engine's indices of its
    /// policies, as [`Decided::policy`]).
    pub fn mark(&self, indices: &[usize]) {
        for &index in indices {
            if let Some(flag) = self.0.get(index) {
                flag.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// A policy that decided some requests of one call
/// ([`Engine::allowed_deciding`]): its index in the engine's policies and
/// which requests, a bit per resource position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// The policy's index in the engine.
    pub policy: usize,
    /// A bit per resource position: whether the policy is in Cedar's
    /// reason for that request's decision.
    bits: Vec<u64>,
    /// How many bits are set.
    count: usize,
}

impl Decided {
    /// The policy `policy` deciding the requests `marks` sets; `None` when
    /// it sets none.
    fn of(policy: usize, marks: impl ExactSizeIterator<Item = bool>) -> Option<Self> {
        let mut bits = vec![0u64; marks.len().div_ceil(64)];
        let mut count = 0;
        for (position, mark) in marks.enumerate() {
            if mark {
                bits[position / 64] |= 1 << (position % 64);
                count += 1;
            }
        }
        (count > 0).then_some(Self {
            policy,
            bits,
            count,
        })
    }

    /// Whether the policy decided the request at `position`.
    pub fn decides(&self, position: usize) -> bool {
        self.bits
            .get(position / 64)
            .is_some_and(|word| word & (1 << (position % 64)) != 0)
    }

    /// Whether the policy decided some request at a position `except`
    /// (sorted or not, without repeats) leaves out.
    pub fn decides_besides(&self, except: impl IntoIterator<Item = usize>) -> bool {
        let within = except.into_iter().filter(|&p| self.decides(p)).count();
        self.count > within
    }
}

/// What a change to some entities of a store changed, as policies can read
/// it: any entity's parents, the attributes of these names, any tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changed {
    /// Whether some entity's parents changed (so some ancestors did).
    pub parents: bool,
    /// Whether some entity's tags changed.
    pub tags: bool,
    /// The names of the attributes that changed on some entity (gained,
    /// lost or given another value).
    pub attrs: HashSet<String>,
    /// Whether the change could not be read as parents, attributes and
    /// tags: every policy is touched.
    pub unknown: bool,
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
    /// The store it was made from, when it was added with
    /// [`Engine::add_store_over`]: what the two can share.
    over: Option<Over<'a>>,
    /// R per policy, built on first use.
    relevant: Vec<OnceLock<Arc<Relevant>>>,
    /// Every entity of the store, numbered (shared with the store it was
    /// made from when both hold the same entities).
    index: OnceLock<Arc<HashMap<EntityUid, u32>>>,
    /// What the partitions read about each resource list, built once per list.
    tables: Mutex<HashMap<usize, Arc<OnceLock<Arc<ResourceTable>>>>>,
    /// Entity values per attribute name over all entities.
    attribute_uids: Mutex<HashMap<String, Arc<HashSet<EntityUid>>>>,
}

/// How a store differs from another of the engine: see
/// [`Engine::add_store_over`].
pub struct Difference {
    /// The store it was made from.
    pub base: StoreId,
    /// The entities whose attributes, tags or parents differ between the
    /// two, or that only one of them holds.
    pub changed: HashSet<EntityUid>,
    /// What differs, as policies can read it.
    pub what: Changed,
    /// Every entity whose data, as an evaluation can reach it, may differ:
    /// the changed entities, their descendants in either store, and every
    /// entity whose attributes or tags lead to one of those.
    pub affected: HashSet<EntityUid>,
}

/// A store made from another ([`Difference`]) and what it shares with it.
struct Over<'a> {
    base: StoreId,
    data: Arc<StoreData<'a>>,
    /// Both stores hold the same entities: they share a numbering, and
    /// through it what is built on numbers.
    same_entities: bool,
    what: Changed,
    affected: HashSet<EntityUid>,
    /// Per resource list: whether none of its resources is affected.
    untouched: Mutex<HashMap<usize, bool>>,
}

impl Over<'_> {
    /// Whether the entity values of an attribute (`None`: the tags) over the
    /// whole store are the base store's: no entity was added and none
    /// changed them.
    fn same_values(&self, name: Option<&str>) -> bool {
        self.same_entities
            && !self.what.unknown
            && match name {
                Some(name) => !self.what.attrs.contains(name),
                None => !self.what.tags,
            }
    }

    /// Whether a resource list reads alike in both stores: every resource
    /// has the same type, number, ancestors, attributes and tags, and every
    /// entity reachable from it through attributes and tags (with their
    /// ancestors) the same data. True when the stores share a numbering and
    /// no resource of the list is affected.
    fn untouched(&self, list: &ResourceList) -> bool {
        if !self.same_entities {
            return false;
        }
        *lock(&self.untouched)
            .entry(list.id)
            .or_insert_with(|| !list.resources.iter().any(|r| self.affected.contains(r)))
    }
}

/// A policy's relevant set R, also as flags by entity number.
struct Relevant {
    set: HashSet<EntityUid>,
    numbered: Vec<bool>,
}

impl Relevant {
    fn contains_number(&self, number: u32) -> bool {
        self.numbered.get(number as usize).copied().unwrap_or(false)
    }
}

/// The features of a resource list in one store, numbered so that class keys
/// are short integer vectors.
struct ResourceTable {
    /// Type number of each resource.
    types: Vec<u32>,
    /// Type names by number.
    type_names: Vec<String>,
    /// Entity number of each resource (`u32::MAX`: not in the store).
    numbers: Vec<u32>,
    /// Entity numbers of each resource's ancestors.
    ancestors: Vec<Vec<u32>>,
    /// Per attribute name any policy reads: a number per resource for its
    /// value (0: absent), equal numbers for equal JSON values.
    attrs: HashMap<String, Vec<u32>>,
    /// The same for the tags as a whole.
    tags: Vec<u32>,
    /// Per attribute name (and `""` for the tags), by value number: whether
    /// the value holds entity references.
    refers: HashMap<String, Vec<bool>>,
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
    /// Its principal and action scopes (Cedar makes them anew on each ask).
    principal: PrincipalConstraint,
    action: ActionConstraint,
    /// How its satisfaction on a request is asked.
    check: Check,
    permit: bool,
    /// Attribute names the policy reads; `None`: it cannot be inspected, or
    /// its conditions hold a shape [`reads`] does not understand, so every
    /// resource is a class of its own.
    reads: Option<Vec<String>>,
    tags: bool,
    /// Whether the policy uses `in` (in its condition or resource scope).
    uses_in: bool,
    /// Whether an `in` (or `is ... in`) may have the resource, or a value
    /// holding it, on its left (its scope is `in`, or [`reads`] says so): only
    /// then do the resource's own ancestors matter.
    resource_in: bool,
    /// Whether evaluating the policy can read some entity's ancestors: an
    /// `in` in its principal, action or resource scope, or in its conditions.
    ancestors: bool,
    literals: Vec<EntityUid>,
}

/// How the engine asks whether one policy is satisfied on a request.
enum Check {
    /// A static policy's condition as Cedar evaluates it (its scope, `when`
    /// and `unless` conjoined: `cedar_policy_core`'s `Policy::condition`,
    /// built once).
    Condition(Expression),
    /// A template-linked policy alone, as a set with its template, asked of
    /// Cedar's authorizer: an expression cannot carry the link's slots.
    Alone(PolicySet),
}

impl PolicyFacts {
    /// Whether the policy is satisfied on a request: what Cedar's authorizer
    /// finds when it evaluates the policy alone (its reason is the policy
    /// exactly then; an error is no satisfaction). A static policy's
    /// condition is evaluated directly, as the authorizer evaluates it,
    /// without building the condition and a response for every request.
    fn satisfied(&self, authorizer: &Authorizer, request: &Request, entities: &Entities) -> bool {
        match &self.check {
            Check::Condition(condition) => matches!(
                cedar_policy::eval_expression(request, entities, condition),
                Ok(EvalResult::Bool(true))
            ),
            Check::Alone(alone) => authorizer
                .is_authorized(request, alone, entities)
                .diagnostics()
                .reason()
                .next()
                .is_some(),
        }
    }
}

/// The resources of a list grouped into classes that satisfy one policy alike.
struct Partition {
    /// Every entity a description of a representative can look at (see
    /// [`merge`]); `None` until needed, and inside `None` when unbounded.
    seen: OnceLock<Option<HashSet<EntityUid>>>,
    /// Merges already made, by the part of D that descriptions can see.
    merges: Mutex<HashMap<Vec<String>, Arc<Merged>>>,
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
    policies: Vec<PolicyFacts>,
    /// Entities calls are expected to name as principal, action or in contexts.
    subjects: HashSet<EntityUid>,
    stores: Mutex<Vec<Arc<StoreData<'a>>>>,
    lists: Mutex<HashMap<u64, Vec<Arc<ResourceList>>>>,
    partitions: Mutex<HashMap<(usize, usize, usize), PartitionCell>>,
    next_list: AtomicUsize,
    /// Per policy (in `policies` order): whether it decided a request asked
    /// through [`Engine::allowed_noting`] (Cedar's reason for its decision).
    decided: Vec<AtomicBool>,
    /// Contexts as Cedar reads them (`None`: the context does not fit the
    /// action), by action and context JSON text: a search asks the same
    /// actor's context for every group of its row in every state, and
    /// reading it under the schema cost as much as a tenth of the search.
    /// Up to [`MAX_CONTEXTS`], then it starts afresh.
    contexts: Mutex<HashMap<(EntityUid, String), Option<Context>>>,
    /// How many calls found their context already read (tests read it).
    pub contexts_reused: AtomicUsize,
}

/// What a held-set call notes of the policies that decide its requests.
enum Note<'n> {
    /// Nothing.
    Not,
    /// Each policy that decides one, into a flag per policy (a policy
    /// already flagged is not looked at again).
    Into(&'n [AtomicBool]),
    /// Each policy that decides one, with the requests it decides.
    Each(&'n mut Vec<Decided>),
}

/// Per policy of the engine, on the requests of one call (a principal, an
/// action's targets, a context, a store): on which resources it is
/// satisfied, for the policies whose scopes admit the principal and the
/// action in that store (`None` for the others).
pub type Satisfied = Vec<Option<Arc<Vec<bool>>>>;

/// What a call of [`Engine::allowed_with`] does with each policy's
/// satisfaction.
enum Reuse<'r> {
    /// Nothing.
    No,
    /// Keeps it ([`Satisfied`]).
    Record(&'r mut Satisfied),
    /// Takes it from another store's call (the same principal, targets and
    /// context as far as any policy reads it) for the policies `touched`
    /// does not mark: they read nothing that differs between the two stores,
    /// so they are satisfied alike on every request
    /// ([`Engine::touched_by`]).
    From {
        touched: &'r [bool],
        base: &'r Satisfied,
    },
}

/// The most contexts an [`Engine`] keeps read (contexts change with the
/// clock, so a long search meets many).
const MAX_CONTEXTS: usize = 4096;

impl<'a> Engine<'a> {
    /// An engine for a scenario as loaded: its policies, schema and world.
    /// The scenario's segments are the stores
    /// [`Engine::segment`]`(0..segments.len())`.
    pub fn new(scenario: &'a Scenario) -> Self {
        Self::of(Timeline::loaded(scenario))
    }

    /// An engine for a timeline (the scenario's own, or one a replay
    /// lived): the scenario's policies and schema, and the timeline's
    /// segments as the stores [`Engine::segment`]`(0..segments.len())`.
    pub fn of(timeline: Timeline<'a>) -> Self {
        let scenario = timeline.scenario;
        let mut subjects = HashSet::new();
        let mut named = Vec::new();
        for session in timeline.sessions {
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
        for grant in timeline.grants {
            subjects.insert(grant.principal.clone());
        }
        if let Some(schema) = &scenario.schema {
            subjects.extend(schema.actions().cloned());
        }
        subjects.extend(named);
        let engine = Self::with_world(
            &scenario.policies.set,
            scenario.policies.json(),
            scenario.schema.as_ref(),
            subjects,
        );
        for segment in &timeline.world.segments {
            engine.push_store(Store::Borrowed(&segment.entities));
        }
        engine
    }

    /// An engine for a policy set (with the JSON forms of its policies and
    /// templates, [`PolicyJson`]) over a world of base entities, with no
    /// stores yet (add them with [`Engine::add_store`]). `subjects` are the
    /// entities calls are expected to name as principal, action or in
    /// contexts; others work too, only without shared classes.
    pub fn with_world(
        policies: &'a PolicySet,
        json: &PolicyJson,
        schema: Option<&'a Schema>,
        subjects: HashSet<EntityUid>,
    ) -> Self {
        let facts: Vec<PolicyFacts> = policies
            .policies()
            .map(|policy| policy_facts(policies, json, policy))
            .collect();
        let decided = facts.iter().map(|_| AtomicBool::new(false)).collect();
        Self {
            decided,
            authorizer: Authorizer::new(),
            all: policies,
            schema,
            policies: facts,
            subjects,
            stores: Mutex::new(Vec::new()),
            lists: Mutex::new(HashMap::new()),
            partitions: Mutex::new(HashMap::new()),
            next_list: AtomicUsize::new(0),
            contexts: Mutex::new(HashMap::new()),
            contexts_reused: AtomicUsize::new(0),
        }
    }

    /// Adds entities calls will name as principal, action or in contexts, so
    /// they share classes (for callers that evaluate principals the scenario
    /// itself does not name). Call it before the first [`Engine::allowed`].
    pub fn with_subjects(mut self, subjects: impl IntoIterator<Item = EntityUid>) -> Self {
        self.subjects.extend(subjects);
        self.partitions = Mutex::new(HashMap::new());
        for store in lock(&self.stores).iter_mut() {
            if let Some(store) = Arc::get_mut(store) {
                store.relevant = (0..self.policies.len()).map(|_| OnceLock::new()).collect();
            }
        }
        self
    }

    fn push_store(&self, entities: Store<'a>) -> StoreId {
        self.push_store_over(entities, None)
    }

    fn push_store_over(&self, entities: Store<'a>, over: Option<Over<'a>>) -> StoreId {
        let mut stores = lock(&self.stores);
        stores.push(Arc::new(StoreData {
            entities,
            over,
            relevant: (0..self.policies.len()).map(|_| OnceLock::new()).collect(),
            index: OnceLock::new(),
            tables: Mutex::new(HashMap::new()),
            attribute_uids: Mutex::new(HashMap::new()),
        }));
        StoreId(stores.len() - 1)
    }

    /// Adds an entity store.
    pub fn add_store(&self, entities: Entities) -> StoreId {
        self.push_store(Store::Owned(entities))
    }

    /// Adds an entity store made from one the engine has by changing a few
    /// entities (`difference` says how, exactly: the answers are only as
    /// right as it is). What reads alike in both is shared instead of built
    /// again: the numbering of the entities (when both hold the same ones),
    /// the entity values of an attribute the change does not touch, a
    /// resource list's table and a policy's classes of it when no resource
    /// of the list is affected, and a policy's relevant set R when the
    /// change adds nothing to it. A relevant set the change does reach is
    /// the base one with the affected entities' ancestors in this store
    /// added: a superset of this store's own R, which only splits classes
    /// further (classes keyed on more entities are still alike).
    pub fn add_store_over(&self, entities: Entities, difference: Difference) -> StoreId {
        let over = lock(&self.stores)
            .get(difference.base.0)
            .cloned()
            .map(|data| {
                let base_entities = data.entities();
                let same_entities = base_entities.len() == entities.len()
                    && difference
                        .changed
                        .iter()
                        .all(|uid| base_entities.get(uid).is_some() && entities.get(uid).is_some());
                Over {
                    base: difference.base,
                    data,
                    same_entities,
                    what: difference.what,
                    affected: difference.affected,
                    untouched: Mutex::new(HashMap::new()),
                }
            });
        self.push_store_over(Store::Owned(entities), over)
    }

    /// Drops stores added with [`Engine::add_store`] and everything computed
    /// for them (their classes), so a long search does not keep every
    /// state's store. The handles must not be used again: calls on them
    /// allow nothing. What the stores held is freed in the calling thread.
    pub fn forget_stores(&self, stores: impl IntoIterator<Item = StoreId>) {
        let forgotten: HashSet<usize> = stores.into_iter().map(|store| store.0).collect();
        if forgotten.is_empty() {
            return;
        }
        let mut dropped = Vec::with_capacity(forgotten.len());
        {
            let mut stores = lock(&self.stores);
            for &store in &forgotten {
                if let Some(slot) = stores.get_mut(store) {
                    let empty = Arc::new(StoreData {
                        entities: Store::Owned(Entities::empty()),
                        over: None,
                        relevant: (0..self.policies.len()).map(|_| OnceLock::new()).collect(),
                        index: OnceLock::new(),
                        tables: Mutex::new(HashMap::new()),
                        attribute_uids: Mutex::new(HashMap::new()),
                    });
                    dropped.push(std::mem::replace(slot, empty));
                }
            }
        }
        let mut partitions = lock(&self.partitions);
        let kept = partitions.len();
        let mut gone = Vec::new();
        partitions.retain(|key, cell| {
            let forget = forgotten.contains(&key.0);
            if forget {
                gone.push(Arc::clone(cell));
            }
            !forget
        });
        debug_assert!(partitions.len() + gone.len() == kept);
        drop(partitions);
        // Freed here, with no lock held.
        drop(gone);
        drop(dropped);
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
        self.allowed_with(principal, targets, context, store, Note::Not, Reuse::No)
    }

    /// [`Engine::allowed`], also noting which policies decided one of the
    /// requests ([`Engine::decided`]): a permit that is satisfied on an
    /// allowed request, a forbid that is satisfied on a request the schema
    /// accepts (Cedar's reason for the allow or the deny).
    pub fn allowed_noting(
        &self,
        principal: &EntityUid,
        targets: &Targets,
        context: &Value,
        store: StoreId,
    ) -> Vec<bool> {
        self.allowed_with(
            principal,
            targets,
            context,
            store,
            Note::Into(&self.decided),
            Reuse::No,
        )
    }

    /// [`Engine::allowed_noting`], noting into `noted` (from
    /// [`Engine::noting`]) instead of the engine's own flags (so callers that
    /// share one engine across threads each keep what their own requests
    /// saw decide; [`Engine::decided_in`] reads it), in a store
    /// that differs from the store of `base`
    /// ([`Engine::allowed_deciding_satisfied`], with the same principal and
    /// targets and a context every policy reads alike) as `touched` says
    /// ([`Engine::touched_by`]): the policies it does not mark are not
    /// evaluated again, their satisfaction is `base`'s.
    #[expect(clippy::too_many_arguments, reason = "the parts of one call")]
    pub fn allowed_noting_into_over(
        &self,
        principal: &EntityUid,
        targets: &Targets,
        context: &Value,
        store: StoreId,
        noted: &Noted,
        touched: &[bool],
        base: &Satisfied,
    ) -> Vec<bool> {
        self.allowed_with(
            principal,
            targets,
            context,
            store,
            Note::Into(&noted.0),
            Reuse::From { touched, base },
        )
    }

    /// [`Engine::allowed`], also saying which requests each policy decided
    /// (Cedar's reason for the allow or the deny, as
    /// [`Engine::allowed_noting`] notes it), by policy index: a caller that
    /// keeps the answers of some requests and asks the others again notes
    /// exactly the policies that decide the ones it keeps.
    #[cfg_attr(
        not(feature = "internals"),
        expect(dead_code, reason = "read by tests, through `internals`")
    )]
    pub fn allowed_deciding(
        &self,
        principal: &EntityUid,
        targets: &Targets,
        context: &Value,
        store: StoreId,
    ) -> (Vec<bool>, Vec<Decided>) {
        let (allowed, deciding, _) =
            self.allowed_deciding_satisfied(principal, targets, context, store);
        (allowed, deciding)
    }

    /// [`Engine::allowed_deciding`], also saying on which resources each
    /// policy is satisfied ([`Satisfied`]).
    pub fn allowed_deciding_satisfied(
        &self,
        principal: &EntityUid,
        targets: &Targets,
        context: &Value,
        store: StoreId,
    ) -> (Vec<bool>, Vec<Decided>, Satisfied) {
        let mut deciding = Vec::new();
        let mut satisfied = vec![None; self.policies.len()];
        let allowed = self.allowed_with(
            principal,
            targets,
            context,
            store,
            Note::Each(&mut deciding),
            Reuse::Record(&mut satisfied),
        );
        deciding.sort_by_key(|d: &Decided| d.policy);
        (allowed, deciding, satisfied)
    }

    /// Per policy: whether its satisfaction can differ between two stores
    /// that differ as `changed` says, for some request. Evaluating a policy
    /// reads entity data only through attributes it names (`.`, `has`),
    /// tags, and ancestors (`in`, in its scopes or conditions); a policy
    /// that reads none of what changed makes every read alike in both
    /// stores, so it is satisfied alike. An opaque policy (the `reads` module cannot
    /// say what it reads) is always touched.
    pub fn touched_by(&self, changed: &Changed) -> Vec<bool> {
        self.policies
            .iter()
            .map(|facts| match &facts.reads {
                _ if changed.unknown => true,
                None => true,
                Some(names) => {
                    (changed.parents && facts.ancestors)
                        || (changed.tags && facts.tags)
                        || names.iter().any(|name| changed.attrs.contains(name))
                }
            })
            .collect()
    }

    /// Whether some policy `touched` marks may apply to `principal` and
    /// `action` (its principal and action scopes admit them in one of the
    /// stores): when none does, every request with them is decided alike
    /// in both stores.
    pub fn touched_may_apply(
        &self,
        touched: &[bool],
        principal: &EntityUid,
        action: &EntityUid,
        stores: [&Entities; 2],
    ) -> bool {
        self.policies
            .iter()
            .zip(touched)
            .filter(|(_, touched)| **touched)
            .any(|(facts, _)| {
                stores
                    .iter()
                    .any(|store| principal_matches(&facts.principal, principal, store))
                    && stores
                        .iter()
                        .any(|store| action_matches(&facts.action, action, store))
            })
    }

    /// An empty set of noted policies for [`Engine::allowed_noting_into_over`].
    pub fn noting(&self) -> Noted {
        Noted(
            self.policies
                .iter()
                .map(|_| AtomicBool::new(false))
                .collect(),
        )
    }

    /// The ids of the policies `noted` holds, sorted (as [`Engine::decided`]).
    pub fn decided_in(&self, noted: &Noted) -> BTreeSet<String> {
        self.policies
            .iter()
            .zip(&noted.0)
            .filter(|(_, decided)| decided.load(Ordering::Relaxed))
            .map(|(facts, _)| facts.policy.id().to_string())
            .collect()
    }

    /// The ids of the policies (and template links) that decided a request
    /// asked through [`Engine::allowed_noting`] or
    /// [`Engine::allowed_brute_force_noting`], sorted.
    pub fn decided(&self) -> BTreeSet<String> {
        self.policies
            .iter()
            .zip(&self.decided)
            .filter(|(_, decided)| decided.load(Ordering::Relaxed))
            .map(|(facts, _)| facts.policy.id().to_string())
            .collect()
    }

    fn allowed_with(
        &self,
        principal: &EntityUid,
        targets: &Targets,
        context: &Value,
        store: StoreId,
        mut note: Note<'_>,
        mut reuse: Reuse<'_>,
    ) -> Vec<bool> {
        let count = targets.list.resources.len();
        let mut allowed = vec![false; count];
        let Some((data, cedar_context)) = self.request_parts(targets, context, store) else {
            return allowed;
        };
        let action = &targets.action;
        let entities = data.entities();
        let mut named: Vec<EntityUid> = Vec::new();
        collect_uids(context, &mut named);
        named.push(principal.clone());
        named.push(action.clone());
        let extra: Vec<EntityUid> = named
            .iter()
            .filter(|uid| !self.subjects.contains(*uid))
            .cloned()
            .collect();
        let table = self.table(&data, &targets.list);
        // Whether the schema accepts the request. Its check depends on the
        // resource through its type, and for an enumerated type through its
        // id too: a store's entities conform to the schema (an enumerated
        // one is a member), so for a resource in the store it is made once
        // per type; a resource the store lacks is checked alone. A request
        // built without the schema is the same request.
        let mut valid: HashMap<u32, bool> = HashMap::new();
        let mut valid_alone: HashMap<usize, bool> = HashMap::new();
        let in_store = |index: usize| table.numbers[index] != u32::MAX;
        let mut satisfied_by = |facts: &PolicyFacts, representative: usize| -> bool {
            let resource = &targets.list.resources[representative];
            let type_number = table.types[representative];
            let known = if in_store(representative) {
                valid.get(&type_number)
            } else {
                valid_alone.get(&representative)
            }
            .copied();
            if known == Some(false) {
                return false;
            }
            let request = Request::new(
                principal.clone(),
                action.clone(),
                resource.clone(),
                cedar_context.clone(),
                if known.is_some() { None } else { self.schema },
            );
            if in_store(representative) {
                valid.insert(type_number, request.is_ok());
            } else {
                valid_alone.insert(representative, request.is_ok());
            }
            let Ok(request) = request else {
                return false;
            };
            facts.satisfied(&self.authorizer, &request, entities)
        };
        let mut forbidden = vec![false; count];
        let mut any_permit = false;
        // Permits satisfied somewhere, to note once the decisions are known.
        let mut satisfied_permits: Vec<(usize, Arc<Vec<bool>>)> = Vec::new();
        for (index, facts) in self.policies.iter().enumerate() {
            if !principal_matches(&facts.principal, principal, entities)
                || !action_matches(&facts.action, action, entities)
            {
                continue;
            }
            let kept = match &reuse {
                Reuse::From { touched, base } if !touched[index] => base[index].clone(),
                _ => None,
            };
            // On which resources the policy is satisfied.
            let on = match kept {
                Some(on) => on,
                None => {
                    let partition = if extra.is_empty() {
                        self.shared_partition(store, &targets.list, &data, index)
                    } else {
                        let relevant = self.relevant(&data, index);
                        let mut widened = relevant.set.clone();
                        close_over_ancestors(entities, extra.iter().cloned(), &mut widened);
                        let widened = self.numbered(&data, widened);
                        Arc::new(self.partition(&targets.list, &table, index, &widened))
                    };
                    // Classes the policy cannot tell apart for this principal, action
                    // and context: merged, one evaluation each.
                    let merged = if partition.representatives.len() > MERGE_ABOVE {
                        merge(
                            &partition,
                            &targets.list.resources,
                            &Seen {
                                entities,
                                table: &table,
                                index: self.index(&data),
                            },
                            facts,
                            &named,
                        )
                    } else {
                        None
                    };
                    let satisfied: Vec<bool> = match merged {
                        Some(merged) => {
                            let merged_satisfied: Vec<bool> = merged
                                .representatives
                                .iter()
                                .map(|&r| satisfied_by(facts, r))
                                .collect();
                            merged
                                .class_of_class
                                .iter()
                                .map(|&m| merged_satisfied[m as usize])
                                .collect()
                        }
                        None => partition
                            .representatives
                            .iter()
                            .map(|&r| satisfied_by(facts, r))
                            .collect(),
                    };
                    Arc::new(
                        partition
                            .class_of
                            .iter()
                            .map(|&class| class != NO_CLASS && satisfied[class as usize])
                            .collect::<Vec<bool>>(),
                    )
                }
            };
            if let Reuse::Record(record) = &mut reuse {
                record[index] = Some(Arc::clone(&on));
            }
            if !on.contains(&true) {
                continue;
            }
            let wanted = match &note {
                Note::Not => false,
                Note::Into(decided) => !decided[index].load(Ordering::Relaxed),
                Note::Each(_) => true,
            };
            if wanted {
                // A satisfied forbid decides the (valid) request: deny.
                match &mut note {
                    _ if facts.permit => {
                        satisfied_permits.push((index, Arc::clone(&on)));
                    }
                    Note::Into(decided) => {
                        decided[index].store(true, Ordering::Relaxed);
                    }
                    Note::Each(deciding) => {
                        deciding.extend(Decided::of(index, on.iter().copied()));
                    }
                    Note::Not => {}
                }
            }
            let marks = if facts.permit {
                any_permit = true;
                &mut allowed
            } else {
                &mut forbidden
            };
            for (mark, &satisfied) in marks.iter_mut().zip(on.iter()) {
                if satisfied {
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
                // A permit was satisfied on the resource's class. In the
                // store: the request was valid if its type was checked (a
                // type checked and rejected has no satisfied policy); a
                // type never checked had only satisfactions taken from
                // another store's call (`Reuse::From`), and is checked now.
                // Not in the store: its class may be another resource's
                // (merged), so it is checked alone.
                let accepted = || {
                    Request::new(
                        principal.clone(),
                        action.clone(),
                        targets.list.resources[index].clone(),
                        cedar_context.clone(),
                        self.schema,
                    )
                    .is_ok()
                };
                *allow = if in_store(index) {
                    *valid.entry(table.types[index]).or_insert_with(accepted)
                } else {
                    *valid_alone.entry(index).or_insert_with(accepted)
                };
            }
        }
        for (index, on) in satisfied_permits {
            // A satisfied permit decides every request that is allowed.
            let decides = on
                .iter()
                .zip(&allowed)
                .map(|(&satisfied, &allow)| allow && satisfied);
            match &mut note {
                Note::Into(decided) => {
                    if decides.into_iter().any(|decides| decides) {
                        decided[index].store(true, Ordering::Relaxed);
                    }
                }
                Note::Each(deciding) => deciding.extend(Decided::of(index, decides)),
                Note::Not => {}
            }
        }
        allowed
    }

    /// The store and the Cedar context of a call; `None` when the store does
    /// not exist or the context does not fit the action (nothing is allowed).
    fn request_parts(
        &self,
        targets: &Targets,
        context: &Value,
        store: StoreId,
    ) -> Option<(Arc<StoreData<'a>>, Context)> {
        let data = lock(&self.stores).get(store.0).cloned()?;
        Some((data, self.read_context(&targets.action, context)?))
    }

    /// Whether a context fits an action under the schema, if any: it reads
    /// as the action's context and has the action's context type (the
    /// check `Request::new` makes of the context). When it does not, no
    /// request of the action with it is allowed; when it does, whether the
    /// schema accepts one depends on its principal and resource only.
    pub fn context_fits(&self, action: &EntityUid, context: &Value) -> bool {
        self.read_context(action, context).is_some_and(|read| {
            self.schema
                .is_none_or(|schema| read.validate(schema, action).is_ok())
        })
    }

    /// A context as Cedar reads it for an action; `None` when it does not
    /// fit the action.
    fn read_context(&self, action: &EntityUid, context: &Value) -> Option<Context> {
        // Reading a context depends only on its JSON, the schema and the
        // action: the same text read again is the same context.
        let key = (action.clone(), context.to_string());
        if let Some(read) = lock(&self.contexts).get(&key) {
            self.contexts_reused.fetch_add(1, Ordering::Relaxed);
            return read.clone();
        }
        // As Cedar's parser reads it (`load::read_context` builds plain
        // contexts without it).
        let read = crate::load::read_context(action, context, self.schema).ok();
        let mut contexts = lock(&self.contexts);
        if contexts.len() >= MAX_CONTEXTS {
            contexts.clear();
        }
        contexts.insert(key, read.clone());
        drop(contexts);
        read
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
        self.brute_force_with(principal, targets, context, store, false)
    }

    /// [`Engine::allowed_brute_force`], noting the policies of Cedar's reason
    /// for each decision: the definition [`Engine::allowed_noting`] is tested
    /// against.
    pub fn allowed_brute_force_noting(
        &self,
        principal: &EntityUid,
        targets: &Targets,
        context: &Value,
        store: StoreId,
    ) -> Vec<bool> {
        self.brute_force_with(principal, targets, context, store, true)
    }

    fn brute_force_with(
        &self,
        principal: &EntityUid,
        targets: &Targets,
        context: &Value,
        store: StoreId,
        note: bool,
    ) -> Vec<bool> {
        self.deciding_brute_force(principal, targets, context, store)
            .into_iter()
            .map(|(allowed, reason)| {
                if note {
                    for index in reason {
                        self.decided[index].store(true, Ordering::Relaxed);
                    }
                }
                allowed
            })
            .collect()
    }

    /// The oracle of [`Engine::allowed_deciding`]: per resource, whether
    /// Cedar allows the request (asked with the whole policy set) and the
    /// indices of the policies of its reason, sorted.
    pub fn deciding_brute_force(
        &self,
        principal: &EntityUid,
        targets: &Targets,
        context: &Value,
        store: StoreId,
    ) -> Vec<(bool, Vec<usize>)> {
        // The oracle reads the context itself, not through the engine's
        // kept contexts.
        let data = lock(&self.stores).get(store.0).cloned();
        let context =
            Context::from_json_value(context.clone(), self.schema.map(|s| (s, &targets.action)));
        let (Some(data), Ok(context)) = (data, context) else {
            return vec![(false, Vec::new()); targets.list.resources.len()];
        };
        targets
            .list
            .resources
            .iter()
            .map(|resource| {
                let Ok(request) = Request::new(
                    principal.clone(),
                    targets.action.clone(),
                    resource.clone(),
                    context.clone(),
                    self.schema,
                ) else {
                    return (false, Vec::new());
                };
                let response = self
                    .authorizer
                    .is_authorized(&request, self.all, data.entities());
                let mut reason: Vec<usize> = response
                    .diagnostics()
                    .reason()
                    .filter_map(|id| self.policies.iter().position(|f| f.policy.id() == id))
                    .collect();
                reason.sort_unstable();
                (response.decision() == cedar_policy::Decision::Allow, reason)
            })
            .collect()
    }

    /// Classes per policy for `targets` in `store`, shared by every principal
    /// the scenario names (policy id, classes); for benchmarks and profiling.
    pub fn classes_per_policy(&self, targets: &Targets, store: StoreId) -> Vec<(String, usize)> {
        let Some(data) = lock(&self.stores).get(store.0).cloned() else {
            return Vec::new();
        };
        (0..self.policies.len())
            .map(|index| {
                (
                    self.policies[index].policy.id().to_string(),
                    self.shared_partition(store, &targets.list, &data, index)
                        .representatives
                        .len(),
                )
            })
            .collect()
    }

    /// The sum of [`Engine::classes_per_policy`].
    #[cfg_attr(
        not(feature = "internals"),
        expect(dead_code, reason = "for benches and profiling, through `internals`")
    )]
    pub fn class_count(&self, targets: &Targets, store: StoreId) -> usize {
        self.classes_per_policy(targets, store)
            .iter()
            .map(|(_, n)| n)
            .sum()
    }

    fn shared_partition(
        &self,
        store: StoreId,
        list: &ResourceList,
        data: &StoreData<'_>,
        policy: usize,
    ) -> Arc<Partition> {
        // Classes read only the list's table and the policy's R. An
        // untouched list's table is the base store's (`Engine::table`); when
        // R is too, so are the classes (and what merging them reads).
        if let Some(over) = &data.over
            && over.untouched(list)
            && Arc::ptr_eq(
                &self.relevant(data, policy),
                &self.relevant(&over.data, policy),
            )
        {
            return self.shared_partition(over.base, list, &over.data, policy);
        }
        let cell = lock(&self.partitions)
            .entry((store.0, list.id, policy))
            .or_default()
            .clone();
        cell.get_or_init(|| {
            let relevant = self.relevant(data, policy);
            let table = self.table(data, list);
            Arc::new(self.partition(list, &table, policy, &relevant))
        })
        .clone()
    }

    /// Every entity of a store, numbered (built once per store).
    fn index<'d>(&self, data: &'d StoreData<'_>) -> &'d HashMap<EntityUid, u32> {
        self.shared_index(data)
    }

    /// [`Engine::index`], shared with the store it was made from when both
    /// hold the same entities.
    fn shared_index<'d>(&self, data: &'d StoreData<'_>) -> &'d Arc<HashMap<EntityUid, u32>> {
        data.index.get_or_init(|| {
            if let Some(over) = data.over.as_ref().filter(|over| over.same_entities) {
                return Arc::clone(self.shared_index(&over.data));
            }
            Arc::new(
                data.entities()
                    .iter()
                    .enumerate()
                    .map(|(n, entity)| (entity.uid(), u32::try_from(n).unwrap_or(u32::MAX)))
                    .collect(),
            )
        })
    }

    fn numbered(&self, data: &StoreData<'_>, set: HashSet<EntityUid>) -> Relevant {
        let index = self.index(data);
        let mut numbered = vec![false; index.len()];
        for uid in &set {
            if let Some(&n) = index.get(uid) {
                numbered[n as usize] = true;
            }
        }
        Relevant { set, numbered }
    }

    /// What the partitions read about a resource list in a store.
    fn table(&self, data: &StoreData<'_>, list: &ResourceList) -> Arc<ResourceTable> {
        let cell = lock(&data.tables).entry(list.id).or_default().clone();
        cell.get_or_init(|| {
            if let Some(over) = data.over.as_ref().filter(|over| over.untouched(list)) {
                return self.table(&over.data, list);
            }
            let index = self.index(data);
            let entities = data.entities();
            let names: BTreeSet<&str> = self
                .policies
                .iter()
                .flat_map(|facts| facts.reads.iter().flatten().map(String::as_str))
                .collect();
            let count = list.resources.len();
            let mut type_numbers: HashMap<String, u32> = HashMap::new();
            let mut type_names = Vec::new();
            let mut types = Vec::with_capacity(count);
            let mut numbers = Vec::with_capacity(count);
            let mut ancestors = Vec::with_capacity(count);
            let mut value_numbers: Vec<BTreeMap<Feature, u32>> =
                vec![BTreeMap::new(); names.len() + 1];
            let mut columns: Vec<Vec<u32>> = vec![Vec::with_capacity(count); names.len() + 1];
            let mut refers: Vec<Vec<bool>> = vec![vec![false]; names.len() + 1];
            let mut counters: Vec<u32> = vec![0; names.len() + 1];
            for resource in &list.resources {
                let name = resource.type_name().to_string();
                let next = u32::try_from(type_names.len()).unwrap_or(u32::MAX);
                let number = *type_numbers.entry(name.clone()).or_insert_with(|| {
                    type_names.push(name);
                    next
                });
                types.push(number);
                numbers.push(index.get(resource).copied().unwrap_or(u32::MAX));
                ancestors.push(
                    entities
                        .ancestors(resource)
                        .map(|found| {
                            found
                                .filter_map(|a| index.get(a).copied())
                                .collect::<Vec<u32>>()
                        })
                        .unwrap_or_default(),
                );
                let entity = entities.get(resource);
                let values = names
                    .iter()
                    .map(|name| entity.and_then(|e| e.attr(name)).map(Feature::from_attr))
                    .chain(std::iter::once(entity.map(Feature::tags)));
                for (column, value) in values.enumerate() {
                    let (n, refs) = match value {
                        None => (0, false),
                        Some(feature) => {
                            let refs = feature.refers();
                            let known = match &feature {
                                // Cannot be compared: a number of its own.
                                Feature::Unknown => None,
                                feature => value_numbers[column].get(feature).copied(),
                            };
                            let n = known.unwrap_or_else(|| {
                                counters[column] += 1;
                                if !matches!(feature, Feature::Unknown) {
                                    value_numbers[column].insert(feature, counters[column]);
                                }
                                counters[column]
                            });
                            (n, refs)
                        }
                    };
                    columns[column].push(n);
                    if refers[column].len() <= n as usize {
                        refers[column].resize(n as usize + 1, false);
                    }
                    refers[column][n as usize] |= refs;
                }
            }
            let tags = columns.pop().unwrap_or_default();
            let tag_refers = refers.pop().unwrap_or_default();
            let refers = names
                .iter()
                .map(|name| (*name).to_string())
                .zip(refers)
                .chain(std::iter::once((String::new(), tag_refers)))
                .collect::<HashMap<String, Vec<bool>>>();
            let attrs = names
                .iter()
                .map(|name| (*name).to_string())
                .zip(columns)
                .collect();
            Arc::new(ResourceTable {
                types,
                type_names,
                numbers,
                ancestors,
                attrs,
                tags,
                refers,
            })
        })
        .clone()
    }

    /// Entity values of one attribute over every entity of a store (built
    /// once per store and name; `None`: the tags).
    fn attribute_uids(&self, data: &StoreData<'_>, name: Option<&str>) -> Arc<HashSet<EntityUid>> {
        if let Some(over) = data.over.as_ref().filter(|over| over.same_values(name)) {
            return self.attribute_uids(&over.data, name);
        }
        let key = name.map_or_else(|| "\u{0}tags".to_string(), str::to_string);
        if let Some(found) = lock(&data.attribute_uids).get(&key) {
            return found.clone();
        }
        let mut uids = Vec::new();
        for entity in data.entities().iter() {
            match name {
                Some(name) => {
                    if let Some(Ok(value)) = entity.attr(name) {
                        entity_values(&value, &mut uids);
                    }
                }
                None => {
                    for (_, value) in entity.tags() {
                        if let Ok(value) = value {
                            entity_values(&value, &mut uids);
                        }
                    }
                }
            }
        }
        let found: Arc<HashSet<EntityUid>> = Arc::new(uids.into_iter().collect());
        lock(&data.attribute_uids).insert(key, found.clone());
        found
    }

    /// R of a policy in a store: its literals, the subjects, every entity
    /// value of the attributes (and tags) it reads on any entity, and all
    /// their ancestors.
    fn relevant(&self, data: &StoreData<'_>, policy: usize) -> Arc<Relevant> {
        data.relevant[policy]
            .get_or_init(|| {
                let facts = &self.policies[policy];
                if let Some(over) = &data.over
                    && over.same_entities
                    && facts
                        .reads
                        .iter()
                        .flatten()
                        .all(|name| over.same_values(Some(name)))
                    && (!facts.tags || over.same_values(None))
                {
                    // The same seeds. A seed's ancestors differ only when
                    // it is affected: the base R with the affected members'
                    // ancestors here added holds this store's R.
                    let base = self.relevant(&over.data, policy);
                    let reached: Vec<EntityUid> = base
                        .set
                        .iter()
                        .filter(|uid| over.affected.contains(*uid))
                        .cloned()
                        .collect();
                    let mut added = HashSet::new();
                    close_over_ancestors(data.entities(), reached, &mut added);
                    added.retain(|uid| !base.set.contains(uid));
                    if added.is_empty() {
                        return base;
                    }
                    let mut set = base.set.clone();
                    set.extend(added);
                    return Arc::new(self.numbered(data, set));
                }
                let mut seeds: HashSet<EntityUid> = facts.literals.iter().cloned().collect();
                seeds.extend(self.subjects.iter().cloned());
                for name in facts.reads.iter().flatten() {
                    seeds.extend(self.attribute_uids(data, Some(name)).iter().cloned());
                }
                if facts.tags {
                    seeds.extend(self.attribute_uids(data, None).iter().cloned());
                }
                let mut relevant = HashSet::new();
                close_over_ancestors(data.entities(), seeds, &mut relevant);
                Arc::new(self.numbered(data, relevant))
            })
            .clone()
    }

    /// The classes of a resource list for one policy, given its R: resources
    /// with equal keys (type, values of the attributes read, tags if read,
    /// ancestors within R if `in` is used) and not in R share a class.
    fn partition(
        &self,
        list: &ResourceList,
        table: &ResourceTable,
        policy: usize,
        relevant: &Relevant,
    ) -> Partition {
        let facts = &self.policies[policy];
        let constraint = facts.policy.resource_constraint();
        let admitted: Vec<bool> = table
            .type_names
            .iter()
            .map(|name| resource_type_matches(&constraint, name))
            .collect();
        let columns: Option<Vec<&Vec<u32>>> = facts.reads.as_ref().and_then(|names| {
            let mut columns: Vec<&Vec<u32>> = names
                .iter()
                .map(|name| table.attrs.get(name))
                .collect::<Option<_>>()?;
            if facts.tags {
                columns.push(&table.tags);
            }
            Some(columns)
        });
        let mut classes: HashMap<Vec<u32>, u32> = HashMap::new();
        let mut representatives = Vec::new();
        let mut class_of = Vec::with_capacity(list.resources.len());
        for (index, resource) in list.resources.iter().enumerate() {
            let type_number = table.types[index];
            if !admitted[type_number as usize] {
                class_of.push(NO_CLASS);
                continue;
            }
            let number = table.numbers[index];
            let named = if number == u32::MAX {
                relevant.set.contains(resource)
            } else {
                relevant.contains_number(number)
            };
            let key: Vec<u32> = match &columns {
                Some(columns) if !named && number != u32::MAX => {
                    let mut key = Vec::with_capacity(2 + columns.len());
                    key.push(type_number);
                    key.extend(columns.iter().map(|column| column[index]));
                    if facts.resource_in {
                        let mut ancestors: Vec<u32> = table.ancestors[index]
                            .iter()
                            .copied()
                            .filter(|&a| relevant.contains_number(a))
                            .collect();
                        ancestors.sort_unstable();
                        key.push(u32::MAX);
                        key.extend(ancestors);
                    }
                    key
                }
                // Named somewhere, not inspectable, or not in the store.
                _ => vec![u32::MAX, u32::try_from(index).unwrap_or(u32::MAX)],
            };
            let next = u32::try_from(representatives.len()).unwrap_or(NO_CLASS - 1);
            let class = *classes.entry(key).or_insert_with(|| {
                representatives.push(index);
                next
            });
            class_of.push(class);
        }
        Partition {
            seen: OnceLock::new(),
            merges: Mutex::new(HashMap::new()),
            representatives,
            class_of,
        }
    }
}

/// A policy's classes merged for one D: the merged class of each class, and
/// a representative per merged class.
struct Merged {
    class_of_class: Vec<u32>,
    representatives: Vec<usize>,
}

/// Below this many classes a policy's classes are evaluated as they are;
/// above it they are first merged for the principal at hand.
const MERGE_ABOVE: usize = 8;

/// Merges a policy's classes for one principal, action and context: two
/// classes whose representatives look the same from what the policy can
/// reach from the principal, the action, the context and its literals (the
/// set D) satisfy the policy alike. Entities outside D are described by their
/// type, the attributes the policy reads, their ancestors in D and their
/// relations to each other, never by name. Returns, per class, its merged
/// class and the merged classes' representatives; `None` when a description
/// grows too large (the classes are then evaluated as they are).
fn merge(
    partition: &Partition,
    resources: &[EntityUid],
    store: &Seen<'_>,
    facts: &PolicyFacts,
    named: &[EntityUid],
) -> Option<Arc<Merged>> {
    let entities = store.entities;
    let names = facts.reads.as_deref()?;
    let mut seeds: Vec<EntityUid> = facts.literals.clone();
    seeds.extend(named.iter().cloned());
    let d = reach(entities, names, facts.tags, seeds);
    // Descriptions test D only for the entities they can see: principals
    // whose D agrees there share the merge.
    let seen = partition
        .seen
        .get_or_init(|| seen_by_descriptions(partition, resources, entities, names, facts.tags));
    let key: Option<Vec<String>> = seen.as_ref().map(|seen| {
        let mut key: Vec<String> = d
            .iter()
            .filter(|uid| seen.contains(*uid))
            .map(ToString::to_string)
            .collect();
        key.sort();
        key
    });
    if let Some(key) = &key
        && let Some(known) = lock(&partition.merges).get(key)
    {
        return Some(known.clone());
    }
    let d_numbers: HashSet<u32> = d
        .iter()
        .filter_map(|uid| store.index.get(uid).copied())
        .collect();
    let columns: Vec<&Vec<u32>> = names
        .iter()
        .filter_map(|name| store.table.attrs.get(name))
        .chain(facts.tags.then_some(&store.table.tags))
        .collect();
    let refers: Vec<&Vec<bool>> = names
        .iter()
        .map(String::as_str)
        .chain(facts.tags.then_some(""))
        .filter_map(|name| store.table.refers.get(name))
        .collect();
    let mut merged: HashMap<Description, u32> = HashMap::new();
    let mut representatives = Vec::new();
    let mut class_of_class = Vec::with_capacity(partition.representatives.len());
    for &representative in &partition.representatives {
        let number = store.table.numbers[representative];
        let simple = number != u32::MAX
            && columns.len() == names.len() + usize::from(facts.tags)
            && refers.len() == columns.len()
            && columns.iter().zip(&refers).all(|(column, refers)| {
                !refers
                    .get(column[representative] as usize)
                    .copied()
                    .unwrap_or(true)
            })
            && !d_numbers.contains(&number);
        if simple {
            // No entity but the resource itself in view: its type, the values
            // it reads and its ancestors in D say all a full description would.
            let mut key = vec![store.table.types[representative]];
            key.extend(columns.iter().map(|column| column[representative]));
            if facts.uses_in {
                let mut ancestors: Vec<u32> = store.table.ancestors[representative]
                    .iter()
                    .copied()
                    .filter(|a| d_numbers.contains(a))
                    .collect();
                ancestors.sort_unstable();
                key.push(u32::MAX);
                key.extend(ancestors);
            }
            let next = u32::try_from(representatives.len()).unwrap_or(u32::MAX);
            let class = *merged.entry(Description::Simple(key)).or_insert_with(|| {
                representatives.push(representative);
                next
            });
            class_of_class.push(class);
            continue;
        }
        let mut describe = Describe {
            entities,
            names,
            tags: facts.tags,
            uses_in: facts.uses_in,
            d: &d,
            anonymous: Vec::new(),
            out: String::new(),
        };
        let description = Description::Full(describe.resource(&resources[representative])?);
        let next = u32::try_from(representatives.len()).unwrap_or(u32::MAX);
        let class = *merged.entry(description).or_insert_with(|| {
            representatives.push(representative);
            next
        });
        class_of_class.push(class);
    }
    let result = Arc::new(Merged {
        class_of_class,
        representatives,
    });
    if let Some(key) = key {
        lock(&partition.merges).insert(key, result.clone());
    }
    Some(result)
}

/// Every entity a description of a representative can look at, whatever D
/// is: the representatives, the entity values reachable from them through
/// the attributes (and tags) the policy reads, and all their ancestors.
/// `None` when that grows past a bound.
fn seen_by_descriptions(
    partition: &Partition,
    resources: &[EntityUid],
    entities: &Entities,
    names: &[String],
    tags: bool,
) -> Option<HashSet<EntityUid>> {
    const MAX_SEEN: usize = 1_000_000;
    let mut seen: HashSet<EntityUid> = HashSet::new();
    let mut explored: HashSet<EntityUid> = HashSet::new();
    let mut queue: Vec<EntityUid> = partition
        .representatives
        .iter()
        .map(|&r| resources[r].clone())
        .collect();
    while let Some(uid) = queue.pop() {
        if seen.len() > MAX_SEEN {
            return None;
        }
        if !explored.insert(uid.clone()) {
            continue;
        }
        seen.insert(uid.clone());
        let Some(entity) = entities.get(&uid) else {
            continue;
        };
        if let Some(ancestors) = entities.ancestors(&uid) {
            seen.extend(ancestors.cloned());
        }
        for name in names {
            if let Some(Ok(value)) = entity.attr(name) {
                entity_values(&value, &mut queue);
            }
        }
        if tags {
            for (_, value) in entity.tags() {
                if let Ok(value) = value {
                    entity_values(&value, &mut queue);
                }
            }
        }
    }
    Some(seen)
}

/// What [`merge`] reads about a store.
struct Seen<'s> {
    entities: &'s Entities,
    table: &'s ResourceTable,
    index: &'s HashMap<EntityUid, u32>,
}

/// A representative as a policy sees it from D: in numbers when only the
/// resource itself is in view, else in full (see [`Describe`]).
#[derive(PartialEq, Eq, Hash)]
enum Description {
    Simple(Vec<u32>),
    Full(String),
}

/// D: the seeds, every entity value reachable from them through the
/// attributes (and tags) the policy reads, and all their ancestors.
fn reach(
    entities: &Entities,
    names: &[String],
    tags: bool,
    seeds: Vec<EntityUid>,
) -> HashSet<EntityUid> {
    let mut seen: HashSet<EntityUid> = HashSet::new();
    let mut queue = seeds;
    while let Some(uid) = queue.pop() {
        if !seen.insert(uid.clone()) {
            continue;
        }
        let Some(entity) = entities.get(&uid) else {
            continue;
        };
        let mut values: Vec<EvalResult> = names
            .iter()
            .filter_map(|name| entity.attr(name)?.ok())
            .collect();
        if tags {
            values.extend(entity.tags().filter_map(|(_, value)| value.ok()));
        }
        for value in &values {
            entity_values(value, &mut queue);
        }
    }
    let mut d = HashSet::new();
    close_over_ancestors(entities, seen, &mut d);
    d
}

fn entity_values(value: &EvalResult, into: &mut Vec<EntityUid>) {
    match value {
        EvalResult::EntityUid(uid) => into.push(uid.clone()),
        EvalResult::Set(set) => set.iter().for_each(|v| entity_values(v, into)),
        EvalResult::Record(record) => record.iter().for_each(|(_, v)| entity_values(v, into)),
        _ => {}
    }
}

/// Describes a resource as a policy sees it from D (see [`merge`]).
struct Describe<'e> {
    entities: &'e Entities,
    names: &'e [String],
    tags: bool,
    uses_in: bool,
    d: &'e HashSet<EntityUid>,
    /// Entities outside D met so far, numbered in order; the resource is 0.
    anonymous: Vec<EntityUid>,
    out: String,
}

/// How many entities outside D a description may involve.
const MAX_ANONYMOUS: usize = 16;

impl Describe<'_> {
    fn resource(&mut self, resource: &EntityUid) -> Option<String> {
        if self.d.contains(resource) {
            // Named by the policy's reach: a class of its own already.
            return Some(format!("N{resource}"));
        }
        self.anonymous.push(resource.clone());
        let mut next = 0;
        while let Some(uid) = self.anonymous.get(next).cloned() {
            if self.anonymous.len() > MAX_ANONYMOUS {
                return None;
            }
            self.out.push_str("\n#");
            self.out.push_str(&uid.type_name().to_string());
            let entity = self.entities.get(&uid);
            match entity {
                None => self.out.push('?'),
                Some(entity) => {
                    for name in self.names {
                        self.out.push('|');
                        match entity.attr(name) {
                            None => self.out.push('-'),
                            Some(Ok(value)) => self.value(&value),
                            Some(Err(_)) => return None,
                        }
                    }
                    if self.tags {
                        self.out.push_str("|tags{");
                        let mut tags: Vec<(&str, EvalResult)> = Vec::new();
                        for (name, value) in entity.tags() {
                            tags.push((name, value.ok()?));
                        }
                        tags.sort_by(|a, b| a.0.cmp(b.0));
                        for (name, value) in tags {
                            self.string(name);
                            self.out.push(':');
                            self.value(&value);
                            self.out.push(',');
                        }
                        self.out.push('}');
                    }
                }
            }
            if self.uses_in {
                let mut within: Vec<String> = self
                    .entities
                    .ancestors(&uid)
                    .map(|found| {
                        found
                            .filter(|a| self.d.contains(*a))
                            .map(ToString::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                within.sort();
                self.out.push_str("|in[");
                for ancestor in within {
                    self.string(&ancestor);
                }
                self.out.push(']');
            }
            next += 1;
        }
        if self.uses_in {
            // Which anonymous entities are ancestors of which.
            self.out.push_str("\n@");
            for child in &self.anonymous {
                let ancestors: HashSet<&EntityUid> = self
                    .entities
                    .ancestors(child)
                    .map(Iterator::collect)
                    .unwrap_or_default();
                for parent in &self.anonymous {
                    self.out
                        .push(if ancestors.contains(parent) { '1' } else { '0' });
                }
            }
        }
        Some(std::mem::take(&mut self.out))
    }

    fn entity(&mut self, uid: &EntityUid) {
        if self.d.contains(uid) {
            self.out.push('N');
            self.string(&uid.to_string());
            return;
        }
        let number = match self.anonymous.iter().position(|known| known == uid) {
            Some(number) => number,
            None => {
                self.anonymous.push(uid.clone());
                self.anonymous.len() - 1
            }
        };
        self.out.push('A');
        self.out.push_str(&number.to_string());
    }

    /// Length-prefixed, so no string can imitate the structure around it.
    fn string(&mut self, text: &str) {
        self.out.push_str(&text.len().to_string());
        self.out.push('"');
        self.out.push_str(text);
    }

    fn value(&mut self, value: &EvalResult) {
        match value {
            EvalResult::Bool(b) => self.out.push_str(if *b { "T" } else { "F" }),
            EvalResult::Long(n) => {
                self.out.push('L');
                self.out.push_str(&n.to_string());
                self.out.push(';');
            }
            EvalResult::String(text) => {
                self.out.push('S');
                self.string(text);
            }
            EvalResult::EntityUid(uid) => self.entity(uid),
            EvalResult::ExtensionValue(text) => {
                self.out.push('X');
                self.string(text);
            }
            EvalResult::Set(set) => {
                self.out.push('[');
                for item in set.iter() {
                    self.value(item);
                    self.out.push(',');
                }
                self.out.push(']');
            }
            EvalResult::Record(record) => {
                let mut fields: Vec<(&String, &EvalResult)> = record.iter().collect();
                fields.sort_by(|a, b| a.0.cmp(b.0));
                self.out.push('{');
                for (name, value) in fields {
                    self.string(name);
                    self.out.push(':');
                    self.value(value);
                    self.out.push(',');
                }
                self.out.push('}');
            }
        }
    }
}

/// What a class key records of one attribute (or of the tags) of a resource.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Feature {
    /// A value Cedar could not give (never equal to another).
    Unknown,
    Value(EvalResult),
    Tags(Vec<(String, EvalResult)>),
}

impl Feature {
    fn from_attr(value: Result<EvalResult, cedar_policy::PartialValueToValueError>) -> Self {
        value.map_or(Feature::Unknown, Feature::Value)
    }

    fn tags(entity: &cedar_policy::Entity) -> Self {
        let mut tags = Vec::new();
        for (name, value) in entity.tags() {
            match value {
                Ok(value) => tags.push((name.to_string(), value)),
                Err(_) => return Feature::Unknown,
            }
        }
        tags.sort();
        Feature::Tags(tags)
    }

    /// Whether it holds an entity reference.
    fn refers(&self) -> bool {
        let mut found = Vec::new();
        match self {
            Feature::Unknown => return true,
            Feature::Value(value) => entity_values(value, &mut found),
            Feature::Tags(tags) => tags.iter().for_each(|(_, v)| entity_values(v, &mut found)),
        }
        !found.is_empty()
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads a policy: its single-policy set, the attributes and tags it reads,
/// whether it uses `in`, and its entity literals (including link values).
fn policy_facts(policies: &PolicySet, json: &PolicyJson, policy: &Policy) -> PolicyFacts {
    let template = policy
        .template_id()
        .and_then(|id| policies.template(id))
        .cloned();
    let mut literals = Vec::new();
    let mut json_forms: Vec<&Value> = json.policy(policy.id()).into_iter().collect();
    let mut complete = !json_forms.is_empty();
    let check = match (template, policy.template_links()) {
        (Some(template), Some(links)) => {
            json_forms.extend(json.template(template.id()));
            literals.extend(links.values().cloned());
            let template_id = template.id().clone();
            let mut alone = PolicySet::new();
            complete &= alone.add_template(template).is_ok()
                && alone.link(template_id, policy.id().clone(), links).is_ok();
            Check::Alone(alone)
        }
        // A link whose template the set lacks: a set of it alone cannot
        // be made, and it is satisfied nowhere, as before.
        _ if policy.template_id().is_some() => {
            let mut alone = PolicySet::new();
            complete &= alone.add(policy.clone()).is_ok();
            Check::Alone(alone)
        }
        _ => {
            let core: &cedar_policy_core::ast::Policy = policy.as_ref();
            Check::Condition(Expression::from(core.condition()))
        }
    };
    let scope_in = matches!(
        policy.resource_constraint(),
        ResourceConstraint::In(_) | ResourceConstraint::IsIn(..)
    );
    let mut read = Reads {
        uses_in: scope_in,
        resource_in: scope_in,
        ..Reads::default()
    };
    for json in &json_forms {
        // A JSON form without conditions is malformed: opaque too.
        complete &= json
            .get("conditions")
            .is_some_and(|conditions| reads::conditions(conditions, &mut read).is_ok());
        collect_uids(json, &mut literals);
    }
    PolicyFacts {
        permit: policy.effect() == Effect::Permit,
        check,
        reads: complete.then(|| read.names.into_iter().collect()),
        tags: read.tags,
        uses_in: read.uses_in,
        resource_in: read.resource_in,
        ancestors: read.uses_in
            || matches!(
                policy.principal_constraint(),
                PrincipalConstraint::In(_) | PrincipalConstraint::IsIn(..)
            )
            || matches!(policy.action_constraint(), ActionConstraint::In(_)),
        literals,
        principal: policy.principal_constraint(),
        action: policy.action_constraint(),
        policy: policy.clone(),
    }
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
pub(crate) fn collect_uids(json: &Value, into: &mut Vec<EntityUid>) {
    match json {
        Value::Object(map) => {
            if let (Some(Value::String(type_name)), Some(Value::String(id))) =
                (map.get("type"), map.get("id"))
                && let Ok(type_name) = EntityTypeName::from_str(type_name)
            {
                into.push(EntityUid::from_type_name_and_id(
                    type_name,
                    EntityId::new(id),
                ));
            }
            for value in map.values() {
                collect_uids(value, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_uids(item, into)),
        _ => {}
    }
}

/// Cedar's `in` on entities: equal, or an ancestor in the store.
pub(crate) fn is_in(child: &EntityUid, parent: &EntityUid, entities: &Entities) -> bool {
    child == parent
        || entities
            .ancestors(child)
            .is_some_and(|mut ancestors| ancestors.any(|a| a == parent))
}

/// Whether a policy's principal scope admits `principal` in `entities`.
pub(crate) fn principal_matches(
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

/// Whether a policy's action scope admits `action` in `entities`.
pub(crate) fn action_matches(
    constraint: &ActionConstraint,
    action: &EntityUid,
    entities: &Entities,
) -> bool {
    match constraint {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(uid) => action == uid,
        ActionConstraint::In(uids) => uids.iter().any(|uid| is_in(action, uid, entities)),
    }
}

/// Whether a policy's resource scope admits `resource` in `entities`.
pub(crate) fn resource_matches(
    constraint: &ResourceConstraint,
    resource: &EntityUid,
    entities: &Entities,
) -> bool {
    match constraint {
        ResourceConstraint::Any => true,
        ResourceConstraint::Eq(uid) => resource == uid,
        ResourceConstraint::In(uid) => is_in(resource, uid, entities),
        ResourceConstraint::Is(type_name) => resource.type_name() == type_name,
        ResourceConstraint::IsIn(type_name, uid) => {
            resource.type_name() == type_name && is_in(resource, uid, entities)
        }
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
