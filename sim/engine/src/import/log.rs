//! Request logs as scenarios (`privsim import log`): one JSON object per line,
//! each an authorization request as the Cedar CLI takes it (or an MCP
//! `tools/call` request, turned into one by the Cedar MCP generator's request
//! generator), with its time, its session and delegation, and the decision
//! production made. The format is specified by `docs/request-log.schema.json`.
//!
//! A log becomes one scenario: sessions and delegation chains rebuilt from the
//! ids, steps at their recorded times (in time order, ties in log order), each
//! recorded decision as the step's expectation. Replaying it against the
//! policies production runs verifies the log; against a candidate, it shows what
//! the change would have broken.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cedar_policy::{Context, EntityUid};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use toml::Spanned;

use super::ImportedEntity;
use super::json::{self, Key};
use super::mcp::McpServer;
use crate::load::cedar_files::offset_of_line_col;
use crate::load::raw::{RawEntity, RawHeader, RawScenario, RawSession, RawStep};
use crate::load::{self as scenario, Decision, LoadOptions, Scenario, normalize};
use crate::world::state::canonical_entity;
use privsim_model::diag::{Error, Result, SourceError, SourceFile};
use privsim_model::time::Instant;

/// One line of the log as written. Unknown fields are errors (a misspelt
/// `on_behalf_of` must not silently drop a delegation); anything else a
/// gateway logs goes under `meta`, which is ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    timestamp: String,
    principal: Value,
    action: Option<Value>,
    resource: Value,
    context: Option<Value>,
    tools_call: Option<Value>,
    session: Option<String>,
    trace_id: Option<String>,
    on_behalf_of: Option<Value>,
    parent: Option<String>,
    decision: Option<LoggedDecision>,
    /// Read as JSON and dropped, without building a value of it.
    #[serde(rename = "meta")]
    _meta: Option<serde::de::IgnoredAny>,
}

/// What production decided.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum LoggedDecision {
    Allow,
    Deny,
}

/// How to read a log.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct LogOptions {
    /// The policies to replay against (`.cedar` files or folders).
    pub policies: Vec<PathBuf>,
    /// The schema (required for the MCP form: the one `privsim import mcp` generated).
    pub schema: Option<PathBuf>,
    /// The world: a Cedar entities JSON file.
    pub entities: Option<PathBuf>,
    /// The MCP server whose `tools/call` requests the log may hold.
    pub mcp: Option<McpServer>,
    /// The scenario's name (default: `<folder>-<stem>` of the log's path).
    pub name: Option<String>,
}

impl LogOptions {
    /// Options replaying against `policies`.
    pub fn new(policies: Vec<PathBuf>) -> Self {
        Self {
            policies,
            ..Self::default()
        }
    }

    /// With a schema.
    #[must_use]
    pub fn schema(mut self, schema: Option<PathBuf>) -> Self {
        self.schema = schema;
        self
    }

    /// With an entities file.
    #[must_use]
    pub fn entities(mut self, entities: Option<PathBuf>) -> Self {
        self.entities = entities;
        self
    }

    /// With an MCP server for `tools_call` lines.
    #[must_use]
    pub fn mcp(mut self, mcp: Option<McpServer>) -> Self {
        self.mcp = mcp;
        self
    }

    /// With a scenario name.
    #[must_use]
    pub fn name(mut self, name: Option<String>) -> Self {
        self.name = name;
        self
    }
}

/// A session rebuilt from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedSession {
    /// The session id (the log's `session` or `trace_id`; for a delegated
    /// request without one, `PRINCIPAL for DELEGATOR`).
    pub id: String,
    /// Who acts, as a Cedar UID string.
    pub principal: String,
    /// The delegator, as a Cedar UID string.
    pub on_behalf_of: Option<String>,
    /// The parent session's id.
    pub parent: Option<String>,
}

/// One logged request.
#[derive(Debug, Clone)]
pub struct LoggedStep {
    /// The line of the log it came from (1-based).
    pub line: usize,
    /// When it was made.
    pub at: Instant,
    /// Its session, if any.
    pub session: Option<String>,
    /// Who made it, as a Cedar UID string.
    pub principal: String,
    /// The action, as a Cedar UID string.
    pub action: String,
    /// The resource, as a Cedar UID string.
    pub resource: String,
    /// The exact context production sent: Cedar JSON values, keys sorted at
    /// every level, as the TOML table the scenario file writes holds them
    /// ([`json::sort_cedar_map`]). Shared: a logged step is copied into
    /// several places, and into its window's scenario.
    pub context: Arc<serde_json::Map<String, Value>>,
    /// What production decided, if the log says.
    pub expect: Option<Decision>,
}

/// A log read into what one scenario holds.
#[derive(Debug, Clone)]
pub struct LoggedScenario {
    /// The scenario's name (safe as a file name).
    pub name: String,
    /// The log file.
    pub source: PathBuf,
    /// The policy files or folders.
    pub policies: Vec<PathBuf>,
    /// The schema.
    pub schema: Option<PathBuf>,
    /// The entities file.
    pub entities_file: Option<PathBuf>,
    /// The earliest logged time.
    pub start: Instant,
    /// Sessions, every parent before its children.
    pub sessions: Vec<LoggedSession>,
    /// Entities the MCP request generator made from tool arguments.
    pub entities: Vec<ImportedEntity>,
    /// The requests in time order.
    pub steps: Vec<LoggedStep>,
}

/// The longest line read from a log (1 MiB); a longer one is refused at its
/// line, so a log without newlines cannot exhaust memory in streaming mode.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// A line of the log, for located errors. The source file of the line alone
/// is made only when an error needs it, and the error is located at the
/// line's number in the log: a streamed log is never held whole.
#[derive(Clone, Copy)]
struct Line<'a> {
    path: &'a Path,
    display: &'a str,
    number: usize,
    text: &'a str,
}

impl Line<'_> {
    fn error_span(&self, span: Range<usize>, message: impl Into<String>) -> SourceError {
        located_in_line(
            self.path,
            self.display,
            self.number,
            self.text,
            span,
            message,
        )
    }

    fn error_at(&self, path: &[Key<'_>], message: impl Into<String>) -> SourceError {
        let span = json::locate(self.text, path).unwrap_or(0..0);
        self.error_span(span, message)
    }

    fn uid(&self, value: &Value, field: &'static str) -> Result<EntityUid> {
        json::uid(value).map_err(|message| {
            self.error_at(&[Key::Field(field)], format!("bad `{field}`: {message}"))
                .with_help("entity references are Cedar strings like \"User::\\\"alice\\\"\" or objects like {\"type\": \"User\", \"id\": \"alice\"}")
                .into()
        })
    }

    /// A JSON object of Cedar values, its keys sorted
    /// ([`json::sort_cedar_map`]), or its error located in the line.
    fn context(&self, value: Value, field: &'static str) -> Result<serde_json::Map<String, Value>> {
        let Value::Object(mut map) = value else {
            return Err(self
                .error_at(
                    &[Key::Field(field)],
                    format!("`{field}` must be a JSON object"),
                )
                .into());
        };
        let Err((inner, message)) = json::sort_cedar_map(&mut map) else {
            return Ok(map);
        };
        let mut path = vec![Key::Field(field)];
        let value = Value::Object(map);
        json::follow(&mut path, &value, &inner);
        Err(self.error_at(&path, format!("`{field}`: {message}")).into())
    }
}

/// An error at `span` of line `number` (its text `text`), located as
/// `LOG:LINE:COL`.
fn located_in_line(
    path: &Path,
    display: &str,
    number: usize,
    text: &str,
    span: Range<usize>,
    message: impl Into<String>,
) -> SourceError {
    let file = SourceFile::from_text(path.to_path_buf(), display.to_string(), text.to_string());
    let column = file.line_col(span.start).1;
    let mut error = file.error(span, message);
    error.location = format!("{display}:{number}:{column}");
    error
}

/// Reads a log line by line in bounded memory (one line at a time, each at
/// most [`MAX_LINE_BYTES`]), calling `each` with the line's number and its
/// text without the line break. There is no limit on the log's size.
pub(super) fn read_lines(
    path: &Path,
    display: &str,
    mut each: impl FnMut(usize, &str) -> Result<()>,
) -> Result<()> {
    use std::io::{BufRead, Read};
    let io_error = |source: std::io::Error| Error::Io {
        path: display.to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut buffer: Vec<u8> = Vec::new();
    let limit = u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX);
    let mut number = 0;
    loop {
        buffer.clear();
        let read = (&mut reader)
            .take(limit + 2)
            .read_until(b'\n', &mut buffer)
            .map_err(io_error)?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        let mut content: &[u8] = &buffer;
        if let Some(rest) = content.strip_suffix(b"\n") {
            content = rest.strip_suffix(b"\r").unwrap_or(rest);
        }
        if content.len() > MAX_LINE_BYTES {
            return Err(located_in_line(
                path,
                display,
                number,
                "",
                0..0,
                format!("line {number} is longer than {MAX_LINE_BYTES} bytes"),
            )
            .with_help("each line of the log is one request; a longer line is not a log line")
            .into());
        }
        let text = std::str::from_utf8(content).map_err(|e| {
            let valid = String::from_utf8_lossy(content.get(..e.valid_up_to()).unwrap_or_default())
                .into_owned();
            let at = valid.len();
            located_in_line(path, display, number, &valid, at..at, "not UTF-8 text")
        })?;
        each(number, text)?;
    }
}

/// A session as first seen: the line that began it, for located errors.
struct FirstSeen {
    session: LoggedSession,
    number: usize,
    text: String,
}

/// Reads a log's lines one by one into requests, keeping only the sessions
/// (bounded by their number, not by the number of lines). The materialized
/// import and the streamed replay both read through it, so they accept and
/// refuse exactly the same lines.
pub(super) struct LogReader<'a> {
    path: &'a Path,
    display: String,
    options: &'a LogOptions,
    sessions: BTreeMap<String, FirstSeen>,
    session_order: Vec<String>,
    uids: UidCache,
}

/// Entity references already read, by how the log wrote them: reading one
/// with Cedar's parser (twice: once to read it, once to check that it reads
/// back) is costly, and a log names the same few
/// principals, actions and resources on every line. Only references that
/// read without error are kept, so a bad one is reported exactly as before;
/// reading is a pure function of the written form, so a cached answer is the
/// answer. At most [`UID_CACHE_LIMIT`] are kept (then the cache starts over),
/// so memory stays bounded whatever the log names.
#[derive(Default)]
struct UidCache {
    /// References written as Cedar strings (`"User::\"alice\""`).
    texts: HashMap<String, (EntityUid, String)>,
    /// References written as `{"type": T, "id": I}`, by type, then id.
    parts: HashMap<String, HashMap<String, (EntityUid, String)>>,
    /// How many references the two maps hold.
    size: usize,
}

/// How many entity references [`UidCache`] keeps.
const UID_CACHE_LIMIT: usize = 1 << 16;

impl UidCache {
    /// The reference `value` of `field` on `line`, and its Cedar text.
    fn read(
        &mut self,
        line: &Line<'_>,
        value: &Value,
        field: &'static str,
    ) -> Result<(EntityUid, String)> {
        /// How the log wrote a reference.
        #[derive(Clone, Copy)]
        enum Form<'v> {
            Text(&'v str),
            Parts(&'v str, &'v str),
            Other,
        }
        let form = match value {
            Value::String(text) => Form::Text(text),
            Value::Object(map) if map.len() == 2 => match (map.get("type"), map.get("id")) {
                (Some(Value::String(entity_type)), Some(Value::String(id))) => {
                    Form::Parts(entity_type, id)
                }
                _ => Form::Other,
            },
            _ => Form::Other,
        };
        let known = match form {
            Form::Text(text) => self.texts.get(text),
            Form::Parts(entity_type, id) => self.parts.get(entity_type).and_then(|ids| ids.get(id)),
            Form::Other => None,
        };
        if let Some(known) = known {
            return Ok(known.clone());
        }
        let uid = line.uid(value, field)?;
        let read = (uid.clone(), uid.to_string());
        if matches!(form, Form::Other) {
            return Ok(read);
        }
        if self.size >= UID_CACHE_LIMIT {
            *self = Self::default();
        }
        self.size += 1;
        match form {
            Form::Text(text) => {
                self.texts.insert(text.to_string(), read.clone());
            }
            Form::Parts(entity_type, id) => {
                self.parts
                    .entry(entity_type.to_string())
                    .or_default()
                    .insert(id.to_string(), read.clone());
            }
            Form::Other => {}
        }
        Ok(read)
    }
}

impl<'a> LogReader<'a> {
    /// A reader of the log at `path`.
    pub(super) fn new(path: &'a Path, options: &'a LogOptions) -> Result<Self> {
        if options.policies.is_empty() {
            return Err(Error::BadArgument(
                "`--policies` is needed: the Cedar policies to replay the log against (the deployed ones to verify the log, a candidate to see what it would break)".to_string(),
            ));
        }
        Ok(Self {
            path,
            display: path.display().to_string(),
            options,
            sessions: BTreeMap::new(),
            session_order: Vec::new(),
            uids: UidCache::default(),
        })
    }

    /// The log as the user named it.
    pub(super) fn display(&self) -> &str {
        &self.display
    }

    /// Line `number` of the log: its request and the entities the MCP
    /// request generator made (none for a blank line).
    pub(super) fn line(
        &mut self,
        number: usize,
        text: &str,
    ) -> Result<Option<(LoggedStep, Vec<ImportedEntity>)>> {
        let line = Line {
            path: self.path,
            display: &self.display,
            number,
            text,
        };
        let options = self.options;
        if line.text.trim().is_empty() {
            return Ok(None);
        }
        let mut record: Record = serde_json::from_str(line.text).map_err(|e| {
            let offset = offset_of_line_col(line.text, e.line(), e.column());
            let message = e.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
            line.error_span(offset..offset, message)
                .with_help("each line of the log is one JSON object (docs/request-log.schema.json)")
        })?;
        let at = Instant::parse_rfc3339(&record.timestamp)
            .map_err(|message| line.error_at(&[Key::Field("timestamp")], message))?;
        let (principal, principal_text) = self.uids.read(&line, &record.principal, "principal")?;
        let (resource, resource_text) = self.uids.read(&line, &record.resource, "resource")?;
        let (action, context, made) = match (&record.action, &record.tools_call) {
            (Some(action), None) => {
                let (_, action) = self.uids.read(&line, action, "action")?;
                let context = match record.context.take() {
                    Some(context) => line.context(context, "context")?,
                    None => serde_json::Map::new(),
                };
                (action, context, Vec::new())
            }
            (None, Some(_)) => {
                let Some(server) = &options.mcp else {
                    return Err(line
                        .error_at(&[Key::Field("tools_call")], "an MCP `tools_call` needs the server's tool list")
                        .with_help("pass `--tools TOOLS.json --stub STUB.cedarschema` (as for `privsim import mcp`) and `--schema` with the schema it generated")
                        .into());
                };
                if options.schema.is_none() {
                    return Err(line
                        .error_at(&[Key::Field("tools_call")], "an MCP `tools_call` needs the schema")
                        .with_help("pass `--schema` with the schema `privsim import mcp` generated from the same tool list and stub")
                        .into());
                }
                mcp_request(&line, number, server, &principal, &resource, &record)?
            }
            (Some(_), Some(_)) => {
                return Err(line
                    .error_at(
                        &[Key::Field("tools_call")],
                        "a line has either `action` or `tools_call`, not both",
                    )
                    .into());
            }
            (None, None) => {
                return Err(line
                    .error_at(
                        &[],
                        "a line needs `action` (a Cedar request) or `tools_call` (an MCP request)",
                    )
                    .into());
            }
        };
        let session_id = match (&record.session, &record.trace_id) {
            (Some(_), Some(_)) => {
                return Err(line
                    .error_at(
                        &[Key::Field("trace_id")],
                        "a line has either `session` or `trace_id`, not both",
                    )
                    .into());
            }
            (Some(id), None) | (None, Some(id)) => Some(id.clone()),
            (None, None) => None,
        };
        let on_behalf_of = record
            .on_behalf_of
            .as_ref()
            .map(|value| self.uids.read(&line, value, "on_behalf_of"))
            .transpose()?
            .map(|(_, text)| text);
        if on_behalf_of.is_some() && record.parent.is_some() {
            return Err(line
                .error_at(
                    &[Key::Field("parent")],
                    "a line has either `on_behalf_of` or `parent`, not both",
                )
                .with_help("with `parent`, the delegator is the parent session's principal")
                .into());
        }
        let session_id = match (session_id, &on_behalf_of, &record.parent) {
            (Some(id), _, _) => Some(id),
            (None, Some(delegator), _) => Some(format!("{principal_text} for {delegator}")),
            (None, None, Some(_)) => {
                return Err(line
                    .error_at(
                        &[Key::Field("parent")],
                        "`parent` needs the line's own `session` (or `trace_id`)",
                    )
                    .into());
            }
            (None, None, None) => None,
        };
        if let Some(id) = &session_id {
            let session = LoggedSession {
                id: id.clone(),
                principal: principal_text.clone(),
                on_behalf_of: on_behalf_of.clone(),
                parent: record.parent.clone(),
            };
            match self.sessions.get(id) {
                None => {
                    self.session_order.push(id.clone());
                    self.sessions.insert(
                        id.clone(),
                        FirstSeen {
                            session,
                            number,
                            text: text.to_string(),
                        },
                    );
                }
                Some(first) if first.session != session => {
                    let known = &first.session;
                    let (field, what) = if known.principal != session.principal {
                        ("principal", "principal")
                    } else if known.parent != session.parent {
                        ("parent", "parent session")
                    } else {
                        ("on_behalf_of", "delegator")
                    };
                    let first_line = first.number;
                    return Err(line
                        .error_at(&[Key::Field(field)], format!("session `{id}` changes its {what}: line {first_line} began it differently"))
                        .with_help("a session keeps one principal and one delegation for its whole life; give the other requests their own session id")
                        .into());
                }
                Some(_) => {}
            }
        }
        let step = LoggedStep {
            line: number,
            at,
            session: session_id,
            principal: principal_text,
            action,
            resource: resource_text,
            context: Arc::new(context),
            expect: record.decision.map(|d| match d {
                LoggedDecision::Allow => Decision::Allow,
                LoggedDecision::Deny => Decision::Deny,
            }),
        };
        Ok(Some((step, made)))
    }

    /// The sessions seen, every parent before its children; a parent the log
    /// never shows, or a cycle, is an error.
    pub(super) fn sessions(&self) -> Result<Vec<LoggedSession>> {
        order_sessions(
            self.path,
            &self.display,
            &self.sessions,
            &self.session_order,
        )
    }

    /// The scenario of `steps` (in time order) read by this reader.
    pub(super) fn scenario(
        &self,
        sessions: Vec<LoggedSession>,
        entities: Vec<ImportedEntity>,
        steps: Vec<LoggedStep>,
    ) -> LoggedScenario {
        let name = self
            .options
            .name
            .clone()
            .unwrap_or_else(|| super::file_suite_name(self.path));
        LoggedScenario {
            name: super::safe_name(&name),
            source: self.path.to_path_buf(),
            policies: self.options.policies.clone(),
            schema: self.options.schema.clone(),
            entities_file: self.options.entities.clone(),
            start: steps.first().map_or(Instant(0), |s| s.at),
            sessions,
            entities,
            steps,
        }
    }
}

/// Reads a request log (JSON lines) into a scenario. The log is read whole
/// (at most 64 MiB, like every input file); `privsim import log` without
/// `--out` streams it instead ([`super::stream`]).
pub fn import_log(path: &Path, options: &LogOptions) -> Result<LoggedScenario> {
    let mut reader = LogReader::new(path, options)?;
    let file = SourceFile::read(path, path.display().to_string())?;
    let mut steps = Vec::new();
    let mut entities: Vec<ImportedEntity> = Vec::new();
    for (index, raw_line) in file.text.split_inclusive('\n').enumerate() {
        let text = raw_line.trim_end_matches(['\n', '\r']);
        if let Some((step, made)) = reader.line(index + 1, text)? {
            steps.push(step);
            entities.extend(made);
        }
    }
    if steps.is_empty() {
        return Err(Error::NotFound(format!(
            "`{}` holds no requests",
            path.display()
        )));
    }
    let sessions = reader.sessions()?;
    // Stable: requests logged at the same time stay in log order.
    steps.sort_by_key(|step| step.at);
    Ok(reader.scenario(sessions, entities, steps))
}

/// Sessions with every parent before its children (otherwise in order of
/// first appearance); a parent the log never shows, or a cycle, is an error.
fn order_sessions(
    path: &Path,
    display: &str,
    sessions: &BTreeMap<String, FirstSeen>,
    first_seen: &[String],
) -> Result<Vec<LoggedSession>> {
    let line_of = |first: &FirstSeen| -> (usize, String) { (first.number, first.text.clone()) };
    let error = |first: &FirstSeen, message: String| -> SourceError {
        let (number, text) = line_of(first);
        let span = json::locate(&text, &[Key::Field("parent")]).unwrap_or(0..0);
        located_in_line(path, display, number, &text, span, message)
    };
    let mut placed = BTreeSet::new();
    let mut ordered = Vec::new();
    for id in first_seen {
        let mut chain = Vec::new();
        let mut at = id.clone();
        while !placed.contains(&at) {
            if chain.contains(&at) {
                let first = &sessions[id];
                return Err(error(
                    first,
                    format!("sessions `{}` are each other's parents", chain.join("`, `")),
                )
                .into());
            }
            chain.push(at.clone());
            let Some(first) = sessions.get(&at) else {
                break;
            };
            match &first.session.parent {
                Some(parent) if !sessions.contains_key(parent) => {
                    return Err(error(
                        first,
                        format!("the parent session `{parent}` makes no request in the log"),
                    )
                    .with_help(
                        "a parent session is known by its own requests; log at least one of them",
                    )
                    .into());
                }
                Some(parent) => at = parent.clone(),
                None => break,
            }
        }
        for id in chain.into_iter().rev() {
            if placed.insert(id.clone())
                && let Some(first) = sessions.get(&id)
            {
                ordered.push(first.session.clone());
            }
        }
    }
    Ok(ordered)
}

/// An MCP `tools/call` line through the generator's request generator: the
/// action, the exact context (shared context plus `input`), and the entities
/// the generator made of the arguments, with ids made deterministic.
fn mcp_request(
    line: &Line<'_>,
    number: usize,
    server: &McpServer,
    principal: &EntityUid,
    resource: &EntityUid,
    record: &Record,
) -> Result<(String, serde_json::Map<String, Value>, Vec<ImportedEntity>)> {
    let call_span = json::locate(line.text, &[Key::Field("tools_call")]).unwrap_or(0..0);
    let call_text = line.text.get(call_span.clone()).unwrap_or_default();
    let located = |diagnostic: &dyn miette::Diagnostic| -> Error {
        let span = diagnostic
            .labels()
            .and_then(|mut labels| labels.next())
            .map_or(0..0, |label| label.offset()..label.offset() + label.len());
        let start = call_span.start + span.start;
        let end = call_span.start + span.end;
        let mut message = diagnostic.to_string();
        if let Some(help) = diagnostic.help() {
            message.push_str(&format!(" ({help})"));
        }
        line.error_span(
            start..end.max(start),
            format!("bad `tools_call`: {message}"),
        )
        .into()
    };
    let input = mcp_tools_sdk::data::Input::from_json_str(call_text).map_err(|e| located(&e))?;
    let shared = match &record.context {
        Some(value) => Context::from_json_value(value.clone(), None)
            .map_err(|e| line.error_at(&[Key::Field("context")], format!("bad `context`: {e}")))?,
        None => Context::empty(),
    };
    let pairs: Vec<(smol_str::SmolStr, cedar_policy_core::ast::RestrictedExpr)> = shared
        .into_iter()
        .map(|(key, value)| (smol_str::SmolStr::from(key), value.as_ref().clone()))
        .collect();
    let (request, made) = server
        .requests()
        .generate_request(
            principal.clone().into(),
            resource.clone().into(),
            pairs,
            cedar_policy_core::entities::Entities::new(),
            &input,
            None,
        )
        .map_err(|e| located(&e))?;
    let request = cedar_policy::Request::from(request);
    let action = request.action().map(ToString::to_string).ok_or_else(|| {
        line.error_at(
            &[Key::Field("tools_call")],
            "the generator made a request without an action",
        )
    })?;
    let mut context = request
        .context()
        .map(Context::to_json_value)
        .transpose()
        .map_err(|e| {
            line.error_at(
                &[Key::Field("tools_call")],
                format!("cannot write the context: {e}"),
            )
        })?
        .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
    let mut made = match cedar_policy::Entities::from(made).to_json_value() {
        Ok(Value::Array(items)) => items,
        Ok(_) => Vec::new(),
        Err(e) => {
            return Err(line
                .error_at(
                    &[Key::Field("tools_call")],
                    format!("cannot write the generated entities: {e}"),
                )
                .into());
        }
    };
    rename_generated(&mut context, &mut made, line.text, number);
    let Value::Object(mut context) = context else {
        return Err(line
            .error_at(
                &[Key::Field("tools_call")],
                "the generated context is not a record",
            )
            .into());
    };
    json::sort_cedar_map(&mut context).map_err(|(_, message)| {
        line.error_at(
            &[Key::Field("tools_call")],
            format!("the generated context: {message}"),
        )
    })?;
    let mut entities = Vec::new();
    for entity in &made {
        let uid = entity
            .get("uid")
            .map(json::uid)
            .transpose()
            .map_err(|message| line.error_at(&[Key::Field("tools_call")], message))?
            .ok_or_else(|| {
                line.error_at(
                    &[Key::Field("tools_call")],
                    "a generated entity has no `uid`",
                )
            })?;
        let table = |key: &str| -> Result<Option<toml::Table>> {
            match entity.get(key) {
                Some(Value::Object(map)) if !map.is_empty() => {
                    json::to_table(map).map(Some).map_err(|(_, message)| {
                        line.error_at(
                            &[Key::Field("tools_call")],
                            format!("a generated entity: {message}"),
                        )
                        .into()
                    })
                }
                _ => Ok(None),
            }
        };
        entities.push(ImportedEntity {
            uid: uid.to_string(),
            parents: Vec::new(),
            attrs: table("attrs")?.unwrap_or_default(),
            tags: table("tags")?,
        });
    }
    entities.sort_by(|a, b| a.uid.cmp(&b.uid));
    Ok((action, context, entities))
}

/// The generator names each entity it makes of an argument (and each unknown
/// value) with a random UUID. privsim's output must not change from run to
/// run, so each such id becomes `line-N-K`, K counting in the order the
/// context (keys sorted), then each renamed entity in turn, first refers to
/// it. Entities nothing refers to (none expected) come last, by content: the
/// least [`content_key`] first, then what it refers to, and so on; never by
/// their random ids or the generator's (hash) order. An id that occurs in the
/// log line itself is the user's and kept.
fn rename_generated(context: &mut Value, entities: &mut [Value], line_text: &str, number: usize) {
    let generated: BTreeSet<String> = entities
        .iter()
        .filter_map(|e| e.pointer("/uid/id").and_then(Value::as_str))
        .map(str::to_string)
        .chain(refs_in_order(context))
        .filter(|id| is_uuid(id) && !line_text.contains(id.as_str()))
        .collect();
    if generated.is_empty() {
        return;
    }
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut queue: Vec<String> = Vec::new();
    let visit = |value: &Value, names: &mut BTreeMap<String, String>, queue: &mut Vec<String>| {
        for id in refs_in_order(value) {
            if generated.contains(&id) && !names.contains_key(&id) {
                let next = format!("line-{number}-{}", names.len() + 1);
                names.insert(id.clone(), next);
                queue.push(id);
            }
        }
    };
    let entity_of = |id: &str| {
        entities
            .iter()
            .find(|e| e.pointer("/uid/id").and_then(Value::as_str) == Some(id))
    };
    // Names, in turn, what each entity named so far refers to.
    let mut at = 0;
    let mut follow = |names: &mut BTreeMap<String, String>, queue: &mut Vec<String>| {
        while let Some(id) = queue.get(at).cloned() {
            at += 1;
            if let Some(entity) = entity_of(&id) {
                for key in ["attrs", "tags"] {
                    if let Some(value) = entity.get(key) {
                        visit(value, names, queue);
                    }
                }
            }
        }
    };
    visit(context, &mut names, &mut queue);
    follow(&mut names, &mut queue);
    // Entities nothing refers to (none expected) keep a stable name too: the
    // one of least content first (its JSON without the random ids, see
    // `content_key`), then what it refers to, until none is left. Entities
    // of equal content are interchangeable, so which comes first among them
    // (the generator's order) does not change the output.
    loop {
        let next = entities
            .iter()
            .enumerate()
            .filter_map(|(position, entity)| {
                let id = entity.pointer("/uid/id").and_then(Value::as_str)?;
                (generated.contains(id) && !names.contains_key(id)).then(|| {
                    let key = content_key(entity, &generated, &names, &entity_of, &mut Vec::new());
                    (key, position, id.to_string())
                })
            })
            .min();
        let Some((_, _, id)) = next else {
            break;
        };
        let name = format!("line-{number}-{}", names.len() + 1);
        names.insert(id.clone(), name);
        queue.push(id);
        follow(&mut names, &mut queue);
    }
    rewrite(context, &names);
    for entity in entities.iter_mut() {
        rewrite(entity, &names);
    }
}

/// What a generated `entity` is, without the generator's random ids: its
/// JSON as [`canonical_entity`] writes it (keys and parents sorted), where
/// its own id is blank, the id of an entity
/// already named is its name, and the id of another generated entity is that
/// entity's own key (blank where the references go round in a cycle:
/// `visiting` holds the ids being expanded).
fn content_key<'a>(
    entity: &Value,
    generated: &BTreeSet<String>,
    names: &BTreeMap<String, String>,
    entity_of: &impl Fn(&str) -> Option<&'a Value>,
    visiting: &mut Vec<String>,
) -> String {
    let Some(own) = entity.pointer("/uid/id").and_then(Value::as_str) else {
        return canonical_entity(entity);
    };
    visiting.push(own.to_string());
    let mut copy = entity.clone();
    let mut replace = |id: &mut String| {
        if !generated.contains(id.as_str()) {
            return;
        }
        *id = if let Some(name) = names.get(id.as_str()) {
            name.clone()
        } else if visiting.contains(id) {
            String::new()
        } else if let Some(other) = entity_of(id) {
            content_key(other, generated, names, entity_of, visiting)
        } else {
            String::new()
        };
    };
    replace_ids(&mut copy, &mut replace);
    visiting.pop();
    canonical_entity(&copy)
}

/// Calls `replace` on the id of every entity reference (`uid` or
/// `__entity`) in `value`.
fn replace_ids(value: &mut Value, replace: &mut impl FnMut(&mut String)) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|item| replace_ids(item, replace)),
        Value::Object(map) => {
            for key in ["__entity", "uid"] {
                if let Some(Value::Object(reference)) = map.get_mut(key)
                    && let Some(Value::String(id)) = reference.get_mut("id")
                {
                    replace(id);
                }
            }
            for (key, item) in map.iter_mut() {
                if key != "__entity" && key != "uid" {
                    replace_ids(item, replace);
                }
            }
        }
        _ => {}
    }
}

fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// The ids of entity references (`{"__entity": {"type", "id"}}`) in `value`,
/// object members visited in sorted key order.
fn refs_in_order(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_refs(value, &mut out);
    out
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        Value::Object(map) => {
            if let Some(id) = map
                .get("__entity")
                .and_then(|e| e.get("id"))
                .and_then(Value::as_str)
            {
                out.push(id.to_string());
                return;
            }
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for key in keys {
                if let Some(item) = map.get(key) {
                    collect_refs(item, out);
                }
            }
        }
        _ => {}
    }
}

/// Replaces renamed ids in entity references and entity uids.
fn rewrite(value: &mut Value, names: &BTreeMap<String, String>) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|item| rewrite(item, names)),
        Value::Object(map) => {
            for key in ["__entity", "uid"] {
                if let Some(Value::Object(reference)) = map.get_mut(key)
                    && let Some(Value::String(id)) = reference.get_mut("id")
                    && let Some(new) = names.get(id.as_str())
                {
                    *id = new.clone();
                }
            }
            for (_, item) in map.iter_mut() {
                rewrite(item, names);
            }
        }
        _ => {}
    }
}

/// The scenario file, key for key as `scenario::raw` reads it.
#[derive(Serialize)]
struct Header<'a> {
    name: &'a str,
    description: String,
    policies: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entities: Option<String>,
    start: String,
}

#[derive(Serialize)]
struct SessionOut<'a> {
    id: &'a str,
    principal: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    on_behalf_of: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<&'a str>,
}

#[derive(Serialize)]
struct StepOut<'a> {
    name: String,
    at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal: Option<&'a str>,
    action: &'a str,
    resource: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expect: Option<&'static str>,
}

/// How the scenario refers to its Cedar files.
struct Refs {
    policies: Vec<String>,
    schema: Option<String>,
    entities: Option<String>,
}

impl LoggedScenario {
    /// The log's file name, as step names and the description give it.
    fn log_name(&self) -> String {
        self.source.file_name().map_or_else(
            || self.source.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    /// The scenario's description.
    fn description(&self, log_name: &str) -> String {
        format!(
            "Imported by `privsim import log` from `{log_name}`: {} request(s) by {} session(s); step names give the log line.",
            self.steps.len(),
            self.sessions.len()
        )
    }

    fn scenario_text(&self, refs: &Refs) -> Result<String> {
        let serialize = |value: &dyn erased::Part| value.to_toml(&self.source);
        let log_name = self.log_name();
        let mut text = String::from(
            "# Generated by `privsim import log` (docs/import.md): one step per logged request,\n# each expecting the decision production logged.\n",
        );
        #[derive(Serialize)]
        struct Document<'a> {
            scenario: Header<'a>,
        }
        text.push_str(&serialize(&Document {
            scenario: Header {
                name: &self.name,
                description: self.description(&log_name),
                policies: refs.policies.clone(),
                schema: refs.schema.clone(),
                entities: refs.entities.clone(),
                start: self.start.to_string(),
            },
        })?);
        for session in &self.sessions {
            text.push_str("\n[[session]]\n");
            text.push_str(&serialize(&SessionOut {
                id: &session.id,
                principal: &session.principal,
                on_behalf_of: session.on_behalf_of.as_deref(),
                parent: session.parent.as_deref(),
            })?);
        }
        for entity in &self.entities {
            #[derive(Serialize)]
            struct EntityOut<'a> {
                uid: &'a str,
            }
            text.push_str("\n[[entity]]\n");
            text.push_str(&serialize(&EntityOut { uid: &entity.uid })?);
            inline(&mut text, "attrs", &entity.attrs);
            if let Some(tags) = &entity.tags {
                inline(&mut text, "tags", tags);
            }
        }
        for step in &self.steps {
            text.push_str("\n[[step]]\n");
            text.push_str(&serialize(&StepOut {
                name: format!("{log_name}:{}", step.line),
                at: step.at.to_string(),
                session: step.session.as_deref(),
                principal: step.session.is_none().then_some(step.principal.as_str()),
                action: &step.action,
                resource: &step.resource,
                expect: step.expect.map(|d| match d {
                    Decision::Allow => "allow",
                    Decision::Deny => "deny",
                    Decision::Error => "error",
                }),
            })?);
            let context = json::to_table(&step.context).map_err(|(_, message)| {
                Error::Internal(format!(
                    "line {}'s context was read but cannot be written ({message}); this is a bug of privsim",
                    step.line
                ))
            })?;
            inline(&mut text, "context", &context);
        }
        Ok(text)
    }

    /// The raw model [`LoggedScenario::scenario_text`] writes, built in
    /// memory: every key it writes with the same value, every span `0..0`.
    /// Parsing the text gives the same model but for the spans (the TOML
    /// writer and reader round-trip strings, integers, booleans, arrays and
    /// tables exactly, and a log's contexts hold nothing else), and for a
    /// step's context, which is given as read (`RawStep::read_context`: the
    /// JSON values reading the written table gives, keys sorted) instead of
    /// as a table to read.
    fn raw_scenario(&self, refs: &Refs) -> RawScenario {
        fn at<T>(value: T) -> Spanned<T> {
            Spanned::new(0..0, value)
        }
        // `inline` writes no key for an empty table.
        let table = |table: &toml::Table| (!table.is_empty()).then(|| at(table.clone()));
        let log_name = self.log_name();
        RawScenario {
            scenario: at(RawHeader {
                name: at(self.name.clone()),
                description: Some(self.description(&log_name)),
                policies: at(refs.policies.iter().cloned().map(at).collect()),
                links: None,
                schema: refs.schema.clone().map(at),
                entities: refs.entities.clone().map(at),
                start: Some(at(self.start.to_string())),
                world: None,
                validate: None,
                tick: None,
                window_start: None,
                window_end: None,
                unused_after: None,
            }),
            facts: None,
            entities: self
                .entities
                .iter()
                .map(|entity| {
                    at(RawEntity {
                        uid: at(entity.uid.clone()),
                        parents: Vec::new(),
                        attrs: table(&entity.attrs),
                        tags: entity.tags.as_ref().and_then(table),
                    })
                })
                .collect(),
            sessions: self
                .sessions
                .iter()
                .map(|session| {
                    at(RawSession {
                        id: at(session.id.clone()),
                        principal: at(session.principal.clone()),
                        on_behalf_of: session.on_behalf_of.clone().map(at),
                        parent: session.parent.clone().map(at),
                        task: None,
                        context: None,
                        from: None,
                        until: None,
                        dormant: None,
                        lifetime: None,
                    })
                })
                .collect(),
            grants: Vec::new(),
            steps: self
                .steps
                .iter()
                .map(|step| {
                    at(RawStep {
                        name: Some(format!("{log_name}:{}", step.line)),
                        at: Some(at(step.at.to_string())),
                        session: step.session.clone().map(at),
                        principal: step.session.is_none().then(|| at(step.principal.clone())),
                        action: at(step.action.clone()),
                        resource: at(step.resource.clone()),
                        // Read already: the same values, in the same order,
                        // as reading the written table gives.
                        context: None,
                        expect: step.expect.map(at),
                        expect_reason: None,
                        expect_reason_includes: None,
                        expect_errors: None,
                        expect_error_count: None,
                        validate_request: None,
                        repeat: None,
                        every: None,
                        repetition: 0,
                        read_context: (!step.context.is_empty()).then(|| step.context.clone()),
                    })
                })
                .collect(),
            access: Vec::new(),
            risk: None,
            effects: Vec::new(),
            never: Vec::new(),
            invariants: None,
            defaults: None,
        }
    }

    /// Loads the scenario in place, without writing anything: it lives (in
    /// memory) in the nearest folder holding all its Cedar files and refers
    /// to them where they are.
    pub fn load(&self) -> Result<Scenario> {
        self.load_with(&LoadOptions::default())
    }

    /// [`LoggedScenario::load_with`] without writing and parsing the
    /// scenario's text: the raw model is built in memory
    /// (`LoggedScenario::raw_scenario`) and resolved by the same loader
    /// (`load::load_raw`). The scenario is the one `load_with` gives, but
    /// for its steps' `line` (1: there is no text to count lines in) and
    /// the locations in its warnings; when loading fails, the scenario's
    /// text is loaded instead, so an error is exactly `load_with`'s.
    /// `import_log_stream::untexted_load_equals_text_load` compares the two.
    pub fn load_untexted(&self, options: &LoadOptions) -> Result<Scenario> {
        let (path, refs) = self.in_place()?;
        let file = SourceFile::from_text(path.clone(), path.display().to_string(), String::new());
        match scenario::load_raw(file, self.raw_scenario(&refs), options) {
            Ok(scenario) => Ok(scenario),
            Err(_) => self.load_with(options),
        }
    }

    /// [`LoggedScenario::load`] with load options (the observation window).
    pub fn load_with(&self, options: &LoadOptions) -> Result<Scenario> {
        let (path, refs) = self.in_place()?;
        let text = self.scenario_text(&refs)?;
        let file = SourceFile::from_text(path.clone(), path.display().to_string(), text);
        scenario::load_source(file, options)
    }

    /// Where the scenario loaded in place lives, and how it refers to its
    /// Cedar files from there.
    fn in_place(&self) -> Result<(PathBuf, Refs)> {
        let mut originals: Vec<&Path> = self.policies.iter().map(PathBuf::as_path).collect();
        originals.extend(self.schema.as_deref());
        originals.extend(self.entities_file.as_deref());
        let base = super::write::common_folder(originals.iter().copied())?;
        let relative = |path: &Path| -> Result<String> {
            let normal = normalize(&super::write::absolute_if(path, base.is_absolute()));
            super::write::slash_path(normal.strip_prefix(&base).unwrap_or(&normal))
        };
        let refs = Refs {
            policies: self
                .policies
                .iter()
                .map(|p| relative(p))
                .collect::<Result<_>>()?,
            schema: self.schema.as_deref().map(relative).transpose()?,
            entities: self.entities_file.as_deref().map(relative).transpose()?,
        };
        Ok((base.join(format!("{}.toml", self.name)), refs))
    }

    /// Writes the scenario as `out/<name>.toml`. Cedar files inside `out`
    /// are referred to where they are; files outside are copied beside the
    /// scenario (a folder outside `out` is refused). Nothing is replaced: an
    /// existing scenario file is an error, and an existing copy must have the
    /// same contents.
    pub fn write(&self, out: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(out).map_err(|source| Error::Io {
            path: out.display().to_string(),
            source,
        })?;
        let out_abs = normalize(&std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf()));
        let mut copies: Vec<(PathBuf, PathBuf)> = Vec::new();
        let mut refer = |path: &Path| -> Result<String> {
            let abs = normalize(&std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
            if let Ok(inside) = abs.strip_prefix(&out_abs) {
                return super::write::slash_path(inside);
            }
            if path.is_dir() {
                return Err(Error::Outside(format!(
                    "the folder `{}` is outside `{}`; a scenario may not refer outside its folder (put it inside, or pass its files)",
                    path.display(),
                    out.display()
                )));
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "file".to_string());
            copies.push((path.to_path_buf(), out.join(&name)));
            Ok(name)
        };
        let refs = Refs {
            policies: self
                .policies
                .iter()
                .map(|p| refer(p))
                .collect::<Result<_>>()?,
            schema: self.schema.as_deref().map(&mut refer).transpose()?,
            entities: self.entities_file.as_deref().map(&mut refer).transpose()?,
        };
        let path = out.join(format!("{}.toml", self.name));
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(Error::Conflict(format!(
                "`{}` exists; privsim import never replaces a file (remove it, or choose another `--name` or `--out`)",
                path.display()
            )));
        }
        for (from, to) in &copies {
            let text = SourceFile::read(from, from.display().to_string())?;
            let io = |source| Error::Io {
                path: to.display().to_string(),
                source,
            };
            if !crate::output::write_new_file(to, text.text.as_bytes()).map_err(io)? {
                let existing = std::fs::read(to).map_err(io)?;
                if existing != text.text.as_bytes() {
                    return Err(Error::Conflict(format!(
                        "`{}` exists with other contents than `{}`; privsim import never replaces a file",
                        to.display(),
                        from.display()
                    )));
                }
            }
        }
        let text = self.scenario_text(&refs)?;
        let io = |source| Error::Io {
            path: path.display().to_string(),
            source,
        };
        if !crate::output::write_new_file(&path, text.as_bytes()).map_err(io)? {
            return Err(Error::Conflict(format!(
                "`{}` appeared while privsim was writing; nothing was replaced",
                path.display()
            )));
        }
        scenario::load(&path, &LoadOptions::default())?;
        Ok(path)
    }
}

/// Appends `key = { ... }` (an inline table, escaped by the `toml` crate) unless the table is empty.
fn inline(text: &mut String, key: &str, table: &toml::Table) {
    if !table.is_empty() {
        text.push_str(key);
        text.push_str(" = ");
        text.push_str(&toml::Value::Table(table.clone()).to_string());
        text.push('\n');
    }
}

mod erased {
    //! A part of the scenario file serialized on its own, with errors naming the log.

    use std::path::Path;

    use privsim_model::diag::{Error, Result};
    use serde::Serialize;

    pub trait Part {
        fn to_toml(&self, source: &Path) -> Result<String>;
    }

    impl<T: Serialize> Part for T {
        fn to_toml(&self, source: &Path) -> Result<String> {
            toml::to_string(self).map_err(|e| {
                Error::Internal(format!(
                    "cannot write the scenario for `{}`: {e}",
                    source.display()
                ))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use serde_json::{Value, json};

    use super::rename_generated;

    /// A generated entity of type `T`, with the id `id` and these attributes.
    fn entity(id: &str, attrs: Value) -> Value {
        json!({"uid": {"type": "T", "id": id}, "attrs": attrs, "parents": []})
    }

    fn reference(id: &str) -> Value {
        json!({"__entity": {"type": "T", "id": id}})
    }

    /// What `rename_generated` makes of line 7's context and entities when
    /// the generator gave them the ids `ids` (random UUIDs) and listed the
    /// entities in the order `order`: the context, and the entities sorted
    /// by their new names.
    fn renamed(ids: [&str; 5], order: [usize; 5]) -> (Value, Vec<Value>) {
        let [e, a, b, c, d] = ids;
        let mut context = json!({"filter": reference(e)});
        let all = [
            // Referred to by the context.
            entity(e, json!({"q": "x"})),
            // Referred to by nothing.
            entity(a, json!({"n": 2})),
            entity(b, json!({"n": 1})),
            entity(c, json!({"n": 3, "child": reference(d)})),
            // Referred to by `c` only.
            entity(d, json!({"leaf": true})),
        ];
        let mut entities: Vec<Value> = order.iter().map(|&at| all[at].clone()).collect();
        rename_generated(&mut context, &mut entities, "{}", 7);
        entities.sort_by_key(|e| e["uid"]["id"].as_str().unwrap().to_string());
        (context, entities)
    }

    fn uuids(seed: u32) -> [String; 5] {
        std::array::from_fn(|at| format!("{seed:08x}-0000-4000-8000-{:012x}", 977 * (5 - at)))
    }

    /// Regression: entities nothing refers to were named in the order of
    /// their random ids, so the same log line gave different scenarios.
    #[test]
    fn entities_nothing_refers_to_are_named_by_content_not_by_their_random_ids() {
        let first = uuids(0xdead_beef);
        let first = first.each_ref().map(String::as_str);
        let (context, entities) = renamed(first, [0, 1, 2, 3, 4]);
        assert_eq!(context, json!({"filter": reference("line-7-1")}));
        // The context's entity first; then the others by their JSON with the
        // random ids left out (`"child"` sorts before `"n"`), each followed
        // by what it refers to.
        assert_eq!(
            entities,
            [
                entity("line-7-1", json!({"q": "x"})),
                entity("line-7-2", json!({"n": 3, "child": reference("line-7-3")})),
                entity("line-7-3", json!({"leaf": true})),
                entity("line-7-4", json!({"n": 1})),
                entity("line-7-5", json!({"n": 2})),
            ]
        );
        // Other ids, in reverse order of the ones above, and other orders of
        // the generator's list: the same scenario.
        for (seed, order) in [
            (0x0000_0001, [4, 3, 2, 1, 0]),
            (0xffff_fff0, [2, 0, 4, 1, 3]),
            (0x1234_5678, [1, 4, 0, 3, 2]),
        ] {
            let mut ids = uuids(seed);
            ids.reverse();
            let ids = ids.each_ref().map(String::as_str);
            assert_eq!(
                renamed(ids, order),
                (context.clone(), entities.clone()),
                "seed {seed:x}, order {order:?}"
            );
        }
    }

    /// Two entities alike but for what they refer to are ordered by what
    /// they refer to, not by the generator's order; references that go round
    /// in a cycle end.
    #[test]
    fn entities_alike_but_for_what_they_refer_to_are_named_by_what_they_refer_to() {
        let run = |ids: &[String; 5], order: [usize; 6]| {
            let [p, q, x, y, z] = ids.each_ref().map(String::as_str);
            let all = [
                entity(p, json!({"child": reference(x)})),
                entity(q, json!({"child": reference(y)})),
                entity(x, json!({"leaf": 2})),
                entity(y, json!({"leaf": 1})),
                // A cycle: `z` refers to itself and to `p`.
                entity(
                    z,
                    json!({"self": reference(z), "to": reference(p), "zz": 0}),
                ),
                entity("kept", json!({})),
            ];
            let mut context = json!({});
            let mut entities: Vec<Value> = order.iter().map(|&at| all[at].clone()).collect();
            rename_generated(&mut context, &mut entities, "{}", 3);
            entities.sort_by_key(|e| e["uid"]["id"].as_str().unwrap().to_string());
            entities
        };
        let expected = vec![
            entity("kept", json!({})),
            entity("line-3-1", json!({"child": reference("line-3-2")})),
            entity("line-3-2", json!({"leaf": 1})),
            entity("line-3-3", json!({"child": reference("line-3-4")})),
            entity("line-3-4", json!({"leaf": 2})),
            entity(
                "line-3-5",
                json!({"self": reference("line-3-5"), "to": reference("line-3-3"), "zz": 0}),
            ),
        ];
        let mut ids = uuids(7);
        assert_eq!(run(&ids, [0, 1, 2, 3, 4, 5]), expected);
        ids.reverse();
        assert_eq!(run(&ids, [5, 4, 3, 2, 1, 0]), expected);
        assert_eq!(run(&ids, [1, 0, 3, 2, 5, 4]), expected);
    }
}
