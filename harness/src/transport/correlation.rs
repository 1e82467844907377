//! Correlation-id bookkeeping for every client that multiplexes many calls over one reply stream
//! (`tcp`, `amqp`, `kafka`, `nats`): a call registers a waiter under a fresh id, sends, and waits
//! until the reader hands it the reply with that id, or its deadline passes.
//!
//! The reply type is a parameter: transports hand decoded responses (the default), the replay
//! client ([`crate::load::replay`]) hands the raw reply frame, which it checks without decoding.
//!
//! Replies whose id is unknown (a duplicate after a redelivery, or one arriving after its call
//! timed out) are counted, never delivered twice. A waiter is removed on every exit path. The
//! ids of calls that ended without their reply (a deadline, or a caller that gave up) are kept,
//! so that a stray reply is told apart as the late answer of such a call or as a duplicate
//! ([`ReplyLedger`]): the idempotency-key accounting of the outage experiment.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;

use super::{with_deadline, ReplyLedger};
use crate::pb::PaymentResponse;
use crate::{CallError, CallResult};

type Waiter<R> = oneshot::Sender<CallResult<R>>;

/// The calls a client is waiting on, by correlation id; `R` is what a reply carries.
#[derive(Debug)]
pub(crate) struct Correlator<R = PaymentResponse> {
    next_id: AtomicU64,
    waiting: Mutex<HashMap<u64, Waiter<R>>>,
    unmatched: AtomicU64,
    ledger: Mutex<Ledger>,
}

/// Calls that ended without their reply, and what became of the strays.
#[derive(Debug, Default)]
struct Ledger {
    /// Ids of calls that ended without a reply and have had none since.
    unanswered: HashSet<u64>,
    /// Ids of calls whose caller was told the send failed (a broker connection lost before its
    /// confirm): the request may still have been stored and answered, and such an answer is late,
    /// not a duplicate.
    told_failed: HashSet<u64>,
    late: u64,
    duplicates: u64,
}

impl<R> Default for Correlator<R> {
    fn default() -> Self {
        Self {
            next_id: AtomicU64::default(),
            waiting: Mutex::default(),
            unmatched: AtomicU64::default(),
            ledger: Mutex::default(),
        }
    }
}

impl<R> Correlator<R> {
    /// Replies that matched no waiting call so far.
    pub(crate) fn unmatched(&self) -> u64 {
        self.unmatched.load(Ordering::Relaxed)
    }

    /// The stray replies so far, told apart, and the calls still unanswered.
    pub(crate) fn ledger(&self) -> ReplyLedger {
        let ledger = self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        ReplyLedger { late: ledger.late, duplicates: ledger.duplicates, unanswered: ledger.unanswered.len() as u64 }
    }

    /// Hands a reply to the call waiting for `id`.
    pub(crate) fn complete(&self, id: u64, reply: CallResult<R>) {
        let waiter = self.waiting.lock().ok().and_then(|mut w| w.remove(&id));
        match waiter {
            Some(tx) => {
                if tx.send(reply).is_err() {
                    // The caller gave up just as its reply came: late, never a duplicate.
                    self.unmatched.fetch_add(1, Ordering::Relaxed);
                    self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner).late += 1;
                }
            }
            None => self.stray(id),
        }
    }

    fn stray(&self, id: u64) {
        self.unmatched.fetch_add(1, Ordering::Relaxed);
        let mut ledger = self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if ledger.unanswered.remove(&id) || ledger.told_failed.remove(&id) {
            ledger.late += 1;
        } else {
            ledger.duplicates += 1;
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
        // Runs on every exit, a caller dropping this future included (the load generator's own
        // deadline): a call that got no reply leaves no waiter and is remembered as unanswered.
        let mut guard = Unanswered { correlator: self, id, reported: false, told_failed: false };
        let outcome = with_deadline(transport, endpoint, timeout, async {
            send(id).await?;
            rx.await.map_err(|_| closed())?
        })
        .await;
        // An answer, an error reply or a failed send was reported to the caller: not unanswered.
        guard.reported = !matches!(outcome, Err(CallError::Timeout { .. }));
        guard.told_failed = matches!(outcome, Err(CallError::Call { .. } | CallError::Connect { .. }));
        outcome
    }
}

/// Takes a call's waiter out on every exit, and records the call as unanswered unless its
/// outcome was reported to the caller.
struct Unanswered<'a, R> {
    correlator: &'a Correlator<R>,
    id: u64,
    /// The call ended with an answer or an error the caller saw (not a deadline, not dropped).
    reported: bool,
    /// The caller was told the send or the reply stream failed, not given a reply.
    told_failed: bool,
}

impl<R> Drop for Unanswered<'_, R> {
    fn drop(&mut self) {
        let removed = self.correlator.waiting.lock().ok().and_then(|mut w| w.remove(&self.id)).is_some();
        // A waiter already taken means its reply was handed over as the call ended: not unanswered.
        if self.told_failed || (removed && !self.reported) {
            let mut ledger = self.correlator.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if self.told_failed {
                ledger.told_failed.insert(self.id);
            } else {
                ledger.unanswered.insert(self.id);
            }
        }
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
        assert_eq!(c.ledger(), ReplyLedger { late: 0, duplicates: 0, unanswered: 1 });
        c.complete(0, Ok(response("late")));
        assert_eq!(c.unmatched(), 1, "the late reply found no waiter");
        assert_eq!(c.ledger(), ReplyLedger { late: 1, duplicates: 0, unanswered: 0 });
        c.complete(0, Ok(response("again")));
        assert_eq!(c.ledger(), ReplyLedger { late: 1, duplicates: 1, unanswered: 0 });
    }

    #[tokio::test]
    async fn a_failed_send_leaves_no_waiter_and_is_not_unanswered() {
        let c: Correlator = Correlator::default();
        let failed = c
            .call("t", "e", Duration::from_secs(5), |_| async {
                Err(CallError::Call { transport: "t", endpoint: "e".into(), message: "publish refused".into() })
            })
            .await;
        assert_eq!(failed.unwrap_err().kind(), "call");
        assert!(c.waiting.lock().unwrap().is_empty(), "the waiter is gone");
        assert_eq!(c.ledger().unanswered, 0, "the caller was told: not lost");
        // The request was stored after all (its confirm was lost with the connection): its
        // answer is late, and a second one a duplicate.
        c.complete(0, Ok(response("after the failure")));
        assert_eq!(c.ledger(), ReplyLedger { late: 1, duplicates: 0, unanswered: 0 });
        c.complete(0, Ok(response("again")));
        assert_eq!(c.ledger().duplicates, 1);
    }

    #[tokio::test]
    async fn a_dropped_call_is_unanswered_and_an_answered_one_is_not() {
        let c: Correlator = Correlator::default();
        let pending = c.call("t", "e", Duration::from_secs(60), |_| async { Ok(()) });
        // The caller gives up (the load generator's deadline) before any reply.
        assert!(tokio::time::timeout(Duration::from_millis(10), pending).await.is_err());
        assert_eq!(c.ledger().unanswered, 1);
        let answered = c
            .call("t", "e", Duration::from_secs(5), |id| {
                let c = &c;
                async move {
                    c.complete(id, Ok(response("a")));
                    Ok(())
                }
            })
            .await;
        assert!(answered.is_ok());
        c.complete(1, Ok(response("duplicate")));
        assert_eq!(c.ledger(), ReplyLedger { late: 0, duplicates: 1, unanswered: 1 });
    }
}
