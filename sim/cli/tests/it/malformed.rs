//! Malformed and hostile scenarios, one fixture folder each under
//! `tests/malformed/<case>/`: the real binary must exit 2 with an error naming
//! the exact `file:line:col` of the offending spot, never panic, and never read
//! a file outside the scenario's folder. The whole message of each case is an
//! insta snapshot, so a reviewer sees what a user sees.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the fixture folders are.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/malformed")
}

/// What one run of the binary printed.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `privsim run scenario.toml` inside `folder`, so messages name files
/// relative to it. Colour, hyperlinks and terminal width are pinned (miette
/// falls back to 80 columns when standard output is not a terminal) so the
/// output is the same on every machine.
fn run_scenario(folder: &Path) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_privsim"))
        .args(["run", "scenario.toml"])
        .current_dir(folder)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "80")
        .env_remove("FORCE_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("NO_GRAPHICS")
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: strip_ansi(&String::from_utf8_lossy(&output.stdout)),
        stderr: strip_ansi(&String::from_utf8_lossy(&output.stderr)),
    }
}

/// Removes ANSI escape sequences, in case a terminal setting slips through.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI (`ESC [ ... final`) or OSC (`ESC ] ... ESC \`), enough for miette.
            match chars.next() {
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next() == Some('\\')) {
                            break;
                        }
                    }
                }
                _ => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs the fixture `case` and checks exit code 2, the exact location of the
/// error, and the snapshot of the message.
fn check(case: &str, expected: &str) {
    check_in(&fixtures().join(case), case, expected);
}

/// [`check`] for a fixture copied elsewhere (to add a symlink at run time).
fn check_in(folder: &Path, case: &str, expected: &str) {
    let run = run_scenario(folder);
    assert_eq!(
        run.code, 2,
        "{case}: expected exit 2\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{case}:\n{}", run.stderr);
    // `× file:line:col: message`: the colon after the location makes the
    // column exact (`:7:1` must not match `:7:10`).
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains(&format!(" {expected}: ")),
        "{case}: the first line does not name `{expected}`:\n{}",
        run.stderr
    );
    insta::assert_snapshot!(case, run.stderr);
}

/// A fresh folder in the system's temporary folder, removed when dropped.
struct TempFolder(PathBuf);

impl TempFolder {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("privsim-malformed-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempFolder(path)
    }

    /// Copies a fixture folder (recursively) into this one.
    fn copy_fixture(&self, case: &str) {
        fn copy(from: &Path, to: &Path) {
            std::fs::create_dir_all(to).unwrap();
            for entry in std::fs::read_dir(from).unwrap() {
                let entry = entry.unwrap();
                let target = to.join(entry.file_name());
                if entry.file_type().unwrap().is_dir() {
                    copy(&entry.path(), &target);
                } else {
                    std::fs::copy(entry.path(), target).unwrap();
                }
            }
        }
        copy(&fixtures().join(case), &self.0);
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn bad_toml_syntax() {
    check("toml-syntax", "scenario.toml:2:24");
}

#[test]
fn unknown_key_at_the_top_level() {
    check("unknown-top-level-key", "scenario.toml:18:2");
}

#[test]
fn unknown_key_in_the_scenario_table() {
    check("unknown-scenario-key", "scenario.toml:6:1");
}

#[test]
fn unknown_key_in_a_step() {
    check("unknown-step-key", "scenario.toml:16:1");
}

#[test]
fn entity_literal_without_quotes() {
    check("bad-entity-literal", "scenario.toml:13:13");
}

#[test]
fn action_that_is_not_an_action() {
    check("not-an-action", "scenario.toml:14:10");
}

#[test]
fn missing_policy_file() {
    check("missing-policy-file", "scenario.toml:3:13");
}

#[test]
fn path_climbing_out_of_the_folder() {
    // `../toml-syntax/p.cedar` exists: only the folder rule stops it.
    check("path-escapes-parent", "scenario.toml:3:13");
}

/// Regression: `..` was only caught after asking the file system, so the
/// message told whether a file outside the folder existed; and `../..`
/// normalized to a path inside the folder.
#[test]
fn path_climbing_out_to_nothing() {
    check("path-escapes-to-nothing", "scenario.toml:3:13");
}

#[test]
fn absolute_path() {
    check("absolute-path", "scenario.toml:5:12");
}

#[cfg(unix)]
#[test]
fn symlink_pointing_out_of_the_folder() {
    let outside = TempFolder::new("symlink-target");
    std::fs::write(
        outside.0.join("secret.cedar"),
        "permit (principal, action, resource);\n",
    )
    .unwrap();
    let folder = TempFolder::new("symlink-escape");
    folder.copy_fixture("symlink-escape");
    std::os::unix::fs::symlink(outside.0.join("secret.cedar"), folder.0.join("p.cedar")).unwrap();
    check_in(&folder.0, "symlink-escape", "scenario.toml:3:13");
}

/// A dangling link is named as one; pointing out of the folder, it is
/// refused as leaving it (not "does not exist").
#[cfg(unix)]
#[test]
fn dangling_symlinks_say_where_they_point() {
    let outside = TempFolder::new("dangling-target");
    let folder = TempFolder::new("dangling-escape");
    folder.copy_fixture("dangling-symlink-escape");
    std::os::unix::fs::symlink(outside.0.join("gone.cedar"), folder.0.join("p.cedar")).unwrap();
    check_in(&folder.0, "dangling-symlink-escape", "scenario.toml:3:13");
    let folder = TempFolder::new("dangling-inside");
    folder.copy_fixture("dangling-symlink-inside");
    std::os::unix::fs::symlink("gone.cedar", folder.0.join("p.cedar")).unwrap();
    check_in(&folder.0, "dangling-symlink-inside", "scenario.toml:3:13");
}

/// Regression: a folder listed in `policies` was searched for `.cedar` files
/// following symlinks, so a symlink in it read any file on the machine, and a
/// parse error then printed that file's text.
#[cfg(unix)]
#[test]
fn symlink_in_a_policy_folder_pointing_out_of_the_folder() {
    let outside = TempFolder::new("policy-folder-target");
    std::fs::write(outside.0.join("secret.cedar"), "not a policy: secret\n").unwrap();
    let folder = TempFolder::new("symlink-in-policy-folder");
    folder.copy_fixture("symlink-in-policy-folder");
    std::os::unix::fs::symlink(
        outside.0.join("secret.cedar"),
        folder.0.join("policies/z.cedar"),
    )
    .unwrap();
    check_in(&folder.0, "symlink-in-policy-folder", "scenario.toml:3:13");
}

/// A symlinked subfolder of a policy folder that stays inside the scenario's
/// folder is followed: its `forbid` applies (it used to be skipped without a
/// word, and the run passed).
#[test]
fn symlinked_policy_subfolder_inside_the_folder_is_followed() {
    let folder = TempFolder::new("policy-subfolder-inside");
    folder.copy_fixture("symlink-in-policy-folder");
    std::fs::create_dir_all(folder.0.join("shared/more")).unwrap();
    std::fs::write(
        folder.0.join("shared/more/deny.cedar"),
        "@id(\"no-reading\") forbid (principal, action, resource);\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("../shared", folder.0.join("policies/linked")).unwrap();
    // A link back up (a cycle) is listed once, not followed forever.
    std::os::unix::fs::symlink("..", folder.0.join("shared/more/up")).unwrap();
    let run = run_scenario(&folder.0);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("no-reading"), "{}", run.stdout);
}

/// A symlinked subfolder leading out of the scenario's folder is refused at
/// the `policies` entry, before anything in it is read.
#[test]
fn symlinked_policy_subfolder_leading_out_is_a_located_error() {
    let outside = TempFolder::new("policy-subfolder-target");
    std::fs::write(outside.0.join("secret.cedar"), "not a policy: secret\n").unwrap();
    let folder = TempFolder::new("policy-subfolder-outside");
    folder.copy_fixture("symlink-in-policy-folder");
    std::os::unix::fs::symlink(&outside.0, folder.0.join("policies/elsewhere")).unwrap();
    let run = run_scenario(&folder.0);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains(
            " scenario.toml:3:13: path `policies/elsewhere` leaves the scenario's folder"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("secret"), "{}", run.stderr);
}

#[test]
fn the_policy_folder_fixture_is_valid_without_the_symlink() {
    let run = run_scenario(&fixtures().join("symlink-in-policy-folder"));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

#[test]
fn policy_failing_strict_validation_points_into_the_policy_file() {
    check("policy-fails-validation", "p.cedar:3:8");
}

#[test]
fn policy_parse_error() {
    check("policy-parse-error", "p.cedar:3:12");
}

/// Regression: a few hundred nested parentheses in a policy overflowed the
/// stack in Cedar's parser and aborted the process instead of exiting 2.
#[test]
fn policy_nested_too_deep() {
    check("policy-nested-too-deep", "p.cedar:3:39");
}

#[test]
fn step_in_an_unknown_session() {
    check("unknown-session", "scenario.toml:13:11");
}

#[test]
fn steps_out_of_time_order() {
    check("steps-out-of-order", "scenario.toml:19:6");
}

#[test]
fn bad_time_string() {
    check("bad-time", "scenario.toml:12:6");
}

#[test]
fn context_value_of_the_wrong_type() {
    check("context-type-mismatch", "scenario.toml:16:11");
}

#[test]
fn entity_defined_twice() {
    check("duplicate-entity", "scenario.toml:19:7");
}

#[test]
fn floating_point_value() {
    check("float-value", "scenario.toml:20:9");
}

/// Regression: the message said only `error during entity deserialization`,
/// without Cedar's reason.
#[test]
fn entity_the_schema_rejects() {
    check("entity-against-schema", "scenario.toml:18:1");
}

#[test]
fn grant_that_changes_nothing() {
    check("empty-grant", "scenario.toml:18:1");
}

#[test]
fn one_policy_id_in_two_files() {
    check("duplicate-policy-id", "q.cedar:2:5");
}

#[test]
fn entities_json_syntax_error() {
    check("entities-json-syntax", "entities.json:3:70");
}

/// Regression: errors about one entity of an entities file pointed at 1:1.
#[test]
fn entity_twice_in_the_entities_file() {
    check("entities-json-duplicate", "entities.json:4:3");
}

/// Regression: a file that is not UTF-8 had no location.
#[test]
fn scenario_that_is_not_utf8() {
    check("not-utf8", "scenario.toml:2:25");
}

#[test]
fn broken_expectation_exits_1_and_names_the_step() {
    let run = run_scenario(&fixtures().join("broken-expectation"));
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("FAILED step 2 (scenario.toml:18): expected deny, got allow"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("FAILED step 1"),
        "step 1 holds:\n{}",
        run.stdout
    );
}

/// Every fixture folder is run by a test here, and every snapshot belongs to
/// a fixture, so neither can be left behind.
#[test]
fn every_fixture_has_a_test_and_every_snapshot_a_fixture() {
    let source = include_str!("malformed.rs");
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let entry = entry.unwrap();
        assert!(entry.file_type().unwrap().is_dir(), "{:?}", entry.path());
        let case = entry.file_name().to_string_lossy().into_owned();
        assert!(
            source.contains(&format!("\"{case}\"")),
            "fixture `{case}` is not checked by any test"
        );
        cases.push(case);
    }
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots");
    for entry in std::fs::read_dir(snapshots).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(case) = name
            .strip_prefix("it__malformed__")
            .and_then(|rest| rest.strip_suffix(".snap"))
        {
            assert!(
                cases.iter().any(|c| c == case),
                "snapshot `{name}` has no fixture"
            );
        }
    }
}

#[test]
fn effect_with_two_operations() {
    check("effect-two-operations", "scenario.toml:11:1");
}

#[test]
fn effect_operand_that_names_nothing() {
    check("effect-bad-operand", "scenario.toml:13:25");
}

#[test]
fn effect_starting_an_unknown_session() {
    check("effect-unknown-session", "scenario.toml:13:17");
}

#[test]
fn unknown_key_in_an_effect() {
    check("effect-unknown-key", "scenario.toml:13:1");
}

#[test]
fn never_rule_with_a_bad_pattern() {
    check("never-bad-pattern", "scenario.toml:12:13");
}

#[test]
fn never_rule_naming_a_type_the_schema_lacks() {
    check("never-unknown-type", "scenario.toml:11:13");
}

#[test]
fn never_rule_naming_an_action_the_schema_lacks() {
    check("never-unknown-action", "scenario.toml:12:10");
}

#[test]
fn never_rule_naming_an_entity_not_in_the_world() {
    check("never-unknown-entity", "scenario.toml:11:13");
}

#[test]
fn policy_expiry_grant_effect_without_lifetime() {
    check("effect-grant-without-lifetime", "scenario.toml:13:9");
}

/// Regression: a lifetime reaching past the year 9999 made a grant that
/// silently never ended.
#[test]
fn effect_lifetime_past_the_year_9999() {
    check("effect-lifetime-past-9999", "scenario.toml:13:68");
}

#[test]
fn effect_setting_an_attribute_the_schema_lacks() {
    check("effect-unknown-attribute", "scenario.toml:13:42");
}

#[test]
fn effect_grant_naming_an_attribute_the_schema_lacks() {
    check("effect-grant-unknown-attribute", "scenario.toml:13:62");
}

/// A shared world reached with `..` past the folder the scenarios are run
/// from is refused at the `world` value, before the file system is asked
/// (the target exists).
#[test]
fn shared_world_outside_the_run_folder() {
    check("world-escapes-root", "scenario.toml:5:9");
}

#[test]
fn shared_world_that_does_not_exist() {
    check("world-missing", "scenario.toml:4:9");
}

/// An unknown key inside the shared world is located in the world file.
#[test]
fn unknown_key_in_the_shared_world() {
    check("world-unknown-key", "world.toml:7:1");
}

/// Shared worlds do not nest: a `world` key in one is an error there.
#[test]
fn shared_world_naming_another_world() {
    check("world-nested", "world.toml:1:9");
}

/// A scenario adds to its shared world; a session id both define is an
/// error at the scenario's copy, not a silent override.
#[test]
fn session_defined_in_the_scenario_and_its_world() {
    check("world-duplicate-session", "scenario.toml:12:6");
}

/// A bad entity literal in the shared world points into the world file.
#[test]
fn bad_principal_in_the_shared_world() {
    check("world-bad-entity", "world.toml:6:13");
}

#[test]
fn defaults_for_an_unknown_session() {
    check("defaults-unknown-session", "world.toml:5:19");
}

#[test]
fn repeat_zero() {
    check("repeat-zero", "scenario.toml:9:10");
}

#[test]
fn every_without_repeat() {
    check("every-without-repeat", "scenario.toml:9:9");
}

#[test]
fn observation_window_that_ends_before_it_starts() {
    check("window-ends-before-start", "scenario.toml:6:14");
}

#[test]
fn unused_after_that_is_not_a_duration() {
    check("bad-unused-after", "scenario.toml:5:16");
}
