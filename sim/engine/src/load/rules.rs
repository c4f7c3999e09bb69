//! What makes a scenario's world change and what must stay true while it does:
//! effects of allowed actions (`[[effect]]`), the invariant switches
//! (`[invariants]`) and `[[never]]` rules. The loader builds these; replay and
//! the escalation search (`crate::search`) apply and check them through
//! `crate::world::state`.

use cedar_policy::EntityUid;
use serde_json::{Map, Value};

/// An entity named relative to the request that triggers an effect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Operand {
    /// The request's principal.
    Principal,
    /// The request's resource.
    Resource,
    /// The acting session's delegator.
    Delegator,
    /// An entity value in the request's context, under this key.
    Context(String),
    /// A fixed entity.
    Literal(EntityUid),
}

impl Operand {
    /// Parses `principal`, `resource`, `delegator`, `context.KEY` or a Cedar
    /// entity literal.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "principal" => Ok(Self::Principal),
            "resource" => Ok(Self::Resource),
            "delegator" => Ok(Self::Delegator),
            _ => {
                if let Some(key) = text.strip_prefix("context.") {
                    if key.is_empty() {
                        return Err("`context.` needs a key, e.g. `context.assignee`".to_string());
                    }
                    return Ok(Self::Context(key.to_string()));
                }
                super::request::parse_uid(text).map(Self::Literal).map_err(|e| {
                    format!("`{text}` is neither `principal`, `resource`, `delegator`, `context.KEY` nor an entity: {e}")
                })
            }
        }
    }
}

impl std::fmt::Display for Operand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Principal => f.write_str("principal"),
            Self::Resource => f.write_str("resource"),
            Self::Delegator => f.write_str("delegator"),
            Self::Context(key) => write!(f, "context.{key}"),
            Self::Literal(uid) => write!(f, "{uid}"),
        }
    }
}

/// Where `set_attr` takes its value from.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueSource {
    /// A Cedar value written in the scenario (Cedar JSON form).
    Literal(Value),
    /// An operand's entity (or, for `context.KEY`, whatever value is there).
    Of(Operand),
    /// The request's time, as a `datetime`.
    Now,
}

/// One change an effect makes.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Adds `parent` to `entity`'s parents.
    AddParent {
        /// The child.
        entity: Operand,
        /// The new parent.
        parent: Operand,
    },
    /// Removes `parent` from `entity`'s parents.
    RemoveParent {
        /// The child.
        entity: Operand,
        /// The parent removed.
        parent: Operand,
    },
    /// Sets an attribute.
    SetAttr {
        /// Whose attribute.
        entity: Operand,
        /// The attribute's name.
        name: String,
        /// The value.
        value: ValueSource,
    },
    /// A time-bound grant starting at the request's time.
    Grant {
        /// Whose entity changes (created if missing).
        entity: Operand,
        /// Parents added while the grant is active.
        parents: Vec<Operand>,
        /// Attributes set while it is active.
        attrs: Map<String, Value>,
        /// How long it lasts, in milliseconds (`None`: forever).
        lifetime: Option<i64>,
        /// Whether the simulator removes it at its end (`false`: the policies
        /// are meant to enforce the end).
        removed_at_until: bool,
        /// An attribute set to the grant's end as a `datetime`.
        until_attr: Option<String>,
    },
    /// Ends the active grants on `entity` (only those adding `parent`, if given).
    Revoke {
        /// Whose grants.
        entity: Operand,
        /// Only grants that add this parent.
        parent: Option<Operand>,
    },
    /// Starts a dormant session (index into `Scenario::sessions`).
    StartSession(usize),
}

/// `[[effect]]`: what every allowed request of an action does.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    /// 0-based position among the scenario's effects.
    pub index: usize,
    /// Line of the `[[effect]]` in the scenario file.
    pub line: usize,
    /// The triggering action.
    pub action: EntityUid,
    /// Only for requests by this principal.
    pub principal: Option<EntityUid>,
    /// Only for requests on this resource.
    pub resource: Option<EntityUid>,
    /// The change.
    pub operation: Operation,
}

/// Which built-in invariants are checked (`[invariants]`; all default on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invariants {
    /// A delegate is never allowed what a delegator up its chain is denied.
    pub delegation_ceiling: bool,
    /// A session never holds what its parent session does not.
    pub attenuation: bool,
    /// After a policy-enforced grant ends, nothing it conferred is still held.
    pub expiry: bool,
    /// The `[[never]]` rules.
    pub never: bool,
    /// `[[access]]` assertions with `always = true`.
    pub access: bool,
}

impl Default for Invariants {
    fn default() -> Self {
        Self {
            delegation_ceiling: true,
            attenuation: true,
            expiry: true,
            never: true,
            access: true,
        }
    }
}

/// Which entities a `[[never]]` rule's principal or resource matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// Any entity.
    Any,
    /// Any entity of this type (its full name, e.g. `Acme::Agent`).
    Type(String),
    /// This entity.
    Entity(EntityUid),
}

impl Pattern {
    /// Parses an entity literal or a type name; `None` matches anything.
    pub fn parse(text: Option<&str>) -> Result<Self, String> {
        let Some(text) = text else {
            return Ok(Self::Any);
        };
        if text.contains('"') {
            return super::request::parse_uid(text).map(Self::Entity);
        }
        let valid = !text.is_empty()
            && text.split("::").all(|part| {
                part.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if valid {
            Ok(Self::Type(text.to_string()))
        } else {
            Err(format!(
                "`{text}` is neither an entity (`Agent::\"helper\"`) nor an entity type (`Agent`)"
            ))
        }
    }

    /// Whether `uid` matches.
    pub fn matches(&self, uid: &EntityUid) -> bool {
        match self {
            Self::Any => true,
            Self::Type(name) => &uid.type_name().to_string() == name,
            Self::Entity(entity) => entity == uid,
        }
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Any => f.write_str("anyone"),
            Self::Type(name) => write!(f, "any {name}"),
            Self::Entity(uid) => write!(f, "{uid}"),
        }
    }
}

/// `[[never]]`: access that must not be reachable.
#[derive(Debug, Clone, PartialEq)]
pub struct NeverRule {
    /// 0-based position among the scenario's rules.
    pub index: usize,
    /// Line of the `[[never]]` in the scenario file.
    pub line: usize,
    /// Whose access.
    pub principal: Pattern,
    /// Which action (`None`: any).
    pub action: Option<EntityUid>,
    /// On which resources.
    pub resource: Pattern,
    /// Why, for reports.
    pub reason: Option<String>,
}

impl NeverRule {
    /// Whether the rule forbids `principal` doing `action` on `resource`.
    /// It looks at nothing else (not the world, not the time), so what it
    /// covers can be worked out once per pair. The action is compared
    /// first: an equality, where a type pattern formats the entity's type
    /// name (this runs for held pairs of every new state).
    pub fn covers(&self, principal: &EntityUid, action: &EntityUid, resource: &EntityUid) -> bool {
        self.action.as_ref().is_none_or(|a| a == action)
            && self.principal.matches(principal)
            && self.resource.matches(resource)
    }

    /// A short description: "Agent::\"helper\" may never deployProd on any Env".
    pub fn describe(&self) -> String {
        let action = self
            .action
            .as_ref()
            .map_or_else(|| "any action".to_string(), ToString::to_string);
        let resource = match &self.resource {
            Pattern::Any => "anything".to_string(),
            other => other.to_string(),
        };
        format!("{} may never {action} on {resource}", self.principal)
    }

    /// How a finding that breaks the rule names it: "which the rule at line
    /// N forbids (description): reason".
    pub fn forbidding(&self) -> String {
        format!(
            "which the rule at line {} forbids ({}){}",
            self.line,
            self.describe(),
            self.reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )
    }
}
