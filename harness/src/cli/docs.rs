//! `paybench docs [--check]`: rewrites the generated sections of `README.md` and `docs/*.md` from
//! committed artifacts, so that no figure in them is typed by hand.
//!
//! A generated section is a pair of HTML comments, each on a line of its own:
//!
//! ```text
//! <!-- generated: NAME (by `cargo run -q -p paybench -- docs`) -->
//! ...rewritten by the command...
//! <!-- /generated: NAME -->
//! ```
//!
//! `NAME` picks one of [`GENERATORS`]; the words after it are for the reader and are ignored.
//! Markers inside fenced code blocks are ignored, so a page can show the syntax.
//!
//! The inputs are all committed: the reference run (the newest `results/*/results.json` by run id
//! that has both `rest` and `grpc` for the headline profile, with its `summary.md` and `charts/`),
//! `benches/baselines/instructions.json`, `harness/compare.toml`, and for `profile-sizes` the
//! payload generator and codecs themselves (sizes are a function of the code). Every part of the
//! report is the report's own section ([`paybench::report::sections`]) built from the run's
//! `results.json` and rendered by [`paybench::report::markdown::part`]: nothing is read back from
//! a rendered `summary.md`.
//!
//! `--check` writes nothing and exits 1 after naming every stale section (CI gates on it). An
//! unknown generator, a start marker without its end or an end marker without its start is an
//! error (exit 2) that names the file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use paybench::compare::{sources, MetricClass, Thresholds};
use paybench::payload::{Profile, DEFAULT_SEED};
use paybench::report::sections::{self, Part, Scope};
use paybench::report::{markdown, tables, verdict, Report};
use paybench::results::{ArmResult, ArmStatus, RunResults};
use paybench::sizes;
use paybench::transport::registry::claim;

/// Arguments of `paybench docs`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Write nothing; exit 1 if any generated section differs from what its generator gives.
    #[arg(long)]
    check: bool,
    /// The workspace root, holding README.md, docs/ and results/.
    #[arg(long, default_value = ".")]
    root: PathBuf,
}

/// The command that rewrites the sections, as the markers and messages name it.
const COMMAND: &str = "cargo run -q -p paybench -- docs";
const START: &str = "<!-- generated:";
const END: &str = "<!-- /generated:";

/// The profile of the headline verdict: the everyday checkout, neither tiny nor bulk.
const HEADLINE_PROFILE: Profile = Profile::Typical;

/// A generator: the text of its section, given the page's way up to the root ("" or "../").
type Generate = fn(&Inputs, &str) -> anyhow::Result<String>;

/// Every generator, by the name markers give it; `docs/report.md` lists them for readers. Those
/// that show a part of the report render that report section ([`paybench::report::sections`]) of
/// the reference run; the others read their own committed file.
const GENERATORS: [(&str, Generate); 18] = [
    ("headline", Inputs::headline),
    ("claims", Inputs::claims),
    ("decomposition", Inputs::decomposition),
    ("not-measured", Inputs::not_measured),
    ("charts", Inputs::charts),
    ("run-facts", Inputs::run_facts),
    ("generator-bound", Inputs::generator_bound),
    ("arms-unloaded", Inputs::arms_unloaded),
    ("broker-settings", Inputs::broker_settings),
    ("broker-arms", Inputs::broker_arms),
    ("sweeps", Inputs::sweeps),
    ("capacities", Inputs::capacities),
    ("generator-validation", Inputs::generator_validation),
    ("peer-check", |inputs, links| super::peer_check::section(&inputs.root, links)),
    ("instructions", Inputs::instructions),
    ("thresholds", Inputs::thresholds),
    ("profile-sizes", |_, _| profile_sizes()),
    ("report-sections", |_, _| Ok(report_sections())),
];

/// The report sections that test a claim of the product's notes, in the order the README lists
/// the claims.
const CLAIM_SECTIONS: [&str; 7] =
    ["outage", "broker-restart", "burst", "scale-workers", "protected", "fan-out", "replay"];

/// Every name a marker can give: [`GENERATORS`], then any report section's id not among them
/// (rendered by [`Inputs::section`] from the newest committed run that has something for it), so
/// that a new report section needs no line here to be embedded in the docs.
fn generator_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = GENERATORS.iter().map(|(name, _)| *name).collect();
    for s in &sections::SECTIONS {
        if !names.contains(&s.id) {
            names.push(s.id);
        }
    }
    names
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Loaded at the first section: pages without sections need no reference run.
    let mut inputs: Option<Inputs> = None;
    let outcome = process(&args.root, args.check, &mut |name, links| {
        let loaded = match inputs.take() {
            Some(loaded) => loaded,
            None => Inputs::load(&args.root)?,
        };
        let text = loaded.generate(name, links);
        inputs = Some(loaded);
        text
    })?;
    if outcome.stale.is_empty() {
        println!("docs: {} generated section(s) up to date", outcome.sections);
        return Ok(ExitCode::SUCCESS);
    }
    for (file, name) in &outcome.stale {
        if args.check {
            eprintln!("docs: {file}: section `{name}` is stale");
        } else {
            println!("docs: rewrote {file}: section `{name}`");
        }
    }
    if args.check {
        eprintln!("docs: run `{COMMAND}` and commit the result");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// Sections: finding them and rewriting them

/// A generated section: its generator and the 0-based lines of its two markers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    name: String,
    start: usize,
    end: usize,
}

/// What [`process`] found.
#[derive(Debug, Default)]
struct Outcome {
    /// Generated sections in every page.
    sections: usize,
    /// (file, section) whose text differed from its generator's; rewritten unless checking.
    stale: Vec<(String, String)>,
}

/// `README.md` and `docs/*.md` under `root`, as paths relative to it, sorted.
fn pages(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let readme = PathBuf::from("README.md");
    if !root.join(&readme).is_file() {
        bail!("docs: no README.md in {} (run from the workspace root, or pass --root)", root.display());
    }
    let mut docs = Vec::new();
    if let Ok(entries) = std::fs::read_dir(root.join("docs")) {
        for entry in entries {
            let name = entry.context("docs: list docs/")?.file_name();
            if Path::new(&name).extension().is_some_and(|e| e == "md") {
                docs.push(Path::new("docs").join(name));
            }
        }
    }
    docs.sort();
    Ok(std::iter::once(readme).chain(docs).collect())
}

/// Reads every page, checks its markers, and rewrites (or with `check`, only compares) each
/// section with `generate(name, links)`, where `links` is the page's way up to the root ("" or
/// "../"), for relative links.
fn process(
    root: &Path,
    check: bool,
    generate: &mut dyn FnMut(&str, &str) -> anyhow::Result<String>,
) -> anyhow::Result<Outcome> {
    let mut pages_with_sections = Vec::new();
    for page in pages(root)? {
        let file = page.display().to_string();
        let text = std::fs::read_to_string(root.join(&page))
            .with_context(|| format!("docs: read {}", root.join(&page).display()))?;
        let sections = parse(&file, &text)?;
        if !sections.is_empty() {
            pages_with_sections.push((page, file, text, sections));
        }
    }
    let mut outcome = Outcome::default();
    for (page, file, text, sections) in pages_with_sections {
        let links = "../".repeat(page.components().count() - 1);
        let (new_text, stale) = rewrite(&text, &sections, |name| {
            generate(name, &links).with_context(|| format!("docs: {file}: section `{name}`"))
        })?;
        outcome.sections += sections.len();
        if !check && new_text != text {
            paybench::results::write_atomic(&root.join(&page), new_text.as_bytes())?;
        }
        outcome.stale.extend(stale.into_iter().map(|name| (file.clone(), name)));
    }
    Ok(outcome)
}

/// The generator named by a marker line, `None` if the line is no marker of this kind.
fn marker<'a>(file: &str, line_no: usize, line: &'a str, prefix: &str) -> anyhow::Result<Option<&'a str>> {
    let Some(rest) = line.trim().strip_prefix(prefix) else { return Ok(None) };
    match rest.strip_suffix("-->").and_then(|inner| inner.split_whitespace().next()) {
        Some(name) => Ok(Some(name)),
        None => bail!("docs: {file}:{line_no}: malformed marker {:?}: expected `{prefix} NAME ... -->`", line.trim()),
    }
}

/// Finds the generated sections of one page; `file` names it in errors.
fn parse(file: &str, text: &str) -> anyhow::Result<Vec<Section>> {
    let mut sections = Vec::new();
    let mut open: Option<(&str, usize)> = None;
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if open.is_none() && line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if fenced {
            continue;
        }
        if let Some(name) = marker(file, line_no, line, START)? {
            if let Some((outer, start)) = open {
                bail!(
                    "docs: {file}:{line_no}: section `{name}` starts inside section `{outer}` (line {}), which has no end marker",
                    start + 1
                );
            }
            if !generator_names().contains(&name) {
                bail!("docs: {file}:{line_no}: unknown generator `{name}`; known: {}", generator_names().join(", "));
            }
            open = Some((name, i));
        } else if let Some(name) = marker(file, line_no, line, END)? {
            match open.take() {
                Some((opened, start)) if opened == name => {
                    sections.push(Section { name: name.to_owned(), start, end: i })
                }
                Some((opened, start)) => bail!(
                    "docs: {file}:{line_no}: end marker of `{name}` inside section `{opened}` (line {})",
                    start + 1
                ),
                None => bail!("docs: {file}:{line_no}: end marker of `{name}` without a start marker"),
            }
        }
    }
    if let Some((name, start)) = open {
        bail!("docs: {file}:{}: section `{name}` has no end marker `{END} {name} -->`", start + 1);
    }
    Ok(sections)
}

/// `text` with each section's body replaced by a blank line, `body(name)` and a blank line; and
/// the names of the sections whose body changed.
fn rewrite(
    text: &str,
    sections: &[Section],
    mut body: impl FnMut(&str) -> anyhow::Result<String>,
) -> anyhow::Result<(String, Vec<String>)> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len());
    let mut stale = Vec::new();
    let mut next = 0;
    for s in sections {
        out.extend(lines[next..=s.start].iter().copied());
        let new = format!("\n{}\n\n", body(&s.name)?.trim_matches('\n'));
        if lines[s.start + 1..s.end].concat() != new {
            stale.push(s.name.clone());
        }
        out.push_str(&new);
        next = s.end;
    }
    out.extend(lines[next..].iter().copied());
    Ok((out, stale))
}

// ---------------------------------------------------------------------------------------------
// Inputs and generators

/// The committed artifacts the generators read.
struct Inputs {
    root: PathBuf,
    /// The reference run's folder, relative to the root (`results/<run-id>`).
    run_dir: String,
    /// The reference run.
    report: Report,
    /// Every committed run (`results/<run-id>`, its results), newest first by run id.
    runs: Vec<(String, RunResults)>,
    /// The reference run restricted to [`HEADLINE_PROFILE`].
    headline: Report,
    /// The reference run's report sections ([`report_parts`]).
    parts: BTreeMap<&'static str, Part>,
    /// The same, of the reference run restricted to [`HEADLINE_PROFILE`].
    headline_parts: BTreeMap<&'static str, Part>,
}

/// Whether a run can give the headline: `rest` and `grpc` both ran for [`HEADLINE_PROFILE`].
fn has_headline(results: &RunResults) -> bool {
    [claim::REST, claim::GRPC].iter().all(|name| {
        results
            .arms
            .iter()
            .any(|a| a.transport.as_str() == *name && a.profile == HEADLINE_PROFILE && a.status == ArmStatus::Ran)
    })
}

/// `report` restricted to [`HEADLINE_PROFILE`].
fn headline_report(report: &Report) -> Report {
    let mut results = report.results.clone();
    results.arms.retain(|a| a.profile == HEADLINE_PROFILE);
    Report { run_dir: report.run_dir.clone(), results }
}

/// Every section of `report` but the charts (markdown has none): the sections once per run, and
/// those per verdict about its headline verdict, by id. Built once, because a verdict is costly
/// to compute.
fn report_parts(report: &Report) -> anyhow::Result<BTreeMap<&'static str, Part>> {
    let no_charts = |s: &sections::Section| s.id != sections::figures::SECTION.id;
    let verdicts = report.verdicts()?;
    let headline = paybench::report::headline_verdict(&verdicts);
    let mut parts = BTreeMap::new();
    for scope in [Scope::Top, Scope::Run] {
        parts.extend(sections::parts(scope, no_charts, report, &verdicts, None)?.into_iter().map(|(s, p)| (s.id, p)));
    }
    if headline.is_some() {
        let per_verdict = sections::parts(Scope::Verdict, no_charts, report, &verdicts, headline)?;
        parts.extend(per_verdict.into_iter().map(|(s, p)| (s.id, p)));
    }
    Ok(parts)
}

/// Section `id` of `parts` (the reference run's, or the headline profile's); an error when the
/// run has nothing for it.
fn part<'p>(parts: &'p BTreeMap<&'static str, Part>, id: &str) -> anyhow::Result<&'p Part> {
    match parts.get(id) {
        Some(part) => Ok(part),
        None => bail!("the reference run has nothing for report section `{id}`"),
    }
}

/// The one table of a report section's part.
fn only_table(part: &Part, id: &str) -> anyhow::Result<tables::Table> {
    match part.tables.as_slice() {
        [table] => Ok(table.clone()),
        tables => bail!("report section `{id}` has {} tables, not one", tables.len()),
    }
}

impl Inputs {
    /// Finds the reference run: the newest `results/*/results.json` by run id that has a headline.
    fn load(root: &Path) -> anyhow::Result<Self> {
        let results_dir = root.join("results");
        let mut runs = Vec::new();
        let entries =
            std::fs::read_dir(&results_dir).with_context(|| format!("docs: list {}", results_dir.display()))?;
        for entry in entries {
            let dir = entry.with_context(|| format!("docs: list {}", results_dir.display()))?.path();
            let path = dir.join("results.json");
            if paybench::results::has_results(&dir) {
                let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                runs.push((format!("results/{name}"), RunResults::read(&path)?));
            }
        }
        runs.sort_by(|a, b| b.1.run_id.cmp(&a.1.run_id));
        let count = runs.len();
        let Some(at) = runs.iter().position(|(_, r)| has_headline(r)) else {
            bail!(
                "docs: none of the {count} runs under {} has both `rest` and `grpc` for profile `{HEADLINE_PROFILE}`; commit a reference run (`paybench run scenarios/full.toml`)",
                results_dir.display()
            );
        };
        let (run_dir, results) = runs[at].clone();
        println!(
            "docs: reference run {run_dir} (run {}, the newest of {count} by run id with a headline)",
            results.run_id
        );
        let report = Report { run_dir: root.join(&run_dir), results };
        let parts = report_parts(&report)?;
        let headline = headline_report(&report);
        let headline_parts = report_parts(&headline)?;
        Ok(Self { root: root.to_path_buf(), run_dir, report, runs, headline, parts, headline_parts })
    }

    fn generate(&self, name: &str, links: &str) -> anyhow::Result<String> {
        match GENERATORS.iter().find(|(n, _)| *n == name) {
            Some((_, generate)) => generate(self, links),
            None => self.section(name, links),
        }
    }

    /// The reference run's folder as a link from the page.
    fn run_link(&self, links: &str) -> String {
        format!("{links}{}", self.run_dir)
    }

    /// The scenario whose [`HEADLINE_PROFILE`] section the headline is about.
    fn headline_scenario(&self) -> &str {
        let arms = &self.report.results.arms;
        arms.iter()
            .find(|a| a.transport.as_str() == claim::GRPC && a.profile == HEADLINE_PROFILE)
            .map_or("", |a| &a.scenario)
    }

    fn run_line(&self, links: &str) -> String {
        let r = &self.report.results;
        let run = self.run_link(links);
        format!(
            "Reference run [`{}`]({run}/) (scenario `{}`, profile `{HEADLINE_PROFILE}`; {}, {} cores), from its [`summary.md`]({run}/summary.md); [`report.html`]({run}/report.html) has every chart and every arm's figures.",
            r.run_id,
            self.headline_scenario(),
            r.environment.cpu_model,
            r.environment.cpu_cores
        )
    }

    /// The headline section's sentences, the headline chart, and the headline profile's verdict
    /// table.
    fn headline(&self, links: &str) -> anyhow::Result<String> {
        let run = self.run_link(links);
        let sentences = part(&self.parts, "headline")?.sentences.clone();
        let mut out = format!("{}\n\n{}\n", self.run_line(links), bullets(sentences));
        let chart = Path::new(&self.run_dir).join("charts").join("headline.svg");
        if self.root.join(&chart).is_file() {
            out.push_str(&format!(
                "![Is gRPC 5x faster than JSON? Each dimension's ratio with its 95 % interval, profile {HEADLINE_PROFILE}]({run}/charts/headline.svg)\n\n"
            ));
        } else {
            out.push_str(&format!(
                "No headline chart is committed: `cargo run --release -p paybench -- report {0} --charts-dir {0}/charts` draws it.\n\n",
                self.run_dir
            ));
        }
        let table = only_table(part(&self.headline_parts, "verdict")?, "verdict")?;
        out.push_str(&format!("The verdict table of profile `{HEADLINE_PROFILE}`:\n\n{}", markdown::table(&table)));
        Ok(out)
    }

    fn decomposition(&self, links: &str) -> anyhow::Result<String> {
        let decomposition = part(&self.headline_parts, "decomposition")?;
        Ok(format!("{}\n\n{}", self.run_line(links), markdown::part(decomposition)))
    }

    fn not_measured(&self, _: &str) -> anyhow::Result<String> {
        Ok(bullets(part(&self.parts, "not-measured")?.sentences.clone()))
    }

    fn run_facts(&self, _: &str) -> anyhow::Result<String> {
        Ok(bullets(part(&self.parts, "run-facts")?.sentences.clone()))
    }

    fn charts(&self, links: &str) -> anyhow::Result<String> {
        let run = self.run_link(links);
        let dir = self.root.join(&self.run_dir).join("charts");
        let mut names: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .filter(|n| n.ends_with(".svg"))
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        let draw = format!("cargo run --release -p paybench -- report {0} --charts-dir {0}/charts", self.run_dir);
        if names.is_empty() {
            return Ok(format!("No charts are committed for the reference run: `{draw}` draws them."));
        }
        let verdicts = self.report.verdicts()?;
        let profile =
            paybench::report::headline_verdict(&verdicts).map_or_else(String::new, |v| v.section.profile.to_string());
        let mut out = format!("Drawn by `{draw}`, for profile `{profile}` (the headline's profile):\n");
        for name in names {
            let stem = name.trim_end_matches(".svg");
            out.push_str(&format!("\n`{stem}`\n\n![{stem}, profile {profile}]({run}/charts/{name})\n"));
        }
        Ok(out)
    }

    fn generator_bound(&self, _: &str) -> anyhow::Result<String> {
        let windows = sections::generator_bound::generator_bound(&self.headline);
        if windows.is_empty() {
            return Ok(format!(
                "No window of the reference run was flagged generator-bound in profile `{HEADLINE_PROFILE}`."
            ));
        }
        Ok(format!(
            "Windows of the reference run flagged generator-bound in profile `{HEADLINE_PROFILE}` (arm, profile, load: repetitions):\n\n{}",
            bullets(windows)
        ))
    }

    fn arms_unloaded(&self, _: &str) -> anyhow::Result<String> {
        self.arms_table(|_| true, true)
    }

    fn broker_arms(&self, _: &str) -> anyhow::Result<String> {
        self.arms_table(ArmResult::is_broker_arm, false)
    }

    /// The report's arms section for the headline profile: the arms `keep` selects, at the lowest
    /// load point only or at every point. The CPU column is left out: CPU per call is in the
    /// verdict and the report, next to how it was read.
    fn arms_table(&self, keep: impl Fn(&ArmResult) -> bool, unloaded_only: bool) -> anyhow::Result<String> {
        // The arms and loads alone (`sections()`), not the costly verdict.
        let Some(section) = self.headline.sections().into_iter().next() else {
            bail!("the reference run has no `{HEADLINE_PROFILE}` arms")
        };
        let labels: Vec<String> =
            section.arms.iter().filter(|a| keep(a)).map(|a| paybench::report::format::arm_label(a)).collect();
        let unloaded = verdict::unloaded(&section.loads).map(|l| l.label());
        let mut table = only_table(part(&self.headline_parts, "arms")?, "arms")?;
        let (arm_col, load_col) = (column(&table, "arm")?, column(&table, "load")?);
        table.rows.retain(|row| {
            labels.contains(&row[arm_col]) && (!unloaded_only || Some(&row[load_col]) == unloaded.as_ref())
        });
        let keep_columns: Vec<&str> =
            table.header.iter().map(String::as_str).filter(|h| !h.starts_with("CPU")).collect();
        let table = select(&table, &keep_columns)?;
        let what = if unloaded_only {
            format!("at the lowest load point ({})", unloaded.unwrap_or_default())
        } else {
            "at every load point".to_owned()
        };
        Ok(format!(
            "Reference run `{}`, profile `{HEADLINE_PROFILE}`, {what}; medians of the repetitions (the report's arms table):\n\n{}",
            self.report.results.run_id,
            markdown::table(&table)
        ))
    }

    /// A one-table section of the report for the headline profile, under `what`, or `empty` when
    /// the table has no rows.
    fn headline_table(&self, id: &str, what: &str, empty: &str) -> anyhow::Result<String> {
        let table = only_table(part(&self.headline_parts, id)?, id)?;
        if table.rows.is_empty() {
            return Ok(empty.to_owned());
        }
        Ok(format!(
            "Reference run `{}`, profile `{HEADLINE_PROFILE}`{what}:\n\n{}",
            self.report.results.run_id,
            markdown::table(&table)
        ))
    }

    fn broker_settings(&self, _: &str) -> anyhow::Result<String> {
        self.headline_table("broker-settings", " (the report's brokers table)", "The reference run has no broker arms.")
    }

    /// Each arm's capacity searches: the highest offered rate that met the SLO, its resolution and
    /// bottleneck.
    fn sweeps(&self, _: &str) -> anyhow::Result<String> {
        self.headline_table("sweeps", "", &format!("The reference run has no sweep for profile `{HEADLINE_PROFILE}`."))
    }

    /// Each arm's server capacity (replay client) beside its end-to-end capacity (full-stack
    /// client), for the headline profile: the report's capacities table.
    fn capacities(&self, _: &str) -> anyhow::Result<String> {
        self.headline_table(
            "capacities",
            " (the report's capacities table)",
            &format!("The reference run has no capacity for profile `{HEADLINE_PROFILE}`."),
        )
    }

    /// `harness/scripts/validate-generator.sh`'s last committed table: each paybench client's
    /// throughput against wrk or h2load on the same pinned server.
    fn generator_validation(&self, links: &str) -> anyhow::Result<String> {
        let path = VALIDATION_FILE;
        let Ok(text) = std::fs::read_to_string(self.root.join(path)) else {
            return Ok(format!(
                "No validation is committed: `flock /tmp/paybench-measure.lock harness/scripts/validate-generator.sh` writes [`{path}`]({links}{path})."
            ));
        };
        let v: Validation = serde_json::from_str(&text).with_context(|| format!("read {path}"))?;
        let ratio = |a: f64, b: f64| if b > 0.0 { format!("{:.2}", a / b) } else { "-".to_owned() };
        let cpu = |c: Option<f64>| c.map_or_else(|| "-".to_owned(), |c| format!("{c:.1}"));
        let mut table = tables::Table {
            header: [
                "arm",
                "peer",
                "in flight",
                "peer calls/s",
                "replay calls/s",
                "replay / peer",
                "full-stack calls/s",
                "full-stack / peer",
                "client CPU µs/call: peer, replay, full-stack",
            ]
            .map(String::from)
            .to_vec(),
            rows: Vec::new(),
        };
        for r in &v.rows {
            table.rows.push(vec![
                r.arm.clone(),
                format!("`{}`", r.peer),
                r.in_flight.clone(),
                format!("{:.0}", r.peer_calls_per_s),
                format!("{:.0}", r.replay_calls_per_s),
                ratio(r.replay_calls_per_s, r.peer_calls_per_s),
                format!("{:.0}", r.full_stack_calls_per_s),
                ratio(r.full_stack_calls_per_s, r.peer_calls_per_s),
                format!(
                    "{}, {}, {}",
                    cpu(r.peer_cpu_us_per_call),
                    cpu(r.replay_client_cpu_us_per_call),
                    cpu(r.full_stack_client_cpu_us_per_call)
                ),
            ]);
        }
        let at_target =
            v.rows.iter().filter(|r| r.replay_calls_per_s >= VALIDATION_TARGET * r.peer_calls_per_s).count();
        let ceiling = &v.generator_ceiling;
        Ok(format!(
            "Measured by `{}` ({}, commit `{}`, {}; [`{path}`]({links}{path})): best of {} alternating rounds of {} s, closed loop, {} calls in flight, server alone on CPU 1, each generator alone on CPU 0, `small` payload.\n\n{}\nThe replay client reaches at least {VALIDATION_TARGET:.1}x of its peer on {at_target} of {} arms. The generator's own ceiling on that core (`{}` full-stack, no network): {:.0} calls/s at {} µs of client CPU per call.",
            v.command,
            v.measured_at,
            v.git_commit,
            v.cpu_model,
            v.rounds,
            v.duration_s,
            v.concurrency,
            markdown::table(&table),
            v.rows.len(),
            ceiling.arm,
            ceiling.calls_per_s,
            cpu(ceiling.client_cpu_us_per_call),
        ))
    }

    fn instructions(&self, links: &str) -> anyhow::Result<String> {
        let path = "benches/baselines/instructions.json";
        let set = sources::read_file(&self.root.join(path))?;
        let table = tables::Table {
            header: vec!["case".into(), "instructions".into()],
            rows: set.metrics.iter().map(|m| vec![format!("`{}`", m.name), format!("{:.0}", m.value())]).collect(),
        };
        Ok(format!("From [`{path}`]({links}{path}):\n\n{}", markdown::table(&table)))
    }

    fn thresholds(&self, links: &str) -> anyhow::Result<String> {
        let path = "harness/compare.toml";
        let thresholds = Thresholds::load(&self.root.join(path))?;
        let classes = [
            MetricClass::Instructions,
            MetricClass::Bytes,
            MetricClass::Latency,
            MetricClass::Throughput,
            MetricClass::Cpu,
        ];
        let table = tables::Table {
            header: vec!["class".into(), "threshold".into()],
            rows: classes.iter().map(|c| vec![c.name().to_owned(), format!("{} %", thresholds.pct(*c))]).collect(),
        };
        Ok(format!("From [`{path}`]({links}{path}):\n\n{}", markdown::table(&table)))
    }

    /// Report section `id` of the newest committed run that has something for it (about its
    /// headline verdict, for a section per verdict), with where it comes from.
    /// One line per claim of the product's notes that a timed experiment tests ([`CLAIM_SECTIONS`]):
    /// its section's generated sentences, from the newest committed run that has it.
    fn claims(&self, links: &str) -> anyhow::Result<String> {
        let mut lines = Vec::new();
        for id in CLAIM_SECTIONS {
            let title = sections::section(id)?.title;
            lines.push(match self.first_part(id)? {
                Some((dir, _, part)) => {
                    format!("- **{title}** [`{dir}`]({links}{dir}/report.html): {}", part.sentences.join(" "))
                }
                None => format!("- **{title}** not measured: no committed run has it yet"),
            });
        }
        Ok(lines.join("\n") + "\n")
    }

    /// Section `id` of the first run of [`Self::runs_for`] that has something for it, with the
    /// run's folder and results.
    fn first_part<'a>(&'a self, id: &'a str) -> anyhow::Result<Option<(&'a str, &'a RunResults, Part)>> {
        sections::section(id)?;
        for (dir, results) in self.runs_for(id) {
            let report = Report { run_dir: self.root.join(dir), results: results.clone() };
            let verdicts = report.verdicts()?;
            let verdict = paybench::report::headline_verdict(&verdicts);
            if let Some(part) = sections::build(id, &report, &verdicts, verdict)? {
                return Ok(Some((dir, results, part)));
            }
        }
        Ok(None)
    }

    /// The committed runs, newest first, those of the scenario named like section `id` before
    /// the others: the `outage` section comes from `scenarios/outage.toml`'s run even when a
    /// newer run has an outage experiment too.
    fn runs_for<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a (String, RunResults)> {
        let own = move |results: &RunResults| results.experiments.iter().any(|e| e.scenario == id);
        self.runs.iter().filter(move |(_, r)| own(r)).chain(self.runs.iter().filter(move |(_, r)| !own(r)))
    }

    fn section(&self, id: &str, links: &str) -> anyhow::Result<String> {
        let Some((dir, results, part)) = self.first_part(id)? else {
            bail!("docs: no committed run has anything for report section `{id}`; commit a run that does")
        };
        let command = results.settings.command_line.get(1..).unwrap_or_default().join(" ");
        Ok(format!(
            "From [`{dir}`]({links}{dir}/report.html) (run `{}`, `paybench {command}`, {} cores):\n\n{}",
            results.run_id,
            results.environment.cpu_cores,
            markdown::part(&part)
        ))
    }
}

/// The report's sections, in page order, from [`sections::SECTIONS`] itself.
fn report_sections() -> String {
    let table = tables::Table {
        header: ["id", "title", "appears", "in report.html", "in summary.md"].map(String::from).to_vec(),
        rows: sections::SECTIONS
            .iter()
            .map(|s| {
                let appears = match s.scope {
                    sections::Scope::Top => "once, at the top",
                    sections::Scope::Verdict => "per scenario × profile",
                    sections::Scope::Run => "once, below the verdicts",
                };
                let shown = match s.show {
                    sections::Show::Lead => "the page's lead",
                    sections::Show::Open => "open",
                    sections::Show::Collapsed => "collapsed",
                    sections::Show::Expanded => "collapsible, open",
                };
                vec![
                    format!("`{}`", s.id),
                    s.title.to_owned(),
                    appears.to_owned(),
                    shown.to_owned(),
                    if s.in_summary { "yes" } else { "no" }.to_owned(),
                ]
            })
            .collect(),
    };
    format!("From `paybench::report::sections::SECTIONS`:\n\n{}", markdown::table(&table))
}

/// Request body sizes of every profile at the default seed, from the code rather than a run: what
/// `paybench sizes` prints, raw bytes only. Compressed sizes are left out because they move by a
/// byte with the order of the metadata map, which is new in every process, and the section
/// must be the same every time it is generated.
fn profile_sizes() -> anyhow::Result<String> {
    let rows = sizes::measure(DEFAULT_SEED)?;
    let table = tables::Table {
        header: ["profile", "made of", "protobuf B", "JSON B", "JSON/protobuf"].map(String::from).to_vec(),
        rows: rows
            .iter()
            .filter(|r| r.message == "request")
            .map(|r| {
                vec![
                    format!("`{}`", r.profile),
                    contents(r.profile),
                    r.protobuf_bytes.to_string(),
                    r.json_bytes.to_string(),
                    format!("{:.2}x", r.json_over_protobuf()),
                ]
            })
            .collect(),
    };
    Ok(format!(
        "Request bodies, seed `{DEFAULT_SEED:#x}`, payload 0, as `cargo run -q -p paybench -- sizes` prints them (it adds responses and compressed sizes):\n\n{}",
        markdown::table(&table)
    ))
}

/// What a profile's request is made of, from the generator's own counts.
fn contents(profile: Profile) -> String {
    let counted = |n: usize, one: &str, many: &str| match n {
        0 => None,
        1 => Some(format!("1 {one}")),
        n => Some(format!("{n} {many}")),
    };
    let bundles = counted(profile.bundles(), "bundle", "bundles")
        .map(|b| format!("{b}, {} levels deep", profile.bundle_depth_levels()));
    [
        counted(profile.line_items(), "line item", "line items"),
        bundles,
        counted(profile.usage_charges(), "usage charge", "usage charges"),
        counted(profile.metadata_entries(), "metadata entry", "metadata entries"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ")
}

/// Where `harness/scripts/validate-generator.sh` writes its figures.
const VALIDATION_FILE: &str = "results/validate-generator.json";
/// The replay client must reach this share of wrk's or h2load's throughput (docs/method.md).
const VALIDATION_TARGET: f64 = 0.9;

/// `results/validate-generator.json`, as the script writes it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Validation {
    command: String,
    measured_at: String,
    git_commit: String,
    cpu_model: String,
    duration_s: f64,
    concurrency: u32,
    rounds: u32,
    generator_ceiling: Ceiling,
    rows: Vec<ValidationRow>,
}

/// The `inproc` row: the generator's own ceiling on the client core.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Ceiling {
    arm: String,
    calls_per_s: f64,
    client_cpu_us_per_call: Option<f64>,
}

/// One arm: the peer's best round and each paybench client's best round.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidationRow {
    arm: String,
    peer: String,
    in_flight: String,
    peer_calls_per_s: f64,
    peer_cpu_us_per_call: Option<f64>,
    replay_calls_per_s: f64,
    replay_client_cpu_us_per_call: Option<f64>,
    full_stack_calls_per_s: f64,
    full_stack_client_cpu_us_per_call: Option<f64>,
}

fn bullets(lines: Vec<String>) -> String {
    lines.iter().map(|l| format!("- {l}\n")).collect()
}

fn column(table: &tables::Table, name: &str) -> anyhow::Result<usize> {
    match table.header.iter().position(|h| h == name) {
        Some(i) => Ok(i),
        None => bail!("the report's table has no column {name:?} (columns: {})", table.header.join(", ")),
    }
}

/// `table` with only the columns named, in that order.
fn select(table: &tables::Table, names: &[&str]) -> anyhow::Result<tables::Table> {
    let at: Vec<usize> = names.iter().map(|n| column(table, n)).collect::<anyhow::Result<_>>()?;
    Ok(tables::Table {
        header: at.iter().map(|&i| table.header[i].clone()).collect(),
        rows: table.rows.iter().map(|row| at.iter().map(|&i| row[i].clone()).collect()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh workspace-like folder with `README.md` and `docs/` pages.
    fn workspace(test: &str, pages: &[(&str, &str)]) -> PathBuf {
        let root = std::env::temp_dir().join(format!("paybench-docs-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("docs")).unwrap();
        for (path, text) in pages {
            std::fs::write(root.join(path), text).unwrap();
        }
        root
    }

    fn fake(name: &str, links: &str) -> anyhow::Result<String> {
        Ok(format!("| figure | from |\n|---|---|\n| 42 | {links}{name} |\n"))
    }

    const PAGE: &str = "# Title\n\nProse stays.\n\n<!-- generated: headline (by `cargo run -q -p paybench -- docs`) -->\nold figure\n<!-- /generated: headline -->\n\nMore prose.\n\n```text\n<!-- generated: not-a-generator -->\n```\n\n<!-- generated: thresholds -->\n<!-- /generated: thresholds -->\n";

    #[test]
    fn rewriting_in_place_is_idempotent() {
        let sections = parse("README.md", PAGE).unwrap();
        assert_eq!(sections.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["headline", "thresholds"]);
        let (once, stale) = rewrite(PAGE, &sections, |n| fake(n, "")).unwrap();
        assert_eq!(stale, ["headline", "thresholds"]);
        assert!(once.starts_with("# Title\n\nProse stays.\n\n<!-- generated: headline (by"), "{once}");
        assert!(once.contains("-->\n\n| figure | from |\n|---|---|\n| 42 | headline |\n\n<!-- /generated: headline -->\n\nMore prose.\n"), "{once}");
        assert!(!once.contains("old figure"));
        let (twice, stale) = rewrite(&once, &parse("README.md", &once).unwrap(), |n| fake(n, "")).unwrap();
        assert_eq!(twice, once);
        assert!(stale.is_empty(), "{stale:?}");
    }

    #[test]
    fn check_names_a_stale_section_and_writes_nothing() {
        let root = workspace("stale", &[("README.md", PAGE), ("docs/method.md", "# Method\n\nNo sections.\n")]);
        let outcome = process(&root, true, &mut fake).unwrap();
        assert_eq!(
            outcome.stale,
            [("README.md".to_owned(), "headline".to_owned()), ("README.md".to_owned(), "thresholds".to_owned())]
        );
        assert_eq!(std::fs::read_to_string(root.join("README.md")).unwrap(), PAGE);
        // Rewriting clears it; a later change of a figure makes the section stale again.
        let outcome = process(&root, false, &mut fake).unwrap();
        assert_eq!(outcome.stale.len(), 2);
        let outcome = process(&root, true, &mut fake).unwrap();
        assert!(outcome.stale.is_empty(), "{:?}", outcome.stale);
        assert_eq!(outcome.sections, 2);
        let mut changed = |name: &str, links: &str| Ok(fake(name, links)?.replace("42", "43"));
        let outcome = process(&root, true, &mut changed).unwrap();
        assert_eq!(outcome.stale.len(), 2);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn links_from_docs_pages_go_up_to_the_root() {
        let page = "<!-- generated: charts -->\n<!-- /generated: charts -->\n";
        let root = workspace("links", &[("README.md", "# R\n"), ("docs/report.md", page)]);
        process(&root, false, &mut fake).unwrap();
        let text = std::fs::read_to_string(root.join("docs/report.md")).unwrap();
        assert!(text.contains("| 42 | ../charts |"), "{text}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn an_unknown_generator_is_an_error_naming_the_file() {
        let page = "# Transports\n\n<!-- generated: transport-matrix -->\n<!-- /generated: transport-matrix -->\n";
        let root = workspace("unknown", &[("README.md", "# R\n"), ("docs/transports.md", page)]);
        let err = process(&root, true, &mut fake).unwrap_err().to_string();
        assert!(err.contains("docs/transports.md:3") && err.contains("unknown generator `transport-matrix`"), "{err}");
        assert!(err.contains("headline"), "lists the known generators: {err}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn every_generator_renders_the_committed_reference_run() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let inputs = Inputs::load(&root).unwrap();
        // The generators, and the one report section the docs embed by its id today.
        for name in GENERATORS.iter().map(|(name, _)| *name).chain(["outage"]) {
            let text = inputs.generate(name, "../").unwrap();
            assert!(!text.trim().is_empty(), "{name} is empty");
            assert_eq!(inputs.generate(name, "../").unwrap(), text, "{name} is not deterministic");
        }
        let headline = inputs.generate("headline", "").unwrap();
        assert!(headline.contains("| dimension | offered → achieved") && headline.contains("\n- "), "{headline}");
        let sentences = headline.lines().filter(|l| l.starts_with("- ")).count();
        assert!((1..=5).contains(&sentences), "{sentences} headline sentences:\n{headline}");
    }

    #[test]
    fn unbalanced_markers_are_errors_naming_the_file_and_line() {
        let err = parse("docs/a.md", "x\n<!-- generated: headline -->\nbody\n").unwrap_err().to_string();
        assert!(err.contains("docs/a.md:2") && err.contains("`headline` has no end marker"), "{err}");
        let err = parse("docs/a.md", "<!-- /generated: headline -->\n").unwrap_err().to_string();
        assert!(err.contains("docs/a.md:1") && err.contains("without a start marker"), "{err}");
        let text = "<!-- generated: headline -->\n<!-- generated: charts -->\n<!-- /generated: charts -->\n";
        let err = parse("docs/a.md", text).unwrap_err().to_string();
        assert!(err.contains("docs/a.md:2") && err.contains("inside section `headline`"), "{err}");
        let err = parse("docs/a.md", "<!-- generated: -->\n").unwrap_err().to_string();
        assert!(err.contains("docs/a.md:1") && err.contains("malformed marker"), "{err}");
    }
}
