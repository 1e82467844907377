//! `grpc` and `grpc-json`: tonic unary calls over HTTP/2.
//!
//! Both arms run the same server code and differ only in the codec ([`crate::codec::grpc`]):
//! protobuf (`application/grpc`) or JSON (`application/grpc+json`). Comparing them isolates what
//! the body format costs when the transport (HTTP/2 + gRPC framing) is held fixed.
//!
//! Tuning, identical on both arms and matching the REST arms where they overlap:
//! - TCP_NODELAY on both ends (tonic's client default; set explicitly on the server).
//! - One HTTP/2 connection per client, shared by all in-flight calls (tonic's `Channel`), unless
//!   the `channels` option asks for N connections, used round-robin: the fair counterpart of an
//!   HTTP/1.1 pool ("one HTTP/2 connection vs a pool" measured instead of argued).
//! - HTTP/2 flow-control windows left at hyper's defaults, as for `rest-h2`; max concurrent
//!   streams per connection set to [`crate::transport::HTTP2_MAX_CONCURRENT_STREAMS`], which is
//!   what axum (hyper's default) announces for `rest-h2`.
//! - No compression, no TLS, as on every arm.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use tokio::sync::oneshot;
use tonic::transport::{server::TcpIncoming, Channel, Endpoint, Server};
use tonic::{Code, Request, Response, Status, Streaming};

use crate::codec::grpc::oversize_as_resource_exhausted;
use crate::codec::Codec;
use crate::payment::{DomainError, PaymentService};
use crate::pb::{self, PaymentRequest, PaymentResponse};
use crate::transport::arm::{family_options, Arm, OptionKind, OptionSpec};
use crate::transport::{bind, protect, with_deadline, AnyClient, ClientConfig, ServerConfig, ServerHandle, Transport};
use crate::{CallError, CallResult, Error, Result};

family_options! {
    /// The `grpc` family's options.
    pub struct Options {
        channels: usize = "1", OptionKind::Count { min: 1, max: 64 }, token "ch", help "HTTP/2 connections per client, used round-robin; 1 is what a tonic Channel does by default";
    }
}

/// The `grpc` family's option specs, from [`Options`].
pub const OPTIONS: &[OptionSpec] = Options::SPECS;

fn arm_name(codec: Codec) -> &'static str {
    match codec {
        Codec::Protobuf => "grpc",
        Codec::Json => "grpc-json",
    }
}

/// A tonic client on one HTTP/2 connection; cheap to share across concurrent calls.
#[derive(Debug, Clone)]
pub struct Client {
    name: &'static str,
    endpoint: String,
    config: ClientConfig,
    /// One tonic client per connection; calls go round-robin over them.
    inner: Arc<[Inner]>,
    next: Arc<AtomicUsize>,
}

#[derive(Debug, Clone)]
enum Inner {
    Proto(pb::payment_service_client::PaymentServiceClient<Channel>),
    Json(pb::json::payment_service_client::PaymentServiceClient<Channel>),
}

impl Client {
    /// Connects to a gRPC server at `endpoint` (`host:port`) with the given body codec.
    pub async fn connect(codec: Codec, endpoint: &str, config: &ClientConfig) -> Result<Self> {
        Self::connect_channels(codec, 1, endpoint, config).await
    }

    /// Connects `channels` separate HTTP/2 connections (each its own tonic `Channel`).
    pub async fn connect_channels(
        codec: Codec,
        channels: usize,
        endpoint: &str,
        config: &ClientConfig,
    ) -> Result<Self> {
        let mut inner = Vec::with_capacity(channels);
        for _ in 0..channels.max(1) {
            inner.push(Self::connect_one(codec, endpoint, config).await?);
        }
        Ok(Self {
            name: arm_name(codec),
            endpoint: endpoint.to_owned(),
            config: config.clone(),
            inner: inner.into(),
            next: Arc::default(),
        })
    }

    async fn connect_one(codec: Codec, endpoint: &str, config: &ClientConfig) -> Result<Inner> {
        let name = arm_name(codec);
        let connect_error = |e: Box<dyn std::error::Error + Send + Sync>| CallError::Connect {
            transport: name,
            endpoint: endpoint.to_owned(),
            source: e,
        };
        let channel = Endpoint::from_shared(format!("http://{endpoint}"))
            .map_err(|e| connect_error(Box::new(e)))?
            .tcp_nodelay(true)
            .connect_timeout(config.timeout)
            .connect()
            .await
            .map_err(|e| connect_error(Box::new(e)))?;
        let limit = config.max_body_bytes;
        Ok(match codec {
            Codec::Protobuf => Inner::Proto(
                pb::payment_service_client::PaymentServiceClient::new(channel).max_decoding_message_size(limit),
            ),
            Codec::Json => Inner::Json(
                pb::json::payment_service_client::PaymentServiceClient::new(channel).max_decoding_message_size(limit),
            ),
        })
    }

    fn status_error(&self, status: Status) -> CallError {
        match status.code() {
            // tonic's server answers an expired `grpc-timeout` with CANCELLED and its timeout's
            // words; any other CANCELLED is the connection's (a reset stream), not a deadline.
            Code::DeadlineExceeded => CallError::Deadline {
                transport: self.name,
                message: format!("{:?}: {}", status.code(), status.message()),
            },
            Code::Cancelled if status.message() == TONIC_DEADLINE_MESSAGE => CallError::Deadline {
                transport: self.name,
                message: format!("{:?}: {}", status.code(), status.message()),
            },
            Code::ResourceExhausted if status.message() == protect::TONIC_SHED_MESSAGE => {
                CallError::Shed { transport: self.name, message: status.message().to_owned() }
            }
            Code::Unavailable | Code::Unknown | Code::Internal | Code::Cancelled => CallError::Call {
                transport: self.name,
                endpoint: self.endpoint.clone(),
                message: format!("{:?}: {}", status.code(), status.message()),
            },
            code => CallError::Rejected {
                transport: self.name,
                status: format!("{code:?}"),
                message: status.message().to_owned(),
            },
        }
    }
}

impl Transport for Client {
    fn name(&self) -> &str {
        self.name
    }

    async fn call(&self, req: PaymentRequest) -> CallResult<PaymentResponse> {
        // Clones of a tonic client share the channel: this is how tonic multiplexes calls.
        let reply = with_deadline(self.name, &self.endpoint, self.config.timeout, async {
            let pick = self.next.fetch_add(1, Ordering::Relaxed) % self.inner.len();
            let mut request = Request::new(req);
            if self.config.send_deadline {
                request.set_timeout(self.config.timeout);
            }
            let reply = match self.inner[pick].clone() {
                Inner::Proto(mut c) => c.authorize(request).await,
                Inner::Json(mut c) => c.authorize(request).await,
            };
            reply.map_err(|status| self.status_error(status))
        })
        .await?;
        Ok(reply.into_inner())
    }
}

/// The gRPC service: decodes (in the codec), calls the business function, encodes.
#[derive(Debug, Clone, Copy)]
struct Handler {
    service: PaymentService,
}

fn domain_status(e: DomainError) -> Status {
    Status::invalid_argument(e.to_string())
}

impl Handler {
    async fn authorize(&self, req: PaymentRequest) -> Result<PaymentResponse, Status> {
        self.service.authorize(&req).await.map_err(domain_status)
    }
}

type ReplyStream = Pin<Box<dyn Stream<Item = Result<PaymentResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl pb::payment_service_server::PaymentService for Handler {
    async fn authorize(&self, request: Request<PaymentRequest>) -> Result<Response<PaymentResponse>, Status> {
        Handler::authorize(self, request.into_inner()).await.map(Response::new)
    }

    type AuthorizeStreamStream = ReplyStream;

    /// Replies in request order. The first bad request (malformed, or not a valid payment) ends the
    /// call with INVALID_ARGUMENT after the earlier replies: tonic closes a response stream at its
    /// first `Err` item (harness/tests/grpc_stream.rs).
    async fn authorize_stream(
        &self,
        request: Request<Streaming<PaymentRequest>>,
    ) -> Result<Response<Self::AuthorizeStreamStream>, Status> {
        let handler = *self;
        let replies = request.into_inner().then(move |item| async move {
            match item {
                Ok(req) => handler.authorize(req).await,
                Err(status) => Err(status),
            }
        });
        Ok(Response::new(Box::pin(replies)))
    }
}

#[tonic::async_trait]
impl pb::json::payment_service_server::PaymentService for Handler {
    async fn authorize(&self, request: Request<PaymentRequest>) -> Result<Response<PaymentResponse>, Status> {
        Handler::authorize(self, request.into_inner()).await.map(Response::new)
    }
}

/// Puts [`RequireGrpcContentType`] around a service (a named layer: a constructor passed to
/// `layer_fn` would make the server's type higher-ranked over the boxed errors' lifetimes).
#[derive(Debug, Clone, Copy)]
struct RequireGrpcContentTypeLayer;

impl<S> tower::Layer<S> for RequireGrpcContentTypeLayer {
    type Service = RequireGrpcContentType<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireGrpcContentType(inner)
    }
}

/// Answers HTTP 415 to a request whose content type is not `application/grpc*`, as the gRPC
/// HTTP/2 protocol spec says a server should; tonic itself would try to parse the body as frames.
#[derive(Debug, Clone)]
struct RequireGrpcContentType<S>(S);

impl<S, B> tower::Service<http::Request<B>> for RequireGrpcContentType<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::Either<futures::future::Ready<Result<Self::Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let is_grpc = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/grpc"));
        if is_grpc {
            return futures::future::Either::Right(self.0.call(request));
        }
        let mut response = http::Response::new(tonic::body::Body::empty());
        *response.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
        futures::future::Either::Left(futures::future::ready(Ok(response)))
    }
}

/// The message of tonic's CANCELLED for a call whose `grpc-timeout` expired at the server (its
/// `TimeoutExpired` error).
const TONIC_DEADLINE_MESSAGE: &str = "Timeout expired";

/// The error of a service that cannot fail, as the error type of one that can.
fn box_never(never: std::convert::Infallible) -> tower::BoxError {
    match never {}
}

/// Starts a tonic server for the `grpc` (protobuf) or `grpc-json` arm.
pub async fn serve(codec: Codec, config: &ServerConfig) -> Result<ServerHandle> {
    let name = arm_name(codec);
    let listener = bind(name, config.bind).await?;
    let addr = listener.local_addr().map_err(|e| Error::io(format!("{name}: local_addr"), e))?;
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let handler = Handler { service: config.service };
    let limit = config.max_body_bytes;
    let (shutdown, stop) = oneshot::channel::<()>();
    let mut router = Server::builder()
        .tcp_nodelay(true)
        .max_concurrent_streams(Some(crate::transport::HTTP2_MAX_CONCURRENT_STREAMS))
        .layer(RequireGrpcContentTypeLayer)
        .layer(tower::util::MapResponseLayer::new(oversize_as_resource_exhausted::<tonic::body::Body>))
        // The `+res` layer: calls past the server-wide limit are shed (RESOURCE_EXHAUSTED). Both
        // branches must fail alike, so the routes' (infallible) error is boxed beneath it.
        .layer(tower::util::option_layer(config.max_concurrent_calls.map(protect::shed_layer)))
        .layer(tower::util::MapErrLayer::new(box_never as fn(std::convert::Infallible) -> tower::BoxError));
    let router = match codec {
        Codec::Protobuf => router.add_service(
            pb::payment_service_server::PaymentServiceServer::new(handler).max_decoding_message_size(limit),
        ),
        Codec::Json => router.add_service(
            pb::json::payment_service_server::PaymentServiceServer::new(handler).max_decoding_message_size(limit),
        ),
    };
    let task = tokio::spawn(async move {
        if let Err(e) = router
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stop.await;
            })
            .await
        {
            tracing::error!("{name}: server on {addr} stopped: {e}");
        }
    });
    Ok(ServerHandle::new(addr.to_string(), shutdown, task))
}
/// Registry entry: the tonic server in the arm's codec.
pub(crate) fn serve_arm(arm: &Arm, config: &ServerConfig) -> BoxFuture<'static, Result<ServerHandle>> {
    let (codec, config) = (arm.codec(), config.clone());
    Box::pin(async move { serve(codec, &config).await })
}

/// Registry entry: a client with the arm's codec and channel count.
pub(crate) fn connect_arm(arm: &Arm, endpoint: &str, config: &ClientConfig) -> BoxFuture<'static, Result<AnyClient>> {
    let (arm, endpoint, config) = (arm.clone(), endpoint.to_owned(), config.clone());
    Box::pin(async move {
        let client = Client::connect_channels(arm.codec(), Options::of(&arm)?.channels, &endpoint, &config).await?;
        Ok(AnyClient::new(&arm, client))
    })
}
