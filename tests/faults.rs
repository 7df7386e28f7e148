//! The fault campaign: `kill -9` at random moments and, through `GANTRY_TEST_FAULT`, at fixed
//! points of a checkpoint's write and delete; SIGINT and SIGTERM; a second trainer on a locked
//! folder; learning-rate bombs and a poisoned weight. After each fault every listed checkpoint
//! must load with `gantry sample` and hold only finite values, no step may be lost beyond the
//! checkpoint interval (none at all after a signal), nothing may panic, and resuming must reach
//! the straight run's checkpoint byte for byte.
//!
//! The suite runs a small campaign. `GANTRY_FAULT_LONG=1` runs every injection pass and
//! `GANTRY_FAULT_TRIALS` random kills and signals (default 2 each), from `GANTRY_FAULT_SEED`
//! (default 17); `GANTRY_FAULT_REPORT=DIR` writes each test's figures there as JSON.
//! `bench/faults.py` runs it that way and records the figures in docs/benchmarks.md.
mod common;
use common::gantry;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Steps of every run, and its checkpoint interval.
const STEPS: u64 = 30;
const EVERY: u64 = 5;
/// Files a toy-gan checkpoint writes (g, d, opt_g, opt_d).
const FILES: u64 = 4;

fn long() -> bool {
    std::env::var("GANTRY_FAULT_LONG").is_ok_and(|v| v == "1")
}

fn trials() -> u64 {
    std::env::var("GANTRY_FAULT_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(2)
}

/// A seeded generator for kill times, so that a campaign can be repeated.
struct Lcg(u64);
impl Lcg {
    fn new(salt: u64) -> Lcg {
        let seed = std::env::var("GANTRY_FAULT_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(17u64);
        Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt)
    }
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What a campaign counted.
#[derive(Default, Debug, serde::Serialize)]
struct Tally {
    trials: u64,
    faults: u64,
    corrupt: u64,
    lost: u64,
    non_exact: u64,
    panics: u64,
    notes: Vec<String>,
}

impl Tally {
    fn bad(&mut self, what: &str, trial: &str, detail: String) {
        match what {
            "corrupt" => self.corrupt += 1,
            "lost" => self.lost += 1,
            "non_exact" => self.non_exact += 1,
            _ => self.panics += 1,
        }
        self.notes.push(format!("{trial}: {what}: {detail}"));
    }

    /// Writes the figures when asked, then fails the test on any bad outcome.
    fn finish(self, name: &str) {
        if let Ok(dir) = std::env::var("GANTRY_FAULT_REPORT") {
            std::fs::create_dir_all(&dir).unwrap();
            let text = serde_json::to_string_pretty(&self).unwrap();
            std::fs::write(Path::new(&dir).join(format!("{name}.json")), text).unwrap();
        }
        eprintln!("{name}: {self:?}");
        assert!(self.trials > 0);
        assert_eq!(self.corrupt + self.lost + self.non_exact + self.panics, 0, "{name}: {:#?}", self.notes);
    }
}

fn train_args(out: &str) -> Vec<String> {
    let mut a: Vec<String> =
        ["train", "--preset", "toy-gan", "--data", "ring8", "--out", out, "--quiet"].map(String::from).to_vec();
    a.extend(["--steps".into(), STEPS.to_string()]);
    for s in [
        format!("train.checkpoint_every={EVERY}"),
        "train.keep_checkpoints=2".into(),
        "train.log_every=1".into(),
        "train.sample_every=0".into(),
    ] {
        a.extend(["--set".into(), s]);
    }
    a
}

fn command(dir: &Path, args: &[String], fault: Option<&str>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gantry"));
    c.args(args).current_dir(dir).env("OMP_NUM_THREADS", "1").stdout(Stdio::piped()).stderr(Stdio::piped());
    match fault {
        Some(f) => c.env("GANTRY_TEST_FAULT", f),
        None => c.env_remove("GANTRY_TEST_FAULT"),
    };
    c
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The final checkpoint's files of a straight run.
fn straight(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    gantry(dir, &strs(&train_args("straight"))).ok();
    final_files(&dir.join("straight")).expect("the straight run's last checkpoint")
}

fn final_files(run: &Path) -> Option<BTreeMap<String, Vec<u8>>> {
    let ck = run.join(format!("checkpoints/step-{STEPS:07}"));
    let mut out = BTreeMap::new();
    for f in ["g", "d", "opt_g", "opt_d"] {
        out.insert(f.to_string(), std::fs::read(ck.join(format!("{f}.safetensors"))).ok()?);
    }
    Some(out)
}

/// Steps of the checkpoints gantry lists (complete folders), oldest first.
fn listed(run: &Path) -> Vec<u64> {
    let mut v: Vec<u64> = std::fs::read_dir(run.join("checkpoints"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().join("state.json").is_file())
                .filter_map(|e| e.file_name().to_str()?.strip_prefix("step-")?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The last step metrics.jsonl logged (0 without one).
fn last_logged(run: &Path) -> u64 {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["step"].as_u64())
        .max()
        .unwrap_or(0)
}

/// Whether every float in a safetensors file is finite.
fn finite(path: &Path) -> Result<(), String> {
    let tensors = tch::Tensor::read_safetensors(path).map_err(|e| e.to_string())?;
    for (name, t) in tensors {
        if t.is_floating_point() && t.isfinite().logical_not().any().int64_value(&[]) != 0 {
            return Err(format!("{} `{name}` is not finite", path.display()));
        }
    }
    Ok(())
}

fn panicked(out: &Output) -> bool {
    let err = String::from_utf8_lossy(&out.stderr);
    out.status.code() == Some(101) || err.contains("panicked") || err.contains("RUST_BACKTRACE")
}

/// Checks a run folder after a fault: every listed checkpoint loads and is finite, none newer
/// than `must_have` is missing, and (when `resume`) going on from it reaches `straight`.
fn check_after(
    tally: &mut Tally,
    dir: &Path,
    out: &str,
    trial: &str,
    must_have: u64,
    straight: Option<&BTreeMap<String, Vec<u8>>>,
) {
    let run = dir.join(out);
    let steps = listed(&run);
    for &s in &steps {
        let ck = run.join(format!("checkpoints/step-{s:07}"));
        let sample = gantry(dir, &["sample", "--run", out, "--step", &s.to_string(), "--n", "4", "--out", "x.csv"]);
        if !sample.out.status.success() {
            tally.bad("corrupt", trial, format!("checkpoint {s} does not load: {}", sample.stderr()));
        }
        for f in ["g", "d", "opt_g", "opt_d"] {
            if let Err(e) = finite(&ck.join(format!("{f}.safetensors"))) {
                tally.bad("corrupt", trial, e);
            }
        }
    }
    let newest = steps.last().copied().unwrap_or(0);
    if newest < must_have {
        tally.bad("lost", trial, format!("newest checkpoint {newest}, but step {must_have} had been checkpointed"));
    }
    let Some(straight) = straight else { return };
    let resume: Vec<String> = if steps.is_empty() {
        train_args(out)
    } else {
        ["train", "--out", out, "--resume", "--quiet", "--steps", &STEPS.to_string()].map(String::from).to_vec()
    };
    let done = command(dir, &resume, None).output().unwrap();
    if panicked(&done) {
        tally.bad("panic", trial, String::from_utf8_lossy(&done.stderr).into());
    }
    if !done.status.success() && newest < STEPS {
        tally.bad("lost", trial, format!("resume failed: {}", String::from_utf8_lossy(&done.stderr)));
    }
    match final_files(&run) {
        Some(files) if &files == straight => {}
        Some(_) => {
            tally.bad("non_exact", trial, "the resumed run's last checkpoint differs from the straight run's".into())
        }
        None => tally.bad("lost", trial, "no last checkpoint after resuming".into()),
    }
}

/// The newest checkpoint that must have survived a kill after `logged` steps were logged (the
/// log line of a step comes before its checkpoint).
fn survives(logged: u64) -> u64 {
    logged.saturating_sub(1) / EVERY * EVERY
}

#[test]
fn kills_at_each_checkpoint_write_and_delete_point_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let straight = straight(dir);
    let checkpoints = STEPS / EVERY;
    // (point, pass, the newest checkpoint that must have survived)
    let mut plan: Vec<(&str, u64, u64)> = vec![];
    let files: Vec<u64> = if long() { (1..=checkpoints * FILES).collect() } else { vec![1, 6] };
    plan.extend(files.iter().map(|&n| ("kill-ckpt-files", n, (n - 1) / FILES * EVERY)));
    let renamed: Vec<u64> = if long() { (1..checkpoints).collect() } else { vec![3] };
    plan.extend(renamed.iter().map(|&n| ("kill-ckpt-renamed", n, n * EVERY)));
    // with two checkpoints kept, the k-th deletion follows the (k + 2)-th checkpoint
    let trash: Vec<u64> = if long() { (1..=checkpoints - 2).collect() } else { vec![2] };
    plan.extend(trash.iter().map(|&n| ("kill-ckpt-trash", n, (n + 2) * EVERY)));
    let steps: Vec<u64> = if long() { (1..STEPS).step_by(2).collect() } else { vec![1, 11] };
    plan.extend(steps.iter().map(|&n| ("kill-step", n, survives(n))));
    let mut tally = Tally::default();
    for (i, (point, pass, must_have)) in plan.into_iter().enumerate() {
        let out = format!("k{i}");
        let trial = format!("{point}@{pass}");
        let o = command(dir, &train_args(&out), Some(&trial)).output().unwrap();
        tally.trials += 1;
        if panicked(&o) {
            tally.bad("panic", &trial, String::from_utf8_lossy(&o.stderr).into());
        }
        // SIGKILL: no exit code
        if o.status.code().is_none() {
            tally.faults += 1;
        } else {
            tally.notes.push(format!("{trial}: the fault did not fire (exit {:?})", o.status.code()));
        }
        check_after(&mut tally, dir, &out, &trial, must_have, Some(&straight));
    }
    assert_eq!(tally.faults, tally.trials, "every planned kill fired: {:?}", tally.notes);
    tally.finish("kill-points");
}

/// Starts a trainer and signals it after a random delay.
fn signal_trials(name: &str, sig: i32, salt: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let straight = straight(dir);
    // how long a straight run takes here, so that delays fall inside a run
    let t0 = Instant::now();
    gantry(dir, &strs(&train_args("timing"))).ok();
    let span = t0.elapsed().as_secs_f64();
    let mut rng = Lcg::new(salt);
    let mut tally = Tally::default();
    let n = if long() { trials() } else { trials().min(2) };
    for i in 0..n {
        let out = format!("s{i}");
        let delay = span * (0.1 + 0.85 * rng.unit());
        let trial = format!("{name} after {delay:.2} s");
        let child = command(dir, &train_args(&out), None).spawn().unwrap();
        std::thread::sleep(Duration::from_secs_f64(delay));
        // SAFETY: signals our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        let o = child.wait_with_output().unwrap();
        tally.trials += 1;
        if panicked(&o) {
            tally.bad("panic", &trial, String::from_utf8_lossy(&o.stderr).into());
        }
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        let must_have = match (sig, o.status.code()) {
            (libc::SIGKILL, None) => {
                tally.faults += 1;
                survives(last_logged(&dir.join(&out)))
            }
            (_, Some(c)) if c == 128 + sig => {
                tally.faults += 1;
                // the interrupted step is checkpointed, and named
                let step: u64 = err
                    .split("after step ")
                    .nth(1)
                    .and_then(|s| s.split(';').next()?.trim().parse().ok())
                    .unwrap_or(u64::MAX);
                if step == u64::MAX {
                    tally.bad("lost", &trial, format!("no step named: {err}"));
                }
                step.min(STEPS)
            }
            (_, Some(0)) => STEPS, // the signal came after the run had finished or before it began
            // before the handler was installed the default action ends the process
            (_, None) => {
                tally.faults += 1;
                0
            }
            (_, Some(c)) => {
                tally.bad("lost", &trial, format!("exit {c}: {err}"));
                0
            }
        };
        check_after(&mut tally, dir, &out, &trial, must_have, Some(&straight));
    }
    tally.finish(name);
}

#[test]
fn kill_9_at_random_moments_loses_nothing() {
    signal_trials("random-kill-9", libc::SIGKILL, 1);
}

#[test]
fn sigint_and_sigterm_at_random_moments_checkpoint_the_step() {
    signal_trials("random-sigint", libc::SIGINT, 2);
    signal_trials("random-sigterm", libc::SIGTERM, 3);
}

#[test]
fn a_second_trainer_on_a_busy_folder_is_refused_and_harms_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut tally = Tally::default();
    let mut a = train_args("busy");
    let at = a.iter().position(|x| x == "--steps").unwrap() + 1;
    a[at] = "100000".into();
    let child = command(dir, &a, None).spawn().unwrap();
    let t0 = Instant::now();
    while last_logged(&dir.join("busy")) < 2 {
        assert!(t0.elapsed() < Duration::from_secs(120), "the trainer did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    for extra in [vec!["--resume"], vec!["--seed", "2"]] {
        let mut b = train_args("busy");
        b.extend(extra.iter().map(|s| s.to_string()));
        let o = command(dir, &b, None).output().unwrap();
        tally.trials += 1;
        tally.faults += 1;
        let err = String::from_utf8_lossy(&o.stderr);
        if o.status.code() != Some(1) || !err.contains(&format!("process {} is training into it", child.id())) {
            tally.bad("lost", "second trainer", format!("exit {:?}: {err}", o.status.code()));
        }
    }
    // SAFETY: stops our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let o = child.wait_with_output().unwrap();
    if o.status.code() != Some(143) {
        tally.bad("lost", "first trainer", format!("exit {:?}", o.status.code()));
    }
    // the busy run is intact: its checkpoints load (the straight comparison is for the
    // 30-step runs; this one ran past them)
    check_after(&mut tally, dir, "busy", "busy folder", 0, None);
    tally.finish("second-trainer");
}

#[test]
fn learning_rate_bombs_and_a_poisoned_weight_leave_only_finite_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut tally = Tally::default();
    let bombs: [(&str, &[&str], Option<&str>); 5] = [
        ("sgd 1e8", &["train.optimizer=\"sgd\"", "train.g_lr=1e8", "train.d_lr=1e8"], None),
        ("adam 1e6", &["train.g_lr=1e6", "train.d_lr=1e6"], None),
        ("adam 1e4", &["train.g_lr=1e4"], None),
        ("poison at step 12", &[], Some("poison-step@12")),
        ("poison at step 12, finiteness only", &["train.divergence_bound=0"], Some("poison-step@12")),
    ];
    for (i, (trial, sets, fault)) in bombs.into_iter().enumerate() {
        let out = format!("b{i}");
        let mut a = train_args(&out);
        for s in sets {
            a.extend(["--set".into(), s.to_string()]);
        }
        let o = command(dir, &a, fault).output().unwrap();
        tally.trials += 1;
        tally.faults += 1;
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        if panicked(&o) {
            tally.bad("panic", trial, err.clone());
        }
        if o.status.code() != Some(1) || !err.contains("training stopped at step") {
            tally.bad("corrupt", trial, format!("the divergence was not reported: exit {:?}: {err}", o.status.code()));
        }
        check_after(&mut tally, dir, &out, trial, 0, None);
    }
    tally.finish("divergence");
}

#[test]
fn rollback_restores_the_last_checkpoint_lowers_the_rates_and_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rollback = |out: &str, steps: u64| {
        let mut a = train_args(out);
        let at = a.iter().position(|x| x == "--steps").unwrap() + 1;
        a[at] = steps.to_string();
        a.extend(["--set".into(), "train.on_divergence=\"rollback\"".into()]);
        a
    };
    // a weight turns NaN after step 12: back to step 10's checkpoint, rates halved, on to the end
    let o = command(dir, &rollback("r", STEPS), Some("poison-step@12")).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let metrics = std::fs::read_to_string(dir.join("r/metrics.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "rollback")
        .collect();
    assert_eq!(events.len(), 1, "{metrics}");
    assert_eq!(events[0]["step"], 10);
    assert_eq!(events[0]["diverged_at"], 12);
    assert_eq!(events[0]["lr_scale"], 0.5);
    assert!(events[0]["reason"].as_str().unwrap().contains("`fc0.weight` of g.safetensors"), "{metrics}");
    // one line per step: the rolled-back steps' lines were replaced
    let logged = metrics.lines().filter(|l| l.contains("\"d/loss\"")).count() as u64;
    assert_eq!(logged, STEPS, "{metrics}");
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("r/checkpoints/step-{STEPS:07}/state.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!((state["lr_scale"].as_f64(), state["rollbacks"].as_u64()), (Some(0.5), Some(1)));
    for f in ["g", "d", "opt_g", "opt_d"] {
        finite(&dir.join(format!("r/checkpoints/step-{STEPS:07}/{f}.safetensors"))).unwrap();
    }
    // stopped after the rollback and resumed, it ends where the straight rollback run did
    let o = command(dir, &rollback("rs", 20), Some("poison-step@12")).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    gantry(dir, &["train", "--out", "rs", "--resume", "--steps", &STEPS.to_string(), "--quiet"]).ok();
    assert_eq!(final_files(&dir.join("rs")), final_files(&dir.join("r")));
    // the rates are not what a run without the rollback used
    gantry(dir, &strs(&train_args("plain"))).ok();
    assert_ne!(final_files(&dir.join("plain")), final_files(&dir.join("r")));
    // a run that keeps diverging stops after train.max_rollbacks
    let mut a = rollback("bomb", STEPS);
    a.extend(
        ["--set", "train.g_lr=1e8", "--set", "train.optimizer=\"sgd\"", "--set", "train.d_lr=1e8"].map(String::from),
    );
    a.extend(["--set", "train.max_rollbacks=2", "--set", "train.rollback_lr_factor=0.9"].map(String::from));
    let o = command(dir, &a, None).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("after 2 rollbacks, the most train.max_rollbacks allows"), "{err}");
    for s in listed(&dir.join("bomb")) {
        for f in ["g", "d", "opt_g", "opt_d"] {
            finite(&dir.join(format!("bomb/checkpoints/step-{s:07}/{f}.safetensors"))).unwrap();
        }
    }
}
