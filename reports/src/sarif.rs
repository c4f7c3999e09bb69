//! SARIF 2.1.0 for code-scanning tools: one result per invariant finding,
//! failed expectation, failed access assertion, over-privileged principal and
//! dead policy, located at the policy that determined the decision (or the
//! scenario line of the step; a finding of a `[[never]]` or `[[access]]` rule
//! at the rule), with each finding's trace as a code flow: the principal's
//! steps, or for a finding of the escalation search its moves.
//! Built from the [`view`](super::view) model with serde_json; validated
//! against the OASIS schema (`reports/schemas/`) by the tests.

use serde_json::{Value, json};

use super::view::{FindingView, RunView, ScenarioView, StepView};

/// The schema this output follows.
pub const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

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
const LOAD_ERROR: (&str, &str, &str) = (
    "load-error",
    "A scenario file could not be loaded",
    "The scenario file, or a file it names, is malformed or could not be read, so it was not evaluated: nothing it describes was checked.",
);

/// The `file:line:col: ` an error message starts with, as the file and line.
fn error_location(message: &str) -> Option<(&str, usize)> {
    message.match_indices(':').find_map(|(at, _)| {
        let mut rest = message[at + 1..].splitn(3, ':');
        let line = rest.next()?.parse::<usize>().ok()?;
        rest.next()?.parse::<usize>().ok()?;
        rest.next()?
            .starts_with(' ')
            .then_some((&message[..at], line))
    })
}

/// The SARIF log, pretty-printed, ending in a newline.
pub fn render(run: &RunView) -> String {
    let mut rules: Vec<(String, String, String, String)> = RULES
        .iter()
        .map(|(id, level, short, full)| {
            (
                (*id).to_string(),
                (*level).to_string(),
                (*short).to_string(),
                (*full).to_string(),
            )
        })
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
        rules.push((kind, "error".to_string(), short, full));
    }
    if !run.load_errors.is_empty() {
        rules.push((
            LOAD_ERROR.0.to_string(),
            "error".to_string(),
            LOAD_ERROR.1.to_string(),
            LOAD_ERROR.2.to_string(),
        ));
    }
    let rule_index = |id: &str| rules.iter().position(|r| r.0 == id).unwrap_or(0);

    let mut results = Vec::new();
    for scenario in &run.scenarios {
        for finding in &scenario.findings {
            results.push(finding_result(scenario, finding, rule_index(&finding.kind)));
        }
        for failed in &scenario.failed_expectations {
            let step = &failed.step;
            results.push(json!({
                "ruleId": "expectation-failed",
                "ruleIndex": rule_index("expectation-failed"),
                "level": "error",
                "message": {"text": format!(
                    "Step {} of scenario \"{}\" ({} {} {}): decided {}, expected {}: {}",
                    step.index, scenario.name, step.principal, step.action, step.resource,
                    decided(step), failed.expected, failed.failures.join("; ")
                )},
                "locations": [location(&scenario.file, step.line, None)],
                "relatedLocations": related(&step.determining, scenario),
                "properties": properties(scenario, step),
            }));
        }
        for access in &scenario.failed_access {
            results.push(json!({
                "ruleId": "access-failed",
                "ruleIndex": rule_index("access-failed"),
                "level": "error",
                "message": {"text": format!(
                    "Access assertion #{} of scenario \"{}\" ({} {} at {}): missing [{}], unexpected [{}]",
                    access.index, scenario.name, access.principal, access.action, access.time,
                    access.missing.join(", "), access.unexpected.join(", ")
                )},
                "locations": [location(&scenario.file, access.line, None)],
                "properties": {"scenario": scenario.name, "principal": access.principal, "action": access.action},
            }));
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
            results.push(json!({
                "ruleId": "over-privilege",
                "ruleIndex": rule_index("over-privilege"),
                "level": "warning",
                "message": {"text": format!(
                    "{} in scenario \"{}\" held {} pair(s) and used {} ({} utilization, weighted gap {}): {}",
                    principal.principal, scenario.name, principal.held, principal.used,
                    principal.utilization, principal.weighted_gap, biggest.join("; ")
                )},
                "locations": [location(&scenario.file, line, None)],
                "properties": {"scenario": scenario.name, "principal": principal.principal, "weightedGap": principal.weighted_gap},
            }));
        }
    }
    for error in &run.load_errors {
        let (file, line) = error_location(&error.message).unwrap_or((&error.file, 0));
        results.push(json!({
            "ruleId": LOAD_ERROR.0,
            "ruleIndex": rule_index(LOAD_ERROR.0),
            "level": "error",
            "message": {"text": format!("The scenario file could not be loaded and was not evaluated: {}", error.message)},
            "locations": [location(file, line, None)],
            "properties": {"file": error.file},
        }));
    }
    for dead in &run.dead_everywhere {
        let Some(file) = &dead.file else { continue };
        results.push(json!({
            "ruleId": "dead-policy",
            "ruleIndex": rule_index("dead-policy"),
            "level": "note",
            "message": {"text": format!(
                "Policy `{}` ({}) determined no decision in the {} scenario(s) that evaluated it",
                dead.id, dead.effect, dead.scenarios
            )},
            "locations": [location(file, dead.line.unwrap_or(1), None)],
            "properties": {"policy": dead.id},
        }));
    }

    let searches: Vec<Value> = run
        .scenarios
        .iter()
        .filter_map(|scenario| {
            let search = scenario.search.as_ref()?;
            let mut entry = json!({
                "scenario": scenario.name,
                "file": scenario.file,
                "strategy": search.strategy,
                "seed": search.seed,
                "moves": search.moves,
                "states": search.states,
                "maxDepth": search.max_depth,
                "budgetExhausted": search.budget_exhausted,
                "outcome": search.outcome,
            });
            if let (Some(depth), Some(object)) = (search.exhaustive_depth, entry.as_object_mut()) {
                object.insert("exhaustiveDepth".into(), json!(depth));
            }
            if let (true, Some(object)) = (search.interrupted, entry.as_object_mut()) {
                object.insert("interrupted".into(), json!(true));
            }
            if let (false, Some(object)) = (search.caveats.is_empty(), entry.as_object_mut()) {
                object.insert("caveats".into(), json!(search.caveats));
            }
            Some(entry)
        })
        .collect();
    let mut log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "privsim",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|(id, level, short, full)| json!({
                    "id": id,
                    "shortDescription": {"text": short},
                    "fullDescription": {"text": full},
                    "defaultConfiguration": {"level": level},
                })).collect::<Vec<_>>(),
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    if !searches.is_empty()
        && let Some(run) = log.pointer_mut("/runs/0").and_then(Value::as_object_mut)
    {
        run.insert("properties".into(), json!({ "searches": searches }));
    }
    escape_message_links(&mut log);
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}

fn decided(step: &StepView) -> String {
    if step.determining.is_empty() {
        step.decision.clone()
    } else {
        format!("{} by [{}]", step.decision, step.determining.join(", "))
    }
}

fn properties(scenario: &ScenarioView, step: &StepView) -> Value {
    json!({
        "scenario": scenario.name,
        "step": step.index,
        "time": step.time,
        "principal": step.principal,
        "action": step.action,
        "resource": step.resource,
    })
}

/// A finding, located at the rule it broke (`never`, `access`), else at its
/// first determining policy with a location, else at its step, else at the
/// principal's last step before it (or the scenario, for the search).
fn finding_result(scenario: &ScenarioView, finding: &FindingView, rule_index: usize) -> Value {
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
            location(file, *line, Some(&format!("the `{}` rule", finding.kind)))
        }
        (None, Some((file, line, id)), _) => location(file, *line, Some(&format!("policy `{id}`"))),
        (None, None, Some(line)) => location(&scenario.file, line, None),
        (None, None, None) => location(
            &scenario.file,
            finding.trace.last().map_or(1, |t| t.step.line),
            None,
        ),
    };
    let mut related_locations = Vec::new();
    if (at_rule.is_some() || at_policy.is_some())
        && let Some(line) = step_line
    {
        related_locations.push(with_id(
            location(
                &scenario.file,
                line,
                Some(&format!("step {}", finding.step.unwrap_or(0))),
            ),
            0,
        ));
    }
    let first = usize::from(at_rule.is_none());
    for policy in finding.determining.iter().skip(first) {
        if let (Some(file), Some(line)) = (&policy.file, policy.line) {
            let id = related_locations.len();
            related_locations.push(with_id(
                location(file, line, Some(&format!("policy `{}`", policy.id))),
                id,
            ));
        }
    }
    let steps = finding.trace.iter().map(|t| {
        let st = &t.step;
        json!({
            "location": location(&scenario.file, st.line, Some(&format!(
                "step {} ({}): {} {} {} → {}{}",
                st.index, st.offset, st.principal, st.action, st.resource, decided(st),
                if t.is_finding { " (the finding)" } else { "" }
            ))),
            "importance": if t.is_finding { "essential" } else { "important" },
        })
    });
    // A search's moves are not lines of any file: each is located in the
    // scenario it started from, the one that must be denied where the
    // finding is.
    let moves = finding.moves.iter().map(|m| {
        let mut at = if m.must_deny {
            primary.clone()
        } else {
            location(&scenario.file, 0, None)
        };
        if let Some(object) = at.as_object_mut() {
            let text = if m.must_deny {
                format!("{} (must be denied)", m.line)
            } else {
                m.line.clone()
            };
            object.insert("message".into(), json!({ "text": text }));
        }
        json!({
            "location": at,
            "executionOrder": m.number,
            "importance": if m.must_deny {
                "essential"
            } else if m.is_request {
                "important"
            } else {
                "unimportant"
            },
        })
    });
    let flow: Vec<Value> = steps.chain(moves).collect();
    let mut result = json!({
        "ruleId": finding.kind,
        "ruleIndex": rule_index,
        "level": "error",
        "message": {"text": format!("{} (scenario \"{}\", {}{})", finding.message, scenario.name, match finding.step {
            Some(step) => format!("step {step}"),
            None => finding.time.clone(),
        }, if finding.moves.is_empty() {
            String::new()
        } else {
            format!(", found by the search after {} move(s)", finding.moves.len())
        })},
        "locations": [primary],
        "properties": {
            "scenario": scenario.name,
            "time": finding.time,
            "principal": finding.principal,
            "action": finding.action,
            "resource": finding.resource,
        },
    });
    if let Some(properties) = result.get_mut("properties").and_then(Value::as_object_mut) {
        if let Some(rule) = &finding.rule {
            properties.insert("rule".into(), json!(rule));
        }
        if let Some(repro) = &finding.repro {
            properties.insert("repro".into(), json!(repro));
        }
        if !finding.moves.is_empty() {
            properties.insert("moves".into(), json!(finding.moves.len()));
        }
    }
    if let Some(object) = result.as_object_mut() {
        if !related_locations.is_empty() {
            object.insert("relatedLocations".into(), Value::from(related_locations));
        }
        if !flow.is_empty() {
            object.insert(
                "codeFlows".into(),
                json!([{
                    "message": {"text": if finding.moves.is_empty() {
                        format!("The steps of {} up to the finding", finding.principal)
                    } else {
                        format!("The search's trace: {}", finding.moves_summary)
                    }},
                    "threadFlows": [{"locations": flow}],
                }]),
            );
        }
    }
    result
}

/// Related locations for the determining policies of a step.
fn related(ids: &[String], scenario: &ScenarioView) -> Value {
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
            out.push(with_id(
                location(file, line, Some(&format!("policy `{id}`"))),
                index,
            ));
        }
    }
    Value::from(out)
}

fn with_id(mut location: Value, id: usize) -> Value {
    if let Some(object) = location.as_object_mut() {
        object.insert("id".into(), Value::from(id));
    }
    location
}

/// A physical location: a file (as a relative URI, or a `file://` URI for an
/// absolute path) and a line.
/// Escapes `[` and `]` in every `message.text` of a SARIF log. Plain-text
/// messages may embed links, `[text](N)` to related location N (SARIF 2.1.0
/// §3.11.6), so an id like `[x](http://…)` would become one; the spec's escape
/// is a backslash before each bracket. A backslash already followed by a
/// bracket is escaped too, so it stays a literal backslash.
pub(crate) fn escape_message_links(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (key, inner) in fields.iter_mut() {
                if key == "message"
                    && let Some(Value::String(text)) = inner.get_mut("text")
                    && text.contains(['[', ']'])
                {
                    let mut escaped = String::with_capacity(text.len() + 8);
                    let mut chars = text.chars().peekable();
                    while let Some(c) = chars.next() {
                        if c == '['
                            || c == ']'
                            || (c == '\\' && chars.peek().is_some_and(|n| *n == '[' || *n == ']'))
                        {
                            escaped.push('\\');
                        }
                        escaped.push(c);
                    }
                    *text = escaped;
                }
                escape_message_links(inner);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(escape_message_links),
        _ => {}
    }
}

pub(crate) fn location(file: &str, line: usize, message: Option<&str>) -> Value {
    let mut physical = json!({"artifactLocation": {"uri": uri(file)}});
    if line >= 1
        && let Some(object) = physical.as_object_mut()
    {
        object.insert("region".into(), json!({"startLine": line}));
    }
    let mut location = json!({"physicalLocation": physical});
    if let (Some(text), Some(object)) = (message, location.as_object_mut()) {
        object.insert("message".into(), json!({"text": text}));
    }
    location
}

/// A path as a URI reference: `/` separators, percent-encoded outside the
/// unreserved characters, `file://` in front of an absolute path.
pub fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut out = String::new();
    if path.starts_with('/') {
        out.push_str("file://");
    }
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
