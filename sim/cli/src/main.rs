//! The `privsim` command line: parses arguments and dispatches to one module per
//! subcommand (`run.rs`, `fuzz.rs`, `check.rs`, `suggest.rs`, `import.rs`,
//! `report.rs`, `init.rs`, `schema.rs`); `progress.rs` shows where a long run is; `cli.rs` holds the arguments and output helpers they share.

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

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    cli::dispatch(args)
}
