//! `privsim suggest --group` and `--by-delegator` (issue 17 item 4): how used
//! pairs become permits, checked against hand counts of
//! `sim/tests/fixtures/right-sizing` and `scenarios/mcp-helpdesk`, by asking
//! Cedar what each suggestion allows, and proven with cvc5.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use cedar_policy::{Authorizer, Context, Decision, EntityUid, PolicySet, Request};
use privsim::load::{self as scenario, LoadOptions, Scenario};
use privsim::suggest::{self, Group, ScenarioSuggestion, Selector, Status};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const FIXTURE: &str = "sim/tests/fixtures/right-sizing/scenario.toml";

fn load(relative: &str) -> Scenario {
    scenario::load(&workspace().join(relative), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
}

fn suggest_with(scenario: &Scenario, group: Group, by_delegator: bool) -> ScenarioSuggestion {
    let suggestion = suggest::suggest_with(
        scenario,
        suggest::Options {
            group,
            by_delegator,
            ..suggest::Options::default()
        },
    );
    assert_eq!(
        suggestion.status,
        Status::Verified,
        "{suggestion:#?}\n{}",
        suggestion.policies
    );
    suggestion
}

const TRIAGE_A: &str = r#"Agent::"triage-a""#;
const TRIAGE_B: &str = r#"Agent::"triage-b""#;
const REPORTER: &str = r#"Agent::"reporter""#;
const TICKETS: [&str; 5] = ["A-1", "A-2", "A-3", "G-1", "G-2"];

/// What each agent of the fixture used, by hand count of its steps: the
/// triage agents read acme's three tickets, triage-a also comments on A-1,
/// the reporter reads all five tickets.
fn used(agent: &str) -> BTreeSet<(String, String)> {
    let pairs: Vec<(&str, &str)> = match agent {
        TRIAGE_A => vec![
            ("readTicket", "A-1"),
            ("readTicket", "A-2"),
            ("readTicket", "A-3"),
            ("commentTicket", "A-1"),
        ],
        TRIAGE_B => vec![
            ("readTicket", "A-1"),
            ("readTicket", "A-2"),
            ("readTicket", "A-3"),
        ],
        _ => TICKETS.iter().map(|t| ("readTicket", *t)).collect(),
    };
    pairs
        .into_iter()
        .map(|(a, t)| (a.to_string(), t.to_string()))
        .collect()
}

fn user_of(agent: &str) -> &'static str {
    match agent {
        TRIAGE_A => "alice",
        TRIAGE_B => "bob",
        _ => "carol",
    }
}

/// Every (action, ticket) the policy text allows `agent` acting for `user`,
/// asked of Cedar.
fn allowed(text: &str, scenario: &Scenario, agent: &str, user: &str) -> BTreeSet<(String, String)> {
    let policies = PolicySet::from_str(text).unwrap();
    let entities = &scenario.world.segments[0].entities;
    let context = Context::from_json_value(
        serde_json::json!({ "delegator": {"__entity": {"type": "User", "id": user}} }),
        None,
    )
    .unwrap();
    let mut out = BTreeSet::new();
    for action in ["readTicket", "commentTicket"] {
        for ticket in TICKETS {
            let request = Request::new(
                EntityUid::from_str(agent).unwrap(),
                EntityUid::from_str(&format!(r#"Action::"{action}""#)).unwrap(),
                EntityUid::from_str(&format!(r#"Ticket::"{ticket}""#)).unwrap(),
                context.clone(),
                None,
            )
            .unwrap();
            if Authorizer::new()
                .is_authorized(&request, &policies, entities)
                .decision()
                == Decision::Allow
            {
                out.insert((action.to_string(), ticket.to_string()));
            }
        }
    }
    out
}

/// Every grouping allows each agent exactly what it used, as Cedar decides.
fn assert_exact(suggestion: &ScenarioSuggestion, scenario: &Scenario) {
    for agent in [TRIAGE_A, TRIAGE_B, REPORTER] {
        assert_eq!(
            allowed(&suggestion.policies, scenario, agent, user_of(agent)),
            used(agent),
            "{agent}\n{}",
            suggestion.policies
        );
        let account = suggestion
            .principals
            .iter()
            .find(|p| p.principal == agent)
            .unwrap();
        // Hand count: 2 actions x 5 tickets held under the candidate.
        assert_eq!(account.before.held, 10, "{agent}");
        assert_eq!(
            account.after.as_ref().unwrap().held,
            used(agent).len(),
            "{agent}"
        );
    }
}

fn notes_of<'a>(suggestion: &'a ScenarioSuggestion, agent: &str) -> Vec<&'a str> {
    suggestion
        .principals
        .iter()
        .find(|p| p.principal == agent)
        .unwrap()
        .evidence
        .iter()
        .map(|e| e.note.as_str())
        .collect()
}

#[test]
fn the_default_grouping_is_per_agent_and_reports_no_evidence() {
    let scenario = load(FIXTURE);
    let default = suggest::suggest(&scenario);
    let agent = suggest_with(&scenario, Group::Agent, false);
    assert_eq!(default, agent);
    assert_eq!(agent.group, None);
    assert_exact(&agent, &scenario);
    assert!(agent.principals.iter().all(|p| p.evidence.is_empty()));
    assert!(
        agent
            .policies
            .contains("resource is Ticket in Customer::\"acme\""),
        "{}",
        agent.policies
    );
}

#[test]
fn resource_type_generalizes_only_where_every_held_resource_was_used() {
    let scenario = load(FIXTURE);
    let suggestion = suggest_with(&scenario, Group::ResourceType, false);
    assert_eq!(suggestion.group, Some(Group::ResourceType));
    assert_exact(&suggestion, &scenario);
    // The reporter read 5 of the 5 tickets it held: `resource is Ticket`.
    let reporter = notes_of(&suggestion, REPORTER);
    assert_eq!(reporter.len(), 1, "{reporter:?}");
    assert!(
        reporter[0].contains("used 5 of 5 held: generalized"),
        "{reporter:?}"
    );
    let permit = &suggestion
        .principals
        .iter()
        .find(|p| p.principal == REPORTER)
        .unwrap()
        .policies[0]
        .text;
    assert!(permit.contains("  resource is Ticket\n)"), "{permit}");
    // triage-a read 3 of 5 and commented on 1 of 5: listed, and said so.
    let triage = notes_of(&suggestion, TRIAGE_A);
    assert_eq!(triage.len(), 2, "{triage:?}");
    assert!(
        triage
            .iter()
            .any(|n| n.contains("commentTicket")
                && n.contains("only 1 of 5 held used: not generalized")),
        "{triage:?}"
    );
    assert!(
        triage
            .iter()
            .any(|n| n.contains("readTicket")
                && n.contains("only 3 of 5 held used: not generalized")),
        "{triage:?}"
    );
    let evidence = &suggestion
        .principals
        .iter()
        .find(|p| p.principal == REPORTER)
        .unwrap()
        .evidence[0];
    assert_eq!(
        (evidence.held, evidence.used, evidence.generalized),
        (5, 5, true)
    );
}

#[test]
fn parent_generalizes_to_each_parent_whose_held_resources_were_all_used() {
    let scenario = load(FIXTURE);
    let suggestion = suggest_with(&scenario, Group::Parent, false);
    assert_exact(&suggestion, &scenario);
    let triage = notes_of(&suggestion, TRIAGE_A);
    assert!(
        triage.iter().any(|n| n.contains(
            "readTicket\" on Ticket in Customer::\"acme\": used 3 of 3 held: generalized"
        )),
        "{triage:?}"
    );
    assert!(triage.iter().any(|n| n.contains("commentTicket\" on Ticket in Customer::\"acme\": only 1 of 3 held used: not generalized")), "{triage:?}");
    let reporter = notes_of(&suggestion, REPORTER);
    assert!(
        reporter
            .iter()
            .any(|n| n.contains("in Customer::\"globex\": used 2 of 2 held: generalized")),
        "{reporter:?}"
    );
    assert!(
        suggestion
            .policies
            .contains("resource in [Customer::\"acme\", Customer::\"globex\"]"),
        "{}",
        suggestion.policies
    );
}

#[test]
fn task_shares_one_permit_between_the_agents_of_a_task() {
    let scenario = load(FIXTURE);
    let suggestion = suggest_with(&scenario, Group::Task, false);
    assert_exact(&suggestion, &scenario);
    let shared: Vec<_> = suggestion
        .principals
        .iter()
        .flat_map(|p| p.policies.iter())
        .filter(|p| !p.shared_by.is_empty())
        .collect();
    // Both triage agents list the one shared permit.
    assert_eq!(shared.len(), 2, "{}", suggestion.policies);
    assert_eq!(shared[0].shared_by, [TRIAGE_A, TRIAGE_B]);
    assert!(
        shared[0]
            .text
            .contains("[Agent::\"triage-a\", Agent::\"triage-b\"].contains(principal)"),
        "{}",
        shared[0].text
    );
    // triage-a's comment on A-1 stays its own; the reporter has another task.
    let own = |agent: &str| {
        suggestion
            .principals
            .iter()
            .find(|p| p.principal == agent)
            .unwrap()
            .policies
            .iter()
            .filter(|p| p.shared_by.is_empty())
            .count()
    };
    assert_eq!((own(TRIAGE_A), own(TRIAGE_B), own(REPORTER)), (1, 0, 1));
    assert!(
        suggestion
            .notes
            .iter()
            .any(|n| n.contains("`--group task`")),
        "{:?}",
        suggestion.notes
    );
}

#[test]
fn by_delegator_narrows_each_permit_to_the_users_it_was_used_for() {
    let scenario = load(FIXTURE);
    let suggestion = suggest_with(&scenario, Group::Agent, true);
    assert_exact(&suggestion, &scenario);
    assert!(
        suggestion
            .policies
            .contains("context has delegator && context.delegator == User::\"alice\""),
        "{}",
        suggestion.policies
    );
    // Acting for anyone else, the agents are allowed nothing.
    for agent in [TRIAGE_A, TRIAGE_B, REPORTER] {
        for user in ["alice", "bob", "carol"] {
            if user != user_of(agent) {
                assert!(
                    allowed(&suggestion.policies, &scenario, agent, user).is_empty(),
                    "{agent} for {user}"
                );
            }
        }
    }
    // The candidate allowed them everything for anyone.
    let candidate =
        std::fs::read_to_string(workspace().join("sim/tests/fixtures/right-sizing/policies.cedar"))
            .unwrap();
    assert_eq!(allowed(&candidate, &scenario, TRIAGE_A, "bob").len(), 10);
}

#[test]
fn by_delegator_on_the_helpdesk_log_uses_the_delegator_the_requests_carry() {
    let scenario = load("scenarios/mcp-helpdesk/production.toml");
    let suggestion = suggest::suggest_with(
        &scenario,
        suggest::Options {
            by_delegator: true,
            only: vec![Selector::parse("Agent").unwrap()],
            ..suggest::Options::default()
        },
    );
    assert_eq!(suggestion.status, Status::Verified, "{suggestion:#?}");
    // The log-built scenario has no `[facts]`: the delegator (the user the
    // chain works for) is the `session.delegator` entry each logged call carries.
    assert!(
        suggestion
            .policies
            .contains("context.session.delegator == Helpdesk::User::\"bob\""),
        "{}",
        suggestion.policies
    );
    let ops = suggestion
        .principals
        .iter()
        .find(|p| p.principal == r#"Helpdesk::Agent::"ops-bot""#)
        .unwrap();
    assert!(
        ops.policies
            .iter()
            .all(|p| p.delegators == [r#"Helpdesk::User::"bob""#]),
        "{:?}",
        ops.policies
    );
}

#[test]
fn by_delegator_says_so_when_the_scenario_does_not_expose_the_delegator() {
    let folder = tempfile::tempdir().unwrap();
    let source = workspace().join("sim/tests/fixtures/right-sizing");
    for file in ["schema.cedarschema", "policies.cedar", "entities.json"] {
        std::fs::copy(source.join(file), folder.path().join(file)).unwrap();
    }
    let toml = std::fs::read_to_string(source.join("scenario.toml"))
        .unwrap()
        .replace("[facts]\ndelegator = \"delegator\"\n", "");
    std::fs::write(folder.path().join("scenario.toml"), toml).unwrap();
    let scenario = scenario::load(
        &folder.path().join("scenario.toml"),
        &LoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    let suggestion = suggest::suggest_with(
        &scenario,
        suggest::Options {
            by_delegator: true,
            ..suggest::Options::default()
        },
    );
    assert!(
        suggestion
            .notes
            .iter()
            .any(|n| n.contains("does not expose the delegator to policies")),
        "{:?}",
        suggestion.notes
    );
    assert!(
        !suggestion.policies.contains("delegator =="),
        "{}",
        suggestion.policies
    );
    assert!(
        suggestion
            .principals
            .iter()
            .all(|p| p.policies.iter().all(|q| q.delegators.is_empty()))
    );
}

/// Every grouping, with delegator narrowing too, is proven by cvc5 to allow
/// nothing the candidate does not, in every world the schema allows.
#[test]
fn every_grouping_is_proven_with_the_solver() {
    for group in ["agent", "task", "resource-type", "parent"] {
        let (code, stdout, stderr) = crate::common::privsim_in(
            &workspace(),
            &[
                "suggest",
                FIXTURE,
                "--group",
                group,
                "--by-delegator",
                "--prove",
                "--format",
                "json",
            ],
        );
        assert_eq!(code, 0, "{group}: {stdout}{stderr}");
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let scenario = &json["scenarios"][0];
        assert_eq!(scenario["status"], "verified", "{group}");
        assert_eq!(
            scenario["proof"]["verdict"], "proven",
            "{group}: {}",
            scenario["proof"]
        );
        // 2 principal types x 2 actions x 1 resource type.
        assert_eq!(scenario["proof"]["environments"], 4, "{group}");
    }
    let (code, _, stderr) =
        crate::common::privsim_in(&workspace(), &["suggest", FIXTURE, "--group", "team"]);
    assert_eq!(code, 2, "{stderr}");
}

/// On the helpdesk log, by hand count (`suggest_traffic`): ops-bot called
/// `get_ticket` in both workspaces it was seen to hold it on (acme and
/// globex), so that permit says `resource is Workspace`; every other tool of
/// every agent was called in one workspace: too few to generalize. Asked of
/// Cedar, ops-bot acting for bob is still allowed exactly its 5 pairs.
#[test]
fn resource_type_on_the_helpdesk_log_generalizes_only_ops_bots_get_ticket() {
    let scenario = load("scenarios/mcp-helpdesk/production.toml");
    let suggestion = suggest::suggest_with(
        &scenario,
        suggest::Options {
            group: Group::ResourceType,
            by_delegator: true,
            only: vec![Selector::parse("Agent").unwrap()],
            ..suggest::Options::default()
        },
    );
    assert_eq!(suggestion.status, Status::Verified, "{suggestion:#?}");
    let generalized: Vec<(String, String, usize, usize)> = suggestion
        .principals
        .iter()
        .flat_map(|p| {
            p.evidence
                .iter()
                .filter(|e| e.generalized)
                .map(|e| (p.principal.clone(), e.action.clone(), e.used, e.held))
        })
        .collect();
    assert_eq!(
        generalized,
        [(
            r#"Helpdesk::Agent::"ops-bot""#.to_string(),
            r#"Helpdesk::Action::"get_ticket""#.to_string(),
            2,
            2
        )]
    );
    let evidence: usize = suggestion.principals.iter().map(|p| p.evidence.len()).sum();
    // ops-bot 4 tools, triage-bot 2, summarizer 1.
    assert_eq!(evidence, 7);
    let policies = PolicySet::from_str(&suggestion.policies).unwrap();
    let entities = &scenario.world.segments[0].entities;
    let mut allowed = BTreeSet::new();
    for user in ["alice", "bob"] {
        let context = Context::from_json_value(
            serde_json::json!({
                "session": {"delegator": {"__entity": {"type": "Helpdesk::User", "id": user}}},
                "input": {}
            }),
            None,
        )
        .unwrap();
        for tool in [
            "add_comment",
            "delete_ticket",
            "export_customers",
            "get_ticket",
            "search_tickets",
        ] {
            for workspace in ["acme", "globex"] {
                let request = Request::new(
                    EntityUid::from_str(r#"Helpdesk::Agent::"ops-bot""#).unwrap(),
                    EntityUid::from_str(&format!(r#"Helpdesk::Action::"{tool}""#)).unwrap(),
                    EntityUid::from_str(&format!(r#"Helpdesk::Workspace::"{workspace}""#)).unwrap(),
                    context.clone(),
                    None,
                )
                .unwrap();
                if Authorizer::new()
                    .is_authorized(&request, &policies, entities)
                    .decision()
                    == Decision::Allow
                {
                    allowed.insert(format!("{user} {tool} {workspace}"));
                }
            }
        }
    }
    let expected: BTreeSet<String> = [
        "bob add_comment acme",
        "bob delete_ticket acme",
        "bob get_ticket acme",
        "bob get_ticket globex",
        "bob search_tickets acme",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(allowed, expected, "{}", suggestion.policies);
}
