//! Proving a suggestion: the suggested policy set allows nothing the
//! candidate does not, for every request and entity store the schema allows
//! (`check_implies(suggested, candidate)` per request environment, with
//! [`crate::prove`]). Replay verifies the suggestion on the scenario's world;
//! the proof covers every other world. A refuted environment's
//! counterexample has been confirmed by Cedar's `Authorizer`, and makes the
//! suggestion fail: it is not offered as verified.

use privsim_model::suggest::{ProofVerdict, ScenarioSuggestion, Status, SuggestionProof};

use crate::load::Scenario;
use crate::prove::{Prover, Verdict, to_static_policy_set};

/// Proves a made suggestion and records the proof in it; a refutation turns
/// a verified suggestion into a failed one. A refused suggestion (nothing
/// suggested) is left as it is.
pub fn prove(prover: &Prover, scenario: &Scenario, suggestion: &mut ScenarioSuggestion) {
    if suggestion.status == Status::Refused {
        return;
    }
    let Some(schema) = scenario.schema.as_ref() else {
        skip(
            suggestion,
            "the scenario has no schema, so there are no request environments to quantify over",
        );
        return;
    };
    let suggested = match super::suggested_policies(scenario, &suggestion.policies) {
        Ok((policies, _)) => policies.set,
        Err(failure) => {
            skip(suggestion, &failure);
            return;
        }
    };
    let results = to_static_policy_set(&scenario.policies.set).and_then(|original| {
        let suggested = to_static_policy_set(&suggested)?;
        prover.implies(&original, &suggested, schema)
    });
    let results = match results {
        Ok(results) => results,
        Err(error) => {
            skip(suggestion, &error.to_string());
            return;
        }
    };
    let mut proof = SuggestionProof {
        verdict: ProofVerdict::Proven,
        environments: results.len(),
        proven: 0,
        details: Vec::new(),
    };
    let mut refuted = false;
    let mut unknown = false;
    for result in &results {
        match &result.verdict {
            Verdict::Proven | Verdict::NotApplicable { .. } => proof.proven += 1,
            Verdict::Refuted { counterexample } => {
                refuted = true;
                let request = &counterexample.request;
                let part = |uid: Option<&cedar_policy::EntityUid>| {
                    uid.map_or_else(|| "?".to_string(), ToString::to_string)
                };
                proof.details.push(format!(
                    "{}: the suggestion allows {} {} on {}, which the candidate denies (confirmed by Cedar)",
                    result.label,
                    part(request.principal()),
                    part(request.action()),
                    part(request.resource())
                ));
            }
            Verdict::Unknown { reason } => {
                unknown = true;
                proof
                    .details
                    .push(format!("{}: not proven: {reason}", result.label));
            }
        }
    }
    proof.verdict = if refuted {
        ProofVerdict::Refuted
    } else if unknown {
        ProofVerdict::Unknown
    } else {
        ProofVerdict::Proven
    };
    if refuted {
        suggestion.status = Status::Failed;
    }
    suggestion.proof = Some(proof);
}

/// Records that a made suggestion was not proven, and why (no schema, no
/// solver, a policy set the prover cannot take): it is verified by replay
/// only, and says so.
pub fn skip(suggestion: &mut ScenarioSuggestion, why: &str) {
    if suggestion.status == Status::Refused {
        return;
    }
    suggestion.proof = Some(SuggestionProof {
        verdict: ProofVerdict::Skipped,
        environments: 0,
        proven: 0,
        details: vec![format!("not proven: {why}")],
    });
}
