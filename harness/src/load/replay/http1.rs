//! HTTP/1.1 replay (`rest`, `rest-proto`): keep-alive connections, one per call in flight,
//! pooled: what wrk's `-c N` and reqwest's pool do. A call takes an idle connection (or opens
//! one), sends the pre-encoded body, reads the whole reply and puts the connection back.

use std::sync::Mutex;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

use super::{connect_error, open_tcp};
use crate::codec::Codec;
use crate::error::error_chain;
use crate::transport::rest::{ErrorBody, PATH};
use crate::transport::ClientConfig;
use crate::{CallError, CallResult, Error, Result};

const LABEL: &str = "replay (HTTP/1.1)";

/// The headers every request carries, built once: the same set the full-stack client and wrk
/// send (`Host`, `Content-Type`, `Accept`, `Content-Length` from the body).
#[derive(Debug)]
struct Head {
    path: Uri,
    host: HeaderValue,
    content_type: HeaderValue,
}

/// A pool of HTTP/1.1 keep-alive connections to one server.
#[derive(Debug)]
pub(super) struct Pool {
    endpoint: String,
    config: ClientConfig,
    head: Head,
    /// Idle connections, most recently used on top (a LIFO keeps the hottest sockets busy).
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl Pool {
    /// Opens the first connection now, so an unreachable server fails at connect time.
    pub(super) async fn connect(endpoint: &str, codec: Codec, config: &ClientConfig) -> Result<Self> {
        let bad = |what: &str| Error::Config(format!("{LABEL}: {endpoint:?} is not a valid {what}"));
        let head = Head {
            path: Uri::from_static(PATH),
            host: HeaderValue::from_str(endpoint).map_err(|_| bad("Host header"))?,
            content_type: HeaderValue::from_static(codec.content_type()),
        };
        let pool = Self { endpoint: endpoint.to_owned(), config: config.clone(), head, idle: Mutex::default() };
        let first = pool.open().await?;
        pool.put_back(first);
        Ok(pool)
    }

    async fn open(&self) -> CallResult<SendRequest<Full<Bytes>>> {
        let stream = open_tcp(LABEL, &self.endpoint, self.config.timeout).await?;
        let (sender, connection) =
            http1::handshake(TokioIo::new(stream)).await.map_err(|e| connect_error(LABEL, &self.endpoint, e))?;
        // The connection task reads and writes the socket; it ends when its sender is dropped.
        tokio::spawn(connection);
        Ok(sender)
    }

    fn put_back(&self, sender: SendRequest<Full<Bytes>>) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(sender);
        }
    }

    /// An idle connection that is still open, or a new one.
    async fn checkout(&self) -> CallResult<SendRequest<Full<Bytes>>> {
        loop {
            let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            let Some(mut sender) = pooled else { return self.open().await };
            // A connection the server closed while idle is dropped; nothing was sent on it.
            if sender.ready().await.is_ok() {
                return Ok(sender);
            }
        }
    }

    fn call_error(&self, message: String) -> CallError {
        CallError::Call { transport: LABEL, endpoint: self.endpoint.clone(), message }
    }

    /// Sends `body` and returns the reply body of a 200; any other status is `Rejected`.
    pub(super) async fn exchange(&self, body: &Bytes) -> CallResult<Bytes> {
        let mut sender = self.checkout().await?;
        let mut request = Request::new(Full::new(body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.head.path.clone();
        let headers = request.headers_mut();
        headers.insert(HOST, self.head.host.clone());
        headers.insert(CONTENT_TYPE, self.head.content_type.clone());
        headers.insert(ACCEPT, self.head.content_type.clone());
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        let response = sender.send_request(request).await.map_err(|e| self.call_error(error_chain(&e)))?;
        let status = response.status();
        let declared = response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        if declared.is_some_and(|len| len > self.config.max_body_bytes) {
            return Err(self.call_error(format!("response body over the {}-byte limit", self.config.max_body_bytes)));
        }
        let reply = response.into_body().collect().await.map_err(|e| self.call_error(error_chain(&e)))?.to_bytes();
        // The whole reply was read, so the connection is free for the next call.
        self.put_back(sender);
        if status != StatusCode::OK {
            return Err(rejected(LABEL, status, &reply));
        }
        Ok(reply)
    }
}

/// A non-200 reply as the full-stack REST client reports it: the status and the error body's code
/// and message.
pub(super) fn rejected(label: &'static str, status: StatusCode, body: &[u8]) -> CallError {
    let message = serde_json::from_slice::<ErrorBody>(body)
        .map(|b| format!("{}: {}", b.error.code, b.error.message))
        .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned());
    CallError::Rejected { transport: label, status: status.as_u16().to_string(), message }
}
