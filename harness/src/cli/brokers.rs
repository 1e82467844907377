//! `paybench brokers up|down|status`: the local RabbitMQ and Tansu brokers (logic in
//! `paybench::brokers`). `up` is idempotent: a broker that already answers is reused.

use std::process::ExitCode;
use std::time::Duration;

use paybench::brokers::{self, Broker};

/// Arguments of `paybench brokers`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Action,
    /// Seconds to wait for each broker to become ready (or to stop).
    #[arg(long, default_value_t = brokers::DEFAULT_START_DEADLINE.as_secs())]
    deadline_secs: u64,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Start the local brokers (unless AMQP_URL / KAFKA_BROKERS point elsewhere) and wait until ready.
    Up,
    /// Stop the brokers this suite started.
    Down,
    /// Print each broker's implementation, version and endpoint, or why it is unreachable.
    Status,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let deadline = Duration::from_secs(args.deadline_secs);
    super::runtime()?.block_on(async {
        match args.action {
            Action::Up => {
                for info in brokers::start_all(deadline).await? {
                    println!("up: {info}");
                }
                Ok(ExitCode::SUCCESS)
            }
            Action::Down => {
                for broker in Broker::ALL {
                    let stopped = brokers::stop(broker, deadline).await?;
                    let what = if stopped { "stopped" } else { "not running (nothing to stop)" };
                    println!("{}: {what}", broker.name());
                }
                Ok(ExitCode::SUCCESS)
            }
            Action::Status => status().await,
        }
    })
}

async fn status() -> anyhow::Result<ExitCode> {
    let mut all_up = true;
    for broker in Broker::ALL {
        let endpoint = broker.endpoint();
        if brokers::tcp_reachable(broker, &endpoint, Duration::from_secs(2)) {
            match brokers::info(broker).await {
                Ok(info) => println!("{}: up: {info}", broker.name()),
                Err(e) => {
                    all_up = false;
                    println!("{}: unhealthy: {e}", broker.name());
                }
            }
        } else {
            all_up = false;
            println!("{}: down: nothing answers at {}", broker.name(), brokers::redact(&endpoint));
        }
    }
    Ok(if all_up { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
