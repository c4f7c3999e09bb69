//! Policy files as they are at a git revision, read with `git ls-tree` and
//! `git cat-file` (no checkout, no second clone) and written into a temporary
//! folder the scenario loader reads like any `--policies` folder.
//!
//! Only blobs are read: a symbolic link at the revision is refused (it could
//! point anywhere), submodules are not followed, and every path is checked to
//! stay inside the repository before git is asked about it.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use privsim_model::diag::{Error, MAX_FILE_BYTES};

/// The loader's path rule, so the gate confines a scenario's paths exactly as
/// loading does.
use crate::load::normalize;

/// A private folder (created 0700 with an unpredictable name by the
/// `tempfile` crate, so nobody else can plant files or links in it), removed
/// when dropped.
#[derive(Debug)]
pub struct TempFolder(tempfile::TempDir);

impl TempFolder {
    /// Creates a fresh, empty folder under the system's temporary folder.
    pub fn new() -> Result<Self, Error> {
        tempfile::Builder::new()
            .prefix("privsim-check-")
            .tempdir()
            .map(Self)
            .map_err(|source| Error::Io {
                path: std::env::temp_dir().display().to_string(),
                source,
            })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// Policy files of one revision, written out for the loader.
#[derive(Debug)]
pub struct Materialized {
    /// The folder to pass as `LoadOptions::policies`.
    pub folder: TempFolder,
    /// For each file written (relative to `folder`): how to show it,
    /// `REV:path/in/repo.cedar`.
    pub displays: BTreeMap<PathBuf, String>,
    /// What a reviewer should know (files missing at the revision).
    pub notes: Vec<String>,
}

/// A git repository, with the revisions resolved so far.
#[derive(Debug)]
pub struct Repo {
    /// The work tree's top folder, canonical.
    pub root: PathBuf,
    commits: BTreeMap<String, String>,
}

/// The repositories met so far, by the folder they were looked up from.
#[derive(Debug, Default)]
pub struct Repos {
    by_root: BTreeMap<PathBuf, Repo>,
    roots: BTreeMap<PathBuf, PathBuf>,
}

impl Repos {
    /// The repository holding `folder` (`git rev-parse --show-toplevel`).
    pub fn at(&mut self, folder: &Path) -> Result<&mut Repo, Error> {
        let folder = if folder.as_os_str().is_empty() {
            Path::new(".")
        } else {
            folder
        };
        let root = match self.roots.get(folder) {
            Some(root) => root.clone(),
            None => {
                let output = git(folder, &["rev-parse", "--show-toplevel"])?;
                if !output.status.success() {
                    return Err(Error::NotFound(format!(
                        "`{}` is not inside a git repository, so a `git:` policy spec cannot be read there: {}",
                        folder.display(),
                        first_line(&output.stderr)
                    )));
                }
                let top = String::from_utf8_lossy(&output.stdout).trim().to_string();
                let root = Path::new(&top).canonicalize().map_err(|source| Error::Io {
                    path: top.clone(),
                    source,
                })?;
                self.roots.insert(folder.to_path_buf(), root.clone());
                root
            }
        };
        Ok(self.by_root.entry(root.clone()).or_insert_with(|| Repo {
            root,
            commits: BTreeMap::new(),
        }))
    }

    /// The commits a revision was resolved to, one per repository, sorted.
    pub fn commits_of(&self, revision: &str) -> Vec<String> {
        let mut all: Vec<String> = self
            .by_root
            .values()
            .filter_map(|repo| repo.commits.get(revision).cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

impl Repo {
    /// The commit a revision names (`git rev-parse --verify REV^{commit}`).
    pub fn commit(&mut self, revision: &str) -> Result<String, Error> {
        if let Some(commit) = self.commits.get(revision) {
            return Ok(commit.clone());
        }
        if revision.is_empty() || revision.starts_with('-') || revision.contains('\0') {
            return Err(Error::BadArgument(format!(
                "`{revision}` is not a git revision; write e.g. `git:origin/main` or `git:HEAD~1`"
            )));
        }
        let output = git(
            &self.root,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{revision}^{{commit}}"),
            ],
        )?;
        if !output.status.success() {
            return Err(Error::NotFound(format!(
                "the git revision `{revision}` does not exist in `{}`{}",
                self.root.display(),
                if revision.contains('/') {
                    " (for a remote branch, fetch it first: `git fetch origin main`)"
                } else {
                    ""
                }
            )));
        }
        let commit = String::from_utf8_lossy(&output.stdout).trim().to_string();
        self.commits.insert(revision.to_string(), commit.clone());
        Ok(commit)
    }

    /// A path inside the work tree, relative to its root with `/`
    /// separators; `None` when it leaves the repository.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let absolute = normalize(&if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir().ok()?.join(path)
        });
        // Canonicalize the longest existing ancestor (the file itself may not
        // exist in the work tree), then add the rest.
        let mut existing = absolute.as_path();
        let mut rest = Vec::new();
        let canonical = loop {
            if let Ok(canonical) = existing.canonicalize() {
                break canonical;
            }
            rest.push(existing.file_name()?.to_os_string());
            existing = existing.parent()?;
        };
        let mut full = canonical;
        for part in rest.iter().rev() {
            full.push(part);
        }
        let inside = full.strip_prefix(&self.root).ok()?.to_path_buf();
        let parts: Vec<String> = inside
            .components()
            .map(|c| match c {
                Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect::<Option<_>>()?;
        Some(parts.join("/"))
    }

    /// Writes the `.cedar` files each entry names at `commit` into a fresh
    /// folder, entry by entry in order (a folder's files sorted as the loader
    /// sorts them), so the loader reads them in the same order as the
    /// scenario's own list. `revision` is how the revision is shown.
    /// An entry missing at the revision is left out with a note; when nothing
    /// is left, the folder holds one empty policy file (a baseline that
    /// allows nothing).
    pub fn materialize(
        &self,
        revision: &str,
        commit: &str,
        entries: &[String],
    ) -> Result<Materialized, Error> {
        let folder = TempFolder::new()?;
        let mut displays = BTreeMap::new();
        let mut notes = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let prefix = PathBuf::from(format!("{index:03}"));
            let objects = self.tree(commit, entry, false)?;
            let Some(object) = objects.into_iter().find(|o| o.path == *entry) else {
                notes.push(format!(
                    "`{entry}` does not exist at `{revision}`: the baseline leaves it out"
                ));
                continue;
            };
            let files = match object.kind.as_str() {
                "blob" => vec![object],
                "tree" => {
                    let inside = self.tree(commit, &format!("{entry}/"), true)?;
                    let mut cedar: Vec<Object> = inside
                        .into_iter()
                        .filter(|o| o.kind == "blob" && o.path.ends_with(".cedar"))
                        .collect();
                    // The loader walks folders sorted by name, level by level.
                    cedar.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
                    if cedar.is_empty() {
                        notes.push(format!(
                            "`{entry}` has no `.cedar` files at `{revision}`: the baseline leaves it out"
                        ));
                    }
                    cedar
                }
                _ => {
                    notes.push(format!(
                        "`{entry}` is a submodule at `{revision}`: the baseline leaves it out"
                    ));
                    Vec::new()
                }
            };
            for file in files {
                if file.mode == "120000" {
                    return Err(Error::Unsupported(format!(
                        "`{revision}:{}` is a symbolic link; privsim does not follow links in a git baseline",
                        file.path
                    )));
                }
                let text = self.blob(revision, &file)?;
                let mut relative = prefix.clone();
                for part in file.path.split('/') {
                    relative.push(part);
                }
                if !file.path.ends_with(".cedar") {
                    // The loader reads only `.cedar` files from a folder.
                    relative.set_extension(match relative.extension() {
                        Some(extension) => format!("{}.cedar", extension.to_string_lossy()),
                        None => "cedar".to_string(),
                    });
                }
                let path = folder.path().join(&relative);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                        path: parent.display().to_string(),
                        source,
                    })?;
                }
                std::fs::write(&path, text).map_err(|source| Error::Io {
                    path: path.display().to_string(),
                    source,
                })?;
                displays.insert(relative, format!("{revision}:{}", file.path));
            }
        }
        if displays.is_empty() {
            // A scenario new since the revision: one note instead of one per file.
            notes.clear();
            let relative = PathBuf::from("000").join("none.cedar");
            let path = folder.path().join(&relative);
            std::fs::create_dir_all(folder.path().join("000")).map_err(|source| Error::Io {
                path: folder.path().display().to_string(),
                source,
            })?;
            std::fs::write(&path, "").map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })?;
            displays.insert(relative, format!("{revision}: no policies"));
            notes.push(format!(
                "none of the scenario's policy files exists at `{revision}` (a new scenario?): the baseline is an empty policy set, which allows nothing"
            ));
        }
        Ok(Materialized {
            folder,
            displays,
            notes,
        })
    }

    /// The text of one file at a commit, `None` when no file is there. A
    /// symbolic link is refused, as for policy files.
    pub fn read_text_at(
        &self,
        revision: &str,
        commit: &str,
        path: &str,
    ) -> Result<Option<String>, Error> {
        let objects = self.tree(commit, path, false)?;
        let Some(object) = objects.into_iter().find(|o| o.path == path) else {
            return Ok(None);
        };
        if object.mode == "120000" {
            return Err(Error::Unsupported(format!(
                "`{revision}:{path}` is a symbolic link; privsim does not follow links in a git baseline"
            )));
        }
        if object.kind != "blob" {
            return Ok(None);
        }
        self.blob(revision, &object).map(Some)
    }

    /// `git ls-tree` of one path at a commit (recursively for a folder's contents).
    fn tree(&self, commit: &str, path: &str, recursive: bool) -> Result<Vec<Object>, Error> {
        let mut args = vec!["ls-tree", "-z", "--full-tree"];
        if recursive {
            args.push("-r");
        }
        args.extend([commit, "--", path]);
        let output = git(&self.root, &args)?;
        if !output.status.success() {
            return Err(Error::Tool(format!(
                "git cannot list `{path}` at `{commit}`: {}",
                first_line(&output.stderr)
            )));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        Ok(text
            .split('\0')
            .filter(|line| !line.is_empty())
            .filter_map(|line| {
                let (meta, path) = line.split_once('\t')?;
                let mut parts = meta.split(' ');
                Some(Object {
                    mode: parts.next()?.to_string(),
                    kind: parts.next()?.to_string(),
                    id: parts.next()?.to_string(),
                    path: path.to_string(),
                })
            })
            .collect())
    }

    /// The text of a blob, at most [`MAX_FILE_BYTES`]; errors name it as
    /// `REV:path`, never a temporary file.
    fn blob(&self, revision: &str, object: &Object) -> Result<String, Error> {
        let shown = format!("{revision}:{}", object.path);
        // The size first: a huge blob is refused before git hands it over.
        let size = git(&self.root, &["cat-file", "-s", &object.id])?;
        let bytes: u64 = String::from_utf8_lossy(&size.stdout)
            .trim()
            .parse()
            .map_err(|_| {
                Error::Tool(format!(
                    "git cannot tell the size of `{shown}`: {}",
                    first_line(&size.stderr)
                ))
            })?;
        if bytes > MAX_FILE_BYTES {
            return Err(Error::Unsupported(format!(
                "`{shown}` is {bytes} bytes, more than the limit of {MAX_FILE_BYTES} bytes"
            )));
        }
        let output = git(&self.root, &["cat-file", "blob", &object.id])?;
        if !output.status.success() {
            return Err(Error::Tool(format!(
                "git cannot read `{shown}`: {}",
                first_line(&output.stderr)
            )));
        }
        if output.stdout.len() as u64 > MAX_FILE_BYTES {
            return Err(Error::Unsupported(format!(
                "`{shown}` is {} bytes, more than the limit of {MAX_FILE_BYTES} bytes",
                output.stdout.len()
            )));
        }
        String::from_utf8(output.stdout)
            .map_err(|_| Error::Unsupported(format!("`{shown}` is not UTF-8 text")))
    }
}

/// One entry of `git ls-tree`.
#[derive(Debug)]
struct Object {
    mode: String,
    kind: String,
    id: String,
    path: String,
}

/// Runs git in `folder`, with pathspecs taken literally (a `*` in a file name
/// is a `*`).
fn git(folder: &Path, args: &[&str]) -> Result<std::process::Output, Error> {
    Command::new("git")
        .arg("--literal-pathspecs")
        .arg("-C")
        .arg(folder)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|error| {
            if error.kind() == std::io::ErrorKind::NotFound {
                Error::Tool(
                    "`git` is not installed (or not on PATH); a `git:` policy spec needs it"
                        .to_string(),
                )
            } else {
                Error::Tool(format!("cannot run `git`: {error}"))
            }
        })
}

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}
