//! MCP tool lists as Cedar schemas: an MCP server's `tools/list` response and a
//! schema stub go through the Cedar project's own generator
//! (`cedar-policy-mcp-schema-generator`), so the actions and contexts are exactly
//! those a Cedar-secured MCP server built with that crate sees. privsim adds
//! only what the generator does not: located errors, and a scenario skeleton
//! (sessions for the principal types, a deny-by-default starter policy).
//!
//! The same [`McpServer`] turns logged `tools/call` requests into Cedar
//! requests with the generator's request generator (see `import::log`).

use std::path::{Path, PathBuf};

use cedar_policy::{Schema, SchemaFragment};
use cedar_policy_mcp_schema_generator::{RequestGenerator, SchemaGenerator, SchemaGeneratorConfig};
use mcp_tools_sdk::description::ServerDescription;
use serde::Serialize;

use crate::load::cedar_files::{cedar_error, schema_error};
use privsim_model::diag::{Error, Result, SourceFile};

/// An error of the generator on the schema it builds from the stub and the
/// tools. Cedar lists a schema's undeclared types and actions in hash
/// order, and locates the first of that order in the stub's text: such an
/// error goes through the schema loader's sorting
/// ([`schema_error`]), located in the stub (the tools name no Cedar type);
/// any other is the tool list's.
fn generated_schema_error(
    tools: &SourceFile,
    stub: &SourceFile,
    diagnostic: &dyn miette::Diagnostic,
) -> privsim_model::diag::SourceError {
    let message = diagnostic.to_string();
    if message.starts_with("failed to resolve types: ")
        || message.starts_with("undeclared actions: ")
    {
        schema_error(stub, diagnostic)
    } else {
        cedar_error(tools, diagnostic)
    }
}

/// The generator's options privsim exposes; everything else is the generator's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct McpConfig {
    /// Objects without `additionalProperties` become Cedar records instead of
    /// entities (the generator's `objects_as_records`).
    pub objects_as_records: bool,
    /// JSON `number` and `float` parameters become Cedar `decimal`s instead of
    /// opaque entities (the generator's `encode_numbers_as_decimal`).
    pub numbers_as_decimal: bool,
}

impl McpConfig {
    /// A configuration with the given switches.
    pub fn new(objects_as_records: bool, numbers_as_decimal: bool) -> Self {
        Self {
            objects_as_records,
            numbers_as_decimal,
        }
    }

    fn generator_config(self) -> SchemaGeneratorConfig {
        SchemaGeneratorConfig::default()
            .objects_as_records(self.objects_as_records)
            .encode_numbers_as_decimal(self.numbers_as_decimal)
    }
}

/// An MCP server's tools turned into a Cedar schema by the generator.
#[derive(Debug)]
pub struct McpServer {
    /// The generated schema, in Cedar's human-readable syntax, as the generator prints it.
    pub schema_text: String,
    /// The generated schema, parsed.
    pub schema: Schema,
    /// One action per tool, as Cedar UID strings, sorted.
    pub tools: Vec<String>,
    /// The principal types tools apply to (the stub's `@mcp_principal` types), sorted.
    pub principal_types: Vec<String>,
    /// The resource types tools apply to (the stub's `@mcp_resource` types), sorted.
    pub resource_types: Vec<String>,
    requests: RequestGenerator,
}

impl McpServer {
    /// Reads a `tools/list` response (or a JSON array of tool descriptions) and a
    /// `.cedarschema` stub, and generates the schema.
    pub fn read(tools: &Path, stub: &Path, config: McpConfig) -> Result<Self> {
        let tools_file = SourceFile::read(tools, tools.display().to_string())?;
        let stub_file = SourceFile::read(stub, stub.display().to_string())?;
        Self::from_files(&tools_file, &stub_file, config)
    }

    /// As [`McpServer::read`], from files already in memory.
    pub fn from_files(tools: &SourceFile, stub: &SourceFile, config: McpConfig) -> Result<Self> {
        let description = ServerDescription::from_json_str(&tools.text)
            .map_err(|e| cedar_error(tools, &e).prefixed("not an MCP tool list: "))?;
        // Cedar's own parser first, for an error located in the stub; the
        // generator reports a stub's syntax errors without a location.
        crate::load::cedar_files::check_depth(stub)?;
        let _ =
            SchemaFragment::from_cedarschema_str(&stub.text).map_err(|e| cedar_error(stub, &e))?;
        let mut generator =
            SchemaGenerator::from_cedarschema_str_with_config(&stub.text, config.generator_config())
                .map_err(|e| {
                    cedar_error(stub, &e).with_help(
                        "the stub needs exactly one namespace, an entity type annotated `@mcp_principal(\"...\")` and one annotated `@mcp_resource(\"...\")`",
                    )
                })?;
        generator
            .add_actions_from_server_description(&description)
            .map_err(|e| generated_schema_error(tools, stub, &e))?;
        let requests = generator
            .new_request_generator()
            .map_err(|e| generated_schema_error(tools, stub, &e))?;
        // Printed as the generator's own command line prints it.
        let schema_text = generator
            .get_schema()
            .clone()
            .to_cedarschema()
            .map_err(|e| {
                Error::Internal(format!(
                    "the generated schema cannot be printed ({e}); this is a bug of the generator or of privsim"
                ))
            })?;
        let (schema, _warnings) = Schema::from_cedarschema_str(&schema_text).map_err(|e| {
            Error::Internal(format!(
                "the generated schema does not parse ({e}); this is a bug of the generator or of privsim"
            ))
        })?;
        let mut tools_found = Vec::new();
        let mut principal_types = std::collections::BTreeSet::new();
        let mut resource_types = std::collections::BTreeSet::new();
        for action in schema.actions() {
            // Parent actions from the stub apply to nothing; tools apply to the
            // stub's principal and resource types.
            let principals: Vec<String> = schema
                .principals_for_action(action)
                .into_iter()
                .flatten()
                .map(ToString::to_string)
                .collect();
            if principals.is_empty() {
                continue;
            }
            principal_types.extend(principals);
            resource_types.extend(
                schema
                    .resources_for_action(action)
                    .into_iter()
                    .flatten()
                    .map(ToString::to_string),
            );
            tools_found.push(action.to_string());
        }
        tools_found.sort();
        Ok(Self {
            schema_text,
            schema,
            tools: tools_found,
            principal_types: principal_types.into_iter().collect(),
            resource_types: resource_types.into_iter().collect(),
            requests,
        })
    }

    /// The generator's request generator for this server.
    pub(crate) fn requests(&self) -> &RequestGenerator {
        &self.requests
    }

    /// The files of a scenario skeleton: the schema, a deny-by-default starter
    /// policy, and a scenario with one session per principal type.
    pub fn skeleton(&self, name: &str) -> Result<Vec<(&'static str, String)>> {
        Ok(vec![
            (SCHEMA_FILE, self.schema_text.clone()),
            (POLICY_FILE, self.starter_policy()),
            (SCENARIO_FILE, self.scenario_text(name)?),
        ])
    }

    fn starter_policy(&self) -> String {
        let mut text = String::from(
            "// Generated by `privsim import mcp` (docs/import.md): a least-privilege start.\n\
             // Nothing is allowed until a policy below says so: Cedar denies by default.\n\
             // Uncomment a permit per tool an agent needs, and narrow it to the\n\
             // principals, resources and `context.input` values its task requires.\n",
        );
        let principal = self.principal_types.first().cloned().unwrap_or_default();
        let resource = self.resource_types.first().cloned().unwrap_or_default();
        for tool in &self.tools {
            let id = tool
                .rsplit_once("::")
                .map_or(tool.as_str(), |(_, id)| id)
                .trim_matches('"');
            text.push_str(&format!(
                "\n// @id(\"{id}\")\n// permit(principal == {principal}::\"example\", action == {tool}, resource == {resource}::\"example\");\n"
            ));
        }
        text
    }

    fn scenario_text(&self, name: &str) -> Result<String> {
        #[derive(Serialize)]
        struct Document<'a> {
            scenario: Header<'a>,
            session: Vec<Session>,
        }
        #[derive(Serialize)]
        struct Header<'a> {
            name: &'a str,
            description: String,
            policies: [&'static str; 1],
            schema: &'static str,
        }
        #[derive(Serialize)]
        struct Session {
            id: String,
            principal: String,
        }
        let sessions = self
            .principal_types
            .iter()
            .map(|ty| {
                let short = ty.rsplit("::").next().unwrap_or(ty).to_ascii_lowercase();
                Session {
                    id: format!("{short}-example"),
                    // A type name as the schema prints it, and a literal id.
                    principal: format!("{ty}::\"example\""),
                }
            })
            .collect();
        let document = Document {
            scenario: Header {
                name,
                description: format!(
                    "Skeleton generated by `privsim import mcp` for {} tool(s). Add the world (`entities`), then one `[[step]]` per tool call; `privsim import log` builds the steps from a request log.",
                    self.tools.len()
                ),
                policies: [POLICY_FILE],
                schema: SCHEMA_FILE,
            },
            session: sessions,
        };
        let body = toml::to_string(&document)
            .map_err(|e| Error::Internal(format!("cannot write the scenario skeleton: {e}")))?;
        let mut text = String::from("# Generated by `privsim import mcp` (docs/import.md).\n");
        text.push_str(&body);
        text.push_str("\n# One step per tool call, e.g.:\n");
        for tool in &self.tools {
            text.push_str(&format!(
                "# [[step]]\n# session = \"...\"\n# action = '{tool}'\n# resource = '...'\n# context = {{ input = {{ ... }} }}\n# expect = \"allow\"\n"
            ));
        }
        Ok(text)
    }
}

/// The generated schema's file name in a skeleton.
pub const SCHEMA_FILE: &str = "schema.cedarschema";
/// The starter policy's file name in a skeleton.
pub const POLICY_FILE: &str = "policies.cedar";
/// The scenario's file name in a skeleton.
pub const SCENARIO_FILE: &str = "scenario.toml";

/// Writes the skeleton into `out` (created if missing). Nothing is replaced:
/// when any of its files exists already, nothing is written.
pub fn write_skeleton(server: &McpServer, out: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let files = server.skeleton(name)?;
    for (file, _) in &files {
        let path = out.join(file);
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(Error::Conflict(format!(
                "`{}` exists; privsim import never replaces a file (remove it or choose another `--out`)",
                path.display()
            )));
        }
    }
    std::fs::create_dir_all(out).map_err(|source| Error::Io {
        path: out.display().to_string(),
        source,
    })?;
    let mut written = Vec::new();
    for (file, text) in &files {
        let path = out.join(file);
        let io = |source| Error::Io {
            path: path.display().to_string(),
            source,
        };
        if !crate::output::write_new_file(&path, text.as_bytes()).map_err(io)? {
            return Err(Error::Conflict(format!(
                "`{}` appeared while privsim was writing; nothing was replaced",
                path.display()
            )));
        }
        written.push(path);
    }
    Ok(written)
}
