//! Replay: evaluate each prebuilt step request with Cedar's `Authorizer` in the
//! entity store of its moment, check expectations, the delegation ceiling and
//! access assertions, and produce the result model.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cedar_policy::{Effect, PolicyId, Response};

use crate::load::{self as scenario, AccessCheck, Scenario, Step};
use crate::world::slices::Slices;
use crate::world::state::{Machine, State};
use crate::world::{Lived, Timeline, timeline};
use privsim_model::result::{
    AccessResult, CeilingCheck, CeilingDecision, Decision, EvaluationError, ExpectationResult,
    Finding, FindingKind, PolicyKind, PolicyUse, ScenarioResult, StepResult, Summary,
};

/// Replays a scenario and returns its result.
#[cfg_attr(
    not(feature = "internals"),
    expect(dead_code, reason = "for tests and benches, through `internals`")
)]
pub fn replay(scenario: &Scenario) -> ScenarioResult {
    replay_with_state(scenario).0
}

/// Whether replaying a scenario changes its world: it has effects or
/// dormant sessions, so steps run on a [`State`] rather than on the
/// precomputed segments.
pub fn is_dynamic(scenario: &Scenario) -> bool {
    !scenario.effects.is_empty() || scenario.sessions.iter().any(|s| s.dormant)
}

/// Replays a scenario; for a scenario whose world changes, also returns the
/// timeline the replay lived ([`crate::world::state::lived`]), for accounting.
pub fn replay_with_state(scenario: &Scenario) -> (ScenarioResult, Option<Lived>) {
    replay_in(scenario, false, Ceilings::Every)
}

/// Which steps' delegation ceilings (one Cedar request per delegator up the
/// chain) a replay asks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ceilings {
    /// Every step's: the result lists them all.
    Every,
    /// Only those a step's outcome reads: an allowed step's (the ceiling
    /// invariant's finding) and a step's whose expectation failed (it is
    /// reported whole). Other steps' lists are left empty.
    Read,
}

/// [`replay_with_state`]'s result, with delegation ceilings asked only of
/// allowed steps and of steps whose expectation failed (others list none),
/// for a caller that reads nothing else of them: the streamed import keeps
/// of a window's step its decision, determining policies, errors and
/// expectation, whether an allowed step's ceiling was denied, the ceiling
/// findings (of allowed steps only), and a failed step's result whole. On a
/// scenario whose world changes, every ceiling is asked.
pub(crate) fn replay_outcomes(scenario: &Scenario) -> ScenarioResult {
    replay_in(scenario, false, Ceilings::Read).0
}

/// [`replay`] with every state's held sets computed by brute force, one
/// Cedar request per pair ([`Machine::brute_force`]): the definition the
/// incremental snapshots are tested and benchmarked against. The result is
/// the same, byte for byte.
#[cfg_attr(
    not(feature = "internals"),
    expect(
        dead_code,
        reason = "the oracle of tests and benches, through `internals`"
    )
)]
pub fn replay_brute_force(scenario: &Scenario) -> ScenarioResult {
    replay_in(scenario, true, Ceilings::Every).0
}

fn replay_in(
    scenario: &Scenario,
    brute_force: bool,
    ceilings: Ceilings,
) -> (ScenarioResult, Option<Lived>) {
    // The brute-force path asks Cedar with every policy, the definition the
    // sliced asks are compared with.
    let ask = if brute_force {
        Slices::whole(&scenario.policies.set)
    } else {
        Slices::new(&scenario.policies.set)
    };
    let mut summary = Summary::default();
    let mut steps = Vec::with_capacity(scenario.steps.len());
    let mut findings = Vec::new();
    let dynamic = is_dynamic(scenario);
    let checks = StateChecks::new(scenario);
    let machine = (dynamic || checks.any()).then(|| {
        let machine = Machine::new(scenario);
        if brute_force {
            machine.brute_force()
        } else {
            machine
        }
    });
    let mut state = machine.as_ref().map(Machine::initial);
    let mut seen = BTreeSet::new();
    if let (Some(machine), Some(state)) = (&machine, &state) {
        check_state(machine, state, &checks, None, &mut seen, &mut findings);
    }
    let mut checked_segment = 0;
    crate::progress::phase(crate::progress::Phase::Replaying, scenario.steps.len());
    for step in &scenario.steps {
        crate::progress::advance();
        let result = match (&machine, &mut state) {
            (Some(machine), Some(state)) if dynamic => {
                let before = active_ids(state);
                state.time = step.at;
                let result = replay_dynamic_step(&ask, machine, state, step);
                if !result.effects.is_empty() || active_ids(state) != before {
                    check_state(
                        machine,
                        state,
                        &checks,
                        Some(step.index + 1),
                        &mut seen,
                        &mut findings,
                    );
                }
                result
            }
            machine_and_state => {
                // The precomputed segments: state invariants are checked
                // again only when a grant boundary changed the world.
                if let (Some(machine), Some(state)) = machine_and_state
                    && step.segment != checked_segment
                {
                    checked_segment = step.segment;
                    state.time = step.at;
                    check_state(
                        machine,
                        state,
                        &checks,
                        Some(step.index + 1),
                        &mut seen,
                        &mut findings,
                    );
                }
                let segment = &scenario.world.segments[step.segment];
                replay_step(
                    &ask,
                    scenario,
                    step,
                    &segment.entities,
                    grant_ids(scenario, &segment.active_grants),
                    ceilings,
                )
            }
        };
        if checks.never
            && result.decision == Decision::Allow
            && let (Some(machine), Some(state)) = (&machine, &state)
        {
            never_on_step(machine, state, step, &result, &mut seen, &mut findings);
        }
        tally(&mut summary, &result);
        if scenario.invariants.delegation_ceiling
            && let Some(finding) = ceiling_finding(&result)
        {
            findings.push(finding);
        }
        steps.push(result);
    }
    let mut warnings = scenario.warnings.clone();
    let lived = match &state {
        Some(state) if dynamic => crate::world::state::lived(scenario, state)
            .map_err(|warning| warnings.push(warning))
            .ok(),
        _ => None,
    };
    let timeline = timeline::of(scenario, lived.as_ref());
    let access: Vec<AccessResult> = scenario
        .access
        .iter()
        .map(|check| replay_access(&ask, timeline, check))
        .collect();
    let (policy_use, dead_policies) = policy_use(scenario, &steps);
    summary.access_checks = access.len();
    summary.access_failed = access.iter().filter(|a| !a.passed).count();
    summary.findings = findings.len();
    let result = ScenarioResult {
        name: scenario.name.clone(),
        file: scenario.file.display.clone(),
        policy_files: scenario
            .policies
            .files
            .iter()
            .map(|f| f.display.clone())
            .collect(),
        policies: scenario
            .policies
            .origin
            .keys()
            .filter_map(|id| {
                scenario
                    .policies
                    .location(id)
                    .map(|(file, line)| (id.clone(), format!("{file}:{line}")))
            })
            .collect(),
        start: scenario.start,
        passed: summary.expectations_failed == 0 && summary.access_failed == 0,
        summary,
        steps,
        access,
        findings,
        search: None,
        warnings,
        principals: Vec::new(),
        accounting: None,
        observation: None,
        policy_use,
        dead_policies,
        unexercised: Vec::new(),
        suggestion: None,
        never_rules: Vec::new(),
    };
    let mut result = result;
    note_unexercised(&mut result);
    (result, lived)
}

fn grant_ids(scenario: &Scenario, active: &[usize]) -> Vec<String> {
    active
        .iter()
        .map(|&g| scenario.grants[g].id.clone())
        .collect()
}

/// The ids of the grants active in a state.
fn active_ids(state: &State) -> Vec<String> {
    state
        .grants
        .iter()
        .filter(|g| g.active_at(state.time))
        .map(|g| g.id.clone())
        .collect()
}

/// Which state invariants a scenario needs checked in replay, and for whom.
struct StateChecks {
    never: bool,
    attenuation: bool,
    access: bool,
}

impl StateChecks {
    fn new(scenario: &Scenario) -> Self {
        let invariants = scenario.invariants;
        Self {
            never: invariants.never && !scenario.never.is_empty(),
            attenuation: invariants.attenuation
                && scenario.sessions.iter().any(|s| s.parent.is_some()),
            access: invariants.access && scenario.access.iter().any(|a| a.always),
        }
    }

    fn any(&self) -> bool {
        self.never || self.attenuation || self.access
    }
}

/// Checks the state invariants in a state and adds new findings. Expiry is
/// left to accounting, which sees the whole run.
fn check_state(
    machine: &Machine<'_>,
    state: &State,
    checks: &StateChecks,
    step: Option<usize>,
    seen: &mut BTreeSet<(String, String, String, String, String)>,
    findings: &mut Vec<Finding>,
) {
    if !checks.any() {
        return;
    }
    let relevant = |actor: usize| {
        let a = &machine.actors[actor];
        (checks.never
            && machine
                .scenario
                .never
                .iter()
                .any(|r| r.principal.matches(&a.principal)))
            || (checks.attenuation
                && a.session
                    .is_some_and(|s| machine.scenario.sessions[s].parent.is_some()))
            || (checks.access
                && machine
                    .scenario
                    .access
                    .iter()
                    .any(|c| c.always && c.principal == a.principal))
    };
    let Ok(snapshot) = machine.snapshot_of(state, relevant) else {
        return;
    };
    for mut violation in machine.violations(state, &snapshot) {
        let mut key = violation.key();
        if violation.kind == FindingKind::Never {
            // A never rule is about the principal: its sessions and the
            // principal acting alone are one finding (the first actor met, a
            // session before the lone principal, speaks for them).
            key.1 = machine.actors[violation.actor].principal.to_string();
        }
        if violation.kind == FindingKind::Expiry || !seen.insert(key) {
            continue;
        }
        if violation.determining.is_empty() && !violation.missing {
            violation.determining = machine.determining(
                state,
                violation.actor,
                &violation.action,
                &violation.resource,
            );
        }
        findings.push(machine.finding(&violation, state, step));
    }
}

/// The `[[never]]` rules an allowed step breaks, judged on the request it
/// made (with the context it presented), one finding per rule and principal
/// as for [`check_state`].
fn never_on_step(
    machine: &Machine<'_>,
    state: &State,
    step: &Step,
    result: &StepResult,
    seen: &mut BTreeSet<(String, String, String, String, String)>,
    findings: &mut Vec<Finding>,
) {
    let actor = match step.session {
        Some(session) => Some(machine.session_actor(session)),
        None => machine.lone_actor(&step.principal),
    };
    // Every principal that acts alone in a step is an actor of the machine
    // (`Machine::new`), so this is never `None` for a scripted step.
    let Some(actor) = actor else {
        return;
    };
    for violation in machine.never_on_request(
        actor,
        &step.action,
        &step.resource,
        &result.determining_policies,
        &|_| false,
    ) {
        let mut key = violation.key();
        key.1 = step.principal.to_string();
        if seen.insert(key) {
            // The finding is at the step's time (the state's clock moves only
            // with the world's changes on the precomputed path).
            let mut at = state.clone();
            at.time = step.at;
            findings.push(machine.finding(&violation, &at, Some(step.index + 1)));
        }
    }
}

/// A step of a scenario whose world changes: evaluated in the state's store,
/// then its effects applied when it is allowed.
fn replay_dynamic_step(
    ask: &Slices,
    machine: &Machine<'_>,
    state: &mut State,
    step: &Step,
) -> StepResult {
    let actor = match step.session {
        Some(session) => machine.session_actor(session),
        None => machine.lone_actor(&step.principal).unwrap_or(0),
    };
    let active = active_ids(state);
    let not_running = !machine.running(state, actor);
    let store = machine.store(state, None);
    let (store, problem) = match (not_running, store) {
        (true, _) => (
            None,
            Some(format!(
                "session `{}` is not running at {} (it is dormant until an effect starts it, or its lifetime is over)",
                step.session
                    .map(|i| machine.scenario.sessions[i].id.as_str())
                    .unwrap_or_default(),
                step.at
            )),
        ),
        (false, Ok(store)) => (Some(store), None),
        (false, Err(message)) => (None, Some(format!("the world is invalid: {message}"))),
    };
    let Some(store) = store else {
        let message = problem.unwrap_or_default();
        let mut result = replay_step(
            ask,
            machine.scenario,
            step,
            &cedar_policy::Entities::empty(),
            active,
            Ceilings::Every,
        );
        result.decision = Decision::Error;
        result.determining_policies = Vec::new();
        result.errors = vec![EvaluationError {
            policy: None,
            message,
        }];
        result.delegation_ceiling = Vec::new();
        result.expectation = check_expectation(
            step,
            result.decision,
            &result.determining_policies,
            &result.errors,
        );
        return result;
    };
    let mut result = replay_step(ask, machine.scenario, step, &store, active, Ceilings::Every);
    if result.decision == Decision::Allow {
        let applied =
            machine.apply_effects(state, actor, &step.action, &step.resource, &step.context);
        result.effects = applied.effects;
        if let Some(message) = applied.error {
            result.decision = Decision::Error;
            result.errors.push(EvaluationError {
                policy: None,
                message,
            });
            result.expectation = check_expectation(
                step,
                result.decision,
                &result.determining_policies,
                &result.errors,
            );
        }
    }
    result
}

/// Which steps each policy determined, and the policies that determined none.
fn policy_use(scenario: &Scenario, steps: &[StepResult]) -> (Vec<PolicyUse>, Vec<String>) {
    let set = &scenario.policies.set;
    let mut uses: BTreeMap<String, PolicyUse> = BTreeMap::new();
    let ids = set
        .policies()
        .map(|p| p.id().to_string())
        .chain(set.templates().map(|t| t.id().to_string()))
        .chain(scenario.policies.origin.keys().cloned());
    for id in ids {
        if uses.contains_key(&id) {
            continue;
        }
        let policy_id = PolicyId::new(id.as_str());
        let effect = match (set.policy(&policy_id), set.template(&policy_id)) {
            (Some(policy), _) => effect_name(policy.effect()),
            (None, Some(_)) => PolicyKind::Template,
            (None, None) => continue,
        };
        let location = scenario
            .policies
            .location(&id)
            .map(|(file, line)| format!("{file}:{line}"));
        uses.insert(
            id.clone(),
            PolicyUse {
                id,
                effect,
                location,
                determined: Vec::new(),
                held: false,
                search: false,
            },
        );
    }
    for step in steps {
        for id in &step.determining_policies {
            if let Some(entry) = uses.get_mut(id) {
                entry.determined.push(step.index);
            }
        }
    }
    let dead = uses
        .values()
        .filter(|u| u.effect != PolicyKind::Template && u.determined.is_empty())
        .map(|u| u.id.clone())
        .collect();
    (uses.into_values().collect(), dead)
}

/// Lists in `unexercised` the policies and template links of `policy_use`
/// that decided no request: no step, no held-set request, no search move
/// (whichever of these ran). Templates decide only through their links.
pub fn note_unexercised(result: &mut ScenarioResult) {
    result.unexercised = result
        .policy_use
        .iter()
        .filter(|u| {
            u.effect != PolicyKind::Template && u.determined.is_empty() && !u.held && !u.search
        })
        .map(|u| u.id.clone())
        .collect();
}

fn effect_name(effect: Effect) -> PolicyKind {
    match effect {
        Effect::Permit => PolicyKind::Permit,
        Effect::Forbid => PolicyKind::Forbid,
    }
}

fn tally(summary: &mut Summary, result: &StepResult) {
    summary.steps += 1;
    match result.decision {
        Decision::Allow => summary.allowed += 1,
        Decision::Deny => summary.denied += 1,
        Decision::Error => summary.invalid += 1,
    }
    if result.decision != Decision::Error && !result.errors.is_empty() {
        summary.with_errors += 1;
    }
    if let Some(expectation) = &result.expectation {
        summary.expectations += 1;
        if !expectation.passed {
            summary.expectations_failed += 1;
        }
    }
}

fn step_decision(decision: cedar_policy::Decision) -> Decision {
    match decision {
        cedar_policy::Decision::Allow => Decision::Allow,
        cedar_policy::Decision::Deny => Decision::Deny,
    }
}

fn ceiling_decision(decision: cedar_policy::Decision) -> CeilingDecision {
    match decision {
        cedar_policy::Decision::Allow => CeilingDecision::Allow,
        cedar_policy::Decision::Deny => CeilingDecision::Deny,
    }
}

fn evaluation_errors(response: &Response) -> Vec<EvaluationError> {
    let mut errors: Vec<EvaluationError> = response
        .diagnostics()
        .errors()
        .map(|error| {
            let cedar_policy::AuthorizationError::PolicyEvaluationError(inner) = error;
            EvaluationError {
                policy: Some(inner.policy_id().to_string()),
                message: scenario::error_chain(inner.inner()),
            }
        })
        .collect();
    errors.sort();
    errors
}

fn replay_step(
    ask: &Slices,
    scenario: &Scenario,
    step: &Step,
    entities: &cedar_policy::Entities,
    active_grants: Vec<String>,
    ceilings: Ceilings,
) -> StepResult {
    let (decision, determining_policies, errors) = match &step.request {
        Ok(request) => {
            let response = ask.is_authorized(request, entities);
            (
                step_decision(response.decision()),
                crate::world::determining(&response),
                evaluation_errors(&response),
            )
        }
        Err(message) => (
            Decision::Error,
            Vec::new(),
            vec![EvaluationError {
                policy: None,
                message: message.clone(),
            }],
        ),
    };
    let expectation = check_expectation(step, decision, &determining_policies, &errors);
    let asked = match ceilings {
        Ceilings::Every => true,
        Ceilings::Read => {
            decision == Decision::Allow || expectation.as_ref().is_some_and(|e| !e.passed)
        }
    };
    // Not asked: none listed (`Ceilings::Read`; its caller reads none).
    let ceiling = if asked { step.ceiling.as_slice() } else { &[] };
    let delegation_ceiling = ceiling
        .iter()
        .zip(&step.labels.delegators)
        .map(|((_, request), delegator)| CeilingCheck {
            delegator: delegator.clone(),
            decision: match request {
                Some(request) => ceiling_decision(ask.is_authorized(request, entities).decision()),
                None => CeilingDecision::NotApplicable,
            },
        })
        .collect();
    StepResult {
        index: step.index + 1,
        line: step.line,
        name: step.name.clone(),
        time: step.at,
        session: step.session.map(|i| scenario.sessions[i].id.clone()),
        principal: step.labels.principal.clone(),
        delegation_chain: step.labels.chain.clone(),
        action: step.labels.action.clone(),
        resource: step.labels.resource.clone(),
        context: Arc::clone(&step.context),
        decision,
        determining_policies,
        errors,
        active_grants,
        effects: Vec::new(),
        expectation,
        delegation_ceiling,
    }
}

fn check_expectation(
    step: &Step,
    decision: Decision,
    determining_policies: &[String],
    errors: &[EvaluationError],
) -> Option<ExpectationResult> {
    let expect = &step.expect;
    if expect.decision.is_none()
        && expect.reason.is_none()
        && expect.errors.is_none()
        && expect.reason_includes.is_none()
        && expect.error_count.is_none()
    {
        return None;
    }
    let mut failures = Vec::new();
    let expected_decision = expect.decision.map(|d| match d {
        scenario::Decision::Allow => Decision::Allow,
        scenario::Decision::Deny => Decision::Deny,
        scenario::Decision::Error => Decision::Error,
    });
    if let Some(expected) = expected_decision {
        let holds = match expected {
            Decision::Error => decision == Decision::Error || !errors.is_empty(),
            other => decision == other,
        };
        if !holds {
            let got = if decision != Decision::Error && !errors.is_empty() {
                format!("{decision} (with evaluation errors)")
            } else {
                decision.to_string()
            };
            failures.push(format!("expected {expected}, got {got}"));
        }
    }
    if let Some(reason) = &expect.reason {
        let actual: BTreeSet<String> = determining_policies.iter().cloned().collect();
        if &actual != reason {
            failures.push(format!(
                "expected determining policies [{}], got [{}]",
                join(reason),
                join(&actual)
            ));
        }
    }
    if let Some(expected_errors) = &expect.errors {
        let actual: BTreeSet<String> = errors.iter().filter_map(|e| e.policy.clone()).collect();
        if &actual != expected_errors {
            failures.push(format!(
                "expected errors in policies [{}], got [{}]",
                join(expected_errors),
                join(&actual)
            ));
        }
    }
    if let Some(included) = &expect.reason_includes {
        let missing: BTreeSet<String> = included
            .iter()
            .filter(|id| !determining_policies.contains(id))
            .cloned()
            .collect();
        if !missing.is_empty() {
            failures.push(format!(
                "expected determining policies to include [{}], got [{}]",
                join(&missing),
                join(determining_policies)
            ));
        }
    }
    if let Some(count) = expect.error_count {
        let actual = errors.iter().filter(|e| e.policy.is_some()).count();
        if actual != count {
            failures.push(format!(
                "expected {count} policy evaluation error(s), got {actual}"
            ));
        }
    }
    Some(ExpectationResult {
        decision: expected_decision,
        reason: expect.reason.as_ref().map(|r| r.iter().cloned().collect()),
        errors: expect.errors.as_ref().map(|r| r.iter().cloned().collect()),
        reason_includes: expect
            .reason_includes
            .as_ref()
            .map(|r| r.iter().cloned().collect()),
        error_count: expect.error_count,
        passed: failures.is_empty(),
        failures,
    })
}

fn join<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    items
        .into_iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The delegation-ceiling invariant: a delegate is never allowed what a delegator
/// up its chain is denied.
fn ceiling_finding(step: &StepResult) -> Option<Finding> {
    if step.decision != Decision::Allow {
        return None;
    }
    let denied = step
        .delegation_ceiling
        .iter()
        .find(|c| c.decision == CeilingDecision::Deny)?;
    Some(Finding {
        kind: FindingKind::DelegationCeiling,
        step: Some(step.index),
        time: step.time,
        principal: step.principal.clone(),
        delegator: Some(denied.delegator.clone()),
        grant: None,
        action: step.action.clone(),
        resource: step.resource.clone(),
        determining_policies: step.determining_policies.clone(),
        message: format!(
            "{} was allowed {} on {} although its delegator {} is denied it",
            step.principal, step.action, step.resource, denied.delegator
        ),
        rule: None,
        trace: Vec::new(),
        repro: None,
        counterexample: None,
    })
}

fn replay_access(ask: &Slices, timeline: Timeline, check: &AccessCheck) -> AccessResult {
    let scenario = timeline.scenario;
    let world = timeline.world;
    let entities = &world.segments[world.segment_at(check.at)].entities;
    let allowed: BTreeSet<String> = check
        .candidates
        .iter()
        .filter(|(_, request)| {
            ask.is_authorized(request, entities).decision() == cedar_policy::Decision::Allow
        })
        .map(|(uid, _)| uid.to_string())
        .collect();
    let missing: Vec<String> = check.expected.difference(&allowed).cloned().collect();
    let unexpected: Vec<String> = allowed.difference(&check.expected).cloned().collect();
    AccessResult {
        index: check.index + 1,
        line: check.line,
        time: check.at,
        principal: check.principal.to_string(),
        session: check.session.map(|i| scenario.sessions[i].id.clone()),
        action: check.action.to_string(),
        expected: check.expected.iter().cloned().collect(),
        allowed: allowed.into_iter().collect(),
        passed: missing.is_empty() && unexpected.is_empty(),
        missing,
        unexpected,
    }
}
