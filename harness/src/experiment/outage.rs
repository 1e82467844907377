//! `outage`: the server (direct arms) or the worker process (broker arms) stops answering for a
//! while, under an open-loop load, and comes back: SIGSTOP then SIGCONT (`stop`), or SIGKILL then
//! a restart (`kill`). It tests the claim "messages are not lost, even if the service is
//! temporarily unavailable".
//!
//! Read per arm ([`OutageSummary`]): calls failed (the caller was told), timed out, answered late
//! (over `late_after_ms`); the slowest answer; how long after the service came back a call sent
//! then was answered as fast as before the outage again; and, by idempotency-key accounting on the
//! correlating (broker) clients, requests lost (never answered, never failed) and answered twice.

use super::spec::{Action, ExperimentSpec};
use super::{Kind, Measures};
use crate::load::timeline::Buckets;
use crate::results::experiment::{ArmTimeline, OutageSummary, RECOVERED_P99_FACTOR};
use crate::results::timeline::TimelineColumns;

/// The `outage` row of [`super::KINDS`].
pub const KIND: Kind = Kind {
    name: "outage",
    about: "the server or workers stop (SIGSTOP) or crash (SIGKILL) under load and come back",
    check,
    measures: Measures::Timeline(read),
};

/// A recovered bucket's p99 may also be this much above the steady p99 (a 100 ms bucket's p99
/// of a fast arm moves by more than 2x on one slow call).
pub const RECOVERED_P99_SLACK_US: f64 = 5000.0;

fn check(spec: &ExperimentSpec) -> Result<(), (&'static str, String)> {
    let outage = spec.events.iter().position(|e| matches!(e.action, Action::Stop | Action::Kill));
    let back = spec.events.iter().rposition(|e| matches!(e.action, Action::Continue | Action::Restart));
    match (outage, back) {
        (Some(o), Some(b)) if o < b => Ok(()),
        _ => Err(("events", "an outage needs a stop or kill event followed by a continue or restart event".to_owned())),
    }
}

fn read(spec: &ExperimentSpec, buckets: &Buckets, timeline: &mut ArmTimeline) {
    timeline.outage = Some(summarize(spec, buckets, timeline));
}

/// The outage figures of one arm's timeline.
pub fn summarize(spec: &ExperimentSpec, buckets: &Buckets, t: &ArmTimeline) -> OutageSummary {
    let first_event_ms = spec.events.first().map_or(spec.duration_ms, |e| e.at_ms);
    let steady = buckets.pooled(0..buckets.index_of(std::time::Duration::from_millis(first_event_ms)));
    let steady_p99_us = (!steady.is_empty()).then(|| steady.value_at_quantile(0.99) as f64 / 1e3);
    // The service is back at the last continue or restart, as carried out.
    let back_ms = t
        .events
        .iter()
        .rev()
        .find(|e| e.action == "continue" || e.action == "restart")
        .map(|e| e.actual_ms.unwrap_or(e.at_ms as f64));
    let columns = &t.timeline;
    let recovered_after_ms = match (steady_p99_us, back_ms) {
        (Some(steady), Some(back)) => recovered_bucket(buckets, columns, steady, back)
            .map(|i| (i as f64 * columns.bucket_ms as f64 - back).max(0.0)),
        _ => None,
    };
    let (_, _, _, timed_out, failed, late) = columns.totals();
    let max_latency_us = columns.max_us.iter().flatten().copied().reduce(f64::max);
    let lost = t.unanswered.unwrap_or(timed_out);
    OutageSummary {
        steady_p99_us,
        failed,
        timed_out,
        late,
        max_latency_us,
        recovered_after_ms,
        promises_durability: t.arm.promises_durability(),
        lost,
        duplicates: t.duplicate_replies.unwrap_or(0),
    }
}

/// The first bucket at or after the one holding `back_ms` such that, from it to the end of the
/// timeline, no call failed or timed out and the p99 of every answered call pooled was within the
/// recovered bound. Pooled over the rest of the timeline, one slow call in a 100 ms bucket (a
/// neighbour's wake-up) does not hide a recovery; a backlog still draining does.
pub(super) fn recovered_bucket(
    buckets: &Buckets,
    c: &TimelineColumns,
    steady_p99_us: f64,
    back_ms: f64,
) -> Option<usize> {
    let bound_ns = (steady_p99_us * RECOVERED_P99_FACTOR).max(steady_p99_us + RECOVERED_P99_SLACK_US) * 1e3;
    let from = ((back_ms / c.bucket_ms.max(1) as f64) as usize).min(c.len());
    let mut pooled = buckets.pooled(0..0);
    let mut recovered = None;
    for i in (from..c.len()).rev() {
        if c.timed_out[i] > 0 || c.failed_at(i) > 0 {
            break;
        }
        let _ = pooled.add(buckets.pooled(i..i + 1));
        if pooled.is_empty() || (pooled.value_at_quantile(0.99) as f64) <= bound_ns {
            recovered = Some(i);
        }
    }
    recovered
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::timeline::{Ended, BUCKET};
    use std::time::{Duration, Instant};

    /// Buckets of 100 calls each with the given latency (ms), and failures where `failed`.
    fn timeline(latency_ms: &[u64], failed: &[usize]) -> Buckets {
        let origin = Instant::now();
        let mut b = Buckets::new(origin, BUCKET * latency_ms.len() as u32, BUCKET, Duration::from_secs(1));
        for (i, ms) in latency_ms.iter().enumerate() {
            let at = origin + BUCKET * i as u32 + Duration::from_millis(1);
            for _ in 0..100 {
                b.record(at, true, Ended::Ok(Duration::from_millis(*ms)));
            }
            if failed.contains(&i) {
                b.record(at, false, Ended::Failed("connect"));
            }
        }
        b
    }

    fn recovered(latency_ms: &[u64], failed: &[usize], back_ms: f64) -> Option<usize> {
        let b = timeline(latency_ms, failed);
        recovered_bucket(&b, &b.columns(), 1000.0, back_ms)
    }

    #[test]
    fn recovery_starts_where_the_rest_of_the_timeline_is_back_to_the_steady_p99() {
        // Steady 1 ms; back at 300 ms; buckets 3 and 4 still drain a backlog (900 ms).
        assert_eq!(recovered(&[1, 900, 900, 900, 900, 1, 1, 1], &[], 300.0), Some(5));
        // Healthy at once: the bucket the service came back in.
        assert_eq!(recovered(&[1, 1, 1, 1], &[], 150.0), Some(1));
        // One slow call after the recovery (a neighbour's wake-up) does not hide it.
        let mut b = timeline(&[1, 900, 1, 1, 1, 1, 1, 1], &[]);
        b.record(Instant::now() + BUCKET * 4, true, Ended::Ok(Duration::from_millis(40)));
        assert_eq!(recovered_bucket(&b, &b.columns(), 1000.0, 100.0), Some(2));
        // A failure in the last bucket: not recovered within the timeline.
        assert_eq!(recovered(&[1, 900, 1, 1], &[3], 100.0), None);
    }

    #[test]
    fn an_outage_needs_an_outage_and_a_return() {
        let mut spec: ExperimentSpec = toml::from_str(
            r#"kind = "outage"
name = "x"
arms = ["grpc"]
load = { rate_per_s = 10 }
warmup_ms = 0
duration_ms = 1000
events = [{ at_ms = 100, action = "stop", target = "server" }, { at_ms = 200, action = "continue", target = "server" }]"#,
        )
        .unwrap();
        assert!(check(&spec).is_ok());
        spec.events.reverse();
        assert!(check(&spec).unwrap_err().1.contains("followed by a continue or restart"));
        spec.events.truncate(1);
        assert!(check(&spec).is_err());
    }
}
