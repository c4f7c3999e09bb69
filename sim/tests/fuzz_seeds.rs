//! Runs every fuzz target's check over its committed seeds (`fuzz/seeds/<target>/`,
//! minimized crashes included), so stable `cargo test` exercises what
//! `cargo +nightly fuzz` explores.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};

fn fuzz_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
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
    check("scenario_parse", privsim::check::check_scenario_source);
}

#[test]
fn policy_parse_holds_on_every_seed() {
    check("policy_parse", privsim::check::check_policy_text);
}

#[test]
fn held_exact_holds_on_every_seed() {
    check("held_exact", privsim::check::check_held_exact);
}

#[test]
fn time_parse_holds_on_every_seed() {
    check("time_parse", privsim::check::check_time_text);
}

/// The fuzz world has no symlinks, so a fuzzed path can only reach files that
/// are really inside it (the loader's folder rule is what is being fuzzed).
#[test]
fn the_fuzz_world_holds_only_plain_files() {
    for entry in std::fs::read_dir(privsim::check::fuzz_world()).unwrap() {
        let entry = entry.unwrap();
        assert!(entry.file_type().unwrap().is_file(), "{:?}", entry.path());
    }
}

/// The scenario seeds reach replay: at least the full one loads and passes.
#[test]
fn the_full_seed_loads_so_the_target_reaches_replay() {
    let world = privsim::check::fuzz_world();
    let text =
        std::fs::read_to_string(fuzz_folder().join("seeds/scenario_parse/full.toml")).unwrap();
    let file =
        privsim::diag::SourceFile::from_text(world.join("fuzz.toml"), "fuzz.toml".into(), text);
    let loaded = privsim::scenario::load_source(file, &privsim::LoadOptions::default())
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    let result = privsim::evaluate(&loaded);
    assert!(result.passed, "{result:#?}");
}

/// The location check itself: a known error is located where it is.
#[test]
fn a_seed_error_is_located_in_the_text() {
    let world = privsim::check::fuzz_world();
    let file = privsim::diag::SourceFile::from_text(
        world.join("fuzz.toml"),
        "fuzz.toml".into(),
        "[scenario]\nname = \"x\"\npolicies = [\"../../etc/passwd\"]\n".into(),
    );
    let error = privsim::scenario::load_source(file, &privsim::LoadOptions::default())
        .map(|_| ())
        .unwrap_err();
    let privsim::Error::Source(error) = error else {
        panic!("{error:?}")
    };
    assert_eq!(error.location, "fuzz.toml:3:13");
}
