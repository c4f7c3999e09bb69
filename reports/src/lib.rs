//! Rendering the result model for people and machines. Reports read only
//! [`privsim_model::result`]; they compute nothing of their own.
//!
//! The text summary ([`text`]) and the JSON contract ([`json`]) are written in
//! code. Markdown, HTML and JUnit XML are minijinja templates in
//! `reports/templates/`, compiled into the binary, rendered from the
//! view model (`view.rs`, private: only this crate renders it); SARIF
//! ([`sarif`]) is built from the same view into the
//! serde types of `sarif/model.rs`, which the gate's SARIF uses too.
//! [`render`] gives any of them, [`render_all`] every file of a report
//! folder. The Markdown report stays within [`MARKDOWN_LIMIT`] characters,
//! the size of a GitHub comment (`markdown.rs`). The gate's reports are in
//! [`check`].

pub mod check;
mod markdown;
pub mod sarif;
pub mod suggest;
pub mod text;
mod view;

pub use markdown::MARKDOWN_LIMIT;

use std::fmt::Write as _;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Serde, Value};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use privsim_model::diag::{Error, SourceFile};
use privsim_model::result::{FORMAT, RunResult};

/// The JSON contract: pretty-printed, keys in a fixed order, ending in a newline.
pub fn json(result: &RunResult) -> String {
    let mut text =
        serde_json::to_string_pretty(result).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// The report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    /// Markdown for a pull-request comment or GitHub's job summary.
    Markdown,
    /// One self-contained HTML page (inline CSS and SVG, no scripts, no network).
    Html,
    /// The JSON result contract (docs/json-contract.md).
    Json,
    /// JUnit XML: a test case per expectation, access assertion and finding.
    Junit,
    /// SARIF 2.1.0: findings and failures located in policy and scenario files.
    Sarif,
}

impl Format {
    /// Every format, in the order a report folder lists them.
    pub const ALL: [Format; 5] = [
        Format::Markdown,
        Format::Html,
        Format::Json,
        Format::Junit,
        Format::Sarif,
    ];

    /// The file name of this format in a report folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Markdown => "report.md",
            Format::Html => "report.html",
            Format::Json => "result.json",
            Format::Junit => "junit.xml",
            Format::Sarif => "results.sarif",
        }
    }
}

/// The templates, compiled in so the binary needs no files at run time. Their
/// names decide the escaping: `.html` HTML, `.md` Markdown, `.xml` XML;
/// `check.annotations` (GitHub workflow commands) escapes through its
/// `workflow_data` and `workflow_property` filters.
const TEMPLATES: [(&str, &str); 7] = [
    ("report.md", include_str!("../templates/report.md.j2")),
    ("report.html", include_str!("../templates/report.html.j2")),
    ("junit.xml", include_str!("../templates/junit.xml.j2")),
    (
        "check.junit.xml",
        include_str!("../templates/check.junit.xml.j2"),
    ),
    ("check.md", include_str!("../templates/check.md.j2")),
    ("check.txt", include_str!("../templates/check.txt.j2")),
    (
        "check.annotations",
        include_str!("../templates/check.annotations.j2"),
    ),
];

/// A report that could not be rendered: a bug in a template, since every
/// input is valid data by then.
#[derive(Debug, thiserror::Error)]
#[error("cannot render the {format} report: {message}")]
pub struct RenderError {
    /// The format.
    pub format: &'static str,
    /// minijinja's message, with the template line.
    pub message: String,
}

/// The environment variable that fixes the wall-clock time reports show
/// (JUnit's `timestamp`): whole seconds since the Unix epoch, as in
/// reproducible builds (<https://reproducible-builds.org/specs/source-date-epoch/>).
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// When this run happened, as JUnit writes it (`YYYY-MM-DDTHH:MM:SS`, UTC):
/// `SOURCE_DATE_EPOCH` when it is set to whole seconds, else the system
/// clock. Read once per process, so every suite of a run has the same time.
pub fn run_timestamp() -> String {
    static AT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    AT.get_or_init(|| {
        let fixed = std::env::var(SOURCE_DATE_EPOCH)
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok());
        let seconds = fixed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
        });
        junit_time(seconds)
    })
    .clone()
}

/// `YYYY-MM-DDTHH:MM:SS` of whole seconds since the epoch (the epoch itself
/// when out of range).
fn junit_time(seconds: i64) -> String {
    privsim_model::time::Instant::parse_rfc3339("1970-01-01T00:00:00Z")
        .ok()
        .and_then(|epoch| epoch.checked_add(seconds.saturating_mul(1000)))
        .map_or_else(
            || "1970-01-01T00:00:00".to_string(),
            |at| at.to_string().chars().take(19).collect(),
        )
}

/// Renders the run in one format; JUnit's `timestamp` is [`run_timestamp`].
pub fn render(result: &RunResult, format: Format) -> Result<String, RenderError> {
    render_at(result, format, &run_timestamp())
}

/// [`render`], with the run's wall-clock time given (`YYYY-MM-DDTHH:MM:SS`).
pub fn render_at(result: &RunResult, format: Format, run_at: &str) -> Result<String, RenderError> {
    let template = match format {
        Format::Json => return Ok(json(result)),
        Format::Sarif => return Ok(sarif::render(&view::run(result))),
        Format::Markdown => "report.md",
        Format::Html => "report.html",
        Format::Junit => return render_template("junit.xml", &junit_view(result, run_at)),
    };
    render_template(template, &view::run(result))
}

/// Every format, with its file name, for a report folder.
pub fn render_all(result: &RunResult) -> Result<Vec<(&'static str, String)>, RenderError> {
    render_all_at(result, &run_timestamp())
}

/// [`render_all`], with the run's wall-clock time given.
pub fn render_all_at(
    result: &RunResult,
    run_at: &str,
) -> Result<Vec<(&'static str, String)>, RenderError> {
    let view = view::run(result);
    let mut files = Vec::new();
    for format in Format::ALL {
        let text = match format {
            Format::Json => json(result),
            Format::Sarif => sarif::render(&view),
            Format::Markdown => render_template("report.md", &view)?,
            Format::Html => render_template("report.html", &view)?,
            Format::Junit => render_template("junit.xml", &junit_view(result, run_at))?,
        };
        files.push((format.file_name(), text));
    }
    Ok(files)
}

/// The view JUnit is rendered from: every value through [`escape_control`],
/// since JUnit is often printed to a CI log, where a value's line break could
/// start a workflow command.
fn junit_view(result: &RunResult, run_at: &str) -> view::RunView {
    let mut view = match printable(result) {
        Some(printable) => view::run(&printable),
        None => view::run(result),
    };
    view.run_at = run_at.to_string();
    view
}

fn render_template(name: &'static str, view: &view::RunView) -> Result<String, RenderError> {
    let failed = |e: minijinja::Error| RenderError {
        format: name,
        message: format!("{e:#}"),
    };
    let env = environment().map_err(failed)?;
    let template = env.get_template(name).map_err(failed)?;
    let context = minijinja::context! { run => Value::from(Serde(view)) };
    let mut text = if name == "report.md" {
        // Markdown has a size limit: the macros lay it out again if needed.
        let mut captured = template.render_captured(context).map_err(failed)?;
        let whole = captured.output().to_string();
        captured
            .with_state_mut(|state| markdown::fit(&whole, state))
            .map_err(failed)?
    } else {
        template.render(context).map_err(failed)?
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// Renders the template `name` with `value` as the variable `key`; the text
/// ends with a newline.
pub(crate) fn render_serialized(
    name: &'static str,
    key: &str,
    value: &impl serde::Serialize,
) -> Result<String, RenderError> {
    render_context(name, key, value, |template, context| {
        template.render(context)
    })
}

/// Renders the template `name` (macros only) with `value` as the variable
/// `key`, then lets `layout` assemble the text from its macros; the text
/// ends with a newline.
pub(crate) fn render_with_state<T: serde::Serialize>(
    name: &'static str,
    key: &str,
    value: &T,
    layout: impl for<'state> FnOnce(
        &mut minijinja::State<'state, 'state>,
    ) -> Result<String, minijinja::Error>,
) -> Result<String, RenderError> {
    render_context(name, key, value, |template, context| {
        template.render_captured(context)?.with_state_mut(layout)
    })
}

/// The set-up [`render_serialized`] and [`render_with_state`] share: the
/// template `name`, a context of `value` as `key`, errors named for the
/// template, and a final newline.
fn render_context<T: serde::Serialize>(
    name: &'static str,
    key: &str,
    value: &T,
    render: impl FnOnce(
        &minijinja::Template<'_, '_>,
        std::collections::BTreeMap<String, Value>,
    ) -> Result<String, minijinja::Error>,
) -> Result<String, RenderError> {
    let failed = |e: minijinja::Error| RenderError {
        format: name,
        message: format!("{e:#}"),
    };
    let env = environment().map_err(failed)?;
    let template = env.get_template(name).map_err(failed)?;
    let mut context = std::collections::BTreeMap::new();
    context.insert(key.to_string(), Value::from(Serde(value)));
    let mut text = render(&template, context).map_err(failed)?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// `one` for a count of one, else `many` (`plural(n, "", "s")` for a
/// suffix): the one helper of every report that writes counts in words.
pub(crate) fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// The template environment: strict about undefined values (a typo in a
/// template is an error, not an empty string), and escaping every value
/// printed into HTML, Markdown or XML unless a filter marked it safe.
fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()?,
    );
    env.set_auto_escape_callback(|name| match name.rsplit('.').next() {
        Some("html") => AutoEscape::Html,
        Some("md") => AutoEscape::Custom("markdown".into()),
        Some("xml") => AutoEscape::Custom("xml".into()),
        _ => AutoEscape::None,
    });
    env.set_formatter(|out, state, value| {
        if value.is_safe() || value.is_undefined() {
            return minijinja::escape_formatter(out, state, value);
        }
        let text = value.to_string();
        let escaped = match state.auto_escape() {
            AutoEscape::Custom(name) if name == "markdown" => escape_markdown(&text),
            AutoEscape::Custom(name) if name == "xml" => escape_xml(&text),
            AutoEscape::Html => escape_html(&text),
            _ => text,
        };
        out.write_str(&escaped).map_err(minijinja::Error::from)
    });
    env.add_filter("code", |text: String| {
        Value::from_safe_string(code_span(&text, true))
    });
    // Left-aligned in a column of `width` characters, as `{:<width$}` does.
    env.add_filter("pad", |text: String, width: usize| {
        format!("{text:<width$}")
    });
    // GitHub Actions workflow commands: a message, and a property value.
    env.add_filter("workflow_data", |text: String| check::workflow_data(&text));
    env.add_filter("workflow_property", |text: String| {
        check::workflow_property(&text)
    });
    env.add_filter("code_inline", |text: String| {
        Value::from_safe_string(code_span(&text, false))
    });
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    Ok(env)
}

/// Text that reads the same in Markdown (GitHub's flavour) and cannot break
/// its structure: every character with an inline meaning (emphasis, code,
/// links, table cells, strikethrough, math, mentions) is backslash-escaped,
/// `<`, `>` and `&` become entities (so no HTML gets through), line breaks
/// become spaces (a table row stays one row) and other control characters
/// become U+FFFD. Characters that mean something only at the start of a line
/// (`-`, `+`, `1.`, `>`, `=`) are left alone: the templates never start a
/// line with a value.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '$' | '@' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A Markdown code span: delimited by more backticks than the text contains
/// in a row, line breaks as spaces, other control characters as U+FFFD. In a
/// table cell (`in_table`), `|` is escaped: GitHub splits rows at every
/// unescaped `|`, code spans included, and unescapes `\|` inside cells;
/// elsewhere the backslash would show, and a `|` is harmless.
pub fn code_span(text: &str, in_table: bool) -> String {
    let clean: String = text
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect();
    let escaped = if in_table {
        clean.replace('|', "\\|")
    } else {
        clean
    };
    let mut longest = 0;
    let mut run = 0;
    for c in escaped.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let ticks = "`".repeat(longest + 1);
    // A space on each side keeps backticks at the ends apart from the delimiters.
    let pad = if escaped.starts_with('`') || escaped.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{escaped}{pad}{ticks}")
}

/// A value for a plain-text report or terminal: line breaks and tabs become
/// spaces (as in every other format), and other control characters (ESC,
/// NUL, C1 controls) and the bidirectional overrides that reorder what a
/// terminal shows become visible escapes (`\u{1b}`), so that no value can
/// start a line of its own (a GitHub workflow command such as
/// `::stop-commands::`) or rewrite the terminal.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    let hostile =
        |c: char| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(hostile) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if hostile(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A copy of a result with every string in it (ids, names, reasons,
/// messages) passed through [`escape_control`], for the plain-text renderers:
/// one pass over the data instead of an escape at each of their many
/// interpolations, so a new line in a renderer cannot forget one.
pub(crate) fn printable<T>(value: &T) -> Option<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    fn escape_all(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(text) => {
                if let std::borrow::Cow::Owned(escaped) = escape_control(text) {
                    *text = escaped;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(escape_all),
            serde_json::Value::Object(fields) => {
                let escaped: serde_json::Map<String, serde_json::Value> = std::mem::take(fields)
                    .into_iter()
                    .map(|(key, mut value)| {
                        escape_all(&mut value);
                        (escape_control(&key).into_owned(), value)
                    })
                    .collect();
                *fields = escaped;
            }
            _ => {}
        }
    }
    let mut json = serde_json::to_value(value).ok()?;
    escape_all(&mut json);
    serde_json::from_value(json).ok()
}

/// The last line of defence of a plain-text renderer: any control character
/// but the renderer's own line breaks becomes U+FFFD (used when
/// [`printable`] could not copy the data, which our own types never cause).
pub(crate) fn strip_control(text: String) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return text;
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// HTML text and attribute escaping, plus U+FFFD for control characters
/// (which HTML does not allow) and references for line breaks and tabs.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // As references, so a value never starts a line of the file (a
            // report printed to a CI log); the browser shows the same.
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// XML 1.0 text and attribute escaping; characters XML 1.0 cannot carry at
/// all (most control characters, U+FFFE, U+FFFF) become U+FFFD. C1 controls
/// become character references: the parsed XML is the
/// same, but a value can never carry a raw terminal control. The JUnit
/// renderers keep values from starting a line of their own (printed to a CI
/// log, a line `::stop-commands::` would silence annotations) by passing
/// them through [`escape_control`] first.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' => out.push(c),
            '\r' => out.push_str("&#13;"),
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            '\u{80}'..='\u{9F}' => {
                let _ = write!(out, "&#x{:X};", u32::from(c));
            }
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Reads a stored JSON result (`privsim run --format json`, or `result.json`
/// of a report folder), checking that it is one.
pub fn parse(file: &SourceFile) -> Result<RunResult, Error> {
    let located = |e: &serde_json::Error, message: String| -> Error {
        let offset = offset_of(&file.text, e.line(), e.column());
        file.error(offset..offset, message).into()
    };
    let value: serde_json::Value = serde_json::from_str(&file.text)
        .map_err(|e| located(&e, format!("not valid JSON: {}", strip_position(&e))))?;
    let help = "give the JSON that `privsim run --format json` prints, or the `result.json` of a report folder";
    match value.get("format").and_then(serde_json::Value::as_str) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(file
                .error(
                    0..0,
                    format!("this is a `{other}` document, not a privsim result (`{FORMAT}`)"),
                )
                .with_help(help)
                .into());
        }
        None => {
            return Err(file
                .error(
                    0..0,
                    format!("not a privsim result: no `\"format\": \"{FORMAT}\"`"),
                )
                .with_help(help)
                .into());
        }
    }
    serde_json::from_str(&file.text).map_err(|e| {
        located(
            &e,
            format!("not a valid privsim result: {}", strip_position(&e)),
        )
    })
}

/// serde_json's message without its ` at line L column C` (the error has the location).
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The byte offset of a 1-based line and column (in bytes, as serde_json counts).
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (number, content) in text.split_inclusive('\n').enumerate() {
        if number + 1 == line {
            return (offset + column.saturating_sub(1)).min(offset + content.len());
        }
        offset += content.len();
    }
    text.len()
}
