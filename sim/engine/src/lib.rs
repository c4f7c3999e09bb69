//! privsim: replay scripted multi-agent workflows from TOML scenarios against
//! Cedar policies, and check what each agent was allowed against what it needed.
//!
//! The pipeline, one module per stage: [`load`] (parse and resolve, the only
//! file reads) → `world` (entities over time, states) → `replay` (Cedar
//! evaluation) → [`accounting`] (held vs used, with `held` computing held
//! sets fast) → [`search`], [`suggest`], [`gate`], [`prove`] → [`result`]
//! (the result contract, in `privsim-model`), which the `privsim-reports`
//! crate renders. [`import`] turns Cedar's own test suites into scenarios;
//! [`output`] writes files safely; [`progress`] notes where a long run is; [`schema`] holds the JSON Schemas editors
//! read; [`scaffold`] writes `privsim init`'s starter folder.
//!
//! `world`, `replay` and `held` are public only with the `internals`
//! feature (like minijinja's `unstable_machinery`): the CLI needs none of
//! them ([`evaluate`] and [`run_paths`] compose them), and only
//! `privsim-testkit`, `benches/` and the engine's own tests reach inside.

pub mod accounting;
pub mod gate;
#[cfg(feature = "internals")]
pub mod held;
#[cfg(not(feature = "internals"))]
mod held;
pub mod import;
pub mod load;
pub mod output;
pub mod progress;
pub mod prove;
#[cfg(feature = "internals")]
pub mod replay;
#[cfg(not(feature = "internals"))]
mod replay;
pub mod scaffold;
pub mod schema;
pub mod search;
pub mod suggest;
#[cfg(feature = "internals")]
pub mod world;
#[cfg(not(feature = "internals"))]
mod world;

pub use privsim_model as model;
pub use privsim_model::{diag, result, time};

use std::path::Path;

pub use accounting::evaluate;
pub use diag::Error;
pub use load::{LoadOptions, Scenario};
pub use result::{RunResult, ScenarioResult};
pub use search::fuzz::{Fuzzed, fuzz, fuzz_onto};

/// Loads and replays every scenario under the given paths (files or folders).
pub fn run_paths(paths: &[impl AsRef<Path>], options: &LoadOptions) -> Result<RunResult, Error> {
    run_paths_with(paths, options, false)
}

/// [`run_paths`], and with `suggest` each scenario's right-sized policy
/// suggestion too ([`evaluate_and_suggest`]), as the reports show it. Fails
/// with the first scenario that cannot be loaded; [`run_all`] goes on.
pub fn run_paths_with(
    paths: &[impl AsRef<Path>],
    options: &LoadOptions,
    suggest: bool,
) -> Result<RunResult, Error> {
    let ran = run_all(paths, options, suggest);
    match ran.errors.into_iter().next() {
        Some(error) => Err(error),
        None => Ok(ran.result),
    }
}

/// What [`run_all`] did: every scenario that loaded, evaluated, and the
/// errors of those that did not (also listed in `result.load_errors`).
#[derive(Debug)]
#[non_exhaustive]
pub struct Ran {
    /// The results, with a `load_errors` entry per file that failed.
    pub result: RunResult,
    /// The errors, located, in the order met.
    pub errors: Vec<Error>,
}

/// Loads and evaluates every scenario under the given paths; a scenario that
/// cannot be loaded is reported and the others are still evaluated, so one
/// broken file never hides the verdict on the rest.
pub fn run_all(paths: &[impl AsRef<Path>], options: &LoadOptions, suggest: bool) -> Ran {
    run_all_proving(paths, options, suggest, prove::rules::Proving::Off)
}

/// [`run_all`], with each scenario's `[[never]]` rules proven as `proving`
/// says ([`prove::rules::prove_never_rules`]; no repro files are written).
pub fn run_all_proving(
    paths: &[impl AsRef<Path>],
    options: &LoadOptions,
    suggest: bool,
    proving: prove::rules::Proving<'_>,
) -> Ran {
    let mut results = Vec::new();
    let mut errors = Vec::new();
    let mut load_errors = Vec::new();
    let mut failed = |file: String, error: Error| {
        load_errors.push(result::LoadError {
            file,
            message: load::cedar_files::error_chain(&error),
        });
        errors.push(error);
    };
    for path in paths {
        let files = match load::discover(path.as_ref()) {
            Ok(files) => files,
            Err(error) => {
                failed(path.as_ref().display().to_string(), error);
                continue;
            }
        };
        let options = options.under(path.as_ref());
        for file in files {
            match load_and_evaluate(&file, &options, suggest, proving) {
                Ok(result) => results.push(result),
                Err(error) => failed(file.display().to_string(), error),
            }
        }
    }
    let mut result = RunResult::new(results);
    result.load_errors = load_errors;
    Ran { result, errors }
}

/// [`run_all_proving`] over scenario files already found, each with the path
/// it was found under (its run root, as [`LoadOptions::under`] takes it):
/// `privsim run --watch` runs again only the scenarios a change affects.
pub fn run_files_proving(
    files: &[(std::path::PathBuf, std::path::PathBuf)],
    options: &LoadOptions,
    suggest: bool,
    proving: prove::rules::Proving<'_>,
) -> Ran {
    let mut results = Vec::new();
    let mut errors = Vec::new();
    let mut load_errors = Vec::new();
    for (file, root) in files {
        match load_and_evaluate(file, &options.under(root), suggest, proving) {
            Ok(result) => results.push(result),
            Err(error) => {
                load_errors.push(result::LoadError {
                    file: file.display().to_string(),
                    message: load::cedar_files::error_chain(&error),
                });
                errors.push(error);
            }
        }
    }
    let mut result = RunResult::new(results);
    result.load_errors = load_errors;
    Ran { result, errors }
}

/// Loads one scenario and evaluates it, as [`run_all_proving`] does each.
fn load_and_evaluate(
    file: &Path,
    options: &LoadOptions,
    suggest: bool,
    proving: prove::rules::Proving<'_>,
) -> Result<ScenarioResult, Error> {
    progress::scenario(&file.display().to_string());
    let loaded = load::load(file, options)?;
    let mut result = if suggest {
        evaluate_and_suggest(&loaded)
    } else {
        evaluate(&loaded)
    };
    if let Err(error) = prove::rules::prove_never_rules(&loaded, &mut result, proving) {
        result
            .warnings
            .push(format!("the `[[never]]` rules were not proven: {error}"));
    }
    Ok(result)
}

/// [`evaluate`], with the scenario's right-sized policy suggestion
/// ([`suggest::suggest_from`], verified by replay) in `suggestion`.
pub fn evaluate_and_suggest(scenario: &Scenario) -> ScenarioResult {
    let mut result = evaluate(scenario);
    progress::phase(progress::Phase::Suggesting, 0);
    result.suggestion = Some(suggest::suggest_from(
        scenario,
        &result,
        suggest::Options::default(),
    ));
    result
}
