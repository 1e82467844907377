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
use paybench::experiment::steady::{self, Planned, SteadyResult};
use paybench::load::replay::ClientKind;
use paybench::load::runner::{Observer, RunContext};
use paybench::load::scenario::Scenario;
use paybench::measure::busy::RoleCores;
use paybench::measure::cpu::{CLIENT_THREAD_PREFIX, SERVER_THREAD_PREFIX};
use paybench::measure::env;
use paybench::payload::Profile;
use paybench::results::{ArmResult, ArmStatus, RunResults, RunSettings, SCHEMA_VERSION};
use paybench::transport::registry::{self, Registry};
use paybench::transport::Settings;

use super::edge::ArmEnv;
use paybench::load::placement::{self as pinning, allowed_cpus, default_pinning, CpuList};

/// Arguments of `paybench run`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Scenario files (default: scenarios/quick.toml).
    scenarios: Vec<PathBuf>,
    /// Only these arms (comma-separated), by canonical name or as the scenario wrote them, e.g.
    /// `grpc,rest-h2`.
    #[arg(long, value_delimiter = ',')]
    transports: Option<Vec<String>>,
    /// Only these payload profiles of the scenario's own list (comma-separated): sizes small,
    /// typical, large; shapes numeric, nested.
    #[arg(long = "profile", value_delimiter = ',')]
    profiles: Option<Vec<Profile>>,
    /// Output folder (default: results/<run-id>/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Exit with status 1 when any arm could not run (CI: every broker must be up), or when a window
    /// stayed contaminated by foreign CPU through every re-run.
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
    /// Pin client threads to these CPUs (e.g. `0` or `0-1`). Default on a machine with 2 or more
    /// cores: the first half of the CPUs this process may use (see `--no-pin`).
    #[arg(long)]
    client_cpus: Option<CpuList>,
    /// Pin in-process server threads to these CPUs. Default: the second half.
    #[arg(long)]
    server_cpus: Option<CpuList>,
    /// Seed of the shuffled arm order within each repetition (default: from the clock; recorded in
    /// results either way, so any run's order can be repeated).
    #[arg(long)]
    order_seed: Option<u64>,
    /// Leave client and server unpinned (they then share every core, and the results say so).
    #[arg(long, conflicts_with_all = ["client_cpus", "server_cpus"])]
    no_pin: bool,
    /// The client: `full` (the transport's own client; the end-to-end cost) or `replay`
    /// (pre-encoded bytes on the arm's wire, like wrk and h2load; server capacity). Replay speaks
    /// the direct network arms (tcp, grpc, http families).
    #[arg(long, value_enum, default_value_t = ClientKind::FullStack)]
    client: ClientKind,
    /// Interleaved batches of the in-run codec timing (encode and decode of each profile's body,
    /// on the client's cores, before any load); 0 skips it and the verdict's codec rows.
    #[arg(long, default_value_t = paybench::measure::codec::DEFAULT_BATCHES)]
    codec_batches: usize,
}

impl Args {
    fn settings(
        &self,
        endpoints: &paybench::brokers::Endpoints,
        arm_settings: &Settings,
        namespace: &str,
    ) -> RunSettings {
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
            namespace: namespace.to_owned(),
            order_seed: None,
            order: Vec::new(),
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

impl steady::Progress for Bars {
    fn observer(&self) -> &dyn Observer {
        self
    }
    fn more_units(&self, n: u64) {
        self.bar.inc_length(n);
    }
    fn unit_done(&self) {
        self.bar.inc(1);
    }
    fn note(&self, line: &str) {
        self.say(line.to_owned());
    }
}

impl Observer for Bars {
    fn window_started(&self, label: &str, _expected: Duration) {
        self.bar.set_message(label.to_owned());
    }
    fn window_finished(&self, label: &str, line: &str) {
        self.say(format!("  {label}: {line}"));
    }
    fn arm_unavailable(&self, label: &str, kind: &str, message: &str) {
        self.say(format!("  {label}: UNAVAILABLE ({kind}) {message}"));
    }
}

fn load_scenarios(args: &Args, settings: &Settings) -> anyhow::Result<Vec<Planned>> {
    let paths =
        if args.scenarios.is_empty() { vec![PathBuf::from("scenarios/quick.toml")] } else { args.scenarios.clone() };
    let mut out = Vec::new();
    for path in &paths {
        let s =
            Scenario::load(path, &Registry)?.filtered(args.transports.as_deref(), args.profiles.as_deref(), &Registry);
        if s.transports.is_empty() || s.profiles.is_empty() {
            anyhow::bail!("{}: nothing left to run after --transports/--profile filters", path.display());
        }
        let arms = registry::scenario_arms(&s, settings, path)?;
        for (i, experiment) in s.experiments.iter().enumerate() {
            paybench::experiment::check(experiment, path, i)?;
        }
        if let Some(spec) = &s.server_capacity {
            for arm in arms.iter().filter(|a| spec.arms.iter().any(|n| n == a.name())) {
                paybench::load::replay::supports(arm)
                    .with_context(|| format!("{}: server_capacity.arms", path.display()))?;
            }
        }
        out.push(Planned::new(s, arms));
    }
    if args.target.is_some() && out.iter().any(|p| p.arms.len() != 1) {
        anyhow::bail!("--target drives one external server: pick its transport with --transports NAME");
    }
    Ok(out)
}

pub(crate) fn run(mut args: Args) -> anyhow::Result<ExitCode> {
    let arm_settings = args.arm_env.settings()?;
    let endpoints = args.arm_env.endpoints()?;
    let namespace = args.arm_env.namespace()?;
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
    let allowed = allowed_cpus();
    if !args.no_pin && args.client_cpus.is_none() && args.server_cpus.is_none() {
        if let Some((client, server)) = default_pinning(&allowed, args.target.is_some()) {
            (args.client_cpus, args.server_cpus) = (Some(client), Some(server));
        }
    }
    let cores = |pinned: &Option<CpuList>| pinned.as_ref().map_or(allowed.len(), |c| c.0.len()).max(1);
    let client_rt = pinning::runtime(CLIENT_THREAD_PREFIX, args.client_threads, args.client_cpus.clone())?;
    let server_rt = match args.target {
        Some(_) => None,
        None => Some(pinning::runtime(SERVER_THREAD_PREFIX, args.server_threads, args.server_cpus.clone())?),
    };
    let ctx = RunContext {
        client: client_rt.handle().clone(),
        cores: RoleCores { client: cores(&args.client_cpus), server: cores(&args.server_cpus), broker: allowed.len() },
        server: server_rt.as_ref().map(|rt| rt.handle().clone()),
        target: args.target.clone(),
        server_pid: args.server_pid,
        brokers: endpoints.clone(),
        client_kind: args.client,
        namespace: namespace.clone(),
    };
    let codec = time_codecs(&args, &client_rt, &scenarios)?;
    let estimate: f64 = scenarios.iter().map(Scenario::estimated_seconds).sum();
    eprintln!(
        "paybench run {run_id}: {} scenario(s), about {estimate:.0} s of load; writing {}",
        scenarios.len(),
        out.display()
    );
    let order_seed = args.order_seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
    });
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} arm repetitions  {msg}")?
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let obs = Bars { bar: bar.clone() };
    let steady = steady::run(&ctx, &planned, order_seed, args.target.is_some(), &obs);
    bar.finish_and_clear();
    let SteadyResult { arms, server_capacity, operating_points, order } = steady?;
    let experiments = run_experiments(&args, &planned, &client_rt, &endpoints, &namespace, &out)?;
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
        settings: RunSettings {
            order_seed: Some(order_seed),
            order,
            ..args.settings(&endpoints, &arm_settings, &namespace)
        },
        scenarios,
        arms,
        server_capacity,
        operating_points,
        codec,
        experiments,
    };
    results.write(&out).with_context(|| format!("write results to {}", out.display()))?;
    print!("{}", super::run_table::render(&results.arms));
    println!("\nwrote {}/results.json and results.csv", out.display());
    // Report (paybench::report): report.html and summary.md beside results.json; a report failure only warns, the run is kept.
    match paybench::report::write(&out) {
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
    let contaminated = contaminated_windows(&results.arms);
    for window in &contaminated {
        eprintln!("paybench: contaminated (something outside the suite used the CPU beside it): {window}");
    }
    let experiment_problems = paybench::experiment::problems(&results.experiments);
    for problem in &experiment_problems {
        eprintln!("paybench: experiment: {problem}");
    }
    if !unbalanced.is_empty()
        || (args.strict && (!unavailable.is_empty() || !contaminated.is_empty() || !experiment_problems.is_empty()))
    {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs every scenario's `[[experiment]]`s, each arm on a supervised `paybench serve` child
/// pinned to the server's CPUs, the client on the client runtime.
fn run_experiments(
    args: &Args,
    planned: &[Planned],
    client_rt: &tokio::runtime::Runtime,
    endpoints: &paybench::brokers::Endpoints,
    namespace: &str,
    out: &std::path::Path,
) -> anyhow::Result<Vec<paybench::results::experiment::ExperimentResult>> {
    let mut results = Vec::new();
    if planned.iter().all(|p| p.scenario.experiments.is_empty()) {
        return Ok(results);
    }
    if args.target.is_some() {
        anyhow::bail!("experiments start and stop their own servers: run them without --target");
    }
    // Each arm's server gets a namespace of its own (`experiment::arm_namespace`), so none here.
    let mut serve_args = args.arm_env.serve_args("");
    if let Some(cpus) = &args.server_cpus {
        let list: Vec<String> = cpus.0.iter().map(usize::to_string).collect();
        serve_args.extend(["--cpus".to_owned(), list.join(",")]);
    }
    for p in planned {
        let ctx = paybench::experiment::ExperimentContext {
            client: client_rt.handle().clone(),
            serve_program: std::env::current_exe().context("the paybench binary's path")?,
            serve_args: serve_args.clone(),
            service_time_us: p.scenario.service_time_us,
            service_busy_us: p.scenario.service_busy_us,
            brokers: endpoints.clone(),
            namespace: namespace.to_owned(),
            log_dir: paybench::experiment::log_dir(out),
            scenario_timeout_ms: p.scenario.timeout_ms,
            seed: p.scenario.seed,
        };
        for spec in &p.scenario.experiments {
            results.push(paybench::experiment::run(&ctx, &p.scenario.name, spec, &p.arms, &Lines)?);
        }
    }
    Ok(results)
}

/// Experiment progress, one line each on stderr.
struct Lines;

impl paybench::experiment::Progress for Lines {
    fn line(&self, text: &str) {
        eprintln!("{text}");
    }
}

/// The in-run codec timing of every profile the scenarios run, on a blocking thread of the
/// (pinned) client runtime, before any load.
fn time_codecs(
    args: &Args,
    client_rt: &tokio::runtime::Runtime,
    scenarios: &[Scenario],
) -> anyhow::Result<Vec<paybench::measure::codec::CodecTiming>> {
    if args.codec_batches == 0 || args.target.is_some() {
        return Ok(Vec::new());
    }
    let mut profiles: Vec<Profile> = scenarios.iter().flat_map(|s| s.profiles.iter().copied()).collect();
    profiles.sort();
    profiles.dedup();
    let seed = scenarios[0].seed;
    let batches = args.codec_batches;
    eprintln!("timing encode/decode of {} profile(s), {batches} interleaved batches each", profiles.len());
    let timed = client_rt
        .block_on(client_rt.spawn_blocking(move || paybench::measure::codec::measure(&profiles, seed, batches)))
        .context("codec timing thread")?;
    timed.context("codec timing")
}

/// Every measured window (load points and sweep steps) whose accounting does not balance, named.
/// A run's figures are only meaningful when every call is accounted for.
fn unbalanced_windows(arms: &[ArmResult]) -> Vec<String> {
    flagged_windows(arms, |m| (!m.accounting.balances()).then(|| format!("{:?}", m.accounting)))
}

/// Windows that stayed contaminated through every try (`runner::CONTAMINATED_TRIES`).
fn contaminated_windows(arms: &[ArmResult]) -> Vec<String> {
    flagged_windows(arms, |m| {
        m.contaminated.then(|| {
            let foreign = m.busy.as_ref().and_then(|b| b.foreign_cores).unwrap_or_default();
            format!("{foreign:.2} foreign cores after {} tries", m.contaminated_reruns + 1)
        })
    })
}

/// Every window (points and capacity-search steps) for which `why` says something, named.
fn flagged_windows(arms: &[ArmResult], why: impl Fn(&paybench::results::Measurement) -> Option<String>) -> Vec<String> {
    let mut bad = Vec::new();
    for arm in arms {
        let name = format!("{}/{}/{}", arm.scenario, arm.transport, arm.profile);
        for point in &arm.points {
            for m in &point.repetitions {
                if let Some(why) = why(m) {
                    bad.push(format!("{name} {} repetition {}: {why}", point.load.label(), m.repetition));
                }
            }
        }
        for run in arm.sweep.iter().flat_map(|s| &s.repetitions) {
            for m in &run.steps {
                if let Some(why) = why(m) {
                    bad.push(format!(
                        "{name} sweep repetition {} step {:?}/s: {why}",
                        run.repetition, m.offered_rate_per_s
                    ));
                }
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
    use paybench::load::runner;
    use paybench::load::scenario::LoadSpec;
    use paybench::payload::Profile;
    use paybench::results::{Accounting, Measurement, PointResult, PointSummary};
    use paybench::transport::Arm;

    use super::*;

    fn window(repetition: u32, accounting: Accounting) -> Measurement {
        Measurement::unmeasured(repetition, accounting)
    }

    #[test]
    fn a_window_with_a_lost_call_is_named_and_a_balanced_one_is_not() {
        let balanced = Accounting { scheduled: Some(5), sent: 5, ok: 5, ..Default::default() };
        let lost = Accounting { ok: 4, ..balanced.clone() };
        let arm = Arm::parse("tcp").unwrap();
        let result = ArmResult {
            endpoint: "127.0.0.1:1".into(),
            points: vec![PointResult {
                load: LoadSpec::Closed { concurrency: 1 },
                operating_point: None,
                repetitions: vec![window(0, balanced), window(1, lost)],
                summary: PointSummary::default(),
            }],
            ..runner::arm_result("unit", &arm, Profile::Small, ClientKind::FullStack)
        };
        let bad = unbalanced_windows(&[result]);
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(bad[0].contains("unit/tcp/small") && bad[0].contains("closed c=1"), "{bad:?}");
    }
}
