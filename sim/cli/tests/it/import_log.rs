//! `privsim import log`: a request log becomes a scenario whose sessions and
//! chains are the log's, whose steps reproduce production's recorded
//! decisions, and which a candidate policy fails exactly where it would
//! have broken the logged traffic; the committed example is what the
//! importer writes; `docs/request-log.schema.json` accepts exactly the lines
//! the importer accepts; bad lines are bad input at `file:line:col`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use privsim::import::log::{self as request_log, LogOptions, LoggedScenario};
use privsim::import::mcp::{McpConfig, McpServer};
use privsim::result::{Decision, FindingKind};
use serde_json::Value;

use crate::common::{copy_tree, workspace_root};

fn example() -> PathBuf {
    workspace_root().join("scenarios/mcp-helpdesk")
}

/// The example log's lines, read here with serde_json alone.
fn example_lines() -> Vec<Value> {
    std::fs::read_to_string(example().join("log.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn example_options(policies: &str) -> LogOptions {
    let server = McpServer::read(
        &example().join("tools.json"),
        &example().join("stub.cedarschema"),
        McpConfig::default(),
    )
    .unwrap();
    LogOptions::new(vec![example().join("policies").join(policies)])
        .schema(Some(example().join("schema.cedarschema")))
        .entities(Some(example().join("entities.json")))
        .mcp(Some(server))
}

fn import(options: &LogOptions) -> LoggedScenario {
    request_log::import_log(&example().join("log.jsonl"), options)
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
}

#[test]
fn sessions_and_chains_are_the_logs() {
    let logged = import(&example_options("production.cedar"));
    // Each session id of the log with its principal, delegator and parent, as
    // the log states them.
    let mut expected: BTreeMap<String, (String, Option<String>, Option<String>)> = BTreeMap::new();
    for line in example_lines() {
        let principal: cedar_policy::EntityUid =
            line["principal"].as_str().unwrap().parse().unwrap();
        let on_behalf_of = line["on_behalf_of"]
            .as_str()
            .map(|text| text.parse::<cedar_policy::EntityUid>().unwrap().to_string());
        let parent = line["parent"].as_str().map(ToString::to_string);
        expected.insert(
            line["session"].as_str().unwrap().to_string(),
            (principal.to_string(), on_behalf_of, parent),
        );
    }
    let found: BTreeMap<String, (String, Option<String>, Option<String>)> = logged
        .sessions
        .iter()
        .map(|s| {
            (
                s.id.clone(),
                (
                    s.principal.clone(),
                    s.on_behalf_of.clone(),
                    s.parent.clone(),
                ),
            )
        })
        .collect();
    assert_eq!(found, expected);
    // Every parent comes before its children.
    let mut seen = BTreeSet::new();
    for session in &logged.sessions {
        if let Some(parent) = &session.parent {
            assert!(seen.contains(parent), "{} before {parent}", session.id);
        }
        seen.insert(session.id.clone());
    }
    // The loaded scenario resolves the chains: a sub-agent's chain runs
    // through its parent's principal to the human.
    let scenario = logged.load().unwrap();
    let result = privsim::evaluate(&scenario);
    let sub = result
        .steps
        .iter()
        .find(|s| s.principal == r#"Helpdesk::Agent::"summarizer""#)
        .unwrap();
    assert_eq!(
        sub.delegation_chain,
        [
            r#"Helpdesk::User::"alice""#,
            r#"Helpdesk::Agent::"triage-bot""#,
            r#"Helpdesk::Agent::"summarizer""#
        ]
    );
}

#[test]
fn replaying_against_production_reproduces_every_recorded_decision() {
    let lines = example_lines();
    let logged = import(&example_options("production.cedar"));
    let result = privsim::accounting::evaluate(&logged.load().unwrap());
    assert_eq!(result.steps.len(), lines.len());
    assert!(result.passed);
    // Steps in time order; each step's decision is its line's.
    let mut by_time: Vec<(&str, usize)> = lines
        .iter()
        .enumerate()
        .map(|(index, line)| (line["timestamp"].as_str().unwrap(), index))
        .collect();
    by_time.sort();
    for (step, (_, index)) in result.steps.iter().zip(&by_time) {
        assert_eq!(
            step.name.as_deref(),
            Some(&*format!("log.jsonl:{}", index + 1))
        );
        assert_eq!(
            step.decision.as_str(),
            lines[*index]["decision"].as_str().unwrap()
        );
        assert_eq!(
            step.action,
            format!(
                "Helpdesk::Action::\"{}\"",
                lines[*index]["tools_call"]["params"]["name"]
                    .as_str()
                    .unwrap()
            )
        );
    }
    // What the over-privileged ops agent did that bob could not.
    let ceilings: BTreeSet<usize> = result
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::DelegationCeiling)
        .filter_map(|f| f.step)
        .collect();
    let beyond_bob: BTreeSet<usize> = by_time
        .iter()
        .enumerate()
        .filter(|(_, (_, index))| {
            let line = &lines[*index];
            line["principal"] == r#"Helpdesk::Agent::"ops-bot""#
                && (line["resource"] != r#"Helpdesk::Workspace::"acme""#
                    || !["search_tickets", "get_ticket", "add_comment"]
                        .contains(&line["tools_call"]["params"]["name"].as_str().unwrap()))
        })
        .map(|(step, _)| step)
        .collect();
    assert!(!beyond_bob.is_empty());
    assert_eq!(
        ceilings.iter().map(|s| s - 1).collect::<BTreeSet<_>>(),
        beyond_bob
    );
}

#[test]
fn a_candidate_fails_exactly_where_it_would_have_broken_the_log() {
    let lines = example_lines();
    // Right-sized: the ops agent keeps search, read and comment where bob works.
    let would_break: BTreeSet<String> = lines
        .iter()
        .enumerate()
        .filter(|(_, line)| {
            line["principal"] == r#"Helpdesk::Agent::"ops-bot""#
                && line["decision"] == "allow"
                && (line["resource"] != r#"Helpdesk::Workspace::"acme""#
                    || !["search_tickets", "get_ticket", "add_comment"]
                        .contains(&line["tools_call"]["params"]["name"].as_str().unwrap()))
        })
        .map(|(index, _)| format!("log.jsonl:{}", index + 1))
        .collect();
    let (code, stdout, stderr) = crate::common::privsim_in(
        &example(),
        &[
            "run",
            "production.toml",
            "--policies",
            "policies/right-sized.cedar",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    let failed: BTreeSet<String> = json["scenarios"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|step| step["expectation"]["passed"] == false)
        .map(|step| step["name"].as_str().unwrap().to_string())
        .collect();
    assert!(!would_break.is_empty());
    assert_eq!(failed, would_break);
}

#[test]
fn the_committed_example_is_what_the_importer_writes() {
    // Import into a copy of the example folder without its scenario; the
    // written file must be the committed one, byte for byte (generated
    // entity ids included: they do not depend on the run).
    let copy = temp_folder("example");
    for entry in std::fs::read_dir(example()).unwrap() {
        let entry = entry.unwrap();
        copy_tree(&entry.path(), &copy.join(entry.file_name()));
    }
    std::fs::remove_file(copy.join("production.toml")).unwrap();
    let args = [
        "import",
        "log",
        "log.jsonl",
        "--policies",
        "policies/production.cedar",
        "--schema",
        "schema.cedarschema",
        "--entities",
        "entities.json",
        "--tools",
        "tools.json",
        "--stub",
        "stub.cedarschema",
        "--name",
        "production",
        "--out",
        ".",
    ];
    let (code, stdout, stderr) = crate::common::privsim_in(&copy, &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("(309 steps, 60 sessions)"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(copy.join("production.toml")).unwrap(),
        std::fs::read_to_string(example().join("production.toml")).unwrap()
    );
    // Never replaced.
    let (code, _, stderr) = crate::common::privsim_in(&copy, &args);
    assert_eq!(code, 2);
    assert!(stderr.contains("never replaces"), "{stderr}");
}

#[test]
fn cedar_requests_without_mcp_replay_and_copy_outside_files() {
    let folder = temp_folder("plain");
    std::fs::write(
        folder.join("policies.cedar"),
        "@id(\"alice-reads\")\npermit(principal == User::\"alice\", action == Action::\"read\", resource) when { context.scopes.contains(\"read\") };\n",
    )
    .unwrap();
    let log = "{\"timestamp\": \"2026-01-01T10:00:00Z\", \"principal\": \"User::\\\"alice\\\"\", \"action\": \"Action::\\\"read\\\"\", \"resource\": {\"type\": \"Doc\", \"id\": \"d1\"}, \"context\": {\"scopes\": [\"read\"]}, \"decision\": \"allow\"}\n\
               \n\
               {\"timestamp\": \"2026-01-01T09:00:00Z\", \"principal\": {\"__entity\": {\"type\": \"Agent\", \"id\": \"bot\"}}, \"action\": \"Action::\\\"read\\\"\", \"resource\": \"Doc::\\\"d1\\\"\", \"on_behalf_of\": \"User::\\\"alice\\\"\", \"decision\": \"deny\"}\n";
    std::fs::write(folder.join("log.jsonl"), log).unwrap();
    let (code, stdout, stderr) = crate::common::privsim_in(
        &folder,
        &[
            "import",
            "log",
            "log.jsonl",
            "--policies",
            "policies.cedar",
            "--output-format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    // Replayed streamed: every recorded decision reproduced, so no step is
    // listed (only mismatches are), and the summary counts both requests.
    let summary = &json["scenarios"][0]["summary"];
    assert_eq!(summary["steps"], 2);
    assert_eq!(summary["allowed"], 1);
    assert_eq!(summary["denied"], 1);
    assert_eq!(summary["expectations_failed"], 0);
    assert_eq!(json["scenarios"][0]["steps"].as_array().unwrap().len(), 0);
    // The scenario: time order, not log order; the delegated line got a session.
    let logged = request_log::import_log(
        &folder.join("log.jsonl"),
        &LogOptions::new(vec![folder.join("policies.cedar")]),
    )
    .unwrap();
    let replayed = privsim::evaluate(&logged.load().unwrap());
    let steps = &replayed.steps;
    assert_eq!(steps[0].name.as_deref(), Some("log.jsonl:3"));
    assert_eq!(
        steps[0].session.as_deref(),
        Some(r#"Agent::"bot" for User::"alice""#)
    );
    assert_eq!(steps[1].name.as_deref(), Some("log.jsonl:1"));
    assert_eq!(steps[1].decision, Decision::Allow);

    // Written elsewhere, the policy file is copied beside the scenario.
    let out = folder.join("out");
    let (code, _, stderr) = crate::common::privsim_in(
        &folder,
        &[
            "import",
            "log",
            "log.jsonl",
            "--policies",
            "policies.cedar",
            "--out",
            "out",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(out.join("policies.cedar").is_file());
    let (code, stdout, _) = crate::common::privsim_in(&out, &["run", "log.toml"]);
    assert_eq!(code, 0, "{stdout}");
}

/// Lines the importer rejects, each with where the error must point; the
/// JSON Schema must reject the ones whose problem is their shape.
const BAD_LINES: [(&str, &str, bool); 10] = [
    (
        r#"{"timestamp": "2026-01-01T10:00:00Z", "principal": "User::\"a\"", "action": "Action::\"r\"", "resource": "Doc::\"d\"", "actor": 1}"#,
        "unknown field `actor`",
        true,
    ),
    (
        r#"{"principal": "User::\"a\"", "action": "Action::\"r\"", "resource": "Doc::\"d\""}"#,
        "missing field `timestamp`",
        true,
    ),
    (
        r#"{"timestamp": "yesterday", "principal": "User::\"a\"", "action": "Action::\"r\"", "resource": "Doc::\"d\""}"#,
        "not an RFC 3339 timestamp",
        true,
    ),
    (
        r#"{"timestamp": "2026-01-01T10:00:00Z", "principal": "alice", "action": "Action::\"r\"", "resource": "Doc::\"d\""}"#,
        "bad `principal`",
        true,
    ),
    (
        r#"{"timestamp": "2026-01-01T10:00:00Z", "principal": "User::\"a\"", "resource": "Doc::\"d\""}"#,
        "needs `action`",
        true,
    ),
    (
        r#"{"timestamp": "2026-01-01T10:00:00Z", "principal": "User::\"a\"", "action": "Action::\"r\"", "tools_call": {"params": {"name": "x"}}, "resource": "Doc::\"d\""}"#,
        "either `action` or `tools_call`",
        true,
    ),
    (
        r#"{"timestamp": "2026-01-01T10:00:00Z", "principal": "User::\"a\"", "action": "Action::\"r\"", "resource": "Doc::\"d\"", "context": {"score": 1.5}}"#,
        "not a Cedar integer",
        true,
    ),
    (
        r#"{"timestamp": "2026-01-01T10:00:00Z", "principal": "User::\"a\"", "action": "Action::\"r\"", "resource": "Doc::\"d\"", "session": "s", "trace_id": "t"}"#,
        "either `session` or `trace_id`",
        true,
    ),
    (
        r#"{"timestamp": "2026-01-01T10:00:00Z", "principal": "User::\"a\"", "action": "Action::\"r\"", "resource": "Doc::\"d\"", "decision": "maybe"}"#,
        "unknown variant `maybe`",
        true,
    ),
    (
        r#"{"timestamp": "2026-01-01T10:00:00Z", "principal": "User::\"a\"", "action": "Action::\"r\"", "resource": "Doc::\"d\"", "parent": "p"}"#,
        "needs the line's own `session`",
        true,
    ),
];

/// A good line to put before each bad one, so the error is on line 2.
const GOOD_LINE: &str = r#"{"timestamp": "2026-01-01T09:00:00Z", "principal": "User::\"a\"", "action": "Action::\"r\"", "resource": "Doc::\"d\"", "session": "s1", "on_behalf_of": "User::\"b\"", "decision": "deny", "meta": {"anything": [null, 1.5]}}"#;

#[test]
fn bad_lines_are_bad_input_at_their_line() {
    let folder = temp_folder("bad-lines");
    std::fs::write(folder.join("p.cedar"), "").unwrap();
    for (index, (line, message, _)) in BAD_LINES.iter().enumerate() {
        let log = format!("log-{index}.jsonl");
        std::fs::write(folder.join(&log), format!("{GOOD_LINE}\n{line}\n")).unwrap();
        let (code, stdout, stderr) =
            crate::common::privsim_in(&folder, &["import", "log", &log, "--policies", "p.cedar"]);
        assert_eq!(code, 2, "{line}: {stdout}{stderr}");
        assert!(stderr.contains(&format!("{log}:2:")), "{line}: {stderr}");
        assert!(
            crate::common::unwrapped(&stderr).contains(&crate::common::unwrapped(message)),
            "expected `{message}` in {stderr}"
        );
    }
    // Sessions that contradict each other, and unknown parents.
    for (second, message) in [
        (
            r#"{"timestamp": "2026-01-01T10:00:00Z", "principal": "User::\"z\"", "action": "Action::\"r\"", "resource": "Doc::\"d\"", "session": "s1", "on_behalf_of": "User::\"b\""}"#,
            "session `s1` changes its principal: line 1",
        ),
        (
            r#"{"timestamp": "2026-01-01T10:00:00Z", "principal": "User::\"a\"", "action": "Action::\"r\"", "resource": "Doc::\"d\"", "session": "s1", "on_behalf_of": "User::\"c\""}"#,
            "session `s1` changes its delegator",
        ),
        (
            r#"{"timestamp": "2026-01-01T10:00:00Z", "principal": "User::\"a\"", "action": "Action::\"r\"", "resource": "Doc::\"d\"", "session": "s2", "parent": "nobody"}"#,
            "the parent session `nobody` makes no request",
        ),
    ] {
        std::fs::write(
            folder.join("sessions.jsonl"),
            format!("{GOOD_LINE}\n{second}\n"),
        )
        .unwrap();
        let (code, _, stderr) = crate::common::privsim_in(
            &folder,
            &["import", "log", "sessions.jsonl", "--policies", "p.cedar"],
        );
        assert_eq!(code, 2, "{second}");
        assert!(stderr.contains("sessions.jsonl:2:"), "{stderr}");
        assert!(
            crate::common::unwrapped(&stderr).contains(&crate::common::unwrapped(message)),
            "expected `{message}` in {stderr}"
        );
    }
    // A `tools_call` without the server's tool list.
    std::fs::write(
        folder.join("mcp.jsonl"),
        r#"{"timestamp": "2026-01-01T10:00:00Z", "principal": "User::\"a\"", "tools_call": {"params": {"name": "x", "arguments": {}}}, "resource": "Doc::\"d\""}"#,
    )
    .unwrap();
    let (code, _, stderr) = crate::common::privsim_in(
        &folder,
        &["import", "log", "mcp.jsonl", "--policies", "p.cedar"],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("mcp.jsonl:1:"), "{stderr}");
    assert!(stderr.contains("--tools"), "{stderr}");
}

#[test]
fn a_tools_call_the_tool_list_rejects_is_located_in_the_call() {
    let folder = temp_folder("bad-call");
    let line = std::fs::read_to_string(example().join("log.jsonl"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .replace("\"query\": \"outage\"", "\"query\": 42");
    std::fs::write(folder.join("log.jsonl"), format!("{line}\n")).unwrap();
    let options = example_options("production.cedar");
    let error = request_log::import_log(&folder.join("log.jsonl"), &options).unwrap_err();
    let message = format!("{:?}", miette::Report::new(error));
    assert!(message.contains("log.jsonl:1:"), "{message}");
    assert!(message.contains("bad `tools_call`"), "{message}");
    // The arrow points into the call, at or after its start.
    let column: usize = message
        .split("log.jsonl:1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .unwrap();
    assert!(column > line.find("\"tools_call\"").unwrap(), "{message}");
}

/// The committed JSON Schema of the log format.
fn log_schema() -> jsonschema::Validator {
    let text =
        std::fs::read_to_string(workspace_root().join("docs/request-log.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft202012::options().build(&schema).unwrap()
}

#[test]
fn the_json_schema_accepts_exactly_what_the_importer_accepts() {
    let validator = log_schema();
    // Every line of the example log, and the good line of the tests above.
    for line in example_lines()
        .into_iter()
        .chain([serde_json::from_str(GOOD_LINE).unwrap()])
    {
        let errors: Vec<String> = validator
            .iter_errors(&line)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{line}: {errors:?}");
    }
    // Every line whose problem is its shape is rejected by the schema too.
    for (line, message, shape) in BAD_LINES {
        let value: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            validator.is_valid(&value),
            !shape,
            "the schema and the importer disagree on {line} ({message})"
        );
    }
    // Each property the schema documents is one the importer reads: a line
    // with it is not refused as an unknown field.
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("docs/request-log.schema.json")).unwrap(),
    )
    .unwrap();
    let documented: BTreeSet<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        documented,
        BTreeSet::from([
            "timestamp",
            "principal",
            "action",
            "resource",
            "context",
            "tools_call",
            "session",
            "trace_id",
            "on_behalf_of",
            "parent",
            "decision",
            "meta"
        ])
    );
    let folder = temp_folder("schema-fields");
    std::fs::write(folder.join("p.cedar"), "").unwrap();
    for field in documented {
        let mut line: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"timestamp": "2026-01-01T10:00:00Z", "principal": "User::\"a\"", "action": "Action::\"r\"", "resource": "Doc::\"d\""}"#).unwrap();
        let value = match field {
            "session" | "trace_id" => Value::from("s"),
            "on_behalf_of" => Value::from("User::\"b\""),
            "decision" => Value::from("deny"),
            "context" | "meta" => serde_json::json!({}),
            _ => continue,
        };
        line.insert(field.to_string(), value);
        let text = Value::Object(line).to_string();
        std::fs::write(folder.join("log.jsonl"), &text).unwrap();
        let (code, _, stderr) = crate::common::privsim_in(
            &folder,
            &["import", "log", "log.jsonl", "--policies", "p.cedar"],
        );
        assert_eq!(code, 0, "{text}: {stderr}");
        assert!(
            validator.is_valid(&serde_json::from_str(&text).unwrap()),
            "{text}"
        );
    }
}

fn temp_folder(test: &str) -> PathBuf {
    let folder =
        std::env::temp_dir().join(format!("privsim-import-log-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}
