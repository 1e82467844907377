//! The page's lead: the headline chart (each dimension's ratio with its interval, for the headline
//! profile) and at most [`crate::verdict::HEADLINE_SENTENCES`] sentences generated from every
//! verdict of the run.

use super::part::{Context, Part, Scope, Section, Show};
use crate::charts;
use crate::verdict;
use crate::Result;

/// The headline of a run with verdicts.
pub const SECTION: Section = Section {
    id: "headline",
    title: "The answer in five sentences",
    scope: Scope::Top,
    show: Show::Lead,
    in_summary: true,
    build,
};

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    // A run of timed experiments only has no 5x verdict: its page starts at the experiments.
    if cx.verdicts.is_empty() {
        return Ok(None);
    }
    let profiles = crate::profile_verdicts(cx.verdicts);
    let chart = match crate::headline_verdict(cx.verdicts) {
        Some(v) => charts::headline_chart(&v.rows, v.section.profile)?,
        None => None,
    };
    Ok(Some(Part { charts: chart.into_iter().collect(), ..Part::sentences(verdict::headline(&profiles)) }))
}
