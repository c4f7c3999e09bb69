//! Narrowing by delegator (`suggest --by-delegator`): where the scenario puts
//! the delegator a session acts for into its requests, a suggested permit is
//! limited to the delegators its uses were made for, with the condition a
//! Cedar user would write (`context.delegator == User::"alice"`).
//!
//! The condition tests exactly the value the replayed requests carried at that
//! context path, so it can only remove: a suggested permit keeps the candidate
//! permit's own scope and conditions, and this one is added to them.

use std::collections::{BTreeMap, BTreeSet};

use cedar_policy::EntityUid;
use serde_json::Value;

use crate::load::Scenario;

/// How deep into a request context [`find`] looks for the delegator.
const MAX_DEPTH: usize = 3;

/// Where the requests carry the delegator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegatorPath {
    /// The context keys, outermost first (`["session", "delegator"]`).
    pub keys: Vec<String>,
    /// Whether it is the nearest delegator (`true`) or the root of the chain.
    pub nearest: bool,
    /// Whether the scenario's `[facts]` map it (else it was found in the
    /// requests' own context entries, e.g. those a log import recorded).
    pub from_facts: bool,
    /// Whether every step's context has it (else the condition tests `has` first).
    pub everywhere: bool,
}

impl DelegatorPath {
    /// `context.session.delegator`, as Cedar text.
    pub fn expression(&self) -> String {
        let mut text = String::from("context");
        for key in &self.keys {
            if is_identifier(key) {
                text.push('.');
                text.push_str(key);
            } else {
                text.push('[');
                text.push_str(&super::cedar_string(key));
                text.push(']');
            }
        }
        text
    }

    /// The condition limiting a permit to these delegators (Cedar UID strings).
    pub fn condition(&self, delegators: &BTreeSet<String>) -> String {
        let value = self.expression();
        let test = match delegators.iter().collect::<Vec<_>>().as_slice() {
            [one] => format!("{value} == {one}"),
            many => format!(
                "[{}].contains({value})",
                many.iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        if self.everywhere && !self.from_facts {
            return test;
        }
        let mut guards = Vec::new();
        let mut owner = String::from("context");
        for key in &self.keys {
            let attribute = if is_identifier(key) {
                key.clone()
            } else {
                super::cedar_string(key)
            };
            guards.push(format!("{owner} has {attribute}"));
            if is_identifier(key) {
                owner = format!("{owner}.{key}");
            } else {
                owner = format!("{owner}[{}]", super::cedar_string(key));
            }
        }
        guards.push(test);
        guards.join(" && ")
    }

    /// Says where the delegator was found, for the notes.
    pub fn describe(&self) -> String {
        let which = if self.nearest {
            "the delegator each session acts for"
        } else {
            "the root of each delegation chain (the one the work is for)"
        };
        let whence = if self.from_facts {
            "mapped by the scenario's `[facts]`"
        } else {
            "carried in every delegated request's context"
        };
        format!("`{}` ({which}, {whence})", self.expression())
    }

    /// The delegator a request context carries, as a Cedar UID string.
    pub fn value_in(&self, context: &Value) -> Option<String> {
        let mut value = context;
        for key in &self.keys {
            value = value.get(key)?;
        }
        entity_of(value).map(|uid| uid.to_string())
    }
}

/// Where the scenario exposes the delegator to policies: the `[facts]`
/// `delegator` (or `root`) key, else a context path that holds, in every
/// delegated step, the step's delegator (or else its chain's root). `None`
/// when policies cannot see the delegator, or no step is delegated.
pub fn find(scenario: &Scenario) -> Option<DelegatorPath> {
    let everywhere = |keys: &[String]| {
        scenario.steps.iter().all(|step| {
            let mut value: &Value = &step.context;
            keys.iter().all(|key| match value.get(key) {
                Some(inner) => {
                    value = inner;
                    true
                }
                None => false,
            })
        })
    };
    for (key, nearest) in [
        (&scenario.facts.delegator, true),
        (&scenario.facts.root, false),
    ] {
        if let Some(key) = key {
            let keys = vec![key.clone()];
            return Some(DelegatorPath {
                everywhere: everywhere(&keys),
                keys,
                nearest,
                from_facts: true,
            });
        }
    }
    let mut nearest_paths: Option<BTreeSet<Vec<String>>> = None;
    let mut root_paths: Option<BTreeSet<Vec<String>>> = None;
    for step in &scenario.steps {
        let (Some(root), Some(delegator)) = (
            step.chain.first(),
            step.chain
                .len()
                .checked_sub(2)
                .and_then(|i| step.chain.get(i)),
        ) else {
            continue;
        };
        let mut found: BTreeMap<Vec<String>, EntityUid> = BTreeMap::new();
        entity_paths(&step.context, &mut Vec::new(), &mut found);
        let holding = |wanted: &EntityUid| -> BTreeSet<Vec<String>> {
            found
                .iter()
                .filter(|(_, uid)| *uid == wanted)
                .map(|(path, _)| path.clone())
                .collect()
        };
        let here_nearest = holding(delegator);
        let here_root = holding(root);
        nearest_paths = Some(match nearest_paths {
            None => here_nearest,
            Some(known) => known.intersection(&here_nearest).cloned().collect(),
        });
        root_paths = Some(match root_paths {
            None => here_root,
            Some(known) => known.intersection(&here_root).cloned().collect(),
        });
    }
    let shortest = |paths: Option<BTreeSet<Vec<String>>>| {
        paths?
            .into_iter()
            .min_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)))
    };
    let (keys, nearest) = match shortest(nearest_paths) {
        Some(keys) => (keys, true),
        None => (shortest(root_paths)?, false),
    };
    Some(DelegatorPath {
        everywhere: everywhere(&keys),
        keys,
        nearest,
        from_facts: false,
    })
}

/// Every path to an entity value in a context, up to [`MAX_DEPTH`] keys deep.
fn entity_paths(
    value: &Value,
    path: &mut Vec<String>,
    found: &mut BTreeMap<Vec<String>, EntityUid>,
) {
    if let Some(uid) = entity_of(value).filter(|_| !path.is_empty()) {
        found.insert(path.clone(), uid);
        return;
    }
    if path.len() >= MAX_DEPTH {
        return;
    }
    if let Some(object) = value.as_object() {
        for (key, inner) in object {
            path.push(key.clone());
            entity_paths(inner, path, found);
            path.pop();
        }
    }
}

/// The entity a Cedar JSON value stands for (`{"__entity": {...}}`).
fn entity_of(value: &Value) -> Option<EntityUid> {
    let inner = value.get("__entity")?;
    EntityUid::from_json(inner.clone()).ok()
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(
            key,
            "true" | "false" | "if" | "then" | "else" | "in" | "like" | "has" | "is"
        )
}
