//! The crate's one error type.
//!
//! Messages are short, lowercase and name the transport and the endpoint, so that a failed run
//! says what failed and where ("amqp: cannot connect to amqp://127.0.0.1:5672: connection refused").

use std::time::Duration;

use crate::payment::DomainError;

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Boxed source error from a dependency (hyper, tonic, lapin, rdkafka, ...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in paybench.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client could not reach its server or broker.
    #[error("{transport}: cannot connect to {endpoint}: {source}")]
    Connect {
        /// Transport name, e.g. `grpc`.
        transport: &'static str,
        /// Address or URL that was tried (credentials redacted).
        endpoint: String,
        /// Underlying cause.
        #[source]
        source: BoxError,
    },
    /// A call was sent but failed in transit (connection reset, protocol error, ...).
    #[error("{transport}: call to {endpoint} failed: {message}")]
    Call {
        /// Transport name.
        transport: &'static str,
        /// Address or URL of the peer.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
    /// The server answered with an error status (bad input, validation, size limit).
    #[error("{transport}: server rejected the call ({status}): {message}")]
    Rejected {
        /// Transport name.
        transport: &'static str,
        /// The protocol's status, e.g. `400`, `InvalidArgument`, `unknown_currency`.
        status: String,
        /// The server's explanation.
        message: String,
    },
    /// No reply arrived before the deadline.
    #[error("{transport}: no reply from {endpoint} within {:?}", after)]
    Timeout {
        /// Transport name.
        transport: &'static str,
        /// Address or URL of the peer.
        endpoint: String,
        /// The deadline that passed.
        after: Duration,
    },
    /// A body could not be encoded or decoded.
    #[error("{codec}: {message}")]
    Codec {
        /// `protobuf` or `json`.
        codec: &'static str,
        /// What was wrong with the bytes.
        message: String,
    },
    /// The business function refused the payment.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A configuration value is invalid.
    #[error("config: {0}")]
    Config(String),
    /// An input file is unreadable or corrupt (not the shape it should be).
    #[error("{path}: {message}")]
    Input {
        /// The file (or directory) that was read.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// `compare`: the baseline is missing or does not describe the same thing as the candidate
    /// (another scenario, transport set or metric names).
    #[error("baseline mismatch: {0}")]
    BaselineMismatch(String),
    /// The report could not be rendered (chart drawing, histogram merge).
    #[error("report: {0}")]
    Report(String),
    /// A bug or a broken invariant inside paybench (a panicked task, a poisoned lock): never the
    /// user's input.
    #[error("internal: {0}")]
    Internal(String),
    /// A local I/O operation (bind, file) failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, e.g. `bind 127.0.0.1:0`.
        what: String,
        /// Underlying cause.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether this is a per-call error (the call failed: `connect`, `call`, `rejected`, `timeout`,
    /// `codec`, `domain`) rather than a tool error (paybench or its input failed: `config`,
    /// `input`, `io`, `internal`, `report`, `baseline_mismatch`). Only per-call kinds describe
    /// a transport; a tool error inside a measured window is counted as `internal`.
    pub fn is_per_call(&self) -> bool {
        matches!(
            self,
            Error::Connect { .. }
                | Error::Call { .. }
                | Error::Rejected { .. }
                | Error::Timeout { .. }
                | Error::Codec { .. }
                | Error::Domain(_)
        )
    }

    /// A short, stable class used to account failed calls in results (`connect`, `call`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Connect { .. } => "connect",
            Error::Call { .. } => "call",
            Error::Rejected { .. } => "rejected",
            Error::Timeout { .. } => "timeout",
            Error::Codec { .. } => "codec",
            Error::Domain(_) => "domain",
            Error::Config(_) => "config",
            Error::Input { .. } => "input",
            Error::BaselineMismatch(_) => "baseline_mismatch",
            Error::Report(_) => "report",
            Error::Io { .. } => "io",
            Error::Internal(_) => "internal",
        }
    }

    /// Builds an [`Error::Io`] from a description and an I/O error.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { what: what.into(), source }
    }
}
