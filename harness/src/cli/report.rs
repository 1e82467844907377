//! `paybench report`: not built yet.

use std::process::ExitCode;

/// Arguments of `paybench report`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("report: not implemented yet")
}
