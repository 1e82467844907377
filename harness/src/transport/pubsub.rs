//! Publish/subscribe, the seam beside [`super::Transport::call`]: one "payment authorized" event
//! published once and received by every subscribing service ([`Bus`]), and a topic's history read
//! again by a new consumer ([`History`]). A registry capability ([`PubSub`]), like the backlog:
//! the family's row names it, and the `fan-out` and `replay` experiments use only this. The
//! seam's types live in [`super::arm`] beside the other capabilities (so that the family table
//! needs nothing of the families); this file is every family's implementation of them.
//!
//! | family | one event to N services | what a publish waits for | history |
//! |---|---|---|---|
//! | `kafka` | one topic (1 partition), one consumer group per service, each started and assigned before the next | the delivery report (`acks=1`; `acks=all` and idempotence when durable) | a new group reads the last M events by offset |
//! | `amqp` | a fanout exchange, one queue per service bound to it (durable queues, persistent messages and manual acks when durable) | the socket write; the publisher confirm when durable | none: a classic queue deletes a message once it is acked, and a queue bound later never sees earlier ones |
//! | `nats` | one subject, one connection and subscription per service | the client's write buffer: core NATS has no acknowledgement | none: core NATS keeps no message (JetStream would, and is not used) |
//! | `grpc`, `http` | the producer calls each of N servers of the arm, concurrently | all N answers | none: nothing is kept |
//!
//! Every subscriber runs on the caller's runtime and hands each event it receives to a [`Deliver`]
//! callback with its index; a direct arm's "receipt" is the answer of its server, seen by the
//! producer (so it includes the way back).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ExchangeKind};
use prost::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::task::JoinHandle;

use super::arm::{Arm, Bus, Deliver, History, PubSub, Replayed};
use super::{amqp, kafka, namespaced, nats, AnyClient, ClientConfig, ServerConfig, ServerHandle, Transport};
use crate::endpoint::redact;
use crate::payment::PaymentService;
use crate::pb::PaymentRequest;
use crate::{CallError, Error, Result};

/// The event's name on every broker (a topic, an exchange, a subject), in the arm's namespace.
pub const EVENT_NAME: &str = "payments.authorized";
/// The replayed topic's name, in the arm's namespace.
pub const HISTORY_TOPIC: &str = "payments.history";
/// A publish with no hand-off after this long fails.
pub const PUBLISH_WITHIN: Duration = Duration::from_secs(10);
/// Opening a connection or subscribing fails after this long.
pub const SETUP_WITHIN: Duration = Duration::from_secs(30);

/// The header every event carries before its payment: step, sequence number, publish
/// time (ns from the experiment's epoch), each a big-endian u64.
pub const HEADER_BYTES: usize = 24;

/// The event's header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The experiment step it belongs to ([`SENTINEL_STEP`] for a readiness probe).
    pub step: u64,
    /// Its number within the step.
    pub seq: u64,
    /// When its publish call began, ns from the experiment's epoch.
    pub sent_ns: u64,
}

/// The step of the events that prove every subscriber receives before a step is measured.
pub const SENTINEL_STEP: u64 = u64::MAX;

impl Header {
    /// The event: this header, then the payment's protobuf bytes.
    pub fn encode(&self, payment: &PaymentRequest) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_BYTES + payment.encoded_len());
        for v in [self.step, self.seq, self.sent_ns] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        payment.encode(&mut out).expect("a Vec grows");
        out
    }

    /// The header of an event, `None` if it is too short to carry one.
    pub fn decode(event: &[u8]) -> Option<Self> {
        let field = |i: usize| Some(u64::from_be_bytes(event.get(i * 8..i * 8 + 8)?.try_into().ok()?));
        Some(Self { step: field(0)?, seq: field(1)?, sent_ns: field(2)? })
    }
}

fn broker_error(transport: &'static str, endpoint: &str, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Call(CallError::Call { transport, endpoint: redact(endpoint), message: format!("{what}: {e}") })
}

// --- kafka ------------------------------------------------------------------------------------

const KAFKA: &str = "kafka fan-out";

/// Registry entry of `kafka`.
pub static KAFKA_PUBSUB: PubSub = PubSub { open: open_kafka, history: History::Replay(replay_kafka) };

struct KafkaBus {
    brokers: String,
    topic: String,
    config: kafka::Config,
    producer: FutureProducer,
    subscribers: Mutex<Vec<(Arc<StreamConsumer>, JoinHandle<()>)>>,
}

fn open_kafka(arm: &Arm, endpoint: &str, namespace: &str, _work: Duration) -> BoxFuture<'static, Result<Box<dyn Bus>>> {
    let (arm, brokers, namespace) = (arm.clone(), endpoint.to_owned(), namespace.to_owned());
    Box::pin(async move {
        let config = kafka::Config::from_arm(&arm)?.in_namespace(&namespace);
        let topic = namespaced(&namespace, EVENT_NAME);
        kafka::ensure_topic(KAFKA, &brokers, &topic, 1).await?;
        let producer: FutureProducer = config
            .producer(&brokers, PUBLISH_WITHIN)
            .create()
            .map_err(|e| broker_error(KAFKA, &brokers, "create producer", e))?;
        let subscribers = Mutex::new(Vec::new());
        Ok(Box::new(KafkaBus { brokers, topic, config, producer, subscribers }) as Box<dyn Bus>)
    })
}

impl Bus for KafkaBus {
    fn publish(&self, event: Vec<u8>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let record = FutureRecord::<(), _>::to(&self.topic).payload(&event);
            match self.producer.send(record, Timeout::After(PUBLISH_WITHIN)).await {
                Ok(_) => Ok(()),
                Err((e, _)) => Err(broker_error(KAFKA, &self.brokers, "publish", e)),
            }
        })
    }

    fn subscribe(&self, index: usize, deliver: Deliver) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            // A group of its own per service: each gets every event. It starts at the latest
            // offset, so a service added later does not read the earlier steps' events.
            let group = format!("{}.service{index}", self.topic);
            let mut settings = self.config.consumer(&self.brokers, &group);
            settings.set("auto.offset.reset", "latest").set("enable.auto.commit", "true");
            let consumer: StreamConsumer =
                settings.create().map_err(|e| broker_error(KAFKA, &self.brokers, "create consumer", e))?;
            consumer.subscribe(&[&self.topic]).map_err(|e| broker_error(KAFKA, &self.brokers, "subscribe", e))?;
            let consumer = Arc::new(consumer);
            let reader = consumer.clone();
            let task = tokio::spawn(async move {
                let mut stream = reader.stream();
                while let Some(message) = stream.next().await {
                    match message {
                        Ok(m) => deliver(index, m.payload().unwrap_or_default()),
                        Err(e) => tracing::warn!("{KAFKA}: service {index}: {e}"),
                    }
                }
            });
            // Wait for its assignment before the next group joins: one rebalance at a time.
            kafka::wait_assigned(KAFKA, &self.brokers, std::slice::from_ref(&consumer)).await?;
            self.subscribers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((consumer, task));
            Ok(())
        })
    }

    fn handed_off(&self) -> String {
        let acks = if self.config.durable { "acks=all, idempotent" } else { "acks=1" };
        format!("Kafka's delivery report ({acks})")
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let subscribers = std::mem::take(&mut *self.subscribers.lock().unwrap_or_else(|p| p.into_inner()));
            for (_, task) in &subscribers {
                task.abort();
            }
            // Leaving a group blocks until the broker answers: off the async threads.
            let _ = tokio::task::spawn_blocking(move || drop(subscribers)).await;
            if let Err(e) = kafka::delete_topic(KAFKA, &self.brokers, &self.topic, SETUP_WITHIN).await {
                tracing::warn!("{e}");
            }
        })
    }
}

fn replay_kafka(
    arm: &Arm,
    endpoint: &str,
    namespace: &str,
    older: u64,
    events: u64,
) -> BoxFuture<'static, Result<Replayed>> {
    const REPLAY: &str = "kafka replay";
    let (arm, brokers, namespace) = (arm.clone(), endpoint.to_owned(), namespace.to_owned());
    Box::pin(async move {
        let config = kafka::Config::from_arm(&arm)?.in_namespace(&namespace);
        let topic = namespaced(&namespace, HISTORY_TOPIC);
        kafka::ensure_topic(REPLAY, &brokers, &topic, 1).await?;
        let producer: FutureProducer = config
            .producer(&brokers, PUBLISH_WITHIN)
            .create()
            .map_err(|e| broker_error(REPLAY, &brokers, "create producer", e))?;
        // The history: `older` events, then the `events` to replay, each numbered in order.
        let payment = crate::payload::generate(crate::payload::Profile::Typical, 1, 0);
        let sends = (0..older + events).map(|seq| {
            let event = Header { step: 0, seq, sent_ns: 0 }.encode(&payment);
            let (producer, topic) = (&producer, &topic);
            async move {
                let record = FutureRecord::<(), _>::to(topic).payload(&event);
                producer.send(record, Timeout::After(PUBLISH_WITHIN)).await.map(|_| ()).map_err(|(e, _)| e)
            }
        });
        let mut sent = futures::stream::iter(sends).buffer_unordered(1024);
        while let Some(result) = sent.next().await {
            result.map_err(|e| broker_error(REPLAY, &brokers, "publish the history", e))?;
        }
        // A new group, assigned the partition at the offset M events before its end.
        let group = format!("{topic}.replay");
        let (brokers_owned, topic_owned) = (brokers.clone(), topic.clone());
        let replayed = tokio::task::spawn_blocking(move || {
            read_last(&config, &brokers_owned, &topic_owned, &group, events, SETUP_WITHIN)
        })
        .await
        .map_err(|e| Error::Internal(format!("{REPLAY}: the reading thread: {e}")))?;
        if let Err(e) = kafka::delete_topic(REPLAY, &brokers, &topic, SETUP_WITHIN).await {
            tracing::warn!("{e}");
        }
        replayed
    })
}

/// Reads the last `events` of partition 0 of `topic` with a new consumer of `group`, for at most
/// `within`.
fn read_last(
    config: &kafka::Config,
    brokers: &str,
    topic: &str,
    group: &str,
    events: u64,
    within: Duration,
) -> Result<Replayed> {
    const REPLAY: &str = "kafka replay";
    let fail = |what: &str, e: &dyn std::fmt::Display| broker_error(REPLAY, brokers, what, e);
    let started = std::time::Instant::now();
    let mut settings = config.consumer(brokers, group);
    settings.set("enable.auto.commit", "false");
    let consumer: BaseConsumer = settings.create().map_err(|e| fail("create consumer", &e))?;
    let (_, high) = consumer.fetch_watermarks(topic, 0, within).map_err(|e| fail("watermarks", &e))?;
    let from = high - i64::try_from(events).unwrap_or(i64::MAX).min(high);
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, 0, Offset::Offset(from)).map_err(|e| fail("offset", &e))?;
    consumer.assign(&list).map_err(|e| fail("assign", &e))?;
    let (mut seqs, mut first, mut last) = (Vec::new(), None, started);
    while (seqs.len() as u64) < events && started.elapsed() < within {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                last = std::time::Instant::now();
                first.get_or_insert(last);
                seqs.push(m.payload().and_then(Header::decode).map_or(u64::MAX, |h| h.seq));
            }
            Some(Err(e)) => return Err(fail("read", &e)),
            None => {}
        }
    }
    Ok(Replayed {
        how: format!(
            "Kafka: a new consumer group assigned partition 0 of a 1-partition topic at offset {from} (the high watermark {high} minus M)"
        ),
        seqs,
        first_after: first.map(|f| f - started),
        span: first.map_or(Duration::ZERO, |f| last - f),
    })
}

// --- amqp -------------------------------------------------------------------------------------

const AMQP: &str = "amqp fan-out";

/// Registry entry of `amqp`.
pub static AMQP_PUBSUB: PubSub = PubSub {
    open: open_amqp,
    history: History::Cannot(
        "RabbitMQ classic queues delete a message once it is acked, and a queue bound later never sees earlier messages (a RabbitMQ stream could replay; it is not this arm)",
    ),
};

struct AmqpBus {
    endpoint: String,
    exchange: String,
    durable: bool,
    delivery_mode: u8,
    connection: Connection,
    channel: Channel,
    subscribers: Mutex<Vec<(Connection, JoinHandle<()>)>>,
}

fn open_amqp(arm: &Arm, endpoint: &str, namespace: &str, _work: Duration) -> BoxFuture<'static, Result<Box<dyn Bus>>> {
    let (arm, endpoint, namespace) = (arm.clone(), endpoint.to_owned(), namespace.to_owned());
    Box::pin(async move {
        let config = amqp::Config::from_arm(&arm)?;
        let exchange = namespaced(&namespace, EVENT_NAME);
        let connection = amqp::open(AMQP, &endpoint, SETUP_WITHIN).await?;
        let fail = |what: &'static str| {
            let endpoint = endpoint.clone();
            move |e| Error::Call(amqp::lapin_error(AMQP, &endpoint, what, e))
        };
        let channel = connection.create_channel().await.map_err(fail("create channel"))?;
        if config.durable {
            channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(fail("confirm.select"))?;
        }
        let options = ExchangeDeclareOptions { durable: config.durable, ..ExchangeDeclareOptions::default() };
        channel
            .exchange_declare(&exchange, ExchangeKind::Fanout, options, FieldTable::default())
            .await
            .map_err(fail("declare the fanout exchange"))?;
        Ok(Box::new(AmqpBus {
            endpoint,
            exchange,
            durable: config.durable,
            delivery_mode: config.delivery_mode(),
            connection,
            channel,
            subscribers: Mutex::new(Vec::new()),
        }) as Box<dyn Bus>)
    })
}

impl Bus for AmqpBus {
    fn publish(&self, event: Vec<u8>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let fail = |e| Error::Call(amqp::lapin_error(AMQP, &self.endpoint, "publish", e));
            let properties = BasicProperties::default().with_delivery_mode(self.delivery_mode);
            let confirm = self
                .channel
                .basic_publish(&self.exchange, "", BasicPublishOptions::default(), &event, properties)
                .await
                .map_err(fail)?;
            // Durable: the broker's confirm (on disk in every bound queue); else resolves at once.
            if confirm.await.map_err(fail)?.is_nack() {
                return Err(broker_error(AMQP, &self.endpoint, "publish", "the broker refused (nacked) the event"));
            }
            Ok(())
        })
    }

    fn subscribe(&self, index: usize, deliver: Deliver) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let fail = |what: &'static str| move |e| Error::Call(amqp::lapin_error(AMQP, &self.endpoint, what, e));
            // A service of its own: its own connection and queue.
            let connection = amqp::open(AMQP, &self.endpoint, SETUP_WITHIN).await?;
            let channel = connection.create_channel().await.map_err(fail("create channel"))?;
            let queue = format!("{}.service{index}", self.exchange);
            let (options, mut arguments) = if self.durable {
                (QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() }, FieldTable::default())
            } else {
                let exclusive = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
                (exclusive, FieldTable::default())
            };
            // A durable service queue outlives the run only briefly.
            arguments.insert("x-expires".into(), AMQPValue::LongUInt(120_000));
            channel.queue_declare(&queue, options, arguments).await.map_err(fail("declare the service queue"))?;
            channel
                .queue_bind(&queue, &self.exchange, "", QueueBindOptions::default(), FieldTable::default())
                .await
                .map_err(fail("bind the service queue"))?;
            let no_ack = !self.durable;
            let options = BasicConsumeOptions { no_ack, ..BasicConsumeOptions::default() };
            let consumer = channel
                .basic_consume(&queue, "", options, FieldTable::default())
                .await
                .map_err(fail("consume the service queue"))?;
            let task = tokio::spawn(async move {
                let mut consumer = consumer;
                while let Some(delivery) = consumer.next().await {
                    match delivery {
                        Ok(d) => {
                            deliver(index, &d.data);
                            if !no_ack {
                                let _ = d.acker.ack(BasicAckOptions::default()).await;
                            }
                        }
                        Err(e) => tracing::warn!("{AMQP}: service {index}: {e}"),
                    }
                }
            });
            self.subscribers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((connection, task));
            Ok(())
        })
    }

    fn handed_off(&self) -> String {
        if self.durable {
            "RabbitMQ's publisher confirm (persistent, in every durable queue)".to_owned()
        } else {
            "the socket write (transient, no confirm)".to_owned()
        }
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let subscribers = std::mem::take(&mut *self.subscribers.lock().unwrap_or_else(|p| p.into_inner()));
            let queues: Vec<String> = (0..subscribers.len()).map(|i| format!("{}.service{i}", self.exchange)).collect();
            for (connection, task) in subscribers {
                task.abort();
                let _ = tokio::time::timeout(SETUP_WITHIN, connection.close(200, "")).await;
            }
            let cleanup = async {
                for queue in &queues {
                    let _ = self.channel.queue_delete(queue, Default::default()).await;
                }
                let _ = self.channel.exchange_delete(&self.exchange, Default::default()).await;
                let _ = self.connection.close(200, "").await;
            };
            let _ = tokio::time::timeout(SETUP_WITHIN, cleanup).await;
        })
    }
}

// --- nats -------------------------------------------------------------------------------------

const NATS: &str = "nats fan-out";

/// Registry entry of `nats`.
pub static NATS_PUBSUB: PubSub = PubSub {
    open: open_nats,
    history: History::Cannot("core NATS keeps no message: one published while no one listens is gone (JetStream would keep it; this arm is core NATS)"),
};

struct NatsBus {
    endpoint: String,
    subject: String,
    client: async_nats::Client,
    subscribers: Mutex<Vec<(async_nats::Client, JoinHandle<()>)>>,
}

fn open_nats(_arm: &Arm, endpoint: &str, namespace: &str, _work: Duration) -> BoxFuture<'static, Result<Box<dyn Bus>>> {
    let (endpoint, namespace) = (endpoint.to_owned(), namespace.to_owned());
    Box::pin(async move {
        let client = nats::open(NATS, &endpoint, SETUP_WITHIN).await?;
        let subject = namespaced(&namespace, EVENT_NAME);
        Ok(Box::new(NatsBus { endpoint, subject, client, subscribers: Mutex::new(Vec::new()) }) as Box<dyn Bus>)
    })
}

impl Bus for NatsBus {
    fn publish(&self, event: Vec<u8>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.client
                .publish(self.subject.clone(), event.into())
                .await
                .map_err(|e| broker_error(NATS, &self.endpoint, "publish", e))
        })
    }

    fn subscribe(&self, index: usize, deliver: Deliver) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let client = nats::open(NATS, &self.endpoint, SETUP_WITHIN).await?;
            let mut subscriber = client
                .subscribe(self.subject.clone())
                .await
                .map_err(|e| broker_error(NATS, &self.endpoint, "subscribe", e))?;
            // The server has the subscription once a flush has round-tripped.
            client.flush().await.map_err(|e| broker_error(NATS, &self.endpoint, "flush", e))?;
            let task = tokio::spawn(async move {
                while let Some(message) = subscriber.next().await {
                    deliver(index, &message.payload);
                }
            });
            self.subscribers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((client, task));
            Ok(())
        })
    }

    fn handed_off(&self) -> String {
        "the client's write buffer (core NATS has no acknowledgement)".to_owned()
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let subscribers = std::mem::take(&mut *self.subscribers.lock().unwrap_or_else(|p| p.into_inner()));
            for (_, task) in &subscribers {
                task.abort();
            }
        })
    }
}

// --- direct -----------------------------------------------------------------------------------

/// Registry entry of the direct families (`grpc`, `http`).
pub static DIRECT_PUBSUB: PubSub =
    PubSub { open: open_direct, history: History::Cannot("a direct call keeps nothing: there is no history to read") };

/// N servers of the arm, and a client of each: a publish is N concurrent calls.
struct DirectBus {
    arm: Arm,
    /// Each server's business function, with the work per event.
    service: PaymentService,
    services: tokio::sync::RwLock<Vec<(ServerHandle, AnyClient, Deliver)>>,
}

fn open_direct(
    arm: &Arm,
    _endpoint: &str,
    _namespace: &str,
    work: Duration,
) -> BoxFuture<'static, Result<Box<dyn Bus>>> {
    let (arm, service) = (arm.clone(), PaymentService::with_service_time(work));
    Box::pin(async move { Ok(Box::new(DirectBus { arm, service, services: Default::default() }) as Box<dyn Bus>) })
}

impl Bus for DirectBus {
    fn publish(&self, event: Vec<u8>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let payment = PaymentRequest::decode(event.get(HEADER_BYTES..).unwrap_or_default())
                .map_err(|e| Error::Internal(format!("direct fan-out: an event's payment does not decode: {e}")))?;
            let services = self.services.read().await;
            let calls = services.iter().enumerate().map(|(i, (_, client, deliver))| {
                let (payment, event) = (payment.clone(), &event);
                async move {
                    client.call(payment).await?;
                    deliver(i, event);
                    Ok::<_, CallError>(())
                }
            });
            for result in futures::future::join_all(calls).await {
                result?;
            }
            Ok(())
        })
    }

    fn subscribe(&self, _index: usize, deliver: Deliver) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let config = ServerConfig { service: self.service, ..ServerConfig::default() };
            let server = super::serve(&self.arm, &config).await?;
            let client = super::connect(&self.arm, server.endpoint(), &ClientConfig::default()).await?;
            self.services.write().await.push((server, client, deliver));
            Ok(())
        })
    }

    fn handed_off(&self) -> String {
        format!("all N {} calls answered", self.arm)
    }

    fn received_at(&self) -> &'static str {
        "on the producer, as each service's answer arrives (a direct call has no one-way receipt)"
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            for (server, client, _) in self.services.into_inner() {
                drop(client);
                server.shutdown().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_header_round_trips_and_a_short_event_has_none() {
        let payment = crate::payload::generate(crate::payload::Profile::Small, 1, 0);
        let header = Header { step: 2, seq: 7, sent_ns: 123_456_789 };
        let event = header.encode(&payment);
        assert_eq!(Header::decode(&event), Some(header));
        assert_eq!(PaymentRequest::decode(&event[HEADER_BYTES..]).unwrap(), payment);
        assert_eq!(Header::decode(&event[..HEADER_BYTES - 1]), None);
    }
}
