//! Operating points: open-loop rates placed at fractions of a measured capacity.
//!
//! A fixed offered rate is a different load for each arm (1000/s may be 5 % of gRPC's capacity
//! and 40 % of REST's), so a latency ratio taken there compares two operating points at once.
//! After every capacity search of a scenario has run, [`plan`] takes the lower of the claim
//! pair's capacities (REST/JSON and gRPC) and places points at the scenario's fractions of it,
//! plus the capacity itself (the highest rate both arms sustained); the CLI then measures the
//! chosen arms there, interleaved and on fresh servers like every other repetition.

use std::collections::BTreeMap;

use crate::load::scenario::{LoadSpec, Scenario};
use crate::payload::Profile;
use crate::results::{ArmResult, ArmStatus, OperatingPlan, OperatingPoint, Spread};
use crate::transport::registry::claim;

/// Name of the point at the basis capacity.
pub const AT_CAPACITY: &str = "capacity";

/// The arm's capacity for placing points: the median over the repetitions whose search the
/// client did not limit, and whether only client-limited searches were left (then the median of
/// those, a lower bound of the server's capacity). `None` when no search found a capacity.
pub fn capacity(arm: &ArmResult) -> Option<(f64, bool)> {
    if arm.status != ArmStatus::Ran {
        return None;
    }
    let runs = &arm.sweep.as_ref()?.repetitions;
    let median = |client_bound: bool| {
        let v: Vec<f64> = runs
            .iter()
            .filter(|r| (r.bottleneck.as_deref() == Some("client")) == client_bound)
            .filter_map(|r| r.max_sustainable_rate_per_s)
            .collect();
        (!v.is_empty()).then(|| Spread::of(v).median)
    };
    median(false).map(|c| (c, false)).or_else(|| median(true).map(|c| (c, true)))
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
    let mut basis: Option<(String, f64)> = None;
    let mut missing = Vec::new();
    let mut client_bound = Vec::new();
    for name in [claim::REST, claim::GRPC] {
        let arm =
            arms.iter().find(|a| a.scenario == scenario.name && a.profile == profile && a.transport.name() == name);
        match arm.and_then(|a| capacity(a)) {
            Some((c, bound)) => {
                plan.capacities_per_s.insert(name.to_owned(), c);
                if bound {
                    client_bound.push(name);
                }
                if basis.as_ref().is_none_or(|(_, b)| c < *b) {
                    basis = Some((name.to_owned(), c));
                }
            }
            None => missing.push(name),
        }
    }
    if !missing.is_empty() {
        plan.skipped = Some(format!(
            "no capacity for {} (the arm did not run, or no searched rate met the SLO), so no point can be placed",
            missing.join(" and ")
        ));
        return plan;
    }
    let Some((basis_arm, basis_rate)) = basis else { return plan };
    // The placement still happens on a client-limited capacity (a lower bound places the points
    // lower, not wrong), but the report must say the fractions are of the generator's limit.
    plan.basis_client_bound = client_bound.contains(&basis_arm.as_str());
    plan.basis_arm = Some(basis_arm);
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
        plan.points.push(OperatingPoint { name: AT_CAPACITY.into(), fraction: 1.0, rate_per_s: basis_rate.round() });
    }
    plan
}

/// The load specs of a plan's points, with their names, for the scenario's in-flight cap.
pub fn loads(plan: &OperatingPlan, max_in_flight: u32) -> Vec<(String, LoadSpec)> {
    plan.points.iter().map(|p| (p.name.clone(), LoadSpec::Open { rate_per_s: p.rate_per_s, max_in_flight })).collect()
}
