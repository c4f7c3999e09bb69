//! The `privsim suggest` contract: a right-sized policy suggestion per
//! scenario, with the checks that verified it (`--format json`).

use serde::{Deserialize, Serialize};

use crate::closed::closed_set;
use crate::pairs::{Metrics, Pair};

/// The version tag of `privsim suggest --format json`.
pub const FORMAT: &str = "privsim-suggest/1";

/// The suggestions for a list of scenarios: the JSON document of `--format
/// json` (other crates make one with [`SuggestRun::new`]).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SuggestRun {
    /// Always [`FORMAT`].
    pub format: String,
    /// One entry per scenario, in the order given.
    pub scenarios: Vec<ScenarioSuggestion>,
}

impl SuggestRun {
    /// Wraps scenario suggestions.
    pub fn new(scenarios: Vec<ScenarioSuggestion>) -> Self {
        Self {
            format: FORMAT.to_string(),
            scenarios,
        }
    }

    /// Whether every scenario's suggestion was made and verified.
    pub fn verified(&self) -> bool {
        self.scenarios.iter().all(|s| s.status == Status::Verified)
    }
}

/// How a scenario's suggestion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Made, and every check passed.
    Verified,
    /// Made, but a check failed: it must not be used.
    Failed,
    /// Not made: the candidate fails the scenario in a way a narrower policy set cannot fix.
    Refused,
}

/// A check's outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Whether it held.
    pub passed: bool,
    /// One sentence per problem.
    pub failures: Vec<String>,
}

impl Check {
    /// A check that passed when there are no failures.
    pub fn from_failures(failures: Vec<String>) -> Self {
        Self {
            passed: failures.is_empty(),
            failures,
        }
    }
}

/// The suggestion for one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioSuggestion {
    /// The scenario's name.
    pub name: String,
    /// The scenario file.
    pub file: String,
    /// The candidate policy files.
    pub policy_files: Vec<String>,
    /// Verified, failed or refused.
    pub status: Status,
    /// Why no suggestion was made (only when refused).
    pub refusals: Vec<String>,
    /// Expectations the candidate fails that the suggestion repairs by withholding access.
    pub repairs: Vec<String>,
    /// Remarks, e.g. expectations naming policy ids, which a suggestion renames.
    pub notes: Vec<String>,
    /// Candidate policies kept as they are.
    pub kept: Vec<String>,
    /// Candidate permits kept but closed to the right-sized principals.
    pub narrowed: Vec<String>,
    /// Candidate permits dropped: they applied only to a right-sized principal.
    pub replaced: Vec<String>,
    /// The whole suggested policy set, as Cedar text (empty when refused).
    pub policies: String,
    /// Where `--out` wrote it, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// One entry per principal of the scenario.
    pub principals: Vec<PrincipalSuggestion>,
    /// (a) for the whole scenario: every step keeps its intended decision,
    /// every access assertion holds, and no new invariant finding appears.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<Check>,
    /// The suggestion parses, links and passes strict validation against the schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<Check>,
    /// The proof that the suggestion allows nothing the candidate does not,
    /// in every request and entity store the schema allows (absent when
    /// proofs were off or nothing was suggested).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<SuggestionProof>,
    /// How used pairs were grouped into permits (`--group`): absent for the
    /// default, `agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
}

closed_set! {
    /// How a principal's used pairs are grouped into permits (`suggest
    /// --group`); the engine's `privsim::suggest::group` says what each does.
    pub enum Group ("grouping") {
        /// One permit per principal, candidate permit, resource type and
        /// group of actions with the same resources (the default).
        Agent = "agent",
        /// As `agent`, but permits that come out the same for principals of
        /// one type whose sessions share their tasks are one permit for all.
        Task = "task",
        /// `resource is T` for an action where the evidence supports it.
        ResourceType = "resource-type",
        /// `resource in P` for an action where the evidence supports it.
        Parent = "parent",
    }
}

#[expect(
    clippy::derivable_impls,
    reason = "closed_set! writes the enum and takes no #[default] on a variant"
)]
impl Default for Group {
    fn default() -> Self {
        Group::Agent
    }
}

/// The suggestion for one principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrincipalSuggestion {
    /// The principal (Cedar UID string).
    pub principal: String,
    /// Whether it was right-sized: it takes a step. A principal that takes
    /// none (e.g. it only receives a grant) keeps the candidate's permits.
    pub right_sized: bool,
    /// Whether it takes a step but `--only` left it out, so it keeps the
    /// candidate's permits (absent when false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub left_out: bool,
    /// The pairs it needs: what the suggestion allows it.
    pub needed: Vec<Pair>,
    /// Pairs none of its own allowed steps use that the suggestion still
    /// allows it, with the reason for each.
    pub required: Vec<RequiredPair>,
    /// Its suggested permits (none when it needs nothing).
    pub policies: Vec<SuggestedPolicy>,
    /// Its account under the candidate.
    pub before: Metrics,
    /// Its account under the suggestion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Metrics>,
    /// The three checks, for this principal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<PrincipalVerification>,
    /// With `--group resource-type` or `parent`: for each of its actions and
    /// each type or parent considered, how much of what it held it used, and
    /// whether the permit was generalized to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

/// The evidence for or against writing `resource is T` (or `resource is T
/// in P`) instead of listing resources: what a principal held and used of
/// one action on the resources of a type (under a parent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The action.
    pub action: String,
    /// The resource type.
    pub resource_type: String,
    /// The parent, for `--group parent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// How many resources of the type (under the parent) it held the action on.
    pub held: usize,
    /// How many of those it used (needed).
    pub used: usize,
    /// Whether the suggested permit names the type (parent) instead of the resources.
    pub generalized: bool,
    /// The sentence the text output shows.
    pub note: String,
}

/// A pair a principal is allowed although none of its own steps uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequiredPair {
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// Why: an access assertion requires it, or a delegate uses it.
    pub because: String,
}

/// One suggested permit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestedPolicy {
    /// Its `@id`.
    pub id: String,
    /// The candidate permit it narrows.
    pub narrows: String,
    /// Its Cedar text.
    pub text: String,
    /// The principals it applies to when it is shared (`--group task`);
    /// empty when it names one principal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_by: Vec<String>,
    /// The delegators it is narrowed to (`--by-delegator`); empty when it is not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delegators: Vec<String>,
}

/// The checks of one principal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalVerification {
    /// (a) its steps keep their intended decisions and its access assertions hold.
    pub workflow: Check,
    /// (b) it holds nothing under the suggestion that it did not hold under the
    /// candidate, and no pair for longer.
    pub no_new_access: Check,
    /// (c) it holds exactly the pairs it needs.
    pub exact: Check,
}

/// How the proof of a suggestion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProofVerdict {
    /// Proven in every request environment of the schema.
    Proven,
    /// Refuted: the suggestion allows a request the candidate denies (the
    /// counterexample, confirmed by Cedar, is in `details`); the suggestion
    /// is not verified.
    Refuted,
    /// Neither proven nor refuted in some environment (time limit, or a
    /// policy the symbolic compiler does not support).
    Unknown,
    /// Not attempted (no schema, or no solver): `details` says why.
    Skipped,
}

/// The proof of one suggestion: `check_implies(suggested, candidate)` per
/// request environment of the scenario's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestionProof {
    /// How it ended.
    pub verdict: ProofVerdict,
    /// Request environments (principal type, action, resource type) asked.
    pub environments: usize,
    /// How many of them were proven.
    pub proven: usize,
    /// One sentence per environment not proven, or why the proof was skipped.
    pub details: Vec<String>,
}
