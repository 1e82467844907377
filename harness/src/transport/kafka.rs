//! `kafka` and `kafka-json`: request/reply over Apache Kafka (rdkafka with its bundled librdkafka
//! 2.12; the suite's own Apache Kafka 4.4.0 node, or any Kafka cluster through `KAFKA_BROKERS`).
//!
//! A client produces each request to the topic `payments.authorize` with three record headers:
//! `correlation_id`, `reply_topic` and `content-type`. Workers form one consumer group on that
//! topic, call the shared business function and produce the reply to `reply_topic` (partition 0)
//! with the same `correlation_id` header. Each client creates its own one-partition reply topic
//! (`payments.authorize.replies.<uuid>`) and reads only it, by direct assignment (no group), so
//! two clients never see each other's replies; one client multiplexes any number of calls.
//!
//! **Reply topics are deleted when their client goes.** A reply topic outlives nothing useful: once
//! the client's reply consumer has closed, no one will ever read it. Left in place, they piled up
//! (one per client, and a fresh client per repetition): a suite run of about 45 minutes left the broker
//! (then Tansu 0.6) at 1.8 GB RSS. So [`Client::shutdown`] closes the reply consumer and then deletes the topic
//! (DeleteTopics, bounded by [`RETIRE_DEADLINE`]), and dropping a client does the same on a short
//! detached thread, since `Drop` cannot await and may run outside any runtime: the consumer's close
//! blocks, so it must not run on an async worker thread either.
//!
//! Why not a fixed set of shared reply topics, as Spring's `ReplyingKafkaTemplate` can use: a
//! shared topic either makes every client read and discard every other client's replies (the
//! reply path's cost would grow with the client count, which would bias the measurement), or needs
//! clients in different processes to agree on who owns which partition, a coordination problem
//! Kafka leaves to the application. A private topic keeps the reply path one partition, one
//! reader; deleting it costs one admin round trip per client, outside any measured call.
//!
//! What deletion does not cover: a process killed before it drops its clients leaves its reply
//! topics behind. They are all named `<request topic>.replies.<32 hex digits>`, so a cleanup that
//! lists topics and deletes the matching ones with no live client can remove them; the suite has
//! no such command yet (see `docs/transports.md`).
//!
//! Latency settings, each with its reason:
//!
//! | setting | value | why |
//! |---|---|---|
//! | `linger.ms` | 0 (default here; librdkafka's is 5) | a request/reply call sends one record per hop; waiting to batch adds `linger.ms` to each of the two hops |
//! | `fetch.wait.max.ms` | 5 (librdkafka's default is 500) | how long the broker may hold a fetch with no data. Apache Kafka answers a waiting fetch as soon as `fetch.min.bytes` have arrived, so this only bounds idle polling (Tansu 0.6, used before, held every fetch for the full wait) |
//! | `fetch.min.bytes` | 1 | answer as soon as any record is there |
//! | `group.protocol` | `classic` | the workers' group protocol; `consumer` (KIP-848, broker-side assignment) is an option. Classic keeps the session and heartbeat settings below in the client |
//! | `socket.nagle.disable` | true | a small record must not wait for the previous segment's ACK (delayed-ACK stalls of ~40 ms) |
//! | `acks` | 1; `all` in durable mode | one broker write before the producer is told; durable mode waits for every in-sync replica |
//! | `enable.idempotence` | durable mode only | no duplicates from producer retries |
//! | `allow.auto.create.topics` | false (producers) | a late reply to a deleted reply topic must not recreate it |
//! | offsets | auto-commit; durable mode commits each request only after its reply is acknowledged | at-least-once: a worker killed mid-request leaves it uncommitted, so the group hands it to another worker |
//!
//! Topics are created with one replica; the suite's node has `min.insync.replicas=1`. So durable
//! mode (`acks=all`) waits for the one node's write: it survives a killed worker and a killed
//! broker process (the write is in the OS page cache; Kafka's default flush policy leaves flushing
//! to the OS), not a machine crash or a lost disk, which need replicas on other machines.
//!
//! Options ([`OPTIONS`]; scenario table, `--settings` file `[kafka]`, or
//! `PAYBENCH_KAFKA_<OPTION>`): `durable`, `workers`, `partitions`, `linger_ms`,
//! `fetch_wait_max_ms`, `fetch_min_bytes`, `group_protocol`. Every librdkafka property they set is
//! recorded next to the broker in `results.json` ([`client_settings`]). The request topic and group
//! are not options: a run's `--namespace` prefixes them, and tests give their own through
//! [`serve_with`] and [`Client::connect_with`].

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig as KafkaClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::oneshot;

use futures::future::BoxFuture;

use crate::codec::Codec;
use crate::pb::{PaymentRequest, PaymentResponse};
use crate::transport::arm::{family_options, Arm, OptionKind, OptionSpec};
use crate::transport::correlation::Correlator;
use crate::transport::rpc::{handle_request, rejected};
use crate::transport::AnyClient;
use crate::transport::{with_deadline, ClientConfig, ServerConfig, ServerHandle, Transport};
use crate::{CallError, CallResult, Error, Result};

/// The request topic.
pub const DEFAULT_REQUEST_TOPIC: &str = "payments.authorize";
/// The workers' consumer group.
pub const DEFAULT_GROUP: &str = "paybench-payment-workers";
const HEADER_CORRELATION_ID: &str = "correlation_id";
const HEADER_REPLY_TOPIC: &str = "reply_topic";
const HEADER_CONTENT_TYPE: &str = "content-type";
const HEADER_ERROR: &str = "error";
/// Topic creation and group joins on a fresh broker take a few seconds; bound them.
pub(crate) const SETUP_DEADLINE: Duration = Duration::from_secs(30);
/// How long a worker waits for an unreachable broker before failing.
const CONNECT_DEADLINE: Duration = Duration::from_secs(10);
/// Bound on retiring a client's reply topic: waiting for its reader to stop, then the
/// DeleteTopics round trip. Past it the topic is left behind and a warning names it.
pub const RETIRE_DEADLINE: Duration = Duration::from_secs(5);
/// Between a reply topic's prefix and the client's uuid: `<request topic>.replies.<uuid>`.
const REPLY_TOPIC_INFIX: &str = ".replies.";

/// The prefix every reply topic of clients of `request_topic` starts with (what a cleanup of
/// topics left by killed processes would match).
pub fn reply_topic_prefix(request_topic: &str) -> String {
    format!("{request_topic}{REPLY_TOPIC_INFIX}")
}

fn name(codec: Codec) -> &'static str {
    match codec {
        Codec::Protobuf => "kafka",
        Codec::Json => "kafka-json",
    }
}

family_options! {
    /// The `kafka` family's options (see the module table for the reasons behind the defaults).
    pub struct Options {
        durable: bool = "false", OptionKind::Flag, token "durable", help "acks=all, idempotent producer, commit each request after its reply (at-least-once)";
        workers: usize = "2", OptionKind::Count { min: 1, max: 64 }, token "w", help "consumers in the workers' group; 2 = the reference machine's cores";
        partitions: i32 = "4", OptionKind::Count { min: 1, max: 256 }, token "p", help "partitions of the request topic when the suite creates it (at least `workers`)";
        linger_ms: u32 = "0", OptionKind::Count { min: 0, max: 10_000 }, token "linger", help "producer linger.ms: each of the two hops waits this long to batch";
        fetch_wait_max_ms: u32 = "5", OptionKind::Count { min: 0, max: 10_000 }, token "fetchwait", help "consumer fetch.wait.max.ms: how long the broker may hold a fetch that has no data";
        fetch_min_bytes: u32 = "1", OptionKind::Count { min: 1, max: 1_048_576 }, token "fetchmin", help "consumer fetch.min.bytes: the broker answers a fetch once this much data is there";
        group_protocol: String = "classic", OptionKind::Choice(&["classic", "consumer"]), token "gp", help "the workers' consumer group protocol: classic, or consumer (KIP-848)";
    }
}

/// The `kafka` family's option specs, from [`Options`].
pub const OPTIONS: &[OptionSpec] = Options::SPECS;

/// Kafka-specific settings (see the module table).
#[derive(Debug, Clone)]
pub struct Config {
    /// The request topic.
    pub request_topic: String,
    /// The workers' consumer group.
    pub group: String,
    /// Partitions of the request topic when this suite creates it (at least `workers`).
    pub partitions: i32,
    /// Consumers in the group started by `serve`.
    pub workers: usize,
    /// Producer `linger.ms`.
    pub linger_ms: u32,
    /// Consumer `fetch.wait.max.ms`.
    pub fetch_wait_max_ms: u32,
    /// Consumer `fetch.min.bytes`.
    pub fetch_min_bytes: u32,
    /// The workers' `group.protocol`: `classic` or `consumer`.
    pub group_protocol: String,
    /// `acks=all`, idempotent producer, commit after reply.
    pub durable: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self::with(Options::defaults())
    }
}

impl Config {
    /// The defaults with an arm's options applied.
    pub fn from_arm(arm: &Arm) -> Result<Self> {
        Ok(Self::with(Options::of(arm)?))
    }

    fn with(o: Options) -> Self {
        Self {
            request_topic: DEFAULT_REQUEST_TOPIC.to_owned(),
            group: DEFAULT_GROUP.to_owned(),
            partitions: o.partitions,
            workers: o.workers,
            linger_ms: o.linger_ms,
            fetch_wait_max_ms: o.fetch_wait_max_ms,
            fetch_min_bytes: o.fetch_min_bytes,
            group_protocol: o.group_protocol,
            durable: o.durable,
        }
    }

    /// Prefixes the request topic and the workers' group with a run's namespace.
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.request_topic = crate::transport::namespaced(namespace, &self.request_topic);
        self.group = crate::transport::namespaced(namespace, &self.group);
        self
    }

    fn acks(&self) -> &'static str {
        if self.durable {
            "all"
        } else {
            "1"
        }
    }

    /// Sets the request topic.
    pub fn with_request_topic(mut self, topic: impl Into<String>) -> Self {
        self.request_topic = topic.into();
        self
    }

    /// Sets the consumer group of the workers.
    pub fn with_group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Sets the worker count (at least 1).
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Sets `linger.ms`.
    pub fn with_linger_ms(mut self, linger_ms: u32) -> Self {
        self.linger_ms = linger_ms;
        self
    }

    /// Sets `fetch.wait.max.ms` (at least 1).
    pub fn with_fetch_wait_max_ms(mut self, ms: u32) -> Self {
        self.fetch_wait_max_ms = ms.max(1);
        self
    }

    /// Switches durable mode on or off.
    pub fn with_durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    /// Settings every client of this arm shares.
    pub(crate) fn base(&self, brokers: &str) -> KafkaClientConfig {
        let mut c = KafkaClientConfig::new();
        c.set("bootstrap.servers", brokers).set("socket.nagle.disable", "true").set("client.id", "paybench");
        c
    }

    pub(crate) fn producer(&self, brokers: &str, timeout: Duration) -> KafkaClientConfig {
        let mut c = self.base(brokers);
        c.set("linger.ms", self.linger_ms.to_string())
            .set("message.timeout.ms", timeout.as_millis().max(1).to_string())
            // Every topic is created by the suite. A late reply to a deleted reply topic must not
            // bring it back on a broker that creates topics on demand (Apache Kafka's default).
            .set("allow.auto.create.topics", "false");
        c.set("acks", self.acks()).set("enable.idempotence", self.durable.to_string());
        c
    }

    pub(crate) fn consumer(&self, brokers: &str, group: &str) -> KafkaClientConfig {
        let mut c = self.base(brokers);
        c.set("group.id", group)
            .set("fetch.wait.max.ms", self.fetch_wait_max_ms.to_string())
            .set("fetch.min.bytes", self.fetch_min_bytes.to_string())
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", if self.durable { "false" } else { "true" })
            // Also the rebalance timeout a join waits for silent members; 5 min by default.
            .set("max.poll.interval.ms", "10000")
            .set("group.protocol", &self.group_protocol);
        if self.group_protocol == "classic" {
            // A killed worker is noticed within this; Kafka's floor is 6 s. Under the `consumer`
            // protocol the broker owns these (group.consumer.session.timeout.ms, 45 s by default).
            c.set("session.timeout.ms", "6000").set("heartbeat.interval.ms", "500");
        }
        c
    }

    /// The librdkafka properties and topic settings these options resolve to, by name: what the
    /// results record next to the broker, so that a reader sees the settings behind a figure.
    pub fn client_settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("acks", self.acks().to_owned()),
            ("enable.idempotence", self.durable.to_string()),
            ("linger.ms", self.linger_ms.to_string()),
            ("fetch.wait.max.ms", self.fetch_wait_max_ms.to_string()),
            ("fetch.min.bytes", self.fetch_min_bytes.to_string()),
            ("group.protocol", self.group_protocol.clone()),
            ("request topic", self.request_topic.clone()),
            ("request topic partitions", self.partitions.max(self.workers as i32).to_string()),
            ("replication factor", "1".to_owned()),
            ("offsets committed", if self.durable { "after the reply is acked" } else { "auto" }.to_owned()),
        ]
    }
}

pub(crate) fn connect_error(transport: &'static str, brokers: &str, why: impl std::fmt::Display) -> CallError {
    CallError::Connect { transport, endpoint: brokers.to_owned(), source: why.to_string().into() }
}

pub(crate) fn call_error(transport: &'static str, brokers: &str, why: impl std::fmt::Display) -> CallError {
    CallError::Call { transport, endpoint: brokers.to_owned(), message: why.to_string() }
}

async fn probe_as(transport: &'static str, brokers: &str, timeout: Duration) -> CallResult<()> {
    let consumer: BaseConsumer =
        Config::default().base(brokers).create().map_err(|e| connect_error(transport, brokers, e))?;
    let owned = brokers.to_owned();
    tokio::task::spawn_blocking(move || consumer.fetch_metadata(None, timeout).map(|_| ()))
        .await
        .map_err(|e| connect_error(transport, &owned, e))?
        .map_err(|e| connect_error(transport, brokers, format!("no metadata within {timeout:?}: {e}")))
}

/// Creates `topic` with `partitions` unless it exists.
pub(crate) async fn ensure_topic(transport: &'static str, brokers: &str, topic: &str, partitions: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        Config::default().base(brokers).create().map_err(|e| connect_error(transport, brokers, e))?;
    let options = AdminOptions::new().operation_timeout(Some(SETUP_DEADLINE));
    let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let created = with_deadline(transport, brokers, SETUP_DEADLINE, async {
        admin
            .create_topics([&new_topic], &options)
            .await
            .map_err(|e| call_error(transport, brokers, format!("create topic {topic}: {e}")))
    })
    .await?;
    for result in created {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => return Err(call_error(transport, brokers, format!("create topic {t}: {code}")).into()),
        }
    }
    Ok(())
}

/// Deletes `topic` (a topic already gone counts as deleted). Runtime-agnostic: rdkafka's admin
/// client completes the future from its own polling thread, and librdkafka enforces the request
/// timeout, so this can be driven by `futures::executor::block_on` on a plain thread.
pub(crate) async fn delete_topic(
    transport: &'static str,
    brokers: &str,
    topic: &str,
    deadline: Duration,
) -> CallResult<()> {
    let admin: AdminClient<DefaultClientContext> =
        Config::default().base(brokers).create().map_err(|e| connect_error(transport, brokers, e))?;
    let options = AdminOptions::new().operation_timeout(Some(deadline)).request_timeout(Some(deadline));
    let deleted = admin
        .delete_topics(&[topic], &options)
        .await
        .map_err(|e| call_error(transport, brokers, format!("delete topic {topic}: {e}")))?;
    for result in deleted {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((t, code)) => return Err(call_error(transport, brokers, format!("delete topic {t}: {code}"))),
        }
    }
    Ok(())
}

fn header<'a>(msg: &'a BorrowedMessage<'a>, key: &str) -> Option<&'a [u8]> {
    msg.headers()?.iter().find(|h| h.key == key).and_then(|h| h.value)
}

fn header_str<'a>(msg: &'a BorrowedMessage<'a>, key: &str) -> Option<&'a str> {
    header(msg, key).and_then(|v| std::str::from_utf8(v).ok())
}

/// A Kafka request/reply client: one producer, one reply topic of its own, many calls in flight.
pub struct Client {
    name: &'static str,
    codec: Codec,
    brokers: String,
    timeout: Duration,
    config: Config,
    producer: FutureProducer,
    reply_topic: String,
    waiters: Arc<Correlator>,
    /// What retiring the client needs: `None` once [`Client::shutdown`] has done it.
    retire: Option<ReplyReader>,
}

/// The reply consumer and the task reading it; the task holds the other reference to the
/// consumer, so the consumer closes when the last of the two goes.
struct ReplyReader {
    consumer: Arc<StreamConsumer>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("kafka::Client")
            .field("name", &self.name)
            .field("brokers", &self.brokers)
            .field("reply_topic", &self.reply_topic)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects with explicit Kafka settings: checks the broker answers (bounded by the client
    /// timeout), creates the request topic if needed and this client's reply topic.
    pub async fn connect_with(codec: Codec, brokers: &str, client: &ClientConfig, config: Config) -> Result<Self> {
        let name = name(codec);
        probe_as(name, brokers, client.timeout.min(SETUP_DEADLINE)).await?;
        let partitions = config.partitions.max(config.workers as i32);
        ensure_topic(name, brokers, &config.request_topic, partitions).await?;
        let reply_topic = format!("{}{}", reply_topic_prefix(&config.request_topic), uuid::Uuid::new_v4().simple());
        ensure_topic(name, brokers, &reply_topic, 1).await?;

        let consumer: Arc<StreamConsumer> = Arc::new(
            config
                .consumer(brokers, &format!("paybench-client-{}", uuid::Uuid::new_v4().simple()))
                // The topic is private and read from the start by one consumer that never
                // restarts: committed offsets would never be read, only stored by the broker.
                .set("enable.auto.commit", "false")
                .create()
                .map_err(|e| connect_error(name, brokers, e))?,
        );
        let mut assignment = TopicPartitionList::new();
        // The topic is new and ours alone: every record in it is a reply to this client.
        assignment
            .add_partition_offset(&reply_topic, 0, Offset::Beginning)
            .map_err(|e| connect_error(name, brokers, e))?;
        consumer.assign(&assignment).map_err(|e| connect_error(name, brokers, e))?;
        let producer: FutureProducer =
            config.producer(brokers, client.timeout).create().map_err(|e| connect_error(name, brokers, e))?;
        let waiters = Arc::new(Correlator::default());
        let task = tokio::spawn(read_replies(consumer.clone(), waiters.clone(), name, codec));
        Ok(Self {
            name,
            codec,
            brokers: brokers.to_owned(),
            timeout: client.timeout,
            config,
            producer,
            reply_topic,
            waiters,
            retire: Some(ReplyReader { consumer, task }),
        })
    }

    /// The client's own reply topic (deleted when the client is shut down or dropped).
    pub fn reply_topic(&self) -> &str {
        &self.reply_topic
    }

    /// Stops reading replies, closes the reply consumer and deletes the reply topic, each step
    /// bounded by [`RETIRE_DEADLINE`]. Dropping the client does the same without waiting; this is
    /// for callers that must know the topic is gone (and why not, if it is not).
    pub async fn shutdown(mut self) -> Result<()> {
        let Some(ReplyReader { consumer, task }) = self.retire.take() else { return Ok(()) };
        task.abort();
        // Cancelled is the expected outcome; the wait only ensures the task's reference is gone.
        let _ = tokio::time::timeout(RETIRE_DEADLINE, task).await;
        // The close leaves the consumer's group and blocks until the broker answers: off the
        // async threads, as the workers' close is.
        let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
        with_deadline(self.name, &self.brokers, RETIRE_DEADLINE, async {
            delete_topic(self.name, &self.brokers, &self.reply_topic, RETIRE_DEADLINE).await
        })
        .await?;
        Ok(())
    }

    async fn send(&self, correlation_id: String, body: &[u8]) -> CallResult<()> {
        let headers = OwnedHeaders::new()
            .insert(Header { key: HEADER_CORRELATION_ID, value: Some(correlation_id.as_bytes()) })
            .insert(Header { key: HEADER_REPLY_TOPIC, value: Some(self.reply_topic.as_bytes()) })
            .insert(Header { key: HEADER_CONTENT_TYPE, value: Some(self.codec.content_type().as_bytes()) });
        // No key: librdkafka spreads keyless records over the partitions, hence over the workers.
        let record: FutureRecord<'_, (), [u8]> =
            FutureRecord::to(&self.config.request_topic).payload(body).headers(headers);
        self.producer
            .send(record, self.timeout)
            .await
            .map(|_| ())
            .map_err(|(e, _)| call_error(self.name, &self.brokers, format!("produce request: {e}")))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let Some(ReplyReader { consumer, task }) = self.retire.take() else { return };
        task.abort();
        let (name, brokers, topic) = (self.name, self.brokers.clone(), self.reply_topic.clone());
        // A thread, not a task: Drop may run outside a runtime or while one shuts down (which
        // would cancel a task), and the consumer's close blocks. Deleting the topic before the
        // consumer has closed would only make it log errors, so the order is kept.
        let spawned = std::thread::Builder::new().name("kafka-retire".to_owned()).spawn(move || {
            let started = std::time::Instant::now();
            while !task.is_finished() && started.elapsed() < RETIRE_DEADLINE {
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(consumer);
            if let Err(e) = futures::executor::block_on(delete_topic(name, &brokers, &topic, RETIRE_DEADLINE)) {
                tracing::warn!("{name}: reply topic {topic} left on the broker: {e}");
            }
        });
        if let Err(e) = spawned {
            tracing::warn!("{name}: reply topic {} left on the broker: no thread to delete it: {e}", self.reply_topic);
        }
    }
}

async fn read_replies(consumer: Arc<StreamConsumer>, waiters: Arc<Correlator>, name: &'static str, codec: Codec) {
    loop {
        match consumer.recv().await {
            Ok(msg) => {
                let body = msg.payload().unwrap_or_default();
                let reply = if header(&msg, HEADER_ERROR).is_some() {
                    Err(rejected(name, body))
                } else {
                    header_str(&msg, HEADER_CONTENT_TYPE)
                        .and_then(Codec::from_content_type)
                        .unwrap_or(codec)
                        .decode_response(body)
                };
                waiters.complete_text(header_str(&msg, HEADER_CORRELATION_ID), reply);
            }
            // librdkafka reconnects by itself; a call still waiting fails at its own timeout.
            Err(e) => tracing::warn!("{name}: reply consumer: {e}"),
        }
    }
}

impl Transport for Client {
    fn name(&self) -> &str {
        self.name
    }

    fn unmatched_replies(&self) -> u64 {
        self.waiters.unmatched()
    }

    fn reply_ledger(&self) -> Option<crate::transport::ReplyLedger> {
        Some(self.waiters.ledger())
    }

    async fn call(&self, req: PaymentRequest) -> CallResult<PaymentResponse> {
        let body = self.codec.encode_request(&req)?;
        self.waiters.call(self.name, &self.brokers, self.timeout, |id| self.send(id.to_string(), &body)).await
    }
}

/// Starts a consumer group of workers with explicit Kafka settings. Returns once every worker
/// holds at least one partition. Shutting the handle down stops them at once, like a crash.
pub async fn serve_with(codec: Codec, server: &ServerConfig, config: Config) -> Result<ServerHandle> {
    let name = name(codec);
    let brokers = server.broker_url.clone().ok_or_else(|| {
        Error::Config(format!("{name}: no broker endpoint given to the workers (ServerConfig::broker_url)"))
    })?;
    probe_as(name, &brokers, CONNECT_DEADLINE).await?;
    let workers = config.workers.max(1);
    ensure_topic(name, &brokers, &config.request_topic, config.partitions.max(workers as i32)).await?;
    let mut consumers = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let consumer: Arc<StreamConsumer> =
            Arc::new(config.consumer(&brokers, &config.group).create().map_err(|e| connect_error(name, &brokers, e))?);
        consumer.subscribe(&[&config.request_topic]).map_err(|e| connect_error(name, &brokers, e))?;
        let producer: FutureProducer = config
            .producer(&brokers, Duration::from_secs(10))
            .create()
            .map_err(|e| connect_error(name, &brokers, e))?;
        let worker = Worker { name, codec, service: server.service, durable: config.durable, producer };
        tasks.push(tokio::spawn(worker.run(consumer.clone())));
        consumers.push(consumer);
    }
    wait_assigned(name, &brokers, &consumers).await?;
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = stop.await;
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
        // Closing a consumer leaves the group and blocks until the broker has answered: do it
        // off the async threads, so the other workers keep running meanwhile.
        let _ = tokio::task::spawn_blocking(move || drop(consumers)).await;
    });
    Ok(ServerHandle::new(brokers, shutdown, task))
}

/// Polls until every consumer of the group holds a partition (the group has settled).
pub(crate) async fn wait_assigned(name: &'static str, brokers: &str, consumers: &[Arc<StreamConsumer>]) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        let settled = consumers.iter().all(|c| c.assignment().is_ok_and(|a| a.count() > 0));
        if settled {
            return Ok(());
        }
        if started.elapsed() > SETUP_DEADLINE {
            return Err(
                connect_error(name, brokers, format!("consumer group not assigned within {SETUP_DEADLINE:?}")).into()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Worker {
    name: &'static str,
    codec: Codec,
    service: crate::payment::PaymentService,
    durable: bool,
    producer: FutureProducer,
}

impl Worker {
    async fn run(self, consumer: Arc<StreamConsumer>) {
        loop {
            match consumer.recv().await {
                Ok(msg) => {
                    if let Err(e) = self.handle(&consumer, &msg).await {
                        tracing::warn!("{e}");
                    }
                }
                Err(e) => tracing::warn!("{}: request consumer: {e}", self.name),
            }
        }
    }

    async fn handle(&self, consumer: &StreamConsumer, msg: &BorrowedMessage<'_>) -> CallResult<()> {
        let codec = header_str(msg, HEADER_CONTENT_TYPE).and_then(Codec::from_content_type).unwrap_or(self.codec);
        let outcome = handle_request(&self.service, codec, msg.payload().unwrap_or_default()).await;
        let Some(reply_topic) = header_str(msg, HEADER_REPLY_TOPIC) else {
            return Ok(());
        };
        let mut headers = OwnedHeaders::new()
            .insert(Header { key: HEADER_CONTENT_TYPE, value: Some(codec.content_type().as_bytes()) });
        if let Some(id) = header(msg, HEADER_CORRELATION_ID) {
            headers = headers.insert(Header { key: HEADER_CORRELATION_ID, value: Some(id) });
        }
        let body = match outcome {
            Ok(body) => body,
            Err(body) => {
                headers = headers.insert(Header { key: HEADER_ERROR, value: Some(&b"1"[..]) });
                body
            }
        };
        let record: FutureRecord<'_, (), [u8]> =
            FutureRecord::to(reply_topic).partition(0).payload(&body[..]).headers(headers);
        let fail = |e: rdkafka::error::KafkaError| call_error(self.name, reply_topic, format!("produce reply: {e}"));
        if !self.durable {
            // Transient mode does not wait for the reply's ack before taking the next request.
            let delivery = self.producer.send_result(record).map_err(|(e, _)| fail(e))?;
            drop(delivery);
            return Ok(());
        }
        self.producer.send(record, Duration::from_secs(10)).await.map_err(|(e, _)| fail(e))?;
        // Commit only now that the reply is acknowledged: a crash before this line leaves the
        // request to be handed to another worker (at-least-once; the client drops duplicates).
        consumer
            .commit_message(msg, CommitMode::Async)
            .map_err(|e| call_error(self.name, reply_topic, format!("commit: {e}")))
    }
}
/// Registry entry: the arm's consumer group of workers.
pub(crate) fn serve_arm(arm: &Arm, config: &ServerConfig) -> BoxFuture<'static, Result<ServerHandle>> {
    let (arm, config) = (arm.clone(), config.clone());
    Box::pin(
        async move { serve_with(arm.codec(), &config, Config::from_arm(&arm)?.in_namespace(&config.namespace)).await },
    )
}

/// Registry entry: the settings behind the arm's figures (see [`Config::client_settings`]).
pub(crate) fn settings_arm(arm: &Arm, namespace: &str) -> Result<Vec<(&'static str, String)>> {
    Ok(Config::from_arm(arm)?.in_namespace(namespace).client_settings())
}

/// Registry entry: a producer plus a consumer of the client's own reply topic.
pub(crate) fn connect_arm(arm: &Arm, endpoint: &str, config: &ClientConfig) -> BoxFuture<'static, Result<AnyClient>> {
    let (arm, endpoint, config) = (arm.clone(), endpoint.to_owned(), config.clone());
    Box::pin(async move {
        let kafka = Config::from_arm(&arm)?.in_namespace(&config.namespace);
        let client = Client::connect_with(arm.codec(), &endpoint, &config, kafka).await?;
        Ok(AnyClient::new(&arm, client))
    })
}
