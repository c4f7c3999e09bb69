//! The proof cache for never-rule and hygiene proofs (`Prover::never_disjoint_cached`,
//! `Prover::hygiene_cached`): a warm cache answers every question without the
//! solver and with the verdicts a fresh proof gives; a change to one policy
//! asks again exactly the questions whose keys name it; damaged or tampered
//! entries are never trusted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{PolicySet, Schema};
use privsim::prove::*;

const SCHEMA: &str = r#"
entity Department;
entity User in [Department] { clearance: Long };
entity Document in [Department] { owner: User, public: Bool };
action read, write appliesTo { principal: [User], resource: [Document] };
action audit appliesTo { principal: [User], resource: [Department] };
"#;

/// Five permits and a forbid; `owner-read` may apply only to reads, the
/// forbid only to writes.
const POLICIES: &str = r#"
@id("owner-read")
permit(principal, action == Action::"read", resource) when { resource.owner == principal };
@id("dead")
permit(principal, action == Action::"read", resource) when { resource.public && !resource.public };
@id("alice-read")
permit(principal == User::"alice", action == Action::"read", resource) when { resource.owner == principal };
@id("overflow")
permit(principal, action == Action::"audit", resource) when { principal.clearance * 1000000000000 > 5 };
@id("hr-write")
permit(principal, action == Action::"write", resource in Department::"hr");
@id("no-hr-write")
forbid(principal, action == Action::"write", resource in Department::"hr");
"#;

fn schema() -> Schema {
    Schema::from_cedarschema_str(SCHEMA).unwrap().0
}

fn pset(text: &str) -> PolicySet {
    PolicySet::from_str(text).unwrap()
}

fn real_solver() -> PathBuf {
    let found = std::process::Command::new("sh")
        .args(["-c", "command -v \"${CVC5:-cvc5}\""])
        .output()
        .unwrap();
    let path = String::from_utf8(found.stdout).unwrap().trim().to_string();
    assert!(
        !path.is_empty(),
        "these tests need the cvc5 solver: run `apt-get install -y cvc5`"
    );
    PathBuf::from(path)
}

/// A prover whose solver is `path`.
fn prover_with(path: Option<PathBuf>) -> Prover {
    Prover::new(SolverConfig {
        path,
        per_query_ms: 20_000,
        ..Default::default()
    })
    .unwrap()
}

/// A stand-in for cvc5 that gives the real one's version (so cache keys are
/// the real one's) and fails every query: a verdict it decided would be
/// unknown.
fn refusing_solver(folder: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = folder.join("refusing-cvc5");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nif [ \"$1\" = \"--version\" ]; then exec '{}' --version; fi\nexit 1\n",
            real_solver().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A verdict as text, with the counterexample's request and its entities'
/// uids in a stable order (symcc renders entities in hash order).
fn shown(results: &[EnvResult]) -> Vec<String> {
    results
        .iter()
        .map(|r| match &r.verdict {
            Verdict::Refuted { counterexample } => {
                let mut uids: Vec<String> = counterexample
                    .entities
                    .iter()
                    .map(|e| e.uid().to_string())
                    .collect();
                uids.sort();
                format!("{}: refuted: {} {uids:?}", r.label, counterexample.request)
            }
            other => format!("{}: {other}", r.label),
        })
        .collect()
}

fn hygiene_shown(report: &[PolicyHygiene]) -> Vec<String> {
    report
        .iter()
        .flat_map(|h| {
            [
                (&h.never_applies, "never-applies"),
                (&h.redundant, "redundant"),
                (&h.never_grants, "never-grants"),
                (&h.never_errors, "never-errors"),
            ]
            .into_iter()
            .flat_map(move |(results, question)| {
                shown(results)
                    .into_iter()
                    .map(move |line| format!("{} {question} {line}", h.policy_id))
            })
        })
        .collect()
}

fn hygiene(prover: &Prover, policies: &str, cache: &ProofCache) -> Vec<String> {
    let (set, schema) = (pset(policies), schema());
    let side = Sided {
        policies: &set,
        schema: &schema,
        schema_text: SCHEMA,
    };
    hygiene_shown(&prover.hygiene_cached(side, Some(cache)).unwrap())
}

fn uncached_hygiene(prover: &Prover, policies: &str) -> Vec<String> {
    hygiene_shown(&prover.hygiene(&pset(policies), &schema()).unwrap())
}

#[test]
fn hygiene_verdicts_are_reused_and_a_change_asks_only_what_it_touches() {
    let folder = tempfile::tempdir().unwrap();
    let real = prover_with(None);
    let refusing = prover_with(Some(refusing_solver(folder.path())));
    let cache_folder = folder.path().join("cache");
    let fresh = uncached_hygiene(&real, POLICIES);
    // 3 environments; each permit asks 4 questions (never applies,
    // redundant, never grants, may error), the forbid 2.
    let (envs, permits, forbids) = (3, 5, 1);
    let questions = envs * (4 * permits + 2 * forbids);

    let cold = ProofCache::new(&cache_folder);
    assert_eq!(hygiene(&real, POLICIES, &cold), fresh);
    let stats = cold.stats();
    assert_eq!((stats.hits, stats.misses), (0, questions));
    assert!(stats.written > 0 && stats.written <= questions, "{stats:?}");

    // Warm: a solver that fails every query is never asked.
    let warm = ProofCache::new(&cache_folder);
    assert_eq!(hygiene(&refusing, POLICIES, &warm), fresh);
    assert_eq!(warm.stats().hits, stats.written);
    assert_eq!(warm.stats().rejected, 0);

    // One permit changed (`owner-read`, which only reads can match): its
    // own 4 questions in every environment, and the other permits'
    // redundancy in the one environment it may apply to.
    let changed = POLICIES.replace(
        "when { resource.owner == principal };\n@id(\"dead\")",
        "when { resource.public };\n@id(\"dead\")",
    );
    assert_ne!(changed, POLICIES);
    let after = ProofCache::new(&cache_folder);
    assert_eq!(
        hygiene(&real, &changed, &after),
        uncached_hygiene(&real, &changed)
    );
    let stats = after.stats();
    let asked = 4 * envs + (permits - 1);
    assert_eq!(stats.misses, asked, "{stats:?}");
    assert_eq!(stats.hits + stats.misses, questions, "{stats:?}");

    // The forbid changed (it matches writes only): its own 2 questions in
    // every environment, and every permit's never-grants for writes.
    let changed_forbid = POLICIES.replace(
        "forbid(principal, action == Action::\"write\", resource in Department::\"hr\");",
        "forbid(principal, action == Action::\"write\", resource in Department::\"hr\") when { principal.clearance < 3 };",
    );
    assert_ne!(changed_forbid, POLICIES);
    let after = ProofCache::new(&cache_folder);
    assert_eq!(
        hygiene(&real, &changed_forbid, &after),
        uncached_hygiene(&real, &changed_forbid)
    );
    assert_eq!(
        after.stats().misses,
        2 * envs + permits,
        "{:?}",
        after.stats()
    );
}

#[test]
fn never_rule_verdicts_are_reused_and_a_change_asks_only_its_environments() {
    let folder = tempfile::tempdir().unwrap();
    let real = prover_with(None);
    let refusing = prover_with(Some(refusing_solver(folder.path())));
    let cache_folder = folder.path().join("cache");
    // Nobody but an owner touches a document; nobody audits: refuted in
    // some environments, proven in others.
    let rule = r#"permit(principal, action, resource) when { !(resource has owner) || resource.owner != principal };"#;
    let never = |prover: &Prover, policies: &str, cache: Option<&ProofCache>| {
        let (set, schema) = (pset(policies), schema());
        let side = Sided {
            policies: &set,
            schema: &schema,
            schema_text: SCHEMA,
        };
        shown(
            &prover
                .never_disjoint_cached(side, rule, |_| true, cache)
                .unwrap(),
        )
    };
    let fresh = never(&real, POLICIES, None);
    assert!(fresh.iter().any(|v| v.contains("refuted")), "{fresh:#?}");
    assert!(fresh.iter().any(|v| v.contains(": proven")), "{fresh:#?}");
    let cold = ProofCache::new(&cache_folder);
    assert_eq!(never(&real, POLICIES, Some(&cold)), fresh);
    assert_eq!(cold.stats().misses, 3);
    let warm = ProofCache::new(&cache_folder);
    assert_eq!(never(&refusing, POLICIES, Some(&warm)), fresh);
    assert_eq!((warm.stats().hits, warm.stats().misses), (3, 0));

    // Changing the audit permit asks again in the audit environment only.
    let changed = POLICIES.replace("* 1000000000000 > 5", "> 5");
    assert_ne!(changed, POLICIES);
    let after = ProofCache::new(&cache_folder);
    assert_eq!(
        never(&real, &changed, Some(&after)),
        never(&real, &changed, None)
    );
    assert_eq!((after.stats().hits, after.stats().misses), (2, 1));
}

/// The cache's entries.
fn entries(folder: &Path) -> Vec<PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    found.sort();
    found
}

/// `text` with its `digest` recomputed, as a forger would.
fn resealed(value: &mut serde_json::Value) -> String {
    let fields = value.as_object_mut().unwrap();
    fields.shift_remove("digest");
    let digest = sha256_hex(serde_json::to_string(&value).unwrap().as_bytes());
    value
        .as_object_mut()
        .unwrap()
        .insert("digest".into(), serde_json::Value::String(digest));
    serde_json::to_string_pretty(&value).unwrap()
}

#[test]
fn a_tampered_never_rule_entry_is_not_trusted() {
    let folder = tempfile::tempdir().unwrap();
    let real = prover_with(None);
    let refusing = prover_with(Some(refusing_solver(folder.path())));
    let cache_folder = folder.path().join("cache");
    let rule = r#"permit(principal, action == Action::"write", resource in Department::"hr");"#;
    let policies = pset(POLICIES.replace("forbid(", "permit(").as_str());
    let schema = schema();
    let side = Sided {
        policies: &policies,
        schema: &schema,
        schema_text: SCHEMA,
    };
    let never = |prover: &Prover, cache: &ProofCache| {
        shown(
            &prover
                .never_disjoint_cached(side, rule, |_| true, Some(cache))
                .unwrap(),
        )
    };
    let fresh = never(&real, &ProofCache::new(&cache_folder));
    let stored = entries(&cache_folder);
    let refuted = stored
        .iter()
        .find(|p| std::fs::read_to_string(p).unwrap().contains("\"refuted\""))
        .unwrap_or_else(|| panic!("{fresh:#?}"));
    let original = std::fs::read_to_string(refuted).unwrap();
    let value: serde_json::Value = serde_json::from_str(&original).unwrap();

    // Each tampering alone: with a solver that refuses every query, a
    // rejected entry shows as an unknown verdict where the fresh run had a
    // refutation, and the cache counts it.
    let mut flipped = value.clone();
    let fields = flipped.as_object_mut().unwrap();
    fields.insert("verdict".into(), "proven".into());
    fields.shift_remove("request");
    fields.shift_remove("entities");
    let flipped_digest_kept = serde_json::to_string_pretty(&flipped).unwrap();
    let mut other_cex = value.clone();
    other_cex["request"]["action"] = "Action::\"read\"".into();
    let other_cex = resealed(&mut other_cex);
    let truncated = original[..original.len() / 2].to_string();
    for (name, text) in [
        ("refuted flipped to proven", flipped_digest_kept),
        ("another counterexample, digest recomputed", other_cex),
        ("truncated", truncated),
    ] {
        std::fs::write(refuted, &text).unwrap();
        let cache = ProofCache::new(&cache_folder);
        let verdicts = never(&refusing, &cache);
        assert_eq!(cache.stats().rejected, 1, "{name}");
        assert_ne!(verdicts, fresh, "{name}: the tampered entry was trusted");
        assert!(
            verdicts.iter().any(|v| v.contains("unknown")),
            "{name}: {verdicts:#?}"
        );
        // The real solver proves it anew and replaces the entry.
        let cache = ProofCache::new(&cache_folder);
        assert_eq!(never(&real, &cache), fresh, "{name}");
        assert_eq!(cache.stats().rejected, 1, "{name}");
        assert!(
            std::fs::read_to_string(refuted)
                .unwrap()
                .contains("\"refuted\""),
            "{name}"
        );
        let cache = ProofCache::new(&cache_folder);
        assert_eq!(never(&refusing, &cache), fresh, "{name}: rewritten");
        assert_eq!(cache.stats().rejected, 0, "{name}: rewritten");
    }
}
