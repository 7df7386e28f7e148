//! Progress bars for long work (training, classifier training, evaluation over many samples,
//! data export, image-folder decoding): drawn on stderr when it is a terminal, with an ETA;
//! hidden in pipes (indicatif draws nothing when stderr is not a terminal) and under `--quiet`.
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet` for the whole process.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// A bar of `len` steps named `prefix` (hidden when quiet or when `quiet` is passed true).
pub fn bar(len: u64, prefix: &str, quiet_here: bool) -> ProgressBar {
    if quiet_here || quiet() {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} {per_sec} ETA {eta}")
            .expect("template")
            .progress_chars("=> "),
    );
    b.set_prefix(prefix.to_string());
    b
}
