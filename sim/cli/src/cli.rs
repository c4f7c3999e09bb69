//! What the subcommands share: exit codes, output formats, the arguments
//! several take (`RunArgs`, `WindowArgs`, `ProveArgs`), and writing results.
//! It names no subcommand: `main.rs` parses and dispatches.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;

/// Exit codes: 0 ok, 1 a check or expectation failed, 2 bad input or usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything held.
    Ok = 0,
    /// An expectation or check failed.
    Failed = 1,
    /// The input was bad.
    BadInput = 2,
    /// Interrupted (SIGINT, SIGTERM) before anything failed: the results
    /// written are those found so far, not a clean verdict (128 + SIGINT).
    Interrupted = 130,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(outcome as u8)
    }
}

/// Output formats of `run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A summary for people.
    Text,
    /// The JSON result contract (docs/json-contract.md).
    Json,
}

/// Arguments of `privsim run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files, or folders searched recursively for `*.toml` scenarios.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Keep running: run once, then whenever a scenario, policy, schema,
    /// entities, links or shared world file changes, run again the scenarios
    /// that read it (Ctrl-C or SIGTERM stops, exit code 130).
    #[arg(long)]
    pub watch: bool,
    /// Evaluate this `.cedar` file or folder instead of each scenario's `policies`.
    #[arg(long, value_name = "FILE_OR_FOLDER")]
    pub policies: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the output to this file (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also exit 1 when an invariant finding (e.g. a delegation-ceiling violation) is reported.
    #[arg(long)]
    pub fail_on_findings: bool,
    /// Also write every report format into this folder (created if missing):
    /// report.md, report.html, result.json, junit.xml, results.sarif.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Add each scenario's right-sized policy suggestion to the result
    /// (always on with `--report-dir`).
    #[arg(long)]
    pub suggest: bool,
    /// Whether the `[[never]]` rules are also proven.
    #[command(flatten)]
    pub prove: ProveArgs,
    /// The observation window of unused-access findings.
    #[command(flatten)]
    pub window: WindowArgs,
}

/// The observation window of the accounting's unused-access findings
/// (docs/observation.md); each flag replaces the scenario's own key.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WindowArgs {
    /// The window's start: RFC 3339 or an offset from each scenario's
    /// start like `+1d` (default: `[scenario] window_start`, else the first
    /// step's time).
    #[arg(long, value_name = "TIME")]
    pub window_start: Option<String>,
    /// The window's end (default: `[scenario] window_end`, else the last
    /// step's time); after the run, the world is observed up to it.
    #[arg(long, value_name = "TIME")]
    pub window_end: Option<String>,
    /// Held access not used for this long (counting only time it was held)
    /// inside the window is an unused-access finding, e.g. `30d` (default:
    /// `[scenario] unused_after`, else `90d`).
    #[arg(long, value_name = "DURATION")]
    pub unused_after: Option<String>,
}

impl WindowArgs {
    /// The load options these flags make, checked.
    pub fn options(&self) -> Result<privsim::load::ObservationOptions, String> {
        let unused_after = match self.unused_after.as_deref() {
            None => None,
            Some(written) => Some(
                privsim::time::parse_duration(written)
                    .map_err(|message| format!("`--unused-after`: {message}"))?,
            ),
        };
        let options = privsim::load::ObservationOptions {
            start: self.window_start.clone(),
            end: self.window_end.clone(),
            unused_after,
        };
        options.validate()?;
        Ok(options)
    }
}

/// Test-suite formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SuiteFormatArg {
    /// Folders with `policies.cedar` and `ALLOW/` + `DENY/` request folders (cedar-example-use-cases).
    Corpus,
    /// The Cedar CLI's `cedar run-tests` JSON (needs `--policies`).
    RunTests,
    /// The Cedar project's integration-test JSON (cedar-integration-tests).
    Integration,
}

/// Prints a bad-input error with its whole chain and source snippet.
pub fn report_error(error: privsim::Error) -> Outcome {
    let rendered = format!("{:?}", miette::Report::new(error));
    eprintln!("{}", without_controls(&rendered));
    Outcome::BadInput
}

/// A rendered diagnostic without control characters from the input it
/// quotes (a scenario line with NUL, `\r` or ESC sequences that would
/// rewrite the terminal): each becomes U+FFFD. Line breaks stay, and so do
/// the colour sequences (`ESC [ digits ; m`) miette itself writes, which
/// can only change colours.
pub fn without_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c == '\n' || !c.is_control() {
            out.push(c);
            continue;
        }
        if c == '\u{1b}' {
            let rest = &text[at + 1..];
            if let Some(body) = rest.strip_prefix('[')
                && let Some(end) = body.find(|d: char| !(d.is_ascii_digit() || d == ';'))
                && body[end..].starts_with('m')
            {
                out.push('\u{1b}');
                out.push('[');
                out.push_str(&body[..=end]);
                for _ in 0..end + 2 {
                    chars.next();
                }
                continue;
            }
        }
        out.push('\u{FFFD}');
    }
    out
}

/// Writes a run's result as `run` and `fuzz` do: every report into
/// `report_dir` when given, then the chosen format to `output` or standard
/// output. `Err`: the outcome to exit with (the error was printed).
pub fn write_result(
    result: &privsim::RunResult,
    format: Format,
    output: Option<&Path>,
    report_dir: Option<&Path>,
) -> Result<(), Outcome> {
    if let Some(folder) = report_dir
        && write_report_dir(folder, result) != Outcome::Ok
    {
        return Err(Outcome::BadInput);
    }
    let text = match format {
        Format::Text => privsim_reports::text::render(result),
        Format::Json => privsim_reports::json(result),
    };
    emit(output, &text)
}

/// Writes every report format into `folder` as a whole (see
/// [`privsim::output::write_folder`] for what an interrupted write leaves).
pub fn write_report_dir(folder: &std::path::Path, result: &privsim::RunResult) -> Outcome {
    let files = match privsim_reports::render_all(result) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("error: {error}");
            return Outcome::BadInput;
        }
    };
    write_folder(folder, &files)
}

/// Writes report files into `folder` as a whole; a failure is reported and is
/// bad input.
pub fn write_folder(folder: &std::path::Path, files: &[(&str, String)]) -> Outcome {
    match privsim::output::write_folder(folder, files) {
        Ok(()) => Outcome::Ok,
        Err(error) => {
            eprintln!(
                "error: cannot write `{}`: {}",
                error.path.display(),
                error.source
            );
            Outcome::BadInput
        }
    }
}

/// Writes `text` to `path` without following or replacing what it should
/// not ([`privsim::output::write_file`]).
pub fn write_file(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    privsim::output::write_file(path, text.as_bytes())
}

/// Prints `text`, or writes it to `output` ([`write_file`]); a write that
/// fails is reported and is bad input.
pub fn emit(output: Option<&std::path::Path>, text: &str) -> Result<(), Outcome> {
    match output {
        Some(path) => write_file(path, text).map_err(|error| {
            eprintln!("error: cannot write `{}`: {error}", path.display());
            Outcome::BadInput
        }),
        None => print_out(text),
    }
}

/// Writes `text` to standard output. A reader that went away (`privsim run
/// | head -1`) is not an error: the rest of the output is dropped quietly
/// and the run keeps its verdict. Any other failure (a full disk) is
/// reported and is bad input. `print!` would panic on both.
pub fn print_out(text: &str) -> Result<(), Outcome> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => {
            eprintln!("error: cannot write to standard output: {error}");
            Err(Outcome::BadInput)
        }
    }
}

/// Failed when an expectation or access check failed, or when findings
/// should fail the run and there are some.
pub fn verdict(result: &privsim::RunResult, fail_on_findings: bool) -> Outcome {
    if !result.passed() || (fail_on_findings && result.has_findings()) {
        Outcome::Failed
    } else {
        Outcome::Ok
    }
}

/// `--prove`, `--no-prove` and `--prove-timeout` of `run` and `fuzz`: whether
/// the `[[never]]` rules are proven over every world the schema allows.
#[derive(Debug, clap::Args)]
pub struct ProveArgs {
    /// Prove the `[[never]]` rules over every request the schema allows
    /// (needs the cvc5 solver; without it, exit 2). Default: prove when a
    /// solver is found, and say so in every report when none is.
    #[arg(long, conflicts_with = "no_prove")]
    pub prove: bool,
    /// Do not prove (the rules get no verdicts).
    #[arg(long)]
    pub no_prove: bool,
    /// The time limit per solver query, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = privsim::prove::DEFAULT_PER_QUERY_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub prove_timeout: u64,
    /// Keep proven and refuted proof verdicts in this folder, so an
    /// unchanged rule costs no solver call on the next run (default:
    /// `$PRIVSIM_CACHE_DIR/proofs`, else `.privsim/cache/proofs` in the
    /// current folder).
    #[arg(long, value_name = "DIR", conflicts_with = "no_proof_cache")]
    pub proof_cache: Option<PathBuf>,
    /// Do not read or write the proof cache.
    #[arg(long)]
    pub no_proof_cache: bool,
}

/// The proof cache's folder when none is named: `$PRIVSIM_CACHE_DIR/proofs`,
/// else `.privsim/cache/proofs` in the current folder.
pub fn default_proof_cache() -> PathBuf {
    match std::env::var_os("PRIVSIM_CACHE_DIR").filter(|v| !v.is_empty()) {
        Some(folder) => PathBuf::from(folder).join("proofs"),
        None => Path::new(".privsim").join("cache").join("proofs"),
    }
}

/// The proof cache `--proof-cache` / `--no-proof-cache` ask for.
pub fn proof_cache_folder(named: Option<&Path>, disabled: bool) -> Option<PathBuf> {
    if disabled {
        None
    } else {
        Some(named.map_or_else(default_proof_cache, Path::to_path_buf))
    }
}

/// Says on standard error what went wrong with the proof cache: entries
/// that could not be written, and entries ignored (damaged, foreign, or a
/// counterexample Cedar no longer confirms), which were proven anew.
pub fn warn_proof_cache(stats: &privsim::prove::CacheStats) {
    if let Some(error) = &stats.write_error {
        eprintln!(
            "warning: proof verdicts were not cached: {}",
            privsim_reports::escape_control(error)
        );
    }
    if let Some(first) = &stats.first_rejected {
        eprintln!(
            "warning: {} stored proof verdict(s) ignored and proven anew (damaged, of another format, or no longer confirmed by Cedar), e.g. `{}`",
            stats.rejected,
            privsim_reports::escape_control(&first.display().to_string())
        );
    }
}

/// The prover `ProveArgs` ask for: `Ok(None)` when proofs are off or no
/// solver was found (then with the caveat every report gives), exit 2 when
/// `--prove` asked for a missing solver.
pub fn never_prover(args: &ProveArgs) -> Result<NeverProver, privsim::Error> {
    use privsim::gate::proofs;
    let mode = if args.prove {
        proofs::Mode::Required
    } else if args.no_prove {
        proofs::Mode::Off
    } else {
        proofs::Mode::Auto
    };
    let (prover, _) = proofs::prover(&proofs::ProveOptions {
        mode,
        timeout_ms: args.prove_timeout,
        repro_dir: None,
        cache: None,
        timings: None,
    })?;
    let cache = prover
        .as_ref()
        .and(proof_cache_folder(
            args.proof_cache.as_deref(),
            args.no_proof_cache,
        ))
        .map(privsim::prove::ProofCache::new);
    Ok(NeverProver {
        prover,
        cache,
        asked: mode != proofs::Mode::Off,
    })
}

/// What [`never_prover`] found: the prover (none when proofs are off or no
/// solver was found), its cache, and whether proofs were asked for.
pub struct NeverProver {
    prover: Option<privsim::prove::Prover>,
    /// The proof cache, when proving with one.
    pub cache: Option<privsim::prove::ProofCache>,
    asked: bool,
}

/// How the never rules are proven, given [`never_prover`]'s answer.
pub fn proving(prover: &NeverProver) -> privsim::prove::rules::Proving<'_> {
    use privsim::prove::rules::Proving;
    match (&prover.prover, prover.asked) {
        (Some(solver), _) => Proving::With(solver, prover.cache.as_ref()),
        (None, true) => Proving::Unavailable(privsim::gate::model::NO_SOLVER_CAVEAT),
        (None, false) => Proving::Off,
    }
}
