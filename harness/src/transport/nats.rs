//! `nats` and `nats-json`: RPC over NATS request/reply (async-nats; Debian's `nats-server`
//! locally, or any server through `NATS_URL`).
//!
//! A client publishes each request to the subject `payments.authorize` with a reply subject in
//! its own inbox (`_INBOX.<uuid>.<correlation id>`), and two headers: `Correlation-Id` and
//! `Content-Type`. Workers form
//! one queue group on the subject, so the server hands each request to exactly one of them (the
//! way NATS shares load among workers), call the shared business function and publish the reply to
//! the inbox with the same `Correlation-Id`. One subscription to its inbox carries all of a
//! client's replies, matched by id ([`Correlator`]); two clients never see each other's replies.
//!
//! NATS core is at-most-once: a request published while no worker listens is dropped by the
//! server, which tells the requester with a "no responders" status message on the request's reply
//! subject. The per-call reply subject lets the client match that notice to its call, which then
//! fails at once (the caller is told) instead of timing out. That is the protocol, measured as it
//! is (JetStream, the persistent layer, is not used).
//!
//! | option | default | why |
//! |---|---|---|
//! | `workers` | 2 | worker connections in the queue group; 2 = the reference machine's cores |
//!
//! Settings without options, each with its reason: no `no_echo` (a client never subscribes to
//! what it publishes); the client's own deadline bounds every call (no library request timeout);
//! a worker runs at most [`WORKER_CONCURRENCY`] requests at once, deep enough that the worker, not
//! the bound, limits throughput, and bounded so that a flood cannot exhaust memory.
//!
//! An error reply carries `Paybench-Type: payment.error` and a `code: message` body, which the
//! client maps to [`CallError::Rejected`]; a worker keeps serving after a malformed body.

use std::sync::Arc;
use std::time::Duration;

use async_nats::{HeaderMap, Subscriber};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::StreamExt;
use tokio::sync::{oneshot, Semaphore};

use crate::codec::Codec;
use crate::endpoint::redact;
use crate::payment::PaymentService;
use crate::pb::{PaymentRequest, PaymentResponse};
use crate::transport::arm::{family_options, Arm, OptionKind, OptionSpec};
use crate::transport::correlation::Correlator;
use crate::transport::rpc::{handle_request, rejected};
use crate::transport::{AnyClient, ClientConfig, ServerConfig, ServerHandle, Transport};
use crate::{CallError, CallResult, Error, Result};

family_options! {
    /// The `nats` family's options.
    pub struct Options {
        workers: usize = "2", OptionKind::Count { min: 1, max: 64 }, token "w", help "worker connections in the queue group; 2 = the reference machine's cores";
    }
}

/// The `nats` family's option specs, from [`Options`].
pub const OPTIONS: &[OptionSpec] = Options::SPECS;

/// The subject requests go to.
pub const DEFAULT_SUBJECT: &str = "payments.authorize";
/// The workers' queue group.
pub const DEFAULT_QUEUE_GROUP: &str = "payments-workers";
/// Requests one worker runs at once.
pub const WORKER_CONCURRENCY: usize = 256;
const HEADER_CORRELATION_ID: &str = "Correlation-Id";
const HEADER_CONTENT_TYPE: &str = "Content-Type";
const HEADER_TYPE: &str = "Paybench-Type";
const TYPE_ERROR: &str = "payment.error";
/// How long a worker waits for an unreachable server before failing.
const WORKER_CONNECT_DEADLINE: Duration = Duration::from_secs(10);

fn name(codec: Codec) -> &'static str {
    match codec {
        Codec::Protobuf => "nats",
        Codec::Json => "nats-json",
    }
}

/// NATS-specific settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The request subject.
    pub subject: String,
    /// The workers' queue group.
    pub queue_group: String,
    /// Worker connections started by `serve`.
    pub workers: usize,
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
            subject: DEFAULT_SUBJECT.to_owned(),
            queue_group: DEFAULT_QUEUE_GROUP.to_owned(),
            workers: options.workers,
        }
    }

    /// Prefixes the request subject and the queue group with a run's namespace.
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.subject = crate::transport::namespaced(namespace, &self.subject);
        self.queue_group = crate::transport::namespaced(namespace, &self.queue_group);
        self
    }

    /// Sets the request subject (tests use their own).
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// Sets the worker count (at least 1).
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }
}

/// Connects within `timeout`, naming the URL on failure.
pub(crate) async fn open(transport: &'static str, endpoint: &str, timeout: Duration) -> CallResult<async_nats::Client> {
    let connect_error =
        |source: crate::error::BoxError| CallError::Connect { transport, endpoint: redact(endpoint), source };
    let options = async_nats::ConnectOptions::new()
        .connection_timeout(timeout)
        // The caller's deadline bounds every call; the library's own request timeout is unused.
        .request_timeout(None);
    let connect = async_nats::connect_with_options(endpoint, options);
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(connect_error(Box::new(e))),
        Err(_) => Err(connect_error(format!("no NATS handshake within {timeout:?}").into())),
    }
}

/// A NATS RPC client: one connection, one inbox subscription, many calls in flight.
#[derive(Debug)]
pub struct Client {
    name: &'static str,
    codec: Codec,
    endpoint: String,
    timeout: Duration,
    subject: String,
    inbox: String,
    nats: async_nats::Client,
    waiters: Arc<Correlator>,
}

impl Client {
    /// Connects to the server at `endpoint` (`nats://host:port`).
    pub async fn connect_with(codec: Codec, endpoint: &str, client: &ClientConfig, config: Config) -> Result<Self> {
        let name = name(codec);
        let nats = open(name, endpoint, client.timeout).await?;
        let inbox = format!("_INBOX.{}", uuid::Uuid::new_v4().simple());
        let replies = nats.subscribe(format!("{inbox}.*")).await.map_err(|e| CallError::Call {
            transport: name,
            endpoint: redact(endpoint),
            message: format!("subscribe {inbox}: {e}"),
        })?;
        // Without a round trip the subscription may reach the server after the first request's
        // reply: flush waits for the server to have it.
        nats.flush().await.map_err(|e| CallError::Call {
            transport: name,
            endpoint: redact(endpoint),
            message: format!("flush: {e}"),
        })?;
        let waiters = Arc::new(Correlator::default());
        tokio::spawn(read_replies(replies, waiters.clone(), name, codec, redact(endpoint)));
        Ok(Self {
            name,
            codec,
            endpoint: redact(endpoint),
            timeout: client.timeout,
            subject: config.subject,
            inbox,
            nats,
            waiters,
        })
    }

    async fn publish(&self, correlation_id: u64, body: Bytes) -> CallResult<()> {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER_CORRELATION_ID, correlation_id.to_string().as_str());
        headers.insert(HEADER_CONTENT_TYPE, self.codec.content_type());
        let reply_to = format!("{}.{correlation_id}", self.inbox);
        self.nats.publish_with_reply_and_headers(self.subject.clone(), reply_to, headers, body).await.map_err(|e| {
            CallError::Call { transport: self.name, endpoint: self.endpoint.clone(), message: e.to_string() }
        })
    }
}

/// Hands each reply on the inbox to its waiting call; when the subscription ends, fails the rest.
async fn read_replies(
    mut replies: Subscriber,
    waiters: Arc<Correlator>,
    name: &'static str,
    codec: Codec,
    endpoint: String,
) {
    while let Some(message) = replies.next().await {
        let headers = message.headers.as_ref();
        let header = |key: &str| headers.and_then(|h| h.get(key)).map(|v| v.as_str().to_owned());
        let reply = if message.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
            Err(CallError::Call {
                transport: name,
                endpoint: endpoint.clone(),
                message: "no responders: no worker was subscribed, the server dropped the request".to_owned(),
            })
        } else if header(HEADER_TYPE).as_deref() == Some(TYPE_ERROR) {
            Err(rejected(name, &message.payload))
        } else {
            codec.decode_response(&message.payload)
        };
        // The server's status notices carry no headers of ours: the reply subject names the call.
        let id = header(HEADER_CORRELATION_ID).or_else(|| message.subject.rsplit('.').next().map(str::to_owned));
        waiters.complete_text(id.as_deref(), reply);
    }
    waiters.fail_all(|| CallError::Call {
        transport: name,
        endpoint: endpoint.clone(),
        message: "reply subscription closed".to_owned(),
    });
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
        let body = Bytes::from(self.codec.encode_request(&req)?);
        self.waiters.call(self.name, &self.endpoint, self.timeout, |id| self.publish(id, body)).await
    }
}

/// Starts `config.workers` workers in one queue group on `server.broker_url`. Returns once every
/// worker's subscription has reached the server. Shutting the handle down closes their
/// connections at once.
pub async fn serve_with(codec: Codec, server: &ServerConfig, config: Config) -> Result<ServerHandle> {
    let name = name(codec);
    let endpoint = server.broker_url.clone().ok_or_else(|| {
        Error::Config(format!("{name}: no server endpoint given to the workers (ServerConfig::broker_url)"))
    })?;
    let mut tasks = Vec::new();
    for _ in 0..config.workers.max(1) {
        let nats = open(name, &endpoint, WORKER_CONNECT_DEADLINE).await?;
        let fail = |what: &str, e: &dyn std::fmt::Display| CallError::Call {
            transport: name,
            endpoint: redact(&endpoint),
            message: format!("{what}: {e}"),
        };
        let requests = nats
            .queue_subscribe(config.subject.clone(), config.queue_group.clone())
            .await
            .map_err(|e| fail("queue subscribe", &e))?;
        nats.flush().await.map_err(|e| fail("flush", &e))?;
        tasks.push(tokio::spawn(work(nats, requests, server.service, codec)));
    }
    let (shutdown, stop) = oneshot::channel::<()>();
    let supervisor = tokio::spawn(async move {
        let _ = stop.await;
        for task in tasks {
            task.abort();
        }
    });
    Ok(ServerHandle::new(endpoint, shutdown, supervisor))
}

/// One worker: every request runs on its own task, at most [`WORKER_CONCURRENCY`] at once.
async fn work(nats: async_nats::Client, mut requests: Subscriber, service: PaymentService, default_codec: Codec) {
    let in_flight = Arc::new(Semaphore::new(WORKER_CONCURRENCY));
    while let Some(message) = requests.next().await {
        let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
        let nats = nats.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let Some(reply_to) = message.reply.clone() else {
                tracing::warn!("nats: request without a reply subject dropped");
                return;
            };
            let header = |key: &str| message.headers.as_ref().and_then(|h| h.get(key)).map(|v| v.as_str().to_owned());
            let codec = header(HEADER_CONTENT_TYPE).and_then(|t| Codec::from_content_type(&t)).unwrap_or(default_codec);
            let mut headers = HeaderMap::new();
            if let Some(id) = header(HEADER_CORRELATION_ID) {
                headers.insert(HEADER_CORRELATION_ID, id.as_str());
            }
            let body = match handle_request(&service, codec, &message.payload).await {
                Ok(body) => body,
                Err(body) => {
                    headers.insert(HEADER_TYPE, TYPE_ERROR);
                    body
                }
            };
            if let Err(e) = nats.publish_with_headers(reply_to, headers, body.into()).await {
                tracing::warn!("nats: reply not sent: {e}");
            }
        });
    }
}

/// Registry entry: the arm's queue group of workers.
pub(crate) fn serve_arm(arm: &Arm, config: &ServerConfig) -> BoxFuture<'static, Result<ServerHandle>> {
    let (arm, config) = (arm.clone(), config.clone());
    Box::pin(
        async move { serve_with(arm.codec(), &config, Config::from_arm(&arm)?.in_namespace(&config.namespace)).await },
    )
}

/// Registry entry: one connection with its inbox.
pub(crate) fn connect_arm(arm: &Arm, endpoint: &str, config: &ClientConfig) -> BoxFuture<'static, Result<AnyClient>> {
    let (arm, endpoint, config) = (arm.clone(), endpoint.to_owned(), config.clone());
    Box::pin(async move {
        let nats = Config::from_arm(&arm)?.in_namespace(&config.namespace);
        let client = Client::connect_with(arm.codec(), &endpoint, &config, nats).await?;
        Ok(AnyClient::new(&arm, client))
    })
}
