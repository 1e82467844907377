//! Scenario files: WHAT to run (arms, profiles, load points, warm-up, duration,
//! repetitions, SLO). How to connect (URLs, threads, pinning) and per-family tuning defaults are
//! not here: that is `paybench run`'s flags, `--settings FILE` and environment. Unknown fields are errors, and [`Scenario::validate`] checks every value,
//! so a malformed file is rejected, naming the file, the field and the allowed values, before
//! anything runs.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::arm_request::{ArmNames, ArmRequest};
use crate::claim;
use crate::experiment_spec::ExperimentSpec;
use crate::payload::{Profile, DEFAULT_SEED};
use crate::results::stats::HISTOGRAM_MAX_NS;
use crate::{Error, Result};

/// One scenario file (`scenarios/*.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in the run id and results (`quick`, `full`).
    pub name: String,
    /// What the scenario is for.
    #[serde(default)]
    pub description: String,
    /// Transport arms, in run order: names (`"rest-h2"`) or tables with a family and options
    /// (`{ family = "amqp", codec = "json", durable = true }`); see [`ArmRequest`].
    pub transports: Vec<ArmRequest>,
    /// Payload profiles.
    pub profiles: Vec<Profile>,
    /// Repetitions of every load point and sweep (spread = min/median/max across them).
    pub repetitions: u32,
    /// Warm-up before each measured window, milliseconds (excluded from every figure).
    pub warmup_ms: u64,
    /// Measured window per load point, milliseconds.
    pub duration_ms: u64,
    /// A call with no reply after this long counts as timed out, milliseconds.
    pub timeout_ms: u64,
    /// Payload seed.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Simulated service time inside the business function, microseconds (0 = none).
    #[serde(default)]
    pub service_time_us: u64,
    /// CPU work per call on the server's thread, microseconds, busy-spinning (0 = none): gives a
    /// direct arm a known capacity of about server threads / this (see `PaymentService`).
    #[serde(default)]
    pub service_busy_us: u64,
    /// Fixed load points.
    #[serde(default)]
    pub load: Vec<LoadSpec>,
    /// Optional rate sweep for the max sustainable rate under an SLO.
    #[serde(default)]
    pub sweep: Option<SweepSpec>,
    /// Profiles that run only some of the transports, by canonical arm name (e.g. the payload
    /// shapes only on the claim's arms); a profile not listed runs every transport.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub profile_transports: std::collections::BTreeMap<Profile, Vec<String>>,
    /// Open-loop points placed at fractions of the claim pair's lower measured capacity, run
    /// after every capacity search (see [`crate::operating`]). Needs a `[sweep]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_points: Option<OperatingPointsSpec>,
    /// More windows for the arms and profiles whose tails the verdict must conclude on (a p99
    /// interval from 5 windows spans far past 0.5x–2x); see [`TailsSpec`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tails: Option<TailsSpec>,
    /// Server capacity: these arms driven by the replay client in a closed loop, the server alone
    /// on its core; see [`ServerCapacitySpec`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_capacity: Option<ServerCapacitySpec>,
    /// Timed experiments (`[[experiment]]`): an outage, with events on real processes, drawn as
    /// a timeline; see the `paybench` crate's `experiment`. They run after the steady-state parts.
    #[serde(default, rename = "experiment", skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<ExperimentSpec>,
}

/// `[server_capacity]`: each listed arm, on every profile it runs, also runs `repetitions`
/// windows driven by the replay client (pre-encoded bytes, validated against wrk and h2load) in
/// a closed loop of `concurrency` callers, interleaved with the other arms. A window whose server
/// was at least 90 % busy gives the server's capacity; the full-stack client, which costs more CPU
/// per call than the server on this machine, cannot saturate it (see `docs/method.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerCapacitySpec {
    /// Canonical arm names (families the replay client speaks: tcp, grpc, http).
    pub arms: Vec<String>,
    /// Callers in the closed loop.
    #[serde(default = "default_capacity_concurrency")]
    pub concurrency: u32,
}

fn default_capacity_concurrency() -> u32 {
    16
}

/// `[tails]`: these arms, on these profiles, run `repetitions` windows of every fixed and
/// operating point instead of the scenario's `repetitions`, interleaved with the others (the
/// capacity searches keep their own count).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailsSpec {
    /// Canonical arm names.
    pub arms: Vec<String>,
    /// Profiles.
    pub profiles: Vec<Profile>,
    /// Windows per point for them, at least the scenario's `repetitions`.
    pub repetitions: u32,
}

/// `[operating_points]`: where the verdict compares latency under load. A fixed rate such as
/// 1000/s is 10 % of one arm's capacity and 90 % of another's; these points are placed relative
/// to the measured capacity instead, so "at half load" means the same thing for both arms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatingPointsSpec {
    /// Fractions of the basis capacity, each in (0, 1).
    #[serde(default = "default_fractions")]
    pub fractions: Vec<f64>,
    /// Also measure at the basis capacity itself (see [`crate::operating`]).
    #[serde(default = "default_true")]
    pub at_capacity: bool,
    /// Arms measured at these points, by canonical name (default: the claim's chain that the
    /// scenario runs: rest, rest-h2, rest-proto, grpc-json, grpc).
    #[serde(default)]
    pub arms: Vec<String>,
    /// Cap on calls in flight at each point (as for an open `[[load]]` point).
    pub max_in_flight: u32,
}

fn default_fractions() -> Vec<f64> {
    vec![0.25, 0.5, 0.75]
}

fn default_true() -> bool {
    true
}

/// Every profile's name, comma-separated, for messages.
fn profile_names() -> String {
    Profile::ALL.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
}

fn default_seed() -> u64 {
    DEFAULT_SEED
}

/// A load model and its level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum LoadSpec {
    /// Fixed concurrency: `concurrency` callers, each sending its next call when the last returns.
    Closed {
        /// Calls in flight.
        concurrency: u32,
    },
    /// Constant arrival rate, latency from the intended send time (coordinated-omission
    /// corrected, as wrk2).
    Open {
        /// Offered calls per second.
        rate_per_s: f64,
        /// Most calls in flight at once (like wrk2's connections); a call that finds none free
        /// waits, and that wait counts in its corrected latency.
        max_in_flight: u32,
    },
}

impl LoadSpec {
    /// `closed` or `open`.
    pub fn model_name(&self) -> &'static str {
        match self {
            LoadSpec::Closed { .. } => "closed",
            LoadSpec::Open { .. } => "open",
        }
    }

    /// Concurrency of a closed-loop point.
    pub fn concurrency(&self) -> Option<u32> {
        match self {
            LoadSpec::Closed { concurrency } => Some(*concurrency),
            LoadSpec::Open { .. } => None,
        }
    }

    /// A short label: `closed c=16` or `open 2000/s`.
    pub fn label(&self) -> String {
        match self {
            LoadSpec::Closed { concurrency } => format!("closed c={concurrency}"),
            LoadSpec::Open { rate_per_s, .. } => format!("open {rate_per_s}/s"),
        }
    }
}

/// The capacity search: the highest offered rate that meets the SLO, found to `resolution`.
///
/// Growth: from `start_rate_per_s`, multiply by `step_factor` until a rate fails (or
/// `max_rate_per_s` passes); if the start fails, divide instead, at most [`MAX_DOWN_STEPS`] times.
/// Then bisect (geometric mean) between the last pass and the first fail until the fail is at most
/// `resolution` above the pass. A failing rate is run a second time before it counts, so one noisy
/// window cannot end the search; see `docs/load-generator.md`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// First offered rate, calls per second.
    pub start_rate_per_s: f64,
    /// Each step offers `step_factor` times the last (> 1).
    pub step_factor: f64,
    /// Highest rate tried.
    pub max_rate_per_s: f64,
    /// The latency objective: corrected p99 must stay at or under it, milliseconds.
    pub slo_p99_ms: f64,
    /// Warm-up per step, milliseconds.
    pub step_warmup_ms: u64,
    /// Measured window per step, milliseconds.
    pub step_duration_ms: u64,
    /// Calls in flight at most (see [`LoadSpec::Open`]).
    pub max_in_flight: u32,
    /// Relative resolution of the capacity: the search stops when the lowest failing rate is at
    /// most this fraction above the highest passing one (default 0.05).
    #[serde(default = "default_resolution")]
    pub resolution: f64,
    /// Searches per arm (default: the scenario's `repetitions`).
    #[serde(default)]
    pub repetitions: Option<u32>,
}

fn default_resolution() -> f64 {
    0.05
}

/// The search divides the start rate at most this many times looking for a passing rate.
pub const MAX_DOWN_STEPS: u32 = 6;

/// Schedule lag at p99 above this (and above half the corrected p99 latency) means the generator,
/// not the server, set the tail (the `paybench` crate's `RawMeasurement::schedule_lagged`).
pub const GENERATOR_LAG_LIMIT: Duration = Duration::from_millis(1);

/// How long past its own deadline a closed-loop call may run before the generator gives up on it:
/// transports enforce the timeout themselves, this only catches one that does not.
pub const GENERATOR_GRACE: Duration = Duration::from_secs(1);

/// Longest call timeout: every latency the generator records (at most the timeout, plus
/// [`GENERATOR_GRACE`] in closed loop) must fit the latency histograms' range, or it would be
/// clamped and a tail understated.
pub const MAX_TIMEOUT_MS: u64 = (HISTOGRAM_MAX_NS / 1_000_000) - GENERATOR_GRACE.as_millis() as u64;

/// `Ok` when every arm in `listed` (the value of `field`) is one of the scenario's `names`; else
/// the error naming the first that is not, and the arms allowed.
fn known_arms(path: &Path, field: &str, listed: &[String], names: &[String]) -> Result<()> {
    match listed.iter().find(|a| !names.contains(a)) {
        Some(unknown) => Err(invalid(path, field, &format!("arms of this scenario: {}", names.join(", ")), unknown)),
        None => Ok(()),
    }
}

fn invalid(path: &Path, field: &str, allowed: &str, got: impl std::fmt::Debug) -> Error {
    Error::Config(format!("{}: field `{field}` is {got:?}; allowed: {allowed}", path.display()))
}

impl Scenario {
    /// Reads and validates a scenario file; `arms` resolves its transports (the registry).
    pub fn load(path: &Path, arms: &dyn ArmNames) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io(format!("read scenario {}", path.display()), e))?;
        Self::parse(&text, path, arms)
    }

    /// Parses and validates scenario text; `path` only names the source in errors.
    pub fn parse(text: &str, path: &Path, arms: &dyn ArmNames) -> Result<Self> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| {
            Error::Config(format!(
                "{}: {}({}; profiles: {}; load models: closed, open)",
                path.display(),
                e,
                arms.vocabulary(),
                profile_names(),
            ))
        })?;
        scenario.validate(path, arms)?;
        Ok(scenario)
    }

    /// Checks every value's range; the error names the file, the field and what is allowed.
    pub fn validate(&self, path: &Path, arms: &dyn ArmNames) -> Result<()> {
        let err = |field, allowed, got: &dyn std::fmt::Debug| invalid(path, field, allowed, got);
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(err("name", "non-empty [A-Za-z0-9_-]", &self.name));
        }
        if self.transports.is_empty() {
            return Err(err("transports", "at least one transport", &self.transports));
        }
        // Resolved once: every later check that names arms reads these canonical names.
        let names = arms.canonical_names(&self.transports, &path.display().to_string())?;
        if self.profiles.is_empty() {
            return Err(err("profiles", &format!("at least one of {}", profile_names()), &self.profiles));
        }
        if !(1..=100).contains(&self.repetitions) {
            return Err(err("repetitions", "1..=100", &self.repetitions));
        }
        if !(1..=3_600_000).contains(&self.duration_ms) {
            return Err(err("duration_ms", "1..=3600000", &self.duration_ms));
        }
        if self.warmup_ms > 600_000 {
            return Err(err("warmup_ms", "0..=600000", &self.warmup_ms));
        }
        if !(1..=MAX_TIMEOUT_MS).contains(&self.timeout_ms) {
            return Err(err("timeout_ms", &format!("1..={MAX_TIMEOUT_MS}"), &self.timeout_ms));
        }
        if self.service_busy_us > 1_000_000 {
            return Err(err("service_busy_us", "0..=1000000", &self.service_busy_us));
        }
        if self.load.is_empty() && self.sweep.is_none() && self.experiments.is_empty() {
            return Err(err("load", "at least one [[load]] point, a [sweep] or an [[experiment]]", &self.load));
        }
        for (i, experiment) in self.experiments.iter().enumerate() {
            experiment.validate(path, i, &names)?;
        }
        for (i, load) in self.load.iter().enumerate() {
            validate_load(load, i, path)?;
        }
        if let Some(sweep) = &self.sweep {
            validate_sweep(sweep, path)?;
        }
        if let Some(op) = &self.operating_points {
            self.validate_operating_points(op, &names, path)?;
        }
        if let Some(t) = &self.tails {
            if !(self.repetitions..=1000).contains(&t.repetitions) {
                return Err(err(
                    "tails.repetitions",
                    &format!("{}..=1000 (at least `repetitions`)", self.repetitions),
                    &t.repetitions,
                ));
            }
            known_arms(path, "tails.arms", &t.arms, &names)?;
            if let Some(unknown) = t.profiles.iter().find(|p| !self.profiles.contains(p)) {
                return Err(invalid(path, "tails.profiles", "profiles listed in `profiles`", unknown.name()));
            }
        }
        if let Some(c) = &self.server_capacity {
            if !(1..=10_000).contains(&c.concurrency) {
                return Err(invalid(path, "server_capacity.concurrency", "1..=10000", c.concurrency));
            }
            known_arms(path, "server_capacity.arms", &c.arms, &names)?;
        }
        for (profile, arms) in &self.profile_transports {
            if !self.profiles.contains(profile) {
                return Err(invalid(path, "profile_transports", "profiles listed in `profiles`", profile.name()));
            }
            known_arms(path, &format!("profile_transports.{profile}"), arms, &names)?;
        }
        Ok(())
    }

    /// Keeps only the transports and profiles in the filters (`None` keeps all). A transport is
    /// kept when the filter names it as the scenario wrote it or by its canonical name.
    pub fn filtered(&self, transports: Option<&[String]>, profiles: Option<&[Profile]>, arms: &dyn ArmNames) -> Self {
        let mut s = self.clone();
        if let Some(keep) = transports {
            s.transports.retain(|t| {
                let canonical = arms.canonical_name(t).unwrap_or_default();
                keep.iter().any(|k| *k == t.label() || *k == canonical)
            });
        }
        if let Some(keep) = profiles {
            s.profiles.retain(|p| keep.contains(p));
        }
        s
    }

    fn validate_operating_points(&self, op: &OperatingPointsSpec, names: &[String], path: &Path) -> Result<()> {
        if self.sweep.is_none() {
            return Err(invalid(
                path,
                "operating_points",
                "only with a [sweep] (the points are fractions of its capacity)",
                "no [sweep]",
            ));
        }
        if op.fractions.is_empty() && !op.at_capacity {
            return Err(invalid(
                path,
                "operating_points.fractions",
                "at least one fraction, or at_capacity = true",
                &op.fractions,
            ));
        }
        if let Some(f) = op.fractions.iter().find(|f| !(**f > 0.0 && **f < 1.0)) {
            return Err(invalid(path, "operating_points.fractions", "each > 0 and < 1", f));
        }
        if !(1..=100_000).contains(&op.max_in_flight) {
            return Err(invalid(path, "operating_points.max_in_flight", "1..=100000", op.max_in_flight));
        }
        for needed in [claim::REST, claim::GRPC] {
            if !names.iter().any(|n| n == needed) {
                return Err(invalid(path, "operating_points", &format!("a scenario whose transports include {} and {} (the pair whose lower capacity places the points)", claim::REST, claim::GRPC), format!("transports without {needed}")));
            }
        }
        known_arms(path, "operating_points.arms", &op.arms, names)?;
        Ok(())
    }

    /// Whether the arm called `arm` (canonical name) runs with `profile` (see `profile_transports`).
    pub fn runs(&self, arm: &str, profile: Profile) -> bool {
        self.profile_transports.get(&profile).is_none_or(|names| names.iter().any(|n| n == arm))
    }

    /// Whether the arm called `arm` (canonical name) is measured at the operating points.
    pub fn at_operating_points(&self, arm: &str) -> bool {
        let Some(op) = &self.operating_points else { return false };
        if op.arms.is_empty() {
            claim::CHAIN_ARMS.contains(&arm)
        } else {
            op.arms.iter().any(|n| n == arm)
        }
    }

    /// The most calls any of its load points or its search keeps in flight: the cap of an HTTP/1.1
    /// client's connection pool (one connection per call in flight, never more).
    pub fn max_in_flight(&self) -> usize {
        let points = self.load.iter().map(|l| match *l {
            LoadSpec::Closed { concurrency } => concurrency,
            LoadSpec::Open { max_in_flight, .. } => max_in_flight,
        });
        points
            .chain(self.sweep.map(|s| s.max_in_flight))
            .chain(self.operating_points.as_ref().map(|o| o.max_in_flight))
            .max()
            .unwrap_or(1) as usize
    }

    /// Repetitions of `arm`'s points on `profile`: `[tails]`'s when it lists both, else the
    /// scenario's.
    pub fn repetitions_for(&self, arm: &str, profile: Profile) -> u32 {
        match &self.tails {
            Some(t) if t.profiles.contains(&profile) && t.arms.iter().any(|a| a == arm) => t.repetitions,
            _ => self.repetitions,
        }
    }

    /// Rough wall time of the scenario in seconds (measured windows and warm-ups only).
    pub fn estimated_seconds(&self) -> f64 {
        self.steady_estimated_seconds() + self.experiments.iter().map(ExperimentSpec::estimated_seconds).sum::<f64>()
    }

    /// Whether it has steady-state parts (load points or a sweep) besides its experiments.
    pub fn has_steady_state(&self) -> bool {
        !self.load.is_empty() || self.sweep.is_some()
    }

    fn steady_estimated_seconds(&self) -> f64 {
        let point_ms = (self.warmup_ms + self.duration_ms) as f64 * self.load.len() as f64;
        // A search's length depends on where the capacity lies: count half the growth range, its
        // confirmation, and the bisection from one growth step down to the resolution, with half
        // its steps failing and confirmed.
        let sweep_ms = self.sweep.map_or(0.0, |s| {
            let growth = ((s.max_rate_per_s / s.start_rate_per_s).ln() / s.step_factor.ln() / 2.0).ceil() + 2.0;
            let bisect = (s.step_factor.ln() / (1.0 + s.resolution).ln()).log2().ceil().max(0.0) * 1.5;
            let reps = s.repetitions.unwrap_or(self.repetitions);
            f64::from(reps) * (growth + bisect) * (s.step_warmup_ms + s.step_duration_ms) as f64
        });
        let arms = self
            .profiles
            .iter()
            .map(|p| self.profile_transports.get(p).map_or(self.transports.len(), Vec::len))
            .sum::<usize>() as f64;
        let operating_ms = self.operating_points.as_ref().map_or(0.0, |o| {
            let points = o.fractions.len() + usize::from(o.at_capacity);
            let measured = if o.arms.is_empty() { claim::CHAIN_ARMS.len() } else { o.arms.len() };
            (points * measured * self.profiles.len()) as f64
                * f64::from(self.repetitions)
                * (self.warmup_ms + self.duration_ms) as f64
        });
        // The tail arms' extra windows, at the fixed points and (when they are measured there) at
        // the operating points.
        let tails_ms = self.tails.as_ref().map_or(0.0, |t| {
            let extra = f64::from(t.repetitions.saturating_sub(self.repetitions));
            let op_points =
                self.operating_points.as_ref().map_or(0, |o| o.fractions.len() + usize::from(o.at_capacity));
            let units = (t.arms.len() * t.profiles.len()) as f64;
            units * extra * (point_ms + op_points as f64 * (self.warmup_ms + self.duration_ms) as f64)
        });
        // One closed window per repetition of each server-capacity arm on each profile it runs.
        let capacity_ms = self.server_capacity.as_ref().map_or(0.0, |c| {
            let units = self
                .profiles
                .iter()
                .map(|p| c.arms.iter().filter(|a| self.profile_transports.get(p).is_none_or(|l| l.contains(a))).count())
                .sum::<usize>();
            units as f64 * f64::from(self.repetitions) * (self.warmup_ms + self.duration_ms) as f64
        });
        (arms * (f64::from(self.repetitions) * point_ms + sweep_ms) + operating_ms + tails_ms + capacity_ms) / 1000.0
    }
}

fn validate_load(load: &LoadSpec, i: usize, path: &Path) -> Result<()> {
    match *load {
        LoadSpec::Closed { concurrency } if !(1..=10_000).contains(&concurrency) => {
            Err(invalid(path, &format!("load[{i}].concurrency"), "1..=10000", concurrency))
        }
        LoadSpec::Open { rate_per_s, .. } if !(rate_per_s > 0.0 && rate_per_s <= 10_000_000.0) => {
            Err(invalid(path, &format!("load[{i}].rate_per_s"), "> 0 and <= 10000000", rate_per_s))
        }
        LoadSpec::Open { max_in_flight, .. } if !(1..=100_000).contains(&max_in_flight) => {
            Err(invalid(path, &format!("load[{i}].max_in_flight"), "1..=100000", max_in_flight))
        }
        _ => Ok(()),
    }
}

fn validate_sweep(s: &SweepSpec, path: &Path) -> Result<()> {
    let err = |field, allowed, got: f64| invalid(path, field, allowed, got);
    // NaN compares false both ways, so it is named explicitly.
    if s.start_rate_per_s.is_nan() || s.start_rate_per_s <= 0.0 {
        return Err(err("sweep.start_rate_per_s", "> 0", s.start_rate_per_s));
    }
    if !(s.step_factor > 1.0 && s.step_factor <= 10.0) {
        return Err(err("sweep.step_factor", "> 1 and <= 10", s.step_factor));
    }
    if !(s.max_rate_per_s >= s.start_rate_per_s && s.max_rate_per_s <= 10_000_000.0) {
        return Err(err("sweep.max_rate_per_s", ">= start_rate_per_s and <= 10000000", s.max_rate_per_s));
    }
    if s.slo_p99_ms.is_nan() || s.slo_p99_ms <= 0.0 {
        return Err(err("sweep.slo_p99_ms", "> 0", s.slo_p99_ms));
    }
    if s.step_duration_ms == 0 {
        return Err(err("sweep.step_duration_ms", ">= 1", 0.0));
    }
    if s.max_in_flight == 0 {
        return Err(err("sweep.max_in_flight", "1..=100000", 0.0));
    }
    if !(s.resolution >= 0.005 && s.resolution <= 1.0) {
        return Err(err("sweep.resolution", ">= 0.005 and <= 1", s.resolution));
    }
    if let Some(r) = s.repetitions.filter(|r| !(1..=100).contains(r)) {
        return Err(err("sweep.repetitions", "1..=100", f64::from(r)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arms by name only, each its own canonical name: the registry is above this crate.
    struct NamesAsWritten;

    impl ArmNames for NamesAsWritten {
        fn canonical_names(&self, requests: &[ArmRequest], _: &str) -> Result<Vec<String>> {
            Ok(requests.iter().map(ArmRequest::label).collect())
        }
        fn canonical_name(&self, request: &ArmRequest) -> Option<String> {
            Some(request.label())
        }
        fn vocabulary(&self) -> String {
            "transports: names".to_owned()
        }
    }

    const BASE: &str = "name = \"t\"\ntransports = [\"rest\", \"grpc\", \"tcp\"]\nprofiles = [\"small\", \"typical\"]\nrepetitions = 5\nwarmup_ms = 1\nduration_ms = 1\ntimeout_ms = 1\n[[load]]\nmodel = \"closed\"\nconcurrency = 1\n";

    fn parse(tails: &str) -> Result<Scenario> {
        Scenario::parse(&format!("{BASE}{tails}"), Path::new("t.toml"), &NamesAsWritten)
    }

    #[test]
    fn tails_give_their_arms_and_profiles_more_windows() {
        let s = parse("[tails]\narms = [\"rest\", \"grpc\"]\nprofiles = [\"typical\"]\nrepetitions = 30\n").unwrap();
        assert_eq!(s.repetitions_for("grpc", Profile::Typical), 30);
        assert_eq!(s.repetitions_for("grpc", Profile::Small), 5);
        assert_eq!(s.repetitions_for("tcp", Profile::Typical), 5);
        let without = parse("").unwrap();
        // 2 arms × 25 extra windows × 2 ms each.
        assert!((s.estimated_seconds() - without.estimated_seconds() - 0.1).abs() < 1e-9);
    }

    #[test]
    fn bad_tails_are_named() {
        let e =
            parse("[tails]\narms = [\"rest\"]\nprofiles = [\"typical\"]\nrepetitions = 3\n").unwrap_err().to_string();
        assert!(e.contains("tails.repetitions") && e.contains("5..=1000"), "{e}");
        let e =
            parse("[tails]\narms = [\"kafka\"]\nprofiles = [\"typical\"]\nrepetitions = 30\n").unwrap_err().to_string();
        assert!(e.contains("tails.arms") && e.contains("kafka"), "{e}");
        let e =
            parse("[tails]\narms = [\"rest\"]\nprofiles = [\"large\"]\nrepetitions = 30\n").unwrap_err().to_string();
        assert!(e.contains("tails.profiles") && e.contains("large"), "{e}");
    }
}
