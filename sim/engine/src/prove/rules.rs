//! `[[never]]` rules proven over every world the schema allows: each rule
//! becomes the Cedar permit that allows exactly the requests it matches, and
//! the scenario's policies must be disjoint from it in every request
//! environment the rule can match ([`Prover::never_disjoint_cached`]). A
//! refuted environment becomes a `never` finding with the counterexample
//! Cedar confirmed, beside the replay's and the search's; a rule they already
//! broke is not proven again.

use cedar_policy::RequestEnv;

use super::{ProofCache, Prover, Sided, Verdict};
use crate::load::Scenario;
use crate::load::rules::{NeverRule, Pattern};
use privsim_model::result::{Finding, FindingKind, NeverRuleResult, NeverVerdict, ScenarioResult};

/// Whether the never rules are proven.
#[derive(Clone, Copy)]
pub enum Proving<'a> {
    /// Proofs are off (`--no-prove`): the rules get no verdicts.
    Off,
    /// No proof can run (no solver): every rule the replay and the search did
    /// not break is `not-proven`, with this reason.
    Unavailable(&'a str),
    /// Prove with this prover, reusing the verdicts of this cache (when
    /// there is one).
    With(&'a Prover, Option<&'a ProofCache>),
}

/// The Cedar permit allowing exactly the requests `rule` matches: its
/// principal and resource patterns (`==` an entity, `is` a type, anything)
/// and its action. The patterns match exact types and entities, never
/// descendants, as [`Pattern::matches`] does.
pub fn never_permit(rule: &NeverRule) -> String {
    let scope = |variable: &str, pattern: &Pattern| match pattern {
        Pattern::Any => variable.to_string(),
        Pattern::Type(name) => format!("{variable} is {name}"),
        Pattern::Entity(uid) => format!("{variable} == {uid}"),
    };
    let action = rule
        .action
        .as_ref()
        .map_or_else(|| "action".to_string(), |a| format!("action == {a}"));
    format!(
        "permit({}, {action}, {});",
        scope("principal", &rule.principal),
        scope("resource", &rule.resource)
    )
}

/// Whether a request environment can hold a request the rule matches.
pub fn rule_matches_env(rule: &NeverRule, env: &RequestEnv) -> bool {
    let type_matches = |pattern: &Pattern, type_name: String| match pattern {
        Pattern::Any => true,
        Pattern::Type(name) => *name == type_name,
        Pattern::Entity(uid) => uid.type_name().to_string() == type_name,
    };
    type_matches(&rule.principal, env.principal().to_string())
        && rule.action.as_ref().is_none_or(|a| a == env.action())
        && type_matches(&rule.resource, env.resource().to_string())
}

/// The rule's location, as its findings name it.
fn location(scenario: &Scenario, rule: &NeverRule) -> String {
    format!("{}:{}", scenario.file.display, rule.line)
}

fn pattern_text(pattern: &Pattern) -> Option<String> {
    match pattern {
        Pattern::Any => None,
        Pattern::Type(name) => Some(name.clone()),
        Pattern::Entity(uid) => Some(uid.to_string()),
    }
}

/// What proving a scenario's rules added to its result: per finding added
/// (its index in `result.findings`), the repro scenario's TOML.
pub type Repros = Vec<(usize, String)>;

/// Gives every `[[never]]` rule of `scenario` its verdict in
/// `result.never_rules` (nothing with [`Proving::Off`]), proving those the
/// replay and the search (already in `result.findings`) did not break, and
/// adds a `never` finding per refuted request environment. Returns the
/// repro scenarios of those findings, to be written beside the scenario
/// (`privsim run` on one fails while the policies allow the request).
pub fn prove_never_rules(
    scenario: &Scenario,
    result: &mut ScenarioResult,
    proving: Proving<'_>,
) -> Result<Repros, super::ProveError> {
    let proved = never_verdicts(scenario, &result.findings, proving)?;
    let mut repros = Vec::new();
    for (finding, repro) in proved.findings {
        match repro {
            Ok(text) => repros.push((result.findings.len(), text)),
            Err(message) => result.warnings.push(format!(
                "no repro written for the proof counterexample of the rule at {}: {message}",
                finding.rule.as_deref().unwrap_or_default()
            )),
        }
        result.findings.push(finding);
    }
    result.summary.findings = result.findings.len();
    if !proved.rules.is_empty() {
        result.never_rules = proved.rules;
    }
    Ok(repros)
}

/// The verdicts of a scenario's never rules, and the findings of the
/// refuted ones.
pub struct Proved {
    /// Per rule, in order (empty with [`Proving::Off`]).
    pub rules: Vec<NeverRuleResult>,
    /// A `never` finding per refuted request environment, each with its
    /// repro scenario's TOML (or why there is none).
    pub findings: Vec<(Finding, Result<String, String>)>,
}

/// The verdict of every never rule of `scenario`, given the `findings` the
/// replay and the search made (a rule they broke is not proven again).
pub fn never_verdicts(
    scenario: &Scenario,
    findings: &[Finding],
    proving: Proving<'_>,
) -> Result<Proved, super::ProveError> {
    if matches!(proving, Proving::Off) {
        return Ok(Proved {
            rules: Vec::new(),
            findings: Vec::new(),
        });
    }
    let mut verdicts = Vec::new();
    let mut found = Vec::new();
    for rule in &scenario.never {
        let rule_location = location(scenario, rule);
        let broken = |searched: bool| {
            findings.iter().any(|f| {
                f.kind == FindingKind::Never
                    && f.rule.as_deref() == Some(rule_location.as_str())
                    && f.trace.is_empty() != searched
            })
        };
        let mut verdict = NeverRuleResult {
            rule: rule_location.clone(),
            principal: pattern_text(&rule.principal),
            action: rule.action.as_ref().map(ToString::to_string),
            resource: pattern_text(&rule.resource),
            verdict: NeverVerdict::NotProven,
            reason: None,
            environments: Vec::new(),
        };
        let not_proven = |reason: &str| (NeverVerdict::NotProven, Some(reason.to_string()));
        let (name, reason) = if broken(false) {
            (NeverVerdict::FoundByReplay, None)
        } else if broken(true) {
            (NeverVerdict::FoundBySearch, None)
        } else if !scenario.invariants.never {
            not_proven("the rule is switched off (`[invariants] never = false`)")
        } else {
            match (proving, scenario.schema.as_ref()) {
                (Proving::Off, _) => continue,
                (_, None) => not_proven(
                    "the scenario has no schema, so there are no request environments to quantify over",
                ),
                (Proving::Unavailable(why), Some(_)) => not_proven(why),
                (Proving::With(prover, cache), Some(schema)) => {
                    let side = Sided {
                        policies: &scenario.policies.set,
                        schema,
                        schema_text: scenario.schema_file.as_ref().map_or("", |f| &f.text),
                    };
                    // A key names the schema by its text: none, no cache.
                    let cache = cache.filter(|_| scenario.schema_file.is_some());
                    let results = prover.never_disjoint_cached(
                        side,
                        &never_permit(rule),
                        |env| rule_matches_env(rule, env),
                        cache,
                    )?;
                    let mut unknown = Vec::new();
                    for env in &results {
                        verdict.environments.push(super::view::env_proof(env, None));
                        match &env.verdict {
                            Verdict::Refuted { counterexample } => {
                                found.push((rule, counterexample.clone()));
                            }
                            Verdict::Unknown { reason } => {
                                unknown.push(format!("{}: {reason}", env.label));
                            }
                            Verdict::Proven | Verdict::NotApplicable { .. } => {}
                        }
                    }
                    if results.iter().any(|r| r.verdict.is_refuted()) {
                        (NeverVerdict::RefutedByProof, None)
                    } else if unknown.is_empty() {
                        (NeverVerdict::ProvenImpossible, None)
                    } else {
                        (
                            NeverVerdict::NotProven,
                            Some(format!(
                                "{} of {} request environment(s) not proven: {}",
                                unknown.len(),
                                results.len(),
                                unknown.join("; ")
                            )),
                        )
                    }
                }
            }
        };
        verdict.verdict = name;
        verdict.reason = reason;
        verdicts.push(verdict);
    }
    let mut proof_findings = Vec::new();
    for (rule, counterexample) in found {
        let cex = super::view::counterexample_view(&counterexample, scenario);
        let finding = Finding {
            kind: FindingKind::Never,
            step: None,
            time: scenario.start,
            principal: cex.principal.clone(),
            delegator: None,
            grant: None,
            action: cex.action.clone(),
            resource: cex.resource.clone(),
            determining_policies: cex.policies.iter().map(|p| p.id.clone()).collect(),
            message: format!(
                "proof: in a world the schema allows, {} is allowed {} on {}, {} (counterexample confirmed by Cedar)",
                cex.principal,
                cex.action,
                cex.resource,
                rule.forbidding()
            ),
            rule: Some(location(scenario, rule)),
            trace: Vec::new(),
            repro: None,
            counterexample: Some(Box::new(cex)),
        };
        let repro = super::view::repro_scenario(
            scenario,
            &counterexample,
            &format!(
                "Written by `privsim`: a proof found this request, which the `[[never]]` rule at line {} forbids, allowed in a world the schema allows (confirmed by Cedar). It fails until the policies are fixed.",
                rule.line
            ),
        );
        proof_findings.push((finding, repro));
    }
    Ok(Proved {
        rules: verdicts,
        findings: proof_findings,
    })
}
