//! The crate's errors, by concern: [`CallError`] (why one call failed: connect, call, rejected,
//! timeout, codec, domain) apart from [`Error`] (why paybench cannot go on: config, input, io,
//! internal, report; or a [`CallError`] where a tool step needed the call).
//!
//! Messages are short, lowercase and name the transport and the endpoint, so that a failed run
//! says what failed and where ("amqp: cannot connect to amqp://127.0.0.1:5672: connection refused").

use std::time::Duration;

use crate::payment::DomainError;

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Boxed source error from a dependency (hyper, tonic, lapin, rdkafka, ...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why one call failed: what a transport reports, what `results.json` counts per kind, and
/// nothing else. Tool failures are [`Error`]'s other variants and never reach a call's accounting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
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
    /// The server refused the call because it was at its concurrency limit (load shedding:
    /// gRPC `RESOURCE_EXHAUSTED` from the shed layer, HTTP 503). A caller may retry elsewhere or
    /// later.
    #[error("{transport}: the server shed the call: {message}")]
    Shed {
        /// Transport name.
        transport: &'static str,
        /// The server's words.
        message: String,
    },
    /// The server gave up at the call's deadline, which the client sent it (gRPC `CANCELLED`,
    /// as tonic answers an expired `grpc-timeout`, or `DEADLINE_EXCEEDED`).
    #[error("{transport}: the call's deadline passed at the server: {message}")]
    Deadline {
        /// Transport name.
        transport: &'static str,
        /// The server's words.
        message: String,
    },
    /// The client's circuit breaker was open: the call was not sent.
    #[error("{transport}: circuit breaker open, call not sent")]
    BreakerOpen {
        /// Transport name.
        transport: &'static str,
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
}

impl CallError {
    /// A short, stable class used to account failed calls in results (`connect`, `call`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Connect { .. } => "connect",
            CallError::Call { .. } => "call",
            CallError::Rejected { .. } => "rejected",
            CallError::Timeout { .. } => "timeout",
            CallError::Codec { .. } => "codec",
            CallError::Domain(_) => "domain",
            CallError::Shed { .. } => "shed",
            CallError::Deadline { .. } => "deadline",
            CallError::BreakerOpen { .. } => "breaker-open",
        }
    }

    /// The same error, naming the arm by its canonical name (`amqp-json-durable-w4`) where the
    /// family's client named only its family and codec (`amqp-json`). The load generator's own
    /// timeouts (`load generator`) keep their name: the generator, not the arm, gave up.
    pub fn for_arm(mut self, arm: &'static str) -> Self {
        match &mut self {
            CallError::Connect { transport, .. }
            | CallError::Call { transport, .. }
            | CallError::Rejected { transport, .. }
            | CallError::Timeout { transport, .. }
            | CallError::Shed { transport, .. }
            | CallError::Deadline { transport, .. }
            | CallError::BreakerOpen { transport } => {
                if *transport != "load generator" {
                    *transport = arm;
                }
            }
            CallError::Codec { .. } | CallError::Domain(_) => {}
        }
        self
    }
}

/// `name` as a `&'static str`, allocated once per distinct name for the life of the process:
/// errors name arms by `&'static str`, and a run has a few dozen arm names at most.
pub fn intern(name: &str) -> &'static str {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(known) = names.iter().find(|n| **n == name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.push(leaked);
    leaked
}

/// Everything that can stop paybench: a call's failure where a tool step needed the call to
/// succeed (an arm that cannot connect), or a tool error of its own (configuration, input, I/O,
/// a bug).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A call failed where the tool needed it (connecting a client, a preflight call).
    #[error(transparent)]
    Call(#[from] CallError),
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

impl From<DomainError> for Error {
    fn from(e: DomainError) -> Self {
        Error::Call(CallError::Domain(e))
    }
}

/// Shorthand for the outcome of one call.
pub type CallResult<T> = std::result::Result<T, CallError>;

impl Error {
    /// A short, stable class of the error (`config`, `io`, ...; a call's own kind for [`Error::Call`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Call(e) => e.kind(),
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

/// An error with its causes, `: `-separated ("cannot connect to ...: transport error: Connection
/// refused"). A cause whose text its parent already quotes is not repeated: hyper's and tonic's
/// terse messages get their causes, wrapped errors that embed them do not say them twice.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_names_the_canonical_arm_and_a_generator_timeout_stays_the_generators() {
        let e = CallError::Call { transport: "amqp-json", endpoint: "x".into(), message: "m".into() };
        let e = e.for_arm(intern("amqp-json-durable-w4"));
        assert!(e.to_string().starts_with("amqp-json-durable-w4: call to x failed"), "{e}");
        let t = CallError::Timeout { transport: "load generator", endpoint: "x".into(), after: Duration::from_secs(1) };
        assert!(t.for_arm("grpc").to_string().starts_with("load generator:"));
        assert!(std::ptr::eq(intern("grpc-w2"), intern("grpc-w2")), "one allocation per name");
    }
}
