//! `privsim import`: read Cedar test suites, then write them as scenarios
//! (`--out`) or replay them at once, with `run`'s output and exit codes;
//! `privsim import mcp` (an MCP tool list → a Cedar schema and a scenario
//! skeleton) and `privsim import log` (a request log → a scenario).

use std::path::PathBuf;

use privsim::import::log::{self as request_log, LogOptions};
use privsim::import::mcp::{self, McpConfig, McpServer};
use privsim::import::{self, ImportOptions, SuiteFormat};
use privsim::{Error, RunResult};
use privsim_reports as report;

use crate::cli::{Format, Outcome, SuiteFormatArg, WindowArgs, report_error};

/// Arguments of `privsim import`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ImportArgs {
    /// What else to import: an MCP tool list or a request log.
    #[command(subcommand)]
    pub source: Option<ImportSource>,
    /// A suite file, a use-case folder, or a folder searched recursively for
    /// suites (a path named `mcp` or `log` is written `./mcp`).
    #[arg(required = true)]
    pub path: Option<PathBuf>,
    /// The suite format (default: detected from each file's or folder's shape).
    #[arg(long, value_enum)]
    pub format: Option<SuiteFormatArg>,
    /// Write one scenario folder per suite here instead of replaying.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Integration tests: the folder their `policies`, `entities` and `schema` paths are relative to (default: the nearest folder, from the test file's up, where they exist).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// run-tests: the policy file (`cedar run-tests --policies`).
    #[arg(long, value_name = "FILE")]
    pub policies: Option<PathBuf>,
    /// run-tests: the schema (`cedar run-tests --schema`).
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// run-tests: template links (`cedar run-tests --template-linked`).
    #[arg(long, value_name = "FILE", alias = "template-linked")]
    pub links: Option<PathBuf>,
    /// Output format of the replay (without `--out`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub output_format: Format,
}

/// `privsim import mcp` and `privsim import log`.
#[derive(Debug, clap::Subcommand)]
pub enum ImportSource {
    /// An MCP server's `tools/list` response and a Cedar schema stub become a
    /// Cedar schema (one action per tool, its input as the action's context) by
    /// the Cedar project's generator, with a scenario skeleton.
    Mcp(McpArgs),
    /// A request log (JSON lines, docs/request-log.schema.json) becomes a
    /// scenario: write it with `--out`, or replay it.
    Log(LogArgs),
}

/// The generator's switches, shared by `mcp` and `log`.
#[derive(Debug, clap::Args)]
pub struct GeneratorArgs {
    /// Objects without `additionalProperties` become Cedar records, not entities.
    #[arg(long)]
    pub objects_as_records: bool,
    /// JSON numbers become Cedar decimals, not opaque entities.
    #[arg(long)]
    pub numbers_as_decimal: bool,
}

impl GeneratorArgs {
    fn config(&self) -> McpConfig {
        McpConfig::new(self.objects_as_records, self.numbers_as_decimal)
    }
}

/// Arguments of `privsim import mcp`.
#[derive(Debug, clap::Args)]
pub struct McpArgs {
    /// The server's `tools/list` response (or a JSON array of tool descriptions).
    #[arg(long, value_name = "FILE")]
    pub tools: PathBuf,
    /// The schema stub: one namespace with `@mcp_principal` and `@mcp_resource` entity types.
    #[arg(long, value_name = "FILE")]
    pub stub: PathBuf,
    /// Write `schema.cedarschema`, `policies.cedar` and `scenario.toml` here
    /// (never replacing a file); without it, print the schema.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The skeleton scenario's name.
    #[arg(long, default_value = "mcp-server")]
    pub name: String,
    #[command(flatten)]
    pub generator: GeneratorArgs,
}

/// Arguments of `privsim import log`.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// The log: one JSON object per line.
    pub log: PathBuf,
    /// The policies to replay against (`.cedar` files or folders; repeatable).
    #[arg(long, value_name = "FILE_OR_FOLDER", required = true)]
    pub policies: Vec<PathBuf>,
    /// The schema (for `tools_call` lines, the one `import mcp` generated).
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// The world: a Cedar entities JSON file.
    #[arg(long, value_name = "FILE")]
    pub entities: Option<PathBuf>,
    /// For `tools_call` lines: the MCP server's tool list.
    #[arg(long, value_name = "FILE", requires = "stub")]
    pub tools: Option<PathBuf>,
    /// For `tools_call` lines: the schema stub.
    #[arg(long, value_name = "FILE", requires = "tools")]
    pub stub: Option<PathBuf>,
    #[command(flatten)]
    pub generator: GeneratorArgs,
    /// The scenario's name (default: `<folder>-<stem>` of the log's path).
    #[arg(long)]
    pub name: Option<String>,
    /// Write the scenario to `DIR/<name>.toml` instead of replaying (Cedar
    /// files outside `DIR` are copied beside it; nothing is replaced).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Output format of the replay (without `--out`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub output_format: Format,
    /// The observation window of the streamed replay (without `--out`).
    #[command(flatten)]
    pub window: WindowArgs,
    /// Threads of the streamed replay: 1 (the default) reads and replays on
    /// one thread; 2 or more (at most 2 are used) replay each window of
    /// requests on a second thread while the next lines are read. The result
    /// is the same.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: u64,
}

/// Imports the suites and writes or replays them.
pub fn run(args: &ImportArgs) -> Outcome {
    match &args.source {
        Some(ImportSource::Mcp(mcp)) => return run_mcp(mcp),
        Some(ImportSource::Log(log)) => return run_log(log),
        None => {}
    }
    let Some(path) = &args.path else {
        return report_error(Error::BadArgument(
            "name a suite, or `mcp` or `log`".to_string(),
        ));
    };
    let options = ImportOptions {
        format: args.format.map(|format| match format {
            SuiteFormatArg::Corpus => SuiteFormat::Corpus,
            SuiteFormatArg::RunTests => SuiteFormat::RunTests,
            SuiteFormatArg::Integration => SuiteFormat::Integration,
        }),
        root: args.root.clone(),
        policies: args.policies.clone(),
        schema: args.schema.clone(),
        links: args.links.clone(),
    };
    let suites = match import::import(path, &options) {
        Ok(suites) => suites,
        Err(error) => return report_error(error),
    };
    if let Some(out) = &args.out {
        return match import::write_all(&suites, out) {
            Ok(written) => {
                let listing: String = written
                    .iter()
                    .zip(&suites)
                    .map(|(path, suite)| {
                        format!("{} ({} steps)\n", path.display(), suite.steps.len())
                    })
                    .collect();
                match crate::cli::print_out(&listing) {
                    Ok(()) => Outcome::Ok,
                    Err(outcome) => outcome,
                }
            }
            Err(error) => report_error(error),
        };
    }
    let result = match import::replay_all(&suites) {
        Ok(result) => result,
        Err(error) => return report_error(error),
    };
    print_result(&result, args.output_format)
}

/// Prints a replay like `run` and maps it to `run`'s exit codes.
fn print_result(result: &RunResult, format: Format) -> Outcome {
    let text = match format {
        Format::Text => report::text::render(result),
        Format::Json => report::json(result),
    };
    if let Err(outcome) = crate::cli::print_out(&text) {
        return outcome;
    }
    if result.passed() {
        Outcome::Ok
    } else {
        Outcome::Failed
    }
}

fn run_mcp(args: &McpArgs) -> Outcome {
    let server = match McpServer::read(&args.tools, &args.stub, args.generator.config()) {
        Ok(server) => server,
        Err(error) => return report_error(error),
    };
    let Some(out) = &args.out else {
        return match crate::cli::print_out(&server.schema_text) {
            Ok(()) => Outcome::Ok,
            Err(outcome) => outcome,
        };
    };
    match mcp::write_skeleton(&server, out, &args.name) {
        Ok(written) => {
            let listing: String = written
                .iter()
                .map(|path| format!("{}\n", path.display()))
                .collect();
            match crate::cli::print_out(&listing) {
                Ok(()) => Outcome::Ok,
                Err(outcome) => outcome,
            }
        }
        Err(error) => report_error(error),
    }
}

fn run_log(args: &LogArgs) -> Outcome {
    let server = match (&args.tools, &args.stub) {
        (Some(tools), Some(stub)) => match McpServer::read(tools, stub, args.generator.config()) {
            Ok(server) => Some(server),
            Err(error) => return report_error(error),
        },
        _ => None,
    };
    let options = LogOptions::new(args.policies.clone())
        .schema(args.schema.clone())
        .entities(args.entities.clone())
        .mcp(server)
        .name(args.name.clone());
    let Some(out) = &args.out else {
        // Without `--out`, the log is streamed: read line by line, never whole.
        let observation = match args.window.options() {
            Ok(observation) => observation,
            Err(message) => return report_error(Error::BadArgument(message)),
        };
        let load = privsim::load::LoadOptions {
            observation,
            ..privsim::load::LoadOptions::default()
        };
        let ticker = crate::progress::Ticker::start("import log");
        privsim::progress::scenario(&args.log.display().to_string());
        let streamed = privsim::import::stream::replay_log_jobs(
            &args.log,
            &options,
            &load,
            privsim::import::stream::MISMATCHES_LISTED,
            usize::try_from(args.jobs).unwrap_or(1),
        );
        drop(ticker);
        let result = match streamed {
            Ok((result, _)) => result,
            Err(error) => return report_error(error),
        };
        return print_result(&RunResult::new(vec![result]), args.output_format);
    };
    let logged = match request_log::import_log(&args.log, &options) {
        Ok(logged) => logged,
        Err(error) => return report_error(error),
    };
    match logged.write(out) {
        Ok(path) => match crate::cli::print_out(&format!(
            "{} ({} steps, {} sessions)\n",
            path.display(),
            logged.steps.len(),
            logged.sessions.len()
        )) {
            Ok(()) => Outcome::Ok,
            Err(outcome) => outcome,
        },
        Err(error) => report_error(error),
    }
}
