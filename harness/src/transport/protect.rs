//! The standard protections of a direct RPC, as the `+res` arm layer (`grpc+res`, `rest+res`):
//! what the product's notes say gRPC needs under overload ("without rate limiting, retries or a
//! circuit breaker, requests can be lost"), from well-kept crates, none written here:
//!
//! | protection | where | from | settings |
//! |---|---|---|---|
//! | deadline | client → server | tonic's `grpc-timeout` header ([`ClientConfig::send_deadline`]); HTTP has no standard header, so a REST server only learns of it when the client closes the connection | the call's timeout |
//! | load shedding | server | tower's `GlobalConcurrencyLimitLayer` under `LoadShedLayer`: a call past the limit is refused at once (gRPC `RESOURCE_EXHAUSTED`, HTTP 503), server-wide | [`MAX_CONCURRENT_CALLS`] in process |
//! | retries | client, above the codec | tower's `Retry` with a `TpsBudget`, exponential backoff with jitter | [`MAX_ATTEMPTS`] attempts; only a shed call or a broken connection, never a deadline; the budget lets retries add [`RETRY_PERCENT`] of the calls (plus [`RETRY_MIN_PER_S`]/s) |
//! | circuit breaker | client, outermost | `tower-resilience-circuitbreaker` (pinned: its minor releases break its API) | opens at [`BREAKER_FAILURE_RATE`] failures over the calls of the last [`BREAKER_WINDOW`] (at least [`BREAKER_MIN_CALLS`]), stays open [`BREAKER_OPEN_FOR`], then lets [`BREAKER_HALF_OPEN_CALLS`] through |
//!
//! Retries are safe because the payment is idempotent: the business function has no side effect,
//! so a retried payment is answered exactly as the first attempt would have been. (The load
//! generator cycles a pool of 64 payloads, so idempotency keys repeat across distinct calls by
//! design; a server cache keyed by them would answer distinct calls from one entry, so the server
//! keeps none.)
//!
//! Failures get kinds of their own in `results.json`: `shed`, `breaker-open`, `deadline`
//! ([`CallError::kind`]).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tower::retry::backoff::{Backoff, ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff};
use tower::retry::budget::{Budget, TpsBudget};
use tower::util::rng::HasherRng;
use tower::util::BoxCloneSyncService;
use tower::ServiceExt;
use tower_resilience_circuitbreaker::{CircuitBreakerError, CircuitBreakerLayer, SlidingWindowType};

use super::{AnyClient, CallResult, Transport};
use crate::error::CallError;
use crate::pb::{PaymentRequest, PaymentResponse};

/// Most calls a protected server processes at once, across its connections; a call past it is
/// shed. Below the 200 streams an HTTP/2 connection may carry at once (and a REST client's pool),
/// or one client could never reach it: its excess would wait in its own connection instead.
/// About what the server holds when it runs at capacity (Little's law: 10,000 calls/s × 10 ms).
pub const MAX_CONCURRENT_CALLS: usize = 100;
/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 3;
/// The first backoff; it doubles per attempt, with jitter, up to [`BACKOFF_MAX`].
pub const BACKOFF_MIN: Duration = Duration::from_millis(10);
/// The longest backoff.
pub const BACKOFF_MAX: Duration = Duration::from_millis(200);
/// Retries may add this share of the calls of the last [`RETRY_BUDGET_TTL`] ...
pub const RETRY_PERCENT: f32 = 0.2;
/// ... plus this many a second.
pub const RETRY_MIN_PER_S: u32 = 10;
/// The window of the retry budget.
pub const RETRY_BUDGET_TTL: Duration = Duration::from_secs(10);
/// The breaker opens at this share of failed calls ...
pub const BREAKER_FAILURE_RATE: f64 = 0.5;
/// ... over the calls of the last this long (a time window: under load a count window of a
/// few hundred calls would span milliseconds) ...
pub const BREAKER_WINDOW: Duration = Duration::from_secs(1);
/// ... once it has seen at least this many.
pub const BREAKER_MIN_CALLS: usize = 20;
/// How long it stays open before it lets a few calls through (half-open).
pub const BREAKER_OPEN_FOR: Duration = Duration::from_secs(1);
/// Calls let through half-open; their outcome closes or reopens it.
pub const BREAKER_HALF_OPEN_CALLS: usize = 10;

/// What a protected client did, for tests and progress lines.
#[derive(Debug, Default)]
pub struct Counters {
    /// Attempts sent to the server, retries included.
    pub attempts: AtomicU64,
    /// Retries made.
    pub retries: AtomicU64,
    /// Retries the budget refused.
    pub budget_refused: AtomicU64,
    /// Calls deposited in the budget (each call once, with its first outcome).
    pub deposits: AtomicU64,
}

/// Whether a failed attempt may be retried: the server refused it before doing anything (shed),
/// or the connection failed under it. Never a deadline: the time is spent.
fn retryable(e: &CallError) -> bool {
    matches!(e, CallError::Shed { .. } | CallError::Connect { .. } | CallError::Call { .. })
}

/// Whether a call's outcome counts as a failure for the breaker: the server or the path to it
/// failed; a payment the business function refused is an answer, not a failure.
fn breaker_failure(result: &Result<PaymentResponse, CallError>) -> bool {
    matches!(
        result,
        Err(CallError::Shed { .. }
            | CallError::Connect { .. }
            | CallError::Call { .. }
            | CallError::Deadline { .. }
            | CallError::Timeout { .. })
    )
}

/// tower's retry policy for a payment: budgeted, backed off, on [`retryable`] failures only.
#[derive(Clone)]
struct RetryPolicy {
    budget: Arc<TpsBudget>,
    backoff: ExponentialBackoff<HasherRng>,
    attempts: u32,
    counters: Arc<Counters>,
}

impl tower::retry::Policy<PaymentRequest, PaymentResponse, CallError> for RetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        _req: &mut PaymentRequest,
        result: &mut Result<PaymentResponse, CallError>,
    ) -> Option<Self::Future> {
        // Each call deposits once, with its first outcome: the budget is a share of calls.
        if self.attempts == 1 {
            self.budget.deposit();
            self.counters.deposits.fetch_add(1, Ordering::Relaxed);
        }
        match result {
            Err(e) if retryable(e) && self.attempts < MAX_ATTEMPTS => {
                if !self.budget.withdraw() {
                    self.counters.budget_refused.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                self.attempts += 1;
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
                Some(self.backoff.next_backoff())
            }
            _ => None,
        }
    }

    fn clone_request(&mut self, req: &PaymentRequest) -> Option<PaymentRequest> {
        Some(req.clone())
    }
}

/// A client with the standard protections around an arm's own client: the breaker outermost,
/// then the budgeted retries, then the call (which sends its deadline, see [`ClientConfig`]).
///
/// [`ClientConfig`]: super::ClientConfig
pub struct Protected {
    name: &'static str,
    stack: BoxCloneSyncService<PaymentRequest, PaymentResponse, CallError>,
    counters: Arc<Counters>,
}

impl fmt::Debug for Protected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Protected").field("name", &self.name).field("counters", &self.counters).finish()
    }
}

impl Protected {
    /// The protections around `inner`, with the settings above.
    pub fn new(name: &'static str, inner: AnyClient) -> crate::Result<Self> {
        Self::with(name, Arc::new(inner), RetryBudget::standard(), Breaker::standard())
    }

    /// The same with a given budget and breaker (tests).
    pub fn with(
        name: &'static str,
        inner: Arc<impl Transport + 'static>,
        budget: RetryBudget,
        breaker: Breaker,
    ) -> crate::Result<Self> {
        let counters = Arc::new(Counters::default());
        let attempts = counters.clone();
        let call = tower::service_fn(move |req: PaymentRequest| {
            let (inner, attempts) = (inner.clone(), attempts.clone());
            async move {
                attempts.attempts.fetch_add(1, Ordering::Relaxed);
                inner.call(req).await
            }
        });
        let backoff = ExponentialBackoffMaker::new(BACKOFF_MIN, BACKOFF_MAX, 1.0, HasherRng::default())
            .map_err(|e| crate::Error::Internal(format!("{name}: retry backoff: {e}")))?
            .make_backoff();
        let policy = RetryPolicy { budget: Arc::new(budget.0), backoff, attempts: 1, counters: counters.clone() };
        let breaker = CircuitBreakerLayer::builder()
            .failure_rate_threshold(BREAKER_FAILURE_RATE)
            .sliding_window_type(SlidingWindowType::TimeBased)
            .sliding_window_duration(BREAKER_WINDOW)
            .minimum_number_of_calls(breaker.min_calls)
            .wait_duration_in_open(breaker.open_for)
            .permitted_calls_in_half_open(BREAKER_HALF_OPEN_CALLS)
            .failure_classifier(breaker_failure)
            .build()
            .map_err(|e| crate::Error::Internal(format!("{name}: circuit breaker: {e}")))?;
        let stack = tower::ServiceBuilder::new()
            .map_err(move |e: CircuitBreakerError<CallError>| match e {
                CircuitBreakerError::OpenCircuit => CallError::BreakerOpen { transport: name },
                CircuitBreakerError::Inner(e) => e,
            })
            .layer(breaker)
            .layer(tower::retry::RetryLayer::new(policy))
            .service(call);
        Ok(Self { name, stack: BoxCloneSyncService::new(stack), counters })
    }

    /// What it did so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
}

/// The circuit breaker's settings that tests vary.
#[derive(Debug, Clone, Copy)]
pub struct Breaker {
    /// Calls seen before it may open.
    pub min_calls: usize,
    /// How long it stays open.
    pub open_for: Duration,
}

impl Breaker {
    /// The breaker of the `+res` layer.
    pub fn standard() -> Self {
        Self { min_calls: BREAKER_MIN_CALLS, open_for: BREAKER_OPEN_FOR }
    }
}

/// A retry budget (tower's `TpsBudget`).
pub struct RetryBudget(TpsBudget);

impl RetryBudget {
    /// The budget of the `+res` layer: [`RETRY_PERCENT`] of the calls plus [`RETRY_MIN_PER_S`]/s
    /// over [`RETRY_BUDGET_TTL`].
    pub fn standard() -> Self {
        Self::new(RETRY_PERCENT, RETRY_MIN_PER_S, RETRY_BUDGET_TTL)
    }

    /// Another share, floor and window (1 to 60 s; `TpsBudget` keeps it in ten slots of wall
    /// time, read from the system clock).
    pub fn new(percent: f32, min_per_s: u32, ttl: Duration) -> Self {
        Self(TpsBudget::new(ttl, min_per_s, percent))
    }
}

impl Transport for Protected {
    fn name(&self) -> &str {
        self.name
    }

    async fn call(&self, req: PaymentRequest) -> CallResult<PaymentResponse> {
        self.stack.clone().oneshot(req).await
    }
}

/// The server side's tower layers: load shedding over a server-wide concurrency limit.
pub type ShedLayer = tower::layer::util::Stack<
    tower::limit::GlobalConcurrencyLimitLayer,
    tower::layer::util::Stack<tower::load_shed::LoadShedLayer, tower::layer::util::Identity>,
>;

/// The server side of the layer for a tower-based server: calls past `max_concurrent` in process
/// are refused at once with tower's `Overloaded` error, which tonic answers as
/// `RESOURCE_EXHAUSTED` and the REST server as 503.
pub fn shed_layer(max_concurrent: usize) -> ShedLayer {
    tower::ServiceBuilder::new()
        .load_shed()
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(max_concurrent))
        .into_inner()
}

/// The message tonic gives a shed call's `RESOURCE_EXHAUSTED` (its conversion of tower's
/// `Overloaded`): how a gRPC client tells a shed call from a body over the size limit.
pub const TONIC_SHED_MESSAGE: &str = "Too many active requests for the connection";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{generate, Profile};

    /// A server that answers every call with `outcome`, counting the calls it got.
    #[derive(Debug, Default)]
    struct Scripted {
        fail: std::sync::atomic::AtomicBool,
        calls: AtomicU64,
    }

    impl Transport for Scripted {
        fn name(&self) -> &str {
            "scripted"
        }

        async fn call(&self, req: PaymentRequest) -> CallResult<PaymentResponse> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if self.fail.load(Ordering::Relaxed) {
                return Err(CallError::Shed { transport: "scripted", message: "overloaded".to_owned() });
            }
            Ok(crate::payment::process(&req).expect("a valid payment"))
        }
    }

    fn request() -> PaymentRequest {
        generate(Profile::Small, 1, 0)
    }

    /// Known answer: a server that sheds every call, 1000 calls. Without a budget each would be
    /// tried 3 times (3000 attempts, a retry storm that triples the load on a server already
    /// refusing it). tower's `TpsBudget` at the layer's 20 %: each call deposits 1, a retry
    /// withdraws 1 / 20 % = 5, so exactly 1000 / 5 = 200 retries go through and the budget
    /// refuses the rest. The budget keeps its deposits in ten slots of system-clock time, which a
    /// paused tokio clock does not hold still: with the layer's 10 s window (1 s slots) and 10/s
    /// floor, a slow test run crossed a slot and let 400 retries through instead of 300. So the
    /// test takes the longest window (60 s, 6 s slots) and no floor, leaving nothing to the clock.
    #[tokio::test(start_paused = true)]
    async fn the_retry_budget_stops_a_retry_storm() {
        let server = Arc::new(Scripted::default());
        server.fail.store(true, Ordering::Relaxed);
        // A breaker that never opens (it needs more calls than the test makes): the budget alone.
        let breaker = Breaker { min_calls: 1_000_000, ..Breaker::standard() };
        let budget = RetryBudget::new(RETRY_PERCENT, 0, Duration::from_secs(60));
        let client = Protected::with("t", server.clone(), budget, breaker).unwrap();
        let sent = 1000u64;
        for _ in 0..sent {
            let e = client.call(request()).await.unwrap_err();
            assert_eq!(e.kind(), "shed", "{e}");
        }
        let c = client.counters();
        let (attempts, retries, refused) = (
            c.attempts.load(Ordering::Relaxed),
            c.retries.load(Ordering::Relaxed),
            c.budget_refused.load(Ordering::Relaxed),
        );
        eprintln!(
            "{sent} calls sent, {attempts} attempts, {retries} retries, {refused} refused by the budget, {} deposits",
            c.deposits.load(Ordering::Relaxed)
        );
        assert_eq!(attempts, sent + retries);
        assert_eq!(retries, 200, "{retries} retries for {sent} calls: the budget did not hold");
        assert_eq!(c.deposits.load(Ordering::Relaxed), sent);
        assert!(refused >= sent - retries, "the budget refused {refused}");
    }

    /// Known answer: 20 failed calls (the minimum) at 100 % failures open the breaker; the next
    /// call is refused without reaching the server; after the time open, calls go through again
    /// (half-open), and with the server healthy the breaker closes. The breaker keeps its time by
    /// the system clock, so the test waits its 100 ms open for real.
    #[tokio::test]
    async fn the_breaker_opens_then_half_opens_and_closes() {
        let server = Arc::new(Scripted::default());
        server.fail.store(true, Ordering::Relaxed);
        // No retries (a budget of nothing), so each call is one attempt.
        let breaker = Breaker { open_for: Duration::from_millis(100), ..Breaker::standard() };
        let client = Protected::with("t", server.clone(), RetryBudget::new(0.0, 0, RETRY_BUDGET_TTL), breaker).unwrap();
        for _ in 0..BREAKER_MIN_CALLS {
            assert!(matches!(client.call(request()).await, Err(CallError::Shed { .. })));
        }
        let reached = server.calls.load(Ordering::Relaxed);
        let refused = client.call(request()).await;
        assert!(matches!(refused, Err(CallError::BreakerOpen { .. })), "{refused:?}");
        assert_eq!(server.calls.load(Ordering::Relaxed), reached, "an open breaker sent the call");
        assert_eq!(refused.unwrap_err().kind(), "breaker-open");
        // Half-open after the time open: calls reach the healthy server and close it again.
        server.fail.store(false, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(150)).await;
        for _ in 0..BREAKER_HALF_OPEN_CALLS + 5 {
            client.call(request()).await.expect("half-open, then closed: the call goes through");
        }
        assert!(server.calls.load(Ordering::Relaxed) > reached);
    }
}
