//! What this run did not measure, generated from what is absent (transports, profiles, a network,
//! TLS, I/O in the business function, codec timing, broker settings).

use super::brokers::BROKER_SETTINGS;
use super::part::{Context, Part, Scope, Section, Show};
use crate::payload::Profile;
use crate::results::ArmStatus;
use crate::{Report, Result};

/// The caveats of a run with verdicts (a run of timed experiments only has none to qualify).
pub const SECTION: Section = Section {
    id: "not-measured",
    title: "What this run did not measure",
    scope: Scope::Run,
    show: Show::Expanded,
    in_summary: true,
    build,
};

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    Ok((!cx.verdicts.is_empty()).then(|| Part::sentences(caveats(cx.report))))
}

/// What this run did not measure, generated from what is absent.
pub fn caveats(report: &Report) -> Vec<String> {
    let r = &report.results;
    let mut out = Vec::new();
    let missing: Vec<&str> = r
        .arms
        .iter()
        .filter(|a| a.status != ArmStatus::Ran)
        .map(|a| a.transport.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !missing.is_empty() {
        out.push(format!(
            "Transports without figures in this run: {} (see the arms table for why).",
            missing.join(", ")
        ));
    }
    let profiles: Vec<Profile> = r.arms.iter().map(|a| a.profile).collect();
    let absent: Vec<&str> = Profile::ALL.iter().filter(|p| !profiles.contains(p)).map(|p| p.name()).collect();
    if !absent.is_empty() {
        out.push(format!(
            "Payload profiles not run: {}; ratios can differ with payload size and shape.",
            absent.join(", ")
        ));
    }
    if r.settings.target.is_none() && r.settings.placement.contains("same host") {
        out.push("No network between hosts: every byte crossed the loopback interface, so no bandwidth limit, propagation delay or packet loss; how a real network changes the ratios is not measured here.".into());
    }
    out.push("No TLS on any arm and no HTTP compression: bodies travel as encoded (gzip sizes in the body-bytes chart are computed, not sent).".into());
    if r.scenarios.iter().any(|s| s.service_time_us == 0) {
        out.push("The payment function does no I/O (service time 0 µs): a real service's database and downstream calls are not part of these figures.".into());
    }
    if r.codec.is_empty() {
        out.push("Codec speed not timed in this run (`paybench run --codec-batches 0`, or a run from before the in-run timing).".into());
    }
    for plan in r.operating_points.iter().filter_map(|p| p.skipped.as_ref().map(|why| (p, why))) {
        out.push(format!("Operating points of {}/{}: not measured: {}.", plan.0.scenario, plan.0.profile, plan.1));
    }
    for plan in r.operating_points.iter().filter(|p| p.basis_client_bound) {
        out.push(format!(
            "Operating points of {}/{}: no search of the claim pair was server-bound, so the points are fractions of {}'s end-to-end capacity (this client on its cores with this server; a lower bound of the server's capacity), and each prints the server's measured busy share.",
            plan.scenario,
            plan.profile,
            plan.basis_arm.as_deref().unwrap_or("the basis arm")
        ));
    }
    if r.arms.iter().filter(|a| a.is_broker_arm()).any(|a| a.broker.as_ref().is_none_or(|b| b.settings.is_empty())) {
        out.push(format!(
            "Some broker arms have no recorded latency settings ({}): see the Brokers table.",
            BROKER_SETTINGS.join(", ")
        ));
    }
    if r.arms.iter().flat_map(|a| &a.points).flat_map(|p| &p.repetitions).any(|m| m.wire.is_none()) {
        out.push("Wire bytes are missing where no socket was used (inproc) or `ss` was unavailable.".into());
    }
    out.push(
        "Single client process and single server process; no load balancer, proxy or service mesh in the path.".into(),
    );
    out
}
