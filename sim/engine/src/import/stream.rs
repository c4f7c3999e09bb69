//! Streamed replay of a request log (`privsim import log` without `--out`):
//! the log is read line by line, never whole, and replayed in memory bounded
//! by the number of *distinct* requests (session, principal, action,
//! resource, context and recorded decision), not by the number of lines.
//!
//! Why this gives the materialized replay's answers: the world of a log is
//! static (no grants, no effects) and a logged request carries its exact
//! context, so every occurrence of a distinct request gets the same
//! decision. Of each distinct request the earliest and the latest occurrence
//! are kept; the scenario of those representatives has the same sessions
//! (each opened and closed at the same times), the same used pairs, the same
//! last use of every pair and action, the same window, so the existing
//! replay and accounting (`accounting::evaluate`) give the same held, used
//! and gap, the same idle times and unused-access findings. Counts (steps,
//! decisions, mismatches, ceiling findings) are then multiplied back by the
//! number of occurrences. What a streamed result does not hold: the list of
//! every step (only mismatching requests are listed, a bounded number), and
//! the step indices of a policy's determined steps.
//!
//! **Architecture Invariant:** the streamed and the materialized path read
//! lines through the same `log::LogReader`, and replay through the same
//! engine; a test (`streamed_replay_equals_materialized`) checks they agree
//! on generated logs.

mod windowed;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::ImportedEntity;
use super::log::{self, LogOptions, LogReader, LoggedStep};
use crate::load::{Decision, LoadOptions};
use privsim_model::diag::{Error, Result};
use privsim_model::result::{CeilingDecision, FindingKind, ScenarioResult};
use privsim_model::time::Instant;

/// How many mismatching distinct requests a streamed result lists by default.
pub const MISMATCHES_LISTED: usize = 20;

/// A distinct request: session, principal, action, resource, context and
/// the recorded decision, written as one string by [`request_key`] (one
/// allocation per line, and a lookup by `&str`).
type RequestKey = String;

/// The occurrences of one distinct request.
struct Occurrences<T> {
    /// The earliest (by time, then line).
    first: T,
    /// The latest, when there is more than one.
    last: Option<T>,
    /// How many lines made it.
    count: usize,
    /// The first line that made it.
    first_line: usize,
}

/// What orders a request's occurrences: its time, then its log line.
trait Occurrence {
    fn order(&self) -> (Instant, usize);
}

impl Occurrence for LoggedStep {
    fn order(&self) -> (Instant, usize) {
        (self.at, self.line)
    }
}

impl Occurrence for (Instant, usize) {
    fn order(&self) -> (Instant, usize) {
        *self
    }
}

impl<T: Occurrence> Occurrences<T> {
    fn new(occurrence: T) -> Self {
        Self {
            first_line: occurrence.order().1,
            first: occurrence,
            last: None,
            count: 1,
        }
    }

    fn add(&mut self, occurrence: T) {
        self.count += 1;
        let order = occurrence.order();
        self.first_line = self.first_line.min(order.1);
        if order < self.first.order() {
            let earlier = std::mem::replace(&mut self.first, occurrence);
            if self.last.is_none() {
                self.last = Some(earlier);
            }
        } else if self.last.as_ref().is_none_or(|last| order > last.order()) {
            self.last = Some(occurrence);
        }
    }
}

/// A streamed log, as read.
struct Read {
    requests: HashMap<RequestKey, Occurrences<LoggedStep>>,
    lines: usize,
    total: usize,
}

/// What a streamed replay read and did, beside its result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamStats {
    /// Lines read (blank ones included).
    pub lines: usize,
    /// Requests (non-blank lines).
    pub requests: usize,
    /// Distinct requests replayed.
    pub distinct: usize,
    /// Requests whose recorded decision was not reproduced.
    pub mismatches: usize,
}

/// Replays the log at `path` streamed, with `load` for the observation
/// window; `listed` mismatching distinct requests are kept in the result's
/// steps (the first ones by line), the rest counted in a warning. The
/// distinct requests are replayed [`WINDOW`] at a time
/// ([`replay_log_windowed`]), on this thread only.
pub fn replay_log(
    path: &Path,
    options: &LogOptions,
    load: &LoadOptions,
    listed: usize,
) -> Result<(ScenarioResult, StreamStats)> {
    replay_log_windowed(path, options, load, listed, WINDOW, 1)
}

/// How many new distinct requests the streamed replay replays at once.
pub const WINDOW: usize = 4096;

/// [`replay_log`] replaying `window` new distinct requests at a time: what
/// is kept between windows is bounded by the principals, pairs and sessions,
/// plus a small index entry per distinct request (`stream/windowed.rs`).
/// With `jobs` above 1, windows are loaded and replayed on a second thread
/// while this one reads and indexes the next lines ([`replay_log_jobs`]).
pub fn replay_log_windowed(
    path: &Path,
    options: &LogOptions,
    load: &LoadOptions,
    listed: usize,
    window: usize,
    jobs: usize,
) -> Result<(ScenarioResult, StreamStats)> {
    let mut reader = log::LogReader::new(path, options)?;
    let display = reader.display().to_string();
    if jobs <= 1 {
        let state = windowed::Windowed::new(display.clone(), load, listed, window, None);
        return read_into(path, &display, &mut reader, state, load);
    }
    let (windows, to_replay) = std::sync::mpsc::sync_channel::<windowed::Window>(1);
    let (done, replayed) = std::sync::mpsc::channel();
    let state = windowed::Windowed::new(
        display.clone(),
        load,
        listed,
        window,
        Some(windowed::Worker { windows, replayed }),
    );
    let window_load = state.window_load().clone();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for window in to_replay {
                if done
                    .send(windowed::replay_window(window, &window_load))
                    .is_err()
                {
                    break;
                }
            }
        });
        // `state` (and with it the sending end) is dropped before the scope
        // waits for the worker, on every path.
        read_into(path, &display, &mut reader, state, load)
    })
}

/// [`replay_log_windowed`] with [`WINDOW`] and `jobs` threads (at most 2
/// are used: one reads the log, the other replays windows; `privsim import
/// log --jobs`). The result is
/// the same, byte for byte, whatever `jobs` is: windows are made on the
/// reading thread exactly as with one thread, and their outcomes kept in
/// the order they were made
/// (`import_log_stream::windowed_replay_equals_whole`).
pub fn replay_log_jobs(
    path: &Path,
    options: &LogOptions,
    load: &LoadOptions,
    listed: usize,
    jobs: usize,
) -> Result<(ScenarioResult, StreamStats)> {
    replay_log_windowed(path, options, load, listed, WINDOW, jobs)
}

/// Reads every line of the log into `state`, then finishes it.
fn read_into(
    path: &Path,
    display: &str,
    reader: &mut LogReader<'_>,
    mut state: windowed::Windowed,
    load: &LoadOptions,
) -> Result<(ScenarioResult, StreamStats)> {
    crate::progress::phase(crate::progress::Phase::Reading, 0);
    let mut key = String::new();
    log::read_lines(path, display, |number, text| {
        crate::progress::advance();
        let request = reader.line(number, text)?;
        state.line(reader, number, request, &mut key);
        Ok(())
    })?;
    state.finish(reader, load)
}

/// The log line a step's name gives (`LOG:LINE`).
fn log_line(name: &Option<String>) -> Option<usize> {
    name.as_deref()
        .and_then(|name| name.rsplit(':').next())
        .and_then(|line| line.parse().ok())
}

/// [`replay_log`] with every distinct request's representatives kept and
/// replayed as one scenario: memory grows with the distinct requests (about
/// 9 KB each). The definition the windowed replay is tested against
/// (`import_log_stream::windowed_replay_equals_whole`); the result is the
/// same, byte for byte.
pub fn replay_log_whole(
    path: &Path,
    options: &LogOptions,
    load: &LoadOptions,
    listed: usize,
) -> Result<(ScenarioResult, StreamStats)> {
    let mut reader = log::LogReader::new(path, options)?;
    let display = reader.display().to_string();
    let mut read = Read {
        requests: HashMap::new(),
        lines: 0,
        total: 0,
    };
    let mut entities: Vec<ImportedEntity> = Vec::new();
    crate::progress::phase(crate::progress::Phase::Reading, 0);
    let mut key = String::new();
    log::read_lines(path, &display, |number, text| {
        crate::progress::advance();
        read.lines = number;
        let Some((step, made)) = reader.line(number, text)? else {
            return Ok(());
        };
        read.total += 1;
        // Entities the MCP generator made are named after their line, so a
        // request with any is distinct from every other and all are kept.
        entities.extend(made);
        request_key(&step, &mut key);
        match read.requests.get_mut(key.as_str()) {
            Some(occurrences) => occurrences.add(step),
            None => {
                read.requests.insert(key.clone(), Occurrences::new(step));
            }
        }
        Ok(())
    })?;
    if read.total == 0 {
        return Err(Error::NotFound(format!("`{display}` holds no requests")));
    }
    let sessions = reader.sessions()?;
    // Each representative with the distinct request it stands for.
    let mut representatives: Vec<(LoggedStep, usize)> = Vec::new();
    // Groups in order of their first line, so nothing below depends on the
    // hash map's order.
    let mut groups: Vec<&Occurrences<LoggedStep>> = read.requests.values().collect();
    groups.sort_unstable_by_key(|occurrences| occurrences.first_line);
    for (group, occurrences) in groups.iter().enumerate() {
        representatives.push((occurrences.first.clone(), group));
        if let Some(last) = &occurrences.last {
            representatives.push((last.clone(), group));
        }
    }
    representatives.sort_by_key(|(step, _)| (step.at, step.line));
    let group_of_line: HashMap<usize, usize> = representatives
        .iter()
        .map(|(step, group)| (step.line, *group))
        .collect();
    let steps: Vec<LoggedStep> = representatives.into_iter().map(|(step, _)| step).collect();
    let logged = reader.scenario(sessions, entities, steps);
    let scenario = logged.load_with(load)?;
    let mut result = crate::accounting::evaluate(&scenario);
    let stats = multiply_back(&mut result, &groups, &group_of_line, &display, listed);
    Ok((
        result,
        StreamStats {
            lines: read.lines,
            requests: read.total,
            distinct: groups.len(),
            mismatches: stats,
        },
    ))
}

/// Writes the key of `step`'s distinct request into `key`: each part
/// prefixed by its length (so no two different requests share a key,
/// whatever their text holds), the context as [`canonical`] writes it.
fn request_key(step: &LoggedStep, key: &mut String) {
    key.clear();
    match &step.session {
        Some(session) => {
            key.push('s');
            length_prefixed(key, session);
        }
        None => key.push('-'),
    }
    length_prefixed(key, &step.principal);
    length_prefixed(key, &step.action);
    length_prefixed(key, &step.resource);
    key.push(match step.expect {
        None => '-',
        Some(Decision::Allow) => 'a',
        Some(Decision::Deny) => 'd',
        Some(Decision::Error) => 'e',
    });
    canonical_map(&step.context, key);
}

/// Appends `text` to `key` after its length, so that keys made of such parts
/// are equal only when their parts are, whatever the parts hold.
fn length_prefixed(key: &mut String, text: &str) {
    use std::fmt::Write as _;
    let _ = write!(key, "{}:", text.len());
    key.push_str(text);
}

/// Writes `map` (a logged context: Cedar JSON values, keys sorted at every
/// level, see [`LoggedStep::context`]) so that two maps are written the
/// same only when they are equal. Cheaper than TOML text, which the key
/// used to be; the bytes are those the TOML table of the same context was
/// written as before contexts were kept as JSON.
fn canonical_map(map: &serde_json::Map<String, serde_json::Value>, out: &mut String) {
    out.push('{');
    for (key, value) in map {
        let _ = std::fmt::Write::write_fmt(out, format_args!("{key:?}="));
        canonical(value, out);
        out.push(',');
    }
    out.push('}');
}

/// One value for [`canonical_map`]: a tag, then the value (strings and
/// keys as Rust string literals, which read back as one string only).
fn canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    use std::fmt::Write as _;
    match value {
        Value::String(text) => {
            let _ = write!(out, "{text:?}");
        }
        Value::Number(number) => {
            let _ = write!(out, "i{number}");
        }
        Value::Bool(yes) => out.push(if *yes { 'T' } else { 'F' }),
        Value::Array(items) => {
            out.push('[');
            for item in items {
                canonical(item, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::Object(map) => canonical_map(map, out),
        // Not in a logged context (`json::sort_cedar_map` refuses it).
        Value::Null => out.push('x'),
    }
}

/// Turns the representatives' result into the whole log's: counts
/// multiplied by occurrences, one finding per occurrence counted, steps
/// replaced by the first `listed` mismatching requests. Returns how many
/// requests mismatched.
fn multiply_back(
    result: &mut ScenarioResult,
    groups: &[&Occurrences<LoggedStep>],
    group_of_line: &HashMap<usize, usize>,
    display: &str,
    listed: usize,
) -> usize {
    let log_line = |name: &Option<String>| -> Option<usize> {
        name.as_deref()
            .and_then(|name| name.rsplit(':').next())
            .and_then(|line| line.parse().ok())
    };
    // One step result per distinct request (its earliest occurrence's).
    let mut by_group: BTreeMap<usize, usize> = BTreeMap::new();
    for (position, step) in result.steps.iter().enumerate() {
        if let Some(group) = log_line(&step.name).and_then(|line| group_of_line.get(&line)) {
            by_group.entry(*group).or_insert(position);
        }
    }
    let summary = &mut result.summary;
    summary.steps = 0;
    summary.allowed = 0;
    summary.denied = 0;
    summary.invalid = 0;
    summary.with_errors = 0;
    summary.expectations = 0;
    summary.expectations_failed = 0;
    let mut mismatching: Vec<(usize, usize, usize)> = Vec::new();
    let mut ceiling_findings = 0;
    for (&group, &position) in &by_group {
        let step = &result.steps[position];
        let count = groups[group].count;
        summary.steps += count;
        match step.decision {
            privsim_model::result::Decision::Allow => summary.allowed += count,
            privsim_model::result::Decision::Deny => summary.denied += count,
            privsim_model::result::Decision::Error => summary.invalid += count,
        }
        if !step.errors.is_empty() {
            summary.with_errors += count;
        }
        if let Some(expectation) = &step.expectation {
            summary.expectations += count;
            if !expectation.passed {
                summary.expectations_failed += count;
                mismatching.push((groups[group].first_line, group, position));
            }
        }
        if step.decision == privsim_model::result::Decision::Allow
            && step
                .delegation_ceiling
                .iter()
                .any(|c| c.decision == CeilingDecision::Deny)
        {
            ceiling_findings += count;
        }
    }
    // Ceiling findings: one listed per distinct request (its earliest
    // occurrence), every occurrence counted.
    let mut kept_ceiling = std::collections::BTreeSet::new();
    let listed_steps: std::collections::BTreeSet<usize> =
        by_group.values().map(|&p| result.steps[p].index).collect();
    result.findings.retain(|finding| {
        if finding.kind != FindingKind::DelegationCeiling {
            return true;
        }
        let Some(index) = finding.step else {
            return true;
        };
        listed_steps.contains(&index) && kept_ceiling.insert(index)
    });
    let other_findings = result
        .findings
        .iter()
        .filter(|f| f.kind != FindingKind::DelegationCeiling)
        .count();
    summary.findings = other_findings + ceiling_findings;
    let mismatches = summary.expectations_failed;
    result.passed = summary.expectations_failed == 0 && summary.access_failed == 0;
    mismatching.sort_unstable();
    let shown: Vec<usize> = mismatching
        .iter()
        .take(listed)
        .map(|&(_, _, position)| position)
        .collect();
    let all_steps = std::mem::take(&mut result.steps);
    result.steps = shown
        .iter()
        .filter_map(|&position| all_steps.get(position).cloned())
        .map(|mut step| {
            step.index = log_line(&step.name).unwrap_or(step.index);
            step.line = step.index;
            step
        })
        .collect();
    // Findings point at a log line, not at a position among the steps.
    let line_of_index: HashMap<usize, Option<usize>> = all_steps
        .iter()
        .map(|step| (step.index, log_line(&step.name)))
        .collect();
    for finding in &mut result.findings {
        if let Some(index) = finding.step
            && let Some(line) = line_of_index.get(&index)
        {
            finding.step = *line;
        }
    }
    for policy in &mut result.policy_use {
        policy.determined.clear();
    }
    let distinct_failed = mismatching.len();
    result.warnings.push(streamed_note(
        display,
        result.summary.steps,
        groups.len(),
        mismatches,
        distinct_failed,
        shown.len(),
    ));
    mismatches
}

/// The warning every streamed result carries: what it lists and what not.
fn streamed_note(
    display: &str,
    requests: usize,
    distinct: usize,
    mismatches: usize,
    distinct_failed: usize,
    shown: usize,
) -> String {
    format!(
        "streamed replay of `{display}`: {requests} request(s), {distinct} distinct; steps are not listed one by one, only requests whose recorded decision was not reproduced ({mismatches} request(s) in {distinct_failed} distinct, the first {shown} listed by log line); nor are the steps each policy determined (`policy_use` keeps which policies determined a decision, with empty step lists)"
    )
}
