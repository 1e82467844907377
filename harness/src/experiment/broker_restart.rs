//! `broker-restart`: the broker a broker arm runs through is killed (SIGKILL) under an open-loop
//! load and restarted from its data directory, while the clients and workers reconnect. It tests
//! the claims "guaranteed delivery" and "messages are not lost, even if the service is
//! temporarily unavailable" where the broker itself is the service that goes away, in durable and
//! transient mode.
//!
//! Read per arm into the same figures as an `outage` ([`crate::results::experiment::OutageSummary`], the timeline's `outage`
//! field): calls failed (the caller was told), timed out, answered late; and, by idempotency-key
//! accounting on the correlating clients, requests lost (never answered, never failed) and
//! answered twice; the time back to the steady p99 after the broker answered again.

use super::spec::{Action, ExperimentSpec, Target};
use super::{outage, Kind, Measures};
use crate::load::timeline::Buckets;
use crate::results::experiment::ArmTimeline;

/// The `broker-restart` row of [`super::KINDS`].
pub const KIND: Kind = Kind {
    name: "broker-restart",
    about: "the broker is killed (SIGKILL) under load and restarted from its data directory",
    check,
    measures: Measures::Timeline(read),
};

fn check(spec: &ExperimentSpec) -> Result<(), (&'static str, String)> {
    let on_broker = |action: Action| move |e: &super::spec::EventSpec| e.target == Target::Broker && e.action == action;
    let kill = spec.events.iter().position(on_broker(Action::Kill));
    let restart = spec.events.iter().rposition(on_broker(Action::Restart));
    match (kill, restart) {
        (Some(k), Some(r)) if k < r => Ok(()),
        _ => Err((
            "events",
            "a broker restart needs a `kill` event on `target = \"broker\"` followed by a `restart` on it".to_owned(),
        )),
    }
}

fn read(spec: &ExperimentSpec, buckets: &Buckets, timeline: &mut ArmTimeline) {
    timeline.outage = Some(outage::summarize(spec, buckets, timeline));
}
