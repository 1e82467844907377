//! `paybench compare`: not built yet.

use std::process::ExitCode;

/// Arguments of `paybench compare`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("compare: not implemented yet")
}
