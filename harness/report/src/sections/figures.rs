//! The charts of one scenario × profile: the verdict's ratios, the percentile spectrum, latency
//! against throughput, CPU and wire bytes per call, body bytes and codec speed.

use super::part::{Context, Part, Scope, Section, Show};
use crate::charts;
use crate::Result;

/// The charts of each scenario × profile.
pub const SECTION: Section = Section {
    id: "verdict-charts",
    title: "Charts",
    scope: Scope::Verdict,
    show: Show::Collapsed,
    in_summary: false,
    build,
};

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    let v = cx.verdict(SECTION.id)?;
    let mut figures: Vec<charts::Chart> = charts::verdict_chart(&v.rows, v.section.profile)?.into_iter().collect();
    figures.extend(charts::section_charts(&v.section, &v.sizes, &cx.report.results.codec)?);
    Ok(Some(Part { charts: figures, ..Part::default() }))
}
