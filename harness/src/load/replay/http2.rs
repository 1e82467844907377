//! HTTP/2 replay (`rest-h2`, `grpc`, `grpc-json`): h2c with prior knowledge on one connection
//! (or the gRPC arm's `channels` connections, round-robin), every call its own stream: what
//! h2load's `-c1 -m N` and a tonic `Channel` do.
//!
//! gRPC: the body is the 5-byte length-prefixed message built once
//! ([`crate::codec::grpc::wire_message`]); the call succeeds on `grpc-status: 0` in the trailers
//! (or in the headers of a trailers-only reply). Both gRPC arms send `content-type:
//! application/grpc`, as their tonic client does (tonic sends it whatever the codec; the server
//! accepts any `application/grpc*`), so replay and full-stack put the same headers on the wire.

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, TE};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tonic::Code;

use super::http1::rejected;
use super::{connect_error, open_tcp};
use crate::codec::Codec;
use crate::error::error_chain;
use crate::transport::ClientConfig;
use crate::{CallError, CallResult, Error, Result};

/// What travels in the HTTP/2 streams.
#[derive(Debug, Clone, Copy)]
pub(super) enum Flavor {
    /// A REST body in this codec on `POST /v1/payments/authorize`.
    Rest(Codec),
    /// A gRPC unary `Authorize` call.
    Grpc,
}

/// The gRPC method path, as tonic's generated client sends it.
const GRPC_PATH: &str = "/payment.v1.PaymentService/Authorize";

/// One or more h2c connections to one server.
#[derive(Debug)]
pub(super) struct Conn {
    label: &'static str,
    endpoint: String,
    flavor: Flavor,
    config: ClientConfig,
    /// Absolute URI: HTTP/2 carries `:scheme` and `:authority`, which hyper takes from it.
    uri: Uri,
    content_type: HeaderValue,
    senders: Vec<SendRequest<Full<Bytes>>>,
    next: AtomicUsize,
}

impl Conn {
    /// Opens `connections` h2c connections now, so an unreachable server fails at connect time.
    pub(super) async fn connect(
        endpoint: &str,
        flavor: Flavor,
        connections: usize,
        config: &ClientConfig,
    ) -> Result<Self> {
        let (label, path, content_type) = match flavor {
            Flavor::Rest(codec) => ("replay (h2c)", crate::transport::rest::PATH, codec.content_type()),
            Flavor::Grpc => ("replay (gRPC)", GRPC_PATH, "application/grpc"),
        };
        let uri = format!("http://{endpoint}{path}")
            .parse::<Uri>()
            .map_err(|e| Error::Config(format!("{label}: {endpoint:?} is not a host:port ({e})")))?;
        let mut senders = Vec::with_capacity(connections.max(1));
        for _ in 0..connections.max(1) {
            let stream = open_tcp(label, endpoint, config.timeout).await?;
            // hyper's default windows and stream limits, as tonic and reqwest use them.
            let (sender, connection) = http2::Builder::new(TokioExecutor::new())
                .handshake(TokioIo::new(stream))
                .await
                .map_err(|e| connect_error(label, endpoint, e))?;
            // The connection task drives every stream; it ends when the last sender is dropped.
            tokio::spawn(connection);
            senders.push(sender);
        }
        Ok(Self {
            label,
            endpoint: endpoint.to_owned(),
            flavor,
            config: config.clone(),
            uri,
            content_type: HeaderValue::from_static(content_type),
            senders,
            next: AtomicUsize::new(0),
        })
    }

    /// Whether replies are gRPC messages (5-byte prefix) rather than bare bodies.
    pub(super) fn is_grpc(&self) -> bool {
        matches!(self.flavor, Flavor::Grpc)
    }

    fn call_error(&self, message: String) -> CallError {
        CallError::Call { transport: self.label, endpoint: self.endpoint.clone(), message }
    }

    /// Sends `body` on a new stream and returns the reply body (the gRPC message, prefix
    /// included) of a successful call.
    pub(super) async fn exchange(&self, body: &Bytes) -> CallResult<Bytes> {
        let pick =
            if self.senders.len() == 1 { 0 } else { self.next.fetch_add(1, Ordering::Relaxed) % self.senders.len() };
        // A clone shares the connection (a handle on its request queue): how calls multiplex.
        let mut sender = self.senders[pick].clone();
        let mut request = Request::new(Full::new(body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, self.content_type.clone());
        match self.flavor {
            Flavor::Rest(_) => {
                headers.insert(ACCEPT, self.content_type.clone());
            }
            Flavor::Grpc => {
                headers.insert(TE, HeaderValue::from_static("trailers"));
            }
        }
        let response = sender.send_request(request).await.map_err(|e| self.call_error(error_chain(&e)))?;
        let (parts, body) = response.into_parts();
        let collected = body.collect().await.map_err(|e| self.call_error(error_chain(&e)))?;
        let outcome = match self.flavor {
            Flavor::Rest(_) if parts.status != StatusCode::OK => Err(parts.status),
            Flavor::Rest(_) => Ok(()),
            Flavor::Grpc if parts.status != StatusCode::OK => {
                return Err(self.call_error(format!("HTTP status {} instead of 200", parts.status)));
            }
            // A trailers-only reply (every error tonic sends before a message) has the status in
            // its headers.
            Flavor::Grpc => {
                let trailers = collected.trailers().filter(|t| t.contains_key("grpc-status"));
                self.grpc_status(trailers.unwrap_or(&parts.headers))?;
                Ok(())
            }
        };
        let reply = collected.to_bytes();
        if reply.len() > self.config.max_body_bytes + crate::codec::grpc::MESSAGE_PREFIX_BYTES {
            return Err(self.call_error(format!("response body over the {}-byte limit", self.config.max_body_bytes)));
        }
        match outcome {
            Ok(()) => Ok(reply),
            Err(status) => Err(rejected(self.label, status, &reply)),
        }
    }

    /// `Ok` for `grpc-status: 0`; otherwise the error the full-stack gRPC client would report.
    fn grpc_status(&self, headers: &HeaderMap) -> CallResult<()> {
        // Fast path: one header compare; tonic's parser (which copies the map) only on errors.
        if headers.get("grpc-status").is_some_and(|v| v == "0") {
            return Ok(());
        }
        let Some(status) = tonic::Status::from_header_map(headers) else {
            return Err(self.call_error("reply without grpc-status".to_owned()));
        };
        Err(match status.code() {
            Code::Ok => return Ok(()),
            Code::DeadlineExceeded => CallError::Timeout {
                transport: self.label,
                endpoint: self.endpoint.clone(),
                after: self.config.timeout,
            },
            Code::Unavailable | Code::Unknown | Code::Internal | Code::Cancelled => {
                self.call_error(format!("{:?}: {}", status.code(), status.message()))
            }
            code => CallError::Rejected {
                transport: self.label,
                status: format!("{code:?}"),
                message: status.message().to_owned(),
            },
        })
    }
}
