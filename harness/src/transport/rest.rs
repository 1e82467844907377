//! `rest`, `rest-h2` and `rest-proto`: an axum server and a reqwest client.
//!
//! One server answers all three arms on `POST /v1/payments/authorize`, choosing the codec from the
//! request's `Content-Type` and answering in the same codec. The arms differ only on the client:
//!
//! | arm | body | HTTP |
//! |---|---|---|
//! | `rest` | JSON | HTTP/1.1, keep-alive, pooled connections |
//! | `rest-h2` | JSON | HTTP/2 with prior knowledge (h2c), one multiplexed connection |
//! | `rest-proto` | protobuf (`application/x-protobuf`) | HTTP/1.1, keep-alive, pooled connections |
//!
//! Against `grpc` and `grpc-json` this splits the "5x" claim into its two causes: body format
//! (`rest` vs `rest-proto`, `grpc-json` vs `grpc`) and HTTP version (`rest` vs `rest-h2`).
//!
//! Tuning, equal across arms: TCP_NODELAY on both ends (axum's listener does not set it by
//! default, axum#2521, so the server taps every accepted socket); one client instance with
//! reqwest's connection pool (HTTP/1.1 opens one pooled connection per concurrent call, which is
//! how HTTP/1.1 clients get concurrency); no compression (reqwest built without gzip); no TLS.
//!
//! **Connection cap** ([`ClientConfig::max_connections`], HTTP/1.1 only). reqwest has no maximum
//! on open connections, only on idle ones (`pool_max_idle_per_host`, which closes the surplus
//! *after* use, so it adds churn and caps nothing). Uncapped, `rest` used 22 sockets at 16 calls in
//! flight and up to 236 in sweeps. An HTTP/1.1 connection carries one call at a time, so a cap of
//! N connections is the same as N calls on the wire at once: the client holds one of N permits
//! (a semaphore) from before the request is sent until its body is read, and further calls wait
//! for a permit, as they would wait for a free connection in a pool with a maximum (the wait counts
//! against the call's timeout, and the load generator's latency, measured from the intended send
//! time, includes it). With a cap, at most N idle connections are kept, so none is closed and
//! reopened, and idle connections never expire (`pool_idle_timeout(None)`): a reconnect inside a
//! measured window would be set-up cost, not the transport's steady state.
//!
//! The permits alone do not cap sockets. reqwest's pool (hyper-util's) hands a finished call's
//! connection back on a separate task, a moment after the caller has the body and released its
//! permit. A call that takes the permit in that gap finds no idle connection and races a new
//! connect against the returning one; the connect was already started when the returning
//! connection wins, so it completes in the background and the server sees one connection more
//! (5 for a cap of 4 in 10 runs of 30, before this gate). So the connector is gated too
//! (`ConnectGate`, a tower layer on reqwest's connector): up to the cap a connect goes ahead;
//! past it, it waits, and gives up as soon as the call that asked for it has its response
//! (it was served by the returning connection, so this connect is not needed). Only if the call
//! is still waiting after [`RECONNECT_GRACE`] does the connect go ahead: a connection of the pool
//! has died (the server closed it), and it is replaced. A call that ends before it has read its
//! whole response (its deadline passed, the connection broke) takes its connection down with it
//! (HTTP/1.1 cannot reuse a connection with a response half read), so it gives its slot back
//! ([`UnfinishedCall`]): without that, a burst of timed-out calls left the gate counting dead
//! connections, every later connect waited the whole grace, and the client never recovered
//! (`harness/tests/direct_transports.rs`). A call dropped while it waited for a connect gives a
//! slot back too, although that connect may still complete into the pool: the count then errs
//! by one towards a socket over the cap, never towards a stall. A hyper-based pool of our own would cap
//! sockets without the race, but the arm would no longer measure reqwest, the client most Rust
//! REST services use.
//!
//! Errors are JSON on every arm, `{"error":{"code":"...","message":"..."}}`: 400 malformed body,
//! 413 body over the limit, 415 unsupported content type, 422 a valid body that is not a valid
//! payment (the business function's [`DomainError`](crate::payment::DomainError)).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use futures::future::BoxFuture;
use tokio::sync::{oneshot, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::codec::Codec;
use crate::error::error_chain;
use crate::payment::PaymentService;
use crate::pb::{PaymentRequest, PaymentResponse};
use crate::transport::arm::{family_options, Arm, OptionKind, OptionSpec};
use crate::transport::{bind, protect, AnyClient, ClientConfig, ServerConfig, ServerHandle, Transport};
use crate::{CallError, CallResult, Error, Result};

family_options! {
    /// The `http` family's options.
    pub struct Options {
        http: String = "1.1", OptionKind::Choice(&["1.1", "2"]), token "h", help "HTTP version: 1.1 with keep-alive and a connection pool (what most REST clients do), or 2 as h2c with prior knowledge on one connection";
    }
}

/// The `http` family's option specs, from [`Options`].
pub const OPTIONS: &[OptionSpec] = Options::SPECS;

/// The one route, and the error body every REST error response carries: the REST contract, in
/// the model crate with the OpenAPI document that describes them.
pub use crate::codec::openapi::{ErrorBody, ErrorDetail, AUTHORIZE_PATH as PATH};

/// How long a connect past `max_connections` waits for a pooled connection to come back before it
/// is taken to replace a dead one. The gap it normally covers is one task wake-up (microseconds);
/// only a call whose connection really died waits this long, once.
pub const RECONNECT_GRACE: Duration = Duration::from_secs(1);

tokio::task_local! {
    /// Cancelled once the running call has its response (or is dropped): a connect it started
    /// past the cap is then not needed.
    static CALL_SERVED: CancellationToken;
}

/// Holds connects to the cap (see the module docs): a tower layer on reqwest's connector.
#[derive(Debug, Clone)]
struct ConnectGate {
    opened: Arc<AtomicUsize>,
    max_connections: usize,
    grace: Duration,
}

impl ConnectGate {
    /// Takes a connection slot if one is free.
    fn admit(&self) -> bool {
        self.opened
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.max_connections).then_some(n + 1))
            .is_ok()
    }
}

impl<S> tower::Layer<S> for ConnectGate {
    type Service = GatedConnector<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GatedConnector { inner, gate: self.clone() }
    }
}

/// Gives a connection slot back to the [`ConnectGate`] if the call ends (or is dropped) before
/// [`Self::finished`]: its connection closed with it.
#[derive(Debug)]
struct UnfinishedCall(Option<Arc<AtomicUsize>>);

impl UnfinishedCall {
    /// The whole response was read: the connection goes back to the pool, its slot stays taken.
    fn finished(mut self) {
        self.0 = None;
    }
}

impl Drop for UnfinishedCall {
    fn drop(&mut self) {
        if let Some(opened) = self.0.take() {
            let _ = opened.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        }
    }
}

/// reqwest's connector behind a [`ConnectGate`].
#[derive(Debug, Clone)]
struct GatedConnector<S> {
    inner: S,
    gate: ConnectGate,
}

impl<S, R> tower::Service<R> for GatedConnector<S>
where
    S: tower::Service<R> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: From<&'static str> + Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, std::result::Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::result::Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, target: R) -> Self::Future {
        // tower's contract: the service that was polled ready makes the call; a clone stays.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = self.gate.clone();
        // reqwest's pool asks for the connect inside the calling task's poll, so the call is known.
        let served = CALL_SERVED.try_with(CancellationToken::clone).ok();
        Box::pin(async move {
            if !gate.admit() {
                let grace = tokio::time::sleep(gate.grace);
                match served {
                    Some(served) => tokio::select! {
                        _ = served.cancelled() => {
                            return Err(S::Error::from("connect past max_connections not needed: a pooled connection came back"));
                        }
                        _ = grace => {}
                    },
                    None => grace.await,
                }
                gate.opened.fetch_add(1, Ordering::AcqRel);
            }
            let connected = inner.call(target).await;
            if connected.is_err() {
                gate.opened.fetch_sub(1, Ordering::AcqRel);
            }
            connected
        })
    }
}

/// What a REST client speaks: a body codec over an HTTP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flavor {
    /// The body codec.
    pub codec: Codec,
    /// HTTP/2 (h2c, prior knowledge) instead of HTTP/1.1.
    pub http2: bool,
}

impl Flavor {
    /// The flavor an arm of the `http` family asks for.
    pub fn of(arm: &Arm) -> Result<Self> {
        Ok(Self { codec: arm.codec(), http2: Options::of(arm)?.http == "2" })
    }

    fn name(self) -> &'static str {
        // The label in error messages; the arm's canonical name is on the AnyClient.
        if self.http2 {
            "rest (HTTP/2)"
        } else {
            "rest"
        }
    }
}

/// A reqwest client for one REST arm; one instance carries all concurrent calls.
#[derive(Debug, Clone)]
pub struct Client {
    flavor: Flavor,
    endpoint: String,
    /// Parsed once: reqwest would otherwise parse the URL string on every call.
    url: reqwest::Url,
    config: ClientConfig,
    http: reqwest::Client,
    /// One permit per allowed HTTP/1.1 connection ([`ClientConfig::max_connections`]); `None`
    /// when uncapped or on HTTP/2.
    connection_permits: Option<Arc<Semaphore>>,
    /// The [`ConnectGate`]'s count of open connections, when capped.
    opened: Option<Arc<AtomicUsize>>,
}

impl Client {
    /// Builds a client for `flavor` against the server at `endpoint` (`host:port`).
    ///
    /// reqwest connects lazily, so an unreachable server surfaces on the first call, as
    /// [`CallError::Connect`], within the connect timeout.
    pub async fn connect(flavor: Flavor, endpoint: &str, config: &ClientConfig) -> Result<Self> {
        let builder =
            reqwest::Client::builder().tcp_nodelay(true).connect_timeout(config.timeout).timeout(config.timeout);
        let builder = if flavor.http2 { builder.http2_prior_knowledge() } else { builder.http1_only() };
        // A capped pool keeps every connection it may use: no more idle ones than the cap (so a
        // quiet spell closes none) and no idle expiry (reqwest's default closes after 90 s, so the
        // next busy window would pay the reconnects).
        let max_connections = if flavor.http2 { None } else { config.max_connections.map(|n| n.max(1)) };
        let opened = max_connections.map(|_| Arc::new(AtomicUsize::new(0)));
        let builder = match (max_connections, &opened) {
            (Some(cap), Some(opened)) => {
                let gate = ConnectGate {
                    opened: opened.clone(),
                    max_connections: cap,
                    grace: RECONNECT_GRACE.min(config.timeout),
                };
                builder.pool_max_idle_per_host(cap).pool_idle_timeout(None).connector_layer(gate)
            }
            _ => builder,
        };
        let connect_error = |source: Box<dyn std::error::Error + Send + Sync>| CallError::Connect {
            transport: flavor.name(),
            endpoint: endpoint.to_owned(),
            source,
        };
        let http = builder.build().map_err(|e| connect_error(Box::new(e)))?;
        let url = reqwest::Url::parse(&format!("http://{endpoint}{PATH}")).map_err(|e| connect_error(Box::new(e)))?;
        let connection_permits = max_connections.map(|cap| Arc::new(Semaphore::new(cap)));
        Ok(Self {
            flavor,
            endpoint: endpoint.to_owned(),
            url,
            config: config.clone(),
            http,
            connection_permits,
            opened,
        })
    }

    fn call_error(&self, message: &str) -> CallError {
        CallError::Call { transport: self.flavor.name(), endpoint: self.endpoint.clone(), message: message.to_owned() }
    }

    fn timeout_error(&self) -> CallError {
        CallError::Timeout {
            transport: self.flavor.name(),
            endpoint: self.endpoint.clone(),
            after: self.config.timeout,
        }
    }

    fn http_error(&self, e: reqwest::Error) -> CallError {
        let transport = self.flavor.name();
        if e.is_timeout() {
            self.timeout_error()
        } else if e.is_connect() {
            CallError::Connect { transport, endpoint: self.endpoint.clone(), source: Box::new(e) }
        } else {
            CallError::Call { transport, endpoint: self.endpoint.clone(), message: error_chain(&e) }
        }
    }
}

impl Transport for Client {
    fn name(&self) -> &str {
        self.flavor.name()
    }

    async fn call(&self, req: PaymentRequest) -> CallResult<PaymentResponse> {
        let codec = self.flavor.codec;
        let body = codec.encode_request(&req)?;
        let started = Instant::now();
        // Held until the body is read: on HTTP/1.1 that is how long the call occupies a connection.
        let _permit = match &self.connection_permits {
            Some(permits) => match tokio::time::timeout(self.config.timeout, permits.acquire()).await {
                Ok(Ok(permit)) => Some(permit),
                Ok(Err(_)) => return Err(self.call_error("connection permits closed")),
                Err(_) => return Err(self.timeout_error()),
            },
            None => None,
        };
        let unfinished = UnfinishedCall(self.opened.clone());
        // Waiting for a connection is part of the call, as in any pool with a maximum.
        let remaining = self.config.timeout.saturating_sub(started.elapsed());
        let send = self
            .http
            .post(self.url.clone())
            .timeout(remaining)
            .header(header::CONTENT_TYPE, codec.content_type())
            .header(header::ACCEPT, codec.content_type())
            .body(body)
            .send();
        let resp = match &self.connection_permits {
            Some(_) => {
                let served = CancellationToken::new();
                // Also cancelled if this call is dropped (its caller's deadline), not only served.
                let _served_on_drop = served.clone().drop_guard();
                CALL_SERVED.scope(served, send).await
            }
            None => send.await,
        }
        .map_err(|e| self.http_error(e))?;
        let status = resp.status();
        if resp.content_length().is_some_and(|len| len as usize > self.config.max_body_bytes) {
            return Err(CallError::Call {
                transport: self.flavor.name(),
                endpoint: self.endpoint.clone(),
                message: format!("response body over the {}-byte limit", self.config.max_body_bytes),
            });
        }
        let bytes = resp.bytes().await.map_err(|e| self.http_error(e))?;
        unfinished.finished();
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| format!("{}: {}", b.error.code, b.error.message))
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            if status == StatusCode::SERVICE_UNAVAILABLE {
                return Err(CallError::Shed { transport: self.flavor.name(), message });
            }
            return Err(CallError::Rejected {
                transport: self.flavor.name(),
                status: status.as_u16().to_string(),
                message,
            });
        }
        codec.decode_response(&bytes)
    }
}

fn error_response(status: StatusCode, code: &str, message: String) -> Response {
    let body = ErrorBody { error: ErrorDetail { code: code.to_owned(), message } };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

#[derive(Debug, Clone, Copy)]
struct AppState {
    service: PaymentService,
    max_body_bytes: usize,
}

/// The axum app, constructible without a socket (tests drive it with `tower::ServiceExt`).
pub fn app(config: &ServerConfig) -> Router {
    let router = Router::new()
        .route(PATH, post(authorize))
        .route(crate::codec::openapi::PATH, get(openapi_json))
        .with_state(AppState { service: config.service, max_body_bytes: config.max_body_bytes });
    match config.max_concurrent_calls {
        // The `+res` layer: calls past the server-wide limit are shed with 503.
        Some(limit) => router.layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(|e: tower::BoxError| async move {
                    error_response(StatusCode::SERVICE_UNAVAILABLE, SHED_CODE, e.to_string())
                }))
                .layer(protect::shed_layer(limit)),
        ),
        None => router,
    }
}

/// The error code of a call the server shed (HTTP 503, the `+res` layer).
pub const SHED_CODE: &str = "overloaded";

async fn authorize(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some(codec) = Codec::from_content_type(content_type) else {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("content-type {content_type:?} is not application/json or application/x-protobuf"),
        );
    };
    let bytes = match axum::body::to_bytes(body, state.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request body over the {}-byte limit ({e})", state.max_body_bytes),
            );
        }
    };
    let req = match codec.decode_request(&bytes) {
        Ok(req) => req,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, "malformed_body", e.to_string()),
    };
    match state.service.authorize(&req).await {
        Ok(resp) => match codec.encode_response(&resp) {
            Ok(bytes) => {
                let mut response = bytes.into_response();
                response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(codec.content_type()));
                response
            }
            Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, "encode_failed", e.to_string()),
        },
        Err(e) => error_response(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string()),
    }
}

/// `GET /openapi.json`: this API's OpenAPI 3 document (committed as `docs/openapi.json`).
async fn openapi_json() -> Response {
    match crate::codec::openapi::document_json(PATH) {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, "encode_failed", e.to_string()),
    }
}

/// Starts the axum server (HTTP/1.1 and h2c on the same port) for all three REST arms.
pub async fn serve(config: &ServerConfig) -> Result<ServerHandle> {
    let listener = bind("rest", config.bind).await?;
    let addr = listener.local_addr().map_err(|e| Error::io("rest: local_addr", e))?;
    // axum does not set TCP_NODELAY on accepted sockets; without it small responses can wait on
    // Nagle + delayed ACK (~40 ms).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = app(config);
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stop.await;
        });
        if let Err(e) = server.await {
            tracing::error!("rest: server on {addr} stopped: {e}");
        }
    });
    Ok(ServerHandle::new(addr.to_string(), shutdown, task))
}
/// Registry entry: the axum server (it serves every flavor on one port).
pub(crate) fn serve_arm(_arm: &Arm, config: &ServerConfig) -> BoxFuture<'static, Result<ServerHandle>> {
    let config = config.clone();
    Box::pin(async move { serve(&config).await })
}

/// Registry entry: a reqwest client in the arm's codec and HTTP version.
pub(crate) fn connect_arm(arm: &Arm, endpoint: &str, config: &ClientConfig) -> BoxFuture<'static, Result<AnyClient>> {
    let (arm, endpoint, config) = (arm.clone(), endpoint.to_owned(), config.clone());
    Box::pin(async move { Ok(AnyClient::new(&arm, Client::connect(Flavor::of(&arm)?, &endpoint, &config).await?)) })
}
