//! `paybench report <run-dir>`: writes `report.html` and `summary.md` next to the run's
//! `results.json` (logic in `paybench::report`), and with `--charts-dir` the key charts as
//! standalone SVG files for the README.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `paybench report`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The run folder holding `results.json` (e.g. `results/20261121-054341-quick`).
    run_dir: PathBuf,
    /// Also write the key charts (percentile spectrum, latency vs throughput, CPU per call) as
    /// standalone SVG files into this folder.
    #[arg(long)]
    charts_dir: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let report = paybench::report::Report::load(&args.run_dir)
        .with_context(|| format!("report: cannot load the run in {}", args.run_dir.display()))?;
    let written = report.write()?;
    println!("wrote {} and {}", written.html.display(), written.summary.display());
    if let Some(dir) = &args.charts_dir {
        for path in report.write_charts(dir)? {
            println!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
