//! The loader: reads a parsed scenario (`raw`), its shared world and the
//! Cedar files it names, resolves every reference and builds every request
//! up front, locating each error in the file it comes from.

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

/// Replaces `{i}` in every string a repeated step holds (names, ids,
/// context values, expected policy ids) with `number`.
fn substitute_step(step: &mut raw::RawStep, number: &str) {
    fn text(value: &mut String, number: &str) {
        if value.contains("{i}") {
            *value = value.replace("{i}", number);
        }
    }
    fn spanned(value: &mut Spanned<String>, number: &str) {
        if value.get_ref().contains("{i}") {
            let replaced = value.get_ref().replace("{i}", number);
            *value = Spanned::new(value.span(), replaced);
        }
    }
    fn list(value: &mut Option<Spanned<Vec<Spanned<String>>>>, number: &str) {
        if let Some(list) = value {
            let at = list.span();
            let mut items = std::mem::take(list.get_mut());
            items.iter_mut().for_each(|item| spanned(item, number));
            *list = Spanned::new(at, items);
        }
    }
    fn toml_value(value: &mut toml::Value, number: &str) {
        match value {
            toml::Value::String(s) => text(s, number),
            toml::Value::Array(items) => items.iter_mut().for_each(|v| toml_value(v, number)),
            toml::Value::Table(table) => table.iter_mut().for_each(|(_, v)| toml_value(v, number)),
            _ => {}
        }
    }
    if let Some(name) = &mut step.name {
        text(name, number);
    }
    for value in [&mut step.session, &mut step.principal]
        .into_iter()
        .flatten()
    {
        spanned(value, number);
    }
    spanned(&mut step.action, number);
    spanned(&mut step.resource, number);
    if let Some(context) = &mut step.context {
        context
            .get_mut()
            .iter_mut()
            .for_each(|(_, v)| toml_value(v, number));
    }
    list(&mut step.expect_reason, number);
    list(&mut step.expect_reason_includes, number);
    list(&mut step.expect_errors, number);
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

    /// Reads and parses the shared world a scenario names: relative to the
    /// scenario's folder, and inside the folder the scenarios are run from
    /// (checked on the written path before any file is opened, then on the
    /// real one, so a symbolic link cannot lead out either).
    fn read_world(&mut self, written: &Spanned<String>) -> Result<raw::RawWorld> {
        let text = written.get_ref();
        let here = span(written);
        let relative = Path::new(text);
        let escapes = || -> Error {
            self.err(
                here.clone(),
                format!("the shared world `{text}` leaves the folder the scenarios are run from"),
            )
            .help_boxed(format!(
                "a shared world must be inside `{}`, the folder the scenarios are run from (the folder given to privsim; for a scenario file, the current folder); move it there or run from a folder that holds it",
                self.run_root_display
            ))
            .into()
        };
        self.relative(written)?;
        if !normalize(&self.root.join(relative)).starts_with(&self.run_root) {
            return Err(escapes());
        }
        let joined = self.root.join(relative);
        let canonical = match joined.canonicalize() {
            Ok(canonical) => canonical,
            Err(e) => {
                let message = if e.kind() == std::io::ErrorKind::NotFound {
                    format!("the shared world `{text}` does not exist")
                } else {
                    format!("cannot open `{text}`: {e}")
                };
                return Err(self
                    .err(here, message)
                    .help_boxed("paths are relative to the folder that holds the scenario file")
                    .into());
            }
        };
        if !canonical.starts_with(&self.run_root) {
            return Err(escapes());
        }
        if canonical.is_dir() {
            return Err(self
                .err(here, format!("`{text}` is a folder, not a file"))
                .into());
        }
        let display_parent = self.file.path.parent().unwrap_or(Path::new(""));
        let display = normalize(&display_parent.join(relative))
            .display()
            .to_string();
        let file = SourceFile::read(&canonical, display)?;
        self.inputs.borrow_mut().insert(canonical);
        let world: raw::RawWorld = parse_toml_as(&file, "a shared world")?;
        if let Some(nested) = &world.world {
            return Err(Box::new(
                file.error(span(nested), "a shared world cannot name another world")
                    .with_help("shared worlds do not nest; move what you need into this file"),
            )
            .into());
        }
        self.world = Some(file);
        Ok(world)
    }

    /// The path written at `written`, which must be relative (not empty, no
    /// root, no drive prefix).
    fn relative<'w>(&self, written: &'w Spanned<String>) -> Result<&'w Path> {
        let text = written.get_ref();
        let relative = Path::new(text);
        if text.is_empty()
            || relative.is_absolute()
            || relative
                .components()
                .any(|c| matches!(c, Component::Prefix(_) | Component::RootDir))
        {
            return Err(self
                .err(
                    span(written),
                    format!("path `{text}` must be relative to the scenario file"),
                )
                .help_boxed("write the path relative to the folder that holds the scenario")
                .into());
        }
        Ok(relative)
    }

    /// Resolves a path written in the scenario: relative, inside the scenario's folder tree.
    fn resolve(&self, written: &Spanned<String>) -> Result<(PathBuf, String)> {
        let text = written.get_ref();
        let here = span(written);
        let relative = self.relative(written)?;
        // Refuse `..` that climbs out before touching the file system, so a
        // scenario cannot probe which files exist outside its folder.
        if normalize(relative).starts_with("..") {
            return Err(self.escapes(here, text));
        }
        let joined = self.root.join(relative);
        let canonical = joined.canonicalize().map_err(|e| {
            let message = if e.kind() == std::io::ErrorKind::NotFound {
                match std::fs::read_link(&joined) {
                    // A dangling link: say where it points, and refuse it
                    // as leaving the folder when it does.
                    Ok(target) => {
                        let parent = joined.parent().unwrap_or(&self.root);
                        if !normalize(&parent.join(&target)).starts_with(&self.root) {
                            return self.escapes(here.clone(), text);
                        }
                        format!(
                            "`{text}` is a symbolic link to `{}`, which does not exist",
                            target.display()
                        )
                    }
                    Err(_) => format!("`{text}` does not exist"),
                }
            } else {
                format!("cannot open `{text}`: {e}")
            };
            self.err(here.clone(), message)
                .help_boxed("paths are relative to the folder that holds the scenario file")
                .into()
        })?;
        if !canonical.starts_with(&self.root) {
            return Err(self.escapes(here, text));
        }
        self.inputs.borrow_mut().insert(canonical.clone());
        let display_parent = self.file.path.parent().unwrap_or(Path::new(""));
        let display = normalize(&display_parent.join(relative))
            .display()
            .to_string();
        Ok((canonical, display))
    }

    /// The error for a referenced path that resolves outside the scenario's folder.
    fn escapes(&self, here: Range<usize>, text: &str) -> Error {
        self.err(here, format!("path `{text}` leaves the scenario's folder"))
            .help_boxed("scenario files may only reference files in their own folder or below it; move the file or the scenario")
            .into()
    }

    fn read(&self, written: &Spanned<String>) -> Result<SourceFile> {
        let (path, display) = self.resolve(written)?;
        if path.is_dir() {
            return Err(self
                .err(
                    span(written),
                    format!("`{}` is a folder, not a file", written.get_ref()),
                )
                .into());
        }
        SourceFile::read(&path, display)
    }

    /// A file the scenario names (`written`), or the version `options` give
    /// instead; `None` when there is none.
    fn named(
        &self,
        replaced: &NamedFile,
        written: Option<&Spanned<String>>,
    ) -> Result<Option<SourceFile>> {
        match replaced {
            NamedFile::Own => written.map(|written| self.read(written)).transpose(),
            NamedFile::Missing => Ok(None),
            NamedFile::Given(file) => Ok(Some(file.clone())),
        }
    }

    fn uid(&self, written: &Spanned<String>, what: &str) -> Result<EntityUid> {
        parse_uid(written.get_ref()).map_err(|message| self.err(span(written), format!("{what}: {message}")).help_boxed("entity references use Cedar syntax, e.g. `User::\"alice\"`; in TOML write them in single quotes: 'User::\"alice\"'").into())
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

    fn policies(&self, header: &raw::RawHeader) -> Result<Policies> {
        let mut files = Vec::new();
        if let Some(path) = &self.options.policies {
            for file in policy_files(path)? {
                let display = file
                    .strip_prefix(path)
                    .ok()
                    .and_then(|relative| self.options.policy_displays.get(relative))
                    .cloned()
                    .unwrap_or_else(|| file.display().to_string());
                files.push(SourceFile::read(&file, display)?);
            }
        } else {
            if header.policies.get_ref().is_empty() {
                return Err(self
                    .err(span(&header.policies), "no policy files listed")
                    .help_boxed("list at least one `.cedar` file or folder")
                    .into());
            }
            for written in header.policies.get_ref() {
                let (path, display) = self.resolve(written)?;
                if path.is_dir() {
                    let mut found = Vec::new();
                    let mut visited = BTreeSet::new();
                    if let Err(link) =
                        collect_policy_folder(&path, &self.root, &mut visited, &mut found)?
                    {
                        let inner = link.strip_prefix(&path).unwrap_or(&link);
                        let shown = Path::new(written.get_ref()).join(inner);
                        return Err(self.escapes(span(written), &shown.display().to_string()));
                    }
                    if found.is_empty() {
                        return Err(self
                            .err(
                                span(written),
                                format!("no `.cedar` files in `{}`", written.get_ref()),
                            )
                            .into());
                    }
                    for file in found {
                        let inner = file.strip_prefix(&path).unwrap_or(&file);
                        // A symlink in the folder may point anywhere: follow it
                        // only if it stays inside the scenario's folder.
                        let inside = file
                            .canonicalize()
                            .is_ok_and(|canonical| canonical.starts_with(&self.root));
                        if !inside {
                            let shown = Path::new(written.get_ref()).join(inner);
                            return Err(self.escapes(span(written), &shown.display().to_string()));
                        }
                        files.push(SourceFile::read(
                            &file,
                            Path::new(&display).join(inner).display().to_string(),
                        )?);
                    }
                } else {
                    files.push(SourceFile::read(&path, display)?);
                }
            }
        }
        let mut policies = cedar_files::parse_policies(files)?;
        if let Some(file) = self.named(&self.options.links, header.links.as_ref())? {
            cedar_files::apply_links(&mut policies, &file)?;
        }
        Ok(policies)
    }

    fn risk(
        &mut self,
        raw: Option<&Spanned<toml::Table>>,
        schema: Option<&Schema>,
        policies: &Policies,
    ) -> Result<RiskWeights> {
        let mut weights = RiskWeights::default();
        let Some(raw) = raw else { return Ok(weights) };
        for (key, value) in raw.get_ref() {
            let action = parse_uid(key).map_err(|message| {
                self.err(span(raw), format!("`[risk]` key: {message}"))
                    .help_boxed("keys are actions, e.g. 'Action::\"export\"' = 10")
            })?;
            if action.type_name().basename() != "Action" {
                return Err(self
                    .err(span(raw), format!("`[risk]` key `{key}` is not an action"))
                    .into());
            }
            let weight = match value {
                toml::Value::Integer(weight) if *weight >= 0 => u64::try_from(*weight).unwrap_or(0),
                toml::Value::String(class) => risk::class_weight(class).ok_or_else(|| {
                    let classes: Vec<&str> = risk::CLASSES.iter().map(|(name, _)| *name).collect();
                    self.err(span(raw), format!("`{class}` is not a risk class")).help_boxed(format!("use a weight (a non-negative integer) or one of: {}", classes.join(", ")))
                })?,
                other => return Err(self.err(span(raw), format!("the risk of `{key}` must be a non-negative integer or a class name, not `{other}`")).into()),
            };
            self.known_action(&action, span(raw), "`[risk]`", schema, policies)?;
            weights.overrides.insert(action.to_string(), weight);
        }
        Ok(weights)
    }

    fn facts(&self, raw: Option<&Spanned<raw::RawFacts>>) -> Result<Facts> {
        let Some(raw) = raw else {
            return Ok(Facts::default());
        };
        let r = raw.get_ref();
        let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
        let mut key = |value: &Option<Spanned<String>>| -> Result<Option<String>> {
            let Some(value) = value else { return Ok(None) };
            let key = value.get_ref().clone();
            if key.is_empty() {
                return Err(self.err(span(value), "the context key is empty").into());
            }
            if seen.insert(key.clone(), span(value)).is_some() {
                return Err(self
                    .err(
                        span(value),
                        format!("two facts use the context key `{key}`"),
                    )
                    .into());
            }
            Ok(Some(key))
        };
        Ok(Facts {
            now: key(&r.now)?,
            now_unix: key(&r.now_unix)?,
            delegator: key(&r.delegator)?,
            root: key(&r.root)?,
            chain: key(&r.chain)?,
            chain_uids: key(&r.chain_uids)?,
            depth: key(&r.depth)?,
            task: key(&r.task)?,
            session: key(&r.session)?,
            defaults: DefaultContext::default(),
        })
    }

    fn entities(
        &self,
        header: &raw::RawHeader,
        schema: Option<&Schema>,
    ) -> Result<BTreeMap<String, Box<serde_json::value::RawValue>>> {
        let mut base = BTreeMap::new();
        if let Some(file) = self.named(&self.options.entities, header.entities.as_ref())? {
            // Each entity is kept as its slice of the text, so an error about
            // one entity points at it.
            let items: Vec<&RawValue> = serde_json::from_str(&file.text).map_err(|e| {
                // Skipping over raw values words some syntax errors less
                // clearly (`key must be a string` for a trailing comma).
                let e = serde_json::from_str::<Value>(&file.text).err().unwrap_or(e);
                let error = cedar_files::json_error(&file, &e);
                if e.classify() == serde_json::error::Category::Data {
                    let message = "an entities file must hold a JSON array of entities";
                    error.prefixed(&format!("{message}: "))
                } else {
                    error
                }
            })?;
            let mut first_seen: BTreeMap<String, usize> = BTreeMap::new();
            for raw_item in items {
                let start = (raw_item.get().as_ptr() as usize)
                    .saturating_sub(file.text.as_ptr() as usize)
                    .min(file.text.len());
                let here = start..start + raw_item.get().len();
                let item: Value = serde_json::from_str(raw_item.get()).map_err(|e| {
                    // serde_json counts lines and columns within the item.
                    let at = start
                        + cedar_files::offset_of_line_col(raw_item.get(), e.line(), e.column());
                    let message = e.to_string();
                    let message = message.split(" at line ").next().unwrap_or(&message);
                    file.error(at..at, message)
                })?;
                let uid = item.get("uid").and_then(uid_from_json).ok_or_else(|| {
                    file.error(here.clone(), "this entity has no valid `uid`")
                        .with_help("write the uid as { \"type\": \"User\", \"id\": \"alice\" }")
                })?;
                if let Some(first) = first_seen.insert(uid.to_string(), start) {
                    return Err(Box::new(file.error(
                        here,
                        format!(
                            "entity `{uid}` appears twice; the first is at {}",
                            file.location(first)
                        ),
                    ))
                    .into());
                }
                drop(item);
                base.insert(uid.to_string(), raw_item.to_owned());
            }
        }
        let _ = schema;
        Ok(base)
    }

    /// Adds `[[entity]]` items to the entities loaded so far.
    fn inline_entities(
        &self,
        entities: &[Spanned<raw::RawEntity>],
        schema: Option<&Schema>,
        base: &mut BTreeMap<String, Box<serde_json::value::RawValue>>,
    ) -> Result<()> {
        for entity in entities {
            let e = entity.get_ref();
            let uid = self.uid(&e.uid, "bad entity uid")?;
            let mut parents = Vec::new();
            for parent in &e.parents {
                parents.push(world::uid_json(&self.uid(parent, "bad parent")?));
            }
            let attrs = e
                .attrs
                .as_ref()
                .map(|a| self.table(a))
                .transpose()?
                .unwrap_or_default();
            let mut json = serde_json::json!({ "uid": world::uid_json(&uid), "attrs": attrs, "parents": parents });
            if let Some(tags) = &e.tags {
                json["tags"] = Value::Object(self.table(tags)?);
            }
            // Check the entity on its own first, so a schema error points at it.
            cedar_policy::Entities::from_json_value(Value::Array(vec![json.clone()]), schema)
                .map_err(|error| {
                    self.err(
                        span(entity),
                        format!("entity `{uid}` is invalid: {}", error_chain(&error)),
                    )
                })?;
            let raw = serde_json::value::to_raw_value(&json)
                .map_err(|e| self.err(span(entity), format!("entity `{uid}`: {e}")))?;
            if base.insert(uid.to_string(), raw).is_some() {
                return Err(self
                    .err(span(&e.uid), format!("entity `{uid}` is defined twice"))
                    .help_boxed("each entity is defined once: inline, in the entities file or in the shared world (a scenario adds to its shared world, it does not override it)")
                    .into());
            }
        }
        Ok(())
    }

    /// Merges the `[defaults]` of the shared world and of the scenario
    /// (the scenario's entry wins for the same key).
    fn defaults(
        &self,
        shared: Option<&Spanned<raw::RawDefaults>>,
        own: Option<&Spanned<raw::RawDefaults>>,
        facts: &Facts,
    ) -> Result<Defaults> {
        let mut defaults = Defaults::default();
        for (origin, raw) in [(Origin::World, shared), (Origin::Scenario, own)] {
            let Some(raw) = raw else { continue };
            self.within_file(origin, || {
                let raw = raw.get_ref();
                let entries = |table: &Spanned<toml::Table>| -> Result<Map<String, Value>> {
                    let entries = self.table(table)?;
                    if let Some(key) = entries
                        .keys()
                        .find(|key| facts.keys().any(|fact_key| fact_key == *key))
                    {
                        return Err(self
                            .err(
                                span(table),
                                format!("`[defaults]` sets context key `{key}`, which `[facts]` already fills"),
                            )
                            .help_boxed("rename the key or the fact's key")
                            .into());
                    }
                    Ok(entries)
                };
                if let Some(table) = &raw.context {
                    defaults.all.extend(entries(table)?);
                }
                for (type_name, table) in &raw.principal_type {
                    if cedar_policy::EntityTypeName::from_str(type_name.get_ref()).is_err() {
                        return Err(self
                            .err(
                                span(type_name),
                                format!("`{}` is not an entity type name", type_name.get_ref()),
                            )
                            .help_boxed("write the type as in Cedar, e.g. `Agent` or `App::Agent`")
                            .into());
                    }
                    defaults
                        .by_type
                        .entry(type_name.get_ref().clone())
                        .or_default()
                        .extend(entries(table)?);
                    defaults
                        .type_spans
                        .insert(type_name.get_ref().clone(), (origin, span(type_name)));
                }
                for (id, table) in &raw.session {
                    let entry = defaults
                        .by_session
                        .entry(id.get_ref().clone())
                        .or_insert_with(|| (origin, span(id), Map::new()));
                    entry.2.extend(entries(table)?);
                    (entry.0, entry.1) = (origin, span(id));
                }
                Ok(())
            })?;
        }
        Ok(defaults)
    }

    /// `[defaults.session.ID]` must name a session.
    fn unknown_default_sessions(&self, defaults: &Defaults, sessions: &[Session]) -> Result<()> {
        for (id, (origin, at, _)) in &defaults.by_session {
            if !sessions.iter().any(|s| &s.id == id) {
                let known: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
                return Err(Box::new(
                    self.file_of(*origin)
                        .error(
                            at.clone(),
                            format!("`[defaults.session]` names `{id}`, which is not a session"),
                        )
                        .with_help(format!(
                            "declared sessions: {}",
                            if known.is_empty() {
                                "none".to_string()
                            } else {
                                known.join(", ")
                            }
                        )),
                )
                .into());
            }
        }
        Ok(())
    }

    /// A `[defaults.principal_type]` no entity or session has would never
    /// apply: most likely a typo, so it is said.
    fn warn_unused_types(&mut self, defaults: &Defaults, world: &World, sessions: &[Session]) {
        let mut types: BTreeSet<String> = world
            .base
            .keys()
            .filter_map(|key| parse_uid(key).ok())
            .map(|uid| uid.type_name().to_string())
            .collect();
        types.extend(sessions.iter().map(|s| s.principal.type_name().to_string()));
        for (type_name, (origin, at)) in &defaults.type_spans {
            if !types.contains(type_name) {
                let location = self.file_of(*origin).location(at.start);
                self.warnings.push(format!(
                    "{location}: `[defaults.principal_type]` names `{type_name}`, but no entity or session of the world has that type"
                ));
            }
        }
    }

    /// Expands steps with `repeat = N` into N steps, `{i}` in their strings
    /// replaced by the repetition's number (1 to N).
    fn expand_repeats(
        &self,
        steps: Vec<Spanned<raw::RawStep>>,
    ) -> Result<Vec<Spanned<raw::RawStep>>> {
        let mut expanded = Vec::with_capacity(steps.len());
        for spanned in steps {
            let step = spanned.get_ref();
            let count = match (&step.repeat, &step.every) {
                (None, Some(every)) => {
                    return Err(self
                        .err(span(every), "`every` is for repeated steps")
                        .help_boxed("add `repeat = N`, or give the step its own `at`")
                        .into());
                }
                (None, None) => {
                    expanded.push(spanned);
                    continue;
                }
                (Some(repeat), _) => *repeat.get_ref(),
            };
            if !(1..=MAX_REPEAT).contains(&count) {
                let repeat = step.repeat.as_ref().map_or(span(&spanned), span);
                return Err(self
                    .err(
                        repeat,
                        format!("`repeat` must be between 1 and {MAX_REPEAT}, not {count}"),
                    )
                    .into());
            }
            let whole = span(&spanned);
            for repetition in 0..usize::try_from(count).unwrap_or(0) {
                let mut copy = step.clone();
                copy.repetition = repetition;
                substitute_step(&mut copy, &(repetition + 1).to_string());
                expanded.push(Spanned::new(whole.clone(), copy));
            }
        }
        Ok(expanded)
    }

    /// One `[[session]]`, after the sessions before it.
    fn sessions(
        &self,
        raw: &[Spanned<raw::RawSession>],
        sessions: &mut Vec<Session>,
        start: Instant,
        facts: &Facts,
        defaults: &Defaults,
    ) -> Result<()> {
        // Session ids declared so far, by index: a scenario may declare many
        // thousands, so lookups must not scan the list.
        let mut declared: HashMap<String, usize> = sessions
            .iter()
            .enumerate()
            .map(|(index, session)| (session.id.clone(), index))
            .collect();
        for spanned in raw {
            let s = spanned.get_ref();
            let id = s.id.get_ref().clone();
            if declared.insert(id.clone(), sessions.len()).is_some() {
                return Err(self
                    .err(span(&s.id), format!("session `{id}` is defined twice"))
                    .help_boxed("session ids are unique across the scenario and its shared world; a scenario adds sessions, it does not override them")
                    .into());
            }
            let principal = self.uid(&s.principal, "bad principal")?;
            let mut parent_index = None;
            let chain = match (&s.on_behalf_of, &s.parent) {
                (Some(_), Some(parent)) => {
                    return Err(self.err(span(parent), "a session has either `on_behalf_of` or `parent`, not both").help_boxed("`parent` names the session this one was delegated from; its principal is the delegator").into());
                }
                (Some(delegator), None) => {
                    vec![self.uid(delegator, "bad delegator")?, principal.clone()]
                }
                (None, Some(parent)) => {
                    let Some(parent_session) = declared
                        .get(parent.get_ref())
                        .and_then(|&index| sessions.get(index))
                    else {
                        return Err(self
                            .err(
                                span(parent),
                                format!(
                                    "no session `{}` is declared before this one",
                                    parent.get_ref()
                                ),
                            )
                            .help_boxed("declare the parent session first")
                            .into());
                    };
                    parent_index = sessions
                        .iter()
                        .position(|other| &other.id == parent.get_ref());
                    let mut chain = parent_session.chain.clone();
                    chain.push(principal.clone());
                    chain
                }
                (None, None) => vec![principal.clone()],
            };
            let from = s.from.as_ref().map(|t| self.time(t, start)).transpose()?;
            let until = s.until.as_ref().map(|t| self.time(t, start)).transpose()?;
            if let (Some(from), Some(until), Some(written)) = (from, until, &s.until)
                && until <= from
            {
                return Err(self
                    .err(span(written), "a session must end after it starts")
                    .into());
            }
            let own = s
                .context
                .as_ref()
                .map(|c| self.table(c))
                .transpose()?
                .unwrap_or_default();
            let mut context = defaults
                .by_session
                .get(&id)
                .map(|(_, _, entries)| entries.clone())
                .unwrap_or_default();
            context.extend(own.clone());
            if let (Some(key), Some(written)) = (
                own.keys()
                    .find(|key| facts.keys().any(|fact_key| fact_key == *key)),
                &s.context,
            ) {
                return Err(self
                    .err(
                        span(written),
                        format!(
                            "session `{id}` sets context key `{key}`, which `[facts]` already fills"
                        ),
                    )
                    .help_boxed("rename the key or the fact's key")
                    .into());
            }
            let dormant = s.dormant.as_ref().is_some_and(|d| *d.get_ref());
            let lifetime = match &s.lifetime {
                Some(written) if !dormant => {
                    return Err(self
                        .err(span(written), "`lifetime` is for dormant sessions")
                        .help_boxed(
                            "add `dormant = true`, or bound the session with `from`/`until`",
                        )
                        .into());
                }
                Some(written) => Some(self.lifetime(written, start)?),
                None => None,
            };
            if let (true, Some(written)) = (dormant, s.from.as_ref().or(s.until.as_ref())) {
                return Err(self
                    .err(span(written), "a dormant session starts when an effect starts it, so it has no `from` or `until`")
                    .help_boxed("bound it with `lifetime` instead")
                    .into());
            }
            sessions.push(Session {
                id,
                principal,
                chain,
                parent: parent_index,
                task: s.task.as_ref().map(|t| t.get_ref().clone()),
                context,
                from,
                until,
                dormant,
                lifetime,
            });
        }
        Ok(())
    }

    /// `[[grant]]` items, after the grants before them (a grant without an
    /// `id` is named by its place among all of them: `grant-3`).
    fn grants(
        &self,
        raw: &[Spanned<raw::RawGrant>],
        grants: &mut Vec<Grant>,
        start: Instant,
    ) -> Result<()> {
        for spanned in raw {
            let g = spanned.get_ref();
            let number = grants.len() + 1;
            let id =
                g.id.as_ref()
                    .map_or_else(|| format!("grant-{number}"), |id| id.get_ref().clone());
            if grants.iter().any(|other| other.id == id) {
                return Err(self
                    .err(
                        g.id.as_ref().map_or(span(spanned), span),
                        format!("grant `{id}` is defined twice"),
                    )
                    .into());
            }
            let principal = self.uid(&g.principal, "bad principal")?;
            let parents = g
                .parents
                .iter()
                .map(|p| self.uid(p, "bad parent"))
                .collect::<Result<Vec<_>>>()?;
            let attrs = g
                .attrs
                .as_ref()
                .map(|a| self.table(a))
                .transpose()?
                .unwrap_or_default();
            if parents.is_empty() && attrs.is_empty() {
                return Err(self
                    .err(span(spanned), format!("grant `{id}` changes nothing"))
                    .help_boxed("give it `parents` to add (e.g. a role) and/or `attrs` to set")
                    .into());
            }
            let from = self.time(&g.from, start)?;
            let until = g.until.as_ref().map(|t| self.time(t, start)).transpose()?;
            if let (Some(until), Some(written)) = (until, &g.until)
                && until <= from
            {
                return Err(self
                    .err(span(written), "a grant must end after it starts")
                    .into());
            }
            let expiry = g
                .expiry
                .as_ref()
                .map_or(RawExpiry::Simulator, |e| *e.get_ref());
            if expiry == RawExpiry::Policy && until.is_none() {
                return Err(self
                    .err(
                        g.expiry.as_ref().map_or(span(spanned), span),
                        "`expiry = \"policy\"` needs an `until` for the policies to enforce",
                    )
                    .into());
            }
            grants.push(Grant {
                id,
                principal,
                parents,
                removed_parents: Vec::new(),
                attrs,
                from,
                until,
                ticket: g.ticket.clone(),
                removed_at_until: expiry == RawExpiry::Simulator,
                revocable: true,
            });
        }
        Ok(())
    }

    /// The context a request presents: facts first, then the session's context,
    /// then the step's own entries (which replace the session's).
    fn context(
        &self,
        facts: &Facts,
        at: Instant,
        session: Option<&Session>,
        principal: &EntityUid,
        chain: &[EntityUid],
        extra: Option<&Spanned<toml::Table>>,
    ) -> Result<Map<String, Value>> {
        let mut context = session_context(facts, at, session, principal, chain);
        if let Some(extra) = extra {
            for (key, value) in self.table(extra)? {
                if facts.keys().any(|fact_key| fact_key == &key) {
                    return Err(self
                        .err(
                            span(extra),
                            format!("context key `{key}` is already filled by `[facts]`"),
                        )
                        .help_boxed("rename the key or the fact's key")
                        .into());
                }
                context.insert(key, value);
            }
        }
        Ok(context)
    }

    fn steps(&mut self, raw: &RawScenario, scenario: &Scenario) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        let mut previous = scenario.start;
        // The time of a repeated step's first repetition.
        let mut first_repetition = scenario.start;
        crate::progress::phase(crate::progress::Phase::Loading, raw.steps.len());
        for (index, spanned) in raw.steps.iter().enumerate() {
            crate::progress::advance();
            let s = spanned.get_ref();
            let here = span(spanned);
            let every = s.every.as_ref().map(|e| self.duration(e)).transpose()?;
            let at = match (&s.at, every) {
                (_, Some(every)) if s.repetition > 0 => {
                    let offset = i64::try_from(s.repetition)
                        .ok()
                        .and_then(|k| k.checked_mul(every))
                        .and_then(|millis| first_repetition.checked_add(millis));
                    offset.ok_or_else(|| {
                        self.err(
                            s.every.as_ref().map_or(here.clone(), span),
                            "the repetitions run past the end of time",
                        )
                        .help_boxed("use a shorter `every` or fewer repetitions")
                    })?
                }
                (Some(written), _) => {
                    let at = self.time(written, scenario.start)?;
                    if at < previous {
                        return Err(self
                            .err(
                                span(written),
                                format!(
                                    "step time {at} is before the previous step's time {previous}"
                                ),
                            )
                            .help_boxed("list steps in time order")
                            .into());
                    }
                    at
                }
                _ => previous,
            };
            if s.repetition == 0 {
                first_repetition = at;
            }
            previous = at;
            let (session, principal, chain) = self.actor(
                s.session.as_ref(),
                s.principal.as_ref(),
                here.clone(),
                scenario,
                at,
            )?;
            let action = self.action(&s.action)?;
            let resource = self.uid(&s.resource, "bad resource")?;
            self.warn_missing(&scenario.world, &resource, "resource", index, &s.resource);
            self.warn_missing(
                &scenario.world,
                &principal,
                "principal",
                index,
                s.principal.as_ref().unwrap_or(&s.resource),
            );
            let context = self.context(
                &scenario.facts,
                at,
                session.map(|i| &scenario.sessions[i]),
                &principal,
                &chain,
                s.context.as_ref(),
            )?;
            let expect = Expectation {
                decision: s.expect.as_ref().map(|d| *d.get_ref()),
                reason: s
                    .expect_reason
                    .as_ref()
                    .map(|ids| self.policy_ids(ids, &scenario.policies, "expect_reason")),
                errors: s
                    .expect_errors
                    .as_ref()
                    .map(|ids| self.policy_ids(ids, &scenario.policies, "expect_errors")),
                reason_includes: s
                    .expect_reason_includes
                    .as_ref()
                    .map(|ids| self.policy_ids(ids, &scenario.policies, "expect_reason_includes")),
                error_count: s.expect_error_count.as_ref().map(|n| *n.get_ref()),
            };
            let context_value = Value::Object(context);
            let validate_request = s.validate_request.as_ref().is_none_or(|v| *v.get_ref());
            let build = |context: &Value| {
                if validate_request {
                    build_request(
                        &principal,
                        &action,
                        &resource,
                        context,
                        scenario.schema.as_ref(),
                    )
                } else {
                    build_unvalidated_request(
                        &principal,
                        &action,
                        &resource,
                        context,
                        scenario.schema.as_ref(),
                    )
                }
            };
            let request = match build(&context_value) {
                Ok(request) => Ok(request),
                Err(message) if expect.decision == Some(Decision::Error) => Err(message),
                Err(message) => {
                    // Cedar says only that the context is invalid; name the key.
                    let culprit = message
                        .contains("context")
                        .then(|| context_culprit(&context_value, |c| build(c).is_ok()))
                        .flatten();
                    let step_context = s.context.as_ref();
                    let (place, message) = match culprit {
                        Some((key, value)) => (
                            step_context
                                .filter(|c| c.get_ref().contains_key(&key))
                                .map_or(here, span),
                            format!(
                                "context `{key}` = `{value}` does not match the schema's context for `{action}` (a wrong type, or a key it does not declare)"
                            ),
                        ),
                        // A context problem is most likely in the step's own context.
                        None if message.contains("context") => {
                            (step_context.map_or(here, span), message)
                        }
                        None => (here, message),
                    };
                    return Err(self.err(place, format!("step {}: the request is invalid: {message}", index + 1)).help_boxed("fix the step, its session context or the schema; if the step is meant to be rejected, write `expect = \"error\"`").into());
                }
            };
            let ceiling = chain
                .iter()
                .rev()
                .skip(1)
                .map(|delegator| {
                    (
                        delegator.clone(),
                        build_request(
                            delegator,
                            &action,
                            &resource,
                            &context_value,
                            scenario.schema.as_ref(),
                        )
                        .ok(),
                    )
                })
                .collect();
            let labels = StepLabels {
                time: at.to_string(),
                principal: principal.to_string(),
                action: action.to_string(),
                resource: resource.to_string(),
                chain: chain.iter().map(ToString::to_string).collect(),
                delegators: chain
                    .iter()
                    .rev()
                    .skip(1)
                    .map(ToString::to_string)
                    .collect(),
            };
            let segment = scenario.world.segment_at(at);
            steps.push(Step {
                index,
                line: self.file.line_col(here.start).0,
                name: s.name.clone(),
                at,
                session,
                chain,
                principal,
                action,
                resource,
                labels,
                context: Arc::new(context_value),
                request,
                ceiling,
                expect,
                segment,
            });
        }
        Ok(steps)
    }

    /// The index of the session with id `id` in `scenario.sessions`.
    fn session_position(&self, scenario: &Scenario, id: &str) -> Option<usize> {
        self.session_index
            .get_or_init(|| {
                scenario
                    .sessions
                    .iter()
                    .enumerate()
                    .map(|(index, session)| (session.id.clone(), index))
                    .collect()
            })
            .get(id)
            .copied()
    }

    /// Resolves who acts: a session (with its chain) or a bare principal.
    fn actor(
        &self,
        session: Option<&Spanned<String>>,
        principal: Option<&Spanned<String>>,
        here: Range<usize>,
        scenario: &Scenario,
        at: Instant,
    ) -> Result<(Option<usize>, EntityUid, Vec<EntityUid>)> {
        match (session, principal) {
            (Some(_), Some(principal)) => Err(self
                .err(
                    span(principal),
                    "give either `session` or `principal`, not both",
                )
                .help_boxed("a session already names its principal")
                .into()),
            (None, None) => Err(self
                .err(here, "missing `session` or `principal`")
                .help_boxed("say who acts: `session = \"<id>\"` or `principal = 'Type::\"id\"'`")
                .into()),
            (Some(written), None) => {
                let Some(index) = self.session_position(scenario, written.get_ref()) else {
                    let known: Vec<&str> =
                        scenario.sessions.iter().map(|s| s.id.as_str()).collect();
                    return Err(self
                        .err(span(written), format!("no session `{}`", written.get_ref()))
                        .help_boxed(format!(
                            "declared sessions: {}",
                            if known.is_empty() {
                                "none".to_string()
                            } else {
                                known.join(", ")
                            }
                        ))
                        .into());
                };
                let session = &scenario.sessions[index];
                if session.from.is_some_and(|from| at < from)
                    || session.until.is_some_and(|until| at >= until)
                {
                    return Err(self
                        .err(
                            span(written),
                            format!("session `{}` is not open at {at}", session.id),
                        )
                        .help_boxed("move the step into the session's `from`..`until` window")
                        .into());
                }
                Ok((
                    Some(index),
                    session.principal.clone(),
                    session.chain.clone(),
                ))
            }
            (None, Some(written)) => {
                let uid = self.uid(written, "bad principal")?;
                Ok((None, uid.clone(), vec![uid]))
            }
        }
    }

    fn policy_ids(
        &mut self,
        ids: &Spanned<Vec<Spanned<String>>>,
        policies: &Policies,
        field: &str,
    ) -> BTreeSet<String> {
        let mut set = BTreeSet::new();
        for id in ids.get_ref() {
            if !policies.origin.contains_key(id.get_ref()) {
                let location = self.file.location(span(id).start);
                self.warnings.push(format!(
                    "{location}: `{field}` names `{}`, which is not a policy of the set",
                    id.get_ref()
                ));
            }
            set.insert(id.get_ref().clone());
        }
        set
    }

    fn warn_missing(
        &mut self,
        world: &World,
        uid: &EntityUid,
        role: &str,
        index: usize,
        written: &Spanned<String>,
    ) {
        if uid.type_name().basename() != "Action" && !world.base.contains_key(&uid.to_string()) {
            let location = self.file.location(span(written).start);
            self.warnings.push(format!(
                "{location}: step {}: {role} `{uid}` is not an entity of the world",
                index + 1
            ));
        }
    }

    /// An action a rule names must exist: with a schema, an error when the
    /// schema has no such action; without one, a warning when no policy
    /// names it (a rule about it would never fire, and say nothing).
    fn known_action(
        &mut self,
        action: &EntityUid,
        at: Range<usize>,
        what: &str,
        schema: Option<&Schema>,
        policies: &Policies,
    ) -> Result<()> {
        match schema {
            Some(schema) => {
                if schema.actions().any(|a| a == action) {
                    return Ok(());
                }
                let known: Vec<String> = schema.actions().map(ToString::to_string).collect();
                let mut error =
                    self.err(at, format!("{what}: the schema has no action `{action}`"));
                if let Some(near) = closest(&action.to_string(), &known) {
                    error = Box::new((*error).with_help(format!("did you mean `{near}`?")));
                }
                Err(error.into())
            }
            None => {
                let id = action.id().unescaped().to_string();
                let named = policies
                    .files
                    .iter()
                    .any(|f| f.text.contains(&format!("\"{id}\"")));
                if !named {
                    let location = self.file.location(at.start);
                    self.warnings.push(format!(
                        "{location}: {what}: no policy names the action `{action}` (without a schema it cannot be checked; a typo here makes a rule that never fires)"
                    ));
                }
                Ok(())
            }
        }
    }

    /// The type (and, for an entity, the entity) a pattern names must exist:
    /// with a schema, an unknown type is an error, and so is an entity that
    /// is not in the world; without one, warnings.
    fn known_pattern(
        &mut self,
        pattern: &Pattern,
        at: Range<usize>,
        what: &str,
        scenario: &Scenario,
        raw: &RawScenario,
    ) -> Result<()> {
        let (type_name, entity) = match pattern {
            Pattern::Any => return Ok(()),
            Pattern::Type(name) => (name.clone(), None),
            Pattern::Entity(uid) => (uid.type_name().to_string(), Some(uid)),
        };
        let world_types: BTreeSet<String> = scenario
            .world
            .base
            .keys()
            .filter_map(|key| parse_uid(key).ok())
            .map(|uid| uid.type_name().to_string())
            .collect();
        let known_type = match &scenario.schema {
            Some(schema) => schema.entity_types().any(|t| t.to_string() == type_name),
            None => world_types.contains(&type_name),
        };
        if !known_type {
            let message = match &scenario.schema {
                Some(_) => format!("{what}: the schema has no entity type `{type_name}`"),
                None => format!("{what}: no entity of the world has the type `{type_name}`"),
            };
            let candidates: Vec<String> = match &scenario.schema {
                Some(schema) => schema.entity_types().map(ToString::to_string).collect(),
                None => world_types.into_iter().collect(),
            };
            let near = closest(&type_name, &candidates);
            if scenario.schema.is_some() {
                let mut error = self.err(at, message);
                if let Some(near) = near {
                    error = Box::new((*error).with_help(format!("did you mean `{near}`?")));
                }
                return Err(error.into());
            }
            let location = self.file.location(at.start);
            let hint = near
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            self.warnings.push(format!("{location}: {message}{hint}"));
            return Ok(());
        }
        if let Some(uid) = entity {
            // In the world, given by a grant, or acting or acted on in a step
            // (a step may name a principal the world lacks, with a warning).
            let scripted = raw.steps.iter().any(|step| {
                let step = step.get_ref();
                step.principal
                    .iter()
                    .chain([&step.resource])
                    .any(|w| parse_uid(w.get_ref()).is_ok_and(|u| &u == uid))
            });
            let in_world = scenario.world.base.contains_key(&uid.to_string())
                || scenario.grants.iter().any(|g| &g.principal == uid)
                || scenario.sessions.iter().any(|s| s.chain.contains(uid))
                || scripted;
            if !in_world {
                let message = format!("{what}: `{uid}` is not an entity of the world");
                if scenario.schema.is_some() {
                    return Err(self
                        .err(at, message)
                        .help_boxed(
                            "name an entity of the world, or its type to cover every entity of it",
                        )
                        .into());
                }
                let location = self.file.location(at.start);
                self.warnings.push(format!("{location}: {message}"));
            }
        }
        Ok(())
    }

    fn duration(&self, written: &Spanned<String>) -> Result<i64> {
        match time::parse_duration(written.get_ref()) {
            Ok(millis) if millis > 0 => Ok(millis),
            Ok(_) => Err(self
                .err(span(written), "a duration must be longer than zero")
                .into()),
            Err(message) => Err(self.err(span(written), message).into()),
        }
    }

    /// A `lifetime`: a duration that, from the scenario's start, ends by
    /// 9999-12-31 (a longer one would silently never end).
    fn lifetime(&self, written: &Spanned<String>, start: Instant) -> Result<i64> {
        let millis = self.duration(written)?;
        if start.checked_add(millis).is_none() {
            return Err(self
                .err(
                    span(written),
                    format!(
                        "a lifetime of `{}` from the start ({start}) ends after the year 9999",
                        written.get_ref()
                    ),
                )
                .help_boxed("leave `lifetime` out for a grant that never ends")
                .into());
        }
        Ok(millis)
    }

    fn operand(&self, written: &Spanned<String>) -> Result<Operand> {
        Operand::parse(written.get_ref()).map_err(|message| {
            self.err(span(written), message)
                .help_boxed("operands name entities relative to the request: `principal`, `resource`, `delegator`, `context.KEY`, or an entity literal like 'Role::\"admin\"'")
                .into()
        })
    }

    fn invariants(&self, raw: Option<&Spanned<raw::RawInvariants>>) -> Invariants {
        let mut invariants = Invariants::default();
        if let Some(raw) = raw.map(Spanned::get_ref) {
            let set = |flag: &mut bool, value: Option<bool>| {
                if let Some(value) = value {
                    *flag = value;
                }
            };
            set(&mut invariants.delegation_ceiling, raw.delegation_ceiling);
            set(&mut invariants.attenuation, raw.attenuation);
            set(&mut invariants.expiry, raw.expiry);
            set(&mut invariants.never, raw.never);
            set(&mut invariants.access, raw.access);
        }
        invariants
    }

    fn effects(&self, raw: &RawScenario, scenario: &Scenario) -> Result<Vec<Effect>> {
        let mut effects = Vec::new();
        for (index, spanned) in raw.effects.iter().enumerate() {
            let e = spanned.get_ref();
            let here = span(spanned);
            let action = self.action(&e.action)?;
            if let Some(schema) = &scenario.schema
                && schema.resources_for_action(&action).is_none()
            {
                return Err(self
                    .err(
                        span(&e.action),
                        format!("the schema has no action `{action}`"),
                    )
                    .into());
            }
            let principal = e
                .principal
                .as_ref()
                .map(|p| self.uid(p, "bad principal"))
                .transpose()?;
            let resource = e
                .resource
                .as_ref()
                .map(|r| self.uid(r, "bad resource"))
                .transpose()?;
            let mut operations = Vec::new();
            if let Some(change) = &e.add_parent {
                let c = change.get_ref();
                operations.push(Operation::AddParent {
                    entity: self.operand(&c.entity)?,
                    parent: self.operand(&c.parent)?,
                });
            }
            if let Some(change) = &e.remove_parent {
                let c = change.get_ref();
                operations.push(Operation::RemoveParent {
                    entity: self.operand(&c.entity)?,
                    parent: self.operand(&c.parent)?,
                });
            }
            if let Some(set) = &e.set_attr {
                let a = set.get_ref();
                let value = match (&a.value, &a.value_of) {
                    (Some(value), None) => {
                        let mut table = toml::Table::new();
                        table.insert("value".to_string(), value.get_ref().clone());
                        let mut converted = values::table_to_json(&table)
                            .map_err(|m| self.err(span(value), m).help_boxed(values::HELP))?;
                        ValueSource::Literal(converted.remove("value").unwrap_or(Value::Null))
                    }
                    (None, Some(of)) if of.get_ref() == "now" => ValueSource::Now,
                    (None, Some(of)) => ValueSource::Of(self.operand(of)?),
                    _ => {
                        return Err(self
                            .err(
                                span(set),
                                "`set_attr` needs exactly one of `value` and `value_of`",
                            )
                            .into());
                    }
                };
                operations.push(Operation::SetAttr {
                    entity: self.operand(&a.entity)?,
                    name: a.name.get_ref().clone(),
                    value,
                });
            }
            if let Some(grant) = &e.grant {
                let g = grant.get_ref();
                let parents = g
                    .parents
                    .iter()
                    .map(|p| self.operand(p))
                    .collect::<Result<Vec<_>>>()?;
                let attrs = g
                    .attrs
                    .as_ref()
                    .map(|a| self.table(a))
                    .transpose()?
                    .unwrap_or_default();
                if parents.is_empty() && attrs.is_empty() && g.until_attr.is_none() {
                    return Err(self
                        .err(span(grant), "this grant changes nothing")
                        .help_boxed("give it `parents` to add (e.g. a role) and/or `attrs` to set")
                        .into());
                }
                let lifetime = g
                    .lifetime
                    .as_ref()
                    .map(|l| self.lifetime(l, scenario.start))
                    .transpose()?;
                let expiry = g
                    .expiry
                    .as_ref()
                    .map_or(RawExpiry::Simulator, |e| *e.get_ref());
                if lifetime.is_none() && (expiry == RawExpiry::Policy || g.until_attr.is_some()) {
                    return Err(self
                        .err(span(grant), "a grant without `lifetime` never ends, so it has no end for `expiry = \"policy\"` or `until_attr`")
                        .help_boxed("give the grant a `lifetime`, e.g. `lifetime = \"30m\"`")
                        .into());
                }
                operations.push(Operation::Grant {
                    entity: self.operand(&g.entity)?,
                    parents,
                    attrs,
                    lifetime,
                    removed_at_until: expiry == RawExpiry::Simulator,
                    until_attr: g.until_attr.as_ref().map(|a| a.get_ref().clone()),
                });
            }
            if let Some(revoke) = &e.revoke {
                let r = revoke.get_ref();
                operations.push(Operation::Revoke {
                    entity: self.operand(&r.entity)?,
                    parent: r.parent.as_ref().map(|p| self.operand(p)).transpose()?,
                });
            }
            if let Some(id) = &e.start_session {
                let Some(session) = self.session_position(scenario, id.get_ref()) else {
                    return Err(self
                        .err(span(id), format!("no session `{}`", id.get_ref()))
                        .help_boxed("declare it with `[[session]]` and `dormant = true`")
                        .into());
                };
                if !scenario.sessions[session].dormant {
                    return Err(self
                        .err(
                            span(id),
                            format!("session `{}` is not dormant", id.get_ref()),
                        )
                        .help_boxed(
                            "only a session declared with `dormant = true` waits to be started",
                        )
                        .into());
                }
                operations.push(Operation::StartSession(session));
            }
            if operations.len() != 1 {
                return Err(self
                    .err(here, format!("an `[[effect]]` has exactly one operation; this one has {}", operations.len()))
                    .help_boxed("one of `add_parent`, `remove_parent`, `set_attr`, `grant`, `revoke`, `start_session`; write several `[[effect]]`s for several changes")
                    .into());
            }
            effects.push(Effect {
                index,
                line: self.file.line_col(here.start).0,
                action,
                principal,
                resource,
                operation: operations.remove(0),
            });
        }
        Ok(effects)
    }

    /// Every attribute name an effect writes (`set_attr`'s `name`, a
    /// grant's `attrs` and `until_attr`) must be one the schema gives the
    /// entity's type (any of the types the operand can have): a typo would
    /// otherwise make the effect fail only when a search move applies it.
    fn effect_attributes(
        &self,
        raw: &RawScenario,
        scenario: &Scenario,
        attributes: &BTreeMap<String, Option<BTreeSet<String>>>,
    ) -> Result<()> {
        let Some(schema) = &scenario.schema else {
            return Ok(());
        };
        if attributes.is_empty() {
            return Ok(());
        }
        for (effect, spanned) in scenario.effects.iter().zip(&raw.effects) {
            let e = spanned.get_ref();
            let (operand, names): (&Operand, Vec<(String, Range<usize>)>) =
                match (&effect.operation, &e.set_attr, &e.grant) {
                    (Operation::SetAttr { entity, name, .. }, Some(set), _) => {
                        (entity, vec![(name.clone(), span(&set.get_ref().name))])
                    }
                    (Operation::Grant { entity, attrs, .. }, _, Some(grant)) => {
                        let g = grant.get_ref();
                        let at = g.attrs.as_ref().map_or_else(|| span(grant), span);
                        let mut names: Vec<(String, Range<usize>)> =
                            attrs.keys().map(|k| (k.clone(), at.clone())).collect();
                        if let Some(until) = &g.until_attr {
                            names.push((until.get_ref().clone(), span(until)));
                        }
                        (entity, names)
                    }
                    _ => continue,
                };
            let types: Vec<String> = match operand {
                Operand::Literal(uid) => vec![uid.type_name().to_string()],
                Operand::Principal => schema
                    .principals_for_action(&effect.action)
                    .map(|t| t.map(ToString::to_string).collect())
                    .unwrap_or_default(),
                Operand::Resource => schema
                    .resources_for_action(&effect.action)
                    .map(|t| t.map(ToString::to_string).collect())
                    .unwrap_or_default(),
                Operand::Delegator | Operand::Context(_) => continue,
            };
            let mut known = BTreeSet::new();
            let mut open = types.is_empty();
            for type_name in &types {
                match attributes.get(type_name) {
                    Some(Some(names)) => known.extend(names.iter().cloned()),
                    // A shape not written out, or a type this reading missed.
                    Some(None) | None => open = true,
                }
            }
            if open {
                continue;
            }
            for (name, at) in names {
                if known.contains(&name) {
                    continue;
                }
                let candidates: Vec<String> = known.iter().cloned().collect();
                let mut error = self.err(
                    at,
                    format!(
                        "the schema gives {} no attribute `{name}`",
                        types
                            .iter()
                            .map(|t| format!("`{t}`"))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                );
                error = Box::new((*error).with_help(match closest(&name, &candidates) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None if candidates.is_empty() => {
                        "the type has no attributes in the schema".to_string()
                    }
                    None => format!("its attributes: {}", candidates.join(", ")),
                }));
                return Err(error.into());
            }
        }
        Ok(())
    }

    fn never(&mut self, raw: &RawScenario, scenario: &Scenario) -> Result<Vec<NeverRule>> {
        let mut rules = Vec::new();
        for (index, spanned) in raw.never.iter().enumerate() {
            let n = spanned.get_ref();
            let pattern = |written: Option<&Spanned<String>>| {
                Pattern::parse(written.map(|w| w.get_ref().as_str())).map_err(|message| {
                    self.err(written.map_or(span(spanned), span), message)
                        .help_boxed("write an entity ('Agent::\"helper\"'), an entity type ('Agent'), or leave the key out to match anything")
                })
            };
            let principal = pattern(n.principal.as_ref())?;
            let resource = pattern(n.resource.as_ref())?;
            let action = n.action.as_ref().map(|a| self.action(a)).transpose()?;
            // A typo in a rule would make it one that never fires.
            for (written, pattern) in [(&n.principal, &principal), (&n.resource, &resource)] {
                if let Some(written) = written {
                    self.known_pattern(pattern, span(written), "`[[never]]`", scenario, raw)?;
                }
            }
            if let (Some(written), Some(action)) = (&n.action, &action) {
                self.known_action(
                    action,
                    span(written),
                    "`[[never]]`",
                    scenario.schema.as_ref(),
                    &scenario.policies,
                )?;
            }
            if principal == Pattern::Any && action.is_none() && resource == Pattern::Any {
                return Err(self
                    .err(span(spanned), "this rule forbids everything to everyone")
                    .help_boxed("name at least a `principal`, an `action` or a `resource`")
                    .into());
            }
            rules.push(NeverRule {
                index,
                line: self.file.line_col(span(spanned).start).0,
                principal,
                action,
                resource,
                reason: n.reason.clone(),
            });
        }
        Ok(rules)
    }

    fn access(&mut self, raw: &RawScenario, scenario: &Scenario) -> Result<Vec<AccessCheck>> {
        let mut checks = Vec::new();
        for (index, spanned) in raw.access.iter().enumerate() {
            let a = spanned.get_ref();
            let here = span(spanned);
            let at =
                a.at.as_ref()
                    .map(|t| self.time(t, scenario.start))
                    .transpose()?
                    .unwrap_or(scenario.start);
            let (session, principal, chain) = self.actor(
                a.session.as_ref(),
                a.principal.as_ref(),
                here.clone(),
                scenario,
                at,
            )?;
            let action = self.action(&a.action)?;
            self.known_action(
                &action,
                span(&a.action),
                "`[[access]]`",
                scenario.schema.as_ref(),
                &scenario.policies,
            )?;
            let mut expected = BTreeSet::new();
            let mut candidates: BTreeMap<String, EntityUid> = BTreeMap::new();
            for written in a.resources.get_ref() {
                let uid = self.uid(written, "bad resource")?;
                expected.insert(uid.to_string());
                candidates.insert(uid.to_string(), uid);
            }
            let types = crate::load::universe::resource_types(scenario, &action)
                .map_err(|message| self.err(span(&a.action), message))?;
            for uid in crate::load::universe::entities_of_types(&scenario.world, &types) {
                candidates.insert(uid.to_string(), uid);
            }
            let context = Value::Object(self.context(
                &scenario.facts,
                at,
                session.map(|i| &scenario.sessions[i]),
                &principal,
                &chain,
                None,
            )?);
            let mut built = Vec::new();
            for uid in candidates.into_values() {
                let request = build_request(
                    &principal,
                    &action,
                    &uid,
                    &context,
                    scenario.schema.as_ref(),
                )
                .map_err(|message| {
                    self.err(
                        here.clone(),
                        format!("the request for `{uid}` is invalid: {message}"),
                    )
                })?;
                built.push((uid, request));
            }
            let always = a.always.as_ref().is_some_and(|v| *v.get_ref());
            if let (true, Some(written)) = (always, &a.at) {
                return Err(self
                    .err(span(written), "an assertion with `always = true` holds at every moment, so it has no `at`")
                    .into());
            }
            checks.push(AccessCheck {
                always,
                index,
                line: self.file.line_col(here.start).0,
                at,
                principal,
                session,
                action,
                expected,
                candidates: built,
                segment: scenario.world.segment_at(at),
            });
        }
        Ok(checks)
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
