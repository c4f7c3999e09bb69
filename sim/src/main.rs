//! The `privsim` command line: parses arguments and dispatches to one module per
//! subcommand under `cli/`.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    cli::dispatch(args)
}
