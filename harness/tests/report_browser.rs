//! Renders `report.html` (generated here from the committed example results) in headless
//! Chromium and checks what a reader would see: every chart drawn with a non-zero size, the
//! verdict table filled, no console error. Saves a screenshot to `target/report-screenshot.png`.
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

/// The committed example run: the first `results/*/results.json`, by name.
fn example_results() -> PathBuf {
    let dir = workspace().join("results");
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path().join("results.json")))
        .filter(|p| p.is_file())
        .collect();
    runs.sort();
    runs.into_iter().next().unwrap_or_else(|| panic!("no committed results/*/results.json under {}", dir.display()))
}

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
    let written = paybench::report::write(&dir, &workspace().join("target/criterion")).expect("write report");
    let url = format!("file://{}", written.html.display());

    let dump = run_chromium(&["--dump-dom"], &url, &dir.join("profile-dom"));
    assert!(dump.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&dump.stderr));
    let dom = String::from_utf8_lossy(&dump.stdout);
    let stderr = String::from_utf8_lossy(&dump.stderr);
    assert_eq!(console_errors(&stderr), Vec::<String>::new(), "the page logged to the console");
    let body_start = dom.find("<body").expect("body tag");
    let body_tag = &dom[body_start..body_start + dom[body_start..].find('>').expect("closed body tag")];
    assert_eq!(attr(body_tag, "data-measure-error"), None, "the measuring script threw");

    let charts = chart_sizes(&dom);
    let measured: usize = attr(body_tag, "data-measured").and_then(|v| v.parse().ok()).unwrap_or(0);
    assert_eq!(measured, charts.len(), "the script measured every chart");
    for id in ["verdict", "spectrum-unloaded", "latency-vs-throughput", "cpu-per-call", "wire-bytes", "body-bytes"] {
        assert!(charts.iter().any(|(c, _, _)| c == id), "chart {id} missing; have {charts:?}");
    }
    for (id, w, h) in &charts {
        assert!(*w > 200 && *h > 100, "chart {id} rendered at {w}x{h}");
    }

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
    let shot = run_chromium(
        &[&format!("--screenshot={}", screenshot.display()), "--window-size=1400,4000"],
        &url,
        &dir.join("profile-shot"),
    );
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
