//! Effects in replay: each operation changes the world for the steps after
//! it, a denied step changes nothing, dormant sessions act only once started,
//! never rules and attenuation are reported in replay, and accounting measures
//! the world as the replay lived it.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use privsim::result::{FindingKind, ScenarioResult};

const SCHEMA: &str = r#"
entity Role;
entity Agent in [Role] { level?: Long, elevated_until?: datetime };
entity User in [Role];
entity Doc;
type Ctx = { now: datetime, assignee?: Agent };
action read, write appliesTo { principal: [Agent, User], resource: [Doc], context: Ctx };
action assign, unassign, raise, elevate, revokeAll, delegate appliesTo { principal: [Agent, User], resource: [Role, Agent], context: Ctx };
"#;

const POLICIES: &str = r#"
@id("admins-assign") permit (principal in Role::"admin", action in [Action::"assign", Action::"unassign", Action::"raise", Action::"elevate", Action::"revokeAll", Action::"delegate"], resource);
@id("writers-write") permit (principal in Role::"writer", action == Action::"write", resource);
@id("leveled-read") permit (principal is Agent, action == Action::"read", resource) when { principal has level && principal.level >= 2 };
@id("elevated-read") permit (principal is Agent, action == Action::"read", resource) when { principal has elevated_until && context.now < principal.elevated_until };
"#;

const ENTITIES: &str = r#"[
  {"uid": {"type": "Role", "id": "admin"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Role", "id": "writer"}, "attrs": {}, "parents": []},
  {"uid": {"type": "User", "id": "root"}, "attrs": {}, "parents": [{"type": "Role", "id": "admin"}]},
  {"uid": {"type": "Agent", "id": "bot"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Agent", "id": "sub"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Doc", "id": "d"}, "attrs": {}, "parents": []}
]"#;

fn scenario(steps: &str) -> String {
    format!(
        r#"
[scenario]
name = "effects"
policies = ["p.cedar"]
schema = "s.cedarschema"
entities = "entities.json"
start = "2026-06-01T09:00:00Z"

[facts]
now = "now"

[[session]]
id = "bot"
principal = 'Agent::"bot"'

[[session]]
id = "sub"
principal = 'Agent::"sub"'
parent = "bot"
dormant = true
lifetime = "10m"

[[effect]]
action = 'Action::"assign"'
add_parent = {{ entity = "context.assignee", parent = "resource" }}

[[effect]]
action = 'Action::"unassign"'
remove_parent = {{ entity = "context.assignee", parent = "resource" }}

[[effect]]
action = 'Action::"raise"'
set_attr = {{ entity = "resource", name = "level", value = 2 }}

[[effect]]
action = 'Action::"elevate'
grant = {{ entity = "resource", lifetime = "5m", expiry = "policy", until_attr = "elevated_until" }}

[[effect]]
action = 'Action::"revokeAll"'
revoke = {{ entity = "resource" }}

[[effect]]
action = 'Action::"delegate"'
resource = 'Agent::"sub"'
start_session = "sub"
{steps}"#
    )
    .replace("'Action::\"elevate'", "'Action::\"elevate\"'")
}

fn step(at: &str, who: &str, action: &str, resource: &str, extra: &str, expect: &str) -> String {
    let who = match who.strip_prefix("session:") {
        Some(session) => format!("session = \"{session}\""),
        None => format!("principal = '{who}'"),
    };
    format!(
        "\n[[step]]\nat = \"{at}\"\n{who}\naction = 'Action::\"{action}\"'\nresource = '{resource}'\n{extra}\nexpect = \"{expect}\"\n"
    )
}

fn run(test: &str, steps: &str) -> ScenarioResult {
    let toml = scenario(steps);
    crate::common::evaluate(
        test,
        &[
            ("scenario.toml", &toml),
            ("s.cedarschema", SCHEMA),
            ("p.cedar", POLICIES),
            ("entities.json", ENTITIES),
        ],
    )
}

fn assert_passed(result: &ScenarioResult) {
    for step in &result.steps {
        let e = step.expectation.as_ref().unwrap();
        assert!(e.passed, "step {}: {:?} {:?}", step.index, e.failures, step);
    }
}

const ASSIGN_BOT: &str =
    "context = { assignee = { __entity = { type = \"Agent\", id = \"bot\" } } }";

#[test]
fn role_assignment_and_removal_change_later_decisions() {
    let steps = [
        step("+1m", "session:bot", "write", "Doc::\"d\"", "", "deny"),
        step(
            "+2m",
            "session:bot",
            "assign",
            "Role::\"writer\"",
            ASSIGN_BOT,
            "deny",
        ),
        step(
            "+3m",
            "User::\"root\"",
            "assign",
            "Role::\"writer\"",
            ASSIGN_BOT,
            "allow",
        ),
        step("+4m", "session:bot", "write", "Doc::\"d\"", "", "allow"),
        step(
            "+5m",
            "User::\"root\"",
            "unassign",
            "Role::\"writer\"",
            ASSIGN_BOT,
            "allow",
        ),
        step("+6m", "session:bot", "write", "Doc::\"d\"", "", "deny"),
    ]
    .concat();
    let result = run("effects-assign", &steps);
    assert_passed(&result);
    assert!(
        result.steps[1].effects.is_empty(),
        "a denied step changes nothing"
    );
    assert_eq!(
        result.steps[2].effects,
        vec!["Agent::\"bot\" joins Role::\"writer\"".to_string()]
    );
    // Accounting sees the world as it evolved: write was held from +3m to +5m.
    let bot = result
        .principals
        .iter()
        .find(|p| p.principal == "Agent::\"bot\"")
        .unwrap();
    let write = bot
        .held
        .iter()
        .find(|h| h.action == "Action::\"write\"")
        .unwrap();
    assert_eq!(write.held_ms, 2 * 60_000, "{write:?}");
}

#[test]
fn attributes_grants_and_revocation() {
    let steps = [
        step("+1m", "session:bot", "read", "Doc::\"d\"", "", "deny"),
        step(
            "+2m",
            "User::\"root\"",
            "raise",
            "Agent::\"bot\"",
            "",
            "allow",
        ),
        step("+3m", "session:bot", "read", "Doc::\"d\"", "", "allow"),
        step(
            "+4m",
            "User::\"root\"",
            "elevate",
            "Agent::\"sub\"",
            "",
            "allow",
        ),
        // The policy enforces `elevated_until`: held until +9m, not after.
        step(
            "+8m",
            "User::\"root\"",
            "delegate",
            "Agent::\"sub\"",
            "",
            "allow",
        ),
        step("+8m", "session:sub", "read", "Doc::\"d\"", "", "allow"),
        step("+9m", "session:sub", "read", "Doc::\"d\"", "", "deny"),
    ]
    .concat();
    let result = run("effects-attrs", &steps);
    assert_passed(&result);
    assert_eq!(
        result.steps[1].effects,
        vec!["Agent::\"bot\".level = 2".to_string()]
    );
    assert!(result.steps[3].effects[0].starts_with("grant to Agent::\"sub\""));
}

#[test]
fn revoke_ends_a_grant_early() {
    let steps = [
        step(
            "+1m",
            "User::\"root\"",
            "elevate",
            "Agent::\"bot\"",
            "",
            "allow",
        ),
        step("+2m", "session:bot", "read", "Doc::\"d\"", "", "allow"),
        step(
            "+3m",
            "User::\"root\"",
            "revokeAll",
            "Agent::\"bot\"",
            "",
            "allow",
        ),
        step("+4m", "session:bot", "read", "Doc::\"d\"", "", "deny"),
    ]
    .concat();
    let result = run("effects-revoke", &steps);
    assert_passed(&result);
    assert_eq!(
        result.steps[2].effects,
        vec!["revoked 1 grant(s) of Agent::\"bot\"".to_string()]
    );
}

#[test]
fn dormant_sessions_act_only_while_started() {
    let steps = [
        step("+1m", "session:sub", "read", "Doc::\"d\"", "", "error"),
        step(
            "+2m",
            "session:bot",
            "delegate",
            "Agent::\"sub\"",
            "",
            "deny",
        ),
        step(
            "+3m",
            "User::\"root\"",
            "delegate",
            "Agent::\"sub\"",
            "",
            "allow",
        ),
        step("+4m", "session:sub", "write", "Doc::\"d\"", "", "deny"),
        // Lifetime 10m from +3m.
        step("+13m", "session:sub", "write", "Doc::\"d\"", "", "error"),
    ]
    .concat();
    let result = run("effects-dormant", &steps);
    assert_passed(&result);
    assert!(
        result.steps[0].errors[0].message.contains("not running"),
        "{:?}",
        result.steps[0].errors
    );
    assert_eq!(
        result.steps[2].effects,
        vec!["session `sub` of Agent::\"sub\" starts, until 2026-06-01T09:13:00Z".to_string()]
    );
}

#[test]
fn never_rules_and_attenuation_are_reported_in_replay() {
    let mut steps = [
        step(
            "+1m",
            "User::\"root\"",
            "delegate",
            "Agent::\"sub\"",
            "",
            "allow",
        ),
        step(
            "+2m",
            "User::\"root\"",
            "assign",
            "Role::\"writer\"",
            "context = { assignee = { __entity = { type = \"Agent\", id = \"sub\" } } }",
            "allow",
        ),
    ]
    .concat();
    steps.push_str("\n[[never]]\nprincipal = 'Agent'\naction = 'Action::\"write\"'\nreason = \"agents never write\"\n");
    // Names sub itself: sub acting alone is an actor too, besides its session.
    steps.push_str("\n[[never]]\nprincipal = 'Agent::\"sub\"'\naction = 'Action::\"write\"'\n");
    let result = run("effects-never", &steps);
    assert_passed(&result);
    let kinds: Vec<(&str, Option<usize>)> = result
        .findings
        .iter()
        .map(|f| (f.kind.as_str(), f.step))
        .collect();
    // After step 2, sub (a session of bot) writes: bot does not (attenuation),
    // and no agent may write (never).
    assert!(kinds.contains(&("never", Some(2))), "{kinds:?}");
    assert!(kinds.contains(&("attenuation", Some(2))), "{kinds:?}");
    let never = result
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Never)
        .unwrap();
    assert!(
        never.rule.as_ref().unwrap().ends_with("scenario.toml:64"),
        "{never:?}"
    );
    // One finding per rule and principal: the session and the principal
    // acting alone are not reported twice.
    let rules: Vec<&str> = result
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Never && f.principal == "Agent::\"sub\"")
        .map(|f| f.rule.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert_ne!(rules[0], rules[1], "{rules:?}");
}

#[test]
fn invariants_can_be_switched_off() {
    let mut steps = [
        step(
            "+1m",
            "User::\"root\"",
            "delegate",
            "Agent::\"sub\"",
            "",
            "allow",
        ),
        step(
            "+2m",
            "User::\"root\"",
            "assign",
            "Role::\"writer\"",
            "context = { assignee = { __entity = { type = \"Agent\", id = \"sub\" } } }",
            "allow",
        ),
    ]
    .concat();
    steps.push_str("\n[[never]]\nprincipal = 'Agent'\naction = 'Action::\"write\"'\n\n[invariants]\nnever = false\nattenuation = false\n");
    let result = run("effects-switched-off", &steps);
    assert_passed(&result);
    assert!(result.findings.is_empty(), "{:?}", result.findings);
}

/// `revoke` ends grants and parents added by `add_parent`, never the changes
/// of `remove_parent` or `set_attr`: revoking must not give a removed role
/// back, nor rewrite an attribute.
#[test]
fn revoke_never_undoes_a_removal_or_an_attribute() {
    let toml = r#"
[scenario]
name = "revoke narrows only"
policies = ["p.cedar"]
entities = "entities.json"
start = "2026-06-01T09:00:00Z"

[[effect]]
action = 'Action::"unassign"'
remove_parent = { entity = "resource", parent = 'Role::"writer"' }

[[effect]]
action = 'Action::"assign"'
add_parent = { entity = "resource", parent = 'Role::"reader"' }

[[effect]]
action = 'Action::"raise"'
set_attr = { entity = "resource", name = "level", value = 2 }

[[effect]]
action = 'Action::"revokeAll"'
revoke = { entity = "resource" }
"#
    .to_string()
        + &[
            step("+1m", "Agent::\"bot\"", "write", "Doc::\"d\"", "", "allow"),
            step(
                "+2m",
                "User::\"root\"",
                "unassign",
                "Agent::\"bot\"",
                "",
                "allow",
            ),
            step("+3m", "Agent::\"bot\"", "write", "Doc::\"d\"", "", "deny"),
            step(
                "+4m",
                "User::\"root\"",
                "assign",
                "Agent::\"bot\"",
                "",
                "allow",
            ),
            step(
                "+5m",
                "User::\"root\"",
                "raise",
                "Agent::\"bot\"",
                "",
                "allow",
            ),
            step("+6m", "Agent::\"bot\"", "read", "Doc::\"d\"", "", "allow"),
            step("+6m", "Agent::\"bot\"", "audit", "Doc::\"d\"", "", "allow"),
            step(
                "+7m",
                "User::\"root\"",
                "revokeAll",
                "Agent::\"bot\"",
                "",
                "allow",
            ),
            // The role removed at +2m stays removed.
            step("+8m", "Agent::\"bot\"", "write", "Doc::\"d\"", "", "deny"),
            // The parent added at +4m is revoked.
            step("+8m", "Agent::\"bot\"", "audit", "Doc::\"d\"", "", "deny"),
            // The attribute set at +5m stays.
            step("+8m", "Agent::\"bot\"", "read", "Doc::\"d\"", "", "allow"),
        ]
        .concat();
    let policies = r#"
@id("root-administers") permit (principal == User::"root", action, resource);
@id("writers-write") permit (principal in Role::"writer", action == Action::"write", resource);
@id("readers-audit") permit (principal in Role::"reader", action == Action::"audit", resource);
@id("leveled-read") permit (principal, action == Action::"read", resource) when { principal has level && principal.level >= 2 };
"#;
    let entities = r#"[
  {"uid": {"type": "Role", "id": "writer"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Role", "id": "reader"}, "attrs": {}, "parents": []},
  {"uid": {"type": "User", "id": "root"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Agent", "id": "bot"}, "attrs": {}, "parents": [{"type": "Role", "id": "writer"}]},
  {"uid": {"type": "Doc", "id": "d"}, "attrs": {}, "parents": []}
]"#;
    let result = crate::common::evaluate(
        "effects-revoke-narrows",
        &[
            ("scenario.toml", &toml),
            ("p.cedar", policies),
            ("entities.json", entities),
        ],
    );
    assert_passed(&result);
    assert_eq!(
        result.steps[7].effects,
        vec!["revoked 1 grant(s) of Agent::\"bot\"".to_string()]
    );
}

/// Incremental state snapshots equal brute force in every state a walk of
/// the search's moves reaches, on generated worlds with effects of every
/// kind: with a schema, without one, and with policies drawn from Cedar's
/// whole grammar (`privsim_testkit::properties::check_states_exact`); so do
/// the answers the search gives without Cedar in those states.
#[test]
fn incremental_snapshots_equal_brute_force_on_generated_worlds() {
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::{Rng, SeedableRng};
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(16);
    let (mut states, mut changed, mut partial, mut other_context) = (0, 0, 0, 0);
    let mut unadmitted = 0;
    for case in 0..48u8 {
        let mut bytes = vec![0u8; 15 + privsim_testkit::properties::STATES_MAX_MOVES];
        rng.fill_bytes(&mut bytes);
        // Schema, no schema and grammar in turn.
        bytes[14] = [0, 1, 3][usize::from(case % 3)] | (bytes[14] & 4);
        let checked = privsim_testkit::properties::check_states_exact(&bytes);
        states += checked.compared;
        changed += checked.changed;
        partial += checked.partial_rows;
        other_context += checked.other_context_rows;
        unadmitted += checked.unadmitted;
    }
    // The walks really went somewhere: most compared states are worlds that
    // effects had changed, and rows were recomputed only in part (a group
    // or pair the change reaches kept because no touched policy applies).
    // And rows were taken from another context that reads the same (the
    // clock's key read by no policy). And requests that no policy's scope
    // admits were checked against Cedar (the search does not ask them).
    assert!(
        states >= 200
            && changed >= 100
            && partial >= 20
            && other_context >= 20
            && unadmitted >= 100,
        "only {states} states compared, {changed} with changes, {partial} rows in part, {other_context} rows from another context, {unadmitted} requests admitted by no scope"
    );
    eprintln!(
        "{states} states compared, {changed} with changes, {partial} rows in part, {other_context} rows from another context, {unadmitted} requests admitted by no scope"
    );
}

/// Grant-free rows are shared by contexts that differ only in keys no policy
/// reads (`world::rows`, 6), and only by those: with the clock's key read
/// by no policy, rows at 09:00 and 09:30 are one; read through the context
/// as a whole value (in a record), they are not, and the snapshot at each
/// time is brute force's.
#[test]
fn rows_are_shared_only_by_contexts_that_read_the_same() {
    use privsim::load::{self, LoadOptions};
    use privsim::world::state::{Machine, State};
    let cases = [
        // The clock's key read by no policy: rows shared across times.
        (
            r#"permit (principal is Agent, action == Action::"write", resource) unless { context has assignee };"#,
            true,
        ),
        // Read only through the whole context: a row per time, and the
        // decision changes at 09:20.
        (
            r#"permit (principal is Agent, action == Action::"write", resource) when { {"c": context}.c.now < datetime("2026-06-01T09:20:00Z") };"#,
            false,
        ),
        // Read by name: a row per time.
        (
            r#"permit (principal is Agent, action == Action::"write", resource) when { context.now < datetime("2026-06-01T09:20:00Z") };"#,
            false,
        ),
    ];
    for (policy, shared) in cases {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("scenario.toml", scenario("")),
            ("s.cedarschema", SCHEMA.to_string()),
            // Without `elevated-read`, which reads the clock by name.
            (
                "p.cedar",
                format!(
                    "{}\n{policy}\n",
                    POLICIES.replace("context.now", "datetime(\"2026-06-01T09:00:00Z\")")
                ),
            ),
            ("entities.json", ENTITIES.to_string()),
        ] {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let loaded = load::load(&dir.path().join("scenario.toml"), &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
        let fast = Machine::new(&loaded);
        let slow = Machine::new(&loaded).brute_force();
        let mut writes = Vec::new();
        for minutes in [0, 30, 45] {
            let initial = fast.initial();
            let state = State {
                time: initial.time.checked_add(minutes * 60_000).unwrap(),
                ..initial
            };
            let (a, b) = (
                fast.snapshot(&state).unwrap(),
                slow.snapshot(&state).unwrap(),
            );
            assert_eq!(a.allowed, b.allowed, "{policy} at +{minutes}m");
            let bot = fast.session_actor(0);
            writes.push(
                fast.pairs[bot]
                    .iter()
                    .zip(&a.allowed[bot])
                    .any(|((action, _), allowed)| action.to_string().contains("write") && *allowed),
            );
        }
        assert_eq!(
            fast.other_context_rows.get() > 0,
            shared,
            "{policy}: {} rows from another context",
            fast.other_context_rows.get()
        );
        // The policies that read the clock allow writing before 09:20 only.
        assert_eq!(writes, [true, shared, shared], "{policy}");
    }
}

/// A state's store is made from the grant-free one and shares with it what
/// the change does not reach (`held::Engine::add_store_over`). Two changes
/// reach a policy's relevant set R through entities nothing names: the
/// agent joins a group no policy, subject or attribute names (R gains the
/// group as its new ancestor), and an attribute comes to hold an entity no
/// attribute held (R gains it as an attribute's value). Without them in R,
/// the groups fall into one class and the agent would hold all or none.
/// And a group's own attribute changes: its list of resources is no longer
/// the grant-free one's, so its table and classes are not shared.
/// Every state two moves reach, with every order of the moves, is compared
/// with brute force.
#[test]
fn states_that_reach_entities_nothing_named_match_brute_force() {
    use privsim::search::{Mover, execute};
    use privsim::world::state::Machine;
    let policies = r#"
permit (principal, action in [Action::"join", Action::"claim", Action::"tag", Action::"paint"], resource);
permit (principal, action == Action::"enter", resource) when { principal in resource };
permit (principal, action == Action::"visit", resource) when { principal has manages && principal.manages == resource };
permit (principal, action == Action::"touch", resource) when { resource has mark && resource.mark == principal.manages };
permit (principal, action == Action::"see", resource) when { resource has color && resource.color == 1 };
"#;
    let entities = r#"[
  {"uid": {"type": "Agent", "id": "bot"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Group", "id": "g1"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Group", "id": "g2"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Group", "id": "g3"}, "attrs": {}, "parents": []}
]"#;
    let scenario = r#"
[scenario]
name = "unnamed"
policies = ["p.cedar"]
entities = "entities.json"
start = "2026-06-01T09:00:00Z"

[[session]]
id = "bot"
principal = 'Agent::"bot"'

[[effect]]
action = 'Action::"join"'
add_parent = { entity = "principal", parent = "resource" }

[[effect]]
action = 'Action::"claim"'
set_attr = { entity = "principal", name = "manages", value_of = "resource" }

[[effect]]
action = 'Action::"tag"'
set_attr = { entity = "resource", name = "mark", value_of = "resource" }

[[effect]]
action = 'Action::"paint"'
set_attr = { entity = "resource", name = "color", value = 1 }

[[step]]
at = "2026-06-01T09:00:00Z"
principal = 'Agent::"bot"'
action = 'Action::"enter"'
resource = 'Group::"g1"'
expect = "deny"

[[step]]
at = "2026-06-01T09:00:00Z"
principal = 'Agent::"bot"'
action = 'Action::"visit"'
resource = 'Group::"g2"'
expect = "deny"

[[step]]
at = "2026-06-01T09:00:00Z"
principal = 'Agent::"bot"'
action = 'Action::"touch"'
resource = 'Group::"g3"'
expect = "deny"

[[step]]
at = "2026-06-01T09:00:00Z"
principal = 'Agent::"bot"'
action = 'Action::"see"'
resource = 'Group::"g1"'
expect = "deny"

[[step]]
at = "2026-06-01T09:00:00Z"
principal = 'Agent::"bot"'
action = 'Action::"paint"'
resource = 'Group::"g1"'
expect = "allow"

[[step]]
at = "2026-06-01T09:00:00Z"
principal = 'Agent::"bot"'
action = 'Action::"join"'
resource = 'Group::"g1"'
expect = "allow"

[[step]]
at = "2026-06-01T09:00:00Z"
principal = 'Agent::"bot"'
action = 'Action::"claim"'
resource = 'Group::"g1"'
expect = "allow"

[[step]]
at = "2026-06-01T09:00:00Z"
principal = 'Agent::"bot"'
action = 'Action::"tag"'
resource = 'Group::"g1"'
expect = "allow"
"#;
    let loaded = crate::common::load(
        "unnamed-entities",
        &[
            ("scenario.toml", scenario),
            ("p.cedar", policies),
            ("entities.json", entities),
        ],
    );
    let fast = Machine::new(&loaded);
    let slow = Machine::new(&loaded).brute_force();
    let mover = Mover::new(&fast, None);
    let initial = fast.initial();
    let describe = |state: &privsim::world::state::State| format!("{:?}", state.grants);
    let mut compared = 0;
    let mut held_some = [false; 4];
    let first_moves = mover.moves(&fast, &initial);
    for first in &first_moves {
        let mut one = initial.clone();
        let (changed, _) = execute(&fast, &mut one, first);
        if !changed {
            continue;
        }
        for second in mover.moves(&fast, &one) {
            let mut two = one.clone();
            execute(&fast, &mut two, &second);
            for state in [&one, &two] {
                let (a, b) = (fast.snapshot(state).unwrap(), slow.snapshot(state).unwrap());
                assert_eq!(a.allowed, b.allowed, "{}", describe(state));
                compared += 1;
                let bot = fast.session_actor(0);
                for (verb, held) in ["enter", "visit", "touch", "see"]
                    .iter()
                    .zip(&mut held_some)
                {
                    *held |= fast.pairs[bot].iter().zip(&b.allowed[bot]).any(
                        |((action, _), allowed)| action.to_string().contains(verb) && *allowed,
                    );
                }
            }
        }
    }
    // The changes happened: each policy that reads them came to hold.
    assert!(compared >= 20, "only {compared} states compared");
    assert_eq!(held_some, [true; 4], "{compared} states compared");
}

/// Whether a scope admits a request depends on the state's store: an agent
/// that joins a role is admitted where it was not, even when the same pair
/// is asked about in the two states one after the other (the machine keeps
/// its last answer, for the context variants of one pair).
#[test]
fn admission_is_asked_again_in_a_changed_store() {
    use privsim::search::{Move, execute};
    use privsim::world::state::Machine;
    let loaded = crate::common::load(
        "admission-per-store",
        &[
            (
                "scenario.toml",
                r#"
[scenario]
name = "admission per store"
policies = ["p.cedar"]
entities = "entities.json"
start = "2026-06-01T09:00:00Z"

[[session]]
id = "bot"
principal = 'Agent::"bot"'

[[effect]]
action = 'Action::"join"'
add_parent = { entity = "principal", parent = "resource" }
"#,
            ),
            (
                "p.cedar",
                r#"
permit (principal, action == Action::"join", resource);
permit (principal in Role::"reader", action == Action::"read", resource == Doc::"d");
"#,
            ),
            (
                "entities.json",
                r#"[
  {"uid": {"type": "Agent", "id": "bot"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Role", "id": "reader"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Doc", "id": "d"}, "attrs": {}, "parents": []}
]"#,
            ),
        ],
    );
    let machine = Machine::new(&loaded);
    let uid = |text: &str| privsim::load::parse_uid(text).unwrap();
    let (read, doc) = (uid(r#"Action::"read""#), uid(r#"Doc::"d""#));
    let before = machine.initial();
    assert!(machine.admits_none(&before, 0, &read, &doc));
    let mut after = before.clone();
    let join = Move::Request {
        actor: 0,
        action: uid(r#"Action::"join""#),
        resource: uid(r#"Role::"reader""#),
        extra: serde_json::Map::new(),
    };
    assert!(
        execute(&machine, &mut after, &join).0,
        "joining changes the world"
    );
    assert!(!machine.admits_none(&after, 0, &read, &doc));
    assert!(machine.admits_none(&before, 0, &read, &doc));
}
