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
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    #[cfg_attr(feature = "json-schema", schemars(with = "RawHeader"))]
    pub scenario: Spanned<RawHeader>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<RawFacts>"))]
    pub facts: Option<Spanned<RawFacts>>,
    #[serde(default, rename = "entity")]
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<RawEntity>"))]
    pub entities: Vec<Spanned<RawEntity>>,
    #[serde(default, rename = "session")]
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<RawSession>"))]
    pub sessions: Vec<Spanned<RawSession>>,
    #[serde(default, rename = "grant")]
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<RawGrant>"))]
    pub grants: Vec<Spanned<RawGrant>>,
    #[serde(default, rename = "step")]
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<RawStep>"))]
    pub steps: Vec<Spanned<RawStep>>,
    #[serde(default, rename = "access")]
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<RawAccess>"))]
    pub access: Vec<Spanned<RawAccess>>,
    #[cfg_attr(
        feature = "json-schema",
        schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")
    )]
    pub risk: Option<Spanned<toml::Table>>,
    #[serde(default, rename = "effect")]
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<RawEffect>"))]
    pub effects: Vec<Spanned<RawEffect>>,
    #[serde(default)]
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<RawNever>"))]
    pub never: Vec<Spanned<RawNever>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<RawInvariants>"))]
    pub invariants: Option<Spanned<RawInvariants>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<RawDefaults>"))]
    pub defaults: Option<Spanned<RawDefaults>>,
}

/// A shared world file (`world = "..."` in `[scenario]`): the parts of a
/// scenario that variants share. Its items come before the scenario's own.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawWorld {
    /// Shared worlds do not nest; present only to say so with a located error.
    #[cfg_attr(feature = "json-schema", schemars(skip))]
    pub world: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<RawFacts>"))]
    pub facts: Option<Spanned<RawFacts>>,
    #[serde(default, rename = "entity")]
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<RawEntity>"))]
    pub entities: Vec<Spanned<RawEntity>>,
    #[serde(default, rename = "session")]
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<RawSession>"))]
    pub sessions: Vec<Spanned<RawSession>>,
    #[serde(default, rename = "grant")]
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<RawGrant>"))]
    pub grants: Vec<Spanned<RawGrant>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<RawDefaults>"))]
    pub defaults: Option<Spanned<RawDefaults>>,
}

/// `[defaults]`: context entries requests present unless something more
/// specific sets the same key. From least to most specific: `context` (every
/// request), `principal_type` (requests of principals of that entity type),
/// `session` (requests of that session), then the session's own `context`
/// and the step's `context`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    #[cfg_attr(
        feature = "json-schema",
        schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")
    )]
    pub context: Option<Spanned<toml::Table>>,
    #[serde(default)]
    #[cfg_attr(
        feature = "json-schema",
        schemars(
            with = "std::collections::BTreeMap<String, serde_json::Map<String, serde_json::Value>>"
        )
    )]
    pub principal_type: std::collections::BTreeMap<Spanned<String>, Spanned<toml::Table>>,
    #[serde(default)]
    #[cfg_attr(
        feature = "json-schema",
        schemars(
            with = "std::collections::BTreeMap<String, serde_json::Map<String, serde_json::Value>>"
        )
    )]
    pub session: std::collections::BTreeMap<Spanned<String>, Spanned<toml::Table>>,
}

/// `[scenario]`: name, files and the clock's start.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub name: Spanned<String>,
    pub description: Option<String>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<String>"))]
    pub policies: Spanned<Vec<Spanned<String>>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub links: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub schema: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub entities: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub start: Option<Spanned<String>>,
    /// A shared world file (entities, sessions, grants, facts, defaults),
    /// relative to this file; it may be in a parent folder as long as it
    /// stays inside the folder the scenarios are run from.
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub world: Option<Spanned<String>>,
    /// Whether policies are validated against the schema (default true).
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<bool>"))]
    pub validate: Option<Spanned<bool>>,
    /// The escalation search also moves the clock on by this much (`fuzz
    /// --tick` overrides it).
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub tick: Option<Spanned<String>>,
    /// The observation window's start for unused-access findings (a time;
    /// default: the first step's time).
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub window_start: Option<Spanned<String>>,
    /// The observation window's end (a time; default: the last step's time).
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub window_end: Option<Spanned<String>>,
    /// Held access not used for this long inside the window is an
    /// unused-access finding (a duration; default `90d`).
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub unused_after: Option<Spanned<String>>,
}

/// `[facts]`: which simulator facts go into every request's context, and under
/// which context key. A fact not listed is not sent.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawFacts {
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub now: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub now_unix: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub delegator: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub root: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub chain: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub chain_uids: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub depth: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub task: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub session: Option<Spanned<String>>,
}

/// `[[entity]]`: one entity of the world, written inline.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawEntity {
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub uid: Spanned<String>,
    #[serde(default)]
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<String>"))]
    pub parents: Vec<Spanned<String>>,
    #[cfg_attr(
        feature = "json-schema",
        schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")
    )]
    pub attrs: Option<Spanned<toml::Table>>,
    #[cfg_attr(
        feature = "json-schema",
        schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")
    )]
    pub tags: Option<Spanned<toml::Table>>,
}

/// `[[session]]`: a principal acting, possibly for a delegator.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawSession {
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub id: Spanned<String>,
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub principal: Spanned<String>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub on_behalf_of: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub parent: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub task: Option<Spanned<String>>,
    #[cfg_attr(
        feature = "json-schema",
        schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")
    )]
    pub context: Option<Spanned<toml::Table>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub from: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub until: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<bool>"))]
    pub dormant: Option<Spanned<bool>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub lifetime: Option<Spanned<String>>,
}

/// How a grant ends.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum RawExpiry {
    /// The simulator removes the grant at `until`.
    Simulator,
    /// The grant stays in the world; the policies are meant to enforce `until`.
    Policy,
}

/// `[[grant]]`: a time-bound change to a principal (JIT elevation).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawGrant {
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub id: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub principal: Spanned<String>,
    #[serde(default)]
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<String>"))]
    pub parents: Vec<Spanned<String>>,
    #[cfg_attr(
        feature = "json-schema",
        schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")
    )]
    pub attrs: Option<Spanned<toml::Table>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub from: Spanned<String>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub until: Option<Spanned<String>>,
    pub ticket: Option<String>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<RawExpiry>"))]
    pub expiry: Option<Spanned<RawExpiry>>,
}

/// The decision a step expects.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
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
#[derive(Debug, Deserialize, Clone)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub name: Option<String>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub at: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub session: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub principal: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub action: Spanned<String>,
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub resource: Spanned<String>,
    #[cfg_attr(
        feature = "json-schema",
        schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")
    )]
    pub context: Option<Spanned<toml::Table>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<RawDecision>"))]
    pub expect: Option<Spanned<RawDecision>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<Vec<String>>"))]
    pub expect_reason: Option<Spanned<Vec<Spanned<String>>>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<Vec<String>>"))]
    pub expect_reason_includes: Option<Spanned<Vec<Spanned<String>>>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<Vec<String>>"))]
    pub expect_errors: Option<Spanned<Vec<Spanned<String>>>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<usize>"))]
    pub expect_error_count: Option<Spanned<usize>>,
    /// Whether the request is checked against the schema (default true).
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<bool>"))]
    pub validate_request: Option<Spanned<bool>>,
    /// The step stands for this many steps; `{i}` in its strings becomes
    /// the repetition's number, 1 to `repeat`.
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<u32>"))]
    pub repeat: Option<Spanned<i64>>,
    /// With `repeat`: each repetition happens this long after the previous one.
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub every: Option<Spanned<String>>,
    /// Which repetition this is (0 for the first), set when `repeat` is expanded.
    #[serde(skip)]
    #[cfg_attr(feature = "json-schema", schemars(skip))]
    pub repetition: usize,
    /// The step's context already read as Cedar JSON values, in the order
    /// reading `context` gives (a TOML table's: keys sorted at every
    /// level), set instead of `context` by scenarios built in memory (an
    /// imported log's windows, `LoggedScenario::raw_scenario`); never read
    /// from a file.
    #[serde(skip)]
    #[cfg_attr(feature = "json-schema", schemars(skip))]
    pub read_context: Option<std::sync::Arc<serde_json::Map<String, serde_json::Value>>>,
}

/// `[[access]]`: an exact-access assertion.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawAccess {
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub at: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub session: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub principal: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub action: Spanned<String>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<String>"))]
    pub resources: Spanned<Vec<Spanned<String>>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<bool>"))]
    pub always: Option<Spanned<bool>>,
}

/// `[[effect]]`: what every allowed request of an action does to the world.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawEffect {
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub action: Spanned<String>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub principal: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub resource: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<RawParentChange>"))]
    pub add_parent: Option<Spanned<RawParentChange>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<RawParentChange>"))]
    pub remove_parent: Option<Spanned<RawParentChange>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<RawSetAttr>"))]
    pub set_attr: Option<Spanned<RawSetAttr>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<RawEffectGrant>"))]
    pub grant: Option<Spanned<RawEffectGrant>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<RawRevoke>"))]
    pub revoke: Option<Spanned<RawRevoke>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub start_session: Option<Spanned<String>>,
}

/// `add_parent` / `remove_parent` operands.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawParentChange {
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub entity: Spanned<String>,
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub parent: Spanned<String>,
}

/// `set_attr` operands.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawSetAttr {
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub entity: Spanned<String>,
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub name: Spanned<String>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<serde_json::Value>"))]
    pub value: Option<Spanned<toml::Value>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub value_of: Option<Spanned<String>>,
}

/// `grant` operands.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawEffectGrant {
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub entity: Spanned<String>,
    #[serde(default)]
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<String>"))]
    pub parents: Vec<Spanned<String>>,
    #[cfg_attr(
        feature = "json-schema",
        schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")
    )]
    pub attrs: Option<Spanned<toml::Table>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub lifetime: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<RawExpiry>"))]
    pub expiry: Option<Spanned<RawExpiry>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub until_attr: Option<Spanned<String>>,
}

/// `revoke` operands.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawRevoke {
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub entity: Spanned<String>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub parent: Option<Spanned<String>>,
}

/// `[[never]]`: access that must never be reachable.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawNever {
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub principal: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub action: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub resource: Option<Spanned<String>>,
    pub reason: Option<String>,
}

/// `[invariants]`: switches for the built-in invariants (all default on).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawInvariants {
    pub delegation_ceiling: Option<bool>,
    pub attenuation: Option<bool>,
    pub expiry: Option<bool>,
    pub never: Option<bool>,
    pub access: Option<bool>,
}
