//! The gate's reports, each a function of the [`CheckResult`] alone (no file
//! IO, no clock): a Markdown summary for a pull request or GitHub's job
//! summary and a plain-text summary (templates `check.md.j2` and
//! `check.txt.j2` over the view in `view.rs`), the JSON contract, JUnit XML
//! (a test case per scenario and rule), SARIF 2.1.0, and GitHub Actions
//! annotations.

mod sarif;
mod view;

pub use sarif::sarif;

use serde::Serialize;

use minijinja::State;
use minijinja::value::{Serde, Value as TemplateValue};

use crate::{MARKDOWN_LIMIT, RenderError, plural};

use privsim_model::check::{
    Change, ChangeKind, ChangeStatus, CheckResult, ExceptionState, HygieneIssue, ProofVerdict,
    ProofsStatus, RuleStatus,
};

/// A kind of change as reports name it: its place among the SARIF rules and
/// the JUnit cases' failures (`rank`), a short title and a description. One
/// exhaustive match over the model's [`ChangeKind`], so a new kind does not
/// compile until it has its text.
const fn kind_text(kind: ChangeKind) -> (usize, &'static str, &'static str) {
    match kind {
        ChangeKind::NewAccessProven => (
            0,
            "new access (proven)",
            "A proof over every world the schema allows found a request the candidate allows and the baseline denies; Cedar confirmed the counterexample.",
        ),
        ChangeKind::NarrowedProven => (
            1,
            "narrowed (proven)",
            "A proof over every world the schema allows found a request the baseline allows and the candidate denies; Cedar confirmed the counterexample.",
        ),
        ChangeKind::NewEscalation => (
            2,
            "new escalation",
            "An invariant finding (delegation ceiling, attenuation, expiry, never rule, always-access) of the replay or the escalation search, or a never rule a proof refutes, that the baseline did not have.",
        ),
        ChangeKind::PolicyMayError => (
            3,
            "policy may error",
            "A proof found a request the schema allows on which a candidate policy errors (Cedar confirmed it), and the baseline's policy of the same id did not: an erring forbid forbids nothing, an erring permit allows nothing.",
        ),
        ChangeKind::PolicyNeverGrants => (
            4,
            "permit never grants",
            "A candidate permit is proven, in every world the schema allows, to be overridden by forbids whenever it applies: it grants nothing (newly).",
        ),
        ChangeKind::PolicyNeverApplies => (
            5,
            "policy never applies",
            "A candidate policy is proven, in every world the schema allows, never to match a request (newly): it is dead code.",
        ),
        ChangeKind::PolicyRedundant => (
            6,
            "redundant permit",
            "A candidate permit is proven, in every world the schema allows, to allow nothing the other permits do not (newly): removing it changes no decision.",
        ),
        ChangeKind::NewAccess => (
            7,
            "new access",
            "A principal holds an (action, resource) pair it did not hold with the baseline, or a step the baseline denied is allowed.",
        ),
        ChangeKind::UnexercisedChange => (
            8,
            "unexercised change",
            "A policy the change added, changed or removed decided no request of any scenario (no step, held-set request or search move): the scenarios cannot show what it does.",
        ),
        ChangeKind::HeldLonger => (
            9,
            "held longer",
            "A principal holds a pair it also held with the baseline for more simulated time (a longer just-in-time window, a grant that no longer ends).",
        ),
        ChangeKind::BrokenWorkflow => (
            10,
            "broken workflow",
            "A step the baseline allowed is denied (or rejected), and the scenario does not expect it to be denied.",
        ),
        ChangeKind::ExpectationFailed => (
            11,
            "failed expectation",
            "A step expectation or an access assertion of the scenario fails with the candidate policies.",
        ),
        ChangeKind::WeightedGapGrowth => (
            12,
            "weighted gap growth",
            "A principal's weighted gap (the risk weights of the pairs it holds and never uses) grew by more than the budget.",
        ),
        ChangeKind::UtilizationDrop => (
            13,
            "utilization drop",
            "A principal's utilization (used pairs / held pairs) dropped by more than the budget.",
        ),
        ChangeKind::Narrowed => (
            14,
            "narrowed",
            "A principal no longer holds a pair it held with the baseline, or a step the baseline allowed is denied as the scenario expects.",
        ),
        ChangeKind::HeldShorter => (
            15,
            "held shorter",
            "A principal holds a pair it also held with the baseline for less simulated time.",
        ),
        ChangeKind::FixedEscalation => (
            16,
            "fixed escalation",
            "An invariant finding the baseline had and the candidate does not.",
        ),
    }
}

/// Every kind of change, in the order of [`kind_text`]'s ranks.
fn kinds_in_rule_order() -> Vec<ChangeKind> {
    let mut kinds = ChangeKind::ALL.to_vec();
    kinds.sort_by_key(|kind| kind_text(*kind).0);
    kinds
}

/// Whether only a proof makes the kind: reports list such kinds (as JUnit
/// cases and SARIF rules) only when the proofs ran, so a check without
/// proofs reads as before.
const fn proof_kind(kind: ChangeKind) -> bool {
    match kind {
        ChangeKind::NewAccessProven
        | ChangeKind::NarrowedProven
        | ChangeKind::PolicyMayError
        | ChangeKind::PolicyNeverGrants
        | ChangeKind::PolicyNeverApplies
        | ChangeKind::PolicyRedundant => true,
        ChangeKind::NewEscalation
        | ChangeKind::NewAccess
        | ChangeKind::UnexercisedChange
        | ChangeKind::HeldLonger
        | ChangeKind::BrokenWorkflow
        | ChangeKind::ExpectationFailed
        | ChangeKind::WeightedGapGrowth
        | ChangeKind::UtilizationDrop
        | ChangeKind::Narrowed
        | ChangeKind::HeldShorter
        | ChangeKind::FixedEscalation => false,
    }
}

fn proofs_ran(result: &CheckResult) -> bool {
    result
        .proofs
        .as_ref()
        .is_some_and(|p| p.status == ProofsStatus::Ran)
}

fn kind_listed(kind: ChangeKind, result: &CheckResult) -> bool {
    !proof_kind(kind) || proofs_ran(result)
}

/// What the proofs did, one line each: the caveat when they were skipped,
/// the counts, and per scenario what is not proven (never silently dropped).
pub fn proof_lines(result: &CheckResult) -> Vec<String> {
    let mut lines = Vec::new();
    let Some(proofs) = &result.proofs else {
        return lines;
    };
    if let Some(caveat) = &proofs.caveat {
        lines.push(format!("caveat: {caveat}"));
    }
    for scenario in &result.scenarios {
        for rule in &scenario.never_rules {
            lines.push(format!(
                "{}: never rule {}",
                scenario.name,
                crate::view::never_rule_line(rule)
            ));
        }
        for policy in &scenario.hygiene {
            let at = policy
                .location
                .as_deref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            if !policy.issues.is_empty() {
                let issues: Vec<String> = policy
                    .issues
                    .iter()
                    .map(|issue| {
                        format!(
                            "{}{}",
                            hygiene_words(*issue),
                            if policy.on_baseline.contains(issue) {
                                " (with the baseline too)"
                            } else {
                                ""
                            }
                        )
                    })
                    .collect();
                lines.push(format!(
                    "{}: hygiene: {} `{}`{at}: {}",
                    scenario.name,
                    policy.effect,
                    policy.id,
                    issues.join("; ")
                ));
            }
            for open in &policy.unknown {
                lines.push(format!(
                    "{}: hygiene not proven: {} `{}`{at}: {open}",
                    scenario.name, policy.effect, policy.id
                ));
            }
        }
    }
    if proofs.status != ProofsStatus::Ran {
        return lines;
    }
    lines.push(format!(
        "proofs ({}, {} ms per query): {} request environment(s) proven, {} refuted, {} not proven{}",
        proofs.solver.as_deref().unwrap_or("cvc5"),
        proofs.timeout_ms,
        proofs.proven,
        proofs.refuted,
        proofs.unknown,
        if proofs.scenarios_without_schema > 0 {
            format!(
                "; {} scenario(s) without a schema not proven",
                proofs.scenarios_without_schema
            )
        } else {
            String::new()
        }
    ));
    for scenario in &result.scenarios {
        let Some(proven) = &scenario.proofs else {
            continue;
        };
        if let Some(skipped) = &proven.skipped {
            lines.push(format!("{}: {skipped}", scenario.name));
            continue;
        }
        if let Some(change) = &proven.schema_change {
            lines.push(format!("{}: {}", scenario.name, change.message));
            for (side, envs) in [
                ("candidate", &change.only_candidate),
                ("baseline", &change.only_baseline),
            ] {
                if !envs.is_empty() {
                    lines.push(format!(
                        "{}: only in the {side}'s schema: {}",
                        scenario.name,
                        envs.join(", ")
                    ));
                }
            }
        }
        let total = proven.no_new_access.len();
        let held = proven
            .no_new_access
            .iter()
            .filter(|e| e.verdict == ProofVerdict::Proven)
            .count();
        lines.push(format!(
            "{}: no new access proven in {held} of {total} request environment(s)",
            scenario.name
        ));
        for (direction, envs) in [
            ("no new access", &proven.no_new_access),
            ("no lost access", &proven.lost_access),
        ] {
            for env in envs {
                let label = format!(
                    "{} / {} / {}",
                    env.principal_type, env.action, env.resource_type
                );
                match env.verdict.as_str() {
                    "unknown" => lines.push(format!(
                        "{}: not proven: {direction} for {label}: {}",
                        scenario.name,
                        env.reason.as_deref().unwrap_or("unknown")
                    )),
                    "refuted" => {
                        if let Some(cex) = &env.counterexample {
                            lines.push(format!(
                                "{}: refuted: {direction} for {label}: {} {} {}{}",
                                scenario.name,
                                cex.principal,
                                cex.action,
                                cex.resource,
                                cex.repro
                                    .as_deref()
                                    .map(|r| format!(" (repro: {r})"))
                                    .unwrap_or_default()
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    lines
}

/// A hygiene problem in words.
pub fn hygiene_words(issue: HygieneIssue) -> &'static str {
    match issue {
        HygieneIssue::NeverApplies => "never applies in any world the schema allows",
        HygieneIssue::Redundant => "redundant: the other permits allow everything it allows",
        HygieneIssue::NeverGrants => "never grants: a forbid always overrides it",
        HygieneIssue::MayError => "may error at run time (Cedar confirmed a request it errors on)",
    }
}

/// The most change rows a Markdown table shows per scenario (the JSON has all).
const MAX_ROWS: usize = 100;

/// A kind's title, e.g. `new access`.
pub const fn title(kind: ChangeKind) -> &'static str {
    kind_text(kind).1
}

/// The Markdown summary: the verdict, a table of scenarios, then per scenario
/// with changes a table of them (failing first), the metric deltas, the
/// search and notes; last, the proofs and the exceptions and what became of
/// each. Rendered by `templates/check.md.j2`, laid out within
/// [`MARKDOWN_LIMIT`] by `fit`.
pub fn markdown(result: &CheckResult) -> Result<String, RenderError> {
    let view = view::check(result);
    crate::render_with_state("check.md", "check", &view, |state| {
        let check = TemplateValue::from(Serde(&view));
        let head = call(state, "head", std::slice::from_ref(&check))?;
        let mut sections = Vec::with_capacity(view.scenarios.len());
        for scenario in check.get_attr("scenarios")?.try_iter()? {
            sections.push(call(state, "section", &[scenario])?);
        }
        let tail = call(state, "tail", &[check])?;
        fit(state, head, &sections, &view.scenarios, &tail)
    })
}

fn call(
    state: &mut State<'_, '_>,
    name: &str,
    args: &[TemplateValue],
) -> Result<String, minijinja::Error> {
    state.call_macro(name, args)
}

/// Lays the summary out within [`MARKDOWN_LIMIT`]: the overview and the
/// exceptions always; the scenario sections of failing scenarios first, then
/// the others, each in run order while it fits; a closing note (the
/// template's `left_out`) counts the sections left out (the JSON result has
/// everything).
fn fit(
    state: &mut State<'_, '_>,
    head: String,
    sections: &[String],
    scenarios: &[view::ScenarioView],
    tail: &str,
) -> Result<String, minijinja::Error> {
    let length = |text: &str| text.chars().count();
    let whole: usize =
        length(&head) + sections.iter().map(|s| length(s)).sum::<usize>() + length(tail);
    if whole <= MARKDOWN_LIMIT {
        return Ok(head + &sections.concat() + tail);
    }
    let note_room = 200;
    let mut used = length(&head) + length(tail) + note_room;
    if used > MARKDOWN_LIMIT {
        // Not even the overview fits: cut it after its last whole line that does.
        let mut cut = String::new();
        for line in head.lines() {
            if length(&cut) + length(line) + 1 + note_room > MARKDOWN_LIMIT {
                break;
            }
            cut.push_str(line);
            cut.push('\n');
        }
        cut.push_str(&call(state, "cut_short", &[])?);
        return Ok(cut);
    }
    let mut keep = vec![false; sections.len()];
    for failing_first in [true, false] {
        for (index, section) in sections.iter().enumerate() {
            if keep[index] || section.is_empty() || scenarios[index].passed == failing_first {
                continue;
            }
            if used + length(section) <= MARKDOWN_LIMIT {
                used += length(section);
                keep[index] = true;
            }
        }
    }
    let left_out = sections
        .iter()
        .zip(&keep)
        .filter(|(section, kept)| !section.is_empty() && !**kept)
        .count();
    let mut out = head;
    for (section, kept) in sections.iter().zip(&keep) {
        if *kept {
            out.push_str(section);
        }
    }
    out.push_str(&call(state, "left_out", &[TemplateValue::from(left_out)])?);
    Ok(out + tail)
}

/// A plain-text summary for a terminal, rendered by `templates/check.txt.j2`;
/// every value is passed through [`crate::escape_control`] first.
pub fn text(result: &CheckResult) -> Result<String, RenderError> {
    match crate::printable(result) {
        Some(printable) => crate::render_serialized("check.txt", "check", &view::check(&printable)),
        None => crate::render_serialized("check.txt", "check", &view::check(result)),
    }
    .map(crate::strip_control)
}

/// The JSON contract (docs/check.md): pretty-printed, ending in a newline.
pub fn json(result: &CheckResult) -> String {
    let mut text =
        serde_json::to_string_pretty(result).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// The kinds JUnit has a test case for, per scenario: every kind that can
/// fail the gate.
fn junit_kinds(result: &CheckResult) -> impl Iterator<Item = ChangeKind> {
    ChangeKind::ALL
        .iter()
        .copied()
        .filter(|kind| *kind != ChangeKind::FixedEscalation && kind_listed(*kind, result))
}

/// JUnit XML (Apache Ant's schema, reports/schemas/JUnit.xsd): a test suite
/// per scenario with a test case per rule, failing when a change of that kind
/// fails the gate and skipped when the rule is off; then a suite for the
/// exceptions, a case each, failing when stale. `timestamp` is when the
/// run happened ([`crate::run_timestamp`]); each scenario's simulated clock
/// start is its `simulated_start` property; `time` is 0.
pub fn junit(result: &CheckResult) -> Result<String, crate::RenderError> {
    junit_at(result, &crate::run_timestamp())
}

/// [`junit`], with the run's wall-clock time given (`YYYY-MM-DDTHH:MM:SS`).
pub fn junit_at(result: &CheckResult, run_at: &str) -> Result<String, crate::RenderError> {
    // Every value through `escape_control`: JUnit is often printed to a CI
    // log, where a value's line break could start a workflow command.
    match crate::printable(result) {
        Some(printable) => junit_printable(&printable, run_at),
        None => junit_printable(result, run_at).map(crate::strip_control),
    }
}

/// A JUnit document as the gate lays it out, rendered by
/// `templates/check.junit.xml.j2`.
#[derive(Serialize)]
struct JunitDoc {
    suites: Vec<JunitSuite>,
}

#[derive(Serialize)]
struct JunitSuite {
    id: usize,
    name: String,
    timestamp: String,
    tests: usize,
    failures: usize,
    /// Cases that could not run (a scenario file that did not load).
    errors: usize,
    skipped: usize,
    /// `None`: no `<properties>` element.
    properties: Option<Vec<JunitProperty>>,
    cases: Vec<JunitCase>,
    system_out: String,
}

#[derive(Serialize)]
struct JunitProperty {
    name: &'static str,
    value: String,
}

#[derive(Serialize)]
struct JunitCase {
    name: String,
    classname: String,
    failure: Option<JunitFailure>,
    /// Why the case could not run (`<error>`).
    error: Option<JunitFailure>,
    /// The skip message.
    skipped: Option<&'static str>,
}

#[derive(Serialize)]
struct JunitFailure {
    kind: &'static str,
    message: String,
    body: String,
}

impl JunitCase {
    fn passing(name: String, classname: &str) -> Self {
        Self {
            name,
            classname: classname.to_string(),
            failure: None,
            error: None,
            skipped: None,
        }
    }

    fn failing(name: String, classname: &str, failure: JunitFailure) -> Self {
        Self {
            failure: Some(failure),
            ..Self::passing(name, classname)
        }
    }
}

fn junit_printable(result: &CheckResult, run_at: &str) -> Result<String, crate::RenderError> {
    let property = |name, value: &str| JunitProperty {
        name,
        value: value.to_string(),
    };
    let mut suites = Vec::new();
    let rules = &result.config.fail_on;
    let budget = &result.config.budget;
    for (id, scenario) in result.scenarios.iter().enumerate() {
        let mut cases = Vec::new();
        let (mut failures, mut skipped) = (0, 0);
        let classname = format!("privsim.check.{}", scenario.file);
        for kind in junit_kinds(result) {
            let on = match kind {
                ChangeKind::NewAccess => rules.new_access,
                ChangeKind::NewAccessProven => rules.new_access_proven,
                ChangeKind::BrokenWorkflow => rules.broken_workflow,
                ChangeKind::NewEscalation => rules.new_escalation,
                ChangeKind::ExpectationFailed => rules.failed_expectation,
                ChangeKind::Narrowed | ChangeKind::HeldShorter | ChangeKind::NarrowedProven => {
                    rules.narrowed
                }
                ChangeKind::HeldLonger => rules.held_longer,
                ChangeKind::UnexercisedChange => rules.unexercised_change,
                ChangeKind::WeightedGapGrowth => budget.weighted_gap_growth.is_some(),
                ChangeKind::UtilizationDrop => budget.utilization_drop.is_some(),
                ChangeKind::PolicyMayError => rules.policy_may_error,
                ChangeKind::PolicyNeverGrants => rules.policy_never_grants,
                ChangeKind::PolicyNeverApplies => rules.policy_never_applies,
                ChangeKind::PolicyRedundant => rules.policy_redundant,
                // Never a failure: `junit_kinds` leaves it out.
                ChangeKind::FixedEscalation => false,
            };
            let failing: Vec<&Change> = scenario
                .changes
                .iter()
                .filter(|c| c.kind == kind && c.status == ChangeStatus::Fail)
                .collect();
            let name = title(kind).to_string();
            if !failing.is_empty() {
                failures += 1;
                let body: Vec<String> = failing
                    .iter()
                    .map(|c| match &c.location {
                        Some(location) => format!("{location}: {}", c.message),
                        None => c.message.clone(),
                    })
                    .collect();
                cases.push(JunitCase::failing(
                    name,
                    &classname,
                    JunitFailure {
                        kind: kind.as_str(),
                        message: format!(
                            "{} {} change{} fail{} the gate",
                            failing.len(),
                            title(kind),
                            plural(failing.len(), "", "s"),
                            if failing.len() == 1 { "s" } else { "" }
                        ),
                        body: body.join("\n"),
                    },
                ));
            } else if !on {
                skipped += 1;
                cases.push(JunitCase {
                    skipped: Some("not a rule of this gate"),
                    ..JunitCase::passing(name, &classname)
                });
            } else {
                cases.push(JunitCase::passing(name, &classname));
            }
        }
        let mut properties = vec![
            property("scenario", &scenario.file),
            property("simulated_start", &scenario.start.to_string()),
        ];
        for file in &scenario.baseline_policy_files {
            properties.push(property("baseline", file));
        }
        for file in &scenario.candidate_policy_files {
            properties.push(property("candidate", file));
        }
        let mut lines: Vec<String> = scenario
            .changes
            .iter()
            .map(|c| format!("{} {}: {}", c.status, c.kind, c.message))
            .collect();
        // The never rules' verdicts and the hygiene of this scenario (from
        // the proofs), so nothing proven or left unproven is missing here.
        let prefix = format!("{}: ", scenario.name);
        lines.extend(
            proof_lines(result)
                .into_iter()
                .filter(|l| {
                    l.starts_with(&prefix)
                        && (l.contains(": never rule ") || l.contains(": hygiene"))
                })
                .map(|l| l[prefix.len()..].to_string()),
        );
        suites.push(JunitSuite {
            id,
            name: scenario.name.clone(),
            timestamp: run_at.to_string(),
            tests: junit_kinds(result).count(),
            failures,
            errors: 0,
            skipped,
            properties: Some(properties),
            cases,
            system_out: lines.join("\n"),
        });
    }
    if let Some(budget) = &result.budget_exhausted {
        let failing = budget.status == RuleStatus::Fail;
        let name = "within the time budget".to_string();
        let classname = "privsim.check.budget";
        suites.push(JunitSuite {
            id: result.scenarios.len(),
            name: "time budget".to_string(),
            timestamp: run_at.to_string(),
            tests: 1,
            failures: usize::from(failing),
            errors: 0,
            skipped: 0,
            properties: None,
            cases: vec![if failing {
                JunitCase::failing(
                    name,
                    classname,
                    JunitFailure {
                        kind: "budget-exhausted",
                        message: "the time budget was exhausted".to_string(),
                        body: budget.message.clone(),
                    },
                )
            } else {
                JunitCase::passing(name, classname)
            }],
            system_out: budget.message.clone(),
        });
    }
    if let Some(change) = &result.config_change {
        let failing = change.status == RuleStatus::Fail;
        let name = "configuration unchanged".to_string();
        let classname = "privsim.check.config";
        suites.push(JunitSuite {
            id: result.scenarios.len() + usize::from(!result.exceptions.is_empty()),
            name: "gate configuration".to_string(),
            timestamp: run_at.to_string(),
            tests: 1,
            failures: usize::from(failing),
            errors: 0,
            skipped: 0,
            properties: Some(vec![
                property("config", &change.file),
                property("revision", &change.revision),
            ]),
            cases: vec![if failing {
                JunitCase::failing(
                    name,
                    classname,
                    JunitFailure {
                        kind: "config-change",
                        message: "the gate configuration differs from the baseline's".to_string(),
                        body: change.message.clone(),
                    },
                )
            } else {
                JunitCase::passing(name, classname)
            }],
            system_out: change.message.clone(),
        });
    }
    if !result.exceptions.is_empty() {
        let classname = "privsim.check.exceptions";
        let cases: Vec<JunitCase> = result
            .exceptions
            .iter()
            .map(|exception| {
                let name = format!("exception {}", exception.location);
                if exception.status == ExceptionState::Stale {
                    JunitCase::failing(
                        name,
                        classname,
                        JunitFailure {
                            kind: "stale-exception",
                            message: "stale exception: it matches nothing; remove it".to_string(),
                            body: exception.reason.clone(),
                        },
                    )
                } else {
                    JunitCase::passing(name, classname)
                }
            })
            .collect();
        suites.push(JunitSuite {
            id: result.scenarios.len(),
            name: "exceptions".to_string(),
            timestamp: run_at.to_string(),
            tests: result.exceptions.len(),
            failures: result
                .exceptions
                .iter()
                .filter(|e| e.status == ExceptionState::Stale)
                .count(),
            errors: 0,
            skipped: 0,
            properties: Some(vec![property(
                "config",
                result.config.file.as_deref().unwrap_or(""),
            )]),
            cases,
            system_out: String::new(),
        });
    }
    // A scenario file that could not be loaded was not checked: a suite with
    // an `<error>` case, so the test view counts it and never shows a pass.
    for error in &result.load_errors {
        let classname = "privsim.check.load";
        suites.push(JunitSuite {
            id: suites.len(),
            name: error.file.clone(),
            timestamp: run_at.to_string(),
            tests: 1,
            failures: 0,
            errors: 1,
            skipped: 0,
            properties: Some(vec![property("scenario", &error.file)]),
            cases: vec![JunitCase {
                error: Some(JunitFailure {
                    kind: "load-error",
                    message: "the scenario file could not be loaded and was not checked"
                        .to_string(),
                    body: error.message.clone(),
                }),
                ..JunitCase::passing("load".to_string(), classname)
            }],
            system_out: String::new(),
        });
    }
    crate::render_serialized("check.junit.xml", "doc", &JunitDoc { suites })
}

/// `file:line` split into its parts (the line defaults to 1).
fn split_location(location: &str) -> (String, usize) {
    match location.rsplit_once(':') {
        Some((file, line)) if line.parse::<usize>().is_ok() => {
            (file.to_string(), line.parse().unwrap_or(1).max(1))
        }
        _ => (location.to_string(), 1),
    }
}

/// GitHub Actions workflow commands: an `::error` per failing change (at the
/// granting policy for new access, at the step for a broken workflow or a
/// failed expectation, at the rule or policy for an escalation) and per stale
/// exception, a `::warning` per expired exception that still matched. The
/// view model (`view::annotations`) is printed by
/// `templates/check.annotations.j2`, whose `workflow_data` and
/// `workflow_property` filters escape every value; one line each.
pub fn annotations(result: &CheckResult) -> Result<Vec<String>, RenderError> {
    let text = crate::render_serialized(
        "check.annotations",
        "annotations",
        &view::annotations(result),
    )?;
    Ok(text.lines().map(str::to_string).collect())
}

/// A workflow command's message, escaped as the runner unescapes it
/// (`%`, carriage return, line feed).
pub(crate) fn workflow_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value (`file=`, `title=`): as
/// [`workflow_data`], and `:` and `,`, which end a property.
pub(crate) fn workflow_property(text: &str) -> String {
    workflow_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A check with one scenario and no change, whose proofs ran.
    fn proven_check() -> CheckResult {
        let json = r#"{"format": "privsim-check/1", "passed": true,
            "baseline": {"spec": "git:main"}, "candidate": {"spec": "."},
            "config": {"fail_on": {"new_access": true, "new_access_expected": true,
              "broken_workflow": true, "new_escalation": true, "failed_expectation": true,
              "narrowed": false, "held_longer": true}, "budget": {},
              "search": {"enabled": false, "strategy": "exhaustive", "seed": 0,
              "max_steps": 10, "depth": 2}},
            "summary": {"scenarios": 1, "failed_scenarios": 0, "changes": 0,
              "failures": 0, "excepted": 0, "stale_exceptions": 0},
            "scenarios": [{"name": "s", "file": "s.toml", "start": "2026-01-01T00:00:00Z",
              "passed": true, "baseline_policy_files": [], "candidate_policy_files": [],
              "notes": [], "changes": [], "principals": []}],
            "exceptions": [],
            "proofs": {"status": "ran", "timeout_ms": 1, "proven": 0, "refuted": 0,
              "unknown": 0, "scenarios_without_schema": 0}}"#;
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_kinds_keep_their_report_order_and_every_kind_has_text() {
        // The order SARIF's rules and JUnit's failures had with the old
        // name-keyed table.
        let names: Vec<&str> = kinds_in_rule_order().iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "new-access-proven",
                "narrowed-proven",
                "new-escalation",
                "policy-may-error",
                "policy-never-grants",
                "policy-never-applies",
                "policy-redundant",
                "new-access",
                "unexercised-change",
                "held-longer",
                "broken-workflow",
                "expectation-failed",
                "weighted-gap-growth",
                "utilization-drop",
                "narrowed",
                "held-shorter",
                "fixed-escalation",
            ]
        );
        for kind in ChangeKind::ALL {
            let (_, title, description) = kind_text(*kind);
            assert!(!title.is_empty() && description.ends_with('.'), "{kind}");
        }
        assert_eq!(title(ChangeKind::PolicyRedundant), "redundant permit");
    }

    /// A file name and message with the characters workflow commands give a
    /// meaning (`%`, `,`, `:`, line breaks) reach the runner escaped, each
    /// annotation on one line.
    #[test]
    fn annotations_escape_what_workflow_commands_would_read() {
        let mut check = proven_check();
        let json = r#"{"kind": "new-access", "status": "fail", "principal": "P",
            "policies": [], "location": "100%,odd:dir/p.cedar:7",
            "message": "50% of a, b: held\r\nnext"}"#;
        let change = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        check.scenarios[0].changes.push(change);
        check.scenarios[0].name = "s,1: %x".to_string();
        let lines = annotations(&check).unwrap_or_default();
        assert_eq!(
            lines,
            [
                "::error file=100%25%2Codd%3Adir/p.cedar,line=7,title=privsim check%3A new access::50%25 of a, b: held%0D%0Anext (scenario \"s,1: %25x\")"
            ]
        );
        assert_eq!(workflow_property("a%\n:,"), "a%25%0A%3A%2C");
        assert_eq!(workflow_data("a%\r\n:,"), "a%25%0D%0A:,");
    }

    /// A hygiene rule that is on is a JUnit case that passes, not one
    /// skipped as "not a rule of this gate" (they were keyed to the
    /// utilization budget by a catch-all arm before the kinds were matched
    /// exhaustively).
    #[test]
    fn junit_skips_exactly_the_hygiene_rules_that_are_off() {
        let junit = junit_at(&proven_check(), "2026-01-01T00:00:00").unwrap_or_default();
        let case = |name: &str| {
            let start = junit
                .find(&format!("<testcase name=\"{name}\""))
                .unwrap_or_else(|| panic!("no case {name}: {junit}"));
            // Up to the next case (a passing case closes itself).
            let rest = &junit[start + 1..];
            rest[..rest.find("<testcase").unwrap_or(rest.len())].to_string()
        };
        // `policy_may_error` is on by default; the other three are off.
        assert!(!case("policy may error").contains("<skipped"), "{junit}");
        for off in [
            "permit never grants",
            "policy never applies",
            "redundant permit",
        ] {
            assert!(case(off).contains("<skipped"), "{off}: {junit}");
        }
    }
}
