//! The regression gate behind `paybench compare`: noise-aware comparison of two sets of metrics.
//!
//! Everything is compared in one generic form, a [`MetricSet`]: a flat list of [`Metric`]s
//! (`name`, [`MetricClass`], unit, which direction is [`Better`], and the values seen across
//! repetitions). Adapters in [`sources`] turn each input into that form: criterion baselines,
//! instruction-count baselines (gungraun/callgrind) and `results.json` files.
//!
//! A verdict ([`Verdict`]) is noise-aware. Each side of a metric has a point value and a noise
//! interval: criterion's confidence interval of the mean, or the min..max spread across
//! repetitions. A metric is `regressed` only when its change is worse than its class threshold
//! ([`Thresholds`], from `harness/compare.toml`) **and** the two intervals do not overlap, so one
//! lucky or unlucky sample cannot flip the gate. With a single sample per side (instruction counts,
//! which are deterministic) the interval is the point and only the threshold applies.
//!
//! [`compare`] refuses to compare sets that do not describe the same thing: another scenario, a
//! different transport set, or metrics present on one side only give [`Error::BaselineMismatch`],
//! which the CLI maps to its own exit code.

pub mod cli;
pub mod config;
pub mod format;
pub mod sources;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use config::Thresholds;

use crate::{Error, Result};

/// What kind of quantity a metric is; each class has its own threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricClass {
    /// Time per call or per operation.
    Latency,
    /// Calls or operations per second.
    Throughput,
    /// Bytes per call or per message.
    Bytes,
    /// CPU time per call.
    Cpu,
    /// Instructions executed (callgrind), deterministic.
    Instructions,
}

impl MetricClass {
    /// Stable lowercase name (also the Bencher measure slug).
    pub fn name(self) -> &'static str {
        match self {
            MetricClass::Latency => "latency",
            MetricClass::Throughput => "throughput",
            MetricClass::Bytes => "bytes",
            MetricClass::Cpu => "cpu",
            MetricClass::Instructions => "instructions",
        }
    }
}

/// Which direction of change is an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Smaller is better (latency, bytes, CPU, instructions).
    Lower,
    /// Bigger is better (throughput).
    Higher,
}

/// One measured quantity, with every value seen across repetitions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Metric {
    /// Stable identifier, e.g. `codec::encode_json.json_1` or `grpc/small/p99_us`.
    pub name: String,
    /// Which threshold applies.
    pub class: MetricClass,
    /// Unit of every value, e.g. `ns`, `us`, `calls/s`, `instructions`.
    pub unit: String,
    /// Direction of improvement.
    pub better: Better,
    /// Values across repetitions (at least one).
    pub samples: Vec<f64>,
    /// A confidence interval for the point value when the source gives one (criterion); otherwise
    /// the min..max of `samples` is used.
    pub interval: Option<(f64, f64)>,
    /// The point value when the source gives one (criterion's estimate); otherwise the mean.
    pub point: Option<f64>,
}

impl Metric {
    /// A metric from plain repetitions.
    pub fn from_samples(
        name: impl Into<String>,
        class: MetricClass,
        unit: &str,
        better: Better,
        samples: Vec<f64>,
    ) -> Self {
        Self { name: name.into(), class, unit: unit.to_owned(), better, samples, interval: None, point: None }
    }

    /// The value compared: the source's point estimate, or the mean of the samples.
    pub fn value(&self) -> f64 {
        self.point.unwrap_or_else(|| self.samples.iter().sum::<f64>() / self.samples.len().max(1) as f64)
    }

    /// The noise interval: the source's confidence interval, or min..max across repetitions.
    pub fn noise(&self) -> (f64, f64) {
        self.interval.unwrap_or_else(|| {
            let lo = self.samples.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = self.samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if lo.is_finite() {
                (lo, hi)
            } else {
                (self.value(), self.value())
            }
        })
    }
}

/// Everything read from one input: its metrics and what they describe.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct MetricSet {
    /// Where the set came from (file, or criterion directory and baseline name), for messages.
    pub source: String,
    /// What the metrics describe and must match between sides: `scenario`, `transports`, `tool`.
    pub context: BTreeMap<String, String>,
    /// The metrics, in the source's order.
    pub metrics: Vec<Metric>,
}

/// The gate's call on one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Better by more than the threshold, beyond the noise.
    Improved,
    /// Within the threshold or within the noise.
    Unchanged,
    /// Worse by more than the threshold, beyond the noise.
    Regressed,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Improved => "improved",
            Verdict::Unchanged => "unchanged",
            Verdict::Regressed => "regressed",
        })
    }
}

/// One row of a comparison.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    /// The metric's name.
    pub name: String,
    /// Its class.
    pub class: MetricClass,
    /// Its unit.
    pub unit: String,
    /// Direction of improvement.
    pub better: Better,
    /// Baseline point value.
    pub baseline: f64,
    /// Baseline noise interval.
    pub baseline_noise: (f64, f64),
    /// Candidate point value.
    pub candidate: f64,
    /// Candidate noise interval.
    pub candidate_noise: (f64, f64),
    /// Relative change of the point value, in percent (positive = bigger).
    pub change_pct: f64,
    /// The class threshold that applied, in percent.
    pub threshold_pct: f64,
    /// The call.
    pub verdict: Verdict,
}

/// A whole comparison: one row per metric, in the baseline's order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Comparison {
    /// Where the baseline came from.
    pub baseline_source: String,
    /// Where the candidate came from.
    pub candidate_source: String,
    /// The rows.
    pub rows: Vec<Row>,
}

impl Comparison {
    /// Whether any metric regressed (the gate fails).
    pub fn regressed(&self) -> bool {
        self.rows.iter().any(|r| r.verdict == Verdict::Regressed)
    }

    /// How many rows got `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.rows.iter().filter(|r| r.verdict == verdict).count()
    }
}

/// Compares `candidate` against `baseline`, metric by metric.
///
/// Fails with [`Error::BaselineMismatch`] when the two sets differ in context or metric names.
pub fn compare(baseline: &MetricSet, candidate: &MetricSet, thresholds: &Thresholds) -> Result<Comparison> {
    check_same_subject(baseline, candidate)?;
    let by_name: BTreeMap<&str, &Metric> = candidate.metrics.iter().map(|m| (m.name.as_str(), m)).collect();
    let mut rows = Vec::with_capacity(baseline.metrics.len());
    for base in &baseline.metrics {
        let cand = by_name[base.name.as_str()];
        if cand.class != base.class || cand.unit != base.unit {
            return Err(Error::BaselineMismatch(format!(
                "metric {:?} is {} in {} of {} but {} in {} of {}",
                base.name,
                base.unit,
                base.class.name(),
                baseline.source,
                cand.unit,
                cand.class.name(),
                candidate.source
            )));
        }
        rows.push(row(base, cand, thresholds.pct(base.class)));
    }
    Ok(Comparison { baseline_source: baseline.source.clone(), candidate_source: candidate.source.clone(), rows })
}

/// The verdict for one metric; see the module docs for the rule.
pub fn verdict(base: &Metric, cand: &Metric, threshold_pct: f64) -> Verdict {
    let (base_value, cand_value) = (base.value(), cand.value());
    let change_pct = relative_change_pct(base_value, cand_value);
    let (base_lo, base_hi) = base.noise();
    let (cand_lo, cand_hi) = cand.noise();
    let (worse, beyond_noise_worse, beyond_noise_better) = match base.better {
        Better::Lower => (change_pct > 0.0, cand_lo > base_hi, cand_hi < base_lo),
        Better::Higher => (change_pct < 0.0, cand_hi < base_lo, cand_lo > base_hi),
    };
    let beyond_threshold = change_pct.abs() > threshold_pct;
    let single_samples =
        base.interval.is_none() && cand.interval.is_none() && base.samples.len() <= 1 && cand.samples.len() <= 1;
    match (beyond_threshold, worse) {
        (true, true) if single_samples || beyond_noise_worse => Verdict::Regressed,
        (true, false) if single_samples || beyond_noise_better => Verdict::Improved,
        _ => Verdict::Unchanged,
    }
}

fn row(base: &Metric, cand: &Metric, threshold_pct: f64) -> Row {
    Row {
        name: base.name.clone(),
        class: base.class,
        unit: base.unit.clone(),
        better: base.better,
        baseline: base.value(),
        baseline_noise: base.noise(),
        candidate: cand.value(),
        candidate_noise: cand.noise(),
        change_pct: relative_change_pct(base.value(), cand.value()),
        threshold_pct,
        verdict: verdict(base, cand, threshold_pct),
    }
}

/// `(candidate - baseline) / baseline` in percent; 0 when both are 0, infinite when only the
/// baseline is 0.
fn relative_change_pct(baseline: f64, candidate: f64) -> f64 {
    if baseline == candidate {
        0.0
    } else if baseline == 0.0 {
        f64::INFINITY.copysign(candidate)
    } else {
        (candidate - baseline) / baseline.abs() * 100.0
    }
}

/// Refuses sets whose context or metric names differ, saying exactly what differs.
fn check_same_subject(baseline: &MetricSet, candidate: &MetricSet) -> Result<()> {
    let mut problems = Vec::new();
    let keys: BTreeSet<&String> = baseline.context.keys().chain(candidate.context.keys()).collect();
    for key in keys {
        let (b, c) = (baseline.context.get(key), candidate.context.get(key));
        if b != c {
            problems.push(format!(
                "{key} is {} in the baseline but {} in the candidate",
                b.map_or("absent".to_owned(), |v| format!("{v:?}")),
                c.map_or("absent".to_owned(), |v| format!("{v:?}"))
            ));
        }
    }
    let names = |set: &MetricSet| set.metrics.iter().map(|m| m.name.clone()).collect::<BTreeSet<_>>();
    let (base_names, cand_names) = (names(baseline), names(candidate));
    if base_names.is_empty() {
        problems.push(format!("{} holds no metrics", baseline.source));
    }
    for (missing, side) in [(&base_names - &cand_names, "candidate"), (&cand_names - &base_names, "baseline")] {
        if !missing.is_empty() {
            let listed: Vec<_> = missing.iter().take(8).map(String::as_str).collect();
            let more = missing.len().saturating_sub(listed.len());
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            problems.push(format!("metrics missing from the {side}: {}{more}", listed.join(", ")));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::BaselineMismatch(format!("{} vs {}: {}", baseline.source, candidate.source, problems.join("; "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latency(samples: &[f64]) -> Metric {
        Metric::from_samples("grpc/p99_us", MetricClass::Latency, "us", Better::Lower, samples.to_vec())
    }

    #[test]
    fn noise_overlap_keeps_a_big_change_unchanged() {
        let base = latency(&[100.0, 60.0, 140.0]);
        let cand = latency(&[130.0, 90.0, 170.0]);
        assert_eq!(verdict(&base, &cand, 10.0), Verdict::Unchanged);
    }

    #[test]
    fn separated_intervals_beyond_threshold_regress_or_improve() {
        let base = latency(&[100.0, 101.0, 99.0]);
        let cand = latency(&[120.0, 121.0, 119.0]);
        assert_eq!(verdict(&base, &cand, 10.0), Verdict::Regressed);
        assert_eq!(verdict(&cand, &base, 10.0), Verdict::Improved);
        assert_eq!(verdict(&base, &cand, 25.0), Verdict::Unchanged);
    }

    #[test]
    fn higher_is_better_flips_the_direction() {
        let base = Metric::from_samples(
            "grpc/calls_per_s",
            MetricClass::Throughput,
            "calls/s",
            Better::Higher,
            vec![1000.0, 1010.0],
        );
        let cand = Metric::from_samples(
            "grpc/calls_per_s",
            MetricClass::Throughput,
            "calls/s",
            Better::Higher,
            vec![800.0, 805.0],
        );
        assert_eq!(verdict(&base, &cand, 10.0), Verdict::Regressed);
    }

    #[test]
    fn single_instruction_counts_use_the_threshold_only() {
        let count = |n| Metric::from_samples("x", MetricClass::Instructions, "instructions", Better::Lower, vec![n]);
        assert_eq!(verdict(&count(10_000.0), &count(10_150.0), 2.0), Verdict::Unchanged);
        assert_eq!(verdict(&count(10_000.0), &count(10_250.0), 2.0), Verdict::Regressed);
        assert_eq!(verdict(&count(10_000.0), &count(9_700.0), 2.0), Verdict::Improved);
    }

    #[test]
    fn mismatched_sets_name_what_differs() {
        let mut base = MetricSet { source: "a.json".into(), metrics: vec![latency(&[1.0])], ..Default::default() };
        base.context.insert("scenario".into(), "quick".into());
        let mut cand = base.clone();
        cand.source = "b.json".into();
        cand.context.insert("scenario".into(), "soak".into());
        cand.metrics[0].name = "rest/p99_us".into();
        let err = compare(&base, &cand, &Thresholds::default()).unwrap_err().to_string();
        assert!(err.contains(r#"scenario is "quick" in the baseline but "soak" in the candidate"#), "{err}");
        assert!(err.contains("metrics missing from the candidate: grpc/p99_us"), "{err}");
        assert!(err.contains("metrics missing from the baseline: rest/p99_us"), "{err}");
    }
}
