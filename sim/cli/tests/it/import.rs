//! `privsim import`: Cedar's test-suite formats (the example-use-cases folder
//! layout, `cedar run-tests` JSON, Cedar integration tests) imported and
//! replayed with exactly the decisions, reasons and errors the suites expect;
//! suites that expect something else fail; malformed suites are bad input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::path::{Path, PathBuf};

use privsim::import::{self, ImportOptions, Suite, SuiteFormat};
use privsim::load::{self as scenario, LoadOptions};
use privsim::result::{RunResult, ScenarioResult};

use crate::common::{copy_tree, unwrapped};

/// The fixtures of this file: `sim/tests/import/`.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/import")
}

fn import_suites(path: &Path, options: &ImportOptions) -> Vec<Suite> {
    import::import(path, options).unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
}

fn replay(suites: &[Suite]) -> RunResult {
    import::replay_all(suites).unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
}

fn run_tests_options() -> ImportOptions {
    ImportOptions {
        policies: Some(fixtures().join("run-tests/policies.cedar")),
        links: Some(fixtures().join("run-tests/links.json")),
        ..ImportOptions::default()
    }
}

/// One step as `(decision, determining policies, erroring policies)`.
type Outcome = (String, Vec<String>, Vec<String>);

fn outcomes(result: &ScenarioResult) -> Vec<(String, Outcome)> {
    result
        .steps
        .iter()
        .map(|step| {
            (
                step.name.clone().unwrap_or_default(),
                (
                    step.decision.to_string(),
                    step.determining_policies.clone(),
                    step.errors
                        .iter()
                        .filter_map(|e| e.policy.clone())
                        .collect(),
                ),
            )
        })
        .collect()
}

fn outcome(decision: &str, reason: &[&str], errors: &[&str]) -> Outcome {
    (
        decision.to_string(),
        reason.iter().map(ToString::to_string).collect(),
        errors.iter().map(ToString::to_string).collect(),
    )
}

fn failures(result: &ScenarioResult) -> Vec<String> {
    result
        .steps
        .iter()
        .filter_map(|s| s.expectation.as_ref())
        .flat_map(|e| e.failures.clone())
        .collect()
}

/// Checks a folder of use cases in the `ALLOW/` + `DENY/` layout: one suite per
/// use case, one step per request file, each step's decision the one its
/// folder names (read here from the file system, not from the importer).
fn check_corpus(corpus: &Path, expected_suites: &[&str]) {
    let suites = import_suites(corpus, &ImportOptions::default());
    let mut names: Vec<&str> = suites.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, expected_suites);
    let result = replay(&suites);
    for (suite, scenario) in suites.iter().zip(&result.scenarios) {
        let mut requests = 0;
        for folder in ["ALLOW", "DENY"] {
            let mut files = Vec::new();
            if suite.source.join(folder).is_dir() {
                scenario::collect_files(&suite.source.join(folder), "json", &mut files).unwrap();
            }
            requests += files.len();
        }
        assert_eq!(
            scenario.steps.len(),
            requests,
            "{}: one step per request file",
            suite.name
        );
        for step in &scenario.steps {
            let name = step.name.as_deref().unwrap_or_default();
            let expected = if name.starts_with("ALLOW/") {
                "allow"
            } else if name.starts_with("DENY/") {
                "deny"
            } else {
                panic!(
                    "{}: step `{name}` is from neither ALLOW/ nor DENY/",
                    suite.name
                )
            };
            assert_eq!(step.decision.as_str(), expected, "{}: {name}", suite.name);
            assert!(
                step.errors.is_empty(),
                "{}: {name}: {:?}",
                suite.name,
                step.errors
            );
        }
        assert!(scenario.passed, "{}: {:?}", suite.name, failures(scenario));
    }
}

/// The cedar-examples use cases, vendored under `corpus/` (see its SOURCE.md);
/// `PRIVSIM_CEDAR_EXAMPLES` points at another copy.
fn shared_corpus() -> PathBuf {
    std::env::var_os("PRIVSIM_CEDAR_EXAMPLES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/cedar-example-use-cases"),
        PathBuf::from,
    )
}

#[test]
fn every_use_case_of_the_shared_corpus_replays_with_cedars_decisions() {
    let corpus = shared_corpus();
    assert!(
        corpus.is_dir(),
        "the corpus is missing at {}",
        corpus.display()
    );
    check_corpus(
        &corpus,
        &[
            "document_cloud",
            "github_example",
            "hotel_chains-static",
            "hotel_chains-templated",
            "sales_orgs-static",
            "sales_orgs-templated",
            "streaming_service",
            "tags_n_roles",
            "tax_preparer",
        ],
    );
}

#[test]
fn a_use_case_with_links_and_extension_values_replays_with_its_decisions() {
    check_corpus(&fixtures().join("corpus"), &["notes"]);
    // Given the use-case folder itself, the suite is named after it.
    let suites = import_suites(&fixtures().join("corpus/notes"), &ImportOptions::default());
    assert_eq!(suites.len(), 1);
    assert_eq!(suites[0].name, "notes");
    let result = replay(&suites);
    let reasons: Vec<Vec<String>> = result.scenarios[0]
        .steps
        .iter()
        .map(|s| s.determining_policies.clone())
        .collect();
    assert_eq!(
        reasons,
        [
            vec!["owner-edits"],
            vec!["cleared-reads"],
            vec!["share-n1-with-carol"],
            vec!["office-only"],
            vec!["office-only"],
            vec![],
            vec![],
        ]
    );
}

#[test]
fn use_cases_whose_entities_break_the_schema_are_replayed_without_it() {
    let folder = temp_folder("entities-break-schema");
    copy_tree(&fixtures().join("corpus/notes"), &folder.join("notes"));
    let entities = folder.join("notes/entities.json");
    let text = std::fs::read_to_string(&entities).unwrap();
    std::fs::write(
        &entities,
        text.replace("\"clearance\": 0", "\"clearance\": \"none\""),
    )
    .unwrap();
    let suites = import_suites(&folder.join("notes"), &ImportOptions::default());
    assert!(suites[0].files.schema.is_none());
    assert!(
        suites[0].notes[0].contains("do not conform to the schema"),
        "{:?}",
        suites[0].notes
    );
}

#[test]
fn a_run_tests_file_replays_with_its_decisions_reasons_and_error_counts() {
    let suites = import_suites(
        &fixtures().join("run-tests/tests.json"),
        &run_tests_options(),
    );
    // Test cases are grouped by their entities (in any order): two sets, two scenarios.
    let names: Vec<&str> = suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["run-tests-tests-1", "run-tests-tests-2"]);
    assert!(suites.iter().all(|s| s.format == SuiteFormat::RunTests));
    let result = replay(&suites);
    assert!(
        result.passed(),
        "{:?}",
        result.scenarios.iter().map(failures).collect::<Vec<_>>()
    );
    assert_eq!(
        outcomes(&result.scenarios[0]),
        [
            (
                "alice reads her document".to_string(),
                outcome("allow", &["owner"], &[])
            ),
            (
                "bob reads alice's document through the link".to_string(),
                outcome("allow", &["share-d1-with-bob"], &[])
            ),
            (
                "bob reads his archived document: `public` is missing".to_string(),
                outcome("deny", &["archived"], &["public"])
            ),
        ]
    );
    assert_eq!(
        outcomes(&result.scenarios[1]),
        [
            (
                "alice reads a public document without `active`".to_string(),
                outcome("allow", &["owner", "public"], &["archived"])
            ),
            (
                "bob reads a document whose id needs \"escaping\"".to_string(),
                outcome("allow", &["owner"], &[])
            ),
        ]
    );
    // `reason` lists policies that must be among the determining ones, as `cedar run-tests` checks it.
    let first = result.scenarios[1].steps[0].expectation.as_ref().unwrap();
    assert_eq!(
        first.reason_includes.as_deref(),
        Some(&["owner".to_string()][..])
    );
    assert_eq!(first.error_count, Some(1));
    assert_eq!(
        result.scenarios[1].steps[1].resource,
        r#"Doc::"we\"ird\\id ü""#
    );
}

#[test]
fn integration_tests_replay_with_their_decisions_reasons_and_errors() {
    let suites = import_suites(&fixtures().join("integration"), &ImportOptions::default());
    let names: Vec<&str> = suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["tests-unvalidated", "tests-validated"]);
    let result = replay(&suites);
    assert!(
        result.passed(),
        "{:?}",
        result.scenarios.iter().map(failures).collect::<Vec<_>>()
    );
    assert_eq!(
        outcomes(&result.scenarios[0])
            .into_iter()
            .map(|(_, o)| o)
            .collect::<Vec<_>>(),
        [
            outcome("allow", &["policy1"], &["policy0"]),
            outcome("deny", &["policy0"], &[]),
        ]
    );
    assert_eq!(
        outcomes(&result.scenarios[1])
            .into_iter()
            .map(|(_, o)| o)
            .collect::<Vec<_>>(),
        [
            outcome("allow", &["policy0"], &["policy3"]),
            outcome("deny", &[], &[]),
            outcome("allow", &["policy0", "policy2"], &[]),
            // Cedar's `policy1` is named by its `@id` in privsim; the expectation follows.
            outcome("deny", &["no-secrets"], &["policy3"]),
            outcome("allow", &["policy2"], &[]),
        ]
    );
    assert_eq!(
        result.scenarios[1].steps[4].principal,
        r#"Robot::"indexer""#
    );
}

#[test]
fn should_validate_false_and_validate_request_false_are_needed_and_honoured() {
    let folder = temp_folder("validation-switches");
    copy_tree(&fixtures().join("integration"), &folder);
    for (file, from, to, message) in [
        (
            "tests/unvalidated.json",
            "\"shouldValidate\": false",
            "\"shouldValidate\": true",
            "fails strict validation",
        ),
        (
            "tests/validated.json",
            "\"validateRequest\": false",
            "\"validateRequest\": true",
            "the request is invalid",
        ),
    ] {
        let path = folder.join(file);
        let original = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, original.replace(from, to)).unwrap();
        let suites = import_suites(&path, &ImportOptions::default());
        let error = import::replay_all(&suites).expect_err("the switch is needed");
        assert!(error.to_string().contains(message), "{error}");
        std::fs::write(&path, original).unwrap();
    }
}

#[test]
fn integration_paths_are_relative_to_the_root() {
    let test = fixtures().join("integration/tests/validated.json");
    let with_root = ImportOptions {
        root: Some(fixtures().join("integration")),
        ..ImportOptions::default()
    };
    assert!(replay(&import_suites(&test, &with_root)).passed());
    let wrong_root = ImportOptions {
        root: Some(fixtures().join("integration/tests")),
        ..ImportOptions::default()
    };
    let error = import::import(&test, &wrong_root).expect_err("no policies there");
    let message = format!("{:?}", miette::Report::new(error));
    assert!(message.contains("validated.json:2:17"), "{message}");
    assert!(message.contains("--root"), "{message}");
}

#[test]
fn suites_that_expect_otherwise_fail() {
    let run_tests = import_suites(
        &fixtures().join("wrong/run-tests.json"),
        &ImportOptions {
            policies: Some(fixtures().join("run-tests/policies.cedar")),
            ..ImportOptions::default()
        },
    );
    let result = replay(&run_tests);
    assert!(!result.passed());
    assert_eq!(
        failures(&result.scenarios[0]),
        [
            "expected deny, got allow",
            "expected determining policies to include [public], got [owner]",
            "expected 2 policy evaluation error(s), got 0",
        ]
    );

    let integration = import_suites(
        &fixtures().join("wrong/integration.json"),
        &ImportOptions::default(),
    );
    let result = replay(&integration);
    assert!(!result.passed());
    assert_eq!(
        failures(&result.scenarios[0]),
        [
            "expected allow, got deny",
            "expected errors in policies [], got [policy3]",
        ]
    );
    assert!(
        result.scenarios[0].steps[2]
            .expectation
            .as_ref()
            .unwrap()
            .passed
    );

    // A request filed under the wrong decision.
    let folder = temp_folder("misfiled");
    copy_tree(&fixtures().join("corpus/notes"), &folder.join("notes"));
    std::fs::rename(
        folder.join("notes/DENY/bob_reads_above_clearance.json"),
        folder.join("notes/ALLOW/bob_reads_above_clearance.json"),
    )
    .unwrap();
    let result = replay(&import_suites(&folder, &ImportOptions::default()));
    assert!(!result.passed());
    assert_eq!(failures(&result.scenarios[0]), ["expected allow, got deny"]);
}

#[test]
fn written_scenarios_are_self_contained_and_replay_the_same() {
    for (path, options) in [
        (fixtures().join("corpus"), ImportOptions::default()),
        (fixtures().join("run-tests/tests.json"), run_tests_options()),
        (fixtures().join("integration"), ImportOptions::default()),
    ] {
        let suites = import_suites(&path, &options);
        let direct = replay(&suites);
        let out = temp_folder("written");
        let written = import::write_all(&suites, &out).unwrap();
        // Only the written folder is needed: move it away from the suite and load it.
        let moved = temp_folder("written-moved");
        copy_tree(&out, &moved);
        std::fs::remove_dir_all(&out).unwrap();
        for (file, (suite, expected)) in written.iter().zip(suites.iter().zip(&direct.scenarios)) {
            let file = moved.join(file.strip_prefix(&out).unwrap());
            let loaded = scenario::load(&file, &LoadOptions::default())
                .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
            let again = privsim::evaluate(&loaded);
            assert_eq!(again.name, suite.name);
            assert_eq!(outcomes(&again), outcomes(expected), "{}", suite.name);
            assert!(again.passed);
        }
    }
}

#[test]
fn format_is_detected_from_the_shape() {
    let folder = temp_folder("detect");
    copy_tree(
        &fixtures().join("corpus/notes"),
        &folder.join("cases/notes"),
    );
    copy_tree(&fixtures().join("integration"), &folder.join("integration"));
    let suites = import_suites(&folder, &ImportOptions::default());
    let found: Vec<(&str, SuiteFormat)> =
        suites.iter().map(|s| (s.name.as_str(), s.format)).collect();
    assert_eq!(
        found,
        [
            ("cases-notes", SuiteFormat::Corpus),
            ("integration-tests-unvalidated", SuiteFormat::Integration),
            ("integration-tests-validated", SuiteFormat::Integration),
        ]
    );
    let only = ImportOptions {
        format: Some(SuiteFormat::Corpus),
        ..ImportOptions::default()
    };
    assert_eq!(import_suites(&folder, &only).len(), 1);
}

/// Runs the `privsim` binary; returns the exit code, standard output and standard error.
fn privsim(args: &[&str]) -> (i32, String, String) {
    crate::common::privsim_in(Path::new("."), args)
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn the_command_replays_or_writes_with_run_exit_codes() {
    let corpus = fixtures().join("corpus");
    let (code, stdout, _) = privsim(&["import", text(&corpus)]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("ok: 1 scenario(s), 0 failed"), "{stdout}");

    let (code, stdout, _) = privsim(&["import", text(&corpus), "--output-format", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json["scenarios"][0]["steps"].as_array().map(Vec::len),
        Some(7)
    );

    let wrong = fixtures().join("wrong/integration.json");
    let (code, _, _) = privsim(&["import", text(&wrong), "--format", "integration"]);
    assert_eq!(code, 1);

    let out = temp_folder("cli-out");
    let tests = fixtures().join("run-tests/tests.json");
    let policies = fixtures().join("run-tests/policies.cedar");
    let links = fixtures().join("run-tests/links.json");
    let (code, stdout, stderr) = privsim(&[
        "import",
        text(&tests),
        "--policies",
        text(&policies),
        "--links",
        text(&links),
        "--out",
        text(&out),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(out.join("run-tests-tests-1/links.json").is_file());
    let (code, stdout, _) = privsim(&["run", text(&out)]);
    assert_eq!(code, 0, "{stdout}");

    // run-tests files do not name their policies.
    let (code, _, stderr) = privsim(&["import", text(&tests)]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--policies"), "{stderr}");
    // And the run-tests options make no sense for other formats.
    let (code, _, stderr) = privsim(&[
        "import",
        text(&corpus),
        "--format",
        "corpus",
        "--policies",
        text(&policies),
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("only apply to the run-tests format"),
        "{stderr}"
    );
}

/// Each malformed suite is bad input (exit 2, never a panic) with the place named.
#[test]
fn malformed_suites_are_bad_input_with_their_location() {
    let folder = temp_folder("malformed");
    let cases: [(&str, &str, &str, &str); 7] = [
        (
            "bad-json/test.json",
            "{\n  \"policies\": \"p.cedar\",\n  \"requests\": [ }\n",
            "test.json:3:17",
            "",
        ),
        (
            "missing-file/test.json",
            "{\n  \"policies\": \"nowhere.cedar\", \"entities\": \"e.json\", \"schema\": \"s.cedarschema\",\n  \"shouldValidate\": true, \"requests\": []\n}\n",
            "test.json:2:15",
            "cannot find `nowhere.cedar`",
        ),
        (
            "unknown-field/test.json",
            "{\n  \"policies\": \"p.cedar\", \"entities\": \"e.json\", \"schema\": \"s.cedarschema\",\n  \"shouldValidate\": true, \"requests\": [], \"extra\": 1\n}\n",
            "test.json:3:",
            "unknown field `extra`",
        ),
        (
            "bad-uid/ALLOW/request.json",
            "{\n  \"principal\": \"User::alice\",\n  \"action\": \"Action::\\\"read\\\"\",\n  \"resource\": \"Doc::\\\"d\\\"\",\n  \"context\": {}\n}\n",
            "request.json:2:16",
            "bad principal",
        ),
        (
            "float/ALLOW/request.json",
            "{\n  \"principal\": \"User::\\\"alice\\\"\",\n  \"action\": \"Action::\\\"read\\\"\",\n  \"resource\": \"Doc::\\\"d\\\"\",\n  \"context\": { \"score\": [1, 2.5] }\n}\n",
            "request.json:5:29",
            "`2.5` is not a Cedar integer",
        ),
        (
            "run-tests-shape/tests.json",
            "[\n  {\"request\": {\"principal\": \"User::\\\"a\\\"\", \"action\": \"Action::\\\"r\\\"\", \"resource\": \"D::\\\"d\\\"\", \"context\": {}}, \"entities\": [], \"decision\": \"maybe\", \"reason\": [], \"num_errors\": 0}\n]\n",
            "tests.json:2:3",
            "unknown variant `maybe`",
        ),
        (
            "bad-policy/ALLOW/request.json",
            "{\n  \"principal\": \"User::\\\"alice\\\"\",\n  \"action\": \"Action::\\\"read\\\"\",\n  \"resource\": \"Doc::\\\"d\\\"\",\n  \"context\": {}\n}\n",
            "policies.cedar:1:",
            "",
        ),
    ];
    for (file, contents, _, _) in &cases {
        let path = folder.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
    }
    for use_case in ["bad-uid", "float"] {
        std::fs::write(
            folder.join(use_case).join("policies.cedar"),
            "permit(principal, action, resource);",
        )
        .unwrap();
    }
    std::fs::write(
        folder.join("bad-policy/policies.cedar"),
        "permit(principal, action, resource",
    )
    .unwrap();
    for (file, _, location, message) in cases {
        let path = folder.join(file);
        let target = if file.contains("/ALLOW/") {
            path.parent().and_then(Path::parent).unwrap().to_path_buf()
        } else {
            path
        };
        let mut args = vec!["import", text(&target)];
        let policies = fixtures().join("run-tests/policies.cedar");
        if file.starts_with("run-tests") {
            args.extend(["--policies", text(&policies)]);
        } else if !file.contains("/ALLOW/") {
            args.extend(["--format", "integration"]);
        }
        let (code, stdout, stderr) = privsim(&args);
        assert_eq!(code, 2, "{file}: {stdout}{stderr}");
        assert!(
            stderr.contains(location),
            "{file}: expected `{location}` in {stderr}"
        );
        assert!(
            unwrapped(&stderr).contains(&unwrapped(message)),
            "{file}: expected `{message}` in {stderr}"
        );
    }
}

#[test]
fn accounting_survives_a_datetime_literal_that_is_not_ascii() {
    // Found by importing Cedar's generated corpus: a policy with
    // `datetime("553³³þ1-01")` made held-set accounting slice inside a character.
    let folder = temp_folder("non-ascii-datetime");
    std::fs::write(
        folder.join("policies.cedar"),
        "permit(principal, action, resource) when { context.now < datetime(\"553³³þ1-01\") };",
    )
    .unwrap();
    std::fs::write(
        folder.join("tests.json"),
        r#"[{"request": {"principal": "User::\"a\"", "action": "Action::\"r\"", "resource": "Doc::\"d\"", "context": {"now": {"__extn": {"fn": "datetime", "arg": "2026-01-01"}}}}, "entities": [], "decision": "deny", "reason": [], "num_errors": 1}]"#,
    )
    .unwrap();
    let options = ImportOptions {
        policies: Some(folder.join("policies.cedar")),
        ..ImportOptions::default()
    };
    let result = replay(&import_suites(&folder.join("tests.json"), &options));
    assert!(result.passed(), "{:?}", failures(&result.scenarios[0]));
}

/// A fresh, empty folder for one test.
fn temp_folder(test: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("privsim-import-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}
