//! `paybench bench-table`: not built yet.

use std::process::ExitCode;

/// Arguments of `paybench bench-table`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("bench-table: not implemented yet")
}
