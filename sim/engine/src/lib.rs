//! privsim: replay scripted multi-agent workflows from TOML scenarios against
//! Cedar policies, and check what each agent was allowed against what it needed.
//!
//! The pipeline, one module per stage: [`scenario`] (parse and resolve, the only
//! file IO) → [`world`] (entities over time) → [`replay`] (Cedar evaluation) →
//! [`accounting`] (held vs used, with [`held`] computing held sets fast) → [`result`] (the result model) → [`report`] (rendering). [`import`] turns
//! Cedar's own test suites into scenarios.
//! [`suggest`] writes right-sized policies from the accounting and verifies them
//! by replaying the scenario against them.

pub mod accounting;
pub mod gate;
pub mod held;
pub mod import;
pub mod load;
pub mod replay;
pub mod search;
pub mod suggest;
pub mod world;

pub use privsim_model as model;
pub use privsim_model::{diag, result, time};

use std::path::Path;

pub use accounting::{evaluate, evaluate_with_world};
pub use diag::Error;
pub use load::{LoadOptions, Scenario};
pub use result::{RunResult, ScenarioResult};
pub use search::fuzz::{Fuzzed, fuzz, fuzz_onto};

/// Loads and replays every scenario under the given paths (files or folders).
pub fn run_paths(paths: &[impl AsRef<Path>], options: &LoadOptions) -> Result<RunResult, Error> {
    run_paths_with(paths, options, false)
}

/// [`run_paths`], and with `suggest` each scenario's right-sized policy
/// suggestion too ([`evaluate_and_suggest`]), as the reports show it.
pub fn run_paths_with(
    paths: &[impl AsRef<Path>],
    options: &LoadOptions,
    suggest: bool,
) -> Result<RunResult, Error> {
    let mut results = Vec::new();
    for path in paths {
        for file in load::discover(path.as_ref())? {
            let loaded = load::load(&file, options)?;
            results.push(if suggest {
                evaluate_and_suggest(&loaded)
            } else {
                evaluate(&loaded)
            });
        }
    }
    Ok(RunResult::new(results))
}

/// [`evaluate`], with the scenario's right-sized policy suggestion
/// ([`suggest::suggest_from`], verified by replay) in `suggestion`.
pub fn evaluate_and_suggest(scenario: &Scenario) -> ScenarioResult {
    let mut result = evaluate(scenario);
    result.suggestion = Some(suggest::suggest_from(
        scenario,
        &result,
        suggest::Options::default(),
    ));
    result
}
