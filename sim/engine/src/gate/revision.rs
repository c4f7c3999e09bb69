//! The files a scenario names besides its policies (schema, entities JSON,
//! template links), as they are at a git revision, so a `git:` side of the
//! gate compares the whole change and not only the policies.
//!
//! Both sides replay the candidate's scenario file (its steps, sessions,
//! grants and inline entities), so their steps line up one to one; which
//! schema, entities and links file the baseline reads is what the scenario
//! file *at the revision* names (a renamed file is followed), read with the
//! same confinement as policy files: relative, inside the scenario's folder
//! and the repository, no symbolic links. Whatever differs is said in a note:
//! the scenario file itself, a file new or removed since the revision, a
//! file renamed.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::git::Repo;
use crate::load::{self as scenario, NamedFile};
use privsim_model::diag::{Error, SourceFile};

/// The schema, entities and links of one side, and what a reviewer should
/// know about them.
#[derive(Debug, Default)]
pub struct FilesAt {
    /// The schema to load.
    pub schema: NamedFile,
    /// The entities file to load.
    pub entities: NamedFile,
    /// The template links to load.
    pub links: NamedFile,
    /// Sentences for the scenario's notes (not yet prefixed with the side).
    pub notes: Vec<String>,
}

/// Reads the files `file` (the candidate's scenario, parsed as `raw`) names
/// as they are at `revision`.
pub fn files_at(
    file: &Path,
    source: &SourceFile,
    raw: &scenario::raw::RawScenario,
    repo: &mut Repo,
    revision: &str,
) -> Result<FilesAt, Error> {
    let commit = repo.commit(revision)?;
    let folder = file.parent().unwrap_or(Path::new(""));
    let Some(scenario_path) = repo.relative(file).filter(|r| !r.is_empty()) else {
        return Err(Error::Outside(format!(
            "`{}` is outside the git repository at `{}`, so its files at `{revision}` cannot be read",
            file.display(),
            repo.root.display()
        )));
    };
    let mut notes = Vec::new();
    let shown = format!("{revision}:{scenario_path}");
    let at_revision = match repo.read_text_at(revision, &commit, &scenario_path)? {
        None => {
            notes.push(format!(
                "`{scenario_path}` does not exist at `{revision}` (a new scenario): the files it names are read as they are at `{revision}`"
            ));
            None
        }
        Some(text) => {
            let old = SourceFile::from_text(PathBuf::from(&shown), shown.clone(), text);
            if *old.text != *source.text {
                notes.push(format!(
                    "the scenario file differs at `{revision}`: both sides replay the candidate's version (its steps, sessions, grants and inline entities are not compared); the schema, entities and links it names are read as they are at `{revision}`"
                ));
            }
            match scenario::parse_toml(&old) {
                Ok(old_raw) => Some((old, old_raw)),
                Err(error) => {
                    notes.push(format!(
                        "`{shown}` does not parse ({}): the files the candidate's scenario names are read as they are at `{revision}`",
                        scenario::error_chain(&error)
                    ));
                    None
                }
            }
        }
    };
    let header = raw.scenario.get_ref();
    let old_header = at_revision.as_ref().map(|(_, old)| old.scenario.get_ref());
    // The version of the scenario that names the files: the revision's when
    // it exists and parses, else the candidate's.
    let naming = at_revision.as_ref().map_or(source, |(old, _)| old);
    let named = |old: Option<&Spanned<String>>, new: Option<&Spanned<String>>| match old_header {
        Some(_) => (old.cloned(), new.cloned()),
        None => (new.cloned(), new.cloned()),
    };
    let mut read = |what: &str, pair: (Option<Spanned<String>>, Option<Spanned<String>>)| {
        let place = Place {
            repo,
            revision,
            commit: &commit,
            folder,
            naming,
        };
        place.read(what, pair.0.as_ref(), pair.1.as_ref(), &mut notes)
    };
    let schema = read(
        "schema",
        named(
            old_header.and_then(|h| h.schema.as_ref()),
            header.schema.as_ref(),
        ),
    )?;
    let entities = read(
        "entities file",
        named(
            old_header.and_then(|h| h.entities.as_ref()),
            header.entities.as_ref(),
        ),
    )?;
    let links = read(
        "template links",
        named(
            old_header.and_then(|h| h.links.as_ref()),
            header.links.as_ref(),
        ),
    )?;
    Ok(FilesAt {
        schema,
        entities,
        links,
        notes,
    })
}

/// Where the files are read: a repository at a commit, relative to the
/// scenario's folder, as named by `naming`.
struct Place<'a> {
    repo: &'a Repo,
    revision: &'a str,
    commit: &'a str,
    folder: &'a Path,
    naming: &'a SourceFile,
}

impl Place<'_> {
    /// One file: `old` is the path the revision's scenario names, `new` the
    /// candidate's (for the notes).
    fn read(
        &self,
        what: &str,
        old: Option<&Spanned<String>>,
        new: Option<&Spanned<String>>,
        notes: &mut Vec<String>,
    ) -> Result<NamedFile, Error> {
        let revision = self.revision;
        let Some(written) = old else {
            if let Some(new) = new {
                notes.push(format!(
                    "the scenario names no {what} at `{revision}` and `{}` now: that side is loaded without one",
                    new.get_ref()
                ));
            }
            return Ok(NamedFile::Missing);
        };
        let text = written.get_ref();
        let inside = Path::new(text);
        // The loader's rule, checked before git is asked: a scenario names
        // files in its own folder tree only.
        if text.is_empty() || inside.is_absolute() || scenario::normalize(inside).starts_with("..")
        {
            return Err(self
                .naming
                .error(
                    written.span(),
                    format!("path `{text}` leaves the scenario's folder"),
                )
                .with_help(
                    "scenario files may only reference files in their own folder or below it",
                )
                .into());
        }
        let Some(relative) = self
            .repo
            .relative(&self.folder.join(text))
            .filter(|r| !r.is_empty())
        else {
            return Err(Error::Outside(format!(
                "{}: the {what} path `{text}` leaves the repository at `{}`",
                self.naming.display,
                self.repo.root.display()
            )));
        };
        match new {
            None => notes.push(format!(
                "the scenario names no {what} now and `{text}` at `{revision}`: the two sides differ in it"
            )),
            Some(new) if new.get_ref() != text => notes.push(format!(
                "the {what} is `{text}` at `{revision}` and `{}` now",
                new.get_ref()
            )),
            Some(_) => {}
        }
        match self.repo.read_text_at(revision, self.commit, &relative)? {
            None => {
                notes.push(format!(
                    "`{relative}` does not exist at `{revision}`: that side is loaded without a {what}"
                ));
                Ok(NamedFile::Missing)
            }
            Some(content) => {
                let shown = format!("{revision}:{relative}");
                Ok(NamedFile::Given(SourceFile::from_text(
                    PathBuf::from(&shown),
                    shown,
                    content,
                )))
            }
        }
    }
}
