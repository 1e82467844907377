//! Runs a scenario arm by arm: starts the server (or uses `--target`), connects one client,
//! proves the arm answers with one preflight call, then measures every load point and the sweep,
//! attaching wire bytes and CPU per call to each window.
//!
//! Server and client run on separate tokio runtimes (threads `pb-server*` and `pb-client*`) so
//! their CPU can be told apart; the orchestration runs on the calling thread. An arm that cannot
//! start is recorded as [`ArmStatus::Unavailable`] with its error, and the run goes on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;

use crate::endpoint::redact as redact_url;
use crate::error::error_chain;
use crate::load::generator::{self, RawMeasurement, Window, WindowProbe};
use crate::load::replay::{self, ClientKind};
use crate::load::scenario::{LoadSpec, Scenario};
use crate::measure::busy::{BusyShares, BusySnapshot, RoleCores};
use crate::measure::cpu::{CpuSnapshot, CpuSources};
use crate::measure::wire::{PortSnapshot, WireProbe};
use crate::payload::{self, Profile};
use crate::payment::PaymentService;
use crate::pb::PaymentRequest;
use crate::results::{
    ArmResult, ArmStatus, BrokerMeta, CpuPerCall, Measurement, PointResult, PointSummary, Spread, SweepResult, SweepRun,
};
use crate::transport::{self, AnyClient, Arm, ClientConfig, ServerConfig, Transport};
use crate::CallError;
use crate::{brokers, Error, Result};

/// Distinct prebuilt requests each arm cycles through (built before timing starts).
const REQUEST_POOL: u64 = 64;
/// A window whose last completion comes more than this fraction of the window after its last
/// send is `backlogged`: calls arrived faster than they were served.
pub const BACKLOG_SHARE: f64 = 0.10;

/// Progress events for the terminal (the CLI draws them with indicatif).
pub trait Observer {
    /// A window of about `expected` wall time starts.
    fn window_started(&self, label: &str, expected: Duration);
    /// It ended with this one-line result.
    fn window_finished(&self, label: &str, line: &str);
    /// An arm could not start: the error's kind and message (with its causes).
    fn arm_unavailable(&self, label: &str, kind: &str, message: &str);
}

/// How to reach servers and what to run them on (settings, not scenario).
#[derive(Debug, Clone)]
pub struct RunContext {
    /// Runtime that load-generator tasks and the client run on.
    pub client: Handle,
    /// The CPUs each role may use (pinned sets, or every core), for busy shares.
    pub cores: RoleCores,
    /// Runtime for in-process servers; `None` with `target`.
    pub server: Option<Handle>,
    /// An external server to drive instead of starting one.
    pub target: Option<String>,
    /// CPU of an external server process.
    pub server_pid: Option<u32>,
    /// Each broker's endpoint, by broker name (`rabbitmq`, `kafka`, `nats`).
    pub brokers: brokers::Endpoints,
    /// Which client drives the arms: the transport's own, or the replay client.
    pub client_kind: ClientKind,
    /// Prefix of the broker arms' queue, topic, subject and group names (empty: none).
    pub namespace: String,
}

/// Everything needed to measure one arm's windows.
struct Rig {
    client: Arc<AnyClient>,
    pool: Arc<Vec<PaymentRequest>>,
    wire: Option<WireProbe>,
    cpu: CpuSources,
    cores: RoleCores,
}

/// Runs one scenario arm (transport × profile) end to end: every repetition back to back, each on
/// a fresh server and client. `paybench run` interleaves arms instead (see [`run_repetition`]).
pub fn run_arm(ctx: &RunContext, scenario: &Scenario, arm: &Arm, profile: Profile, obs: &dyn Observer) -> ArmResult {
    let mut result = run_repetition(ctx, scenario, arm, profile, 0, obs);
    for rep in 1..scenario.repetitions {
        if result.status != ArmStatus::Ran {
            break;
        }
        let next = run_repetition(ctx, scenario, arm, profile, rep, obs);
        merge_repetition(&mut result, next);
    }
    result
}

/// The record of `arm` on `profile` in `scenario` (plain data: name, family, broker, codec,
/// options), with nothing measured yet.
pub fn arm_result(scenario: &str, arm: &Arm, profile: Profile, client: ClientKind) -> ArmResult {
    ArmResult {
        scenario: scenario.to_owned(),
        transport: arm.name().to_owned(),
        family: arm.family().name.to_owned(),
        broker_kind: arm.broker().map(str::to_owned),
        codec: arm.codec().to_string(),
        options: arm.options_owned(),
        profile,
        endpoint: String::new(),
        broker: None,
        status: ArmStatus::Ran,
        points: Vec::new(),
        sweep: None,
        client: client.label().to_owned(),
    }
}

/// Runs repetition `repetition` of one arm: starts a fresh server (or worker pool) and a fresh
/// client, measures one window per load point and, while `repetition` is below the sweep's
/// repetitions, one capacity search, then stops both. Merge repetitions with [`merge_repetition`].
pub fn run_repetition(
    ctx: &RunContext,
    scenario: &Scenario,
    arm: &Arm,
    profile: Profile,
    repetition: u32,
    obs: &dyn Observer,
) -> ArmResult {
    let label = format!("{}/{arm}/{profile}", scenario.name);
    let mut result = arm_result(&scenario.name, arm, profile, ctx.client_kind);
    let started = endpoint_for(ctx, arm).and_then(|endpoint| {
        result.endpoint = redact_url(&endpoint);
        start_arm(ctx, scenario, arm, profile, &endpoint)
    });
    let (server, rig, endpoint) = match started {
        Ok(parts) => parts,
        Err(e) => {
            let message = format!("repetition {}: {}", repetition + 1, error_chain(&e));
            obs.arm_unavailable(&label, e.kind(), &message);
            result.status = ArmStatus::Unavailable { kind: e.kind().to_owned(), message };
            return result;
        }
    };
    result.endpoint = redact_url(&endpoint);
    result.broker = broker_meta(ctx, arm, &endpoint);
    for load in &scenario.load {
        result.points.push(run_point(ctx, scenario, &rig, *load, &label, repetition, obs));
    }
    if let Some(spec) = scenario.sweep.filter(|s| repetition < s.repetitions.unwrap_or(scenario.repetitions)) {
        result.sweep = Some(run_sweep(ctx, scenario, &rig, spec, &label, repetition, obs));
    }
    // The client goes first, so that a broker's worker sees its peer leave before it stops.
    drop(rig);
    if let (Some(server), Some(rt)) = (server, &ctx.server) {
        rt.block_on(server.shutdown());
    }
    result
}

/// Adds `next`'s repetition to `into` and recomputes the summaries. An arm that could not start
/// in a later repetition keeps the repetitions it ran and takes the later status, so the run
/// still reports (and `--strict` still fails on) it.
pub fn merge_repetition(into: &mut ArmResult, next: ArmResult) {
    if into.status != ArmStatus::Ran && into.points.is_empty() && into.sweep.is_none() {
        *into = next;
        return;
    }
    if next.status != ArmStatus::Ran {
        into.status = next.status;
    }
    for (point, more) in into.points.iter_mut().zip(next.points) {
        point.repetitions.extend(more.repetitions);
        point.summary = summarize(&point.repetitions);
    }
    match (&mut into.sweep, next.sweep) {
        (Some(sweep), Some(more)) => {
            sweep.repetitions.extend(more.repetitions);
            sweep.max_sustainable_rate_per_s =
                Spread::of(sweep.repetitions.iter().filter_map(|r| r.max_sustainable_rate_per_s));
        }
        (None, Some(more)) => into.sweep = Some(more),
        _ => {}
    }
}

/// Where the arm's client connects: `--target`, the arm's broker, or a fresh local port.
fn endpoint_for(ctx: &RunContext, arm: &Arm) -> Result<String> {
    match (&ctx.target, arm.broker()) {
        (Some(target), _) => Ok(target.clone()),
        (None, Some(broker)) => ctx.brokers.get(broker).cloned().ok_or_else(|| {
            Error::Config(format!("{arm}: no endpoint for broker {broker}; give --broker {broker}=ENDPOINT"))
        }),
        (None, None) => Ok("127.0.0.1:0".to_owned()),
    }
}

type Started = (Option<transport::ServerHandle>, Rig, String);

fn start_arm(ctx: &RunContext, scenario: &Scenario, arm: &Arm, profile: Profile, endpoint: &str) -> Result<Started> {
    let service = PaymentService::with_service_time(Duration::from_micros(scenario.service_time_us))
        .with_busy_time(Duration::from_micros(scenario.service_busy_us));
    let (server, endpoint) = match (&ctx.server, &ctx.target) {
        (Some(rt), None) => {
            let config = ServerConfig {
                service,
                broker_url: arm.broker().map(|_| endpoint.to_owned()),
                namespace: ctx.namespace.clone(),
                ..ServerConfig::default()
            };
            // On a worker of the (pinned) server runtime, not the calling thread: threads a
            // library starts while serving (lapin's, librdkafka's) inherit the worker's CPUs.
            let serve_arm = arm.clone();
            let handle = rt
                .block_on(rt.spawn(async move { transport::serve(&serve_arm, &config).await }))
                .map_err(|e| Error::Internal(format!("{arm}: serve task: {e}")))??;
            let endpoint = if arm.broker().is_some() { endpoint.to_owned() } else { handle.endpoint().to_owned() };
            (Some(handle), endpoint)
        }
        _ => (None, endpoint.to_owned()),
    };
    let pids = std::iter::once(std::process::id()).chain(ctx.server_pid).collect();
    let wire = match port_of(arm, &endpoint)? {
        Some(port) => Some(WireProbe::before_client(port, pids)?),
        None => None,
    };
    let timeout = Duration::from_millis(scenario.timeout_ms);
    let config = ClientConfig {
        timeout,
        max_connections: Some(scenario.max_in_flight()),
        namespace: ctx.namespace.clone(),
        ..ClientConfig::default()
    };
    let probe_req = payload::generate(profile, scenario.seed, u64::MAX);
    let pool: Vec<_> = (0..REQUEST_POOL).map(|i| payload::generate(profile, scenario.seed, i)).collect();
    let (connect_arm, connect_endpoint, kind) = (arm.clone(), endpoint.clone(), ctx.client_kind);
    let requests: Vec<_> = match kind {
        // Replay encodes its bytes now, for the pool and the preflight request.
        ClientKind::Replay => pool.iter().chain([&probe_req]).cloned().collect(),
        ClientKind::FullStack => Vec::new(),
    };
    let connect = async move {
        let (arm, endpoint) = (&connect_arm, &connect_endpoint);
        match kind {
            ClientKind::FullStack => transport::connect(arm, endpoint, &config).await,
            ClientKind::Replay => Ok(AnyClient::new(arm, replay::connect(arm, endpoint, &requests, &config).await?)),
        }
    };
    let client = connect_and_prove(&ctx.client, arm, &endpoint, timeout, connect, probe_req)?;
    let broker_pid = broker_pid(arm);
    let cpu = CpuSources {
        server_in_process: ctx.server.is_some() && ctx.target.is_none(),
        server_pid: ctx.server_pid,
        broker_pid,
        suite_pids: brokers::BROKERS
            .iter()
            .filter_map(|b| b.local_process())
            .filter(|&pid| Some(pid) != broker_pid)
            .collect(),
    };
    let arm = Rig { client: Arc::new(client), pool: Arc::new(pool), wire, cpu, cores: ctx.cores };
    Ok((server, arm, endpoint))
}

/// Connects a client with `connect`, on a worker of the (pinned) client runtime `rt`, so that a
/// client library's own threads inherit the client's CPUs; bounded by `within`. Then proves the
/// arm answers with one call of `first`: reqwest connects lazily, so only a call shows an
/// unreachable or broken arm, and it fails fast here instead of in every window.
pub fn connect_and_prove(
    rt: &Handle,
    arm: &Arm,
    endpoint: &str,
    within: Duration,
    connect: impl std::future::Future<Output = Result<AnyClient>> + Send + 'static,
    first: PaymentRequest,
) -> Result<AnyClient> {
    let redacted = redact_url(endpoint);
    let client = rt
        .block_on(rt.spawn(async move {
            match tokio::time::timeout(within, connect).await {
                Ok(client) => client,
                Err(_) => Err(CallError::Timeout { transport: "connect", endpoint: redacted, after: within }.into()),
            }
        }))
        .map_err(|e| Error::Internal(format!("{arm}: connect task: {e}")))??;
    rt.block_on(client.call(first))?;
    Ok(client)
}

/// The port whose sockets carry the arm's traffic: the server's or the broker's; `None` for an
/// arm without a network (`inproc`, `sim://N`: a direct arm's endpoint is `host:port` or nothing).
fn port_of(arm: &Arm, endpoint: &str) -> Result<Option<u16>> {
    match arm.broker() {
        Some(name) => Ok(Some(crate::endpoint::port(endpoint, Some(brokers::get(name)?.default_port))?)),
        None if endpoint.contains(':') && !endpoint.contains("://") => Ok(Some(crate::endpoint::port(endpoint, None)?)),
        None => Ok(None),
    }
}

/// Names the broker that served a broker arm (implementation and version as the broker reports
/// them) next to the arm's resolved options, which decide its latency.
fn broker_meta(ctx: &RunContext, arm: &Arm, endpoint: &str) -> Option<BrokerMeta> {
    let broker = brokers::get(arm.broker()?).ok()?;
    let (implementation, version) = match ctx.client.block_on(broker.info(endpoint)) {
        Ok(info) => (info.implementation, info.version),
        Err(e) => {
            tracing::warn!("{arm}: cannot name the broker at {}: {e}", redact_url(endpoint));
            ("unknown".to_owned(), "unknown".to_owned())
        }
    };
    let mut settings = arm.options_owned();
    match transport::registry::client_settings(arm, &ctx.namespace) {
        Ok(client) => settings.extend(client.into_iter().map(|(k, v)| (k.to_owned(), v))),
        Err(e) => tracing::warn!("{arm}: cannot resolve its client settings: {e}"),
    }
    Some(BrokerMeta {
        transport: arm.name().to_owned(),
        implementation,
        version,
        endpoint: redact_url(endpoint),
        settings,
    })
}

/// The broker's pid for CPU per call: the suite's own local broker process, and only one whose
/// `comm` is the broker's (RabbitMQ's pid file names its shell launcher; the broker is the
/// `beam.smp` child). A remote broker has no local pid and its CPU is reported as `null`.
fn broker_pid(arm: &Arm) -> Option<u32> {
    brokers::get(arm.broker()?).ok()?.local_process()
}

/// Wire and CPU snapshots at the window's start and end, busy times at its start and last send.
struct ArmProbe<'a> {
    arm: &'a Rig,
    wire: [Option<PortSnapshot>; 2],
    cpu: [CpuSnapshot; 2],
    at: [Option<Instant>; 2],
    busy: [Option<BusySnapshot>; 2],
}

impl ArmProbe<'_> {
    fn mark(&mut self, i: usize) {
        self.at[i] = Some(Instant::now());
        self.cpu[i] = self.arm.cpu.snapshot();
        self.wire[i] = self.arm.wire.as_ref().and_then(|w| match w.snapshot() {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("wire bytes unavailable: {e}");
                None
            }
        });
    }
}

impl WindowProbe for ArmProbe<'_> {
    fn start(&mut self) {
        // Wire bytes first: `ss` is a child process whose CPU would read as foreign inside the
        // busy window (with -p it walks every process's descriptors, a JVM broker's included).
        self.mark(0);
        self.busy[0] = Some(BusySnapshot::take(&self.arm.cpu));
    }
    fn sent(&mut self) {
        self.busy[1] = Some(BusySnapshot::take(&self.arm.cpu));
    }
    fn end(&mut self) {
        self.mark(1);
    }
}

fn measure(arm: &Rig, rt: &Handle, load: LoadSpec, window: Window, repetition: u32) -> Result<Measurement> {
    let mut probe =
        ArmProbe { arm, wire: [None, None], cpu: [CpuSnapshot::default(); 2], at: [None, None], busy: [None, None] };
    let raw = rt.block_on(async {
        match load {
            LoadSpec::Closed { concurrency } => {
                generator::run_closed(arm.client.clone(), concurrency, arm.pool.clone(), window, &mut probe).await
            }
            LoadSpec::Open { rate_per_s, max_in_flight } => {
                generator::run_open(arm.client.clone(), rate_per_s, max_in_flight, arm.pool.clone(), window, &mut probe)
                    .await
            }
        }
    })?;
    assemble(arm, &probe, &raw, repetition)
}

fn assemble(arm: &Rig, probe: &ArmProbe<'_>, raw: &RawMeasurement, repetition: u32) -> Result<Measurement> {
    let acc = raw.recorder.accounting.clone();
    let calls = acc.sent.max(1) as f64;
    let elapsed_s = match probe.at {
        [Some(a), Some(b)] => (b - a).as_secs_f64().max(1e-9),
        _ => raw.window.as_secs_f64(),
    };
    let per_call = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?) as f64 / 1_000.0 / calls);
    let cores = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?) as f64 / 1e9 / elapsed_s);
    let [c0, c1] = probe.cpu;
    let cpu = CpuPerCall {
        client_us_per_call: per_call(Some(c0.client_ns), Some(c1.client_ns)),
        pacer_spin_us_per_call: raw.pacer_spin.map(|spun| spun.as_secs_f64() * 1e6 / calls),
        server_us_per_call: per_call(c0.server_ns, c1.server_ns),
        broker_us_per_call: per_call(c0.broker_ns, c1.broker_ns),
        unattributed_us_per_call: per_call(Some(c0.other_ns), Some(c1.other_ns)),
        client_cores: cores(Some(c0.client_ns), Some(c1.client_ns)),
        server_cores: cores(c0.server_ns, c1.server_ns),
        broker_cores: cores(c0.broker_ns, c1.broker_ns),
    };
    let wire = match (&arm.wire, &probe.wire) {
        (Some(w), [Some(a), Some(b)]) => Some(w.measure(a, b, acc.sent)),
        _ => None,
    };
    let busy = match &probe.busy {
        [Some(a), Some(b)] => Some(a.shares_until(b, arm.cores)),
        _ => None,
    };
    let client_bound = busy.as_ref().is_some_and(|b| b.bottleneck == "client");
    let contaminated = busy.as_ref().is_some_and(BusyShares::contaminated);
    let window_s = raw.window.as_secs_f64();
    let span_s = raw.completion_span.as_secs_f64().max(window_s).max(1e-9);
    Ok(Measurement {
        repetition,
        window_s,
        offered_rate_per_s: raw.offered_rate_per_s,
        sent_rate_per_s: acc.sent as f64 / window_s,
        achieved_rate_per_s: acc.ok as f64 / span_s,
        completion_span_s: span_s,
        backlogged: span_s > window_s * (1.0 + BACKLOG_SHARE),
        generator_bound: raw.schedule_lagged() || client_bound,
        busy,
        latency: raw.latency()?,
        service_time: raw.service_time()?,
        schedule_lag: match raw.offered_rate_per_s {
            Some(_) => Some(crate::results::LatencyStats::from_histogram(&raw.recorder.lag)?),
            None => None,
        },
        accounting: acc,
        wire,
        cpu,
        contaminated,
        contaminated_reruns: 0,
    })
}

fn one_line(m: &Measurement) -> String {
    let a = &m.accounting;
    format!(
        "{:.0}/s p50 {:.0}µs p99 {:.0}µs ok {}/{}{}",
        m.achieved_rate_per_s,
        m.latency.p50_us,
        m.latency.p99_us,
        a.ok,
        a.sent,
        match &m.busy {
            Some(b) if b.contaminated() => {
                format!(" CONTAMINATED: {:.2} foreign cores", b.foreign_cores.unwrap_or_default())
            }
            Some(b) if b.bottleneck != "none" => format!(" {}-bound", b.bottleneck),
            _ => String::new(),
        }
    )
}

/// A window the generator could not measure: one failure of the error's kind and nothing
/// dispatched, so its accounting does not balance and the run fails naming it.
fn failed_measurement(e: &Error, repetition: u32) -> Measurement {
    let mut acc = crate::results::Accounting { failed_total: 1, ..Default::default() };
    acc.failed.insert(e.kind().to_owned(), 1);
    acc.failure_examples.insert(e.kind().to_owned(), e.to_string());
    Measurement::unmeasured(repetition, acc)
}

fn timed_window(
    label: &str,
    load: LoadSpec,
    window: Window,
    rep: u32,
    arm: &Rig,
    ctx: &RunContext,
    obs: &dyn Observer,
) -> Measurement {
    let what = format!("{label} {} rep {}", load.label(), rep + 1);
    let mut reruns = 0;
    loop {
        obs.window_started(&what, window.warmup + window.duration);
        let mut m = measure(arm, &ctx.client, load, window, rep).unwrap_or_else(|e| failed_measurement(&e, rep));
        m.contaminated_reruns = reruns;
        obs.window_finished(&what, &one_line(&m));
        // Re-run, never average: a window something else disturbed is measured again, and one that
        // stays disturbed is kept with its flag (`--strict` then fails the run).
        if !m.contaminated || reruns + 1 >= CONTAMINATED_TRIES {
            return m;
        }
        reruns += 1;
    }
}

/// How often a window is measured at most while foreign CPU disturbs it (the first try included).
pub const CONTAMINATED_TRIES: u32 = 3;

fn run_point(
    ctx: &RunContext,
    s: &Scenario,
    arm: &Rig,
    load: LoadSpec,
    label: &str,
    rep: u32,
    obs: &dyn Observer,
) -> PointResult {
    let window = Window {
        warmup: Duration::from_millis(s.warmup_ms),
        duration: Duration::from_millis(s.duration_ms),
        timeout: Duration::from_millis(s.timeout_ms),
    };
    let repetitions = vec![timed_window(label, load, window, rep, arm, ctx, obs)];
    PointResult { load, operating_point: None, summary: summarize(&repetitions), repetitions }
}

fn run_sweep(
    ctx: &RunContext,
    s: &Scenario,
    arm: &Rig,
    spec: crate::load::scenario::SweepSpec,
    label: &str,
    rep: u32,
    obs: &dyn Observer,
) -> SweepResult {
    let window = Window {
        warmup: Duration::from_millis(spec.step_warmup_ms),
        duration: Duration::from_millis(spec.step_duration_ms),
        timeout: Duration::from_millis(s.timeout_ms),
    };
    let slo_p99_us = spec.slo_p99_ms * 1_000.0;
    let label = format!("{label} capacity");
    let step = |rate: f64| {
        let load = LoadSpec::Open { rate_per_s: rate, max_in_flight: spec.max_in_flight };
        let m = timed_window(&label, load, window, rep, arm, ctx, obs);
        let verdict = step_verdict(&m, slo_p99_us);
        (m, verdict)
    };
    let repetitions = vec![search_capacity(spec, rep, step)];
    let max_sustainable_rate_per_s = Spread::of(repetitions.iter().filter_map(|r| r.max_sustainable_rate_per_s));
    SweepResult { slo_p99_us, target_resolution: spec.resolution, repetitions, max_sustainable_rate_per_s }
}

/// One capacity search (see [`SweepSpec`](crate::load::scenario::SweepSpec)): `step(rate)` measures
/// one window at an offered rate and says why it failed, if it did. Rates are whole calls per
/// second. A failing rate is measured a second time, and counts as failed only if that fails too.
pub fn search_capacity(
    spec: crate::load::scenario::SweepSpec,
    repetition: u32,
    mut step: impl FnMut(f64) -> (Measurement, Option<&'static str>),
) -> SweepRun {
    let mut run = SweepRun {
        repetition,
        steps: Vec::new(),
        step_verdicts: Vec::new(),
        max_sustainable_rate_per_s: None,
        first_failing_rate_per_s: None,
        resolution: None,
        bottleneck: None,
        stop_reason: "max_rate".into(),
    };
    // Runs `rate` (and its confirmation if it fails): `true` when it passed.
    let mut try_rate = |run: &mut SweepRun, rate: f64| -> bool {
        for attempt in ["", "confirm "] {
            let (m, verdict) = step(rate);
            let bottleneck = m.busy.as_ref().map(|b| b.bottleneck.clone());
            run.steps.push(m);
            run.step_verdicts.push(format!("{attempt}{}", verdict.unwrap_or("pass")));
            if verdict.is_none() {
                return true;
            }
            // Only a rate that failed twice is a failure: the bottleneck is its confirmation's (a
            // failure that its re-run passed says nothing about what limits the arm).
            if !attempt.is_empty() {
                run.bottleneck = bottleneck;
            }
        }
        false
    };
    let (mut pass, mut fail) = (None::<f64>, None::<f64>);
    let mut rate = spec.start_rate_per_s.round();
    // Growth (or, when the start fails, shrinkage) until a pass and a fail bracket the capacity.
    let mut down_steps = 0;
    loop {
        if try_rate(&mut run, rate) {
            pass = Some(rate);
            if fail.is_some() {
                break;
            }
            let next = (rate * spec.step_factor).round();
            if next > spec.max_rate_per_s * (1.0 + 1e-9) {
                run.max_sustainable_rate_per_s = pass;
                return run;
            }
            rate = next;
        } else {
            fail = Some(rate);
            if pass.is_some() {
                break;
            }
            down_steps += 1;
            // A median over the objective with nothing saturated is the arm's latency floor (a
            // broker's batching, a poll interval): a lower rate cannot meet the SLO either.
            let floor = run.step_verdicts.last().is_some_and(|v| v.ends_with(FLOOR_VERDICT));
            if floor || down_steps > crate::load::scenario::MAX_DOWN_STEPS || rate <= 1.0 {
                run.first_failing_rate_per_s = fail;
                run.stop_reason = "below_min".into();
                return run;
            }
            rate = (rate / spec.step_factor).round().max(1.0);
        }
    }
    let (mut pass, mut fail) = (pass.unwrap_or(0.0), fail.unwrap_or(0.0));
    // Bisection: the geometric mean, because the resolution is relative.
    while fail > pass * (1.0 + spec.resolution) {
        let mid = (pass * fail).sqrt().round();
        if mid <= pass || mid >= fail {
            break; // whole calls per second cannot split the bracket further
        }
        if try_rate(&mut run, mid) {
            pass = mid;
        } else {
            fail = mid;
        }
    }
    run.max_sustainable_rate_per_s = Some(pass);
    run.first_failing_rate_per_s = Some(fail);
    run.resolution = Some(fail / pass - 1.0);
    run.stop_reason = "bracketed".into();
    run
}

/// The verdict of a step whose median latency is over the SLO while no resource was saturated.
pub const FLOOR_VERDICT: &str = "floor";

/// Why a sweep step fails, or `None` if it met the SLO.
///
/// A step passes when every call was ok, the corrected p99 met the SLO and the calls did not
/// queue up past the send window (`backlogged`). Generator lag only adds to corrected latency, so
/// a pass is conservative even on a client-bound step; a failure on one is recorded with its
/// bottleneck (`client`), and such a capacity is the generator's, not the transport's.
pub fn step_verdict(m: &Measurement, slo_p99_us: f64) -> Option<&'static str> {
    if m.accounting.ok < m.accounting.sent || m.accounting.sent == 0 {
        Some("errors")
    } else if m.latency.p50_us > slo_p99_us && !m.backlogged && m.busy.as_ref().is_some_and(|b| b.bottleneck == "none")
    {
        Some(FLOOR_VERDICT)
    } else if m.latency.p99_us > slo_p99_us {
        Some("slo")
    } else if m.backlogged {
        Some("backlog")
    } else {
        None
    }
}

/// min / median / max across repetitions of a point's headline figures.
pub fn summarize(reps: &[Measurement]) -> PointSummary {
    let f = |get: fn(&Measurement) -> f64| Spread::of(reps.iter().map(get));
    let g = |get: fn(&Measurement) -> Option<f64>| Spread::of_some(reps.iter().map(get));
    let hop = |m: &Measurement, name: &str, sent: bool| {
        let h = m.wire.as_ref()?.hops.iter().find(|h| h.hop == name)?;
        Some(if sent { h.sent_bytes_per_call } else { h.received_bytes_per_call })
    };
    PointSummary {
        repetitions: reps.len() as u32,
        any_generator_bound: reps.iter().any(|m| m.generator_bound),
        achieved_rate_per_s: f(|m| m.achieved_rate_per_s),
        p50_us: f(|m| m.latency.p50_us),
        p90_us: f(|m| m.latency.p90_us),
        p99_us: f(|m| m.latency.p99_us),
        p999_us: f(|m| m.latency.p999_us),
        max_us: f(|m| m.latency.max_us),
        service_p99_us: f(|m| m.service_time.p99_us),
        error_ratio: f(|m| 1.0 - m.accounting.ok as f64 / m.accounting.sent.max(1) as f64),
        client_sent_bytes_per_call: Spread::of_some(reps.iter().map(|m| hop(m, "client", true))),
        client_received_bytes_per_call: Spread::of_some(reps.iter().map(|m| hop(m, "client", false))),
        worker_sent_bytes_per_call: Spread::of_some(reps.iter().map(|m| hop(m, "worker", true))),
        worker_received_bytes_per_call: Spread::of_some(reps.iter().map(|m| hop(m, "worker", false))),
        client_cpu_us_per_call: g(|m| m.cpu.client_us_per_call),
        server_cpu_us_per_call: g(|m| m.cpu.server_us_per_call),
        broker_cpu_us_per_call: g(|m| m.cpu.broker_us_per_call),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(sent: u64, ok: u64, p99_us: f64, backlogged: bool) -> Measurement {
        let mut m = failed_measurement(&Error::Config("x".into()), 0);
        m.accounting = crate::results::Accounting { sent, ok, ..Default::default() };
        m.latency.p99_us = p99_us;
        m.backlogged = backlogged;
        m
    }

    #[test]
    fn sweep_step_verdicts() {
        assert_eq!(step_verdict(&step(100, 100, 900.0, false), 1000.0), None);
        assert_eq!(step_verdict(&step(100, 100, 1100.0, false), 1000.0), Some("slo"));
        assert_eq!(step_verdict(&step(100, 100, 900.0, true), 1000.0), Some("backlog"));
        assert_eq!(step_verdict(&step(100, 99, 10.0, false), 1000.0), Some("errors"));
        assert_eq!(step_verdict(&step(0, 0, 0.0, false), 1000.0), Some("errors"));
    }

    fn spec(start: f64, max: f64) -> crate::load::scenario::SweepSpec {
        crate::load::scenario::SweepSpec {
            start_rate_per_s: start,
            step_factor: 2.0,
            max_rate_per_s: max,
            slo_p99_ms: 5.0,
            step_warmup_ms: 1,
            step_duration_ms: 1,
            max_in_flight: 1,
            resolution: 0.05,
            repetitions: None,
        }
    }

    /// A search over an ideal arm that passes every rate up to `capacity`, and fails the rates in
    /// `flaky` once (their confirmation passes).
    fn search(spec: crate::load::scenario::SweepSpec, capacity: f64, flaky: &[f64]) -> (SweepRun, Vec<f64>) {
        let mut tried = Vec::new();
        let run = search_capacity(spec, 0, |rate| {
            let first_try = !tried.contains(&rate);
            tried.push(rate);
            let noise = first_try && flaky.contains(&rate);
            let fails = rate > capacity || noise;
            // A real failure is server-bound, a noisy one not: the run must name the former.
            let mut m = step(10, 10, 0.0, false);
            let bottleneck = if noise { "none" } else { "server" };
            m.busy = Some(crate::measure::busy::BusyShares { bottleneck: bottleneck.into(), ..Default::default() });
            (m, fails.then_some("slo"))
        });
        (run, tried)
    }

    #[test]
    fn the_search_brackets_the_capacity_to_the_resolution() {
        for capacity in [1234.0, 5000.0, 7777.0, 15_999.0, 2000.0, 300.0, 40.0] {
            let (run, _) = search(spec(2000.0, 64_000.0), capacity, &[]);
            let (pass, fail) = (run.max_sustainable_rate_per_s.unwrap(), run.first_failing_rate_per_s.unwrap());
            assert!(pass <= capacity && fail > capacity, "{capacity}: [{pass}, {fail}]");
            assert!(fail <= pass * 1.05 + 1.0, "{capacity}: [{pass}, {fail}] is wider than 5 %");
            assert_eq!(run.stop_reason, "bracketed");
            assert_eq!(run.steps.len(), run.step_verdicts.len());
            assert!((run.resolution.unwrap() - (fail / pass - 1.0)).abs() < 1e-12);
        }
    }

    #[test]
    fn a_failing_step_is_confirmed_before_it_counts() {
        // 8000 fails once by noise: the confirmation passes and the search goes on above it.
        let (run, tried) = search(spec(2000.0, 64_000.0), 20_000.0, &[8000.0]);
        assert_eq!(tried.iter().filter(|&&r| r == 8000.0).count(), 2);
        assert!(run.max_sustainable_rate_per_s.unwrap() > 8000.0, "{run:?}");
        let i = tried.iter().position(|&r| r == 8000.0).unwrap();
        assert_eq!(&run.step_verdicts[i..i + 2], ["slo", "confirm pass"]);
        // A noisy failure names no bottleneck, even the last one of the search (19869/s is tried
        // after the real failure at 20749/s).
        assert_eq!(run.bottleneck.as_deref(), Some("server"), "{run:?}");
        let (run, tried) = search(spec(2000.0, 64_000.0), 20_000.0, &[19_869.0]);
        assert_eq!(tried.iter().filter(|&&r| r == 19_869.0).count(), 2, "{tried:?}");
        assert_eq!(
            run.bottleneck.as_deref(),
            Some("server"),
            "a failure its re-run passed named the bottleneck: {run:?}"
        );
        // A real failure is run twice and both are recorded.
        let (run, tried) = search(spec(2000.0, 64_000.0), 3000.0, &[]);
        assert_eq!(tried.iter().filter(|&&r| r == 4000.0).count(), 2);
        assert!(run.step_verdicts.contains(&"confirm slo".to_owned()));
    }

    #[test]
    fn an_arm_whose_median_is_over_the_slo_unsaturated_stops_the_search() {
        let mut floor = step(10, 10, 9_000.0, false);
        floor.latency.p50_us = 6_000.0;
        floor.busy = Some(crate::measure::busy::BusyShares { bottleneck: "none".into(), ..Default::default() });
        assert_eq!(step_verdict(&floor, 5_000.0), Some(FLOOR_VERDICT));
        // Saturated, it is an overload instead: lower rates may still pass.
        floor.busy.as_mut().unwrap().bottleneck = "server".into();
        assert_eq!(step_verdict(&floor, 5_000.0), Some("slo"));
        let mut tried = 0;
        let run = search_capacity(spec(2000.0, 8000.0), 0, |_| {
            tried += 1;
            (step(10, 10, 0.0, false), Some(FLOOR_VERDICT))
        });
        assert_eq!((tried, run.stop_reason.as_str(), run.max_sustainable_rate_per_s), (2, "below_min", None));
    }

    #[test]
    fn the_search_ends_at_its_limits() {
        let (run, _) = search(spec(2000.0, 8000.0), 1e9, &[]);
        assert_eq!((run.max_sustainable_rate_per_s, run.first_failing_rate_per_s), (Some(8000.0), None));
        assert_eq!(run.stop_reason, "max_rate");
        assert_eq!(run.resolution, None);
        let (run, tried) = search(spec(2000.0, 8000.0), 0.5, &[]);
        assert_eq!(run.max_sustainable_rate_per_s, None);
        assert_eq!(run.stop_reason, "below_min");
        assert!(tried.len() <= 2 * (crate::load::scenario::MAX_DOWN_STEPS as usize + 1), "{tried:?}");
    }

    #[test]
    fn summary_spreads_across_repetitions() {
        let reps: Vec<_> = [300.0, 100.0, 200.0].iter().map(|&p99| step(10, 10, p99, false)).collect();
        let s = summarize(&reps);
        assert_eq!((s.p99_us.min, s.p99_us.median, s.p99_us.max), (100.0, 200.0, 300.0));
        assert_eq!(s.repetitions, 3);
        assert_eq!(s.error_ratio.max, 0.0);
        assert!(s.client_sent_bytes_per_call.is_none());
    }

    #[test]
    fn ports_from_endpoints() {
        let arm = |name: &str| Arm::parse(name).unwrap();
        assert_eq!(port_of(&arm("grpc"), "127.0.0.1:50051").unwrap(), Some(50051));
        assert_eq!(port_of(&arm("amqp"), "amqp://u:p@127.0.0.1:5673/%2f").unwrap(), Some(5673));
        assert_eq!(port_of(&arm("amqp"), "amqp://localhost").unwrap(), Some(5672));
        assert_eq!(port_of(&arm("kafka"), "127.0.0.1:9092,127.0.0.1:9093").unwrap(), Some(9092));
        assert_eq!(port_of(&arm("nats"), "nats://127.0.0.1").unwrap(), Some(4222));
        assert_eq!(port_of(&arm("inproc"), "inproc").unwrap(), None);
        assert_eq!(port_of(&arm("sim"), "sim://3").unwrap(), None);
    }
}
