//! Plumbing shared by the criterion benches: where servers run, which arms exist, and the
//! correctness check every bench makes before it starts timing.
//!
//! ## Thread placement (2-core machine)
//! Servers and workers run on their own tokio runtime ([`ServerRuntime`], 1 worker thread named
//! `paybench-server`); the timing loop runs on a separate current-thread runtime
//! ([`client_runtime`]) on the bench's main thread. So client and server each have one thread and,
//! on a 2-core machine, one core each; neither steals the timing thread's CPU. Brokers are
//! separate processes that share the same two cores (stated in the README next to their numbers).

use std::time::Duration;

use paybench::payload::{generate, Profile, DEFAULT_SEED};
use paybench::payment::fee_minor;
use paybench::pb::PaymentRequest;
use paybench::transport::{self, AnyClient, ClientConfig, ServerConfig, ServerHandle, Transport, TransportKind};

/// A dedicated runtime for servers and workers, apart from the runtime that does the timing.
pub struct ServerRuntime {
    runtime: tokio::runtime::Runtime,
}

impl ServerRuntime {
    /// One worker thread: the server gets one core, the timing client the other.
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("paybench-server")
            .enable_all()
            .build()
            .expect("cannot build the server runtime");
        Self { runtime }
    }

    /// Starts `kind`'s server (or workers) on this runtime.
    pub fn serve(&self, kind: TransportKind, broker_url: Option<String>) -> ServerHandle {
        let config = ServerConfig { broker_url, ..ServerConfig::default() };
        self.runtime
            .block_on(async { transport::serve(kind, &config).await })
            .unwrap_or_else(|e| panic!("cannot start the {kind} server: {e}"))
    }

    /// Drops the arm's client, then stops its server on this runtime (bounded by
    /// `transport::SHUTDOWN_GRACE`).
    pub fn stop(&self, arm: Arm) {
        drop(arm.client);
        self.runtime.block_on(arm.server.shutdown());
    }
}

impl Default for ServerRuntime {
    fn default() -> Self {
        Self::new()
    }
}

/// The single-threaded runtime the timing loop runs on.
pub fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("cannot build the client runtime")
}

/// Every arm a bench should run, with the endpoint its client connects to. Broker arms whose broker
/// is unreachable are left out after `paybench::brokers::bench_endpoint` has printed one line
/// saying how to enable them: a skip is never silent.
pub fn arms() -> Vec<(TransportKind, Option<String>)> {
    let filter = std::env::var("PAYBENCH_TRANSPORTS").ok();
    TransportKind::ALL
        .into_iter()
        .filter(|kind| filter.as_deref().is_none_or(|list| list.split(',').any(|name| name.trim() == kind.name())))
        .filter_map(|kind| {
            if kind.is_broker() {
                paybench::brokers::bench_endpoint(kind).map(|url| (kind, Some(url)))
            } else {
                Some((kind, None))
            }
        })
        .collect()
}

/// A started arm: its server and a connected client.
pub struct Arm {
    /// Which arm.
    pub kind: TransportKind,
    /// The running server or workers.
    pub server: ServerHandle,
    /// One client instance, shared by all concurrent calls.
    pub client: AnyClient,
}

/// Starts `kind`'s server on `servers`, connects a client on `client_rt`, and checks one call for
/// correctness before any timing starts.
pub fn start_arm(
    servers: &ServerRuntime,
    client_rt: &tokio::runtime::Runtime,
    kind: TransportKind,
    broker_url: Option<String>,
) -> Arm {
    let server = servers.serve(kind, broker_url);
    let endpoint = server.endpoint().to_owned();
    let client = client_rt
        .block_on(transport::connect(kind, &endpoint, &ClientConfig::default()))
        .unwrap_or_else(|e| panic!("cannot connect the {kind} client: {e}"));
    for profile in Profile::ALL {
        let req = request(profile);
        let resp = client_rt
            .block_on(client.call(req.clone()))
            .unwrap_or_else(|e| panic!("{kind}/{profile}: first call failed: {e}"));
        check(&req, &resp.payment_id, resp.fee_minor);
    }
    Arm { kind, server, client }
}

/// The request every bench sends for `profile` (payload 0 of the default seed).
pub fn request(profile: Profile) -> PaymentRequest {
    generate(profile, DEFAULT_SEED, 0)
}

/// Panics unless a response matches its request (payment id, and the fee recomputed here).
pub fn check(req: &PaymentRequest, payment_id: &str, fee: i64) {
    assert_eq!(payment_id, req.payment_id, "reply for the wrong payment");
    assert_eq!(Some(fee), fee_minor(req.amount_minor, &req.currency), "fee does not match the recomputed fee");
}

/// Criterion settings shared by the latency and throughput benches: shorter than criterion's
/// defaults so the whole matrix fits in minutes, long enough for stable medians on loopback.
pub fn criterion_config() -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}
