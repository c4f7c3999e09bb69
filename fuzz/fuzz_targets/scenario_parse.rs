//! Fuzz target: arbitrary bytes as a scenario file in `fuzz/world/` never panic
//! the loader, replay, accounting or reports, and every error is located
//! (`privsim_testkit::properties::check_scenario_source`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    privsim_testkit::properties::check_scenario_source(data);
});
