//! Proof that the instruction-count gate bites: with the `inject-slowdown` feature (every encode
//! does its work twice, see `codec::injected_slowdown`) both `regression-gate.sh` and
//! `paybench compare` fail; without it both pass.
//!
//! It builds the benches in the bench profile and runs them under callgrind three times (on the
//! `codec::encode` cases only, one per codec and profile, to stay around a minute once built), so
//! it is `#[ignore]`d in the everyday `cargo test`; run it with
//! `harness/scripts/regression-gate.sh --self-test` or
//! `cargo test -p paybench --test compare_gate -- --ignored`. It needs valgrind and
//! gungraun-runner (`harness/scripts/install-deps.sh`) and fails, naming them, when they are absent.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FILTER: &str = "instructions::codec::encode::*";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compare-gate").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs the gate script on [`FILTER`] with its own output directory.
fn gate(dir: &Path, args: &[&str]) -> Output {
    Command::new(workspace().join("harness/scripts/regression-gate.sh"))
        .args(args)
        .arg(FILTER)
        .env("PAYBENCH_GATE_DIR", dir)
        .output()
        .expect("run regression-gate.sh")
}

fn compare(baseline: &Path, candidate: &Path) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_paybench"))
        .current_dir(workspace())
        .arg("compare")
        .args([baseline, candidate])
        .args(["--format", "json"])
        .output()
        .expect("run paybench compare");
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("compare output is not JSON ({e}): {}", text(&out)));
    (out.status.code(), json)
}

fn rows(json: &serde_json::Value) -> &Vec<serde_json::Value> {
    json["metrics"].as_array().expect("metrics array")
}

#[test]
#[ignore = "builds the benches and runs callgrind (about a minute once built); run via regression-gate.sh --self-test"]
fn instruction_gate_fails_on_an_injected_slowdown_and_passes_without_it() {
    for tool in ["valgrind", "gungraun-runner"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().map(|o| o.status.success());
        assert!(found.unwrap_or(false), "{tool} is not installed: run harness/scripts/install-deps.sh");
    }
    let baseline = scratch("baseline").join("instructions.json");

    let out = gate(&scratch("update"), &["--update", "--baseline", &baseline.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "writing the baseline failed: {}", text(&out));

    // Unchanged code: the gate passes and compare calls every case unchanged.
    let clean_dir = scratch("clean");
    let out = gate(&clean_dir, &["--baseline", &baseline.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "the gate flagged unchanged code: {}", text(&out));
    let (code, json) = compare(&baseline, &clean_dir.join("instructions.json"));
    assert_eq!(code, Some(0));
    // One encode case per codec and profile: a profile without its case fails here.
    assert_eq!(rows(&json).len(), 2 * paybench::payload::Profile::ALL.len(), "{json}");
    assert!(rows(&json).iter().all(|r| r["verdict"] == "unchanged"), "{json}");

    // Every encode doing its work twice: both the gate and compare fail, on every encode case.
    let slow_dir = scratch("slow");
    let out =
        gate(&slow_dir, &["--baseline", &baseline.display().to_string(), "--features", "paybench/inject-slowdown"]);
    assert_eq!(out.status.code(), Some(1), "the gate missed the injected slowdown: {}", text(&out));
    assert!(text(&out).contains("FAIL: instruction counts regressed"), "{}", text(&out));
    let (code, json) = compare(&baseline, &slow_dir.join("instructions.json"));
    assert_eq!(code, Some(1), "{json}");
    for row in rows(&json) {
        assert_eq!(row["verdict"], "regressed", "{row}");
        let change = row["change_pct"].as_f64().expect("change_pct");
        let threshold = row["threshold_pct"].as_f64().expect("threshold_pct");
        assert!(change > threshold, "{row}");
    }
}
