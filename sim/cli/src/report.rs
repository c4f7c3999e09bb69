//! `privsim report`: render a stored JSON result in any report format, to
//! standard output, a file, or a whole report folder.

use std::path::PathBuf;

use clap::ValueEnum;
use privsim::diag::SourceFile;
use privsim_reports::{self as report, Format};

use crate::cli::{Outcome, report_error, write_report_dir};

/// Report formats on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Markdown, for a pull-request comment or GitHub's job summary.
    Md,
    /// One self-contained HTML page.
    Html,
    /// The JSON result contract.
    Json,
    /// JUnit XML.
    Junit,
    /// SARIF 2.1.0.
    Sarif,
}

impl From<ReportFormat> for Format {
    fn from(format: ReportFormat) -> Self {
        match format {
            ReportFormat::Md => Format::Markdown,
            ReportFormat::Html => Format::Html,
            ReportFormat::Json => Format::Json,
            ReportFormat::Junit => Format::Junit,
            ReportFormat::Sarif => Format::Sarif,
        }
    }
}

/// Arguments of `privsim report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The stored result: `privsim run --format json` output, or a report folder's `result.json`.
    pub result: PathBuf,
    /// The format to print or write (ignored with `--report-dir`, which writes them all).
    #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
    pub format: ReportFormat,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE", conflicts_with = "report_dir")]
    pub output: Option<PathBuf>,
    /// Write every format into this folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Also exit 1 when the result has an invariant finding.
    #[arg(long)]
    pub fail_on_findings: bool,
}

/// Reads the result, renders, writes; exits like the `run` that made it.
pub fn run(args: &ReportArgs) -> Outcome {
    let file = match SourceFile::read(&args.result, args.result.display().to_string()) {
        Ok(file) => file,
        Err(error) => return report_error(error),
    };
    let result = match report::parse(&file) {
        Ok(result) => result,
        Err(error) => return report_error(error),
    };
    if let Some(folder) = &args.report_dir {
        if write_report_dir(folder, &result) != Outcome::Ok {
            return Outcome::BadInput;
        }
    } else {
        let text = match report::render(&result, args.format.into()) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("error: {error}");
                return Outcome::BadInput;
            }
        };
        if let Err(outcome) = crate::cli::emit(args.output.as_deref(), &text) {
            return outcome;
        }
    }
    crate::cli::verdict(&result, args.fail_on_findings)
}
