//! The loaded scenario, ready to replay: its options, sessions, steps,
//! expectations and access assertions, and the session context a request
//! presents ([`session_context`]).

use super::*;

/// Options that change how scenarios load.
#[derive(Debug, Default, Clone)]
pub struct LoadOptions {
    /// Replace the scenario's `policies` with this file or folder of `.cedar` files.
    pub policies: Option<PathBuf>,
    /// How to show files of `policies` (relative to it) in results and
    /// errors, e.g. `REV:path/in/repo.cedar` for a git revision written to a
    /// temporary folder; others show their path.
    pub policy_displays: BTreeMap<PathBuf, String>,
    /// The schema to read instead of the scenario's own (`[scenario] schema`).
    pub schema: NamedFile,
    /// The entities file to read instead of the scenario's own.
    pub entities: NamedFile,
    /// The template links to read instead of the scenario's own.
    pub links: NamedFile,
    /// The folder the scenarios are run from: a scenario's shared world
    /// (`world = "..."`) may be anywhere inside it. `None`: the scenario's
    /// own folder. Every other file a scenario names stays inside the
    /// scenario's own folder either way.
    pub root: Option<PathBuf>,
    /// The observation window as the command line sets it
    /// (`--window-start`, `--window-end`, `--unused-after`); each part given
    /// replaces the scenario's own.
    pub observation: ObservationOptions,
}

/// The observation window's parts given outside the scenario file, as
/// written (times are RFC 3339 or offsets from each scenario's start, so
/// they are resolved per scenario).
#[derive(Debug, Default, Clone)]
pub struct ObservationOptions {
    /// The window's start.
    pub start: Option<String>,
    /// The window's end.
    pub end: Option<String>,
    /// The unused-access threshold, in milliseconds.
    pub unused_after: Option<i64>,
}

impl ObservationOptions {
    /// Checks the written times and the threshold before any scenario is
    /// loaded, so that a bad flag is one usage error, not one per scenario.
    pub fn validate(&self) -> std::result::Result<(), String> {
        for (flag, written) in [("--window-start", &self.start), ("--window-end", &self.end)] {
            if let Some(written) = written {
                time::parse_time(written, Instant(0)).map_err(|message| {
                    format!("`{flag}`: {message}; times are RFC 3339 (`2026-06-01T09:00:00Z`) or offsets from the scenario start (`+30d`)")
                })?;
            }
        }
        if self.unused_after.is_some_and(|millis| millis <= 0) {
            return Err("`--unused-after` must be longer than zero".to_string());
        }
        Ok(())
    }
}

/// The unused-access threshold when neither the scenario nor the command
/// line sets one: 90 days, IAM Access Analyzer's default.
pub const DEFAULT_UNUSED_AFTER_MS: i64 = 90 * 86_400_000;

/// The observation window the accounting reports unused access over
/// (`[scenario] window_start`, `window_end`, `unused_after`, or the command
/// line's flags). Unset ends default to the first and last step's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// The window's start, when set.
    pub start: Option<Instant>,
    /// The window's end, when set.
    pub end: Option<Instant>,
    /// The unused-access threshold, in milliseconds.
    pub unused_after: i64,
}

/// One of the files a scenario names (its schema, entities or template
/// links), as another version of the scenario has it: the gate loads a `git:`
/// baseline with the files as they are at the revision.
#[derive(Debug, Default, Clone)]
pub enum NamedFile {
    /// The file the scenario names, read from its folder.
    #[default]
    Own,
    /// No such file in this version: the scenario loads without it.
    Missing,
    /// This text instead (its `display`, e.g. `REV:path`, locates errors).
    Given(SourceFile),
}

impl LoadOptions {
    /// These options for the scenarios found under `path`, as `privsim run
    /// PATH` loads them: a folder is the root; for a scenario file, the
    /// current folder when the file is inside it, else the file's folder.
    #[must_use]
    pub fn under(&self, path: &Path) -> Self {
        let root = if path.is_dir() {
            path.to_path_buf()
        } else {
            let folder = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            let current = Path::new(".").canonicalize().ok();
            match (folder.canonicalize().ok(), current) {
                (Some(inside), Some(current)) if inside.starts_with(&current) => PathBuf::from("."),
                _ => folder,
            }
        };
        Self {
            root: Some(root),
            ..self.clone()
        }
    }
}

/// Which simulator facts are sent in request contexts, and under which keys.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Facts {
    /// The step's time as a Cedar `datetime`.
    pub now: Option<String>,
    /// The step's time as whole seconds since the Unix epoch (a `Long`).
    pub now_unix: Option<String>,
    /// The entity the session acts for (omitted when it acts for nobody).
    pub delegator: Option<String>,
    /// The first delegator of the chain, usually the human (omitted when acting for nobody).
    pub root: Option<String>,
    /// The delegation chain, root delegator first, acting principal last (a `Set` of entities).
    pub chain: Option<String>,
    /// The chain as a `Set<String>` of Cedar UID strings, which a schema can always type.
    pub chain_uids: Option<String>,
    /// The number of delegation hops (a `Long`; 0 when acting for nobody).
    pub depth: Option<String>,
    /// The session's task (omitted when it has none).
    pub task: Option<String>,
    /// The session id (omitted for steps without a session).
    pub session: Option<String>,
    /// `[defaults]` entries every request presents, by principal type too
    /// (session defaults are folded into each session's own context).
    #[serde(skip)]
    pub defaults: DefaultContext,
}

/// The `[defaults]` context entries that do not belong to one session.
#[derive(Debug, Default, Clone)]
pub struct DefaultContext {
    /// Entries every request presents.
    pub all: Map<String, Value>,
    /// Entries the requests of principals of a type present, by type name
    /// (`App::Agent`); they replace `all`'s entries of the same key.
    pub by_type: BTreeMap<String, Map<String, Value>>,
}

impl Facts {
    /// The context keys the facts fill.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        [
            &self.now,
            &self.now_unix,
            &self.delegator,
            &self.root,
            &self.chain,
            &self.chain_uids,
            &self.depth,
            &self.task,
            &self.session,
        ]
        .into_iter()
        .flatten()
    }
}

/// The context a session presents at a time: the `[defaults]` for every
/// request and for the principal's type, the facts, then the session's own
/// entries (which hold its `[defaults.session]` entries too; no default or
/// session key collides with a fact key, checked at load time). `chain` is the
/// delegation chain, root first, ending with `principal`.
pub fn session_context(
    facts: &Facts,
    at: Instant,
    session: Option<&Session>,
    principal: &EntityUid,
    chain: &[EntityUid],
) -> Map<String, Value> {
    let mut context = facts.defaults.all.clone();
    // Nothing is built for a fact the scenario does not name (a log's
    // scenario names none, and builds this for every request): not even
    // the principal's type name, when no default is by type.
    if !facts.defaults.by_type.is_empty()
        && let Some(by_type) = facts
            .defaults
            .by_type
            .get(&principal.type_name().to_string())
    {
        for (key, value) in by_type {
            context.insert(key.clone(), value.clone());
        }
    }
    let mut put = |key: &Option<String>, value: &dyn Fn() -> Option<Value>| {
        if let Some(key) = key
            && let Some(value) = value()
        {
            context.insert(key.clone(), value);
        }
    };
    put(&facts.now, &|| {
        Some(serde_json::json!({ "__extn": { "fn": "datetime", "arg": at.to_string() } }))
    });
    put(&facts.now_unix, &|| Some(Value::from(at.unix_seconds())));
    let lone = [principal.clone()];
    let chain = if chain.is_empty() { &lone[..] } else { chain };
    let delegator = chain.len().checked_sub(2).and_then(|i| chain.get(i));
    put(&facts.delegator, &|| delegator.map(world::entity_value));
    put(&facts.root, &|| {
        chain
            .first()
            .filter(|_| chain.len() > 1)
            .map(world::entity_value)
    });
    put(&facts.chain, &|| {
        Some(Value::Array(
            chain.iter().map(world::entity_value).collect(),
        ))
    });
    put(&facts.chain_uids, &|| {
        Some(Value::Array(
            chain
                .iter()
                .map(|uid| Value::from(uid.to_string()))
                .collect(),
        ))
    });
    put(&facts.depth, &|| Some(Value::from(chain.len() - 1)));
    put(&facts.task, &|| {
        session.and_then(|s| s.task.clone()).map(Value::from)
    });
    put(&facts.session, &|| {
        session.map(|s| Value::from(s.id.clone()))
    });
    if let Some(session) = session {
        for (key, value) in &session.context {
            context.insert(key.clone(), value.clone());
        }
    }
    context
}

/// A principal acting, possibly on behalf of others.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session's name.
    pub id: String,
    /// Who acts.
    pub principal: EntityUid,
    /// The delegation chain from the root delegator to `principal` (inclusive).
    pub chain: Vec<EntityUid>,
    /// The session this one was delegated from (`parent = "..."`), if any.
    pub parent: Option<usize>,
    /// The session's task description.
    pub task: Option<String>,
    /// Context entries the session presents (Cedar JSON).
    pub context: Map<String, Value>,
    /// When the session starts, if bounded.
    pub from: Option<Instant>,
    /// When the session ends, if bounded.
    pub until: Option<Instant>,
    /// Whether it acts only once a `start_session` effect started it.
    pub dormant: bool,
    /// For a dormant session: how long it runs once started (milliseconds).
    pub lifetime: Option<i64>,
}

impl Session {
    /// The entity this session acts for, if any.
    pub fn delegator(&self) -> Option<&EntityUid> {
        self.chain
            .len()
            .checked_sub(2)
            .and_then(|i| self.chain.get(i))
    }
}

/// What a step expects.
#[derive(Debug, Default, Clone)]
pub struct Expectation {
    /// `allow`, `deny` or `error`.
    pub decision: Option<Decision>,
    /// The exact set of determining policy ids.
    pub reason: Option<BTreeSet<String>>,
    /// The exact set of policy ids whose evaluation errored.
    pub errors: Option<BTreeSet<String>>,
    /// Policy ids that must be among the determining ones (others may be too).
    pub reason_includes: Option<BTreeSet<String>>,
    /// How many policies must have errored.
    pub error_count: Option<usize>,
}

/// One step of the workflow, with its Cedar request built.
#[derive(Debug, Clone)]
pub struct Step {
    /// 0-based position in the scenario.
    pub index: usize,
    /// Line of the `[[step]]` in the scenario file.
    pub line: usize,
    /// Optional label.
    pub name: Option<String>,
    /// When it happens.
    pub at: Instant,
    /// Index into `Scenario::sessions`.
    pub session: Option<usize>,
    /// Delegation chain, root first, the acting principal last.
    pub chain: Vec<EntityUid>,
    /// The acting principal.
    pub principal: EntityUid,
    /// The action.
    pub action: EntityUid,
    /// The resource.
    pub resource: EntityUid,
    /// The exact context sent to Cedar, in Cedar's JSON form (shared with the
    /// result model, which reports it as it is).
    pub context: Arc<Value>,
    /// The strings the result model writes for this step, made once here so
    /// replay spends its time in Cedar.
    pub labels: StepLabels,
    /// The request, or why the schema rejects it (only kept when the step expects `error`).
    pub request: std::result::Result<Request, String>,
    /// The same request made by each delegator up the chain, nearest first;
    /// `None` where the schema does not let the delegator make it.
    pub ceiling: Vec<(EntityUid, Option<Request>)>,
    /// What the step expects.
    pub expect: Expectation,
    /// Index into `World::segments`.
    pub segment: usize,
}

/// A step's UIDs as the result model writes them (its time is [`Step::at`]).
#[derive(Debug, Clone)]
pub struct StepLabels {
    /// The acting principal.
    pub principal: String,
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// The delegation chain, root first.
    pub chain: Vec<String>,
    /// The delegators of `Step::ceiling`, nearest first.
    pub delegators: Vec<String>,
}

/// An exact-access assertion with its candidate requests built.
#[derive(Debug, Clone)]
pub struct AccessCheck {
    /// 0-based position in the scenario.
    pub index: usize,
    /// Line of the `[[access]]` in the scenario file.
    pub line: usize,
    /// When it is checked.
    pub at: Instant,
    /// Whose access.
    pub principal: EntityUid,
    /// The session whose context is presented, if any.
    pub session: Option<usize>,
    /// The action.
    pub action: EntityUid,
    /// The resources that must be exactly the allowed ones (UID strings).
    pub expected: BTreeSet<String>,
    /// Every resource of the action's universe with its request.
    pub candidates: Vec<(EntityUid, Request)>,
    /// Index into `World::segments`.
    pub segment: usize,
    /// Whether it must hold in every state (`always = true`) rather than at `at`.
    pub always: bool,
}

/// A scenario ready to replay.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The scenario's name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The scenario file.
    pub file: SourceFile,
    /// The candidate policies.
    pub policies: Policies,
    /// The schema, when the scenario has one.
    pub schema: Option<Schema>,
    /// The schema's text as read (a proof's cache key, a repro's schema).
    pub schema_file: Option<SourceFile>,
    /// The clock's start.
    pub start: Instant,
    /// The facts mapping.
    pub facts: Facts,
    /// Entities over time.
    pub world: World,
    /// Sessions.
    pub sessions: Vec<Session>,
    /// Time-bound grants.
    pub grants: Vec<Grant>,
    /// The workflow, in time order.
    pub steps: Vec<Step>,
    /// Exact-access assertions.
    pub access: Vec<AccessCheck>,
    /// Risk weights of actions.
    pub risk: RiskWeights,
    /// What allowed actions do to the world.
    pub effects: Vec<Effect>,
    /// Access that must never be reachable.
    pub never: Vec<NeverRule>,
    /// Which built-in invariants are checked.
    pub invariants: Invariants,
    /// `[scenario] tick`: the search also moves the clock on by this many
    /// milliseconds (`fuzz --tick` overrides it).
    pub tick: Option<i64>,
    /// The observation window of the accounting.
    pub observation: Observation,
    /// Steps written without a time of their own (no `at`, no `every`):
    /// they take the previous step's time.
    pub untimed_steps: usize,
    /// Things that are allowed but probably not meant (e.g. a step on an entity the world lacks).
    pub warnings: Vec<String>,
    /// Every file the scenario was loaded from (canonical paths): the
    /// scenario, its shared world, policies, schema, entities and links
    /// files; for a policy folder, the folder (every `.cedar` file in it is
    /// read). `--watch` re-runs the scenario when one of them changes. The
    /// `--policies` override ([`LoadOptions::policies`]) is not listed.
    pub inputs: BTreeSet<PathBuf>,
    /// [`Scenario::declares_enumerated_types`], once asked: every machine
    /// made for the scenario asks, and reading a Cedar schema again cost
    /// about 8% of an exhaustive search of a small world.
    pub(crate) enumerated_types: std::sync::OnceLock<bool>,
}

impl Scenario {
    /// Whether the schema declares an enumerated entity type (`enum
    /// [...]`), or might: `true` when its JSON form cannot be had; `false`
    /// without a schema. Cedar checks a request's principal and resource
    /// of such a type by id, so requests of one shape are then not all
    /// alike.
    pub fn declares_enumerated_types(&self) -> bool {
        *self.enumerated_types.get_or_init(|| {
            self.schema_file
                .as_ref()
                .is_some_and(schema_declares_enumerated_types)
        })
    }
}

/// [`Scenario::declares_enumerated_types`] of a schema file.
fn schema_declares_enumerated_types(file: &SourceFile) -> bool {
    let json = if file.display.ends_with(".json") {
        serde_json::from_str::<serde_json::Value>(&file.text).ok()
    } else if !file.text.contains("enum") {
        // The Cedar schema syntax declares one only with the keyword `enum`,
        // which no escape can spell otherwise.
        return false;
    } else {
        super::cedar_files::on_a_large_stack(|| {
            cedar_policy::SchemaFragment::from_cedarschema_str(&file.text)
                .ok()
                .and_then(|(fragment, _)| fragment.to_json_value().ok())
        })
    };
    let Some(namespaces) = json.as_ref().and_then(serde_json::Value::as_object) else {
        return true;
    };
    namespaces.values().any(|namespace| {
        namespace
            .get("entityTypes")
            .and_then(serde_json::Value::as_object)
            .is_some_and(|types| types.values().any(|t| t.get("enum").is_some()))
    })
}
