//! The result model: everything a run found, as plain serializable data. It is
//! the JSON contract (`--format json`) and the only thing reports read.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::caveat::{SearchLimit, WindowLimit};
use crate::closed::closed_set;
pub use crate::pairs::{Metrics, Pair};
use crate::proof::{EnvProof, ProofCounterexample};
use crate::suggest::ScenarioSuggestion;
use crate::time::Instant;

closed_set! {
    /// Cedar's decision on a step's request (or a search move's).
    pub enum Decision ("decision") {
        /// Cedar allowed the request.
        Allow = "allow",
        /// Cedar denied the request.
        Deny = "deny",
        /// The schema rejected the request, so Cedar did not decide it.
        Error = "error",
    }
}

closed_set! {
    /// The decision on a step's request made by a delegator up its chain.
    pub enum CeilingDecision ("delegation ceiling decision") {
        /// Cedar allowed the delegator the request.
        Allow = "allow",
        /// Cedar denied the delegator the request.
        Deny = "deny",
        /// The schema does not let the delegator's type make this request.
        NotApplicable = "not-applicable",
    }
}

closed_set! {
    /// The invariant a [`Finding`] breaks (more invariants will come).
    pub enum FindingKind ("kind of finding") {
        /// A delegate was allowed what its delegator is denied.
        DelegationCeiling = "delegation-ceiling",
        /// A sub-agent held what its parent agent does not.
        Attenuation = "attenuation",
        /// Something a grant conferred was still held after the grant ended.
        Expiry = "expiry",
        /// A `[[never]]` rule was broken.
        Never = "never",
        /// An `[[access]]` assertion (exact or always access) was broken.
        Access = "access",
    }
}

closed_set! {
    /// What one move of a search trace is.
    pub enum MoveKind ("kind of move") {
        /// A request by a principal.
        Request = "request",
        /// The clock moving on.
        Advance = "advance",
    }
}

closed_set! {
    /// The verdict on a `[[never]]` rule, in the order of precedence: a
    /// rule the replay or the search broke is not proven again.
    pub enum NeverVerdict ("never-rule verdict") {
        /// The replay broke the rule.
        FoundByReplay = "found-by-replay",
        /// The escalation search broke the rule.
        FoundBySearch = "found-by-search",
        /// A proof found a counterexample Cedar confirmed.
        RefutedByProof = "refuted-by-proof",
        /// Proven impossible in every world the schema allows.
        ProvenImpossible = "proven-impossible",
        /// Neither broken nor proven (`reason` says why).
        NotProven = "not-proven",
    }
}

closed_set! {
    /// The status of an [`ObservationWindow`].
    pub enum ObservationStatus ("observation status") {
        /// The findings are those listed.
        Evaluated = "evaluated",
        /// The window is shorter than `unused_after`, so nothing is claimed
        /// unused for that long, whatever `idle_ms` says.
        WindowTooShort = "window-too-short",
        /// The scenario has no step, so nothing was observed.
        NoSteps = "no-steps",
    }
}

closed_set! {
    /// How the escalation search picks its moves.
    pub enum SearchStrategy ("search strategy") {
        /// Seeded random walks.
        Random = "random",
        /// Random extensions of states that reached new held sets.
        Novelty = "novelty",
        /// Breadth-first over every move, with state hashing.
        Exhaustive = "exhaustive",
    }
}

closed_set! {
    /// What a policy of [`PolicyUse`] is.
    pub enum PolicyKind ("kind of policy") {
        /// A permit policy (or template link).
        Permit = "permit",
        /// A forbid policy (or template link).
        Forbid = "forbid",
        /// A template: it decides only through its links.
        Template = "template",
    }
}

/// The version tag of the JSON contract; bumped on any incompatible change.
pub const FORMAT: &str = "privsim-result/1";

/// The results of one `privsim run` (other crates make one with
/// [`RunResult::new`]; fields will be added).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct RunResult {
    /// Always [`FORMAT`].
    pub format: String,
    /// One entry per scenario, in the order they were given.
    pub scenarios: Vec<ScenarioResult>,
    /// Scenario files that could not be loaded (and so were not evaluated),
    /// in the order met; absent when every file loaded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_errors: Vec<LoadError>,
}

/// A scenario file that could not be loaded: the run says so rather than
/// passing over it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoadError {
    /// The file (or the path given, when it could not be searched).
    pub file: String,
    /// The error, with its location (`file:line:col`) when it has one.
    pub message: String,
}

impl RunResult {
    /// Wraps scenario results.
    pub fn new(scenarios: Vec<ScenarioResult>) -> Self {
        Self {
            format: FORMAT.to_string(),
            scenarios,
            load_errors: Vec::new(),
        }
    }

    /// Whether every expectation and access assertion held (a scenario that
    /// could not be loaded did not pass).
    pub fn passed(&self) -> bool {
        self.load_errors.is_empty() && self.scenarios.iter().all(|s| s.passed)
    }

    /// Whether any scenario has findings.
    pub fn has_findings(&self) -> bool {
        self.scenarios.iter().any(|s| !s.findings.is_empty())
    }
}

/// The replay of one scenario.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub name: String,
    /// The scenario file, as given.
    pub file: String,
    /// The policy files evaluated, in order.
    pub policy_files: Vec<String>,
    /// Where each policy and template is defined: id → `file:line`.
    pub policies: BTreeMap<String, String>,
    /// The clock's start.
    pub start: Instant,
    /// Whether every expectation and access assertion held.
    pub passed: bool,
    /// Counts.
    pub summary: Summary,
    /// The trace, one entry per step.
    pub steps: Vec<StepResult>,
    /// Exact-access assertions.
    pub access: Vec<AccessResult>,
    /// Invariant violations.
    pub findings: Vec<Finding>,
    /// What the escalation search did, for results of `privsim fuzz`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub search: Option<SearchSummary>,
    /// Things that are legal but look unintended.
    pub warnings: Vec<String>,
    /// Held vs used, per principal.
    pub principals: Vec<PrincipalAccount>,
    /// The scenario-wide accounting summary (absent when accounting did not run).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub accounting: Option<AccountingSummary>,
    /// The observation window of the accounting and its unused-access
    /// findings (absent when accounting did not run).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub observation: Option<ObservationWindow>,
    /// Every policy, template and template link, with the steps whose decision
    /// it determined, sorted by id.
    #[serde(default)]
    pub policy_use: Vec<PolicyUse>,
    /// The policies and template links that determined no step's decision,
    /// sorted by id (templates are not listed: their links decide).
    #[serde(default)]
    pub dead_policies: Vec<String>,
    /// The policies and template links that decided no request at all: no
    /// step, no request of the held sets, no move of the escalation search
    /// (when it ran), sorted by id. Nothing in the scenario tests them.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub unexercised: Vec<String>,
    /// The right-sized policy suggestion, as `privsim suggest --format json`
    /// gives it for this scenario; present when it was asked for (`privsim run
    /// --suggest` or `--report-dir`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub suggestion: Option<ScenarioSuggestion>,
    /// What became of each `[[never]]` rule: broken in the replay or the
    /// search, or proven impossible, or refuted, in every world the schema
    /// allows. Present when proofs were asked for (the default when there is
    /// a rule; `--no-prove` leaves it out), in rule order.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub never_rules: Vec<NeverRuleResult>,
}

/// The verdict on one `[[never]]` rule: seen broken (replay or search),
/// refuted by a proof with a counterexample Cedar confirmed (a `never`
/// finding carries it), proven impossible in every world the schema allows,
/// or neither (`not-proven`, with why).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NeverRuleResult {
    /// The rule, as `file:line`.
    pub rule: String,
    /// Whose access it forbids: an entity (`Agent::"bot"`) or an entity type
    /// (`Agent`); absent: anyone.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub principal: Option<String>,
    /// The action; absent: any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub action: Option<String>,
    /// On which resources: an entity or an entity type; absent: any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resource: Option<String>,
    /// The verdict.
    pub verdict: NeverVerdict,
    /// For `not-proven`: why (no schema, no solver, proofs off, the rule
    /// switched off, or the request environments left unknown, each with its
    /// reason).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// The proof per request environment of the schema the rule can match
    /// (empty when no proof ran). A refuted environment's counterexample is
    /// on its finding.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub environments: Vec<EnvProof>,
}

/// How one policy figured in the replay's decisions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PolicyUse {
    /// The policy id.
    pub id: String,
    /// `permit`, `forbid`, or `template` (a template decides only through its links).
    pub effect: PolicyKind,
    /// Where it is defined, `file:line` (absent for a policy with no file).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
    /// The 1-based steps whose decision it determined (Cedar's reason).
    pub determined: Vec<usize>,
    /// Whether it decided a request of the held sets: a pair of some
    /// principal's universe, asked with the context one of its sessions
    /// presents, at an evaluated instant (Cedar's reason for the allow or
    /// the deny).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub held: bool,
    /// Whether it decided a request of the escalation search (a move, or a
    /// held-set question in a state the search reached).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub search: bool,
}

/// Counts over one scenario (other crates start from `Summary::default()`;
/// counts will be added).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct Summary {
    /// Steps replayed.
    pub steps: usize,
    /// Steps Cedar allowed.
    pub allowed: usize,
    /// Steps Cedar denied.
    pub denied: usize,
    /// Steps whose request the schema rejected.
    pub invalid: usize,
    /// Steps with at least one policy evaluation error.
    pub with_errors: usize,
    /// Steps with an expectation.
    pub expectations: usize,
    /// Expectations that failed.
    pub expectations_failed: usize,
    /// Access assertions.
    pub access_checks: usize,
    /// Access assertions that failed.
    pub access_failed: usize,
    /// Findings.
    pub findings: usize,
}

/// One replayed step: enough to re-evaluate it with Cedar alone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepResult {
    /// 1-based step number.
    pub index: usize,
    /// Line of the `[[step]]` in the scenario file.
    pub line: usize,
    /// The step's label.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    /// Simulated time (RFC 3339, UTC).
    pub time: Instant,
    /// The session, if the step ran in one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub session: Option<String>,
    /// The acting principal (Cedar UID string).
    pub principal: String,
    /// Delegation chain, root delegator first, the acting principal last.
    pub delegation_chain: Vec<String>,
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// The exact context sent to Cedar, in Cedar's JSON form.
    pub context: Arc<Value>,
    /// `allow`, `deny`, or `error` when the schema rejected the request.
    pub decision: Decision,
    /// Determining policies (Cedar's `reason`), sorted.
    pub determining_policies: Vec<String>,
    /// Evaluation errors, sorted by policy.
    pub errors: Vec<EvaluationError>,
    /// Grants active at the step's time.
    pub active_grants: Vec<String>,
    /// What the step changed in the world (its action's `[[effect]]`s), one
    /// line each; empty when it changed nothing.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub effects: Vec<String>,
    /// The step's expectation and whether it held.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expectation: Option<ExpectationResult>,
    /// The same request as each delegator up the chain, nearest first.
    pub delegation_ceiling: Vec<CeilingCheck>,
}

/// An error Cedar reported for a request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct EvaluationError {
    /// The policy that errored, or none when the request itself was rejected.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub policy: Option<String>,
    /// Cedar's message.
    pub message: String,
}

/// What a step expected, and how that went.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExpectationResult {
    /// Expected decision.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub decision: Option<Decision>,
    /// Expected determining policies.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<Vec<String>>,
    /// Expected erroring policies.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub errors: Option<Vec<String>>,
    /// Policies expected among the determining ones.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason_includes: Option<Vec<String>>,
    /// Expected number of erroring policies.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_count: Option<usize>,
    /// Whether everything expected held.
    pub passed: bool,
    /// One sentence per mismatch.
    pub failures: Vec<String>,
}

/// The step's request made by a delegator.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CeilingCheck {
    /// The delegator.
    pub delegator: String,
    /// `allow`, `deny`, or `not-applicable` when the schema does not let the
    /// delegator's type make this request.
    pub decision: CeilingDecision,
}

/// An exact-access assertion's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessResult {
    /// 1-based position among the scenario's `[[access]]` entries.
    pub index: usize,
    /// Line in the scenario file.
    pub line: usize,
    /// When it was checked.
    pub time: Instant,
    /// Whose access.
    pub principal: String,
    /// The session whose context was presented.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub session: Option<String>,
    /// The action.
    pub action: String,
    /// The resources expected to be exactly the allowed ones.
    pub expected: Vec<String>,
    /// The resources Cedar allowed.
    pub allowed: Vec<String>,
    /// Expected but not allowed.
    pub missing: Vec<String>,
    /// Allowed but not expected.
    pub unexpected: Vec<String>,
    /// Whether allowed = expected.
    pub passed: bool,
}

/// An invariant violation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    /// The invariant: `delegation-ceiling`, `attenuation`, `expiry`, `never`
    /// or `access`.
    pub kind: FindingKind,
    /// The 1-based step where it was seen, when a step showed it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub step: Option<usize>,
    /// Simulated time.
    pub time: Instant,
    /// The principal that was allowed.
    pub principal: String,
    /// For `delegation-ceiling`: the delegator that was denied.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub delegator: Option<String>,
    /// For `expiry`: the grant that ended.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub grant: Option<String>,
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// The policies that allowed it, when known.
    pub determining_policies: Vec<String>,
    /// One sentence for humans.
    pub message: String,
    /// For `never` and `access`: the rule broken, as `file:line`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rule: Option<String>,
    /// For findings of the escalation search: the minimized sequence of moves
    /// from the scenario's initial world that reaches the violation; the last
    /// request is the one that must be denied. Empty for replay findings.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub trace: Vec<TraceStep>,
    /// For findings of the escalation search: the repro scenario written for
    /// it (path as given on the command line), when one was written.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub repro: Option<String>,
    /// For a `never` finding of a proof (`verdict = "refuted-by-proof"`): the
    /// request and entity store the solver found, replayed through Cedar.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub counterexample: Option<Box<ProofCounterexample>>,
}

/// One move of a search trace: a request, or the clock moving on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TraceStep {
    /// Simulated time of the move (after it, for a clock advance).
    pub time: Instant,
    /// `request` or `advance`.
    pub kind: MoveKind,
    /// The acting session, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub session: Option<String>,
    /// The principal (requests only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub principal: Option<String>,
    /// The action (requests only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub action: Option<String>,
    /// The resource (requests only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resource: Option<String>,
    /// Context entries the move adds to the session's (requests only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub context: Option<Value>,
    /// Cedar's decision (requests only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub decision: Option<Decision>,
    /// What the move changed in the world, one line each.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub effects: Vec<String>,
}

/// What the escalation search did for one scenario (`privsim fuzz`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SearchSummary {
    /// `random`, `novelty` or `exhaustive`.
    pub strategy: SearchStrategy,
    /// The seed.
    pub seed: u64,
    /// Workers that searched at once (`--jobs`), each with its share of the
    /// move budget and a seed derived from `seed`; omitted when 1.
    #[serde(skip_serializing_if = "is_one", default = "one")]
    pub jobs: usize,
    /// Moves tried.
    pub moves: u64,
    /// Distinct world states seen.
    pub states: u64,
    /// The deepest trace explored.
    pub max_depth: usize,
    /// For `exhaustive`: every state up to this many moves was explored
    /// without a violation other than the findings listed (None: the budget
    /// ran out first, so nothing is proven). Relative to the moves tried:
    /// `caveats` says what was left out.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exhaustive_depth: Option<usize>,
    /// Whether the budget (`--max-steps`, `--time`, `--time-budget`), the
    /// state cap (`--max-states`, with a `states` caveat) or an interruption
    /// stopped the search.
    pub budget_exhausted: bool,
    /// Whether the search was interrupted (SIGINT or SIGTERM) before its
    /// budget ran out: the findings are those found so far, and nothing
    /// beyond `exhaustive_depth` (if set) was checked. Omitted when false.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub interrupted: bool,
    /// What the search's move set left out (clock moments, combinations of
    /// context values, effects that could not apply, states it could not
    /// build), one sentence per kind in a fixed order; empty when nothing was.
    /// The sentences of `limits` ([`SearchSummary::set_limits`]).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub caveats: Vec<String>,
    /// The same as data: one entry per caveat, in the same order, each a
    /// kind and the numbers and names its sentence says.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub limits: Vec<SearchLimit>,
    /// `--shard I/N`: the part of the campaign this result covers (the
    /// workers of the shard); `privsim fuzz merge` combines all of them.
    /// Omitted for a whole campaign.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub shard: Option<Shard>,
}

impl SearchSummary {
    /// Sets the summary's limits and, from them, its caveats.
    pub fn set_limits(&mut self, limits: Vec<SearchLimit>) {
        self.caveats = limits.iter().map(SearchLimit::sentence).collect();
        self.limits = limits;
    }
}

/// One shard of a campaign (`privsim fuzz --shard I/N`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, 1 to `count`.
    pub index: usize,
    /// How many shards the campaign has.
    pub count: usize,
}

/// A held pair with how long it was held.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HeldPair {
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// Total simulated time it was held, in milliseconds.
    pub held_ms: i64,
    /// The first evaluated instant at which it was held.
    pub first_held: Instant,
    /// The last evaluated instant at which it was held.
    pub last_held: Instant,
    /// The simulated time of the last allowed step that used it inside the
    /// observation window; absent when no step did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_used: Option<Instant>,
    /// How long it was held inside the observation window after its last
    /// use there (all the time it was held inside the window when it was
    /// not used there), in milliseconds: only time it was actually held
    /// counts.
    pub idle_ms: i64,
    /// Whether it is an unused-access finding: `idle_ms` reaches the
    /// window's `unused_after` (and the window is long enough to say so).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub unused_finding: bool,
}

/// Held vs used for one principal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PrincipalAccount {
    /// The principal (Cedar UID string).
    pub principal: String,
    /// Its sessions.
    pub sessions: Vec<String>,
    /// Counts and the weighted gap.
    pub metrics: Metrics,
    /// Every pair of its universe that was allowed at some point of the run.
    pub held: Vec<HeldPair>,
    /// The pairs its allowed steps used.
    pub used: Vec<Pair>,
    /// Held but never used.
    pub unused: Vec<Pair>,
    /// Actions it held but never used at all.
    pub unused_actions: Vec<UnusedAction>,
    /// Actions it used on some resources but held on more.
    pub unused_scope: Vec<UnusedScope>,
    /// Used pairs held outside the window in which they were used.
    pub standing_time: Vec<StandingTime>,
    /// Pairs it held that its delegator, with the same context, did not.
    pub delegation_excess: Vec<DelegationExcess>,
    /// Pairs of its universe that could not be asked about at all (the
    /// schema rejects the request its session presents): neither held nor
    /// not held. Absent when every pair could be asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<UncheckedPairs>,
    /// The simulated time of its last allowed step inside the observation
    /// window; absent when it took none there.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_used: Option<Instant>,
    /// How long it held at least one pair inside the observation window
    /// after its last allowed step there (all the time it held anything
    /// inside the window when it took no allowed step there), in
    /// milliseconds.
    pub idle_ms: i64,
    /// Whether the principal as a whole is an unused-access finding:
    /// `idle_ms` reaches the window's `unused_after`.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub unused_finding: bool,
    /// Per action, the held pairs that are unused-access findings; absent
    /// when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unused_access: Vec<UnusedAccess>,
}

/// An action of a principal with held pairs not used for the window's
/// `unused_after` (IAM Access Analyzer's unused-access finding).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UnusedAccess {
    /// The action.
    pub action: String,
    /// Its risk weight.
    pub weight: u64,
    /// The last allowed step of the action on any resource inside the
    /// window; absent when there was none.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_used: Option<Instant>,
    /// How long the principal held the action on at least one resource
    /// inside the window after that last use, in milliseconds.
    pub idle_ms: i64,
    /// Whether the action itself is unused (`idle_ms` reaches
    /// `unused_after`), not only some of its resources.
    pub whole_action: bool,
    /// The resources whose pair is an unused-access finding, sorted.
    pub resources: Vec<String>,
}

/// The period the accounting observed, and which held access went unused
/// for `unused_after` of it. A pair, action or principal is *unused* when
/// the time it was held inside the window after its last use there (or, not
/// used there, all the time it was held inside the window) reaches
/// `unused_after`: only time it was actually held counts, so a grant that
/// started late is not unused for longer than it existed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ObservationWindow {
    /// The window's start: `[scenario] window_start` or `--window-start`,
    /// else the first step's time (else the scenario's start).
    pub start: Instant,
    /// The window's end: `[scenario] window_end` or `--window-end`, else
    /// the last step's time (else the scenario's start).
    pub end: Instant,
    /// The threshold, in milliseconds (`unused_after`, default 90 days).
    pub unused_after_ms: i64,
    /// Whether the window's findings were evaluated.
    pub status: ObservationStatus,
    /// Held pairs that are unused-access findings, over all principals.
    pub unused_pairs: usize,
    /// (principal, action) pairs whose whole action is unused.
    pub unused_actions: usize,
    /// Principals unused as a whole.
    pub unused_principals: usize,
    /// What limits the window's findings (steps without a time of their
    /// own, steps outside the window, pairs that could not be asked about,
    /// a window start before the scenario's), one sentence each: the
    /// sentences of `limits`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub caveats: Vec<String>,
    /// The same as data, in the same order.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub limits: Vec<WindowLimit>,
}

impl ObservationWindow {
    /// Sets the window's limits and, from them, its caveats.
    pub fn set_limits(&mut self, limits: Vec<WindowLimit>) {
        self.caveats = limits.iter().map(WindowLimit::sentence).collect();
        self.limits = limits;
    }
}

/// Pairs of a principal's universe that no request could be built for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UncheckedPairs {
    /// The action.
    pub action: String,
    /// The resource type.
    pub resource_type: String,
    /// How many resources of that type.
    pub resources: usize,
    /// The session (or `alone`) whose context was rejected.
    pub session: String,
    /// Why the request could not be built.
    pub reason: String,
}

/// An action held but never used.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UnusedAction {
    /// The action.
    pub action: String,
    /// How many resources it was held on.
    pub pairs: usize,
    /// Its risk weight.
    pub weight: u64,
}

/// An action used on some resources but held on more.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UnusedScope {
    /// The action.
    pub action: String,
    /// Its risk weight.
    pub weight: u64,
    /// The resources held but not used.
    pub resources: Vec<String>,
}

/// A used pair held outside the window of its use.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StandingTime {
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// Total time held, in milliseconds.
    pub held_ms: i64,
    /// First instant held.
    pub first_held: Instant,
    /// Last instant held.
    pub last_held: Instant,
    /// First use.
    pub first_used: Instant,
    /// Last use.
    pub last_used: Instant,
    /// Time held outside [first use, last use], in milliseconds.
    pub standing_ms: i64,
}

/// A pair a delegate held that its delegator did not.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DelegationExcess {
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// The delegator that was denied it.
    pub delegator: String,
}

/// The scenario-wide accounting summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccountingSummary {
    /// Principals accounted for.
    pub principals: usize,
    /// Principals holding at least one unused pair.
    pub over_privileged: usize,
    /// `over_privileged / principals`, rounded to 4 decimals.
    pub share_over_privileged: f64,
    /// Σ weighted gap over principals.
    pub total_weighted_gap: u64,
    /// The simulated instants at which held sets were evaluated.
    pub evaluated_instants: Vec<Instant>,
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

fn one() -> usize {
    1
}
