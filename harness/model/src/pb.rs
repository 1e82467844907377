//! The generated protobuf messages of `payment.v1` (prost), with their JSON mapping and OpenAPI
//! schemas (attributes added in `build.rs`). The tonic services are generated in the `paybench`
//! crate, against these types.
//!
//! `pb::PaymentRequest` and `pb::PaymentResponse` are the one in-memory representation used by
//! every transport: prost encodes them as protobuf, serde as JSON.
#![allow(missing_docs, unreachable_pub, clippy::all)]

include!(concat!(env!("OUT_DIR"), "/payment.v1.rs"));
