//! `report.html`: one self-contained page (inline CSS and SVG, no network, no script needed to
//! read it), laid out from [`sections::SECTIONS`]: at the top, the headline chart and at most
//! [`crate::verdict::HEADLINE_SENTENCES`] generated sentences; below, each verdict's table open,
//! with its other sections in collapsed `<details>`; then the run's sections. A short inline
//! script only records each chart's rendered size and position into `data-rendered-*`
//! attributes, which the browser test reads (a collapsed chart measures 0).

use std::fmt::Write as _;

use crate::charts::Chart;
use crate::sections::{self, Part, Scope, Section, Show};
use crate::tables::{self, Table};
use crate::{Report, Result, Verdict};

const CSS: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1200px; padding: 1.5em; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
h3 { margin-top: 1.5em; } .sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.88em; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } tr:nth-child(even) td { background: #fafafa; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.yes { background: #d9f2d9 !important; font-weight: bold; } td.no { background: #f8dede !important; } td.partly { background: #fff2cc !important; }
td.notes { color: #555; font-size: 0.92em; overflow-wrap: anywhere; }
figure.chart { margin: 1.2em 0; } figure.chart svg { max-width: 100%; height: auto; border: 1px solid #eee; }
figure#chart-headline { margin: 0.4em 0; } figure#chart-headline svg { max-width: 960px; }
details { margin: 0.6em 0; } summary { cursor: pointer; font-weight: 600; color: #1f4f8f; }
figcaption { color: #555; font-size: 0.88em; }
.conclusion { background: #f5f8ff; border-left: 4px solid #1f77b4; padding: 0.6em 1em; }
.missing { color: #a33; } ul.facts li { margin: 0.2em 0; }
"#;

/// Records each chart's rendered size, the widest open verdict table's and the page's width;
/// guarded so it cannot throw.
const MEASURE_SCRIPT: &str = r#"
(function () {
  try {
    var figures = document.querySelectorAll('figure.chart');
    for (var i = 0; i < figures.length; i++) {
      var svg = figures[i].querySelector('svg');
      var box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
      figures[i].setAttribute('data-rendered-w', String(Math.round(box.width)));
      figures[i].setAttribute('data-rendered-h', String(Math.round(box.height)));
      figures[i].setAttribute('data-rendered-bottom', String(Math.round(box.bottom + window.scrollY)));
    }
    document.body.setAttribute('data-measured', String(figures.length));
    var tables = document.querySelectorAll('table.verdict');
    var widest = 0;
    for (var j = 0; j < tables.length; j++) {
      widest = Math.max(widest, Math.round(tables[j].getBoundingClientRect().width));
    }
    document.body.setAttribute('data-widest-verdict-table', String(widest));
    document.body.setAttribute('data-page-w', String(document.documentElement.scrollWidth));
  } catch (e) {
    document.body.setAttribute('data-measure-error', String(e));
  }
})();
"#;

/// Escapes text for HTML content and attributes.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn table(out: &mut String, t: &Table, class: &str) {
    let _ = write!(out, "<table class=\"{class}\"><thead><tr>");
    for h in &t.header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let _ = write!(
                out,
                "<td class=\"{}\">{}</td>",
                cell_class(&t.header[i.min(t.header.len() - 1)], cell),
                escape(cell)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

/// The longest cell kept on one line as a figure.
const NUM_CELL_CHARS: usize = 24;
/// A figure is a number and at most its unit (`1.2 ms`); more words, or a note in parentheses,
/// make a phrase (`1.67 ms / 4970 ms / –`, `7395→110930→7395 (36977)`), which may wrap.
const NUM_CELL_WORDS: usize = 2;

fn cell_class(header: &str, cell: &str) -> &'static str {
    match (header, cell) {
        ("reaches 5x?", "yes") => "yes",
        ("reaches 5x?", "no") => "no",
        ("reaches 5x?", c) if c.starts_with("possibly") => "partly",
        ("source / notes", _) => "notes",
        (_, c) if c == tables::NOT_MEASURED => "missing",
        // A figure (`2.16x`, `1.2 ms`, `7013→105190→7013`) stays on one line; a phrase that
        // merely starts with one (`117044 of 701266 (5.0 s deadline)`) wraps, or a table of
        // many such columns runs past the window and squeezes its last column into a sliver.
        (_, c)
            if c.starts_with(|ch: char| ch.is_ascii_digit() || ch == '∞')
                && c.chars().count() <= NUM_CELL_CHARS
                && c.split_whitespace().count() <= NUM_CELL_WORDS
                && !c.contains('(') =>
        {
            "num"
        }
        _ => "",
    }
}

fn figure(out: &mut String, chart: &Chart) {
    let _ = write!(
        out,
        "<figure class=\"chart\" id=\"chart-{id}\" data-chart=\"{id}\">\n{svg}\n<figcaption><b>{title}.</b> {note}</figcaption></figure>\n",
        id = escape(&chart.id),
        svg = strip_xml_declaration(&chart.svg),
        title = escape(&chart.title),
        note = escape(&chart.note)
    );
}

/// plotters writes a standalone SVG document; inline in HTML the `<?xml?>` line must go.
fn strip_xml_declaration(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

fn list(out: &mut String, items: &[String]) {
    out.push_str("<ul class=\"facts\">\n");
    for item in items {
        let _ = writeln!(out, "<li>{}</li>", escape(item));
    }
    out.push_str("</ul>\n");
}

/// A section's part: its lead, tables, sentences and charts, laid out as its [`Show`] says.
/// `anchor` is its id on the page.
fn part(out: &mut String, section: &Section, part: &Part, anchor: &str) {
    let lead = |out: &mut String| {
        if let Some(lead) = &part.lead {
            let _ = writeln!(out, "<p>{}</p>", escape(lead));
        }
    };
    let tables = |out: &mut String| {
        for t in &part.tables {
            table(out, t, section.id);
        }
    };
    let figures = |out: &mut String| {
        for chart in &part.charts {
            figure(out, chart);
        }
    };
    match section.show {
        Show::Lead => {
            figures(out);
            let _ = write!(out, "<div class=\"conclusion {}\">", section.id);
            list(out, &part.sentences);
            out.push_str("</div>\n");
            lead(out);
            tables(out);
        }
        Show::Open => {
            if section.scope != Scope::Verdict {
                let _ = writeln!(out, "<h2 id=\"{anchor}\">{}</h2>", escape(section.title));
            }
            lead(out);
            tables(out);
            if !part.sentences.is_empty() {
                out.push_str("<div class=\"conclusion\">");
                list(out, &part.sentences);
                out.push_str("</div>\n");
            }
            if !part.charts.is_empty() {
                let _ = writeln!(out, "<details><summary>Charts: {}</summary>", escape(section.title));
                figures(out);
                out.push_str("</details>\n");
            }
        }
        Show::Collapsed | Show::Expanded => {
            let open = if section.show == Show::Expanded { " open" } else { "" };
            let _ = writeln!(out, "<details id=\"{anchor}\"{open}><summary>{}</summary>", escape(section.title));
            lead(out);
            tables(out);
            if !part.sentences.is_empty() {
                list(out, &part.sentences);
            }
            figures(out);
            out.push_str("</details>\n");
        }
    }
}

/// Heading of the sections below the verdicts that are not shown open.
const RUN_HEADING: &str = "Brokers, method and caveats";

/// Renders the whole page: the lead (the headline chart and at most five generated sentences), each
/// verdict's sections, then the run's, every one from [`sections::SECTIONS`].
pub fn render(report: &Report, verdicts: &[Verdict<'_>]) -> Result<String> {
    let r = &report.results;
    let mut out = String::with_capacity(1 << 20);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>paybench report {id}</title>\n<style>{CSS}</style></head>\n<body>\n<h1>paybench: is gRPC 5x faster than JSON?</h1>\n<p class=\"sub\">Run <code>{id}</code>, {cpu} ({cores} cores). Every figure comes from <code>results.json</code> in this folder or from body sizes computed from the run's seed; each table names its source.</p>\n",
        id = escape(&r.run_id),
        cpu = escape(&r.environment.cpu_model),
        cores = r.environment.cpu_cores
    );
    for (s, p) in sections::parts(Scope::Top, sections::all, report, verdicts, None)? {
        part(&mut out, s, &p, s.id);
    }
    let run = sections::parts(Scope::Run, sections::all, report, verdicts, None)?;
    out.push_str("<p>The claim: “thanks to binary encoding and network optimizations, gRPC is 5x faster than JSON” (popularised by a ByteByteGo post, Nov 2022, with no setup, payload or metric). Sections:</p>\n<ul>");
    for (i, v) in verdicts.iter().enumerate() {
        let _ = write!(
            out,
            "<li><a href=\"#verdict-{i}\">verdict: {} / {}</a></li>",
            escape(v.section.scenario),
            v.section.profile
        );
    }
    for (s, _) in &run {
        let _ = write!(out, "<li><a href=\"#{}\">{}</a></li>", s.id, escape(s.title));
    }
    out.push_str("</ul>\n");
    for (i, v) in verdicts.iter().enumerate() {
        let _ = writeln!(
            out,
            "<h2 id=\"verdict-{i}\">Scenario <code>{}</code>, profile <code>{}</code></h2>",
            escape(v.section.scenario),
            v.section.profile
        );
        for (s, p) in sections::parts(Scope::Verdict, sections::all, report, verdicts, Some(v))? {
            part(&mut out, s, &p, &format!("{}-{i}", s.id));
        }
    }
    let mut headed = false;
    for (s, p) in &run {
        if s.show != Show::Open && !headed {
            let _ = writeln!(out, "<h2>{RUN_HEADING}</h2>");
            headed = true;
        }
        part(&mut out, s, p, s.id);
    }
    let _ = write!(out, "<script>{MEASURE_SCRIPT}</script>\n</body></html>\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::cell_class;

    #[test]
    fn a_figure_stays_on_one_line_and_a_phrase_of_figures_wraps() {
        for figure in ["2.16x", "1.2 ms", "7013→105190→7013", "∞", "407 of"] {
            assert_eq!(cell_class("h", figure), "num", "{figure}");
        }
        for phrase in ["1.67 ms / 4970 ms / –", "7395→110930→7395 (36977)", "117044 of 701266 (5.0 s deadline)", "no"]
        {
            assert_eq!(cell_class("h", phrase), "", "{phrase}");
        }
    }
}
