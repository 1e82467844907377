//! Paired ratios "times better for gRPC" with their 95 % confidence intervals: the [`Ratio`]
//! type, whether it reaches a factor ([`Reach`]), and [`paired_ratio`] over paired repetitions.
//! The verdict ([`super::verdict`]) and the pooled tail ratios ([`super::tails`]) build on it.

/// Which way a dimension improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Time, bytes, CPU.
    LowerIsBetter,
    /// Throughput.
    HigherIsBetter,
}

/// Where a ratio's interval comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpreadSource {
    /// Paired repetitions of a load run: a 95 % t-interval on the mean of the log-ratios.
    Repetitions,
    /// Interleaved timing batches of one run (the codec rows): a 95 % t-interval on the mean of
    /// the paired batches' log-ratios.
    Batches,
    /// A deterministic count (body bytes): no spread.
    Exact,
    /// Tail rows: each arm's windows pooled (HDR histograms merged), with a cluster-bootstrap
    /// 95 % interval over windows ([`super::tails`]); the window counts of each side.
    PooledWindows {
        /// REST/JSON's windows.
        rest: usize,
        /// gRPC's windows.
        grpc: usize,
    },
}

/// A ratio "times better for gRPC": a point estimate with its 95 % confidence interval.
///
/// For paired repetitions the estimate is the **geometric mean** of the per-pair ratios (exp of
/// the mean log-ratio) and the interval is a Student t-interval on the log-ratios, mapped back.
/// Log-ratios add along a chain of arms, so the geometric means of the decomposition's factors
/// multiply to the total's exactly (over the same pairs), which medians do not. `f64::INFINITY`
/// means the worse arm scored zero while the better one did not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    /// Point estimate: geometric mean of the paired ratios (criterion: ratio of medians).
    pub estimate: f64,
    /// Lower end of the 95 % confidence interval (0 when there is a single pair).
    pub low: f64,
    /// Upper end of the 95 % confidence interval (∞ when there is a single pair).
    pub high: f64,
    /// Smallest paired ratio.
    pub min: f64,
    /// Largest paired ratio.
    pub max: f64,
    /// Pairs the ratio was taken over.
    pub pairs: usize,
    /// Where the interval comes from.
    pub source: SpreadSource,
}

/// Whether a ratio reaches the claimed factor, judged on its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The whole interval is at or above the factor.
    Yes,
    /// The interval straddles the factor: the data cannot tell.
    Possibly,
    /// The whole interval is below the factor.
    No,
}

impl Reach {
    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Reach::Yes => "yes",
            Reach::Possibly => "possibly (interval straddles it)",
            Reach::No => "no",
        }
    }
}

/// Confidence level of every interval in the verdict.
pub const CONFIDENCE: f64 = 0.95;
/// An interval containing 1x that reaches below this is inconclusive, not "no difference".
pub const INCONCLUSIVE_BELOW: f64 = 0.5;
/// ...or above this.
pub const INCONCLUSIVE_ABOVE: f64 = 2.0;

impl Ratio {
    /// A single exact ratio.
    pub fn exact(value: f64) -> Self {
        Self { estimate: value, low: value, high: value, min: value, max: value, pairs: 1, source: SpreadSource::Exact }
    }

    /// Whether the ratio reaches `factor`: by the interval's lower end, not its estimate.
    pub fn reaches(&self, factor: f64) -> Reach {
        if self.low >= factor {
            Reach::Yes
        } else if self.high >= factor {
            Reach::Possibly
        } else {
            Reach::No
        }
    }

    /// Whether the interval contains 1 and lies within 0.5x–2x: no measurable difference between
    /// the two arms, and the data could have shown one of 2x.
    pub fn no_measurable_difference(&self) -> bool {
        self.low <= 1.0 && self.high >= 1.0 && !self.inconclusive()
    }

    /// Whether the interval contains 1 but reaches past 0.5x or 2x ([`INCONCLUSIVE_BELOW`],
    /// [`INCONCLUSIVE_ABOVE`]): too wide to say "no measurable difference" (with 5 pairs of p99s
    /// this is the rule, not the exception).
    pub fn inconclusive(&self) -> bool {
        self.low <= 1.0 && self.high >= 1.0 && (self.low < INCONCLUSIVE_BELOW || self.high > INCONCLUSIVE_ABOVE)
    }

    /// The same ratio with its interval widened from [`CONFIDENCE`] to a family-wise
    /// [`CONFIDENCE`] over `family` comparisons (Bonferroni: each at 1 − 0.05 / family), so that
    /// "reaches 5x on k of `family` rows" holds for all k at once. An exact ratio, or one from a
    /// single pair, is returned as it is.
    pub fn bonferroni(&self, family: usize) -> Ratio {
        use statrs::distribution::{ContinuousCDF, StudentsT};
        if self.source == SpreadSource::Exact
            || self.pairs < 2
            || family < 2
            || !self.low.is_finite()
            || self.low <= 0.0
        {
            return *self;
        }
        if let SpreadSource::PooledWindows { .. } = self.source {
            // A percentile interval has no t to rescale: widen its log half-widths by the normal
            // quantiles' ratio instead.
            let normal = statrs::distribution::Normal::standard();
            let alpha = 1.0 - CONFIDENCE;
            let widen = normal.inverse_cdf(1.0 - alpha / 2.0 / family as f64) / normal.inverse_cdf(1.0 - alpha / 2.0);
            let mean = self.estimate.ln();
            return Ratio {
                low: (mean - (mean - self.low.ln()) * widen).exp(),
                high: (mean + (self.high.ln() - mean) * widen).exp(),
                ..*self
            };
        }
        let Ok(t) = StudentsT::new(0.0, 1.0, self.pairs as f64 - 1.0) else { return *self };
        let alpha = 1.0 - CONFIDENCE;
        let widen = t.inverse_cdf(1.0 - alpha / 2.0 / family as f64) / t.inverse_cdf(1.0 - alpha / 2.0);
        let (mean, below, above) =
            (self.estimate.ln(), self.estimate.ln() - self.low.ln(), self.high.ln() - self.estimate.ln());
        Ratio { low: (mean - below * widen).exp(), high: (mean + above * widen).exp(), ..*self }
    }

    /// Whether the two intervals share no value.
    pub fn separated_from(&self, other: &Ratio) -> bool {
        self.low > other.high || other.low > self.high
    }
}

/// The mean of `log_ratios` with its two-sided [`CONFIDENCE`] t-interval, on the log scale.
fn t_interval(log_ratios: &[f64]) -> (f64, f64, f64) {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let n = log_ratios.len() as f64;
    let mean = log_ratios.iter().sum::<f64>() / n;
    if log_ratios.len() < 2 {
        return (mean, f64::NEG_INFINITY, f64::INFINITY);
    }
    let variance = log_ratios.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let t = StudentsT::new(0.0, 1.0, n - 1.0).map_or(f64::INFINITY, |d| d.inverse_cdf(0.5 + CONFIDENCE / 2.0));
    let half = t * (variance / n).sqrt();
    (mean, mean - half, mean + half)
}

/// The paired ratio of `rest_side[i]` over `grpc_side[i]` (inverted for higher-is-better): its
/// geometric mean and 95 % interval over the pairs where both sides were measured (pairs where
/// both are zero are skipped); `None` when no pair is left.
pub fn paired_ratio(direction: Direction, rest_side: &[Option<f64>], grpc_side: &[Option<f64>]) -> Option<Ratio> {
    let ratios: Vec<f64> = rest_side
        .iter()
        .zip(grpc_side)
        .filter_map(|(r, g)| {
            let (r, g) = ((*r)?, (*g)?);
            let (num, den) = match direction {
                Direction::LowerIsBetter => (r, g),
                Direction::HigherIsBetter => (g, r),
            };
            match (num, den) {
                (n, d) if d > 0.0 => Some(n / d),
                (n, _) if n > 0.0 => Some(f64::INFINITY),
                _ => None,
            }
        })
        .collect();
    if ratios.is_empty() {
        return None;
    }
    let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pairs = ratios.len();
    let source = SpreadSource::Repetitions;
    if max.is_infinite() || min <= 0.0 {
        // An unbounded (or zero) pair has no logarithm: say so rather than average it away.
        return Some(Ratio { estimate: max, low: min, high: f64::INFINITY, min, max, pairs, source });
    }
    let logs: Vec<f64> = ratios.iter().map(|r| r.ln()).collect();
    let (mean, low, high) = t_interval(&logs);
    Some(Ratio { estimate: mean.exp(), low: low.exp(), high: high.exp(), min, max, pairs, source })
}
