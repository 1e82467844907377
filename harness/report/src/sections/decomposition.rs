//! Format or transport? The gap between REST/JSON and gRPC decomposed into stack effects along a
//! chain of arms, each changing one thing.

use super::part::{Context, Part, Scope, Section, Show};
use crate::tables::{Table, NOT_MEASURED};
use crate::verdict::{self, DecompositionRow};
use crate::Result;

/// The decomposition table of each scenario × profile.
pub const SECTION: Section = Section {
    id: "decomposition",
    title: "Format or transport? The gap decomposed into stack effects",
    scope: Scope::Verdict,
    show: Show::Collapsed,
    in_summary: true,
    build,
};

/// How to read the table.
pub const LEAD: &str = "Each column changes one thing, and each is an effect of these implementations, not a protocol constant: hyper's HTTP/1.1 against its HTTP/2 (rest / rest-h2), axum and reqwest against tonic on the same HTTP/2 (rest-h2 / grpc-json), serde_json against prost under tonic (grpc-json / grpc). Along the chain the first three ratios multiply to the total (geometric means over the same paired repetitions); rest / rest-proto measures the format effect again under HTTP/1.1. Cells: geometric mean with its 95 % interval; above 1x the second arm is better.";

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    let v = cx.verdict(SECTION.id)?;
    Ok(Some(Part::table(Some(LEAD), decomposition_table(&v.decomposition))))
}

/// The decomposition: one row per load-run dimension, one column per factor.
pub fn decomposition_table(rows: &[DecompositionRow]) -> Table {
    let mut header = vec!["dimension".to_string()];
    header.extend(verdict::factors().iter().map(|f| f.name.to_string()));
    Table {
        header,
        rows: rows
            .iter()
            .map(|row| {
                let mut cells = vec![row.dimension.name()];
                cells.extend(row.factors.iter().map(|(_, r)| match r {
                    Some(r) => verdict::fmt_ci(r),
                    None => NOT_MEASURED.into(),
                }));
                cells
            })
            .collect(),
    }
}
