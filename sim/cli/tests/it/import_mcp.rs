//! `privsim import mcp`: the schema is exactly the one the Cedar MCP schema
//! generator's own examples expect, the skeleton loads and passes, nothing is
//! replaced, and bad tool lists or stubs are bad input with their place.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::path::{Path, PathBuf};

use crate::common::{unwrapped, workspace_root};

/// `sim/tests/import/mcp/`: the generator crate's own examples (see SOURCE.md there).
fn fixtures() -> PathBuf {
    workspace_root().join("sim/tests/import/mcp")
}

fn privsim(args: &[&str]) -> (i32, String, String) {
    crate::common::privsim_in(&workspace_root(), args)
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The expected schema as the generator's integration test reads it: `//`
/// comment lines dropped, trimmed, one final newline.
fn expected_schema(file: &str) -> String {
    let raw = std::fs::read_to_string(fixtures().join(file)).unwrap();
    raw.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
        + "\n"
}

#[test]
fn the_schema_is_the_one_the_generators_examples_expect() {
    let tools = fixtures().join("tool.json");
    let stub = fixtures().join("stub.cedarschema");
    for (flags, expected) in [
        (&[][..], "tool_default.cedarschema"),
        (
            &["--objects-as-records"][..],
            "tool_objects_as_records.cedarschema",
        ),
        (
            &["--numbers-as-decimal"][..],
            "tool_encode_numbers_as_decimal.cedarschema",
        ),
    ] {
        let mut args = vec![
            "import",
            "mcp",
            "--tools",
            text(&tools),
            "--stub",
            text(&stub),
        ];
        args.extend(flags);
        let (code, stdout, stderr) = privsim(&args);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(stdout, expected_schema(expected), "{flags:?}");
    }
}

#[test]
fn the_example_servers_schema_is_generated_from_its_tools() {
    let folder = workspace_root().join("scenarios/mcp-helpdesk");
    let (code, stdout, stderr) = privsim(&[
        "import",
        "mcp",
        "--tools",
        text(&folder.join("tools.json")),
        "--stub",
        text(&folder.join("stub.cedarschema")),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        std::fs::read_to_string(folder.join("schema.cedarschema")).unwrap(),
        "scenarios/mcp-helpdesk/schema.cedarschema is what `privsim import mcp` generates"
    );
    // One action per tool, each with the tool's input as its context.
    let server = privsim::import::mcp::McpServer::read(
        &folder.join("tools.json"),
        &folder.join("stub.cedarschema"),
        privsim::import::mcp::McpConfig::default(),
    )
    .unwrap();
    let tools: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("tools.json")).unwrap()).unwrap();
    let mut names: Vec<String> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| format!("Helpdesk::Action::{}", tool["name"]))
        .collect();
    names.sort();
    assert_eq!(server.tools, names);
    assert_eq!(
        server.principal_types,
        ["Helpdesk::Agent", "Helpdesk::User"]
    );
    assert_eq!(server.resource_types, ["Helpdesk::Workspace"]);
}

#[test]
fn the_skeleton_passes_and_nothing_is_replaced() {
    let out = temp_folder("skeleton");
    let tools = fixtures().join("tool.json");
    let stub = fixtures().join("stub.cedarschema");
    let args = [
        "import",
        "mcp",
        "--tools",
        text(&tools),
        "--stub",
        text(&stub),
        "--out",
        text(&out),
    ];
    let (code, stdout, stderr) = privsim(&args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert_eq!(
        std::fs::read_to_string(out.join("schema.cedarschema")).unwrap(),
        expected_schema("tool_default.cedarschema")
    );
    let scenario = std::fs::read_to_string(out.join("scenario.toml")).unwrap();
    assert!(
        scenario.contains(r#"principal = 'MyMcpServer::User::"example"'"#),
        "{scenario}"
    );
    let (code, stdout, _) = privsim(&["run", text(&out.join("scenario.toml"))]);
    assert_eq!(code, 0, "{stdout}");

    // A second import would replace the files: refused, and they are unchanged.
    std::fs::write(out.join("policies.cedar"), "// edited\n").unwrap();
    let (code, _, stderr) = privsim(&args);
    assert_eq!(code, 2);
    assert!(stderr.contains("never replaces"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(out.join("policies.cedar")).unwrap(),
        "// edited\n"
    );
}

#[test]
fn bad_tool_lists_and_stubs_are_bad_input_with_their_place() {
    let folder = temp_folder("malformed");
    let tools = fixtures().join("tool.json");
    let stub = fixtures().join("stub.cedarschema");
    let cases: [(&str, &str, bool, &str); 5] = [
        // A tool list whose JSON breaks on line 3.
        (
            "tools.json",
            "{\n  \"tools\": [\n    { \"name\": }\n  ]\n}\n",
            true,
            "tools.json:3:",
        ),
        // A stub that is not Cedar.
        (
            "stub.cedarschema",
            "namespace Broken {\n  entity User\n  entity\n}\n",
            false,
            "stub.cedarschema:3:",
        ),
        // A stub without an `@mcp_principal` type.
        (
            "stub.cedarschema",
            "namespace S {\n  entity User;\n  @mcp_resource(\"Server\")\n  entity Server;\n}\n",
            false,
            "mcp principal",
        ),
        // A stub in the global namespace.
        (
            "stub.cedarschema",
            "@mcp_principal(\"User\")\nentity User;\n@mcp_resource(\"Server\")\nentity Server;\n",
            false,
            "global namespace",
        ),
        // A stub naming types it does not declare: Cedar lists them in hash
        // order, located by the first of that order; sorted here, and
        // located in the stub at the first of them it names.
        (
            "stub.cedarschema",
            "namespace S {\n  @mcp_principal(\"User\")\n  entity User in [Zeta, Alpha, Mid, Beta, Gamma, Delta];\n  @mcp_resource(\"Server\")\n  entity Server;\n}\n",
            false,
            "stub.cedarschema:3:19: failed to resolve types: Alpha, Beta, Delta, Gamma, Mid, Zeta",
        ),
    ];
    for (index, (file, contents, is_tools, expected)) in cases.into_iter().enumerate() {
        let case = folder.join(index.to_string());
        std::fs::create_dir_all(&case).unwrap();
        let path = case.join(file);
        std::fs::write(&path, contents).unwrap();
        let (tools, stub) = if is_tools {
            (path.clone(), stub.clone())
        } else {
            (tools.clone(), path.clone())
        };
        let (code, stdout, stderr) = privsim(&[
            "import",
            "mcp",
            "--tools",
            text(&tools),
            "--stub",
            text(&stub),
        ]);
        assert_eq!(code, 2, "case {index}: {stdout}{stderr}");
        assert!(
            unwrapped(&stderr)
                .to_lowercase()
                .contains(&unwrapped(expected).to_lowercase()),
            "case {index}: expected `{expected}` in {stderr}"
        );
        assert!(stdout.is_empty());
    }
}

/// A fresh, empty folder for one test.
pub fn temp_folder(test: &str) -> PathBuf {
    let folder =
        std::env::temp_dir().join(format!("privsim-import-mcp-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}
