//! Adapters from each input to a [`MetricSet`]: criterion baselines, instruction counts, and
//! `results.json`.
//!
//! | input | read by | context that must match |
//! |---|---|---|
//! | `target/criterion/<bench id>/<baseline>/estimates.json` | [`criterion`] | `kind = criterion` |
//! | instruction baseline file (`benches/baselines/instructions.json`) | [`read_file`] | `kind = instructions` |
//! | gungraun output (`target/gungraun/...`, `summary.json` per bench) | [`gungraun`] | `kind = instructions` |
//! | `results/<run-id>/results.json` | [`read_file`] → [`results_json`] | `kind`, `scenario`, `transports` |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::results::{ArmStatus, Measurement, PointResult, RunResults, SCHEMA_VERSION};
use crate::scenario::LoadSpec;

use super::{Better, Metric, MetricClass, MetricSet};
use crate::{Error, Result};

/// The `format` tag of an instruction baseline file.
pub const INSTRUCTIONS_FORMAT: &str = "paybench-instructions/1";

fn input_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Input { path: path.display().to_string(), message: message.into() }
}

/// A missing input is a missing baseline (its own exit code); other I/O failures are errors.
fn open_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::BaselineMismatch(format!("{} does not exist", path.display()))
    } else {
        Error::io(format!("{what} {}", path.display()), e)
    }
}

fn read_json(path: &Path) -> Result<Value> {
    // A committed reference run stores its results gzipped; both forms read the same.
    let (read, text) = crate::results::read_stored(path);
    let text = text.map_err(|e| open_error("read", &read, e))?;
    serde_json::from_str(&text).map_err(|e| input_error(path, format!("not valid JSON: {e}")))
}

fn context(kind: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("kind".to_owned(), kind.to_owned())])
}

/// Reads a file given on the command line: an instruction baseline (it has
/// `"format": "paybench-instructions/1"`) or a `results.json`. A directory is read as gungraun
/// output.
pub fn read_file(path: &Path) -> Result<MetricSet> {
    if path.is_dir() {
        return gungraun(path);
    }
    let value = read_json(path)?;
    if value.get("format").and_then(Value::as_str) == Some(INSTRUCTIONS_FORMAT) {
        instructions(&value, path)
    } else {
        let results: RunResults = serde_json::from_value(value).map_err(|e| {
            input_error(path, format!("not a paybench results.json (schema version {SCHEMA_VERSION}): {e}"))
        })?;
        Ok(results_json(&results, path))
    }
}

// ---------------------------------------------------------------------------------------------
// criterion

/// Reads every bench saved under baseline name `baseline` in criterion's output directory
/// (`<dir>/<group>/<bench...>/<baseline>/estimates.json`): one latency metric per bench, named by
/// its path under `dir`, valued by the mean with criterion's confidence interval as the noise.
pub fn criterion(dir: &Path, baseline: &str) -> Result<MetricSet> {
    if !dir.is_dir() {
        return Err(Error::BaselineMismatch(format!("criterion directory {} does not exist", dir.display())));
    }
    let files = files_or_mismatch(dir, "estimates.json", Some(baseline), || {
        format!(
            "no criterion baseline named {baseline:?} under {} (save one with `cargo bench -- --save-baseline {baseline}`)",
            dir.display()
        )
    })?;
    let mut metrics = Vec::with_capacity(files.len());
    for file in files {
        metrics.push(criterion_metric(dir, &file)?);
    }
    Ok(MetricSet { source: format!("{} (baseline {baseline})", dir.display()), context: context("criterion"), metrics })
}

fn criterion_metric(root: &Path, file: &Path) -> Result<Metric> {
    let estimate = crate::criterion_data::read_path(file)?;
    // The bench id is the path between the criterion root and the baseline folder.
    let bench_dir = file.parent().and_then(Path::parent).unwrap_or(root);
    let name = bench_dir
        .strip_prefix(root)
        .unwrap_or(bench_dir)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    Ok(Metric {
        name,
        class: MetricClass::Latency,
        unit: "ns".to_owned(),
        better: Better::Lower,
        samples: vec![estimate.mean_ns],
        interval: Some((estimate.mean_lower_ns, estimate.mean_upper_ns)),
        point: Some(estimate.mean_ns),
    })
}

// ---------------------------------------------------------------------------------------------
// instruction counts

/// Reads an instruction baseline file:
/// `{"format": "paybench-instructions/1", "instructions": {"<bench id>": <count>, ...}}`.
fn instructions(value: &Value, path: &Path) -> Result<MetricSet> {
    let counts = value
        .get("instructions")
        .and_then(Value::as_object)
        .ok_or_else(|| input_error(path, "no \"instructions\" object"))?;
    let mut metrics = Vec::with_capacity(counts.len());
    for (name, count) in counts {
        let count = count.as_f64().ok_or_else(|| input_error(path, format!("instructions.{name} is not a number")))?;
        metrics.push(instruction_metric(name, count));
    }
    Ok(MetricSet { source: path.display().to_string(), context: context("instructions"), metrics })
}

fn instruction_metric(name: &str, count: f64) -> Metric {
    Metric::from_samples(name, MetricClass::Instructions, "instructions", Better::Lower, vec![count])
}

/// Reads gungraun's output directory (`target/gungraun`, or a bench's folder below it): the
/// callgrind `Ir` (instructions executed) of every `summary.json`, written when the benches run with
/// `--save-summary` (or `GUNGRAUN_SAVE_SUMMARY=json`). Bench ids are `<group>::<function>.<id>`.
pub fn gungraun(dir: &Path) -> Result<MetricSet> {
    let files = files_or_mismatch(dir, "summary.json", None, || {
        format!("no gungraun summary.json under {} (run the benches with GUNGRAUN_SAVE_SUMMARY=json)", dir.display())
    })?;
    let mut metrics = Vec::with_capacity(files.len());
    for file in &files {
        let summary = read_json(file)?;
        let (name, ir) = gungraun_instructions(&summary).map_err(|message| input_error(file, message))?;
        metrics.push(instruction_metric(&name, ir));
    }
    Ok(MetricSet { source: dir.display().to_string(), context: context("instructions"), metrics })
}

/// [`find_files`], sorted; none found is a missing baseline, described by `missing`.
fn files_or_mismatch(
    dir: &Path,
    file_name: &str,
    parent_name: Option<&str>,
    missing: impl FnOnce() -> String,
) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    find_files(dir, file_name, parent_name, &mut files)?;
    files.sort();
    if files.is_empty() {
        return Err(Error::BaselineMismatch(missing()));
    }
    Ok(files)
}

/// Collects every `file_name` below `dir` (whose parent folder is `parent_name`, when given),
/// skipping criterion's `report` folders.
fn find_files(dir: &Path, file_name: &str, parent_name: Option<&str>, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| open_error("read directory", dir, e))?;
    let parent_matches = parent_name.is_none_or(|name| dir.file_name().is_some_and(|n| n == name));
    for entry in entries {
        let path = entry.map_err(|e| Error::io(format!("read directory {}", dir.display()), e))?.path();
        if path.is_dir() {
            if path.file_name().is_none_or(|n| n != "report") {
                find_files(&path, file_name, parent_name, out)?;
            }
        } else if parent_matches && path.file_name().is_some_and(|n| n == file_name) {
            out.push(path);
        }
    }
    Ok(())
}

/// The bench id and the new run's `Ir` of one gungraun `summary.json`.
fn gungraun_instructions(summary: &Value) -> std::result::Result<(String, f64), String> {
    let text = |key: &str| summary.get(key).and_then(Value::as_str);
    let group = text("group").ok_or("no \"group\" (not a gungraun summary.json?)")?;
    let function = text("function_name").ok_or("no \"function_name\"")?;
    let name = match text("id") {
        Some(id) => format!("{group}::{function}.{id}"),
        None => format!("{group}::{function}"),
    };
    let ir = summary
        .pointer("/profiles/0/data/total/metrics/Ir/values/new")
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("no callgrind Ir at profiles[0].data.total.metrics.Ir.values.new for {name}"))?;
    Ok((name, ir))
}

/// Writes an instruction baseline file from a metric set (as read by [`gungraun`]).
pub fn instructions_json(set: &MetricSet) -> Value {
    let counts: serde_json::Map<String, Value> =
        set.metrics.iter().map(|m| (m.name.clone(), Value::from(m.value().round() as u64))).collect();
    serde_json::json!({
        "format": INSTRUCTIONS_FORMAT,
        "tool": "gungraun (valgrind callgrind), Ir = instructions executed",
        "instructions": counts,
    })
}

// ---------------------------------------------------------------------------------------------
// results.json

/// The metrics of a `results.json`, read with the same types `paybench run` writes
/// ([`RunResults`]). Each measured point of each arm that ran gives, with one sample per
/// repetition:
///
/// | metric | class | better |
/// |---|---|---|
/// | `p50_us`, `p99_us`, `p999_us` (corrected latency) | latency | lower |
/// | `achieved_rate_per_s` (closed loop only: in open loop it is the offered rate) | throughput | higher |
/// | `client_sent_bytes_per_call`, `client_received_bytes_per_call`, `worker_*` (brokers) | bytes | lower |
/// | `client_cpu_us_per_call`, `server_cpu_us_per_call`, `broker_cpu_us_per_call` | CPU | lower |
///
/// and each sweep its `max_sustainable_rate_per_s` (throughput). Names are
/// `<scenario>/<transport>/<profile>/<load>/<metric>`, e.g. `quick/grpc/small/closed c=16/p99_us`.
/// Arms that did not run contribute nothing, so a transport that ran in one file but not the other
/// shows up as a context mismatch (`transports`), not as a regression.
pub fn results_json(results: &RunResults, path: &Path) -> MetricSet {
    let mut metrics = Vec::new();
    let mut transports = Vec::new();
    for arm in results.arms.iter().filter(|a| a.status == ArmStatus::Ran) {
        transports.push(arm.transport.as_str());
        let arm_name = format!("{}/{}/{}", arm.scenario, arm.transport, arm.profile);
        for point in &arm.points {
            let prefix = format!("{arm_name}/{}", point.load.label());
            point_metrics(&prefix, point, &mut metrics);
        }
        if let Some(sweep) = &arm.sweep {
            let samples: Vec<f64> =
                sweep.repetitions.iter().map(|run| run.max_sustainable_rate_per_s.unwrap_or(0.0)).collect();
            push(
                &mut metrics,
                format!("{arm_name}/sweep/max_sustainable_rate_per_s"),
                MetricClass::Throughput,
                samples,
            );
        }
    }
    transports.sort_unstable();
    transports.dedup();
    let scenarios: Vec<&str> = results.scenarios.iter().map(|s| s.name.as_str()).collect();
    let mut ctx = context("results");
    ctx.insert("scenario".to_owned(), scenarios.join(","));
    ctx.insert("transports".to_owned(), transports.join(","));
    MetricSet { source: path.display().to_string(), context: ctx, metrics }
}

fn point_metrics(prefix: &str, point: &PointResult, metrics: &mut Vec<Metric>) {
    let per_rep =
        |f: &dyn Fn(&Measurement) -> Option<f64>| -> Vec<f64> { point.repetitions.iter().filter_map(f).collect() };
    let hop_bytes = |hop: &'static str, sent: bool| {
        per_rep(&move |m| {
            let h = m.wire.as_ref()?.hops.iter().find(|h| h.hop == hop)?;
            Some(if sent { h.sent_bytes_per_call } else { h.received_bytes_per_call })
        })
    };
    let mut series = vec![
        ("p50_us", MetricClass::Latency, per_rep(&|m| Some(m.latency.p50_us))),
        ("p99_us", MetricClass::Latency, per_rep(&|m| Some(m.latency.p99_us))),
        ("p999_us", MetricClass::Latency, per_rep(&|m| Some(m.latency.p999_us))),
        ("client_sent_bytes_per_call", MetricClass::Bytes, hop_bytes("client", true)),
        ("client_received_bytes_per_call", MetricClass::Bytes, hop_bytes("client", false)),
        ("worker_sent_bytes_per_call", MetricClass::Bytes, hop_bytes("worker", true)),
        ("worker_received_bytes_per_call", MetricClass::Bytes, hop_bytes("worker", false)),
        ("client_cpu_us_per_call", MetricClass::Cpu, per_rep(&|m| m.cpu.client_us_per_call)),
        ("server_cpu_us_per_call", MetricClass::Cpu, per_rep(&|m| m.cpu.server_us_per_call)),
        ("broker_cpu_us_per_call", MetricClass::Cpu, per_rep(&|m| m.cpu.broker_us_per_call)),
    ];
    // In open loop the achieved rate is the offered rate: not a property of the change under test.
    if matches!(point.load, LoadSpec::Closed { .. }) {
        series.push(("achieved_rate_per_s", MetricClass::Throughput, per_rep(&|m| Some(m.achieved_rate_per_s))));
    }
    for (name, class, samples) in series {
        push(metrics, format!("{prefix}/{name}"), class, samples);
    }
}

fn push(metrics: &mut Vec<Metric>, name: String, class: MetricClass, samples: Vec<f64>) {
    if samples.is_empty() {
        return;
    }
    let (unit, better) = match class {
        MetricClass::Throughput => ("1/s", Better::Higher),
        MetricClass::Bytes => ("bytes", Better::Lower),
        _ => ("us", Better::Lower),
    };
    metrics.push(Metric::from_samples(name, class, unit, better, samples));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_results_give_per_repetition_metrics_for_every_arm_that_ran() {
        // The steady-state reference run: the committed run with a `tcp` arm (an outage run has
        // experiments only).
        let has_tcp = |r: &RunResults| r.arms.iter().any(|a| a.transport.as_str() == "tcp");
        let (path, results) = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../results"))
            .unwrap()
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|d| crate::results::has_results(d))
            .map(|d| d.join("results.json"))
            .find_map(|p| RunResults::read(&p).ok().filter(has_tcp).map(|r| (p, r)))
            .expect("a committed reference run with a tcp arm under results/");
        let set = read_file(&path).unwrap();
        let tcp = results
            .arms
            .iter()
            .find(|a| a.transport.as_str() == "tcp" && a.status == ArmStatus::Ran)
            .expect("the reference run has a tcp arm");
        let point = &tcp.points[0];
        let name = format!("{}/tcp/{}/{}/p99_us", tcp.scenario, tcp.profile, point.load.label());
        let metric = set.metrics.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("{name} missing"));
        let expected: Vec<f64> = point.repetitions.iter().map(|m| m.latency.p99_us).collect();
        assert_eq!(metric.samples, expected);
        assert_eq!((metric.class, metric.better), (MetricClass::Latency, Better::Lower));
        assert!(set.context["transports"].split(',').any(|t| t == "tcp"), "{:?}", set.context);
        let bytes = set
            .metrics
            .iter()
            .find(|m| m.name.starts_with(&format!("{}/tcp/", tcp.scenario)) && m.class == MetricClass::Bytes);
        assert!(bytes.is_some_and(|m| m.samples.iter().all(|b| *b > 0.0)), "tcp wire bytes are measured");
    }

    #[test]
    fn a_file_that_is_neither_results_nor_instructions_is_named() {
        let dir = std::env::temp_dir().join(format!("paybench-sources-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("results.json");
        std::fs::write(&path, r#"{"schema_version": 1, "arms": "nope"}"#).unwrap();
        let err = read_file(&path).unwrap_err().to_string();
        assert!(err.contains("results.json") && err.contains("not a paybench results.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn gungraun_summary_gives_id_and_new_ir() {
        let summary = serde_json::json!({
            "group": "codec", "function_name": "encode_json", "id": "small",
            "profiles": [{"data": {"total": {"metrics": {"Ir": {"values": {"new": 1234, "old": 1200}}}}}}]
        });
        assert_eq!(gungraun_instructions(&summary), Ok(("codec::encode_json.small".to_owned(), 1234.0)));
        let err = gungraun_instructions(&serde_json::json!({"group": "g", "function_name": "f"})).unwrap_err();
        assert!(err.contains("no callgrind Ir") && err.contains("g::f"), "{err}");
    }
}
