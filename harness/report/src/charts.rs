//! The report's charts as SVG strings, drawn with plotters' SVG backend (text is left to the
//! browser's fonts, so no font files are needed).
//!
//! Two shapes cover every chart: [`LineSpec`] (log-scale latency against quantile or throughput,
//! one colour per transport) and [`BarSpec`] (horizontal bars per transport, stacked by role or
//! hop, or grouped by codec). The `*_chart` functions turn a [`Section`] into one of them.

use hdrhistogram::Histogram;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::format::{arm_label, fmt_us, trim};
use super::verdict::{self, Section};
use crate::codec::ALL_CODECS;
use crate::codec_timing::CodecTiming;
use crate::results::{ArmResult, ArmStatus, Measurement, Spread};
use crate::scenario::LoadSpec;
use crate::sizes::SizeRow;
use crate::{Error, Result};

/// One rendered chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Stable id, also the file stem with `--charts-dir`.
    pub id: String,
    /// Title (also drawn inside the SVG).
    pub title: String,
    /// What the chart is drawn from, printed under it.
    pub note: String,
    /// The SVG document.
    pub svg: String,
}

const WIDTH_PX: u32 = 960;
const LINE_HEIGHT_PX: u32 = 440;

fn chart_error(e: impl std::fmt::Display) -> Error {
    Error::Report(format!("svg chart: {e}"))
}

/// The families' hues, evenly spaced around the colour wheel in this order (the registry's order
/// when colours were fixed); a family not listed takes a hue from its name.
pub const FAMILY_HUES: [&str; 8] = ["inproc", "sim", "tcp", "grpc", "http", "amqp", "kafka", "nats"];

/// FNV-1a, 64 bit: a stable number for a text (std's hasher is randomly seeded).
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// An arm's colour, derived from its family and the rest of its canonical name, so an arm looks
/// the same in every chart of every run, and any number of arms gets one: the family picks the
/// hue (see [`FAMILY_HUES`]), the codec and options pick the lightness and a small hue shift. No
/// palette to outgrow.
pub fn transport_color(arm: &ArmResult) -> RGBColor {
    arm_color(&arm.family, &arm.transport)
}

/// The colour of the arm called `name` (canonical), of `family`: see [`transport_color`].
pub fn arm_color(family: &str, name: &str) -> RGBColor {
    let families = FAMILY_HUES.len() as f64;
    let index = FAMILY_HUES
        .iter()
        .position(|f| *f == family)
        .map_or_else(|| (stable_hash(family) % 360) as f64 * families / 360.0, |i| i as f64);
    // The variant part of the name (after the family's stem, its first word) as a stable number.
    let variant = name.find('-').map_or("", |i| &name[i..]);
    let hash = stable_hash(variant);
    // Eleven hue shifts within ±20° times four lightness steps: variants of one family stay in
    // its hue range and differ from the family's plain arm (lightness 0.40) and, almost always,
    // from each other; the legend names every line in any case.
    let (shift, light) = if variant.is_empty() {
        (0.0, 0.40)
    } else {
        ((hash % 11) as f64 * 4.0 - 20.0, 0.52 + ((hash / 11) % 4) as f64 * 0.07)
    };
    hsl((index * 360.0 / families + shift).rem_euclid(360.0), 0.65, light)
}

/// HSL (degrees, 0-1, 0-1) to RGB.
fn hsl(hue_deg: f64, saturation: f64, lightness: f64) -> RGBColor {
    let c = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let h = hue_deg / 60.0;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = lightness - c / 2.0;
    let byte = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    RGBColor(byte(r), byte(g), byte(b))
}

/// Most lines drawn in one chart: more and the legend covers the data.
pub const MAX_SERIES_PER_CHART: usize = 8;

/// The arms of a section that ran, in charts of at most [`MAX_SERIES_PER_CHART`]: direct arms
/// first, broker arms apart (their latencies are orders of magnitude apart), each group split
/// further when it is too large. Each group comes with a suffix for the chart id and title.
fn chart_groups<'a>(section: &'a Section<'a>) -> Vec<(String, Vec<&'a ArmResult>)> {
    let (direct, broker): (Vec<_>, Vec<_>) = ran(section).partition(|a| !a.is_broker_arm());
    let mut groups = Vec::new();
    for (what, arms) in [("direct arms", direct), ("broker arms", broker)] {
        let chunks: Vec<_> = arms.chunks(MAX_SERIES_PER_CHART).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let part = if chunks.len() > 1 { format!(" {}/{}", i + 1, chunks.len()) } else { String::new() };
            groups.push((format!("{what}{part}"), chunk.to_vec()));
        }
    }
    groups
}

/// The chart id of group `i`: the first keeps the plain id, so links and tests stay stable.
fn group_id(id: &str, i: usize) -> String {
    if i == 0 {
        id.to_owned()
    } else {
        format!("{id}-{}", i + 1)
    }
}

const SERIES_COLORS: [RGBColor; 4] =
    [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(148, 103, 189)];

/// A line in a [`LineSpec`]: several segments (e.g. one per repetition) share one colour and label.
#[derive(Debug, Clone)]
pub struct LineSeries2 {
    /// Legend label.
    pub label: String,
    /// Colour.
    pub color: RGBColor,
    /// Polylines.
    pub segments: Vec<Vec<(f64, f64)>>,
    /// Mark each point (sweep steps are few and each one is a measurement; a spectrum is a curve).
    pub markers: bool,
}

/// A line chart with a linear x axis and a log-scale y axis (microseconds).
pub struct LineSpec<'a> {
    /// Title.
    pub title: String,
    /// x axis description.
    pub x_desc: &'a str,
    /// y axis description.
    pub y_desc: &'a str,
    /// How many x labels plotters should aim for.
    pub x_labels: usize,
    /// Formats an x label.
    pub x_format: &'a dyn Fn(&f64) -> String,
    /// The lines.
    pub series: Vec<LineSeries2>,
    /// A horizontal reference line (value, label), e.g. the SLO.
    pub reference: Option<(f64, String)>,
}

fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.filter(|v| v.is_finite()).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// Draws a [`LineSpec`]; `None` when it has no point.
pub fn line_chart(spec: &LineSpec<'_>) -> Result<Option<String>> {
    let points = || spec.series.iter().flat_map(|s| s.segments.iter().flatten());
    let (Some((x_lo, x_hi)), Some((y_lo, y_hi))) =
        (bounds(points().map(|p| p.0)), bounds(points().map(|p| p.1).chain(spec.reference.iter().map(|r| r.0))))
    else {
        return Ok(None);
    };
    let x_range = x_lo.min(0.0)..(x_hi * 1.05).max(x_lo + 1.0);
    let y_range = (y_lo * 0.8).max(0.1)..(y_hi * 1.3).max(1.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH_PX, LINE_HEIGHT_PX)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        // The legend gets a column of its own to the right of the plot, so it never covers a line.
        let (plot, legend_area) = root.split_horizontally(WIDTH_PX - LEGEND_WIDTH_PX);
        let mut builder = ChartBuilder::on(&plot);
        builder.caption(&spec.title, ("sans-serif", 18)).margin(14).x_label_area_size(44).y_label_area_size(72);
        let mut chart = builder.build_cartesian_2d(x_range, y_range.log_scale()).map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc(spec.x_desc)
            .y_desc(spec.y_desc)
            .light_line_style(RGBColor(238, 238, 238))
            .x_labels(spec.x_labels)
            .x_label_formatter(spec.x_format)
            .y_label_formatter(&|v| fmt_us(*v))
            .draw()
            .map_err(chart_error)?;
        if let Some((value, _)) = &spec.reference {
            let grey = RGBColor(90, 90, 90);
            chart
                .draw_series(DashedLineSeries::new(
                    [(x_range_lo(spec), *value), (x_hi * 1.05, *value)],
                    8,
                    5,
                    grey.stroke_width(2),
                ))
                .map_err(chart_error)?;
        }
        for s in &spec.series {
            let color = s.color;
            for segment in &s.segments {
                chart
                    .draw_series(LineSeries::new(segment.iter().copied(), color.stroke_width(2)))
                    .map_err(chart_error)?;
                if s.markers {
                    chart
                        .draw_series(segment.iter().map(|p| Circle::new(*p, 3, color.filled())))
                        .map_err(chart_error)?;
                }
            }
        }
        let reference = spec.reference.as_ref().map(|(_, label)| (label.as_str(), RGBColor(90, 90, 90), 1));
        let entries = spec.series.iter().map(|s| (s.label.as_str(), s.color, 3)).chain(reference);
        side_legend(&legend_area, entries)?;
        root.present().map_err(chart_error)?;
    }
    Ok(Some(svg))
}

/// Draws the series legend in a white box at `position`.
/// Width of the legend column beside a line chart: room for a label such as
/// `amqp-json (RabbitMQ 3.10.8)`.
const LEGEND_WIDTH_PX: u32 = 250;

/// A legend drawn in its own area, one line per entry (label, colour, stroke width), top-aligned
/// with the plot.
fn side_legend<'a, DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    entries: impl Iterator<Item = (&'a str, RGBColor, u32)>,
) -> Result<()> {
    for (i, (label, color, width)) in entries.enumerate() {
        let y = 48 + 20 * i as i32;
        area.draw(&PathElement::new(vec![(4, y), (24, y)], color.stroke_width(width))).map_err(chart_error)?;
        area.draw(&Text::new(label.to_owned(), (30, y - 7), ("sans-serif", 12))).map_err(chart_error)?;
    }
    Ok(())
}

fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(chart_error)
}

fn x_range_lo(spec: &LineSpec<'_>) -> f64 {
    bounds(spec.series.iter().flat_map(|s| s.segments.iter().flatten()).map(|p| p.0)).map_or(0.0, |b| b.0.min(0.0))
}

/// One row of a [`BarSpec`]: one value per series (`None` = not measured).
#[derive(Debug, Clone)]
pub struct BarRow {
    /// Row label.
    pub label: String,
    /// One value per series.
    pub values: Vec<Option<f64>>,
    /// A min–max whisker drawn across the row (spread across repetitions), if any.
    pub range: Option<(f64, f64)>,
}

/// Horizontal bars, one row per label, series stacked or grouped.
pub struct BarSpec {
    /// Title.
    pub title: String,
    /// x axis description (the unit).
    pub x_desc: String,
    /// Series names (legend).
    pub series: Vec<String>,
    /// The rows, top to bottom.
    pub rows: Vec<BarRow>,
    /// Stack the series (parts of one total) or group them (alternatives side by side).
    pub stacked: bool,
    /// Vertical reference lines (x, legend label, colour), e.g. the claimed 5x.
    pub references: Vec<(f64, String, RGBColor)>,
}

/// Draws a [`BarSpec`]; `None` when no row has a value.
pub fn bar_chart(spec: &BarSpec) -> Result<Option<String>> {
    let row_total = |r: &BarRow| -> f64 {
        let values = r.values.iter().flatten();
        if spec.stacked {
            values.sum()
        } else {
            values.fold(0.0, |a, b| a.max(*b))
        }
    };
    let x_data = spec.rows.iter().map(row_total).fold(0.0, f64::max);
    if x_data <= 0.0 {
        return Ok(None);
    }
    let finite_ranges = spec.rows.iter().filter_map(|r| r.range).map(|r| r.1).filter(|v| v.is_finite());
    let x_max = spec.references.iter().map(|r| r.0 * 1.1).chain(finite_ranges).fold(x_data, f64::max);
    let n = spec.rows.len();
    let label_px = spec.rows.iter().map(|r| r.label.chars().count()).max().unwrap_or(0) as u32 * 7 + 24;
    let height = 90 + 30 * n as u32 + 24 * spec.series.len().div_ceil(3) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH_PX, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&spec.title, ("sans-serif", 18))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(label_px.clamp(120, 380))
            // Room on the right for the legend, so it never covers a bar.
            .build_cartesian_2d(0.0..x_max * 1.6, 0.0..n as f64)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(RGBColor(238, 238, 238))
            .y_labels(0)
            .x_desc(spec.x_desc.as_str())
            .x_label_formatter(&|v| trim(*v))
            .draw()
            .map_err(chart_error)?;
        // Row labels by hand: plotters' key-point axis cannot take a label formatter on f64.
        let label_style = ("sans-serif", 13).into_font().color(&BLACK).pos(Pos::new(HPos::Right, VPos::Center));
        for (i, row) in spec.rows.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(0.0, (n - 1 - i) as f64 + 0.5));
            root.draw(&Text::new(row.label.clone(), (x - 8, y), label_style.clone())).map_err(chart_error)?;
        }
        let k = spec.series.len().max(1) as f64;
        for (s, name) in spec.series.iter().enumerate() {
            if spec.rows.iter().all(|r| r.values.get(s).copied().flatten().is_none()) {
                continue; // nothing measured for this series: no bar, no legend entry
            }
            let color = SERIES_COLORS[s % SERIES_COLORS.len()];
            let bars = spec.rows.iter().enumerate().filter_map(|(i, row)| {
                let value = row.values.get(s).copied().flatten()?;
                let y_base = (n - 1 - i) as f64;
                let start: f64 = if spec.stacked { row.values[..s].iter().flatten().sum() } else { 0.0 };
                let (y0, y1) = if spec.stacked {
                    (y_base + 0.15, y_base + 0.85)
                } else {
                    (y_base + 0.1 + 0.8 * s as f64 / k, y_base + 0.1 + 0.8 * (s + 1) as f64 / k)
                };
                Some(Rectangle::new([(start, y0), (start + value, y1)], color.filled()))
            });
            chart
                .draw_series(bars)
                .map_err(chart_error)?
                .label(name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
        }
        draw_whiskers(&mut chart, spec, x_max * 1.6)?;
        for &(x, ref label, color) in &spec.references {
            chart
                .draw_series(DashedLineSeries::new([(x, 0.0), (x, n as f64)], 6, 4, color.stroke_width(2)))
                .map_err(chart_error)?
                .label(label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        root.present().map_err(chart_error)?;
    }
    Ok(Some(svg))
}

/// Min–max whiskers across the rows that have a range (an unbounded max is drawn to `x_cap`).
fn draw_whiskers<'a, DB: DrawingBackend + 'a, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'a, DB, CT>,
    spec: &BarSpec,
    x_cap: f64,
) -> Result<()> {
    let n = spec.rows.len();
    for (i, row) in spec.rows.iter().enumerate() {
        let Some((lo, hi)) = row.range else { continue };
        let y = (n - 1 - i) as f64 + 0.5;
        let hi = hi.min(x_cap);
        let whisker = [(lo, y), (hi, y)];
        let caps = [[(lo, y - 0.2), (lo, y + 0.2)], [(hi, y - 0.2), (hi, y + 0.2)]];
        chart
            .draw_series(std::iter::once(PathElement::new(whisker.to_vec(), BLACK.stroke_width(2))))
            .map_err(chart_error)?;
        chart
            .draw_series(caps.iter().map(|c| PathElement::new(c.to_vec(), BLACK.stroke_width(2))))
            .map_err(chart_error)?;
    }
    Ok(())
}

/// The verdict at a glance: each dimension's "gRPC better by" ratio (geometric mean) with its
/// 95 % confidence interval, against the claimed 5x and parity.
pub fn verdict_chart(rows: &[super::verdict::VerdictRow], profile: crate::payload::Profile) -> Result<Option<Chart>> {
    ratio_chart("verdict", rows.iter(), format!("Times better for gRPC, every row: {profile}"))
}

/// The report's headline: the verdict chart of one profile cut to what a first look needs, in
/// table order (codec, bytes, then latency grouped by operating point from unloaded to the
/// capacity, then CPU, wire bytes and throughput): p50 and p99 at every point, no p99.9, gzip
/// rows (the table below has them).
pub fn headline_chart(rows: &[super::verdict::VerdictRow], profile: crate::payload::Profile) -> Result<Option<Chart>> {
    use super::verdict::{Dimension, RowKind};
    let keep = |r: &&super::verdict::VerdictRow| match r.kind {
        RowKind::Codec => true,
        RowKind::Load(Dimension::P999(_)) => false,
        RowKind::BodyBytes => !r.dimension.contains("gzip"),
        RowKind::Load(_) => true,
    };
    ratio_chart("headline", rows.iter().filter(keep), format!("Times better for gRPC, with 95 % intervals: {profile}"))
}

/// The x range of a ratio chart: log scale, always showing 1x and the claimed factor, widened to
/// the data but never beyond [`RATIO_AXIS_LIMITS`] (a 2-pair interval can span 10^9; its whisker
/// is then drawn to the edge with an arrow instead of flattening every other row).
pub const RATIO_AXIS_LIMITS: (f64, f64) = (0.05, 50.0);

/// A forest plot of ratios: one row per verdict row, a dot at the geometric mean, a whisker over
/// the 95 % interval, on a log axis with dashed lines at parity and at the claim. Colour says how
/// the interval reads: green above 1x (gRPC measurably better), red below (REST/JSON measurably
/// better), grey when it contains 1x.
fn ratio_chart<'a>(
    id: &str,
    rows: impl Iterator<Item = &'a super::verdict::VerdictRow>,
    title: String,
) -> Result<Option<Chart>> {
    use super::verdict::{Lean, CLAIM_FACTOR};
    let rows: Vec<(&str, super::ratio::Ratio)> = rows
        .filter_map(|r| r.ratio.map(|x| (r.dimension.as_str(), x)))
        .filter(|(_, x)| x.estimate.is_finite())
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let (lo_limit, hi_limit) = RATIO_AXIS_LIMITS;
    let finite = |v: f64| v.is_finite() && v > 0.0;
    let lo =
        rows.iter().flat_map(|(_, x)| [x.low, x.estimate]).filter(|v| finite(*v)).fold(0.5, f64::min).max(lo_limit);
    let hi = rows
        .iter()
        .flat_map(|(_, x)| [x.high, x.estimate])
        .filter(|v| finite(*v))
        .fold(CLAIM_FACTOR * 1.6, f64::max)
        .min(hi_limit);
    let n = rows.len();
    let label_px = rows.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0) as u32 * 7 + 24;
    let height = 96 + 30 * n as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH_PX, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&title, ("sans-serif", 18))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(label_px.clamp(120, 380))
            .build_cartesian_2d((lo..hi).log_scale(), 0.0..n as f64)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(RGBColor(238, 238, 238))
            .y_labels(0)
            .x_desc(
                "times better for gRPC, log scale (REST ÷ gRPC; gRPC ÷ REST for throughput); below 1x REST/JSON wins",
            )
            .x_label_formatter(&|v| format!("{}x", trim(*v)))
            .draw()
            .map_err(chart_error)?;
        let label_style = ("sans-serif", 13).into_font().color(&BLACK).pos(Pos::new(HPos::Right, VPos::Center));
        for (i, (label, _)) in rows.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(lo, (n - 1 - i) as f64 + 0.5));
            root.draw(&Text::new(label.to_string(), (x - 8, y), label_style.clone())).map_err(chart_error)?;
        }
        let references = [
            (1.0, "parity (1x)".to_string(), RGBColor(90, 90, 90)),
            (CLAIM_FACTOR, format!("the claim ({CLAIM_FACTOR}x)"), RGBColor(214, 39, 40)),
        ];
        for (i, (x, name, color)) in references.iter().enumerate() {
            chart
                .draw_series(DashedLineSeries::new([(*x, 0.0), (*x, n as f64)], 6, 4, color.stroke_width(2)))
                .map_err(chart_error)?;
            // The key sits in the top-right corner, above the plot, so it never covers a row.
            let y = 10 + 16 * i as i32;
            let x0 = WIDTH_PX as i32 - 150;
            root.draw(&PathElement::new(vec![(x0, y), (x0 + 16, y)], color.stroke_width(2))).map_err(chart_error)?;
            root.draw(&Text::new(name.clone(), (x0 + 22, y - 6), ("sans-serif", 12))).map_err(chart_error)?;
        }
        for (i, (_, r)) in rows.iter().enumerate() {
            let y = (n - 1 - i) as f64 + 0.5;
            let color = match Lean::of(r) {
                Lean::Grpc => RGBColor(44, 160, 44),
                Lean::Rest => RGBColor(214, 39, 40),
                Lean::Neither | Lean::Inconclusive => RGBColor(120, 120, 120),
            };
            let (a, b) = (r.low.max(lo), r.high.min(hi));
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(a, y), (b, y)], color.stroke_width(2))))
                .map_err(chart_error)?;
            // A cap where the interval ends on the chart, an arrow head where it runs off it.
            for (end, clipped, dir) in [(a, r.low < lo, -1.0), (b, r.high > hi, 1.0)] {
                let (px, py) = chart.backend_coord(&(end, y));
                let mark = if clipped {
                    let tip = px + (dir * 7.0) as i32;
                    PathElement::new(vec![(px, py - 5), (tip, py), (px, py + 5)], color.stroke_width(2))
                } else {
                    PathElement::new(vec![(px, py - 6), (px, py + 6)], color.stroke_width(2))
                };
                root.draw(&mark).map_err(chart_error)?;
            }
            chart
                .draw_series(std::iter::once(Circle::new((r.estimate.clamp(lo, hi), y), 5, color.filled())))
                .map_err(chart_error)?;
        }
        root.present().map_err(chart_error)?;
    }
    Ok(Some(Chart {
        id: id.into(),
        title,
        note: format!("a dot per measured row of the verdict table at the geometric mean of the paired ratios; the whisker spans its 95 % confidence interval (t-interval on the log-ratios of paired repetitions, or of interleaved batches for the codec rows); green: the interval lies above 1x, red: below 1x, grey: it contains 1x; an arrow marks an interval running past the axis ({}x–{}x)", trim(lo_limit), trim(hi_limit)),
        svg,
    }))
}

/// Draws a [`BarSpec`] as the chart `id` with its `note`; `None` when no row has a value.
fn bars(id: &str, spec: &BarSpec, note: impl Into<String>) -> Result<Option<Chart>> {
    Ok(bar_chart(spec)?.map(|svg| Chart { id: id.into(), title: spec.title.clone(), note: note.into(), svg }))
}

/// Merges the latency histograms of a point's repetitions (nanoseconds).
pub fn merged_latency(reps: &[Measurement]) -> Result<Option<Histogram<u64>>> {
    let mut merged: Option<Histogram<u64>> = None;
    for m in reps.iter().filter(|m| m.latency.count > 0) {
        let h = m.latency.histogram()?;
        match merged.as_mut() {
            None => merged = Some(h),
            Some(acc) => acc.add(&h).map_err(|e| Error::Report(format!("merge histograms: {e:?}")))?,
        }
    }
    Ok(merged)
}

/// x of the spectrum is the percentile's "nines", -log10(1 - q): 1 = 90 %, 2 = 99 %, 3 = 99.9 %.
fn nines_label(x: &f64) -> String {
    let q = 1.0 - 10f64.powf(-*x);
    let percent = format!("{:.3}", q * 100.0);
    format!("{}%", percent.trim_end_matches('0').trim_end_matches('.'))
}

/// The percentile spectrum at `load`: value at quantile, merged repetitions, one line per arm.
pub fn spectrum_chart(section: &Section<'_>, load: LoadSpec, id: &str) -> Result<Vec<Chart>> {
    let mut charts = Vec::new();
    for (i, (group, arms)) in chart_groups(section).into_iter().enumerate() {
        charts.extend(spectrum_group(section, load, &group_id(id, i), &group, &arms)?);
    }
    Ok(charts)
}

fn spectrum_group(
    section: &Section<'_>,
    load: LoadSpec,
    id: &str,
    group: &str,
    arms: &[&ArmResult],
) -> Result<Option<Chart>> {
    let mut series = Vec::new();
    let mut max_nines: f64 = 2.0;
    for arm in arms.iter().copied() {
        let Some(point) = verdict::point_at(arm, &load) else { continue };
        let Some(h) = merged_latency(&point.repetitions)? else { continue };
        // Resolution of the tail: with n calls the last meaningful quantile is about 1 - 1/n.
        let nines = (h.len() as f64).log10().clamp(1.0, 5.0);
        max_nines = max_nines.max(nines);
        let steps = (nines * 40.0) as u32;
        let line: Vec<(f64, f64)> = (0..=steps)
            .map(|i| {
                let x = nines * f64::from(i) / f64::from(steps);
                (x, h.value_at_quantile(1.0 - 10f64.powf(-x)) as f64 / 1_000.0)
            })
            .collect();
        series.push(LineSeries2 {
            label: arm_label(arm),
            color: transport_color(arm),
            segments: vec![line],
            markers: false,
        });
    }
    let corrected = if matches!(load, LoadSpec::Open { .. }) {
        "intended send time (CO-corrected)"
    } else {
        "actual send (closed loop)"
    };
    let spec = LineSpec {
        title: format!(
            "Latency percentile spectrum, {} ({}, {}, {group})",
            load.label(),
            section.profile,
            section.scenario
        ),
        x_desc: "percentile",
        y_desc: "latency (log scale)",
        x_labels: max_nines.ceil() as usize + 1,
        x_format: &nines_label,
        series,
        reference: None,
    };
    Ok(line_chart(&spec)?.map(|svg| Chart {
        id: id.into(),
        title: spec.title.clone(),
        note: format!("HDR histograms of every repetition merged per arm; latency from the {corrected}; results.json points[load={}].repetitions[].latency", load.label()),
        svg,
    }))
}

/// Latency vs throughput from the sweeps: achieved rate against corrected p99, one line per
/// repetition, with the SLO as a reference line.
pub fn throughput_chart(section: &Section<'_>) -> Result<Vec<Chart>> {
    let mut charts = Vec::new();
    for (i, (group, arms)) in chart_groups(section).into_iter().enumerate() {
        charts.extend(throughput_group(section, &group_id("latency-vs-throughput", i), &group, &arms)?);
    }
    Ok(charts)
}

fn throughput_group(section: &Section<'_>, id: &str, group: &str, arms: &[&ArmResult]) -> Result<Option<Chart>> {
    let mut series = Vec::new();
    let mut slo_us = None;
    for arm in arms.iter().copied() {
        let Some(sweep) = &arm.sweep else { continue };
        slo_us = Some(sweep.slo_p99_us);
        let segments: Vec<Vec<(f64, f64)>> = sweep
            .repetitions
            .iter()
            .map(|r| {
                // Steps are stored in the order the search ran them; the curve goes by offered rate.
                let mut points: Vec<(f64, f64, f64)> = r
                    .steps
                    .iter()
                    .filter(|m| m.accounting.ok > 0)
                    .map(|m| (m.offered_rate_per_s.unwrap_or(0.0), m.achieved_rate_per_s, m.latency.p99_us))
                    .collect();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                points.into_iter().map(|(_, achieved, p99)| (achieved, p99)).collect()
            })
            .collect();
        series.push(LineSeries2 { label: arm_label(arm), color: transport_color(arm), segments, markers: true });
    }
    let spec = LineSpec {
        title: format!("Latency vs throughput, rate sweep ({}, {}, {group})", section.profile, section.scenario),
        x_desc: "achieved rate (ok calls/s)",
        y_desc: "p99 latency, CO-corrected (log scale)",
        x_labels: 8,
        x_format: &|v| trim(*v),
        series,
        reference: slo_us.map(|s| (s, format!("SLO p99 {}", fmt_us(s)))),
    };
    Ok(line_chart(&spec)?.map(|svg| Chart {
        id: id.into(),
        title: spec.title.clone(),
        note: "one line per repetition, one point per sweep step; results.json sweep.repetitions[].steps[].{achieved_rate_per_s, latency.p99_us}".into(),
        svg,
    }))
}

fn ran<'a>(section: &'a Section<'a>) -> impl Iterator<Item = &'a ArmResult> + 'a {
    section.arms.iter().copied().filter(|a| a.status == ArmStatus::Ran)
}

fn median_some(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    Spread::of_some(values).map(|s| s.median)
}

/// Wire bytes per call at `load`, stacked by hop and direction (median of repetitions).
pub fn wire_chart(section: &Section<'_>, load: LoadSpec) -> Result<Option<Chart>> {
    let rows = ran(section)
        .filter_map(|arm| {
            let s = &verdict::point_at(arm, &load)?.summary;
            let med = |x: &Option<Spread>| x.map(|s| s.median);
            Some(BarRow {
                label: arm_label(arm),
                values: vec![
                    med(&s.client_sent_bytes_per_call),
                    med(&s.client_received_bytes_per_call),
                    med(&s.worker_sent_bytes_per_call),
                    med(&s.worker_received_bytes_per_call),
                ],
                range: None,
            })
        })
        .collect();
    let spec = BarSpec {
        title: format!("Wire bytes per call, {} ({})", load.label(), section.profile),
        x_desc: "bytes per call (L3: TCP payload + IP/TCP headers, ACKs included)".into(),
        series: ["client → server/broker", "server/broker → client", "worker → broker", "broker → worker"]
            .map(String::from)
            .to_vec(),
        rows,
        stacked: true,
        references: vec![],
    };
    bars("wire-bytes", &spec, format!("kernel TCP counters per hop, median of repetitions; results.json points[load={}].summary.*_bytes_per_call; inproc has no wire", load.label()))
}

/// CPU µs per call at `load`, stacked by role (median of repetitions).
pub fn cpu_chart(section: &Section<'_>, load: LoadSpec) -> Result<Option<Chart>> {
    let rows = ran(section)
        .filter_map(|arm| {
            let reps = &verdict::point_at(arm, &load)?.repetitions;
            let role = |f: fn(&Measurement) -> Option<f64>| median_some(reps.iter().map(f));
            Some(BarRow {
                label: arm_label(arm),
                values: vec![
                    role(|m| m.cpu.client_us_per_call),
                    role(|m| m.cpu.server_us_per_call),
                    role(|m| m.cpu.broker_us_per_call),
                    role(|m| m.cpu.unattributed_us_per_call),
                ],
                range: None,
            })
        })
        .collect();
    let spec = BarSpec {
        title: format!("CPU per call by role, {} ({})", load.label(), section.profile),
        x_desc: "CPU µs per call (user + system)".into(),
        series: ["client", "server / worker", "broker", "unattributed (main, library threads)"]
            .map(String::from)
            .to_vec(),
        rows,
        stacked: true,
        references: vec![],
    };
    bars(
        "cpu-per-call",
        &spec,
        format!("median of repetitions; results.json points[load={}].repetitions[].cpu", load.label()),
    )
}

/// Body bytes per codec, raw and gzip, request and response.
pub fn body_chart(sizes: &[SizeRow], profile: crate::payload::Profile) -> Result<Option<Chart>> {
    let mut rows = Vec::new();
    for r in sizes {
        rows.push(BarRow {
            label: format!("{} protobuf", r.message),
            values: vec![Some(r.protobuf_bytes as f64), Some(r.protobuf_gzip_bytes as f64)],
            range: None,
        });
        rows.push(BarRow {
            label: format!("{} JSON", r.message),
            values: vec![Some(r.json_bytes as f64), Some(r.json_gzip_bytes as f64)],
            range: None,
        });
    }
    let spec = BarSpec {
        title: format!("Body bytes per message ({profile})"),
        x_desc: "bytes".into(),
        series: vec!["raw".into(), "gzip -6".into()],
        rows,
        stacked: false,
        references: vec![],
    };
    bars("body-bytes", &spec, "computed with paybench::sizes::measure from the scenario's seed (payload index 0); bodies only, no framing or headers")
}

/// Codec encode and decode time per request (the run's own timing: median and range of the
/// batches); `None` when the run did not time the codecs.
pub fn codec_chart(codec: &[CodecTiming], profile: crate::payload::Profile) -> Result<Option<Chart>> {
    let mut rows = Vec::new();
    for operation in ["encode", "decode"] {
        for c in ALL_CODECS {
            let t = codec.iter().find(|t| t.profile == profile && t.operation == operation && t.codec == c.name());
            let spread = t
                .filter(|t| !t.batches_ns_per_op.is_empty())
                .map(|t| Spread::of(t.batches_ns_per_op.iter().map(|ns| ns / 1_000.0)));
            rows.push(BarRow {
                label: format!("{operation} {c}"),
                values: vec![spread.map(|s| s.median)],
                range: spread.map(|s| (s.min, s.max)),
            });
        }
    }
    if rows.iter().all(|r| r.values[0].is_none()) {
        return Ok(None);
    }
    let spec = BarSpec {
        title: format!("Codec time per request ({profile})"),
        x_desc: "µs per request (median of the run's timing batches)".into(),
        series: vec!["median".into()],
        rows,
        stacked: false,
        references: vec![],
    };
    bars(
        "codec-speed",
        &spec,
        format!("results.json codec[profile={profile}]: median of interleaved batches, whiskers min–max"),
    )
}

/// The load at which CPU is compared: the first open point (fixed rate, same for every arm),
/// else the unloaded point.
pub fn cpu_load(section: &Section<'_>) -> Option<LoadSpec> {
    verdict::open_loads(&section.loads).first().copied().or_else(|| verdict::unloaded(&section.loads))
}

/// The charts worth putting in the README: the verdict at a glance, unloaded spectrum, latency vs throughput, CPU per call.
pub fn key_charts(section: &Section<'_>, rows: &[super::verdict::VerdictRow]) -> Result<Vec<Chart>> {
    let mut charts: Vec<Chart> = verdict_chart(rows, section.profile)?.into_iter().collect();
    if let Some(l) = verdict::unloaded(&section.loads) {
        charts.extend(spectrum_chart(section, l, "spectrum-unloaded")?);
    }
    charts.extend(throughput_chart(section)?);
    if let Some(l) = cpu_load(section) {
        charts.extend(cpu_chart(section, l)?);
    }
    Ok(charts)
}

/// Every chart of a section, in the order the report shows them.
pub fn section_charts(section: &Section<'_>, sizes: &[SizeRow], codec: &[CodecTiming]) -> Result<Vec<Chart>> {
    let mut charts = Vec::new();
    if let Some(l) = verdict::unloaded(&section.loads) {
        charts.extend(spectrum_chart(section, l, "spectrum-unloaded")?);
    }
    for (i, l) in verdict::open_loads(&section.loads).into_iter().enumerate() {
        charts.extend(spectrum_chart(section, l, &format!("spectrum-open-{i}"))?);
    }
    charts.extend(throughput_chart(section)?);
    if let Some(l) = verdict::unloaded(&section.loads) {
        charts.extend(wire_chart(section, l)?);
    }
    if let Some(l) = cpu_load(section) {
        charts.extend(cpu_chart(section, l)?);
    }
    charts.extend(body_chart(sizes, section.profile)?);
    charts.extend(codec_chart(codec, section.profile)?);
    Ok(charts)
}
