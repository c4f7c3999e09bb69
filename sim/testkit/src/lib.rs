//! Test support for privsim, shipped with no binary and never published:
//! seeded generated worlds ([`generate`]) and the properties that the fuzz
//! targets in `fuzz/` check ([`properties`]), which the tests also run over
//! the committed seeds on stable.

pub mod fixtures;
pub mod generate;
pub mod json_context;
pub mod properties;
pub mod request_log;
