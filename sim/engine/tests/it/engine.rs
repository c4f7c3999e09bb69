//! Engine behaviour on small inline worlds: grants over time, facts in the
//! context, delegation chains and the ceiling, expectations.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

use crate::common::replay;
use privsim::result::{Decision, ScenarioResult};
use serde_json::json;

fn decisions(result: &ScenarioResult) -> Vec<&str> {
    result.steps.iter().map(|s| s.decision.as_str()).collect()
}

const SCHEMA: &str = r#"
entity Role;
entity User in [Role] { jit_until?: datetime };
entity Agent in [Role];
entity Repo;
type Ctx = { now: datetime, root?: User, chain_uids: Set<String>, depth: Long, task?: String, session?: String, ticket?: String };
action read, deploy appliesTo { principal: [User, Agent], resource: [Repo], context: Ctx };
"#;

const HEADER: &str = r#"
[scenario]
name = "engine"
policies = ["p.cedar"]
schema = "s.cedarschema"
start = "2026-06-01T09:00:00Z"

[facts]
now = "now"
root = "root"
chain_uids = "chain_uids"
depth = "depth"
task = "task"
session = "session"

[[entity]]
uid = 'Role::"deployers"'
[[entity]]
uid = 'User::"alice"'
[[entity]]
uid = 'Agent::"ci"'
[[entity]]
uid = 'Agent::"helper"'
[[entity]]
uid = 'Repo::"app"'
"#;

fn with_steps(body: &str) -> String {
    format!("{HEADER}\n{body}")
}

#[test]
fn a_grant_is_in_the_world_only_between_from_and_until() {
    let toml = with_steps(
        r#"
[[grant]]
id = "chg-42"
principal = 'Agent::"ci"'
parents = ['Role::"deployers"']
from = "+5m"
until = "+35m"
ticket = "CHG-42"

[[step]]
at = "+1m"
principal = 'Agent::"ci"'
action = 'Action::"deploy"'
resource = 'Repo::"app"'
expect = "deny"
[[step]]
at = "+5m"
principal = 'Agent::"ci"'
action = 'Action::"deploy"'
resource = 'Repo::"app"'
expect = "allow"
[[step]]
at = "+35m"
principal = 'Agent::"ci"'
action = 'Action::"deploy"'
resource = 'Repo::"app"'
expect = "deny"
"#,
    );
    let policy = r#"@id("deployers") permit (principal in Role::"deployers", action == Action::"deploy", resource);"#;
    let result = replay(
        "grant",
        &[
            ("scenario.toml", &toml),
            ("p.cedar", policy),
            ("s.cedarschema", SCHEMA),
        ],
    );
    assert_eq!(decisions(&result), ["deny", "allow", "deny"]);
    assert!(result.passed, "{result:#?}");
    let grants: Vec<&Vec<String>> = result.steps.iter().map(|s| &s.active_grants).collect();
    assert_eq!(
        grants,
        [
            &Vec::<String>::new(),
            &vec!["chg-42".to_string()],
            &Vec::<String>::new()
        ]
    );
}

#[test]
fn a_grant_left_to_the_policy_stays_and_only_a_policy_that_checks_expiry_ends_it() {
    let toml = with_steps(
        r#"
[[grant]]
principal = 'User::"alice"'
parents = ['Role::"deployers"']
attrs = { jit_until = 2026-06-01T09:35:00Z }
from = "+5m"
until = "+35m"
expiry = "policy"

[[step]]
at = "+10m"
principal = 'User::"alice"'
action = 'Action::"deploy"'
resource = 'Repo::"app"'
[[step]]
at = "+2h"
principal = 'User::"alice"'
action = 'Action::"deploy"'
resource = 'Repo::"app"'
"#,
    );
    let forgetful = r#"@id("forgetful") permit (principal in Role::"deployers", action == Action::"deploy", resource);"#;
    let careful = r#"@id("careful") permit (principal in Role::"deployers", action == Action::"deploy", resource)
        when { principal has jit_until && context.now < principal.jit_until };"#;
    let result = replay(
        "expiry-forgetful",
        &[
            ("scenario.toml", &toml),
            ("p.cedar", forgetful),
            ("s.cedarschema", SCHEMA),
        ],
    );
    assert_eq!(decisions(&result), ["allow", "allow"]);
    assert_eq!(result.steps[1].active_grants, ["grant-1"]);
    let result = replay(
        "expiry-careful",
        &[
            ("scenario.toml", &toml),
            ("p.cedar", careful),
            ("s.cedarschema", SCHEMA),
        ],
    );
    assert_eq!(decisions(&result), ["allow", "deny"]);
}

#[test]
fn facts_reach_the_context_under_their_keys_and_the_step_context_replaces_the_sessions() {
    let toml = with_steps(
        r#"
[[session]]
id = "pipeline"
principal = 'Agent::"ci"'
on_behalf_of = 'User::"alice"'
task = "deploy app"
context = { ticket = "CHG-1" }

[[step]]
at = "+90s"
session = "pipeline"
action = 'Action::"read"'
resource = 'Repo::"app"'
context = { ticket = "CHG-2" }
"#,
    );
    let policy = r#"@id("all") permit (principal, action, resource) when { context has ticket && context.ticket == "CHG-2" && context.depth == 1 };"#;
    let result = replay(
        "facts",
        &[
            ("scenario.toml", &toml),
            ("p.cedar", policy),
            ("s.cedarschema", SCHEMA),
        ],
    );
    let step = &result.steps[0];
    assert_eq!(
        *step.context,
        json!({
            "now": { "__extn": { "fn": "datetime", "arg": "2026-06-01T09:01:30Z" } },
            "root": { "__entity": { "type": "User", "id": "alice" } },
            "chain_uids": [r#"User::"alice""#, r#"Agent::"ci""#],
            "depth": 1,
            "task": "deploy app",
            "session": "pipeline",
            "ticket": "CHG-2"
        })
    );
    assert_eq!(step.decision, Decision::Allow);
    assert_eq!(
        step.delegation_chain,
        [r#"User::"alice""#, r#"Agent::"ci""#]
    );
}

#[test]
fn a_delegate_allowed_what_a_delegator_up_the_chain_is_denied_is_a_ceiling_finding() {
    let toml = with_steps(
        r#"
[[session]]
id = "collector"
principal = 'Agent::"helper"'
on_behalf_of = 'User::"alice"'

[[session]]
id = "executor"
principal = 'Agent::"ci"'
parent = "collector"

[[step]]
session = "executor"
action = 'Action::"deploy"'
resource = 'Repo::"app"'
expect = "allow"
[[step]]
session = "executor"
action = 'Action::"read"'
resource = 'Repo::"app"'
expect = "allow"
"#,
    );
    // The helper agent may deploy; alice may not. Everyone may read.
    let policy = r#"
        @id("ci-deploys") permit (principal == Agent::"ci", action == Action::"deploy", resource);
        @id("helper-deploys") permit (principal == Agent::"helper", action == Action::"deploy", resource);
        @id("everyone-reads") permit (principal, action == Action::"read", resource);
    "#;
    let result = replay(
        "ceiling",
        &[
            ("scenario.toml", &toml),
            ("p.cedar", policy),
            ("s.cedarschema", SCHEMA),
        ],
    );
    assert!(result.passed);
    assert_eq!(
        result.steps[0].delegation_chain,
        [r#"User::"alice""#, r#"Agent::"helper""#, r#"Agent::"ci""#]
    );
    let ceiling: Vec<(&str, &str)> = result.steps[0]
        .delegation_ceiling
        .iter()
        .map(|c| (c.delegator.as_str(), c.decision.as_str()))
        .collect();
    assert_eq!(
        ceiling,
        [
            (r#"Agent::"helper""#, "allow"),
            (r#"User::"alice""#, "deny")
        ]
    );
    assert_eq!(result.findings.len(), 1, "{:#?}", result.findings);
    let finding = &result.findings[0];
    assert_eq!(
        (
            finding.kind.as_str(),
            finding.step,
            finding.delegator.as_deref()
        ),
        ("delegation-ceiling", Some(1), Some(r#"User::"alice""#))
    );
    assert_eq!(finding.determining_policies, ["ci-deploys"]);
}

#[test]
fn failed_expectations_say_what_was_expected_and_what_happened() {
    let toml = with_steps(
        r#"
[[step]]
principal = 'User::"alice"'
action = 'Action::"read"'
resource = 'Repo::"app"'
expect = "deny"
expect_reason = ["nobody"]
[[step]]
principal = 'User::"alice"'
action = 'Action::"read"'
resource = 'Repo::"ghost"'
expect = "allow"
"#,
    );
    let policy = r#"@id("everyone-reads") permit (principal, action == Action::"read", resource);"#;
    let result = replay(
        "expectations",
        &[
            ("scenario.toml", &toml),
            ("p.cedar", policy),
            ("s.cedarschema", SCHEMA),
        ],
    );
    assert!(!result.passed);
    assert_eq!(result.summary.expectations_failed, 1);
    let failures = &result.steps[0].expectation.as_ref().unwrap().failures;
    assert_eq!(
        failures,
        &[
            "expected deny, got allow",
            "expected determining policies [nobody], got [everyone-reads]"
        ]
    );
    assert_eq!(result.warnings.len(), 2, "{:?}", result.warnings);
    assert!(
        result.warnings[0].contains("`expect_reason` names `nobody`"),
        "{:?}",
        result.warnings
    );
    assert!(
        result.warnings[1].contains(r#"resource `Repo::"ghost"` is not an entity of the world"#),
        "{:?}",
        result.warnings
    );
}

#[test]
fn without_a_schema_the_chain_may_mix_entity_types() {
    let toml = r#"
[scenario]
name = "untyped"
policies = ["p.cedar"]
[facts]
delegator = "delegator"
chain = "chain"
[[session]]
id = "collector"
principal = 'Agent::"helper"'
on_behalf_of = 'User::"alice"'
[[session]]
id = "executor"
principal = 'Agent::"ci"'
parent = "collector"
[[step]]
session = "executor"
action = 'Action::"read"'
resource = 'Repo::"app"'
expect = "allow"
"#;
    let policy = r#"permit (principal, action, resource) when { context.chain.contains(User::"alice") && context.delegator == Agent::"helper" };"#;
    let result = replay("untyped", &[("scenario.toml", toml), ("p.cedar", policy)]);
    assert!(result.passed, "{:#?}", result.steps);
    assert_eq!(
        *result.steps[0].context,
        json!({
            "delegator": { "__entity": { "type": "Agent", "id": "helper" } },
            "chain": [
                { "__entity": { "type": "User", "id": "alice" } },
                { "__entity": { "type": "Agent", "id": "helper" } },
                { "__entity": { "type": "Agent", "id": "ci" } }
            ]
        })
    );
}

#[test]
fn the_same_scenario_gives_byte_identical_json() {
    let toml = with_steps(
        r#"
[[step]]
principal = 'User::"alice"'
action = 'Action::"read"'
resource = 'Repo::"app"'
"#,
    );
    let policy = r#"permit (principal, action, resource); forbid (principal, action == Action::"deploy", resource);"#;
    let first = replay(
        "determinism",
        &[
            ("scenario.toml", &toml),
            ("p.cedar", policy),
            ("s.cedarschema", SCHEMA),
        ],
    );
    let second = replay(
        "determinism",
        &[
            ("scenario.toml", &toml),
            ("p.cedar", policy),
            ("s.cedarschema", SCHEMA),
        ],
    );
    let render = |r: ScenarioResult| privsim_reports::json(&privsim::RunResult::new(vec![r]));
    assert_eq!(first.steps[0].determining_policies, ["policy0"]);
    assert_eq!(render(first), render(second));
}
