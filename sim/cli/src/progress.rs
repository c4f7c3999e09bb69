//! Progress on standard error while `run`, `check` and `suggest` work, read
//! from the engine's note (`privsim::progress`): a line that redraws itself
//! on a terminal; in logs (CI), a plain line every 15 seconds once a run has
//! taken that long, so a long job is never silent; nothing with
//! `PRIVSIM_PROGRESS=never`. `PRIVSIM_PROGRESS=lines` prints plain lines on a
//! terminal too, and one at each new phase.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use privsim::progress::{self, Note};

/// How often a plain line is printed.
const EVERY: Duration = Duration::from_secs(15);

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Not at all.
    Never,
    /// A line that redraws itself (a terminal).
    Live,
    /// A plain line every [`EVERY`] once the run has taken that long.
    Quiet,
    /// A plain line at each new scenario or phase, and every [`EVERY`].
    Lines,
}

fn mode() -> Mode {
    match std::env::var("PRIVSIM_PROGRESS").as_deref() {
        Ok("never") => Mode::Never,
        Ok("lines") => Mode::Lines,
        Ok(other) if other != "auto" && !other.is_empty() => {
            eprintln!(
                "warning: `PRIVSIM_PROGRESS={}` is not `auto`, `lines` or `never`; using `auto`",
                privsim_reports::escape_control(other)
            );
            auto()
        }
        _ => auto(),
    }
}

fn auto() -> Mode {
    if std::io::stderr().is_terminal() {
        Mode::Live
    } else {
        Mode::Quiet
    }
}

/// Shows progress until dropped.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    live: bool,
}

impl Ticker {
    /// Starts showing the progress of `command`.
    pub fn start(command: &'static str) -> Self {
        let mode = mode();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = (mode != Mode::Never).then(|| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || tick(command, mode, &stop))
        });
        Self {
            stop,
            thread,
            live: mode == Mode::Live,
        }
    }

    /// Whether progress redraws a terminal line (other messages about
    /// progress would garble it).
    pub fn is_live(&self) -> bool {
        self.live
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn tick(command: &str, mode: Mode, stop: &AtomicBool) {
    let started = Instant::now();
    let mut last_line = started;
    let mut last_note: Option<(String, progress::Phase)> = None;
    let bar = (mode == Mode::Live).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar
    });
    if mode == Mode::Lines {
        let _ = writeln!(std::io::stderr(), "privsim {command}: starting");
    }
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let note = progress::note();
        let line = describe(command, &note, started.elapsed());
        match &bar {
            Some(bar) => {
                bar.set_message(line);
                bar.tick();
            }
            None => {
                let new_phase = mode == Mode::Lines
                    && last_note.as_ref() != Some(&(note.scenario.clone(), note.phase));
                if new_phase || last_line.elapsed() >= EVERY {
                    last_line = Instant::now();
                    last_note = Some((note.scenario.clone(), note.phase));
                    // A closed standard error is not worth failing the run.
                    let _ = writeln!(std::io::stderr(), "{line}");
                }
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if mode == Mode::Lines {
        let _ = writeln!(
            std::io::stderr(),
            "privsim {command}: done ({})",
            minutes(started.elapsed())
        );
    }
}

/// `privsim run: scenarios/big.toml: replaying 4,000/10,000 steps (1m 05s)`.
fn describe(command: &str, note: &Note, elapsed: Duration) -> String {
    let mut line = format!("privsim {command}: ");
    if !note.scenario.is_empty() {
        line.push_str(&privsim_reports::escape_control(&note.scenario));
        line.push_str(": ");
    }
    line.push_str(note.phase.word());
    if let Some(unit) = note.phase.unit() {
        let done = grouped(note.done);
        if note.total > 0 {
            line.push_str(&format!(" {done}/{} {unit}", grouped(note.total)));
        } else if note.done > 0 {
            line.push_str(&format!(", {done} {unit}"));
        }
    }
    line.push_str(&format!(" ({})", minutes(elapsed)));
    line
}

/// `1m 05s`.
fn minutes(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    format!("{}m {:02}s", seconds / 60, seconds % 60)
}

/// `12345` → `12,345`.
fn grouped(number: u64) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
