//! Risk weights of actions, for the weighted least-privilege gap. An action's
//! weight comes from the scenario's `[risk]` table (a number, or a class name),
//! else from its class guessed from its name: read-like 1, write-like 3, and
//! delete / admin / impersonate / approve / rotate / export / grant 10.

use std::collections::BTreeMap;

/// Weight of read-like actions.
pub const READ: u64 = 1;
/// Weight of write-like actions.
pub const WRITE: u64 = 3;
/// Weight of destructive and privilege-changing actions.
pub const HIGH: u64 = 10;

/// The classes a scenario may name, with their weights.
pub const CLASSES: &[(&str, u64)] = &[
    ("read", READ),
    ("write", WRITE),
    ("delete", HIGH),
    ("admin", HIGH),
    ("impersonate", HIGH),
    ("approve", HIGH),
    ("rotate", HIGH),
    ("export", HIGH),
    ("grant", HIGH),
];

/// Name fragments that make an action high-risk when the scenario says nothing.
const HIGH_WORDS: &[&str] = &[
    "delete",
    "remove",
    "destroy",
    "purge",
    "admin",
    "impersonate",
    "approve",
    "rotate",
    "export",
    "grant",
    "assign",
    "delegate",
    "escalate",
    "revoke",
    "issue",
    "sudo",
];
/// Name fragments that make an action read-like when the scenario says nothing.
const READ_WORDS: &[&str] = &[
    "read",
    "get",
    "list",
    "view",
    "search",
    "describe",
    "query",
    "watch",
    "fetch",
    "retrieve",
    "summarize",
    "browse",
];

/// Action weights: the scenario's overrides, then the name-based defaults.
#[derive(Debug, Clone, Default)]
pub struct RiskWeights {
    /// Action UID string → weight, from `[risk]`.
    pub overrides: BTreeMap<String, u64>,
}

impl RiskWeights {
    /// The weight of an action, given as its Cedar UID string.
    pub fn weight(&self, action: &str) -> u64 {
        if let Some(&weight) = self.overrides.get(action) {
            return weight;
        }
        default_weight(action)
    }
}

/// The weight of a class name, if it is one.
pub fn class_weight(class: &str) -> Option<u64> {
    CLASSES
        .iter()
        .find(|(name, _)| *name == class)
        .map(|&(_, weight)| weight)
}

/// The weight guessed from an action's id (the part in quotes), case-insensitively.
pub fn default_weight(action: &str) -> u64 {
    let id = action.rsplit("::").next().unwrap_or(action).to_lowercase();
    if HIGH_WORDS.iter().any(|word| id.contains(word)) {
        HIGH
    } else if READ_WORDS.iter().any(|word| id.contains(word)) {
        READ
    } else {
        WRITE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_pick_the_class() {
        assert_eq!(default_weight(r#"Action::"readTicket""#), READ);
        assert_eq!(default_weight(r#"Action::"ListRepos""#), READ);
        assert_eq!(default_weight(r#"Action::"exportCustomers""#), HIGH);
        assert_eq!(default_weight(r#"Acme::Action::"approveRefund""#), HIGH);
        assert_eq!(default_weight(r#"Action::"draftReply""#), WRITE);
        let mut weights = RiskWeights::default();
        weights
            .overrides
            .insert(r#"Action::"draftReply""#.to_string(), 7);
        assert_eq!(weights.weight(r#"Action::"draftReply""#), 7);
        assert_eq!(class_weight("rotate"), Some(HIGH));
        assert_eq!(class_weight("nonsense"), None);
    }
}
