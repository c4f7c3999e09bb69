//! Held sets of a state, computed incrementally and exactly.
//!
//! The definition of a state's held sets is brute force: one Cedar request per
//! (actor, action, resource) of each actor's universe, in the state's entity
//! store, with the actor's context at the state's time
//! ([`Machine::snapshot_brute_force`](super::state::Machine::snapshot_brute_force)).
//! A search or a replay with effects meets many states that differ from the
//! grant-free world in a few entities, so this module computes rows from the
//! grant-free world's rows instead:
//!
//! 1. **Rows of the grant-free world** are computed once per actor and
//!    context (as far as the policies read it, 6) with the held-set engine
//!    ([`crate::held`]: slicing and classes, exact against brute force), and
//!    kept.
//! 2. **What a change can reach.** A state's store differs from the grant-free
//!    one in the set C of entities whose JSON the grants in force change.
//!    Evaluating a policy on a request reads entity data only through
//!    attribute and tag access and `in` tests, starting from the principal,
//!    the action, the resource, the context's entities and the policies'
//!    literals, and following entity values read out of attributes and tags.
//!    An `in` test on `x` reads `x`'s ancestors, which differ between the two
//!    stores only when `x` or an ancestor is in C: so let C* be C and every
//!    descendant of C (children are found through the unchanged entities'
//!    parents, which are the same in both stores). An entity whose attributes
//!    or tags can lead, in any number of steps, to an entity of C* is
//!    *affected*; the rest read identical data in both stores, so every
//!    evaluation that starts only from unaffected entities decides alike.
//! 3. **Patching.** A row whose principal, chain or context entities are
//!    affected, or any row when a policy's condition names an affected
//!    entity, is computed
//!    again in the state's store (with the held-set engine). Otherwise only the
//!    pairs whose action or resource is affected are asked of Cedar again;
//!    the others keep the grant-free world's answer.
//! 4. **What a change can touch.** Evaluating a policy reads entity data
//!    only through the attributes it names (`.`, `has`), tags, and
//!    ancestors (`in`, in a scope or a condition). A policy that reads none
//!    of what the change changed (any entity's parents, the attributes of
//!    the changed names, tags; [`crate::held::Engine::touched_by`]) reads
//!    identical data in both stores and is satisfied alike on every
//!    request. So a group (an action's pairs) to which no touched policy
//!    may apply (no touched policy's principal and action scopes admit the
//!    actor and the action, in either store) is decided alike too, and
//!    keeps the grant-free row's flags even where step 3 would ask again.
//!    A group asked again evaluates only the touched policies: the
//!    grant-free row keeps, per group, on which resources each policy is
//!    satisfied ([`Engine::allowed_deciding_satisfied`]), and the others
//!    take that ([`Engine::allowed_noting_into_over`]).
//! 5. **Coverage.** A kept answer is Cedar's with the grant-free store:
//!    every policy is satisfied alike on its request in both stores, so
//!    Cedar's reason (the policies that decide it) is the same too. The
//!    grant-free rows keep, per group, which requests each policy decides
//!    ([`Engine::allowed_deciding`]), and a state notes the deciding
//!    policies of the pairs it keeps (a whole group's at once; of a group
//!    asked again in part, those that decide some pair kept, looked up only
//!    for policies the machine has not noted yet), as asking every pair
//!    would note them: [`Machine::decided`](super::state::Machine::decided)
//!    is what brute force notes, no more and no fewer.
//! 6. **What a row reads of the context.** A grant-free row depends on the
//!    context only through the policies' reading of it and through whether
//!    the context fits each action under the schema (reads as the action's
//!    context and has its context type, the check `Request::new` makes of
//!    a context: one that does not is no request at all). When every policy and template reads the
//!    context only as `context.k` and `context has k`, two contexts with the
//!    same values of those keys that fit the same actions give every policy
//!    the same values to read, so the same row and reasons: rows are kept by
//!    those values and fits instead of by the whole context, and a context
//!    that differs in a key no policy reads (the clock, in a scenario whose
//!    `[facts]` give it) finds its row already computed. Any other use of
//!    `context` keeps rows by the whole context.
//!
//! `sim/engine/tests/it/effects.rs` compares every state a random walk
//! reaches, and the policies seen deciding, with brute force on generated
//! worlds with effects.

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use cedar_policy::EntityUid;
use serde_json::Value;

use crate::held::{Decided, Engine, Noted, Satisfied, StoreId, Targets, collect_uids, lock};
use crate::load::Scenario;

/// The most grant-free rows kept (a row per actor and row key,
/// [`Rows::row_key`]; keys may change with the clock).
const MAX_BASE_ROWS: usize = 8192;

/// An actor's row in the grant-free world: its flags, one per pair of its
/// universe, and per group (action) the policies that decide the group's
/// requests, with which requests each decides. A state that keeps some
/// pairs' answers from this row notes the policies that decide those pairs,
/// exactly as asking them again would: a pair is kept only when every
/// policy is satisfied alike on its request in both stores, so Cedar's
/// reason is the same.
pub(super) struct BaseRow {
    pub(super) flags: Vec<bool>,
    /// Per group, the policies that decide some of its requests.
    decided: Vec<Vec<Decided>>,
    /// Per group, on which resources each policy is satisfied: a store
    /// whose change a policy does not read takes its satisfaction from
    /// here (module docs, 4).
    satisfied: Vec<Satisfied>,
    /// The engine's indices of the policies that decide some request of
    /// the row.
    policies: Vec<usize>,
    /// The text of the context it was computed with (others whose keys read
    /// are the same share it: module docs, 6).
    pub(super) context: String,
}

impl BaseRow {
    /// Notes the policies that decide some request of the row.
    pub(super) fn note_all(&self, noted: &Noted) {
        noted.mark(&self.policies);
    }

    /// Notes the policies that decide some request of group `group`.
    pub(super) fn note_group(&self, group: usize, noted: &Noted) {
        for decided in &self.decided[group] {
            noted.mark(&[decided.policy]);
        }
    }

    /// Notes the policies that decide some request of group `group`, whose
    /// first pair is the row's `start`th, other than those of `again` (the
    /// row's pairs of the group asked again, without repeats).
    pub(super) fn note_kept(&self, group: usize, start: usize, again: &[usize], noted: &Noted) {
        for decided in &self.decided[group] {
            if !noted.contains(decided.policy)
                && decided.decides_besides(again.iter().map(|pair| pair - start))
            {
                noted.mark(&[decided.policy]);
            }
        }
    }
}

/// A grant-free row, shared.
type Row = Arc<BaseRow>;

/// A universe's pairs by action: each action's targets and the index of its
/// first pair (shared by the actors of one universe).
pub(super) type Groups = Arc<Vec<(Targets, usize)>>;

/// A resource list's positions of each resource.
type Positions = Arc<HashMap<EntityUid, Vec<usize>>>;

/// A grant-free row being computed or computed, by principal and row key
/// ([`Rows::row_key`]): actors of one principal have one universe (it is
/// the principal type's), and the row key holds all a row reads of the
/// context, so they share the row.
type RowCells = HashMap<(EntityUid, String), Arc<OnceLock<Row>>>;

/// The incremental held-set machinery of a scenario, shared by every
/// [`Machine`](super::state::Machine) of it (the workers of a search, each on
/// its own thread): what it holds are pure functions of the scenario (the
/// engine's classes, the grant-free world's rows and edges), so a worker
/// that finds one computed by another gets the same answer it would have
/// computed itself, and results do not depend on which worker came first.
pub(super) struct Rows<'s> {
    pub(super) engine: Engine<'s>,
    /// Per actor: its universe's pairs by action (the action's targets and
    /// the index of its first pair).
    pub(super) groups: Vec<Groups>,
    /// Per resource list of the groups (by the address of its resources:
    /// the groups keep every list alive as long as this), built on first
    /// use: each resource's positions in it. Lists are shared by actions
    /// and actors, so this is built once per list, not once per actor.
    positions: Mutex<HashMap<usize, Positions>>,
    /// Rows in the grant-free world, by principal and row key
    /// ([`Rows::row_key`]), each computed once (a second worker asking for
    /// a row being computed waits for it).
    base_rows: Mutex<RowCells>,
    /// The grant-free world's edges, built on the first change.
    edges: OnceLock<Edges>,
    /// Every entity a policy's or template's condition names; `None` when a
    /// policy cannot be read as JSON (then any change recomputes every row).
    literals: Option<HashSet<EntityUid>>,
    /// The context keys the policies read, when they read the context only
    /// as `context.k` and `context has k` ([`context_keys`]); `None`
    /// otherwise. Grant-free rows are kept by the context's values of these
    /// keys (module docs, 6).
    context_keys: Option<BTreeSet<String>>,
    /// Each context text's row keys, by actor, and fits, by action
    /// ([`Rows::row_key`]).
    row_keys: Mutex<HashMap<String, RowKeys>>,
}

/// One context text's row keys, by actor, and whether it fits each action
/// asked so far ([`Rows::row_key`]).
struct RowKeys {
    keys: Vec<Option<String>>,
    fits: HashMap<EntityUid, bool>,
}

/// Who points at whom in the grant-free world.
struct Edges {
    /// Parent → children.
    children: HashMap<EntityUid, Vec<EntityUid>>,
    /// Entity → the entities whose attributes or tags hold it.
    referrers: HashMap<EntityUid, Vec<EntityUid>>,
}

/// How a state's store differs from the grant-free world's.
pub(super) struct Delta {
    /// Whether any entity differs.
    pub(super) changed: bool,
    /// The affected entities (module docs, 2).
    pub(super) affected: HashSet<EntityUid>,
    /// Whether a policy's condition names an affected entity: every row is
    /// recomputed.
    pub(super) everywhere: bool,
    /// The state's store in the engine, once registered.
    pub(super) store: Cell<Option<StoreId>>,
}

impl<'s> Rows<'s> {
    /// Prepares the engine for a scenario's policies and the machine's actors.
    pub(super) fn new(
        scenario: &'s Scenario,
        actors: &[super::Actor],
        pairs: &[super::Universe],
    ) -> Self {
        let subjects = actors
            .iter()
            .flat_map(|a| std::iter::once(a.principal.clone()).chain(a.chain.iter().cloned()));
        let engine = Engine::new(scenario).with_subjects(subjects);
        // Actors of one principal type share one universe, and so one list
        // of groups.
        let groups = super::per_universe(pairs, |pairs| {
            Arc::new(
                super::action_runs(pairs)
                    .map(|(action, run)| {
                        let resources = pairs[run.clone()].iter().map(|(_, r)| r.clone()).collect();
                        (engine.targets(action.clone(), resources), run.start)
                    })
                    .collect(),
            )
        });
        Self {
            engine,
            groups,
            positions: Mutex::new(HashMap::new()),
            base_rows: Mutex::new(HashMap::new()),
            edges: OnceLock::new(),
            literals: literals(scenario),
            context_keys: context_keys(scenario),
            row_keys: Mutex::new(HashMap::new()),
        }
    }

    /// An actor's row in the grant-free world with this context (`text`
    /// its text, `key` its row key, [`Rows::row_key`]), with the policies
    /// that decide its requests, group by group.
    pub(super) fn base_row(
        &self,
        actor: usize,
        principal: &EntityUid,
        context: &Value,
        text: &str,
        key: &str,
    ) -> Arc<BaseRow> {
        let key = (principal.clone(), key.to_string());
        let cell = {
            let mut rows = self
                .base_rows
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if rows.len() >= MAX_BASE_ROWS && !rows.contains_key(&key) {
                rows.clear();
            }
            Arc::clone(rows.entry(key).or_default())
        };
        // Computed outside the lock: other rows stay available meanwhile.
        Arc::clone(cell.get_or_init(|| {
            let mut row = BaseRow {
                flags: Vec::new(),
                decided: Vec::new(),
                satisfied: Vec::new(),
                policies: Vec::new(),
                context: text.to_string(),
            };
            for (targets, _) in self.groups[actor].iter() {
                let (flags, decided, satisfied) = self.engine.allowed_deciding_satisfied(
                    principal,
                    targets,
                    context,
                    Engine::segment(0),
                );
                row.flags.extend(flags);
                row.policies.extend(decided.iter().map(|d| d.policy));
                row.decided.push(decided);
                row.satisfied.push(satisfied);
            }
            row.policies.sort_unstable();
            row.policies.dedup();
            Arc::new(row)
        }))
    }

    /// What an actor's grant-free row depends on in a context (module docs,
    /// 6): with the keys the policies read known, their values and whether
    /// the context fits each action of the row under the schema; else the
    /// whole context's text.
    pub(super) fn row_key(&self, actor: usize, context: &Value, text: &str) -> String {
        let (Some(keys), Value::Object(map)) = (&self.context_keys, context) else {
            return text.to_string();
        };
        // Kept by context text and actor, and the fits by context text and
        // action (actors of one universe, or whose universes share an
        // action, share them): a fit costs a schema check.
        let fits: Vec<Option<bool>> = {
            let kept = lock(&self.row_keys);
            let Some(known) = kept.get(text) else {
                drop(kept);
                return self.new_row_key(actor, context, text, keys, map, Vec::new());
            };
            if let Some(Some(key)) = known.keys.get(actor) {
                return key.clone();
            }
            self.groups[actor]
                .iter()
                .map(|(targets, _)| known.fits.get(&targets.action).copied())
                .collect()
        };
        self.new_row_key(actor, context, text, keys, map, fits)
    }

    /// [`Rows::row_key`] made and kept, with the fits of the actor's groups
    /// known so far (`None` for those not known).
    fn new_row_key(
        &self,
        actor: usize,
        context: &Value,
        text: &str,
        keys: &BTreeSet<String>,
        map: &serde_json::Map<String, Value>,
        mut fits: Vec<Option<bool>>,
    ) -> String {
        fits.resize(self.groups[actor].len(), None);
        let read: serde_json::Map<String, Value> = map
            .iter()
            .filter(|(key, _)| keys.contains(*key))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let mut key = Value::Object(read).to_string();
        key.push('|');
        for ((targets, _), fit) in self.groups[actor].iter().zip(&mut fits) {
            let fits =
                *fit.get_or_insert_with(|| self.engine.context_fits(&targets.action, context));
            key.push(if fits { '1' } else { '0' });
        }
        let mut kept = lock(&self.row_keys);
        if kept.len() >= MAX_BASE_ROWS && !kept.contains_key(text) {
            kept.clear();
        }
        let known = kept.entry(text.to_string()).or_insert_with(|| RowKeys {
            keys: vec![None; self.groups.len()],
            fits: HashMap::new(),
        });
        known.keys[actor] = Some(key.clone());
        for ((targets, _), fit) in self.groups[actor].iter().zip(fits) {
            if let Some(fit) = fit {
                known.fits.insert(targets.action.clone(), fit);
            }
        }
        key
    }

    /// One group of an actor's row in a store of the engine, noting the
    /// policies that decide its requests into `noted`
    /// ([`Engine::allowed_noting_into_over`]), as `Machine::authorize` notes
    /// those of the requests it asks. The store differs from the grant-free
    /// one as `touched` says ([`Engine::touched_by`]), and `base` is the
    /// actor's grant-free row with a context that reads alike: the policies
    /// the change does not touch are satisfied there alike (module docs, 4).
    #[expect(clippy::too_many_arguments, reason = "the parts of one group")]
    pub(super) fn group_in(
        &self,
        (actor, group): (usize, usize),
        principal: &EntityUid,
        context: &Value,
        store: StoreId,
        noted: &Noted,
        touched: &[bool],
        base: &BaseRow,
    ) -> Vec<bool> {
        let (targets, _) = &self.groups[actor][group];
        self.engine.allowed_noting_into_over(
            principal,
            targets,
            context,
            store,
            noted,
            touched,
            &base.satisfied[group],
        )
    }

    /// The index of (`action`, `resource`) in an actor's universe, if it is
    /// there.
    pub(super) fn pair_index(
        &self,
        actor: usize,
        action: &EntityUid,
        resource: &EntityUid,
    ) -> Option<usize> {
        let (targets, start) = self.groups[actor]
            .iter()
            .find(|(targets, _)| &targets.action == action)?;
        let position = *self.positions(targets.resources()).get(resource)?.first()?;
        Some(start + position)
    }

    /// Adds to `again` the indices of an actor's pairs whose resource is
    /// in `entities`, in the groups `may_change` marks; returns how many
    /// such pairs the other groups hold (kept as they are).
    pub(super) fn pairs_on(
        &self,
        actor: usize,
        entities: &HashSet<EntityUid>,
        may_change: impl Fn(usize) -> bool,
        again: &mut Vec<usize>,
    ) -> usize {
        let mut kept = 0;
        for (group, (targets, start)) in self.groups[actor].iter().enumerate() {
            let positions = self.positions(targets.resources());
            for entity in entities {
                if let Some(found) = positions.get(entity) {
                    if may_change(group) {
                        again.extend(found.iter().map(|position| start + position));
                    } else {
                        kept += found.len();
                    }
                }
            }
        }
        kept
    }

    /// Each resource's positions in a resource list of the groups.
    fn positions(&self, resources: &[EntityUid]) -> Positions {
        let key = resources.as_ptr().addr();
        let mut lists = self
            .positions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(lists.entry(key).or_insert_with(|| {
            let mut index: HashMap<EntityUid, Vec<usize>> = HashMap::new();
            for (position, resource) in resources.iter().enumerate() {
                index.entry(resource.clone()).or_default().push(position);
            }
            Arc::new(index)
        }))
    }

    /// How a store whose entities in `changed` differ from the grant-free
    /// world's differs from it.
    pub(super) fn delta(&self, scenario: &Scenario, changed: HashSet<EntityUid>) -> Delta {
        if changed.is_empty() {
            return Delta {
                changed: false,
                affected: HashSet::new(),
                everywhere: false,
                store: Cell::new(None),
            };
        }
        let edges = self.edges.get_or_init(|| Edges::of(scenario));
        let mut star = changed.clone();
        let mut stack: Vec<EntityUid> = changed.into_iter().collect();
        while let Some(entity) = stack.pop() {
            for child in edges.children.get(&entity).into_iter().flatten() {
                if star.insert(child.clone()) {
                    stack.push(child.clone());
                }
            }
        }
        let mut affected = star.clone();
        let mut stack: Vec<EntityUid> = star.into_iter().collect();
        while let Some(entity) = stack.pop() {
            for referrer in edges.referrers.get(&entity).into_iter().flatten() {
                if affected.insert(referrer.clone()) {
                    stack.push(referrer.clone());
                }
            }
        }
        let everywhere = match &self.literals {
            None => true,
            Some(literals) => literals.iter().any(|l| affected.contains(l)),
        };
        Delta {
            changed: true,
            affected,
            everywhere,
            store: Cell::new(None),
        }
    }
}

impl Edges {
    fn of(scenario: &Scenario) -> Self {
        let mut children: HashMap<EntityUid, Vec<EntityUid>> = HashMap::new();
        let mut referrers: HashMap<EntityUid, Vec<EntityUid>> = HashMap::new();
        for raw in scenario.world.base.values() {
            let Ok(entity) = serde_json::from_str::<Value>(raw.get()) else {
                continue;
            };
            let mut own = Vec::new();
            if let Some(uid) = entity.get("uid") {
                collect_uids(uid, &mut own);
            }
            let Some(uid) = own.pop() else {
                continue;
            };
            let mut parents = Vec::new();
            if let Some(value) = entity.get("parents") {
                collect_uids(value, &mut parents);
            }
            for parent in parents {
                children.entry(parent).or_default().push(uid.clone());
            }
            let mut held = Vec::new();
            for field in ["attrs", "tags"] {
                if let Some(value) = entity.get(field) {
                    collect_uids(value, &mut held);
                }
            }
            held.sort();
            held.dedup();
            for target in held {
                referrers.entry(target).or_default().push(uid.clone());
            }
        }
        Self {
            children,
            referrers,
        }
    }
}

/// The entities the policies' and templates' conditions name, as their JSON
/// holds them; `None` when one cannot be read as JSON. Entities named only in
/// a scope (`principal in L`, `resource == L`, a template's slots) are left
/// out: a scope reads the request's principal, action or resource (its
/// ancestors, for `in`), never the named entity's own data, so a change to
/// `L` matters there only through a request entity, which is then affected
/// itself (an `in L` answer changes only for descendants of a change).
fn literals(scenario: &Scenario) -> Option<HashSet<EntityUid>> {
    let mut found = Vec::new();
    for json in scenario.policies.json().in_order(&scenario.policies.set) {
        collect_uids(json?.get("conditions").unwrap_or(&Value::Null), &mut found);
    }
    Some(found.into_iter().collect())
}

/// The context keys the policies and templates read, when every use of
/// `context` in their conditions is `context.k` or `context has k` (a
/// literal key); `None` when some condition uses the context otherwise (as a
/// whole value: compared, put in a record or set, its tags asked) or a
/// policy cannot be read as JSON.
fn context_keys(scenario: &Scenario) -> Option<BTreeSet<String>> {
    let mut keys = BTreeSet::new();
    for json in scenario.policies.json().in_order(&scenario.policies.set) {
        read_keys(json?.get("conditions")?, &mut keys)?;
    }
    Some(keys)
}

/// Adds to `keys` the context keys `json` (a part of a policy's JSON form)
/// reads; `None` when it uses the context other than by `.k` or `has k`.
fn read_keys(json: &Value, keys: &mut BTreeSet<String>) -> Option<()> {
    match json {
        Value::Object(map) => {
            if map.get("Var").and_then(Value::as_str) == Some("context") {
                // The context itself, not as the left side of `.` or `has`.
                return None;
            }
            for (op, operand) in map {
                if let (".", Value::Object(access)) | ("has", Value::Object(access)) =
                    (op.as_str(), operand)
                    && access
                        .get("left")
                        .and_then(|l| l.get("Var"))
                        .and_then(Value::as_str)
                        == Some("context")
                {
                    let attr = access.get("attr").and_then(Value::as_str)?;
                    if access.len() != 2 {
                        return None;
                    }
                    keys.insert(attr.to_string());
                    continue;
                }
                read_keys(operand, keys)?;
            }
            Some(())
        }
        Value::Array(items) => items.iter().try_for_each(|item| read_keys(item, keys)),
        _ => Some(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]
    use super::Rows;
    use crate::load::{LoadOptions, load, universe};
    use crate::world::Actor;
    use serde_json::json;
    use std::sync::Arc;

    /// Two contexts with the same values of the keys the policies read share
    /// a grant-free row only when they fit the same actions: a context whose
    /// unread key has a type the schema rejects is no request at all, and
    /// gets a row of its own (nothing allowed), not the other's.
    #[test]
    fn rows_are_shared_only_by_contexts_that_fit_alike() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            (
                "scenario.toml",
                "[scenario]\nname = \"fits\"\npolicies = [\"p.cedar\"]\nschema = \"s.cedarschema\"\nentities = \"e.json\"\nstart = \"2026-06-01T09:00:00Z\"\n\n[[step]]\nat = \"+0s\"\nprincipal = 'Agent::\"a\"'\naction = 'Action::\"read\"'\nresource = 'Doc::\"d\"'\ncontext = { flag = true }\n",
            ),
            (
                "s.cedarschema",
                "entity Agent;\nentity Doc;\naction read appliesTo { principal: [Agent], resource: [Doc], context: { flag: Bool, n?: Long } };\n",
            ),
            (
                "p.cedar",
                "permit (principal, action, resource) when { context.flag };\n",
            ),
            (
                "e.json",
                r#"[{"uid": {"type": "Agent", "id": "a"}, "attrs": {}, "parents": []},
                    {"uid": {"type": "Doc", "id": "d"}, "attrs": {}, "parents": []}]"#,
            ),
        ] {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let scenario = load(&dir.path().join("scenario.toml"), &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{e:?}"));
        let principal: cedar_policy::EntityUid = r#"Agent::"a""#.parse().unwrap();
        let actors = vec![Actor {
            session: None,
            principal: principal.clone(),
            chain: vec![principal.clone()],
        }];
        let pairs = vec![Arc::new(universe::flattened(&scenario, &principal))];
        let rows = Rows::new(&scenario, &actors, &pairs);
        assert_eq!(
            rows.context_keys
                .as_ref()
                .map(|keys| keys.iter().cloned().collect::<Vec<_>>()),
            Some(vec!["flag".to_string()])
        );
        let principal = &principal;
        let fits = json!({"flag": true, "n": 1});
        let misfits = json!({"flag": true, "n": "one"});
        let base_row = |context: &serde_json::Value| {
            let text = context.to_string();
            rows.base_row(
                0,
                principal,
                context,
                &text,
                &rows.row_key(0, context, &text),
            )
        };
        let row = |context: &serde_json::Value| base_row(context).flags.clone();
        assert_eq!(row(&fits), vec![true]);
        assert_eq!(row(&misfits), vec![false]);
        // A context that fits, with another value of the unread key, shares
        // the first row.
        let other = json!({"flag": true, "n": 2});
        let shared = base_row(&other);
        assert_eq!(
            (shared.flags.clone(), shared.context.clone()),
            (vec![true], fits.to_string())
        );
    }
}
