//! `replay`: a new consumer group reads the last M events of a topic again, from their first
//! offset (`replay_events` = M). It tests the claim "history and replay".
//!
//! Through the family's [`crate::transport::pubsub`] seam: the producer publishes 2M numbered
//! events to a new 1-partition topic and waits for every delivery report, then a consumer of a new
//! group is assigned the partition at the high watermark minus M and reads until it has M events
//! (at most [`crate::transport::pubsub::SETUP_WITHIN`]). Reported: the events read, whether they
//! were exactly events M..2M in order (the known answer), the time to the first event and the
//! rate from the consumer's creation to its last event. A family whose broker keeps no history (RabbitMQ classic
//! queues, core NATS, a direct call) is recorded as such, with the reason, and nothing is
//! measured for it.

use std::time::Duration;

use super::spec::ExperimentSpec;
use super::{arm_namespace, arm_record, broker_endpoint, empty_timeline, ExperimentContext, Kind, Measures};
use crate::results::experiment::{ArmTimeline, ReplaySummary};
use crate::results::ArmStatus;
use crate::transport::arm::{History, Replayed};
use crate::transport::Arm;
use crate::{Error, Result};

/// The `replay` row of [`super::KINDS`].
pub const KIND: Kind = Kind {
    name: "replay",
    about: "a new consumer group reads a topic's last M events by offset: the replay rate, or why the broker cannot",
    check,
    measures: Measures::Own(run),
};

fn check(spec: &ExperimentSpec) -> std::result::Result<(), (&'static str, String)> {
    if spec.replay_events.is_none() {
        return Err(("replay_events", "the events to replay, M (e.g. 50000)".to_owned()));
    }
    if !spec.events.is_empty() {
        return Err(("events", "none: a replay has no timed events".to_owned()));
    }
    Ok(())
}

fn run(ctx: &ExperimentContext, spec: &ExperimentSpec, arm: &Arm) -> Result<ArmTimeline> {
    let m = spec.replay_events.unwrap_or(1);
    let history =
        arm.family().pubsub.map_or(&History::Cannot("the family has no publish/subscribe seam"), |p| &p.history);
    let summary = match history {
        History::Cannot(why) => ReplaySummary {
            how: (*why).to_owned(),
            supported: false,
            published: 0,
            events: m,
            read: 0,
            in_order: false,
            first_event_ms: None,
            rate_per_s: None,
        },
        History::Replay(replay) => {
            let endpoint = broker_endpoint(ctx, arm)?
                .ok_or_else(|| Error::Internal(format!("{arm}: a family that replays runs through a broker")))?;
            let namespace = arm_namespace(&ctx.namespace);
            let replayed = ctx.client.block_on(replay(arm, &endpoint, &namespace, m, m))?;
            summarize(&replayed, m, m)
        }
    };
    let mut timeline = empty_timeline(arm_record(arm), ArmStatus::Ran);
    timeline.server = "in-process producer and replaying consumer".to_owned();
    timeline.replay = Some(summary);
    Ok(timeline)
}

/// The replay's figures: `older` events came first, then the `events` it was to read.
pub fn summarize(replayed: &Replayed, older: u64, events: u64) -> ReplaySummary {
    let read = replayed.seqs.len() as u64;
    let in_order = replayed.seqs.iter().copied().eq(older..older + events);
    // From the consumer's creation to its last event: the rate a new service catches up at.
    // librdkafka prefetches, so from the first event on it reads from memory.
    let whole = (replayed.first_after.unwrap_or_default() + replayed.span).max(Duration::from_micros(1));
    ReplaySummary {
        how: replayed.how.clone(),
        supported: true,
        published: older + events,
        events,
        read,
        in_order,
        first_event_ms: replayed.first_after.map(|d| d.as_secs_f64() * 1000.0),
        rate_per_s: (read > 0).then(|| read as f64 / whole.as_secs_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replayed(seqs: Vec<u64>, span_ms: u64) -> Replayed {
        Replayed {
            how: "test".to_owned(),
            seqs,
            first_after: Some(Duration::from_millis(100)),
            span: Duration::from_millis(span_ms),
        }
    }

    /// Known answer: events 10..20, the first 100 ms after the start, the last 900 ms after the
    /// first: 10 in 1 s; anything else is not in order.
    #[test]
    fn a_replay_is_in_order_only_when_it_read_exactly_the_last_m() {
        let s = summarize(&replayed((10..20).collect(), 900), 10, 10);
        assert_eq!((s.read, s.in_order, s.published), (10, true, 20));
        assert!((s.rate_per_s.unwrap() - 10.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.first_event_ms, Some(100.0));
        let swapped = [10, 12, 11, 13, 14, 15, 16, 17, 18, 19];
        assert!(!summarize(&replayed(swapped.to_vec(), 900), 10, 10).in_order);
        assert!(!summarize(&replayed((0..10).collect(), 900), 10, 10).in_order, "the older events");
        assert!(!summarize(&replayed((10..19).collect(), 900), 10, 10).in_order, "one short");
        assert_eq!(summarize(&replayed(Vec::new(), 0), 10, 10).rate_per_s, None);
    }
}
