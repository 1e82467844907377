//! Instruction-count benchmarks (gungraun + valgrind's callgrind): deterministic CPU cost per call.
//!
//! Wall-clock figures on shared CI machines move by tens of percent; instruction counts of a
//! deterministic path move by a few hundredths of a percent, so a 2 % gate on them is meaningful.
//! Every case here is deterministic: payloads come from [`DEFAULT_SEED`], the business function
//! runs with a fixed clock ([`FIXED_CLOCK_UNIX_S`]) and no case touches the network, a clock or a random
//! source inside the measured function.
//!
//! Groups and ids (as they appear in `target/gungraun/` and in the committed baseline):
//! - `codec::encode.<codec>_<profile>` / `codec::decode.<codec>_<profile>`: one request body, for
//!   every profile, the shapes (`numeric`, `nested`) included: encoding is what they vary.
//! - `transport::transport_request_path.<arm>`: the in-process request path of a direct arm for the
//!   `typical` profile: the client builds the request and encodes it with the arm's codec and
//!   framing, the server unframes and decodes it, runs [`process_at`], encodes and frames the
//!   reply, and the client unframes and decodes it. Framing reproduces each arm's wire layout
//!   (`tcp`: 4-byte length, 8-byte correlation id, 1-byte status; `grpc`: gRPC's 5-byte message
//!   prefix; REST: an `http` request/response with the codec's content type). Sockets, HTTP/2 and
//!   the tokio runtime are left out on purpose: they are measured by the criterion benches, and
//!   their instruction counts depend on scheduling. `rest-h2` runs the same in-process path as
//!   `rest` (HTTP/2 framing happens inside hyper), so it has no case of its own.
//!
//! Run: `cargo bench --bench instructions` (needs valgrind and `gungraun-runner` of the same
//! version as the `gungraun` crate: `harness/scripts/install-deps.sh`). The gate around it is
//! `harness/scripts/regression-gate.sh`.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use gungraun::prelude::*;
use paybench::codec::{grpc as grpc_wire, Codec};
use paybench::payload::{generate, Profile, DEFAULT_SEED};
use paybench::payment::process_at;
use paybench::pb::{PaymentRequest, PaymentResponse};
use paybench::transport::tcp;

/// The business function's clock in every case, 2026-01-01T00:00:00Z, in seconds since the epoch.
/// A wall clock would change the reply's timestamp, hence its encoded length, hence the count.
const FIXED_CLOCK_UNIX_S: u64 = 1_767_225_600;

fn fixed_clock() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(FIXED_CLOCK_UNIX_S)
}

fn request(profile: Profile) -> PaymentRequest {
    generate(profile, DEFAULT_SEED, 0)
}

fn request_for(codec: Codec, profile: Profile) -> (Codec, PaymentRequest) {
    (codec, request(profile))
}

fn encoded(codec: Codec, profile: Profile) -> (Codec, Vec<u8>) {
    (codec, codec.encode_request(&request(profile)).expect("generated requests encode"))
}

#[library_benchmark]
#[bench::protobuf_small(args = (Codec::Protobuf, Profile::Small), setup = request_for)]
#[bench::protobuf_typical(args = (Codec::Protobuf, Profile::Typical), setup = request_for)]
#[bench::protobuf_large(args = (Codec::Protobuf, Profile::Large), setup = request_for)]
#[bench::json_small(args = (Codec::Json, Profile::Small), setup = request_for)]
#[bench::json_typical(args = (Codec::Json, Profile::Typical), setup = request_for)]
#[bench::json_large(args = (Codec::Json, Profile::Large), setup = request_for)]
#[bench::protobuf_numeric(args = (Codec::Protobuf, Profile::Numeric), setup = request_for)]
#[bench::json_numeric(args = (Codec::Json, Profile::Numeric), setup = request_for)]
#[bench::protobuf_nested(args = (Codec::Protobuf, Profile::Nested), setup = request_for)]
#[bench::json_nested(args = (Codec::Json, Profile::Nested), setup = request_for)]
fn encode((codec, req): (Codec, PaymentRequest)) -> Vec<u8> {
    black_box(codec.encode_request(black_box(&req)).expect("encode"))
}

#[library_benchmark]
#[bench::protobuf_small(args = (Codec::Protobuf, Profile::Small), setup = encoded)]
#[bench::protobuf_typical(args = (Codec::Protobuf, Profile::Typical), setup = encoded)]
#[bench::protobuf_large(args = (Codec::Protobuf, Profile::Large), setup = encoded)]
#[bench::json_small(args = (Codec::Json, Profile::Small), setup = encoded)]
#[bench::json_typical(args = (Codec::Json, Profile::Typical), setup = encoded)]
#[bench::json_large(args = (Codec::Json, Profile::Large), setup = encoded)]
#[bench::protobuf_numeric(args = (Codec::Protobuf, Profile::Numeric), setup = encoded)]
#[bench::json_numeric(args = (Codec::Json, Profile::Numeric), setup = encoded)]
#[bench::protobuf_nested(args = (Codec::Protobuf, Profile::Nested), setup = encoded)]
#[bench::json_nested(args = (Codec::Json, Profile::Nested), setup = encoded)]
fn decode((codec, bytes): (Codec, Vec<u8>)) -> PaymentRequest {
    black_box(codec.decode_request(black_box(&bytes)).expect("decode"))
}

/// How a direct arm wraps a body on the wire (see the module docs).
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// `inproc`: the body alone.
    Bare,
    /// `tcp`: `len: u32 BE | correlation id: u64 BE | status: u8 | body`.
    Tcp,
    /// `grpc`, `grpc-json`: `compressed: u8 | len: u32 BE | body`.
    Grpc,
    /// `rest`, `rest-h2`, `rest-proto`: an HTTP message whose content type names the codec.
    Http,
}

const TCP_CORRELATION_ID: u64 = 1;

fn frame(framing: Framing, body: Vec<u8>) -> Vec<u8> {
    match framing {
        Framing::Bare | Framing::Http => body,
        Framing::Tcp => tcp::wire_frame(TCP_CORRELATION_ID, tcp::STATUS_OK, &body),
        Framing::Grpc => grpc_wire::wire_message(&body),
    }
}

fn unframe(framing: Framing, frame: &[u8]) -> &[u8] {
    match framing {
        Framing::Bare | Framing::Http => frame,
        Framing::Tcp => tcp::wire_unframe(frame).expect("tcp length prefix").2,
        Framing::Grpc => grpc_wire::wire_body(frame).expect("gRPC length prefix"),
    }
}

/// Wraps a body in an HTTP message with the codec's content type (REST arms), or passes it on.
fn http_message(codec: Codec, body: Vec<u8>) -> http::Request<Vec<u8>> {
    http::Request::post("/v1/payments/authorize")
        .header(http::header::CONTENT_TYPE, codec.content_type())
        .header(http::header::CONTENT_LENGTH, body.len())
        .body(body)
        .expect("static request parts are valid")
}

/// The server side of one call: codec from the arm (or the content type), decode, process, encode.
fn serve_one(codec: Codec, framing: Framing, wire: http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let codec = match framing {
        Framing::Http => wire
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(Codec::from_content_type)
            .expect("content type names a codec"),
        _ => codec,
    };
    let req = codec.decode_request(unframe(framing, wire.body())).expect("decode request");
    let resp = process_at(&req, fixed_clock()).expect("generated requests are valid payments");
    let body = frame(framing, codec.encode_response(&resp).expect("encode response"));
    match framing {
        Framing::Http => http_message(codec, body),
        _ => http::Request::new(body),
    }
}

/// One call of `arm` end to end, in process.
fn request_path(arm: (Codec, Framing)) -> PaymentResponse {
    let (codec, framing) = arm;
    let req = request(Profile::Typical);
    let body = frame(framing, codec.encode_request(&req).expect("encode request"));
    let wire = match framing {
        Framing::Http => http_message(codec, body),
        _ => http::Request::new(body),
    };
    let reply = serve_one(codec, framing, black_box(wire));
    codec.decode_response(unframe(framing, reply.body())).expect("decode response")
}

#[library_benchmark]
#[bench::inproc((Codec::Protobuf, Framing::Bare))]
#[bench::tcp((Codec::Protobuf, Framing::Tcp))]
#[bench::grpc((Codec::Protobuf, Framing::Grpc))]
#[bench::grpc_json((Codec::Json, Framing::Grpc))]
#[bench::rest((Codec::Json, Framing::Http))]
#[bench::rest_proto((Codec::Protobuf, Framing::Http))]
fn transport_request_path(arm: (Codec, Framing)) -> PaymentResponse {
    black_box(request_path(black_box(arm)))
}

library_benchmark_group!(name = codec, benchmarks = [encode, decode]);

library_benchmark_group!(name = transport, benchmarks = [transport_request_path]);

main!(library_benchmark_groups = codec, transport);
