//! Every arm's figures at every load point: medians of the repetitions.

use super::part::{Context, Part, Scope, Section, Show};
use crate::format::{arm_label, fmt_us};
use crate::results::{ArmStatus, Spread};
use crate::tables::Table;
use crate::verdict;
use crate::{Result, Verdict};

/// The arms table of each scenario × profile.
pub const SECTION: Section = Section {
    id: "arms",
    title: "Every arm's figures (medians of repetitions)",
    scope: Scope::Verdict,
    show: Show::Collapsed,
    in_summary: false,
    build,
};

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    Ok(Some(Part::table(None, arms_table(cx.verdict(SECTION.id)?))))
}

fn med(s: &Option<Spread>) -> Option<f64> {
    s.map(|s| s.median)
}

/// Every arm's headline figures at every point (medians of repetitions), for traceability.
pub fn arms_table(verdict: &Verdict<'_>) -> Table {
    let header = [
        "arm",
        "codec",
        "load",
        "reps",
        "ok calls/s",
        "p50",
        "p99",
        "p99.9",
        "error ratio",
        "wire B/call (req + resp, client hop)",
        "sockets (client hop, max)",
        "CPU µs/call (client + server + broker + unattributed)",
        "schedule lag p99",
        "generator floor p50 (inproc, same point)",
        "bottleneck, per repetition",
    ];
    let floor_arm = verdict.section.arm(crate::claim::GENERATOR_FLOOR);
    let mut rows = Vec::new();
    for arm in &verdict.section.arms {
        if let ArmStatus::Unavailable { kind, message } = &arm.status {
            let mut cells = vec![arm_label(arm), arm.codec.clone(), format!("did not run ({kind}): {message}")];
            cells.resize(header.len(), "—".into());
            rows.push(cells);
            continue;
        }
        for p in &arm.points {
            let s = &p.summary;
            let wire =
                med(&s.client_sent_bytes_per_call).zip(med(&s.client_received_bytes_per_call)).map(|(a, b)| a + b);
            // Every role, unattributed included, as the verdict's CPU row counts it.
            let cpu = Spread::of_some(p.repetitions.iter().map(verdict::cpu_total_us_per_call)).map(|s| s.median);
            rows.push(vec![
                arm_label(arm),
                arm.codec.clone(),
                verdict.section.describe(&p.load),
                s.repetitions.to_string(),
                format!("{:.0}", s.achieved_rate_per_s.median),
                fmt_us(s.p50_us.median),
                fmt_us(s.p99_us.median),
                if p.repetitions.iter().any(|m| m.latency.p999_low_count) {
                    format!(
                        "{} (low count: < {} calls)",
                        fmt_us(s.p999_us.median),
                        crate::results::stats::P999_MIN_COUNT
                    )
                } else {
                    fmt_us(s.p999_us.median)
                },
                format!("{:.4}", s.error_ratio.max),
                wire.map_or("—".into(), |w| format!("{w:.0}")),
                p.repetitions
                    .iter()
                    .filter_map(|m| m.wire.as_ref()?.hops.iter().find(|h| h.hop == "client").map(|h| h.sockets))
                    .max()
                    .map_or("—".into(), |n| n.to_string()),
                cpu.map_or("—".into(), |c| format!("{c:.1}")),
                Spread::of_some(p.repetitions.iter().map(|m| m.schedule_lag.as_ref().map(|l| l.p99_us)))
                    .map_or("—".into(), |l| fmt_us(l.median)),
                floor_arm
                    .and_then(|f| f.points.iter().find(|q| q.load == p.load))
                    .map_or("—".into(), |q| fmt_us(q.summary.p50_us.median)),
                p.repetitions
                    .iter()
                    .map(|m| {
                        let b = m.busy.as_ref().map_or("—", |b| b.bottleneck.as_str());
                        if m.generator_bound && b != "client" {
                            format!("{b} (lagged)")
                        } else {
                            b.to_owned()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ]);
        }
    }
    Table { header: header.map(String::from).to_vec(), rows }
}
