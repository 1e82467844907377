//! Reading a broker's backlog for the families whose broker keeps one ([`Backlog`], a registry
//! capability): the requests sent and not yet taken by a worker, as the broker counts them.
//!
//! | family | what is read | how |
//! |---|---|---|
//! | `amqp` | messages ready in the request queue (not those delivered and unacked) | a passive `queue.declare` on a connection of its own |
//! | `kafka` | the workers' consumer lag on the request topic: per partition, the high watermark minus the group's committed offset (minus the low watermark before any commit) | librdkafka's watermarks and committed offsets, on a consumer of its own that never joins the group |
//! | `nats` | none: core NATS keeps no queue (a request no subscriber takes is dropped at once) | — |
//!
//! Kafka's lag moves when offsets are committed: durable workers commit each request after its
//! reply, transient ones auto-commit every 5 s (librdkafka's default), so their lag is a staircase
//! that can read up to 5 s of requests high.

use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::arm::{Arm, Backlog};
use super::{amqp, kafka};
use crate::endpoint::redact;
use crate::{Error, Result};

/// A backlog read that takes longer than this is an error: the broker is down or stuck, and the
/// sampler says so instead of waiting.
pub const READ_WITHIN: Duration = Duration::from_secs(2);

/// How long a new Kafka backlog reader waits for the group's coordinator: on a fresh broker the
/// offsets topic is created at the first group request, which takes seconds.
pub const COORDINATOR_WITHIN: Duration = Duration::from_secs(30);

/// RabbitMQ: messages ready in the arm's request queue.
struct QueueReady {
    /// Its own single-threaded runtime: lapin's I/O runs while a read waits, and never on the
    /// client's or the server's threads.
    runtime: tokio::runtime::Runtime,
    connection: Option<Connection>,
    channel: Channel,
    queue: String,
    endpoint: String,
}

/// Registry entry of `amqp`: the arm's request queue on the broker at `endpoint`.
pub(crate) fn rabbitmq_queue(arm: &Arm, endpoint: &str, namespace: &str) -> Result<Box<dyn Backlog>> {
    let queue = amqp::Config::from_arm(arm)?.in_namespace(namespace).queue;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start the backlog reader's runtime", e))?;
    let connection = runtime.block_on(amqp::open("amqp backlog", endpoint, READ_WITHIN))?;
    let channel = runtime
        .block_on(connection.create_channel())
        .map_err(|e| Error::Config(format!("amqp backlog: open a channel on {}: {e}", redact(endpoint))))?;
    Ok(Box::new(QueueReady { runtime, connection: Some(connection), channel, queue, endpoint: redact(endpoint) }))
}

impl Backlog for QueueReady {
    fn read(&mut self) -> Result<u64> {
        // Passive: reads the queue's counts, and fails (closing the channel) if it does not exist.
        let options = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
        let declare = self.channel.queue_declare(&self.queue, options, FieldTable::default());
        match self.runtime.block_on(async { tokio::time::timeout(READ_WITHIN, declare).await }) {
            Ok(Ok(queue)) => Ok(u64::from(queue.message_count())),
            Ok(Err(e)) => Err(Error::Config(format!("amqp backlog: queue {} on {}: {e}", self.queue, self.endpoint))),
            Err(_) => Err(Error::Config(format!(
                "amqp backlog: queue {} on {}: no answer within {READ_WITHIN:?}",
                self.queue, self.endpoint
            ))),
        }
    }

    fn describe(&self) -> String {
        format!("RabbitMQ: messages ready in queue {}", self.queue)
    }
}

impl Drop for QueueReady {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            let _ = self.runtime.block_on(async { tokio::time::timeout(READ_WITHIN, connection.close(200, "")).await });
        }
    }
}

/// Kafka: the workers' group lag on the request topic.
struct GroupLag {
    consumer: BaseConsumer,
    topic: String,
    group: String,
    /// The workers auto-commit (transient mode): their committed offsets trail what they have
    /// processed by up to the commit interval, so the lag counts those requests too.
    auto_commit: bool,
}

/// Registry entry of `kafka`: the lag of the arm's worker group on its request topic.
pub(crate) fn kafka_group_lag(arm: &Arm, endpoint: &str, namespace: &str) -> Result<Box<dyn Backlog>> {
    let config = kafka::Config::from_arm(arm)?.in_namespace(namespace);
    // The group's id lets it read the group's committed offsets; it never subscribes, so it never
    // joins the group or takes a partition from a worker.
    let consumer: BaseConsumer = config
        .base(endpoint)
        .set("group.id", &config.group)
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| Error::Config(format!("kafka backlog: consumer for {endpoint}: {e}")))?;
    let reader = GroupLag { consumer, topic: config.request_topic, group: config.group, auto_commit: !config.durable };
    // The coordinator ready before the window opens, not during it (an empty list would not ask it).
    let mut first = TopicPartitionList::new();
    first.add_partition(&reader.topic, 0);
    reader
        .committed(first, COORDINATOR_WITHIN)
        .map_err(|e| Error::Config(format!("kafka backlog: the coordinator of group {}: {e}", reader.group)))?;
    Ok(Box::new(reader))
}

impl GroupLag {
    /// The group's committed offsets of `list`, retried while the group's coordinator is moving
    /// or loading (retriable, and usual on a broker that just started), for at most `within`.
    fn committed(&self, list: TopicPartitionList, within: Duration) -> KafkaResult<TopicPartitionList> {
        let until = std::time::Instant::now() + within;
        loop {
            match self.consumer.committed_offsets(list.clone(), READ_WITHIN) {
                Err(e) if coordinator_not_ready(&e) && std::time::Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                other => return other,
            }
        }
    }
}

fn coordinator_not_ready(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::CoordinatorNotAvailable
                | RDKafkaErrorCode::CoordinatorLoadInProgress
        )
    )
}

impl Backlog for GroupLag {
    fn read(&mut self) -> Result<u64> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            Error::Config(format!("kafka backlog: {what} of topic {} (group {}): {e}", self.topic, self.group))
        };
        let metadata =
            self.consumer.fetch_metadata(Some(&self.topic), READ_WITHIN).map_err(|e| fail("metadata", &e))?;
        let partitions: Vec<i32> =
            metadata.topics().iter().flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
        let mut list = TopicPartitionList::new();
        for &p in &partitions {
            list.add_partition(&self.topic, p);
        }
        let committed = self.committed(list, READ_WITHIN).map_err(|e| fail("committed offsets", &e))?;
        let mut lag = 0;
        for &p in &partitions {
            let (low, high) =
                self.consumer.fetch_watermarks(&self.topic, p, READ_WITHIN).map_err(|e| fail("watermarks", &e))?;
            let from = match committed.find_partition(&self.topic, p).map(|e| e.offset()) {
                Some(Offset::Offset(done)) => done,
                // No commit yet: the group starts at the earliest message (`auto.offset.reset`).
                _ => low,
            };
            lag += u64::try_from(high - from).unwrap_or(0);
        }
        Ok(lag)
    }

    fn describe(&self) -> String {
        let trails = if self.auto_commit {
            "; the workers auto-commit every 5 s, so it also counts up to 5 s of requests already processed"
        } else {
            ""
        };
        format!("Kafka: lag of group {} on topic {} (committed offsets{trails})", self.group, self.topic)
    }
}
