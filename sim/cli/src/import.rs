//! `privsim import`: read Cedar test suites, then write them as scenarios
//! (`--out`) or replay them at once, with `run`'s output and exit codes.

use privsim::import::{self, ImportOptions, SuiteFormat};
use privsim_reports as report;

use crate::cli::{Format, ImportArgs, Outcome, SuiteFormatArg, report_error};

/// Imports the suites and writes or replays them.
pub fn run(args: &ImportArgs) -> Outcome {
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
    let suites = match import::import(&args.path, &options) {
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
    let text = match args.output_format {
        Format::Text => report::text::render(&result),
        Format::Json => report::json(&result),
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
