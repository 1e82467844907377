//! The scale-workers section: the claims table ("workers can be scaled dynamically"), one
//! generated sentence per experiment, and one timeline chart per arm with the scale marked. Read
//! from `results.json`'s `experiments` alone; every word of a verdict cell follows from its row.

use super::part::{Context, Part, Scope, Section, Show};
use super::timelines::{self, offered};
use crate::results::experiment::{ArmTimeline, ExperimentResult, ScaleSummary};
use crate::results::{ArmStatus, RunResults};
use crate::Result;

/// The claim the scale-workers experiment tests, as the product's notes word it.
pub const CLAIM: &str = "workers can be scaled dynamically";

/// Workers that served this share of the offered rate before the scale were not short of capacity.
pub const KEPT_UP: f64 = 0.95;

/// The served rate must rise at least this much for the claim to hold.
pub const SCALED_FACTOR: f64 = 1.5;

/// The scale-workers claims table of a run with scale-workers experiments.
pub const SECTION: Section = Section {
    id: "scale-workers",
    title: "Scale workers: workers can be scaled dynamically?",
    scope: Scope::Run,
    show: Show::Open,
    in_summary: true,
    build,
};

/// How to read the table.
pub const LEAD: &str = "Each broker arm's queue group started with fewer worker processes than its load needed, so a backlog built in the broker; a scale event then started more under the same load. The rates served are read from the broker's backlog alone: offered minus its growth in the 2 s before the scale, and offered plus its fall from the scale until the queue was empty (at most 1 % of its depth at the scale). Direct arms do not run it: their backends sit behind an L4 balancer fixed at its start.";

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    timelines::part(&cx.report.results, KIND, LEAD, &HEADER, sentences, row)
}

/// The experiment kind this section reads.
const KIND: &str = "scale-workers";

/// The claims table's columns: one row per experiment × arm.
pub const HEADER: [&str; 9] = [
    "scale",
    "arm",
    "offered /s",
    "worker processes",
    "backlog at the scale",
    "served before → after /s",
    "queue emptied after",
    "lost",
    "the claim",
];

fn row(e: &ExperimentResult, t: &ArmTimeline) -> Vec<String> {
    let Some(s) = t.scale.as_ref().filter(|_| t.status == ArmStatus::Ran) else {
        return timelines::unmeasured_row(e.name.clone(), t, HEADER.len(), KIND);
    };
    let rate = |r: Option<f64>| r.map_or("–".to_owned(), |r| format!("{r:.0}"));
    vec![
        format!("{}: at {:.1} s", e.name, s.scale_at_ms / 1e3),
        t.arm.name.clone(),
        offered(t),
        format!("{} → {}", s.processes_before, s.processes_after),
        s.backlog_at_scale.map_or("not read".to_owned(), |d| d.to_string()),
        match speedup(s) {
            Some(x) => format!("{} → {} (×{x:.1})", rate(s.served_before_per_s), rate(s.served_after_per_s)),
            None => format!("{} → {}", rate(s.served_before_per_s), rate(s.served_after_per_s)),
        },
        s.emptied_after_ms.map_or("not within the timeline".to_owned(), |ms| format!("{:.1} s", ms / 1e3)),
        s.lost.map_or("cannot tell".to_owned(), |n| format!("{n} of {}", t.accounting.sent)),
        verdict(t, s),
    ]
}

/// The served rate after the scale as a multiple of the one before.
fn speedup(s: &ScaleSummary) -> Option<f64> {
    s.served_before_per_s.zip(s.served_after_per_s).filter(|(b, _)| *b > 0.0).map(|(b, a)| a / b)
}

/// Why a row says nothing of [`CLAIM`], if it does not.
fn not_measured(t: &ArmTimeline, s: &ScaleSummary) -> Option<String> {
    if let Some(e) = t.events.iter().find(|e| !e.took_effect) {
        return Some(format!("event `{}` did not take effect ({})", e.action, e.detail));
    }
    if !t.accounting.balances() {
        return Some("the calls do not add up (sent ≠ ok + failed + timed out)".to_owned());
    }
    if s.backlog_at_scale.is_none_or(|d| d == 0) {
        return Some("no backlog in the broker at the scale: the first workers kept up, or took every message off the queue as it came (an auto-ack consumer), so no new worker could take any".to_owned());
    }
    match s.served_before_per_s {
        None => Some("the backlog was not read before the scale".to_owned()),
        Some(before) if before >= KEPT_UP * s.offered_per_s => Some(format!(
            "the first workers kept up ({before:.0}/s served of {:.0}/s offered): nothing built up to drain faster",
            s.offered_per_s
        )),
        Some(_) => None,
    }
}

/// The verdict cell: what the row's figures say of [`CLAIM`].
pub fn verdict(t: &ArmTimeline, s: &ScaleSummary) -> String {
    if let Some(why) = not_measured(t, s) {
        return format!("not measured: {why}");
    }
    let lost = s.lost.unwrap_or(0);
    let ideal = s.processes_after as f64 / s.processes_before.max(1) as f64;
    match (speedup(s), s.emptied_after_ms) {
        (Some(x), Some(ms)) if x >= SCALED_FACTOR && lost == 0 => format!(
            "holds: {} → {} processes served ×{x:.1} the rate (×{ideal:.0} at most) and emptied the queue in {:.1} s, none lost",
            s.processes_before,
            s.processes_after,
            ms / 1e3
        ),
        (Some(x), _) if x >= SCALED_FACTOR => {
            format!("holds for the rate (×{x:.1}), but {lost} requests were lost")
        }
        (Some(x), _) => format!(
            "does not hold here: the rate served rose ×{x:.1} only (×{ideal:.0} at most; below ×{SCALED_FACTOR} counts as not scaling)"
        ),
        (None, _) => "does not hold within the timeline: the queue did not empty after the scale".to_owned(),
    }
}

/// One sentence per scale-workers experiment, from the table's figures.
pub fn sentences(results: &RunResults) -> Vec<String> {
    timelines::of_kind(results, KIND)
        .map(|e| {
            let rows: Vec<String> = e
                .arms
                .iter()
                .map(|t| match (&t.status, &t.scale) {
                    (ArmStatus::Ran, Some(s)) if not_measured(t, s).is_none() => match speedup(s) {
                        Some(x) => format!("{} ×{x:.1}", t.arm.name),
                        None => format!("{} did not empty its queue", t.arm.name),
                    },
                    _ => format!("{} not measured", t.arm.name),
                })
                .collect();
            format!(
                "Scale `{}`: the rate served after the scale, as a multiple of the rate before: {}.",
                e.name,
                rows.join(", ")
            )
        })
        .collect()
}
