//! Fuzz target: hostile ids, names, messages and paths through every report
//! format of `run` and `check`, with an escaping oracle
//! (`privsim_testkit::properties::check_render_hostile`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    privsim_testkit::properties::check_render_hostile(data);
});
