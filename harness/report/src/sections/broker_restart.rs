//! The broker-restart section: the claims table ("guaranteed delivery: messages are not lost,
//! even if the broker restarts"), one generated sentence per experiment, and one timeline chart
//! per arm with the kill and the restart marked. It reads the same figures as an outage (the
//! timeline's `outage` field) and shares the outage table's columns and verdict.

use super::outage;
use super::part::{Context, Part, Scope, Section, Show};
use super::timelines;
use crate::results::RunResults;
use crate::Result;

/// The claim the broker-restart experiment tests, as the product's notes word it.
pub const CLAIM: &str =
    "guaranteed delivery (financial transactions): messages are not lost, even if the broker restarts";

/// The broker-restart claims table of a run with broker-restart experiments.
pub const SECTION: Section = Section {
    id: "broker-restart",
    title: "Broker restart: guaranteed delivery, messages not lost when the broker itself restarts?",
    scope: Scope::Run,
    show: Show::Open,
    in_summary: true,
    build,
};

/// How to read the table.
pub const LEAD: &str = "Each broker arm ran under an open-loop load while the suite's own broker was killed (SIGKILL to its process group, as a crash) and restarted from its data directory; clients and workers reconnected by themselves. Durable mode: RabbitMQ persistent messages on a durable queue with publisher confirms and manual acks, and a durable reply queue per client; Kafka with acks=all, idempotence and commits after the reply. Transient mode: the same paths without them. Core NATS keeps nothing, in either mode. Lost = requests never answered and never failed, by idempotency-key accounting on the client; answered late = replies after their call had ended (its deadline passed, or its caller was told the send failed) — the request was kept and processed.";

/// The experiment kind this section reads.
const KIND: &str = "broker-restart";

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    let header: Vec<&str> = std::iter::once("broker restart").chain(outage::HEADER[1..].iter().copied()).collect();
    timelines::part(&cx.report.results, KIND, LEAD, &header, sentences, outage::row)
}

fn sentences(results: &RunResults) -> Vec<String> {
    outage::sentences_of(results, KIND, "Broker restart")
}
