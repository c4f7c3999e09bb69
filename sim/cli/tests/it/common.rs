//! Helpers of the command-line tests: run the built `privsim` binary and
//! check its exit code; the fixtures every crate's tests share come from
//! `privsim_testkit::fixtures`.
#![expect(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::path::Path;
use std::process::Command;

pub use privsim_testkit::fixtures::*;

/// A message as miette printed it, with its wrapping undone: no whitespace
/// and no frame characters. Compare both sides through it: miette wraps at
/// spaces and after hyphens, and where depends on the width of what comes
/// before, such as a temporary path that holds the process id.
pub fn unwrapped(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '│')
        .collect()
}

/// What one run of the `privsim` binary printed.
pub struct Run {
    pub stdout: String,
    pub stderr: String,
}

/// The wall-clock time the binary's reports show in tests
/// (`SOURCE_DATE_EPOCH`, whole seconds): 2026-12-02T12:00:00Z.
pub const RUN_EPOCH: &str = "1796212800";

/// [`RUN_EPOCH`] as JUnit writes it.
pub const RUN_AT: &str = "2026-12-02T12:00:00";

/// Runs `privsim <args>` in `folder` (without colour, and outside GitHub
/// Actions whatever the environment says); returns the exit code (-1 when
/// killed by a signal), standard output and standard error, and checks that
/// it did not panic and printed UTF-8.
pub fn privsim_in(folder: &Path, args: &[&str]) -> (i32, String, String) {
    // `check`, `suggest`, `fuzz` and `run` prove by default when cvc5 is installed; their
    // snapshots are of the simulation, so runs prove only when a test asks
    // (`--prove`).
    let no_prove = matches!(args.first(), Some(&"check" | &"suggest" | &"fuzz" | &"run"))
        && args.get(1) != Some(&"merge")
        && !args.contains(&"--prove");
    // The proof cache is on by default; a test uses one only when it names
    // its folder, so no run reads what another wrote.
    let no_cache = matches!(args.first(), Some(&"check" | &"fuzz" | &"run"))
        && args.get(1) != Some(&"merge")
        && !args.contains(&"--proof-cache")
        && !args.contains(&"--no-proof-cache");
    let output = Command::new(env!("CARGO_BIN_EXE_privsim"))
        .args(args)
        .args(no_prove.then_some("--no-prove"))
        .args(no_cache.then_some("--no-proof-cache"))
        .current_dir(folder)
        .env("NO_COLOR", "1")
        .env("PRIVSIM_PROGRESS", "never")
        .env("SOURCE_DATE_EPOCH", RUN_EPOCH)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        stderr,
    )
}

/// [`privsim_in`], checking the exit code.
pub fn check_in(folder: &Path, args: &[&str], expected_code: i32) -> Run {
    let (code, stdout, stderr) = privsim_in(folder, args);
    let run = Run { stdout, stderr };
    assert_eq!(
        code,
        expected_code,
        "privsim {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        run.stdout,
        run.stderr
    );
    run
}

/// [`check_in`] the workspace root, which the example scenarios' and the
/// fixtures' paths are relative to.
pub fn check(args: &[&str], expected_code: i32) -> Run {
    check_in(&workspace_root(), args, expected_code)
}

/// Copies `from` to `to`: a file, or a folder with everything in it.
pub fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}
