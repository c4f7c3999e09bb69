//! Context values the policies themselves suggest: read from each policy's
//! JSON form (Cedar's EST, so comments, spacing and operator spelling do not
//! matter), every literal a condition compares `context.x` with, the values
//! just on each side of an inequality, a string each `like` pattern matches,
//! `context has x` tests (the key present and absent), keys used as booleans
//! (both ways), and entities of the world whose attribute a condition reads
//! through `context.x.attr`. So the search tries a flag or value that no
//! scripted step sends.
//!
//! What the extraction cannot derive (a key compared with a value computed
//! from other attributes or the request, an extension function's argument, a
//! record the world has no entity for, a key tested only with `has`) is kept
//! as [`Unguided`], for the search's caveats.

use std::collections::{BTreeMap, BTreeSet};

use cedar_policy::{EntityUid, PolicySet};
use serde_json::Value;

use crate::load::cedar_files::PolicyJson;

/// The most world entities tried for one `context.x.attr` read.
pub const MAX_ATTRIBUTE_ENTITIES: usize = 4;

/// Why the policies' values for a context key are incomplete.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unguided {
    /// Compared with (or combined into) a value computed from something else:
    /// an attribute, the principal or resource, arithmetic, another key.
    Computed,
    /// An argument of this extension function or method (`ip`, `decimal`,
    /// `isInRange`, …), whose values are not derived.
    Extension(String),
    /// An attribute read out of the key's value (`context.x.y`) that no
    /// entity of the world has: a record of that shape was never built.
    Record(String),
    /// Tested with `has` only: no value to send was derived.
    NoValue,
    /// Every value derived was rejected by the schema's context type.
    IllTyped,
    /// A session presents the key, so it is not varied, not even for the
    /// principals that act alone and present nothing of their own.
    SessionPresented,
}

/// The values to try for one context key, and the actions whose policies
/// read it.
#[derive(Debug, Clone, Default)]
pub struct KeyValues {
    /// The actions (`Action::"x"`) whose policies read the key; `None` when a
    /// policy that reads it applies to every action (or to an action group).
    pub actions: Option<BTreeSet<String>>,
    /// The values, by their JSON text (a fixed order, no duplicates).
    pub values: BTreeMap<String, Value>,
    /// Whether a policy tests `context has x` (so its absence is tried too).
    pub has: bool,
    /// Attribute reads `context.x.attr`, with the literal compared (`==`).
    attribute_reads: BTreeSet<(String, Option<String>)>,
}

impl KeyValues {
    /// Whether the policies read attributes out of the key's value.
    pub fn reads_attributes(&self) -> bool {
        !self.attribute_reads.is_empty()
    }

    /// Whether the policies read the key for requests of `action`.
    pub fn applies_to(&self, action: &str) -> bool {
        self.actions.as_ref().is_none_or(|a| a.contains(action))
    }
}

/// What the policies say about context keys.
#[derive(Debug, Clone, Default)]
pub struct Guidance {
    /// Per key, the values to try.
    pub keys: BTreeMap<String, KeyValues>,
    /// Per key, why its values are incomplete.
    pub unguided: BTreeMap<String, BTreeSet<Unguided>>,
}

/// Reads the policies' and templates' conditions.
pub fn guidance(policies: &PolicySet, json: &PolicyJson) -> Guidance {
    let mut guidance = Guidance::default();
    let jsons = json.in_order(policies).flatten();
    // Sorted by their text, so the policy set's own order does not matter.
    let jsons: BTreeMap<String, &Value> = jsons.map(|j| (j.to_string(), j)).collect();
    for json in jsons.values() {
        let actions = action_scope(json.get("action"));
        let mut found = Found::default();
        if let Some(Value::Array(conditions)) = json.get("conditions") {
            for condition in conditions {
                if let Some(body) = condition.get("body") {
                    walk(body, true, &mut found);
                }
            }
        }
        for (key, values) in found.keys {
            let first = !guidance.keys.contains_key(&key);
            let entry = guidance.keys.entry(key).or_default();
            entry.actions = match (first, entry.actions.take(), &actions) {
                (true, _, scope) => scope.clone(),
                (false, Some(mut mine), Some(theirs)) => {
                    mine.extend(theirs.iter().cloned());
                    Some(mine)
                }
                (false, _, _) => None,
            };
            entry.values.extend(values.values);
            entry.has |= values.has;
            entry.attribute_reads.extend(values.attribute_reads);
        }
        for (key, why) in found.unguided {
            guidance.unguided.entry(key).or_default().extend(why);
        }
    }
    guidance
}

impl Guidance {
    /// Resolves attribute reads (`context.x.attr`) to the world's entities
    /// having that attribute (equal to the literal compared, if any), at most
    /// [`MAX_ATTRIBUTE_ENTITIES`] each; a read no entity answers is a
    /// [`Unguided::Record`].
    pub fn resolve_attributes(&mut self, entities: &BTreeMap<String, Value>) {
        for (key, values) in &mut self.keys {
            for (attribute, literal) in std::mem::take(&mut values.attribute_reads) {
                let mut matched = 0;
                for (uid, entity) in entities {
                    let Some(value) = entity.get("attrs").and_then(|a| a.get(&attribute)) else {
                        continue;
                    };
                    if literal
                        .as_ref()
                        .is_some_and(|l| l.as_str() != value.to_string().as_str())
                    {
                        continue;
                    }
                    let Ok(uid) = uid.parse::<EntityUid>() else {
                        continue;
                    };
                    let value = crate::world::entity_value(&uid);
                    values.values.insert(value.to_string(), value);
                    matched += 1;
                    if matched == MAX_ATTRIBUTE_ENTITIES {
                        break;
                    }
                }
                if matched == 0 {
                    self.unguided
                        .entry(key.clone())
                        .or_default()
                        .insert(Unguided::Record(attribute));
                }
            }
        }
    }
}

/// The actions a policy's scope names with `==`; `None` for every other
/// scope (`in` a list or group, or any action).
fn action_scope(scope: Option<&Value>) -> Option<BTreeSet<String>> {
    let scope = scope?;
    if scope.get("op").and_then(Value::as_str) != Some("==") {
        return None;
    }
    let uid = EntityUid::from_json(scope.get("entity")?.clone()).ok()?;
    Some(BTreeSet::from([uid.to_string()]))
}

/// The keys one policy reads.
#[derive(Default)]
struct Found {
    keys: BTreeMap<String, KeyValues>,
    unguided: BTreeMap<String, BTreeSet<Unguided>>,
}

impl Found {
    fn value(&mut self, key: &str, value: Value) {
        self.keys
            .entry(key.to_string())
            .or_default()
            .values
            .insert(value.to_string(), value);
    }

    fn has(&mut self, key: &str) {
        self.keys.entry(key.to_string()).or_default().has = true;
    }

    fn attribute(&mut self, key: &str, attribute: &str, literal: Option<&Value>) {
        self.keys
            .entry(key.to_string())
            .or_default()
            .attribute_reads
            .insert((attribute.to_string(), literal.map(Value::to_string)));
    }

    fn unguided(&mut self, key: &str, why: Unguided) {
        self.unguided
            .entry(key.to_string())
            .or_default()
            .insert(why);
    }
}

/// The key of `context.x`.
fn context_key(expr: &Value) -> Option<&str> {
    let access = expr.get(".")?;
    if access.get("left")?.get("Var")?.as_str()? != "context" {
        return None;
    }
    access.get("attr")?.as_str()
}

/// `context.x.attr`: the key and the attribute.
fn context_attribute(expr: &Value) -> Option<(&str, &str)> {
    let access = expr.get(".")?;
    let key = context_key(access.get("left")?)?;
    Some((key, access.get("attr")?.as_str()?))
}

/// A literal's value in Cedar's JSON form: `{"Value": v}` (not an extension
/// value), or a set of literals.
fn literal(expr: &Value) -> Option<Value> {
    if let Some(value) = expr.get("Value") {
        return Some(value.clone());
    }
    let Value::Array(items) = expr.get("Set")? else {
        return None;
    };
    items
        .iter()
        .map(literal)
        .collect::<Option<Vec<_>>>()
        .map(Value::Array)
}

/// The single operator of an expression node and its operand(s).
fn node(expr: &Value) -> Option<(&str, &Value)> {
    let Value::Object(map) = expr else {
        return None;
    };
    let mut entries = map.iter();
    let (name, value) = entries.next()?;
    entries.next().is_none().then_some((name.as_str(), value))
}

/// The operators whose operands are expressions (not extension functions).
const OPERATORS: [&str; 31] = [
    "Value",
    "Var",
    "Slot",
    "Unknown",
    "Set",
    "Record",
    "!",
    "neg",
    "==",
    "!=",
    "in",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "+",
    "-",
    "*",
    "contains",
    "containsAll",
    "containsAny",
    "isEmpty",
    "getTag",
    "hasTag",
    ".",
    "has",
    "like",
    "is",
    "if-then-else",
];

/// Walks a condition; `boolean` says whether the expression stands where
/// Cedar expects a boolean (a condition, an operand of `&&`, `||`, `!`, an
/// `if`), so a key there is tried both ways.
fn walk(expr: &Value, boolean: bool, found: &mut Found) {
    if let Some(key) = context_key(expr) {
        if boolean {
            found.value(key, Value::Bool(true));
            found.value(key, Value::Bool(false));
        } else {
            found.unguided(key, Unguided::Computed);
        }
        return;
    }
    if let Some((key, attribute)) = context_attribute(expr) {
        found.attribute(key, attribute, None);
        return;
    }
    let Some((name, operand)) = node(expr) else {
        return;
    };
    let left = operand.get("left");
    let right = operand.get("right");
    match name {
        "Value" | "Var" | "Slot" | "Unknown" => {}
        "Set" | "Record" => walk_all(operand, found),
        "&&" | "||" => {
            left.into_iter()
                .chain(right)
                .for_each(|side| walk(side, true, found));
        }
        "!" => {
            if let Some(arg) = operand.get("arg") {
                walk(arg, true, found);
            }
        }
        "if-then-else" => {
            if let Some(condition) = operand.get("if") {
                walk(condition, true, found);
            }
            for branch in ["then", "else"] {
                if let Some(branch) = operand.get(branch) {
                    walk(branch, boolean, found);
                }
            }
        }
        "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "contains" | "containsAll"
        | "containsAny" => {
            let (Some(left), Some(right)) = (left, right) else {
                return;
            };
            compare(name, left, right, found);
        }
        "has" => {
            let Some(left) = left else { return };
            let attribute = match operand.get("attr") {
                Some(Value::String(name)) => Some(name.as_str()),
                Some(Value::Array(path)) => path.first().and_then(Value::as_str),
                _ => None,
            };
            if left.get("Var").and_then(Value::as_str) == Some("context") {
                if let Some(key) = attribute {
                    found.has(key);
                    // `context has x.y`: a record shape under `x`.
                    if let Some(Value::Array(path)) = operand.get("attr")
                        && let Some(Value::String(inner)) = path.get(1)
                    {
                        found.attribute(key, inner, None);
                    }
                }
            } else if let (Some(key), Some(attribute)) = (context_key(left), attribute) {
                found.attribute(key, attribute, None);
            } else {
                walk(left, false, found);
            }
        }
        "like" => {
            let Some(left) = left else { return };
            match (context_key(left), operand.get("pattern")) {
                (Some(key), Some(Value::Array(pattern))) => {
                    let text: String = pattern
                        .iter()
                        .filter_map(|element| element.get("Literal").and_then(Value::as_str))
                        .collect();
                    found.value(key, Value::String(text));
                }
                _ => walk(left, false, found),
            }
        }
        name if !OPERATORS.contains(&name) => {
            // An extension function or method: its arguments are not derived.
            if let Value::Array(arguments) = operand {
                for argument in arguments {
                    match context_key(argument) {
                        Some(key) => found.unguided(key, Unguided::Extension(name.to_string())),
                        None => walk(argument, false, found),
                    }
                }
            }
        }
        _ => walk_all(operand, found),
    }
}

/// Walks every expression under a node as a non-boolean operand.
fn walk_all(operand: &Value, found: &mut Found) {
    match operand {
        Value::Object(map) => map.values().for_each(|value| match value {
            Value::Object(_) => walk(value, false, found),
            Value::Array(items) => items.iter().for_each(|item| walk(item, false, found)),
            _ => {}
        }),
        Value::Array(items) => items.iter().for_each(|item| walk(item, false, found)),
        _ => {}
    }
}

/// A comparison: a key on either side of a literal gets that literal's
/// values; anything else on the other side makes the key computed.
fn compare(operator: &str, left: &Value, right: &Value, found: &mut Found) {
    let sides = [(left, right, true), (right, left, false)];
    let mut handled = false;
    for (side, other, on_left) in sides {
        if let Some(key) = context_key(side) {
            handled = true;
            match literal(other) {
                Some(value) => literal_values(operator, key, &value, on_left, found),
                None => {
                    let why = match node(other) {
                        Some((name, _)) if !OPERATORS.contains(&name) => {
                            Unguided::Extension(name.to_string())
                        }
                        _ => Unguided::Computed,
                    };
                    found.unguided(key, why);
                    walk(other, false, found);
                }
            }
        } else if let Some((key, attribute)) = context_attribute(side) {
            handled = true;
            let value = (operator == "==").then(|| literal(other)).flatten();
            found.attribute(key, attribute, value.as_ref());
            if value.is_none() {
                walk(other, false, found);
            }
        }
    }
    if !handled {
        walk(left, false, found);
        walk(right, false, found);
    }
}

/// The values of `context.key <operator> value` (the key on the left when
/// `on_left`).
fn literal_values(operator: &str, key: &str, value: &Value, on_left: bool, found: &mut Found) {
    match (operator, value) {
        ("==" | "!=", Value::Bool(b)) => {
            found.value(key, Value::Bool(*b));
            found.value(key, Value::Bool(!b));
        }
        ("<" | "<=" | ">" | ">=" | "==" | "!=", Value::Number(n)) if n.as_i64().is_some() => {
            let n = n.as_i64().unwrap_or_default();
            for m in [n.checked_sub(1), Some(n), n.checked_add(1)]
                .into_iter()
                .flatten()
            {
                found.value(key, Value::from(m));
            }
        }
        ("in", Value::Array(items)) if on_left => {
            for item in items {
                found.value(key, item.clone());
            }
        }
        ("contains", _) if on_left => found.value(key, Value::Array(vec![value.clone()])),
        ("contains", Value::Array(items)) => {
            for item in items {
                found.value(key, item.clone());
            }
        }
        ("containsAll" | "containsAny", Value::Array(items)) => {
            found.value(key, value.clone());
            if let Some(first) = items.first() {
                found.value(key, Value::Array(vec![first.clone()]));
            }
        }
        ("<" | "<=" | ">" | ">=", _) => found.unguided(key, Unguided::Computed),
        // `==`, `!=`, `in` an entity: the literal itself.
        _ => found.value(key, value.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guide(text: &str) -> Guidance {
        let set: PolicySet = text.parse().expect("policies parse");
        guidance(&set, &PolicyJson::of(&set))
    }

    fn values(guidance: &Guidance, key: &str) -> Vec<String> {
        guidance.keys[key].values.keys().cloned().collect()
    }

    #[test]
    fn literals_compared_with_context_keys_are_values_to_try() {
        let g = guide(
            r#"permit(principal, action == Action::"a", resource) when {
                context.flag && context.level >= 3 && context.name like "INC-*"
                && context.kind == "ops" && context.team in Team::"t"
                && context.tags.contains("x") && [1, 2].containsAny(context.nums)
                && context has extra && 5 > context.depth2 && !context.off
            };"#,
        );
        assert_eq!(values(&g, "flag"), ["false", "true"]);
        assert_eq!(values(&g, "level"), ["2", "3", "4"]);
        assert_eq!(values(&g, "name"), ["\"INC-\""]);
        assert_eq!(values(&g, "kind"), ["\"ops\""]);
        assert_eq!(
            values(&g, "team"),
            [r#"{"__entity":{"type":"Team","id":"t"}}"#]
        );
        assert_eq!(values(&g, "tags"), [r#"["x"]"#]);
        assert_eq!(values(&g, "nums"), ["[1,2]", "[1]"]);
        assert_eq!(values(&g, "depth2"), ["4", "5", "6"]);
        assert_eq!(values(&g, "off"), ["false", "true"]);
        assert!(g.keys["extra"].has);
        assert_eq!(
            g.keys["flag"].actions,
            Some(BTreeSet::from(["Action::\"a\"".to_string()]))
        );
        assert!(g.unguided.is_empty(), "{:?}", g.unguided);
    }

    #[test]
    fn what_cannot_be_derived_is_unguided() {
        let g = guide(
            r#"permit(principal, action, resource) when {
                context.owner == principal && context.count + 1 > 2
                && ip(context.addr).isInRange(ip("10.0.0.0/8"))
                && context.rec.field == 3
            };"#,
        );
        assert_eq!(g.unguided["owner"], BTreeSet::from([Unguided::Computed]));
        assert_eq!(g.unguided["count"], BTreeSet::from([Unguided::Computed]));
        assert_eq!(
            g.unguided["addr"],
            BTreeSet::from([Unguided::Extension("ip".to_string())])
        );
        let mut g = g;
        g.resolve_attributes(&BTreeMap::new());
        assert_eq!(
            g.unguided["rec"],
            BTreeSet::from([Unguided::Record("field".to_string())])
        );
        // Only what was derived is a key with values.
        assert!(!g.keys.contains_key("owner") && !g.keys.contains_key("addr"));
    }
}
