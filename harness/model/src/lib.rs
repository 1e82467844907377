//! # paybench-model
//!
//! What paybench measures and records, as data: no tokio, no transports, no registry. The
//! `paybench` crate (transports, load, measurement, faults, the run) and `paybench-report`
//! (analysis, report, compare) both build on it; reading a results file needs nothing else.
//!
//! - [`pb`]: the protobuf messages of `proto/payment/v1/payment.proto` (prost), with the JSON
//!   mapping and the OpenAPI schemas derived in `build.rs`.
//! - [`codec`]: protobuf and JSON encoding of those messages, and the REST contract ([`codec::openapi`]).
//! - [`payload`]: the deterministic `small`, `typical` and `large` request profiles.
//! - [`payment`]: the one business function, [`payment::process`], that every server calls.
//! - [`sizes`]: body sizes per codec and compression, for `paybench sizes` and the report.
//! - [`codec_timing`]: encode and decode cost per codec, measured interleaved (results record it).
//! - [`arm_request`]: an arm as a scenario names it, before the registry resolves it.
//! - [`claim`]: the arms of the claim under test, by name; [`connections`]: each family's connections.
//! - [`scenario`] and [`experiment_spec`]: scenario files (`scenarios/*.toml`), checked.
//! - [`operating`]: where operating points go, from measured capacities.
//! - [`results`]: the `results.json` schema as plain records; [`criterion_data`]: criterion's estimates.
//! - [`error`]: the error types every crate shares.

pub mod arm_request;
pub mod claim;
pub mod codec;
pub mod codec_timing;
pub mod connections;
pub mod criterion_data;
pub mod error;
pub mod experiment_spec;
pub mod operating;
pub mod payload;
pub mod payment;
pub mod pb;
pub mod results;
pub mod scenario;
pub mod sizes;

pub use error::{CallError, CallResult, Error, Result};
