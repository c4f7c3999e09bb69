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
//! - `random`: seeded random walks of at most `depth` state-changing moves,
//!   each drawing its world-changing moves first among the requests some
//!   permit's scope admits in its state ([`InScope`]) and favouring those
//!   its last change of an entity may have enabled ([`Mover::focus`]);
//! - `novelty`: a pool of states whose held sets (the `Snapshot` of every
//!   actor) were new when reached; each round extends a pool state by a random
//!   move, so the search spreads towards new access rather than revisiting;
//! - random and novelty choose a move by [`Class`] first ([`CLASS_WEIGHTS`]:
//!   effect requests, session starts and clock moves before plain requests
//!   and context variants), then uniformly inside it;
//! - `exhaustive`: breadth-first over every move, with state hashing; when the
//!   budget lasts it proves that no state within `depth` state-changing moves
//!   breaks an invariant (other than the findings reported).
//!
//! Each violation is minimized (moves dropped while the same violation still
//! appears) and ends with a witness request: the one that must be denied.
//!
//! The move set is bounded (the earliest [`MAX_ADVANCES`] pending moments,
//! [`MAX_CONTEXT_VARIANTS`] context combinations per action), and some moves
//! cannot do what they would (an effect that cannot apply, a world the schema
//! rejects). Whatever was left out becomes a caveat of the summary
//! (`SearchSummary::caveats`), so a proof never claims more than the moves
//! tried.

pub mod corpus;
pub mod fuzz;
pub mod guided;
pub mod repro;
mod scope;
pub mod shards;

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant as Clock};

use cedar_policy::EntityUid;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, Value};

use crate::load::rules::{Operand, Operation, ValueSource};
use crate::world::state::{
    Machine, Outcome, Snapshot, State, StateKey, Unasked, Violation, action_runs,
};
use privsim_model::caveat::{
    ContextKeyValues, CutContext, EffectNotApplied, EffectsRejectedBy, SearchLimit,
    UnfillableAction, UnguidedKey, UnguidedReason, UnguidedWhy, UnsearchedRule, WorkersStopped,
};
use privsim_model::result::{Decision, MoveKind, SearchStrategy, SearchSummary, TraceStep};
use privsim_model::time::Instant;
pub use scope::InScope;
use scope::{PermitScope, ScopeCache};

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

    /// The strategy as the result contract names it.
    pub fn model(self) -> SearchStrategy {
        match self {
            Self::Random => SearchStrategy::Random,
            Self::Novelty => SearchStrategy::Novelty,
            Self::Exhaustive => SearchStrategy::Exhaustive,
        }
    }

    /// The strategy of the result contract's name.
    pub fn from_model(strategy: SearchStrategy) -> Self {
        match strategy {
            SearchStrategy::Random => Self::Random,
            SearchStrategy::Novelty => Self::Novelty,
            SearchStrategy::Exhaustive => Self::Exhaustive,
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
    /// Whether to try the context values the policies suggest
    /// ([`guided`]) besides the scripted ones (on by default; off only to
    /// compare).
    pub policy_contexts: bool,
    /// Workers searching at once ([`search_jobs`]): each takes its share of
    /// `max_steps` and a seed derived from `seed` (worker 0 keeps `seed`), so
    /// the result depends only on the seed, the budget and this number.
    pub jobs: usize,
    /// Set from outside (a signal handler) to stop the search; what was found
    /// so far is kept and the summary says it was interrupted.
    pub stop: Option<Arc<AtomicBool>>,
    /// `(index, count)`, 0-based: run only shard `index` of `count` of the
    /// campaign: the workers [`shard_workers`] gives it, of `jobs` in all.
    pub shard: Option<(usize, usize)>,
    /// Whether random and novelty choose a move class first ([`Class`],
    /// by [`CLASS_WEIGHTS`]) and then a move inside it (on by default; off,
    /// every move of a state is equally likely: only to compare).
    pub weighted: bool,
    /// Whether random walks and novelty favour the requests the last
    /// change may have enabled ([`Mover::focus`]; on by default; off only
    /// to compare).
    pub focus: bool,
    /// Whether random walks draw their world-changing moves first among
    /// the requests some permit's scope admits in the walk's state
    /// ([`InScope`], [`IN_SCOPE_WEIGHT`], [`WALK_CLASS_WEIGHTS`]), with
    /// their focus narrowed to those (on by default; off, the walk chooses
    /// by [`CLASS_WEIGHTS`] as novelty does: only to compare).
    pub in_scope: bool,
    /// At most this many distinct states are kept (the state table, and so
    /// novelty's pool and the breadth-first frontier), split among the
    /// workers as `max_steps` is: a worker that would keep one more stops
    /// there (the state reached is still checked), and the summary says so
    /// in a caveat. This bounds the search's memory.
    pub max_states: u64,
    /// At most this many bytes of [`Focus`] are kept in novelty's pool
    /// per worker ([`Focus::heap_bytes`]): past it, the oldest pooled
    /// states drop theirs, and one is computed again (from the state's
    /// trace) each time such a state is picked. The moves chosen are the
    /// same either way; this bounds the pool's memory by the budget and
    /// `max_states` rather than by `max_states` times the world's size.
    pub focus_memory: usize,
}

/// The default of [`Options::focus_memory`]: 64 MiB per worker.
pub const DEFAULT_FOCUS_MEMORY: usize = 64 << 20;

/// The default of [`Options::max_states`] (`--max-states`).
pub const DEFAULT_MAX_STATES: u64 = 100_000;

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
            policy_contexts: true,
            jobs: 1,
            stop: None,
            shard: None,
            weighted: true,
            focus: true,
            in_scope: true,
            max_states: DEFAULT_MAX_STATES,
            focus_memory: DEFAULT_FOCUS_MEMORY,
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
        /// Index into `Machine::actors`.
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

/// The deepest search the options may ask for: deeper traces cannot be
/// minimized or replayed in reasonable time, and asking for them is an error
/// rather than a search that silently stops short.
pub const MAX_DEPTH: usize = 10_000;

/// How far the search got, every so often.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Moves tried.
    pub moves: u64,
    /// Distinct states seen (with several workers, the sum of each one's:
    /// a state two workers reached counts twice).
    pub states: u64,
    /// Findings so far.
    pub findings: usize,
    /// The (actor, action, resource) triples held in some state reached.
    pub held: u64,
    /// Every actor's universe: the triples that could be held.
    pub universe: u64,
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
    /// The policies that decided some request of the search (coverage).
    pub decided: BTreeSet<String>,
    /// What novelty's pools kept of their states' focus (summed over the
    /// workers; zero for the other strategies).
    pub focus: FocusMemory,
}

/// What novelty's pool kept of its states' [`Focus`] (for memory figures).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FocusMemory {
    /// Pooled states whose focus was computed when they joined the pool.
    pub pooled: u64,
    /// The requests of those foci, in all.
    pub requests: u64,
    /// The heap bytes of those foci, in all ([`Focus::heap_bytes`]), as if
    /// every one had been kept.
    pub bytes: u64,
    /// The most bytes of focus the pool kept at once: at most
    /// [`Options::focus_memory`] plus the newest state's focus (which joins
    /// before the oldest drop theirs).
    pub peak_kept: u64,
    /// The bytes of the largest focus computed.
    pub largest: u64,
    /// Foci computed again because their state had dropped its own.
    pub recomputed: u64,
}

impl FocusMemory {
    fn absorb(&mut self, other: Self) {
        self.pooled += other.pooled;
        self.requests += other.requests;
        self.bytes += other.bytes;
        self.peak_kept += other.peak_kept;
        self.largest = self.largest.max(other.largest);
        self.recomputed += other.recomputed;
    }
}

/// Searches one scenario with one worker, on `machine`. `progress` is called
/// every 256 moves.
pub fn search(
    machine: &Machine<'_>,
    options: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Report {
    let options = &with_tick(machine, options);
    let live = Live::new(machine);
    let mover = Mover::with_guidance(machine, options.tick, options.policy_contexts);
    let (outcome, _) = work(machine, &mover, options, 0, 1, &live, None, progress);
    merge(machine, &mover, options, vec![outcome])
}

/// Searches one scenario with `options.jobs` workers, each on its own
/// machine (one thread each; with one job, on `machine` in this thread),
/// all made from `machine`'s shared part (`Machine::share`: the actors,
/// their universes and the held-set machinery are computed once) and
/// sharing one move list ([`Mover`]). The
/// workers' findings are merged in worker order, so the result depends on
/// the seed, the budget and the number of jobs only. `progress` is called
/// from this thread, about every 256 moves (one job) or 100 ms (several).
pub fn search_jobs(
    machine: &Machine<'_>,
    options: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Report {
    search_jobs_from(machine, options, None, progress).0
}

/// [`search_jobs`], continuing from where each worker stood
/// ([`corpus::WorkerCheckpoint`], one per job, from a [`corpus`] file) and
/// returning where each stands now. `options.max_steps` is the budget of
/// the whole campaign, the moves made before included, so a campaign
/// resumed to a budget finds what one run to that budget finds.
pub fn search_jobs_from(
    machine: &Machine<'_>,
    options: &Options,
    resume: Option<Vec<corpus::WorkerCheckpoint>>,
    progress: &mut dyn FnMut(Progress),
) -> (Report, Vec<corpus::WorkerCheckpoint>) {
    crate::progress::phase(
        crate::progress::Phase::Searching,
        usize::try_from(options.max_steps).unwrap_or(usize::MAX),
    );
    let progress = &mut |now: Progress| {
        crate::progress::done(now.moves);
        progress(now)
    };
    let jobs = options.jobs.max(1);
    let options = &with_tick(machine, options);
    let live = Live::new(machine);
    let mover = &Mover::with_guidance(machine, options.tick, options.policy_contexts);
    let workers = shard_workers(jobs, options.shard);
    let mut resume: Vec<Option<corpus::WorkerCheckpoint>> = match resume {
        Some(points) if points.len() == workers.len() => points.into_iter().map(Some).collect(),
        _ => workers.clone().map(|_| None).collect(),
    };
    let results: Vec<(WorkerOutcome, corpus::WorkerCheckpoint)> =
        if jobs == 1 && options.shard.is_none() {
            vec![work(
                machine,
                mover,
                options,
                0,
                1,
                &live,
                resume[0].take(),
                progress,
            )]
        } else {
            let shared = &machine.share();
            let first = workers.start;
            std::thread::scope(|scope| {
                let handles: Vec<_> = workers
                    .zip(resume)
                    .map(|(worker, point)| {
                        let live = &live;
                        scope.spawn(move || {
                            // This thread's machine sits idle while the
                            // workers search, so one worker may evaluate with
                            // its store and policies; the others copy them.
                            let machine = if worker == first {
                                shared.machine_on_originals()
                            } else {
                                shared.machine()
                            };
                            work(
                                &machine,
                                mover,
                                options,
                                worker,
                                jobs,
                                live,
                                point,
                                &mut |_| {},
                            )
                        })
                    })
                    .collect();
                while !handles.iter().all(|h| h.is_finished()) {
                    progress(live.progress());
                    std::thread::sleep(Duration::from_millis(100));
                }
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    })
                    .collect::<Vec<_>>()
            })
        };
    if jobs > 1 || options.shard.is_some() {
        progress(live.progress());
    }
    let (outcomes, points): (Vec<_>, Vec<_>) = results.into_iter().unzip();
    (merge(machine, mover, options, outcomes), points)
}

/// The workers a shard runs: shard `index` of `count` (0-based) takes a
/// contiguous run of the `jobs` workers, so the shards in order are the
/// workers in order; without a shard, all of them.
pub fn shard_workers(jobs: usize, shard: Option<(usize, usize)>) -> std::ops::Range<usize> {
    match shard {
        Some((index, count)) if count > 0 => index * jobs / count..(index + 1) * jobs / count,
        _ => 0..jobs,
    }
}

/// The options with the scenario's own `tick`, unless they set one.
fn with_tick(machine: &Machine<'_>, options: &Options) -> Options {
    Options {
        tick: options.tick.or(machine.scenario.tick),
        ..options.clone()
    }
}

/// Worker `worker` of `jobs`: its seed (worker 0 keeps the search's) and its
/// share of the move budget.
fn share(options: &Options, worker: usize, jobs: usize) -> Options {
    let jobs64 = jobs as u64;
    let worker64 = worker as u64;
    Options {
        seed: if worker == 0 {
            options.seed
        } else {
            splitmix(options.seed ^ worker64.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        },
        max_steps: options.max_steps / jobs64 + u64::from(worker64 < options.max_steps % jobs64),
        // Every worker keeps at least its initial state.
        max_states: (options.max_states / jobs64
            + u64::from(worker64 < options.max_states % jobs64))
        .max(1),
        ..options.clone()
    }
}

/// SplitMix64's finalizer: a well-mixed seed from a simple one.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Counters every worker adds to as it goes, for progress and statistics
/// (never for results: how far each worker got by a given moment depends on
/// the machine).
pub struct Live {
    moves: AtomicU64,
    states: AtomicU64,
    findings: AtomicU64,
    /// Per actor, which pairs of its universe some state held.
    held: Mutex<(u64, Vec<Vec<bool>>)>,
    universe: u64,
}

impl Live {
    fn new(machine: &Machine<'_>) -> Self {
        Self {
            moves: AtomicU64::new(0),
            states: AtomicU64::new(0),
            findings: AtomicU64::new(0),
            held: Mutex::new((
                0,
                machine.pairs.iter().map(|p| vec![false; p.len()]).collect(),
            )),
            universe: machine.pairs.iter().map(|p| p.len() as u64).sum(),
        }
    }

    fn progress(&self) -> Progress {
        Progress {
            moves: self.moves.load(Ordering::Relaxed),
            states: self.states.load(Ordering::Relaxed),
            findings: self.findings.load(Ordering::Relaxed) as usize,
            held: self.held.lock().map_or(0, |h| h.0),
            universe: self.universe,
        }
    }

    /// Notes the pairs a new state holds.
    fn hold(&self, snapshot: &crate::world::state::Snapshot) {
        let Ok(mut held) = self.held.lock() else {
            return;
        };
        let (count, flags) = &mut *held;
        for (actor, allowed) in snapshot.allowed.iter().enumerate() {
            let Some(row) = flags.get_mut(actor) else {
                continue;
            };
            for (flag, &now) in row.iter_mut().zip(allowed) {
                if now && !*flag {
                    *flag = true;
                    *count += 1;
                }
            }
        }
    }
}

/// A finding's identity ([`key_of`]).
type FindingKey = (String, String, String, String, String);

/// What one worker did.
struct WorkerOutcome {
    /// Findings (minimized if asked) with their keys.
    findings: Vec<(FindingKey, Found)>,
    moves: u64,
    states: HashSet<StateKey>,
    max_depth: usize,
    proven: Option<usize>,
    exhausted: bool,
    interrupted: bool,
    closed: bool,
    /// Whether the worker stopped at its share of `max_states`.
    capped: bool,
    left_out: LeftOut,
    evaluations: u64,
    decided: BTreeSet<String>,
    focus: FocusMemory,
}

/// Runs worker `worker` of `jobs` on its machine, from `resume` if given;
/// returns its outcome and where it stands now.
#[expect(
    clippy::too_many_arguments,
    reason = "a worker's machine, moves, budget, place, shared counters and progress"
)]
fn work(
    machine: &Machine<'_>,
    mover: &Mover,
    options: &Options,
    worker: usize,
    jobs: usize,
    live: &Live,
    resume: Option<corpus::WorkerCheckpoint>,
    progress: &mut dyn FnMut(Progress),
) -> (WorkerOutcome, corpus::WorkerCheckpoint) {
    let options = &share(options, worker, jobs);
    let mut run = Run::new(machine, mover, options, live);
    run.worker = (worker, jobs);
    let mut decided = BTreeSet::new();
    let position = match resume {
        Some(point) => {
            decided = point.decided.clone();
            run.restore(point)
        }
        None => corpus::Position::Fresh,
    };
    let position = match (options.strategy, position) {
        (_, corpus::Position::Done) => corpus::Position::Done,
        (Strategy::Random, position) => run.random(progress, position),
        (Strategy::Novelty, position) => run.novelty(progress, position),
        (Strategy::Exhaustive, position) => run.exhaustive(progress, position),
    };
    decided.extend(machine.decided());
    let checkpoint = corpus::WorkerCheckpoint {
        moves: run.moves,
        max_depth: run.max_depth,
        proven: run.proven,
        closed: run.closed,
        capped: run.capped,
        states: run.states.iter().map(|(k, v)| (k.clone(), v.0)).collect(),
        fingerprints: run.fingerprints.iter().copied().collect(),
        found: run.found.clone(),
        left_out: run.left_out.clone(),
        decided: decided.clone(),
        position,
    };
    let raw = std::mem::take(&mut run.found);
    let findings = raw
        .into_iter()
        .map(|found| {
            let key = key_of(machine, &found.violation);
            let found = if options.minimize {
                minimize(machine, found)
            } else {
                found
            };
            (key, found)
        })
        .collect();
    // The policies the minimization's requests saw decide count too, as
    // they do in a run that is not resumed.
    decided.extend(machine.decided());
    let outcome = WorkerOutcome {
        findings,
        moves: run.moves,
        states: run.states.into_keys().collect(),
        max_depth: run.max_depth,
        proven: run.proven,
        exhausted: run.exhausted,
        interrupted: run.interrupted,
        closed: run.closed,
        capped: run.capped,
        left_out: run.left_out,
        evaluations: machine.evaluations.get(),
        decided,
        focus: run.focus_memory,
    };
    (outcome, checkpoint)
}

/// Merges the workers' outcomes, in worker order: findings deduplicated
/// (the first worker's kept), states counted once, the proof the weakest
/// worker's (each explored its share of the first moves).
fn merge(
    machine: &Machine<'_>,
    mover: &Mover,
    options: &Options,
    outcomes: Vec<WorkerOutcome>,
) -> Report {
    let jobs = options.jobs.max(1);
    let mut keys = BTreeSet::new();
    let mut findings = Vec::new();
    let mut states: HashSet<StateKey> = HashSet::new();
    let mut left_out = LeftOut::default();
    let mut decided = BTreeSet::new();
    let (mut moves, mut evaluations, mut max_depth) = (0, 0, 0);
    let (mut exhausted, mut interrupted, mut closed) = (false, false, true);
    let mut proven = Some(usize::MAX);
    let mut capped = 0;
    let mut focus = FocusMemory::default();
    for outcome in outcomes {
        capped += usize::from(outcome.capped);
        focus.absorb(outcome.focus);
        for (key, found) in outcome.findings {
            if keys.insert(key) {
                findings.push(found);
            }
        }
        states.extend(outcome.states);
        left_out.absorb(outcome.left_out);
        decided.extend(outcome.decided);
        moves += outcome.moves;
        evaluations += outcome.evaluations;
        max_depth = max_depth.max(outcome.max_depth);
        exhausted |= outcome.exhausted;
        interrupted |= outcome.interrupted;
        closed &= outcome.closed;
        proven = match (proven, outcome.proven) {
            (Some(a), Some(b)) => Some(a.min(b)),
            _ => None,
        };
    }
    let mut summary = SearchSummary {
        strategy: options.strategy.model(),
        seed: options.seed,
        jobs,
        moves,
        states: states.len() as u64,
        max_depth,
        exhaustive_depth: proven.filter(|_| options.strategy == Strategy::Exhaustive),
        budget_exhausted: exhausted,
        interrupted,
        caveats: Vec::new(),
        limits: Vec::new(),
        shard: options
            .shard
            .map(|(index, count)| privsim_model::result::Shard {
                index: index + 1,
                count,
            }),
    };
    summary.set_limits(caveats(machine, options, mover, &left_out, closed, capped));
    Report {
        summary,
        findings,
        evaluations,
        decided,
        focus,
    }
}

/// The summary's limits: what the move set left out, one per kind, in a
/// fixed order (`SearchLimit::sentence` says each).
fn caveats(
    machine: &Machine<'_>,
    options: &Options,
    mover: &Mover,
    left_out: &LeftOut,
    closed: bool,
    capped: usize,
) -> Vec<SearchLimit> {
    let mut caveats = Vec::new();
    caveats.extend(state_cap_caveat(options, capped));
    // When the exhaustive search ran out of new states, every state
    // reachable at all was explored: a moment beyond the first few is
    // reached through the earlier ones, so leaving out the jump to it lost
    // no state.
    if !closed {
        caveats.extend(left_out.clock_caveat(options.tick));
    }
    caveats.extend(moment_caveat(machine, options.tick));
    caveats.extend(arithmetic_caveat(machine, options.tick));
    caveats.extend(principal_caveat(machine));
    caveats.extend(mover.context_caveats(machine));
    caveats.extend(left_out.effect_caveats(machine));
    caveats.extend(left_out.state_caveat());
    if let Some((index, count)) = options.shard {
        let workers = shard_workers(options.jobs.max(1), options.shard);
        caveats.push(SearchLimit::Shard {
            index: index + 1,
            count,
            first_worker: workers.start + 1,
            last_worker: workers.end,
            jobs: options.jobs.max(1),
        });
    }
    caveats
}

/// The limit for workers that stopped at their share of
/// [`Options::max_states`]: what was not explored, and that an exhaustive
/// depth covers only the levels completed before.
fn state_cap_caveat(options: &Options, capped: usize) -> Option<SearchLimit> {
    if capped == 0 {
        return None;
    }
    let jobs = options.jobs.max(1);
    let workers = shard_workers(jobs, options.shard).len();
    Some(SearchLimit::StateCap {
        max_states: options.max_states,
        workers: (jobs != 1).then_some(WorkersStopped {
            stopped: capped,
            of: workers,
        }),
    })
}

/// A state in novelty's pool: how it was reached, the world facts it
/// makes true ([`Machine::world_facts`]) and the requests its last change
/// may have enabled ([`Mover::focus`]); `None` when it was dropped to keep
/// the pool within [`Options::focus_memory`] (computed again when needed,
/// [`Run::pooled_focus`]).
struct Pooled {
    state: State,
    trace: Vec<Move>,
    facts: BTreeSet<String>,
    focus: Option<Focus>,
    /// The state's held sets, when kept ([`Held`]).
    held: Option<Rc<Held>>,
}

/// The foci novelty's pool keeps, within [`Options::focus_memory`].
#[derive(Default)]
struct FocusBudget {
    /// The heap bytes of the foci kept.
    kept: usize,
    /// Where to look for the next focus to drop: pool entries before it
    /// were looked at (the pool grows at its end, so older ones drop first).
    cursor: usize,
}

impl FocusBudget {
    /// Drops the foci of the oldest pool entries until those kept fit in
    /// `budget` bytes.
    fn fit(&mut self, pool: &mut [Pooled], budget: usize) {
        let mut looked = 0;
        while self.kept > budget && looked < pool.len() {
            if self.cursor >= pool.len() {
                self.cursor = 0;
            }
            if let Some(focus) = pool[self.cursor].focus.take() {
                self.kept -= focus.heap_bytes();
            }
            self.cursor += 1;
            looked += 1;
        }
    }

    /// A focus joins (or leaves) the pool.
    fn add(&mut self, focus: Option<&Focus>) {
        self.kept += focus.map_or(0, Focus::heap_bytes);
    }

    fn remove(&mut self, focus: Option<&Focus>) {
        self.kept -= focus.map_or(0, Focus::heap_bytes);
    }
}

/// A random walk's last change of an entity: what it affected
/// ([`Machine::affected_between`]) and the requests it may have enabled
/// among the actors running now ([`Mover::focus`]).
#[derive(Default)]
struct Walked {
    affected: HashSet<EntityUid>,
    focus: Focus,
    /// The requests in scope in the walk's state ([`Options::in_scope`]).
    scoped: Option<Rc<InScope>>,
}

/// The search in progress.
struct Run<'m, 's> {
    machine: &'m Machine<'s>,
    options: &'m Options,
    live: &'m Live,
    /// This worker and how many there are.
    worker: (usize, usize),
    started: Clock,
    moves: u64,
    exhausted: bool,
    /// Whether `options.stop` ended the search.
    interrupted: bool,
    max_depth: usize,
    proven: Option<usize>,
    /// State key → (snapshot fingerprint, violations in that state).
    states: HashMap<StateKey, (u64, Vec<Violation>)>,
    fingerprints: HashSet<u64>,
    found: Vec<Found>,
    /// The recorded violations' identities ([`Identity`]).
    keys: HashSet<Identity>,
    mover: &'m Mover,
    /// What the search met but could not try, for the summary's caveats.
    left_out: LeftOut,
    /// Whether the exhaustive search ran out of new states: its last level
    /// reached none it had not seen, so every reachable state was explored.
    closed: bool,
    /// Whether a new state met a full state table ([`Options::max_states`]):
    /// the worker stops.
    capped: bool,
    /// What novelty's pool kept of its foci.
    focus_memory: FocusMemory,
    /// The [`InScope`] of the stores a random walk met last.
    scopes: ScopeCache,
    /// The bytes of held sets kept for answering moves ([`Held`]).
    held_bytes: Rc<Cell<usize>>,
    /// The initial state's held sets, when kept.
    initial_held: Option<Rc<Held>>,
}

/// At most this many bytes of states' held sets are kept by a worker to
/// answer the moves made in those states ([`Held`]).
const HELD_BYTES: usize = 32 << 20;

/// A state's held sets, kept while the search may still make moves in the
/// state (an exhaustive search's frontier, novelty's pool, a random walk's
/// current state), to answer its requests made with the actor's own
/// context without Cedar ([`play_move`]). Within [`HELD_BYTES`] per
/// worker: a state reached when they are all in use keeps none, and its
/// moves ask Cedar.
struct Held {
    snapshot: Snapshot,
    bytes: usize,
    in_use: Rc<Cell<usize>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.in_use.set(self.in_use.get() - self.bytes);
    }
}

impl<'m, 's> Run<'m, 's> {
    fn new(
        machine: &'m Machine<'s>,
        mover: &'m Mover,
        options: &'m Options,
        live: &'m Live,
    ) -> Self {
        Self {
            machine,
            options,
            live,
            worker: (0, 1),
            started: Clock::now(),
            moves: 0,
            exhausted: false,
            interrupted: false,
            max_depth: 0,
            proven: None,
            states: HashMap::new(),
            fingerprints: HashSet::new(),
            found: Vec::new(),
            keys: HashSet::new(),
            mover,
            left_out: LeftOut::default(),
            closed: false,
            capped: false,
            focus_memory: FocusMemory::default(),
            scopes: ScopeCache::default(),
            held_bytes: Rc::new(Cell::new(0)),
            initial_held: None,
        }
    }

    /// Whether the budget is spent (and notes it).
    fn spent(&mut self) -> bool {
        if self.capped
            || self.moves >= self.options.max_steps
            || self
                .options
                .time
                .is_some_and(|t| self.started.elapsed() >= t)
        {
            self.exhausted = true;
        }
        if self
            .options
            .stop
            .as_ref()
            .is_some_and(|stop| stop.load(Ordering::Relaxed))
        {
            self.exhausted = true;
            self.interrupted = true;
        }
        self.exhausted
    }

    /// How many moves a state has (as [`Mover::moves_and_pending`] lists
    /// them), recording the pending clock moments left out.
    fn count(&mut self, state: &State) -> usize {
        let (count, pending) = self.mover.count_and_pending(self.machine, state);
        if pending > MAX_ADVANCES {
            self.left_out
                .clock(self.machine.state_key(state), pending, state.time);
        }
        count
    }

    /// Move `index` of a state with `count` moves.
    fn pick(&self, state: &State, index: usize) -> Move {
        self.mover
            .nth(self.machine, state, index)
            .unwrap_or(Move::Advance(state.time))
    }

    /// A move of a state with `count` moves, by weight
    /// ([`Mover::walk_move`], with the state's requests in scope if given)
    /// or, with `options.weighted` off, uniformly.
    fn choose(
        &self,
        state: &State,
        rng: &mut Xoshiro256PlusPlus,
        count: usize,
        focus: &Focus,
        in_scope: Option<&InScope>,
    ) -> Move {
        if self.options.weighted {
            self.mover
                .walk_move(self.machine, state, rng, focus, in_scope)
                .unwrap_or(Move::Advance(state.time))
        } else {
            self.pick(state, rng.random_range(0..count))
        }
    }

    /// Makes a move: the state changes in place; returns whether it changed
    /// and the violations to report (new ones only). `held` is the state's
    /// held sets, when kept; the new state's are returned when it is
    /// reached for the first time and there is room to keep them.
    /// Plays a move: whether it changed the state, the violations not yet
    /// recorded, the new state's held sets when kept, and its key when it
    /// changed.
    fn play(
        &mut self,
        state: &mut State,
        mv: &Move,
        held: Option<&Held>,
    ) -> (bool, Vec<Violation>, Option<Rc<Held>>, Option<StateKey>) {
        self.moves += 1;
        self.live.moves.fetch_add(1, Ordering::Relaxed);
        // A request's violations recorded already would be dropped.
        let known =
            |violation: &Violation| self.keys.contains(&Identity::of(self.machine, violation));
        let (changed, mut violations, outcome) = play_move(
            self.machine,
            state,
            mv,
            held.map(|held| &held.snapshot),
            &known,
        );
        if let (Some(outcome), Move::Request { action, .. }) = (&outcome, mv) {
            self.left_out.effects(action, outcome);
        }
        let mut kept = None;
        let mut reached = None;
        if changed {
            let key = self.machine.state_key(state);
            let entry = match self.states.get(&key) {
                Some(entry) => entry.clone(),
                None => {
                    self.live.states.fetch_add(1, Ordering::Relaxed);
                    let entry = match self.machine.snapshot(state) {
                        Ok(snapshot) => {
                            self.live.hold(&snapshot);
                            // Those recorded already would be dropped.
                            let found =
                                self.machine
                                    .violations_besides(state, &snapshot, &|violation| {
                                        self.keys.contains(&Identity::of(self.machine, violation))
                                    });
                            let fingerprint = snapshot.fingerprint();
                            kept = self.keep(snapshot);
                            (fingerprint, found)
                        }
                        Err(message) => {
                            self.left_out.unbuildable(state.time, message);
                            (0, Vec::new())
                        }
                    };
                    // Violations are recorded the first time a state is
                    // reached and never again (they are in `keys`), so the
                    // table keeps only the fingerprint.
                    if self.states.len() as u64 >= self.options.max_states {
                        // Full: the state is checked but not kept, and the
                        // worker stops (`spent`).
                        self.capped = true;
                    } else {
                        self.states.insert(key.clone(), (entry.0, Vec::new()));
                    }
                    entry
                }
            };
            violations.extend(entry.1);
            reached = Some(key);
        }
        violations.retain(|v| !self.keys.contains(&Identity::of(self.machine, v)));
        (changed, violations, kept, reached)
    }

    /// A state's held sets, kept if there is room ([`Held`]).
    fn keep(&self, snapshot: Snapshot) -> Option<Rc<Held>> {
        let bytes = size_of::<Snapshot>()
            + snapshot
                .allowed
                .iter()
                .map(|flags| size_of::<Vec<bool>>() + flags.capacity())
                .sum::<usize>();
        let in_use = self.held_bytes.get() + bytes;
        if in_use > HELD_BYTES {
            return None;
        }
        self.held_bytes.set(in_use);
        Some(Rc::new(Held {
            snapshot,
            bytes,
            in_use: Rc::clone(&self.held_bytes),
        }))
    }

    /// Records violations reached by `trace` (the moves so far, ending with
    /// the one just played).
    fn record(&mut self, trace: &[Move], violations: Vec<Violation>) {
        for violation in violations {
            if !self.keys.insert(Identity::of(self.machine, &violation)) {
                continue;
            }
            let mut trace = trace.to_vec();
            if !violation.on_request {
                trace.push(witness(&violation));
            }
            self.live.findings.fetch_add(1, Ordering::Relaxed);
            self.found.push(Found { violation, trace });
        }
    }

    fn initial(&mut self) -> State {
        let state = self.machine.initial();
        let key = self.machine.state_key(&state);
        if !self.states.contains_key(&key) {
            self.live.states.fetch_add(1, Ordering::Relaxed);
            let entry = match self.machine.snapshot(&state) {
                Ok(snapshot) => {
                    self.live.hold(&snapshot);
                    let entry = (
                        snapshot.fingerprint(),
                        self.machine.violations(&state, &snapshot),
                    );
                    self.initial_held = self.keep(snapshot);
                    entry
                }
                Err(message) => {
                    self.left_out.unbuildable(state.time, message);
                    (0, Vec::new())
                }
            };
            self.fingerprints.insert(entry.0);
            self.states.insert(key, entry.clone());
            self.record(&[], entry.1);
        }
        state
    }

    fn report(&self, progress: &mut dyn FnMut(Progress)) {
        if self.moves.is_multiple_of(256) {
            progress(self.live.progress());
        }
    }

    /// Takes up a checkpoint: the counters, states, findings and tallies
    /// as they were; returns where the strategy stood.
    fn restore(&mut self, point: corpus::WorkerCheckpoint) -> corpus::Position {
        self.moves = point.moves;
        self.max_depth = point.max_depth;
        self.proven = point.proven;
        self.closed = point.closed;
        self.capped = point.capped;
        // Every violation of a state seen was recorded when the state was
        // first reached (and is in `keys`), so a state seen again adds none.
        self.states = point
            .states
            .into_iter()
            .map(|(key, fingerprint)| (key, (fingerprint, Vec::new())))
            .collect();
        self.fingerprints = point.fingerprints.into_iter().collect();
        self.keys = point
            .found
            .iter()
            .map(|found| Identity::of(self.machine, &found.violation))
            .collect();
        self.found = point.found;
        self.left_out = point.left_out;
        self.live.moves.fetch_add(self.moves, Ordering::Relaxed);
        self.live
            .states
            .fetch_add(self.states.len() as u64, Ordering::Relaxed);
        self.live
            .findings
            .fetch_add(self.found.len() as u64, Ordering::Relaxed);
        point.position
    }

    /// The state a trace of state-changing moves reaches from the initial
    /// one (moves are deterministic, so this is the state it reached).
    fn rebuild(&self, trace: &[Move]) -> State {
        let mut state = self.machine.initial();
        for mv in trace {
            execute(self.machine, &mut state, mv);
        }
        state
    }

    /// A random walk's state and focus after `trace`, as the walk had
    /// them (a resumed campaign).
    fn rebuild_walk(&mut self, trace: &[Move]) -> (State, Walked) {
        let mut state = self.machine.initial();
        let mut walked = Walked {
            scoped: self.scope_of(&state),
            ..Walked::default()
        };
        for mv in trace {
            let before = self.options.focus.then(|| state.clone());
            execute(self.machine, &mut state, mv);
            walked.scoped = self.scope_of(&state);
            if let Some(before) = before {
                self.refocus(&before, &state, &mut walked);
            }
        }
        (state, walked)
    }

    /// The requests in scope in a random walk's state ([`InScope`]), when
    /// the walk draws among them ([`Options::in_scope`], weighted moves);
    /// `None` otherwise, or when the state's store cannot be built (then no
    /// request of the state is allowed).
    fn scope_of(&mut self, state: &State) -> Option<Rc<InScope>> {
        if !(self.options.in_scope && self.options.weighted) {
            return None;
        }
        let store = self.machine.store(state, None).ok()?;
        let (mover, machine) = (self.mover, self.machine);
        Some(
            self.scopes
                .get(&store, |entities| mover.in_scope(machine, entities)),
        )
    }

    /// A walk's focus after a change from `before` to `after`: the requests
    /// that may have been enabled by the walk's last change of some entity
    /// (this one, or an earlier one when only the clock moved), among the
    /// actors running in `after`.
    fn refocus(&self, before: &State, after: &State, walked: &mut Walked) {
        let affected = self.machine.affected_between(before, after);
        if !affected.is_empty() {
            walked.affected = affected;
        }
        if !walked.affected.is_empty() {
            walked.focus = match &walked.scoped {
                Some(scoped) => {
                    self.mover
                        .focus_where(self.machine, after, &walked.affected, |actor, pair| {
                            scoped.contains(actor, pair)
                        })
                }
                None => self.mover.focus(self.machine, after, &walked.affected),
            };
        }
    }

    fn random(
        &mut self,
        progress: &mut dyn FnMut(Progress),
        from: corpus::Position,
    ) -> corpus::Position {
        let (mut rng, mut walk) = match from {
            corpus::Position::Random { rng, walk } => (rng, walk),
            _ => (Xoshiro256PlusPlus::seed_from_u64(self.options.seed), None),
        };
        let initial = self.initial();
        loop {
            // The walk's focus: the world-changing requests its last change
            // of an entity may have enabled ([`Mover::focus`]); a change of
            // the clock alone keeps it.
            let (mut state, mut trace, mut idle, mut walked, mut held) = match walk.take() {
                Some((trace, idle)) => {
                    let (state, walked) = self.rebuild_walk(&trace);
                    (state, trace, idle, walked, None)
                }
                None => {
                    if self.spent() {
                        return corpus::Position::Random { rng, walk: None };
                    }
                    if self.options.depth == 0 {
                        return corpus::Position::Done;
                    }
                    let walked = Walked {
                        scoped: self.scope_of(&initial),
                        ..Walked::default()
                    };
                    (
                        initial.clone(),
                        Vec::new(),
                        0,
                        walked,
                        self.initial_held.clone(),
                    )
                }
            };
            // The state before the walk's next change: a move that changes
            // nothing leaves the state as it was, so it is copied once per
            // change rather than before every move.
            let mut before = self.options.focus.then(|| state.clone());
            // A walk ends after `depth` state changes or as many idle moves as
            // a state has, whichever comes first.
            while trace.len() < self.options.depth {
                if self.spent() {
                    return corpus::Position::Random {
                        rng,
                        walk: Some((trace, idle)),
                    };
                }
                let count = self.count(&state);
                if count == 0 && trace.is_empty() {
                    // Nothing can move in the initial world: nothing to search.
                    return corpus::Position::Done;
                }
                if count == 0 || idle > count {
                    break;
                }
                let mv = self.choose(
                    &state,
                    &mut rng,
                    count,
                    &walked.focus,
                    walked.scoped.as_deref(),
                );
                let (changed, violations, kept, _) = self.play(&mut state, &mv, held.as_deref());
                self.report(progress);
                let mut reached = trace.clone();
                reached.push(mv.clone());
                self.record(&reached, violations);
                if changed {
                    held = kept;
                    walked.scoped = self.scope_of(&state);
                    if let Some(before) = &mut before {
                        self.refocus(before, &state, &mut walked);
                        before.clone_from(&state);
                    }
                    trace.push(mv);
                    self.max_depth = self.max_depth.max(trace.len());
                    idle = 0;
                } else {
                    idle += 1;
                }
            }
        }
    }

    fn novelty(
        &mut self,
        progress: &mut dyn FnMut(Progress),
        from: corpus::Position,
    ) -> corpus::Position {
        let initial = self.initial();
        let mut budget = FocusBudget::default();
        let (mut rng, mut pool, mut seen) = match from {
            corpus::Position::Novelty {
                rng,
                pool: traces,
                seen,
            } => {
                // Kept within the budget as it is rebuilt, as it was when
                // the campaign stopped.
                let mut pool: Vec<Pooled> = Vec::with_capacity(traces.len());
                for trace in traces {
                    let pooled = self.pooled_from(trace);
                    budget.add(pooled.focus.as_ref());
                    pool.push(pooled);
                    budget.fit(&mut pool, self.options.focus_memory);
                }
                (rng, pool, seen.into_iter().collect::<HashSet<StateKey>>())
            }
            _ => {
                let mut seen = HashSet::new();
                seen.insert(self.machine.state_key(&initial));
                (
                    Xoshiro256PlusPlus::seed_from_u64(self.options.seed),
                    vec![Pooled {
                        facts: self.machine.world_facts(&initial),
                        state: initial,
                        trace: Vec::new(),
                        focus: Some(Focus::default()),
                        held: self.initial_held.clone(),
                    }],
                    seen,
                )
            }
        };
        // Every world fact a pool state made true (the union over the pool:
        // a state is pooled whenever it adds one).
        let mut facts: HashSet<String> = pool.iter().flat_map(|p| p.facts.clone()).collect();
        self.note_kept(&budget);
        loop {
            if self.spent() {
                return corpus::Position::Novelty {
                    rng,
                    pool: pool.into_iter().map(|p| p.trace).collect(),
                    seen: seen.into_iter().collect(),
                };
            }
            // Newer pool entries (newer held sets) are tried more often.
            let pick = if rng.random_bool(0.5) {
                pool.len() - 1 - rng.random_range(0..pool.len().min(4))
            } else {
                rng.random_range(0..pool.len())
            };
            let mut state = pool[pick].state.clone();
            let count = self.count(&state);
            if count == 0 {
                if pool.len() == 1 {
                    return corpus::Position::Done;
                }
                budget.remove(pool.swap_remove(pick).focus.as_ref());
                continue;
            }
            let mv = match &pool[pick].focus {
                Some(focus) => self.choose(&state, &mut rng, count, focus, None),
                None => {
                    let focus = self.pooled_focus(&pool[pick].state, &pool[pick].trace);
                    self.choose(&state, &mut rng, count, &focus, None)
                }
            };
            let held = pool[pick].held.as_deref();
            let (_, violations, kept, key) = self.play(&mut state, &mv, held);
            self.report(progress);
            let mut reached = pool[pick].trace.clone();
            reached.push(mv);
            self.record(&reached, violations);
            let Some(key) = key.filter(|_| reached.len() <= self.options.depth) else {
                continue;
            };
            if !seen.insert(key.clone()) {
                continue;
            }
            self.max_depth = self.max_depth.max(reached.len());
            let fingerprint = self.states.get(&key).map_or(0, |e| e.0);
            // New held sets join the pool, and so do new worlds: a state
            // that makes a world fact true that no pooled state made (an
            // attribute that only a later request reads changes no held
            // set yet). A known one joins only while the pool is small, so
            // time-only changes still get explored.
            let state_facts = self.machine.world_facts(&state);
            let new_facts = state_facts.iter().any(|f| !facts.contains(f));
            let new_held = self.fingerprints.insert(fingerprint);
            if new_held || new_facts || pool.len() < 16 {
                facts.extend(state_facts.iter().cloned());
                let focus = if self.options.focus {
                    let affected = self.machine.affected_between(&pool[pick].state, &state);
                    self.mover.focus(self.machine, &state, &affected)
                } else {
                    Focus::default()
                };
                self.focus_memory.pooled += 1;
                self.focus_memory.requests += focus.requests() as u64;
                self.focus_memory.bytes += focus.heap_bytes() as u64;
                self.focus_memory.largest =
                    self.focus_memory.largest.max(focus.heap_bytes() as u64);
                budget.add(Some(&focus));
                pool.push(Pooled {
                    state,
                    trace: reached,
                    facts: state_facts,
                    focus: Some(focus),
                    held: kept,
                });
                self.note_kept(&budget);
                budget.fit(&mut pool, self.options.focus_memory);
            }
        }
    }

    /// Notes the bytes of focus the pool keeps now, for the peak.
    fn note_kept(&mut self, budget: &FocusBudget) {
        self.focus_memory.peak_kept = self.focus_memory.peak_kept.max(budget.kept as u64);
    }

    /// The focus of a pooled state that dropped its own: computed again
    /// against the state one move before (moves are deterministic, so the
    /// trace less its last move reaches the state the move was made in),
    /// exactly as it was when the state joined the pool.
    fn pooled_focus(&mut self, state: &State, trace: &[Move]) -> Focus {
        self.focus_memory.recomputed += 1;
        match trace.split_last() {
            Some((_, before)) if self.options.focus => {
                let parent = self.rebuild(before);
                let affected = self.machine.affected_between(&parent, state);
                self.mover.focus(self.machine, state, &affected)
            }
            _ => Focus::default(),
        }
    }

    /// A pool entry rebuilt from its trace (a resumed campaign): the state,
    /// its world facts, and its focus against the state one move before.
    fn pooled_from(&mut self, trace: Vec<Move>) -> Pooled {
        let state = self.rebuild(&trace);
        let focus = self.pooled_focus(&state, &trace);
        self.focus_memory.recomputed -= 1;
        Pooled {
            facts: self.machine.world_facts(&state),
            state,
            trace,
            focus: Some(focus),
            held: None,
        }
    }

    /// Breadth-first: level `n` plays every move of every state reached with
    /// `n - 1` state changes. After level `k + 1`, every state within `k`
    /// changes and every request made in one was checked: that is the proof.
    fn exhaustive(
        &mut self,
        progress: &mut dyn FnMut(Progress),
        from: corpus::Position,
    ) -> corpus::Position {
        let initial = self.initial();
        let (first_level, mut frontier, mut resumed_next, mut visited, mut at) = match from {
            corpus::Position::Exhaustive {
                level,
                frontier,
                next,
                grew,
                visited,
                at,
            } => {
                let frontier: Vec<Reached> = frontier
                    .into_iter()
                    .map(|trace| (self.rebuild(&trace), trace, None))
                    .collect();
                let next: Vec<Reached> = next
                    .into_iter()
                    .map(|trace| (self.rebuild(&trace), trace, None))
                    .collect();
                (
                    level,
                    frontier,
                    Some((next, grew)),
                    visited.into_iter().collect::<HashSet<StateKey>>(),
                    at,
                )
            }
            _ => {
                let mut visited = HashSet::new();
                visited.insert(self.machine.state_key(&initial));
                let held = self.initial_held.clone();
                (1, vec![(initial, Vec::new(), held)], None, visited, (0, 0))
            }
        };
        for level in first_level..=self.options.depth.saturating_add(1) {
            // Whether a move of this level reached a state not seen before
            // (on the last level, such states are checked but not extended).
            let (mut next, mut grew) = resumed_next.take().unwrap_or_default();
            let (worker, jobs) = self.worker;
            let (skip_entries, skip_moves) = std::mem::take(&mut at);
            for entry in skip_entries..frontier.len() {
                // Made one at a time as they are played.
                let (machine, mover) = (self.machine, self.mover);
                let moves = mover.iter(machine, &frontier[entry].0);
                if moves.pending > MAX_ADVANCES {
                    self.left_out.clock(
                        machine.state_key(&frontier[entry].0),
                        moves.pending,
                        frontier[entry].0.time,
                    );
                }
                let first = if entry == skip_entries { skip_moves } else { 0 };
                for (index, mv) in moves.enumerate().skip(first) {
                    // With several workers, each takes its share of the
                    // first moves and everything below them.
                    if level == 1 && index % jobs != worker {
                        continue;
                    }
                    if self.spent() {
                        return corpus::Position::Exhaustive {
                            level,
                            frontier: frontier.into_iter().map(|(_, trace, _)| trace).collect(),
                            next: next.into_iter().map(|(_, trace, _)| trace).collect(),
                            grew,
                            visited: visited.into_iter().collect(),
                            at: (entry, index),
                        };
                    }
                    let (state, trace, held) = &frontier[entry];
                    let mut after = state.clone();
                    let mut reached = trace.clone();
                    let (_, violations, kept, key) = self.play(&mut after, &mv, held.as_deref());
                    self.report(progress);
                    reached.push(mv);
                    self.record(&reached, violations);
                    let Some(key) = key else {
                        continue;
                    };
                    if visited.contains(&key) {
                        continue;
                    }
                    grew = true;
                    if level <= self.options.depth {
                        visited.insert(key);
                        self.max_depth = self.max_depth.max(level);
                        next.push((after, reached, kept));
                    }
                }
            }
            self.proven = Some(level - 1);
            frontier = next;
            if frontier.is_empty() {
                // Nothing new is reachable: every reachable state was checked.
                self.proven = Some(self.options.depth);
                // When no move reached a new state at all, the search closed:
                // every state reachable at any depth was explored.
                self.closed = !grew;
                return corpus::Position::Done;
            }
        }
        corpus::Position::Done
    }
}

/// A state an exhaustive search reached, the moves that reached it, and its
/// held sets when kept.
type Reached = (State, Vec<Move>, Option<Rc<Held>>);

/// What [`key_of`] writes out, to look up: the same violations are equal
/// (the parts are the key's, and its texts are unambiguous: uids as Cedar
/// writes them, the rest in `Debug` form), without writing any text.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Identity {
    kind: privsim_model::result::FindingKind,
    principal: EntityUid,
    action: EntityUid,
    delegator: Option<EntityUid>,
    grant: Option<String>,
    rule: Option<usize>,
    missing: bool,
}

impl Identity {
    fn of(machine: &Machine<'_>, violation: &Violation) -> Self {
        Self {
            kind: violation.kind,
            principal: machine.actors[violation.actor].principal.clone(),
            action: violation.action.clone(),
            delegator: violation.delegator.clone(),
            grant: violation.grant.clone(),
            rule: violation.rule,
            missing: violation.missing,
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

/// At most this many clock advances to the world's own moments are tried
/// from a state: the earliest ones.
pub const MAX_ADVANCES: usize = 4;

/// At most this many combinations of context values are tried per action.
pub const MAX_CONTEXT_VARIANTS: usize = 64;

/// The classes of moves random and novelty choose between first
/// ([`CLASS_WEIGHTS`]), so a state's many requests that change nothing do not
/// drown the few that change the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Requests some `[[effect]]` applies to when allowed (other than
    /// starting a session): they can change the world.
    Effect,
    /// Requests whose effects start a dormant session.
    Start,
    /// Other requests, with their action's first context variant.
    Plain,
    /// Other requests, with their action's other context variants.
    Variant,
    /// Clock advances.
    Clock,
}

impl Class {
    /// Every class, in the order of [`CLASS_WEIGHTS`].
    pub const ALL: [Class; 5] = [
        Class::Effect,
        Class::Start,
        Class::Plain,
        Class::Variant,
        Class::Clock,
    ];
}

/// The weight of each class ([`Class::ALL`]'s order): a class is chosen with
/// probability its weight ÷ the sum of the weights of the classes the state
/// has moves in, then a move inside it uniformly. World-changing moves get
/// most; plain requests and context variants stay reachable (they find
/// violations on the request itself).
pub const CLASS_WEIGHTS: [u32; 5] = [4, 2, 1, 1, 2];

/// The weight of a novelty pool state's [`Focus`], as one more class beside
/// [`CLASS_WEIGHTS`]: as likely as the effect class.
pub const FOCUS_WEIGHT: u32 = 4;

/// The class weights of a random walk's moves ([`Class::ALL`]'s order) when
/// it draws among the requests in scope ([`Options::in_scope`]): the effect
/// and session-start classes, where the policies deny nearly every request,
/// drop to the weight of a plain request, and the requests in scope take
/// their place ([`IN_SCOPE_WEIGHT`]); every move stays reachable.
pub const WALK_CLASS_WEIGHTS: [u32; 5] = [1, 1, 1, 1, 2];

/// The weight of a random walk's class of world-changing requests some
/// permit's scope admits in its state ([`InScope`]), beside
/// [`WALK_CLASS_WEIGHTS`] and the walk's focus ([`FOCUS_WEIGHT`]).
pub const IN_SCOPE_WEIGHT: u32 = 4;

/// The world-changing requests a state's last change may have enabled
/// ([`Mover::focus`]), grouped by action. Each group lists its requests
/// `(actor, pair, variant)` as runs of consecutive variants of one pair
/// (`FocusRun`), 16 bytes a run rather than 24 bytes a request: a pair
/// whose principal, chain or resource the change affected is one run of
/// all its variants.
#[derive(Debug, Clone, Default)]
pub struct Focus {
    by_action: Vec<Box<[FocusRun]>>,
}

/// Requests `(actor, pair, first..first + n)` of a [`Focus`] group, where
/// `n` is `end` less the previous run's `end` (0 for the first run): `end`
/// counts the group's requests up to this run's last, so the `i`-th
/// request of a group is found by a binary search on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FocusRun {
    actor: u32,
    pair: u32,
    first: u32,
    end: u32,
}

impl Focus {
    /// The bytes the focus keeps on the heap (its groups and their runs).
    pub fn heap_bytes(&self) -> usize {
        self.by_action.capacity() * std::mem::size_of::<Box<[FocusRun]>>()
            + self
                .by_action
                .iter()
                .map(|runs| runs.len() * std::mem::size_of::<FocusRun>())
                .sum::<usize>()
    }

    /// How many requests the focus lists.
    pub fn requests(&self) -> usize {
        self.by_action
            .iter()
            .map(|runs| runs.last().map_or(0, |run| run.end as usize))
            .sum()
    }

    /// The `index`-th request `(actor, pair, variant)` of group `group`.
    fn nth(&self, group: usize, index: usize) -> Option<(usize, usize, usize)> {
        let runs = self.by_action.get(group)?;
        let at = runs.partition_point(|run| (run.end as usize) <= index);
        let run = runs.get(at)?;
        let start = if at == 0 {
            0
        } else {
            runs[at - 1].end as usize
        };
        Some((
            run.actor as usize,
            run.pair as usize,
            run.first as usize + (index - start),
        ))
    }
}

/// Appends request `(actor, pair, variant)` to a focus group's runs,
/// extending the last run when it is the next variant of the same pair.
/// `false` (nothing appended) when an index or the group's count does not
/// fit 32 bits, which a world that fits in memory does not reach.
fn push_focus(runs: &mut Vec<FocusRun>, actor: usize, pair: usize, variant: usize) -> bool {
    let (Ok(actor), Ok(pair), Ok(variant)) = (
        u32::try_from(actor),
        u32::try_from(pair),
        u32::try_from(variant),
    ) else {
        return false;
    };
    let before = runs.last().map_or(0, |run| run.end);
    let Some(end) = before.checked_add(1) else {
        return false;
    };
    // Where the last run starts: the run before it ends there.
    let last_start = runs.len().checked_sub(2).map_or(0, |at| runs[at].end);
    match runs.last_mut() {
        Some(last)
            if last.actor == actor
                && last.pair == pair
                && last.first.checked_add(last.end - last_start) == Some(variant) =>
        {
            last.end = end;
        }
        _ => runs.push(FocusRun {
            actor,
            pair,
            first: variant,
            end,
        }),
    }
    true
}

/// One class's moves of an actor: runs `(pair, first variant, how many)`
/// and the sum of their lengths.
type ClassRuns = (usize, Vec<(usize, usize, usize)>);

/// An actor's request moves, one [`ClassRuns`] per request class.
type RequestClasses = [ClassRuns; 4];

/// An actor's request moves by class (the first four of [`Class::ALL`]):
/// runs `(pair, first variant, how many)` and their sums. A pair some effect
/// applies to goes whole to [`Class::Start`] (if one of its effects starts a
/// session) or [`Class::Effect`]; another pair's first variant is
/// [`Class::Plain`] and the rest [`Class::Variant`]. `per_pair` is the
/// number of context variants of each pair's action ([`Mover`]'s counts).
fn request_classes(machine: &Machine<'_>, actor: usize, per_pair: &[usize]) -> RequestClasses {
    let mut classes: RequestClasses = Default::default();
    let principal = &machine.actors[actor].principal;
    let pairs = &machine.pairs[actor];
    for (action, run) in action_runs(pairs) {
        // The effect rules of this action that may apply to this actor.
        let rules: Vec<_> = machine
            .scenario
            .effects
            .iter()
            .filter(|rule| {
                &rule.action == action && rule.principal.as_ref().is_none_or(|p| p == principal)
            })
            .collect();
        for pair in run {
            let count = per_pair[pair];
            if count == 0 {
                continue;
            }
            let resource = &pairs[pair].1;
            let mut effect = false;
            let mut start = false;
            for rule in rules
                .iter()
                .filter(|rule| rule.resource.as_ref().is_none_or(|r| r == resource))
            {
                effect = true;
                start |= matches!(rule.operation, Operation::StartSession(_));
            }
            let mut push = |class: usize, first: usize, n: usize| {
                classes[class].0 += n;
                classes[class].1.push((pair, first, n));
            };
            if start {
                push(1, 0, count);
            } else if effect {
                push(0, 0, count);
            } else {
                push(2, 0, 1);
                if count > 1 {
                    push(3, 1, count - 1);
                }
            }
        }
    }
    classes
}

/// A universe's request moves: their number, and how many each pair makes.
type Counts = (usize, Arc<Vec<usize>>);

/// An action's context variants: the extra context of each of its moves.
type ContextVariants = Vec<Map<String, Value>>;

/// A state's moves one at a time ([`Mover::iter`]).
pub struct Moves<'a> {
    mover: &'a Mover,
    /// Each actor's universe.
    pairs: Vec<&'a [(EntityUid, EntityUid)]>,
    /// The running actors, in order.
    running: Vec<usize>,
    /// Where the next request move is: an index into `running`, the pair,
    /// the variant.
    actor: usize,
    pair: usize,
    variant: usize,
    /// The current pair's action and its context variants (`None`: the
    /// action has none, one move with no extra context).
    variants: Option<(&'a EntityUid, Option<&'a ContextVariants>)>,
    /// The clock moves, after every request.
    advances: std::vec::IntoIter<Instant>,
    /// How many moments the world changes at were pending (only the first
    /// [`MAX_ADVANCES`] are moves).
    pub pending: usize,
}

impl Iterator for Moves<'_> {
    type Item = Move;

    fn next(&mut self) -> Option<Move> {
        loop {
            let Some(&actor) = self.running.get(self.actor) else {
                return self.advances.next().map(Move::Advance);
            };
            let Some((action, resource)) = self.pairs[actor].get(self.pair) else {
                self.actor += 1;
                self.pair = 0;
                self.variant = 0;
                continue;
            };
            // Pairs come in runs of one action: its variants are looked up
            // once a run.
            let variants = match self.variants {
                Some((known, variants)) if known == action => variants,
                _ => {
                    let variants = self.mover.variants.get(&action.to_string());
                    self.variants = Some((action, variants));
                    variants
                }
            };
            let count = variants.map_or(1, Vec::len);
            if self.variant >= count {
                self.pair += 1;
                self.variant = 0;
                continue;
            }
            let extra = variants.map_or_else(Map::new, |v| v[self.variant].clone());
            self.variant += 1;
            return Some(Move::Request {
                actor,
                action: action.clone(),
                resource: resource.clone(),
                extra,
            });
        }
    }
}

/// Lists the moves possible in a state, in a fixed order: every running
/// actor's requests over its universe (with the context variants of each
/// action), then clock advances to the next moments the world changes by
/// itself (and by `tick`, if set).
#[derive(Debug, Clone)]
pub struct Mover {
    variants: BTreeMap<String, Vec<Map<String, Value>>>,
    /// Per actor: how many request moves each pair of its universe makes
    /// (its action's context variants), and their sum, so a move can be
    /// picked by index without listing them all.
    counts: Vec<Counts>,
    /// Per actor, per request class ([`Class::REQUESTS`], in that order):
    /// the class's moves as runs `(pair, first variant, how many)`, and
    /// their sum.
    classes: Vec<RequestClasses>,
    /// Actions with more combinations of context values than were kept.
    cut: Vec<CutVariants>,
    /// Actions left with no context variant at all (so never requested),
    /// with the context key no entity could fill.
    unfillable: Vec<(String, String, Vec<String>)>,
    /// Context keys the policies read whose values were not all derived.
    unguided: BTreeMap<String, BTreeSet<guided::Unguided>>,
    tick: Option<i64>,
    /// The scopes of the policies' permits ([`InScope`]).
    permits: Vec<PermitScope>,
}

impl Mover {
    /// Prepares the context variants of a scenario's actions, with the
    /// values the policies suggest ([`guided`]).
    pub fn new(machine: &Machine<'_>, tick: Option<i64>) -> Self {
        Self::with_guidance(machine, tick, true)
    }

    /// [`Mover::new`], with or without the values the policies suggest.
    pub fn with_guidance(machine: &Machine<'_>, tick: Option<i64>, policy_contexts: bool) -> Self {
        let mut variants = context_variants(machine);
        let unguided = if policy_contexts {
            guide_variants(machine, &mut variants)
        } else {
            BTreeMap::new()
        };
        // Looked up once per action, not once per pair: writing an entity
        // reference out costs more than hashing it, and an organization's
        // universes name a few actions hundreds of thousands of times.
        let per_action: HashMap<&EntityUid, usize> = action_names(machine)
            .into_iter()
            .map(|(action, name)| (action, variants.by_action.get(&name).map_or(1, Vec::len)))
            .collect();
        // Counted once per universe (actors of one type share theirs).
        let counts: Vec<Counts> = crate::world::per_universe(&machine.pairs, |pairs| {
            let mut per_pair = Vec::with_capacity(pairs.len());
            for (action, run) in action_runs(pairs) {
                let count = per_action.get(action).copied().unwrap_or(1);
                per_pair.extend(std::iter::repeat_n(count, run.len()));
            }
            (per_pair.iter().sum(), Arc::new(per_pair))
        });
        let classes = (0..machine.actors.len())
            .map(|actor| request_classes(machine, actor, &counts[actor].1))
            .collect();
        Self {
            counts,
            classes,
            variants: variants.by_action,
            cut: variants.cut,
            unfillable: variants.unfillable,
            unguided,
            tick,
            permits: scope::permit_scopes(&machine.scenario.policies.set),
        }
    }

    /// The world-changing requests ([`Class::Effect`] and [`Class::Start`])
    /// of every actor, running or not, whose pair some permit's scope admits
    /// in `entities` (a state's store): the others are denied there
    /// whatever their context.
    pub fn in_scope(&self, machine: &Machine<'_>, entities: &cedar_policy::Entities) -> InScope {
        let per_actor = (0..machine.actors.len())
            .map(|actor| {
                let principal = &machine.actors[actor].principal;
                let mut runs: Vec<(usize, usize, usize)> = self.classes[actor][..2]
                    .iter()
                    .flat_map(|(_, runs)| runs.iter().copied())
                    .filter(|&(pair, _, _)| {
                        let (action, resource) = &machine.pairs[actor][pair];
                        scope::admitted(&self.permits, principal, action, resource, entities)
                    })
                    .collect();
                runs.sort_unstable();
                (runs.iter().map(|&(_, _, count)| count).sum(), runs)
            })
            .collect();
        InScope { per_actor }
    }

    /// Every move possible in a state.
    pub fn moves(&self, machine: &Machine<'_>, state: &State) -> Vec<Move> {
        self.moves_and_pending(machine, state).0
    }

    /// Every move possible in a state, and how many moments the world
    /// changes at were pending (only the first [`MAX_ADVANCES`] are moves).
    pub fn moves_and_pending(&self, machine: &Machine<'_>, state: &State) -> (Vec<Move>, usize) {
        let moves = self.iter(machine, state);
        let pending = moves.pending;
        (moves.collect(), pending)
    }

    /// A state's moves one at a time, in [`Mover`]'s order, with how many
    /// moments were pending: a search that goes through a state's moves in
    /// order (the exhaustive one) makes each move as it plays it, not the
    /// whole list first, and none past its budget.
    pub fn iter<'a>(&'a self, machine: &'a Machine<'_>, state: &State) -> Moves<'a> {
        let running = (0..machine.actors.len())
            .filter(|&actor| machine.running(state, actor))
            .collect();
        let boundaries = machine.boundaries(state);
        let pending = boundaries.len();
        let mut advances: Vec<Instant> = boundaries.into_iter().take(MAX_ADVANCES).collect();
        advances.extend(self.tick.and_then(|tick| state.time.checked_add(tick)));
        Moves {
            mover: self,
            pairs: machine.pairs.iter().map(|pairs| &pairs[..]).collect(),
            running,
            actor: 0,
            pair: 0,
            variant: 0,
            variants: None,
            advances: advances.into_iter(),
            pending,
        }
    }

    /// How many moves [`Mover::moves_and_pending`] lists in a state, and how
    /// many moments were pending, without listing them.
    pub fn count_and_pending(&self, machine: &Machine<'_>, state: &State) -> (usize, usize) {
        let requests: usize = (0..machine.actors.len())
            .filter(|&actor| machine.running(state, actor))
            .map(|actor| self.counts[actor].0)
            .sum();
        let boundaries = machine.boundaries(state);
        let pending = boundaries.len();
        let tick = self
            .tick
            .and_then(|tick| state.time.checked_add(tick))
            .is_some();
        (
            requests + pending.min(MAX_ADVANCES) + usize::from(tick),
            pending,
        )
    }

    /// How many moves of each [`Class`] a state has (indexed as
    /// [`Class::ALL`]); they add up to [`Mover::count_and_pending`]'s count.
    pub fn class_counts(&self, machine: &Machine<'_>, state: &State) -> [usize; 5] {
        let mut counts = [0; 5];
        for actor in 0..machine.actors.len() {
            if !machine.running(state, actor) {
                continue;
            }
            for (class, (total, _)) in self.classes[actor].iter().enumerate() {
                counts[class] += total;
            }
        }
        let boundaries = machine.boundaries(state).len().min(MAX_ADVANCES);
        let tick = self
            .tick
            .and_then(|tick| state.time.checked_add(tick))
            .is_some();
        counts[4] = boundaries + usize::from(tick);
        counts
    }

    /// A move chosen by weight: a class among those with moves, by
    /// [`CLASS_WEIGHTS`], then a move inside it, uniformly; two draws from
    /// `rng`, so the choice depends only on the RNG's state. `None` when
    /// the state has no move.
    pub fn weighted(
        &self,
        machine: &Machine<'_>,
        state: &State,
        rng: &mut Xoshiro256PlusPlus,
    ) -> Option<Move> {
        self.weighted_or_focus(machine, state, rng, &Focus::default())
    }

    /// [`Mover::weighted`] with a state's [`Focus`] as one more class of
    /// weight [`FOCUS_WEIGHT`] (when it has moves): a focus move is an
    /// action among the focus's, uniformly, then one of its moves. With an
    /// empty focus, the same draws as [`Mover::weighted`].
    pub fn weighted_or_focus(
        &self,
        machine: &Machine<'_>,
        state: &State,
        rng: &mut Xoshiro256PlusPlus,
        focus: &Focus,
    ) -> Option<Move> {
        self.draw_move(machine, state, rng, focus, CLASS_WEIGHTS, None)
    }

    /// A move of the focus: an action among the focus's uniformly, then one
    /// of its requests uniformly (novelty's and a walk's focus class).
    fn focus_move(
        &self,
        machine: &Machine<'_>,
        rng: &mut Xoshiro256PlusPlus,
        focus: &Focus,
    ) -> Option<Move> {
        let group = rng.random_range(0..focus.by_action.len());
        let count = focus.by_action[group]
            .last()
            .map_or(0, |run| run.end as usize);
        let (actor, pair, variant) = focus.nth(group, rng.random_range(0..count))?;
        Some(self.request(machine, actor, pair, variant))
    }

    /// A random walk's move: with `in_scope` (the state's [`InScope`]), a
    /// class among [`WALK_CLASS_WEIGHTS`]' (those with moves), the requests
    /// in scope among the running actors ([`IN_SCOPE_WEIGHT`]) and the
    /// focus ([`FOCUS_WEIGHT`]), by weight, then a move inside it
    /// uniformly (the focus: an action, then a request); without it, the
    /// same draws as [`Mover::weighted_or_focus`].
    pub fn walk_move(
        &self,
        machine: &Machine<'_>,
        state: &State,
        rng: &mut Xoshiro256PlusPlus,
        focus: &Focus,
        in_scope: Option<&InScope>,
    ) -> Option<Move> {
        match in_scope {
            None => self.weighted_or_focus(machine, state, rng, focus),
            Some(in_scope) => self.draw_move(
                machine,
                state,
                rng,
                focus,
                WALK_CLASS_WEIGHTS,
                Some(in_scope),
            ),
        }
    }

    /// One weighted draw: a class among `class_weights`' (those with
    /// moves), the requests in scope among the running actors
    /// ([`IN_SCOPE_WEIGHT`], only with `in_scope`) and the focus
    /// ([`FOCUS_WEIGHT`], when it has moves), then a move inside it
    /// uniformly. Without `in_scope` nothing is drawn for the scope, so the
    /// draws are exactly those of the class and focus weights alone.
    fn draw_move(
        &self,
        machine: &Machine<'_>,
        state: &State,
        rng: &mut Xoshiro256PlusPlus,
        focus: &Focus,
        class_weights: [u32; 5],
        in_scope: Option<&InScope>,
    ) -> Option<Move> {
        let counts = self.class_counts(machine, state);
        let weights: [u32; 5] =
            std::array::from_fn(|c| if counts[c] > 0 { class_weights[c] } else { 0 });
        let running: Vec<usize> = match in_scope {
            Some(_) => (0..machine.actors.len())
                .filter(|&actor| machine.running(state, actor))
                .collect(),
            None => Vec::new(),
        };
        let scoped: usize = in_scope.map_or(0, |in_scope| {
            running
                .iter()
                .map(|&actor| in_scope.per_actor.get(actor).map_or(0, |(n, _)| *n))
                .sum()
        });
        let scoped_weight = if scoped > 0 { IN_SCOPE_WEIGHT } else { 0 };
        let focus_weight = if focus.by_action.is_empty() {
            0
        } else {
            FOCUS_WEIGHT
        };
        let total: u32 = weights.iter().sum::<u32>() + scoped_weight + focus_weight;
        if total == 0 {
            return None;
        }
        let mut draw = rng.random_range(0..total);
        if draw < focus_weight {
            return self.focus_move(machine, rng, focus);
        }
        draw -= focus_weight;
        if let Some(in_scope) = in_scope.filter(|_| draw < scoped_weight) {
            let index = rng.random_range(0..scoped);
            return self.nth_in_runs(
                machine,
                running.iter().copied(),
                |actor| in_scope.per_actor.get(actor),
                index,
            );
        }
        draw -= scoped_weight;
        let mut class = 0;
        for (c, &weight) in weights.iter().enumerate() {
            if draw < weight {
                class = c;
                break;
            }
            draw -= weight;
        }
        let index = rng.random_range(0..counts[class]);
        self.nth_of(machine, state, class, index)
    }

    /// Move `index` of class `class` ([`Class::ALL`]'s order) in a state.
    fn nth_of(
        &self,
        machine: &Machine<'_>,
        state: &State,
        class: usize,
        index: usize,
    ) -> Option<Move> {
        if class == 4 {
            let mut times: Vec<Instant> = machine
                .boundaries(state)
                .into_iter()
                .take(MAX_ADVANCES)
                .collect();
            times.extend(self.tick.and_then(|tick| state.time.checked_add(tick)));
            return times.get(index).map(|&time| Move::Advance(time));
        }
        let running = (0..machine.actors.len()).filter(|&actor| machine.running(state, actor));
        self.nth_in_runs(
            machine,
            running,
            |actor| Some(&self.classes[actor][class]),
            index,
        )
    }

    /// The `index`-th request in the runs of `actors` (in that order; an
    /// actor without runs has none), or `None` past the last.
    fn nth_in_runs<'r>(
        &self,
        machine: &Machine<'_>,
        actors: impl IntoIterator<Item = usize>,
        runs_of: impl Fn(usize) -> Option<&'r ClassRuns>,
        mut index: usize,
    ) -> Option<Move> {
        for actor in actors {
            let Some((total, runs)) = runs_of(actor) else {
                continue;
            };
            if index >= *total {
                index -= total;
                continue;
            }
            for &(pair, first, count) in runs {
                if index >= count {
                    index -= count;
                    continue;
                }
                return Some(self.request(machine, actor, pair, first + index));
            }
        }
        None
    }

    /// The request of `actor` on its `pair` with the action's context
    /// variant `variant` (no extra context when the action has none).
    fn request(&self, machine: &Machine<'_>, actor: usize, pair: usize, variant: usize) -> Move {
        let (action, resource) = &machine.pairs[actor][pair];
        let extra = self
            .variants
            .get(&action.to_string())
            .map(|variants| variants[variant].clone())
            .unwrap_or_default();
        Move::Request {
            actor,
            action: action.clone(),
            resource: resource.clone(),
            extra,
        }
    }

    /// The move at `index` of [`Mover::moves`]' list, found without listing
    /// the others; `None` past the end.
    pub fn nth(&self, machine: &Machine<'_>, state: &State, mut index: usize) -> Option<Move> {
        for actor in 0..machine.actors.len() {
            if !machine.running(state, actor) {
                continue;
            }
            let (total, per_pair) = &self.counts[actor];
            if index >= *total {
                index -= total;
                continue;
            }
            for (pair, &count) in per_pair.iter().enumerate() {
                if index >= count {
                    index -= count;
                    continue;
                }
                return Some(self.request(machine, actor, pair, index));
            }
        }
        let mut times: Vec<Instant> = machine
            .boundaries(state)
            .into_iter()
            .take(MAX_ADVANCES)
            .collect();
        times.extend(self.tick.and_then(|tick| state.time.checked_add(tick)));
        times.get(index).map(|&time| Move::Advance(time))
    }

    /// The world-changing requests of `state` ([`Class::Effect`] and
    /// [`Class::Start`]) that involve an entity of `affected`: the actor's
    /// principal or chain, the resource, or an entity of the context
    /// variant. A request that involves none of them reads, in `state`,
    /// exactly what it read before the change that made `affected`
    /// (`world::rows`), so it decides as it did there; these are the
    /// requests the change may have enabled.
    pub fn focus(
        &self,
        machine: &Machine<'_>,
        state: &State,
        affected: &HashSet<EntityUid>,
    ) -> Focus {
        self.focus_where(machine, state, affected, |_, _| true)
    }

    /// [`Mover::focus`], keeping only the pairs `(actor, pair)` that `keep`
    /// admits (a random walk's: those in scope, [`InScope`]).
    pub fn focus_where(
        &self,
        machine: &Machine<'_>,
        state: &State,
        affected: &HashSet<EntityUid>,
        keep: impl Fn(usize, usize) -> bool,
    ) -> Focus {
        if affected.is_empty() {
            return Focus::default();
        }
        let mut by_action: BTreeMap<String, Vec<FocusRun>> = BTreeMap::new();
        // Per action, the variants that name an affected entity.
        let mut touching: HashMap<String, Vec<usize>> = HashMap::new();
        for actor in 0..machine.actors.len() {
            if !machine.running(state, actor) {
                continue;
            }
            let who = &machine.actors[actor];
            let whole =
                affected.contains(&who.principal) || who.chain.iter().any(|u| affected.contains(u));
            for class in [0, 1] {
                for &(pair, first, count) in &self.classes[actor][class].1 {
                    if !keep(actor, pair) {
                        continue;
                    }
                    let (action, resource) = &machine.pairs[actor][pair];
                    let name = action.to_string();
                    let variants: Vec<usize> = if whole || affected.contains(resource) {
                        (first..first + count).collect()
                    } else {
                        touching
                            .entry(name.clone())
                            .or_insert_with(|| self.variants_naming(&name, affected))
                            .iter()
                            .copied()
                            .filter(|v| (first..first + count).contains(v))
                            .collect()
                    };
                    if !variants.is_empty() {
                        let runs = by_action.entry(name).or_default();
                        for variant in variants {
                            push_focus(runs, actor, pair, variant);
                        }
                    }
                }
            }
        }
        Focus {
            by_action: by_action.into_values().map(Vec::into_boxed_slice).collect(),
        }
    }

    /// The context variants of an action that name an entity of `affected`.
    fn variants_naming(&self, action: &str, affected: &HashSet<EntityUid>) -> Vec<usize> {
        let Some(variants) = self.variants.get(action) else {
            return Vec::new();
        };
        variants
            .iter()
            .enumerate()
            .filter(|(_, extra)| {
                let mut named = Vec::new();
                crate::held::collect_uids(&Value::Object((*extra).clone()), &mut named);
                named.iter().any(|u| affected.contains(u))
            })
            .map(|(index, _)| index)
            .collect()
    }

    /// Caveats for the context variants left out, for actions some actor
    /// requests: combinations beyond [`MAX_CONTEXT_VARIANTS`], and actions
    /// never requested because no entity could fill a context key.
    fn context_caveats(&self, machine: &Machine<'_>) -> Vec<SearchLimit> {
        let requested: BTreeSet<String> = action_names(machine).into_values().collect();
        let mut caveats = Vec::new();
        let cut: Vec<CutContext> = self
            .cut
            .iter()
            .filter(|c| requested.contains(&c.action))
            .map(|c| CutContext {
                action: c.action.clone(),
                tried: c.tried,
                combinations: c.combinations,
                keys: c
                    .keys
                    .iter()
                    .map(|(key, values)| ContextKeyValues {
                        key: key.clone(),
                        values: *values,
                    })
                    .collect(),
                scripted: c.scripted,
            })
            .collect();
        if !cut.is_empty() {
            caveats.push(SearchLimit::ContextCombinations {
                per_request: MAX_CONTEXT_VARIANTS,
                actions: cut,
            });
        }
        let unfillable: Vec<UnfillableAction> = self
            .unfillable
            .iter()
            .filter(|(action, _, _)| requested.contains(action))
            .map(|(action, key, types)| UnfillableAction {
                action: action.clone(),
                key: key.clone(),
                types: types.clone(),
            })
            .collect();
        caveats.extend(unguided_caveat(&self.unguided));
        if !unfillable.is_empty() {
            caveats.push(SearchLimit::UnfillableContext {
                actions: unfillable,
            });
        }
        caveats
    }
}

/// An action whose combinations of context values were cut to
/// [`MAX_CONTEXT_VARIANTS`].
#[derive(Debug, Clone)]
struct CutVariants {
    action: String,
    /// How many combinations were tried.
    tried: usize,
    /// How many there are.
    combinations: u128,
    /// The context keys and how many values each takes.
    keys: Vec<(String, usize)>,
    /// How many distinct scripted contexts the combinations start from.
    scripted: usize,
}

/// What the search met in states it played but could not try, tallied by
/// kind so the caveats stay a few sentences however long it ran.
#[derive(Debug, Default, Clone)]
struct LeftOut {
    /// States (by key) with more pending moments than [`MAX_ADVANCES`].
    clock_states: HashSet<StateKey>,
    /// The most moments pending in one state, and that state's time (the
    /// first state reached with that many).
    clock_most: Option<(usize, Instant)>,
    /// Effects (index into `Scenario::effects`) of allowed requests that
    /// could not apply: how often, and why the first time.
    not_applied: BTreeMap<usize, (u64, String)>,
    /// Allowed requests whose effects made an invalid world, by action: how
    /// often, and why the first time.
    rejected: BTreeMap<String, (u64, String)>,
    /// States whose world could not be built: how many, and the first one's
    /// time and why.
    unbuildable: (u64, Option<(Instant, String)>),
}

impl LeftOut {
    /// Adds a later worker's tallies: counts add up, the first message
    /// (in worker order) is kept.
    fn absorb(&mut self, other: LeftOut) {
        self.clock_states.extend(other.clock_states);
        if let Some((most, at)) = other.clock_most
            && self.clock_most.is_none_or(|(mine, _)| most > mine)
        {
            self.clock_most = Some((most, at));
        }
        for (effect, (count, message)) in other.not_applied {
            self.not_applied.entry(effect).or_insert((0, message)).0 += count;
        }
        for (action, (count, message)) in other.rejected {
            self.rejected.entry(action).or_insert((0, message)).0 += count;
        }
        self.unbuildable.0 += other.unbuildable.0;
        if self.unbuildable.1.is_none() {
            self.unbuildable.1 = other.unbuildable.1;
        }
    }

    fn clock(&mut self, key: StateKey, pending: usize, time: Instant) {
        self.clock_states.insert(key);
        if self.clock_most.is_none_or(|(most, _)| pending > most) {
            self.clock_most = Some((pending, time));
        }
    }

    fn effects(&mut self, action: &EntityUid, outcome: &Outcome) {
        for (effect, message) in &outcome.not_applied {
            self.not_applied
                .entry(*effect)
                .or_insert_with(|| (0, message.clone()))
                .0 += 1;
        }
        if outcome.decision == Decision::Allow
            && let Some(message) = &outcome.error
        {
            self.rejected
                .entry(action.to_string())
                .or_insert_with(|| (0, message.clone()))
                .0 += 1;
        }
    }

    fn unbuildable(&mut self, time: Instant, message: String) {
        self.unbuildable.0 += 1;
        self.unbuildable.1.get_or_insert((time, message));
    }

    fn clock_caveat(&self, tick: Option<i64>) -> Option<SearchLimit> {
        let (most, at) = self.clock_most?;
        Some(SearchLimit::ClockMoves {
            states: self.clock_states.len(),
            most,
            at,
            tried: MAX_ADVANCES,
            tick: tick.is_some(),
        })
    }

    fn effect_caveats(&self, machine: &Machine<'_>) -> Vec<SearchLimit> {
        let mut caveats = Vec::new();
        let effects = &machine.scenario.effects;
        let failed: Vec<EffectNotApplied> = self
            .not_applied
            .iter()
            .filter_map(|(index, (count, message))| {
                let effect = effects.get(*index)?;
                Some(EffectNotApplied {
                    effect: index + 1,
                    line: effect.line,
                    action: effect.action.to_string(),
                    count: *count,
                    reason: first_line(message),
                })
            })
            .collect();
        if !failed.is_empty() {
            caveats.push(SearchLimit::EffectsNotApplied { effects: failed });
        }
        if !self.rejected.is_empty() {
            let actions: Vec<EffectsRejectedBy> = self
                .rejected
                .iter()
                .map(|(action, (count, message))| {
                    let why = message
                        .strip_prefix("the world after this step's effects is invalid: ")
                        .unwrap_or(message);
                    EffectsRejectedBy {
                        action: action.clone(),
                        count: *count,
                        reason: first_line(why),
                    }
                })
                .collect();
            caveats.push(SearchLimit::EffectsRejected { actions });
        }
        caveats
    }

    fn state_caveat(&self) -> Option<SearchLimit> {
        let (count, Some((time, message))) = &self.unbuildable else {
            return None;
        };
        Some(SearchLimit::UncheckedStates {
            states: *count,
            first_at: *time,
            reason: first_line(message),
        })
    }
}

/// The limit for `datetime("...")` literals that are not moments the clock
/// can move to.
fn moment_caveat(machine: &Machine<'_>, tick: Option<i64>) -> Option<SearchLimit> {
    if machine.unread_moments.is_empty() {
        return None;
    }
    Some(SearchLimit::UnreadMoments {
        literals: machine
            .unread_moments
            .iter()
            .map(|literal| first_line(literal))
            .collect(),
        tick: tick.is_some(),
    })
}

/// The limit for time arithmetic in the policies: moments it computes
/// from times no literal, attribute or context value names are not derived.
fn arithmetic_caveat(machine: &Machine<'_>, tick: Option<i64>) -> Option<SearchLimit> {
    if machine.arithmetic.is_empty() {
        return None;
    }
    Some(SearchLimit::TimeArithmetic {
        methods: machine.arithmetic.iter().cloned().collect(),
        tick: tick.is_some(),
    })
}

/// The limit for `[[never]]` type patterns matching more entities than
/// become actors.
fn principal_caveat(machine: &Machine<'_>) -> Option<SearchLimit> {
    if machine.unsearched_principals.is_empty() {
        return None;
    }
    Some(SearchLimit::Principals {
        per_rule: crate::world::state::MAX_PATTERN_ACTORS,
        rules: machine
            .unsearched_principals
            .iter()
            .map(|(line, more)| UnsearchedRule {
                line: *line,
                more: *more,
            })
            .collect(),
    })
}

/// The first line of a message, at most 200 characters (schema errors can
/// run long).
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

/// Plays one move on a state; returns whether the state changed and, for an
/// allowed request, its delegation-ceiling violation.
pub fn execute(machine: &Machine<'_>, state: &mut State, mv: &Move) -> (bool, Vec<Violation>) {
    let (changed, violations, _) = play_move(machine, state, mv, None, &|_| false);
    (changed, violations)
}

/// [`execute`], also returning what a request asked of Cedar did. With
/// `held`, the state's held sets ([`Machine::snapshot`]), a request made
/// with the actor's own context is answered from them instead when it is
/// denied, or allowed with no effect to apply. A request
/// that no policy's scope admits is not asked of Cedar either
/// ([`Machine::admits_none`]). Violations `known` says are known are left
/// out, and not checked when they are all that could be found.
fn play_move(
    machine: &Machine<'_>,
    state: &mut State,
    mv: &Move,
    held: Option<&Snapshot>,
    known: &dyn Fn(&Violation) -> bool,
) -> (bool, Vec<Violation>, Option<Outcome>) {
    match mv {
        Move::Advance(time) => {
            if *time <= state.time {
                return (false, Vec::new(), None);
            }
            state.time = *time;
            (true, Vec::new(), None)
        }
        Move::Request {
            actor,
            action,
            resource,
            extra,
        } => {
            if extra.is_empty()
                && let Some(allowed) =
                    held.and_then(|held| machine.held_answer(held, *actor, action, resource))
                && (!allowed || !machine.has_effects(*actor, action, resource))
            {
                // Denied: nothing to check. Allowed: the checks below, with
                // the determining policies asked of Cedar only when one
                // reports a violation (no effect applies, so asking applies
                // nothing). Nothing to note: the held sets noted the policies
                // deciding the request when they were computed.
                let violations = if allowed {
                    allowed_violations(
                        machine,
                        (state, held, known),
                        *actor,
                        action,
                        resource,
                        extra,
                        || {
                            machine.count_unasked(Unasked::HeldViolation);
                            machine
                                .act(&mut state.clone(), *actor, action, resource, extra)
                                .determining
                        },
                    )
                } else {
                    Vec::new()
                };
                return (false, violations, None);
            }
            if machine.admits_none(state, *actor, action, resource) {
                // Not allowed, whatever the context, and nothing decided it.
                return (false, Vec::new(), None);
            }
            let before = state.clone();
            let outcome = machine.act(state, *actor, action, resource, extra);
            let violations = if outcome.decision == Decision::Allow {
                allowed_violations(
                    machine,
                    (&before, held, known),
                    *actor,
                    action,
                    resource,
                    extra,
                    || outcome.determining.clone(),
                )
            } else {
                Vec::new()
            };
            (!outcome.effects.is_empty(), violations, Some(outcome))
        }
    }
}

/// Whether a violation is known already (a search's recorded identities).
type Known<'k> = &'k dyn Fn(&Violation) -> bool;

/// The violations of an allowed request, made in `before` (the state before
/// its effects): a `never` rule it breaks, the delegation ceiling; each
/// with the request's determining policies, which `determining` gives and
/// is asked for only when there is a violation. Those `known` marks are left
/// out (the ceiling is not checked when every delegator's is known).
fn allowed_violations(
    machine: &Machine<'_>,
    (before, held, known): (&State, Option<&Snapshot>, Known<'_>),
    actor: usize,
    action: &EntityUid,
    resource: &EntityUid,
    extra: &Map<String, Value>,
    determining: impl FnOnce() -> Vec<String>,
) -> Vec<Violation> {
    let mut violations = machine.never_on_request(actor, action, resource, &[], known);
    violations.extend(machine.ceiling((before, held), actor, action, resource, extra, &[], known));
    if !violations.is_empty() {
        let determining = determining();
        for violation in &mut violations {
            violation.determining.clone_from(&determining);
        }
    }
    violations
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
        let check: &[Move] = if found.violation.on_request {
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

/// The context variants of a scenario's actions, and what was left out.
struct Variants {
    by_action: BTreeMap<String, Vec<Map<String, Value>>>,
    cut: Vec<CutVariants>,
    unfillable: Vec<(String, String, Vec<String>)>,
}

/// How the combinations of one action's context values come about: the
/// contexts the expansion started from and each key's number of values.
struct Combinations {
    origin: Vec<Map<String, Value>>,
    keys: Vec<(String, usize)>,
}

impl Combinations {
    /// The distinct starting contexts without the keys.
    fn starts(&self) -> usize {
        let mut rest: Vec<Map<String, Value>> = Vec::new();
        for base in &self.origin {
            let mut base = base.clone();
            for (key, _) in &self.keys {
                base.remove(key);
            }
            if !rest.contains(&base) {
                rest.push(base);
            }
        }
        rest.len()
    }

    /// How many distinct combinations there are: each distinct starting
    /// context without the keys, times every key's values.
    fn count(&self) -> u128 {
        self.keys
            .iter()
            .fold(self.starts() as u128, |n, (_, values)| {
                n.saturating_mul(*values as u128)
            })
    }
}

/// Context entries the search tries with each action: for every context key an
/// effect of the action reads an entity from, each entity of the types that
/// key has in the scenario's steps (or every entity, if no step uses it); and
/// the step-specific entries scripted steps of the action use. At most
/// [`MAX_CONTEXT_VARIANTS`] per action; the actions cut, and those no entity
/// could give a context key, are returned too.
fn context_variants(machine: &Machine<'_>) -> Variants {
    let scenario = machine.scenario;
    let mut variants: BTreeMap<String, Vec<Map<String, Value>>> = BTreeMap::new();
    // Step-specific entries, as scripted.
    for step in &scenario.steps {
        let session = step.session.map(|i| &scenario.sessions[i]);
        let own = crate::load::session_context(
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
    let mut combinations: BTreeMap<String, Combinations> = BTreeMap::new();
    let mut empty_keys: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for effect in &scenario.effects {
        let keys = context_keys(&effect.operation);
        if keys.is_empty() {
            continue;
        }
        let action = effect.action.to_string();
        let list = variants.entry(action.clone()).or_default();
        if list.is_empty() {
            list.push(Map::new());
            // The expansion starts again from the empty context.
            combinations.remove(&action);
        }
        let tally = combinations
            .entry(action.clone())
            .or_insert_with(|| Combinations {
                origin: list.clone(),
                keys: Vec::new(),
            });
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
            if candidates.is_empty() {
                empty_keys.insert(
                    action.clone(),
                    (
                        key.clone(),
                        types
                            .map(|t| t.iter().cloned().collect())
                            .unwrap_or_default(),
                    ),
                );
            }
            tally.keys.retain(|(k, _)| k != &key);
            tally.keys.push((key.clone(), candidates.len()));
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
            expanded.truncate(MAX_CONTEXT_VARIANTS);
            *list = expanded;
        }
    }
    let mut cut = Vec::new();
    let mut unfillable = Vec::new();
    for (action, tally) in &combinations {
        let tried = variants.get(action).map_or(0, Vec::len);
        if tried == 0 {
            if let Some((key, types)) = empty_keys.get(action) {
                unfillable.push((action.clone(), key.clone(), types.clone()));
            }
            continue;
        }
        let count = tally.count();
        if count > tried as u128 {
            cut.push(CutVariants {
                action: action.clone(),
                tried,
                combinations: count,
                keys: tally.keys.clone(),
                scripted: tally.starts(),
            });
        }
    }
    Variants {
        by_action: variants,
        cut,
        unfillable,
    }
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

/// The policies that allowed a trace's witness request (its last move),
/// replayed from the initial state; empty when the last move is not a
/// request Cedar allows.
pub fn witness_policies(machine: &Machine<'_>, trace: &[Move]) -> Vec<String> {
    let Some((
        Move::Request {
            actor,
            action,
            resource,
            extra,
        },
        before,
    )) = trace.split_last()
    else {
        return Vec::new();
    };
    let mut state = machine.initial();
    for mv in before {
        execute(machine, &mut state, mv);
    }
    let outcome = machine.act(&mut state, *actor, action, resource, extra);
    if outcome.decision == Decision::Allow {
        outcome.determining
    } else {
        Vec::new()
    }
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
                    time: state.time,
                    kind: MoveKind::Advance,
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
                    time,
                    kind: MoveKind::Request,
                    session: a.session.map(|s| machine.scenario.sessions[s].id.clone()),
                    principal: Some(a.principal.to_string()),
                    action: Some(action.to_string()),
                    resource: Some(resource.to_string()),
                    context: (!extra.is_empty()).then(|| Value::Object(extra.clone())),
                    decision: Some(outcome.decision),
                    effects,
                });
            }
        }
    }
    steps
}

/// Every action of the actors' universes with its text, each written out
/// once.
fn action_names<'m>(machine: &'m Machine<'_>) -> HashMap<&'m EntityUid, String> {
    let mut names = HashMap::new();
    for (_, pairs) in machine.universes() {
        for (action, _) in action_runs(pairs) {
            names.entry(action).or_insert_with(|| action.to_string());
        }
    }
    names
}

/// Adds the context values the policies suggest ([`guided`]) to each
/// requested action's variants: every scripted (or effect-expanded) context
/// with no key changed, then with one key changed, then two, and so on, up to
/// [`MAX_CONTEXT_VARIANTS`]. Keys the simulator fills (the scenario's facts),
/// keys a session presents itself and keys effects read entities from (all
/// of the world's entities are tried there already) are left as they are. A
/// combination the schema's context type rejects is dropped: no request could
/// send it. Returns the keys whose values were not all derived.
fn guide_variants(
    machine: &Machine<'_>,
    variants: &mut Variants,
) -> BTreeMap<String, BTreeSet<guided::Unguided>> {
    use guided::Unguided;
    let scenario = machine.scenario;
    let mut guidance = guided::guidance(&scenario.policies.set, scenario.policies.json());
    let mut left_alone: BTreeSet<String> = scenario.facts.keys().cloned().collect();
    for effect in &scenario.effects {
        left_alone.extend(context_keys(&effect.operation));
    }
    let session_keys: BTreeSet<String> = scenario
        .sessions
        .iter()
        .flat_map(|session| session.context.keys().cloned())
        .filter(|key| !left_alone.contains(key))
        .collect();
    // A key a session presents is not varied, for anyone: for a principal
    // acting alone that leaves values out, which the caveat says.
    let acting_alone = machine.actors.iter().any(|actor| actor.session.is_none());
    let unvaried: Vec<String> = guidance
        .keys
        .keys()
        .chain(guidance.unguided.keys())
        .filter(|key| acting_alone && session_keys.contains(*key))
        .cloned()
        .collect();
    left_alone.extend(session_keys);
    guidance.keys.retain(|key, _| !left_alone.contains(key));
    guidance.unguided.retain(|key, _| !left_alone.contains(key));
    for key in unvaried {
        guidance
            .unguided
            .entry(key)
            .or_default()
            .insert(Unguided::SessionPresented);
    }
    if guidance
        .keys
        .values()
        .any(guided::KeyValues::reads_attributes)
    {
        let entities: BTreeMap<String, Value> = scenario
            .world
            .base
            .iter()
            .filter_map(|(uid, raw)| Some((uid.clone(), serde_json::from_str(raw.get()).ok()?)))
            .collect();
        guidance.resolve_attributes(&entities);
    }
    // Keys tested with `has` but given no value: only their absence is tried.
    for (key, values) in &guidance.keys {
        if values.values.is_empty() {
            guidance
                .unguided
                .entry(key.clone())
                .or_default()
                .insert(Unguided::NoValue);
        }
    }
    // The first actor and resource of each action, to check contexts against
    // the schema.
    let mut example: BTreeMap<String, (usize, &EntityUid, &EntityUid)> = BTreeMap::new();
    let mut seen: HashSet<&EntityUid> = HashSet::new();
    // An actor whose universe an earlier actor has has no action not seen.
    for (actor, pairs) in machine.universes() {
        for (action, run) in action_runs(pairs) {
            // Written out once per action (the first pair of it is kept).
            if seen.insert(action) {
                example
                    .entry(action.to_string())
                    .or_insert((actor, action, &pairs[run.start].1));
            }
        }
    }
    let initial = machine.initial();
    // Per key: whether some value of it made a context the schema accepts.
    let mut accepted: BTreeMap<String, bool> = BTreeMap::new();
    for (action, (actor, action_uid, resource)) in &example {
        let keys: Vec<(&String, Vec<Option<&Value>>)> = guidance
            .keys
            .iter()
            .filter(|(_, values)| values.applies_to(action))
            .map(|(key, values)| {
                let mut options: Vec<Option<&Value>> = values.values.values().map(Some).collect();
                if values.has {
                    options.push(None);
                }
                (key, options)
            })
            .filter(|(_, options)| !options.is_empty())
            .collect();
        if keys.is_empty() {
            continue;
        }
        let bases = match variants.by_action.get(action) {
            // No entity could fill an effect's key: the action is never requested.
            Some(list) if list.is_empty() => continue,
            Some(list) => list.clone(),
            None => vec![Map::new()],
        };
        let principal = &machine.actors[*actor].principal;
        let builds = |extra: &Map<String, Value>| {
            let context = machine.context(&initial, *actor, extra);
            machine
                .request(principal, action_uid, resource, &context)
                .is_ok()
        };
        let mut list: Vec<Map<String, Value>> = Vec::new();
        let mut capped = false;
        // Each subset of keys, smallest first, then each base, then each
        // choice of the subset's options.
        'sizes: for size in 0..=keys.len() {
            let mut subset: Vec<usize> = (0..size).collect();
            loop {
                for base in &bases {
                    let mut choice = vec![0usize; size];
                    loop {
                        let mut extra = base.clone();
                        for (slot, &key) in subset.iter().enumerate() {
                            let (name, options) = &keys[key];
                            match options[choice[slot]] {
                                Some(value) => extra.insert((*name).clone(), value.clone()),
                                None => extra.remove(*name),
                            };
                        }
                        if !list.contains(&extra) {
                            let ok = size == 0 || builds(&extra);
                            for &key in &subset {
                                let (name, options) = &keys[key];
                                if options.iter().any(Option::is_some) {
                                    *accepted.entry((*name).clone()).or_default() |= ok;
                                }
                            }
                            if ok {
                                if list.len() == MAX_CONTEXT_VARIANTS {
                                    capped = true;
                                    break 'sizes;
                                }
                                list.push(extra);
                            }
                        }
                        if !next_choice(&mut choice, |slot| keys[subset[slot]].1.len()) {
                            break;
                        }
                    }
                }
                if !next_subset(&mut subset, keys.len()) {
                    break;
                }
            }
        }
        if capped {
            let factors: Vec<(String, usize)> = keys
                .iter()
                .map(|(key, options)| ((*key).clone(), options.len() + 1))
                .collect();
            let product = factors
                .iter()
                .fold(1u128, |n, (_, values)| n.saturating_mul(*values as u128));
            match variants.cut.iter_mut().find(|c| &c.action == action) {
                Some(cut) => {
                    cut.combinations = cut.combinations.saturating_mul(product);
                    cut.keys.extend(factors);
                    cut.tried = list.len();
                }
                None => variants.cut.push(CutVariants {
                    action: action.clone(),
                    tried: list.len(),
                    combinations: product.saturating_mul(bases.len() as u128),
                    keys: factors,
                    scripted: bases.len(),
                }),
            }
        }
        variants.by_action.insert(action.clone(), list);
    }
    for (key, ok) in accepted {
        if !ok {
            guidance
                .unguided
                .entry(key)
                .or_default()
                .insert(Unguided::IllTyped);
        }
    }
    guidance.unguided
}

/// The limit for context keys the policies read whose values were not all
/// derived from them.
fn unguided_caveat(unguided: &BTreeMap<String, BTreeSet<guided::Unguided>>) -> Option<SearchLimit> {
    use guided::Unguided;
    if unguided.is_empty() {
        return None;
    }
    let keys = unguided
        .iter()
        .map(|(key, why)| UnguidedKey {
            key: key.clone(),
            reasons: why
                .iter()
                .map(|w| {
                    let (why, name) = match w {
                        Unguided::Computed => (UnguidedWhy::Computed, None),
                        Unguided::Extension(name) => (UnguidedWhy::Extension, Some(name.clone())),
                        Unguided::Record(attribute) => {
                            (UnguidedWhy::Record, Some(attribute.clone()))
                        }
                        Unguided::NoValue => (UnguidedWhy::HasOnly, None),
                        Unguided::IllTyped => (UnguidedWhy::IllTyped, None),
                        Unguided::SessionPresented => (UnguidedWhy::SessionPresented, None),
                    };
                    UnguidedReason { why, name }
                })
                .collect(),
        })
        .collect();
    Some(SearchLimit::UnguidedContext { keys })
}

/// The next choice of options (an odometer, last slot fastest); `false`
/// after the last.
fn next_choice(choice: &mut [usize], options: impl Fn(usize) -> usize) -> bool {
    for slot in (0..choice.len()).rev() {
        choice[slot] += 1;
        if choice[slot] < options(slot) {
            return true;
        }
        choice[slot] = 0;
    }
    false
}

/// The next subset of `0..n` of the same size, in lexicographic order;
/// `false` after the last.
fn next_subset(subset: &mut [usize], n: usize) -> bool {
    let size = subset.len();
    for index in (0..size).rev() {
        if subset[index] < n - size + index {
            subset[index] += 1;
            for next in index + 1..size {
                subset[next] = subset[next - 1] + 1;
            }
            return true;
        }
    }
    false
}
