//! Data-parallel training (`--nproc`, torch.distributed's Gloo on localhost): two ranks train
//! the weights one process trains on the combined batch, and a rank that dies ends the job.
mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Largest difference between two checkpoints' floating-point tensors (every file).
fn max_diff(a: &Path, b: &Path) -> f64 {
    max_diff_of(a, b, |_| true)
}

/// The same over the networks' weights only (files not starting with `opt_`).
fn weights_diff(a: &Path, b: &Path) -> f64 {
    max_diff_of(a, b, |file| !file.starts_with("opt_"))
}

fn max_diff_of(a: &Path, b: &Path, keep: impl Fn(&str) -> bool) -> f64 {
    let mut worst: f64 = 0.0;
    for e in std::fs::read_dir(a).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "safetensors") || !keep(&p.file_name().unwrap().to_string_lossy()) {
            continue;
        }
        let mut x = tch::Tensor::read_safetensors(&p).unwrap();
        let mut y = tch::Tensor::read_safetensors(b.join(p.file_name().unwrap())).unwrap();
        x.sort_by(|a, b| a.0.cmp(&b.0));
        y.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(x.len(), y.len());
        for ((k, t), (k2, u)) in x.iter().zip(&y) {
            assert_eq!(k, k2);
            if t.is_floating_point() {
                worst = worst.max((t - u).abs().max().double_value(&[]));
            }
        }
    }
    worst
}

/// Trains `args` with 1 process and with `--nproc 2`, and the 1-process run again on 2 threads;
/// returns (1 vs 2 ranks, 1 vs 2 threads) weight differences at `step`.
fn ranks_against_one(d: &Path, name: &str, args: &[&str], step: &str) -> (f64, f64) {
    let train = |out: &str, extra: &[&str], threads: &str| {
        let mut a = vec!["train", "--out", out, "--quiet"];
        a.extend_from_slice(args);
        a.extend_from_slice(extra);
        let out = Command::new(env!("CARGO_BIN_EXE_gantry"))
            .args(&a)
            .current_dir(d)
            .env("OMP_NUM_THREADS", threads)
            .env("GANTRY_CACHE", d.join(".gantry-cache"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{name} {extra:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    };
    train(&format!("{name}-1"), &[], "1");
    let two = train(&format!("{name}-2"), &["--nproc", "2"], "1");
    // rank 0 alone prints the summary
    assert_eq!(String::from_utf8_lossy(&two.stdout).lines().count(), 1, "one summary line");
    train(&format!("{name}-t"), &[], "2");
    let ck = |run: &str| d.join(run).join("checkpoints").join(format!("step-{step:0>7}"));
    let one = ck(&format!("{name}-1"));
    let diffs = (max_diff(&one, &ck(&format!("{name}-2"))), max_diff(&one, &ck(&format!("{name}-t"))));
    eprintln!("{name}: 1 process against 2 ranks {:e}, against 2 threads {:e}", diffs.0, diffs.1);
    diffs
}

#[test]
fn two_ranks_train_what_one_process_trains_on_the_combined_batch() {
    // Each rank draws its rows of the global batch and of every random draw, and the gradients
    // are averaged, so the update is the combined batch's up to float rounding: the two ranks
    // sum each mean in another order. The tolerance, 1e-4 after 3 steps, is two orders above
    // what that rounding gives here (a few 1e-6) and the same as one process on 2 threads
    // against 1 thread, which the test also measures; it is far below one step's size (1e-3).
    // Plain SGD: Adam's first steps divide by |g| and turn rounding in near-zero gradients into
    // whole steps. Batch norm is synchronised (`model.sync_bn`) where the model has it.
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let sgd = ["--set", "train.optimizer=\"sgd\"", "--set", "train.g_lr=0.001", "--set", "train.d_lr=0.001"];
    let data = tiny_idx_named(d, "idx", 64, false, 5, true);
    // WGAN-GP: 5 critic steps with the gradient penalty (its ε drawn at the global size too)
    let mut wgan = vec!["--preset", "wgan-gp", "--data", data.to_str().unwrap(), "--steps", "3"];
    wgan.extend_from_slice(&[
        "--set",
        "model.base_channels=8",
        "--set",
        "data.batch_size=16",
        "--set",
        "model.sync_bn=true",
    ]);
    // (its penalty's large gradients make steps of 1e-3 amplify rounding quickly: 1e-4 here)
    wgan.extend_from_slice(&[
        "--set",
        "train.optimizer=\"sgd\"",
        "--set",
        "train.g_lr=1e-4",
        "--set",
        "train.d_lr=1e-4",
    ]);
    let (ranks, threads) = ranks_against_one(d, "wgan-gp", &wgan, "3");
    assert!(ranks < 1e-4, "wgan-gp: 2 ranks differ from 1 process by {ranks} (2 threads: {threads})");
    let mut dcgan = vec!["--preset", "dcgan", "--data", data.to_str().unwrap(), "--steps", "3"];
    dcgan.extend_from_slice(&["--set", "model.base_channels=8", "--set", "data.batch_size=16"]);
    dcgan.extend_from_slice(&sgd);
    // batch norm in G and D: synchronised over the ranks (model.sync_bn), the combined batch's
    // statistics; per rank (the default) each rank's own, which is another model
    let mut synced = dcgan.clone();
    synced.extend_from_slice(&["--set", "model.sync_bn=true"]);
    let (ranks, threads) = ranks_against_one(d, "dcgan-sync-bn", &synced, "3");
    assert!(ranks < 1e-4, "dcgan, sync_bn: 2 ranks differ from 1 process by {ranks} (2 threads: {threads})");
    let (ranks, _) = ranks_against_one(d, "dcgan", &dcgan, "3");
    assert!(ranks > 1e-2, "dcgan, per-rank batch norm: 2 ranks should differ from 1 process, by {ranks}");
    tiny_domains(d, 20);
    let mut cycle = vec!["--preset", "cyclegan-small", "--data", "pair", "--steps", "3"];
    cycle.extend_from_slice(&[
        "--set",
        "cyclegan.ngf=4",
        "--set",
        "cyclegan.ndf=4",
        "--set",
        "cyclegan.blocks=1",
        "--set",
        "data.batch_size=4",
        "--set",
        "cyclegan.pool_size=0",
    ]);
    cycle.extend_from_slice(&sgd);
    let (ranks, threads) = ranks_against_one(d, "cyclegan", &cycle, "3");
    assert!(ranks < 1e-4, "cyclegan: 2 ranks differ from 1 process by {ranks} (2 threads: {threads})");
}

#[test]
fn overlapped_gradient_buckets_sum_what_one_collective_sums() {
    // With buckets of 16 KiB the sums of a dcgan's gradients start while backward still runs
    // (the summary counts those that did); for two ranks each sum is a + b whatever the buckets,
    // so the weights equal those of one collective after backward bit for bit.
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let data = tiny_idx_named(d, "idx", 64, false, 5, true);
    let train = |out: &str, mb: &str| {
        let out_dir = d.join(out);
        let o = Command::new(env!("CARGO_BIN_EXE_gantry"))
            .args(["train", "--out", out_dir.to_str().unwrap(), "--quiet", "--preset", "dcgan", "--data"])
            .arg(&data)
            .args(["--steps", "3", "--nproc", "2", "--set", "model.base_channels=8", "--set", "data.batch_size=16"])
            .args(["--set", &format!("train.dist_bucket_mb={mb}")])
            .env("OMP_NUM_THREADS", "1")
            .env("GANTRY_CACHE", d.join(".gantry-cache"))
            .output()
            .unwrap();
        assert!(o.status.success(), "dist_bucket_mb={mb}: {}", String::from_utf8_lossy(&o.stderr));
        let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        s["overlapped_buckets"].as_i64().expect("a data-parallel run reports overlapped_buckets")
    };
    let overlapped = train("buckets", "0.015625");
    let after = train("one", "0");
    assert!(overlapped > 1, "16 KiB buckets: {overlapped} started during the backward pass");
    assert_eq!(after, 0, "one collective after the backward pass overlaps nothing");
    let ck = |run: &str| d.join(run).join("checkpoints").join("step-0000003");
    assert_eq!(max_diff(&ck("buckets"), &ck("one")), 0.0);
}

#[test]
fn a_killed_rank_ends_the_job_and_the_run_resumes() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let args = ["--preset", "toy-wgan-gp", "--steps", "6", "--set", "train.checkpoint_every=2", "--quiet"];
    let run = |out: &str, extra: &[&str], fault: Option<&str>| {
        let mut a = vec!["train", "--out", out, "--nproc", "2"];
        a.extend_from_slice(&args);
        a.extend_from_slice(extra);
        let mut c = Command::new(env!("CARGO_BIN_EXE_gantry"));
        c.args(&a).current_dir(d).env("OMP_NUM_THREADS", "1");
        if let Some(f) = fault {
            c.env("GANTRY_TEST_FAULT", f).env("GANTRY_TEST_FAULT_RANK", "1");
        }
        c.output().unwrap()
    };
    let straight = run("straight", &[], None);
    assert!(straight.status.success(), "{}", String::from_utf8_lossy(&straight.stderr));
    // rank 1 is killed (SIGKILL) after its 3rd step: the job ends, naming it
    let t0 = std::time::Instant::now();
    let killed = run("killed", &[], Some("kill-step@3"));
    let err = String::from_utf8_lossy(&killed.stderr);
    assert_eq!(killed.status.code(), Some(1), "{err}");
    assert!(err.contains("rank 1 of 2 was killed by signal 9"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(t0.elapsed().as_secs() < 60, "the job ended within the timeout");
    // the last complete checkpoint (step 2) is intact, and resuming with 2 ranks gives the
    // straight run's weights to the bit
    let ck = d.join("killed/checkpoints");
    let kept: Vec<String> =
        std::fs::read_dir(&ck).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(kept, ["step-0000002"], "{kept:?}");
    copy_dir(&d.join("killed"), &d.join("killed-1"));
    let resumed = run("killed", &["--resume"], None);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(max_diff(&d.join("straight/checkpoints/step-0000006"), &ck.join("step-0000006")), 0.0);
    // or with another number of ranks: one process on the same global batch, equal but for
    // rounding. Adam turns rounding in near-zero gradients into steps of up to its rate (1e-4),
    // so from step 2 to 6 (20 critic steps, 4 generator steps) no weight can drift more than
    // 2e-3. Adam's moments have no such bound and are left out: on an AMD EPYC the critic's
    // `fc1.weight.m` differed by 0.0097 (of 0.31) while its weights differed by at most 4.7e-4.
    let mut a = vec!["train", "--out", "killed-1", "--resume"];
    a.extend_from_slice(&args);
    gantry(d, &a).ok();
    let diff = weights_diff(&d.join("straight/checkpoints/step-0000006"), &d.join("killed-1/checkpoints/step-0000006"));
    assert!(diff < 2e-3, "resumed on 1 process: {diff}");
}

#[test]
fn data_parallel_bad_input_is_refused_clearly() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let base = ["train", "--preset", "toy-wgan-gp", "--out", "r", "--steps", "2", "--quiet"];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        gantry(d, &a)
    };
    with(&["--nproc", "3"]).fails_with("does not split evenly over 3 ranks");
    with(&["--nproc", "0"]).fails_with("--nproc 0");
    with(&["--nproc", "2", "--set", "train.on_divergence=\"rollback\""]).fails_with("not available in data-parallel");
    let bad_env = |vars: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gantry"));
        c.args(base).current_dir(d).env("OMP_NUM_THREADS", "1");
        for (k, v) in vars {
            c.env(k, v);
        }
        Run { out: c.output().unwrap() }
    };
    bad_env(&[("WORLD_SIZE", "2")]).fails_with("RANK is not");
    bad_env(&[("WORLD_SIZE", "2"), ("RANK", "5")]).fails_with("RANK=5");
    bad_env(&[("WORLD_SIZE", "two")]).fails_with("WORLD_SIZE=two");
}

/// The processes whose parent is `pid` (from /proc), by pid.
fn children(pid: i32) -> Vec<i32> {
    let mut out: Vec<i32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).ok().is_some_and(|s| {
                // pid (comm) state ppid …: the fields after the command's closing parenthesis
                s.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<i32>().ok())
                    == Some(pid)
            })
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_hung_rank_ends_the_job_after_the_timeout_and_torchrun_starts_ranks_too() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // rank 1 is frozen (SIGSTOP) a moment into training: rank 0's next collective times out
    // after train.dist_timeout, and the launcher names the rank that was still running
    let mut c = Command::new(env!("CARGO_BIN_EXE_gantry"));
    c.args(["train", "--preset", "toy-wgan-gp", "--out", "hung", "--steps", "100000", "--quiet", "--nproc", "2"])
        .args(["--set", "train.dist_timeout=3"])
        .current_dir(d)
        .env("OMP_NUM_THREADS", "1")
        .stderr(std::process::Stdio::piped());
    let t0 = std::time::Instant::now();
    let job = c.spawn().unwrap();
    // wait for the ranks (children of the launcher) to be training
    let rank1 = loop {
        let pids = children(job.id() as i32);
        if pids.len() == 2 && d.join("hung/metrics.jsonl").exists() {
            break pids[1];
        }
        assert!(t0.elapsed().as_secs() < 60, "the ranks did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    // SAFETY: signals a process this test started (through the launcher)
    unsafe { libc::kill(rank1, libc::SIGSTOP) };
    let stopped = std::time::Instant::now();
    let out = job.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("rank 0 of 2 exited with status 1"), "{err}");
    assert!(err.contains("rank 1 was still running and was stopped"), "{err}");
    assert!(stopped.elapsed().as_secs() < 30, "ended {} s after the hang", stopped.elapsed().as_secs());
    // torchrun's environment (its agent serves the store): the same weights as --nproc 2
    let torchrun = Command::new("python3")
        .args(["-m", "torch.distributed.run", "--nproc-per-node", "2", "--no-python", env!("CARGO_BIN_EXE_gantry")])
        .args(["train", "--preset", "toy-wgan-gp", "--out", "tr", "--steps", "3", "--quiet"])
        .current_dir(d)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert!(torchrun.status.success(), "{}", String::from_utf8_lossy(&torchrun.stderr));
    gantry(d, &["train", "--preset", "toy-wgan-gp", "--out", "np", "--steps", "3", "--quiet", "--nproc", "2"]).ok();
    assert_eq!(max_diff(&d.join("tr/checkpoints/step-0000003"), &d.join("np/checkpoints/step-0000003")), 0.0);
}
