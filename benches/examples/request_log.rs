//! Writes a generated request log and its world for the 1,000,000-line runs
//! of `privsim import log` in BENCHMARKS.md (the log is far too big to
//! commit): `cargo run --release -p privsim-benches --example request_log --
//! VARIETY LINES FOLDER`, VARIETY one of `mixed`, `repeating`, `distinct`
//! (`privsim_testkit::request_log::Variety`), seed 42 over 30 days as in
//! `benches/benches/import_log.rs`. FOLDER gets `log.jsonl`,
//! `policies.cedar`, `schema.cedarschema` and `entities.json`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use privsim_testkit::request_log::{self as generated, Variety};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [variety, lines, folder] = args.as_slice() else {
        eprintln!("usage: request_log mixed|repeating|distinct LINES FOLDER");
        return ExitCode::from(2);
    };
    let variety = match variety.as_str() {
        "mixed" => Variety::Mixed,
        "repeating" => Variety::Repeating,
        "distinct" => Variety::Distinct,
        other => {
            eprintln!("`{other}` is not `mixed`, `repeating` or `distinct`");
            return ExitCode::from(2);
        }
    };
    let Ok(lines) = lines.replace('_', "").parse::<usize>() else {
        eprintln!("`{lines}` is not a number of lines");
        return ExitCode::from(2);
    };
    match write(variety, lines, &PathBuf::from(folder)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cannot write into `{folder}`: {error}");
            ExitCode::FAILURE
        }
    }
}

fn write(variety: Variety, lines: usize, folder: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(folder)?;
    std::fs::write(folder.join("policies.cedar"), generated::POLICIES)?;
    std::fs::write(folder.join("schema.cedarschema"), generated::SCHEMA)?;
    std::fs::write(folder.join("entities.json"), generated::entities_json())?;
    let file = std::fs::File::create(folder.join("log.jsonl"))?;
    let mut out = std::io::BufWriter::new(file);
    generated::write_log_of(42, lines, 30, variety, &mut out)?;
    out.flush()
}
