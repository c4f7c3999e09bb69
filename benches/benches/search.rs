//! Escalation-search throughput against raw Cedar: moves per second of
//! `privsim::search::search` for each strategy (random, novelty, exhaustive;
//! fixed seed and `max_steps` budget, no minimization), and Cedar evaluations
//! per second of `Authorizer::is_authorized` on representative requests of the
//! same scenarios (every actor × every pair of its universe, in the initial
//! state's entity store), measured in the same process. The figures that
//! matter are printed at the end: the ratio (moves/s ÷ raw evaluations/s) and
//! the Cedar evaluations the search makes per move, which explains it; see
//! BENCHMARKS.md.
//!
//! Two workloads: the example escalations (`scenarios/escalations/*/planted.toml`
//! and `fixed.toml`, small), and a generated organization whose actions have
//! effects (role assignment and revocation by role managers, just-in-time
//! elevation with a policy-enforced end, sub-agent sessions started by
//! delegation), so most moves the search makes can change the world.
//!
//! Under `cargo test --benches` (no `--bench` argument) the budgets and the
//! generated world are tiny so the smoke run stays quick. `PRIVSIM_BENCH_KEEP=1`
//! keeps the generated scenarios of the `states` group (their folders are
//! printed) for `privsim fuzz`.

#![allow(
    clippy::panic,
    reason = "a benchmark whose setup fails should stop loudly"
)]

// The `privsim` binary's allocator (benches/lib.rs), so this times what it runs.
use privsim_benches as _;

mod common;

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cedar_policy::{Authorizer, Entities, Request};
use common::Numbers;
use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group};
use privsim::load::{self as scenario, LoadOptions, Scenario};
use privsim::search::{self, Options, Strategy};
use privsim::world::state::Machine;
use serde_json::Map;

const STRATEGIES: [Strategy; 3] = [Strategy::Random, Strategy::Novelty, Strategy::Exhaustive];
const SEED: u64 = 7;
const DEPTH: usize = 6;

fn full_scale() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// The size of the generated organization.
struct Org {
    agents: usize,
    users: usize,
    repos: usize,
    /// Dormant sub-agent sessions, each started by `delegateTask` from a parent session.
    subs: usize,
}

const ROLES: [&str; 5] = ["reader", "writer", "admin", "role-manager", "deployer"];

const SCHEMA: &str = r#"
entity Team;
entity Role;
entity User in [Team] { clearance: Long };
entity Agent in [Role] { owner: User, elevated_until?: datetime };
entity Repo { sensitivity: Long, owner: User };
type Job = { now: datetime, root?: User };
action readRepo, pushRepo, deleteRepo appliesTo { principal: [User, Agent], resource: [Repo], context: Job };
action delegateTask appliesTo { principal: [Agent], resource: [Agent], context: Job };
action assignRole, revokeRole appliesTo { principal: [Agent], resource: [Role], context: { now: datetime, root?: User, assignee: Agent } };
action approveElevation appliesTo { principal: [User], resource: [Role], context: { now: datetime, root?: User, requester: Agent } };
"#;

const POLICIES: &str = r#"
@id("readers-read") permit (principal in Role::"reader", action == Action::"readRepo", resource);
@id("writers-push") permit (principal in Role::"writer", action in [Action::"readRepo", Action::"pushRepo"], resource)
  when { resource.sensitivity <= 2 };
@id("admins") permit (principal in Role::"admin", action in [Action::"readRepo", Action::"pushRepo", Action::"deleteRepo"], resource);
@id("owners") permit (principal is User, action in [Action::"readRepo", Action::"pushRepo"], resource) when { resource.owner == principal };
@id("cleared-users-read") permit (principal is User, action == Action::"readRepo", resource) when { principal.clearance >= resource.sensitivity };
@id("agents-within-owner-clearance") forbid (principal is Agent, action, resource is Repo)
  when { resource.sensitivity > principal.owner.clearance };
// Planted: role managers assign and revoke any role (admin and role-manager included), to any other agent.
@id("role-managers") permit (principal in Role::"role-manager", action in [Action::"assignRole", Action::"revokeRole"], resource)
  when { context.assignee != principal };
@id("release-approves") permit (principal in Team::"release", action == Action::"approveElevation", resource == Role::"deployer")
  when { !(context.requester in Role::"deployer") };
// Planted: checks that the agent was elevated, not until when.
@id("deployers-push") permit (principal is Agent in Role::"deployer", action == Action::"pushRepo", resource)
  when { principal has elevated_until };
@id("delegate-within-owner") permit (principal is Agent, action == Action::"delegateTask", resource)
  when { resource.owner == principal.owner };
"#;

/// Writes the generated organization into `folder` and returns the scenario's path.
fn generate(org: &Org, folder: &Path) -> PathBuf {
    common::fresh_folder(folder);
    let mut numbers = Numbers(42);
    let owner = |agent: usize| agent % org.users;
    let mut entities = common::org_people(&ROLES, org.users, &mut numbers);
    for agent in 0..org.agents {
        // a0 manages roles; the others start as readers or writers.
        let role = match agent {
            0 => "role-manager",
            a if a % 2 == 0 => "writer",
            _ => "reader",
        };
        entities.push(format!(
            r#"{{"uid":{{"type":"Agent","id":"a{agent}"}},"attrs":{{"owner":{{"type":"User","id":"u{}"}}}},"parents":[{{"type":"Role","id":"{role}"}}]}}"#,
            owner(agent)
        ));
    }
    for repo in 0..org.repos {
        entities.push(format!(
            r#"{{"uid":{{"type":"Repo","id":"r{repo}"}},"attrs":{{"sensitivity":{},"owner":{{"type":"User","id":"u{}"}}}},"parents":[]}}"#,
            1 + numbers.next(4),
            numbers.next(org.users)
        ));
    }
    common::write_world(folder, &entities, SCHEMA, POLICIES);

    let mut toml = String::from(
        "[scenario]\nname = \"generated organization (search benchmark)\"\npolicies = [\"policies.cedar\"]\nschema = \"schema.cedarschema\"\nentities = \"entities.json\"\nstart = \"2026-06-01T09:00:00Z\"\n\n[facts]\nnow = \"now\"\nroot = \"root\"\n\n",
    );
    for agent in 0..org.agents {
        let _ = write!(
            toml,
            "[[session]]\nid = \"s{agent}\"\nprincipal = 'Agent::\"a{agent}\"'\non_behalf_of = 'User::\"u{}\"'\n\n",
            owner(agent)
        );
    }
    // Sub-agents: the agent with the same owner, `users` agents further on.
    let sub_of = |parent: usize| (parent + org.users) % org.agents;
    for parent in 0..org.subs {
        let _ = write!(
            toml,
            "[[session]]\nid = \"sub{parent}\"\nprincipal = 'Agent::\"a{}\"'\nparent = \"s{parent}\"\ndormant = true\nlifetime = \"20m\"\n\n",
            sub_of(parent)
        );
        let _ = write!(
            toml,
            "[[effect]]\naction = 'Action::\"delegateTask\"'\nprincipal = 'Agent::\"a{parent}\"'\nresource = 'Agent::\"a{}\"'\nstart_session = \"sub{parent}\"\n\n",
            sub_of(parent)
        );
    }
    toml.push_str(
        r#"[[effect]]
action = 'Action::"assignRole"'
add_parent = { entity = "context.assignee", parent = "resource" }

[[effect]]
action = 'Action::"revokeRole"'
remove_parent = { entity = "context.assignee", parent = "resource" }

[[effect]]
action = 'Action::"approveElevation"'
grant = { entity = "context.requester", parents = ['Role::"deployer"'], lifetime = "30m", expiry = "policy", until_attr = "elevated_until" }

[[never]]
principal = 'Agent'
action = 'Action::"deleteRepo"'
reason = "no agent deletes a repository"

"#,
    );
    // The workflow: a role assignment and revocation, an elevation, and every
    // user reading a repository (so each user is an actor of the search).
    let last = org.agents - 1;
    let _ = write!(
        toml,
        "[[step]]\nat = \"+1m\"\nsession = \"s0\"\naction = 'Action::\"assignRole\"'\nresource = 'Role::\"reader\"'\ncontext = {{ assignee = {{ __entity = {{ type = \"Agent\", id = \"a{last}\" }} }} }}\n\n\
         [[step]]\nat = \"+2m\"\nsession = \"s0\"\naction = 'Action::\"revokeRole\"'\nresource = 'Role::\"reader\"'\ncontext = {{ assignee = {{ __entity = {{ type = \"Agent\", id = \"a{last}\" }} }} }}\n\n\
         [[step]]\nat = \"+3m\"\nprincipal = 'User::\"u0\"'\naction = 'Action::\"approveElevation\"'\nresource = 'Role::\"deployer\"'\ncontext = {{ requester = {{ __entity = {{ type = \"Agent\", id = \"a1\" }} }} }}\n\n"
    );
    for user in 0..org.users {
        let _ = write!(
            toml,
            "[[step]]\nat = \"+{}m\"\nprincipal = 'User::\"u{user}\"'\naction = 'Action::\"readRepo\"'\nresource = 'Repo::\"r{}\"'\n\n",
            4 + user,
            user % org.repos
        );
    }
    common::write(folder, "scenario.toml", &toml);
    folder.join("scenario.toml")
}

fn load(path: &Path) -> Scenario {
    scenario::load(path, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
}

/// One set of scenarios searched with one budget.
struct Workload {
    name: &'static str,
    scenarios: Vec<Scenario>,
    max_steps: u64,
    /// Every actor × every pair of its universe, in the initial state's store.
    raw: Vec<Raw>,
}

/// Representative requests of one scenario, prebuilt, with their store.
struct Raw {
    store: std::rc::Rc<Entities>,
    requests: Vec<Request>,
}

impl Workload {
    fn new(name: &'static str, scenarios: Vec<Scenario>, max_steps: u64) -> Self {
        let raw = scenarios
            .iter()
            .map(|scenario| {
                let machine = Machine::new(scenario);
                let initial = machine.initial();
                let store = machine
                    .store(&initial, None)
                    .unwrap_or_else(|e| panic!("{}: {e}", scenario.file.display));
                let mut requests = Vec::new();
                for (actor, pairs) in machine.pairs.iter().enumerate() {
                    let context = machine.context(&initial, actor, &Map::new());
                    let principal = &machine.actors[actor].principal;
                    requests.extend(
                        pairs
                            .iter()
                            .filter_map(|(a, r)| machine.request(principal, a, r, &context).ok()),
                    );
                }
                Raw { store, requests }
            })
            .collect();
        Self {
            name,
            scenarios,
            max_steps,
            raw,
        }
    }

    fn requests(&self) -> usize {
        self.raw.iter().map(|r| r.requests.len()).sum()
    }

    /// Pairs over every actor's universe, summed over the scenarios: what one
    /// snapshot of a state costs in evaluations at most (every actor running).
    fn pairs(&self) -> usize {
        self.scenarios
            .iter()
            .map(|s| Machine::new(s).pairs.iter().map(|p| p.len()).sum::<usize>())
            .sum()
    }

    fn options(&self, strategy: Strategy) -> Options {
        Options {
            strategy,
            seed: SEED,
            max_steps: self.max_steps,
            time: None,
            depth: DEPTH,
            tick: None,
            minimize: false,
            ..Options::default()
        }
    }

    fn machines(&self) -> Vec<Machine<'_>> {
        self.scenarios.iter().map(Machine::new).collect()
    }

    /// Searches every scenario with a fresh machine; totals.
    fn search(&self, machines: &[Machine<'_>], options: &Options) -> Totals {
        let mut totals = Totals::default();
        for machine in machines {
            let report = search::search(machine, options, &mut |_| {});
            totals.moves += report.summary.moves;
            totals.states += report.summary.states;
            totals.evaluations += report.evaluations;
            totals.findings += report.findings.len();
        }
        totals
    }

    /// Evaluates every representative request once; the number allowed.
    fn raw_cedar(&self, authorizer: &Authorizer) -> usize {
        let mut allowed = 0;
        for (raw, scenario) in self.raw.iter().zip(&self.scenarios) {
            for request in &raw.requests {
                let response =
                    authorizer.is_authorized(request, &scenario.policies.set, &raw.store);
                if response.decision() == cedar_policy::Decision::Allow {
                    allowed += 1;
                }
            }
        }
        allowed
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Totals {
    moves: u64,
    states: u64,
    evaluations: u64,
    findings: usize,
}

fn workloads() -> Vec<Workload> {
    let full = full_scale();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/escalations");
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    let escalations: Vec<Scenario> = folders
        .iter()
        .flat_map(|folder| ["planted.toml", "fixed.toml"].map(|name| folder.join(name)))
        .map(|path| load(&path))
        .collect();
    assert!(
        !escalations.is_empty(),
        "no scenarios in {}",
        root.display()
    );

    let org = if full {
        Org {
            agents: 10,
            users: 4,
            repos: 30,
            subs: 4,
        }
    } else {
        Org {
            agents: 4,
            users: 2,
            repos: 4,
            subs: 2,
        }
    };
    let folder = std::env::temp_dir().join(format!(
        "privsim-bench-search-{}-{}",
        std::process::id(),
        org.repos
    ));
    let generated = load(&generate(&org, &folder));
    let _ = std::fs::remove_dir_all(&folder);

    vec![
        Workload::new("escalations", escalations, if full { 2_000 } else { 50 }),
        Workload::new("generated", vec![generated], if full { 300 } else { 30 }),
    ]
}

/// Times one run.
fn timed<T>(run: impl FnOnce() -> T) -> (Duration, T) {
    let started = Instant::now();
    let value = run();
    (started.elapsed(), value)
}

fn bench(c: &mut Criterion) {
    let full = full_scale();
    let workloads = workloads();
    let authorizer = Authorizer::new();

    // Calibration: the search is deterministic for a seed and a move budget,
    // so each strategy's move count is known before timing.
    let mut calibrated = Vec::new();
    for workload in &workloads {
        let totals: Vec<Totals> = STRATEGIES
            .iter()
            .map(|&s| workload.search(&workload.machines(), &workload.options(s)))
            .collect();
        calibrated.push(totals);
    }

    for (workload, totals) in workloads.iter().zip(&calibrated) {
        let mut group = c.benchmark_group(format!("search/{}", workload.name));
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(if full { 10 } else { 1 }));
        group.throughput(Throughput::Elements(workload.requests() as u64));
        group.bench_function("raw Cedar", |b| {
            b.iter(|| black_box(workload.raw_cedar(&authorizer)))
        });
        for (&strategy, totals) in STRATEGIES.iter().zip(totals) {
            let options = workload.options(strategy);
            group.throughput(Throughput::Elements(totals.moves));
            group.bench_function(strategy.name(), |b| {
                b.iter_batched_ref(
                    || workload.machines(),
                    |machines| black_box(workload.search(machines, &options)),
                    BatchSize::PerIteration,
                )
            });
        }
        group.finish();
    }

    // The ratios, from interleaved runs in this process (best of three each).
    // A raw round repeats the requests to about 20,000 evaluations, so that it
    // is not a millisecond-long measurement on the small scenarios.
    let runs = if full { 3 } else { 1 };
    println!();
    for (workload, totals) in workloads.iter().zip(&calibrated) {
        let requests = workload.requests().max(1);
        let repeats = if full {
            20_000_usize.div_ceil(requests)
        } else {
            1
        };
        let mut raw_time = Duration::MAX;
        let mut search_times = [Duration::MAX; STRATEGIES.len()];
        for _ in 0..runs {
            let (elapsed, _) = timed(|| {
                for _ in 0..repeats {
                    black_box(workload.raw_cedar(&authorizer));
                }
            });
            raw_time = raw_time.min(elapsed / repeats as u32);
            for (index, &strategy) in STRATEGIES.iter().enumerate() {
                let options = workload.options(strategy);
                let machines = workload.machines();
                let (elapsed, again) = timed(|| workload.search(&machines, &options));
                assert_eq!(
                    again,
                    totals[index],
                    "the {} search is not deterministic for a seed and budget",
                    strategy.name()
                );
                search_times[index] = search_times[index].min(elapsed);
            }
        }
        let raw_per_second = requests as f64 / raw_time.as_secs_f64();
        let raw_micros = raw_time.as_secs_f64() * 1e6 / requests as f64;
        println!(
            "search benchmark, {}: {} scenario(s), {} (actor, action, resource) pairs in all, seed {SEED}, at most {} moves per scenario, depth {DEPTH}, no minimization",
            workload.name,
            workload.scenarios.len(),
            workload.pairs(),
            workload.max_steps,
        );
        println!(
            "  raw Cedar: {requests} prebuilt requests (every actor × pair, initial state's store): {raw_micros:.2} µs/evaluation, {raw_per_second:.0} evaluations/s"
        );
        println!(
            "  {:<11}{:>7}{:>7}{:>12}{:>10}{:>10}{:>9}{:>10}{:>9}{:>9}{:>8}",
            "strategy",
            "moves",
            "states",
            "evaluations",
            "eval/move",
            "time ms",
            "moves/s",
            "ratio",
            "1/ratio",
            "µs/eval",
            "Cedar"
        );
        for (index, &strategy) in STRATEGIES.iter().enumerate() {
            let t = totals[index];
            let seconds = search_times[index].as_secs_f64();
            let moves_per_second = t.moves as f64 / seconds;
            let ratio = moves_per_second / raw_per_second;
            let micros_per_evaluation = seconds * 1e6 / t.evaluations as f64;
            println!(
                "  {:<11}{:>7}{:>7}{:>12}{:>10.1}{:>10.1}{:>9.0}{:>10.5}{:>9.0}{:>9.2}{:>7.0}%",
                strategy.name(),
                t.moves,
                t.states,
                t.evaluations,
                t.evaluations as f64 / t.moves as f64,
                seconds * 1e3,
                moves_per_second,
                ratio,
                1.0 / ratio,
                micros_per_evaluation,
                100.0 * raw_micros / micros_per_evaluation,
            );
        }
        println!(
            "  ratio = moves/s ÷ raw evaluations/s (1/ratio: a move costs that many raw evaluations); eval/move = Cedar evaluations\n  the search made per move (snapshots of every actor's held set per new state dominate); µs/eval = search time\n  per evaluation it made; Cedar = the share of search time raw Cedar would take for those evaluations\n"
        );
    }
}

/// Incremental states against brute-force snapshots, in this process: the
/// exhaustive search of the generated world to depth 6, and replay of a
/// generated organization of 2,000 repositories. Both must give the same
/// results; the figure is the ratio of times (brute force ÷ incremental).
fn incremental_vs_brute_force(c: &mut Criterion) {
    let full = full_scale();
    let (small, big) = if full {
        (
            Org {
                agents: 10,
                users: 4,
                repos: 30,
                subs: 4,
            },
            Org {
                agents: 50,
                users: 10,
                repos: 2_000,
                subs: 8,
            },
        )
    } else {
        (
            Org {
                agents: 4,
                users: 2,
                repos: 4,
                subs: 2,
            },
            Org {
                agents: 6,
                users: 2,
                repos: 20,
                subs: 2,
            },
        )
    };
    let folder = |org: &Org| {
        std::env::temp_dir().join(format!(
            "privsim-bench-states-{}-{}",
            std::process::id(),
            org.repos
        ))
    };
    let generated = load(&generate(&small, &folder(&small)));
    let organization = load(&generate(&big, &folder(&big)));
    if std::env::var_os("PRIVSIM_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(folder(&small));
        let _ = std::fs::remove_dir_all(folder(&big));
    } else {
        println!(
            "kept {} and {}",
            folder(&small).display(),
            folder(&big).display()
        );
    }

    // Exhaustive to depth 6 within a move budget (the whole depth is out of
    // reach of brute force in a benchmark run).
    let options = Options {
        strategy: Strategy::Exhaustive,
        seed: SEED,
        max_steps: if full { 3_000 } else { 2_000 },
        time: None,
        depth: DEPTH,
        tick: None,
        minimize: false,
        ..Options::default()
    };
    let search = |brute: bool| {
        let machine = Machine::new(&generated);
        let machine = if brute {
            machine.brute_force()
        } else {
            machine
        };
        let report = search::search(&machine, &options, &mut |_| {});
        let findings: Vec<String> = report
            .findings
            .iter()
            .map(|f| format!("{} {:?}", f.violation.message, f.trace))
            .collect();
        (report.summary, findings)
    };
    let replay = |brute: bool| {
        let result = if brute {
            privsim::replay::replay_brute_force(&organization)
        } else {
            privsim::replay::replay(&organization)
        };
        serde_json::to_string(&result).unwrap_or_default()
    };

    let mut group = c.benchmark_group("states");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(if full { 20 } else { 1 }));
    group.bench_function("exhaustive depth 6, incremental", |b| {
        b.iter(|| black_box(search(false)))
    });
    group.bench_function("replay organization, incremental", |b| {
        b.iter(|| black_box(replay(false)))
    });
    group.finish();

    // The ratios, from interleaved runs in this process: `rounds` rounds of
    // one brute-force run and then `FAST_RUNS` incremental runs, the best
    // of each, every run's time printed too. A single run is at the mercy
    // of whatever else the machine does in that second, and an incremental
    // run right after a brute-force one (50 times longer) pays for the
    // caches and allocator pages that run took: measured, 28 to 52 ms
    // where criterion's loop over the same search gives 19 ms.
    let rounds = if full { 3 } else { 1 };
    let (fast_times, slow_times, (fast, slow)) =
        interleaved(rounds, || search(false), || search(true));
    assert_eq!(fast, slow, "the search differs from brute force");
    println!(
        "states benchmark, exhaustive depth {DEPTH} on the generated world: {} moves, {} states, exhaustive depth {:?}, {} findings\n  incremental {:.1} ms, brute force {:.1} ms (best of {} and {rounds} interleaved runs; all: {} / {}): {:.1}x; medians {:.1} ms and {:.1} ms: {:.1}x",
        fast.0.moves,
        fast.0.states,
        fast.0.exhaustive_depth,
        fast.1.len(),
        best(&fast_times) * 1e3,
        best(&slow_times) * 1e3,
        fast_times.len(),
        milliseconds(&fast_times),
        milliseconds(&slow_times),
        best(&slow_times) / best(&fast_times),
        median(&fast_times) * 1e3,
        median(&slow_times) * 1e3,
        median(&slow_times) / median(&fast_times)
    );
    let (fast_times, slow_times, (fast, slow)) =
        interleaved(rounds, || replay(false), || replay(true));
    let (fast_time, slow_time) = (best(&fast_times), best(&slow_times));
    assert_eq!(fast, slow, "replay differs from brute force");
    let pairs: usize = Machine::new(&organization)
        .pairs
        .iter()
        .map(|p| p.len())
        .sum();
    println!(
        "states benchmark, replay of the organization ({} agents, {} users, {} repositories, {} steps, {pairs} pairs):\n  incremental {:.1} ms, brute force {:.1} ms (best of {} and {rounds} interleaved runs; all: {} / {}): {:.1}x; medians {:.1} ms and {:.1} ms: {:.1}x",
        big.agents,
        big.users,
        big.repos,
        organization.steps.len(),
        fast_time * 1e3,
        slow_time * 1e3,
        fast_times.len(),
        milliseconds(&fast_times),
        milliseconds(&slow_times),
        slow_time / fast_time,
        median(&fast_times) * 1e3,
        median(&slow_times) * 1e3,
        median(&slow_times) / median(&fast_times)
    );
}

/// Incremental runs per round of [`interleaved`].
const FAST_RUNS: usize = 5;

/// `rounds` rounds of one run of `slow` and then [`FAST_RUNS`] of `fast`:
/// the seconds of each run, and the last results of both (every run gives
/// the same).
fn interleaved<T: PartialEq + std::fmt::Debug>(
    rounds: usize,
    fast: impl Fn() -> T,
    slow: impl Fn() -> T,
) -> (Vec<f64>, Vec<f64>, (T, T)) {
    let (mut fast_times, mut slow_times, mut last) = (Vec::new(), Vec::new(), None);
    for _ in 0..rounds.max(1) {
        let (slow_time, slow_result) = timed(&slow);
        slow_times.push(slow_time.as_secs_f64());
        let mut fast_result = None;
        for _ in 0..FAST_RUNS {
            let (fast_time, result) = timed(&fast);
            fast_times.push(fast_time.as_secs_f64());
            if let Some(before) = &fast_result {
                assert_eq!(before, &result, "a run differs from the one before it");
            }
            fast_result = Some(result);
        }
        let fast_result = fast_result.unwrap_or_else(|| unreachable!("FAST_RUNS > 0"));
        if let Some((before, _)) = &last {
            assert_eq!(before, &fast_result, "a run differs from the one before it");
        }
        last = Some((fast_result, slow_result));
    }
    let last = last.unwrap_or_else(|| unreachable!("at least one round"));
    (fast_times, slow_times, last)
}

/// The least of some times, in seconds.
fn best(times: &[f64]) -> f64 {
    times.iter().copied().fold(f64::INFINITY, f64::min)
}

/// The middle of some times (the upper one of the two middle ones), in
/// seconds.
fn median(times: &[f64]) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Times in seconds as milliseconds, comma-separated.
fn milliseconds(times: &[f64]) -> String {
    times
        .iter()
        .map(|t| format!("{:.1}", t * 1e3))
        .collect::<Vec<_>>()
        .join(", ")
}

criterion_group!(benches, bench, incremental_vs_brute_force);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
