//! Escalation search at the size of an organization (issue 16.5): a generated
//! organization of 50 agents, 10 users, 2,000 repositories and 8 roles whose
//! actions change the world (role assignment and revocation, an attribute
//! change, just-in-time elevation with a policy-enforced end, sub-agent
//! sessions started by delegation), with an escalation planted four
//! world-changing moves deep, and its fixed variant.
//!
//! Measured in one process and printed at the end:
//! - novelty's moves per second ÷ raw Cedar's evaluations per second (every
//!   actor × every pair of its universe, prebuilt, in the initial store);
//! - the moves novelty and random needed to find the planted escalation (at
//!   most 100,000), and that the fixed variant gives no finding in 100,000
//!   moves;
//! - `jobs = 2` against `jobs = 1` on the same budget (time ratio), on the
//!   ratio's budget and on the finding budget (setup amortized);
//! - the process's peak resident memory (`VmHWM`) after the longest search.
//!
//! `PRIVSIM_BENCH_KEEP=1` keeps the generated scenarios (their folders are
//! printed) for `privsim run` or `privsim fuzz`. `PRIVSIM_CAMPAIGN_ONLY=novelty`
//! (or `random`) runs one search alone and prints its figures, for
//! profiling; `PRIVSIM_CAMPAIGN_ONLY=rate` only the ratio (five rounds of raw
//! Cedar and then novelty on the fixed variant, each round's ratio and search
//! CPU time per 10,000 moves printed, then their medians); `PRIVSIM_CAMPAIGN_ONLY=jobs` only the jobs scaling
//! (wall and CPU time of 1 and 2 jobs on both budgets).
//!
//! Whether the planted escalation was found is printed, not asserted (the
//! benchmark measures the search; the planted and fixed cases of the test
//! suite assert). The fixed variant must give no finding: that is asserted.
//! Under `cargo test --benches` (no `--bench` argument) the world and the
//! budgets are small.

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
use criterion::{Criterion, SamplingMode, criterion_group};
use privsim::load::{self as scenario, LoadOptions, Scenario};
use privsim::search::{self, Options, Strategy};
use privsim::world::state::Machine;
use serde_json::Map;

const SEED: u64 = 11;
const DEPTH: usize = 6;

fn full_scale() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// The size of the generated organization.
struct Org {
    agents: usize,
    users: usize,
    repos: usize,
    /// Dormant sub-agent sessions, each started by `delegateTask`.
    subs: usize,
}

const ROLES: [&str; 8] = [
    "reader",
    "writer",
    "admin",
    "role-manager",
    "deployer",
    "auditor",
    "on-call",
    "security",
];

const SCHEMA: &str = r#"
entity Team;
entity Role;
entity User in [Team] { clearance: Long };
entity Agent in [Role] { owner: User, tier: Long, elevated_until?: datetime };
entity Repo { sensitivity: Long, owner: User };
type Job = { now: datetime, root?: User };
action readRepo, pushRepo, deleteRepo appliesTo { principal: [User, Agent], resource: [Repo], context: Job };
action delegateTask, raiseTier appliesTo { principal: [Agent], resource: [Agent], context: Job };
action assignRole, revokeRole appliesTo { principal: [Agent], resource: [Role], context: { now: datetime, root?: User, assignee: Agent } };
action approveElevation appliesTo { principal: [User], resource: [Role], context: { now: datetime, root?: User, requester: Agent } };
"#;

/// The policies; `RAISE_TIER` is where the planted and fixed variants differ.
const POLICIES: &str = r#"
@id("readers-read") permit (principal in Role::"reader", action == Action::"readRepo", resource);
@id("auditors-read") permit (principal in Role::"auditor", action == Action::"readRepo", resource)
  when { resource.sensitivity <= 3 };
@id("writers-push") permit (principal in Role::"writer", action in [Action::"readRepo", Action::"pushRepo"], resource)
  when { resource.sensitivity <= 2 };
@id("admins") permit (principal in Role::"admin", action in [Action::"readRepo", Action::"pushRepo", Action::"deleteRepo"], resource);
@id("cleared-users") permit (principal is User, action in [Action::"readRepo", Action::"pushRepo"], resource)
  when { principal.clearance >= resource.sensitivity };
@id("agents-within-owner-clearance") forbid (principal is Agent, action, resource is Repo)
  when { resource.sensitivity > principal.owner.clearance };
@id("role-managers") permit (principal in Role::"role-manager", action in [Action::"assignRole", Action::"revokeRole"], resource)
  when { context.assignee != principal && (resource == Role::"reader" || resource == Role::"writer" || resource == Role::"auditor" || resource == Role::"on-call") };
RAISE_TIER
@id("release-approves") permit (principal in Team::"release", action == Action::"approveElevation", resource == Role::"deployer")
  when { context.requester.tier >= 3 && !(context.requester in Role::"deployer") };
@id("deployers-push") permit (principal is Agent in Role::"deployer", action == Action::"pushRepo", resource)
  when { principal has elevated_until && context.now < principal.elevated_until };
// Elevated deployers of tier 3 hand out the admin role (to others).
@id("deployers-assign-admin") permit (principal is Agent in Role::"deployer", action == Action::"assignRole", resource == Role::"admin")
  when { principal.tier >= 3 && principal has elevated_until && context.now < principal.elevated_until && context.assignee != principal };
@id("delegate-within-owner") permit (principal is Agent, action == Action::"delegateTask", resource)
  when { resource.owner == principal.owner };
"#;

/// Planted: on-call agents raise any agent's tier, their own included; the
/// role manager can make any other agent on-call. So: on-call (1), tier 3
/// (2), an elevation approved (3), the admin role handed to another agent
/// (4), who deletes a repository.
const PLANTED: &str = r#"@id("raise-tier") permit (principal in Role::"on-call", action == Action::"raiseTier", resource);"#;

/// Fixed: only the security role raises tiers, and no one can become one.
const FIXED: &str = r#"@id("raise-tier") permit (principal in Role::"security", action == Action::"raiseTier", resource);"#;

/// Writes the organization into `folder` and returns the scenario's path.
fn generate(org: &Org, planted: bool, folder: &Path) -> PathBuf {
    common::fresh_folder(folder);
    let mut numbers = Numbers(42);
    let owner = |agent: usize| agent % org.users;
    let mut entities = common::org_people(&ROLES, org.users, &mut numbers);
    for agent in 0..org.agents {
        // a0 manages roles; the others read, write or audit.
        let role = match agent {
            0 => "role-manager",
            a if a % 3 == 0 => "auditor",
            a if a % 2 == 0 => "writer",
            _ => "reader",
        };
        entities.push(format!(
            r#"{{"uid":{{"type":"Agent","id":"a{agent}"}},"attrs":{{"owner":{{"type":"User","id":"u{}"}},"tier":{}}},"parents":[{{"type":"Role","id":"{role}"}}]}}"#,
            owner(agent),
            1 + numbers.next(2)
        ));
    }
    for repo in 0..org.repos {
        entities.push(format!(
            r#"{{"uid":{{"type":"Repo","id":"r{repo}"}},"attrs":{{"sensitivity":{},"owner":{{"type":"User","id":"u{}"}}}},"parents":[]}}"#,
            1 + numbers.next(4),
            numbers.next(org.users)
        ));
    }
    let policies = POLICIES.replace("RAISE_TIER", if planted { PLANTED } else { FIXED });
    common::write_world(folder, &entities, SCHEMA, &policies);

    let mut toml = format!(
        "[scenario]\nname = \"generated organization, {} (campaign benchmark)\"\npolicies = [\"policies.cedar\"]\nschema = \"schema.cedarschema\"\nentities = \"entities.json\"\nstart = \"2026-06-01T09:00:00Z\"\n\n[facts]\nnow = \"now\"\nroot = \"root\"\n\n",
        if planted { "planted" } else { "fixed" }
    );
    for agent in 0..org.agents {
        let _ = write!(
            toml,
            "[[session]]\nid = \"s{agent}\"\nprincipal = 'Agent::\"a{agent}\"'\non_behalf_of = 'User::\"u{}\"'\n\n",
            owner(agent)
        );
    }
    // Sub-agents: an agent of the same owner and role, `users × 6` further
    // on (so a sub-agent never holds more than its parent), for parents
    // a1, a2, ... (a0, the role manager, delegates nothing).
    let stride = org.users * 6;
    for parent in (1..org.agents)
        .filter(|p| p + stride < org.agents)
        .take(org.subs)
    {
        let sub = parent + stride;
        let _ = write!(
            toml,
            "[[session]]\nid = \"sub{parent}\"\nprincipal = 'Agent::\"a{sub}\"'\nparent = \"s{parent}\"\ndormant = true\nlifetime = \"20m\"\n\n\
             [[effect]]\naction = 'Action::\"delegateTask\"'\nprincipal = 'Agent::\"a{parent}\"'\nresource = 'Agent::\"a{sub}\"'\nstart_session = \"sub{parent}\"\n\n"
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
action = 'Action::"raiseTier"'
set_attr = { entity = "resource", name = "tier", value = 3 }

[[effect]]
action = 'Action::"approveElevation"'
grant = { entity = "context.requester", parents = ['Role::"deployer"'], lifetime = "30m", expiry = "policy", until_attr = "elevated_until" }

[[never]]
principal = 'Agent'
action = 'Action::"deleteRepo"'
reason = "no agent deletes a repository"

"#,
    );
    // The workflow: an assignment and its revocation, another assignment,
    // an elevation requested and denied (the requester's tier is below 3),
    // and every user reading a repository (so each user is an actor of the
    // search). The search tries the context values the workflow sends
    // (`assignee`, `requester`) besides those the policies suggest.
    let last = org.agents - 1;
    let _ = write!(
        toml,
        "[[step]]\nat = \"+1m\"\nsession = \"s0\"\naction = 'Action::\"assignRole\"'\nresource = 'Role::\"reader\"'\ncontext = {{ assignee = {{ __entity = {{ type = \"Agent\", id = \"a{last}\" }} }} }}\n\n\
         [[step]]\nat = \"+2m\"\nsession = \"s0\"\naction = 'Action::\"revokeRole\"'\nresource = 'Role::\"reader\"'\ncontext = {{ assignee = {{ __entity = {{ type = \"Agent\", id = \"a{last}\" }} }} }}\n\n\
         [[step]]\nat = \"+3m\"\nsession = \"s0\"\naction = 'Action::\"assignRole\"'\nresource = 'Role::\"auditor\"'\ncontext = {{ assignee = {{ __entity = {{ type = \"Agent\", id = \"a1\" }} }} }}\n\n\
         [[step]]\nat = \"+4m\"\nprincipal = 'User::\"u0\"'\naction = 'Action::\"approveElevation\"'\nresource = 'Role::\"deployer\"'\ncontext = {{ requester = {{ __entity = {{ type = \"Agent\", id = \"a{last}\" }} }} }}\nexpect = \"deny\"\n\n"
    );
    for user in 0..org.users {
        let _ = write!(
            toml,
            "[[step]]\nat = \"+{}m\"\nprincipal = 'User::\"u{user}\"'\naction = 'Action::\"readRepo\"'\nresource = 'Repo::\"r{}\"'\n\n",
            5 + user,
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

fn options(max_steps: u64, jobs: usize) -> Options {
    strategy_options(Strategy::Novelty, max_steps, jobs)
}

fn strategy_options(strategy: Strategy, max_steps: u64, jobs: usize) -> Options {
    Options {
        strategy,
        seed: SEED,
        max_steps,
        time: None,
        depth: DEPTH,
        tick: None,
        minimize: false,
        jobs,
        ..Options::default()
    }
}

/// What one search found and how far it went.
struct Searched {
    moves: u64,
    states: u64,
    /// The never-rule findings.
    never: usize,
    /// Every finding, as `kind: message`.
    findings: Vec<String>,
    /// Moves made when the first finding was seen (to 256 moves; `None`:
    /// none found).
    first_at: Option<u64>,
    evaluations: u64,
    /// What novelty's pool kept of its states' focus.
    focus: search::FocusMemory,
}

fn run_search(scenario: &Scenario, options: &Options) -> Searched {
    let machine = Machine::new(scenario);
    let mut first_at = None;
    let report = search::search_jobs(&machine, options, &mut |progress| {
        if first_at.is_none() && progress.findings > 0 {
            first_at = Some(progress.moves);
        }
    });
    let findings: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("{}: {}", f.violation.kind, f.violation.message))
        .collect();
    Searched {
        moves: report.summary.moves,
        states: report.summary.states,
        never: findings.iter().filter(|f| f.starts_with("never:")).count(),
        findings,
        first_at: first_at.or((!report.findings.is_empty()).then_some(report.summary.moves)),
        evaluations: report.evaluations,
        focus: report.focus,
    }
}

/// Novelty's pool: the bytes of focus per pooled state, the most kept at
/// once, and how often a dropped focus was computed again.
fn focus_line(searched: &Searched) -> String {
    let focus = &searched.focus;
    format!(
        "{} states pooled, {} focus requests and {} focus bytes each on average ({:.1} MB in all), at most {:.1} MB kept at once, {} recomputed",
        focus.pooled,
        focus.requests / focus.pooled.max(1),
        focus.bytes / focus.pooled.max(1),
        focus.bytes as f64 / 1e6,
        focus.peak_kept as f64 / 1e6,
        focus.recomputed
    )
}

/// Every actor × every pair of its universe, prebuilt in the initial store.
fn raw_requests(scenario: &Scenario) -> (std::rc::Rc<Entities>, Vec<Request>) {
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
    (store, requests)
}

fn timed<T>(run: impl FnOnce() -> T) -> (Duration, T) {
    let started = Instant::now();
    let value = run();
    (started.elapsed(), value)
}

/// The CPU time the process has used, user and system, in seconds, from
/// `/proc/self/stat` (Linux; clock ticks of 1/100 s); 0 elsewhere.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // The fields after the command name, which is in parentheses.
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split(' ').collect();
            let user: f64 = fields.get(11)?.parse().ok()?;
            let system: f64 = fields.get(12)?.parse().ok()?;
            Some((user + system) / 100.0)
        })
        .unwrap_or(0.0)
}

/// Wall time and CPU time (all threads) of `run`.
fn timed_cpu<T>(run: impl FnOnce() -> T) -> (Duration, f64, T) {
    let cpu = cpu_seconds();
    let (elapsed, value) = timed(run);
    (elapsed, cpu_seconds() - cpu, value)
}

/// `jobs = 1` and `jobs = 2` on the fixed variant with `budget` moves:
/// wall time and CPU time of each, printed. CPU time is what load from
/// other processes distorts least: with 2 jobs, about the same CPU time as
/// 1 job means the work splits without overhead, and the wall-clock gain
/// is then bounded only by the cores free.
fn jobs_scaling(fixed: &Scenario, budget: u64) {
    let (one_wall, one_cpu, one) = timed_cpu(|| run_search(fixed, &options(budget, 1)));
    let (two_wall, two_cpu, two) = timed_cpu(|| run_search(fixed, &options(budget, 2)));
    println!(
        "  jobs on {budget} moves: 1 job {:.2} s wall, {:.2} s CPU ({} states, {} evaluations); 2 jobs {:.2} s wall, {:.2} s CPU ({} states, {} evaluations); wall 1 ÷ 2 = {:.2}x, CPU 2 ÷ 1 = {:.2}, CPU used by 2 jobs ÷ wall = {:.2} cores",
        one_wall.as_secs_f64(),
        one_cpu,
        one.states,
        one.evaluations,
        two_wall.as_secs_f64(),
        two_cpu,
        two.states,
        two.evaluations,
        one_wall.as_secs_f64() / two_wall.as_secs_f64(),
        two_cpu / one_cpu.max(f64::MIN_POSITIVE),
        two_cpu / two_wall.as_secs_f64()
    );
}

/// The process's peak resident memory, from `/proc/self/status` (Linux).
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown (no /proc/self/status)".to_string())
}

fn campaign(c: &mut Criterion) {
    let full = full_scale();
    let org = if full {
        Org {
            agents: 50,
            users: 10,
            repos: 2_000,
            subs: 8,
        }
    } else {
        Org {
            agents: 26,
            users: 4,
            repos: 40,
            subs: 2,
        }
    };
    // The smoke run's budget keeps novelty's find (by move 2,560 at seed
    // 11) within it; the three random walks, which reach about ten times as
    // many states, were most of the smoke run's time at 10,000 moves.
    let (find_budget, rate_budget) = if full {
        (100_000, 10_000)
    } else {
        (4_000, 2_000)
    };
    let folder = |planted: bool| {
        std::env::temp_dir().join(format!(
            "privsim-bench-campaign-{}-{}",
            std::process::id(),
            if planted { "planted" } else { "fixed" }
        ))
    };
    let planted = load(&generate(&org, true, &folder(true)));
    let fixed = load(&generate(&org, false, &folder(false)));
    if std::env::var_os("PRIVSIM_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(folder(true));
        let _ = std::fs::remove_dir_all(folder(false));
    } else {
        println!(
            "kept {} and {}",
            folder(true).display(),
            folder(false).display()
        );
    }
    let pairs: usize = Machine::new(&planted).pairs.iter().map(|p| p.len()).sum();
    if let Ok(only) = std::env::var("PRIVSIM_CAMPAIGN_ONLY") {
        only_one(&only, &planted, &fixed, find_budget, rate_budget);
        return;
    }

    // The planted escalation within the budget (novelty, then random);
    // none in the fixed variant.
    let (find_time, found) = timed(|| run_search(&planted, &options(find_budget, 1)));
    let (random_time, random) = timed(|| {
        run_search(
            &planted,
            &strategy_options(Strategy::Random, find_budget, 1),
        )
    });
    let (unfocused_time, unfocused) = timed(|| {
        run_search(
            &planted,
            &Options {
                focus: false,
                ..strategy_options(Strategy::Random, find_budget, 1)
            },
        )
    });
    let (fixed_time, clean) = timed(|| run_search(&fixed, &options(find_budget, 1)));
    let (random_fixed_time, random_clean) =
        timed(|| run_search(&fixed, &strategy_options(Strategy::Random, find_budget, 1)));
    // The fixed variant fixes the planted escalation (a `never` finding);
    // it still lets a role be revoked from a parent session's agent but
    // not from its sub-agent's, an attenuation finding random walks can
    // reach: those are printed, not asserted.
    assert_eq!(
        random_clean.never, 0,
        "random finds the planted escalation in the fixed variant: {:?}",
        random_clean.findings
    );
    assert!(
        clean.findings.is_empty(),
        "the fixed variant has findings: {:?}",
        clean.findings
    );
    let peak = peak_rss();

    let authorizer = Authorizer::new();
    let (store, requests) = raw_requests(&planted);
    let raw_cedar = || {
        let mut allowed = 0_usize;
        for request in &requests {
            let response = authorizer.is_authorized(request, &planted.policies.set, &store);
            if response.decision() == cedar_policy::Decision::Allow {
                allowed += 1;
            }
        }
        allowed
    };

    let mut group = c.benchmark_group("campaign");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(if full { 20 } else { 1 }));
    group.bench_function("raw Cedar, every actor × pair", |b| {
        b.iter(|| black_box(raw_cedar()))
    });
    group.bench_function("novelty, fixed variant, 2,000 moves", |b| {
        b.iter(|| black_box(run_search(&fixed, &options(2_000, 1)).moves))
    });
    group.finish();

    // Ratios from interleaved runs in this process (best of two each).
    let runs = if full { 2 } else { 1 };
    let (mut raw_time, mut one_time, mut two_time) = (Duration::MAX, Duration::MAX, Duration::MAX);
    // CPU time (all threads) of the same runs, least of each.
    let (mut one_cpu, mut two_cpu) = (f64::MAX, f64::MAX);
    let mut rate = None;
    for _ in 0..runs {
        raw_time = raw_time.min(timed(|| black_box(raw_cedar())).0);
        let (elapsed, cpu, one) = timed_cpu(|| run_search(&fixed, &options(rate_budget, 1)));
        one_time = one_time.min(elapsed);
        one_cpu = one_cpu.min(cpu);
        let (elapsed, cpu, two) = timed_cpu(|| run_search(&fixed, &options(rate_budget, 2)));
        two_time = two_time.min(elapsed);
        two_cpu = two_cpu.min(cpu);
        assert!(two.findings.is_empty(), "{:?}", two.findings);
        rate = Some((one.moves, one.states, one.evaluations, two.moves));
    }
    let (moves, states, evaluations, two_moves) = rate.unwrap_or_default();
    // Jobs scaling on a budget where the shared setup (the held-set
    // engine's classes, the grant-free rows) is amortized as in a campaign.
    // Only at full scale: the smoke run (`cargo test --benches`) stays short.
    let (mut long_one, mut long_two) = (Duration::MAX, Duration::MAX);
    let (mut long_one_cpu, mut long_two_cpu) = (f64::MAX, f64::MAX);
    for _ in 0..if full { runs } else { 0 } {
        let (elapsed, cpu, _) = timed_cpu(|| run_search(&fixed, &options(find_budget, 1)));
        long_one = long_one.min(elapsed);
        long_one_cpu = long_one_cpu.min(cpu);
        let (elapsed, cpu, _) = timed_cpu(|| run_search(&fixed, &options(find_budget, 2)));
        long_two = long_two.min(elapsed);
        long_two_cpu = long_two_cpu.min(cpu);
    }
    let raw_per_second = requests.len() as f64 / raw_time.as_secs_f64();
    let moves_per_second = moves as f64 / one_time.as_secs_f64();
    println!(
        "\ncampaign benchmark: generated organization of {} agents, {} users, {} repositories, {} roles, {} sub-agents; {pairs} (actor, action, resource) pairs; novelty, seed {SEED}, depth {DEPTH}, no minimization",
        org.agents,
        org.users,
        org.repos,
        ROLES.len(),
        org.subs
    );
    if found.never > 0 {
        println!(
            "  planted escalation (4 world changes deep): FOUND, first finding by move {} (to 256) of {} made, {} never finding(s), {} states, {:.1} s",
            found.first_at.unwrap_or(0),
            found.moves,
            found.never,
            found.states,
            find_time.as_secs_f64()
        );
    } else {
        println!(
            "  planted escalation (4 world changes deep): NOT FOUND in {} moves ({} states, {:.1} s); other findings: {:?}",
            found.moves,
            found.states,
            find_time.as_secs_f64(),
            found.findings
        );
    }
    println!("    novelty's pool: {}", focus_line(&found));
    if random.never > 0 {
        println!(
            "  random on the planted escalation: FOUND, first finding by move {} (to 256) of {} made, {} states, {:.1} s",
            random.first_at.unwrap_or(0),
            random.moves,
            random.states,
            random_time.as_secs_f64()
        );
    } else {
        println!(
            "  random on the planted escalation: NOT FOUND in {} moves ({} states, {:.1} s); other findings: {:?}",
            random.moves,
            random.states,
            random_time.as_secs_f64(),
            random.findings
        );
    }
    println!(
        "  random without focus (Options::focus off) on the planted escalation: {}",
        match unfocused.first_at {
            Some(at) if unfocused.never > 0 => format!(
                "FOUND, first finding by move {at} (to 256) of {} made, {} states, {:.1} s",
                unfocused.moves,
                unfocused.states,
                unfocused_time.as_secs_f64()
            ),
            _ => format!(
                "NOT FOUND in {} moves ({} states, {:.1} s)",
                unfocused.moves,
                unfocused.states,
                unfocused_time.as_secs_f64()
            ),
        }
    );
    println!(
        "  fixed variant: no finding in {} moves by novelty ({} states, {:.1} s); no never finding by random ({} states, {:.1} s; other findings: {:?})",
        clean.moves,
        clean.states,
        fixed_time.as_secs_f64(),
        random_clean.states,
        random_fixed_time.as_secs_f64(),
        random_clean.findings
    );
    println!(
        "  raw Cedar: {} prebuilt requests, {:.0} evaluations/s",
        requests.len(),
        raw_per_second
    );
    println!(
        "  novelty on the fixed variant, {moves} moves, {states} states, {evaluations} evaluations ({:.1}/move): {:.0} moves/s; ratio to raw Cedar {:.4} (1/{:.0})",
        evaluations as f64 / moves.max(1) as f64,
        moves_per_second,
        moves_per_second / raw_per_second,
        raw_per_second / moves_per_second
    );
    println!(
        "  jobs 2 vs jobs 1 on {rate_budget} moves ({two_moves} made with 2 jobs): {:.2} s vs {:.2} s, {:.2}x; CPU {:.2} s vs {:.2} s ({:.2} of 1 job's)",
        two_time.as_secs_f64(),
        one_time.as_secs_f64(),
        one_time.as_secs_f64() / two_time.as_secs_f64(),
        two_cpu,
        one_cpu,
        two_cpu / one_cpu.max(f64::MIN_POSITIVE)
    );
    if full {
        println!(
            "  jobs 2 vs jobs 1 on {find_budget} moves: {:.2} s vs {:.2} s, {:.2}x; CPU {:.2} s vs {:.2} s ({:.2} of 1 job's)",
            long_two.as_secs_f64(),
            long_one.as_secs_f64(),
            long_one.as_secs_f64() / long_two.as_secs_f64(),
            long_two_cpu,
            long_one_cpu,
            long_two_cpu / long_one_cpu.max(f64::MIN_POSITIVE)
        );
    }
    println!("  peak resident memory after the {find_budget}-move searches (VmHWM): {peak}\n");
}

/// Rounds of the ratio alone (`PRIVSIM_CAMPAIGN_ONLY=rate`).
const RATE_ROUNDS: usize = 5;

/// The middle value (the upper one of an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The ratio alone (`PRIVSIM_CAMPAIGN_ONLY=rate`): [`RATE_ROUNDS`] rounds,
/// each raw Cedar on every actor × pair of the planted variant and then
/// novelty on the fixed variant (machine setup included), so a burst of load
/// from other processes lands on one round, not on one side. Each round's
/// ratio and search CPU time (user and system, which load distorts least)
/// per 10,000 moves are printed, then their medians.
fn rate_only(planted: &Scenario, fixed: &Scenario, budget: u64) {
    let authorizer = Authorizer::new();
    let (store, requests) = raw_requests(planted);
    let (mut ratios, mut cpus) = (Vec::new(), Vec::new());
    for round in 1..=RATE_ROUNDS {
        let (raw_time, _) = timed(|| {
            requests
                .iter()
                .filter(|request| {
                    authorizer
                        .is_authorized(request, &planted.policies.set, &store)
                        .decision()
                        == cedar_policy::Decision::Allow
                })
                .count()
        });
        let (search_time, search_cpu, searched) =
            timed_cpu(|| run_search(fixed, &options(budget, 1)));
        let raw_per_second = requests.len() as f64 / raw_time.as_secs_f64();
        let moves_per_second = searched.moves as f64 / search_time.as_secs_f64();
        let ratio = moves_per_second / raw_per_second;
        let cpu_per_10k = search_cpu * 10_000.0 / searched.moves.max(1) as f64;
        println!(
            "rate round {round}: raw Cedar {:.0} evaluations/s ({} requests, {:.2} s); novelty {} moves, {} states, {} evaluations, first finding by move {:?}, {:.2} s, {:.0} moves/s, {:.2} s CPU ({:.2} s per 10,000 moves); ratio {:.4}",
            raw_per_second,
            requests.len(),
            raw_time.as_secs_f64(),
            searched.moves,
            searched.states,
            searched.evaluations,
            searched.first_at,
            search_time.as_secs_f64(),
            moves_per_second,
            search_cpu,
            cpu_per_10k,
            ratio
        );
        ratios.push(ratio);
        cpus.push(cpu_per_10k);
    }
    println!(
        "rate: median of {RATE_ROUNDS} rounds: ratio {:.4} (least {:.4}, most {:.4}); search CPU {:.2} s per 10,000 moves (least {:.2}, most {:.2})",
        median(ratios.clone()),
        ratios.iter().copied().fold(f64::MAX, f64::min),
        ratios.iter().copied().fold(0.0, f64::max),
        median(cpus.clone()),
        cpus.iter().copied().fold(f64::MAX, f64::min),
        cpus.iter().copied().fold(0.0, f64::max),
    );
}

/// One part of the benchmark alone, for profiling (`PRIVSIM_CAMPAIGN_ONLY`):
/// `rate` (novelty on the fixed variant, the ratio's budget), `novelty` or
/// `random` (on the planted escalation, the finding budget).
fn only_one(only: &str, planted: &Scenario, fixed: &Scenario, find_budget: u64, rate_budget: u64) {
    if only == "jobs" {
        println!("jobs scaling, novelty on the fixed variant:");
        jobs_scaling(fixed, rate_budget);
        jobs_scaling(fixed, find_budget);
        return;
    }
    if only == "rate" {
        rate_only(planted, fixed, rate_budget);
        return;
    }
    if only == "random" {
        random_only(planted, fixed, find_budget);
        return;
    }
    let (scenario, options) = match only {
        "novelty" => (planted, options(find_budget, 1)),
        "random" => (planted, strategy_options(Strategy::Random, find_budget, 1)),
        other => panic!("PRIVSIM_CAMPAIGN_ONLY: `{other}` is not rate, novelty, random or jobs"),
    };
    let (elapsed, searched) = timed(|| run_search(scenario, &options));
    println!(
        "{only}: {} moves, {} states, {} evaluations, {:.2} s, {:.0} moves/s, first finding by move {:?}, never findings {}",
        searched.moves,
        searched.states,
        searched.evaluations,
        elapsed.as_secs_f64(),
        searched.moves as f64 / elapsed.as_secs_f64(),
        searched.first_at,
        searched.never
    );
    if only == "novelty" {
        println!("  novelty's pool: {}", focus_line(&searched));
    }
}

/// Random walks alone (`PRIVSIM_CAMPAIGN_ONLY=random`), on the planted
/// escalation and the fixed variant, for each seed of
/// `PRIVSIM_CAMPAIGN_SEEDS` (a comma-separated list; the benchmark's seed
/// by default); `PRIVSIM_CAMPAIGN_SCOPE=off` draws as before
/// `Options::in_scope` (every effect request alike), to compare.
fn random_only(planted: &Scenario, fixed: &Scenario, find_budget: u64) {
    let seeds: Vec<u64> = std::env::var("PRIVSIM_CAMPAIGN_SEEDS")
        .ok()
        .map(|list| {
            list.split(',')
                .map(|seed| {
                    seed.trim().parse().unwrap_or_else(|_| {
                        panic!("PRIVSIM_CAMPAIGN_SEEDS: `{seed}` is not a seed")
                    })
                })
                .collect()
        })
        .unwrap_or_else(|| vec![SEED]);
    let in_scope = std::env::var("PRIVSIM_CAMPAIGN_SCOPE").as_deref() != Ok("off");
    for seed in seeds {
        let options = Options {
            seed,
            in_scope,
            ..strategy_options(Strategy::Random, find_budget, 1)
        };
        let (elapsed, searched) = timed(|| run_search(planted, &options));
        println!(
            "random (seed {seed}, in scope {in_scope}) on the planted escalation: {} moves, {} states, {} evaluations, {:.2} s, {:.0} moves/s, first finding by move {:?} (to 256), never findings {}, findings {:?}",
            searched.moves,
            searched.states,
            searched.evaluations,
            elapsed.as_secs_f64(),
            searched.moves as f64 / elapsed.as_secs_f64(),
            searched.first_at,
            searched.never,
            searched.findings
        );
        let (elapsed, clean) = timed(|| run_search(fixed, &options));
        println!(
            "random (seed {seed}, in scope {in_scope}) on the fixed variant: {} moves, {} states, {:.2} s, never findings {}, findings {:?}",
            clean.moves,
            clean.states,
            elapsed.as_secs_f64(),
            clean.never,
            clean.findings
        );
        assert_eq!(
            clean.never, 0,
            "random found a never finding in the fixed variant"
        );
    }
}

criterion_group!(benches, campaign);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
