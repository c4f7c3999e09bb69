//! Streamed import and replay of a request log against raw Cedar: a
//! generated log (`privsim_testkit::request_log`) read, parsed and replayed
//! end to end by `privsim::import::stream::replay_log` (JSON parsing,
//! sessions, the replay and the held-set accounting included), and the same
//! requests, built beforehand, evaluated with `Authorizer::is_authorized` in
//! the same process. The figure that matters is the ratio (raw time /
//! streamed time) per logged request, printed at the end; see BENCHMARKS.md.
//!
//! Two logs of the same length, because the streamed replay asks Cedar once
//! per *distinct* request while raw Cedar is asked once per line:
//! `repeating` (agents repeating their calls: a few thousand distinct
//! requests) and `distinct` (every line a distinct request: the worst case).
//! A third timing, `parse only`, reads and parses each log without
//! replaying it (`privsim::import::log::import_log`), to show where the time
//! goes.
//!
//! Two raw Cedar timings, because the goal's baseline can be read two ways:
//! (A) `raw Cedar, prebuilt requests` evaluates requests built before timing
//! starts (Cedar's evaluation alone), and (B) `raw Cedar, end to end` is a
//! plain Cedar program that reads the same log file line by line
//! (`serde_json`), builds each request with Cedar's public API as a user
//! would (`EntityUid` from the JSON, `Context::from_json_value` and
//! `Request::new` under the schema) and calls `is_authorized` once per line.
//! The printed ratios are raw / streamed for both; (A) is out of reach for a
//! log whose every line is distinct (BENCHMARKS.md says why). The streamed
//! replay is timed on one thread (`replay_log`) and with windows replayed on
//! a second thread (`replay_log_jobs` with 2, `privsim import log --jobs
//! 2`); every timing is printed on the wall clock and in CPU time of the
//! process (all threads), with the ratios of both.
//!
//! Under `--bench` each log has 100,000 lines; under `cargo test --benches`
//! (no `--bench` argument) 2,000, so the smoke run stays quick.

#![allow(
    clippy::panic,
    reason = "a benchmark whose setup fails should stop loudly"
)]

// The `privsim` binary's allocator (benches/lib.rs), so this times what it runs.
use privsim_benches as _;

mod common;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use std::io::BufRead;

use cedar_policy::{Authorizer, Context, Entities, EntityUid, PolicySet, Request, Schema};
use criterion::{Criterion, criterion_group};
use privsim::import::log as request_log;
use privsim::import::log::LogOptions;
use privsim::import::stream;
use privsim::load::LoadOptions;
use privsim_testkit::request_log::{self as generated, Variety};
use serde_json::Value;

fn generate(lines: usize, variety: Variety) -> PathBuf {
    let folder = std::env::temp_dir().join(format!(
        "privsim-bench-import-log-{}-{lines}-{variety:?}",
        std::process::id()
    ));
    common::fresh_folder(&folder);
    let entities: Vec<Value> = serde_json::from_str(&generated::entities_json())
        .unwrap_or_else(|e| panic!("the generated entities: {e}"));
    let entities: Vec<String> = entities.iter().map(Value::to_string).collect();
    common::write_world(&folder, &entities, generated::SCHEMA, generated::POLICIES);
    let file = std::fs::File::create(folder.join("log.jsonl"))
        .unwrap_or_else(|e| panic!("cannot write the log: {e}"));
    let mut out = std::io::BufWriter::new(file);
    generated::write_log_of(42, lines, 30, variety, &mut out)
        .unwrap_or_else(|e| panic!("cannot write the log: {e}"));
    drop(out);
    folder
}

fn uid(value: &Value) -> EntityUid {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Object(map) => format!(
            "{}::\"{}\"",
            map.get("type").and_then(Value::as_str).unwrap_or_default(),
            map.get("id").and_then(Value::as_str).unwrap_or_default()
        ),
        _ => panic!("not an entity reference: {value}"),
    };
    EntityUid::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The log's requests, built before timing starts.
fn requests(log: &Path) -> Vec<Request> {
    let text = std::fs::read_to_string(log).unwrap_or_else(|e| panic!("cannot read the log: {e}"));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
            let context = record
                .get("context")
                .cloned()
                .unwrap_or(Value::Object(Default::default()));
            Request::new(
                uid(&record["principal"]),
                uid(&record["action"]),
                uid(&record["resource"]),
                Context::from_json_value(context, None).unwrap_or_else(|e| panic!("{e}")),
                None,
            )
            .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

fn raw(requests: &[Request], policies: &PolicySet, entities: &Entities) -> usize {
    let authorizer = Authorizer::new();
    requests
        .iter()
        .filter(|request| {
            authorizer
                .is_authorized(request, policies, entities)
                .decision()
                == cedar_policy::Decision::Allow
        })
        .count()
}

/// An entity reference in a log line as a Cedar user would read it: a
/// string (`User::"alice"`) or Cedar's JSON form (`{"type": .., "id": ..}`).
fn uid_as_cedar_reads_it(value: &Value) -> EntityUid {
    match value {
        Value::String(text) => EntityUid::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}")),
        _ => EntityUid::from_json(value.clone()).unwrap_or_else(|e| panic!("{value}: {e}")),
    }
}

/// Raw Cedar end to end (baseline B): reads the log file's lines, builds
/// each request with Cedar's public API under the schema and evaluates it,
/// once per line; returns the number allowed.
fn raw_end_to_end(log: &Path, schema: &Schema, policies: &PolicySet, entities: &Entities) -> usize {
    let authorizer = Authorizer::new();
    let file = std::fs::File::open(log).unwrap_or_else(|e| panic!("cannot read the log: {e}"));
    let mut allowed = 0;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.unwrap_or_else(|e| panic!("cannot read the log: {e}"));
        if line.trim().is_empty() {
            continue;
        }
        let mut record: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}"));
        let principal = uid_as_cedar_reads_it(&record["principal"]);
        let action = uid_as_cedar_reads_it(&record["action"]);
        let resource = uid_as_cedar_reads_it(&record["resource"]);
        let context = record
            .get_mut("context")
            .map(Value::take)
            .unwrap_or(Value::Object(Default::default()));
        let context = Context::from_json_value(context, Some((schema, &action)))
            .unwrap_or_else(|e| panic!("{e}"));
        let request = Request::new(principal, action, resource, context, Some(schema))
            .unwrap_or_else(|e| panic!("{e}"));
        if authorizer
            .is_authorized(&request, policies, entities)
            .decision()
            == cedar_policy::Decision::Allow
        {
            allowed += 1;
        }
    }
    allowed
}

/// The CPU time (user and system) this process has used so far, all its
/// threads together (`/proc/self/stat`, in clock ticks of 10 ms; zero where
/// it cannot be read).
fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name (which is in parentheses): state is the
    // first, utime the 12th, stime the 13th.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// The best wall-clock time and the best CPU time of a few runs.
#[derive(Clone, Copy)]
struct Timing {
    wall: Duration,
    cpu: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            wall: Duration::MAX,
            cpu: Duration::MAX,
        }
    }
}

impl Timing {
    fn time(&mut self, run: impl FnOnce()) {
        let cpu = process_cpu();
        let started = Instant::now();
        run();
        self.wall = self.wall.min(started.elapsed());
        self.cpu = self.cpu.min(process_cpu().saturating_sub(cpu));
    }
}

/// Times the streamed replay of a `variety` log of `lines` lines against raw
/// Cedar on the same requests, and prints the ratio.
fn bench_log(c: &mut Criterion, benchmarking: bool, lines: usize, name: &str, variety: Variety) {
    let folder = generate(lines, variety);
    let log = folder.join("log.jsonl");
    let options = LogOptions::new(vec![folder.join("policies.cedar")])
        .schema(Some(folder.join("schema.cedarschema")))
        .entities(Some(folder.join("entities.json")));
    let load = LoadOptions::default();
    let requests = requests(&log);
    let policies = PolicySet::from_str(generated::POLICIES).unwrap_or_else(|e| panic!("{e}"));
    let entities = Entities::from_json_str(&generated::entities_json(), None)
        .unwrap_or_else(|e| panic!("{e}"));
    let (schema, _) = Schema::from_cedarschema_str(generated::SCHEMA)
        .unwrap_or_else(|e| panic!("the generated schema: {e}"));
    let streamed = || {
        stream::replay_log(&log, &options, &load, stream::MISMATCHES_LISTED)
            .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
    };
    // Windows replayed on a second thread while the next lines are read.
    let pipelined = || {
        stream::replay_log_jobs(&log, &options, &load, stream::MISMATCHES_LISTED, 2)
            .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
    };
    let parsed = || {
        request_log::import_log(&log, &options)
            .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
            .steps
            .len()
    };
    // Same answers: the streamed replay allows what raw Cedar allows.
    let (result, stats) = streamed();
    assert_eq!(result.summary.steps, requests.len());
    assert_eq!(
        result.summary.allowed,
        raw(&requests, &policies, &entities),
        "the streamed replay and raw Cedar disagree"
    );
    assert_eq!(
        raw_end_to_end(&log, &schema, &policies, &entities),
        result.summary.allowed,
        "raw Cedar end to end and the streamed replay disagree"
    );
    assert_eq!(parsed(), requests.len());

    let mut group = c.benchmark_group(format!("import_log/{name}"));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(if benchmarking { 10 } else { 1 }));
    group.bench_function("raw Cedar, prebuilt requests", |b| {
        b.iter(|| black_box(raw(&requests, &policies, &entities)))
    });
    group.bench_function("raw Cedar, end to end", |b| {
        b.iter(|| black_box(raw_end_to_end(&log, &schema, &policies, &entities)))
    });
    group.bench_function("privsim import log, streamed", |b| {
        b.iter(|| black_box(streamed()))
    });
    group.bench_function("privsim import log, streamed, 2 threads", |b| {
        b.iter(|| black_box(pipelined()))
    });
    group.bench_function("parse only", |b| b.iter(|| black_box(parsed())));
    group.finish();

    // The ratio pass: raw and streamed interleaved, best of a few runs each,
    // so a change in the machine's load hits both. Each is timed on the
    // wall clock and in CPU time (all the process's threads): the 2-thread
    // replay uses a second core when one is free, which only the wall
    // clock shows, and costs some CPU more, which only CPU time shows.
    let runs = if benchmarking { 3 } else { 1 };
    let mut raw_time = Timing::default();
    let mut end_to_end_time = Timing::default();
    let mut streamed_time = Timing::default();
    let mut parse_time = Timing::default();
    let mut pipelined_time = Timing::default();
    for _ in 0..runs {
        raw_time.time(|| {
            black_box(raw(&requests, &policies, &entities));
        });
        end_to_end_time.time(|| {
            black_box(raw_end_to_end(&log, &schema, &policies, &entities));
        });
        streamed_time.time(|| {
            black_box(streamed());
        });
        parse_time.time(|| {
            black_box(parsed());
        });
        pipelined_time.time(|| {
            black_box(pipelined());
        });
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / requests.len() as f64;
    let ratio = |raw: Duration, ours: Duration| raw.as_secs_f64() / ours.as_secs_f64();
    println!(
        "\nimport log benchmark, {name} log: {} requests ({} distinct, {} mismatching); wall clock, then CPU time (10 ms ticks)",
        stats.requests, stats.distinct, stats.mismatches,
    );
    for (label, timing) in [
        ("(A) raw Cedar, prebuilt requests:", raw_time),
        ("(B) raw Cedar, end to end:", end_to_end_time),
        ("privsim import log, streamed:", streamed_time),
        ("streamed, 2 threads (--jobs 2):", pipelined_time),
        ("parse only (import_log):", parse_time),
    ] {
        println!(
            "  {label:<35} {:>9.2} ms ({:.2} µs/request)  CPU {:>9.2} ms ({:.2} µs/request)",
            timing.wall.as_secs_f64() * 1e3,
            per(timing.wall),
            timing.cpu.as_secs_f64() * 1e3,
            per(timing.cpu),
        );
    }
    for (label, ours) in [("streamed", streamed_time), ("2 threads", pipelined_time)] {
        println!(
            "  ratio (A) raw prebuilt/{label}:   wall {:.3}x  CPU {:.3}x\n  ratio (B) raw end to end/{label}: wall {:.3}x  CPU {:.3}x",
            ratio(raw_time.wall, ours.wall),
            ratio(raw_time.cpu, ours.cpu),
            ratio(end_to_end_time.wall, ours.wall),
            ratio(end_to_end_time.cpu, ours.cpu),
        );
    }
    let _ = std::fs::remove_dir_all(&folder);
}

fn bench(c: &mut Criterion) {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let lines = if benchmarking { 100_000 } else { 2_000 };
    bench_log(c, benchmarking, lines, "repeating", Variety::Repeating);
    bench_log(c, benchmarking, lines, "distinct", Variety::Distinct);
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
