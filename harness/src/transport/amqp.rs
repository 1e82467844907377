//! `amqp` and `amqp-json`: RPC over RabbitMQ (AMQP 0-9-1, lapin on tokio).
//!
//! A client publishes each request to the durable queue `payments.authorize` through the default
//! exchange, with `reply_to` and a `correlation_id`; workers consume that queue, call the shared
//! business function and publish the reply to `reply_to` with the same `correlation_id`. One
//! client multiplexes any number of in-flight calls on one channel, matched by correlation id.
//!
//! | knob | default | env | why |
//! |---|---|---|---|
//! | [`Config::reply_to`] | direct reply-to | `PAYBENCH_AMQP_REPLY_TO=direct\|queue` | `amq.rabbitmq.reply-to` skips declaring and routing through a reply queue; `queue` gives each client an exclusive server-named reply queue, the classic pattern |
//! | [`Config::durable`] | off | `PAYBENCH_AMQP_DURABLE=1` | transient messages and auto-ack are at-most-once but cost no disk write or ack round trip; durable = persistent messages, publisher confirms on both sides, manual ack after the reply is confirmed (at-least-once) |
//! | [`Config::workers`] | 2 | `PAYBENCH_AMQP_WORKERS` | one connection each; 2 = the machine's cores |
//! | [`Config::prefetch`] | 64 | `PAYBENCH_AMQP_PREFETCH` | requests one worker processes at once (and, in durable mode, `basic.qos`): deep enough to hide the confirm round trip, small enough that a killed worker hands back little |
//! | [`Config::queue`] | `payments.authorize` | `PAYBENCH_AMQP_QUEUE` | tests use their own queue |
//!
//! Message properties: `content_type` is the codec's (`application/x-protobuf` or
//! `application/json`) and workers decode by it, so one worker pool serves both arms; `type` is
//! `payment.response` or `payment.error`. An error reply's body is `code: message`, which the
//! client maps to [`Error::Rejected`]; a worker keeps serving after a malformed body or a domain
//! error.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use tokio::sync::oneshot;

use crate::brokers::{env, parse_env, parse_flag, redact, ReplyWaiters};
use crate::codec::Codec;
use crate::pb::{PaymentRequest, PaymentResponse};
use crate::transport::{ClientConfig, ServerConfig, ServerHandle, Transport};
use crate::{Error, Result};

/// The request queue every worker consumes.
pub const DEFAULT_QUEUE: &str = "payments.authorize";
/// RabbitMQ's pseudo-queue for direct reply-to.
pub const DIRECT_REPLY_TO: &str = "amq.rabbitmq.reply-to";
const TYPE_RESPONSE: &str = "payment.response";
const TYPE_ERROR: &str = "payment.error";
const DELIVERY_TRANSIENT: u8 = 1;
/// How long a worker waits for an unreachable broker before failing.
const WORKER_CONNECT_DEADLINE: Duration = Duration::from_secs(10);
const DELIVERY_PERSISTENT: u8 = 2;

fn name(codec: Codec) -> &'static str {
    match codec {
        Codec::Protobuf => "amqp",
        Codec::Json => "amqp-json",
    }
}

/// Where a client receives its replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyTo {
    /// RabbitMQ direct reply-to (`amq.rabbitmq.reply-to`): no reply queue at all.
    Direct,
    /// An exclusive, server-named reply queue per client.
    ExclusiveQueue,
}

/// RabbitMQ-specific settings (see the module table).
#[derive(Debug, Clone)]
pub struct Config {
    /// The request queue.
    pub queue: String,
    /// Reply path of a client.
    pub reply_to: ReplyTo,
    /// Persistent messages, publisher confirms and manual acks.
    pub durable: bool,
    /// Worker connections started by `serve`.
    pub workers: usize,
    /// Requests in process per worker (and `basic.qos` prefetch in durable mode).
    pub prefetch: u16,
    /// Deletes the request queue after this long unused (`x-expires`); for throwaway test queues.
    pub queue_expires: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            queue: DEFAULT_QUEUE.to_owned(),
            reply_to: ReplyTo::Direct,
            durable: false,
            workers: 2,
            prefetch: 64,
            queue_expires: None,
        }
    }
}

impl Config {
    /// The settings that decide this arm's latency, as recorded next to every result.
    pub fn latency_settings(&self) -> std::collections::BTreeMap<String, String> {
        let reply_to = match self.reply_to {
            ReplyTo::Direct => "direct (amq.rabbitmq.reply-to)",
            ReplyTo::ExclusiveQueue => "exclusive reply queue",
        };
        let durability = if self.durable {
            "durable: persistent messages, publisher confirms, manual ack after reply"
        } else {
            "transient, auto-ack"
        };
        [
            ("reply_to", reply_to.to_owned()),
            ("durability", durability.to_owned()),
            ("workers", self.workers.to_string()),
            ("prefetch", self.prefetch.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Defaults overridden by `PAYBENCH_AMQP_*` variables; a malformed value is an error naming it.
    pub fn from_env() -> Result<Self> {
        let mut config = Self::default();
        if let Some(v) = env("PAYBENCH_AMQP_QUEUE") {
            config.queue = v;
        }
        if let Some(v) = env("PAYBENCH_AMQP_REPLY_TO") {
            config.reply_to = match v.as_str() {
                "direct" => ReplyTo::Direct,
                "queue" => ReplyTo::ExclusiveQueue,
                _ => return Err(Error::Config(format!("PAYBENCH_AMQP_REPLY_TO={v:?}: expected direct or queue"))),
            };
        }
        if let Some(v) = env("PAYBENCH_AMQP_DURABLE") {
            config.durable = parse_flag("PAYBENCH_AMQP_DURABLE", &v)?;
        }
        if let Some(v) = env("PAYBENCH_AMQP_WORKERS") {
            config.workers = parse_env("PAYBENCH_AMQP_WORKERS", &v)?;
        }
        if let Some(v) = env("PAYBENCH_AMQP_PREFETCH") {
            config.prefetch = parse_env("PAYBENCH_AMQP_PREFETCH", &v)?;
        }
        Ok(config)
    }

    /// Sets the request queue.
    pub fn with_queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// Sets the reply path.
    pub fn with_reply_to(mut self, reply_to: ReplyTo) -> Self {
        self.reply_to = reply_to;
        self
    }

    /// Switches durable mode on or off.
    pub fn with_durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    /// Sets the worker count (at least 1).
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Sets the per-worker prefetch (at least 1).
    pub fn with_prefetch(mut self, prefetch: u16) -> Self {
        self.prefetch = prefetch.max(1);
        self
    }

    /// Lets an unused request queue expire (test queues).
    pub fn with_queue_expires(mut self, after: Duration) -> Self {
        self.queue_expires = Some(after);
        self
    }

    fn delivery_mode(&self) -> u8 {
        if self.durable {
            DELIVERY_PERSISTENT
        } else {
            DELIVERY_TRANSIENT
        }
    }
}

/// Opens a connection on the current tokio runtime, failing within `timeout` with the URL named.
async fn open(transport: &'static str, endpoint: &str, timeout: Duration) -> Result<Connection> {
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current());
    let connect_error =
        |source: crate::error::BoxError| Error::Connect { transport, endpoint: redact(endpoint), source };
    match tokio::time::timeout(timeout, Connection::connect(endpoint, properties)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) => Err(connect_error(Box::new(e))),
        Err(_) => Err(connect_error(format!("no AMQP handshake within {timeout:?}").into())),
    }
}

/// One readiness check: an AMQP handshake that is closed again.
pub(crate) async fn probe(endpoint: &str, timeout: Duration) -> Result<()> {
    let connection = open("amqp", endpoint, timeout).await?;
    let _ = connection.close(200, "probe").await;
    Ok(())
}

fn lapin_error(transport: &'static str, endpoint: &str, what: &str, e: lapin::Error) -> Error {
    Error::Call { transport, endpoint: redact(endpoint), message: format!("{what}: {e}") }
}

/// Declares the durable request queue (clients too, so requests wait for workers that start later).
async fn declare_request_queue(channel: &Channel, config: &Config) -> lapin::Result<()> {
    let mut arguments = FieldTable::default();
    if let Some(after) = config.queue_expires {
        arguments.insert("x-expires".into(), AMQPValue::LongUInt(after.as_millis() as u32));
    }
    let options = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
    channel.queue_declare(&config.queue, options, arguments).await.map(|_| ())
}

/// A RabbitMQ RPC client: one connection, one channel, many calls in flight.
#[derive(Debug)]
pub struct Client {
    name: &'static str,
    codec: Codec,
    endpoint: String,
    timeout: Duration,
    config: Config,
    channel: Channel,
    reply_to: String,
    waiters: Arc<ReplyWaiters>,
    _connection: Connection,
}

impl Client {
    /// Connects to the broker at `endpoint` (an AMQP URL) with [`Config::from_env`].
    pub async fn connect(codec: Codec, endpoint: &str, config: &ClientConfig) -> Result<Self> {
        Self::connect_with(codec, endpoint, config, Config::from_env()?).await
    }

    /// Connects with explicit RabbitMQ settings.
    pub async fn connect_with(codec: Codec, endpoint: &str, client: &ClientConfig, config: Config) -> Result<Self> {
        let name = name(codec);
        let connection = open(name, endpoint, client.timeout).await?;
        let fail = |what: &'static str| move |e| lapin_error(name, endpoint, what, e);
        let channel = connection.create_channel().await.map_err(fail("create channel"))?;
        declare_request_queue(&channel, &config).await.map_err(fail("declare request queue"))?;
        if config.durable {
            channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(fail("confirm.select"))?;
        }
        let reply_to = match config.reply_to {
            ReplyTo::Direct => DIRECT_REPLY_TO.to_owned(),
            ReplyTo::ExclusiveQueue => {
                let options =
                    QueueDeclareOptions { exclusive: true, auto_delete: true, ..QueueDeclareOptions::default() };
                let queue = channel.queue_declare("", options, FieldTable::default()).await;
                queue.map_err(fail("declare reply queue"))?.name().to_string()
            }
        };
        // Replies are consumed with no_ack: a reply is useful only to this live client, and direct
        // reply-to requires it.
        let options = BasicConsumeOptions { no_ack: true, ..BasicConsumeOptions::default() };
        let consumer = channel
            .basic_consume(&reply_to, "", options, FieldTable::default())
            .await
            .map_err(fail("consume replies"))?;
        let waiters = Arc::new(ReplyWaiters::default());
        tokio::spawn(read_replies(consumer, waiters.clone(), name, codec, redact(endpoint)));
        Ok(Self {
            name,
            codec,
            endpoint: redact(endpoint),
            timeout: client.timeout,
            config,
            channel,
            reply_to,
            waiters,
            _connection: connection,
        })
    }

    /// Replies that matched no waiting call (duplicates after a redelivery, or late ones).
    pub fn unmatched_replies(&self) -> u64 {
        self.waiters.unmatched()
    }

    async fn publish(&self, correlation_id: String, body: &[u8]) -> Result<()> {
        let properties = BasicProperties::default()
            .with_correlation_id(ShortString::from(correlation_id))
            .with_reply_to(ShortString::from(self.reply_to.clone()))
            .with_content_type(ShortString::from(self.codec.content_type()))
            .with_delivery_mode(self.config.delivery_mode());
        let fail = |e| lapin_error(self.name, &self.endpoint, "publish request", e);
        let confirm = self
            .channel
            .basic_publish("", &self.config.queue, BasicPublishOptions::default(), body, properties)
            .await
            .map_err(fail)?;
        // In durable mode this waits for the broker's confirm (the request is on disk); otherwise
        // it resolves at once.
        let confirmation = confirm.await.map_err(fail)?;
        if confirmation.is_nack() {
            return Err(Error::Call {
                transport: self.name,
                endpoint: self.endpoint.clone(),
                message: "broker refused (nacked) the request".to_owned(),
            });
        }
        Ok(())
    }
}

async fn read_replies(
    mut consumer: lapin::Consumer,
    waiters: Arc<ReplyWaiters>,
    name: &'static str,
    codec: Codec,
    endpoint: String,
) {
    let failure = loop {
        match consumer.next().await {
            Some(Ok(delivery)) => {
                let props = &delivery.properties;
                let reply_codec =
                    props.content_type().as_ref().and_then(|c| Codec::from_content_type(c.as_str())).unwrap_or(codec);
                let reply = if props.kind().as_ref().is_some_and(|k| k.as_str() == TYPE_ERROR) {
                    Err(crate::brokers::rejected(name, &delivery.data))
                } else {
                    reply_codec.decode_response(&delivery.data)
                };
                waiters.complete(props.correlation_id().as_ref().map(|c| c.as_str()), reply);
            }
            Some(Err(e)) => break e.to_string(),
            None => break "reply consumer cancelled".to_owned(),
        }
    };
    waiters.fail_all(|| Error::Call { transport: name, endpoint: endpoint.clone(), message: failure.clone() });
}

impl Transport for Client {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn call(&self, req: PaymentRequest) -> Result<PaymentResponse> {
        let body = self.codec.encode_request(&req)?;
        self.waiters.call(self.name, &self.endpoint, self.timeout, |id| self.publish(id, &body)).await
    }
}

/// Starts [`Config::from_env`]`.workers` workers against `config.broker_url` (or the local broker).
pub async fn serve(codec: Codec, config: &ServerConfig) -> Result<ServerHandle> {
    serve_with(codec, config, Config::from_env()?).await
}

/// Starts workers with explicit RabbitMQ settings. Returns once every worker is consuming.
/// Shutting the handle down closes the worker connections at once, like a crash: requests taken
/// but not yet acked (durable mode) go back to the queue.
pub async fn serve_with(codec: Codec, server: &ServerConfig, config: Config) -> Result<ServerHandle> {
    let name = name(codec);
    let endpoint = server.broker_url.clone().unwrap_or_else(|| crate::brokers::Broker::RabbitMq.endpoint());
    let mut workers = Vec::new();
    for _ in 0..config.workers.max(1) {
        workers.push(Worker::start(name, codec, &endpoint, server, &config).await?);
    }
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let runs = futures::future::join_all(workers.iter().map(Worker::run));
        tokio::select! {
            _ = stop => {}
            _ = runs => {}
        }
        for worker in &workers {
            let _ = worker.connection.close(320, "worker stopped").await;
        }
    });
    Ok(ServerHandle::new(endpoint, shutdown, task))
}

struct Worker {
    name: &'static str,
    codec: Codec,
    endpoint: String,
    service: crate::payment::PaymentService,
    config: Config,
    connection: Connection,
    channel: Channel,
    consumer: lapin::Consumer,
}

impl Worker {
    async fn start(
        name: &'static str,
        codec: Codec,
        endpoint: &str,
        server: &ServerConfig,
        config: &Config,
    ) -> Result<Self> {
        let connection = open(name, endpoint, WORKER_CONNECT_DEADLINE).await?;
        let fail = |what: &'static str| move |e| lapin_error(name, endpoint, what, e);
        let channel = connection.create_channel().await.map_err(fail("create channel"))?;
        declare_request_queue(&channel, config).await.map_err(fail("declare request queue"))?;
        if config.durable {
            channel.basic_qos(config.prefetch, BasicQosOptions::default()).await.map_err(fail("basic.qos"))?;
            channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(fail("confirm.select"))?;
        }
        // Transient mode consumes with auto-ack (at-most-once, no ack frames); durable mode acks
        // each request only after its reply is confirmed (at-least-once).
        let options = BasicConsumeOptions { no_ack: !config.durable, ..BasicConsumeOptions::default() };
        let consumer = channel
            .basic_consume(&config.queue, "", options, FieldTable::default())
            .await
            .map_err(fail("consume requests"))?;
        Ok(Self {
            name,
            codec,
            endpoint: endpoint.to_owned(),
            service: server.service,
            config: config.clone(),
            connection,
            channel,
            consumer,
        })
    }

    /// Serves until the connection or consumer ends; up to `prefetch` requests at once.
    async fn run(&self) {
        let concurrency = usize::from(self.config.prefetch.max(1));
        self.consumer
            .clone()
            .for_each_concurrent(concurrency, |delivery| async move {
                match delivery {
                    Ok(delivery) => {
                        if let Err(e) = self.handle(delivery).await {
                            tracing::warn!("{e}");
                        }
                    }
                    Err(e) => tracing::warn!("{}: consume from {}: {e}", self.name, redact(&self.endpoint)),
                }
            })
            .await;
    }

    async fn handle(&self, delivery: lapin::message::Delivery) -> Result<()> {
        let props = &delivery.properties;
        let codec =
            props.content_type().as_ref().and_then(|c| Codec::from_content_type(c.as_str())).unwrap_or(self.codec);
        let (kind, body) = match crate::brokers::handle_request(&self.service, codec, &delivery.data).await {
            Ok(body) => (TYPE_RESPONSE, body),
            Err(body) => (TYPE_ERROR, body),
        };
        let fail = |what: &'static str| move |e| lapin_error(self.name, &self.endpoint, what, e);
        if let Some(reply_to) = props.reply_to() {
            let mut reply = BasicProperties::default()
                .with_content_type(ShortString::from(codec.content_type()))
                .with_type(ShortString::from(kind))
                .with_delivery_mode(self.config.delivery_mode());
            if let Some(id) = props.correlation_id() {
                reply = reply.with_correlation_id(id.clone());
            }
            let confirm = self
                .channel
                .basic_publish("", reply_to.as_str(), BasicPublishOptions::default(), &body, reply)
                .await
                .map_err(fail("publish reply"))?;
            confirm.await.map_err(fail("confirm reply"))?;
        }
        if self.config.durable {
            delivery.acker.ack(BasicAckOptions::default()).await.map_err(fail("ack request"))?;
        }
        Ok(())
    }
}
