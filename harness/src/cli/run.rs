//! `paybench run`: not built yet.

use std::process::ExitCode;

/// Arguments of `paybench run`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("run: not implemented yet")
}
