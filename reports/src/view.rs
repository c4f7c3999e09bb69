//! The view model: the result model arranged for reading, which every
//! templated report renders. It orders (biggest unused privilege first),
//! selects (the trace of a finding, the failed expectations), formats
//! (percentages, durations) and lays out the SVG timeline, all from
//! [`privsim_model::result`] alone, so that templates only print what they are given.
//!
//! It adds no fact of its own: every number here is one the result model
//! states, or a sum, count or coordinate of such numbers.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use privsim_model::check::ProofVerdict;
use privsim_model::format::{duration, join_numbers, percent};

use privsim_model::result::{
    ExpectationResult, Finding, HeldPair, MoveKind, NeverRuleResult, NeverVerdict,
    ObservationStatus, PolicyKind, PrincipalAccount, RunResult, ScenarioResult, SearchSummary,
    StepResult,
};
use privsim_model::suggest::{ScenarioSuggestion, Status};
use privsim_model::time::Instant;

use crate::plural;

/// The longest finding trace shown; earlier steps are counted, not listed.
/// Size-limited reports (Markdown) list at most this many moves of a search
/// trace too ([`FindingView::brief_moves`]).
const TRACE_STEPS: usize = 12;
/// Principals holding more pairs than this get one timeline row per action.
const TIMELINE_ROWS_PER_PAIR: usize = 24;
/// Timeline geometry, in SVG user units (pixels).
const LABEL_WIDTH: i64 = 390;
const PLOT_WIDTH: i64 = 560;
const ROW_HEIGHT: i64 = 20;
const AXIS_HEIGHT: i64 = 26;
/// The longest timeline label, in characters; longer ones are cut with `…`
/// (the full text is in the row's tooltip).
const LABEL_CHARS: usize = 52;

/// A whole run, as the reports show it.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    /// When the run happened (wall clock, `YYYY-MM-DDTHH:MM:SS`, UTC); set
    /// for JUnit only, empty otherwise.
    pub run_at: String,
    /// `pass` (every expectation held, no finding), `findings` (every
    /// expectation held, but invariant findings), or `fail`.
    pub status: &'static str,
    /// `PASS`, `PASS with findings` or `FAIL`.
    pub verdict: String,
    /// ✅, ⚠️ or ❌.
    pub icon: &'static str,
    /// What the verdict rests on, one sentence.
    pub summary: String,
    /// Scenarios in the run.
    pub scenario_count: usize,
    /// Scenarios whose expectations or access checks failed.
    pub failed_count: usize,
    /// Invariant findings over all scenarios.
    pub finding_count: usize,
    /// Σ weighted gap over all scenarios.
    pub total_weighted_gap: u64,
    /// Policies (by location) that determined no decision in any scenario
    /// evaluating them.
    pub dead_everywhere: Vec<DeadPolicy>,
    /// One entry per scenario, in run order.
    pub scenarios: Vec<ScenarioView>,
    /// Scenario files that could not be loaded and so were not evaluated:
    /// each fails the run, and every format lists them.
    pub load_errors: Vec<LoadErrorView>,
}

/// A scenario file the run could not load.
#[derive(Debug, Clone, Serialize)]
pub struct LoadErrorView {
    /// The file (or the path given, when it could not be searched).
    pub file: String,
    /// The error, with its location (`file:line:col`) when it has one.
    pub message: String,
}

/// A policy that determined no decision in any scenario of the run.
#[derive(Debug, Clone, Serialize)]
pub struct DeadPolicy {
    /// The id.
    pub id: String,
    /// `file:line`, when known.
    pub location: Option<String>,
    /// The file part of `location`.
    pub file: Option<String>,
    /// The line part of `location`.
    pub line: Option<usize>,
    /// `permit` or `forbid`.
    pub effect: String,
    /// How many scenarios evaluated it.
    pub scenarios: usize,
}

/// One scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioView {
    /// 1-based position in the run.
    pub number: usize,
    /// An HTML id / Markdown anchor for this scenario.
    pub anchor: String,
    /// The scenario's name.
    pub name: String,
    /// The scenario file.
    pub file: String,
    /// The policy files evaluated.
    pub policy_files: Vec<String>,
    /// The clock's start.
    pub start: String,
    /// `pass`, `findings` or `fail` (as [`RunView::status`]).
    pub status: &'static str,
    /// `PASS`, `PASS with findings` or `FAIL`.
    pub verdict: String,
    /// ✅, ⚠️ or ❌.
    pub icon: &'static str,
    /// What the verdict rests on, one sentence.
    pub summary: String,
    /// Counts, formatted.
    pub counts: Counts,
    /// Steps whose expectation failed.
    pub failed_expectations: Vec<FailedExpectation>,
    /// Access assertions that failed.
    pub failed_access: Vec<AccessView>,
    /// Invariant findings with their traces.
    pub findings: Vec<FindingView>,
    /// Held vs used per principal.
    pub principals: Vec<PrincipalView>,
    /// Σ weighted gap over principals.
    pub weighted_gap: u64,
    /// The right-sized policy suggestion, when the result has one.
    pub suggestion: Option<SuggestionView>,
    /// Policies that determined at least one decision.
    pub live_policies: Vec<PolicyView>,
    /// Policies and template links that determined none.
    pub dead_policies: Vec<PolicyView>,
    /// Templates (they decide through their links).
    pub templates: Vec<PolicyView>,
    /// The trace.
    pub steps: Vec<StepView>,
    /// Every access assertion.
    pub access: Vec<AccessView>,
    /// Legal but suspicious input.
    pub warnings: Vec<String>,
    /// What the escalation search did, for results of `privsim fuzz`.
    pub search: Option<SearchView>,
    /// The verdict on each `[[never]]` rule (when proofs were asked for).
    pub never_rules: Vec<NeverRuleView>,
    /// The observation window and its unused-access findings (when the
    /// accounting ran).
    pub observation: Option<ObservationView>,
    /// What each principal held over time, laid out for SVG.
    pub timeline: Option<Timeline>,
    /// The scenario as a JUnit test suite.
    pub junit: JunitSuite,
}

/// The observation window and what went unused for its `unused_after`.
#[derive(Debug, Clone, Serialize)]
pub struct ObservationView {
    /// `evaluated`, `window-too-short` or `no-steps`.
    pub status: String,
    /// One sentence: the window, the threshold and the counts, or why
    /// nothing is claimed.
    pub line: String,
    /// Principals unused as a whole, longest idle first.
    pub principals: Vec<UnusedPrincipalView>,
    /// Per principal and action, the unused pairs, the principal's order
    /// (longest idle first), then the action's.
    pub access: Vec<UnusedAccessView>,
    /// What limits the findings, one sentence each.
    pub caveats: Vec<String>,
}

/// A principal with no allowed step for the window's `unused_after`.
#[derive(Debug, Clone, Serialize)]
pub struct UnusedPrincipalView {
    /// The principal.
    pub principal: String,
    /// Its last allowed step in the window, or `never in the window`.
    pub last_used: String,
    /// Time held since, e.g. `123d`.
    pub idle: String,
}

/// An action of a principal with unused pairs.
#[derive(Debug, Clone, Serialize)]
pub struct UnusedAccessView {
    /// The principal.
    pub principal: String,
    /// The action.
    pub action: String,
    /// Its risk weight.
    pub weight: u64,
    /// `whole action` or `some resources`.
    pub scope: &'static str,
    /// The action's last use in the window, or `never in the window`.
    pub last_used: String,
    /// Time the action was held since its last use, e.g. `85d`.
    pub idle: String,
    /// The resources whose pair is unused.
    pub resources: Vec<String>,
}

/// A scenario as a JUnit test suite.
#[derive(Debug, Clone, Serialize)]
pub struct JunitSuite {
    /// The scenario's folder, dotted (`scenarios.break-glass`).
    pub package: String,
    /// The scenario file without extension, dotted.
    pub classname: String,
    /// The scenario's name (its file when the name is empty).
    pub name: String,
    /// The simulated clock's start, RFC 3339 (a JUnit property).
    pub simulated_start: String,
    /// Test cases.
    pub tests: usize,
    /// Failed test cases.
    pub failures: usize,
    /// The cases: expectations, access assertions, findings.
    pub cases: Vec<JunitCase>,
}

/// One JUnit test case.
#[derive(Debug, Clone, Serialize)]
pub struct JunitCase {
    /// What is tested.
    pub name: String,
    /// `expectation`, `access`, or the finding's invariant.
    pub kind: String,
    /// Whether it failed.
    pub failure: bool,
    /// The failure in one line.
    pub message: String,
    /// The failure in full, one fact a line.
    pub details: String,
}

/// A scenario's counts.
#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    /// Steps replayed.
    pub steps: usize,
    /// Allowed steps.
    pub allowed: usize,
    /// Denied steps.
    pub denied: usize,
    /// Steps the schema rejected.
    pub invalid: usize,
    /// Steps with evaluation errors.
    pub with_errors: usize,
    /// `met/expectations`, e.g. `7/7`.
    pub expectations: String,
    /// `passed/assertions`, e.g. `2/2`.
    pub access: String,
    /// Findings.
    pub findings: usize,
    /// Principals accounted for.
    pub principals: usize,
    /// Principals holding an unused pair.
    pub over_privileged: usize,
}

/// A step whose expectation failed.
#[derive(Debug, Clone, Serialize)]
pub struct FailedExpectation {
    /// The step.
    pub step: StepView,
    /// `file:line` of the `[[step]]`.
    pub location: String,
    /// What was expected, e.g. `deny`, `allow by [a, b]`.
    pub expected: String,
    /// One sentence per mismatch.
    pub failures: Vec<String>,
}

/// One step of the trace.
#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    /// 1-based step number.
    pub index: usize,
    /// Line of the `[[step]]`.
    pub line: usize,
    /// The step's label.
    pub name: Option<String>,
    /// Simulated time.
    pub time: String,
    /// The same, as an instant (for the views; templates use `time`).
    #[serde(skip)]
    pub at: Instant,
    /// Time since the clock's start, e.g. `+2m`.
    pub offset: String,
    /// The session.
    pub session: Option<String>,
    /// The acting principal.
    pub principal: String,
    /// The delegation chain, root first, joined with ` → `.
    pub chain: String,
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// `allow`, `deny` or `error`.
    pub decision: String,
    /// Determining policies.
    pub determining: Vec<String>,
    /// Evaluation errors, `policy: message`.
    pub errors: Vec<String>,
    /// Grants active at the time.
    pub grants: Vec<String>,
    /// `ok`, `FAIL`, or empty without an expectation.
    pub outcome: &'static str,
    /// The same request as each delegator, `delegator: decision`.
    pub ceiling: Vec<String>,
    /// What the step changed in the world (its action's `[[effect]]`s), one
    /// line each; empty when it changed nothing.
    pub effects: Vec<String>,
}

/// An access assertion.
#[derive(Debug, Clone, Serialize)]
pub struct AccessView {
    /// 1-based position.
    pub index: usize,
    /// `file:line` of the `[[access]]`.
    pub location: String,
    /// Line in the scenario file.
    pub line: usize,
    /// When it was checked.
    pub time: String,
    /// Whose access.
    pub principal: String,
    /// The action.
    pub action: String,
    /// How many resources were expected.
    pub expected: usize,
    /// How many Cedar allowed.
    pub allowed: usize,
    /// Expected, not allowed.
    pub missing: Vec<String>,
    /// Allowed, not expected.
    pub unexpected: Vec<String>,
    /// Whether allowed = expected.
    pub passed: bool,
}

/// A policy and where it is.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyRef {
    /// The id.
    pub id: String,
    /// `file:line`, when known.
    pub location: Option<String>,
    /// The file part of `location`.
    pub file: Option<String>,
    /// The line part of `location`.
    pub line: Option<usize>,
}

/// An invariant finding with its trace.
#[derive(Debug, Clone, Serialize)]
pub struct FindingView {
    /// 1-based number within the scenario.
    pub number: usize,
    /// The invariant, e.g. `delegation-ceiling`.
    pub kind: String,
    /// A title: the invariant and where it was seen.
    pub title: String,
    /// The result model's sentence.
    pub message: String,
    /// The step that showed it.
    pub step: Option<usize>,
    /// Simulated time.
    pub time: String,
    /// Who was allowed.
    pub principal: String,
    /// The delegator that was denied (delegation ceiling).
    pub delegator: Option<String>,
    /// The grant that ended (expiry).
    pub grant: Option<String>,
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// The policies that allowed it, with their locations.
    pub determining: Vec<PolicyRef>,
    /// `file:line` of the step, when a step showed it.
    pub step_location: Option<String>,
    /// How many earlier steps of the principal the trace leaves out.
    pub trace_omitted: usize,
    /// The number of an earlier finding of this scenario with the very same
    /// trace, which reports then refer to instead of repeating it.
    pub trace_same_as: Option<usize>,
    /// The principal's steps leading to the finding, the finding's own step last
    /// (empty for a finding of the search, which has [`FindingView::moves`]).
    pub trace: Vec<TraceStep>,
    /// For `never` and `access`: the rule broken, `file:line`.
    pub rule: Option<String>,
    /// The file part of `rule`.
    pub rule_file: Option<String>,
    /// The line part of `rule`.
    pub rule_line: Option<usize>,
    /// The repro scenario the search wrote for it, when it wrote one.
    pub repro: Option<String>,
    /// For a finding of the escalation search: its whole trace, from the
    /// scenario's initial world to the violation.
    pub moves: Vec<MoveView>,
    /// What `moves` is, e.g. `3 moves from the scenario's initial world; the
    /// last request is the one that must be denied` (empty without moves).
    pub moves_summary: String,
    /// The last moves of `moves`, at most 12 (as for step traces), for reports
    /// with a size limit (Markdown).
    pub brief_moves: Vec<MoveView>,
    /// How many earlier moves `brief_moves` leaves out.
    pub brief_omitted: usize,
}

/// One move of a search finding's trace: a request, or the clock moving on.
#[derive(Debug, Clone, Serialize)]
pub struct MoveView {
    /// 1-based position in the trace.
    pub number: usize,
    /// `request` or `advance`.
    pub kind: String,
    /// Whether it is a request (else the clock advances).
    pub is_request: bool,
    /// Simulated time (after it, for a clock advance).
    pub time: String,
    /// Time since the clock's start, e.g. `+2m`.
    pub offset: String,
    /// The acting session.
    pub session: Option<String>,
    /// The principal.
    pub principal: Option<String>,
    /// The action.
    pub action: Option<String>,
    /// The resource.
    pub resource: Option<String>,
    /// The context entries the move adds, as compact JSON (none when it adds none).
    pub context: Option<String>,
    /// Cedar's decision.
    pub decision: Option<String>,
    /// What the move changed in the world, one line each.
    pub effects: Vec<String>,
    /// Whether this is the trace's last request: the one that must be denied.
    pub must_deny: bool,
    /// The move in one line, e.g. for JUnit and SARIF (without the mark of
    /// `must_deny`).
    pub line: String,
}

/// What the escalation search did for one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct SearchView {
    /// `random`, `novelty` or `exhaustive`.
    pub strategy: String,
    /// The seed.
    pub seed: u64,
    /// Moves tried.
    pub moves: u64,
    /// Distinct world states seen.
    pub states: u64,
    /// The deepest trace explored.
    pub max_depth: usize,
    /// Every state up to this many moves was explored (exhaustive only).
    pub exhaustive_depth: Option<usize>,
    /// Whether the budget stopped the search.
    pub budget_exhausted: bool,
    /// Whether the search was interrupted (SIGINT, SIGTERM).
    pub interrupted: bool,
    /// What the search's move set left out, one sentence each.
    pub caveats: Vec<String>,
    /// What the search shows, e.g. `no violation up to depth 6 (exhaustive)`
    /// or `budget exhausted: …`.
    pub outcome: String,
    /// The search in one line: strategy, seed, counts and outcome.
    pub line: String,
}

/// One step of a finding's trace.
#[derive(Debug, Clone, Serialize)]
pub struct TraceStep {
    /// The step.
    pub step: StepView,
    /// Whether this is the step that showed the finding.
    pub is_finding: bool,
}

/// Held vs used for one principal, biggest unused privileges first.
#[derive(Debug, Clone, Serialize)]
pub struct PrincipalView {
    /// The principal.
    pub principal: String,
    /// Its sessions.
    pub sessions: Vec<String>,
    /// |Held|.
    pub held: usize,
    /// |Used|.
    pub used: usize,
    /// |Held − Used|.
    pub unused: usize,
    /// Utilization as a percentage, e.g. `26.7%`.
    pub utilization: String,
    /// Σ risk weight over unused pairs.
    pub weighted_gap: u64,
    /// Actions held but never used, biggest gap first.
    pub unused_actions: Vec<UnusedActionView>,
    /// Actions used on some resources but held on more, biggest gap first.
    pub unused_scope: Vec<UnusedScopeView>,
    /// Used pairs held outside their window of use, longest first.
    pub standing_time: Vec<StandingView>,
    /// Pairs held that its delegator did not hold.
    pub delegation_excess: Vec<ExcessView>,
    /// Whether any of the four lists is non-empty.
    pub has_excess: bool,
}

/// An action held but never used.
#[derive(Debug, Clone, Serialize)]
pub struct UnusedActionView {
    /// The action.
    pub action: String,
    /// Resources it was held on.
    pub pairs: usize,
    /// Its risk weight.
    pub weight: u64,
    /// `weight × pairs`: its share of the weighted gap.
    pub gap: u64,
}

/// An action used on some resources but held on more.
#[derive(Debug, Clone, Serialize)]
pub struct UnusedScopeView {
    /// The action.
    pub action: String,
    /// Its risk weight.
    pub weight: u64,
    /// The resources held but not used.
    pub resources: Vec<String>,
    /// How many.
    pub count: usize,
    /// `weight × count`: its share of the weighted gap.
    pub gap: u64,
}

/// A used pair held outside the window of its use.
#[derive(Debug, Clone, Serialize)]
pub struct StandingView {
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// Total time held, e.g. `40m`.
    pub held: String,
    /// When it was held, from its first evaluated instant to the next
    /// evaluated instant after its last (a pair held at one instant is held
    /// until the next), as offsets from the clock's start.
    pub held_window: String,
    /// First and last use, as offsets from the clock's start.
    pub used_window: String,
    /// Time held outside the window of use, e.g. `38m`.
    pub standing: String,
}

/// A pair held that the delegator did not hold.
#[derive(Debug, Clone, Serialize)]
pub struct ExcessView {
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// The delegator.
    pub delegator: String,
}

/// A policy's part in the decisions.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyView {
    /// The id.
    pub id: String,
    /// `permit`, `forbid` or `template`.
    pub effect: String,
    /// `file:line`, when known.
    pub location: Option<String>,
    /// How many step decisions it determined.
    pub count: usize,
    /// Those steps, e.g. `1, 3, 5`.
    pub steps: String,
}

/// The right-sized policy suggestion.
#[derive(Debug, Clone, Serialize)]
pub struct SuggestionView {
    /// `verified`, `failed` or `refused`.
    pub status: &'static str,
    /// One sentence: what the suggestion achieves, or why there is none.
    pub line: String,
    /// Why none was made (refused).
    pub refusals: Vec<String>,
    /// Expectations the candidate fails that the suggestion repairs.
    pub repairs: Vec<String>,
    /// Remarks.
    pub notes: Vec<String>,
    /// Candidate policies kept as they are.
    pub kept: Vec<String>,
    /// Candidate permits closed to the right-sized principals.
    pub narrowed: Vec<String>,
    /// Candidate permits replaced by suggested ones.
    pub replaced: Vec<String>,
    /// Before and after, per principal.
    pub principals: Vec<SuggestedPrincipal>,
    /// Failed checks, one sentence each.
    pub failures: Vec<String>,
    /// The whole suggested policy set.
    pub policies: String,
    /// A Markdown code fence longer than any run of backticks in `policies`.
    pub fence: String,
}

/// One principal's suggestion.
#[derive(Debug, Clone, Serialize)]
pub struct SuggestedPrincipal {
    /// The principal.
    pub principal: String,
    /// Whether it was right-sized (it takes a step).
    pub right_sized: bool,
    /// Whether it takes a step but `--only` left it out.
    pub left_out: bool,
    /// Held, used, utilization and weighted gap under the candidate.
    pub before: String,
    /// The same under the suggestion (empty when there is none).
    pub after: String,
    /// The ids of its suggested permits.
    pub policies: Vec<String>,
}

/// The SVG timeline of a scenario: what each principal held over time.
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    /// SVG width.
    pub width: i64,
    /// SVG height.
    pub height: i64,
    /// Left edge of the plot.
    pub plot_x: i64,
    /// Right edge of the plot.
    pub plot_end: i64,
    /// The axis line's y.
    pub axis_y: i64,
    /// The tick labels' baseline.
    pub tick_label_y: i64,
    /// Axis ticks.
    pub ticks: Vec<Tick>,
    /// One group per principal.
    pub groups: Vec<TimelineGroup>,
    /// Where the axis is broken: long idle stretches drawn narrow.
    pub breaks: Vec<AxisBreak>,
    /// What the time axis spans, in words.
    pub caption: String,
}

/// A stretch of the time axis with no step, grant change or evaluated
/// instant, drawn narrow so the busy stretches around it stay readable.
#[derive(Debug, Clone, Serialize)]
pub struct AxisBreak {
    /// Left edge.
    pub x: i64,
    /// Width.
    pub width: i64,
    /// The break mark on the axis (two slanted strokes).
    pub path: String,
    /// Tooltip: what was left out.
    pub title: String,
}

/// The time axis: real offsets (milliseconds from the start) to x, linear
/// except across long idle gaps, which are compressed to a short break so
/// that one step hours after the others does not squeeze the rest into a
/// few pixels.
struct Axis {
    /// Gaps drawn as breaks, as (from, to) real offsets, in order.
    gaps: Vec<(i64, i64)>,
    /// How long a break counts on the drawn axis, in milliseconds.
    break_length: i64,
    /// The drawn axis's whole length, in milliseconds.
    drawn: i64,
}

impl Axis {
    /// Compresses each gap between consecutive events longer than a quarter
    /// of the span, as long as some time is left uncompressed (with nothing
    /// but gaps there is nothing to zoom into).
    fn new(span: i64, events: &[i64]) -> Self {
        let mut points: Vec<i64> = events.iter().map(|e| (*e).clamp(0, span)).collect();
        points.extend([0, span]);
        points.sort_unstable();
        points.dedup();
        let gaps: Vec<(i64, i64)> = points
            .windows(2)
            .filter(|w| (w[1] - w[0]) * 4 > span)
            .map(|w| (w[0], w[1]))
            .collect();
        let busy = span - gaps.iter().map(|(from, to)| to - from).sum::<i64>();
        if gaps.is_empty() || busy <= 0 {
            return Self {
                gaps: Vec::new(),
                break_length: 0,
                drawn: span.max(1),
            };
        }
        // Each break is drawn a twelfth as wide as the busy time, at least
        // wide enough to see.
        let break_length = (busy / 12).max(1);
        let drawn = busy + break_length * i64::try_from(gaps.len()).unwrap_or(1);
        Self {
            gaps,
            break_length,
            drawn,
        }
    }

    /// The drawn offset of a real one.
    fn drawn_offset(&self, offset: i64) -> i64 {
        let mut drawn = offset;
        for &(from, to) in &self.gaps {
            if offset >= to {
                drawn -= (to - from) - self.break_length;
            } else if offset > from {
                // Inside a break: proportionally within its drawn width.
                let inside = i128::from(offset - from) * i128::from(self.break_length)
                    / i128::from(to - from);
                drawn -= offset - from - i64::try_from(inside).unwrap_or(0);
                break;
            } else {
                break;
            }
        }
        drawn
    }

    fn x(&self, offset: i64) -> i64 {
        let drawn = self.drawn_offset(offset).clamp(0, self.drawn);
        LABEL_WIDTH
            + i64::try_from(i128::from(drawn) * i128::from(PLOT_WIDTH) / i128::from(self.drawn))
                .unwrap_or(0)
    }

    /// Whether a real offset lies strictly inside a break.
    fn in_break(&self, offset: i64) -> bool {
        self.gaps
            .iter()
            .any(|&(from, to)| offset > from && offset < to)
    }
}

/// An axis tick.
#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    /// x.
    pub x: i64,
    /// e.g. `+10m`.
    pub label: String,
}

/// A principal's rows.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineGroup {
    /// The principal, for the heading row.
    pub label: String,
    /// The heading's baseline.
    pub y: i64,
    /// The rows.
    pub rows: Vec<TimelineRow>,
}

/// One row: a pair (or an action with all its resources).
#[derive(Debug, Clone, Serialize)]
pub struct TimelineRow {
    /// The label, cut to fit.
    pub label: String,
    /// The full label.
    pub title: String,
    /// The row's top.
    pub y: i64,
    /// The label's baseline.
    pub text_y: i64,
    /// Bars' top.
    pub bar_y: i64,
    /// Bars' height.
    pub bar_height: i64,
    /// Marks' centre.
    pub mark_y: i64,
    /// `used` or `unused`.
    pub class: &'static str,
    /// When it was held.
    pub bars: Vec<Bar>,
    /// Steps and findings on this row.
    pub marks: Vec<Mark>,
}

/// A held interval.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    /// Left.
    pub x: i64,
    /// Width (at least 2).
    pub width: i64,
    /// `held`, or `intermittent` when the pair was held for only part of
    /// this span (the result gives the total, not the gaps).
    pub class: &'static str,
    /// Tooltip.
    pub title: String,
}

/// A step or finding on a row.
#[derive(Debug, Clone, Serialize)]
pub struct Mark {
    /// x of the centre.
    pub x: i64,
    /// `allow`, `deny`, `error` or `finding`.
    pub class: &'static str,
    /// The SVG path: a ring for an allowed step, a cross for a denied one, a
    /// diamond for a finding.
    pub path: String,
    /// Tooltip.
    pub title: String,
}

/// Builds the view of a run.
pub fn run(result: &RunResult) -> RunView {
    let scenarios: Vec<ScenarioView> = result
        .scenarios
        .iter()
        .enumerate()
        .map(|(i, s)| scenario(i + 1, s))
        .collect();
    let failed_count = scenarios.iter().filter(|s| s.status == "fail").count();
    let finding_count: usize = scenarios.iter().map(|s| s.findings.len()).sum();
    let total_weighted_gap = scenarios.iter().map(|s| s.weighted_gap).sum();
    let not_loaded = result.load_errors.len();
    let status = status_of(failed_count == 0 && not_loaded == 0, finding_count);
    let count = scenarios.len();
    let every = if not_loaded == 0 { "Every" } else { "every" };
    let outcome = if failed_count == 0 {
        format!(
            "{every} expectation held in {count} {}",
            plural(count, "scenario", "scenarios")
        )
    } else {
        format!(
            "{failed_count} of {count} {} failed",
            plural(count, "scenario", "scenarios")
        )
    };
    // A file that could not be loaded was never evaluated: the verdict says
    // so first, so "every expectation held" cannot be read as covering it.
    let outcome = if not_loaded == 0 {
        outcome
    } else {
        format!(
            "{not_loaded} scenario {} could not be loaded and {} not evaluated; {outcome}",
            plural(not_loaded, "file", "files"),
            plural(not_loaded, "was", "were"),
        )
    };
    let summary = format!(
        "{outcome}; {}; total weighted gap {total_weighted_gap}.",
        findings_phrase(finding_count)
    );
    // A policy file shared by several scenarios (`--policies`) is dead only
    // where no scenario's decision came from it.
    let mut by_policy: BTreeMap<(Option<String>, String), (bool, usize, String)> = BTreeMap::new();
    for s in &result.scenarios {
        let dead: BTreeSet<&str> = s.dead_policies.iter().map(String::as_str).collect();
        for usage in s
            .policy_use
            .iter()
            .filter(|u| u.effect != PolicyKind::Template)
        {
            let entry = by_policy
                .entry((usage.location.clone(), usage.id.clone()))
                .or_insert((true, 0, usage.effect.to_string()));
            entry.0 &= dead.contains(usage.id.as_str());
            entry.1 += 1;
        }
    }
    let mut dead_everywhere: Vec<DeadPolicy> = by_policy
        .into_iter()
        .filter(|(_, (dead, _, _))| *dead)
        .map(|((location, id), (_, scenarios, effect))| {
            let (file, line) = split_location(location.as_deref());
            DeadPolicy {
                id,
                location,
                file,
                line,
                effect,
                scenarios,
            }
        })
        .collect();
    dead_everywhere.sort_by(|a, b| (&a.file, a.line, &a.id).cmp(&(&b.file, b.line, &b.id)));
    RunView {
        run_at: String::new(),
        dead_everywhere,
        status,
        verdict: verdict(status).to_string(),
        icon: icon(status),
        summary,
        scenario_count: count,
        failed_count,
        finding_count,
        total_weighted_gap,
        scenarios,
        load_errors: result
            .load_errors
            .iter()
            .map(|e| LoadErrorView {
                file: e.file.clone(),
                message: e.message.clone(),
            })
            .collect(),
    }
}

fn status_of(passed: bool, findings: usize) -> &'static str {
    match (passed, findings) {
        (false, _) => "fail",
        (true, 0) => "pass",
        (true, _) => "findings",
    }
}

fn verdict(status: &str) -> &'static str {
    match status {
        "fail" => "FAIL",
        "findings" => "PASS with findings",
        _ => "PASS",
    }
}

fn icon(status: &str) -> &'static str {
    match status {
        "fail" => "❌",
        "findings" => "⚠️",
        _ => "✅",
    }
}

fn findings_phrase(n: usize) -> String {
    if n == 0 {
        "no invariant findings".to_string()
    } else {
        format!("{n} invariant {}", plural(n, "finding", "findings"))
    }
}

/// The observation window of a scenario, when the accounting ran.
pub fn observation(s: &ScenarioResult) -> Option<ObservationView> {
    let o = s.observation.as_ref()?;
    let after = duration(o.unused_after_ms);
    let span = format!(" ({})", duration(o.end.0 - o.start.0));
    let window = format!("observation window {} to {}{span}", o.start, o.end);
    let line = match o.status {
        ObservationStatus::Evaluated => format!(
            "{window}: {} held {} unused for {after} of held time; {} {} and {} {} unused as a whole",
            o.unused_pairs,
            plural(o.unused_pairs, "pair", "pairs"),
            o.unused_actions,
            plural(o.unused_actions, "action", "actions"),
            o.unused_principals,
            plural(o.unused_principals, "principal", "principals"),
        ),
        ObservationStatus::WindowTooShort => format!(
            "{window} is shorter than the unused-access threshold of {after}: window too short, no access is claimed unused for {after}"
        ),
        ObservationStatus::NoSteps => format!(
            "{window}: the scenario has no step, so nothing was observed and no access is claimed unused"
        ),
    };
    let last = |at: &Option<Instant>| {
        at.map_or_else(|| "never in the window".to_string(), |at| at.to_string())
    };
    let mut accounts: Vec<&PrincipalAccount> = s.principals.iter().collect();
    accounts.sort_by_key(|a| std::cmp::Reverse(a.idle_ms));
    let principals = accounts
        .iter()
        .filter(|a| a.unused_finding)
        .map(|a| UnusedPrincipalView {
            principal: a.principal.clone(),
            last_used: last(&a.last_used),
            idle: duration(a.idle_ms),
        })
        .collect();
    let access = accounts
        .iter()
        .flat_map(|a| {
            a.unused_access.iter().map(|u| UnusedAccessView {
                principal: a.principal.clone(),
                action: u.action.clone(),
                weight: u.weight,
                scope: if u.whole_action {
                    "whole action"
                } else {
                    "some resources"
                },
                last_used: last(&u.last_used),
                idle: duration(u.idle_ms),
                resources: u.resources.clone(),
            })
        })
        .collect();
    Some(ObservationView {
        status: o.status.to_string(),
        line,
        principals,
        access,
        caveats: o.caveats.clone(),
    })
}

/// Builds the view of one scenario.
fn scenario(number: usize, s: &ScenarioResult) -> ScenarioView {
    let start = s.start;
    let steps: Vec<StepView> = s.steps.iter().map(|st| step(st, start)).collect();
    let instants = evaluated_instants(s);
    let sm = &s.summary;
    let weighted_gap = s.principals.iter().map(|p| p.metrics.weighted_gap).sum();
    let over_privileged = s.principals.iter().filter(|p| p.metrics.unused > 0).count();
    let status = status_of(s.passed, s.findings.len());
    let expectations_met = sm.expectations.saturating_sub(sm.expectations_failed);
    let access_passed = sm.access_checks.saturating_sub(sm.access_failed);
    let mut parts = vec![format!(
        "{expectations_met} of {} {} met",
        sm.expectations,
        plural(sm.expectations, "expectation", "expectations")
    )];
    if sm.access_checks > 0 {
        parts.push(format!(
            "{access_passed} of {} access {} passed",
            sm.access_checks,
            plural(sm.access_checks, "check", "checks")
        ));
    }
    parts.push(findings_phrase(s.findings.len()));
    // Pairs accounting could not ask about are neither held nor unused, so
    // "used all it held" is said only of what could be checked.
    let unchecked = s
        .principals
        .iter()
        .filter(|p| !p.unchecked.is_empty())
        .count();
    if over_privileged == 0 {
        parts.push(format!(
            "every principal used all it held{} ({} {})",
            if unchecked > 0 {
                " that could be checked"
            } else {
                ""
            },
            s.principals.len(),
            plural(s.principals.len(), "principal", "principals")
        ));
    } else {
        parts.push(format!(
            "{over_privileged} of {} {} held unused privileges (weighted gap {weighted_gap})",
            s.principals.len(),
            plural(s.principals.len(), "principal", "principals")
        ));
    }
    if unchecked > 0 {
        parts.push(format!(
            "{unchecked} of {} {} could not be asked about some pairs (counted neither as held nor as unused)",
            s.principals.len(),
            plural(s.principals.len(), "principal", "principals")
        ));
    }
    let observation = observation(s);
    if let Some(o) = observation.as_ref().filter(|o| o.status == "evaluated") {
        parts.push(o.line.clone());
    }
    let mut summary = parts.join("; ");
    summary.push('.');
    if let Some(first) = summary.get(..1) {
        summary = first.to_uppercase() + &summary[1..];
    }

    let failed_expectations = s
        .steps
        .iter()
        .zip(&steps)
        .filter_map(|(st, view)| {
            let expectation = st.expectation.as_ref().filter(|e| !e.passed)?;
            Some(FailedExpectation {
                step: view.clone(),
                location: format!("{}:{}", s.file, st.line),
                expected: expected(expectation),
                failures: expectation.failures.clone(),
            })
        })
        .collect();
    let access: Vec<AccessView> = s
        .access
        .iter()
        .map(|a| AccessView {
            index: a.index,
            location: format!("{}:{}", s.file, a.line),
            line: a.line,
            time: a.time.to_string(),
            principal: a.principal.clone(),
            action: a.action.clone(),
            expected: a.expected.len(),
            allowed: a.allowed.len(),
            missing: a.missing.clone(),
            unexpected: a.unexpected.clone(),
            passed: a.passed,
        })
        .collect();
    let mut findings: Vec<FindingView> = s
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| finding(i + 1, f, s, &steps))
        .collect();
    // Expiry findings of one grant share their trace: show it once.
    let traces: Vec<(Vec<usize>, bool)> = findings
        .iter()
        .map(|f| {
            (
                f.trace.iter().map(|t| t.step.index).collect(),
                f.trace.iter().any(|t| t.is_finding),
            )
        })
        .collect();
    for (i, finding) in findings.iter_mut().enumerate() {
        let (trace, marked) = &traces[i];
        if trace.is_empty() || *marked {
            continue;
        }
        finding.trace_same_as = traces[..i]
            .iter()
            .position(|(earlier, earlier_marked)| earlier == trace && !earlier_marked)
            .map(|j| j + 1);
    }
    let junit = junit(s, &findings);
    let mut principals: Vec<PrincipalView> = s
        .principals
        .iter()
        .map(|p| principal(p, start, &instants))
        .collect();
    // Biggest gap first; the result model's order (by UID) breaks ties.
    principals.sort_by_key(|x| std::cmp::Reverse(x.weighted_gap));

    let mut live_policies = Vec::new();
    let mut dead_policies = Vec::new();
    let mut templates = Vec::new();
    let dead: BTreeSet<&str> = s.dead_policies.iter().map(String::as_str).collect();
    for usage in &s.policy_use {
        let view = PolicyView {
            id: usage.id.clone(),
            effect: usage.effect.to_string(),
            location: usage.location.clone(),
            count: usage.determined.len(),
            steps: join_numbers(&usage.determined),
        };
        if usage.effect == PolicyKind::Template {
            templates.push(view);
        } else if dead.contains(usage.id.as_str()) {
            dead_policies.push(view);
        } else {
            live_policies.push(view);
        }
    }
    // Most decisions first, then by id (the result's order).
    live_policies.sort_by_key(|x| std::cmp::Reverse(x.count));

    ScenarioView {
        number,
        anchor: format!("scenario-{number}"),
        name: s.name.clone(),
        file: s.file.clone(),
        policy_files: s.policy_files.clone(),
        start: s.start.to_string(),
        status,
        verdict: verdict(status).to_string(),
        icon: icon(status),
        summary,
        counts: Counts {
            steps: sm.steps,
            allowed: sm.allowed,
            denied: sm.denied,
            invalid: sm.invalid,
            with_errors: sm.with_errors,
            expectations: format!("{expectations_met}/{}", sm.expectations),
            access: format!("{access_passed}/{}", sm.access_checks),
            findings: s.findings.len(),
            principals: s.principals.len(),
            over_privileged,
        },
        failed_expectations,
        failed_access: access.iter().filter(|a| !a.passed).cloned().collect(),
        findings,
        principals,
        weighted_gap,
        suggestion: s.suggestion.as_ref().map(suggestion),
        live_policies,
        dead_policies,
        templates,
        observation,
        timeline: timeline(s, start),
        steps,
        access,
        warnings: s.warnings.clone(),
        search: s.search.as_ref().map(|x| search(x, s.findings.len())),
        never_rules: s.never_rules.iter().map(never_rule).collect(),
        junit,
    }
}

/// The verdict on one `[[never]]` rule, in words.
#[derive(Debug, Clone, Serialize)]
pub struct NeverRuleView {
    /// `file:line`.
    pub rule: String,
    /// "any Agent may never Action::\"export\" on any Record".
    pub description: String,
    /// The verdict's name (`proven-impossible`, ...).
    pub verdict: String,
    /// The verdict in words ([`never_verdict_label`]).
    pub label: &'static str,
    /// Why it is not proven, or how the environments went.
    pub detail: Option<String>,
    /// The whole rule in one line: where, what, verdict, detail.
    pub line: String,
}

/// The words of a never rule's verdict: one table for every report.
pub fn never_verdict_label(verdict: NeverVerdict) -> &'static str {
    match verdict {
        NeverVerdict::FoundByReplay => "found by the replay",
        NeverVerdict::FoundBySearch => "found by the search",
        NeverVerdict::RefutedByProof => {
            "refuted by proof: a world the schema allows breaks it (its finding has the counterexample, confirmed by Cedar)"
        }
        NeverVerdict::ProvenImpossible => "proven impossible in every world the schema allows",
        NeverVerdict::NotProven => "not found, not proven",
    }
}

/// What a rule forbids, in words: "any Agent may never ... on anything".
pub fn never_rule_description(rule: &NeverRuleResult) -> String {
    let pattern = |p: &Option<String>, anything: &str| match p {
        None => anything.to_string(),
        Some(text) if text.contains('"') => text.clone(),
        Some(type_name) => format!("any {type_name}"),
    };
    format!(
        "{} may never {} on {}",
        pattern(&rule.principal, "anyone"),
        rule.action.as_deref().unwrap_or("any action"),
        pattern(&rule.resource, "anything")
    )
}

/// A never rule's verdict in one line (text reports).
pub fn never_rule_line(rule: &NeverRuleResult) -> String {
    never_rule(rule).line
}

fn never_rule(rule: &NeverRuleResult) -> NeverRuleView {
    let environments = if rule.environments.is_empty() {
        None
    } else {
        let count = |v: ProofVerdict| rule.environments.iter().filter(|e| e.verdict == v).count();
        Some(format!(
            "{} request environment(s): {} proven, {} refuted, {} unknown",
            rule.environments.len(),
            count(ProofVerdict::Proven),
            count(ProofVerdict::Refuted),
            count(ProofVerdict::Unknown)
        ))
    };
    let detail = match (&rule.reason, environments) {
        (Some(reason), _) => Some(reason.clone()),
        (None, environments) => environments,
    };
    let description = never_rule_description(rule);
    let label = never_verdict_label(rule.verdict);
    let line = format!(
        "{} ({description}): {label}{}",
        rule.rule,
        detail
            .as_ref()
            .map(|d| format!("; {d}"))
            .unwrap_or_default()
    );
    NeverRuleView {
        rule: rule.rule.clone(),
        description,
        verdict: rule.verdict.to_string(),
        label,
        detail,
        line,
    }
}

/// The view of what the escalation search did.
fn search(x: &SearchSummary, findings: usize) -> SearchView {
    let outcome = search_outcome(x, findings);
    SearchView {
        line: format!(
            "strategy {}, seed {}: {} {} tried, {} distinct {}, max depth {}; {outcome}",
            x.strategy,
            x.seed,
            x.moves,
            if x.moves == 1 { "move" } else { "moves" },
            x.states,
            if x.states == 1 { "state" } else { "states" },
            x.max_depth,
        ),
        strategy: x.strategy.to_string(),
        seed: x.seed,
        moves: x.moves,
        states: x.states,
        max_depth: x.max_depth,
        exhaustive_depth: x.exhaustive_depth,
        budget_exhausted: x.budget_exhausted,
        interrupted: x.interrupted,
        caveats: x.caveats.clone(),
        outcome,
    }
}

/// What a search shows, in words, given how many findings it reported: `no
/// violation up to depth K (exhaustive)` (`no other violation …` with
/// findings) when every state up to K moves was explored, else `budget
/// exhausted: …` when the budget stopped it, else that it was not exhaustive.
/// With caveats, the proof is only over the moves tried, and it says so; the
/// caveats themselves are listed after it.
pub fn search_outcome(x: &SearchSummary, findings: usize) -> String {
    match x.exhaustive_depth {
        Some(depth) => {
            let other = if findings == 0 { "" } else { "other " };
            let over = if x.caveats.is_empty() {
                "exhaustive"
            } else {
                "exhaustive over the moves tried, with the moves listed below left out"
            };
            let mut text = format!("no {other}violation up to depth {depth} ({over})");
            if x.interrupted {
                text.push_str("; then the search was interrupted");
            } else if x.budget_exhausted {
                text.push_str("; then the budget was exhausted");
            }
            text
        }
        None if x.interrupted => {
            "interrupted: the search was stopped before its budget ran out, so nothing more is proven".to_string()
        }
        None if x.budget_exhausted => {
            "budget exhausted: the search was not exhaustive, so nothing more is proven".to_string()
        }
        None => "the search was not exhaustive, so nothing more is proven".to_string(),
    }
}

/// What an expectation asked for, e.g. `deny`, `allow by [a, b]`.
fn expected(expectation: &ExpectationResult) -> String {
    let mut text = expectation
        .decision
        .map(|d| d.to_string())
        .unwrap_or_default();
    if let Some(reason) = &expectation.reason {
        push_part(&mut text, format!("by [{}]", reason.join(", ")));
    }
    if let Some(reason) = &expectation.reason_includes {
        push_part(&mut text, format!("by at least [{}]", reason.join(", ")));
    }
    if let Some(errors) = &expectation.errors {
        push_part(&mut text, format!("errors in [{}]", errors.join(", ")));
    }
    if let Some(count) = expectation.error_count {
        push_part(&mut text, format!("{count} erroring policies"));
    }
    text
}

/// The scenario's expectations, access assertions and findings as JUnit cases.
fn junit(s: &ScenarioResult, findings: &[FindingView]) -> JunitSuite {
    let mut cases = Vec::new();
    for st in &s.steps {
        let Some(expectation) = &st.expectation else {
            continue;
        };
        let label = st
            .name
            .as_ref()
            .map(|n| format!(" \"{n}\""))
            .unwrap_or_default();
        let decided = if st.determining_policies.is_empty() {
            st.decision.to_string()
        } else {
            format!(
                "{} by [{}]",
                st.decision,
                st.determining_policies.join(", ")
            )
        };
        cases.push(JunitCase {
            name: format!(
                "step {}{label}: {} {} {} is {}",
                st.index,
                st.principal,
                st.action,
                st.resource,
                expected(expectation)
            ),
            kind: "expectation".to_string(),
            failure: !expectation.passed,
            message: expectation.failures.join("; "),
            details: format!(
                "{}:{}\nat {}\ndecided: {decided}\nexpected: {}\n{}",
                s.file,
                st.line,
                st.time,
                expected(expectation),
                expectation.failures.join("\n")
            ),
        });
    }
    for a in &s.access {
        cases.push(JunitCase {
            name: format!(
                "access #{}: {} {} at {} is exactly {} resource(s)",
                a.index,
                a.principal,
                a.action,
                a.time,
                a.expected.len()
            ),
            kind: "access".to_string(),
            failure: !a.passed,
            message: format!(
                "missing [{}], unexpected [{}]",
                a.missing.join(", "),
                a.unexpected.join(", ")
            ),
            details: format!(
                "{}:{}\nexpected: [{}]\nallowed: [{}]\nmissing: [{}]\nunexpected: [{}]",
                s.file,
                a.line,
                a.expected.join(", "),
                a.allowed.join(", "),
                a.missing.join(", "),
                a.unexpected.join(", ")
            ),
        });
    }
    for f in findings {
        let mut details = vec![f.message.clone()];
        for policy in &f.determining {
            details.push(format!(
                "allowed by {}{}",
                policy.id,
                policy
                    .location
                    .as_ref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default()
            ));
        }
        if let Some(rule) = &f.rule {
            details.insert(1, format!("rule: {rule}"));
        }
        if let Some(repro) = &f.repro {
            details.push(format!("repro: {repro}"));
        }
        if !f.moves.is_empty() {
            details.push(format!("search trace: {}", f.moves_summary));
            details.extend(f.moves.iter().map(|m| {
                if m.must_deny {
                    format!("{}  <- must be denied", m.line)
                } else {
                    m.line.clone()
                }
            }));
        }
        if f.trace_omitted > 0 {
            details.push(format!("({} earlier steps not shown)", f.trace_omitted));
        }
        for t in &f.trace {
            let st = &t.step;
            details.push(format!(
                "step {} {} {} {} {} -> {}{}{}",
                st.index,
                st.offset,
                st.principal,
                st.action,
                st.resource,
                st.decision,
                if st.determining.is_empty() {
                    String::new()
                } else {
                    format!(" by [{}]", st.determining.join(", "))
                },
                if t.is_finding { "  <- finding" } else { "" }
            ));
        }
        cases.push(JunitCase {
            name: format!(
                "finding {}: {}: {} {} {}",
                f.number, f.title, f.principal, f.action, f.resource
            ),
            kind: f.kind.clone(),
            failure: true,
            message: f.message.clone(),
            details: details.join("\n"),
        });
    }
    if findings.is_empty() {
        cases.push(JunitCase {
            name: "invariants: no findings".to_string(),
            kind: "invariants".to_string(),
            failure: false,
            message: String::new(),
            details: String::new(),
        });
    }
    // Attribute values: XML turns line breaks into spaces anyway; say so here.
    for case in &mut cases {
        case.name = one_line(&case.name);
        case.message = one_line(&case.message);
    }
    let path = s.file.replace('\\', "/");
    let stem = path
        .strip_suffix(".toml")
        .unwrap_or(&path)
        .trim_start_matches("./");
    let dotted = |text: &str| -> String {
        let dotted: String = text
            .chars()
            .map(|c| {
                if c == '/' || c.is_whitespace() {
                    '.'
                } else {
                    c
                }
            })
            .collect();
        let trimmed = dotted.trim_matches('.');
        if trimmed.is_empty() {
            "scenario".to_string()
        } else {
            trimmed.to_string()
        }
    };
    let package = stem
        .rsplit_once('/')
        .map_or("scenarios", |(folder, _)| folder);
    let simulated_start = s.start.to_string();
    JunitSuite {
        package: dotted(package),
        classname: dotted(stem),
        name: if s.name.trim().is_empty() {
            s.file.clone()
        } else {
            s.name.clone()
        },
        simulated_start,
        tests: cases.len(),
        failures: cases.iter().filter(|c| c.failure).count(),
        cases,
    }
}

fn one_line(text: &str) -> String {
    text.split(['\n', '\r', '\t']).collect::<Vec<_>>().join(" ")
}

fn push_part(text: &mut String, part: String) {
    if !text.is_empty() {
        text.push(' ');
    }
    text.push_str(&part);
}

fn step(st: &StepResult, start: Instant) -> StepView {
    let at = st.time;
    StepView {
        index: st.index,
        line: st.line,
        name: st.name.clone(),
        time: st.time.to_string(),
        at,
        offset: format!("+{}", duration(at.0 - start.0)),
        session: st.session.clone(),
        principal: st.principal.clone(),
        chain: st.delegation_chain.join(" → "),
        action: st.action.clone(),
        resource: st.resource.clone(),
        decision: st.decision.to_string(),
        determining: st.determining_policies.clone(),
        errors: st
            .errors
            .iter()
            .map(|e| match &e.policy {
                Some(policy) => format!("{policy}: {}", e.message),
                None => e.message.clone(),
            })
            .collect(),
        grants: st.active_grants.clone(),
        outcome: match &st.expectation {
            None => "",
            Some(e) if e.passed => "ok",
            Some(_) => "FAIL",
        },
        ceiling: st
            .delegation_ceiling
            .iter()
            .map(|c| format!("{}: {}", c.delegator, c.decision))
            .collect(),
        effects: st.effects.clone(),
    }
}

/// `file:line` split in two.
fn split_location(location: Option<&str>) -> (Option<String>, Option<usize>) {
    match location.and_then(|l| l.rsplit_once(':')) {
        Some((file, line)) => (Some(file.to_string()), line.parse().ok()),
        None => (None, None),
    }
}

fn policy_ref(id: &str, s: &ScenarioResult) -> PolicyRef {
    let location = s.policies.get(id).cloned();
    let (file, line) = split_location(location.as_deref());
    PolicyRef {
        id: id.to_string(),
        location,
        file,
        line,
    }
}

fn finding(number: usize, f: &Finding, s: &ScenarioResult, steps: &[StepView]) -> FindingView {
    let start = s.start;
    let at = f.time;
    let searched = !f.trace.is_empty();
    // The principal's steps up to the finding: up to its own step when a step
    // showed it, else up to its time. A finding of the search has its own
    // trace, in a world the scripted steps do not describe.
    let own: Vec<&StepView> = steps
        .iter()
        .filter(|_| !searched)
        .filter(|st| st.principal == f.principal)
        .filter(|st| match f.step {
            Some(index) => st.index <= index,
            None => st.at <= at,
        })
        .collect();
    let omitted = own.len().saturating_sub(TRACE_STEPS);
    let trace = own
        .iter()
        .skip(omitted)
        .map(|st| TraceStep {
            step: (*st).clone(),
            is_finding: Some(st.index) == f.step,
        })
        .collect();
    let place = match f.step {
        Some(index) => format!("step {index}"),
        None => f.time.to_string(),
    };
    let title = if searched {
        format!(
            "{} at {place}, after {} {}",
            f.kind,
            f.trace.len(),
            plural(f.trace.len(), "move", "moves")
        )
    } else {
        format!("{} at {place}", f.kind)
    };
    let moves = moves(f, start);
    let brief_omitted = moves.len().saturating_sub(TRACE_STEPS);
    let (rule_file, rule_line) = split_location(f.rule.as_deref());
    FindingView {
        number,
        kind: f.kind.to_string(),
        title,
        message: f.message.clone(),
        step: f.step,
        time: f.time.to_string(),
        principal: f.principal.clone(),
        delegator: f.delegator.clone(),
        grant: f.grant.clone(),
        action: f.action.clone(),
        resource: f.resource.clone(),
        determining: f
            .determining_policies
            .iter()
            .map(|id| policy_ref(id, s))
            .collect(),
        step_location: f
            .step
            .and_then(|index| s.steps.iter().find(|st| st.index == index))
            .map(|st| format!("{}:{}", s.file, st.line)),
        trace_omitted: omitted,
        trace_same_as: None,
        trace,
        rule: f.rule.clone(),
        rule_file,
        rule_line,
        repro: f.repro.clone(),
        moves_summary: if moves.is_empty() {
            String::new()
        } else {
            format!(
                "{} {} from the scenario's initial world; the last request is the one that must be denied",
                moves.len(),
                plural(moves.len(), "move", "moves")
            )
        },
        brief_moves: moves[brief_omitted..].to_vec(),
        brief_omitted,
        moves,
    }
}

/// The moves of a search finding's trace, as the reports show them; the last
/// request is marked as the one that must be denied.
pub fn moves(f: &Finding, start: Instant) -> Vec<MoveView> {
    let last_request = f.trace.iter().rposition(|m| m.kind == MoveKind::Request);
    f.trace
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let at = m.time;
            let context = m
                .context
                .as_ref()
                .filter(|c| match c {
                    serde_json::Value::Null => false,
                    serde_json::Value::Object(entries) => !entries.is_empty(),
                    _ => true,
                })
                .map(|c| serde_json::to_string(c).unwrap_or_default());
            let mut view = MoveView {
                number: i + 1,
                kind: m.kind.to_string(),
                is_request: m.kind == MoveKind::Request,
                time: m.time.to_string(),
                offset: format!("+{}", duration(at.0 - start.0)),
                session: m.session.clone(),
                principal: m.principal.clone(),
                action: m.action.clone(),
                resource: m.resource.clone(),
                context,
                decision: m.decision.map(|d| d.to_string()),
                effects: m.effects.clone(),
                must_deny: Some(i) == last_request,
                line: String::new(),
            };
            view.line = move_line(&view);
            view
        })
        .collect()
}

/// A move in one line, e.g. ``move 2 at 2026-06-01T09:05:00Z (+5m): session
/// `s`, Agent::"a" Action::"read" Doc::"d", context {"k":1} -> allow;
/// effects: …``.
fn move_line(m: &MoveView) -> String {
    let mut text = format!("move {} at {} ({}): ", m.number, m.time, m.offset);
    if m.is_request {
        let mut parts = Vec::new();
        if let Some(session) = &m.session {
            parts.push(format!("session `{session}`"));
        }
        let request: Vec<&str> = [&m.principal, &m.action, &m.resource]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if !request.is_empty() {
            parts.push(request.join(" "));
        }
        if let Some(context) = &m.context {
            parts.push(format!("context {context}"));
        }
        text.push_str(&parts.join(", "));
        if let Some(decision) = &m.decision {
            text.push_str(&format!(" -> {decision}"));
        }
    } else if m.kind == "advance" {
        text.push_str("the clock advances");
    } else {
        text.push_str(&m.kind);
    }
    if !m.effects.is_empty() {
        text.push_str(&format!("; effects: {}", m.effects.join("; ")));
    }
    one_line(&text)
}

fn principal(p: &PrincipalAccount, start: Instant, instants: &[Instant]) -> PrincipalView {
    let m = &p.metrics;
    let mut unused_actions: Vec<UnusedActionView> = p
        .unused_actions
        .iter()
        .map(|u| UnusedActionView {
            action: u.action.clone(),
            pairs: u.pairs,
            weight: u.weight,
            gap: u.weight.saturating_mul(u.pairs as u64),
        })
        .collect();
    unused_actions.sort_by_key(|x| std::cmp::Reverse(x.gap));
    let mut unused_scope: Vec<UnusedScopeView> = p
        .unused_scope
        .iter()
        .map(|u| UnusedScopeView {
            action: u.action.clone(),
            weight: u.weight,
            resources: u.resources.clone(),
            count: u.resources.len(),
            gap: u.weight.saturating_mul(u.resources.len() as u64),
        })
        .collect();
    unused_scope.sort_by_key(|x| std::cmp::Reverse(x.gap));
    let mut standing: Vec<_> = p.standing_time.iter().collect();
    standing.sort_by_key(|x| std::cmp::Reverse(x.standing_ms));
    let standing_time: Vec<StandingView> = standing
        .into_iter()
        .map(|st| StandingView {
            action: st.action.clone(),
            resource: st.resource.clone(),
            held: duration(st.held_ms),
            held_window: {
                let last = st.last_held;
                let until = instants
                    .iter()
                    .copied()
                    .find(|&at| at > last)
                    .unwrap_or(last);
                window(st.first_held, until, start)
            },
            used_window: window(st.first_used, st.last_used, start),
            standing: duration(st.standing_ms),
        })
        .collect();
    let delegation_excess: Vec<ExcessView> = p
        .delegation_excess
        .iter()
        .map(|d| ExcessView {
            action: d.action.clone(),
            resource: d.resource.clone(),
            delegator: d.delegator.clone(),
        })
        .collect();
    PrincipalView {
        principal: p.principal.clone(),
        sessions: p.sessions.clone(),
        held: m.held,
        used: m.used,
        unused: m.unused,
        utilization: percent(m.utilization),
        weighted_gap: m.weighted_gap,
        has_excess: !(unused_actions.is_empty()
            && unused_scope.is_empty()
            && standing_time.is_empty()
            && delegation_excess.is_empty()),
        unused_actions,
        unused_scope,
        standing_time,
        delegation_excess,
    }
}

fn window(first: Instant, last: Instant, start: Instant) -> String {
    let offset = |at: Instant| format!("+{}", duration(at.0 - start.0));
    if first == last {
        offset(first)
    } else {
        format!("{} – {}", offset(first), offset(last))
    }
}

fn suggestion(s: &ScenarioSuggestion) -> SuggestionView {
    let status = match s.status {
        Status::Verified => "verified",
        Status::Failed => "failed",
        Status::Refused => "refused",
    };
    let principals: Vec<SuggestedPrincipal> = s
        .principals
        .iter()
        .map(|p| SuggestedPrincipal {
            principal: p.principal.clone(),
            right_sized: p.right_sized,
            left_out: p.left_out,
            before: metrics_line(&p.before),
            after: p.after.as_ref().map(metrics_line).unwrap_or_default(),
            policies: p.policies.iter().map(|policy| policy.id.clone()).collect(),
        })
        .collect();
    let before_held: usize = s.principals.iter().map(|p| p.before.held).sum();
    let before_gap: u64 = s.principals.iter().map(|p| p.before.weighted_gap).sum();
    let after_held: usize = s
        .principals
        .iter()
        .filter_map(|p| p.after.as_ref())
        .map(|m| m.held)
        .sum();
    let after_gap: u64 = s
        .principals
        .iter()
        .filter_map(|p| p.after.as_ref())
        .map(|m| m.weighted_gap)
        .sum();
    let line = match s.status {
        Status::Verified => format!(
            "Verified by replay: held pairs {before_held} → {after_held}, weighted gap {before_gap} → {after_gap}; every step keeps its intended decision and no principal gains access."
        ),
        Status::Failed => {
            "A suggestion was made but failed verification; do not use it.".to_string()
        }
        Status::Refused => {
            "No suggestion: the candidate fails expectations that only more access could fix."
                .to_string()
        }
    };
    let mut failures = Vec::new();
    for check in [&s.workflow, &s.validation].into_iter().flatten() {
        failures.extend(check.failures.iter().cloned());
    }
    for p in &s.principals {
        if let Some(v) = &p.verification {
            for check in [&v.workflow, &v.no_new_access, &v.exact] {
                failures.extend(
                    check
                        .failures
                        .iter()
                        .map(|f| format!("{}: {f}", p.principal)),
                );
            }
        }
    }
    failures.dedup();
    SuggestionView {
        status,
        line,
        refusals: s.refusals.clone(),
        repairs: s.repairs.clone(),
        notes: s.notes.clone(),
        kept: s.kept.clone(),
        narrowed: s.narrowed.clone(),
        replaced: s.replaced.clone(),
        principals,
        failures,
        fence: fence(&s.policies),
        policies: s.policies.trim_end().to_string(),
    }
}

fn metrics_line(m: &privsim_model::result::Metrics) -> String {
    format!(
        "held {}, used {}, {} utilization, weighted gap {}",
        m.held,
        m.used,
        percent(m.utilization),
        m.weighted_gap
    )
}

/// A Markdown code fence of backticks, longer than any run of backticks in `text`.
pub fn fence(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// One row's data before layout.
struct RowData {
    title: String,
    used: bool,
    /// Exact intervals `[from, until)`, and envelopes of intermittent holds.
    exact: Vec<(Instant, Instant)>,
    intermittent: Vec<(Instant, Instant, i64)>,
    /// Which (action, resource) pairs the row covers.
    pairs: BTreeSet<(String, String)>,
}

/// Lays out what each principal held over time: one row per held pair (or per
/// action, for principals holding many), a bar for each span it was held, a
/// mark for each of its steps on that pair and for each finding.
fn timeline(s: &ScenarioResult, start: Instant) -> Option<Timeline> {
    if s.principals.iter().all(|p| p.held.is_empty()) {
        return None;
    }
    let instants = evaluated_instants(s);
    let step_times: Vec<Instant> = s.steps.iter().map(|st| st.time).collect();
    let end = instants
        .iter()
        .chain(&step_times)
        .copied()
        .max()
        .unwrap_or(start)
        .max(start);
    // An empty span still gets a visible axis.
    let span = (end.0 - start.0).max(1);
    // Everything drawn at a time of its own: the axis breaks only where
    // none of these falls.
    let events: Vec<i64> = instants
        .iter()
        .chain(&step_times)
        .copied()
        .chain(
            s.findings
                .iter()
                .filter(|f| f.trace.is_empty())
                .map(|f| f.time),
        )
        .map(|at| at.0 - start.0)
        .collect();
    let axis = Axis::new(span, &events);
    let x_of = |at: Instant| -> i64 { axis.x((at.0 - start.0).clamp(0, span)) };

    let mut groups = Vec::new();
    let mut y = AXIS_HEIGHT + 8;
    for p in &s.principals {
        if p.held.is_empty() {
            continue;
        }
        let used: BTreeSet<(&str, &str)> = p
            .used
            .iter()
            .map(|u| (u.action.as_str(), u.resource.as_str()))
            .collect();
        let by_action = p.held.len() > TIMELINE_ROWS_PER_PAIR;
        let mut rows: BTreeMap<String, RowData> = BTreeMap::new();
        for held in &p.held {
            let key = if by_action {
                held.action.clone()
            } else {
                format!("{} {}", held.action, held.resource)
            };
            let row = rows.entry(key).or_insert_with(|| RowData {
                title: String::new(),
                used: false,
                exact: Vec::new(),
                intermittent: Vec::new(),
                pairs: BTreeSet::new(),
            });
            row.used |= used.contains(&(held.action.as_str(), held.resource.as_str()));
            row.pairs
                .insert((held.action.clone(), held.resource.clone()));
            match held_interval(held, &instants) {
                Held::Exact(from, until) => row.exact.push((from, until)),
                Held::Intermittent(from, until) => {
                    row.intermittent.push((from, until, held.held_ms));
                }
            }
        }
        for (key, row) in &mut rows {
            row.title = if by_action {
                format!(
                    "{key} on {} {}",
                    row.pairs.len(),
                    plural(row.pairs.len(), "resource", "resources")
                )
            } else {
                key.clone()
            };
        }
        // Used rows first, then unused; each group in the result's order.
        let mut ordered: Vec<RowData> = rows.into_values().collect();
        ordered.sort_by_key(|r| !r.used);
        let group_y = y + 14;
        y += ROW_HEIGHT + 2;
        let mut row_views = Vec::new();
        for row in ordered {
            let top = y;
            y += ROW_HEIGHT;
            let mut bars = Vec::new();
            for (from, until) in merge(row.exact) {
                bars.push(Bar {
                    x: x_of(from),
                    width: (x_of(until) - x_of(from)).max(2),
                    class: "held",
                    title: format!("held {} – {} ({})", from, until, duration(until.0 - from.0)),
                });
            }
            for (from, until, millis) in row.intermittent {
                bars.push(Bar {
                    x: x_of(from),
                    width: (x_of(until) - x_of(from)).max(2),
                    class: "intermittent",
                    title: format!(
                        "held for {} in all, at times between {} and {}",
                        duration(millis),
                        from,
                        until
                    ),
                });
            }
            let mut marks = Vec::new();
            for (st, &at) in s.steps.iter().zip(&step_times) {
                if st.principal == p.principal
                    && row
                        .pairs
                        .contains(&(st.action.clone(), st.resource.clone()))
                {
                    let class = st.decision.as_str();
                    marks.push(Mark {
                        x: x_of(at),
                        path: mark_path(class, x_of(at), top + ROW_HEIGHT / 2),
                        class,
                        title: format!(
                            "step {} at {}: {} {} → {}",
                            st.index, st.time, st.action, st.resource, st.decision
                        ),
                    });
                }
            }
            // A finding of the search happened in a world of its own trace,
            // not on this timeline of the scripted steps.
            for (i, f) in s.findings.iter().enumerate() {
                if f.trace.is_empty()
                    && f.principal == p.principal
                    && row.pairs.contains(&(f.action.clone(), f.resource.clone()))
                {
                    let x = x_of(f.time);
                    marks.push(Mark {
                        x,
                        path: mark_path("finding", x, top + ROW_HEIGHT / 2),
                        class: "finding",
                        title: format!("finding {}: {}", i + 1, f.message),
                    });
                }
            }
            row_views.push(TimelineRow {
                label: cut(&row.title),
                title: row.title,
                y: top,
                text_y: top + 14,
                bar_y: top + 4,
                bar_height: ROW_HEIGHT - 8,
                mark_y: top + ROW_HEIGHT / 2,
                class: if row.used { "used" } else { "unused" },
                bars,
                marks,
            });
        }
        groups.push(TimelineGroup {
            label: cut(&p.principal),
            y: group_y,
            rows: row_views,
        });
        y += 6;
    }
    // Ticks at round offsets of the busy stretches (their spacing chosen
    // from the drawn length), none inside a break, and one where each
    // break ends so the time after it reads at once; a tick too close to
    // the previous one is left out.
    let step = tick_step(axis.drawn);
    // Multiples of the step within each busy stretch only: few, however
    // long the breaks are.
    let mut stretches = Vec::new();
    let mut from = 0;
    for &(gap_from, gap_to) in &axis.gaps {
        stretches.push((from, gap_from));
        from = gap_to;
    }
    stretches.push((from, span));
    let mut offsets: Vec<i64> = stretches
        .iter()
        .flat_map(|&(from, to)| {
            let first = (from + step - 1) / step;
            (first..=to / step).map(move |i| i * step)
        })
        .collect();
    offsets.retain(|&offset| !axis.in_break(offset));
    offsets.extend(axis.gaps.iter().map(|&(_, to)| to));
    offsets.sort_unstable();
    offsets.dedup();
    let mut ticks: Vec<Tick> = Vec::new();
    for offset in offsets {
        let x = x_of(Instant(start.0 + offset));
        let after_break = axis.gaps.iter().any(|&(_, to)| to == offset);
        if let Some(last) = ticks.last()
            && x - last.x < 44
        {
            if !after_break {
                continue;
            }
            ticks.pop();
        }
        ticks.push(Tick {
            x,
            label: format!("+{}", duration(offset)),
        });
    }
    let breaks: Vec<AxisBreak> = axis
        .gaps
        .iter()
        .map(|&(from, to)| {
            let (left, right) = (x_of(Instant(start.0 + from)), x_of(Instant(start.0 + to)));
            let middle = (left + right) / 2;
            AxisBreak {
                x: left,
                width: (right - left).max(2),
                path: format!(
                    "M {} {} l 6 -12 M {} {} l 6 -12",
                    middle - 6,
                    AXIS_HEIGHT + 6,
                    middle,
                    AXIS_HEIGHT + 6
                ),
                title: format!(
                    "axis broken: {} with nothing to show (+{} to +{}) drawn narrow",
                    duration(to - from),
                    duration(from),
                    duration(to)
                ),
            }
        })
        .collect();
    let broken = if breaks.is_empty() {
        String::new()
    } else {
        let gaps: Vec<String> = axis
            .gaps
            .iter()
            .map(|&(from, to)| format!("+{} to +{}", duration(from), duration(to)))
            .collect();
        format!(
            " The axis is broken (shaded, ⫽) where nothing happened for long: {} drawn narrow, so each principal's activity around it stays readable.",
            gaps.join(", ")
        )
    };
    Some(Timeline {
        width: LABEL_WIDTH + PLOT_WIDTH + 20,
        height: y + 4,
        plot_x: LABEL_WIDTH,
        plot_end: LABEL_WIDTH + PLOT_WIDTH,
        axis_y: AXIS_HEIGHT,
        tick_label_y: AXIS_HEIGHT - 8,
        ticks,
        groups,
        breaks,
        caption: format!(
            "Simulated time from {start} (+0) to {end} (+{}). Bars: when a pair was held (blue: used by the principal, orange: never used; hatched: held only part of that span). Marks: the principal's steps on that pair (● allowed, ✕ denied) and findings (◆).{broken}",
            duration(end.0 - start.0)
        ),
    })
}

/// The SVG path of a mark centred at (x, y).
fn mark_path(class: &str, x: i64, y: i64) -> String {
    match class {
        // A ring: two half circles.
        "allow" => format!("M {} {y} a 4 4 0 1 0 8 0 a 4 4 0 1 0 -8 0", x - 4),
        "finding" => format!("M {x} {} l 6 7 l -6 7 l -6 -7 z", y - 7),
        _ => format!("M {} {} l 8 8 m 0 -8 l -8 8", x - 4, y - 4),
    }
}

/// The instants at which held sets were evaluated.
fn evaluated_instants(s: &ScenarioResult) -> Vec<Instant> {
    s.accounting
        .as_ref()
        .map(|a| a.evaluated_instants.clone())
        .unwrap_or_default()
}

/// When a pair was held, as far as the result tells.
enum Held {
    /// Held throughout `[from, until)`.
    Exact(Instant, Instant),
    /// Held for part of `[from, until)` only.
    Intermittent(Instant, Instant),
}

/// A pair held at evaluated instants counts as held until the next one
/// (docs/json-contract.md). When its total equals the whole span from its
/// first to the instant after its last, it was held throughout; otherwise
/// there were gaps the result does not list.
fn held_interval(held: &HeldPair, instants: &[Instant]) -> Held {
    let first = held.first_held;
    let last = held.last_held;
    let until = instants
        .iter()
        .copied()
        .find(|&at| at > last)
        .unwrap_or(last);
    if until.0 - first.0 == held.held_ms {
        Held::Exact(first, until)
    } else {
        Held::Intermittent(first, until)
    }
}

/// Joins overlapping or touching intervals.
fn merge(mut intervals: Vec<(Instant, Instant)>) -> Vec<(Instant, Instant)> {
    intervals.sort();
    let mut merged: Vec<(Instant, Instant)> = Vec::new();
    for (from, until) in intervals {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(until),
            _ => merged.push((from, until)),
        }
    }
    merged
}

/// Tick offsets: a round step giving at most eight ticks over the span.
fn tick_step(span: i64) -> i64 {
    const STEPS: [i64; 16] = [
        1_000,
        5_000,
        15_000,
        60_000,
        2 * 60_000,
        5 * 60_000,
        10 * 60_000,
        15 * 60_000,
        30 * 60_000,
        3_600_000,
        2 * 3_600_000,
        6 * 3_600_000,
        12 * 3_600_000,
        86_400_000,
        7 * 86_400_000,
        30 * 86_400_000,
    ];
    STEPS
        .iter()
        .copied()
        .find(|&step| span / step <= 8)
        .unwrap_or_else(|| (span / 8).max(1))
}

/// A label cut to [`LABEL_CHARS`] characters in the middle, so that both the
/// action and the end of the resource id (where ids usually differ) stay.
fn cut(label: &str) -> String {
    let chars: Vec<char> = label.chars().collect();
    if chars.len() <= LABEL_CHARS {
        return label.to_string();
    }
    let head = (LABEL_CHARS - 1) / 2;
    let tail = LABEL_CHARS - 1 - head;
    let mut text: String = chars[..head].iter().collect();
    text.push('…');
    text.extend(&chars[chars.len() - tail..]);
    text
}
