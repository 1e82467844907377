//! `paybench serve`: not built yet.

use std::process::ExitCode;

/// Arguments of `paybench serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("serve: not implemented yet")
}
