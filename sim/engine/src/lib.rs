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
pub mod prove;
pub mod replay;
pub mod search;
pub mod suggest;
pub mod world;

pub use privsim_model as model;
pub use privsim_model::{diag, result, time};

use std::path::Path;

pub use diag::Error;
pub use load::{LoadOptions, Scenario};
pub use result::{RunResult, ScenarioResult};

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

/// Replays a loaded scenario and accounts for every principal's privilege.
pub fn evaluate(scenario: &Scenario) -> ScenarioResult {
    evaluate_with_world(scenario).0
}

/// [`evaluate`], also returning the scenario as the replay lived it when its
/// world changes ([`replay::replay_with_state`]), for callers that ask Cedar
/// about that world afterwards.
pub fn evaluate_with_world(scenario: &Scenario) -> (ScenarioResult, Option<Scenario>) {
    let (mut result, realized) = replay::replay_with_state(scenario);
    accounting::account(realized.as_ref().unwrap_or(scenario), &mut result);
    (result, realized)
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

/// What `privsim fuzz` produces for one scenario: its replay result with the
/// search's findings (each with its trace and repro path) and summary added,
/// and the repro files to write (path beside the scenario, TOML text).
pub struct Fuzzed {
    /// The result ([`evaluate`], plus the search's findings and summary).
    pub result: ScenarioResult,
    /// Repro scenarios, one per search finding.
    pub repros: Vec<(std::path::PathBuf, String)>,
    /// Cedar evaluations the search made.
    pub evaluations: u64,
}

/// Replays a scenario and searches it for escalations ([`search::search`]).
pub fn fuzz(
    scenario: &Scenario,
    options: &search::Options,
    progress: &mut dyn FnMut(search::Progress),
) -> Fuzzed {
    fuzz_onto(scenario, evaluate(scenario), options, progress)
}

/// [`fuzz`] onto a result the caller already [`evaluate`]d.
pub fn fuzz_onto(
    scenario: &Scenario,
    mut result: ScenarioResult,
    options: &search::Options,
    progress: &mut dyn FnMut(search::Progress),
) -> Fuzzed {
    let machine = world::state::Machine::new(scenario);
    let report = search::search(&machine, options, progress);
    let mut repros = Vec::new();
    for (number, found) in report.findings.iter().enumerate() {
        // The policies that allowed the witness request, in the state the
        // trace reached (not the initial state the finding is built from).
        let mut violation = found.violation.clone();
        if violation.determining.is_empty() {
            violation.determining = search::witness_policies(&machine, &found.trace);
        }
        let mut finding = machine.finding(&violation, &machine.initial(), None);
        finding.trace = search::trace_steps(&machine, &found.trace);
        if let Some(last) = finding.trace.last() {
            finding.time.clone_from(&last.time);
        }
        match search::repro::render(&machine, found) {
            Ok(text) => {
                let path = search::repro::path_for(&scenario.file.path, number + 1);
                let display = search::repro::path_for(
                    std::path::Path::new(&scenario.file.display),
                    number + 1,
                );
                finding.repro = Some(display.display().to_string());
                repros.push((path, text));
            }
            Err(message) => result.warnings.push(format!(
                "no repro written for finding {}: {message}",
                number + 1
            )),
        }
        result.findings.push(finding);
    }
    result.summary.findings = result.findings.len();
    result.search = Some(report.summary);
    Fuzzed {
        result,
        repros,
        evaluations: report.evaluations,
    }
}
