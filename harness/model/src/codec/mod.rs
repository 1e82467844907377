//! Body encodings: protobuf (prost) and JSON (serde_json), over the same generated structs.
//!
//! [`Codec`] is what the transports use to turn a message into body bytes and back. Both codecs
//! work on `pb::PaymentRequest` / `pb::PaymentResponse` directly, so neither pays a conversion the
//! other does not. [`json`] holds the serde adapters that shape the JSON like a hand-written REST
//! API (and read canonical proto3 JSON too); [`openapi`] publishes the JSON contract of the REST
//! arms. The tonic codecs for the `grpc` and `grpc-json` arms are the `paybench` crate's
//! `codec::grpc`.

pub mod json;
pub mod openapi;

use std::fmt;
use std::str::FromStr;

use crate::pb::{PaymentRequest, PaymentResponse};
use crate::{CallError, CallResult, Error, Result};

/// A body encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// Protocol Buffers via prost.
    Protobuf,
    /// JSON via serde_json, camelCase keys.
    Json,
}

/// Both codecs, protobuf first.
pub const ALL_CODECS: [Codec; 2] = [Codec::Protobuf, Codec::Json];

impl Codec {
    /// Stable name: `protobuf` or `json`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Protobuf => "protobuf",
            Codec::Json => "json",
        }
    }

    /// The HTTP / AMQP content type of a body in this codec.
    pub fn content_type(self) -> &'static str {
        match self {
            Codec::Protobuf => "application/x-protobuf",
            Codec::Json => "application/json",
        }
    }

    /// The codec whose [`Codec::content_type`] is `content_type` (parameters such as `; charset`
    /// are ignored), or `None`.
    pub fn from_content_type(content_type: &str) -> Option<Codec> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        match essence {
            "application/x-protobuf" | "application/protobuf" => Some(Codec::Protobuf),
            "application/json" => Some(Codec::Json),
            _ => None,
        }
    }

    /// Encodes any message of the contract.
    pub fn encode<M: prost::Message + serde::Serialize>(self, message: &M) -> CallResult<Vec<u8>> {
        #[cfg(feature = "inject-slowdown")]
        injected_slowdown::encode_again(self, message);
        match self {
            Codec::Protobuf => Ok(message.encode_to_vec()),
            Codec::Json => serde_json::to_vec(message).map_err(|e| self.error(e)),
        }
    }

    /// Decodes any message of the contract.
    pub fn decode<M: prost::Message + Default + serde::de::DeserializeOwned>(self, bytes: &[u8]) -> CallResult<M> {
        match self {
            Codec::Protobuf => M::decode(bytes).map_err(|e| self.error(e)),
            Codec::Json => serde_json::from_slice(bytes).map_err(|e| self.error(e)),
        }
    }

    /// Encodes a request.
    pub fn encode_request(self, req: &PaymentRequest) -> CallResult<Vec<u8>> {
        self.encode(req)
    }

    /// Decodes a request.
    pub fn decode_request(self, bytes: &[u8]) -> CallResult<PaymentRequest> {
        self.decode(bytes)
    }

    /// Encodes a response.
    pub fn encode_response(self, resp: &PaymentResponse) -> CallResult<Vec<u8>> {
        self.encode(resp)
    }

    /// Decodes a response.
    pub fn decode_response(self, bytes: &[u8]) -> CallResult<PaymentResponse> {
        self.decode(bytes)
    }

    fn error(self, e: impl fmt::Display) -> CallError {
        CallError::Codec { codec: self.name(), message: format!("malformed {} body: {e}", self.name()) }
    }
}

/// The regression gate's self-test (`--features paybench/inject-slowdown`, never on by default):
/// a real, typical slowdown, every encode doing its work twice, which the instruction gate and
/// `paybench compare` must both flag (`harness/tests/compare_gate.rs`). Compiled out when off.
#[cfg(feature = "inject-slowdown")]
mod injected_slowdown {
    use super::Codec;

    pub(super) fn encode_again<M: prost::Message + serde::Serialize>(codec: Codec, message: &M) {
        let bytes = match codec {
            Codec::Protobuf => message.encode_to_vec(),
            Codec::Json => serde_json::to_vec(message).unwrap_or_default(),
        };
        std::hint::black_box(bytes);
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Codec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "protobuf" | "proto" => Ok(Codec::Protobuf),
            "json" => Ok(Codec::Json),
            _ => Err(Error::Config(format!("unknown codec {s:?}; expected protobuf or json"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{generate, Profile};
    use crate::payment::process;

    #[test]
    fn both_codecs_round_trip_every_profile() {
        for profile in Profile::ALL {
            let req = generate(profile, 3, 9);
            let resp = process(&req).unwrap();
            for codec in ALL_CODECS {
                let bytes = codec.encode_request(&req).unwrap();
                assert_eq!(codec.decode_request(&bytes).unwrap(), req, "{codec} {profile}");
                let bytes = codec.encode_response(&resp).unwrap();
                assert_eq!(codec.decode_response(&bytes).unwrap(), resp, "{codec} {profile}");
            }
        }
    }

    #[test]
    fn json_looks_hand_written() {
        let req = generate(Profile::Small, 3, 9);
        let json: serde_json::Value = serde_json::from_slice(&Codec::Json.encode_request(&req).unwrap()).unwrap();
        assert_eq!(json["paymentId"], req.payment_id.as_str());
        assert!(json["amountMinor"].is_i64());
        assert!(json["createdAt"].as_str().unwrap().starts_with("2026-01-01T"));
        assert!(["visa", "mastercard", "amex"].contains(&json["card"]["brand"].as_str().unwrap()));
        let resp = process(&req).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&Codec::Json.encode_response(&resp).unwrap()).unwrap();
        assert!(["approved", "declined"].contains(&json["status"].as_str().unwrap()));
    }

    #[test]
    fn malformed_bodies_are_named_errors() {
        let err = Codec::Json.decode_request(b"{\"paymentId\": 12").unwrap_err().to_string();
        assert!(err.starts_with("json: malformed json body"), "{err}");
        let err = Codec::Protobuf.decode_request(&[0xff, 0xff, 0xff]).unwrap_err().to_string();
        assert!(err.starts_with("protobuf: malformed protobuf body"), "{err}");
        // Unknown keys are ignored, as the protobuf codec ignores unknown fields (docs/rest-api.md).
        let req = Codec::Json.decode_request(br#"{"paymentId":"p","bogus":1}"#).unwrap();
        assert_eq!(req.payment_id, "p");
    }

    #[test]
    fn content_types_map_back_to_codecs() {
        for codec in ALL_CODECS {
            assert_eq!(Codec::from_content_type(codec.content_type()), Some(codec));
        }
        assert_eq!(Codec::from_content_type("application/json; charset=utf-8"), Some(Codec::Json));
        assert_eq!(Codec::from_content_type("text/plain"), None);
    }
}
