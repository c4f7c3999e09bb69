//! Fuzz target: the gate configuration (`privsim-gate.toml`, which arrives in
//! pull requests) never panics and fails only with located errors
//! (`privsim_testkit::properties::check_gate_config`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    privsim_testkit::properties::check_gate_config(data);
});
