//! The view model of the gate's Markdown and text summaries: what
//! `templates/check.md.j2` and `templates/check.txt.j2` print, taken from a
//! [`CheckResult`] without writing any markup. The templates escape every
//! value by file type; nothing here escapes.

use serde::Serialize;

use privsim_model::check::{
    Change, ChangeKind, ChangeStatus, CheckResult, ExceptionState, ExceptionStatus, PolicyRef,
    RuleStatus, ScenarioCheck,
};
use privsim_model::format::{percent, points};
use privsim_model::result::SearchSummary;

use super::{MAX_ROWS, proof_lines, split_location, title};
use crate::plural;

/// The whole gate summary.
#[derive(Debug, Serialize)]
pub(crate) struct CheckView {
    pub passed: bool,
    pub baseline: SideView,
    pub candidate: SideView,
    /// The gate configuration file; `None`: the built-in defaults.
    pub config_file: Option<String>,
    pub summary: SummaryView,
    /// The proofs' caveat: a fixed sentence of ours.
    pub caveat: Option<String>,
    pub load_errors: Vec<LoadErrorView>,
    pub budget: Option<StatusMessage>,
    pub config_change: Option<ConfigChangeView>,
    pub unreached: Vec<UnreachedView>,
    pub scenarios: Vec<ScenarioView>,
    /// The proofs' lines for Markdown (without the caveat).
    pub proof_lines_md: Vec<String>,
    /// Every proof line, as the text summary prints them.
    pub proof_lines: Vec<String>,
    pub exceptions: Vec<ExceptionView>,
}

/// The baseline or the candidate.
#[derive(Debug, Serialize)]
pub(crate) struct SideView {
    /// `true`: each scenario's own policies.
    pub own_policies: bool,
    pub spec: String,
    /// The commit's first 12 characters.
    pub commit: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct SummaryView {
    pub scenarios: usize,
    pub scenarios_s: &'static str,
    pub failed_scenarios: usize,
    pub failures: usize,
    pub failures_s: &'static str,
    pub excepted: usize,
    pub stale_exceptions: usize,
    pub stale_exceptions_s: &'static str,
    pub unexercised_changes: usize,
}

#[derive(Debug, Serialize)]
pub(crate) struct LoadErrorView {
    pub file: String,
    pub message: String,
    /// The message on one line, for the text summary.
    pub message_line: String,
}

/// The time budget's status (`fail` or allowed) and message.
#[derive(Debug, Serialize)]
pub(crate) struct StatusMessage {
    pub failed: bool,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct ConfigChangeView {
    pub failed: bool,
    pub file: String,
    pub message: String,
}

/// A policy change no scenario reached.
#[derive(Debug, Serialize)]
pub(crate) struct UnreachedView {
    pub change: String,
    pub effect: String,
    pub id: String,
    pub location: Option<String>,
}

/// One scenario: its row, its text lines, and its Markdown section when it
/// has anything to say.
#[derive(Debug, Serialize)]
pub(crate) struct ScenarioView {
    pub name: String,
    pub file: String,
    pub passed: bool,
    pub baseline_files: Vec<String>,
    pub candidate_files: Vec<String>,
    pub counts: CountsView,
    /// Every change (the text summary lists them all).
    pub changes: Vec<ChangeView>,
    pub notes: Vec<String>,
    /// `None`: no Markdown section (nothing changed).
    pub section: Option<SectionView>,
}

/// The columns of the scenario table.
#[derive(Debug, Serialize)]
pub(crate) struct CountsView {
    pub new_access: usize,
    pub broken: usize,
    pub escalations: usize,
    pub failed_expectations: usize,
    pub over_budget: usize,
    pub narrowed: usize,
}

/// What a scenario's Markdown section shows beyond its changes and notes.
#[derive(Debug, Serialize)]
pub(crate) struct SectionView {
    /// The changes the table shows (at most [`MAX_ROWS`]).
    pub rows: usize,
    /// The changes beyond the table's [`MAX_ROWS`].
    pub more_changes: usize,
    pub metrics: Vec<MetricRow>,
    pub search: Option<SearchView>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChangeView {
    /// `fail`, `excepted` or `info`.
    pub status: String,
    pub kind: String,
    pub title: String,
    pub principal: String,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub policies: Vec<PolicyView>,
    /// The change-specific details cell, before the exception's part.
    pub details: String,
    pub accepted_by: Option<AcceptedView>,
    pub expired: Option<ExpiredView>,
    pub message: String,
    pub location: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct PolicyView {
    pub id: String,
    pub location: Option<String>,
}

/// The exception that accepted a change.
#[derive(Debug, Serialize)]
pub(crate) struct AcceptedView {
    pub location: String,
    pub reason: String,
}

/// The exception that would have accepted a change but expired.
#[derive(Debug, Serialize)]
pub(crate) struct ExpiredView {
    pub location: String,
    pub expires: String,
}

/// A principal whose metrics changed.
#[derive(Debug, Serialize)]
pub(crate) struct MetricRow {
    pub principal: String,
    pub held: (usize, usize),
    pub used: (usize, usize),
    pub new_pairs: usize,
    pub removed_pairs: usize,
    pub utilization: (String, String),
    pub utilization_points: String,
    pub weighted_gap: (u64, u64),
    /// Signed, e.g. `+3`.
    pub weighted_gap_change: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct SearchView {
    pub strategy: String,
    pub seed: u64,
    pub baseline: String,
    pub candidate: String,
    pub caveats: Vec<CaveatView>,
}

/// A move the search left out, on which side (`both`, `candidate`, `baseline`).
#[derive(Debug, Serialize)]
pub(crate) struct CaveatView {
    pub side: &'static str,
    pub text: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct ExceptionView {
    pub status: String,
    pub location: String,
    pub title: String,
    pub matched: usize,
    pub scope: Vec<ScopeView>,
    pub reason: String,
    pub expires: Option<String>,
}

/// One limit of an exception, e.g. `principal` `Agent::"bot"`.
#[derive(Debug, Serialize)]
pub(crate) struct ScopeView {
    pub name: &'static str,
    pub value: String,
}

/// The view of a check result.
pub(crate) fn check(result: &CheckResult) -> CheckView {
    let side = |spec: &privsim_model::check::SpecView| SideView {
        own_policies: spec.spec == "scenario",
        spec: spec.spec.clone(),
        commit: spec
            .commit
            .as_deref()
            .map(|c| c.get(..12).unwrap_or(c).to_string()),
    };
    let summary = &result.summary;
    let proof_lines = proof_lines(result);
    CheckView {
        passed: result.passed,
        baseline: side(&result.baseline),
        candidate: side(&result.candidate),
        config_file: result.config.file.clone(),
        summary: SummaryView {
            scenarios: summary.scenarios,
            scenarios_s: plural(summary.scenarios, "", "s"),
            failed_scenarios: summary.failed_scenarios,
            failures: summary.failures,
            failures_s: plural(summary.failures, "", "s"),
            excepted: summary.excepted,
            stale_exceptions: summary.stale_exceptions,
            stale_exceptions_s: plural(summary.stale_exceptions, "", "s"),
            unexercised_changes: summary.unexercised_changes,
        },
        caveat: result.proofs.as_ref().and_then(|p| p.caveat.clone()),
        load_errors: result
            .load_errors
            .iter()
            .map(|e| LoadErrorView {
                file: e.file.clone(),
                message: e.message.clone(),
                message_line: e.message.replace(['\n', '\r'], " "),
            })
            .collect(),
        budget: result.budget_exhausted.as_ref().map(|b| StatusMessage {
            failed: b.status == RuleStatus::Fail,
            message: b.message.clone(),
        }),
        config_change: result.config_change.as_ref().map(|c| ConfigChangeView {
            failed: c.status == RuleStatus::Fail,
            file: c.file.clone(),
            message: c.message.clone(),
        }),
        unreached: result
            .coverage
            .iter()
            .filter(|c| c.exercised_by.is_empty())
            .map(|c| UnreachedView {
                change: c.change.to_string(),
                effect: c.effect.to_string(),
                id: c.id.clone(),
                location: c.location.clone(),
            })
            .collect(),
        scenarios: result
            .scenarios
            .iter()
            .map(|s| scenario(s, result))
            .collect(),
        proof_lines_md: proof_lines
            .iter()
            .filter(|line| !line.starts_with("caveat: "))
            .cloned()
            .collect(),
        proof_lines,
        exceptions: result.exceptions.iter().map(exception).collect(),
    }
}

fn count(scenario: &ScenarioCheck, kinds: &[ChangeKind]) -> usize {
    scenario
        .changes
        .iter()
        .filter(|c| kinds.contains(&c.kind))
        .count()
}

fn scenario(scenario: &ScenarioCheck, result: &CheckResult) -> ScenarioView {
    let metrics: Vec<MetricRow> = scenario
        .principals
        .iter()
        .filter(|p| {
            p.new_pairs > 0
                || p.removed_pairs > 0
                || p.weighted_gap_change != 0
                || p.baseline.used != p.candidate.used
        })
        .map(|delta| {
            let (b, c) = (&delta.baseline, &delta.candidate);
            MetricRow {
                principal: delta.principal.clone(),
                held: (b.held, c.held),
                used: (b.used, c.used),
                new_pairs: delta.new_pairs,
                removed_pairs: delta.removed_pairs,
                utilization: (percent(b.utilization), percent(c.utilization)),
                utilization_points: points(delta.utilization_change),
                weighted_gap: (b.weighted_gap, c.weighted_gap),
                weighted_gap_change: format!("{:+}", delta.weighted_gap_change),
            }
        })
        .collect();
    let search_news = scenario.search.as_ref().is_some_and(|s| {
        s.baseline.exhaustive_depth != s.candidate.exhaustive_depth
            || s.baseline.budget_exhausted != s.candidate.budget_exhausted
            || !s.baseline.caveats.is_empty()
            || !s.candidate.caveats.is_empty()
    });
    let shown = !scenario.changes.is_empty()
        || !scenario.notes.is_empty()
        || !metrics.is_empty()
        || search_news;
    let section = shown.then(|| SectionView {
        rows: scenario.changes.len().min(MAX_ROWS),
        more_changes: scenario.changes.len().saturating_sub(MAX_ROWS),
        metrics,
        search: scenario.search.as_ref().map(|search| {
            // What each side's search left out, so a "proof" is read as one
            // over the moves it tried (the same caveat on both sides once).
            let mut caveats = Vec::new();
            for caveat in &search.candidate.caveats {
                let both = search.baseline.caveats.contains(caveat);
                caveats.push(CaveatView {
                    side: if both { "both" } else { "candidate" },
                    text: caveat.clone(),
                });
            }
            for caveat in &search.baseline.caveats {
                if !search.candidate.caveats.contains(caveat) {
                    caveats.push(CaveatView {
                        side: "baseline",
                        text: caveat.clone(),
                    });
                }
            }
            SearchView {
                strategy: search.candidate.strategy.to_string(),
                seed: search.candidate.seed,
                baseline: search_side(&search.baseline),
                candidate: search_side(&search.candidate),
                caveats,
            }
        }),
    });
    ScenarioView {
        name: scenario.name.clone(),
        file: scenario.file.clone(),
        passed: scenario.passed,
        baseline_files: scenario.baseline_policy_files.clone(),
        candidate_files: scenario.candidate_policy_files.clone(),
        counts: CountsView {
            new_access: count(
                scenario,
                &[
                    ChangeKind::NewAccessProven,
                    ChangeKind::NewAccess,
                    ChangeKind::HeldLonger,
                ],
            ),
            broken: count(scenario, &[ChangeKind::BrokenWorkflow]),
            escalations: count(scenario, &[ChangeKind::NewEscalation]),
            failed_expectations: count(scenario, &[ChangeKind::ExpectationFailed]),
            over_budget: count(
                scenario,
                &[ChangeKind::WeightedGapGrowth, ChangeKind::UtilizationDrop],
            ),
            narrowed: count(
                scenario,
                &[
                    ChangeKind::Narrowed,
                    ChangeKind::HeldShorter,
                    ChangeKind::NarrowedProven,
                ],
            ),
        },
        changes: scenario.changes.iter().map(|c| change(c, result)).collect(),
        notes: scenario.notes.clone(),
        section,
    }
}

/// One side of the search, e.g. `300 moves, 41 states, budget exhausted`.
fn search_side(s: &SearchSummary) -> String {
    let mut text = format!(
        "{} move{}, {} state{}",
        s.moves,
        plural(usize::try_from(s.moves).unwrap_or(usize::MAX), "", "s"),
        s.states,
        plural(usize::try_from(s.states).unwrap_or(usize::MAX), "", "s"),
    );
    if let Some(depth) = s.exhaustive_depth {
        text.push_str(&format!(", every state to depth {depth} explored"));
        if !s.caveats.is_empty() {
            text.push_str(" over the moves tried");
        }
    } else if s.budget_exhausted {
        text.push_str(", budget exhausted");
    }
    text
}

fn change(change: &Change, result: &CheckResult) -> ChangeView {
    let exception = change
        .exception
        .as_ref()
        .and_then(|location| result.exceptions.iter().find(|e| &e.location == location));
    let (accepted_by, expired) = match exception {
        Some(exception) if change.status == ChangeStatus::Excepted => (
            Some(AcceptedView {
                location: exception.location.clone(),
                reason: exception.reason.clone(),
            }),
            None,
        ),
        Some(exception) => (
            None,
            Some(ExpiredView {
                location: exception.location.clone(),
                expires: exception.expires.clone().unwrap_or_default(),
            }),
        ),
        None => (None, None),
    };
    ChangeView {
        status: change.status.to_string(),
        kind: change.kind.to_string(),
        title: title(change.kind).to_string(),
        principal: change.principal.clone(),
        action: change.action.clone(),
        resource: change.resource.clone(),
        policies: change.policies.iter().map(policy).collect(),
        details: details(change),
        accepted_by,
        expired,
        message: change.message.clone(),
        location: change.location.clone(),
    }
}

fn policy(policy: &PolicyRef) -> PolicyView {
    PolicyView {
        id: policy.id.clone(),
        location: policy.location.clone(),
    }
}

/// The change-specific details: what changed, at which step or time.
fn details(change: &Change) -> String {
    match change.kind {
        ChangeKind::NewAccess => {
            let mut text = match (change.time, change.baseline.as_deref()) {
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
                text.push_str(&format!(
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
                ));
            }
            text
        }
        ChangeKind::Narrowed if change.step.is_some() => format!(
            "step {}: {} → {}, as the scenario expects",
            change.step.unwrap_or(0),
            change.baseline.as_deref().unwrap_or(""),
            change.candidate.as_deref().unwrap_or(""),
        ),
        ChangeKind::Narrowed => format!(
            "no longer held (last held {} with the baseline)",
            change.time.map(|at| at.to_string()).unwrap_or_default()
        ),
        ChangeKind::WeightedGapGrowth | ChangeKind::UtilizationDrop => format!(
            "{} → {}",
            change.baseline.as_deref().unwrap_or(""),
            change.candidate.as_deref().unwrap_or("")
        ),
        ChangeKind::HeldLonger | ChangeKind::HeldShorter => format!(
            "held {} → {}",
            change.baseline.as_deref().unwrap_or(""),
            change.candidate.as_deref().unwrap_or("")
        ),
        _ => change.message.clone(),
    }
}

fn exception(exception: &ExceptionStatus) -> ExceptionView {
    ExceptionView {
        status: exception.status.to_string(),
        location: exception.location.clone(),
        title: title(exception.kind).to_string(),
        matched: exception.matched,
        scope: [
            ("scenario", &exception.scenario),
            ("principal", &exception.principal),
            ("action", &exception.action),
            ("resource", &exception.resource),
        ]
        .into_iter()
        .filter_map(|(name, value)| {
            value.as_ref().map(|value| ScopeView {
                name,
                value: value.clone(),
            })
        })
        .collect(),
        reason: exception.reason.clone(),
        expires: exception.expires.clone(),
    }
}

/// One GitHub Actions workflow command (`templates/check.annotations.j2`).
#[derive(Debug, Serialize)]
pub struct AnnotationView {
    /// `error` or `warning`.
    pub level: &'static str,
    /// The file it points at.
    pub file: String,
    /// The line, 1-based.
    pub line: usize,
    /// The title, `privsim check: …`.
    pub title: String,
    /// The message.
    pub message: String,
}

/// The workflow commands of a check: failing changes, scenarios not loaded,
/// a changed gate configuration, then stale and expired exceptions.
pub fn annotations(result: &CheckResult) -> Vec<AnnotationView> {
    let mut annotations = Vec::new();
    for scenario in &result.scenarios {
        for change in scenario
            .changes
            .iter()
            .filter(|c| c.status == ChangeStatus::Fail)
        {
            let (file, line) = split_location(change.location.as_deref().unwrap_or(&scenario.file));
            annotations.push(AnnotationView {
                level: "error",
                file,
                line,
                title: format!("privsim check: {}", title(change.kind)),
                message: format!("{} (scenario \"{}\")", change.message, scenario.name),
            });
        }
    }
    for error in &result.load_errors {
        let (file, line) = crate::sarif::error_location(&error.message).unwrap_or((&error.file, 1));
        annotations.push(AnnotationView {
            level: "error",
            file: file.to_string(),
            line,
            title: "privsim check: scenario not loaded".to_string(),
            message: format!(
                "the scenario file could not be loaded and was not checked: {}",
                error.message
            ),
        });
    }
    if let Some(change) = &result.config_change {
        annotations.push(AnnotationView {
            level: if change.status == RuleStatus::Fail {
                "error"
            } else {
                "warning"
            },
            file: change.file.clone(),
            line: 1,
            title: "privsim check: gate configuration changed".to_string(),
            message: change.message.clone(),
        });
    }
    for exception in &result.exceptions {
        let (file, line) = split_location(&exception.location);
        let (level, title, message) = match exception.status {
            ExceptionState::Stale => (
                "error",
                "privsim check: stale exception",
                format!(
                    "this {} exception matches nothing: remove it",
                    title(exception.kind)
                ),
            ),
            ExceptionState::Expired => (
                "warning",
                "privsim check: expired exception",
                format!(
                    "this exception expired on {} and no longer applies",
                    exception.expires.as_deref().unwrap_or("")
                ),
            ),
            ExceptionState::Applied | ExceptionState::NotChecked => continue,
        };
        annotations.push(AnnotationView {
            level,
            file,
            line,
            title: title.to_string(),
            message,
        });
    }
    annotations
}
