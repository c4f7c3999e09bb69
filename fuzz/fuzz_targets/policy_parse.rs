//! Fuzz target: arbitrary bytes as a Cedar policy file never panic or overflow
//! the stack in parsing and validation, errors are located, and policies that
//! parse replay the fuzz world's scenario (`privsim_testkit::properties::check_policy_text`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    privsim_testkit::properties::check_policy_text(data);
});
