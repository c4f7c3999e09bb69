//! What a proof found, shared by the run and gate contracts: a request
//! environment's verdict, the counterexample Cedar confirmed, and the
//! policies it names. A leaf: it names no other contract.

use serde::{Deserialize, Serialize};

use crate::closed::closed_set;

/// One request environment's verdict.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EnvProof {
    /// The principal entity type.
    pub principal_type: String,
    /// The action.
    pub action: String,
    /// The resource entity type.
    pub resource_type: String,
    /// `proven`, `refuted`, `unknown` or `not-applicable`.
    pub verdict: ProofVerdict,
    /// For `unknown` and `not-applicable`: why.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// For `refuted`: the request and entities, confirmed by Cedar.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub counterexample: Option<Box<ProofCounterexample>>,
    /// `candidate` or `baseline` when only that side's schema has the
    /// environment (the two schemas differ); absent when both have it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub only_in: Option<Side>,
}

/// A request and an entity store on which the two sides decide differently,
/// found by the solver and replayed through Cedar's authorizer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProofCounterexample {
    /// The principal.
    pub principal: String,
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// The request context, as Cedar JSON.
    pub context: serde_json::Value,
    /// The entity store, as Cedar entities JSON.
    pub entities: serde_json::Value,
    /// The policies of the side that allows the request (its determining policies).
    pub policies: Vec<PolicyRef>,
    /// The repro scenario written for it (`--report-dir`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub repro: Option<String>,
}

/// A policy and where it is defined.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct PolicyRef {
    /// The policy id.
    pub id: String,
    /// `file:line`, when the policy came from a file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
}

closed_set! {
    /// The verdict of a proof over one request environment.
    pub enum ProofVerdict ("proof verdict") {
        /// Proven for every request and entity store of the environment.
        Proven = "proven",
        /// Refuted by a counterexample Cedar confirmed.
        Refuted = "refuted",
        /// Neither (`reason` says why).
        Unknown = "unknown",
        /// The question does not apply to the environment (`reason` says why).
        NotApplicable = "not-applicable",
    }
}

closed_set! {
    /// One side of the gate's comparison.
    pub enum Side ("side") {
        /// The baseline policies.
        Baseline = "baseline",
        /// The candidate policies.
        Candidate = "candidate",
    }
}
