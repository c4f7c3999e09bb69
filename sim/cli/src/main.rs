//! The `privsim` command line: parses arguments and dispatches to one module per
//! subcommand (`run.rs`, `fuzz.rs`, `check.rs`, `suggest.rs`, `import.rs`,
//! `report.rs`, `init.rs`, `schema.rs`); `progress.rs` shows where a long run is; `cli.rs` holds the arguments and output helpers they share (and names no subcommand).

mod check;
mod cli;
mod fuzz;
mod import;
mod init;
mod progress;
mod report;
mod run;
mod schema;
mod suggest;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cli::RunArgs;
use import::ImportArgs;

/// The allocator: jemalloc rather than the system's (except on MSVC, where
/// it does not build). Building, checking and dropping one Cedar request per
/// logged line or search move allocates many small, short-lived values; with
/// glibc's malloc and free about 30% of `privsim import log` went to them
/// (`BENCHMARKS.md`). `benches/lib.rs` makes the same choice, so the
/// benchmarks time what this binary runs.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Policy simulation and testing for least privilege.
#[derive(Debug, Parser)]
#[command(name = "privsim", version, about)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay scenarios against their (or the given) Cedar policies.
    Run(RunArgs),
    /// Turn Cedar test suites into scenarios (write them with `--out`, or replay
    /// them); `import mcp`: an MCP tool list into a Cedar schema; `import log`: a
    /// request log into a scenario.
    Import(ImportArgs),
    /// Suggest right-sized policies per principal, verified by replaying the scenario.
    Suggest(suggest::SuggestArgs),
    /// Search scenarios for escalation paths (sequences of allowed steps that
    /// break an invariant); writes a repro scenario per finding.
    Fuzz(fuzz::FuzzArgs),
    /// Render a stored JSON result (`run --format json`, or a report folder's `result.json`).
    Report(report::ReportArgs),
    /// CI gate: compare baseline and candidate policies on every scenario and
    /// fail on new access, broken workflows, new escalations (docs/check.md).
    Check(check::CheckArgs),
    /// Write a starter scenario folder that passes `privsim run` as written
    /// (docs/init.md).
    Init(init::InitArgs),
    /// Print the JSON Schema of a scenario file or of `privsim-gate.toml`, for
    /// editor completion (a `#:schema` line; docs/scenario-format.md).
    Schema(schema::SchemaArgs),
}

/// Runs the chosen subcommand and maps its outcome to an exit code.
pub fn dispatch(args: Args) -> ExitCode {
    let outcome = match args.command {
        Command::Run(run) => run::run(&run),
        Command::Import(import) => import::run(&import),
        Command::Suggest(suggest) => suggest::run(&suggest),
        Command::Report(report) => report::run(&report),
        Command::Fuzz(fuzz) => fuzz::run(&fuzz),
        Command::Check(check) => check::run(&check),
        Command::Init(init) => init::run(&init),
        Command::Schema(schema) => schema::run(&schema),
    };
    outcome.into()
}

fn main() -> ExitCode {
    dispatch(Args::parse())
}
