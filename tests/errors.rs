//! Bad input: each case gets a clear error naming what is wrong, exit code 1, no panic, and no
//! lost work.
mod common;
use common::*;
use gantry::data::idx;

fn train<'a>(data: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--preset",
        "dcgan",
        "--data",
        data,
        "--out",
        out,
        "--steps",
        "1",
        "--quiet",
        "--set",
        "data.batch_size=4",
        "--set",
        "model.base_channels=4",
    ]
}

#[test]
fn missing_data_folder() {
    let tmp = tempfile::tempdir().unwrap();
    gantry(tmp.path(), &train("no-such-folder", "r")).fails_with("no such file or folder");
}

#[test]
fn missing_fashion_mnist_says_how_to_get_it() {
    // Only meaningful where the Debian package is absent; elsewhere the message is not reached.
    if std::path::Path::new(gantry::data::FASHION_MNIST_DIR).exists() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    gantry(tmp.path(), &train("fashion-mnist", "r")).fails_with("apt-get install dataset-fashion-mnist");
}

#[test]
fn folder_without_idx_files() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    gantry(tmp.path(), &train("empty", "r")).fails_with("train-images-idx3-ubyte");
}

#[test]
fn wrong_magic() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("bad");
    std::fs::create_dir(&d).unwrap();
    let mut b = idx::encode(&[2, 28, 28], &[0; 2 * 784]);
    b[0] = 0x42;
    write(&d, "train-images-idx3-ubyte", &b, false);
    gantry(tmp.path(), &train("bad", "r")).fails_with("magic");
}

#[test]
fn truncated_gzip() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tiny_idx(tmp.path(), 8, true);
    let p = d.join("train-images-idx3-ubyte.gz");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    gantry(tmp.path(), &train(d.to_str().unwrap(), "r")).fails_with("truncated or corrupt");
}

#[test]
fn header_disagrees_with_size_without_huge_allocation() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("big");
    std::fs::create_dir(&d).unwrap();
    // claims 4 billion images of 28×28 but holds one
    let mut b = idx::encode(&[1, 28, 28], &[0; 784]);
    b[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    write(&d, "train-images-idx3-ubyte", &b, false);
    gantry(tmp.path(), &train("big", "r")).fails_with("header says");
}

#[test]
fn image_and_label_counts_differ() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tiny_idx(tmp.path(), 8, false);
    write(&d, "train-labels-idx1-ubyte", &idx::encode(&[5], &[0; 5]), false);
    gantry(tmp.path(), &train(d.to_str().unwrap(), "r")).fails_with("holds 5 labels");
}

#[test]
fn unknown_preset() {
    let tmp = tempfile::tempdir().unwrap();
    gantry(tmp.path(), &["train", "--preset", "dcgna", "--dry-run"]).fails_with("unknown preset `dcgna`");
}

#[test]
fn unknown_and_mistyped_keys() {
    let tmp = tempfile::tempdir().unwrap();
    gantry(tmp.path(), &["train", "--set", "train.learning_rate=1", "--dry-run"]).fails_with("valid keys in [train]");
    gantry(tmp.path(), &["train", "--set", "train.critic_steps=fast", "--dry-run"]).fails_with("`train.critic_steps`");
    std::fs::write(tmp.path().join("c.toml"), "[model]\nlatnet_dim = 5\n").unwrap();
    gantry(tmp.path(), &["train", "--config", "c.toml", "--dry-run"]).fails_with("unknown key `model.latnet_dim`");
    gantry(tmp.path(), &["train", "--set", "objective.loss=\"wasserstien\"", "--dry-run"]).fails_with("wasserstien");
}

#[test]
fn resume_without_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    gantry(tmp.path(), &["train", "--preset", "toy-gan", "--out", "fresh", "--steps", "1", "--resume", "--quiet"])
        .fails_with("no complete checkpoint");
}

#[test]
fn resume_with_another_configuration_keeps_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let base = [
        "train",
        "--preset",
        "toy-gan",
        "--out",
        "r",
        "--quiet",
        "--set",
        "model.g_hidden=[8]",
        "--set",
        "model.d_hidden=[8]",
    ];
    gantry(dir, &[&base[..], &["--steps", "2"]].concat()).ok();
    let before = std::fs::read(dir.join("r/checkpoints/step-0000002/g.safetensors")).unwrap();
    gantry(dir, &[&base[..], &["--steps", "4", "--resume", "--set", "train.g_lr=0.5"]].concat())
        .fails_with("train.g_lr");
    // training into the same folder without --resume is refused rather than overwriting it
    gantry(dir, &[&base[..], &["--steps", "4"]].concat()).fails_with("already holds a run");
    assert_eq!(std::fs::read(dir.join("r/checkpoints/step-0000002/g.safetensors")).unwrap(), before);
}

#[test]
fn unwritable_output_folder() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("file"), "x").unwrap();
    gantry(tmp.path(), &["train", "--preset", "toy-gan", "--out", "file/run", "--steps", "1", "--quiet"])
        .fails_with("choose a writable --out");
}

#[test]
fn non_finite_loss_stops_and_keeps_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // An absurd learning rate drives the least-squares losses to infinity within a few steps.
    let r = gantry(
        dir,
        &[
            "train",
            "--preset",
            "toy-gan",
            "--out",
            "r",
            "--steps",
            "200",
            "--quiet",
            "--set",
            "objective.loss=\"least_squares\"",
            "--set",
            "train.optimizer=\"sgd\"",
            "--set",
            "train.beta1=0.0",
            "--set",
            "train.d_lr=1e12",
            "--set",
            "train.g_lr=1e12",
            "--set",
            "train.log_every=1",
            "--set",
            "train.checkpoint_every=1",
            "--set",
            "model.g_norm=\"none\"",
        ],
    );
    let r = r.fails_with("not finite");
    let err = r.stderr();
    let ckpts = gantry::train::checkpoint::list(&dir.join("r")).unwrap();
    if let Some((last, _)) = ckpts.last() {
        assert!(err.contains(&last.display().to_string()) || err.contains("step-"), "{err}");
    }
}

#[test]
fn bad_point_file_and_sample_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("p.csv"), "1,2\n3\n").unwrap();
    gantry(tmp.path(), &["train", "--preset", "toy-gan", "--data", "p.csv", "--out", "r", "--steps", "1"])
        .fails_with("line 2");
    gantry(tmp.path(), &["sample", "--run", "nowhere", "--out", "x.png"]).fails_with("not a gantry run folder");
}

#[test]
fn dcgan_on_points_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    gantry(tmp.path(), &["train", "--preset", "dcgan", "--data", "ring8", "--out", "r", "--steps", "1"])
        .fails_with("model.arch = \"mlp\"");
}

#[test]
fn nonsensical_technique_combinations_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    gantry(tmp.path(), &["train", "--preset", "wgan", "--set", "objective.real_target=0.9", "--dry-run"])
        .fails_with("no probability target");
    gantry(tmp.path(), &["train", "--preset", "wgan-gp", "--set", "model.minibatch_kernels=10", "--dry-run"])
        .fails_with("gradient penalty");
}

#[test]
fn bad_labelled_subsets_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let idx = tiny_idx(dir, 30, false).display().to_string();
    let semi = |labels: &str, out: &str| {
        gantry(
            dir,
            &[
                "train",
                "--preset",
                "improved-gan-semi",
                "--data",
                &idx,
                "--labels",
                labels,
                "--out",
                out,
                "--steps",
                "1",
                "--quiet",
                "--set",
                "model.d_hidden=[8]",
                "--set",
                "model.g_hidden=[8]",
            ],
        )
    };
    semi("15", "a").fails_with("does not divide into the 10 classes");
    semi("1000", "b").fails_with("larger than the data set");
    gantry(dir, &["train", "--preset", "improved-gan-semi", "--set", "semi.labels=-10", "--dry-run"])
        .fails_with("semi.labels");
    // no checkpoint was written, so nothing is lost and the folder can be reused
    assert!(!dir.join("a/checkpoints").join("step-0000001").exists());
    gantry(dir, &["train", "--preset", "dcgan", "--labels", "100", "--dry-run"])
        .fails_with("[semi] is a section of method = \"semi\"");
    gantry(dir, &["train", "--preset", "improved-gan-semi", "--data", "ring8", "--out", "d", "--steps", "1"])
        .fails_with("needs labelled images");
    gantry(dir, &["train", "--preset", "improved-gan-semi", "--set", "model.arch=\"dcgan\"", "--dry-run"])
        .fails_with("model.arch");
}

#[test]
fn misplaced_dense_layers_and_code_weights_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    gantry(dir, &["train", "--preset", "dcgan", "--set", "model.q_hidden=128", "--dry-run"])
        .fails_with("it is now `infogan.q_hidden`, a key of method = \"infogan\"");
    gantry(dir, &["train", "--preset", "gan", "--set", "infogan.q_hidden=8", "--set", "method=infogan", "--dry-run"])
        .fails_with("model.arch = \"dcgan\"");
    gantry(dir, &["train", "--preset", "gan", "--set", "model.d_fc=64", "--dry-run"])
        .fails_with("model.arch = \"dcgan\"");
    gantry(dir, &["train", "--preset", "infogan", "--set", "model.g_fc=-1", "--dry-run"]).fails_with("must be ≥ 0");
    gantry(dir, &["train", "--preset", "infogan", "--set", "infogan.continuous_weight=-0.1", "--dry-run"])
        .fails_with("infogan.continuous_weight");
    gantry(dir, &["train", "--preset", "infogan", "--set", "model.leaky_slope=1.5", "--dry-run"])
        .fails_with("model.leaky_slope");
    gantry(dir, &["train", "--preset", "infogan", "--set", "model.latent_prior=cauchy", "--dry-run"])
        .fails_with("cauchy");
    gantry(dir, &["train", "--preset", "improved-gan-semi", "--set", "objective.feature_distance=l3", "--dry-run"])
        .fails_with("l3");
    gantry(dir, &["train", "--preset", "infogan", "--dry-run"]).ok();
}

#[test]
fn a_reader_that_stops_early_gets_no_panic() {
    // `gantry presets | head -1`: the reader is gone before gantry (slow to start: it loads
    // libtorch) writes; gantry must end without a panic message or backtrace.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gantry"))
        .arg("presets")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_cause_is_printed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let r = gantry(tmp.path(), &["train", "--config", "missing.toml", "--out", "run"])
        .fails_with("missing.toml: No such file or directory");
    assert_eq!(r.stderr().matches("No such file or directory").count(), 1, "{}", r.stderr());
    assert!(!r.stderr().contains("caused by"), "{}", r.stderr());
}
