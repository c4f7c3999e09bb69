//! Helpers shared by the integration tests: write a small world into a fresh
//! folder and evaluate it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    reason = "test helpers fail loudly; not every test uses every helper"
)]

use std::path::{Path, PathBuf};
use std::sync::Once;

use privsim::result::ScenarioResult;
use privsim::scenario::{self, LoadOptions, Scenario};

/// Writes the files into a fresh folder named after the test and returns the
/// path of its `scenario.toml`.
pub fn write_world(test: &str, files: &[(&str, &str)]) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("privsim-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    for (name, text) in files {
        std::fs::write(folder.join(name), text).unwrap();
    }
    folder.join("scenario.toml")
}

/// Loads the scenario, failing the test with the rendered error. The folder is
/// removed afterwards: a loaded scenario holds everything in memory.
pub fn load(test: &str, files: &[(&str, &str)]) -> Scenario {
    let path = write_world(test, files);
    let loaded = scenario::load(&path, &LoadOptions::default());
    if let Some(folder) = path.parent() {
        let _ = std::fs::remove_dir_all(folder);
    }
    loaded.unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
}

/// Replays without accounting.
pub fn replay(test: &str, files: &[(&str, &str)]) -> ScenarioResult {
    privsim::replay::replay(&load(test, files))
}

/// Replays and accounts.
pub fn evaluate(test: &str, files: &[(&str, &str)]) -> ScenarioResult {
    privsim::evaluate(&load(test, files))
}

/// The workspace root, which holds `scenarios/` and `reports/`.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate lives in the workspace")
        .canonicalize()
        .expect("the workspace root exists")
}

/// Makes the workspace root the current directory. Every test that calls it
/// wants the same directory, so running them in parallel is safe.
pub fn from_workspace_root() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::env::set_current_dir(workspace_root()).unwrap());
}
