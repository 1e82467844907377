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
//! Errors are JSON on every arm, `{"error":{"code":"...","message":"..."}}`: 400 malformed body,
//! 413 body over the limit, 415 unsupported content type, 422 a valid body that is not a valid
//! payment (the business function's [`DomainError`](crate::payment::DomainError)).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use futures::future::BoxFuture;
use tokio::sync::oneshot;

use crate::codec::Codec;
use crate::payment::PaymentService;
use crate::pb::{PaymentRequest, PaymentResponse};
use crate::transport::arm::{Arm, OptionKind, OptionSpec};
use crate::transport::{bind, AnyClient, ClientConfig, ServerConfig, ServerHandle, Transport};
use crate::{CallError, CallResult, Error, Result};

/// The `http` family's options.
pub const OPTIONS: &[OptionSpec] = &[OptionSpec {
    key: "http",
    kind: OptionKind::Choice(&["1.1", "2"]),
    default: "1.1",
    token: "h",
    help: "HTTP version: 1.1 with keep-alive and a connection pool (what most REST clients do), or 2 as h2c with prior knowledge on one connection",
}];

/// The one route.
pub const PATH: &str = "/v1/payments/authorize";

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
        Ok(Self { codec: arm.codec(), http2: arm.option("http")? == "2" })
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
        let connect_error = |source: Box<dyn std::error::Error + Send + Sync>| CallError::Connect {
            transport: flavor.name(),
            endpoint: endpoint.to_owned(),
            source,
        };
        let http = builder.build().map_err(|e| connect_error(Box::new(e)))?;
        let url = reqwest::Url::parse(&format!("http://{endpoint}{PATH}")).map_err(|e| connect_error(Box::new(e)))?;
        Ok(Self { flavor, endpoint: endpoint.to_owned(), url, config: config.clone(), http })
    }

    fn http_error(&self, e: reqwest::Error) -> CallError {
        let transport = self.flavor.name();
        if e.is_timeout() {
            CallError::Timeout { transport, endpoint: self.endpoint.clone(), after: self.config.timeout }
        } else if e.is_connect() {
            CallError::Connect { transport, endpoint: self.endpoint.clone(), source: Box::new(e) }
        } else {
            CallError::Call { transport, endpoint: self.endpoint.clone(), message: error_chain(&e) }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Transport for Client {
    fn name(&self) -> &str {
        self.flavor.name()
    }

    async fn call(&self, req: PaymentRequest) -> CallResult<PaymentResponse> {
        let codec = self.flavor.codec;
        let body = codec.encode_request(&req)?;
        let resp = self
            .http
            .post(self.url.clone())
            .header(header::CONTENT_TYPE, codec.content_type())
            .header(header::ACCEPT, codec.content_type())
            .body(body)
            .send()
            .await
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
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| format!("{}: {}", b.error.code, b.error.message))
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            return Err(CallError::Rejected {
                transport: self.flavor.name(),
                status: status.as_u16().to_string(),
                message,
            });
        }
        codec.decode_response(&bytes)
    }
}

/// The JSON error body every REST error response carries.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong, machine- and human-readable.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ErrorDetail {
    /// Stable code: `malformed_body`, `body_too_large`, `unsupported_media_type`, or a domain code.
    pub code: String,
    /// Explanation naming the offending part.
    pub message: String,
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
    Router::new()
        .route(PATH, post(authorize))
        .route(crate::codec::openapi::PATH, get(openapi_json))
        .with_state(AppState { service: config.service, max_body_bytes: config.max_body_bytes })
}

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
