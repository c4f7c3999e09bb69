//! `privsim run`: replay scenarios, print a summary or the JSON result, and
//! with `--report-dir` write every report format; with `--watch`, again for
//! the affected scenarios whenever an input changes.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use privsim::LoadOptions;

use crate::cli::{Outcome, RunArgs, report_error};

/// Replays the scenarios and prints or writes the result.
pub fn run(args: &RunArgs) -> Outcome {
    if args.watch
        && let Err(outcome) = crate::watch::refuse(
            &args.paths,
            args.output.as_deref(),
            args.report_dir.as_deref(),
        )
    {
        return outcome;
    }
    let observation = match args.window.options() {
        Ok(observation) => observation,
        Err(message) => {
            eprintln!("error: {message}");
            return Outcome::BadInput;
        }
    };
    let options = LoadOptions {
        policies: args.policies.clone(),
        observation,
        ..LoadOptions::default()
    };
    let suggest = args.suggest || args.report_dir.is_some();
    // Every scenario that loads is evaluated and reported, whatever the
    // others do; each load error is printed, and the exit code is 2.
    let prover = match crate::cli::never_prover(&args.prove) {
        Ok(prover) => prover,
        Err(error) => return report_error(error),
    };
    let proving = crate::cli::proving(&prover);
    let warn_cache = || {
        if let Some(cache) = &prover.cache {
            crate::cli::warn_proof_cache(&cache.stats());
        }
    };
    if args.watch {
        let stop = Arc::new(AtomicBool::new(false));
        return crate::watch::watch(&args.paths, &options, false, stop, |jobs| {
            let ticker = crate::progress::Ticker::start("run");
            let ran = privsim::run_files_proving(jobs, &options, suggest, proving);
            drop(ticker);
            warn_cache();
            report(args, ran)
        });
    }
    let ticker = crate::progress::Ticker::start("run");
    let ran = privsim::run_all_proving(&args.paths, &options, suggest, proving);
    drop(ticker);
    warn_cache();
    report(args, ran)
}

/// Prints the load errors and the result (or writes it), and says what the
/// exit code is.
fn report(args: &RunArgs, ran: privsim::Ran) -> Outcome {
    let load_failed = !ran.errors.is_empty();
    for error in ran.errors {
        report_error(error);
    }
    let result = ran.result;
    if let Err(outcome) = crate::cli::write_result(
        &result,
        args.format,
        args.output.as_deref(),
        args.report_dir.as_deref(),
    ) {
        return outcome;
    }
    if load_failed {
        return Outcome::BadInput;
    }
    crate::cli::verdict(&result, args.fail_on_findings)
}
