//! One module per subcommand. Each exposes `Args` (clap) and `run(Args) -> anyhow::Result<ExitCode>`.

// `compare` is `paybench_report::compare::cli`, shared with the `paybench-compare` binary.
pub(crate) mod bench_table;
pub(crate) mod brokers;
pub(crate) mod docs;
pub(crate) mod edge;
pub(crate) mod peer_check;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod run_table;
pub(crate) mod serve;
pub(crate) mod sizes;

/// Exit status for an error (bad input, unreachable target, I/O): distinct from `compare`'s
/// "regressed" status.
pub(crate) const EXIT_ERROR: u8 = 2;

/// Builds a multi-threaded tokio runtime for a subcommand.
#[allow(dead_code)] // for the subcommands that drive servers (serve, run, brokers)
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}
