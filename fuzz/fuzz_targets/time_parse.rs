//! Fuzz target: time and duration parsing never panics and round-trips, and
//! printed instants read the same in Cedar (`privsim_testkit::properties::check_time_text`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    privsim_testkit::properties::check_time_text(data);
});
