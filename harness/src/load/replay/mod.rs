//! The replay client (`paybench run --client replay`): sends pre-encoded request bytes over the
//! arm's real protocol, the way wrk and h2load do, so that a capacity figure describes the server
//! and not the order service's client library.
//!
//! The full-stack clients (reqwest, tonic) do the order service's real work on every call: encode
//! the request, run the library's pool, tower layers and buffer tasks, decode the reply. On one
//! core they saturate before the server (0.65–0.73x of wrk, 0.71–0.73x of h2load). The replay
//! client keeps only what the wire needs:
//!
//! | wire | arms | connections | module |
//! |---|---|---|---|
//! | HTTP/1.1 keep-alive | `rest`, `rest-proto` | one per concurrent call, pooled (as wrk's `-c`) | [`http1`] |
//! | h2c, prior knowledge | `rest-h2`, `grpc`, `grpc-json` | one, streams multiplexed (as h2load's `-c1 -m`); `channels` for gRPC | [`http2`] |
//! | length-prefixed frames | `tcp` | one, calls multiplexed by correlation id | [`frames`] |
//!
//! Every request body is encoded once, when the client is built, from the pool the generator will
//! send; a call finds its bytes by the request's `payment_id` (one hash lookup) and never encodes.
//!
//! Every reply is still checked, cheaply: its status (HTTP 200, `grpc-status: 0`, frame status 0)
//! and its length. Replies are deterministic for a request except `processed_at`, the server's
//! clock: its nanoseconds change the reply's length (protobuf omits a zero `nanos` and varint-codes
//! the rest in 1 to 5 bytes; JSON's RFC 3339 text drops trailing zeros of the fraction). So each
//! request records the range of lengths its reply can have (the expected reply encoded with the
//! shortest and the longest timestamps), and a reply outside it fails as a `codec` error. Every
//! [`SAMPLE_EVERY`]th reply is also fully decoded with the arm's codec and compared, field by
//! field, with what [`crate::payment::process_at`] computes for that request (`processed_at`
//! aside, which must be present). The other calls return a placeholder response: the generator
//! counts only Ok and Err.

mod frames;
mod http1;
mod http2;

use std::collections::HashMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::codec::grpc::{wire_body, wire_message, MESSAGE_PREFIX_BYTES};
use crate::codec::Codec;
use crate::payment::process_at;
use crate::pb::{PaymentRequest, PaymentResponse};
use crate::transport::arm::ReplayWire;
use crate::transport::tcp::{wire_frame, wire_unframe, FRAME_HEADER_BYTES, LENGTH_PREFIX_BYTES, STATUS_OK};
use crate::transport::{registry, Arm, ClientConfig, Transport};
use crate::{CallError, CallResult, Error, Result};

/// Which client `paybench run` drives an arm with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// The transport's own client (reqwest, tonic, ...): encodes and decodes every call, as the
    /// order service would. Gives the end-to-end cost.
    #[default]
    #[value(name = "full")]
    FullStack,
    /// [`ReplayClient`]: pre-encoded bytes on the arm's wire, like wrk and h2load. Gives server
    /// capacity.
    Replay,
}

impl ClientKind {
    /// The name results record: `full-stack` or `replay`.
    pub fn label(self) -> &'static str {
        match self {
            ClientKind::FullStack => "full-stack",
            ClientKind::Replay => "replay",
        }
    }
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One reply in this many is fully decoded and compared with the expected response: a decode
/// costs about as much as a whole replayed call, so 1 in 64 adds a few hundredths of one, while
/// the very first call (the runner's preflight) is always decoded, so a wrong server fails
/// before anything is measured.
pub const SAMPLE_EVERY: u64 = 64;

/// The wire protocol replay speaks for an arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    /// HTTP/1.1, keep-alive, a pool of connections.
    Http1,
    /// h2c with prior knowledge, plain HTTP body.
    Http2,
    /// gRPC over h2c: length-prefixed message, `grpc-status` trailer.
    Grpc,
    /// `tcp`'s length-prefixed frames with correlation ids.
    Frames,
}

/// `Ok` when the replay client can drive `arm`; else the error [`connect`] would give, naming the
/// families replay speaks (checked before a run starts, so a scenario cannot ask for the
/// impossible an hour in).
pub fn supports(arm: &Arm) -> Result<()> {
    wire_of(arm).map(|_| ())
}

/// The wire for `arm`, from its family's replay capability in the registry ([`Family::replay`]).
///
/// [`Family::replay`]: crate::transport::arm::Family::replay
fn wire_of(arm: &Arm) -> Result<Wire> {
    let family = arm.family().name;
    match arm.family().replay {
        Some(ReplayWire::Frames) => Ok(Wire::Frames),
        Some(ReplayWire::Grpc) => Ok(Wire::Grpc),
        // The `http` family's HTTP version is an arm option, read as data.
        Some(ReplayWire::Http) if crate::transport::rest::Options::of(arm)?.http == "2" => Ok(Wire::Http2),
        Some(ReplayWire::Http) => Ok(Wire::Http1),
        None => Err(Error::Config(format!(
            "{arm}: the replay client has no path for family `{family}`; replay supports the families {} (direct servers it can send pre-encoded bytes to); use --client full for {arm}",
            registry::FAMILIES
                .iter()
                .filter(|f| f.replay.is_some())
                .map(|f| format!("`{}`", f.name))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// What replay sends for one pool request and what it accepts back.
#[derive(Debug)]
struct Prebuilt {
    /// The request as the wire carries it: the HTTP body, the gRPC length-prefixed message, or the
    /// whole `tcp` frame with correlation id 0 (patched per call).
    request: Bytes,
    /// The business function's answer (`processed_at` cleared), or `None` when it refuses the
    /// request, so the server must reject it.
    expected: Option<PaymentResponse>,
    /// Lengths the reply may have, in the same unit as `request` (body, message, frame).
    reply_bytes: RangeInclusive<usize>,
}

/// The pool, encoded: request bytes by `payment_id`.
#[derive(Debug)]
struct Book {
    index_of: HashMap<String, usize>,
    calls: Vec<Prebuilt>,
}

/// Timestamps whose encodings are the shortest and the longest a reply can carry: whole seconds
/// (protobuf omits `nanos`, JSON has no fraction), and 1 ns and 999 999 999 ns (the shortest and
/// longest varint; nine fraction digits). Seconds stay 5 varint bytes and a 4-digit year until 3058.
const STAMP_NANOS: [i32; 4] = [0, 1, 100_000_000, 999_999_999];

impl Book {
    fn build(wire: Wire, codec: Codec, pool: &[PaymentRequest]) -> Result<Self> {
        let now = SystemTime::now();
        let mut index_of = HashMap::with_capacity(pool.len());
        let mut calls = Vec::with_capacity(pool.len());
        for (i, req) in pool.iter().enumerate() {
            if index_of.insert(req.payment_id.clone(), i).is_some() {
                return Err(Error::Config(format!(
                    "replay: the request pool has payment_id {:?} twice; replay maps each call to its bytes by it",
                    req.payment_id
                )));
            }
            let body = codec.encode_request(req)?;
            let (request, overhead) = match wire {
                Wire::Http1 | Wire::Http2 => (Bytes::from(body), 0),
                Wire::Grpc => (Bytes::from(wire_message(&body)), MESSAGE_PREFIX_BYTES),
                Wire::Frames => {
                    (Bytes::from(wire_frame(0, STATUS_OK, &body)), LENGTH_PREFIX_BYTES + FRAME_HEADER_BYTES)
                }
            };
            let (expected, reply_bytes) = match process_at(req, now) {
                Ok(mut resp) => {
                    let mut lengths = Vec::with_capacity(STAMP_NANOS.len());
                    for nanos in STAMP_NANOS {
                        let seconds = resp.processed_at.map_or(0, |t| t.seconds);
                        resp.processed_at = Some(prost_types::Timestamp { seconds, nanos });
                        lengths.push(codec.encode_response(&resp)?.len() + overhead);
                    }
                    resp.processed_at = None;
                    let (min, max) = (lengths.iter().min().copied(), lengths.iter().max().copied());
                    (Some(resp), min.unwrap_or(0)..=max.unwrap_or(usize::MAX))
                }
                Err(_) => (None, 0..=usize::MAX),
            };
            calls.push(Prebuilt { request, expected, reply_bytes });
        }
        Ok(Self { index_of, calls })
    }
}

/// The connection(s) of one wire.
#[derive(Debug)]
enum Conn {
    Http1(http1::Pool),
    Http2(http2::Conn),
    Frames(frames::Conn),
}

/// A lean client that replays pre-encoded requests; implements [`Transport`], so the generator
/// drives it as any other client.
#[derive(Debug)]
pub struct ReplayClient {
    name: String,
    /// Label in errors: the wire, since `CallError` names a transport by a static string.
    label: &'static str,
    endpoint: String,
    codec: Codec,
    timeout: Duration,
    book: Book,
    conn: Conn,
    calls: AtomicU64,
}

/// Connects a replay client for `arm` to its direct server at `endpoint` (`host:port`), with the
/// bytes of every request in `pool` encoded now. Calls with a request not in `pool` fail.
///
/// One connection is opened now, so an unreachable endpoint fails here, within `config.timeout`,
/// as a connect error naming it. Arms without a replay path (inproc, brokers) are a config error
/// naming the arm and the families replay supports.
pub async fn connect(
    arm: &Arm,
    endpoint: &str,
    pool: &[PaymentRequest],
    config: &ClientConfig,
) -> Result<ReplayClient> {
    let wire = wire_of(arm)?;
    let codec = arm.codec();
    let book = Book::build(wire, codec, pool)?;
    let (label, conn) = match wire {
        Wire::Http1 => ("replay (HTTP/1.1)", Conn::Http1(http1::Pool::connect(endpoint, codec, config).await?)),
        Wire::Http2 => {
            ("replay (h2c)", Conn::Http2(http2::Conn::connect(endpoint, http2::Flavor::Rest(codec), 1, config).await?))
        }
        Wire::Grpc => {
            // The arm's `channels` option: N HTTP/2 connections, as its tonic client would open.
            let channels = crate::transport::grpc::Options::of(arm)?.channels;
            ("replay (gRPC)", Conn::Http2(http2::Conn::connect(endpoint, http2::Flavor::Grpc, channels, config).await?))
        }
        Wire::Frames => ("replay (tcp)", Conn::Frames(frames::Conn::connect(endpoint, config).await?)),
    };
    Ok(ReplayClient {
        name: arm.name().to_owned(),
        label,
        endpoint: endpoint.to_owned(),
        codec,
        timeout: config.timeout,
        book,
        conn,
        calls: AtomicU64::new(0),
    })
}

impl ReplayClient {
    fn codec_error(&self, message: String) -> CallError {
        CallError::Codec { codec: self.codec.name(), message: format!("{}: {message}", self.label) }
    }

    /// Checks a sampled reply's message: decoded, it must be the business function's answer.
    fn check_decoded(&self, req: &PaymentRequest, call: &Prebuilt, message: &[u8]) -> CallResult<PaymentResponse> {
        let resp = self.codec.decode_response(message)?;
        let expected = call.expected.as_ref().ok_or_else(|| {
            self.codec_error(format!("the server accepted {}, which the business function refuses", req.payment_id))
        })?;
        let mut stripped = resp.clone();
        if stripped.processed_at.take().is_none() || &stripped != expected {
            return Err(self.codec_error(format!(
                "decoded reply to {} is not payment::process's answer: got {resp:?}",
                req.payment_id
            )));
        }
        Ok(resp)
    }
}

impl Transport for ReplayClient {
    fn name(&self) -> &str {
        &self.name
    }

    async fn call(&self, req: PaymentRequest) -> CallResult<PaymentResponse> {
        let Some(call) = self.book.index_of.get(&req.payment_id).map(|&i| &self.book.calls[i]) else {
            return Err(CallError::Call {
                transport: self.label,
                endpoint: self.endpoint.clone(),
                message: format!("request {} is not in the pool this replay client was built for", req.payment_id),
            });
        };
        let reply = match &self.conn {
            Conn::Http1(pool) => {
                crate::transport::with_deadline(self.label, &self.endpoint, self.timeout, pool.exchange(&call.request))
                    .await?
            }
            Conn::Http2(conn) => {
                crate::transport::with_deadline(self.label, &self.endpoint, self.timeout, conn.exchange(&call.request))
                    .await?
            }
            // The correlator bounds the call by the timeout itself.
            Conn::Frames(conn) => conn.exchange(&call.request).await?,
        };
        if !call.reply_bytes.contains(&reply.len()) {
            return Err(self.codec_error(format!(
                "reply to {} is {} bytes; its reply must be {}..={} bytes",
                req.payment_id,
                reply.len(),
                call.reply_bytes.start(),
                call.reply_bytes.end()
            )));
        }
        if !self.calls.fetch_add(1, Ordering::Relaxed).is_multiple_of(SAMPLE_EVERY) {
            return Ok(PaymentResponse::default());
        }
        let message = match &self.conn {
            Conn::Http1(_) => Some(&reply[..]),
            Conn::Http2(conn) if conn.is_grpc() => wire_body(&reply),
            Conn::Http2(_) => Some(&reply[..]),
            Conn::Frames(_) => wire_unframe(&reply).map(|(_, _, body)| body),
        };
        let message = message.ok_or_else(|| self.codec_error(format!("reply to {} is not framed", req.payment_id)))?;
        self.check_decoded(&req, call, message)
    }
}

/// A connect error naming the wire and the endpoint.
fn connect_error(label: &'static str, endpoint: &str, e: impl Into<crate::error::BoxError>) -> CallError {
    CallError::Connect { transport: label, endpoint: endpoint.to_owned(), source: e.into() }
}

/// Opens one TCP connection with TCP_NODELAY, within `timeout`.
async fn open_tcp(label: &'static str, endpoint: &str, timeout: Duration) -> CallResult<tokio::net::TcpStream> {
    let stream = crate::transport::with_deadline(label, endpoint, timeout, async {
        tokio::net::TcpStream::connect(endpoint).await.map_err(|e| connect_error(label, endpoint, e))
    })
    .await?;
    // Without NODELAY a request split over two segments waits for the peer's delayed ACK (~40 ms).
    stream.set_nodelay(true).map_err(|e| connect_error(label, endpoint, e))?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{generate, Profile};

    #[test]
    fn families_without_a_replay_path_are_named() {
        for name in ["inproc", "amqp", "kafka-json", "nats"] {
            let arm = Arm::parse(name).unwrap();
            let e = wire_of(&arm).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains("`tcp`, `grpc`, `http`"), "{e}");
        }
        let wires: Vec<Wire> = ["rest", "rest-proto", "rest-h2", "grpc", "grpc-json", "tcp"]
            .map(|n| wire_of(&Arm::parse(n).unwrap()).unwrap())
            .into();
        assert_eq!(wires, [Wire::Http1, Wire::Http1, Wire::Http2, Wire::Grpc, Wire::Grpc, Wire::Frames]);
    }

    #[test]
    fn recorded_reply_lengths_cover_every_server_clock() {
        let pool: Vec<_> = (0..8).map(|i| generate(Profile::Small, 7, i)).collect();
        for codec in [Codec::Protobuf, Codec::Json] {
            let book = Book::build(Wire::Http1, codec, &pool).unwrap();
            for (req, call) in pool.iter().zip(&book.calls) {
                // Replies stamped across a second, as a server would stamp them.
                for nanos in (0..1_000_000_000).step_by(7_777_777).chain([0, 5, 120, 999_999_999]) {
                    let at = SystemTime::UNIX_EPOCH + Duration::new(1_800_000_000, nanos);
                    let len = codec.encode_response(&process_at(req, at).unwrap()).unwrap().len();
                    assert!(call.reply_bytes.contains(&len), "{codec}: {len} not in {:?}", call.reply_bytes);
                }
                assert!(call.reply_bytes.end() - call.reply_bytes.start() <= 12, "{:?}", call.reply_bytes);
            }
        }
    }
}
