//! `scale-workers`: a broker arm's queue group starts with fewer worker processes than its load
//! needs, so a backlog builds in the broker; at a fixed time a `scale` event starts more under
//! the same load. It tests the claim "workers can be scaled dynamically".
//!
//! Read per arm ([`ScaleSummary`]) from the broker's backlog alone: the rate the workers served
//! before the scale (offered minus the backlog's growth over [`SCALE_WINDOW_MS`]), the rate they
//! served from the scale until the queue was empty, and how long emptying took.
//!
//! A direct arm runs its equivalent: every backend is started with the L4 balancer in front of
//! them, those past `processes` held out of rotation, and the scale puts them in rotation (see
//! `topology`). It has no queue to read a served rate from, and its answered calls by intended
//! send time do not give one either (an overloaded server answers every call later and later
//! until they time out), so what it reports is where the calls went: each backend's CPU over
//! the timeline (`backend_cpu_ms`), which the report reads as the new backends' share. An L4
//! balancer spreads connections, not calls: a client that keeps its connections (gRPC's one
//! HTTP/2 connection) stays on the backends it had.

use super::spec::{Action, ExperimentSpec};
use super::{Kind, Measures};
use crate::load::timeline::Buckets;
use crate::results::experiment::{ArmTimeline, ScaleSummary, EMPTY_FRACTION, SCALE_WINDOW_MS};
use crate::results::timeline::TimelineColumns;

/// The `scale-workers` row of [`super::KINDS`].
pub const KIND: Kind = Kind {
    name: "scale-workers",
    about: "a queue group scaled up under a backlog (or direct backends put in rotation behind an L4 balancer): the rate served before and after, the time to empty the queue",
    check,
    measures: Measures::Timeline(read),
};

fn check(spec: &ExperimentSpec) -> Result<(), (&'static str, String)> {
    match spec.events.iter().filter(|e| e.action == Action::Scale).collect::<Vec<_>>().as_slice() {
        [one] if one.to.is_some_and(|to| to > spec.processes) && one.at_ms >= SCALE_WINDOW_MS => Ok(()),
        _ => Err((
            "events",
            format!(
                "exactly one `scale` event, at {SCALE_WINDOW_MS} ms or later, to more than `processes` ({})",
                spec.processes
            ),
        )),
    }
}

fn read(spec: &ExperimentSpec, buckets: &Buckets, timeline: &mut ArmTimeline) {
    timeline.scale = summarize(spec, buckets, timeline);
}

/// The scale figures of one arm's timeline; `None` without a scale event.
pub fn summarize(spec: &ExperimentSpec, _buckets: &Buckets, t: &ArmTimeline) -> Option<ScaleSummary> {
    let event = spec.events.iter().find(|e| e.action == Action::Scale)?;
    let record = t.events.iter().find(|e| e.action == "scale");
    let scale_at_ms = record.and_then(|r| r.actual_ms).unwrap_or(event.at_ms as f64);
    let offered_per_s = t
        .offered_phases
        .iter()
        .rev()
        .find(|p| p.from_ms as f64 <= scale_at_ms)
        .map_or(t.offered_rate_per_s, |p| p.rate_per_s);
    let (backlog_at_scale, served_before_per_s, served_after_per_s, emptied_after_ms) =
        rates(&t.timeline, scale_at_ms, offered_per_s);
    Some(ScaleSummary {
        scale_at_ms,
        processes_before: spec.processes,
        processes_after: event.to.unwrap_or(spec.processes),
        offered_per_s,
        backlog_at_scale,
        served_before_per_s,
        served_after_per_s,
        emptied_after_ms,
        lost: t.unanswered,
    })
}

/// From the backlog column: the backlog in the bucket before the scale, the rate served before
/// (offered minus the growth between the buckets [`SCALE_WINDOW_MS`] and one before the scale),
/// the rate served after (offered plus the fall from the scale to the emptied bucket), and the
/// time to that bucket. `None`s without readings.
fn rates(
    c: &TimelineColumns,
    scale_at_ms: f64,
    offered_per_s: f64,
) -> (Option<u64>, Option<f64>, Option<f64>, Option<f64>) {
    let width_ms = c.bucket_ms.max(1) as f64;
    let index = |ms: f64| ((ms.max(0.0) / width_ms) as usize).min(c.backlog.len());
    let scale = index(scale_at_ms);
    if c.backlog.is_empty() || scale == 0 {
        return (None, None, None, None);
    }
    // The last reading before the scale, and the first from the window's start: a bucket can
    // go without one (a Kafka lag read takes longer than a bucket).
    let start = index(scale_at_ms - SCALE_WINDOW_MS as f64).min(scale - 1);
    let last = (start..scale).rev().find(|&i| c.backlog[i].is_some());
    let first = (start..scale).find(|&i| c.backlog[i].is_some());
    let at_scale = last.and_then(|i| c.backlog[i]);
    let served_before = first.zip(last).filter(|(f, l)| l > f).map(|(f, l)| {
        let growth = c.backlog[l].unwrap_or(0) as f64 - c.backlog[f].unwrap_or(0) as f64;
        offered_per_s - growth / ((l - f) as f64 * width_ms / 1e3)
    });
    let Some(depth) = at_scale else { return (None, served_before, None, None) };
    let empty_at = (depth as f64 * EMPTY_FRACTION).floor() as u64;
    let emptied = (scale..c.backlog.len()).find(|&i| c.backlog[i].is_some_and(|d| d <= empty_at));
    let after = emptied.and_then(|i| {
        let seconds = (i + 1 - scale) as f64 * width_ms / 1e3;
        let fallen = depth as f64 - c.backlog[i].unwrap_or(0) as f64;
        (seconds > 0.0).then(|| offered_per_s + fallen / seconds)
    });
    let emptied_after_ms = emptied.map(|i| ((i + 1) as f64 * width_ms - scale_at_ms).max(0.0));
    (Some(depth), served_before, after, emptied_after_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(backlog: &[u64]) -> TimelineColumns {
        TimelineColumns { bucket_ms: 100, backlog: backlog.iter().map(|&d| Some(d)).collect(), ..Default::default() }
    }

    /// Known answer: 300/s offered; the backlog grows by 20 a bucket (200/s) for 3 s, so one
    /// worker served 100/s; scaled at 3.0 s with 600 waiting, it falls by 60 a bucket to 0 in
    /// 1 s: served 300 + 600 = 900/s, emptied 1.0 s after the scale.
    #[test]
    fn the_rates_served_follow_from_the_backlog() {
        let mut backlog: Vec<u64> = (1..=30).map(|i| i * 20).collect();
        backlog.extend((1..=10).map(|i| 600 - i * 60));
        backlog.extend([0; 5]);
        let (depth, before, after, emptied) = rates(&columns(&backlog), 3000.0, 300.0);
        assert_eq!(depth, Some(600));
        assert!((before.unwrap() - 100.0).abs() < 1e-6, "{before:?}");
        assert!((after.unwrap() - 900.0).abs() < 1e-6, "{after:?}");
        assert_eq!(emptied, Some(1000.0));
        // Never emptied within the timeline: no rate after, no time.
        let (_, _, after, emptied) = rates(&columns(&backlog[..35]), 3000.0, 300.0);
        assert_eq!((after, emptied), (None, None));
        // Buckets without a reading (a slow Kafka lag read) are skipped, not read as missing.
        let mut gaps = columns(&backlog);
        for i in (10..29).step_by(2) {
            gaps.backlog[i] = None;
        }
        let (depth, before, _, _) = rates(&gaps, 3000.0, 300.0);
        assert_eq!(depth, Some(600));
        assert!((before.unwrap() - 100.0).abs() < 1e-6, "{before:?}");
        // No backlog read (a direct arm): nothing.
        assert_eq!(rates(&columns(&[]), 3000.0, 300.0), (None, None, None, None));
    }

    #[test]
    fn a_scale_experiment_needs_one_scale_up_after_the_window() {
        let spec = |events: &str| -> ExperimentSpec {
            toml::from_str(&format!(
                "kind = \"scale-workers\"\nname = \"x\"\narms = [\"amqp\"]\nload = {{ rate_per_s = 10 }}\nwarmup_ms = 0\nduration_ms = 9000\nevents = {events}"
            ))
            .unwrap()
        };
        assert!(check(&spec("[{ at_ms = 3000, action = \"scale\", target = \"server\", to = 4 }]")).is_ok());
        for bad in [
            "[]",
            "[{ at_ms = 1000, action = \"scale\", target = \"server\", to = 4 }]",
            "[{ at_ms = 3000, action = \"scale\", target = \"server\", to = 1 }]",
        ] {
            assert!(check(&spec(bad)).unwrap_err().1.contains("exactly one `scale` event"), "{bad}");
        }
    }
}
