//! The `results.json` schema, shared by `paybench run` (writer), `paybench report` and
//! `paybench compare` (readers): every type here is `Serialize + Deserialize`, so readers use the
//! same structs. `results/SCHEMA.md` documents each field.
//!
//! Shape: [`RunResults`] holds the [`Environment`], the scenario and settings as run, and one
//! [`ArmResult`] per (transport, profile). An arm holds [`PointResult`]s (one load point, every
//! repetition as a [`Measurement`], plus a [`PointSummary`] of min/median/max across repetitions)
//! and optionally a [`SweepResult`]. Latency views are [`LatencyStats`], each carrying its HDR
//! histogram losslessly (V2 + DEFLATE, base64: the HdrHistogram log format) so runs can be merged.
//!
//! Units are in the field names: `_us` microseconds, `_s` seconds, `_per_s` per second.

pub mod busy;
pub mod csv;
pub mod experiment;
pub mod stats;
pub mod timeline;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::payload::Profile;
use crate::scenario::{LoadSpec, Scenario};
use crate::{Error, Result};

pub use stats::{LatencyStats, Spread};

/// Version of this schema; bumped on any incompatible change.
/// Version 3 records each arm's family and broker kind (plain records; before it, an arm was
/// read back through the transport registry).
pub const SCHEMA_VERSION: u32 = 3;

/// Everything one `paybench run` produced: `results/<run-id>/results.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunResults {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// Unique id, also the default output folder name (`<UTC time>-<scenario>`).
    pub run_id: String,
    /// RFC 3339 UTC start time.
    pub started_at: String,
    /// RFC 3339 UTC end time.
    pub finished_at: String,
    /// Machine, toolchain and broker facts.
    pub environment: Environment,
    /// How the run connected and was placed (not what it measured).
    pub settings: RunSettings,
    /// The scenarios as run (after `--transports` / `--profile` filters), in full.
    pub scenarios: Vec<Scenario>,
    /// One entry per scenario × transport × profile, in run order.
    pub arms: Vec<ArmResult>,
    /// The `[server_capacity]` arms: closed-loop windows driven by the replay client (`client` =
    /// `replay`), one entry per scenario × transport × profile; see [`server_capacity_of`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_capacity: Vec<ArmResult>,
    /// Where each scenario × profile with `[operating_points]` placed them (or why it could not).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operating_points: Vec<OperatingPlan>,
    /// Encode and decode time per body, measured by the run itself (`measure::codec`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codec: Vec<crate::codec_timing::CodecTiming>,
    /// The scenarios' timed experiments (`[[experiment]]`), with their timelines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<experiment::ExperimentResult>,
}

/// The operating points of one scenario × profile: rates placed at fractions of the lower of the
/// claim pair's capacities, measured after every capacity search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatingPlan {
    /// Scenario name.
    pub scenario: String,
    /// Payload profile.
    pub profile: Profile,
    /// The arm of the pair with the lower capacity (`None` when the plan failed).
    pub basis_arm: Option<String>,
    /// Its capacity: the median over its server-bound searches, or over its end-to-end ones when
    /// `basis_client_bound`.
    pub basis_rate_per_s: Option<f64>,
    /// The pair had no server capacity and the basis is an end-to-end one (the client limited the
    /// searches): a lower bound of the server's capacity.
    #[serde(default)]
    pub basis_client_bound: bool,
    /// Each arm of the pair's capacity as used (server or end-to-end, as the basis), by name.
    pub capacities_per_s: BTreeMap<String, f64>,
    /// The points, lowest rate first.
    pub points: Vec<OperatingPoint>,
    /// The arms measured at them.
    pub arms: Vec<String>,
    /// Why no point was measured, when none was.
    pub skipped: Option<String>,
}

/// One operating point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatingPoint {
    /// `25 %`, `50 %`, ... of the basis capacity, or the basis itself: `capacity` (server-bound)
    /// or `end-to-end capacity`.
    pub name: String,
    /// Fraction of the basis capacity (1 for `capacity`).
    pub fraction: f64,
    /// Offered rate, calls per second (rounded to a whole call).
    pub rate_per_s: f64,
}

/// Facts about the machine and software that produced the numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// `git rev-parse HEAD` of the working tree, `+dirty` appended when it had changes.
    pub git_commit: String,
    /// `rustc -V` of the toolchain on PATH.
    pub rustc_version: String,
    /// paybench's crate version.
    pub paybench_version: String,
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: String,
    /// Logical cores available to this process.
    pub cpu_cores: usize,
    /// Kernel release (/proc/sys/kernel/osrelease).
    pub kernel: String,
    /// Hostname.
    pub hostname: String,
    /// Brokers the run used, one per broker arm that connected.
    pub brokers: Vec<BrokerMeta>,
}

/// A broker's identity, named next to every broker number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerMeta {
    /// Canonical name of the arm that used it (`amqp`, `kafka-json`, ...).
    pub transport: String,
    /// The product as the broker module names it (`RabbitMQ`, `Apache Kafka`, `nats-server`; runs
    /// before 2026-12 name `Tansu`), or `unknown`.
    pub implementation: String,
    /// Version as the broker reports it, or `unknown`.
    pub version: String,
    /// URL or address, credentials redacted.
    pub endpoint: String,
    /// The arm's resolved options, which decide its latency (durability, workers, linger, fetch
    /// wait, reply-to mode), by name.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
}

/// Connection, threading and placement settings (HOW the run was done, apart from WHAT).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSettings {
    /// `--target`: an external server's address, or `None` when paybench started its own servers.
    pub target: Option<String>,
    /// Each broker's endpoint by broker name (`--broker NAME=ENDPOINT`, `AMQP_URL`,
    /// `KAFKA_BROKERS`, `NATS_URL`, else the suite's own), credentials redacted.
    pub brokers: BTreeMap<String, String>,
    /// Per-family option defaults from `--settings FILE` and `PAYBENCH_<FAMILY>_<OPTION>`
    /// (already folded into each arm's `options`).
    #[serde(default)]
    pub arm_settings: BTreeMap<String, BTreeMap<String, String>>,
    /// Worker threads of the client (load generator) runtime.
    pub client_threads: usize,
    /// Worker threads of the in-process server runtime (0 with `--target`).
    pub server_threads: usize,
    /// CPUs the client threads were pinned to (`--client-cpus`), empty when unpinned.
    pub client_cpus: Vec<usize>,
    /// CPUs the server threads were pinned to (`--server-cpus`), empty when unpinned.
    pub server_cpus: Vec<usize>,
    /// One line saying where client and server ran relative to each other.
    pub placement: String,
    /// How wire bytes were measured.
    pub wire_method: String,
    /// How CPU time was measured.
    pub cpu_method: String,
    /// The command line.
    pub command_line: Vec<String>,
    /// `--namespace`: the prefix of every broker queue, topic, subject and group name, empty for
    /// none (runs sharing a broker under different namespaces never see each other's requests).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Seed of the order in which arms ran within each repetition (shuffled per repetition, so
    /// slow drift of the machine is spread over all arms instead of favouring the first).
    #[serde(default)]
    pub order_seed: Option<u64>,
    /// The order run: one list per repetition of `scenario/arm/profile` units.
    #[serde(default)]
    pub order: Vec<Vec<String>>,
}

/// Whether an arm ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum ArmStatus {
    /// Every point ran (individual calls may still have failed: see accounting).
    Ran,
    /// The arm could not start (server, broker or client unreachable): nothing was measured.
    Unavailable {
        /// `paybench::Error::kind()` of the failure.
        kind: String,
        /// The full error message, naming the transport and endpoint.
        message: String,
    },
}

/// One transport × profile within one scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmResult {
    /// Scenario name.
    pub scenario: String,
    /// Transport arm, by canonical name (`rest-h2`, `amqp-json-durable`).
    pub transport: String,
    /// The arm's family (`http`, `grpc`, `amqp`, ...). Files before schema 3 do not store it:
    /// [`RunResults::read`] fills it in from [`SCHEMA_2_FAMILIES`].
    #[serde(default)]
    pub family: String,
    /// The broker the family runs over (`rabbitmq`, `kafka`, `nats`); `null` for a direct arm.
    /// Filled in as `family` is for older files.
    #[serde(default)]
    pub broker_kind: Option<String>,
    /// Body codec of the arm (`protobuf` or `json`).
    pub codec: String,
    /// Every option of the arm's family, resolved (defaults, `--settings`, the scenario's table).
    /// Empty in files written before schema 2.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Payload profile.
    pub profile: Profile,
    /// Endpoint the client used (credentials redacted).
    pub endpoint: String,
    /// Broker identity, for broker arms that connected.
    pub broker: Option<BrokerMeta>,
    /// Whether it ran.
    pub status: ArmStatus,
    /// Fixed load points.
    pub points: Vec<PointResult>,
    /// Rate sweep, when the scenario asks for one.
    pub sweep: Option<SweepResult>,
    /// The client that drove the arm: `full-stack` (the transport's own client, encoding and
    /// decoding every call) or `replay` (pre-encoded bytes, for server capacity). Files written
    /// before the replay client existed read as `full-stack`.
    #[serde(default = "full_stack")]
    pub client: String,
}

/// The `client` of an arm driven by the transport's own client.
pub const FULL_STACK_CLIENT: &str = "full-stack";

fn full_stack() -> String {
    FULL_STACK_CLIENT.to_owned()
}

/// Family and broker of the arms in files written before schema 3, by the first part of the
/// canonical name (the family's stem). Frozen with schema 2: later families are recorded in the
/// file, so reading one never consults today's transport registry.
pub const SCHEMA_2_FAMILIES: [(&str, &str, Option<&str>); 8] = [
    ("inproc", "inproc", None),
    ("sim", "sim", None),
    ("tcp", "tcp", None),
    ("grpc", "grpc", None),
    ("rest", "http", None),
    ("amqp", "amqp", Some("rabbitmq")),
    ("kafka", "kafka", Some("kafka")),
    ("nats", "nats", Some("nats")),
];

impl ArmResult {
    /// Fills in `family` and `broker_kind` for a file before schema 3 (see [`SCHEMA_2_FAMILIES`]).
    fn upgrade_from_schema_2(&mut self) -> Result<()> {
        if !self.family.is_empty() {
            return Ok(());
        }
        let stem = self.transport.split('-').next().unwrap_or_default();
        let (_, family, broker) = SCHEMA_2_FAMILIES.iter().find(|(s, _, _)| *s == stem).ok_or_else(|| {
            Error::Config(format!(
                "arm {:?} records no family, and {stem:?} is not a schema-2 family stem ({})",
                self.transport,
                SCHEMA_2_FAMILIES.map(|(s, _, _)| s).join(", ")
            ))
        })?;
        self.family = (*family).to_owned();
        self.broker_kind = broker.map(str::to_owned);
        Ok(())
    }

    /// Whether the arm runs over a broker.
    pub fn is_broker_arm(&self) -> bool {
        self.broker_kind.is_some()
    }
}

/// One load point (model + concurrency or rate), every repetition.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointResult {
    /// The load applied.
    pub load: LoadSpec,
    /// The operating point this is (`OperatingPoint::name`), for points placed from the measured
    /// capacity; `None` for the scenario's fixed `[[load]]` points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_point: Option<String>,
    /// One measurement per repetition, in order.
    pub repetitions: Vec<Measurement>,
    /// min / median / max of the headline figures across repetitions.
    pub summary: PointSummary,
}

/// One measured window: `warmup` excluded, `duration` recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    /// 0-based repetition index.
    pub repetition: u32,
    /// Length of the measured window (send times), seconds.
    pub window_s: f64,
    /// Offered arrival rate (open loop), `None` for closed loop.
    pub offered_rate_per_s: Option<f64>,
    /// Calls sent per second of window (all outcomes).
    pub sent_rate_per_s: f64,
    /// Throughput: calls completed ok over `completion_span_s`, from the first recorded send to
    /// the last completion. Never the offered rate: an overloaded point shows what got through.
    pub achieved_rate_per_s: f64,
    /// From the first recorded send (intended time, open loop) to the last completion, seconds.
    #[serde(default)]
    pub completion_span_s: f64,
    /// The completion span exceeded the send window by more than 10 %: calls queued faster than
    /// they were served, so the offered rate was above what the arm sustains.
    #[serde(default)]
    pub backlogged: bool,
    /// The client was the bottleneck (`busy.bottleneck == "client"`), or (open loop) the p99
    /// schedule lag was over 1 ms and at least half the corrected p99: the figures describe the
    /// generator, not the server.
    pub generator_bound: bool,
    /// Busy shares of client, server, broker and machine over the send phase, and the bottleneck
    /// they name (`measure::busy`); `null` for a window that could not be measured.
    #[serde(default)]
    pub busy: Option<busy::BusyShares>,
    /// Every call's outcome.
    pub accounting: Accounting,
    /// Latency as a user sees it: from the intended send time in open loop (coordinated-omission
    /// corrected), from the actual send in closed loop. Ok calls only.
    pub latency: LatencyStats,
    /// Service time: from the actual send to the reply (uncorrected). Ok calls only.
    pub service_time: LatencyStats,
    /// Open loop only: how late the generator dispatched each call versus its schedule.
    pub schedule_lag: Option<LatencyStats>,
    /// Bytes on the wire, measured by the kernel.
    pub wire: Option<WireBytes>,
    /// CPU seconds per call by role.
    pub cpu: CpuPerCall,
    /// More than `measure::busy::FOREIGN_CORES_LIMIT` cores of foreign CPU ran beside this window
    /// on its last try (`busy.foreign_cores`): its figures are not the arm's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub contaminated: bool,
    /// How many earlier tries of this window were thrown away as contaminated.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub contaminated_reruns: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Measurement {
    /// A window with these counts and no figures: no time, no latency, no wire or CPU reading
    /// (a window the generator could not measure, or a test's constructed one).
    pub fn unmeasured(repetition: u32, accounting: Accounting) -> Self {
        Self {
            repetition,
            window_s: 0.0,
            offered_rate_per_s: None,
            sent_rate_per_s: 0.0,
            achieved_rate_per_s: 0.0,
            completion_span_s: 0.0,
            backlogged: false,
            generator_bound: false,
            busy: None,
            accounting,
            latency: Default::default(),
            service_time: Default::default(),
            schedule_lag: None,
            wire: None,
            cpu: CpuPerCall::default(),
            contaminated: false,
            contaminated_reruns: 0,
        }
    }
}

/// Call counts of one window. Dispatches and outcomes are counted at different moments (a call is
/// counted as sent when the generator hands it over, its outcome when it completes), so a call that
/// vanishes breaks the invariant `scheduled == sent == ok + failed_total + timed_out` instead of
/// going unseen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accounting {
    /// Calls the window's schedule planned (open loop: one per intended send time in the window);
    /// `None` for a closed loop, which has no schedule, and in files before schema 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<u64>,
    /// Calls the generator dispatched in the window, counted at dispatch.
    pub sent: u64,
    /// Calls answered with a valid response.
    pub ok: u64,
    /// Calls that ended with an error other than a timeout, total.
    pub failed_total: u64,
    /// Failed calls by `paybench::Error::kind()`.
    pub failed: BTreeMap<String, u64>,
    /// Calls with no reply within the timeout (counted from the intended send in open loop).
    pub timed_out: u64,
    /// One example message per failure kind, to say why.
    pub failure_examples: BTreeMap<String, String>,
}

impl Accounting {
    /// Whether `scheduled == sent == ok + failed_total + timed_out` (the schedule where there is
    /// one) and `failed_total` is the sum of `failed`.
    pub fn balances(&self) -> bool {
        self.scheduled.is_none_or(|s| s == self.sent)
            && self.sent == self.ok + self.failed_total + self.timed_out
            && self.failed_total == self.failed.values().sum::<u64>()
    }
}

#[cfg(test)]
mod accounting_tests {
    use super::Accounting;

    #[test]
    fn a_call_without_an_outcome_or_off_schedule_unbalances_the_window() {
        let balanced = Accounting { scheduled: Some(10), sent: 10, ok: 8, timed_out: 2, ..Default::default() };
        assert!(balanced.balances());
        // One dispatched call whose outcome never arrived.
        let lost = Accounting { ok: 7, ..balanced.clone() };
        assert!(!lost.balances());
        // The pacer sent fewer calls than the schedule planned.
        let behind = Accounting { scheduled: Some(11), ..balanced.clone() };
        assert!(!behind.balances());
        // A failure counted in the total but not by kind.
        let unkinded = Accounting { ok: 7, failed_total: 1, ..balanced.clone() };
        assert!(!unkinded.balances());
        // A closed loop has no schedule.
        assert!(Accounting { scheduled: None, ..balanced }.balances());
    }
}

/// Bytes on the wire for one measured window.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireBytes {
    /// Calls the totals are divided by (`accounting.sent`).
    pub calls: u64,
    /// One entry per TCP hop: `client` (client<->server or client<->broker) and, for brokers,
    /// `worker` (worker<->broker).
    pub hops: Vec<HopBytes>,
}

/// Kernel counters for the sockets of one hop, seen from the connecting side (client or worker).
/// `sent` is connecting side -> listening side (request direction on the client hop; reply
/// direction on a broker's worker hop); `received` the other way.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HopBytes {
    /// `client` or `worker`.
    pub hop: String,
    /// The listening port (server or broker).
    pub port: u16,
    /// Sockets summed.
    pub sockets: usize,
    /// L3 bytes sent: TCP payload + IP/TCP headers of every segment (pure ACKs included).
    pub sent_bytes_total: u64,
    /// L3 bytes received, likewise.
    pub received_bytes_total: u64,
    /// TCP payload bytes sent (`bytes_acked`).
    pub sent_payload_bytes_total: u64,
    /// TCP payload bytes received (`bytes_received`).
    pub received_payload_bytes_total: u64,
    /// Segments sent (`segs_out`).
    pub sent_segments_total: u64,
    /// Segments received (`segs_in`).
    pub received_segments_total: u64,
    /// `sent_bytes_total / calls`.
    pub sent_bytes_per_call: f64,
    /// `received_bytes_total / calls`.
    pub received_bytes_per_call: f64,
    /// Segments per call, both directions.
    pub segments_per_call: f64,
}

/// CPU per call by role, microseconds of CPU time (user + system) per call sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuPerCall {
    /// The load generator and client library (threads `pb-client*`).
    pub client_us_per_call: Option<f64>,
    /// Open loop: the part of `client_us_per_call` the pacer spent spinning to each call's intended
    /// time (generator CPU, not the client library's). Absent in closed loop and in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pacer_spin_us_per_call: Option<f64>,
    /// The server or worker (threads `pb-server*`, or `--server-pid`). `inproc` does its server
    /// work on the client threads, so its server figure is 0.
    pub server_us_per_call: Option<f64>,
    /// The broker process (beam.smp, Kafka's java), for broker arms.
    pub broker_us_per_call: Option<f64>,
    /// This process's threads that are neither client nor server: the orchestrating main thread
    /// and threads client libraries start themselves (librdkafka `rdk:*`, lapin), which cannot be
    /// split between client and worker. Reported so that no CPU goes unaccounted.
    pub unattributed_us_per_call: Option<f64>,
    /// Client CPU as a share of one core over the window (1.0 = one core busy).
    pub client_cores: Option<f64>,
    /// Server CPU as a share of one core.
    pub server_cores: Option<f64>,
    /// Broker CPU as a share of one core.
    pub broker_cores: Option<f64>,
}

/// min / median / max across repetitions of one load point's headline figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointSummary {
    /// Repetitions summarised.
    pub repetitions: u32,
    /// Whether any repetition was generator-bound.
    pub any_generator_bound: bool,
    /// Throughput (ok calls per second).
    pub achieved_rate_per_s: Spread,
    /// Latency p50 (corrected view in open loop).
    pub p50_us: Spread,
    /// Latency p90.
    pub p90_us: Spread,
    /// Latency p99.
    pub p99_us: Spread,
    /// Latency p99.9.
    pub p999_us: Spread,
    /// Latency max.
    pub max_us: Spread,
    /// Service-time p99 (uncorrected).
    pub service_p99_us: Spread,
    /// Share of sent calls that did not end ok.
    pub error_ratio: Spread,
    /// Client-hop bytes per call, request direction.
    pub client_sent_bytes_per_call: Option<Spread>,
    /// Client-hop bytes per call, response direction.
    pub client_received_bytes_per_call: Option<Spread>,
    /// Worker-hop bytes per call (brokers), worker -> broker.
    pub worker_sent_bytes_per_call: Option<Spread>,
    /// Worker-hop bytes per call (brokers), broker -> worker.
    pub worker_received_bytes_per_call: Option<Spread>,
    /// Client CPU µs per call.
    pub client_cpu_us_per_call: Option<Spread>,
    /// Server CPU µs per call.
    pub server_cpu_us_per_call: Option<Spread>,
    /// Broker CPU µs per call.
    pub broker_cpu_us_per_call: Option<Spread>,
}

/// A rate sweep: offered rate raised step by step until the SLO breaks, per repetition.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepResult {
    /// The p99 (corrected) service-level objective, microseconds.
    pub slo_p99_us: f64,
    /// One sweep per repetition.
    pub repetitions: Vec<SweepRun>,
    /// The search's target resolution (relative; 0.05 = the first failing rate at most 5 % above
    /// the capacity).
    #[serde(default)]
    pub target_resolution: f64,
    /// min / median / max across repetitions of the capacity (repetitions that found none are
    /// left out; `repetitions` says how many there were).
    pub max_sustainable_rate_per_s: Spread,
}

/// One sweep: its steps in order and where it stopped.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepRun {
    /// 0-based repetition.
    pub repetition: u32,
    /// Every step measured, in the order run (growth, confirmations, bisection).
    pub steps: Vec<Measurement>,
    /// Each step's verdict, aligned with `steps`: `pass`, or the failure (`slo`, `errors`,
    /// `backlog`), and whether it was a `confirm` re-run of a failed rate.
    #[serde(default)]
    pub step_verdicts: Vec<String>,
    /// Highest offered rate that met the SLO (corrected p99) with every call ok: the capacity.
    pub max_sustainable_rate_per_s: Option<f64>,
    /// Lowest offered rate that failed twice (the step and its confirmation); `None` when no
    /// rate up to the sweep's maximum failed.
    #[serde(default)]
    pub first_failing_rate_per_s: Option<f64>,
    /// `(first failing − capacity) / capacity`: how far above the capacity the true limit may
    /// lie. `None` when either end is missing.
    #[serde(default)]
    pub resolution: Option<f64>,
    /// What limited the failing rate, by `measure::busy`'s rule: `server`, `client`, `broker`,
    /// `machine` or `none` (the SLO broke with no resource saturated). A `client` capacity is a
    /// figure of the generator, not of the transport.
    #[serde(default)]
    pub bottleneck: Option<String>,
    /// Why the sweep stopped: `bracketed` (capacity found to the resolution), `max_rate` (no
    /// failure up to the maximum), `below_min` (even the lowest rate tried failed).
    pub stop_reason: String,
}

/// What one capacity search measured, by what limited its bracketing failure (the step that
/// failed twice just above the capacity). Only a [`CapacityReading::Server`] reading is the
/// transport's capacity and may place operating points as such.
#[derive(Debug, Clone, PartialEq)]
pub enum CapacityReading {
    /// The server (or, on a broker arm, the broker) was at least [`SERVER_BOUND_SHARE`] busy while
    /// the client stayed under [`CLIENT_FREE_SHARE`], the generator kept its schedule and nothing
    /// foreign ran: the rate is the server's capacity on its cores.
    Server {
        /// The capacity.
        rate_per_s: f64,
        /// `server` or `broker`.
        by: String,
    },
    /// The client (generator and client library) was the bottleneck: the rate is what this client
    /// on its cores and this server reach together, the end-to-end capacity, a lower bound of the
    /// server's.
    EndToEnd {
        /// The highest rate that met the SLO.
        rate_per_s: f64,
        /// The client's busy share at the failing step.
        client_share: f64,
    },
    /// Anything else: the rate is only a lower bound, for the reason given.
    LowerBound {
        /// The highest rate that met the SLO.
        rate_per_s: f64,
        /// Why it is no capacity.
        why: String,
    },
    /// Even the lowest rate tried failed.
    Nothing,
}

/// The busy share a server (or broker) must reach at the bracketing failure for the search to
/// count as its capacity.
pub const SERVER_BOUND_SHARE: f64 = 0.9;
/// ...while the client stays under this share (otherwise both were near saturation and the
/// client's limit may be the one that broke the SLO).
pub const CLIENT_FREE_SHARE: f64 = 0.7;

impl CapacityReading {
    /// The transport's capacity, if the search was server-bound.
    pub fn server_rate(&self) -> Option<f64> {
        match self {
            CapacityReading::Server { rate_per_s, .. } => Some(*rate_per_s),
            _ => None,
        }
    }

    /// The end-to-end capacity (this client with this server), if the search saturated the client
    /// or the server.
    pub fn end_to_end_rate(&self) -> Option<f64> {
        match self {
            CapacityReading::Server { rate_per_s, .. } | CapacityReading::EndToEnd { rate_per_s, .. } => {
                Some(*rate_per_s)
            }
            _ => None,
        }
    }
}

impl SweepRun {
    /// The failing step that bracketed the capacity: the last one measured at the first failing
    /// rate (its confirmation).
    pub fn bracketing_failure(&self) -> Option<&Measurement> {
        let fail = self.first_failing_rate_per_s?;
        self.steps
            .iter()
            .zip(&self.step_verdicts)
            .rev()
            .find_map(|(m, v)| (m.offered_rate_per_s == Some(fail) && !v.ends_with("pass")).then_some(m))
    }

    /// What this search measured (see [`CapacityReading`]).
    pub fn reading(&self) -> CapacityReading {
        let Some(rate_per_s) = self.max_sustainable_rate_per_s else { return CapacityReading::Nothing };
        let lower = |why: String| CapacityReading::LowerBound { rate_per_s, why };
        if self.first_failing_rate_per_s.is_none() {
            return lower("no failure up to the search's maximum rate".into());
        }
        let Some(failure) = self.bracketing_failure() else {
            return lower("the failing step is not in the file".into());
        };
        let Some(busy) = &failure.busy else { return lower("no busy shares were recorded".into()) };
        if failure.contaminated {
            return lower(format!(
                "{:.2} cores of foreign CPU ran beside the failing step",
                busy.foreign_cores.unwrap_or_default()
            ));
        }
        let (by, sut) = match (busy.server, busy.broker) {
            (_, Some(broker)) if broker > busy.server.unwrap_or(0.0) => ("broker", broker),
            (server, _) => ("server", server.unwrap_or(0.0)),
        };
        if busy.bottleneck == "client" {
            return CapacityReading::EndToEnd { rate_per_s, client_share: busy.client };
        }
        if failure.generator_bound {
            return lower("the generator fell behind its schedule at the failing step".into());
        }
        if sut >= SERVER_BOUND_SHARE && busy.client < CLIENT_FREE_SHARE {
            return CapacityReading::Server { rate_per_s, by: by.to_owned() };
        }
        lower(format!(
            "the SLO broke with the {by} {:.0} % and the client {:.0} % busy: not server-bound",
            sut * 100.0,
            busy.client * 100.0
        ))
    }
}

/// What one `[server_capacity]` window measured (replay client, closed loop, server alone on its
/// core): the server's capacity when every call answered, nothing foreign ran and the server was
/// at least [`SERVER_BOUND_SHARE`] busy; a lower bound otherwise, with the reason.
///
/// Unlike a search, the client's share is not asked: on two cores the replay client spends about
/// as much CPU per call as the server (13 against 14 µs for gRPC), so both cores are near
/// saturation at once. What shows that the client is not the limit is the server's own share and
/// `harness/scripts/validate-generator.sh`, where replay reaches 0.9x or more of wrk and h2load on
/// the same server.
pub fn server_capacity_of(m: &Measurement) -> CapacityReading {
    let rate_per_s = m.achieved_rate_per_s;
    let lower = |why: String| CapacityReading::LowerBound { rate_per_s, why };
    if m.accounting.ok == 0 {
        return CapacityReading::Nothing;
    }
    if m.accounting.failed_total + m.accounting.timed_out > 0 {
        return lower(format!("{} calls failed or timed out", m.accounting.failed_total + m.accounting.timed_out));
    }
    let Some(busy) = &m.busy else { return lower("no busy shares were recorded".into()) };
    if m.contaminated {
        return lower(format!("{:.2} cores of foreign CPU ran beside it", busy.foreign_cores.unwrap_or_default()));
    }
    match busy.server {
        Some(server) if server >= SERVER_BOUND_SHARE => CapacityReading::Server { rate_per_s, by: "server".into() },
        Some(server) => lower(format!("the server was {:.0} % busy: not server-bound", server * 100.0)),
        None => lower("the server's CPU was not recorded".into()),
    }
}

/// The gzipped copy of a results file: `results.json` → `results.json.gz`.
pub fn gzipped(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    name.into()
}

/// The text of a results file: `path`, or, when it is absent, its gzipped copy beside it; with the
/// file it read, for errors.
pub fn read_stored(path: &Path) -> (std::path::PathBuf, std::io::Result<String>) {
    let gz = gzipped(path);
    if path.exists() || !gz.is_file() {
        return (path.to_path_buf(), std::fs::read_to_string(path));
    }
    let text = std::fs::File::open(&gz).and_then(|file| {
        use std::io::Read;
        let mut text = String::new();
        flate2::read::GzDecoder::new(file).read_to_string(&mut text).map(|_| text)
    });
    (gz, text)
}

/// Whether `dir` holds a results file, plain or gzipped.
pub fn has_results(dir: &Path) -> bool {
    let path = dir.join("results.json");
    path.is_file() || gzipped(&path).is_file()
}

impl RunResults {
    /// Reads a `results.json`, or, when `path` is absent, the gzipped copy beside it
    /// (`results.json.gz`: how the committed reference run is stored, to keep `results/` small).
    pub fn read(path: &Path) -> Result<Self> {
        let (read, text) = read_stored(path);
        let text = text.map_err(|e| Error::io(format!("read {}", read.display()), e))?;
        let mut results: Self = serde_json::from_str(&text)
            .map_err(|e| Error::Config(format!("{}: not a paybench results file: {e}", path.display())))?;
        results.upgrade().map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        Ok(results)
    }

    /// Brings a file of an older schema to this one's records (see [`SCHEMA_2_FAMILIES`]).
    pub fn upgrade(&mut self) -> Result<()> {
        for arm in self.arms.iter_mut().chain(self.server_capacity.iter_mut()) {
            arm.upgrade_from_schema_2()?;
        }
        Ok(())
    }

    /// The form `results.json` is written in: every fixed and operating point keeps the lossless
    /// histogram of its latency (and of its schedule lag), while the steps of a capacity search keep only their summaries (percentiles,
    /// counts, rates; `histogram_v2_deflate_b64` empty): a search runs ten or more steps per
    /// repetition, and their histograms would be most of the file while no figure reads them.
    pub fn compacted(&self) -> Self {
        let mut out = self.clone();
        // Service time (send to reply, uncorrected) is read as percentiles only; the corrected
        // latency's histogram is what spectra and merges need.
        for m in out.arms.iter_mut().flat_map(|a| a.points.iter_mut()).flat_map(|p| p.repetitions.iter_mut()) {
            m.service_time.histogram_v2_deflate_b64.clear();
        }
        // Schedule lag is read as percentiles only (its p99 in the arms table).
        for m in out.arms.iter_mut().flat_map(|a| a.points.iter_mut()).flat_map(|p| p.repetitions.iter_mut()) {
            if let Some(lag) = m.schedule_lag.as_mut() {
                lag.histogram_v2_deflate_b64.clear();
            }
        }
        // A server-capacity window is read for its rate and shares only.
        for m in out.server_capacity.iter_mut().flat_map(|a| a.points.iter_mut()).flat_map(|p| p.repetitions.iter_mut())
        {
            m.latency.histogram_v2_deflate_b64.clear();
            m.service_time.histogram_v2_deflate_b64.clear();
        }
        for run in out.arms.iter_mut().filter_map(|a| a.sweep.as_mut()).flat_map(|s| s.repetitions.iter_mut()) {
            for step in &mut run.steps {
                step.latency.histogram_v2_deflate_b64.clear();
                step.service_time.histogram_v2_deflate_b64.clear();
                if let Some(lag) = step.schedule_lag.as_mut() {
                    lag.histogram_v2_deflate_b64.clear();
                }
            }
        }
        out
    }

    /// Writes `results.json` (minified, [`RunResults::compacted`]) and `results.csv` into `dir` atomically: each file is written to a
    /// temporary name in the same folder, synced, then renamed over the final name.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        let json =
            serde_json::to_vec(&self.compacted()).map_err(|e| Error::Internal(format!("serialize results: {e}")))?;
        write_atomic(&dir.join("results.json"), &json)?;
        write_atomic(&dir.join("results.csv"), csv::export(self).as_bytes())
    }
}

/// Writes `bytes` to `path` via a temporary file and a rename, so a reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let io = |what: &str, e| Error::io(format!("{what} {}", tmp.display()), e);
    let mut file = std::fs::File::create(&tmp).map_err(|e| io("create", e))?;
    file.write_all(bytes).map_err(|e| io("write", e))?;
    file.sync_all().map_err(|e| io("sync", e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(format!("rename to {}", path.display()), e))
}

#[cfg(test)]
mod schema_tests {
    /// A file of schema 2 (before arms recorded their family) still loads: each arm gets its
    /// family and broker from the frozen stem table.
    #[test]
    fn a_schema_2_file_loads_with_families_filled_in() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/small-run/results.json");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(r#"{"schema_version":2"#), "the fixture is of schema 2");
        let results = super::RunResults::read(&path).unwrap();
        assert!(!results.arms.is_empty());
        for arm in &results.arms {
            let stem = arm.transport.split('-').next().unwrap();
            let expected = if stem == "rest" { "http" } else { stem };
            assert_eq!(arm.family, expected, "{}", arm.transport);
            assert_eq!(arm.is_broker_arm(), ["amqp", "kafka", "nats"].contains(&stem), "{}", arm.transport);
        }
        let mut unknown = results.arms[0].clone();
        unknown.family.clear();
        unknown.transport = "carrier-pigeon".into();
        let e = unknown.upgrade_from_schema_2().unwrap_err().to_string();
        assert!(e.contains("carrier-pigeon") && e.contains("rest, amqp"), "{e}");
    }
}
