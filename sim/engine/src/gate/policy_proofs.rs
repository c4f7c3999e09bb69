//! The gate's proofs about the policies themselves, beside no-new-access
//! ([`super::proofs`]): the scenario's `[[never]]` rules
//! ([`crate::prove::rules`]) and policy hygiene ([`Prover::hygiene`]), each
//! over every request the schema allows. A never rule refuted with the
//! candidate and not broken with the baseline is a `new-escalation`; one
//! refuted with the baseline and proven with the candidate a
//! `fixed-escalation`. A hygiene problem of a candidate policy that the
//! baseline's policy of the same id did not have is a `policy-*` change;
//! the others are listed, never changes.

use crate::load::Scenario;
use crate::prove::rules::{Proving, never_verdicts};
use crate::prove::{EnvResult, PolicyHygiene as Hygiene, ProofCache, Prover, Sided, Verdict};
use privsim_model::check::{Change, NO_SOLVER_CAVEAT, PolicyHygiene, PolicyRef, ScenarioCheck};
use privsim_model::check::{ChangeKind, ChangeStatus, Effect, HygieneIssue};
use privsim_model::diag::Error;
use privsim_model::result::{Finding, NeverRuleResult, NeverVerdict};

/// Proves one scenario's never rules (with and without a solver: without,
/// each is `not-proven` with the caveat) and, with a solver and a schema,
/// the hygiene of its candidate policies; fills `check.never_rules` and
/// `check.hygiene` and adds the changes they make.
pub fn prove_scenario(
    prover: Option<&Prover>,
    baseline: &Scenario,
    candidate: &Scenario,
    never_found: &[Vec<Finding>; 2],
    check: &mut ScenarioCheck,
    cache: Option<&ProofCache>,
) -> Result<(), Error> {
    let prove_error = |e: crate::prove::ProveError| Error::Tool(format!("proofs: {e}"));
    let proving = prover.map_or(Proving::Unavailable(NO_SOLVER_CAVEAT), |prover| {
        Proving::With(prover, cache)
    });
    let cand = never_verdicts(candidate, &never_found[1], proving).map_err(prove_error)?;
    let proofs_decided = cand.rules.iter().any(|r| {
        matches!(
            r.verdict,
            NeverVerdict::RefutedByProof | NeverVerdict::ProvenImpossible
        )
    });
    if proofs_decided {
        let base = never_verdicts(baseline, &never_found[0], proving).map_err(prove_error)?;
        // The same rule on the other side: the same patterns (the two sides
        // may read the scenario at different revisions, so lines may differ).
        let same = |a: &NeverRuleResult, b: &NeverRuleResult| {
            (&a.principal, &a.action, &a.resource) == (&b.principal, &b.action, &b.resource)
        };
        for rule in &cand.rules {
            let before = base.rules.iter().find(|b| same(b, rule));
            let broken_before = before.is_some_and(|b| {
                matches!(
                    b.verdict,
                    NeverVerdict::FoundByReplay
                        | NeverVerdict::FoundBySearch
                        | NeverVerdict::RefutedByProof
                )
            });
            if rule.verdict == NeverVerdict::RefutedByProof && !broken_before {
                for (finding, _) in &cand.findings {
                    if finding.rule.as_deref() == Some(rule.rule.as_str()) {
                        check.changes.push(escalation_change(
                            ChangeKind::NewEscalation,
                            finding,
                            before,
                        ));
                    }
                }
            }
            if rule.verdict == NeverVerdict::ProvenImpossible
                && let Some(before) = before.filter(|b| b.verdict == NeverVerdict::RefutedByProof)
            {
                for (finding, _) in &base.findings {
                    if finding.rule.as_deref() == Some(before.rule.as_str()) {
                        check.changes.push(escalation_change(
                            ChangeKind::FixedEscalation,
                            finding,
                            None,
                        ));
                    }
                }
            }
        }
    }
    check.never_rules = cand.rules;

    let (Some(prover), Some(schema)) = (prover, candidate.schema.as_ref()) else {
        return Ok(());
    };
    let side = Sided {
        policies: &candidate.policies.set,
        schema,
        schema_text: schema_text(candidate).unwrap_or(""),
    };
    // A key names the schema by its text: none, no cache.
    let candidate_cache = cache.filter(|_| schema_text(candidate).is_some());
    let hygiene = prover
        .hygiene_cached(side, candidate_cache)
        .map_err(prove_error)?;
    let mut views: Vec<PolicyHygiene> = hygiene
        .iter()
        .map(|h| {
            let (issues, unknown) = summarize(h);
            PolicyHygiene {
                id: h.policy_id.clone(),
                location: location(candidate, &h.policy_id),
                effect: effect(h),
                issues,
                on_baseline: Vec::new(),
                unknown,
            }
        })
        .filter(|v| !v.issues.is_empty() || !v.unknown.is_empty())
        .collect();
    if views.iter().any(|v| !v.issues.is_empty()) {
        // The baseline's own schema, else the candidate's.
        let (base_side, base_cache) = match (baseline.schema.as_ref(), schema_text(baseline)) {
            (Some(base_schema), Some(text)) => (
                Sided {
                    policies: &baseline.policies.set,
                    schema: base_schema,
                    schema_text: text,
                },
                cache,
            ),
            _ => (
                Sided {
                    policies: &baseline.policies.set,
                    ..side
                },
                candidate_cache,
            ),
        };
        let before = prover
            .hygiene_cached(base_side, base_cache)
            .map_err(prove_error)?;
        for view in &mut views {
            if let Some(old) = before.iter().find(|b| b.policy_id == view.id) {
                let (old_issues, _) = summarize(old);
                view.on_baseline = view
                    .issues
                    .iter()
                    .filter(|i| old_issues.contains(i))
                    .cloned()
                    .collect();
            }
            let policy = hygiene.iter().find(|h| h.policy_id == view.id);
            for issue in view.issues.iter().filter(|i| !view.on_baseline.contains(i)) {
                check
                    .changes
                    .push(hygiene_change(view, *issue, policy, &check.file));
            }
        }
    }
    check.hygiene = views;
    Ok(())
}

/// The scenario's schema as read (part of a cached verdict's key).
fn schema_text(scenario: &Scenario) -> Option<&str> {
    scenario.schema_file.as_ref().map(|f| &*f.text)
}

fn effect(h: &Hygiene) -> Effect {
    match h.effect {
        cedar_policy::Effect::Permit => Effect::Permit,
        cedar_policy::Effect::Forbid => Effect::Forbid,
    }
}

fn location(scenario: &Scenario, id: &str) -> Option<String> {
    scenario
        .policies
        .location(id)
        .map(|(file, line)| format!("{file}:{line}"))
}

/// The problems proven of one policy, and the questions left open (a
/// question with a refuted environment is answered "no" whatever the
/// others say; otherwise an unknown environment leaves it open).
fn summarize(h: &Hygiene) -> (Vec<HygieneIssue>, Vec<String>) {
    let mut issues = Vec::new();
    let mut unknown = Vec::new();
    let open = |issue: HygieneIssue, results: &[EnvResult], unknown: &mut Vec<String>| {
        if results.iter().any(|r| r.verdict.is_refuted()) {
            return;
        }
        for r in results {
            if let Verdict::Unknown { reason } = &r.verdict {
                unknown.push(format!("{issue}: {}: {reason}", r.label));
            }
        }
    };
    let dead = h.can_never_apply();
    if dead {
        issues.push(HygieneIssue::NeverApplies);
    } else {
        open(HygieneIssue::NeverApplies, &h.never_applies, &mut unknown);
        if h.is_redundant() {
            issues.push(HygieneIssue::Redundant);
        } else {
            open(HygieneIssue::Redundant, &h.redundant, &mut unknown);
        }
        if h.can_never_grant() {
            issues.push(HygieneIssue::NeverGrants);
        } else {
            open(HygieneIssue::NeverGrants, &h.never_grants, &mut unknown);
        }
    }
    if h.may_error() {
        issues.push(HygieneIssue::MayError);
    } else {
        open(HygieneIssue::MayError, &h.never_errors, &mut unknown);
    }
    (issues, unknown)
}

fn escalation_change(
    kind: ChangeKind,
    finding: &Finding,
    before: Option<&NeverRuleResult>,
) -> Change {
    let policies: Vec<PolicyRef> = finding
        .counterexample
        .as_ref()
        .map(|c| c.policies.clone())
        .unwrap_or_default();
    let message = match (kind, before) {
        (ChangeKind::FixedEscalation, _) => format!(
            "{}; the candidate policies make the rule impossible in every world the schema allows",
            finding.message
        ),
        (_, Some(before)) if before.verdict == NeverVerdict::NotProven => format!(
            "{}; with the baseline the rule was not proven either way ({})",
            finding.message,
            before.reason.as_deref().unwrap_or("")
        ),
        _ => format!(
            "{}; with the baseline the rule is proven impossible",
            finding.message
        ),
    };
    Change {
        kind,
        status: ChangeStatus::Info,
        principal: finding.principal.clone(),
        action: Some(finding.action.clone()),
        resource: Some(finding.resource.clone()),
        step: None,
        steps: Vec::new(),
        expected: false,
        time: Some(finding.time),
        location: policies
            .iter()
            .find_map(|p| p.location.clone())
            .or_else(|| finding.rule.clone()),
        policies,
        baseline: None,
        candidate: Some(finding.kind.to_string()),
        message,
        exception: None,
        finding: Some(Box::new(finding.clone())),
    }
}

fn hygiene_change(
    view: &PolicyHygiene,
    issue: HygieneIssue,
    policy: Option<&Hygiene>,
    file: &str,
) -> Change {
    let what = match issue {
        HygieneIssue::NeverApplies => {
            "never applies: no request in any world the schema allows matches it".to_string()
        }
        HygieneIssue::Redundant => {
            "is redundant: in every world the schema allows, the other permits allow everything it allows"
                .to_string()
        }
        HygieneIssue::NeverGrants => {
            "never grants: in every world the schema allows, a forbid overrides it wherever it applies"
                .to_string()
        }
        HygieneIssue::MayError => {
            let witness = policy
                .and_then(|p| p.never_errors.iter().find_map(|r| r.verdict.counterexample()))
                .map(|c| {
                    let uid = |u: Option<&cedar_policy::EntityUid>| {
                        u.map(ToString::to_string).unwrap_or_default()
                    };
                    format!(
                        ", e.g. on {} {} {}",
                        uid(c.request.principal()),
                        uid(c.request.action()),
                        uid(c.request.resource())
                    )
                })
                .unwrap_or_default();
            format!(
                "may error at run time{witness} (counterexample confirmed by Cedar): an erring policy is skipped, so an erring forbid forbids nothing"
            )
        }
    };
    Change {
        kind: issue.change(),
        status: ChangeStatus::Info,
        principal: String::new(),
        action: None,
        resource: None,
        step: None,
        steps: Vec::new(),
        expected: false,
        time: None,
        policies: vec![PolicyRef {
            id: view.id.clone(),
            location: view.location.clone(),
        }],
        baseline: None,
        candidate: Some(issue.to_string()),
        location: view.location.clone().or_else(|| Some(format!("{file}:1"))),
        message: format!("{} `{}` {what}", view.effect, view.id),
        exception: None,
        finding: None,
    }
}
