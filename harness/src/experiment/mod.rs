//! Timed experiments: a scenario's `[[experiment]]` entries ([`spec`]). Each arm runs on a
//! supervised server or worker process (`paybench serve`, [`crate::supervise`]) while the load
//! generator offers an open-loop load and keeps a timeline ([`crate::load::timeline`]); the
//! events of the experiment act on that real process at their times ([`events`]). An experiment
//! kind reads the timeline into its own figures.
//!
//! A kind is one file and one row of [`KINDS`]:
//!
//! | kind | file | reads |
//! |---|---|---|
//! | `outage` | [`outage`] | calls failed, timed out, late, lost and duplicated around a stopped or killed server; time back to the steady p99 |
//! | `burst` | [`burst`] | p99 before, during and after a load peak past capacity; calls answered within the deadline, failed, timed out; the broker's peak backlog and the time it took to drain |
//! | `broker-restart` | [`broker_restart`] | the same figures as `outage` when the broker itself is killed and restarted from its data directory |
//! | `scale-workers` | [`scale_workers`] | the rate a queue group served before and after it was scaled up under a backlog; the time to empty the queue; for a direct arm, the calls answered before and after backends were put in rotation behind its L4 balancer |
//! | `fan-out` | [`fan_out`] | one event published to N services (N = 1, 3, 5): the producer's time per event, the time to the last service, the CPU per event (a run of its own, [`Measures::Own`]) |
//! | `replay` | [`replay`] | a new consumer group reading a topic's last M events by offset: the replay rate, or why the broker cannot (a run of its own) |

pub mod broker_restart;
pub mod burst;
pub mod events;
pub mod fan_out;
pub mod outage;
pub mod replay;
pub mod scale_workers;
pub mod steady;
pub mod topology;
pub use paybench_model::experiment_spec as spec;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;

use crate::error::error_chain;
use crate::load::arrivals::Arrivals;
use crate::load::generator::{self, Window};
use crate::load::runner;
use crate::load::timeline::Buckets;
use crate::measure::backlog;
use crate::payload;
use crate::results::experiment::{ArmRecord, ArmTimeline, ExperimentResult, OfferedPhase};
use crate::results::timeline::TimelineColumns;
use crate::results::{Accounting, ArmStatus};
use crate::supervise::{ProcessSpec, Ready};
use crate::transport::{self, AnyClient, Arm, ClientConfig, Transport};
use crate::{brokers, Error, Result};
use spec::ExperimentSpec;
use topology::{Balancer, Hops, Servers};

/// One experiment kind: its name in scenario files, and how it reads an arm's timeline.
#[derive(Debug)]
pub struct Kind {
    /// `kind = "..."` in a scenario file.
    pub name: &'static str,
    /// One line for docs and errors.
    pub about: &'static str,
    /// Checks what the generic spec check cannot (which events or phases the kind needs): on
    /// error, the field at fault and what it needs.
    pub check: fn(&ExperimentSpec) -> std::result::Result<(), (&'static str, String)>,
    /// How it measures an arm.
    pub measures: Measures,
}

/// How a kind measures an arm.
#[derive(Debug)]
pub enum Measures {
    /// The request/reply timeline every call kind shares (a supervised server, the open-loop
    /// load, the events), then this reads one arm's timeline (the buckets still hold the
    /// histograms) into the kind's figures.
    Timeline(fn(&ExperimentSpec, &Buckets, &mut ArmTimeline)),
    /// A run of its own (publish/subscribe kinds, which make no calls): the arm's record with the
    /// kind's figures, or why it could not run.
    Own(fn(&ExperimentContext, &ExperimentSpec, &Arm) -> Result<ArmTimeline>),
}

/// Every experiment kind.
pub static KINDS: &[Kind] =
    &[outage::KIND, broker_restart::KIND, burst::KIND, scale_workers::KIND, fan_out::KIND, replay::KIND];

/// The kind called `name`.
pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// Checks an experiment's kind against [`KINDS`], and what that kind needs of its events; the
/// rest of the spec is checked with the scenario ([`ExperimentSpec::validate`]).
pub fn check(spec: &ExperimentSpec, path: &Path, index: usize) -> Result<()> {
    let err =
        |field: &str, allowed: &str, got: &dyn std::fmt::Debug| spec.field_error(path, index, field, allowed, got);
    let Some(kind) = kind(&spec.kind) else {
        let kinds: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        return Err(err("kind", &kinds.join(", "), &spec.kind));
    };
    (kind.check)(spec).map_err(|(field, why)| match field {
        "phases" => err(field, &why, &spec.phases),
        "load" => err(field, &why, &spec.load),
        "consumers" => err(field, &why, &spec.consumers),
        "replay_events" => err(field, &why, &spec.replay_events),
        "arms" => err(field, &why, &spec.arms),
        _ => err(field, &why, &spec.events),
    })?;
    // A direct arm has no broker to kill.
    if spec.events.iter().any(|e| e.target == spec::Target::Broker) {
        let direct = direct_arms(spec);
        if !direct.is_empty() {
            return Err(err(
                "events",
                "`target = \"broker\"` only on broker arms; a direct arm has no broker",
                &direct,
            ));
        }
    }
    Ok(())
}

/// The server processes an arm starts with: `processes`, and for a direct arm every backend a
/// later `scale` puts in rotation (started idle, held out of the balancer's rotation until then).
fn started_processes(spec: &ExperimentSpec, arm: &Arm) -> usize {
    let scaled_to = spec.events.iter().filter(|e| e.action == spec::Action::Scale).filter_map(|e| e.to).max();
    match (arm.broker(), scaled_to) {
        (None, Some(to)) => spec.processes.max(to) as usize,
        _ => spec.processes as usize,
    }
}

/// The experiment's arms that call their server directly (no broker).
fn direct_arms(spec: &ExperimentSpec) -> Vec<&str> {
    spec.arms.iter().filter(|a| Arm::parse(a).is_ok_and(|a| a.broker().is_none())).map(String::as_str).collect()
}

/// Where and how experiments run their arms: set by `paybench run` from its flags.
#[derive(Debug, Clone)]
pub struct ExperimentContext {
    /// The client's (pinned) runtime: connects, load generator.
    pub client: Handle,
    /// The `paybench` binary and the arguments every `paybench serve` gets before the arm's name
    /// (brokers, settings, namespace, CPUs).
    pub serve_program: PathBuf,
    /// Arguments for `paybench serve` after the arm (broker endpoints, settings, CPUs), but the
    /// namespace (each arm has its own: [`arm_namespace`]) and the service time (each experiment
    /// may set it).
    pub serve_args: Vec<String>,
    /// Each broker's endpoint.
    pub brokers: brokers::Endpoints,
    /// Broker names' prefix; each arm adds a suffix of its own ([`arm_namespace`]).
    pub namespace: String,
    /// Folder of the servers' logs.
    pub log_dir: PathBuf,
    /// The scenario's simulated service time per call, µs, when an experiment gives none.
    pub service_time_us: u64,
    /// The scenario's CPU work per call, µs, when an experiment gives none.
    pub service_busy_us: u64,
    /// The scenario's call deadline, when an experiment gives none.
    pub scenario_timeout_ms: u64,
    /// Payload seed.
    pub seed: u64,
}

/// Progress lines for the terminal.
pub trait Progress {
    /// A line about what runs now.
    fn line(&self, text: &str);
}

/// Runs one experiment on every arm it names (`arms` are the scenario's resolved arms).
pub fn run(
    ctx: &ExperimentContext,
    scenario: &str,
    spec: &ExperimentSpec,
    arms: &[Arm],
    progress: &dyn Progress,
) -> Result<ExperimentResult> {
    let kind = kind(&spec.kind).ok_or_else(|| Error::Config(format!("unknown experiment kind {:?}", spec.kind)))?;
    let mut result = ExperimentResult {
        scenario: scenario.to_owned(),
        kind: spec.kind.clone(),
        name: spec.name.clone(),
        profile: spec.profile,
        arms: Vec::new(),
    };
    for name in &spec.arms {
        let arm = arms.iter().find(|a| a.name() == name).ok_or_else(|| {
            Error::Config(format!("experiment {}: arm {name} is not among the scenario's", spec.name))
        })?;
        progress.line(&format!("{scenario}/{}/{}: {arm}", spec.kind, spec.name));
        let timeline = match kind.measures {
            Measures::Timeline(read) => {
                let mut timeline = run_arm(ctx, spec, arm).unwrap_or_else(|e| unavailable(arm, &e));
                if let (ArmStatus::Ran, Some(buckets)) = (&timeline.0.status, &timeline.1) {
                    read(spec, buckets, &mut timeline.0);
                }
                timeline.0
            }
            Measures::Own(run) => run(ctx, spec, arm).unwrap_or_else(|e| unavailable(arm, &e).0),
        };
        progress.line(&format!("  {}", one_line(&timeline)));
        result.arms.push(timeline);
    }
    Ok(result)
}

/// What makes an experiment's arm unusable as a measurement, one line each: an arm that did not
/// run, an event that did not take effect, calls that do not add up. `paybench run --strict`
/// fails on any.
pub fn problems(results: &[ExperimentResult]) -> Vec<String> {
    let mut out = Vec::new();
    for e in results {
        for t in &e.arms {
            let label = format!("{}/{}/{}/{}", e.scenario, e.kind, e.name, t.arm.name);
            if let ArmStatus::Unavailable { message, .. } = &t.status {
                out.push(format!("{label}: did not run: {message}"));
                continue;
            }
            for ev in t.events.iter().filter(|ev| !ev.took_effect) {
                out.push(format!(
                    "{label}: event `{}` at {} ms did not take effect: {}",
                    ev.action, ev.at_ms, ev.detail
                ));
            }
            for s in t.fan_out.iter().flat_map(|f| &f.steps) {
                if s.delivered == 0 || s.publish_failed > 0 {
                    out.push(format!(
                        "{label}: fan-out to {} services: {} of {} events delivered to anyone, {} publishes failed",
                        s.consumers, s.delivered, s.events, s.publish_failed
                    ));
                }
            }
            if let Some(r) = t.replay.as_ref().filter(|r| r.supported && !r.in_order) {
                out.push(format!(
                    "{label}: the replay read {} of the last {} events, not each once in order",
                    r.read, r.events
                ));
            }
            if !t.accounting.balances() {
                out.push(format!("{label}: the calls do not add up: {:?}", t.accounting));
            }
        }
    }
    out
}

fn one_line(t: &ArmTimeline) -> String {
    match &t.status {
        ArmStatus::Unavailable { message, .. } => format!("{}: did not run: {message}", t.arm.name),
        ArmStatus::Ran if t.fan_out.is_some() || t.replay.is_some() => {
            let steps = t.fan_out.iter().flat_map(|f| &f.steps).map(|s| {
                let ms = |us: Option<f64>| us.map_or("–".to_owned(), |us| format!("{:.1} ms", us / 1000.0));
                format!(
                    "N={}: {} events, {} delivered, {} missing, {} duplicated, last service p99 {}",
                    s.consumers,
                    s.events,
                    s.delivered,
                    s.missing,
                    s.duplicates,
                    ms(s.last_consumer_p99_us)
                )
            });
            let replay = t.replay.iter().map(|r| match r.rate_per_s {
                Some(rate) => {
                    format!("replayed {} of {} events at {rate:.0}/s, in order: {}", r.read, r.events, r.in_order)
                }
                None => format!("no replay: {}", r.how),
            });
            format!("{}: {}", t.arm.name, steps.chain(replay).collect::<Vec<_>>().join("; "))
        }
        ArmStatus::Ran => {
            let a = &t.accounting;
            format!(
                "{}: {:.0}/s offered, {} sent, {} ok, {} failed, {} timed out, {} unmatched replies",
                t.arm.name, t.offered_rate_per_s, a.sent, a.ok, a.failed_total, a.timed_out, t.unmatched_replies
            )
        }
    }
}

/// The plain record of a live arm.
pub fn arm_record(arm: &Arm) -> ArmRecord {
    ArmRecord {
        name: arm.name().to_owned(),
        family: arm.family().name.to_owned(),
        codec: arm.codec().to_string(),
        options: arm.options_owned(),
        broker: arm.broker().map(str::to_owned),
    }
}

fn unavailable(arm: &Arm, e: &Error) -> (ArmTimeline, Option<Buckets>) {
    let status = ArmStatus::Unavailable { kind: e.kind().to_owned(), message: error_chain(e) };
    (empty_timeline(arm_record(arm), status), None)
}

/// An arm's timeline with nothing in it yet.
pub(crate) fn empty_timeline(arm: ArmRecord, status: ArmStatus) -> ArmTimeline {
    ArmTimeline {
        arm,
        status,
        server: String::new(),
        backend_cpu_ms: Vec::new(),
        capacity_per_s: None,
        offered_rate_per_s: 0.0,
        offered_phases: Vec::new(),
        backlog_source: None,
        timeout_ms: None,
        events: Vec::new(),
        accounting: Accounting::default(),
        unmatched_replies: 0,
        late_replies: None,
        duplicate_replies: None,
        unanswered: None,
        timeline: TimelineColumns::default(),
        outage: None,
        burst: None,
        scale: None,
        fan_out: None,
        replay: None,
    }
}

/// How long a server or worker may take to print its ready line (a Kafka worker joins its group).
const SERVER_READY_WITHIN: Duration = Duration::from_secs(60);
/// How long the first call may take (a broker arm's reply path being set up).
const FIRST_CALL_WITHIN: Duration = Duration::from_secs(30);
/// After the timeline's last call ended: how long late and duplicate replies are still counted.
const STRAY_GRACE: Duration = Duration::from_secs(2);

/// One arm: a supervised server, a client, the capacity probe, the timeline with its events.
fn run_arm(ctx: &ExperimentContext, spec: &ExperimentSpec, arm: &Arm) -> Result<(ArmTimeline, Option<Buckets>)> {
    let namespace = arm_namespace(&ctx.namespace);
    let ctx = &ExperimentContext { namespace, ..ctx.clone() };
    let servers = Servers::start(serve_spec(ctx, arm, "127.0.0.1:0", spec), started_processes(spec, arm))?;
    let (endpoint, servers, balancer) = server_endpoint(ctx, arm, spec, servers)?;
    let hops = match (arm.broker(), &balancer) {
        (Some(_), _) => Hops::Broker,
        (None, Some(_)) => Hops::Balanced,
        (None, None) => Hops::Direct,
    };
    let mut server_line =
        format!("supervised `paybench serve {arm}`, {} process(es), first pids {:?}", servers.len(), servers.pids());
    let service_time_us = spec.service_time_us.unwrap_or(ctx.service_time_us);
    if service_time_us > 0 {
        server_line.push_str(&format!(", {service_time_us} µs simulated service time per call"));
    }
    let service_busy_us = spec.service_busy_us.unwrap_or(ctx.service_busy_us);
    if service_busy_us > 0 {
        server_line.push_str(&format!(", {service_busy_us} µs of CPU work per call"));
    }
    if let Some(b) = &balancer {
        server_line.push_str(&format!(", behind {}", b.describe()));
        let held = servers.len().saturating_sub(spec.processes as usize);
        if held > 0 {
            server_line.push_str(&format!(", {held} of them started idle and held out of rotation until the scale"));
        }
    }
    server_line.push_str(&format!("; hops: {}", hops.describe()));
    let server = Arc::new(std::sync::Mutex::new(servers));
    let timeout = Duration::from_millis(spec.timeout_ms_or(ctx.scenario_timeout_ms));
    let config = ClientConfig {
        timeout,
        namespace: ctx.namespace.clone(),
        max_connections: spec.max_connections.map(|n| n as usize),
        ..ClientConfig::default()
    };
    let client = connect(ctx, arm, &endpoint, &config)?;
    let pool: Arc<Vec<_>> = Arc::new((0..64).map(|i| payload::generate(spec.profile, ctx.seed, i)).collect());
    let capacity = if spec.needs_capacity() { Some(probe_capacity(ctx, spec, &client, &pool, timeout)?) } else { None };
    let rates = spec.rates(capacity)?;
    let rate = rates[0].1;
    let changes = rates[1..].iter().map(|&(from_ms, rate)| (Duration::from_millis(from_ms), rate)).collect();
    let arrivals = Arrivals::phased(rate, changes)?;
    let window = Window {
        warmup: Duration::from_millis(spec.warmup_ms),
        duration: Duration::from_millis(spec.duration_ms),
        timeout,
    };
    let strays_before = client.unmatched_replies();
    let ledger_before = client.reply_ledger();
    // The broker's backlog, read from the broker through the timeline (families that keep one).
    // An experiment that restarts the broker reopens the reader after the restart.
    let reopen = |open: crate::transport::arm::BacklogFn| -> backlog::Reopen {
        let (arm, endpoint, namespace) = (arm.clone(), endpoint.clone(), ctx.namespace.clone());
        Box::new(move || open(&arm, &endpoint, &namespace))
    };
    let restarts_broker = spec.events.iter().any(|e| e.target == spec::Target::Broker);
    let (sampler, backlog_error) = match arm.family().backlog.map(|open| (open, open(arm, &endpoint, &ctx.namespace))) {
        None => (None, None),
        Some((open, Ok(reader))) => {
            match backlog::Sampler::start(reader, backlog::EVERY, restarts_broker.then(|| reopen(open))) {
                Ok(sampler) => (Some(sampler), None),
                Err(e) => (None, Some(format!("not read: cannot start its thread: {e}"))),
            }
        }
        Some((_, Err(e))) => (None, Some(format!("not read: {e}"))),
    };
    // Each backend's CPU over the timeline shows how the balancer spread the calls.
    let backends_before = balancer.as_ref().map(|_| backend_cpu(&server));
    // A restarted backend is checked by its ready line; the balancer's address always answers.
    let bind = if balancer.is_some() { None } else { direct_bind(arm, &endpoint) };
    let control = balancer.as_ref().map(Balancer::control);
    let broker = broker_target(arm, spec, &endpoint)?;
    let mut probe = events::Schedule::start(server.clone(), spec.events.clone(), bind, broker, control);
    let raw = ctx.client.block_on(generator::run_open_with(
        client.clone(),
        &arrivals,
        spec.max_in_flight,
        pool,
        window,
        &mut probe,
        Some(Duration::from_millis(spec.late_after_ms)),
    ))?;
    let events = probe.finish();
    let backend_cpu_ms = backends_before.map(|before| backend_cpu_delta_ms(&before, &backend_cpu(&server)));
    let readings = sampler.map(backlog::Sampler::finish);
    std::thread::sleep(STRAY_GRACE);
    let ledger = client.reply_ledger().map(|now| {
        let before = ledger_before.unwrap_or_default();
        (now.late - before.late, now.duplicates - before.duplicates, now.unanswered.saturating_sub(before.unanswered))
    });
    let unmatched = client.unmatched_replies() - strays_before;
    drop(client);
    if let Ok(server) = Arc::try_unwrap(server) {
        server.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).shutdown();
    }
    if let Some(b) = balancer {
        b.shutdown();
    }
    let mut buckets = raw.timeline.clone();
    if let (Some(buckets), Some(r)) = (buckets.as_mut(), &readings) {
        buckets.set_backlog(&r.readings);
    }
    let backlog_source = backlog_error.or_else(|| {
        readings.map(|r| match r.error {
            None => r.source,
            // A reopening sampler read on after the broker's restart.
            Some(e) if restarts_broker => format!("{} (while the broker was away: {e})", r.source),
            Some(e) => format!("{} (sampling stopped early: {e})", r.source),
        })
    });
    let timeline = ArmTimeline {
        arm: arm_record(arm),
        status: ArmStatus::Ran,
        server: server_line,
        backend_cpu_ms: backend_cpu_ms.unwrap_or_default(),
        capacity_per_s: capacity,
        offered_rate_per_s: rate,
        backlog_source,
        offered_phases: if arrivals.is_phased() {
            rates.iter().map(|&(from_ms, rate_per_s)| OfferedPhase { from_ms, rate_per_s }).collect()
        } else {
            Vec::new()
        },
        timeout_ms: Some(timeout.as_millis() as u64),
        events,
        accounting: raw.recorder.accounting.clone(),
        unmatched_replies: unmatched,
        late_replies: ledger.map(|l| l.0),
        duplicate_replies: ledger.map(|l| l.1),
        unanswered: ledger.map(|l| l.2),
        timeline: buckets.as_ref().map(Buckets::columns).unwrap_or_default(),
        outage: None,
        burst: None,
        scale: None,
        fan_out: None,
        replay: None,
    };
    Ok((timeline, buckets))
}

/// A namespace for one arm's run of one experiment: the run's, plus a suffix no other arm of any
/// run has (the process id and a count). Every queue, topic, subject and group of the arm is in
/// it, so no arm reads what an earlier one left: a transient Kafka group commits every 5 s, and
/// the requests it had processed but not committed went to the next arm's workers, whose replies
/// to a client long gone timed out one by one and starved the new client (a durable Kafka arm
/// after a transient one answered nothing within 15 s).
pub fn arm_namespace(base: &str) -> String {
    static ARMS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = ARMS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let suffix = format!("x{}-{n}", std::process::id());
    let room = transport::NAMESPACE_MAX_CHARS - suffix.len() - 1;
    match base.get(..base.len().min(room)) {
        Some(base) if !base.is_empty() => format!("{base}-{suffix}"),
        _ => suffix,
    }
}

/// `paybench serve ARM --bind BIND`, the run's own serve flags, the service time and the arm's
/// namespace.
fn serve_args(ctx: &ExperimentContext, spec: &ExperimentSpec, arm: &Arm, bind: &str) -> Vec<String> {
    let service_time_us = spec.service_time_us.unwrap_or(ctx.service_time_us).to_string();
    let service_busy_us = spec.service_busy_us.unwrap_or(ctx.service_busy_us).to_string();
    let head = ["serve", arm.name(), "--bind", bind].map(str::to_owned);
    let tail = [
        "--service-time-us".to_owned(),
        service_time_us,
        "--service-busy-us".to_owned(),
        service_busy_us,
        "--namespace".to_owned(),
        ctx.namespace.clone(),
    ];
    head.into_iter().chain(ctx.serve_args.iter().cloned()).chain(tail).collect()
}

fn serve_spec(ctx: &ExperimentContext, arm: &Arm, bind: &str, spec: &ExperimentSpec) -> ProcessSpec {
    ProcessSpec {
        name: format!("{arm} server"),
        program: ctx.serve_program.clone(),
        args: serve_args(ctx, spec, arm, bind),
        ready: Ready::Line("serving ".to_owned()),
        ready_within: SERVER_READY_WITHIN,
        log: ctx.log_dir.join(format!("{}-{}-{arm}.log", spec.kind, spec.name)),
    }
}

/// The endpoint a client connects to: the broker's for a broker arm; else the one the server's
/// ready line names (`serving ARM on ENDPOINT pid N`), or with N backends the balancer's in front
/// of them. A direct server is restarted on the same address, so its later starts bind that one.
fn server_endpoint(
    ctx: &ExperimentContext,
    arm: &Arm,
    spec: &ExperimentSpec,
    mut server: Servers,
) -> Result<(String, Servers, Option<Balancer>)> {
    if let Some(endpoint) = broker_endpoint(ctx, arm)? {
        return Ok((endpoint, server, None));
    }
    let endpoints = server.endpoints()?;
    for (i, endpoint) in endpoints.iter().enumerate() {
        server.set_member_args(i, serve_args(ctx, spec, arm, endpoint));
    }
    if endpoints.len() == 1 {
        return Ok((endpoints[0].clone(), server, None));
    }
    let name = format!("{}-{}-{arm}", spec.kind, spec.name);
    let balancer = Balancer::start(&name, &endpoints, spec.processes as usize, &ctx.log_dir)?;
    Ok((balancer.endpoint().to_owned(), server, Some(balancer)))
}

/// The endpoint of the broker a broker arm runs through; `None` for a direct arm.
pub(crate) fn broker_endpoint(ctx: &ExperimentContext, arm: &Arm) -> Result<Option<String>> {
    let Some(broker) = arm.broker() else { return Ok(None) };
    let endpoint = ctx
        .brokers
        .get(broker)
        .cloned()
        .ok_or_else(|| Error::Config(format!("{arm}: no endpoint for broker {broker} (see `paybench brokers`)")))?;
    Ok(Some(endpoint))
}

/// Each server process's CPU time so far, ns, by pid.
fn backend_cpu(servers: &std::sync::Mutex<Servers>) -> Vec<(u32, Option<u64>)> {
    let pids = servers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pids();
    pids.into_iter().map(|pid| (pid, crate::measure::cpu::process_cpu_ns(pid))).collect()
}

/// Each backend's CPU between two readings, ms; `None` where its pid changed (a restart) or a
/// reading failed.
fn backend_cpu_delta_ms(before: &[(u32, Option<u64>)], after: &[(u32, Option<u64>)]) -> Vec<Option<f64>> {
    before
        .iter()
        .zip(after)
        .map(|(&(pid, b), &(pid_after, a))| {
            (pid == pid_after).then_some(()).and(b.zip(a)).map(|(b, a)| a.saturating_sub(b) as f64 / 1e6)
        })
        .collect()
}

/// The broker the experiment's `target = "broker"` events act on, if it has any: the arm's, and
/// only the suite's own local one (an external broker is never signalled).
fn broker_target(arm: &Arm, spec: &ExperimentSpec, endpoint: &str) -> Result<Option<events::BrokerTarget>> {
    if !spec.events.iter().any(|e| e.target == spec::Target::Broker) {
        return Ok(None);
    }
    let name = arm.broker().ok_or_else(|| {
        Error::Config(format!("{arm}: `target = \"broker\"` events need a broker arm; {arm} calls its server directly"))
    })?;
    let broker = brokers::get(name)?;
    if !broker.is_local(endpoint) {
        return Err(Error::Config(format!(
            "{arm}: `target = \"broker\"` events kill and restart the suite's own {name} broker ({}), and this run uses {} ({}): unset it to run this experiment",
            broker.local_endpoint,
            crate::endpoint::redact(endpoint),
            broker.env_var
        )));
    }
    Ok(Some(events::BrokerTarget { broker, endpoint: endpoint.to_owned() }))
}

/// The address a direct server listens on (events check a restarted one answers there).
fn direct_bind(arm: &Arm, endpoint: &str) -> Option<String> {
    arm.broker().is_none().then(|| endpoint.to_owned())
}

fn connect(ctx: &ExperimentContext, arm: &Arm, endpoint: &str, config: &ClientConfig) -> Result<Arc<AnyClient>> {
    let (arm_owned, endpoint_owned, config) = (arm.clone(), endpoint.to_owned(), config.clone());
    let connect = async move { transport::connect(&arm_owned, &endpoint_owned, &config).await };
    let first = payload::generate(crate::payload::Profile::Small, ctx.seed, 0);
    runner::connect_and_prove(&ctx.client, arm, endpoint, FIRST_CALL_WITHIN, connect, first).map(Arc::new)
}

/// The arm's capacity on this server and client: ok calls per second of a closed loop.
fn probe_capacity(
    ctx: &ExperimentContext,
    spec: &ExperimentSpec,
    client: &Arc<AnyClient>,
    pool: &Arc<Vec<crate::pb::PaymentRequest>>,
    timeout: Duration,
) -> Result<f64> {
    let c = spec.capacity;
    let window =
        Window { warmup: Duration::from_millis(c.warmup_ms), duration: Duration::from_millis(c.duration_ms), timeout };
    let raw =
        ctx.client.block_on(generator::run_closed(client.clone(), c.concurrency, pool.clone(), window, &mut ()))?;
    let ok = raw.recorder.accounting.ok;
    if ok == 0 {
        return Err(Error::Internal(format!(
            "capacity probe: no call answered in {} ms (failures: {:?})",
            c.duration_ms, raw.recorder.accounting.failed
        )));
    }
    Ok(ok as f64 / raw.completion_span.as_secs_f64().max(1e-3))
}

/// The scenario-relative path of the servers' logs for a run written to `out`.
pub fn log_dir(out: &Path) -> PathBuf {
    out.join("logs")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A timeline of a `amqp` arm that ran, with nothing in it.
    pub(crate) fn empty_timeline() -> ArmTimeline {
        super::empty_timeline(arm_record(&Arm::parse("amqp").unwrap()), ArmStatus::Ran)
    }

    #[test]
    fn each_arm_gets_a_namespace_of_its_own_that_every_broker_accepts() {
        let (a, b) = (arm_namespace("run"), arm_namespace("run"));
        assert_ne!(a, b);
        assert!(a.starts_with("run-x"), "{a}");
        let long = arm_namespace(&"n".repeat(transport::NAMESPACE_MAX_CHARS));
        for ns in [a, b, long, arm_namespace("")] {
            transport::check_namespace(&ns).unwrap_or_else(|e| panic!("{ns}: {e}"));
        }
    }

    #[test]
    fn a_broker_event_needs_a_broker_arm_and_the_suites_own_broker() {
        let spec: ExperimentSpec = toml::from_str(
            "kind = \"broker-restart\"\nname = \"x\"\narms = [\"grpc\", \"amqp\"]\nload = { rate_per_s = 10 }\nwarmup_ms = 0\nduration_ms = 1000\nevents = [{ at_ms = 100, action = \"kill\", target = \"broker\" }, { at_ms = 200, action = \"restart\", target = \"broker\" }]",
        )
        .unwrap();
        let e = check(&spec, Path::new("s.toml"), 0).unwrap_err().to_string();
        assert!(e.contains("field `events` is [\"grpc\"]") && e.contains("only on broker arms"), "{e}");
        // A restart without a kill is no broker restart.
        let mut no_kill = spec.clone();
        no_kill.arms = vec!["amqp".to_owned()];
        no_kill.events.remove(0);
        let e = check(&no_kill, Path::new("s.toml"), 0).unwrap_err().to_string();
        assert!(e.contains("needs a `kill` event on `target = \"broker\"`"), "{e}");
        // An external broker is never killed: the arm fails, naming the variable to unset.
        let amqp = Arm::parse("amqp").unwrap();
        let e = broker_target(&amqp, &spec, "amqp://guest:guest@rabbit.example:5672/%2f").unwrap_err().to_string();
        assert!(e.contains("AMQP_URL") && e.contains("suite's own rabbitmq broker"), "{e}");
        let local = broker_target(&amqp, &spec, brokers::rabbitmq::BROKER.local_endpoint).unwrap().unwrap();
        assert_eq!(local.broker.name, "rabbitmq");
        // No broker event: no target, whatever the arm.
        let grpc = Arm::parse("grpc").unwrap();
        assert!(broker_target(&grpc, &without_events(&spec), "127.0.0.1:1").unwrap().is_none());
    }

    #[test]
    fn a_fan_out_needs_its_subscriber_counts_and_a_fixed_rate_and_a_replay_its_m() {
        let spec = |text: &str| -> ExperimentSpec {
            toml::from_str(&format!("name = \"x\"\narms = [\"kafka\"]\nwarmup_ms = 0\nduration_ms = 1000\n{text}"))
                .unwrap()
        };
        let fan_out = "kind = \"fan-out\"\nload = { rate_per_s = 10 }\n";
        let e = check(&spec(fan_out), Path::new("s.toml"), 0).unwrap_err().to_string();
        assert!(e.contains("field `consumers` is []") && e.contains("at least one subscriber count"), "{e}");
        check(&spec(&format!("{fan_out}consumers = [1, 3]")), Path::new("s.toml"), 0).unwrap();
        let by_capacity = "kind = \"fan-out\"\nload = { capacity_fraction = 0.5 }\nconsumers = [1]";
        let e = check(&spec(by_capacity), Path::new("s.toml"), 0).unwrap_err().to_string();
        assert!(e.contains("field `load`") && e.contains("a fixed `rate_per_s`"), "{e}");
        let replay = "kind = \"replay\"\nload = { rate_per_s = 1 }\n";
        let e = check(&spec(replay), Path::new("s.toml"), 0).unwrap_err().to_string();
        assert!(e.contains("field `replay_events` is None") && e.contains("the events to replay"), "{e}");
        check(&spec(&format!("{replay}replay_events = 10")), Path::new("s.toml"), 0).unwrap();
    }

    fn without_events(spec: &ExperimentSpec) -> ExperimentSpec {
        ExperimentSpec { events: Vec::new(), ..spec.clone() }
    }

    #[test]
    fn an_unknown_kind_and_an_outage_without_a_return_are_named() {
        let mut spec: ExperimentSpec = toml::from_str(
            "kind = \"meltdown\"\nname = \"x\"\narms = [\"grpc\"]\nload = { rate_per_s = 10 }\nwarmup_ms = 0\nduration_ms = 1000\nevents = [{ at_ms = 100, action = \"stop\", target = \"server\" }]",
        )
        .unwrap();
        let e = check(&spec, Path::new("s.toml"), 0).unwrap_err().to_string();
        assert!(e.contains("s.toml: experiment 1 (\"x\"): field `kind` is \"meltdown\"; allowed: outage"), "{e}");
        spec.kind = "outage".to_owned();
        let e = check(&spec, Path::new("s.toml"), 0).unwrap_err().to_string();
        assert!(e.contains("followed by a continue or restart"), "{e}");
        spec.events.push(toml::from_str("at_ms = 200\naction = \"continue\"\ntarget = \"server\"").unwrap());
        check(&spec, Path::new("s.toml"), 0).unwrap();
        // Two direct backends sit behind a balancer; a scale puts a third, started idle, in rotation.
        spec.processes = 2;
        check(&spec, Path::new("s.toml"), 0).unwrap();
        spec.events.push(toml::from_str("at_ms = 300\naction = \"scale\"\ntarget = \"server\"\nto = 3").unwrap());
        check(&spec, Path::new("s.toml"), 0).unwrap();
        assert_eq!(started_processes(&spec, &Arm::parse("grpc").unwrap()), 3);
        assert_eq!(
            started_processes(&spec, &Arm::parse("amqp").unwrap()),
            2,
            "a queue group starts its new workers then"
        );
    }
}
