//! Reading Cedar's own file formats: `.cedar` policy files (named by `@id`),
//! template links, `.cedarschema` / JSON schemas and entities JSON, each error
//! located in the file it came from.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use cedar_policy::{EntityUid, PolicyId, PolicySet, Schema, SlotId, ValidationMode, Validator};
use miette::Diagnostic;
use serde_json::Value;

use privsim_model::diag::{SourceError, SourceFile};

/// A policy set with the file each policy came from.
#[derive(Debug, Clone)]
pub struct Policies {
    /// The policies, templates and template links, as Cedar evaluates them.
    pub set: PolicySet,
    /// The files read, in order.
    pub files: Vec<SourceFile>,
    /// For each policy or template id: the index into `files` and the byte offset
    /// where the policy starts.
    pub origin: BTreeMap<String, (usize, usize)>,
    /// The JSON forms of `set`'s policies and templates, made on first use
    /// ([`Policies::json`]). `set` is not changed after loading; while
    /// loading, [`apply_links`] changes it and drops the forms.
    json: OnceLock<Arc<PolicyJson>>,
}

/// Cedar's JSON form ([`cedar_policy::Policy::to_json`]) of every policy
/// (template links included) and template of a set, by id, made once: Cedar
/// makes it by parsing the policy's text again, and the held-set engine,
/// the state machine, its rows and the search's guidance each read every
/// policy's form.
#[derive(Debug, Default)]
pub struct PolicyJson {
    policies: HashMap<PolicyId, Option<Value>>,
    templates: HashMap<PolicyId, Option<Value>>,
}

impl PolicyJson {
    /// The forms of every policy and template of `set`.
    pub fn of(set: &PolicySet) -> Self {
        Self {
            policies: set
                .policies()
                .map(|policy| (policy.id().clone(), policy.to_json().ok()))
                .collect(),
            templates: set
                .templates()
                .map(|template| (template.id().clone(), template.to_json().ok()))
                .collect(),
        }
    }

    /// The form of the policy `id`; `None` when Cedar gives none (or the set
    /// has no such policy).
    pub fn policy(&self, id: &PolicyId) -> Option<&Value> {
        self.policies.get(id)?.as_ref()
    }

    /// The form of the template `id`; `None` when Cedar gives none (or the
    /// set has no such template).
    pub fn template(&self, id: &PolicyId) -> Option<&Value> {
        self.templates.get(id)?.as_ref()
    }

    /// The forms of `set`'s policies, then of its templates, in the set's
    /// order (`None` for one Cedar gives none of). `set` is the set the
    /// forms were made of.
    pub fn in_order<'s>(&'s self, set: &'s PolicySet) -> impl Iterator<Item = Option<&'s Value>> {
        set.policies()
            .map(|policy| self.policy(policy.id()))
            .chain(set.templates().map(|template| self.template(template.id())))
    }
}

impl Policies {
    /// The JSON forms of the policies and templates of `set`, made on the
    /// first call.
    pub fn json(&self) -> &PolicyJson {
        self.json
            .get_or_init(|| Arc::new(PolicyJson::of(&self.set)))
    }

    /// `file:line` where a policy or template starts, if it came from a file.
    pub fn location(&self, id: &str) -> Option<(String, usize)> {
        let (file, offset) = *self.origin.get(id)?;
        let source = self.files.get(file)?;
        Some((source.display.clone(), source.line_col(offset).0))
    }
}

/// Turns any of Cedar's located diagnostics into an error on `file`, pointing at
/// its first label.
pub fn cedar_error(file: &SourceFile, diagnostic: &dyn Diagnostic) -> SourceError {
    let mut message = diagnostic.to_string();
    if let Some(related) = diagnostic.related() {
        for inner in related {
            message.push_str("; ");
            message.push_str(&inner.to_string());
        }
    }
    with_diagnostic_location(file, diagnostic, message)
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first)
            if first.is_uppercase() && !chars.clone().next().is_some_and(char::is_uppercase) =>
        {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_string(),
    }
}

/// The deepest nesting of brackets privsim passes to Cedar. Cedar's parser
/// recurses once per level (tens of kilobytes of stack each in a debug build),
/// so a few hundred levels in a hostile file overflow the stack and abort the
/// process; real policies nest a handful of levels.
pub const MAX_NESTING: usize = 32;

/// The most operators one policy (or schema declaration) may chain. Cedar builds
/// and drops an operator chain recursively, so a long enough `1 + 1 + ...`
/// overflows the stack.
pub const MAX_OPERATORS: usize = 5_000;

/// Refuses Cedar text nested deeper than [`MAX_NESTING`] or chaining more than
/// [`MAX_OPERATORS`] operators in one policy, before Cedar parses it. A lexical
/// scan: strings and `//` comments are skipped, a policy ends at `;`.
///
/// Every construct Cedar's parser recurses on counts as a level: brackets of
/// each kind, and `if` (whose `then` and `else` branches nest: 4,999 nested
/// `if`s were fewer than [`MAX_OPERATORS`] operators yet overflowed the
/// stack). The end of an `if` cannot be seen lexically, so an `if` counts
/// until the bracket it stands in closes, or the policy ends: ifs side by side
/// count as nested, which errs on the safe side. A run of unary `!`/`-` counts
/// as that many levels while it lasts. Member access, `has`, `like` and the
/// binary operators are loops in Cedar's parser, bounded by [`MAX_OPERATORS`].
pub fn check_depth(file: &SourceFile) -> privsim_model::diag::Result<()> {
    let text = file.text.as_bytes();
    let (mut depth, mut operators, mut at) = (0usize, 0usize, 0usize);
    // How many `if`s are open inside each open bracket (the first entry: outside any).
    let mut ifs: Vec<usize> = vec![0];
    // The length of the current run of unary operators.
    let mut unary = 0usize;
    let too_deep = |start: usize, what: &str| -> privsim_model::diag::Error {
        file.error(start..start + what.len(), if what == "if" {
            format!("`if` expressions and brackets nested deeper than {MAX_NESTING} levels")
        } else if what == "!" || what == "-" {
            format!("unary operators and brackets nested deeper than {MAX_NESTING} levels")
        } else {
            format!("brackets nested deeper than {MAX_NESTING} levels")
        })
        .with_help("privsim refuses deeper nesting so that a hostile file cannot exhaust the stack; flatten the expression").into()
    };
    while let Some(&byte) = text.get(at) {
        let start = at;
        at += 1;
        match byte {
            b'"' => {
                while let Some(&inner) = text.get(at) {
                    at += if inner == b'\\' { 2 } else { 1 };
                    if inner == b'"' {
                        break;
                    }
                }
            }
            b'/' if text.get(at) == Some(&b'/') => {
                while text.get(at).is_some_and(|&c| c != b'\n') {
                    at += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                ifs.push(0);
                if depth > MAX_NESTING {
                    return Err(too_deep(start, "("));
                }
            }
            b')' | b']' | b'}' => {
                let opened = if ifs.len() > 1 {
                    ifs.pop().unwrap_or(0)
                } else {
                    0
                };
                depth = depth.saturating_sub(1 + opened);
            }
            b';' if ifs.len() == 1 => {
                operators = 0;
                depth = 0;
                ifs[0] = 0;
            }
            b'!' | b'-' if text.get(at) != Some(&b'=') => {
                unary += 1;
                operators += 1;
                if unary > MAX_NESTING {
                    return Err(too_deep(start, if byte == b'!' { "!" } else { "-" }));
                }
                // Only a run of unary operators nests; anything else ends it.
                if let Some(next) = text[at..].iter().position(|c| !c.is_ascii_whitespace())
                    && !matches!(text[at + next], b'!' | b'-')
                {
                    unary = 0;
                }
            }
            b'&' | b'|' | b'=' | b'!' | b'<' | b'>' | b'+' | b'-' | b'*' | b'.' => {
                // `&&`, `==`, `<=` and the like are one operator.
                if text.get(at) == Some(&b'=') || text.get(at) == Some(&byte) {
                    at += 1;
                }
                operators += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while text
                    .get(at)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    at += 1;
                }
                if matches!(&text[start..at], b"in" | b"has" | b"like" | b"is" | b"if") {
                    operators += 1;
                }
                if &text[start..at] == b"if" {
                    depth += 1;
                    if let Some(open) = ifs.last_mut() {
                        *open += 1;
                    }
                    if depth > MAX_NESTING {
                        return Err(too_deep(start, "if"));
                    }
                }
            }
            _ => {}
        }
        if operators > MAX_OPERATORS {
            return Err(file
                .error(start..at.min(text.len()), format!("more than {MAX_OPERATORS} operators in one policy"))
                .with_help("privsim refuses longer chains so that a hostile file cannot exhaust the stack; split the policy, or test membership in a set (`principal in [...]`)").into());
        }
    }
    Ok(())
}

/// The stack Cedar's parsers get: far more than the nesting [`check_depth`]
/// allows needs, so that a construct it does not count still cannot
/// overflow the stack and abort the process.
const PARSER_STACK_BYTES: usize = 256 << 20;

/// Runs a Cedar parser on a thread with [`PARSER_STACK_BYTES`] of stack (only
/// the pages it touches are ever allocated); where no thread can be started,
/// on this one.
pub(crate) fn on_a_large_stack<T: Send>(parse: impl FnOnce() -> T + Send) -> T {
    let mut parse = Some(parse);
    let spawned = std::thread::scope(|scope| {
        let parse = &mut parse;
        std::thread::Builder::new()
            .name("cedar-parser".into())
            .stack_size(PARSER_STACK_BYTES)
            .spawn_scoped(scope, move || parse.take().map(|parse| parse()))
            .ok()
            .and_then(|thread| thread.join().ok())
            .flatten()
    });
    match (spawned, parse) {
        (Some(parsed), _) => parsed,
        (None, Some(parse)) => parse(),
        // The thread took the parser and then panicked: Cedar's parser does
        // not panic on input, so this is a bug; let it surface here.
        (None, None) => std::panic::resume_unwind(Box::new("the cedar parser panicked")),
    }
}

/// Parses policy files into one set. A policy or template is named by its
/// `@id("...")` annotation, as the Cedar CLI does; otherwise it keeps Cedar's
/// default name `policyN` (counted per file). Two policies with one name are an error.
pub fn parse_policies(files: Vec<SourceFile>) -> privsim_model::diag::Result<Policies> {
    let mut set = PolicySet::new();
    let mut origin = BTreeMap::new();
    for (index, file) in files.iter().enumerate() {
        check_depth(file)?;
        let parsed = on_a_large_stack(|| PolicySet::from_str(&file.text).map_err(Box::new))
            .map_err(|errors| {
                let mut all: Vec<SourceError> =
                    errors.iter().map(|e| cedar_error(file, e)).collect();
                let first = all.remove(0);
                first.with_related(all)
            })?;
        // Cedar numbers unnamed policies in source order; keep that order.
        let mut policies: Vec<_> = parsed.policies().collect();
        policies.sort_by_key(|p| default_index(p.id()));
        let mut templates: Vec<_> = parsed.templates().collect();
        templates.sort_by_key(|t| default_index(t.id()));
        for policy in policies {
            let id = policy
                .annotation("id")
                .map_or_else(|| policy.id().clone(), PolicyId::new);
            let offset = id_offset(file, id.as_ref(), policy.annotation("id").is_some());
            check_unique(&origin, &files, file, id.as_ref(), offset)?;
            set.add(policy.new_id(id.clone())).map_err(|e| {
                file.error(
                    offset..offset,
                    format!(
                        "cannot add policy `{id}`: {}",
                        lowercase_first(&e.to_string())
                    ),
                )
            })?;
            origin.insert(id.to_string(), (index, offset));
        }
        for template in templates {
            let id = template
                .annotation("id")
                .map_or_else(|| template.id().clone(), PolicyId::new);
            let offset = id_offset(file, id.as_ref(), template.annotation("id").is_some());
            check_unique(&origin, &files, file, id.as_ref(), offset)?;
            set.add_template(template.new_id(id.clone())).map_err(|e| {
                file.error(
                    offset..offset,
                    format!(
                        "cannot add template `{id}`: {}",
                        lowercase_first(&e.to_string())
                    ),
                )
            })?;
            origin.insert(id.to_string(), (index, offset));
        }
    }
    Ok(Policies {
        set,
        files,
        origin,
        json: OnceLock::new(),
    })
}

fn default_index(id: &PolicyId) -> usize {
    id.to_string()
        .strip_prefix("policy")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

/// Where a policy's `@id("...")` annotation is, or the file start for unnamed ones.
fn id_offset(file: &SourceFile, id: &str, annotated: bool) -> usize {
    if !annotated {
        return 0;
    }
    let needle = format!("\"{id}\"");
    file.text
        .match_indices(&needle)
        .find(|(at, _)| {
            file.text[..*at].trim_end().ends_with('(')
                && file.text[..*at]
                    .trim_end()
                    .trim_end_matches('(')
                    .trim_end()
                    .ends_with("@id")
        })
        .map_or(0, |(at, _)| at)
}

fn check_unique(
    origin: &BTreeMap<String, (usize, usize)>,
    files: &[SourceFile],
    file: &SourceFile,
    id: &str,
    offset: usize,
) -> privsim_model::diag::Result<()> {
    match origin.get(id) {
        None => Ok(()),
        Some(&(other, other_offset)) => {
            let other_file = &files[other];
            Err(file
                .error(
                    offset..offset + id.len() + 2,
                    format!(
                        "two policies are named `{id}`; the other is at {}",
                        other_file.location(other_offset)
                    ),
                )
                .with_help("give each policy a unique `@id(\"...\")` annotation")
                .into())
        }
    }
}

/// One template link in the Cedar CLI's `linked` file format.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    template_id: String,
    link_id: String,
    args: BTreeMap<String, String>,
}

/// Applies a Cedar CLI template-links file (`[{"template_id", "link_id", "args": {"?principal": "..."}}]`).
pub fn apply_links(policies: &mut Policies, links: &SourceFile) -> privsim_model::diag::Result<()> {
    let raw: Vec<RawLink> = serde_json::from_str(&links.text).map_err(|e| json_error(links, &e))?;
    // The set changes: forms made of it before are not of it any more.
    policies.json = OnceLock::new();
    for link in raw {
        let at = links
            .text
            .find(&format!("\"{}\"", link.link_id))
            .unwrap_or(0);
        let here = |message: String| links.error(at..at + link.link_id.len() + 2, message);
        let mut values = HashMap::new();
        for (slot, uid) in &link.args {
            let slot_id = match slot.as_str() {
                "?principal" => SlotId::principal(),
                "?resource" => SlotId::resource(),
                other => {
                    return Err(here(format!("unknown template slot `{other}`"))
                        .with_help("slots are `?principal` and `?resource`")
                        .into());
                }
            };
            let uid = EntityUid::from_str(uid)
                .map_err(|e| here(format!("`{uid}` is not an entity reference: {e}")))?;
            values.insert(slot_id, uid);
        }
        if policies.origin.contains_key(&link.link_id) {
            return Err(here(format!(
                "link id `{}` is already the name of a policy",
                link.link_id
            ))
            .into());
        }
        policies
            .set
            .link(
                PolicyId::new(&link.template_id),
                PolicyId::new(&link.link_id),
                values,
            )
            .map_err(|e| {
                here(format!(
                    "cannot link template `{}` as `{}`: {}",
                    link.template_id,
                    link.link_id,
                    lowercase_first(&e.to_string())
                ))
            })?;
        if let Some(&(file, _)) = policies.origin.get(&link.template_id) {
            policies.origin.insert(
                link.link_id.clone(),
                (file, policies.origin[&link.template_id].1),
            );
        }
    }
    Ok(())
}

/// Parses a schema: Cedar's human-readable syntax, or JSON when the file name ends in `.json`.
pub fn parse_schema(file: &SourceFile) -> privsim_model::diag::Result<Schema> {
    if file.display.ends_with(".json") {
        Ok(Schema::from_json_str(&file.text).map_err(|e| schema_error(file, &e))?)
    } else {
        check_depth(file)?;
        Ok(
            on_a_large_stack(|| Schema::from_cedarschema_str(&file.text).map_err(Box::new))
                .map(|(schema, _warnings)| schema)
                .map_err(|e| schema_error(file, &*e))?,
        )
    }
}

/// [`cedar_error`] for a schema that does not load, without Cedar's hash
/// order: Cedar lists a schema's undeclared types (`failed to resolve types:
/// A, B`) and undeclared actions in the order of a hash map, and locates and
/// explains the first of the types only. Here the names are sorted, and the
/// error points at the first of them in the file (the start of the file if
/// none is found there), with a help for all of them.
pub(crate) fn schema_error(file: &SourceFile, diagnostic: &dyn Diagnostic) -> SourceError {
    let message = diagnostic.to_string();
    if diagnostic.related().is_none() {
        if let Some(list) = message.strip_prefix("failed to resolve types: ") {
            let mut names: Vec<&str> = list.split(", ").collect();
            names.sort_unstable();
            names.dedup();
            let at = first_reference(file, &names).unwrap_or(0..0);
            return file
                .error(at, format!("failed to resolve types: {}", names.join(", ")))
                .with_help(
                    "declare each of them as an entity type or a common type (in its \
                     namespace), or correct its name",
                );
        }
        if let Some(list) = message.strip_prefix("undeclared actions: ") {
            // Cedar writes `A and B`, or `A, B, and C`.
            let mut names: Vec<&str> = match list.split_once(" and ") {
                Some((first, second)) if !list.contains(", ") => vec![first, second],
                _ => list
                    .split(", ")
                    .map(|name| name.strip_prefix("and ").unwrap_or(name))
                    .collect(),
            };
            // Only a list of action uids is reordered: an id with `, ` or
            // ` and ` in it would be cut apart (then Cedar's message stands).
            if names.len() > 1 && names.iter().all(|name| EntityUid::from_str(name).is_ok()) {
                names.sort_unstable();
                let listed = match names.split_last() {
                    Some((last, [first])) => format!("{first} and {last}"),
                    Some((last, rest)) => format!("{}, and {last}", rest.join(", ")),
                    None => String::new(),
                };
                let message = format!("undeclared actions: {listed}");
                return with_diagnostic_location(file, diagnostic, message);
            }
        }
    }
    cedar_error(file, diagnostic)
}

/// `message` on `file`, at the first label of `diagnostic` and with its help.
fn with_diagnostic_location(
    file: &SourceFile,
    diagnostic: &dyn Diagnostic,
    message: String,
) -> SourceError {
    let span = diagnostic
        .labels()
        .and_then(|mut labels| labels.next())
        .map_or(0..0, |label| label.offset()..label.offset() + label.len());
    let error = file.error(span, lowercase_first(&message));
    match diagnostic.help() {
        Some(help) => error.with_help(help.to_string()),
        None => error,
    }
}

/// Where the first of `names` occurs in `file` as a name of its own (a
/// whole `::`-path in a `.cedarschema`, outside comments and strings; a
/// whole JSON string in a JSON schema).
fn first_reference(file: &SourceFile, names: &[&str]) -> Option<std::ops::Range<usize>> {
    let text: &str = &file.text;
    if file.display.ends_with(".json") {
        return names
            .iter()
            .filter_map(|name| {
                let quoted = format!("\"{name}\"");
                text.find(&quoted).map(|at| at + 1..at + 1 + name.len())
            })
            .min_by_key(|range| range.start);
    }
    let bytes = text.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'/' if bytes.get(at + 1) == Some(&b'/') => {
                at = text[at..].find('\n').map_or(bytes.len(), |end| at + end);
            }
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += 1;
            }
            b if is_name(b) => {
                let start = at;
                while at < bytes.len() && is_name(bytes[at]) {
                    at += 1;
                }
                if names.contains(&&text[start..at]) {
                    return Some(start..at);
                }
            }
            _ => at += 1,
        }
    }
    None
}

/// The attribute names the schema gives each entity type (`Ns::Type`), or
/// `None` for a type whose shape is not written out as a record (a common
/// type, say): its attributes are not known here. Empty when the schema's
/// JSON form cannot be had (then nothing is checked against it).
pub fn schema_attributes(
    file: &SourceFile,
) -> std::collections::BTreeMap<String, Option<std::collections::BTreeSet<String>>> {
    let json = if file.display.ends_with(".json") {
        serde_json::from_str::<serde_json::Value>(&file.text).ok()
    } else {
        on_a_large_stack(|| {
            cedar_policy::SchemaFragment::from_cedarschema_str(&file.text)
                .ok()
                .and_then(|(fragment, _)| fragment.to_json_value().ok())
        })
    };
    let mut types = std::collections::BTreeMap::new();
    let Some(namespaces) = json.as_ref().and_then(serde_json::Value::as_object) else {
        return types;
    };
    for (namespace, body) in namespaces {
        let Some(entity_types) = body.get("entityTypes").and_then(|t| t.as_object()) else {
            continue;
        };
        for (name, definition) in entity_types {
            let full = if namespace.is_empty() {
                name.clone()
            } else {
                format!("{namespace}::{name}")
            };
            let attributes = match definition.get("shape") {
                None => Some(std::collections::BTreeSet::new()),
                Some(shape) if shape.get("type").and_then(|t| t.as_str()) == Some("Record") => {
                    shape
                        .get("attributes")
                        .and_then(|a| a.as_object())
                        .map(|a| a.keys().cloned().collect())
                        .or_else(|| Some(std::collections::BTreeSet::new()))
                }
                Some(_) => None,
            };
            types.insert(full, attributes);
        }
    }
    types
}

/// Validates policies against a schema in strict mode; every error is reported,
/// located in the policy file it came from.
pub fn validate(policies: &Policies, schema: &Schema) -> privsim_model::diag::Result<()> {
    let validator = Validator::new(schema.clone());
    let result = validator.validate(&policies.set, ValidationMode::Strict);
    // In source order (file, offset, then message): Cedar keeps a policy's
    // type errors in a hash set, whose order changes from run to run, and
    // the first error is the headline.
    let mut found: Vec<_> = result.validation_errors().collect();
    found.sort_by_cached_key(|error| {
        let file = policies
            .origin
            .get(&error.policy_id().to_string())
            .map_or(usize::MAX, |&(file, _)| file);
        let span = error
            .labels()
            .and_then(|mut labels| labels.next())
            .map_or((0, 0), |label| (label.offset(), label.len()));
        (file, span, error.to_string())
    });
    let mut errors: Vec<SourceError> = found
        .into_iter()
        .map(|error| {
            let file = policies
                .origin
                .get(&error.policy_id().to_string())
                .and_then(|&(file, _)| policies.files.get(file));
            match file {
                Some(file) => cedar_error(file, error).label("fails strict validation"),
                None => policies.files.first().map_or_else(
                    || {
                        SourceFile::from_text(
                            "<policies>".into(),
                            "<policies>".into(),
                            String::new(),
                        )
                        .error(0..0, error.to_string())
                    },
                    |file| {
                        file.error(
                            0..0,
                            format!(
                                "policy `{}` fails strict validation: {error}",
                                error.policy_id()
                            ),
                        )
                    },
                ),
            }
        })
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    let first = errors.remove(0);
    let first = first.prefixed("policy fails strict validation against the schema: ");
    Err(first.with_help("fix the policy or the schema; privsim validates policies in strict mode, like `cedar validate`").with_related(errors).into())
}

/// A `serde_json` error located in its file.
pub fn json_error(file: &SourceFile, error: &serde_json::Error) -> SourceError {
    let offset = offset_of_line_col(&file.text, error.line(), error.column());
    let message = error.to_string();
    // serde_json appends " at line L column C"; the location is already in front.
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    file.error(offset..offset, message)
}

/// The byte offset of a 1-based line and column (columns counted in bytes, as serde_json does).
pub fn offset_of_line_col(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (index, this_line) in text.split_inclusive('\n').enumerate() {
        if index + 1 == line {
            return offset + column.saturating_sub(1).min(this_line.len());
        }
        offset += this_line.len();
    }
    text.len()
}

/// An error's message followed by its sources.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = inner.source();
    }
    without_cycle_vertex(message)
}

/// Cedar names "a cycle containing vertex `X`" with whichever vertex of the
/// cycle its hash map meets first, which differs from run to run: the vertex
/// is dropped, so the same input gives the same bytes.
fn without_cycle_vertex(message: String) -> String {
    const CYCLE: &str = "has a cycle containing vertex `";
    let Some(at) = message.find(CYCLE) else {
        return message;
    };
    let after = at + CYCLE.len();
    let Some(end) = message[after..].find('`') else {
        return message;
    };
    format!(
        "{}has a cycle{}",
        &message[..at],
        without_cycle_vertex(message[after + end + 1..].to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_error_does_not_name_a_vertex_chosen_by_hashing() {
        assert_eq!(
            without_cycle_vertex(
                "transitive closure computation/enforcement error: input graph has a cycle containing vertex `Folder::\"f\"`".to_string()
            ),
            "transitive closure computation/enforcement error: input graph has a cycle"
        );
        assert_eq!(without_cycle_vertex("other".to_string()), "other");
    }

    fn policy_file(text: String) -> SourceFile {
        SourceFile::from_text("p.cedar".into(), "p.cedar".into(), text)
    }

    #[test]
    fn json_forms_are_those_of_the_set_as_it_is_after_links() {
        let mut policies = parse_policies(vec![policy_file(
            "@id(\"t\") permit (principal == ?principal, action, resource) when { resource.open };\n\
             @id(\"p\") forbid (principal, action, resource) when { context.late };\n"
                .to_string(),
        )])
        .expect("policies parse");
        let forms = |policies: &Policies| -> Vec<Option<String>> {
            policies
                .json()
                .in_order(&policies.set)
                .map(|json| json.map(ToString::to_string))
                .collect()
        };
        let before = forms(&policies);
        // One policy and one template, each its own `to_json`.
        assert_eq!(before.len(), 2, "{before:?}");
        let p = PolicyId::new("p");
        assert_eq!(
            policies.json().policy(&p),
            policies
                .set
                .policy(&p)
                .and_then(|p| p.to_json().ok())
                .as_ref()
        );
        let links = SourceFile::from_text(
            "links.json".into(),
            "links.json".into(),
            r#"[{"template_id": "t", "link_id": "l", "args": {"?principal": "User::\"u\""}}]"#
                .to_string(),
        );
        apply_links(&mut policies, &links).expect("links apply");
        let after = forms(&policies);
        assert_eq!(after.len(), 3, "the link's form is made too: {after:?}");
        let l = PolicyId::new("l");
        let linked = policies.set.policy(&l).expect("linked").to_json().ok();
        assert!(linked.is_some());
        assert_eq!(policies.json().policy(&l), linked.as_ref());
    }

    fn refused(text: String) -> SourceError {
        match check_depth(&policy_file(text)) {
            Err(privsim_model::diag::Error::Source(error)) => *error,
            other => panic!("{other:?}"),
        }
    }

    fn nested(levels: usize) -> String {
        format!(
            "permit (principal, action, resource) when {{ {}true{} }};\n",
            "(".repeat(levels - 1),
            ")".repeat(levels - 1)
        )
    }

    fn chain(operators: usize) -> String {
        format!(
            "permit (principal, action, resource) when {{ 1{} }};\n",
            " + 1".repeat(operators)
        )
    }

    /// The limits are safe where they matter most: a debug build on a test
    /// thread (2 MiB of stack) parses and drops Cedar text right at them.
    #[test]
    fn text_at_the_limits_parses_on_a_small_stack() {
        assert!(parse_policies(vec![policy_file(nested(MAX_NESTING))]).is_ok());
        let sets = format!(
            "permit (principal, action, resource) when {{ {}1{}.isEmpty() }};\n",
            "[".repeat(MAX_NESTING - 1),
            "]".repeat(MAX_NESTING - 1)
        );
        assert!(parse_policies(vec![policy_file(sets)]).is_ok());
        let records = format!(
            "permit (principal, action, resource) when {{ {}1{} has a }};\n",
            "{a: ".repeat(MAX_NESTING - 1),
            "}".repeat(MAX_NESTING - 1)
        );
        assert!(parse_policies(vec![policy_file(records)]).is_ok());
        let schema = format!(
            "entity E {{ {}a: Long{} }};\naction a appliesTo {{ principal: E, resource: E }};\n",
            "a: {".repeat(MAX_NESTING - 1),
            "}".repeat(MAX_NESTING - 1)
        );
        let schema = SourceFile::from_text("s.cedarschema".into(), "s.cedarschema".into(), schema);
        parse_schema(&schema).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(parse_policies(vec![policy_file(chain(MAX_OPERATORS - 1))]).is_ok());
    }

    /// Regression: 300 nested parentheses (or 300,000 `+ 1`) in a policy
    /// overflowed the stack and aborted privsim instead of exiting 2.
    #[test]
    fn deeper_or_longer_text_is_refused_with_its_place() {
        let error = refused(nested(300));
        assert_eq!(
            error.location,
            format!("p.cedar:1:{}", 45 + MAX_NESTING - 1)
        );
        let error = refused(chain(300_000));
        assert!(error.message.contains("operators"), "{}", error.message);
        assert!(check_depth(&policy_file(chain(MAX_OPERATORS - 1))).is_ok());
        assert!(check_depth(&policy_file(chain(MAX_OPERATORS + 1))).is_err());
    }

    fn nested_ifs(levels: usize) -> String {
        format!(
            "permit (principal, action, resource) when {{ {}true{} }};\n",
            "if true then ".repeat(levels),
            " else false".repeat(levels)
        )
    }

    /// Regression: 4,999 nested `if … then … else` were fewer than
    /// [`MAX_OPERATORS`] operators and passed the check, then overflowed
    /// Cedar's parser stack (exit 134).
    #[test]
    fn nested_ifs_overflowed_the_parser_stack() {
        let error = refused(nested_ifs(4_999));
        assert!(error.message.contains("`if`"), "{}", error.message);
        assert!(check_depth(&policy_file(nested_ifs(MAX_NESTING - 1))).is_ok());
        // Brackets and ifs count together.
        let mixed = format!(
            "permit (principal, action, resource) when {{ {}{}true{}{} }};\n",
            "(".repeat(20),
            "if true then ".repeat(20),
            " else false".repeat(20),
            ")".repeat(20)
        );
        assert!(check_depth(&policy_file(mixed)).is_err());
        // An if closes with the bracket it stands in: side by side in their
        // own parentheses they do not add up.
        let side_by_side = format!(
            "permit (principal, action, resource) when {{ {} true }};\n",
            "(if true then true else false) && ".repeat(100)
        );
        assert!(check_depth(&policy_file(side_by_side)).is_ok());
        // Right at the limit, the parse is safe on a test thread's small stack.
        assert!(parse_policies(vec![policy_file(nested_ifs(MAX_NESTING - 1))]).is_ok());
    }

    #[test]
    fn long_unary_chains_are_refused() {
        let text = format!(
            "permit (principal, action, resource) when {{ {}true }};\n",
            "! ".repeat(MAX_NESTING + 1)
        );
        assert!(refused(text).message.contains("unary"));
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let text = format!(
            "// {}\npermit (principal, action, resource) when {{ context.s == \"{}\\\"\" }};\n",
            "(".repeat(100),
            "[".repeat(100)
        );
        assert_eq!(
            check_depth(&policy_file(text)).map_err(|e| e.to_string()),
            Ok(())
        );
    }

    #[test]
    fn the_operator_count_starts_again_with_each_policy() {
        let text = chain(MAX_OPERATORS / 2).repeat(4);
        assert!(check_depth(&policy_file(text)).is_ok());
    }
}
