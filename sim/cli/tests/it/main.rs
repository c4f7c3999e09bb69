//! The integration tests of this crate, in one binary (one link, as ripgrep does).

mod action;
mod check;
mod check_whole;
mod cli;
mod common;
mod determinism;
mod fuzz_campaign;
mod hardening;
mod import;
mod import_log;
mod import_log_stream;
mod import_mcp;
mod init;
mod malformed;
mod observation;
mod policy_proofs;
mod reports;
mod suggest;
mod suggest_group;
mod suggest_traffic;
mod watch;
