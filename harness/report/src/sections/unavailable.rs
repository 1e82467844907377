//! Arms that did not run, with the recorded reason.

use super::part::{Context, Part, Scope, Section, Show};
use crate::results::{ArmResult, ArmStatus};
use crate::Result;

/// The arms that did not run, when there are any.
pub const SECTION: Section = Section {
    id: "unavailable",
    title: "Arms that did not run",
    scope: Scope::Run,
    show: Show::Open,
    in_summary: false,
    build,
};

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    let lines = unavailable(&cx.report.unavailable());
    Ok((!lines.is_empty()).then(|| Part::sentences(lines)))
}

/// Arms that did not run, with the recorded reason.
pub fn unavailable(arms: &[&ArmResult]) -> Vec<String> {
    arms.iter()
        .filter_map(|a| match &a.status {
            ArmStatus::Unavailable { kind, message } => {
                Some(format!("{} / {}: {kind}: {message}", a.transport, a.profile))
            }
            ArmStatus::Ran => None,
        })
        .collect()
}
