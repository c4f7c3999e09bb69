//! Argument definitions and exit codes shared by the subcommands.

use crate::{check, fuzz, import, report, run, suggest};

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit codes: 0 ok, 1 a check or expectation failed, 2 bad input or usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything held.
    Ok = 0,
    /// An expectation or check failed.
    Failed = 1,
    /// The input was bad.
    BadInput = 2,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(outcome as u8)
    }
}

/// Policy simulation and testing for least privilege.
#[derive(Debug, Parser)]
#[command(name = "privsim", version, about)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay scenarios against their (or the given) Cedar policies.
    Run(RunArgs),
    /// Turn Cedar test suites into scenarios: write them with `--out`, or replay them.
    Import(ImportArgs),
    /// Suggest right-sized policies per principal, verified by replaying the scenario.
    Suggest(suggest::SuggestArgs),
    /// Search scenarios for escalation paths (sequences of allowed steps that
    /// break an invariant); writes a repro scenario per finding.
    Fuzz(fuzz::FuzzArgs),
    /// Render a stored JSON result (`run --format json`, or a report folder's `result.json`).
    Report(report::ReportArgs),
    /// CI gate: compare baseline and candidate policies on every scenario and
    /// fail on new access, broken workflows, new escalations (docs/check.md).
    Check(check::CheckArgs),
}

/// Output formats of `run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A summary for people.
    Text,
    /// The JSON result contract (docs/json-contract.md).
    Json,
}

/// Arguments of `privsim run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files, or folders searched recursively for `*.toml` scenarios.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Evaluate this `.cedar` file or folder instead of each scenario's `policies`.
    #[arg(long, value_name = "FILE_OR_FOLDER")]
    pub policies: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the output to this file (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also exit 1 when an invariant finding (e.g. a delegation-ceiling violation) is reported.
    #[arg(long)]
    pub fail_on_findings: bool,
    /// Also write every report format into this folder (created if missing):
    /// report.md, report.html, result.json, junit.xml, results.sarif.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Add each scenario's right-sized policy suggestion to the result
    /// (always on with `--report-dir`).
    #[arg(long)]
    pub suggest: bool,
}

/// Test-suite formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SuiteFormatArg {
    /// Folders with `policies.cedar` and `ALLOW/` + `DENY/` request folders (cedar-example-use-cases).
    Corpus,
    /// The Cedar CLI's `cedar run-tests` JSON (needs `--policies`).
    RunTests,
    /// The Cedar project's integration-test JSON (cedar-integration-tests).
    Integration,
}

/// Arguments of `privsim import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A suite file, a use-case folder, or a folder searched recursively for suites.
    pub path: PathBuf,
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

/// Runs the chosen subcommand and maps its outcome to an exit code.
pub fn dispatch(args: Args) -> ExitCode {
    let outcome = match args.command {
        Command::Run(run) => run::run(&run),
        Command::Import(import) => import::run(&import),
        Command::Suggest(suggest) => suggest::run(&suggest),
        Command::Report(report) => report::run(&report),
        Command::Fuzz(fuzz) => fuzz::run(&fuzz),
        Command::Check(check) => check::run(&check),
    };
    outcome.into()
}

/// Prints a bad-input error with its whole chain and source snippet.
pub fn report_error(error: privsim::Error) -> Outcome {
    eprintln!("{:?}", miette::Report::new(error));
    Outcome::BadInput
}

/// Writes every report format into `folder` (created if missing), each file
/// atomically.
pub fn write_report_dir(folder: &std::path::Path, result: &privsim::RunResult) -> Outcome {
    let files = match privsim_reports::render_all(result) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("error: {error}");
            return Outcome::BadInput;
        }
    };
    if let Err(error) = std::fs::create_dir_all(folder) {
        eprintln!("error: cannot create `{}`: {error}", folder.display());
        return Outcome::BadInput;
    }
    for (name, text) in files {
        let path = folder.join(name);
        if let Err(error) = write_atomically(&path, &text) {
            eprintln!("error: cannot write `{}`: {error}", path.display());
            return Outcome::BadInput;
        }
    }
    Outcome::Ok
}

/// Writes `text` to `path` atomically (a temporary file beside it, then a rename).
pub fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = folder.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

/// Prints `text`, or writes it atomically to `output`; a write that fails is
/// reported and is bad input.
pub fn emit(output: Option<&std::path::Path>, text: &str) -> Result<(), Outcome> {
    match output {
        Some(path) => write_atomically(path, text).map_err(|error| {
            eprintln!("error: cannot write `{}`: {error}", path.display());
            Outcome::BadInput
        }),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Failed when an expectation or access check failed, or when findings
/// should fail the run and there are some.
pub fn verdict(result: &privsim::RunResult, fail_on_findings: bool) -> Outcome {
    if !result.passed() || (fail_on_findings && result.has_findings()) {
        Outcome::Failed
    } else {
        Outcome::Ok
    }
}
