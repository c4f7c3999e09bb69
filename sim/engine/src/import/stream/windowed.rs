//! The streamed replay in windows: distinct requests are replayed a window
//! at a time, so what is kept of a request after its window is a small
//! index entry, not its scenario, its loaded step and its step result.
//!
//! What each window gives is a distinct request's *outcome* (decision,
//! errors, expectation, delegation ceiling, determining policies): in a
//! log's world (static, no clock in the context, no grants) it is the same
//! at every occurrence. What carries over between windows is bounded by the
//! principals and pairs, not by the lines: per (principal, action, resource)
//! one allowed request's content, per sessionless principal and per
//! (action, resource type) one request's content, the first `listed`
//! mismatching steps, and the policies that determined a decision. Per
//! distinct request only its index entry is kept (a 128-bit fingerprint of
//! its key, its earliest and latest occurrence, its count and outcome),
//! because the result itself names up to two instants per distinct request
//! (`evaluated_instants`) and counts distinct requests.
//!
//! At the end one small scenario is replayed and accounted: the log's
//! sessions and entities, and of the representatives (each distinct
//! request's earliest and latest occurrence) only those the accounting reads
//! ([`Windowed::finish`] says which and why). The counts are made from the
//! index entries, the instants evaluated from every representative's time,
//! so the result is the one [`super::replay_log_whole`] gives, byte for
//! byte (`import_log_stream::windowed_replay_equals_whole`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sha2::{Digest, Sha256};

use super::{
    LogReader, LoggedStep, Occurrences, StreamStats, length_prefixed, log_line, request_key,
    streamed_note,
};
use crate::import::ImportedEntity;
use crate::import::log::LoggedScenario;
use crate::import::log::LoggedSession;
use crate::load::{LoadOptions, ObservationOptions};
use crate::world::Timeline;
use privsim_model::diag::{Error, Result};
use privsim_model::result::{
    CeilingDecision, Decision, Finding, FindingKind, PolicyKind, ScenarioResult, StepResult,
};
use privsim_model::time::{self, Instant};

/// A distinct request's key ([`request_key`]), hashed: the first 128 bits of
/// its SHA-256. Two different keys share one with a probability of about
/// n² / 2¹²⁹ for n distinct requests (below 10⁻²⁶ for a billion).
type Fingerprint = [u8; 16];

fn fingerprint(key: &str) -> Fingerprint {
    let digest = Sha256::digest(key.as_bytes());
    let mut out = [0; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// An occurrence: its time and log line (ordered by time, then line).
type Seen = (Instant, usize);

/// What the index keeps of one distinct request.
struct Entry {
    /// Its earliest and latest occurrence, how many lines made it and the
    /// first line that made it (the one its window replayed): the whole
    /// replay's bookkeeping, with only time and line kept of each.
    seen: Occurrences<Seen>,
    /// What its window's replay decided; `None` until then.
    outcome: Option<Outcome>,
}

impl Entry {
    fn new(seen: Seen) -> Self {
        Self {
            seen: Occurrences::new(seen),
            outcome: None,
        }
    }

    /// The representatives: the earliest occurrence, and the latest.
    fn representatives(&self) -> impl Iterator<Item = Seen> {
        std::iter::once(self.seen.first).chain(self.seen.last)
    }
}

/// A distinct request's outcome, the same at every occurrence.
#[derive(Clone, Copy)]
struct Outcome {
    decision: Decision,
    with_errors: bool,
    /// Whether its recorded decision was reproduced (`None`: none recorded).
    expectation: Option<bool>,
    /// Allowed although a delegator up its chain is denied it.
    ceiling: bool,
    /// When allowed: its (principal, action, resource) in `Windowed::pairs`.
    pair: Option<usize>,
}

/// A used (principal, action, resource): one allowed request's content,
/// which any representative of the pair can be replayed with (the
/// decision depends on the request, not on its time or line).
struct PairUse {
    template: LoggedStep,
}

/// A window's distinct requests as a scenario, ready to replay, with the
/// fingerprint of the request each of its steps stands for (in step order).
pub(super) struct Window {
    logged: LoggedScenario,
    prints: Vec<Fingerprint>,
}

/// A replayed window: its result and how many steps its scenario loaded, or
/// its load error.
pub(super) struct Replayed {
    window: Window,
    result: Result<(ScenarioResult, usize)>,
}

/// Loads and replays a window (on whichever thread holds it: nothing in it
/// depends on the others).
pub(super) fn replay_window(window: Window, load: &LoadOptions) -> Replayed {
    // Built in memory, not written as TOML and parsed back: a window's step
    // lines and warnings are not kept, and a load error is the text's
    // (`LoggedScenario::load_untexted`).
    let result = window.logged.load_untexted(load).map(|mut scenario| {
        // State invariants are checked once, on the final scenario: a
        // window's would be the same findings again (they do not depend on
        // the steps' times), at a window's cost.
        scenario.invariants.attenuation = false;
        scenario.invariants.never = false;
        scenario.invariants.access = false;
        // Delegation ceilings asked only where `keep` reads them.
        let result = crate::replay::replay_outcomes(&scenario);
        (result, scenario.steps.len())
    });
    Replayed { window, result }
}

/// The two ends of the channels to a worker thread that replays windows
/// ([`replay_window`]) in the order it receives them.
pub(super) struct Worker {
    /// Windows to replay; bounded, so at most one waits while the worker
    /// replays another and this thread builds the next.
    pub(super) windows: std::sync::mpsc::SyncSender<Window>,
    /// Replayed windows, in the order they were sent.
    pub(super) replayed: std::sync::mpsc::Receiver<Replayed>,
}

/// The streamed replay's state between lines.
pub(super) struct Windowed {
    display: String,
    listed: usize,
    window: usize,
    /// Load options of a window's scenario: no observation window (only the
    /// final scenario is accounted, and it resolves the window).
    window_load: LoadOptions,
    entries: HashMap<Fingerprint, Entry>,
    /// New distinct requests not replayed yet.
    pending: Vec<(Fingerprint, LoggedStep)>,
    /// Entities the MCP generator made on the lines since the last window.
    pending_entities: Vec<ImportedEntity>,
    /// Every entity the MCP generator made (the world of the final scenario).
    entities: Vec<ImportedEntity>,
    pairs: Vec<PairUse>,
    /// `pairs` by (principal, action, resource), written as by
    /// [`pair_key`].
    pair_index: HashMap<String, usize>,
    /// The key being looked up in `pair_index` (kept to reuse its buffer).
    pair_key: String,
    /// A request of each principal acting outside a session (the accounting's
    /// subjects).
    alone: BTreeMap<String, (Fingerprint, LoggedStep)>,
    /// A request of each (action, resource type) (a universe without a
    /// schema is made of these).
    /// By action, then resource type (the order of the pair's).
    kinds: BTreeMap<String, BTreeMap<String, (Fingerprint, LoggedStep)>>,
    /// The earliest and the latest line read (by time, then line).
    earliest: Option<LoggedStep>,
    /// The latest line read, when it is not a new distinct request (those
    /// are in `pending`, see `latest_pending`).
    latest: Option<LoggedStep>,
    /// Where the latest line read is in `pending`, when it is there: it is
    /// copied out only when its window is taken, not on every line (in a
    /// log in time order nearly every new request is the latest so far).
    latest_pending: Option<usize>,
    /// The time and line of the latest line read.
    latest_seen: Option<Seen>,
    /// The policies that determined some request's decision.
    determined: BTreeSet<String>,
    /// The first `listed` mismatching requests by their first line.
    mismatching: BTreeMap<usize, (Fingerprint, StepResult)>,
    /// One delegation-ceiling finding per distinct request that raises one.
    ceiling: Vec<(Fingerprint, Finding)>,
    /// The first window that did not load: reported after every line is read,
    /// as the whole replay reports its scenario's load error.
    failed: Option<Error>,
    lines: usize,
    total: usize,
    /// Where windows are replayed: on this thread (`None`) or a worker's.
    worker: Option<Worker>,
    /// Windows handed to the worker and not kept yet.
    in_flight: usize,
}

impl Windowed {
    pub(super) fn new(
        display: String,
        load: &LoadOptions,
        listed: usize,
        window: usize,
        worker: Option<Worker>,
    ) -> Self {
        let window_load = LoadOptions {
            observation: ObservationOptions::default(),
            ..load.clone()
        };
        Self {
            display,
            listed,
            window: window.max(1),
            window_load,
            entries: HashMap::new(),
            pending: Vec::new(),
            pending_entities: Vec::new(),
            entities: Vec::new(),
            pairs: Vec::new(),
            pair_index: HashMap::new(),
            pair_key: String::new(),
            alone: BTreeMap::new(),
            kinds: BTreeMap::new(),
            earliest: None,
            latest: None,
            latest_pending: None,
            latest_seen: None,
            determined: BTreeSet::new(),
            mismatching: BTreeMap::new(),
            ceiling: Vec::new(),
            failed: None,
            lines: 0,
            total: 0,
            worker,
            in_flight: 0,
        }
    }

    /// The load options of a window's scenario.
    pub(super) fn window_load(&self) -> &LoadOptions {
        &self.window_load
    }

    /// Line `number` read: counted, and its request (if any) indexed.
    pub(super) fn line(
        &mut self,
        reader: &LogReader<'_>,
        number: usize,
        request: Option<(LoggedStep, Vec<ImportedEntity>)>,
        key: &mut String,
    ) {
        self.lines = number;
        let Some((step, made)) = request else {
            return;
        };
        self.total += 1;
        self.entities.extend(made.iter().cloned());
        self.pending_entities.extend(made);
        request_key(&step, key);
        let print = fingerprint(key);
        let seen = (step.at, step.line);
        // The places that keep this line's step; it is cloned only when more
        // than one does (most lines of a log repeat a request and are kept by
        // none, or only as the latest).
        let alone = step.session.is_none() && !self.alone.contains_key(&step.principal);
        let resource_type = resource_type(&step.resource);
        let kind = !self
            .kinds
            .get(&step.action)
            .is_some_and(|types| types.contains_key(resource_type));
        let earliest = self.earliest.as_ref().is_none_or(|e| seen < (e.at, e.line));
        let latest = self.latest_seen.is_none_or(|l| seen > l);
        let new = match self.entries.get_mut(&print) {
            Some(entry) => {
                entry.seen.add(seen);
                false
            }
            None => {
                self.entries.insert(print, Entry::new(seen));
                true
            }
        };
        if alone {
            self.alone
                .insert(step.principal.clone(), (print, step.clone()));
        }
        if kind {
            self.kinds
                .entry(step.action.clone())
                .or_default()
                .insert(resource_type.to_string(), (print, step.clone()));
        }
        if earliest {
            self.earliest = Some(step.clone());
        }
        if latest {
            self.latest_seen = Some(seen);
        }
        if !new {
            if latest {
                self.latest = Some(step);
                self.latest_pending = None;
            }
            return;
        }
        if latest {
            self.latest = None;
            self.latest_pending = Some(self.pending.len());
        }
        self.pending.push((print, step));
        if self.pending.len() >= self.window {
            self.flush(reader);
            crate::progress::phase(crate::progress::Phase::Reading, 0);
            crate::progress::done(u64::try_from(number).unwrap_or(u64::MAX));
        }
    }

    /// Replays the pending distinct requests as one scenario and keeps their
    /// outcomes. Waits (keeps them pending) while a session's parent has not
    /// been read yet; keeps the first load error for the end. With a worker
    /// thread, the window is handed to it and its outcomes are kept when it
    /// gives them back, in the order the windows were made.
    fn flush(&mut self, reader: &LogReader<'_>) {
        let Some(window) = self.take_window(reader) else {
            return;
        };
        match &self.worker {
            None => {
                let replayed = replay_window(window, &self.window_load);
                self.absorb(replayed);
            }
            Some(worker) => match worker.windows.send(window) {
                Ok(()) => {
                    self.in_flight += 1;
                    self.absorb_ready(false);
                }
                // The worker is gone (it panicked; the scope reports it):
                // what is left is replayed here, after what it gave back.
                Err(std::sync::mpsc::SendError(window)) => {
                    self.absorb_ready(true);
                    self.worker = None;
                    let replayed = replay_window(window, &self.window_load);
                    self.absorb(replayed);
                }
            },
        }
    }

    /// Keeps the outcomes of the windows the worker has replayed: those
    /// ready now, or (`wait`) every window handed to it.
    fn absorb_ready(&mut self, wait: bool) {
        while self.in_flight > 0 {
            let Some(worker) = &self.worker else {
                return;
            };
            let replayed = if wait {
                match worker.replayed.recv() {
                    Ok(replayed) => replayed,
                    Err(_) => return,
                }
            } else {
                match worker.replayed.try_recv() {
                    Ok(replayed) => replayed,
                    Err(_) => return,
                }
            };
            self.in_flight -= 1;
            self.absorb(replayed);
        }
    }

    /// The pending distinct requests as a window's scenario, or `None` when
    /// there is nothing to replay (none pending, a window already failed, or
    /// a session's parent not read yet).
    fn take_window(&mut self, reader: &LogReader<'_>) -> Option<Window> {
        if let Some(at) = self.latest_pending.take() {
            self.latest = self.pending.get(at).map(|(_, step)| step.clone());
        }
        if self.pending.is_empty() {
            return None;
        }
        if self.failed.is_some() {
            self.pending.clear();
            self.pending_entities.clear();
            return None;
        }
        let Ok(sessions) = reader.sessions() else {
            return None;
        };
        let sessions = needed_sessions(sessions, &self.pending);
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_by_key(|(_, step)| (step.at, step.line));
        let (prints, steps): (Vec<Fingerprint>, Vec<LoggedStep>) = pending.into_iter().unzip();
        let logged = reader.scenario(sessions, std::mem::take(&mut self.pending_entities), steps);
        Some(Window { logged, prints })
    }

    /// Keeps a replayed window's outcomes, or its load error if it is the
    /// first (a window after a failed one is not kept: the result is the
    /// error).
    fn absorb(&mut self, replayed: Replayed) {
        if self.failed.is_some() {
            return;
        }
        match replayed.result {
            Ok((result, loaded_steps)) => self.keep(
                loaded_steps,
                result,
                &replayed.window.prints,
                &replayed.window.logged.steps,
            ),
            Err(error) => self.failed = Some(error),
        }
    }

    /// Keeps what a window's replay decided.
    ///
    /// The window's scenario has one step per logged step, in their order
    /// (its loader neither drops nor reorders steps, and a logged step
    /// repeats nothing), and replay gives one result per step in step order,
    /// numbered from 1: so the n-th result is the n-th logged step's and
    /// stands for the n-th fingerprint. That is checked (the counts, and
    /// each result's name against its logged step's line, the name being
    /// what the whole replay matches results by): a window that breaks it
    /// fails the import with an internal error rather than keep outcomes
    /// under the wrong requests.
    fn keep(
        &mut self,
        loaded_steps: usize,
        result: ScenarioResult,
        prints: &[Fingerprint],
        steps: &[LoggedStep],
    ) {
        let misplaced = result
            .steps
            .iter()
            .zip(steps)
            .find(|(step, logged)| log_line(&step.name) != Some(logged.line));
        if loaded_steps != steps.len() || result.steps.len() != steps.len() || misplaced.is_some() {
            self.failed = Some(Error::Internal(format!(
                "a window of {} logged requests loaded {loaded_steps} steps and replayed {}{}; this is a bug of privsim",
                steps.len(),
                result.steps.len(),
                misplaced.map_or(String::new(), |(step, logged)| format!(
                    ", and its step {} is not log line {}",
                    step.index, logged.line
                )),
            )));
            return;
        }
        for ((step, logged), &print) in result.steps.into_iter().zip(steps).zip(prints) {
            let allowed = step.decision == Decision::Allow;
            let pair = allowed.then(|| {
                pair_key(
                    &mut self.pair_key,
                    &step.principal,
                    &step.action,
                    &step.resource,
                );
                match self.pair_index.get(self.pair_key.as_str()) {
                    Some(&pair) => pair,
                    None => {
                        self.pairs.push(PairUse {
                            template: logged.clone(),
                        });
                        let pair = self.pairs.len() - 1;
                        self.pair_index.insert(self.pair_key.clone(), pair);
                        pair
                    }
                }
            });
            let outcome = Outcome {
                decision: step.decision,
                with_errors: !step.errors.is_empty(),
                expectation: step.expectation.as_ref().map(|e| e.passed),
                ceiling: allowed
                    && step
                        .delegation_ceiling
                        .iter()
                        .any(|c| c.decision == CeilingDecision::Deny),
                pair,
            };
            for policy in &step.determining_policies {
                if !self.determined.contains(policy) {
                    self.determined.insert(policy.clone());
                }
            }
            let Some(entry) = self.entries.get_mut(&print) else {
                continue;
            };
            entry.outcome = Some(outcome);
            if outcome.expectation == Some(false) {
                self.mismatching
                    .insert(entry.seen.first_line, (print, step));
                if self.mismatching.len() > self.listed {
                    self.mismatching.pop_last();
                }
            }
        }
        for finding in result.findings {
            if finding.kind != FindingKind::DelegationCeiling {
                continue;
            }
            // Results are numbered from 1 in step order (see above).
            if let Some(&print) = finding
                .step
                .and_then(|index| index.checked_sub(1))
                .and_then(|at| prints.get(at))
            {
                self.ceiling.push((print, finding));
            }
        }
    }

    /// After the last line: the last window, then the result of the whole
    /// log from the index and one small scenario.
    ///
    /// The accounting of a log's scenario (no grants, no clock, sessions
    /// without bounds: one change point) reads of its steps only: the first
    /// and the last time (the run and the default window), the principals
    /// acting outside a session, the (action, resource type) of each step
    /// (a universe without a schema), and of its allowed steps per
    /// (principal, action, resource) the earliest and latest time and the
    /// latest time inside the window, and how many fall outside the window.
    /// The final scenario holds a representative for each of these (each a
    /// real representative, replayed with its own or its pair's content, so
    /// it gets its own decision); the allowed ones outside the window it
    /// lacks are counted in by step results that name no principal (they
    /// touch no account), removed after; the instants evaluated are
    /// completed with every representative's time.
    pub(super) fn finish(
        mut self,
        reader: &LogReader<'_>,
        load: &LoadOptions,
    ) -> Result<(ScenarioResult, StreamStats)> {
        if self.total == 0 {
            return Err(Error::NotFound(format!(
                "`{}` holds no requests",
                self.display
            )));
        }
        let sessions = reader.sessions()?;
        self.flush(reader);
        // Every window kept before anything is read from the index; the
        // worker, if any, stops when its channel closes.
        self.absorb_ready(true);
        self.worker = None;
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        let (Some(earliest), Some(latest)) = (self.earliest.take(), self.latest.take()) else {
            return Err(Error::NotFound(format!(
                "`{}` holds no requests",
                self.display
            )));
        };
        let start = earliest.at;
        // The window as the accounting applies it (`Window::of`); a time
        // that does not read is the final load's error.
        let resolve = |written: &Option<String>| {
            written
                .as_ref()
                .and_then(|text| time::parse_time(text, start).ok())
        };
        let counted_from = resolve(&load.observation.start).unwrap_or(start).max(start);
        let end = resolve(&load.observation.end).unwrap_or(latest.at);
        let inside = |at: Instant| counted_from <= at && at <= end;

        let mut tally = Tally::default();
        let mut times: Vec<Instant> = Vec::with_capacity(self.entries.len() * 2);
        // Per pair: earliest and latest representative, and the latest
        // inside the window.
        let mut spans: Vec<Option<(Seen, Seen)>> = vec![None; self.pairs.len()];
        let mut inside_last: Vec<Option<Seen>> = vec![None; self.pairs.len()];
        let mut outside_allowed = 0usize;
        let mut outside_at: Option<Instant> = None;
        for entry in self.entries.values() {
            let Some(outcome) = entry.outcome else {
                debug_assert!(false, "every distinct request is replayed");
                continue;
            };
            tally.add(entry, outcome);
            for seen in entry.representatives() {
                times.push(seen.0);
                let Some(pair) = outcome.pair else { continue };
                let span = spans[pair].get_or_insert((seen, seen));
                span.0 = span.0.min(seen);
                span.1 = span.1.max(seen);
                if inside(seen.0) {
                    let last = inside_last[pair].get_or_insert(seen);
                    *last = (*last).max(seen);
                } else {
                    outside_allowed += 1;
                    outside_at = Some(seen.0);
                }
            }
        }
        let mut reduced: BTreeMap<Seen, LoggedStep> = BTreeMap::new();
        let mut place = |seen: Seen, template: &LoggedStep| {
            reduced.entry(seen).or_insert_with(|| {
                let mut step = template.clone();
                step.at = seen.0;
                step.line = seen.1;
                step
            });
        };
        place((earliest.at, earliest.line), &earliest);
        place((latest.at, latest.line), &latest);
        for ((pair, span), inside_last) in self.pairs.iter().zip(&spans).zip(&inside_last) {
            let (first, last) = span.map_or((None, None), |(f, l)| (Some(f), Some(l)));
            for seen in [first, last, *inside_last].into_iter().flatten() {
                place(seen, &pair.template);
            }
        }
        for (print, template) in self
            .alone
            .values()
            .chain(self.kinds.values().flat_map(BTreeMap::values))
        {
            if let Some(entry) = self.entries.get(print) {
                place(entry.seen.first, template);
            }
        }
        let steps: Vec<LoggedStep> = reduced.into_values().collect();
        let logged = reader.scenario(sessions, std::mem::take(&mut self.entities), steps);
        // Its warnings are the result's, located in its text: when there are
        // any, the scenario is loaded from its text.
        let mut scenario = logged.load_untexted(load)?;
        if !scenario.warnings.is_empty() {
            scenario = logged.load_with(load)?;
        }
        let (mut result, _) = crate::replay::replay_with_state(&scenario);

        // Allowed representatives outside the window the final scenario
        // lacks, for the observation's count of them.
        let window_steps = result.steps.len();
        let fillers = outside_allowed.saturating_sub(
            result
                .steps
                .iter()
                .filter(|s| s.decision == Decision::Allow)
                .filter(|s| !inside(s.time))
                .count(),
        );
        if let (Some(at), Some(model)) = (outside_at, result.steps.first()) {
            let mut filler = model.clone();
            filler.principal = String::new();
            filler.action = String::new();
            filler.resource = String::new();
            filler.delegation_chain = Vec::new();
            filler.decision = Decision::Allow;
            filler.time = at;
            result.steps.extend(std::iter::repeat_n(filler, fillers));
        }
        // The ceiling findings of the whole log, one per distinct request at
        // its earliest occurrence, in that order (as the replay of every
        // representative lists them).
        result
            .findings
            .retain(|f| f.kind != FindingKind::DelegationCeiling);
        let mut ceiling = std::mem::take(&mut self.ceiling);
        ceiling.sort_by_key(|(print, _)| self.entries.get(print).map(|e| e.seen.first));
        for (print, mut finding) in ceiling {
            if let Some(entry) = self.entries.get(&print) {
                finding.step = Some(entry.seen.first.1);
                finding.time = entry.seen.first.0;
            }
            result.findings.push(finding);
        }
        for usage in &mut result.policy_use {
            usage.determined = if self.determined.contains(&usage.id) {
                vec![0]
            } else {
                Vec::new()
            };
        }
        result.dead_policies = result
            .policy_use
            .iter()
            .filter(|u| u.effect != PolicyKind::Template && u.determined.is_empty())
            .map(|u| u.id.clone())
            .collect();
        crate::accounting::account(Timeline::loaded(&scenario), &mut result);
        result.steps.truncate(window_steps);
        for usage in &mut result.policy_use {
            usage.determined.clear();
        }
        let mut instants = crate::accounting::evaluation_instants(Timeline::loaded(&scenario));
        instants.extend(times);
        instants.sort_unstable();
        instants.dedup();
        if let Some(accounting) = &mut result.accounting {
            accounting.evaluated_instants = instants;
        }

        let summary = &mut result.summary;
        summary.steps = tally.steps;
        summary.allowed = tally.allowed;
        summary.denied = tally.denied;
        summary.invalid = tally.invalid;
        summary.with_errors = tally.with_errors;
        summary.expectations = tally.expectations;
        summary.expectations_failed = tally.expectations_failed;
        summary.findings = result
            .findings
            .iter()
            .filter(|f| f.kind != FindingKind::DelegationCeiling)
            .count()
            + tally.ceiling;
        result.passed = summary.expectations_failed == 0 && summary.access_failed == 0;
        let shown: Vec<StepResult> = std::mem::take(&mut self.mismatching)
            .into_values()
            .map(|(print, mut step)| {
                if let Some(entry) = self.entries.get(&print) {
                    let (at, line) = entry.seen.first;
                    step.time = at;
                    step.index = line;
                    step.line = line;
                    step.name = step.name.as_deref().map(|name| {
                        let log = name.rsplit_once(':').map_or(name, |(log, _)| log);
                        format!("{log}:{line}")
                    });
                }
                step
            })
            .collect();
        result.warnings.push(streamed_note(
            &self.display,
            tally.steps,
            self.entries.len(),
            tally.expectations_failed,
            tally.distinct_failed,
            shown.len(),
        ));
        result.steps = shown;
        let stats = StreamStats {
            lines: self.lines,
            requests: self.total,
            distinct: self.entries.len(),
            mismatches: tally.expectations_failed,
        };
        Ok((result, stats))
    }
}

/// The counts of the whole log, from the index entries.
#[derive(Default)]
struct Tally {
    steps: usize,
    allowed: usize,
    denied: usize,
    invalid: usize,
    with_errors: usize,
    expectations: usize,
    expectations_failed: usize,
    distinct_failed: usize,
    ceiling: usize,
}

impl Tally {
    fn add(&mut self, entry: &Entry, outcome: Outcome) {
        let count = entry.seen.count;
        self.steps += count;
        match outcome.decision {
            Decision::Allow => self.allowed += count,
            Decision::Deny => self.denied += count,
            Decision::Error => self.invalid += count,
        }
        if outcome.with_errors {
            self.with_errors += count;
        }
        if let Some(passed) = outcome.expectation {
            self.expectations += count;
            if !passed {
                self.expectations_failed += count;
                self.distinct_failed += 1;
            }
        }
        if outcome.ceiling {
            self.ceiling += count;
        }
    }
}

/// The sessions the pending steps act in, with their ancestors, in the
/// order given (parents first).
fn needed_sessions(
    sessions: Vec<LoggedSession>,
    pending: &[(Fingerprint, LoggedStep)],
) -> Vec<LoggedSession> {
    let parent_of: HashMap<&str, Option<&str>> = sessions
        .iter()
        .map(|s| (s.id.as_str(), s.parent.as_deref()))
        .collect();
    let mut needed: BTreeSet<String> = BTreeSet::new();
    for (_, step) in pending {
        let mut next = step.session.as_deref();
        while let Some(id) = next {
            if !needed.insert(id.to_string()) {
                break;
            }
            next = parent_of.get(id).copied().flatten();
        }
    }
    sessions
        .into_iter()
        .filter(|s| needed.contains(&s.id))
        .collect()
}

/// Writes a (principal, action, resource) into `key` so that two are written
/// the same only when they are equal.
fn pair_key(key: &mut String, principal: &str, action: &str, resource: &str) {
    key.clear();
    for part in [principal, action, resource] {
        length_prefixed(key, part);
    }
}

/// The type part of a Cedar UID string (`NS::Type` of `NS::Type::"id"`).
fn resource_type(uid: &str) -> &str {
    uid.find("::\"").map_or(uid, |end| &uid[..end])
}
