//! The replay section: the claims table ("history and replay"), one row per experiment × arm,
//! and one generated sentence per experiment. A broker that keeps no history says why, and
//! nothing is measured for it.

use super::part::{Context, Part, Scope, Section, Show};
use super::timelines;
use crate::results::experiment::{ArmTimeline, ExperimentResult, ReplaySummary};
use crate::results::{ArmStatus, RunResults};
use crate::tables::Table;
use crate::Result;

/// The claim the replay experiment tests, as the product's notes word it.
pub const CLAIM: &str = "history and replay";

/// The replay claims table of a run with replay experiments.
pub const SECTION: Section = Section {
    id: "replay",
    title: "Replay: history kept and read again?",
    scope: Scope::Run,
    show: Show::Open,
    in_summary: true,
    build,
};

/// How to read the table.
pub const LEAD: &str = "The producer published 2M numbered events to a new topic and waited for every delivery report; then a consumer of a new group was assigned the topic's partition at its end minus M, and read until it had M events. In order = it read exactly events M..2M, each once, in publish order (the known answer). Rate = events read per second from the consumer's creation to its last event (the pace a new service catches up at; librdkafka prefetches, so from the first event on it reads from memory); first event = from the consumer's creation. A broker that keeps no history says why, and nothing is measured for it.";

/// The experiment kind this section reads.
const KIND: &str = "replay";

/// The claims table's columns.
pub const HEADER: [&str; 7] =
    ["replay", "arm", "events replayed", "in order", "first event after", "replay rate", "the claim"];

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    let results = &cx.report.results;
    if timelines::of_kind(results, KIND).next().is_none() {
        return Ok(None);
    }
    let rows = timelines::of_kind(results, KIND).flat_map(|e| e.arms.iter().map(move |t| row(e, t))).collect();
    Ok(Some(Part {
        lead: Some(LEAD.to_owned()),
        sentences: sentences(results),
        tables: vec![Table { header: HEADER.iter().map(|h| (*h).to_owned()).collect(), rows }],
        charts: Vec::new(),
    }))
}

fn row(e: &ExperimentResult, t: &ArmTimeline) -> Vec<String> {
    let Some(r) = t.replay.as_ref().filter(|_| t.status == ArmStatus::Ran) else {
        return timelines::unmeasured_row(e.name.clone(), t, HEADER.len(), KIND);
    };
    if !r.supported {
        return vec![e.name.clone(), t.arm.name.clone(), "–".into(), "–".into(), "–".into(), "–".into(), verdict(r)];
    }
    vec![
        e.name.clone(),
        t.arm.name.clone(),
        format!("{} of {}", r.read, r.events),
        if r.in_order { "yes" } else { "no" }.to_owned(),
        r.first_event_ms.map_or("–".to_owned(), |ms| format!("{ms:.0} ms")),
        r.rate_per_s.map_or("–".to_owned(), |rate| format!("{rate:.0} /s")),
        verdict(r),
    ]
}

/// The verdict cell: what the row's figures say of [`CLAIM`].
pub fn verdict(r: &ReplaySummary) -> String {
    match (r.supported, r.in_order, r.rate_per_s) {
        (false, _, _) => format!("does not hold: {}", r.how),
        (true, true, Some(rate)) => {
            format!("holds: a new consumer group read the last {} events again, in order, at {rate:.0}/s", r.events)
        }
        (true, _, _) => {
            format!("not measured: the replay read {} of the last {} events, not each once in order", r.read, r.events)
        }
    }
}

/// One sentence per replay experiment, from its rows.
pub fn sentences(results: &RunResults) -> Vec<String> {
    timelines::of_kind(results, KIND)
        .map(|e| {
            let arms: Vec<String> = e.arms.iter().map(arm_words).collect();
            format!("Replay `{}`: {}.", e.name, arms.join("; "))
        })
        .collect()
}

fn arm_words(t: &ArmTimeline) -> String {
    match (&t.status, &t.replay) {
        (ArmStatus::Ran, Some(r)) if !r.supported => format!("{} cannot (no history kept)", t.arm.name),
        (ArmStatus::Ran, Some(r)) if r.in_order => match r.rate_per_s {
            Some(rate) => format!("{} read the last {} events again at {rate:.0}/s", t.arm.name, r.events),
            None => format!("{} read the last {} events again", t.arm.name, r.events),
        },
        _ => format!("{} not measured", t.arm.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(supported: bool, read: u64, in_order: bool) -> ReplaySummary {
        ReplaySummary {
            how: "RabbitMQ classic queues delete a message once it is acked".to_owned(),
            supported,
            published: 2000,
            events: 1000,
            read,
            in_order,
            first_event_ms: Some(5.0),
            rate_per_s: (read > 1).then_some(250_000.0),
        }
    }

    #[test]
    fn a_replay_verdict_holds_only_for_exactly_the_last_m_in_order() {
        let held = verdict(&summary(true, 1000, true));
        assert_eq!(held, "holds: a new consumer group read the last 1000 events again, in order, at 250000/s");
        let short = verdict(&summary(true, 999, false));
        assert_eq!(short, "not measured: the replay read 999 of the last 1000 events, not each once in order");
        let cannot = verdict(&summary(false, 0, false));
        assert_eq!(cannot, "does not hold: RabbitMQ classic queues delete a message once it is acked");
    }
}
