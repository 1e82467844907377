//! Load-generator tests: coordinated-omission correction and exact accounting, on in-process
//! transports (these test the generator, not a network).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use paybench::load::generator::{self, Window};
use paybench::payload::{self, Profile};
use paybench::pb::{PaymentRequest, PaymentResponse};
use paybench::transport::inproc;
use paybench::transport::Transport;
use paybench::{CallError, CallResult};

/// A server that stalls once: the first call sent after `stall_at` takes `stall` longer; calls in
/// between are answered at once by a real in-process payment service.
struct StallOnce {
    inner: inproc::Client,
    stall_at: Instant,
    stall: Duration,
    stalled: Mutex<bool>,
}

impl Transport for StallOnce {
    fn name(&self) -> &'static str {
        "stall-once"
    }

    async fn call(&self, req: PaymentRequest) -> CallResult<PaymentResponse> {
        let stall_now = Instant::now() >= self.stall_at && {
            let mut stalled = self.stalled.lock().unwrap();
            !std::mem::replace(&mut *stalled, true)
        };
        if stall_now {
            tokio::time::sleep(self.stall).await;
        }
        self.inner.call(req).await
    }
}

fn pool() -> Arc<Vec<PaymentRequest>> {
    Arc::new((0..8).map(|i| payload::generate(Profile::Small, 1, i)).collect())
}

const MS: f64 = 1_000.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_corrects_coordinated_omission() {
    // 1000 calls/s over one slot (one connection): a 200 ms stall holds back ~200 intended calls.
    let window = Window {
        warmup: Duration::from_millis(200),
        duration: Duration::from_millis(2000),
        timeout: Duration::from_secs(2),
    };
    let client = Arc::new(StallOnce {
        inner: inproc::Client::default(),
        stall_at: Instant::now() + Duration::from_millis(900),
        stall: Duration::from_millis(200),
        stalled: Mutex::new(false),
    });
    let raw = generator::run_open(client, 1000.0, 1, pool(), window, &mut ()).await.unwrap();
    let acc = &raw.recorder.accounting;
    assert_eq!(acc.sent, 2000);
    assert_eq!(acc.ok, 2000, "{acc:?}");
    let corrected = raw.latency().unwrap();
    let service = raw.service_time().unwrap();
    // ~10 % of intended calls fall in the stall: corrected p99 and p99.9 show it...
    assert!(corrected.p99_us > 100.0 * MS, "corrected p99 {} µs", corrected.p99_us);
    assert!(corrected.p999_us > 150.0 * MS, "corrected p99.9 {} µs", corrected.p999_us);
    assert!(corrected.max_us >= 190.0 * MS && corrected.max_us < 400.0 * MS, "corrected max {} µs", corrected.max_us);
    // ...while service time sees a single slow call: only its max carries the stall.
    assert!(service.p99_us < 20.0 * MS, "service p99 {} µs", service.p99_us);
    assert!(service.p999_us < 20.0 * MS, "service p99.9 {} µs", service.p999_us);
    assert!(service.max_us >= 190.0 * MS, "service max {} µs", service.max_us);
    assert_eq!(service.count, 2000);
}

/// Fails call k with a transport error when k % 5 == 1 and times it out when k % 7 == 3.
struct Flaky {
    inner: inproc::Client,
    next: AtomicU64,
}

impl Transport for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }

    async fn call(&self, req: PaymentRequest) -> CallResult<PaymentResponse> {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        if k % 5 == 1 {
            return Err(CallError::Call {
                transport: "flaky",
                endpoint: "test".into(),
                message: format!("call {k} dropped"),
            });
        }
        if k % 7 == 3 {
            return Err(CallError::Timeout {
                transport: "flaky",
                endpoint: "test".into(),
                after: Duration::from_millis(1),
            });
        }
        self.inner.call(req).await
    }
}

fn expected(n: u64) -> (u64, u64, u64) {
    let failed = (0..n).filter(|k| k % 5 == 1).count() as u64;
    let timed_out = (0..n).filter(|k| k % 5 != 1 && k % 7 == 3).count() as u64;
    (n - failed - timed_out, failed, timed_out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_accounts_every_call() {
    let client = Arc::new(Flaky { inner: inproc::Client::default(), next: AtomicU64::new(0) });
    let window =
        Window { warmup: Duration::ZERO, duration: Duration::from_millis(300), timeout: Duration::from_secs(1) };
    let raw = generator::run_closed(client.clone(), 4, pool(), window, &mut ()).await.unwrap();
    let acc = &raw.recorder.accounting;
    let issued = client.next.load(Ordering::Relaxed);
    assert!(acc.balances(), "{acc:?}");
    assert_eq!(acc.sent, issued);
    let (ok, failed, timed_out) = expected(issued);
    assert_eq!((acc.ok, acc.failed["call"], acc.timed_out), (ok, failed, timed_out));
    assert_eq!(raw.recorder.latency.len(), ok);
    assert!(acc.failure_examples["call"].contains("dropped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_accounts_every_call_and_excludes_warmup() {
    let client = Arc::new(Flaky { inner: inproc::Client::default(), next: AtomicU64::new(0) });
    let window = Window {
        warmup: Duration::from_millis(100),
        duration: Duration::from_millis(500),
        timeout: Duration::from_secs(1),
    };
    let raw = generator::run_open(client.clone(), 2000.0, 8, pool(), window, &mut ()).await.unwrap();
    let acc = &raw.recorder.accounting;
    assert!(acc.balances(), "{acc:?}");
    // 200 warm-up calls ran but were not recorded; the 1000 intended in the window all were.
    assert_eq!(client.next.load(Ordering::Relaxed), 1200);
    assert_eq!(acc.sent, 1000);
    assert_eq!(acc.ok + acc.failed_total + acc.timed_out, 1000);
    assert!(acc.failed["call"] >= 190 && acc.timed_out >= 100, "{acc:?}");
}

/// Panics inside every seventh call, like a transport with a bug.
struct Panicky {
    inner: inproc::Client,
    next: AtomicU64,
}

impl Transport for Panicky {
    fn name(&self) -> &'static str {
        "panicky"
    }

    async fn call(&self, req: PaymentRequest) -> CallResult<PaymentResponse> {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        if k % 7 == 6 {
            panic!("injected panic in call {k}");
        }
        self.inner.call(req).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_panics_is_counted_as_an_internal_failure_in_both_loops() {
    let window =
        Window { warmup: Duration::ZERO, duration: Duration::from_millis(300), timeout: Duration::from_secs(1) };
    let client = Arc::new(Panicky { inner: inproc::Client::default(), next: AtomicU64::new(0) });
    let closed = generator::run_closed(client.clone(), 4, pool(), window, &mut ()).await.unwrap();
    let issued = client.next.load(Ordering::Relaxed);
    let acc = &closed.recorder.accounting;
    assert!(acc.balances(), "{acc:?}");
    assert_eq!(acc.sent, issued);
    assert_eq!(acc.failed["internal"], (0..issued).filter(|k| k % 7 == 6).count() as u64, "{acc:?}");
    assert!(acc.failure_examples["internal"].contains("injected panic"), "{acc:?}");

    let client = Arc::new(Panicky { inner: inproc::Client::default(), next: AtomicU64::new(0) });
    let open = generator::run_open(client.clone(), 1000.0, 8, pool(), window, &mut ()).await.unwrap();
    let acc = &open.recorder.accounting;
    assert!(acc.balances(), "{acc:?}");
    assert_eq!((acc.scheduled, acc.sent), (Some(300), 300));
    assert_eq!(acc.failed["internal"], (0..300).filter(|k| k % 7 == 6).count() as u64, "{acc:?}");
}

#[test]
fn a_call_whose_outcome_is_lost_fails_the_check() {
    // Dispatches and outcomes are counted apart: three calls handed over, two outcomes back.
    let mut rec = generator::Recorder::default();
    let ok = || -> CallResult<PaymentResponse> { Ok(PaymentResponse::default()) };
    for _ in 0..3 {
        rec.dispatched();
    }
    rec.record(&ok(), Duration::from_micros(10), Duration::from_micros(10));
    rec.record(&ok(), Duration::from_micros(10), Duration::from_micros(10));
    assert!(!rec.accounting.balances(), "{:?}", rec.accounting);
    rec.record(&ok(), Duration::from_micros(10), Duration::from_micros(10));
    assert!(rec.accounting.balances(), "{:?}", rec.accounting);
}

/// Answers every call after `delay`, ignoring any deadline of its own.
struct Slow {
    inner: inproc::Client,
    delay: Duration,
}

impl Transport for Slow {
    fn name(&self) -> &'static str {
        "slow"
    }

    async fn call(&self, req: PaymentRequest) -> CallResult<PaymentResponse> {
        tokio::time::sleep(self.delay).await;
        self.inner.call(req).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_loop_call_is_bounded_by_its_intended_time_plus_the_timeout() {
    // Every reply takes 150 ms against a 100 ms timeout: counted from the intended send, no call
    // can be ok, even one that got its slot at once and whose transport ignores deadlines.
    let window =
        Window { warmup: Duration::ZERO, duration: Duration::from_millis(300), timeout: Duration::from_millis(100) };
    let client = Arc::new(Slow { inner: inproc::Client::default(), delay: Duration::from_millis(150) });
    let raw = generator::run_open(client, 50.0, 4, pool(), window, &mut ()).await.unwrap();
    let acc = &raw.recorder.accounting;
    assert!(acc.balances(), "{acc:?}");
    assert_eq!((acc.sent, acc.ok, acc.timed_out), (15, 0, 15), "{acc:?}");
}

/// The open loop paces from inside the client's event loop: its threads are switched in about once
/// per call (a worker that sleeps between calls wakes once for each), not twice, as they were when
/// a dispatcher thread handed every call to a runtime worker. Counts are exact, not timed: the
/// known answer is one wake per call at a rate the worker can idle between (2000/s, 500 µs apart).
#[test]
fn the_open_loop_wakes_its_client_about_once_per_call() {
    const PREFIX: &str = "kat-pacer";
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).thread_name(PREFIX).enable_all().build().unwrap();
    let window = Window {
        warmup: Duration::from_millis(50),
        duration: Duration::from_millis(600),
        timeout: Duration::from_secs(2),
    };
    let client = Arc::new(inproc::Client::default());
    // Start the worker first, so that its creation is not in the count.
    rt.block_on(async { tokio::spawn(async {}).await.unwrap() });
    let before = paybench::measure::cpu::own_threads_context_switches(PREFIX);
    let raw = rt.block_on(generator::run_open(client, 2000.0, 64, pool(), window, &mut ())).unwrap();
    let switches = paybench::measure::cpu::own_threads_context_switches(PREFIX) - before;
    let calls = (raw.recorder.accounting.sent + 100) as f64; // + the 50 ms warm-up's 100 calls
    let per_call = switches as f64 / calls;
    eprintln!("{switches} context switches of the client's threads over {calls} calls: {per_call:.2} per call");
    assert_eq!(raw.recorder.accounting.ok, 1200, "every call answered");
    // At least half a wake per call: the counter reads real switches (the worker idles between calls).
    assert!(per_call >= 0.5, "{per_call:.2} switches per call: the counter cannot be reading the client's threads");
    assert!(per_call <= 1.5, "{per_call:.2} switches per call: a thread hop per call costs two");
}
