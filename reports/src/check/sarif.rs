//! The gate's SARIF 2.1.0: a result per change (failing ones as errors,
//! accepted ones as errors with an external suppression carrying the
//! exception's reason, the others as notes), one per stale exception and
//! one per scenario file that could not be loaded,
//! located at the policy, step or rule a reviewer should look at. Built into
//! the serde types the run's SARIF uses (`sarif/model.rs`).

use privsim_model::check::{ChangeStatus, CheckResult, ExceptionState, RuleStatus};

use super::{kind_listed, kind_text, kinds_in_rule_order, split_location, title};
use crate::sarif::model::{
    ChangeProperties, ConfigProperties, Empty, Location, Log, Message, Properties, PropertiesTail,
    PropertiesThenMore, Rule, Run, SarifResult, StatusProperties, Suppression, Tail,
};

/// The SARIF log, pretty-printed, ending in a newline.
pub fn sarif(result: &CheckResult) -> String {
    // Every value through `escape_control` first: JSON leaves DEL and the C1
    // controls raw, and SARIF viewers show messages as they are.
    let printable = crate::printable(result);
    let result = printable.as_ref().unwrap_or(result);
    let mut rules: Vec<(&str, &str, &str)> = kinds_in_rule_order()
        .into_iter()
        .filter(|kind| kind_listed(*kind, result))
        .map(|kind| {
            let (_, title, description) = kind_text(kind);
            (kind.as_str(), title, description)
        })
        .collect();
    rules.push((
        "stale-exception",
        "stale exception",
        "An exception of the gate configuration matches no change: remove it, so it cannot hide a future one.",
    ));
    if result.budget_exhausted.is_some() {
        rules.push((
            "budget-exhausted",
            "time budget exhausted",
            "The check ran out of its time budget: some scenarios were not checked, or checked with the search or proofs cut short.",
        ));
    }
    if result.config_change.is_some() {
        rules.push((
            "config-change",
            "gate configuration changed",
            "The gate configuration differs from the baseline revision's: the baseline's rules applied, and the change fails the gate unless they allow it.",
        ));
    }
    if !result.load_errors.is_empty() {
        rules.push(crate::sarif::LOAD_ERROR);
    }
    let rule_index = |id: &str| rules.iter().position(|r| r.0 == id).unwrap_or(0);
    let mut results = Vec::new();
    for scenario in &result.scenarios {
        for change in &scenario.changes {
            let (file, line) = split_location(change.location.as_deref().unwrap_or(&scenario.file));
            let mut related_locations = Vec::new();
            for policy in &change.policies {
                if let Some(at) = &policy.location {
                    let (file, line) = split_location(at);
                    let id = related_locations.len();
                    related_locations.push(Location::related_id_first(
                        &file,
                        line.max(1),
                        id,
                        &format!("policy `{}`", policy.id),
                    ));
                }
            }
            let suppressions = result
                .exceptions
                .iter()
                .find(|e| Some(&e.location) == change.exception.as_ref())
                .filter(|_| change.status == ChangeStatus::Excepted)
                .map(|exception| Suppression {
                    kind: "external",
                    status: "accepted",
                    justification: format!("{} ({})", exception.reason, exception.location),
                })
                .into_iter()
                .collect();
            results.push(SarifResult {
                rule_id: change.kind.to_string(),
                rule_index: rule_index(change.kind.as_str()),
                level: if change.status == ChangeStatus::Info {
                    "note"
                } else {
                    "error"
                },
                message: Message::new(format!(
                    "{} (scenario \"{}\")",
                    change.message, scenario.name
                )),
                locations: vec![Location::new(&file, line.max(1), None)],
                tail: Tail::PropertiesThenMore(PropertiesThenMore {
                    properties: Properties::Change(ChangeProperties {
                        scenario: scenario.name.clone(),
                        principal: change.principal.clone(),
                        status: change.status.to_string(),
                        action: change.action.clone(),
                        resource: change.resource.clone(),
                        time: change.time,
                        step: change.step,
                    }),
                    related_locations,
                    suppressions,
                    code_flows: Vec::new(),
                }),
            });
        }
    }
    for exception in result
        .exceptions
        .iter()
        .filter(|e| e.status == ExceptionState::Stale)
    {
        let (file, line) = split_location(&exception.location);
        results.push(SarifResult {
            rule_id: "stale-exception".to_string(),
            rule_index: rule_index("stale-exception"),
            level: "error",
            message: Message::new(format!(
                "stale exception: it matches no {} change; remove it (reason given: {})",
                title(exception.kind),
                exception.reason
            )),
            locations: vec![Location::new(&file, line.max(1), None)],
            tail: Tail::None(Empty {}),
        });
    }
    if let Some(budget) = &result.budget_exhausted {
        let file = budget
            .not_checked
            .first()
            .or(budget.cut_short.first())
            .cloned()
            .unwrap_or_default();
        results.push(SarifResult {
            rule_id: "budget-exhausted".to_string(),
            rule_index: rule_index("budget-exhausted"),
            level: if budget.status == RuleStatus::Fail {
                "error"
            } else {
                "warning"
            },
            message: Message::new(budget.message.clone()),
            locations: vec![Location::new(&file, 1, None)],
            tail: Tail::Properties(PropertiesTail {
                properties: Properties::Status(StatusProperties {
                    status: budget.status.to_string(),
                }),
            }),
        });
    }
    if let Some(change) = &result.config_change {
        results.push(SarifResult {
            rule_id: "config-change".to_string(),
            rule_index: rule_index("config-change"),
            level: if change.status == RuleStatus::Fail {
                "error"
            } else {
                "warning"
            },
            message: Message::new(change.message.clone()),
            locations: vec![Location::new(&change.file, 1, None)],
            tail: Tail::Properties(PropertiesTail {
                properties: Properties::Config(ConfigProperties {
                    revision: change.revision.clone(),
                    status: change.status.to_string(),
                }),
            }),
        });
    }
    // A scenario file that could not be loaded was not checked: an error at
    // its line, so a code-scanning view never shows the gate as clean.
    for error in &result.load_errors {
        results.push(crate::sarif::load_error_result(
            &error.file,
            &error.message,
            rule_index(crate::sarif::LOAD_ERROR.0),
        ));
    }
    let rules = rules
        .iter()
        .map(|(id, short, full)| Rule::new(id, "error", short, full))
        .collect();
    Log::new(Run::new("privsim check", rules, results)).to_text()
}
