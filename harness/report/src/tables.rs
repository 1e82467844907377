//! The report's tables as plain cells, built once and rendered by both [`super::html`] and
//! [`super::markdown`]: the verdict, the decomposition, every arm's figures, the brokers, and the
//! generated method-and-caveats list.

use super::format::{arm_label, fmt_us, reading_cell};
use super::ratio::{Ratio, Reach, SpreadSource};
use super::verdict::{self, DecompositionRow, Section, VerdictRow};
use super::{Report, Verdict};
use crate::payload::Profile;
use crate::results::{ArmResult, ArmStatus, Spread};
use crate::scenario::LoadSpec;

/// A table: header cells and rows of cells (plain text; renderers escape).
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Column titles.
    pub header: Vec<String>,
    /// Rows, each as long as `header`.
    pub rows: Vec<Vec<String>>,
}

/// Text for a missing figure.
pub const NOT_MEASURED: &str = "not measured in this run";

/// Formats a figure with its unit.
pub fn fmt_value(value: Option<f64>, unit: &str) -> String {
    match value {
        None => "—".into(),
        Some(v) if unit == "µs" => fmt_us(v),
        Some(v) if unit == "calls/s" => format!("{v:.0}/s"),
        Some(v) => format!("{v:.0} {unit}"),
    }
}

/// A ratio's 95 % interval, with its reading when it is inconclusive or shows no difference
/// (how it was computed goes to the notes: [`spread_method`]).
pub fn fmt_spread(r: &Ratio) -> String {
    let reading = if r.inconclusive() {
        " inconclusive"
    } else if r.no_measurable_difference() {
        " no measurable difference"
    } else {
        ""
    };
    format!("{}–{}{reading}", verdict::fmt_x(r.low), verdict::fmt_x(r.high))
}

/// How an interval was computed and what its samples ranged over, for the notes column (kept out
/// of the interval's own cell so that the verdict table fits a 1280-px window).
pub fn spread_method(r: &Ratio) -> String {
    let reading = if r.inconclusive() { " (inconclusive: wider than 0.5x–2x)" } else { "" };
    let source = match r.source {
        SpreadSource::Repetitions => format!(
            "t-interval, {} paired repetitions; pairs ranged {}–{}",
            r.pairs,
            verdict::fmt_x(r.min),
            verdict::fmt_x(r.max)
        ),
        SpreadSource::Batches => format!(
            "t-interval, {} interleaved timing batches; batches ranged {}–{}",
            r.pairs,
            verdict::fmt_x(r.min),
            verdict::fmt_x(r.max)
        ),
        SpreadSource::Exact => "exact (deterministic)".into(),
        SpreadSource::PooledWindows { rest, grpc } => format!(
            "cluster bootstrap over {rest} + {grpc} pooled windows; resamples ranged {}–{}",
            verdict::fmt_x(r.min),
            verdict::fmt_x(r.max)
        ),
    };
    format!("interval: {source}{reading}")
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

fn med(s: &Option<Spread>) -> Option<f64> {
    s.map(|s| s.median)
}

/// Every arm's headline figures at every point (medians of repetitions), for traceability.
pub fn arms_table(verdict: &Verdict<'_>) -> Table {
    let header = [
        "arm",
        "codec",
        "load",
        "reps",
        "ok calls/s",
        "p50",
        "p99",
        "p99.9",
        "error ratio",
        "wire B/call (req + resp, client hop)",
        "sockets (client hop, max)",
        "CPU µs/call (client + server + broker + unattributed)",
        "schedule lag p99",
        "generator floor p50 (inproc, same point)",
        "bottleneck, per repetition",
    ];
    let floor_arm = verdict.section.arm(crate::claim::GENERATOR_FLOOR);
    let mut rows = Vec::new();
    for arm in &verdict.section.arms {
        if let ArmStatus::Unavailable { kind, message } = &arm.status {
            let mut cells = vec![arm_label(arm), arm.codec.clone(), format!("did not run ({kind}): {message}")];
            cells.resize(header.len(), "—".into());
            rows.push(cells);
            continue;
        }
        for p in &arm.points {
            let s = &p.summary;
            let wire =
                med(&s.client_sent_bytes_per_call).zip(med(&s.client_received_bytes_per_call)).map(|(a, b)| a + b);
            // Every role, unattributed included, as the verdict's CPU row counts it.
            let cpu = Spread::of_some(p.repetitions.iter().map(verdict::cpu_total_us_per_call)).map(|s| s.median);
            rows.push(vec![
                arm_label(arm),
                arm.codec.clone(),
                verdict.section.describe(&p.load),
                s.repetitions.to_string(),
                format!("{:.0}", s.achieved_rate_per_s.median),
                fmt_us(s.p50_us.median),
                fmt_us(s.p99_us.median),
                if p.repetitions.iter().any(|m| m.latency.p999_low_count) {
                    format!(
                        "{} (low count: < {} calls)",
                        fmt_us(s.p999_us.median),
                        crate::results::stats::P999_MIN_COUNT
                    )
                } else {
                    fmt_us(s.p999_us.median)
                },
                format!("{:.4}", s.error_ratio.max),
                wire.map_or("—".into(), |w| format!("{w:.0}")),
                p.repetitions
                    .iter()
                    .filter_map(|m| m.wire.as_ref()?.hops.iter().find(|h| h.hop == "client").map(|h| h.sockets))
                    .max()
                    .map_or("—".into(), |n| n.to_string()),
                cpu.map_or("—".into(), |c| format!("{c:.1}")),
                Spread::of_some(p.repetitions.iter().map(|m| m.schedule_lag.as_ref().map(|l| l.p99_us)))
                    .map_or("—".into(), |l| fmt_us(l.median)),
                floor_arm
                    .and_then(|f| f.points.iter().find(|q| q.load == p.load))
                    .map_or("—".into(), |q| fmt_us(q.summary.p50_us.median)),
                p.repetitions
                    .iter()
                    .map(|m| {
                        let b = m.busy.as_ref().map_or("—", |b| b.bottleneck.as_str());
                        if m.generator_bound && b != "client" {
                            format!("{b} (lagged)")
                        } else {
                            b.to_owned()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ]);
        }
    }
    Table { header: header.map(String::from).to_vec(), rows }
}

/// What each arm was given, so that a reader can judge the comparison: the client, the placement,
/// the sockets it used at each point, its connection policy and HTTP/2 settings.
pub fn fairness_table(report: &Report, verdict: &Verdict<'_>) -> Table {
    let header = [
        "arm",
        "client",
        "pinning",
        "sockets used (client hop, max over repetitions) by load",
        "connections",
        "HTTP/2 settings",
        "TCP segments per call, unloaded (client hop: out / in)",
    ];
    let set = &report.results.settings;
    let unloaded = verdict::unloaded(&verdict.section.loads);
    let cpus = |c: &[usize]| if c.is_empty() { "unpinned".to_string() } else { format!("CPUs {c:?}") };
    let pinning = format!("client {}, server {}", cpus(&set.client_cpus), cpus(&set.server_cpus));
    let max_in_flight = report
        .results
        .scenarios
        .iter()
        .find(|s| s.name == verdict.section.scenario)
        .map_or(1, crate::scenario::Scenario::max_in_flight);
    let rows = verdict
        .section
        .arms
        .iter()
        .map(|arm| {
            let sockets: Vec<String> = arm
                .points
                .iter()
                .filter_map(|p| {
                    let n = p
                        .repetitions
                        .iter()
                        .filter_map(|m| m.wire.as_ref()?.hops.iter().find(|h| h.hop == "client").map(|h| h.sockets))
                        .max()?;
                    Some(format!("{}: {n}", verdict.section.describe(&p.load)))
                })
                .collect();
            let (connections, h2) = crate::connections::connection_policy(&arm.family, &arm.options, max_in_flight);
            vec![
                arm_label(arm),
                arm.client.clone(),
                pinning.clone(),
                if sockets.is_empty() { "—".into() } else { sockets.join("; ") },
                connections,
                h2,
                unloaded
                    .and_then(|l| verdict::segments_per_call(arm, &l))
                    .map_or("—".into(), |(out, into)| format!("{out:.1} / {into:.1}")),
            ]
        })
        .collect();
    Table { header: header.map(String::from).to_vec(), rows }
}

/// One capacity search in a cell, by what it measured ([`crate::results::CapacityReading`]):
/// `4000/s (+2 %, server 94 % busy)`, `≥ 16000/s end-to-end (client 97 % busy)`,
/// `≥ 32000/s (lower bound: no failure up to the search's maximum rate)`, or `none (even 63/s
/// failed)`. Only the first is the transport's capacity.
pub fn capacity_cell(run: &crate::results::SweepRun) -> String {
    use crate::results::CapacityReading;
    if matches!(run.stop_reason.as_str(), "slo" | "errors" | "generator_bound") {
        // Written before the search: the last step of a ×2 grid, with no resolution.
        let pass = run.max_sustainable_rate_per_s.unwrap_or(0.0);
        return format!("{pass:.0}/s (old ×2 grid, no resolution; stopped by {})", run.stop_reason);
    }
    let share = |m: Option<&crate::results::Measurement>, by: &str| {
        let busy = m.and_then(|m| m.busy.as_ref());
        let share = busy.and_then(|b| if by == "broker" { b.broker } else { b.server });
        share.map_or(String::new(), |s| format!(" {:.0} % busy", s * 100.0))
    };
    match run.reading() {
        CapacityReading::Server { rate_per_s, by } => format!(
            "{rate_per_s:.0}/s (+{:.0} %, {by}{})",
            run.resolution.unwrap_or(0.0) * 100.0,
            share(run.bracketing_failure(), &by)
        ),
        CapacityReading::EndToEnd { rate_per_s, client_share } => {
            format!("≥ {rate_per_s:.0}/s end-to-end (client {:.0} % busy: the client's limit)", client_share * 100.0)
        }
        CapacityReading::LowerBound { rate_per_s, why } => format!("≥ {rate_per_s:.0}/s (lower bound: {why})"),
        CapacityReading::Nothing => match run.first_failing_rate_per_s {
            Some(fail) => format!("none (even {fail:.0}/s failed, {})", run.bottleneck.as_deref().unwrap_or("—")),
            None => "none".into(),
        },
    }
}

/// Each arm's two capacities side by side: the server's (the replay client in a closed loop, the
/// server alone on its core: the median over the windows whose server was at least 90 % busy) and
/// the end-to-end one (the full-stack client's open-loop searches: the median over those the
/// client or the server limited). Where an arm has no such window or search, its best lower bound
/// and the reason.
pub fn capacities_table(section: &Section<'_>) -> Table {
    use crate::operating;
    use crate::results::{server_capacity_of, CapacityReading};
    let header = [
        "arm",
        "server capacity (replay client, closed loop)",
        "server busy (median)",
        "end-to-end capacity (full-stack client, open-loop search)",
        "client busy at its limit (median)",
    ];
    // Every arm with either capacity, once: the server-capacity arms first, in run order.
    let mut names: Vec<&str> = Vec::new();
    let measured = section.capacity.iter().copied().chain(section.arms.iter().copied().filter(|a| a.sweep.is_some()));
    for name in measured.map(|a| a.transport.as_str()) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let median = |v: Vec<f64>| (!v.is_empty()).then(|| Spread::of(v).median);
    let pct = |x: Option<f64>| x.map_or("—".to_owned(), |x| format!("{:.0} %", x * 100.0));
    let rows = names
        .into_iter()
        .map(|name| {
            let replay = section.capacity.iter().find(|a| a.transport.as_str() == name);
            let windows: Vec<&crate::results::Measurement> =
                replay.iter().flat_map(|a| &a.points).flat_map(|p| &p.repetitions).collect();
            let readings: Vec<CapacityReading> = windows.iter().map(|m| server_capacity_of(m)).collect();
            let server: Vec<f64> = readings.iter().filter_map(CapacityReading::server_rate).collect();
            let server_cell = match (median(server.clone()), readings.is_empty()) {
                (_, true) => NOT_MEASURED.to_owned(),
                (Some(rate), _) => format!("{rate:.0}/s ({} of {} windows server-bound)", server.len(), readings.len()),
                (None, _) => best_bound(&readings),
            };
            let server_busy = median(windows.iter().filter_map(|m| m.busy.as_ref()?.server).collect());
            let arm = section.arm(name);
            let searches: Vec<CapacityReading> = arm
                .and_then(|a| a.sweep.as_ref())
                .map_or(Vec::new(), |s| s.repetitions.iter().map(|r| r.reading()).collect());
            let end_to_end = arm.and_then(operating::end_to_end_capacity);
            let e2e_cell = match (end_to_end, searches.is_empty()) {
                (_, true) => NOT_MEASURED.to_owned(),
                (Some(rate), _) => format!(
                    "{rate:.0}/s ({} of {} searches; {} client-bound)",
                    searches.iter().filter(|r| r.end_to_end_rate().is_some()).count(),
                    searches.len(),
                    searches.iter().filter(|r| matches!(r, CapacityReading::EndToEnd { .. })).count()
                ),
                (None, _) => best_bound(&searches),
            };
            let client_busy = median(
                searches
                    .iter()
                    .filter_map(|r| match r {
                        CapacityReading::EndToEnd { client_share, .. } => Some(*client_share),
                        _ => None,
                    })
                    .collect(),
            );
            vec![name.to_owned(), server_cell, pct(server_busy), e2e_cell, pct(client_busy)]
        })
        .collect();
    Table { header: header.map(String::from).to_vec(), rows }
}

/// The cell of the reading that vouches for the highest rate (`none` when there is none): an
/// arm's best lower bound, with its reason.
fn best_bound(readings: &[crate::results::CapacityReading]) -> String {
    use crate::results::CapacityReading;
    let rate = |r: &CapacityReading| match r {
        CapacityReading::Server { rate_per_s, .. }
        | CapacityReading::EndToEnd { rate_per_s, .. }
        | CapacityReading::LowerBound { rate_per_s, .. } => *rate_per_s,
        CapacityReading::Nothing => 0.0,
    };
    readings.iter().max_by(|a, b| rate(a).total_cmp(&rate(b))).map_or("none".into(), reading_cell)
}

/// The passing step at a search's capacity rate, for the CPU and sockets it took.
fn at_capacity(r: &crate::results::SweepRun) -> Option<&crate::results::Measurement> {
    let rate = r.max_sustainable_rate_per_s?;
    r.steps
        .iter()
        .zip(&r.step_verdicts)
        .rev()
        .find_map(|(m, v)| (m.offered_rate_per_s == Some(rate) && v.ends_with("pass")).then_some(m))
}

/// Every arm's capacity searches: the highest rate meeting the SLO, how far above it the first
/// failing rate was (the resolution), and what limited it (`measure::busy`'s rule).
pub fn capacity_table(arms: &[&ArmResult]) -> Table {
    let header = [
        "arm",
        "client",
        "SLO",
        "capacity per search (resolution, bottleneck)",
        "CPU µs/call at capacity (client + server + broker)",
        "sockets at capacity",
        "steps per search",
    ];
    let rows = arms
        .iter()
        .filter_map(|arm| {
            let sweep = arm.sweep.as_ref()?;
            Some(vec![
                arm_label(arm),
                arm.client.clone(),
                format!("p99 ≤ {}", fmt_us(sweep.slo_p99_us)),
                sweep.repetitions.iter().map(capacity_cell).collect::<Vec<_>>().join("; "),
                sweep
                    .repetitions
                    .iter()
                    .map(|r| {
                        at_capacity(r)
                            .and_then(verdict::cpu_total_us_per_call)
                            .map_or("—".into(), |c| format!("{c:.1}"))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                sweep
                    .repetitions
                    .iter()
                    .map(|r| {
                        at_capacity(r)
                            .and_then(|m| m.wire.as_ref()?.hops.iter().find(|h| h.hop == "client").map(|h| h.sockets))
                            .map_or("—".into(), |n| n.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                sweep.repetitions.iter().map(|r| r.steps.len().to_string()).collect::<Vec<_>>().join(", "),
            ])
        })
        .collect();
    Table { header: header.map(String::from).to_vec(), rows }
}

/// The settings that decide a broker arm's latency (recorded in `BrokerMeta::settings`).
pub const BROKER_SETTINGS: [&str; 5] = ["durability", "acks", "linger", "fetch wait", "reply-to mode"];

/// `k=v; k=v` of a broker's recorded settings, or "not recorded" (files older than the field).
fn settings_text(broker: Option<&crate::results::BrokerMeta>) -> String {
    match broker {
        Some(b) if !b.settings.is_empty() => {
            b.settings.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
        }
        _ => "not recorded".to_string(),
    }
}

/// Broker arms: implementation, version, endpoint, and the latency-deciding settings.
pub fn brokers_table(report: &Report) -> Table {
    let header: Vec<String> =
        ["arm", "status", "implementation", "version", "endpoint", "latency settings"].map(String::from).to_vec();
    let rows = report
        .results
        .arms
        .iter()
        .filter(|a| a.is_broker_arm())
        .map(|arm| {
            let status = match &arm.status {
                ArmStatus::Ran => "ran".to_string(),
                ArmStatus::Unavailable { kind, message } => format!("did not run ({kind}): {message}"),
            };
            let broker = arm
                .broker
                .as_ref()
                .or_else(|| report.results.environment.brokers.iter().find(|b| b.transport == arm.transport));
            let mut cells = vec![format!("{} / {}", arm.transport, arm.profile), status];
            match broker {
                Some(b) => cells.extend([b.implementation.clone(), b.version.clone(), b.endpoint.clone()]),
                None => cells.extend(["not recorded".to_string(), "not recorded".into(), arm.endpoint.clone()]),
            }
            cells.push(settings_text(broker));
            cells
        })
        .collect();
    Table { header, rows }
}

/// Every window flagged generator-bound, grouped as "arm profile where: repetitions 0, 2".
pub fn generator_bound(report: &Report) -> Vec<String> {
    let mut groups: Vec<(String, Vec<u32>)> = Vec::new();
    let mut add = |key: String, rep: u32| match groups.iter_mut().find(|(k, _)| *k == key) {
        Some((_, reps)) => reps.push(rep),
        None => groups.push((key, vec![rep])),
    };
    for arm in &report.results.arms {
        for p in &arm.points {
            for m in p.repetitions.iter().filter(|m| m.generator_bound) {
                add(format!("{} {} {}", arm.transport, arm.profile, p.load.label()), m.repetition);
            }
        }
        for r in arm.sweep.iter().flat_map(|s| &s.repetitions) {
            for m in r.steps.iter().filter(|m| m.generator_bound) {
                add(
                    format!(
                        "{} {} sweep step {:.0}/s",
                        arm.transport,
                        arm.profile,
                        m.offered_rate_per_s.unwrap_or(0.0)
                    ),
                    r.repetition,
                );
            }
        }
    }
    groups
        .into_iter()
        .map(|(key, reps)| {
            format!("{key}: repetition {}", reps.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))
        })
        .collect()
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
