//! Reading the files a scenario names: its shared world and every path it
//! writes, resolved against its folder and confined to it (or, for a shared
//! world, to the folder the scenarios are run from).

use super::*;

impl Loader<'_> {
    /// Reads and parses the shared world a scenario names: relative to the
    /// scenario's folder, and inside the folder the scenarios are run from
    /// (checked on the written path before any file is opened, then on the
    /// real one, so a symbolic link cannot lead out either).
    pub(super) fn read_world(&mut self, written: &Spanned<String>) -> Result<raw::RawWorld> {
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
    pub(super) fn relative<'w>(&self, written: &'w Spanned<String>) -> Result<&'w Path> {
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
    pub(super) fn resolve(&self, written: &Spanned<String>) -> Result<(PathBuf, String)> {
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
    pub(super) fn escapes(&self, here: Range<usize>, text: &str) -> Error {
        self.err(here, format!("path `{text}` leaves the scenario's folder"))
            .help_boxed("scenario files may only reference files in their own folder or below it; move the file or the scenario")
            .into()
    }

    pub(super) fn read(&self, written: &Spanned<String>) -> Result<SourceFile> {
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
    pub(super) fn named(
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
}
