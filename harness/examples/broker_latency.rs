//! Unloaded latency (one call in flight) of the broker arms and their settings, next to `grpc` and
//! `rest` from the same run, for the README's brokers section:
//!
//! ```text
//! cargo run --release -p paybench --example broker_latency -- --calls 300
//! ```
//!
//! Starts the local brokers if needed (or uses `AMQP_URL` / `KAFKA_BROKERS`), runs each arm's
//! workers in this process, sends `--calls` sequential calls of the `typical` profile after a
//! warm-up, and prints p50/p99 from an HDR histogram. Every call is checked against its request.

use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use paybench::brokers::{self, Broker};
use paybench::codec::Codec;
use paybench::payload::{generate, Profile};
use paybench::payment::fee_minor;
use paybench::transport::{self, amqp, kafka, ClientConfig, ServerConfig, ServerHandle, Transport, TransportKind};

#[derive(Debug, Parser)]
struct Args {
    /// Measured calls per arm (after `--warmup` unmeasured ones).
    #[arg(long, default_value_t = 300)]
    calls: u64,
    /// Unmeasured calls per arm first.
    #[arg(long, default_value_t = 30)]
    warmup: u64,
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

async fn direct(kind: TransportKind, args: &Args) -> Outcome {
    let server = transport::serve(kind, &ServerConfig::default()).await?;
    let client = transport::connect(kind, server.endpoint(), &ClientConfig::default()).await?;
    let outcome = measure(&client, args).await;
    server.shutdown().await;
    outcome
}

fn queue_name(tag: &str) -> String {
    format!("paybench.latency.{tag}.{}", uuid::Uuid::new_v4().simple())
}

async fn amqp_arm(config: amqp::Config, args: &Args) -> Outcome {
    let config = config.with_queue(queue_name("amqp")).with_queue_expires(Duration::from_secs(60));
    let server = ServerConfig { broker_url: Some(Broker::RabbitMq.endpoint()), ..ServerConfig::default() };
    let workers: ServerHandle = amqp::serve_with(Codec::Protobuf, &server, config.clone()).await?;
    let client =
        amqp::Client::connect_with(Codec::Protobuf, &Broker::RabbitMq.endpoint(), &ClientConfig::default(), config)
            .await?;
    let outcome = measure(&client, args).await;
    workers.shutdown().await;
    outcome
}

async fn kafka_arm(config: kafka::Config, args: &Args) -> Outcome {
    let topic = queue_name("kafka");
    let config = config.with_group(format!("{topic}.workers")).with_request_topic(topic);
    let server = ServerConfig { broker_url: Some(Broker::Kafka.endpoint()), ..ServerConfig::default() };
    let workers = kafka::serve_with(Codec::Protobuf, &server, config.clone()).await?;
    let client =
        kafka::Client::connect_with(Codec::Protobuf, &Broker::Kafka.endpoint(), &ClientConfig::default(), config)
            .await?;
    let outcome = measure(&client, args).await;
    workers.shutdown().await;
    outcome
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    for info in brokers::start_all(brokers::DEFAULT_START_DEADLINE).await? {
        println!("broker: {info}");
    }
    println!(
        "profile: typical, one call in flight, {} measured calls per arm after {} warm-up\n",
        args.calls, args.warmup
    );
    println!("| arm | settings | p50_us | p99_us | calls |");
    println!("|---|---|---|---|---|");
    row("grpc", "tonic, HTTP/2", direct(TransportKind::Grpc, &args).await);
    row("rest", "axum + reqwest, JSON, HTTP/1.1", direct(TransportKind::Rest, &args).await);
    let amqp = amqp::Config::default();
    row("amqp", "direct reply-to, transient", amqp_arm(amqp.clone(), &args).await);
    row(
        "amqp",
        "exclusive reply queue, transient",
        amqp_arm(amqp.clone().with_reply_to(amqp::ReplyTo::ExclusiveQueue), &args).await,
    );
    row(
        "amqp",
        "direct reply-to, durable (persistent, confirms, manual ack)",
        amqp_arm(amqp.with_durable(true), &args).await,
    );
    let kafka = kafka::Config::default();
    for (linger_ms, fetch_wait_max_ms) in [(0, 5), (5, 5), (0, 1), (0, 20), (0, 100)] {
        let settings = format!("linger.ms={linger_ms}, fetch.wait.max.ms={fetch_wait_max_ms}, acks=1");
        let config = kafka.clone().with_linger_ms(linger_ms).with_fetch_wait_max_ms(fetch_wait_max_ms);
        row("kafka", &settings, kafka_arm(config, &args).await);
    }
    row(
        "kafka",
        "linger.ms=0, fetch.wait.max.ms=5, durable (acks=all, idempotent, commit after reply)",
        kafka_arm(kafka.with_durable(true), &args).await,
    );
    Ok(())
}
