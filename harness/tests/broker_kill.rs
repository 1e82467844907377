//! The suite's own brokers killed (SIGKILL) and restarted from their data directories, with known
//! answers:
//! - Apache Kafka under load, in durable mode: every request is answered exactly once, by
//!   idempotency-key accounting, or the test names the ones that were not.
//! - RabbitMQ with a known backlog (requests published with no worker running): the durable
//!   requests all survive the restart and are answered through the reconnected client; the
//!   transient ones are all lost.
//!
//! Its own test binary, because it kills the shared local brokers: cargo runs test binaries one at
//! a time, so no other test is using them meanwhile (the two tests here kill different brokers),
//! and each broker is up again when its test ends. Against an external broker (`KAFKA_BROKERS`,
//! `AMQP_URL`) a test cannot kill it, and fails saying so.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::future::join_all;
use paybench::brokers::{self, kafka as kafka_broker, rabbitmq, Broker};
use paybench::codec::Codec;
use paybench::payload::{generate, Profile};
use paybench::payment::{fee_minor, PaymentService};
use paybench::transport::{amqp, kafka, Arm, ClientConfig, ServerConfig, Transport};

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

/// Requests waiting in each RabbitMQ queue when the broker is killed.
const BACKLOG: u64 = 40;
/// A call's deadline in the RabbitMQ test: past the broker's restart (5-10 s on 2 cores).
const AMQP_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The managed local broker at its endpoint, started; fails naming the variable to unset when an
/// external one is configured.
async fn local_broker(broker: &'static Broker) -> String {
    let endpoint = brokers::endpoints(|var| std::env::var(var).ok())[broker.name].clone();
    assert!(
        broker.is_local(&endpoint),
        "this test kills and restarts the suite's own {} broker; {} points at {}, which it cannot kill: unset {} to run it",
        broker.name,
        broker.env_var,
        endpoint,
        broker.env_var
    );
    brokers::start(broker, &endpoint, brokers::DEFAULT_START_DEADLINE).await.unwrap_or_else(|e| {
        panic!("the {} broker could not be started: {e}; run harness/scripts/install-deps.sh", broker.name)
    });
    endpoint
}

/// The ready count of `arm`'s request queue, read until it is `expected` (at most 10 s).
async fn queue_depth(arm: &Arm, endpoint: &str, ns: &str, expected: u64) -> u64 {
    let (arm, endpoint, ns) = (arm.clone(), endpoint.to_owned(), ns.to_owned());
    tokio::task::spawn_blocking(move || {
        let open = arm.family().backlog.expect("amqp reads a backlog");
        let mut reader = open(&arm, &endpoint, &ns).expect("backlog reader");
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let got = reader.read().expect("backlog read");
            if got == expected || Instant::now() > until {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .expect("backlog task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_killed_with_a_backlog_keeps_every_durable_request_and_loses_every_transient_one() {
    let broker = &rabbitmq::BROKER;
    let endpoint = local_broker(broker).await;
    // The same reply path (a durable reply queue per client) in both modes: only `durable` differs.
    let arms = [Arm::parse("amqp-replydurable-durable").unwrap(), Arm::parse("amqp-replydurable").unwrap()];
    let ns = format!("paybench-test-brokerkill-{}", uuid::Uuid::new_v4().simple());
    let configs: Vec<amqp::Config> = arms
        .iter()
        .enumerate()
        .map(|(i, arm)| {
            amqp::Config::from_arm(arm)
                .unwrap()
                .in_namespace(&format!("{ns}-{i}"))
                .with_queue_expires(Duration::from_secs(300))
        })
        .collect();
    let client_config = ClientConfig { timeout: AMQP_CALL_TIMEOUT, ..ClientConfig::default() };
    let mut clients = Vec::new();
    for config in &configs {
        clients.push(
            amqp::Client::connect_with(Codec::Protobuf, &endpoint, &client_config, config.clone())
                .await
                .expect("amqp client"),
        );
    }
    // No worker yet: every request waits in its queue.
    let reqs: Vec<_> = (0..BACKLOG).map(|i| generate(Profile::Small, 91, i)).collect();
    let calls = clients.iter().map(|client| join_all(reqs.iter().map(|req| client.call(req.clone()))));
    let all_calls = join_all(calls);
    let chaos = async {
        for (i, arm) in arms.iter().enumerate() {
            let depth = queue_depth(arm, &endpoint, &format!("{ns}-{i}"), BACKLOG).await;
            assert_eq!(depth, BACKLOG, "{arm}: {BACKLOG} requests published with no worker");
        }
        assert!(
            broker.kill_local(Duration::from_secs(10)).await.expect("SIGKILL the broker"),
            "no managed RabbitMQ ran"
        );
        brokers::start(broker, &endpoint, brokers::DEFAULT_START_DEADLINE).await.expect("restart the broker");
        let server = ServerConfig { broker_url: Some(endpoint.clone()), ..ServerConfig::default() };
        let mut workers = Vec::new();
        for config in &configs {
            workers.push(amqp::serve_with(Codec::Protobuf, &server, config.clone()).await.expect("workers"));
        }
        workers
    };
    let (outcomes, workers) = tokio::join!(all_calls, chaos);

    let tally: Vec<(usize, usize)> = outcomes
        .iter()
        .map(|calls| {
            let answered = calls
                .iter()
                .zip(&reqs)
                .filter(|(outcome, req)| outcome.as_ref().is_ok_and(|r| r.payment_id == req.payment_id))
                .count();
            let timed_out = calls.iter().filter(|o| o.as_ref().is_err_and(|e| e.kind() == "timeout")).count();
            (answered, timed_out)
        })
        .collect();
    eprintln!(
        "rabbitmq broker kill with {BACKLOG} waiting: (answered, timed out) durable {:?}, transient {:?}",
        tally[0], tally[1]
    );
    assert_eq!(tally[0], (BACKLOG as usize, 0), "durable: every stored request answered after the restart");
    assert_eq!(
        tally[1],
        (0, BACKLOG as usize),
        "transient: every request lost with the broker (none answered, none failed)"
    );
    for (client, ledger) in clients.iter().zip([(0, 0, 0), (0, 0, BACKLOG)]) {
        let l = client.reply_ledger().expect("a ledger");
        assert_eq!((l.late, l.duplicates, l.unanswered), ledger, "{l:?}");
    }
    for w in workers {
        w.shutdown().await;
    }
}
