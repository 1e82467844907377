//! The table type every section builds (plain cells, rendered by both [`super::html`] and
//! [`super::markdown`]) and the cell formats several sections share. Each table's builder lives in
//! its section's file under [`super::sections`].

use super::format::fmt_us;
use super::ratio::{Ratio, SpreadSource};
use super::verdict;

/// A table: header cells and rows of cells (plain text; renderers escape).
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Column titles.
    pub header: Vec<String>,
    /// Rows, each as long as `header`.
    pub rows: Vec<Vec<String>>,
}

/// Text for a missing figure.
pub const NOT_MEASURED: &str = "not measured in this run";

/// Formats a figure with its unit.
pub fn fmt_value(value: Option<f64>, unit: &str) -> String {
    match value {
        None => "—".into(),
        Some(v) if unit == "µs" => fmt_us(v),
        Some(v) if unit == "calls/s" => format!("{v:.0}/s"),
        Some(v) => format!("{v:.0} {unit}"),
    }
}

/// A ratio's 95 % interval, with its reading when it is inconclusive or shows no difference
/// (how it was computed goes to the notes: [`spread_method`]).
pub fn fmt_spread(r: &Ratio) -> String {
    let reading = if r.inconclusive() {
        " inconclusive"
    } else if r.no_measurable_difference() {
        " no measurable difference"
    } else {
        ""
    };
    format!("{}–{}{reading}", verdict::fmt_x(r.low), verdict::fmt_x(r.high))
}

/// How an interval was computed and what its samples ranged over, for the notes column (kept out
/// of the interval's own cell so that the verdict table fits a 1280-px window).
pub fn spread_method(r: &Ratio) -> String {
    let reading = if r.inconclusive() { " (inconclusive: wider than 0.5x–2x)" } else { "" };
    let source = match r.source {
        SpreadSource::Repetitions => format!(
            "t-interval, {} paired repetitions; pairs ranged {}–{}",
            r.pairs,
            verdict::fmt_x(r.min),
            verdict::fmt_x(r.max)
        ),
        SpreadSource::Batches => format!(
            "t-interval, {} interleaved timing batches; batches ranged {}–{}",
            r.pairs,
            verdict::fmt_x(r.min),
            verdict::fmt_x(r.max)
        ),
        SpreadSource::Exact => "exact (deterministic)".into(),
        SpreadSource::PooledWindows { rest, grpc } => format!(
            "cluster bootstrap over {rest} + {grpc} pooled windows; resamples ranged {}–{}",
            verdict::fmt_x(r.min),
            verdict::fmt_x(r.max)
        ),
    };
    format!("interval: {source}{reading}")
}

/// One capacity search in a cell, by what it measured ([`crate::results::CapacityReading`]):
/// `4000/s (+2 %, server 94 % busy)`, `≥ 16000/s end-to-end (client 97 % busy)`,
/// `≥ 32000/s (lower bound: no failure up to the search's maximum rate)`, or `none (even 63/s
/// failed)`. Only the first is the transport's capacity.
pub fn capacity_cell(run: &crate::results::SweepRun) -> String {
    use crate::results::CapacityReading;
    if matches!(run.stop_reason.as_str(), "slo" | "errors" | "generator_bound") {
        // Written before the search: the last step of a ×2 grid, with no resolution.
        let pass = run.max_sustainable_rate_per_s.unwrap_or(0.0);
        return format!("{pass:.0}/s (old ×2 grid, no resolution; stopped by {})", run.stop_reason);
    }
    let share = |m: Option<&crate::results::Measurement>, by: &str| {
        let busy = m.and_then(|m| m.busy.as_ref());
        let share = busy.and_then(|b| if by == "broker" { b.broker } else { b.server });
        share.map_or(String::new(), |s| format!(" {:.0} % busy", s * 100.0))
    };
    match run.reading() {
        CapacityReading::Server { rate_per_s, by } => format!(
            "{rate_per_s:.0}/s (+{:.0} %, {by}{})",
            run.resolution.unwrap_or(0.0) * 100.0,
            share(run.bracketing_failure(), &by)
        ),
        CapacityReading::EndToEnd { rate_per_s, client_share } => {
            format!("≥ {rate_per_s:.0}/s end-to-end (client {:.0} % busy: the client's limit)", client_share * 100.0)
        }
        CapacityReading::LowerBound { rate_per_s, why } => format!("≥ {rate_per_s:.0}/s (lower bound: {why})"),
        CapacityReading::Nothing => match run.first_failing_rate_per_s {
            Some(fail) => format!("none (even {fail:.0}/s failed, {})", run.bottleneck.as_deref().unwrap_or("—")),
            None => "none".into(),
        },
    }
}
