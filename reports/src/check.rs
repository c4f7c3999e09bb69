//! The gate's reports, each a function of the [`CheckResult`] alone (no file
//! IO, no clock): a Markdown summary for a pull request or GitHub's job
//! summary, a plain-text summary, the JSON contract, JUnit XML (a test case
//! per scenario and rule), SARIF 2.1.0, and GitHub Actions annotations.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};

use privsim_model::format::{percent, points};

use crate::{MARKDOWN_LIMIT, code_span, escape_markdown, plural};

use privsim_model::check::{Change, CheckResult, ExceptionStatus, PolicyRef, ScenarioCheck};

/// The kinds of change as reports name them, in report order, with whether
/// they can fail the gate, a short title and a description.
const KIND_TEXT: [(&str, &str, &str); 17] = [
    (
        "new-access-proven",
        "new access (proven)",
        "A proof over every world the schema allows found a request the candidate allows and the baseline denies; Cedar confirmed the counterexample.",
    ),
    (
        "narrowed-proven",
        "narrowed (proven)",
        "A proof over every world the schema allows found a request the baseline allows and the candidate denies; Cedar confirmed the counterexample.",
    ),
    (
        "new-escalation",
        "new escalation",
        "An invariant finding (delegation ceiling, attenuation, expiry, never rule, always-access) of the replay or the escalation search, or a never rule a proof refutes, that the baseline did not have.",
    ),
    (
        "policy-may-error",
        "policy may error",
        "A proof found a request the schema allows on which a candidate policy errors (Cedar confirmed it), and the baseline's policy of the same id did not: an erring forbid forbids nothing, an erring permit allows nothing.",
    ),
    (
        "policy-never-grants",
        "permit never grants",
        "A candidate permit is proven, in every world the schema allows, to be overridden by forbids whenever it applies: it grants nothing (newly).",
    ),
    (
        "policy-never-applies",
        "policy never applies",
        "A candidate policy is proven, in every world the schema allows, never to match a request (newly): it is dead code.",
    ),
    (
        "policy-redundant",
        "redundant permit",
        "A candidate permit is proven, in every world the schema allows, to allow nothing the other permits do not (newly): removing it changes no decision.",
    ),
    (
        "new-access",
        "new access",
        "A principal holds an (action, resource) pair it did not hold with the baseline, or a step the baseline denied is allowed.",
    ),
    (
        "unexercised-change",
        "unexercised change",
        "A policy the change added, changed or removed decided no request of any scenario (no step, held-set request or search move): the scenarios cannot show what it does.",
    ),
    (
        "held-longer",
        "held longer",
        "A principal holds a pair it also held with the baseline for more simulated time (a longer just-in-time window, a grant that no longer ends).",
    ),
    (
        "broken-workflow",
        "broken workflow",
        "A step the baseline allowed is denied (or rejected), and the scenario does not expect it to be denied.",
    ),
    (
        "expectation-failed",
        "failed expectation",
        "A step expectation or an access assertion of the scenario fails with the candidate policies.",
    ),
    (
        "weighted-gap-growth",
        "weighted gap growth",
        "A principal's weighted gap (the risk weights of the pairs it holds and never uses) grew by more than the budget.",
    ),
    (
        "utilization-drop",
        "utilization drop",
        "A principal's utilization (used pairs / held pairs) dropped by more than the budget.",
    ),
    (
        "narrowed",
        "narrowed",
        "A principal no longer holds a pair it held with the baseline, or a step the baseline allowed is denied as the scenario expects.",
    ),
    (
        "held-shorter",
        "held shorter",
        "A principal holds a pair it also held with the baseline for less simulated time.",
    ),
    (
        "fixed-escalation",
        "fixed escalation",
        "An invariant finding the baseline had and the candidate does not.",
    ),
];

/// The kinds only a proof makes: reports list them (as JUnit cases and SARIF
/// rules) only when the proofs ran, so a check without proofs reads as before.
const PROOF_KINDS: [&str; 6] = [
    "new-access-proven",
    "narrowed-proven",
    "policy-may-error",
    "policy-never-grants",
    "policy-never-applies",
    "policy-redundant",
];

fn proofs_ran(result: &CheckResult) -> bool {
    result.proofs.as_ref().is_some_and(|p| p.status == "ran")
}

fn kind_listed(kind: &str, result: &CheckResult) -> bool {
    !PROOF_KINDS.contains(&kind) || proofs_ran(result)
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
                            hygiene_words(issue),
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
    if proofs.status != "ran" {
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
            .filter(|e| e.verdict == "proven")
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
pub fn hygiene_words(issue: &str) -> &'static str {
    match issue {
        "never-applies" => "never applies in any world the schema allows",
        "redundant" => "redundant: the other permits allow everything it allows",
        "never-grants" => "never grants: a forbid always overrides it",
        "may-error" => "may error at run time (Cedar confirmed a request it errors on)",
        _ => "unknown problem",
    }
}

/// The most change rows a Markdown table shows per scenario (the JSON has all).
const MAX_ROWS: usize = 100;

/// A kind's title, e.g. `new access`.
pub fn title(kind: &str) -> &str {
    KIND_TEXT
        .iter()
        .find(|(id, ..)| *id == kind)
        .map_or(kind, |(_, title, _)| title)
}

/// The JSON contract (docs/check.md): pretty-printed, ending in a newline.
pub fn json(result: &CheckResult) -> String {
    let mut text =
        serde_json::to_string_pretty(result).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

fn verdict(passed: bool) -> &'static str {
    if passed { "✅ pass" } else { "❌ fail" }
}

fn status_icon(status: &str) -> &'static str {
    match status {
        "fail" => "❌",
        "excepted" => "☑️",
        _ => "ℹ️",
    }
}

fn describe_candidate(spec: &str) -> String {
    if spec == "scenario" {
        "each scenario's own policies".to_string()
    } else {
        code_span(spec, false)
    }
}

fn count(scenario: &ScenarioCheck, kinds: &[&str]) -> usize {
    scenario
        .changes
        .iter()
        .filter(|c| kinds.contains(&c.kind.as_str()))
        .count()
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// The Markdown summary: the verdict, a table of scenarios, then per scenario
/// with changes a table of them (failing first), the metric deltas, the
/// search and notes; last, the exceptions and what became of each.
pub fn markdown(result: &CheckResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## privsim check: {}\n",
        if result.passed {
            "✅ passed"
        } else {
            "❌ failed"
        }
    );
    let side = |spec: &str, commit: &Option<String>| {
        let mut text = describe_candidate(spec);
        if let Some(commit) = commit {
            let _ = write!(text, " (commit {})", code_span(short(commit), false));
        }
        text
    };
    let _ = writeln!(
        out,
        "**Baseline:** {} · **candidate:** {} · **gate rules:** {}\n",
        side(&result.baseline.spec, &result.baseline.commit),
        side(&result.candidate.spec, &result.candidate.commit),
        result.config.file.as_deref().map_or_else(
            || "built-in defaults".to_string(),
            |file| code_span(file, false)
        ),
    );
    let summary = &result.summary;
    let _ = writeln!(
        out,
        "{} scenario{} checked, {} failing · {} failing change{} · {} accepted by an exception · {} stale exception{}\n",
        summary.scenarios,
        plural(summary.scenarios, "", "s"),
        summary.failed_scenarios,
        summary.failures,
        plural(summary.failures, "", "s"),
        summary.excepted,
        summary.stale_exceptions,
        plural(summary.stale_exceptions, "", "s"),
    );
    if let Some(caveat) = result.proofs.as_ref().and_then(|p| p.caveat.as_deref()) {
        // A fixed sentence of ours, not user input: written as is.
        let _ = writeln!(out, "> **Caveat:** {caveat}\n");
    }
    if !result.load_errors.is_empty() {
        let _ = writeln!(
            out,
            "**Not checked:** {} scenario file{} could not be loaded:\n",
            result.load_errors.len(),
            plural(result.load_errors.len(), "", "s")
        );
        for error in &result.load_errors {
            let _ = writeln!(
                out,
                "- {}: {}",
                code_span(&error.file, false),
                escape_markdown(&error.message)
            );
        }
        out.push('\n');
    }
    markdown_config_change(&mut out, result);
    markdown_unreached(&mut out, result);
    out.push_str("| Scenario | Verdict | New access | Broken workflows | New escalations | Failed expectations | Over budget | Narrowed |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for scenario in &result.scenarios {
        let _ = writeln!(
            out,
            "| {} {} | {} | {} | {} | {} | {} | {} | {} |",
            escape_markdown(&scenario.name),
            code_span(&scenario.file, true),
            verdict(scenario.passed),
            count(
                scenario,
                &["new-access-proven", "new-access", "held-longer"]
            ),
            count(scenario, &["broken-workflow"]),
            count(scenario, &["new-escalation"]),
            count(scenario, &["expectation-failed"]),
            count(scenario, &["weighted-gap-growth", "utilization-drop"]),
            count(scenario, &["narrowed", "held-shorter", "narrowed-proven"]),
        );
    }
    let sections: Vec<String> = result
        .scenarios
        .iter()
        .map(|scenario| {
            let mut section = String::new();
            markdown_scenario(&mut section, scenario, result);
            section
        })
        .collect();
    let mut tail = String::new();
    let proof_lines: Vec<String> = proof_lines(result)
        .into_iter()
        .filter(|line| !line.starts_with("caveat: "))
        .collect();
    if !proof_lines.is_empty() {
        tail.push_str("\n### Proofs\n\n");
        for line in proof_lines {
            let _ = writeln!(tail, "- {}", escape_markdown(&line));
        }
    }
    markdown_exceptions(&mut tail, result);
    fit(out, &sections, &result.scenarios, &tail)
}

/// Lays the summary out within [`MARKDOWN_LIMIT`]: the overview and the
/// exceptions always; the scenario sections of failing scenarios first, then
/// the others, each in run order while it fits; a closing note counts the
/// sections left out (the JSON result has everything).
fn fit(head: String, sections: &[String], scenarios: &[ScenarioCheck], tail: &str) -> String {
    let length = |text: &str| text.chars().count();
    let whole: usize =
        length(&head) + sections.iter().map(|s| length(s)).sum::<usize>() + length(tail);
    if whole <= MARKDOWN_LIMIT {
        return head + &sections.concat() + tail;
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
        cut.push_str("\n… the summary is cut short to stay within GitHub's comment size; the JSON result (`--format json`) has every scenario.\n");
        return cut;
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
    let _ = writeln!(
        out,
        "\n… {left_out} scenario section{} left out to stay within GitHub's comment size (failing scenarios first); the JSON result (`--format json`) has them all.",
        plural(left_out, "", "s")
    );
    out + tail
}

/// The change of the gate configuration, when there is one, and what a
/// check that ran out of time left out.
fn markdown_config_change(out: &mut String, result: &CheckResult) {
    if let Some(budget) = &result.budget_exhausted {
        let _ = writeln!(
            out,
            "**Time budget exhausted:** {} {}\n",
            if budget.status == "fail" {
                "❌"
            } else {
                "⚠️"
            },
            escape_markdown(&budget.message)
        );
    }
    if let Some(change) = &result.config_change {
        let _ = writeln!(
            out,
            "**Gate rules changed:** {} {} {}\n",
            if change.status == "fail" {
                "❌"
            } else {
                "⚠️"
            },
            code_span(&change.file, false),
            escape_markdown(&change.message)
        );
    }
}

/// The policy changes no scenario reached, said plainly before anything else.
fn markdown_unreached(out: &mut String, result: &CheckResult) {
    let unreached: Vec<_> = result
        .coverage
        .iter()
        .filter(|c| c.exercised_by.is_empty())
        .collect();
    if unreached.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "**Not reached by any scenario:** {} policy change{} decided no request of any scenario (step, held set or search move), so this check says nothing about {}:\n",
        unreached.len(),
        plural(unreached.len(), "", "s"),
        if unreached.len() == 1 { "it" } else { "them" }
    );
    for coverage in unreached {
        let _ = writeln!(
            out,
            "- {} {} {}{}",
            escape_markdown(&coverage.change),
            escape_markdown(&coverage.effect),
            code_span(&coverage.id, false),
            coverage
                .location
                .as_deref()
                .map(|l| format!(" ({})", code_span(l, false)))
                .unwrap_or_default()
        );
    }
    out.push('\n');
}

/// Text lines for the configuration change and the unreached policy changes.
fn text_overview(out: &mut String, result: &CheckResult) {
    if let Some(budget) = &result.budget_exhausted {
        let _ = writeln!(
            out,
            "{} budget exhausted: {}",
            if budget.status == "fail" {
                "FAIL"
            } else {
                "warning"
            },
            budget.message
        );
    }
    if let Some(change) = &result.config_change {
        let _ = writeln!(
            out,
            "{} gate configuration {}: {}",
            if change.status == "fail" {
                "FAIL"
            } else {
                "warning"
            },
            change.file,
            change.message
        );
    }
    for coverage in result.coverage.iter().filter(|c| c.exercised_by.is_empty()) {
        let _ = writeln!(
            out,
            "NOT REACHED {} {} {}{}: no scenario's request was decided by it",
            coverage.change,
            coverage.effect,
            coverage.id,
            coverage
                .location
                .as_deref()
                .map(|l| format!(" [{l}]"))
                .unwrap_or_default()
        );
    }
}

fn markdown_exceptions(out: &mut String, result: &CheckResult) {
    if !result.exceptions.is_empty() {
        out.push_str("\n### Exceptions\n\n");
        out.push_str("| Status | Where | Kind | Matches | Reason | Expires |\n");
        out.push_str("| --- | --- | --- | --- | --- | --- |\n");
        for exception in &result.exceptions {
            let status = match exception.status.as_str() {
                "applied" => format!("✅ applied to {}", exception.matched),
                "expired" => "⚠️ expired: no longer applies".to_string(),
                "stale" => "❌ stale: matches nothing, remove it".to_string(),
                _ => "➖ not checked: its scenario was not part of this check".to_string(),
            };
            let _ = writeln!(
                out,
                "| {status} | {} | {} | {} | {} | {} |",
                code_span(&exception.location, true),
                escape_markdown(title(&exception.kind)),
                exception_scope(exception),
                escape_markdown(&exception.reason),
                exception.expires.as_deref().unwrap_or("never"),
            );
        }
    }
}

fn exception_scope(exception: &ExceptionStatus) -> String {
    let parts: Vec<String> = [
        ("scenario", &exception.scenario),
        ("principal", &exception.principal),
        ("action", &exception.action),
        ("resource", &exception.resource),
    ]
    .iter()
    .filter_map(|(name, value)| {
        value
            .as_ref()
            .map(|v| format!("{name} {}", code_span(v, true)))
    })
    .collect();
    if parts.is_empty() {
        "any".to_string()
    } else {
        parts.join(", ")
    }
}

fn markdown_scenario(out: &mut String, scenario: &ScenarioCheck, result: &CheckResult) {
    let changed_metrics: Vec<_> = scenario
        .principals
        .iter()
        .filter(|p| {
            p.new_pairs > 0
                || p.removed_pairs > 0
                || p.weighted_gap_change != 0
                || p.baseline.used != p.candidate.used
        })
        .collect();
    let search_news = scenario.search.as_ref().is_some_and(|s| {
        s.baseline.exhaustive_depth != s.candidate.exhaustive_depth
            || s.baseline.budget_exhausted != s.candidate.budget_exhausted
            || !s.baseline.caveats.is_empty()
            || !s.candidate.caveats.is_empty()
    });
    if scenario.changes.is_empty()
        && scenario.notes.is_empty()
        && changed_metrics.is_empty()
        && !search_news
    {
        return;
    }
    let _ = writeln!(
        out,
        "\n### {} {}\n",
        if scenario.passed { "✅" } else { "❌" },
        escape_markdown(&scenario.name)
    );
    let files = |files: &[String]| {
        files
            .iter()
            .map(|f| code_span(f, false))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        out,
        "{} · baseline: {} · candidate: {}\n",
        code_span(&scenario.file, false),
        files(&scenario.baseline_policy_files),
        files(&scenario.candidate_policy_files),
    );
    if scenario.changes.is_empty() {
        out.push_str("No change in access, workflow, expectations or escalations.\n");
    } else {
        out.push_str("| | Change | Principal | Action | Resource | Policy | Details |\n");
        out.push_str("| --- | --- | --- | --- | --- | --- | --- |\n");
        for change in scenario.changes.iter().take(MAX_ROWS) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                status_icon(&change.status),
                escape_markdown(title(&change.kind)),
                if change.principal.is_empty() {
                    String::new()
                } else {
                    code_span(&change.principal, true)
                },
                change
                    .action
                    .as_deref()
                    .map_or_else(String::new, |a| code_span(a, true)),
                change
                    .resource
                    .as_deref()
                    .map_or_else(String::new, |r| code_span(r, true)),
                policy_cell(&change.policies),
                details(change, result),
            );
        }
        out.push_str("\n❌ fails the gate · ☑️ accepted by an exception · ℹ️ reported, allowed by the gate's rules\n");
        if scenario.changes.len() > MAX_ROWS {
            let _ = writeln!(
                out,
                "\n… and {} more change(s): see the JSON result.",
                scenario.changes.len() - MAX_ROWS
            );
        }
    }
    if !changed_metrics.is_empty() {
        out.push_str("\n| Principal | Held | Used | Utilization | Weighted gap |\n");
        out.push_str("| --- | --- | --- | --- | --- |\n");
        for delta in changed_metrics {
            let (b, c) = (&delta.baseline, &delta.candidate);
            let _ = writeln!(
                out,
                "| {} | {} → {} (+{} −{}) | {} → {} | {} → {} ({} pts) | {} → {} ({:+}) |",
                code_span(&delta.principal, true),
                b.held,
                c.held,
                delta.new_pairs,
                delta.removed_pairs,
                b.used,
                c.used,
                percent(b.utilization),
                percent(c.utilization),
                points(delta.utilization_change),
                b.weighted_gap,
                c.weighted_gap,
                delta.weighted_gap_change,
            );
        }
    }
    if let Some(search) = &scenario.search {
        let side = |s: &privsim_model::result::SearchSummary| {
            let mut text = format!(
                "{} move{}, {} state{}",
                s.moves,
                plural(usize::try_from(s.moves).unwrap_or(usize::MAX), "", "s"),
                s.states,
                plural(usize::try_from(s.states).unwrap_or(usize::MAX), "", "s"),
            );
            if let Some(depth) = s.exhaustive_depth {
                let _ = write!(text, ", every state to depth {depth} explored");
                if !s.caveats.is_empty() {
                    text.push_str(" over the moves tried");
                }
            } else if s.budget_exhausted {
                text.push_str(", budget exhausted");
            }
            text
        };
        let _ = writeln!(
            out,
            "\nEscalation search ({}, seed {}): baseline {}; candidate {}.",
            search.candidate.strategy,
            search.candidate.seed,
            side(&search.baseline),
            side(&search.candidate),
        );
        // What each side's search left out, so a "proof" is read as one
        // over the moves it tried (the same caveat on both sides once).
        let mut caveats: Vec<(&str, &String)> = Vec::new();
        for caveat in &search.candidate.caveats {
            let both = search.baseline.caveats.contains(caveat);
            caveats.push((if both { "both" } else { "candidate" }, caveat));
        }
        for caveat in &search.baseline.caveats {
            if !search.candidate.caveats.contains(caveat) {
                caveats.push(("baseline", caveat));
            }
        }
        if !caveats.is_empty() {
            out.push_str(
                "
Moves the search left out:

",
            );
            for (side, caveat) in caveats {
                let _ = writeln!(out, "- {side}: {}", escape_markdown(caveat));
            }
        }
    }
    if !scenario.notes.is_empty() {
        out.push('\n');
        for note in &scenario.notes {
            let _ = writeln!(out, "- {}", escape_markdown(note));
        }
    }
}

fn policy_cell(policies: &[PolicyRef]) -> String {
    policies
        .iter()
        .map(|p| match &p.location {
            Some(location) => format!("{} ({})", code_span(&p.id, true), code_span(location, true)),
            None => code_span(&p.id, true),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The change-specific cell: what changed, at which step or time, and the
/// exception that accepted it.
fn details(change: &Change, result: &CheckResult) -> String {
    let mut text = match change.kind.as_str() {
        "new-access" => {
            let mut text = match (change.time.as_deref(), change.baseline.as_deref()) {
                (Some(time), Some("not held")) => format!("held from {time}"),
                (Some(time), _) => {
                    format!("at {time} (held only at other times with the baseline)")
                }
                (None, _) => String::new(),
            };
            if !change.steps.is_empty() {
                if !text.is_empty() {
                    text.push_str("; ");
                }
                let _ = write!(
                    text,
                    "step{} {} now allowed{}",
                    plural(change.steps.len(), "", "s"),
                    change
                        .steps
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    if change.expected {
                        ", as the scenario expects"
                    } else {
                        ""
                    }
                );
            }
            escape_markdown(&text)
        }
        "narrowed" if change.step.is_some() => escape_markdown(&format!(
            "step {}: {} → {}, as the scenario expects",
            change.step.unwrap_or(0),
            change.baseline.as_deref().unwrap_or(""),
            change.candidate.as_deref().unwrap_or(""),
        )),
        "narrowed" => escape_markdown(&format!(
            "no longer held (last held {} with the baseline)",
            change.time.as_deref().unwrap_or("")
        )),
        "weighted-gap-growth" | "utilization-drop" => escape_markdown(&format!(
            "{} → {}",
            change.baseline.as_deref().unwrap_or(""),
            change.candidate.as_deref().unwrap_or("")
        )),
        "held-longer" | "held-shorter" => escape_markdown(&format!(
            "held {} → {}",
            change.baseline.as_deref().unwrap_or(""),
            change.candidate.as_deref().unwrap_or("")
        )),
        _ => escape_markdown(&change.message),
    };
    if let Some(location) = &change.exception {
        let exception = result.exceptions.iter().find(|e| &e.location == location);
        match (change.status.as_str(), exception) {
            ("excepted", Some(exception)) => {
                let _ = write!(
                    text,
                    "; accepted by {}: {}",
                    code_span(location, true),
                    escape_markdown(&exception.reason)
                );
            }
            (_, Some(exception)) => {
                let _ = write!(
                    text,
                    "; the exception at {} expired on {}",
                    code_span(location, true),
                    exception.expires.as_deref().unwrap_or("")
                );
            }
            _ => {}
        }
    }
    text
}

/// A plain-text summary for a terminal; every value is passed through
/// [`crate::escape_control`] first.
pub fn text(result: &CheckResult) -> String {
    match crate::printable(result) {
        Some(printable) => crate::strip_control(text_printable(&printable)),
        None => crate::strip_control(text_printable(result)),
    }
}

fn text_printable(result: &CheckResult) -> String {
    let mut out = String::new();
    text_overview(&mut out, result);
    for error in &result.load_errors {
        let message = error.message.replace(['\n', '\r'], " ");
        let _ = writeln!(out, "NOT LOADED {}: {message}", error.file);
    }
    for scenario in &result.scenarios {
        let _ = writeln!(
            out,
            "{} {}  ({})",
            if scenario.passed { "PASS" } else { "FAIL" },
            scenario.name,
            scenario.file
        );
        let _ = writeln!(
            out,
            "  baseline: {}\n  candidate: {}",
            scenario.baseline_policy_files.join(", "),
            scenario.candidate_policy_files.join(", ")
        );
        for change in &scenario.changes {
            let _ = writeln!(
                out,
                "  {:<8} {:<19} {}{}",
                match change.status.as_str() {
                    "fail" => "FAIL",
                    "excepted" => "ACCEPTED",
                    _ => "info",
                },
                change.kind,
                change.message,
                change
                    .location
                    .as_deref()
                    .map(|l| format!("  [{l}]"))
                    .unwrap_or_default()
            );
        }
        for note in &scenario.notes {
            let _ = writeln!(out, "  note: {note}");
        }
    }
    for exception in &result.exceptions {
        let _ = writeln!(
            out,
            "exception {}: {}{}",
            exception.location,
            match exception.status.as_str() {
                "applied" => format!("applied to {} change(s)", exception.matched),
                "expired" => format!(
                    "expired on {}: no longer applies",
                    exception.expires.as_deref().unwrap_or("")
                ),
                "stale" => "stale: matches nothing; remove it".to_string(),
                _ => "not checked: its scenario was not part of this check".to_string(),
            },
            if exception.status == "stale" {
                " (FAIL)"
            } else {
                ""
            }
        );
    }
    for line in proof_lines(result) {
        let _ = writeln!(out, "{line}");
    }
    let summary = &result.summary;
    let _ = writeln!(
        out,
        "{}: {} scenario(s), {} failed; {} failing change(s), {} accepted, {} stale exception(s){}{}{}",
        if result.passed { "ok" } else { "FAILED" },
        summary.scenarios,
        summary.failed_scenarios,
        summary.failures,
        summary.excepted,
        summary.stale_exceptions,
        if summary.unexercised_changes > 0 {
            format!(
                "; {} policy change(s) no scenario reached",
                summary.unexercised_changes
            )
        } else {
            String::new()
        },
        match &result.budget_exhausted {
            Some(budget) if budget.status == "fail" => "; the time budget was exhausted",
            Some(_) => "; the time budget was exhausted (allowed)",
            None => "",
        },
        match &result.config_change {
            Some(change) if change.status == "fail" => "; the gate configuration changed",
            Some(_) => "; the gate configuration changed (allowed by the baseline)",
            None => "",
        }
    );
    out
}

/// The kinds JUnit has a test case for, per scenario: every kind that can
/// fail the gate.
fn junit_kinds(result: &CheckResult) -> impl Iterator<Item = &'static str> {
    privsim_model::check::KINDS
        .into_iter()
        .filter(|kind| *kind != "fixed-escalation" && kind_listed(kind, result))
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
                "new-access" => rules.new_access,
                "new-access-proven" => rules.new_access_proven,
                "broken-workflow" => rules.broken_workflow,
                "new-escalation" => rules.new_escalation,
                "expectation-failed" => rules.failed_expectation,
                "narrowed" | "held-shorter" | "narrowed-proven" => rules.narrowed,
                "held-longer" => rules.held_longer,
                "unexercised-change" => rules.unexercised_change,
                "weighted-gap-growth" => budget.weighted_gap_growth.is_some(),
                _ => budget.utilization_drop.is_some(),
            };
            let failing: Vec<&Change> = scenario
                .changes
                .iter()
                .filter(|c| c.kind == kind && c.status == "fail")
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
                        kind,
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
            property("simulated_start", &scenario.start),
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
            skipped,
            properties: Some(properties),
            cases,
            system_out: lines.join("\n"),
        });
    }
    if let Some(budget) = &result.budget_exhausted {
        let failing = budget.status == "fail";
        let name = "within the time budget".to_string();
        let classname = "privsim.check.budget";
        suites.push(JunitSuite {
            id: result.scenarios.len(),
            name: "time budget".to_string(),
            timestamp: run_at.to_string(),
            tests: 1,
            failures: usize::from(failing),
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
        let failing = change.status == "fail";
        let name = "configuration unchanged".to_string();
        let classname = "privsim.check.config";
        suites.push(JunitSuite {
            id: result.scenarios.len() + usize::from(!result.exceptions.is_empty()),
            name: "gate configuration".to_string(),
            timestamp: run_at.to_string(),
            tests: 1,
            failures: usize::from(failing),
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
                if exception.status == "stale" {
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
                .filter(|e| e.status == "stale")
                .count(),
            skipped: 0,
            properties: Some(vec![property(
                "config",
                result.config.file.as_deref().unwrap_or(""),
            )]),
            cases,
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

/// SARIF 2.1.0: a result per change (failing ones as errors, accepted ones as
/// errors with an external suppression carrying the exception's reason,
/// the others as notes), and one per stale exception, located at the policy,
/// step or rule a reviewer should look at.
pub fn sarif(result: &CheckResult) -> String {
    // Every value through `escape_control` first: JSON leaves DEL and the C1
    // controls raw, and SARIF viewers show messages as they are.
    let printable = crate::printable(result);
    let result = printable.as_ref().unwrap_or(result);
    let mut rules: Vec<(&str, &str, &str)> = KIND_TEXT
        .iter()
        .copied()
        .filter(|(kind, ..)| kind_listed(kind, result))
        .collect();
    rules.push((
        "stale-exception",
        "stale exception",
        "An exception of the gate configuration matches no change: remove it, so it cannot hide a future one.",
    ));
    if result.budget_exhausted.is_some() {
        rules.push((
            "budget-exhausted",
            "time budget exhausted",
            "The check ran out of its time budget: some scenarios were not checked, or checked with the search or proofs cut short.",
        ));
    }
    if result.config_change.is_some() {
        rules.push((
            "config-change",
            "gate configuration changed",
            "The gate configuration differs from the baseline revision's: the baseline's rules applied, and the change fails the gate unless they allow it.",
        ));
    }
    let rule_index = |id: &str| rules.iter().position(|r| r.0 == id).unwrap_or(0);
    let mut results = Vec::new();
    for scenario in &result.scenarios {
        for change in &scenario.changes {
            let (file, line) = split_location(change.location.as_deref().unwrap_or(&scenario.file));
            let mut entry = json!({
                "ruleId": change.kind,
                "ruleIndex": rule_index(&change.kind),
                "level": if change.status == "info" { "note" } else { "error" },
                "message": {"text": format!("{} (scenario \"{}\")", change.message, scenario.name)},
                "locations": [location(&file, line)],
                "properties": {
                    "scenario": scenario.name,
                    "principal": change.principal,
                    "status": change.status,
                },
            });
            let mut related = Vec::new();
            for policy in &change.policies {
                if let Some(at) = &policy.location {
                    let (file, line) = split_location(at);
                    let mut place = location(&file, line);
                    if let Some(object) = place.as_object_mut() {
                        object.insert("id".into(), json!(related.len()));
                        object.insert(
                            "message".into(),
                            json!({"text": format!("policy `{}`", policy.id)}),
                        );
                    }
                    related.push(place);
                }
            }
            if let Some(object) = entry.as_object_mut() {
                if !related.is_empty() {
                    object.insert("relatedLocations".into(), Value::from(related));
                }
                if change.status == "excepted"
                    && let Some(exception) = result
                        .exceptions
                        .iter()
                        .find(|e| Some(&e.location) == change.exception.as_ref())
                {
                    object.insert(
                        "suppressions".into(),
                        json!([{
                            "kind": "external",
                            "status": "accepted",
                            "justification": format!("{} ({})", exception.reason, exception.location),
                        }]),
                    );
                }
            }
            if let Some(properties) = entry.get_mut("properties").and_then(Value::as_object_mut) {
                for (key, value) in [
                    ("action", &change.action),
                    ("resource", &change.resource),
                    ("time", &change.time),
                ] {
                    if let Some(value) = value {
                        properties.insert(key.into(), json!(value));
                    }
                }
                if let Some(step) = change.step {
                    properties.insert("step".into(), json!(step));
                }
            }
            results.push(entry);
        }
    }
    for exception in result.exceptions.iter().filter(|e| e.status == "stale") {
        let (file, line) = split_location(&exception.location);
        results.push(json!({
            "ruleId": "stale-exception",
            "ruleIndex": rule_index("stale-exception"),
            "level": "error",
            "message": {"text": format!(
                "stale exception: it matches no {} change; remove it (reason given: {})",
                title(&exception.kind), exception.reason
            )},
            "locations": [location(&file, line)],
        }));
    }
    if let Some(budget) = &result.budget_exhausted {
        let file = budget
            .not_checked
            .first()
            .or(budget.cut_short.first())
            .cloned()
            .unwrap_or_default();
        results.push(json!({
            "ruleId": "budget-exhausted",
            "ruleIndex": rule_index("budget-exhausted"),
            "level": if budget.status == "fail" { "error" } else { "warning" },
            "message": {"text": budget.message},
            "locations": [location(&file, 1)],
            "properties": {"status": budget.status},
        }));
    }
    if let Some(change) = &result.config_change {
        results.push(json!({
            "ruleId": "config-change",
            "ruleIndex": rule_index("config-change"),
            "level": if change.status == "fail" { "error" } else { "warning" },
            "message": {"text": change.message},
            "locations": [location(&change.file, 1)],
            "properties": {"revision": change.revision, "status": change.status},
        }));
    }
    let mut log = json!({
        "$schema": crate::sarif::SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "privsim check",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|(id, short, full)| json!({
                    "id": id,
                    "shortDescription": {"text": short},
                    "fullDescription": {"text": full},
                    "defaultConfiguration": {"level": "error"},
                })).collect::<Vec<_>>(),
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    crate::sarif::escape_message_links(&mut log);
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}

fn location(file: &str, line: usize) -> Value {
    crate::sarif::location(file, line.max(1), None)
}

/// GitHub Actions workflow commands: an `::error` per failing change (at the
/// granting policy for new access, at the step for a broken workflow or a
/// failed expectation, at the rule or policy for an escalation) and per stale
/// exception, a `::warning` per expired exception that still matched.
pub fn annotations(result: &CheckResult) -> Vec<String> {
    let mut lines = Vec::new();
    for scenario in &result.scenarios {
        for change in scenario.changes.iter().filter(|c| c.status == "fail") {
            let (file, line) = split_location(change.location.as_deref().unwrap_or(&scenario.file));
            lines.push(format!(
                "::error file={},line={line},title={}::{}",
                property(&file),
                property(&format!("privsim check: {}", title(&change.kind))),
                data(&format!(
                    "{} (scenario \"{}\")",
                    change.message, scenario.name
                )),
            ));
        }
    }
    if let Some(change) = &result.config_change {
        lines.push(format!(
            "::{} file={},line=1,title={}::{}",
            if change.status == "fail" {
                "error"
            } else {
                "warning"
            },
            property(&change.file),
            property("privsim check: gate configuration changed"),
            data(&change.message),
        ));
    }
    for exception in &result.exceptions {
        let (file, line) = split_location(&exception.location);
        let (level, title, message) = match exception.status.as_str() {
            "stale" => (
                "error",
                "privsim check: stale exception",
                format!(
                    "this {} exception matches nothing: remove it",
                    self::title(&exception.kind)
                ),
            ),
            "expired" => (
                "warning",
                "privsim check: expired exception",
                format!(
                    "this exception expired on {} and no longer applies",
                    exception.expires.as_deref().unwrap_or("")
                ),
            ),
            _ => continue,
        };
        lines.push(format!(
            "::{level} file={},line={line},title={}::{}",
            property(&file),
            property(title),
            data(&message)
        ));
    }
    lines
}

/// A workflow command's message, escaped as the runner unescapes it.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}
