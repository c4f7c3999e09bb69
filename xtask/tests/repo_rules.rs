//! Repository rules that run as ordinary tests: they keep the tree the way
//! STYLE.md describes it.

use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn rust_files(folder: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_rust_file_opens_with_a_module_doc_line() {
    let root = workspace_root();
    let mut files = Vec::new();
    for folder in ["sim", "reports", "benches", "xtask", "fuzz"] {
        rust_files(&root.join(folder), &mut files);
    }
    assert!(
        files.len() > 10,
        "found only {} Rust files under {}",
        files.len(),
        root.display()
    );
    let missing: Vec<String> = files
        .iter()
        .filter(|file| {
            !std::fs::read_to_string(file)
                .unwrap_or_default()
                .starts_with("//!")
        })
        .map(|file| {
            file.strip_prefix(&root)
                .unwrap_or(file)
                .display()
                .to_string()
        })
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not start with a `//!` line: {missing:?}"
    );
}

#[test]
fn no_pending_snapshots_are_lying_around() {
    let root = workspace_root();
    let mut pending = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "target" || name == ".git" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if name.ends_with(".snap.new") || name.ends_with(".pending-snap") {
                pending.push(path.display().to_string());
            }
        }
    }
    assert!(
        pending.is_empty(),
        "review these with `cargo insta review`: {pending:?}"
    );
}

/// The module path of a source file below a crate's `src/`: `load/mod.rs`
/// is `load`, `load/rules.rs` is `load::rules`, `lib.rs` the root.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|last| last == "mod" || last == "lib" || last == "main")
    {
        parts.pop();
    }
    parts
}

/// Every path a file names through `crate::` or `super::` in its code (not
/// its comments or its unit tests), with `{a, b::c}` groups expanded and
/// `super::*` as the parent module, relative to the crate root.
fn named_paths(source: &str, module: &[String], is_mod: bool) -> Vec<Vec<String>> {
    // A file's unit tests (`#[cfg(test)]`, at its end by STYLE.md) may
    // reach anywhere; inside them `super` is the file itself.
    let code: String = source
        .lines()
        .take_while(|line| line.trim() != "#[cfg(test)]")
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &code[at..];
        let (base, skip): (Vec<String>, usize) = if rest.starts_with("crate::") {
            (Vec::new(), "crate::".len())
        } else if rest.starts_with("super::") {
            // `super` of `a::b` (a file `a/b.rs`) and of `a` (`a/mod.rs`) alike
            // is the module one up from the file's own module.
            let _ = is_mod;
            (
                module[..module.len().saturating_sub(1)].to_vec(),
                "super::".len(),
            )
        } else {
            at += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        // Only a whole word: not `foo_crate::`.
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            at += skip;
            continue;
        }
        at += skip;
        let path_len = code[at..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(code.len() - at);
        let path = code[at..at + path_len].trim_end_matches(':');
        let mut prefix = base.clone();
        prefix.extend(
            path.split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        at += path_len;
        if code[at..].starts_with('{') {
            let close = code[at..].find('}').map_or(code.len(), |i| at + i);
            for item in code[at + 1..close].split(',') {
                let item = item.split(" as ").next().unwrap_or("").trim();
                if item.is_empty() || item == "*" {
                    continue;
                }
                let mut full = prefix.clone();
                if item != "self" {
                    full.extend(item.split("::").map(str::to_string));
                }
                found.push(full);
            }
            at = close;
        } else {
            found.push(prefix);
        }
    }
    found
}

/// The file-level import cycles of one crate: for every file, the files
/// whose modules it names (the longest prefix of each path that is a file of
/// the crate); a cycle is a strongly connected set of more than one file.
fn import_cycles(src: &Path) -> Vec<Vec<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let modules: Vec<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let index_of = |path: &[String]| -> Option<usize> {
        (1..=path.len())
            .rev()
            .find_map(|k| modules.iter().position(|m| m.as_slice() == &path[..k]))
    };
    let edges: Vec<Vec<usize>> = files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            let source = std::fs::read_to_string(file).unwrap_or_default();
            let is_mod = file.file_stem().is_some_and(|s| s == "mod");
            let mut to: Vec<usize> = named_paths(&source, &modules[i], is_mod)
                .iter()
                .filter_map(|path| index_of(path))
                .filter(|&j| j != i)
                .collect();
            to.sort_unstable();
            to.dedup();
            to
        })
        .collect();
    // Reachability closure (crates here have a few hundred files at most).
    let n = files.len();
    let mut reach = vec![vec![false; n]; n];
    for (i, row) in reach.iter_mut().enumerate() {
        let mut stack = edges[i].clone();
        while let Some(j) = stack.pop() {
            if !row[j] {
                row[j] = true;
                stack.extend(edges[j].iter().copied());
            }
        }
    }
    let mut seen = vec![false; n];
    let mut cycles = Vec::new();
    for i in 0..n {
        if seen[i] {
            continue;
        }
        let group: Vec<usize> = (0..n)
            .filter(|&j| j == i || (reach[i][j] && reach[j][i]))
            .collect();
        for &j in &group {
            seen[j] = true;
        }
        if group.len() > 1 {
            cycles.push(
                group
                    .iter()
                    .map(|&j| {
                        files[j]
                            .strip_prefix(src)
                            .unwrap_or(&files[j])
                            .display()
                            .to_string()
                    })
                    .collect(),
            );
        }
    }
    cycles
}

/// ARCHITECTURE.md's layering: inside every crate, no source file reaches,
/// through the `crate::` and `super::` paths it names, back to itself. The
/// checker is shown to see a cycle first, on a small crate written for it.
#[test]
fn no_source_files_of_a_crate_import_each_other_in_a_cycle() {
    let scratch = std::env::temp_dir().join(format!("privsim-cycles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let files = [
        ("lib.rs", "//! root\nmod load;\nmod other;\nmod world;\n"),
        (
            "load/mod.rs",
            "//! load\nmod rules;\nuse crate::world::{World, self};\n",
        ),
        (
            "load/rules.rs",
            "//! rules\npub fn g() { crate::world::f(); }\n",
        ),
        (
            "other.rs",
            "//! other\n// crate::world::f() in a comment is not an import\npub fn h() {}\n",
        ),
        (
            "world/mod.rs",
            "//! world\npub fn f() { super::load::rules::g(); super::other::h(); }\n",
        ),
    ];
    for (name, text) in files {
        let path = scratch.join(name);
        std::fs::create_dir_all(path.parent().unwrap_or(&scratch)).unwrap_or_default();
        std::fs::write(&path, text).unwrap_or_default();
    }
    assert_eq!(
        import_cycles(&scratch),
        vec![vec![
            "load/rules.rs".to_string(),
            "world/mod.rs".to_string()
        ]],
        "the checker must see world -> load::rules -> world, and not other.rs's comment"
    );
    let _ = std::fs::remove_dir_all(&scratch);

    let root = workspace_root();
    let crates = [
        "sim/engine/src",
        "sim/model/src",
        "reports/src",
        "sim/cli/src",
        "sim/testkit/src",
    ];
    let mut all = Vec::new();
    for krate in crates {
        for cycle in import_cycles(&root.join(krate)) {
            all.push(format!("{krate}: {}", cycle.join(" <-> ")));
        }
    }
    assert!(
        all.is_empty(),
        "import cycles between source files: {all:#?}"
    );
}
