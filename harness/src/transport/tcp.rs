//! `tcp`: the network floor. Length-prefixed protobuf frames on one raw TCP connection, with
//! TCP_NODELAY on both ends and calls multiplexed by a correlation id.
//!
//! Frame (after tokio-util's 4-byte big-endian length prefix):
//! `correlation id: u64 BE | status: u8 (0 ok, 1 error) | body`, where an ok body is a protobuf
//! `PaymentRequest`/`PaymentResponse` and an error body is `code: message` in UTF-8.
//! Nothing else is on the wire, so the difference between this arm and `grpc` is what HTTP/2 and
//! gRPC framing cost.

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

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
/// Frames queued for the writer before callers wait: deep enough that the writer, not the queue,
/// is what limits throughput.
const WRITE_QUEUE_FRAMES: usize = 1024;

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

/// Writes queued frames until the queue closes or the socket fails. Frames are `feed`-ed and
/// flushed once the queue is momentarily empty, so a burst becomes few syscalls while a lone
/// frame is still sent at once.
async fn write_frames(write: OwnedWriteHalf, mut queue: mpsc::Receiver<Bytes>, max_body_bytes: usize) {
    let mut sink = FramedWrite::new(write, frame_codec(max_body_bytes));
    while let Some(frame) = queue.recv().await {
        if sink.feed(frame).await.is_err() {
            return;
        }
        while let Ok(frame) = queue.try_recv() {
            if sink.feed(frame).await.is_err() {
                return;
            }
        }
        if SinkExt::<Bytes>::flush(&mut sink).await.is_err() {
            return;
        }
    }
}

/// One TCP connection carrying many concurrent calls.
#[derive(Debug)]
pub struct Client {
    endpoint: String,
    config: ClientConfig,
    pending: Arc<Correlator>,
    writer: mpsc::Sender<Bytes>,
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
        let (writer, queue) = mpsc::channel::<Bytes>(WRITE_QUEUE_FRAMES);

        tokio::spawn(write_frames(write, queue, config.max_body_bytes));

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
        self.pending
            .call(NAME, &self.endpoint, self.config.timeout, |id| async move {
                self.writer
                    .send(frame(id, STATUS_OK, &body))
                    .await
                    .map_err(|_| self.call_error("connection writer has stopped"))
            })
            .await
    }
}

/// Starts a `tcp` server: one task per connection reading frames, one task per request.
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

async fn serve_connection(stream: TcpStream, config: ServerConfig) {
    let (read, write) = stream.into_split();
    let mut frames = FramedRead::new(read, frame_codec(config.max_body_bytes));
    let (replies, queue) = mpsc::channel::<Bytes>(WRITE_QUEUE_FRAMES);
    let writer = tokio::spawn(write_frames(write, queue, config.max_body_bytes));
    // An oversized or truncated frame ends this connection (the framing is lost); others go on.
    while let Some(Ok(bytes)) = frames.next().await {
        let Some((id, _, body)) = unframe(bytes) else { break };
        let replies = replies.clone();
        let service = config.service;
        tokio::spawn(async move {
            let reply = match Codec::Protobuf.decode_request(&body) {
                Err(e) => frame(id, STATUS_ERROR, format!("invalid_argument: {e}").as_bytes()),
                Ok(req) => match service.authorize(&req).await {
                    Ok(resp) => frame(id, STATUS_OK, &Codec::Protobuf.encode_response(&resp).unwrap_or_default()),
                    Err(e) => frame(id, STATUS_ERROR, format!("{}: {e}", e.code()).as_bytes()),
                },
            };
            let _ = replies.send(reply).await;
        });
    }
    drop(replies);
    let _ = writer.await;
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
