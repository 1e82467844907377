//! Unit tests of the verdict logic on constructed results: ratio direction, pairing by
//! repetition, the "reaches 5x" decision, missing data, the decomposition, and a full render.

use super::verdict::{self, paired_ratio, Dimension, Direction, Reach, Section};
use crate::load::scenario::{LoadSpec, Scenario, SweepSpec};
use crate::payload::Profile;
use crate::results::stats::new_histogram;
use crate::results::*;
use crate::transport::Arm;

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
        generator_bound: false,
        accounting: Accounting { sent: 100, ok: 100, ..Accounting::default() },
        latency: latency.clone(),
        service_time: latency,
        schedule_lag: None,
        wire: None,
        cpu: CpuPerCall { client_us_per_call: Some(cpu_us), server_us_per_call: Some(cpu_us), ..CpuPerCall::default() },
    }
}

/// An arm with one closed c=1 point (one repetition per latency) and a sweep with the given maxima.
fn arm(name: &str, latencies_us: &[u64], max_rates: &[Option<f64>]) -> ArmResult {
    let reps: Vec<Measurement> =
        latencies_us.iter().enumerate().map(|(i, l)| measurement(i as u32, *l, *l as f64 / 10.0)).collect();
    ArmResult {
        scenario: "unit".into(),
        transport: Arm::parse(name).unwrap(),
        codec: Arm::parse(name).unwrap().codec().name().into(),
        options: Arm::parse(name).unwrap().options_owned(),
        profile: Profile::Small,
        endpoint: "127.0.0.1:1".into(),
        broker: None,
        status: ArmStatus::Ran,
        points: vec![PointResult { load: C1, repetitions: reps, summary: PointSummary::default() }],
        sweep: Some(SweepResult {
            slo_p99_us: 5_000.0,
            repetitions: max_rates
                .iter()
                .enumerate()
                .map(|(i, r)| SweepRun {
                    repetition: i as u32,
                    steps: vec![],
                    max_sustainable_rate_per_s: *r,
                    stop_reason: "slo".into(),
                })
                .collect(),
            max_sustainable_rate_per_s: Spread::default(),
        }),
        client: "full-stack".into(),
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
    Section { scenario: "unit", profile: Profile::Small, loads: vec![C1], arms: arms.iter().collect() }
}

#[test]
fn ratio_reads_times_better_for_grpc_in_both_directions() {
    let arms = [arm("rest", &[200, 200, 200], &[Some(1_000.0); 3]), arm("grpc", &[100, 100, 100], &[Some(4_000.0); 3])];
    let s = section(&arms);
    let p50 = s.ratio(Dimension::P50(C1), "rest", "grpc").unwrap();
    assert!((p50.median - 2.0).abs() < 0.01, "{p50:?}");
    let throughput = s.ratio(Dimension::MaxThroughput, "rest", "grpc").unwrap();
    assert_eq!(throughput.median, 4.0, "higher-is-better must be inverted: {throughput:?}");
    let cpu = s.ratio(Dimension::Cpu(C1), "rest", "grpc").unwrap();
    assert!((cpu.median - 2.0).abs() < 0.01, "client + server CPU: {cpu:?}");
}

#[test]
fn repetitions_are_paired_by_index_and_spread_is_min_median_max() {
    let r =
        paired_ratio(Direction::LowerIsBetter, &[Some(100.0), Some(300.0), Some(500.0)], &[Some(100.0); 3]).unwrap();
    assert_eq!((r.min, r.median, r.max, r.pairs), (1.0, 3.0, 5.0, 3));
    // Pairing by index, not by sorted value: 500/100 and 100/500.
    let r = paired_ratio(Direction::LowerIsBetter, &[Some(500.0), Some(100.0)], &[Some(100.0), Some(500.0)]).unwrap();
    assert_eq!((r.min, r.max), (0.2, 5.0));
    // A missing repetition on either side drops that pair only.
    let r =
        paired_ratio(Direction::LowerIsBetter, &[Some(600.0), None, Some(800.0)], &[Some(100.0), Some(100.0), None])
            .unwrap();
    assert_eq!((r.pairs, r.median), (1, 6.0));
    assert_eq!(paired_ratio(Direction::LowerIsBetter, &[None], &[Some(1.0)]), None);
}

#[test]
fn reaches_five_x_only_when_every_pair_does() {
    let ratio = |rest: &[f64]| {
        paired_ratio(
            Direction::LowerIsBetter,
            &rest.iter().map(|v| Some(*v)).collect::<Vec<_>>(),
            &vec![Some(1.0); rest.len()],
        )
        .unwrap()
    };
    assert_eq!(ratio(&[5.0, 6.0, 7.0]).reaches(verdict::CLAIM_FACTOR), Reach::Yes);
    assert_eq!(ratio(&[4.9, 6.0, 7.0]).reaches(verdict::CLAIM_FACTOR), Reach::Partly);
    assert_eq!(ratio(&[1.2, 4.99]).reaches(verdict::CLAIM_FACTOR), Reach::No);
}

#[test]
fn an_arm_that_met_the_slo_at_no_step_gives_an_unbounded_ratio() {
    let r =
        paired_ratio(Direction::HigherIsBetter, &[Some(0.0), Some(1_000.0)], &[Some(2_000.0), Some(2_000.0)]).unwrap();
    assert_eq!((r.min, r.max), (2.0, f64::INFINITY));
    assert_eq!(r.reaches(verdict::CLAIM_FACTOR), Reach::Partly);
    // Both zero: no ratio, rather than 0/0.
    assert_eq!(paired_ratio(Direction::HigherIsBetter, &[Some(0.0)], &[Some(0.0)]), None);
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
    assert!(text.contains("Not measured in this run: p50 latency (closed c=1)"), "{text}");
    let table = super::tables::verdict_table(&rows);
    assert_eq!(table.rows[0][3], super::tables::NOT_MEASURED);
}

#[test]
fn decomposition_factors_multiply_and_the_largest_is_named() {
    // rest 1200 µs, rest-h2 400, grpc-json 200, grpc 100: HTTP version 3x, framing 2x, format 2x.
    let arms = [
        arm("rest", &[1_200, 1_200], &[Some(1.0); 2]),
        arm("rest-h2", &[400, 400], &[Some(1.0); 2]),
        arm("grpc-json", &[200, 200], &[Some(1.0); 2]),
        arm("grpc", &[100, 100], &[Some(1.0); 2]),
        arm("rest-proto", &[600, 600], &[Some(1.0); 2]),
    ];
    let s = section(&arms);
    let rows = verdict::decomposition(&s);
    let p50 = rows.iter().find(|r| r.dimension == Dimension::P50(C1)).unwrap();
    let medians: Vec<f64> = p50.factors.iter().map(|(_, r)| r.unwrap().median).collect();
    let product: f64 = medians[..3].iter().product();
    assert!((product - medians[4]).abs() / medians[4] < 0.01, "{medians:?}");
    assert!((medians[3] - 2.0).abs() < 0.01, "rest / rest-proto: {medians:?}");
    let verdict_rows = vec![verdict::load_row(&s, Dimension::P50(C1))];
    let text = verdict::conclusion(Profile::Small, &verdict_rows, &rows).join("\n");
    assert!(text.contains("gRPC is 12x better than REST/JSON"), "{text}");
    assert!(text.contains("the largest factor is the HTTP version (1.1 vs 2) (3.00x)"), "{text}");
    assert!(text.contains("at least 5x better than REST/JSON in every repetition on: p50 latency"), "{text}");
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
        },
        scenarios: vec![Scenario {
            name: "unit".into(),
            description: "constructed".into(),
            transports: ["rest", "grpc", "amqp"].map(|n| crate::transport::ArmRequest::Name(n.into())).to_vec(),
            profiles: vec![Profile::Small],
            repetitions: 2,
            warmup_ms: 1,
            duration_ms: 1,
            timeout_ms: 1,
            seed: crate::payload::DEFAULT_SEED,
            service_time_us: 0,
            load: vec![C1],
            sweep: Some(SweepSpec {
                start_rate_per_s: 1.0,
                step_factor: 2.0,
                max_rate_per_s: 4.0,
                slo_p99_ms: 5.0,
                step_warmup_ms: 1,
                step_duration_ms: 1,
                max_in_flight: 1,
            }),
        }],
        arms,
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
    let written = super::write(&dir, &dir.join("no-criterion-here")).unwrap();
    let html = std::fs::read_to_string(&written.html).unwrap();
    assert!(html.contains("<figure class=\"chart\" id=\"chart-spectrum-unloaded\""), "spectrum chart missing");
    assert!(html.contains("<svg"));
    assert!(html.contains("3.00x"), "p50 ratio 300/100 missing");
    assert!(html.contains("not available: run cargo bench --bench codec"));
    assert!(html.contains("not recorded"), "broker settings must say not recorded");
    let summary = std::fs::read_to_string(&written.summary).unwrap();
    assert!(summary.contains("| p50 latency (closed c=1) | 300 µs | 100 µs | 3.00x |"), "{summary}");
    let charts = super::Report::load(&dir, &dir).unwrap().write_charts(&dir.join("charts")).unwrap();
    assert!(charts.iter().any(|p| p.ends_with("spectrum-unloaded.svg")), "{charts:?}");
    assert!(super::write(&dir.join("absent"), &dir).unwrap_err().to_string().contains("results.json"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn conclusion_bounds_what_a_faster_codec_can_save() {
    let row = |kind, rest, grpc| verdict::VerdictRow {
        kind,
        dimension: format!("{kind:?}"),
        basis: String::new(),
        unit: "µs",
        rest: Some(rest),
        grpc: Some(grpc),
        ratio: None,
        flags: vec![],
    };
    let rows = vec![
        row(verdict::RowKind::Encode, 4.0, 1.0),
        row(verdict::RowKind::Decode, 6.0, 2.0),
        row(verdict::RowKind::Load(Dimension::P50(C1)), 200.0, 100.0),
    ];
    let text = verdict::conclusion(Profile::Small, &rows, &[]).join("\n");
    assert!(text.contains("takes 10.00 µs with JSON and 3.00 µs with protobuf: 5.0 %"), "{text}");
}

#[test]
fn every_arm_gets_a_stable_colour_of_its_own() {
    use crate::report::charts::transport_color;
    let names: Vec<String> = crate::transport::registry::standard_arms()
        .iter()
        .map(|a| a.name().to_owned())
        .chain(["grpc-ch4", "amqp-json-durable", "kafka-fetchwait1", "rest-proto-h2", "nats-w4"].map(String::from))
        .collect();
    let colours: Vec<_> = names.iter().map(|n| transport_color(&Arm::parse(n).unwrap())).collect();
    for (i, a) in colours.iter().enumerate() {
        for (j, b) in colours.iter().enumerate().skip(i + 1) {
            assert_ne!(a, b, "{} and {} share a colour", names[i], names[j]);
        }
    }
    // Derived from the name alone: the same arm gets the same colour in every run and report.
    assert_eq!(transport_color(&Arm::parse("rest-h2").unwrap()), colours[5]);
}

#[test]
fn charts_with_many_arms_are_split_at_eight_lines() {
    use crate::report::charts::{spectrum_chart, MAX_SERIES_PER_CHART};
    let names: Vec<String> = crate::transport::registry::standard_arms().iter().map(|a| a.name().to_owned()).collect();
    let arms: Vec<ArmResult> = names.iter().map(|n| arm(n, &[100, 120], &[Some(1.0); 2])).collect();
    let charts = spectrum_chart(&section(&arms), C1, "spectrum-unloaded").unwrap();
    // 7 direct arms fit in one chart; the 6 broker arms get a chart of their own.
    let direct = names.iter().filter(|n| Arm::parse(n).unwrap().broker().is_none()).count();
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
