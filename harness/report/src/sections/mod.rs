//! The report's sections. A section is one file here that builds its part of the report (its
//! tables, charts and generated sentences, as a [`Part`]) and names itself once in a
//! [`Section`] constant; [`SECTIONS`] lists them in page order. `report.html`
//! ([`crate::html`]), `summary.md` ([`crate::markdown`]) and `paybench docs` render this list,
//! each in its own format, so a new section is one file and one line below.

pub mod arms;
pub mod broker_restart;
pub mod brokers;
pub mod burst;
pub mod capacities;
pub mod decomposition;
pub mod fairness;
pub mod fan_out;
pub mod figures;
pub mod generator_bound;
pub mod headline;
pub mod not_measured;
pub mod outage;
pub mod part;
pub mod protected;
pub mod replay;
pub mod run_facts;
pub mod scale_workers;
pub mod sweeps;
pub mod timelines;
pub mod unavailable;
pub mod verdict;

pub use part::{Context, Part, Scope, Section, Show};

use crate::{Error, Report, Result, Verdict};

/// Every section, in the order the page shows them: [`Scope::Top`] first, then each verdict's
/// [`Scope::Verdict`] sections, then the [`Scope::Run`] ones.
pub const SECTIONS: [Section; 20] = [
    headline::SECTION,
    verdict::SECTION,
    decomposition::SECTION,
    fairness::SECTION,
    figures::SECTION,
    arms::SECTION,
    capacities::SECTION,
    sweeps::SECTION,
    outage::SECTION,
    broker_restart::SECTION,
    burst::SECTION,
    scale_workers::SECTION,
    protected::SECTION,
    fan_out::SECTION,
    replay::SECTION,
    brokers::SECTION,
    run_facts::SECTION,
    generator_bound::SECTION,
    not_measured::SECTION,
    unavailable::SECTION,
];

/// The section with id `id`; the error lists the ids there are.
pub fn section(id: &str) -> Result<&'static Section> {
    SECTIONS.iter().find(|s| s.id == id).ok_or_else(|| {
        let ids: Vec<&str> = SECTIONS.iter().map(|s| s.id).collect();
        Error::Report(format!("no report section `{id}`; the sections are {}", ids.join(", ")))
    })
}

/// Builds section `id` of `report` (about `verdict`, for a [`Scope::Verdict`] section).
pub fn build<'a>(
    id: &str,
    report: &'a Report,
    verdicts: &'a [Verdict<'a>],
    verdict: Option<&'a Verdict<'a>>,
) -> Result<Option<Part>> {
    let section = section(id)?;
    if section.scope == Scope::Verdict && verdict.is_none() {
        return Err(Error::Report(format!("report section `{id}` is built per verdict, and none was given")));
    }
    (section.build)(&Context { report, verdicts, verdict })
}

/// The parts of every section of `scope` that `keep` selects and that has something to show, in
/// page order; an error names the section that failed.
pub fn parts<'a>(
    scope: Scope,
    keep: fn(&Section) -> bool,
    report: &'a Report,
    verdicts: &'a [Verdict<'a>],
    verdict: Option<&'a Verdict<'a>>,
) -> Result<Vec<(&'static Section, Part)>> {
    let cx = Context { report, verdicts, verdict };
    let mut parts = Vec::new();
    for s in SECTIONS.iter().filter(|s| s.scope == scope && keep(s)) {
        let built = (s.build)(&cx).map_err(|e| Error::Report(format!("section `{}`: {e}", s.id)))?;
        parts.extend(built.map(|p| (s, p)));
    }
    Ok(parts)
}

/// Every section ([`parts`]' `keep` for the page).
pub fn all(_: &Section) -> bool {
    true
}

/// The sections `summary.md` carries.
pub fn in_summary(s: &Section) -> bool {
    s.in_summary
}
