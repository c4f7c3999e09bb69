//! The gate's result model: what `privsim check` found, as plain serializable
//! data. It is the JSON contract of `privsim check --format json`
//! (`docs/check.md`) and the only thing the gate's reports read.

use serde::{Deserialize, Serialize};

use crate::closed::closed_set;
pub use crate::proof::{EnvProof, PolicyRef, ProofCounterexample, ProofVerdict, Side};
use crate::result::{Finding, Metrics, SearchStrategy, SearchSummary};
use crate::time::Instant;

/// The version tag of the gate's JSON contract; bumped on any incompatible change.
pub const FORMAT: &str = "privsim-check/1";

/// Everything one `privsim check` found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckResult {
    /// Always [`FORMAT`].
    pub format: String,
    /// Whether the gate passed: no change fails it and no exception is stale.
    pub passed: bool,
    /// The baseline policies.
    pub baseline: SpecView,
    /// The candidate policies.
    pub candidate: SpecView,
    /// The rules the gate applied.
    pub config: ConfigView,
    /// Counts.
    pub summary: CheckSummary,
    /// One entry per scenario, in the order they were given.
    pub scenarios: Vec<ScenarioCheck>,
    /// Every `[[exception]]` of the configuration, in file order, with what became of it.
    pub exceptions: Vec<ExceptionStatus>,
    /// The proofs: whether they ran, and the verdicts counted (absent when
    /// they were turned off).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub proofs: Option<ProofsView>,
    /// Scenario files that could not be loaded on one side or the other, so
    /// were not compared (the gate then fails and the run exits 2); absent
    /// when every file loaded.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub load_errors: Vec<crate::result::LoadError>,
    /// Per policy the change added, changed or removed: the scenarios whose
    /// requests it decided (none: an `unexercised-change`). Absent when no
    /// policy changed.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub coverage: Vec<PolicyCoverage>,
    /// The gate configuration differs from the baseline's (with a `git:`
    /// baseline and no `--config`); absent when it does not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub config_change: Option<ConfigChange>,
    /// The check ran out of its time budget (`--time-budget`): what it did
    /// not check, or checked only in part. Absent when it finished in time
    /// or had no budget.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub budget_exhausted: Option<BudgetExhausted>,
}

/// What a check that ran out of time left out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BudgetExhausted {
    /// The budget, as given (`10m`).
    pub budget: String,
    /// `fail`, or `allowed` (`[fail_on] time_budget = false`).
    pub status: RuleStatus,
    /// Scenario files not checked at all.
    pub not_checked: Vec<String>,
    /// Scenario files compared, but with the search or proofs stopped by
    /// the budget.
    pub cut_short: Vec<String>,
    /// One sentence.
    pub message: String,
}

/// A policy the change touched, and which scenarios exercised it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolicyCoverage {
    /// The policy id (the candidate's; the baseline's for a removed policy).
    pub id: String,
    /// Where it is defined, `file:line`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
    /// `added`, `changed` (same id, different effect, scope or conditions)
    /// or `removed`.
    pub change: Edit,
    /// `permit` or `forbid`.
    pub effect: Effect,
    /// The scenario files in which it decided at least one request (a step,
    /// a request of the held sets, a move of the search), with the candidate
    /// (with the baseline for a removed policy); empty: no scenario reached it.
    pub exercised_by: Vec<String>,
}

/// A change of the gate configuration against the baseline revision's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConfigChange {
    /// The configuration file in the working tree.
    pub file: String,
    /// The baseline revision it was compared with.
    pub revision: String,
    /// `changed`, `added` (the baseline has none) or `removed`.
    pub change: Edit,
    /// `fail` (the baseline's rules fail the gate on it) or `allowed`
    /// (`[fail_on] config_change = false` at the baseline).
    pub status: RuleStatus,
    /// One sentence.
    pub message: String,
}

/// What the proof step of a check did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProofsView {
    /// `ran`, or `skipped` (no solver was found and `--prove` was not given).
    pub status: ProofsStatus,
    /// When skipped: the caveat every report prints.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub caveat: Option<String>,
    /// The solver, as `cvc5 --version` names itself.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub solver: Option<String>,
    /// The time limit per solver query, in milliseconds.
    pub timeout_ms: u64,
    /// Request environments proven (both directions counted).
    pub proven: usize,
    /// Request environments refuted with a counterexample Cedar confirmed.
    pub refuted: usize,
    /// Request environments not proven: time limit, solver error, an
    /// unconfirmed counterexample, or input the symbolic compiler rejects.
    pub unknown: usize,
    /// Scenarios without a schema (nothing to quantify over: not proven).
    pub scenarios_without_schema: usize,
}

/// The caveat of a check whose proofs were skipped for want of a solver.
pub const NO_SOLVER_CAVEAT: &str =
    "proofs skipped: no cvc5 solver found (set $CVC5 or install cvc5)";

/// The proofs of one scenario, per request environment of its schema.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScenarioProofs {
    /// Why nothing was proven (the scenario has no schema).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub skipped: Option<String>,
    /// The candidate allows nothing the baseline denies, per environment of
    /// the candidate's schema (`check_implies(candidate, baseline)`).
    pub no_new_access: Vec<EnvProof>,
    /// The baseline allows nothing the candidate denies (reported, never
    /// failing by default: a refutation is access the change removes).
    pub lost_access: Vec<EnvProof>,
    /// When the two sides' schemas differ (a `git:` baseline reads the
    /// schema at its revision): what that does to the request environments.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub schema_change: Option<ProofSchemaChange>,
}

/// How a schema change moves the proofs' request environments.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProofSchemaChange {
    /// Environments (`Principal / Action::"a" / Resource`) only the
    /// candidate's schema has: any access the candidate allows there is new.
    pub only_candidate: Vec<String>,
    /// Environments only the baseline's schema has: nothing can be newly
    /// allowed there (access there is lost, see `lost_access`).
    pub only_baseline: Vec<String>,
    /// One sentence.
    pub message: String,
}

/// Which policies one side of the comparison evaluated.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SpecView {
    /// As given on the command line (`git:origin/main`, a path), or `scenario`
    /// for each scenario's own policies.
    pub spec: String,
    /// For `git:` specs: the commit the revision named.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub commit: Option<String>,
}

/// The gate's rules as applied (the configuration file's, or the defaults).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConfigView {
    /// The configuration file, as given (absent: the built-in defaults).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    /// Which kinds of change fail the gate.
    pub fail_on: FailOn,
    /// Per-principal limits on metric changes.
    pub budget: Budget,
    /// The escalation search run on both sides.
    pub search: SearchConfig,
}

/// Which kinds of change fail the gate (`[fail_on]`); other crates start
/// from `FailOn::default()`, and a rule is added with each kind of change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailOn {
    /// A principal holds a pair it did not hold with the baseline.
    pub new_access: bool,
    /// With `new_access`: also when a step of the scenario expects that access
    /// (`expect = "allow"`). `false` lets such a step acknowledge it.
    pub new_access_expected: bool,
    /// A step the baseline allowed is denied (and does not expect that).
    pub broken_workflow: bool,
    /// An invariant finding (replay or search) the baseline did not have.
    pub new_escalation: bool,
    /// A step expectation or access assertion fails with the candidate.
    pub failed_expectation: bool,
    /// With `failed_expectation`: also when that expectation failed with the
    /// baseline too. `false` reports such failures without failing the gate,
    /// so it fails only on new ones. Written only when off.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub failed_expectation_on_baseline: bool,
    /// A principal no longer holds a pair, holds it for less time, or a step
    /// is now denied as expected.
    pub narrowed: bool,
    /// A principal holds a pair it held with the baseline for longer
    /// (e.g. a just-in-time window that grew, or a grant that no longer ends).
    #[serde(default = "yes")]
    pub held_longer: bool,
    /// A proof refutes no-new-access: some request in some world the schema
    /// allows is allowed by the candidate and denied by the baseline. Written
    /// only when off (absent: on), so checks without proofs keep their JSON.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub new_access_proven: bool,
    /// The change edits `privsim-gate.toml` (with a `git:` baseline, whose
    /// rules apply): the baseline's rules decide whether that may pass.
    /// Written only when off.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub config_change: bool,
    /// A policy the change added, changed or removed decided no request of
    /// any scenario (no step, held set or search move reached it). Written
    /// only when off.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub unexercised_change: bool,
    /// The check ran out of its `--time-budget` before checking everything.
    /// Written only when off.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub time_budget: bool,
    /// A candidate policy is proven never to apply in any request the schema
    /// allows, and was not so with the baseline. Written only when on.
    #[serde(default, skip_serializing_if = "is_false")]
    pub policy_never_applies: bool,
    /// A candidate permit is proven redundant (everything it allows, other
    /// permits allow), newly. Written only when on.
    #[serde(default, skip_serializing_if = "is_false")]
    pub policy_redundant: bool,
    /// A candidate permit is proven never to grant anything (the forbids
    /// always override it), newly. Written only when on.
    #[serde(default, skip_serializing_if = "is_false")]
    pub policy_never_grants: bool,
    /// A candidate policy errors on some request the schema allows (a
    /// counterexample Cedar confirmed), newly: an erring forbid forbids
    /// nothing. Written only when off.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub policy_may_error: bool,
}

pub(crate) fn is_false(value: &bool) -> bool {
    !*value
}

fn is_true(value: &bool) -> bool {
    *value
}

fn yes() -> bool {
    true
}

impl Default for FailOn {
    fn default() -> Self {
        Self {
            new_access: true,
            new_access_expected: true,
            broken_workflow: true,
            new_escalation: true,
            failed_expectation: true,
            failed_expectation_on_baseline: true,
            narrowed: false,
            held_longer: true,
            new_access_proven: true,
            config_change: true,
            unexercised_change: true,
            time_budget: true,
            policy_never_applies: false,
            policy_redundant: false,
            policy_never_grants: false,
            policy_may_error: true,
        }
    }
}

/// Per-principal limits (`[budget]`); absent means no limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Budget {
    /// The weighted gap may grow by at most this much.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub weighted_gap_growth: Option<u64>,
    /// Utilization (0 to 1) may drop by at most this much.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub utilization_drop: Option<f64>,
}

/// The escalation search's budget (`[search]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SearchConfig {
    /// Whether the search runs at all.
    pub enabled: bool,
    /// `random`, `novelty` or `exhaustive`.
    pub strategy: SearchStrategy,
    /// The seed.
    pub seed: u64,
    /// At most this many moves per scenario and side.
    pub max_steps: u64,
    /// The longest trace, in state-changing moves.
    pub depth: usize,
    /// An extra clock move, e.g. `1h`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tick: Option<String>,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            strategy: SearchStrategy::Exhaustive,
            seed: 0,
            max_steps: 5_000,
            depth: 4,
            tick: None,
        }
    }
}

/// Counts over the whole check.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CheckSummary {
    /// Scenarios checked.
    pub scenarios: usize,
    /// Scenarios with a failing change.
    pub failed_scenarios: usize,
    /// Changes found.
    pub changes: usize,
    /// Changes that fail the gate.
    pub failures: usize,
    /// Changes an exception accepted.
    pub excepted: usize,
    /// Exceptions that matched nothing.
    pub stale_exceptions: usize,
    /// Policies the change added, changed or removed that no scenario's
    /// request reached (written only when some are).
    #[serde(skip_serializing_if = "is_zero", default)]
    pub unexercised_changes: usize,
}

fn is_zero(value: &usize) -> bool {
    *value == 0
}

/// The comparison for one scenario.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScenarioCheck {
    /// The scenario's name.
    pub name: String,
    /// The scenario file, as given.
    pub file: String,
    /// The simulated clock's start (RFC 3339, UTC).
    pub start: Instant,
    /// Whether no change of this scenario fails the gate.
    pub passed: bool,
    /// The policy files of the baseline, in order.
    pub baseline_policy_files: Vec<String>,
    /// The policy files of the candidate, in order.
    pub candidate_policy_files: Vec<String>,
    /// Things a reviewer should know about the comparison (one sentence each).
    pub notes: Vec<String>,
    /// The changes, failing first.
    pub changes: Vec<Change>,
    /// Metrics per principal, sorted by principal.
    pub principals: Vec<PrincipalDelta>,
    /// What the escalation search did on each side (absent when it was off).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub search: Option<SearchPair>,
    /// The proofs (absent when they did not run).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub proofs: Option<ScenarioProofs>,
    /// The verdict on each `[[never]]` rule with the candidate policies
    /// (when proofs were asked for); a rule refuted by proof with the
    /// candidate and not broken with the baseline is a `new-escalation`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub never_rules: Vec<crate::result::NeverRuleResult>,
    /// The candidate's policies with a hygiene problem or an unanswered
    /// hygiene question, proven over every request the schema allows
    /// (absent when proofs did not run or no policy has one).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub hygiene: Vec<PolicyHygiene>,
}

/// What the hygiene proofs found about one candidate policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PolicyHygiene {
    /// The policy id (a template link's id for a link).
    pub id: String,
    /// Where it is defined, `file:line`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
    /// `permit` or `forbid`.
    pub effect: Effect,
    /// The problems proven.
    pub issues: Vec<HygieneIssue>,
    /// Of `issues`, those the baseline's policy of the same id has too
    /// (they are reported, never a change).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub on_baseline: Vec<HygieneIssue>,
    /// Questions with no definite answer, one sentence each (the issue, the
    /// request environment and why).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub unknown: Vec<String>,
}

closed_set! {
    /// A hygiene problem of a policy, proven over every request the schema
    /// allows; the change a new one makes is [`HygieneIssue::change`].
    pub enum HygieneIssue ("hygiene issue") {
        /// The policy applies to no request.
        NeverApplies = "never-applies",
        /// Everything the permit allows, other permits allow.
        Redundant = "redundant",
        /// The forbids always override the permit.
        NeverGrants = "never-grants",
        /// The policy errs on some request.
        MayError = "may-error",
    }
}

impl HygieneIssue {
    /// The kind of change a new problem of this kind makes (`policy-` and its name).
    pub const fn change(self) -> ChangeKind {
        match self {
            Self::NeverApplies => ChangeKind::PolicyNeverApplies,
            Self::Redundant => ChangeKind::PolicyRedundant,
            Self::NeverGrants => ChangeKind::PolicyNeverGrants,
            Self::MayError => ChangeKind::PolicyMayError,
        }
    }
}

/// The search summaries of both sides.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SearchPair {
    /// With the baseline policies.
    pub baseline: SearchSummary,
    /// With the candidate policies.
    pub candidate: SearchSummary,
}

/// One difference between baseline and candidate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Change {
    /// `new-escalation`, `new-access-proven`, `new-access`, `held-longer`,
    /// `broken-workflow`, `expectation-failed`, `weighted-gap-growth`, `utilization-drop`,
    /// `narrowed`, `held-shorter`, `narrowed-proven`, `fixed-escalation`,
    /// `unexercised-change` (a policy the change touched that no scenario's
    /// request reached; its `candidate` is `added`, `changed` or `removed`),
    /// or a hygiene problem the candidate's policy has and the baseline's did
    /// not: `policy-never-applies`, `policy-redundant`, `policy-never-grants`,
    /// `policy-may-error`.
    pub kind: ChangeKind,
    /// `fail` (fails the gate), `excepted` (would fail; an exception accepts
    /// it) or `info` (the gate's rules let it pass).
    pub status: ChangeStatus,
    /// The principal concerned.
    pub principal: String,
    /// The action, when the change is about one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub action: Option<String>,
    /// The resource, when the change is about one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resource: Option<String>,
    /// The 1-based step, for a change of a step's decision or expectation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub step: Option<usize>,
    /// For `new-access`: the steps the baseline denied and the candidate allows.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub steps: Vec<usize>,
    /// For `new-access`: a step of the scenario expects the access (`expect = "allow"`).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub expected: bool,
    /// Simulated time: when a new pair was first held (or a removed one last
    /// held), or the step's time.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub time: Option<Instant>,
    /// The policies responsible: for new access, broken workflows and
    /// escalations the candidate's; for narrowed pairs and fixed escalations
    /// the baseline's.
    pub policies: Vec<PolicyRef>,
    /// Before (a decision or a metric value).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub baseline: Option<String>,
    /// After.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub candidate: Option<String>,
    /// Where a reviewer should look, `file:line`: the granting policy, the
    /// step, or the broken rule.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
    /// One sentence.
    pub message: String,
    /// The exception that accepted the change (or that would have, had it
    /// not expired), as `file:line`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exception: Option<String>,
    /// For escalations: the finding, with its trace.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub finding: Option<Box<Finding>>,
}

/// A principal's metrics on both sides.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PrincipalDelta {
    /// The principal.
    pub principal: String,
    /// With the baseline policies.
    pub baseline: Metrics,
    /// With the candidate policies.
    pub candidate: Metrics,
    /// Pairs held with the candidate only.
    pub new_pairs: usize,
    /// Pairs held with the baseline only.
    pub removed_pairs: usize,
    /// Candidate utilization − baseline utilization, 4 decimals.
    pub utilization_change: f64,
    /// Candidate weighted gap − baseline weighted gap.
    pub weighted_gap_change: i64,
}

/// What became of one `[[exception]]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExceptionStatus {
    /// `file:line` of the `[[exception]]` table.
    pub location: String,
    /// The kind of change it accepts.
    pub kind: ChangeKind,
    /// The scenario (name or file) it is limited to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scenario: Option<String>,
    /// The principal (entity or type) it is limited to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub principal: Option<String>,
    /// The action it is limited to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub action: Option<String>,
    /// The resource (entity or type) it is limited to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resource: Option<String>,
    /// Why the change is accepted.
    pub reason: String,
    /// The last day it applies (`YYYY-MM-DD`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expires: Option<String>,
    /// `applied` (it matched a change), `expired` (it matched, but its date
    /// has passed, so it no longer applies), `stale` (it matches nothing: a
    /// failure; remove it) or `not-checked` (its scenario was not part of this
    /// check).
    pub status: ExceptionState,
    /// How many changes it matched.
    pub matched: usize,
}

closed_set! {
    /// The kinds of change, in the order reports list them (the gate sorts
    /// a scenario's changes by it, failing first). More kinds will come.
    pub enum ChangeKind ("kind of change") {
        /// An invariant finding (replay, search or a refuting proof) the
        /// baseline did not have.
        NewEscalation = "new-escalation",
        /// A proof found a request the candidate allows and the baseline denies.
        NewAccessProven = "new-access-proven",
        /// A principal holds a pair it did not hold with the baseline, or a
        /// step the baseline denied is allowed.
        NewAccess = "new-access",
        /// A policy the change touched decided no request of any scenario.
        UnexercisedChange = "unexercised-change",
        /// A candidate policy newly errors on some request the schema allows.
        PolicyMayError = "policy-may-error",
        /// A candidate permit newly grants nothing (forbids override it).
        PolicyNeverGrants = "policy-never-grants",
        /// A candidate policy newly never applies.
        PolicyNeverApplies = "policy-never-applies",
        /// A candidate permit newly allows nothing the other permits do not.
        PolicyRedundant = "policy-redundant",
        /// A pair held with both sides is held for longer with the candidate.
        HeldLonger = "held-longer",
        /// A step the baseline allowed is denied, unexpectedly.
        BrokenWorkflow = "broken-workflow",
        /// A step expectation or access assertion fails with the candidate.
        ExpectationFailed = "expectation-failed",
        /// A principal's weighted gap grew by more than the budget.
        WeightedGapGrowth = "weighted-gap-growth",
        /// A principal's utilization dropped by more than the budget.
        UtilizationDrop = "utilization-drop",
        /// A pair is no longer held, or a step is now denied as expected.
        Narrowed = "narrowed",
        /// A pair held with both sides is held for less time with the candidate.
        HeldShorter = "held-shorter",
        /// A proof found a request the baseline allows and the candidate denies.
        NarrowedProven = "narrowed-proven",
        /// An invariant finding the baseline had and the candidate does not.
        FixedEscalation = "fixed-escalation",
    }
}

closed_set! {
    /// What a [`Change`] does to the gate.
    pub enum ChangeStatus ("change status") {
        /// It fails the gate.
        Fail = "fail",
        /// It would fail the gate; an exception accepts it.
        Excepted = "excepted",
        /// The gate's rules let it pass.
        Info = "info",
    }
}

closed_set! {
    /// What became of an `[[exception]]`.
    pub enum ExceptionState ("exception status") {
        /// It matched a change.
        Applied = "applied",
        /// It matched, but its date has passed, so it no longer applies.
        Expired = "expired",
        /// It matches nothing: a failure; remove it.
        Stale = "stale",
        /// Its scenario was not part of this check.
        NotChecked = "not-checked",
    }
}

closed_set! {
    /// Whether a rule the gate applies fails it ([`BudgetExhausted::status`],
    /// [`ConfigChange::status`]).
    pub enum RuleStatus ("rule status") {
        /// It fails the gate.
        Fail = "fail",
        /// The configuration lets it pass.
        Allowed = "allowed",
    }
}

closed_set! {
    /// What a change did to a policy or to the gate configuration.
    pub enum Edit ("kind of edit") {
        /// Only the candidate has it.
        Added = "added",
        /// Both have it, and it differs.
        Changed = "changed",
        /// Only the baseline has it.
        Removed = "removed",
    }
}

closed_set! {
    /// A policy's effect.
    pub enum Effect ("policy effect") {
        /// A permit policy.
        Permit = "permit",
        /// A forbid policy.
        Forbid = "forbid",
    }
}

closed_set! {
    /// Whether the proof step of a check ran.
    pub enum ProofsStatus ("proofs status") {
        /// The proofs ran.
        Ran = "ran",
        /// No solver was found and `--prove` was not given.
        Skipped = "skipped",
    }
}
