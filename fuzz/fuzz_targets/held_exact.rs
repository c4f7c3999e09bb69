//! Fuzz target: generated worlds (`privsim_testkit::generate`, seeded and sized by
//! the input's bytes: agents, users, a folder tree of documents, up to 40
//! policies of 29 kinds, with or without a schema, with or without a
//! workflow of delegated sessions and a JIT grant; without a schema, bit 3 of
//! byte 14 draws every other policy from Cedar's whole expression grammar)
//! where the fast held sets must equal brute force, decision by decision, and
//! accounting must be the same either way (`privsim_testkit::properties::check_held_exact`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    privsim_testkit::properties::check_held_exact(data);
});
