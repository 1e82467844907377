//! The broker arms against real brokers: the local RabbitMQ, Apache Kafka and nats-server that each test
//! starts itself through `paybench::brokers::start` (or `AMQP_URL` / `KAFKA_BROKERS` / `NATS_URL`).
//! A broker that cannot be started fails the test with the reason; nothing is skipped.
//!
//! Every test uses its own queue or topic (and Kafka consumer group), so tests running at once do
//! not take each other's requests.

use std::time::{Duration, Instant};

use futures::future::join_all;
use paybench::brokers::{self, Broker};
use paybench::brokers::{kafka as kafka_broker, nats as nats_broker, rabbitmq};
use paybench::codec::Codec;
use paybench::payload::{generate, Profile};
use paybench::payment::{fee_minor, PaymentService};
use paybench::pb::{PaymentRequest, PaymentResponse};
use paybench::transport::{amqp, kafka, nats, Arm, ClientConfig, ServerConfig, ServerHandle, Transport};
use paybench::{CallError, Result};

/// One broker start at a time in this process (tests run on parallel threads).
static START: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The broker's endpoint (its environment variable, else the suite's own), started if local.
async fn broker_up(broker: &'static Broker) -> String {
    let endpoint = brokers::endpoints(|var| std::env::var(var).ok())[broker.name].clone();
    let _guard = START.lock().await;
    match brokers::start(broker, &endpoint, brokers::DEFAULT_START_DEADLINE).await {
        Ok(_) => endpoint,
        Err(e) => panic!(
            "the {} broker could not be started for this test: {e}\n\
             run harness/scripts/install-deps.sh, or set {} to a reachable broker",
            broker.name, broker.env_var
        ),
    }
}

fn unique(prefix: &str) -> String {
    format!("paybench.test.{prefix}.{}", uuid::Uuid::new_v4().simple())
}

fn amqp_config(prefix: &str) -> amqp::Config {
    amqp::Config::default().with_queue(unique(prefix)).with_queue_expires(Duration::from_secs(120))
}

fn kafka_config(prefix: &str) -> kafka::Config {
    let topic = unique(prefix);
    kafka::Config::default().with_group(format!("{topic}.workers")).with_request_topic(topic)
}

fn server(url: &str, service: PaymentService) -> ServerConfig {
    ServerConfig { service, broker_url: Some(url.to_owned()), ..ServerConfig::default() }
}

fn nats_config(prefix: &str) -> nats::Config {
    nats::Config::default().with_subject(unique(prefix))
}

fn client_config(timeout: Duration) -> ClientConfig {
    ClientConfig { timeout, ..ClientConfig::default() }
}

/// Checks a response against its request: same payment, fee recomputed independently.
fn assert_matches(req: &PaymentRequest, resp: &PaymentResponse) {
    assert_eq!(resp.payment_id, req.payment_id, "reply matched to the wrong request");
    assert_eq!(Some(resp.fee_minor), fee_minor(req.amount_minor, &req.currency), "fee of {}", req.payment_id);
}

fn requests(count: u64, seed: u64) -> Vec<PaymentRequest> {
    (0..count).map(|i| generate(Profile::Typical, seed, i)).collect()
}

/// Sends every request at once through one client; returns how many replies matched.
async fn call_all<T: Transport>(client: &T, reqs: &[PaymentRequest]) -> usize {
    let replies = join_all(reqs.iter().map(|r| client.call(r.clone()))).await;
    for (req, reply) in reqs.iter().zip(&replies) {
        match reply {
            Ok(resp) => assert_matches(req, resp),
            Err(e) => panic!("{}: call {} failed: {e}", client.name(), req.payment_id),
        }
    }
    replies.len()
}

/// A good call, a domain error that must come back as `Rejected`, a good call again, then one
/// call of every profile (sizes and shapes; the worker's business function refuses a usage
/// charge or bundle that arrives mangled).
async fn round_trip<T: Transport>(client: &T) {
    let req = generate(Profile::Typical, 7, 0);
    let resp = client.call(req.clone()).await.expect("round trip");
    assert_matches(&req, &resp);
    let mut bad = generate(Profile::Typical, 7, 1);
    bad.currency = "XXX".to_owned();
    match client.call(bad).await {
        Err(CallError::Rejected { status, .. }) => assert_eq!(status, "unknown_currency"),
        other => panic!("{}: expected Rejected(unknown_currency), got {other:?}", client.name()),
    }
    let again = generate(Profile::Typical, 7, 2);
    assert_matches(&again, &client.call(again.clone()).await.expect("worker keeps serving"));
    for profile in Profile::ALL {
        let req = generate(profile, 7, 3);
        let resp = client.call(req.clone()).await.unwrap_or_else(|e| panic!("{}/{profile}: {e}", client.name()));
        assert_matches(&req, &resp);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_round_trip_both_codecs_and_reply_modes() {
    let url = broker_up(&rabbitmq::BROKER).await;
    for codec in [Codec::Protobuf, Codec::Json] {
        for reply_to in [amqp::ReplyTo::Direct, amqp::ReplyTo::ExclusiveQueue] {
            let config = amqp_config("rt").with_reply_to(reply_to);
            let workers = amqp::serve_with(codec, &server(&url, PaymentService::default()), config.clone())
                .await
                .expect("amqp workers");
            let client = amqp::Client::connect_with(codec, &url, &client_config(Duration::from_secs(10)), config)
                .await
                .expect("amqp client");
            assert_eq!(client.name(), if codec == Codec::Json { "amqp-json" } else { "amqp" });
            round_trip(&client).await;
            workers.shutdown().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_round_trip_both_codecs() {
    let brokers_ep = broker_up(&kafka_broker::BROKER).await;
    for codec in [Codec::Protobuf, Codec::Json] {
        let config = kafka_config("rt");
        let workers = kafka::serve_with(codec, &server(&brokers_ep, PaymentService::default()), config.clone())
            .await
            .expect("kafka workers");
        let client = kafka::Client::connect_with(codec, &brokers_ep, &client_config(Duration::from_secs(20)), config)
            .await
            .expect("kafka client");
        assert_eq!(client.name(), if codec == Codec::Json { "kafka-json" } else { "kafka" });
        round_trip(&client).await;
        workers.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_malformed_body_gets_an_error_reply_and_the_worker_keeps_serving() {
    use futures::StreamExt;
    use lapin::options::{BasicConsumeOptions, BasicPublishOptions};
    use lapin::types::{FieldTable, ShortString};

    let url = broker_up(&rabbitmq::BROKER).await;
    let config = amqp_config("malformed");
    let workers = amqp::serve_with(Codec::Protobuf, &server(&url, PaymentService::default()), config.clone())
        .await
        .expect("amqp workers");
    // A raw client, so the body can be garbage that no codec accepts.
    let properties = lapin::ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current());
    let connection = lapin::Connection::connect(&url, properties).await.expect("raw connection");
    let channel = connection.create_channel().await.expect("raw channel");
    let no_ack = BasicConsumeOptions { no_ack: true, ..BasicConsumeOptions::default() };
    let mut replies =
        channel.basic_consume(amqp::DIRECT_REPLY_TO, "", no_ack, FieldTable::default()).await.expect("consume replies");
    let props = lapin::BasicProperties::default()
        .with_correlation_id(ShortString::from("garbage-1"))
        .with_reply_to(ShortString::from(amqp::DIRECT_REPLY_TO))
        .with_content_type(ShortString::from("application/x-protobuf"));
    channel
        .basic_publish("", &config.queue, BasicPublishOptions::default(), b"\xff\xff not protobuf", props)
        .await
        .expect("publish garbage");
    let reply = tokio::time::timeout(Duration::from_secs(10), replies.next())
        .await
        .expect("an error reply within 10 s")
        .expect("reply stream open")
        .expect("reply delivery");
    assert_eq!(reply.properties.correlation_id().as_ref().map(|c| c.as_str()), Some("garbage-1"));
    assert_eq!(reply.properties.kind().as_ref().map(|k| k.as_str()), Some("payment.error"));
    assert!(String::from_utf8_lossy(&reply.data).starts_with("invalid_argument: "));

    let client = amqp::Client::connect_with(Codec::Protobuf, &url, &client_config(Duration::from_secs(10)), config)
        .await
        .expect("amqp client");
    let req = generate(Profile::Small, 3, 0);
    assert_matches(&req, &client.call(req.clone()).await.expect("worker still serves"));
    workers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_thousand_concurrent_calls_through_one_client() {
    let url = broker_up(&rabbitmq::BROKER).await;
    let config = amqp_config("thousand");
    let workers = amqp::serve_with(Codec::Protobuf, &server(&url, PaymentService::default()), config.clone())
        .await
        .expect("amqp workers");
    let client = amqp::Client::connect_with(Codec::Protobuf, &url, &client_config(Duration::from_secs(30)), config)
        .await
        .expect("amqp client");
    assert_eq!(call_all(&client, &requests(1000, 11)).await, 1000);
    assert_eq!(client.unmatched_replies(), 0);
    workers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_thousand_concurrent_calls_through_one_client() {
    let brokers_ep = broker_up(&kafka_broker::BROKER).await;
    let config = kafka_config("thousand");
    let workers = kafka::serve_with(Codec::Protobuf, &server(&brokers_ep, PaymentService::default()), config.clone())
        .await
        .expect("kafka workers");
    let client =
        kafka::Client::connect_with(Codec::Protobuf, &brokers_ep, &client_config(Duration::from_secs(60)), config)
            .await
            .expect("kafka client");
    assert_eq!(call_all(&client, &requests(1000, 12)).await, 1000);
    assert_eq!(client.unmatched_replies(), 0);
    workers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_two_clients_each_get_only_their_own_replies() {
    let url = broker_up(&rabbitmq::BROKER).await;
    for reply_to in [amqp::ReplyTo::Direct, amqp::ReplyTo::ExclusiveQueue] {
        let config = amqp_config("two").with_reply_to(reply_to);
        let workers = amqp::serve_with(Codec::Protobuf, &server(&url, PaymentService::default()), config.clone())
            .await
            .expect("amqp workers");
        let timeout = client_config(Duration::from_secs(30));
        let a = amqp::Client::connect_with(Codec::Protobuf, &url, &timeout, config.clone()).await.expect("client a");
        let b = amqp::Client::connect_with(Codec::Json, &url, &timeout, config).await.expect("client b");
        let (done_a, done_b) = {
            let (reqs_a, reqs_b) = (requests(300, 21), requests(300, 22));
            tokio::join!(call_all(&a, &reqs_a), call_all(&b, &reqs_b))
        };
        assert_eq!((done_a, done_b), (300, 300));
        assert_eq!(
            (a.unmatched_replies(), b.unmatched_replies()),
            (0, 0),
            "{reply_to:?}: a reply reached the wrong client"
        );
        workers.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_two_clients_each_get_only_their_own_replies() {
    let brokers_ep = broker_up(&kafka_broker::BROKER).await;
    let config = kafka_config("two");
    let workers = kafka::serve_with(Codec::Protobuf, &server(&brokers_ep, PaymentService::default()), config.clone())
        .await
        .expect("kafka workers");
    let timeout = client_config(Duration::from_secs(60));
    let a =
        kafka::Client::connect_with(Codec::Protobuf, &brokers_ep, &timeout, config.clone()).await.expect("client a");
    let b = kafka::Client::connect_with(Codec::Json, &brokers_ep, &timeout, config).await.expect("client b");
    let (done_a, done_b) = {
        let (reqs_a, reqs_b) = (requests(300, 31), requests(300, 32));
        tokio::join!(call_all(&a, &reqs_a), call_all(&b, &reqs_b))
    };
    assert_eq!((done_a, done_b), (300, 300));
    assert_eq!((a.unmatched_replies(), b.unmatched_replies()), (0, 0), "a reply reached the wrong client");
    workers.shutdown().await;
}

/// The broker's topics whose names start with `prefix`, from one metadata request (bounded).
async fn topics_starting_with(brokers_ep: &str, prefix: &str) -> Vec<String> {
    let lister: rdkafka::consumer::BaseConsumer =
        rdkafka::ClientConfig::new().set("bootstrap.servers", brokers_ep).create().expect("metadata client");
    let prefix = prefix.to_owned();
    tokio::task::spawn_blocking(move || {
        use rdkafka::consumer::Consumer;
        let metadata = lister.fetch_metadata(None, Duration::from_secs(10)).expect("topic list within 10 s");
        metadata.topics().iter().map(|t| t.name().to_owned()).filter(|name| name.starts_with(&prefix)).collect()
    })
    .await
    .expect("metadata thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_clients_that_come_and_go_leave_no_reply_topics() {
    const CLIENTS: usize = 10;
    let brokers_ep = broker_up(&kafka_broker::BROKER).await;
    let config = kafka_config("retire");
    let prefix = kafka::reply_topic_prefix(&config.request_topic);
    let workers = kafka::serve_with(Codec::Protobuf, &server(&brokers_ep, PaymentService::default()), config.clone())
        .await
        .expect("kafka workers");
    let timeout = client_config(Duration::from_secs(20));
    let mut most_listed = 0;
    for i in 0..CLIENTS {
        // A fresh client per round, as each repetition of a run makes one, dropped after one call.
        let client = kafka::Client::connect_with(Codec::Protobuf, &brokers_ep, &timeout, config.clone())
            .await
            .expect("kafka client");
        let req = generate(Profile::Small, 61, i as u64);
        assert_matches(&req, &client.call(req.clone()).await.expect("call"));
        let listed = topics_starting_with(&brokers_ep, &prefix).await;
        // The listing must see reply topics at all, or a count of zero below would prove nothing.
        assert!(listed.iter().any(|t| t == client.reply_topic()), "{} not in {listed:?}", client.reply_topic());
        most_listed = most_listed.max(listed.len());
        drop(client);
    }
    // Dropping deletes on a background thread: poll with a deadline for the last deletions.
    let deadline = Instant::now() + kafka::RETIRE_DEADLINE * 2;
    let mut left = topics_starting_with(&brokers_ep, &prefix).await;
    while !left.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = topics_starting_with(&brokers_ep, &prefix).await;
    }
    assert!(
        left.is_empty(),
        "{} of {CLIENTS} reply topics left after their clients were dropped: {left:?}",
        left.len()
    );
    assert!(most_listed < CLIENTS, "reply topics grew with the clients: {most_listed} listed at once");

    // An explicit shutdown has deleted the topic by the time it returns.
    let client = kafka::Client::connect_with(Codec::Protobuf, &brokers_ep, &timeout, config.clone())
        .await
        .expect("kafka client");
    let req = generate(Profile::Small, 62, 0);
    assert_matches(&req, &client.call(req.clone()).await.expect("call"));
    let topic = client.reply_topic().to_owned();
    client.shutdown().await.expect("shutdown deletes the reply topic");
    let listed = topics_starting_with(&brokers_ep, &prefix).await;
    assert!(!listed.contains(&topic), "{topic} still listed after shutdown: {listed:?}");
    workers.shutdown().await;
}

/// Outcome of a run in which a worker pool is killed and restarted.
#[derive(Debug, Default)]
struct KillRun {
    sent: usize,
    ok: usize,
    failed: Vec<String>,
}

/// Sends `count` calls paced over about a second while the `victim` pool is killed after a third
/// of them and restarted after two thirds; a second pool serves throughout.
async fn run_with_a_kill<T, F, Fut>(client: &T, count: u64, victim: ServerHandle, restart: F) -> (KillRun, ServerHandle)
where
    T: Transport,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<ServerHandle>>,
{
    let reqs = requests(count, 41);
    let pace = Duration::from_millis(2);
    let calls = join_all(reqs.iter().enumerate().map(|(i, req)| async move {
        tokio::time::sleep(pace * i as u32).await;
        (req, client.call(req.clone()).await)
    }));
    let chaos = async {
        tokio::time::sleep(pace * (count / 3) as u32).await;
        victim.shutdown().await; // closes its connections mid-request, like a crash
        tokio::time::sleep(pace * (count / 3) as u32).await;
        restart().await.expect("restart the killed worker")
    };
    let (outcomes, restarted) = tokio::join!(calls, chaos);
    let mut run = KillRun { sent: outcomes.len(), ..KillRun::default() };
    for (req, outcome) in outcomes {
        match outcome {
            Ok(resp) => {
                assert_matches(req, &resp);
                run.ok += 1;
            }
            Err(e) => run.failed.push(format!("{}: {e}", req.payment_id)),
        }
    }
    (run, restarted)
}

/// Simulated service time, so that requests are in the middle of processing when the kill comes.
const SERVICE_TIME: Duration = Duration::from_millis(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_durable_worker_killed_and_restarted_loses_nothing() {
    let url = broker_up(&rabbitmq::BROKER).await;
    let config = amqp_config("durable").with_durable(true).with_workers(1).with_prefetch(16);
    let server_config = server(&url, PaymentService::with_service_time(SERVICE_TIME));
    let start = || amqp::serve_with(Codec::Protobuf, &server_config, config.clone());
    let steady = start().await.expect("steady worker");
    let victim = start().await.expect("victim worker");
    let client =
        amqp::Client::connect_with(Codec::Protobuf, &url, &client_config(Duration::from_secs(60)), config.clone())
            .await
            .expect("amqp client");
    let (run, restarted) = run_with_a_kill(&client, 500, victim, start).await;
    eprintln!(
        "amqp durable kill run: {} sent, {} ok, {} failed, {} duplicate replies dropped",
        run.sent,
        run.ok,
        run.failed.len(),
        client.unmatched_replies()
    );
    assert_eq!(run.sent, 500);
    assert_eq!(run.ok + run.failed.len(), run.sent, "every request accounted for");
    assert!(run.failed.is_empty(), "durable mode lost {} requests, first: {:?}", run.failed.len(), run.failed.first());
    restarted.shutdown().await;
    steady.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_durable_worker_killed_and_restarted_loses_nothing() {
    let brokers_ep = broker_up(&kafka_broker::BROKER).await;
    let config = kafka_config("durable").with_durable(true).with_workers(1);
    let server_config = server(&brokers_ep, PaymentService::with_service_time(SERVICE_TIME));
    let start = || kafka::serve_with(Codec::Protobuf, &server_config, config.clone());
    let steady = start().await.expect("steady worker");
    let victim = start().await.expect("victim worker");
    let client = kafka::Client::connect_with(
        Codec::Protobuf,
        &brokers_ep,
        &client_config(Duration::from_secs(90)),
        config.clone(),
    )
    .await
    .expect("kafka client");
    let (run, restarted) = run_with_a_kill(&client, 300, victim, start).await;
    eprintln!(
        "kafka durable kill run: {} sent, {} ok, {} failed, {} duplicate replies dropped",
        run.sent,
        run.ok,
        run.failed.len(),
        client.unmatched_replies()
    );
    assert_eq!(run.sent, 300);
    assert_eq!(run.ok + run.failed.len(), run.sent, "every request accounted for");
    assert!(run.failed.is_empty(), "durable mode lost {} requests, first: {:?}", run.failed.len(), run.failed.first());
    restarted.shutdown().await;
    steady.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_names_apache_kafka_and_records_its_client_settings() {
    let brokers_ep = broker_up(&kafka_broker::BROKER).await;
    let info = kafka_broker::BROKER.info(&brokers_ep).await.expect("kafka info");
    if kafka_broker::BROKER.is_local(&brokers_ep) {
        assert_eq!(info.implementation, "Apache Kafka");
        assert_eq!(info.version, format!("{} (KRaft, 1 node)", kafka_broker::KAFKA_VERSION));
    }
    let arm = Arm::parse("kafka-durable").unwrap();
    let settings = paybench::transport::registry::client_settings(&arm, "team-a").unwrap();
    let get = |key: &str| settings.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
    assert_eq!(get("acks"), Some("all"));
    assert_eq!(get("enable.idempotence"), Some("true"));
    assert_eq!(get("fetch.min.bytes"), Some("1"));
    assert_eq!(get("group.protocol"), Some("classic"));
    assert_eq!(get("request topic"), Some("team-a.payments.authorize"));
}

/// Two namespaces on one broker: a client only reaches the workers of its own namespace, through
/// the registry as `paybench run --namespace` starts them, and every default name is prefixed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_keeps_runs_on_one_broker_apart() {
    let url = broker_up(&nats_broker::BROKER).await;
    let arm = Arm::parse("nats").unwrap();
    let ns = format!("ns{}", uuid::Uuid::new_v4().simple());
    let serve = ServerConfig { namespace: ns.clone(), ..server(&url, PaymentService::default()) };
    let workers = paybench::transport::serve(&arm, &serve).await.expect("workers in the namespace");
    let timeout = Duration::from_millis(500);
    let inside = ClientConfig { namespace: ns.clone(), ..client_config(timeout) };
    let client = paybench::transport::connect(&arm, &url, &inside).await.expect("client in the namespace");
    let req = generate(Profile::Small, 71, 0);
    assert_matches(&req, &client.call(req.clone()).await.expect("same namespace answers"));
    let other = ClientConfig { namespace: format!("{ns}-other"), ..client_config(timeout) };
    let stranger = paybench::transport::connect(&arm, &url, &other).await.expect("client in another namespace");
    let outcome = stranger.call(req.clone()).await;
    assert!(outcome.is_err(), "a client of another namespace reached these workers: {outcome:?}");
    workers.shutdown().await;

    assert_eq!(amqp::Config::default().in_namespace("t").queue, "t.payments.authorize");
    assert_eq!(kafka::Config::default().in_namespace("t").group, "t.paybench-payment-workers");
    assert_eq!(nats::Config::default().in_namespace("").subject, "payments.authorize", "no namespace, no change");
    for bad in ["a.b", "", "sp ace", &"x".repeat(65)] {
        let e = paybench::transport::check_namespace(bad).unwrap_err().to_string();
        assert!(e.contains("allowed are"), "{bad:?}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_round_trip_both_codecs() {
    let url = broker_up(&nats_broker::BROKER).await;
    for codec in [Codec::Protobuf, Codec::Json] {
        let config = nats_config("rt");
        let workers = nats::serve_with(codec, &server(&url, PaymentService::default()), config.clone())
            .await
            .expect("nats workers");
        let client = nats::Client::connect_with(codec, &url, &client_config(Duration::from_secs(10)), config)
            .await
            .expect("nats client");
        assert_eq!(client.name(), if codec == Codec::Json { "nats-json" } else { "nats" });
        round_trip(&client).await;
        workers.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_thousand_concurrent_calls_through_one_client() {
    let url = broker_up(&nats_broker::BROKER).await;
    let config = nats_config("thousand");
    let workers = nats::serve_with(Codec::Protobuf, &server(&url, PaymentService::default()), config.clone())
        .await
        .expect("nats workers");
    let client = nats::Client::connect_with(Codec::Protobuf, &url, &client_config(Duration::from_secs(30)), config)
        .await
        .expect("nats client");
    assert_eq!(call_all(&client, &requests(1000, 13)).await, 1000);
    assert_eq!(client.unmatched_replies(), 0);
    workers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_two_clients_each_get_only_their_own_replies() {
    let url = broker_up(&nats_broker::BROKER).await;
    let config = nats_config("two");
    let workers = nats::serve_with(Codec::Protobuf, &server(&url, PaymentService::default()), config.clone())
        .await
        .expect("nats workers");
    let timeout = client_config(Duration::from_secs(30));
    let a = nats::Client::connect_with(Codec::Protobuf, &url, &timeout, config.clone()).await.expect("client a");
    let b = nats::Client::connect_with(Codec::Json, &url, &timeout, config).await.expect("client b");
    let (done_a, done_b) = {
        let (reqs_a, reqs_b) = (requests(300, 51), requests(300, 52));
        tokio::join!(call_all(&a, &reqs_a), call_all(&b, &reqs_b))
    };
    assert_eq!((done_a, done_b), (300, 300));
    assert_eq!((a.unmatched_replies(), b.unmatched_replies()), (0, 0), "a reply reached the wrong client");
    workers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_workers_in_a_queue_group_share_the_load() {
    let url = broker_up(&nats_broker::BROKER).await;
    // Two pools of one worker each, each with a service time, in one queue group: if the group
    // did not share, one worker would take every request and 200 calls would need 200 x 5 ms.
    let config = nats_config("group").with_workers(1);
    let service = PaymentService::with_service_time(SERVICE_TIME);
    let pools = [
        nats::serve_with(Codec::Protobuf, &server(&url, service), config.clone()).await.expect("pool a"),
        nats::serve_with(Codec::Protobuf, &server(&url, service), config.clone()).await.expect("pool b"),
    ];
    let client = nats::Client::connect_with(Codec::Protobuf, &url, &client_config(Duration::from_secs(30)), config)
        .await
        .expect("nats client");
    assert_eq!(call_all(&client, &requests(200, 14)).await, 200);
    // Each request went to exactly one worker: no duplicate replies.
    assert_eq!(client.unmatched_replies(), 0);
    for pool in pools {
        pool.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_malformed_body_gets_an_error_reply_and_the_worker_keeps_serving() {
    use futures::StreamExt;

    let url = broker_up(&nats_broker::BROKER).await;
    let config = nats_config("malformed");
    let workers = nats::serve_with(Codec::Protobuf, &server(&url, PaymentService::default()), config.clone())
        .await
        .expect("nats workers");
    // A raw client, so the body can be garbage that no codec accepts.
    let raw = async_nats::connect(&url).await.expect("raw connection");
    let inbox = raw.new_inbox();
    let mut replies = raw.subscribe(inbox.clone()).await.expect("subscribe inbox");
    raw.flush().await.expect("flush");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Correlation-Id", "garbage-1");
    headers.insert("Content-Type", "application/x-protobuf");
    raw.publish_with_reply_and_headers(config.subject.clone(), inbox, headers, "\u{ff} not protobuf".into())
        .await
        .expect("publish garbage");
    let reply = tokio::time::timeout(Duration::from_secs(10), replies.next())
        .await
        .expect("an error reply within 10 s")
        .expect("reply subscription open");
    let header = |key: &str| reply.headers.as_ref().and_then(|h| h.get(key)).map(|v| v.as_str().to_owned());
    assert_eq!(header("Correlation-Id").as_deref(), Some("garbage-1"));
    assert_eq!(header("Paybench-Type").as_deref(), Some("payment.error"));
    assert!(String::from_utf8_lossy(&reply.payload).starts_with("invalid_argument: "));

    let client = nats::Client::connect_with(Codec::Protobuf, &url, &client_config(Duration::from_secs(10)), config)
        .await
        .expect("nats client");
    let req = generate(Profile::Small, 3, 0);
    assert_matches(&req, &client.call(req.clone()).await.expect("worker still serves"));
    workers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_through_the_registry_reports_its_server() {
    let url = broker_up(&nats_broker::BROKER).await;
    let info = nats_broker::BROKER.info(&url).await.expect("nats info");
    assert_eq!(info.implementation, "nats-server");
    assert!(info.version.chars().next().is_some_and(|c| c.is_ascii_digit()), "version {:?}", info.version);
    let arm = Arm::parse("nats-json").unwrap();
    let workers = paybench::transport::serve(&arm, &server(&url, PaymentService::default())).await.expect("workers");
    let client =
        paybench::transport::connect(&arm, &url, &client_config(Duration::from_secs(10))).await.expect("client");
    assert_eq!(client.name(), "nats-json");
    let req = generate(Profile::Typical, 5, 0);
    assert_matches(&req, &client.call(req.clone()).await.expect("call"));
    workers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_broker_fails_fast_naming_the_url() {
    let deadline = Duration::from_secs(3);
    let config = client_config(deadline);
    for (name, url) in
        [("amqp", "amqp://guest:secret@127.0.0.1:1/%2f"), ("kafka", "127.0.0.1:1"), ("nats", "nats://127.0.0.1:1")]
    {
        let kind = Arm::parse(name).unwrap();
        let started = Instant::now();
        let outcome = paybench::transport::connect(&kind, url, &config).await;
        let elapsed = started.elapsed();
        let Err(e) = outcome else { panic!("{kind}: connecting to {url} succeeded") };
        let message = e.to_string();
        assert!(message.contains("127.0.0.1:1"), "{kind}: error does not name the URL: {message}");
        assert!(!message.contains("secret"), "{kind}: error leaks the password: {message}");
        assert!(elapsed < deadline + Duration::from_secs(2), "{kind}: took {elapsed:?}");
        let serve = ServerConfig { broker_url: Some(url.to_owned()), ..ServerConfig::default() };
        let started = Instant::now();
        let Err(e) = paybench::transport::serve(&kind, &serve).await else {
            panic!("{kind}: serving from {url} succeeded")
        };
        assert!(e.to_string().contains("127.0.0.1:1"), "{kind}: worker error does not name the URL: {e}");
        assert!(started.elapsed() < Duration::from_secs(15), "{kind}: worker start took {:?}", started.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_never_answers_is_named_within_the_deadline() {
    // A listener that accepts and says nothing: neither AMQP nor NATS greets, so the probe must
    // give up at its deadline and name the endpoint.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    for (broker, endpoint) in [
        (&rabbitmq::BROKER, format!("amqp://u:secret@127.0.0.1:{port}/%2f")),
        (&nats_broker::BROKER, format!("nats://127.0.0.1:{port}")),
    ] {
        let started = Instant::now();
        let e = brokers::start(broker, &endpoint, Duration::from_secs(3)).await.unwrap_err().to_string();
        assert!(e.contains(&port.to_string()) && e.contains(broker.name), "{e}");
        assert!(!e.contains("secret"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10), "{}: took {:?}", broker.name, started.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_amqp_client_closes_its_connection() {
    let url = broker_up(&rabbitmq::BROKER).await;
    let port = paybench::endpoint::port(&url, Some(rabbitmq::BROKER.default_port)).unwrap();
    let own = |snapshot: paybench::measure::wire::PortSnapshot| {
        snapshot.sockets.values().filter(|s| s.owner_pid == Some(std::process::id())).count()
    };
    let config = amqp_config("drop");
    let workers = amqp::serve_with(Codec::Protobuf, &server(&url, PaymentService::default()), config.clone())
        .await
        .expect("amqp workers");
    let before = own(paybench::measure::wire::snapshot(port).expect("ss"));
    for _ in 0..3 {
        let client =
            amqp::Client::connect_with(Codec::Protobuf, &url, &client_config(Duration::from_secs(10)), config.clone())
                .await
                .expect("amqp client");
        let req = generate(Profile::Small, 4, 0);
        assert_matches(&req, &client.call(req.clone()).await.expect("call"));
    }
    // Closing is a broker round trip: poll with a deadline, never sleep a fixed time.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = usize::MAX;
    while Instant::now() < deadline {
        after = own(paybench::measure::wire::snapshot(port).expect("ss"));
        if after <= before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        after <= before,
        "{after} of this process's sockets to the broker, {before} before three clients came and went"
    );
    workers.shutdown().await;
}
