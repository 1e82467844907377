//! Raw gRPC calls: arbitrary bytes as the message body, through tonic with a pass-through codec,
//! so a test can send what no generated client would (garbage, oversized or hand-written JSON).

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

#[derive(Debug, Default, Clone, Copy)]
struct RawCodec;
#[derive(Debug)]
struct Raw;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}
impl Encoder for Raw {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, buf: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        buf.put(item);
        Ok(())
    }
}
impl Decoder for Raw {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        let len = buf.remaining();
        Ok(Some(buf.copy_to_bytes(len)))
    }
}

/// Sends `body` as the message of one `Authorize` call to the gRPC server at `endpoint`; no limit
/// on the size sent, so the server's limit is what a test sees. Bounded: 5 s to connect and 5 s
/// per call.
pub(crate) async fn authorize(endpoint: &str, body: impl Into<Bytes>) -> Result<Bytes, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{endpoint}"))
        .expect("endpoint URL")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("gRPC channel");
    let mut grpc = tonic::client::Grpc::new(channel).max_encoding_message_size(usize::MAX);
    grpc.ready().await.expect("ready");
    let path = http::uri::PathAndQuery::from_static("/payment.v1.PaymentService/Authorize");
    grpc.unary(tonic::Request::new(body.into()), path, RawCodec).await.map(|r| r.into_inner())
}
