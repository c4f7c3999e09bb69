//! `privsim suggest`: right-sized suggestions verify (the workflow replays, no
//! new access, held = needed), replay cleanly when loaded back as the scenario's
//! policies, keep forbids, other principals' permits, template links and grant
//! windows, refuse what a narrower set cannot fix, and a wrong suggestion fails
//! verification.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::path::{Path, PathBuf};

use privsim::load::{self as scenario, LoadOptions, Scenario};
use privsim::result::{CeilingDecision, Pair, PrincipalAccount, ScenarioResult};
use privsim::suggest::{self, ScenarioSuggestion, Status, SuggestRun};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn mcp_scenario() -> PathBuf {
    workspace().join("scenarios/mcp-support/least-privilege.toml")
}

fn mcp_over_privileged() -> PathBuf {
    workspace().join("scenarios/mcp-support/policies/over-privileged.cedar")
}

fn load_with(path: &Path, policies: Option<PathBuf>) -> Scenario {
    scenario::load(
        path,
        &LoadOptions {
            policies,
            // As `privsim suggest scenarios/` loads them: a shared world may
            // be anywhere inside the repository's scenarios.
            root: Some(workspace()),
            ..LoadOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
}

/// A folder for one test, removed when the test ends.
struct Folder(PathBuf);

impl Folder {
    fn new(test: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("privsim-suggest-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Fails with everything the suggestion says unless it verified.
fn assert_verified(suggestion: &ScenarioSuggestion) {
    let summary =
        privsim_reports::suggest::render_text(&SuggestRun::new(vec![suggestion.clone()]), true);
    assert_eq!(suggestion.status, Status::Verified, "{summary}");
    assert!(suggestion.workflow.as_ref().unwrap().passed, "{summary}");
    assert!(suggestion.validation.as_ref().unwrap().passed, "{summary}");
    for principal in &suggestion.principals {
        let checks = principal.verification.as_ref().unwrap();
        assert!(checks.workflow.passed, "{summary}");
        assert!(checks.no_new_access.passed, "{summary}");
        assert!(checks.exact.passed, "{summary}");
    }
}

/// Loads `scenario` with the suggested policies in place of its own, the way
/// `privsim run --policies` does, and replays it.
fn replay_with_suggestion(folder: &Folder, scenario: &Path, text: &str) -> ScenarioResult {
    let policies = folder.write("suggested.cedar", text);
    privsim::evaluate(&load_with(scenario, Some(policies)))
}

fn account<'a>(result: &'a ScenarioResult, principal: &str) -> &'a PrincipalAccount {
    result
        .principals
        .iter()
        .find(|a| a.principal == principal)
        .unwrap_or_else(|| panic!("no account for {principal}: {:#?}", result.principals))
}

fn held(account: &PrincipalAccount) -> Vec<(String, String)> {
    account
        .held
        .iter()
        .map(|h| (h.action.clone(), h.resource.clone()))
        .collect()
}

fn pairs(list: &[Pair]) -> Vec<(String, String)> {
    list.iter()
        .map(|p| (p.action.clone(), p.resource.clone()))
        .collect()
}

fn pair(action: &str, resource: &str) -> (String, String) {
    (format!("Action::\"{action}\""), resource.to_string())
}

/// Every step got the decision it expects, and every access assertion held.
fn decisions_as_expected(result: &ScenarioResult) -> bool {
    result.steps.iter().all(|step| {
        step.expectation
            .as_ref()
            .and_then(|e| e.decision.as_ref())
            .is_none_or(|d| d == &step.decision)
    }) && result.access.iter().all(|a| a.passed)
}

const TRIAGE: &str = r#"Agent::"triage-bot""#;

#[test]
fn keeping_access_assertions_the_over_privileged_mcp_candidate_gets_a_suggestion_that_replays_cleanly()
 {
    let scenario = load_with(&mcp_scenario(), Some(mcp_over_privileged()));
    let candidate = privsim::evaluate(&scenario);
    assert!(
        !candidate.passed,
        "the over-privileged candidate lets the injected steps through"
    );
    let suggestion = suggest::suggest_with(
        &scenario,
        suggest::Options {
            keep_access: true,
            ..suggest::Options::default()
        },
    );
    assert_verified(&suggestion);
    // The injected steps (expect deny, allowed by the candidate) are repaired, not used.
    assert_eq!(suggestion.repairs.len(), 3, "{:#?}", suggestion.repairs);
    assert_eq!(suggestion.replaced, ["agent-inherits-role"]);
    assert_eq!(suggestion.kept, ["support-users"]);
    let triage = &suggestion.principals[0];
    assert_eq!(triage.principal, TRIAGE);
    let ids: Vec<&str> = triage.policies.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "suggest-triage-bot-listTickets",
            "suggest-triage-bot-readTicket"
        ]
    );
    // readTicket on both of acme's tickets (one used, one required by the access
    // assertion), and acme has no other ticket: the parent stands for them.
    assert!(
        triage.policies[1]
            .text
            .contains(r#"resource is Ticket in Customer::"acme""#),
        "{}",
        triage.policies[1].text
    );
    assert!(
        triage.policies[0]
            .text
            .contains(r#"resource == Ticket::"T-1""#)
    );
    // The candidate's condition on the delegator is kept.
    assert!(
        triage.policies[0]
            .text
            .contains(r#"context.delegator in Team::"support""#)
    );
    assert!(
        triage.policies[0]
            .text
            .contains("@generated(\"privsim suggest\")")
    );
    assert_eq!(
        triage
            .required
            .iter()
            .map(|r| (r.action.clone(), r.resource.clone()))
            .collect::<Vec<_>>(),
        [pair("readTicket", r#"Ticket::"T-1""#)]
    );
    let (before, after) = (&triage.before, triage.after.as_ref().unwrap());
    assert_eq!((before.held, before.used, before.weighted_gap), (15, 4, 41));
    assert_eq!((after.held, after.used, after.weighted_gap), (3, 2, 1));

    // Loaded back as the scenario's policies, every decision and access
    // assertion holds; only the step naming a policy of another file by id
    // (`expect_reason = ["triage-reads-acme"]`) still differs, as it did under
    // the candidate.
    let folder = Folder::new("mcp");
    let rerun = replay_with_suggestion(&folder, &mcp_scenario(), &suggestion.policies);
    assert!(decisions_as_expected(&rerun), "{rerun:#?}");
    let failing: Vec<usize> = rerun
        .steps
        .iter()
        .filter(|s| s.expectation.as_ref().is_some_and(|e| !e.passed))
        .map(|s| s.index)
        .collect();
    assert_eq!(failing, [1]);
    let bot = account(&rerun, TRIAGE);
    assert_eq!(
        held(bot),
        [
            pair("listTickets", r#"Ticket::"T-1""#),
            pair("readTicket", r#"Ticket::"T-1""#),
            pair("readTicket", r#"Ticket::"T-2""#),
        ]
    );
    assert_eq!(
        pairs(&bot.used),
        [
            pair("listTickets", r#"Ticket::"T-1""#),
            pair("readTicket", r#"Ticket::"T-2""#),
        ]
    );
}

#[test]
fn without_the_access_assertion_the_triage_agent_holds_exactly_what_it_used() {
    // The mcp scenario without its `[[access]]` block and the policy-id
    // expectation that names a policy of least-privilege.cedar: read in place,
    // so its relative paths resolve as they do for the file itself.
    let path = mcp_scenario();
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .split("[[access]]")
        .next()
        .unwrap()
        .replace("expect_reason = [\"triage-reads-acme\"]\n", "");
    let file = privsim::diag::SourceFile::from_text(path.clone(), "variant.toml".into(), text);
    let options = LoadOptions {
        policies: Some(mcp_over_privileged()),
        ..LoadOptions::default()
    };
    let scenario = scenario::load_source(file.clone(), &options).unwrap();
    let suggestion = suggest::suggest(&scenario);
    assert_verified(&suggestion);
    assert!(suggestion.principals[0].required.is_empty());

    let folder = Folder::new("mcp-variant");
    let policies = folder.write("suggested.cedar", &suggestion.policies);
    let rerun = privsim::evaluate(
        &scenario::load_source(
            file,
            &LoadOptions {
                policies: Some(policies),
                ..LoadOptions::default()
            },
        )
        .unwrap(),
    );
    assert!(rerun.passed, "{rerun:#?}");
    let bot = account(&rerun, TRIAGE);
    assert_eq!(held(bot), pairs(&bot.used));
    assert_eq!(bot.metrics.utilization, 1.0);
    assert_eq!(bot.metrics.weighted_gap, 0);
}

const SCHEMA: &str = r#"
entity Role;
entity Team;
entity User in [Team, Role];
entity Agent in [Role];
entity Folder in [Folder];
entity Doc in [Folder];
type Ctx = { now: datetime, delegator?: User };
action read, edit, purge appliesTo { principal: [User, Agent], resource: [Doc], context: Ctx };
"#;

/// `root` holds `public` (docs a, b) and `private` (docs c, d).
const WORLD: &str = r#"
[scenario]
name = "suggest"
policies = ["p.cedar"]
schema = "s.cedarschema"
start = "2026-06-01T09:00:00Z"

[facts]
now = "now"
delegator = "delegator"

[[entity]]
uid = 'Role::"oncall"'
[[entity]]
uid = 'Team::"docs"'
[[entity]]
uid = 'User::"alice"'
parents = ['Team::"docs"']
[[entity]]
uid = 'Agent::"bot"'
[[entity]]
uid = 'Agent::"idle"'
[[entity]]
uid = 'Folder::"root"'
[[entity]]
uid = 'Folder::"public"'
parents = ['Folder::"root"']
[[entity]]
uid = 'Folder::"private"'
parents = ['Folder::"root"']
[[entity]]
uid = 'Doc::"a"'
parents = ['Folder::"public"']
[[entity]]
uid = 'Doc::"b"'
parents = ['Folder::"public"']
[[entity]]
uid = 'Doc::"c"'
parents = ['Folder::"private"']
[[entity]]
uid = 'Doc::"d"'
parents = ['Folder::"private"']
"#;

/// One `[[step]]` of the bot acting alone.
fn bot_step(at: &str, action: &str, doc: &str, expect: &str) -> String {
    format!(
        "\n[[step]]\nat = \"{at}\"\nprincipal = 'Agent::\"bot\"'\naction = 'Action::\"{action}\"'\nresource = 'Doc::\"{doc}\"'\nexpect = \"{expect}\"\n"
    )
}

/// Writes a world, suggests for it, checks that the suggestion verified and
/// replays with every expectation met, and returns both.
fn suggest_world(
    folder: &Folder,
    toml: &str,
    policies: &str,
) -> (ScenarioSuggestion, ScenarioResult) {
    folder.write("p.cedar", policies);
    folder.write("s.cedarschema", SCHEMA);
    let path = folder.write("scenario.toml", toml);
    let suggestion = suggest::suggest(&load_with(&path, None));
    assert_verified(&suggestion);
    let rerun = replay_with_suggestion(folder, &path, &suggestion.policies);
    assert!(decisions_as_expected(&rerun), "{rerun:#?}");
    (suggestion, rerun)
}

fn policy_for<'a>(suggestion: &'a ScenarioSuggestion, principal: &str, id: &str) -> &'a str {
    suggestion
        .principals
        .iter()
        .find(|p| p.principal == principal)
        .and_then(|p| p.policies.iter().find(|policy| policy.id == id))
        .map(|policy| policy.text.as_str())
        .unwrap_or_else(|| panic!("no policy `{id}` in\n{}", suggestion.policies))
}

#[test]
fn a_parent_stands_for_its_children_only_when_all_of_them_are_needed() {
    let mut toml = WORLD.to_string();
    for (at, action, doc) in [
        ("+1m", "read", "a"),
        ("+2m", "read", "b"),
        ("+3m", "read", "c"),
        ("+4m", "purge", "c"),
        ("+5m", "purge", "d"),
        ("+6m", "edit", "a"),
        ("+7m", "edit", "b"),
        ("+8m", "edit", "c"),
        ("+9m", "edit", "d"),
    ] {
        toml.push_str(&bot_step(at, action, doc, "allow"));
    }
    let policies = r#"@id("bot-everything") permit (principal == Agent::"bot", action, resource);"#;
    let folder = Folder::new("hierarchy");
    let (suggestion, rerun) = suggest_world(&folder, &toml, policies);
    let bot = r#"Agent::"bot""#;
    // read: all of public, but only c of private (d is not needed).
    let read = policy_for(&suggestion, bot, "suggest-bot-read");
    assert!(
        read.contains(r#"when { resource in Folder::"public" || resource == Doc::"c" }"#),
        "{read}"
    );
    // purge: all of private, and nothing of public: the narrowest parent.
    let purge = policy_for(&suggestion, bot, "suggest-bot-purge");
    assert!(
        purge.contains(r#"resource is Doc in Folder::"private""#),
        "{purge}"
    );
    // edit: every doc, so the root folder.
    let edit = policy_for(&suggestion, bot, "suggest-bot-edit");
    assert!(
        edit.contains(r#"resource is Doc in Folder::"root""#),
        "{edit}"
    );
    let account = account(&rerun, bot);
    assert_eq!(held(account), pairs(&account.used));
    assert_eq!(account.metrics.held, 9);
}

#[test]
fn forbids_are_kept_and_still_decide_the_denied_steps() {
    let mut toml = WORLD.to_string();
    toml.push_str(&bot_step("+1m", "read", "c", "allow"));
    toml.push_str(&bot_step("+2m", "edit", "c", "deny"));
    toml.push_str("expect_reason = [\"private-is-read-only\"]\n");
    toml.push_str(&bot_step("+3m", "edit", "a", "allow"));
    let policies = r#"
        @id("bot-everything") permit (principal == Agent::"bot", action, resource);
        @id("private-is-read-only") forbid (principal, action == Action::"edit", resource in Folder::"private");
    "#;
    let folder = Folder::new("forbid");
    let (suggestion, rerun) = suggest_world(&folder, &toml, policies);
    assert_eq!(suggestion.kept, ["private-is-read-only"]);
    assert_eq!(suggestion.replaced, ["bot-everything"]);
    assert!(
        suggestion
            .policies
            .contains("forbid (principal, action == Action::\"edit\"")
    );
    // The forbid still decides step 2, so even its policy-id expectation holds.
    assert!(rerun.passed, "{rerun:#?}");
    assert_eq!(
        rerun.steps[1].determining_policies,
        ["private-is-read-only"]
    );
    assert_eq!(
        held(account(&rerun, r#"Agent::"bot""#)),
        [pair("edit", r#"Doc::"a""#), pair("read", r#"Doc::"c""#)]
    );
}

#[test]
fn a_principal_that_needs_nothing_gets_no_permit_and_others_keep_theirs() {
    // Two agents act for alice through a permit for any agent; `idle` only
    // tries what it should not (expected deny, allowed by the candidate).
    let toml = format!(
        r#"{WORLD}
[[session]]
id = "bot"
principal = 'Agent::"bot"'
on_behalf_of = 'User::"alice"'

[[session]]
id = "idle"
principal = 'Agent::"idle"'
on_behalf_of = 'User::"alice"'

[[step]]
at = "+1m"
session = "bot"
action = 'Action::"read"'
resource = 'Doc::"a"'
expect = "allow"

[[step]]
at = "+2m"
session = "idle"
action = 'Action::"read"'
resource = 'Doc::"b"'
expect = "deny"
"#
    );
    let policies = r#"
        @id("team-reads") permit (principal in Team::"docs", action == Action::"read", resource);
        @id("agents-read-for-the-team") permit (principal is Agent, action == Action::"read", resource)
        when { context has delegator && context.delegator in Team::"docs" };
    "#;
    let folder = Folder::new("needs-nothing");
    let (suggestion, rerun) = suggest_world(&folder, &toml, policies);
    let idle = suggestion
        .principals
        .iter()
        .find(|p| p.principal == r#"Agent::"idle""#)
        .unwrap();
    assert!(idle.needed.is_empty());
    assert!(idle.policies.is_empty());
    assert_eq!(idle.before.held, 4);
    assert_eq!(idle.after.as_ref().unwrap().held, 0);
    assert!(
        suggestion
            .policies
            .contains(r#"// Agent::"idle": needs nothing, so it gets no permit."#)
    );
    // alice is no principal of the workflow: her permit stays as it was. The
    // agents' permit is closed to agents by type: bot and idle are all the
    // agents of the world, and both are right-sized.
    assert_eq!(suggestion.kept, ["team-reads"]);
    assert_eq!(suggestion.narrowed, ["agents-read-for-the-team"]);
    assert!(
        suggestion
            .policies
            .contains("unless { principal is Agent };"),
        "{}",
        suggestion.policies
    );
    for step in &rerun.steps {
        assert_eq!(step.delegation_ceiling[0].decision, CeilingDecision::Allow);
    }
    assert!(account(&rerun, r#"Agent::"idle""#).held.is_empty());
    assert_eq!(
        held(account(&rerun, r#"Agent::"bot""#)),
        [pair("read", r#"Doc::"a""#)]
    );
}

#[test]
fn a_delegator_keeps_what_its_delegates_use_so_the_ceiling_holds() {
    // alice → bot → idle: the sub-agent reads b, which bot never reads itself.
    // The schema types `delegator` as a User, so this world does not send it.
    let world = WORLD.replace("delegator = \"delegator\"\n", "");
    let toml = format!(
        r#"{world}
[[session]]
id = "lead"
principal = 'Agent::"bot"'
on_behalf_of = 'User::"alice"'

[[session]]
id = "sub"
principal = 'Agent::"idle"'
parent = "lead"

[[step]]
at = "+1m"
session = "lead"
action = 'Action::"read"'
resource = 'Doc::"a"'
expect = "allow"

[[step]]
at = "+2m"
session = "sub"
action = 'Action::"read"'
resource = 'Doc::"b"'
expect = "allow"
"#
    );
    let policies = r#"
        @id("team-reads") permit (principal in Team::"docs", action == Action::"read", resource);
        @id("agents-read-public") permit (principal is Agent, action == Action::"read", resource in Folder::"public");
    "#;
    let folder = Folder::new("ceiling");
    let (suggestion, rerun) = suggest_world(&folder, &toml, policies);
    let bot = suggestion
        .principals
        .iter()
        .find(|p| p.principal == r#"Agent::"bot""#)
        .unwrap();
    assert_eq!(bot.required.len(), 1, "{:#?}", bot.required);
    assert_eq!(bot.required[0].resource, r#"Doc::"b""#);
    assert!(
        bot.required[0]
            .because
            .contains(r#"its delegate Agent::"idle" uses it at step 2"#)
    );
    assert!(
        policy_for(&suggestion, r#"Agent::"bot""#, "suggest-bot-read")
            .contains(r#"resource is Doc in Folder::"public""#)
    );
    assert!(rerun.findings.is_empty(), "{:#?}", rerun.findings);
    assert_eq!(
        held(account(&rerun, r#"Agent::"idle""#)),
        [pair("read", r#"Doc::"b""#)]
    );
}

#[test]
fn a_jit_grant_window_survives_the_suggestion() {
    let toml = format!(
        r#"{WORLD}
[[grant]]
id = "CHG-7"
principal = 'Agent::"bot"'
parents = ['Role::"oncall"']
from = "+5m"
until = "+35m"

[[grant]]
id = "CHG-8"
principal = 'User::"alice"'
parents = ['Role::"oncall"']
from = "+5m"
until = "+35m"
{}{}{}{}"#,
        bot_step("+10m", "purge", "a", "allow"),
        bot_step("+11m", "purge", "b", "allow"),
        bot_step("+12m", "purge", "c", "allow"),
        bot_step("+40m", "purge", "a", "deny")
    );
    let policies = r#"@id("oncall-purges") permit (principal in Role::"oncall", action == Action::"purge", resource);"#;
    let folder = Folder::new("jit");
    let (suggestion, rerun) = suggest_world(&folder, &toml, policies);
    let purge = policy_for(&suggestion, r#"Agent::"bot""#, "suggest-bot-purge");
    // The role the grant confers is still required, so each pair is held only
    // while the grant is active: exactly as long as under the candidate.
    assert!(
        purge.contains(
            r#"when { (resource in Folder::"public" || resource == Doc::"c") && principal in Role::"oncall" }"#
        ),
        "{purge}"
    );
    let bot = account(&rerun, r#"Agent::"bot""#);
    assert_eq!(
        held(bot),
        [
            pair("purge", r#"Doc::"a""#),
            pair("purge", r#"Doc::"b""#),
            pair("purge", r#"Doc::"c""#)
        ]
    );
    assert!(bot.held.iter().all(|h| h.held_ms == 30 * 60_000));
    // alice only receives a grant and takes no step: she is not right-sized
    // and keeps what the candidate gave her.
    let alice = suggestion
        .principals
        .iter()
        .find(|p| p.principal == r#"User::"alice""#)
        .unwrap();
    assert!(!alice.right_sized);
    assert_eq!(alice.before.held, 4);
    assert_eq!(alice.after.as_ref().unwrap().held, 4);
    assert!(
        suggestion
            .policies
            .contains(r#"unless { principal == Agent::"bot" };"#)
    );

    // Without the role condition the bot would hold the same pairs, but for
    // the whole run instead of the grant's window: that is new access too.
    let scenario = load_with(&folder.0.join("scenario.toml"), None);
    let candidate = privsim::evaluate(&scenario);
    let plan = suggest::plan(&scenario, &candidate, suggest::Options::default());
    let standing = suggest::render(&scenario, &plan)
        .text
        .replace(r#" && principal in Role::"oncall""#, "");
    let verdict = suggest::verify(&scenario, &candidate, &plan, &standing);
    let checks = &verdict.principals[r#"Agent::"bot""#];
    assert!(checks.exact.passed, "{checks:#?}");
    assert!(
        checks
            .no_new_access
            .failures
            .iter()
            .any(|f| f.contains("longer than the 1800000 ms the candidate allowed it")),
        "{checks:#?}"
    );
    assert!(
        !verdict.workflow.passed,
        "the purge at +40m is allowed again"
    );
}

#[test]
fn template_links_stay_links_and_a_linked_permit_is_narrowed() {
    let toml = format!(
        r#"{}
[[access]]
principal = 'User::"alice"'
action = 'Action::"read"'
resources = ['Doc::"c"', 'Doc::"d"']
{}"#,
        WORLD.replace(
            "policies = [\"p.cedar\"]",
            "policies = [\"p.cedar\"]\nlinks = \"links.json\""
        ),
        bot_step("+1m", "read", "a", "allow")
    );
    let policies = r#"@id("reader") permit (principal == ?principal, action == Action::"read", resource in ?resource) unless { resource == Doc::"b" };"#;
    let links = r#"[
        {"template_id": "reader", "link_id": "bot-reads-public", "args": {"?principal": "Agent::\"bot\"", "?resource": "Folder::\"public\""}},
        {"template_id": "reader", "link_id": "alice-reads-private", "args": {"?principal": "User::\"alice\"", "?resource": "Folder::\"private\""}}
    ]"#;
    let folder = Folder::new("links");
    folder.write("links.json", links);
    let (suggestion, rerun) = suggest_world(&folder, &toml, policies);
    assert_eq!(suggestion.narrowed, ["reader"]);
    let read = policy_for(&suggestion, r#"Agent::"bot""#, "suggest-bot-read");
    assert!(read.contains("@narrows(\"bot-reads-public\")"), "{read}");
    assert!(read.contains(r#"resource == Doc::"a""#), "{read}");
    // A link has no text of its own: its condition is written the way Cedar
    // renders it. `a` is always in `public`, so the link's scope adds nothing.
    assert!(read.contains(r#"Doc::"b""#), "{read}");
    assert!(!read.contains(r#"Folder::"public""#), "{read}");
    // alice's link still reads private docs: the access assertion holds.
    assert!(rerun.passed, "{rerun:#?}");
    assert_eq!(
        held(account(&rerun, r#"Agent::"bot""#)),
        [pair("read", r#"Doc::"a""#)]
    );
}

#[test]
fn keeping_access_assertions_what_only_more_access_could_fix_is_refused() {
    let toml = format!(
        r#"{WORLD}{}
[[access]]
principal = 'Agent::"bot"'
action = 'Action::"read"'
resources = ['Doc::"a"', 'Doc::"c"']
"#,
        bot_step("+1m", "read", "b", "allow")
    );
    let policies = r#"@id("bot-reads-a") permit (principal == Agent::"bot", action == Action::"read", resource == Doc::"a");"#;
    let folder = Folder::new("refused");
    folder.write("p.cedar", policies);
    folder.write("s.cedarschema", SCHEMA);
    let path = folder.write("scenario.toml", &toml);
    let suggestion = suggest::suggest_with(
        &load_with(&path, None),
        suggest::Options {
            keep_access: true,
            ..suggest::Options::default()
        },
    );
    assert_eq!(suggestion.status, Status::Refused);
    assert_eq!(suggestion.refusals.len(), 2, "{:#?}", suggestion.refusals);
    assert!(suggestion.refusals[0].starts_with("step 1 "));
    assert!(
        suggestion.refusals[0].contains("expects allow, but the candidate policies decide deny")
    );
    assert!(suggestion.refusals[1].contains(r#"on [Doc::"c"]"#));
    assert!(suggestion.policies.is_empty());
    assert!(suggestion.principals[0].verification.is_none());
}

#[test]
fn the_verifier_rejects_wrong_suggestions() {
    // The least-privilege candidate lets the agent list acme's tickets only.
    let scenario = load_with(&mcp_scenario(), None);
    let candidate = privsim::evaluate(&scenario);
    let plan = suggest::plan(&scenario, &candidate, suggest::Options::default());
    assert!(plan.refusals.is_empty());
    let rendered = suggest::render(&scenario, &plan);
    assert!(rendered.problems.is_empty());
    let right = suggest::verify(&scenario, &candidate, &plan, &rendered.text);
    assert!(right.passed(), "{right:#?}");

    // Listing every ticket: T-9 is new access, and more than is needed.
    let widened = format!(
        "{}\n@id(\"too-wide\") permit (principal == Agent::\"triage-bot\", action == Action::\"listTickets\", resource);\n",
        rendered.text
    );
    let verdict = suggest::verify(&scenario, &candidate, &plan, &widened);
    let bot = &verdict.principals[TRIAGE];
    assert!(verdict.workflow.passed);
    assert!(!bot.no_new_access.passed);
    assert!(
        bot.no_new_access
            .failures
            .iter()
            .any(|f| f.contains(r#"Action::"listTickets" on Ticket::"T-9""#)),
        "{bot:#?}"
    );
    assert!(!bot.exact.passed);
    assert!(!verdict.passed());

    // Commenting instead of reading: the workflow breaks and all three checks fail.
    let swapped = rendered.text.replace(
        r#"action == Action::"readTicket""#,
        r#"action == Action::"commentTicket""#,
    );
    let verdict = suggest::verify(&scenario, &candidate, &plan, &swapped);
    let bot = &verdict.principals[TRIAGE];
    assert!(!verdict.workflow.passed);
    assert!(
        verdict.workflow.failures[0].starts_with("step 2 "),
        "{:#?}",
        verdict.workflow
    );
    assert!(!bot.workflow.passed && !bot.no_new_access.passed && !bot.exact.passed);

    // Not Cedar at all.
    let broken = rendered.text.replacen("permit (", "permit ((", 1);
    let verdict = suggest::verify(&scenario, &candidate, &plan, &broken);
    assert!(!verdict.validation.passed && !verdict.workflow.passed);

    // Cedar, but not valid against the schema.
    let invalid = format!(
        "{}\n@id(\"typo\") permit (principal, action, resource) when {{ resource.sensitivty > 1 }};\n",
        rendered.text
    );
    let verdict = suggest::verify(&scenario, &candidate, &plan, &invalid);
    assert!(!verdict.validation.passed);
    assert!(
        verdict.validation.failures[0].contains("strict validation"),
        "{:#?}",
        verdict.validation
    );
}

#[test]
fn the_json_document_is_deterministic() {
    let scenario = load_with(&mcp_scenario(), Some(mcp_over_privileged()));
    let once =
        privsim_reports::suggest::render_json(&SuggestRun::new(vec![suggest::suggest(&scenario)]));
    let twice =
        privsim_reports::suggest::render_json(&SuggestRun::new(vec![suggest::suggest(&scenario)]));
    // By default the suggestion allows exactly the two pairs the allowed steps use.
    assert_eq!(once, twice);
    let json: serde_json::Value = serde_json::from_str(&once).unwrap();
    assert_eq!(json["format"], "privsim-suggest/1");
    let triage = &json["scenarios"][0]["principals"][0];
    assert_eq!(triage["verification"]["exact"]["passed"], true);
    assert_eq!(triage["after"]["held"], 2);
    assert_eq!(triage["after"]["used"], 2);
}

#[test]
fn by_default_the_suggestion_allows_exactly_what_the_steps_use() {
    let scenario = load_with(&mcp_scenario(), Some(mcp_over_privileged()));
    let suggestion = suggest::suggest(&scenario);
    assert_verified(&suggestion);
    let triage = &suggestion.principals[0];
    assert!(triage.required.is_empty(), "{:#?}", triage.required);
    let after = triage.after.as_ref().unwrap();
    assert_eq!(
        (after.held, after.used, after.unused, after.weighted_gap),
        (2, 2, 0, 0)
    );
    // The access assertion pinned readTicket on T-1 too, which no step uses: it is
    // named in the notes, not kept.
    assert!(
        suggestion
            .notes
            .iter()
            .any(|n| n.starts_with("access #1 ") && n.contains("--keep-access")),
        "{:#?}",
        suggestion.notes
    );
    // Re-run with the suggestion: every step decision is the intended one, the
    // agent holds exactly what it used, and only the pinned assertion fails.
    let folder = Folder::new("mcp-default");
    let rerun = replay_with_suggestion(&folder, &mcp_scenario(), &suggestion.policies);
    let bot = account(&rerun, TRIAGE);
    assert_eq!(
        held(bot),
        bot.used
            .iter()
            .map(|p| (p.action.clone(), p.resource.clone()))
            .collect::<Vec<_>>()
    );
    let failed_access: Vec<usize> = rerun
        .access
        .iter()
        .filter(|a| !a.passed)
        .map(|a| a.index)
        .collect();
    assert_eq!(failed_access, [1]);
    assert_eq!(rerun.access[0].missing, [r#"Ticket::"T-1""#]);
}

#[test]
fn every_example_scenario_gets_a_suggestion_that_verifies_or_is_refused() {
    // A suggestion that fails verification is a bug in `suggest`; a refusal
    // is a scenario whose candidate only more access could fix.
    for file in scenario::discover(&workspace().join("scenarios")).unwrap() {
        let suggestion = suggest::suggest(&load_with(&file, None));
        if suggestion.status != Status::Refused {
            assert_verified(&suggestion);
        }
    }
}

/// Runs `privsim <args>` from the workspace root; returns (exit code, stdout, stderr).
fn privsim(args: &[&str]) -> (i32, String, String) {
    crate::common::privsim_in(&workspace(), args)
}

#[test]
fn the_command_writes_verified_suggestions_and_exits_by_outcome() {
    let out = Folder::new("cli");
    let out_dir = out.0.display().to_string();
    let (code, stdout, stderr) = privsim(&[
        "suggest",
        "scenarios/mcp-support/least-privilege.toml",
        "--policies",
        "scenarios/mcp-support/policies/over-privileged.cedar",
        "--out",
        &out_dir,
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("VERIFIED "), "{stdout}");
    let written = std::fs::read_to_string(out.0.join("least-privilege.cedar")).unwrap();
    assert!(written.contains("@id(\"suggest-triage-bot-readTicket\")"));

    let (code, stdout, _) = privsim(&[
        "suggest",
        "scenarios/mcp-support/least-privilege.toml",
        "--policies",
        "scenarios/mcp-support/policies/over-privileged.cedar",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["scenarios"][0]["policies"], written);

    // A candidate that denies what the workflow expects is refused: exit 1.
    let refused = Folder::new("cli-refused");
    let mut toml = WORLD.to_string();
    toml.push_str(&bot_step("+1m", "read", "a", "allow"));
    refused.write("p.cedar", r#"forbid (principal, action, resource);"#);
    refused.write("s.cedarschema", SCHEMA);
    let path = refused.write("scenario.toml", &toml);
    let (code, stdout, _) = privsim(&["suggest", &path.display().to_string(), "--out", &out_dir]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.starts_with("REFUSED "), "{stdout}");
    assert!(!out.0.join("scenario.cedar").exists());

    // Bad input: exit 2.
    let (code, _, stderr) = privsim(&["suggest", "no-such-scenario.toml"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn odd_names_without_a_schema_are_written_as_valid_cedar() {
    // Quotes, a line break and `||` in ids and the name; no schema, so the
    // universe comes from the steps and the policies.
    let toml = r#"
[scenario]
name = "odd\nname // with a comment"
policies = ["p.cedar"]

[[entity]]
uid = 'Folder::"f || g"'
[[entity]]
uid = 'Doc::"a \"quoted\""'
parents = ['Folder::"f || g"']
[[entity]]
uid = 'Doc::"line\nbreak"'
parents = ['Folder::"f || g"']
[[entity]]
uid = 'Doc::"other"'

[[step]]
principal = 'Agent::"b\"o\"t"'
action = 'Action::"read"'
resource = 'Doc::"a \"quoted\""'
expect = "allow"
[[step]]
principal = 'Agent::"b\"o\"t"'
action = 'Action::"read"'
resource = 'Doc::"line\nbreak"'
expect = "allow"
[[step]]
principal = 'Agent::"b\"o\"t"'
action = 'Action::"read"'
resource = 'Doc::"other"'
expect = "deny"
"#;
    let policies = r#"permit (principal, action, resource);"#;
    let folder = Folder::new("odd");
    folder.write("p.cedar", policies);
    let path = folder.write("scenario.toml", toml);
    let suggestion = suggest::suggest(&load_with(&path, None));
    assert_verified(&suggestion);
    // The unnamed candidate permit keeps its default name.
    assert!(suggestion.policies.contains("@id(\"policy0\")"));
    let policy = &suggestion.principals[0].policies[0];
    assert!(
        policy
            .text
            .contains(r#"resource is Doc in Folder::"f || g""#),
        "{}",
        policy.text
    );
    let rerun = replay_with_suggestion(&folder, &path, &suggestion.policies);
    assert!(rerun.passed, "{rerun:#?}");
}

/// With `--prove`, a suggestion is proven to allow nothing the candidate
/// does not, in every world the schema allows (every request environment),
/// and the text and JSON say so.
#[test]
fn suggestions_are_proven_with_the_solver() {
    let (code, stdout, stderr) = privsim(&[
        "suggest",
        "scenarios/mcp-support/least-privilege.toml",
        "--policies",
        "scenarios/mcp-support/policies/over-privileged.cedar",
        "--prove",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "proven: allows nothing the candidate does not, in every world the schema allows"
        ),
        "{stdout}"
    );
    let (code, json, stderr) = privsim(&[
        "suggest",
        "scenarios/mcp-support/least-privilege.toml",
        "--policies",
        "scenarios/mcp-support/policies/over-privileged.cedar",
        "--prove",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let document: serde_json::Value = serde_json::from_str(&json).unwrap();
    let proof = &document["scenarios"][0]["proof"];
    assert_eq!(proof["verdict"], "proven", "{proof}");
    let environments = proof["environments"].as_u64().unwrap();
    assert!(environments > 0, "{proof}");
    assert_eq!(proof["proven"].as_u64(), Some(environments), "{proof}");
    // Without `--prove`, nothing is claimed.
    let (_, json, _) = privsim(&[
        "suggest",
        "scenarios/mcp-support/least-privilege.toml",
        "--no-prove",
        "--format",
        "json",
    ]);
    assert!(!json.contains("\"proof\""), "{json}");
}

/// A suggestion the proof refutes (here: the suggestion's text widened
/// after replay verified it) is not verified: the counterexample, confirmed
/// by Cedar, says what it allows that the candidate does not.
#[test]
fn a_refuted_suggestion_is_not_verified() {
    let file = workspace().join("scenarios/mcp-support/least-privilege.toml");
    let loaded = load_with(&file, None);
    let mut suggestion = suggest::suggest(&loaded);
    assert_eq!(suggestion.status, Status::Verified);
    suggestion
        .policies
        .push_str("\n@id(\"too-wide\")\npermit(principal, action, resource);\n");
    let prover = privsim::prove::Prover::new(privsim::prove::SolverConfig::default())
        .expect("cvc5 is needed (apt-get install -y cvc5, or set $CVC5)");
    suggest::proof::prove(&prover, &loaded, &mut suggestion);
    let proof = suggestion.proof.as_ref().unwrap();
    assert_eq!(
        proof.verdict,
        privsim::model::suggest::ProofVerdict::Refuted,
        "{proof:?}"
    );
    assert_eq!(suggestion.status, Status::Failed);
    assert!(
        proof
            .details
            .iter()
            .any(|d| d.contains("which the candidate denies (confirmed by Cedar)")),
        "{proof:?}"
    );
    assert!(proof.proven < proof.environments, "{proof:?}");
}
