//! The loader: reads a parsed scenario (`raw`), its shared world and the
//! Cedar files it names, resolves every reference and builds every request
//! up front, locating each error in the file it comes from.
//!
//! This file holds the `Loader` and `Loader::load`, which calls the others
//! in order: `files.rs` (reading named files, confined to the scenario's
//! folder), `policies.rs` (policies, schema, risk weights), `entities.rs`
//! (facts, entities, defaults), `sessions.rs` (sessions, chains, grants,
//! contexts), `steps.rs` (repeats, steps and their requests, the names they
//! refer to) and `effects.rs` (durations, effects, invariants, never rules,
//! access assertions). Each adds methods to the one `Loader`.

mod effects;
mod entities;
mod files;
mod policies;
mod sessions;
mod steps;

use super::*;

/// A session's `[defaults.session]` entries, with where its id was last written.
type SessionDefaults = (Origin, Range<usize>, Map<String, Value>);

/// The `[defaults]` of a scenario and its shared world, merged.
#[derive(Debug, Default)]
struct Defaults {
    all: Map<String, Value>,
    by_type: BTreeMap<String, Map<String, Value>>,
    /// Where each `[defaults.principal_type]` entry was written.
    type_spans: BTreeMap<String, (Origin, Range<usize>)>,
    /// Entries by session id, with where the id was last written.
    by_session: BTreeMap<String, SessionDefaults>,
}

/// Where time starts when the scenario does not say.
const DEFAULT_START: &str = "1970-01-01T00:00:00Z";

/// Loads one scenario file.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Scenario> {
    let file = SourceFile::read(path, path.display().to_string())?;
    load_source(file, options)
}

/// Loads a scenario whose text is already in memory; its referenced files are
/// read relative to `file.path`.
pub fn load_source(file: SourceFile, options: &LoadOptions) -> Result<Scenario> {
    crate::progress::phase(crate::progress::Phase::Loading, 0);
    let raw: RawScenario = parse_toml(&file)?;
    Loader::new(file, options)?.load(raw)
}

/// Loads a scenario already in the raw model, built in memory rather than
/// parsed from text (the streamed replay of a request log builds one per
/// window of requests: `import/stream/windowed.rs`). Resolution is the one
/// [`load_source`] runs after parsing; only the text is skipped. `file` says
/// where the scenario lives (its referenced files are read relative to
/// `file.path`, and `file.display` names it in results); errors, warnings and
/// step lines are located by the spans of `raw` in `file.text`, so a caller
/// that builds spans without text (`0..0`) and needs exact locations loads
/// the scenario's text instead when there is an error or a warning.
pub fn load_raw(file: SourceFile, raw: RawScenario, options: &LoadOptions) -> Result<Scenario> {
    crate::progress::phase(crate::progress::Phase::Loading, 0);
    Loader::new(file, options)?.load(raw)
}

/// Parses the TOML text into the raw model, locating syntax and shape errors.
pub fn parse_toml(file: &SourceFile) -> privsim_model::diag::Result<RawScenario> {
    parse_toml_as(file, "a scenario")
}

/// Parses a scenario or shared world file, locating syntax and shape errors.
fn parse_toml_as<T: serde::de::DeserializeOwned>(
    file: &SourceFile,
    what: &str,
) -> privsim_model::diag::Result<T> {
    Ok(toml::from_str(&file.text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim_end_matches('\n').replace('\n', "; ");
        let error = file.error(span, message);
        if e.message().contains("missing field `scenario`") {
            error.with_help(format!(
                "{what} needs a `[scenario]` table; a shared world file is named `world.toml` or `NAME.world.toml` so that folder runs pass over it"
            ))
        } else if e.message().contains("unknown field") {
            error.with_help(
                "check the spelling; the scenario format is documented in docs/scenario-format.md",
            )
        } else {
            error
        }
    })?)
}

struct Loader<'a> {
    file: SourceFile,
    /// The scenario's folder, canonical: referenced files must be inside it.
    root: PathBuf,
    /// The folder the scenarios are run from, canonical (`root` or one of
    /// its ancestors): a shared world must be inside it.
    run_root: PathBuf,
    /// `run_root` as the user gave it, for messages.
    run_root_display: String,
    /// The shared world file, when the scenario names one.
    world: Option<SourceFile>,
    /// Which file the items being loaded come from, so errors point into it.
    origin: Cell<Origin>,
    options: &'a LoadOptions,
    warnings: Vec<String>,
    /// Session ids to their index in `Scenario::sessions`, built on first use
    /// (after the sessions are loaded): steps name sessions by id, and a
    /// scenario may have many thousands of both.
    session_index: std::cell::OnceCell<HashMap<String, usize>>,
    /// The files read so far (canonical).
    inputs: RefCell<BTreeSet<PathBuf>>,
    /// Entity references already read, by their written text: Cedar's
    /// parser is costly, and a scenario built from a request log names the
    /// same few actions and resources on thousands of steps. Reading is a
    /// pure function of the text and only references that read are kept,
    /// so an error is reported exactly as without the cache.
    uids: RefCell<HashMap<String, EntityUid>>,
    /// The (principal, action, resource) of delegation-ceiling requests the
    /// schema accepted with a context it had accepted for the step's own
    /// request (`Loader::ceiling_request` says why such a request needs no
    /// second check).
    accepted_ceilings: std::collections::HashSet<(EntityUid, EntityUid, EntityUid)>,
    /// Entity references as Cedar writes them (`EntityUid`'s `Display`),
    /// by reference: every step labels its principal, action, resource and
    /// chain, and looks its principal and resource up in the world by this
    /// text, and a scenario built from a request log names the same few on
    /// thousands of steps.
    texts: RefCell<HashMap<EntityUid, String>>,
}

/// The file an item of the scenario was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Scenario,
    World,
}

/// The most repetitions one step may stand for, so a typo cannot make a
/// scenario that takes hours to load.
const MAX_REPEAT: i64 = 10_000;

fn span<T>(value: &Spanned<T>) -> Range<usize> {
    value.span()
}

impl<'a> Loader<'a> {
    fn new(file: SourceFile, options: &'a LoadOptions) -> Result<Self> {
        let folder = file
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let folder = if folder.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            folder
        };
        let root = folder.canonicalize().map_err(|source| Error::Io {
            path: folder.display().to_string(),
            source,
        })?;
        // A run root the scenario is not inside widens nothing.
        let given = options
            .root
            .as_ref()
            .and_then(|r| Some((r.canonicalize().ok()?, r.display().to_string())))
            .filter(|(r, _)| root.starts_with(r));
        let (run_root, run_root_display) =
            given.unwrap_or_else(|| (root.clone(), folder.display().to_string()));
        let inputs = RefCell::new(BTreeSet::from_iter(file.path.canonicalize().ok()));
        Ok(Self {
            file,
            root,
            run_root,
            run_root_display,
            world: None,
            origin: Cell::new(Origin::Scenario),
            options,
            warnings: Vec::new(),
            session_index: std::cell::OnceCell::new(),
            inputs,
            uids: RefCell::new(HashMap::new()),
            accepted_ceilings: std::collections::HashSet::new(),
            texts: RefCell::new(HashMap::new()),
        })
    }

    /// The file items of `origin` were written in.
    fn file_of(&self, origin: Origin) -> &SourceFile {
        match (origin, &self.world) {
            (Origin::World, Some(world)) => world,
            _ => &self.file,
        }
    }

    fn err(&self, range: Range<usize>, message: impl Into<String>) -> Box<SourceError> {
        Box::new(self.file_of(self.origin.get()).error(range, message))
    }

    /// Runs `load` with errors pointing into the file of `origin`.
    fn within_file<T>(&self, origin: Origin, load: impl FnOnce() -> Result<T>) -> Result<T> {
        let before = self.origin.replace(origin);
        let result = load();
        self.origin.set(before);
        result
    }

    fn uid(&self, written: &Spanned<String>, what: &str) -> Result<EntityUid> {
        if let Some(uid) = self.uids.borrow().get(written.get_ref()) {
            return Ok(uid.clone());
        }
        let uid = parse_uid(written.get_ref()).map_err(|message| self.err(span(written), format!("{what}: {message}")).help_boxed("entity references use Cedar syntax, e.g. `User::\"alice\"`; in TOML write them in single quotes: 'User::\"alice\"'"))?;
        self.uids
            .borrow_mut()
            .insert(written.get_ref().clone(), uid.clone());
        Ok(uid)
    }

    /// `uid` as Cedar writes it (its `to_string`), made once per reference.
    fn text(&self, uid: &EntityUid) -> String {
        if let Some(text) = self.texts.borrow().get(uid) {
            return text.clone();
        }
        let text = uid.to_string();
        self.texts.borrow_mut().insert(uid.clone(), text.clone());
        text
    }

    fn action(&self, written: &Spanned<String>) -> Result<EntityUid> {
        let uid = self.uid(written, "bad action")?;
        if uid.type_name().basename() != "Action" {
            return Err(self
                .err(span(written), format!("`{uid}` is not an action"))
                .help_boxed("actions are entities of type `Action`, e.g. `Action::\"read\"`")
                .into());
        }
        Ok(uid)
    }

    fn time(&self, written: &Spanned<String>, start: Instant) -> Result<Instant> {
        time::parse_time(written.get_ref(), start).map_err(|message| self.err(span(written), message).help_boxed("times are RFC 3339 (`2026-06-01T09:00:00Z`) or offsets from the scenario start (`+5m`, `+1h30m`)").into())
    }

    fn table(&self, table: &Spanned<toml::Table>) -> Result<Map<String, Value>> {
        values::table_to_json(table.get_ref()).map_err(|message| {
            self.err(span(table), message)
                .help_boxed(values::HELP)
                .into()
        })
    }

    fn load(mut self, mut raw: RawScenario) -> Result<Scenario> {
        let world = match &raw.scenario.get_ref().world {
            Some(written) => Some(self.read_world(written)?),
            None => None,
        };
        raw.steps = self.expand_repeats(std::mem::take(&mut raw.steps))?;
        let header = raw.scenario.get_ref();
        let name = header.name.get_ref().trim().to_string();
        if name.is_empty() {
            return Err(self
                .err(span(&header.name), "the scenario name is empty")
                .into());
        }
        let start = match &header.start {
            Some(start) => {
                Instant::parse_rfc3339(start.get_ref()).map_err(|m| self.err(span(start), m))?
            }
            None => Instant::parse_rfc3339(DEFAULT_START).map_err(Error::Internal)?,
        };

        let policies = self.policies(header)?;
        let mut attributes = BTreeMap::new();
        let schema_file = self.named(&self.options.schema, header.schema.as_ref())?;
        let schema = match &schema_file {
            Some(file) => {
                let schema = cedar_files::parse_schema(file)?;
                attributes = cedar_files::schema_attributes(file);
                Some(schema)
            }
            None => None,
        };
        let validate = header.validate.as_ref().is_none_or(|v| *v.get_ref());
        if let Some(schema) = schema.as_ref().filter(|_| validate) {
            cedar_files::validate(&policies, schema)?;
        }

        let world_facts = world.as_ref().and_then(|w| w.facts.as_ref());
        let mut facts = match (world_facts, &raw.facts) {
            (Some(_), Some(own)) => {
                return Err(self
                    .err(span(own), "`[facts]` is set in the shared world too")
                    .help_boxed("keep `[facts]` in one of the two files")
                    .into());
            }
            (Some(shared), None) => self.within_file(Origin::World, || self.facts(Some(shared)))?,
            (None, own) => self.facts(own.as_ref())?,
        };
        let no_items = (Vec::new(), Vec::new(), Vec::new());
        let (world_entities, world_sessions, world_grants) = world
            .as_ref()
            .map_or((&no_items.0, &no_items.1, &no_items.2), |w| {
                (&w.entities, &w.sessions, &w.grants)
            });
        let mut base = self.entities(header, schema.as_ref())?;
        self.within_file(Origin::World, || {
            self.inline_entities(world_entities, schema.as_ref(), &mut base)
        })?;
        self.inline_entities(&raw.entities, schema.as_ref(), &mut base)?;
        let defaults = self.defaults(
            world.as_ref().and_then(|w| w.defaults.as_ref()),
            raw.defaults.as_ref(),
            &facts,
        )?;
        let mut sessions = Vec::new();
        self.within_file(Origin::World, || {
            self.sessions(world_sessions, &mut sessions, start, &facts, &defaults)
        })?;
        self.sessions(&raw.sessions, &mut sessions, start, &facts, &defaults)?;
        self.unknown_default_sessions(&defaults, &sessions)?;
        facts.defaults = DefaultContext {
            all: defaults.all.clone(),
            by_type: defaults.by_type.clone(),
        };
        let mut grants = Vec::new();
        self.within_file(Origin::World, || {
            self.grants(world_grants, &mut grants, start)
        })?;
        self.grants(&raw.grants, &mut grants, start)?;
        let world = World::build(base, &grants, schema.as_ref()).map_err(|e| {
            let grant_at = e.grant.and_then(|g| {
                let from_world = world_grants.len();
                if g < from_world {
                    world_grants.get(g).map(|w| (Origin::World, span(w)))
                } else {
                    raw.grants
                        .get(g - from_world)
                        .map(|w| (Origin::Scenario, span(w)))
                }
            });
            let (origin, at) = grant_at.unwrap_or_else(|| {
                (
                    Origin::Scenario,
                    header.entities.as_ref().map_or(0..0, span),
                )
            });
            let subject = if e.grant.is_some() {
                "with this grant applied, the entities are invalid"
            } else {
                "the entities are invalid"
            };
            Box::new(
                self.file_of(origin)
                    .error(at, format!("{subject}: {}", e.message)),
            )
        })?;
        self.warn_unused_types(&defaults, &world, &sessions);

        let risk = self.risk(raw.risk.as_ref(), schema.as_ref(), &policies)?;
        let tick = header.tick.as_ref().map(|t| self.duration(t)).transpose()?;
        let observation = self.observation(header, start)?;
        let mut scenario = Scenario {
            name,
            description: header.description.clone(),
            file: self.file.clone(),
            policies,
            schema,
            schema_file,
            start,
            facts,
            world,
            sessions,
            grants,
            steps: Vec::new(),
            access: Vec::new(),
            risk,
            effects: Vec::new(),
            never: Vec::new(),
            invariants: self.invariants(raw.invariants.as_ref()),
            tick,
            observation,
            untimed_steps: 0,
            warnings: Vec::new(),
            inputs: BTreeSet::new(),
            enumerated_types: std::sync::OnceLock::new(),
        };
        scenario.effects = self.effects(&raw, &scenario)?;
        self.effect_attributes(&raw, &scenario, &attributes)?;
        scenario.never = self.never(&raw, &scenario)?;
        scenario.steps = self.steps(&raw, &scenario)?;
        scenario.untimed_steps = raw
            .steps
            .iter()
            .map(Spanned::get_ref)
            .filter(|s| s.at.is_none() && !(s.every.is_some() && s.repetition > 0))
            .count();
        scenario.access = self.access(&raw, &scenario)?;
        scenario.warnings = std::mem::take(&mut self.warnings);
        scenario.inputs = self.inputs.take();
        Ok(scenario)
    }

    /// The observation window: the command line's parts, else the
    /// scenario's own (`window_start`, `window_end`, `unused_after`).
    fn observation(&self, header: &raw::RawHeader, start: Instant) -> Result<Observation> {
        let given = &self.options.observation;
        let time_of =
            |flag: &Option<String>, key: &Option<Spanned<String>>| -> Result<Option<Instant>> {
                match (flag, key) {
                    (Some(written), _) => time::parse_time(written, start)
                        .map(Some)
                        .map_err(Error::BadArgument),
                    (None, Some(written)) => self.time(written, start).map(Some),
                    (None, None) => Ok(None),
                }
            };
        let window_start = time_of(&given.start, &header.window_start)?;
        let window_end = time_of(&given.end, &header.window_end)?;
        if let (Some(from), Some(to)) = (window_start, window_end)
            && to < from
        {
            let message = format!("the observation window ends ({to}) before it starts ({from})");
            return Err(match (&given.end, &header.window_end) {
                (None, Some(written)) => self
                    .err(span(written), message)
                    .help_boxed("set `window_end` at or after `window_start`")
                    .into(),
                _ => Error::BadArgument(message),
            });
        }
        let unused_after = match (given.unused_after, &header.unused_after) {
            (Some(millis), _) => millis,
            (None, Some(written)) => self.duration(written)?,
            (None, None) => DEFAULT_UNUSED_AFTER_MS,
        };
        Ok(Observation {
            start: window_start,
            end: window_end,
            unused_after,
        })
    }
}

trait HelpBoxed {
    fn help_boxed(self, help: impl Into<String>) -> Box<SourceError>;
}

impl HelpBoxed for Box<SourceError> {
    fn help_boxed(self, help: impl Into<String>) -> Box<SourceError> {
        Box::new((*self).with_help(help))
    }
}
