//! Escalation search: from a scenario's initial world, sequences of moves
//! (an actor makes a request, or the clock moves on to the next moment the
//! world changes by itself) that reach a state breaking an invariant.
//!
//! Only allowed requests with effects and clock advances change the state;
//! every other request is still checked (the delegation ceiling is a property
//! of one request) but leaves the state as it was. So a trace records the
//! state-changing moves, and "depth" counts them.
//!
//! Strategies:
//! - `random`: seeded random walks of at most `depth` state-changing moves;
//! - `novelty`: a pool of states whose held sets (the `Snapshot` of every
//!   actor) were new when reached; each round extends a pool state by a random
//!   move, so the search spreads towards new access rather than revisiting;
//! - `exhaustive`: breadth-first over every move, with state hashing; when the
//!   budget lasts it proves that no state within `depth` state-changing moves
//!   breaks an invariant (other than the findings reported).
//!
//! Each violation is minimized (moves dropped while the same violation still
//! appears) and ends with a witness request: the one that must be denied.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant as Clock};

use cedar_policy::EntityUid;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, Value};

use crate::dynamics::{Operand, Operation, ValueSource};
use crate::result::{SearchSummary, TraceStep};
use crate::state::{Machine, State, Violation};
use crate::time::Instant;

/// How the search chooses moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Seeded random walks.
    Random,
    /// Random extensions of states that reached new held sets.
    Novelty,
    /// Breadth-first over every move, with state hashing.
    Exhaustive,
}

impl Strategy {
    /// The name used on the command line and in results.
    pub fn name(self) -> &'static str {
        match self {
            Self::Random => "random",
            Self::Novelty => "novelty",
            Self::Exhaustive => "exhaustive",
        }
    }

    /// Parses a name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "random" => Some(Self::Random),
            "novelty" => Some(Self::Novelty),
            "exhaustive" => Some(Self::Exhaustive),
            _ => None,
        }
    }
}

/// The search's budget and choices.
#[derive(Debug, Clone)]
pub struct Options {
    /// The strategy.
    pub strategy: Strategy,
    /// The seed of every random choice.
    pub seed: u64,
    /// At most this many moves (requests and clock advances) are tried.
    pub max_steps: u64,
    /// Wall-clock limit (makes how far the search gets machine-dependent).
    pub time: Option<Duration>,
    /// The longest trace, in state-changing moves.
    pub depth: usize,
    /// An extra clock move of this many milliseconds, besides the moves to
    /// the world's own boundaries (for policies with time windows).
    pub tick: Option<i64>,
    /// Whether to minimize findings.
    pub minimize: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            strategy: Strategy::Novelty,
            seed: 0,
            max_steps: 20_000,
            time: None,
            depth: 6,
            tick: None,
            minimize: true,
        }
    }
}

/// One move.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "most moves are requests; boxing them would only add an allocation each"
)]
pub enum Move {
    /// An actor makes a request.
    Request {
        /// Index into [`Machine::actors`].
        actor: usize,
        /// The action.
        action: EntityUid,
        /// The resource.
        resource: EntityUid,
        /// Context entries added to the actor's own.
        extra: Map<String, Value>,
    },
    /// The clock moves on to this time.
    Advance(Instant),
}

/// A violation with the moves that reach it; the last request is the witness.
#[derive(Debug, Clone)]
pub struct Found {
    /// What broke.
    pub violation: Violation,
    /// The moves from the initial state, ending with the witness request.
    pub trace: Vec<Move>,
}

/// How far the search got, every so often.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Moves tried.
    pub moves: u64,
    /// Distinct states seen.
    pub states: u64,
    /// Findings so far.
    pub findings: usize,
}

/// What a search found and did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The findings, minimized, in the order found.
    pub findings: Vec<Found>,
    /// The summary for the result model.
    pub summary: SearchSummary,
    /// Cedar evaluations made (for throughput figures).
    pub evaluations: u64,
}

/// Searches one scenario. `progress` is called every 256 moves.
pub fn search(
    machine: &Machine<'_>,
    options: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Report {
    let mut run = Run::new(machine, options);
    match options.strategy {
        Strategy::Random => run.random(progress),
        Strategy::Novelty => run.novelty(progress),
        Strategy::Exhaustive => run.exhaustive(progress),
    }
    let mut findings: Vec<Found> = Vec::new();
    let raw = std::mem::take(&mut run.found);
    for found in raw {
        let found = if options.minimize {
            minimize(machine, found)
        } else {
            found
        };
        findings.push(found);
    }
    Report {
        summary: SearchSummary {
            strategy: options.strategy.name().to_string(),
            seed: options.seed,
            moves: run.moves,
            states: run.states.len() as u64,
            max_depth: run.max_depth,
            exhaustive_depth: run.proven,
            budget_exhausted: run.exhausted,
        },
        findings,
        evaluations: machine.evaluations.get(),
    }
}

/// The search in progress.
struct Run<'m, 's> {
    machine: &'m Machine<'s>,
    options: &'m Options,
    started: Clock,
    moves: u64,
    exhausted: bool,
    max_depth: usize,
    proven: Option<usize>,
    /// State key → (snapshot fingerprint, violations in that state).
    states: HashMap<u64, (u64, Vec<Violation>)>,
    fingerprints: HashSet<u64>,
    found: Vec<Found>,
    keys: BTreeSet<(String, String, String, String, String)>,
    mover: Mover,
}

impl<'m, 's> Run<'m, 's> {
    fn new(machine: &'m Machine<'s>, options: &'m Options) -> Self {
        Self {
            machine,
            options,
            started: Clock::now(),
            moves: 0,
            exhausted: false,
            max_depth: 0,
            proven: None,
            states: HashMap::new(),
            fingerprints: HashSet::new(),
            found: Vec::new(),
            keys: BTreeSet::new(),
            mover: Mover::new(machine, options.tick),
        }
    }

    /// Whether the budget is spent (and notes it).
    fn spent(&mut self) -> bool {
        if self.moves >= self.options.max_steps
            || self
                .options
                .time
                .is_some_and(|t| self.started.elapsed() >= t)
        {
            self.exhausted = true;
        }
        self.exhausted
    }

    fn moves(&self, state: &State) -> Vec<Move> {
        self.mover.moves(self.machine, state)
    }

    /// Makes a move: the state changes in place; returns whether it changed
    /// and the violations to report (new ones only).
    fn play(&mut self, state: &mut State, mv: &Move) -> (bool, Vec<Violation>) {
        self.moves += 1;
        let (changed, mut violations) = execute(self.machine, state, mv);
        if changed {
            let key = self.machine.state_key(state);
            let entry = match self.states.get(&key) {
                Some(entry) => entry.clone(),
                None => {
                    let entry = match self.machine.snapshot(state) {
                        Ok(snapshot) => {
                            let found = self.machine.violations(state, &snapshot);
                            (snapshot.fingerprint(), found)
                        }
                        Err(_) => (0, Vec::new()),
                    };
                    self.states.insert(key, entry.clone());
                    entry
                }
            };
            violations.extend(entry.1);
        }
        violations.retain(|v| !self.keys.contains(&key_of(self.machine, v)));
        (changed, violations)
    }

    /// Records violations reached by `trace` (the moves so far, ending with
    /// the one just played).
    fn record(&mut self, trace: &[Move], violations: Vec<Violation>) {
        for violation in violations {
            if !self.keys.insert(key_of(self.machine, &violation)) {
                continue;
            }
            let mut trace = trace.to_vec();
            if violation.kind != "delegation-ceiling" {
                trace.push(witness(&violation));
            }
            self.found.push(Found { violation, trace });
        }
    }

    fn initial(&mut self) -> State {
        let state = self.machine.initial();
        let key = self.machine.state_key(&state);
        if !self.states.contains_key(&key) {
            let entry = match self.machine.snapshot(&state) {
                Ok(snapshot) => (
                    snapshot.fingerprint(),
                    self.machine.violations(&state, &snapshot),
                ),
                Err(_) => (0, Vec::new()),
            };
            self.fingerprints.insert(entry.0);
            self.states.insert(key, entry.clone());
            self.record(&[], entry.1);
        }
        state
    }

    fn report(&self, progress: &mut dyn FnMut(Progress)) {
        if self.moves.is_multiple_of(256) {
            progress(Progress {
                moves: self.moves,
                states: self.states.len() as u64,
                findings: self.found.len(),
            });
        }
    }

    fn random(&mut self, progress: &mut dyn FnMut(Progress)) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.options.seed);
        let initial = self.initial();
        'walks: while !self.spent() && self.options.depth > 0 {
            let mut state = initial.clone();
            let mut trace = Vec::new();
            // A walk ends after `depth` state changes or as many idle moves as
            // a state has, whichever comes first.
            let mut idle = 0;
            while trace.len() < self.options.depth {
                if self.spent() {
                    break 'walks;
                }
                let moves = self.moves(&state);
                if moves.is_empty() && trace.is_empty() {
                    // Nothing can move in the initial world: nothing to search.
                    break 'walks;
                }
                if moves.is_empty() || idle > moves.len() {
                    break;
                }
                let mv = moves[rng.random_range(0..moves.len())].clone();
                let (changed, violations) = self.play(&mut state, &mv);
                self.report(progress);
                let mut reached = trace.clone();
                reached.push(mv.clone());
                self.record(&reached, violations);
                if changed {
                    trace.push(mv);
                    self.max_depth = self.max_depth.max(trace.len());
                    idle = 0;
                } else {
                    idle += 1;
                }
            }
        }
    }

    fn novelty(&mut self, progress: &mut dyn FnMut(Progress)) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.options.seed);
        let initial = self.initial();
        let mut pool: Vec<(State, Vec<Move>)> = vec![(initial, Vec::new())];
        let mut seen: HashSet<u64> = HashSet::new();
        seen.insert(self.machine.state_key(&pool[0].0));
        while !self.spent() {
            // Newer pool entries (newer held sets) are tried more often.
            let pick = if rng.random_bool(0.5) {
                pool.len() - 1 - rng.random_range(0..pool.len().min(4))
            } else {
                rng.random_range(0..pool.len())
            };
            let (mut state, trace) = pool[pick].clone();
            let moves = self.moves(&state);
            if moves.is_empty() {
                if pool.len() == 1 {
                    break;
                }
                pool.swap_remove(pick);
                continue;
            }
            let mv = moves[rng.random_range(0..moves.len())].clone();
            let (changed, violations) = self.play(&mut state, &mv);
            self.report(progress);
            let mut reached = trace.clone();
            reached.push(mv);
            self.record(&reached, violations);
            if !changed || reached.len() > self.options.depth {
                continue;
            }
            let key = self.machine.state_key(&state);
            if !seen.insert(key) {
                continue;
            }
            self.max_depth = self.max_depth.max(reached.len());
            let fingerprint = self.states.get(&key).map_or(0, |e| e.0);
            // New held sets join the pool; a known one joins only while the
            // pool is small, so time-only changes still get explored.
            if self.fingerprints.insert(fingerprint) || pool.len() < 16 {
                pool.push((state, reached));
            }
        }
    }

    /// Breadth-first: level `n` plays every move of every state reached with
    /// `n - 1` state changes. After level `k + 1`, every state within `k`
    /// changes and every request made in one was checked: that is the proof.
    fn exhaustive(&mut self, progress: &mut dyn FnMut(Progress)) {
        let initial = self.initial();
        let mut visited: HashSet<u64> = HashSet::new();
        visited.insert(self.machine.state_key(&initial));
        let mut frontier: Vec<(State, Vec<Move>)> = vec![(initial, Vec::new())];
        for level in 1..=self.options.depth + 1 {
            let mut next = Vec::new();
            for (state, trace) in &frontier {
                for mv in self.moves(state) {
                    if self.spent() {
                        return;
                    }
                    let mut after = state.clone();
                    let (changed, violations) = self.play(&mut after, &mv);
                    self.report(progress);
                    let mut reached = trace.clone();
                    reached.push(mv);
                    self.record(&reached, violations);
                    if changed
                        && level <= self.options.depth
                        && visited.insert(self.machine.state_key(&after))
                    {
                        self.max_depth = self.max_depth.max(level);
                        next.push((after, reached));
                    }
                }
            }
            self.proven = Some(level - 1);
            frontier = next;
            if frontier.is_empty() {
                // Nothing new is reachable: every reachable state was checked.
                self.proven = Some(self.options.depth);
                return;
            }
        }
    }
}

/// A violation's identity across actors: the same principal breaking the
/// same invariant alone or in a session is one finding.
fn key_of(
    machine: &Machine<'_>,
    violation: &Violation,
) -> (String, String, String, String, String) {
    let mut key = violation.key();
    key.1 = machine.actors[violation.actor].principal.to_string();
    key
}

/// Lists the moves possible in a state, in a fixed order: every running
/// actor's requests over its universe (with the context variants of each
/// action), then clock advances to the next moments the world changes by
/// itself (and by `tick`, if set).
#[derive(Debug, Clone)]
pub struct Mover {
    variants: BTreeMap<String, Vec<Map<String, Value>>>,
    tick: Option<i64>,
}

impl Mover {
    /// Prepares the context variants of a scenario's actions.
    pub fn new(machine: &Machine<'_>, tick: Option<i64>) -> Self {
        Self {
            variants: context_variants(machine),
            tick,
        }
    }

    /// Every move possible in a state.
    pub fn moves(&self, machine: &Machine<'_>, state: &State) -> Vec<Move> {
        let mut moves = Vec::new();
        let none = vec![Map::new()];
        for actor in 0..machine.actors.len() {
            if !machine.running(state, actor) {
                continue;
            }
            for (action, resource) in &machine.pairs[actor] {
                let variants = self.variants.get(&action.to_string()).unwrap_or(&none);
                for extra in variants {
                    moves.push(Move::Request {
                        actor,
                        action: action.clone(),
                        resource: resource.clone(),
                        extra: extra.clone(),
                    });
                }
            }
        }
        for time in machine.boundaries(state).into_iter().take(4) {
            moves.push(Move::Advance(time));
        }
        if let Some(next) = self.tick.and_then(|tick| state.time.checked_add(tick)) {
            moves.push(Move::Advance(next));
        }
        moves
    }
}

/// Plays one move on a state; returns whether the state changed and, for an
/// allowed request, its delegation-ceiling violation.
pub fn execute(machine: &Machine<'_>, state: &mut State, mv: &Move) -> (bool, Vec<Violation>) {
    match mv {
        Move::Advance(time) => {
            if *time <= state.time {
                return (false, Vec::new());
            }
            state.time = *time;
            (true, Vec::new())
        }
        Move::Request {
            actor,
            action,
            resource,
            extra,
        } => {
            let before = state.clone();
            let outcome = machine.act(state, *actor, action, resource, extra);
            let mut violations = Vec::new();
            if outcome.decision == "allow"
                && let Some(violation) = machine.ceiling(
                    &before,
                    *actor,
                    action,
                    resource,
                    extra,
                    &outcome.determining,
                )
            {
                violations.push(violation);
            }
            (!outcome.effects.is_empty(), violations)
        }
    }
}

/// The request that shows a state violation: the actor asking for the pair
/// (expected to be denied; allowed for an access assertion's missing resource).
pub fn witness(violation: &Violation) -> Move {
    Move::Request {
        actor: violation.actor,
        action: violation.action.clone(),
        resource: violation.resource.clone(),
        extra: Map::new(),
    }
}

/// Replays a trace from the initial state: the violations after its last move
/// (state invariants for the state reached, plus the last request's ceiling).
pub fn violations_at_end(machine: &Machine<'_>, trace: &[Move]) -> Vec<Violation> {
    let mut state = machine.initial();
    let mut last = Vec::new();
    for mv in trace {
        let (_, violations) = execute(machine, &mut state, mv);
        last = violations;
    }
    if let Ok(snapshot) = machine.snapshot(&state) {
        last.extend(machine.violations(&state, &snapshot));
    }
    last
}

/// Drops moves while the same violation still appears at the end.
fn minimize(machine: &Machine<'_>, found: Found) -> Found {
    let key = found.violation.key();
    let still = |trace: &[Move]| {
        violations_at_end(machine, trace)
            .iter()
            .any(|v| v.key() == key)
    };
    let mut trace = found.trace;
    // The witness (or the ceiling-breaking request) stays last.
    let Some(last) = trace.pop() else {
        return Found {
            violation: found.violation,
            trace,
        };
    };
    let with_last = |prefix: &[Move]| {
        let mut t = prefix.to_vec();
        t.push(last.clone());
        t
    };
    let mut index = 0;
    while index < trace.len() {
        let mut shorter = trace.clone();
        shorter.remove(index);
        let candidate = with_last(&shorter);
        let check: &[Move] = if found.violation.kind == "delegation-ceiling" {
            &candidate
        } else {
            &shorter
        };
        if still(check) {
            trace = shorter;
        } else {
            index += 1;
        }
    }
    Found {
        violation: found.violation,
        trace: with_last(&trace),
    }
}

/// Context entries the search tries with each action: for every context key an
/// effect of the action reads an entity from, each entity of the types that
/// key has in the scenario's steps (or every entity, if no step uses it); and
/// the step-specific entries scripted steps of the action use.
fn context_variants(machine: &Machine<'_>) -> BTreeMap<String, Vec<Map<String, Value>>> {
    let scenario = machine.scenario;
    let mut variants: BTreeMap<String, Vec<Map<String, Value>>> = BTreeMap::new();
    // Step-specific entries, as scripted.
    for step in &scenario.steps {
        let session = step.session.map(|i| &scenario.sessions[i]);
        let own = crate::scenario::session_context(
            &scenario.facts,
            step.at,
            session,
            &step.principal,
            &step.chain,
        );
        let Some(sent) = step.context.as_object() else {
            continue;
        };
        let extra: Map<String, Value> = sent
            .iter()
            .filter(|(key, value)| own.get(*key) != Some(*value))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let list = variants.entry(step.action.to_string()).or_default();
        if !list.contains(&extra) {
            list.push(extra);
        }
    }
    // Entity-valued keys that effects read.
    let mut key_types: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for step in &scenario.steps {
        if let Some(sent) = step.context.as_object() {
            for (key, value) in sent {
                if let Some(kind) = value
                    .get("__entity")
                    .and_then(|e| e.get("type"))
                    .and_then(Value::as_str)
                {
                    key_types
                        .entry(key.clone())
                        .or_default()
                        .insert(kind.to_string());
                }
            }
        }
    }
    for effect in &scenario.effects {
        let keys = context_keys(&effect.operation);
        if keys.is_empty() {
            continue;
        }
        let list = variants.entry(effect.action.to_string()).or_default();
        if list.is_empty() {
            list.push(Map::new());
        }
        for key in keys {
            let types = key_types.get(&key);
            let candidates: Vec<EntityUid> = scenario
                .world
                .base
                .keys()
                .filter_map(|k| k.parse::<EntityUid>().ok())
                .filter(|uid| {
                    types.map_or(uid.type_name().basename() != "Action", |t| {
                        t.contains(&uid.type_name().to_string())
                    })
                })
                .collect();
            let mut expanded = Vec::new();
            for base in list.iter() {
                for uid in &candidates {
                    let mut extra = base.clone();
                    extra.insert(key.clone(), crate::world::entity_value(uid));
                    if !expanded.contains(&extra) {
                        expanded.push(extra);
                    }
                }
            }
            expanded.truncate(64);
            *list = expanded;
        }
    }
    variants
}

/// The context keys an operation reads entities or values from.
fn context_keys(operation: &Operation) -> Vec<String> {
    let mut keys = Vec::new();
    let mut add = |operand: &Operand| {
        if let Operand::Context(key) = operand
            && !keys.contains(key)
        {
            keys.push(key.clone());
        }
    };
    match operation {
        Operation::AddParent { entity, parent } | Operation::RemoveParent { entity, parent } => {
            add(entity);
            add(parent);
        }
        Operation::SetAttr { entity, value, .. } => {
            add(entity);
            if let ValueSource::Of(operand) = value {
                add(operand);
            }
        }
        Operation::Grant {
            entity, parents, ..
        } => {
            add(entity);
            parents.iter().for_each(&mut add);
        }
        Operation::Revoke { entity, parent } => {
            add(entity);
            if let Some(parent) = parent {
                add(parent);
            }
        }
        Operation::StartSession(_) => {}
    }
    keys
}

/// A trace as the result model shows it: each move replayed from the initial
/// state, with its decision and effects.
pub fn trace_steps(machine: &Machine<'_>, trace: &[Move]) -> Vec<TraceStep> {
    let mut state = machine.initial();
    let mut steps = Vec::new();
    for mv in trace {
        match mv {
            Move::Advance(time) => {
                state.time = (*time).max(state.time);
                steps.push(TraceStep {
                    time: state.time.to_string(),
                    kind: "advance".to_string(),
                    session: None,
                    principal: None,
                    action: None,
                    resource: None,
                    context: None,
                    decision: None,
                    effects: Vec::new(),
                });
            }
            Move::Request {
                actor,
                action,
                resource,
                extra,
            } => {
                let time = state.time;
                let outcome = machine.act(&mut state, *actor, action, resource, extra);
                let a = &machine.actors[*actor];
                let mut effects = outcome.effects;
                effects.extend(outcome.error);
                steps.push(TraceStep {
                    time: time.to_string(),
                    kind: "request".to_string(),
                    session: a.session.map(|s| machine.scenario.sessions[s].id.clone()),
                    principal: Some(a.principal.to_string()),
                    action: Some(action.to_string()),
                    resource: Some(resource.to_string()),
                    context: (!extra.is_empty()).then(|| Value::Object(extra.clone())),
                    decision: Some(outcome.decision.to_string()),
                    effects,
                });
            }
        }
    }
    steps
}
