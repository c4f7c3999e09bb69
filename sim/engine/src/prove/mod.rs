//! Proofs over every request the schema allows, with Cedar's symbolic compiler
//! (`cedar-policy-symcc` 0.8) and the cvc5 SMT solver: no new access in a
//! change, lost access, never rules impossible, suggestions no wider than the
//! original, policy hygiene.
//!
//! Where the replay samples the worlds a scenario describes, a proof quantifies
//! over every entity store and request of one request environment. The module
//! follows a query's way: `solver` finds and drives cvc5, `queries` compiles
//! the policy sets per environment and asks, `confirm` replays each
//! counterexample through Cedar's `Authorizer`, and `cache` keys verdicts by
//! content.
//!
//! # Model
//! Every query is decided per *request environment* (principal type, action,
//! resource type) that the schema allows ([`cedar_policy::Schema::request_envs`]). Each env
//! gets its own [`EnvResult`]:
//! * [`Verdict::Proven`] — the property holds for every well-formed request and
//!   entity store of that env (symcc quantifies over all of them);
//! * [`Verdict::Refuted`] — the solver found a counterexample **and** Cedar's
//!   own [`cedar_policy::Authorizer`] reproduced it; an unreproduced counterexample is
//!   never reported as a refutation but as
//!   [`UnknownReason::NotConfirmed`];
//! * [`Verdict::Unknown`] — time limit, solver error, or the policies use a
//!   feature symcc rejects (type errors, empty set literals, ...);
//! * [`Verdict::NotApplicable`] — only for cross-schema comparisons and for
//!   redundancy of a lone permit.
//!
//! # Solver
//! cvc5 is found through [`SolverConfig::path`], else `$CVC5`, else `PATH`.
//! Each solver process is started as `cvc5 --lang smt --tlimit-per=<ms>`
//! (a per-`check-sat` limit; plain `--tlimit` would be a limit for the whole
//! process, which we reuse across queries). When no solver is found every
//! entry point returns [`ProveError::NoSolver`]; nothing panics.
//!
//! # Template-linked policies
//! symcc rejects template-linked policies ("template-linked policies are not
//! supported"). [`to_static_policy_set`] turns every link into a static policy
//! with the link's id (`Policy::to_json` on a link yields the EST with the
//! slots filled in; `Policy::from_json` parses it back as a static policy).
//! Unlinked templates are dropped: they grant nothing. Counterexamples are
//! still confirmed against the caller's *original* policy sets.

mod cache;
mod confirm;
mod queries;
pub mod rules;
mod solver;
pub mod view;

pub use cache::{
    CACHE_KEY_VERSION, CacheStats, ProofCache, cache_key, canonical_policy_text, sha256_hex,
};
pub use queries::{env_label, sorted_envs, to_static_policy_set};
pub use solver::Prover;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use cedar_policy::{Effect, Entities, PolicySet, Request, RequestEnv, Schema};

/// Default per-query solver time limit.
pub const DEFAULT_PER_QUERY_MS: u64 = 10_000;

// ---------------------------------------------------------------------------
// Configuration and errors
// ---------------------------------------------------------------------------

/// How to find and run the solver.
#[derive(Clone, Debug)]
pub struct SolverConfig {
    /// Explicit cvc5 executable. `None`: `$CVC5`, else `cvc5` on `PATH`.
    pub path: Option<PathBuf>,
    /// Time limit per solver query (cvc5 `--tlimit-per`), in milliseconds.
    pub per_query_ms: u64,
    /// Number of envs decided concurrently, each worker with its own cvc5
    /// process and current-thread tokio runtime. 1 = sequential.
    pub parallelism: usize,
}

impl Default for SolverConfig {
    fn default() -> Self {
        Self {
            path: None,
            per_query_ms: DEFAULT_PER_QUERY_MS,
            parallelism: 1,
        }
    }
}

/// Errors that stop a whole call (per-env problems are [`Verdict::Unknown`]).
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// No usable cvc5 executable.
    #[error("no solver: {0}")]
    NoSolver(String),
    /// A policy (e.g. a never rule) could not be parsed or is not acceptable.
    #[error("invalid policy input: {0}")]
    Policy(String),
    /// A template-linked policy could not be turned into a static policy.
    #[error("template-linked policy `{id}` could not be converted to a static policy: {reason}")]
    Link {
        /// The link's policy id.
        id: String,
        /// What went wrong.
        reason: String,
    },
    /// The async runtime used to drive symcc could not be built.
    #[error("could not build the tokio runtime that drives the solver: {0}")]
    Runtime(String),
}

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

/// A solver counterexample that Cedar's authorizer has reproduced.
#[derive(Clone, Debug)]
pub struct Counterexample {
    /// The concrete request.
    pub request: Request,
    /// The concrete entity store.
    pub entities: Entities,
    /// Human-readable rendering (symcc's `Env` display).
    pub rendered: String,
}

impl fmt::Display for Counterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rendered)
    }
}

/// Why a query has no definite answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnknownReason {
    /// cvc5 answered `unknown` at (or past) the per-query time limit, or our
    /// wall-clock guard fired.
    TimeLimit {
        /// The configured limit.
        per_query_ms: u64,
    },
    /// cvc5 answered `unknown` before the time limit (incompleteness).
    SolverUnknown,
    /// The solver failed (crash, parse error, unreadable output, model that
    /// could not be decoded).
    SolverError(String),
    /// The solver produced a counterexample that Cedar's authorizer does not
    /// reproduce. Never reported as a refutation.
    NotConfirmed(String),
    /// symcc rejected the input (type error against the schema, unsupported
    /// feature such as an empty set literal, incomplete schema, ...).
    Unsupported(String),
    /// The run's overall time budget (`check --time-budget`) was spent
    /// before this query started.
    TimeBudget,
}

impl fmt::Display for UnknownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TimeLimit { per_query_ms } => {
                write!(f, "time limit ({per_query_ms} ms per query) reached")
            }
            Self::SolverUnknown => f.write_str("solver returned unknown"),
            Self::SolverError(e) => write!(f, "solver error: {e}"),
            Self::NotConfirmed(e) => {
                write!(f, "solver counterexample not confirmed by Cedar: {e}")
            }
            Self::Unsupported(e) => write!(f, "not supported by the symbolic compiler: {e}"),
            Self::TimeBudget => f.write_str("the time budget was spent before this query started"),
        }
    }
}

/// The verdict for one request environment.
#[derive(Clone, Debug)]
pub enum Verdict {
    /// The property holds for every well-formed request and store of the env.
    Proven,
    /// The property fails; the counterexample was confirmed by Cedar.
    Refuted {
        /// Confirmed counterexample.
        counterexample: Box<Counterexample>,
    },
    /// No definite answer.
    Unknown {
        /// Why.
        reason: UnknownReason,
    },
    /// The question does not arise for this env (see the call's docs).
    NotApplicable {
        /// Why.
        note: String,
    },
}

impl Verdict {
    /// `true` for [`Verdict::Proven`].
    pub fn is_proven(&self) -> bool {
        matches!(self, Self::Proven)
    }
    /// `true` for [`Verdict::Refuted`].
    pub fn is_refuted(&self) -> bool {
        matches!(self, Self::Refuted { .. })
    }
    /// `true` for [`Verdict::Unknown`].
    pub fn is_unknown(&self) -> bool {
        matches!(self, Self::Unknown { .. })
    }
    /// The counterexample, if refuted.
    pub fn counterexample(&self) -> Option<&Counterexample> {
        match self {
            Self::Refuted { counterexample } => Some(counterexample),
            _ => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Proven => f.write_str("proven"),
            Self::Refuted { counterexample } => write!(f, "refuted: {counterexample}"),
            Self::Unknown { reason } => write!(f, "unknown: {reason}"),
            Self::NotApplicable { note } => write!(f, "not applicable: {note}"),
        }
    }
}

/// Where an env exists, for comparisons across two schemas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvPresence {
    /// In both schemas (always the case for single-schema calls).
    Both,
    /// Only in the schema of the side whose requests are quantified over
    /// (the candidate for `no_new_access_across`).
    QuantifiedSideOnly,
    /// Only in the other side's schema.
    OtherSideOnly,
}

/// Result for one request environment.
#[derive(Clone, Debug)]
pub struct EnvResult {
    /// The env.
    pub env: RequestEnv,
    /// `Principal / Action::"a" / Resource`.
    pub label: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Compile + solve + confirm time for this env.
    pub elapsed: Duration,
    /// Which schema(s) the env exists in.
    pub presence: EnvPresence,
}

/// One side of [`Prover::compare`]: its policies, the schema its requests
/// are quantified under, and that schema's text (part of a cached verdict's
/// key).
#[derive(Clone, Copy, Debug)]
pub struct Sided<'a> {
    /// The policies.
    pub policies: &'a PolicySet,
    /// The schema.
    pub schema: &'a Schema,
    /// The schema's source text.
    pub schema_text: &'a str,
}

/// Both directions of a change ([`Prover::compare`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct Comparison {
    /// The candidate allows nothing the baseline denies, per environment of
    /// the candidate's schema (and the baseline's only, not applicable).
    pub no_new_access: Vec<EnvResult>,
    /// The baseline allows nothing the candidate denies, per environment of
    /// the baseline's schema.
    pub lost_access: Vec<EnvResult>,
    /// Per result of `no_new_access`: whether it came from the cache.
    pub no_new_access_cached: Vec<bool>,
    /// Per result of `lost_access`: whether it came from the cache.
    pub lost_access_cached: Vec<bool>,
}

/// `true` iff every result is [`Verdict::Proven`].
pub fn all_proven(results: &[EnvResult]) -> bool {
    results.iter().all(|r| r.verdict.is_proven())
}

/// The refuted results.
pub fn refuted(results: &[EnvResult]) -> impl Iterator<Item = &EnvResult> {
    results.iter().filter(|r| r.verdict.is_refuted())
}

/// Hygiene findings for one policy (ids are those of the static policy set,
/// i.e. link ids for template-linked policies).
#[derive(Clone, Debug)]
pub struct PolicyHygiene {
    /// Policy id.
    pub policy_id: String,
    /// Effect.
    pub effect: Effect,
    /// Per env: Proven = the policy never matches (never applies) there.
    pub never_applies: Vec<EnvResult>,
    /// Permits only (empty for forbids). Per env: Proven = every request this
    /// permit allows is also allowed by the other permits (redundant).
    /// NotApplicable when there is no other permit.
    pub redundant: Vec<EnvResult>,
    /// Permits only (empty for forbids). Per env: Proven = this permit
    /// together with all forbids always denies (it can never grant access).
    pub never_grants: Vec<EnvResult>,
    /// Per env: Proven = evaluating the policy never errors.
    pub never_errors: Vec<EnvResult>,
}

impl PolicyHygiene {
    /// Proven never to match in every env of the schema.
    pub fn can_never_apply(&self) -> bool {
        all_proven(&self.never_applies)
    }
    /// A permit proven, in every env, to be implied by the other permits.
    pub fn is_redundant(&self) -> bool {
        !self.redundant.is_empty() && all_proven(&self.redundant)
    }
    /// A permit proven, in every env, never to grant access (dead or fully
    /// overridden by forbids).
    pub fn can_never_grant(&self) -> bool {
        !self.never_grants.is_empty() && all_proven(&self.never_grants)
    }
    /// Some env has a confirmed request on which the policy errors.
    pub fn may_error(&self) -> bool {
        self.never_errors.iter().any(|r| r.verdict.is_refuted())
    }
}

/// Groups results by verdict kind for quick reporting: (proven, refuted,
/// unknown, not applicable).
pub fn tally(results: &[EnvResult]) -> (usize, usize, usize, usize) {
    let mut t = (0, 0, 0, 0);
    for r in results {
        match r.verdict {
            Verdict::Proven => t.0 += 1,
            Verdict::Refuted { .. } => t.1 += 1,
            Verdict::Unknown { .. } => t.2 += 1,
            Verdict::NotApplicable { .. } => t.3 += 1,
        }
    }
    t
}

/// Entities JSON for the tests of hash-ordered output: 16 groups `G`,
/// listed in reverse, and a user `U::"x"` in all of them.
#[cfg(test)]
fn user_in_sixteen_groups() -> Vec<serde_json::Value> {
    let groups: Vec<serde_json::Value> = (0..16)
        .rev()
        .map(|i| serde_json::json!({"type": "G", "id": format!("g{i:02}")}))
        .collect();
    let mut list: Vec<serde_json::Value> = groups
        .iter()
        .map(|g| serde_json::json!({"uid": g, "attrs": {}, "parents": []}))
        .collect();
    list.push(serde_json::json!({"uid": {"type": "U", "id": "x"}, "attrs": {}, "parents": groups}));
    list
}
