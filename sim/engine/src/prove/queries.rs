//! The questions, per request environment of the schema: each policy set is
//! made static (template links become policies), compiled for the
//! environment, handed to the solver, and every counterexample confirmed.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use cedar_policy::{Decision, Effect, Policy, PolicySet, RequestEnv, Schema};
use cedar_policy_symcc::{CompiledPolicy, CompiledPolicySet};

use cedar_policy_symcc::Env as SymCex;

use super::cache::{ProofCache, cache_key, canonical_entries, canonical_policy_text};
use super::confirm::{confirm, decide, expect_decision, from_answer, unsupported};
use super::solver::{Query, sym_err_text};
use super::{
    Comparison, EnvPresence, EnvResult, PolicyHygiene, ProveError, Prover, Sided, UnknownReason,
    Verdict,
};

/// What a cached verdict's key is made of besides the policies and the
/// environment.
struct Keying<'a> {
    cache: &'a ProofCache,
    /// `no-new-access` or `lost-access`.
    query: &'static str,
    /// The schema texts: the quantified side's first.
    schemas: [&'a str; 2],
}

/// What every cache key of one never-rule or hygiene call shares: the cache,
/// the solver's version, its time limit and the schema's text.
#[derive(Clone, Copy)]
struct Keyed<'a> {
    cache: &'a ProofCache,
    solver: &'a str,
    per_query_ms: u64,
    schema_text: &'a str,
}

impl<'a> Keyed<'a> {
    /// The cache and the key of `question` about `policy_texts` in `env`.
    fn key(
        &self,
        question: &str,
        policy_texts: &[&str],
        env: &RequestEnv,
    ) -> (&'a ProofCache, String) {
        let query = format!(
            "{question};solver={};per-query-ms={}",
            self.solver, self.per_query_ms
        );
        (
            self.cache,
            cache_key(&query, policy_texts, self.schema_text, Some(env)),
        )
    }
}

/// Whether `policy` can match a request of `env`, judged by its scope alone
/// and conservatively: `false` only when its scope names another action, or
/// another principal or resource type. A policy that cannot match compiles
/// to nothing for `env`, so it is left out of `env`'s cache keys: changing
/// it leaves `env`'s verdicts as they were.
fn may_apply(policy: &Policy, env: &RequestEnv) -> bool {
    use cedar_policy::{ActionConstraint, PrincipalConstraint, ResourceConstraint};
    let action = match policy.action_constraint() {
        ActionConstraint::Eq(action) => action == *env.action(),
        ActionConstraint::Any | ActionConstraint::In(_) => true,
    };
    let principal = match policy.principal_constraint() {
        PrincipalConstraint::Eq(uid) => uid.type_name() == env.principal(),
        PrincipalConstraint::Is(name) | PrincipalConstraint::IsIn(name, _) => {
            name == *env.principal()
        }
        PrincipalConstraint::Any | PrincipalConstraint::In(_) => true,
    };
    let resource = match policy.resource_constraint() {
        ResourceConstraint::Eq(uid) => uid.type_name() == env.resource(),
        ResourceConstraint::Is(name) | ResourceConstraint::IsIn(name, _) => name == *env.resource(),
        ResourceConstraint::Any | ResourceConstraint::In(_) => true,
    };
    action && principal && resource
}

/// Each policy of a static set with its canonical text, in id order.
fn canonical_parts(stat: &PolicySet) -> Result<Vec<(Policy, String)>, ProveError> {
    let entries = canonical_entries(stat)?;
    let mut parts: Vec<(Policy, String)> = stat
        .policies()
        .map(|p| {
            let text = entries
                .get(&p.id().to_string())
                .cloned()
                .unwrap_or_default();
            (p.clone(), text)
        })
        .collect();
    parts.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(parts)
}

/// One question through the cache: a stored verdict, re-confirmed with
/// `check` as a fresh counterexample is, else `solve`'s (stored when
/// definite). Without a key, `solve` alone.
fn through_cache(
    key: Option<(&ProofCache, String)>,
    env: &RequestEnv,
    schema: &Schema,
    check: &dyn Fn(SymCex) -> Verdict,
    solve: impl FnOnce() -> Verdict,
) -> Verdict {
    if let Some((cache, key)) = &key
        && let Some(verdict) = cache.load(key, env, schema, check)
    {
        return verdict;
    }
    let verdict = solve();
    if let Some((cache, key)) = &key {
        cache.store(key, env, &verdict);
    }
    verdict
}

/// Returns a policy set of static policies only: static policies are kept,
/// each template-linked policy becomes a static policy with the link's id,
/// templates are dropped. symcc requires this.
pub fn to_static_policy_set(ps: &PolicySet) -> Result<PolicySet, ProveError> {
    let mut out = PolicySet::new();
    for p in ps.policies() {
        let stat = if p.is_static() {
            p.clone()
        } else {
            let link_err = |reason: String| ProveError::Link {
                id: p.id().to_string(),
                reason,
            };
            let json = p.to_json().map_err(|e| link_err(e.to_string()))?;
            Policy::from_json(Some(p.id().clone()), json).map_err(|e| link_err(e.to_string()))?
        };
        out.add(stat)
            .map_err(|e| ProveError::Policy(e.to_string()))?;
    }
    Ok(out)
}

/// Stable label of an env: `Principal / Action::"a" / Resource`.
pub fn env_label(env: &RequestEnv) -> String {
    format!(
        "{} / {} / {}",
        env.principal(),
        env.action(),
        env.resource()
    )
}

/// The schema's envs in a stable order (`Schema::request_envs` iterates in
/// hash order, which differs between runs).
pub fn sorted_envs(schema: &Schema) -> Vec<RequestEnv> {
    let mut envs: Vec<RequestEnv> = schema.request_envs().collect();
    envs.sort_by_cached_key(env_key);
    envs
}

fn env_key(env: &RequestEnv) -> (String, String, String) {
    (
        env.principal().to_string(),
        env.action().to_string(),
        env.resource().to_string(),
    )
}

/// Static policy set restricted to the policies with the given ids.
fn subset(ps: &PolicySet, keep: impl Fn(&Policy) -> bool) -> PolicySet {
    let mut out = PolicySet::new();
    for p in ps.policies().filter(|p| keep(p)) {
        // ids are unique in `ps`, so adding cannot fail
        let _ = out.add(p.clone());
    }
    out
}

/// The part of `ps` that typechecks for `env` under a schema that is not its
/// own (cross-schema comparisons, where `ps` is the side that must allow).
/// A permit that does not typecheck is dropped: the remaining set allows
/// less, so a proof stays sound, and a refutation is still confirmed against
/// the original set (an unreproduced one becomes `NotConfirmed`). A forbid
/// that does not typecheck cannot be dropped soundly: `Unknown`.
fn typecheckable_part(
    ps: &PolicySet,
    env: &RequestEnv,
    schema: &Schema,
    side: &str,
) -> Result<PolicySet, Verdict> {
    let mut out = PolicySet::new();
    for p in ps.policies() {
        match CompiledPolicy::compile(p, env, schema) {
            Ok(_) => {
                let _ = out.add(p.clone());
            }
            Err(_) if p.effect() == Effect::Permit => {}
            Err(e) => {
                return Err(Verdict::Unknown {
                    reason: UnknownReason::Unsupported(format!(
                        "{side}: forbid `{}` does not typecheck against the other schema: {}",
                        p.id(),
                        sym_err_text(&e)
                    )),
                });
            }
        }
    }
    Ok(out)
}

impl Prover {
    // ---------------------------------------------------------------- implies

    /// No new access: every request the `candidate` allows, the `baseline`
    /// allows too (`check_implies(candidate, baseline)`), per env of `schema`.
    /// Refuted = a confirmed request the candidate allows and the baseline
    /// denies.
    pub fn no_new_access(
        &self,
        baseline: &PolicySet,
        candidate: &PolicySet,
        schema: &Schema,
    ) -> Result<Vec<EnvResult>, ProveError> {
        self.subset_across(
            (candidate, schema, "candidate"),
            (baseline, schema, "baseline"),
        )
    }

    /// Lost access (reverse direction): every request the `baseline` allows,
    /// the `candidate` allows too (`check_implies(baseline, candidate)`).
    /// Refuted = a confirmed request the baseline allows and the candidate no
    /// longer allows.
    pub fn lost_access(
        &self,
        baseline: &PolicySet,
        candidate: &PolicySet,
        schema: &Schema,
    ) -> Result<Vec<EnvResult>, ProveError> {
        self.subset_across(
            (baseline, schema, "baseline"),
            (candidate, schema, "candidate"),
        )
    }

    /// A suggestion allows nothing the original does not
    /// (`check_implies(suggested, original)`); same as
    /// `no_new_access(original, suggested, schema)`.
    pub fn implies(
        &self,
        original: &PolicySet,
        suggested: &PolicySet,
        schema: &Schema,
    ) -> Result<Vec<EnvResult>, ProveError> {
        self.subset_across(
            (suggested, schema, "suggested"),
            (original, schema, "original"),
        )
    }

    /// [`Prover::no_new_access`] when the baseline and candidate have
    /// different schemas.
    ///
    /// symcc's `check_implies` needs both policy sets compiled for one
    /// `SymEnv` (one set of entity/attribute declarations), so the two sides
    /// cannot each be compiled against their own schema and then compared.
    /// Instead we quantify over the requests that matter — those valid under
    /// the candidate schema — and compile **both** policy sets against the
    /// candidate schema, env by env:
    /// * env in both schemas: `check_implies(candidate, baseline)`, both
    ///   compiled against the candidate schema. Baseline permits that do not
    ///   typecheck there (they name a removed action/type/attribute) are
    ///   left out, which only makes the proof obligation stronger; a baseline
    ///   forbid that does not typecheck makes the env `Unknown(Unsupported)`;
    /// * env only in the candidate schema ([`EnvPresence::QuantifiedSideOnly`]):
    ///   the baseline had no valid request of this shape, so any request the
    ///   candidate allows there is new access: `check_always_denies(candidate)`;
    ///   a counterexample is confirmed by the candidate allowing it;
    /// * env only in the baseline schema ([`EnvPresence::OtherSideOnly`]):
    ///   `NotApplicable` (nothing can be newly allowed there).
    pub fn no_new_access_across(
        &self,
        baseline: &PolicySet,
        baseline_schema: &Schema,
        candidate: &PolicySet,
        candidate_schema: &Schema,
    ) -> Result<Vec<EnvResult>, ProveError> {
        self.subset_across(
            (candidate, candidate_schema, "candidate"),
            (baseline, baseline_schema, "baseline"),
        )
    }

    /// Reverse of [`Prover::no_new_access_across`]: quantifies over the
    /// baseline schema's requests, compiling both sides against it.
    pub fn lost_access_across(
        &self,
        baseline: &PolicySet,
        baseline_schema: &Schema,
        candidate: &PolicySet,
        candidate_schema: &Schema,
    ) -> Result<Vec<EnvResult>, ProveError> {
        self.subset_across(
            (baseline, baseline_schema, "baseline"),
            (candidate, candidate_schema, "candidate"),
        )
    }

    /// Both directions of a change, each side quantified under its own
    /// schema ([`Prover::no_new_access_across`], [`Prover::lost_access_across`];
    /// when the two schema texts are equal, one schema serves both, as
    /// [`Prover::no_new_access`] does). With a cache, a verdict whose key
    /// ([`cache_key`]: the question, both policy sets, both schema texts, the
    /// environment, the solver and its time limit) is stored costs no solver
    /// call, and every definite verdict found is stored.
    pub fn compare(
        &self,
        baseline: Sided<'_>,
        candidate: Sided<'_>,
        cache: Option<&ProofCache>,
    ) -> Result<Comparison, ProveError> {
        let same = baseline.schema_text == candidate.schema_text;
        let base_schema = if same {
            candidate.schema
        } else {
            baseline.schema
        };
        let keying = |query: &'static str, sub: &'static str| {
            cache.map(|cache| Keying {
                cache,
                query,
                schemas: if sub == "candidate" {
                    [candidate.schema_text, baseline.schema_text]
                } else {
                    [baseline.schema_text, candidate.schema_text]
                },
            })
        };
        let (no_new_access, no_new_access_cached) = self.subset_keyed(
            (candidate.policies, candidate.schema, "candidate"),
            (baseline.policies, base_schema, "baseline"),
            keying("no-new-access", "candidate"),
        )?;
        let (lost_access, lost_access_cached) = self.subset_keyed(
            (baseline.policies, base_schema, "baseline"),
            (candidate.policies, candidate.schema, "candidate"),
            keying("lost-access", "baseline"),
        )?;
        Ok(Comparison {
            no_new_access,
            lost_access,
            no_new_access_cached,
            lost_access_cached,
        })
    }

    /// Proves `sub ⊆ sup` (everything `sub` allows, `sup` allows), quantifying
    /// over `sub`'s schema and compiling both sides against it.
    fn subset_across(
        &self,
        sub: (&PolicySet, &Schema, &str),
        sup: (&PolicySet, &Schema, &str),
    ) -> Result<Vec<EnvResult>, ProveError> {
        self.subset_keyed(sub, sup, None)
            .map(|(results, _)| results)
    }

    /// [`Prover::subset_across`], through the cache when `keying` has one;
    /// also says per result whether it came from the cache.
    fn subset_keyed(
        &self,
        (sub, sub_schema, sub_name): (&PolicySet, &Schema, &str),
        (sup, sup_schema, sup_name): (&PolicySet, &Schema, &str),
        keying: Option<Keying<'_>>,
    ) -> Result<(Vec<EnvResult>, Vec<bool>), ProveError> {
        let sub_static = to_static_policy_set(sub)?;
        let sup_static = to_static_policy_set(sup)?;
        let sup_envs: HashSet<_> = sup_schema.request_envs().map(|e| env_key(&e)).collect();
        let sub_envs = sorted_envs(sub_schema);
        let sub_keys: HashSet<_> = sub_envs.iter().map(env_key).collect();
        // `sup` is compiled against `sub`'s schema; when that is not its own
        // schema, some of its policies may not typecheck there.
        let foreign = !std::ptr::eq(sub_schema, sup_schema);
        // What a key is made of, but the environment: computed once.
        let keyed = match &keying {
            Some(keying) => {
                let query = format!(
                    "{};{sub_name}<={sup_name};foreign={foreign};solver={};per-query-ms={}",
                    keying.query,
                    self.solver_version(),
                    self.per_query_ms()
                );
                let policies = [canonical_policy_text(sub)?, canonical_policy_text(sup)?];
                let [first, second] = keying.schemas;
                let schemas = format!("{}\n{first}{second}", first.len());
                Some((keying.cache, query, policies, schemas))
            }
            None => None,
        };
        let check = |cex: SymCex, in_sup: bool| {
            if in_sup {
                confirm(cex, sub_schema, |a, cex| {
                    expect_decision(a, cex, sub, sub_name, Decision::Allow)?;
                    expect_decision(a, cex, sup, sup_name, Decision::Deny)
                })
            } else {
                confirm(cex, sub_schema, |a, cex| {
                    expect_decision(a, cex, sub, sub_name, Decision::Allow)
                })
            }
        };

        let rows = self.run(&sub_envs, |s, env| {
            let start = Instant::now();
            let in_sup = sup_envs.contains(&env_key(env));
            let key = keyed.as_ref().map(|(cache, query, policies, schemas)| {
                let key = cache_key(query, &[&policies[0], &policies[1]], schemas, Some(env));
                (*cache, key)
            });
            let cached = key.as_ref().and_then(|(cache, key)| {
                cache.load(key, env, sub_schema, |cex| check(cex, in_sup))
            });
            let from_cache = cached.is_some();
            let verdict = cached.unwrap_or_else(|| {
                let verdict = (|| {
                    let c_sub = match CompiledPolicySet::compile(&sub_static, env, sub_schema) {
                        Ok(c) => c,
                        Err(e) => return unsupported(sub_name, &e),
                    };
                    if in_sup {
                        let sup_env = if foreign {
                            match typecheckable_part(&sup_static, env, sub_schema, sup_name) {
                                Ok(ps) => ps,
                                Err(v) => return v,
                            }
                        } else {
                            sup_static.clone()
                        };
                        let c_sup = match CompiledPolicySet::compile(&sup_env, env, sub_schema) {
                            Ok(c) => c,
                            Err(e) => return unsupported(sup_name, &e),
                        };
                        from_answer(s.query(Query::Implies(&c_sub, &c_sup)), |cex| {
                            check(cex, true)
                        })
                    } else {
                        from_answer(s.query(Query::AlwaysDenies(&c_sub)), |cex| {
                            check(cex, false)
                        })
                    }
                })();
                if let Some((cache, key)) = &key {
                    cache.store(key, env, &verdict);
                }
                verdict
            });
            let result = EnvResult {
                label: env_label(env),
                env: env.clone(),
                verdict,
                elapsed: start.elapsed(),
                presence: if in_sup {
                    EnvPresence::Both
                } else {
                    EnvPresence::QuantifiedSideOnly
                },
            };
            (result, from_cache)
        })?;
        let (mut results, mut cached): (Vec<EnvResult>, Vec<bool>) = rows.into_iter().unzip();
        for env in sorted_envs(sup_schema) {
            if !sub_keys.contains(&env_key(&env)) {
                results.push(EnvResult {
                    label: env_label(&env),
                    verdict: Verdict::NotApplicable {
                        note: format!("env exists only in the {sup_name} schema"),
                    },
                    env,
                    elapsed: Duration::ZERO,
                    presence: EnvPresence::OtherSideOnly,
                });
                cached.push(false);
            }
        }
        Ok((results, cached))
    }

    // --------------------------------------------------------------- disjoint

    /// Proves that nothing `policies` allow matches a "never" rule, given as
    /// Cedar `permit` policy text (one or more permits describing the
    /// forbidden principal/action/resource/condition), with
    /// `check_disjoint(policies, never)`. Refuted = a confirmed request both
    /// the policies and the never rule allow.
    pub fn never_disjoint(
        &self,
        policies: &PolicySet,
        schema: &Schema,
        never_rule: &str,
    ) -> Result<Vec<EnvResult>, ProveError> {
        self.never_disjoint_where(policies, schema, never_rule, |_| true)
    }

    /// [`Prover::never_disjoint`] over the environments `keep` accepts only
    /// (those a rule's scope can match: elsewhere it allows nothing, so it is
    /// disjoint from anything without asking).
    pub fn never_disjoint_where(
        &self,
        policies: &PolicySet,
        schema: &Schema,
        never_rule: &str,
        keep: impl Fn(&RequestEnv) -> bool,
    ) -> Result<Vec<EnvResult>, ProveError> {
        let side = Sided {
            policies,
            schema,
            schema_text: "",
        };
        self.never_disjoint_cached(side, never_rule, keep, None)
    }

    /// [`Prover::never_disjoint_where`], through the cache when there is
    /// one: a verdict is keyed by the policies and the rule as compiled, the
    /// schema's text, the environment, the solver and its time limit.
    pub fn never_disjoint_cached(
        &self,
        side: Sided<'_>,
        never_rule: &str,
        keep: impl Fn(&RequestEnv) -> bool,
        cache: Option<&ProofCache>,
    ) -> Result<Vec<EnvResult>, ProveError> {
        let Sided {
            policies, schema, ..
        } = side;
        let never: PolicySet = never_rule
            .parse()
            .map_err(|e| ProveError::Policy(format!("never rule: {e}")))?;
        if never.policies().next().is_none() {
            return Err(ProveError::Policy("never rule: no policy given".into()));
        }
        if never.policies().any(|p| p.effect() != Effect::Permit)
            || never.templates().next().is_some()
        {
            return Err(ProveError::Policy(
                "never rule: give the forbidden requests as static `permit` policies".into(),
            ));
        }
        let stat = to_static_policy_set(policies)?;
        let keyed = self.keyed(cache, side.schema_text);
        // Each policy's canonical text, and the rule's.
        let (texts, never_text) = match keyed {
            Some(_) => (canonical_parts(&stat)?, canonical_policy_text(&never)?),
            None => Default::default(),
        };
        let mut envs = sorted_envs(schema);
        envs.retain(|env| keep(env));
        self.run(&envs, |s, env| {
            let start = Instant::now();
            // Keyed by the policies that may apply in this environment and
            // the rule: a change elsewhere leaves the verdict as it was.
            let key = keyed.map(|k| {
                let mut parts: Vec<&str> = texts
                    .iter()
                    .filter(|(p, _)| may_apply(p, env))
                    .map(|(_, text)| text.as_str())
                    .collect();
                parts.push(&never_text);
                k.key("never-disjoint", &parts, env)
            });
            let check = |cex| {
                confirm(cex, schema, |a, cex| {
                    expect_decision(a, cex, policies, "policies", Decision::Allow)?;
                    expect_decision(a, cex, &never, "never rule", Decision::Allow)
                })
            };
            let verdict = through_cache(key, env, schema, &check, || {
                let c = match CompiledPolicySet::compile(&stat, env, schema) {
                    Ok(c) => c,
                    Err(e) => return unsupported("policies", &e),
                };
                let n = match CompiledPolicySet::compile(&never, env, schema) {
                    Ok(c) => c,
                    Err(e) => return unsupported("never rule", &e),
                };
                from_answer(s.query(Query::Disjoint(&c, &n)), check)
            });
            EnvResult {
                label: env_label(env),
                env: env.clone(),
                verdict,
                elapsed: start.elapsed(),
                presence: EnvPresence::Both,
            }
        })
    }

    /// What every cache key of one call shares, when there is a cache.
    fn keyed<'a>(
        &'a self,
        cache: Option<&'a ProofCache>,
        schema_text: &'a str,
    ) -> Option<Keyed<'a>> {
        cache.map(|cache| Keyed {
            cache,
            solver: self.solver_version(),
            per_query_ms: self.per_query_ms(),
            schema_text,
        })
    }

    // ---------------------------------------------------------------- hygiene

    /// Per-policy hygiene: never applies, redundant permit, permit that can
    /// never grant (overridden by forbids), may error at runtime.
    pub fn hygiene(
        &self,
        policies: &PolicySet,
        schema: &Schema,
    ) -> Result<Vec<PolicyHygiene>, ProveError> {
        let side = Sided {
            policies,
            schema,
            schema_text: "",
        };
        self.hygiene_cached(side, None)
    }

    /// [`Prover::hygiene`], through the cache when there is one. Each
    /// question is keyed by exactly the policies that decide it, besides
    /// the schema's text, the environment, the solver and its time limit:
    /// never applies and may error by the policy alone, redundant by the
    /// policy and the other permits, never grants by the policy and the
    /// forbids. Changing one permit thus asks again only its own questions
    /// and the other permits' redundancy; changing a forbid, its own and
    /// every permit's never-grants.
    pub fn hygiene_cached(
        &self,
        side: Sided<'_>,
        cache: Option<&ProofCache>,
    ) -> Result<Vec<PolicyHygiene>, ProveError> {
        let Sided {
            policies, schema, ..
        } = side;
        let stat = to_static_policy_set(policies)?;
        let mut pols: Vec<Policy> = stat.policies().cloned().collect();
        pols.sort_by_key(|p| p.id().to_string());
        let envs = sorted_envs(schema);
        let items: Vec<(usize, usize)> = (0..pols.len())
            .flat_map(|p| (0..envs.len()).map(move |e| (p, e)))
            .collect();
        let keyed = self.keyed(cache, side.schema_text);
        // Each policy's canonical text, in `pols`' order.
        let texts: Vec<String> = match keyed {
            Some(_) => {
                let entries = canonical_entries(&stat)?;
                pols.iter()
                    .map(|p| {
                        entries
                            .get(&p.id().to_string())
                            .cloned()
                            .unwrap_or_default()
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        // A key's policy parts: the canonical text of `pols[own]`, then
        // those of the other policies of effect `keep` that may apply in
        // `env`.
        let key_parts = |own: usize, env: &RequestEnv, keep: Effect| -> Vec<&str> {
            let mut parts = vec![texts.get(own).map_or("", String::as_str)];
            parts.extend(
                pols.iter()
                    .zip(&texts)
                    .enumerate()
                    .filter(|&(i, (q, _))| i != own && q.effect() == keep && may_apply(q, env))
                    .map(|(_, (_, text))| text.as_str()),
            );
            parts
        };

        type Row = (Verdict, Option<Verdict>, Option<Verdict>, Verdict, Duration);
        let rows: Vec<Row> = self.run(&items, |s, &(pi, ei)| {
            let start = Instant::now();
            let p = &pols[pi];
            let id = p.id();
            let env = &envs[ei];
            let key = |question: &str, parts: &[&str]| keyed.map(|k| k.key(question, parts, env));
            let own = texts.get(pi).map_or("", String::as_str);
            let single = subset(&stat, |q| q.id() == id);
            let is_permit = p.effect() == Effect::Permit;
            // Compiled only when a question is not answered by the cache.
            let compiled = std::cell::OnceCell::new();
            let compiled = || {
                compiled.get_or_init(|| {
                    CompiledPolicy::compile(p, env, schema).map_err(|e| unsupported("policy", &e))
                })
            };
            // never applies
            let matches = |cex| {
                confirm(cex, schema, |a, cex| {
                    let resp = decide(a, cex, &single);
                    if resp.diagnostics().reason().any(|r| r == id) {
                        Ok(())
                    } else {
                        Err(format!("policy `{id}` did not match"))
                    }
                })
            };
            let never_applies = through_cache(
                key("never-applies", &[own]),
                env,
                schema,
                &matches,
                || match compiled() {
                    Err(v) => v.clone(),
                    Ok(cp) => from_answer(s.query(Query::NeverMatches(cp)), matches),
                },
            );
            // never errors
            let errs = |cex| {
                confirm(cex, schema, |a, cex| {
                    if decide(a, cex, &single)
                        .diagnostics()
                        .errors()
                        .next()
                        .is_some()
                    {
                        Ok(())
                    } else {
                        Err(format!("policy `{id}` evaluated without error"))
                    }
                })
            };
            let never_errors = through_cache(
                key("never-errors", &[own]),
                env,
                schema,
                &errs,
                || match compiled() {
                    Err(v) => v.clone(),
                    Ok(cp) => from_answer(s.query(Query::NeverErrors(cp)), errs),
                },
            );
            let (redundant, never_grants) = if is_permit {
                let others = subset(&stat, |q| q.id() != id && q.effect() == Effect::Permit);
                let implied = |cex| {
                    confirm(cex, schema, |a, cex| {
                        expect_decision(a, cex, &single, "policy", Decision::Allow)?;
                        expect_decision(a, cex, &others, "other permits", Decision::Deny)
                    })
                };
                let redundant = if others.policies().next().is_none() {
                    match compiled() {
                        Err(v) => v.clone(),
                        Ok(_) => Verdict::NotApplicable {
                            note: "no other permit".into(),
                        },
                    }
                } else {
                    through_cache(
                        key("redundant", &key_parts(pi, env, Effect::Permit)),
                        env,
                        schema,
                        &implied,
                        || match compiled() {
                            Err(v) => v.clone(),
                            Ok(cp) => {
                                let cp_set = cp.clone().into_compiled_policyset();
                                match CompiledPolicySet::compile(&others, env, schema) {
                                    Err(e) => unsupported("other permits", &e),
                                    Ok(c_others) => from_answer(
                                        s.query(Query::Implies(&cp_set, &c_others)),
                                        implied,
                                    ),
                                }
                            }
                        },
                    )
                };
                let with_forbids = subset(&stat, |q| q.id() == id || q.effect() == Effect::Forbid);
                let grants = |cex| {
                    confirm(cex, schema, |a, cex| {
                        expect_decision(
                            a,
                            cex,
                            &with_forbids,
                            "policy with forbids",
                            Decision::Allow,
                        )
                    })
                };
                let never_grants = through_cache(
                    key("never-grants", &key_parts(pi, env, Effect::Forbid)),
                    env,
                    schema,
                    &grants,
                    || match compiled() {
                        Err(v) => v.clone(),
                        Ok(_) => match CompiledPolicySet::compile(&with_forbids, env, schema) {
                            Err(e) => unsupported("policy with forbids", &e),
                            Ok(c) => from_answer(s.query(Query::AlwaysDenies(&c)), grants),
                        },
                    },
                );
                (Some(redundant), Some(never_grants))
            } else {
                (None, None)
            };
            (
                never_applies,
                redundant,
                never_grants,
                never_errors,
                start.elapsed(),
            )
        })?;

        let mut out: Vec<PolicyHygiene> = pols
            .iter()
            .map(|p| PolicyHygiene {
                policy_id: p.id().to_string(),
                effect: p.effect(),
                never_applies: vec![],
                redundant: vec![],
                never_grants: vec![],
                never_errors: vec![],
            })
            .collect();
        for (&(pi, ei), (na, red, ng, ne, elapsed)) in items.iter().zip(rows) {
            let env = &envs[ei];
            let mk = |verdict: Verdict| EnvResult {
                env: env.clone(),
                label: env_label(env),
                verdict,
                elapsed,
                presence: EnvPresence::Both,
            };
            let h = &mut out[pi];
            h.never_applies.push(mk(na));
            if let Some(v) = red {
                h.redundant.push(mk(v));
            }
            if let Some(v) = ng {
                h.never_grants.push(mk(v));
            }
            h.never_errors.push(mk(ne));
        }
        Ok(out)
    }
}
