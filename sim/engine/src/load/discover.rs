//! Finding scenario files: what a path names (a scenario, or every scenario
//! under a folder but shared worlds and the gate's configuration), the
//! `.cedar` files of a policy folder, and paths normalized without the file
//! system.

use super::*;

/// The file name of the gate's configuration, which folder searches for
/// scenarios pass over.
pub const GATE_CONFIG: &str = "privsim-gate.toml";

/// Whether a file's name marks it as a shared world (`world.toml` or
/// `NAME.world.toml`), which folder searches for scenarios pass over.
pub fn is_shared_world(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name == "world.toml" || name.ends_with(".world.toml"))
}

/// Lists the scenario files a path names: the file itself, or every `.toml`
/// file under a folder (recursively, sorted) but the gate's configuration
/// and shared worlds ([`is_shared_world`]).
pub fn discover(path: &Path) -> Result<Vec<PathBuf>> {
    let metadata = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    if metadata.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    collect_files(path, "toml", &mut found)?;
    // The gate's configuration lives among the scenarios; it is not one.
    found.retain(|file| file.file_name().is_none_or(|name| name != GATE_CONFIG));
    // Shared worlds are read through the scenarios that name them.
    found.retain(|file| !is_shared_world(file));
    if found.is_empty() {
        return Err(Error::NotFound(format!(
            "no scenario files (`*.toml`) under `{}`",
            path.display()
        )));
    }
    Ok(found)
}

/// Every file with the given extension under `folder`, sorted, not following symlinked folders.
pub fn collect_files(folder: &Path, extension: &str, found: &mut Vec<PathBuf>) -> Result<()> {
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
            collect_files(&path, extension, found)?;
        } else if path.extension().is_some_and(|e| e == extension)
            && (kind.is_file() || path.is_file())
        {
            found.push(path);
        }
    }
    Ok(())
}

/// The `.cedar` files under a scenario's policy folder, sorted, following
/// symbolic links to folders only while they stay inside `root` (the
/// scenario's canonical folder), each folder once. `Ok(Err(link))`: a
/// symlinked folder that leads out of `root`, refused before anything in it
/// is listed or read.
pub(super) fn collect_policy_folder(
    folder: &Path,
    root: &Path,
    visited: &mut BTreeSet<PathBuf>,
    found: &mut Vec<PathBuf>,
) -> Result<std::result::Result<(), PathBuf>> {
    let io = |source| Error::Io {
        path: folder.display().to_string(),
        source,
    };
    if let Ok(canonical) = folder.canonicalize()
        && !visited.insert(canonical)
    {
        // A link back to a folder already listed (a cycle, or two ways in).
        return Ok(Ok(()));
    }
    let mut entries: Vec<_> = std::fs::read_dir(folder)
        .map_err(io)?
        .collect::<std::io::Result<_>>()
        .map_err(io)?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().map_err(io)?;
        let linked_folder = kind.is_symlink() && path.is_dir();
        if linked_folder {
            let inside = path
                .canonicalize()
                .is_ok_and(|canonical| canonical.starts_with(root));
            if !inside {
                return Ok(Err(path));
            }
        }
        if kind.is_dir() || linked_folder {
            if let Err(link) = collect_policy_folder(&path, root, visited, found)? {
                return Ok(Err(link));
            }
        } else if path.extension().is_some_and(|e| e == "cedar")
            && (kind.is_file() || path.is_file())
        {
            found.push(path);
        }
    }
    Ok(Ok(()))
}

/// Removes `.` and resolvable `..` components without touching the file system.
/// A result that starts with `..` climbs out of the folder the path is relative
/// to: the loader refuses such a path before any file is opened, and the gate
/// applies the same rule before git is asked about it.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            // Only a named folder cancels `..`: `../..` stays as it is.
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The `.cedar` files a `--policies` argument names: the file, or a folder's files.
pub fn policy_files(path: &Path) -> Result<Vec<PathBuf>> {
    let metadata = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    if metadata.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    collect_files(path, "cedar", &mut found)?;
    if found.is_empty() {
        return Err(Error::NotFound(format!(
            "no `.cedar` files under `{}`",
            path.display()
        )));
    }
    Ok(found)
}
