//! `privsim check`: the CI gate. Evaluates every scenario with baseline and
//! candidate policies, prints or writes the comparison, adds it to GitHub's
//! job summary and annotations when running under GitHub Actions, and exits
//! 0 (pass), 1 (the gate failed) or 2 (bad input).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use privsim::gate::model::{Edit, RuleStatus};
use privsim::gate::{self, Options, Spec, config};
use privsim_reports::check as render;

use crate::cli::{Outcome, print_out, report_error};

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    /// A summary for people.
    Text,
    /// Markdown, for a pull-request comment or GitHub's job summary.
    Md,
    /// The gate's JSON contract (docs/check.md).
    Json,
    /// JUnit XML: a test case per scenario and rule.
    Junit,
    /// SARIF 2.1.0.
    Sarif,
}

/// Arguments of `privsim check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Scenario files, or folders searched recursively for `*.toml` scenarios
    /// (repro files are skipped in folders).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The policies to compare against: a `.cedar` file or folder, `git:REV`
    /// (each scenario's own policy files as they are at revision REV, e.g.
    /// `git:origin/main`) or `git:REV:PATH` (a file or folder at REV).
    #[arg(long, value_name = "SPEC")]
    pub baseline: String,
    /// The policies under review, in the same forms (default: each scenario's
    /// own policies, as they are in the working tree).
    #[arg(long, value_name = "SPEC")]
    pub candidate: Option<String>,
    /// The gate configuration (default: `privsim-gate.toml` in the current
    /// folder if there is one, else the built-in rules).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    /// Write the output to this file (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write every format into this folder (created if missing):
    /// check.md, check.json, check.junit.xml, check.sarif.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Decide exception expiry as of this day (`YYYY-MM-DD`) instead of
    /// today, for reproducible output.
    #[arg(long, value_name = "DATE")]
    pub today: Option<String>,
    /// Prove no-new-access over every request the schema allows (needs the
    /// cvc5 solver; without it, exit 2). Default: prove when a solver is found.
    #[arg(long, conflicts_with = "no_prove")]
    pub prove: bool,
    /// Do not prove (simulation only).
    #[arg(long)]
    pub no_prove: bool,
    /// The time limit per solver query, in milliseconds (default: the
    /// configuration's `[prove] timeout_ms`, else 10000).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub prove_timeout: Option<u64>,
    /// The whole check's time budget, e.g. `10m`: scenarios not reached in
    /// time are not checked and the gate fails, saying which (unless
    /// `[fail_on] time_budget = false`).
    #[arg(long, value_name = "DURATION")]
    pub time_budget: Option<String>,
    /// Keep proven and refuted proof verdicts in this folder, so an
    /// unchanged request environment costs no solver call on the next run
    /// (default: `$PRIVSIM_CACHE_DIR/proofs`, else `.privsim/cache/proofs`
    /// in the current folder).
    #[arg(long, value_name = "DIR", conflicts_with = "no_proof_cache")]
    pub proof_cache: Option<PathBuf>,
    /// Do not read or write the proof cache.
    #[arg(long)]
    pub no_proof_cache: bool,
    /// Print the time each request environment's proof took (and whether it
    /// came from the cache) on standard error.
    #[arg(long)]
    pub timings: bool,
}

/// One line of `--timings`.
fn print_timing(file: &str, direction: &str, result: &privsim::prove::EnvResult, cached: bool) {
    eprintln!(
        "proof {:>8.1} ms{} {}: {direction}: {}: {}",
        result.elapsed.as_secs_f64() * 1000.0,
        if cached { " (cached)" } else { "         " },
        privsim_reports::escape_control(file),
        privsim_reports::escape_control(&result.label),
        match &result.verdict {
            privsim::prove::Verdict::Proven => "proven",
            privsim::prove::Verdict::Refuted { .. } => "refuted",
            privsim::prove::Verdict::Unknown { .. } => "unknown",
            privsim::prove::Verdict::NotApplicable { .. } => "not applicable",
        }
    );
}

/// Runs the gate.
pub fn run(args: &CheckArgs) -> Outcome {
    let (mut options, config_changed) = match options(args) {
        Ok(options) => options,
        Err(error) => return report_error(error),
    };
    let ticker = crate::progress::Ticker::start("check");
    if ticker.is_live() {
        // The redrawn line names the scenario; a line per scenario would
        // garble it.
        options.progress = None;
    }
    // The baseline's own rules say whether a change to them may pass.
    let options_allow_config_change = !options.config.fail_on.config_change;
    // Every scenario that loads on both sides is compared, whatever the
    // others do; each load error is printed, and the exit code is 2.
    let checked = gate::check_all(&args.paths, &options);
    drop(ticker);
    let checked = match checked {
        Ok(checked) => checked,
        Err(error) => return report_error(error),
    };
    let load_failed = !checked.errors.is_empty();
    if let Some(stats) = &checked.proof_cache {
        crate::cli::warn_proof_cache(stats);
        if args.timings {
            eprintln!(
                "proof cache: {} verdict(s) reused, {} proven anew, {} written, {} stored entr(y/ies) ignored",
                stats.hits, stats.misses, stats.written, stats.rejected
            );
        }
    }
    for error in checked.errors {
        report_error(error);
    }
    let mut result = checked.result;
    if let Some(mut change) = config_changed.clone() {
        // Listed in every report, failing the gate unless the baseline's
        // rules allow it.
        if options_allow_config_change {
            change.status = RuleStatus::Allowed;
        } else {
            result.passed = false;
        }
        result.config_change = Some(change);
    }
    let (junit, markdown) = match render::junit(&result)
        .and_then(|junit| render::markdown(&result).map(|markdown| (junit, markdown)))
    {
        Ok(rendered) => rendered,
        Err(error) => {
            eprintln!("error: {error}");
            return Outcome::BadInput;
        }
    };
    if let Some(folder) = &args.report_dir {
        let files = [
            ("check.md", markdown.clone()),
            ("check.json", render::json(&result)),
            ("check.junit.xml", junit.clone()),
            ("check.sarif", render::sarif(&result)),
        ];
        if crate::cli::write_folder(folder, &files) != Outcome::Ok {
            return Outcome::BadInput;
        }
    }
    let text = match args.format {
        CheckFormat::Text => match render::text(&result) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("error: {error}");
                return Outcome::BadInput;
            }
        },
        CheckFormat::Md => markdown.clone(),
        CheckFormat::Json => render::json(&result),
        CheckFormat::Junit => junit,
        CheckFormat::Sarif => render::sarif(&result),
    };
    if let Err(outcome) = crate::cli::emit(args.output.as_deref(), &text) {
        return outcome;
    }
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        // Workflow commands go to standard output, unless it carries a
        // machine-readable format; the runner reads both streams.
        let to_stdout =
            args.output.is_some() || matches!(args.format, CheckFormat::Text | CheckFormat::Md);
        let annotations = match render::annotations(&result) {
            Ok(lines) => lines,
            Err(error) => {
                eprintln!("error: {error}");
                return Outcome::BadInput;
            }
        };
        for line in annotations {
            if to_stdout {
                if let Err(outcome) = print_out(&format!("{line}\n")) {
                    return outcome;
                }
            } else {
                eprintln!("{line}");
            }
        }
    }
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&summary)
            .and_then(|mut file| file.write_all(markdown.as_bytes()));
        if let Err(error) = appended {
            eprintln!(
                "warning: cannot append to the job summary `{}`: {error}",
                Path::new(&summary).display()
            );
        }
    }
    if load_failed {
        return Outcome::BadInput;
    }
    if let Some(change) = &config_changed {
        if options_allow_config_change {
            eprintln!("warning: {}", change.message);
        } else {
            eprintln!("error: {}", change.message);
            return Outcome::Failed;
        }
    }
    if result.passed {
        Outcome::Ok
    } else {
        Outcome::Failed
    }
}

/// Parses and checks the arguments into the gate's options, and says whether
/// the gate configuration differs from the git baseline's.
fn options(
    args: &CheckArgs,
) -> Result<(Options, Option<privsim::gate::model::ConfigChange>), privsim::Error> {
    let baseline = Spec::parse(&args.baseline)?;
    let candidate = match &args.candidate {
        Some(text) => Spec::parse(text)?,
        None => Spec::Own,
    };
    let default = Path::new(privsim::load::GATE_CONFIG);
    let mut config_changed = None;
    let config = match (&args.config, &baseline) {
        // Named on the command line: the workflow's choice, not the change's.
        (Some(path), _) => config::load(path)?,
        // With a git baseline, the baseline's configuration applies, so a
        // pull request cannot loosen the gate it is judged by; a change to
        // it is reported and fails the gate until it is reviewed and merged.
        (None, Spec::Git { revision, .. }) => {
            let here = std::fs::read_to_string(default).ok();
            let (config, there) = match gate::config_at(revision, default)? {
                Some((config, text)) => (config, Some(text)),
                None => (config::Config::default(), None),
            };
            if here != there {
                let change = match (&here, &there) {
                    (Some(_), None) => Edit::Added,
                    (None, Some(_)) => Edit::Removed,
                    _ => Edit::Changed,
                };
                let message = format!(
                    "`{}` differs from its version at `{revision}`{}: the gate applied the baseline's rules, and a change to them fails the gate until it is reviewed and merged, unless the baseline's `[fail_on] config_change = false` allows it (or name a configuration with `--config`)",
                    default.display(),
                    if there.is_none() {
                        " (which has none)"
                    } else {
                        ""
                    }
                );
                config_changed = Some(privsim::gate::model::ConfigChange {
                    file: default.display().to_string(),
                    revision: revision.clone(),
                    change,
                    status: RuleStatus::Fail,
                    message,
                });
            }
            config
        }
        (None, _) => {
            if default.is_file() {
                config::load(default)?
            } else {
                config::Config::default()
            }
        }
    };
    let today = match &args.today {
        Some(day) if config::valid_date(day) => day.clone(),
        Some(day) => {
            return Err(privsim::Error::BadArgument(format!(
                "`--today {day}` is not a date like `2026-12-31`"
            )));
        }
        None => gate::today(),
    };
    let mode = if args.prove {
        gate::proofs::Mode::Required
    } else if args.no_prove || !config.prove.enabled {
        gate::proofs::Mode::Off
    } else {
        gate::proofs::Mode::Auto
    };
    let prove = gate::proofs::ProveOptions {
        mode,
        timeout_ms: args.prove_timeout.unwrap_or(config.prove.timeout_ms),
        repro_dir: args.report_dir.clone(),
        cache: crate::cli::proof_cache_folder(args.proof_cache.as_deref(), args.no_proof_cache),
        timings: args
            .timings
            .then_some(print_timing as fn(&str, &str, &_, bool)),
    };
    let time_budget = match &args.time_budget {
        Some(text) => {
            let millis = privsim::time::parse_duration(text)
                .map_err(|m| privsim::Error::BadArgument(format!("`--time-budget`: {m}")))?;
            let millis = u64::try_from(millis).map_err(|_| {
                privsim::Error::BadArgument(format!("`--time-budget {text}` is negative"))
            })?;
            Some((text.clone(), std::time::Duration::from_millis(millis)))
        }
        None => None,
    };
    let progress: Option<fn(usize, usize, &str)> =
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            Some(|number, count, file| {
                eprintln!(
                    "checking {number}/{count}: {}",
                    privsim_reports::escape_control(file)
                );
            })
        } else {
            None
        };
    Ok((
        Options {
            time_budget,
            progress,
            prove,
            baseline,
            baseline_text: args.baseline.clone(),
            candidate,
            candidate_text: args
                .candidate
                .clone()
                .unwrap_or_else(|| "scenario".to_string()),
            config,
            today,
        },
        config_changed,
    ))
}
