//! The world as state that actions change: a [`State`] is the clock plus every
//! grant in force (the scenario's own and those effects made) plus which
//! dormant sessions have been started. A [`Machine`] turns a state into Cedar
//! entity stores, evaluates requests in it, applies effects and checks the
//! state invariants. Replay (for scenarios with effects) and the escalation
//! search (`crate::search`) both run on it, so a trace the search finds
//! replays to the same decisions.
//!
//! Changes made by effects are [`Grant`]s too: a role assignment is a grant
//! that never ends, a revocation ends grants early. A state's entity store is
//! the grant-free store with the grants active at its time applied in the order
//! they started (so a later `remove_parent` undoes an earlier `add_parent`).

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use cedar_policy::{
    Context, Decision, Entities, Entity, EntityTypeName, EntityUid, Request, Response,
};
use serde_json::{Map, Value, json};

use crate::held::{Difference, Engine, Noted};
use crate::load::rules::{Effect, Operand, Operation, ValueSource};
use crate::load::{self as scenario, Scenario, Session};
use crate::world::rows::{Delta, Rows};
use crate::world::slices::Slices;
use crate::world::{self, Grant, Lived};
use privsim_model::result::{Decision as StepDecision, FindingKind};
use privsim_model::time::Instant;

pub use super::Actor;

/// A moment of the world.
#[derive(Debug, Clone)]
pub struct State {
    /// The simulated time.
    pub time: Instant,
    /// The scenario's grants (first, in order), then those effects made.
    pub grants: Vec<Grant>,
    /// For each session: when a `start_session` effect started it and until when.
    pub started: Vec<Option<(Instant, Option<Instant>)>>,
}

/// The exact identity of a state for the search: equal keys, equal futures
/// ([`Machine::state_key`]).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct StateKey(Vec<String>);

/// An invariant broken in a state, or by one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `delegation-ceiling`, `attenuation`, `expiry`, `never` or `access`.
    pub kind: FindingKind,
    /// The actor allowed what it should not be (index into [`Machine::actors`]).
    pub actor: usize,
    /// The action.
    pub action: EntityUid,
    /// The resource.
    pub resource: EntityUid,
    /// The delegator denied (ceiling) or the parent session's principal
    /// (attenuation).
    pub delegator: Option<EntityUid>,
    /// The grant that ended (expiry).
    pub grant: Option<String>,
    /// The `[[never]]` or `[[access]]` rule's line.
    pub rule: Option<usize>,
    /// `true` when an `[[access]]` assertion misses an allowed resource rather
    /// than allowing an unexpected one (the witness request must be allowed).
    pub missing: bool,
    /// The policies that allowed it.
    pub determining: Vec<String>,
    /// One sentence for humans.
    pub message: String,
    /// Found on a request just made (with the context it presented), so
    /// that request is its own witness; otherwise found in a state's held
    /// pairs, and a witness request is asked with the session's context.
    pub on_request: bool,
}

impl Violation {
    /// A violation of `kind` by `actor` on a pair, with nothing else said
    /// yet (no delegator, grant, rule, policies or message).
    fn of(kind: FindingKind, actor: usize, action: &EntityUid, resource: &EntityUid) -> Self {
        Self {
            kind,
            on_request: false,
            actor,
            action: action.clone(),
            resource: resource.clone(),
            delegator: None,
            grant: None,
            rule: None,
            missing: false,
            determining: Vec::new(),
            message: String::new(),
        }
    }

    /// What makes two violations the same finding: the same invariant broken
    /// by the same actor with the same action (and delegator, grant or rule).
    /// Other resources it reaches the same way are the same escalation.
    pub fn key(&self) -> (String, String, String, String, String) {
        (
            self.kind.to_string(),
            self.actor.to_string(),
            self.action.to_string(),
            format!("{:?}{:?}{:?}", self.delegator, self.grant, self.rule),
            if self.missing { "missing" } else { "" }.to_string(),
        )
    }
}

/// What one request did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `allow`, `deny` or `error`.
    pub decision: StepDecision,
    /// The determining policies.
    pub determining: Vec<String>,
    /// What the request changed, one line per effect.
    pub effects: Vec<String>,
    /// Why the request was an error, or why an effect could not apply.
    pub error: Option<String>,
    /// The effects (index into `Scenario::effects`) of an allowed request
    /// that could not apply, each with why; the others applied without them.
    pub not_applied: Vec<(usize, String)>,
}

/// How a search answered a request without asking Cedar (the index of
/// [`Machine::unasked`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unasked {
    /// Denied, read off the state's held sets ([`Machine::held_answer`]).
    HeldDenied = 0,
    /// Allowed, read off the state's held sets.
    HeldAllowed = 1,
    /// Allowed, read off the held sets, with a violation to report (its
    /// determining policies then asked of Cedar).
    HeldViolation = 2,
    /// No policy's scope admits it ([`Machine::admits_none`]).
    Unadmitted = 3,
    /// A delegator's request for the delegation ceiling, allowed, read off
    /// its row ([`Machine::held_allows_other`]).
    HeldCeiling = 4,
    /// A parent session's request for attenuation, allowed, read off its
    /// row.
    HeldAttenuation = 5,
}

/// Which pairs each actor is allowed in a state (over its universe).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Snapshot {
    /// Per actor, one flag per pair of its universe (in [`Machine::pairs`] order);
    /// empty for an actor that is not running.
    pub allowed: Vec<Vec<bool>>,
}

impl Snapshot {
    /// A hash of the whole snapshot, for novelty: FNV-1a (64 bits) over
    /// the number of actors, then per actor its number of flags and the
    /// flags packed eight to a byte. Fingerprints are written to corpus
    /// files, so the hash is fixed by its definition: std's `DefaultHasher`
    /// may change between Rust releases and hashes a length as a `usize`
    /// (4 or 8 bytes, by platform).
    pub fn fingerprint(&self) -> u64 {
        const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut hash = OFFSET_BASIS;
        let mut eat = |bytes: &[u8]| {
            for &byte in bytes {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(PRIME);
            }
        };
        eat(&(self.allowed.len() as u64).to_le_bytes());
        for flags in &self.allowed {
            eat(&(flags.len() as u64).to_le_bytes());
            for chunk in flags.chunks(8) {
                let packed = chunk
                    .iter()
                    .enumerate()
                    .fold(0u8, |byte, (bit, &flag)| byte | (u8::from(flag) << bit));
                eat(&[packed]);
            }
        }
        hash
    }
}

pub use super::{Universe, action_runs};

/// Evaluates and changes states of one scenario.
///
/// A machine is for one thread (its caches are `Rc`s and `RefCell`s). The
/// expensive part that does not change, the actors and their universes and
/// the incremental held-set machinery (`world::rows`: the held-set engine's
/// classes, the grant-free world's rows), is computed once and shared by
/// every machine made from [`Machine::share`]'s [`SharedMachine`], so the
/// workers of a search do not each compute it again.
pub struct Machine<'s> {
    /// The scenario.
    pub scenario: &'s Scenario,
    shared: Arc<Shared<'s>>,
    /// Everyone who can act: each session (in order), then principals acting alone.
    pub actors: Arc<Vec<Actor>>,
    /// Each actor's universe, flattened to (action, resource) pairs. A
    /// universe depends only on the principal's type, so actors of one type
    /// share one list (building and dropping a copy per actor was most of
    /// [`Machine::new`]'s time in a world of thousands of resources).
    pub pairs: Arc<Vec<Universe>>,
    stores: RefCell<HashMap<Vec<String>, Rc<StoreEntry>>>,
    /// The store last asked for, with what it was asked for: a search asks
    /// for one state's store once per move it makes there, and comparing
    /// the grants costs less than writing out the key of `stores`.
    last_store: RefCell<Option<LastStore>>,
    /// The last answer of [`Machine::admits_none`]: the store, the actor,
    /// the action and resource, and whether a scope admits them.
    #[expect(clippy::type_complexity, reason = "one memo, read in one place")]
    last_admits: RefCell<Option<(Rc<StoreEntry>, usize, EntityUid, EntityUid, bool)>>,
    /// Snapshots by brute force only (the oracle), for tests and benchmarks.
    brute_force: bool,
    /// The policies this machine's held-set rows saw decide (built with
    /// the rows).
    noting: OnceCell<Noted>,
    /// The `datetime("...")` literals of the policies that could not be read
    /// as moments, so the clock is never moved to them.
    pub unread_moments: BTreeSet<String>,
    /// The time arithmetic the policies do (`offset`, `durationSince`, …):
    /// moments it makes from times no literal or datetime value names are
    /// not derived.
    pub arithmetic: BTreeSet<String>,
    /// Requests evaluated so far (for throughput figures).
    pub evaluations: std::cell::Cell<u64>,
    /// Rows of changed states recomputed only in part: a group or pair
    /// that the change reaches kept from the grant-free row, because no
    /// policy the change touches may apply to it (tests read it, to see
    /// that generated worlds take that path).
    pub partial_rows: std::cell::Cell<u64>,
    /// Rows whose grant-free row was computed with another context that
    /// reads the same to every policy (`world::rows`, 6; tests read it, to
    /// see that generated worlds take that path).
    pub other_context_rows: std::cell::Cell<u64>,
    /// Rows a snapshot took from another actor's in the same state (one
    /// principal, contexts that read alike, [`Machine::snapshot_of`]).
    pub shared_rows: std::cell::Cell<u64>,
    /// Requests a search answered without asking Cedar, by [`Unasked`]
    /// kind (tests read it, to see that searches take those paths).
    pub unasked: std::cell::Cell<[u64; 6]>,
    /// Contexts as Cedar reads them, by action and context JSON text
    /// ([`Machine::request`]): a search asks the same actor's context at
    /// the same time for many resources and states.
    parsed: RefCell<HashMap<(EntityUid, String), Parsed>>,
    /// The policies of Cedar's reason for some decision so far: those that
    /// decided a request.
    decided: RefCell<std::collections::HashSet<cedar_policy::PolicyId>>,
    /// Actors' own contexts, by actor and time ([`Machine::own_context`]).
    own_contexts: RefCell<HashMap<(usize, Instant), Rc<OwnContext>>>,
    /// Grant-free entities' JSON, parsed, by uid text, for the entities
    /// grants change ([`Machine::base_entity`]).
    base_entities: RefCell<HashMap<String, Option<Rc<BaseEntity>>>>,
    /// Changed entities as Cedar reads them with the schema, by JSON text
    /// ([`Machine::entity_read`]).
    entity_reads: RefCell<HashMap<String, Result<Entity, String>>>,
    /// `[[never]]` rules with a type pattern matching more entities than
    /// become actors: the rule's line and how many were left out.
    pub unsearched_principals: Vec<(usize, usize)>,
    /// The grant-free store every store of this machine is made from, and
    /// the policies it asks Cedar with: the scenario's own on the machine
    /// [`Machine::new`] makes, copies of them on a worker's
    /// ([`SharedMachine::machine`]).
    own: Own,
    /// What [`Machine::authorize`] asks Cedar with: the same policies,
    /// sliced by scope per request (`world::slices`), whole on a
    /// brute-force machine.
    slices: Slices,
}

impl Drop for Machine<'_> {
    /// The held-set engine's stores for this machine's stores are freed
    /// with it, in its thread: the engine is shared by the workers of a
    /// search and dropped after them, by the thread that merges their
    /// results, which would otherwise free every worker's stores alone
    /// (tens of milliseconds on the campaign benchmark's world).
    fn drop(&mut self) {
        self.forget_engine_stores(&self.stores.borrow());
    }
}

/// What a machine evaluates with: the grant-free store its stores are made
/// from, and the policies.
///
/// Cedar's stores and policies hold their parts in `Arc`s, and evaluating
/// clones them (an attribute's value, a policy's condition), so two threads
/// evaluating with the same ones write the same reference counts on every
/// request, and each core keeps taking the other's cache lines. Measured
/// (BENCHMARKS.md, "Jobs scaling"): 2 workers sharing them spent 12 to 18%
/// more CPU than 1 worker on the same moves; with copies of their own, 2
/// to 11%. The store's copy is built again from the world's JSON with the
/// schema, as the scenario's was: a copy made through Cedar's JSON form of
/// the store (read back without the schema) answered the same but made
/// one worker's search about 20% slower on the campaign benchmark's world,
/// most of it in the held-set rows of changed states, half in the
/// engine's per-store tables (`held::Engine::table`: each resource's
/// attributes, tags and ancestors), so 2 workers spent 6 to 9% more CPU than 1; built again,
/// 1.01 to 1.07 times 1 job's CPU near idle (BENCHMARKS.md, "Where the
/// 6 to 9% went").
struct Own {
    base: Entities,
    policies: cedar_policy::PolicySet,
}

impl Own {
    /// The scenario's own (cheap `Arc` clones), for a machine that does
    /// not evaluate beside another one.
    fn shared(base: &Entities, scenario: &Scenario) -> Self {
        Self {
            base: base.clone(),
            policies: scenario.policies.set.clone(),
        }
    }

    /// Copies sharing no `Arc` with the scenario's: the grant-free store
    /// built again as [`crate::world::World::build`] built it (from the
    /// base entities' JSON, with the schema), and the policies by a round
    /// trip through Cedar's JSON form, which keeps every policy id,
    /// template and link; where either fails, the shared one (the answers
    /// are the same either way).
    fn copied(base: &Entities, scenario: &Scenario) -> Self {
        let shared = Self::shared(base, scenario);
        Self {
            base: scenario
                .world
                .grant_free(&scenario.grants, scenario.schema.as_ref())
                .unwrap_or(shared.base),
            policies: shared
                .policies
                .clone()
                .to_json()
                .ok()
                .and_then(|json| cedar_policy::PolicySet::from_json_value(json).ok())
                .unwrap_or(shared.policies),
        }
    }
}

/// The (principal type, resource type) pairs of requests the schema accepted
/// with one action and context.
type Shapes = HashSet<(EntityTypeName, EntityTypeName)>;

/// A context as Cedar reads it, and the request shapes the schema accepted
/// with it.
struct Parsed {
    context: Result<Context, String>,
    /// (principal type, resource type) of requests with this action and
    /// context that the schema accepted ([`Machine::request`]).
    accepted: Shapes,
}

/// What the machines of one scenario share: computed once, never changed
/// (the held-set machinery's caches are pure functions of the scenario).
struct Shared<'s> {
    base: Entities,
    /// The `datetime("...")` literals of the policies: moments a decision
    /// may change at.
    moments: BTreeSet<Instant>,
    /// Incremental held sets (built on the first snapshot).
    rows: OnceLock<Rows<'s>>,
    /// Per actor, built on its first check: which pairs of its universe some
    /// `[[never]]` rule matches. A rule matches on the principal, action and
    /// resource alone, never on the state, so a state's check of its held
    /// pairs ([`Machine::violations`]) asks the rules only for these.
    never_pairs: Vec<OnceLock<Vec<bool>>>,
    /// Whether the schema's check of a request depends on the principal's
    /// and resource's types only, not their ids: the schema declares no
    /// enumerated entity type (`docs/search.md`, "Requests checked once
    /// per shape").
    checks_by_type: bool,
}

/// A [`Machine`]'s shared part, to hand to other threads: each makes its
/// own machine from it ([`SharedMachine::machine`]).
#[derive(Clone)]
pub struct SharedMachine<'s> {
    scenario: &'s Scenario,
    shared: Arc<Shared<'s>>,
    actors: Arc<Vec<Actor>>,
    pairs: Arc<Vec<Universe>>,
    unread_moments: BTreeSet<String>,
    arithmetic: BTreeSet<String>,
    unsearched_principals: Vec<(usize, usize)>,
    brute_force: bool,
}

impl<'s> SharedMachine<'s> {
    /// A machine of its own (its own stores, counters and noted policies,
    /// and its own copies of the grant-free store and the policies,
    /// `Own::copied`) on the shared part, for another thread:
    /// it answers exactly as the machine shared.
    pub fn machine(&self) -> Machine<'s> {
        self.make(Own::copied(&self.shared.base, self.scenario))
    }

    /// A machine of its own like [`SharedMachine::machine`], but evaluating
    /// with the scenario's own grant-free store and policies instead of
    /// copies: for one thread of those evaluating at once (the others take
    /// copies), which then starts without building them (40 ms a worker on
    /// the campaign benchmark's world). It answers exactly as the machine
    /// shared.
    pub fn machine_on_originals(&self) -> Machine<'s> {
        self.make(Own::shared(&self.shared.base, self.scenario))
    }

    fn make(&self, own: Own) -> Machine<'s> {
        Machine {
            scenario: self.scenario,
            shared: Arc::clone(&self.shared),
            actors: Arc::clone(&self.actors),
            pairs: Arc::clone(&self.pairs),
            stores: RefCell::new(HashMap::new()),
            last_store: RefCell::new(None),
            last_admits: RefCell::new(None),
            brute_force: self.brute_force,
            noting: OnceCell::new(),
            unread_moments: self.unread_moments.clone(),
            arithmetic: self.arithmetic.clone(),
            unsearched_principals: self.unsearched_principals.clone(),
            evaluations: std::cell::Cell::new(0),
            partial_rows: std::cell::Cell::new(0),
            other_context_rows: std::cell::Cell::new(0),
            shared_rows: std::cell::Cell::new(0),
            unasked: std::cell::Cell::new([0; 6]),
            parsed: RefCell::new(HashMap::new()),
            decided: RefCell::new(std::collections::HashSet::new()),
            own_contexts: RefCell::new(HashMap::new()),
            base_entities: RefCell::new(HashMap::new()),
            entity_reads: RefCell::new(HashMap::new()),
            slices: if self.brute_force {
                Slices::whole(&own.policies)
            } else {
                Slices::new(&own.policies)
            },
            own,
        }
    }
}

/// A state's entity store and how it differs from the grant-free world.
struct StoreEntry {
    entities: Rc<Entities>,
    /// The entities whose JSON the grants in force change.
    changed: std::collections::HashSet<EntityUid>,
    /// What the grants in force change, as policies can read it.
    data_changed: crate::held::Changed,
    /// The canonical text of each entity that differs from the grant-free
    /// world, by uid ([`canonical_entity`]; [`Machine::state_key`]).
    differing: Vec<String>,
    /// What the change can reach, computed on the first snapshot.
    delta: OnceCell<Delta>,
    /// Per policy of the held-set engine: whether the change can touch its
    /// satisfaction ([`crate::held::Engine::touched_by`]), computed on the
    /// first snapshot.
    touched: OnceCell<Vec<bool>>,
}

/// The store [`Machine::store_entry`] last gave: for a state at `time` with
/// `grants`, leaving out `without`.
struct LastStore {
    time: Instant,
    grants: Vec<Grant>,
    without: Option<usize>,
    entry: Rc<StoreEntry>,
}

/// The most stores a machine keeps before it starts afresh.
const MAX_STORES: usize = 4096;

/// The most entities a machine's kept stores hold together (each store is
/// a whole world): in a world of thousands of entities, fewer stores are
/// kept, so a long search's memory stays bounded whatever the world's size.
const MAX_STORED_ENTITIES: usize = 1_000_000;

/// How many stores a machine keeps for a world of `entities` entities.
fn max_stores(entities: usize) -> usize {
    (MAX_STORED_ENTITIES / entities.max(1)).clamp(16, MAX_STORES)
}

/// The most parsed contexts a machine keeps ([`Machine::request`]).
const MAX_PARSED_CONTEXTS: usize = 65_536;

/// The most own contexts a machine keeps ([`Machine::own_context`]).
const MAX_OWN_CONTEXTS: usize = 65_536;

/// The most grant-free entities, and changed entities as read, a machine
/// keeps parsed ([`Machine::base_entity`], [`Machine::entity_read`]).
const MAX_PARSED_ENTITIES: usize = 65_536;

/// A grant-free entity's JSON and its canonical text ([`canonical_entity`]).
struct BaseEntity {
    value: Value,
    canonical: String,
}

/// An actor's own context at one time (with no extra keys it depends only
/// on the actor and the time, [`Machine::context`]), its JSON text, and its
/// row key once asked ([`Rows::row_key`]).
struct OwnContext {
    value: Value,
    text: String,
    /// The entities it names.
    named: Vec<EntityUid>,
    key: OnceCell<String>,
    /// Its row key for other actors' rows, by actor.
    keys_for: RefCell<HashMap<usize, String>>,
}

impl OwnContext {
    /// Its row key for its actor's row.
    fn key(&self, rows: &Rows<'_>, actor: usize) -> &str {
        self.key
            .get_or_init(|| rows.row_key(actor, &self.value, &self.text))
    }

    /// Its row key for `other`'s row (whose universe may be another).
    fn key_for(&self, rows: &Rows<'_>, other: usize) -> String {
        self.keys_for
            .borrow_mut()
            .entry(other)
            .or_insert_with(|| rows.row_key(other, &self.value, &self.text))
            .clone()
    }
}

/// The most entities one `[[never]]` type pattern adds as actors.
pub const MAX_PATTERN_ACTORS: usize = 32;

impl<'s> Machine<'s> {
    /// Prepares a scenario: its actors and their universes.
    pub fn new(scenario: &'s Scenario) -> Self {
        let mut actors: Vec<Actor> = scenario
            .sessions
            .iter()
            .enumerate()
            .map(|(index, s)| Actor {
                session: Some(index),
                principal: s.principal.clone(),
                chain: s.chain.clone(),
            })
            .collect();
        let mut alone: BTreeSet<String> = BTreeSet::new();
        let mut lone = Vec::new();
        for step in scenario.steps.iter().filter(|s| s.session.is_none()) {
            if alone.insert(step.principal.to_string()) {
                lone.push(step.principal.clone());
            }
        }
        // Delegators can act themselves too (a user approving, an agent
        // working outside the session it delegated from).
        for session in &scenario.sessions {
            for delegator in session.chain.iter().rev().skip(1) {
                if alone.insert(delegator.to_string()) {
                    lone.push(delegator.clone());
                }
            }
        }
        for rule in &scenario.never {
            if let crate::load::rules::Pattern::Entity(uid) = &rule.principal
                && alone.insert(uid.to_string())
            {
                lone.push(uid.clone());
            }
        }
        // A rule about a type (`principal = 'Agent'`) is about every entity of
        // that type in the world, whether or not the scenario scripts it: each
        // acts alone, up to MAX_PATTERN_ACTORS per rule.
        let mut unsearched_principals = Vec::new();
        for rule in &scenario.never {
            if !matches!(rule.principal, crate::load::rules::Pattern::Type(_)) {
                continue;
            }
            let mut added = 0;
            let mut left = 0;
            for key in scenario.world.base.keys() {
                let Ok(uid) = crate::load::parse_uid(key) else {
                    continue;
                };
                if !rule.principal.matches(&uid) || alone.contains(key) {
                    continue;
                }
                if scenario.sessions.iter().any(|s| s.principal == uid) {
                    continue;
                }
                if added == MAX_PATTERN_ACTORS {
                    left += 1;
                    continue;
                }
                alone.insert(key.clone());
                lone.push(uid);
                added += 1;
            }
            if left > 0 {
                unsearched_principals.push((rule.line, left));
            }
        }
        for principal in lone {
            actors.push(Actor {
                session: None,
                chain: vec![principal.clone()],
                principal,
            });
        }
        // A universe depends only on the principal's type (the schema's
        // actions for it, or without a schema the scenario's), so it is
        // listed once per type.
        let mut by_type: HashMap<String, Universe> = HashMap::new();
        let pairs = actors
            .iter()
            .map(|actor| {
                by_type
                    .entry(actor.principal.type_name().to_string())
                    .or_insert_with(|| {
                        Arc::new(crate::load::universe::flattened(scenario, &actor.principal))
                    })
                    .clone()
            })
            .collect();
        let base = scenario
            .world
            .segments
            .first()
            .map(|s| s.entities.clone())
            .unwrap_or_else(Entities::empty);
        let Moments {
            at: moments,
            unread: unread_moments,
            arithmetic,
        } = self::moments(scenario);
        let shared = SharedMachine {
            scenario,
            shared: Arc::new(Shared {
                base,
                moments,
                rows: OnceLock::new(),
                never_pairs: actors.iter().map(|_| OnceLock::new()).collect(),
                checks_by_type: scenario.schema_file.is_some()
                    && !scenario.declares_enumerated_types(),
            }),
            actors: Arc::new(actors),
            pairs: Arc::new(pairs),
            unread_moments,
            arithmetic,
            unsearched_principals,
            brute_force: false,
        };
        let own = Own::shared(&shared.shared.base, scenario);
        shared.make(own)
    }

    /// This machine's shared part, for machines on other threads
    /// ([`SharedMachine::machine`]).
    pub fn share(&self) -> SharedMachine<'s> {
        SharedMachine {
            scenario: self.scenario,
            shared: Arc::clone(&self.shared),
            actors: Arc::clone(&self.actors),
            pairs: Arc::clone(&self.pairs),
            unread_moments: self.unread_moments.clone(),
            arithmetic: self.arithmetic.clone(),
            unsearched_principals: self.unsearched_principals.clone(),
            brute_force: self.brute_force,
        }
    }

    /// The same machine computing every snapshot by brute force, one Cedar
    /// request per pair: the definition the incremental snapshots are tested
    /// and benchmarked against.
    #[must_use]
    pub fn brute_force(mut self) -> Self {
        self.brute_force = true;
        self.slices = Slices::whole(&self.own.policies);
        self
    }

    /// The scenario's initial state.
    pub fn initial(&self) -> State {
        State {
            time: self.scenario.start,
            grants: self.scenario.grants.clone(),
            started: vec![None; self.scenario.sessions.len()],
        }
    }

    /// Each distinct universe once, with the first actor whose it is, in
    /// actor order (actors of one principal type share one universe).
    pub fn universes(&self) -> impl Iterator<Item = (usize, &Universe)> {
        let mut seen = HashSet::new();
        self.pairs
            .iter()
            .enumerate()
            .filter(move |(_, pairs)| seen.insert(Arc::as_ptr(pairs)))
    }

    /// The actor of a session.
    pub fn session_actor(&self, session: usize) -> usize {
        session
    }

    /// The actor of a principal acting alone, if it is one.
    pub fn lone_actor(&self, principal: &EntityUid) -> Option<usize> {
        self.actors
            .iter()
            .position(|a| a.session.is_none() && &a.principal == principal)
    }

    /// Whether an actor can act in a state: a principal alone always can; a
    /// session within its `from`..`until`, or a dormant one once started and
    /// within its lifetime.
    pub fn running(&self, state: &State, actor: usize) -> bool {
        let Some(index) = self.actors[actor].session else {
            return true;
        };
        running(
            &self.scenario.sessions[index],
            state.started[index],
            state.time,
        )
    }

    /// The grants active in a state, in the order they apply.
    fn active(state: &State, without: Option<usize>) -> Vec<usize> {
        let mut active: Vec<usize> = (0..state.grants.len())
            .filter(|&i| Some(i) != without && state.grants[i].active_at(state.time))
            .collect();
        active.sort_by_key(|&i| (state.grants[i].from, i));
        active
    }

    /// The entity store of a state (optionally without one grant).
    pub fn store(&self, state: &State, without: Option<usize>) -> Result<Rc<Entities>, String> {
        self.store_entry(state, without)
            .map(|entry| Rc::clone(&entry.entities))
    }

    fn store_entry(&self, state: &State, without: Option<usize>) -> Result<Rc<StoreEntry>, String> {
        if let Some(last) = self.last_store.borrow().as_ref()
            && last.time == state.time
            && last.without == without
            && last.grants == state.grants
        {
            return Ok(Rc::clone(&last.entry));
        }
        let entry = self.store_entry_keyed(state, without)?;
        *self.last_store.borrow_mut() = Some(LastStore {
            time: state.time,
            grants: state.grants.clone(),
            without,
            entry: Rc::clone(&entry),
        });
        Ok(entry)
    }

    /// [`Machine::store_entry`] by the key of `stores`.
    fn store_entry_keyed(
        &self,
        state: &State,
        without: Option<usize>,
    ) -> Result<Rc<StoreEntry>, String> {
        let active = Self::active(state, without);
        // Keyed by the exact content of the grants applied, in order, so two
        // different worlds can never share a store (a hash match alone could).
        let key: Vec<String> = active
            .iter()
            .map(|&i| grant_content(&state.grants[i]))
            .collect();
        if let Some(entry) = self.stores.borrow().get(&key) {
            return Ok(Rc::clone(entry));
        }
        let values = self.changed_entities(&state.grants, &active);
        // As `world::with_grants` makes it, each changed entity read once.
        let store = world::with_changed(&self.own.base, &values, |value| self.entity_read(value))?;
        let mut changed = std::collections::HashSet::new();
        let mut data_changed = crate::held::Changed::default();
        let mut differing = Vec::new();
        for (key, value) in values {
            let Some((before, canonical)) = self.differs(&key, &value) else {
                continue;
            };
            differing.push(canonical);
            note_changed_data(before.as_ref().map(|b| &b.value), &value, &mut data_changed);
            if let Ok(uid) = crate::load::parse_uid(&key) {
                changed.insert(uid);
            }
        }
        let entry = Rc::new(StoreEntry {
            entities: Rc::new(store),
            changed,
            data_changed,
            differing,
            delta: OnceCell::new(),
            touched: OnceCell::new(),
        });
        let mut stores = self.stores.borrow_mut();
        if stores.len() >= max_stores(self.scenario.world.base.len()) {
            self.forget_engine_stores(&stores);
            stores.clear();
            // Its engine store may be forgotten too.
            *self.last_store.borrow_mut() = None;
        }
        stores.insert(key, Rc::clone(&entry));
        Ok(entry)
    }

    /// Has the held-set engine forget the stores it was given for `stores`
    /// (the engine is shared by every machine of a search, and outlives
    /// them).
    fn forget_engine_stores(&self, stores: &HashMap<Vec<String>, Rc<StoreEntry>>) {
        if let Some(rows) = self.shared.rows.get() {
            rows.engine.forget_stores(
                stores
                    .values()
                    .filter_map(|entry| entry.delta.get().and_then(|d| d.store.get())),
            );
        }
    }

    /// Everything that decides a state's future, exactly (no hash stands in
    /// for it, so two different states never share a key): its time, the
    /// grants in force or still to come with their ends, and the running
    /// sessions. Changes that could not alter the world, now or later, are
    /// never recorded ([`Machine::apply_effects`]), so reaching the same
    /// world again by a redundant change is the same state.
    pub fn state_key(&self, state: &State) -> StateKey {
        let mut parts = vec![state.time.0.to_string()];
        let gone = |g: &Grant| g.removed_at_until && g.until.is_some_and(|u| u <= state.time);
        let can_revoke = self.can_revoke();
        let settled =
            |g: &Grant| g.until.is_none() && g.from <= state.time && (!g.revocable || !can_revoke);
        if state.grants.iter().filter(|g| !gone(g)).all(settled) {
            // Every change in force is for good: the future depends only on
            // the world they made, not on how it was reached (joining `r1`
            // then `r2` is joining `r2` then `r1`). The key is that world:
            // each changed entity that differs from the base, in a canonical
            // form.
            parts.push("world".to_string());
            // The state's store lists them (a state reached by a move has
            // its store made already).
            if let Ok(entry) = self.store_entry(state, None) {
                parts.extend(entry.differing.iter().cloned());
            } else {
                let active = Self::active(state, None);
                for (key, value) in self.changed_entities(&state.grants, &active) {
                    parts.extend(self.differs(&key, &value).map(|(_, canonical)| canonical));
                }
            }
        }
        for grant in &state.grants {
            if gone(grant) || settled(grant) && parts.get(1).is_some_and(|p| p == "world") {
                continue;
            }
            parts.push(
                serde_json::json!([
                    grant_content(grant),
                    grant.until.map(|u| u.0),
                    grant.removed_at_until,
                    grant.revocable,
                    grant.from > state.time,
                ])
                .to_string(),
            );
        }
        for (index, started) in state.started.iter().enumerate() {
            if self.running(state, index) {
                parts.push(format!(
                    "session {index} {:?}",
                    started.and_then(|s| s.1).map(|u| u.0)
                ));
            }
        }
        StateKey(parts)
    }

    /// What a state's world says differently from the grant-free world, as
    /// facts: `E in P` for a parent an entity gains, `E not in P` for one it
    /// loses, `E.a = v` for an attribute it gets or changes. The novelty
    /// search keeps a state that makes a fact true that no kept state made
    /// (a world change the held sets do not show yet, such as an attribute
    /// only a later request reads).
    pub fn world_facts(&self, state: &State) -> BTreeSet<String> {
        let active = Self::active(state, None);
        let mut facts = BTreeSet::new();
        for (key, changed) in self.changed_entities(&state.grants, &active) {
            let before = self
                .base_entity(&key)
                .map_or(Value::Null, |base| base.value.clone());
            let parents = |entity: &Value| -> BTreeSet<String> {
                entity
                    .get("parents")
                    .and_then(Value::as_array)
                    .map(|items| items.iter().map(ToString::to_string).collect())
                    .unwrap_or_default()
            };
            let (was, now) = (parents(&before), parents(&changed));
            facts.extend(now.difference(&was).map(|p| format!("{key} in {p}")));
            facts.extend(was.difference(&now).map(|p| format!("{key} not in {p}")));
            for field in ["attrs", "tags"] {
                let Some(values) = changed.get(field).and_then(Value::as_object) else {
                    continue;
                };
                for (name, value) in values {
                    if before.get(field).and_then(|f| f.get(name)) != Some(value) {
                        facts.insert(format!("{key}.{field}.{name} = {value}"));
                    }
                }
            }
        }
        facts
    }

    /// The entities whose data differs between the worlds of two states, and
    /// every entity whose evaluation can read them (`world::rows`: their
    /// descendants, and entities whose attributes or tags lead to those).
    pub fn affected_between(&self, before: &State, after: &State) -> HashSet<EntityUid> {
        let old = self.changed_entities(&before.grants, &Self::active(before, None));
        let new = self.changed_entities(&after.grants, &Self::active(after, None));
        let differs: HashSet<EntityUid> = old
            .keys()
            .chain(new.keys())
            .filter(|key| {
                old.get(*key).map(canonical_entity) != new.get(*key).map(canonical_entity)
            })
            .filter_map(|key| crate::load::parse_uid(key).ok())
            .collect();
        if differs.is_empty() {
            return differs;
        }
        let rows = self
            .shared
            .rows
            .get_or_init(|| Rows::new(self.scenario, &self.actors, &self.pairs));
        rows.delta(self.scenario, differs).affected
    }

    /// The context an actor presents in a state, with extra entries.
    pub fn context(&self, state: &State, actor: usize, extra: &Map<String, Value>) -> Value {
        let actor = &self.actors[actor];
        let session = actor.session.map(|i| &self.scenario.sessions[i]);
        let mut context = scenario::session_context(
            &self.scenario.facts,
            state.time,
            session,
            &actor.principal,
            &actor.chain,
        );
        for (key, value) in extra {
            context.insert(key.clone(), value.clone());
        }
        Value::Object(context)
    }

    /// An actor's own context at a time ([`Machine::context`] with no extra
    /// keys), built once.
    fn own_context(&self, time: Instant, actor: usize) -> Rc<OwnContext> {
        if let Some(own) = self.own_contexts.borrow().get(&(actor, time)) {
            return Rc::clone(own);
        }
        let actor_ = &self.actors[actor];
        let session = actor_.session.map(|i| &self.scenario.sessions[i]);
        let value = Value::Object(scenario::session_context(
            &self.scenario.facts,
            time,
            session,
            &actor_.principal,
            &actor_.chain,
        ));
        let mut named = Vec::new();
        crate::held::collect_uids(&value, &mut named);
        let own = Rc::new(OwnContext {
            text: value.to_string(),
            named,
            value,
            key: OnceCell::new(),
            keys_for: RefCell::new(HashMap::new()),
        });
        let mut kept = self.own_contexts.borrow_mut();
        if kept.len() >= MAX_OWN_CONTEXTS {
            kept.clear();
        }
        kept.insert((actor, time), Rc::clone(&own));
        own
    }

    /// A grant-free entity's JSON, parsed once, and its canonical text;
    /// `None` when the world has no such entity.
    fn base_entity(&self, key: &str) -> Option<Rc<BaseEntity>> {
        if let Some(kept) = self.base_entities.borrow().get(key) {
            return kept.clone();
        }
        let entity = self
            .scenario
            .world
            .base
            .get(key)
            .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
            .map(|value| {
                Rc::new(BaseEntity {
                    canonical: canonical_entity(&value),
                    value,
                })
            });
        let mut kept = self.base_entities.borrow_mut();
        if kept.len() >= MAX_PARSED_ENTITIES {
            kept.clear();
        }
        kept.insert(key.to_string(), entity.clone());
        entity
    }

    /// A changed entity's grant-free form (`None`: the world has none) and
    /// its own canonical text, when the two differ; `None` when the change
    /// left it as it was.
    fn differs(&self, key: &str, value: &Value) -> Option<(Option<Rc<BaseEntity>>, String)> {
        let before = self.base_entity(key);
        let canonical = canonical_entity(value);
        (before.as_ref().map(|b| &b.canonical) != Some(&canonical)).then_some((before, canonical))
    }

    /// [`world::changed_entities`] with the grant-free entities parsed once
    /// ([`Machine::base_entity`]).
    fn changed_entities(&self, grants: &[Grant], active: &[usize]) -> BTreeMap<String, Value> {
        world::changed_entities_from(grants, active, |key| {
            self.base_entity(key).map(|b| b.value.clone())
        })
    }

    /// An entity's JSON as Cedar reads it with the scenario's schema (as
    /// `world::with_grants` reads it), read once per JSON text.
    fn entity_read(&self, value: &Value) -> Result<Entity, String> {
        let text = value.to_string();
        if let Some(read) = self.entity_reads.borrow().get(&text) {
            return read.clone();
        }
        let read = crate::load::request::read_entity(value, self.scenario.schema.as_ref());
        let mut kept = self.entity_reads.borrow_mut();
        if kept.len() >= MAX_PARSED_ENTITIES {
            kept.clear();
        }
        kept.insert(text, read.clone());
        read
    }

    /// Builds a request (checked against the schema, if any), as
    /// `load::build_request` does, reading each (action, context) once.
    pub fn request(
        &self,
        principal: &EntityUid,
        action: &EntityUid,
        resource: &EntityUid,
        context: &Value,
    ) -> Result<Request, String> {
        let text = context.to_string();
        let key = (action.clone(), text);
        let (context, accepted) = {
            let parsed = self.parsed.borrow();
            match parsed.get(&key) {
                Some(entry) => (
                    entry.context.clone()?,
                    self.shared.checks_by_type
                        && entry.accepted.contains(&(
                            principal.type_name().clone(),
                            resource.type_name().clone(),
                        )),
                ),
                None => {
                    drop(parsed);
                    (self.parsed_context(action, context, &key.1)?, false)
                }
            }
        };
        if accepted {
            // Cedar's check reads the principal's and resource's types,
            // the action and the context, all as a request of this shape
            // already accepted, and it returns the request it built
            // unchanged: building without the check is the same request.
            return crate::load::request_from_context(principal, action, resource, context, None);
        }
        let request = crate::load::request_from_context(
            principal,
            action,
            resource,
            context,
            self.scenario.schema.as_ref(),
        )?;
        if self.shared.checks_by_type
            && self.scenario.schema.is_some()
            && let Some(entry) = self.parsed.borrow_mut().get_mut(&key)
        {
            entry
                .accepted
                .insert((principal.type_name().clone(), resource.type_name().clone()));
        }
        Ok(request)
    }

    /// A context read under the action's context type, as Cedar reads it;
    /// `text` is `json`'s text (the key). Kept for the machine's life, up
    /// to [`MAX_PARSED_CONTEXTS`].
    fn parsed_context(
        &self,
        action: &EntityUid,
        json: &Value,
        text: &str,
    ) -> Result<Context, String> {
        let key = (action.clone(), text.to_string());
        if let Some(parsed) = self.parsed.borrow().get(&key) {
            return parsed.context.clone();
        }
        let parsed = crate::load::read_context(action, json, self.scenario.schema.as_ref());
        let mut cache = self.parsed.borrow_mut();
        if cache.len() >= MAX_PARSED_CONTEXTS {
            cache.clear();
        }
        cache.insert(
            key,
            Parsed {
                context: parsed.clone(),
                accepted: HashSet::new(),
            },
        );
        parsed
    }

    /// Asks Cedar.
    pub fn authorize(&self, request: &Request, store: &Entities) -> Response {
        self.evaluations.set(self.evaluations.get() + 1);
        let response = self.slices.is_authorized(request, store);
        let mut decided = self.decided.borrow_mut();
        for id in response.diagnostics().reason() {
            if !decided.contains(id) {
                decided.insert(id.clone());
            }
        }
        response
    }

    /// The ids of the policies that decided a request asked so far
    /// ([`Machine::authorize`]), sorted.
    pub fn decided(&self) -> BTreeSet<String> {
        let mut decided: BTreeSet<String> = self
            .decided
            .borrow()
            .iter()
            .map(ToString::to_string)
            .collect();
        // The requests incremental snapshots answered with the held-set
        // engine instead (`world::rows`).
        if let (Some(rows), Some(noted)) = (self.shared.rows.get(), self.noting.get()) {
            decided.extend(rows.engine.decided_in(noted));
        }
        decided
    }

    /// How many held-set calls of this machine's scenario (all its
    /// workers) found their context already read by the engine (tests read
    /// it, to see that searches take that path).
    pub fn contexts_reused(&self) -> usize {
        self.shared.rows.get().map_or(0, |rows| {
            rows.engine
                .contexts_reused
                .load(std::sync::atomic::Ordering::Relaxed)
        })
    }

    fn allowed(&self, request: &Request, store: &Entities) -> bool {
        self.authorize(request, store).decision() == Decision::Allow
    }

    /// Makes a request in a state: evaluates it and, when it is allowed, applies
    /// the action's effects to the state. An effect the world rejects (for
    /// example, against the schema) leaves the state as it was and makes the
    /// outcome an error.
    pub fn act(
        &self,
        state: &mut State,
        actor: usize,
        action: &EntityUid,
        resource: &EntityUid,
        extra: &Map<String, Value>,
    ) -> Outcome {
        let error = |message: String| Outcome {
            decision: StepDecision::Error,
            determining: Vec::new(),
            effects: Vec::new(),
            error: Some(message),
            not_applied: Vec::new(),
        };
        if !self.running(state, actor) {
            let id = self.actors[actor]
                .session
                .map(|i| self.scenario.sessions[i].id.clone())
                .unwrap_or_default();
            return error(format!("session `{id}` is not running at {}", state.time));
        }
        let context = self.context(state, actor, extra);
        let principal = self.actors[actor].principal.clone();
        let request = match self.request(&principal, action, resource, &context) {
            Ok(request) => request,
            Err(message) => return error(message),
        };
        let store = match self.store(state, None) {
            Ok(store) => store,
            Err(message) => return error(message),
        };
        self.decide_and_apply(state, actor, &request, action, resource, &context, &store)
    }

    /// Whether `actor` is allowed `action` on `resource` with its own
    /// context (no extra keys) in the state whose held sets are `held`
    /// ([`Machine::snapshot`] of that state, on this machine): the pair's
    /// flag, which is exactly whether Cedar allows that request in that
    /// state (the same principal, action, resource, context and store; a
    /// request the schema rejects is held by no one, and is no allow
    /// either). `None` (ask Cedar) on a brute-force machine, which asks
    /// Cedar for every request by definition, when the actor holds nothing
    /// in `held` (it is not running there) or the pair is not in its
    /// universe.
    pub fn held_answer(
        &self,
        held: &Snapshot,
        actor: usize,
        action: &EntityUid,
        resource: &EntityUid,
    ) -> Option<bool> {
        if self.brute_force {
            return None;
        }
        let flags = held.allowed.get(actor).filter(|flags| !flags.is_empty())?;
        let index = self
            .shared
            .rows
            .get()?
            .pair_index(actor, action, resource)?;
        let allowed = *flags.get(index)?;
        self.count_unasked(if allowed {
            Unasked::HeldAllowed
        } else {
            Unasked::HeldDenied
        });
        Some(allowed)
    }

    /// Whether actor `other` is allowed `action` on `resource` with
    /// `actor`'s own context at `time` (a delegator for the delegation
    /// ceiling, a parent session for attenuation), read off `other`'s row in
    /// `held` (the held sets of a state at `time`, on this machine): that
    /// row is Cedar's answers with `other`'s own context, so it answers for
    /// `actor`'s context when the two read alike to every policy (the same
    /// row key, `world::rows`, 6). Only an allow is read off: a pair not
    /// held is either denied or a request the schema rejects, which the
    /// callers tell apart, so `false` means "ask Cedar", as it does on a
    /// brute-force machine. `kind` is what an answer counts as.
    pub fn held_allows_other(
        &self,
        held: &Snapshot,
        time: Instant,
        (actor, other): (usize, usize),
        action: &EntityUid,
        resource: &EntityUid,
        kind: Unasked,
    ) -> bool {
        if self.brute_force {
            return false;
        }
        let Some(rows) = self.shared.rows.get() else {
            return false;
        };
        let Some(index) = rows.pair_index(other, action, resource) else {
            return false;
        };
        if !held
            .allowed
            .get(other)
            .and_then(|flags| flags.get(index))
            .is_some_and(|&allowed| allowed)
        {
            return false;
        }
        let own = self.own_context(time, actor);
        let alike = own.key_for(rows, other) == self.own_context(time, other).key(rows, other);
        if alike {
            self.count_unasked(kind);
        }
        alike
    }

    /// Counts a request answered without Cedar in [`Machine::unasked`].
    pub fn count_unasked(&self, kind: Unasked) {
        let mut counts = self.unasked.get();
        counts[kind as usize] += 1;
        self.unasked.set(counts);
    }

    /// Whether no policy's scope admits `actor`'s requests of `action` on
    /// `resource` in the state (the actor running, the state's store
    /// built): then Cedar denies each of them, whatever its context, with
    /// no reasons and no errors, or the schema rejects it; either way it is
    /// not allowed and decides nothing ([`Slices::admits_any`]). `false` on a
    /// brute-force machine, which asks Cedar for every request.
    pub fn admits_none(
        &self,
        state: &State,
        actor: usize,
        action: &EntityUid,
        resource: &EntityUid,
    ) -> bool {
        if self.brute_force || !self.running(state, actor) {
            return false;
        }
        let Ok(entry) = self.store_entry(state, None) else {
            return false;
        };
        // A search asks of one pair once per context variant, in a row.
        let last = self.last_admits.borrow().as_ref().and_then(|last| {
            (Rc::ptr_eq(&last.0, &entry)
                && last.1 == actor
                && &last.2 == action
                && &last.3 == resource)
                .then_some(last.4)
        });
        let admitted = last.unwrap_or_else(|| {
            let admitted = self.slices.admits_any(
                &self.actors[actor].principal,
                action,
                resource,
                &entry.entities,
            );
            *self.last_admits.borrow_mut() = Some((
                Rc::clone(&entry),
                actor,
                action.clone(),
                resource.clone(),
                admitted,
            ));
            admitted
        });
        if !admitted {
            self.count_unasked(Unasked::Unadmitted);
        }
        !admitted
    }

    /// Whether some effect of the scenario is for `actor` making a request of
    /// `action` on `resource` (an allowed one applies them,
    /// [`Machine::apply_effects`]).
    pub fn has_effects(&self, actor: usize, action: &EntityUid, resource: &EntityUid) -> bool {
        self.scenario
            .effects
            .iter()
            .any(|effect| self.effect_applies_to(effect, actor, action, resource))
    }

    fn effect_applies_to(
        &self,
        effect: &Effect,
        actor: usize,
        action: &EntityUid,
        resource: &EntityUid,
    ) -> bool {
        &effect.action == action
            && effect
                .principal
                .as_ref()
                .is_none_or(|p| p == &self.actors[actor].principal)
            && effect.resource.as_ref().is_none_or(|r| r == resource)
    }

    /// Evaluates a built request in `store` (the state's store) and applies
    /// effects when it is allowed.
    #[expect(clippy::too_many_arguments, reason = "the parts of one request")]
    pub fn decide_and_apply(
        &self,
        state: &mut State,
        actor: usize,
        request: &Request,
        action: &EntityUid,
        resource: &EntityUid,
        context: &Value,
        store: &Entities,
    ) -> Outcome {
        let response = self.authorize(request, store);
        let determining = crate::world::determining(&response);
        if response.decision() != Decision::Allow {
            return Outcome {
                decision: StepDecision::Deny,
                determining,
                effects: Vec::new(),
                error: None,
                not_applied: Vec::new(),
            };
        }
        let applied = self.apply_effects(state, actor, action, resource, context);
        Outcome {
            decision: StepDecision::Allow,
            determining,
            effects: applied.effects,
            error: applied.error,
            not_applied: applied.not_applied,
        }
    }

    /// Applies the effects of an allowed request of `action` to the state, in
    /// the order the scenario lists them: a line per effect, an error (with
    /// the state unchanged) when the resulting world is invalid, and the
    /// effects that could not apply (the search reports them: the changes they
    /// would have made are states it never explores).
    pub fn apply_effects(
        &self,
        state: &mut State,
        actor: usize,
        action: &EntityUid,
        resource: &EntityUid,
        context: &Value,
    ) -> Applied {
        let mut effects = Vec::new();
        let mut not_applied = Vec::new();
        let mut error = None;
        let before = state.clone();
        for effect in &self.scenario.effects {
            if !self.effect_applies_to(effect, actor, action, resource) {
                continue;
            }
            match self.apply(state, actor, resource, context, &effect.operation) {
                Ok(line) => effects.push(line),
                Err(message) => {
                    effects.push(format!(
                        "effect {} (line {}) not applied: {message}",
                        effect.index + 1,
                        effect.line
                    ));
                    not_applied.push((effect.index, message));
                }
            }
        }
        if !effects.is_empty()
            && let Err(message) = self.store(state, None)
        {
            *state = before;
            error = Some(format!(
                "the world after this step's effects is invalid: {message}"
            ));
            effects.clear();
            // The whole request's change was rejected: that says more than
            // any one effect failing.
            not_applied.clear();
        }
        Applied {
            effects,
            error,
            not_applied,
        }
    }

    fn operand(
        &self,
        operand: &Operand,
        actor: usize,
        resource: &EntityUid,
        context: &Value,
    ) -> Result<EntityUid, String> {
        let actor = &self.actors[actor];
        match operand {
            Operand::Principal => Ok(actor.principal.clone()),
            Operand::Resource => Ok(resource.clone()),
            Operand::Delegator => actor
                .chain
                .len()
                .checked_sub(2)
                .and_then(|i| actor.chain.get(i))
                .cloned()
                .ok_or_else(|| "the request has no delegator".to_string()),
            Operand::Context(key) => context
                .get(key)
                .and_then(entity_of)
                .ok_or_else(|| format!("the context has no entity under `{key}`")),
            Operand::Literal(uid) => Ok(uid.clone()),
        }
    }

    /// Whether a permanent change (one `add_parent`, `remove_parent` or
    /// `set_attr` record) would change nothing, now or at any later time:
    /// what it sets already holds, and every record in force or to come that
    /// touches the same parent or attribute of the entity is itself permanent
    /// and cannot be revoked, so what holds now holds until a later change,
    /// which applies after this one either way. Such a change is not recorded,
    /// so reaching the same world by it is not a new state. Anything this
    /// cannot tell (an attribute written in another but equal JSON form) is
    /// not redundant: the record is kept, which is always sound.
    fn redundant(&self, state: &State, change: &Grant) -> bool {
        let entity = &change.principal;
        let can_revoke = self.can_revoke();
        let touches = |grant: &Grant| {
            change
                .parents
                .iter()
                .chain(&change.removed_parents)
                .any(|p| grant.parents.contains(p) || grant.removed_parents.contains(p))
                || change.attrs.keys().any(|k| grant.attrs.contains_key(k))
        };
        let gone =
            |grant: &Grant| grant.removed_at_until && grant.until.is_some_and(|u| u <= state.time);
        if state
            .grants
            .iter()
            .filter(|g| &g.principal == entity && !gone(g))
            .filter(|g| touches(g))
            .any(|g| g.until.is_some() || (g.revocable && can_revoke) || g.from > state.time)
        {
            return false;
        }
        // What holds now (the entity as the store builds it: the base, then
        // the records in force in the order they apply), and with the change.
        let own: Vec<usize> = Self::active(state, None)
            .into_iter()
            .filter(|&i| &state.grants[i].principal == entity)
            .collect();
        let key = entity.to_string();
        let mut now = BTreeMap::new();
        if let Some(base) = self.base_entity(&key) {
            now.insert(key.clone(), base.value.clone());
        }
        for &index in &own {
            world::apply_grant(&mut now, &state.grants[index]);
        }
        let Some(before) = now.get(&key).cloned() else {
            return false;
        };
        let mut after = now;
        world::apply_grant(&mut after, change);
        after.get(&key) == Some(&before)
    }

    /// Whether any effect of the scenario revokes: otherwise a revocable
    /// record is as permanent as any other.
    fn can_revoke(&self) -> bool {
        self.scenario
            .effects
            .iter()
            .any(|e| matches!(e.operation, Operation::Revoke { .. }))
    }

    fn exists(&self, state: &State, uid: &EntityUid) -> bool {
        self.scenario.world.base.contains_key(&uid.to_string())
            || state.grants.iter().any(|g| &g.principal == uid)
    }

    /// Applies one operation; returns a line describing it.
    fn apply(
        &self,
        state: &mut State,
        actor: usize,
        resource: &EntityUid,
        context: &Value,
        operation: &Operation,
    ) -> Result<String, String> {
        let time = state.time;
        let resolve = |operand: &Operand| self.operand(operand, actor, resource, context);
        let change = |entity: EntityUid| Grant {
            id: format!("change {} at {time}", state.grants.len() + 1),
            principal: entity,
            parents: Vec::new(),
            removed_parents: Vec::new(),
            attrs: Map::new(),
            from: time,
            until: None,
            ticket: None,
            removed_at_until: true,
            revocable: false,
        };
        let existing = |entity: &EntityUid| {
            if self.exists(state, entity) {
                Ok(())
            } else {
                Err(format!("`{entity}` is not an entity of the world"))
            }
        };
        match operation {
            Operation::AddParent { entity, parent }
            | Operation::RemoveParent { entity, parent } => {
                let entity = resolve(entity)?;
                let parent = resolve(parent)?;
                existing(&entity)?;
                let mut grant = change(entity.clone());
                let line = if matches!(operation, Operation::AddParent { .. }) {
                    grant.parents.push(parent.clone());
                    grant.revocable = true;
                    format!("{entity} joins {parent}")
                } else {
                    grant.removed_parents.push(parent.clone());
                    format!("{entity} leaves {parent}")
                };
                if !self.redundant(state, &grant) {
                    state.grants.push(grant);
                }
                Ok(line)
            }
            Operation::SetAttr {
                entity,
                name,
                value,
            } => {
                let entity = resolve(entity)?;
                existing(&entity)?;
                let value = match value {
                    ValueSource::Literal(value) => value.clone(),
                    ValueSource::Now => datetime(time),
                    ValueSource::Of(Operand::Context(key)) => context
                        .get(key)
                        .cloned()
                        .ok_or_else(|| format!("the context has no `{key}`"))?,
                    ValueSource::Of(operand) => world::entity_value(&resolve(operand)?),
                };
                let mut grant = change(entity.clone());
                let line = format!("{entity}.{name} = {value}");
                grant.attrs.insert(name.clone(), value);
                if !self.redundant(state, &grant) {
                    state.grants.push(grant);
                }
                Ok(line)
            }
            Operation::Grant {
                entity,
                parents,
                attrs,
                lifetime,
                removed_at_until,
                until_attr,
            } => {
                let entity = resolve(entity)?;
                let mut grant = change(entity.clone());
                for parent in parents {
                    grant.parents.push(resolve(parent)?);
                }
                grant.attrs = attrs.clone();
                grant.until = lifetime.map(|l| time.checked_add(l).unwrap_or(Instant::MAX));
                grant.removed_at_until = *removed_at_until;
                if let (Some(name), Some(until)) = (until_attr, grant.until) {
                    grant.attrs.insert(name.clone(), datetime(until));
                }
                grant.id = format!("grant to {entity} at {time}");
                grant.revocable = true;
                let until = grant
                    .until
                    .map_or_else(|| "never ends".to_string(), |u| format!("until {u}"));
                let parents: Vec<String> = grant.parents.iter().map(ToString::to_string).collect();
                let line = format!(
                    "grant to {entity}{}, {until}",
                    if parents.is_empty() {
                        String::new()
                    } else {
                        format!(" of {}", parents.join(", "))
                    }
                );
                state.grants.push(grant);
                Ok(line)
            }
            Operation::Revoke { entity, parent } => {
                let entity = resolve(entity)?;
                let parent = parent.as_ref().map(resolve).transpose()?;
                let mut ended = 0;
                for grant in &mut state.grants {
                    if grant.principal == entity
                        && grant.revocable
                        && grant.active_at(time)
                        && parent.as_ref().is_none_or(|p| grant.parents.contains(p))
                    {
                        grant.until = Some(time);
                        grant.removed_at_until = true;
                        ended += 1;
                    }
                }
                Ok(format!("revoked {ended} grant(s) of {entity}"))
            }
            Operation::StartSession(index) => {
                let session = &self.scenario.sessions[*index];
                let until = session
                    .lifetime
                    .map(|l| time.checked_add(l).unwrap_or(Instant::MAX));
                state.started[*index] = Some((time, until));
                Ok(format!(
                    "session `{}` of {} starts{}",
                    session.id,
                    session.principal,
                    until.map(|u| format!(", until {u}")).unwrap_or_default()
                ))
            }
        }
    }

    /// Which pairs each running actor is allowed in a state.
    pub fn snapshot(&self, state: &State) -> Result<Snapshot, String> {
        self.snapshot_of(state, |_| true)
    }

    /// The snapshot restricted to the actors `relevant` picks (the others get
    /// no pairs): computed incrementally from the grant-free world's held
    /// sets (`world::rows` says how and why that is exact), or by brute force
    /// on a [`Machine::brute_force`] machine.
    pub fn snapshot_of(
        &self,
        state: &State,
        relevant: impl Fn(usize) -> bool,
    ) -> Result<Snapshot, String> {
        if self.brute_force {
            return self.snapshot_brute_force(state, relevant);
        }
        let entry = self.store_entry(state, None)?;
        let rows = self
            .shared
            .rows
            .get_or_init(|| Rows::new(self.scenario, &self.actors, &self.pairs));
        let delta = entry
            .delta
            .get_or_init(|| rows.delta(self.scenario, entry.changed.clone()));
        let mut allowed: Vec<Vec<bool>> = Vec::with_capacity(self.actors.len());
        // Rows made so far, by principal and row key: the row is Cedar's
        // answers for the principal, with a context of that key, in this
        // store, so actors of one principal whose contexts read alike (a
        // session and its principal acting alone) share it.
        let mut made: HashMap<(&EntityUid, String), usize> = HashMap::new();
        for actor in 0..self.actors.len() {
            if !relevant(actor) || !self.running(state, actor) {
                allowed.push(Vec::new());
                continue;
            }
            let own = self.own_context(state.time, actor);
            let key = own.key(rows, actor);
            let principal = &self.actors[actor].principal;
            if let Some(&first) = made.get(&(principal, key.to_string())) {
                self.shared_rows.set(self.shared_rows.get() + 1);
                let row = allowed[first].clone();
                allowed.push(row);
                continue;
            }
            let row = self.row(rows, &entry, delta, actor, &own, key);
            made.insert((principal, key.to_string()), actor);
            allowed.push(row);
        }
        Ok(Snapshot { allowed })
    }

    /// One actor's held pairs in a state (see [`Machine::snapshot_of`]),
    /// with its own context there (`key` its row key).
    fn row(
        &self,
        rows: &Rows<'s>,
        entry: &StoreEntry,
        delta: &Delta,
        actor: usize,
        own: &OwnContext,
        key: &str,
    ) -> Vec<bool> {
        let (context, text) = (&own.value, own.text.as_str());
        let a = &self.actors[actor];
        let base = rows.base_row(actor, &a.principal, context, text, key);
        if base.context != text {
            self.other_context_rows
                .set(self.other_context_rows.get() + 1);
        }
        let noting = self.noting.get_or_init(|| rows.engine.noting());
        if !delta.changed {
            base.note_all(noting);
            return base.flags.clone();
        }
        // A group (action) that no policy the change touches may apply to
        // is decided alike in both stores, whatever entities the change
        // reaches: it keeps the grant-free row's flags (`world::rows`, 4).
        let touched = entry
            .touched
            .get_or_init(|| rows.engine.touched_by(&entry.data_changed));
        let stores = [&self.shared.base, &*entry.entities];
        let groups = &rows.groups[actor];
        // Asked only of the groups a change reaches (most actors' rows are
        // kept whole without it), once each.
        let asked: Vec<Cell<Option<bool>>> = vec![Cell::new(None); groups.len()];
        let may_change = |group: usize| match asked[group].get() {
            Some(may) => may,
            None => {
                let may = rows.engine.touched_may_apply(
                    touched,
                    &a.principal,
                    &groups[group].0.action,
                    stores,
                );
                asked[group].set(Some(may));
                may
            }
        };
        let whole = delta.everywhere
            || delta.affected.contains(&a.principal)
            || a.chain
                .iter()
                .chain(&own.named)
                .any(|u| delta.affected.contains(u));
        let mut row = base.flags.clone();
        if whole {
            let mut kept = false;
            for (group, (_, start)) in groups.iter().enumerate() {
                if !may_change(group) {
                    // Every policy is satisfied alike on these requests in
                    // both stores, so Cedar's reasons are the grant-free
                    // ones too.
                    base.note_group(group, noting);
                    kept = true;
                    continue;
                }
                let id = match delta.store.get() {
                    Some(id) => id,
                    None => {
                        // Made from the grant-free store, which the
                        // grant-free rows were computed in: what the change
                        // does not reach is shared with it.
                        let id = rows.engine.add_store_over(
                            (*entry.entities).clone(),
                            Difference {
                                base: Engine::segment(0),
                                changed: entry.changed.clone(),
                                what: entry.data_changed.clone(),
                                affected: delta.affected.clone(),
                            },
                        );
                        delta.store.set(Some(id));
                        id
                    }
                };
                let flags = rows.group_in(
                    (actor, group),
                    &a.principal,
                    context,
                    id,
                    noting,
                    touched,
                    &base,
                );
                row[*start..*start + flags.len()].copy_from_slice(&flags);
            }
            if kept {
                self.partial_rows.set(self.partial_rows.get() + 1);
            }
            return row;
        }
        let pairs = &self.pairs[actor];
        let mut again: Vec<usize> = Vec::new();
        let mut kept = 0;
        for (group, (targets, start)) in groups.iter().enumerate() {
            if delta.affected.contains(&targets.action) {
                if may_change(group) {
                    again.extend(*start..*start + targets.resources().len());
                } else {
                    kept += targets.resources().len();
                }
            }
        }
        kept += rows.pairs_on(actor, &delta.affected, may_change, &mut again);
        if kept > 0 {
            self.partial_rows.set(self.partial_rows.get() + 1);
        }
        again.sort_unstable();
        again.dedup();
        // The pairs kept have the grant-free answers and reasons
        // (`world::rows`, 2 and 4): their deciding policies are noted, as
        // asking them again would note them; those asked again are noted
        // as they are asked.
        for (group, (targets, start)) in groups.iter().enumerate() {
            let from = again.partition_point(|&pair| pair < *start);
            let to = again.partition_point(|&pair| pair < start + targets.resources().len());
            base.note_kept(group, *start, &again[from..to], noting);
        }
        let mut contexts = Contexts::with_text(self, context, text.to_string());
        for index in again {
            let (action, resource) = &pairs[index];
            row[index] = contexts
                .request(&a.principal, action, resource)
                .is_some_and(|request| self.allowed(&request, &entry.entities));
        }
        row
    }

    /// The snapshot by brute force: a request per pair of every relevant
    /// running actor's universe. The definition of held in a state.
    pub fn snapshot_brute_force(
        &self,
        state: &State,
        relevant: impl Fn(usize) -> bool,
    ) -> Result<Snapshot, String> {
        let store = self.store(state, None)?;
        let mut allowed = Vec::with_capacity(self.actors.len());
        for actor in 0..self.actors.len() {
            if !relevant(actor) || !self.running(state, actor) {
                allowed.push(Vec::new());
                continue;
            }
            let context = self.context(state, actor, &Map::new());
            let principal = &self.actors[actor].principal;
            let flags = self.pairs[actor]
                .iter()
                .map(|(action, resource)| {
                    self.request(principal, action, resource, &context)
                        .is_ok_and(|request| self.allowed(&request, &store))
                })
                .collect();
            allowed.push(flags);
        }
        Ok(Snapshot { allowed })
    }

    /// The state invariants broken in a state: attenuation, expiry, `never`
    /// rules and always-access assertions (as the scenario switches them).
    pub fn violations(&self, state: &State, snapshot: &Snapshot) -> Vec<Violation> {
        self.violations_besides(state, snapshot, &|_| false)
    }

    /// [`Machine::violations`], leaving out those `known` says are known
    /// already, without checking them (a violation is judged by its kind,
    /// actor, action, resource and delegator, grant or rule before its
    /// message is written or anything is asked of Cedar). A search records
    /// the first violation of each identity and drops the rest: it leaves
    /// out those it has recorded.
    pub fn violations_besides(
        &self,
        state: &State,
        snapshot: &Snapshot,
        known: &dyn Fn(&Violation) -> bool,
    ) -> Vec<Violation> {
        let invariants = self.scenario.invariants;
        let mut found = Vec::new();
        let Ok(store) = self.store(state, None) else {
            return found;
        };
        for (actor, flags) in snapshot.allowed.iter().enumerate() {
            // The parent is asked with the sub-agent's own context: built once
            // for the actor, read once per action.
            let parent = self.actors[actor]
                .session
                .and_then(|s| self.scenario.sessions[s].parent)
                .filter(|_| invariants.attenuation);
            let own = parent.map(|_| self.own_context(state.time, actor));
            let mut contexts = None;
            // A brute-force machine asks the rules for every held pair: the
            // oracle the matched pairs are tested against.
            let never_pairs =
                (invariants.never && !self.brute_force).then(|| self.never_pairs(actor));
            for (pair, _) in flags.iter().enumerate().filter(|(_, allowed)| **allowed) {
                let (action, resource) = &self.pairs[actor][pair];
                if invariants.never && never_pairs.is_none_or(|matched| matched[pair]) {
                    self.never(actor, action, resource, known, &mut found);
                }
                if let (Some(parent), Some(own)) = (parent, own.as_ref()) {
                    let parent_actor = self.session_actor(parent);
                    if self.held_allows_other(
                        snapshot,
                        state.time,
                        (actor, parent_actor),
                        action,
                        resource,
                        Unasked::HeldAttenuation,
                    ) {
                        continue;
                    }
                    let contexts = contexts.get_or_insert_with(|| {
                        Contexts::with_text(self, &own.value, own.text.clone())
                    });
                    self.attenuation(
                        &store,
                        contexts,
                        (actor, parent),
                        action,
                        resource,
                        known,
                        &mut found,
                    );
                }
            }
        }
        if invariants.expiry {
            self.expiry(state, snapshot, known, &mut found);
        }
        if invariants.access {
            self.access(state, &store, known, &mut found);
        }
        found
    }

    /// The `[[never]]` rules a request just allowed breaks, judged on the
    /// request itself (its principal, action and resource), whatever context
    /// it presented: a rule on an action whose context only a step supplies
    /// is checked too, where a held-set check could not even ask.
    pub fn never_on_request(
        &self,
        actor: usize,
        action: &EntityUid,
        resource: &EntityUid,
        determining: &[String],
        known: &dyn Fn(&Violation) -> bool,
    ) -> Vec<Violation> {
        let mut found = Vec::new();
        if self.scenario.invariants.never {
            self.never(actor, action, resource, known, &mut found);
        }
        for violation in &mut found {
            violation.on_request = true;
            violation.determining = determining.to_vec();
        }
        found
    }

    /// Which pairs of an actor's universe some `[[never]]` rule matches
    /// (computed once per actor and shared by every machine of the scenario).
    fn never_pairs(&self, actor: usize) -> &[bool] {
        self.shared.never_pairs[actor].get_or_init(|| {
            let principal = &self.actors[actor].principal;
            self.pairs[actor]
                .iter()
                .map(|(action, resource)| {
                    self.scenario
                        .never
                        .iter()
                        .any(|rule| rule.covers(principal, action, resource))
                })
                .collect()
        })
    }

    fn never(
        &self,
        actor: usize,
        action: &EntityUid,
        resource: &EntityUid,
        known: &dyn Fn(&Violation) -> bool,
        found: &mut Vec<Violation>,
    ) {
        let principal = &self.actors[actor].principal;
        for rule in &self.scenario.never {
            if rule.covers(principal, action, resource) {
                let mut violation = Violation {
                    rule: Some(rule.line),
                    ..Violation::of(FindingKind::Never, actor, action, resource)
                };
                if known(&violation) {
                    continue;
                }
                violation.message = format!(
                    "{} is allowed {action} on {resource}, {}",
                    self.describe(actor),
                    rule.forbidding()
                );
                found.push(violation);
            }
        }
    }

    #[expect(clippy::too_many_arguments, reason = "the parts of one check")]
    fn attenuation(
        &self,
        store: &Entities,
        contexts: &mut Contexts<'_, 's>,
        (actor, parent): (usize, usize),
        action: &EntityUid,
        resource: &EntityUid,
        known: &dyn Fn(&Violation) -> bool,
        found: &mut Vec<Violation>,
    ) {
        // The parent is asked with the sub-agent's own context (the chain that
        // reaches the sub-agent), as for the delegation ceiling: a parent may
        // hold some authority only when it delegates it.
        let parent_actor = self.session_actor(parent);
        let parent_principal = &self.actors[parent_actor].principal;
        let mut violation = Violation {
            delegator: Some(parent_principal.clone()),
            ..Violation::of(FindingKind::Attenuation, actor, action, resource)
        };
        if known(&violation) {
            return;
        }
        // Where the schema does not let the parent's type make the request at
        // all, the comparison does not apply (as for the delegation ceiling).
        let Some(request) = contexts.request(parent_principal, action, resource) else {
            return;
        };
        if !self.allowed(&request, store) {
            violation.message = format!(
                "{} holds {action} on {resource}, which its parent session `{}` ({parent_principal}) does not",
                self.describe(actor),
                self.scenario.sessions[parent].id
            );
            found.push(violation);
        }
    }

    fn expiry(
        &self,
        state: &State,
        snapshot: &Snapshot,
        known: &dyn Fn(&Violation) -> bool,
        found: &mut Vec<Violation>,
    ) {
        for (index, grant) in state.grants.iter().enumerate() {
            let ended = !grant.removed_at_until && grant.until.is_some_and(|u| u <= state.time);
            if !ended || !grant.active_at(state.time) {
                continue;
            }
            let Ok(without) = self.store(state, Some(index)) else {
                continue;
            };
            for (actor, flags) in snapshot.allowed.iter().enumerate() {
                if self.actors[actor].principal != grant.principal {
                    continue;
                }
                let context = self.context(state, actor, &Map::new());
                let mut contexts = Contexts::new(self, &context);
                for (pair, _) in flags.iter().enumerate().filter(|(_, a)| **a) {
                    let (action, resource) = &self.pairs[actor][pair];
                    let mut violation = Violation {
                        grant: Some(grant.id.clone()),
                        ..Violation::of(FindingKind::Expiry, actor, action, resource)
                    };
                    if known(&violation) {
                        continue;
                    }
                    let still = contexts
                        .request(&grant.principal, action, resource)
                        .is_some_and(|request| self.allowed(&request, &without));
                    if !still {
                        violation.message = format!(
                            "{} still holds {action} on {resource} at {}, after `{}` ended at {}, only because the grant is still in the world",
                            self.describe(actor),
                            state.time,
                            grant.id,
                            grant.until.map(|u| u.to_string()).unwrap_or_default()
                        );
                        found.push(violation);
                    }
                }
            }
        }
    }

    fn access(
        &self,
        state: &State,
        store: &Entities,
        known: &dyn Fn(&Violation) -> bool,
        found: &mut Vec<Violation>,
    ) {
        for check in self.scenario.access.iter().filter(|c| c.always) {
            let actor = match check.session {
                Some(session) => self.session_actor(session),
                None => match self.lone_actor(&check.principal) {
                    Some(actor) => actor,
                    None => continue,
                },
            };
            if !self.running(state, actor) {
                continue;
            }
            let context = self.context(state, actor, &Map::new());
            let mut contexts = Contexts::new(self, &context);
            for (resource, _) in &check.candidates {
                let allowed = contexts
                    .request(&check.principal, &check.action, resource)
                    .is_some_and(|request| self.allowed(&request, store));
                let expected = check.expected.contains(&resource.to_string());
                if allowed != expected {
                    let mut violation = Violation {
                        rule: Some(check.line),
                        missing: !allowed,
                        ..Violation::of(FindingKind::Access, actor, &check.action, resource)
                    };
                    if known(&violation) {
                        continue;
                    }
                    violation.message = format!(
                        "{} is {} {} on {resource}, against the assertion at line {}",
                        self.describe(actor),
                        if allowed {
                            "allowed"
                        } else {
                            "no longer allowed"
                        },
                        check.action,
                        check.line
                    );
                    found.push(violation);
                }
            }
        }
    }

    /// The delegation ceiling for one allowed request: the same request made by
    /// each delegator up the chain, nearest first; the first denied one breaks it.
    /// With `held`, the state's held sets ([`Machine::snapshot`]), a
    /// delegator allowed the request there is not asked of Cedar
    /// ([`Machine::held_allows_other`]). When `known` says the violation
    /// of every delegator is known, nothing is checked: whatever it found
    /// is known.
    #[expect(clippy::too_many_arguments, reason = "the parts of one request")]
    pub fn ceiling(
        &self,
        (state, held): (&State, Option<&Snapshot>),
        actor: usize,
        action: &EntityUid,
        resource: &EntityUid,
        extra: &Map<String, Value>,
        determining: &[String],
        known: &dyn Fn(&Violation) -> bool,
    ) -> Option<Violation> {
        if !self.scenario.invariants.delegation_ceiling {
            return None;
        }
        let violation = |delegator: &EntityUid| Violation {
            on_request: true,
            delegator: Some(delegator.clone()),
            determining: determining.to_vec(),
            ..Violation::of(FindingKind::DelegationCeiling, actor, action, resource)
        };
        if self.actors[actor]
            .chain
            .iter()
            .rev()
            .skip(1)
            .all(|delegator| known(&violation(delegator)))
        {
            return None;
        }
        let store = self.store(state, None).ok()?;
        let mut context = None;
        for delegator in self.actors[actor].chain.iter().rev().skip(1) {
            if extra.is_empty()
                && let (Some(held), Some(other)) = (held, self.lone_actor(delegator))
                && self.held_allows_other(
                    held,
                    state.time,
                    (actor, other),
                    action,
                    resource,
                    Unasked::HeldCeiling,
                )
            {
                continue;
            }
            let context = context.get_or_insert_with(|| self.context(state, actor, extra));
            let Ok(request) = self.request(delegator, action, resource, context) else {
                continue;
            };
            if !self.allowed(&request, &store) {
                return Some(Violation {
                    message: format!(
                        "{} was allowed {action} on {resource} although its delegator {delegator} is denied it",
                        self.describe(actor)
                    ),
                    ..violation(delegator)
                });
            }
        }
        None
    }

    /// The result model's finding for a violation seen in a state (at a
    /// replayed step, when it was one).
    pub fn finding(
        &self,
        violation: &Violation,
        state: &State,
        step: Option<usize>,
    ) -> privsim_model::result::Finding {
        privsim_model::result::Finding {
            kind: violation.kind,
            step,
            time: state.time,
            principal: self.actors[violation.actor].principal.to_string(),
            delegator: violation.delegator.as_ref().map(ToString::to_string),
            grant: violation.grant.clone(),
            action: violation.action.to_string(),
            resource: violation.resource.to_string(),
            determining_policies: violation.determining.clone(),
            message: violation.message.clone(),
            rule: violation
                .rule
                .map(|line| format!("{}:{line}", self.scenario.file.display)),
            trace: Vec::new(),
            repro: None,
            counterexample: None,
        }
    }

    /// The policies that allow an actor a pair in a state, asked of Cedar as
    /// the state invariants ask (the actor's own context, the state's store);
    /// empty when the request is not allowed. The invariants leave a
    /// violation's policies empty (asking costs a request per violation, on
    /// the search's hot path); replay asks this once per finding it reports.
    pub fn determining(
        &self,
        state: &State,
        actor: usize,
        action: &EntityUid,
        resource: &EntityUid,
    ) -> Vec<String> {
        let Ok(store) = self.store(state, None) else {
            return Vec::new();
        };
        let context = self.context(state, actor, &Map::new());
        let principal = &self.actors[actor].principal;
        let Ok(request) = self.request(principal, action, resource, &context) else {
            return Vec::new();
        };
        let response = self.authorize(&request, &store);
        if response.decision() != Decision::Allow {
            return Vec::new();
        }
        crate::world::determining(&response)
    }

    /// "session `x` (Agent::\"y\")" or the principal alone.
    pub fn describe(&self, actor: usize) -> String {
        let a = &self.actors[actor];
        match a.session {
            Some(s) => format!(
                "session `{}` ({})",
                self.scenario.sessions[s].id, a.principal
            ),
            None => a.principal.to_string(),
        }
    }

    /// The times after `state.time` at which the world or a session changes by
    /// itself (grant and session starts and ends), or a policy's datetime
    /// literal says a decision may change.
    pub fn boundaries(&self, state: &State) -> BTreeSet<Instant> {
        let mut times = self.shared.moments.clone();
        for grant in &state.grants {
            times.insert(grant.from);
            times.extend(grant.until);
        }
        for (index, session) in self.scenario.sessions.iter().enumerate() {
            times.extend(session.from);
            times.extend(session.until);
            if let Some((_, until)) = state.started[index] {
                times.extend(until);
            }
        }
        times.retain(|t| *t > state.time);
        times
    }
}

/// One context, read as Cedar reads it once per action (a context's Cedar
/// form depends on the action's context type in the schema), so requests that
/// share it do not parse it again.
struct Contexts<'m, 's> {
    machine: &'m Machine<'s>,
    json: &'m Value,
    text: String,
    /// By action: the context, and the (principal type, resource type)
    /// shapes the schema accepted with it (see [`Machine::request`]).
    parsed: HashMap<EntityUid, Option<(Context, Shapes)>>,
}

impl<'m, 's> Contexts<'m, 's> {
    fn new(machine: &'m Machine<'s>, json: &'m Value) -> Self {
        Self::with_text(machine, json, json.to_string())
    }

    /// With `json`'s text already made.
    fn with_text(machine: &'m Machine<'s>, json: &'m Value, text: String) -> Self {
        Self {
            machine,
            json,
            text,
            parsed: HashMap::new(),
        }
    }

    /// The request, checked against the schema as [`Machine::request`]
    /// checks it; `None` when it cannot be built (it is then never allowed).
    fn request(
        &mut self,
        principal: &EntityUid,
        action: &EntityUid,
        resource: &EntityUid,
    ) -> Option<Request> {
        let schema = self.machine.scenario.schema.as_ref();
        let (context, accepted) = self
            .parsed
            .entry(action.clone())
            .or_insert_with(|| {
                self.machine
                    .parsed_context(action, self.json, &self.text)
                    .ok()
                    .map(|context| (context, HashSet::new()))
            })
            .as_mut()?;
        let shape = (principal.type_name().clone(), resource.type_name().clone());
        if self.machine.shared.checks_by_type && accepted.contains(&shape) {
            // Accepted before: the same request (`Machine::request`).
            return crate::load::request_from_context(
                principal,
                action,
                resource,
                context.clone(),
                None,
            )
            .ok();
        }
        let request =
            crate::load::request_from_context(principal, action, resource, context.clone(), schema)
                .ok()?;
        if schema.is_some() {
            accepted.insert(shape);
        }
        Some(request)
    }
}

/// What applying a request's effects did.
#[derive(Debug, Clone)]
pub struct Applied {
    /// A line per effect.
    pub effects: Vec<String>,
    /// Why the resulting world is invalid (the state is then unchanged).
    pub error: Option<String>,
    /// The effects (index into `Scenario::effects`) that could not apply,
    /// each with why.
    pub not_applied: Vec<(usize, String)>,
}

fn running(session: &Session, started: Option<(Instant, Option<Instant>)>, time: Instant) -> bool {
    if session.dormant {
        return started.is_some_and(|(from, until)| from <= time && until.is_none_or(|u| time < u));
    }
    session.from.is_none_or(|from| from <= time) && session.until.is_none_or(|until| time < until)
}

/// What a grant changes, as text (for hashing).
/// The moments a decision can change at besides grant and session
/// boundaries ([`moments`]).
#[derive(Debug, Clone, Default)]
pub struct Moments {
    /// The moments, every one readable.
    pub at: BTreeSet<Instant>,
    /// Datetime and duration literals that could not be read.
    pub unread: BTreeSet<String>,
    /// The time arithmetic the policies use.
    pub arithmetic: BTreeSet<String>,
}

/// How far from the start a `Long` may be and still be read as a time in
/// Unix seconds (with the `now_unix` fact): ten years.
const UNIX_WINDOW_SECONDS: i64 = 10 * 366 * 86_400;

/// The moments a decision can change at, besides grant and session
/// boundaries: the policies' datetime literals; when the clock is visible to
/// policies (`now`), every datetime in the data too (the world's attributes,
/// the values effects write, the contexts of sessions and steps), since a
/// policy comparing the clock with an attribute changes its decision there,
/// and each of those plus and minus each duration literal of the policies
/// (what `offset` arithmetic with a literal reaches); with `now_unix`, the
/// `Long`s of the data and policies within ten years of the start, read as
/// Unix seconds (and the second after, for `<=`).
pub fn moments(scenario: &Scenario) -> Moments {
    use crate::load::policy_times::{cedar_datetime, policy_times};
    let mut moments = Moments::default();
    let facts = &scenario.facts;
    let keys: Vec<&str> = facts
        .now
        .iter()
        .chain(&facts.now_unix)
        .map(String::as_str)
        .collect();
    let times = policy_times(&scenario.policies, &keys);
    moments.arithmetic = times.arithmetic;
    moments.unread.extend(times.unread_durations);
    for literal in crate::load::policy_times::policy_datetime_literals(&scenario.policies) {
        match cedar_datetime(&literal) {
            Some(instant) => {
                moments.at.insert(instant);
            }
            None => {
                moments.unread.insert(literal);
            }
        }
    }
    // The data: the world, what effects write, what sessions and steps send
    // of their own (the facts, the clock among them, are not data).
    let fact_keys: BTreeSet<&str> = [
        &facts.now,
        &facts.now_unix,
        &facts.delegator,
        &facts.root,
        &facts.chain,
        &facts.chain_uids,
        &facts.depth,
        &facts.task,
        &facts.session,
    ]
    .into_iter()
    .flatten()
    .map(String::as_str)
    .collect();
    let own = |context: &Map<String, Value>| -> Value {
        Value::Object(
            context
                .iter()
                .filter(|(key, _)| !fact_keys.contains(key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        )
    };
    // Policies that cannot see the clock change no decision at a datetime of
    // the data: the world is not read at all then (it can be large, and this
    // runs for every replay and search).
    if facts.now.is_none() && facts.now_unix.is_none() {
        return moments;
    }
    let mut data: Vec<Value> = Vec::new();
    for raw in scenario.world.base.values() {
        // Only `now_unix` needs the Longs; `now` needs a datetime, which a
        // text without one cannot hold.
        if facts.now_unix.is_none() && !raw.get().contains("datetime") {
            continue;
        }
        if let Ok(value) = serde_json::from_str::<Value>(raw.get()) {
            data.push(value);
        }
    }
    // A value an effect copies from a context key into an attribute is read
    // under that key too.
    let mut names = times.attributes.clone();
    for effect in &scenario.effects {
        match &effect.operation {
            Operation::SetAttr { name, value, .. } => {
                if let ValueSource::Literal(value) = value {
                    data.push(serde_json::json!({ name.clone(): value.clone() }));
                }
                if let ValueSource::Of(Operand::Context(key)) = value
                    && times.attributes.contains(name)
                {
                    names.insert(key.clone());
                }
            }
            Operation::Grant { attrs, .. } => data.push(Value::Object(attrs.clone())),
            _ => {}
        }
    }
    for session in &scenario.sessions {
        data.push(own(&session.context));
    }
    for step in &scenario.steps {
        if let Value::Object(context) = step.context.as_ref() {
            data.push(own(context));
        }
    }
    if facts.now.is_some() {
        let mut texts = BTreeSet::new();
        for value in &data {
            crate::load::policy_times::datetimes_under(value, &names, &mut texts);
        }
        let mut found = BTreeSet::new();
        for text in texts {
            match cedar_datetime(&text) {
                Some(instant) => {
                    found.insert(instant);
                }
                None => {
                    moments.unread.insert(text);
                }
            }
        }
        for &instant in &found {
            for &duration in &times.durations {
                for shifted in [
                    instant.0.checked_add(duration),
                    instant.0.checked_sub(duration),
                ]
                .into_iter()
                .flatten()
                {
                    moments.at.insert(Instant(shifted));
                }
            }
        }
        moments.at.extend(found);
    }
    if facts.now_unix.is_some() {
        let start = scenario.start.0.div_euclid(1000);
        let mut longs = BTreeSet::new();
        for value in &data {
            collect_longs(value, &mut longs);
        }
        let json = scenario.policies.json();
        for policy in scenario.policies.set.policies() {
            if let Some(json) = json.policy(policy.id()) {
                collect_longs(json, &mut longs);
            }
        }
        for seconds in longs {
            if (seconds - start).abs() <= UNIX_WINDOW_SECONDS {
                moments.at.insert(Instant(seconds * 1000));
                moments.at.insert(Instant((seconds + 1) * 1000));
            }
        }
    }
    moments
}

fn collect_longs(value: &Value, found: &mut BTreeSet<i64>) {
    match value {
        Value::Number(number) => {
            if let Some(long) = number.as_i64() {
                found.insert(long);
            }
        }
        Value::Object(map) => map.values().for_each(|v| collect_longs(v, found)),
        Value::Array(items) => items.iter().for_each(|v| collect_longs(v, found)),
        _ => {}
    }
}

/// Adds to `into` what differs between an entity's JSON before (`None`: it
/// did not exist) and after a change: its parents (as a set), the names of
/// the attributes gained, lost or changed, its tags. Values that differ
/// only in form count as changed: that can only recompute more.
fn note_changed_data(before: Option<&Value>, after: &Value, into: &mut crate::held::Changed) {
    let field = |entity: Option<&Value>, name: &str| -> Value {
        entity
            .and_then(|e| e.get(name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let parents = |entity: Option<&Value>| -> BTreeSet<String> {
        match field(entity, "parents") {
            Value::Array(items) => items.iter().map(ToString::to_string).collect(),
            _ => BTreeSet::new(),
        }
    };
    if parents(before) != parents(Some(after)) {
        into.parents = true;
    }
    let empty_as_null = |value: Value| match value {
        Value::Object(map) if map.is_empty() => Value::Null,
        other => other,
    };
    if empty_as_null(field(before, "tags")) != empty_as_null(field(Some(after), "tags")) {
        into.tags = true;
    }
    let (old, new) = (field(before, "attrs"), field(Some(after), "attrs"));
    let names = |attrs: &Value| -> Vec<String> {
        attrs
            .as_object()
            .map(|map| map.keys().cloned().collect())
            .unwrap_or_default()
    };
    for name in names(&old).into_iter().chain(names(&new)) {
        if old.get(&name) != new.get(&name) {
            into.attrs.insert(name);
        }
    }
    // A non-object `attrs` or `tags` (malformed, or another form): every
    // name could differ, so count every kind of read as changed.
    let odd = |value: &Value| !matches!(value, Value::Object(_) | Value::Null);
    if odd(&old) || odd(&new) {
        into.unknown = true;
    }
}

/// An entity's JSON (or any JSON value) as text with every object's members
/// in sorted key order and its `parents` sorted: equal for equal content,
/// whatever order Cedar's hash maps or the writer gave them.
pub(crate) fn canonical_entity(entity: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for key in keys {
                    let mut inner = sorted(&map[key]);
                    if key == "parents"
                        && let Value::Array(items) = &mut inner
                    {
                        items.sort_by_key(ToString::to_string);
                    }
                    out.insert(key.clone(), inner);
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(entity).to_string()
}

fn grant_content(grant: &Grant) -> String {
    // A JSON array: unambiguous, whatever the ids contain.
    serde_json::json!([
        grant.principal.to_string(),
        grant
            .parents
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        grant
            .removed_parents
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        Value::Object(grant.attrs.clone()),
    ])
    .to_string()
}

/// A Cedar `datetime` value in JSON form.
fn datetime(time: Instant) -> Value {
    json!({ "__extn": { "fn": "datetime", "arg": time.to_string() } })
}

/// The entity a context value names (`{"__entity": {...}}` or `{"type", "id"}`).
fn entity_of(value: &Value) -> Option<EntityUid> {
    let inner = value.get("__entity").unwrap_or(value);
    let kind = inner.get("type")?.as_str()?;
    let id = inner.get("id")?.as_str()?;
    // As `EntityUid::from_json` reads it: a type name in normal form only.
    Some(EntityUid::from_type_name_and_id(
        crate::load::request::type_name(kind)?,
        cedar_policy::EntityId::new(id),
    ))
}

/// The timeline a replay that ended in `state` lived: its grants are every
/// grant and change in force over the run (with revocations as earlier ends),
/// and dormant sessions run when they were started (a session never started
/// runs at no time). Accounting on it measures the world as it evolved.
/// When that world cannot be built, the error says why (the caller keeps the
/// loaded timeline and warns).
pub fn lived(scenario: &Scenario, state: &State) -> Result<Lived, String> {
    let world = crate::world::World::build(
        scenario.world.base.clone(),
        &state.grants,
        scenario.schema.as_ref(),
    )
    .map_err(|e| {
        format!(
            "accounting uses the world without the changes effects made: {}",
            e.message
        )
    })?;
    let mut sessions = scenario.sessions.clone();
    for (index, session) in sessions.iter_mut().enumerate() {
        if session.dormant {
            let (from, until) =
                state.started[index].unwrap_or((scenario.start, Some(scenario.start)));
            session.from = Some(from);
            session.until = until;
        }
    }
    Ok(Lived::new(world, state.grants.clone(), sessions))
}

#[cfg(test)]
mod tests {
    use super::Snapshot;

    /// A snapshot's fingerprint is written to corpus files, so it is the
    /// same on every platform and with every Rust release: FNV-1a over the
    /// encoding [`Snapshot::fingerprint`] describes. The expected values
    /// were computed outside Rust from that definition (FNV-1a's offset
    /// basis and prime, lengths as 8 little-endian bytes, flags packed
    /// eight to a byte, lowest bit first).
    #[test]
    fn snapshot_fingerprint_is_fnv1a_of_its_encoding() {
        let empty = Snapshot {
            allowed: Vec::new(),
        };
        // The 8 zero bytes of the actor count alone.
        assert_eq!(empty.fingerprint(), 0xa8c7_f832_281a_39c5);
        let snapshot = Snapshot {
            allowed: vec![vec![true, false, true], Vec::new(), vec![true; 9]],
        };
        // 3 actors; 3 flags 0b101; 0 flags; 9 flags 0xff 0x01.
        assert_eq!(snapshot.fingerprint(), 0x0f23_6594_6a58_2b79);
    }
}
