//! The result contract of privsim: what a run, a search, a suggestion and a
//! gate produce, as plain data (serde only). The engine fills it, the reports
//! read it, and neither the contract nor the reports can name Cedar.
//!
//! [`result`] is `privsim run`'s JSON contract (with [`caveat`], what a
//! search or an observation window left out, as data), [`check`] the gate's,
//! [`suggest`] that of `privsim suggest`; [`pairs`] and [`proof`] hold the
//! types those contracts share (so none names another's module back);
//! [`time`] is the simulated clock,
//! [`format`](mod@format) how numbers in the contract are written, and [`diag`] the
//! located errors every crate reports user input with.

pub mod caveat;
pub mod check;
mod closed;
pub mod diag;
pub mod format;
pub mod pairs;
pub mod proof;
pub mod result;
pub mod suggest;
pub mod time;

pub use diag::Error;
pub use result::{RunResult, ScenarioResult};
