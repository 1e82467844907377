//! Operating points: open-loop rates placed at fractions of a measured capacity.
//!
//! A fixed offered rate is a different load for each arm (1000/s may be 5 % of gRPC's capacity
//! and 40 % of REST's), so a latency ratio taken there compares two operating points at once.
//! After every capacity search of a scenario has run, [`plan`] takes the lower of the claim
//! pair's capacities (REST/JSON and gRPC) and places points at the scenario's fractions of it,
//! plus the basis capacity itself; the CLI then measures the chosen arms there, interleaved and on
//! fresh servers like every other repetition.
//!
//! The basis is the pair's server capacities when both arms have one (a search whose bracketing
//! failure found the server at least 90 % busy: [`CapacityReading::Server`]). Otherwise it is
//! their end-to-end capacities (the client limited the search: this client on its cores with
//! this server), and the plan says so (`basis_client_bound`). A search that ended for any other
//! reason (nothing saturated, foreign CPU, a lagging generator, no failure up to the maximum)
//! is a lower bound and never a basis.

use std::collections::BTreeMap;

use crate::claim;
use crate::payload::Profile;
use crate::results::{ArmResult, ArmStatus, CapacityReading, OperatingPlan, OperatingPoint, Spread, SweepRun};
use crate::scenario::{LoadSpec, Scenario};

/// Name of the point at a server-bound basis capacity (the server was at least 90 % busy there).
pub const AT_CAPACITY: &str = "capacity";
/// Name of the point at an end-to-end basis capacity (the client limited every search).
pub const AT_END_TO_END_CAPACITY: &str = "end-to-end capacity";

fn searches(arm: &ArmResult) -> impl Iterator<Item = CapacityReading> + '_ {
    let runs = arm.sweep.as_ref().filter(|_| arm.status == ArmStatus::Ran).map(|s| s.repetitions.as_slice());
    runs.unwrap_or_default().iter().map(SweepRun::reading)
}

/// The median of `pick` over the arm's searches that have it; `None` when none has.
fn median_rate(arm: &ArmResult, pick: fn(&CapacityReading) -> Option<f64>) -> Option<f64> {
    let v: Vec<f64> = searches(arm).filter_map(|r| pick(&r)).collect();
    (!v.is_empty()).then(|| Spread::of(v).median)
}

/// The arm's server capacity: the median over its server-bound searches (see
/// [`CapacityReading`]); `None` when none was.
pub fn server_capacity(arm: &ArmResult) -> Option<f64> {
    median_rate(arm, CapacityReading::server_rate)
}

/// The arm's end-to-end capacity (this client on its cores with this server): the median over
/// the searches that saturated the client or the server; `None` when none did.
pub fn end_to_end_capacity(arm: &ArmResult) -> Option<f64> {
    median_rate(arm, CapacityReading::end_to_end_rate)
}

/// The searches that gave only a lower bound, each as `≥ N/s (why)`.
pub fn lower_bounds(arm: &ArmResult) -> Vec<String> {
    searches(arm)
        .filter_map(|r| match r {
            CapacityReading::LowerBound { rate_per_s, why } => Some(format!("≥ {rate_per_s:.0}/s ({why})")),
            CapacityReading::Nothing => Some("none (even the lowest rate tried failed)".into()),
            _ => None,
        })
        .collect()
}

/// The operating points of `scenario` × `profile`, from the arms' capacity searches (`arms` may
/// hold every arm of the run; only this scenario and profile's are read).
pub fn plan(scenario: &Scenario, profile: Profile, arms: &[&ArmResult], measured: &[String]) -> OperatingPlan {
    let mut plan = OperatingPlan {
        scenario: scenario.name.clone(),
        profile,
        basis_arm: None,
        basis_rate_per_s: None,
        capacities_per_s: BTreeMap::new(),
        points: Vec::new(),
        arms: measured.to_vec(),
        skipped: None,
        basis_client_bound: false,
    };
    let Some(spec) = &scenario.operating_points else {
        plan.skipped = Some("the scenario has no [operating_points]".into());
        return plan;
    };
    let pair: Vec<(&str, Option<&&ArmResult>)> = [claim::REST, claim::GRPC]
        .into_iter()
        .map(|name| {
            let arm = arms.iter().find(|a| a.scenario == scenario.name && a.profile == profile && a.transport == name);
            (name, arm)
        })
        .collect();
    // Server capacities when both arms have one; else both end-to-end (the client limited a
    // search), labelled so; never a lower bound.
    let chosen: Option<(bool, Vec<(&str, f64)>)> =
        [(false, server_capacity as fn(&ArmResult) -> Option<f64>), (true, end_to_end_capacity)].into_iter().find_map(
            |(end_to_end, capacity)| {
                let caps: Option<Vec<_>> = pair.iter().map(|(name, arm)| Some((*name, capacity((*arm)?)?))).collect();
                Some((end_to_end, caps?))
            },
        );
    let Some((end_to_end, caps)) = chosen else {
        let why: Vec<String> = pair
            .iter()
            .filter(|(_, arm)| arm.and_then(|a| end_to_end_capacity(a)).is_none())
            .map(|(name, arm)| match arm {
                None => format!("{name} did not run"),
                Some(a) => {
                    let bounds = lower_bounds(a);
                    if bounds.is_empty() {
                        format!("{name} has no capacity search")
                    } else {
                        format!("{name} measured only lower bounds: {}", bounds.join("; "))
                    }
                }
            })
            .collect();
        plan.skipped = Some(format!("no capacity to place points on ({})", why.join("; ")));
        return plan;
    };
    for (name, c) in &caps {
        plan.capacities_per_s.insert((*name).to_owned(), *c);
    }
    let Some((basis_arm, basis_rate)) = caps.into_iter().min_by(|a, b| a.1.total_cmp(&b.1)) else { return plan };
    // An end-to-end basis places the points as fractions of what this client reaches with this
    // server; the report says so beside every such point.
    plan.basis_client_bound = end_to_end;
    plan.basis_arm = Some(basis_arm.to_owned());
    plan.basis_rate_per_s = Some(basis_rate);
    let mut fractions = spec.fractions.clone();
    fractions.sort_by(f64::total_cmp);
    fractions.dedup();
    for f in fractions {
        plan.points.push(OperatingPoint {
            name: format!("{:.0} %", f * 100.0),
            fraction: f,
            rate_per_s: (f * basis_rate).round().max(1.0),
        });
    }
    if spec.at_capacity {
        let name = if end_to_end { AT_END_TO_END_CAPACITY } else { AT_CAPACITY };
        plan.points.push(OperatingPoint { name: name.into(), fraction: 1.0, rate_per_s: basis_rate.round() });
    }
    plan
}

/// The load specs of a plan's points, with their names, for the scenario's in-flight cap.
pub fn loads(plan: &OperatingPlan, max_in_flight: u32) -> Vec<(String, LoadSpec)> {
    plan.points.iter().map(|p| (p.name.clone(), LoadSpec::Open { rate_per_s: p.rate_per_s, max_in_flight })).collect()
}
