//! What a section is and what it gives: the types every section file and every renderer share.
//! A leaf below the section files, so that they and [`super`]'s table of sections import it
//! without a circle.

use crate::charts::Chart;
use crate::tables::Table;
use crate::{Report, Result, Verdict};

/// How often a section appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Once, above the verdicts (the page's lead).
    Top,
    /// Once per scenario × profile verdict.
    Verdict,
    /// Once, below the verdicts.
    Run,
}

/// How `report.html` shows a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// The page's lead: charts first, then the sentences, no heading.
    Lead,
    /// Visible: its heading (none inside a verdict, whose heading is the verdict's), its text, its
    /// tables, its charts in a collapsed list.
    Open,
    /// Collapsed in a `<details>` titled by the section.
    Collapsed,
    /// A `<details>` that starts open.
    Expanded,
}

/// One part of the report: the one file that builds it names it once here, and the report,
/// `summary.md` and `paybench docs` render it from what [`Section::build`] gives.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    /// Its id: the `paybench docs` generator that shows it in the docs (where one does), and its
    /// HTML anchor and table class.
    pub id: &'static str,
    /// Its title: the `<details>` summary or the heading.
    pub title: &'static str,
    /// How often it appears.
    pub scope: Scope,
    /// How the HTML page shows it.
    pub show: Show,
    /// Whether `summary.md` (the README's source of the verdict) carries it too.
    pub in_summary: bool,
    /// Builds it, or `None` when the run has nothing for it (no outage experiment, no arm that
    /// failed to run).
    pub build: fn(&Context<'_>) -> Result<Option<Part>>,
}

/// What a section is built from: the run, and for [`Scope::Verdict`] sections the verdict.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The run.
    pub report: &'a Report,
    /// Every verdict of the run (the headline reads them all).
    pub verdicts: &'a [Verdict<'a>],
    /// The verdict a [`Scope::Verdict`] section is about.
    pub verdict: Option<&'a Verdict<'a>>,
}

impl<'a> Context<'a> {
    /// The verdict of a [`Scope::Verdict`] section; an error names the section if it was built
    /// without one.
    pub fn verdict(&self, section: &str) -> Result<&'a Verdict<'a>> {
        self.verdict
            .ok_or_else(|| crate::Error::Report(format!("report section `{section}` was built without a verdict")))
    }
}

/// What a section gives, as data: each renderer lays it out in its own format.
#[derive(Debug, Clone, Default)]
pub struct Part {
    /// One paragraph that says how to read it, in every rendering.
    pub lead: Option<String>,
    /// Generated sentences (a bulleted list).
    pub sentences: Vec<String>,
    /// Its tables.
    pub tables: Vec<Table>,
    /// Its charts (the HTML page only).
    pub charts: Vec<Chart>,
}

impl Part {
    /// A part of one table under a lead paragraph.
    pub fn table(lead: Option<&str>, table: Table) -> Self {
        Self { lead: lead.map(str::to_owned), tables: vec![table], ..Self::default() }
    }

    /// A part of sentences only.
    pub fn sentences(sentences: Vec<String>) -> Self {
        Self { sentences, ..Self::default() }
    }
}
