//! Fuzz target: structured scenarios over the names of `fuzz/world/` (sessions,
//! delegation chains, grants, inline entities, steps, access checks, with some
//! wrong pieces mixed in), rendered as TOML and checked like `scenario_parse`
//! (`privsim_testkit::properties::check_scenario_source`). Random bytes rarely get past the
//! TOML parser; these reach replay and accounting. Set `PRIVSIM_FUZZ_PRINT=1`
//! to print the TOML of an input (e.g. of a crash, to save it as a
//! `scenario_parse` seed).
#![no_main]

use std::fmt::Write;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

/// Entity references: the world's, one it lacks, and a malformed one.
const UIDS: [&str; 9] = [
    r#"User::"alice""#,
    r#"Agent::"bot""#,
    r#"Team::"t""#,
    r#"Folder::"public""#,
    r#"Doc::"a""#,
    r#"Doc::"s""#,
    r#"Doc::"new""#,
    r#"Agent::"other""#,
    "User::bad",
];
const ACTIONS: [&str; 4] = [
    r#"Action::"read""#,
    r#"Action::"write""#,
    r#"Action::"delete""#,
    r#"Doc::"read""#,
];
const KEYS: [&str; 7] = [
    "task",
    "ticket",
    "now",
    "delegator",
    "secret",
    "scopes",
    "x",
];
const POLICY_IDS: [&str; 4] = ["users-read", "agents-read-for-users", "no-secret", "nope"];

fn pick<'a>(names: &[&'a str], index: u8) -> &'a str {
    names[usize::from(index) % names.len()]
}

#[derive(Arbitrary, Debug)]
struct Scenario {
    start: Option<Time>,
    validate: Option<bool>,
    /// `None`: the facts the world's schema declares (`now`, `delegator`,
    /// `task`); otherwise a bit set over all of them.
    facts: Option<u16>,
    entities: Vec<Entity>,
    sessions: Vec<Session>,
    grants: Vec<Grant>,
    steps: Vec<Step>,
    access: Vec<Access>,
    risk: Vec<(u8, u8)>,
}

#[derive(Arbitrary, Debug)]
enum Time {
    /// `+<amount><unit>`.
    Offset(u64, u8),
    /// An RFC 3339 timestamp of any instant privsim can hold, or not.
    Absolute(i64),
    Text(String),
}

/// A step's time: mostly after the previous one, so scenarios get past the
/// time-order rule and reach replay.
#[derive(Arbitrary, Debug)]
enum StepAt {
    After(u16),
    Raw(Time),
}

#[derive(Arbitrary, Debug)]
enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Entity(u8),
    Datetime(i64),
    Float(f64),
    Set(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Entity {
    uid: u8,
    parents: Vec<u8>,
    attrs: Vec<(u8, Value)>,
}

#[derive(Arbitrary, Debug)]
struct Session {
    id: u8,
    principal: u8,
    on_behalf_of: Option<u8>,
    parent: Option<u8>,
    task: Option<String>,
    context: Vec<(u8, Value)>,
    from: Option<Time>,
    until: Option<Time>,
}

#[derive(Arbitrary, Debug)]
struct Grant {
    id: Option<u8>,
    principal: u8,
    parents: Vec<u8>,
    attrs: Vec<(u8, Value)>,
    from: Time,
    until: Option<Time>,
    policy_expiry: Option<bool>,
}

#[derive(Arbitrary, Debug)]
enum Actor {
    Session(u8),
    Principal(u8),
}

#[derive(Arbitrary, Debug)]
struct Step {
    at: Option<StepAt>,
    actor: Actor,
    action: u8,
    resource: u8,
    context: Vec<(u8, Value)>,
    expect: Option<u8>,
    expect_reason: Option<Vec<u8>>,
    validate_request: Option<bool>,
}

#[derive(Arbitrary, Debug)]
struct Access {
    at: Option<Time>,
    actor: Actor,
    action: u8,
    resources: Vec<u8>,
}

/// A TOML basic string.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn uid(index: u8) -> String {
    format!("'{}'", pick(&UIDS, index))
}

/// A timestamp of an instant privsim can hold (years 0000 to 9999, UTC), so
/// that a bare TOML date-time made from it parses.
fn instant(millis: i64) -> String {
    use privsim::time::Instant;
    let span = Instant::MAX.0 - Instant::MIN.0 + 1;
    Instant(Instant::MIN.0 + millis.rem_euclid(span)).to_string()
}

fn time(time: &Time) -> String {
    match time {
        Time::Offset(amount, unit) => {
            let unit = pick(&["ms", "s", "m", "h", "d"], *unit);
            quote(&format!("+{amount}{unit}"))
        }
        Time::Absolute(millis) => quote(&instant(*millis)),
        Time::Text(text) => quote(text),
    }
}

fn value(value: &Value) -> String {
    match value {
        Value::Str(text) => quote(text),
        Value::Int(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Entity(index) => {
            let reference = pick(&UIDS, *index);
            let (kind, id) = reference.split_once("::").unwrap_or((reference, ""));
            format!(
                "{{ __entity = {{ type = {}, id = {} }} }}",
                quote(kind),
                quote(id.trim_matches('"'))
            )
        }
        // A bare TOML date-time (not a string): becomes a Cedar datetime.
        Value::Datetime(millis) => instant(*millis),
        Value::Float(f) if f.is_finite() => format!("{f:?}"),
        Value::Float(_) => "nan".to_string(),
        Value::Set(items) => {
            let items: Vec<String> = items.iter().map(|i| quote(pick(&KEYS, *i))).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

fn table(entries: &[(u8, Value)]) -> String {
    // A key given twice is a TOML error that would hide everything after it.
    let mut seen = std::collections::BTreeSet::new();
    let entries: Vec<String> = entries
        .iter()
        .filter(|(key, _)| seen.insert(pick(&KEYS, *key)))
        .map(|(key, v)| format!("{} = {}", quote(pick(&KEYS, *key)), value(v)))
        .collect();
    format!("{{ {} }}", entries.join(", "))
}

fn uids(indexes: &[u8]) -> String {
    let items: Vec<String> = indexes.iter().map(|i| uid(*i)).collect();
    format!("[{}]", items.join(", "))
}

fn actor(out: &mut String, actor: &Actor) {
    let _ = match actor {
        Actor::Session(id) => writeln!(out, "session = \"s{}\"", id % 4),
        Actor::Principal(index) => writeln!(out, "principal = {}", uid(*index)),
    };
}

fn render(s: &Scenario) -> String {
    let mut out = String::from("[scenario]\nname = \"built\"\npolicies = [\"p.cedar\"]\n");
    out.push_str("schema = \"s.cedarschema\"\nentities = \"entities.json\"\n");
    if let Some(start) = &s.start {
        let _ = writeln!(out, "start = {}", time(start));
    }
    if let Some(validate) = s.validate {
        let _ = writeln!(out, "validate = {validate}");
    }
    out.push_str("\n[facts]\n");
    for (bit, fact) in [
        "now",
        "now_unix",
        "delegator",
        "root",
        "chain",
        "chain_uids",
        "depth",
        "task",
        "session",
    ]
    .iter()
    .enumerate()
    {
        if s.facts
            .map_or(matches!(*fact, "now" | "delegator" | "task"), |bits| {
                bits & (1 << bit) != 0
            })
        {
            let _ = writeln!(out, "{fact} = \"{fact}\"");
        }
    }
    if !s.risk.is_empty() {
        out.push_str("\n[risk]\n");
        let mut seen = std::collections::BTreeSet::new();
        for (action, weight) in s
            .risk
            .iter()
            .filter(|(a, _)| seen.insert(pick(&ACTIONS, *a)))
        {
            let _ = writeln!(out, "{} = {weight}", uid_key(pick(&ACTIONS, *action)));
        }
    }
    for e in &s.entities {
        let _ = writeln!(
            out,
            "\n[[entity]]\nuid = {}\nparents = {}\nattrs = {}",
            uid(e.uid),
            uids(&e.parents),
            table(&e.attrs)
        );
    }
    for session in &s.sessions {
        let _ = writeln!(
            out,
            "\n[[session]]\nid = \"s{}\"\nprincipal = {}",
            session.id % 4,
            uid(session.principal)
        );
        if let Some(delegator) = session.on_behalf_of {
            let _ = writeln!(out, "on_behalf_of = {}", uid(delegator));
        }
        if let Some(parent) = session.parent {
            let _ = writeln!(out, "parent = \"s{}\"", parent % 4);
        }
        if let Some(task) = &session.task {
            let _ = writeln!(out, "task = {}", quote(task));
        }
        let _ = writeln!(out, "context = {}", table(&session.context));
        if let Some(from) = &session.from {
            let _ = writeln!(out, "from = {}", time(from));
        }
        if let Some(until) = &session.until {
            let _ = writeln!(out, "until = {}", time(until));
        }
    }
    for grant in &s.grants {
        out.push_str("\n[[grant]]\n");
        if let Some(id) = grant.id {
            let _ = writeln!(out, "id = \"g{}\"", id % 4);
        }
        let _ = writeln!(
            out,
            "principal = {}\nparents = {}\nattrs = {}\nfrom = {}",
            uid(grant.principal),
            uids(&grant.parents),
            table(&grant.attrs),
            time(&grant.from)
        );
        if let Some(until) = &grant.until {
            let _ = writeln!(out, "until = {}", time(until));
        }
        if let Some(policy) = grant.policy_expiry {
            let expiry = if policy { "policy" } else { "simulator" };
            let _ = writeln!(out, "expiry = \"{expiry}\"");
        }
    }
    let mut seconds = 0u64;
    for step in &s.steps {
        out.push_str("\n[[step]]\n");
        match &step.at {
            Some(StepAt::After(after)) => {
                seconds += u64::from(*after);
                let _ = writeln!(out, "at = \"+{seconds}s\"");
            }
            Some(StepAt::Raw(at)) => {
                let _ = writeln!(out, "at = {}", time(at));
            }
            None => {}
        }
        actor(&mut out, &step.actor);
        let _ = writeln!(
            out,
            "action = '{}'\nresource = {}",
            pick(&ACTIONS, step.action),
            uid(step.resource)
        );
        if !step.context.is_empty() {
            let _ = writeln!(out, "context = {}", table(&step.context));
        }
        if let Some(expect) = step.expect {
            let _ = writeln!(
                out,
                "expect = \"{}\"",
                pick(&["allow", "deny", "error"], expect)
            );
        }
        if let Some(reason) = &step.expect_reason {
            let ids: Vec<String> = reason
                .iter()
                .map(|i| quote(pick(&POLICY_IDS, *i)))
                .collect();
            let _ = writeln!(out, "expect_reason = [{}]", ids.join(", "));
        }
        if let Some(validate) = step.validate_request {
            let _ = writeln!(out, "validate_request = {validate}");
        }
    }
    for access in &s.access {
        out.push_str("\n[[access]]\n");
        if let Some(at) = &access.at {
            let _ = writeln!(out, "at = {}", time(at));
        }
        actor(&mut out, &access.actor);
        let _ = writeln!(
            out,
            "action = '{}'\nresources = {}",
            pick(&ACTIONS, access.action),
            uids(&access.resources)
        );
    }
    out
}

/// A TOML key holding an entity reference (a literal string key).
fn uid_key(reference: &str) -> String {
    format!("'{reference}'")
}

fuzz_target!(|scenario: Scenario| {
    let text = render(&scenario);
    if std::env::var_os("PRIVSIM_FUZZ_PRINT").is_some() {
        eprintln!("{text}");
    }
    privsim_testkit::properties::check_scenario_source(text.as_bytes());
});
