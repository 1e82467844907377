//! `paybench`: the command-line front end. Each subcommand lives in its own module under `cli/`;
//! this file only parses arguments and maps errors to exit codes. `anyhow` is used here, at the
//! binary's edge, and nowhere in the library.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Side-by-side transport benchmarks for one payment call: gRPC, REST, RabbitMQ RPC and Kafka.
#[derive(Debug, Parser)]
#[command(name = "paybench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print body sizes per profile: protobuf vs JSON, raw, gzip and zstd.
    Sizes(cli::sizes::Args),
    /// Print criterion's unloaded latency per transport as a ratio to the `tcp` floor.
    BenchTable(cli::bench_table::Args),
    /// Run one transport's server or worker on its own (for separate processes or hosts).
    Serve(cli::serve::Args),
    /// Start, stop or inspect the local brokers (RabbitMQ, Apache Kafka, NATS).
    Brokers(cli::brokers::Args),
    /// Run load scenarios and write results/<run-id>/.
    Run(cli::run::Args),
    /// Render report.html and summary.md for a run directory.
    Report(cli::report::Args),
    /// Compare two results (or criterion baselines) and gate on regressions.
    Compare(paybench::compare::cli::Args),
    /// Rewrite the generated sections of README.md and docs/*.md from committed results (--check: only compare).
    Docs(cli::docs::Args),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Sizes(args) => cli::sizes::run(args),
        Command::BenchTable(args) => cli::bench_table::run(args),
        Command::Serve(args) => cli::serve::run(args),
        Command::Brokers(args) => cli::brokers::run(args),
        Command::Run(args) => cli::run::run(args),
        Command::Report(args) => cli::report::run(args),
        Command::Compare(args) => paybench::compare::cli::run(args),
        Command::Docs(args) => cli::docs::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("paybench: {e:#}");
            ExitCode::from(cli::EXIT_ERROR)
        }
    }
}
