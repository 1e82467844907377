//! A timeline as stored in `results.json`: one column per figure, one row per bucket of intended
//! send time (100 ms by default), so that a 30 s window is 300 short rows, not 300 objects. Plain
//! records: reading one never consults the transport registry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Per-bucket figures of one open-loop window, keyed by each call's intended send time: a call
/// intended in bucket `i` is counted in row `i` whenever it ends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineColumns {
    /// Width of a bucket, milliseconds.
    pub bucket_ms: u64,
    /// Calls the schedule intended in the bucket.
    pub offered: Vec<u64>,
    /// Of those, the calls that were sent (got an in-flight slot before their deadline).
    pub dispatched: Vec<u64>,
    /// Calls answered with a payment response.
    pub ok: Vec<u64>,
    /// Calls with no reply and no error by their deadline.
    pub timed_out: Vec<u64>,
    /// Calls that ended in an error, by kind (`connect`, `call`, `rejected`, ...).
    pub failed: BTreeMap<String, Vec<u64>>,
    /// Ok calls whose latency (from the intended send) was over `late_after_ms`.
    pub late: Vec<u64>,
    /// The lateness threshold of `late`, milliseconds.
    pub late_after_ms: u64,
    /// Median latency of the bucket's ok calls, µs (null: none).
    pub p50_us: Vec<Option<f64>>,
    /// 99th percentile, µs.
    pub p99_us: Vec<Option<f64>>,
    /// Maximum, µs.
    pub max_us: Vec<Option<f64>>,
    /// The broker's backlog (requests waiting for a worker, read from the broker every 100 ms
    /// by wall time): the most read in the bucket, `null` where none was read. Empty for an arm
    /// whose broker keeps no queue, and for direct arms. What it counts is the arm's
    /// `backlog_source`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backlog: Vec<Option<u64>>,
}

impl TimelineColumns {
    /// Number of buckets.
    pub fn len(&self) -> usize {
        self.offered.len()
    }

    /// Whether it has no bucket.
    pub fn is_empty(&self) -> bool {
        self.offered.is_empty()
    }

    /// Calls that failed in bucket `i`, every kind.
    pub fn failed_at(&self, i: usize) -> u64 {
        self.failed.values().map(|column| column.get(i).copied().unwrap_or(0)).sum()
    }

    /// The most backlog read in the whole timeline.
    pub fn peak_backlog(&self) -> Option<u64> {
        self.backlog.iter().flatten().copied().max()
    }

    /// Every column summed: (offered, dispatched, ok, timed out, failed, late).
    pub fn totals(&self) -> (u64, u64, u64, u64, u64, u64) {
        let sum = |c: &[u64]| c.iter().sum::<u64>();
        let failed = self.failed.values().map(|c| sum(c)).sum();
        (sum(&self.offered), sum(&self.dispatched), sum(&self.ok), sum(&self.timed_out), failed, sum(&self.late))
    }
}
