//! `--watch` for `run` and `fuzz`: run once, then wait for file changes and
//! run again only the scenarios that read a changed file (the scenario, its
//! shared world, policies, schema, entities or links: `Scenario::inputs`),
//! plus scenario files that appear in a watched folder.
//!
//! File events come from the `notify` crate (inotify, FSEvents, kqueue or
//! ReadDirectoryChangesW behind one API). Folders are watched, not files, so
//! an editor that saves by writing a new file and renaming it over the old
//! one is still seen. A burst of events (one save is often several) is
//! gathered until the files are quiet for [`SETTLE`] (or for at most
//! [`GATHER_AT_MOST`]) before running again.
//!
//! Which scenarios a change affects is [`affected`], a pure function of the
//! scenarios found, what each read when it last loaded, and the changed
//! paths; the loop around it only gathers events and prints.
//!
//! The watch ends on Ctrl-C or SIGTERM with exit code 130, like an
//! interrupted `fuzz`; a second Ctrl-C during a long run exits at once. It
//! never exits 0 or 1: each run prints its own verdict.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use privsim::LoadOptions;
use privsim::load as scenario;

use crate::cli::{Outcome, report_error};

/// How long the files must be quiet before a burst of events is acted on.
const SETTLE: Duration = Duration::from_millis(300);

/// The longest a burst is gathered: a folder that is never quiet (a build
/// writing under a watched folder) must not hold a run back for ever.
const GATHER_AT_MOST: Duration = Duration::from_secs(3);

/// What the loop waits for.
enum Message {
    /// These paths were created, written, renamed or removed.
    Changed(Vec<PathBuf>),
    /// The watcher lost events (a full queue): anything may have changed.
    Rescan,
    /// The watcher reported a problem.
    Trouble(String),
    /// Ctrl-C or SIGTERM.
    Stop,
}

/// A scenario file as found, and the path it was found under (its run root,
/// [`LoadOptions::under`]).
pub type Job = (PathBuf, PathBuf);

/// What a scenario read when it last loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reads {
    /// These canonical paths (files, and the folders of `.cedar` policies it
    /// names).
    Known(BTreeSet<PathBuf>),
    /// It did not load, so what it reads is not known: a change to any file
    /// of a kind scenarios read ([`INPUT_KINDS`]) may fix it, and runs it
    /// again (an editor's swap and backup files do not).
    Unknown,
}

/// The extensions of the files a scenario reads: scenarios and shared
/// worlds, policies, schemas, entities and links.
const INPUT_KINDS: [&str; 4] = ["toml", "cedar", "cedarschema", "json"];

impl Reads {
    /// Whether a change to the canonical path `changed` changes what the
    /// scenario reads: one of its files, or a `.cedar` file in one of its
    /// policy folders (a new policy file there is read too).
    fn see(&self, changed: &Path) -> bool {
        match self {
            Self::Unknown => changed
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| INPUT_KINDS.contains(&e)),
            Self::Known(read) => {
                read.contains(changed)
                    || (changed.extension().is_some_and(|e| e == "cedar")
                        && changed
                            .ancestors()
                            .skip(1)
                            .any(|folder| read.contains(folder)))
            }
        }
    }
}

/// The scenarios in `now` that must run again after `changed` (canonical
/// paths), in the order found: those not in `before` (new scenario files),
/// and those whose [`Reads`] see a changed path. With `everything` (events
/// were lost), all of them.
pub fn affected(
    now: &[Job],
    before: &BTreeMap<PathBuf, Reads>,
    changed: &BTreeSet<PathBuf>,
    everything: bool,
) -> Vec<Job> {
    now.iter()
        .filter(|(file, _)| {
            everything
                || before
                    .get(file)
                    .is_none_or(|reads| changed.iter().any(|path| reads.see(path)))
        })
        .cloned()
        .collect()
}

/// Refuses what `--watch` cannot do, before anything runs: writing a file
/// (`--output`, `--report-dir`: each run would overwrite it with only the
/// scenarios it ran again), and reading standard input or a path that does
/// not exist (there is nothing to watch).
pub fn refuse(
    paths: &[PathBuf],
    output: Option<&Path>,
    report_dir: Option<&Path>,
) -> Result<(), Outcome> {
    for (flag, given) in [("--output", output), ("--report-dir", report_dir)] {
        if given.is_some() {
            eprintln!(
                "error: `--watch` cannot be combined with `{flag}`\n  help: `--watch` prints each run as it happens; write files with a run without `--watch`"
            );
            return Err(Outcome::BadInput);
        }
    }
    for path in paths {
        if path.as_os_str() == "-" {
            eprintln!(
                "error: `--watch` cannot watch standard input (`-`)\n  help: give scenario files or folders"
            );
            return Err(Outcome::BadInput);
        }
        if !path.exists() {
            eprintln!(
                "error: cannot watch `{}`: it does not exist\n  help: give scenario files or folders that exist",
                path.display()
            );
            return Err(Outcome::BadInput);
        }
    }
    Ok(())
}

/// Runs `rerun` on every scenario under `paths`, then again on the affected
/// ones after each change, until Ctrl-C or SIGTERM (exit code 130).
/// `skip_repros`: pass over repro files in folders, as `fuzz` does. `stop` is
/// set on the first Ctrl-C, so a search under way ends early.
pub fn watch(
    paths: &[PathBuf],
    options: &LoadOptions,
    skip_repros: bool,
    stop: Arc<AtomicBool>,
    mut rerun: impl FnMut(&[Job]) -> Outcome,
) -> Outcome {
    if let Err(outcome) = refuse(paths, None, None) {
        return outcome;
    }
    let (sender, receiver) = mpsc::channel::<Message>();
    let interrupt = sender.clone();
    let presses = AtomicUsize::new(0);
    if let Err(error) = ctrlc::set_handler(move || {
        stop.store(true, Ordering::Relaxed);
        // The second press does not wait for a long run to end.
        if presses.fetch_add(1, Ordering::Relaxed) > 0 {
            eprintln!("watch: stopped");
            std::process::exit(Outcome::Interrupted as i32);
        }
        let _ = interrupt.send(Message::Stop);
    }) {
        eprintln!("error: cannot catch Ctrl-C for `--watch`: {error}");
        return Outcome::BadInput;
    }
    let events = sender;
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let message = match event {
            Ok(event) if event.need_rescan() => Message::Rescan,
            Ok(event) if is_change(event.kind) => Message::Changed(event.paths),
            Ok(_) => return,
            Err(error) => Message::Trouble(error.to_string()),
        };
        let _ = events.send(message);
    });
    let mut watcher = match watcher {
        Ok(watcher) => watcher,
        Err(error) => {
            eprintln!("error: cannot watch files: {error}");
            return Outcome::BadInput;
        }
    };
    let overridden = options.policies.as_deref().map(canonical);
    let mut watched = BTreeSet::new();
    // Watching starts before the first run, so an edit made while it runs
    // is not missed.
    watch_folders(
        &mut watcher,
        paths,
        overridden.as_deref(),
        &BTreeMap::new(),
        &mut watched,
    );

    let mut jobs = discover(paths, skip_repros, true);
    say_verdict(rerun(&jobs));
    let mut reads = reads_of(&jobs, options, overridden.as_deref());
    watch_folders(
        &mut watcher,
        paths,
        overridden.as_deref(),
        &reads,
        &mut watched,
    );
    eprintln!("watch: waiting for changes (Ctrl-C stops)");

    while let Ok(message) = receiver.recv() {
        let mut changed = BTreeSet::new();
        let mut everything = false;
        let mut first = Some(message);
        let gathering = Instant::now();
        // Gather the burst: this message and every one until SETTLE passes
        // without another (or GATHER_AT_MOST in all).
        loop {
            let message = match first.take() {
                Some(message) => message,
                None => {
                    let left = GATHER_AT_MOST.saturating_sub(gathering.elapsed());
                    match receiver.recv_timeout(SETTLE.min(left)) {
                        Ok(message) => message,
                        Err(_) => break,
                    }
                }
            };
            match message {
                Message::Changed(paths) => changed.extend(paths.iter().map(|p| canonical(p))),
                Message::Rescan => everything = true,
                Message::Trouble(trouble) => {
                    eprintln!("warning: watching files: {trouble}; a change may have been missed")
                }
                Message::Stop => return stopped(),
            }
        }
        if changed.is_empty() && !everything {
            continue;
        }
        let now = discover(paths, skip_repros, false);
        let affected = affected(&now, &reads, &changed, everything);
        for (file, _) in &jobs {
            if !now.iter().any(|(f, _)| f == file) {
                eprintln!("watch: `{}` is gone; it is no longer run", file.display());
            }
        }
        jobs = now;
        reads.retain(|file, _| jobs.iter().any(|(f, _)| f == file));
        if affected.is_empty() {
            continue;
        }
        print_header(&changed, everything, &affected, &reads);
        say_verdict(rerun(&affected));
        reads.extend(reads_of(&affected, options, overridden.as_deref()));
        watch_folders(
            &mut watcher,
            paths,
            overridden.as_deref(),
            &reads,
            &mut watched,
        );
        eprintln!("watch: waiting for changes (Ctrl-C stops)");
    }
    stopped()
}

/// Whether an event kind is a change to a file's content, name or
/// existence (not a read: running the scenarios reads them).
fn is_change(kind: EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Other => false,
        EventKind::Any | EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
    }
}

/// Says what the run just ended would have exited with without `--watch`:
/// its standard output may read "ok" for the scenarios that loaded while one
/// did not.
fn say_verdict(outcome: Outcome) {
    let verdict = match outcome {
        Outcome::Ok => "ok",
        Outcome::Failed => "failed",
        Outcome::BadInput => "bad input (see the errors above)",
        Outcome::Interrupted => "interrupted",
    };
    eprintln!(
        "watch: this run: {verdict} (exit code {} without `--watch`)",
        outcome as i32
    );
}

/// The outcome of a run of several parts: bad input over a failure over an
/// interruption over ok.
pub fn worse(a: Outcome, b: Outcome) -> Outcome {
    let rank = |o: Outcome| match o {
        Outcome::Ok => 0,
        Outcome::Interrupted => 1,
        Outcome::Failed => 2,
        Outcome::BadInput => 3,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// The end of the watch: Ctrl-C or SIGTERM.
fn stopped() -> Outcome {
    eprintln!("watch: stopped");
    Outcome::Interrupted
}

/// Says what changed and which scenarios run again.
fn print_header(
    changed: &BTreeSet<PathBuf>,
    everything: bool,
    affected: &[Job],
    reads: &BTreeMap<PathBuf, Reads>,
) {
    let cause = if everything {
        "file events were lost, so anything may have changed".to_string()
    } else {
        // The changed paths that made a scenario run again; a new scenario
        // file or one that did not load may not be in any read set.
        let seen: Vec<&PathBuf> = changed
            .iter()
            .filter(|path| {
                affected.iter().any(|(file, _)| {
                    reads
                        .get(file)
                        .is_some_and(|r| r != &Reads::Unknown && r.see(path))
                })
            })
            .collect();
        let shown: Vec<&PathBuf> = if seen.is_empty() {
            changed.iter().collect()
        } else {
            seen
        };
        let names: Vec<String> = shown
            .iter()
            .map(|p| format!("`{}`", shown_path(p)))
            .collect();
        format!("changed {}", names.join(", "))
    };
    let names: Vec<String> = affected
        .iter()
        .map(|(file, _)| format!("`{}`", file.display()))
        .collect();
    eprintln!(
        "\nwatch: {cause}; running {} scenario(s) again: {}",
        affected.len(),
        names.join(", ")
    );
}

/// A canonical path shown relative to the current folder when it is inside it.
fn shown_path(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|here| here.canonicalize().ok())
        .and_then(|here| path.strip_prefix(here).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// The scenario files under `paths`, each with the path it was found under.
/// A path that finds nothing (a folder without scenarios yet) is watched for
/// new ones; `say` prints why it found nothing (on the first run).
fn discover(paths: &[PathBuf], skip_repros: bool, say: bool) -> Vec<Job> {
    let mut jobs = Vec::new();
    for path in paths {
        match scenario::discover(path) {
            Ok(found) => jobs.extend(
                found
                    .into_iter()
                    .filter(|f| {
                        !(skip_repros && path.is_dir() && privsim::search::repro::is_repro(f))
                    })
                    .map(|f| (f, path.clone())),
            ),
            Err(error) if say => {
                report_error(error);
            }
            Err(_) => {}
        }
    }
    jobs
}

/// What each scenario reads, keyed by the scenario file as found; the
/// `--policies` override is read by every scenario that loads.
fn reads_of(
    jobs: &[Job],
    options: &LoadOptions,
    overridden: Option<&Path>,
) -> BTreeMap<PathBuf, Reads> {
    jobs.iter()
        .map(|(file, root)| {
            let reads = match scenario::load(file, &options.under(root)) {
                Ok(loaded) => {
                    let mut read = loaded.inputs;
                    read.insert(canonical(file));
                    read.extend(overridden.map(Path::to_path_buf));
                    Reads::Known(read)
                }
                Err(_) => Reads::Unknown,
            };
            (file.clone(), reads)
        })
        .collect()
}

/// Watches the given paths (folders recursively, a file's folder), the
/// `--policies` override, and the folder of every input outside them, each
/// once. A folder that cannot be watched is a warning: its changes are not
/// seen, and the user is told so.
fn watch_folders(
    watcher: &mut impl Watcher,
    paths: &[PathBuf],
    overridden: Option<&Path>,
    reads: &BTreeMap<PathBuf, Reads>,
    watched: &mut BTreeSet<PathBuf>,
) {
    let mut wanted: Vec<(PathBuf, RecursiveMode)> = Vec::new();
    let mut add = |path: &Path| {
        if path.is_dir() {
            wanted.push((canonical(path), RecursiveMode::Recursive));
        } else if let Some(folder) = canonical(path).parent() {
            wanted.push((folder.to_path_buf(), RecursiveMode::NonRecursive));
        }
    };
    for path in paths {
        add(path);
    }
    if let Some(path) = overridden {
        add(path);
    }
    for read in reads.values() {
        if let Reads::Known(read) = read {
            for input in read {
                add(input);
            }
        }
    }
    let mut covered: Vec<PathBuf> = Vec::new();
    // Recursive watches first, so a folder inside one is not watched twice.
    wanted.sort_by_key(|(_, mode)| *mode != RecursiveMode::Recursive);
    for (folder, mode) in wanted {
        if watched.contains(&folder) || covered.iter().any(|c| folder.starts_with(c)) {
            continue;
        }
        if mode == RecursiveMode::Recursive {
            covered.push(folder.clone());
        }
        if watched.insert(folder.clone())
            && let Err(error) = watcher.watch(&folder, mode)
        {
            eprintln!(
                "warning: cannot watch `{}`: {error}; changes there are not seen",
                folder.display()
            );
        }
    }
}

/// The canonical form of a path; for a removed file, its folder's canonical
/// form with the name, so it still matches what scenarios read.
fn canonical(path: &Path) -> PathBuf {
    if let Ok(canonical) = path.canonicalize() {
        return canonical;
    }
    match (
        path.parent().and_then(|p| p.canonicalize().ok()),
        path.file_name(),
    ) {
        (Some(folder), Some(name)) => folder.join(name),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    //! [`affected`]: changed paths to the scenarios that run again.

    use super::*;

    fn job(file: &str) -> Job {
        (PathBuf::from(file), PathBuf::from("scenarios"))
    }

    fn known(paths: &[&str]) -> Reads {
        Reads::Known(paths.iter().map(PathBuf::from).collect())
    }

    fn changed(paths: &[&str]) -> BTreeSet<PathBuf> {
        paths.iter().map(PathBuf::from).collect()
    }

    fn names(jobs: &[Job]) -> Vec<&str> {
        jobs.iter().filter_map(|(file, _)| file.to_str()).collect()
    }

    /// Two scenarios sharing a world file, a policy folder and a schema,
    /// each with its own policy file, and a third that did not load.
    fn world() -> (Vec<Job>, BTreeMap<PathBuf, Reads>) {
        let jobs = vec![
            job("scenarios/a.toml"),
            job("scenarios/b.toml"),
            job("scenarios/broken.toml"),
        ];
        let reads = BTreeMap::from([
            (
                PathBuf::from("scenarios/a.toml"),
                known(&[
                    "/w/a.toml",
                    "/w/world.toml",
                    "/w/a.cedar",
                    "/w/shared",
                    "/w/schema.cedarschema",
                ]),
            ),
            (
                PathBuf::from("scenarios/b.toml"),
                known(&["/w/b.toml", "/w/world.toml", "/w/b.cedar", "/w/shared"]),
            ),
            (PathBuf::from("scenarios/broken.toml"), Reads::Unknown),
        ]);
        (jobs, reads)
    }

    #[test]
    fn a_shared_world_file_runs_every_scenario_that_reads_it() {
        let (jobs, reads) = world();
        let again = affected(&jobs, &reads, &changed(&["/w/world.toml"]), false);
        assert_eq!(
            names(&again),
            [
                "scenarios/a.toml",
                "scenarios/b.toml",
                "scenarios/broken.toml"
            ]
        );
    }

    #[test]
    fn a_file_one_scenario_reads_runs_only_that_one_and_those_that_did_not_load() {
        let (jobs, reads) = world();
        let again = affected(&jobs, &reads, &changed(&["/w/a.cedar"]), false);
        assert_eq!(names(&again), ["scenarios/a.toml", "scenarios/broken.toml"]);
        let again = affected(&jobs, &reads, &changed(&["/w/b.toml"]), false);
        assert_eq!(names(&again), ["scenarios/b.toml", "scenarios/broken.toml"]);
    }

    #[test]
    fn a_path_outside_every_scenario_runs_none_that_loaded() {
        let (jobs, mut reads) = world();
        let outside = changed(&["/w/notes.txt", "/elsewhere/a.toml", "/w/.a.toml.swp"]);
        // `/elsewhere/a.toml` is a scenario-like file: the one that did not
        // load may read it.
        assert_eq!(
            names(&affected(&jobs, &reads, &outside, false)),
            ["scenarios/broken.toml"]
        );
        reads.insert(
            PathBuf::from("scenarios/broken.toml"),
            known(&["/w/broken.toml"]),
        );
        assert!(affected(&jobs, &reads, &outside, false).is_empty());
    }

    #[test]
    fn a_scenario_that_did_not_load_ignores_swap_and_backup_files() {
        let (jobs, reads) = world();
        let junk = changed(&[
            "/w/.broken.toml.swp",
            "/w/broken.toml~",
            "/w/4913",
            "/w/notes.txt",
        ]);
        assert!(affected(&jobs, &reads, &junk, false).is_empty());
    }

    #[test]
    fn a_cedar_file_in_a_policy_folder_counts_and_other_files_there_do_not() {
        let (jobs, mut reads) = world();
        reads.remove(&PathBuf::from("scenarios/broken.toml"));
        let jobs = &jobs[..2];
        // A new policy file in the folder both name, even nested.
        let again = affected(
            jobs,
            &reads,
            &changed(&["/w/shared/nested/new.cedar"]),
            false,
        );
        assert_eq!(names(&again), ["scenarios/a.toml", "scenarios/b.toml"]);
        // An editor's backup file beside them is not a policy.
        assert!(affected(jobs, &reads, &changed(&["/w/shared/new.cedar~"]), false).is_empty());
        // A `.cedar` file next to the folder, not in it.
        assert!(affected(jobs, &reads, &changed(&["/w/sharedx.cedar"]), false).is_empty());
    }

    #[test]
    fn a_new_scenario_file_runs_and_lost_events_run_everything() {
        let (mut jobs, reads) = world();
        jobs.push(job("scenarios/new.toml"));
        let again = affected(&jobs, &reads, &changed(&["/w/new.toml"]), false);
        assert_eq!(
            names(&again),
            ["scenarios/broken.toml", "scenarios/new.toml"]
        );
        let again = affected(&jobs, &reads, &BTreeSet::new(), true);
        assert_eq!(again.len(), 4);
    }
}
