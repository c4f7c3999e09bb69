//! Reuse in scenario files: a shared world (`world = "..."`), `[defaults]`
//! contexts and their precedence, and `repeat` on steps with `{i}` and
//! `every`.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

use privsim::LoadOptions;
use privsim::load as scenario;
use serde_json::{Value, json};

use crate::common::{TempFolder, load};

const POLICY: &str = "permit (principal, action, resource);\n";

/// The context the step at `index` sends, without the facts.
fn context(loaded: &privsim::Scenario, index: usize) -> Value {
    loaded.steps[index].context.as_ref().clone()
}

#[test]
fn defaults_apply_from_least_to_most_specific() {
    let world = r#"
[[session]]
id = "agent"
principal = 'Agent::"a"'
context = { own = "session" }

[[session]]
id = "other"
principal = 'Agent::"b"'

[defaults.context]
all = "all"
kind = "all"
own = "all"
level = "all"

[defaults.principal_type.Agent]
kind = "agent"
own = "agent"
level = "agent"

[defaults.session.agent]
own = "session-default"
level = "session-default"
"#;
    let scenario = r#"
[scenario]
name = "defaults"
policies = ["p.cedar"]
world = "world.toml"

# The scenario's defaults replace the world's, key by key.
[defaults.context]
all = "scenario"

[[step]]
session = "agent"
action = 'Action::"read"'
resource = 'Doc::"d"'
context = { step = "step" }

[[step]]
session = "other"
action = 'Action::"read"'
resource = 'Doc::"d"'

[[step]]
principal = 'User::"u"'
action = 'Action::"read"'
resource = 'Doc::"d"'
"#;
    let loaded = load(
        "reuse-defaults",
        &[
            ("scenario.toml", scenario),
            ("world.toml", world),
            ("p.cedar", POLICY),
        ],
    );
    assert_eq!(
        context(&loaded, 0),
        json!({ "all": "scenario", "kind": "agent", "own": "session", "level": "session-default", "step": "step" })
    );
    assert_eq!(
        context(&loaded, 1),
        json!({ "all": "scenario", "kind": "agent", "own": "agent", "level": "agent" })
    );
    // No session: every-request defaults only, as the principal is a User.
    assert_eq!(
        context(&loaded, 2),
        json!({ "all": "scenario", "kind": "all", "own": "all", "level": "all" })
    );
    // The accounting asks with the same defaults as the steps.
    let session = &loaded.sessions[1];
    let asked = scenario::session_context(
        &loaded.facts,
        loaded.start,
        Some(session),
        &session.principal,
        &session.chain,
    );
    assert_eq!(Value::Object(asked), context(&loaded, 1));
}

#[test]
fn world_items_come_first_and_the_scenario_adds_to_them() {
    let world = r#"
[[entity]]
uid = 'Role::"r"'

[[session]]
id = "parent"
principal = 'User::"u"'

[[grant]]
principal = 'User::"u"'
parents = ['Role::"r"']
from = "+1m"
"#;
    let scenario = r#"
[scenario]
name = "merge"
policies = ["p.cedar"]
world = "world.toml"

[[entity]]
uid = 'User::"u"'

[[session]]
id = "child"
principal = 'Agent::"a"'
parent = "parent"

[[grant]]
principal = 'Agent::"a"'
parents = ['Role::"r"']
from = "+2m"

[[step]]
session = "child"
action = 'Action::"read"'
resource = 'Role::"r"'
"#;
    let loaded = load(
        "reuse-merge",
        &[
            ("scenario.toml", scenario),
            ("world.toml", world),
            ("p.cedar", POLICY),
        ],
    );
    let ids: Vec<&str> = loaded.sessions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["parent", "child"]);
    assert_eq!(
        loaded.sessions[1]
            .chain
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [r#"User::"u""#, r#"Agent::"a""#]
    );
    // Grants without ids are numbered across both files, world first.
    let grants: Vec<&str> = loaded.grants.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(grants, ["grant-1", "grant-2"]);
    assert!(loaded.world.base.contains_key(r#"Role::"r""#));
    assert!(loaded.world.base.contains_key(r#"User::"u""#));
}

#[test]
fn repeat_expands_ids_and_advances_time() {
    let scenario = r#"
[scenario]
name = "repeat"
policies = ["p.cedar"]
start = "2026-06-01T09:00:00Z"

[[step]]
at = "+1m"
principal = 'User::"u"'
action = 'Action::"read"'
resource = 'Doc::"d"'

[[step]]
name = "read {i}"
repeat = 3
at = "+10m"
every = "1h"
principal = 'User::"u"'
action = 'Action::"read"'
resource = 'Doc::"d-{i}"'
context = { note = "copy {i}", list = ["{i}"] }

# Without `every`, repetitions share the previous time.
[[step]]
repeat = 2
principal = 'User::"u"'
action = 'Action::"read"'
resource = 'Doc::"e-{i}"'
"#;
    let loaded = load(
        "reuse-repeat",
        &[("scenario.toml", scenario), ("p.cedar", POLICY)],
    );
    let summary: Vec<(String, String, Option<String>)> = loaded
        .steps
        .iter()
        .map(|s| (s.at.to_string(), s.resource.to_string(), s.name.clone()))
        .collect();
    let row = |at: &str, resource: &str, name: Option<&str>| {
        (
            at.to_string(),
            resource.to_string(),
            name.map(str::to_string),
        )
    };
    assert_eq!(
        summary,
        [
            row("2026-06-01T09:01:00Z", r#"Doc::"d""#, None),
            row("2026-06-01T09:10:00Z", r#"Doc::"d-1""#, Some("read 1")),
            row("2026-06-01T10:10:00Z", r#"Doc::"d-2""#, Some("read 2")),
            row("2026-06-01T11:10:00Z", r#"Doc::"d-3""#, Some("read 3")),
            row("2026-06-01T11:10:00Z", r#"Doc::"e-1""#, None),
            row("2026-06-01T11:10:00Z", r#"Doc::"e-2""#, None),
        ]
    );
    assert_eq!(
        context(&loaded, 2),
        json!({ "note": "copy 2", "list": ["2"] })
    );
    // Every repetition points at the `[[step]]` it came from.
    assert!(
        loaded.steps[1..4]
            .iter()
            .all(|s| s.line == loaded.steps[1].line)
    );
}

/// Regression guard: a step after a repeated block may not go back in time.
#[test]
fn a_step_before_the_last_repetition_is_an_error() {
    let folder = TempFolder::new("reuse-order");
    let text = r#"
[scenario]
name = "order"
policies = ["p.cedar"]

[[step]]
repeat = 3
every = "1h"
principal = 'User::"u"'
action = 'Action::"read"'
resource = 'Doc::"d"'

[[step]]
at = "+90m"
principal = 'User::"u"'
action = 'Action::"read"'
resource = 'Doc::"d"'
"#;
    std::fs::write(folder.join("scenario.toml"), text).unwrap();
    std::fs::write(folder.join("p.cedar"), POLICY).unwrap();
    let error = scenario::load(
        std::path::Path::new(&folder.join("scenario.toml")),
        &LoadOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains(":14:6:"), "{error}");
    assert!(error.contains("before the previous step's time"), "{error}");
}

/// The run folder widens where a shared world may be, never where policies may be.
#[test]
fn the_run_folder_bounds_the_shared_world() {
    let folder = TempFolder::new("reuse-root");
    let root = std::path::Path::new(&folder.0);
    std::fs::create_dir_all(root.join("variants")).unwrap();
    std::fs::write(root.join("world.toml"), "[[entity]]\nuid = 'User::\"u\"'\n").unwrap();
    std::fs::write(root.join("variants/p.cedar"), POLICY).unwrap();
    let scenario = root.join("variants/scenario.toml");
    std::fs::write(
        &scenario,
        "[scenario]\nname = \"root\"\npolicies = [\"p.cedar\"]\nworld = \"../world.toml\"\n",
    )
    .unwrap();
    // Run from the parent folder: allowed.
    let options = LoadOptions::default().under(root);
    let loaded = scenario::load(&scenario, &options).unwrap();
    assert!(loaded.world.base.contains_key(r#"User::"u""#));
    assert!(
        loaded
            .inputs
            .contains(&root.join("world.toml").canonicalize().unwrap()),
        "{:?}",
        loaded.inputs
    );
    // Run from the variant's own folder: the world is outside it.
    let error = scenario::load(
        &scenario,
        &LoadOptions::default().under(&root.join("variants")),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("leaves the folder the scenarios are run from"),
        "{error}"
    );
    // Without a run folder, the scenario's own folder bounds it.
    assert!(scenario::load(&scenario, &LoadOptions::default()).is_err());
}
