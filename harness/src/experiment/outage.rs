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
use super::Kind;
use crate::load::timeline::Buckets;
use crate::results::experiment::{ArmTimeline, OutageSummary, RECOVERED_P99_FACTOR};

/// The `outage` row of [`super::KINDS`].
pub const KIND: Kind = Kind {
    name: "outage",
    about: "the server or workers stop (SIGSTOP) or crash (SIGKILL) under load and come back",
    check,
    read,
};

/// A recovered bucket's p99 may also be this much above the steady p99 (a 100 ms bucket's p99
/// of a fast arm moves by more than 2x on one slow call).
pub const RECOVERED_P99_SLACK_US: f64 = 5000.0;

fn check(spec: &ExperimentSpec) -> Result<(), String> {
    let outage = spec.events.iter().position(|e| matches!(e.action, Action::Stop | Action::Kill));
    let back = spec.events.iter().rposition(|e| matches!(e.action, Action::Continue | Action::Restart));
    match (outage, back) {
        (Some(o), Some(b)) if o < b => Ok(()),
        _ => Err("an outage needs a stop or kill event followed by a continue or restart event".to_owned()),
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
        (Some(steady), Some(back)) => {
            recovered_bucket(columns, steady, back).map(|i| (i as f64 * columns.bucket_ms as f64 - back).max(0.0))
        }
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

/// The first bucket at or after the one holding `back_ms` from which on every bucket with calls
/// had them all answered, and a p99 within the recovered bound.
fn recovered_bucket(c: &crate::results::timeline::TimelineColumns, steady_p99_us: f64, back_ms: f64) -> Option<usize> {
    let bound = (steady_p99_us * RECOVERED_P99_FACTOR).max(steady_p99_us + RECOVERED_P99_SLACK_US);
    let healthy = |i: usize| {
        c.offered[i] == 0 || (c.timed_out[i] == 0 && c.failed_at(i) == 0 && c.p99_us[i].is_some_and(|p99| p99 <= bound))
    };
    let from = ((back_ms / c.bucket_ms.max(1) as f64) as usize).min(c.len());
    // Walk back from the end: the recovered bucket is the start of the last healthy run, if that
    // run starts after the service came back.
    let mut start = c.len();
    while start > from && healthy(start - 1) {
        start -= 1;
    }
    (start < c.len()).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::timeline::TimelineColumns;

    fn columns(p99: &[Option<f64>], failed: &[u64]) -> TimelineColumns {
        let n = p99.len();
        TimelineColumns {
            bucket_ms: 100,
            offered: vec![10; n],
            dispatched: vec![10; n],
            ok: vec![10; n],
            timed_out: vec![0; n],
            failed: [("connect".to_owned(), failed.to_vec())].into(),
            late: vec![0; n],
            late_after_ms: 1000,
            p50_us: p99.to_vec(),
            p99_us: p99.to_vec(),
            max_us: p99.to_vec(),
        }
    }

    #[test]
    fn recovery_is_the_start_of_the_last_healthy_run_after_the_service_came_back() {
        let ok = Some(500.0);
        let slow = Some(900_000.0);
        // Back at 300 ms; buckets 3 and 4 still slow (the backlog), healthy from bucket 5 on.
        let c = columns(&[ok, slow, slow, slow, slow, ok, ok, ok], &[0; 8]);
        assert_eq!(recovered_bucket(&c, 500.0, 300.0), Some(5));
        // A failure in the last bucket: not recovered within the timeline.
        let c = columns(&[ok, slow, ok, ok], &[0, 0, 0, 1]);
        assert_eq!(recovered_bucket(&c, 500.0, 100.0), None);
        // Healthy at once: recovered in the bucket the service came back in.
        let c = columns(&[ok, ok, ok, ok], &[0; 4]);
        assert_eq!(recovered_bucket(&c, 500.0, 150.0), Some(1));
        // Within the 1 ms slack of a fast arm's p99.
        let c = columns(&[Some(100.0), Some(1050.0)], &[0; 2]);
        assert_eq!(recovered_bucket(&c, 100.0, 0.0), Some(0));
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
        assert!(check(&spec).unwrap_err().contains("followed by a continue or restart"));
        spec.events.truncate(1);
        assert!(check(&spec).is_err());
    }
}
