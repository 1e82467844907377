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
pub const LEAD: &str = "Each broker arm's queue group started with fewer worker processes than its load needed, so a backlog built in the broker; a scale event then started more under the same load. The rates served are read from the broker's backlog alone: offered minus its growth in the 2 s before the scale, and offered plus its fall from the scale until the queue was empty (at most 1 % of its depth at the scale). A direct arm runs the equivalent behind an L4 balancer (HAProxy, TCP, round robin per connection): every backend is started with it, those past the first held out of rotation, and the scale puts them in rotation, as a new instance passing its readiness check. It has no queue to read a rate from (an overloaded server answers every call later and later until they time out), so its row reads where the calls went: the new backends' share of the backends' CPU over the timeline, against the share an even spread from the scale on would give.";

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
    "processes",
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
        match (s.backlog_at_scale, &t.arm.broker) {
            (Some(d), _) => d.to_string(),
            (None, None) => "no queue".to_owned(),
            (None, Some(_)) => "not read".to_owned(),
        },
        match speedup(s) {
            Some(x) => format!("{} → {} (×{x:.1})", rate(s.served_before_per_s), rate(s.served_after_per_s)),
            None => format!("{} → {}", rate(s.served_before_per_s), rate(s.served_after_per_s)),
        },
        match (s.emptied_after_ms, &t.arm.broker) {
            (Some(ms), _) => format!("{:.1} s", ms / 1e3),
            (None, None) => "no queue".to_owned(),
            (None, Some(_)) => "not within the timeline".to_owned(),
        },
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
    // A direct arm has no queue: where its calls went is read from the backends' CPU
    // (`direct_verdict`).
    t.arm.broker.as_ref()?;
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

/// The share of the backends' CPU over the timeline that the backends put in rotation at the
/// scale used, % (a direct arm's; `None` without a reading of each).
pub fn new_backends_cpu_share(t: &ArmTimeline, s: &ScaleSummary) -> Option<f64> {
    let cpu: Option<Vec<f64>> = t.backend_cpu_ms.iter().copied().collect();
    let cpu = cpu.filter(|c| c.len() > s.processes_before as usize)?;
    let total: f64 = cpu.iter().sum();
    (total > 0.0).then(|| 100.0 * cpu[s.processes_before as usize..].iter().sum::<f64>() / total)
}

/// The share of the backends' CPU the new backends would have used had the calls spread evenly
/// over every backend in rotation from the scale on, %.
fn even_share(t: &ArmTimeline, s: &ScaleSummary) -> f64 {
    let after = (t.timeline.len() as f64 * t.timeline.bucket_ms as f64 - s.scale_at_ms).max(0.0);
    let whole = (t.timeline.len() as f64 * t.timeline.bucket_ms as f64).max(1.0);
    let new = f64::from(s.processes_after - s.processes_before) / f64::from(s.processes_after.max(1));
    100.0 * new * after / whole
}

/// A direct arm's verdict: where the calls went after backends were put in rotation.
fn direct_verdict(t: &ArmTimeline, s: &ScaleSummary) -> String {
    let Some(share) = new_backends_cpu_share(t, s) else {
        return "not measured: the backends' CPU was not read".to_owned();
    };
    let even = even_share(t, s);
    let (from, to) = (s.processes_before, s.processes_after);
    if share >= even / 2.0 {
        format!("holds: the {} backends put in rotation took {share:.0} % of the backends' CPU (an even spread: {even:.0} %)", to - from)
    } else if share >= even / 10.0 {
        format!("holds in part: the {} backends put in rotation took {share:.0} % of the backends' CPU (an even spread: {even:.0} %); the client's new connections reach them, its old ones stay", to - from)
    } else {
        format!("does not hold here: the {} backends put in rotation took {share:.0} % of the backends' CPU (an even spread: {even:.0} %); the client kept its connections to the first (an L4 balancer spreads connections, not calls)", to - from)
    }
}

/// The verdict cell: what the row's figures say of [`CLAIM`].
pub fn verdict(t: &ArmTimeline, s: &ScaleSummary) -> String {
    if let Some(why) = not_measured(t, s) {
        return format!("not measured: {why}");
    }
    if t.arm.broker.is_none() {
        return direct_verdict(t, s);
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
                        None if t.arm.broker.is_none() => match new_backends_cpu_share(t, s) {
                            Some(p) => format!("{}: the new backends took {p:.0} % of the backends' CPU", t.arm.name),
                            None => format!("{} not measured", t.arm.name),
                        },
                        None => format!("{} did not empty its queue", t.arm.name),
                    },
                    _ => format!("{} not measured", t.arm.name),
                })
                .collect();
            let what = if e.arms.iter().all(|t| t.arm.broker.is_none()) {
                "where the calls went once backends were put in rotation behind the L4 balancer"
            } else {
                "the rate served after the scale, as a multiple of the rate before"
            };
            format!("Scale `{}`: {what}: {}.", e.name, rows.join(", "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(backend_cpu_ms: &[f64]) -> (ArmTimeline, ScaleSummary) {
        let arm = serde_json::json!({ "name": "grpc", "family": "grpc", "codec": "protobuf", "options": {} });
        let columns = crate::results::timeline::TimelineColumns {
            bucket_ms: 100,
            offered: vec![0; 100],
            ok: vec![0; 100],
            ..Default::default()
        };
        let mut t: ArmTimeline = serde_json::from_value(serde_json::json!({
            "arm": arm, "status": { "state": "ran" }, "server": "", "offered_rate_per_s": 1500.0, "events": [],
            "accounting": serde_json::to_value(crate::results::Accounting::default()).unwrap(),
            "unmatched_replies": 0, "late_replies": null, "duplicate_replies": null, "unanswered": null,
            "timeline": serde_json::to_value(columns).unwrap(),
        }))
        .unwrap();
        t.backend_cpu_ms = backend_cpu_ms.iter().map(|&c| Some(c)).collect();
        let s = ScaleSummary {
            scale_at_ms: 5000.0,
            processes_before: 1,
            processes_after: 4,
            offered_per_s: 1500.0,
            backlog_at_scale: None,
            served_before_per_s: None,
            served_after_per_s: None,
            emptied_after_ms: None,
            lost: None,
        };
        (t, s)
    }

    /// Known answer: 1 → 4 backends scaled at 5 s of a 10 s timeline: an even spread gives the
    /// three new ones 3/4 of the second half, 37.5 % of the whole.
    #[test]
    fn a_direct_scale_is_read_from_the_new_backends_share_of_the_cpu() {
        let (t, s) = direct(&[1000.0, 0.0, 0.0, 0.0]);
        assert_eq!(new_backends_cpu_share(&t, &s), Some(0.0));
        assert!(verdict(&t, &s).starts_with("does not hold here: the 3 backends put in rotation took 0 % of the backends' CPU (an even spread: 38 %)"), "{}", verdict(&t, &s));
        let (t, s) = direct(&[700.0, 100.0, 100.0, 100.0]);
        assert!(verdict(&t, &s).starts_with("holds: the 3 backends put in rotation took 30 %"), "{}", verdict(&t, &s));
        let (t, s) = direct(&[900.0, 40.0, 30.0, 30.0]);
        assert!(
            verdict(&t, &s).starts_with("holds in part: the 3 backends put in rotation took 10 %"),
            "{}",
            verdict(&t, &s)
        );
    }
}
