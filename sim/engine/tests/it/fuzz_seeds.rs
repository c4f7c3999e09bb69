//! Runs every fuzz target's check over its committed seeds (`fuzz/seeds/<target>/`,
//! minimized crashes included), so stable `cargo test` exercises what
//! `cargo +nightly fuzz` explores; and checks that the ClusterFuzzLite
//! configuration (`.clusterfuzzlite/`) builds every target with its seeds.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};

fn fuzz_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Every seed of a target, sorted by name.
fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let folder = fuzz_folder().join("seeds").join(target);
    let mut seeds: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds for {target}");
    seeds
}

/// Runs `check` over every seed of `target`, naming the seed that breaks it.
fn check(target: &str, check: fn(&[u8])) {
    for (path, bytes) in seeds(target) {
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_default();
            panic!("seed {}: {message}", path.display());
        }
    }
}

#[test]
fn scenario_parse_holds_on_every_seed() {
    check(
        "scenario_parse",
        privsim_testkit::properties::check_scenario_source,
    );
}

#[test]
fn policy_parse_holds_on_every_seed() {
    check(
        "policy_parse",
        privsim_testkit::properties::check_policy_text,
    );
}

#[test]
fn held_exact_holds_on_every_seed() {
    check("held_exact", privsim_testkit::properties::check_held_exact);
}

#[test]
fn time_parse_holds_on_every_seed() {
    check("time_parse", privsim_testkit::properties::check_time_text);
}

#[test]
fn states_exact_holds_on_every_seed() {
    check("states_exact", |bytes| {
        privsim_testkit::properties::check_states_exact(bytes);
    });
}

#[test]
fn search_holds_on_every_seed() {
    check("search", privsim_testkit::properties::check_search);
}

/// The search seeds reach every planted escalation, and nothing in the fixed
/// variants: a seed `<scenario>-planted-<what>` ends in a state with a
/// violation, a seed `<scenario>-fixed-<what>` in one without.
#[test]
fn the_search_seeds_reach_each_planted_escalation() {
    let scenarios = privsim_testkit::properties::search_scenarios();
    let mut reached = std::collections::BTreeSet::new();
    for (path, bytes) in seeds("search") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let index = usize::from(bytes[0] & 7);
        let tick = (bytes[0] & 8 != 0).then_some(privsim_testkit::properties::SEARCH_TICK);
        let scenario = privsim_testkit::properties::SEARCH_SCENARIOS[index];
        let trace =
            privsim_testkit::properties::check_search_in(&scenarios[index], tick, &bytes[1..])
                .unwrap_or_else(|e| panic!("seed {name}: {e}"));
        let (folder, variant) = scenario.split_once('/').unwrap();
        assert!(
            name.starts_with(&format!("{folder}-{}-", variant.trim_end_matches(".toml"))),
            "seed {name} plays {scenario}"
        );
        if variant == "planted.toml" {
            assert!(
                !trace.violations.is_empty(),
                "seed {name} reaches no violation"
            );
            reached.extend(trace.violations.iter().map(|v| (folder, v.kind)));
        } else {
            assert!(
                trace.violations.is_empty(),
                "seed {name}: {:?}",
                trace.violations
            );
        }
    }
    for folder in [
        "confused-deputy",
        "jit-forgetful",
        "self-assign-role",
        "subagent-scope",
    ] {
        assert!(
            reached.iter().any(|(f, _)| *f == folder),
            "no seed reaches the planted escalation of {folder}"
        );
    }
    for kind in ["never", "attenuation", "delegation-ceiling", "expiry"] {
        assert!(
            reached.iter().any(|(_, k)| k.as_str() == kind),
            "no seed reaches a `{kind}` violation"
        );
    }
}

/// The fuzz world has no symlinks, so a fuzzed path can only reach files that
/// are really inside it (the loader's folder rule is what is being fuzzed).
#[test]
fn the_fuzz_world_holds_only_plain_files() {
    for entry in std::fs::read_dir(privsim_testkit::properties::fuzz_world()).unwrap() {
        let entry = entry.unwrap();
        assert!(entry.file_type().unwrap().is_file(), "{:?}", entry.path());
    }
}

/// The scenario seeds reach replay: at least the full one loads and passes.
#[test]
fn the_full_seed_loads_so_the_target_reaches_replay() {
    let world = privsim_testkit::properties::fuzz_world();
    let text =
        std::fs::read_to_string(fuzz_folder().join("seeds/scenario_parse/full.toml")).unwrap();
    let file =
        privsim::diag::SourceFile::from_text(world.join("fuzz.toml"), "fuzz.toml".into(), text);
    let loaded = privsim::load::load_source(file, &privsim::LoadOptions::default())
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    let result = privsim::evaluate(&loaded);
    assert!(result.passed, "{result:#?}");
}

/// The location check itself: a known error is located where it is.
#[test]
fn a_seed_error_is_located_in_the_text() {
    let world = privsim_testkit::properties::fuzz_world();
    let file = privsim::diag::SourceFile::from_text(
        world.join("fuzz.toml"),
        "fuzz.toml".into(),
        "[scenario]\nname = \"x\"\npolicies = [\"../../etc/passwd\"]\n".into(),
    );
    let error = privsim::load::load_source(file, &privsim::LoadOptions::default())
        .map(|_| ())
        .unwrap_err();
    let privsim::Error::Source(error) = error else {
        panic!("{error:?}")
    };
    assert_eq!(error.location, "fuzz.toml:3:13");
}

#[test]
fn gate_config_holds_on_every_seed() {
    check(
        "gate_config",
        privsim_testkit::properties::check_gate_config,
    );
}

#[test]
fn render_hostile_holds_on_every_seed() {
    check(
        "render_hostile",
        privsim_testkit::properties::check_render_hostile,
    );
}

#[test]
fn git_reader_holds_on_every_seed() {
    check("git_reader", privsim_testkit::properties::check_git_reader);
}

/// A `NAME="a b c"` line of `.clusterfuzzlite/build.sh`, split at spaces.
fn build_sh_list(script: &str, name: &str) -> Vec<String> {
    let line = script
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=\"")))
        .unwrap_or_else(|| panic!("build.sh has no {name}=\"...\" line"));
    line.trim_end_matches('"')
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn clusterfuzzlite_builds_every_fuzz_target_with_its_seeds() {
    let root = fuzz_folder().join("..");
    let cargo = std::fs::read_to_string(fuzz_folder().join("Cargo.toml")).unwrap();
    let mut declared: Vec<String> = cargo
        .lines()
        .filter_map(|l| l.trim().strip_prefix("name = \""))
        .map(|name| name.trim_end_matches('"').to_string())
        .filter(|name| name != "privsim-fuzz")
        .collect();
    declared.sort();
    assert!(declared.len() >= 10, "{declared:?}");
    let script = std::fs::read_to_string(root.join(".clusterfuzzlite/build.sh")).unwrap();
    let mut built = build_sh_list(&script, "TARGETS");
    built.sort();
    // Every target of fuzz/Cargo.toml is built and copied to $OUT, and no
    // other.
    assert_eq!(built, declared, "build.sh TARGETS is not fuzz/Cargo.toml's");
    assert!(script.contains("cargo fuzz build -O"), "{script}");
    assert!(
        script.contains("cp \"$FUZZ_TARGET_OUTPUT_DIR/$target\" \"$OUT/\""),
        "{script}"
    );
    assert!(
        script.contains("zip -q -r \"$OUT/${target}_seed_corpus.zip\" .")
            && script.contains("cd \"fuzz/seeds/$target\""),
        "{script}"
    );
    // Each has its seed folder, zipped; a target listed without seeds really
    // has none (when seeds are added, it must leave the list).
    let no_seeds = build_sh_list(&script, "NO_SEEDS");
    for target in &declared {
        let folder = fuzz_folder().join("seeds").join(target);
        if no_seeds.contains(target) {
            assert!(
                !folder.exists(),
                "{target} has seeds now: take it out of NO_SEEDS"
            );
        } else {
            assert!(
                folder.is_dir() && std::fs::read_dir(&folder).unwrap().next().is_some(),
                "{target} has no seeds in fuzz/seeds/{target}/"
            );
        }
    }
    for name in ["project.yaml", "Dockerfile"] {
        assert!(root.join(".clusterfuzzlite").join(name).is_file(), "{name}");
    }
    let project = std::fs::read_to_string(root.join(".clusterfuzzlite/project.yaml")).unwrap();
    assert_eq!(project.trim(), "language: rust");
    let docker = std::fs::read_to_string(root.join(".clusterfuzzlite/Dockerfile")).unwrap();
    assert!(docker.contains("FROM gcr.io/oss-fuzz-base/base-builder-rust"));
    assert!(docker.contains("COPY .clusterfuzzlite/build.sh $SRC/"));
}
