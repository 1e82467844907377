//! The protections section: each direct arm beside the same arm with the standard protections
//! (`grpc` and `grpc+res`, `+res` being the arm layer of the `paybench` crate's
//! `transport::protect`), through the same burst or outage. It tests the claim "without rate
//! limiting, retries or a circuit breaker, requests can be lost under overload": a call that
//! timed out was neither answered nor refused, so its caller cannot tell whether the payment went
//! through. Read from `results.json`'s `experiments` alone.

use super::part::{Context, Part, Scope, Section, Show};
use crate::results::experiment::{ArmTimeline, ExperimentResult};
use crate::results::{ArmStatus, RunResults};
use crate::tables::Table;
use crate::Result;

/// The claim, as the product's notes word it.
pub const CLAIM: &str = "without rate limiting, retries or a circuit breaker, requests can be lost under overload";

/// The arm layer's suffix in an arm's canonical name.
pub const LAYER: &str = "+res";

/// The protections table of a run whose experiments ran an arm with and without `+res`.
pub const SECTION: Section = Section {
    id: "protected",
    title: "Protections: without rate limiting, retries or a circuit breaker, requests can be lost under overload?",
    scope: Scope::Run,
    show: Show::Open,
    in_summary: true,
    build,
};

/// How to read the table.
pub const LEAD: &str = "Each direct arm ran beside the same arm with the standard protections (`+res`: its deadline sent to the server, retries with a budget, a server-wide concurrency limit that sheds the excess, a client circuit breaker), through the same load and events. Timed out = neither answered nor refused by the deadline: the caller cannot tell whether the payment went through. Told = the call failed and the caller knows (shed, breaker open, deadline passed at the server, connection errors), so it can retry with the same idempotency key.";

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    let r = &cx.report.results;
    let pairs = pairs(r);
    if pairs.is_empty() {
        return Ok(None);
    }
    let header = [
        "experiment",
        "arm",
        "answered",
        "told: failed (by kind)",
        "timed out: fate unknown",
        "back to the p99 before after",
        "the claim",
    ];
    let mut rows = Vec::new();
    for (e, plain, protected) in &pairs {
        for t in [plain, protected] {
            rows.push(row(e, t, plain, protected));
        }
    }
    Ok(Some(Part {
        lead: Some(LEAD.to_owned()),
        sentences: pairs.iter().map(|(e, plain, protected)| sentence(e, plain, protected)).collect(),
        tables: vec![Table { header: header.map(str::to_owned).to_vec(), rows }],
        charts: Vec::new(),
    }))
}

/// Every experiment's (arm, arm`+res`) pairs that both ran.
pub fn pairs(results: &RunResults) -> Vec<(&ExperimentResult, &ArmTimeline, &ArmTimeline)> {
    let mut out = Vec::new();
    for e in &results.experiments {
        for protected in e.arms.iter().filter(|t| t.arm.name.ends_with(LAYER)) {
            let base = protected.arm.name.trim_end_matches(LAYER);
            if let Some(plain) = e.arms.iter().find(|t| t.arm.name == base) {
                if plain.status == ArmStatus::Ran && protected.status == ArmStatus::Ran {
                    out.push((e, plain, protected));
                }
            }
        }
    }
    out
}

/// The time back to the steady p99, from the kind's reading (burst or outage).
fn recovered_after_ms(t: &ArmTimeline) -> Option<f64> {
    t.burst.as_ref().and_then(|b| b.recovered_after_ms).or(t.outage.as_ref().and_then(|o| o.recovered_after_ms))
}

fn failed_by_kind(t: &ArmTimeline) -> String {
    let kinds: Vec<String> = t
        .timeline
        .failed
        .iter()
        .map(|(kind, column)| (kind, column.iter().sum::<u64>()))
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
    let total: u64 = t.timeline.failed.values().flatten().sum();
    if kinds.is_empty() {
        "0".to_owned()
    } else {
        format!("{total} ({})", kinds.join(", "))
    }
}

fn seconds(ms: Option<f64>) -> String {
    ms.map_or("not within the timeline".to_owned(), |ms| format!("{:.1} s", ms / 1e3))
}

fn row(e: &ExperimentResult, t: &ArmTimeline, plain: &ArmTimeline, protected: &ArmTimeline) -> Vec<String> {
    let a = &t.accounting;
    vec![
        format!("{} `{}`", e.kind, e.name),
        t.arm.name.clone(),
        format!("{} of {}", a.ok, a.sent),
        failed_by_kind(t),
        a.timed_out.to_string(),
        seconds(recovered_after_ms(t)),
        verdict(t, plain, protected),
    ]
}

/// The verdict cell: what the row says of [`CLAIM`]: on the plain arm, whether calls timed out
/// with no answer; on the protected one, how many of those the protections turned into answers
/// or refusals the caller was told of.
pub fn verdict(t: &ArmTimeline, plain: &ArmTimeline, protected: &ArmTimeline) -> String {
    if !t.accounting.balances() {
        return "not measured: the calls do not add up".to_owned();
    }
    if let Some(ev) = t.events.iter().find(|ev| !ev.took_effect) {
        return format!("not measured: event `{}` did not take effect", ev.action);
    }
    let (lost_plain, lost_protected) = (plain.accounting.timed_out, protected.accounting.timed_out);
    if std::ptr::eq(t, plain) {
        return if lost_plain > 0 {
            format!("holds: {lost_plain} of {} calls timed out with no answer and no refusal", plain.accounting.sent)
        } else if plain.accounting.failed_total == 0 {
            "not tested here: every call was answered, nothing overloaded".to_owned()
        } else {
            "does not hold here: every call was answered or refused, the caller told".to_owned()
        };
    }
    match (lost_plain, lost_protected) {
        (0, 0) => "no call timed out with or without protections".to_owned(),
        (p, 0) => format!("the protections told every caller: 0 timed out, against {p} without"),
        (p, q) if q < p => format!("the protections cut the calls that timed out from {p} to {q}"),
        (p, q) => format!("the protections did not help here: {q} timed out, against {p} without"),
    }
}

fn sentence(e: &ExperimentResult, plain: &ArmTimeline, protected: &ArmTimeline) -> String {
    format!(
        "{} `{}`, {} against {}: answered {} against {}, timed out with no answer {} against {}, back to the p99 before after {} against {}.",
        e.kind,
        e.name,
        plain.arm.name,
        protected.arm.name,
        plain.accounting.ok,
        protected.accounting.ok,
        plain.accounting.timed_out,
        protected.accounting.timed_out,
        seconds(recovered_after_ms(plain)),
        seconds(recovered_after_ms(protected)),
    )
}
