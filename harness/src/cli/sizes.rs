//! `paybench sizes`: body sizes per profile and codec.

use std::process::ExitCode;

use paybench::payload::DEFAULT_SEED;
use paybench::sizes;

/// Arguments of `paybench sizes`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Payload seed (the same seed gives the same bytes on every machine).
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Print JSON rows instead of a markdown table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rows = sizes::measure(args.seed)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!("Body sizes in bytes (seed {:#x}); compressed sizes are gzip level 6 and zstd level 3.\n", args.seed);
        print!("{}", sizes::markdown(&rows));
    }
    Ok(ExitCode::SUCCESS)
}
