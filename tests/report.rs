//! `gantry report` rendered in a real browser: headless Chromium (Debian's `chromium`, which
//! scripts/test.sh installs) loads the page from disk with the network off, and the page must
//! draw its plots and images with no script error. A screenshot is kept under the target folder.
mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| Path::new(p).exists())
}

/// Loads `page` headless; returns (the `<body>` tag after the scripts ran, stderr).
fn render(page: &Path, screenshot: Option<&Path>) -> (String, String) {
    let browser =
        chromium().expect("Chromium is needed for this test: apt-get install chromium (scripts/test.sh does)");
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        "--window-size=1280,1800",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()));
    match screenshot {
        Some(s) => cmd.arg(format!("--screenshot={}", s.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd.arg(format!("file://{}", page.display())).output().expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let body = dom.find("<body").map(|i| dom[i..dom[i..].find('>').unwrap() + i + 1].to_string()).unwrap_or_default();
    (body, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn attr(body: &str, name: &str) -> String {
    let key = format!("{name}=\"");
    body.find(&key).map(|i| body[i + key.len()..].split('"').next().unwrap().to_string()).unwrap_or_default()
}

fn check(page: &Path, min_plots: usize, min_images: usize) {
    let (body, log) = render(page, None);
    assert_eq!(attr(&body, "data-status"), "ok", "{body}\n{log}");
    assert!(!log.contains("Uncaught") && !log.contains("CONSOLE"), "the page logged to the console: {log}");
    assert!(attr(&body, "data-plots").parse::<usize>().unwrap() >= min_plots, "{body}");
    let (images, wanted) = (attr(&body, "data-images"), attr(&body, "data-images-wanted"));
    assert!(
        wanted.parse::<usize>().unwrap() >= min_images && images == wanted,
        "images drawn {images} of {wanted}: {body}"
    );
    assert!(
        attr(&body, "data-coloured-pixels").parse::<usize>().unwrap() > 200,
        "the first plot has no drawn line: {body}"
    );
}

#[test]
fn reports_load_in_chromium_and_draw_plots_and_grids() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let data = tiny_idx_named(d, "idx", 32, false, 5, true);
    let data = data.to_str().unwrap();
    let cadence = ["--set", "train.log_every=2", "--set", "train.sample_every=4", "--set", "train.checkpoint_every=4"];
    tiny_run(d, "dcgan", data, "a", "8", &cadence).ok();
    // training wrote the page at its sample steps
    let page = d.join("a/report.html");
    assert!(page.is_file());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"), "the page must fetch nothing");
    check(&page, 4, 1);
    // an eval result joins the page; a second run, compared
    gantry(d, &["eval", "--run", "a", "--samples", "16", "--quiet"]).ok();
    assert!(d.join("a/eval/step-0000008.json").is_file());
    tiny_run(d, "lsgan", data, "b", "6", &cadence).ok();
    let r = gantry(d, &["report", "--run", "a"]).ok().json();
    assert_eq!(r["report"], "a/report.html");
    assert!(std::fs::read_to_string(&page).unwrap().contains("fcd"));
    gantry(d, &["report", "--runs", "a", "b", "--out", "both.html"]).ok();
    check(&d.join("both.html"), 4, 2);
    // a screenshot for people to look at
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    render(&d.join("both.html"), Some(&shot));
    assert!(image::open(&shot).unwrap().width() >= 1000);
    // train.report = false writes no page; a folder that is not a run is refused
    tiny_run(d, "dcgan", data, "c", "2", &["--set", "train.report=false"]).ok();
    assert!(!d.join("c/report.html").exists());
    gantry(d, &["report", "--run", "idx"]).fails_with("not a gantry run folder");
}
