//! Fuzz target: coverage-guided escalation search. The first byte picks one of
//! the escalation scenarios (`scenarios/escalations/*/{planted,fixed}.toml`)
//! and whether a 5-minute clock move is offered; the other bytes pick the
//! moves of the search (`privsim::search::Mover`, played by
//! `privsim::search::execute`), one per byte. After each move the state's
//! invariants are checked; state keys, determinism and every kind of
//! violation's repro scenario must hold up (`privsim_testkit::properties::check_search`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    privsim_testkit::properties::check_search(data);
});
