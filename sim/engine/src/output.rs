//! Writing output files so that a write never follows or replaces what it
//! should not: every file privsim writes (reports, repro scenarios, imported
//! suites, suggested policies, a git baseline's policy files) goes through here.
//!
//! A file is written into an unpredictable, exclusively created temporary file
//! in the target's folder (`tempfile::NamedTempFile`), synced to disk, then
//! renamed over the target, so a reader sees the old file or the whole new one
//! and nobody who can write to the folder can make privsim write through a
//! link they planted. What is already at the target decides:
//!
//! - nothing, or a regular file: replaced atomically as above;
//! - a symbolic link: refused (replacing it would surprise whoever made it,
//!   and following it would write anywhere);
//! - a character device or a named pipe (`/dev/stdout`, `/dev/null`, a FIFO):
//!   written directly, as `tee` would, since that is what the user named;
//! - anything else (a folder, a socket, a block device): refused.

use std::io::Write;
use std::path::{Path, PathBuf};

/// What a path names before privsim writes to it.
enum Target {
    /// Nothing, or a regular file: written atomically.
    Replace,
    /// A character device or a FIFO: written directly.
    Stream,
}

/// Decides how to write `path`, refusing links and other special files.
fn target(path: &Path) -> std::io::Result<Target> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Target::Replace),
        Err(error) => return Err(error),
    };
    let kind = metadata.file_type();
    if kind.is_file() {
        return Ok(Target::Replace);
    }
    if kind.is_symlink() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "it is a symbolic link, which privsim neither follows nor replaces; remove it or name its target",
        ));
    }
    if is_stream(&kind) {
        return Ok(Target::Stream);
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        "it exists and is not a regular file, so privsim does not replace it",
    ))
}

#[cfg(unix)]
fn is_stream(kind: &std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    kind.is_char_device() || kind.is_fifo()
}

#[cfg(not(unix))]
fn is_stream(_kind: &std::fs::FileType) -> bool {
    false
}

/// The folder a path's file lives in (`.` for a bare file name).
fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes `bytes` to `path` as the module comment says: atomically for a new
/// or regular file, directly for a device or pipe, refused otherwise.
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    match target(path)? {
        Target::Stream => {
            let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
            file.write_all(bytes)?;
            file.flush()
        }
        Target::Replace => {
            let staged = stage(folder_of(path), path, bytes)?;
            persist(staged, path)
        }
    }
}

/// Writes `bytes` to `path` atomically only if nothing is there yet (no
/// file, link or folder): an existing file, perhaps edited and kept as a
/// regression test, is never replaced. `Ok(false)` when `path` was taken.
pub fn write_new_file(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Ok(false);
    }
    let staged = stage(folder_of(path), path, bytes)?;
    match staged.persist_noclobber(path) {
        Ok(_) => {
            sync_folder(folder_of(path));
            Ok(true)
        }
        Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error.error),
    }
}

/// A temporary file in `folder` holding `bytes`, synced; it keeps the
/// permissions of the file at `replacing` if there is one, and otherwise
/// those a new file gets (0666 less the umask), not the temporary file's 0600.
fn stage(
    folder: &Path,
    replacing: &Path,
    bytes: &[u8],
) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".privsim-").suffix(".tmp");
    let kept = std::fs::symlink_metadata(replacing)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.permissions());
    #[cfg(unix)]
    let permissions = kept.unwrap_or_else(|| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::Permissions::from_mode(0o666)
    });
    #[cfg(unix)]
    builder.permissions(permissions);
    #[cfg(not(unix))]
    let _ = kept;
    let mut file = builder.tempfile_in(folder)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    Ok(file)
}

/// Renames a staged file over `path` and syncs the folder, so the rename
/// itself survives a crash.
fn persist(staged: tempfile::NamedTempFile, path: &Path) -> std::io::Result<()> {
    staged.persist(path).map_err(|error| error.error)?;
    sync_folder(folder_of(path));
    Ok(())
}

/// Best effort: some file systems cannot sync a folder, and the data is
/// already on disk.
fn sync_folder(folder: &Path) {
    if let Ok(handle) = std::fs::File::open(folder) {
        let _ = handle.sync_all();
    }
}

/// An error about one file of a report folder.
#[derive(Debug)]
pub struct FolderError {
    /// The file or folder the error is about.
    pub path: PathBuf,
    /// The operating system's reason.
    pub source: std::io::Error,
}

/// The name prefix of a folder's staging copy, beside it:
/// `.<name>.privsim-` (`fallback` when the path has no name).
fn staging_prefix(folder: &Path, fallback: &str) -> String {
    let name = folder.file_name().map_or_else(
        || fallback.to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    format!(".{name}.privsim-")
}

/// A builder of staging folders with `prefix`. The staging folder becomes
/// the target folder when that is new: the permissions of an ordinary new
/// folder (0777 less the umask).
fn folder_builder(prefix: &str) -> tempfile::Builder<'_, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o777));
    }
    builder
}

/// Writes a report folder as a whole: `files` (name, contents) into `folder`.
///
/// The guarantee: the report folder only ever holds complete files, and never
/// a temporary one. Every file is first written and synced into a private
/// staging folder beside `folder` (in its parent, so renames stay on one
/// file system); nothing in `folder` changes until all of them are. A folder
/// that did not exist then appears whole, in one rename. In a folder that
/// exists, every target is checked first (a symbolic link or special file
/// among them refuses the whole write before anything is replaced), then each
/// file is renamed into place one right after another, so a reader can see a
/// mix of old and new files only during those few renames, and only a crash
/// in exactly that window leaves one. The staging folder is removed on
/// success and on every error; only a process killed while staging leaves
/// it, hidden (`.NAME.privsim-XXXXXX`), in the parent, never inside `folder`.
pub fn write_folder(folder: &Path, files: &[(&str, String)]) -> Result<(), FolderError> {
    let at = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FolderError { path, source }
    };
    let exists = match std::fs::metadata(folder) {
        Ok(metadata) if metadata.is_dir() => true,
        Ok(_) => {
            return Err(FolderError {
                path: folder.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "it exists and is not a folder",
                ),
            });
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(folder).is_ok() {
                return Err(FolderError {
                    path: folder.to_path_buf(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "it is a symbolic link to nothing",
                    ),
                });
            }
            false
        }
        Err(error) => return Err(at(folder)(error)),
    };
    let parent = folder_of(folder);
    std::fs::create_dir_all(parent).map_err(at(parent))?;
    let prefix = staging_prefix(folder, "report");
    let builder = folder_builder(&prefix);
    // Staging beside the folder needs a writable parent; `--report-dir .` in a
    // read-only parent stages inside the folder instead, still all at once.
    let staging = match builder.tempdir_in(parent) {
        Ok(staging) => staging,
        Err(_) if exists => builder.tempdir_in(folder).map_err(at(folder))?,
        Err(error) => return Err(at(parent)(error)),
    };
    for (file, text) in files {
        let path = staging.path().join(file);
        let mut handle = std::fs::File::create_new(&path).map_err(at(&path))?;
        handle.write_all(text.as_bytes()).map_err(at(&path))?;
        handle.sync_all().map_err(at(&path))?;
    }
    sync_folder(staging.path());
    if !exists {
        let staged = staging.keep();
        return match std::fs::rename(&staged, folder) {
            Ok(()) => {
                sync_folder(parent);
                Ok(())
            }
            Err(error) => {
                let _ = std::fs::remove_dir_all(&staged);
                Err(at(folder)(error))
            }
        };
    }
    for (file, _) in files {
        let path = folder.join(file);
        if let Target::Stream = target(&path).map_err(at(&path))? {
            return Err(at(&path)(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "it is a device or a pipe, not a report file",
            )));
        }
    }
    for (file, _) in files {
        let path = folder.join(file);
        std::fs::rename(staging.path().join(file), &path).map_err(at(&path))?;
    }
    sync_folder(folder);
    Ok(())
}

/// Writes a new folder of files (`privsim init`): `files` (relative path,
/// contents; paths may name subfolders) into `folder`, never replacing
/// anything.
///
/// Every target is checked first: if any of them exists (a file, a link, a
/// folder), nothing is written. A folder that did not exist is staged beside
/// it and appears whole, in one rename. Into a folder that exists (an empty
/// one, or one holding other files) each file is written with
/// [`write_new_file`], so a file created meanwhile by someone else is kept
/// and reported, never overwritten.
pub fn write_new_folder(folder: &Path, files: &[(String, String)]) -> Result<(), FolderError> {
    let at = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FolderError { path, source }
    };
    let refuse = |path: &Path, reason: &str| FolderError {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, reason.to_string()),
    };
    for (file, _) in files {
        let relative = Path::new(file);
        if !relative
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            return Err(FolderError {
                path: folder.join(relative),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "not a plain path inside the folder",
                ),
            });
        }
        let path = folder.join(relative);
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(refuse(&path, "it already exists; nothing was written"));
        }
    }
    let exists = match std::fs::symlink_metadata(folder) {
        Ok(metadata) if metadata.is_dir() => true,
        Ok(_) => return Err(refuse(folder, "it exists and is not a folder")),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => false,
        Err(error) => return Err(at(folder)(error)),
    };
    if exists {
        for (file, text) in files {
            let path = folder.join(file);
            std::fs::create_dir_all(folder_of(&path)).map_err(at(&path))?;
            if !write_new_file(&path, text.as_bytes()).map_err(at(&path))? {
                return Err(refuse(&path, "it appeared while writing; it was kept"));
            }
        }
        return Ok(());
    }
    let parent = folder_of(folder);
    std::fs::create_dir_all(parent).map_err(at(parent))?;
    let prefix = staging_prefix(folder, "new");
    let builder = folder_builder(&prefix);
    let staging = builder.tempdir_in(parent).map_err(at(parent))?;
    for (file, text) in files {
        let path = staging.path().join(file);
        std::fs::create_dir_all(folder_of(&path)).map_err(at(&path))?;
        let mut handle = std::fs::File::create_new(&path).map_err(at(&path))?;
        handle.write_all(text.as_bytes()).map_err(at(&path))?;
        handle.sync_all().map_err(at(&path))?;
    }
    sync_folder(staging.path());
    // `rename` onto a folder succeeds only when that folder is empty, so a
    // folder someone filled meanwhile is never replaced.
    let staged = staging.keep();
    match std::fs::rename(&staged, folder) {
        Ok(()) => {
            sync_folder(parent);
            Ok(())
        }
        Err(error) => {
            let _ = std::fs::remove_dir_all(&staged);
            Err(at(folder)(error))
        }
    }
}
