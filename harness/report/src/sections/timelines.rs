//! What the timed experiments' sections share: their part (a lead, generated sentences, a claims
//! table with one row per experiment × arm, a timeline chart per arm), one latency chart per
//! experiment × arm with its events and load changes marked, and the short texts naming them.

use super::part::Part;
use crate::charts::{line_chart, Chart, LineSeries2, LineSpec};
use crate::results::experiment::{ArmTimeline, ExperimentResult};
use crate::results::{ArmStatus, RunResults};
use crate::tables::Table;
use crate::Result;
use plotters::style::RGBColor;

/// The experiments of `kind` in a run.
pub fn of_kind<'a>(results: &'a RunResults, kind: &'a str) -> impl Iterator<Item = &'a ExperimentResult> + 'a {
    results.experiments.iter().filter(move |e| e.kind == kind)
}

/// A timed experiment kind's section: `lead`, `sentences` of the run, a claims table under
/// `header` with `row` per experiment × arm, and the arms' timeline charts; `None` when the run
/// has no experiment of `kind`.
pub fn part(
    results: &RunResults,
    kind: &str,
    lead: &str,
    header: &[&str],
    sentences: fn(&RunResults) -> Vec<String>,
    row: fn(&ExperimentResult, &ArmTimeline) -> Vec<String>,
) -> Result<Option<Part>> {
    if of_kind(results, kind).next().is_none() {
        return Ok(None);
    }
    let rows = of_kind(results, kind).flat_map(|e| e.arms.iter().map(move |t| row(e, t))).collect();
    Ok(Some(Part {
        lead: Some(lead.to_owned()),
        sentences: sentences(results),
        tables: vec![Table { header: header.iter().map(|h| (*h).to_owned()).collect(), rows }],
        charts: timeline_charts(results, kind)?,
    }))
}

/// The row of an arm that did not run, or ran without the `kind`'s reading: its `first` cell,
/// the arm, a dash in every figure column of a `columns`-wide table, and why in the last.
pub fn unmeasured_row(first: String, t: &ArmTimeline, columns: usize, kind: &str) -> Vec<String> {
    let why = match &t.status {
        ArmStatus::Unavailable { message, .. } => format!("not measured: {message}"),
        ArmStatus::Ran => format!("not measured: no {kind} reading"),
    };
    let mut cells = vec![first, t.arm.name.clone()];
    cells.extend(std::iter::repeat_n("–".to_owned(), columns.saturating_sub(3)));
    cells.push(why);
    cells
}

/// One chart per experiment × arm: p50, p99 and max latency per 100 ms bucket of intended send
/// time, the events as vertical lines.
pub fn timeline_charts(results: &RunResults, kind: &str) -> Result<Vec<Chart>> {
    let mut charts = Vec::new();
    for e in of_kind(results, kind) {
        for t in e.arms.iter().filter(|t| !t.timeline.is_empty()) {
            if let Some(chart) = timeline_chart(e, t)? {
                charts.push(chart);
            }
        }
    }
    Ok(charts)
}

fn timeline_chart(e: &ExperimentResult, t: &ArmTimeline) -> Result<Option<Chart>> {
    let c = &t.timeline;
    let x = |i: usize| (i as f64 + 0.5) * c.bucket_ms as f64 / 1e3;
    let series = |label: &str, color: RGBColor, column: &[Option<f64>]| LineSeries2 {
        label: label.to_owned(),
        color,
        // A bucket with no answered call breaks the line: the gap is the outage.
        segments: column
            .iter()
            .enumerate()
            .collect::<Vec<_>>()
            .split(|(_, v)| v.is_none())
            .filter(|run| !run.is_empty())
            .map(|run| run.iter().filter_map(|(i, v)| v.map(|v| (x(*i), v))).collect())
            .collect(),
        markers: false,
    };
    let top = c.max_us.iter().flatten().copied().fold(1.0, f64::max);
    let mut lines = vec![
        series("p50", RGBColor(31, 119, 180), &c.p50_us),
        series("p99", RGBColor(214, 39, 40), &c.p99_us),
        series("max", RGBColor(150, 150, 150), &c.max_us),
    ];
    for ev in &t.events {
        let at = ev.actual_ms.unwrap_or(ev.at_ms as f64) / 1e3;
        lines.push(LineSeries2 {
            label: format!("{} at {at:.1} s", ev.action),
            color: RGBColor(60, 60, 60),
            segments: vec![vec![(at, 10.0), (at, top)]],
            markers: false,
        });
    }
    // Each change of the offered load (a burst's start and end) as a dashed-grey line.
    for p in t.offered_phases.iter().skip(1) {
        let at = p.from_ms as f64 / 1e3;
        lines.push(LineSeries2 {
            label: format!("load {:.0}/s from {at:.1} s", p.rate_per_s),
            color: RGBColor(170, 120, 40),
            segments: vec![vec![(at, 10.0), (at, top)]],
            markers: false,
        });
    }
    let title = format!("{} / {}: latency per 100 ms of intended send time", e.name, t.arm.name);
    let svg = line_chart(&LineSpec {
        title: title.clone(),
        x_desc: "seconds from the timeline's start",
        y_desc: "latency (log)",
        x_labels: 10,
        x_format: &|v| format!("{v:.0}"),
        series: lines,
        reference: None,
    })?;
    let (offered, _, ok, timed_out, failed, _) = c.totals();
    let backlog = match (&t.backlog_source, c.peak_backlog()) {
        (Some(source), Some(peak)) => format!("; broker backlog ({source}): at most {peak}"),
        (Some(source), None) => format!("; broker backlog {source}"),
        (None, _) => String::new(),
    };
    Ok(svg.map(|svg| Chart {
        id: format!("timeline-{}-{}-{}", e.scenario, e.name, t.arm.name),
        title,
        note: format!(
            "results.json experiments[{}/{}].arms[{}].timeline: {offered} calls offered, {ok} answered, {failed} failed, {timed_out} timed out{backlog}; gaps are buckets with no answered call",
            e.scenario, e.name, t.arm.name
        ),
        svg,
    }))
}

/// The events as carried out (`stop at 5.0 s, continue at 10.0 s`).
pub fn events_text(t: &ArmTimeline) -> String {
    t.events
        .iter()
        .map(|e| {
            // The server is the usual target; a broker event names it.
            let target = if e.target == "server" { String::new() } else { format!(" {}", e.target) };
            format!("{}{target} at {:.1} s", e.action, e.actual_ms.unwrap_or(e.at_ms as f64) / 1e3)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The offered rate, calls/s: one figure, or each phase's (`1000→3000→1000`).
pub fn offered(t: &ArmTimeline) -> String {
    if t.offered_phases.is_empty() {
        format!("{:.0}", t.offered_rate_per_s)
    } else {
        t.offered_phases.iter().map(|p| format!("{:.0}", p.rate_per_s)).collect::<Vec<_>>().join("→")
    }
}
