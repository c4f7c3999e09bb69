//! Campaign corpora (`privsim fuzz --corpus DIR`): where each worker's search
//! stood when a run ended, so a later run continues it exactly.
//!
//! A corpus file holds, per worker, everything its continuation depends on:
//! the moves made, the states seen (their exact keys, with the fingerprint of
//! their held sets), the raw findings with their traces, the queued states
//! (as the traces that reach them: a state is rebuilt by replaying its trace
//! from the initial one, which is deterministic), the random generator's
//! state and where the strategy's loop stood. A run that resumes from it
//! makes exactly the moves the uninterrupted run would have made next, so a
//! campaign stopped at any move (budget, `--time`, a signal) and resumed finds
//! the same findings, with the same summary, as one run straight through.
//!
//! The format is JSON lines, version [`VERSION`] (`docs/search.md`,
//! "Campaign corpora"): a header naming what the corpus was written for, one
//! record a line, and an end record with the line count and the SHA-256 of
//! every line before it. The header's `key` is a SHA-256 over the contents of
//! every input file (scenario, shared world, schema, entities, template links,
//! the policies searched); it and the search options must match the run, or
//! the corpus is refused ([`CorpusError`]). Sets are written sorted, so the
//! same search writes the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cedar_policy::EntityUid;
use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Found, LeftOut, Move, Options};
use crate::load::Scenario;
use crate::world::state::{Machine, StateKey, Violation};
use privsim_model::result::FindingKind;
use privsim_model::time::Instant;

/// The format tag of a corpus file's header.
pub const FORMAT: &str = "privsim-corpus";

/// The version of the corpus format this build reads and writes. Version 2:
/// held-set fingerprints are FNV-1a of a fixed encoding
/// (`Snapshot::fingerprint`), the same on every platform and Rust release;
/// version 1's came from std's `DefaultHasher`, so they are refused.
pub const VERSION: u32 = 2;

/// One worker's search as it stood when a run ended.
#[derive(Debug, Clone)]
pub struct WorkerCheckpoint {
    pub(super) moves: u64,
    pub(super) max_depth: usize,
    pub(super) proven: Option<usize>,
    pub(super) closed: bool,
    /// Whether the worker stopped at its share of `--max-states`: it stays
    /// stopped when the campaign continues, as it would have in one run.
    pub(super) capped: bool,
    /// State key → fingerprint of its held sets.
    pub(super) states: BTreeMap<StateKey, u64>,
    pub(super) fingerprints: BTreeSet<u64>,
    /// Raw (not minimized) findings, in the order found.
    pub(super) found: Vec<Found>,
    pub(super) left_out: LeftOut,
    pub(super) decided: BTreeSet<String>,
    pub(super) position: Position,
}

/// Where a strategy's loop stood.
#[derive(Debug, Clone)]
pub(super) enum Position {
    /// Not started.
    Fresh,
    /// Random walks: the generator, and the walk under way (its
    /// state-changing moves and idle moves since the last change).
    Random {
        rng: Xoshiro256PlusPlus,
        walk: Option<(Vec<Move>, usize)>,
    },
    /// Novelty: the generator, the pool (as traces) and the states that
    /// joined or were offered to it.
    Novelty {
        rng: Xoshiro256PlusPlus,
        pool: Vec<Vec<Move>>,
        seen: BTreeSet<StateKey>,
    },
    /// Breadth-first: the level, its frontier, the next level so far,
    /// whether it grew, the states visited, and the (frontier entry, move)
    /// to try next.
    Exhaustive {
        level: usize,
        frontier: Vec<Vec<Move>>,
        next: Vec<Vec<Move>>,
        grew: bool,
        visited: BTreeSet<StateKey>,
        at: (usize, usize),
    },
    /// The strategy ended by itself (nothing more to search).
    Done,
}

/// What a corpus was written for: the inputs' key and the options that
/// decide the search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The scenario, as shown.
    pub scenario: String,
    /// SHA-256 over the input files' contents ([`inputs_key`]).
    pub key: String,
    /// The strategy's name.
    pub strategy: String,
    /// `--seed`.
    pub seed: u64,
    /// `--jobs`.
    pub jobs: usize,
    /// `--depth`.
    pub depth: usize,
    /// The extra clock move, in milliseconds (`--tick` or the scenario's).
    pub tick: Option<i64>,
    /// Whether the policies' context values were tried.
    pub policy_contexts: bool,
    /// `--shard`: (index, count), 0-based; the corpus holds that shard's
    /// workers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<(usize, usize)>,
}

impl Header {
    /// The header a run with these inputs and options writes and accepts.
    pub fn new(scenario: &Scenario, options: &Options) -> std::io::Result<Self> {
        Ok(Self {
            format: FORMAT.to_string(),
            version: VERSION,
            scenario: scenario.file.display.clone(),
            key: inputs_key(scenario)?,
            strategy: options.strategy.name().to_string(),
            seed: options.seed,
            jobs: options.jobs.max(1),
            depth: options.depth,
            tick: options.tick.or(scenario.tick),
            policy_contexts: options.policy_contexts,
            shard: options.shard,
        })
    }

    /// How many workers' checkpoints the corpus holds.
    fn workers(&self) -> usize {
        super::shard_workers(self.jobs, self.shard).len()
    }

    /// Why a corpus with this header cannot continue a run with `wanted`'s,
    /// if it cannot.
    fn mismatch(&self, wanted: &Header) -> Option<String> {
        let differs = |what: &str, theirs: String, ours: String| {
            Some(format!("it was written for {what} {theirs}, not {ours}"))
        };
        if self.key != wanted.key {
            return Some(
                "it was written for other inputs (the scenario, its shared world, schema, entities, template links or the policies searched have changed)"
                    .to_string(),
            );
        }
        if self.strategy != wanted.strategy {
            return differs(
                "strategy",
                format!("`{}`", self.strategy),
                format!("`{}`", wanted.strategy),
            );
        }
        if self.seed != wanted.seed {
            return differs("seed", self.seed.to_string(), wanted.seed.to_string());
        }
        if self.jobs != wanted.jobs {
            return differs("jobs", self.jobs.to_string(), wanted.jobs.to_string());
        }
        if self.depth != wanted.depth {
            return differs("depth", self.depth.to_string(), wanted.depth.to_string());
        }
        if self.tick != wanted.tick {
            return differs(
                "a clock tick of",
                format!("{:?} ms", self.tick),
                format!("{:?} ms", wanted.tick),
            );
        }
        if self.shard != wanted.shard {
            let show = |shard: Option<(usize, usize)>| match shard {
                Some((index, count)) => format!("shard {}/{count}", index + 1),
                None => "the whole campaign".to_string(),
            };
            return Some(format!(
                "it was written for {}, not {}",
                show(self.shard),
                show(wanted.shard)
            ));
        }
        if self.policy_contexts != wanted.policy_contexts {
            return Some("it was written with other context-value guidance".to_string());
        }
        None
    }
}

/// SHA-256 over the contents of a scenario's input files (in the order of
/// their canonical paths) and of the policy files searched (which differ
/// from the scenario's own under `--policies`).
pub fn inputs_key(scenario: &Scenario) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    let mut part = |data: &[u8]| {
        bytes.extend_from_slice(&(data.len() as u64).to_be_bytes());
        bytes.extend_from_slice(data);
    };
    part(FORMAT.as_bytes());
    part(&VERSION.to_be_bytes());
    for input in &scenario.inputs {
        part(&std::fs::read(input)?);
    }
    part(b"policies searched");
    for file in &scenario.policies.files {
        part(file.text.as_bytes());
    }
    Ok(crate::prove::sha256_hex(&bytes))
}

/// Where a scenario's corpus lives in `dir`: its path as shown, with every
/// character other than letters, digits, `.`, `-` and `_` made `_`.
pub fn path_in(dir: &Path, scenario: &Scenario) -> PathBuf {
    let name: String = scenario
        .file
        .display
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{name}.corpus.jsonl"))
}

/// Why a corpus could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The file could not be read or written.
    #[error("cannot use the corpus `{path}`: {source}")]
    Io {
        /// The corpus file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not a valid record, or the records do not fit together.
    #[error("{path}:{line}:{column}: corrupt corpus: {message}")]
    Corrupt {
        /// The corpus file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The corpus is for other inputs or options.
    #[error("the corpus `{path}` cannot continue this search: {reason}")]
    Mismatch {
        /// The corpus file.
        path: String,
        /// What differs.
        reason: String,
    },
}

impl CorpusError {
    /// How to get past it.
    pub fn help(&self) -> &'static str {
        match self {
            Self::Io { .. } => "check that the corpus folder exists and can be written",
            Self::Corrupt { .. } | Self::Mismatch { .. } => {
                "resume with the inputs and options the corpus was written for, use another --corpus folder, or pass --corpus-restart to start this scenario's campaign over"
            }
        }
    }
}

/// One line of a corpus file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Record {
    Header(Header),
    Worker(WorkerLine),
    State {
        worker: usize,
        key: StateKey,
        fingerprint: u64,
    },
    Fingerprint {
        worker: usize,
        value: u64,
    },
    Found {
        worker: usize,
        violation: SavedViolation,
        trace: Vec<SavedMove>,
    },
    /// A pool (novelty) or frontier (exhaustive) entry, in order.
    Queued {
        worker: usize,
        trace: Vec<SavedMove>,
    },
    /// An entry of the exhaustive search's next level, in order.
    Next {
        worker: usize,
        trace: Vec<SavedMove>,
    },
    /// A state novelty offered to its pool, or breadth-first visited.
    Seen {
        worker: usize,
        key: StateKey,
    },
    /// A state with more pending clock moments than were tried.
    ClockState {
        worker: usize,
        key: StateKey,
    },
    End {
        lines: usize,
        sha256: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkerLine {
    worker: usize,
    moves: u64,
    max_depth: usize,
    proven: Option<usize>,
    closed: bool,
    /// Written only when true, so corpora of searches that never reached
    /// the cap are as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    capped: bool,
    decided: Vec<String>,
    position: SavedPosition,
    clock_most: Option<(usize, i64)>,
    not_applied: Vec<(usize, u64, String)>,
    rejected: Vec<(String, u64, String)>,
    unbuildable: (u64, Option<(i64, String)>),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum SavedPosition {
    Fresh,
    Random {
        rng: Xoshiro256PlusPlus,
        walk: Option<(Vec<SavedMove>, usize)>,
    },
    Novelty {
        rng: Xoshiro256PlusPlus,
    },
    Exhaustive {
        level: usize,
        grew: bool,
        at: (usize, usize),
    },
    Done,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum SavedMove {
    Request {
        actor: usize,
        action: String,
        resource: String,
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        extra: Map<String, Value>,
    },
    Advance(i64),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedViolation {
    kind: String,
    actor: usize,
    action: String,
    resource: String,
    delegator: Option<String>,
    grant: Option<String>,
    rule: Option<usize>,
    missing: bool,
    determining: Vec<String>,
    message: String,
    on_request: bool,
}

fn save_move(mv: &Move) -> SavedMove {
    match mv {
        Move::Request {
            actor,
            action,
            resource,
            extra,
        } => SavedMove::Request {
            actor: *actor,
            action: action.to_string(),
            resource: resource.to_string(),
            extra: extra.clone(),
        },
        Move::Advance(time) => SavedMove::Advance(time.0),
    }
}

fn save_trace(trace: &[Move]) -> Vec<SavedMove> {
    trace.iter().map(save_move).collect()
}

/// The corpus text for these workers' checkpoints.
pub fn render(header: &Header, workers: &[WorkerCheckpoint]) -> String {
    let mut lines: Vec<Record> = vec![Record::Header(header.clone())];
    for (worker, point) in workers.iter().enumerate() {
        let (position, queued, next, seen) = match &point.position {
            Position::Fresh => (SavedPosition::Fresh, None, None, None),
            Position::Done => (SavedPosition::Done, None, None, None),
            Position::Random { rng, walk } => (
                SavedPosition::Random {
                    rng: rng.clone(),
                    walk: walk
                        .as_ref()
                        .map(|(trace, idle)| (save_trace(trace), *idle)),
                },
                None,
                None,
                None,
            ),
            Position::Novelty { rng, pool, seen } => (
                SavedPosition::Novelty { rng: rng.clone() },
                Some(pool),
                None,
                Some(seen),
            ),
            Position::Exhaustive {
                level,
                frontier,
                next,
                grew,
                visited,
                at,
            } => (
                SavedPosition::Exhaustive {
                    level: *level,
                    grew: *grew,
                    at: *at,
                },
                Some(frontier),
                Some(next),
                Some(visited),
            ),
        };
        let left = &point.left_out;
        lines.push(Record::Worker(WorkerLine {
            worker,
            moves: point.moves,
            max_depth: point.max_depth,
            proven: point.proven,
            closed: point.closed,
            capped: point.capped,
            decided: point.decided.iter().cloned().collect(),
            position,
            clock_most: left.clock_most.map(|(most, at)| (most, at.0)),
            not_applied: left
                .not_applied
                .iter()
                .map(|(effect, (count, message))| (*effect, *count, message.clone()))
                .collect(),
            rejected: left
                .rejected
                .iter()
                .map(|(action, (count, message))| (action.clone(), *count, message.clone()))
                .collect(),
            unbuildable: (
                left.unbuildable.0,
                left.unbuildable
                    .1
                    .as_ref()
                    .map(|(at, message)| (at.0, message.clone())),
            ),
        }));
        for (key, fingerprint) in &point.states {
            lines.push(Record::State {
                worker,
                key: key.clone(),
                fingerprint: *fingerprint,
            });
        }
        for value in &point.fingerprints {
            lines.push(Record::Fingerprint {
                worker,
                value: *value,
            });
        }
        for found in &point.found {
            let v = &found.violation;
            lines.push(Record::Found {
                worker,
                violation: SavedViolation {
                    kind: v.kind.to_string(),
                    actor: v.actor,
                    action: v.action.to_string(),
                    resource: v.resource.to_string(),
                    delegator: v.delegator.as_ref().map(ToString::to_string),
                    grant: v.grant.clone(),
                    rule: v.rule,
                    missing: v.missing,
                    determining: v.determining.clone(),
                    message: v.message.clone(),
                    on_request: v.on_request,
                },
                trace: save_trace(&found.trace),
            });
        }
        for trace in queued.into_iter().flatten() {
            lines.push(Record::Queued {
                worker,
                trace: save_trace(trace),
            });
        }
        for trace in next.into_iter().flatten() {
            lines.push(Record::Next {
                worker,
                trace: save_trace(trace),
            });
        }
        for key in seen.into_iter().flatten() {
            lines.push(Record::Seen {
                worker,
                key: key.clone(),
            });
        }
        let mut clock: Vec<&StateKey> = left.clock_states.iter().collect();
        clock.sort();
        for key in clock {
            lines.push(Record::ClockState {
                worker,
                key: key.clone(),
            });
        }
    }
    let mut text = String::new();
    for record in &lines {
        // Serializing these types cannot fail (string keys, no floats).
        text.push_str(&serde_json::to_string(record).unwrap_or_default());
        text.push('\n');
    }
    let end = Record::End {
        lines: lines.len(),
        sha256: crate::prove::sha256_hex(text.as_bytes()),
    };
    text.push_str(&serde_json::to_string(&end).unwrap_or_default());
    text.push('\n');
    text
}

/// Writes a corpus file (atomically).
pub fn save(path: &Path, header: &Header, workers: &[WorkerCheckpoint]) -> Result<(), CorpusError> {
    let io = |source| CorpusError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    crate::output::write_file(path, render(header, workers).as_bytes()).map_err(io)
}

/// Reads a corpus file for a run with `header`'s inputs and options:
/// `Ok(None)` when there is none yet.
pub fn load(
    path: &Path,
    header: &Header,
    machine: &Machine<'_>,
) -> Result<Option<Vec<WorkerCheckpoint>>, CorpusError> {
    let shown = path.display().to_string();
    let text = match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => {
                let offset = error.utf8_error().valid_up_to();
                let before = &error.as_bytes()[..offset];
                let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
                let column = offset
                    - before
                        .iter()
                        .rposition(|&b| b == b'\n')
                        .map_or(0, |i| i + 1)
                    + 1;
                return Err(CorpusError::Corrupt {
                    path: shown,
                    line,
                    column,
                    message: "the file is not UTF-8".to_string(),
                });
            }
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CorpusError::Io {
                path: shown,
                source,
            });
        }
    };
    parse(&shown, &text, header, machine).map(Some)
}

/// Parses and checks a corpus text.
fn parse(
    shown: &str,
    text: &str,
    wanted: &Header,
    machine: &Machine<'_>,
) -> Result<Vec<WorkerCheckpoint>, CorpusError> {
    let corrupt = |line: usize, column: usize, message: String| CorpusError::Corrupt {
        path: shown.to_string(),
        line,
        column,
        message,
    };
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    if lines.is_empty() {
        return Err(corrupt(1, 1, "the file is empty".to_string()));
    }
    // The end record first: a truncated or edited file is refused as a
    // whole, before any of it is trusted.
    let last = lines.len();
    let end: Record = serde_json::from_str(lines[last - 1]).map_err(|error| {
        corrupt(
            last,
            error.column().max(1),
            format!("the last line is not the end record ({error}); the file may be truncated"),
        )
    })?;
    let Record::End {
        lines: count,
        sha256,
    } = end
    else {
        return Err(corrupt(
            last,
            1,
            "the last line is not the end record; the file may be truncated".to_string(),
        ));
    };
    let body_len = text.len() - lines[last - 1].len() - usize::from(text.ends_with('\n'));
    let body = &text[..body_len];
    if count != last - 1 || crate::prove::sha256_hex(body.as_bytes()) != sha256 {
        return Err(corrupt(
            last,
            1,
            "the records do not match the end record's line count and checksum; the file was truncated or edited".to_string(),
        ));
    }
    let mut header: Option<Header> = None;
    let mut builders: BTreeMap<usize, Builder> = BTreeMap::new();
    for (index, line) in lines[..last - 1].iter().enumerate() {
        let number = index + 1;
        let record: Record = serde_json::from_str(line)
            .map_err(|error| corrupt(number, error.column().max(1), error.to_string()))?;
        let bad = |message: String| corrupt(number, 1, message);
        if let Record::Header(found) = record {
            if number != 1 {
                return Err(bad("a second header".to_string()));
            }
            if found.format != FORMAT || found.version != VERSION {
                return Err(CorpusError::Mismatch {
                    path: shown.to_string(),
                    reason: format!(
                        "it is `{}` version {}, and this privsim reads `{FORMAT}` version {VERSION}",
                        found.format, found.version
                    ),
                });
            }
            if let Some(reason) = found.mismatch(wanted) {
                return Err(CorpusError::Mismatch {
                    path: shown.to_string(),
                    reason,
                });
            }
            header = Some(found);
            continue;
        }
        if header.is_none() {
            return Err(bad("the first line is not the header".to_string()));
        }
        let worker = match &record {
            Record::Worker(line) => line.worker,
            Record::State { worker, .. }
            | Record::Fingerprint { worker, .. }
            | Record::Found { worker, .. }
            | Record::Queued { worker, .. }
            | Record::Next { worker, .. }
            | Record::Seen { worker, .. }
            | Record::ClockState { worker, .. } => *worker,
            Record::Header(_) | Record::End { .. } => {
                return Err(bad("an end record before the last line".to_string()));
            }
        };
        if worker >= wanted.workers() {
            return Err(bad(format!(
                "worker {worker} of a search with {} workers",
                wanted.workers()
            )));
        }
        let builder = builders.entry(worker).or_default();
        if let Record::Worker(line) = record {
            if builder.head.is_some() {
                return Err(bad(format!("a second record of worker {worker}")));
            }
            builder.head = Some(line);
            continue;
        }
        if builder.head.is_none() {
            return Err(bad(format!(
                "a record of worker {worker} before its worker record"
            )));
        }
        match record {
            Record::State {
                key, fingerprint, ..
            } => {
                builder.states.insert(key, fingerprint);
            }
            Record::Fingerprint { value, .. } => {
                builder.fingerprints.insert(value);
            }
            Record::Found {
                violation, trace, ..
            } => {
                let violation = restore_violation(machine, violation).map_err(&bad)?;
                let trace = restore_trace(machine, trace).map_err(&bad)?;
                builder.found.push(Found { violation, trace });
            }
            Record::Queued { trace, .. } => {
                builder
                    .queued
                    .push(restore_trace(machine, trace).map_err(&bad)?);
            }
            Record::Next { trace, .. } => {
                builder
                    .next
                    .push(restore_trace(machine, trace).map_err(&bad)?);
            }
            Record::Seen { key, .. } => {
                builder.seen.insert(key);
            }
            Record::ClockState { key, .. } => {
                builder.clock_states.insert(key);
            }
            Record::Header(_) | Record::Worker(_) | Record::End { .. } => {}
        }
    }
    let mut workers = Vec::new();
    for worker in 0..wanted.workers() {
        let Some(builder) = builders.remove(&worker) else {
            return Err(corrupt(last, 1, format!("no record of worker {worker}")));
        };
        workers.push(
            builder
                .finish(machine, wanted)
                .map_err(|message| corrupt(last, 1, format!("worker {worker}: {message}")))?,
        );
    }
    Ok(workers)
}

/// One worker's records as they are read.
#[derive(Default)]
struct Builder {
    head: Option<WorkerLine>,
    states: BTreeMap<StateKey, u64>,
    fingerprints: BTreeSet<u64>,
    found: Vec<Found>,
    queued: Vec<Vec<Move>>,
    next: Vec<Vec<Move>>,
    seen: BTreeSet<StateKey>,
    clock_states: BTreeSet<StateKey>,
}

impl Builder {
    fn finish(self, machine: &Machine<'_>, wanted: &Header) -> Result<WorkerCheckpoint, String> {
        let head = self.head.ok_or("no worker record")?;
        let strategy = wanted.strategy.as_str();
        let position = match head.position {
            SavedPosition::Fresh => Position::Fresh,
            SavedPosition::Done => Position::Done,
            SavedPosition::Random { rng, walk } if strategy == "random" => Position::Random {
                rng,
                walk: match walk {
                    Some((trace, idle)) => Some((restore_trace(machine, trace)?, idle)),
                    None => None,
                },
            },
            SavedPosition::Novelty { rng } if strategy == "novelty" => {
                if self.queued.is_empty() {
                    return Err("the novelty pool is empty".to_string());
                }
                Position::Novelty {
                    rng,
                    pool: self.queued,
                    seen: self.seen,
                }
            }
            SavedPosition::Exhaustive { level, grew, at } if strategy == "exhaustive" => {
                if level == 0 || level > wanted.depth.saturating_add(1) || at.0 > self.queued.len()
                {
                    return Err(format!(
                        "the breadth-first position (level {level}, entry {}) is outside the search",
                        at.0
                    ));
                }
                Position::Exhaustive {
                    level,
                    frontier: self.queued,
                    next: self.next,
                    grew,
                    visited: self.seen,
                    at,
                }
            }
            _ => return Err(format!("its position is not one of a `{strategy}` search")),
        };
        for (effect, _, _) in &head.not_applied {
            if *effect >= machine.scenario.effects.len() {
                return Err(format!("effect {} does not exist", effect + 1));
            }
        }
        let left_out = LeftOut {
            clock_states: self.clock_states.into_iter().collect(),
            clock_most: head.clock_most.map(|(most, at)| (most, Instant(at))),
            not_applied: head
                .not_applied
                .into_iter()
                .map(|(effect, count, message)| (effect, (count, message)))
                .collect(),
            rejected: head
                .rejected
                .into_iter()
                .map(|(action, count, message)| (action, (count, message)))
                .collect(),
            unbuildable: (
                head.unbuildable.0,
                head.unbuildable
                    .1
                    .map(|(at, message)| (Instant(at), message)),
            ),
        };
        Ok(WorkerCheckpoint {
            moves: head.moves,
            max_depth: head.max_depth,
            proven: head.proven,
            closed: head.closed,
            capped: head.capped,
            states: self.states,
            fingerprints: self.fingerprints,
            found: self.found,
            left_out,
            decided: head.decided.into_iter().collect(),
            position,
        })
    }
}

fn uid(text: &str) -> Result<EntityUid, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a Cedar entity literal"))
}

fn check_actor(machine: &Machine<'_>, actor: usize) -> Result<(), String> {
    if actor < machine.actors.len() {
        Ok(())
    } else {
        Err(format!(
            "actor {actor} does not exist (the search has {})",
            machine.actors.len()
        ))
    }
}

fn restore_trace(machine: &Machine<'_>, trace: Vec<SavedMove>) -> Result<Vec<Move>, String> {
    trace
        .into_iter()
        .map(|mv| match mv {
            SavedMove::Advance(time) => Ok(Move::Advance(Instant(time))),
            SavedMove::Request {
                actor,
                action,
                resource,
                extra,
            } => {
                check_actor(machine, actor)?;
                let action = uid(&action)?;
                let resource = uid(&resource)?;
                if !machine.pairs[actor]
                    .iter()
                    .any(|(a, r)| a == &action && r == &resource)
                {
                    return Err(format!(
                        "a move of actor {actor} outside its universe: {action} on {resource}"
                    ));
                }
                Ok(Move::Request {
                    actor,
                    action,
                    resource,
                    extra,
                })
            }
        })
        .collect()
}

fn restore_violation(machine: &Machine<'_>, saved: SavedViolation) -> Result<Violation, String> {
    check_actor(machine, saved.actor)?;
    let Some(kind) = FindingKind::from_name(&saved.kind) else {
        return Err(format!("`{}` is not a kind of finding", saved.kind));
    };
    Ok(Violation {
        kind,
        actor: saved.actor,
        action: uid(&saved.action)?,
        resource: uid(&saved.resource)?,
        delegator: saved.delegator.as_deref().map(uid).transpose()?,
        grant: saved.grant,
        rule: saved.rule,
        missing: saved.missing,
        determining: saved.determining,
        message: saved.message,
        on_request: saved.on_request,
    })
}
