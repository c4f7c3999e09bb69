//! Project automation: `cargo xtask <task>`. Kept free of dependencies so it
//! builds in seconds.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("ci") => run_ci(),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\ntasks:\n  ci    run every check CI runs (fmt, clippy, tests, bench smoke, docs, examples)"
            );
            ExitCode::from(2)
        }
    }
}

/// Runs `.ci/run`, the one list of everything CI checks.
fn run_ci() -> ExitCode {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    match Command::new("bash").arg(root.join(".ci/run")).status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("xtask: CI checks failed ({status})");
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("xtask: cannot start bash: {error}");
            ExitCode::from(2)
        }
    }
}
