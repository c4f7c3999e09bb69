//! Errors for bad input: every one names the file and, where there is one, the
//! line and column, with the offending source shown by miette.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};

/// A file read into memory, kept so diagnostics can show and locate its text.
#[derive(Clone)]
pub struct SourceFile {
    /// The path as the user should see it (relative paths stay relative).
    pub display: String,
    /// The path used to read the file.
    pub path: PathBuf,
    /// The whole text.
    pub text: Arc<str>,
    /// Byte offsets where lines start, so locating an offset is a binary search
    /// (a scenario with 100,000 steps must not take quadratic time to load).
    line_starts: Arc<[usize]>,
}

impl fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceFile")
            .field("display", &self.display)
            .finish_non_exhaustive()
    }
}

/// The largest input file privsim reads; anything bigger is refused rather than
/// exhausting memory on a hostile pull request.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

impl SourceFile {
    /// Reads a file as UTF-8 text, refusing files over [`MAX_FILE_BYTES`].
    pub fn read(path: &Path, display: String) -> Result<Self, Error> {
        let io_error = |source: std::io::Error| Error::Io {
            path: display.clone(),
            source,
        };
        let metadata = std::fs::metadata(path).map_err(io_error)?;
        if !metadata.is_file() {
            return Err(Error::NotFound(format!("`{display}` is not a file")));
        }
        if metadata.len() > MAX_FILE_BYTES {
            return Err(Error::Unsupported(format!(
                "`{display}` is {} bytes, more than the limit of {MAX_FILE_BYTES} bytes",
                metadata.len()
            )));
        }
        let bytes = std::fs::read(path).map_err(io_error)?;
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Self::from_text(path.to_path_buf(), display, text)),
            Err(e) => {
                // The text before the bad byte is the same in the lossy copy,
                // so the location is exact.
                let at = e.utf8_error().valid_up_to();
                let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let file = Self::from_text(path.to_path_buf(), display, lossy);
                Err(file
                    .error(at..at, "the file is not UTF-8 text")
                    .with_help("save the file as UTF-8")
                    .into())
            }
        }
    }

    /// Wraps text that is already in memory.
    pub fn from_text(path: PathBuf, display: String, text: String) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Self {
            display,
            path,
            text: Arc::from(text),
            line_starts,
        }
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let mut cut = offset;
        while !self.text.is_char_boundary(cut) {
            cut -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= cut);
        let line_start = self
            .line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let col = self.text[line_start..cut].chars().count() + 1;
        (line.max(1), col)
    }

    /// `file:line:col` of a byte offset.
    pub fn location(&self, offset: usize) -> String {
        let (line, col) = self.line_col(offset);
        format!("{}:{line}:{col}", self.display)
    }

    /// An error pointing at `span` of this file.
    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> SourceError {
        let start = span.start.min(self.text.len());
        let end = span.end.clamp(start, self.text.len());
        SourceError {
            location: self.location(start),
            message: message.into(),
            label: String::from("here"),
            help: None,
            src: NamedSource::new(self.display.clone(), Arc::clone(&self.text)),
            span: SourceSpan::from(start..end),
            related: Vec::new(),
        }
    }
}

/// A problem at a place in an input file.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{location}: {message}")]
pub struct SourceError {
    /// `file:line:col`, repeated in the message so it survives plain-text output.
    pub location: String,
    /// What is wrong, lowercase, no final period.
    pub message: String,
    label: String,
    #[help]
    help: Option<String>,
    #[source_code]
    src: NamedSource<Arc<str>>,
    #[label("{label}")]
    span: SourceSpan,
    #[related]
    related: Vec<SourceError>,
}

impl SourceError {
    /// Sets the text under the arrow.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Says how to fix it.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Puts text in front of the message.
    #[must_use]
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}{}", self.message);
        self
    }

    /// Attaches further errors found in the same pass.
    #[must_use]
    pub fn with_related(mut self, related: Vec<SourceError>) -> Self {
        self.related = related;
        self
    }
}

/// Everything that can go wrong before a scenario runs: all of it is bad input
/// (exit code 2). The variants say what went wrong; those without a file
/// location carry their whole message, written for the user.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A located problem in a scenario, policy, schema or entities file.
    #[error(transparent)]
    Source(#[from] Box<SourceError>),
    /// A file could not be read. The reason is the error's source, so a report
    /// printing the chain shows it once.
    #[error("cannot read `{path}`")]
    Io {
        /// The path as given.
        path: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A command-line argument or option, or a value with no location to
    /// point at, is malformed or does not apply (`--today 31-12`, an empty
    /// policy spec, `--policies` missing where it is needed).
    #[error("{0}")]
    BadArgument(String),
    /// A file, folder, git repository or revision that was named does not
    /// exist, is not what it must be, or holds nothing to work on.
    #[error("{0}")]
    NotFound(String),
    /// Input privsim refuses to read: too large, not UTF-8, a symbolic link
    /// in a git baseline, a file in no format it knows.
    #[error("{0}")]
    Unsupported(String),
    /// A path leaves the folder or repository it must stay inside.
    #[error("{0}")]
    Outside(String),
    /// Writing would replace a file that exists (privsim never replaces one).
    #[error("{0}")]
    Conflict(String),
    /// An external tool privsim needs (git, the cvc5 solver) is missing or failed.
    #[error("{0}")]
    Tool(String),
    /// privsim could not produce its own output (a bug to report).
    #[error("{0}")]
    Internal(String),
}

impl Diagnostic for Error {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self {
            Error::Source(inner) => inner.help(),
            _ => None,
        }
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        match self {
            Error::Source(inner) => inner.source_code(),
            _ => None,
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        match self {
            Error::Source(inner) => inner.labels(),
            _ => None,
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        match self {
            Error::Source(inner) => inner.related(),
            _ => None,
        }
    }
}

impl From<SourceError> for Error {
    fn from(error: SourceError) -> Self {
        Error::Source(Box::new(error))
    }
}

/// Shorthand for results that fail with bad input.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_character_columns() {
        let file = SourceFile::from_text(
            PathBuf::from("x"),
            "x.toml".into(),
            "ab\nçd\n\nlast".to_string(),
        );
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(2), (1, 3));
        assert_eq!(file.line_col(3), (2, 1));
        // `ç` is two bytes: `d` is the second character.
        assert_eq!(file.line_col(5), (2, 2));
        // Inside `ç`: rounded down to its start.
        assert_eq!(file.line_col(4), (2, 1));
        assert_eq!(file.line_col(7), (3, 1));
        assert_eq!(file.line_col(8), (4, 1));
        assert_eq!(file.line_col(1000), (4, 5));
        assert_eq!(file.location(8), "x.toml:4:1");
    }

    /// The kind says what went wrong; the message is the one `Usage` had.
    #[test]
    fn a_folder_read_as_a_file_is_not_found_with_its_message_unchanged() {
        match SourceFile::read(&std::env::temp_dir(), "the-folder".into()) {
            Err(Error::NotFound(message)) => assert_eq!(message, "`the-folder` is not a file"),
            other => panic!("expected NotFound, got {other:?}"),
        }
    }
}
