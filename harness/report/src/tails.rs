//! Tail ratios with the window as the unit of repetition.
//!
//! A window's p99 is often its 4th to 30th largest value, and the log-ratio of two windows' p99s
//! spreads about six times wider than their p50s' (the reference run: 0.84 against 0.14), so a
//! t-interval over 5 pairs of window p99s cannot conclude. Here every window's lossless HDR
//! histogram is pooled per arm and point, the ratio is the pooled quantiles' ratio, and its 95 %
//! interval is a **cluster bootstrap**: windows (not calls, which are correlated within a window)
//! are resampled with replacement on each side, [`RESAMPLES`] times from a fixed seed, so a report
//! renders byte for byte again from the same `results.json`.

use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};

use super::ratio::{Ratio, SpreadSource};

/// Bootstrap resamples per ratio.
pub const RESAMPLES: usize = 1000;
/// The bootstrap's seed: fixed, so that the same windows give the same interval.
const SEED: u64 = 0x7a11_5eed;

/// One window's histogram as cumulative counts at each recorded value (ascending), for fast
/// "how many calls at or below v" across windows.
#[derive(Debug, Clone)]
pub struct WindowCounts {
    values: Vec<u64>,
    cumulative: Vec<u64>,
}

impl WindowCounts {
    /// From a window's latency histogram (values in nanoseconds).
    pub fn of(h: &Histogram<u64>) -> Self {
        let mut values = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0;
        for v in h.iter_recorded() {
            total += v.count_since_last_iteration();
            values.push(h.highest_equivalent(v.value_iterated_to()));
            cumulative.push(total);
        }
        Self { values, cumulative }
    }

    /// Calls recorded.
    pub fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// Calls recorded above `v` (nanoseconds). Values are compared at the histogram's resolution
    /// (0.1 %), so a call within it of `v` may count on either side.
    pub fn above(&self, v: u64) -> u64 {
        self.total() - self.at_most(v)
    }

    fn at_most(&self, v: u64) -> u64 {
        match self.values.partition_point(|x| *x <= v) {
            0 => 0,
            i => self.cumulative[i - 1],
        }
    }
}

/// The `q` quantile of the windows pooled (their calls merged), over `candidates` (every value
/// any window recorded, ascending); `None` when they hold no call.
fn pooled_quantile(windows: &[&WindowCounts], candidates: &[u64], q: f64) -> Option<u64> {
    let total: u64 = windows.iter().map(|w| w.total()).sum();
    if total == 0 {
        return None;
    }
    let target = ((q * total as f64).ceil() as u64).clamp(1, total);
    let i = candidates.partition_point(|v| windows.iter().map(|w| w.at_most(*v)).sum::<u64>() < target);
    candidates.get(i).copied()
}

fn candidates(windows: &[&WindowCounts]) -> Vec<u64> {
    let mut all: Vec<u64> = windows.iter().flat_map(|w| w.values.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// The pooled `q` quantile of `windows`, nanoseconds.
pub fn pooled(windows: &[WindowCounts], q: f64) -> Option<u64> {
    let refs: Vec<&WindowCounts> = windows.iter().collect();
    pooled_quantile(&refs, &candidates(&refs), q)
}

/// Exceedance: the share of the windows' calls above `threshold_ns`, `None` without calls.
pub fn exceedance(windows: &[WindowCounts], threshold_ns: u64) -> Option<f64> {
    let total: u64 = windows.iter().map(WindowCounts::total).sum();
    (total > 0).then(|| windows.iter().map(|w| w.above(threshold_ns)).sum::<u64>() as f64 / total as f64)
}

/// REST's pooled `q` quantile over gRPC's ("times better for gRPC", latency being lower-is-better),
/// with a cluster-bootstrap 95 % percentile interval; `None` when either side has no window with
/// calls. `pairs` holds the smaller side's window count; `min`/`max` the bootstrap's extremes.
pub fn tail_ratio(rest: &[WindowCounts], grpc: &[WindowCounts], q: f64) -> Option<Ratio> {
    let rest: Vec<&WindowCounts> = rest.iter().filter(|w| w.total() > 0).collect();
    let grpc: Vec<&WindowCounts> = grpc.iter().filter(|w| w.total() > 0).collect();
    if rest.is_empty() || grpc.is_empty() {
        return None;
    }
    let (rc, gc) = (candidates(&rest), candidates(&grpc));
    let ratio = |r: &[&WindowCounts], g: &[&WindowCounts]| {
        Some(pooled_quantile(r, &rc, q)? as f64 / pooled_quantile(g, &gc, q)?.max(1) as f64)
    };
    let estimate = ratio(&rest, &grpc)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(SEED);
    let mut draws: Vec<f64> = Vec::with_capacity(RESAMPLES);
    let (mut r, mut g) = (Vec::with_capacity(rest.len()), Vec::with_capacity(grpc.len()));
    for _ in 0..RESAMPLES {
        r.clear();
        g.clear();
        r.extend((0..rest.len()).map(|_| rest[rng.random_range(0..rest.len())]));
        g.extend((0..grpc.len()).map(|_| grpc[rng.random_range(0..grpc.len())]));
        draws.extend(ratio(&r, &g));
    }
    draws.sort_by(f64::total_cmp);
    let at = |p: f64| draws[((p * (draws.len() - 1) as f64).round() as usize).min(draws.len() - 1)];
    let alpha = 1.0 - super::ratio::CONFIDENCE;
    // One window on a side cannot show between-window spread: no interval then.
    let (low, high) =
        if rest.len() < 2 || grpc.len() < 2 { (0.0, f64::INFINITY) } else { (at(alpha / 2.0), at(1.0 - alpha / 2.0)) };
    Some(Ratio {
        estimate,
        low,
        high,
        min: draws[0],
        max: draws[draws.len() - 1],
        pairs: rest.len().min(grpc.len()),
        source: SpreadSource::PooledWindows { rest: rest.len(), grpc: grpc.len() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::stats::new_histogram;

    /// A window of `calls` latencies: lognormal around `scale_ns`, with a window-level factor
    /// (one window runs slower than another, as on a real machine).
    fn window(rng: &mut rand_chacha::ChaCha8Rng, scale_ns: f64, calls: usize) -> WindowCounts {
        let normal = |rng: &mut rand_chacha::ChaCha8Rng| {
            // Box-Muller: one standard normal draw.
            let (u, v): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random_range(0.0..1.0));
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        let window_factor = (0.15 * normal(rng)).exp();
        let mut h = new_histogram();
        for _ in 0..calls {
            h.saturating_record((scale_ns * window_factor * (0.6 * normal(rng)).exp()) as u64);
        }
        WindowCounts::of(&h)
    }

    #[test]
    fn pooled_quantiles_match_a_merged_histogram() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut merged = new_histogram();
        let mut windows = Vec::new();
        for _ in 0..4 {
            let mut h = new_histogram();
            for _ in 0..2000 {
                h.saturating_record(rng.random_range(100_000..5_000_000));
            }
            merged.add(&h).unwrap();
            windows.push(WindowCounts::of(&h));
        }
        for q in [0.5, 0.99, 0.999] {
            let expected = merged.highest_equivalent(merged.value_at_quantile(q));
            assert_eq!(pooled(&windows, q), Some(expected), "q = {q}");
        }
    }

    /// Known answer: gRPC's calls are REST's at half the scale, so every quantile's true ratio is
    /// 2. Over 60 seeds of 10 windows a side, the 95 % interval must cover 2 in at least 90 %.
    #[test]
    fn the_bootstrap_interval_covers_a_known_p99_ratio() {
        let seeds = 60;
        let mut covered = 0;
        for seed in 0..seeds {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(100 + seed);
            let rest: Vec<_> = (0..10).map(|_| window(&mut rng, 400_000.0, 1000)).collect();
            let grpc: Vec<_> = (0..10).map(|_| window(&mut rng, 200_000.0, 1000)).collect();
            let r = tail_ratio(&rest, &grpc, 0.99).unwrap();
            assert!(r.low < r.estimate && r.estimate < r.high, "{r:?}");
            if r.low <= 2.0 && 2.0 <= r.high {
                covered += 1;
            }
        }
        eprintln!("the 95 % interval covered the true ratio 2 in {covered} of {seeds} seeds");
        assert!(covered * 10 >= seeds * 9, "covered in {covered} of {seeds} seeds");
    }

    #[test]
    fn exceedance_counts_the_calls_above_a_threshold() {
        let mut h = new_histogram();
        h.record_n(1_000_000, 990).unwrap(); // 1 ms
        h.record_n(9_000_000, 10).unwrap(); // 9 ms
        let w = [WindowCounts::of(&h), WindowCounts::of(&h)];
        assert_eq!(exceedance(&w, 5_000_000), Some(0.01));
        assert_eq!(exceedance(&w, 10_000_000), Some(0.0));
        assert_eq!(exceedance(&w, 500_000), Some(1.0));
        assert_eq!(exceedance(&[WindowCounts::of(&new_histogram())], 1), None);
    }

    #[test]
    fn one_window_a_side_gives_no_interval_and_no_calls_no_ratio() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (a, b) = (window(&mut rng, 400_000.0, 500), window(&mut rng, 200_000.0, 500));
        let r = tail_ratio(std::slice::from_ref(&a), std::slice::from_ref(&b), 0.99).unwrap();
        assert_eq!((r.low, r.high), (0.0, f64::INFINITY));
        let empty = WindowCounts::of(&new_histogram());
        assert_eq!(tail_ratio(&[empty], &[b], 0.99), None);
    }
}
