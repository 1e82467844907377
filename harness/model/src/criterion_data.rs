//! Reads criterion's saved estimates (`target/criterion/<group>/<function>/<parameter>/<baseline>/
//! estimates.json`), so tables in the README and the report come from measured data by a command.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// One bench's estimate of the time per iteration, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Median of the per-sample mean iteration times (criterion's `median.point_estimate`).
    pub median_ns: f64,
    /// Lower bound of the median's 95 % confidence interval.
    pub median_lower_ns: f64,
    /// Upper bound of the median's 95 % confidence interval.
    pub median_upper_ns: f64,
    /// Mean iteration time.
    pub mean_ns: f64,
    /// Lower bound of the mean's 95 % confidence interval.
    pub mean_lower_ns: f64,
    /// Upper bound of the mean's 95 % confidence interval.
    pub mean_upper_ns: f64,
}

#[derive(serde::Deserialize)]
struct RawEstimates {
    mean: RawStatistic,
    median: RawStatistic,
}

#[derive(serde::Deserialize)]
struct RawStatistic {
    point_estimate: f64,
    confidence_interval: RawInterval,
}

#[derive(serde::Deserialize)]
struct RawInterval {
    lower_bound: f64,
    upper_bound: f64,
}

/// The path of a bench's `estimates.json` for `baseline` (`new` is the latest run).
pub fn estimates_path(criterion_dir: &Path, group: &str, function: &str, parameter: &str, baseline: &str) -> PathBuf {
    criterion_dir.join(group).join(function).join(parameter).join(baseline).join("estimates.json")
}

/// Reads one bench's estimate; `Ok(None)` if that bench has not been run.
pub fn read(
    criterion_dir: &Path,
    group: &str,
    function: &str,
    parameter: &str,
    baseline: &str,
) -> Result<Option<Estimate>> {
    let path = estimates_path(criterion_dir, group, function, parameter, baseline);
    match read_path(&path) {
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        other => other.map(Some),
    }
}

/// Reads one `estimates.json` file; a file that is not one is an [`Error::Input`] naming it.
pub fn read_path(path: &Path) -> Result<Estimate> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    let raw: RawEstimates = serde_json::from_str(&text).map_err(|e| Error::Input {
        path: path.display().to_string(),
        message: format!("not a criterion estimates.json: {e}"),
    })?;
    Ok(Estimate {
        median_ns: raw.median.point_estimate,
        median_lower_ns: raw.median.confidence_interval.lower_bound,
        median_upper_ns: raw.median.confidence_interval.upper_bound,
        mean_ns: raw.mean.point_estimate,
        mean_lower_ns: raw.mean.confidence_interval.lower_bound,
        mean_upper_ns: raw.mean.confidence_interval.upper_bound,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_estimates_file_and_reports_missing_and_corrupt_ones() {
        let dir = std::env::temp_dir().join(format!("paybench-criterion-{}", std::process::id()));
        let path = estimates_path(&dir, "latency", "grpc", "typical", "new");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":90.0,"upper_bound":110.0},"point_estimate":100.0,"standard_error":1.0},
               "median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":95.0,"upper_bound":99.0},"point_estimate":97.0,"standard_error":1.0}}"#,
        )
        .unwrap();
        let estimate = read(&dir, "latency", "grpc", "typical", "new").unwrap().unwrap();
        assert_eq!(estimate.median_ns, 97.0);
        assert_eq!(estimate.median_upper_ns, 99.0);
        assert_eq!(estimate.mean_ns, 100.0);
        assert_eq!(read(&dir, "latency", "rest", "typical", "new").unwrap(), None);
        std::fs::write(&path, "{").unwrap();
        let err = read(&dir, "latency", "grpc", "typical", "new").unwrap_err().to_string();
        assert!(err.contains("estimates.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
