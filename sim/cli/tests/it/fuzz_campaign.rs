//! `privsim fuzz` as a campaign: `--jobs N` gives the same bytes for the same
//! seed, budget and N; SIGINT sent to a real child process stops the search
//! cleanly, and the results written (standard output, `--output`,
//! `--report-dir`) say it was interrupted; `--stats` writes JSON lines.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TempFolder, check_in, workspace_root};

/// A copy of a planted escalation's folder.
fn copy_escalation(folder: &Path, name: &str, variant: &str) {
    let source = workspace_root().join("scenarios/escalations").join(name);
    std::fs::create_dir_all(folder.join("policies")).unwrap();
    for file in [
        "entities.json",
        "schema.cedarschema",
        &format!("{variant}.toml"),
        &format!("policies/{variant}.cedar"),
    ] {
        std::fs::copy(source.join(file), folder.join(file)).unwrap();
    }
}

#[test]
fn the_same_seed_budget_and_jobs_give_the_same_bytes() {
    let folder = TempFolder::new("fuzz-jobs");
    copy_escalation(&folder.0, "self-assign-role", "planted");
    for strategy in ["random", "novelty", "exhaustive"] {
        let args = [
            "fuzz",
            "--no-repro",
            "--seed",
            "3",
            "--max-steps",
            "3000",
            "--depth",
            "4",
            "--jobs",
            "3",
            "--strategy",
            strategy,
            "--format",
            "json",
            "planted.toml",
        ];
        let first = check_in(&folder.0, &args, 1);
        let second = check_in(&folder.0, &args, 1);
        assert_eq!(first.stdout, second.stdout, "{strategy}");
        let result: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
        let search = &result["scenarios"][0]["search"];
        assert_eq!(search["jobs"], 3, "{strategy}: {search}");
        // One job is the single-threaded search, which does not name its jobs.
        let mut one = args.to_vec();
        one[9] = "1";
        let one = check_in(&folder.0, &one, 1);
        let one: serde_json::Value = serde_json::from_str(&one.stdout).unwrap();
        assert!(
            one["scenarios"][0]["search"].get("jobs").is_none(),
            "{strategy}"
        );
    }
}

/// Runs `privsim fuzz` in `folder` until it has searched for a while (its
/// `--stats` file has a line), then sends it SIGINT; returns its exit code.
fn interrupt(folder: &Path, args: &[&str]) -> i32 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_privsim"))
        .args(args)
        .current_dir(folder)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stats = folder.join("stats.jsonl");
    let started = Instant::now();
    while std::fs::read_to_string(&stats).map_or(true, |s| s.lines().count() < 2) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the search wrote no statistics"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "it ended before the signal"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    output.status.code().unwrap_or(-1)
}

#[test]
fn sigint_stops_the_search_and_writes_what_it_found_so_far() {
    let folder = TempFolder::new("fuzz-sigint");
    copy_escalation(&folder.0, "self-assign-role", "fixed");
    // A budget no test waits for: only the signal ends it.
    let args = [
        "fuzz",
        "--no-repro",
        "--max-steps",
        "1000000000",
        "--depth",
        "10",
        "--jobs",
        "2",
        "--stats",
        "stats.jsonl",
        "--format",
        "json",
        "--output",
        "out.json",
        "--report-dir",
        "reports",
        "fixed.toml",
    ];
    let code = interrupt(&folder.0, &args);
    // Not a clean verdict: interrupted, no finding.
    assert_eq!(code, 130);
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.0.join("out.json")).unwrap()).unwrap();
    let search = &result["scenarios"][0]["search"];
    assert_eq!(search["interrupted"], true, "{search}");
    assert_eq!(search["budget_exhausted"], true, "{search}");
    assert!(search["moves"].as_u64().unwrap() > 0, "{search}");
    assert!(
        search["moves"].as_u64().unwrap() < 1_000_000_000,
        "{search}"
    );
    let text = std::fs::read_to_string(folder.0.join("reports/report.md")).unwrap();
    assert!(text.contains("interrupted"), "{text}");
    // The statistics are JSON lines, the last one final.
    let stats = std::fs::read_to_string(folder.0.join("stats.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = stats
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = lines.last().unwrap();
    assert_eq!(last["final"], true, "{stats}");
    for key in [
        "elapsed_s",
        "moves",
        "moves_per_s",
        "states",
        "held",
        "universe",
        "findings",
    ] {
        assert!(last[key].is_number(), "{key}: {last}");
    }
    assert!(last["held"].as_u64().unwrap() > 0, "{last}");
}

/// The repro paths a JSON result names, in order.
fn repro_paths(stdout: &str) -> Vec<String> {
    let result: serde_json::Value = serde_json::from_str(stdout).unwrap();
    result["scenarios"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["repro"].as_str().map(str::to_string))
        .collect()
}

/// Every file below `folder`, relative to it, sorted.
fn files_below(folder: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(folder).unwrap();
                found.push(relative.display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn repro_dir_repros_run_from_there_and_are_never_overwritten() {
    let folder = TempFolder::new("fuzz-repro-dir");
    let source = folder.0.join("src");
    copy_escalation(&source, "self-assign-role", "planted");
    std::fs::copy(
        workspace_root().join("scenarios/escalations/self-assign-role/policies/fixed.cedar"),
        folder.0.join("fixed.cedar"),
    )
    .unwrap();
    let before = files_below(&source);
    let args = [
        "fuzz",
        "--seed",
        "7",
        "--format",
        "json",
        "--repro-dir",
        "repros",
        "src/planted.toml",
    ];
    let first = repro_paths(&check_in(&folder.0, &args, 1).stdout);
    assert!(!first.is_empty());
    // Nothing was written into the source tree.
    assert_eq!(files_below(&source), before);
    for repro in &first {
        assert!(repro.starts_with("repros/planted.repro-"), "{repro}");
        // The repro runs from there: it fails on the planted policy, and
        // passes once the policy is fixed.
        check_in(&folder.0, &["run", repro], 1);
        check_in(&folder.0, &["run", "--policies", "fixed.cedar", repro], 0);
    }
    let written: Vec<String> = first
        .iter()
        .map(|r| std::fs::read_to_string(folder.0.join(r)).unwrap())
        .collect();
    // A second campaign into the same folder takes the next numbers.
    let second = repro_paths(&check_in(&folder.0, &args, 1).stdout);
    assert_eq!(second.len(), first.len());
    for (old, new) in first.iter().zip(&second) {
        assert_ne!(old, new);
        assert!(folder.0.join(new).is_file(), "{new}");
    }
    for (path, text) in first.iter().zip(&written) {
        assert_eq!(&std::fs::read_to_string(folder.0.join(path)).unwrap(), text);
    }
    assert_eq!(
        second[0],
        format!(
            "repros/planted.repro-{n}/planted.repro-{n}.toml",
            n = first.len() + 1
        )
    );
}

#[test]
fn repro_dir_repros_keep_the_policies_searched() {
    let folder = TempFolder::new("fuzz-repro-dir-policies");
    copy_escalation(&folder.0, "self-assign-role", "fixed");
    std::fs::copy(
        workspace_root().join("scenarios/escalations/self-assign-role/policies/planted.cedar"),
        folder.0.join("policies/planted.cedar"),
    )
    .unwrap();
    // The fixed scenario searched with the planted policy: its repro must
    // replay the planted policy, not the scenario's own.
    let run = check_in(
        &folder.0,
        &[
            "fuzz",
            "--seed",
            "7",
            "--format",
            "json",
            "--policies",
            "policies/planted.cedar",
            "--repro-dir",
            "out",
            "fixed.toml",
        ],
        1,
    );
    let repros = repro_paths(&run.stdout);
    assert!(!repros.is_empty());
    for repro in &repros {
        check_in(&folder.0, &["run", repro], 1);
        check_in(
            &folder.0,
            &["run", "--policies", "policies/fixed.cedar", repro],
            0,
        );
    }
}

#[test]
fn no_repro_printed_repro_paths_never_written() {
    let folder = TempFolder::new("fuzz-no-repro-paths");
    copy_escalation(&folder.0, "self-assign-role", "planted");
    let json = check_in(
        &folder.0,
        &[
            "fuzz",
            "--no-repro",
            "--max-steps",
            "2000",
            "--format",
            "json",
            "planted.toml",
        ],
        1,
    );
    let result: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let findings = result["scenarios"][0]["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    for finding in findings {
        assert!(
            finding.get("repro").is_none_or(serde_json::Value::is_null),
            "{finding}"
        );
    }
    let text = check_in(
        &folder.0,
        &["fuzz", "--no-repro", "--max-steps", "2000", "planted.toml"],
        1,
    );
    assert!(!text.stdout.contains(".repro-"), "{}", text.stdout);
    assert!(
        !files_below(&folder.0).iter().any(|f| f.contains(".repro-")),
        "a repro was written"
    );
}

/// `privsim fuzz` of the planted escalation with a corpus folder and a
/// budget; returns the JSON result.
fn campaign(folder: &Path, strategy: &str, jobs: &str, steps: &str, corpus: &str) -> String {
    let args = [
        "fuzz",
        "--no-repro",
        "--seed",
        "5",
        "--depth",
        "6",
        "--strategy",
        strategy,
        "--jobs",
        jobs,
        "--max-steps",
        steps,
        "--corpus",
        corpus,
        "--format",
        "json",
        "planted.toml",
    ];
    check_in(folder, &args, 1).stdout
}

#[test]
fn a_campaign_resumed_finds_what_one_run_straight_through_finds() {
    let folder = TempFolder::new("fuzz-corpus-resume");
    copy_escalation(&folder.0, "self-assign-role", "planted");
    for strategy in ["random", "novelty", "exhaustive"] {
        for jobs in ["1", "2"] {
            let straight = format!("straight-{strategy}-{jobs}");
            let resumed = format!("resumed-{strategy}-{jobs}");
            let whole = campaign(&folder.0, strategy, jobs, "4000", &straight);
            let half = campaign(&folder.0, strategy, jobs, "2000", &resumed);
            let half_json: serde_json::Value = serde_json::from_str(&half).unwrap();
            // The first half really stopped short of the whole.
            assert_eq!(
                half_json["scenarios"][0]["search"]["moves"], 2000,
                "{strategy} {jobs}"
            );
            assert_ne!(half, whole, "{strategy} {jobs}");
            let rest = campaign(&folder.0, strategy, jobs, "4000", &resumed);
            // Identical findings and summary: the whole result, byte for byte.
            assert_eq!(rest, whole, "{strategy} --jobs {jobs}");
            // And the corpus the two campaigns leave is the same.
            let corpus = "planted.toml.corpus.jsonl";
            assert!(
                std::fs::read(folder.0.join(&straight).join(corpus)).unwrap()
                    == std::fs::read(folder.0.join(&resumed).join(corpus)).unwrap(),
                "{strategy} --jobs {jobs}: the corpora differ"
            );
            // A run without a corpus is the same search.
            let plain = check_in(
                &folder.0,
                &[
                    "fuzz",
                    "--no-repro",
                    "--seed",
                    "5",
                    "--depth",
                    "6",
                    "--strategy",
                    strategy,
                    "--jobs",
                    jobs,
                    "--max-steps",
                    "4000",
                    "--format",
                    "json",
                    "planted.toml",
                ],
                1,
            );
            assert_eq!(plain.stdout, whole, "{strategy} --jobs {jobs}");
        }
    }
}

/// `--max-states`: a search that reaches the cap says so (a `states`
/// caveat) and claims no exhaustive depth beyond the levels it completed; a campaign that reached it and
/// is continued with a larger budget stays stopped, as one run straight
/// through to that budget does (the corpus keeps that the worker capped).
#[test]
fn a_state_cap_is_said_and_kept_when_a_campaign_continues() {
    let folder = TempFolder::new("fuzz-max-states");
    copy_escalation(&folder.0, "subagent-scope", "fixed");
    for strategy in ["novelty", "exhaustive"] {
        let run = |steps: &str, corpus: Option<&str>| {
            let mut args = vec![
                "fuzz",
                "--no-repro",
                "--seed",
                "5",
                "--depth",
                "4",
                "--strategy",
                strategy,
                "--jobs",
                "1",
                "--max-states",
                "2",
                "--max-steps",
                steps,
                "--format",
                "json",
                "fixed.toml",
            ];
            if let Some(corpus) = corpus {
                args.extend(["--corpus", corpus]);
            }
            check_in(&folder.0, &args, 0).stdout
        };
        let whole = run("4000", None);
        let result: serde_json::Value = serde_json::from_str(&whole).unwrap();
        let search = &result["scenarios"][0]["search"];
        let caveats = search["caveats"].as_array().unwrap();
        assert!(
            caveats
                .iter()
                .any(|c| c.as_str().unwrap().starts_with("states:")),
            "{strategy}: {search}"
        );
        // Without the cap, exhaustive proves depth 4 here.
        assert!(
            search
                .get("exhaustive_depth")
                .is_none_or(|depth| depth.as_u64().unwrap() < 4),
            "{strategy}: {search}"
        );
        assert!(
            search["states"].as_u64().unwrap() <= 2,
            "{strategy}: {search}"
        );
        assert!(
            search["moves"].as_u64().unwrap() < 4000,
            "{strategy}: {search}"
        );
        let corpus = format!("corpus-{strategy}");
        let first = run("2000", Some(&corpus));
        assert_eq!(first, whole, "{strategy}: the cap came before 2000 moves");
        let text = std::fs::read_to_string(folder.0.join(&corpus).join("fixed.toml.corpus.jsonl"))
            .unwrap();
        assert!(text.contains("\"capped\":true"), "{strategy}: {text}");
        assert_eq!(run("4000", Some(&corpus)), whole, "{strategy}");
    }
}

#[test]
fn a_corpus_for_other_inputs_or_options_is_refused() {
    let folder = TempFolder::new("fuzz-corpus-refused");
    copy_escalation(&folder.0, "self-assign-role", "planted");
    campaign(&folder.0, "novelty", "1", "500", "corpus");
    let corpus = folder.0.join("corpus/planted.toml.corpus.jsonl");
    let kept = std::fs::read(&corpus).unwrap();
    // Another seed, strategy or number of jobs.
    for (flag, value, says) in [
        ("--seed", "6", "seed 5, not 6"),
        ("--strategy", "random", "strategy `novelty`, not `random`"),
        ("--jobs", "2", "jobs 1, not 2"),
    ] {
        let mut args = vec![
            "fuzz",
            "--no-repro",
            "--seed",
            "5",
            "--depth",
            "6",
            "--strategy",
            "novelty",
            "--jobs",
            "1",
            "--max-steps",
            "1000",
            "--corpus",
            "corpus",
            "planted.toml",
        ];
        let at = args.iter().position(|a| *a == flag).unwrap();
        args[at + 1] = value;
        let run = check_in(&folder.0, &args, 2);
        assert!(run.stderr.contains(says), "{}", run.stderr);
        assert!(run.stderr.contains("--corpus-restart"), "{}", run.stderr);
        assert_eq!(std::fs::read(&corpus).unwrap(), kept, "the corpus changed");
    }
    // Other policies.
    let policy = folder.0.join("policies/planted.cedar");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, format!("{text}\n// edited\n")).unwrap();
    let run = check_in(
        &folder.0,
        &[
            "fuzz",
            "--no-repro",
            "--seed",
            "5",
            "--depth",
            "6",
            "--strategy",
            "novelty",
            "--jobs",
            "1",
            "--max-steps",
            "1000",
            "--corpus",
            "corpus",
            "planted.toml",
        ],
        2,
    );
    assert!(run.stderr.contains("other inputs"), "{}", run.stderr);
    // Explicitly started over.
    check_in(
        &folder.0,
        &[
            "fuzz",
            "--no-repro",
            "--seed",
            "5",
            "--depth",
            "6",
            "--strategy",
            "novelty",
            "--jobs",
            "1",
            "--max-steps",
            "1000",
            "--corpus",
            "corpus",
            "--corpus-restart",
            "planted.toml",
        ],
        1,
    );
    assert_ne!(std::fs::read(&corpus).unwrap(), kept);
}

#[test]
fn a_corrupt_corpus_is_a_located_error() {
    let folder = TempFolder::new("fuzz-corpus-corrupt");
    copy_escalation(&folder.0, "self-assign-role", "planted");
    campaign(&folder.0, "exhaustive", "1", "300", "corpus");
    let corpus = folder.0.join("corpus/planted.toml.corpus.jsonl");
    let text = std::fs::read_to_string(&corpus).unwrap();
    let lines = text.lines().count();
    let resume = [
        "fuzz",
        "--no-repro",
        "--seed",
        "5",
        "--depth",
        "6",
        "--strategy",
        "exhaustive",
        "--jobs",
        "1",
        "--max-steps",
        "600",
        "--corpus",
        "corpus",
        "planted.toml",
    ];
    let broken = [
        // Truncated.
        text[..text.len() / 2].to_string(),
        // One byte changed.
        text.replacen("\"moves\":300", "\"moves\":301", 1),
        // Not UTF-8 is handled below; empty.
        String::new(),
        // A line that is not JSON (with a matching end record it would still
        // be refused: the checksum comes first).
        format!("{{not json\n{text}"),
    ];
    for bad in broken {
        std::fs::write(&corpus, &bad).unwrap();
        let run = check_in(&folder.0, &resume, 2);
        assert!(
            run.stderr.contains("planted.toml.corpus.jsonl:"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("corrupt corpus"), "{}", run.stderr);
    }
    std::fs::write(&corpus, [b'{', 0xff, b'}']).unwrap();
    let run = check_in(&folder.0, &resume, 2);
    assert!(
        run.stderr.contains(":1:2: corrupt corpus"),
        "{}",
        run.stderr
    );
    // The end record names the line it is on.
    std::fs::write(&corpus, &text).unwrap();
    let run = check_in(&folder.0, &resume, 1);
    assert!(run.stderr.contains("after 300 moves"), "{}", run.stderr);
    assert!(lines > 2);
}

/// What a merged campaign must share with the whole campaign run at once:
/// every finding (order, traces and all), the never rules, the policies the
/// search exercised, and the summary but for `states` (summed over shards)
/// and `caveats` (every shard's, and one saying it was merged).
fn comparable(stdout: &str) -> serde_json::Value {
    let mut result: serde_json::Value = serde_json::from_str(stdout).unwrap();
    for scenario in result["scenarios"].as_array_mut().unwrap() {
        let search = scenario["search"].as_object_mut().unwrap();
        search.remove("states");
        // The caveats, as sentences and as data, say the result was merged.
        search.remove("caveats");
        search.remove("limits");
    }
    result
}

#[test]
fn merged_shards_find_what_the_whole_campaign_finds() {
    let folder = TempFolder::new("fuzz-shards");
    copy_escalation(&folder.0, "self-assign-role", "planted");
    for strategy in ["random", "novelty", "exhaustive"] {
        let args = |shard: Option<String>| {
            let mut args: Vec<String> = [
                "fuzz",
                "--no-repro",
                "--seed",
                "9",
                "--depth",
                "4",
                "--jobs",
                "3",
                "--max-steps",
                "6000",
                "--strategy",
                strategy,
                "--format",
                "json",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            if let Some(shard) = shard {
                args.extend(["--shard".to_string(), shard.clone()]);
                args.extend([
                    "--output".to_string(),
                    format!("{shard}.json").replace('/', "-of-"),
                ]);
            }
            args.push("planted.toml".to_string());
            args
        };
        let whole = args(None);
        let whole: Vec<&str> = whole.iter().map(String::as_str).collect();
        let whole = check_in(&folder.0, &whole, 1).stdout;
        for shard in ["1/3", "2/3", "3/3"] {
            let one = args(Some(shard.to_string()));
            let one: Vec<&str> = one.iter().map(String::as_str).collect();
            check_in(&folder.0, &one, 1);
        }
        // Any order of the shard results.
        let merged = check_in(
            &folder.0,
            &[
                "fuzz",
                "merge",
                "--format",
                "json",
                "3-of-3.json",
                "1-of-3.json",
                "2-of-3.json",
            ],
            1,
        )
        .stdout;
        assert_eq!(comparable(&merged), comparable(&whole), "{strategy}");
        let merged: serde_json::Value = serde_json::from_str(&merged).unwrap();
        let whole: serde_json::Value = serde_json::from_str(&whole).unwrap();
        let states =
            |r: &serde_json::Value| r["scenarios"][0]["search"]["states"].as_u64().unwrap();
        assert!(states(&merged) >= states(&whole), "{strategy}");
        // No shard's own limit survives the merge; the merged one comes last,
        // and the caveats are the limits' sentences.
        let search = &merged["scenarios"][0]["search"];
        let kinds: Vec<&str> = search["limits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds.last(), Some(&"merged"), "{strategy}");
        assert!(!kinds.contains(&"shard"), "{strategy}");
        assert_eq!(
            search["caveats"].as_array().unwrap().len(),
            kinds.len(),
            "{strategy}"
        );
        let caveats = merged["scenarios"][0]["search"]["caveats"].to_string();
        assert!(caveats.contains("merged from 3 shards"), "{caveats}");
        assert!(!caveats.contains("this result is shard"), "{caveats}");
        // A shard alone says it is one.
        let part: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(folder.0.join("2-of-3.json")).unwrap())
                .unwrap();
        let caveats = part["scenarios"][0]["search"]["caveats"].to_string();
        assert!(
            caveats
                .contains("this result is shard 2/3 of the campaign: only its workers 2 to 2 of 3"),
            "{caveats}"
        );
    }
    // A partial campaign is refused, and so is a shard given twice.
    let run = check_in(
        &folder.0,
        &["fuzz", "merge", "1-of-3.json", "2-of-3.json"],
        2,
    );
    assert!(
        run.stderr.contains("shard 3/3 is missing"),
        "{}",
        run.stderr
    );
    let run = check_in(
        &folder.0,
        &["fuzz", "merge", "1-of-3.json", "2-of-3.json", "2-of-3.json"],
        2,
    );
    assert!(run.stderr.contains("given twice"), "{}", run.stderr);
}

#[test]
fn the_shard_workflow_runs_locally_with_three_shards() {
    let root = workspace_root();
    let workflow =
        std::fs::read_to_string(root.join("docs/examples/privsim-fuzz-shards.yml")).unwrap();
    // The workflow's shell steps are the script's, in this order.
    let steps: Vec<&str> = workflow
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("- run: bash docs/examples/fuzz-shards.sh ")
        })
        .collect();
    assert_eq!(steps, ["shard", "merge"]);
    let setting = |name: &str| {
        workflow
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .unwrap()
            .to_string()
    };
    assert_eq!(setting("SHARDS"), "3");
    assert_eq!(setting("shard"), "[1, 2, 3]");
    let folder = TempFolder::new("fuzz-shard-workflow");
    copy_escalation(&folder.0, "self-assign-role", "planted");
    let env = [
        ("SHARDS", setting("SHARDS")),
        ("JOBS", setting("JOBS")),
        ("SEED", setting("SEED")),
        ("STRATEGY", setting("STRATEGY")),
        // A test's budget and scenario instead of the nightly ones.
        ("MAX_STEPS", "3000".to_string()),
        ("SCENARIOS", "planted.toml".to_string()),
        ("PRIVSIM", env!("CARGO_BIN_EXE_privsim").to_string()),
        // As every test run of `privsim fuzz` here: the proofs are tested elsewhere.
        ("FUZZ_FLAGS", "--no-prove".to_string()),
    ];
    let step = |name: &str, shard: Option<usize>| {
        let mut command = Command::new("bash");
        command
            .arg(root.join("docs/examples/fuzz-shards.sh"))
            .arg(name)
            .current_dir(&folder.0)
            .env("NO_COLOR", "1")
            .env("SOURCE_DATE_EPOCH", crate::common::RUN_EPOCH)
            .envs(env.iter().map(|(k, v)| (k, v)));
        if let Some(shard) = shard {
            command.env("SHARD", shard.to_string());
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        (output.status.code().unwrap_or(-1), stderr)
    };
    for shard in 1..=3 {
        let (code, stderr) = step("shard", Some(shard));
        assert_eq!(code, 0, "shard {shard}: {stderr}");
    }
    let (code, stderr) = step("merge", None);
    // The planted escalation is found: the merge job fails.
    assert_eq!(code, 1, "{stderr}");
    let merged = std::fs::read_to_string(folder.0.join("campaign.json")).unwrap();
    assert!(folder.0.join("campaign.md").is_file());
    let whole = check_in(
        &folder.0,
        &[
            "fuzz",
            "--no-repro",
            "--jobs",
            &setting("JOBS"),
            "--seed",
            &setting("SEED"),
            "--max-steps",
            "3000",
            "--strategy",
            &setting("STRATEGY"),
            "--format",
            "json",
            "planted.toml",
        ],
        1,
    )
    .stdout;
    assert_eq!(comparable(&merged), comparable(&whole));
}
