//! The gate's proof step: for each scenario with a schema, prove per request
//! environment of the candidate's schema that the candidate allows nothing
//! the baseline denies (and, reported only, the reverse), with
//! [`crate::prove`]. A refuted environment becomes a `new-access-proven`
//! change with Cedar's confirmed counterexample (and a repro scenario when the
//! gate has a report folder); a refuted reverse environment a
//! `narrowed-proven` change; an unknown one is listed as not proven.

use std::path::{Path, PathBuf};

use cedar_policy::PolicySet;

use crate::load::Scenario;
use crate::prove::view::{counterexample_view, env_proof};
use crate::prove::{
    EnvPresence, EnvResult, ProofCache, Prover, Sided, SolverConfig, Verdict, to_static_policy_set,
};
use privsim_model::check::{
    Change, ChangeKind, ChangeStatus, NO_SOLVER_CAVEAT, ProofCounterexample, ProofSchemaChange,
    ProofsStatus, ProofsView, ScenarioProofs, Side,
};
use privsim_model::diag::Error;

/// Whether the gate proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No proofs (`--no-prove`, or `enabled = false` in `[prove]`).
    Off,
    /// Prove when a solver is found; otherwise say so in every output.
    Auto,
    /// Prove; no solver is bad input (`--prove`).
    Required,
}

/// How the gate proves.
#[derive(Debug, Clone)]
pub struct ProveOptions {
    /// Whether it proves.
    pub mode: Mode,
    /// The time limit per solver query, in milliseconds.
    pub timeout_ms: u64,
    /// Where repro scenarios of counterexamples go (`--report-dir`).
    pub repro_dir: Option<PathBuf>,
    /// The folder of cached verdicts ([`ProofCache`]); `None`: no cache.
    pub cache: Option<PathBuf>,
    /// Called with each environment's proof as it is decided (`--timings`):
    /// the scenario's file, the direction (`no new access` or `no lost
    /// access`), the result (its `elapsed` is the time spent on it) and
    /// whether it came from the cache.
    pub timings: Option<fn(&str, &str, &EnvResult, bool)>,
}

impl Default for ProveOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Off,
            timeout_ms: crate::prove::DEFAULT_PER_QUERY_MS,
            repro_dir: None,
            cache: None,
            timings: None,
        }
    }
}

/// The prover for this check: `Ok(None)` when proofs are off or skipped (the
/// view then says which), an error when `--prove` asked for a missing solver.
pub fn prover(options: &ProveOptions) -> Result<(Option<Prover>, Option<ProofsView>), Error> {
    if options.mode == Mode::Off {
        return Ok((None, None));
    }
    let parallelism = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    match Prover::new(SolverConfig {
        path: None,
        per_query_ms: options.timeout_ms,
        parallelism,
    }) {
        Ok(prover) => {
            let view = ProofsView {
                status: ProofsStatus::Ran,
                caveat: None,
                solver: Some(prover.solver_version().to_string()),
                timeout_ms: options.timeout_ms,
                proven: 0,
                refuted: 0,
                unknown: 0,
                scenarios_without_schema: 0,
            };
            Ok((Some(prover), Some(view)))
        }
        Err(error) if options.mode == Mode::Required => Err(Error::Tool(format!(
            "`--prove` needs the cvc5 solver: {error}; install it (`apt-get install -y cvc5`) or set $CVC5 to its path"
        ))),
        Err(_) => Ok((
            None,
            Some(ProofsView {
                status: ProofsStatus::Skipped,
                caveat: Some(NO_SOLVER_CAVEAT.to_string()),
                solver: None,
                timeout_ms: options.timeout_ms,
                proven: 0,
                refuted: 0,
                unknown: 0,
                scenarios_without_schema: 0,
            }),
        )),
    }
}

/// Proves one scenario: its verdicts, and the changes the refutations make.
/// Each side is proven under its own schema (a `git:` baseline reads the
/// schema at its revision); a schema change that moves the request
/// environments is said in `schema_change`.
pub fn prove_scenario(
    prover: &Prover,
    baseline: &Scenario,
    candidate: &Scenario,
    view: &mut ProofsView,
    options: &ProveOptions,
    cache: Option<&ProofCache>,
) -> Result<(ScenarioProofs, Vec<Change>), Error> {
    let repro_dir = options.repro_dir.as_deref();
    let (Some(schema), Some(schema_file)) =
        (candidate.schema.as_ref(), candidate.schema_file.as_ref())
    else {
        view.scenarios_without_schema += 1;
        return Ok((
            ScenarioProofs {
                skipped: Some(
                    "not proven: the scenario has no schema, so there are no request environments to quantify over"
                        .to_string(),
                ),
                no_new_access: Vec::new(),
                lost_access: Vec::new(),
                schema_change: None,
            },
            Vec::new(),
        ));
    };
    let candidate_side = Sided {
        policies: &candidate.policies.set,
        schema,
        schema_text: &schema_file.text,
    };
    let mut schema_change = None;
    let baseline_side = match (baseline.schema.as_ref(), baseline.schema_file.as_ref()) {
        (Some(base_schema), Some(base_file)) => Sided {
            policies: &baseline.policies.set,
            schema: base_schema,
            schema_text: &base_file.text,
        },
        _ => {
            schema_change = Some(ProofSchemaChange {
                only_candidate: Vec::new(),
                only_baseline: Vec::new(),
                message: "the baseline has no schema: both sides are proven under the candidate's"
                    .to_string(),
            });
            Sided {
                policies: &baseline.policies.set,
                ..candidate_side
            }
        }
    };
    let prove_error = |e: crate::prove::ProveError| Error::Tool(format!("proofs: {e}"));
    let compared = prover
        .compare(baseline_side, candidate_side, cache)
        .map_err(prove_error)?;
    if let Some(timings) = options.timings {
        for (direction, results, cached) in [
            (
                "no new access",
                &compared.no_new_access,
                &compared.no_new_access_cached,
            ),
            (
                "no lost access",
                &compared.lost_access,
                &compared.lost_access_cached,
            ),
        ] {
            for (result, &cached) in results.iter().zip(cached) {
                if result.presence != EnvPresence::OtherSideOnly {
                    timings(&candidate.file.display, direction, result, cached);
                }
            }
        }
    }
    let gained = compared.no_new_access;
    let lost = compared.lost_access;
    if schema_change.is_none() && baseline_side.schema_text != candidate_side.schema_text {
        let only = |presence| -> Vec<String> {
            let mut labels: Vec<String> = gained
                .iter()
                .filter(|r| r.presence == presence)
                .map(|r| r.label.clone())
                .collect();
            labels.sort();
            labels
        };
        let only_candidate = only(EnvPresence::QuantifiedSideOnly);
        let only_baseline = only(EnvPresence::OtherSideOnly);
        let message = if only_candidate.is_empty() && only_baseline.is_empty() {
            "the schema changed; its request environments did not (each side is proven under its own schema)".to_string()
        } else {
            format!(
                "the schema change makes the request environments differ: {} only in the candidate's schema (any access the candidate allows there is new), {} only in the baseline's (nothing can be newly allowed there)",
                only_candidate.len(),
                only_baseline.len()
            )
        };
        schema_change = Some(ProofSchemaChange {
            only_candidate,
            only_baseline,
            message,
        });
    }
    let file = candidate.file.display.clone();
    let mut changes = Vec::new();
    let mut repro_number = 0;
    let mut views = |results: &[EnvResult], allowing: &Scenario, gained: bool| {
        let mut out = Vec::new();
        for result in results {
            let (quantified, other) = if gained {
                (Side::Candidate, Side::Baseline)
            } else {
                (Side::Baseline, Side::Candidate)
            };
            let mut proof = env_proof(result, Some((quantified, other)));
            match &result.verdict {
                Verdict::Proven => view.proven += 1,
                Verdict::Unknown { .. } => view.unknown += 1,
                Verdict::NotApplicable { .. } => {}
                Verdict::Refuted { counterexample } => {
                    view.refuted += 1;
                    let mut cex = counterexample_view(counterexample, allowing);
                    if gained && let Some(folder) = repro_dir {
                        repro_number += 1;
                        cex.repro = write_repro(
                            folder,
                            candidate,
                            baseline,
                            counterexample,
                            &cex,
                            repro_number,
                        );
                    }
                    changes.push(proof_change(&cex, &result.label, gained, &file));
                    proof.counterexample = Some(Box::new(cex));
                }
            }
            out.push(proof);
        }
        out
    };
    let no_new_access = views(&gained, candidate, true);
    let mut lost_access = views(&lost, baseline, false);
    // An environment only the candidate's schema has is listed once, under
    // no new access.
    lost_access.retain(|proof| proof.only_in != Some(Side::Candidate));
    Ok((
        ScenarioProofs {
            skipped: None,
            no_new_access,
            lost_access,
            schema_change,
        },
        changes,
    ))
}

fn proof_change(cex: &ProofCounterexample, env: &str, gained: bool, file: &str) -> Change {
    let ids: Vec<String> = cex.policies.iter().map(|p| format!("`{}`", p.id)).collect();
    let message = if gained {
        format!(
            "proof: in a world the schema allows, {} can {} on {} ({env}), granted by {}; the baseline denies it (counterexample confirmed by Cedar)",
            cex.principal,
            cex.action,
            cex.resource,
            ids.join(", ")
        )
    } else {
        format!(
            "proof: in a world the schema allows, {} could {} on {} ({env}) by {} with the baseline and no longer can (counterexample confirmed by Cedar)",
            cex.principal,
            cex.action,
            cex.resource,
            ids.join(", ")
        )
    };
    Change {
        kind: if gained {
            ChangeKind::NewAccessProven
        } else {
            ChangeKind::NarrowedProven
        },
        status: ChangeStatus::Info,
        principal: cex.principal.clone(),
        action: Some(cex.action.clone()),
        resource: Some(cex.resource.clone()),
        step: None,
        steps: Vec::new(),
        expected: false,
        time: None,
        policies: cex.policies.clone(),
        baseline: Some(if gained { "deny" } else { "allow" }.to_string()),
        candidate: Some(if gained { "allow" } else { "deny" }.to_string()),
        location: Some(
            cex.policies
                .iter()
                .find_map(|p| p.location.clone())
                .or_else(|| cex.repro.clone())
                .unwrap_or_else(|| format!("{file}:1")),
        ),
        message,
        exception: None,
        finding: None,
    }
}

/// Writes a self-contained repro folder `proofs/<scenario>-<n>/` into the
/// report folder: `repro.toml` (the counterexample's entities inline, one step
/// expecting `deny`), the candidate's policies as `candidate.cedar`, the
/// baseline's as `baseline.cedar`, and the schema. `privsim run` on it fails
/// with the candidate and passes with `--policies baseline.cedar`. Returns the
/// path written, relative to the report folder, or `None` when it could not
/// be written (the change still reports the counterexample).
fn write_repro(
    report_dir: &Path,
    candidate: &Scenario,
    baseline: &Scenario,
    counterexample: &crate::prove::Counterexample,
    cex: &ProofCounterexample,
    number: usize,
) -> Option<String> {
    let stem = Path::new(&candidate.file.display).file_stem().map_or_else(
        || "scenario".to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let relative = format!("proofs/{stem}-{number}");
    let folder = report_dir.join(&relative);
    let schema_text = schema_text(candidate)?;
    let text = repro_text(candidate, counterexample, cex).ok()?;
    std::fs::create_dir_all(&folder).ok()?;
    std::fs::write(folder.join("schema.cedarschema"), schema_text).ok()?;
    std::fs::write(
        folder.join("candidate.cedar"),
        policy_text(&candidate.policies.set)?,
    )
    .ok()?;
    std::fs::write(
        folder.join("baseline.cedar"),
        policy_text(&baseline.policies.set)?,
    )
    .ok()?;
    std::fs::write(folder.join("repro.toml"), text).ok()?;
    Some(format!("{relative}/repro.toml"))
}

/// The scenario's schema as the loader read it.
fn schema_text(scenario: &Scenario) -> Option<String> {
    scenario
        .schema_file
        .as_ref()
        .map(|file| file.text.to_string())
}

/// A policy set as Cedar text, template links made static, each policy with
/// an `@id` so the repro names them as the gate does.
fn policy_text(set: &PolicySet) -> Option<String> {
    let set = to_static_policy_set(set).ok()?;
    let mut policies: Vec<_> = set.policies().collect();
    policies.sort_by_key(|p| p.id().to_string());
    let mut out = String::new();
    for policy in policies {
        let id = policy.id().to_string();
        if policy.annotation("id") != Some(id.as_str()) {
            out.push_str(&format!("@id({})\n", serde_json::Value::String(id)));
        }
        out.push_str(&policy.to_string());
        out.push_str("\n\n");
    }
    Some(out)
}

/// The repro scenario's TOML.
fn repro_text(
    candidate: &Scenario,
    counterexample: &crate::prove::Counterexample,
    cex: &ProofCounterexample,
) -> Result<String, String> {
    use toml::{Table, Value};
    let to_toml = |json: &serde_json::Value| -> Result<Value, String> {
        Value::try_from(json).map_err(|e| e.to_string())
    };
    let mut scenario = Table::new();
    scenario.insert(
        "name".into(),
        Value::String(format!(
            "proof counterexample of {}: {} {} {}",
            candidate.name, cex.principal, cex.action, cex.resource
        )),
    );
    scenario.insert(
        "description".into(),
        Value::String(
            "Written by `privsim check`: the candidate allows this request, the baseline denies it. It fails until the change is fixed; `--policies baseline.cedar` passes."
                .into(),
        ),
    );
    scenario.insert(
        "policies".into(),
        Value::Array(vec![Value::String("candidate.cedar".into())]),
    );
    scenario.insert("schema".into(), Value::String("schema.cedarschema".into()));
    scenario.insert("start".into(), Value::String(candidate.start.to_string()));
    let mut document = Table::new();
    document.insert("scenario".into(), Value::Table(scenario));
    let entities = crate::prove::view::entity_tables(&counterexample.entities)?;
    if !entities.is_empty() {
        document.insert("entity".into(), Value::Array(entities));
    }
    let mut step = Table::new();
    step.insert("principal".into(), Value::String(cex.principal.clone()));
    step.insert("action".into(), Value::String(cex.action.clone()));
    step.insert("resource".into(), Value::String(cex.resource.clone()));
    if cex.context.as_object().is_some_and(|m| !m.is_empty()) {
        step.insert("context".into(), to_toml(&cex.context)?);
    }
    step.insert("expect".into(), Value::String("deny".into()));
    document.insert("step".into(), Value::Array(vec![Value::Table(step)]));
    let body = toml::to_string(&document).map_err(|e| e.to_string())?;
    Ok(format!(
        "# A counterexample of `privsim check`'s no-new-access proof, confirmed by Cedar.\n{body}"
    ))
}
