//! The CI gate (`privsim check`): every scenario evaluated with baseline and
//! candidate policies, the differences between the two sides, and the
//! configured rules deciding which differences fail the build.
//!
//! For each scenario both sides are loaded (a `git:` side reads the policies,
//! schema, entities and template links as they are at its revision; both
//! sides replay the candidate's scenario file, see `revision.rs`),
//! evaluated like `privsim run` ([`crate::accounting::evaluate`]) and, unless the
//! configuration turns it off, searched like `privsim fuzz`
//! ([`crate::search::fuzz`], no repro files). The comparison works on the two
//! [`ScenarioResult`]s: steps whose decision changed, held pairs gained or
//! lost per principal (each with the policy that grants it, asked of Cedar
//! with the principal's session context at the moment it was first held),
//! metric deltas, the candidate's failed expectations, and invariant findings
//! new in the candidate. [`config`] decides what fails; the `privsim-reports` crate prints it.
//!
//! The baseline (or candidate) can be a git revision: [`git`] writes the
//! policy files as they are there into a temporary folder the loader reads,
//! and `revision.rs` reads the schema, entities and links there.

mod changed_lines;
pub mod config;
pub mod git;
pub mod policy_proofs;
pub mod proofs;
mod revision;
pub use privsim_model::check as model;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cedar_policy::{Authorizer, EntityUid};

use crate::load::{self as scenario, LoadOptions, Scenario};
use crate::search;
use crate::world::{Timeline, timeline};
use privsim_model::check::{ChangeKind, ChangeStatus, Edit, Effect, ExceptionState, RuleStatus};
use privsim_model::diag::{Error, SourceFile};
use privsim_model::result::{
    Decision, Finding, FindingKind, HeldPair, Metrics, PolicyKind, ScenarioResult, StepResult,
};
use privsim_model::time::Instant;

use config::{Config, Exception};
use model::{
    Change, CheckResult, CheckSummary, ConfigView, ExceptionStatus, PolicyRef, PrincipalDelta,
    ScenarioCheck, SearchPair, SpecView,
};

/// Where one side's policies come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// Each scenario's own `policies`.
    Own,
    /// A `.cedar` file or a folder of them (like `privsim run --policies`).
    Path(PathBuf),
    /// A git revision: each scenario's own policy files as they are there, or
    /// the given file or folder (relative to the repository's top folder, or
    /// to the current folder when it starts with `./` or `../`).
    Git {
        /// The revision, e.g. `origin/main`.
        revision: String,
        /// The file or folder, when one is given.
        path: Option<String>,
    },
}

impl Spec {
    /// Parses `git:REV`, `git:REV:PATH`, or a path.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let Some(rest) = text.strip_prefix("git:") else {
            if text.is_empty() {
                return Err(Error::BadArgument("a policy spec is empty".to_string()));
            }
            return Ok(Self::Path(PathBuf::from(text)));
        };
        let (revision, path) = match rest.split_once(':') {
            Some((revision, path)) => (revision, Some(path)),
            None => (rest, None),
        };
        if revision.is_empty() {
            return Err(Error::BadArgument(format!(
                "`{text}` names no revision; write `git:REV` or `git:REV:PATH`, e.g. `git:origin/main`"
            )));
        }
        if path.is_some_and(str::is_empty) {
            return Err(Error::BadArgument(format!(
                "`{text}` names no path after the revision; write `git:{revision}` for each scenario's own policy files"
            )));
        }
        Ok(Self::Git {
            revision: revision.to_string(),
            path: path.map(str::to_string),
        })
    }
}

/// What to compare, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The baseline, usually the target branch.
    pub baseline: Spec,
    /// The baseline as given, for reports.
    pub baseline_text: String,
    /// The candidate, usually the working tree ([`Spec::Own`]).
    pub candidate: Spec,
    /// The candidate as given (`scenario` for each scenario's own policies).
    pub candidate_text: String,
    /// The gate's rules.
    pub config: Config,
    /// Today, `YYYY-MM-DD`, for exception expiry.
    pub today: String,
    /// Whether and how the gate proves no-new-access ([`proofs`]).
    pub prove: proofs::ProveOptions,
    /// The whole check's time budget (`--time-budget`), as written and as a
    /// duration: scenarios not reached in time are not checked, the search
    /// gets the time left, and the result says so.
    pub time_budget: Option<(String, std::time::Duration)>,
    /// Called before each scenario with its 1-based number, the count and
    /// its file (progress for a terminal).
    pub progress: Option<fn(usize, usize, &str)>,
}

/// The gate configuration as it is at a git revision: the file at `path`
/// (relative to the current folder) in that revision's tree, parsed and
/// shown as `REV:path`; `None` when the revision has no such file. A pull
/// request must not be able to loosen the gate it is judged by, so with a
/// `git:` baseline the baseline's configuration applies.
pub fn config_at(revision: &str, path: &Path) -> Result<Option<(config::Config, String)>, Error> {
    let mut repos = git::Repos::default();
    let repo = repos.at(Path::new("."))?;
    let commit = repo.commit(revision)?;
    let Some(relative) = repo.relative(path) else {
        return Err(Error::Outside(format!(
            "`{}` is outside the git repository, so its version at `{revision}` cannot be read",
            path.display()
        )));
    };
    let Some(text) = repo.read_text_at(revision, &commit, &relative)? else {
        return Ok(None);
    };
    let file = SourceFile::from_text(
        PathBuf::from(format!("{revision}:{relative}")),
        format!("{revision}:{relative}"),
        text.clone(),
    );
    Ok(Some((config::parse(&file)?, text)))
}

/// Compares every scenario under `paths` (files or folders; repro files in
/// folders are skipped) and applies the gate's rules. Fails with the first
/// scenario that cannot be loaded; [`check_all`] goes on.
pub fn check(paths: &[PathBuf], options: &Options) -> Result<CheckResult, Error> {
    let checked = check_all(paths, options)?;
    match checked.errors.into_iter().next() {
        Some(error) => Err(error),
        None => Ok(checked.result),
    }
}

/// What [`check_all`] did: the gate's result over every scenario that
/// loaded on both sides, and the errors of those that did not (also listed
/// in `result.load_errors`, and the gate failed).
#[derive(Debug)]
#[non_exhaustive]
pub struct Checked {
    /// The result.
    pub result: CheckResult,
    /// The load errors, located, in the order met.
    pub errors: Vec<Error>,
    /// What the proof cache did, when there was one (not part of the
    /// result: it differs between a cold and a warm run).
    pub proof_cache: Option<crate::prove::CacheStats>,
}

/// [`check`], going on past scenarios that cannot be loaded: each one's
/// error is kept, the others are compared, and the gate fails, so one broken
/// file never hides the verdict on the rest. Errors that concern the whole
/// run (the configuration, the solver) still stop it.
pub fn check_all(paths: &[PathBuf], options: &Options) -> Result<Checked, Error> {
    let mut errors = Vec::new();
    let mut load_errors = Vec::new();
    let mut failed = |file: String, error: Error| {
        load_errors.push(privsim_model::result::LoadError {
            file,
            message: crate::load::cedar_files::error_chain(&error),
        });
        errors.push(error);
    };
    let mut files = Vec::new();
    for path in paths {
        match scenario::discover(path) {
            Ok(found) => files.extend(
                found
                    .into_iter()
                    .filter(|f| !path.is_dir() || !crate::search::repro::is_repro(f))
                    .map(|f| (f, path.clone())),
            ),
            Err(error) => failed(path.display().to_string(), error),
        }
    }
    let search = search_options(&options.config)?;
    let started = std::time::Instant::now();
    let (prover, mut proofs_view) = proofs::prover(&options.prove)?;
    // No proof starts once the time budget is spent: what is left is
    // unknown, never proven.
    let prover = prover.map(|prover| {
        prover.with_deadline(
            options
                .time_budget
                .as_ref()
                .and_then(|(_, budget)| started.checked_add(*budget)),
        )
    });
    let proof_cache = options
        .prove
        .cache
        .as_ref()
        .filter(|_| prover.is_some())
        .map(crate::prove::ProofCache::new);
    let mut repos = git::Repos::default();
    let mut scenarios = Vec::new();
    let mut coverage = Coverage::default();
    let mut not_checked = Vec::new();
    let mut cut_short = Vec::new();
    for (number, (file, root)) in files.iter().enumerate() {
        crate::progress::scenario(&file.display().to_string());
        if let Some(progress) = options.progress {
            progress(number + 1, files.len(), &file.display().to_string());
        }
        let left = options
            .time_budget
            .as_ref()
            .map(|(_, budget)| budget.saturating_sub(started.elapsed()));
        if left.is_some_and(|left| left.is_zero()) {
            not_checked.push(file.display().to_string());
            continue;
        }
        // The search on each side may take at most the time left.
        let search = search.clone().map(|mut search| {
            if let Some(left) = left {
                search.time = Some(search.time.map_or(left, |t| t.min(left)));
            }
            search
        });
        let sides =
            load_side(file, root, &options.baseline, &mut repos, "baseline").and_then(|baseline| {
                load_side(file, root, &options.candidate, &mut repos, "candidate")
                    .map(|candidate| (baseline, candidate))
            });
        let (baseline, candidate) = match sides {
            Ok(sides) => sides,
            Err(error) => {
                failed(file.display().to_string(), error);
                continue;
            }
        };
        let (mut scenario, exercised) = compare(
            &baseline,
            &candidate,
            search.as_ref(),
            &options.config.budget,
        );
        coverage.scenario(
            scenarios.len(),
            &scenario.file,
            &baseline.scenario,
            &candidate.scenario,
            &exercised,
        );
        if let (Some(prover), Some(view)) = (prover.as_ref(), proofs_view.as_mut()) {
            let (proven, changes) = proofs::prove_scenario(
                prover,
                &baseline.scenario,
                &candidate.scenario,
                view,
                &options.prove,
                proof_cache.as_ref(),
            )?;
            scenario.proofs = Some(proven);
            scenario.changes.extend(changes);
        }
        if options.prove.mode != proofs::Mode::Off {
            policy_proofs::prove_scenario(
                prover.as_ref(),
                &baseline.scenario,
                &candidate.scenario,
                &exercised.never_found,
                &mut scenario,
                proof_cache.as_ref(),
            )?;
        }
        if options
            .time_budget
            .as_ref()
            .is_some_and(|(_, budget)| started.elapsed() >= *budget)
        {
            cut_short.push(scenario.file.clone());
        }
        scenarios.push(scenario);
    }
    let covered = coverage.finish(&mut scenarios);
    let commit = |spec: &Spec| match spec {
        Spec::Git { revision, .. } => {
            let commits = repos.commits_of(revision);
            match commits.as_slice() {
                [one] => Some(one.clone()),
                _ => None,
            }
        }
        _ => None,
    };
    let baseline = SpecView {
        spec: options.baseline_text.clone(),
        commit: commit(&options.baseline),
    };
    let candidate = SpecView {
        spec: options.candidate_text.clone(),
        commit: commit(&options.candidate),
    };
    let mut result = decide(scenarios, baseline, candidate, options);
    result.summary.unexercised_changes =
        covered.iter().filter(|c| c.exercised_by.is_empty()).count();
    result.coverage = covered;
    if let Some((budget, _)) = &options.time_budget
        && (!not_checked.is_empty() || !cut_short.is_empty())
    {
        let fails = options.config.fail_on.time_budget;
        let mut message = format!("the time budget of {budget} was exhausted");
        if !not_checked.is_empty() {
            message.push_str(&format!(
                "; {} scenario(s) not checked at all: {}",
                not_checked.len(),
                not_checked.join(", ")
            ));
        }
        if !cut_short.is_empty() {
            message.push_str(&format!(
                "; {} scenario(s) checked with the escalation search or proofs cut short: {}",
                cut_short.len(),
                cut_short.join(", ")
            ));
        }
        message.push_str(if fails {
            "; the gate fails until the check fits its budget (raise `--time-budget`, or `[fail_on] time_budget = false`)"
        } else {
            "; `[fail_on] time_budget = false` lets the gate pass on what was checked"
        });
        if fails {
            result.passed = false;
        }
        result.budget_exhausted = Some(model::BudgetExhausted {
            budget: budget.clone(),
            status: if fails {
                RuleStatus::Fail
            } else {
                RuleStatus::Allowed
            },
            not_checked,
            cut_short,
            message,
        });
    }
    result.proofs = proofs_view;
    if !load_errors.is_empty() {
        result.passed = false;
        result.load_errors = load_errors;
    }
    Ok(Checked {
        result,
        errors,
        proof_cache: proof_cache.map(|cache| cache.stats()),
    })
}

fn search_options(config: &Config) -> Result<Option<search::Options>, Error> {
    if !config.search.enabled {
        return Ok(None);
    }
    let tick = match &config.search.tick {
        Some(text) => Some(privsim_model::time::parse_duration(text).map_err(Error::BadArgument)?),
        None => None,
    };
    Ok(Some(search::Options {
        strategy: search::Strategy::from_model(config.search.strategy),
        seed: config.search.seed,
        max_steps: config.search.max_steps,
        time: None,
        depth: config.search.depth,
        tick,
        minimize: true,
        ..search::Options::default()
    }))
}

/// A principal's metrics and held pairs, by (action, resource).
type Account = (Metrics, BTreeMap<(String, String), HeldPair>);

/// One side of a scenario, loaded (its policy files are read into memory, so
/// a git baseline's temporary folder can go once it is loaded).
struct Side {
    scenario: Scenario,
    notes: Vec<String>,
}

fn load_with(
    source: SourceFile,
    options: &LoadOptions,
    written: Option<&git::Materialized>,
) -> Result<Scenario, Error> {
    let mut loaded = scenario::load_source(source, options)?;
    if let Some(written) = written {
        show_git_paths(&mut loaded, written);
    }
    Ok(loaded)
}

fn show_git_paths(loaded: &mut Scenario, written: &git::Materialized) {
    for policy_file in &mut loaded.policies.files {
        if let Some(display) = policy_file
            .path
            .strip_prefix(written.folder.path())
            .ok()
            .and_then(|relative| written.displays.get(relative))
        {
            policy_file.display.clone_from(display);
        }
    }
}

fn load_side(
    file: &Path,
    root: &Path,
    spec: &Spec,
    repos: &mut git::Repos,
    side: &str,
) -> Result<Side, Error> {
    let mut notes = Vec::new();
    let (options, written) = match spec {
        Spec::Own => (LoadOptions::default(), None),
        Spec::Path(path) => (
            LoadOptions {
                policies: Some(path.clone()),
                ..LoadOptions::default()
            },
            None,
        ),
        Spec::Git { revision, path } => {
            let source = SourceFile::read(file, file.display().to_string())?;
            let raw = scenario::parse_toml(&source)?;
            let folder = file.parent().unwrap_or(Path::new(""));
            let materialized = match path {
                Some(path) => {
                    let repo = repos.at(Path::new("."))?;
                    let commit = repo.commit(revision)?;
                    let written = Path::new(path);
                    let full = if path.starts_with("./")
                        || path.starts_with("../")
                        || path == "."
                        || path == ".."
                        || written.is_absolute()
                    {
                        written.to_path_buf()
                    } else {
                        repo.root.join(written)
                    };
                    let Some(relative) = repo.relative(&full).filter(|r| !r.is_empty()) else {
                        return Err(Error::Outside(format!(
                            "`git:{revision}:{path}`: the path leaves the repository at `{}`",
                            repo.root.display()
                        )));
                    };
                    let materialized =
                        repo.materialize(revision, &commit, std::slice::from_ref(&relative))?;
                    if !materialized.notes.is_empty() {
                        return Err(Error::NotFound(format!(
                            "`{relative}` does not exist at `{revision}` (or holds no `.cedar` files)"
                        )));
                    }
                    materialized
                }
                None => {
                    let repo = repos.at(folder)?;
                    let commit = repo.commit(revision)?;
                    let mut entries = Vec::new();
                    for written in raw.scenario.get_ref().policies.get_ref() {
                        // The loader's rule, checked before git is asked:
                        // a scenario names files in its own folder tree only.
                        let inside = Path::new(written.get_ref());
                        if inside.is_absolute() || scenario::normalize(inside).starts_with("..") {
                            return Err(source
                                .error(
                                    written.span(),
                                    format!(
                                        "path `{}` leaves the scenario's folder",
                                        written.get_ref()
                                    ),
                                )
                                .into());
                        }
                        let Some(relative) = repo
                            .relative(&folder.join(written.get_ref()))
                            .filter(|r| !r.is_empty())
                        else {
                            return Err(Error::Outside(format!(
                                "{}: the policy path `{}` leaves the repository at `{}`",
                                source.display,
                                written.get_ref(),
                                repo.root.display()
                            )));
                        };
                        entries.push(relative);
                    }
                    repo.materialize(revision, &commit, &entries)?
                }
            };
            // The schema, entities and links at the revision too: the whole
            // change is compared, not only the policies.
            let named = revision::files_at(file, &source, &raw, repos.at(folder)?, revision)?;
            notes.extend(
                materialized
                    .notes
                    .iter()
                    .chain(&named.notes)
                    .map(|note| format!("{side}: {note}")),
            );
            (
                LoadOptions {
                    policies: Some(materialized.folder.path().to_path_buf()),
                    policy_displays: materialized.displays.clone(),
                    schema: named.schema,
                    entities: named.entities,
                    links: named.links,
                    root: None,
                    observation: scenario::ObservationOptions::default(),
                },
                Some(materialized),
            )
        }
    };
    let source = SourceFile::read(file, file.display().to_string())?;
    Ok(Side {
        scenario: load_with(source, &options.under(root), written.as_ref())?,
        notes,
    })
}

/// The differences for one scenario, before the rules decide their status.
fn compare(
    baseline: &Side,
    candidate: &Side,
    search: Option<&search::Options>,
    budget: &model::Budget,
) -> (ScenarioCheck, Exercised) {
    // One replay per side: its result (searched too, unless the search is
    // off) and the world as it lived it, which the granting questions ask.
    let side = |side: &Side| {
        let (result, world) = crate::accounting::evaluate_with_world(&side.scenario);
        let result = match search {
            Some(options) => searched(side, result, options),
            None => result,
        };
        (result, world)
    };
    let (base, base_lived) = side(baseline);
    let (cand, cand_lived) = side(candidate);
    let base_world = timeline::of(&baseline.scenario, base_lived.as_ref());
    let cand_world = timeline::of(&candidate.scenario, cand_lived.as_ref());
    let file = cand.file.clone();
    let mut changes = Vec::new();
    let mut notes: Vec<String> = baseline
        .notes
        .iter()
        .chain(&candidate.notes)
        .cloned()
        .collect();
    if base.steps.len() != cand.steps.len() {
        notes.push(format!(
            "the baseline replayed {} steps and the candidate {}",
            base.steps.len(),
            cand.steps.len()
        ));
    }

    // Steps whose decision changed.
    let mut newly_allowed: BTreeMap<(String, String, String), Vec<&StepResult>> = BTreeMap::new();
    for (before, after) in base.steps.iter().zip(&cand.steps) {
        let was = before.decision == Decision::Allow;
        let is = after.decision == Decision::Allow;
        if was && !is {
            let expects_deny = after
                .expectation
                .as_ref()
                .and_then(|e| e.decision)
                .is_some_and(|d| d != Decision::Allow);
            let mut change = step_change(
                if expects_deny {
                    ChangeKind::Narrowed
                } else {
                    ChangeKind::BrokenWorkflow
                },
                after,
                &file,
                &cand,
            );
            if change.policies.is_empty() {
                // Denied by default: show what allowed it before.
                change.policies = refs(&base, before.determining_policies.iter().cloned());
            }
            change.baseline = Some(before.decision.to_string());
            change.candidate = Some(after.decision.to_string());
            change.message = format!(
                "step {}{} ({}{} {} {}) was allowed{} and is now {}{}{}",
                after.index,
                after
                    .name
                    .as_ref()
                    .map(|n| format!(" \"{n}\""))
                    .unwrap_or_default(),
                after
                    .session
                    .as_ref()
                    .map(|s| format!("session {s}: "))
                    .unwrap_or_default(),
                after.principal,
                after.action,
                after.resource,
                policy_list(" by ", &before.determining_policies),
                if after.decision == Decision::Error {
                    "an error"
                } else {
                    "denied"
                },
                policy_list(" by ", &after.determining_policies),
                if expects_deny {
                    ", as the scenario expects"
                } else {
                    ""
                },
            );
            changes.push(change);
        } else if !was && is {
            newly_allowed
                .entry((
                    after.principal.clone(),
                    after.action.clone(),
                    after.resource.clone(),
                ))
                .or_default()
                .push(after);
        }
    }

    // Held pairs gained and lost, and metric deltas, per principal.
    let accounts = |result: &ScenarioResult| -> BTreeMap<String, Account> {
        result
            .principals
            .iter()
            .map(|p| {
                let held = p
                    .held
                    .iter()
                    .map(|h| ((h.action.clone(), h.resource.clone()), h.clone()))
                    .collect();
                (p.principal.clone(), (p.metrics.clone(), held))
            })
            .collect()
    };
    let before = accounts(&base);
    let after = accounts(&cand);
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let empty = (
        Metrics {
            held: 0,
            used: 0,
            unused: 0,
            utilization: 1.0,
            weighted_gap: 0,
        },
        BTreeMap::new(),
    );
    let mut principals = Vec::new();
    for name in names {
        let (base_metrics, base_held) = before.get(name).unwrap_or(&empty);
        let (cand_metrics, cand_held) = after.get(name).unwrap_or(&empty);
        let mut new_pairs = 0;
        for ((action, resource), held) in cand_held {
            if base_held.contains_key(&(action.clone(), resource.clone())) {
                continue;
            }
            new_pairs += 1;
            let key = (name.clone(), action.clone(), resource.clone());
            let steps = newly_allowed.remove(&key).unwrap_or_default();
            changes.push(new_access(
                name,
                action,
                resource,
                Some(held),
                &steps,
                cand_world,
                &cand,
                &file,
            ));
        }
        // Pairs held on both sides, for more (or less) simulated time.
        for ((action, resource), held) in cand_held {
            if let Some(before) = base_held.get(&(action.clone(), resource.clone()))
                && before.held_ms != held.held_ms
            {
                let mut change = held_for(
                    name, before, held, cand_world, &cand, base_world, &base, &file,
                );
                // Steps newly allowed on the pair belong to this change.
                let key = (name.clone(), action.clone(), resource.clone());
                if let Some(steps) = newly_allowed.remove(&key) {
                    note_steps(&mut change, &steps);
                }
                changes.push(change);
            }
        }
        let mut removed_pairs = 0;
        for ((action, resource), held) in base_held {
            if cand_held.contains_key(&(action.clone(), resource.clone())) {
                continue;
            }
            removed_pairs += 1;
            let policies = granting(base_world, &base, name, action, resource, held.first_held);
            changes.push(Change {
                kind: ChangeKind::Narrowed,
                status: ChangeStatus::Info,
                principal: name.clone(),
                action: Some(action.clone()),
                resource: Some(resource.clone()),
                step: None,
                steps: Vec::new(),
                expected: false,
                time: Some(held.last_held),
                message: format!(
                    "{name} no longer holds {action} on {resource}{}",
                    policy_list(" (the baseline granted it by ", &ids(&policies))
                        + if policies.is_empty() { "" } else { ")" }
                ),
                policies,
                baseline: Some("held".to_string()),
                candidate: Some("not held".to_string()),
                location: Some(principal_location(&cand, &file, name)),
                exception: None,
                finding: None,
            });
        }
        let gap_change = cand_metrics.weighted_gap as i64 - base_metrics.weighted_gap as i64;
        let utilization_change =
            ((cand_metrics.utilization - base_metrics.utilization) * 10_000.0).round() / 10_000.0;
        principals.push(PrincipalDelta {
            principal: name.clone(),
            baseline: base_metrics.clone(),
            candidate: cand_metrics.clone(),
            new_pairs,
            removed_pairs,
            utilization_change,
            weighted_gap_change: gap_change,
        });
    }
    // Steps newly allowed on a pair the principal already held.
    for ((principal, action, resource), steps) in std::mem::take(&mut newly_allowed) {
        changes.push(new_access(
            &principal, &action, &resource, None, &steps, cand_world, &cand, &file,
        ));
    }

    // The candidate's failed expectations.
    for step in &cand.steps {
        let Some(expectation) = step.expectation.as_ref().filter(|e| !e.passed) else {
            continue;
        };
        let baseline_failed = base
            .steps
            .get(step.index.wrapping_sub(1))
            .and_then(|s| s.expectation.as_ref())
            .is_some_and(|e| !e.passed);
        let mut change = step_change(ChangeKind::ExpectationFailed, step, &file, &cand);
        change.baseline = Some(if baseline_failed { "failed" } else { "passed" }.to_string());
        change.candidate = Some("failed".to_string());
        change.message = format!(
            "step {}{} ({} {} {}): {}{}",
            step.index,
            step.name
                .as_ref()
                .map(|n| format!(" \"{n}\""))
                .unwrap_or_default(),
            step.principal,
            step.action,
            step.resource,
            expectation.failures.join("; "),
            if baseline_failed {
                " (it failed with the baseline too)"
            } else {
                ""
            }
        );
        changes.push(change);
    }
    for access in cand.access.iter().filter(|a| !a.passed) {
        let baseline_failed = base
            .access
            .iter()
            .find(|a| a.index == access.index)
            .is_some_and(|a| !a.passed);
        let list = |items: &[String]| items.join(", ");
        changes.push(Change {
            kind: ChangeKind::ExpectationFailed,
            status: ChangeStatus::Info,
            principal: access.principal.clone(),
            action: Some(access.action.clone()),
            resource: None,
            step: None,
            steps: Vec::new(),
            expected: false,
            time: Some(access.time),
            policies: Vec::new(),
            baseline: Some(if baseline_failed { "failed" } else { "passed" }.to_string()),
            candidate: Some("failed".to_string()),
            location: Some(format!("{file}:{}", access.line)),
            message: format!(
                "access assertion #{} ({} {} at {}): missing [{}], unexpected [{}]{}",
                access.index,
                access.principal,
                access.action,
                access.time,
                list(&access.missing),
                list(&access.unexpected),
                if baseline_failed {
                    " (it failed with the baseline too)"
                } else {
                    ""
                }
            ),
            exception: None,
            finding: None,
        });
    }

    // Invariant findings new in the candidate, and those it no longer has.
    let base_keys: BTreeSet<_> = base.findings.iter().map(finding_key).collect();
    let cand_keys: BTreeSet<_> = cand.findings.iter().map(finding_key).collect();
    let mut seen = BTreeSet::new();
    for finding in &cand.findings {
        let key = finding_key(finding);
        if base_keys.contains(&key) || !seen.insert(key) {
            continue;
        }
        let mut change = finding_change(ChangeKind::NewEscalation, finding, &cand, &file);
        if change.policies.is_empty() {
            // An expiry finding of the accounting: ask who allows it then.
            change.policies = granting(
                cand_world,
                &cand,
                &finding.principal,
                &finding.action,
                &finding.resource,
                finding.time,
            );
            if let Some(location) = change.policies.iter().find_map(|p| p.location.clone()) {
                change.location = Some(location);
            }
        }
        changes.push(change);
    }
    let mut seen = BTreeSet::new();
    for finding in &base.findings {
        let key = finding_key(finding);
        if cand_keys.contains(&key) || !seen.insert(key) {
            continue;
        }
        let mut change = finding_change(ChangeKind::FixedEscalation, finding, &base, &file);
        change.location = Some(match (&finding.rule, finding.step) {
            (Some(rule), _) => rule.clone(),
            (None, Some(step)) => step_location(&cand, &file, step),
            (None, None) => principal_location(&cand, &file, &finding.principal),
        });
        change.message = format!("no longer found: {}", finding.message);
        changes.push(change);
    }

    changed_lines::point_at_changed_lines(
        &mut changes,
        &baseline.scenario.policies,
        &candidate.scenario.policies,
    );
    budgets(&mut changes, &principals, budget, &cand, &file);
    let never_found = |result: &ScenarioResult| {
        result
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Never)
            .cloned()
            .collect()
    };
    let exercised = Exercised {
        baseline: exercised_ids(&base),
        candidate: exercised_ids(&cand),
        never_found: [never_found(&base), never_found(&cand)],
    };

    let check = ScenarioCheck {
        name: cand.name.clone(),
        file,
        start: cand.start,
        passed: true,
        baseline_policy_files: base.policy_files.clone(),
        candidate_policy_files: cand.policy_files.clone(),
        notes,
        changes,
        principals,
        search: match (base.search, cand.search) {
            (Some(baseline), Some(candidate)) => Some(SearchPair {
                baseline,
                candidate,
            }),
            _ => None,
        },
        proofs: None,
        never_rules: Vec::new(),
        hygiene: Vec::new(),
    };
    (check, exercised)
}

/// The policies that decided a request of one side of a scenario: a step,
/// a request of the held sets, or a move of the search.
struct Exercised {
    baseline: BTreeSet<String>,
    candidate: BTreeSet<String>,
    /// The `never` findings of the replay and the search, baseline and
    /// candidate: the never rules' proofs ([`policy_proofs`]) skip the
    /// rules they break.
    never_found: [Vec<Finding>; 2],
}

fn exercised_ids(result: &ScenarioResult) -> BTreeSet<String> {
    result
        .policy_use
        .iter()
        .filter(|u| u.effect != PolicyKind::Template && !result.unexercised.contains(&u.id))
        .map(|u| u.id.clone())
        .collect()
}

/// What one policy is, for telling whether a change touched it: its effect,
/// scope and conditions (Cedar's JSON form, without annotations, so that an
/// `@id` or a comment alone is no change); for a template link, its
/// template's and its slot values.
fn policy_content(set: &cedar_policy::PolicySet, policy: &cedar_policy::Policy) -> String {
    if let Some(template) = policy.template_id() {
        let body = set
            .template(template)
            .map(|t| {
                t.to_json().map_or_else(
                    |_| t.to_string(),
                    |mut json| {
                        if let Some(object) = json.as_object_mut() {
                            object.remove("annotations");
                        }
                        json.to_string()
                    },
                )
            })
            .unwrap_or_default();
        let links: BTreeMap<String, String> = policy
            .template_links()
            .unwrap_or_default()
            .into_iter()
            .map(|(slot, uid)| (slot.to_string(), uid.to_string()))
            .collect();
        return format!("{body}|{links:?}");
    }
    match policy.to_json() {
        Ok(mut json) => {
            if let Some(object) = json.as_object_mut() {
                object.remove("annotations");
            }
            json.to_string()
        }
        Err(_) => policy.to_string(),
    }
}

/// A policy the change added, changed or removed, and the scenarios whose
/// requests it decided (for a removed one, with the baseline).
struct Touched {
    coverage: model::PolicyCoverage,
    /// The first scenario (index) that has it, where its change is listed.
    first: usize,
}

/// Per-policy coverage of the change over every scenario of the check.
#[derive(Default)]
struct Coverage {
    touched: BTreeMap<(String, String, String), Touched>,
}

impl Coverage {
    /// Notes the policies one scenario's change touches, and whether its
    /// requests exercised them.
    fn scenario(
        &mut self,
        index: usize,
        file: &str,
        baseline: &Scenario,
        candidate: &Scenario,
        exercised: &Exercised,
    ) {
        let contents = |scenario: &Scenario| -> BTreeMap<String, (String, bool, Option<String>)> {
            scenario
                .policies
                .set
                .policies()
                .map(|p| {
                    (
                        p.id().to_string(),
                        (
                            policy_content(&scenario.policies.set, p),
                            p.effect() == cedar_policy::Effect::Permit,
                            scenario
                                .policies
                                .location(p.id().as_ref())
                                .map(|(file, line)| format!("{file}:{line}")),
                        ),
                    )
                })
                .collect()
        };
        let before = contents(baseline);
        let after = contents(candidate);
        let before_bodies: BTreeSet<&String> = before.values().map(|(body, ..)| body).collect();
        let after_bodies: BTreeSet<&String> = after.values().map(|(body, ..)| body).collect();
        let mut note = |change: Edit,
                        id: &String,
                        (body, permit, location): &(String, bool, Option<String>),
                        used: bool| {
            let key = (
                change.to_string(),
                location.clone().unwrap_or_else(|| id.clone()),
                body.clone(),
            );
            let touched = self.touched.entry(key).or_insert_with(|| Touched {
                coverage: model::PolicyCoverage {
                    id: id.clone(),
                    location: location.clone(),
                    change,
                    effect: if *permit {
                        Effect::Permit
                    } else {
                        Effect::Forbid
                    },
                    exercised_by: Vec::new(),
                },
                first: index,
            });
            if used && !touched.coverage.exercised_by.iter().any(|f| f == file) {
                touched.coverage.exercised_by.push(file.to_string());
            }
        };
        for (id, entry) in &after {
            if before_bodies.contains(&entry.0) {
                continue;
            }
            let change = if before.contains_key(id) {
                Edit::Changed
            } else {
                Edit::Added
            };
            note(change, id, entry, exercised.candidate.contains(id));
        }
        for (id, entry) in &before {
            if after_bodies.contains(&entry.0) || after.contains_key(id) {
                continue;
            }
            note(Edit::Removed, id, entry, exercised.baseline.contains(id));
        }
    }

    /// The coverage of every touched policy, sorted by change, place and
    /// id; an `unexercised-change` in the first scenario that has each one
    /// no scenario exercised.
    fn finish(self, scenarios: &mut [ScenarioCheck]) -> Vec<model::PolicyCoverage> {
        let mut covered = Vec::new();
        for touched in self.touched.into_values() {
            let coverage = touched.coverage;
            // A removed permit can only take access away (what `narrowed`
            // governs): it is listed as not reached, not as a change.
            let narrows_only =
                coverage.change == Edit::Removed && coverage.effect == Effect::Permit;
            if coverage.exercised_by.is_empty()
                && !narrows_only
                && let Some(scenario) = scenarios.get_mut(touched.first)
            {
                scenario.changes.push(unexercised_change(&coverage));
            }
            covered.push(coverage);
        }
        covered
            .sort_by(|a, b| (&a.location, &a.id, &a.change).cmp(&(&b.location, &b.id, &b.change)));
        covered
    }
}

/// A change to a policy that no scenario's request reached.
fn unexercised_change(coverage: &model::PolicyCoverage) -> Change {
    let side = if coverage.change == Edit::Removed {
        "with the baseline, no request of any scenario (step, held set or search move) was decided by it, so nothing here shows what removing it does"
    } else {
        "no request of any scenario (step, held set or search move) was decided by it, so nothing here shows what it allows or forbids"
    };
    Change {
        kind: ChangeKind::UnexercisedChange,
        status: ChangeStatus::Info,
        principal: String::new(),
        action: None,
        resource: None,
        step: None,
        steps: Vec::new(),
        expected: false,
        time: None,
        policies: vec![PolicyRef {
            id: coverage.id.clone(),
            location: coverage.location.clone(),
        }],
        baseline: None,
        candidate: Some(coverage.change.to_string()),
        location: coverage.location.clone(),
        message: format!(
            "{} {} `{}`: {side}; add a scenario that exercises it",
            coverage.change, coverage.effect, coverage.id
        ),
        exception: None,
        finding: None,
    }
}

/// [`crate::search::fuzz`] without repro files: the gate writes nothing beside the
/// scenarios. Each search finding names the policies that allowed its
/// witness request.
fn searched(side: &Side, result: ScenarioResult, options: &search::Options) -> ScenarioResult {
    let mut result =
        crate::search::fuzz::fuzz_onto(&side.scenario, result, options, &mut |_| {}).result;
    for finding in &mut result.findings {
        finding.repro = None;
    }
    result
}

#[expect(
    clippy::too_many_arguments,
    reason = "one change from the pieces the comparison has at hand"
)]
fn new_access(
    principal: &str,
    action: &str,
    resource: &str,
    held: Option<&HeldPair>,
    steps: &[&StepResult],
    world: Timeline,
    result: &ScenarioResult,
    file: &str,
) -> Change {
    let time = held
        .map(|h| h.first_held)
        .or_else(|| steps.first().map(|s| s.time));
    let mut policies = time
        .map(|at| granting(world, result, principal, action, resource, at))
        .unwrap_or_default();
    if policies.is_empty() {
        let from_steps: BTreeSet<String> = steps
            .iter()
            .flat_map(|s| s.determining_policies.iter().cloned())
            .collect();
        policies = refs(result, from_steps);
    }
    let location = policies
        .iter()
        .find_map(|p| p.location.clone())
        .or_else(|| steps.first().map(|s| format!("{file}:{}", s.line)))
        .unwrap_or_else(|| principal_location(result, file, principal));
    let mut message = format!("{principal} can now {action} on {resource}");
    if let Some(held) = held {
        message.push_str(&format!(" (held from {})", held.first_held));
    }
    if !policies.is_empty() {
        message.push_str(&format!(", granted by {}", quoted(&ids(&policies))));
    }
    let mut change = Change {
        kind: ChangeKind::NewAccess,
        status: ChangeStatus::Info,
        principal: principal.to_string(),
        action: Some(action.to_string()),
        resource: Some(resource.to_string()),
        step: None,
        steps: Vec::new(),
        expected: false,
        time,
        policies,
        baseline: Some(
            if held.is_some() {
                "not held"
            } else {
                "held at other times"
            }
            .to_string(),
        ),
        candidate: Some("held".to_string()),
        location: Some(location),
        message,
        exception: None,
        finding: None,
    };
    if !steps.is_empty() {
        note_steps(&mut change, steps);
    }
    if held.is_none() {
        change
            .message
            .push_str(" (the baseline held the pair only at other times)");
    }
    change
}

/// A pair held on both sides for a different length of simulated time:
/// `held-longer` (the policies the candidate grants it by at its first instant
/// of holding when that is earlier than the baseline's, else at its last) or
/// `held-shorter` (the baseline's policies at its last moment).
#[expect(
    clippy::too_many_arguments,
    reason = "one change from the pieces the comparison has at hand"
)]
fn held_for(
    principal: &str,
    before: &HeldPair,
    after: &HeldPair,
    cand_world: Timeline,
    cand: &ScenarioResult,
    base_world: Timeline,
    base: &ScenarioResult,
    file: &str,
) -> Change {
    let longer = after.held_ms > before.held_ms;
    let time = if longer {
        if after.first_held < before.first_held {
            after.first_held
        } else {
            after.last_held
        }
    } else {
        before.last_held
    };
    let policies = if longer {
        granting(
            cand_world,
            cand,
            principal,
            &after.action,
            &after.resource,
            time,
        )
    } else {
        granting(
            base_world,
            base,
            principal,
            &before.action,
            &before.resource,
            time,
        )
    };
    let delta = after.held_ms - before.held_ms;
    let location = policies
        .iter()
        .find_map(|p| p.location.clone())
        .unwrap_or_else(|| principal_location(cand, file, principal));
    Change {
        kind: if longer {
            ChangeKind::HeldLonger
        } else {
            ChangeKind::HeldShorter
        },
        status: ChangeStatus::Info,
        principal: principal.to_string(),
        action: Some(after.action.clone()),
        resource: Some(after.resource.clone()),
        step: None,
        steps: Vec::new(),
        expected: false,
        time: Some(time),
        message: format!(
            "{principal} holds {} on {} for {} instead of {} ({}{}){}",
            after.action,
            after.resource,
            privsim_model::format::duration(after.held_ms),
            privsim_model::format::duration(before.held_ms),
            if longer { "+" } else { "" },
            privsim_model::format::duration(delta),
            policy_list(
                if longer {
                    ", granted by "
                } else {
                    ", the baseline granted it by "
                },
                &ids(&policies)
            ),
        ),
        policies,
        baseline: Some(privsim_model::format::duration(before.held_ms)),
        candidate: Some(privsim_model::format::duration(after.held_ms)),
        location: Some(location),
        exception: None,
        finding: None,
    }
}

/// Adds the steps the baseline denied and the candidate allows to a change
/// about the same pair.
fn note_steps(change: &mut Change, steps: &[&StepResult]) {
    change.steps = steps.iter().map(|s| s.index).collect();
    change.expected = steps.iter().any(|s| {
        s.expectation
            .as_ref()
            .and_then(|e| e.decision)
            .is_some_and(|d| d == Decision::Allow)
    });
    let many = change.steps.len() > 1;
    change.message.push_str(&format!(
        "; the baseline denied step{} {}, the candidate allows {}{}",
        if many { "s" } else { "" },
        privsim_model::format::join_numbers(&change.steps),
        if many { "them" } else { "it" },
        if change.expected {
            ", as the scenario expects"
        } else {
            ""
        }
    ));
}

/// The policies that allow `principal` to do `action` on `resource` at
/// `time`, asked of Cedar with the context each of its sessions open then
/// presents (or, failing that, acting alone), in the entity store of that
/// moment. Empty when no such request is allowed (the pair was held through
/// a step's own context).
fn granting(
    world: Timeline,
    result: &ScenarioResult,
    principal: &str,
    action: &str,
    resource: &str,
    at: Instant,
) -> Vec<PolicyRef> {
    let (Ok(principal_uid), Ok(action_uid), Ok(resource_uid)) = (
        scenario::parse_uid(principal),
        scenario::parse_uid(action),
        scenario::parse_uid(resource),
    ) else {
        return Vec::new();
    };
    let Some(segment) = world.world.segments.get(world.world.segment_at(at)) else {
        return Vec::new();
    };
    let authorizer = Authorizer::new();
    let ask = |session: Option<&scenario::Session>, chain: &[EntityUid]| -> BTreeSet<String> {
        let context =
            scenario::session_context(&world.scenario.facts, at, session, &principal_uid, chain);
        let Ok(request) = scenario::build_request(
            &principal_uid,
            &action_uid,
            &resource_uid,
            &serde_json::Value::Object(context),
            world.scenario.schema.as_ref(),
        ) else {
            return BTreeSet::new();
        };
        let response =
            authorizer.is_authorized(&request, &world.scenario.policies.set, &segment.entities);
        if response.decision() == cedar_policy::Decision::Allow {
            response
                .diagnostics()
                .reason()
                .map(ToString::to_string)
                .collect()
        } else {
            BTreeSet::new()
        }
    };
    let mut found = BTreeSet::new();
    for session in world.sessions.iter().filter(|s| {
        s.principal == principal_uid
            && s.from.is_none_or(|from| from <= at)
            && s.until.is_none_or(|until| at < until)
    }) {
        found.extend(ask(Some(session), &session.chain));
    }
    if found.is_empty() {
        found.extend(ask(None, std::slice::from_ref(&principal_uid)));
    }
    refs(result, found)
}

fn refs(result: &ScenarioResult, ids: impl IntoIterator<Item = String>) -> Vec<PolicyRef> {
    let mut refs: Vec<PolicyRef> = ids
        .into_iter()
        .map(|id| PolicyRef {
            location: result.policies.get(&id).cloned(),
            id,
        })
        .collect();
    refs.sort();
    refs.dedup();
    refs
}

fn ids(policies: &[PolicyRef]) -> Vec<String> {
    policies.iter().map(|p| p.id.clone()).collect()
}

fn quoted(ids: &[String]) -> String {
    ids.iter()
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn policy_list(prefix: &str, ids: &[String]) -> String {
    if ids.is_empty() {
        String::new()
    } else {
        format!("{prefix}{}", quoted(ids))
    }
}

/// A change about one step of the candidate, located at the step.
fn step_change(kind: ChangeKind, step: &StepResult, file: &str, result: &ScenarioResult) -> Change {
    Change {
        kind,
        status: ChangeStatus::Info,
        principal: step.principal.clone(),
        action: Some(step.action.clone()),
        resource: Some(step.resource.clone()),
        step: Some(step.index),
        steps: Vec::new(),
        expected: false,
        time: Some(step.time),
        policies: refs(result, step.determining_policies.iter().cloned()),
        baseline: None,
        candidate: None,
        location: Some(format!("{file}:{}", step.line)),
        message: String::new(),
        exception: None,
        finding: None,
    }
}

/// The scenario line of a step.
fn step_location(result: &ScenarioResult, file: &str, step: usize) -> String {
    let line = result
        .steps
        .iter()
        .find(|s| s.index == step)
        .map_or(1, |s| s.line);
    format!("{file}:{line}")
}

/// The scenario line of the principal's first step (or of the file's start).
fn principal_location(result: &ScenarioResult, file: &str, principal: &str) -> String {
    let line = result
        .steps
        .iter()
        .find(|s| s.principal == principal)
        .map_or(1, |s| s.line);
    format!("{file}:{line}")
}

/// What makes two findings the same escalation: the invariant, the principal,
/// the action and the delegator, grant or rule (as the search deduplicates).
fn finding_key(finding: &Finding) -> (String, String, String, String) {
    (
        finding.kind.to_string(),
        finding.principal.clone(),
        finding.action.clone(),
        format!(
            "{}|{}|{}",
            finding.delegator.as_deref().unwrap_or(""),
            finding.grant.as_deref().unwrap_or(""),
            finding.rule.as_deref().unwrap_or("")
        ),
    )
}

fn finding_change(
    kind: ChangeKind,
    finding: &Finding,
    result: &ScenarioResult,
    file: &str,
) -> Change {
    let policies = refs(result, finding.determining_policies.iter().cloned());
    // The policy first: it is what a policy change changed.
    let location = policies
        .iter()
        .find_map(|p| p.location.clone())
        .or_else(|| finding.rule.clone())
        .or_else(|| finding.step.map(|step| step_location(result, file, step)))
        .unwrap_or_else(|| principal_location(result, file, &finding.principal));
    let found = match finding.step {
        Some(step) => format!(" (replay, step {step})"),
        None if !finding.trace.is_empty() => format!(
            " (escalation search, after {} move{})",
            finding.trace.len(),
            if finding.trace.len() == 1 { "" } else { "s" }
        ),
        None => " (replay)".to_string(),
    };
    Change {
        kind,
        status: ChangeStatus::Info,
        principal: finding.principal.clone(),
        action: Some(finding.action.clone()),
        resource: Some(finding.resource.clone()),
        step: finding.step,
        steps: Vec::new(),
        expected: false,
        time: Some(finding.time),
        policies,
        baseline: None,
        candidate: Some(finding.kind.to_string()),
        location: Some(location),
        message: format!("{}{found}", finding.message),
        exception: None,
        finding: Some(Box::new(finding.clone())),
    }
}

/// Applies the rules, budgets and exceptions; fills statuses and counts.
fn decide(
    mut scenarios: Vec<ScenarioCheck>,
    baseline: SpecView,
    candidate: SpecView,
    options: &Options,
) -> CheckResult {
    let config = &options.config;
    let mut matched = vec![0usize; config.exceptions.len()];
    let mut summary = CheckSummary {
        scenarios: scenarios.len(),
        ..CheckSummary::default()
    };
    for scenario in &mut scenarios {
        for change in &mut scenario.changes {
            let fails = fails(change, config);
            let mut applied = None;
            let mut expired = None;
            for (index, exception) in config.exceptions.iter().enumerate() {
                if !matches(
                    exception,
                    change,
                    scenario_names(&scenario.name, &scenario.file),
                ) {
                    continue;
                }
                matched[index] += 1;
                let is_expired = exception
                    .expires
                    .as_deref()
                    .is_some_and(|last| last < options.today.as_str());
                if is_expired {
                    expired.get_or_insert(index);
                } else {
                    applied.get_or_insert(index);
                }
            }
            change.status = match (fails, applied, expired) {
                (false, ..) => ChangeStatus::Info,
                (true, Some(index), _) => {
                    change.exception = Some(config.exceptions[index].location.clone());
                    ChangeStatus::Excepted
                }
                (true, None, Some(index)) => {
                    let exception = &config.exceptions[index];
                    change.exception = Some(exception.location.clone());
                    change.message.push_str(&format!(
                        " (the exception at {} expired on {} and no longer applies)",
                        exception.location,
                        exception.expires.as_deref().unwrap_or("")
                    ));
                    ChangeStatus::Fail
                }
                (true, None, None) => ChangeStatus::Fail,
            };
        }
        scenario.changes.sort_by(|a, b| {
            let rank = |c: &Change| (c.status.position(), c.kind.position());
            (rank(a), &a.principal, &a.action, &a.resource, a.step).cmp(&(
                rank(b),
                &b.principal,
                &b.action,
                &b.resource,
                b.step,
            ))
        });
        scenario.passed = scenario
            .changes
            .iter()
            .all(|c| c.status != ChangeStatus::Fail);
        summary.changes += scenario.changes.len();
        summary.failures += scenario
            .changes
            .iter()
            .filter(|c| c.status == ChangeStatus::Fail)
            .count();
        summary.excepted += scenario
            .changes
            .iter()
            .filter(|c| c.status == ChangeStatus::Excepted)
            .count();
        summary.failed_scenarios += usize::from(!scenario.passed);
    }
    let exceptions: Vec<ExceptionStatus> = config
        .exceptions
        .iter()
        .zip(&matched)
        .map(|(exception, &count)| {
            let expired = exception
                .expires
                .as_deref()
                .is_some_and(|last| last < options.today.as_str());
            let in_run = exception.scenario.as_deref().is_none_or(|wanted| {
                scenarios
                    .iter()
                    .any(|s| scenario_names(&s.name, &s.file).contains(&normalize_name(wanted)))
            });
            let status = match (count, expired, in_run) {
                (0, _, false) => ExceptionState::NotChecked,
                (0, _, true) => ExceptionState::Stale,
                (_, true, _) => ExceptionState::Expired,
                (_, false, _) => ExceptionState::Applied,
            };
            ExceptionStatus {
                location: exception.location.clone(),
                kind: exception.kind,
                scenario: exception.scenario.clone(),
                principal: exception.principal.as_ref().map(|p| p.0.clone()),
                action: exception.action.as_ref().map(|p| p.0.clone()),
                resource: exception.resource.as_ref().map(|p| p.0.clone()),
                reason: exception.reason.clone(),
                expires: exception.expires.clone(),
                status,
                matched: count,
            }
        })
        .collect();
    summary.stale_exceptions = exceptions
        .iter()
        .filter(|e| e.status == ExceptionState::Stale)
        .count();
    CheckResult {
        format: model::FORMAT.to_string(),
        passed: summary.failures == 0 && summary.stale_exceptions == 0,
        baseline,
        candidate,
        config: ConfigView {
            file: config.file.clone(),
            fail_on: config.fail_on.clone(),
            budget: config.budget.clone(),
            search: config.search.clone(),
        },
        summary,
        scenarios,
        exceptions,
        proofs: None,
        load_errors: Vec::new(),
        coverage: Vec::new(),
        config_change: None,
        budget_exhausted: None,
    }
}

/// Adds a change per principal whose metrics break a budget.
fn budgets(
    changes: &mut Vec<Change>,
    principals: &[PrincipalDelta],
    budget: &model::Budget,
    result: &ScenarioResult,
    file: &str,
) {
    for delta in principals {
        let location = Some(principal_location(result, file, &delta.principal));
        let budget_change =
            |kind: ChangeKind, baseline: String, candidate: String, message: String| Change {
                kind,
                status: ChangeStatus::Info,
                principal: delta.principal.clone(),
                action: None,
                resource: None,
                step: None,
                steps: Vec::new(),
                expected: false,
                time: None,
                policies: Vec::new(),
                baseline: Some(baseline),
                candidate: Some(candidate),
                location: location.clone(),
                message,
                exception: None,
                finding: None,
            };
        if let Some(limit) = budget.weighted_gap_growth
            && delta.weighted_gap_change > i64::try_from(limit).unwrap_or(i64::MAX)
        {
            changes.push(budget_change(
                ChangeKind::WeightedGapGrowth,
                delta.baseline.weighted_gap.to_string(),
                delta.candidate.weighted_gap.to_string(),
                format!(
                    "the weighted gap of {} grew from {} to {} (+{}), more than the budget of {limit}",
                    delta.principal,
                    delta.baseline.weighted_gap,
                    delta.candidate.weighted_gap,
                    delta.weighted_gap_change
                ),
            ));
        }
        if let Some(limit) = budget.utilization_drop
            && -delta.utilization_change > limit + 1e-9
        {
            changes.push(budget_change(
                ChangeKind::UtilizationDrop,
                privsim_model::format::percent(delta.baseline.utilization),
                privsim_model::format::percent(delta.candidate.utilization),
                format!(
                    "the utilization of {} dropped from {} to {} ({} points), more than the budget of {} points",
                    delta.principal,
                    privsim_model::format::percent(delta.baseline.utilization),
                    privsim_model::format::percent(delta.candidate.utilization),
                    privsim_model::format::points(delta.utilization_change),
                    privsim_model::format::points(limit).trim_start_matches('+'),
                ),
            ));
        }
    }
}

fn fails(change: &Change, config: &Config) -> bool {
    let rules = &config.fail_on;
    match change.kind {
        ChangeKind::NewAccess => {
            rules.new_access && (!change.expected || rules.new_access_expected)
        }
        ChangeKind::NewAccessProven => rules.new_access_proven,
        ChangeKind::BrokenWorkflow => rules.broken_workflow,
        ChangeKind::NewEscalation => rules.new_escalation,
        ChangeKind::ExpectationFailed => {
            rules.failed_expectation
                && (change.baseline.as_deref() != Some("failed")
                    || rules.failed_expectation_on_baseline)
        }
        ChangeKind::Narrowed | ChangeKind::HeldShorter | ChangeKind::NarrowedProven => {
            rules.narrowed
        }
        ChangeKind::HeldLonger => rules.held_longer,
        ChangeKind::UnexercisedChange => rules.unexercised_change,
        ChangeKind::PolicyNeverApplies => rules.policy_never_applies,
        ChangeKind::PolicyRedundant => rules.policy_redundant,
        ChangeKind::PolicyNeverGrants => rules.policy_never_grants,
        ChangeKind::PolicyMayError => rules.policy_may_error,
        ChangeKind::WeightedGapGrowth | ChangeKind::UtilizationDrop => true,
        // A fixed escalation is good news. `ChangeKind` is exhaustive on
        // purpose: a kind added later does not compile here until it has a
        // rule, so it can never fail nothing by default.
        ChangeKind::FixedEscalation => false,
    }
}

/// The names a scenario answers to in an exception: its name and its file
/// (without a leading `./`).
fn scenario_names(name: &str, file: &str) -> [String; 2] {
    [name.to_string(), normalize_name(file)]
}

fn normalize_name(text: &str) -> String {
    let mut text = text.trim();
    while let Some(rest) = text.strip_prefix("./") {
        text = rest;
    }
    text.replace('\\', "/")
}

fn matches(exception: &Exception, change: &Change, scenario: [String; 2]) -> bool {
    let uid_matches = |pattern: &Option<(String, crate::load::rules::Pattern)>,
                       value: Option<&str>| {
        match (pattern, value) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some((_, pattern)), Some(value)) => {
                scenario::parse_uid(value).is_ok_and(|uid| pattern.matches(&uid))
            }
        }
    };
    exception.kind == change.kind
        && exception
            .scenario
            .as_deref()
            .is_none_or(|wanted| scenario.contains(&normalize_name(wanted)))
        && uid_matches(&exception.principal, Some(&change.principal))
        && uid_matches(&exception.action, change.action.as_deref())
        && uid_matches(&exception.resource, change.resource.as_deref())
}

/// Today's date in UTC, `YYYY-MM-DD`, from the system clock (the only
/// wall-clock input of the gate: it decides whether an exception expired).
pub fn today() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    Instant(millis).to_string().chars().take(10).collect()
}
