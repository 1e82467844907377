//! Generates the protobuf types and the tonic services from `proto/payment/v1/payment.proto`.
//!
//! protoc comes from `protoc-bin-vendored` (a binary shipped inside the crate), so a machine needs
//! nothing beyond cargo. Two services are generated from one contract:
//! - `payment.v1.PaymentService` with protobuf bodies (the `grpc` arm), and
//! - the same routes with a JSON codec (the `grpc-json` arm), written with tonic's manual builder
//!   because protoc only knows protobuf. Both use codecs from `crate::codec::grpc` so that a
//!   malformed body maps to INVALID_ARGUMENT and an oversized one to RESOURCE_EXHAUSTED.

use std::path::PathBuf;

/// Serde attributes that make the prost types serialize the way a hand-written REST API would:
/// camelCase keys, enums as lowercase strings, timestamps as RFC 3339 strings.
const SERDE_MESSAGE: &str =
    "#[derive(serde::Serialize, serde::Deserialize)] #[serde(rename_all = \"camelCase\", deny_unknown_fields)]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY (edition 2021: set_var is safe): build scripts are single-threaded.
    std::env::set_var("PROTOC", protoc);

    let proto_root = PathBuf::from("../proto");
    let proto = proto_root.join("payment/v1/payment.proto");
    println!("cargo:rerun-if-changed={}", proto.display());

    let mut builder = tonic_prost_build::configure()
        .codec_path("crate::codec::grpc::ProtoCodec")
        .protoc_arg("--experimental_allow_proto3_optional");
    for message in ["PaymentRequest", "Customer", "Address", "Card", "LineItem", "PaymentResponse"] {
        builder = builder.message_attribute(format!(".payment.v1.{message}"), SERDE_MESSAGE);
    }
    builder = builder
        .field_attribute(".payment.v1.PaymentRequest.created_at", "#[serde(with = \"crate::codec::json::timestamp\")]")
        .field_attribute(
            ".payment.v1.PaymentResponse.processed_at",
            "#[serde(with = \"crate::codec::json::timestamp\")]",
        )
        .field_attribute(".payment.v1.Card.brand", "#[serde(with = \"crate::codec::json::card_brand\")]")
        .field_attribute(
            ".payment.v1.PaymentResponse.status",
            "#[serde(with = \"crate::codec::json::payment_status\")]",
        )
        // Optional in a hand-written API: omitted when empty, defaulted when absent.
        .field_attribute(
            ".payment.v1.PaymentRequest.metadata",
            "#[serde(default, skip_serializing_if = \"std::collections::HashMap::is_empty\")]",
        )
        .field_attribute(".payment.v1.Address.line2", "#[serde(default, skip_serializing_if = \"String::is_empty\")]")
        .field_attribute(
            ".payment.v1.PaymentResponse.decline_reason",
            "#[serde(default, skip_serializing_if = \"String::is_empty\")]",
        )
        .field_attribute(
            ".payment.v1.PaymentResponse.authorization_code",
            "#[serde(default, skip_serializing_if = \"String::is_empty\")]",
        );
    builder.compile_protos(&[proto], &[proto_root])?;

    build_json_service()?;
    Ok(())
}

/// The `grpc-json` arm: same service and method names, JSON codec.
fn build_json_service() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?).join("json");
    std::fs::create_dir_all(&out_dir)?;
    let service = tonic_build::manual::Service::builder()
        .name("PaymentService")
        .package("payment.v1")
        .method(
            tonic_build::manual::Method::builder()
                .name("authorize")
                .route_name("Authorize")
                .input_type("crate::pb::PaymentRequest")
                .output_type("crate::pb::PaymentResponse")
                .codec_path("crate::codec::grpc::JsonCodec")
                .build(),
        )
        .build();
    tonic_build::manual::Builder::new().out_dir(out_dir).compile(&[service]);
    Ok(())
}
