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

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::diag::{Error, SourceFile};
use crate::result::RunResult;
use crate::scenario::{self, LoadOptions};
use crate::time::{self, Instant};

/// The folder fuzzed scenarios live in: `fuzz/world/` of this repository.
pub fn fuzz_world() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/world")
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
            let result = crate::evaluate(&loaded);
            assert_eq!(
                result.steps.len(),
                loaded.steps.len(),
                "every step is replayed"
            );
            check_reports(RunResult::new(vec![result]));
        }
        Err(Error::Source(error)) => {
            let location = &error.location;
            let mut parts = location.rsplitn(3, ':');
            let (Some(column), Some(line), Some(name)) = (parts.next(), parts.next(), parts.next())
            else {
                panic!("`{location}` is not `file:line:col`: {}", error.message)
            };
            let (line, column): (usize, usize) = (
                line.parse()
                    .unwrap_or_else(|_| panic!("bad line in `{location}`")),
                column
                    .parse()
                    .unwrap_or_else(|_| panic!("bad column in `{location}`")),
            );
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
    let located = |error: &crate::diag::SourceError| {
        let (line, column) = split_location(&error.location, "fuzz.cedar");
        assert!(
            location_is_within(&text, line, column),
            "`{}` is not within the text: {}",
            error.location,
            error.message
        );
    };
    let policies = match crate::cedar_files::parse_policies(vec![file]) {
        Ok(policies) => policies,
        Err(Error::Source(error)) => return located(&error),
        Err(other) => panic!("an error without a location: {other}"),
    };
    if let Some(schema) = &base.schema {
        match crate::cedar_files::validate(&policies, schema) {
            Ok(()) => {}
            Err(Error::Source(error)) => located(&error),
            Err(other) => panic!("an error without a location: {other}"),
        }
    }
    let mut scenario = base.clone();
    scenario.policies = policies;
    let result = crate::evaluate(&scenario);
    assert_eq!(
        result.steps.len(),
        scenario.steps.len(),
        "every step is replayed"
    );
    check_reports(RunResult::new(vec![result]));
}

/// Both reports render; the JSON one parses back to the same result.
fn check_reports(run: RunResult) {
    let _ = crate::report::text::render(&run);
    let json = crate::report::json(&run);
    let parsed: RunResult = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("the JSON report does not parse: {e}\n{json}"));
    assert!(
        parsed == run,
        "the JSON report does not round-trip:\n{json}"
    );
}

/// The line and column of a `file:line:col` location in `expected_file`.
fn split_location(location: &str, expected_file: &str) -> (usize, usize) {
    let mut parts = location.rsplitn(3, ':');
    let (Some(column), Some(line), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("`{location}` is not `file:line:col`")
    };
    assert_eq!(name, expected_file, "`{location}` names another file");
    (
        line.parse()
            .unwrap_or_else(|_| panic!("bad line in `{location}`")),
        column
            .parse()
            .unwrap_or_else(|_| panic!("bad column in `{location}`")),
    )
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
    use crate::accounting::{self, Method};
    use crate::generate::{self, ACTIONS, Spec};
    use crate::held::Engine;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static CALLS: AtomicUsize = AtomicUsize::new(0);
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
    };
    let world = generate::world(&spec, u64::from_le_bytes(seed));
    let folder = std::env::temp_dir().join(format!(
        "privsim-held-exact-{}-{}",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    for (name, text) in &world.files {
        std::fs::write(folder.join(name), text).unwrap();
    }
    let loaded = scenario::load(&folder.join("scenario.toml"), &LoadOptions::default());
    let _ = std::fs::remove_dir_all(&folder);
    let loaded = loaded.unwrap_or_else(|e| panic!("a generated world does not load: {e}"));

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
        let mut result = crate::replay::replay(&loaded);
        accounting::account_with(&loaded, &mut result, method);
        serde_json::to_string(&result).unwrap()
    };
    assert!(
        account(Method::Fast) == account(Method::BruteForce),
        "accounting differs between fast and brute force ({spec:?})"
    );
}
