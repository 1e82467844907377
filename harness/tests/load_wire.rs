//! Cross-checks the wire-byte figures (kernel per-socket TCP counters read by `ss`) against an
//! independent count: the loopback interface counters of a network namespace this test creates,
//! in which nothing but one `paybench run` talks. `lo` counts each IP packet once, without a
//! link-layer header, so its byte count must match the sum over hops of sent + received L3 bytes.
//!
//! Needs root (`ip netns add`), as on the project's machines and CI. Set PAYBENCH_SKIP_NETNS=1 to
//! skip it explicitly elsewhere; without root and without that variable it fails, saying why.

use std::path::Path;
use std::process::Command;

use paybench::results::RunResults;

const SCENARIO: &str = r#"
name = "wire-check"
transports = ["rest", "grpc", "tcp"]
profiles = ["typical"]
repetitions = 1
warmup_ms = 0
duration_ms = 700
timeout_ms = 2000

[[load]]
model = "closed"
concurrency = 2
"#;

struct Netns(String);

impl Netns {
    fn create() -> Self {
        let name = format!("pbwire{}", std::process::id());
        let ok = |args: &[&str]| Command::new("ip").args(args).status().is_ok_and(|s| s.success());
        assert!(
            ok(&["netns", "add", &name]) && ok(&["-n", &name, "link", "set", "lo", "up"]),
            "cannot create network namespace {name} (needs root and iproute2); set PAYBENCH_SKIP_NETNS=1 to skip"
        );
        Netns(name)
    }

    fn lo_counter(&self, which: &str) -> u64 {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, "cat", &format!("/sys/class/net/lo/statistics/{which}")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn wire_bytes_match_interface_counters_in_a_private_namespace() {
    if std::env::var("PAYBENCH_SKIP_NETNS").as_deref() == Ok("1") {
        eprintln!("PAYBENCH_SKIP_NETNS=1: wire-bytes cross-check not run");
        return;
    }
    let ns = Netns::create();
    let dir = std::env::temp_dir().join(format!("paybench-wire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("wire.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let out_dir = dir.join("out");

    let (bytes0, packets0) = (ns.lo_counter("tx_bytes"), ns.lo_counter("tx_packets"));
    let status = Command::new("ip")
        .args(["netns", "exec", &ns.0, env!("CARGO_BIN_EXE_paybench"), "run"])
        .arg(&scenario)
        .arg("--out")
        .arg(&out_dir)
        .status()
        .unwrap();
    assert!(status.success());
    let (lo_bytes, lo_packets) = (ns.lo_counter("tx_bytes") - bytes0, ns.lo_counter("tx_packets") - packets0);

    let (measured_bytes, measured_segments, calls) = totals(&out_dir.join("results.json"));
    eprintln!("lo: {lo_bytes} B in {lo_packets} packets; ss: {measured_bytes} B in {measured_segments} segments over {calls} calls");
    // lo also saw what lies outside the measured windows: connection set-up and tear-down, the
    // preflight call per arm, HTTP/2 and gRPC settings. That is a few KB against hundreds of KB.
    assert!(measured_bytes <= lo_bytes, "ss counted more than the interface carried");
    let unexplained = (lo_bytes - measured_bytes) as f64 / lo_bytes as f64;
    assert!(unexplained < 0.03, "ss accounts for only {:.1}% of lo bytes", 100.0 * (1.0 - unexplained));
    assert!(measured_segments <= lo_packets && (lo_packets - measured_segments) as f64 / (lo_packets as f64) < 0.03);
    assert!(calls > 300, "too few calls ({calls}) for a meaningful check");
}

/// Sum over arms and hops of L3 bytes and segments both ways, and of calls.
fn totals(path: &Path) -> (u64, u64, u64) {
    let run = RunResults::read(path).unwrap();
    let mut bytes = 0;
    let mut segments = 0;
    let mut calls = 0;
    for arm in &run.arms {
        for m in arm.points.iter().flat_map(|p| &p.repetitions) {
            let wire = m.wire.as_ref().expect("wire bytes measured");
            calls += wire.calls;
            for hop in &wire.hops {
                bytes += hop.sent_bytes_total + hop.received_bytes_total;
                segments += hop.sent_segments_total + hop.received_segments_total;
            }
        }
    }
    (bytes, segments, calls)
}
