//! Where a long run is, for a progress display: the engine notes the
//! scenario, the phase and a count as it goes; the command line reads the
//! note from another thread and shows it.
//!
//! **Architecture Invariant:** the note is write-only for the engine. Nothing
//! in the pipeline reads it, so it cannot change a result; it is a few relaxed
//! atomics (and a lock taken once per scenario), so noting costs nothing
//! measurable. It is process-wide: when two runs share a process (tests), the
//! display shows whichever wrote last, which is all a display needs.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// What the engine is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Nothing noted yet, or between scenarios.
    Idle,
    /// Reading and resolving a scenario (the count is its steps).
    Loading,
    /// Reading a request log streamed (the count is lines read).
    Reading,
    /// Replaying the steps through Cedar (the count is steps).
    Replaying,
    /// Computing held sets (the count is principals × evaluation instants).
    Accounting,
    /// Right-sizing policies (no count).
    Suggesting,
    /// Searching for escalations (the count is moves).
    Searching,
    /// Asking the solver (the count is queries).
    Proving,
    /// Comparing baseline and candidate (no count).
    Comparing,
}

impl Phase {
    /// The phase as a word for a progress line.
    pub fn word(self) -> &'static str {
        match self {
            Phase::Idle => "starting",
            Phase::Loading => "loading",
            Phase::Reading => "reading the log",
            Phase::Replaying => "replaying",
            Phase::Accounting => "computing held sets",
            Phase::Suggesting => "right-sizing",
            Phase::Searching => "searching",
            Phase::Proving => "proving",
            Phase::Comparing => "comparing",
        }
    }

    /// What the count counts, when the phase has one.
    pub fn unit(self) -> Option<&'static str> {
        match self {
            Phase::Loading | Phase::Replaying => Some("steps"),
            Phase::Reading => Some("lines"),
            Phase::Accounting => Some("instants"),
            Phase::Searching => Some("moves"),
            Phase::Proving => Some("queries"),
            Phase::Idle | Phase::Suggesting | Phase::Comparing => None,
        }
    }

    const ALL: [Phase; 9] = [
        Phase::Idle,
        Phase::Loading,
        Phase::Reading,
        Phase::Replaying,
        Phase::Accounting,
        Phase::Suggesting,
        Phase::Searching,
        Phase::Proving,
        Phase::Comparing,
    ];

    fn code(self) -> u8 {
        Phase::ALL
            .iter()
            .position(|phase| *phase == self)
            .and_then(|position| u8::try_from(position).ok())
            .unwrap_or(0)
    }

    fn of_code(code: u8) -> Phase {
        Phase::ALL
            .get(usize::from(code))
            .copied()
            .unwrap_or(Phase::Idle)
    }
}

thread_local! {
    /// Whether this thread's notes are left out ([`quietly`]).
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `work` with this thread's notes left out: for work done beside
/// the work the display follows (the scripted run `privsim fuzz` evaluates
/// while its workers search), whose counts would otherwise be shown as
/// the other's.
pub fn quietly<T>(work: impl FnOnce() -> T) -> T {
    struct Loud;
    impl Drop for Loud {
        fn drop(&mut self) {
            QUIET.with(|quiet| quiet.set(false));
        }
    }
    QUIET.with(|quiet| quiet.set(true));
    let _loud = Loud;
    work()
}

fn quiet() -> bool {
    QUIET.with(std::cell::Cell::get)
}

static SCENARIO: Mutex<String> = Mutex::new(String::new());
static PHASE: AtomicU8 = AtomicU8::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);
static TOTAL: AtomicU64 = AtomicU64::new(0);

/// Notes the scenario file now being worked on.
pub fn scenario(file: &str) {
    if quiet() {
        return;
    }
    if let Ok(mut current) = SCENARIO.lock() {
        current.clear();
        current.push_str(file);
    }
    phase(Phase::Idle, 0);
}

/// Notes a new phase with `total` things to do (0 when it has no count).
pub fn phase(phase: Phase, total: usize) {
    if quiet() {
        return;
    }
    DONE.store(0, Ordering::Relaxed);
    TOTAL.store(u64::try_from(total).unwrap_or(u64::MAX), Ordering::Relaxed);
    PHASE.store(phase.code(), Ordering::Relaxed);
}

/// Notes one more thing of the phase done.
pub fn advance() {
    if quiet() {
        return;
    }
    DONE.fetch_add(1, Ordering::Relaxed);
}

/// Notes how many things of the phase are done.
pub fn done(count: u64) {
    if quiet() {
        return;
    }
    DONE.store(count, Ordering::Relaxed);
}

/// What was last noted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Note {
    /// The scenario file (empty before the first).
    pub scenario: String,
    /// The phase.
    pub phase: Phase,
    /// How many things of the phase are done.
    pub done: u64,
    /// How many there are (0: no count).
    pub total: u64,
}

/// Reads what was last noted.
pub fn note() -> Note {
    let scenario = SCENARIO
        .lock()
        .map(|current| current.clone())
        .unwrap_or_default();
    Note {
        scenario,
        phase: Phase::of_code(PHASE.load(Ordering::Relaxed)),
        done: DONE.load(Ordering::Relaxed),
        total: TOTAL.load(Ordering::Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_notes_are_left_out_and_loud_ones_kept() {
        // Other tests note too (the note is process-wide, and no lib test
        // notes `Proving`): a quiet note that got through would be read
        // back at once.
        phase(Phase::Comparing, 7);
        quietly(|| {
            assert!(quiet());
            phase(Phase::Proving, 3);
            done(2);
            advance();
        });
        let noted = note();
        assert_ne!(noted.phase, Phase::Proving, "{noted:?}");
        assert_ne!((noted.done, noted.total), (3, 3), "{noted:?}");
        assert!(!quiet(), "loud again after `quietly`");
        let panicked = std::panic::catch_unwind(|| quietly(|| panic!("inside")));
        assert!(panicked.is_err());
        assert!(!quiet(), "loud again after a panic inside `quietly`");
    }

    #[test]
    fn every_phase_reads_back_as_itself() {
        for phase in Phase::ALL {
            assert_eq!(Phase::of_code(phase.code()), phase);
        }
    }
}
