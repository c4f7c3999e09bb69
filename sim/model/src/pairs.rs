//! The units the run and suggestion contracts share: an (action, resource)
//! pair and a principal's held/used numbers. A leaf: it names no other
//! contract.

use serde::{Deserialize, Serialize};

/// An (action, resource) pair as Cedar UID strings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pair {
    /// The action, e.g. `Action::"readTicket"`.
    pub action: String,
    /// The resource, e.g. `Ticket::"T-1"`.
    pub resource: String,
}

/// The numbers of a principal's account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Metrics {
    /// |Held|.
    pub held: usize,
    /// |Used|.
    pub used: usize,
    /// |Held − Used|.
    pub unused: usize,
    /// |Used| / |Held| (1.0 is least privilege), rounded to 4 decimals.
    pub utilization: f64,
    /// Σ risk weight over unused pairs.
    pub weighted_gap: u64,
}
