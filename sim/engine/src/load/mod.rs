//! Loading a scenario: parse the TOML (`raw`), read the Cedar files it names,
//! resolve every reference and build every request up front, so that replay
//! only evaluates. All file IO of the engine happens here.
//!
//! The files: `discover.rs` finds scenario and policy files; `raw.rs` is the
//! TOML as written; `loader/` resolves it (with `cedar_files.rs`,
//! `rules.rs`, `risk.rs`, `policy_times.rs`, `values.rs`) into the model of
//! `model.rs`, the [`Scenario`] replay reads; `request.rs` builds Cedar
//! requests; `universe.rs` lists the pairs a principal could hold;
//! `messages.rs` holds the small text helpers of error messages.

pub mod cedar_files;
mod discover;
mod loader;
mod messages;
mod model;
pub mod policy_times;
pub mod raw;
pub(crate) mod request;
pub mod risk;
pub mod rules;
pub mod universe;
mod values;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{EntityUid, Request, Schema};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use toml::Spanned;

use crate::load::rules::{Effect, Invariants, NeverRule, Operand, Operation, Pattern, ValueSource};
use crate::world::{self, Grant, World};
use cedar_files::Policies;
pub use cedar_files::error_chain;
use privsim_model::diag::{Error, Result, SourceError, SourceFile};
use privsim_model::time::{self, Instant};
pub use raw::RawDecision as Decision;
use raw::{RawExpiry, RawScenario};
use risk::RiskWeights;

use discover::collect_policy_folder;
pub(crate) use discover::normalize;
pub use discover::{GATE_CONFIG, collect_files, discover, is_shared_world, policy_files};
pub use loader::{load, load_raw, load_source, parse_toml};
use messages::closest;
pub use model::{
    AccessCheck, DEFAULT_UNUSED_AFTER_MS, DefaultContext, Expectation, Facts, LoadOptions,
    NamedFile, Observation, ObservationOptions, Scenario, Session, Step, StepLabels,
    session_context,
};
pub use request::{
    build_request, build_unvalidated_request, parse_uid, plain_context, plain_entity,
    plain_request, read_context, read_entity, request_from_context,
};
use request::{context_culprit, uid_from_json};
