//! Unloaded latency (one call in flight) of the broker arms and their settings, next to `grpc` and
//! `rest` from the same run, for the README's brokers section:
//!
//! ```text
//! cargo run --release -p paybench --example broker_latency -- --calls 300
//! ```
//!
//! Starts the local brokers if needed (or uses `AMQP_URL` / `KAFKA_BROKERS` / `NATS_URL`), runs each arm's
//! workers in this process, sends `--calls` sequential calls of the `typical` profile after a
//! warm-up, and prints p50/p99 from an HDR histogram. Every call is checked against its request.

use std::time::Instant;

use clap::Parser;
use hdrhistogram::Histogram;
use paybench::brokers;
use paybench::payload::{generate, Profile};
use paybench::payment::fee_minor;
use paybench::transport::{self, Arm, ClientConfig, ServerConfig, Transport};

#[derive(Debug, Parser)]
struct Args {
    /// Measured calls per arm (after `--warmup` unmeasured ones).
    #[arg(long, default_value_t = 300)]
    calls: u64,
    /// Unmeasured calls per arm first.
    #[arg(long, default_value_t = 30)]
    warmup: u64,
    /// Arms by canonical name: each option that differs from its default is in the name.
    #[arg(
        long,
        default_value = "grpc,rest,amqp,amqp-replyqueue,amqp-durable,kafka,kafka-linger5,kafka-fetchwait1,\
                         kafka-fetchwait20,kafka-fetchwait100,kafka-durable,nats"
    )]
    arms: String,
}

type Outcome = Result<Histogram<u64>, Box<dyn std::error::Error>>;

/// Sequential calls; records each in microseconds; fails on a mismatched reply.
async fn measure<T: Transport>(client: &T, args: &Args) -> Outcome {
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for i in 0..args.warmup + args.calls {
        let req = generate(Profile::Typical, 99, i);
        let started = Instant::now();
        let resp = client.call(req.clone()).await?;
        let elapsed_us = started.elapsed().as_micros() as u64;
        if resp.payment_id != req.payment_id || Some(resp.fee_minor) != fee_minor(req.amount_minor, &req.currency) {
            return Err(format!("{}: reply does not match request {}", client.name(), req.payment_id).into());
        }
        if i >= args.warmup {
            histogram.record(elapsed_us.max(1))?;
        }
    }
    Ok(histogram)
}

fn row(arm: &str, settings: &str, outcome: Outcome) {
    match outcome {
        Ok(h) => println!(
            "| {arm} | {settings} | {} | {} | {} |",
            h.value_at_quantile(0.50),
            h.value_at_quantile(0.99),
            h.len()
        ),
        Err(e) => println!("| {arm} | {settings} | failed: {e} | | |"),
    }
}

/// Starts the arm's server or workers in this process, connects a client, measures, stops.
async fn arm(arm: &Arm, endpoints: &brokers::Endpoints, args: &Args) -> Outcome {
    let broker_url = arm.broker().map(|b| endpoints[b].clone());
    let server =
        transport::serve(arm, &ServerConfig { broker_url: broker_url.clone(), ..ServerConfig::default() }).await?;
    let endpoint = broker_url.unwrap_or_else(|| server.endpoint().to_owned());
    let client = transport::connect(arm, &endpoint, &ClientConfig::default()).await?;
    let outcome = measure(&client, args).await;
    drop(client);
    server.shutdown().await;
    outcome
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    // This example is a binary: it reads the broker endpoints from the environment.
    let endpoints = brokers::endpoints(|var| std::env::var(var).ok());
    for info in brokers::start_all(&endpoints, brokers::DEFAULT_START_DEADLINE).await? {
        println!("broker: {info}");
    }
    println!(
        "profile: typical, one call in flight, {} measured calls per arm after {} warm-up\n",
        args.calls, args.warmup
    );
    println!("| arm | options | p50_us | p99_us | calls |");
    println!("|---|---|---|---|---|");
    for name in args.arms.split(',') {
        let spec = Arm::parse(name.trim())?;
        let options: Vec<String> = spec.options().iter().map(|(k, v)| format!("{k}={v}")).collect();
        row(spec.name(), &options.join(", "), arm(&spec, &endpoints, &args).await);
    }
    Ok(())
}
