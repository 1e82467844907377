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
//! payload generator and codecs themselves (sizes are a function of the code). Tables are rendered by the
//! report's own code ([`paybench::report::tables`], [`paybench::report::markdown`]); the verdict
//! and its conclusion are copied from the run's `summary.md`, because they also hold criterion's
//! codec figures, which are not committed.
//!
//! `--check` writes nothing and exits 1 after naming every stale section (CI gates on it). An
//! unknown generator, a start marker without its end or an end marker without its start is an
//! error (exit 2) that names the file and line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use paybench::compare::{sources, MetricClass, Thresholds};
use paybench::payload::{Profile, DEFAULT_SEED};
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

/// Every generator; [`Inputs::generate`] says what each is made from, and `docs/report.md` lists
/// them for readers.
const GENERATORS: [&str; 17] = [
    "headline",
    "decomposition",
    "not-measured",
    "charts",
    "run-facts",
    "generator-bound",
    "arms-unloaded",
    "broker-settings",
    "broker-arms",
    "sweeps",
    "capacities",
    "generator-validation",
    "peer-check",
    "instructions",
    "thresholds",
    "profile-sizes",
    "outage",
];

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
            if !GENERATORS.contains(&name) {
                bail!("docs: {file}:{line_no}: unknown generator `{name}`; known: {}", GENERATORS.join(", "));
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
    /// The reference run, without criterion figures (those are not committed).
    report: Report,
    /// The reference run's `summary.md`.
    summary: String,
    /// The newest run with outage experiments (`results/<run-id>`, its results), if one is
    /// committed.
    outage: Option<(String, RunResults)>,
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
        let outage = runs.iter().find(|(_, r)| paybench::report::outage::experiments(r).next().is_some()).cloned();
        let Some(at) = runs.iter().position(|(_, r)| has_headline(r)) else {
            bail!(
                "docs: none of the {count} runs under {} has both `rest` and `grpc` for profile `{HEADLINE_PROFILE}`; commit a reference run (`paybench run scenarios/full.toml`)",
                results_dir.display()
            );
        };
        for (dir, r) in &runs[..at] {
            println!(
                "docs: skipping {dir} (run {}): no `rest` and `grpc` arms for profile `{HEADLINE_PROFILE}`",
                r.run_id
            );
        }
        let (run_dir, results) = runs.swap_remove(at);
        println!(
            "docs: reference run {run_dir} (run {}, the newest of {count} by run id with a headline)",
            results.run_id
        );
        let summary_path = root.join(&run_dir).join("summary.md");
        let summary = std::fs::read_to_string(&summary_path).with_context(|| {
            format!("docs: read {} (`paybench report {run_dir}` writes it)", summary_path.display())
        })?;
        let report = Report { run_dir: root.join(&run_dir), results };
        Ok(Self { root: root.to_path_buf(), run_dir, report, summary, outage })
    }

    fn generate(&self, name: &str, links: &str) -> anyhow::Result<String> {
        let run = format!("{links}{}", self.run_dir);
        match name {
            "headline" => self.headline(&run),
            "decomposition" => self.decomposition(&run),
            "not-measured" => Ok(self.not_measured()?.to_owned()),
            "charts" => self.charts(&run),
            "run-facts" => Ok(bullets(tables::method(&self.report))),
            "generator-bound" => Ok(self.generator_bound()),
            "arms-unloaded" => self.arms_table(|_| true, true),
            "broker-settings" => self.broker_settings(),
            "broker-arms" => self.arms_table(ArmResult::is_broker_arm, false),
            "sweeps" => Ok(self.sweeps()),
            "capacities" => self.capacities(),
            "generator-validation" => self.generator_validation(links),
            "peer-check" => super::peer_check::section(&self.root, links),
            "instructions" => self.instructions(links),
            "thresholds" => self.thresholds(links),
            "profile-sizes" => profile_sizes(),
            "outage" => self.outage(links),
            other => bail!("no generator `{other}`"),
        }
    }

    /// The scenario whose [`HEADLINE_PROFILE`] section the headline is about.
    fn headline_scenario(&self) -> &str {
        let arms = &self.report.results.arms;
        arms.iter()
            .find(|a| a.transport.as_str() == claim::GRPC && a.profile == HEADLINE_PROFILE)
            .map_or("", |a| &a.scenario)
    }

    /// The paragraphs of the headline profile's part of `summary.md` (between its heading and the
    /// next heading).
    fn summary_paragraphs(&self) -> anyhow::Result<Vec<&str>> {
        let heading = markdown::section_heading(self.headline_scenario(), HEADLINE_PROFILE);
        let Some(at) = self.summary.find(&heading) else {
            bail!("{}/summary.md has no {heading:?}: rerun `paybench report {}`", self.run_dir, self.run_dir);
        };
        let body = &self.summary[at + heading.len()..];
        let body = body.find("\n#").map_or(body, |end| &body[..end]);
        Ok(body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect())
    }

    /// The verdict table, the paragraphs between it and the conclusion, and the conclusion.
    fn summary_parts(&self) -> anyhow::Result<(&str, Vec<&str>, &str)> {
        let paragraphs = self.summary_paragraphs()?;
        let table = paragraphs.iter().position(|p| p.starts_with('|'));
        let conclusion = paragraphs.iter().position(|p| p.starts_with("- "));
        match (table, conclusion) {
            (Some(t), Some(c)) if t < c => Ok((paragraphs[t], paragraphs[t + 1..c].to_vec(), paragraphs[c])),
            _ => bail!(
                "{}/summary.md: the `{HEADLINE_PROFILE}` section has no verdict table followed by a conclusion",
                self.run_dir
            ),
        }
    }

    fn run_line(&self, run: &str) -> String {
        let r = &self.report.results;
        format!(
            "Reference run [`{}`]({run}/) (scenario `{}`, profile `{HEADLINE_PROFILE}`; {}, {} cores), from its [`summary.md`]({run}/summary.md); [`report.html`]({run}/report.html) has every chart and every arm's figures.",
            r.run_id,
            self.headline_scenario(),
            r.environment.cpu_model,
            r.environment.cpu_cores
        )
    }

    /// The five generated sentences of `summary.md`, the headline chart, and the headline
    /// profile's verdict table.
    fn headline(&self, run: &str) -> anyhow::Result<String> {
        let (table, _, _) = self.summary_parts()?;
        let Some(at) = self.summary.find(markdown::HEADLINE_HEADING) else {
            bail!(
                "{}/summary.md has no {:?}: rerun `paybench report {}`",
                self.run_dir,
                markdown::HEADLINE_HEADING,
                self.run_dir
            );
        };
        let sentences = self.summary[at + markdown::HEADLINE_HEADING.len()..].trim_start();
        let sentences = sentences.split("\n\n").next().unwrap_or("").trim();
        let mut out = format!("{}\n\n{sentences}\n\n", self.run_line(run));
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
        out.push_str(&format!("The verdict table of profile `{HEADLINE_PROFILE}`:\n\n{table}"));
        Ok(out)
    }

    fn decomposition(&self, run: &str) -> anyhow::Result<String> {
        let (_, middle, _) = self.summary_parts()?;
        if !middle.iter().any(|p| p.starts_with('|')) {
            bail!("{}/summary.md: the `{HEADLINE_PROFILE}` section has no decomposition table", self.run_dir);
        }
        Ok(format!("{}\n\n{}", self.run_line(run), middle.join("\n\n")))
    }

    fn not_measured(&self) -> anyhow::Result<&str> {
        match self.summary.find(markdown::CAVEATS_HEADING) {
            Some(at) => Ok(self.summary[at + markdown::CAVEATS_HEADING.len()..].trim()),
            None => bail!("{}/summary.md has no {:?}", self.run_dir, markdown::CAVEATS_HEADING),
        }
    }

    fn charts(&self, run: &str) -> anyhow::Result<String> {
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

    fn generator_bound(&self) -> String {
        let windows = tables::generator_bound(&self.headline_report());
        if windows.is_empty() {
            return format!(
                "No window of the reference run was flagged generator-bound in profile `{HEADLINE_PROFILE}`."
            );
        }
        format!(
            "Windows of the reference run flagged generator-bound in profile `{HEADLINE_PROFILE}` (arm, profile, load: repetitions):\n\n{}",
            bullets(windows)
        )
    }

    /// The reference run restricted to [`HEADLINE_PROFILE`].
    fn headline_report(&self) -> Report {
        let mut results = self.report.results.clone();
        results.arms.retain(|a| a.profile == HEADLINE_PROFILE);
        Report { run_dir: self.report.run_dir.clone(), results }
    }

    /// The report's per-arm table for the headline profile: the arms `keep` selects, at the lowest
    /// load point only or at every point. The CPU column is left out: CPU per call is in the
    /// verdict and the report, next to how it was read.
    fn arms_table(&self, keep: impl Fn(&ArmResult) -> bool, unloaded_only: bool) -> anyhow::Result<String> {
        let report = self.headline_report();
        let verdicts = report.verdicts()?;
        let Some(v) = verdicts.first() else { bail!("the reference run has no `{HEADLINE_PROFILE}` arms") };
        let labels: Vec<String> =
            v.section.arms.iter().filter(|a| keep(a)).map(|a| paybench::report::format::arm_label(a)).collect();
        let unloaded = verdict::unloaded(&v.section.loads).map(|l| l.label());
        let mut table = tables::arms_table(v);
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

    fn broker_settings(&self) -> anyhow::Result<String> {
        let table = tables::brokers_table(&self.headline_report());
        if table.rows.is_empty() {
            return Ok("The reference run has no broker arms.".to_owned());
        }
        Ok(format!(
            "Reference run `{}`, profile `{HEADLINE_PROFILE}` (the report's brokers table):\n\n{}",
            self.report.results.run_id,
            markdown::table(&table)
        ))
    }

    /// Each arm's capacity searches: the highest offered rate that met the SLO, its resolution and
    /// bottleneck.
    fn sweeps(&self) -> String {
        let arms: Vec<&paybench::results::ArmResult> =
            self.report.results.arms.iter().filter(|a| a.profile == HEADLINE_PROFILE).collect();
        let table = tables::capacity_table(&arms);
        if table.rows.is_empty() {
            return format!("The reference run has no sweep for profile `{HEADLINE_PROFILE}`.");
        }
        format!(
            "Reference run `{}`, profile `{HEADLINE_PROFILE}`:\n\n{}",
            self.report.results.run_id,
            markdown::table(&table)
        )
    }

    /// Each arm's server capacity (replay client) beside its end-to-end capacity (full-stack
    /// client), for the headline profile: the report's capacities table.
    fn capacities(&self) -> anyhow::Result<String> {
        // Sections take the server-capacity arms of their own scenario and profile.
        let report = self.headline_report();
        let verdicts = report.verdicts()?;
        let Some(v) = verdicts.first() else { bail!("the reference run has no `{HEADLINE_PROFILE}` arms") };
        let table = tables::capacities_table(&v.section);
        if table.rows.is_empty() {
            return Ok(format!("The reference run has no capacity for profile `{HEADLINE_PROFILE}`."));
        }
        Ok(format!(
            "Reference run `{}`, profile `{HEADLINE_PROFILE}` (the report's capacities table):\n\n{}",
            self.report.results.run_id,
            markdown::table(&table)
        ))
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
}

/// Request body sizes of every profile at the default seed, from the code rather than a run: what
/// `paybench sizes` prints, raw bytes only. Compressed sizes are left out because they move by a
/// byte with the order of the metadata map, which is new in every process, and the section
/// must be the same every time it is generated.
impl Inputs {
    /// The outage claims table and its sentences, rendered by the report's own section code from
    /// the newest committed run with outage experiments.
    fn outage(&self, links: &str) -> anyhow::Result<String> {
        let Some((dir, results)) = &self.outage else {
            bail!("docs: no committed run has outage experiments; commit one (`paybench run scenarios/outage.toml`)");
        };
        let mut out = format!(
            "From [`{dir}`]({links}{dir}/report.html) (run `{}`, `paybench run scenarios/outage.toml`, {} cores):\n\n",
            results.run_id, results.environment.cpu_cores
        );
        out.push_str(&paybench::report::markdown::table(&paybench::report::outage::claims_table(results)));
        out.push('\n');
        out.push_str(&bullets(paybench::report::outage::sentences(results)));
        Ok(out)
    }
}

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
        for name in GENERATORS {
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
