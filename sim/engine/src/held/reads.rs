//! What a policy's conditions can observe of the resource, read from Cedar's
//! JSON form (the EST) by a whitelist: every node kind of the EST has its own
//! arm, and anything else (an operator or extension function this module does
//! not know, a malformed node, a partial-evaluation `unknown`) makes the
//! policy [`Opaque`], so that every resource becomes a class of its own.
//!
//! # Why the classes are exact
//!
//! Let `R` be the policy's relevant set (see the module comment of `held`)
//! and `r1`, `r2` two resources outside `R` with the same type, the same
//! values of every attribute name in [`Reads::names`], the same tags (if
//! [`Reads::tags`]), and, if [`Reads::resource_in`], the same ancestors within
//! `R`. Rename `r1` to `r2` everywhere in an evaluation of the policy for
//! `r1`: every value the evaluation produces is built from literals, the
//! principal, action and context (all in `R`), attribute and tag values of
//! entities (all in `R`: that is how `R` is made, and a value holding `r1`
//! would put `r1` in `R`), the resource, and primitives computed from these.
//! So the renaming only touches the resource, and each operator gives the
//! renamed result for the renamed operands:
//!
//! - `==`, `!=`, `contains`, `containsAll`, `containsAny`, `in` with a set on
//!   the right: equality, and renaming `r1` (outside `R`) to `r2` (outside
//!   `R`) is injective on every value that can occur;
//! - `is`: the types are equal; `.`, `has`, `getTag`, `hasTag` on the
//!   resource: the names read are all in [`Reads::names`] (and tags in
//!   [`Reads::tags`]), with equal values; on other entities: nothing renamed;
//! - `x in y` when `y` may be the resource and `x` is not: false for both,
//!   because `R` is closed over ancestors and the resource is not in `R`;
//! - `x in y` (or `x is T in y`) when `x` may be the resource: the ancestors
//!   of `r1` and `r2` within `R` are equal, and this is exactly where
//!   [`Reads::resource_in`] is set, by tracking which values may hold the
//!   resource ([`Taint`]) through records, sets, `if`, attribute access on
//!   such values and tags;
//! - everything else (`!`, `-`, `+`, `*`, comparisons, `&&`, `||`, `like`,
//!   `isEmpty`, `if`, records, sets, the `ip`/`decimal`/`datetime`/`duration`
//!   functions and methods) computes from its operands alone, and errors
//!   (which make a policy unsatisfied) happen for both or neither.
//!
//! The bug this replaced looked for the resource on the left of `in` in a
//! blacklist of shapes and missed `resource is T in E` and `{r: resource}.r
//! in E`: a whitelist can only be too coarse by falling back.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// What a policy's conditions observe of the resource, beyond its type.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Reads {
    /// Attribute names read anywhere (`.`, `has`, `has a.b`, `["a"]`).
    pub names: BTreeSet<String>,
    /// Whether tags are read (`getTag`, `hasTag`).
    pub tags: bool,
    /// Whether any `in` (or `is ... in`) is evaluated at all.
    pub uses_in: bool,
    /// Whether an `in` (or `is ... in`) may have the resource, or a value
    /// holding it, on its left: only then do the resource's ancestors matter.
    pub resource_in: bool,
}

/// A condition this module does not fully understand: the policy must keep
/// every resource apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Opaque;

/// Whether a value may be the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Taint {
    /// Cannot be or hold the resource.
    Clean,
    /// Is the resource itself (`resource`).
    Resource,
    /// May be, or hold, the resource (a record, set or `if` built from it,
    /// or something read out of one).
    Holds,
}

impl Taint {
    fn join(self, other: Taint) -> Taint {
        if self == Taint::Clean && other == Taint::Clean {
            Taint::Clean
        } else {
            Taint::Holds
        }
    }
}

/// Cedar's extension functions and methods (in the EST, a method call is a
/// function call with the receiver first). None of them returns an entity.
const EXTENSION_FUNCTIONS: [&str; 22] = [
    "ip",
    "isIpv4",
    "isIpv6",
    "isLoopback",
    "isMulticast",
    "isInRange",
    "decimal",
    "lessThan",
    "lessThanOrEqual",
    "greaterThan",
    "greaterThanOrEqual",
    "datetime",
    "duration",
    "offset",
    "durationSince",
    "toDate",
    "toTime",
    "toDays",
    "toHours",
    "toMinutes",
    "toSeconds",
    "toMilliseconds",
];

/// Reads the `conditions` of a policy's JSON form (an array of `{"kind",
/// "body"}`) into `reads`.
pub(super) fn conditions(json: &Value, reads: &mut Reads) -> Result<(), Opaque> {
    let Value::Array(conditions) = json else {
        return Err(Opaque);
    };
    for condition in conditions {
        match condition.get("kind").and_then(Value::as_str) {
            Some("when" | "unless") => {}
            _ => return Err(Opaque),
        }
        let body = condition.get("body").ok_or(Opaque)?;
        expression(body, reads)?;
    }
    Ok(())
}

fn field<'j>(node: &'j Value, name: &str) -> Result<&'j Value, Opaque> {
    node.get(name).ok_or(Opaque)
}

/// Walks both operands of a binary node.
fn binary(node: &Value, reads: &mut Reads) -> Result<(Taint, Taint), Opaque> {
    let left = expression(field(node, "left")?, reads)?;
    let right = expression(field(node, "right")?, reads)?;
    Ok((left, right))
}

/// Walks one expression; returns whether its value may be the resource.
fn expression(json: &Value, reads: &mut Reads) -> Result<Taint, Opaque> {
    let Value::Object(map) = json else {
        return Err(Opaque);
    };
    let mut entries = map.iter();
    let (Some((kind, node)), None) = (entries.next(), entries.next()) else {
        return Err(Opaque);
    };
    match kind.as_str() {
        // Literals: their entities are among the policy's literals.
        "Value" | "Slot" => Ok(Taint::Clean),
        "Var" => match node.as_str() {
            Some("resource") => Ok(Taint::Resource),
            Some("principal" | "action" | "context") => Ok(Taint::Clean),
            _ => Err(Opaque),
        },
        "!" | "neg" | "isEmpty" => {
            expression(field(node, "arg")?, reads)?;
            Ok(Taint::Clean)
        }
        "==" | "!=" | "<" | "<=" | ">" | ">=" | "&&" | "||" | "+" | "-" | "*" | "contains"
        | "containsAll" | "containsAny" => {
            binary(node, reads)?;
            Ok(Taint::Clean)
        }
        "in" => {
            let (left, _) = binary(node, reads)?;
            reads.uses_in = true;
            reads.resource_in |= left != Taint::Clean;
            Ok(Taint::Clean)
        }
        "hasTag" => {
            reads.tags = true;
            binary(node, reads)?;
            Ok(Taint::Clean)
        }
        "getTag" => {
            reads.tags = true;
            let (left, _) = binary(node, reads)?;
            Ok(read_out_of(left))
        }
        "." => {
            let name = field(node, "attr")?.as_str().ok_or(Opaque)?;
            reads.names.insert(name.to_string());
            let left = expression(field(node, "left")?, reads)?;
            Ok(read_out_of(left))
        }
        "has" => {
            match field(node, "attr")? {
                Value::String(name) => {
                    reads.names.insert(name.clone());
                }
                Value::Array(path) if !path.is_empty() => {
                    for name in path {
                        reads.names.insert(name.as_str().ok_or(Opaque)?.to_string());
                    }
                }
                _ => return Err(Opaque),
            }
            expression(field(node, "left")?, reads)?;
            Ok(Taint::Clean)
        }
        "like" => {
            field(node, "pattern")?;
            expression(field(node, "left")?, reads)?;
            Ok(Taint::Clean)
        }
        "is" => {
            field(node, "entity_type")?.as_str().ok_or(Opaque)?;
            let left = expression(field(node, "left")?, reads)?;
            if let Some(ancestor) = node.get("in") {
                expression(ancestor, reads)?;
                reads.uses_in = true;
                reads.resource_in |= left != Taint::Clean;
            }
            Ok(Taint::Clean)
        }
        "if-then-else" => {
            expression(field(node, "if")?, reads)?;
            let then = expression(field(node, "then")?, reads)?;
            let otherwise = expression(field(node, "else")?, reads)?;
            Ok(then.join(otherwise))
        }
        "Set" => {
            let Value::Array(items) = node else {
                return Err(Opaque);
            };
            let mut taint = Taint::Clean;
            for item in items {
                taint = taint.join(expression(item, reads)?);
            }
            Ok(taint)
        }
        "Record" => {
            let Value::Object(fields) = node else {
                return Err(Opaque);
            };
            record(fields, reads)
        }
        name if EXTENSION_FUNCTIONS.contains(&name) => {
            let Value::Array(arguments) = node else {
                return Err(Opaque);
            };
            for argument in arguments {
                expression(argument, reads)?;
            }
            Ok(Taint::Clean)
        }
        // Anything else, `unknown` and the tolerant parser's error nodes
        // included, is not understood.
        _ => Err(Opaque),
    }
}

fn record(fields: &Map<String, Value>, reads: &mut Reads) -> Result<Taint, Opaque> {
    let mut taint = Taint::Clean;
    for value in fields.values() {
        taint = taint.join(expression(value, reads)?);
    }
    Ok(taint)
}

/// The taint of an attribute or tag read out of a value: an attribute of the
/// resource is an entity value in R (or the resource is in R itself), but
/// one read out of a record holding the resource may be the resource.
fn read_out_of(left: Taint) -> Taint {
    match left {
        Taint::Clean | Taint::Resource => Taint::Clean,
        Taint::Holds => Taint::Holds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(condition: &str) -> Result<Reads, Opaque> {
        let text = format!("permit(principal, action, resource) when {{ {condition} }};");
        let policy = cedar_policy::Policy::parse(None, &text).map_err(|_| Opaque)?;
        let json = policy.to_json().map_err(|_| Opaque)?;
        let mut reads = Reads::default();
        conditions(json.get("conditions").ok_or(Opaque)?, &mut reads)?;
        Ok(reads)
    }

    #[test]
    fn the_resource_on_the_left_of_in_is_found_through_every_shape() {
        for condition in [
            r#"resource in Folder::"f""#,
            r#"resource is Doc in Folder::"f""#,
            r#"{r: resource}.r in Folder::"f""#,
            r#"{r: resource}["r"] is Doc in Folder::"f""#,
            r#"(if context.x then resource else principal) in Folder::"f""#,
            r#"[resource] in Folder::"f""#,
            r#"{a: [resource]}.a in Folder::"f""#,
        ] {
            let reads = read(condition);
            assert!(
                reads.as_ref().is_ok_and(|r| r.resource_in && r.uses_in),
                "`{condition}`: {reads:?}"
            );
        }
    }

    #[test]
    fn in_without_the_resource_on_its_left_does_not_read_ancestry() {
        for condition in [
            r#"principal in Group::"g""#,
            r#"resource.owner in Group::"g""#,
            r#"principal in resource"#,
            r#"principal is User in [resource]"#,
        ] {
            let reads = read(condition);
            assert!(
                reads.as_ref().is_ok_and(|r| !r.resource_in && r.uses_in),
                "`{condition}`: {reads:?}"
            );
        }
    }

    #[test]
    fn names_and_tags_are_read_from_every_access() {
        let reads = read(
            r#"resource has a.b && {r: resource}.r.c == 1 && resource["d"] like "x*" && resource.hasTag("t")"#,
        );
        let expected: BTreeSet<String> = ["a", "b", "c", "d", "r"].map(String::from).into();
        assert!(
            reads
                .as_ref()
                .is_ok_and(|r| r.names == expected && r.tags && !r.uses_in),
            "{reads:?}"
        );
    }

    #[test]
    fn unknown_nodes_make_the_policy_opaque() {
        let mut reads = Reads::default();
        for body in [
            serde_json::json!({ "frobnicate": [{ "Var": "resource" }] }),
            serde_json::json!({ "Var": "somebody" }),
            serde_json::json!({ "==": { "left": { "Var": "resource" } } }),
            serde_json::json!({ "Var": "resource", "Value": 1 }),
            serde_json::json!({ "unknown": [{ "Value": "x" }] }),
        ] {
            let json = serde_json::json!([{ "kind": "when", "body": body }]);
            assert_eq!(conditions(&json, &mut reads), Err(Opaque), "{json}");
        }
        assert_eq!(
            conditions(
                &serde_json::json!([{ "kind": "maybe", "body": { "Value": true } }]),
                &mut reads
            ),
            Err(Opaque)
        );
    }

    #[test]
    fn every_extension_function_is_understood() {
        let reads = read(
            r#"ip("10.0.0.1").isInRange(ip("10.0.0.0/8")) && ip("::1").isLoopback() && ip("::1").isIpv6() && !ip("1.1.1.1").isIpv4() && !ip("1.1.1.1").isMulticast()
               && decimal("1.5").lessThan(decimal("2.0")) && decimal("1.5").lessThanOrEqual(decimal("2.0")) && decimal("3.0").greaterThan(decimal("2.0")) && decimal("3.0").greaterThanOrEqual(decimal("2.0"))
               && datetime("2026-01-01").offset(duration("1h")).durationSince(datetime("2026-01-01")).toMilliseconds() > 0
               && datetime("2026-01-01").toDate() == datetime("2026-01-01") && datetime("2026-01-01").toTime().toHours() == 0
               && duration("1d").toDays() == 1 && duration("1d").toMinutes() > 0 && duration("1d").toSeconds() > 0"#,
        );
        assert!(reads.is_ok(), "{reads:?}");
    }
}
