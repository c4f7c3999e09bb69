//! No false assurance: cases where privsim once said "clean" about something
//! it never checked. Each test names what broke and keeps its input.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use privsim::result::FindingKind;
use privsim::search::{Options, Strategy};

use crate::common::load;

/// An approval whose schema requires a context key (`requester`) that only
/// the scripted step supplies: a held-set check cannot even build the
/// request, so the never rule on it must be judged on the request itself.
const APPROVAL_SCHEMA: &str = r#"
entity Agent;
entity Ticket;
action approve appliesTo { principal: [Agent], resource: [Ticket], context: { requester: Agent } };
action read appliesTo { principal: [Agent], resource: [Ticket], context: {} };
"#;

const APPROVAL_POLICIES: &str = r#"
@id("anyone-approves") permit (principal, action == Action::"approve", resource);
@id("anyone-reads") permit (principal, action == Action::"read", resource);
"#;

const APPROVAL_ENTITIES: &str = r#"[
  {"uid": {"type": "Agent", "id": "bot"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Agent", "id": "alice-bot"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Ticket", "id": "T-1"}, "attrs": {}, "parents": []}
]"#;

const APPROVAL_SCENARIO: &str = r#"
[scenario]
name = "approval needs a requester"
policies = ["p.cedar"]
schema = "s.cedarschema"
entities = "entities.json"
start = "2026-06-01T09:00:00Z"

[[session]]
id = "bot"
principal = 'Agent::"bot"'

[[step]]
at = "+1m"
session = "bot"
action = 'Action::"read"'
resource = 'Ticket::"T-1"'
expect = "allow"

[[step]]
at = "+2m"
session = "bot"
action = 'Action::"approve"'
resource = 'Ticket::"T-1"'
context = { requester = { __entity = { type = "Agent", id = "alice-bot" } } }
expect = "allow"

[[never]]
principal = 'Agent::"bot"'
action = 'Action::"approve"'
reason = "agents never approve"
"#;

fn approval_files() -> [(&'static str, &'static str); 4] {
    [
        ("scenario.toml", APPROVAL_SCENARIO),
        ("p.cedar", APPROVAL_POLICIES),
        ("s.cedarschema", APPROVAL_SCHEMA),
        ("entities.json", APPROVAL_ENTITIES),
    ]
}

#[test]
fn never_rule_on_an_action_whose_context_only_a_step_supplies_is_reported_by_replay() {
    let scenario = load("never-step-context-replay", &approval_files());
    let result = privsim::evaluate(&scenario);
    let never: Vec<_> = result
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Never)
        .collect();
    assert_eq!(never.len(), 1, "{:#?}", result.findings);
    assert_eq!(never[0].principal, r#"Agent::"bot""#);
    assert_eq!(never[0].action, r#"Action::"approve""#);
    assert_eq!(never[0].determining_policies, vec!["anyone-approves"]);
    assert_eq!(never[0].time.to_string(), "2026-06-01T09:02:00Z");
}

#[test]
fn never_rule_on_an_action_whose_context_only_a_step_supplies_is_found_by_every_search() {
    let scenario = load("never-step-context-search", &approval_files());
    for strategy in [Strategy::Random, Strategy::Novelty, Strategy::Exhaustive] {
        let options = Options {
            strategy,
            seed: 7,
            max_steps: 2_000,
            depth: 3,
            ..Options::default()
        };
        let fuzzed = privsim::search::fuzz::fuzz(&scenario, &options, &mut |_| {});
        let searched: Vec<_> = fuzzed
            .result
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Never && !f.trace.is_empty())
            .collect();
        assert!(
            !searched.is_empty(),
            "{strategy:?} found no never finding: {:#?}",
            fuzzed.result.findings
        );
        // The repro replays the request with the context that was allowed.
        assert!(
            fuzzed
                .repros
                .iter()
                .any(|(_, text)| text.contains("requester")),
            "{strategy:?}: {:?}",
            fuzzed.repros
        );
    }
}

/// An agent that can join any of four roles, again and again: the worlds it
/// can reach are the 16 sets of memberships, however often a role is joined.
const MEMBERSHIPS_SCHEMA: &str = r#"
entity Role;
entity Agent in [Role];
entity Doc;
action join appliesTo { principal: [Agent], resource: [Role], context: {} };
action read appliesTo { principal: [Agent], resource: [Doc], context: {} };
"#;

const MEMBERSHIPS_POLICIES: &str = r#"
@id("join-any") permit (principal, action == Action::"join", resource);
@id("r4-reads") permit (principal in Role::"r4", action == Action::"read", resource);
"#;

const MEMBERSHIPS_ENTITIES: &str = r#"[
  {"uid": {"type": "Role", "id": "r1"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Role", "id": "r2"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Role", "id": "r3"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Role", "id": "r4"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Agent", "id": "bot"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Doc", "id": "d"}, "attrs": {}, "parents": []}
]"#;

const MEMBERSHIPS_SCENARIO: &str = r#"
[scenario]
name = "four memberships"
policies = ["p.cedar"]
schema = "s.cedarschema"
entities = "entities.json"
start = "2026-06-01T09:00:00Z"

[[session]]
id = "bot"
principal = 'Agent::"bot"'

[[effect]]
action = 'Action::"join"'
add_parent = { entity = "principal", parent = "resource" }

[[step]]
at = "+1m"
session = "bot"
action = 'Action::"join"'
resource = 'Role::"r1"'
expect = "allow"

[[never]]
principal = 'Agent::"bot"'
action = 'Action::"read"'
reason = "the bot never reads"
"#;

#[test]
fn a_membership_joined_twice_is_not_a_new_state() {
    let scenario = load(
        "redundant-memberships",
        &[
            ("scenario.toml", MEMBERSHIPS_SCENARIO),
            ("p.cedar", MEMBERSHIPS_POLICIES),
            ("s.cedarschema", MEMBERSHIPS_SCHEMA),
            ("entities.json", MEMBERSHIPS_ENTITIES),
        ],
    );
    let options = Options {
        strategy: Strategy::Exhaustive,
        seed: 0,
        max_steps: 100_000,
        depth: 8,
        ..Options::default()
    };
    let fuzzed = privsim::search::fuzz::fuzz(&scenario, &options, &mut |_| {});
    let summary = fuzzed.result.search.as_ref().unwrap();
    // Every set of the four memberships, and no other state.
    assert_eq!(summary.states, 16, "{summary:#?}");
    assert!(!summary.budget_exhausted, "{summary:#?}");
    // The escalation through `r4` is still found.
    assert!(
        fuzzed
            .result
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::Never),
        "{:#?}",
        fuzzed.result.findings
    );
}

#[test]
fn without_a_schema_a_never_rule_with_a_typo_is_a_warning() {
    let scenario = load(
        "never-typo-no-schema",
        &[
            (
                "scenario.toml",
                r#"
[scenario]
name = "typo"
policies = ["p.cedar"]
start = "2026-06-01T09:00:00Z"

[[entity]]
uid = 'Agent::"bot"'

[[never]]
principal = 'Agnet'
action = 'Action::"exportRecord"'
"#,
            ),
            (
                "p.cedar",
                r#"permit (principal, action == Action::"exportRecords", resource);"#,
            ),
        ],
    );
    let warnings = scenario.warnings.join("\n");
    assert!(
        warnings.contains("scenario.toml:11:13: `[[never]]`: no entity of the world has the type `Agnet` (did you mean `Agent`?)"),
        "{warnings}"
    );
    assert!(
        warnings.contains("scenario.toml:12:10: `[[never]]`: no policy names the action `Action::\"exportRecord\"`"),
        "{warnings}"
    );
}

#[test]
fn pairs_whose_requests_the_schema_rejects_are_unchecked_not_unheld() {
    // Acting alone, the bot presents no `ticket`, which `read` requires: none
    // of its universe can be asked about. It once read as "held 1, used 1,
    // 100%" (the pair its step used) with ten more readable tickets unseen.
    let mut entities =
        vec![r#"{"uid": {"type": "Agent", "id": "bot"}, "attrs": {}, "parents": []}"#.to_string()];
    for n in 1..=11 {
        entities.push(format!(
            r#"{{"uid": {{"type": "Ticket", "id": "T-{n}"}}, "attrs": {{}}, "parents": []}}"#
        ));
    }
    let entities = format!("[{}]", entities.join(",\n"));
    let scenario = load(
        "unchecked-universe",
        &[
            (
                "scenario.toml",
                r#"
[scenario]
name = "requests the schema rejects"
policies = ["p.cedar"]
schema = "s.cedarschema"
entities = "entities.json"
start = "2026-06-01T09:00:00Z"

[[step]]
at = "+1m"
principal = 'Agent::"bot"'
action = 'Action::"read"'
resource = 'Ticket::"T-1"'
context = { ticket = "CHG-1" }
expect = "allow"
"#,
            ),
            (
                "p.cedar",
                r#"permit (principal, action == Action::"read", resource);"#,
            ),
            (
                "s.cedarschema",
                r#"
entity Agent;
entity Ticket;
action read appliesTo { principal: [Agent], resource: [Ticket], context: { ticket: String } };
"#,
            ),
            ("entities.json", &entities),
        ],
    );
    let result = privsim::evaluate(&scenario);
    let bot = &result.principals[0];
    assert_eq!(bot.unchecked.len(), 1, "{bot:#?}");
    assert_eq!(bot.unchecked[0].resources, 11);
    assert_eq!(bot.unchecked[0].resource_type, "Ticket");
    assert_eq!(bot.unchecked[0].session, "alone");
    assert!(
        result
            .warnings
            .iter()
            .any(|w| w.contains("11 pair(s) of its universe") && w.contains("ticket")),
        "{:#?}",
        result.warnings
    );
}

/// A lock whose end only an attribute names, and an effect that moves it:
/// the clock must be moved to the datetimes of the data, not only to the
/// policies' literals.
fn locked_files(policy: &'static str) -> [(&'static str, &'static str); 4] {
    [
        (
            "scenario.toml",
            r#"
[scenario]
name = "time in an attribute"
policies = ["p.cedar"]
schema = "s.cedarschema"
entities = "entities.json"
start = "2026-06-01T09:00:00Z"

[facts]
now = "now"

[[session]]
id = "bot"
principal = 'Agent::"bot"'

[[effect]]
action = 'Action::"snooze"'
set_attr = { entity = "resource", name = "locked_until", value = { __extn = { fn = "datetime", arg = "2026-06-01T10:00:00Z" } } }

[[step]]
at = "+1m"
session = "bot"
action = 'Action::"read"'
resource = 'Doc::"d"'
expect = "allow"

[[never]]
principal = 'Agent::"bot"'
action = 'Action::"delete"'
"#,
        ),
        ("p.cedar", policy),
        (
            "s.cedarschema",
            r#"
entity Agent;
entity Doc { locked_until: datetime };
action read, delete, snooze appliesTo { principal: [Agent], resource: [Doc], context: { now: datetime } };
"#,
        ),
        (
            "entities.json",
            r#"[
  {"uid": {"type": "Agent", "id": "bot"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Doc", "id": "d"}, "attrs": {"locked_until": {"__extn": {"fn": "datetime", "arg": "2026-06-03T00:00:00Z"}}}, "parents": []}
]"#,
        ),
    ]
}

#[test]
fn time_hidden_in_an_attribute_that_an_effect_moves_is_searched() {
    let scenario = load(
        "time-in-attribute",
        &locked_files(
            r#"
@id("read") permit (principal, action == Action::"read", resource);
@id("snooze") permit (principal, action == Action::"snooze", resource);
@id("delete-when-unlocked") permit (principal, action == Action::"delete", resource) when { context.now >= resource.locked_until };
"#,
        ),
    );
    for strategy in [Strategy::Random, Strategy::Novelty, Strategy::Exhaustive] {
        let options = Options {
            strategy,
            seed: 7,
            max_steps: 5_000,
            depth: 4,
            ..Options::default()
        };
        let fuzzed = privsim::search::fuzz::fuzz(&scenario, &options, &mut |_| {});
        assert!(
            fuzzed
                .result
                .findings
                .iter()
                .any(|f| f.kind == FindingKind::Never),
            "{strategy:?}: snooze, wait until 10:00, delete was not found: {:#?}",
            fuzzed.result.search
        );
    }
}

#[test]
fn time_arithmetic_in_policies_is_a_caveat() {
    let scenario = load(
        "time-arithmetic",
        &locked_files(
            r#"
@id("read") permit (principal, action == Action::"read", resource);
@id("delete-an-hour-after") permit (principal, action == Action::"delete", resource) when { context.now >= resource.locked_until.offset(duration("1h")) };
"#,
        ),
    );
    let options = Options {
        strategy: Strategy::Exhaustive,
        depth: 2,
        ..Options::default()
    };
    let fuzzed = privsim::search::fuzz::fuzz(&scenario, &options, &mut |_| {});
    let search = fuzzed.result.search.unwrap();
    assert!(
        search
            .caveats
            .iter()
            .any(|c| c.contains("the policies compute times (`offset`)")),
        "{:#?}",
        search.caveats
    );
}

#[test]
fn a_context_key_a_session_presents_is_a_caveat_for_principals_acting_alone() {
    // The session fixes `approved`; the operator acts alone and presents
    // nothing, so the search never tries `approved = true` for it. That
    // must be said, not read as "nothing to find".
    let scenario = load(
        "session-key-acting-alone",
        &[
            (
                "scenario.toml",
                r#"
[scenario]
name = "a key only a session presents"
policies = ["p.cedar"]
start = "2026-06-01T09:00:00Z"

[[entity]]
uid = 'Agent::"bot"'
[[entity]]
uid = 'User::"operator"'
[[entity]]
uid = 'Doc::"d"'

[[session]]
id = "bot-session"
principal = 'Agent::"bot"'
context = { approved = false }

[[step]]
at = "+1m"
session = "bot-session"
action = 'Action::"read"'
resource = 'Doc::"d"'
expect = "deny"

[[step]]
at = "+2m"
principal = 'User::"operator"'
action = 'Action::"read"'
resource = 'Doc::"d"'
expect = "deny"
"#,
            ),
            (
                "p.cedar",
                r#"permit (principal, action == Action::"read", resource) when { context has approved && context.approved };"#,
            ),
        ],
    );
    let options = Options {
        strategy: Strategy::Exhaustive,
        seed: 0,
        max_steps: 10_000,
        depth: 2,
        ..Options::default()
    };
    let fuzzed = privsim::search::fuzz::fuzz(&scenario, &options, &mut |_| {});
    let caveats = &fuzzed.result.search.as_ref().unwrap().caveats;
    assert!(
        caveats
            .iter()
            .any(|c| c.contains("`approved`") && c.contains("a session presents it")),
        "{caveats:#?}"
    );
}
