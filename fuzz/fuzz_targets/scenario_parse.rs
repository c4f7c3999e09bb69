//! Fuzz target: arbitrary bytes as a scenario file in `fuzz/world/` never
//! panic the loader, replay or accounting (`privsim::check::check_scenario_source`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let world = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("world");
    privsim::check::check_scenario_source(&world, data);
});
