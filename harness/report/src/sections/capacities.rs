//! Capacities: each arm's server capacity (the replay client) beside its end-to-end capacity (the
//! full-stack client), each with what limited it.

use super::part::{Context, Part, Scope, Section, Show};
use crate::format::reading_cell;
use crate::results::Spread;
use crate::tables::{Table, NOT_MEASURED};
use crate::verdict;
use crate::Result;

/// The capacities table of each scenario × profile.
pub const SECTION: Section = Section {
    id: "capacities",
    title: "Capacities: the server's (replay client) and end to end (full-stack client)",
    scope: Scope::Verdict,
    show: Show::Collapsed,
    in_summary: false,
    build,
};

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    Ok(Some(Part::table(None, capacities_table(&cx.verdict(SECTION.id)?.section))))
}

/// Each arm's two capacities side by side: the server's (the replay client in a closed loop, the
/// server alone on its core: the median over the windows whose server was at least 90 % busy) and
/// the end-to-end one (the full-stack client's open-loop searches: the median over those the
/// client or the server limited). Where an arm has no such window or search, its best lower bound
/// and the reason.
pub fn capacities_table(section: &verdict::Section<'_>) -> Table {
    use crate::operating;
    use crate::results::{server_capacity_of, CapacityReading};
    let header = [
        "arm",
        "server capacity (replay client, closed loop)",
        "server busy (median)",
        "end-to-end capacity (full-stack client, open-loop search)",
        "client busy at its limit (median)",
    ];
    // Every arm with either capacity, once: the server-capacity arms first, in run order.
    let mut names: Vec<&str> = Vec::new();
    let measured = section.capacity.iter().copied().chain(section.arms.iter().copied().filter(|a| a.sweep.is_some()));
    for name in measured.map(|a| a.transport.as_str()) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let median = |v: Vec<f64>| (!v.is_empty()).then(|| Spread::of(v).median);
    let pct = |x: Option<f64>| x.map_or("—".to_owned(), |x| format!("{:.0} %", x * 100.0));
    let rows = names
        .into_iter()
        .map(|name| {
            let replay = section.capacity.iter().find(|a| a.transport.as_str() == name);
            let windows: Vec<&crate::results::Measurement> =
                replay.iter().flat_map(|a| &a.points).flat_map(|p| &p.repetitions).collect();
            let readings: Vec<CapacityReading> = windows.iter().map(|m| server_capacity_of(m)).collect();
            let server: Vec<f64> = readings.iter().filter_map(CapacityReading::server_rate).collect();
            let server_cell = match (median(server.clone()), readings.is_empty()) {
                (_, true) => NOT_MEASURED.to_owned(),
                (Some(rate), _) => format!("{rate:.0}/s ({} of {} windows server-bound)", server.len(), readings.len()),
                (None, _) => best_bound(&readings),
            };
            let server_busy = median(windows.iter().filter_map(|m| m.busy.as_ref()?.server).collect());
            let arm = section.arm(name);
            let searches: Vec<CapacityReading> = arm
                .and_then(|a| a.sweep.as_ref())
                .map_or(Vec::new(), |s| s.repetitions.iter().map(|r| r.reading()).collect());
            let end_to_end = arm.and_then(operating::end_to_end_capacity);
            let e2e_cell = match (end_to_end, searches.is_empty()) {
                (_, true) => NOT_MEASURED.to_owned(),
                (Some(rate), _) => format!(
                    "{rate:.0}/s ({} of {} searches; {} client-bound)",
                    searches.iter().filter(|r| r.end_to_end_rate().is_some()).count(),
                    searches.len(),
                    searches.iter().filter(|r| matches!(r, CapacityReading::EndToEnd { .. })).count()
                ),
                (None, _) => best_bound(&searches),
            };
            let client_busy = median(
                searches
                    .iter()
                    .filter_map(|r| match r {
                        CapacityReading::EndToEnd { client_share, .. } => Some(*client_share),
                        _ => None,
                    })
                    .collect(),
            );
            vec![name.to_owned(), server_cell, pct(server_busy), e2e_cell, pct(client_busy)]
        })
        .collect();
    Table { header: header.map(String::from).to_vec(), rows }
}

/// The cell of the reading that vouches for the highest rate (`none` when there is none): an
/// arm's best lower bound, with its reason.
fn best_bound(readings: &[crate::results::CapacityReading]) -> String {
    use crate::results::CapacityReading;
    let rate = |r: &CapacityReading| match r {
        CapacityReading::Server { rate_per_s, .. }
        | CapacityReading::EndToEnd { rate_per_s, .. }
        | CapacityReading::LowerBound { rate_per_s, .. } => *rate_per_s,
        CapacityReading::Nothing => 0.0,
    };
    readings.iter().max_by(|a, b| rate(a).total_cmp(&rate(b))).map_or("none".into(), reading_cell)
}
