//! The integration tests of this crate, in one binary (one link, as ripgrep does).

mod accounting;
mod assurance;
mod common;
mod context_reading;
mod determinism;
mod effects;
mod engine;
mod fuzz_seeds;
mod held;
mod never_proofs;
mod observation;
mod proof_cache;
mod prove;
mod reuse;
mod scenarios;
mod schema;
mod search;
