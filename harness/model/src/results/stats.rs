//! Summary statistics: [`LatencyStats`] from an HDR histogram (kept losslessly, base64 of the V2
//! DEFLATE encoding, the HdrHistogram log format) and [`Spread`] across repetitions.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Highest latency recorded without saturating: 60 s, in nanoseconds.
pub const HISTOGRAM_MAX_NS: u64 = 60_000_000_000;
/// Significant decimal digits: 3 gives 0.1 % value resolution at every magnitude.
pub const HISTOGRAM_SIGFIG: u8 = 3;

/// A latency histogram in nanoseconds with the suite's bounds.
pub fn new_histogram() -> Histogram<u64> {
    // Constant bounds that hdrhistogram accepts (checked by the unit tests below).
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_NS, HISTOGRAM_SIGFIG).expect("constant histogram bounds are valid")
}

/// Below this many values a p99.9 rests on fewer than 10 samples above it: it is reported but
/// marked `p999_low_count`, not presented as a tail.
pub const P999_MIN_COUNT: u64 = 10_000;

/// Percentiles and moments of one latency view, with the histogram itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyStats {
    /// Values recorded.
    pub count: u64,
    /// Median, microseconds.
    pub p50_us: f64,
    /// 90th percentile, microseconds.
    pub p90_us: f64,
    /// 99th percentile, microseconds.
    pub p99_us: f64,
    /// 99.9th percentile, microseconds.
    pub p999_us: f64,
    /// Fewer than [`P999_MIN_COUNT`] values: `p999_us` is one of the few largest values, not a
    /// tail estimate.
    #[serde(default)]
    pub p999_low_count: bool,
    /// Largest value, microseconds.
    pub max_us: f64,
    /// Smallest value, microseconds.
    pub min_us: f64,
    /// Mean, microseconds.
    pub mean_us: f64,
    /// Standard deviation, microseconds.
    pub stdev_us: f64,
    /// The histogram in nanoseconds: HdrHistogram V2 + DEFLATE, base64 (decode with
    /// [`LatencyStats::histogram`]).
    pub histogram_v2_deflate_b64: String,
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1_000.0
}

impl LatencyStats {
    /// Summarises `h` (nanoseconds).
    pub fn from_histogram(h: &Histogram<u64>) -> Result<Self> {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(h, &mut bytes)
            .map_err(|e| Error::Internal(format!("histogram serialization: {e:?}")))?;
        let empty = h.is_empty();
        Ok(Self {
            count: h.len(),
            p50_us: us(h.value_at_quantile(0.5)),
            p90_us: us(h.value_at_quantile(0.9)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            p999_low_count: h.len() < P999_MIN_COUNT,
            max_us: us(h.max()),
            min_us: if empty { 0.0 } else { us(h.min()) },
            mean_us: h.mean() / 1_000.0,
            stdev_us: h.stdev() / 1_000.0,
            histogram_v2_deflate_b64: STANDARD.encode(bytes),
        })
    }

    /// Decodes the stored histogram (nanoseconds), e.g. to merge repetitions or plot a spectrum.
    pub fn histogram(&self) -> Result<Histogram<u64>> {
        if self.histogram_v2_deflate_b64.is_empty() {
            return Err(Error::Config(
                "histogram not kept: results.json keeps only the summaries of capacity-search steps".into(),
            ));
        }
        let bytes = STANDARD
            .decode(&self.histogram_v2_deflate_b64)
            .map_err(|e| Error::Config(format!("histogram base64: {e}")))?;
        Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| Error::Config(format!("histogram decode: {e:?}")))
    }
}

/// min / median / max of one figure across repetitions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spread {
    /// Smallest.
    pub min: f64,
    /// Median (mean of the middle two for an even count).
    pub median: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; all zero when empty.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Self::default();
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Self { min: v[0], median, max: v[n - 1] }
    }

    /// The spread of the `Some` values, or `None` when there are none.
    pub fn of_some(values: impl IntoIterator<Item = Option<f64>>) -> Option<Self> {
        let v: Vec<f64> = values.into_iter().flatten().collect();
        (!v.is_empty()).then(|| Self::of(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_round_trips_losslessly() {
        let mut h = new_histogram();
        for v in [1_000u64, 2_000, 50_000, 200_000_000] {
            h.record(v).unwrap();
        }
        let stats = LatencyStats::from_histogram(&h).unwrap();
        let back = stats.histogram().unwrap();
        assert_eq!(back, h);
        assert_eq!(stats.count, 4);
        assert!((stats.max_us - 200_000.0).abs() / 200_000.0 < 0.001);
    }

    #[test]
    fn spread_median_of_even_and_odd() {
        assert_eq!(Spread::of([3.0, 1.0, 2.0]), Spread { min: 1.0, median: 2.0, max: 3.0 });
        assert_eq!(Spread::of([4.0, 1.0, 2.0, 3.0]).median, 2.5);
        assert_eq!(Spread::of_some([None, None]), None);
    }
}
