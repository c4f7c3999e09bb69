//! Regressions of the attack sweep (issue 14): writes that followed or
//! replaced what they should not, crashes on hostile input, and control
//! characters that reached the output. Each test is named for what broke.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{TempFolder, check, privsim_in, workspace_root};

const LEAST: &str = "scenarios/mcp-support/least-privilege.toml";

fn names(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn output_onto_a_symlink_replaced_the_link() {
    let folder = TempFolder::new("output-symlink");
    let victim = folder.0.join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    let link = folder.0.join("out.json");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let run = check(
        &[
            "run",
            LEAST,
            "--format",
            "json",
            "--output",
            link.to_str().unwrap(),
        ],
        2,
    );
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert!(run.stderr.contains("out.json"), "{}", run.stderr);
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert_eq!(
        names(&folder.0),
        ["out.json", "victim.txt"],
        "no stray files"
    );
}

#[test]
fn output_onto_a_fifo_replaced_the_pipe_with_a_file() {
    let folder = TempFolder::new("output-fifo");
    let fifo = folder.0.join("pipe");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // A reader, as `tee` would have: privsim writes into the pipe directly.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let run = check(
        &[
            "run",
            LEAST,
            "--format",
            "json",
            "--output",
            fifo.to_str().unwrap(),
        ],
        0,
    );
    assert!(run.stdout.is_empty());
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo(),
        "the pipe is still a pipe"
    );
    let expected = check(&["run", LEAST, "--format", "json"], 0).stdout;
    assert_eq!(reader.join().unwrap(), expected);
}

#[test]
fn output_onto_a_folder_is_refused() {
    let folder = TempFolder::new("output-folder");
    let run = check(&["run", LEAST, "--output", folder.0.to_str().unwrap()], 2);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
}

#[test]
fn output_keeps_the_permissions_of_the_file_it_replaces() {
    use std::os::unix::fs::PermissionsExt;
    let folder = TempFolder::new("output-mode");
    let file = folder.0.join("out.json");
    std::fs::write(&file, "old").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    check(&["run", LEAST, "--output", file.to_str().unwrap()], 0);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    assert_ne!(std::fs::read_to_string(&file).unwrap(), "old");
}

#[test]
fn report_dir_replaced_a_planted_symlink() {
    let folder = TempFolder::new("report-dir-symlink");
    let victim = folder.0.join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    let reports = folder.0.join("reports");
    std::fs::create_dir(&reports).unwrap();
    std::fs::write(reports.join("report.md"), "old report").unwrap();
    std::os::unix::fs::symlink(&victim, reports.join("report.html")).unwrap();
    let run = check(
        &["run", LEAST, "--report-dir", reports.to_str().unwrap()],
        2,
    );
    assert!(run.stderr.contains("report.html"), "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    // Refused as a whole: nothing replaced, nothing left behind.
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert_eq!(
        std::fs::read_to_string(reports.join("report.md")).unwrap(),
        "old report"
    );
    assert_eq!(names(&reports), ["report.html", "report.md"]);
    assert_eq!(
        names(&folder.0),
        ["reports", "victim.txt"],
        "no staging folder left"
    );
}

#[test]
fn report_dir_is_written_whole_with_no_staging_left() {
    let folder = TempFolder::new("report-dir-whole");
    let reports = folder.0.join("new");
    check(
        &["run", LEAST, "--report-dir", reports.to_str().unwrap()],
        0,
    );
    assert_eq!(
        names(&reports),
        [
            "junit.xml",
            "report.html",
            "report.md",
            "result.json",
            "results.sarif"
        ]
    );
    assert_eq!(names(&folder.0), ["new"], "no staging folder beside it");
    // A second run replaces the files in the existing folder, again leaving nothing else.
    std::fs::write(reports.join("notes.txt"), "mine").unwrap();
    check(
        &["run", LEAST, "--report-dir", reports.to_str().unwrap()],
        0,
    );
    assert_eq!(
        names(&reports),
        [
            "junit.xml",
            "notes.txt",
            "report.html",
            "report.md",
            "result.json",
            "results.sarif"
        ]
    );
    assert_eq!(names(&folder.0), ["new"]);
}

#[test]
fn writing_to_a_closed_pipe_panicked() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_privsim"))
        .args(["run", "scenarios/"])
        .current_dir(workspace_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end at once, as `| head -0` would.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !stderr.contains("error"),
        "quiet on a broken pipe: {stderr}"
    );
    assert_ne!(output.status.code(), Some(101), "{stderr}");
}

#[test]
fn writing_to_a_full_disk_panicked() {
    let full = std::fs::File::options()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_privsim"))
        .args(["run", LEAST])
        .current_dir(workspace_root())
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot write to standard output"),
        "{stderr}"
    );
}

#[test]
fn fuzz_time_1e308_panicked() {
    let (code, _, stderr) = privsim_in(
        &workspace_root(),
        &["fuzz", LEAST, "--no-repro", "--time", "1e308"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`--time"), "{stderr}");
}

/// The example's folder copied, with `hostile.toml` added beside it.
fn hostile_world(test: &str, scenario: &str) -> TempFolder {
    let folder = TempFolder::new(test);
    let example = workspace_root().join("scenarios/mcp-support");
    for name in ["entities.json", "schema.cedarschema"] {
        std::fs::copy(example.join(name), folder.0.join(name)).unwrap();
    }
    std::fs::create_dir(folder.0.join("policies")).unwrap();
    std::fs::copy(
        example.join("policies/least-privilege.cedar"),
        folder.0.join("policies/least-privilege.cedar"),
    )
    .unwrap();
    std::fs::write(folder.0.join("hostile.toml"), scenario).unwrap();
    folder
}

fn hostile_scenario(session: &str, name: &str, resource: &str) -> String {
    format!(
        r#"[scenario]
name = "hostile\u001b]0;owned\u0007"
policies = ["policies/least-privilege.cedar"]
schema = "schema.cedarschema"
entities = "entities.json"
start = "2026-06-01T09:00:00Z"

[facts]
now = "now"
delegator = "delegator"
task = "task"

[[session]]
id = "{session}"
principal = 'Agent::"triage-bot"'
on_behalf_of = 'User::"alice"'
task = "summarize"
context = {{ scopes = ["tickets:read"] }}

[[step]]
name = "{name}"
at = "+1m"
session = "{session}"
action = 'Action::"readTicket"'
resource = '{resource}'
expect = "allow"
"#
    )
}

/// No byte of the output can start a GitHub workflow command or rewrite a terminal.
fn assert_inert(output: &str, what: &str) {
    assert!(!output.contains('\u{1b}'), "ESC in {what}:\n{output}");
    assert!(!output.contains('\u{7}'), "BEL in {what}:\n{output}");
    assert!(
        !output.lines().any(|l| l.trim_start().starts_with("::")),
        "a line of {what} starts a workflow command:\n{output}"
    );
}

#[test]
fn control_characters_in_ids_reached_text_junit_and_sarif() {
    let name = r"x\n::stop-commands::token\u001b[2J[click](http://evil.example)";
    let folder = hostile_world(
        "hostile-ids",
        &hostile_scenario(
            r"tri\u001b[31mage\r\n::error::fake",
            name,
            r#"Ticket::"T-9""#,
        ),
    );
    let run = crate::common::check_in(&folder.0, &["run", "hostile.toml"], 1);
    assert_inert(&run.stdout, "run's text");
    assert!(
        run.stdout.contains(r"x ::stop-commands::token\u{1b}[2J"),
        "{}",
        run.stdout
    );
    let json = crate::common::check_in(&folder.0, &["run", "hostile.toml", "--format", "json"], 1);
    std::fs::write(folder.0.join("result.json"), &json.stdout).unwrap();
    for format in ["md", "html", "junit", "sarif"] {
        let report =
            crate::common::check_in(&folder.0, &["report", "result.json", "--format", format], 1);
        assert_inert(&report.stdout, format);
        if format == "sarif" {
            assert!(
                !report.stdout.contains("[click](http"),
                "a live embedded link in SARIF text:\n{}",
                report.stdout
            );
        }
    }
}

#[test]
fn ids_of_65535_characters_panicked_the_text_report() {
    let long = "T".repeat(70_000);
    let folder = hostile_world(
        "long-ids",
        &hostile_scenario("triage", "long", &format!(r#"Ticket::"{long}""#)),
    );
    let (code, stdout, stderr) = privsim_in(&folder.0, &["run", "hostile.toml"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains(&long));
}

#[test]
fn diagnostics_echoed_raw_control_characters() {
    let folder = TempFolder::new("diagnostic-controls");
    std::fs::write(
        folder.0.join("s.toml"),
        "[scenario]\nname = \"x\"\nbogus\u{1b}]0;owned\u{7} = 1\u{0}\n",
    )
    .unwrap();
    let (code, _, stderr) = privsim_in(&folder.0, &["run", "s.toml"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(!stderr.contains('\u{0}'), "{stderr:?}");
    assert!(!stderr.contains('\u{7}'), "{stderr:?}");
}

#[test]
fn fuzz_overwrote_an_edited_repro() {
    let folder = TempFolder::new("repro-no-overwrite");
    let source = workspace_root().join("scenarios/escalations/self-assign-role");
    std::fs::create_dir_all(folder.0.join("policies")).unwrap();
    for name in [
        "entities.json",
        "planted.toml",
        "schema.cedarschema",
        "policies/planted.cedar",
    ] {
        std::fs::copy(source.join(name), folder.0.join(name)).unwrap();
    }
    let args = ["fuzz", "--seed", "7", "--format", "json", "planted.toml"];
    let first = crate::common::check_in(&folder.0, &args, 1);
    let first: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(
        first["scenarios"][0]["findings"][0]["repro"],
        "planted.repro-1.toml"
    );
    // Kept as a regression test, with an edit of its own.
    let kept = folder.0.join("planted.repro-1.toml");
    let edited = format!("# kept\n{}", std::fs::read_to_string(&kept).unwrap());
    std::fs::write(&kept, &edited).unwrap();

    let written = first["scenarios"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["repro"].is_string())
        .count();
    let before: Vec<String> = (1..=written)
        .map(|n| std::fs::read_to_string(folder.0.join(format!("planted.repro-{n}.toml"))).unwrap())
        .collect();

    let second = crate::common::check_in(&folder.0, &args, 1);
    let second: serde_json::Value = serde_json::from_str(&second.stdout).unwrap();
    // Every earlier repro is as it was; the new ones take the next numbers.
    for (n, text) in before.iter().enumerate() {
        let now = std::fs::read_to_string(folder.0.join(format!("planted.repro-{}.toml", n + 1)));
        assert_eq!(&now.unwrap(), text, "repro {} changed", n + 1);
    }
    let next = format!("planted.repro-{}.toml", written + 1);
    assert_eq!(
        second["scenarios"][0]["findings"][0]["repro"],
        next.as_str()
    );
    assert!(folder.0.join(&next).is_file());
}

/// A long run printed nothing until it ended (issue 14.4): with
/// `PRIVSIM_PROGRESS=lines` (what CI logs get every 15 seconds), standard
/// error says which scenario, which phase and how far.
#[test]
fn a_long_run_said_nothing_until_it_ended() {
    let folder = TempFolder::new("progress-lines");
    let example = workspace_root().join("scenarios/ticket-agent");
    for file in ["schema.cedarschema", "entities.json"] {
        std::fs::copy(example.join(file), folder.0.join(file)).unwrap();
    }
    std::fs::create_dir_all(folder.0.join("policies")).unwrap();
    std::fs::copy(
        example.join("policies/least-privilege.cedar"),
        folder.0.join("policies/p.cedar"),
    )
    .unwrap();
    let mut scenario = String::from(
        r#"[scenario]
name = "long"
policies = ["policies/p.cedar"]
schema = "schema.cedarschema"
entities = "entities.json"
start = "2026-06-01T09:00:00Z"

[facts]
now = "now"
delegator = "delegator"

[[session]]
id = "s"
principal = 'Agent::"summarizer"'
on_behalf_of = 'User::"bob"'
context = { ticket = { __entity = { type = "Ticket", id = "T-101" } } }
"#,
    );
    for _ in 0..3 {
        scenario.push_str(
            "\n[[step]]\nsession = \"s\"\naction = 'Action::\"retrieveTicket\"'\nresource = 'Ticket::\"T-101\"'\nrepeat = 2000\nevery = \"1s\"\n",
        );
    }
    std::fs::write(folder.0.join("long.toml"), scenario).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_privsim"))
        .args(["run", "long.toml", "--no-prove"])
        .current_dir(&folder.0)
        .env("PRIVSIM_PROGRESS", "lines")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.first(), Some(&"privsim run: starting"), "{stderr}");
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("privsim run: done (")),
        "{stderr}"
    );
    let counted = lines.iter().any(|line| {
        line.strip_prefix("privsim run: long.toml: ")
            .and_then(|rest| rest.split(" (").next())
            .and_then(|what| what.rsplit_once(' '))
            .is_some_and(|(count, unit)| {
                ["steps", "instants"].contains(&unit)
                    && count
                        .rsplit_once(' ')
                        .is_some_and(|(_, n)| n.contains('/') && n.ends_with("6,000"))
            })
    });
    assert!(
        counted,
        "no line counts the 6,000 steps or instants:\n{stderr}"
    );
}
