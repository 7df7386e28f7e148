//! Helpers for the integration tests: run the real `gantry` binary in a temporary folder, and
//! write tiny data sets it can train on.
#![allow(dead_code)]
use gantry::data::idx;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Run {
    pub out: Output,
}

impl Run {
    pub fn ok(self) -> Self {
        assert!(self.out.status.success(), "gantry failed:\nstdout: {}\nstderr: {}", self.stdout(), self.stderr());
        self
    }
    /// Fails unless the command exited non-zero with a clean message containing `needle`.
    pub fn fails_with(self, needle: &str) -> Self {
        let err = self.stderr();
        assert!(!self.out.status.success(), "expected failure, got success; stderr: {err}");
        assert_eq!(self.out.status.code(), Some(1), "exit code; stderr: {err}");
        assert!(err.contains("error:"), "no error line: {err}");
        assert!(err.contains(needle), "expected `{needle}` in: {err}");
        assert!(!err.contains("panicked") && !err.contains("backtrace"), "panic: {err}");
        self
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    /// The last line of stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        let s = self.stdout();
        serde_json::from_str(s.lines().last().expect("output")).expect("JSON")
    }
}

pub fn gantry(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(args)
        .current_dir(dir)
        .env("OMP_NUM_THREADS", "1")
        // classifiers trained on first use are cached inside the test's folder, not in ~/.cache
        .env("GANTRY_CACHE", dir.join(".gantry-cache"))
        .output()
        .expect("gantry runs");
    Run { out }
}

/// A folder of `n` random 28×28 images with labels in MNIST's IDX format (gzip when `gz`).
pub fn tiny_idx(dir: &Path, n: usize, gz: bool) -> PathBuf {
    tiny_idx_named(dir, "tiny-idx", n, gz, 12345, false)
}

/// As `tiny_idx`, in folder `name`, from `seed`, with a `t10k` split of `n / 2` when `test`.
pub fn tiny_idx_named(dir: &Path, name: &str, n: usize, gz: bool, seed: u64, test: bool) -> PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    write_split(&d, "train", n, gz, seed);
    if test {
        write_split(&d, "t10k", n / 2, gz, seed + 1);
    }
    d
}

fn write_split(d: &Path, split: &str, n: usize, gz: bool, seed: u64) {
    let mut s = seed;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 33) as u8
    };
    let images: Vec<u8> = (0..n * 28 * 28).map(|_| next()).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    write(d, &format!("{split}-images-idx3-ubyte"), &idx::encode(&[n, 28, 28], &images), gz);
    write(d, &format!("{split}-labels-idx1-ubyte"), &idx::encode(&[n], &labels), gz);
}

pub fn write(dir: &Path, stem: &str, bytes: &[u8], gz: bool) {
    if gz {
        let f = std::fs::File::create(dir.join(format!("{stem}.gz"))).unwrap();
        let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap();
    } else {
        std::fs::write(dir.join(stem), bytes).unwrap();
    }
}

/// A CSV of `n` 1-D points from N(1, 0.5²) (deterministic).
pub fn points_csv(dir: &Path, n: usize) -> PathBuf {
    let p = dir.join("points.csv");
    let mut s = String::from("x\n");
    for i in 0..n {
        let u = (i as f64 + 0.5) / n as f64;
        // inverse-CDF-free spread: a symmetric triangular ramp around 1.0
        s.push_str(&format!("{}\n", 1.0 + (u - 0.5) * 2.0));
    }
    std::fs::write(&p, s).unwrap();
    p
}

pub fn metrics(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Trains `preset` for `steps` generator steps on `data` into `out`, with small batches and
/// narrow DCGAN networks so the test stays quick; `extra` adds flags.
pub fn tiny_run(dir: &Path, preset: &str, data: &str, out: &str, steps: &str, extra: &[&str]) -> Run {
    tiny_run_with(dir, preset, data, out, steps, &[&["--quiet"], extra].concat())
}

/// `tiny_run` without `--quiet`: what the run says on stderr is kept.
pub fn tiny_run_loud(dir: &Path, preset: &str, data: &str, out: &str, steps: &str, extra: &[&str]) -> Run {
    tiny_run_with(dir, preset, data, out, steps, extra)
}

fn tiny_run_with(dir: &Path, preset: &str, data: &str, out: &str, steps: &str, extra: &[&str]) -> Run {
    let mut a = vec![
        "train",
        "--preset",
        preset,
        "--data",
        data,
        "--out",
        out,
        "--steps",
        steps,
        "--set",
        "data.batch_size=8",
        "--set",
        "model.base_channels=8",
    ];
    a.extend_from_slice(extra);
    gantry(dir, &a)
}

/// A tiny digits-edges two-domain folder `pair` (random 28×28 "digits" from a generated IDX
/// set of `n` images); returns its path.
pub fn tiny_domains(dir: &Path, n: usize) -> String {
    let mnist = tiny_idx_named(dir, "mnist", n, false, 5, true);
    gantry(dir, &["data", "make", "digits-edges", "--mnist", mnist.to_str().unwrap(), "--out", "pair"]).ok();
    dir.join("pair").display().to_string()
}

/// CycleGAN's networks at their narrowest with batch 2, for quick translation runs.
pub const CYCLEGAN_TINY: &[&str] =
    &["--set", "cyclegan.ngf=4", "--set", "cyclegan.ndf=4", "--set", "cyclegan.blocks=1", "--set", "data.batch_size=2"];

/// Runs `tests/py/export_check.py` (PyTorch loading gantry's exports) and returns its JSON.
pub fn python(args: &[&str]) -> serde_json::Value {
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/export_check.py"))
        // one thread, as gantry runs in these tests: a reduction split across threads rounds
        // differently, and layer norm magnifies it
        .env("OMP_NUM_THREADS", "1")
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "PyTorch could not use the export: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}
