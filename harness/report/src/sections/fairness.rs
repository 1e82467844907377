//! Fairness: what each arm was given (client, pinning, sockets, connection policy, HTTP/2
//! settings, segments per call), so that a reader can judge the comparison.

use super::part::{Context, Part, Scope, Section, Show};
use crate::format::arm_label;
use crate::tables::Table;
use crate::verdict;
use crate::{Report, Result, Verdict};

/// The fairness table of each scenario × profile.
pub const SECTION: Section = Section {
    id: "fairness",
    title: "Fairness: what each arm was given",
    scope: Scope::Verdict,
    show: Show::Collapsed,
    in_summary: false,
    build,
};

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    Ok(Some(Part::table(None, fairness_table(cx.report, cx.verdict(SECTION.id)?))))
}

/// What each arm was given, so that a reader can judge the comparison: the client, the placement,
/// the sockets it used at each point, its connection policy and HTTP/2 settings.
pub fn fairness_table(report: &Report, verdict: &Verdict<'_>) -> Table {
    let header = [
        "arm",
        "client",
        "pinning",
        "sockets used (client hop, max over repetitions) by load",
        "connections",
        "HTTP/2 settings",
        "TCP segments per call, unloaded (client hop: out / in)",
    ];
    let set = &report.results.settings;
    let unloaded = verdict::unloaded(&verdict.section.loads);
    let cpus = |c: &[usize]| if c.is_empty() { "unpinned".to_string() } else { format!("CPUs {c:?}") };
    let pinning = format!("client {}, server {}", cpus(&set.client_cpus), cpus(&set.server_cpus));
    let max_in_flight = report
        .results
        .scenarios
        .iter()
        .find(|s| s.name == verdict.section.scenario)
        .map_or(1, crate::scenario::Scenario::max_in_flight);
    let rows = verdict
        .section
        .arms
        .iter()
        .map(|arm| {
            let sockets: Vec<String> = arm
                .points
                .iter()
                .filter_map(|p| {
                    let n = p
                        .repetitions
                        .iter()
                        .filter_map(|m| m.wire.as_ref()?.hops.iter().find(|h| h.hop == "client").map(|h| h.sockets))
                        .max()?;
                    Some(format!("{}: {n}", verdict.section.describe(&p.load)))
                })
                .collect();
            let (connections, h2) = crate::connections::connection_policy(&arm.family, &arm.options, max_in_flight);
            vec![
                arm_label(arm),
                arm.client.clone(),
                pinning.clone(),
                if sockets.is_empty() { "—".into() } else { sockets.join("; ") },
                connections,
                h2,
                unloaded
                    .and_then(|l| verdict::segments_per_call(arm, &l))
                    .map_or("—".into(), |(out, into)| format!("{out:.1} / {into:.1}")),
            ]
        })
        .collect();
    Table { header: header.map(String::from).to_vec(), rows }
}
