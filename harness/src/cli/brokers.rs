//! `paybench brokers up|down|status`: the suite's local brokers (logic in `paybench::brokers`).
//! `up` is idempotent: a broker that already answers is reused; an external endpoint
//! (`--broker NAME=ENDPOINT`, `AMQP_URL`, `KAFKA_BROKERS`, `NATS_URL`) is only probed.

use std::process::ExitCode;
use std::time::Duration;

use paybench::brokers::{self, BROKERS};
use paybench::endpoint::redact;

use super::edge::ArmEnv;

/// Arguments of `paybench brokers`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Action,
    /// Seconds to wait for each broker to become ready (or to stop).
    #[arg(long, default_value_t = brokers::DEFAULT_START_DEADLINE.as_secs())]
    deadline_secs: u64,
    #[command(flatten)]
    arm_env: ArmEnv,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Start the local brokers (those without an external endpoint) and wait until ready.
    Up,
    /// Stop the brokers this suite started.
    Down,
    /// Print each broker's implementation, version and endpoint, or why it is unreachable.
    Status,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let deadline = Duration::from_secs(args.deadline_secs);
    let endpoints = args.arm_env.endpoints()?;
    super::runtime()?.block_on(async {
        match args.action {
            Action::Up => {
                for info in brokers::start_all(&endpoints, deadline).await? {
                    println!("up: {info}");
                }
                Ok(ExitCode::SUCCESS)
            }
            Action::Down => {
                for broker in BROKERS {
                    let stopped = brokers::stop(broker, deadline).await?;
                    let what = if stopped { "stopped" } else { "not running (nothing to stop)" };
                    println!("{}: {what}", broker.name);
                }
                Ok(ExitCode::SUCCESS)
            }
            Action::Status => {
                let mut all_up = true;
                for broker in BROKERS {
                    let endpoint = &endpoints[broker.name];
                    match broker.info(endpoint).await {
                        Ok(info) => println!("up: {info}"),
                        Err(e) => {
                            all_up = false;
                            println!("{}: down at {}: {e}", broker.name, redact(endpoint));
                        }
                    }
                }
                Ok(if all_up { ExitCode::SUCCESS } else { ExitCode::from(1) })
            }
        }
    })
}
