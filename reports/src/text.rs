//! The human-readable summary printed by `privsim run` by default.

use std::fmt::Write as _;

use privsim_model::result::{RunResult, ScenarioResult};

use super::view;

/// Renders the whole run; every value is passed through
/// [`crate::escape_control`] first.
pub fn render(result: &RunResult) -> String {
    match crate::printable(result) {
        Some(printable) => crate::strip_control(render_printable(&printable)),
        None => crate::strip_control(render_printable(result)),
    }
}

fn render_printable(result: &RunResult) -> String {
    let mut out = String::new();
    for scenario in &result.scenarios {
        render_scenario(&mut out, scenario);
        out.push('\n');
    }
    // A file that could not be loaded was never evaluated: it is listed and
    // it fails the run, so the last line never says "ok" about it.
    for error in &result.load_errors {
        let message = error.message.replace(['\n', '\r'], " ");
        let _ = writeln!(out, "NOT LOADED {}: {message}\n", error.file);
    }
    let failed = result.scenarios.iter().filter(|s| !s.passed).count();
    let findings: usize = result.scenarios.iter().map(|s| s.findings.len()).sum();
    let not_loaded = if result.load_errors.is_empty() {
        String::new()
    } else {
        format!(", {} not loaded", result.load_errors.len())
    };
    let _ = writeln!(
        out,
        "{}: {} scenario(s), {} failed{not_loaded}, {} finding(s)",
        if result.passed() { "ok" } else { "FAILED" },
        result.scenarios.len(),
        failed,
        findings
    );
    out
}

/// The widest a column is padded to. A longer value overflows its column
/// instead: `format!` cannot pad to 65,536 characters or more (it panicked
/// on such an id), and a table that wide helps nobody.
const MAX_COLUMN: usize = 80;

fn render_scenario(out: &mut String, s: &ScenarioResult) {
    let _ = writeln!(
        out,
        "{} {}  ({})",
        if s.passed { "PASS" } else { "FAIL" },
        s.name,
        s.file
    );
    let _ = writeln!(out, "  policies: {}", s.policy_files.join(", "));
    let time_width = s
        .steps
        .iter()
        .map(|st| st.time.to_string().len())
        .max()
        .unwrap_or(0)
        .clamp(20, MAX_COLUMN);
    let widths = [
        s.steps
            .iter()
            .map(|st| st.principal.len())
            .max()
            .unwrap_or(0)
            .clamp(9, MAX_COLUMN),
        s.steps
            .iter()
            .map(|st| st.action.len())
            .max()
            .unwrap_or(0)
            .clamp(6, MAX_COLUMN),
        s.steps
            .iter()
            .map(|st| st.resource.len())
            .max()
            .unwrap_or(0)
            .clamp(8, MAX_COLUMN),
    ];
    if !s.steps.is_empty() {
        let _ = writeln!(
            out,
            "  {:>4}  {:<wt$}  {:<w0$}  {:<w1$}  {:<w2$}  {:<8}  result",
            "step",
            "time",
            "principal",
            "action",
            "resource",
            "decision",
            wt = time_width,
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    }
    for step in &s.steps {
        let outcome = match &step.expectation {
            None => "-".to_string(),
            Some(e) if e.passed => "ok".to_string(),
            Some(e) => format!("FAIL: {}", e.failures.join("; ")),
        };
        let policies = if step.determining_policies.is_empty() {
            String::new()
        } else {
            format!(" [{}]", step.determining_policies.join(", "))
        };
        let _ = writeln!(
            out,
            "  {:>4}  {:<wt$}  {:<w0$}  {:<w1$}  {:<w2$}  {:<8}  {outcome}{policies}",
            step.index,
            step.time,
            step.principal,
            step.action,
            step.resource,
            step.decision,
            wt = time_width,
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        for error in &step.errors {
            let _ = writeln!(
                out,
                "        error{}: {}",
                error
                    .policy
                    .as_ref()
                    .map(|p| format!(" in `{p}`"))
                    .unwrap_or_default(),
                error.message
            );
        }
        for effect in &step.effects {
            let _ = writeln!(out, "        effect: {}", one_line(effect));
        }
    }
    for access in &s.access {
        let status = if access.passed {
            "ok".to_string()
        } else {
            format!(
                "FAIL: missing [{}], unexpected [{}]",
                access.missing.join(", "),
                access.unexpected.join(", ")
            )
        };
        let _ = writeln!(
            out,
            "  access #{} (line {}): {} {} at {}: {} resource(s) allowed: {status}",
            access.index,
            access.line,
            access.principal,
            access.action,
            access.time,
            access.allowed.len()
        );
    }
    for step in &s.steps {
        if let Some(expectation) = step.expectation.as_ref().filter(|e| !e.passed) {
            let name = step
                .name
                .as_ref()
                .map(|n| format!(" \"{n}\""))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  FAILED step {}{name} ({}:{}): {}",
                step.index,
                s.file,
                step.line,
                expectation.failures.join("; ")
            );
        }
    }
    if let Some(search) = &s.search {
        let _ = writeln!(
            out,
            "  search: strategy {}, seed {}: {} move(s) tried, {} distinct state(s), max depth {}; {}",
            search.strategy,
            search.seed,
            search.moves,
            search.states,
            search.max_depth,
            view::search_outcome(search, s.findings.len())
        );
        for caveat in &search.caveats {
            let _ = writeln!(out, "  search caveat: {caveat}");
        }
    }
    for rule in &s.never_rules {
        let _ = writeln!(out, "  never rule {}", view::never_rule_line(rule));
    }
    let start = s.start;
    for finding in &s.findings {
        let place = finding.step.map_or_else(
            || format!("at {}", finding.time),
            |step| format!("at step {step}"),
        );
        let _ = writeln!(
            out,
            "  FINDING {} {place}: {}",
            finding.kind, finding.message
        );
        if let Some(rule) = &finding.rule {
            let _ = writeln!(out, "    rule: {rule}");
        }
        if let Some(repro) = &finding.repro {
            let _ = writeln!(out, "    repro: {repro}");
        }
        if !finding.trace.is_empty() {
            let _ = writeln!(
                out,
                "    trace: {} move(s) from the initial world; the last request must be denied",
                finding.trace.len()
            );
            for step in view::moves(finding, start) {
                let mark = if step.must_deny {
                    "  <- must be denied"
                } else {
                    ""
                };
                let _ = writeln!(out, "      {}{mark}", step.line);
            }
        }
    }
    if !s.principals.is_empty() {
        let width = s
            .principals
            .iter()
            .map(|p| p.principal.len())
            .max()
            .unwrap_or(0)
            .clamp(9, MAX_COLUMN);
        let _ = writeln!(
            out,
            "  {:<width$}  {:>5}  {:>5}  {:>11}  {:>12}",
            "principal", "held", "used", "utilization", "weighted gap"
        );
        for account in &s.principals {
            let m = &account.metrics;
            let _ = writeln!(
                out,
                "  {:<width$}  {:>5}  {:>5}  {:>10.1}%  {:>12}",
                account.principal,
                m.held,
                m.used,
                m.utilization * 100.0,
                m.weighted_gap
            );
        }
    }
    if let Some(observation) = view::observation(s) {
        let _ = writeln!(out, "  {}", observation.line);
        for p in &observation.principals {
            let _ = writeln!(
                out,
                "  UNUSED {}: no allowed step for {} of held time (last used: {})",
                p.principal, p.idle, p.last_used
            );
        }
        for a in &observation.access {
            let _ = writeln!(
                out,
                "  UNUSED {} {} ({}, idle {}, last used: {}){}{}",
                a.principal,
                a.action,
                a.scope,
                a.idle,
                a.last_used,
                if a.resources.is_empty() { "" } else { ": " },
                a.resources.join(", ")
            );
        }
        for caveat in &observation.caveats {
            let _ = writeln!(out, "  observation caveat: {caveat}");
        }
    }
    for warning in &s.warnings {
        let _ = writeln!(out, "  warning: {warning}");
    }
    let sm = &s.summary;
    let _ = writeln!(
        out,
        "  {} step(s): {} allowed, {} denied, {} invalid; {}/{} expectations met; {}/{} access checks passed; {} finding(s)",
        sm.steps,
        sm.allowed,
        sm.denied,
        sm.invalid,
        sm.expectations - sm.expectations_failed,
        sm.expectations,
        sm.access_checks - sm.access_failed,
        sm.access_checks,
        sm.findings
    );
}

/// A value on one line: line breaks and tabs become spaces, so that what a
/// scenario writes cannot start a line of the report.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
