//! Generated request contexts in Cedar's JSON form, over Cedar's whole value
//! grammar, with a schema whose actions' context types hold plain, entity and
//! extension types: the inputs on which `privsim::load::read_context` (which
//! builds plain contexts without Cedar's JSON parser) is checked against
//! Cedar's own `Context::from_json_value`.
//!
//! The generator covers booleans, integers at and beyond the 64-bit bounds,
//! floats, `null`, strings with unicode and escapes (some looking like entity
//! references or extension values), nested and empty sets and records,
//! entity references (`__entity` and the implicit `{"type", "id"}` form),
//! extension values (`__extn` and the implicit `{"fn", "arg"}` form; `ip`,
//! `decimal`, `datetime`, `duration`, also as bare strings), other `__` keys,
//! duplicate keys, attributes missing or extra against the schema, values of
//! the wrong type and top-level values that are not objects. Roughly half the
//! attributes are given a value of the type the schema declares, so that
//! both contexts Cedar accepts and ones it rejects are frequent.

use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;

/// The schema the contexts are read under.
pub const SCHEMA: &str = r#"
entity Team;
entity User in [Team];
entity Doc;
type Inner = { n: Long, note?: String, tags?: Set<String> };
action plain appliesTo {
  principal: [User], resource: [Doc],
  context: { level: Long, purpose?: String, flag?: Bool, tags?: Set<String>, inner?: Inner, matrix?: Set<Set<Long>> }
};
action typed appliesTo {
  principal: [User], resource: [Doc],
  context: { who?: User, addr?: ipaddr, amount?: decimal, when?: datetime, span?: duration, readers?: Set<User>, inner?: { owner: User, n?: Long } }
};
action empty appliesTo { principal: [User], resource: [Doc] };
"#;

/// The actions contexts are generated for: the schema's three and one the
/// schema does not declare.
pub const ACTIONS: [&str; 4] = ["plain", "typed", "empty", "undeclared"];

/// A declared attribute's type, for drawing a value that conforms to it.
#[derive(Clone, Copy)]
enum Kind {
    Long,
    Str,
    Bool,
    SetStr,
    Inner,
    Matrix,
    User,
    Ip,
    Decimal,
    Datetime,
    Duration,
    SetUser,
    OwnerRecord,
}

fn declared(action: &str) -> &'static [(&'static str, Kind)] {
    match action {
        "plain" => &[
            ("level", Kind::Long),
            ("purpose", Kind::Str),
            ("flag", Kind::Bool),
            ("tags", Kind::SetStr),
            ("inner", Kind::Inner),
            ("matrix", Kind::Matrix),
        ],
        "typed" => &[
            ("who", Kind::User),
            ("addr", Kind::Ip),
            ("amount", Kind::Decimal),
            ("when", Kind::Datetime),
            ("span", Kind::Duration),
            ("readers", Kind::SetUser),
            ("inner", Kind::OwnerRecord),
        ],
        _ => &[],
    }
}

const STRINGS: [&str; 14] = [
    "",
    "p1",
    "purpose",
    "caf\u{e9} \u{1F600} \u{4e2d}",
    "quote \" backslash \\ newline \n tab \t nul \u{0}",
    "User::\"alice\"",
    "10.0.0.1",
    "192.168.0.0/16",
    "1.2345",
    "12345.67891",
    "2024-10-15",
    "2024-10-15T11:38:02Z",
    "1h30m",
    "__entity",
];

const NUMBERS: [&str; 12] = [
    "0",
    "-1",
    "42",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "1.5",
    "1.0",
    "-0.0",
    "1e3",
];

const KEYS: [&str; 10] = [
    "level", "purpose", "n", "who", "addr", "extra", "", "é", "__entity", "__extn",
];

/// A JSON string literal of `text`.
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

fn pick<'a>(rng: &mut Xoshiro256PlusPlus, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn user(rng: &mut Xoshiro256PlusPlus) -> String {
    let id = pick(rng, &["alice", "bob", "caf\u{e9}", ""]);
    let ty = pick(
        rng,
        &[
            "User", "User", "User", "Team", "Doc", "Nope", "Bad Type", " User", "Ns::User",
        ],
    );
    match rng.random_range(0..4) {
        0 => format!(r#"{{"type": {}, "id": {}}}"#, quoted(ty), quoted(id)),
        1 => format!(
            r#"{{"__entity": "{ty}::{}"}}"#,
            quoted(id).replace('"', "\\\"")
        ),
        2 => quoted(&format!("{ty}::{}", quoted(id))),
        _ => format!(
            r#"{{"__entity": {{"type": {}, "id": {}}}}}"#,
            quoted(ty),
            quoted(id)
        ),
    }
}

fn extension(rng: &mut Xoshiro256PlusPlus, function: &str, args: &[&str]) -> String {
    let arg = pick(rng, args);
    match rng.random_range(0..3) {
        0 => format!(
            r#"{{"__extn": {{"fn": "{function}", "arg": {}}}}}"#,
            quoted(arg)
        ),
        1 => format!(r#"{{"fn": "{function}", "arg": {}}}"#, quoted(arg)),
        _ => quoted(arg),
    }
}

/// A value of `kind`, in one of the JSON forms Cedar may read as it (some of
/// them malformed on purpose: a wrong entity type, a bad extension argument).
fn conforming(rng: &mut Xoshiro256PlusPlus, kind: Kind) -> String {
    match kind {
        Kind::Long => pick(rng, &NUMBERS[..7]).to_owned(),
        Kind::Str => quoted(pick(rng, &STRINGS)),
        Kind::Bool => pick(rng, &["true", "false"]).to_owned(),
        Kind::SetStr => {
            let items: Vec<String> = (0..rng.random_range(0..4))
                .map(|_| quoted(pick(rng, &STRINGS)))
                .collect();
            format!("[{}]", items.join(", "))
        }
        Kind::Inner => {
            let mut entries = vec![format!(r#""n": {}"#, pick(rng, &NUMBERS[..4]))];
            if rng.random_bool(0.5) {
                entries.push(format!(r#""note": {}"#, quoted(pick(rng, &STRINGS))));
            }
            if rng.random_bool(0.5) {
                entries.push(format!(r#""tags": {}"#, conforming(rng, Kind::SetStr)));
            }
            if rng.random_bool(0.1) {
                entries.remove(0);
            }
            format!("{{{}}}", entries.join(", "))
        }
        Kind::Matrix => {
            let rows: Vec<String> = (0..rng.random_range(0..3))
                .map(|_| {
                    let row: Vec<&str> = (0..rng.random_range(0..3))
                        .map(|_| pick(rng, &NUMBERS[..5]))
                        .collect();
                    format!("[{}]", row.join(", "))
                })
                .collect();
            format!("[{}]", rows.join(", "))
        }
        Kind::User => user(rng),
        Kind::Ip => extension(
            rng,
            "ip",
            &["10.0.0.1", "::1", "192.168.0.0/16", "not an ip"],
        ),
        Kind::Decimal => extension(rng, "decimal", &["1.2345", "-0.5", "1.23456", "x"]),
        Kind::Datetime => extension(
            rng,
            "datetime",
            &["2024-10-15", "2024-10-15T11:38:02Z", "2024-13-45", "1h"],
        ),
        Kind::Duration => extension(rng, "duration", &["1h30m", "-2d", "10ms", "2024-10-15"]),
        Kind::SetUser => {
            let items: Vec<String> = (0..rng.random_range(0..3)).map(|_| user(rng)).collect();
            format!("[{}]", items.join(", "))
        }
        Kind::OwnerRecord => {
            let mut entries = vec![format!(r#""owner": {}"#, user(rng))];
            if rng.random_bool(0.5) {
                entries.push(format!(r#""n": {}"#, pick(rng, &NUMBERS[..4])));
            }
            format!("{{{}}}", entries.join(", "))
        }
    }
}

/// Any JSON value Cedar's grammar (or a mistake in it) might hold.
fn any_value(rng: &mut Xoshiro256PlusPlus, depth: u32) -> String {
    let choices = if depth >= 3 { 6 } else { 13 };
    match rng.random_range(0..choices) {
        0 => pick(rng, &["true", "false"]).to_owned(),
        1 | 2 => pick(rng, &NUMBERS).to_owned(),
        3 | 4 => quoted(pick(rng, &STRINGS)),
        5 => "null".to_owned(),
        6 | 7 => {
            let items: Vec<String> = (0..rng.random_range(0..4))
                .map(|_| any_value(rng, depth + 1))
                .collect();
            format!("[{}]", items.join(", "))
        }
        8 | 9 => record(rng, depth + 1),
        10 => user(rng),
        11 => {
            let kind =
                [Kind::Ip, Kind::Decimal, Kind::Datetime, Kind::Duration][rng.random_range(0..4)];
            conforming(rng, kind)
        }
        _ => pick(
            rng,
            &[
                r#"{"__expr": "1 + 1"}"#,
                r#"{"__entity": "not a reference"}"#,
                r#"{"__extn": {"fn": "nope", "arg": "1"}}"#,
                r#"{"__extn": {"fn": "ip"}}"#,
                r#"{"__entity": {"type": "User", "id": "alice"}, "extra": 1}"#,
                // Escapes in forms other than the plainest one.
                r#"{"__entity": {"type": "User", "id": "alice", "extra": 1}}"#,
                r#"{"__entity": {"type": " User", "id": "alice"}}"#,
                r#"{"__entity": {"type": "User ", "id": "alice"}}"#,
                r#"{"__entity": {"type": "__cedar::User", "id": "alice"}}"#,
                r#"{"__entity": {"type": "__cedar", "id": "alice"}}"#,
                r#"{"__entity": {"type": "Ns::User", "id": "alice"}}"#,
                r#"{"__entity": {"type": "Ns :: User", "id": "alice"}}"#,
                r#"{"__entity": {"type": "User", "id": 1}}"#,
                r#"{"__entity": {"type": "User"}}"#,
                r#"{"__entity": {"id": "alice", "type": "Action"}}"#,
                r#"{"__extn": {"fn": "datetime", "arg": "2024-10-15", "extra": 1}}"#,
                r#"{"__extn": {"fn": "decimal", "arg": 1}}"#,
                r#"{"__extn": {"fn": "ip", "args": ["10.0.0.1"]}}"#,
                r#"{"__extn": {"fn": "offset", "args": [{"__extn": {"fn": "datetime", "arg": "2024-10-15"}}, {"__extn": {"fn": "duration", "arg": "1h"}}]}}"#,
                r#"{"__extn": {"fn": "isIpv4", "arg": "10.0.0.1"}}"#,
                r#"{"__extn": {"fn": " ip", "arg": "10.0.0.1"}}"#,
                r#"{"__extn": {"fn": "ip", "arg": {"__extn": {"fn": "ip", "arg": "1.1.1.1"}}}}"#,
                r#"{"__extn": {"fn": "datetime", "arg": "2024-10-15T11:38:02.123+0130"}}"#,
                r#"{"__extn": {"fn": "decimal", "arg": "922337203685477.5808"}}"#,
                r#"{"__extn": {"arg": "1h", "fn": "duration"}}"#,
            ],
        )
        .to_owned(),
    }
}

/// A record of arbitrary keys (duplicates included) and values.
fn record(rng: &mut Xoshiro256PlusPlus, depth: u32) -> String {
    let entries: Vec<String> = (0..rng.random_range(0..4))
        .map(|_| format!("{}: {}", quoted(pick(rng, &KEYS)), any_value(rng, depth)))
        .collect();
    format!("{{{}}}", entries.join(", "))
}

/// A context for `action` as JSON text: usually an object with some of the
/// action's declared attributes (each conforming, or not) and sometimes
/// extra or duplicated ones; sometimes an arbitrary value.
pub fn context(rng: &mut Xoshiro256PlusPlus, action: &str) -> String {
    if rng.random_bool(0.05) {
        return any_value(rng, 0);
    }
    let mut entries = Vec::new();
    for (name, kind) in declared(action) {
        // Each attribute, the required ones too, is left out now and then.
        if rng.random_bool(0.7) {
            let value = if rng.random_bool(0.8) {
                conforming(rng, *kind)
            } else {
                any_value(rng, 1)
            };
            entries.push(format!("{}: {value}", quoted(name)));
        }
    }
    if rng.random_bool(0.15) {
        let key = quoted(pick(rng, &KEYS));
        entries.push(format!("{key}: {}", any_value(rng, 1)));
    }
    if rng.random_bool(0.1) {
        // A duplicate key with another value: serde_json keeps the last one.
        let (name, kind) = declared(action)
            .first()
            .copied()
            .unwrap_or(("level", Kind::Long));
        let value = if rng.random_bool(0.5) {
            conforming(rng, kind)
        } else {
            any_value(rng, 1)
        };
        entries.push(format!("{}: {value}", quoted(name)));
    }
    format!("{{{}}}", entries.join(", "))
}

/// The schema entities are read under ([`entity`]): every value type of
/// [`SCHEMA`]'s contexts as attributes, tags of two types, a type with no
/// tags, an enumerated type and an action.
pub const ENTITY_SCHEMA: &str = r#"
entity Team;
type Inner = { n: Long, note?: String, tags?: Set<String> };
entity User in [Team] {
  level: Long, purpose?: String, flag?: Bool, tags?: Set<String>, inner?: Inner,
  matrix?: Set<Set<Long>>, who?: User, addr?: ipaddr, amount?: decimal,
  when?: datetime, span?: duration, readers?: Set<User>,
  owner?: { owner: User, n?: Long }
} tags String;
entity Doc in [Team, Doc] { n?: Long } tags Set<User>;
entity Color enum ["red", "blue"];
action view appliesTo { principal: [User], resource: [Doc] };
"#;

/// An entity uid of type `ty` (or now and then another) in one of the JSON
/// forms Cedar may read as one (some malformed on purpose).
fn entity_uid(rng: &mut Xoshiro256PlusPlus, ty: &str) -> String {
    let ty = if rng.random_bool(0.9) {
        ty
    } else {
        pick(
            rng,
            &[
                "User", "Team", "Doc", "Color", "Action", "Nope", " User", "Ns::User",
            ],
        )
    };
    let id = pick(rng, &["alice", "red", "view", "caf\u{e9}", ""]);
    match rng.random_range(0..20) {
        0..4 => format!(
            r#"{{"__entity": {{"type": {}, "id": {}}}}}"#,
            quoted(ty),
            quoted(id)
        ),
        4 => quoted(&format!("{ty}::{}", quoted(id))),
        5 => format!(
            r#"{{"type": {}, "id": {}, "x": 1}}"#,
            quoted(ty),
            quoted(id)
        ),
        6 => format!(r#"{{"type": {}}}"#, quoted(ty)),
        _ => format!(r#"{{"type": {}, "id": {}}}"#, quoted(ty), quoted(id)),
    }
}

/// An entity in Cedar's JSON form (as an entities file lists it), over
/// [`ENTITY_SCHEMA`]: usually a user or a document with a `uid`, `attrs`
/// (declared attributes, each conforming or not, sometimes extra ones),
/// `parents` of the types it may have and now and then `tags`; sometimes
/// a part missing, an extra key, an entity of another type, or not an
/// object.
pub fn entity(rng: &mut Xoshiro256PlusPlus) -> String {
    if rng.random_bool(0.03) {
        return any_value(rng, 0);
    }
    let (ty, attributes, parent_types, tag_kind): (&str, Vec<(&str, Kind)>, &[&str], Kind) =
        match rng.random_range(0..10) {
            0..6 => {
                let mut attributes: Vec<(&str, Kind)> = declared("plain")
                    .iter()
                    .chain(declared("typed"))
                    .copied()
                    .filter(|(name, _)| *name != "inner")
                    .collect();
                attributes.push(("owner", Kind::OwnerRecord));
                attributes.push(("inner", Kind::Inner));
                ("User", attributes, &["Team", "Team", "User"], Kind::Str)
            }
            6..9 => (
                "Doc",
                vec![("n", Kind::Long)],
                &["Team", "Doc"],
                Kind::SetUser,
            ),
            _ => (
                pick(rng, &["Team", "Color", "Action", "Nope"]),
                Vec::new(),
                &["Team", "Action"],
                Kind::Str,
            ),
        };
    let mut parts = vec![format!(r#""uid": {}"#, entity_uid(rng, ty))];
    let mut attrs = Vec::new();
    for (index, (name, kind)) in attributes.into_iter().enumerate() {
        // `level`, the first, is required; the others are optional.
        if rng.random_bool(if index == 0 { 0.95 } else { 0.15 }) {
            let value = if rng.random_bool(0.9) {
                conforming(rng, kind)
            } else {
                any_value(rng, 1)
            };
            attrs.push(format!("{}: {value}", quoted(name)));
        }
    }
    if ty == "User" && rng.random_bool(0.3) {
        // A reference as entities files usually write one, which only the
        // schema makes a uid (a duplicate key: the last one counts).
        let owner = if rng.random_bool(0.5) { "who" } else { "owner" };
        let id = quoted(pick(rng, &["alice", "bob"]));
        attrs.push(match owner {
            "who" => format!(r#""who": {{"type": "User", "id": {id}}}"#),
            _ => format!(r#""owner": {{"owner": {{"type": "User", "id": {id}}}, "n": 1}}"#),
        });
    }
    if rng.random_bool(0.1) {
        attrs.push(format!(
            "{}: {}",
            quoted(pick(rng, &KEYS)),
            any_value(rng, 1)
        ));
    }
    if rng.random_bool(0.97) {
        parts.push(format!(r#""attrs": {{{}}}"#, attrs.join(", ")));
    }
    if rng.random_bool(0.97) {
        let parents: Vec<String> = (0..rng.random_range(0..3))
            .map(|_| {
                let ty = pick(rng, parent_types);
                entity_uid(rng, ty)
            })
            .collect();
        parts.push(format!(r#""parents": [{}]"#, parents.join(", ")));
    }
    if rng.random_bool(0.3) {
        let tags: Vec<String> = (0..rng.random_range(0..3))
            .map(|_| {
                let value = if rng.random_bool(0.85) {
                    conforming(rng, tag_kind)
                } else {
                    any_value(rng, 1)
                };
                format!("{}: {value}", quoted(pick(rng, &KEYS)))
            })
            .collect();
        parts.push(format!(r#""tags": {{{}}}"#, tags.join(", ")));
    }
    if rng.random_bool(0.03) {
        parts.push(r#""extra": 1"#.to_owned());
    }
    format!("{{{}}}", parts.join(", "))
}
