//! Unit tests of the verdict logic on constructed results: ratio direction, pairing by
//! repetition, the "reaches 5x" decision, missing data, the decomposition, and a full render.

use super::ratio::{self, paired_ratio, Direction, Reach};
use super::verdict::{self, Dimension, Section};
use crate::payload::Profile;
use crate::results::stats::new_histogram;
use crate::results::*;
use crate::scenario::{LoadSpec, Scenario, SweepSpec};
use paybench_model::arm_request::ArmRequest;
use std::collections::BTreeMap;

/// Canonical names of the standard arms (`paybench` crate's `registry::standard_arms` when this
/// was written; the report only needs a realistic mix of direct and broker arms).
pub(crate) const STANDARD_ARMS: [&str; 14] = [
    "inproc",
    "sim",
    "tcp",
    "grpc",
    "grpc-json",
    "rest",
    "rest-h2",
    "rest-proto",
    "amqp",
    "amqp-json",
    "kafka",
    "kafka-json",
    "nats",
    "nats-json",
];

/// What a run records of the arm called `name` (one of the names these tests use): its family and
/// broker (the schema-2 table reads them off the name), codec and the options the name spells.
fn record(name: &str) -> (String, Option<String>, String, BTreeMap<String, String>) {
    let stem = name.split('-').next().unwrap();
    let (_, family, broker) = SCHEMA_2_FAMILIES.iter().find(|(s, _, _)| *s == stem).expect("a known stem");
    let tokens: Vec<&str> = name.split('-').skip(1).collect();
    let json = tokens.contains(&"json") || (*family == "http" && !tokens.contains(&"proto"));
    let mut options = BTreeMap::new();
    for token in &tokens {
        if let Some(n) = token.strip_prefix("ch") {
            options.insert("channels".to_owned(), n.to_owned());
        } else if let Some(v) = token.strip_prefix('h') {
            options.insert("http".to_owned(), v.to_owned());
        } else if *token == "durable" {
            options.insert("durable".to_owned(), "true".to_owned());
        }
    }
    let codec = if json { "json" } else { "protobuf" };
    ((*family).to_owned(), broker.map(str::to_owned), codec.to_owned(), options)
}

const C1: LoadSpec = LoadSpec::Closed { concurrency: 1 };

/// A measurement whose every call took `latency_us`, with `cpu_us` of client CPU per call.
fn measurement(rep: u32, latency_us: u64, cpu_us: f64) -> Measurement {
    let mut h = new_histogram();
    h.record_n(latency_us * 1_000, 100).unwrap();
    let latency = LatencyStats::from_histogram(&h).unwrap();
    Measurement {
        repetition: rep,
        window_s: 1.0,
        offered_rate_per_s: None,
        sent_rate_per_s: 100.0,
        achieved_rate_per_s: 100.0,
        completion_span_s: 1.0,
        backlogged: false,
        generator_bound: false,
        busy: None,
        accounting: Accounting { sent: 100, ok: 100, ..Accounting::default() },
        latency: latency.clone(),
        service_time: latency,
        schedule_lag: None,
        wire: None,
        cpu: CpuPerCall { client_us_per_call: Some(cpu_us), server_us_per_call: Some(cpu_us), ..CpuPerCall::default() },
        contaminated: false,
        contaminated_reruns: 0,
    }
}

/// An arm with one closed c=1 point (one repetition per latency) and a sweep with the given maxima.
fn arm(name: &str, latencies_us: &[u64], max_rates: &[Option<f64>]) -> ArmResult {
    let reps: Vec<Measurement> =
        latencies_us.iter().enumerate().map(|(i, l)| measurement(i as u32, *l, *l as f64 / 10.0)).collect();
    let (family, broker_kind, codec, options) = record(name);
    ArmResult {
        scenario: "unit".into(),
        transport: name.to_owned(),
        family,
        broker_kind,
        codec,
        options,
        profile: Profile::Small,
        endpoint: "127.0.0.1:1".into(),
        broker: None,
        status: ArmStatus::Ran,
        points: vec![PointResult {
            load: C1,
            operating_point: None,
            repetitions: reps,
            summary: PointSummary::default(),
        }],
        sweep: Some(SweepResult {
            slo_p99_us: 5_000.0,
            target_resolution: 0.05,
            repetitions: max_rates
                .iter()
                .enumerate()
                .map(|(i, r)| SweepRun {
                    repetition: i as u32,
                    steps: r.map(|r| vec![failing_step(r * 1.05, "server")]).unwrap_or_default(),
                    step_verdicts: r.map(|_| vec!["confirm slo".to_owned()]).unwrap_or_default(),
                    max_sustainable_rate_per_s: *r,
                    first_failing_rate_per_s: r.map(|r| r * 1.05),
                    resolution: r.map(|_| 0.05),
                    bottleneck: Some("server".into()),
                    stop_reason: if r.is_some() { "bracketed" } else { "below_min" }.into(),
                })
                .collect(),
            max_sustainable_rate_per_s: Spread::default(),
        }),
        client: "full-stack".into(),
    }
}

/// A capacity search's failing step at `rate` whose busy shares make `bottleneck` the limit:
/// `server` (server 95 %, client 40 % busy), `client` (client 98 %, server 50 %), or anything else
/// (server 30 %, client 40 %: nothing saturated).
fn failing_step(rate: f64, bottleneck: &str) -> Measurement {
    let (client, server) = match bottleneck {
        "server" => (0.4, 0.95),
        "client" => (0.98, 0.5),
        _ => (0.4, 0.3),
    };
    Measurement {
        offered_rate_per_s: Some(rate),
        generator_bound: bottleneck == "client",
        busy: Some(crate::results::busy::BusyShares {
            client,
            server: Some(server),
            machine: (client + server) / 2.0,
            foreign_cores: Some(0.0),
            bottleneck: bottleneck.into(),
            ..Default::default()
        }),
        ..measurement(0, 6_000, 1.0)
    }
}

fn unavailable(name: &str) -> ArmResult {
    ArmResult {
        status: ArmStatus::Unavailable { kind: "connect".into(), message: format!("{name}: cannot connect") },
        points: vec![],
        sweep: None,
        ..arm(name, &[], &[])
    }
}

fn section(arms: &[ArmResult]) -> Section<'_> {
    Section {
        scenario: "unit",
        profile: Profile::Small,
        loads: vec![C1],
        arms: arms.iter().collect(),
        plan: None,
        capacity: Vec::new(),
    }
}

/// A `[server_capacity]` arm: one closed c=16 window per `(achieved rate, server busy share)`.
fn capacity_arm(name: &str, windows: &[(f64, f64)]) -> ArmResult {
    let reps = windows
        .iter()
        .enumerate()
        .map(|(i, &(rate, server))| Measurement {
            achieved_rate_per_s: rate,
            busy: Some(crate::results::busy::BusyShares {
                client: 0.95,
                server: Some(server),
                machine: (0.95 + server) / 2.0,
                foreign_cores: Some(0.0),
                bottleneck: "server".into(),
                ..Default::default()
            }),
            ..measurement(i as u32, 200, 10.0)
        })
        .collect();
    ArmResult {
        points: vec![PointResult {
            load: LoadSpec::Closed { concurrency: 16 },
            operating_point: None,
            repetitions: reps,
            summary: PointSummary::default(),
        }],
        sweep: None,
        client: "replay".into(),
        ..arm(name, &[], &[])
    }
}

#[test]
fn ratio_reads_times_better_for_grpc_in_both_directions() {
    let arms = [arm("rest", &[200, 200, 200], &[Some(1_000.0); 3]), arm("grpc", &[100, 100, 100], &[Some(4_000.0); 3])];
    let capacity = [capacity_arm("rest", &[(1_000.0, 0.95); 3]), capacity_arm("grpc", &[(4_000.0, 0.95); 3])];
    let s = Section { capacity: capacity.iter().collect(), ..section(&arms) };
    let p50 = s.ratio(Dimension::P50(C1), "rest", "grpc").unwrap();
    assert!((p50.estimate - 2.0).abs() < 0.01, "{p50:?}");
    let throughput = s.ratio(Dimension::MaxThroughput, "rest", "grpc").unwrap();
    assert!((throughput.estimate - 4.0).abs() < 1e-12, "higher-is-better must be inverted: {throughput:?}");
    let cpu = s.ratio(Dimension::Cpu(C1), "rest", "grpc").unwrap();
    assert!((cpu.estimate - 2.0).abs() < 0.01, "client + server CPU: {cpu:?}");
}

#[test]
fn the_estimate_is_a_geometric_mean_with_a_t_interval_on_log_ratios() {
    // Ratios 2, 4, 8: log-ratios ln2 × (1, 2, 3), mean 2 ln2 (estimate 4), sd ln2, t(0.975, 2 df) =
    // 4.3027, so the interval is 4 × exp(∓4.3027 × ln2 / √3).
    let r =
        paired_ratio(Direction::LowerIsBetter, &[Some(200.0), Some(400.0), Some(800.0)], &[Some(100.0); 3]).unwrap();
    let half = 4.302_653 * 2f64.ln() / 3f64.sqrt();
    assert!((r.estimate - 4.0).abs() < 1e-9, "{r:?}");
    assert!((r.low - 4.0 * (-half).exp()).abs() < 1e-4 && (r.high - 4.0 * half.exp()).abs() < 1e-3, "{r:?}");
    assert_eq!((r.min, r.max, r.pairs), (2.0, 8.0, 3));
    // Pairing by index, not by sorted value: 500/100 and 100/500 average to 1, with a wide interval.
    let r = paired_ratio(Direction::LowerIsBetter, &[Some(500.0), Some(100.0)], &[Some(100.0), Some(500.0)]).unwrap();
    assert_eq!((r.min, r.max), (0.2, 5.0));
    // The interval contains 1x but spans far past 0.5x–2x: inconclusive, not "no difference".
    assert!((r.estimate - 1.0).abs() < 1e-12 && r.inconclusive() && !r.no_measurable_difference(), "{r:?}");
    // A missing repetition on either side drops that pair only; one pair has no interval.
    let r =
        paired_ratio(Direction::LowerIsBetter, &[Some(600.0), None, Some(800.0)], &[Some(100.0), Some(100.0), None])
            .unwrap();
    assert_eq!((r.pairs, r.low, r.high), (1, 0.0, f64::INFINITY));
    assert!((r.estimate - 6.0).abs() < 1e-12);
    assert_eq!(paired_ratio(Direction::LowerIsBetter, &[None], &[Some(1.0)]), None);
}

#[test]
fn reaches_five_x_by_the_interval_not_the_estimate() {
    let ratio = |rest: &[f64]| {
        paired_ratio(
            Direction::LowerIsBetter,
            &rest.iter().map(|v| Some(*v)).collect::<Vec<_>>(),
            &vec![Some(1.0); rest.len()],
        )
        .unwrap()
    };
    assert_eq!(ratio(&[5.6, 5.7, 5.8, 5.7, 5.6]).reaches(verdict::CLAIM_FACTOR), Reach::Yes);
    // Every pair at 5x or more, but three pairs this spread cannot exclude less than 5x.
    let spread = ratio(&[5.0, 6.0, 7.0]);
    assert!(spread.min >= verdict::CLAIM_FACTOR && spread.low < verdict::CLAIM_FACTOR, "{spread:?}");
    assert_eq!(spread.reaches(verdict::CLAIM_FACTOR), Reach::Possibly);
    assert_eq!(ratio(&[1.2, 1.3, 1.25]).reaches(verdict::CLAIM_FACTOR), Reach::No);
    assert!(!ratio(&[1.2, 1.3, 1.25]).no_measurable_difference());
    assert!(ratio(&[0.9, 1.06, 1.04]).no_measurable_difference());
}

#[test]
fn an_arm_that_scored_zero_gives_an_unbounded_ratio() {
    let r =
        paired_ratio(Direction::HigherIsBetter, &[Some(0.0), Some(1_000.0)], &[Some(2_000.0), Some(2_000.0)]).unwrap();
    assert_eq!((r.min, r.max, r.high), (2.0, f64::INFINITY, f64::INFINITY));
    assert_eq!(r.reaches(verdict::CLAIM_FACTOR), Reach::Possibly);
    // Both zero: no ratio, rather than 0/0.
    assert_eq!(paired_ratio(Direction::HigherIsBetter, &[Some(0.0)], &[Some(0.0)]), None);
}

#[test]
fn a_window_whose_server_was_not_saturated_gives_no_throughput_figure() {
    // rest: one window with the server 60 % busy (a lower bound), one that answered nothing.
    let mut rest = capacity_arm("rest", &[(1_000.0, 0.95), (1_500.0, 0.6), (900.0, 0.97)]);
    rest.points[0].repetitions[2].accounting.ok = 0;
    let capacity = [rest, capacity_arm("grpc", &[(2_000.0, 0.95); 3])];
    let arms = [arm("rest", &[200], &[]), arm("grpc", &[100], &[])];
    let s = Section { capacity: capacity.iter().collect(), ..section(&arms) };
    let r = s.ratio(Dimension::MaxThroughput, "rest", "grpc").unwrap();
    assert_eq!(r.pairs, 1, "only the server-bound window pairs: {r:?}");
    assert!((r.estimate - 2.0).abs() < 1e-12, "{r:?}");
    let row = verdict::load_row(&s, Dimension::MaxThroughput);
    assert!(
        row.flags.iter().any(|f| f.contains(
            "2 window(s) without a server-bound capacity left out: ≥ 1500/s (lower bound: the server was 60 % busy: not server-bound); none"
        )),
        "{:?}",
        row.flags
    );
    // Without a server-capacity arm the row is not measured, whatever the searches found.
    let row = verdict::load_row(&section(&arms), Dimension::MaxThroughput);
    assert_eq!(row.ratio, None);
}

#[test]
fn the_capacity_table_sets_the_server_capacity_beside_the_end_to_end_one() {
    let rest = with_bottleneck(
        arm("rest", &[200; 3], &[Some(1_000.0), Some(1_500.0), Some(1_200.0)]),
        &["client", "client", "server"],
    );
    let arms = [rest];
    let capacity = [capacity_arm("rest", &[(9_000.0, 0.95), (9_400.0, 0.96), (7_000.0, 0.5)])];
    let s = Section { capacity: capacity.iter().collect(), ..section(&arms) };
    let t = super::sections::capacities::capacities_table(&s);
    assert_eq!(t.rows.len(), 1);
    assert_eq!(t.rows[0][0], "rest");
    assert_eq!(t.rows[0][1], "9200/s (2 of 3 windows server-bound)");
    assert_eq!(t.rows[0][2], "95 %");
    assert_eq!(t.rows[0][3], "1200/s (3 of 3 searches; 2 client-bound)");
    assert_eq!(t.rows[0][4], "98 %");
}

#[test]
fn missing_arm_is_reported_as_not_measured() {
    let arms = [arm("rest", &[200], &[Some(1_000.0)]), unavailable("grpc")];
    let s = section(&arms);
    let row = verdict::load_row(&s, Dimension::P50(C1));
    assert_eq!((row.ratio, row.grpc), (None, None));
    assert!((row.rest.unwrap() - 200.0).abs() < 0.5, "HDR resolution is 0.1 %: {:?}", row.rest);
    let rows = vec![row];
    let decomposition = verdict::decomposition(&s);
    assert!(decomposition.iter().all(|d| d.factors.iter().all(|(_, r)| r.is_none())));
    let text = verdict::conclusion(Profile::Small, &rows, &decomposition).join("\n");
    assert!(text.contains("Not measured in this run: p50 latency (unloaded, closed c=1)"), "{text}");
    let table = super::sections::verdict::verdict_table(&rows);
    assert_eq!(table.rows[0][4], super::tables::NOT_MEASURED);
}

#[test]
fn decomposition_factors_multiply_to_the_total_with_varied_repetitions() {
    // Per repetition the chain's three ratios multiply to rest/grpc; with values that vary from
    // repetition to repetition, medians of the factors would not, geometric means must.
    let arms = [
        arm("rest", &[1_200, 1_500, 900, 2_000], &[Some(1.0); 4]),
        arm("rest-h2", &[400, 700, 300, 500], &[Some(1.0); 4]),
        arm("grpc-json", &[200, 180, 260, 210], &[Some(1.0); 4]),
        arm("grpc", &[100, 120, 90, 150], &[Some(1.0); 4]),
        arm("rest-proto", &[600, 650, 500, 700], &[Some(1.0); 4]),
    ];
    let s = section(&arms);
    let rows = verdict::decomposition(&s);
    let p50 = rows.iter().find(|r| r.dimension == Dimension::P50(C1)).unwrap();
    let estimates: Vec<f64> = p50.factors.iter().map(|(_, r)| r.unwrap().estimate).collect();
    let product: f64 = estimates[..3].iter().product();
    assert!((product - estimates[4]).abs() / estimates[4] < 1e-9, "{estimates:?}");
    let verdict_rows = vec![verdict::load_row(&s, Dimension::P50(C1))];
    let text = verdict::conclusion(Profile::Small, &verdict_rows, &rows).join("\n");
    assert!(text.contains(&format!("the factors multiply to {}", verdict::fmt_x(product))), "{text}");
}

#[test]
fn the_largest_factor_is_named_only_when_it_stands_apart() {
    // HTTP version 3x in every repetition, framing and format 2x with a little noise: 3x stands apart.
    let clear = [
        arm("rest", &[1_200, 1_260, 1_140], &[Some(1.0); 3]),
        arm("rest-h2", &[400, 420, 380], &[Some(1.0); 3]),
        arm("grpc-json", &[200, 210, 190], &[Some(1.0); 3]),
        arm("grpc", &[100, 106, 94], &[Some(1.0); 3]),
    ];
    let s = section(&clear);
    let rows = verdict::decomposition(&s);
    let verdict_rows = vec![verdict::load_row(&s, Dimension::P50(C1))];
    let text = verdict::conclusion(Profile::Small, &verdict_rows, &rows).join("\n");
    assert!(text.contains("the largest factor is the HTTP stack (hyper's HTTP/1.1 vs its HTTP/2) (3.00x)"), "{text}");
    assert!(text.contains("gRPC is better than REST/JSON by 12x"), "{text}");
    // Every factor near 1x with noise: no factor is named, and the total reads "no measurable difference".
    let flat = [
        arm("rest", &[1_000, 1_100, 950], &[Some(1.0); 3]),
        arm("rest-h2", &[1_050, 1_000, 1_000], &[Some(1.0); 3]),
        arm("grpc-json", &[1_000, 1_080, 960], &[Some(1.0); 3]),
        arm("grpc", &[1_020, 1_000, 1_000], &[Some(1.0); 3]),
    ];
    let s = section(&flat);
    let rows = verdict::decomposition(&s);
    let verdict_rows = vec![verdict::load_row(&s, Dimension::P50(C1))];
    let text = verdict::conclusion(Profile::Small, &verdict_rows, &rows).join("\n");
    assert!(text.contains("no factor stands apart"), "{text}");
    assert!(!text.contains("the largest factor is"), "{text}");
    assert!(text.contains("no measurable difference between gRPC and REST/JSON"), "{text}");
    assert!(
        text.contains("No measurable difference (the interval contains 1x and lies within 0.5x–2x) on: p50 latency"),
        "{text}"
    );
    // The same rows with one noisy pair: the interval still contains 1x but is far wider than
    // 0.5x–2x, and the conclusion says the data cannot tell.
    let noisy =
        [arm("rest", &[1_000, 2_200, 500, 1_800, 600], &[Some(1.0); 5]), arm("grpc", &[1_000; 5], &[Some(1.0); 5])];
    let s = section(&noisy);
    let text = verdict::conclusion(Profile::Small, &[verdict::load_row(&s, Dimension::P50(C1))], &[]).join("\n");
    assert!(text.contains("Inconclusive (the interval contains 1x but is wider than 0.5x–2x"), "{text}");
    assert!(!text.contains("No measurable difference"), "{text}");
}

#[test]
fn unloaded_point_is_the_fewest_callers_else_the_lowest_rate() {
    let open = |r: f64| LoadSpec::Open { rate_per_s: r, max_in_flight: 8 };
    let c16 = LoadSpec::Closed { concurrency: 16 };
    assert_eq!(verdict::unloaded(&[c16, open(1_000.0), C1]), Some(C1));
    assert_eq!(verdict::unloaded(&[open(2_000.0), open(1_000.0)]), Some(open(1_000.0)));
    assert_eq!(verdict::unloaded(&[]), None);
}

fn run_results(arms: Vec<ArmResult>) -> RunResults {
    RunResults {
        schema_version: SCHEMA_VERSION,
        run_id: "unit".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        finished_at: "2026-01-01T00:01:00Z".into(),
        environment: Environment {
            git_commit: "0".into(),
            rustc_version: "rustc".into(),
            paybench_version: "0".into(),
            cpu_model: "test cpu".into(),
            cpu_cores: 2,
            kernel: "k".into(),
            hostname: "h".into(),
            brokers: vec![],
        },
        settings: RunSettings {
            target: None,
            brokers: Default::default(),
            arm_settings: Default::default(),
            client_threads: 1,
            server_threads: 1,
            client_cpus: vec![],
            server_cpus: vec![],
            placement: "same host, unit test".into(),
            wire_method: "none".into(),
            cpu_method: "none".into(),
            command_line: vec![],
            namespace: String::new(),
            order_seed: None,
            order: vec![],
        },
        server_capacity: vec![],
        scenarios: vec![Scenario {
            name: "unit".into(),
            description: "constructed".into(),
            transports: ["rest", "grpc", "amqp"].map(|n| ArmRequest::Name(n.into())).to_vec(),
            profiles: vec![Profile::Small],
            repetitions: 2,
            warmup_ms: 1,
            duration_ms: 1,
            timeout_ms: 1,
            seed: crate::payload::DEFAULT_SEED,
            service_time_us: 0,
            service_busy_us: 0,
            load: vec![C1],
            sweep: Some(SweepSpec {
                start_rate_per_s: 1.0,
                step_factor: 2.0,
                max_rate_per_s: 4.0,
                slo_p99_ms: 5.0,
                step_warmup_ms: 1,
                step_duration_ms: 1,
                max_in_flight: 1,
                resolution: 0.05,
                repetitions: None,
            }),
            operating_points: None,
            tails: None,
            server_capacity: None,
            profile_transports: Default::default(),
            experiments: vec![],
        }],
        arms,
        operating_points: vec![],
        codec: vec![],
        experiments: vec![],
    }
}

#[test]
fn report_renders_tables_charts_and_missing_brokers_from_a_results_file() {
    let dir = std::env::temp_dir().join(format!("paybench-report-unit-{}", std::process::id()));
    let results = run_results(vec![
        arm("rest", &[300, 300], &[Some(1_000.0); 2]),
        arm("grpc", &[100, 100], &[Some(2_000.0); 2]),
        unavailable("amqp"),
    ]);
    results.write(&dir).unwrap();
    let written = super::write(&dir).unwrap();
    let html = std::fs::read_to_string(&written.html).unwrap();
    assert!(html.contains("<figure class=\"chart\" id=\"chart-spectrum-unloaded\""), "spectrum chart missing");
    assert!(html.contains("<svg"));
    assert!(html.contains("3.00x"), "p50 ratio 300/100 missing");
    assert!(html.contains("Codec speed not timed in this run"));
    assert!(html.contains("<figure class=\"chart\" id=\"chart-headline\""), "headline chart missing");
    assert!(html.contains("not recorded"), "broker settings must say not recorded");
    let summary = std::fs::read_to_string(&written.summary).unwrap();
    assert!(summary.contains("| p50 latency (unloaded, closed c=1) | — | 300 µs | 100 µs | 3.00x |"), "{summary}");
    let charts = super::Report::load(&dir).unwrap().write_charts(&dir.join("charts")).unwrap();
    assert!(charts.iter().any(|p| p.ends_with("spectrum-unloaded.svg")), "{charts:?}");
    assert!(super::write(&dir.join("absent")).unwrap_err().to_string().contains("results.json"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn conclusion_gives_the_codecs_measured_share_of_a_call() {
    let row = |kind, rest, grpc| verdict::VerdictRow {
        kind,
        dimension: format!("{kind:?}"),
        basis: String::new(),
        unit: "µs",
        rest: Some(rest),
        grpc: Some(grpc),
        ratio: None,
        flags: vec![],
        point: None,
        offered_per_s: None,
        achieved_per_s: (None, None),
        not_measured: None,
    };
    let rows =
        vec![row(verdict::RowKind::Codec, 10.0, 3.0), row(verdict::RowKind::Load(Dimension::P50(C1)), 200.0, 100.0)];
    let text = verdict::conclusion(Profile::Small, &rows, &[]).join("\n");
    assert!(text.contains("takes 10.00 µs with JSON and 3.00 µs with protobuf: 5.0 % of REST/JSON's"), "{text}");
    assert!(text.contains("and 3.0 % of gRPC's 100 µs."), "{text}");
}

#[test]
fn charts_with_many_arms_are_split_at_eight_lines() {
    use crate::charts::{spectrum_chart, MAX_SERIES_PER_CHART};
    let names: Vec<String> = STANDARD_ARMS.map(String::from).to_vec();
    let arms: Vec<ArmResult> = names.iter().map(|n| arm(n, &[100, 120], &[Some(1.0); 2])).collect();
    let charts = spectrum_chart(&section(&arms), C1, "spectrum-unloaded").unwrap();
    // 7 direct arms fit in one chart; the 6 broker arms get a chart of their own.
    let direct = names.iter().filter(|n| record(n).1.is_none()).count();
    assert!(direct <= MAX_SERIES_PER_CHART);
    assert_eq!(charts.len(), 2, "{:?}", charts.iter().map(|c| &c.id).collect::<Vec<_>>());
    assert_eq!(charts[0].id, "spectrum-unloaded");
    assert!(charts[1].title.contains("broker arms"), "{}", charts[1].title);
    // 20 direct arms of one family: split into charts of at most 8 lines each.
    let many: Vec<ArmResult> = (2..=21).map(|n| arm(&format!("grpc-ch{n}"), &[100, 120], &[Some(1.0); 2])).collect();
    let charts = spectrum_chart(&section(&many), C1, "spectrum-unloaded").unwrap();
    assert_eq!(charts.len(), 3);
    for chart in &charts {
        let lines = chart.svg.matches("grpc-ch").count();
        assert!(lines > 0, "{}", chart.id);
    }
}

fn scenario_with_operating_points() -> Scenario {
    let mut s = run_results(vec![]).scenarios.remove(0);
    s.transports = ["rest", "grpc"].map(|n| ArmRequest::Name(n.into())).to_vec();
    s.operating_points = Some(crate::scenario::OperatingPointsSpec {
        fractions: vec![0.5, 0.25, 0.75],
        at_capacity: true,
        arms: vec![],
        max_in_flight: 64,
    });
    s
}

fn with_bottleneck(mut a: ArmResult, bottlenecks: &[&str]) -> ArmResult {
    for (run, b) in a.sweep.as_mut().unwrap().repetitions.iter_mut().zip(bottlenecks) {
        run.bottleneck = Some((*b).into());
        if let Some(fail) = run.first_failing_rate_per_s {
            run.steps = vec![failing_step(fail, b)];
        }
    }
    a
}

#[test]
fn operating_points_are_fractions_of_the_lower_server_bound_capacity() {
    use crate::operating;
    let s = scenario_with_operating_points();
    let rest = arm("rest", &[100; 3], &[Some(4_000.0), Some(4_400.0), Some(3_800.0)]);
    // gRPC's client-bound search (2000/s) is the generator's limit, not gRPC's: left out.
    let grpc = with_bottleneck(
        arm("grpc", &[100; 3], &[Some(9_000.0), Some(2_000.0), Some(9_400.0)]),
        &["server", "client", "server"],
    );
    let plan = operating::plan(&s, Profile::Small, &[&rest, &grpc], &["rest".into(), "grpc".into()]);
    assert_eq!(plan.skipped, None);
    assert_eq!(plan.basis_arm.as_deref(), Some("rest"));
    assert_eq!(plan.basis_rate_per_s, Some(4_000.0));
    assert_eq!(plan.capacities_per_s.get("grpc"), Some(&9_200.0));
    assert!(!plan.basis_client_bound);
    let points: Vec<(&str, f64)> = plan.points.iter().map(|p| (p.name.as_str(), p.rate_per_s)).collect();
    assert_eq!(points, [("25 %", 1_000.0), ("50 %", 2_000.0), ("75 %", 3_000.0), ("capacity", 4_000.0)]);
    let loads = operating::loads(&plan, 64);
    assert_eq!(loads[1].1, LoadSpec::Open { rate_per_s: 2_000.0, max_in_flight: 64 });

    // Only client-bound searches left: used, and flagged.
    let grpc_client = with_bottleneck(arm("grpc", &[100; 2], &[Some(1_500.0), Some(1_700.0)]), &["client", "client"]);
    let plan = operating::plan(&s, Profile::Small, &[&rest, &grpc_client], &[]);
    assert_eq!((plan.basis_arm.as_deref(), plan.basis_rate_per_s), (Some("grpc"), Some(1_600.0)));
    assert!(plan.basis_client_bound);

    // No capacity for one arm of the pair: nothing is placed, and the plan says why.
    let none = arm("grpc", &[100; 2], &[None, None]);
    let plan = operating::plan(&s, Profile::Small, &[&rest, &none], &[]);
    assert!(plan.points.is_empty());
    assert!(plan.skipped.as_deref().is_some_and(|w| w.contains("grpc measured only lower bounds: none")), "{plan:?}");

    // A search that ended with nothing saturated is a lower bound, never a basis, and the plan
    // says which and why.
    let unsaturated = with_bottleneck(arm("grpc", &[100; 2], &[Some(5_188.0), Some(5_000.0)]), &["none", "none"]);
    let plan = operating::plan(&s, Profile::Small, &[&rest, &unsaturated], &[]);
    assert!(plan.points.is_empty(), "{plan:?}");
    let why = plan.skipped.unwrap();
    assert!(why.contains("≥ 5188/s (the SLO broke with the server 30 % and the client 40 % busy"), "{why}");
}

#[test]
fn a_capacity_reading_counts_only_a_server_bound_failure_among_clean_windows() {
    let run = |bottleneck: &str, tweak: fn(&mut Measurement)| {
        let mut a = with_bottleneck(arm("grpc", &[100], &[Some(4_000.0)]), &[bottleneck]);
        let mut run = a.sweep.take().unwrap().repetitions.remove(0);
        tweak(&mut run.steps[0]);
        run
    };
    let keep = |_: &mut Measurement| {};
    assert_eq!(run("server", keep).reading(), CapacityReading::Server { rate_per_s: 4_000.0, by: "server".into() });
    assert!(matches!(run("client", keep).reading(), CapacityReading::EndToEnd { rate_per_s: 4_000.0, .. }));
    // Server busy enough, but the client near saturation too: not clearly the server's limit.
    let busy_client = run("server", |m| m.busy.as_mut().unwrap().client = 0.75).reading();
    assert!(
        matches!(&busy_client, CapacityReading::LowerBound { why, .. } if why.contains("client 75 %")),
        "{busy_client:?}"
    );
    let lagging = run("server", |m| m.generator_bound = true).reading();
    assert!(matches!(&lagging, CapacityReading::LowerBound { why, .. } if why.contains("generator")), "{lagging:?}");
    let foreign = run("server", |m| {
        m.contaminated = true;
        m.busy.as_mut().unwrap().foreign_cores = Some(0.8);
    })
    .reading();
    assert!(
        matches!(&foreign, CapacityReading::LowerBound { why, .. } if why.contains("0.80 cores of foreign CPU")),
        "{foreign:?}"
    );
    let mut unbounded = run("server", keep);
    unbounded.first_failing_rate_per_s = None;
    assert!(matches!(unbounded.reading(), CapacityReading::LowerBound { why, .. } if why.contains("no failure")));
    // A broker arm's capacity is the broker's when the broker was the busier.
    let broker = run("none", |m| {
        let b = m.busy.as_mut().unwrap();
        b.broker = Some(0.97);
    })
    .reading();
    assert_eq!(broker, CapacityReading::Server { rate_per_s: 4_000.0, by: "broker".into() });
}

/// A plan of rest and grpc with one point `(name, fraction, rate)` on `basis`'s capacity.
fn one_point_plan(basis: &str, basis_rate: f64, end_to_end: bool, point: (&str, f64, f64)) -> OperatingPlan {
    OperatingPlan {
        scenario: "unit".into(),
        profile: Profile::Small,
        basis_arm: Some(basis.into()),
        basis_rate_per_s: Some(basis_rate),
        basis_client_bound: end_to_end,
        capacities_per_s: Default::default(),
        points: vec![OperatingPoint { name: point.0.into(), fraction: point.1, rate_per_s: point.2 }],
        arms: vec!["rest".into(), "grpc".into()],
        skipped: None,
    }
}

/// An open-loop point named as an operating point, every repetition at `latency_us`.
fn with_operating_point(mut a: ArmResult, name: &str, rate: f64, latencies_us: &[u64]) -> ArmResult {
    let reps: Vec<Measurement> = latencies_us.iter().enumerate().map(|(i, l)| measurement(i as u32, *l, 1.0)).collect();
    a.points.push(PointResult {
        load: LoadSpec::Open { rate_per_s: rate, max_in_flight: 64 },
        operating_point: Some(name.into()),
        repetitions: reps,
        summary: PointSummary::default(),
    });
    a
}

#[test]
fn verdict_rows_and_headline_follow_the_operating_points_and_say_where_the_answer_changes() {
    // Unloaded REST is better (100 µs vs 150 µs); at half of the capacity gRPC is (900 vs 300 µs).
    let rest =
        with_operating_point(arm("rest", &[100, 102, 98], &[Some(4_000.0); 3]), "50 %", 2_000.0, &[900, 950, 880]);
    let grpc =
        with_operating_point(arm("grpc", &[150, 151, 149], &[Some(8_000.0); 3]), "50 %", 2_000.0, &[300, 310, 290]);
    let plan = one_point_plan("rest", 4_000.0, false, ("50 %", 0.5, 2_000.0));
    let arms = [rest, grpc];
    let mut s = section(&arms);
    s.plan = Some(&plan);
    let half = LoadSpec::Open { rate_per_s: 2_000.0, max_in_flight: 64 };
    assert_eq!(s.describe(&half), "50 % of capacity, 2000/s");
    assert_eq!(s.describe(&C1), "unloaded, closed c=1");
    let dims = s.dimensions();
    assert!(dims.contains(&Dimension::P50(half)) && dims.contains(&Dimension::P99(half)), "{dims:?}");
    // 100 calls per window: too few for a p99.9 row.
    assert!(!dims.contains(&Dimension::P999(half)));
    let rows: Vec<_> = dims.iter().map(|d| verdict::load_row(&s, *d)).collect();
    let p99_half = rows.iter().find(|r| r.kind == verdict::RowKind::Load(Dimension::P99(half))).unwrap();
    assert_eq!(p99_half.dimension, "p99 latency (50 % of capacity, 2000/s)");
    assert_eq!((p99_half.offered_per_s, p99_half.achieved_per_s), (Some(2_000.0), (Some(100.0), Some(100.0))));
    let decomposition = verdict::decomposition(&s);
    let headline = verdict::headline(&[verdict::ProfileVerdict {
        profile: Profile::Small,
        rows: &rows,
        decomposition: &decomposition,
    }]);
    assert!(headline.len() <= verdict::HEADLINE_SENTENCES, "{headline:?}");
    let text = headline.join("\n");
    assert!(
        text.contains("the answer changes from REST/JSON measurably better (unloaded, closed c=1) to gRPC measurably better (50 % of capacity, 2000/s)"),
        "{text}"
    );
    // The first sentence is about end-to-end dimensions, then the components.
    assert!(
        headline[0].starts_with("End to end (latency, throughput, CPU and wire bytes per call), gRPC/protobuf reaches 5x over REST/JSON on none of 6 measured rows; of the components (codec time, body bytes), on no measured row"),
        "{text}"
    );
}

#[test]
fn results_json_is_minified_and_keeps_histograms_only_of_points() {
    let mut rest = arm("rest", &[300, 300], &[Some(1_000.0); 2]);
    rest.sweep.as_mut().unwrap().repetitions[0].steps.insert(0, measurement(0, 500, 1.0));
    let results = run_results(vec![rest]);
    let dir = std::env::temp_dir().join(format!("paybench-compact-unit-{}", std::process::id()));
    results.write(&dir).unwrap();
    let text = std::fs::read_to_string(dir.join("results.json")).unwrap();
    assert!(!text.contains("\n "), "results.json is indented");
    let back = RunResults::read(&dir.join("results.json")).unwrap();
    let arm = &back.arms[0];
    assert!(arm.points[0].repetitions[0].latency.histogram().is_ok(), "a point keeps its histogram");
    let step = &arm.sweep.as_ref().unwrap().repetitions[0].steps[0];
    assert!((step.latency.p99_us - 500.0).abs() < 1.0, "a step keeps its summary: {}", step.latency.p99_us);
    let err = step.latency.histogram().unwrap_err().to_string();
    assert!(err.contains("histogram not kept"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_point_is_called_at_capacity_only_when_the_server_was_that_busy_there() {
    let top = LoadSpec::Open { rate_per_s: 5_188.0, max_in_flight: 64 };
    let plan = |end_to_end: bool| one_point_plan("grpc", 5_188.0, end_to_end, ("capacity", 1.0, 5_188.0));
    let at_share = |server: f64| {
        ["rest", "grpc"].map(|name| {
            let mut a = with_operating_point(arm(name, &[100], &[Some(5_188.0)]), "capacity", 5_188.0, &[300, 300]);
            for m in &mut a.points[1].repetitions {
                m.busy = Some(crate::results::busy::BusyShares { server: Some(server), ..Default::default() });
            }
            a
        })
    };
    let (busy, idle) = (at_share(0.95), at_share(0.36));
    let server_plan = plan(false);
    let mut s = section(&busy);
    s.plan = Some(&server_plan);
    assert_eq!(s.describe(&top), "at capacity, 5188/s, server 95 % busy");
    let mut s = section(&idle);
    s.plan = Some(&server_plan);
    assert_eq!(s.describe(&top), "at the basis rate, 5188/s, server 36 % busy: not at capacity");
    let e2e_plan = plan(true);
    s.plan = Some(&e2e_plan);
    assert_eq!(s.describe(&top), "at end-to-end capacity, 5188/s, server 36 % busy");
}

#[test]
fn a_fixed_rate_an_operating_point_fell_on_is_one_row_over_both_points_windows() {
    let open = LoadSpec::Open { rate_per_s: 1_000.0, max_in_flight: 64 };
    let with_fixed = |a: ArmResult, latency_us: u64| {
        let mut a = with_operating_point(a, "25 %", 1_000.0, &[latency_us; 5]);
        let reps = (0..5).map(|i| measurement(i, latency_us, 1.0)).collect();
        a.points.insert(
            1,
            PointResult { load: open, operating_point: None, repetitions: reps, summary: PointSummary::default() },
        );
        a
    };
    let arms = [with_fixed(arm("rest", &[100; 5], &[]), 300), with_fixed(arm("grpc", &[100; 5], &[]), 200)];
    let plan = one_point_plan("rest", 4_000.0, false, ("25 %", 0.25, 1_000.0));
    let mut s = section(&arms);
    s.loads = vec![C1, open];
    s.plan = Some(&plan);
    let dims = s.dimensions();
    assert_eq!(dims.iter().filter(|d| **d == Dimension::P99(open)).count(), 1, "{dims:?}");
    let r = s.ratio(Dimension::P99(open), "rest", "grpc").unwrap();
    assert_eq!(r.pairs, 10, "the fixed point's 5 windows and the operating point's 5: {r:?}");
}

#[test]
fn a_flagged_window_never_stands_in_a_row() {
    let mut grpc = arm("grpc", &[100, 100, 100], &[]);
    grpc.points[0].repetitions[0].generator_bound = true;
    grpc.points[0].repetitions[2].contaminated = true;
    let arms = [arm("rest", &[200, 200, 200], &[]), grpc];
    let s = section(&arms);
    let r = s.ratio(Dimension::P50(C1), "rest", "grpc").unwrap();
    assert_eq!(r.pairs, 1, "{r:?}");
    let row = verdict::load_row(&s, Dimension::P50(C1));
    assert!(
        row.flags.iter().any(|f| f == "grpc: 2 of 3 windows left out (generator-bound 1, contaminated 1)"),
        "{:?}",
        row.flags
    );
    // Every window of one arm flagged: no ratio at all.
    let mut rest = arm("rest", &[200, 200], &[]);
    for m in &mut rest.points[0].repetitions {
        m.backlogged = true;
    }
    let arms = [rest, arm("grpc", &[100, 100], &[])];
    let s = section(&arms);
    let row = verdict::load_row(&s, Dimension::P50(C1));
    assert_eq!(row.ratio, None, "{row:?}");
    assert_eq!(row.not_measured.as_deref(), Some("not measured: every pair had a flagged window"));
    assert!(row.flags.iter().any(|f| f.contains("2 of 2 windows left out (backlogged 2)")), "{:?}", row.flags);
}

#[test]
fn bonferroni_widens_an_interval_by_the_ratio_of_t_quantiles() {
    // 5 pairs (4 degrees of freedom): t(0.975) = 2.7764, t(1 - 0.025/10) = 5.5976.
    let r = ratio::Ratio {
        estimate: 4.0,
        low: 4.0 / 2f64,
        high: 4.0 * 2f64,
        min: 1.0,
        max: 9.0,
        pairs: 5,
        source: ratio::SpreadSource::Repetitions,
    };
    assert_eq!(r.bonferroni(1), r);
    let wide = r.bonferroni(10);
    let widen = 5.597_56 / 2.776_45;
    assert!((wide.low - 4.0 / 2f64.powf(widen)).abs() < 1e-3, "{wide:?}");
    assert!((wide.high - 4.0 * 2f64.powf(widen)).abs() < 1e-2, "{wide:?}");
    assert_eq!(wide.estimate, 4.0);
    // An exact ratio has no interval to widen.
    assert_eq!(ratio::Ratio::exact(5.1).bonferroni(10), ratio::Ratio::exact(5.1));
}

#[test]
fn cpu_per_call_is_read_at_saturation() {
    let (c16, open) = (LoadSpec::Closed { concurrency: 16 }, LoadSpec::Open { rate_per_s: 1_000.0, max_in_flight: 64 });
    let arms = [arm("rest", &[100], &[]), arm("grpc", &[100], &[])];
    let mut s = section(&arms);
    s.loads = vec![C1, open, c16];
    let cpu: Vec<Dimension> = s.dimensions().into_iter().filter(|d| matches!(d, Dimension::Cpu(_))).collect();
    assert_eq!(cpu, [Dimension::Cpu(c16)]);
    assert!(s.dimensions().contains(&Dimension::ServerCpu(c16)), "the server's CPU beside every role's");
    s.loads = vec![C1, open];
    assert!(s.dimensions().contains(&Dimension::Cpu(open)), "no closed point with callers: the first open one");
}

#[test]
fn a_difference_in_segments_per_call_gets_a_sentence_and_equal_counts_none() {
    let with_segments = |name: &str, out: u64, into: u64| {
        let mut a = arm(name, &[100, 100], &[]);
        for m in &mut a.points[0].repetitions {
            m.wire = Some(WireBytes {
                calls: 100,
                hops: vec![HopBytes {
                    hop: "client".into(),
                    port: 1,
                    sockets: 1,
                    sent_bytes_total: 0,
                    received_bytes_total: 0,
                    sent_payload_bytes_total: 0,
                    received_payload_bytes_total: 0,
                    sent_segments_total: out * 100,
                    received_segments_total: into * 100,
                    sent_bytes_per_call: 0.0,
                    received_bytes_per_call: 0.0,
                    segments_per_call: (out + into) as f64,
                }],
            });
        }
        a
    };
    let arms = [with_segments("rest", 1, 1), with_segments("grpc", 3, 2)];
    let text = verdict::segments_sentence(&section(&arms)).unwrap();
    assert!(text.contains("a gRPC call crosses the client's socket in 3.0 TCP segments out and 2.0 in, a REST/JSON call in 1.0 and 1.0"), "{text}");
    let arms = [with_segments("rest", 2, 1), with_segments("grpc", 2, 1)];
    assert_eq!(verdict::segments_sentence(&section(&arms)), None);
}

#[test]
fn sections_are_listed_once_in_page_order_and_each_output_lays_out_its_own() {
    use super::sections::{self, Scope, SECTIONS};
    let ids: Vec<&str> = SECTIONS.iter().map(|s| s.id).collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a section id is listed twice: {ids:?}");
    let rank = |s: Scope| match s {
        Scope::Top => 0,
        Scope::Verdict => 1,
        Scope::Run => 2,
    };
    assert!(SECTIONS.windows(2).all(|w| rank(w[0].scope) <= rank(w[1].scope)), "not in page order: {ids:?}");
    let err = sections::section("meltdown").unwrap_err().to_string();
    assert!(err.contains("`meltdown`") && err.contains("headline, verdict"), "{err}");

    let dir = std::env::temp_dir().join(format!("paybench-report-sections-{}", std::process::id()));
    let results = run_results(vec![
        arm("rest", &[300, 300], &[Some(1_000.0); 2]),
        arm("grpc", &[100, 100], &[Some(2_000.0); 2]),
        unavailable("amqp"),
    ]);
    results.write(&dir).unwrap();
    let report = super::Report::load(&dir).unwrap();
    let verdicts = report.verdicts().unwrap();
    let err = sections::build("fairness", &report, &verdicts, None).unwrap_err().to_string();
    assert!(err.contains("`fairness`") && err.contains("per verdict"), "{err}");
    // No timed experiment in this run: their sections have nothing to show, and say so by `None`.
    let experiments = ["outage", "broker-restart", "burst", "scale-workers", "protected", "fan-out", "replay"];
    for id in experiments {
        assert!(sections::build(id, &report, &verdicts, None).unwrap().is_none(), "{id}");
    }

    let html = super::html::render(&report, &verdicts).unwrap();
    let summary = super::markdown::render(&report, &verdicts).unwrap();
    for s in SECTIONS.iter().filter(|s| !experiments.contains(&s.id)) {
        let anchor = match s.scope {
            Scope::Top => format!("class=\"conclusion {}\"", s.id),
            Scope::Verdict if s.show == sections::Show::Open => format!("<table class=\"{}\">", s.id),
            Scope::Verdict => format!("id=\"{}-0\"", s.id),
            Scope::Run => format!("id=\"{}\"", s.id),
        };
        assert!(html.contains(&anchor), "report.html has no {anchor} for section `{}`", s.id);
        let titled = summary.contains(&format!("#### {}\n", s.title));
        if s.scope != Scope::Verdict {
            assert_eq!(titled, s.in_summary, "summary.md and section `{}`'s in_summary disagree", s.id);
        }
    }
    let lead = |id: &str| sections::build(id, &report, &verdicts, verdicts.first()).unwrap().unwrap().lead.unwrap();
    assert!(summary.contains(&lead("decomposition")), "summary.md carries the decomposition");
    assert!(!summary.contains("Fairness") && !html.contains("#### "), "each output keeps to its own sections");
    assert!(
        html.contains("amqp / small: connect: amqp: cannot connect"),
        "the unavailable arm is listed with its reason"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
