//! The terminal summary printed at the end of `paybench run`: one row per load point (medians
//! across repetitions, with the p99 range), one per sweep, one per arm that did not run.

use std::fmt::Write;

use paybench::results::{ArmResult, ArmStatus, PointResult, Spread};

fn opt(s: Option<Spread>) -> String {
    s.map_or_else(|| "-".to_owned(), |s| format!("{:.0}", s.median))
}

fn cpu(s: Option<Spread>) -> String {
    s.map_or_else(|| "-".to_owned(), |s| format!("{:.1}", s.median))
}

fn point_row(out: &mut String, arm: &ArmResult, p: &PointResult) {
    let s = &p.summary;
    let _ = writeln!(
        out,
        "| {}/{} | {} | {:.0} | {:.0} | {:.0} ({:.0}-{:.0}) | {:.0} | {:.2}% | {} / {} | {} / {} / {} |{}",
        arm.transport,
        arm.profile,
        p.load.label(),
        s.achieved_rate_per_s.median,
        s.p50_us.median,
        s.p99_us.median,
        s.p99_us.min,
        s.p99_us.max,
        s.p999_us.median,
        s.error_ratio.median * 100.0,
        opt(s.client_sent_bytes_per_call),
        opt(s.client_received_bytes_per_call),
        cpu(s.client_cpu_us_per_call),
        cpu(s.server_cpu_us_per_call),
        cpu(s.broker_cpu_us_per_call),
        if s.any_generator_bound { " generator-bound" } else { "" }
    );
}

/// Renders the summary as a markdown table.
pub(crate) fn render(arms: &[ArmResult]) -> String {
    let mut out = String::from(
        "\n| arm | load | ok/s | p50 µs | p99 µs (min-max) | p99.9 µs | errors | bytes/call req / resp | CPU µs/call client / server / broker |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut notes = String::new();
    for arm in arms {
        if let ArmStatus::Unavailable { kind, message } = &arm.status {
            let _ = writeln!(notes, "- {}/{}: UNAVAILABLE ({kind}): {message}", arm.transport, arm.profile);
            continue;
        }
        for p in &arm.points {
            point_row(&mut out, arm, p);
        }
        if let Some(sweep) = &arm.sweep {
            let searches: Vec<String> = sweep.repetitions.iter().map(paybench::report::tables::capacity_cell).collect();
            let _ = writeln!(
                notes,
                "- {}/{}: capacity under p99 <= {:.0} µs, per search: {}",
                arm.transport,
                arm.profile,
                sweep.slo_p99_us,
                searches.join("; ")
            );
        }
    }
    if !notes.is_empty() {
        out.push('\n');
        out.push_str(&notes);
    }
    out
}
