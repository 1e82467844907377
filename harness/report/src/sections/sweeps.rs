//! Capacity searches: each arm's highest offered rate that met the SLO, the resolution of the
//! search, and what limited it.

use super::part::{Context, Part, Scope, Section, Show};
use crate::format::{arm_label, fmt_us};
use crate::results::ArmResult;
use crate::tables::{capacity_cell, Table};
use crate::verdict;
use crate::Result;

/// The capacity searches of each scenario × profile.
pub const SECTION: Section = Section {
    id: "sweeps",
    title: "Capacity searches: the highest offered rate that met the SLO",
    scope: Scope::Verdict,
    show: Show::Collapsed,
    in_summary: false,
    build,
};

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    Ok(Some(Part::table(None, capacity_table(&cx.verdict(SECTION.id)?.section.arms))))
}

/// The passing step at a search's capacity rate, for the CPU and sockets it took.
fn at_capacity(r: &crate::results::SweepRun) -> Option<&crate::results::Measurement> {
    let rate = r.max_sustainable_rate_per_s?;
    r.steps
        .iter()
        .zip(&r.step_verdicts)
        .rev()
        .find_map(|(m, v)| (m.offered_rate_per_s == Some(rate) && v.ends_with("pass")).then_some(m))
}

/// Every arm's capacity searches: the highest rate meeting the SLO, how far above it the first
/// failing rate was (the resolution), and what limited it (`measure::busy`'s rule).
pub fn capacity_table(arms: &[&ArmResult]) -> Table {
    let header = [
        "arm",
        "client",
        "SLO",
        "capacity per search (resolution, bottleneck)",
        "CPU µs/call at capacity (client + server + broker)",
        "sockets at capacity",
        "steps per search",
    ];
    let rows = arms
        .iter()
        .filter_map(|arm| {
            let sweep = arm.sweep.as_ref()?;
            Some(vec![
                arm_label(arm),
                arm.client.clone(),
                format!("p99 ≤ {}", fmt_us(sweep.slo_p99_us)),
                sweep.repetitions.iter().map(capacity_cell).collect::<Vec<_>>().join("; "),
                sweep
                    .repetitions
                    .iter()
                    .map(|r| {
                        at_capacity(r)
                            .and_then(verdict::cpu_total_us_per_call)
                            .map_or("—".into(), |c| format!("{c:.1}"))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                sweep
                    .repetitions
                    .iter()
                    .map(|r| {
                        at_capacity(r)
                            .and_then(|m| m.wire.as_ref()?.hops.iter().find(|h| h.hop == "client").map(|h| h.sockets))
                            .map_or("—".into(), |n| n.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                sweep.repetitions.iter().map(|r| r.steps.len().to_string()).collect::<Vec<_>>().join(", "),
            ])
        })
        .collect();
    Table { header: header.map(String::from).to_vec(), rows }
}
