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

use paybench::brokers;
use paybench::payload::{generate, Profile, DEFAULT_SEED};
use paybench::payment::fee_minor;
use paybench::pb::PaymentRequest;
use paybench::transport::registry::Resolve;
use paybench::transport::{self, AnyClient, ArmRequest, ClientConfig, ServerConfig, ServerHandle, Settings, Transport};

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

    /// Starts `arm`'s server (or workers) on this runtime.
    pub fn serve(&self, arm: &transport::Arm, broker_url: Option<String>) -> ServerHandle {
        let config = ServerConfig { broker_url, ..ServerConfig::default() };
        self.runtime
            .block_on(async { transport::serve(arm, &config).await })
            .unwrap_or_else(|e| panic!("cannot start the {arm} server: {e}"))
    }

    /// Drops the arm's client, then stops its server on this runtime (bounded by
    /// `transport::SHUTDOWN_GRACE`).
    pub fn stop(&self, arm: Started) {
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

/// Every arm a bench should run (the registry's standard arms, `PAYBENCH_TRANSPORTS` to pick
/// some, `PAYBENCH_<FAMILY>_<OPTION>` to tune them), with the broker endpoint a broker arm's
/// workers and client use (`AMQP_URL`, `KAFKA_BROKERS`, `NATS_URL`, else the suite's own). Broker
/// arms whose broker is unreachable are left out after one printed line saying how to enable
/// them: a skip is never silent.
pub fn arms() -> Vec<(transport::Arm, Option<String>)> {
    let filter = std::env::var("PAYBENCH_TRANSPORTS").ok();
    let settings = Settings::default()
        .with_env_overrides(std::env::vars())
        .unwrap_or_else(|e| panic!("bad arm settings in the environment: {e}"));
    let endpoints = brokers::endpoints(|var| std::env::var(var).ok());
    transport::registry::standard_arms()
        .into_iter()
        .filter(|arm| filter.as_deref().is_none_or(|list| list.split(',').any(|name| name.trim() == arm.name())))
        .map(|arm| {
            ArmRequest::Name(arm.name().to_owned())
                .resolve(&settings, "environment")
                .unwrap_or_else(|e| panic!("bad arm settings in the environment: {e}"))
        })
        .filter_map(|arm| {
            let Some(name) = arm.broker() else { return Some((arm, None)) };
            let broker = brokers::get(name).expect("the registry names known brokers");
            let endpoint = endpoints[name].clone();
            if broker.tcp_reachable(&endpoint, brokers::PROBE_TIMEOUT) {
                return Some((arm, Some(endpoint)));
            }
            eprintln!(
                "paybench: skipping {arm}: no {name} broker at {}; run harness/scripts/bench.sh (starts the local \
                 brokers), `cargo run -p paybench -- brokers up`, or set {} to a reachable broker",
                paybench::endpoint::redact(&endpoint),
                broker.env_var,
            );
            None
        })
        .collect()
}

/// A started arm: its server and a connected client.
pub struct Started {
    /// Which arm.
    pub arm: transport::Arm,
    /// The running server or workers.
    pub server: ServerHandle,
    /// One client instance, shared by all concurrent calls.
    pub client: AnyClient,
}

/// Starts `arm`'s server on `servers`, connects a client on `client_rt`, and checks one call of
/// every profile (shapes included, though the timed benches iterate the sizes) for correctness
/// before any timing starts.
pub fn start_arm(
    servers: &ServerRuntime,
    client_rt: &tokio::runtime::Runtime,
    arm: transport::Arm,
    broker_url: Option<String>,
) -> Started {
    let server = servers.serve(&arm, broker_url.clone());
    let endpoint = broker_url.unwrap_or_else(|| server.endpoint().to_owned());
    let client = client_rt
        .block_on(transport::connect(&arm, &endpoint, &ClientConfig::default()))
        .unwrap_or_else(|e| panic!("cannot connect the {arm} client: {e}"));
    for profile in Profile::ALL {
        let req = request(profile);
        let resp = client_rt
            .block_on(client.call(req.clone()))
            .unwrap_or_else(|e| panic!("{arm}/{profile}: first call failed: {e}"));
        check(&req, &resp.payment_id, resp.fee_minor);
    }
    Started { arm, server, client }
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
