//! The text and JSON output of `privsim suggest`, from its contract
//! ([`privsim_model::suggest`]).

use std::fmt::Write as _;

use privsim_model::result::Metrics;
use privsim_model::suggest::{Check, ProofVerdict, ScenarioSuggestion, Status, SuggestRun};

/// The text summary of `privsim suggest`; with `with_policies`, each verified
/// suggestion's policy set follows its summary.
pub fn render_text(run: &SuggestRun, with_policies: bool) -> String {
    let mut out = String::new();
    for scenario in &run.scenarios {
        render_scenario_text(&mut out, scenario, with_policies);
        out.push('\n');
    }
    let count = |status: Status| run.scenarios.iter().filter(|s| s.status == status).count();
    let _ = writeln!(
        out,
        "{}: {} scenario(s), {} verified, {} failed verification, {} refused",
        if run.verified() { "ok" } else { "FAILED" },
        run.scenarios.len(),
        count(Status::Verified),
        count(Status::Failed),
        count(Status::Refused)
    );
    out
}

fn render_scenario_text(out: &mut String, s: &ScenarioSuggestion, with_policies: bool) {
    let status = match s.status {
        Status::Verified => "VERIFIED",
        Status::Failed => "FAILED",
        Status::Refused => "REFUSED",
    };
    let _ = writeln!(out, "{status} {}  ({})", s.name, s.file);
    let _ = writeln!(out, "  candidate: {}", s.policy_files.join(", "));
    if let Some(group) = &s.group {
        let _ = writeln!(out, "  grouped by: {group}");
    }
    for refusal in &s.refusals {
        let _ = writeln!(out, "  cannot suggest: {refusal}");
    }
    for repair in &s.repairs {
        let _ = writeln!(out, "  repaired: {repair}");
    }
    if !s.principals.is_empty() {
        let width = s
            .principals
            .iter()
            .map(|p| p.principal.len())
            .max()
            .unwrap_or(0)
            .clamp(9, 80);
        let _ = writeln!(
            out,
            "  {:<width$}  {:>26}    {:>26}",
            "", "before (candidate)", "after (suggestion)"
        );
        let _ = writeln!(
            out,
            "  {:<width$}  {:>5} {:>5} {:>6} {:>8}    {:>5} {:>5} {:>6} {:>8}  checks",
            "principal", "held", "used", "util", "gap", "held", "used", "util", "gap"
        );
        for p in &s.principals {
            let metrics = |m: &Metrics| {
                format!(
                    "{:>5} {:>5} {:>5.1}% {:>8}",
                    m.held,
                    m.used,
                    m.utilization * 100.0,
                    m.weighted_gap
                )
            };
            let after = p
                .after
                .as_ref()
                .map_or_else(|| format!("{:>26}", "-"), metrics);
            let checks = p.verification.as_ref().map_or_else(
                || "-".to_string(),
                |v| {
                    let mark = |c: &Check, ok: &str, bad: &str| {
                        if c.passed {
                            ok.to_string()
                        } else {
                            bad.to_string()
                        }
                    };
                    [
                        mark(&v.workflow, "workflow ok", "WORKFLOW BROKEN"),
                        mark(&v.no_new_access, "no new access", "NEW ACCESS"),
                        mark(&v.exact, "held = needed", "HELD != NEEDED"),
                    ]
                    .join(", ")
                },
            );
            let _ = writeln!(
                out,
                "  {:<width$}  {}    {after}  {checks}",
                p.principal,
                metrics(&p.before)
            );
        }
    }
    let checks = [("workflow", &s.workflow), ("validation", &s.validation)];
    for (name, check) in checks {
        if let Some(check) = check {
            for failure in &check.failures {
                let _ = writeln!(out, "  FAILED {name}: {failure}");
            }
        }
    }
    for p in &s.principals {
        if let Some(v) = &p.verification {
            for failure in v.no_new_access.failures.iter().chain(&v.exact.failures) {
                let _ = writeln!(out, "  FAILED {}: {failure}", p.principal);
            }
        }
    }
    if let Some(proof) = &s.proof {
        let _ = match proof.verdict {
            ProofVerdict::Proven => writeln!(
                out,
                "  proven: allows nothing the candidate does not, in every world the schema allows ({} request environment{})",
                proof.environments,
                if proof.environments == 1 { "" } else { "s" }
            ),
            ProofVerdict::Refuted => writeln!(
                out,
                "  FAILED proof: the suggestion allows what the candidate does not"
            ),
            ProofVerdict::Unknown => writeln!(
                out,
                "  not proven in every world: {} of {} request environments proven",
                proof.proven, proof.environments
            ),
            ProofVerdict::Skipped => Ok(()),
        };
        for detail in &proof.details {
            let _ = writeln!(out, "    {}", crate::escape_control(detail));
        }
    }
    if !s.kept.is_empty() {
        let _ = writeln!(out, "  kept: {}", s.kept.join(", "));
    }
    if !s.narrowed.is_empty() {
        let _ = writeln!(
            out,
            "  closed to the right-sized principals: {}",
            s.narrowed.join(", ")
        );
    }
    if !s.replaced.is_empty() {
        let _ = writeln!(out, "  replaced: {}", s.replaced.join(", "));
    }
    for p in &s.principals {
        if s.status != Status::Refused {
            let ids: Vec<&str> = p.policies.iter().map(|policy| policy.id.as_str()).collect();
            let _ = writeln!(
                out,
                "  {}: {}",
                p.principal,
                if p.left_out {
                    "not right-sized (left out by `--only`); keeps the candidate's permits"
                        .to_string()
                } else if !p.right_sized {
                    "not right-sized (it takes no step); keeps the candidate's permits".to_string()
                } else if ids.is_empty() {
                    "no permit (it needs nothing)".to_string()
                } else {
                    ids.join(", ")
                }
            );
            for evidence in &p.evidence {
                let _ = writeln!(
                    out,
                    "    evidence: {}",
                    crate::escape_control(&evidence.note)
                );
            }
            for required in &p.required {
                let _ = writeln!(
                    out,
                    "    also allowed {} on {}: {}",
                    required.action, required.resource, required.because
                );
            }
        }
    }
    for note in &s.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    if let Some(output) = &s.output {
        let _ = writeln!(out, "  wrote {output}");
    } else if with_policies && s.status == Status::Verified {
        out.push('\n');
        for line in s.policies.lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
}

/// The JSON document of `--format json`: pretty-printed, ending in a newline.
pub fn render_json(run: &SuggestRun) -> String {
    let mut text =
        serde_json::to_string_pretty(run).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
