//! Body encodings: the model crate's [`Codec`] and JSON mapping (re-exported), and the tonic codecs
//! of the `grpc` and `grpc-json` arms ([`grpc`]), which need tonic and so live here.

pub use paybench_model::codec::*;

pub mod grpc;
