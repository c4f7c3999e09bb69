//! `privsim check` with a `git:` baseline compares the whole change: the
//! schema, entities JSON and template links at the revision, not only the
//! policies; and the proof cache makes an unchanged environment free.
//!
//! The fixtures are written here, in a warehouse of their own, so they share
//! nothing with the gate's other fixtures.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::Path;
use std::process::Command;

use crate::common::{Run, TempFolder, check_in};

const SCENARIO: &str = r#"# A stock-counting bot in a small warehouse.
[scenario]
name = "Stock counter walks the aisles"
policies = ["policies/stock.cedar"]
schema = "warehouse.cedarschema"
entities = "world.json"
links = "links.json"
start = "2026-03-02T08:00:00Z"

[[step]]
at = "+1m"
principal = 'Bot::"tally"'
action = 'Action::"count"'
resource = 'Shelf::"A1"'
expect = "allow"

[[step]]
at = "+2m"
principal = 'Bot::"tally"'
action = 'Action::"restock"'
resource = 'Shelf::"A1"'
"#;

const SCHEMA: &str = "entity Crew;
entity Bot in [Crew];
entity Person in [Crew];
entity Shelf;
action count, restock appliesTo { principal: [Bot], resource: [Shelf] };
action clear appliesTo { principal: [Person], resource: [Shelf] };
";

const POLICIES: &str = r#"@id("bots-count")
permit(principal is Bot, action == Action::"count", resource);

@id("supervisors-restock")
permit(principal in Crew::"supervisors", action == Action::"restock", resource);

@id("supervisors-clear")
permit(principal in Crew::"supervisors", action == Action::"clear", resource);

@id("keeper")
permit(principal == ?principal, action == Action::"restock", resource == ?resource);
"#;

const WORLD: &str = r#"[
  {"uid": {"type": "Crew", "id": "supervisors"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Crew", "id": "night"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Bot", "id": "tally"}, "attrs": {}, "parents": [{"type": "Crew", "id": "night"}]},
  {"uid": {"type": "Person", "id": "ines"}, "attrs": {}, "parents": [{"type": "Crew", "id": "supervisors"}]},
  {"uid": {"type": "Shelf", "id": "A1"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Shelf", "id": "B7"}, "attrs": {}, "parents": []}
]
"#;

/// The keeper template linked for a person: it gives the bot nothing.
const LINKS: &str = r#"[{"template_id": "keeper", "link_id": "ines-keeps-b7", "args": {"?principal": "Person::\"ines\"", "?resource": "Shelf::\"B7\""}}]
"#;

/// A repository with the warehouse scenario committed, and the path of its
/// scenario folder.
fn warehouse(name: &str) -> (TempFolder, std::path::PathBuf) {
    let repo = TempFolder::new(name);
    let dir = repo.0.join("warehouse");
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    for (file, text) in [
        ("scenario.toml", SCENARIO),
        ("warehouse.cedarschema", SCHEMA),
        ("policies/stock.cedar", POLICIES),
        ("world.json", WORLD),
        ("links.json", LINKS),
    ] {
        std::fs::write(dir.join(file), text).unwrap();
    }
    git(&repo.0, &["init", "-q"]);
    git(&repo.0, &["add", "."]);
    git(&repo.0, &["commit", "-qm", "the warehouse"]);
    (repo, dir)
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no `{from}`");
    std::fs::write(path, text.replace(from, to)).unwrap();
}

/// Runs git in `folder`, failing the test on error; hooks and signing off.
fn git(folder: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=warehouse test",
            "-c",
            "user.email=warehouse@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(folder)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .unwrap();
    assert!(status.success(), "git {}", args.join(" "));
}

fn git_installed() -> bool {
    Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn solver_installed() -> bool {
    Command::new(std::env::var_os("CVC5").unwrap_or_else(|| "cvc5".into()))
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `privsim check --baseline git:HEAD` in `repo`, as JSON.
fn gate(repo: &TempFolder, extra: &[&str], code: i32) -> (serde_json::Value, Run) {
    let mut args = vec![
        "check",
        "--today",
        "2026-03-02",
        "--baseline",
        "git:HEAD",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    args.push("warehouse/");
    let run = check_in(&repo.0, &args, code);
    (serde_json::from_str(&run.stdout).unwrap(), run)
}

/// The changes of the only scenario: (kind, status, principal, action, resource).
fn changes(result: &serde_json::Value) -> Vec<[String; 5]> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    result["scenarios"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            [
                text(&c["kind"]),
                text(&c["status"]),
                text(&c["principal"]),
                text(&c["action"]),
                text(&c["resource"]),
            ]
        })
        .collect()
}

fn notes(result: &serde_json::Value) -> Vec<String> {
    result["scenarios"][0]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

/// A pull request that only puts the bot into the supervisors' crew in the
/// entities file used to pass: the baseline read the working tree's
/// entities, so both sides were the same world.
#[test]
fn an_entities_change_that_makes_a_bot_a_supervisor_is_new_access() {
    if !git_installed() {
        eprintln!("skipped: `git` is not installed, so git baselines cannot be tested");
        return;
    }
    let (repo, dir) = warehouse("whole-entities");
    // Unchanged: nothing to report, no note.
    let (same, _) = gate(&repo, &[], 0);
    assert!(changes(&same).is_empty(), "{same:#}");
    assert!(notes(&same).is_empty(), "{same:#}");

    edit(
        &dir,
        "world.json",
        r#""id": "tally"}, "attrs": {}, "parents": [{"type": "Crew", "id": "night"}]"#,
        r#""id": "tally"}, "attrs": {}, "parents": [{"type": "Crew", "id": "supervisors"}]"#,
    );
    let (result, _) = gate(&repo, &[], 1);
    let found = changes(&result);
    let bot = "Bot::\"tally\"";
    let restock = "Action::\"restock\"";
    // The step that was denied is now allowed...
    assert!(
        found.iter().any(|c| c[0] == "new-access"
            && c[1] == "fail"
            && c[2] == bot
            && c[3] == restock
            && c[4] == "Shelf::\"A1\""),
        "{found:?}"
    );
    // ...and the bot holds restock on the shelf no step touched.
    assert!(
        found.iter().any(|c| c[0] == "new-access"
            && c[2] == bot
            && c[3] == restock
            && c[4] == "Shelf::\"B7\""),
        "{found:?}"
    );
    assert_eq!(result["passed"], false);
    // The same entities file from the working tree on both sides (a path
    // baseline) sees nothing: the change is in the entities, not the policies.
    let policies = dir.join("policies/stock.cedar").display().to_string();
    let run = check_in(
        &repo.0,
        &[
            "check",
            "--today",
            "2026-03-02",
            "--baseline",
            &policies,
            "warehouse/",
        ],
        0,
    );
    assert!(!run.stdout.contains("new-access"), "{}", run.stdout);
}

/// A schema that lets bots clear shelves, with policies unchanged: no world
/// of the scenario shows it (the bot is no supervisor), the proof does, under
/// each side's own schema, and says the environments differ.
#[test]
fn a_schema_change_widening_principal_types_is_proven_new_access() {
    if !git_installed() || !solver_installed() {
        eprintln!("skipped: needs `git` and the cvc5 solver");
        return;
    }
    let (repo, dir) = warehouse("whole-schema");
    edit(
        &dir,
        "warehouse.cedarschema",
        "action clear appliesTo { principal: [Person]",
        "action clear appliesTo { principal: [Person, Bot]",
    );
    let cache = TempFolder::new("whole-schema-cache");
    let cache_arg = cache.0.display().to_string();
    let (result, run) = gate(&repo, &["--prove", "--proof-cache", &cache_arg], 1);
    let proofs = &result["scenarios"][0]["proofs"];
    let change = &proofs["schema_change"];
    assert_eq!(
        change["only_candidate"],
        serde_json::json!(["Bot / Action::\"clear\" / Shelf"]),
        "{proofs:#}"
    );
    assert_eq!(change["only_baseline"], serde_json::json!([]));
    let env = proofs["no_new_access"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "Action::\"clear\"" && e["principal_type"] == "Bot")
        .unwrap();
    assert_eq!(env["verdict"], "refuted", "{env:#}");
    assert_eq!(env["only_in"], "candidate");
    assert_eq!(
        env["counterexample"]["policies"][0]["id"], "supervisors-clear",
        "{env:#}"
    );
    let found = changes(&result);
    assert!(
        found
            .iter()
            .any(|c| c[0] == "new-access-proven" && c[1] == "fail" && c[3] == "Action::\"clear\""),
        "{found:?}"
    );
    // Every other environment is in both schemas and proven.
    assert!(
        proofs["no_new_access"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["only_in"].is_null())
            .all(|e| e["verdict"] == "proven"),
        "{proofs:#}"
    );
    // The text report says the environments differ.
    let text = check_in(
        &repo.0,
        &[
            "check",
            "--prove",
            "--proof-cache",
            &cache_arg,
            "--baseline",
            "git:HEAD",
            "warehouse/",
        ],
        1,
    );
    assert!(
        text.stdout
            .contains("the schema change makes the request environments differ: 1 only in the candidate's schema"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("only in the candidate's schema: Bot / Action::\"clear\" / Shelf"),
        "{}",
        text.stdout
    );
    drop(run);

    // The gate's rules decide: proven new access allowed, the gate passes
    // (the simulation sees no new access: the bot is no supervisor).
    std::fs::write(
        repo.0.join("privsim-gate.toml"),
        "[fail_on]\nnew_access_proven = false\n",
    )
    .unwrap();
    let (allowed, _) = gate(
        &repo,
        &[
            "--prove",
            "--proof-cache",
            &cache_arg,
            "--config",
            "privsim-gate.toml",
        ],
        0,
    );
    assert!(
        changes(&allowed)
            .iter()
            .any(|c| c[0] == "new-access-proven" && c[1] == "info"),
        "{allowed:#}"
    );
}

/// A links file that links the keeper template for the bot: a template
/// link is a policy, so it is compared like one.
#[test]
fn a_template_link_change_is_compared() {
    if !git_installed() {
        eprintln!("skipped: `git` is not installed, so git baselines cannot be tested");
        return;
    }
    let (repo, dir) = warehouse("whole-links");
    edit(
        &dir,
        "links.json",
        "]\n",
        ",\n {\"template_id\": \"keeper\", \"link_id\": \"tally-keeps-a1\", \"args\": {\"?principal\": \"Bot::\\\"tally\\\"\", \"?resource\": \"Shelf::\\\"A1\\\"\"}}]\n",
    );
    let (result, _) = gate(&repo, &[], 1);
    let found = changes(&result);
    assert!(
        found.iter().any(|c| c[0] == "new-access"
            && c[1] == "fail"
            && c[2] == "Bot::\"tally\""
            && c[3] == "Action::\"restock\""
            && c[4] == "Shelf::\"A1\""),
        "{found:?}"
    );
    let granted: Vec<&serde_json::Value> = result["scenarios"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "new-access")
        .collect();
    assert!(
        granted
            .iter()
            .all(|c| c["policies"][0]["id"] == "tally-keeps-a1"),
        "{granted:#?}"
    );
    // The coverage lists the link as an added policy.
    assert!(
        result["coverage"].to_string().contains("tally-keeps-a1"),
        "{:#}",
        result["coverage"]
    );
}

/// A file present on one side only is said plainly; a broken file at the
/// revision is located as `REV:path`.
#[test]
fn files_added_removed_or_broken_at_the_revision_are_said_plainly() {
    if !git_installed() {
        eprintln!("skipped: `git` is not installed, so git baselines cannot be tested");
        return;
    }
    let (repo, dir) = warehouse("whole-one-side");
    // The links file is new since the revision.
    git(&repo.0, &["rm", "-q", "warehouse/links.json"]);
    edit(&dir, "scenario.toml", "links = \"links.json\"\n", "");
    git(&repo.0, &["commit", "-qam", "no links yet"]);
    std::fs::write(dir.join("links.json"), LINKS).unwrap();
    edit(
        &dir,
        "scenario.toml",
        "entities = \"world.json\"\n",
        "entities = \"world.json\"\nlinks = \"links.json\"\n",
    );
    // The link is a policy the baseline lacks and no step reaches: an
    // unexercised change, which fails the gate by default.
    let (result, _) = gate(&repo, &[], 1);
    assert!(
        changes(&result)
            .iter()
            .all(|c| c[0] == "unexercised-change"),
        "{result:#}"
    );
    let said = notes(&result);
    assert!(
        said.iter().any(|n| n
            == "baseline: the scenario names no template links at `HEAD` and `links.json` now: that side is loaded without one"),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|n| n.starts_with("baseline: the scenario file differs at `HEAD`")),
        "{said:?}"
    );

    // The entities file renamed: the baseline reads the old name.
    git(&repo.0, &["add", "."]);
    git(&repo.0, &["commit", "-qm", "links"]);
    git(
        &repo.0,
        &["mv", "warehouse/world.json", "warehouse/stock.json"],
    );
    edit(&dir, "scenario.toml", "world.json", "stock.json");
    let (renamed, _) = gate(&repo, &[], 0);
    assert!(changes(&renamed).is_empty(), "{renamed:#}");
    assert!(
        notes(&renamed)
            .iter()
            .any(|n| n
                == "baseline: the entities file is `world.json` at `HEAD` and `stock.json` now"),
        "{:?}",
        notes(&renamed)
    );

    // The schema file missing at the revision although its scenario names it.
    git(&repo.0, &["commit", "-qam", "renamed"]);
    git(
        &repo.0,
        &["rm", "-q", "--cached", "warehouse/warehouse.cedarschema"],
    );
    git(&repo.0, &["commit", "-qm", "schema untracked"]);
    let (missing, _) = gate(&repo, &[], 0);
    assert!(
        notes(&missing).iter().any(|n| n
            == "baseline: `warehouse/warehouse.cedarschema` does not exist at `HEAD`: that side is loaded without a schema"),
        "{:?}",
        notes(&missing)
    );

    // A broken entities file at the revision: located there.
    std::fs::write(dir.join("stock.json"), "[{\"uid\": 7}]\n").unwrap();
    git(&repo.0, &["add", "."]);
    git(&repo.0, &["commit", "-qm", "broken"]);
    std::fs::write(dir.join("stock.json"), WORLD).unwrap();
    let broken = check_in(
        &repo.0,
        &["check", "--baseline", "git:HEAD", "warehouse/"],
        2,
    );
    assert!(
        broken
            .stderr
            .contains("HEAD:warehouse/stock.json:1:2: this entity has no valid `uid`"),
        "{}",
        broken.stderr
    );

    // A path at the revision that leaves the scenario's folder is refused
    // before git reads it, located in the revision's scenario file.
    std::fs::write(dir.join("stock.json"), WORLD).unwrap();
    edit(
        &dir,
        "scenario.toml",
        "schema = \"warehouse.cedarschema\"",
        "schema = \"../warehouse.cedarschema\"",
    );
    git(&repo.0, &["commit", "-qam", "a schema outside"]);
    edit(
        &dir,
        "scenario.toml",
        "schema = \"../warehouse.cedarschema\"",
        "schema = \"warehouse.cedarschema\"",
    );
    let outside = check_in(
        &repo.0,
        &["check", "--baseline", "git:HEAD", "warehouse/"],
        2,
    );
    assert!(
        outside
            .stderr
            .contains("HEAD:warehouse/scenario.toml:5:10: path `../warehouse.cedarschema` leaves")
            && outside.stderr.contains("the scenario's folder"),
        "{}",
        outside.stderr
    );
}

/// `privsim check --prove` of the gate's proof fixture (a candidate that
/// opens finance records: refuted environments beside proven ones) with a
/// proof cache, `$CVC5` set to `solver` when given; exit code, stdout, stderr.
fn prove_cached(cache: &str, solver: Option<&Path>) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_privsim"));
    command
        .args([
            "check",
            "--prove",
            "--timings",
            "--today",
            "2026-06-01",
            "--config",
            "sim/tests/check/configs/defaults.toml",
            "--baseline",
            "sim/tests/check/prove/policies/base.cedar",
            "--candidate",
            "sim/tests/check/prove/policies/finance.cedar",
            "--format",
            "json",
            "--proof-cache",
            cache,
            "sim/tests/check/prove/scenario.toml",
        ])
        .current_dir(crate::common::workspace_root())
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    if let Some(solver) = solver {
        command.env("CVC5", solver);
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        stderr,
    )
}

/// A stand-in for cvc5 that passes everything to the real one and appends
/// what it is sent to a log, so a test counts the queries (`(check-sat)`) a
/// run asked.
pub(crate) fn counting_solver(folder: &TempFolder) -> (std::path::PathBuf, std::path::PathBuf) {
    let real = Command::new("sh")
        .args(["-c", "command -v \"${CVC5:-cvc5}\""])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
    assert!(!real.is_empty(), "cvc5 is installed");
    let log = folder.0.join("solver-input.log");
    let script = folder.0.join("cvc5");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ \"$1\" = \"--version\" ]; then exec '{real}' --version; fi\ntee -a '{}' | '{real}' \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (script, log)
}

/// The queries the counting solver was sent since the log was last removed.
pub(crate) fn queries(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .map(|text| text.matches("(check-sat)").count())
        .unwrap_or(0)
}

fn entries(cache: &Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    found.sort();
    found
}

/// The second run over unchanged policies and schema asks no solver: a
/// solver that fails when invoked is never invoked, and the result is
/// byte-identical to the first run's.
#[test]
fn an_unchanged_environment_costs_no_solver_call_on_the_next_run() {
    if !solver_installed() {
        eprintln!("skipped: the cvc5 solver is not installed");
        return;
    }
    let folder = TempFolder::new("proof-cache-warm");
    let cache = folder.0.join("cache");
    let cache_arg = cache.display().to_string();
    let (solver, log) = counting_solver(&folder);
    let (code, cold, cold_err) = prove_cached(&cache_arg, Some(&solver));
    assert_eq!(code, 1, "{cold_err}");
    let cold_queries = queries(&log);
    let result: serde_json::Value = serde_json::from_str(&cold).unwrap();
    let proofs = &result["proofs"];
    assert!(proofs["refuted"].as_u64().unwrap() > 0, "{proofs:#}");
    assert!(proofs["proven"].as_u64().unwrap() > 0, "{proofs:#}");
    assert_eq!(proofs["unknown"], 0, "{proofs:#}");
    let stored = entries(&cache);
    // One entry per definite verdict: the gate's, and the hygiene proofs'.
    assert!(
        stored.len() as u64
            > proofs["refuted"].as_u64().unwrap() + proofs["proven"].as_u64().unwrap(),
        "{} entries",
        stored.len()
    );
    assert!(!cold_err.contains("(cached)"), "{cold_err}");

    std::fs::remove_file(&log).unwrap();
    let (code, warm, warm_err) = prove_cached(&cache_arg, Some(&solver));
    assert_eq!(code, 1, "{warm_err}");
    // Every verdict comes from the cache: the gate's, the never rules' and
    // the hygiene proofs'; the solver is asked nothing.
    let warm_queries = queries(&log);
    assert!(cold_queries > 0, "{cold_err}");
    assert_eq!(
        warm_queries, 0,
        "the warm run asked the solver {warm_queries} queries, the cold one {cold_queries}: {warm_err}"
    );
    assert_eq!(
        warm, cold,
        "a cached run reports exactly what a fresh one did"
    );
    assert!(warm_err.contains("(cached)"), "{warm_err}");
    assert!(
        warm_err.contains(&format!(
            "proof cache: {} verdict(s) reused, 0 proven anew",
            stored.len()
        )),
        "{warm_err}"
    );
}

/// Corrupt, foreign or tampered entries are ignored and proven anew (and
/// rewritten); a refuted entry whose counterexample Cedar does not confirm
/// is never trusted.
#[test]
fn corrupt_or_tampered_cache_entries_are_ignored_and_recomputed() {
    if !solver_installed() {
        eprintln!("skipped: the cvc5 solver is not installed");
        return;
    }
    let folder = TempFolder::new("proof-cache-hostile");
    let cache = folder.0.join("cache");
    let cache_arg = cache.display().to_string();
    let (_, cold, _) = prove_cached(&cache_arg, None);
    let stored = entries(&cache);
    let (solver, log) = counting_solver(&folder);
    let (_, warm, _) = prove_cached(&cache_arg, Some(&solver));
    assert_eq!(warm, cold);
    let warm_queries = queries(&log);

    // Each kind of damage, alone, makes that one entry a miss: with the
    // counting solver the run shows the solver was asked once more.
    let refuted = stored
        .iter()
        .find(|p| std::fs::read_to_string(p).unwrap().contains("\"refuted\""))
        .unwrap()
        .clone();
    let original = std::fs::read_to_string(&refuted).unwrap();
    let tampered = [
        // Not JSON.
        "{\"format\": ".to_string(),
        // Another format.
        original.replace("privsim-proof-cache-v2", "privsim-proof-cache-v1"),
        // A request the two sides decide alike (another action), the
        // environment left as it was.
        original.replacen(
            "\"action\": \"Action::\\\"export\\\"\"",
            "\"action\": \"Action::\\\"read\\\"\"",
            1,
        ),
        // Claimed refuted without a counterexample.
        original
            .split("\"request\"")
            .next()
            .unwrap()
            .trim_end()
            .trim_end_matches(',')
            .to_string()
            + "\n}",
        // An unknown field.
        original.replacen('{', "{\"trusted\": true,", 1),
    ];
    for (number, text) in tampered.iter().enumerate() {
        assert_ne!(text, &original, "case {number} changes the entry");
        std::fs::write(&refuted, text).unwrap();
        let _ = std::fs::remove_file(&log);
        let (_, out, err) = prove_cached(&cache_arg, Some(&solver));
        assert_eq!(
            queries(&log),
            warm_queries + 1,
            "case {number}: a tampered entry was trusted:\n{text}\n{err}"
        );
        // Proven anew, the verdict is the one a fresh run gives.
        assert_eq!(out, cold, "case {number}");
        assert!(
            err.contains("1 stored entr(y/ies) ignored"),
            "case {number}: {err}"
        );
    }
    // The entry was rewritten: the next run asks the solver no more than a
    // warm run does.
    let _ = std::fs::remove_file(&log);
    let (_, again, _) = prove_cached(&cache_arg, Some(&solver));
    assert_eq!(queries(&log), warm_queries);
    assert_eq!(again, cold);

    // A folder where an entry should be: ignored, not written, said on stderr.
    let proven = stored
        .iter()
        .find(|p| std::fs::read_to_string(p).unwrap().contains("\"proven\""))
        .unwrap()
        .clone();
    std::fs::remove_file(&proven).unwrap();
    std::fs::create_dir(&proven).unwrap();
    let (_, out, err) = prove_cached(&cache_arg, None);
    assert_eq!(out, cold);
    assert!(
        err.contains("warning: proof verdicts were not cached:")
            && err.contains("is not a regular file"),
        "{err}"
    );
}
