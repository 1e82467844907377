//! Output formats of `paybench compare`: the terminal table, Markdown (for a CI comment), plain
//! JSON, Bencher Metric Format and github-action-benchmark's custom formats.
//!
//! The table and Markdown show every row of a [`Comparison`]; JSON holds the whole comparison;
//! BMF and github-action-benchmark export the **candidate**'s values (what a tracker records for
//! the new commit), with the noise interval as bounds/range.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{Better, Comparison, Row, Verdict};

/// `value` with its unit, trimmed to a readable precision.
fn show(value: f64, unit: &str) -> String {
    let digits = if value.abs() >= 100.0 || value.fract() == 0.0 { 0 } else { 2 };
    format!("{value:.digits$} {unit}")
}

fn show_noise(row: &Row, value: f64, (lo, hi): (f64, f64)) -> String {
    if lo == hi {
        show(value, &row.unit)
    } else {
        let spread = (hi - lo) / 2.0;
        format!("{} ±{}", show(value, &row.unit), show(spread, "").trim_end())
    }
}

fn show_change(row: &Row) -> String {
    if row.change_pct.is_infinite() {
        "new".to_owned()
    } else {
        format!("{:+.2}%", row.change_pct)
    }
}

fn cells(row: &Row) -> [String; 5] {
    [
        row.name.clone(),
        show_noise(row, row.baseline, row.baseline_noise),
        show_noise(row, row.candidate, row.candidate_noise),
        format!("{} (±{}%)", show_change(row), row.threshold_pct),
        row.verdict.to_string(),
    ]
}

const HEADERS: [&str; 5] = ["metric", "baseline", "candidate", "change (threshold)", "verdict"];

/// The last line of every human-readable format.
pub fn summary_line(c: &Comparison) -> String {
    format!(
        "{} metrics: {} regressed, {} improved, {} unchanged",
        c.rows.len(),
        c.count(Verdict::Regressed),
        c.count(Verdict::Improved),
        c.count(Verdict::Unchanged)
    )
}

/// The default terminal table, columns padded to their widest cell.
pub fn table(c: &Comparison) -> String {
    let rows: Vec<[String; 5]> = c.rows.iter().map(cells).collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = format!("baseline:  {}\ncandidate: {}\n\n", c.baseline_source, c.candidate_source);
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    out += &line(&HEADERS.map(str::to_owned));
    out += &line(&widths.map(|w| "-".repeat(w)));
    for row in &rows {
        out += &line(row);
    }
    let _ = writeln!(out, "\n{}", summary_line(c));
    out
}

/// A Markdown table for a CI comment, regressions first.
pub fn markdown(c: &Comparison) -> String {
    let status = if c.regressed() { "❌ regression" } else { "✅ no regression" };
    let mut out = format!("### paybench compare: {status}\n\n{}\n\n", summary_line(c));
    out += &format!("| {} |\n|{}\n", HEADERS.join(" | "), "---|".repeat(HEADERS.len()));
    let mut rows: Vec<&Row> = c.rows.iter().collect();
    rows.sort_by_key(|r| match r.verdict {
        Verdict::Regressed => 0,
        Verdict::Improved => 1,
        Verdict::Unchanged => 2,
    });
    for row in rows {
        let mut cells = cells(row);
        cells[0] = format!("`{}`", cells[0]);
        if row.verdict == Verdict::Regressed {
            cells[4] = "**regressed**".to_owned();
        }
        out += &format!("| {} |\n", cells.join(" | "));
    }
    let _ = write!(out, "\nbaseline `{}`, candidate `{}`\n", c.baseline_source, c.candidate_source);
    out
}

/// The whole comparison as JSON.
pub fn json(c: &Comparison) -> Value {
    json!({
        "baseline": c.baseline_source,
        "candidate": c.candidate_source,
        "regressed": c.regressed(),
        "max_abs_change_pct": c.rows.iter().map(|r| r.change_pct.abs()).fold(0.0, f64::max),
        "counts": {
            "regressed": c.count(Verdict::Regressed),
            "improved": c.count(Verdict::Improved),
            "unchanged": c.count(Verdict::Unchanged),
        },
        "metrics": c.rows,
    })
}

/// Bencher Metric Format: `{"<benchmark>": {"<measure>": {"value", "lower_value", "upper_value"}}}`
/// with the candidate's values; the measure is the metric class (`latency`, `instructions`, ...).
pub fn bmf(c: &Comparison) -> Value {
    let mut out = serde_json::Map::new();
    for row in &c.rows {
        let (lo, hi) = row.candidate_noise;
        let entry = out.entry(row.name.clone()).or_insert_with(|| json!({}));
        entry[row.class.name()] = json!({"value": row.candidate, "lower_value": lo, "upper_value": hi});
    }
    Value::Object(out)
}

/// github-action-benchmark's `customSmallerIsBetter` (`better = Lower`) or `customBiggerIsBetter`
/// (`better = Higher`) array: the candidate's metrics of that direction only, since one file feeds
/// one tool setting.
pub fn github_action_benchmark(c: &Comparison, better: Better) -> Value {
    let entries: Vec<Value> = c
        .rows
        .iter()
        .filter(|r| r.better == better)
        .map(|r| {
            let (lo, hi) = r.candidate_noise;
            json!({
                "name": r.name,
                "unit": r.unit,
                "value": r.candidate,
                "range": format!("±{}", (hi - lo) / 2.0),
                "extra": format!("baseline {} ({}), {}", r.baseline, show_change(r), r.verdict),
            })
        })
        .collect();
    Value::Array(entries)
}

#[cfg(test)]
mod tests {
    use super::super::{compare, Metric, MetricClass, MetricSet, Thresholds};
    use super::*;

    fn comparison() -> Comparison {
        let set = |source: &str, ir: f64, rps: f64| MetricSet {
            source: source.into(),
            metrics: vec![
                Metric::from_samples(
                    "codec::encode.json_small",
                    MetricClass::Instructions,
                    "instructions",
                    Better::Lower,
                    vec![ir],
                ),
                Metric::from_samples(
                    "grpc/calls_per_s",
                    MetricClass::Throughput,
                    "1/s",
                    Better::Higher,
                    vec![rps, rps + 10.0],
                ),
            ],
            ..Default::default()
        };
        compare(&set("base", 1000.0, 500.0), &set("cand", 1100.0, 505.0), &Thresholds::default()).unwrap()
    }

    #[test]
    fn human_formats_show_every_metric_and_the_verdict() {
        let c = comparison();
        let t = table(&c);
        assert!(t.contains("codec::encode.json_small") && t.contains("+10.00%") && t.contains("regressed"), "{t}");
        assert!(t.contains("1 regressed, 0 improved, 1 unchanged"), "{t}");
        let md = markdown(&c);
        assert!(md.starts_with("### paybench compare: ❌ regression"), "{md}");
        assert!(md.contains("| `codec::encode.json_small` |"), "{md}");
    }

    #[test]
    fn machine_formats_carry_candidate_values() {
        let c = comparison();
        assert_eq!(bmf(&c)["codec::encode.json_small"]["instructions"]["value"], 1100.0);
        assert_eq!(bmf(&c)["grpc/calls_per_s"]["throughput"]["upper_value"], 515.0);
        let smaller = github_action_benchmark(&c, Better::Lower);
        assert_eq!(smaller.as_array().map(Vec::len), Some(1));
        assert_eq!(smaller[0]["value"], 1100.0);
        let bigger = github_action_benchmark(&c, Better::Higher);
        assert_eq!(bigger[0]["name"], "grpc/calls_per_s");
        assert_eq!(json(&c)["counts"]["regressed"], 1);
    }
}
