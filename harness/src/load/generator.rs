//! The two load models, generic over [`Transport`] (no `dyn` on the hot path).
//!
//! - [`run_closed`]: `concurrency` callers, each sending its next call as soon as the last returns.
//!   Latency is the service time (a closed loop cannot see the calls it did not send; that is what
//!   its throughput figure shows instead).
//! - [`run_open`]: a constant arrival rate. Call `i` is *intended* at `start + i / rate`; a
//!   pacer task on the client's own worker waits on a `timerfd` (not a tokio timer, whose
//!   resolution is 1 ms) until each intended time and spawns the call there, as wrk2 sends from
//!   its event loop: no thread hop per call. A call waits for one of `max_in_flight` slots (like
//!   wrk2's connections), then is sent. Latency is measured from the intended time (coordinated-omission corrected, as
//!   wrk2), and the uncorrected service time (actual send to reply) is kept alongside, as is the
//!   schedule lag (how late the generator itself started each call).
//!
//! Both share the measured window: `warmup` is run but not recorded, and the load runs straight
//! on into the window, with no pause that would let a queue drain (a server that fell behind in
//! the warm-up is still behind when the window opens). A call belongs to the window by its send
//! time (its intended time in open loop): those in the `duration` after the warm-up are recorded,
//! and every one of them is waited for, each bounded by the call timeout, so
//! `sent = ok + failed + timed_out`. The [`WindowProbe`] snapshots wire and CPU counters when the
//! window opens, when its last call is sent and when its last call has ended; the counters
//! therefore also hold the tail of the warm-up calls still in flight at the start (a few calls
//! against thousands).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::{mpsc, Semaphore};

use crate::load::arrivals::{Arrivals, Schedule};
use crate::load::scenario::GENERATOR_GRACE;
use crate::load::timeline::{Buckets, Ended};
use crate::pb::{PaymentRequest, PaymentResponse};
use crate::results::stats::new_histogram;
use crate::results::{Accounting, LatencyStats};
use crate::transport::Transport;
use crate::{CallError, CallResult, Error, Result};

/// Schedule lag at p99 above this (in the model, which the report reads): see
/// [`RawMeasurement::schedule_lagged`].
pub use crate::load::scenario::GENERATOR_LAG_LIMIT;

/// Timing of one measured window.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Run but not recorded.
    pub warmup: Duration,
    /// Recorded.
    pub duration: Duration,
    /// Calls with no reply after this long count as timed out.
    pub timeout: Duration,
}

/// Told when the measured window starts, when its last call has been sent, and when its last call
/// has ended.
pub trait WindowProbe {
    /// The window starts (end of warm-up).
    fn start(&mut self);
    /// The last recorded call has been sent (open loop: dispatched; closed loop: the send window
    /// closed). Busy shares are taken over start..sent, where the offered load is applied.
    fn sent(&mut self) {}
    /// Every recorded call has ended.
    fn end(&mut self);
}

impl WindowProbe for () {
    fn start(&mut self) {}
    fn end(&mut self) {}
}

/// Histograms (nanoseconds) and outcome counts of one window.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Corrected latency (open) or service time (closed), ok calls.
    pub latency: Histogram<u64>,
    /// Service time, ok calls.
    pub service: Histogram<u64>,
    /// Open loop: dispatch lag behind schedule, every call.
    pub lag: Histogram<u64>,
    /// Outcomes.
    pub accounting: Accounting,
    /// When the last recorded call completed (any outcome).
    pub last_done: Option<Instant>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            latency: new_histogram(),
            service: new_histogram(),
            lag: new_histogram(),
            accounting: Accounting::default(),
            last_done: None,
        }
    }
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
}

impl Recorder {
    /// Counts one call handed to the transport. Its outcome is counted apart, by [`Recorder::record`]
    /// or [`Recorder::record_panic`], so a call whose outcome never arrives unbalances the window.
    pub fn dispatched(&mut self) {
        self.accounting.sent += 1;
    }

    /// Counts a call whose task panicked: a failure of kind `internal` (paybench's, not the
    /// transport's).
    pub fn record_panic(&mut self, message: String) {
        let acc = &mut self.accounting;
        acc.failed_total += 1;
        *acc.failed.entry("internal".to_owned()).or_default() += 1;
        acc.failure_examples.entry("internal".to_owned()).or_insert(message);
    }

    /// Records a completed call (outcome or panic) that ended at `done`.
    fn complete(&mut self, completed: &Completed, latency: Duration, service: Duration, done: Instant) {
        self.last_done = self.last_done.max(Some(done));
        match completed {
            Ok(outcome) => self.record(outcome, latency, service),
            Err(message) => self.record_panic(message.clone()),
        }
    }

    /// Records one call's outcome; `latency` and `service` only count for ok calls.
    pub fn record(&mut self, outcome: &CallResult<PaymentResponse>, latency: Duration, service: Duration) {
        let acc = &mut self.accounting;
        match outcome {
            Ok(_) => {
                acc.ok += 1;
                self.latency.saturating_record(ns(latency));
                self.service.saturating_record(ns(service));
            }
            Err(CallError::Timeout { .. }) => acc.timed_out += 1,
            Err(e) => {
                let kind = e.kind();
                acc.failed_total += 1;
                *acc.failed.entry(kind.to_owned()).or_default() += 1;
                acc.failure_examples.entry(kind.to_owned()).or_insert_with(|| e.to_string());
            }
        }
    }

    /// Folds `other` into `self`.
    pub fn merge(&mut self, other: &Recorder) {
        // Same bounds on both sides, so add cannot fail; saturate rather than lose the counts.
        let _ = self.latency.add(&other.latency);
        let _ = self.service.add(&other.service);
        let _ = self.lag.add(&other.lag);
        self.last_done = self.last_done.max(other.last_done);
        let (a, b) = (&mut self.accounting, &other.accounting);
        a.scheduled = match (a.scheduled, b.scheduled) {
            (None, None) => None,
            (x, y) => Some(x.unwrap_or(0) + y.unwrap_or(0)),
        };
        a.sent += b.sent;
        a.ok += b.ok;
        a.failed_total += b.failed_total;
        a.timed_out += b.timed_out;
        for (k, v) in &b.failed {
            *a.failed.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &b.failure_examples {
            a.failure_examples.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// What a window measured, before wire and CPU are attached.
#[derive(Debug, Clone)]
pub struct RawMeasurement {
    /// Histograms and counts.
    pub recorder: Recorder,
    /// The recorded window's length: the span of intended send times.
    pub window: Duration,
    /// From the first recorded send (intended, in open loop) to the last completion. Throughput is
    /// ok calls over this span; when it is much longer than `window`, calls queued up.
    pub completion_span: Duration,
    /// Open loop's offered rate.
    pub offered_rate_per_s: Option<f64>,
    /// Open loop: how long the pacer spun before the window's calls (generator CPU on the
    /// client's worker, which the client's CPU counter includes).
    pub pacer_spin: Option<Duration>,
    /// Open loop with a bucket sink ([`run_open_with`]): the window's calls by 100 ms bucket.
    pub timeline: Option<Buckets>,
}

impl RawMeasurement {
    /// Corrected (or closed-loop) latency summary.
    pub fn latency(&self) -> Result<LatencyStats> {
        LatencyStats::from_histogram(&self.recorder.latency)
    }

    /// Uncorrected service-time summary.
    pub fn service_time(&self) -> Result<LatencyStats> {
        LatencyStats::from_histogram(&self.recorder.service)
    }

    /// Whether the open loop's tail was set by the generator: its p99 schedule lag (how late calls
    /// started versus their intended times, before any wait for a slot) is over
    /// [`GENERATOR_LAG_LIMIT`] and at least half the corrected p99 latency. Lag only ever adds to
    /// the corrected latency, so an unflagged result is not flattered by it; a flagged one says the
    /// client side (or a busy machine) made much of the tail.
    pub fn schedule_lagged(&self) -> bool {
        let lag_p99 = self.recorder.lag.value_at_quantile(0.99);
        self.offered_rate_per_s.is_some()
            && lag_p99 > ns(GENERATOR_LAG_LIMIT)
            && lag_p99 * 2 >= self.recorder.latency.value_at_quantile(0.99)
    }
}

/// What became of one call: its outcome, or the message of a panic in its task.
type Completed = Result<CallResult<PaymentResponse>, String>;

/// A call that ends by `deadline` whatever the transport does, reported as a timeout of `timeout`
/// then; a panic in the transport is caught and returned (so that it is counted, never lost).
async fn bounded_call<T: Transport>(
    client: &T,
    req: PaymentRequest,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> Completed {
    let call = std::panic::AssertUnwindSafe(tokio::time::timeout_at(deadline, client.call(req)));
    match futures::FutureExt::catch_unwind(call).await {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(_)) => Ok(Err(CallError::Timeout {
            // The generator's own deadline: the transport's name is on the arm's result.
            transport: "load generator",
            endpoint: "(generator deadline)".to_owned(),
            after: timeout,
        })),
        Err(panic) => Err(panic_message(panic.as_ref())),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text =
        panic.downcast_ref::<&str>().map(|s| (*s).to_owned()).or_else(|| panic.downcast_ref::<String>().cloned());
    format!("a call panicked: {}", text.unwrap_or_else(|| "(no message)".to_owned()))
}

/// Runs a closed-loop window with `concurrency` callers cycling through `pool`.
pub async fn run_closed<T: Transport + 'static>(
    client: Arc<T>,
    concurrency: u32,
    pool: Arc<Vec<PaymentRequest>>,
    window: Window,
    probe: &mut impl WindowProbe,
) -> Result<RawMeasurement> {
    let window_start = tokio::time::Instant::now() + window.warmup;
    let end = window_start + window.duration;
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency as usize {
        let (client, pool) = (client.clone(), pool.clone());
        workers.spawn(async move {
            let mut i = worker;
            let mut rec = Recorder::default();
            loop {
                // The request is cloned before the clock starts: building it is not the call.
                i += concurrency as usize;
                let req = pool[i % pool.len()].clone();
                let sent = tokio::time::Instant::now();
                if sent >= end {
                    return rec;
                }
                // Warm-up runs straight into the window: a call belongs to it by its send time.
                let measured = sent >= window_start;
                if measured {
                    rec.dispatched();
                }
                let deadline = sent + window.timeout + GENERATOR_GRACE;
                let outcome = bounded_call(&*client, req, deadline, window.timeout).await;
                let done = tokio::time::Instant::now();
                if measured {
                    rec.complete(&outcome, done - sent, done - sent, done.into_std());
                }
                // A call that completes without waiting (inproc, sim at no load) never returns
                // control to the runtime; on one worker thread the timers then cannot fire, and
                // the window's probes ran after the load had ended (0.05 client cores read at
                // 450k calls/s). Spending the task's coop budget yields once every 128 calls.
                tokio::task::consume_budget().await;
            }
        });
    }
    tokio::time::sleep_until(window_start).await;
    probe.start();
    tokio::time::sleep_until(end).await;
    probe.sent();
    let mut total = Recorder::default();
    while let Some(joined) = workers.join_next().await {
        let rec = joined.map_err(|e| Error::Internal(format!("load worker failed: {e}")))?;
        total.merge(&rec);
    }
    probe.end();
    let completion_span = total.last_done.map_or(window.duration, |done| done - window_start.into_std());
    Ok(RawMeasurement {
        recorder: total,
        window: window.duration,
        completion_span,
        offered_rate_per_s: None,
        pacer_spin: None,
        timeline: None,
    })
}

/// Runs an open-loop window at `rate_per_s` with at most `max_in_flight` calls in flight.
pub async fn run_open<T: Transport + 'static>(
    client: Arc<T>,
    rate_per_s: f64,
    max_in_flight: u32,
    pool: Arc<Vec<PaymentRequest>>,
    window: Window,
    probe: &mut impl WindowProbe,
) -> Result<RawMeasurement> {
    run_open_with(client, &Arrivals::constant(rate_per_s), max_in_flight, pool, window, probe, None).await
}

/// [`run_open`] at `arrivals` (one rate, or load in phases), and with `timeline_late_after` a
/// bucket sink as well: every measured call is also counted in the 100 ms bucket of its intended
/// send time ([`RawMeasurement::timeline`]); ok calls slower than `timeline_late_after` count as
/// late there.
pub async fn run_open_with<T: Transport + 'static>(
    client: Arc<T>,
    arrivals: &Arrivals,
    max_in_flight: u32,
    pool: Arc<Vec<PaymentRequest>>,
    window: Window,
    probe: &mut impl WindowProbe,
    timeline_late_after: Option<Duration>,
) -> Result<RawMeasurement> {
    let schedule = arrivals.schedule(window.warmup, window.duration);
    let measured_calls = schedule.measured_calls;
    // A short lead so that call 0 is not already late when the pacer gets there.
    let start = Instant::now() + Duration::from_millis(2);
    let first_intended = start + schedule.window_start();
    // The recorded window: the span of the measured calls' intended send times.
    let span = schedule.span();
    // One rate: the rate asked for, as before; in phases: the window's mean.
    let offered_rate_per_s =
        if arrivals.is_phased() { schedule.offered_rate_per_s() } else { arrivals.first_rate_per_s() };
    let shared = Arc::new(OpenShared {
        slots: Semaphore::new(max_in_flight as usize),
        recorder: Mutex::new(Recorder::default()),
        timeline: timeline_late_after
            .map(|late| Mutex::new(Buckets::new(first_intended, span, crate::load::timeline::BUCKET, late))),
        dispatched: std::sync::atomic::AtomicU64::new(0),
        spun_ns: std::sync::atomic::AtomicU64::new(0),
        timeout: window.timeout,
    });
    // Every call task holds a clone of `alive`; `recv()` returns `None` once the pacer and
    // every call have dropped theirs.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    let (opened, window_open) = tokio::sync::oneshot::channel::<()>();
    let (all_sent, sending_over) = tokio::sync::oneshot::channel::<()>();
    let pacer = Pacer { client, pool, shared: shared.clone(), schedule };
    // A task of the client runtime: it runs on the client's (pinned) worker, and the calls it
    // spawns start on that same worker, with no thread hop between the schedule and the send.
    let pacing = tokio::spawn(async move {
        // One schedule: the warm-up runs straight into the window, whose calls are the ones
        // intended from `first_intended` on.
        let paced = pacer.pace(start, opened, alive).await;
        let _ = all_sent.send(());
        paced
    });
    let _ = window_open.await;
    probe.start();
    let _ = sending_over.await;
    probe.sent();
    let _ = all_done.recv().await;
    probe.end();
    pacing
        .await
        .map_err(|e| Error::Internal(format!("open-loop pacer failed: {e}")))?
        .map_err(|e| Error::Internal(format!("open-loop pacer: its timer (timerfd) failed: {e}")))?;
    let mut recorder = shared.recorder.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    // Dispatches were counted by the pacer, outcomes by the calls: the two meet only here.
    recorder.accounting.sent = shared.dispatched.load(std::sync::atomic::Ordering::Acquire);
    recorder.accounting.scheduled = Some(measured_calls);
    let completion_span = recorder.last_done.map_or(span, |done| done.saturating_duration_since(first_intended));
    let pacer_spin = Some(Duration::from_nanos(shared.spun_ns.load(std::sync::atomic::Ordering::Relaxed)));
    let timeline =
        shared.timeline.as_ref().map(|t| t.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone());
    Ok(RawMeasurement {
        recorder,
        window: span,
        completion_span,
        offered_rate_per_s: Some(offered_rate_per_s),
        pacer_spin,
        timeline,
    })
}

struct OpenShared {
    slots: Semaphore,
    recorder: Mutex<Recorder>,
    /// The bucket sink, when the window keeps a timeline.
    timeline: Option<Mutex<Buckets>>,
    /// Measured calls handed to the runtime, counted by the pacer.
    dispatched: std::sync::atomic::AtomicU64,
    /// Nanoseconds the pacer spun before measured calls: generator CPU, not the client library's.
    spun_ns: std::sync::atomic::AtomicU64,
    timeout: Duration,
}

struct Pacer<T> {
    client: Arc<T>,
    pool: Arc<Vec<PaymentRequest>>,
    shared: Arc<OpenShared>,
    schedule: Schedule,
}

impl<T: Transport + 'static> Pacer<T> {
    /// Waits for each call's intended time (`start` + its offset in the schedule) on a `timerfd` and spawns the
    /// call on this worker; when late, spawns every due call at once (their latency still counts
    /// from their intended times). tokio's own timer rounds up to whole milliseconds, which would
    /// be charged to every call as schedule lag; a timerfd wakes the worker's epoll at the
    /// nanosecond it is set to, and costs no thread of its own.
    async fn pace(
        self,
        start: Instant,
        opened: tokio::sync::oneshot::Sender<()>,
        alive: mpsc::Sender<()>,
    ) -> std::io::Result<()> {
        let mut timer = tokio_timerfd::Delay::new(start)?;
        let mut opened = Some(opened);
        // The timer is set a little early and the rest is spun: a halted vCPU here wakes about
        // 50 µs late, which every call would carry as schedule lag. The spin holds this worker
        // (its CPU is counted apart, as the pacer's); it is short, and capped at a share of the
        // interval.
        let spin = SPIN_BEFORE_DUE.min(self.schedule.shortest_interval().mul_f64(SPIN_SHARE_OF_INTERVAL));
        let warmup_calls = self.schedule.warmup_calls;
        for i in 0..self.schedule.total_calls() {
            let intended = start + self.schedule.offset(i);
            // Cloned while there is time to spare, not after the intended time.
            let req = self.pool[i as usize % self.pool.len()].clone();
            let measured = i >= warmup_calls;
            if intended > Instant::now() + spin {
                timer.reset(intended - spin);
                (&mut timer).await?;
            }
            let spin_started = Instant::now();
            while Instant::now() < intended {
                std::hint::spin_loop();
            }
            if measured {
                let spun = u64::try_from(spin_started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                self.shared.spun_ns.fetch_add(spun, std::sync::atomic::Ordering::Relaxed);
                if let Some(opened) = opened.take() {
                    let _ = opened.send(());
                }
                self.shared.dispatched.fetch_add(1, std::sync::atomic::Ordering::Release);
            }
            tokio::spawn(open_call(self.client.clone(), req, intended, measured, self.shared.clone(), alive.clone()));
            // Behind schedule every due call is spawned at once; the coop budget lets the calls
            // (and the reactor) run every 128 spawns, so a late pacer cannot starve them.
            tokio::task::consume_budget().await;
        }
        Ok(())
    }
}

/// The pacer's timer fires this long before a call is due, and it spins the rest: a sleeping CPU
/// wakes tens of microseconds late (on a virtual machine the halted vCPU must be re-entered), which
/// would be charged to every call as schedule lag.
const SPIN_BEFORE_DUE: Duration = Duration::from_micros(100);
/// ...but it spins for at most this share of the interval between calls, so that the spin never
/// holds the worker for long: at high rates the CPU has no time to halt anyway.
const SPIN_SHARE_OF_INTERVAL: f64 = 0.05;

async fn open_call<T: Transport>(
    client: Arc<T>,
    req: PaymentRequest,
    intended: Instant,
    measured: bool,
    shared: Arc<OpenShared>,
    _alive: mpsc::Sender<()>,
) {
    let lag = intended.elapsed();
    let deadline = tokio::time::Instant::from_std(intended + shared.timeout);
    // Waiting for a slot is part of the user's latency, and bounded by the same timeout.
    let outcome = match tokio::time::timeout_at(deadline, shared.slots.acquire()).await {
        Ok(Ok(_permit)) => {
            let sent = Instant::now();
            // Open loop: the timeout runs from the intended send, like the latency, so a call that
            // waited for a slot has that much less time; its corrected latency never exceeds it.
            let outcome = bounded_call(&*client, req, deadline, shared.timeout).await;
            let done = Instant::now();
            Some((outcome, done - intended, done - sent))
        }
        _ => None,
    };
    if !measured {
        return;
    }
    // A poisoned lock still holds valid counts; losing this outcome would hide the call.
    let mut rec = shared.recorder.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    rec.lag.saturating_record(ns(lag));
    if let Some(timeline) = &shared.timeline {
        let ended = match &outcome {
            Some((outcome, latency, _)) => Ended::of(outcome, *latency),
            None => Ended::TimedOut,
        };
        timeline.lock().unwrap_or_else(std::sync::PoisonError::into_inner).record(intended, outcome.is_some(), ended);
    }
    match outcome {
        Some((outcome, latency, service)) => rec.complete(&outcome, latency, service, intended + latency),
        None => {
            rec.last_done = rec.last_done.max(Some(Instant::now()));
            let timeout = Err(CallError::Timeout {
                transport: "load generator",
                endpoint: "(no free slot)".to_owned(),
                after: shared.timeout,
            });
            rec.record(&timeout, Duration::ZERO, Duration::ZERO);
        }
    }
}
