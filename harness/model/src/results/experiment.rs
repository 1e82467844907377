//! What the timed experiments (`[[experiment]]`, `crate::experiment`) measured, as plain records:
//! the arm by name and options, never a live arm, so an old file still reads after a family is
//! renamed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::timeline::TimelineColumns;
use super::{Accounting, ArmStatus};
use crate::payload::Profile;

/// One experiment of one scenario, every arm it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentResult {
    /// Scenario name.
    pub scenario: String,
    /// Experiment kind (`outage`).
    pub kind: String,
    /// Experiment name within the scenario (`stop`, `kill`).
    pub name: String,
    /// Payload profile.
    pub profile: Profile,
    /// Per arm, in run order.
    pub arms: Vec<ArmTimeline>,
}

/// An arm as results name it: plain data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmRecord {
    /// Canonical name (`amqp-durable`).
    pub name: String,
    /// Family (`amqp`).
    pub family: String,
    /// Body codec (`protobuf`, `json`).
    pub codec: String,
    /// Every option of the family, resolved.
    pub options: BTreeMap<String, String>,
    /// The broker it runs over, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<String>,
}

impl ArmRecord {
    /// Whether the arm promises that an accepted request survives its worker's crash (broker arms
    /// in durable mode: at-least-once delivery).
    pub fn promises_durability(&self) -> bool {
        self.broker.is_some() && self.options.get("durable").is_some_and(|v| v == "true")
    }
}

/// One arm through one experiment's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmTimeline {
    /// The arm.
    pub arm: ArmRecord,
    /// Whether it ran.
    pub status: ArmStatus,
    /// How its server or workers ran (`paybench serve grpc`, supervised, pids; the balancer in
    /// front of N direct backends) and the hops a call crossed.
    pub server: String,
    /// With N direct backends behind the balancer: each backend's CPU time over the timeline, ms,
    /// in start order (`None` for one restarted meanwhile, whose counter started again). How the
    /// balancer spread the calls. Empty with one server or a broker arm.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_cpu_ms: Vec<Option<f64>>,
    /// Capacity measured just before (closed loop on the full-stack client), calls/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_per_s: Option<f64>,
    /// The open-loop rate offered from the timeline's start, calls/s (throughout, without phases).
    pub offered_rate_per_s: f64,
    /// With load in phases: the rate offered from each phase's start, the first from 0 (the
    /// experiment's `phases`, rates from the measured capacity). Empty for one rate throughout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offered_phases: Vec<OfferedPhase>,
    /// What the timeline's `backlog` column counts (`RabbitMQ: messages ready in queue ...`), or
    /// why it was not read; absent for a family whose broker keeps no queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backlog_source: Option<String>,
    /// The client's deadline per call, ms: a call with no reply by then timed out (absent in
    /// files written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The events as intended and as carried out.
    pub events: Vec<EventRecord>,
    /// The timeline's calls, every outcome.
    pub accounting: Accounting,
    /// Replies that matched no waiting call, from the timeline's start until its last call ended
    /// plus a grace: duplicates after a redelivery, or answers that came after their deadline.
    pub unmatched_replies: u64,
    /// Of those, replies that came after their call had ended unanswered (correlating clients
    /// only: broker arms; null for request/response arms, which cannot see one).
    pub late_replies: Option<u64>,
    /// Of those, replies to a call already answered: a redelivered request answered twice.
    pub duplicate_replies: Option<u64>,
    /// Calls that ended with no reply and had none by the end of the grace (correlating clients).
    pub unanswered: Option<u64>,
    /// The calls by 100 ms bucket of intended send time.
    pub timeline: TimelineColumns,
    /// The outage kind's reading of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outage: Option<OutageSummary>,
    /// The burst kind's reading of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<BurstSummary>,
    /// The scale-workers kind's reading of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<ScaleSummary>,
    /// The fan-out kind's figures (it publishes events instead of calling: its `timeline` and
    /// `accounting` stay empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fan_out: Option<FanOutSummary>,
    /// The replay kind's figures, or why the arm's broker cannot replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplaySummary>,
}

/// The offered rate from a point of a timeline on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferedPhase {
    /// Milliseconds into the timeline.
    pub from_ms: u64,
    /// Calls/s from then on.
    pub rate_per_s: f64,
}

/// One event: what was asked and what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRecord {
    /// Intended time, milliseconds from the timeline's start.
    pub at_ms: u64,
    /// When it was carried out, milliseconds from the timeline's start (null: it was not).
    pub actual_ms: Option<f64>,
    /// `stop`, `continue`, `kill`, `restart`.
    pub action: String,
    /// `server`.
    pub target: String,
    /// Whether the process showed the effect (stopped, running again, gone, ready again).
    pub took_effect: bool,
    /// What was seen: pids, or why it did not take effect.
    pub detail: String,
}

/// The `outage` kind's figures for one arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutageSummary {
    /// p99 of the ok calls intended before the first event, µs.
    pub steady_p99_us: Option<f64>,
    /// Calls the caller was told failed (an error, any kind).
    pub failed: u64,
    /// Calls with no answer and no error by their deadline: for a broker arm, requests lost
    /// unless a late reply shows up among `unmatched_replies`.
    pub timed_out: u64,
    /// Answered calls slower than the timeline's `late_after_ms`.
    pub late: u64,
    /// The slowest answered call, µs.
    pub max_latency_us: Option<f64>,
    /// From the recovering event (continue, restart) to the first bucket after which every
    /// bucket's calls were answered, none failed, and its p99 was within
    /// [`RECOVERED_P99_FACTOR`] of the steady p99 (or 1 ms above it); null: not within the
    /// timeline.
    pub recovered_after_ms: Option<f64>,
    /// Whether the arm promises durability (see [`ArmRecord::promises_durability`]).
    pub promises_durability: bool,
    /// Requests never answered, even late, and never reported as failed: the correlating
    /// client's `unanswered` (each call's correlation id is tracked until its reply or the end of
    /// the grace), or for a request/response arm its timed-out calls (it cannot tell). Every call
    /// is answered, failed (reported to the caller), or counted here.
    pub lost: u64,
    /// Replies to calls already answered (`duplicate_replies`; 0 for request/response arms).
    pub duplicates: u64,
}

/// The `burst` kind's figures for one arm: the timeline split at the burst (the phase with the
/// highest offered rate) into before, during and after, by intended send time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstSummary {
    /// The burst's start, milliseconds into the timeline.
    pub burst_from_ms: u64,
    /// Its end (the next phase's start).
    pub burst_to_ms: u64,
    /// Offered rate before the burst, calls/s.
    pub rate_before_per_s: f64,
    /// Offered rate during the burst, calls/s.
    pub rate_during_per_s: f64,
    /// p99 of the answered calls intended before the burst, µs.
    pub p99_before_us: Option<f64>,
    /// p99 of those intended during it, µs.
    pub p99_during_us: Option<f64>,
    /// p99 of those intended after it, µs.
    pub p99_after_us: Option<f64>,
    /// Calls sent in the whole timeline.
    pub sent: u64,
    /// Calls answered within the client's deadline (`ok`).
    pub answered: u64,
    /// Calls the caller was told failed (an error, any kind).
    pub failed: u64,
    /// Calls with no answer and no error by the deadline.
    pub timed_out: u64,
    /// Answered calls slower than the timeline's `late_after_ms`.
    pub late: u64,
    /// The broker's backlog before the burst (the most read in a bucket), for an arm whose broker
    /// keeps a queue that was read.
    pub backlog_before: Option<u64>,
    /// The most backlog read from the burst's start on.
    pub peak_backlog: Option<u64>,
    /// From the burst's end to the first bucket whose backlog was back to `backlog_before`, ms;
    /// null: no backlog read, or not drained within the timeline.
    pub drained_after_ms: Option<f64>,
    /// From the burst's end to the first bucket after which every bucket's calls were answered,
    /// none failed, and their p99 was back within [`RECOVERED_P99_FACTOR`] of the p99 before the
    /// burst (as the outage reads it); null: not within the timeline.
    pub recovered_after_ms: Option<f64>,
}

/// The `scale-workers` kind's figures for one arm: a backlog built by more load than the first
/// worker processes serve, then the queue group scaled up under the same load. The rate the
/// workers served is read from the broker's backlog: offered minus the backlog's growth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleSummary {
    /// When the scale event was carried out, milliseconds into the timeline.
    pub scale_at_ms: f64,
    /// Worker processes before it.
    pub processes_before: u32,
    /// Worker processes after it.
    pub processes_after: u32,
    /// The offered rate around the scale, calls/s.
    pub offered_per_s: f64,
    /// The backlog in the bucket before the scale (the most read there).
    pub backlog_at_scale: Option<u64>,
    /// The rate the workers served in the [`SCALE_WINDOW_MS`] before the scale: offered minus the
    /// backlog's growth, calls/s.
    pub served_before_per_s: Option<f64>,
    /// The rate they served from the scale until the queue was empty, calls/s.
    pub served_after_per_s: Option<f64>,
    /// From the scale to the first bucket whose backlog was at most [`EMPTY_FRACTION`] of the
    /// backlog at the scale, ms; null: not within the timeline or no backlog read.
    pub emptied_after_ms: Option<f64>,
    /// Requests never answered and never failed (the correlating client's ledger).
    pub lost: Option<u64>,
}

/// The `fan-out` kind's figures for one arm: one "payment authorized" event published to N
/// subscribing services, at N = each of the experiment's `consumers`, subscribers added between
/// steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FanOutSummary {
    /// What a publish waits for before the producer counts the event handed off (a broker's
    /// confirm, a delivery report, a write buffer, N answered calls).
    pub handed_off: String,
    /// Where the end-to-end time is taken: on the subscriber as it receives the event, or (a
    /// direct arm) on the producer as each service's answer arrives.
    pub received_at: String,
    /// One step per subscriber count.
    pub steps: Vec<FanOutStep>,
}

/// One fan-out step: `consumers` subscribers, `events` published at `rate_per_s`, open loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FanOutStep {
    /// Subscribing services (N).
    pub consumers: u32,
    /// Events published (each meant for all N).
    pub events: u64,
    /// The rate they were published at, events/s.
    pub rate_per_s: f64,
    /// Publishes that failed (the event was not handed off).
    pub publish_failed: u64,
    /// Deliveries received, over all subscribers (at most `events` × N without duplicates).
    pub delivered: u64,
    /// Deliveries of an event a subscriber had already received.
    pub duplicates: u64,
    /// (event, subscriber) pairs never received within the drain time.
    pub missing: u64,
    /// Producer's time per event, from the publish call until handed off: p50, µs.
    pub producer_p50_us: Option<f64>,
    /// The same, p99, µs.
    pub producer_p99_us: Option<f64>,
    /// From the publish call until the last of the N subscribers had it: p50, µs (events
    /// every subscriber received).
    pub last_consumer_p50_us: Option<f64>,
    /// The same, p99, µs.
    pub last_consumer_p99_us: Option<f64>,
    /// CPU of every process involved (the suite's process with producer and subscribers, and the
    /// broker's) per event published, µs; null where a process's CPU could not be read.
    pub cpu_us_per_event: Option<f64>,
    /// A separate reading: what the same processes used while idle (subscribed, nothing
    /// published) over 1 s just before the step, scaled to the step's length and spread over its
    /// events, µs: the cost of keeping N subscribers connected and polling. Bursty background
    /// work can make it exceed `cpu_us_per_event`. Null where it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_cpu_us_per_event: Option<f64>,
}

/// The `replay` kind's figures for one arm: a new consumer group reads the last `events` of a
/// topic from their first offset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaySummary {
    /// How the history is read (`Kafka: a new group assigned offset high-M of a 1-partition
    /// topic`), or why the broker cannot replay (`RabbitMQ classic queues delete an acked
    /// message`).
    pub how: String,
    /// Whether the broker kept the history: false means nothing below was measured.
    pub supported: bool,
    /// Events published before the replay (older ones first, then the `events` replayed).
    pub published: u64,
    /// Events the replay asked for (the last M).
    pub events: u64,
    /// Events it read.
    pub read: u64,
    /// Whether it read exactly the last M, in publish order, each once.
    pub in_order: bool,
    /// From the new consumer's start until its first event, ms.
    pub first_event_ms: Option<f64>,
    /// Events read per second, from the new consumer's creation to its last event.
    pub rate_per_s: Option<f64>,
}

/// The window before a scale whose backlog growth gives the rate served before it, ms.
pub const SCALE_WINDOW_MS: u64 = 2000;
/// A queue counts as emptied once its depth is at most this share of its depth at the scale.
pub const EMPTY_FRACTION: f64 = 0.01;

/// A bucket's p99 is back to normal within this factor of the steady p99.
pub const RECOVERED_P99_FACTOR: f64 = 2.0;

#[cfg(test)]
mod tests {
    use crate::results::RunResults;

    /// A `results.json` written by the first version of this schema (an `outage-smoke` run) must
    /// keep loading: an old file read by a newer report.
    #[test]
    fn the_first_experiment_schema_still_loads() {
        let text = include_str!("../../tests/fixtures/outage-smoke-results.json");
        let results: RunResults = serde_json::from_str(text).unwrap();
        assert_eq!(results.experiments.len(), 2);
        let kill = &results.experiments[1];
        assert_eq!((kill.kind.as_str(), kill.name.as_str()), ("outage", "kill"));
        let durable = &kill.arms[1];
        assert!(durable.arm.promises_durability(), "{:?}", durable.arm);
        assert_eq!(durable.timeline.len(), 40);
        assert_eq!(durable.timeline.totals().0, 800);
        assert!(durable.events.iter().all(|e| e.took_effect));
        assert_eq!(durable.outage.as_ref().map(|o| o.lost), Some(0));
    }
}
