//! SARIF 2.1.0 for code-scanning tools: one result per invariant finding,
//! failed expectation, failed access assertion, over-privileged principal and
//! dead policy, located at the policy that determined the decision (or the
//! scenario line of the step; a finding of a `[[never]]` or `[[access]]` rule
//! at the rule), with each finding's trace as a code flow: the principal's
//! steps, or for a finding of the escalation search its moves.
//! Built from the `view` model (`view.rs`) into the serde types of
//! `model.rs` (shared with the gate's SARIF); validated against the OASIS
//! schema (`reports/schemas/`) by the tests.

pub(crate) mod model;

pub use model::{SCHEMA, uri};

use model::{
    AccessProperties, CodeFlow, FileProperties, FindingProperties, Location, Log, Message,
    PolicyProperties, PrincipalProperties, Properties, PropertiesTail, PropertiesThenMore,
    RelatedThenProperties, Rule, Run, RunProperties, SarifResult, SearchProperties, StepProperties,
    Tail, ThreadFlow, ThreadFlowLocation,
};

use super::view::{FindingView, RunView, ScenarioView, StepView};

/// The rules, in a fixed order (a result's `ruleIndex` points into it); finding
/// kinds the list does not know are appended, sorted.
const RULES: [(&str, &str, &str, &str); 6] = [
    (
        "delegation-ceiling",
        "error",
        "A delegate was allowed what its delegator is denied",
        "A session acting for a delegator (a user or a parent agent) was allowed a request that the delegator itself, with the same context, is denied: authority grew along the delegation chain.",
    ),
    (
        "expiry",
        "error",
        "A pair is still held after the grant that conferred it ended",
        "After a time-bound grant ended, the principal still held a pair that only the grant gave it: a policy meant to enforce the grant's end does not.",
    ),
    (
        "expectation-failed",
        "error",
        "A step's expectation did not hold",
        "The scenario expected a different decision, determining policies or errors for this step.",
    ),
    (
        "access-failed",
        "error",
        "An exact-access assertion did not hold",
        "The resources Cedar allowed differ from the resources the scenario's [[access]] assertion lists.",
    ),
    (
        "over-privilege",
        "warning",
        "A principal held privileges it never used",
        "Held − used is not empty: the principal could do more than its workflow needed. The weighted gap sums the risk weights of the unused pairs.",
    ),
    (
        "dead-policy",
        "note",
        "A policy determined no decision",
        "No step of any scenario evaluating this policy was decided by it: it may be obsolete, shadowed, or untested.",
    ),
];

/// Finding kinds described when a run has them (appended to [`RULES`] then,
/// sorted with any other kind).
const MORE_KINDS: [(&str, &str, &str); 3] = [
    (
        "access",
        "An always-access assertion failed in a reachable state",
        "An [[access]] assertion with always = true did not hold in a state that replay or the escalation search reached: the resources Cedar allowed differ from the ones it lists.",
    ),
    (
        "attenuation",
        "A session was allowed what its parent session is not",
        "A session started by a parent session was allowed an action on a resource that the parent session, with its own context, is not allowed: authority grew from parent to child.",
    ),
    (
        "never",
        "Access a [[never]] rule forbids was reachable",
        "In a state that replay or the escalation search reached, a principal matching a [[never]] rule of the scenario was allowed a matching action on a matching resource.",
    ),
];

/// The rule of a scenario file that could not be loaded (appended to the
/// rules only when a run has one, so other logs are unchanged).
pub(crate) const LOAD_ERROR: (&str, &str, &str) = (
    "load-error",
    "A scenario file could not be loaded",
    "The scenario file, or a file it names, is malformed or could not be read, so it was not evaluated: nothing it describes was checked.",
);

/// The `file:line:col: ` an error message starts with, as the file and line.
pub(crate) fn error_location(message: &str) -> Option<(&str, usize)> {
    message.match_indices(':').find_map(|(at, _)| {
        let mut rest = message[at + 1..].splitn(3, ':');
        let line = rest.next()?.parse::<usize>().ok()?;
        rest.next()?.parse::<usize>().ok()?;
        rest.next()?
            .starts_with(' ')
            .then_some((&message[..at], line))
    })
}

/// The result of a scenario file that could not be loaded (`file`, with its
/// error `message`), at the error's line when the message starts with one;
/// the run's and the gate's SARIF both use it.
pub(crate) fn load_error_result(file: &str, message: &str, rule_index: usize) -> SarifResult {
    let (at, line) = error_location(message).unwrap_or((file, 0));
    SarifResult {
        rule_id: LOAD_ERROR.0.to_string(),
        rule_index,
        level: "error",
        message: Message::new(format!(
            "The scenario file could not be loaded and was not evaluated: {message}"
        )),
        locations: vec![Location::new(at, line, None)],
        tail: Tail::Properties(PropertiesTail {
            properties: Properties::File(FileProperties {
                file: file.to_string(),
            }),
        }),
    }
}

/// The SARIF log, pretty-printed, ending in a newline.
pub fn render(run: &RunView) -> String {
    let mut rules: Vec<Rule> = RULES
        .iter()
        .map(|(id, level, short, full)| Rule::new(id, level, short, full))
        .collect();
    let mut extra: Vec<String> = run
        .scenarios
        .iter()
        .flat_map(|s| &s.findings)
        .map(|f| f.kind.clone())
        .filter(|kind| !RULES.iter().any(|(id, ..)| id == kind))
        .collect();
    extra.sort();
    extra.dedup();
    for kind in extra {
        let (short, full) = match MORE_KINDS.iter().find(|(id, ..)| *id == kind) {
            Some((_, short, full)) => ((*short).to_string(), (*full).to_string()),
            None => (
                format!("Invariant `{kind}` was violated"),
                format!("privsim found a violation of the `{kind}` invariant."),
            ),
        };
        rules.push(Rule::new(&kind, "error", &short, &full));
    }
    if !run.load_errors.is_empty() {
        rules.push(Rule::new(LOAD_ERROR.0, "error", LOAD_ERROR.1, LOAD_ERROR.2));
    }
    let rule_index = |id: &str| rules.iter().position(|r| r.id == id).unwrap_or(0);

    let mut results = Vec::new();
    for scenario in &run.scenarios {
        for finding in &scenario.findings {
            results.push(finding_result(scenario, finding, rule_index(&finding.kind)));
        }
        for failed in &scenario.failed_expectations {
            let step = &failed.step;
            results.push(SarifResult {
                rule_id: "expectation-failed".to_string(),
                rule_index: rule_index("expectation-failed"),
                level: "error",
                message: Message::new(format!(
                    "Step {} of scenario \"{}\" ({} {} {}): decided {}, expected {}: {}",
                    step.index,
                    scenario.name,
                    step.principal,
                    step.action,
                    step.resource,
                    decided(step),
                    failed.expected,
                    failed.failures.join("; ")
                )),
                locations: vec![Location::new(&scenario.file, step.line, None)],
                tail: Tail::RelatedThenProperties(RelatedThenProperties {
                    related_locations: related(&step.determining, scenario),
                    properties: Properties::Step(StepProperties {
                        scenario: scenario.name.clone(),
                        step: step.index,
                        time: step.time.clone(),
                        principal: step.principal.clone(),
                        action: step.action.clone(),
                        resource: step.resource.clone(),
                    }),
                }),
            });
        }
        for access in &scenario.failed_access {
            results.push(SarifResult {
                rule_id: "access-failed".to_string(),
                rule_index: rule_index("access-failed"),
                level: "error",
                message: Message::new(format!(
                    "Access assertion #{} of scenario \"{}\" ({} {} at {}): missing [{}], unexpected [{}]",
                    access.index,
                    scenario.name,
                    access.principal,
                    access.action,
                    access.time,
                    access.missing.join(", "),
                    access.unexpected.join(", ")
                )),
                locations: vec![Location::new(&scenario.file, access.line, None)],
                tail: Tail::Properties(PropertiesTail {
                    properties: Properties::Access(AccessProperties {
                        scenario: scenario.name.clone(),
                        principal: access.principal.clone(),
                        action: access.action.clone(),
                    }),
                }),
            });
        }
        for principal in scenario.principals.iter().filter(|p| p.unused > 0) {
            let line = scenario
                .steps
                .iter()
                .find(|st| st.principal == principal.principal)
                .map_or(1, |st| st.line);
            let mut biggest: Vec<String> = principal
                .unused_actions
                .iter()
                .map(|u| format!("{} on {} resource(s) never used", u.action, u.pairs))
                .chain(
                    principal
                        .unused_scope
                        .iter()
                        .map(|u| format!("{} on {} more resource(s) than used", u.action, u.count)),
                )
                .collect();
            biggest.truncate(3);
            results.push(SarifResult {
                rule_id: "over-privilege".to_string(),
                rule_index: rule_index("over-privilege"),
                level: "warning",
                message: Message::new(format!(
                    "{} in scenario \"{}\" held {} pair(s) and used {} ({} utilization, weighted gap {}): {}",
                    principal.principal,
                    scenario.name,
                    principal.held,
                    principal.used,
                    principal.utilization,
                    principal.weighted_gap,
                    biggest.join("; ")
                )),
                locations: vec![Location::new(&scenario.file, line, None)],
                tail: Tail::Properties(PropertiesTail {
                    properties: Properties::Principal(PrincipalProperties {
                        scenario: scenario.name.clone(),
                        principal: principal.principal.clone(),
                        weighted_gap: principal.weighted_gap,
                    }),
                }),
            });
        }
    }
    for error in &run.load_errors {
        results.push(load_error_result(
            &error.file,
            &error.message,
            rule_index(LOAD_ERROR.0),
        ));
    }
    for dead in &run.dead_everywhere {
        let Some(file) = &dead.file else { continue };
        results.push(SarifResult {
            rule_id: "dead-policy".to_string(),
            rule_index: rule_index("dead-policy"),
            level: "note",
            message: Message::new(format!(
                "Policy `{}` ({}) determined no decision in the {} scenario(s) that evaluated it",
                dead.id, dead.effect, dead.scenarios
            )),
            locations: vec![Location::new(file, dead.line.unwrap_or(1), None)],
            tail: Tail::Properties(PropertiesTail {
                properties: Properties::Policy(PolicyProperties {
                    policy: dead.id.clone(),
                }),
            }),
        });
    }

    let searches: Vec<SearchProperties> = run
        .scenarios
        .iter()
        .filter_map(|scenario| {
            let search = scenario.search.as_ref()?;
            Some(SearchProperties {
                scenario: scenario.name.clone(),
                file: scenario.file.clone(),
                strategy: search.strategy.clone(),
                seed: search.seed,
                moves: search.moves,
                states: search.states,
                max_depth: search.max_depth,
                budget_exhausted: search.budget_exhausted,
                outcome: search.outcome.clone(),
                exhaustive_depth: search.exhaustive_depth,
                interrupted: search.interrupted,
                caveats: search.caveats.clone(),
            })
        })
        .collect();
    let mut log = Run::new("privsim", rules, results);
    if !searches.is_empty() {
        log.properties = Some(RunProperties { searches });
    }
    Log::new(log).to_text()
}

fn decided(step: &StepView) -> String {
    if step.determining.is_empty() {
        step.decision.clone()
    } else {
        format!("{} by [{}]", step.decision, step.determining.join(", "))
    }
}

/// A finding, located at the rule it broke (`never`, `access`), else at its
/// first determining policy with a location, else at its step, else at the
/// principal's last step before it (or the scenario, for the search).
fn finding_result(
    scenario: &ScenarioView,
    finding: &FindingView,
    rule_index: usize,
) -> SarifResult {
    let at_rule = finding.rule_file.clone().zip(finding.rule_line);
    let at_policy = finding
        .determining
        .iter()
        .filter(|_| at_rule.is_none())
        .find_map(|p| Some((p.file.clone()?, p.line?, &p.id)));
    let step_line = finding.step.and_then(|index| {
        scenario
            .steps
            .iter()
            .find(|st| st.index == index)
            .map(|st| st.line)
    });
    let primary = match (&at_rule, &at_policy, step_line) {
        (Some((file, line)), _, _) => {
            Location::new(file, *line, Some(&format!("the `{}` rule", finding.kind)))
        }
        (None, Some((file, line, id)), _) => {
            Location::new(file, *line, Some(&format!("policy `{id}`")))
        }
        (None, None, Some(line)) => Location::new(&scenario.file, line, None),
        (None, None, None) => Location::new(
            &scenario.file,
            finding.trace.last().map_or(1, |t| t.step.line),
            None,
        ),
    };
    let mut related_locations = Vec::new();
    if (at_rule.is_some() || at_policy.is_some())
        && let Some(line) = step_line
    {
        related_locations.push(Location::related(
            &scenario.file,
            line,
            0,
            &format!("step {}", finding.step.unwrap_or(0)),
        ));
    }
    let first = usize::from(at_rule.is_none());
    for policy in finding.determining.iter().skip(first) {
        if let (Some(file), Some(line)) = (&policy.file, policy.line) {
            let id = related_locations.len();
            related_locations.push(Location::related(
                file,
                line,
                id,
                &format!("policy `{}`", policy.id),
            ));
        }
    }
    let steps = finding.trace.iter().map(|t| {
        let st = &t.step;
        ThreadFlowLocation {
            location: Location::new(
                &scenario.file,
                st.line,
                Some(&format!(
                    "step {} ({}): {} {} {} → {}{}",
                    st.index,
                    st.offset,
                    st.principal,
                    st.action,
                    st.resource,
                    decided(st),
                    if t.is_finding { " (the finding)" } else { "" }
                )),
            ),
            execution_order: None,
            importance: if t.is_finding {
                "essential"
            } else {
                "important"
            },
        }
    });
    // A search's moves are not lines of any file: each is located in the
    // scenario it started from, the one that must be denied where the
    // finding is.
    let moves = finding.moves.iter().map(|m| {
        let at = if m.must_deny {
            primary.clone()
        } else {
            Location::new(&scenario.file, 0, None)
        };
        let text = if m.must_deny {
            format!("{} (must be denied)", m.line)
        } else {
            m.line.clone()
        };
        ThreadFlowLocation {
            location: at.with_message(&text),
            execution_order: Some(m.number),
            importance: if m.must_deny {
                "essential"
            } else if m.is_request {
                "important"
            } else {
                "unimportant"
            },
        }
    });
    let flow: Vec<ThreadFlowLocation> = steps.chain(moves).collect();
    let code_flows = if flow.is_empty() {
        Vec::new()
    } else {
        vec![CodeFlow {
            message: Message::new(if finding.moves.is_empty() {
                format!("The steps of {} up to the finding", finding.principal)
            } else {
                format!("The search's trace: {}", finding.moves_summary)
            }),
            thread_flows: vec![ThreadFlow { locations: flow }],
        }]
    };
    SarifResult {
        rule_id: finding.kind.clone(),
        rule_index,
        level: "error",
        message: Message::new(format!(
            "{} (scenario \"{}\", {}{})",
            finding.message,
            scenario.name,
            match finding.step {
                Some(step) => format!("step {step}"),
                None => finding.time.clone(),
            },
            if finding.moves.is_empty() {
                String::new()
            } else {
                format!(
                    ", found by the search after {} move(s)",
                    finding.moves.len()
                )
            }
        )),
        locations: vec![primary],
        tail: Tail::PropertiesThenMore(PropertiesThenMore {
            properties: Properties::Finding(FindingProperties {
                scenario: scenario.name.clone(),
                time: finding.time.clone(),
                principal: finding.principal.clone(),
                action: finding.action.clone(),
                resource: finding.resource.clone(),
                rule: finding.rule.clone(),
                repro: finding.repro.clone(),
                moves: (!finding.moves.is_empty()).then_some(finding.moves.len()),
            }),
            related_locations,
            suppressions: Vec::new(),
            code_flows,
        }),
    }
}

/// Related locations for the determining policies of a step.
fn related(ids: &[String], scenario: &ScenarioView) -> Vec<Location> {
    let mut out = Vec::new();
    for id in ids {
        let found = scenario
            .live_policies
            .iter()
            .chain(&scenario.dead_policies)
            .find(|p| &p.id == id)
            .and_then(|p| p.location.as_deref())
            .and_then(|l| l.rsplit_once(':'))
            .and_then(|(file, line)| Some((file, line.parse::<usize>().ok()?)));
        if let Some((file, line)) = found {
            let index = out.len();
            out.push(Location::related(
                file,
                line,
                index,
                &format!("policy `{id}`"),
            ));
        }
    }
    out
}
