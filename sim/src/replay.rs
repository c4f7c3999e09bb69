//! Replay: evaluate each prebuilt step request with Cedar's `Authorizer` in the
//! entity store of its moment, check expectations, the delegation ceiling and
//! access assertions, and produce the result model.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cedar_policy::{Authorizer, Decision, Effect, PolicyId, Response};

use crate::result::{
    AccessResult, CeilingCheck, EvaluationError, ExpectationResult, Finding, PolicyUse,
    ScenarioResult, StepResult, Summary,
};
use crate::scenario::{self, AccessCheck, Scenario, Step};

/// Replays a scenario and returns its result.
pub fn replay(scenario: &Scenario) -> ScenarioResult {
    let authorizer = Authorizer::new();
    let mut summary = Summary::default();
    let mut steps = Vec::with_capacity(scenario.steps.len());
    let mut findings = Vec::new();
    for step in &scenario.steps {
        let result = replay_step(&authorizer, scenario, step);
        tally(&mut summary, &result);
        if let Some(finding) = ceiling_finding(&result) {
            findings.push(finding);
        }
        steps.push(result);
    }
    let access: Vec<AccessResult> = scenario
        .access
        .iter()
        .map(|check| replay_access(&authorizer, scenario, check))
        .collect();
    let (policy_use, dead_policies) = policy_use(scenario, &steps);
    summary.access_checks = access.len();
    summary.access_failed = access.iter().filter(|a| !a.passed).count();
    summary.findings = findings.len();
    ScenarioResult {
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
        start: scenario.start.to_string(),
        passed: summary.expectations_failed == 0 && summary.access_failed == 0,
        summary,
        steps,
        access,
        findings,
        search: None,
        warnings: scenario.warnings.clone(),
        principals: Vec::new(),
        accounting: None,
        policy_use,
        dead_policies,
        suggestion: None,
    }
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
            (None, Some(_)) => "template",
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
                effect: effect.to_string(),
                location,
                determined: Vec::new(),
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
        .filter(|u| u.effect != "template" && u.determined.is_empty())
        .map(|u| u.id.clone())
        .collect();
    (uses.into_values().collect(), dead)
}

fn effect_name(effect: Effect) -> &'static str {
    match effect {
        Effect::Permit => "permit",
        Effect::Forbid => "forbid",
    }
}

fn tally(summary: &mut Summary, result: &StepResult) {
    summary.steps += 1;
    match result.decision.as_str() {
        "allow" => summary.allowed += 1,
        "deny" => summary.denied += 1,
        _ => summary.invalid += 1,
    }
    if result.decision != "error" && !result.errors.is_empty() {
        summary.with_errors += 1;
    }
    if let Some(expectation) = &result.expectation {
        summary.expectations += 1;
        if !expectation.passed {
            summary.expectations_failed += 1;
        }
    }
}

fn decision_name(decision: Decision) -> &'static str {
    match decision {
        Decision::Allow => "allow",
        Decision::Deny => "deny",
    }
}

fn determining(response: &Response) -> Vec<String> {
    // Cedar's reason is a set already; sorting gives a stable order.
    let mut ids: Vec<String> = response
        .diagnostics()
        .reason()
        .map(ToString::to_string)
        .collect();
    ids.sort_unstable();
    ids
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

fn replay_step(authorizer: &Authorizer, scenario: &Scenario, step: &Step) -> StepResult {
    let segment = &scenario.world.segments[step.segment];
    let (decision, determining_policies, errors) = match &step.request {
        Ok(request) => {
            let response =
                authorizer.is_authorized(request, &scenario.policies.set, &segment.entities);
            (
                decision_name(response.decision()).to_string(),
                determining(&response),
                evaluation_errors(&response),
            )
        }
        Err(message) => (
            "error".to_string(),
            Vec::new(),
            vec![EvaluationError {
                policy: None,
                message: message.clone(),
            }],
        ),
    };
    let delegation_ceiling = step
        .ceiling
        .iter()
        .zip(&step.labels.delegators)
        .map(|((_, request), delegator)| CeilingCheck {
            delegator: delegator.clone(),
            decision: match request {
                Some(request) => decision_name(
                    authorizer
                        .is_authorized(request, &scenario.policies.set, &segment.entities)
                        .decision(),
                )
                .to_string(),
                None => "not-applicable".to_string(),
            },
        })
        .collect();
    let expectation = check_expectation(step, &decision, &determining_policies, &errors);
    StepResult {
        index: step.index + 1,
        line: step.line,
        name: step.name.clone(),
        time: step.labels.time.clone(),
        session: step.session.map(|i| scenario.sessions[i].id.clone()),
        principal: step.labels.principal.clone(),
        delegation_chain: step.labels.chain.clone(),
        action: step.labels.action.clone(),
        resource: step.labels.resource.clone(),
        context: Arc::clone(&step.context),
        decision,
        determining_policies,
        errors,
        active_grants: segment
            .active_grants
            .iter()
            .map(|&g| scenario.grants[g].id.clone())
            .collect(),
        expectation,
        delegation_ceiling,
    }
}

fn check_expectation(
    step: &Step,
    decision: &str,
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
        scenario::Decision::Allow => "allow",
        scenario::Decision::Deny => "deny",
        scenario::Decision::Error => "error",
    });
    if let Some(expected) = expected_decision {
        let holds = match expected {
            "error" => decision == "error" || !errors.is_empty(),
            other => decision == other,
        };
        if !holds {
            let got = if decision != "error" && !errors.is_empty() {
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
        decision: expected_decision.map(str::to_string),
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
    if step.decision != "allow" {
        return None;
    }
    let denied = step
        .delegation_ceiling
        .iter()
        .find(|c| c.decision == "deny")?;
    Some(Finding {
        kind: "delegation-ceiling".to_string(),
        step: Some(step.index),
        time: step.time.clone(),
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
    })
}

fn replay_access(
    authorizer: &Authorizer,
    scenario: &Scenario,
    check: &AccessCheck,
) -> AccessResult {
    let entities = &scenario.world.segments[check.segment].entities;
    let allowed: BTreeSet<String> = check
        .candidates
        .iter()
        .filter(|(_, request)| {
            authorizer
                .is_authorized(request, &scenario.policies.set, entities)
                .decision()
                == Decision::Allow
        })
        .map(|(uid, _)| uid.to_string())
        .collect();
    let missing: Vec<String> = check.expected.difference(&allowed).cloned().collect();
    let unexpected: Vec<String> = allowed.difference(&check.expected).cloned().collect();
    AccessResult {
        index: check.index + 1,
        line: check.line,
        time: check.at.to_string(),
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
