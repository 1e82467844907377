//! The [`Transport`] trait and one module per wire protocol.
//!
//! Every module has the same shape, in the same order: a `Config` (how to connect and tune), a
//! `Client` that implements [`Transport`], a server or worker started by `serve`, and its tests.
//! A new transport is one new file plus one line in each `match` below.
//!
//! | name | module | what travels |
//! |---|---|---|
//! | `inproc` | [`inproc`] | protobuf codec round trip in-process, no network: the CPU floor |
//! | `tcp` | [`tcp`] | length-prefixed protobuf frames on one TCP connection: the network floor |
//! | `grpc` | [`grpc`] | tonic unary call, protobuf, HTTP/2 |
//! | `grpc-json` | [`grpc`] | tonic with a JSON codec: gRPC framing, JSON body |
//! | `rest` | [`rest`] | axum + reqwest, JSON, HTTP/1.1 keep-alive |
//! | `rest-h2` | [`rest`] | the same JSON over HTTP/2 (h2c, prior knowledge) |
//! | `rest-proto` | [`rest`] | protobuf body over HTTP/1.1 |
//! | `amqp`, `amqp-json` | [`amqp`] | RabbitMQ RPC: request queue, reply_to, correlation_id |
//! | `kafka`, `kafka-json` | [`kafka`] | request topic + reply topic, correlation id in headers |

pub mod amqp;
pub mod grpc;
pub mod inproc;
pub mod kafka;
pub mod rest;
pub mod tcp;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::codec::Codec;
use crate::payment::PaymentService;
use crate::pb::{PaymentRequest, PaymentResponse};
use crate::{Error, Result};

/// Sends one payment call over a specific wire protocol and waits for its reply.
///
/// Implementors are shared by `&self` across many concurrent calls (one client instance carries
/// the whole load), never retry, and resolve only when the reply whose correlation id matches the
/// request has arrived, or with an [`Error`] that names the transport and endpoint. A call that
/// outlives the client's timeout resolves to [`Error::Timeout`]; a server-side refusal (bad input,
/// validation) to [`Error::Rejected`].
pub trait Transport: Send + Sync {
    /// The stable transport name (`grpc`, `rest`, ...), used in bench ids and results.
    fn name(&self) -> &'static str;
    /// Sends `req` and waits for its response.
    fn call(&self, req: PaymentRequest) -> impl Future<Output = Result<PaymentResponse>> + Send;
}

/// Every transport arm paybench knows, by its stable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    /// In-process codec round trip.
    Inproc,
    /// Raw TCP with length-prefixed protobuf frames.
    Tcp,
    /// gRPC, protobuf.
    Grpc,
    /// gRPC framing, JSON body.
    GrpcJson,
    /// REST, JSON, HTTP/1.1.
    Rest,
    /// REST, JSON, HTTP/2 (h2c).
    RestH2,
    /// REST, protobuf body, HTTP/1.1.
    RestProto,
    /// RabbitMQ RPC, protobuf body.
    Amqp,
    /// RabbitMQ RPC, JSON body.
    AmqpJson,
    /// Kafka request/reply, protobuf body.
    Kafka,
    /// Kafka request/reply, JSON body.
    KafkaJson,
}

impl TransportKind {
    /// Every arm, direct ones first.
    pub const ALL: [TransportKind; 11] = [
        TransportKind::Inproc,
        TransportKind::Tcp,
        TransportKind::Grpc,
        TransportKind::GrpcJson,
        TransportKind::Rest,
        TransportKind::RestH2,
        TransportKind::RestProto,
        TransportKind::Amqp,
        TransportKind::AmqpJson,
        TransportKind::Kafka,
        TransportKind::KafkaJson,
    ];

    /// The arms that need no broker.
    pub const DIRECT: [TransportKind; 7] = [
        TransportKind::Inproc,
        TransportKind::Tcp,
        TransportKind::Grpc,
        TransportKind::GrpcJson,
        TransportKind::Rest,
        TransportKind::RestH2,
        TransportKind::RestProto,
    ];

    /// The stable name used in bench ids, results and reports.
    pub fn name(self) -> &'static str {
        match self {
            TransportKind::Inproc => "inproc",
            TransportKind::Tcp => "tcp",
            TransportKind::Grpc => "grpc",
            TransportKind::GrpcJson => "grpc-json",
            TransportKind::Rest => "rest",
            TransportKind::RestH2 => "rest-h2",
            TransportKind::RestProto => "rest-proto",
            TransportKind::Amqp => "amqp",
            TransportKind::AmqpJson => "amqp-json",
            TransportKind::Kafka => "kafka",
            TransportKind::KafkaJson => "kafka-json",
        }
    }

    /// The body codec this arm sends.
    pub fn codec(self) -> Codec {
        match self {
            TransportKind::GrpcJson | TransportKind::Rest | TransportKind::RestH2 => Codec::Json,
            TransportKind::AmqpJson | TransportKind::KafkaJson => Codec::Json,
            _ => Codec::Protobuf,
        }
    }

    /// Whether this arm goes through a message broker.
    pub fn is_broker(self) -> bool {
        matches!(self, TransportKind::Amqp | TransportKind::AmqpJson | TransportKind::Kafka | TransportKind::KafkaJson)
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TransportKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        TransportKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<_> = TransportKind::ALL.iter().map(|k| k.name()).collect();
            Error::Config(format!("unknown transport {s:?}; expected one of {}", names.join(", ")))
        })
    }
}

/// Default largest request or response body a server accepts: 4 MiB, gRPC's customary default.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Settings shared by every server and worker.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where a direct server listens; `127.0.0.1:0` picks a free port.
    pub bind: SocketAddr,
    /// Largest body accepted; larger ones get 413 / `RESOURCE_EXHAUSTED`.
    pub max_body_bytes: usize,
    /// The business function, with its simulated service time.
    pub service: PaymentService,
    /// Broker URL for broker arms (`AMQP_URL` / `KAFKA_BROKERS`); unused by direct arms.
    pub broker_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            service: PaymentService::default(),
            broker_url: None,
        }
    }
}

/// Settings shared by every client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// A call with no reply after this long resolves to [`Error::Timeout`].
    pub timeout: Duration,
    /// Largest response body accepted (matches the server's default limit).
    pub max_body_bytes: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(10), max_body_bytes: DEFAULT_MAX_BODY_BYTES }
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
    /// (credentials included: redact it with [`crate::brokers::redact`] before printing).
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

/// Starts the server (or worker pool) for `kind` on the current tokio runtime.
pub async fn serve(kind: TransportKind, config: &ServerConfig) -> Result<ServerHandle> {
    match kind {
        TransportKind::Inproc => Ok(ServerHandle::none("inproc")),
        TransportKind::Tcp => tcp::serve(config).await,
        TransportKind::Grpc | TransportKind::GrpcJson => grpc::serve(kind.codec(), config).await,
        TransportKind::Rest | TransportKind::RestH2 | TransportKind::RestProto => rest::serve(config).await,
        TransportKind::Amqp | TransportKind::AmqpJson => amqp::serve(kind.codec(), config).await,
        TransportKind::Kafka | TransportKind::KafkaJson => kafka::serve(kind.codec(), config).await,
    }
}

/// Connects a client for `kind` to `endpoint` (a `host:port` or a broker URL).
pub async fn connect(kind: TransportKind, endpoint: &str, config: &ClientConfig) -> Result<AnyClient> {
    Ok(match kind {
        TransportKind::Inproc => AnyClient::Inproc(inproc::Client::new(PaymentService::default())),
        TransportKind::Tcp => AnyClient::Tcp(tcp::Client::connect(endpoint, config).await?),
        TransportKind::Grpc | TransportKind::GrpcJson => {
            AnyClient::Grpc(grpc::Client::connect(kind.codec(), endpoint, config).await?)
        }
        TransportKind::Rest | TransportKind::RestH2 | TransportKind::RestProto => {
            AnyClient::Rest(rest::Client::connect(rest::Flavor::of(kind), endpoint, config).await?)
        }
        TransportKind::Amqp | TransportKind::AmqpJson => {
            AnyClient::Amqp(amqp::Client::connect(kind.codec(), endpoint, config).await?)
        }
        TransportKind::Kafka | TransportKind::KafkaJson => {
            AnyClient::Kafka(kafka::Client::connect(kind.codec(), endpoint, config).await?)
        }
    })
}

/// A client of any arm, dispatched by `match` (no `dyn` on the hot path).
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyClient {
    /// See [`inproc`].
    Inproc(inproc::Client),
    /// See [`tcp`].
    Tcp(tcp::Client),
    /// See [`grpc`].
    Grpc(grpc::Client),
    /// See [`rest`].
    Rest(rest::Client),
    /// See [`amqp`].
    Amqp(amqp::Client),
    /// See [`kafka`].
    Kafka(kafka::Client),
}

impl Transport for AnyClient {
    fn name(&self) -> &'static str {
        match self {
            AnyClient::Inproc(c) => c.name(),
            AnyClient::Tcp(c) => c.name(),
            AnyClient::Grpc(c) => c.name(),
            AnyClient::Rest(c) => c.name(),
            AnyClient::Amqp(c) => c.name(),
            AnyClient::Kafka(c) => c.name(),
        }
    }

    async fn call(&self, req: PaymentRequest) -> Result<PaymentResponse> {
        match self {
            AnyClient::Inproc(c) => c.call(req).await,
            AnyClient::Tcp(c) => c.call(req).await,
            AnyClient::Grpc(c) => c.call(req).await,
            AnyClient::Rest(c) => c.call(req).await,
            AnyClient::Amqp(c) => c.call(req).await,
            AnyClient::Kafka(c) => c.call(req).await,
        }
    }
}

/// Binds a TCP listener for a direct server, naming the address on failure.
pub(crate) async fn bind(transport: &'static str, addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| Error::io(format!("{transport}: bind {addr}"), e))
}

/// Runs `fut` under the client's deadline, turning expiry into [`Error::Timeout`].
pub(crate) async fn with_deadline<T>(
    transport: &'static str,
    endpoint: &str,
    after: Duration,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(after, fut).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout { transport, endpoint: endpoint.to_owned(), after }),
    }
}
