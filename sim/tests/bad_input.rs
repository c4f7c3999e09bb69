//! Hostile and malformed scenarios: each must exit 2 with an error naming the
//! file, line and column of the offending spot, never panic, and never read a
//! file outside the scenario's folder. One `check` per case; the full message
//! of each is an insta snapshot so a reviewer sees what a user sees.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh folder for one case, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new(case: &str) -> Self {
        let path = std::env::temp_dir().join(format!("privsim-bad-{case}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Folder(path)
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, text).unwrap();
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `privsim run <args>` in `folder`; returns (exit code, stdout, stderr).
fn privsim(folder: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_privsim"))
        .arg("run")
        .args(args)
        .current_dir(folder)
        .env("NO_COLOR", "1")
        .env("CLICOLOR", "0")
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const SCHEMA: &str = r#"
entity User;
entity Doc;
type Ctx = { now: datetime, ticket?: String };
action read appliesTo { principal: [User], resource: [Doc], context: Ctx };
"#;

const POLICY: &str = r#"@id("users-read") permit (principal is User, action == Action::"read", resource);
"#;

const ENTITIES: &str = r#"[
  { "uid": { "type": "User", "id": "alice" }, "attrs": {}, "parents": [] },
  { "uid": { "type": "Doc", "id": "d" }, "attrs": {}, "parents": [] }
]
"#;

/// A valid scenario; cases break one line of it.
const GOOD: &str = r#"[scenario]
name = "bad input"
policies = ["p.cedar"]
schema = "s.cedarschema"
entities = "entities.json"
start = "2026-06-01T09:00:00Z"

[facts]
now = "now"

[[step]]
at = "+1m"
principal = 'User::"alice"'
action = 'Action::"read"'
resource = 'Doc::"d"'
expect = "allow"
"#;

/// Writes the good world with `scenario` (and any extra files), runs it, and
/// checks exit code 2, the location in the message, and the snapshot.
fn check(case: &str, scenario: &str, extra: &[(&str, &str)], location: &str) {
    let folder = Folder::new(case);
    folder.write("s.cedarschema", SCHEMA);
    folder.write("p.cedar", POLICY);
    folder.write("entities.json", ENTITIES);
    for (name, text) in extra {
        folder.write(name, text);
    }
    folder.write("scenario.toml", scenario);
    let (code, stdout, stderr) = privsim(&folder.0, &["scenario.toml"]);
    assert_eq!(
        code, 2,
        "{case}: expected exit 2\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains(location),
        "{case}: the message does not name `{location}`:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{case}: panicked:\n{stderr}");
    insta::assert_snapshot!(case, stderr);
}

fn replace(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from:?} is not in the good scenario");
    GOOD.replacen(from, to, 1)
}

#[test]
fn the_good_scenario_passes() {
    let folder = Folder::new("good");
    folder.write("s.cedarschema", SCHEMA);
    folder.write("p.cedar", POLICY);
    folder.write("entities.json", ENTITIES);
    folder.write("scenario.toml", GOOD);
    let (code, stdout, stderr) = privsim(&folder.0, &["scenario.toml"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
}

#[test]
fn bad_toml_syntax() {
    check(
        "toml-syntax",
        &replace("name = \"bad input\"", "name = \"bad input"),
        &[],
        "scenario.toml:2:",
    );
}

#[test]
fn unknown_key_at_the_top_level() {
    check(
        "unknown-top-level-key",
        &format!("{GOOD}\n[sesion]\nid = \"x\"\n"),
        &[],
        "scenario.toml:18:2",
    );
}

#[test]
fn unknown_key_in_the_scenario_table() {
    check(
        "unknown-scenario-key",
        &replace("start = ", "strat = \"x\"\nstart = "),
        &[],
        "scenario.toml:6:1",
    );
}

#[test]
fn unknown_key_in_a_step() {
    check(
        "unknown-step-key",
        &replace("expect = \"allow\"", "expected = \"allow\""),
        &[],
        "scenario.toml:16:1",
    );
}

#[test]
fn bad_entity_literal() {
    check(
        "bad-entity-literal",
        &replace("principal = 'User::\"alice\"'", "principal = 'User::alice'"),
        &[],
        "scenario.toml:13:13",
    );
}

#[test]
fn an_action_that_is_not_an_action() {
    check(
        "not-an-action",
        &replace("action = 'Action::\"read\"'", "action = 'Doc::\"read\"'"),
        &[],
        "scenario.toml:14:10",
    );
}

#[test]
fn a_missing_policy_file() {
    check(
        "missing-policy-file",
        &replace("policies = [\"p.cedar\"]", "policies = [\"nope.cedar\"]"),
        &[],
        "scenario.toml:3:13",
    );
}

#[test]
fn a_path_that_climbs_out_of_the_folder() {
    // The target exists (the temp folder's parent surely does), so only the
    // folder rule can stop it.
    check(
        "path-escapes",
        &replace("policies = [\"p.cedar\"]", "policies = [\"../\"]"),
        &[],
        "scenario.toml:3:13",
    );
}

#[test]
fn an_absolute_path() {
    check(
        "absolute-path",
        &replace("entities = \"entities.json\"", "entities = \"/etc/passwd\""),
        &[],
        "scenario.toml:5:12",
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_that_points_out_of_the_folder() {
    let outside = Folder::new("symlink-target");
    outside.write("secret.cedar", POLICY);
    let folder = Folder::new("symlink");
    folder.write("s.cedarschema", SCHEMA);
    folder.write("entities.json", ENTITIES);
    std::os::unix::fs::symlink(outside.0.join("secret.cedar"), folder.0.join("p.cedar")).unwrap();
    folder.write("scenario.toml", GOOD);
    let (code, _, stderr) = privsim(&folder.0, &["scenario.toml"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("scenario.toml:3:13") && stderr.contains("leaves the scenario's folder"),
        "{stderr}"
    );
}

#[test]
fn a_policy_that_fails_strict_validation() {
    let policy = "@id(\"users-read\") permit (principal is User, action == Action::\"read\", resource)\nwhen { resource.owner == principal };\n";
    check(
        "policy-fails-validation",
        GOOD,
        &[("p.cedar", policy)],
        "p.cedar:2:8",
    );
}

#[test]
fn a_policy_that_does_not_parse() {
    check(
        "policy-parse-error",
        GOOD,
        &[(
            "p.cedar",
            "permit (principal, action, resource)\nwhen { 1 + };\n",
        )],
        "p.cedar:2:",
    );
}

#[test]
fn a_step_in_an_unknown_session() {
    check(
        "unknown-session",
        &replace("principal = 'User::\"alice\"'", "session = \"ghost\""),
        &[],
        "scenario.toml:13:11",
    );
}

#[test]
fn steps_out_of_time_order() {
    let scenario = format!(
        "{GOOD}\n[[step]]\nat = \"+30s\"\nprincipal = 'User::\"alice\"'\naction = 'Action::\"read\"'\nresource = 'Doc::\"d\"'\n"
    );
    check("steps-out-of-order", &scenario, &[], "scenario.toml:19:6");
}

#[test]
fn a_bad_time() {
    check(
        "bad-time",
        &replace("at = \"+1m\"", "at = \"+1 minute\""),
        &[],
        "scenario.toml:12:6",
    );
}

#[test]
fn a_context_value_of_the_wrong_type() {
    check(
        "context-type-mismatch",
        &replace(
            "expect = \"allow\"",
            "context = { ticket = 42 }\nexpect = \"allow\"",
        ),
        &[],
        "scenario.toml:16:11",
    );
}

#[test]
fn an_entity_defined_twice() {
    check(
        "duplicate-entity",
        &format!("{GOOD}\n[[entity]]\nuid = 'Doc::\"d\"'\n"),
        &[],
        "scenario.toml:19:7",
    );
}

#[test]
fn a_floating_point_value() {
    check(
        "float-value",
        &format!("{GOOD}\n[[entity]]\nuid = 'Doc::\"e\"'\nattrs = {{ size = 1.5 }}\n"),
        &[],
        "scenario.toml:20:9",
    );
}

#[test]
fn a_grant_that_changes_nothing() {
    check(
        "empty-grant",
        &format!("{GOOD}\n[[grant]]\nprincipal = 'User::\"alice\"'\nfrom = \"+1m\"\n"),
        &[],
        "scenario.toml:18:1",
    );
}

#[test]
fn two_policies_with_one_id_in_two_files() {
    check(
        "duplicate-policy-id",
        &replace(
            "policies = [\"p.cedar\"]",
            "policies = [\"p.cedar\", \"q.cedar\"]",
        ),
        &[("q.cedar", POLICY)],
        "q.cedar:1:5",
    );
}

#[test]
fn an_entities_file_with_a_syntax_error() {
    check(
        "entities-json-syntax",
        GOOD,
        &[(
            "entities.json",
            "[\n  { \"uid\": { \"type\": \"User\", \"id\": \"alice\" }, }\n]\n",
        )],
        "entities.json:2:",
    );
}

#[test]
fn a_broken_expectation_exits_1_and_names_the_step() {
    let folder = Folder::new("broken-expectation");
    folder.write("s.cedarschema", SCHEMA);
    folder.write("p.cedar", POLICY);
    folder.write("entities.json", ENTITIES);
    folder.write(
        "scenario.toml",
        &replace("expect = \"allow\"", "expect = \"deny\""),
    );
    let (code, stdout, stderr) = privsim(&folder.0, &["scenario.toml"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("FAILED step 1 (scenario.toml:11): expected deny, got allow"),
        "{stdout}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let folder = Folder::new("usage");
    let (code, _, _) = privsim(&folder.0, &[]);
    assert_eq!(code, 2);
    let (code, _, stderr) = privsim(&folder.0, &["no-such-file.toml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no-such-file.toml"), "{stderr}");
}
