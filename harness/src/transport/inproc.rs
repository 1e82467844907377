//! `inproc`: the CPU floor. No network: the client encodes the request as protobuf, the "server"
//! decodes it, runs [`process`](crate::payment::process), encodes the reply, and the client
//! decodes it, all on the calling task. Every other arm pays this work plus its transport.

use futures::future::BoxFuture;

use crate::codec::Codec;
use crate::payment::PaymentService;
use crate::pb::{PaymentRequest, PaymentResponse};
use crate::transport::arm::{Arm, OptionSpec};
use crate::transport::{AnyClient, ClientConfig, ServerConfig, ServerHandle, Transport};
use crate::{CallError, CallResult, Result};

/// `inproc` has no options: it is the floor every other arm is compared with.
pub const OPTIONS: &[OptionSpec] = &[];

/// Client that runs the whole request path in-process.
#[derive(Debug, Clone, Default)]
pub struct Client {
    service: PaymentService,
}

impl Client {
    /// A client that calls `service` directly.
    pub fn new(service: PaymentService) -> Self {
        Self { service }
    }
}

impl Transport for Client {
    fn name(&self) -> &str {
        "inproc"
    }

    async fn call(&self, req: PaymentRequest) -> CallResult<PaymentResponse> {
        let codec = Codec::Protobuf;
        let request_bytes = codec.encode_request(&req)?;
        let decoded = codec.decode_request(&request_bytes)?;
        let resp = self.service.authorize(&decoded).await.map_err(CallError::Domain)?;
        let response_bytes = codec.encode_response(&resp)?;
        codec.decode_response(&response_bytes)
    }
}

/// Registry entry: nothing to start.
pub(crate) fn serve_arm(_arm: &Arm, _config: &ServerConfig) -> BoxFuture<'static, Result<ServerHandle>> {
    Box::pin(async { Ok(ServerHandle::none("inproc")) })
}

/// Registry entry: a client that calls the business function directly.
pub(crate) fn connect_arm(arm: &Arm, _endpoint: &str, _config: &ClientConfig) -> BoxFuture<'static, Result<AnyClient>> {
    let client = AnyClient::new(arm, Client::new(PaymentService::default()));
    Box::pin(async move { Ok(client) })
}
