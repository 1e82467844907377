//! Renders `report.html` (generated here from the committed example results) in headless
//! Chromium and checks what a reader would see: every chart drawn with a non-zero size, the
//! verdict table filled, no console error, the headline chart above the fold of a 1280x800 window.
//! Saves that first screen to `target/report-screenshot.png`.
//!
//! Needs Debian's `chromium` (`harness/scripts/install-deps.sh` installs it; `PAYBENCH_CHROMIUM`
//! overrides the path). Without it the test fails with that instruction: it never skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Longest a single Chromium invocation may take before the test fails.
const BROWSER_DEADLINE: Duration = Duration::from_secs(90);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("harness has a parent").to_path_buf()
}

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("PAYBENCH_CHROMIUM") {
        return PathBuf::from(path);
    }
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("report_browser: no chromium on PATH (nor PAYBENCH_CHROMIUM); install it with harness/scripts/install-deps.sh (Debian package `chromium`)")
    })
}

/// The test fixture run (`tests/fixtures/small-run/results.json`): a short real run of the
/// claim's arms with operating points and codec timing, kept with the tests.
fn example_results() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small-run/results.json")
}

/// The viewport the headline must fit: a common laptop screen.
const FOLD: (u32, u32) = (1280, 800);

/// Runs headless Chromium on `url` with `extra` flags, killing it past the deadline.
fn run_chromium(extra: &[&str], url: &str, profile_dir: &Path) -> Output {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
        ])
        .args(["--disable-component-update", "--disable-sync", "--hide-scrollbars", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile_dir.display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start chromium: {e}; install it with harness/scripts/install-deps.sh"));
    // Drain the pipes on threads so a large DOM cannot block the browser.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || read_all(&mut stdout));
    let err = std::thread::spawn(move || read_all(&mut stderr));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll chromium") {
            break status;
        }
        if start.elapsed() > BROWSER_DEADLINE {
            let _ = child.kill();
            panic!("chromium did not finish within {BROWSER_DEADLINE:?} on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output { status, stdout: out.join().expect("stdout reader"), stderr: err.join().expect("stderr reader") }
}

fn read_all(r: &mut impl std::io::Read) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = r.read_to_end(&mut buf);
    buf
}

/// Console messages and uncaught exceptions Chromium logged.
fn console_errors(stderr: &str) -> Vec<String> {
    stderr.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught")).map(String::from).collect()
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    Some(tag[start..].split('"').next()?.to_string())
}

/// The page at `url` as Chromium lays it out in a [`FOLD`]-sized window (its DOM after the
/// measuring script ran), and Chromium's stderr; `dir` holds the browser profile.
fn dump_dom(url: &str, dir: &Path) -> (String, String) {
    let window = format!("--window-size={},{}", FOLD.0, FOLD.1);
    let dump = run_chromium(&["--dump-dom", &window], url, &dir.join("profile-dom"));
    assert!(dump.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&dump.stderr));
    (String::from_utf8_lossy(&dump.stdout).into_owned(), String::from_utf8_lossy(&dump.stderr).into_owned())
}

/// The `<body ...` tag, where the measuring script writes its `data-*` attributes.
fn body_tag(dom: &str) -> &str {
    let body_start = dom.find("<body").expect("body tag");
    &dom[body_start..body_start + dom[body_start..].find('>').expect("closed body tag")]
}

/// The widest verdict table and the page fit a [`FOLD`]-wide window (`what` names the report).
fn assert_fits_the_window(body_tag: &str, what: &str) {
    let table_w = width(body_tag, "data-widest-verdict-table");
    assert!(
        (1..=FOLD.0).contains(&table_w),
        "{what}: the widest open verdict table is {table_w} px in a {} px window",
        FOLD.0
    );
    assert_page_fits(body_tag, what);
}

/// The page fits a [`FOLD`]-wide window, every table of it included.
fn assert_page_fits(body_tag: &str, what: &str) {
    let page_w = width(body_tag, "data-page-w");
    assert!(page_w <= FOLD.0, "{what}: the page is {page_w} px wide in a {} px window", FOLD.0);
}

/// A `data-*` width the measuring script wrote, px (`u32::MAX` when missing).
fn width(body_tag: &str, name: &str) -> u32 {
    attr(body_tag, name).and_then(|v| v.parse::<u32>().ok()).unwrap_or(u32::MAX)
}

/// (chart id, rendered width, rendered height) of every `<figure class="chart">`.
fn chart_sizes(dom: &str) -> Vec<(String, u32, u32)> {
    dom.match_indices("<figure class=\"chart\"")
        .map(|(i, _)| {
            let tag = &dom[i..i + dom[i..].find('>').expect("closed figure tag")];
            let size = |n| attr(tag, n).and_then(|v| v.parse().ok()).unwrap_or(0);
            (attr(tag, "data-chart").unwrap_or_default(), size("data-rendered-w"), size("data-rendered-h"))
        })
        .collect()
}

/// The opening tag of the `<figure>` of chart `id`.
fn dom_figure<'a>(dom: &'a str, id: &str) -> &'a str {
    let at = dom.find(&format!("<figure class=\"chart\" id=\"chart-{id}\"")).unwrap_or_else(|| panic!("no chart {id}"));
    &dom[at..at + dom[at..].find('>').expect("closed figure tag")]
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("paybench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

#[test]
fn report_renders_in_chromium_with_charts_a_filled_verdict_and_no_console_error() {
    let dir = temp_dir("report-browser");
    std::fs::copy(example_results(), dir.join("results.json")).expect("copy example results");
    let written = paybench::report::write(&dir).expect("write report");
    let url = format!("file://{}", written.html.display());

    let window = format!("--window-size={},{}", FOLD.0, FOLD.1);
    let (dom, stderr) = dump_dom(&url, &dir);
    assert_eq!(console_errors(&stderr), Vec::<String>::new(), "the page logged to the console");
    let body_tag = body_tag(&dom);
    assert_eq!(attr(body_tag, "data-measure-error"), None, "the measuring script threw");

    let charts = chart_sizes(&dom);
    let measured: usize = attr(body_tag, "data-measured").and_then(|v| v.parse().ok()).unwrap_or(0);
    assert_eq!(measured, charts.len(), "the script measured every chart");
    for id in [
        "headline",
        "verdict",
        "spectrum-unloaded",
        "latency-vs-throughput",
        "cpu-per-call",
        "wire-bytes",
        "body-bytes",
        "codec-speed",
    ] {
        assert!(charts.iter().any(|(c, _, _)| c == id), "chart {id} missing; have {charts:?}");
    }
    // The headline chart is drawn, at a readable size, and ends above the fold of a 1280x800
    // window: a reader sees the verdict without scrolling. The other charts sit in collapsed
    // <details> (rendered at 0x0 until opened): each must still hold its SVG.
    let headline = dom_figure(&dom, "headline");
    let bottom: u32 = attr(headline, "data-rendered-bottom").and_then(|v| v.parse().ok()).unwrap_or(u32::MAX);
    let (_, w, h) = charts.iter().find(|(c, _, _)| c == "headline").cloned().unwrap_or_default();
    assert!(w > 600 && h > 200, "headline chart rendered at {w}x{h}");
    assert!(bottom <= FOLD.1, "headline chart ends at {bottom} px, below the fold at {} px", FOLD.1);
    for (id, _, _) in &charts {
        let figure = &dom[dom.find(&format!("data-chart=\"{id}\"")).expect("figure")..];
        let figure = &figure[..figure.find("</figure>").expect("figure end")];
        assert!(figure.contains("<svg") && figure.contains("<rect"), "chart {id} has no drawing");
    }
    let sentences = &dom[dom.find("<div class=\"conclusion headline\">").expect("headline sentences")..];
    let sentences = &sentences[..sentences.find("</div>").expect("end of headline sentences")];
    let count = sentences.matches("<li>").count();
    assert!((1..=5).contains(&count), "{count} headline sentences:\n{sentences}");

    // The verdict tables fit the window: no column runs off the page.
    assert_fits_the_window(body_tag, "the example results");

    let verdict = &dom[dom.find("<table class=\"verdict\">").expect("verdict table")..];
    let verdict = &verdict[..verdict.find("</table>").expect("verdict table end")];
    let ratio_cells = verdict.matches("x</td>").count();
    assert!(ratio_cells >= 4, "verdict table has {ratio_cells} ratio cells:\n{verdict}");
    assert!(
        verdict.contains("p99 latency") && verdict.contains("wire bytes per call"),
        "verdict rows missing:\n{verdict}"
    );

    let screenshot = workspace().join("target/report-screenshot.png");
    // `target/` may not exist (CARGO_TARGET_DIR elsewhere); chromium does not create folders.
    std::fs::create_dir_all(screenshot.parent().expect("has a parent")).expect("create target/");
    let _ = std::fs::remove_file(&screenshot);
    let shot =
        run_chromium(&[&format!("--screenshot={}", screenshot.display()), &window], &url, &dir.join("profile-shot"));
    assert!(shot.status.success(), "chromium --screenshot failed: {}", String::from_utf8_lossy(&shot.stderr));
    let png = std::fs::read(&screenshot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "screenshot is {} bytes", png.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The console check itself: a page that throws must be caught, or the test above proves nothing.
#[test]
fn console_check_catches_an_uncaught_error() {
    let dir = temp_dir("report-browser-negative");
    let page = dir.join("throws.html");
    std::fs::write(&page, "<!DOCTYPE html><html><body><p>x</p><script>undefinedFunction();</script></body></html>")
        .expect("write page");
    let out = run_chromium(&["--dump-dom"], &format!("file://{}", page.display()), &dir.join("profile"));
    let errors = console_errors(&String::from_utf8_lossy(&out.stderr));
    assert!(errors.iter().any(|l| l.contains("undefinedFunction")), "uncaught error not seen in: {errors:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The committed reference run (the newest full run) fits a 1280-px window too: its notes cells
/// hold long unbroken paths (`results.json arms full/{rest,grpc}/small:...`) that once pushed
/// its verdict tables past the page's edge, which the example results above do not show.
#[test]
fn the_committed_reference_run_fits_the_window() {
    let results = workspace().join("results");
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&results)
        .expect("list results/")
        .map(|e| e.expect("entry").path())
        .filter(|p| paybench::results::has_results(p))
        .collect();
    runs.sort();
    assert!(runs.iter().any(|p| p.to_string_lossy().ends_with("-full")), "a committed full run: {runs:?}");
    // Every committed run, the timed experiments' too: the resilience run's burst table ran
    // past 1280 px while cells that merely start with a figure were kept on one line.
    for run in &runs {
        let dir = temp_dir("report-browser-reference");
        // Committed runs keep `results.json.gz`; the report reads a plain `results.json`.
        let reference = paybench::results::RunResults::read(&run.join("results.json")).expect("read the run");
        reference.write(&dir).expect("write the results");
        let written = paybench::report::write(&dir).expect("write report");
        let (dom, _) = dump_dom(&format!("file://{}", written.html.display()), &dir);
        // A run of timed experiments alone has no verdict table; its page must fit all the same.
        if reference.arms.is_empty() {
            assert_page_fits(body_tag(&dom), &run.display().to_string());
        } else {
            assert_fits_the_window(body_tag(&dom), &run.display().to_string());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
