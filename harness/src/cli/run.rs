//! `paybench run [SCENARIO.toml ...]`: runs load scenarios and writes `results/<run-id>/`.
//!
//! Scenario files say WHAT to run; the flags and environment here say HOW (target, broker
//! endpoints, per-family option defaults, thread counts, CPU pinning). Every scenario is parsed and validated before anything starts.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use paybench::endpoint::redact as redact_url;
use paybench::load::replay::ClientKind;
use paybench::load::runner::{self, Observer, RunContext};
use paybench::load::scenario::Scenario;
use paybench::measure::cpu::{CLIENT_THREAD_PREFIX, SERVER_THREAD_PREFIX};
use paybench::measure::env;
use paybench::payload::Profile;
use paybench::results::{ArmResult, ArmStatus, RunResults, RunSettings, SCHEMA_VERSION};
use paybench::transport::{Arm, Settings};

use super::edge::ArmEnv;
use super::pinning::{self, CpuList};

/// Arguments of `paybench run`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Scenario files (default: scenarios/quick.toml).
    scenarios: Vec<PathBuf>,
    /// Only these arms (comma-separated), by canonical name or as the scenario wrote them, e.g.
    /// `grpc,rest-h2`.
    #[arg(long, value_delimiter = ',')]
    transports: Option<Vec<String>>,
    /// Only these payload profiles (comma-separated): small, typical, large.
    #[arg(long = "profile", value_delimiter = ',')]
    profiles: Option<Vec<Profile>>,
    /// Output folder (default: results/<run-id>/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Exit with status 1 when any arm could not run (CI: every broker must be up).
    #[arg(long)]
    strict: bool,
    /// Drive an external server (`paybench serve <transport>`) at this address instead of starting
    /// one; use with one transport.
    #[arg(long)]
    target: Option<String>,
    /// pid of the external server, to report its CPU per call.
    #[arg(long)]
    server_pid: Option<u32>,
    #[command(flatten)]
    arm_env: ArmEnv,
    /// Load-generator runtime threads. One each for client and server on a 2-core machine gives
    /// each side a core instead of four threads fighting over two.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// In-process server runtime threads.
    #[arg(long, default_value_t = 1)]
    server_threads: usize,
    /// Pin client threads to these CPUs (e.g. `0` or `0-1`).
    #[arg(long)]
    client_cpus: Option<CpuList>,
    /// Pin in-process server threads to these CPUs.
    #[arg(long)]
    server_cpus: Option<CpuList>,
    /// The client: `full` (the transport's own client; the end-to-end cost) or `replay`
    /// (pre-encoded bytes on the arm's wire, like wrk and h2load; server capacity). Replay speaks
    /// the direct network arms (tcp, grpc, http families).
    #[arg(long, value_enum, default_value_t = ClientKind::FullStack)]
    client: ClientKind,
}

impl Args {
    fn settings(&self, endpoints: &paybench::brokers::Endpoints, arm_settings: &Settings) -> RunSettings {
        let client_cpus = self.client_cpus.clone().unwrap_or_default().0;
        let server_cpus = self.server_cpus.clone().unwrap_or_default().0;
        let placement = pinning::describe(
            self.target.is_some(),
            &client_cpus,
            &server_cpus,
            self.client_threads,
            self.server_threads,
        );
        RunSettings {
            target: self.target.clone(),
            brokers: endpoints.iter().map(|(k, v)| (k.clone(), redact_url(v))).collect(),
            arm_settings: arm_settings.families.clone(),
            client_threads: self.client_threads,
            server_threads: if self.target.is_some() { 0 } else { self.server_threads },
            client_cpus,
            server_cpus,
            placement,
            wire_method: "kernel TCP_INFO per socket via `ss -tinp` (bytes_acked/bytes_received + 52 B IP/TCP headers per segment), sockets to the server/broker port owned by this process or --server-pid, snapshot at window start and end".into(),
            cpu_method: "/proc/self/task/*/schedstat summed by thread name (pb-client*, pb-server*); /proc/<pid>/task/*/schedstat for --server-pid and brokers".into(),
            command_line: std::env::args().map(|a| redact_url(&a)).collect(),
        }
    }
}

struct Bars {
    bar: ProgressBar,
}

impl Bars {
    /// Prints above the bar on a terminal; without one (CI logs) the bar is hidden and indicatif
    /// drops `println`, so write the line to stderr directly.
    fn say(&self, line: String) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}

impl Observer for Bars {
    fn window_started(&self, label: &str, _expected: Duration) {
        self.bar.set_message(label.to_owned());
    }
    fn window_finished(&self, label: &str, line: &str) {
        self.say(format!("  {label}: {line}"));
        self.bar.inc(1);
    }
    fn arm_unavailable(&self, label: &str, kind: &str, message: &str) {
        self.say(format!("  {label}: UNAVAILABLE ({kind}) {message}"));
    }
}

/// A scenario with its arms resolved against the settings.
struct Planned {
    scenario: Scenario,
    arms: Vec<Arm>,
}

fn windows(s: &Scenario) -> u64 {
    let sweep_steps =
        s.sweep.map_or(0, |w| ((w.max_rate_per_s / w.start_rate_per_s).ln() / w.step_factor.ln()).floor() as u64 + 1);
    (s.transports.len() * s.profiles.len()) as u64 * u64::from(s.repetitions) * (s.load.len() as u64 + sweep_steps)
}

fn load_scenarios(args: &Args, settings: &Settings) -> anyhow::Result<Vec<Planned>> {
    let paths =
        if args.scenarios.is_empty() { vec![PathBuf::from("scenarios/quick.toml")] } else { args.scenarios.clone() };
    let mut out = Vec::new();
    for path in &paths {
        let s = Scenario::load(path)?.filtered(args.transports.as_deref(), args.profiles.as_deref());
        if s.transports.is_empty() || s.profiles.is_empty() {
            anyhow::bail!("{}: nothing left to run after --transports/--profile filters", path.display());
        }
        let arms = s.arms(settings, path)?;
        out.push(Planned { scenario: s, arms });
    }
    if args.target.is_some() && out.iter().any(|p| p.arms.len() != 1) {
        anyhow::bail!("--target drives one external server: pick its transport with --transports NAME");
    }
    Ok(out)
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let arm_settings = args.arm_env.settings()?;
    let endpoints = args.arm_env.endpoints()?;
    let planned = load_scenarios(&args, &arm_settings)?;
    let scenarios: Vec<Scenario> = planned.iter().map(|p| p.scenario.clone()).collect();
    let started_at = now_rfc3339();
    // Facts about the machine and build as the run starts (brokers are named as arms connect).
    let mut environment = env::collect(Vec::new());
    let run_id = format!(
        "{}-{}",
        started_at.replace([':', '-'], "").replace('T', "-").trim_end_matches('Z').split('.').next().unwrap_or("run"),
        scenarios[0].name
    );
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(&run_id));
    let client_rt = pinning::runtime(CLIENT_THREAD_PREFIX, args.client_threads, args.client_cpus.clone())?;
    let server_rt = match args.target {
        Some(_) => None,
        None => Some(pinning::runtime(SERVER_THREAD_PREFIX, args.server_threads, args.server_cpus.clone())?),
    };
    let ctx = RunContext {
        client: client_rt.handle().clone(),
        client_threads: args.client_threads,
        server: server_rt.as_ref().map(|rt| rt.handle().clone()),
        target: args.target.clone(),
        server_pid: args.server_pid,
        brokers: endpoints.clone(),
        client_kind: args.client,
    };
    let estimate: f64 = scenarios.iter().map(Scenario::estimated_seconds).sum();
    eprintln!(
        "paybench run {run_id}: {} scenario(s), about {estimate:.0} s of load; writing {}",
        scenarios.len(),
        out.display()
    );
    let bar = ProgressBar::new(scenarios.iter().map(windows).sum());
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} windows  {msg}")?.progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let obs = Bars { bar: bar.clone() };
    let mut arms = Vec::new();
    for Planned { scenario: s, arms: planned_arms } in &planned {
        for planned_arm in planned_arms {
            for &profile in &s.profiles {
                let arm = runner::run_arm(&ctx, s, planned_arm, profile, &obs);
                if args.target.is_some() {
                    if let ArmStatus::Unavailable { message, .. } = &arm.status {
                        bar.finish_and_clear();
                        anyhow::bail!("target unreachable: {message}");
                    }
                }
                arms.push(arm);
            }
        }
    }
    bar.finish_and_clear();
    let brokers = arms.iter().filter_map(|a| a.broker.clone()).collect();
    let results = RunResults {
        schema_version: SCHEMA_VERSION,
        run_id,
        started_at,
        finished_at: now_rfc3339(),
        environment: {
            environment.brokers = brokers;
            environment
        },
        settings: args.settings(&endpoints, &arm_settings),
        scenarios,
        arms,
    };
    results.write(&out).with_context(|| format!("write results to {}", out.display()))?;
    print!("{}", super::run_table::render(&results.arms));
    println!("\nwrote {}/results.json and results.csv", out.display());
    // Report (paybench::report): report.html and summary.md beside results.json; a report failure only warns, the run is kept.
    match paybench::report::write(&out, std::path::Path::new(paybench::report::DEFAULT_CRITERION_DIR)) {
        Ok(w) => println!("wrote {}", w.html.display()),
        Err(e) => eprintln!("report: {e}"),
    }
    let unavailable: Vec<&ArmResult> =
        results.arms.iter().filter(|a| matches!(a.status, ArmStatus::Unavailable { .. })).collect();
    if !unavailable.is_empty() {
        println!("{} arm(s) did not run (see table above and `status` in results.json)", unavailable.len());
    }
    let unbalanced = unbalanced_windows(&results.arms);
    for window in &unbalanced {
        eprintln!("paybench: accounting does not balance (scheduled, dispatched and outcomes differ): {window}");
    }
    if !unbalanced.is_empty() || (args.strict && !unavailable.is_empty()) {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Every measured window (load points and sweep steps) whose accounting does not balance, named.
/// A run's figures are only meaningful when every call is accounted for.
fn unbalanced_windows(arms: &[ArmResult]) -> Vec<String> {
    let mut bad = Vec::new();
    for arm in arms {
        let name = format!("{}/{}/{}", arm.scenario, arm.transport, arm.profile);
        for point in &arm.points {
            for m in point.repetitions.iter().filter(|m| !m.accounting.balances()) {
                bad.push(format!("{name} {} repetition {}: {:?}", point.load.label(), m.repetition, m.accounting));
            }
        }
        for run in arm.sweep.iter().flat_map(|s| &s.repetitions) {
            for m in run.steps.iter().filter(|m| !m.accounting.balances()) {
                bad.push(format!(
                    "{name} sweep repetition {} step {:?}/s: {:?}",
                    run.repetition, m.offered_rate_per_s, m.accounting
                ));
            }
        }
    }
    bad
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use paybench::load::scenario::LoadSpec;
    use paybench::payload::Profile;
    use paybench::results::{Accounting, CpuPerCall, Measurement, PointResult, PointSummary};
    use paybench::transport::Arm;

    use super::*;

    fn window(repetition: u32, accounting: Accounting) -> Measurement {
        Measurement {
            repetition,
            window_s: 1.0,
            offered_rate_per_s: None,
            sent_rate_per_s: 0.0,
            achieved_rate_per_s: 0.0,
            generator_bound: false,
            accounting,
            latency: Default::default(),
            service_time: Default::default(),
            schedule_lag: None,
            wire: None,
            cpu: CpuPerCall::default(),
        }
    }

    #[test]
    fn a_window_with_a_lost_call_is_named_and_a_balanced_one_is_not() {
        let balanced = Accounting { scheduled: Some(5), sent: 5, ok: 5, ..Default::default() };
        let lost = Accounting { ok: 4, ..balanced.clone() };
        let arm = Arm::parse("tcp").unwrap();
        let result = ArmResult {
            scenario: "unit".into(),
            transport: arm.clone(),
            codec: arm.codec().to_string(),
            options: arm.options_owned(),
            profile: Profile::Small,
            endpoint: "127.0.0.1:1".into(),
            broker: None,
            status: ArmStatus::Ran,
            points: vec![PointResult {
                load: LoadSpec::Closed { concurrency: 1 },
                repetitions: vec![window(0, balanced), window(1, lost)],
                summary: PointSummary::default(),
            }],
            sweep: None,
            client: "full-stack".into(),
        };
        let bad = unbalanced_windows(&[result]);
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(bad[0].contains("unit/tcp/small") && bad[0].contains("closed c=1"), "{bad:?}");
    }
}
