//! tonic codecs for the `grpc` (protobuf) and `grpc-json` (JSON) arms.
//!
//! Both differ from tonic's stock `ProstCodec` in one way: a body that does not parse is the
//! client's fault, so it maps to `INVALID_ARGUMENT` (tonic maps it to `INTERNAL`). Encoding is the
//! same work tonic does. [`oversize_as_resource_exhausted`] fixes the other status: tonic reports a
//! message over `max_decoding_message_size` as `OUT_OF_RANGE`; grpc-go and grpc-java, and the
//! gRPC status-code guide, use `RESOURCE_EXHAUSTED` for "message larger than the limit".

use std::marker::PhantomData;

use bytes::{Buf, BufMut};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

/// Protobuf over gRPC, with parse errors reported as `INVALID_ARGUMENT`.
#[derive(Debug, Clone, Copy)]
pub struct ProtoCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for ProtoCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

/// JSON over gRPC (`application/grpc+json` framing is the same as protobuf's).
#[derive(Debug, Clone, Copy)]
pub struct JsonCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for JsonCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

/// Encoder/decoder halves shared by both codecs; `C` selects the format.
#[derive(Debug)]
pub struct Half<C, M>(PhantomData<(C, M)>);

/// Marker for protobuf.
#[derive(Debug)]
pub struct Proto;
/// Marker for JSON.
#[derive(Debug)]
pub struct Json;

impl<T, U> Codec for ProtoCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = Half<Proto, T>;
    type Decoder = Half<Proto, U>;

    fn encoder(&mut self) -> Self::Encoder {
        Half(PhantomData)
    }
    fn decoder(&mut self) -> Self::Decoder {
        Half(PhantomData)
    }
}

impl<T, U> Codec for JsonCodec<T, U>
where
    T: serde::Serialize + Send + 'static,
    U: serde::de::DeserializeOwned + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = Half<Json, T>;
    type Decoder = Half<Json, U>;

    fn encoder(&mut self) -> Self::Encoder {
        Half(PhantomData)
    }
    fn decoder(&mut self) -> Self::Decoder {
        Half(PhantomData)
    }
}

impl<T: prost::Message> Encoder for Half<Proto, T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(buf).map_err(|e| Status::internal(format!("protobuf encode: {e}")))
    }
}

impl<U: prost::Message + Default> Decoder for Half<Proto, U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|e| Status::invalid_argument(format!("malformed protobuf body: {e}")))
    }
}

impl<T: serde::Serialize> Encoder for Half<Json, T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        serde_json::to_writer(buf.writer(), &item).map_err(|e| Status::internal(format!("json encode: {e}")))
    }
}

impl<U: serde::de::DeserializeOwned> Decoder for Half<Json, U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let len = buf.remaining();
        let bytes = buf.copy_to_bytes(len);
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Status::invalid_argument(format!("malformed json body: {e}")))
    }
}

/// Bytes in front of every gRPC message: compressed flag (1) and big-endian length (4).
pub const MESSAGE_PREFIX_BYTES: usize = 5;

/// One uncompressed gRPC length-prefixed message, as it travels inside HTTP/2 DATA frames (for
/// benches and external load generators that send the bytes themselves).
pub fn wire_message(body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(MESSAGE_PREFIX_BYTES + body.len());
    message.push(0);
    message.extend_from_slice(&(body.len() as u32).to_be_bytes());
    message.extend_from_slice(body);
    message
}

/// The body of a message written by [`wire_message`], or `None` when the prefix does not match.
pub fn wire_body(message: &[u8]) -> Option<&[u8]> {
    let len = u32::from_be_bytes(message.get(1..MESSAGE_PREFIX_BYTES)?.try_into().ok()?) as usize;
    (message.len() == MESSAGE_PREFIX_BYTES + len).then(|| &message[MESSAGE_PREFIX_BYTES..])
}

/// Rewrites tonic's `OUT_OF_RANGE` "decoded message length too large" into `RESOURCE_EXHAUSTED`.
///
/// Applied as a response map on the server: tonic rejects an oversized unary request before the
/// handler runs, with a trailers-only response whose status lives in the headers.
pub fn oversize_as_resource_exhausted<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers_mut();
    let is_oversize = headers.get("grpc-status").is_some_and(|v| v == "11")
        && headers
            .get("grpc-message")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|m| m.contains("message%20length%20too%20large") || m.contains("message length too large"));
    if is_oversize {
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
    }
    response
}
