//! Correlation-id bookkeeping for every client that multiplexes many calls over one reply stream
//! (`tcp`, `amqp`, `kafka`, `nats`): a call registers a waiter under a fresh id, sends, and waits
//! until the reader hands it the reply with that id, or its deadline passes.
//!
//! The reply type is a parameter: transports hand decoded responses (the default), the replay
//! client ([`crate::load::replay`]) hands the raw reply frame, which it checks without decoding.
//!
//! Replies whose id is unknown (a duplicate after a redelivery, or one arriving after its call
//! timed out) are counted, never delivered twice. A waiter is removed on every exit path.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;

use super::with_deadline;
use crate::pb::PaymentResponse;
use crate::{CallError, CallResult};

type Waiter<R> = oneshot::Sender<CallResult<R>>;

/// The calls a client is waiting on, by correlation id; `R` is what a reply carries.
#[derive(Debug)]
pub(crate) struct Correlator<R = PaymentResponse> {
    next_id: AtomicU64,
    waiting: Mutex<HashMap<u64, Waiter<R>>>,
    unmatched: AtomicU64,
}

impl<R> Default for Correlator<R> {
    fn default() -> Self {
        Self { next_id: AtomicU64::default(), waiting: Mutex::default(), unmatched: AtomicU64::default() }
    }
}

impl<R> Correlator<R> {
    /// Replies that matched no waiting call so far.
    pub(crate) fn unmatched(&self) -> u64 {
        self.unmatched.load(Ordering::Relaxed)
    }

    /// Hands a reply to the call waiting for `id`.
    pub(crate) fn complete(&self, id: u64, reply: CallResult<R>) {
        let waiter = self.waiting.lock().ok().and_then(|mut w| w.remove(&id));
        match waiter {
            Some(tx) => {
                let _ = tx.send(reply);
            }
            None => {
                self.unmatched.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Hands a reply to the call waiting for a decimal id carried as text (a message header).
    pub(crate) fn complete_text(&self, correlation_id: Option<&str>, reply: CallResult<R>) {
        match correlation_id.and_then(|id| id.parse::<u64>().ok()) {
            Some(id) => self.complete(id, reply),
            None => {
                self.unmatched.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Fails every waiting call now (the reply stream is gone), instead of at its timeout.
    pub(crate) fn fail_all(&self, error: impl Fn() -> CallError) {
        let waiters: Vec<_> = self.waiting.lock().map(|mut w| w.drain().collect()).unwrap_or_default();
        for (_, tx) in waiters {
            let _ = tx.send(Err(error()));
        }
    }

    /// Registers a new call, runs `send(correlation_id)`, and waits for the matching reply until
    /// `timeout`.
    pub(crate) async fn call<F, Fut>(
        &self,
        transport: &'static str,
        endpoint: &str,
        timeout: Duration,
        send: F,
    ) -> CallResult<R>
    where
        F: FnOnce(u64) -> Fut,
        Fut: Future<Output = CallResult<()>>,
    {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let closed =
            || CallError::Call { transport, endpoint: endpoint.to_owned(), message: "reply stream closed".to_owned() };
        self.waiting.lock().map_err(|_| closed())?.insert(id, tx);
        let outcome = with_deadline(transport, endpoint, timeout, async {
            send(id).await?;
            rx.await.map_err(|_| closed())?
        })
        .await;
        if outcome.is_err() {
            if let Ok(mut waiting) = self.waiting.lock() {
                waiting.remove(&id);
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(id: &str) -> PaymentResponse {
        PaymentResponse { payment_id: id.to_owned(), ..PaymentResponse::default() }
    }

    #[tokio::test]
    async fn replies_reach_their_own_call_and_strays_are_counted() {
        let c = Correlator::default();
        let (a, b) = tokio::join!(
            c.call("t", "e", Duration::from_secs(5), |id| {
                let c = &c;
                async move {
                    c.complete(id, Ok(response("a")));
                    Ok(())
                }
            }),
            c.call("t", "e", Duration::from_secs(5), |id| {
                let c = &c;
                async move {
                    c.complete_text(Some(&id.to_string()), Ok(response("b")));
                    Ok(())
                }
            }),
        );
        assert_eq!((a.unwrap().payment_id, b.unwrap().payment_id), ("a".to_owned(), "b".to_owned()));
        c.complete(99, Ok(response("stray")));
        c.complete_text(Some("not a number"), Ok(response("stray")));
        assert_eq!(c.unmatched(), 2);
    }

    #[tokio::test]
    async fn a_timed_out_call_leaves_no_waiter() {
        let c = Correlator::default();
        let e = c.call("t", "e", Duration::from_millis(20), |_| async { Ok(()) }).await.unwrap_err();
        assert_eq!(e.kind(), "timeout");
        c.complete(0, Ok(response("late")));
        assert_eq!(c.unmatched(), 1, "the late reply found no waiter");
    }
}
