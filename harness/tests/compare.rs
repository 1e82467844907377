//! `paybench compare` end to end through the binary: verdicts, exit codes, formats and bad input.
//!
//! Exit codes under test: 0 nothing regressed, 1 regressed, 2 error (corrupt input), 3 baseline
//! missing or not comparable.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;

fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compare").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn write(path: &Path, value: &serde_json::Value) -> PathBuf {
    std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
    std::fs::write(path, serde_json::to_vec_pretty(value).expect("json")).expect("write");
    path.to_owned()
}

fn paybench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_paybench"))
        .arg("compare")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run paybench")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs `paybench compare args`, checks its exit code and that its output contains `needle`, and
/// returns the output.
fn expect(args: &[&str], code: i32, needle: &str) -> String {
    let out = paybench(args);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(code), "{all}");
    assert!(all.contains(needle), "{needle:?} not in: {all}");
    all
}

fn instructions(dir: &Path, name: &str, counts: &[(&str, u64)]) -> String {
    let counts: serde_json::Map<_, _> = counts.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    let path = write(&dir.join(name), &json!({"format": "paybench-instructions/1", "instructions": counts}));
    path.display().to_string()
}

#[test]
fn instruction_counts_gate_at_the_configured_threshold() {
    let dir = scratch("instructions");
    let base =
        instructions(&dir, "base.json", &[("codec::encode.json_small", 10_000), ("codec::decode.json_small", 20_000)]);
    let same =
        instructions(&dir, "same.json", &[("codec::encode.json_small", 10_150), ("codec::decode.json_small", 20_000)]);
    let slow =
        instructions(&dir, "slow.json", &[("codec::encode.json_small", 10_250), ("codec::decode.json_small", 20_000)]);

    expect(&[&base, &same], 0, "+1.50%");

    let table = expect(&[&base, &slow], 1, "regressed");
    let row = table.lines().find(|l| l.starts_with("codec::encode.json_small")).expect("row");
    assert!(row.contains("+2.50%") && row.ends_with("regressed"), "{row}");

    // A looser threshold from a config file lets the same change pass.
    let config = dir.join("loose.toml");
    std::fs::write(&config, "[thresholds]\ninstructions_pct = 5.0\n").expect("write config");
    let out = paybench(&[&base, &slow, "--config", &config.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn machine_formats_are_valid_json_with_candidate_values() {
    let dir = scratch("formats");
    let base = instructions(&dir, "base.json", &[("codec::encode.protobuf_typical", 5_000)]);
    let cand = instructions(&dir, "cand.json", &[("codec::encode.protobuf_typical", 4_000)]);
    let parse = |out: &Output| serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("stdout is JSON");

    let out = paybench(&[&base, &cand, "--format", "bmf"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(parse(&out)["codec::encode.protobuf_typical"]["instructions"]["value"], 4000.0);

    let out = paybench(&[&base, &cand, "--format", "github-action-benchmark"]);
    assert_eq!(parse(&out)[0]["unit"], "instructions");

    let out = paybench(&[&base, &cand, "--format", "json"]);
    assert_eq!(parse(&out)["metrics"][0]["verdict"], "improved");

    let out = paybench(&[&base, &cand, "--format", "markdown"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("| `codec::encode.protobuf_typical` |"));
}

fn estimates(dir: &Path, bench: &str, baseline: &str, mean_ns: f64, half_width_ns: f64) {
    let ci = |point: f64| json!({"confidence_level": 0.95, "lower_bound": point - half_width_ns, "upper_bound": point + half_width_ns});
    let estimate =
        json!({"point_estimate": mean_ns, "standard_error": half_width_ns / 2.0, "confidence_interval": ci(mean_ns)});
    write(
        &dir.join(bench).join(baseline).join("estimates.json"),
        &json!({"mean": estimate, "median": estimate, "std_dev": estimate}),
    );
}

#[test]
fn criterion_baselines_use_confidence_intervals() {
    let dir = scratch("criterion");
    // 20 % slower but the intervals overlap: noise, not a regression.
    estimates(&dir, "latency/grpc/small", "main", 100_000.0, 15_000.0);
    estimates(&dir, "latency/grpc/small", "noisy", 120_000.0, 15_000.0);
    // 20 % slower with tight intervals: a regression.
    estimates(&dir, "latency/grpc/small", "slow", 120_000.0, 1_000.0);
    let crit = dir.display().to_string();

    expect(&["--criterion", &crit, "--baseline", "main", "--candidate", "noisy"], 0, "latency/grpc/small");

    let out = paybench(&["--criterion", &crit, "--baseline", "main", "--candidate", "slow"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    expect(
        &["--criterion", &crit, "--baseline", "main", "--candidate", "nosuch"],
        3,
        r#"no criterion baseline named "nosuch""#,
    );
}

/// The test fixture run (`tests/fixtures/small-run/results.json`, a short real run of a few arms
/// kept with the tests so that replacing the reference run under `results/` cannot break them), as
/// JSON to mutate.
fn reference_results() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small-run/results.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())))
        .expect("valid JSON")
}

/// Applies `f` to every measurement of every point of the arms of `transport`.
fn each_measurement(run: &mut serde_json::Value, transport: &str, f: impl Fn(&mut serde_json::Value)) {
    for arm in run["arms"].as_array_mut().expect("arms") {
        if arm["transport"] != transport {
            continue;
        }
        for point in arm["points"].as_array_mut().expect("points") {
            for m in point["repetitions"].as_array_mut().expect("repetitions") {
                f(m);
            }
        }
    }
}

#[test]
fn results_json_regressions_and_mismatches_are_told_apart() {
    let dir = scratch("results");
    let reference = reference_results();
    let base = write(&dir.join("base/results.json"), &reference).display().to_string();

    // The same run against itself: nothing regressed.
    expect(&[&base, &base], 0, "0 regressed");

    // tcp's tail three times worse in every repetition: a regression, named.
    let mut slower = reference.clone();
    each_measurement(&mut slower, "tcp", |m| {
        for key in ["p99_us", "p999_us"] {
            let v = m["latency"][key].as_f64().expect("number");
            m["latency"][key] = json!(v * 3.0);
        }
    });
    let slower = write(&dir.join("slower/results.json"), &slower).display().to_string();
    let out = expect(&[&base, &slower], 1, "regressed");
    assert!(out.lines().any(|l| l.contains("/tcp/") && l.contains("p99_us") && l.contains("regressed")), "{out}");

    // A different scenario name and a missing transport are mismatches (exit 3), not verdicts.
    let mut other = reference.clone();
    for s in other["scenarios"].as_array_mut().expect("scenarios") {
        s["name"] = json!("soak");
    }
    other["arms"].as_array_mut().expect("arms").retain(|a| a["transport"] != "tcp");
    let other = write(&dir.join("other/results.json"), &other).display().to_string();
    let err = expect(&[&base, &other], 3, "baseline mismatch");
    assert!(err.contains(r#"in the candidate"#) && err.contains("soak"), "{err}");
    assert!(err.contains("transports is"), "{err}");
}

#[test]
fn bad_input_is_named_with_its_own_exit_code() {
    let dir = scratch("bad");
    let good = instructions(&dir, "good.json", &[("a", 1)]);
    let corrupt = dir.join("corrupt.json");
    std::fs::write(&corrupt, b"{\"format\": \"paybench-instr").expect("write");
    let corrupt = corrupt.display().to_string();

    expect(&[&good, &corrupt], 2, &format!("{corrupt}: not valid JSON"));

    let missing = dir.join("missing.json").display().to_string();
    expect(&[&missing, &good], 3, &format!("{missing} does not exist"));

    let wrong = write(&dir.join("wrong/results.json"), &json!({"schema_version": 1, "arms": []}));
    expect(&[&good, &wrong.display().to_string()], 2, "not a paybench results.json");

    let renamed = instructions(&dir, "renamed.json", &[("b", 1)]);
    expect(&[&good, &renamed], 3, "metrics missing from the candidate: a");

    // Comparing two different kinds of input is a mismatch, not a verdict.
    let results = write(&dir.join("results.json"), &reference_results());
    expect(
        &[&good, &results.display().to_string()],
        3,
        r#"kind is "instructions" in the baseline but "results" in the candidate"#,
    );
}
