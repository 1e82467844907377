//! Thresholds per metric class, from a TOML file (`harness/compare.toml` is the shipped one).
//!
//! ```toml
//! [thresholds]
//! latency_pct = 10.0
//! throughput_pct = 10.0
//! bytes_pct = 1.0
//! cpu_pct = 10.0
//! instructions_pct = 2.0
//! ```
//! Every key is optional and defaults to the value above; unknown keys are an error, so a typo
//! does not silently keep a default.

use std::path::Path;

use super::MetricClass;
use crate::{Error, Result};

/// The relative change, in percent, beyond which a metric of each class counts as changed.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Latency (time per call).
    pub latency_pct: f64,
    /// Throughput (calls per second).
    pub throughput_pct: f64,
    /// Bytes per call.
    pub bytes_pct: f64,
    /// CPU time per call.
    pub cpu_pct: f64,
    /// Instruction counts.
    pub instructions_pct: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { latency_pct: 10.0, throughput_pct: 10.0, bytes_pct: 1.0, cpu_pct: 10.0, instructions_pct: 2.0 }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    thresholds: Thresholds,
}

impl Thresholds {
    /// The threshold of `class`, in percent.
    pub fn pct(&self, class: MetricClass) -> f64 {
        match class {
            MetricClass::Latency => self.latency_pct,
            MetricClass::Throughput => self.throughput_pct,
            MetricClass::Bytes => self.bytes_pct,
            MetricClass::Cpu => self.cpu_pct,
            MetricClass::Instructions => self.instructions_pct,
        }
    }

    /// Parses the TOML text of a config file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let file: File = toml::from_str(text)
            .map_err(|e| Error::Input { path: origin.to_owned(), message: format!("invalid compare config: {e}") })?;
        let t = file.thresholds;
        for (key, value) in [
            ("latency_pct", t.latency_pct),
            ("throughput_pct", t.throughput_pct),
            ("bytes_pct", t.bytes_pct),
            ("cpu_pct", t.cpu_pct),
            ("instructions_pct", t.instructions_pct),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::Input {
                    path: origin.to_owned(),
                    message: format!("thresholds.{key} must be a non-negative percentage, got {value}"),
                });
            }
        }
        Ok(t)
    }

    /// Reads a config file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        Self::parse(&text, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_matches_the_defaults() {
        let shipped = Thresholds::parse(include_str!("../../../compare.toml"), "compare.toml").unwrap();
        assert_eq!(shipped, Thresholds::default());
    }

    #[test]
    fn partial_files_keep_defaults_and_typos_fail() {
        let t = Thresholds::parse("[thresholds]\ninstructions_pct = 5\n", "x.toml").unwrap();
        assert_eq!(t.pct(MetricClass::Instructions), 5.0);
        assert_eq!(t.pct(MetricClass::Latency), 10.0);
        let err = Thresholds::parse("[thresholds]\nlatncy_pct = 5\n", "x.toml").unwrap_err().to_string();
        assert!(err.starts_with("x.toml: invalid compare config") && err.contains("latncy_pct"), "{err}");
        let err = Thresholds::parse("[thresholds]\ncpu_pct = -1\n", "x.toml").unwrap_err().to_string();
        assert!(err.contains("thresholds.cpu_pct"), "{err}");
    }
}
