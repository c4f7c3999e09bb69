//! The gate's proof step (no new access and lost access, per request
//! environment, `Prover::compare`) and the proofs about the policies
//! themselves (the candidate's hygiene, the scenarios' never rules) cold
//! against a warm proof cache, on two workloads:
//!
//! - **examples**: the example scenarios with a least-privilege and an
//!   over-privileged policy set in one folder (`scenarios/`), the first as
//!   the baseline and the second as the candidate, under their schema;
//! - **generated**: the held-set benchmark's generated world
//!   (`privsim_testkit::generate`, 40 RBAC / ABAC / forbid / datetime / tag /
//!   template-linked policies, a strict schema with 18 request environments),
//!   the baseline its policies, the candidate the same plus one permit that
//!   lets every agent export any document.
//!
//! **cold** proves with an empty cache folder (every environment asks cvc5,
//! and the verdicts are written); **warm** with the folder a cold run filled
//! (no solver call: each verdict is read, and a refuted one's counterexample
//! replayed through Cedar). The figures that matter are printed at the end:
//! cold and warm time per workload, their ratio, and the time per
//! environment of the cold run. Without cvc5 the benchmark says so and
//! measures nothing. Under `cargo test --benches` (no `--bench` argument)
//! each measurement runs once, and the summary is skipped.

#![allow(
    clippy::panic,
    reason = "a benchmark whose setup fails should stop loudly"
)]

// The `privsim` binary's allocator (benches/lib.rs), so this times what it runs.
use privsim_benches as _;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cedar_policy::{Policy, PolicyId, PolicySet};
use criterion::{Criterion, criterion_group};
use privsim::load::{self as scenario, LoadOptions, Scenario};
use privsim::prove::{Comparison, ProofCache, Prover, Sided, SolverConfig};
use privsim_testkit::generate::{self, Spec};

fn full_scale() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// One change to prove: (baseline policies, candidate policies, schema scenario).
struct Change {
    name: String,
    baseline: PolicySet,
    candidate: PolicySet,
    /// Holds the schema and its text.
    scenario: Scenario,
}

impl Change {
    fn sides(&self) -> (Sided<'_>, Sided<'_>) {
        let schema = self
            .scenario
            .schema
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no schema", self.name));
        let text = self
            .scenario
            .schema_file
            .as_ref()
            .map(|f| &*f.text)
            .unwrap_or_else(|| panic!("{}: no schema text", self.name));
        (
            Sided {
                policies: &self.baseline,
                schema,
                schema_text: text,
            },
            Sided {
                policies: &self.candidate,
                schema,
                schema_text: text,
            },
        )
    }
}

fn load(path: &Path) -> Scenario {
    scenario::load(path, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}: {:?}", path.display(), miette::Report::new(e)))
}

/// The example folders with both a least-privilege and an over-privileged
/// scenario under one schema.
fn examples() -> Vec<Change> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap_or_else(|e| panic!("{e}")).path())
        .filter(|p| {
            p.join("least-privilege.toml").is_file() && p.join("over-privileged.toml").is_file()
        })
        .collect();
    folders.sort();
    folders
        .into_iter()
        .filter_map(|folder| {
            let least = load(&folder.join("least-privilege.toml"));
            let over = load(&folder.join("over-privileged.toml"));
            least.schema.as_ref()?;
            Some(Change {
                name: folder.file_name()?.to_string_lossy().into_owned(),
                baseline: least.policies.set.clone(),
                candidate: over.policies.set,
                scenario: least,
            })
        })
        .collect()
}

/// The generated world's policies, and the same with one wide permit.
fn generated() -> Change {
    let spec = Spec {
        agents: 10,
        users: 5,
        docs: 200,
        fanout: 4,
        depth: 2,
        policies: 40,
        schema: true,
        workflow: true,
        grammar: false,
        effects: false,
    };
    let world = generate::world(&spec, 7);
    let folder = std::env::temp_dir().join(format!("privsim-bench-prove-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
    for (name, text) in &world.files {
        std::fs::write(folder.join(name), text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let loaded = load(&folder.join("scenario.toml"));
    let _ = std::fs::remove_dir_all(&folder);
    let baseline = loaded.policies.set.clone();
    let mut candidate = baseline.clone();
    let wide = Policy::parse(
        Some(PolicyId::new("bench-export-anything")),
        "permit(principal is Agent, action == Action::\"export\", resource);",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    candidate.add(wide).unwrap_or_else(|e| panic!("{e}"));
    Change {
        name: format!(
            "generated ({} policies)",
            baseline.policies().count() + baseline.templates().count()
        ),
        baseline,
        candidate,
        scenario: loaded,
    }
}

fn prove(prover: &Prover, changes: &[Change], cache: &ProofCache) -> Vec<Comparison> {
    changes
        .iter()
        .map(|change| {
            let (baseline, candidate) = change.sides();
            prover
                .compare(baseline, candidate, Some(cache))
                .unwrap_or_else(|e| panic!("{}: {e}", change.name))
        })
        .collect()
}

/// The proofs about the policies themselves, per change: the candidate's
/// hygiene under its schema, and the scenario's `[[never]]` rules with its
/// own policies (none in the generated world). Returns the number of request
/// environments of the schemas.
fn policy_proofs(prover: &Prover, changes: &[Change], cache: &ProofCache) -> usize {
    let mut envs = 0;
    for change in changes {
        let (_, candidate) = change.sides();
        envs += privsim::prove::sorted_envs(candidate.schema).len();
        black_box(
            prover
                .hygiene_cached(candidate, Some(cache))
                .unwrap_or_else(|e| panic!("{}: {e}", change.name)),
        );
        black_box(
            privsim::prove::rules::never_verdicts(
                &change.scenario,
                &[],
                privsim::prove::rules::Proving::With(prover, Some(cache)),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", change.name))
            .rules,
        );
    }
    envs
}

/// A fresh, empty cache folder.
fn empty_cache(folder: &Path) -> ProofCache {
    let _ = std::fs::remove_dir_all(folder);
    ProofCache::new(folder)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn bench(c: &mut Criterion) {
    let parallelism = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let prover = match Prover::new(SolverConfig {
        parallelism,
        ..SolverConfig::default()
    }) {
        Ok(prover) => prover,
        Err(error) => {
            println!("prove benchmark skipped: {error}");
            return;
        }
    };
    let workloads: Vec<(&str, Vec<Change>)> =
        vec![("examples", examples()), ("generated", vec![generated()])];
    let scratch =
        std::env::temp_dir().join(format!("privsim-bench-prove-cache-{}", std::process::id()));

    let mut group = c.benchmark_group("prove");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(if full_scale() { 20 } else { 1 }));
    for (name, changes) in &workloads {
        let cold_folder = scratch.join(format!("{name}-cold"));
        group.bench_function(format!("{name}/cold"), |b| {
            b.iter(|| black_box(prove(&prover, changes, &empty_cache(&cold_folder))));
        });
        let warm_folder = scratch.join(format!("{name}-warm"));
        prove(&prover, changes, &empty_cache(&warm_folder));
        let warm = ProofCache::new(&warm_folder);
        group.bench_function(format!("{name}/warm"), |b| {
            b.iter(|| black_box(prove(&prover, changes, &warm)));
        });
        let stats = warm.stats();
        assert_eq!(stats.misses, 0, "{name}: a warm run asked the solver");
        // Never rules and hygiene: unknown verdicts are not cached, so a
        // warm run may still ask for those (the summary counts them).
        let cold_folder = scratch.join(format!("{name}-policy-cold"));
        group.bench_function(format!("{name}/policy-proofs-cold"), |b| {
            b.iter(|| black_box(policy_proofs(&prover, changes, &empty_cache(&cold_folder))));
        });
        let warm_folder = scratch.join(format!("{name}-policy-warm"));
        policy_proofs(&prover, changes, &empty_cache(&warm_folder));
        let warm = ProofCache::new(&warm_folder);
        group.bench_function(format!("{name}/policy-proofs-warm"), |b| {
            b.iter(|| black_box(policy_proofs(&prover, changes, &warm)));
        });
    }
    group.finish();

    if full_scale() {
        println!();
        println!(
            "proof step, {} ({} workers, {} ms per query):",
            prover.solver_version(),
            parallelism,
            prover.per_query_ms()
        );
        for (name, changes) in &workloads {
            let mut cold = Vec::new();
            let mut warm = Vec::new();
            let mut per_env: Vec<Duration> = Vec::new();
            let mut envs = 0;
            let folder = scratch.join(format!("{name}-summary"));
            for _ in 0..5 {
                let started = Instant::now();
                let results = prove(&prover, changes, &empty_cache(&folder));
                cold.push(started.elapsed());
                per_env.clear();
                envs = 0;
                for compared in &results {
                    for result in compared.no_new_access.iter().chain(&compared.lost_access) {
                        if !result.elapsed.is_zero() {
                            per_env.push(result.elapsed);
                        }
                    }
                    envs += compared.no_new_access.len();
                }
                let cache = ProofCache::new(&folder);
                let started = Instant::now();
                black_box(prove(&prover, changes, &cache));
                warm.push(started.elapsed());
                assert_eq!(cache.stats().misses, 0);
            }
            let (cold, warm) = (median(cold), median(warm));
            per_env.sort();
            let verdicts: Vec<String> = changes.iter().map(|change| change.name.clone()).collect();
            println!(
                "  {name} ({}; {envs} environments, {} proofs in both directions): cold {:.1} ms, warm {:.1} ms, cold / warm {:.0}x; per environment (cold) min {:.1} ms, median {:.1} ms, max {:.1} ms",
                verdicts.join(", "),
                per_env.len(),
                cold.as_secs_f64() * 1e3,
                warm.as_secs_f64() * 1e3,
                cold.as_secs_f64() / warm.as_secs_f64(),
                per_env.first().map_or(0.0, |d| d.as_secs_f64() * 1e3),
                per_env
                    .get(per_env.len() / 2)
                    .map_or(0.0, |d| d.as_secs_f64() * 1e3),
                per_env.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
            );
        }
    }
    if full_scale() {
        println!();
        println!("never rules and policy hygiene (the candidate's):");
        for (name, changes) in &workloads {
            let folder = scratch.join(format!("{name}-policy-summary"));
            let (mut cold, mut warm) = (Vec::new(), Vec::new());
            let (mut envs, mut misses, mut hits) = (0, 0, 0);
            for _ in 0..5 {
                let started = Instant::now();
                envs = policy_proofs(&prover, changes, &empty_cache(&folder));
                cold.push(started.elapsed());
                let cache = ProofCache::new(&folder);
                let started = Instant::now();
                policy_proofs(&prover, changes, &cache);
                warm.push(started.elapsed());
                (hits, misses) = (cache.stats().hits, cache.stats().misses);
            }
            let (cold, warm) = (median(cold), median(warm));
            let per_env = |total: Duration| total.as_secs_f64() * 1e3 / envs.max(1) as f64;
            println!(
                "  {name} ({envs} environments): cold {:.1} ms ({:.2} ms per environment), warm {:.1} ms ({:.2} ms per environment), cold / warm {:.0}x; warm run: {hits} verdicts from the cache, {misses} asked again (unknown verdicts are not cached)",
                cold.as_secs_f64() * 1e3,
                per_env(cold),
                warm.as_secs_f64() * 1e3,
                per_env(warm),
                cold.as_secs_f64() / warm.as_secs_f64(),
            );
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
