//! `privsim init`: writes a starter scenario folder (schema, entities, a
//! least-privilege and an over-privileged policy, a scenario for each) that
//! passes `privsim run` as written, from a built-in schema or the user's
//! (`--from-schema`) or generated from an MCP tool list as `privsim import
//! mcp` does (`--from-mcp`). The folder is replayed in a scratch copy first, and
//! nothing that already exists is overwritten.

use std::path::PathBuf;

use privsim::diag::SourceFile;

use crate::cli::{Outcome, report_error};

/// Arguments of `privsim init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The folder to create (or an existing folder without any of the starter's files).
    pub dir: PathBuf,
    /// Start from this Cedar schema (`.cedarschema`, or `.json` in Cedar's
    /// JSON schema format) instead of the built-in example: its first action
    /// that applies to a principal and a resource becomes the workflow.
    #[arg(long, value_name = "FILE", conflicts_with = "from_mcp")]
    pub from_schema: Option<PathBuf>,
    /// Start from an MCP server's tool list (its `tools/list` response, or a
    /// JSON array of tools): the schema is generated as `privsim import mcp`
    /// does (docs/import.md), and its first tool becomes the workflow.
    #[arg(long, value_name = "TOOLS_JSON")]
    pub from_mcp: Option<PathBuf>,
    /// With `--from-mcp`: the schema stub naming the principal and resource
    /// types (`@mcp_principal`, `@mcp_resource`); without it, a built-in
    /// stub with one `User` principal and one `Server` resource.
    #[arg(long, value_name = "FILE", requires = "from_mcp")]
    pub stub: Option<PathBuf>,
}

/// The stub `init --from-mcp` uses when none is given: the smallest one the
/// MCP schema generator accepts.
const DEFAULT_MCP_STUB: &str = "\
// The principals and resources of the MCP server (`privsim init --from-mcp`
// without `--stub`); the generator adds one action per tool.
namespace Mcp {
    @mcp_principal(\"User\")
    entity User;

    @mcp_resource(\"Server\")
    entity Server;
}
";

/// The schema `--from-mcp` generates, as a file the starter copies.
fn mcp_schema(
    tools: &std::path::Path,
    stub: Option<&std::path::Path>,
) -> Result<SourceFile, privsim::Error> {
    use privsim::import::mcp::{McpConfig, McpServer};
    let tools = SourceFile::read(tools, tools.display().to_string())?;
    let stub = match stub {
        Some(path) => SourceFile::read(path, path.display().to_string())?,
        None => SourceFile::from_text(
            PathBuf::from("stub.cedarschema"),
            "the built-in stub".to_string(),
            DEFAULT_MCP_STUB.to_string(),
        ),
    };
    let server = McpServer::from_files(&tools, &stub, McpConfig::new(false, false))?;
    Ok(SourceFile::from_text(
        PathBuf::from("schema.cedarschema"),
        "schema.cedarschema".to_string(),
        server.schema_text.clone(),
    ))
}

/// Writes the starter folder.
pub fn run(args: &InitArgs) -> Outcome {
    let schema = match (&args.from_schema, &args.from_mcp) {
        (_, Some(tools)) => match mcp_schema(tools, args.stub.as_deref()) {
            Ok(file) => file,
            Err(error) => return report_error(error),
        },
        (Some(path), None) => match SourceFile::read(path, path.display().to_string()) {
            Ok(file) => file,
            Err(error) => return report_error(error),
        },
        (None, None) => SourceFile::from_text(
            PathBuf::from("schema.cedarschema"),
            "schema.cedarschema".to_string(),
            privsim::scaffold::STARTER_SCHEMA.to_string(),
        ),
    };
    let files = match privsim::scaffold::starter(&schema) {
        Ok(files) => files,
        Err(error) => return report_error(error),
    };
    if let Some(outcome) = replays_as_written(&files) {
        return outcome;
    }
    if let Err(error) = privsim::output::write_new_folder(&args.dir, &files) {
        eprintln!(
            "error: cannot write `{}`: {}\n  help: `privsim init` never overwrites a file; choose a new folder",
            error.path.display(),
            error.source
        );
        return Outcome::BadInput;
    }
    let dir = args.dir.display();
    let mut listing: String = files
        .iter()
        .map(|(name, _)| format!("{dir}/{name}\n"))
        .collect();
    listing.push_str(&format!(
        "\nnext: privsim run {dir}    (both variants pass; the over-privileged one shows the unused privilege)\n"
    ));
    match crate::cli::print_out(&listing) {
        Ok(()) => Outcome::Ok,
        Err(outcome) => outcome,
    }
}

/// Replays the starter in a scratch folder; `None` when every scenario
/// passes. A starter that does not pass is privsim's fault (a schema shape
/// it fills wrongly), said as such, with nothing written.
fn replays_as_written(files: &[(String, String)]) -> Option<Outcome> {
    let scratch = match tempfile::tempdir() {
        Ok(scratch) => scratch,
        Err(error) => {
            eprintln!("error: cannot create a scratch folder to check the starter: {error}");
            return Some(Outcome::BadInput);
        }
    };
    let folder = scratch.path().join("starter");
    if let Err(error) = privsim::output::write_new_folder(&folder, files) {
        eprintln!(
            "error: cannot write `{}`: {}",
            error.path.display(),
            error.source
        );
        return Some(Outcome::BadInput);
    }
    let failure = match privsim::run_paths(&[&folder], &privsim::LoadOptions::default()) {
        Ok(result) if result.passed() => return None,
        Ok(result) => privsim_reports::text::render(&result),
        Err(error) => format!("{:?}", miette::Report::new(error)),
    };
    eprintln!(
        "error: the starter scenarios privsim derived from this schema do not pass as written, so nothing was written\n{}\n  help: please report this schema; meanwhile start from `privsim init` without `--from-schema`",
        crate::cli::without_controls(&failure)
    );
    Some(Outcome::BadInput)
}
