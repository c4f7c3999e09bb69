//! `--watch`: a real `privsim run --watch` (and `fuzz --watch`) child process
//! runs again only the scenarios whose files changed, keeps going past a
//! malformed edit, and stops with exit code 130 on SIGTERM or SIGINT.
//!
//! The tests wait for the child's output by polling it (with a generous
//! overall deadline, for a loaded CI machine), never for a fixed time, and a
//! guard kills the child on every path out, so a failure cannot hang CI.
#![expect(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{TempFolder, workspace_root};

/// How long any one wait may take before the test fails: generous, since
/// the machine may be busy building.
const PATIENCE: Duration = Duration::from_secs(180);

/// What the child prints when a run has ended.
const WAITING: &str = "watch: waiting for changes";

/// Copies a folder recursively.
fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Collects a child's stream into a shared string, on its own thread.
fn collect(mut stream: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        let mut buffer = [0_u8; 4096];
        while let Ok(read) = stream.read(&mut buffer) {
            if read == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..read]));
        }
    });
    text
}

/// Where a child's output stood before a change.
struct Mark {
    stdout: usize,
    stderr: usize,
    runs: usize,
}

/// A `privsim … --watch` child with its output collected; dropping it kills
/// the child, so no path out of a test leaves it running.
struct Watching {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Watching {
    fn start(folder: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_privsim"))
            .args(args)
            .current_dir(folder)
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Self {
            child,
            stdout,
            stderr,
        }
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until `done(stdout, stderr)` holds; fails (and the guard kills
    /// the child) when the child exits first or after [`PATIENCE`].
    fn wait_for(&mut self, what: &str, done: impl Fn(&str, &str) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (stdout, stderr) = (self.stdout(), self.stderr());
            if done(&stdout, &stderr) {
                return;
            }
            let exited = self.child.try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                panic!(
                    "{} waiting for {what}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                    match exited {
                        Some(status) => format!("the child exited ({status})"),
                        None => "timed out".to_string(),
                    }
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Where the output stands: its length, and how many runs have ended.
    fn mark(&self) -> Mark {
        Mark {
            stdout: self.stdout().len(),
            stderr: self.stderr().len(),
            runs: self.stderr().matches(WAITING).count(),
        }
    }

    /// Waits until the child's standard output since `mark` holds `expect`
    /// (a summary line: each run prints its whole result in one write, the
    /// summary last) and a run has ended since; returns what it printed on
    /// standard output and standard error since `mark`.
    fn wait_for_run(&mut self, what: &str, mark: &Mark, expect: &str) -> (String, String) {
        self.wait_for(what, |stdout, stderr| {
            stdout
                .get(mark.stdout..)
                .is_some_and(|new| new.contains(expect))
                && stderr.matches(WAITING).count() > mark.runs
        });
        (
            self.stdout()[mark.stdout..].to_string(),
            self.stderr()[mark.stderr..].to_string(),
        )
    }

    /// Sends `signal` and returns the exit code.
    #[cfg(unix)]
    fn stop(&mut self, signal: &str) -> Option<i32> {
        let sent = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "`--watch` did not stop on {signal}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The headers of the runs after the first, one line each.
fn headers(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.contains("scenario(s) again"))
        .collect()
}

/// Appends a rule to a policy file, in place.
fn append(path: &Path, text: &str) {
    let before = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, format!("{before}\n{text}\n")).unwrap();
}

/// Writes a file as editors that save by replacing do: a new file renamed
/// over the old one.
fn replace(path: &Path, text: &str) {
    let saved = path.with_extension("saving");
    std::fs::write(&saved, text).unwrap();
    std::fs::rename(saved, path).unwrap();
}

#[cfg(unix)]
#[test]
fn run_watch_reruns_only_the_scenarios_whose_files_changed_and_survives_a_malformed_edit() {
    let temp = TempFolder::new("watch-run");
    let folder = temp.0.join("example");
    copy(&workspace_root().join("scenarios/mcp-support"), &folder);
    let mut watching = Watching::start(&temp.0, &["run", "--watch", "--no-prove", "example"]);
    let start = watching.mark();
    let (first, _) = watching.wait_for_run("the first run", &start, "2 scenario(s), 0 failed");
    assert!(first.contains("(over-privileged)"), "{first}");
    assert!(first.contains("(least privilege)"), "{first}");

    // The over-privileged policy no longer lets the agent export (saved by
    // replacing the file): its scenario, which expects the export to be
    // allowed, now fails, and only it runs again.
    let mark = watching.mark();
    let policy = folder.join("policies/over-privileged.cedar");
    let text = std::fs::read_to_string(&policy).unwrap();
    replace(&policy, &format!("{text}\n{NO_EXPORT}\n"));
    let (rerun, stderr) = watching.wait_for_run(
        "the run after the first edit",
        &mark,
        "1 scenario(s), 1 failed",
    );
    assert!(
        rerun.contains("FAIL MCP session summarizing acme's tickets (over-privileged)"),
        "{rerun}"
    );
    assert!(!rerun.contains("(least privilege)"), "{rerun}");
    assert!(!rerun.contains("PASS"), "{rerun}");
    assert!(!headers(&stderr).is_empty(), "{stderr}");
    for header in headers(&stderr) {
        assert!(
            header.contains("changed `example/policies/over-privileged.cedar`"),
            "{stderr}"
        );
        assert!(
            header.contains("running 1 scenario(s) again: `example/over-privileged.toml`"),
            "{stderr}"
        );
    }

    // An edit in place to the least-privilege scenario's own policy runs
    // it, not the other one, and its verdict changes too.
    let mark = watching.mark();
    append(
        &folder.join("policies/least-privilege.cedar"),
        "@id(\"no-reads\")\nforbid (principal, action == Action::\"readTicket\", resource);",
    );
    let (rerun, stderr) = watching.wait_for_run(
        "the run after the second edit",
        &mark,
        "1 scenario(s), 1 failed",
    );
    assert!(
        rerun.contains("FAIL MCP session summarizing acme's tickets (least privilege)"),
        "{rerun}"
    );
    assert!(!rerun.contains("(over-privileged)"), "{rerun}");
    assert!(!headers(&stderr).is_empty(), "{stderr}");
    for header in headers(&stderr) {
        assert!(
            header.contains("running 1 scenario(s) again: `example/least-privilege.toml`"),
            "{stderr}"
        );
    }

    // A malformed scenario: its located error, and the watch goes on.
    let scenario = folder.join("least-privilege.toml");
    let good = std::fs::read_to_string(&scenario).unwrap();
    let mark = watching.mark();
    std::fs::write(&scenario, good.replacen("[scenario]", "[scenario", 1)).unwrap();
    let (rerun, stderr) =
        watching.wait_for_run("the run of the malformed scenario", &mark, "0 scenario(s)");
    assert!(!rerun.contains("(over-privileged)"), "{rerun}");
    let located = stderr
        .lines()
        .find_map(|line| line_col(line, "example/least-privilege.toml:"));
    assert_eq!(
        located,
        Some((1, 10)),
        "not located at the unclosed header:\n{stderr}"
    );

    // Fixed again: it runs, and fails as it did before the malformed edit.
    let mark = watching.mark();
    std::fs::write(&scenario, &good).unwrap();
    let (rerun, _) =
        watching.wait_for_run("the run after the fix", &mark, "1 scenario(s), 1 failed");
    assert!(rerun.contains("(least privilege)"), "{rerun}");
    assert!(!rerun.contains("(over-privileged)"), "{rerun}");

    // A new scenario file in the watched folder runs, alone.
    let mark = watching.mark();
    let copied = std::fs::read_to_string(folder.join("over-privileged.toml"))
        .unwrap()
        .replace("(over-privileged)", "(a copy)");
    replace(&folder.join("copy.toml"), &copied);
    let (rerun, stderr) = watching.wait_for_run(
        "the run of a new scenario",
        &mark,
        "1 scenario(s), 1 failed",
    );
    assert!(rerun.contains("(a copy)"), "{rerun}");
    assert!(!rerun.contains("(over-privileged)"), "{rerun}");
    assert!(!rerun.contains("(least privilege)"), "{rerun}");
    assert!(stderr.contains("`example/copy.toml`"), "{stderr}");

    assert_eq!(watching.stop("-TERM"), Some(130), "{}", watching.stderr());
    watching.wait_for_output_end();
    assert!(
        watching.stderr().ends_with("watch: stopped\n"),
        "{}",
        watching.stderr()
    );
}

/// The over-privileged scenario expects its export to be allowed.
const NO_EXPORT: &str =
    "@id(\"no-export\")\nforbid (principal, action == Action::\"exportCustomers\", resource);";

/// `(line, col)` after `prefix` (`path:`) in a line of an error.
fn line_col(line: &str, prefix: &str) -> Option<(u32, u32)> {
    let after = &line[line.find(prefix)? + prefix.len()..];
    let mut parts = after.split(|c: char| !c.is_ascii_digit());
    let line = parts.next()?.parse().ok()?;
    let col = parts.next()?.parse().ok()?;
    Some((line, col))
}

impl Watching {
    /// Waits until both output streams are closed (the child has exited
    /// and the reader threads have everything).
    fn wait_for_output_end(&self) {
        let deadline = Instant::now() + PATIENCE;
        while Arc::strong_count(&self.stdout) + Arc::strong_count(&self.stderr) > 2 {
            assert!(Instant::now() < deadline, "the output did not end");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the child exits by itself and returns its exit code.
    fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "the child did not exit:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[cfg(unix)]
#[test]
fn fuzz_watch_searches_again_only_the_scenario_whose_policy_changed_and_stops_on_ctrl_c() {
    let temp = TempFolder::new("watch-fuzz");
    let folder = temp.0.join("example");
    copy(&workspace_root().join("scenarios/mcp-support"), &folder);
    let args = [
        "fuzz",
        "--watch",
        "--no-prove",
        "--no-repro",
        "--jobs",
        "1",
        "--max-steps",
        "200",
        "example",
    ];
    let mut watching = Watching::start(&temp.0, &args);
    // Each scenario is searched and printed on its own.
    watching.wait_for("the first search", |stdout, stderr| {
        stderr.contains(WAITING)
            && stdout.contains("(over-privileged)")
            && stdout.contains("(least privilege)")
    });
    let mark = watching.mark();
    append(&folder.join("policies/over-privileged.cedar"), NO_EXPORT);
    let (rerun, stderr) = watching.wait_for_run(
        "the search after the edit",
        &mark,
        "1 scenario(s), 1 failed",
    );
    assert!(rerun.contains("(over-privileged)"), "{rerun}");
    assert!(!rerun.contains("(least privilege)"), "{rerun}");
    assert!(!headers(&stderr).is_empty(), "{stderr}");
    for header in headers(&stderr) {
        assert!(
            header.contains("running 1 scenario(s) again: `example/over-privileged.toml`"),
            "{stderr}"
        );
    }
    assert_eq!(watching.stop("-INT"), Some(130), "{}", watching.stderr());
    watching.wait_for_output_end();
    assert!(
        watching.stderr().ends_with("watch: stopped\n"),
        "{}",
        watching.stderr()
    );
}

#[test]
fn watch_refuses_output_files_standard_input_and_missing_paths() {
    let temp = TempFolder::new("watch-refuses");
    copy(
        &workspace_root().join("scenarios/mcp-support"),
        &temp.0.join("example"),
    );
    for args in [
        &["run", "--watch", "--output", "out.json", "example"][..],
        &["run", "--watch", "--report-dir", "reports", "example"],
        &["fuzz", "--watch", "--output", "out.json", "example"],
        &["fuzz", "--watch", "--report-dir", "reports", "example"],
        &["run", "--watch", "-"],
        &["fuzz", "--watch", "example", "no-such-folder"],
    ] {
        // A guard: were the combination accepted, the watch would not end.
        let mut watching = Watching::start(&temp.0, args);
        assert_eq!(
            watching.exit_code(),
            Some(2),
            "{args:?}: {}",
            watching.stderr()
        );
        watching.wait_for_output_end();
        let stderr = watching.stderr();
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stderr.contains("help: "), "{args:?}: {stderr}");
        assert!(watching.stdout().is_empty(), "{args:?}");
        assert!(!temp.0.join("out.json").exists() && !temp.0.join("reports").exists());
    }
}
