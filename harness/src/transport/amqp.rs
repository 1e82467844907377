//! `amqp` and `amqp-json`: RPC over RabbitMQ (AMQP 0-9-1, lapin on tokio).
//!
//! A client publishes each request to the durable queue `payments.authorize` through the default
//! exchange, with `reply_to` and a `correlation_id`; workers consume that queue, call the shared
//! business function and publish the reply to `reply_to` with the same `correlation_id`. One
//! client multiplexes any number of in-flight calls on one channel, matched by correlation id.
//!
//! Options (scenario table, `--settings` file `[amqp]`, or `PAYBENCH_AMQP_<OPTION>`):
//!
//! | option | default | why |
//! |---|---|---|
//! | `reply_to` = [`Config::reply_to`] | direct reply-to (`direct\|queue\|durable`) | `amq.rabbitmq.reply-to` skips declaring and routing through a reply queue; `queue` gives each client an exclusive server-named reply queue, the classic pattern; `durable` gives each client a named durable reply queue that outlives its connection and a broker restart, so a reply to a request stored before a crash still reaches the reconnected client |
//! | `durable` = [`Config::durable`] | off | transient messages and auto-ack are at-most-once but cost no disk write or ack round trip; durable = persistent messages, publisher confirms on both sides, manual ack after the reply is confirmed (at-least-once) |
//! | `workers` = [`Config::workers`] | 2 | one connection each; 2 = the machine's cores |
//! | `prefetch` = [`Config::prefetch`] | 64 | requests one worker processes at once (and, in durable mode, `basic.qos`): deep enough to hide the confirm round trip, small enough that a killed worker hands back little |
//!
//! **Reconnecting.** lapin 3.7's own connection recovery is experimental (behind its `unstable`
//! feature), so clients and workers reconnect themselves when the broker goes away: a worker
//! opens a new connection, channel, declarations and consumer, retrying every
//! [`RECONNECT_EVERY`]; a client does the same on the first call after its channel closed, at
//! most once per [`RECONNECT_EVERY`], and refuses calls in between (the caller is told). Calls
//! waiting on a reply when the connection drops fail at once with `direct` and `queue` reply
//! paths (their replies die with the channel); with `durable` they keep waiting until their
//! deadline, because their replies wait in the queue.
//!
//! [`Config::queue`] (`payments.authorize`) is not an option: tests give their own queue through
//! [`serve_with`] and [`Client::connect_with`].
//!
//! Message properties: `content_type` is the codec's (`application/x-protobuf` or
//! `application/json`) and workers decode by it, so one worker pool serves both arms; `type` is
//! `payment.response` or `payment.error`. An error reply's body is `code: message`, which the
//! client maps to [`CallError::Rejected`]; a worker keeps serving after a malformed body or a domain
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

use futures::future::BoxFuture;

use crate::codec::Codec;
use crate::endpoint::redact;
use crate::pb::{PaymentRequest, PaymentResponse};
use crate::transport::arm::{family_options, Arm, OptionKind, OptionSpec};
use crate::transport::correlation::Correlator;
use crate::transport::rpc::{handle_request, rejected};
use crate::transport::{AnyClient, ClientConfig, ServerConfig, ServerHandle, Transport};
use crate::{CallError, CallResult, Error, Result};

family_options! {
    /// The `amqp` family's options (see the module table for the reasons behind the defaults).
    pub struct Options {
        reply_to: String = "direct", OptionKind::Choice(&["direct", "queue", "durable"]), token "reply", help "direct reply-to (amq.rabbitmq.reply-to), an exclusive reply queue per client, or a durable named reply queue per client that outlives a broker restart";
        durable: bool = "false", OptionKind::Flag, token "durable", help "persistent messages, publisher confirms and manual ack after the reply (at-least-once)";
        workers: usize = "2", OptionKind::Count { min: 1, max: 64 }, token "w", help "worker connections; 2 = the reference machine's cores";
        prefetch: u16 = "64", OptionKind::Count { min: 1, max: 65535 }, token "prefetch", help "requests one worker processes at once (basic.qos in durable mode)";
    }
}

/// The `amqp` family's option specs, from [`Options`].
pub const OPTIONS: &[OptionSpec] = Options::SPECS;

/// The request queue every worker consumes.
pub const DEFAULT_QUEUE: &str = "payments.authorize";
/// RabbitMQ's pseudo-queue for direct reply-to.
pub const DIRECT_REPLY_TO: &str = "amq.rabbitmq.reply-to";
const TYPE_RESPONSE: &str = "payment.response";
const TYPE_ERROR: &str = "payment.error";
const DELIVERY_TRANSIENT: u8 = 1;
/// How long a worker waits for an unreachable broker before failing.
const WORKER_CONNECT_DEADLINE: Duration = Duration::from_secs(10);
/// How often a client or worker whose broker connection was lost tries a new one; each attempt
/// is bounded by [`RECONNECT_WITHIN`].
pub const RECONNECT_EVERY: Duration = Duration::from_millis(500);
const RECONNECT_WITHIN: Duration = Duration::from_secs(2);
/// A durable reply queue is deleted after this long unused (`x-expires`): it must outlive a broker
/// restart and a reconnect, not the client.
const DURABLE_REPLY_EXPIRES: Duration = Duration::from_secs(120);
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
    /// A durable reply queue per client, named by the client, that outlives its connection.
    DurableQueue,
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
        Self::with(Options::defaults())
    }
}

impl Config {
    /// The defaults with an arm's options applied.
    pub fn from_arm(arm: &Arm) -> Result<Self> {
        Ok(Self::with(Options::of(arm)?))
    }

    fn with(options: Options) -> Self {
        Self {
            queue: DEFAULT_QUEUE.to_owned(),
            reply_to: match options.reply_to.as_str() {
                "queue" => ReplyTo::ExclusiveQueue,
                "durable" => ReplyTo::DurableQueue,
                _ => ReplyTo::Direct,
            },
            durable: options.durable,
            workers: options.workers,
            prefetch: options.prefetch,
            queue_expires: None,
        }
    }

    /// Prefixes the request queue with a run's namespace.
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.queue = crate::transport::namespaced(namespace, &self.queue);
        self
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

    pub(crate) fn delivery_mode(&self) -> u8 {
        if self.durable {
            DELIVERY_PERSISTENT
        } else {
            DELIVERY_TRANSIENT
        }
    }
}

/// Opens a connection on the current tokio runtime, failing within `timeout` with the URL named.
pub(crate) async fn open(transport: &'static str, endpoint: &str, timeout: Duration) -> CallResult<Connection> {
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current());
    let connect_error =
        |source: crate::error::BoxError| CallError::Connect { transport, endpoint: redact(endpoint), source };
    match tokio::time::timeout(timeout, Connection::connect(endpoint, properties)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) => Err(connect_error(Box::new(e))),
        Err(_) => Err(connect_error(format!("no AMQP handshake within {timeout:?}").into())),
    }
}

pub(crate) fn lapin_error(transport: &'static str, endpoint: &str, what: &str, e: lapin::Error) -> CallError {
    CallError::Call { transport, endpoint: redact(endpoint), message: format!("{what}: {e}") }
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

/// A RabbitMQ RPC client: one connection, one channel, many calls in flight; a new connection
/// when the broker went away (see the module docs).
#[derive(Debug)]
pub struct Client {
    link: Arc<Link>,
}

/// What a client's calls and its reconnecting share.
#[derive(Debug)]
struct Link {
    name: &'static str,
    codec: Codec,
    /// The broker's URL, credentials included (for reconnecting); never printed.
    url: String,
    endpoint: String,
    timeout: Duration,
    config: Config,
    /// The durable reply queue's name, fixed for the client's life (`None` for the other paths).
    durable_reply_queue: Option<String>,
    session: std::sync::RwLock<Arc<Session>>,
    /// Held while a new connection is being opened, with the earliest time of the next attempt.
    reconnect: tokio::sync::Mutex<tokio::time::Instant>,
    waiters: Arc<Correlator>,
}

/// One connection's channel and reply path.
#[derive(Debug)]
struct Session {
    channel: Channel,
    reply_to: String,
    /// Closed on drop, so a finished client leaves no socket or lapin thread behind to be charged
    /// to the arms that run after it.
    connection: Option<Connection>,
}

impl Drop for Session {
    fn drop(&mut self) {
        // `close` is async; with no runtime left to run it (process exit) the OS closes the socket.
        if let (Ok(runtime), Some(connection)) = (tokio::runtime::Handle::try_current(), self.connection.take()) {
            runtime.spawn(async move {
                let _ = connection.close(200, "client dropped").await;
            });
        }
    }
}

impl Client {
    /// Connects with explicit RabbitMQ settings. With a durable reply queue, a task reconnects
    /// as soon as the connection is lost, so replies waiting in the queue reach calls still
    /// waiting even when no new call comes to reconnect.
    pub async fn connect_with(codec: Codec, endpoint: &str, client: &ClientConfig, config: Config) -> Result<Self> {
        let name = name(codec);
        let durable_reply_queue = (config.reply_to == ReplyTo::DurableQueue)
            .then(|| format!("{}.replies.{}", config.queue, uuid::Uuid::new_v4().simple()));
        let waiters = Arc::new(Correlator::default());
        let session =
            Session::open(name, codec, endpoint, client.timeout, &config, durable_reply_queue.as_deref(), &waiters)
                .await?;
        let link = Arc::new(Link {
            name,
            codec,
            url: endpoint.to_owned(),
            endpoint: redact(endpoint),
            timeout: client.timeout,
            config,
            durable_reply_queue,
            session: std::sync::RwLock::new(Arc::new(session)),
            reconnect: tokio::sync::Mutex::new(tokio::time::Instant::now()),
            waiters,
        });
        if link.durable_reply_queue.is_some() {
            tokio::spawn(keep_connected(Arc::downgrade(&link)));
        }
        Ok(Self { link })
    }
}

/// Reconnects a durable-reply client whose connection was lost, every [`RECONNECT_EVERY`], until
/// the client is dropped.
async fn keep_connected(link: std::sync::Weak<Link>) {
    loop {
        tokio::time::sleep(RECONNECT_EVERY).await;
        let Some(link) = link.upgrade() else { return };
        if !link.current().channel.status().connected() {
            let _ = link.session().await;
        }
    }
}

impl Link {
    fn current(&self) -> Arc<Session> {
        self.session.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The live session, or a new one when the channel closed (at most one attempt per
    /// [`RECONNECT_EVERY`]; a call meanwhile is refused with a connect error).
    async fn session(&self) -> CallResult<Arc<Session>> {
        let session = self.current();
        if session.channel.status().connected() {
            return Ok(session);
        }
        let refused = |why: String| CallError::Connect {
            transport: self.name,
            endpoint: self.endpoint.clone(),
            source: format!("the broker connection was lost; {why}").into(),
        };
        let Ok(mut next) = self.reconnect.try_lock() else {
            return Err(refused("another call is reconnecting".to_owned()));
        };
        let session = self.current();
        if session.channel.status().connected() {
            return Ok(session);
        }
        let now = tokio::time::Instant::now();
        if now < *next {
            return Err(refused(format!("next attempt in {:?}", *next - now)));
        }
        *next = now + RECONNECT_EVERY;
        let reply_queue = self.durable_reply_queue.as_deref();
        let within = RECONNECT_WITHIN.min(self.timeout);
        let session = Session::open(self.name, self.codec, &self.url, within, &self.config, reply_queue, &self.waiters)
            .await
            .map(Arc::new)?;
        *self.session.write().unwrap_or_else(std::sync::PoisonError::into_inner) = session.clone();
        tracing::info!("{}: reconnected to {}", self.name, self.endpoint);
        Ok(session)
    }

    async fn publish(&self, correlation_id: String, body: &[u8]) -> CallResult<()> {
        let session = self.session().await?;
        let properties = BasicProperties::default()
            .with_correlation_id(ShortString::from(correlation_id))
            .with_reply_to(ShortString::from(session.reply_to.clone()))
            .with_content_type(ShortString::from(self.codec.content_type()))
            .with_delivery_mode(self.config.delivery_mode());
        let fail = |e| lapin_error(self.name, &self.endpoint, "publish request", e);
        let confirm = session
            .channel
            .basic_publish("", &self.config.queue, BasicPublishOptions::default(), body, properties)
            .await
            .map_err(fail)?;
        // In durable mode this waits for the broker's confirm (the request is on disk); otherwise
        // it resolves at once.
        let confirmation = confirm.await.map_err(fail)?;
        if confirmation.is_nack() {
            return Err(CallError::Call {
                transport: self.name,
                endpoint: self.endpoint.clone(),
                message: "broker refused (nacked) the request".to_owned(),
            });
        }
        Ok(())
    }
}

impl Session {
    /// A connection, a channel, the request queue declared, and the reply consumer started.
    async fn open(
        name: &'static str,
        codec: Codec,
        endpoint: &str,
        timeout: Duration,
        config: &Config,
        durable_reply_queue: Option<&str>,
        waiters: &Arc<Correlator>,
    ) -> CallResult<Self> {
        let connection = open(name, endpoint, timeout).await?;
        let fail = |what: &'static str| move |e| lapin_error(name, endpoint, what, e);
        let channel = connection.create_channel().await.map_err(fail("create channel"))?;
        declare_request_queue(&channel, config).await.map_err(fail("declare request queue"))?;
        if config.durable {
            channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(fail("confirm.select"))?;
        }
        let reply_to = match (config.reply_to, durable_reply_queue) {
            (ReplyTo::Direct, _) => DIRECT_REPLY_TO.to_owned(),
            (ReplyTo::DurableQueue, Some(queue)) => {
                let mut arguments = FieldTable::default();
                arguments.insert("x-expires".into(), AMQPValue::LongUInt(DURABLE_REPLY_EXPIRES.as_millis() as u32));
                let options = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
                channel.queue_declare(queue, options, arguments).await.map_err(fail("declare durable reply queue"))?;
                queue.to_owned()
            }
            (ReplyTo::ExclusiveQueue | ReplyTo::DurableQueue, _) => {
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
        // With a durable reply queue the replies outlive the connection: calls keep waiting.
        let fail_waiting = config.reply_to != ReplyTo::DurableQueue;
        tokio::spawn(read_replies(consumer, waiters.clone(), name, codec, redact(endpoint), fail_waiting));
        Ok(Self { channel, reply_to, connection: Some(connection) })
    }
}

async fn read_replies(
    mut consumer: lapin::Consumer,
    waiters: Arc<Correlator>,
    name: &'static str,
    codec: Codec,
    endpoint: String,
    fail_waiting: bool,
) {
    let failure = loop {
        match consumer.next().await {
            Some(Ok(delivery)) => {
                let props = &delivery.properties;
                let reply_codec =
                    props.content_type().as_ref().and_then(|c| Codec::from_content_type(c.as_str())).unwrap_or(codec);
                let reply = if props.kind().as_ref().is_some_and(|k| k.as_str() == TYPE_ERROR) {
                    Err(rejected(name, &delivery.data))
                } else {
                    reply_codec.decode_response(&delivery.data)
                };
                waiters.complete_text(props.correlation_id().as_ref().map(|c| c.as_str()), reply);
            }
            Some(Err(e)) => break e.to_string(),
            None => break "reply consumer cancelled".to_owned(),
        }
    };
    if fail_waiting {
        waiters.fail_all(|| CallError::Call { transport: name, endpoint: endpoint.clone(), message: failure.clone() });
    }
}

impl Transport for Client {
    fn name(&self) -> &str {
        self.link.name
    }

    fn unmatched_replies(&self) -> u64 {
        self.link.waiters.unmatched()
    }

    fn reply_ledger(&self) -> Option<crate::transport::ReplyLedger> {
        Some(self.link.waiters.ledger())
    }

    async fn call(&self, req: PaymentRequest) -> CallResult<PaymentResponse> {
        let link = &self.link;
        let body = link.codec.encode_request(&req)?;
        link.waiters.call(link.name, &link.endpoint, link.timeout, |id| link.publish(id.to_string(), &body)).await
    }
}

/// Starts workers with explicit RabbitMQ settings. Returns once every worker is consuming; a
/// worker whose connection is lost (the broker went away) opens a new one every
/// [`RECONNECT_EVERY`] until it consumes again. Shutting the handle down closes the worker
/// connections at once, like a crash: requests taken but not yet acked (durable mode) go back to
/// the queue.
pub async fn serve_with(codec: Codec, server: &ServerConfig, config: Config) -> Result<ServerHandle> {
    let name = name(codec);
    let endpoint = server.broker_url.clone().ok_or_else(|| no_broker(name))?;
    let mut workers = Vec::new();
    for _ in 0..config.workers.max(1) {
        workers.push(Worker::start(name, codec, &endpoint, server, &config).await?);
    }
    // Each worker's live connection, closed at shutdown.
    let connections: Arc<std::sync::Mutex<Vec<Arc<Connection>>>> =
        Arc::new(std::sync::Mutex::new(workers.iter().map(|w| w.connection.clone()).collect()));
    let (shutdown, stop) = oneshot::channel::<()>();
    let (server, live, url) = (server.clone(), connections.clone(), endpoint.clone());
    let task = tokio::spawn(async move {
        let endpoint = url;
        let slots = workers.into_iter().enumerate().map(|(slot, first)| {
            let (server, config, endpoint, live) = (&server, &config, &endpoint, &live);
            async move {
                let mut worker = first;
                loop {
                    worker.run().await;
                    tracing::warn!("{name}: worker {slot} lost its connection to {}; reconnecting", redact(endpoint));
                    worker = loop {
                        tokio::time::sleep(RECONNECT_EVERY).await;
                        match Worker::start(name, codec, endpoint, server, config).await {
                            Ok(worker) => break worker,
                            Err(e) => tracing::debug!("{name}: worker {slot}: {e}"),
                        }
                    };
                    live.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[slot] = worker.connection.clone();
                    tracing::info!("{name}: worker {slot} reconnected to {}", redact(endpoint));
                }
            }
        });
        tokio::select! {
            _ = stop => {}
            _ = futures::future::join_all(slots) => {}
        }
        let live: Vec<Arc<Connection>> =
            connections.lock().unwrap_or_else(std::sync::PoisonError::into_inner).drain(..).collect();
        for connection in live {
            let _ = connection.close(320, "worker stopped").await;
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
    connection: Arc<Connection>,
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
            connection: Arc::new(connection),
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
        let (kind, body) = match handle_request(&self.service, codec, &delivery.data).await {
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
/// A worker pool needs to be told where its broker is.
fn no_broker(name: &'static str) -> Error {
    Error::Config(format!("{name}: no broker endpoint given to the workers (ServerConfig::broker_url)"))
}

/// Registry entry: the arm's worker pool.
pub(crate) fn serve_arm(arm: &Arm, config: &ServerConfig) -> BoxFuture<'static, Result<ServerHandle>> {
    let (arm, config) = (arm.clone(), config.clone());
    Box::pin(
        async move { serve_with(arm.codec(), &config, Config::from_arm(&arm)?.in_namespace(&config.namespace)).await },
    )
}

/// Registry entry: one connection, one channel, many calls in flight.
pub(crate) fn connect_arm(arm: &Arm, endpoint: &str, config: &ClientConfig) -> BoxFuture<'static, Result<AnyClient>> {
    let (arm, endpoint, config) = (arm.clone(), endpoint.to_owned(), config.clone());
    Box::pin(async move {
        let amqp = Config::from_arm(&arm)?.in_namespace(&config.namespace);
        let client = Client::connect_with(arm.codec(), &endpoint, &config, amqp).await?;
        Ok(AnyClient::new(&arm, client))
    })
}
