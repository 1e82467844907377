//! `paybench run` end to end through the binary: a malformed scenario is rejected before anything
//! runs, an unreachable target fails fast, and a small run writes a readable results.json in which
//! an unavailable broker arm is recorded while the direct arm's figures are complete.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use paybench::results::{ArmStatus, RunResults};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("paybench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the binary, killing it if it outlives `limit` (then the test fails).
fn paybench(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_paybench"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("paybench {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

const GOOD: &str = r#"
name = "tiny"
transports = ["tcp", "amqp"]
profiles = ["small"]
repetitions = 2
warmup_ms = 100
duration_ms = 300
timeout_ms = 1000

[[load]]
model = "closed"
concurrency = 4

[[load]]
model = "open"
rate_per_s = 500
max_in_flight = 8
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn rejected(text: &str, expect: &[&str]) {
    let dir = temp_dir("bad");
    let file = write(&dir, "bad.toml", text);
    let out_dir = dir.join("out");
    let out = paybench(&["run", &file, "--out", out_dir.to_str().unwrap()], Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.toml"), "names the file: {stderr}");
    for e in expect {
        assert!(stderr.contains(e), "expected {e:?} in: {stderr}");
    }
    assert!(!out_dir.exists(), "nothing may run or be written for a bad scenario");
}

#[test]
fn malformed_scenarios_are_rejected_naming_file_field_and_allowed_values() {
    rejected(&GOOD.replace("concurrency = 4", "concurency = 4"), &["concurency", "concurrency"]);
    rejected(&GOOD.replace("\"amqp\"", "\"grcp\""), &["grcp", "grpc-json", "rest-h2"]);
    rejected(&GOOD.replace("repetitions = 2", "repetitions = 0"), &["repetitions", "1..=100"]);
    // A timeout the latency histograms could not hold.
    rejected(&GOOD.replace("timeout_ms = 1000", "timeout_ms = 60000"), &["timeout_ms", "1..=59000"]);
    rejected(&GOOD.replace("model = \"open\"", "model = \"poisson\""), &["poisson", "closed", "open"]);
    rejected(&GOOD.replace("rate_per_s = 500", "rate_per_s = -5"), &["load[1].rate_per_s", "> 0"]);
    // Arms as tables: an unknown family, option or value names the arm and what is allowed.
    let table = |arm: &str| GOOD.replace(r#"["tcp", "amqp"]"#, &format!(r#"["tcp", {arm}]"#));
    rejected(&table(r#"{ family = "soap" }"#), &["soap", "families", "nats"]);
    rejected(&table(r#"{ family = "amqp", durable = "maybe" }"#), &["amqp", "durable", "true, false"]);
    rejected(&table(r#"{ family = "http", http = "3" }"#), &["http", "1.1, 2"]);
    rejected(&table(r#"{ family = "grpc", colour = "blue" }"#), &["colour", "channels"]);
    rejected(&table(r#"{ family = "grpc", codec = "xml" }"#), &["xml", "protobuf, json"]);
    rejected(&GOOD.replace(r#"["tcp", "amqp"]"#, r#"["tcp", "tcp"]"#), &["tcp", "listed twice"]);
    rejected(&table(r#"{ family = "sim", workers = 0 }"#), &["sim", "workers", "1..=64"]);
    rejected(&GOOD.replace("timeout_ms = 1000", "timeout_ms = 1000\nservice_busy_us = 2000000"), &["service_busy_us"]);
    // The capacity search's resolution and repetitions.
    let sweep = |extra: &str| {
        format!(
            "{GOOD}\n[sweep]\nstart_rate_per_s = 100\nstep_factor = 2.0\nmax_rate_per_s = 800\nslo_p99_ms = 5.0\nstep_warmup_ms = 10\nstep_duration_ms = 100\nmax_in_flight = 8\n{extra}\n"
        )
    };
    rejected(&sweep("resolution = 0.0"), &["sweep.resolution", ">= 0.005 and <= 1"]);
    rejected(&sweep("repetitions = 0"), &["sweep.repetitions", "1..=100"]);
    // Operating points: they need a search, the claim's pair, fractions inside (0, 1), known arms.
    let op = |extra: &str| format!("[operating_points]\nmax_in_flight = 8\n{extra}\n");
    rejected(&format!("{GOOD}\n{}", op("")), &["operating_points", "only with a [sweep]"]);
    rejected(&sweep(&op("")), &["operating_points", "transports include rest and grpc"]);
    let pair = |text: String| text.replace(r#"["tcp", "amqp"]"#, r#"["rest", "grpc"]"#);
    rejected(&pair(sweep(&op("fractions = [0.5, 1.5]"))), &["operating_points.fractions", "each > 0 and < 1"]);
    rejected(&pair(sweep(&op("arms = [\"rest-h2\"]"))), &["operating_points.arms", "rest, grpc", "rest-h2"]);
    // A profile restricted to arms the scenario does not run, or a profile it does not run.
    let restricted = |table: &str| GOOD.replace("timeout_ms = 1000", &format!("timeout_ms = 1000\n{table}"));
    rejected(&restricted("profile_transports = { small = [\"grpc\"] }"), &["profile_transports.small", "tcp, amqp"]);
    rejected(&restricted("profile_transports = { large = [\"tcp\"] }"), &["profile_transports", "large"]);
    // Server capacity: arms of the scenario that the replay client can drive, a sane concurrency.
    let capacity = |table: &str| format!("{GOOD}\n[server_capacity]\n{table}\n");
    rejected(&capacity("arms = [\"grpc\"]"), &["server_capacity.arms", "tcp, amqp", "grpc"]);
    rejected(&capacity("arms = [\"amqp\"]"), &["server_capacity.arms", "replay supports the families", "`http`"]);
    rejected(&capacity("arms = [\"tcp\"]\nconcurrency = 0"), &["server_capacity.concurrency", "1..=10000"]);
}

#[test]
fn a_bad_settings_file_or_variable_is_named_before_anything_runs() {
    let dir = temp_dir("settings");
    let file = write(&dir, "s.toml", GOOD);
    let out_dir = dir.join("out");
    for (settings, expect) in [
        ("[kafka]\nfetch_wait_max_ms = \"soon\"\n", vec!["settings.toml", "fetch_wait_max_ms", "0..=10000"]),
        ("[mqtt]\nqos = 1\n", vec!["settings.toml", "mqtt", "families"]),
        ("not toml at all [", vec!["settings.toml"]),
    ] {
        let path = write(&dir, "settings.toml", settings);
        let out =
            paybench(&["run", &file, "--settings", &path, "--out", out_dir.to_str().unwrap()], Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        for e in expect {
            assert!(stderr.contains(e), "expected {e:?} in: {stderr}");
        }
        assert!(!out_dir.exists(), "nothing may run for bad settings");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_paybench"))
        .args(["run", &file, "--out", out_dir.to_str().unwrap()])
        .env("PAYBENCH_AMQP_WORKERS", "many")
        .output()
        .expect("run paybench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("PAYBENCH_AMQP_WORKERS") && stderr.contains("1..=64"), "{stderr}");
    assert!(!out_dir.exists());
}

#[test]
fn a_bad_namespace_is_named_before_anything_runs() {
    let dir = temp_dir("namespace");
    let file = write(&dir, "s.toml", GOOD);
    let out_dir = dir.join("out");
    for bad in ["team.a", "sp ace", &"x".repeat(65)] {
        let out =
            paybench(&["run", &file, "--namespace", bad, "--out", out_dir.to_str().unwrap()], Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(bad) && stderr.contains("allowed are"), "{stderr}");
        assert!(!out_dir.exists(), "nothing may run for a bad namespace");
    }
}

#[test]
fn unreachable_target_fails_fast_with_a_clear_message() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = temp_dir("unreachable");
    let file = write(&dir, "s.toml", &GOOD.replace(r#"["tcp", "amqp"]"#, r#"["grpc", "rest"]"#));
    let target = format!("127.0.0.1:{port}");
    for transport in ["grpc", "rest"] {
        let out = paybench(
            &["run", &file, "--transports", transport, "--target", &target, "--out", dir.join("out").to_str().unwrap()],
            Duration::from_secs(30),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("target unreachable") && stderr.contains(&target), "{stderr}");
        assert!(stderr.contains(transport), "{stderr}");
    }
}

#[test]
fn run_writes_results_with_unavailable_broker_recorded() {
    let dir = temp_dir("run");
    // tcp's server capacity is measured too (replay client, closed loop of 2).
    let file = write(&dir, "s.toml", &format!("{GOOD}\n[server_capacity]\narms = [\"tcp\"]\nconcurrency = 2\n"));
    let out_dir = dir.join("out");
    // An address where no broker listens, so the amqp arm must be reported unavailable.
    let out = paybench(
        &["run", &file, "--out", out_dir.to_str().unwrap(), "--broker", "rabbitmq=amqp://user:secret@127.0.0.1:1/%2f"],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("amqp/small: UNAVAILABLE"), "{stdout}");
    let run = RunResults::read(&out_dir.join("results.json")).unwrap();
    assert!(std::fs::read_to_string(out_dir.join("results.csv")).unwrap().lines().count() == 1 + 4);
    assert!(!std::fs::read_to_string(out_dir.join("results.json")).unwrap().contains("secret"));
    let [tcp, amqp] = &run.arms[..] else { panic!("two arms expected") };
    assert!(matches!(amqp.status, ArmStatus::Unavailable { .. }));
    // Broker endpoints are a map keyed by broker, redacted; every arm records its resolved options.
    assert_eq!(run.settings.brokers["rabbitmq"], "amqp://user:***@127.0.0.1:1/%2f");
    assert!(run.settings.brokers.contains_key("nats") && run.settings.brokers.contains_key("kafka"));
    assert_eq!(amqp.options["workers"], "2");
    assert_eq!(amqp.options["durable"], "false");
    assert!(tcp.options.is_empty(), "tcp has no options: {:?}", tcp.options);
    assert_eq!(tcp.status, ArmStatus::Ran);
    assert_eq!(tcp.points.len(), 2);
    for m in tcp.points.iter().flat_map(|p| &p.repetitions) {
        assert!(
            m.accounting.balances() && m.accounting.sent > 0 && m.accounting.ok == m.accounting.sent,
            "{:?}",
            m.accounting
        );
        assert!(m.latency.p50_us > 0.0 && m.latency.p50_us <= m.latency.p99_us && m.latency.p99_us <= m.latency.max_us);
        assert_eq!(m.latency.histogram().unwrap().len(), m.accounting.ok);
        let hop = &m.wire.as_ref().expect("wire bytes").hops[0];
        // A small request is a few hundred protobuf bytes plus 13 bytes of framing and 52-byte headers.
        assert!(hop.sent_bytes_per_call > 100.0 && hop.received_bytes_per_call > 50.0, "{hop:?}");
        assert!(m.cpu.client_us_per_call.unwrap() > 0.0 && m.cpu.server_us_per_call.unwrap() > 0.0, "{:?}", m.cpu);
    }
    assert_eq!(tcp.points[0].summary.repetitions, 2);
    assert!(run.environment.cpu_cores > 0 && !run.environment.kernel.is_empty());
    let [capacity] = &run.server_capacity[..] else { panic!("one server-capacity arm: {:?}", run.server_capacity) };
    assert_eq!((capacity.transport.as_str(), capacity.client.as_str()), ("tcp", "replay"));
    assert_eq!(capacity.points.len(), 1, "its closed loop only: {:?}", capacity.points);
    assert_eq!(capacity.points[0].load, paybench::load::scenario::LoadSpec::Closed { concurrency: 2 });
    assert_eq!(capacity.points[0].repetitions.len(), 2);
    for m in &capacity.points[0].repetitions {
        assert!(m.accounting.ok > 0 && m.accounting.ok == m.accounting.sent, "{:?}", m.accounting);
        assert!(m.busy.as_ref().and_then(|b| b.server).is_some(), "the server's busy share is recorded");
    }
    assert!(
        run.settings.order.iter().flatten().any(|l| l == "tiny/tcp/small/server-capacity"),
        "{:?}",
        run.settings.order
    );
}

#[test]
fn committed_results_read_with_the_current_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results");
    let mut read = 0;
    for entry in std::fs::read_dir(&root).unwrap().flatten() {
        let file = entry.path().join("results.json");
        if !paybench::results::has_results(&entry.path()) {
            continue;
        }
        let run = RunResults::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for m in run.arms.iter().flat_map(|a| a.points.iter().flat_map(|p| &p.repetitions)) {
            assert!(m.accounting.balances(), "{}: {:?}", file.display(), m.accounting);
        }
        read += 1;
    }
    eprintln!("read {read} committed results file(s)");
    assert!(read > 0, "no committed results/*/results.json under {}", root.display());
}

/// Every committed `summary.md` is what `paybench report` writes from its `results.json` alone,
/// byte for byte: nothing in it comes from a file the run did not record (criterion's output, the
/// machine the report is rendered on).
#[test]
fn committed_summaries_regenerate_byte_for_byte_from_their_results() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results");
    let mut checked = 0;
    for entry in std::fs::read_dir(&root).unwrap().flatten() {
        let summary = entry.path().join("summary.md");
        if !paybench::results::has_results(&entry.path()) {
            continue;
        }
        let committed = std::fs::read_to_string(&summary).unwrap_or_else(|e| panic!("{}: {e}", summary.display()));
        let report = paybench::report::Report::load(&entry.path()).unwrap();
        let verdicts = report.verdicts().unwrap();
        let regenerated = paybench::report::markdown::render(&report, &verdicts).unwrap();
        if regenerated != committed {
            let line = regenerated.lines().zip(committed.lines()).position(|(a, b)| a != b);
            panic!(
                "{} differs from what `paybench report {}` writes (first differing line {line:?}); regenerate it",
                summary.display(),
                entry.path().display()
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no committed run under {}", root.display());
}
