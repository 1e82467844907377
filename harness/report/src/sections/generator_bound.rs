//! Generator-bound measurements: every window whose client was its bottleneck, so that its
//! figures describe the load generator, not the server.

use super::part::{Context, Part, Scope, Section, Show};
use crate::format::fmt_us;
use crate::{Report, Result};

/// The flagged windows of the run.
pub const SECTION: Section = Section {
    id: "generator-bound",
    title: "Generator-bound measurements",
    scope: Scope::Run,
    show: Show::Collapsed,
    in_summary: false,
    build,
};

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    let lead = format!(
        "A window is flagged when the client was its bottleneck (busy, CPU time plus run-queue wait, for at least {:.0} % of its cores or of one thread's time), or (open loop) the p99 schedule lag exceeded {} and half the corrected p99: its figures describe the load generator, not the server.",
        crate::results::busy::SATURATED_SHARE * 100.0,
        fmt_us(crate::scenario::GENERATOR_LAG_LIMIT.as_secs_f64() * 1e6)
    );
    let mut windows = generator_bound(cx.report);
    if windows.is_empty() {
        windows.push("None.".to_owned());
    }
    Ok(Some(Part { lead: Some(lead), ..Part::sentences(windows) }))
}

/// Every window flagged generator-bound, grouped as "arm profile where: repetitions 0, 2".
pub fn generator_bound(report: &Report) -> Vec<String> {
    let mut groups: Vec<(String, Vec<u32>)> = Vec::new();
    let mut add = |key: String, rep: u32| match groups.iter_mut().find(|(k, _)| *k == key) {
        Some((_, reps)) => reps.push(rep),
        None => groups.push((key, vec![rep])),
    };
    for arm in &report.results.arms {
        for p in &arm.points {
            for m in p.repetitions.iter().filter(|m| m.generator_bound) {
                add(format!("{} {} {}", arm.transport, arm.profile, p.load.label()), m.repetition);
            }
        }
        for r in arm.sweep.iter().flat_map(|s| &s.repetitions) {
            for m in r.steps.iter().filter(|m| m.generator_bound) {
                add(
                    format!(
                        "{} {} sweep step {:.0}/s",
                        arm.transport,
                        arm.profile,
                        m.offered_rate_per_s.unwrap_or(0.0)
                    ),
                    r.repetition,
                );
            }
        }
    }
    groups
        .into_iter()
        .map(|(key, reps)| {
            format!("{key}: repetition {}", reps.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))
        })
        .collect()
}
