//! `privsim init`: the starter folder passes `privsim run` as written, from
//! the built-in schema, every example scenario's schema and schemas with every
//! kind of attribute; it never overwrites a file; a bad schema is an error at
//! its line.
#![expect(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::path::Path;

use crate::common::*;

/// The JSON result of `privsim run` on `folder` (which must pass).
fn run_json(folder: &Path) -> serde_json::Value {
    let run = check_in(folder, &["run", ".", "--format", "json"], 0);
    serde_json::from_str(&run.stdout).unwrap()
}

/// Inits `schema` (or the built-in one) into a fresh folder and checks what
/// the starter promises: both variants pass as written, the least-privilege
/// one uses everything it holds, the over-privileged one holds more than it
/// uses, and both scenario files match the editor schema written beside them.
fn check_starter(test: &str, schema: Option<&Path>) {
    let from: Vec<String> = schema
        .map(|s| vec!["--from-schema".to_string(), s.display().to_string()])
        .unwrap_or_default();
    check_starter_from(test, &from);
}

/// [`check_starter`] with `init`'s source arguments given.
fn check_starter_from(test: &str, from: &[String]) {
    let temp = TempFolder::new(test);
    let folder = temp.0.join("starter");
    let folder_text = folder.display().to_string();
    let mut args = vec!["init", folder_text.as_str()];
    args.extend(from.iter().map(String::as_str));
    let init = check(&args, 0);
    assert!(
        init.stdout.contains("least-privilege.toml"),
        "{}",
        init.stdout
    );

    let result = run_json(&folder);
    let scenarios = result["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 2, "{result:#}");
    let by_variant = |suffix: &str| {
        scenarios
            .iter()
            .find(|s| s["file"].as_str().unwrap().ends_with(suffix))
            .unwrap()
    };
    let least = by_variant("least-privilege.toml");
    let over = by_variant("over-privileged.toml");
    let counts = |scenario: &serde_json::Value| {
        let principal = &scenario["principals"][0];
        (
            principal["held"].as_array().unwrap().len(),
            principal["used"].as_array().unwrap().len(),
        )
    };
    // Least privilege holds exactly the one pair its task uses.
    assert_eq!(counts(least), (1, 1), "{least:#}");
    // The same workflow against the wider policy: the request outside the
    // task turns from deny to allow, and more is held than least privilege.
    let decisions = |scenario: &serde_json::Value| -> Vec<String> {
        scenario["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|step| step["decision"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(decisions(least), ["allow", "deny"], "{least:#}");
    assert_eq!(decisions(over), ["allow", "allow"], "{over:#}");
    assert!(counts(over).0 > counts(least).0, "{over:#}");

    let editor_schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(folder.join("scenario.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft7::new(&editor_schema).unwrap();
    for name in ["least-privilege.toml", "over-privileged.toml"] {
        let text = std::fs::read_to_string(folder.join(name)).unwrap();
        assert!(
            text.starts_with("#:schema ./scenario.schema.json\n"),
            "{text}"
        );
        let value: serde_json::Value = toml::from_str::<toml::Value>(&text)
            .map(|v| serde_json::to_value(v).unwrap())
            .unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
}

#[test]
fn init_writes_a_starter_that_passes_as_written() {
    check_starter("init-plain", None);
}

#[test]
fn init_from_every_example_schema_passes_as_written() {
    let root = workspace_root();
    let mut schemas = Vec::new();
    for entry in std::fs::read_dir(root.join("scenarios")).unwrap() {
        let schema = entry.unwrap().path().join("schema.cedarschema");
        if schema.is_file() {
            schemas.push(schema);
        }
    }
    schemas.sort();
    assert!(schemas.len() >= 4, "{schemas:?}");
    for (n, schema) in schemas.iter().enumerate() {
        check_starter(&format!("init-example-{n}"), Some(schema));
    }
}

#[test]
fn init_fills_every_kind_of_attribute() {
    let root = workspace_root();
    check_starter(
        "init-shop",
        Some(&root.join("sim/tests/init/shop.cedarschema")),
    );
    check_starter(
        "init-shop-json",
        Some(&root.join("sim/tests/init/shop.cedarschema.json")),
    );
}

#[test]
fn init_never_overwrites_a_file() {
    let temp = TempFolder::new("init-twice");
    check_in(&temp.0, &["init", "starter"], 0);
    let edited = temp.0.join("starter/least-privilege.toml");
    std::fs::write(&edited, "# mine\n").unwrap();
    let again = check_in(&temp.0, &["init", "starter"], 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), "# mine\n");

    // One of the starter's files in an existing folder: nothing is written.
    let other = temp.0.join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("entities.json"), "[]").unwrap();
    check_in(&temp.0, &["init", "other"], 2);
    let names: Vec<_> = std::fs::read_dir(&other).unwrap().collect();
    assert_eq!(names.len(), 1, "nothing but the user's file");

    // An existing folder with unrelated files keeps them and gains the starter.
    let notes = temp.0.join("notes");
    std::fs::create_dir(&notes).unwrap();
    std::fs::write(notes.join("README.md"), "notes\n").unwrap();
    check_in(&temp.0, &["init", "notes"], 0);
    assert_eq!(
        std::fs::read_to_string(notes.join("README.md")).unwrap(),
        "notes\n"
    );
    check_in(&notes, &["run", "."], 0);
}

#[test]
fn init_from_a_bad_schema_is_an_error_at_its_line() {
    let temp = TempFolder::new("init-bad");
    let broken = check_in(
        &workspace_root(),
        &[
            "init",
            &temp.join("a"),
            "--from-schema",
            "sim/tests/init/broken.cedarschema",
        ],
        2,
    );
    assert!(
        broken.stderr.contains("sim/tests/init/broken.cedarschema:"),
        "{}",
        broken.stderr
    );
    let no_action = check_in(
        &workspace_root(),
        &[
            "init",
            &temp.join("b"),
            "--from-schema",
            "sim/tests/init/no-action.cedarschema",
        ],
        2,
    );
    assert!(
        no_action.stderr.contains("no action applies"),
        "{}",
        no_action.stderr
    );
    let missing = check_in(
        &workspace_root(),
        &[
            "init",
            &temp.join("c"),
            "--from-schema",
            "sim/tests/init/none.cedarschema",
        ],
        2,
    );
    assert!(
        missing.stderr.contains("none.cedarschema"),
        "{}",
        missing.stderr
    );
    for name in ["a", "b", "c"] {
        assert!(!temp.0.join(name).exists(), "{name} was written");
    }
}

/// `privsim schema` prints the committed schemas (which a test of the engine
/// keeps current with the serde types).
#[test]
fn schema_command_prints_the_committed_schemas() {
    for (kind, file) in [
        ("scenario", "scenario.schema.json"),
        ("gate", "privsim-gate.schema.json"),
    ] {
        let printed = check(&["schema", kind], 0).stdout;
        let committed =
            std::fs::read_to_string(workspace_root().join("sim/engine/schemas").join(file))
                .unwrap();
        assert_eq!(printed, committed, "{kind}");
    }
    check(&["schema", "scenarios"], 2);
}

/// `--from-mcp`: the schema `privsim import mcp` generates from the tool
/// list and the stub (or the built-in stub) gives a starter that passes as
/// written, like `--from-schema`.
#[test]
fn init_from_an_mcp_tool_list_passes_as_written() {
    let root = workspace_root();
    let tools = root.join("scenarios/mcp-helpdesk/tools.json");
    let stub = root.join("scenarios/mcp-helpdesk/stub.cedarschema");
    let text = |p: &Path| p.display().to_string();
    check_starter_from(
        "init-mcp-stub",
        &[
            "--from-mcp".to_string(),
            text(&tools),
            "--stub".to_string(),
            text(&stub),
        ],
    );
    check_starter_from(
        "init-mcp-default-stub",
        &["--from-mcp".to_string(), text(&tools)],
    );

    // The generated schema is the one `import mcp` prints for the same input.
    let temp = TempFolder::new("init-mcp-schema");
    let folder = temp.0.join("starter");
    check(
        &[
            "init",
            &text(&folder),
            "--from-mcp",
            &text(&tools),
            "--stub",
            &text(&stub),
        ],
        0,
    );
    let imported = check(
        &[
            "import",
            "mcp",
            "--tools",
            &text(&tools),
            "--stub",
            &text(&stub),
        ],
        0,
    );
    assert_eq!(
        std::fs::read_to_string(folder.join("schema.cedarschema")).unwrap(),
        imported.stdout
    );
}

/// A broken tool list is an error at its line, and nothing is written.
#[test]
fn init_from_a_bad_tool_list_is_an_error_at_its_line() {
    let temp = TempFolder::new("init-mcp-bad");
    std::fs::write(
        temp.0.join("tools.json"),
        "{\n  \"tools\": [\n    {\"name\": }\n  ]\n}\n",
    )
    .unwrap();
    let folder = temp.0.join("starter");
    let run = check_in(&temp.0, &["init", "starter", "--from-mcp", "tools.json"], 2);
    assert!(run.stderr.contains("tools.json:3:"), "{}", run.stderr);
    assert!(!folder.exists());
}
