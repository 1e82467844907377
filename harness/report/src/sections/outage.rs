//! The outage section: the claims table ("messages are not lost, even if the service is
//! temporarily unavailable"), one generated sentence per experiment, and one timeline chart per
//! arm with its events marked. Read from `results.json`'s `experiments` alone; every word of a
//! verdict cell follows from the figures in its row.

use super::part::{Context, Part, Scope, Section, Show};
use super::timelines::{self, events_text, offered};
use crate::format::fmt_us;
use crate::results::experiment::{ArmTimeline, ExperimentResult, OutageSummary};
use crate::results::{ArmStatus, RunResults};
use crate::Result;

/// The claim the outage experiment tests, as the product's notes word it.
pub const CLAIM: &str = "messages are not lost, even if the service is temporarily unavailable";

/// The outage claims table of a run with outage experiments.
pub const SECTION: Section = Section {
    id: "outage",
    title: "Outage: messages are not lost, even if the service is temporarily unavailable?",
    scope: Scope::Run,
    show: Show::Open,
    in_summary: true,
    build,
};

/// How to read the table.
pub const LEAD: &str = "Each arm's server (direct arms) or worker process (broker arms) ran as a supervised child; under an open-loop load it was frozen (SIGSTOP, then SIGCONT) or crashed (SIGKILL, then restarted). Lost = requests never answered and never failed, by idempotency-key accounting on the correlating (broker) clients; a request/response client cannot tell a lost request from a lost reply.";

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    timelines::part(&cx.report.results, KIND, LEAD, &HEADER, sentences, row)
}

fn sentences(results: &RunResults) -> Vec<String> {
    sentences_of(results, KIND, "Outage")
}

/// The experiment kind this section reads.
const KIND: &str = "outage";

/// The claims table's columns: one row per experiment × arm.
pub const HEADER: [&str; 12] = [
    "outage",
    "arm",
    "durability promised",
    "offered /s (capacity /s)",
    "failed (caller told)",
    "timed out",
    "answered late",
    "lost",
    "answered twice",
    "slowest answer",
    "back to steady p99 after",
    "the claim",
];

/// A row of the table: the figures of one arm through an outage (or a `broker-restart`, which
/// reads the same figures).
pub fn row(e: &ExperimentResult, t: &ArmTimeline) -> Vec<String> {
    let name = format!("{}: {}", e.name, events_text(t));
    let Some(o) = t.outage.as_ref().filter(|_| t.status == ArmStatus::Ran) else {
        return timelines::unmeasured_row(name, t, HEADER.len(), KIND);
    };
    let late_text = format!("{} (> {} ms)", o.late, t.timeline.late_after_ms);
    vec![
        name,
        t.arm.name.clone(),
        if o.promises_durability { "yes (durable)".to_owned() } else { "no".to_owned() },
        format!("{} ({})", offered(t), t.capacity_per_s.map_or("–".to_owned(), |c| format!("{c:.0}"))),
        o.failed.to_string(),
        o.timed_out.to_string(),
        late_text,
        lost_text(t, o),
        if t.duplicate_replies.is_some() { o.duplicates.to_string() } else { "cannot occur".to_owned() },
        o.max_latency_us.map_or("–".to_owned(), fmt_us),
        o.recovered_after_ms.map_or("not within the timeline".to_owned(), |ms| format!("{:.1} s", ms / 1e3)),
        verdict(t, o),
    ]
}

fn lost_text(t: &ArmTimeline, o: &OutageSummary) -> String {
    match t.unanswered {
        Some(_) => format!("{} of {}", o.lost, t.accounting.sent),
        // A request/response client cannot tell a lost request from a lost reply.
        None => format!("cannot tell ({} timed out)", o.timed_out),
    }
}

/// Why a row says nothing of [`CLAIM`], if it does not: an event that did not take effect, calls
/// that do not add up, or calls already late before the outage.
fn not_measured(t: &ArmTimeline, o: &OutageSummary) -> Option<String> {
    if let Some(e) = t.events.iter().find(|e| !e.took_effect) {
        return Some(format!("event `{}` did not take effect ({})", e.action, e.detail));
    }
    if !t.accounting.balances() {
        return Some("the calls do not add up (sent ≠ ok + failed + timed out)".to_owned());
    }
    o.steady_p99_us.filter(|p99| *p99 > t.timeline.late_after_ms as f64 * 1e3).map(|steady| {
        format!(
            "calls were already late before the outage (p99 {} before the first event): the offered load was more than this arm and client sustain",
            fmt_us(steady)
        )
    })
}

/// The verdict cell: what the row's figures say of [`CLAIM`].
pub fn verdict(t: &ArmTimeline, o: &OutageSummary) -> String {
    if let Some(why) = not_measured(t, o) {
        return format!("not measured: {why}");
    }
    let sent = t.accounting.sent;
    let twice = if o.duplicates > 0 {
        format!(", {} of them twice (redelivered after the crash: the payment must be idempotent)", o.duplicates)
    } else {
        String::new()
    };
    match (t.unanswered.is_some(), o.lost, o.failed) {
        (true, 0, 0) => format!(
            "holds: all {sent} requests answered{twice}{}",
            if o.promises_durability { "" } else { " (no durability promised; none was needed this time)" }
        ),
        (true, 0, failed) => {
            format!("holds for what was accepted: 0 lost{twice}; {failed} refused, the caller was told")
        }
        (true, lost, _) => format!(
            "does not hold: {lost} of {sent} requests never answered{}",
            if o.promises_durability { " despite durable mode" } else { " (transient mode: at most once)" }
        ),
        (false, _, 0) if o.timed_out == 0 => format!(
            "holds: all {sent} calls answered, the slowest after {}",
            o.max_latency_us.map_or("–".to_owned(), fmt_us)
        ),
        (false, _, failed) => format!(
            "does not hold {}: {failed} of {sent} calls failed{}",
            // The `+res` layer retries (three attempts within ~30 ms of backoff and a budget):
            // an outage of seconds outlasts them.
            if t.arm.name.ends_with(super::protected::LAYER) {
                "even with the protections' retries (the outage outlasts them)"
            } else {
                "without retries"
            },
            if o.timed_out > 0 { format!(", {} timed out", o.timed_out) } else { String::new() }
        ),
    }
}

/// One sentence per experiment of `kind` (`outage`, `broker-restart`), starting with `label`,
/// from the table's figures.
pub fn sentences_of(results: &RunResults, kind: &str, label: &str) -> Vec<String> {
    timelines::of_kind(results, kind)
        .map(|e| {
            // Rows that are not measured say nothing of the claim.
            let (ran, unmeasured): (Vec<_>, Vec<_>) = e.arms.iter().partition(|t| {
                t.status == ArmStatus::Ran && t.outage.as_ref().is_some_and(|o| not_measured(t, o).is_none())
            });
            let ran: Vec<(&ArmTimeline, &OutageSummary)> =
                ran.into_iter().filter_map(|t| t.outage.as_ref().map(|o| (t, o))).collect();
            let unmeasured: Vec<&str> = unmeasured.iter().map(|t| t.arm.name.as_str()).collect();
            let kept: Vec<&str> = ran
                .iter()
                .filter(|(_, o)| o.lost == 0 && o.failed == 0 && o.timed_out == 0)
                .map(|(t, _)| t.arm.name.as_str())
                .collect();
            let lost: Vec<String> =
                ran.iter().filter(|(_, o)| o.lost > 0).map(|(t, o)| format!("{} {}", t.arm.name, o.lost)).collect();
            let failed: Vec<String> = ran
                .iter()
                .filter(|(_, o)| o.failed > 0)
                .map(|(t, o)| format!("{} {}", t.arm.name, o.failed))
                .collect();
            let list = |v: &[String]| if v.is_empty() { "none".to_owned() } else { v.join(", ") };
            format!(
                "{label} `{}` ({}): every call answered on {}; calls lost (never answered, never failed): {}; calls failed (the caller was told): {}{}.",
                e.name,
                e.arms.first().map(events_text).unwrap_or_default(),
                if kept.is_empty() { "no arm".to_owned() } else { kept.join(", ") },
                list(&lost),
                list(&failed),
                if unmeasured.is_empty() {
                    String::new()
                } else {
                    format!("; not measured: {}", unmeasured.join(", "))
                },
            )
        })
        .collect()
}
