//! `paybench brokers`: not built yet.

use std::process::ExitCode;

/// Arguments of `paybench brokers`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("brokers: not implemented yet")
}
