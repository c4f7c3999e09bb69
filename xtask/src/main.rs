//! Project automation: `cargo xtask <task>`. Kept free of dependencies so it
//! builds in seconds.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("ci") => run_ci(),
        Some("test") => run_tests(std::env::args().skip(2).collect()),
        Some("render-html") => render_html(),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\ntasks:\n  test         install the cvc5 solver when it is missing (the proofs need it), then\n               `cargo test --workspace` (extra arguments are passed on)\n  ci           run every check CI runs (fmt, clippy, tests, bench smoke, docs, examples)\n  render-html  write every example's reports to target/reports/ and render each HTML report\n               to a PNG in headless Chromium; validate the JUnit with xmllint (not part of CI)"
            );
            ExitCode::from(2)
        }
    }
}

/// Runs `.ci/run`, the one list of everything CI checks.
fn run_ci() -> ExitCode {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    match Command::new("bash").arg(root.join(".ci/run")).status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("xtask: CI checks failed ({status})");
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("xtask: cannot start bash: {error}");
            ExitCode::from(2)
        }
    }
}

/// The shell line that installs Debian's `cvc5` when neither `$CVC5` nor `PATH`
/// has it: with `sudo -n` when that works without a password, else directly
/// (CI images usually run as root). `.ci/run` runs the same line.
const INSTALL_CVC5: &str = "{ [ -n \"${CVC5:-}\" ] && [ -x \"$CVC5\" ]; } || command -v cvc5 >/dev/null || { SUDO=; sudo -n true 2>/dev/null && SUDO=sudo; $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq cvc5; }";

/// The README's test command: makes sure the solver the proof tests need is
/// there, then runs the whole test suite. The proof tests fail (they never
/// skip) without a solver, so an installation that fails is reported here.
fn run_tests(extra: Vec<String>) -> ExitCode {
    let installed = Command::new("bash")
        .args(["-c", INSTALL_CVC5])
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        eprintln!(
            "xtask: could not install cvc5 (the proof tests need it): run `apt-get install -y cvc5` as root, or set $CVC5 to a cvc5 executable"
        );
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    match Command::new(cargo)
        .args(["test", "--workspace"])
        .args(&extra)
        .current_dir(root())
        .status()
    {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(error) => {
            eprintln!("xtask: cannot start cargo: {error}");
            ExitCode::from(2)
        }
    }
}

/// The repository root.
fn root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize().unwrap_or(root)
}

/// Writes the reports of every example scenario (and of the whole folder) into
/// `target/reports/<name>/`, renders each `report.html` to `report.png` with
/// headless Chromium so a person can look at it, and validates each
/// `junit.xml` against `reports/schemas/JUnit.xsd` with xmllint. Installs
/// Debian's `chromium` and `libxml2-utils` when they are missing and apt-get
/// can (as root); otherwise says what to install.
fn render_html() -> ExitCode {
    let root = root();
    let out = root.join("target/reports");
    let mut scenarios = Vec::new();
    collect_scenarios(&root.join("scenarios"), &mut scenarios);
    scenarios.sort();
    if scenarios.is_empty() {
        eprintln!("xtask: no scenarios under scenarios/");
        return ExitCode::from(2);
    }
    let build = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--package", "privsim"])
        .current_dir(&root)
        .status();
    if !matches!(build, Ok(status) if status.success()) {
        eprintln!("xtask: cannot build privsim");
        return ExitCode::from(2);
    }
    let privsim = root.join("target/debug/privsim");
    let mut jobs: Vec<(String, PathBuf)> = scenarios
        .iter()
        .map(|scenario| {
            let relative = scenario.strip_prefix(&root).unwrap_or(scenario);
            let name = relative
                .with_extension("")
                .components()
                .skip(1)
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("-");
            (name, relative.to_path_buf())
        })
        .collect();
    jobs.push(("all".to_string(), PathBuf::from("scenarios")));
    let mut folders = Vec::new();
    for (name, input) in &jobs {
        let folder = out.join(name);
        let _ = std::fs::remove_dir_all(&folder);
        let status = Command::new(&privsim)
            .arg("run")
            .arg(input)
            .arg("--report-dir")
            .arg(&folder)
            .current_dir(&root)
            .stdout(std::process::Stdio::null())
            .status();
        // Exit 1 (a failed expectation) still writes the reports.
        if !matches!(status, Ok(s) if s.code() == Some(0) || s.code() == Some(1)) {
            eprintln!(
                "xtask: `privsim run {} --report-dir` failed",
                input.display()
            );
            return ExitCode::from(1);
        }
        folders.push(folder);
    }
    println!("reports written to {}", out.display());

    let mut failed = false;
    if ensure_tool("xmllint", "libxml2-utils") {
        for folder in &folders {
            let ok = Command::new("xmllint")
                .args(["--noout", "--schema"])
                .arg(root.join("reports/schemas/JUnit.xsd"))
                .arg(folder.join("junit.xml"))
                .stderr(std::process::Stdio::piped())
                .output()
                .is_ok_and(|o| o.status.success());
            if !ok {
                eprintln!(
                    "xtask: {} does not validate against JUnit.xsd",
                    folder.join("junit.xml").display()
                );
                failed = true;
            }
        }
        println!("junit.xml: every file validates against reports/schemas/JUnit.xsd");
    }
    if !ensure_tool("chromium", "chromium") {
        return ExitCode::from(2);
    }
    for folder in &folders {
        let html = folder.join("report.html");
        let png = folder.join("report.png");
        let height = page_height(&std::fs::read_to_string(&html).unwrap_or_default());
        let status = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--deny-permission-prompts",
            ])
            .arg(format!("--window-size=1280,{height}"))
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!(
                "file://{}",
                html.canonicalize().unwrap_or(html.clone()).display()
            ))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        if matches!(status, Ok(s) if s.success()) && png.exists() {
            println!("{}", png.display());
        } else {
            eprintln!("xtask: chromium could not render {}", html.display());
            failed = true;
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Every `*.toml` under `folder`.
fn collect_scenarios(folder: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_scenarios(&path, found);
        } else if path.extension().is_some_and(|e| e == "toml") && !is_shared_world(&path) {
            found.push(path);
        }
    }
}

/// A shared world (`world.toml`, `NAME.world.toml`) is read through the
/// scenarios that name it, not run on its own (privsim's own rule, repeated
/// here to keep xtask's dependencies few).
fn is_shared_world(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name == "world.toml" || name.ends_with(".world.toml"))
}

/// A screenshot height that fits the page: Chromium's headless screenshot
/// captures the window, so the window must be as tall as the page. Estimated
/// from the page's rows, paragraphs and SVG heights (too tall only adds white).
fn page_height(html: &str) -> usize {
    let count = |needle: &str| html.matches(needle).count();
    let svg: usize = html
        .match_indices("<svg width=")
        .filter_map(|(at, _)| {
            let rest = &html[at..];
            let start = rest.find("height=\"")? + 8;
            rest[start..].split('"').next()?.parse::<usize>().ok()
        })
        .sum();
    let estimate = 300
        + 36 * count("<tr")
        + 30 * (count("<p") + count("<li") + count("<summary"))
        + 60 * (count("<h2") + count("<h3") + count("<h4"))
        + svg
        + 80 * count("<figcaption");
    // 16,000 px is as tall as image viewers (and ImageMagick's default policy) accept.
    estimate.clamp(800, 16_000)
}

/// Whether `tool` is on the PATH, installing Debian's `package` when it is
/// not and apt-get can (the user is root).
fn ensure_tool(tool: &str, package: &str) -> bool {
    let present = || {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if present() {
        return true;
    }
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let has_apt = Command::new("sh")
        .args(["-c", "command -v apt-get"])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if root_user && has_apt {
        println!("xtask: installing Debian's `{package}` for `{tool}`");
        let ok = Command::new("apt-get")
            .arg("update")
            .status()
            .is_ok_and(|s| s.success())
            && Command::new("apt-get")
                .args(["install", "-y", package])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .is_ok_and(|s| s.success());
        if ok && present() {
            return true;
        }
    }
    eprintln!(
        "xtask: `{tool}` is not installed; install Debian's `{package}` (`sudo apt-get install {package}`) and run `cargo xtask render-html` again"
    );
    false
}
