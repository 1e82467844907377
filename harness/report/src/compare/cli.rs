//! `paybench compare` (and `paybench-compare`, the same command in a binary without transports,
//! which the CI gate builds): the regression gate. Compares a candidate with a baseline, prints one row
//! per metric, and exits non-zero when something regressed.
//!
//! Inputs (logic in [`crate::compare`]):
//! - two files: `results.json` files, or instruction baselines (`benches/baselines/*.json`); a
//!   directory is read as gungraun output (`target/gungraun`);
//! - `--criterion DIR --baseline NAME --candidate NAME`: two criterion baselines saved with
//!   `cargo bench -- --save-baseline NAME`.
//!
//! `--snapshot-instructions DIR` writes an instruction baseline from gungraun output instead of
//! comparing.
//!
//! Exit status: 0 nothing regressed; 1 at least one metric regressed; 2 error (unreadable or corrupt
//! input, bad arguments); 3 baseline missing or not comparable (another scenario, transport set or
//! metric names).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::compare::{self, format, sources, Better, MetricSet, Thresholds};
use anyhow::Context as _;
use paybench_model::Error;

/// Exit status when at least one metric regressed.
pub const EXIT_REGRESSED: u8 = 1;
/// Exit status when the baseline is missing or does not match the candidate.
pub const EXIT_MISMATCH: u8 = 3;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned terminal table (default).
    Table,
    /// Markdown table, for a pull-request comment or job summary.
    Markdown,
    /// The whole comparison as JSON.
    Json,
    /// Bencher Metric Format (candidate values).
    Bmf,
    /// github-action-benchmark `customSmallerIsBetter` / `customBiggerIsBetter` (see `--better`).
    GithubActionBenchmark,
}

/// Arguments of `paybench compare`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status: 0 nothing regressed; 1 a metric regressed; 2 error (unreadable or corrupt \
input, bad arguments); 3 baseline missing or not comparable (scenario, transports or metric names differ).\n\
Thresholds: harness/compare.toml. Examples:\n  \
paybench compare benches/baselines/instructions.json target/regression-gate/instructions.json\n  \
paybench compare --criterion target/criterion --baseline main --candidate new\n  \
paybench compare results/A/results.json results/B/results.json --format markdown")]
pub struct Args {
    /// Baseline: a results.json, an instruction baseline file, or a gungraun output directory.
    #[arg(value_name = "BASELINE", required_unless_present_any = ["criterion", "snapshot_instructions"])]
    baseline_path: Option<PathBuf>,
    /// Candidate, of the same kind as the baseline.
    #[arg(value_name = "CANDIDATE", required_unless_present_any = ["criterion", "snapshot_instructions"])]
    candidate_path: Option<PathBuf>,
    /// Compare two criterion baselines saved under this directory (usually target/criterion).
    #[arg(long, value_name = "DIR", requires_all = ["criterion_baseline", "criterion_candidate"], conflicts_with_all = ["baseline_path", "snapshot_instructions"])]
    criterion: Option<PathBuf>,
    /// Criterion baseline name of the baseline side (`--save-baseline NAME`).
    #[arg(long = "baseline", value_name = "NAME", requires = "criterion")]
    criterion_baseline: Option<String>,
    /// Criterion baseline name of the candidate side.
    #[arg(long = "candidate", value_name = "NAME", requires = "criterion")]
    criterion_candidate: Option<String>,
    /// Write an instruction baseline from gungraun output under DIR (to --output or stdout).
    #[arg(long, value_name = "DIR", conflicts_with = "baseline_path")]
    snapshot_instructions: Option<PathBuf>,
    /// Thresholds file (TOML). Default: harness/compare.toml when present, else built-in defaults
    /// (the same values).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// For `--format github-action-benchmark`: export the smaller-is-better metrics (`lower`,
    /// tool `customSmallerIsBetter`) or the bigger-is-better ones (`higher`, `customBiggerIsBetter`).
    #[arg(long, value_enum, default_value_t = BetterArg::Lower)]
    better: BetterArg,
    /// Write the output to FILE instead of stdout (the exit status is the same).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Direction selector for github-action-benchmark output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BetterArg {
    /// Smaller is better.
    Lower,
    /// Bigger is better.
    Higher,
}

/// Runs the command: the exit status, or the error to print (exit status 2).
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match gate(&args) {
        Ok(code) => Ok(code),
        Err(e) => match e.downcast_ref::<Error>() {
            Some(Error::BaselineMismatch(_)) => {
                eprintln!("paybench: {e:#}");
                Ok(ExitCode::from(EXIT_MISMATCH))
            }
            _ => Err(e),
        },
    }
}

fn gate(args: &Args) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.snapshot_instructions {
        let set = sources::gungraun(dir)?;
        let text = serde_json::to_string_pretty(&sources::instructions_json(&set))? + "\n";
        emit(args.output.as_deref(), &text)?;
        eprintln!("paybench: {} instruction counts from {}", set.metrics.len(), dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let thresholds = thresholds(args.config.as_deref())?;
    let (baseline, candidate) = read_sides(args)?;
    let comparison = compare::compare(&baseline, &candidate, &thresholds)?;
    let text = match args.format {
        Format::Table => format::table(&comparison),
        Format::Markdown => format::markdown(&comparison),
        Format::Json => serde_json::to_string_pretty(&format::json(&comparison))? + "\n",
        Format::Bmf => serde_json::to_string_pretty(&format::bmf(&comparison))? + "\n",
        Format::GithubActionBenchmark => {
            let better = match args.better {
                BetterArg::Lower => Better::Lower,
                BetterArg::Higher => Better::Higher,
            };
            serde_json::to_string_pretty(&format::github_action_benchmark(&comparison, better))? + "\n"
        }
    };
    emit(args.output.as_deref(), &text)?;
    if args.output.is_some() || args.format != Format::Table {
        eprintln!("paybench compare: {}", format::summary_line(&comparison));
    }
    Ok(if comparison.regressed() { ExitCode::from(EXIT_REGRESSED) } else { ExitCode::SUCCESS })
}

fn read_sides(args: &Args) -> anyhow::Result<(MetricSet, MetricSet)> {
    if let (Some(dir), Some(base), Some(cand)) = (&args.criterion, &args.criterion_baseline, &args.criterion_candidate)
    {
        return Ok((sources::criterion(dir, base)?, sources::criterion(dir, cand)?));
    }
    match (&args.baseline_path, &args.candidate_path) {
        (Some(base), Some(cand)) => Ok((sources::read_file(base)?, sources::read_file(cand)?)),
        _ => anyhow::bail!("compare: give BASELINE and CANDIDATE, or --criterion DIR --baseline NAME --candidate NAME"),
    }
}

/// The thresholds: `--config`, else `harness/compare.toml` (from the workspace root or from
/// `harness/`), else the built-in defaults.
fn thresholds(config: Option<&Path>) -> anyhow::Result<Thresholds> {
    if let Some(path) = config {
        return Ok(Thresholds::load(path)?);
    }
    let shipped = [Path::new("harness/compare.toml"), Path::new("compare.toml")];
    match shipped.iter().find(|p| p.is_file()) {
        Some(path) => Ok(Thresholds::load(path)?),
        None => Ok(Thresholds::default()),
    }
}

fn emit(output: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("write {}", path.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
