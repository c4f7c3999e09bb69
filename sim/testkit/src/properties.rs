//! Properties checked by the fuzz targets in `fuzz/` and, over their committed
//! seeds, by `cargo test` on stable (`sim/tests/fuzz_seeds.rs`). Each function
//! panics when its property is broken; that is how a fuzzer reports it.
//!
//! Nothing here writes to disk: a fuzzed scenario is text in memory whose path
//! is placed in [`fuzz_world`], a committed folder with a schema, policies and
//! entities for it to reference.
#![expect(
    clippy::panic,
    clippy::unwrap_used,
    reason = "a check reports a broken property by panicking"
)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use privsim::diag::{Error, SourceFile};
use privsim::gate::model::{ChangeKind, ChangeStatus};
use privsim::load::{self as scenario, LoadOptions};
use privsim::result::{Decision, RunResult};
use privsim::search::{Found, Move, Mover, execute};
use privsim::time::{self, Instant};
use privsim::world::Timeline;
use privsim::world::state::{Machine, Snapshot, State, StateKey, Violation};

/// The folder fuzzed scenarios live in: `fuzz/world/` of this repository.
pub fn fuzz_world() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/world")
}

/// [`check_scenario_source_in`] the [`fuzz_world`].
pub fn check_scenario_source(bytes: &[u8]) {
    check_scenario_source_in(&fuzz_world(), bytes);
}

/// Loading any bytes (read as UTF-8, invalid bytes replaced) as the scenario
/// file `fuzz.toml` in `folder`:
/// - never panics;
/// - fails only with an error located in the text (`fuzz.toml:line:col` within
///   it) or in a file of `folder`, never an unlocated one and never a file
///   outside `folder`;
/// - or succeeds with every policy file inside `folder`, and then replays and
///   accounts every step, and both reports render, the JSON one parsing back
///   to the same result.
pub fn check_scenario_source_in(folder: &Path, bytes: &[u8]) {
    let root = folder
        .canonicalize()
        .unwrap_or_else(|e| panic!("the fuzz world `{}`: {e}", folder.display()));
    let text = String::from_utf8_lossy(bytes).into_owned();
    let file = SourceFile::from_text(root.join("fuzz.toml"), "fuzz.toml".into(), text.clone());
    match scenario::load_source(file, &LoadOptions::default()) {
        Ok(loaded) => {
            for policy_file in &loaded.policies.files {
                let canonical = policy_file.path.canonicalize().unwrap();
                assert!(
                    canonical.starts_with(&root),
                    "read `{}`, outside the folder",
                    canonical.display()
                );
            }
            let result = privsim::evaluate(&loaded);
            assert_eq!(
                result.steps.len(),
                loaded.steps.len(),
                "every step is replayed"
            );
            check_reports(RunResult::new(vec![result]));
        }
        Err(Error::Source(error)) => {
            let location = &error.location;
            let (name, line, column) = location_parts(location, &error.message);
            let located_text = if name == "fuzz.toml" {
                text
            } else {
                let path = root.join(name).canonicalize().unwrap_or_else(|e| {
                    panic!("`{location}` names a file that is not in the folder: {e}")
                });
                assert!(
                    path.starts_with(&root),
                    "`{location}` is outside the folder"
                );
                std::fs::read_to_string(&path).unwrap()
            };
            assert!(
                location_is_within(&located_text, line, column),
                "`{location}` is not within the text: {}",
                error.message
            );
        }
        Err(other) => panic!("an error without a location: {other}"),
    }
}

/// Any bytes as a policy file `fuzz.cedar` (invalid UTF-8 replaced):
/// - parsing and strict validation against `fuzz/world/s.cedarschema` never
///   panic nor overflow the stack, and fail only with errors located within
///   the text;
/// - policies that parse replace those of `fuzz/world/scenario.toml`, which
///   then replays and accounts every step, and both reports render, the JSON
///   one parsing back to the same result.
pub fn check_policy_text(bytes: &[u8]) {
    static BASE: std::sync::OnceLock<scenario::Scenario> = std::sync::OnceLock::new();
    let base = BASE.get_or_init(|| {
        scenario::load(&fuzz_world().join("scenario.toml"), &LoadOptions::default())
            .unwrap_or_else(|e| panic!("the base scenario of the fuzz world: {e:?}"))
    });
    let text = String::from_utf8_lossy(bytes).into_owned();
    let file = SourceFile::from_text("fuzz.cedar".into(), "fuzz.cedar".into(), text.clone());
    let located = |error: &privsim::diag::SourceError| {
        let (line, column) = split_location(&error.location, "fuzz.cedar");
        assert!(
            location_is_within(&text, line, column),
            "`{}` is not within the text: {}",
            error.location,
            error.message
        );
    };
    let policies = match privsim::load::cedar_files::parse_policies(vec![file]) {
        Ok(policies) => policies,
        Err(Error::Source(error)) => return located(&error),
        Err(other) => panic!("an error without a location: {other}"),
    };
    if let Some(schema) = &base.schema {
        match privsim::load::cedar_files::validate(&policies, schema) {
            Ok(()) => {}
            Err(Error::Source(error)) => located(&error),
            Err(other) => panic!("an error without a location: {other}"),
        }
    }
    let mut scenario = base.clone();
    scenario.policies = policies;
    let result = privsim::evaluate(&scenario);
    assert_eq!(
        result.steps.len(),
        scenario.steps.len(),
        "every step is replayed"
    );
    check_reports(RunResult::new(vec![result]));
}

/// Every report renders; the JSON one parses back to the same result; and
/// no human-readable one carries a control character of the input (the
/// escaping oracle: whatever ids, names and reasons hold, a report can
/// neither rewrite a terminal nor start a line of its own in a CI log).
fn check_reports(run: RunResult) {
    let text = privsim_reports::text::render(&run);
    assert_inert("text", &text);
    let files = privsim_reports::render_all(&run)
        .unwrap_or_else(|e| panic!("a report does not render: {e}"));
    for (name, rendered) in &files {
        if *name != "result.json" {
            assert_inert(name, rendered);
        }
    }
    let json = privsim_reports::json(&run);
    let parsed: RunResult = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("the JSON report does not parse: {e}\n{json}"));
    assert!(
        parsed == run,
        "the JSON report does not round-trip:\n{json}"
    );
}

/// No control character but the renderer's own line breaks and tabs.
fn assert_inert(format: &str, rendered: &str) {
    if let Some(bad) = rendered
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        panic!("the {format} report carries the control character {bad:?}");
    }
}

/// The line and column of a `file:line:col` location in `expected_file`.
fn split_location(location: &str, expected_file: &str) -> (usize, usize) {
    let (name, line, column) = location_parts(location, "");
    assert_eq!(name, expected_file, "`{location}` names another file");
    (line, column)
}

/// `file:line:col` in its parts; panics when it is not of that form.
fn location_parts<'l>(location: &'l str, message: &str) -> (&'l str, usize, usize) {
    let mut parts = location.rsplitn(3, ':');
    let (Some(column), Some(line), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("`{location}` is not `file:line:col`: {message}")
    };
    (
        name,
        line.parse()
            .unwrap_or_else(|_| panic!("bad line in `{location}`")),
        column
            .parse()
            .unwrap_or_else(|_| panic!("bad column in `{location}`")),
    )
}

/// Any bytes as the gate's configuration `privsim-gate.toml` (invalid UTF-8
/// replaced): parsing never panics and fails only with an error located
/// within the text; a configuration that parses names each exception at a
/// line of the text and serializes into the gate's JSON contract.
pub fn check_gate_config(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let file = SourceFile::from_text(
        PathBuf::from("privsim-gate.toml"),
        "privsim-gate.toml".into(),
        text.clone(),
    );
    match privsim::gate::config::parse(&file) {
        Ok(config) => {
            for exception in &config.exceptions {
                let line = exception
                    .location
                    .strip_prefix("privsim-gate.toml:")
                    .and_then(|line| line.parse::<usize>().ok())
                    .unwrap_or_else(|| panic!("exception at `{}`", exception.location));
                assert!(
                    location_is_within(&text, line, 1),
                    "exception at line {line}, outside the text"
                );
                assert!(!exception.reason.trim().is_empty(), "an empty reason");
            }
            let view = privsim::gate::model::ConfigView {
                file: config.file.clone(),
                fail_on: config.fail_on.clone(),
                budget: config.budget.clone(),
                search: config.search.clone(),
            };
            serde_json::to_string(&view).unwrap();
        }
        Err(Error::Source(error)) => {
            let (name, line, column) = location_parts(&error.location, &error.message);
            assert_eq!(name, "privsim-gate.toml", "{}", error.location);
            assert!(
                location_is_within(&text, line, column),
                "`{}` is not within the text: {}",
                error.location,
                error.message
            );
        }
        Err(other) => panic!("an error without a location: {other}"),
    }
}

/// Whether a 1-based line and column (in characters) fall in `text`; the column
/// may be one past the end of its line (an error at the end of a line).
fn location_is_within(text: &str, line: usize, column: usize) -> bool {
    let Some(this_line) = text.split('\n').nth(line.wrapping_sub(1)) else {
        return false;
    };
    column >= 1 && column <= this_line.chars().count() + 1
}

/// Parsing times never panics; a parsed timestamp prints in a form that parses
/// back to the same instant; `+<duration>` adds exactly the duration; and when
/// the input has at least 8 bytes, the instant they encode (little-endian) is
/// checked by [`check_instant`].
pub fn check_time_text(bytes: &[u8]) {
    if let Some(first) = bytes.first_chunk::<8>() {
        check_instant(i64::from_le_bytes(*first));
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(instant) = Instant::parse_rfc3339(text) {
        let printed = instant.to_string();
        assert_eq!(
            Instant::parse_rfc3339(&printed),
            Ok(instant),
            "`{text}` printed as `{printed}` does not parse back"
        );
    }
    let start = Instant(0);
    if let Ok(at) = time::parse_time(text, start) {
        let printed = at.to_string();
        assert_eq!(
            time::parse_time(&printed, start),
            Ok(at),
            "`{text}` printed as `{printed}` does not parse back"
        );
    }
    if let Ok(millis) = time::parse_duration(text) {
        assert!(millis >= 0, "`{text}` is a negative duration");
        if let Ok(at) = time::parse_time(&format!("+{text}"), start) {
            assert_eq!(at.0, millis, "`+{text}` is not {millis} ms after the start");
        }
    }
}

/// Any instant in privsim's range (years 0000 to 9999, UTC; `millis` is folded
/// into it) prints as a timestamp that parses back to it, and that Cedar's
/// `datetime()` reads as the same number of milliseconds since the epoch: the
/// calendar arithmetic is checked against Cedar's as an oracle.
pub fn check_instant(millis: i64) {
    let span = Instant::MAX.0 - Instant::MIN.0 + 1;
    let instant = Instant(Instant::MIN.0 + millis.rem_euclid(span));
    let printed = instant.to_string();
    assert_eq!(
        Instant::parse_rfc3339(&printed),
        Ok(instant),
        "{} ms printed as `{printed}` does not parse back",
        instant.0
    );
    let expression =
        format!(r#"datetime("{printed}").durationSince(datetime("1970-01-01")).toMilliseconds()"#);
    let cedar = cedar_millis(&expression);
    assert_eq!(
        cedar,
        Ok(instant.0),
        "Cedar reads `{printed}` differently from privsim"
    );
}

/// Evaluates a Cedar expression that yields a `Long`.
fn cedar_millis(expression: &str) -> Result<i64, String> {
    use cedar_policy::{Context, Entities, EntityUid, EvalResult, Expression, Request};
    let uid = EntityUid::from_str(r#"E::"e""#).map_err(|e| e.to_string())?;
    let request = Request::new(uid.clone(), uid.clone(), uid, Context::empty(), None)
        .map_err(|e| e.to_string())?;
    let expression = Expression::from_str(expression).map_err(|e| e.to_string())?;
    match cedar_policy::eval_expression(&request, &Entities::empty(), &expression) {
        Ok(EvalResult::Long(millis)) => Ok(millis),
        Ok(other) => Err(format!("not a Long: {other}")),
        Err(e) => Err(e.to_string()),
    }
}

/// A world generated from fuzzer bytes ([`crate::generate`]: the first 8 bytes
/// seed it, the next ones choose its size, whether it has a schema, and the
/// context) is written to a fresh temporary folder, loaded, and then:
/// - for every entity store of the scenario, every user and agent (and a
///   principal the scenario never names), every action and two contexts, the
///   fast held set (`held::Engine::allowed`) equals brute force
///   (`Engine::allowed_brute_force`) resource by resource;
/// - the whole accounting is byte-identical computed either way.
///
/// Unlike the other checks this one writes (the generated files, removed
/// afterwards): the loader reads a scenario's files from its folder.
pub fn check_held_exact(bytes: &[u8]) {
    use crate::generate::{self, ACTIONS, Spec};
    use privsim::accounting::{self, Method};
    use privsim::held::Engine;

    let byte = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let mut seed = [0u8; 8];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = byte(i);
    }
    let flags = byte(14);
    let spec = Spec {
        agents: 1 + usize::from(byte(8) % 6),
        users: 1 + usize::from(byte(9) % 4),
        docs: 1 + usize::from(byte(10) % 40),
        fanout: 1 + usize::from(byte(11) % 3),
        depth: 1 + usize::from(byte(12) % 3),
        policies: 1 + usize::from(byte(13) % 40),
        schema: flags & 1 == 0,
        workflow: flags & 2 == 0,
        grammar: flags & 8 != 0,
        effects: false,
    };
    let world = generate::world(&spec, u64::from_le_bytes(seed));
    let loaded = load_generated(&world, "held-exact");

    let engine = Engine::new(&loaded);
    let mut principals: Vec<cedar_policy::EntityUid> = loaded
        .world
        .base
        .keys()
        .filter(|k| k.starts_with("Agent::") || k.starts_with("User::"))
        .map(|k| cedar_policy::EntityUid::from_str(k).unwrap())
        .collect();
    principals.push(cedar_policy::EntityUid::from_str(r#"Agent::"ghost""#).unwrap());
    let resources: Vec<cedar_policy::EntityUid> = loaded
        .world
        .base
        .keys()
        .filter(|k| k.starts_with("Doc::") || k.starts_with("Folder::"))
        .map(|k| cedar_policy::EntityUid::from_str(k).unwrap())
        .collect();
    let hour = 9 + byte(15) % 5;
    let target = format!("d{}", byte(16) % 40);
    let contexts = [
        serde_json::json!({
            "now": { "__extn": { "fn": "datetime", "arg": format!("2026-06-01T{hour:02}:00:00Z") } },
            "mfa": flags & 4 == 0,
        }),
        serde_json::json!({
            "now": { "__extn": { "fn": "datetime", "arg": "2026-06-01T10:30:00Z" } },
            "mfa": true,
            "target": { "__entity": { "type": "Doc", "id": target } },
            "delegator": { "__entity": { "type": "User", "id": "u0" } },
        }),
    ];
    for segment in 0..loaded.world.segments.len() {
        let store = Engine::segment(segment);
        for action in ACTIONS {
            let action =
                cedar_policy::EntityUid::from_str(&format!("Action::\"{action}\"")).unwrap();
            let targets = engine.targets(action.clone(), resources.clone());
            for context in &contexts {
                for principal in &principals {
                    let fast = engine.allowed(principal, &targets, context, store);
                    let slow = engine.allowed_brute_force(principal, &targets, context, store);
                    if let Some(index) = (0..fast.len()).find(|&i| fast[i] != slow[i]) {
                        panic!(
                            "{principal} {action} {} in segment {segment} with {context}: fast {}, brute force {} ({spec:?})",
                            targets.key(index),
                            fast[index],
                            slow[index]
                        );
                    }
                }
            }
        }
    }
    let account = |method| {
        let mut result = privsim::replay::replay(&loaded);
        accounting::account_with(Timeline::loaded(&loaded), &mut result, method);
        serde_json::to_string(&result).unwrap()
    };
    let (fast, slow) = (account(Method::Fast), account(Method::BruteForce));
    if fast != slow {
        let at = fast
            .bytes()
            .zip(slow.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        let from = at.saturating_sub(300);
        panic!(
            "accounting differs between fast and brute force ({spec:?}):\nfast: {}\nslow: {}",
            &fast[from..(at + 200).min(fast.len())],
            &slow[from..(at + 200).min(slow.len())]
        );
    }
}

/// Writes a generated world into a fresh temporary folder, loads it and
/// removes the folder (the loader reads a scenario's files from its folder).
pub fn load_generated(world: &crate::generate::World, name: &str) -> scenario::Scenario {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let folder = std::env::temp_dir().join(format!(
        "privsim-{name}-{}-{}",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    for (file, text) in &world.files {
        std::fs::write(folder.join(file), text).unwrap();
    }
    let loaded = scenario::load(&folder.join("scenario.toml"), &LoadOptions::default());
    let _ = std::fs::remove_dir_all(&folder);
    loaded.unwrap_or_else(|e| panic!("a generated world does not load: {e}"))
}

/// What [`check_states_exact`] compared.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatesChecked {
    /// States compared with brute force.
    pub compared: usize,
    /// Of those, states whose world effects had changed.
    pub changed: usize,
    /// Rows of changed states the incremental machine recomputed only in
    /// part ([`Machine::partial_rows`]).
    pub partial_rows: u64,
    /// Rows whose grant-free row the incremental machine took from another
    /// context that reads the same ([`Machine::other_context_rows`]).
    pub other_context_rows: u64,
    /// Requests no policy's scope admits, checked against Cedar
    /// ([`Machine::admits_none`]).
    pub unadmitted: u64,
}

/// The most moves [`check_states_exact`] plays on one world.
pub const STATES_MAX_MOVES: usize = 40;

/// Incremental snapshots against brute force on a generated world with
/// effects: bytes 0–7 seed the world, 8–13 size it, byte 14's bits choose no
/// schema (1), Cedar's whole grammar (2, without a schema) and a clock tick
/// (4); the rest pick the escalation search's moves (as
/// [`check_search_in`] does), at most [`STATES_MAX_MOVES`]. In the initial
/// state and after every move that changes the state, the snapshot (of all
/// actors, and of every other actor) and the state's violations must equal
/// what a [`Machine::brute_force`] machine computes for the same state, and
/// the move's own violations must too. Returns how many states were compared,
/// how many of them had a world effects had changed, and how many rows the
/// incremental machine recomputed only in part.
pub fn check_states_exact(bytes: &[u8]) -> StatesChecked {
    use crate::generate::{self, Spec};
    let byte = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let mut seed = [0u8; 8];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = byte(i);
    }
    let flags = byte(14);
    let schema = flags & 1 == 0;
    let spec = Spec {
        agents: 2 + usize::from(byte(8) % 5),
        users: 1 + usize::from(byte(9) % 4),
        docs: 1 + usize::from(byte(10) % 30),
        fanout: 1 + usize::from(byte(11) % 3),
        depth: 1 + usize::from(byte(12) % 3),
        policies: 1 + usize::from(byte(13) % 40),
        schema,
        workflow: true,
        grammar: !schema && flags & 2 != 0,
        effects: true,
    };
    let world = generate::world(&spec, u64::from_le_bytes(seed));
    let loaded = load_generated(&world, "states-exact");
    let tick = (flags & 4 != 0).then_some(7 * 60_000);
    let fast = Machine::new(&loaded);
    let slow = Machine::new(&loaded).brute_force();
    // A search worker's machine evaluates with its own copies of the
    // grant-free store and the policies (`Own::copied`): asked by brute
    // force too, it must answer exactly as `slow`.
    let copied = Machine::new(&loaded).share().machine().brute_force();
    // And incrementally, as a worker asks: its stores are made from its
    // own grant-free store, its rows from the shared machinery.
    let worker = Machine::new(&loaded).share().machine();
    let mover = Mover::new(&fast, tick);
    let mut state = fast.initial();
    let mut compared = (0, 0);
    let initial_grants = state.grants.len();
    let compare = |state: &State, moves: &[Move], compared: &mut (usize, usize)| {
        let context = || format!("({spec:?})\n{}", describe_trace(&fast, moves));
        let every_other = |actor: usize| actor % 2 == 1;
        let (a, b) = (fast.snapshot(state), slow.snapshot(state));
        let own = copied.snapshot(state);
        let incremental_own = worker.snapshot(state);
        if own != b || incremental_own != b {
            let own = if own == b { &incremental_own } else { &own };
            let detail = match (own, &b) {
                (Ok(o), Ok(s)) => first_difference(&fast, o, s),
                _ => format!("{own:?} / {b:?}"),
            };
            panic!(
                "a worker's machine (own copies) differs from brute force at {}: {detail} {}",
                state.time,
                context()
            );
        }
        let (c, d) = (
            fast.snapshot_of(state, every_other),
            slow.snapshot_of(state, every_other),
        );
        for ((fast_snapshot, slow_snapshot), what) in [
            ((&a, &b), "snapshot"),
            ((&c, &d), "snapshot of every other actor"),
        ] {
            if fast_snapshot != slow_snapshot {
                let detail = match (fast_snapshot, slow_snapshot) {
                    (Ok(f), Ok(s)) => first_difference(&fast, f, s),
                    _ => format!("{fast_snapshot:?} / {slow_snapshot:?}"),
                };
                panic!(
                    "incremental {what} differs from brute force at {}: {detail} {}",
                    state.time,
                    context()
                );
            }
        }
        if let Ok(snapshot) = &a {
            check_answers_without_cedar(&fast, &slow, state, snapshot, &context);
            let (f, s) = (
                fast.violations(state, snapshot),
                slow.violations(state, snapshot),
            );
            let o = copied.violations(state, snapshot);
            if o != s {
                panic!(
                    "a worker's machine (own copies) finds other violations: {:?} / {:?} {}",
                    messages(&o),
                    messages(&s),
                    context()
                );
            }
            if f != s {
                panic!(
                    "violations differ: {:?} / {:?} {}",
                    messages(&f),
                    messages(&s),
                    context()
                );
            }
        }
        compared.0 += 1;
        if state.grants.len() > initial_grants {
            compared.1 += 1;
        }
    };
    let mut moves = Vec::new();
    compare(&state, &moves, &mut compared);
    let mut available = mover.moves(&fast, &state);
    check_indexed_moves(&mover, &fast, &state, &available);
    let mut rest = bytes.iter().skip(15).copied();
    while moves.len() < STATES_MAX_MOVES && !available.is_empty() {
        let Some(low) = rest.next() else {
            break;
        };
        let choice = if available.len() > 256 {
            usize::from(u16::from_le_bytes([low, rest.next().unwrap_or(0)]))
        } else {
            usize::from(low)
        };
        let mv = available[choice % available.len()].clone();
        let mut other = state.clone();
        let mut third = state.clone();
        let (changed, found) = execute(&fast, &mut state, &mv);
        let (changed_slow, found_slow) = execute(&slow, &mut other, &mv);
        let (changed_own, found_own) = execute(&copied, &mut third, &mv);
        if changed_own != changed_slow || found_own != found_slow {
            panic!(
                "a worker's machine (own copies) plays the move differently: {changed_own} {:?} / {changed_slow} {:?} ({spec:?})",
                messages(&found_own),
                messages(&found_slow),
            );
        }
        moves.push(mv);
        if changed != changed_slow || found != found_slow {
            panic!(
                "the move plays differently: {changed} {:?} / {changed_slow} {:?} ({spec:?})\n{}",
                messages(&found),
                messages(&found_slow),
                describe_trace(&fast, &moves)
            );
        }
        if changed {
            compare(&state, &moves, &mut compared);
            available = mover.moves(&fast, &state);
            check_indexed_moves(&mover, &fast, &state, &available);
        }
    }
    assert_eq!(
        copied.decided(),
        slow.decided(),
        "a worker's machine (own copies) saw other policies decide ({spec:?})"
    );
    assert_eq!(
        fast.decided(),
        slow.decided(),
        "incremental snapshots saw other policies decide than brute force ({spec:?})\n{}",
        describe_trace(&fast, &moves)
    );
    StatesChecked {
        compared: compared.0,
        changed: compared.1,
        partial_rows: fast.partial_rows.get(),
        other_context_rows: fast.other_context_rows.get(),
        unadmitted: fast.unasked.get()[privsim::world::state::Unasked::Unadmitted as usize],
    }
}

/// What a search answers without Cedar in a state, against Cedar: for every
/// running actor and pair of its universe, the held answer
/// ([`Machine::held_answer`], read off `snapshot`, the state's exact held
/// sets) is the pair's flag, found by the right index; and when no policy's
/// scope admits the request ([`Machine::admits_none`]), Cedar (asked by the
/// brute-force machine, with every policy) denies it with no reasons and no
/// errors, or the schema rejects it.
fn check_answers_without_cedar(
    fast: &Machine<'_>,
    slow: &Machine<'_>,
    state: &State,
    snapshot: &Snapshot,
    context: &dyn Fn() -> String,
) {
    let Ok(store) = slow.store(state, None) else {
        return;
    };
    // An actor that is not running holds no pairs: its loop is empty.
    for (actor, flags) in snapshot.allowed.iter().enumerate() {
        let principal = &slow.actors[actor].principal;
        let own = slow.context(state, actor, &serde_json::Map::new());
        for ((action, resource), &flag) in fast.pairs[actor].iter().zip(flags) {
            let answer = fast.held_answer(snapshot, actor, action, resource);
            if answer != Some(flag) {
                panic!(
                    "held answer {answer:?} for {} {action} {resource}, held {flag} {}",
                    fast.describe(actor),
                    context()
                );
            }
            if !fast.admits_none(state, actor, action, resource) {
                continue;
            }
            let Ok(request) = slow.request(principal, action, resource, &own) else {
                continue;
            };
            let response = slow.authorize(&request, &store);
            let diagnostics = response.diagnostics();
            if response.decision() == cedar_policy::Decision::Allow
                || diagnostics.reason().next().is_some()
                || diagnostics.errors().next().is_some()
            {
                panic!(
                    "no policy's scope admits {} {action} {resource}, but Cedar answers {:?} {}",
                    fast.describe(actor),
                    response,
                    context()
                );
            }
        }
    }
}

/// The moves picked by index (what random walks and novelty use) are the
/// moves listed, in the same order, and as many.
fn check_indexed_moves(mover: &Mover, machine: &Machine<'_>, state: &State, listed: &[Move]) {
    let (count, pending) = mover.count_and_pending(machine, state);
    assert_eq!(count, listed.len(), "the move count differs from the list");
    let moves = mover.iter(machine, state);
    assert_eq!(moves.pending, pending, "the pending moments differ");
    // The list is the moves one at a time collected; they are checked
    // against the moves found by index, which share no code with them.
    let by_index: Vec<Move> = (0..count)
        .map_while(|index| mover.nth(machine, state, index))
        .collect();
    assert_eq!(
        moves.collect::<Vec<_>>(),
        by_index,
        "the moves one at a time differ from the moves by index"
    );
    for (index, mv) in listed.iter().enumerate() {
        assert_eq!(
            mover.nth(machine, state, index).as_ref(),
            Some(mv),
            "move {index}"
        );
    }
    assert_eq!(
        mover.nth(machine, state, listed.len()),
        None,
        "a move past the end"
    );
}

/// Where two snapshots of one state first differ.
fn first_difference(machine: &Machine<'_>, fast: &Snapshot, slow: &Snapshot) -> String {
    for (actor, (f, s)) in fast.allowed.iter().zip(&slow.allowed).enumerate() {
        if f.len() != s.len() {
            return format!(
                "{}: {} pairs / {}",
                machine.describe(actor),
                f.len(),
                s.len()
            );
        }
        if let Some(pair) = (0..f.len()).find(|&i| f[i] != s[i]) {
            let (action, resource) = &machine.pairs[actor][pair];
            return format!(
                "{} {action} {resource}: incremental {}, brute force {}",
                machine.describe(actor),
                f[pair],
                s[pair]
            );
        }
    }
    "different actor counts".to_string()
}

/// The scenarios the `search` target explores, in the order its first byte
/// picks them: each planted escalation of `scenarios/escalations/`, then its
/// fixed variant.
pub const SEARCH_SCENARIOS: [&str; 8] = [
    "confused-deputy/planted.toml",
    "confused-deputy/fixed.toml",
    "jit-forgetful/planted.toml",
    "jit-forgetful/fixed.toml",
    "self-assign-role/planted.toml",
    "self-assign-role/fixed.toml",
    "subagent-scope/planted.toml",
    "subagent-scope/fixed.toml",
];

/// The longest trace the `search` target plays (later bytes are ignored).
pub const SEARCH_MAX_MOVES: usize = 24;

/// The extra clock move the `search` target offers when bit 3 of its first
/// byte is set (besides the world's own boundaries): five minutes.
pub const SEARCH_TICK: i64 = 5 * 60 * 1000;

/// The [`SEARCH_SCENARIOS`], loaded once.
pub fn search_scenarios() -> &'static [scenario::Scenario] {
    static SCENARIOS: std::sync::OnceLock<Vec<scenario::Scenario>> = std::sync::OnceLock::new();
    SCENARIOS.get_or_init(|| {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/escalations");
        SEARCH_SCENARIOS
            .iter()
            .map(|name| {
                scenario::load(&folder.join(name), &LoadOptions::default())
                    .unwrap_or_else(|e| panic!("the escalation scenario `{name}`: {e:?}"))
            })
            .collect()
    })
}

/// What one fuzzed trace did ([`check_search_in`]).
#[derive(Debug, Clone)]
pub struct SearchTrace {
    /// The moves played, from the initial state.
    pub moves: Vec<Move>,
    /// The violations in the state the trace ends in (with the last
    /// request's delegation-ceiling violation, if any).
    pub violations: Vec<Violation>,
}

/// [`check_search_in`] the escalation scenario the first byte picks (bits
/// 0–2 index [`SEARCH_SCENARIOS`]; bit 3 adds the [`SEARCH_TICK`] clock move);
/// the other bytes choose the moves. Panics when a property is broken.
pub fn check_search(bytes: &[u8]) {
    let Some((&first, rest)) = bytes.split_first() else {
        return;
    };
    let scenarios = search_scenarios();
    let index = usize::from(first & 7) % scenarios.len();
    let tick = (first & 8 != 0).then_some(SEARCH_TICK);
    if let Err(message) = check_search_in(&scenarios[index], tick, rest) {
        panic!("{}: {message}", SEARCH_SCENARIOS[index]);
    }
}

/// Plays the escalation search's moves on a scenario ([`Machine`],
/// moves listed by [`Mover`] as the search lists them, each
/// played by [`execute`]), chosen by the bytes: a byte picks
/// one of the moves of the current state (two bytes, little-endian, when a
/// state has more than 256), for at most [`SEARCH_MAX_MOVES`] moves. After
/// every move that changes the state, its snapshot and violations are
/// computed (as the search computes them), and:
/// - nothing panics;
/// - a move that reports no change leaves the state's key as it was;
/// - two states of the trace with the same `state_key` have the same
///   snapshot, the same violations (kind, actor, action, resource) and the
///   same moves;
/// - replaying the trace from `machine.initial()` ends in the same state key
///   and snapshot, with exactly the same violations (determinism);
/// - for the first violation of each kind at the end (one repro per kind
///   keeps an input to milliseconds), the repro
///   `repro::render` writes for the finding the search would report (the
///   moves, then the witness request unless the violation is the last
///   request's delegation ceiling) loads as a scenario in the scenario's
///   folder and replays every request to the decision the machine made; the
///   last one, the witness, is allowed (denied, for an access assertion's
///   missing resource) and so fails its `deny` (`allow`) expectation.
///
/// Returns what the trace reached, or the first broken property.
pub fn check_search_in(
    loaded: &scenario::Scenario,
    tick: Option<i64>,
    bytes: &[u8],
) -> Result<SearchTrace, String> {
    let machine = Machine::new(loaded);
    let mover = Mover::new(&machine, tick);
    let mut state = machine.initial();
    let mut moves = Vec::new();
    // The state's snapshot, its violations and its moves; recomputed only
    // when a move changes the state (as the search does).
    let (mut snapshot, mut in_state) = examine(&machine, &state);
    let mut available = mover.moves(&machine, &state);
    let mut ceiling = Vec::new();
    let mut seen: HashMap<StateKey, Seen> = HashMap::new();
    seen.insert(
        machine.state_key(&state),
        Seen::new(&snapshot, &in_state, &available, 0),
    );
    let mut bytes = bytes.iter().copied();
    while moves.len() < SEARCH_MAX_MOVES && !available.is_empty() {
        let Some(low) = bytes.next() else {
            break;
        };
        let choice = if available.len() > 256 {
            usize::from(u16::from_le_bytes([low, bytes.next().unwrap_or(0)]))
        } else {
            usize::from(low)
        };
        let mv = available[choice % available.len()].clone();
        let key_before = machine.state_key(&state);
        let changed;
        (changed, ceiling) = execute(&machine, &mut state, &mv);
        moves.push(mv);
        let key = machine.state_key(&state);
        if !changed {
            if key != key_before {
                return Err(format!(
                    "move {} reports no change, but the state key changed\n{}",
                    moves.len(),
                    describe_trace(&machine, &moves)
                ));
            }
            continue;
        }
        (snapshot, in_state) = examine(&machine, &state);
        available = mover.moves(&machine, &state);
        let now = Seen::new(&snapshot, &in_state, &available, moves.len());
        match seen.get(&key) {
            Some(before) => before
                .same_as(&now)
                .map_err(|e| format!("{e}\n{}", describe_trace(&machine, &moves)))?,
            None => {
                seen.insert(key, now);
            }
        }
    }
    let mut violations = ceiling;
    violations.extend(in_state);

    // Determinism: the same trace from the initial state ends the same way.
    let mut again = machine.initial();
    let mut last = Vec::new();
    for mv in &moves {
        last = execute(&machine, &mut again, mv).1;
    }
    let (snapshot_again, state_violations) = examine(&machine, &again);
    last.extend(state_violations);
    if machine.state_key(&again) != machine.state_key(&state) {
        return Err(format!(
            "replaying the trace from the initial state ends in another state\n{}",
            describe_trace(&machine, &moves)
        ));
    }
    if snapshot_again != snapshot {
        return Err(format!(
            "replaying the trace from the initial state ends with another snapshot\n{}",
            describe_trace(&machine, &moves)
        ));
    }
    if last != violations {
        return Err(format!(
            "replaying the trace from the initial state finds other violations: {:?} then {:?}\n{}",
            messages(&violations),
            messages(&last),
            describe_trace(&machine, &moves)
        ));
    }

    // The repro of the first violation of each kind loads and shows it.
    let mut kinds = BTreeSet::new();
    for violation in &violations {
        if kinds.insert(violation.kind) {
            check_repro(&machine, &moves, violation)?;
        }
    }
    Ok(SearchTrace { moves, violations })
}

/// What a state of a fuzzed trace looked like, to compare with another state
/// of the same key.
struct Seen {
    snapshot: Option<Snapshot>,
    violations: BTreeSet<(String, usize, String, String)>,
    moves: Vec<Move>,
    /// After how many moves it was reached.
    trace: usize,
}

impl Seen {
    fn new(
        snapshot: &Option<Snapshot>,
        violations: &[Violation],
        moves: &[Move],
        trace: usize,
    ) -> Self {
        Self {
            snapshot: snapshot.clone(),
            violations: shapes(violations),
            moves: moves.to_vec(),
            trace,
        }
    }

    fn same_as(&self, other: &Self) -> Result<(), String> {
        let what = if self.snapshot != other.snapshot {
            "snapshots"
        } else if self.violations != other.violations {
            "violations"
        } else if self.moves != other.moves {
            "moves"
        } else {
            return Ok(());
        };
        Err(format!(
            "the states after {} and {} moves have the same key but different {what}",
            self.trace, other.trace
        ))
    }
}

/// A state's snapshot (`None` when its entity store cannot be built, which
/// the search also treats as a state without violations) and violations.
fn examine(machine: &Machine<'_>, state: &State) -> (Option<Snapshot>, Vec<Violation>) {
    match machine.snapshot(state) {
        Ok(snapshot) => {
            let violations = machine.violations(state, &snapshot);
            (Some(snapshot), violations)
        }
        Err(_) => (None, Vec::new()),
    }
}

/// Violations without the parts that name grants by when they were made.
fn shapes(violations: &[Violation]) -> BTreeSet<(String, usize, String, String)> {
    violations
        .iter()
        .map(|v| {
            (
                v.kind.to_string(),
                v.actor,
                v.action.to_string(),
                v.resource.to_string(),
            )
        })
        .collect()
}

fn messages(violations: &[Violation]) -> Vec<&str> {
    violations.iter().map(|v| v.message.as_str()).collect()
}

fn describe_move(machine: &Machine<'_>, mv: &Move) -> String {
    match mv {
        Move::Advance(time) => format!("advance to {time}"),
        Move::Request {
            actor,
            action,
            resource,
            extra,
        } => format!(
            "{} asks {action} on {resource}{}",
            machine.describe(*actor),
            if extra.is_empty() {
                String::new()
            } else {
                format!(" with {}", serde_json::Value::Object(extra.clone()))
            }
        ),
    }
}

fn describe_trace(machine: &Machine<'_>, moves: &[Move]) -> String {
    moves
        .iter()
        .enumerate()
        .map(|(i, mv)| format!("  {}. {}\n", i + 1, describe_move(machine, mv)))
        .collect()
}

/// The repro of a violation reached by `moves` loads beside its scenario and
/// replays every request to the machine's decision; the witness at the end
/// shows the violation and fails its expectation.
fn check_repro(machine: &Machine<'_>, moves: &[Move], violation: &Violation) -> Result<(), String> {
    let mut trace = moves.to_vec();
    if !violation.on_request {
        trace.push(Move::Request {
            actor: violation.actor,
            action: violation.action.clone(),
            resource: violation.resource.clone(),
            extra: serde_json::Map::new(),
        });
    }
    let context = || {
        format!(
            "the repro of `{}`\n{}",
            violation.message,
            describe_trace(machine, &trace)
        )
    };
    let found = Found {
        violation: violation.clone(),
        trace: trace.clone(),
    };
    let text = privsim::search::repro::render(machine, &found)
        .map_err(|e| format!("{} is not written: {e}", context()))?;
    let scenario = machine.scenario;
    let folder = scenario
        .file
        .path
        .parent()
        .ok_or_else(|| format!("{}: the scenario has no folder", context()))?;
    let file = SourceFile::from_text(
        folder.join("fuzz-repro.toml"),
        "fuzz-repro.toml".into(),
        text.clone(),
    );
    let repro = scenario::load_source(file, &LoadOptions::default())
        .map_err(|e| format!("{} does not load: {e:?}\n{text}", context()))?;
    let result = privsim::replay::replay(&repro);

    // The decisions the machine makes along the trace.
    let mut state = machine.initial();
    let mut decisions = Vec::new();
    for mv in &trace {
        if let Move::Request {
            actor,
            action,
            resource,
            extra,
        } = mv
        {
            let outcome = machine.act(&mut state, *actor, action, resource, extra);
            decisions.push(outcome.decision);
        } else {
            execute(machine, &mut state, mv);
        }
    }
    if result.steps.len() != decisions.len() {
        return Err(format!(
            "{} replays {} steps for {} requests\n{text}",
            context(),
            result.steps.len(),
            decisions.len()
        ));
    }
    let last = decisions.len().saturating_sub(1);
    for (index, (step, decision)) in result.steps.iter().zip(&decisions).enumerate() {
        if step.decision != *decision {
            return Err(format!(
                "{}: step {} is {} in the repro, {decision} in the search\n{text}",
                context(),
                index + 1,
                step.decision
            ));
        }
        if index == last {
            let expected = if violation.missing {
                Decision::Allow
            } else {
                Decision::Deny
            };
            let Some(expectation) = &step.expectation else {
                return Err(format!(
                    "{}: the witness (step {}) has no expectation\n{text}",
                    context(),
                    index + 1
                ));
            };
            let shows = (step.decision == Decision::Allow) != violation.missing;
            if expectation.decision != Some(expected) || expectation.passed || !shows {
                return Err(format!(
                    "{}: the witness (step {}, {}) does not fail its `{expected}` expectation\n{text}",
                    context(),
                    index + 1,
                    step.decision
                ));
            }
        }
    }
    Ok(())
}

/// A real run and check of `fuzz/world/scenario.toml` (itself as the
/// baseline), made once: the shapes hostile strings are put into.
fn hostile_shapes() -> &'static (RunResult, privsim::gate::model::CheckResult) {
    static SHAPES: std::sync::OnceLock<(RunResult, privsim::gate::model::CheckResult)> =
        std::sync::OnceLock::new();
    SHAPES.get_or_init(|| {
        let file = fuzz_world().join("scenario.toml");
        let loaded = scenario::load(&file, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("the fuzz world's scenario: {e:?}"));
        let run = RunResult::new(vec![privsim::evaluate(&loaded)]);
        let options = privsim::gate::Options {
            baseline: privsim::gate::Spec::Own,
            baseline_text: "scenario".to_string(),
            candidate: privsim::gate::Spec::Own,
            candidate_text: "scenario".to_string(),
            config: privsim::gate::config::Config::default(),
            today: "2026-06-01".to_string(),
            prove: privsim::gate::proofs::ProveOptions {
                mode: privsim::gate::proofs::Mode::Off,
                timeout_ms: 1,
                ..privsim::gate::proofs::ProveOptions::default()
            },
            time_budget: None,
            progress: None,
        };
        let checked = privsim::gate::check(&[file], &options)
            .unwrap_or_else(|e| panic!("the fuzz world's check: {e:?}"));
        (run, checked)
    })
}

/// Any bytes, cut at `0xFF` into strings (invalid UTF-8 replaced), put into
/// every name, id, message and path a run result and a gate result hold, then
/// rendered in every format (run: text, Markdown, HTML, JSON, JUnit, SARIF;
/// check: text, Markdown, JSON, JUnit, SARIF, GitHub annotations):
/// - nothing panics;
/// - no human-readable output carries a control character but its own line
///   breaks and tabs, and each annotation stays on one line;
/// - HTML shows no input string holding `<` or `&` as it is (escaped);
/// - SARIF parses, and no `message.text` carries a Markdown link the input
///   made (an unescaped `](`), since viewers render those live;
/// - both JSON outputs parse back to the same result.
pub fn check_render_hostile(bytes: &[u8]) {
    let strings: Vec<String> = bytes
        .split(|b| *b == 0xFF)
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect();
    let mut next = strings.iter().cycle();
    let mut hostile = || next.next().cloned().unwrap_or_default();
    let (run, check) = hostile_shapes();
    let mut run = run.clone();
    for scenario in &mut run.scenarios {
        scenario.name = hostile();
        scenario.file = hostile();
        scenario.warnings.push(hostile());
        for step in &mut scenario.steps {
            step.name = Some(hostile());
            step.principal = hostile();
            step.session = Some(hostile());
            step.determining_policies.push(hostile());
        }
        for account in &mut scenario.principals {
            account.principal = hostile();
        }
        for usage in &mut scenario.policy_use {
            usage.id = hostile();
            usage.location = Some(hostile());
        }
        scenario.unexercised.push(hostile());
    }
    let mut check = check.clone();
    for scenario in &mut check.scenarios {
        scenario.name = hostile();
        scenario.file = hostile();
        scenario.notes.push(hostile());
        scenario.changes.push(privsim::gate::model::Change {
            kind: ChangeKind::NewAccess,
            status: ChangeStatus::Fail,
            principal: hostile(),
            action: Some(hostile()),
            resource: Some(hostile()),
            step: Some(1),
            steps: vec![1],
            expected: false,
            // A time is typed: no text of it reaches a report unformatted.
            time: Some(Instant::MAX),
            policies: vec![privsim::gate::model::PolicyRef {
                id: hostile(),
                location: Some(hostile()),
            }],
            baseline: Some(hostile()),
            candidate: Some(hostile()),
            location: Some(hostile()),
            message: hostile(),
            exception: Some(hostile()),
            finding: None,
        });
    }
    check.coverage.push(privsim::gate::model::PolicyCoverage {
        id: hostile(),
        location: Some(hostile()),
        change: privsim::gate::model::Edit::Added,
        effect: privsim::gate::model::Effect::Permit,
        exercised_by: Vec::new(),
    });
    check.config_change = Some(privsim::gate::model::ConfigChange {
        file: hostile(),
        revision: hostile(),
        change: privsim::gate::model::Edit::Changed,
        status: privsim::gate::model::RuleStatus::Fail,
        message: hostile(),
    });
    check.budget_exhausted = Some(privsim::gate::model::BudgetExhausted {
        budget: hostile(),
        status: privsim::gate::model::RuleStatus::Fail,
        not_checked: vec![hostile()],
        cut_short: Vec::new(),
        message: hostile(),
    });
    check.load_errors.push(privsim::result::LoadError {
        file: hostile(),
        message: hostile(),
    });

    check_reports(run.clone());
    let html = privsim_reports::render_all(&run)
        .unwrap_or_else(|e| panic!("a report does not render: {e}"))
        .into_iter()
        .find(|(name, _)| name.ends_with(".html"))
        .map(|(_, text)| text)
        .unwrap_or_default();
    for text in &strings {
        if text.len() > 2 && (text.contains('<') || text.contains('&')) {
            assert!(
                !html.contains(text.as_str()),
                "the HTML report shows {text:?} unescaped"
            );
        }
    }
    let render = privsim_reports::check::text(&check)
        .unwrap_or_else(|e| panic!("the check text does not render: {e}"));
    assert_inert("check text", &render);
    let markdown = privsim_reports::check::markdown(&check)
        .unwrap_or_else(|e| panic!("the check Markdown does not render: {e}"));
    assert_inert("check Markdown", &markdown);
    let junit = privsim_reports::check::junit(&check)
        .unwrap_or_else(|e| panic!("the check JUnit does not render: {e}"));
    assert_inert("check JUnit", &junit);
    let sarif = privsim_reports::check::sarif(&check);
    assert_inert("check SARIF", &sarif);
    let log: serde_json::Value = serde_json::from_str(&sarif)
        .unwrap_or_else(|e| panic!("the check SARIF does not parse: {e}"));
    for result in log["runs"][0]["results"].as_array().into_iter().flatten() {
        let message = result["message"]["text"].as_str().unwrap_or_default();
        // `\]` is an escaped bracket; a `]` right before `(` unescaped links.
        let live = message
            .match_indices("](")
            .any(|(at, _)| !message[..at].ends_with('\\'));
        assert!(!live, "a SARIF message carries a live link: {message:?}");
    }
    let annotations = privsim_reports::check::annotations(&check)
        .unwrap_or_else(|e| panic!("the annotations do not render: {e}"));
    // The rendering is split into lines: a line break that escaped the
    // escaping would be a line that is no workflow command.
    for line in annotations {
        assert!(
            (line.starts_with("::error file=") || line.starts_with("::warning file="))
                && !line.contains('\r'),
            "an annotation spans lines: {line:?}"
        );
    }
    let json = privsim_reports::check::json(&check);
    let parsed: privsim::gate::model::CheckResult = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("the check JSON does not parse: {e}\n{json}"));
    assert!(parsed == check, "the check JSON does not round-trip");
}

/// A repository built from bytes, read by the gate's git reader. The bytes
/// are entries: a kind byte (even: a file, odd: a symbolic link), a name up
/// to `0x00` (kept to `[A-Za-z0-9._ -]`, at most 3 folders deep, under `p/`)
/// and contents up to `0xFF` (for a link, its target). After a commit,
/// `git:HEAD`'s `p` is materialized as a baseline:
/// - nothing panics;
/// - with a symbolic link among the files it would read, it fails and names
///   the link as `HEAD:path`;
/// - otherwise every file it writes is inside its temporary folder, shown as
///   `HEAD:p/...` (or the empty baseline), with the committed bytes of each
///   `.cedar` blob;
/// - an error never names the temporary folder.
///
/// Without `git` on the machine it checks nothing.
pub fn check_git_reader(bytes: &[u8]) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = |folder: &Path, args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(folder)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "fuzz")
            .env("GIT_AUTHOR_EMAIL", "fuzz@example.com")
            .env("GIT_COMMITTER_NAME", "fuzz")
            .env("GIT_COMMITTER_EMAIL", "fuzz@example.com")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let root = std::env::temp_dir().join(format!(
        "privsim-git-reader-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("p")).unwrap_or_else(|e| panic!("{e}"));
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(root.clone());
    if !run(&root, &["init", "-q"]) {
        return; // no git here
    }
    let mut files: BTreeMap<String, (bool, Vec<u8>)> = BTreeMap::new();
    let mut rest = bytes;
    while let Some((&kind, after)) = rest.split_first() {
        if files.len() >= 6 {
            break;
        }
        let name_end = after.iter().position(|b| *b == 0).unwrap_or(after.len());
        let name: String = String::from_utf8_lossy(&after[..name_end])
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ' ' | '-' | '/'))
            .collect();
        let after = after.get(name_end + 1..).unwrap_or_default();
        let body_end = after.iter().position(|b| *b == 0xFF).unwrap_or(after.len());
        let body = after[..body_end].to_vec();
        rest = after.get(body_end + 1..).unwrap_or_default();
        let parts: Vec<&str> = name
            .split('/')
            .filter(|p| !p.is_empty() && *p != "." && *p != ".." && *p != ".git")
            .take(4)
            .collect();
        if parts.is_empty() {
            continue;
        }
        let relative = format!("p/{}", parts.join("/"));
        if files.keys().any(|k| {
            k.starts_with(&format!("{relative}/")) || relative.starts_with(&format!("{k}/"))
        }) {
            continue; // a file where a folder is, or the reverse
        }
        files.insert(relative, (kind % 2 == 1, body));
    }
    for (relative, (link, body)) in &files {
        let path = root.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        if *link {
            let target = String::from_utf8_lossy(body).replace('\0', "");
            let target = if target.is_empty() {
                "x".to_string()
            } else {
                target
            };
            std::os::unix::fs::symlink(target, &path).unwrap_or_else(|e| panic!("{e}"));
        } else {
            std::fs::write(&path, body).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    if !run(&root, &["add", "-A"]) || !run(&root, &["commit", "-q", "--allow-empty", "-m", "fuzz"])
    {
        return;
    }
    let mut repos = privsim::gate::git::Repos::default();
    let Ok(repo) = repos.at(&root) else {
        panic!("the repository at {} is not found", root.display());
    };
    let commit = repo
        .commit("HEAD")
        .unwrap_or_else(|e| panic!("HEAD does not resolve: {e:?}"));
    let cedar_links: Vec<&String> = files
        .iter()
        .filter(|(name, (link, _))| *link && name.ends_with(".cedar"))
        .map(|(name, _)| name)
        .collect();
    match repo.materialize("HEAD", &commit, &["p".to_string()]) {
        Ok(written) => {
            assert!(
                cedar_links.is_empty(),
                "the symbolic link(s) {cedar_links:?} were read"
            );
            let folder = written.folder.path().to_path_buf();
            for (relative, display) in &written.displays {
                assert!(
                    display.starts_with("HEAD:p/") || display == "HEAD: no policies",
                    "`{display}` is not shown as HEAD:p/..."
                );
                let path = folder.join(relative);
                let canonical = path.canonicalize().unwrap_or_else(|e| panic!("{e}"));
                assert!(
                    canonical.starts_with(folder.canonicalize().unwrap_or_default()),
                    "wrote {} outside its folder",
                    canonical.display()
                );
                if let Some(name) = display.strip_prefix("HEAD:")
                    && let Some((false, body)) = files.get(name)
                {
                    let text = std::fs::read(&path).unwrap_or_default();
                    assert!(text == *body, "`{name}` was written with other bytes");
                }
            }
        }
        Err(error) => {
            let message = format!("{error}");
            assert!(
                !message.contains(".tmp"),
                "an error names a temporary path: {message}"
            );
            if !cedar_links.is_empty() {
                assert!(
                    message.contains("is a symbolic link") && message.contains("HEAD:p/"),
                    "a link is refused without naming it as HEAD:path: {message}"
                );
            }
        }
    }
}
