//! `kafka`: placeholder until the broker arm lands.

use crate::codec::Codec;
use crate::pb::{PaymentRequest, PaymentResponse};
use crate::transport::{ClientConfig, ServerConfig, ServerHandle, Transport};
use crate::{Error, Result};

/// Client (not yet implemented).
#[derive(Debug)]
pub struct Client;

impl Client {
    /// Not yet implemented.
    pub async fn connect(_codec: Codec, _endpoint: &str, _config: &ClientConfig) -> Result<Self> {
        Err(Error::Config("kafka: not yet implemented".into()))
    }
}

impl Transport for Client {
    fn name(&self) -> &'static str {
        "kafka"
    }
    async fn call(&self, _req: PaymentRequest) -> Result<PaymentResponse> {
        Err(Error::Config("kafka: not yet implemented".into()))
    }
}

/// Not yet implemented.
pub async fn serve(_codec: Codec, _config: &ServerConfig) -> Result<ServerHandle> {
    Err(Error::Config("kafka: not yet implemented".into()))
}
