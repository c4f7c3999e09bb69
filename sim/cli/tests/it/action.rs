//! The GitHub Action (`action.yml`, `action/steps.sh`) run locally: the
//! same shell steps, in the order `action.yml` lists them, against a sample
//! repository with a policy change, the way the runner would (step outputs in
//! `GITHUB_OUTPUT`, `GITHUB_PATH` prepended to `PATH`, the job summary in
//! `GITHUB_STEP_SUMMARY`). Only two things differ from GitHub: the `uses:`
//! steps (the cache and the SARIF upload) are GitHub's own actions and are
//! not run, and the build step takes the `privsim` this test suite built
//! (`PRIVSIM_BIN`) instead of running a release build inside a test.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// The steps `action.yml` runs through `action/steps.sh`, in order, with the
/// `if:` of each (if any).
fn action_steps() -> Vec<(String, Option<String>)> {
    let text = std::fs::read_to_string(workspace_root().join("action.yml")).unwrap();
    let mut steps = Vec::new();
    let mut condition = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("- ") {
            condition = None;
        }
        let line = line.trim_start_matches("- ");
        if let Some(rest) = line.strip_prefix("if: ") {
            condition = Some(rest.to_string());
        }
        if let Some(command) = line.strip_prefix("run: ") {
            let step = command
                .strip_prefix("bash \"$GITHUB_ACTION_PATH/action/steps.sh\" ")
                .unwrap_or_else(|| panic!("a run step that is not steps.sh: {command}"));
            steps.push((step.to_string(), condition.take()));
        }
    }
    steps
}

/// A runner for one job: its files, and the environment every step sees.
struct Job {
    repo: PathBuf,
    files: PathBuf,
    inputs: BTreeMap<&'static str, String>,
}

struct Step {
    code: i32,
    stdout: String,
    outputs: BTreeMap<String, String>,
}

impl Job {
    fn file(&self, name: &str) -> PathBuf {
        self.files.join(name)
    }

    /// Runs one step of `steps.sh` as the runner would.
    fn run(&self, step: &str) -> Step {
        let output_file = self.file(&format!("output-{step}"));
        std::fs::write(&output_file, "").unwrap();
        let added: String = std::fs::read_to_string(self.file("path")).unwrap_or_default();
        let mut path: Vec<String> = added.lines().rev().map(str::to_string).collect();
        path.push(std::env::var("PATH").unwrap_or_default());
        let output = Command::new("bash")
            .arg(workspace_root().join("action/steps.sh"))
            .arg(step)
            .current_dir(&self.repo)
            .env("PATH", path.join(":"))
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTION_PATH", workspace_root())
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_PATH", self.file("path"))
            .env("GITHUB_STEP_SUMMARY", self.file("summary.md"))
            .env("RUNNER_OS", "Linux")
            .env("PRIVSIM_BIN", env!("CARGO_BIN_EXE_privsim"))
            .env("NO_COLOR", "1")
            .envs(self.inputs.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        let outputs = std::fs::read_to_string(&output_file)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Step {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned() + &stderr,
            outputs,
        }
    }

    /// Runs every step of `action.yml` in order; returns the check step's
    /// outputs and the exit code of the last step.
    fn run_action(&mut self) -> (Step, i32) {
        let mut check = None;
        let mut last = 0;
        for (step, condition) in action_steps() {
            if condition.as_deref() == Some("${{ inputs.prove == 'true' }}")
                && self.inputs["PRIVSIM_PROVE"] != "true"
            {
                continue;
            }
            let ran = self.run(&step);
            last = ran.code;
            if step == "check" {
                self.inputs
                    .insert("PRIVSIM_VERDICT", ran.outputs["verdict"].clone());
                self.inputs
                    .insert("PRIVSIM_EXIT_CODE", ran.outputs["exit-code"].clone());
                check = Some(ran);
            } else if step != "verdict" {
                assert_eq!(ran.code, 0, "step {step}: {}", ran.stdout);
            }
        }
        (check.unwrap(), last)
    }
}

fn git(folder: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=privsim test",
            "-c",
            "user.email=test@example.com",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.hooksPath=/dev/null",
        ])
        .args(["-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(folder)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .unwrap();
    assert!(status.success(), "git {}", args.join(" "));
}

#[test]
fn action_yml_runs_its_shell_steps_through_steps_sh() {
    let steps: Vec<String> = action_steps().into_iter().map(|(s, _)| s).collect();
    assert_eq!(steps, ["cache-key", "build", "solver", "check", "verdict"]);
    // Every input the script reads is mapped in action.yml.
    let yml = std::fs::read_to_string(workspace_root().join("action.yml")).unwrap();
    let script = std::fs::read_to_string(workspace_root().join("action/steps.sh")).unwrap();
    for variable in [
        "PRIVSIM_SCENARIOS",
        "PRIVSIM_BASELINE",
        "PRIVSIM_CONFIG",
        "PRIVSIM_FORMAT",
        "PRIVSIM_REPORT_DIR",
        "PRIVSIM_PROVE",
        "PRIVSIM_VERDICT",
        "PRIVSIM_EXIT_CODE",
        "PRIVSIM_FAIL_ON_VERDICT",
    ] {
        assert!(
            script.contains(variable),
            "steps.sh does not read {variable}"
        );
        assert!(
            yml.contains(&format!("{variable}: ${{{{")),
            "action.yml does not set {variable}"
        );
    }
}

/// A sample repository whose pull request widens a policy: the action's
/// steps fail the job with verdict `fail`, write the summary and SARIF that
/// points at the policy; with the change reverted they pass.
#[test]
fn action_steps_gate_a_policy_change_locally() {
    let temp = TempFolder::new("action");
    let repo = temp.0.join("repo");
    let files = temp.0.join("runner");
    std::fs::create_dir_all(repo.join("support/policies")).unwrap();
    std::fs::create_dir_all(&files).unwrap();
    let fixture = workspace_root().join("sim/tests/check/support");
    std::fs::copy(
        fixture.join("scenario.toml"),
        repo.join("support/scenario.toml"),
    )
    .unwrap();
    let policy = repo.join("support/policies/base.cedar");
    std::fs::copy(fixture.join("policies/base.cedar"), &policy).unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "baseline"]);
    // The pull request: a wider policy.
    std::fs::copy(fixture.join("policies/wider.cedar"), &policy).unwrap();

    let inputs = BTreeMap::from([
        ("PRIVSIM_SCENARIOS", "support/".to_string()),
        ("PRIVSIM_BASELINE", "git:HEAD".to_string()),
        ("PRIVSIM_CONFIG", String::new()),
        ("PRIVSIM_FORMAT", "text".to_string()),
        ("PRIVSIM_REPORT_DIR", "privsim-check".to_string()),
        ("PRIVSIM_PROVE", "false".to_string()),
        ("PRIVSIM_FAIL_ON_VERDICT", "true".to_string()),
    ]);
    let mut job = Job {
        repo: repo.clone(),
        files: files.clone(),
        inputs,
    };

    let key = job.run("cache-key");
    assert!(
        key.outputs["key"].starts_with("privsim-Linux-"),
        "{:?}",
        key.outputs
    );
    assert!(key.outputs["key"].starts_with(&key.outputs["restore-key"]));

    let (check, last) = job.run_action();
    assert_eq!(check.outputs["verdict"], "fail", "{}", check.stdout);
    assert_eq!(check.outputs["exit-code"], "1");
    assert_eq!(last, 1, "the verdict step fails the job");
    // Annotations for the runner, the summary, and SARIF at the policy file.
    assert!(check.stdout.contains("::error"), "{}", check.stdout);
    let summary = std::fs::read_to_string(files.join("summary.md")).unwrap();
    assert!(
        summary.contains("new-access") || summary.contains("New access"),
        "{summary}"
    );
    let sarif_path = repo.join(&check.outputs["sarif"]);
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif_path).unwrap()).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty(), "{sarif:#}");
    assert!(
        sarif.to_string().contains("support/policies/base.cedar"),
        "{sarif:#}"
    );

    // `fail-on-verdict: false` only sets the outputs.
    job.inputs
        .insert("PRIVSIM_FAIL_ON_VERDICT", "false".to_string());
    assert_eq!(job.run("verdict").code, 0);
    job.inputs
        .insert("PRIVSIM_FAIL_ON_VERDICT", "true".to_string());

    // Without the change the gate passes (a fresh job summary: privsim
    // appends to it, as the runner expects).
    git(&repo, &["checkout", "-q", "--", "."]);
    std::fs::remove_file(files.join("summary.md")).unwrap();
    let (check, last) = job.run_action();
    assert_eq!(check.outputs["verdict"], "pass", "{}", check.stdout);
    assert_eq!(last, 0);
}
