//! `paybench report`: the verdict report of one run, `report.html` (one self-contained file, inline
//! SVG charts and CSS) and `summary.md` (the verdict for the README), written next to
//! `results.json`.
//!
//! [`Report::load`] gathers every figure the report shows: the run's `results.json`
//! ([`crate::results`]), body sizes computed from the run's payload seed ([`crate::sizes`]) and,
//! when present, criterion's estimates for codec speed and unloaded latency
//! ([`crate::criterion_data`]). [`verdict`] turns them into ratios and sentences, [`charts`] into
//! SVG, [`html`] and [`markdown`] into the two files. Nothing in the report is typed by hand: a
//! figure missing from the inputs is printed as "not measured in this run".

pub mod charts;
pub mod html;
pub mod markdown;
pub mod tables;
pub mod verdict;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::codec::{Codec, ALL_CODECS};
use crate::criterion_data::{self, Estimate};
use crate::payload::Profile;
use crate::results::{write_atomic, ArmResult, RunResults};
use crate::sizes::{self, SizeRow};
use crate::transport::registry::{self, claim};
use crate::{Error, Result};
use verdict::{DecompositionRow, Ratio, Section, VerdictRow};

/// Where `cargo bench` leaves criterion's estimates, relative to the workspace root.
pub const DEFAULT_CRITERION_DIR: &str = "target/criterion";

/// criterion's estimates the report uses; empty maps when the benches have not been run.
#[derive(Debug, Clone, Default)]
pub struct CriterionFigures {
    /// The directory read.
    pub dir: PathBuf,
    /// `encode/{codec}/{profile}`, keyed by (codec name, profile).
    pub encode: BTreeMap<(&'static str, Profile), Estimate>,
    /// `decode/{codec}/{profile}`.
    pub decode: BTreeMap<(&'static str, Profile), Estimate>,
    /// `latency/{transport}/{profile}`: one call at a time, in-process server.
    pub latency: BTreeMap<(String, Profile), Estimate>,
}

impl CriterionFigures {
    /// Reads every estimate the report can use from `dir` (`new` baseline).
    pub fn read(dir: &Path) -> Result<Self> {
        let mut figures = Self { dir: dir.to_path_buf(), ..Self::default() };
        for profile in Profile::ALL {
            for codec in ALL_CODECS {
                if let Some(e) = criterion_data::read(dir, "encode", codec.name(), profile.name(), "new")? {
                    figures.encode.insert((codec.name(), profile), e);
                }
                if let Some(e) = criterion_data::read(dir, "decode", codec.name(), profile.name(), "new")? {
                    figures.decode.insert((codec.name(), profile), e);
                }
            }
            for arm in registry::standard_arms() {
                if let Some(e) = criterion_data::read(dir, "latency", arm.name(), profile.name(), "new")? {
                    figures.latency.insert((arm.name().to_owned(), profile), e);
                }
            }
        }
        Ok(figures)
    }
}

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
    /// criterion's estimates.
    pub criterion: CriterionFigures,
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
pub fn write(run_dir: &Path, criterion_dir: &Path) -> Result<Written> {
    Report::load(run_dir, criterion_dir)?.write()
}

impl Report {
    /// Reads `run_dir/results.json` and criterion's estimates under `criterion_dir` (missing
    /// estimates are fine: the report says they were not measured).
    pub fn load(run_dir: &Path, criterion_dir: &Path) -> Result<Self> {
        let results = RunResults::read(&run_dir.join("results.json"))?;
        let criterion = CriterionFigures::read(criterion_dir)?;
        Ok(Self { run_dir: run_dir.to_path_buf(), results, criterion })
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
        let mut rows = codec_rows(&self.criterion, profile, &sizes);
        rows.extend(section.dimensions().into_iter().map(|d| verdict::load_row(&section, d)));
        self.criterion_latency_fallback(profile, &mut rows);
        let decomposition = verdict::decomposition(&section);
        let conclusion = verdict::conclusion(profile, &rows, &decomposition);
        Ok(Verdict { section, sizes, rows, decomposition, conclusion })
    }

    /// When the run has no unloaded point for rest and grpc, adds criterion's unloaded latency.
    fn criterion_latency_fallback(&self, profile: Profile, rows: &mut Vec<VerdictRow>) {
        if rows
            .iter()
            .any(|r| matches!(r.kind, verdict::RowKind::Load(verdict::Dimension::P50(_))) && r.ratio.is_some())
        {
            return;
        }
        let rest = self.criterion.latency.get(&(claim::REST.to_owned(), profile)).copied();
        let grpc = self.criterion.latency.get(&(claim::GRPC.to_owned(), profile)).copied();
        rows.push(VerdictRow {
            kind: verdict::RowKind::CriterionLatency,
            dimension: "unloaded latency, one call at a time (criterion)".into(),
            basis: format!(
                "{}/latency/{{rest,grpc}}/{profile}/new/estimates.json, median of sample means",
                self.criterion.dir.display()
            ),
            unit: "µs",
            rest: rest.map(|e| e.median_ns / 1_000.0),
            grpc: grpc.map(|e| e.median_ns / 1_000.0),
            ratio: rest.zip(grpc).and_then(|(r, g)| verdict::interval_ratio(r, g)),
            flags: vec![
                "fallback: the run has no load point for rest and grpc; spread is criterion's 95 % interval".into()
            ],
        });
    }

    /// Writes `report.html` and `summary.md` into the run directory.
    pub fn write(&self) -> Result<Written> {
        let verdicts = self.verdicts()?;
        let html_path = self.run_dir.join("report.html");
        let summary_path = self.run_dir.join("summary.md");
        write_atomic(&html_path, html::render(self, &verdicts)?.as_bytes())?;
        write_atomic(&summary_path, markdown::render(self, &verdicts).as_bytes())?;
        Ok(Written { html: html_path, summary: summary_path })
    }

    /// Writes the key charts (verdict ratios, percentile spectrum, latency vs throughput, CPU per
    /// call of the first section) as standalone SVG files into `dir`, for the README.
    pub fn write_charts(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        let mut written = Vec::new();
        if let Some(verdict) = self.verdicts()?.first() {
            for chart in charts::key_charts(&verdict.section, &verdict.rows)? {
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

/// Encode time, decode time (criterion) and body bytes raw and gzip (computed) for `profile`.
fn codec_rows(criterion: &CriterionFigures, profile: Profile, sizes: &[SizeRow]) -> Vec<VerdictRow> {
    let mut rows: Vec<VerdictRow> = [("encode", &criterion.encode), ("decode", &criterion.decode)]
        .into_iter()
        .map(|(direction, map)| {
            let json = map.get(&(Codec::Json.name(), profile)).copied();
            let protobuf = map.get(&(Codec::Protobuf.name(), profile)).copied();
            let missing = json.is_none() || protobuf.is_none();
            VerdictRow {
                kind: if direction == "encode" { verdict::RowKind::Encode } else { verdict::RowKind::Decode },
                dimension: format!("{direction} time, request body (codec only)"),
                basis: format!("criterion {direction}/{{json,protobuf}}/{profile}, median; spread = 95 % interval"),
                unit: "µs",
                rest: json.map(|e| e.median_ns / 1_000.0),
                grpc: protobuf.map(|e| e.median_ns / 1_000.0),
                ratio: json.zip(protobuf).and_then(|(j, p)| verdict::interval_ratio(j, p)),
                flags: if missing { vec!["not available: run cargo bench --bench codec".into()] } else { vec![] },
            }
        })
        .collect();
    for (label, json, protobuf) in [
        ("body bytes, request + response (raw)", sum(sizes, |r| r.json_bytes), sum(sizes, |r| r.protobuf_bytes)),
        (
            "body bytes, request + response (gzip -6)",
            sum(sizes, |r| r.json_gzip_bytes),
            sum(sizes, |r| r.protobuf_gzip_bytes),
        ),
    ] {
        rows.push(VerdictRow {
            kind: verdict::RowKind::BodyBytes,
            dimension: label.into(),
            basis: "computed: paybench::sizes::measure(scenario seed), payload index 0".into(),
            unit: "B",
            rest: json,
            grpc: protobuf,
            ratio: json.zip(protobuf).filter(|(_, p)| *p > 0.0).map(|(j, p)| Ratio::exact(j / p)),
            // `sizes::measure` stamps responses with a fixed clock, so these are exact.
            flags: Vec::new(),
        });
    }
    rows
}

fn sum(sizes: &[SizeRow], f: impl Fn(&SizeRow) -> usize) -> Option<f64> {
    (!sizes.is_empty()).then(|| sizes.iter().map(|r| f(r) as f64).sum())
}

#[cfg(test)]
mod tests;
