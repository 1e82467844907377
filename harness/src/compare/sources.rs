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

use super::{Better, Metric, MetricClass, MetricSet};
use crate::{Error, Result};

/// The `format` tag of an instruction baseline file.
pub const INSTRUCTIONS_FORMAT: &str = "paybench-instructions/1";

fn input_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Input {
        path: path.display().to_string(),
        message: message.into(),
    }
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
    let text = std::fs::read_to_string(path).map_err(|e| open_error("read", path, e))?;
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
        results_json(&value, path)
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
    Ok(MetricSet {
        source: format!("{} (baseline {baseline})", dir.display()),
        context: context("criterion"),
        metrics,
    })
}

fn criterion_metric(root: &Path, file: &Path) -> Result<Metric> {
    let value = read_json(file)?;
    let number = |pointer: &str| {
        value
            .pointer(pointer)
            .and_then(Value::as_f64)
            .ok_or_else(|| input_error(file, format!("missing number at {pointer} (not a criterion estimates.json?)")))
    };
    let point = number("/mean/point_estimate")?;
    let interval = (
        number("/mean/confidence_interval/lower_bound")?,
        number("/mean/confidence_interval/upper_bound")?,
    );
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
        samples: vec![point],
        interval: Some(interval),
        point: Some(point),
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
        let count = count
            .as_f64()
            .ok_or_else(|| input_error(path, format!("instructions.{name} is not a number")))?;
        metrics.push(instruction_metric(name, count));
    }
    Ok(MetricSet {
        source: path.display().to_string(),
        context: context("instructions"),
        metrics,
    })
}

fn instruction_metric(name: &str, count: f64) -> Metric {
    Metric::from_samples(name, MetricClass::Instructions, "instructions", Better::Lower, vec![count])
}

/// Reads gungraun's output directory (`target/gungraun`, or a bench's folder below it): the
/// callgrind `Ir` (instructions executed) of every `summary.json`, written when the benches run with
/// `--save-summary` (or `GUNGRAUN_SAVE_SUMMARY=json`). Bench ids are `<group>::<function>.<id>`.
pub fn gungraun(dir: &Path) -> Result<MetricSet> {
    let files = files_or_mismatch(dir, "summary.json", None, || {
        format!(
            "no gungraun summary.json under {} (run the benches with GUNGRAUN_SAVE_SUMMARY=json)",
            dir.display()
        )
    })?;
    let mut metrics = Vec::with_capacity(files.len());
    for file in &files {
        let summary = read_json(file)?;
        let (name, ir) = gungraun_instructions(&summary).map_err(|message| input_error(file, message))?;
        metrics.push(instruction_metric(&name, ir));
    }
    Ok(MetricSet {
        source: dir.display().to_string(),
        context: context("instructions"),
        metrics,
    })
}

/// [`find_files`], sorted; none found is a missing baseline, described by `missing`.
fn files_or_mismatch(dir: &Path, file_name: &str, parent_name: Option<&str>, missing: impl FnOnce() -> String) -> Result<Vec<PathBuf>> {
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
    let counts: serde_json::Map<String, Value> = set
        .metrics
        .iter()
        .map(|m| (m.name.clone(), Value::from(m.value().round() as u64)))
        .collect();
    serde_json::json!({
        "format": INSTRUCTIONS_FORMAT,
        "tool": "gungraun (valgrind callgrind), Ir = instructions executed",
        "instructions": counts,
    })
}

// ---------------------------------------------------------------------------------------------
// results.json

/// Adapter for `results.json` (written by `paybench run`), as a plain JSON walk.
///
/// **Provisional**: `paybench::results` (the typed schema) was being written in parallel; once it
/// has landed, replace this walk with a typed adapter over its structs. What this walk expects:
/// - `scenario`: a string, or an object with a `name` string; becomes the `scenario` context.
/// - Every object that has a `transport` string contributes that name to the `transports` context
///   (a sorted, comma-separated set) and prefixes the metrics below it.
/// - Objects inside arrays are named by all their identifying fields (`transport`, `profile`,
///   `name`, `id`, `mode`, `concurrency`, `rate`, `offered_rate`: `grpc/small/concurrency=8`),
///   else by their index. Entries with the same identity are repetitions: their values become
///   samples of one metric.
/// - A numeric leaf, or an array of numbers (one value per repetition), is a metric when its key
///   says what it is: `*_ns`, `*_us`, `*_ms` latency (lower is better); `*per_s`,
///   `*_per_sec`, `*throughput*`, `*calls_per*` throughput (higher); `*bytes*` bytes (lower);
///   `*cpu*` CPU (lower). `cpu` wins over a time suffix (`cpu_us_per_call` is CPU). Other numbers
///   (counts, settings, environment) are not compared.
pub fn results_json(value: &Value, path: &Path) -> Result<MetricSet> {
    if !value.is_object() {
        return Err(input_error(path, "not a results.json (top level is not an object)"));
    }
    let mut walk = ResultsWalk::default();
    walk.visit(value, "", None);
    if walk.metrics.is_empty() {
        return Err(input_error(path, "no metrics found (expected keys such as p99_us, calls_per_s, wire_bytes_per_call)"));
    }
    let mut ctx = context("results");
    let scenario = value
        .get("scenario")
        .and_then(|s| s.as_str().or_else(|| s.get("name").and_then(Value::as_str)));
    if let Some(scenario) = scenario {
        ctx.insert("scenario".to_owned(), scenario.to_owned());
    }
    walk.transports.sort();
    walk.transports.dedup();
    ctx.insert("transports".to_owned(), walk.transports.join(","));
    Ok(MetricSet {
        source: path.display().to_string(),
        context: ctx,
        metrics: walk.metrics,
    })
}

#[derive(Default)]
struct ResultsWalk {
    metrics: Vec<Metric>,
    transports: Vec<String>,
}

const ID_FIELDS: [&str; 8] = ["transport", "profile", "name", "id", "mode", "concurrency", "rate", "offered_rate"];

impl ResultsWalk {
    fn visit(&mut self, value: &Value, prefix: &str, key: Option<&str>) {
        match value {
            Value::Object(map) => {
                if let Some(t) = map.get("transport").and_then(Value::as_str) {
                    self.transports.push(t.to_owned());
                }
                for (k, v) in map {
                    if k == "scenario" || k == "environment" || k == "env" || k == "config" {
                        continue;
                    }
                    self.visit(v, &join(prefix, k), Some(k));
                }
            }
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_number) => {
                let samples: Vec<f64> = items.iter().filter_map(Value::as_f64).collect();
                self.leaf(prefix, key, samples);
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.visit(item, &join(prefix, &element_name(item, i)), None);
                }
            }
            Value::Number(n) => self.leaf(prefix, key, n.as_f64().into_iter().collect()),
            _ => {}
        }
    }

    fn leaf(&mut self, name: &str, key: Option<&str>, samples: Vec<f64>) {
        let Some((class, unit, better)) = key.and_then(classify) else { return };
        // The same metric of the same element seen again (repetitions listed as separate entries)
        // adds samples instead of a second metric.
        match self.metrics.iter_mut().find(|m| m.name == name) {
            Some(metric) => metric.samples.extend(samples),
            None => self.metrics.push(Metric::from_samples(name, class, unit, better, samples)),
        }
    }
}

fn join(prefix: &str, part: &str) -> String {
    if prefix.is_empty() { part.to_owned() } else { format!("{prefix}/{part}") }
}

/// `grpc/small/concurrency=8`: every identifying field of an array element, in [`ID_FIELDS`]
/// order, or its index when it has none.
fn element_name(item: &Value, index: usize) -> String {
    let parts: Vec<String> = ID_FIELDS
        .iter()
        .filter_map(|field| match item.get(*field)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(format!("{field}={n}")),
            _ => None,
        })
        .collect();
    if parts.is_empty() { index.to_string() } else { parts.join("/") }
}

/// The class, unit and direction a `results.json` key announces, if any.
fn classify(key: &str) -> Option<(MetricClass, &'static str, Better)> {
    let key = key.to_ascii_lowercase();
    if key.contains("cpu") {
        let unit = time_unit(&key).unwrap_or("s");
        return Some((MetricClass::Cpu, unit, Better::Lower));
    }
    if key.contains("per_s") || key.contains("throughput") || key.contains("calls_per") || key.ends_with("_rps") {
        return Some((MetricClass::Throughput, "1/s", Better::Higher));
    }
    if key.contains("bytes") {
        return Some((MetricClass::Bytes, "bytes", Better::Lower));
    }
    time_unit(&key).map(|unit| (MetricClass::Latency, unit, Better::Lower))
}

fn time_unit(key: &str) -> Option<&'static str> {
    [("_ns", "ns"), ("_us", "us"), ("_ms", "ms")]
        .iter()
        .find(|(suffix, _)| key.ends_with(suffix) || key.contains(&format!("{suffix}_")))
        .map(|(_, unit)| *unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_walk_names_classifies_and_keeps_repetitions() {
        let value = serde_json::json!({
            "scenario": {"name": "quick", "duration_s": 10},
            "environment": {"cores": 2},
            "results": [
                {"transport": "grpc", "profile": "small", "latency": {"p99_us": [120.0, 125.0, 118.0]},
                 "calls_per_s": 9000.0, "wire_bytes_per_call": 310, "cpu_us_per_call": 40.0, "sent": 1000},
                {"transport": "rest", "profile": "small", "latency": {"p99_us": [200.0]},
                 "calls_per_s": 7000.0, "wire_bytes_per_call": 520, "cpu_us_per_call": 55.0, "sent": 1000}
            ]
        });
        let set = results_json(&value, Path::new("r.json")).unwrap();
        assert_eq!(set.context["scenario"], "quick");
        assert_eq!(set.context["transports"], "grpc,rest");
        let p99 = set.metrics.iter().find(|m| m.name == "results/grpc/small/latency/p99_us").unwrap();
        assert_eq!(p99.samples, vec![120.0, 125.0, 118.0]);
        assert_eq!((p99.class, p99.unit.as_str()), (MetricClass::Latency, "us"));
        let kinds: Vec<_> = set.metrics.iter().filter(|m| m.name.starts_with("results/rest/small/")).map(|m| (m.class, m.better)).collect();
        assert_eq!(kinds.len(), 4, "{:?}", set.metrics);
        assert!(kinds.contains(&(MetricClass::Throughput, Better::Higher)));
        assert!(kinds.contains(&(MetricClass::Cpu, Better::Lower)));
        assert!(kinds.contains(&(MetricClass::Bytes, Better::Lower)));
        assert!(!set.metrics.iter().any(|m| m.name.ends_with("sent") || m.name.contains("duration")));
    }

    #[test]
    fn results_entries_with_the_same_identity_are_repetitions() {
        let value = serde_json::json!({"runs": [
            {"transport": "tcp", "concurrency": 8, "p50_us": 61.0},
            {"transport": "tcp", "concurrency": 8, "p50_us": 64.0},
            {"transport": "tcp", "concurrency": 64, "p50_us": 300.0}
        ]});
        let set = results_json(&value, Path::new("r.json")).unwrap();
        let names: Vec<_> = set.metrics.iter().map(|m| (m.name.as_str(), m.samples.clone())).collect();
        assert_eq!(
            names,
            vec![("runs/tcp/concurrency=8/p50_us", vec![61.0, 64.0]), ("runs/tcp/concurrency=64/p50_us", vec![300.0])]
        );
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
