//! The [`Transport`] trait, arms as data ([`Arm`]), the family [`registry`], and one module per
//! transport family.
//!
//! Every family module has the same shape, in the same order: its options (`OPTIONS`), a `Client`
//! that implements [`Transport`], a server or worker started by `serve`, the two registry entry
//! points `serve_arm` and `connect_arm`, and its tests. Only [`registry`] knows the families by
//! name; see `docs/adding-a-transport.md`.
//!
//! | family | module | canonical arms | what travels |
//! |---|---|---|---|
//! | `inproc` | [`inproc`] | `inproc` | protobuf codec round trip in-process, no network: the CPU floor |
//! | `sim` | [`sim`] | `sim` | nothing: N workers each holding a call for a fixed service time, the calibration with a known capacity |
//! | `tcp` | [`tcp`] | `tcp` | length-prefixed protobuf frames on one TCP connection: the network floor |
//! | `grpc` | [`grpc`] | `grpc`, `grpc-json` | tonic unary call, HTTP/2 |
//! | `http` | [`rest`] | `rest`, `rest-h2`, `rest-proto` | axum + reqwest; HTTP/1.1 keep-alive or h2c |
//! | `amqp` | [`amqp`] | `amqp`, `amqp-json` | RabbitMQ RPC: request queue, reply_to, correlation_id |
//! | `kafka` | [`kafka`] | `kafka`, `kafka-json` | request topic + reply topic, correlation id in headers |
//! | `nats` | [`nats`] | `nats`, `nats-json` | NATS request/reply: inbox subject, queue-group workers |
//!
//! Shared plumbing: [`correlation`] (matching replies to calls by id) and [`rpc`] (error replies
//! and the request handler of every worker). Beside the calls: [`pubsub`], one event published to
//! N services and a history replayed (the `fan-out` and `replay` experiments), and [`backlog`],
//! a broker's queue depth; both are registry capabilities.

pub mod amqp;
pub mod arm;
pub mod backlog;
pub(crate) mod correlation;
pub mod grpc;
pub mod inproc;
pub mod kafka;
pub mod nats;
pub mod protect;
pub mod pubsub;
pub mod registry;
pub mod rest;
pub(crate) mod rpc;
pub mod sim;
pub mod tcp;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::payment::PaymentService;
use crate::pb::{PaymentRequest, PaymentResponse};
use crate::{CallError, CallResult, Error, Result};

pub use arm::Arm;
pub use registry::{connect, serve, ArmRequest, Settings};

/// Sends one payment call over a specific wire protocol and waits for its reply.
///
/// Implementors are shared by `&self` across many concurrent calls (one client instance carries
/// the whole load), never retry, and resolve only when the reply whose correlation id matches the
/// request has arrived, or with an [`Error`] that names the transport and endpoint. A call that
/// outlives the client's timeout resolves to [`CallError::Timeout`]; a server-side refusal (bad input,
/// validation) to [`CallError::Rejected`].
pub trait Transport: Send + Sync {
    /// The arm's name (`grpc`, `rest-h2`, ...), used in bench ids and results.
    fn name(&self) -> &str;
    /// Sends `req` and waits for its response.
    fn call(&self, req: PaymentRequest) -> impl Future<Output = CallResult<PaymentResponse>> + Send;
    /// Replies that matched no waiting call so far: duplicates after a redelivery, or replies that
    /// came after their call's deadline. Always 0 for a client that cannot receive one (a
    /// request/response connection answers each request on its own stream).
    fn unmatched_replies(&self) -> u64 {
        0
    }
    /// The calls that ended without their reply and the strays told apart; `None` for a client
    /// that cannot see a reply after its call ended (request/response connections).
    fn reply_ledger(&self) -> Option<ReplyLedger> {
        None
    }
}

/// Idempotency-key accounting of a correlating client (broker arms): every call ends answered,
/// failed, or unanswered; a stray reply is the late answer of an unanswered call (which then
/// leaves `unanswered`) or a duplicate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplyLedger {
    /// Replies that came after their call had ended without one: its deadline passed, its caller
    /// gave up, or its caller was told the send failed (a connection lost before the broker's
    /// confirm, while the broker had stored the request).
    pub late: u64,
    /// Replies to a call already answered (a redelivered request answered twice).
    pub duplicates: u64,
    /// Calls that ended with no reply and have had none since.
    pub unanswered: u64,
}

/// The object-safe form of [`Transport`], so that the registry can hand out any family's client.
trait DynTransport: Send + Sync + fmt::Debug {
    fn call_boxed(&self, req: PaymentRequest) -> BoxFuture<'_, CallResult<PaymentResponse>>;
    fn unmatched_boxed(&self) -> u64;
    fn ledger_boxed(&self) -> Option<ReplyLedger>;
}

impl<T: Transport + fmt::Debug> DynTransport for T {
    fn call_boxed(&self, req: PaymentRequest) -> BoxFuture<'_, CallResult<PaymentResponse>> {
        Box::pin(self.call(req))
    }

    fn unmatched_boxed(&self) -> u64 {
        self.unmatched_replies()
    }

    fn ledger_boxed(&self) -> Option<ReplyLedger> {
        self.reply_ledger()
    }
}

/// A client of any arm, as the registry connects it. One boxed future per call (tens of
/// nanoseconds) is the price of not matching on families outside the registry.
#[derive(Debug)]
pub struct AnyClient {
    /// The arm's canonical name, which its call errors carry ([`CallError::for_arm`]).
    name: &'static str,
    inner: Box<dyn DynTransport>,
}

impl AnyClient {
    /// Wraps a family's client under its arm's canonical name.
    pub fn new(arm: &Arm, client: impl Transport + fmt::Debug + 'static) -> Self {
        Self { name: crate::error::intern(arm.name()), inner: Box::new(client) }
    }
}

impl Transport for AnyClient {
    fn name(&self) -> &str {
        self.name
    }

    fn call(&self, req: PaymentRequest) -> impl Future<Output = CallResult<PaymentResponse>> + Send {
        let (name, call) = (self.name, self.inner.call_boxed(req));
        async move { call.await.map_err(|e| e.for_arm(name)) }
    }

    fn unmatched_replies(&self) -> u64 {
        self.inner.unmatched_boxed()
    }

    fn reply_ledger(&self) -> Option<ReplyLedger> {
        self.inner.ledger_boxed()
    }
}

/// Default largest request or response body a server accepts: 4 MiB, gRPC's customary default.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS` every HTTP/2 server here announces (in the model,
/// whose connection policy the report prints).
pub use paybench_model::connections::HTTP2_MAX_CONCURRENT_STREAMS;

/// Settings shared by every server and worker.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where a direct server listens; `127.0.0.1:0` picks a free port.
    pub bind: SocketAddr,
    /// Largest body accepted; larger ones get 413 / `RESOURCE_EXHAUSTED`.
    pub max_body_bytes: usize,
    /// The business function, with its simulated service time.
    pub service: PaymentService,
    /// The broker's endpoint for broker arms; unused by direct arms.
    pub broker_url: Option<String>,
    /// Prefix of every queue, topic, subject and group name the broker arms use (empty: none).
    /// See [`namespaced`].
    pub namespace: String,
    /// With the `+res` layer: at most this many calls in process at once across the server's
    /// connections; a call past it is shed at once ([`protect`]). `None`: no limit.
    pub max_concurrent_calls: Option<usize>,
}

impl ServerConfig {
    /// This configuration for `arm`: its layers' settings on top (the `+res` layer's limit).
    pub fn for_arm(&self, arm: &Arm) -> Self {
        let mut config = self.clone();
        if arm.is_protected() {
            config.max_concurrent_calls = config.max_concurrent_calls.or(Some(protect::MAX_CONCURRENT_CALLS));
        }
        config
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            service: PaymentService::default(),
            broker_url: None,
            namespace: String::new(),
            max_concurrent_calls: None,
        }
    }
}

/// Settings shared by every client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// A call with no reply after this long resolves to [`CallError::Timeout`].
    pub timeout: Duration,
    /// Largest response body accepted (matches the server's default limit).
    pub max_body_bytes: usize,
    /// Most connections a pooling client opens to its server; `None` = no cap. Honoured by the
    /// HTTP/1.1 arms, whose pool otherwise opens one connection per concurrent call: calls past
    /// the cap wait for a connection, as with any pool that has a maximum, and the wait counts
    /// against `timeout`. Arms that multiplex on fixed connections (`tcp`, HTTP/2, gRPC, brokers)
    /// ignore it; their connection count is already fixed.
    pub max_connections: Option<usize>,
    /// Prefix of the broker names the client uses; must equal the workers' (see [`namespaced`]).
    pub namespace: String,
    /// Send the call's deadline to the server (gRPC's `grpc-timeout`), so that it stops working
    /// on a call its caller has given up on: part of the `+res` layer ([`protect`]).
    pub send_deadline: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_connections: None,
            namespace: String::new(),
            send_deadline: false,
        }
    }
}

/// Most characters a namespace may have (Kafka topic names stop at 249; the longest default name
/// plus a reply-topic suffix leaves this much).
pub const NAMESPACE_MAX_CHARS: usize = 64;

/// `name` in `namespace`: `<namespace>.<name>`, or `name` unchanged when the namespace is empty
/// (so the defaults stay `payments.authorize` and friends). Two runs on one broker with different
/// namespaces never take each other's requests.
pub fn namespaced(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}.{name}")
    }
}

/// Checks a namespace: 1 to [`NAMESPACE_MAX_CHARS`] ASCII letters, digits, `-` or `_`, which every
/// broker accepts in a queue, topic, subject and group name (a `.` would add a NATS subject token).
pub fn check_namespace(namespace: &str) -> Result<()> {
    let ok = !namespace.is_empty()
        && namespace.len() <= NAMESPACE_MAX_CHARS
        && namespace.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "namespace {namespace:?}: allowed are 1 to {NAMESPACE_MAX_CHARS} ASCII letters, digits, `-` and `_`"
        )))
    }
}

/// How long [`ServerHandle::shutdown`] lets a server drain before aborting it.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A running server or worker pool. Dropping it asks it to stop; [`ServerHandle::shutdown`] also
/// waits until it has.
#[derive(Debug)]
pub struct ServerHandle {
    endpoint: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// Wraps a server task that stops when `shutdown` fires.
    pub fn new(endpoint: String, shutdown: oneshot::Sender<()>, task: JoinHandle<()>) -> Self {
        Self { endpoint, shutdown: Some(shutdown), task: Some(task) }
    }

    /// A handle for an arm with nothing running (`inproc`).
    pub fn none(endpoint: &str) -> Self {
        Self { endpoint: endpoint.to_owned(), shutdown: None, task: None }
    }

    /// What a client connects to: `127.0.0.1:port` for direct arms, the broker URL for brokers
    /// (credentials included: redact it with [`crate::endpoint::redact`] before printing).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Stops the server: asks it to stop, gives open connections [`SHUTDOWN_GRACE`] to drain
    /// (a graceful HTTP/2 shutdown waits for clients to answer GOAWAY), then aborts it. Bounded,
    /// so a client that is not being polled cannot hang the caller.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err() {
                task.abort();
                let _ = task.await;
            }
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Binds a TCP listener for a direct server, naming the address on failure.
pub(crate) async fn bind(transport: &'static str, addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| Error::io(format!("{transport}: bind {addr}"), e))
}

/// Runs `fut` under the client's deadline, turning expiry into [`CallError::Timeout`].
pub(crate) async fn with_deadline<T, E: From<CallError>>(
    transport: &'static str,
    endpoint: &str,
    after: Duration,
    fut: impl Future<Output = std::result::Result<T, E>>,
) -> std::result::Result<T, E> {
    match tokio::time::timeout(after, fut).await {
        Ok(result) => result,
        Err(_) => Err(CallError::Timeout { transport, endpoint: endpoint.to_owned(), after }.into()),
    }
}
