//! The suite's own Apache Kafka node killed (SIGKILL) under load and restarted, in durable mode:
//! every request is answered exactly once, by idempotency-key accounting, or the test names the
//! ones that were not.
//!
//! Its own test binary, because it kills the shared local broker: cargo runs test binaries one at
//! a time, so no other test is using the broker meanwhile, and the broker is up again (restarted
//! from its data directory) when this test ends. Against an external cluster (`KAFKA_BROKERS`) it
//! cannot kill the broker, and fails saying so.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::future::join_all;
use paybench::brokers::{self, kafka as kafka_broker};
use paybench::codec::Codec;
use paybench::payload::{generate, Profile};
use paybench::payment::{fee_minor, PaymentService};
use paybench::transport::{kafka, ClientConfig, ServerConfig, Transport};

/// Requests sent, paced over [`PACE`] each: the kill lands after a third of them.
const CALLS: u64 = 300;
const PACE: Duration = Duration::from_millis(5);
/// Long enough for the broker to restart and recover its log; a call still unanswered after this
/// is reported as lost.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_durable_broker_killed_and_restarted_answers_every_request_once() {
    let broker = &kafka_broker::BROKER;
    let endpoint = brokers::endpoints(|var| std::env::var(var).ok())[broker.name].clone();
    assert!(
        broker.is_local(&endpoint),
        "this test kills and restarts the suite's own Kafka node; KAFKA_BROKERS points at {endpoint}, \
         which it cannot kill: unset KAFKA_BROKERS to run it"
    );
    brokers::start(broker, &endpoint, brokers::DEFAULT_START_DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("the kafka broker could not be started: {e}; run harness/scripts/install-deps.sh"));

    let topic = format!("paybench.test.brokerkill.{}", uuid::Uuid::new_v4().simple());
    let config = kafka::Config::default()
        .with_group(format!("{topic}.workers"))
        .with_request_topic(topic)
        .with_durable(true)
        .with_workers(2);
    let server = ServerConfig {
        service: PaymentService::with_service_time(Duration::from_millis(2)),
        broker_url: Some(endpoint.clone()),
        ..ServerConfig::default()
    };
    let workers = kafka::serve_with(Codec::Protobuf, &server, config.clone()).await.expect("workers");
    let client_config = ClientConfig { timeout: CALL_TIMEOUT, ..ClientConfig::default() };
    let client =
        kafka::Client::connect_with(Codec::Protobuf, &endpoint, &client_config, config).await.expect("kafka client");

    let reqs: Vec<_> = (0..CALLS).map(|i| generate(Profile::Typical, 77, i)).collect();
    let calls = join_all(reqs.iter().enumerate().map(|(i, req)| {
        let client = &client;
        async move {
            tokio::time::sleep(PACE * i as u32).await;
            (req, client.call(req.clone()).await)
        }
    }));
    let chaos = async {
        tokio::time::sleep(PACE * (CALLS / 3) as u32).await;
        let killed_at = Instant::now();
        let killed = broker.kill_local(Duration::from_secs(10)).await.expect("SIGKILL the broker");
        assert!(
            killed,
            "the Kafka node at {endpoint} was not started from this checkout (no live pid in {}): \
             stop it with `paybench brokers down` where it was started, then rerun",
            broker.dir().display()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        brokers::start(broker, &endpoint, brokers::DEFAULT_START_DEADLINE).await.expect("restart the broker");
        killed_at.elapsed()
    };
    let (outcomes, down_for) = tokio::join!(calls, chaos);

    // Idempotency-key accounting: each request's key answered exactly once, or named as lost.
    let mut answered: HashMap<&str, usize> = HashMap::new();
    let mut lost = Vec::new();
    for (req, outcome) in &outcomes {
        match outcome {
            Ok(resp) => {
                assert_eq!(resp.payment_id, req.payment_id, "reply matched to the wrong request");
                assert_eq!(Some(resp.fee_minor), fee_minor(req.amount_minor, &req.currency));
                *answered.entry(req.idempotency_key.as_str()).or_default() += 1;
            }
            Err(e) => lost.push(format!("{}: {e}", req.idempotency_key)),
        }
    }
    eprintln!(
        "kafka broker kill: {} sent, {} answered, {} lost, {} duplicate replies dropped by the client; \
         broker down and back in {down_for:?}",
        outcomes.len(),
        answered.len(),
        lost.len(),
        client.unmatched_replies()
    );
    assert_eq!(outcomes.len() as u64, CALLS);
    assert_eq!(answered.len() + lost.len(), outcomes.len(), "every request accounted for");
    assert!(lost.is_empty(), "durable mode lost {} of {CALLS} requests, first: {:?}", lost.len(), lost.first());
    client.shutdown().await.expect("client shutdown");
    workers.shutdown().await;
}
