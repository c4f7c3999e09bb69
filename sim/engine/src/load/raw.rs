//! The scenario file exactly as written: serde structures with spans, so later
//! checks can point at the offending line. Unknown keys are rejected here.
#![expect(
    missing_docs,
    reason = "the fields mirror the scenario keys documented in docs/scenario-format.md"
)]

use serde::Deserialize;
use toml::Spanned;

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub scenario: Spanned<RawHeader>,
    pub facts: Option<Spanned<RawFacts>>,
    #[serde(default, rename = "entity")]
    pub entities: Vec<Spanned<RawEntity>>,
    #[serde(default, rename = "session")]
    pub sessions: Vec<Spanned<RawSession>>,
    #[serde(default, rename = "grant")]
    pub grants: Vec<Spanned<RawGrant>>,
    #[serde(default, rename = "step")]
    pub steps: Vec<Spanned<RawStep>>,
    #[serde(default, rename = "access")]
    pub access: Vec<Spanned<RawAccess>>,
    pub risk: Option<Spanned<toml::Table>>,
    #[serde(default, rename = "effect")]
    pub effects: Vec<Spanned<RawEffect>>,
    #[serde(default)]
    pub never: Vec<Spanned<RawNever>>,
    pub invariants: Option<Spanned<RawInvariants>>,
}

/// `[scenario]`: name, files and the clock's start.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub policies: Spanned<Vec<Spanned<String>>>,
    pub links: Option<Spanned<String>>,
    pub schema: Option<Spanned<String>>,
    pub entities: Option<Spanned<String>>,
    pub start: Option<Spanned<String>>,
    /// Whether policies are validated against the schema (default true).
    pub validate: Option<Spanned<bool>>,
    /// The escalation search also moves the clock on by this much (`fuzz
    /// --tick` overrides it).
    pub tick: Option<Spanned<String>>,
}

/// `[facts]`: which simulator facts go into every request's context, and under
/// which context key. A fact not listed is not sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFacts {
    pub now: Option<Spanned<String>>,
    pub now_unix: Option<Spanned<String>>,
    pub delegator: Option<Spanned<String>>,
    pub root: Option<Spanned<String>>,
    pub chain: Option<Spanned<String>>,
    pub chain_uids: Option<Spanned<String>>,
    pub depth: Option<Spanned<String>>,
    pub task: Option<Spanned<String>>,
    pub session: Option<Spanned<String>>,
}

/// `[[entity]]`: one entity of the world, written inline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntity {
    pub uid: Spanned<String>,
    #[serde(default)]
    pub parents: Vec<Spanned<String>>,
    pub attrs: Option<Spanned<toml::Table>>,
    pub tags: Option<Spanned<toml::Table>>,
}

/// `[[session]]`: a principal acting, possibly for a delegator.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSession {
    pub id: Spanned<String>,
    pub principal: Spanned<String>,
    pub on_behalf_of: Option<Spanned<String>>,
    pub parent: Option<Spanned<String>>,
    pub task: Option<Spanned<String>>,
    pub context: Option<Spanned<toml::Table>>,
    pub from: Option<Spanned<String>>,
    pub until: Option<Spanned<String>>,
    pub dormant: Option<Spanned<bool>>,
    pub lifetime: Option<Spanned<String>>,
}

/// How a grant ends.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RawExpiry {
    /// The simulator removes the grant at `until`.
    Simulator,
    /// The grant stays in the world; the policies are meant to enforce `until`.
    Policy,
}

/// `[[grant]]`: a time-bound change to a principal (JIT elevation).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrant {
    pub id: Option<Spanned<String>>,
    pub principal: Spanned<String>,
    #[serde(default)]
    pub parents: Vec<Spanned<String>>,
    pub attrs: Option<Spanned<toml::Table>>,
    pub from: Spanned<String>,
    pub until: Option<Spanned<String>>,
    pub ticket: Option<String>,
    pub expiry: Option<Spanned<RawExpiry>>,
}

/// The decision a step expects.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RawDecision {
    /// Cedar allows the request.
    Allow,
    /// Cedar denies the request.
    Deny,
    /// The request is invalid for the schema or a policy errors while evaluating.
    Error,
}

/// `[[step]]`: one request of the workflow.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub name: Option<String>,
    pub at: Option<Spanned<String>>,
    pub session: Option<Spanned<String>>,
    pub principal: Option<Spanned<String>>,
    pub action: Spanned<String>,
    pub resource: Spanned<String>,
    pub context: Option<Spanned<toml::Table>>,
    pub expect: Option<Spanned<RawDecision>>,
    pub expect_reason: Option<Spanned<Vec<Spanned<String>>>>,
    pub expect_reason_includes: Option<Spanned<Vec<Spanned<String>>>>,
    pub expect_errors: Option<Spanned<Vec<Spanned<String>>>>,
    pub expect_error_count: Option<Spanned<usize>>,
    /// Whether the request is checked against the schema (default true).
    pub validate_request: Option<Spanned<bool>>,
}

/// `[[access]]`: an exact-access assertion.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccess {
    pub at: Option<Spanned<String>>,
    pub session: Option<Spanned<String>>,
    pub principal: Option<Spanned<String>>,
    pub action: Spanned<String>,
    pub resources: Spanned<Vec<Spanned<String>>>,
    pub always: Option<Spanned<bool>>,
}

/// `[[effect]]`: what every allowed request of an action does to the world.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEffect {
    pub action: Spanned<String>,
    pub principal: Option<Spanned<String>>,
    pub resource: Option<Spanned<String>>,
    pub add_parent: Option<Spanned<RawParentChange>>,
    pub remove_parent: Option<Spanned<RawParentChange>>,
    pub set_attr: Option<Spanned<RawSetAttr>>,
    pub grant: Option<Spanned<RawEffectGrant>>,
    pub revoke: Option<Spanned<RawRevoke>>,
    pub start_session: Option<Spanned<String>>,
}

/// `add_parent` / `remove_parent` operands.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParentChange {
    pub entity: Spanned<String>,
    pub parent: Spanned<String>,
}

/// `set_attr` operands.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSetAttr {
    pub entity: Spanned<String>,
    pub name: Spanned<String>,
    pub value: Option<Spanned<toml::Value>>,
    pub value_of: Option<Spanned<String>>,
}

/// `grant` operands.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEffectGrant {
    pub entity: Spanned<String>,
    #[serde(default)]
    pub parents: Vec<Spanned<String>>,
    pub attrs: Option<Spanned<toml::Table>>,
    pub lifetime: Option<Spanned<String>>,
    pub expiry: Option<Spanned<RawExpiry>>,
    pub until_attr: Option<Spanned<String>>,
}

/// `revoke` operands.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRevoke {
    pub entity: Spanned<String>,
    pub parent: Option<Spanned<String>>,
}

/// `[[never]]`: access that must never be reachable.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNever {
    pub principal: Option<Spanned<String>>,
    pub action: Option<Spanned<String>>,
    pub resource: Option<Spanned<String>>,
    pub reason: Option<String>,
}

/// `[invariants]`: switches for the built-in invariants (all default on).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInvariants {
    pub delegation_ceiling: Option<bool>,
    pub attenuation: Option<bool>,
    pub expiry: Option<bool>,
    pub never: Option<bool>,
    pub access: Option<bool>,
}
