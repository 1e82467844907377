//! The burst section: the claims table ("the queue smooths load peaks"), one generated sentence
//! per experiment, and one timeline chart per arm with the load changes marked. Read from
//! `results.json`'s `experiments` alone; every word of a verdict cell follows from its row.

use super::part::{Context, Part, Scope, Section, Show};
use super::timelines::{self, offered};
use crate::format::fmt_us;
use crate::results::experiment::{ArmTimeline, BurstSummary, ExperimentResult};
use crate::results::{ArmStatus, RunResults};
use crate::Result;

/// The claim the burst experiment tests, as the product's notes word it.
pub const CLAIM: &str = "the queue smooths load peaks";

/// The burst claims table of a run with burst experiments.
pub const SECTION: Section = Section {
    id: "burst",
    title: "Burst: the queue smooths load peaks?",
    scope: Scope::Run,
    show: Show::Open,
    in_summary: true,
    build,
};

/// How to read the table.
pub const LEAD: &str = "Each arm got an open-loop load below its measured capacity, a peak past it, then the calm load again, with the same client deadline for every arm. Before, during and after split the calls by intended send time. A broker arm's backlog is read from the broker itself (requests waiting for a worker); a direct arm has no broker queue: its peak waits in the client's and the server's own queues. Answered after the caller gave up = replies that came after their call timed out: work the workers did for no one.";

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    timelines::part(&cx.report.results, KIND, LEAD, &HEADER, sentences, row)
}

/// The experiment kind this section reads.
const KIND: &str = "burst";

/// The claims table's columns: one row per experiment × arm.
pub const HEADER: [&str; 12] = [
    "burst",
    "arm",
    "offered /s (capacity /s)",
    "p99 before / during / after",
    "answered within the deadline",
    "failed (caller told)",
    "timed out",
    "answered after the caller gave up",
    "broker backlog: before → peak",
    "backlog drained after",
    "back to the p99 before after",
    "the claim",
];

fn row(e: &ExperimentResult, t: &ArmTimeline) -> Vec<String> {
    let Some(b) = t.burst.as_ref().filter(|_| t.status == ArmStatus::Ran) else {
        return timelines::unmeasured_row(e.name.clone(), t, HEADER.len(), KIND);
    };
    let p99 = |v: Option<f64>| v.map_or("–".to_owned(), fmt_us);
    let seconds = |ms: Option<f64>, never: &str| ms.map_or(never.to_owned(), |ms| format!("{:.1} s", ms / 1e3));
    vec![
        format!(
            "{}: {} from {:.1} s to {:.1} s",
            e.name,
            peak_text(t, b),
            b.burst_from_ms as f64 / 1e3,
            b.burst_to_ms as f64 / 1e3
        ),
        t.arm.name.clone(),
        format!("{} ({})", offered(t), t.capacity_per_s.map_or("–".to_owned(), |c| format!("{c:.0}"))),
        format!("{} / {} / {}", p99(b.p99_before_us), p99(b.p99_during_us), p99(b.p99_after_us)),
        format!("{} of {} ({})", b.answered, b.sent, deadline(t)),
        b.failed.to_string(),
        b.timed_out.to_string(),
        t.late_replies.map_or("cannot tell".to_owned(), |n| n.to_string()),
        match (b.backlog_before, b.peak_backlog) {
            (Some(before), Some(peak)) => format!("{before} → {peak}"),
            _ if t.arm.broker.is_none() => "no broker".to_owned(),
            _ => format!("not read ({})", t.backlog_source.as_deref().unwrap_or("no backlog reader")),
        },
        match b.peak_backlog {
            Some(_) => seconds(b.drained_after_ms, "not within the timeline"),
            None => "–".to_owned(),
        },
        seconds(b.recovered_after_ms, "not within the timeline"),
        verdict(t, b),
    ]
}

/// The burst's rate as a multiple of the measured capacity (when the run measured one) and of
/// the rate before it.
fn peak_text(t: &ArmTimeline, b: &BurstSummary) -> String {
    match t.capacity_per_s.filter(|c| *c > 0.0) {
        Some(c) => format!("{:.1}x capacity (×{:.0} the calm load)", b.rate_during_per_s / c, ratio(b)),
        None => format!("×{:.1} the calm load", ratio(b)),
    }
}

/// Whether a correlating client saw a reply for every call, the timed-out ones answered late.
fn kept_every_request(t: &ArmTimeline, b: &BurstSummary) -> bool {
    t.unanswered == Some(0) && t.late_replies.is_some_and(|late| late >= b.timed_out)
}

/// The burst's rate as a multiple of the rate before it.
fn ratio(b: &BurstSummary) -> f64 {
    b.rate_during_per_s / b.rate_before_per_s.max(1e-9)
}

fn deadline(t: &ArmTimeline) -> String {
    t.timeout_ms.map_or("deadline not recorded".to_owned(), |ms| format!("{:.1} s deadline", ms as f64 / 1e3))
}

/// Why a row says nothing of [`CLAIM`], if it does not: an event that did not take effect, calls
/// that do not add up, or calls already late before the burst.
fn not_measured(t: &ArmTimeline, b: &BurstSummary) -> Option<String> {
    if let Some(e) = t.events.iter().find(|e| !e.took_effect) {
        return Some(format!("event `{}` did not take effect ({})", e.action, e.detail));
    }
    if !t.accounting.balances() {
        return Some("the calls do not add up (sent ≠ ok + failed + timed out)".to_owned());
    }
    if let Some(capacity) = t.capacity_per_s.filter(|c| b.rate_during_per_s <= *c) {
        return Some(format!(
            "the peak ({:.0}/s) was within the measured capacity ({capacity:.0}/s): nothing to smooth",
            b.rate_during_per_s
        ));
    }
    b.p99_before_us.filter(|p99| *p99 > t.timeline.late_after_ms as f64 * 1e3).map(|before| {
        format!(
            "calls were already late before the burst (p99 {}): the calm load was more than this arm and client sustain",
            fmt_us(before)
        )
    })
}

/// The verdict cell: what the row's figures say of [`CLAIM`].
pub fn verdict(t: &ArmTimeline, b: &BurstSummary) -> String {
    if let Some(why) = not_measured(t, b) {
        return format!("not measured: {why}");
    }
    let held_by = match (b.peak_backlog, b.drained_after_ms) {
        (Some(peak), Some(ms)) => {
            format!("the broker's queue held up to {peak} requests and drained {:.1} s after the peak", ms / 1e3)
        }
        (Some(peak), None) => {
            format!("the broker's queue held up to {peak} requests and had not drained by the timeline's end")
        }
        (None, _) if t.arm.broker.is_none() => "no broker queue (a direct arm)".to_owned(),
        (None, _) => "the broker's backlog was not read".to_owned(),
    };
    let wasted = match (t.late_replies, t.unanswered) {
        (Some(late), _) if late > 0 && kept_every_request(t, b) => format!(
            "; every request was still processed, none lost: {late} answered after the caller gave up (work done for no one)"
        ),
        (Some(late), _) if late > 0 => format!("; {late} answered after the caller gave up (work done for no one)"),
        _ => String::new(),
    };
    if b.failed == 0 && b.timed_out == 0 {
        return format!(
            "holds: all {} calls answered within the {}, the peak's at p99 {}; {held_by}",
            b.sent,
            deadline(t),
            b.p99_during_us.map_or("–".to_owned(), fmt_us)
        );
    }
    format!(
        "does not hold at this peak: {} of {} answered within the {}, {} failed, {} timed out; {held_by}{wasted}",
        b.answered,
        b.sent,
        deadline(t),
        b.failed,
        b.timed_out
    )
}

/// One sentence per burst experiment, from the table's figures.
pub fn sentences(results: &RunResults) -> Vec<String> {
    timelines::of_kind(results, KIND)
        .map(|e| {
            let measured: Vec<(&ArmTimeline, &BurstSummary)> = e
                .arms
                .iter()
                .filter(|t| t.status == ArmStatus::Ran)
                .filter_map(|t| t.burst.as_ref().map(|b| (t, b)))
                .filter(|(t, b)| not_measured(t, b).is_none())
                .collect();
            let unmeasured: Vec<&str> = e
                .arms
                .iter()
                .filter(|t| !measured.iter().any(|(m, _)| std::ptr::eq(*m, *t)))
                .map(|t| t.arm.name.as_str())
                .collect();
            let held: Vec<&str> = measured
                .iter()
                .filter(|(_, b)| b.failed == 0 && b.timed_out == 0)
                .map(|(t, _)| t.arm.name.as_str())
                .collect();
            let missed: Vec<String> = measured
                .iter()
                .filter(|(_, b)| b.failed + b.timed_out > 0)
                .map(|(t, b)| format!("{} {} of {}", t.arm.name, b.failed + b.timed_out, b.sent))
                .collect();
            let ratio = measured.first().map_or(String::new(), |(t, b)| format!(" ({})", peak_text(t, b)));
            let kept: Vec<&str> = measured
                .iter()
                .filter(|(t, b)| b.timed_out > 0 && kept_every_request(t, b))
                .map(|(t, _)| t.arm.name.as_str())
                .collect();
            let kept = if kept.is_empty() {
                String::new()
            } else {
                format!("; every timed-out request was still processed later, none lost, on {}", kept.join(", "))
            };
            format!(
                "Burst `{}`{ratio}: every call answered within the deadline on {}; calls failed or timed out: {}{kept}{}.",
                e.name,
                if held.is_empty() { "no arm".to_owned() } else { held.join(", ") },
                if missed.is_empty() { "none".to_owned() } else { missed.join(", ") },
                if unmeasured.is_empty() {
                    String::new()
                } else {
                    format!("; not measured: {}", unmeasured.join(", "))
                },
            )
        })
        .collect()
}
