//! The verdict: "is gRPC 5x faster than JSON?", one row per dimension with its ratio, interval
//! and reach, and the conclusion generated from it.

use super::part::{Context, Part, Scope, Section, Show};
use crate::ratio::Reach;
use crate::tables::{fmt_spread, fmt_value, spread_method, Table, NOT_MEASURED};
use crate::verdict::{self, VerdictRow};
use crate::Result;

/// The verdict table with its conclusion, at the top of each scenario × profile.
pub const SECTION: Section =
    Section { id: "verdict", title: "Verdict", scope: Scope::Verdict, show: Show::Open, in_summary: true, build };

/// How to read the table, in every rendering.
pub const LEAD: &str = "Ratios read “how many times better gRPC/protobuf is than REST/JSON over HTTP/1.1”: the REST figure over the gRPC figure for times, bytes and CPU; gRPC over REST for throughput. Repetition i of one arm is paired with repetition i of the other (same scenario, profile and load); the ratio is the geometric mean of the paired ratios with a 95 % t-interval on their logarithms. An interval that contains 1x reads “no measurable difference” when it lies within 0.5x–2x, and “inconclusive” when it is wider; “reaches 5x” is yes only when the whole interval is at or above 5x. Operating points are fractions of the lower of the two arms' measured capacities (server-bound where both have one, else end-to-end, as each row says), and each prints the server's measured busy share.";

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    let v = cx.verdict(SECTION.id)?;
    Ok(Some(Part { sentences: v.conclusion.clone(), ..Part::table(Some(LEAD), verdict_table(&v.rows)) }))
}

/// "Is gRPC 5x faster than JSON?": one row per dimension.
pub fn verdict_table(rows: &[VerdictRow]) -> Table {
    let header = [
        "dimension",
        "offered → achieved (REST/JSON, gRPC)",
        "REST/JSON",
        "gRPC",
        "gRPC better by (geometric mean)",
        "95 % interval",
        "reaches 5x?",
        "source / notes",
    ];
    Table {
        header: header.map(String::from).to_vec(),
        rows: rows
            .iter()
            .map(|r| {
                let mut notes = vec![r.basis.clone()];
                notes.extend(r.ratio.as_ref().map(spread_method));
                notes.extend(r.flags.iter().cloned());
                let rate = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.0}/s"));
                let rates = match r.offered_per_s {
                    Some(offered) => {
                        format!("{} → {}, {}", rate(Some(offered)), rate(r.achieved_per_s.0), rate(r.achieved_per_s.1))
                    }
                    None => "—".into(),
                };
                vec![
                    r.dimension.clone(),
                    rates,
                    fmt_value(r.rest, r.unit),
                    fmt_value(r.grpc, r.unit),
                    r.ratio.map_or_else(
                        || r.not_measured.clone().unwrap_or_else(|| NOT_MEASURED.into()),
                        |x| verdict::fmt_x(x.estimate),
                    ),
                    r.ratio.as_ref().map_or_else(|| "—".into(), fmt_spread),
                    r.reach().map_or("—", Reach::label).into(),
                    notes.join("; "),
                ]
            })
            .collect(),
    }
}
