//! The business function as the servers run it: the model crate's [`process`] (re-exported here
//! with the rest of `paybench_model::payment`), plus a simulated service time and CPU work.

use std::time::Duration;

pub use paybench_model::payment::*;

use crate::pb::{PaymentRequest, PaymentResponse};

/// The business function as servers call it: [`process`] plus an optional simulated service time
/// (for example a card-network round trip). Zero by default, so benches measure transport cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct PaymentService {
    /// Time added to every call before it is processed; `Duration::ZERO` adds nothing.
    /// Non-zero values go through tokio's timer, whose resolution is 1 ms.
    pub service_time: Duration,
    /// CPU work added to every call: the server's thread busy-spins this long (wall time), so a
    /// server with `n` threads has a known capacity of about `n / busy_time` (the known-answer
    /// tests use it). A sleep cannot do that: sleeping calls overlap without limit.
    pub busy_time: Duration,
}

impl PaymentService {
    /// A service with the given simulated service time.
    pub fn with_service_time(service_time: Duration) -> Self {
        Self { service_time, busy_time: Duration::ZERO }
    }

    /// The same service with `busy_time` of CPU work per call.
    pub fn with_busy_time(self, busy_time: Duration) -> Self {
        Self { busy_time, ..self }
    }

    /// Waits the simulated service time (if any), then runs [`process`].
    pub async fn authorize(&self, req: &PaymentRequest) -> Result<PaymentResponse, DomainError> {
        if !self.service_time.is_zero() {
            tokio::time::sleep(self.service_time).await;
        }
        let done_at = std::time::Instant::now() + self.busy_time;
        let outcome = process(req);
        while std::time::Instant::now() < done_at {
            std::hint::spin_loop();
        }
        outcome
    }
}
