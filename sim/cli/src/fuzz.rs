//! `privsim fuzz`: search scenarios for escalation paths, print what was
//! found, and write a repro scenario per finding beside each scenario.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use privsim::result::NeverVerdict;
use privsim::search::{Options, Progress, Strategy};
use privsim::{LoadOptions, RunResult, load as scenario};

use crate::cli::{Format, Outcome, report_error};

/// Search strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyArg {
    /// Seeded random walks.
    Random,
    /// Prefer states whose held sets are new.
    Novelty,
    /// Breadth-first with state hashing; proves "no violation up to depth K".
    Exhaustive,
}

/// Arguments of `privsim fuzz`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct FuzzArgs {
    /// `merge`: combine the results of a campaign's shards.
    #[command(subcommand)]
    pub command: Option<FuzzCommand>,
    /// Scenario files, or folders searched recursively for `*.toml` scenarios
    /// (repro files, `*.repro-N.toml`, are skipped in folders; a scenario
    /// named `merge` is written `./merge`).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Keep running: search once, then whenever a scenario, policy, schema,
    /// entities, links or shared world file changes, search again the
    /// scenarios that read it (Ctrl-C or SIGTERM stops, exit code 130).
    #[arg(long)]
    pub watch: bool,
    /// Evaluate this `.cedar` file or folder instead of each scenario's `policies`.
    #[arg(long, value_name = "FILE_OR_FOLDER")]
    pub policies: Option<PathBuf>,
    /// The search strategy.
    #[arg(long, value_enum, default_value_t = StrategyArg::Novelty)]
    pub strategy: StrategyArg,
    /// Seed of every random choice: the same seed gives the same search.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// At most this many moves (requests and clock advances) per scenario.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_steps: u64,
    /// At most this many seconds per scenario (how far the search gets then
    /// depends on the machine; `--max-steps` alone is reproducible).
    #[arg(long, value_name = "SECONDS")]
    pub time: Option<f64>,
    /// The longest trace, in moves that change the world (1 to 10,000).
    #[arg(long, default_value_t = 6, value_parser = parse_depth)]
    pub depth: usize,
    /// Also try moving the clock on by this duration (e.g. `1h`), besides the
    /// moments the world changes by itself.
    #[arg(long, value_name = "DURATION")]
    pub tick: Option<String>,
    /// Do not write repro scenarios.
    #[arg(long, conflicts_with = "repro_dir")]
    pub no_repro: bool,
    /// Write repro scenarios into this folder instead of beside each
    /// scenario: each in a folder of its own (`<name>.repro-<n>/`) with a
    /// copy of the files it needs.
    #[arg(long, value_name = "DIR")]
    pub repro_dir: Option<PathBuf>,
    /// Keep findings as found (skip minimization).
    #[arg(long)]
    pub no_minimize: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the output to this file (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write every report format into this folder.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Whether the `[[never]]` rules are also proven.
    #[command(flatten)]
    pub prove: crate::cli::ProveArgs,
    /// Workers searching each scenario at once (default: every core). Each
    /// takes its share of `--max-steps` and a seed derived from `--seed`, so
    /// the result depends on the seed, the budget and this number only.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub jobs: Option<u64>,
    /// At most this many distinct states kept per scenario (shared among
    /// the workers), which bounds the search's memory: a search that
    /// reaches it stops there and says so in a caveat (an exhaustive depth
    /// then covers only the levels completed before).
    #[arg(long, value_name = "N", default_value_t = privsim::search::DEFAULT_MAX_STATES, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_states: u64,
    /// At most this many seconds for the whole run, over every scenario
    /// (each scenario gets what is left; like `--time`, how far a search gets
    /// then depends on the machine).
    #[arg(long, value_name = "SECONDS")]
    pub time_budget: Option<f64>,
    /// Run only shard I of N of the campaign (e.g. `2/3`): a contiguous part
    /// of its `--jobs` workers (default N), each searching exactly as in the
    /// whole campaign; `privsim fuzz merge` combines the N results.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// Keep each scenario's campaign in this folder (one corpus file per
    /// scenario), and continue the campaign kept there: `--max-steps` is
    /// then the budget of the whole campaign, the moves of earlier runs
    /// included. A corpus written for other inputs or options is refused.
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// With `--corpus`: start each scenario's campaign over, replacing its
    /// corpus file.
    #[arg(long, requires = "corpus")]
    pub corpus_restart: bool,
    /// Append statistics to this file as the search goes, one JSON object a
    /// line (elapsed seconds, moves, moves/s, states, held triples covered,
    /// findings). The only output with wall-clock figures.
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,
}

/// `privsim fuzz` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum FuzzCommand {
    /// Combine the JSON results of shards 1/N to N/N of one campaign
    /// (`privsim fuzz --shard I/N --format json`) into the campaign's result.
    Merge(MergeArgs),
}

/// Arguments of `privsim fuzz merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The shards' JSON results, one per shard, in any order.
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the output to this file (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write every report format into this folder.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
}

/// `privsim fuzz merge`.
fn merge(args: &MergeArgs) -> Outcome {
    let mut results = Vec::new();
    for path in &args.results {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("error: cannot read `{shown}`: {error}");
                return Outcome::BadInput;
            }
        };
        match serde_json::from_str::<RunResult>(&text) {
            Ok(result) => results.push((shown, result)),
            Err(error) => {
                eprintln!(
                    "error: {shown}:{}:{}: not a privsim JSON result: {error}\n  help: give the `--format json` output of `privsim fuzz --shard I/N`",
                    error.line(),
                    error.column()
                );
                return Outcome::BadInput;
            }
        }
    }
    let result = match privsim::search::shards::merge(results) {
        Ok(result) => result,
        Err(message) => {
            eprintln!(
                "error: {message}\n  help: give the results of every shard 1/N to N/N of one campaign, once each"
            );
            return Outcome::BadInput;
        }
    };
    if let Err(outcome) = crate::cli::write_result(
        &result,
        args.format,
        args.output.as_deref(),
        args.report_dir.as_deref(),
    ) {
        return outcome;
    }
    if result.has_findings() {
        Outcome::Failed
    } else {
        Outcome::Ok
    }
}

/// `--shard I/N`: 1 ≤ I ≤ N ≤ 1024, as (I - 1, N).
fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let (index, count) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` is not a shard like `2/3`"))?;
    let index: usize = index
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a shard like `2/3`"))?;
    let count: usize = count
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a shard like `2/3`"))?;
    if count == 0 || count > 1024 || index == 0 || index > count {
        return Err(format!(
            "`{text}`: the shard must be from 1 to N, and N from 1 to 1024"
        ));
    }
    Ok((index - 1, count))
}

/// Searches every scenario.
pub fn run(args: &FuzzArgs) -> Outcome {
    if let Some(FuzzCommand::Merge(merge_args)) = &args.command {
        return merge(merge_args);
    }
    let tick = match args.tick.as_deref().map(privsim::time::parse_duration) {
        Some(Ok(millis)) if millis > 0 => Some(millis),
        Some(Ok(_)) | Some(Err(_)) => {
            eprintln!("error: `--tick` takes a duration like `30m` or `1h`");
            return Outcome::BadInput;
        }
        None => None,
    };
    let Ok(time) = seconds("--time", args.time) else {
        return Outcome::BadInput;
    };
    let Ok(time_budget) = seconds("--time-budget", args.time_budget) else {
        return Outcome::BadInput;
    };
    let jobs = match (args.jobs, args.shard) {
        (Some(jobs), _) => usize::try_from(jobs).unwrap_or(1),
        // A sharded campaign must not depend on the machine: N workers.
        (None, Some((_, count))) => count,
        (None, None) => std::thread::available_parallelism().map_or(1, usize::from),
    };
    if let Some((_, count)) = args.shard
        && jobs < count
    {
        eprintln!(
            "error: `--jobs {jobs}` is fewer than the {count} shards\n  help: give each shard at least one worker: `--jobs {count}` or more"
        );
        return Outcome::BadInput;
    }
    if args.watch
        && let Err(outcome) = crate::watch::refuse(
            &args.paths,
            args.output.as_deref(),
            args.report_dir.as_deref(),
        )
    {
        return outcome;
    }
    if args.watch && (args.corpus.is_some() || args.shard.is_some()) {
        eprintln!(
            "error: `--watch` cannot be combined with `--corpus` or `--shard`\n  help: a campaign resumes from its corpus and a shard is merged with the others; `--watch` searches again from the start on every change"
        );
        return Outcome::BadInput;
    }
    // SIGINT and SIGTERM stop the search; the results so far are written as
    // usual and say they were interrupted. With `--watch`, the watch catches
    // them (a process has one handler) and sets `stop` too.
    let stop = Arc::new(AtomicBool::new(false));
    if !args.watch {
        let stop = Arc::clone(&stop);
        if let Err(error) = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed)) {
            eprintln!(
                "warning: cannot catch interruptions ({error}); an interrupted run writes nothing"
            );
        }
    }
    let mut stats = match &args.stats {
        Some(path) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(file) => Some(Stats::new(file)),
            Err(error) => {
                eprintln!("error: cannot open `{}`: {error}", path.display());
                return Outcome::BadInput;
            }
        },
        None => None,
    };
    let options = Options {
        strategy: match args.strategy {
            StrategyArg::Random => Strategy::Random,
            StrategyArg::Novelty => Strategy::Novelty,
            StrategyArg::Exhaustive => Strategy::Exhaustive,
        },
        seed: args.seed,
        max_steps: args.max_steps,
        time,
        depth: args.depth,
        tick,
        minimize: !args.no_minimize,
        jobs,
        stop: Some(Arc::clone(&stop)),
        shard: args.shard,
        max_states: args.max_states,
        ..Options::default()
    };
    let load = LoadOptions {
        policies: args.policies.clone(),
        ..LoadOptions::default()
    };
    let prover = match crate::cli::never_prover(&args.prove) {
        Ok(prover) => prover,
        Err(error) => return report_error(error),
    };
    let search = Search {
        args,
        options: &options,
        load: &load,
        proving: crate::cli::proving(&prover),
        cache: prover.cache.as_ref(),
        time_budget,
        stop: &stop,
    };
    if args.watch {
        // Each scenario is searched and printed on its own, so one that no
        // longer loads does not stop the others.
        return crate::watch::watch(&args.paths, &load, true, Arc::clone(&stop), |jobs| {
            let started = Instant::now();
            let mut worst = Outcome::Ok;
            for job in jobs {
                let outcome = search.files(std::slice::from_ref(job), started, &mut stats);
                worst = crate::watch::worse(worst, outcome);
            }
            worst
        });
    }
    let mut files = Vec::new();
    for path in &args.paths {
        match scenario::discover(path) {
            Ok(found) => files.extend(
                found
                    .into_iter()
                    .filter(|f| !path.is_dir() || !privsim::search::repro::is_repro(f))
                    .map(|f| (f, path.clone())),
            ),
            Err(error) => return report_error(error),
        }
    }
    search.files(&files, Instant::now(), &mut stats)
}

/// What every scenario's search shares.
struct Search<'a> {
    args: &'a FuzzArgs,
    options: &'a Options,
    load: &'a LoadOptions,
    proving: privsim::prove::rules::Proving<'a>,
    /// The proof cache, whose troubles are reported after each run.
    cache: Option<&'a privsim::prove::ProofCache>,
    /// `--time-budget`, over the scenarios of one [`Search::files`] call.
    time_budget: Option<Duration>,
    stop: &'a AtomicBool,
}

impl Search<'_> {
    /// Searches each (scenario file, run root), writes the repros, and
    /// prints or writes the result; `started`: when the run began, for the
    /// time budget and the statistics.
    fn files(
        &self,
        files: &[(PathBuf, PathBuf)],
        started: Instant,
        stats: &mut Option<Stats>,
    ) -> Outcome {
        let Self {
            args,
            options,
            load,
            proving,
            cache,
            time_budget,
            stop,
        } = *self;
        let mut results = Vec::new();
        for (file, root) in files {
            let loaded = match scenario::load(file, &load.under(root)) {
                Ok(loaded) => loaded,
                Err(error) => return report_error(error),
            };
            let mut meter = Meter::new(&loaded.file.display, options.max_steps);
            // The overall budget: each scenario gets what is left of it.
            let options = match time_budget {
                Some(budget) => {
                    let left = budget.saturating_sub(started.elapsed());
                    Options {
                        time: Some(options.time.map_or(left, |t| t.min(left))),
                        ..options.clone()
                    }
                }
                None => options.clone(),
            };
            let scenario_started = Instant::now();
            let mut on_progress = |p: Progress| {
                meter.update(p);
                if let Some(stats) = stats.as_mut() {
                    stats.update(&loaded.file.display, started, scenario_started, p, false);
                }
            };
            let fuzzed = match &args.corpus {
                Some(dir) => {
                    let path = privsim::search::corpus::path_in(dir, &loaded);
                    match privsim::search::fuzz::fuzz_campaign(
                        &loaded,
                        &options,
                        &path,
                        args.corpus_restart,
                        &mut on_progress,
                    ) {
                        Ok((fuzzed, before)) => {
                            if before > 0 {
                                eprintln!(
                                    "{}: continued the campaign in `{}` after {before} moves",
                                    loaded.file.display,
                                    path.display()
                                );
                            }
                            fuzzed
                        }
                        Err(error) => {
                            eprintln!("error: {error}\n  help: {}", error.help());
                            return Outcome::BadInput;
                        }
                    }
                }
                None => privsim::fuzz(&loaded, &options, &mut on_progress),
            };
            meter.finish(&fuzzed.result);
            if let (Some(stats), Some(search)) = (stats.as_mut(), &fuzzed.result.search) {
                let progress = privsim::search::Progress {
                    moves: search.moves,
                    states: search.states,
                    findings: fuzzed
                        .result
                        .findings
                        .iter()
                        .filter(|f| !f.trace.is_empty())
                        .count(),
                    held: stats.last_held,
                    universe: stats.last_universe,
                };
                stats.update(
                    &loaded.file.display,
                    started,
                    scenario_started,
                    progress,
                    true,
                );
            }
            if fuzzed.result.search.as_ref().is_some_and(|s| s.interrupted) {
                eprintln!(
                    "warning: {}: the search was interrupted; the results are those found so far",
                    loaded.file.display
                );
            }
            // A proof over a move set with gaps must not read as a full one,
            // whatever the output format.
            if let Some(search) = &fuzzed.result.search {
                for caveat in &search.caveats {
                    eprintln!(
                        "warning: {}: the search left moves out: {caveat}",
                        loaded.file.display
                    );
                }
            }
            let mut result = fuzzed.result;
            // An interrupted run stops promptly: its rules are not proven, and
            // say so, rather than making the user wait for the solver.
            let proving = if result.search.as_ref().is_some_and(|s| s.interrupted) {
                privsim::prove::rules::Proving::Unavailable(
                    "the run was interrupted before the proofs",
                )
            } else {
                proving
            };
            // The rules the search did not break, proven over every world the
            // schema allows; a refutation is a finding with its own repro.
            let proof_repros =
                match privsim::prove::rules::prove_never_rules(&loaded, &mut result, proving) {
                    Ok(repros) => repros,
                    Err(error) => {
                        return report_error(privsim::Error::Tool(format!(
                            "{}: proofs: {error}",
                            loaded.file.display
                        )));
                    }
                };
            for rule in result
                .never_rules
                .iter()
                .filter(|r| r.verdict == NeverVerdict::NotProven)
            {
                eprintln!(
                    "warning: {}: never rule at {} not proven: {}",
                    loaded.file.display,
                    rule.rule,
                    rule.reason.as_deref().unwrap_or("")
                );
            }
            if args.no_repro {
                // Nothing was written, so no finding names a repro file.
                for finding in &mut result.findings {
                    finding.repro = None;
                }
            } else {
                // Never over an existing repro (it may have been edited and kept
                // as a regression test): each takes the next free number.
                let mut number = 0;
                let mut renamed: std::collections::BTreeMap<String, String> = Default::default();
                for (path, text) in &fuzzed.repros {
                    let written = match write_repro(&loaded, text, args, &mut number) {
                        Ok(written) => written,
                        Err(outcome) => return outcome,
                    };
                    let display = privsim::search::repro::path_for(
                        std::path::Path::new(&loaded.file.display),
                        repro_number(path),
                    )
                    .display()
                    .to_string();
                    renamed.insert(display, written);
                }
                for finding in &mut result.findings {
                    if let Some(new) = finding.repro.as_ref().and_then(|r| renamed.get(r)) {
                        finding.repro = Some(new.clone());
                    }
                }
                for (index, text) in &proof_repros {
                    let written = match write_repro(&loaded, text, args, &mut number) {
                        Ok(written) => written,
                        Err(outcome) => return outcome,
                    };
                    if let Some(finding) = result.findings.get_mut(*index) {
                        finding.repro = Some(written);
                    }
                }
            }
            results.push(result);
        }
        if let Some(cache) = cache {
            crate::cli::warn_proof_cache(&cache.stats());
        }
        let result = RunResult::new(results);
        if let Err(outcome) = crate::cli::write_result(
            &result,
            args.format,
            args.output.as_deref(),
            args.report_dir.as_deref(),
        ) {
            return outcome;
        }
        if result.has_findings() {
            Outcome::Failed
        } else if stop.load(Ordering::Relaxed) {
            // Not clean: the search stopped before its budget ran out.
            Outcome::Interrupted
        } else {
            Outcome::Ok
        }
    }
}

/// Writes one repro with the next free number after `*number` (beside the
/// scenario, or under `--repro-dir`); returns the path to show.
fn write_repro(
    loaded: &privsim::load::Scenario,
    text: &str,
    args: &FuzzArgs,
    number: &mut usize,
) -> Result<String, Outcome> {
    if let Some(dir) = &args.repro_dir {
        return privsim::search::repro::write_in_dir(
            loaded,
            text,
            dir,
            args.policies.is_some(),
            number,
        )
        .map(|path| path.display().to_string())
        .map_err(|error| {
            eprintln!(
                "error: cannot write a repro into `{}`: {error}",
                dir.display()
            );
            Outcome::BadInput
        });
    }
    loop {
        *number += 1;
        let candidate = privsim::search::repro::path_for(&loaded.file.path, *number);
        match privsim::output::write_new_file(&candidate, text.as_bytes()) {
            Ok(true) => break,
            Ok(false) => {}
            Err(error) => {
                eprintln!("error: cannot write `{}`: {error}", candidate.display());
                return Err(Outcome::BadInput);
            }
        }
    }
    Ok(
        privsim::search::repro::path_for(std::path::Path::new(&loaded.file.display), *number)
            .display()
            .to_string(),
    )
}

/// A positive number of seconds as a duration; an error (printed) for zero,
/// a negative number or one too large (`1e308`: bad input, not a panic).
fn seconds(flag: &str, value: Option<f64>) -> Result<Option<Duration>, ()> {
    match value {
        Some(seconds) if seconds > 0.0 => match Duration::try_from_secs_f64(seconds) {
            Ok(time) => Ok(Some(time)),
            Err(_) => {
                eprintln!(
                    "error: `{flag} {seconds}` is too long; give a positive number of seconds up to {}",
                    u64::MAX
                );
                Err(())
            }
        },
        Some(_) => {
            eprintln!("error: `{flag}` takes a positive number of seconds");
            Err(())
        }
        None => Ok(None),
    }
}

/// The `--stats` file: a JSON line about once a second while a scenario is
/// searched, and one when it ends (`"final": true`).
struct Stats {
    file: std::fs::File,
    last_line: Option<Instant>,
    last_held: u64,
    last_universe: u64,
}

impl Stats {
    fn new(file: std::fs::File) -> Self {
        Self {
            file,
            last_line: None,
            last_held: 0,
            last_universe: 0,
        }
    }

    fn update(
        &mut self,
        scenario: &str,
        run_started: Instant,
        scenario_started: Instant,
        progress: Progress,
        last: bool,
    ) {
        use std::io::Write;
        if progress.universe > 0 {
            self.last_held = progress.held;
            self.last_universe = progress.universe;
        }
        if !last
            && self
                .last_line
                .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.last_line = Some(Instant::now());
        let searching = scenario_started.elapsed().as_secs_f64();
        let line = serde_json::json!({
            "elapsed_s": run_started.elapsed().as_secs_f64(),
            "scenario": scenario,
            "moves": progress.moves,
            "moves_per_s": progress.moves as f64 / searching.max(1e-9),
            "states": progress.states,
            "held": self.last_held,
            "universe": self.last_universe,
            "findings": progress.findings,
            "final": last,
        });
        if let Err(error) = writeln!(self.file, "{line}") {
            eprintln!("warning: cannot write the statistics: {error}");
        }
    }
}

/// Progress on standard error: a bar on a terminal, a plain line every few
/// seconds otherwise.
struct Meter {
    bar: Option<indicatif::ProgressBar>,
    name: String,
    started: Instant,
    last_line: Instant,
}

impl Meter {
    fn new(name: &str, max_steps: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(max_steps);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} moves, {per_sec} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_prefix(name.to_string());
            bar
        });
        Self {
            bar,
            name: name.to_string(),
            started: Instant::now(),
            last_line: Instant::now(),
        }
    }

    fn update(&mut self, progress: Progress) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(progress.moves);
                bar.set_message(format!(
                    "{} states, {} findings",
                    progress.states, progress.findings
                ));
            }
            None if self.last_line.elapsed() >= Duration::from_secs(5) => {
                self.last_line = Instant::now();
                let rate = progress.moves as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
                eprintln!(
                    "{}: {} moves ({rate:.0}/s), {} states, {} findings",
                    self.name, progress.moves, progress.states, progress.findings
                );
            }
            None => {}
        }
    }

    fn finish(&mut self, result: &privsim::ScenarioResult) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let Some(search) = &result.search {
            let elapsed = self.started.elapsed().as_secs_f64();
            eprintln!(
                "{}: {} moves in {elapsed:.1}s ({:.0}/s), {} states, {} findings",
                self.name,
                search.moves,
                search.moves as f64 / elapsed.max(1e-9),
                search.states,
                result
                    .findings
                    .iter()
                    .filter(|f| !f.trace.is_empty())
                    .count()
            );
        }
    }
}

/// `--depth`: a depth the search can honour, from 1 to
/// [`privsim::search::MAX_DEPTH`] (0 would search nothing and say so as
/// "no finding").
fn parse_depth(text: &str) -> Result<usize, String> {
    let depth: usize = text
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number"))?;
    if depth == 0 || depth > privsim::search::MAX_DEPTH {
        return Err(format!(
            "the depth must be from 1 to {}",
            privsim::search::MAX_DEPTH
        ));
    }
    Ok(depth)
}

/// The number in a repro's file name (`x.repro-3.toml` → 3).
fn repro_number(path: &std::path::Path) -> usize {
    path.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.rsplit_once(".repro-"))
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}
