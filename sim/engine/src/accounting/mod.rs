//! Privilege accounting: for every principal, what it *held* over the run (every
//! pair of its universe the policies allowed with the context its sessions
//! present) against what it *used* (its allowed steps), and the gap between them.
//!
//! Held sets are evaluated at every instant where a decision can change: the
//! start, each grant's start and end, each session's start and end, each step,
//! and each `datetime` literal the policies compare against (and the
//! millisecond after it). Between two such instants nothing a policy can see
//! changes, so a pair held at one instant is held until the next. Each
//! principal's held sets are *asked for* only at the instants where they can
//! differ for it (`change_points`: its sessions opening or closing, the
//! world or a grant changing, or every instant when the context carries the
//! clock); the instants between take the last answer, which gives the same
//! result as asking at every instant ([`Evaluation::EveryInstant`]).
//!
//! Cost: held sets are a function of (world, context) for a principal, so
//! they are asked once per distinct pair of those and reused across instants
//! and across sessions (sessions open at the same instants with the same
//! context form one class). A context that carries the clock differs at every
//! instant; the cost is then instants × distinct session contexts. Without
//! the clock (a log-built world, say) the cost is per change point, not per
//! instant: a log's steps add instants but change nobody's held set.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;

use cedar_policy::EntityUid;
use serde_json::Value;

use crate::held::{Engine, StoreId, Targets};
use crate::load::universe;
use crate::load::{self as scenario, Scenario};
use crate::world::Grant;
use crate::world::{Lived, Timeline, timeline};
use privsim_model::caveat::WindowLimit;
use privsim_model::result::{
    AccountingSummary, Decision, DelegationExcess, Finding, FindingKind, HeldPair, Metrics,
    ObservationStatus, ObservationWindow, Pair, PrincipalAccount, ScenarioResult, StandingTime,
    UncheckedPairs, UnusedAccess, UnusedAction, UnusedScope,
};
use privsim_model::time::Instant;

/// An (action, resource) pair as Cedar UID strings; ordering gives stable output.
type Key = (String, String);

/// Who acts, and in which contexts: its sessions, and `None` for steps it takes
/// (or grants it receives) outside any session.
struct Subject {
    principal: EntityUid,
    sessions: BTreeSet<Option<usize>>,
}

/// Replays a loaded scenario and accounts for every principal's privilege.
pub fn evaluate(scenario: &Scenario) -> ScenarioResult {
    evaluate_with_world(scenario).0
}

/// [`evaluate`], also returning the timeline the replay lived when its world
/// changes (`crate::replay::replay_with_state`), for callers that ask Cedar
/// about that world afterwards.
pub(crate) fn evaluate_with_world(scenario: &Scenario) -> (ScenarioResult, Option<Lived>) {
    let (mut result, lived) = crate::replay::replay_with_state(scenario);
    account(timeline::of(scenario, lived.as_ref()), &mut result);
    (result, lived)
}

/// Computes accounts for every principal of a replayed scenario over the
/// timeline its replay lived, adds them and the expiry findings to `result`.
pub fn account(timeline: Timeline, result: &mut ScenarioResult) {
    account_with(timeline, result, Method::Fast);
}

/// How held sets are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `crate::held::Engine::allowed`: slicing and resource classes.
    Fast,
    /// Every pair through Cedar: the definition, for tests and benchmarks.
    BruteForce,
}

/// [`account`] with a chosen way of computing held sets; both give the same
/// result.
pub fn account_with(timeline: Timeline, result: &mut ScenarioResult, method: Method) {
    account_evaluating(timeline, result, method, Evaluation::AtChanges);
}

/// At which of the [`evaluation_instants`] held sets are asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evaluation {
    /// Only where a principal's held set can differ from the instant before
    /// (`change_points`); the instants between take the answer of the
    /// last one asked.
    AtChanges,
    /// At every instant: the definition, for tests.
    EveryInstant,
}

/// [`account_with`] with a chosen set of instants to ask at; both give the
/// same result.
pub fn account_evaluating(
    timeline: Timeline,
    result: &mut ScenarioResult,
    method: Method,
    evaluation: Evaluation,
) {
    let scenario = timeline.scenario;
    let engine = Engine::of(timeline);
    let held_of = Held {
        engine: &engine,
        method,
    };
    let subjects = subjects(timeline);
    let instants = evaluation_instants(timeline);
    let end = instants.last().copied().unwrap_or(scenario.start);
    let window = Window::of(scenario);
    let mut accounts = Vec::new();
    let mut findings = Vec::new();
    let mut stores_without: BTreeMap<(usize, usize), Option<StoreId>> = BTreeMap::new();
    // Per subject, its classes of sessions and the positions (in
    // `instants`) where its held sets are asked for: each starts a run of
    // instants that hold what it holds.
    let plans: Vec<(Vec<SessionClass>, Vec<usize>)> = subjects
        .values()
        .map(|subject| {
            let classes = session_classes(timeline, subject);
            let asked = match evaluation {
                Evaluation::AtChanges => change_points(timeline, &classes, &instants),
                Evaluation::EveryInstant => (0..instants.len()).collect(),
            };
            (classes, asked)
        })
        .collect();
    crate::progress::phase(
        crate::progress::Phase::Accounting,
        plans.iter().map(|(_, asked)| asked.len()).sum(),
    );
    // A universe depends only on the principal's type: listed, and its
    // targets made, once per type (not once per subject).
    let mut universes: HashMap<String, Rc<Prepared>> = HashMap::new();
    for (subject, (mut classes, asked)) in subjects.values().zip(plans) {
        let prepared = Rc::clone(
            universes
                .entry(subject.principal.type_name().to_string())
                .or_insert_with(|| {
                    let universe = universe::pairs(scenario, &subject.principal);
                    let targets = universe
                        .iter()
                        .map(|(action, resources)| {
                            engine.targets(action.clone(), resources.clone())
                        })
                        .collect();
                    Rc::new(Prepared { universe, targets })
                }),
        );
        let Prepared { universe, targets } = &*prepared;
        let by_type = resources_by_type(universe);
        let mut unchecked: BTreeMap<(String, String, String), (usize, String)> = BTreeMap::new();
        let mut held: BTreeMap<Key, HeldSpan> = BTreeMap::new();
        let mut delegation_excess: BTreeMap<Key, String> = BTreeMap::new();
        let mut reported = BTreeSet::new();
        // Held sets are a function of (store, context) for this principal:
        // kept across instants, so a context that does not carry the clock
        // is asked about once per world, not once per instant.
        let mut allowed_in: HashMap<(StoreId, String), Rc<BTreeSet<Key>>> = HashMap::new();
        let mut rejected_by_context: HashMap<String, Vec<(String, String, usize, String)>> =
            HashMap::new();
        let mut delegators_seen: HashSet<(StoreId, String, String)> = HashSet::new();
        let mut idle = Idle::new(&window, result, &subject.principal);
        for (run, &position) in asked.iter().enumerate() {
            crate::progress::advance();
            // The run of instants this answer holds for: from `at` to the
            // instant before the next asked one, so held until `until`.
            let next = asked.get(run + 1).copied().unwrap_or(instants.len());
            let at = instants[position];
            let last = instants[next.saturating_sub(1).max(position)];
            let until = instants.get(next).copied().unwrap_or(end);
            let segment = timeline.world.segment_at(at);
            let store = Engine::segment(segment);
            // One entry per distinct context presented now: sessions that
            // present the same context (and so hold the same pairs) are
            // asked about once, which keeps many sessions linear.
            let mut by_session: Vec<(Value, Rc<BTreeSet<Key>>)> = Vec::new();
            let mut by_context: HashMap<String, usize> = HashMap::new();
            for class in &mut classes {
                if !open(timeline, class.representative, at) {
                    continue;
                }
                let (chain, context) =
                    presented(timeline, class.representative, &subject.principal, at);
                let context_text = context.to_string();
                let rejected = rejected_by_context
                    .entry(context_text.clone())
                    .or_insert_with(|| {
                        unbuildable(scenario, &subject.principal, &by_type, &context)
                    });
                for (action, resource_type, count, reason) in rejected.iter() {
                    if class
                        .rejected
                        .insert((action.clone(), resource_type.clone()))
                    {
                        for label in &class.labels {
                            unchecked
                                .entry((action.clone(), resource_type.clone(), label.clone()))
                                .or_insert_with(|| (*count, reason.clone()));
                        }
                    }
                }
                let index = match by_context.get(&context_text) {
                    Some(&index) => index,
                    None => {
                        let allowed = Rc::clone(
                            allowed_in
                                .entry((store, context_text.clone()))
                                .or_insert_with(|| {
                                    Rc::new(held_of.keys(
                                        &subject.principal,
                                        targets,
                                        &context,
                                        store,
                                        true,
                                    ))
                                }),
                        );
                        by_session.push((context, allowed));
                        by_context.insert(context_text.clone(), by_session.len() - 1);
                        by_session.len() - 1
                    }
                };
                if let Some(delegator) = chain.len().checked_sub(2).and_then(|i| chain.get(i))
                    && delegators_seen.insert((store, delegator.to_string(), context_text))
                {
                    let (context, allowed) = &by_session[index];
                    let delegator_allowed = held_of.keys(delegator, targets, context, store, false);
                    for key in allowed.difference(&delegator_allowed) {
                        delegation_excess
                            .entry(key.clone())
                            .or_insert_with(|| delegator.to_string());
                    }
                }
            }
            // What the sessions hold now: the one set itself when one
            // context is presented (most instants), else their union (a
            // merge of sorted sets, not an insert per pair).
            let held_now: Rc<BTreeSet<Key>> = match by_session.as_slice() {
                [] => Rc::new(BTreeSet::new()),
                [(_, only)] => Rc::clone(only),
                [(_, first), rest @ ..] => {
                    let mut union = (**first).clone();
                    for (_, more) in rest {
                        union.append(&mut (**more).clone());
                    }
                    Rc::new(union)
                }
            };
            for key in held_now.iter() {
                // Found without a copy of the key: most pairs are held at
                // many instants.
                match held.get_mut(key) {
                    Some(span) => span.extend(at, last, until),
                    None => {
                        let mut span = HeldSpan {
                            first: at,
                            last: at,
                            millis: 0,
                        };
                        span.extend(at, last, until);
                        held.insert(key.clone(), span);
                    }
                }
            }
            // Idle time over `[at, until)` is the sum of the run's instants'
            // spans: they are adjacent, and each adds its overlap with the
            // same stretch of the window.
            idle.held(&held_now, at, until);
            let expiry = Expiry {
                timeline,
                held: &held_of,
                targets,
                at,
                segment,
            };
            for finding in expiry.findings(subject, &by_session, &mut stores_without) {
                // Report each pair a grant still confers once, at the first instant seen.
                if reported.insert((
                    finding.grant.clone(),
                    finding.action.clone(),
                    finding.resource.clone(),
                )) {
                    findings.push(finding);
                }
            }
        }
        let used = used_pairs(result, &subject.principal);
        // A step's own context may allow what the session's context alone does
        // not; the step proves the pair was held at that moment.
        for (key, times) in &used {
            for &at in times {
                held.entry(key.clone())
                    .or_insert_with(|| HeldSpan {
                        first: at,
                        last: at,
                        millis: 0,
                    })
                    .extend(at, at, at);
            }
        }
        let mut account = principal_account(timeline, subject, &held, &used, &delegation_excess);
        idle.annotate(scenario, &mut account);
        for ((action, resource_type, session), (resources, reason)) in unchecked {
            result.warnings.push(format!(
                "{}: {resources} pair(s) of its universe ({action} on every `{resource_type}`) could not be asked about with the context of {}: {reason}; they are counted neither as held nor as not held",
                subject.principal,
                if session == "alone" { "the principal acting alone".to_string() } else { format!("session `{session}`") },
            ));
            account.unchecked.push(UncheckedPairs {
                action,
                resource_type,
                resources,
                session,
                reason,
            });
        }
        accounts.push(account);
    }
    findings.sort_by(|a, b| {
        (
            a.time,
            a.principal.as_str(),
            a.action.as_str(),
            a.resource.as_str(),
        )
            .cmp(&(
                b.time,
                b.principal.as_str(),
                b.action.as_str(),
                b.resource.as_str(),
            ))
    });
    let over_privileged = accounts.iter().filter(|a| a.metrics.unused > 0).count();
    result.accounting = Some(AccountingSummary {
        principals: accounts.len(),
        over_privileged,
        share_over_privileged: ratio(over_privileged, accounts.len()),
        total_weighted_gap: accounts.iter().map(|a| a.metrics.weighted_gap).sum(),
        evaluated_instants: instants.clone(),
    });
    result.observation = Some(window.summary(scenario, result, &accounts));
    result.principals = accounts;
    let decided = engine.decided();
    for usage in &mut result.policy_use {
        usage.held = decided.contains(&usage.id);
    }
    crate::replay::note_unexercised(result);
    result.summary.findings += findings.len();
    result.findings.extend(findings);
}

/// The observation window as the accounting applies it: where it starts and
/// ends, the unused-access threshold, and whether findings can be claimed.
struct Window {
    /// The window's start as set or defaulted (may precede the scenario's
    /// start; nothing before that start is known).
    start: Instant,
    /// From where held time counts: the later of `start` and the scenario's start.
    counted_from: Instant,
    end: Instant,
    unused_after: i64,
    status: ObservationStatus,
}

impl Window {
    fn of(scenario: &Scenario) -> Self {
        let observation = scenario.observation;
        let first_step = scenario.steps.first().map(|s| s.at);
        let last_step = scenario.steps.last().map(|s| s.at);
        let start = observation.start.or(first_step).unwrap_or(scenario.start);
        let end = observation.end.or(last_step).unwrap_or(scenario.start);
        let counted_from = start.max(scenario.start);
        let both_set = observation.start.is_some() && observation.end.is_some();
        let status = if scenario.steps.is_empty() && !both_set {
            ObservationStatus::NoSteps
        } else if end.0.saturating_sub(counted_from.0) < observation.unused_after {
            ObservationStatus::WindowTooShort
        } else {
            ObservationStatus::Evaluated
        };
        Self {
            start,
            counted_from,
            end,
            unused_after: observation.unused_after,
            status,
        }
    }

    fn contains(&self, at: Instant) -> bool {
        self.counted_from <= at && at <= self.end
    }

    /// Whether `idle_ms` makes an unused-access finding.
    fn unused(&self, idle_ms: i64) -> bool {
        self.status == ObservationStatus::Evaluated && idle_ms >= self.unused_after
    }

    /// The time `[at, until)` overlaps `(since, end]`, in milliseconds.
    fn overlap(&self, at: Instant, until: Instant, since: Instant) -> i64 {
        (until.0.min(self.end.0) - at.0.max(since.0)).max(0)
    }

    fn summary(
        &self,
        scenario: &Scenario,
        result: &ScenarioResult,
        accounts: &[PrincipalAccount],
    ) -> ObservationWindow {
        let mut caveats = Vec::new();
        if self.start < scenario.start {
            caveats.push(WindowLimit::StartBeforeScenario {
                start: self.start,
                scenario_start: scenario.start,
            });
        }
        // Step times and uses outside the window only limit findings, so
        // they are said when there are findings to limit.
        let evaluated = self.status == ObservationStatus::Evaluated;
        if evaluated && scenario.untimed_steps > 0 {
            caveats.push(WindowLimit::UntimedSteps {
                steps: scenario.untimed_steps,
            });
        }
        let outside = result
            .steps
            .iter()
            .filter(|s| s.decision == Decision::Allow)
            .filter(|s| !self.contains(s.time))
            .count();
        if evaluated && outside > 0 {
            caveats.push(WindowLimit::StepsOutside { steps: outside });
        }
        let unchecked = accounts.iter().filter(|a| !a.unchecked.is_empty()).count();
        if unchecked > 0 {
            caveats.push(WindowLimit::UncheckedPairs {
                principals: unchecked,
            });
        }
        let mut window = ObservationWindow {
            start: self.start,
            end: self.end,
            unused_after_ms: self.unused_after,
            status: self.status,
            unused_pairs: accounts
                .iter()
                .flat_map(|a| &a.held)
                .filter(|p| p.unused_finding)
                .count(),
            unused_actions: accounts
                .iter()
                .flat_map(|a| &a.unused_access)
                .filter(|u| u.whole_action)
                .count(),
            unused_principals: accounts.iter().filter(|a| a.unused_finding).count(),
            caveats: Vec::new(),
            limits: Vec::new(),
        };
        window.set_limits(caveats);
        window
    }
}

/// Idle time inside the observation window for one principal: per pair,
/// per action and for the principal as a whole, the time held after the
/// last use inside the window (from the window's start when unused there).
/// Last uses come from the replay's allowed steps before the instants are
/// walked, so each instant adds its held span to what it extends: no held
/// set is kept or asked again.
struct Idle<'w> {
    window: &'w Window,
    last_pair: HashMap<Key, Instant>,
    last_action: HashMap<String, Instant>,
    last_any: Option<Instant>,
    pairs: HashMap<Key, i64>,
    actions: BTreeMap<String, i64>,
    any: i64,
}

impl<'w> Idle<'w> {
    fn new(window: &'w Window, result: &ScenarioResult, principal: &EntityUid) -> Self {
        let principal = principal.to_string();
        let mut idle = Self {
            window,
            last_pair: HashMap::new(),
            last_action: HashMap::new(),
            last_any: None,
            pairs: HashMap::new(),
            actions: BTreeMap::new(),
            any: 0,
        };
        for step in result
            .steps
            .iter()
            .filter(|s| s.principal == principal && s.decision == Decision::Allow)
        {
            let at = step.time;
            if !window.contains(at) {
                continue;
            }
            let later = |slot: &mut Instant| *slot = (*slot).max(at);
            later(
                idle.last_pair
                    .entry((step.action.clone(), step.resource.clone()))
                    .or_insert(at),
            );
            later(idle.last_action.entry(step.action.clone()).or_insert(at));
            idle.last_any = Some(idle.last_any.map_or(at, |last| last.max(at)));
        }
        idle
    }

    /// The pairs held during `[at, until)`.
    fn held(&mut self, held_now: &BTreeSet<Key>, at: Instant, until: Instant) {
        let window = self.window;
        let since = |last: Option<&Instant>| {
            last.map_or(window.counted_from, |l| (*l).max(window.counted_from))
        };
        let mut actions: BTreeSet<&str> = BTreeSet::new();
        for key in held_now {
            let overlap = window.overlap(at, until, since(self.last_pair.get(key)));
            match self.pairs.get_mut(key) {
                Some(idle) => *idle += overlap,
                None => {
                    self.pairs.insert(key.clone(), overlap);
                }
            }
            actions.insert(key.0.as_str());
        }
        for action in actions {
            let overlap = window.overlap(at, until, since(self.last_action.get(action)));
            *self.actions.entry(action.to_string()).or_default() += overlap;
        }
        if !held_now.is_empty() {
            self.any += window.overlap(at, until, since(self.last_any.as_ref()));
        }
    }

    /// Adds last uses, idle times and unused-access findings to `account`.
    fn annotate(&self, scenario: &Scenario, account: &mut PrincipalAccount) {
        let window = self.window;
        let mut by_action: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for pair in &mut account.held {
            let key = (pair.action.clone(), pair.resource.clone());
            pair.last_used = self.last_pair.get(&key).copied();
            pair.idle_ms = self.pairs.get(&key).copied().unwrap_or(0);
            pair.unused_finding = window.unused(pair.idle_ms);
            if pair.unused_finding {
                by_action
                    .entry(pair.action.clone())
                    .or_default()
                    .push(pair.resource.clone());
            }
        }
        account.last_used = self.last_any;
        account.idle_ms = self.any;
        account.unused_finding = window.unused(self.any);
        // An action can be unused as a whole while no pair of it is (its
        // resources held in turn), so every such action is listed too.
        for (action, &idle_ms) in &self.actions {
            if window.unused(idle_ms) {
                by_action.entry(action.clone()).or_default();
            }
        }
        account.unused_access = by_action
            .into_iter()
            .map(|(action, resources)| {
                let idle_ms = self.actions.get(&action).copied().unwrap_or(0);
                UnusedAccess {
                    weight: scenario.risk.weight(&action),
                    last_used: self.last_action.get(&action).copied(),
                    idle_ms,
                    whole_action: window.unused(idle_ms),
                    resources,
                    action,
                }
            })
            .collect();
    }
}

/// When a pair was first and last held, and for how long in all.
#[derive(Debug, Clone, Copy)]
struct HeldSpan {
    first: Instant,
    last: Instant,
    millis: i64,
}

impl HeldSpan {
    /// Held at the instants from `at` to `last` (evaluation instants, the
    /// first and last of a run), and so for `[at, until)`.
    fn extend(&mut self, at: Instant, last: Instant, until: Instant) {
        self.first = self.first.min(at);
        self.last = self.last.max(last);
        self.millis += until.0 - at.0;
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0
    }
}

/// Every principal that acts or receives a grant, with the contexts it presents.
fn subjects(timeline: Timeline) -> BTreeMap<String, Subject> {
    let scenario = timeline.scenario;
    let mut subjects: BTreeMap<String, Subject> = BTreeMap::new();
    let mut add = |principal: &EntityUid, session: Option<usize>| {
        subjects
            .entry(principal.to_string())
            .or_insert_with(|| Subject {
                principal: principal.clone(),
                sessions: BTreeSet::new(),
            })
            .sessions
            .insert(session);
    };
    for (index, session) in timeline.sessions.iter().enumerate() {
        add(&session.principal, Some(index));
    }
    for step in &scenario.steps {
        if step.session.is_none() {
            add(&step.principal, None);
        }
    }
    for grant in timeline.grants {
        if !timeline
            .sessions
            .iter()
            .any(|s| s.principal == grant.principal)
        {
            add(&grant.principal, None);
        }
    }
    subjects
}

/// Sessions of one subject that are open at the same instants and present
/// the same context at each: the accounting asks about one of them and
/// records the others' labels, so a scenario with many thousands of alike
/// sessions stays linear.
struct SessionClass {
    /// The first session of the class (or `None`: the principal alone).
    representative: Option<usize>,
    /// The labels of every session of the class, in order.
    labels: Vec<String>,
    /// The (action, resource type) pairs already recorded as unchecked for
    /// every label.
    rejected: BTreeSet<(String, String)>,
}

/// The subject's sessions grouped by everything [`open`] and [`presented`]
/// read of a session, in the order of their first session.
fn session_classes(timeline: Timeline, subject: &Subject) -> Vec<SessionClass> {
    let scenario = timeline.scenario;
    let mut classes: Vec<SessionClass> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for &session in &subject.sessions {
        let (key, label) = match session {
            None => ("alone".to_string(), "alone".to_string()),
            Some(index) => {
                let s = &timeline.sessions[index];
                // The id only matters when a fact puts it in the context.
                let id = scenario.facts.session.as_ref().map(|_| s.id.as_str());
                let chain: Vec<String> = s.chain.iter().map(ToString::to_string).collect();
                let key = serde_json::json!([
                    s.from.map(|t| t.0),
                    s.until.map(|t| t.0),
                    chain,
                    s.task,
                    id,
                    s.context
                ])
                .to_string();
                (key, s.id.clone())
            }
        };
        match by_key.get(&key) {
            Some(&class) => classes[class].labels.push(label),
            None => {
                by_key.insert(key, classes.len());
                classes.push(SessionClass {
                    representative: session,
                    labels: vec![label],
                    rejected: BTreeSet::new(),
                });
            }
        }
    }
    classes
}

fn open(timeline: Timeline, session: Option<usize>, at: Instant) -> bool {
    let Some(session) = session.map(|i| &timeline.sessions[i]) else {
        return true;
    };
    session.from.is_none_or(|from| from <= at) && session.until.is_none_or(|until| at < until)
}

/// An action with, per resource type, how many resources and one of them.
type ActionTypes<'u> = (&'u EntityUid, BTreeMap<String, (usize, &'u EntityUid)>);

/// A principal type's universe and the held-set engine's targets of it.
struct Prepared {
    universe: Vec<(EntityUid, Vec<EntityUid>)>,
    targets: Vec<Targets>,
}

/// The resources of a universe by action and resource type: how many, and
/// one to ask about (the schema judges a request by types and context alone).
fn resources_by_type(universe: &[(EntityUid, Vec<EntityUid>)]) -> Vec<ActionTypes<'_>> {
    universe
        .iter()
        .map(|(action, resources)| {
            let mut by_type: BTreeMap<String, (usize, &EntityUid)> = BTreeMap::new();
            for resource in resources {
                by_type
                    .entry(resource.type_name().to_string())
                    .or_insert((0, resource))
                    .0 += 1;
            }
            (action, by_type)
        })
        .collect()
}

/// The (action, resource type, resources, reason) of a universe for which the
/// schema rejects the request with `context` (it lacks a key the action
/// requires, say), asked once per action and resource type with one resource
/// of the type.
fn unbuildable(
    scenario: &Scenario,
    principal: &EntityUid,
    by_type: &[ActionTypes<'_>],
    context: &Value,
) -> Vec<(String, String, usize, String)> {
    let Some(schema) = scenario.schema.as_ref() else {
        return Vec::new();
    };
    let mut rejected = Vec::new();
    for (action, types) in by_type {
        for (resource_type, (count, resource)) in types {
            if let Err(reason) =
                scenario::build_request(principal, action, resource, context, Some(schema))
            {
                rejected.push((action.to_string(), resource_type.clone(), *count, reason));
            }
        }
    }
    rejected
}

/// The delegation chain of a session (or of a bare principal) and the context
/// it presents at `at`.
fn presented(
    timeline: Timeline,
    session: Option<usize>,
    principal: &EntityUid,
    at: Instant,
) -> (Vec<EntityUid>, Value) {
    let scenario = timeline.scenario;
    let session = session.map(|i| &timeline.sessions[i]);
    let chain = session.map_or_else(|| vec![principal.clone()], |s| s.chain.clone());
    let context = scenario::session_context(&scenario.facts, at, session, principal, &chain);
    (chain, Value::Object(context))
}

/// The instants at which held sets are evaluated, sorted, within the run: from
/// the start to the last step, grant or session boundary.
pub fn evaluation_instants(timeline: Timeline) -> Vec<Instant> {
    let scenario = timeline.scenario;
    let mut instants: BTreeSet<Instant> = BTreeSet::new();
    instants.insert(scenario.start);
    for step in &scenario.steps {
        instants.insert(step.at);
    }
    for grant in timeline.grants {
        instants.insert(grant.from);
        instants.extend(grant.until);
    }
    for session in timeline.sessions {
        instants.extend(session.from);
        instants.extend(session.until);
    }
    // A window set to end after the run is observed up to its end.
    instants.extend(scenario.observation.end);
    let end = instants.last().copied().unwrap_or(scenario.start);
    // The moments a decision can change at: the policies' datetime literals,
    // and the datetimes of the data a policy may compare the clock with.
    for moment in crate::world::state::moments(scenario).at {
        for at in [moment, Instant(moment.0.saturating_add(1))] {
            if scenario.start <= at && at <= end {
                instants.insert(at);
            }
        }
    }
    instants
        .into_iter()
        .filter(|&at| at >= scenario.start)
        .collect()
}

/// The positions in `instants` (sorted, as [`evaluation_instants`] makes
/// them) where what a subject with session classes `classes` holds can
/// differ from the instant before: the first, and the first instant at or
/// after each time something the accounting reads at an instant changes.
/// That is everything the loop in [`account_evaluating`] reads that depends
/// on the instant:
///
/// - which sessions are open ([`open`]: a session's start and end);
/// - the world's store ([`crate::world::World::segment_at`]: each segment's
///   start, where grants and effects change the entities);
/// - the expiry findings (a grant's end, and its start);
/// - the context a session presents ([`presented`]), which depends on the
///   instant only through the clock facts (`now`, `now_unix`): with either
///   set every instant is asked about, as the clock differs at each (so the
///   policies' datetime literals need no change point of their own).
///
/// Between two change points none of these differ, so every instant of the
/// run gets the same held sets, delegation excess, unchecked pairs and
/// (deduplicated) expiry findings as its first; a property test
/// (`accounting_at_changes_equals_every_instant`) checks it against
/// [`Evaluation::EveryInstant`] on generated worlds with and without the clock.
fn change_points(timeline: Timeline, classes: &[SessionClass], instants: &[Instant]) -> Vec<usize> {
    if instants.is_empty() {
        return Vec::new();
    }
    let facts = &timeline.scenario.facts;
    if facts.now.is_some() || facts.now_unix.is_some() {
        return (0..instants.len()).collect();
    }
    let mut times: Vec<Instant> = Vec::new();
    for class in classes {
        if let Some(session) = class.representative.map(|i| &timeline.sessions[i]) {
            times.extend(session.from);
            times.extend(session.until);
        }
    }
    times.extend(timeline.world.segments.iter().filter_map(|s| s.from));
    for grant in timeline.grants {
        times.push(grant.from);
        times.extend(grant.until);
    }
    let mut points: BTreeSet<usize> = BTreeSet::new();
    points.insert(0);
    for time in times {
        let position = instants.partition_point(|&at| at < time);
        if position < instants.len() {
            points.insert(position);
        }
    }
    points.into_iter().collect()
}

/// Held pairs, by the chosen method.
struct Held<'e, 's> {
    engine: &'e Engine<'s>,
    method: Method,
}

impl Held<'_, '_> {
    /// The pairs of `targets` Cedar allows `principal` with `context` in `store`.
    /// With `note`, the requests are the held sets' own (not a delegator's or
    /// a world without a grant, asked for comparison), and the policies that
    /// decide them count as exercised.
    fn keys(
        &self,
        principal: &EntityUid,
        targets: &[Targets],
        context: &Value,
        store: StoreId,
        note: bool,
    ) -> BTreeSet<Key> {
        // Collected first and built in one go (sorted, then bulk-built):
        // inserting a world's held pairs one by one was a quarter of `privsim
        // run`'s time on a world of 2,000 resources.
        let mut keys = Vec::new();
        for target in targets {
            let action = target.action.to_string();
            let engine = self.engine;
            let allowed = match (self.method, note) {
                (Method::Fast, false) => engine.allowed(principal, target, context, store),
                (Method::Fast, true) => engine.allowed_noting(principal, target, context, store),
                (Method::BruteForce, false) => {
                    engine.allowed_brute_force(principal, target, context, store)
                }
                (Method::BruteForce, true) => {
                    engine.allowed_brute_force_noting(principal, target, context, store)
                }
            };
            for (index, _) in allowed.iter().enumerate().filter(|(_, allowed)| **allowed) {
                keys.push((action.clone(), target.key(index).to_string()));
            }
        }
        keys.into_iter().collect()
    }
}

/// The expiry invariant at one instant: after a grant ends, nothing it
/// conferred is still held. A pair held at `at` by the grant's principal, that
/// the same world without the grant would not allow, is a finding.
struct Expiry<'s, 'e> {
    timeline: Timeline<'s>,
    held: &'e Held<'e, 's>,
    targets: &'e [Targets],
    at: Instant,
    segment: usize,
}

impl Expiry<'_, '_> {
    /// Findings for `subject`, given what each of its open sessions holds
    /// now (with the context it presents). Stores without a grant are built
    /// once per (segment, grant) and kept in `stores_without`.
    fn findings(
        &self,
        subject: &Subject,
        by_session: &[(Value, Rc<BTreeSet<Key>>)],
        stores_without: &mut BTreeMap<(usize, usize), Option<StoreId>>,
    ) -> Vec<Finding> {
        let timeline = self.timeline;
        let scenario = timeline.scenario;
        let at = self.at;
        let mut findings = Vec::new();
        for &grant_index in &timeline.world.segments[self.segment].active_grants {
            let grant: &Grant = &timeline.grants[grant_index];
            if grant.principal != subject.principal || grant.until.is_none_or(|until| at < until) {
                continue;
            }
            let store = *stores_without
                .entry((self.segment, grant_index))
                .or_insert_with(|| {
                    let without = timeline
                        .world
                        .entities_without(
                            self.segment,
                            grant_index,
                            timeline.grants,
                            scenario.schema.as_ref(),
                        )
                        .ok()?;
                    Some(self.held.engine.add_store(without))
                });
            let Some(store) = store else { continue };
            for (context, with_grant) in by_session {
                let without_grant =
                    self.held
                        .keys(&subject.principal, self.targets, context, store, false);
                for (action, resource) in with_grant.difference(&without_grant) {
                    findings.push(Finding {
                        kind: FindingKind::Expiry,
                        step: None,
                        time: at,
                        principal: subject.principal.to_string(),
                        delegator: None,
                        grant: Some(grant.id.clone()),
                        action: action.clone(),
                        resource: resource.clone(),
                        determining_policies: Vec::new(),
                        message: format!(
                            "{} still holds {action} on {resource} at {at}, after grant `{}` ended at {}, only because the grant is still in effect",
                            subject.principal,
                            grant.id,
                            grant.until.map(|u| u.to_string()).unwrap_or_default()
                        ),
        rule: None,
        trace: Vec::new(),
        repro: None,
        counterexample: None,
                    });
                }
            }
        }
        findings
    }
}

/// Pairs the principal's allowed steps used, with the times of use.
fn used_pairs(result: &ScenarioResult, principal: &EntityUid) -> BTreeMap<Key, Vec<Instant>> {
    let principal = principal.to_string();
    let mut used: BTreeMap<Key, Vec<Instant>> = BTreeMap::new();
    for step in result
        .steps
        .iter()
        .filter(|s| s.principal == principal && s.decision == Decision::Allow)
    {
        used.entry((step.action.clone(), step.resource.clone()))
            .or_default()
            .push(step.time);
    }
    used
}

fn pair(key: &Key) -> Pair {
    Pair {
        action: key.0.clone(),
        resource: key.1.clone(),
    }
}

fn principal_account(
    timeline: Timeline,
    subject: &Subject,
    held: &BTreeMap<Key, HeldSpan>,
    used: &BTreeMap<Key, Vec<Instant>>,
    delegation_excess: &BTreeMap<Key, String>,
) -> PrincipalAccount {
    let unused: Vec<&Key> = held.keys().filter(|key| !used.contains_key(*key)).collect();
    let weight = |action: &str| timeline.scenario.risk.weight(action);
    let weighted_gap: u64 = unused.iter().map(|(action, _)| weight(action)).sum();
    let used_actions: BTreeSet<&str> = used.keys().map(|(action, _)| action.as_str()).collect();
    let mut unused_actions: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unused_scope: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (action, resource) in &unused {
        if used_actions.contains(action.as_str()) {
            unused_scope
                .entry(action)
                .or_default()
                .push(resource.clone());
        } else {
            *unused_actions.entry(action).or_default() += 1;
        }
    }
    let standing_time = used
        .iter()
        .filter_map(|(key, times)| {
            let span = held.get(key)?;
            let first_use = times.iter().min()?;
            let last_use = times.iter().max()?;
            let standing = span.millis - (last_use.0 - first_use.0).min(span.millis);
            (standing > 0).then(|| StandingTime {
                action: key.0.clone(),
                resource: key.1.clone(),
                held_ms: span.millis,
                first_held: span.first,
                last_held: span.last,
                first_used: *first_use,
                last_used: *last_use,
                standing_ms: standing,
            })
        })
        .collect();
    let held_pairs: Vec<HeldPair> = held
        .iter()
        .map(|(key, span)| HeldPair {
            action: key.0.clone(),
            resource: key.1.clone(),
            held_ms: span.millis,
            first_held: span.first,
            last_held: span.last,
            last_used: None,
            idle_ms: 0,
            unused_finding: false,
        })
        .collect();
    let used_count = used.len();
    PrincipalAccount {
        principal: subject.principal.to_string(),
        sessions: subject
            .sessions
            .iter()
            .flatten()
            .map(|&i| timeline.sessions[i].id.clone())
            .collect(),
        metrics: Metrics {
            held: held.len(),
            used: used_count,
            unused: unused.len(),
            utilization: ratio(used_count, held.len()),
            weighted_gap,
        },
        held: held_pairs,
        used: used.keys().map(pair).collect(),
        unused: unused.iter().map(|key| pair(key)).collect(),
        unused_actions: unused_actions
            .into_iter()
            .map(|(action, pairs)| UnusedAction {
                action: action.to_string(),
                pairs,
                weight: weight(action),
            })
            .collect(),
        unused_scope: unused_scope
            .into_iter()
            .map(|(action, resources)| UnusedScope {
                action: action.to_string(),
                weight: weight(action),
                resources,
            })
            .collect(),
        standing_time,
        delegation_excess: delegation_excess
            .iter()
            .filter(|(key, _)| held.contains_key(*key))
            .map(|(key, delegator)| DelegationExcess {
                action: key.0.clone(),
                resource: key.1.clone(),
                delegator: delegator.clone(),
            })
            .collect(),
        unchecked: Vec::new(),
        last_used: None,
        idle_ms: 0,
        unused_finding: false,
        unused_access: Vec::new(),
    }
}
