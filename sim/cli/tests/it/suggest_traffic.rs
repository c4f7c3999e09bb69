//! `privsim suggest` on a log-built scenario (issue 17 item 4): the
//! `scenarios/mcp-helpdesk` log right-sized to what each agent called, checked
//! against a hand count of the log; `--only` right-sizes the chosen principals
//! and leaves the others' access exactly as it was; shared permits are closed
//! by type when every principal of the type they apply to is right-sized.
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
use privsim::suggest::{self, ScenarioSuggestion, Selector, Status};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn helpdesk() -> Scenario {
    scenario::load(
        &workspace().join("scenarios/mcp-helpdesk/production.toml"),
        &LoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
}

const OPS: &str = r#"Helpdesk::Agent::"ops-bot""#;
const TRIAGE: &str = r#"Helpdesk::Agent::"triage-bot""#;
const SUMMARIZER: &str = r#"Helpdesk::Agent::"summarizer""#;
const TOOLS: [&str; 5] = [
    "add_comment",
    "delete_ticket",
    "export_customers",
    "get_ticket",
    "search_tickets",
];
const WORKSPACES: [&str; 2] = ["acme", "globex"];

/// What each agent called and production allowed, by hand count of
/// `scenarios/mcp-helpdesk/log.jsonl`:
///
/// ```sh
/// jq -r 'select(.decision == "allow")
///        | [.principal, .tools_call.params.name, .resource] | @tsv' log.jsonl | sort | uniq -c
/// ```
///
/// gives ops-bot (for bob) add_comment acme ×74, delete_ticket acme ×1,
/// get_ticket acme ×74, get_ticket globex ×1, search_tickets acme ×22;
/// summarizer (started by triage-bot for alice) get_ticket acme ×16;
/// triage-bot (for alice) get_ticket acme ×90, search_tickets acme ×30. The one
/// denied line (triage-bot export_customers acme) is not a use.
fn hand_count() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (OPS, "add_comment", "acme"),
        (OPS, "delete_ticket", "acme"),
        (OPS, "get_ticket", "acme"),
        (OPS, "get_ticket", "globex"),
        (OPS, "search_tickets", "acme"),
        (SUMMARIZER, "get_ticket", "acme"),
        (TRIAGE, "get_ticket", "acme"),
        (TRIAGE, "search_tickets", "acme"),
    ]
}

/// The user each agent acts for in the log (the summarizer's session is
/// started by triage-bot's, for alice).
fn delegator(agent: &str) -> &'static str {
    if agent == OPS { "bob" } else { "alice" }
}

/// Every (tool, workspace) the policy text allows `agent`, asked of Cedar
/// with the context the log's sessions present (the delegator and a tool
/// input; without the schema, Cedar does not check the input's shape).
fn allowed(text: &str, scenario: &Scenario, agent: &str) -> BTreeSet<(String, String)> {
    let policies = PolicySet::from_str(text).unwrap();
    let entities = &scenario.world.segments[0].entities;
    let context = Context::from_json_value(
        serde_json::json!({
            "session": {"delegator": {"__entity": {"type": "Helpdesk::User", "id": delegator(agent)}}},
            "input": {}
        }),
        None,
    )
    .unwrap();
    let mut out = BTreeSet::new();
    for tool in TOOLS {
        for workspace in WORKSPACES {
            let request = Request::new(
                EntityUid::from_str(agent).unwrap(),
                EntityUid::from_str(&format!(r#"Helpdesk::Action::"{tool}""#)).unwrap(),
                EntityUid::from_str(&format!(r#"Helpdesk::Workspace::"{workspace}""#)).unwrap(),
                context.clone(),
                None,
            )
            .unwrap();
            let response = Authorizer::new().is_authorized(&request, &policies, entities);
            if response.decision() == Decision::Allow {
                out.insert((tool.to_string(), workspace.to_string()));
            }
        }
    }
    out
}

fn assert_verified(suggestion: &ScenarioSuggestion) {
    assert_eq!(
        suggestion.status,
        Status::Verified,
        "{:#?}\n{}",
        suggestion,
        suggestion.policies
    );
}

#[test]
fn the_helpdesk_log_is_right_sized_to_the_hand_count_of_each_agents_calls() {
    let scenario = helpdesk();
    let suggestion = suggest::suggest(&scenario);
    assert_verified(&suggestion);
    let candidate = std::fs::read_to_string(
        workspace().join("scenarios/mcp-helpdesk/policies/production.cedar"),
    )
    .unwrap();
    for agent in [OPS, TRIAGE, SUMMARIZER] {
        let expected: BTreeSet<(String, String)> = hand_count()
            .into_iter()
            .filter(|(who, _, _)| *who == agent)
            .map(|(_, tool, ws)| (tool.to_string(), ws.to_string()))
            .collect();
        let account = suggestion
            .principals
            .iter()
            .find(|p| p.principal == agent)
            .unwrap();
        assert!(account.right_sized, "{agent}");
        let needed: BTreeSet<(String, String)> = account
            .needed
            .iter()
            .map(|p| {
                let tool = p.action.rsplit("::").next().unwrap().trim_matches('"');
                let ws = p.resource.rsplit("::").next().unwrap().trim_matches('"');
                (tool.to_string(), ws.to_string())
            })
            .collect();
        assert_eq!(needed, expected, "{agent}: the plan's needs");
        // Asked of Cedar directly: the suggestion allows exactly the hand count.
        assert_eq!(
            allowed(&suggestion.policies, &scenario, agent),
            expected,
            "{agent}: what the suggestion allows\n{}",
            suggestion.policies
        );
        assert!(allowed(&candidate, &scenario, agent).is_superset(&expected));
    }
    // The over-privileged ops agent held every tool in every workspace, and
    // loses the five it never called: export anywhere, and globex but reading.
    let before = allowed(&candidate, &scenario, OPS);
    assert_eq!(before.len(), TOOLS.len() * WORKSPACES.len());
    let after = allowed(&suggestion.policies, &scenario, OPS);
    let lost: BTreeSet<_> = before.difference(&after).cloned().collect();
    assert_eq!(lost.len(), 5, "{lost:?}");
    assert!(lost.contains(&("export_customers".to_string(), "acme".to_string())));
    assert!(lost.contains(&("delete_ticket".to_string(), "globex".to_string())));
    // The agents' single-principal permits are replaced; the staff permit
    // (for users, who take no step) is kept as it was.
    assert_eq!(suggestion.kept, ["staff-work-in-their-workspaces"]);
    assert_eq!(
        suggestion.replaced,
        [
            "triage-bot-reads-for-its-user",
            "summarizer-reads-tickets",
            "ops-bot-service-token"
        ]
    );
}

#[test]
fn only_the_chosen_principals_are_right_sized_and_the_others_keep_their_access() {
    let scenario = helpdesk();
    let only_ops = suggest::suggest_with(
        &scenario,
        suggest::Options {
            only: vec![Selector::parse(OPS).unwrap()],
            ..suggest::Options::default()
        },
    );
    assert_verified(&only_ops);
    let right_sized: Vec<&str> = only_ops
        .principals
        .iter()
        .filter(|p| p.right_sized)
        .map(|p| p.principal.as_str())
        .collect();
    assert_eq!(right_sized, [OPS]);
    // triage-bot's and the summarizer's own permits stay as they were, and
    // verification (c) checked they hold exactly what they held.
    assert_eq!(
        only_ops.kept,
        [
            "staff-work-in-their-workspaces",
            "triage-bot-reads-for-its-user",
            "summarizer-reads-tickets"
        ]
    );
    assert_eq!(only_ops.replaced, ["ops-bot-service-token"]);
    let candidate = std::fs::read_to_string(
        workspace().join("scenarios/mcp-helpdesk/policies/production.cedar"),
    )
    .unwrap();
    assert_eq!(
        allowed(&only_ops.policies, &scenario, TRIAGE),
        allowed(&candidate, &scenario, TRIAGE)
    );
    assert_eq!(allowed(&only_ops.policies, &scenario, OPS).len(), 5);
    for principal in &only_ops.principals {
        let verification = principal.verification.as_ref().unwrap();
        assert!(verification.exact.passed, "{principal:#?}");
    }

    // A type without its namespace selects the three agents.
    let agents = suggest::suggest_with(
        &scenario,
        suggest::Options {
            only: vec![Selector::parse("Agent").unwrap()],
            ..suggest::Options::default()
        },
    );
    assert_verified(&agents);
    assert_eq!(
        agents.principals.iter().filter(|p| p.right_sized).count(),
        3
    );

    // A selector matching no acting principal is said, not silently ignored.
    let none = suggest::suggest_with(
        &scenario,
        suggest::Options {
            only: vec![Selector::parse("Helpdesk::User").unwrap()],
            ..suggest::Options::default()
        },
    );
    assert!(
        none.notes
            .iter()
            .any(|n| n.contains("`--only Helpdesk::User` selects no principal")),
        "{:?}",
        none.notes
    );
    assert!(none.principals.iter().all(|p| !p.right_sized));
    assert!(Selector::parse("not a type!").is_err());
}

#[test]
fn the_command_takes_only_and_rejects_a_malformed_one() {
    let (code, stdout, stderr) = crate::common::privsim_in(
        &workspace(),
        &[
            "suggest",
            "scenarios/mcp-helpdesk/production.toml",
            "--only",
            r#"Helpdesk::Agent::"ops-bot""#,
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let right_sized: Vec<&str> = json["scenarios"][0]["principals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["right_sized"] == true)
        .map(|p| p["principal"].as_str().unwrap())
        .collect();
    assert_eq!(right_sized, [OPS]);
    // The others act but were left out: said so, not "takes no step".
    let left_out: Vec<&str> = json["scenarios"][0]["principals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["left_out"] == true)
        .map(|p| p["principal"].as_str().unwrap())
        .collect();
    assert_eq!(
        left_out,
        [
            r#"Helpdesk::Agent::"summarizer""#,
            r#"Helpdesk::Agent::"triage-bot""#
        ]
    );
    let (_, text, _) = crate::common::privsim_in(
        &workspace(),
        &[
            "suggest",
            "scenarios/mcp-helpdesk/production.toml",
            "--only",
            r#"Helpdesk::Agent::"ops-bot""#,
        ],
    );
    assert!(
        text.contains(
            "Helpdesk::Agent::\"triage-bot\": not right-sized (left out by `--only`); keeps"
        ),
        "{text}"
    );
    // Unquoted, `Agent::bot` is a type named `bot`: it selects nobody, and
    // a run that right-sizes nothing because of a typo is bad input.
    let (code, _, stderr) = crate::common::privsim_in(
        &workspace(),
        &[
            "suggest",
            "scenarios/mcp-helpdesk/production.toml",
            "--only",
            "Helpdesk::Agent::ops-bot",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = crate::common::privsim_in(
        &workspace(),
        &[
            "suggest",
            "scenarios/mcp-helpdesk/production.toml",
            "--only",
            "Helpdesk::Agent::summarizer",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "`--only Helpdesk::Agent::summarizer` selects no principal that takes a step in any scenario given (it reads as an entity type); the principal is written with its id quoted: `--only 'Helpdesk::Agent::\"summarizer\"'`"
        ),
        "{stderr}"
    );
    let (code, _, stderr) = crate::common::privsim_in(
        &workspace(),
        &[
            "suggest",
            "scenarios/mcp-helpdesk/production.toml",
            "--only",
            r#"Agent::"bot"#,
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("invalid `--only`"), "{stderr}");
}

const SHARED_SCHEMA: &str = r#"
entity User;
entity Agent;
entity Doc;
action read appliesTo { principal: [User, Agent], resource: [Doc] };
"#;

/// Two agents read through one permit for any agent; `extra_agent` adds an
/// agent that takes no step.
fn shared_world(extra_agent: bool) -> String {
    let mut toml = String::from(
        r#"[scenario]
name = "shared"
policies = ["p.cedar"]
schema = "s.cedarschema"
start = "2026-01-01T00:00:00Z"

[[entity]]
uid = 'Agent::"a"'
[[entity]]
uid = 'Agent::"b"'
[[entity]]
uid = 'User::"u"'
[[entity]]
uid = 'Doc::"x"'
[[entity]]
uid = 'Doc::"y"'

[[step]]
at = "+1m"
principal = 'Agent::"a"'
action = 'Action::"read"'
resource = 'Doc::"x"'
expect = "allow"

[[step]]
at = "+2m"
principal = 'Agent::"b"'
action = 'Action::"read"'
resource = 'Doc::"y"'
expect = "allow"
"#,
    );
    if extra_agent {
        toml.push_str("\n[[entity]]\nuid = 'Agent::\"c\"'\n");
    }
    toml
}

fn suggest_shared(test: &str, extra_agent: bool) -> ScenarioSuggestion {
    let folder = std::env::temp_dir().join(format!(
        "privsim-suggest-traffic-{test}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("p.cedar"),
        r#"@id("agents-and-users-read") permit (principal, action == Action::"read", resource);"#,
    )
    .unwrap();
    std::fs::write(folder.join("s.cedarschema"), SHARED_SCHEMA).unwrap();
    let path = folder.join("scenario.toml");
    std::fs::write(&path, shared_world(extra_agent)).unwrap();
    let suggestion = suggest::suggest(
        &scenario::load(&path, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e))),
    );
    let _ = std::fs::remove_dir_all(&folder);
    suggestion
}

#[test]
fn a_shared_permit_is_closed_by_type_when_every_principal_of_the_type_is_right_sized() {
    let suggestion = suggest_shared("by-type", false);
    assert_verified(&suggestion);
    assert_eq!(suggestion.narrowed, ["agents-and-users-read"]);
    assert!(
        suggestion
            .policies
            .contains("unless { principal is Agent };"),
        "{}",
        suggestion.policies
    );
    assert!(!suggestion.policies.contains("principal == Agent::\"a\" ||"));
    assert!(
        suggestion
            .notes
            .iter()
            .any(|n| n.contains("`agents-and-users-read` is closed by type")),
        "{:?}",
        suggestion.notes
    );
}

#[test]
fn a_shared_permit_names_its_principals_when_the_type_has_others_that_keep_it() {
    // Agent "c" takes no step: `principal is Agent` would take the permit
    // from it too, so the exact fallback names a and b, and a note says why.
    let suggestion = suggest_shared("by-name", true);
    assert_verified(&suggestion);
    assert!(
        suggestion
            .policies
            .contains(r#"unless { principal == Agent::"a" || principal == Agent::"b" };"#),
        "{}",
        suggestion.policies
    );
    assert!(
        suggestion
            .notes
            .iter()
            .any(|n| n.contains("exact fallback") && n.contains(r#"Agent::"c" keeps it"#)),
        "{:?}",
        suggestion.notes
    );
}
