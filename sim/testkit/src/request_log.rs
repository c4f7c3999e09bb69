//! Generated request logs (`privsim import log`): a fixed small world
//! (schema, policies, entities) and, for a seed, a log of any length written
//! line by line (so a million lines never sit in memory), covering what the
//! format allows except `tools_call`: direct requests, sessions (`session`
//! and `trace_id`), delegations (`on_behalf_of`, with or without a session,
//! and sub-agent sessions with `parent`), both entity reference forms,
//! contexts, `meta`, blank lines, missing decisions, recorded decisions that
//! disagree with Cedar, and timestamps out of order or tied.

use std::io::{self, Write};
use std::str::FromStr;

use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request};
use privsim::time::Instant;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// The schema of the generated world.
pub const SCHEMA: &str = r#"
entity Team;
entity User in [Team] { clearance: Long };
entity Agent;
entity Doc { sensitivity: Long };
type Ctx = { level?: Long, purpose?: String };
action read, edit, delete appliesTo { principal: [User, Agent], resource: [Doc], context: Ctx };
"#;

/// The policies the generated log is replayed against.
pub const POLICIES: &str = r#"
@id("team-reads") permit (principal in Team::"readers", action == Action::"read", resource);
@id("cleared-edit") permit (principal is User, action == Action::"edit", resource) when { principal.clearance >= resource.sensitivity };
@id("agents-read") permit (principal is Agent, action == Action::"read", resource) when { resource.sensitivity <= 2 };
@id("agents-edit-at-level") permit (principal is Agent, action == Action::"edit", resource) when { context has level && context.level >= resource.sensitivity };
@id("admins") permit (principal in Team::"admins", action, resource);
@id("no-secret-delete") forbid (principal, action == Action::"delete", resource) when { resource.sensitivity >= 4 };
"#;

const USERS: usize = 6;
const AGENTS: usize = 4;
const DOCS: usize = 10;
const ACTIONS: [&str; 3] = ["read", "edit", "delete"];

/// The generated world's entities (Cedar entities JSON).
pub fn entities_json() -> String {
    let mut items = Vec::new();
    for user in 0..USERS {
        let team = match user {
            0 => "admins",
            1..=3 => "readers",
            _ => "others",
        };
        items.push(format!(
            r#"{{"uid": {{"type": "User", "id": "u{user}"}}, "attrs": {{"clearance": {}}}, "parents": [{{"type": "Team", "id": "{team}"}}]}}"#,
            user % 5
        ));
    }
    for agent in 0..AGENTS {
        items.push(format!(
            r#"{{"uid": {{"type": "Agent", "id": "a{agent}"}}, "attrs": {{}}, "parents": []}}"#
        ));
    }
    for doc in 0..DOCS {
        items.push(format!(
            r#"{{"uid": {{"type": "Doc", "id": "d{doc}"}}, "attrs": {{"sensitivity": {}}}, "parents": []}}"#,
            doc % 5
        ));
    }
    for team in ["admins", "readers", "others"] {
        items.push(format!(
            r#"{{"uid": {{"type": "Team", "id": "{team}"}}, "attrs": {{}}, "parents": []}}"#
        ));
    }
    format!("[\n{}\n]\n", items.join(",\n"))
}

/// A session of the generated log: who acts, and for whom.
struct Session {
    id: String,
    principal: String,
    on_behalf_of: Option<String>,
    parent: Option<String>,
    use_trace_id: bool,
}

fn sessions() -> Vec<Session> {
    let mut sessions = Vec::new();
    for user in 0..USERS {
        sessions.push(Session {
            id: format!("user-{user}"),
            principal: format!("u{user}"),
            on_behalf_of: None,
            parent: None,
            use_trace_id: user % 2 == 1,
        });
    }
    for agent in 0..AGENTS {
        let user = (agent * 2 + 1) % USERS;
        sessions.push(Session {
            id: format!("agent-{agent}"),
            principal: format!("a{agent}"),
            on_behalf_of: Some(format!("u{user}")),
            parent: None,
            use_trace_id: false,
        });
    }
    for child in 0..2 {
        sessions.push(Session {
            id: format!("sub-{child}"),
            principal: format!("a{}", (child + 2) % AGENTS),
            on_behalf_of: None,
            parent: Some(format!("agent-{child}")),
            use_trace_id: false,
        });
    }
    sessions
}

/// An entity reference in one of the two JSON forms.
fn reference(rng: &mut Xoshiro256PlusPlus, entity_type: &str, id: &str) -> String {
    if rng.random_range(0..2) == 0 {
        format!(r#""{entity_type}::\"{id}\"""#)
    } else {
        format!(r#"{{"type": "{entity_type}", "id": "{id}"}}"#)
    }
}

fn entity_type(id: &str) -> &'static str {
    if id.starts_with('u') { "User" } else { "Agent" }
}

/// How often the requests of a generated log repeat. The streamed replay
/// asks Cedar once per distinct request (session, principal, action,
/// resource, context, recorded decision), so this decides how much of its
/// work is per line and how much per distinct request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Variety {
    /// Contexts drawn from 16: the variety of the tests, a few tens of
    /// thousands of distinct requests at most, whatever the length.
    Mixed,
    /// Agents repeating their calls: contexts drawn from 3 (empty, level 1,
    /// level 3 with a purpose, the last written with its keys in either
    /// order), so a log has a few thousand distinct requests at most however
    /// long it is.
    Repeating,
    /// Every request distinct: each context carries its line's own
    /// `purpose` (the worst case for the streamed replay: one replayed step
    /// per line).
    Distinct,
}

/// Writes a log of `lines` lines for `seed` to `out`, spread over
/// `span_days` days from 2026-01-01 ([`Variety::Mixed`]).
pub fn write_log(seed: u64, lines: usize, span_days: i64, out: &mut impl Write) -> io::Result<()> {
    write_log_of(seed, lines, span_days, Variety::Mixed, out)
}

/// [`write_log`] with a chosen [`Variety`].
pub fn write_log_of(
    seed: u64,
    lines: usize,
    span_days: i64,
    variety: Variety,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let policies = PolicySet::from_str(POLICIES).map_err(io::Error::other)?;
    let entities = Entities::from_json_str(&entities_json(), None).map_err(io::Error::other)?;
    let authorizer = Authorizer::new();
    let sessions = sessions();
    let start = Instant::parse_rfc3339("2026-01-01T00:00:00Z").map_err(io::Error::other)?;
    let span_ms = span_days.max(1) * 86_400_000;
    let step_ms = (span_ms / i64::try_from(lines.max(1)).unwrap_or(i64::MAX)).max(1);
    let mut line = String::new();
    for number in 0..lines {
        line.clear();
        if number > sessions.len() && rng.random_range(0..50) == 0 {
            out.write_all(b"\n")?;
            continue;
        }
        // Mostly in time order; some lines tied with or earlier than the one before.
        let jitter = match rng.random_range(0..10) {
            0 => -step_ms * 3,
            1 => 0,
            _ => rng.random_range(0..step_ms),
        };
        let offset = i64::try_from(number).unwrap_or(i64::MAX) * step_ms + jitter;
        let at = Instant(start.0 + offset.max(0));
        // The first lines open every session, parents first, so every parent
        // makes a request.
        let kind = if number < sessions.len() {
            0
        } else {
            rng.random_range(0..6)
        };
        let (principal, session_fields) = match kind {
            0..=2 => {
                let session = if number < sessions.len() {
                    &sessions[number]
                } else {
                    &sessions[rng.random_range(0..sessions.len())]
                };
                let mut fields = String::new();
                let key = if session.use_trace_id {
                    "trace_id"
                } else {
                    "session"
                };
                fields.push_str(&format!(r#", "{key}": "{}""#, session.id));
                if let Some(delegator) = &session.on_behalf_of {
                    let delegator = reference(&mut rng, "User", delegator);
                    fields.push_str(&format!(r#", "on_behalf_of": {delegator}"#));
                }
                if let Some(parent) = &session.parent {
                    fields.push_str(&format!(r#", "parent": "{parent}""#));
                }
                (session.principal.clone(), fields)
            }
            3 => {
                // Delegated without a session id: the session is
                // `PRINCIPAL for DELEGATOR`.
                let agent = rng.random_range(0..AGENTS);
                let user = rng.random_range(0..USERS);
                let delegator = reference(&mut rng, "User", &format!("u{user}"));
                (
                    format!("a{agent}"),
                    format!(r#", "on_behalf_of": {delegator}"#),
                )
            }
            _ => (format!("u{}", rng.random_range(0..USERS)), String::new()),
        };
        let action = ACTIONS[rng.random_range(0..ACTIONS.len())];
        let doc = format!("d{}", rng.random_range(0..DOCS));
        let context = match variety {
            Variety::Mixed => None,
            // The same context is written with its keys in either order.
            Variety::Repeating => Some(match rng.random_range(0..4) {
                0 => "{}".to_string(),
                1 => r#"{"level": 1}"#.to_string(),
                2 => r#"{"level": 3, "purpose": "p1"}"#.to_string(),
                _ => r#"{"purpose": "p1", "level": 3}"#.to_string(),
            }),
            Variety::Distinct => Some(format!(
                r#"{{"level": {}, "purpose": "r{number}"}}"#,
                rng.random_range(0..5)
            )),
        };
        let context = match context {
            Some(context) => Some(context),
            None => match rng.random_range(0..4) {
                0 => None,
                1 => Some("{}".to_string()),
                2 => Some(format!(r#"{{"level": {}}}"#, rng.random_range(0..5))),
                _ => Some(format!(
                    r#"{{"level": {}, "purpose": "p{}"}}"#,
                    rng.random_range(0..5),
                    rng.random_range(0..2)
                )),
            },
        };
        let request = Request::new(
            EntityUid::from_str(&format!("{}::\"{principal}\"", entity_type(&principal)))
                .map_err(io::Error::other)?,
            EntityUid::from_str(&format!("Action::\"{action}\"")).map_err(io::Error::other)?,
            EntityUid::from_str(&format!("Doc::\"{doc}\"")).map_err(io::Error::other)?,
            Context::from_json_str(context.as_deref().unwrap_or("{}"), None)
                .map_err(io::Error::other)?,
            None,
        )
        .map_err(io::Error::other)?;
        let allowed = authorizer
            .is_authorized(&request, &policies, &entities)
            .decision()
            == Decision::Allow;
        // One in twenty recorded decisions disagrees with Cedar; one in ten is missing.
        let recorded = match rng.random_range(0..20) {
            0 => Some(!allowed),
            1 | 2 => None,
            _ => Some(allowed),
        };
        let principal_ref = reference(&mut rng, entity_type(&principal), &principal);
        let action_ref = format!(r#""Action::\"{action}\"""#);
        let resource_ref = reference(&mut rng, "Doc", &doc);
        line.push_str(&format!(
            r#"{{"timestamp": "{at}", "principal": {principal_ref}, "action": {action_ref}, "resource": {resource_ref}"#
        ));
        if let Some(context) = &context {
            line.push_str(&format!(r#", "context": {context}"#));
        }
        line.push_str(&session_fields);
        if let Some(allowed) = recorded {
            let decision = if allowed { "allow" } else { "deny" };
            line.push_str(&format!(r#", "decision": "{decision}""#));
        }
        if rng.random_range(0..4) == 0 {
            line.push_str(&format!(r#", "meta": {{"request_id": "r{number}"}}"#));
        }
        line.push_str("}\n");
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}
