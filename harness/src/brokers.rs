//! Local brokers for the `amqp` and `kafka` arms (placeholder until the broker arm lands).

use crate::transport::TransportKind;

/// The endpoint a bench should use for a broker arm, or `None` after printing one line that says
/// why the arm is skipped and how to enable it.
pub fn bench_endpoint(kind: TransportKind) -> Option<String> {
    eprintln!("paybench: skipping {kind}: broker arms are not built yet");
    None
}
