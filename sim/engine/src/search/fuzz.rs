//! `privsim fuzz` for one scenario: replay it, search it
//! ([`super::search`]), and turn each finding into a result entry with its
//! trace and a repro scenario ([`super::repro`]).

use crate::load::Scenario;
use privsim_model::result::ScenarioResult;

/// What `privsim fuzz` produces for one scenario: its replay result with the
/// search's findings (each with its trace and repro path) and summary added,
/// and the repro files to write (path beside the scenario, TOML text).
pub struct Fuzzed {
    /// The result ([`crate::accounting::evaluate`], plus the search's findings and summary).
    pub result: ScenarioResult,
    /// Repro scenarios, one per search finding.
    pub repros: Vec<(std::path::PathBuf, String)>,
    /// Cedar evaluations the search made.
    pub evaluations: u64,
}

/// Replays a scenario and searches it for escalations ([`super::search`]).
///
/// With more than one job, the replay is evaluated on a thread of its own
/// while the workers search (the two share nothing but the scenario, and
/// the scripted run of a world of thousands of entities takes about as
/// long as a search of 100,000 moves); its progress is not shown.
pub fn fuzz(
    scenario: &Scenario,
    options: &super::Options,
    progress: &mut dyn FnMut(super::Progress),
) -> Fuzzed {
    let machine = crate::world::state::Machine::new(scenario);
    let (result, report) = beside(
        options.jobs > 1,
        || crate::accounting::evaluate(scenario),
        || super::search_jobs(&machine, options, progress),
    );
    finish(scenario, &machine, result, report)
}

/// `first` and `second`'s results: with `together`, `first` on a thread of
/// its own (its progress notes left out) while `second` runs here;
/// otherwise one after the other.
fn beside<A: Send, B>(
    together: bool,
    first: impl FnOnce() -> A + Send,
    second: impl FnOnce() -> B,
) -> (A, B) {
    if !together {
        let a = first();
        return (a, second());
    }
    std::thread::scope(|scope| {
        let a = scope.spawn(|| crate::progress::quietly(first));
        let b = second();
        let a = a
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (a, b)
    })
}

/// [`fuzz`] onto a result the caller already evaluated ([`crate::accounting::evaluate`]).
pub fn fuzz_onto(
    scenario: &Scenario,
    result: ScenarioResult,
    options: &super::Options,
    progress: &mut dyn FnMut(super::Progress),
) -> Fuzzed {
    let machine = crate::world::state::Machine::new(scenario);
    let report = super::search_jobs(&machine, options, progress);
    finish(scenario, &machine, result, report)
}

/// [`fuzz`] as a campaign kept in a corpus file (`--corpus`,
/// [`super::corpus`]): continues the search the file holds (if any, and if
/// it was written for these inputs and options), and writes where the
/// search stands now back into it, interrupted or not. `restart` ignores
/// what the file holds. Returns the moves made before this run too.
pub fn fuzz_campaign(
    scenario: &Scenario,
    options: &super::Options,
    corpus: &std::path::Path,
    restart: bool,
    progress: &mut dyn FnMut(super::Progress),
) -> Result<(Fuzzed, u64), super::corpus::CorpusError> {
    let machine = crate::world::state::Machine::new(scenario);
    let header = super::corpus::Header::new(scenario, options).map_err(|source| {
        super::corpus::CorpusError::Io {
            path: scenario.file.display.clone(),
            source,
        }
    })?;
    let resume = if restart {
        None
    } else {
        super::corpus::load(corpus, &header, &machine)?
    };
    let before = resume
        .as_ref()
        .map_or(0, |points| points.iter().map(|p| p.moves).sum());
    let (result, (report, points)) = beside(
        options.jobs > 1,
        || crate::accounting::evaluate(scenario),
        || super::search_jobs_from(&machine, options, resume, progress),
    );
    super::corpus::save(corpus, &header, &points)?;
    Ok((finish(scenario, &machine, result, report), before))
}

/// The result and repros of a search's report.
fn finish(
    scenario: &Scenario,
    machine: &crate::world::state::Machine<'_>,
    mut result: ScenarioResult,
    report: super::Report,
) -> Fuzzed {
    let mut repros = Vec::new();
    for (number, found) in report.findings.iter().enumerate() {
        // The policies that allowed the witness request, in the state the
        // trace reached (not the initial state the finding is built from).
        let mut violation = found.violation.clone();
        if violation.determining.is_empty() {
            violation.determining = super::witness_policies(machine, &found.trace);
        }
        let mut finding = machine.finding(&violation, &machine.initial(), None);
        finding.trace = super::trace_steps(machine, &found.trace);
        if let Some(last) = finding.trace.last() {
            finding.time.clone_from(&last.time);
        }
        match super::repro::render(machine, found) {
            Ok(text) => {
                let path = super::repro::path_for(&scenario.file.path, number + 1);
                let display = super::repro::path_for(
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
    // The policies the workers' requests and the findings' rendering (here)
    // saw decide.
    let mut decided = report.decided;
    decided.extend(machine.decided());
    for usage in &mut result.policy_use {
        usage.search = decided.contains(&usage.id);
    }
    crate::replay::note_unexercised(&mut result);
    Fuzzed {
        result,
        repros,
        evaluations: report.evaluations,
    }
}
