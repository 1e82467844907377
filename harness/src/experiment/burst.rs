//! `burst`: an open-loop load below capacity, a peak past it, then the load below it again
//! (`[[experiment.phases]]`). It tests the claim "the queue smooths load peaks".
//!
//! Read per arm ([`BurstSummary`]), with the timeline split at the burst (the phase with the
//! highest offered rate) by intended send time: p99 before, during and after; calls answered
//! within the client's deadline, failed and timed out; the broker's backlog before the burst, at
//! its peak, and the time from the burst's end until it was back to where it was before; and the
//! time until every call was answered as fast as before the burst again (the outage's reading).

use std::time::Duration;

use super::outage::recovered_bucket;
use super::spec::ExperimentSpec;
use super::{Kind, Measures};
use crate::load::timeline::Buckets;
use crate::results::experiment::{ArmTimeline, BurstSummary};
use crate::results::timeline::TimelineColumns;

/// The `burst` row of [`super::KINDS`].
pub const KIND: Kind = Kind {
    name: "burst",
    about: "a load peak past capacity between two calm phases: latency, failures and the broker's backlog around it",
    check,
    measures: Measures::Timeline(read),
};

fn check(spec: &ExperimentSpec) -> Result<(), (&'static str, String)> {
    if spec.phases.len() < 2 {
        return Err((
            "phases",
            format!(
                "a burst needs [[phases]]: the peak's start and the calm after it (got {} phase(s))",
                spec.phases.len()
            ),
        ));
    }
    Ok(())
}

fn read(_spec: &ExperimentSpec, buckets: &Buckets, timeline: &mut ArmTimeline) {
    timeline.burst = summarize(buckets, timeline);
}

/// The burst figures of one arm's timeline; `None` without phases (nothing to split at).
pub fn summarize(buckets: &Buckets, t: &ArmTimeline) -> Option<BurstSummary> {
    let phases = &t.offered_phases;
    // The burst is the phase with the highest rate (the first of equals), never the first phase.
    let peak =
        (1..phases.len()).reduce(|best, i| if phases[i].rate_per_s > phases[best].rate_per_s { i } else { best })?;
    let (from_ms, rate) = (phases[peak].from_ms, phases[peak].rate_per_s);
    let c = &t.timeline;
    let to_ms = phases.get(peak + 1).map_or(c.len() as u64 * c.bucket_ms, |p| p.from_ms);
    let at = |ms: u64| buckets.index_of(Duration::from_millis(ms));
    let (from, to) = (at(from_ms), at(to_ms));
    let p99 = |range: std::ops::Range<usize>| {
        let h = buckets.pooled(range);
        (!h.is_empty()).then(|| h.value_at_quantile(0.99) as f64 / 1e3)
    };
    let p99_before_us = p99(0..from);
    let (_, _, answered, timed_out, failed, late) = c.totals();
    let (backlog_before, peak_backlog, drained_after_ms) = backlog_figures(c, from, to, to_ms);
    let recovered_after_ms = p99_before_us.and_then(|steady| {
        recovered_bucket(buckets, c, steady, to_ms as f64)
            .map(|i| (i as f64 * c.bucket_ms as f64 - to_ms as f64).max(0.0))
    });
    Some(BurstSummary {
        burst_from_ms: from_ms,
        burst_to_ms: to_ms,
        rate_before_per_s: phases[peak - 1].rate_per_s,
        rate_during_per_s: rate,
        p99_before_us,
        p99_during_us: p99(from..to),
        p99_after_us: p99(to..c.len()),
        sent: t.accounting.sent,
        answered,
        failed,
        timed_out,
        late,
        backlog_before,
        peak_backlog,
        drained_after_ms,
        recovered_after_ms,
    })
}

/// The backlog before the burst (buckets before `from`), its peak from `from` on, and the time
/// from the burst's end (`to_ms`, bucket `to`) to the first bucket read at or below the level
/// before; all `None` when the timeline has no backlog column (a direct arm) or no reading.
fn backlog_figures(c: &TimelineColumns, from: usize, to: usize, to_ms: u64) -> (Option<u64>, Option<u64>, Option<f64>) {
    if c.backlog.is_empty() {
        return (None, None, None);
    }
    let before = c.backlog[..from.min(c.backlog.len())].iter().flatten().copied().max();
    let peak = c.backlog[from.min(c.backlog.len())..].iter().flatten().copied().max();
    let drained = before.and_then(|level| {
        (to..c.backlog.len())
            .find(|&i| c.backlog[i].is_some_and(|depth| depth <= level))
            .map(|i| (i as f64 * c.bucket_ms as f64 - to_ms as f64).max(0.0))
    });
    (before, peak, drained)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::timeline::{Ended, BUCKET};
    use crate::results::experiment::OfferedPhase;
    use std::time::Instant;

    fn spec(phases: &str) -> ExperimentSpec {
        toml::from_str(&format!(
            "kind = \"burst\"\nname = \"x\"\narms = [\"amqp\"]\nload = {{ rate_per_s = 10 }}\nwarmup_ms = 0\nduration_ms = 1000\n{phases}"
        ))
        .unwrap()
    }

    #[test]
    fn a_burst_needs_a_peak_and_a_calm_after_it() {
        assert!(check(&spec("")).unwrap_err().1.contains("got 0 phase(s)"));
        let one = "[[phases]]\nfrom_ms = 200\nload = { rate_per_s = 30 }\n";
        assert!(check(&spec(one)).unwrap_err().1.contains("got 1 phase(s)"));
        let two = format!("{one}[[phases]]\nfrom_ms = 400\nload = {{ rate_per_s = 10 }}\n");
        assert!(check(&spec(&two)).is_ok());
    }

    /// Known answer: 10 buckets of 1 ms calls, a burst over buckets 3..5 whose calls took 50 ms,
    /// then 1 ms again; a backlog of 2 before, 40 and 60 during, then 30, 10, 2: drained 200 ms
    /// after the burst's end (the third bucket after it is back to 2), its peak 60.
    #[test]
    fn the_timeline_is_read_before_during_and_after_the_burst() {
        let origin = Instant::now();
        let mut b = Buckets::new(origin, BUCKET * 10, BUCKET, Duration::from_secs(1));
        for i in 0..10u32 {
            let ms = if (3..5).contains(&i) { 50 } else { 1 };
            for _ in 0..100 {
                b.record(origin + BUCKET * i + Duration::from_millis(1), true, Ended::Ok(Duration::from_millis(ms)));
            }
        }
        b.record(origin + BUCKET * 4, true, Ended::TimedOut);
        let depths = [2, 1, 2, 40, 60, 30, 10, 2, 1, 0];
        let readings: Vec<(Instant, u64)> =
            depths.iter().enumerate().map(|(i, &d)| (origin + BUCKET * i as u32 + BUCKET / 2, d)).collect();
        b.set_backlog(&readings);
        let phase = |from_ms, rate_per_s| OfferedPhase { from_ms, rate_per_s };
        let mut t = ArmTimeline {
            offered_phases: vec![phase(0, 1000.0), phase(300, 5000.0), phase(500, 1000.0)],
            timeline: b.columns(),
            ..crate::experiment::tests::empty_timeline()
        };
        t.accounting.sent = 1001;
        let s = summarize(&b, &t).unwrap();
        assert_eq!((s.burst_from_ms, s.burst_to_ms), (300, 500));
        assert_eq!((s.rate_before_per_s, s.rate_during_per_s), (1000.0, 5000.0));
        let ms = |us: Option<f64>| (us.unwrap() / 1e3).round();
        assert_eq!((ms(s.p99_before_us), ms(s.p99_during_us), ms(s.p99_after_us)), (1.0, 50.0, 1.0));
        assert_eq!((s.sent, s.answered, s.timed_out, s.failed), (1001, 1000, 1, 0));
        assert_eq!((s.backlog_before, s.peak_backlog, s.drained_after_ms), (Some(2), Some(60), Some(200.0)));
        // The call that timed out was intended during the burst: after it, every bucket is back
        // to 1 ms at once.
        assert_eq!(s.recovered_after_ms, Some(0.0));
        // Without a backlog column (a direct arm): no backlog figures.
        t.timeline.backlog.clear();
        let s = summarize(&b, &t).unwrap();
        assert_eq!((s.backlog_before, s.peak_backlog, s.drained_after_ms), (None, None, None));
        // Without phases there is nothing to split at.
        t.offered_phases.clear();
        assert!(summarize(&b, &t).is_none());
    }
}
