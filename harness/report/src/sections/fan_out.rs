//! The fan-out section: the claims table ("one event processed by several services"), one row
//! per experiment × arm × subscriber count, and one generated sentence per arm. Read from
//! `results.json`'s `experiments` alone; every word of a verdict cell follows from its row.

use super::part::{Context, Part, Scope, Section, Show};
use super::timelines;
use crate::results::experiment::{ArmTimeline, ExperimentResult, FanOutStep};
use crate::results::{ArmStatus, RunResults};
use crate::tables::Table;
use crate::Result;

/// The claim the fan-out experiment tests, as the product's notes word it.
pub const CLAIM: &str = "one event processed by several services";

/// The fan-out claims table of a run with fan-out experiments.
pub const SECTION: Section = Section {
    id: "fan-out",
    title: "Fan-out: one event processed by several services?",
    scope: Scope::Run,
    show: Show::Open,
    in_summary: true,
    build,
};

/// How to read the table.
pub const LEAD: &str = "One \"payment authorized\" event, published once, for N subscribing services (N grows by adding services between steps; each is subscribed, and has received a probe event, before its step is measured). Kafka: one consumer group per service; RabbitMQ: a fanout exchange with one queue per service; NATS: one subscription per service; a direct arm: the producer calls each of N servers itself. Producer = from the publish call until the event is handed off (the column \"handed off when\" says what that waits for); last service = from the publish call until the last of the N had it (for a direct arm, its answer back at the producer). CPU per event = this process (producer and every service) plus the local broker, over the step, per event published; idle CPU = a separate reading of the same processes over 1 s just before, with the N services subscribed and nothing published, scaled to the step's length and divided by its events: what staying subscribed costs anyway (a Kafka consumer polls its broker all the time). The broker's background work comes in bursts (Kafka's JVM), so one second's reading can exceed the step's own total: compare them as orders of magnitude. Open loop at a fixed rate; missing = (event, service) pairs never received within 5 s.";

/// The experiment kind this section reads.
const KIND: &str = "fan-out";

/// The claims table's columns: one row per experiment × arm × N.
pub const HEADER: [&str; 11] = [
    "fan-out",
    "arm",
    "services",
    "events",
    "missing / twice",
    "producer p50 / p99",
    "last service p50 / p99",
    "CPU µs per event",
    "idle CPU, same length",
    "handed off when",
    "the claim",
];

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    let results = &cx.report.results;
    if timelines::of_kind(results, KIND).next().is_none() {
        return Ok(None);
    }
    let mut rows = Vec::new();
    for e in timelines::of_kind(results, KIND) {
        for t in &e.arms {
            match (&t.status, &t.fan_out) {
                (ArmStatus::Ran, Some(f)) => {
                    rows.extend(f.steps.iter().map(|s| row(e, t, s, &f.handed_off)));
                }
                _ => rows.push(timelines::unmeasured_row(e.name.clone(), t, HEADER.len(), KIND)),
            }
        }
    }
    Ok(Some(Part {
        lead: Some(LEAD.to_owned()),
        sentences: sentences(results),
        tables: vec![Table { header: HEADER.iter().map(|h| (*h).to_owned()).collect(), rows }],
        charts: Vec::new(),
    }))
}

fn ms_pair(p50_us: Option<f64>, p99_us: Option<f64>) -> String {
    let ms = |us: Option<f64>| us.map_or("–".to_owned(), |us| format!("{:.2}", us / 1e3));
    format!("{} / {} ms", ms(p50_us), ms(p99_us))
}

fn row(e: &ExperimentResult, t: &ArmTimeline, s: &FanOutStep, handed_off: &str) -> Vec<String> {
    vec![
        e.name.clone(),
        t.arm.name.clone(),
        s.consumers.to_string(),
        format!("{} at {:.0}/s", s.events, s.rate_per_s),
        format!("{} / {}", s.missing, s.duplicates),
        ms_pair(s.producer_p50_us, s.producer_p99_us),
        ms_pair(s.last_consumer_p50_us, s.last_consumer_p99_us),
        s.cpu_us_per_event.map_or("not read".to_owned(), |us| format!("{us:.0}")),
        s.idle_cpu_us_per_event.map_or("not read".to_owned(), |us| format!("{us:.0}")),
        handed_off.to_owned(),
        verdict(t, s),
    ]
}

/// Why a step says nothing of [`CLAIM`], if it does not.
fn not_measured(s: &FanOutStep) -> Option<String> {
    if s.publish_failed > 0 {
        return Some(format!("{} of {} publishes failed", s.publish_failed, s.events));
    }
    (s.delivered == 0).then(|| "no service received any event".to_owned())
}

/// The verdict cell: what the step's figures say of [`CLAIM`].
pub fn verdict(t: &ArmTimeline, s: &FanOutStep) -> String {
    if let Some(why) = not_measured(s) {
        return format!("not measured: {why}");
    }
    let expected = s.events * u64::from(s.consumers);
    let how = if t.arm.broker.is_some() {
        "from one publish".to_owned()
    } else {
        format!("only by the producer calling each of the {} itself", s.consumers)
    };
    match (s.missing, s.duplicates) {
        (0, 0) if s.consumers == 1 => "the baseline: one service received every event".to_owned(),
        (0, 0) if t.arm.broker.is_some() => format!("holds: all {} services received every event, {how}", s.consumers),
        (0, 0) => format!("holds {how}"),
        (0, d) => format!("holds, with {d} deliveries twice"),
        (m, _) => format!("does not hold here: {m} of {expected} deliveries never arrived"),
    }
}

/// One sentence per experiment × arm: what growing N cost, from its first and last steps.
pub fn sentences(results: &RunResults) -> Vec<String> {
    let mut out = Vec::new();
    for e in timelines::of_kind(results, KIND) {
        let arms: Vec<String> = e
            .arms
            .iter()
            .map(|t| {
                let steps = t.fan_out.as_ref().map(|f| f.steps.as_slice()).unwrap_or_default();
                let measured = t.status == ArmStatus::Ran && steps.iter().all(|s| not_measured(s).is_none());
                match (steps.first(), steps.last()) {
                    (Some(a), Some(b)) if measured => {
                        let ms = |us: Option<f64>| us.map_or("–".to_owned(), |us| format!("{:.1} ms", us / 1e3));
                        let cpu = |us: Option<f64>| us.map_or("–".to_owned(), |us| format!("{us:.0} µs"));
                        let missing: u64 = steps.iter().map(|s| s.missing).sum();
                        let reach = if missing == 0 {
                            "every event reached every service".to_owned()
                        } else {
                            format!("{missing} deliveries missing")
                        };
                        format!(
                            "{} p99 to the last service {} → {}, CPU per event {} → {} (idle reading {} → {}); {reach}",
                            t.arm.name,
                            ms(a.last_consumer_p99_us),
                            ms(b.last_consumer_p99_us),
                            cpu(a.cpu_us_per_event),
                            cpu(b.cpu_us_per_event),
                            cpu(a.idle_cpu_us_per_event),
                            cpu(b.idle_cpu_us_per_event)
                        )
                    }
                    _ => format!("{} not measured", t.arm.name),
                }
            })
            .collect();
        let ns = e.arms.iter().find_map(|t| t.fan_out.as_ref()).map(|f| {
            let n: Vec<String> = f.steps.iter().map(|s| s.consumers.to_string()).collect();
            n.join(", ")
        });
        out.push(format!("Fan-out `{}` (N = {}): {}.", e.name, ns.unwrap_or_else(|| "–".to_owned()), arms.join("; ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeline(arm: &str, broker: Option<&str>) -> ArmTimeline {
        let arm =
            serde_json::json!({ "name": arm, "family": arm, "codec": "protobuf", "options": {}, "broker": broker });
        serde_json::from_value(serde_json::json!({
            "arm": arm, "status": { "state": "ran" }, "server": "", "offered_rate_per_s": 100.0, "events": [],
            "accounting": serde_json::to_value(crate::results::Accounting::default()).unwrap(),
            "unmatched_replies": 0, "late_replies": null, "duplicate_replies": null, "unanswered": null,
            "timeline": serde_json::to_value(crate::results::timeline::TimelineColumns::default()).unwrap(),
        }))
        .unwrap()
    }

    fn step(consumers: u32, missing: u64, duplicates: u64, publish_failed: u64) -> FanOutStep {
        let delivered = 100 * u64::from(consumers) - missing + duplicates;
        FanOutStep {
            consumers,
            events: 100,
            rate_per_s: 100.0,
            publish_failed,
            delivered,
            duplicates,
            missing,
            producer_p50_us: Some(100.0),
            producer_p99_us: Some(200.0),
            last_consumer_p50_us: Some(300.0),
            last_consumer_p99_us: Some(400.0),
            cpu_us_per_event: Some(50.0),
            idle_cpu_us_per_event: Some(10.0),
        }
    }

    #[test]
    fn a_fan_out_verdict_follows_its_deliveries_and_how_they_got_there() {
        let kafka = timeline("kafka", Some("kafka"));
        let grpc = timeline("grpc", None);
        assert_eq!(verdict(&kafka, &step(3, 0, 0, 0)), "holds: all 3 services received every event, from one publish");
        assert_eq!(verdict(&grpc, &step(3, 0, 0, 0)), "holds only by the producer calling each of the 3 itself");
        assert_eq!(verdict(&kafka, &step(1, 0, 0, 0)), "the baseline: one service received every event");
        assert_eq!(verdict(&kafka, &step(5, 0, 7, 0)), "holds, with 7 deliveries twice");
        assert_eq!(verdict(&kafka, &step(5, 12, 0, 0)), "does not hold here: 12 of 500 deliveries never arrived");
        assert_eq!(verdict(&kafka, &step(3, 0, 0, 2)), "not measured: 2 of 100 publishes failed");
    }
}
