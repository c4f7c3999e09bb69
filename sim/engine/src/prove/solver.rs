//! Finding cvc5 (`$CVC5`, else `PATH`) and driving it: one solver process per
//! worker, reused across queries, each query under a per-query time limit
//! (`--tlimit-per`), with a tokio current-thread runtime to block on symcc's
//! async API.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cedar_policy_symcc::err::Error as SymError;
use cedar_policy_symcc::solver::LocalSolver;
use cedar_policy_symcc::{CedarSymCompiler, CompiledPolicy, CompiledPolicySet, Env as SymCex};

use super::{ProveError, SolverConfig, UnknownReason};

fn is_executable_file(p: &Path) -> bool {
    match std::fs::metadata(p) {
        Ok(m) if m.is_file() => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                m.permissions().mode() & 0o111 != 0
            }
            #[cfg(not(unix))]
            {
                true
            }
        }
        _ => false,
    }
}

fn resolve_solver(explicit: Option<&Path>) -> Result<PathBuf, ProveError> {
    if let Some(p) = explicit {
        return if is_executable_file(p) {
            Ok(p.to_path_buf())
        } else {
            Err(ProveError::NoSolver(format!(
                "configured solver path {} is not an executable file",
                p.display()
            )))
        };
    }
    if let Some(v) = std::env::var_os("CVC5").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        return if is_executable_file(&p) {
            Ok(p)
        } else {
            Err(ProveError::NoSolver(format!(
                "$CVC5 is set to {}, which is not an executable file",
                p.display()
            )))
        };
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let cand = dir.join("cvc5");
            if is_executable_file(&cand) {
                return Ok(cand);
            }
        }
    }
    Err(ProveError::NoSolver(
        "cvc5 not found: set $CVC5 to the cvc5 executable or put cvc5 on PATH \
         (Debian: apt-get install cvc5)"
            .into(),
    ))
}

/// Proves properties of policy sets; cheap to clone.
#[derive(Clone, Debug)]
pub struct Prover {
    solver: PathBuf,
    version: String,
    per_query_ms: u64,
    parallelism: usize,
    /// No query starts after this moment ([`Prover::with_deadline`]).
    deadline: Option<Instant>,
}

/// One query handed to symcc (all operands compiled for the same env).
pub(super) enum Query<'a> {
    /// every request allowed by `.0` is allowed by `.1`
    Implies(&'a CompiledPolicySet, &'a CompiledPolicySet),
    /// no request is allowed by both
    Disjoint(&'a CompiledPolicySet, &'a CompiledPolicySet),
    AlwaysDenies(&'a CompiledPolicySet),
    NeverMatches(&'a CompiledPolicy),
    NeverErrors(&'a CompiledPolicy),
}

async fn run_query(
    c: &mut CedarSymCompiler<LocalSolver>,
    q: Query<'_>,
) -> Result<Option<SymCex>, SymError> {
    match q {
        Query::Implies(a, b) => c.check_implies_with_counterexample_opt(a, b).await,
        Query::Disjoint(a, b) => c.check_disjoint_with_counterexample_opt(a, b).await,
        Query::AlwaysDenies(a) => c.check_always_denies_with_counterexample_opt(a).await,
        Query::NeverMatches(p) => c.check_never_matches_with_counterexample_opt(p).await,
        Query::NeverErrors(p) => c.check_never_errors_with_counterexample_opt(p).await,
    }
}

pub(super) fn sym_err_text(e: &SymError) -> String {
    match e {
        SymError::PolicyNotWellTyped { errs } => {
            let details: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
            format!("{e}: {}", details.join("; "))
        }
        SymError::SolverError(inner) => match inner {
            // the Display of these variants hides the detail
            cedar_policy_symcc::err::SolverError::Io(io) => format!("{inner}: {io}"),
            _ => inner.to_string(),
        },
        other => other.to_string(),
    }
}

/// Per-worker state: a current-thread runtime and a (lazily started, reused)
/// cvc5 process.
pub(super) struct Session<'p> {
    prover: &'p Prover,
    rt: tokio::runtime::Runtime,
    compiler: Option<CedarSymCompiler<LocalSolver>>,
}

impl<'p> Session<'p> {
    fn new(prover: &'p Prover) -> Result<Self, ProveError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ProveError::Runtime(e.to_string()))?;
        Ok(Self {
            prover,
            rt,
            compiler: None,
        })
    }

    fn start_solver(&self) -> Result<CedarSymCompiler<LocalSolver>, UnknownReason> {
        let _guard = self.rt.enter(); // tokio::process needs a runtime context to spawn
        let mut cmd = tokio::process::Command::new(&self.prover.solver);
        cmd.args(["--lang", "smt"])
            .arg(format!("--tlimit-per={}", self.prover.per_query_ms))
            .kill_on_drop(true);
        let solver = LocalSolver::from_command(&mut cmd).map_err(|e| {
            UnknownReason::SolverError(format!(
                "could not start {}: {e}",
                self.prover.solver.display()
            ))
        })?;
        CedarSymCompiler::new(solver).map_err(|e| UnknownReason::SolverError(e.to_string()))
    }

    /// Runs one query. `Ok(None)`: the property holds; `Ok(Some(cex))`: the
    /// solver's (unconfirmed) counterexample.
    pub(super) fn query(&mut self, q: Query<'_>) -> Result<Option<SymCex>, UnknownReason> {
        crate::progress::advance();
        if self
            .prover
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            return Err(UnknownReason::TimeBudget);
        }
        let mut compiler = match self.compiler.take() {
            Some(c) => c,
            None => self.start_solver()?,
        };
        let limit = self.prover.per_query_ms;
        // cvc5 enforces `--tlimit-per` on check-sat; this guard also covers
        // model production and a wedged process.
        let guard = Duration::from_millis(limit.saturating_mul(2).saturating_add(5_000));
        let start = Instant::now();
        let res = self
            .rt
            .block_on(async { tokio::time::timeout(guard, run_query(&mut compiler, q)).await });
        match res {
            Err(_elapsed) => {
                // drop `compiler`: kill_on_drop ends the cvc5 process
                Err(UnknownReason::TimeLimit {
                    per_query_ms: limit,
                })
            }
            Ok(Ok(answer)) => {
                self.compiler = Some(compiler);
                Ok(answer)
            }
            Ok(Err(SymError::SolverUnknown)) => {
                if start.elapsed() >= Duration::from_millis(limit.saturating_mul(9) / 10) {
                    // drop the process: a fresh cvc5 starts in ~10 ms, while
                    // `(reset)` after an interrupted check-sat took ~150 ms
                    Err(UnknownReason::TimeLimit {
                        per_query_ms: limit,
                    })
                } else {
                    self.compiler = Some(compiler);
                    Err(UnknownReason::SolverUnknown)
                }
            }
            Ok(Err(e)) => {
                let text = sym_err_text(&e);
                match e {
                    // rejected before anything reached the solver: keep it
                    SymError::CompileError(_)
                    | SymError::PolicyNotWellTyped { .. }
                    | SymError::IncompleteSchema(_)
                    | SymError::ActionNotInSchema(_)
                    | SymError::NoPolicies => {
                        self.compiler = Some(compiler);
                        Err(UnknownReason::Unsupported(text))
                    }
                    // the script may be half-written: restart next time
                    SymError::EncodeError(_) => Err(UnknownReason::Unsupported(text)),
                    // the process may be dead or out of sync: restart next time
                    _ => Err(UnknownReason::SolverError(text)),
                }
            }
        }
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if let Some(mut c) = self.compiler.take() {
            let _ = self.rt.block_on(c.solver_mut().clean_up());
        }
    }
}

impl Prover {
    /// Finds the solver (see [`SolverConfig`]) and checks it runs.
    pub fn new(cfg: SolverConfig) -> Result<Self, ProveError> {
        let solver = resolve_solver(cfg.path.as_deref())?;
        let out = std::process::Command::new(&solver)
            .arg("--version")
            .output()
            .map_err(|e| {
                ProveError::NoSolver(format!("could not run {}: {e}", solver.display()))
            })?;
        let version = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        if !out.status.success() || !version.to_ascii_lowercase().contains("cvc5") {
            return Err(ProveError::NoSolver(format!(
                "{} --version did not identify cvc5 (got {version:?})",
                solver.display()
            )));
        }
        Ok(Self {
            solver,
            version,
            per_query_ms: cfg.per_query_ms.max(1),
            parallelism: cfg.parallelism.max(1),
            deadline: None,
        })
    }

    /// The prover, starting no query after `deadline` (an overall time
    /// budget): a query not started in time is unknown
    /// ([`UnknownReason::TimeBudget`]), never proven. A query started before
    /// it may still take up to the per-query limit.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    /// [`Prover::new`] with the default config: `$CVC5`, else `cvc5` on PATH.
    pub fn detect() -> Result<Self, ProveError> {
        Self::new(SolverConfig::default())
    }

    /// Path of the solver in use.
    pub fn solver_path(&self) -> &Path {
        &self.solver
    }

    /// First line of `cvc5 --version`.
    pub fn solver_version(&self) -> &str {
        &self.version
    }

    /// Per-query time limit in ms.
    pub fn per_query_ms(&self) -> u64 {
        self.per_query_ms
    }

    fn check_solver(&self) -> Result<(), ProveError> {
        if is_executable_file(&self.solver) {
            Ok(())
        } else {
            Err(ProveError::NoSolver(format!(
                "{} is no longer an executable file",
                self.solver.display()
            )))
        }
    }

    /// Maps `f` over `items` with `parallelism` workers, keeping order.
    pub(super) fn run<T: Sync, R: Send>(
        &self,
        items: &[T],
        f: impl Fn(&mut Session<'_>, &T) -> R + Sync,
    ) -> Result<Vec<R>, ProveError> {
        self.check_solver()?;
        crate::progress::phase(crate::progress::Phase::Proving, 0);
        let workers = self.parallelism.min(items.len()).max(1);
        if workers == 1 {
            let mut s = Session::new(self)?;
            return Ok(items.iter().map(|t| f(&mut s, t)).collect());
        }
        let next = AtomicUsize::new(0);
        let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
        let errors: Mutex<Vec<ProveError>> = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    let mut s = match Session::new(self) {
                        Ok(s) => s,
                        Err(e) => {
                            errors.lock().unwrap_or_else(|p| p.into_inner()).push(e);
                            return;
                        }
                    };
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(item) = items.get(i) else { break };
                        let r = f(&mut s, item);
                        *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                    }
                });
            }
        });
        if let Some(e) = errors.into_inner().unwrap_or_else(|p| p.into_inner()).pop() {
            return Err(e);
        }
        let mut out = Vec::with_capacity(items.len());
        for slot in slots {
            match slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
                Some(r) => out.push(r),
                None => {
                    return Err(ProveError::Runtime(
                        "a worker stopped before finishing its env".into(),
                    ));
                }
            }
        }
        Ok(out)
    }
}
