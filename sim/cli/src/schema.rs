//! `privsim schema`: prints the JSON Schema of a scenario file, a shared
//! world or `privsim-gate.toml` (the copies committed under `sim/engine/schemas/`),
//! for editors that read a `#:schema` line (docs/scenario-format.md).

use std::path::PathBuf;

use clap::ValueEnum;

use crate::cli::Outcome;

/// Which file's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// A scenario file.
    Scenario,
    /// A shared world file (`world = "..."` in a scenario).
    World,
    /// The gate configuration, `privsim-gate.toml`.
    Gate,
}

/// Arguments of `privsim schema`.
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// The file whose schema to print.
    #[arg(value_enum)]
    pub kind: SchemaKind,
    /// Write the schema to this file (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Prints or writes the schema.
pub fn run(args: &SchemaArgs) -> Outcome {
    let text = match args.kind {
        SchemaKind::Scenario => privsim::schema::SCENARIO,
        SchemaKind::World => privsim::schema::WORLD,
        SchemaKind::Gate => privsim::schema::GATE_CONFIG,
    };
    match crate::cli::emit(args.output.as_deref(), text) {
        Ok(()) => Outcome::Ok,
        Err(outcome) => outcome,
    }
}
