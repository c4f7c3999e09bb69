//! Runs every fuzz target's check over its committed seeds (`fuzz/seeds/<target>/`),
//! so stable `cargo test` exercises what `cargo +nightly fuzz` explores.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};

fn fuzz_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

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

#[test]
fn scenario_parse_holds_on_every_seed() {
    let world = fuzz_folder().join("world");
    for (path, bytes) in seeds("scenario_parse") {
        eprintln!("seed {}", path.display());
        privsim::check::check_scenario_source(&world, &bytes);
    }
}

#[test]
fn the_full_seed_loads_so_the_target_reaches_replay() {
    let world = fuzz_folder().join("world");
    let text =
        std::fs::read_to_string(fuzz_folder().join("seeds/scenario_parse/full.toml")).unwrap();
    let file =
        privsim::diag::SourceFile::from_text(world.join("fuzz.toml"), "fuzz.toml".into(), text);
    let loaded = privsim::scenario::load_source(file, &privsim::LoadOptions::default())
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    let result = privsim::evaluate(&loaded);
    assert!(result.passed, "{result:#?}");
}

#[test]
fn time_parse_holds_on_every_seed() {
    for (path, bytes) in seeds("time_parse") {
        eprintln!("seed {}", path.display());
        privsim::check::check_time_text(&bytes);
    }
}
