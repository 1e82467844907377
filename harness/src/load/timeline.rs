//! The generator's bucket sink: beside the window's aggregate, every measured call of an open-loop
//! window is also counted in the 100 ms bucket of its intended send time, with its outcome and
//! latency. Timed experiments read what happened around an event from these buckets.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::results::stats::new_histogram;
use crate::results::timeline::TimelineColumns;
use crate::CallError;

/// Default bucket width.
pub const BUCKET: Duration = Duration::from_millis(100);

/// One bucket while it fills.
#[derive(Debug, Clone)]
struct Bucket {
    offered: u64,
    dispatched: u64,
    ok: u64,
    timed_out: u64,
    late: u64,
    failed: BTreeMap<String, u64>,
    latency: Histogram<u64>,
}

impl Default for Bucket {
    fn default() -> Self {
        Self {
            offered: 0,
            dispatched: 0,
            ok: 0,
            timed_out: 0,
            late: 0,
            failed: BTreeMap::new(),
            latency: new_histogram(),
        }
    }
}

/// Buckets of intended send time from `origin` (the window's first intended call).
#[derive(Debug, Clone)]
pub struct Buckets {
    origin: Instant,
    width: Duration,
    late_after: Duration,
    rows: Vec<Bucket>,
    /// The broker's backlog per bucket, by the wall time of each reading (the most read in it):
    /// empty until [`Buckets::set_backlog`].
    backlog: Vec<Option<u64>>,
}

/// How one call ended, as a bucket counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended<'a> {
    /// Answered; its latency from the intended send.
    Ok(Duration),
    /// No reply by its deadline.
    TimedOut,
    /// An error of this kind.
    Failed(&'a str),
}

impl<'a> Ended<'a> {
    /// The bucket's view of a call's outcome.
    pub fn of<T>(outcome: &'a Result<crate::CallResult<T>, String>, latency: Duration) -> Self {
        match outcome {
            Ok(Ok(_)) => Ended::Ok(latency),
            Ok(Err(CallError::Timeout { .. })) => Ended::TimedOut,
            Ok(Err(e)) => Ended::Failed(e.kind()),
            Err(_) => Ended::Failed("internal"),
        }
    }
}

impl Buckets {
    /// Buckets `width` wide from `origin`, for a window of `span`; ok calls slower than
    /// `late_after` are also counted as late.
    pub fn new(origin: Instant, span: Duration, width: Duration, late_after: Duration) -> Self {
        let n = (span.as_nanos().div_ceil(width.as_nanos().max(1))) as usize;
        Self { origin, width, late_after, rows: vec![Bucket::default(); n.max(1)], backlog: Vec::new() }
    }

    /// The broker's backlog readings `(when read, backlog)` taken through the window: each bucket
    /// keeps the most read within its span of wall time. Readings before the window's first
    /// intended call or past its last bucket are left out; a bucket with none is `None`.
    pub fn set_backlog(&mut self, readings: &[(Instant, u64)]) {
        let mut backlog = vec![None; self.rows.len()];
        for &(at, depth) in readings {
            let Some(since) = at.checked_duration_since(self.origin) else { continue };
            let i = self.index_of(since);
            if let Some(slot) = backlog.get_mut(i) {
                *slot = Some(slot.map_or(depth, |d: u64| d.max(depth)));
            }
        }
        self.backlog = backlog;
    }

    /// The bucket of a call intended at `intended`; one intended past the window (a rounding of
    /// its end) is kept in the last, never lost.
    fn row(&mut self, intended: Instant) -> &mut Bucket {
        let last = self.rows.len() - 1;
        let i = self.index_of(intended.saturating_duration_since(self.origin)).min(last);
        &mut self.rows[i]
    }

    /// Counts one measured call intended at `intended`, which was `dispatched` (sent) or not, and
    /// ended as `ended`.
    pub fn record(&mut self, intended: Instant, dispatched: bool, ended: Ended<'_>) {
        let late_after = self.late_after;
        let row = self.row(intended);
        row.offered += 1;
        row.dispatched += u64::from(dispatched);
        match ended {
            Ended::Ok(latency) => {
                row.ok += 1;
                row.late += u64::from(latency > late_after);
                row.latency.saturating_record(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX).max(1));
            }
            Ended::TimedOut => row.timed_out += 1,
            Ended::Failed(kind) => *row.failed.entry(kind.to_owned()).or_default() += 1,
        }
    }

    /// The ok calls' latencies of buckets `range`, pooled.
    pub fn pooled(&self, range: std::ops::Range<usize>) -> Histogram<u64> {
        let mut pooled = new_histogram();
        for row in &self.rows[range.start.min(self.rows.len())..range.end.min(self.rows.len())] {
            let _ = pooled.add(&row.latency);
        }
        pooled
    }

    /// The bucket that holds offset `at` from the origin.
    pub fn index_of(&self, at: Duration) -> usize {
        ((at.as_nanos() / self.width.as_nanos().max(1)) as usize).min(self.rows.len())
    }

    /// The stored, column-wise form.
    pub fn columns(&self) -> TimelineColumns {
        let quantile = |h: &Histogram<u64>, q: f64| (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1e3);
        let mut failed: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for kind in self.rows.iter().flat_map(|r| r.failed.keys()) {
            failed.entry(kind.clone()).or_insert_with(|| vec![0; self.rows.len()]);
        }
        for (i, row) in self.rows.iter().enumerate() {
            for (kind, n) in &row.failed {
                if let Some(column) = failed.get_mut(kind) {
                    column[i] = *n;
                }
            }
        }
        TimelineColumns {
            bucket_ms: self.width.as_millis() as u64,
            offered: self.rows.iter().map(|r| r.offered).collect(),
            dispatched: self.rows.iter().map(|r| r.dispatched).collect(),
            ok: self.rows.iter().map(|r| r.ok).collect(),
            timed_out: self.rows.iter().map(|r| r.timed_out).collect(),
            failed,
            late: self.rows.iter().map(|r| r.late).collect(),
            late_after_ms: self.late_after.as_millis() as u64,
            p50_us: self.rows.iter().map(|r| quantile(&r.latency, 0.5)).collect(),
            p99_us: self.rows.iter().map(|r| quantile(&r.latency, 0.99)).collect(),
            max_us: self.rows.iter().map(|r| (!r.latency.is_empty()).then(|| r.latency.max() as f64 / 1e3)).collect(),
            backlog: self.backlog.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_land_in_the_bucket_of_their_intended_time() {
        let origin = Instant::now();
        let ms = Duration::from_millis;
        let mut b = Buckets::new(origin, ms(1000), BUCKET, ms(50));
        b.record(origin + ms(5), true, Ended::Ok(ms(1)));
        b.record(origin + ms(99), true, Ended::Ok(ms(80)));
        b.record(origin + ms(100), true, Ended::TimedOut);
        b.record(origin + ms(250), false, Ended::Failed("connect"));
        // Past the window's end: kept in the last bucket, never lost.
        b.record(origin + ms(5000), true, Ended::Ok(ms(2)));
        let c = b.columns();
        assert_eq!(c.len(), 10);
        assert_eq!(c.offered[..3], [2, 1, 1]);
        assert_eq!(c.dispatched[..3], [2, 1, 0]);
        assert_eq!((c.ok[0], c.late[0], c.timed_out[1]), (2, 1, 1));
        assert_eq!(c.failed["connect"][2], 1);
        assert_eq!(c.failed_at(2), 1);
        assert_eq!(c.ok[9], 1);
        assert!(c.backlog.is_empty(), "no backlog read: no column");
        // Readings by wall time: the most per bucket; before the window or past it, left out.
        b.set_backlog(&[(origin + ms(10), 3), (origin + ms(90), 7), (origin + ms(150), 2), (origin + ms(1500), 9)]);
        let c = b.columns();
        assert_eq!(c.backlog[..3], [Some(7), Some(2), None]);
        assert_eq!(c.backlog.len(), 10);
        assert!(c.backlog[3..].iter().all(Option::is_none));
        assert_eq!(c.totals(), (5, 4, 3, 1, 1, 1));
        let p99 = c.p99_us[0].unwrap();
        assert!((79_000.0..=81_000.0).contains(&p99), "{p99}");
        assert_eq!(c.p50_us[1], None);
        assert_eq!(b.pooled(0..1).len(), 2);
        assert_eq!(b.index_of(ms(250)), 2);
    }
}
