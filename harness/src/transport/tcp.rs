//! `tcp`: the network floor. Length-prefixed protobuf frames on one raw TCP connection, with
//! TCP_NODELAY on both ends and calls multiplexed by a correlation id.
//!
//! Frame (after tokio-util's 4-byte big-endian length prefix):
//! `correlation id: u64 BE | status: u8 (0 ok, 1 error) | body`, where an ok body is a protobuf
//! `PaymentRequest`/`PaymentResponse` and an error body is `code: message` in UTF-8.
//! Nothing else is on the wire, so the difference between this arm and `grpc` is what HTTP/2 and
//! gRPC framing cost.
//!
//! As the floor, it keeps task hand-offs to the one a multiplexed connection needs: the reader
//! task that hands each reply to its waiting call. Everything else is done where it arises:
//!
//! - A client call writes its own frame, under the connection's write lock, in one `write` when
//!   the socket takes it (nearly always). There is no writer task fed through a queue, which cost a
//!   wake-up and a task switch per call.
//! - The server answers on the connection's task when the business function does not wait (no
//!   simulated service time), instead of spawning a task per request that queued its reply for a
//!   writer task. Replies to requests that arrived together are written together, in one `write`.
//!   With a service time, each request still gets a task, so that one slow call does not hold up
//!   the others on the connection.
//!
//! A frame is never left half-written: if the socket is full, the rest of the frame is written by
//! a task that holds the write lock, so a call cancelled at its deadline cannot corrupt the stream.

use std::io;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};

use crate::codec::Codec;
use crate::pb::{PaymentRequest, PaymentResponse};
use crate::transport::arm::{Arm, OptionSpec};
use crate::transport::correlation::Correlator;
use crate::transport::rpc::rejected;
use crate::transport::{bind, with_deadline, AnyClient, ClientConfig, ServerConfig, ServerHandle, Transport};
use crate::{CallError, CallResult, Error, Result};

/// `tcp` has no options: it is the bare network floor.
pub const OPTIONS: &[OptionSpec] = &[];

const NAME: &str = "tcp";
/// Frame status of a reply carrying a protobuf body.
pub const STATUS_OK: u8 = 0;
/// Frame status of a reply carrying `code: message`.
pub const STATUS_ERROR: u8 = 1;
/// Bytes before the body inside a frame: correlation id (8) and status (1).
pub const FRAME_HEADER_BYTES: usize = 9;
/// Bytes of the length prefix in front of every frame.
pub const LENGTH_PREFIX_BYTES: usize = 4;
/// Replies the server gathers before it writes them even though more requests are waiting.
const REPLY_BATCH_BYTES: usize = 64 * 1024;

fn frame_codec(max_body_bytes: usize) -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder().max_frame_length(max_body_bytes + 9).new_codec()
}

/// One frame without its length prefix (the codec adds it): `id | status | body`.
pub fn frame(id: u64, status: u8, body: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(9 + body.len());
    buf.put_u64(id);
    buf.put_u8(status);
    buf.put_slice(body);
    buf.freeze()
}

/// One frame as it travels on the wire, length prefix included (for benches and replay clients
/// that write the bytes themselves).
pub fn wire_frame(id: u64, status: u8, body: &[u8]) -> Vec<u8> {
    let mut wire = Vec::with_capacity(LENGTH_PREFIX_BYTES + FRAME_HEADER_BYTES + body.len());
    wire.extend_from_slice(&((FRAME_HEADER_BYTES + body.len()) as u32).to_be_bytes());
    wire.extend_from_slice(&id.to_be_bytes());
    wire.push(status);
    wire.extend_from_slice(body);
    wire
}

/// Splits a frame written by [`wire_frame`] into `(id, status, body)`, or `None` when its length
/// prefix does not match its length.
pub fn wire_unframe(wire: &[u8]) -> Option<(u64, u8, &[u8])> {
    let declared = u32::from_be_bytes(wire.get(..LENGTH_PREFIX_BYTES)?.try_into().ok()?) as usize;
    let frame = wire.get(LENGTH_PREFIX_BYTES..).filter(|f| f.len() == declared && declared >= FRAME_HEADER_BYTES)?;
    let id = u64::from_be_bytes(frame[..8].try_into().ok()?);
    Some((id, frame[8], &frame[FRAME_HEADER_BYTES..]))
}

/// Splits a frame into `(id, status, body)`, or `None` if it is shorter than its header.
pub fn unframe(mut bytes: BytesMut) -> Option<(u64, u8, BytesMut)> {
    if bytes.len() < 9 {
        return None;
    }
    let id = bytes.get_u64();
    let status = bytes.get_u8();
    Some((id, status, bytes))
}

/// A connection's write half, shared by everything that sends on it. Each sender writes its own
/// frames under the lock: no writer task, no queue, no wake-up in between.
#[derive(Debug, Clone)]
struct FrameWriter(Arc<tokio::sync::Mutex<OwnedWriteHalf>>);

impl FrameWriter {
    fn new(write: OwnedWriteHalf) -> Self {
        Self(Arc::new(tokio::sync::Mutex::new(write)))
    }

    /// Writes `wire` (whole frames, length prefixes included), all of it or an error.
    async fn write(&self, wire: Bytes) -> io::Result<()> {
        let mut half = self.0.clone().lock_owned().await;
        // The common case: the socket buffer takes the frames at once, in one syscall.
        let written = match half.try_write(&wire) {
            Ok(written) => written,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        if written == wire.len() {
            return Ok(());
        }
        // The socket is full. The rest is written by a task that holds the lock, so a caller
        // cancelled meanwhile (its deadline) cannot leave half a frame, which would corrupt every
        // later frame on the connection.
        let rest = wire.slice(written..);
        tokio::spawn(async move { half.write_all(&rest).await }).await.map_err(io::Error::other)?
    }
}

/// One TCP connection carrying many concurrent calls.
#[derive(Debug)]
pub struct Client {
    endpoint: String,
    config: ClientConfig,
    pending: Arc<Correlator>,
    writer: FrameWriter,
}

impl Client {
    /// Connects to a `tcp` server at `endpoint` (`host:port`).
    pub async fn connect(endpoint: &str, config: &ClientConfig) -> Result<Self> {
        let connect_error = |e: std::io::Error| CallError::Connect {
            transport: NAME,
            endpoint: endpoint.to_owned(),
            source: Box::new(e),
        };
        let stream = with_deadline(NAME, endpoint, config.timeout, async {
            TcpStream::connect(endpoint).await.map_err(connect_error)
        })
        .await?;
        // Without NODELAY a request that spans two segments waits for the delayed ACK (~40 ms).
        stream.set_nodelay(true).map_err(connect_error)?;
        let (read, write) = stream.into_split();
        let pending = Arc::new(Correlator::default());
        let writer = FrameWriter::new(write);

        // The one hand-off a multiplexed connection needs: this task reads every reply and wakes
        // the call waiting for it.
        let reader_pending = pending.clone();
        let reader_endpoint = endpoint.to_owned();
        let mut frames = FramedRead::new(read, frame_codec(config.max_body_bytes));
        tokio::spawn(async move {
            let failure = loop {
                match frames.next().await {
                    Some(Ok(bytes)) => {
                        let Some((id, status, body)) = unframe(bytes) else {
                            break "short frame from server".to_owned();
                        };
                        let result = if status == STATUS_OK {
                            Codec::Protobuf.decode_response(&body)
                        } else {
                            Err(rejected(NAME, &body))
                        };
                        reader_pending.complete(id, result);
                    }
                    Some(Err(e)) => break e.to_string(),
                    None => break "connection closed by server".to_owned(),
                }
            };
            // The connection is gone: every call still waiting fails now, not at its timeout.
            reader_pending.fail_all(|| CallError::Call {
                transport: NAME,
                endpoint: reader_endpoint.clone(),
                message: failure.clone(),
            });
        });

        Ok(Self { endpoint: endpoint.to_owned(), config: config.clone(), pending, writer })
    }

    fn call_error(&self, message: &str) -> CallError {
        CallError::Call { transport: NAME, endpoint: self.endpoint.clone(), message: message.to_owned() }
    }
}

impl Transport for Client {
    fn name(&self) -> &str {
        NAME
    }

    async fn call(&self, req: PaymentRequest) -> CallResult<PaymentResponse> {
        let body = Codec::Protobuf.encode_request(&req)?;
        if body.len() > self.config.max_body_bytes {
            // The server would refuse the frame and close the connection under every other call.
            return Err(self.call_error(&format!("request body over the {}-byte limit", self.config.max_body_bytes)));
        }
        self.pending
            .call(NAME, &self.endpoint, self.config.timeout, |id| async move {
                let wire = Bytes::from(wire_frame(id, STATUS_OK, &body));
                self.writer.write(wire).await.map_err(|e| self.call_error(&format!("write request: {e}")))
            })
            .await
    }
}

/// Starts a `tcp` server: one task per connection, which reads the frames and answers them (a
/// task per request only when the service has a simulated service time).
pub async fn serve(config: &ServerConfig) -> Result<ServerHandle> {
    let listener = bind(NAME, config.bind).await?;
    let addr = listener.local_addr().map_err(|e| Error::io("tcp: local_addr", e))?;
    let (shutdown, mut stop) = oneshot::channel();
    let config = config.clone();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = &mut stop => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    if stream.set_nodelay(true).is_err() {
                        continue;
                    }
                    tokio::spawn(serve_connection(stream, config.clone()));
                }
            }
        }
    });
    Ok(ServerHandle::new(addr.to_string(), shutdown, task))
}

/// The reply frame, on the wire, for a request frame whose body did not decode.
fn malformed(id: u64, e: &CallError) -> Vec<u8> {
    wire_frame(id, STATUS_ERROR, format!("invalid_argument: {e}").as_bytes())
}

/// The reply frame, on the wire, for the business function's outcome.
fn reply(id: u64, outcome: std::result::Result<PaymentResponse, crate::payment::DomainError>) -> Vec<u8> {
    match outcome {
        Ok(resp) => wire_frame(id, STATUS_OK, &Codec::Protobuf.encode_response(&resp).unwrap_or_default()),
        Err(e) => wire_frame(id, STATUS_ERROR, format!("{}: {e}", e.code()).as_bytes()),
    }
}

async fn serve_connection(stream: TcpStream, config: ServerConfig) {
    let (read, write) = stream.into_split();
    let mut frames = FramedRead::new(read, frame_codec(config.max_body_bytes));
    let writer = FrameWriter::new(write);
    let service = config.service;
    // Replies to the frames already read, written together before the next wait for input (or
    // once they fill a socket buffer's worth, so that a long burst is not answered all at the end).
    let mut replies = BytesMut::new();
    loop {
        let next = match frames.next().now_or_never() {
            Some(next) if replies.len() < REPLY_BATCH_BYTES => next,
            ready => {
                if !replies.is_empty() && writer.write(replies.split().freeze()).await.is_err() {
                    return;
                }
                match ready {
                    Some(next) => next,
                    None => frames.next().await,
                }
            }
        };
        // An oversized or truncated frame ends this connection (the framing is lost); others go on.
        let Some(Ok(bytes)) = next else { break };
        let Some((id, _, body)) = unframe(bytes) else { break };
        let req = match Codec::Protobuf.decode_request(&body) {
            Ok(req) => req,
            Err(e) => {
                replies.extend_from_slice(&malformed(id, &e));
                continue;
            }
        };
        match service.authorize(&req).now_or_never() {
            // No service time: the business function does not wait, so answer right here.
            Some(outcome) => replies.extend_from_slice(&reply(id, outcome)),
            // A simulated service time: wait on a task of its own, so the connection reads on.
            // (The polled-once call above is dropped; it only registered a timer.)
            None => {
                let writer = writer.clone();
                tokio::spawn(async move {
                    let _ = writer.write(Bytes::from(reply(id, service.authorize(&req).await))).await;
                });
            }
        }
    }
    if !replies.is_empty() {
        let _ = writer.write(replies.freeze()).await;
    }
}

/// Registry entry: the `tcp` server.
pub(crate) fn serve_arm(_arm: &Arm, config: &ServerConfig) -> BoxFuture<'static, Result<ServerHandle>> {
    let config = config.clone();
    Box::pin(async move { serve(&config).await })
}

/// Registry entry: one multiplexed connection.
pub(crate) fn connect_arm(arm: &Arm, endpoint: &str, config: &ClientConfig) -> BoxFuture<'static, Result<AnyClient>> {
    let (arm, endpoint, config) = (arm.clone(), endpoint.to_owned(), config.clone());
    Box::pin(async move { Ok(AnyClient::new(&arm, Client::connect(&endpoint, &config).await?)) })
}
