//! The fixtures every crate's tests share (`privsim_testkit::fixtures`).

pub use privsim_testkit::fixtures::*;
