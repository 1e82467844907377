//! How the figures were taken: machine, build, placement, threads, the command, the wire and CPU
//! methods, the load model and each scenario's settings, one fact per line.

use super::part::{Context, Part, Scope, Section, Show};
use crate::scenario::LoadSpec;
use crate::{Report, Result};

/// The run's facts.
pub const SECTION: Section = Section {
    id: "run-facts",
    title: "How the figures were taken",
    scope: Scope::Run,
    show: Show::Collapsed,
    in_summary: false,
    build,
};

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    Ok(Some(Part::sentences(method(cx.report))))
}

/// Machine, placement, load model and tools, one fact per line.
pub fn method(report: &Report) -> Vec<String> {
    let env = &report.results.environment;
    let set = &report.results.settings;
    let pinned =
        |cpus: &[usize]| if cpus.is_empty() { "unpinned".to_string() } else { format!("pinned to CPUs {cpus:?}") };
    let mut out = vec![
        format!("Machine: {} ({} logical cores), kernel {}, host `{}`.", env.cpu_model, env.cpu_cores, env.kernel, env.hostname),
        format!("Build: paybench {} at git {}, {}.", env.paybench_version, env.git_commit, env.rustc_version),
        format!("Placement: {}.", set.placement),
        format!("Threads: client {} ({}), server {} ({}).", set.client_threads, pinned(&set.client_cpus), set.server_threads, pinned(&set.server_cpus)),
        format!("Run {} from {} to {}; command: `{}`.", report.results.run_id, report.results.started_at, report.results.finished_at, set.command_line.join(" ")),
        format!("Wire bytes: {}.", set.wire_method),
        format!("CPU: {}.", set.cpu_method),
        "Load model: closed loop = a fixed number of callers, each sending its next call when the last returns (latency from the actual send); open loop = a constant arrival rate with at most max_in_flight calls outstanding, latency measured from each call's intended send time, so a stalled server is charged for the calls it delayed (coordinated-omission correction, as wrk2).".into(),
    ];
    for s in &report.results.scenarios {
        let loads: Vec<String> = s.load.iter().map(LoadSpec::label).collect();
        let sweep = s.sweep.map_or("no sweep".into(), |w| {
            format!(
                "sweep from {}/s ×{} up to {}/s, SLO p99 ≤ {} ms, {} ms steps",
                w.start_rate_per_s, w.step_factor, w.max_rate_per_s, w.slo_p99_ms, w.step_duration_ms
            )
        });
        out.push(format!(
            "Scenario `{}`: {}; {} repetitions of {} ms after {} ms warm-up; points {}; {}; timeout {} ms; seed {}; service time {} µs.",
            s.name, s.description, s.repetitions, s.duration_ms, s.warmup_ms, loads.join(", "), sweep, s.timeout_ms, s.seed, s.service_time_us
        ));
    }
    out
}
