//! Importing Cedar's own test suites (the example-use-cases folder layout, the
//! Cedar CLI's `run-tests` JSON, the Cedar integration-test JSON) as scenarios;
//! MCP tool lists as Cedar schemas ([`mcp`]) and request logs as scenarios
//! ([`log`]).
//!
//! Each format is read into [`Suite`]s: the Cedar files a scenario names plus
//! one [`ImportedStep`] per request, with the suite's expectations. A suite is
//! then either written out as a self-contained scenario folder
//! ([`write_all`]) or loaded in place and replayed ([`replay_all`]); both go
//! through the same generated TOML and `scenario::load_source`, so what is
//! replayed is exactly what would be written.

mod corpus;
mod integration;
pub mod json;
pub mod log;
pub mod mcp;
mod run_tests;
pub mod stream;
mod write;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::load::Decision;
use privsim_model::diag::{Error, Result};
pub use write::{replay_all, write_all};

/// The test-suite formats privsim reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuiteFormat {
    /// A folder with `policies.cedar`, `policies.cedarschema`, `entities.json`,
    /// optional `linked`, and `ALLOW/` + `DENY/` folders of request files (the
    /// layout of cedar-examples' `cedar-example-use-cases`).
    Corpus,
    /// The Cedar CLI's `cedar run-tests --tests FILE` JSON: an array of test
    /// cases, each with its own entities.
    RunTests,
    /// The integration-test JSON of the Cedar project (cedar-integration-tests,
    /// `cedar-testing`).
    Integration,
}

impl SuiteFormat {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SuiteFormat::Corpus => "corpus",
            SuiteFormat::RunTests => "run-tests",
            SuiteFormat::Integration => "integration",
        }
    }
}

/// How to find and read suites.
#[derive(Debug, Default, Clone)]
pub struct ImportOptions {
    /// The format; detected per file or folder when `None`.
    pub format: Option<SuiteFormat>,
    /// Integration tests: the folder their paths are relative to. Default: the
    /// nearest folder, starting at the test file's own and walking up, in
    /// which the test's `policies` path exists.
    pub root: Option<PathBuf>,
    /// `run-tests`: the policy file (the suite does not name one).
    pub policies: Option<PathBuf>,
    /// `run-tests`: the schema, if any.
    pub schema: Option<PathBuf>,
    /// `run-tests`: template links in the Cedar CLI's format, if any.
    pub links: Option<PathBuf>,
}

/// The Cedar files a suite's scenario names, as paths to the originals.
#[derive(Debug, Clone)]
pub struct SuiteFiles {
    /// The `.cedar` policy file.
    pub policies: PathBuf,
    /// The schema, if any.
    pub schema: Option<PathBuf>,
    /// Whether the schema is in Cedar's JSON schema format.
    pub schema_is_json: bool,
    /// The entities JSON file, if any.
    pub entities: Option<PathBuf>,
    /// Template links, if any.
    pub links: Option<PathBuf>,
}

/// An entity written inline in the scenario (the `run-tests` format carries
/// entities inside each test case).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedEntity {
    /// Cedar UID string.
    pub uid: String,
    /// Parents as Cedar UID strings.
    pub parents: Vec<String>,
    /// Attributes (Cedar JSON values as TOML).
    pub attrs: toml::Table,
    /// Tags, if any.
    pub tags: Option<toml::Table>,
}

/// One request of a suite with what the suite expects of it.
#[derive(Debug, Clone)]
pub struct ImportedStep {
    /// The request file name or the test's description.
    pub name: String,
    /// Cedar UID strings.
    pub principal: String,
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// The context (Cedar JSON values as TOML).
    pub context: toml::Table,
    /// The expected decision (`allow` or `deny`).
    pub expect: Decision,
    /// The exact determining policies, when the suite says.
    pub reason: Option<Vec<String>>,
    /// Policies that must be among the determining ones (`run-tests`).
    pub reason_includes: Option<Vec<String>>,
    /// The exact erroring policies, when the suite says.
    pub errors: Option<Vec<String>>,
    /// The number of erroring policies (`run-tests`).
    pub error_count: Option<usize>,
    /// Whether the request is checked against the schema.
    pub validate_request: bool,
}

/// One imported suite: what one scenario holds.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The scenario's name, also its file and folder name (safe for file names).
    pub name: String,
    /// The format it was read from.
    pub format: SuiteFormat,
    /// The suite file or folder it was read from.
    pub source: PathBuf,
    /// The Cedar files.
    pub files: SuiteFiles,
    /// Whether policies are validated against the schema.
    pub validate: bool,
    /// Entities written inline.
    pub entities: Vec<ImportedEntity>,
    /// The requests.
    pub steps: Vec<ImportedStep>,
    /// Sentences for the scenario's description: how the import departs from
    /// the obvious reading of the suite, and why.
    pub notes: Vec<String>,
}

/// Reads every suite at `path`: a suite file, a use-case folder, or a folder
/// searched recursively (sorted, not following symlinked folders) for both.
pub fn import(path: &Path, options: &ImportOptions) -> Result<Vec<Suite>> {
    let run_tests_only =
        options.policies.is_some() || options.schema.is_some() || options.links.is_some();
    if run_tests_only && options.format.is_some_and(|f| f != SuiteFormat::RunTests) {
        return Err(Error::BadArgument(
            "`--policies`, `--schema` and `--links` only apply to the run-tests format, whose files do not name their Cedar files".to_string(),
        ));
    }
    let mut options = options.clone();
    if run_tests_only {
        options.format = Some(SuiteFormat::RunTests);
    }
    let options = &options;
    let metadata = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut suites = Vec::new();
    if metadata.is_file() {
        let name = file_suite_name(path);
        let format = match options.format {
            Some(format) => format,
            None => detect_file(path)?.ok_or_else(|| {
                Error::Unsupported(format!(
                    "`{}` is neither a Cedar integration test (an object with `policies` and `requests`) nor a `cedar run-tests` file (an array of test cases with `request`)",
                    path.display()
                ))
            })?,
        };
        import_file(path, format, name, options, &mut suites)?;
    } else if corpus::is_use_case(path) && options.format.is_none_or(|f| f == SuiteFormat::Corpus) {
        suites.push(corpus::import(path, folder_name(path))?);
    } else {
        walk(path, path, options, &mut suites)?;
        if suites.is_empty() {
            let wanted = match options.format {
                Some(SuiteFormat::Corpus) => "use-case folders with `ALLOW/` or `DENY/`",
                Some(SuiteFormat::RunTests) => "`cedar run-tests` files",
                Some(SuiteFormat::Integration) => "Cedar integration-test files",
                None => {
                    "use-case folders with `ALLOW/` or `DENY/`, Cedar integration-test files or `cedar run-tests` files"
                }
            };
            return Err(Error::NotFound(format!(
                "no test suites under `{}`: looked for {wanted}",
                path.display()
            )));
        }
    }
    make_names_unique(&mut suites);
    Ok(suites)
}

fn import_file(
    path: &Path,
    format: SuiteFormat,
    name: String,
    options: &ImportOptions,
    suites: &mut Vec<Suite>,
) -> Result<()> {
    match format {
        SuiteFormat::Corpus => Err(Error::BadArgument(format!(
            "`{}` is a file; the corpus format is a folder with `ALLOW/` and `DENY/` folders of requests",
            path.display()
        ))),
        SuiteFormat::RunTests => {
            suites.extend(run_tests::import(path, &name, options)?);
            Ok(())
        }
        SuiteFormat::Integration => {
            suites.push(integration::import(path, name, options.root.as_deref())?);
            Ok(())
        }
    }
}

fn walk(top: &Path, folder: &Path, options: &ImportOptions, suites: &mut Vec<Suite>) -> Result<()> {
    let io = |source| Error::Io {
        path: folder.display().to_string(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(folder)
        .map_err(io)?
        .collect::<std::io::Result<_>>()
        .map_err(io)?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            if corpus::is_use_case(&path) {
                if options.format.is_none_or(|f| f == SuiteFormat::Corpus) {
                    suites.push(corpus::import(&path, relative_name(top, &path))?);
                }
            } else {
                walk(top, &path, options, suites)?;
            }
        } else if path.extension().is_some_and(|e| e == "json")
            && (kind.is_file() || path.is_file())
            && options.format != Some(SuiteFormat::Corpus)
            && let Some(format) = detect_file(&path)?
            && options.format.is_none_or(|f| f == format)
        {
            import_file(&path, format, relative_name(top, &path), options, suites)?;
        }
    }
    Ok(())
}

/// Tells a suite file's format from its shape; `None` for other JSON (entities,
/// schemas, single requests). A file that is not JSON at all is an error.
fn detect_file(path: &Path) -> Result<Option<SuiteFormat>> {
    let json = json::JsonFile::read(path)?;
    Ok(match &json.value {
        serde_json::Value::Object(map)
            if map.contains_key("requests") && map.contains_key("policies") =>
        {
            Some(SuiteFormat::Integration)
        }
        serde_json::Value::Array(items)
            if items
                .first()
                .is_some_and(|first| first.get("request").is_some()) =>
        {
            Some(SuiteFormat::RunTests)
        }
        _ => None,
    })
}

/// A name safe as a file and folder name: ASCII letters, digits, `.`, `_`, `-`.
fn safe_name(text: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_start_matches('.');
    if name.is_empty() {
        "suite".to_string()
    } else {
        name.to_string()
    }
}

fn folder_name(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    safe_name(
        &absolute
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
}

/// A suite file given directly: `<folder>-<stem>` (`tests/decimal/1.json` → `decimal-1`).
fn file_suite_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = path.parent().map(folder_name).unwrap_or_default();
    if parent.is_empty() || parent == "suite" {
        safe_name(&stem)
    } else {
        safe_name(&format!("{parent}-{stem}"))
    }
}

/// A suite found under `top`: its path below `top`, without the extension,
/// joined with `-` (`tests/decimal/1.json` → `tests-decimal-1`).
fn relative_name(top: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(top).unwrap_or(path);
    let relative = if path.is_file() {
        relative.with_extension("")
    } else {
        relative.to_path_buf()
    };
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    safe_name(&parts.join("-"))
}

/// Two suites never share a name (and so a scenario folder): later ones get `-2`, `-3`...
fn make_names_unique(suites: &mut [Suite]) {
    let mut seen = BTreeSet::new();
    for suite in suites {
        let base = suite.name.clone();
        let mut n = 1;
        while !seen.insert(suite.name.to_ascii_lowercase()) {
            n += 1;
            suite.name = format!("{base}-{n}");
        }
    }
}
