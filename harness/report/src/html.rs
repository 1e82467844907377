//! `report.html`: one self-contained page (inline CSS and SVG, no network, no script needed to
//! read it). At the top, the headline chart and at most [`verdict::HEADLINE_SENTENCES`]
//! generated sentences; below, each section's verdict table, with everything else in collapsed
//! `<details>`. A short inline script only records each chart's rendered size and position into
//! `data-rendered-*` attributes, which the browser test reads (a collapsed chart measures 0).

use std::fmt::Write as _;

use super::charts::{self, Chart};
use super::tables::{self, Table};
use super::verdict;
use super::{Report, Verdict};
use crate::Result;

const CSS: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1200px; padding: 1.5em; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
h3 { margin-top: 1.5em; } .sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.88em; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } tr:nth-child(even) td { background: #fafafa; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.yes { background: #d9f2d9 !important; font-weight: bold; } td.no { background: #f8dede !important; } td.partly { background: #fff2cc !important; }
td.notes { color: #555; font-size: 0.92em; }
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

fn cell_class(header: &str, cell: &str) -> &'static str {
    match (header, cell) {
        ("reaches 5x?", "yes") => "yes",
        ("reaches 5x?", "no") => "no",
        ("reaches 5x?", c) if c.starts_with("possibly") => "partly",
        ("source / notes", _) => "notes",
        (_, c) if c == tables::NOT_MEASURED => "missing",
        (_, c) if c.starts_with(|ch: char| ch.is_ascii_digit() || ch == '∞') => "num",
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

fn section(out: &mut String, report: &Report, v: &Verdict<'_>, index: usize) -> Result<()> {
    let (scenario, profile) = (v.section.scenario, v.section.profile);
    let _ = writeln!(
        out,
        "<h2 id=\"verdict-{index}\">Scenario <code>{}</code>, profile <code>{profile}</code></h2>",
        escape(scenario)
    );
    out.push_str("<p>Ratios read “how many times better gRPC/protobuf is than REST/JSON over HTTP/1.1”: the REST figure over the gRPC figure for times, bytes and CPU; gRPC over REST for throughput. Repetition <i>i</i> of one arm is paired with repetition <i>i</i> of the other (same scenario, profile and load); the ratio is the geometric mean of the paired ratios with a 95 % t-interval on their logarithms. An interval that contains 1x reads “no measurable difference” when it lies within 0.5x–2x, and “inconclusive” when it is wider; “reaches 5x” is <i>yes</i> only when the whole interval is at or above 5x. Operating points are fractions of the lower of the two arms' measured capacities (server-bound where both have one, else end-to-end, as each row says), and each prints the server's measured busy share.</p>\n");
    table(out, &tables::verdict_table(&v.rows), "verdict");
    out.push_str("<details><summary>Conclusion, generated from the table</summary>\n<div class=\"conclusion\">");
    list(out, &v.conclusion);
    out.push_str("</div></details>\n");
    out.push_str("<details><summary>Format or transport? The gap decomposed into stack effects</summary>\n<p>Each column changes one thing, and each is an effect of these implementations, not a protocol constant: hyper's HTTP/1.1 against its HTTP/2 (rest / rest-h2), axum and reqwest against tonic on the same HTTP/2 (rest-h2 / grpc-json), serde_json against prost under tonic (grpc-json / grpc). Along the chain the first three ratios multiply to the total (geometric means over the same paired repetitions); rest / rest-proto measures the format effect again under HTTP/1.1. Cells: geometric mean with its 95 % interval; above 1x the second arm is better.</p>\n");
    table(out, &tables::decomposition_table(&v.decomposition), "decomposition");
    out.push_str("</details>\n<details><summary>Fairness: what each arm was given</summary>\n");
    table(out, &tables::fairness_table(report, v), "fairness");
    out.push_str("</details>\n<details><summary>Charts</summary>\n");
    if let Some(chart) = charts::verdict_chart(&v.rows, profile)? {
        figure(out, &chart);
    }
    for chart in charts::section_charts(&v.section, &v.sizes, &report.results.codec)? {
        figure(out, &chart);
    }
    out.push_str("</details>\n<details><summary>Every arm's figures (medians of repetitions)</summary>\n");
    table(out, &tables::arms_table(v), "arms");
    out.push_str("</details>\n<details><summary>Capacities: the server's (replay client) and end to end (full-stack client)</summary>\n");
    table(out, &tables::capacities_table(&v.section), "capacities");
    out.push_str(
        "</details>\n<details><summary>Capacity searches: the highest offered rate that met the SLO</summary>\n",
    );
    table(out, &tables::capacity_table(&v.section.arms), "capacity");
    out.push_str("</details>\n");
    Ok(())
}

/// The outage claims table, its sentences and one timeline chart per arm.
fn outage_section(out: &mut String, report: &Report) -> Result<()> {
    let r = &report.results;
    if super::outage::experiments(r).next().is_none() {
        return Ok(());
    }
    let _ = write!(
        out,
        "<h2 id=\"outage\">Outage: {}?</h2>\n<p>Each arm's server (direct arms) or worker process (broker arms) ran as a supervised child; under an open-loop load it was frozen (SIGSTOP, then SIGCONT) or crashed (SIGKILL, then restarted). Lost = requests never answered and never failed, by idempotency-key accounting on the correlating (broker) clients; a request/response client cannot tell a lost request from a lost reply.</p>\n<div class=\"conclusion\">",
        escape(super::outage::CLAIM)
    );
    list(out, &super::outage::sentences(r));
    out.push_str("</div>\n");
    table(out, &super::outage::claims_table(r), "outage");
    out.push_str("<details><summary>Timelines, one per arm</summary>\n");
    for chart in super::outage::timeline_charts(r)? {
        figure(out, &chart);
    }
    out.push_str("</details>\n");
    Ok(())
}

/// Renders the whole page: the headline chart and at most five generated sentences at the top,
/// every section below with its details collapsed.
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
    let profiles = super::profile_verdicts(verdicts);
    if let Some(i) = verdict::headline_profile(&profiles) {
        if let Some(chart) = charts::headline_chart(&verdicts[i].rows, verdicts[i].section.profile)? {
            figure(&mut out, &chart);
        }
    }
    // A run of timed experiments only has no 5x verdict: its page starts at the experiments.
    if !verdicts.is_empty() {
        out.push_str("<div class=\"conclusion headline\">");
        list(&mut out, &verdict::headline(&profiles));
        out.push_str("</div>\n");
    }
    out.push_str("<p>The claim: “thanks to binary encoding and network optimizations, gRPC is 5x faster than JSON” (popularised by a ByteByteGo post, Nov 2022, with no setup, payload or metric). Sections:</p>\n<ul>");
    for (i, v) in verdicts.iter().enumerate() {
        let _ = write!(
            out,
            "<li><a href=\"#verdict-{i}\">verdict: {} / {}</a></li>",
            escape(v.section.scenario),
            v.section.profile
        );
    }
    out.push_str("<li><a href=\"#brokers\">brokers</a></li><li><a href=\"#method\">method and caveats</a></li></ul>\n");
    for (i, v) in verdicts.iter().enumerate() {
        section(&mut out, report, v, i)?;
    }
    outage_section(&mut out, report)?;
    out.push_str("<h2 id=\"brokers\">Brokers</h2>\n<details><summary>Broker identities and settings</summary><p>Broker arms (RabbitMQ RPC, Kafka request/reply, NATS request/reply) carry each call twice over TCP (client → broker → worker and back); their numbers are labelled with the broker's implementation and version. Settings results.json does not record are marked “not recorded”.</p>\n");
    table(&mut out, &tables::brokers_table(report), "brokers");
    out.push_str("</details>\n<h2 id=\"method\">Method and caveats</h2>\n<details><summary>How the figures were taken</summary>\n");
    list(&mut out, &tables::method(report));
    out.push_str("</details>\n<details><summary>Generator-bound measurements</summary>\n");
    let _ = writeln!(
        out,
        "<p>A window is flagged when the client was its bottleneck (busy, CPU time plus run-queue wait, for at least {:.0} % of its cores or of one thread's time), or (open loop) the p99 schedule lag exceeded {} and half the corrected p99: its figures describe the load generator, not the server.</p>",
        crate::results::busy::SATURATED_SHARE * 100.0,
        super::format::fmt_us(crate::scenario::GENERATOR_LAG_LIMIT.as_secs_f64() * 1e6)
    );
    let bound = tables::generator_bound(report);
    if bound.is_empty() {
        out.push_str("<p>None.</p>\n");
    } else {
        list(&mut out, &bound);
    }
    out.push_str("</details>\n<details open><summary>What this run did not measure</summary>\n");
    list(&mut out, &tables::caveats(report));
    out.push_str("</details>\n");
    let unavailable = tables::unavailable(&report.unavailable());
    if !unavailable.is_empty() {
        out.push_str("<h3>Arms that did not run</h3>\n");
        list(&mut out, &unavailable);
    }
    let _ = write!(out, "<script>{MEASURE_SCRIPT}</script>\n</body></html>\n");
    Ok(out)
}
