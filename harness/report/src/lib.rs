//! `paybench report`: the verdict report of one run, `report.html` (one self-contained file, inline
//! SVG charts and CSS) and `summary.md` (the verdict for the README), written next to
//! `results.json`.
//!
//! [`Report::load`] gathers every figure the report shows: the run's `results.json`
//! ([`crate::results`], which holds the run's own codec timing, [`crate::codec_timing`]) and
//! body sizes computed from the run's payload seed ([`sizes`]). Nothing else is read, so
//! `paybench report` regenerates the same `summary.md` from the same `results.json` on any
//! machine. [`verdict`] turns the figures into ratios and sentences, [`charts`] into SVG,
//! [`sections`] into the report's parts (each section one file, listed once in
//! [`sections::SECTIONS`]), and [`html`] and [`markdown`] lay the parts out as the two files.
//! Nothing in the report is typed by hand: a
//! figure missing from the inputs is printed as "not measured in this run".
//!
//! The files form layers, each importing only from those below it: [`format`](mod@format) and [`ratio`]
//! (text helpers; the paired ratio and its interval), then [`tails`] (pooled tail ratios), then
//! [`verdict`], then [`tables`] (the table type and cell formats) and [`charts`], then the
//! section files, then [`sections`]' list, then [`html`] and [`markdown`].

pub mod charts;
pub mod compare;
pub mod format;
pub mod html;
pub mod markdown;
pub mod ratio;
pub mod sections;
pub mod tables;
pub mod tails;
pub mod verdict;

use std::path::{Path, PathBuf};

// The model's modules, under the paths this crate's files use (`crate::results`, ...).
use paybench_model::{
    claim, codec, codec_timing, connections, criterion_data, operating, payload, results, scenario, sizes,
};
use paybench_model::{Error, Result};

use crate::codec::Codec;
use crate::codec_timing::CodecTiming;
use crate::payload::Profile;
use crate::results::{write_atomic, ArmResult, RunResults};
use crate::sizes::SizeRow;
use ratio::Ratio;
use verdict::{DecompositionRow, Section, VerdictRow};

/// The verdict of one scenario × profile.
#[derive(Debug, Clone)]
pub struct Verdict<'a> {
    /// The arms it is about.
    pub section: Section<'a>,
    /// Body sizes of this profile (request, response), from the scenario's seed.
    pub sizes: Vec<SizeRow>,
    /// One row per dimension.
    pub rows: Vec<VerdictRow>,
    /// Format / HTTP version / framing factors per load-run dimension.
    pub decomposition: Vec<DecompositionRow>,
    /// Generated sentences.
    pub conclusion: Vec<String>,
}

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct Report {
    /// The run directory (holds `results.json`).
    pub run_dir: PathBuf,
    /// The run.
    pub results: RunResults,
}

/// The files [`Report::write`] produced.
#[derive(Debug, Clone)]
pub struct Written {
    /// `report.html`.
    pub html: PathBuf,
    /// `summary.md`.
    pub summary: PathBuf,
}

/// Loads the run in `run_dir` and writes `report.html` and `summary.md` beside `results.json`.
pub fn write(run_dir: &Path) -> Result<Written> {
    Report::load(run_dir)?.write()
}

impl Report {
    /// Reads `run_dir/results.json`.
    pub fn load(run_dir: &Path) -> Result<Self> {
        let results = RunResults::read(&run_dir.join("results.json"))?;
        Ok(Self { run_dir: run_dir.to_path_buf(), results })
    }

    /// One section per scenario × profile, in run order.
    pub fn sections(&self) -> Vec<Section<'_>> {
        let mut sections: Vec<Section<'_>> = Vec::new();
        for arm in &self.results.arms {
            match sections.iter_mut().find(|s| s.scenario == arm.scenario && s.profile == arm.profile) {
                Some(s) => s.arms.push(arm),
                None => sections.push(Section {
                    scenario: &arm.scenario,
                    profile: arm.profile,
                    loads: self
                        .results
                        .scenarios
                        .iter()
                        .find(|s| s.name == arm.scenario)
                        .map(|s| s.load.clone())
                        .unwrap_or_default(),
                    arms: vec![arm],
                    plan: self
                        .results
                        .operating_points
                        .iter()
                        .find(|p| p.scenario == arm.scenario && p.profile == arm.profile),
                    capacity: self
                        .results
                        .server_capacity
                        .iter()
                        .filter(|c| c.scenario == arm.scenario && c.profile == arm.profile)
                        .collect(),
                }),
            }
        }
        sections
    }

    /// The payload seed of `scenario` (body sizes are measured with it).
    pub fn seed(&self, scenario: &str) -> u64 {
        self.results.scenarios.iter().find(|s| s.name == scenario).map_or(crate::payload::DEFAULT_SEED, |s| s.seed)
    }

    /// The verdict of every section.
    pub fn verdicts(&self) -> Result<Vec<Verdict<'_>>> {
        self.sections().into_iter().map(|s| self.verdict(s)).collect()
    }

    fn verdict<'a>(&'a self, section: Section<'a>) -> Result<Verdict<'a>> {
        let profile = section.profile;
        let sizes: Vec<SizeRow> =
            sizes::measure(self.seed(section.scenario))?.into_iter().filter(|r| r.profile == profile).collect();
        let mut rows = codec_rows(&self.results.codec, profile, &sizes);
        rows.extend(section.dimensions().into_iter().map(|d| verdict::load_row(&section, d)));
        let decomposition = verdict::decomposition(&section);
        let mut conclusion = verdict::conclusion(profile, &rows, &decomposition);
        conclusion.extend(verdict::segments_sentence(&section));
        Ok(Verdict { section, sizes, rows, decomposition, conclusion })
    }

    /// Writes `report.html` and `summary.md` into the run directory.
    pub fn write(&self) -> Result<Written> {
        let verdicts = self.verdicts()?;
        let html_path = self.run_dir.join("report.html");
        let summary_path = self.run_dir.join("summary.md");
        write_atomic(&html_path, html::render(self, &verdicts)?.as_bytes())?;
        write_atomic(&summary_path, markdown::render(self, &verdicts)?.as_bytes())?;
        Ok(Written { html: html_path, summary: summary_path })
    }

    /// Writes the headline chart and the key charts (percentile spectrum, latency vs throughput,
    /// CPU per call) of the headline profile ([`verdict::headline_profile`]) as standalone SVG
    /// files into `dir`, for the README.
    pub fn write_charts(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        let mut written = Vec::new();
        let verdicts = self.verdicts()?;
        if let Some(verdict) = headline_verdict(&verdicts) {
            let headline = charts::headline_chart(&verdict.rows, verdict.section.profile)?;
            for chart in headline.into_iter().chain(charts::key_charts(&verdict.section, &verdict.rows)?) {
                let path = dir.join(format!("{}.svg", chart.id));
                write_atomic(&path, chart.svg.as_bytes())?;
                written.push(path);
            }
        }
        Ok(written)
    }

    /// Arms that could not run, with why.
    pub fn unavailable(&self) -> Vec<&ArmResult> {
        self.results.arms.iter().filter(|a| a.status != crate::results::ArmStatus::Ran).collect()
    }
}

/// The verdict the headline is drawn from: `typical`'s when the run has it, else the first.
pub fn headline_verdict<'v, 'a>(verdicts: &'v [Verdict<'a>]) -> Option<&'v Verdict<'a>> {
    verdict::headline_profile(&profile_verdicts(verdicts)).map(|i| &verdicts[i])
}

/// Each verdict as the headline reads it (profile, rows, decomposition).
pub fn profile_verdicts<'v>(verdicts: &'v [Verdict<'_>]) -> Vec<verdict::ProfileVerdict<'v>> {
    verdicts
        .iter()
        .map(|v| verdict::ProfileVerdict { profile: v.section.profile, rows: &v.rows, decomposition: &v.decomposition })
        .collect()
}

/// Codec time per call (the run's own timing, `results.codec` operation `call`: request and
/// response, each encoded and decoded) and raw body bytes (computed) for `profile`.
fn codec_rows(codec: &[CodecTiming], profile: Profile, sizes: &[SizeRow]) -> Vec<VerdictRow> {
    let mut rows: Vec<VerdictRow> = [crate::codec_timing::CALL]
        .into_iter()
        .map(|operation| {
            let find = |name: &str| {
                codec.iter().find(|t| t.profile == profile && t.operation == operation && t.codec == name)
            };
            let (json, protobuf) = (find(Codec::Json.name()), find(Codec::Protobuf.name()));
            let median = |t: Option<&CodecTiming>| {
                t.filter(|t| !t.batches_ns_per_op.is_empty())
                    .map(|t| crate::results::Spread::of(t.batches_ns_per_op.iter().copied()).median / 1_000.0)
            };
            let ratio = json.zip(protobuf).and_then(|(j, p)| {
                ratio::paired_ratio(ratio::Direction::LowerIsBetter, &j.batches_us(), &p.batches_us())
                    .map(|r| Ratio { source: ratio::SpreadSource::Batches, ..r })
            });
            VerdictRow {
                kind: verdict::RowKind::Codec,
                dimension: "codec time per call: request and response, encoded and decoded (serde_json vs prost, this schema)".into(),
                basis: format!(
                    "results.json codec[profile={profile}, operation={operation}]: median of batches_ns_per_op"
                ),
                unit: "µs",
                rest: median(json),
                grpc: median(protobuf),
                ratio,
                flags: if json.is_none() || protobuf.is_none() {
                    vec!["not timed in this run (paybench run --codec-batches 0, or a run from before the in-run timing)".into()]
                } else {
                    vec![]
                },
                point: None,
                offered_per_s: None,
                achieved_per_s: (None, None),
                not_measured: None,
            }
        })
        .collect();
    // Raw sizes only: a compressed size moves by a byte or two with the order a map's entries are
    // encoded in, which differs from process to process, and the verdict must regenerate byte for
    // byte. The body-bytes chart and `paybench sizes` show gzip.
    let (json, protobuf) = (sum(sizes, |r| r.json_bytes), sum(sizes, |r| r.protobuf_bytes));
    rows.push(VerdictRow {
        kind: verdict::RowKind::BodyBytes,
        dimension: "body bytes, request + response (raw)".into(),
        basis: "computed: paybench::sizes::measure(scenario seed), payload index 0".into(),
        unit: "B",
        rest: json,
        grpc: protobuf,
        ratio: json.zip(protobuf).filter(|(_, p)| *p > 0.0).map(|(j, p)| Ratio::exact(j / p)),
        // `sizes::measure` stamps responses with a fixed clock, so these are exact.
        flags: Vec::new(),
        point: None,
        offered_per_s: None,
        achieved_per_s: (None, None),
        not_measured: None,
    });
    rows
}

fn sum(sizes: &[SizeRow], f: impl Fn(&SizeRow) -> usize) -> Option<f64> {
    (!sizes.is_empty()).then(|| sizes.iter().map(|r| f(r) as f64).sum())
}

#[cfg(test)]
mod tests;
