//! Stopping a trainer with a signal keeps its work, a run folder has one trainer at a time, and
//! no checkpoint holds a non-finite value or is left half deleted.
mod common;
use common::gantry;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `gantry train` of the 2-D toy into `out`, started in the background.
fn spawn(dir: &Path, out: &str, steps: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["train", "--preset", "toy-gan", "--data", "ring8", "--out", out, "--steps", steps, "--quiet"])
        .args(["--set", "train.log_every=1", "--set", "train.checkpoint_every=100000", "--set", "train.sample_every=0"])
        .args(extra)
        .current_dir(dir)
        .env("OMP_NUM_THREADS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gantry starts")
}

/// Waits until `out` has logged `lines` metric lines.
fn wait_for_lines(dir: &Path, out: &str, lines: usize) {
    let t0 = Instant::now();
    let path = dir.join(out).join("metrics.jsonl");
    while std::fs::read_to_string(&path).map_or(0, |s| s.lines().count()) < lines {
        assert!(t0.elapsed() < Duration::from_secs(120), "the trainer did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn ctrl_c_checkpoints_the_step_and_resume_repeats_a_straight_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let child = spawn(dir, "run", "1000000", &[]);
    wait_for_lines(dir, "run", 5);
    signal(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("stopped by SIGINT (Ctrl-C) after step") && err.contains("--resume"), "{err}");
    // the checkpoint is of the step named
    let step: u64 = err.split("after step ").nth(1).unwrap().split(';').next().unwrap().trim().parse().unwrap();
    let ck = format!("checkpoints/step-{step:07}");
    assert!(dir.join("run").join(&ck).join("g.safetensors").is_file(), "{err}");
    // resuming to a few steps further gives the straight run's weights
    let target = (step + 3).to_string();
    let quick = ["--set", "train.log_every=1", "--set", "train.sample_every=0", "--quiet"];
    let mut a = vec!["train", "--out", "run", "--resume", "--steps", &target];
    a.extend_from_slice(&quick);
    gantry(dir, &a).ok();
    let mut b = vec!["train", "--preset", "toy-gan", "--data", "ring8", "--out", "straight", "--steps", &target];
    b.extend_from_slice(&quick);
    b.extend_from_slice(&["--set", "train.checkpoint_every=100000"]);
    gantry(dir, &b).ok();
    let last = format!("checkpoints/step-{:07}", step + 3);
    for f in ["g", "d", "opt_g", "opt_d"] {
        let name = format!("{last}/{f}.safetensors");
        assert_eq!(bytes(&dir.join("run").join(&name)), bytes(&dir.join("straight").join(&name)), "{f}");
    }
}

#[test]
fn one_trainer_per_run_folder_and_sigterm_stops_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let child = spawn(dir, "run", "1000000", &[]);
    wait_for_lines(dir, "run", 3);
    let pid = child.id().to_string();
    // a second trainer, with or without --resume, is refused and names the holder
    for extra in [&["--resume"][..], &["--seed", "2"][..]] {
        let mut a = vec!["train", "--preset", "toy-gan", "--data", "ring8", "--out", "run", "--steps", "10", "--quiet"];
        a.extend_from_slice(extra);
        gantry(dir, &a).fails_with(&format!("is in use: process {pid} is training into it"));
    }
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{err}");
    let listing = std::fs::read_dir(dir.join("run/checkpoints")).unwrap().count();
    assert_eq!(listing, 1, "one checkpoint, at the stopped step");
    gantry(dir, &["sample", "--run", "run", "--n", "4", "--out", "s.csv"]).ok();
    // the lock went with the process: the run resumes
    let step: u64 = err.split("after step ").nth(1).unwrap().split(';').next().unwrap().trim().parse().unwrap();
    let target = (step + 2).to_string();
    gantry(dir, &["train", "--out", "run", "--resume", "--steps", &target, "--quiet"]).ok();
}

#[test]
fn an_exploding_update_is_never_checkpointed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // SGD at 1e8 turns the generator's weights to NaN in its first update
    let bomb = [
        "train",
        "--preset",
        "toy-gan",
        "--data",
        "ring8",
        "--out",
        "bomb",
        "--steps",
        "50",
        "--quiet",
        "--set",
        "train.optimizer=\"sgd\"",
        "--set",
        "train.g_lr=1e8",
        "--set",
        "train.d_lr=1e8",
        "--set",
        "train.checkpoint_every=1",
        "--set",
        "train.log_every=1",
    ];
    // with the loss bound off, the step-1 losses (computed before the update) pass, and the
    // check of the weights before the checkpoint is what stops the run (checkpoint::save's own
    // refusal, behind it, has a unit test)
    let mut finite_only = bomb.to_vec();
    finite_only.extend_from_slice(&["--set", "train.divergence_bound=0"]);
    gantry(dir, &finite_only).fails_with("`fc0.weight` of g.safetensors is no longer finite");
    // with the default bound the run stops on its losses; either way nothing is checkpointed
    gantry(dir, &bomb).fails_with("not finite");
    let left: Vec<String> = std::fs::read_dir(dir.join("bomb/checkpoints"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect())
        .unwrap_or_default();
    assert!(left.iter().all(|n| !n.starts_with("step-")), "a checkpoint was kept: {left:?}");
    gantry(dir, &["sample", "--run", "bomb", "--out", "s.csv"]).fails_with("has no complete checkpoint");
}

#[test]
fn old_checkpoints_are_deleted_out_of_the_namespace_and_leftovers_cleaned() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // what a kill during an older gantry's save or delete could leave
    std::fs::create_dir_all(dir.join("run/checkpoints/.trash-step-0000001")).unwrap();
    std::fs::create_dir_all(dir.join("run/checkpoints/.step-0000002.tmp")).unwrap();
    let quick = [
        "train",
        "--preset",
        "toy-gan",
        "--data",
        "ring8",
        "--out",
        "run",
        "--steps",
        "4",
        "--quiet",
        "--set",
        "train.checkpoint_every=1",
        "--set",
        "train.keep_checkpoints=2",
        "--set",
        "train.sample_every=0",
    ];
    gantry(dir, &quick).ok();
    let mut left: Vec<String> = std::fs::read_dir(dir.join("run/checkpoints"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    left.sort();
    assert_eq!(left, ["step-0000003", "step-0000004"]);
}

#[test]
fn divergence_with_finite_losses_and_nan_between_log_steps_stop_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Adam at 1e6: losses grow past 1e8 while staying finite
    let run = |out: &str, extra: &[&str]| {
        let mut a = vec!["train", "--preset", "toy-gan", "--data", "ring8", "--out", out, "--steps", "400", "--quiet"];
        a.extend_from_slice(&["--set", "train.g_lr=1e6", "--set", "train.d_lr=1e6", "--set", "train.sample_every=0"]);
        a.extend_from_slice(extra);
        gantry(dir, &a)
    };
    run("big", &["--set", "train.log_every=100", "--set", "train.checkpoint_every=1000"])
        .fails_with("between steps 0 and 100, a loss was not finite or beyond ±1e8 (train.divergence_bound)");
    assert!(!dir.join("big/checkpoints").exists(), "nothing checkpointed");
    // a bound of 0 checks finiteness only; the config check refuses a bad bound
    run("nan", &["--set", "train.divergence_bound=-1"]).fails_with("`train.divergence_bound` must be a finite number");
}

#[test]
fn nothing_to_train_is_said_and_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let run = |steps: &str, extra: &[&str]| {
        let mut a =
            vec!["train", "--preset", "toy-gan", "--data", "ring8", "--out", "run", "--steps", steps, "--quiet"];
        a.extend_from_slice(extra);
        gantry(dir, &a)
    };
    run("0", &[]).fails_with("`steps` (--steps) must be at least 1");
    run("3", &[]).ok();
    run("3", &["--resume"]).fails_with("is already at step 3, and --steps is 3: there is nothing to train");
    run("2", &["--resume"]).fails_with("is already at step 3, and --steps is 2");
    run("4", &["--resume"]).ok();
}

#[test]
fn hostile_sizes_are_refused_naming_the_value() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let dry = |key: &str| {
        gantry(dir, &["train", "--preset", "dcgan", "--dry-run", "--set", key])
            .fails_with(key.split('=').next().unwrap())
    };
    dry("data.batch_size=100000000");
    dry("model.latent_dim=1000000000");
    dry("train.grid_samples=1000000000");
    gantry(dir, &["train", "--preset", "toy-gan", "--data", "ring8", "--out", "r", "--steps", "1", "--quiet"]).ok();
    gantry(dir, &["sample", "--run", "r", "--n", "100000000", "--out", "s.csv"]).fails_with("--n must be 1 to 1000000");
    // sampling needs the networks only: a checkpoint without its optimiser files still samples
    for f in ["opt_g", "opt_d"] {
        std::fs::remove_file(dir.join(format!("r/checkpoints/step-0000001/{f}.safetensors"))).unwrap();
    }
    gantry(dir, &["sample", "--run", "r", "--n", "4", "--out", "s.csv"]).ok();
}

#[test]
fn an_image_too_large_to_decode_is_refused_from_its_header() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for d in ["pair/trainA", "pair/trainB"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    // 20,000 pixels wide: refused before decoding
    image::GrayImage::new(20_000, 1).save(dir.join("pair/trainA/wide.png")).unwrap();
    image::GrayImage::new(28, 28).save(dir.join("pair/trainB/ok.png")).unwrap();
    let a = ["train", "--preset", "cyclegan-small", "--data", "pair", "--out", "r", "--steps", "1", "--quiet"];
    gantry(dir, &a).fails_with("wide.png: is 20000x1; gantry reads images of at most 16384 pixels a side");
}
