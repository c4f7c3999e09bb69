//! Held sets, fast against brute force, on one generated world: 100 agents,
//! 6 actions each, 100,000 documents in a folder tree (1,110 folders), 40
//! mixed RBAC / ABAC / forbid / `unless` / datetime / tag / template-linked
//! policies, a strict schema (`privsim_testkit::generate`).
//!
//! - **fast**: `held::Engine::allowed` for every agent and action (both cores,
//!   a fresh engine each run so its classes are built inside the timing);
//! - **brute force**: every (agent, action, resource) through Cedar's
//!   `Authorizer` with the whole policy set (both cores), on a sample of agents,
//!   scaled to all of them. The sampled agents' held sets must be identical.
//!
//! The figure that matters is the ratio, printed at the end with the peak
//! memory (VmHWM); see BENCHMARKS.md. Under `cargo test --benches` (no `--bench`
//! argument) the world has 10 agents and 2,000 documents so the smoke run stays
//! quick.

#![allow(
    clippy::panic,
    reason = "a benchmark whose setup fails should stop loudly"
)]

// The `privsim` binary's allocator (benches/lib.rs), so this times what it runs.
use privsim_benches as _;

use std::hint::black_box;
use std::str::FromStr;
use std::time::{Duration, Instant};

use cedar_policy::EntityUid;
use criterion::{Criterion, criterion_group};
use privsim::held::{Engine, StoreId, Targets};
use privsim::load::universe;
use privsim::load::{self as scenario, LoadOptions, Scenario};
use privsim_testkit::generate::{self, Spec};
use rayon::prelude::*;
use serde_json::{Value, json};

fn full_scale() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

fn spec() -> Spec {
    if full_scale() {
        Spec {
            agents: 100,
            users: 20,
            docs: 100_000,
            fanout: 10,
            depth: 3,
            policies: 40,
            schema: true,
            workflow: true,
            grammar: false,
            effects: false,
        }
    } else {
        Spec {
            agents: 10,
            users: 5,
            docs: 2_000,
            fanout: 4,
            depth: 2,
            policies: 40,
            schema: true,
            workflow: true,
            grammar: false,
            effects: false,
        }
    }
}

fn load(spec: &Spec) -> Scenario {
    let world = generate::world(spec, 7);
    let folder = std::env::temp_dir().join(format!(
        "privsim-bench-held-{}-{}",
        std::process::id(),
        spec.docs
    ));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", folder.display()));
    for (name, text) in &world.files {
        std::fs::write(folder.join(name), text)
            .unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
    }
    let loaded = scenario::load(&folder.join("scenario.toml"), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    let _ = std::fs::remove_dir_all(&folder);
    loaded
}

fn uid(text: &str) -> EntityUid {
    EntityUid::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

struct Bench {
    scenario: Scenario,
    agents: Vec<EntityUid>,
    subjects: Vec<EntityUid>,
    context: Value,
}

impl Bench {
    fn new() -> Self {
        let spec = spec();
        let scenario = load(&spec);
        let agents: Vec<EntityUid> = (0..spec.agents)
            .map(|a| uid(&format!("Agent::\"a{a}\"")))
            .collect();
        let mut subjects = agents.clone();
        subjects.extend((0..spec.users).map(|u| uid(&format!("User::\"u{u}\""))));
        let context = json!({
            "now": { "__extn": { "fn": "datetime", "arg": "2026-06-01T10:30:00Z" } },
            "mfa": true,
            "delegator": { "__entity": { "type": "User", "id": "u0" } },
        });
        Self {
            scenario,
            agents,
            subjects,
            context,
        }
    }

    fn engine(&self) -> Engine<'_> {
        Engine::new(&self.scenario).with_subjects(self.subjects.iter().cloned())
    }

    /// The agents' universe, one target list per action (every agent has the
    /// same one).
    fn targets(&self, engine: &Engine<'_>) -> Vec<Targets> {
        universe::pairs(&self.scenario, &self.agents[0])
            .into_iter()
            .map(|(action, resources)| engine.targets(action, resources))
            .collect()
    }

    fn decisions(&self, targets: &[Targets], agents: usize) -> usize {
        agents * targets.iter().map(|t| t.resources().len()).sum::<usize>()
    }
}

type HeldBits = Vec<Vec<bool>>;

/// Held sets of `agents` by `method`, in parallel over agents: the number of
/// held pairs of each agent, and the held sets of the agents in `keep`.
fn held(
    engine: &Engine<'_>,
    targets: &[Targets],
    agents: &[EntityUid],
    context: &Value,
    brute_force: bool,
    keep: &[EntityUid],
) -> Vec<(usize, Option<HeldBits>)> {
    let store = Engine::segment(0);
    agents
        .par_iter()
        .map(|agent| {
            let bits: HeldBits = targets
                .iter()
                .map(|target| allowed(engine, agent, target, context, store, brute_force))
                .collect();
            let count = bits.iter().flatten().filter(|b| **b).count();
            (count, keep.contains(agent).then_some(bits))
        })
        .collect()
}

fn allowed(
    engine: &Engine<'_>,
    agent: &EntityUid,
    target: &Targets,
    context: &Value,
    store: StoreId,
    brute_force: bool,
) -> Vec<bool> {
    if brute_force {
        engine.allowed_brute_force(agent, target, context, store)
    } else {
        engine.allowed(agent, target, context, store)
    }
}

fn count(held: &[(usize, Option<HeldBits>)]) -> usize {
    held.iter().map(|(count, _)| count).sum()
}

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

fn bench(c: &mut Criterion) {
    let setup = Instant::now();
    let bench = Bench::new();
    let loaded_in = setup.elapsed();
    let memory_after_load = peak_memory_kib();

    let mut group = c.benchmark_group("held");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("fast, every agent and action", |b| {
        b.iter(|| {
            let engine = bench.engine();
            let targets = bench.targets(&engine);
            black_box(count(&held(
                &engine,
                &targets,
                &bench.agents,
                &bench.context,
                false,
                &[],
            )))
        });
    });
    group.finish();

    // The ratio, measured in the same process: the fast path three times on a
    // fresh engine (median), brute force once on a sample of agents.
    let sample: Vec<EntityUid> = vec![
        bench.agents[0].clone(),
        bench.agents[bench.agents.len() / 2].clone(),
    ];
    let mut fast_times = Vec::new();
    let mut fast_held = Vec::new();
    let mut classes = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let engine = bench.engine();
        let targets = bench.targets(&engine);
        fast_held = held(
            &engine,
            &targets,
            &bench.agents,
            &bench.context,
            false,
            &sample,
        );
        fast_times.push(started.elapsed());
        classes = targets
            .iter()
            .map(|t| engine.class_count(t, Engine::segment(0)))
            .sum::<usize>();
    }
    fast_times.sort();
    let fast = fast_times[1];

    let engine = bench.engine();
    let targets = bench.targets(&engine);
    let started = Instant::now();
    let brute = held(&engine, &targets, &sample, &bench.context, true, &sample);
    let brute_sample = started.elapsed();
    for (position, agent) in sample.iter().enumerate() {
        let index = bench
            .agents
            .iter()
            .position(|a| a == agent)
            .unwrap_or_else(|| panic!("{agent} is not an agent"));
        assert!(
            brute[position].1.is_some() && brute[position].1 == fast_held[index].1,
            "held set of {agent} differs between fast and brute force"
        );
    }
    let sampled_decisions = bench.decisions(&targets, sample.len());
    let all_decisions = bench.decisions(&targets, bench.agents.len());
    let per_decision = brute_sample.as_secs_f64() / sampled_decisions as f64;
    let brute_all = per_decision * all_decisions as f64;
    let ratio = brute_all / fast.as_secs_f64();
    let held_pairs = count(&fast_held);
    println!();
    println!(
        "held-set world: {} agents, {} actions, {} resources per agent, {} policies, loaded in {:.1} s",
        bench.agents.len(),
        targets.len(),
        targets.iter().map(|t| t.resources().len()).sum::<usize>(),
        bench.scenario.policies.set.policies().count(),
        loaded_in.as_secs_f64()
    );
    println!(
        "fast: {:.3} s for {all_decisions} decisions ({held_pairs} held pairs; {classes} (policy, class) evaluations per agent at most)",
        fast.as_secs_f64()
    );
    println!(
        "brute force: {:.3} s for {sampled_decisions} decisions of {} sampled agents ({:.2} µs per decision, both cores), {:.1} s scaled to all",
        brute_sample.as_secs_f64(),
        sample.len(),
        per_decision * 1e6 * 2.0,
        brute_all
    );
    println!("sampled agents' held sets identical: yes");
    println!("ratio brute force / fast: {ratio:.0}x");
    if let (Some(load), Some(peak)) = (memory_after_load, peak_memory_kib()) {
        println!(
            "peak memory (VmHWM): {:.0} MiB after loading the world, {:.0} MiB in all",
            load as f64 / 1024.0,
            peak as f64 / 1024.0
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
