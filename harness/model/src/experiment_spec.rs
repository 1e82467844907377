//! `[[experiment]]` in a scenario file: what a timed experiment runs, as data. Its kind names
//! one row of `crate::experiment::KINDS`; its events are `{ at_ms, action, target }` records that the
//! harness carries out on real processes (the `paybench` crate's `experiment::events`).
//!
//! ```toml
//! [[experiment]]
//! kind = "outage"
//! name = "stop"
//! arms = ["grpc", "amqp-durable"]
//! load = { capacity_fraction = 0.5 }
//! warmup_ms = 2000
//! duration_ms = 20000
//! events = [
//!   { at_ms = 5000, action = "stop", target = "server" },
//!   { at_ms = 10000, action = "continue", target = "server" },
//! ]
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::payload::Profile;
use crate::{Error, Result};

/// One experiment of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Its kind, one of `crate::experiment::KINDS` (`outage`).
    pub kind: String,
    /// Its name within the scenario (`stop`, `kill`), in results and the report.
    pub name: String,
    /// The arms it runs, by canonical name; each must be one of the scenario's `transports`.
    pub arms: Vec<String>,
    /// The payload profile (default `typical`).
    #[serde(default = "default_profile")]
    pub profile: Profile,
    /// The offered load, open loop, from the start (and through the warm-up).
    pub load: PhaseLoad,
    /// Later changes of the offered load (`[[experiment.phases]]`), each from its `from_ms` into
    /// the timeline on: a burst is `load` at half the capacity, a phase at 3x, a phase back at
    /// half. Empty: `load` throughout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<LoadPhase>,
    /// Load before the timeline starts (not recorded), milliseconds.
    pub warmup_ms: u64,
    /// The timeline's length, milliseconds; events fall within it.
    pub duration_ms: u64,
    /// A call with no reply after this long counts as timed out, milliseconds (default: the
    /// scenario's `timeout_ms`).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// An answered call slower than this (from its intended send) counts as late, milliseconds.
    #[serde(default = "default_late_after_ms")]
    pub late_after_ms: u64,
    /// Most calls in flight at once, like a client's pool limit; calls past it wait for a slot,
    /// and the wait counts in their latency and against their deadline.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: u32,
    /// The closed-loop window that measures each arm's capacity when `load` is a fraction of it.
    #[serde(default)]
    pub capacity: CapacityProbeSpec,
    /// Server processes at the start. For a direct arm, N > 1 backends behind an L4 balancer
    /// (HAProxy, TCP, round robin per connection; a `scale` puts more, started idle with it, in
    /// rotation); for a broker arm, a queue
    /// group of this many `paybench serve` worker processes (each with its arm's `workers`
    /// connections). Events act on every one of them, never on the balancer.
    #[serde(default = "default_processes")]
    pub processes: u32,
    /// Each call's simulated service time in the server or worker, microseconds: the business
    /// function waits this long without using the CPU, like a call to a downstream system
    /// (unset: the scenario's `service_time_us`). A worker's capacity is then its concurrency
    /// divided by it, whatever the cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_time_us: Option<u64>,
    /// CPU work per call in the server or worker, microseconds: its thread spins this long, so a
    /// one-thread server has a capacity of about one call per busy time and is the bottleneck,
    /// not the client sharing the machine (unset: the scenario's `service_busy_us`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_busy_us: Option<u64>,
    /// Most connections an HTTP/1.1 client opens (`rest`), like a pool with a maximum; calls past
    /// it wait for a connection. Unset: one per call in flight (up to `max_in_flight`). Clients
    /// that multiplex on fixed connections ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// What happens, and when (none: the load alone, as in a `burst`; a kind names what it needs).
    #[serde(default)]
    pub events: Vec<EventSpec>,
    /// `fan-out`: the subscriber counts N to run, in increasing order (`[1, 3, 5]`); each step
    /// adds subscribers to the last step's and publishes for `duration_ms` at `load`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumers: Vec<u32>,
    /// `replay`: how many of the topic's last events a new consumer group reads (M).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_events: Option<u64>,
}

/// Most subscribers a `fan-out` step may have.
pub const MAX_CONSUMERS: u32 = 32;
/// Most events a `replay` may read.
pub const MAX_REPLAY_EVENTS: u64 = 10_000_000;

/// Most server processes an experiment may run at once.
pub const MAX_PROCESSES: u32 = 16;

fn default_processes() -> u32 {
    1
}

fn default_profile() -> Profile {
    Profile::Typical
}
fn default_late_after_ms() -> u64 {
    1000
}
fn default_max_in_flight() -> u32 {
    1024
}

/// A change of a timeline's offered load.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadPhase {
    /// When it starts, milliseconds into the timeline.
    pub from_ms: u64,
    /// The load from then on.
    pub load: PhaseLoad,
}

/// Largest load as a multiple of the capacity: a burst goes past it (3x in the `burst` claim),
/// ten times is past any sensible one.
pub const MAX_CAPACITY_FRACTION: f64 = 10.0;

/// The open-loop load of a timeline: a fixed rate, or a fraction of the capacity measured just
/// before on the same server and client (above 1 for a burst past it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseLoad {
    /// Calls per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_s: Option<f64>,
    /// Multiple of the arm's capacity (0 < f ≤ [`MAX_CAPACITY_FRACTION`]) measured by
    /// [`CapacityProbeSpec`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_fraction: Option<f64>,
}

/// The capacity probe: a closed loop of `concurrency` callers on the arm's full-stack client,
/// `duration_ms` long after `warmup_ms`, against the same supervised server the timeline uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityProbeSpec {
    /// Closed-loop callers.
    pub concurrency: u32,
    /// Warm-up, milliseconds.
    pub warmup_ms: u64,
    /// Measured, milliseconds.
    pub duration_ms: u64,
}

impl PhaseLoad {
    /// What a load may be, for errors.
    pub const ALLOWED: &'static str =
        "exactly one of rate_per_s (0 < r <= 1000000) or capacity_fraction (0 < f <= 10, a multiple of capacity)";

    fn is_valid(&self) -> bool {
        match (self.rate_per_s, self.capacity_fraction) {
            (Some(rate), None) => rate > 0.0 && rate <= 1_000_000.0,
            (None, Some(f)) => f > 0.0 && f <= MAX_CAPACITY_FRACTION,
            _ => false,
        }
    }
}

impl Default for CapacityProbeSpec {
    fn default() -> Self {
        Self { concurrency: 16, warmup_ms: 1000, duration_ms: 2000 }
    }
}

/// One timed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// When, milliseconds from the timeline's start.
    pub at_ms: u64,
    /// What.
    pub action: Action,
    /// On which process.
    pub target: Target,
    /// For `scale`: how many server processes from then on (a broker arm's queue group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<u32>,
}

/// What an event does to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// SIGSTOP: the process freezes; its sockets stay open, nothing is answered.
    Stop,
    /// SIGCONT.
    Continue,
    /// SIGKILL: a crash; the kernel closes its sockets, unacknowledged work is lost or handed back.
    Kill,
    /// Starts the process again (after a kill), on the same port for a direct server.
    Restart,
    /// Starts or stops worker processes (SIGTERM) until the queue group has `to` of them.
    Scale,
}

/// Which process an event acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// The arm's server (direct arms) or its worker process (broker arms).
    Server,
    /// The broker a broker arm runs through: the suite's own local one (an external broker is
    /// never signalled). `restart` starts it again from its data directory.
    Broker,
}

/// The actions, as a scenario file writes them (for errors).
pub const ACTIONS: &str = "stop, continue, kill, restart, scale (with `to`)";
/// The targets, as a scenario file writes them.
pub const TARGETS: &str = "server, broker (`scale` only on `server`)";

impl ExperimentSpec {
    /// A bad value of this experiment: names the file, the experiment (number and name), the
    /// field, what it was and what is allowed.
    pub fn field_error(
        &self,
        path: &Path,
        index: usize,
        field: &str,
        allowed: &str,
        got: &dyn std::fmt::Debug,
    ) -> Error {
        Error::Config(format!(
            "{}: experiment {} ({:?}): field `{field}` is {got:?}; allowed: {allowed}",
            path.display(),
            index + 1,
            self.name
        ))
    }

    /// Checks every value but the kind (which the `paybench` crate's `experiment::check` checks against the table of
    /// kinds: this file stays below them); errors name the file, the experiment and the allowed
    /// values. `arms` are the scenario's canonical arm names.
    pub fn validate(&self, path: &Path, index: usize, arms: &[String]) -> Result<()> {
        let err =
            |field: &str, allowed: &str, got: &dyn std::fmt::Debug| self.field_error(path, index, field, allowed, got);
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(err("name", "non-empty [A-Za-z0-9_-]", &self.name));
        }
        if self.arms.is_empty() {
            return Err(err("arms", "at least one of the scenario's transports", &self.arms));
        }
        if let Some(unknown) = self.arms.iter().find(|a| !arms.contains(a)) {
            return Err(err("arms", &format!("the scenario's transports: {}", arms.join(", ")), unknown));
        }
        if !self.load.is_valid() {
            return Err(err("load", PhaseLoad::ALLOWED, &self.load));
        }
        if !(100..=600_000).contains(&self.duration_ms) {
            return Err(err("duration_ms", "100..=600000", &self.duration_ms));
        }
        let mut after = 0;
        for (i, phase) in self.phases.iter().enumerate() {
            if phase.from_ms <= after || phase.from_ms >= self.duration_ms {
                return Err(err(
                    &format!("phases[{i}].from_ms"),
                    &format!("increasing, and within the timeline (1..{})", self.duration_ms),
                    &phase.from_ms,
                ));
            }
            if !phase.load.is_valid() {
                return Err(err(&format!("phases[{i}].load"), PhaseLoad::ALLOWED, &phase.load));
            }
            after = phase.from_ms;
        }
        if self.warmup_ms > 60_000 {
            return Err(err("warmup_ms", "0..=60000", &self.warmup_ms));
        }
        if let Some(t) = self.timeout_ms.filter(|t| !(1..=120_000).contains(t)) {
            return Err(err("timeout_ms", "1..=120000", &t));
        }
        if !(1..=100_000).contains(&self.max_in_flight) {
            return Err(err("max_in_flight", "1..=100000", &self.max_in_flight));
        }
        let c = &self.capacity;
        if !(1..=10_000).contains(&c.concurrency) || !(100..=60_000).contains(&c.duration_ms) || c.warmup_ms > 60_000 {
            return Err(err("capacity", "concurrency 1..=10000, duration_ms 100..=60000, warmup_ms 0..=60000", c));
        }
        if let Some(us) = self.service_time_us.filter(|us| *us > 1_000_000) {
            return Err(err("service_time_us", "0..=1000000", &us));
        }
        if let Some(us) = self.service_busy_us.filter(|us| *us > 1_000_000) {
            return Err(err("service_busy_us", "0..=1000000", &us));
        }
        if let Some(n) = self.max_connections.filter(|n| !(1..=10_000).contains(n)) {
            return Err(err("max_connections", "1..=10000", &n));
        }
        if !(1..=MAX_PROCESSES).contains(&self.processes) {
            return Err(err("processes", &format!("1..={MAX_PROCESSES}"), &self.processes));
        }
        if !self.consumers.windows(2).all(|w| w[0] < w[1])
            || self.consumers.iter().any(|n| !(1..=MAX_CONSUMERS).contains(n))
        {
            return Err(err("consumers", &format!("increasing counts in 1..={MAX_CONSUMERS}"), &self.consumers));
        }
        if let Some(m) = self.replay_events.filter(|m| !(1..=MAX_REPLAY_EVENTS).contains(m)) {
            return Err(err("replay_events", &format!("1..={MAX_REPLAY_EVENTS}"), &m));
        }
        let mut last = 0;
        for (i, event) in self.events.iter().enumerate() {
            match (event.action, event.to) {
                (Action::Scale, Some(to)) if (1..=MAX_PROCESSES).contains(&to) => {}
                (Action::Scale, to) => {
                    return Err(err(&format!("events[{i}].to"), &format!("1..={MAX_PROCESSES} with `scale`"), &to))
                }
                (_, Some(to)) => return Err(err(&format!("events[{i}].to"), "only with `scale`", &to)),
                (_, None) => {}
            }
            if event.action == Action::Scale && event.target != Target::Server {
                return Err(err(
                    &format!("events[{i}].target"),
                    "`server` with `scale` (a broker is one process)",
                    &event.target,
                ));
            }
            if event.at_ms >= self.duration_ms || event.at_ms < last {
                return Err(err(
                    &format!("events[{i}].at_ms"),
                    &format!("in order, and within the timeline (0..{})", self.duration_ms),
                    &event.at_ms,
                ));
            }
            last = event.at_ms;
        }
        Ok(())
    }

    /// The call deadline: this experiment's, else the scenario's.
    pub fn timeout_ms_or(&self, scenario_timeout_ms: u64) -> u64 {
        self.timeout_ms.unwrap_or(scenario_timeout_ms)
    }

    /// Whether a load of it is a fraction of the capacity, which the probe must measure first.
    pub fn needs_capacity(&self) -> bool {
        std::iter::once(&self.load).chain(self.phases.iter().map(|p| &p.load)).any(|l| l.capacity_fraction.is_some())
    }

    /// The offered rates, calls/s: from 0, then from each phase's start (milliseconds), given the
    /// capacity measured by the probe (needed when [`Self::needs_capacity`]). At least 1 call/s.
    pub fn rates(&self, capacity_per_s: Option<f64>) -> Result<Vec<(u64, f64)>> {
        let at = |from_ms: u64, load: &PhaseLoad| match (load.rate_per_s, load.capacity_fraction, capacity_per_s) {
            (Some(rate), _, _) => Ok((from_ms, rate)),
            (None, Some(f), Some(c)) => Ok((from_ms, (f * c).max(1.0))),
            _ => Err(Error::Internal(format!(
                "experiment {:?}: load at {from_ms} ms has neither a rate nor a measured capacity",
                self.name
            ))),
        };
        std::iter::once(at(0, &self.load)).chain(self.phases.iter().map(|p| at(p.from_ms, &p.load))).collect()
    }

    /// About how long it runs per arm, seconds: server start, capacity probe, warm-up, timeline and
    /// the drain of the last calls.
    pub fn estimated_seconds(&self) -> f64 {
        let probe_ms = if self.needs_capacity() { self.capacity.warmup_ms + self.capacity.duration_ms } else { 0 };
        let per_arm_ms = 3000 + probe_ms + self.warmup_ms + self.duration_ms + 2000;
        (per_arm_ms as f64 / 1000.0) * self.arms.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ExperimentSpec> {
        let spec: ExperimentSpec = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        spec.validate(Path::new("s.toml"), 0, &["grpc".to_owned(), "amqp-durable".to_owned()])?;
        Ok(spec)
    }

    const GOOD: &str = r#"
kind = "outage"
name = "stop"
arms = ["grpc"]
load = { capacity_fraction = 0.5 }
warmup_ms = 1000
duration_ms = 10000
events = [{ at_ms = 2000, action = "stop", target = "server" }, { at_ms = 4000, action = "continue", target = "server" }]
"#;

    #[test]
    fn a_good_experiment_parses_with_its_defaults() {
        let e = parse(GOOD).unwrap();
        assert_eq!((e.profile, e.late_after_ms, e.max_in_flight), (Profile::Typical, 1000, 1024));
        assert_eq!(e.events[1].action, Action::Continue);
        assert_eq!(e.capacity, CapacityProbeSpec::default());
    }

    const BURST: &str = r#"
[[phases]]
from_ms = 2000
load = { capacity_fraction = 3.0 }
[[phases]]
from_ms = 5000
load = { rate_per_s = 40 }
"#;

    /// Known answer: half of a capacity of 200/s, then 3x it, then a fixed 40/s.
    #[test]
    fn phases_give_rates_from_the_measured_capacity() {
        let e = parse(&format!("{GOOD}{BURST}")).unwrap();
        assert!(e.needs_capacity());
        assert_eq!(e.rates(Some(200.0)).unwrap(), vec![(0, 100.0), (2000, 600.0), (5000, 40.0)]);
        let e = e.rates(None).unwrap_err().to_string();
        assert!(e.contains("at 0 ms") && e.contains("capacity"), "{e}");
        let fixed = parse(&GOOD.replace("capacity_fraction = 0.5", "rate_per_s = 10")).unwrap();
        assert!(!fixed.needs_capacity());
        assert_eq!(fixed.rates(None).unwrap(), vec![(0, 10.0)]);
    }

    #[test]
    fn bad_experiments_are_named_with_the_allowed_values() {
        let cases = [
            (GOOD.replace("[\"grpc\"]", "[\"rest\"]"), "allowed: the scenario's transports: grpc, amqp-durable"),
            (GOOD.replace("capacity_fraction = 0.5", "capacity_fraction = 10.5"), "field `load`"),
            (GOOD.replace("capacity_fraction = 0.5", "capacity_fraction = 0.5, rate_per_s = 10"), "exactly one of"),
            (GOOD.replace("at_ms = 4000", "at_ms = 1000"), "events[1].at_ms"),
            (
                format!("consumers = [3, 1]\n{GOOD}"),
                "field `consumers` is [3, 1]; allowed: increasing counts in 1..=32",
            ),
            (format!("consumers = [0]\n{GOOD}"), "field `consumers` is [0]"),
            (format!("replay_events = 0\n{GOOD}"), "field `replay_events` is 0; allowed: 1..=10000000"),
            (GOOD.replace("at_ms = 4000", "at_ms = 10000"), "within the timeline (0..10000)"),
            (GOOD.replace("\"continue\"", "\"pause\""), "unknown variant `pause`"),
            (GOOD.replace("\"server\" }]", "\"router\" }]"), "unknown variant `router`"),
            (
                GOOD.replace("\"continue\", target = \"server\"", "\"scale\", target = \"broker\", to = 2"),
                "field `events[1].target` is Broker; allowed: `server` with `scale`",
            ),
            (GOOD.replace("\"continue\", target = \"server\"", "\"scale\", target = \"server\""), "events[1].to"),
            (
                GOOD.replace("\"continue\", target = \"server\"", "\"scale\", target = \"server\", to = 17"),
                "1..=16 with `scale`",
            ),
            (
                GOOD.replace("\"continue\", target = \"server\"", "\"continue\", target = \"server\", to = 2"),
                "only with `scale`",
            ),
            (format!("processes = 0\n{GOOD}"), "field `processes`"),
            (format!("max_connections = 0\n{GOOD}"), "field `max_connections` is 0; allowed: 1..=10000"),
            (format!("{GOOD}{BURST}").replace("from_ms = 5000", "from_ms = 2000"), "phases[1].from_ms"),
            (format!("{GOOD}{BURST}").replace("from_ms = 5000", "from_ms = 10000"), "within the timeline (1..10000)"),
            (format!("{GOOD}{BURST}").replace("capacity_fraction = 3.0", "capacity_fraction = 0"), "phases[0].load"),
        ];
        for (text, expected) in cases {
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(expected), "expected {expected:?} in: {e}");
        }
    }
}
