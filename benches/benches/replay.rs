//! Replay against raw Cedar: a generated workflow of 100,000 steps replayed by
//! `privsim::replay::replay`, and the same prebuilt requests evaluated with
//! `Authorizer::is_authorized` in the same process. The figure that matters is
//! the ratio (raw time / replay time), printed at the end; see BENCHMARKS.md.
//!
//! Under `cargo test --benches` (no `--bench` argument) the workflow has 2,000
//! steps so the smoke run stays quick.

#![allow(
    clippy::panic,
    reason = "a benchmark whose setup fails should stop loudly"
)]

// The `privsim` binary's allocator (benches/lib.rs), so this times what it runs.
use privsim_benches as _;

mod common;

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cedar_policy::{Authorizer, Decision};
use common::Numbers;
use criterion::{Criterion, criterion_group};
use privsim::load::{self as scenario, LoadOptions, Scenario};

const SCHEMA: &str = r#"
entity Team;
entity User in [Team] { clearance: Long };
entity Agent { owner: User };
entity Folder;
entity Doc in [Folder] { sensitivity: Long, owner: User };
type Ctx = { now: datetime, delegator?: User, task?: String, scopes: Set<String> };
action read, list, comment, edit, share, delete appliesTo { principal: [User, Agent], resource: [Doc], context: Ctx };
"#;

const POLICIES: &str = r#"
@id("team-reads") permit (principal in Team::"t0", action in [Action::"read", Action::"list"], resource);
@id("team1-reads-f1") permit (principal in Team::"t1", action in [Action::"read", Action::"list"], resource in Folder::"f1");
@id("owners-edit") permit (principal is User, action in [Action::"edit", Action::"comment"], resource) when { resource.owner == principal };
@id("cleared-read") permit (principal is User, action == Action::"read", resource) when { principal.clearance >= resource.sensitivity };
@id("agents-read-for-delegator") permit (principal is Agent, action in [Action::"read", Action::"list"], resource)
  when { context has delegator && context.delegator.clearance >= resource.sensitivity && context.scopes.contains("docs:read") };
@id("agents-comment") permit (principal is Agent, action == Action::"comment", resource)
  when { context has delegator && resource.owner == context.delegator && context.scopes.contains("docs:write") };
@id("office-hours") forbid (principal is Agent, action, resource) unless { context.now < datetime("2026-06-02T18:00:00Z") };
@id("classified") forbid (principal, action, resource) when { resource.sensitivity >= 4 } unless { principal is User && principal.clearance >= 4 };
@id("no-agent-delete") forbid (principal is Agent, action == Action::"delete", resource);
@id("no-agent-share") forbid (principal is Agent, action == Action::"share", resource);
@id("admins") permit (principal in Team::"t3", action, resource);
@id("share-own") permit (principal is User, action == Action::"share", resource) when { resource.owner == principal && resource.sensitivity <= 2 };
"#;

const USERS: usize = 20;
const AGENTS: usize = 10;
const FOLDERS: usize = 10;
const DOCS: usize = 300;
const ACTIONS: [&str; 6] = ["read", "list", "comment", "edit", "share", "delete"];

/// Writes the generated scenario into a fresh folder and returns its path.
fn generate(steps: usize) -> PathBuf {
    let folder = std::env::temp_dir().join(format!(
        "privsim-bench-replay-{}-{steps}",
        std::process::id()
    ));
    common::fresh_folder(&folder);
    let mut numbers = Numbers(42);
    let mut entities = Vec::new();
    for team in 0..4 {
        entities.push(format!(
            r#"{{"uid":{{"type":"Team","id":"t{team}"}},"attrs":{{}},"parents":[]}}"#
        ));
    }
    for user in 0..USERS {
        entities.push(format!(
            r#"{{"uid":{{"type":"User","id":"u{user}"}},"attrs":{{"clearance":{}}},"parents":[{{"type":"Team","id":"t{}"}}]}}"#,
            numbers.next(5),
            user % 4
        ));
    }
    for agent in 0..AGENTS {
        entities.push(format!(r#"{{"uid":{{"type":"Agent","id":"a{agent}"}},"attrs":{{"owner":{{"type":"User","id":"u{}"}}}},"parents":[]}}"#, agent % USERS));
    }
    for folder_index in 0..FOLDERS {
        entities.push(format!(
            r#"{{"uid":{{"type":"Folder","id":"f{folder_index}"}},"attrs":{{}},"parents":[]}}"#
        ));
    }
    for doc in 0..DOCS {
        entities.push(format!(
            r#"{{"uid":{{"type":"Doc","id":"d{doc}"}},"attrs":{{"sensitivity":{},"owner":{{"type":"User","id":"u{}"}}}},"parents":[{{"type":"Folder","id":"f{}"}}]}}"#,
            numbers.next(5),
            numbers.next(USERS),
            doc % FOLDERS
        ));
    }
    common::write_world(&folder, &entities, SCHEMA, POLICIES);

    let mut toml = String::from(
        "[scenario]\nname = \"generated replay benchmark\"\npolicies = [\"policies.cedar\"]\nschema = \"schema.cedarschema\"\nentities = \"entities.json\"\nstart = \"2026-06-01T09:00:00Z\"\n\n[facts]\nnow = \"now\"\ndelegator = \"delegator\"\ntask = \"task\"\n\n",
    );
    for agent in 0..AGENTS {
        let scopes = if agent % 2 == 0 {
            r#"["docs:read"]"#
        } else {
            r#"["docs:read", "docs:write"]"#
        };
        let _ = write!(
            toml,
            "[[session]]\nid = \"s{agent}\"\nprincipal = 'Agent::\"a{agent}\"'\non_behalf_of = 'User::\"u{}\"'\ntask = \"task {agent}\"\ncontext = {{ scopes = {scopes} }}\n\n",
            agent % USERS
        );
    }
    for user in 0..USERS {
        let _ = write!(
            toml,
            "[[session]]\nid = \"user{user}\"\nprincipal = 'User::\"u{user}\"'\ncontext = {{ scopes = [] }}\n\n"
        );
    }
    let _ = write!(
        toml,
        "[[grant]]\nid = \"jit-1\"\nprincipal = 'User::\"u1\"'\nparents = ['Team::\"t3\"']\nfrom = \"+1h\"\nuntil = \"+2h\"\n\n"
    );
    let _ = write!(
        toml,
        "[[grant]]\nid = \"jit-2\"\nprincipal = 'User::\"u2\"'\nparents = ['Team::\"t0\"']\nfrom = \"+3h\"\nuntil = \"+20h\"\n\n"
    );
    for step in 0..steps {
        let session = if numbers.next(3) == 0 {
            format!("user{}", numbers.next(USERS))
        } else {
            format!("s{}", numbers.next(AGENTS))
        };
        let action = ACTIONS[numbers.next(ACTIONS.len())];
        // One second apart: 100,000 steps span about 28 hours, crossing both grants and the office-hours forbid.
        let _ = write!(
            toml,
            "[[step]]\nat = \"+{step}s\"\nsession = \"{session}\"\naction = 'Action::\"{action}\"'\nresource = 'Doc::\"d{}\"'\n\n",
            numbers.next(DOCS)
        );
    }
    common::write(&folder, "scenario.toml", &toml);
    folder.join("scenario.toml")
}

/// Evaluates every step request with the bare `Authorizer`, as a caller of Cedar
/// would; with `ceiling`, also the delegators' requests replay makes.
fn raw(scenario: &Scenario, authorizer: &Authorizer, ceiling: bool) -> usize {
    let mut allowed = 0;
    for step in &scenario.steps {
        let entities = &scenario.world.segments[step.segment].entities;
        if let Ok(request) = &step.request
            && authorizer
                .is_authorized(request, &scenario.policies.set, entities)
                .decision()
                == Decision::Allow
        {
            allowed += 1;
        }
        if ceiling {
            for (_, request) in &step.ceiling {
                if let Some(request) = request {
                    black_box(authorizer.is_authorized(request, &scenario.policies.set, entities));
                }
            }
        }
    }
    allowed
}

fn best_of(runs: usize, mut run: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let steps = if benchmarking { 100_000 } else { 2_000 };
    let path = generate(steps);
    let loaded = scenario::load(&path, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    if let Some(folder) = path.parent() {
        let _ = std::fs::remove_dir_all(folder);
    }
    let authorizer = Authorizer::new();
    let evaluations: usize = loaded.steps.len()
        + loaded
            .steps
            .iter()
            .map(|s| s.ceiling.iter().filter(|(_, r)| r.is_some()).count())
            .sum::<usize>();
    // Same answers: replay's allowed count equals raw Cedar's.
    let replayed = privsim::replay::replay(&loaded);
    assert_eq!(
        replayed.summary.allowed,
        raw(&loaded, &authorizer, false),
        "replay and raw Cedar disagree"
    );

    let mut group = c.benchmark_group("replay");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(if benchmarking { 20 } else { 1 }));
    group.bench_function("raw Cedar, step requests", |b| {
        b.iter(|| black_box(raw(&loaded, &authorizer, false)))
    });
    group.bench_function("raw Cedar, step + ceiling requests", |b| {
        b.iter(|| black_box(raw(&loaded, &authorizer, true)))
    });
    group.bench_function("privsim replay", |b| {
        b.iter(|| black_box(privsim::replay::replay(&loaded)))
    });
    group.finish();

    // The ratios, from interleaved runs in this process (best of three each).
    let runs = if benchmarking { 3 } else { 1 };
    let raw_steps = best_of(runs, || {
        black_box(raw(&loaded, &authorizer, false));
    });
    let raw_all = best_of(runs, || {
        black_box(raw(&loaded, &authorizer, true));
    });
    let replay = best_of(runs, || {
        black_box(privsim::replay::replay(&loaded));
    });
    let per = |d: Duration, n: usize| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "\nreplay benchmark: {} steps, {} Cedar evaluations in replay (steps + delegation ceiling)\n  raw Cedar, step requests only:  {:>8.2} ms  ({:.2} µs/step)\n  raw Cedar, same evaluations:    {:>8.2} ms  ({:.2} µs/evaluation)\n  privsim replay:                 {:>8.2} ms  ({:.2} µs/step)\n  ratio raw/replay, same Cedar work:      {:.3}x\n  ratio raw/replay, step requests only:   {:.3}x",
        loaded.steps.len(),
        evaluations,
        raw_steps.as_secs_f64() * 1e3,
        per(raw_steps, loaded.steps.len()),
        raw_all.as_secs_f64() * 1e3,
        per(raw_all, evaluations),
        replay.as_secs_f64() * 1e3,
        per(replay, loaded.steps.len()),
        raw_all.as_secs_f64() / replay.as_secs_f64(),
        raw_steps.as_secs_f64() / replay.as_secs_f64(),
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
