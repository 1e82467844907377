//! `sim`: the calibrated arm, a server whose true capacity and latency are known in advance.
//!
//! `workers` threads each take one call at a time and answer it exactly `service_us` microseconds
//! of wall time after its service started, busy-spinning (the business function runs inside that
//! time). A call's service starts when it was queued, or when the worker's previous call ended if
//! it had to wait: the worker's own overhead (waking, taking the call, answering) falls inside the
//! service time. Calls queue in front of the workers in arrival order. So, as long as every worker
//! has a core of its own:
//!
//! - its **capacity** is `workers / service_us` calls per microsecond, exactly: below it a
//!   constant-rate load sees no queue at all, above it the queue grows without bound;
//! - its **latency** at low load is `service_us` plus whatever the load generator and the hand-off
//!   to a worker thread add (the generator's floor).
//!
//! A measurement method that does not recover these numbers is wrong before any network is
//! involved; the known-answer tests (`harness/tests/known_answers.rs`) and every run that lists
//! `sim` check it. `stall_ms` (with `stall_period_ms`) freezes every worker for `stall_ms` at the
//! start of each period of wall time counted from the server's start, which a coordinated-omission
//! corrected tail must show at its true size. `slow_every` (with `slow_factor`) makes every N-th
//! call of a worker take that factor times the service time: with `slow_every = 20` and
//! `slow_factor = 10`, 5 % of calls take 10x the median, so the p99 must read 10x the service time.
//!
//! Spinning on wall time, not sleeping, because a sleep is as long as the timer's slack and
//! occupies no core, so its "capacity" would be unbounded. Workers are tokio blocking threads of
//! the server runtime, so they carry its thread names (CPU attribution) and its CPU pinning.
//! There is no codec and no socket: `sim` measures the generator, not a transport.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::payment;
use crate::pb::{PaymentRequest, PaymentResponse};
use crate::transport::arm::{family_options, Arm, OptionKind, OptionSpec};
use crate::transport::{AnyClient, ClientConfig, ServerConfig, ServerHandle, Transport};
use crate::{CallError, CallResult, Error, Result};

family_options! {
    /// `sim`'s options: its workers, its service time, an optional periodic stall and an optional
    /// slow call every so many.
    pub struct Options {
        workers: usize = "1", OptionKind::Count { min: 1, max: 64 }, token "w", help "worker threads; capacity is workers / service time while each has a core (1 on a 2-core machine, the other core runs the generator)";
        service_us: u64 = "200", OptionKind::Count { min: 1, max: 1_000_000 }, token "s", help "wall time each call holds its worker, microseconds; 200 µs gives 5,000 calls/s per worker, within every sweep's range";
        stall_ms: u64 = "0", OptionKind::Count { min: 0, max: 10_000 }, token "stall", help "every worker freezes this long at the start of each stall period (0: never)";
        stall_period_ms: u64 = "1000", OptionKind::Count { min: 1, max: 600_000 }, token "every", help "length of the stall period, milliseconds, counted from the server's start";
        slow_every: u64 = "0", OptionKind::Count { min: 0, max: 1_000_000 }, token "slow", help "every this-many-th call a worker serves holds it `slow_factor` times the service time (0: never): a tail of known size and share";
        slow_factor: u32 = "10", OptionKind::Count { min: 1, max: 1_000 }, token "x", help "how many service times a slow call takes";
    }
}

/// The `sim` family's option specs, from [`Options`].
pub const OPTIONS: &[OptionSpec] = Options::SPECS;

/// How long an idle worker waits for a call before it looks at the stop flag again.
const WORKER_POLL: Duration = Duration::from_millis(50);

/// A `sim` server's behaviour, from the arm's options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Worker threads.
    pub workers: usize,
    /// Wall time per call.
    pub service: Duration,
    /// Freeze at the start of each period (zero: none).
    pub stall: Duration,
    /// Stall period.
    pub stall_period: Duration,
    /// Every this-many-th call of a worker is slow (0: none).
    pub slow_every: u64,
    /// A slow call takes this many service times.
    pub slow_factor: u32,
}

impl Config {
    /// The options of a `sim` arm.
    pub fn from_arm(arm: &Arm) -> Result<Self> {
        let o = Options::of(arm)?;
        Ok(Self {
            workers: o.workers,
            service: Duration::from_micros(o.service_us),
            stall: Duration::from_millis(o.stall_ms),
            stall_period: Duration::from_millis(o.stall_period_ms),
            slow_every: o.slow_every,
            slow_factor: o.slow_factor,
        })
    }

    /// The true capacity, calls per second: `workers / mean service`.
    pub fn capacity_per_s(&self) -> f64 {
        self.workers as f64 / self.mean_service().as_secs_f64()
    }

    /// The service time of a worker's `n`-th call (from 1): slow on every `slow_every`-th.
    pub fn service_of(&self, n: u64) -> Duration {
        if self.slow_every > 0 && n.is_multiple_of(self.slow_every) {
            self.service * self.slow_factor
        } else {
            self.service
        }
    }

    /// The mean service time over a worker's calls.
    pub fn mean_service(&self) -> Duration {
        match self.slow_every {
            0 => self.service,
            every => self.service.mul_f64(1.0 + f64::from(self.slow_factor - 1) / every as f64),
        }
    }
}

struct Job {
    req: PaymentRequest,
    /// When the call was queued: a call that waited starts its service the moment the worker's
    /// previous call ended, so the worker's own overhead (taking it off the queue, answering)
    /// falls inside the service time instead of adding to it, and capacity stays exact.
    queued: Instant,
    reply: tokio::sync::oneshot::Sender<CallResult<PaymentResponse>>,
}

/// Running servers by endpoint (`sim://N`): how a client finds its server's queue.
fn servers() -> &'static Mutex<HashMap<String, mpsc::Sender<Job>>> {
    static SERVERS: std::sync::OnceLock<Mutex<HashMap<String, mpsc::Sender<Job>>>> = std::sync::OnceLock::new();
    SERVERS.get_or_init(Default::default)
}

/// A client of a `sim` server in this process.
#[derive(Debug, Clone)]
pub struct Client {
    jobs: mpsc::Sender<Job>,
    endpoint: String,
}

impl Client {
    /// Connects to the running `sim` server at `endpoint`.
    pub fn connect(endpoint: &str) -> CallResult<Self> {
        let jobs = servers().lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(endpoint).cloned();
        match jobs {
            Some(jobs) => Ok(Self { jobs, endpoint: endpoint.to_owned() }),
            None => Err(CallError::Connect {
                transport: "sim",
                endpoint: endpoint.to_owned(),
                source: "no sim server with this endpoint runs in this process".into(),
            }),
        }
    }
}

impl Transport for Client {
    fn name(&self) -> &str {
        "sim"
    }

    async fn call(&self, req: PaymentRequest) -> CallResult<PaymentResponse> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopped =
            || CallError::Call { transport: "sim", endpoint: self.endpoint.clone(), message: "server stopped".into() };
        self.jobs.send(Job { req, reply, queued: Instant::now() }).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Starts `config.workers` workers on the current runtime's blocking pool; the endpoint is
/// `sim://N`, unique in the process.
pub fn serve(config: Config) -> Result<ServerHandle> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let endpoint = format!("sim://{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    let stop = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| Error::Internal("sim: serve must run inside a tokio runtime".into()))?;
    for _ in 0..config.workers {
        let (queue, stop) = (queue.clone(), stop.clone());
        runtime.spawn_blocking(move || work(&queue, &stop, config, epoch));
    }
    servers().lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(endpoint.clone(), jobs);
    let (shutdown, stopped) = tokio::sync::oneshot::channel();
    let name = endpoint.clone();
    let task = runtime.spawn(async move {
        let _ = stopped.await;
        stop.store(true, Ordering::Release);
        servers().lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&name);
    });
    Ok(ServerHandle::new(endpoint, shutdown, task))
}

/// One worker: takes calls in arrival order until told to stop; calls still queued then are
/// answered "server stopped" when the queue is dropped.
fn work(queue: &Mutex<mpsc::Receiver<Job>>, stop: &AtomicBool, config: Config, epoch: Instant) {
    let mut last_done = epoch;
    let mut served: u64 = 0;
    while !stop.load(Ordering::Acquire) {
        let job = match queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv_timeout(WORKER_POLL) {
            Ok(job) => job,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        if stop.load(Ordering::Acquire) {
            return; // dropping the job answers its caller "server stopped"
        }
        let stall_end = wait_out_stall(config, epoch);
        served += 1;
        let done_at = job.queued.max(last_done).max(stall_end) + config.service_of(served);
        last_done = done_at;
        let outcome = payment::process(&job.req).map_err(CallError::Domain);
        while Instant::now() < done_at {
            std::hint::spin_loop();
        }
        let _ = job.reply.send(outcome);
    }
}

/// Sleeps out the rest of the current stall, if the server is inside one, and returns when the
/// current period's stall ends (`epoch` without stalls): no service starts before it.
fn wait_out_stall(config: Config, epoch: Instant) -> Instant {
    if config.stall.is_zero() {
        return epoch;
    }
    let period_ns = config.stall_period.as_nanos().max(1);
    let phase = Duration::from_nanos((epoch.elapsed().as_nanos() % period_ns) as u64);
    let stall_end = Instant::now() - phase + config.stall;
    if phase < config.stall {
        std::thread::sleep(config.stall - phase);
    }
    stall_end
}

/// Registry entry: starts the workers.
pub(crate) fn serve_arm(arm: &Arm, _config: &ServerConfig) -> BoxFuture<'static, Result<ServerHandle>> {
    let config = Config::from_arm(arm);
    Box::pin(async move { serve(config?) })
}

/// Registry entry: a client of the server at `endpoint`.
pub(crate) fn connect_arm(arm: &Arm, endpoint: &str, _config: &ClientConfig) -> BoxFuture<'static, Result<AnyClient>> {
    let client = Client::connect(endpoint).map(|c| AnyClient::new(arm, c)).map_err(Error::from);
    Box::pin(async move { client })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_every_call_with_the_business_function_and_stops() {
        let arm = Arm::parse("sim-s100").unwrap();
        let config = Config::from_arm(&arm).unwrap();
        assert_eq!(config.capacity_per_s(), 10_000.0);
        let server = serve(config).unwrap();
        let client = Client::connect(server.endpoint()).unwrap();
        let req = crate::payload::generate(crate::payload::Profile::Small, 1, 0);
        let started = Instant::now();
        let resp = client.call(req.clone()).await.unwrap();
        assert!(started.elapsed() >= Duration::from_micros(100), "a call holds its worker for the service time");
        assert_eq!(resp.status, payment::process(&req).unwrap().status);
        let endpoint = server.endpoint().to_owned();
        server.shutdown().await;
        let err = Client::connect(&endpoint).unwrap_err();
        assert!(err.to_string().contains(&endpoint), "{err}");
        // A client that outlives its server gets an error, not a hang.
        let outcome = tokio::time::timeout(Duration::from_secs(2), client.call(req)).await;
        assert!(matches!(outcome, Ok(Err(CallError::Call { .. }))), "{outcome:?}");
    }

    #[test]
    fn every_nth_call_is_slow_and_the_capacity_counts_it() {
        let arm = Arm::parse("sim-s100-slow20").unwrap();
        let config = Config::from_arm(&arm).unwrap();
        let slow: Vec<u64> = (1..=60).filter(|&n| config.service_of(n) > config.service).collect();
        assert_eq!(slow, [20, 40, 60]);
        assert_eq!(config.service_of(20), Duration::from_micros(1000));
        // Mean service 100 µs × (1 + 9/20) = 145 µs: 6897 calls/s on one worker.
        assert!((config.capacity_per_s() - 1e6 / 145.0).abs() < 0.5, "{}", config.capacity_per_s());
        assert!(Arm::parse("sim-slow20-x0").is_err(), "a factor below 1 is refused");
    }

    #[test]
    fn stall_covers_the_start_of_each_period() {
        let config = Config {
            workers: 1,
            service: Duration::from_micros(1),
            stall: Duration::from_millis(30),
            stall_period: Duration::from_millis(1000),
            slow_every: 0,
            slow_factor: 10,
        };
        let started = Instant::now();
        wait_out_stall(config, started);
        assert!(started.elapsed() >= Duration::from_millis(29), "{:?}", started.elapsed());
        let late_epoch = Instant::now() - Duration::from_millis(500);
        let started = Instant::now();
        wait_out_stall(config, late_epoch);
        assert!(started.elapsed() < Duration::from_millis(20), "mid-period: no stall");
    }
}
