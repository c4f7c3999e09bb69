//! The result model: everything a run found, as plain serializable data. It is
//! the JSON contract (`--format json`) and the only thing reports read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version tag of the JSON contract; bumped on any incompatible change.
pub const FORMAT: &str = "privsim-result/1";

/// The results of one `privsim run`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunResult {
    /// Always [`FORMAT`].
    pub format: String,
    /// One entry per scenario, in the order they were given.
    pub scenarios: Vec<ScenarioResult>,
}

impl RunResult {
    /// Wraps scenario results.
    pub fn new(scenarios: Vec<ScenarioResult>) -> Self {
        Self {
            format: FORMAT.to_string(),
            scenarios,
        }
    }

    /// Whether every expectation and access assertion held.
    pub fn passed(&self) -> bool {
        self.scenarios.iter().all(|s| s.passed)
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
    pub start: String,
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
    /// Things that are legal but look unintended.
    pub warnings: Vec<String>,
}

/// Counts over one scenario.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
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
    pub time: String,
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
    pub context: Value,
    /// `allow`, `deny`, or `error` when the schema rejected the request.
    pub decision: String,
    /// Determining policies (Cedar's `reason`), sorted.
    pub determining_policies: Vec<String>,
    /// Evaluation errors, sorted by policy.
    pub errors: Vec<EvaluationError>,
    /// Grants active at the step's time.
    pub active_grants: Vec<String>,
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
    pub decision: Option<String>,
    /// Expected determining policies.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<Vec<String>>,
    /// Expected erroring policies.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub errors: Option<Vec<String>>,
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
    pub decision: String,
}

/// An exact-access assertion's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessResult {
    /// 1-based position among the scenario's `[[access]]` entries.
    pub index: usize,
    /// Line in the scenario file.
    pub line: usize,
    /// When it was checked.
    pub time: String,
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
    /// The invariant: `delegation-ceiling`.
    pub kind: String,
    /// The 1-based step where it was seen.
    pub step: usize,
    /// Simulated time.
    pub time: String,
    /// The delegate that was allowed.
    pub principal: String,
    /// The delegator that was denied.
    pub delegator: String,
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// The delegate's determining policies.
    pub determining_policies: Vec<String>,
    /// One sentence for humans.
    pub message: String,
}
