//! Fuzz target: generated worlds with effects of every kind (seeded and sized
//! by the input's first bytes), walked with the escalation search's moves
//! chosen by the rest; in every state reached, the incremental held sets and
//! violations must equal brute force, and moves picked by index must be the
//! moves listed (`privsim_testkit::properties::check_states_exact`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    privsim_testkit::properties::check_states_exact(data);
});
