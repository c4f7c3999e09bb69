//! Fixtures shared by the integration tests of every crate: write a small
//! world into a fresh folder and evaluate it, find the workspace root, make a
//! temporary folder that removes itself.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

use std::path::{Path, PathBuf};
use std::sync::Once;

use privsim::load::{self as scenario, LoadOptions, Scenario};
use privsim::result::ScenarioResult;

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
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// Makes the workspace root the current directory. Every test that calls it
/// wants the same directory, so running them in parallel is safe.
pub fn from_workspace_root() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::env::set_current_dir(workspace_root()).unwrap());
}

/// A fresh folder, named after the test binary and `name`, removed when dropped.
pub struct TempFolder(pub PathBuf);

impl TempFolder {
    /// Creates the folder, empty.
    pub fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("privsim-{}-{name}-{}", "test", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempFolder(path.canonicalize().unwrap())
    }

    /// The path of `name` inside the folder, as text.
    pub fn join(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A world where `assign` has 81 combinations of context values (nine agents
/// times nine roles), more than the search tries; its policy is
/// [`ADMIN_ASSIGNS`].
pub fn eighty_one_combinations() -> String {
    let mut scenario = String::from(
        r#"
[scenario]
name = "81 combinations"
policies = ["p.cedar"]
start = "2026-06-01T09:00:00Z"

[[entity]]
uid = 'User::"admin"'

[[entity]]
uid = 'Doc::"d"'

[[effect]]
action = 'Action::"assign"'
add_parent = { entity = "context.assignee", parent = "context.role" }

[[step]]
at = "+1m"
principal = 'User::"admin"'
action = 'Action::"assign"'
resource = 'Doc::"d"'
context = { assignee = { __entity = { type = "Agent", id = "a1" } }, role = { __entity = { type = "Role", id = "r1" } } }
expect = "allow"
"#,
    );
    for n in 1..=9 {
        scenario.push_str(&format!(
            "\n[[entity]]\nuid = 'Agent::\"a{n}\"'\n\n[[entity]]\nuid = 'Role::\"r{n}\"'\n"
        ));
    }
    scenario
}

/// The policy of [`eighty_one_combinations`]: the admin assigns anything.
pub const ADMIN_ASSIGNS: &str = r#"@id("admin-assigns") permit (principal == User::"admin", action == Action::"assign", resource);"#;
