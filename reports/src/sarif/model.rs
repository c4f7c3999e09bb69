//! The SARIF 2.1.0 log as serde types, shared by the run's SARIF
//! (`sarif/mod.rs`) and the gate's (`check/sarif.rs`). Fields are declared in
//! the order they are written; a result's and a location's optional parts
//! that come in more than one order are the untagged enums [`Tail`] and
//! [`Label`]. Every `message` is a [`Message`], whose text has its link
//! brackets escaped; rule descriptions are plain [`Text`].

use serde::Serialize;

/// The schema this output follows.
pub const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// A whole log: one run.
#[derive(Debug, Serialize)]
pub(crate) struct Log {
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    pub version: &'static str,
    pub runs: Vec<Run>,
}

impl Log {
    /// A log of one run.
    pub fn new(run: Run) -> Self {
        Self {
            schema: SCHEMA,
            version: "2.1.0",
            runs: vec![run],
        }
    }

    /// Pretty-printed, ending in a newline.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Run {
    pub tool: Tool,
    pub column_kind: &'static str,
    pub results: Vec<SarifResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<RunProperties>,
}

impl Run {
    /// A run of the driver `name` with these rules and results.
    pub fn new(name: &'static str, rules: Vec<Rule>, results: Vec<SarifResult>) -> Self {
        Self {
            tool: Tool {
                driver: Driver {
                    name,
                    version: env!("CARGO_PKG_VERSION"),
                    rules,
                },
            },
            column_kind: "unicodeCodePoints",
            results,
            properties: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Tool {
    pub driver: Driver,
}

#[derive(Debug, Serialize)]
pub(crate) struct Driver {
    pub name: &'static str,
    pub version: &'static str,
    pub rules: Vec<Rule>,
}

/// A rule (`reportingDescriptor`): a result's `ruleIndex` points into the list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Rule {
    pub id: String,
    pub short_description: Text,
    pub full_description: Text,
    pub default_configuration: Configuration,
}

impl Rule {
    pub fn new(id: &str, level: &str, short: &str, full: &str) -> Self {
        Self {
            id: id.to_string(),
            short_description: Text {
                text: short.to_string(),
            },
            full_description: Text {
                text: full.to_string(),
            },
            default_configuration: Configuration {
                level: level.to_string(),
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Configuration {
    pub level: String,
}

/// Plain text (a rule's description): no links are read in it.
#[derive(Debug, Serialize)]
pub(crate) struct Text {
    pub text: String,
}

/// A message. Plain-text messages may embed links, `[text](N)` to related
/// location N (SARIF 2.1.0 §3.11.6), so an id like `[x](http://…)` would
/// become one; the spec's escape is a backslash before each bracket. A
/// backslash already followed by a bracket is escaped too, so it stays a
/// literal backslash.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Message {
    text: String,
}

impl Message {
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        if !text.contains(['[', ']']) {
            return Self { text };
        }
        let mut escaped = String::with_capacity(text.len() + 8);
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '['
                || c == ']'
                || (c == '\\' && chars.peek().is_some_and(|n| *n == '[' || *n == ']'))
            {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        Self { text: escaped }
    }
}

/// One result: the common head, then its kind's [`Tail`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SarifResult {
    pub rule_id: String,
    pub rule_index: usize,
    pub level: &'static str,
    pub message: Message,
    pub locations: Vec<Location>,
    #[serde(flatten)]
    pub tail: Tail,
}

/// What follows a result's locations, in the order each kind writes it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Tail {
    /// Nothing more.
    None(Empty),
    /// Only properties.
    Properties(PropertiesTail),
    /// Related locations (always written, even empty), then properties.
    RelatedThenProperties(RelatedThenProperties),
    /// Properties, then the related locations, suppressions and code flows
    /// there are.
    PropertiesThenMore(PropertiesThenMore),
}

#[derive(Debug, Serialize)]
pub(crate) struct Empty {}

#[derive(Debug, Serialize)]
pub(crate) struct PropertiesTail {
    pub properties: Properties,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RelatedThenProperties {
    pub related_locations: Vec<Location>,
    pub properties: Properties,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PropertiesThenMore {
    pub properties: Properties,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_locations: Vec<Location>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressions: Vec<Suppression>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub code_flows: Vec<CodeFlow>,
}

/// A result's property bag, one shape per kind of result.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Properties {
    Finding(FindingProperties),
    Step(StepProperties),
    Access(AccessProperties),
    Principal(PrincipalProperties),
    Policy(PolicyProperties),
    File(FileProperties),
    Change(ChangeProperties),
    Status(StatusProperties),
    Config(ConfigProperties),
}

/// An invariant finding of a run.
#[derive(Debug, Serialize)]
pub(crate) struct FindingProperties {
    pub scenario: String,
    pub time: String,
    pub principal: String,
    pub action: String,
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repro: Option<String>,
    /// The search's moves to the finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moves: Option<usize>,
}

/// A step of a run (a failed expectation).
#[derive(Debug, Serialize)]
pub(crate) struct StepProperties {
    pub scenario: String,
    pub step: usize,
    pub time: String,
    pub principal: String,
    pub action: String,
    pub resource: String,
}

/// A failed access assertion.
#[derive(Debug, Serialize)]
pub(crate) struct AccessProperties {
    pub scenario: String,
    pub principal: String,
    pub action: String,
}

/// An over-privileged principal.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PrincipalProperties {
    pub scenario: String,
    pub principal: String,
    pub weighted_gap: u64,
}

/// A dead policy.
#[derive(Debug, Serialize)]
pub(crate) struct PolicyProperties {
    pub policy: String,
}

/// A scenario file that could not be loaded.
#[derive(Debug, Serialize)]
pub(crate) struct FileProperties {
    pub file: String,
}

/// A change the gate found.
#[derive(Debug, Serialize)]
pub(crate) struct ChangeProperties {
    pub scenario: String,
    pub principal: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<privsim_model::time::Instant>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
}

/// The gate's time budget.
#[derive(Debug, Serialize)]
pub(crate) struct StatusProperties {
    pub status: String,
}

/// The gate's configuration change.
#[derive(Debug, Serialize)]
pub(crate) struct ConfigProperties {
    pub revision: String,
    pub status: String,
}

/// An exception that accepted a result.
#[derive(Debug, Serialize)]
pub(crate) struct Suppression {
    pub kind: &'static str,
    pub status: &'static str,
    pub justification: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CodeFlow {
    pub message: Message,
    pub thread_flows: Vec<ThreadFlow>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ThreadFlow {
    pub locations: Vec<ThreadFlowLocation>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThreadFlowLocation {
    pub location: Location,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_order: Option<usize>,
    pub importance: &'static str,
}

/// The run's search statistics (`runs[0].properties`).
#[derive(Debug, Serialize)]
pub(crate) struct RunProperties {
    pub searches: Vec<SearchProperties>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchProperties {
    pub scenario: String,
    pub file: String,
    pub strategy: String,
    pub seed: u64,
    pub moves: u64,
    pub states: u64,
    pub max_depth: usize,
    pub budget_exhausted: bool,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exhaustive_depth: Option<usize>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub caveats: Vec<String>,
}

/// A location: a file and line, then its [`Label`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Location {
    pub physical_location: PhysicalLocation,
    #[serde(flatten)]
    pub label: Label,
}

/// A location's message and related-location id, in the order each use
/// writes them.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum Label {
    None(EmptyLabel),
    Message { message: Message },
    MessageThenId { message: Message, id: usize },
    IdThenMessage { id: usize, message: Message },
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct EmptyLabel {}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PhysicalLocation {
    pub artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ArtifactLocation {
    pub uri: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Region {
    pub start_line: usize,
}

impl Location {
    /// `file` (as a URI reference, see [`uri`]) at `line` (no region for
    /// line 0), with an optional message.
    pub fn new(file: &str, line: usize, message: Option<&str>) -> Self {
        Self {
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation { uri: uri(file) },
                region: (line >= 1).then_some(Region { start_line: line }),
            },
            label: match message {
                Some(text) => Label::Message {
                    message: Message::new(text),
                },
                None => Label::None(EmptyLabel {}),
            },
        }
    }

    /// The same location with `message` (in place of any it had).
    pub fn with_message(mut self, text: &str) -> Self {
        self.label = Label::Message {
            message: Message::new(text),
        };
        self
    }

    /// A related location: its message, then its `id` (the run's order).
    pub fn related(file: &str, line: usize, id: usize, text: &str) -> Self {
        Self {
            label: Label::MessageThenId {
                message: Message::new(text),
                id,
            },
            ..Self::new(file, line, None)
        }
    }

    /// A related location: its `id`, then its message (the gate's order).
    pub fn related_id_first(file: &str, line: usize, id: usize, text: &str) -> Self {
        Self {
            label: Label::IdThenMessage {
                id,
                message: Message::new(text),
            },
            ..Self::new(file, line, None)
        }
    }
}

/// A path as a URI reference: `/` separators, percent-encoded outside the
/// unreserved characters, `file://` in front of an absolute path.
pub fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut out = String::new();
    if path.starts_with('/') {
        out.push_str("file://");
    }
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
