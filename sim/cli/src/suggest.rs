//! `privsim suggest`: right-sized policies per principal, verified by replay
//! before they are printed or written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use privsim::LoadOptions;
use privsim::gate::proofs;
use privsim::load as scenario;
use privsim::model::suggest::{Status, SuggestRun};
use privsim::suggest;

use crate::cli::{Format, Outcome, report_error, write_file};

/// Arguments of `privsim suggest`.
#[derive(Debug, clap::Args)]
pub struct SuggestArgs {
    /// Scenario files, or folders searched recursively for `*.toml` scenarios.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Suggest from this `.cedar` file or folder instead of each scenario's `policies`.
    #[arg(long, value_name = "FILE_OR_FOLDER")]
    pub policies: Option<PathBuf>,
    /// Write each verified suggestion to `DIR/<scenario>.cedar` (atomically).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Output format (`json`: the document described in docs/suggest.md).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also keep what the scenario's `[[access]]` assertions require (by default
    /// a suggestion allows exactly what the steps use).
    #[arg(long)]
    pub keep_access: bool,
    /// Right-size only these principals or types (`Agent`, `Helpdesk::Agent`
    /// or `Agent::"bot"`; repeatable); the others keep exactly their access.
    #[arg(long, value_name = "PRINCIPAL_OR_TYPE")]
    pub only: Vec<String>,
    /// How used pairs become permits: `agent` (the default: one permit per
    /// principal and action group), `task` (principals whose sessions share
    /// a task share permits), `resource-type` (`resource is T` where every
    /// held resource of T was used), `parent` (`resource in P` likewise).
    #[arg(long, value_name = "MODE", default_value = "agent", value_parser = parse_group)]
    pub group: suggest::Group,
    /// Narrow each suggested permit to the delegators its uses were made
    /// for, where the scenario exposes the delegator to policies.
    #[arg(long)]
    pub by_delegator: bool,
    /// Prove each suggestion allows nothing the candidate does not, in every
    /// world the schema allows (needs the cvc5 solver; without it, exit 2).
    /// Default: prove when a solver is found.
    #[arg(long, conflicts_with = "no_prove")]
    pub prove: bool,
    /// Do not prove (verify by replay only).
    #[arg(long)]
    pub no_prove: bool,
    /// The solver's time limit per query, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = privsim::prove::DEFAULT_PER_QUERY_MS)]
    pub prove_timeout: u64,
}

fn parse_group(text: &str) -> Result<suggest::Group, String> {
    suggest::group::parse(text)
}

/// Suggests, verifies, writes and prints.
pub fn run(args: &SuggestArgs) -> Outcome {
    let options = LoadOptions {
        policies: args.policies.clone(),
        ..LoadOptions::default()
    };
    let mode = if args.prove {
        proofs::Mode::Required
    } else if args.no_prove {
        proofs::Mode::Off
    } else {
        proofs::Mode::Auto
    };
    let (prover, view) = match proofs::prover(&proofs::ProveOptions {
        mode,
        timeout_ms: args.prove_timeout,
        ..proofs::ProveOptions::default()
    }) {
        Ok(found) => found,
        Err(error) => return report_error(error),
    };
    let no_solver = view.and_then(|v| v.caveat);
    let mut only = Vec::new();
    for text in &args.only {
        match suggest::Selector::parse(text) {
            Ok(selector) => only.push(selector),
            Err(message) => {
                eprintln!("error: invalid `--only`: {message}");
                return Outcome::BadInput;
            }
        }
    }
    let mut suggestions = Vec::new();
    // The principals that take a step, over every scenario: a `--only` that
    // selects none of them is a mistake (`Agent::bot` reads as a type), not
    // a run with nothing to right-size.
    let mut acting = std::collections::BTreeSet::new();
    for path in &args.paths {
        let files = match scenario::discover(path) {
            Ok(files) => files,
            Err(error) => return report_error(error),
        };
        let options = options.under(path);
        for file in files {
            match scenario::load(&file, &options) {
                Ok(loaded) => {
                    acting.extend(loaded.steps.iter().map(|step| step.principal.clone()));
                    let mut suggestion = suggest::suggest_with(
                        &loaded,
                        suggest::Options {
                            keep_access: args.keep_access,
                            only: only.clone(),
                            group: args.group,
                            by_delegator: args.by_delegator,
                        },
                    );
                    if let Some(prover) = &prover {
                        suggest::proof::prove(prover, &loaded, &mut suggestion);
                    } else if let Some(why) = &no_solver {
                        suggest::proof::skip(&mut suggestion, why);
                    }
                    suggestions.push(suggestion);
                }
                Err(error) => return report_error(error),
            }
        }
    }
    if let Some(message) = suggest::only_selects_nobody(&only, &acting) {
        eprintln!("error: {message}");
        return Outcome::BadInput;
    }
    let mut run = SuggestRun::new(suggestions);
    if let Some(folder) = &args.out
        && let Err(message) = write_all(folder, &mut run)
    {
        eprintln!("error: {message}");
        return Outcome::BadInput;
    }
    let text = match args.format {
        Format::Text => privsim_reports::suggest::render_text(&run, args.out.is_none()),
        Format::Json => privsim_reports::suggest::render_json(&run),
    };
    if let Err(outcome) = crate::cli::print_out(&text) {
        return outcome;
    }
    if run.verified() {
        Outcome::Ok
    } else {
        Outcome::Failed
    }
}

/// Writes every verified suggestion into `folder`, one file per scenario,
/// named after the scenario file (with its folder's name in front when two
/// scenarios share a file name).
fn write_all(folder: &Path, run: &mut SuggestRun) -> Result<(), String> {
    std::fs::create_dir_all(folder)
        .map_err(|e| format!("cannot create `{}`: {e}", folder.display()))?;
    let stem = |file: &str| {
        Path::new(file).file_stem().map_or_else(
            || "scenario".to_string(),
            |s| s.to_string_lossy().into_owned(),
        )
    };
    let mut stems: BTreeMap<String, usize> = BTreeMap::new();
    for scenario in &run.scenarios {
        *stems.entry(stem(&scenario.file)).or_default() += 1;
    }
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    for scenario in &mut run.scenarios {
        let mut name = stem(&scenario.file);
        if stems.get(&name).copied().unwrap_or(0) > 1
            && let Some(parent) = Path::new(&scenario.file).parent().and_then(Path::file_name)
        {
            name = format!("{}-{name}", parent.to_string_lossy());
        }
        let count = used.entry(name.clone()).or_default();
        *count += 1;
        if *count > 1 {
            name = format!("{name}-{count}");
        }
        if scenario.status != Status::Verified {
            continue;
        }
        let path = folder.join(format!("{name}.cedar"));
        write_file(&path, &scenario.policies)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        scenario.output = Some(path.display().to_string());
    }
    Ok(())
}
