//! The steady-state experiment: a scenario's fixed load points and capacity searches, its
//! `[server_capacity]` windows and its operating points, each arm on a fresh in-process server
//! per repetition. Its plan is a list of units (one arm of one scenario in one profile, at one
//! [`Stage`]), run repetition by repetition in a shuffled order; its result is the run's `arms`,
//! `server_capacity` and `operating_points`.
//!
//! The three stages are one experiment, not three, because the verdict pairs repetition i of
//! one arm with repetition i of another: the points and the server-capacity units of every arm
//! are interleaved in one shuffled order per repetition, so that paired windows ran minutes apart
//! at most, in either order. The operating points are placed from the capacity searches just
//! run, so they follow as a second phase with its own shuffle. Timed experiments (outage) are
//! kinds of their own ([`super::KINDS`]) and run after, on supervised processes.
//!
//! | stage | what a unit runs | result |
//! |---|---|---|
//! | [`Stage::Points`] | the scenario's `[[load]]` points and `[sweep]`, with the run's client | `arms` |
//! | [`Stage::ServerCapacity`] | the replay client in a closed loop (`[server_capacity]`) | `server_capacity` |
//! | [`Stage::Operating`] | the points placed by [`operating::plan`] (`[operating_points]`) | `arms[].points`, `operating_points` |

use crate::load::operating;
use crate::load::replay::ClientKind;
use crate::load::runner::{self, Observer, RunContext};
use crate::load::scenario::{LoadSpec, Scenario};
use crate::payload::Profile;
use crate::results::{ArmResult, ArmStatus, OperatingPlan};
use crate::transport::Arm;
use crate::{Error, Result};

/// What the steady-state experiment tells its caller as it goes (a progress bar, log lines).
pub trait Progress {
    /// The observer of each window.
    fn observer(&self) -> &dyn Observer;
    /// `n` more units are planned (the operating points, once placed).
    fn more_units(&self, n: u64);
    /// One unit's repetition is done.
    fn unit_done(&self);
    /// A line worth saying (a stage skipped, and why).
    fn note(&self, line: &str);
}

/// What the steady-state experiment measured.
#[derive(Debug, Default)]
pub struct SteadyResult {
    /// Each arm × profile: its points (operating points included) and capacity searches.
    pub arms: Vec<ArmResult>,
    /// The `[server_capacity]` windows.
    pub server_capacity: Vec<ArmResult>,
    /// Where the operating points went, per scenario × profile.
    pub operating_points: Vec<OperatingPlan>,
    /// The labels of the units each repetition ran, in the order they ran (both phases).
    pub order: Vec<Vec<String>>,
}

/// The units of phase one: every arm × profile of each scenario with steady-state load, then the
/// `[server_capacity]` units (none with `target`: an external server is not the suite's to pin).
pub fn plan(planned: &[Planned], target: bool) -> Vec<Unit<'_>> {
    planned
        .iter()
        .flat_map(|p| {
            // A scenario of experiments only has no steady-state windows.
            let steady = if p.scenario.has_steady_state() { p.arms.as_slice() } else { &[] };
            steady.iter().flat_map(move |arm| {
                p.scenario
                    .profiles
                    .iter()
                    .filter(|&&profile| p.scenario.runs(arm.name(), profile))
                    .map(move |&profile| (p, arm, profile))
            })
        })
        .map(|(p, arm, profile)| Unit { scenario: &p.scenario, arm, profile, stage: Stage::Points })
        .chain(server_capacity_units(planned, target))
        .collect()
}

/// Runs both phases: phase one's units ([`plan`]) in an order shuffled per repetition from
/// `order_seed` ([`repetition_orders`]), then the operating points placed from what phase one
/// measured. With `target`, an unreachable server ends the run.
pub fn run(
    ctx: &RunContext,
    planned: &[Planned],
    order_seed: u64,
    target: bool,
    progress: &dyn Progress,
) -> Result<SteadyResult> {
    let units = plan(planned, target);
    let orders = repetition_orders(&units, order_seed);
    progress.more_units(orders.iter().map(Vec::len).sum::<usize>() as u64);
    // Repetitions interleave the arms in a shuffled order, each on a fresh server and client, so
    // that "repetition i of rest" and "repetition i of grpc" ran minutes apart at most, in either
    // order, and no arm inherits another's warm connections or leaked state.
    let by_unit = run_repetitions(ctx, &units, &orders, progress, target)?;
    let mut result = SteadyResult::default();
    for (unit, measured) in units.iter().zip(by_unit) {
        let Some(measured) = measured else { continue };
        match unit.stage {
            Stage::ServerCapacity => result.server_capacity.push(measured),
            _ => result.arms.push(measured),
        }
    }
    result.order = orders.iter().map(|o| o.iter().map(|&i| units[i].label()).collect()).collect();
    result.operating_points =
        run_operating_points(ctx, planned, &mut result.arms, order_seed, &mut result.order, progress)?;
    Ok(result)
}

/// A scenario with its arms resolved against the settings.
pub struct Planned {
    /// The scenario.
    pub scenario: Scenario,
    /// Its arms, resolved.
    pub arms: Vec<Arm>,
    /// What its `[server_capacity]` units run ([`server_capacity_scenario`]).
    capacity: Option<Scenario>,
}

impl Planned {
    /// `scenario` with its resolved `arms`.
    pub fn new(scenario: Scenario, arms: Vec<Arm>) -> Self {
        let capacity = server_capacity_scenario(&scenario);
        Self { scenario, arms, capacity }
    }
}

/// What a unit measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The scenario's fixed points and capacity searches, with the run's client.
    Points,
    /// The server's capacity: the replay client in a closed loop (`[server_capacity]`).
    ServerCapacity,
    /// Phase two: the operating points (its scenario holds them as `load`).
    Operating,
}

/// One arm of one scenario in one profile: what a repetition runs once, on a fresh server.
pub struct Unit<'a> {
    scenario: &'a Scenario,
    arm: &'a Arm,
    profile: Profile,
    stage: Stage,
}

impl Unit<'_> {
    /// Repetitions it runs ([`Scenario::repetitions_for`]).
    pub fn repetitions(&self) -> u32 {
        self.scenario.repetitions_for(self.arm.name(), self.profile)
    }

    /// `scenario/arm/profile`, and the stage when it is not the points.
    pub fn label(&self) -> String {
        let phase = match self.stage {
            Stage::Points => "",
            Stage::ServerCapacity => "/server-capacity",
            Stage::Operating => "/operating-points",
        };
        format!("{}/{}/{}{phase}", self.scenario.name, self.arm, self.profile)
    }
}

/// The `[server_capacity]` units of every scenario: each listed arm on each profile it runs.
/// None with `--target` (an external server is not the suite's to pin alone on a core).
fn server_capacity_units<'a>(planned: &'a [Planned], target: bool) -> impl Iterator<Item = Unit<'a>> + 'a {
    planned.iter().filter(move |_| !target).flat_map(|p| {
        let listed = p.scenario.server_capacity.as_ref().map(|c| c.arms.as_slice()).unwrap_or_default();
        p.capacity.iter().flat_map(move |scenario| {
            p.arms.iter().filter(|a| listed.iter().any(|n| n == a.name())).flat_map(move |arm| {
                scenario
                    .profiles
                    .iter()
                    .filter(|&&profile| scenario.runs(arm.name(), profile))
                    .map(move |&profile| Unit { scenario, arm, profile, stage: Stage::ServerCapacity })
            })
        })
    })
}

/// The scenario a `[server_capacity]` unit runs: its closed loop as the only point, no search,
/// no operating points, the scenario's repetitions.
fn server_capacity_scenario(s: &Scenario) -> Option<Scenario> {
    let spec = s.server_capacity.as_ref()?;
    Some(Scenario {
        load: vec![LoadSpec::Closed { concurrency: spec.concurrency }],
        sweep: None,
        operating_points: None,
        tails: None,
        server_capacity: None,
        ..s.clone()
    })
}

/// The order of each repetition: every unit whose scenario has that many repetitions, shuffled
/// by a generator seeded from `seed` and the repetition, so the order is random but reproducible.
pub fn repetition_orders<'a>(units: &[Unit<'a>], seed: u64) -> Vec<Vec<usize>> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let max_reps = units.iter().map(Unit::repetitions).max().unwrap_or(0);
    (0..max_reps)
        .map(|rep| {
            let mut order: Vec<usize> = (0..units.len()).filter(|&i| rep < units[i].repetitions()).collect();
            order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ u64::from(rep)));
            order
        })
        .collect()
}

/// Runs `orders[rep]` of `units` for every repetition, each unit on a fresh server and client,
/// and merges each unit's repetitions. A unit that could not start is not retried (one error, not
/// one per repetition); with `--target` an unreachable server ends the run.
fn run_repetitions(
    ctx: &RunContext,
    units: &[Unit<'_>],
    orders: &[Vec<usize>],
    obs: &dyn Progress,
    target: bool,
) -> Result<Vec<Option<ArmResult>>> {
    let mut by_unit: Vec<Option<ArmResult>> = units.iter().map(|_| None).collect();
    for (rep, order) in orders.iter().enumerate() {
        for &i in order {
            let Unit { scenario, arm, profile, stage } = units[i];
            if by_unit[i].as_ref().is_some_and(|r| r.status != ArmStatus::Ran) {
                continue;
            }
            let replay;
            let ctx = if stage == Stage::ServerCapacity && ctx.client_kind != ClientKind::Replay {
                replay = RunContext { client_kind: ClientKind::Replay, ..ctx.clone() };
                &replay
            } else {
                ctx
            };
            let result = runner::run_repetition(ctx, scenario, arm, profile, rep as u32, obs.observer());
            if target {
                if let ArmStatus::Unavailable { message, .. } = &result.status {
                    return Err(Error::Config(format!("target unreachable: {message}")));
                }
            }
            match &mut by_unit[i] {
                Some(so_far) => runner::merge_repetition(so_far, result),
                slot => *slot = Some(result),
            }
            obs.unit_done();
        }
    }
    Ok(by_unit)
}

/// Phase two of a run: for each scenario × profile with `[operating_points]`, places the points
/// from the capacity searches just run ([`operating::plan`]) and measures the chosen arms there,
/// repetition by repetition in a shuffled order (seeded apart from phase one's), each on a fresh
/// server. The points are appended to the arms' `points`, named by `operating_point`.
fn run_operating_points(
    ctx: &RunContext,
    planned: &[Planned],
    arms: &mut [ArmResult],
    order_seed: u64,
    order: &mut Vec<Vec<String>>,
    obs: &dyn Progress,
) -> Result<Vec<OperatingPlan>> {
    let mut plans = Vec::new();
    // (the phase's scenario: the points as its `load`; the arm; the profile; the points' names)
    let mut phases: Vec<(Scenario, &Arm, Profile, Vec<String>)> = Vec::new();
    for p in planned {
        let Some(spec) = &p.scenario.operating_points else { continue };
        let measured: Vec<&Arm> = p.arms.iter().filter(|a| p.scenario.at_operating_points(a.name())).collect();
        let names: Vec<String> = measured.iter().map(|a| a.name().to_owned()).collect();
        for &profile in &p.scenario.profiles {
            let all: Vec<&ArmResult> = arms.iter().collect();
            let plan = operating::plan(&p.scenario, profile, &all, &names);
            if let Some(why) = &plan.skipped {
                obs.note(&format!("{}/{profile}: operating points skipped: {why}", p.scenario.name));
            } else {
                let (point_names, loads): (Vec<String>, Vec<_>) =
                    operating::loads(&plan, spec.max_in_flight).into_iter().unzip();
                let phase = Scenario { load: loads, sweep: None, operating_points: None, ..p.scenario.clone() };
                for arm in measured.iter().copied().filter(|a| p.scenario.runs(a.name(), profile)) {
                    phases.push((phase.clone(), arm, profile, point_names.clone()));
                }
            }
            plans.push(plan);
        }
    }
    let units: Vec<Unit<'_>> = phases
        .iter()
        .map(|(scenario, arm, profile, _)| Unit { scenario, arm, profile: *profile, stage: Stage::Operating })
        .collect();
    // A seed apart from phase one's, so the two phases are not the same shuffle.
    let orders = repetition_orders(&units, !order_seed);
    obs.more_units(orders.iter().map(Vec::len).sum::<usize>() as u64);
    let results = run_repetitions(ctx, &units, &orders, obs, false)?;
    order.extend(orders.iter().map(|o| o.iter().map(|&i| units[i].label()).collect::<Vec<_>>()));
    for ((scenario, arm, profile, point_names), result) in phases.iter().zip(results) {
        let Some(result) = result else { continue };
        let Some(target) =
            arms.iter_mut().find(|a| a.scenario == scenario.name && a.transport == arm.name() && a.profile == *profile)
        else {
            continue;
        };
        if result.status != ArmStatus::Ran && target.status == ArmStatus::Ran {
            target.status = result.status.clone();
        }
        for (mut point, name) in result.points.into_iter().zip(point_names) {
            point.operating_point = Some(name.clone());
            target.points.push(point);
        }
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::registry::Registry;

    #[test]
    fn each_repetition_runs_every_unit_once_in_a_reproducible_shuffled_order() {
        let scenario = |reps: u32| {
            let text = format!(
                "name = \"u\"\ntransports = [\"grpc\"]\nprofiles = [\"small\"]\nrepetitions = {reps}\nwarmup_ms = 1\nduration_ms = 1\ntimeout_ms = 1\n[[load]]\nmodel = \"closed\"\nconcurrency = 1\n"
            );
            Scenario::parse(&text, std::path::Path::new("u.toml"), &Registry).unwrap()
        };
        let (five, two) = (scenario(5), scenario(2));
        let arms: Vec<Arm> =
            ["inproc", "sim", "tcp", "grpc", "rest", "rest-h2"].map(|n| Arm::parse(n).unwrap()).to_vec();
        let mut units: Vec<Unit<'_>> = arms
            .iter()
            .map(|arm| Unit { scenario: &five, arm, profile: Profile::Small, stage: Stage::Points })
            .collect();
        units.push(Unit { scenario: &two, arm: &arms[0], profile: Profile::Small, stage: Stage::Points });
        let orders = repetition_orders(&units, 42);
        assert_eq!(orders.len(), 5);
        for (rep, order) in orders.iter().enumerate() {
            let mut sorted = order.clone();
            sorted.sort_unstable();
            let expected: Vec<usize> = (0..units.len()).filter(|&i| rep < 2 || i < 6).collect();
            assert_eq!(sorted, expected, "repetition {rep} runs each of its units once");
        }
        assert_eq!(orders, repetition_orders(&units, 42), "the seed reproduces the order");
        assert_ne!(orders, repetition_orders(&units, 43));
        assert!(orders[2..].windows(2).any(|w| w[0] != w[1]), "repetitions are shuffled independently");
    }
}
