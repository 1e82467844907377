//! `paybench-compare`: `paybench compare` in a binary of its own, built from the model and the
//! report only (no tonic, lapin or librdkafka), for the CI regression gate. Same arguments, output
//! and exit statuses (see `paybench_report::compare::cli`).

use std::process::ExitCode;

use clap::Parser;
use paybench_report::compare::cli;

/// Compare two results (or criterion baselines) and gate on regressions.
#[derive(Debug, Parser)]
#[command(name = "paybench-compare", version, about)]
struct Command {
    #[command(flatten)]
    args: cli::Args,
}

/// Exit status for an error (unreadable input, bad arguments), as `paybench`'s.
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    match cli::run(Command::parse().args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("paybench-compare: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
