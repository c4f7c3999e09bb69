//! Proofs with the real solver (`privsim::prove`): no new access refuted with
//! a counterexample Cedar confirms, narrowing, unchanged sets, parallel
//! workers, never rules, suggestions, template links, hygiene, unsupported
//! input, schema changes, cache keys, a property test against brute-force
//! enumeration, time limits, broken solvers. They need cvc5 (`$CVC5` or
//! `PATH`) and fail, saying how to install it, when it is missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Instant;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityUid, PolicyId, PolicySet, Request,
    RestrictedExpression, Schema, SlotId,
};
use privsim::prove::*;

const SCHEMA: &str = r#"
entity Department;
entity User in [Department] { clearance: Long };
entity Document in [Department] { owner: User, public: Bool };
action read, write appliesTo { principal: [User], resource: [Document] };
action audit appliesTo { principal: [User], resource: [Department] };
"#;

const BASELINE: &str = r#"
@id("owner-read")
permit(principal, action == Action::"read", resource) when { resource.owner == principal };
@id("public-read")
permit(principal, action == Action::"read", resource) when { resource.public };
@id("owner-write")
permit(principal, action == Action::"write", resource) when { resource.owner == principal };
@id("auditors")
permit(principal in Department::"audit", action == Action::"audit", resource);
"#;

const FINANCE_READ: &str = r#"
permit(principal, action == Action::"read", resource in Department::"finance");
"#;

fn schema() -> Schema {
    Schema::from_cedarschema_str(SCHEMA).expect("schema").0
}

fn pset(src: &str) -> PolicySet {
    PolicySet::from_str(src).expect("policies")
}

fn prover() -> Prover {
    Prover::new(SolverConfig {
        per_query_ms: 20_000,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("these tests need the cvc5 solver: run `apt-get install -y cvc5` (or `cargo xtask test`, which installs it), or set $CVC5 to its path: {e}"))
}

fn show(name: &str, results: &[EnvResult]) {
    for r in results {
        eprintln!(
            "[{name}] {:<45} {:>8.1} ms  {}",
            r.label,
            r.elapsed.as_secs_f64() * 1000.0,
            match &r.verdict {
                Verdict::Refuted { counterexample } => format!(
                    "refuted: {}",
                    counterexample.rendered.lines().next().unwrap_or("")
                ),
                v => v.to_string(),
            }
        );
    }
}

fn by_action<'a>(results: &'a [EnvResult], action: &str) -> &'a EnvResult {
    let want = format!("Action::\"{action}\"");
    results
        .iter()
        .find(|r| r.env.action().to_string() == want)
        .unwrap_or_else(|| panic!("no env for {action}"))
}

fn decision(ps: &PolicySet, cex: &Counterexample) -> Decision {
    Authorizer::new()
        .is_authorized(&cex.request, ps, &cex.entities)
        .decision()
}

#[test]
fn solver_is_detected() {
    let p = prover();
    eprintln!(
        "solver {} ({})",
        p.solver_path().display(),
        p.solver_version()
    );
    assert!(p.solver_version().contains("cvc5"));
}

#[test]
fn adding_finance_permit_is_refuted_with_confirmed_counterexample() {
    let p = prover();
    let s = schema();
    let baseline = pset(BASELINE);
    let candidate = pset(&format!("{BASELINE}\n{FINANCE_READ}"));
    let t = Instant::now();
    let res = p.no_new_access(&baseline, &candidate, &s).unwrap();
    eprintln!("no_new_access total {:?}", t.elapsed());
    show("adds-access", &res);
    assert_eq!(res.len(), 3, "read, write, audit");
    let read = by_action(&res, "read");
    let cex = read
        .verdict
        .counterexample()
        .unwrap_or_else(|| panic!("read must be refuted: {}", read.verdict));
    // independent confirmation
    assert_eq!(decision(&candidate, cex), Decision::Allow);
    assert_eq!(decision(&baseline, cex), Decision::Deny);
    // the witness document is in Department::"finance"
    let resource = cex.request.resource().expect("concrete resource").clone();
    let finance = EntityUid::from_str(r#"Department::"finance""#).unwrap();
    let ancestors: HashSet<EntityUid> = cex
        .entities
        .ancestors(&resource)
        .expect("resource entity present")
        .cloned()
        .collect();
    assert!(ancestors.contains(&finance), "{cex}");
    assert!(by_action(&res, "write").verdict.is_proven());
    assert!(by_action(&res, "audit").verdict.is_proven());
}

#[test]
fn narrowing_is_proven_and_reverse_is_refuted() {
    let p = prover();
    let s = schema();
    let baseline = pset(BASELINE);
    let narrowed = pset(
        r#"
        @id("owner-read")
        permit(principal, action == Action::"read", resource) when { resource.owner == principal };
        @id("owner-write")
        permit(principal, action == Action::"write", resource) when { resource.owner == principal };
        @id("auditors")
        permit(principal in Department::"audit", action == Action::"audit", resource)
        when { principal.clearance >= 3 };
        "#,
    );
    let fwd = p.no_new_access(&baseline, &narrowed, &s).unwrap();
    show("narrow/no-new", &fwd);
    assert!(all_proven(&fwd));

    let rev = p.lost_access(&baseline, &narrowed, &s).unwrap();
    show("narrow/lost", &rev);
    for action in ["read", "audit"] {
        let r = by_action(&rev, action);
        let cex = r
            .verdict
            .counterexample()
            .unwrap_or_else(|| panic!("{action}: {}", r.verdict));
        assert_eq!(decision(&baseline, cex), Decision::Allow);
        assert_eq!(decision(&narrowed, cex), Decision::Deny);
    }
    assert!(by_action(&rev, "write").verdict.is_proven());
}

#[test]
fn unchanged_set_is_proven_everywhere() {
    let p = prover();
    let s = schema();
    let baseline = pset(BASELINE);
    // same policies, different formatting and order
    let reformatted = pset(
        r#"permit(principal in Department::"audit", action == Action::"audit", resource);
           permit(principal, action == Action::"write", resource) when { principal == resource.owner };
           permit(principal, action == Action::"read", resource) when { resource.public };
           permit(principal, action == Action::"read", resource) when { resource.owner == principal };"#,
    );
    for (name, r) in [
        (
            "same/no-new",
            p.no_new_access(&baseline, &baseline, &s).unwrap(),
        ),
        (
            "same/lost",
            p.lost_access(&baseline, &baseline, &s).unwrap(),
        ),
        (
            "reformatted/no-new",
            p.no_new_access(&baseline, &reformatted, &s).unwrap(),
        ),
        (
            "reformatted/lost",
            p.lost_access(&baseline, &reformatted, &s).unwrap(),
        ),
    ] {
        show(name, &r);
        assert_eq!(r.len(), 3);
        assert!(all_proven(&r), "{name}");
    }
}

#[test]
fn parallel_workers_agree_with_sequential() {
    let s = schema();
    let baseline = pset(BASELINE);
    let candidate = pset(&format!("{BASELINE}\n{FINANCE_READ}"));
    let par = Prover::new(SolverConfig {
        per_query_ms: 20_000,
        parallelism: 2,
        ..Default::default()
    })
    .unwrap();
    let a = par.no_new_access(&baseline, &candidate, &s).unwrap();
    let b = prover().no_new_access(&baseline, &candidate, &s).unwrap();
    let kinds = |r: &[EnvResult]| {
        r.iter()
            .map(|e| {
                (
                    e.label.clone(),
                    e.verdict.is_proven(),
                    e.verdict.is_refuted(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(&a), kinds(&b));
}

#[test]
fn never_rule_impossible_is_disjoint_possible_is_confirmed() {
    let p = prover();
    let s = schema();
    let baseline = pset(BASELINE);
    // nobody writes a document they do not own: impossible under BASELINE
    let never_write_others = r#"permit(principal, action == Action::"write", resource)
                                when { resource.owner != principal };"#;
    let res = p.never_disjoint(&baseline, &s, never_write_others).unwrap();
    show("never/impossible", &res);
    assert!(all_proven(&res));

    // nobody reads finance documents: possible once FINANCE_READ is added
    let candidate = pset(&format!("{BASELINE}\n{FINANCE_READ}"));
    let never_read_finance = r#"permit(principal, action == Action::"read", resource in Department::"finance")
                                when { resource.owner != principal && !resource.public };"#;
    let res = p
        .never_disjoint(&candidate, &s, never_read_finance)
        .unwrap();
    show("never/possible", &res);
    let read = by_action(&res, "read");
    let cex = read
        .verdict
        .counterexample()
        .unwrap_or_else(|| panic!("{}", read.verdict));
    assert_eq!(decision(&candidate, cex), Decision::Allow);
    assert_eq!(decision(&pset(never_read_finance), cex), Decision::Allow);
    // the baseline alone never does it
    let res = p.never_disjoint(&baseline, &s, never_read_finance).unwrap();
    assert!(all_proven(&res));

    // a forbid is not a never rule
    assert!(matches!(
        p.never_disjoint(&baseline, &s, "forbid(principal, action, resource);"),
        Err(ProveError::Policy(_))
    ));
}

#[test]
fn implies_for_suggestions() {
    let p = prover();
    let s = schema();
    let original = pset(BASELINE);
    let good = pset(
        r#"permit(principal, action == Action::"read", resource)
           when { resource.owner == principal && resource.public };"#,
    );
    let bad = pset(r#"permit(principal, action == Action::"read", resource);"#);
    assert!(all_proven(&p.implies(&original, &good, &s).unwrap()));
    let r = p.implies(&original, &bad, &s).unwrap();
    assert!(by_action(&r, "read").verdict.is_refuted());
}

fn link(ps: &mut PolicySet, template: &str, id: &str, principal: &str, resource: &str) {
    ps.link(
        PolicyId::new(template),
        PolicyId::new(id),
        HashMap::from([
            (SlotId::principal(), EntityUid::from_str(principal).unwrap()),
            (SlotId::resource(), EntityUid::from_str(resource).unwrap()),
        ]),
    )
    .unwrap();
}

const TEMPLATE: &str = r#"
@id("dept-reader")
permit(principal == ?principal, action == Action::"read", resource in ?resource);
"#;

#[test]
fn template_links_are_converted_and_proved() {
    let p = prover();
    let s = schema();
    let mut linked = PolicySet::new();
    linked
        .add_template(
            cedar_policy::Template::parse(Some(PolicyId::new("dept-reader")), TEMPLATE).unwrap(),
        )
        .unwrap();
    link(
        &mut linked,
        "dept-reader",
        "alice-finance",
        r#"User::"alice""#,
        r#"Department::"finance""#,
    );

    // symcc itself refuses links
    let env = s.request_envs().next().unwrap();
    let err = cedar_policy_symcc::CompiledPolicySet::compile(&linked, &env, &s).unwrap_err();
    assert!(
        err.to_string().contains("template") || format!("{err:?}").contains("template"),
        "{err:?}"
    );

    // conversion keeps the link id and becomes static
    let stat = to_static_policy_set(&linked).unwrap();
    let converted: Vec<_> = stat.policies().collect();
    assert_eq!(converted.len(), 1);
    assert!(converted[0].is_static());
    assert_eq!(converted[0].id().to_string(), "alice-finance");
    assert_eq!(stat.templates().count(), 0);
    eprintln!("converted link: {}", converted[0]);

    let same_static = pset(
        r#"permit(principal == User::"alice", action == Action::"read", resource in Department::"finance");"#,
    );
    let fwd = p.no_new_access(&same_static, &linked, &s).unwrap();
    let rev = p.lost_access(&same_static, &linked, &s).unwrap();
    show("links/no-new", &fwd);
    assert!(all_proven(&fwd) && all_proven(&rev));

    // a link to another department is new access, confirmed against the linked set
    let mut hr = linked.clone();
    link(
        &mut hr,
        "dept-reader",
        "alice-hr",
        r#"User::"alice""#,
        r#"Department::"hr""#,
    );
    let res = p.no_new_access(&linked, &hr, &s).unwrap();
    show("links/hr", &res);
    let cex = by_action(&res, "read")
        .verdict
        .counterexample()
        .expect("refuted")
        .clone();
    assert_eq!(decision(&hr, &cex), Decision::Allow);
    assert_eq!(decision(&linked, &cex), Decision::Deny);
    assert_eq!(
        cex.request.principal().unwrap().to_string(),
        r#"User::"alice""#
    );
}

#[test]
fn hygiene_findings() {
    let p = prover();
    let s = schema();
    let ps = pset(
        r#"
        @id("owner-read")
        permit(principal, action == Action::"read", resource) when { resource.owner == principal };
        @id("dead")
        permit(principal, action == Action::"read", resource) when { resource.public && !resource.public };
        @id("redundant")
        permit(principal == User::"alice", action == Action::"read", resource) when { resource.owner == principal };
        @id("overflow")
        permit(principal, action == Action::"audit", resource) when { principal.clearance * 1000000000000 > 5 };
        @id("hr-write")
        permit(principal, action == Action::"write", resource in Department::"hr");
        @id("no-hr-write")
        forbid(principal, action == Action::"write", resource in Department::"hr");
        "#,
    );
    let t = Instant::now();
    let report = p.hygiene(&ps, &s).unwrap();
    eprintln!(
        "hygiene total {:?} for {} policies x 3 envs",
        t.elapsed(),
        report.len()
    );
    // `@id` annotations do not set policy ids (those are policy0..); find by annotation
    let find = |name: &str| {
        report
            .iter()
            .find(|h| {
                ps.policy(&PolicyId::new(&h.policy_id))
                    .unwrap()
                    .annotation("id")
                    == Some(name)
            })
            .unwrap_or_else(|| panic!("{name}"))
    };
    for h in &report {
        eprintln!(
            "{} {:?}: never_applies={} redundant={} never_grants={} may_error={}",
            h.policy_id,
            h.effect,
            h.can_never_apply(),
            h.is_redundant(),
            h.can_never_grant(),
            h.may_error()
        );
    }
    // every check got a definite answer
    for h in &report {
        for r in h
            .never_applies
            .iter()
            .chain(&h.redundant)
            .chain(&h.never_grants)
            .chain(&h.never_errors)
        {
            assert!(
                !r.verdict.is_unknown(),
                "{} {}: {}",
                h.policy_id,
                r.label,
                r.verdict
            );
        }
    }
    let dead = find("dead");
    assert!(dead.can_never_apply());
    assert!(dead.can_never_grant());
    let redundant = find("redundant");
    assert!(redundant.is_redundant());
    assert!(!redundant.can_never_apply());
    let owner = find("owner-read");
    assert!(!owner.is_redundant() && !owner.can_never_apply() && !owner.may_error());
    assert!(by_action(&owner.never_applies, "read").verdict.is_refuted());
    let overflow = find("overflow");
    assert!(overflow.may_error(), "{:?}", overflow.never_errors);
    let cex = by_action(&overflow.never_errors, "audit")
        .verdict
        .counterexample()
        .unwrap();
    let only = pset(
        r#"permit(principal, action == Action::"audit", resource) when { principal.clearance * 1000000000000 > 5 };"#,
    );
    let resp = Authorizer::new().is_authorized(&cex.request, &only, &cex.entities);
    assert!(resp.diagnostics().errors().next().is_some(), "{cex}");
    eprintln!("overflow witness: {cex}");
    let hr = find("hr-write");
    assert!(hr.can_never_grant() && !hr.can_never_apply());
    let forbid = find("no-hr-write");
    assert!(forbid.redundant.is_empty() && !forbid.can_never_apply());
}

#[test]
fn unsupported_inputs_are_unknown_not_errors() {
    let p = prover();
    let s = schema();
    let baseline = pset(BASELINE);
    // type error against the schema: symcc rejects it; reported per env
    let ill_typed =
        pset(r#"permit(principal, action == Action::"read", resource) when { resource.nope };"#);
    let r = p.no_new_access(&baseline, &ill_typed, &s).unwrap();
    show("ill-typed", &r);
    // only the read env: the policy is irrelevant (and accepted) elsewhere
    assert!(matches!(
        &by_action(&r, "read").verdict,
        Verdict::Unknown { reason: UnknownReason::Unsupported(m) } if m.contains("nope")
    ));
    assert!(by_action(&r, "write").verdict.is_proven());
    // unary negation: symcc encodes the overflow check without `bvnego`
    // (absent from Debian's cvc5 1.0.3), so this works there too
    let neg = pset(
        r#"permit(principal, action == Action::"audit", resource) when { -principal.clearance < 0 };"#,
    );
    let r = p.no_new_access(&baseline, &neg, &s).unwrap();
    show("negation", &r);
    let cex = by_action(&r, "audit")
        .verdict
        .counterexample()
        .expect("refuted");
    assert_eq!(decision(&neg, cex), Decision::Allow);
    // and the prover is still usable afterwards
    let r = p.no_new_access(&baseline, &baseline, &s).unwrap();
    assert!(all_proven(&r));
}

#[test]
fn schema_change_envs_are_reported() {
    let p = prover();
    let old = schema();
    let new = Schema::from_cedarschema_str(
        r#"
        entity Department;
        entity User in [Department] { clearance: Long };
        entity Document in [Department] { owner: User, public: Bool, archived: Bool };
        action read, write, delete appliesTo { principal: [User], resource: [Document] };
        "#,
    )
    .unwrap()
    .0;
    let baseline = pset(
        r#"permit(principal, action == Action::"read", resource) when { resource.owner == principal };
           permit(principal, action == Action::"write", resource) when { resource.owner == principal };
           permit(principal in Department::"audit", action == Action::"audit", resource);"#,
    );
    let candidate = pset(
        r#"permit(principal, action == Action::"read", resource) when { resource.owner == principal };
           permit(principal, action == Action::"write", resource) when { resource.owner == principal && !resource.archived };
           permit(principal, action == Action::"delete", resource) when { resource.owner == principal };"#,
    );
    let res = p
        .no_new_access_across(&baseline, &old, &candidate, &new)
        .unwrap();
    show("schema-change", &res);
    let get = |a: &str| by_action(&res, a);
    assert!(get("read").verdict.is_proven() && get("read").presence == EnvPresence::Both);
    assert!(get("write").verdict.is_proven());
    assert_eq!(get("delete").presence, EnvPresence::QuantifiedSideOnly);
    let cex = get("delete")
        .verdict
        .counterexample()
        .expect("delete is new access");
    assert_eq!(decision(&candidate, cex), Decision::Allow);
    assert_eq!(get("audit").presence, EnvPresence::OtherSideOnly);
    assert!(matches!(
        get("audit").verdict,
        Verdict::NotApplicable { .. }
    ));

    // reverse: quantify over the old schema; the audit permit is lost
    let res = p
        .lost_access_across(&baseline, &old, &candidate, &new)
        .unwrap();
    show("schema-change/lost", &res);
    assert!(by_action(&res, "audit").verdict.is_refuted());
    assert!(by_action(&res, "read").verdict.is_proven());
    // write: the candidate's write permit reads `archived`, which old-schema
    // entities lack; it is left out when compiling against the old schema,
    // and Cedar confirms the candidate denies such writes (attribute error)
    let w = by_action(&res, "write");
    let cex = w
        .verdict
        .counterexample()
        .unwrap_or_else(|| panic!("{}", w.verdict));
    assert_eq!(decision(&baseline, cex), Decision::Allow);
    assert_eq!(decision(&candidate, cex), Decision::Deny);
    assert_eq!(
        by_action(&res, "delete").presence,
        EnvPresence::OtherSideOnly
    );

    // a forbid the other schema cannot typecheck makes the env Unknown
    let with_forbid = pset(&format!(
        "{}
forbid(principal, action == Action::\"write\", resource) when {{ resource.archived }};",
        candidate
    ));
    let res = p
        .lost_access_across(&baseline, &old, &with_forbid, &new)
        .unwrap();
    assert!(matches!(
        &by_action(&res, "write").verdict,
        Verdict::Unknown { reason: UnknownReason::Unsupported(m) } if m.contains("forbid")
    ));
}

#[test]
fn cache_key_is_stable_and_content_based() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
    let s = schema();
    let env = s.request_envs().next().unwrap();
    let a = canonical_policy_text(&pset(BASELINE)).unwrap();
    let a_ws = canonical_policy_text(&pset(
        &BASELINE.replace(' ', "  ").replace('\n', "\n\n// c\n"),
    ))
    .unwrap();
    let b = canonical_policy_text(&pset(&format!("{BASELINE}{FINANCE_READ}"))).unwrap();
    let k = |t: &[&str], e| cache_key("no_new_access", t, SCHEMA, e);
    assert_eq!(k(&[&a, &b], Some(&env)), k(&[&a, &b], Some(&env)));
    assert_eq!(k(&[&a, &b], Some(&env)), k(&[&a_ws, &b], Some(&env)));
    assert_ne!(k(&[&a, &b], Some(&env)), k(&[&b, &a], Some(&env)));
    assert_ne!(k(&[&a, &b], Some(&env)), k(&[&a, &b], None));
    assert_ne!(
        k(&[&a, &b], Some(&env)),
        cache_key("lost_access", &[&a, &b], SCHEMA, Some(&env))
    );
    assert_eq!(k(&[&a], None).len(), 64);
    // The key the hand-written SHA-256 gave before the `sha2` crate replaced
    // it (computed independently with Python's hashlib): cached entries keep
    // their names.
    assert_eq!(
        cache_key("no-new-access", &["a", "b"], "schema", None),
        "f67d1ae32a73e6dceeb39093de4618387f6090e5c0afda60c13e19abc2075404"
    );
}

// ---------------------------------------------------------------------------
// Property test: prover verdicts agree with brute-force enumeration.
// ---------------------------------------------------------------------------

const TINY_SCHEMA: &str = r#"
entity G;
entity U in [G] { flag: Bool };
entity R { flag: Bool };
action act appliesTo { principal: [U], resource: [R] };
"#;

/// Atoms mention only U::"a", U::"b", G::"g1", G::"g2", R::"x", R::"y".
/// A counterexample's principal is then characterised by (is a / is b /
/// other, flag, membership in g1, g2), its resource by (x / y / other, flag),
/// so enumerating U in {a,b,c} x flag x parents and R in {x,y,z} x flag
/// covers every case symcc can distinguish.
const ATOMS: &[&str] = &[
    r#"principal == U::"a""#,
    r#"principal == U::"b""#,
    r#"principal in G::"g1""#,
    r#"principal in G::"g2""#,
    r#"resource == R::"x""#,
    r#"resource == R::"y""#,
    "principal.flag",
    "resource.flag",
    "principal.flag == resource.flag",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[derive(Clone, Debug)]
struct GenPolicy {
    permit: bool,
    conds: Vec<(bool, usize)>, // (negated, atom index)
}

impl GenPolicy {
    fn random(r: &mut Rng) -> Self {
        let n = r.below(3);
        Self {
            permit: r.below(5) != 0,
            conds: (0..n)
                .map(|_| (r.below(3) == 0, r.below(ATOMS.len())))
                .collect(),
        }
    }
    fn text(&self) -> String {
        let cond = if self.conds.is_empty() {
            "true".to_string()
        } else {
            self.conds
                .iter()
                .map(|&(neg, i)| {
                    if neg {
                        format!("!({})", ATOMS[i])
                    } else {
                        format!("({})", ATOMS[i])
                    }
                })
                .collect::<Vec<_>>()
                .join(" && ")
        };
        format!(
            "{}(principal, action, resource) when {{ {cond} }};",
            if self.permit { "permit" } else { "forbid" }
        )
    }
}

fn set_text(ps: &[GenPolicy]) -> String {
    ps.iter()
        .map(GenPolicy::text)
        .collect::<Vec<_>>()
        .join("\n")
}

fn mutate(base: &[GenPolicy], r: &mut Rng) -> Vec<GenPolicy> {
    let mut c = base.to_vec();
    match r.below(7) {
        0 => {} // unchanged
        1 if !c.is_empty() => {
            let i = r.below(c.len());
            c[i].conds.push((r.below(3) == 0, r.below(ATOMS.len()))); // narrow (for a permit)
        }
        2 if !c.is_empty() => {
            let i = r.below(c.len());
            c[i].conds.pop(); // widen
        }
        3 if !c.is_empty() => {
            let i = r.below(c.len());
            c.remove(i);
        }
        4 if !c.is_empty() => {
            let i = r.below(c.len());
            c[i].permit = !c[i].permit;
        }
        5 => c.push(GenPolicy {
            permit: false,
            conds: vec![(r.below(2) == 0, r.below(ATOMS.len()))],
        }),
        _ => c.push(GenPolicy::random(r)),
    }
    c
}

/// Every (request, store) the tiny schema can distinguish.
fn all_cases() -> Vec<(Request, Entities)> {
    let uid = |s: &str| EntityUid::from_str(s).unwrap();
    let act = uid(r#"Action::"act""#);
    let groups = [uid(r#"G::"g1""#), uid(r#"G::"g2""#)];
    let mut out = vec![];
    for p in ["a", "b", "c"] {
        for pflag in [false, true] {
            for mask in 0..4usize {
                for res in ["x", "y", "z"] {
                    for rflag in [false, true] {
                        let pu = uid(&format!(r#"U::"{p}""#));
                        let ru = uid(&format!(r#"R::"{res}""#));
                        let parents: HashSet<EntityUid> = groups
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| mask & (1 << i) != 0)
                            .map(|(_, g)| g.clone())
                            .collect();
                        let mut ents = vec![
                            Entity::new(
                                pu.clone(),
                                HashMap::from([(
                                    "flag".to_string(),
                                    RestrictedExpression::new_bool(pflag),
                                )]),
                                parents,
                            )
                            .unwrap(),
                            Entity::new(
                                ru.clone(),
                                HashMap::from([(
                                    "flag".to_string(),
                                    RestrictedExpression::new_bool(rflag),
                                )]),
                                HashSet::new(),
                            )
                            .unwrap(),
                        ];
                        for g in &groups {
                            ents.push(Entity::new_no_attrs(g.clone(), HashSet::new()));
                        }
                        let entities = Entities::from_entities(ents, None).unwrap();
                        let req =
                            Request::new(pu, act.clone(), ru, Context::empty(), None).unwrap();
                        out.push((req, entities));
                    }
                }
            }
        }
    }
    out
}

/// Brute force: does every case `sub` allows get allowed by `sup`?
fn brute_subset(sub: &PolicySet, sup: &PolicySet, cases: &[(Request, Entities)]) -> bool {
    let a = Authorizer::new();
    cases.iter().all(|(req, ents)| {
        a.is_authorized(req, sub, ents).decision() == Decision::Deny
            || a.is_authorized(req, sup, ents).decision() == Decision::Allow
    })
}

#[test]
fn property_prover_agrees_with_brute_force() {
    let p = prover();
    let s = Schema::from_cedarschema_str(TINY_SCHEMA).unwrap().0;
    let cases = all_cases();
    assert_eq!(cases.len(), 3 * 2 * 4 * 3 * 2);
    let mut rng = Rng(0x5EED_CEDA);
    let (mut proven, mut refuted) = (0, 0);
    let t = Instant::now();
    let rounds = 30;
    for round in 0..rounds {
        let base: Vec<GenPolicy> = (0..1 + rng.below(3))
            .map(|_| GenPolicy::random(&mut rng))
            .collect();
        let cand = mutate(&base, &mut rng);
        let (bt, ct) = (set_text(&base), set_text(&cand));
        let (b, c) = (pset(&bt), pset(&ct));
        for (dir, res, expect) in [
            (
                "no_new_access",
                p.no_new_access(&b, &c, &s).unwrap(),
                brute_subset(&c, &b, &cases),
            ),
            (
                "lost_access",
                p.lost_access(&b, &c, &s).unwrap(),
                brute_subset(&b, &c, &cases),
            ),
        ] {
            assert_eq!(res.len(), 1);
            let v = &res[0].verdict;
            let ctx =
                format!("round {round} {dir}\nbaseline:\n{bt}\ncandidate:\n{ct}\nverdict: {v}");
            match v {
                Verdict::Proven => {
                    assert!(
                        expect,
                        "prover says proven, brute force found a violation: {ctx}"
                    );
                    proven += 1;
                }
                Verdict::Refuted { .. } => {
                    assert!(!expect, "prover refuted, brute force says it holds: {ctx}");
                    refuted += 1;
                }
                _ => panic!("no verdict: {ctx}"),
            }
        }
    }
    eprintln!(
        "property: {} queries ({proven} proven, {refuted} refuted) in {:?}",
        2 * rounds,
        t.elapsed()
    );
    assert!(
        proven > 5 && refuted > 5,
        "generator should produce both outcomes"
    );
}

// ---------------------------------------------------------------------------
// Time limit and solver failures
// ---------------------------------------------------------------------------

#[test]
fn per_query_time_limit_gives_unknown_and_later_envs_still_run() {
    // factoring a 64-bit semiprime (1000000007 * 1000000009) by bit-blasting
    let s = Schema::from_cedarschema_str(
        r#"entity User { a: Long, b: Long };
           action hard, later appliesTo { principal: [User], resource: [User] };"#,
    )
    .unwrap()
    .0;
    let p = Prover::new(SolverConfig {
        per_query_ms: 300,
        ..Default::default()
    })
    .unwrap();
    let base = pset("forbid(principal, action, resource);");
    let cand = pset(
        r#"permit(principal, action == Action::"hard", resource) when {
             principal.a > 1 && principal.b > 1 && principal.a * principal.b == 1000000016000000063 };
           permit(principal, action == Action::"later", resource) when { principal.a > 1 };"#,
    );
    let t = Instant::now();
    let r = p.no_new_access(&base, &cand, &s).unwrap();
    show("tlimit", &r);
    assert!(matches!(
        by_action(&r, "hard").verdict,
        Verdict::Unknown {
            reason: UnknownReason::TimeLimit { per_query_ms: 300 }
        }
    ));
    // envs run in sorted order: "later" runs after the timeout (on a fresh cvc5)
    assert!(by_action(&r, "later").verdict.is_refuted());
    assert!(t.elapsed().as_secs() < 5, "{:?}", t.elapsed());
}

fn fake_solver(name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("proto-symcc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("#!/bin/sh\nif [ \"$1\" = \"--version\" ]; then echo 'This is cvc5 version fake'; exit 0; fi\n{body}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn broken_solvers_give_unknown_never_panic() {
    let s = schema();
    let baseline = pset(BASELINE);
    let candidate = pset(&format!("{BASELINE}\n{FINANCE_READ}"));
    let cases = [
        ("exits", "exit 3"),
        (
            "garbage",
            "while read l; do case \"$l\" in *check-sat*) echo garbage;; esac; done",
        ),
    ];
    for (name, body) in cases {
        let p = Prover::new(SolverConfig {
            path: Some(fake_solver(name, body)),
            per_query_ms: 1_000,
            ..Default::default()
        })
        .unwrap();
        let r = p.no_new_access(&baseline, &candidate, &s).unwrap();
        show(name, &r);
        let read = by_action(&r, "read");
        assert!(
            matches!(
                &read.verdict,
                Verdict::Unknown {
                    reason: UnknownReason::SolverError(_)
                }
            ),
            "{name}: {}",
            read.verdict
        );
    }
    // a solver that never answers: the wall-clock guard (2 x limit + 5 s) fires
    let p = Prover::new(SolverConfig {
        path: Some(fake_solver("hangs", "cat >/dev/null")),
        per_query_ms: 1,
        ..Default::default()
    })
    .unwrap();
    let t = Instant::now();
    let r = p.no_new_access(&baseline, &candidate, &s).unwrap();
    show("hangs", &r);
    assert!(matches!(
        by_action(&r, "read").verdict,
        Verdict::Unknown {
            reason: UnknownReason::TimeLimit { .. }
        }
    ));
    assert!(t.elapsed().as_secs() < 15);
}

// ---------------------------------------------------------------------------
// Feature coverage on this cvc5: every counterexample must decode and confirm
// ---------------------------------------------------------------------------

#[test]
fn feature_coverage_counterexamples_decode_and_confirm() {
    let p = prover();
    let s = Schema::from_cedarschema_str(
        r#"
        entity Team;
        entity User in [Team] {
            name: String, roles: Set<String>, nick?: String,
            profile: { level: Long, addr: ipaddr }, score: decimal
        } tags String;
        entity Doc { created: datetime, labels: Set<Long> };
        action view appliesTo {
            principal: [User], resource: [Doc],
            context: { now: datetime, src: ipaddr }
        };
        "#,
    )
    .unwrap()
    .0;
    let deny_all = pset("forbid(principal, action, resource);");
    let features = [
        ("like", r#"principal.name like "ad*min*x""#),
        (
            "sets",
            r#"principal.roles.contains("ops") && principal.roles.containsAll(["a", "b"])"#,
        ),
        (
            "optional+unicode",
            r#"principal has nick && principal.nick == "zé✓""#,
        ),
        (
            "tags",
            r#"principal.hasTag("dept") && principal.getTag("dept") == "eng""#,
        ),
        (
            "record+ipaddr",
            r#"principal.profile.level > 3 && principal.profile.addr.isInRange(ip("10.0.0.0/8"))"#,
        ),
        ("decimal", r#"principal.score.greaterThan(decimal("1.5"))"#),
        (
            "datetime",
            r#"context.now > resource.created.offset(duration("1h")) && context.src.isLoopback()"#,
        ),
        (
            "hierarchy+long-set",
            r#"resource.labels.containsAny([1, 2]) && principal in Team::"t""#,
        ),
        ("arith", r#"principal.profile.level * 3 - 7 == 20"#),
        ("is", r#"principal is User && !resource.labels.isEmpty()"#),
    ];
    for (name, cond) in features {
        let cand = pset(&format!(
            "permit(principal, action, resource) when {{ {cond} }};"
        ));
        let r = p.no_new_access(&deny_all, &cand, &s).unwrap();
        show(name, &r);
        let cex = r[0]
            .verdict
            .counterexample()
            .unwrap_or_else(|| panic!("{name}: {}", r[0].verdict));
        assert_eq!(decision(&cand, cex), Decision::Allow, "{name}");
    }
    // empty set literals: symcc does not support them -> Unknown, not an error
    let cand = pset(r#"permit(principal, action, resource) when { principal.roles == [] };"#);
    let r = p.no_new_access(&deny_all, &cand, &s).unwrap();
    show("empty-set", &r);
    assert!(matches!(
        r[0].verdict,
        Verdict::Unknown {
            reason: UnknownReason::Unsupported(_)
        }
    ));
}

#[test]
fn a_missing_solver_is_a_clear_error_not_a_panic() {
    let err = Prover::new(SolverConfig {
        path: Some(PathBuf::from("/nonexistent/other-cvc5")),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(err, ProveError::NoSolver(_)), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/other-cvc5"));

    // an executable that is not cvc5
    let err = Prover::new(SolverConfig {
        path: Some(PathBuf::from("/bin/true")),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(err, ProveError::NoSolver(_)), "{err:?}");
}
