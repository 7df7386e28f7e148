//! Every preset trains for a few steps on tiny data, samples, checkpoints, evaluates; resumed
//! runs are bit-identical to straight ones.
mod common;
use common::*;
use std::path::Path;

/// Small, quick overrides for a preset's test run on `data`.
fn quick(preset: &str, data: &str, out: &str, steps: &str) -> Vec<String> {
    let mut a: Vec<String> =
        ["train", "--preset", preset, "--data", data, "--out", out, "--steps", steps, "--quiet", "--device", "cpu"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    for s in [
        "data.batch_size=8",
        "train.log_every=1",
        "train.sample_every=2",
        "train.checkpoint_every=2",
        "train.grid_samples=16",
    ] {
        a.push("--set".into());
        a.push(s.into());
    }
    if preset == "gan" || preset == "gan-minimax" {
        // the 2014 MLPs are wide; shrink them so the test stays quick
        a.extend(["--set", "model.g_hidden=[32]", "--set", "model.d_hidden=[16]"].map(String::from));
    } else if preset == "improved-gan-semi" {
        a.extend(
            ["--labels", "10", "--set", "model.g_hidden=[16]", "--set", "model.d_hidden=[16,16]"].map(String::from),
        );
    } else if preset.starts_with("toy") {
        a.extend(["--set", "model.g_hidden=[16,16]", "--set", "model.d_hidden=[16,16]"].map(String::from));
    } else if preset.starts_with("began") {
        a.extend(["--set", "began.width=8"].map(String::from));
    } else if preset == "ppgn" {
        // a short chain: the sampler's maths has its own unit tests
        a.extend(["--set", "model.base_channels=8", "--set", "ppgn.sampler.iterations=5"].map(String::from));
    } else if preset != "fgan-estimate" {
        a.extend(["--set", "model.base_channels=8"].map(String::from));
        if matches!(preset, "cgan" | "acgan" | "infogan") {
            // the InfoGAN networks' dense layers, narrowed (a zero width would drop them)
            a.extend(["--set", "model.g_fc=16", "--set", "model.d_fc=16"].map(String::from));
        }
    }
    a
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn every_preset_trains_samples_and_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let idx = tiny_idx_named(dir, "tiny-idx", 24, true, 7, true);
    let csv = points_csv(dir, 64);
    let listing = gantry(dir, &["presets"]).ok().stdout();
    let presets: Vec<String> = listing.lines().map(|l| l.split_whitespace().next().unwrap().to_string()).collect();
    assert!(presets.len() >= 16, "{listing}");
    // the two-domain presets need two domains (tests/translation.rs trains each of them), and
    // the text-to-image ones captions (tests/captions.rs)
    let two_domain = ["cyclegan", "discogan", "cogan", "unit", "stackgan"];
    for p in presets.iter().filter(|p| !two_domain.iter().any(|m| p.starts_with(m))) {
        let data = if p.starts_with("toy") {
            "ring8".to_string()
        } else if p == "fgan-estimate" {
            csv.display().to_string()
        } else {
            idx.display().to_string()
        };
        let out = format!("run-{p}");
        let s = gantry(dir, &args(&quick(p, &data, &out, "2"))).ok().json();
        assert_eq!(s["steps"], 2, "{p}");
        assert_eq!(s.get("test_error").is_some(), p == "improved-gan-semi", "{p}: {s}");
        let run = dir.join(&out);
        assert!(run.join("config.toml").is_file(), "{p}");
        assert!(run.join("samples/step-0000002.png").is_file(), "{p}");
        assert!(run.join("checkpoints/step-0000002/state.json").is_file(), "{p}");
        let m: Vec<_> = metrics(&run).into_iter().filter(|m| m.get("d/loss").is_some()).collect();
        assert_eq!(m.len(), 2, "{p}");
        for key in ["step", "d/loss", "d/real", "d/fake"] {
            assert!(m[1][key].is_number(), "{p} lacks {key}: {}", m[1]);
        }
        let cfg = std::fs::read_to_string(run.join("config.toml")).unwrap();
        if cfg.contains("gp_weight = 0.1") || cfg.contains("gp_weight = 10.0") {
            assert!(m[1]["d/gp"].is_number(), "{p}");
        }
        if cfg.contains("loss = \"wasserstein\"") {
            assert!(m[1]["d/wasserstein"].is_number(), "{p}");
        }
        if cfg.contains("loss = \"f_gan\"") {
            assert!(m[1]["d/divergence"].is_number(), "{p}");
        }
        if p.starts_with("began") {
            assert!(m[1]["d/k"].is_number() && m[1]["d/m_global"].is_number(), "{p}: {}", m[1]);
        }
        let png = format!("{out}.png");
        gantry(dir, &["sample", "--run", &out, "--n", "9", "--out", &png, "--device", "cpu"]).ok();
        assert!(dir.join(&png).is_file(), "{p}");
        let e = gantry(dir, &["eval", "--run", &out, "--samples", "200", "--device", "cpu", "--quiet"]).ok().json();
        assert_eq!(e["run_step"], 2, "{p}");
        if p.starts_with("toy") {
            assert!(e["modes"].is_number() && e["high_quality"].is_number(), "{p}: {e}");
        }
        if p == "fgan-estimate" {
            assert!(e["sliced_wasserstein"].is_number(), "{p}: {e}");
        }
        if p == "improved-gan-semi" {
            // the discriminator's classes on the whole t10k split (12 images), after training and in eval
            assert!(s["test_error"].as_f64().is_some_and(|x| (0.0..=1.0).contains(&x)), "{s}");
            assert_eq!(e["test_samples"], 12, "{e}");
            assert!(e["test_error"].is_number(), "{e}");
        }
        if data == idx.display().to_string() {
            assert!(e["fcd"].is_number() && e["feature_network"].is_string(), "{p}: {e}");
        }
    }
}

#[test]
fn image_runs_interpolate_and_do_arithmetic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let idx = tiny_idx(dir, 16, false);
    gantry(dir, &args(&quick("dcgan", &idx.display().to_string(), "r", "2"))).ok();
    gantry(dir, &["interpolate", "--run", "r", "--out", "i.png", "--rows", "2", "--cols", "5"]).ok();
    let img = image::open(dir.join("i.png")).unwrap();
    // 5 columns and 2 rows of 28-pixel images with 2-pixel gaps.
    assert_eq!((img.width(), img.height()), (5 * 30 + 2, 2 * 30 + 2));
    gantry(dir, &["arithmetic", "--run", "r", "--a", "0,1", "--b", "2", "--c", "3,4,5", "--out", "a.png"]).ok();
    let img = image::open(dir.join("a.png")).unwrap();
    assert_eq!((img.width(), img.height()), (8 * 30 + 2, 4 * 30 + 2));
    gantry(dir, &["sample", "--run", "r", "--n", "3", "--out-dir", "each"]).ok();
    assert!(dir.join("each/00002.png").is_file());
    gantry(dir, &["arithmetic", "--run", "r", "--a", "70", "--b", "2", "--c", "3", "--out", "x.png"])
        .fails_with("outside");
}

fn same_files(a: &Path, b: &Path, names: &[&str]) {
    for n in names {
        let (x, y) = (std::fs::read(a.join(n)).unwrap(), std::fs::read(b.join(n)).unwrap());
        assert!(x == y, "{n} differs between {} and {}", a.display(), b.display());
    }
}

/// Train 2N straight, and N then resume to 2N: the weights and optimiser state are identical.
fn check_resume(dir: &Path, preset: &str, data: &str, extra: &[&str]) {
    let label = format!("{preset}-{}", extra.len());
    let straight = format!("{label}-straight");
    let split = format!("{label}-split");
    let mut a = quick(preset, data, &straight, "6");
    a.extend(extra.iter().map(|s| s.to_string()));
    gantry(dir, &args(&a)).ok();
    let mut b = quick(preset, data, &split, "3");
    b.extend(extra.iter().map(|s| s.to_string()));
    gantry(dir, &args(&b)).ok();
    let mut c = quick(preset, data, &split, "6");
    c.push("--resume".into());
    c.extend(extra.iter().map(|s| s.to_string()));
    let s = gantry(dir, &args(&c)).ok().json();
    assert_eq!(s["first_step"], 3);
    let (x, y) =
        (dir.join(&straight).join("checkpoints/step-0000006"), dir.join(&split).join("checkpoints/step-0000006"));
    same_files(&x, &y, &["g.safetensors", "d.safetensors", "opt_g.safetensors", "opt_d.safetensors"]);
    // the metrics log of the resumed run has each step once
    let steps: Vec<u64> = metrics(&dir.join(&split))
        .iter()
        .filter(|m| m.get("d/loss").is_some())
        .map(|m| m["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![1, 2, 3, 4, 5, 6]);
}

#[test]
fn resume_is_bit_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let idx = tiny_idx(dir, 20, false).display().to_string();
    // batch norm, Adam and epochs that wrap (6 steps × 8 > 20 images)
    check_resume(dir, "dcgan", &idx, &[]);
    // gradient penalty, five critic steps, layer norm, and a weight average
    check_resume(dir, "wgan-gp", &idx, &["--set", "train.ema=0.9"]);
    // all five improved techniques: feature matching, historical averaging of both players,
    // minibatch discrimination, one-sided label smoothing, virtual batch normalisation
    check_resume(
        dir,
        "toy-gan",
        "ring8",
        &[
            "--set",
            "objective.feature_matching=true",
            "--set",
            "objective.g_historical=0.01",
            "--set",
            "objective.d_historical=0.01",
            "--set",
            "model.minibatch_kernels=4",
            "--set",
            "objective.real_target=0.9",
            "--set",
            "model.g_norm=\"virtual\"",
        ],
    );
    // AC-GAN's class-conditioned step
    check_resume(dir, "acgan", &idx, &[]);
    // InfoGAN's codes and Q head
    check_resume(dir, "infogan", &idx, &[]);
    // BEGAN's controller k_t, saved as training state
    check_resume(dir, "began", &idx, &[]);
    // PPGN: G inverting a frozen classifier (trained on the data's train and t10k splits),
    // saved with the checkpoint
    let labelled = tiny_idx_named(dir, "tiny-idx-t10k", 20, false, 11, true).display().to_string();
    check_resume(dir, "ppgn", &labelled, &[]);
    // the semi-supervised GAN: labelled subset walk, data-dependent init, Gaussian noise
    check_resume(dir, "improved-gan-semi", &idx, &[]);
    // clipping with RMSProp on synthetic data
    check_resume(
        dir,
        "toy-gan",
        "grid25",
        &[
            "--set",
            "objective.loss=\"wasserstein\"",
            "--set",
            "objective.clip=0.05",
            "--set",
            "train.optimizer=\"rmsprop\"",
        ],
    );
}

#[test]
fn resume_without_preset_uses_the_runs_config() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    gantry(dir, &args(&quick("toy-gan", "ring8", "r", "2"))).ok();
    let s = gantry(dir, &["train", "--out", "r", "--steps", "4", "--resume", "--quiet"]).ok().json();
    assert_eq!(s["first_step"], 2);
    assert_eq!(s["steps"], 2);
}

#[test]
fn resume_accepts_a_run_written_before_a_key_was_added() {
    // An older gantry hashed fewer keys and wrote a config.toml without the new ones: simulate
    // it by dropping a key from config.toml and replacing the checkpoint's hash. The run's own
    // config.toml (read with today's defaults) vouches for it; a changed setting still does not.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    gantry(dir, &args(&quick("toy-gan", "ring8", "r", "2"))).ok();
    let state = dir.join("r/checkpoints/step-0000002/state.json");
    let text = std::fs::read_to_string(&state).unwrap();
    let hash = serde_json::from_str::<serde_json::Value>(&text).unwrap()["config_hash"].as_str().unwrap().to_string();
    std::fs::write(&state, text.replace(&hash, "0123456789abcdef")).unwrap();
    let cfg = dir.join("r/config.toml");
    let old: String = std::fs::read_to_string(&cfg)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("leaky_slope"))
        .map(|l| l.to_string() + "\n")
        .collect();
    std::fs::write(&cfg, &old).unwrap();
    let s = gantry(dir, &args(&[quick("toy-gan", "ring8", "r", "4"), vec!["--resume".into()]].concat())).ok().json();
    assert_eq!(s["first_step"], 2);
    // a config.toml that differs in a setting of the weights does not vouch
    gantry(dir, &args(&quick("toy-gan", "ring8", "s", "2"))).ok();
    let state = dir.join("s/checkpoints/step-0000002/state.json");
    let text = std::fs::read_to_string(&state).unwrap();
    std::fs::write(&state, text.replace(&hash, "0123456789abcdef")).unwrap();
    let cfg = dir.join("s/config.toml");
    let changed: String = std::fs::read_to_string(&cfg)
        .unwrap()
        .lines()
        .map(|l| if l.starts_with("d_lr = ") { "d_lr = 0.5\n".to_string() } else { l.to_string() + "\n" })
        .collect();
    std::fs::write(&cfg, changed).unwrap();
    gantry(dir, &args(&[quick("toy-gan", "ring8", "s", "4"), vec!["--resume".into()]].concat()))
        .fails_with("another configuration");
}

#[test]
fn dry_run_prints_resolved_config() {
    let tmp = tempfile::tempdir().unwrap();
    let r = gantry(tmp.path(), &["train", "--preset", "wgan-gp", "--set", "train.g_lr=3e-4", "--dry-run"]).ok();
    let cfg: toml::Value = toml::from_str(&r.stdout()).unwrap();
    assert_eq!(cfg["train"]["g_lr"].as_float(), Some(3e-4));
    assert_eq!(cfg["objective"]["gp_weight"].as_float(), Some(10.0));
    assert_eq!(cfg["preset"].as_str(), Some("wgan-gp"));
    assert!(!tmp.path().join("runs").exists(), "a dry run writes nothing");
}

#[test]
fn the_binary_loads_libtorchs_cuda_backend() {
    // With a CUDA build of libtorch (the PyPI wheel is one), `--device cuda` works only if
    // libtorch_cuda.so is loaded; the linker drops it unless told not to (build.rs). This ran on
    // an H100 once: without the library, "device `cuda` is not available here (0 CUDA devices)".
    let lib = std::path::Path::new(env!("GANTRY_LIBTORCH_LIB"));
    if !lib.join("libtorch_cuda.so").exists() {
        return; // a CPU-only libtorch has no CUDA backend to load
    }
    let out = std::process::Command::new("ldd").arg(env!("CARGO_BIN_EXE_gantry")).output().unwrap();
    let deps = String::from_utf8_lossy(&out.stdout);
    assert!(deps.contains("libtorch_cuda.so"), "gantry does not load libtorch_cuda.so:\n{deps}");
}

#[test]
fn bf16_trains_where_the_cpu_has_it_and_is_refused_where_not() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let idx = tiny_idx(dir, 20, false).display().to_string();
    let bf16 = ["--set", "train.precision=bf16"];
    if gantry::train::cpu_has_bf16() {
        // the gradient penalty's double backward under autocast too
        for p in ["dcgan", "wgan-gp"] {
            tiny_run(dir, p, &idx, &format!("{p}-16"), "3", &bf16).ok();
            tiny_run(dir, p, &idx, &format!("{p}-32"), "3", &[]).ok();
            let last = |run: &str| {
                metrics(&dir.join(run)).iter().rev().find_map(|m| m["d/loss"].as_f64()).expect("a logged d/loss")
            };
            let (a, b) = (last(&format!("{p}-16")), last(&format!("{p}-32")));
            // bf16 products round differently; dcgan's losses stay close after 3 steps (wgan-gp's
            // 15 critic updates on random images wander further apart, both finite)
            assert!(a != b && a.is_finite(), "{p}: bf16 {a} vs fp32 {b}");
            if p == "dcgan" {
                assert!((a - b).abs() < 0.1 * b.abs().max(1.0), "{p}: bf16 {a} vs fp32 {b}");
            }
        }
        // precision is part of the configuration: a bf16 checkpoint does not resume as fp32
        tiny_run(dir, "dcgan", &idx, "dcgan-16", "5", &["--resume"]).fails_with("train.precision");
    } else {
        tiny_run(dir, "dcgan", &idx, "x", "3", &bf16).fails_with("train.precision");
    }
}

#[test]
fn gantry_profile_counts_a_steps_operators() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let run = |value: &str, out: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_gantry"))
            .args(["train", "--preset", "toy-wgan-gp", "--steps", "4", "--quiet", "--out", out])
            .args(["--set", "train.sample_every=0", "--set", "train.report=false"])
            .current_dir(dir)
            .env("OMP_NUM_THREADS", "1")
            .env("GANTRY_PROFILE", value)
            .output()
            .unwrap()
    };
    assert!(run("1:3", "p").status.success());
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("p/profile.json")).unwrap()).unwrap();
    assert_eq!(p["steps"], 2);
    // 5 critic steps (forward, penalty, double backward, Adam) and a generator step: thousands
    let ops = p["per_step"]["aten_ops"].as_f64().unwrap();
    assert!((1000.0..20000.0).contains(&ops), "{p}");
    let bad = run("3:1", "q");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("GANTRY_PROFILE=3:1: expected FROM:TO"));
}

#[test]
fn threads_are_chosen_by_flag_or_key_and_a_busy_machine_waits_passively() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let run = |args: &[&str], policy: Option<&str>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_gantry"));
        c.args(["train", "--preset", "toy-wgan-gp", "--steps", "2", "--quiet"]).args(args).current_dir(dir);
        c.env_remove("OMP_NUM_THREADS").env_remove("OMP_WAIT_POLICY");
        if let Some(p) = policy {
            c.env("OMP_WAIT_POLICY", p);
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        serde_json::from_str::<serde_json::Value>(text.lines().last().unwrap()).unwrap()
    };
    assert_eq!(run(&["--out", "a", "--threads", "1"], None)["threads"], 1);
    assert_eq!(run(&["--out", "b", "--set", "train.threads=1"], None)["threads"], 1);
    // the flag wins over the key
    let both = run(&["--out", "c", "--set", "train.threads=1", "--threads", "2"], None);
    assert_eq!(both["threads"], 2);
    // with another thread spinning, the machine is busy: gantry re-executes itself with a passive
    // OpenMP wait policy (which it reports), unless the environment chose one
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spin = {
        let stop = stop.clone();
        std::thread::spawn(move || while !stop.load(std::sync::atomic::Ordering::Relaxed) {})
    };
    let busy = run(&["--out", "d"], None);
    let chosen = run(&["--out", "e"], Some("ACTIVE"));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    spin.join().unwrap();
    assert_eq!(busy["wait_policy"], "PASSIVE");
    assert_eq!(chosen["wait_policy"], "ACTIVE");
    // 0 threads is refused
    gantry(dir, &["--threads", "0", "presets"]).fails_with("--threads must be at least 1");
}

#[test]
fn ppgn_samples_by_its_chain_conditions_on_another_classifier_and_refuses_bad_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // 40 images: the test split has two of each class, which per-class figures need
    let idx = tiny_idx_named(dir, "tiny-idx", 40, true, 7, true);
    let data = idx.display().to_string();
    gantry(dir, &args(&quick("ppgn", &data, "p", "2"))).ok();
    // the classifier G inverts travels with the checkpoint
    assert!(dir.join("p/checkpoints/step-0000002/classifier.safetensors").is_file());
    let n_classes = 10;
    // chains of one class, with the sampler's settings from the command line
    gantry(
        dir,
        &[
            "sample",
            "--run",
            "p",
            "--n",
            "4",
            "--class",
            "3",
            "--sampler",
            "ppgn",
            "--iterations",
            "4",
            "--eps1",
            "0",
            "--out",
            "a.png",
            "--npy",
            "a.npy",
        ],
    )
    .ok();
    assert!(dir.join("a.png").is_file() && dir.join("a.npy").is_file());
    // the same seed gives the same samples; ε3 = 0 and ε1 = 0 are accepted, all three 0 is not
    gantry(
        dir,
        &["sample", "--run", "p", "--n", "4", "--class", "3", "--iterations", "4", "--eps1", "0", "--npy", "b.npy"],
    )
    .ok();
    assert_eq!(std::fs::read(dir.join("a.npy")).unwrap(), std::fs::read(dir.join("b.npy")).unwrap());
    gantry(dir, &["sample", "--run", "p", "--n", "2", "--eps1", "0", "--eps2", "0", "--eps3", "0", "--out", "c.png"])
        .fails_with("would not move");
    gantry(dir, &["sample", "--run", "p", "--n", "2", "--eps2=-1", "--out", "c.png"]).fails_with("`--eps2` must be");
    // a chain's successive samples: 3 chains, every 2 of 4 iterations (0, 2 and the last)
    gantry(
        dir,
        &[
            "sample",
            "--run",
            "p",
            "--n",
            "3",
            "--class",
            "1",
            "--iterations",
            "4",
            "--chain-every",
            "2",
            "--out-dir",
            "chain",
        ],
    )
    .ok();
    for c in 0..3 {
        for i in [0, 2, 4] {
            assert!(dir.join(format!("chain/chain-{c:05}/iter-{i:05}.png")).is_file(), "chain {c} iteration {i}");
        }
    }
    let img = image::open(dir.join("chain/chains.png")).unwrap();
    assert_eq!((img.width(), img.height()), (3 * 30 + 2, 3 * 30 + 2));
    // plug and play: a classifier of another seed and of 10 classes
    gantry(
        dir,
        &[
            "classifier",
            "train",
            "--data",
            &data,
            "--out",
            "other.safetensors",
            "--epochs",
            "1",
            "--seed",
            "3",
            "--quiet",
        ],
    )
    .ok();
    gantry(
        dir,
        &[
            "sample",
            "--run",
            "p",
            "--n",
            "2",
            "--class",
            "9",
            "--iterations",
            "3",
            "--condition",
            "other.safetensors",
            "--out",
            "d.png",
        ],
    )
    .ok();
    // --class is checked against the classifier sampled with
    gantry(dir, &["sample", "--run", "p", "--n", "2", "--class", &n_classes.to_string(), "--out", "e.png"])
        .fails_with("--class 10 is out of range: the classifier this PPGN run samples with has classes 0 to 9");
    gantry(dir, &["sample", "--run", "p", "--n", "2", "--condition", "missing.safetensors", "--out", "e.png"])
        .fails_with("missing.safetensors");
    // eval takes the same settings; its figures say which were used
    let e = gantry(dir, &["eval", "--run", "p", "--samples", "20", "--iterations", "2", "--eps3", "0", "--quiet"])
        .ok()
        .json();
    assert_eq!(e["ppgn_sampler"]["iterations"], 2, "{e}");
    assert_eq!(e["ppgn_sampler"]["eps3"], 0.0, "{e}");
    assert!(
        e["class_accuracy"].is_number() && e["fcd_per_class"].is_array() && e["within_class_diversity"].is_number(),
        "{e}"
    );
    // how well G inverts C: reconstructions of as many training images as samples were asked for
    assert_eq!(e["reconstruction_samples"], 20, "{e}");
    let l1 = e["reconstruction_l1"].as_f64().unwrap();
    assert!(e["reconstruction_fcd"].as_f64().unwrap() > 0.0 && l1 > 0.0 && l1 < 2.0, "{e}");
    // the sampler's flags on a run that is not PPGN
    gantry(dir, &args(&quick("dcgan", &data, "g", "1"))).ok();
    for flag in [&["--sampler", "ppgn"][..], &["--eps1", "0.1"], &["--condition", "other.safetensors"]] {
        let mut a = vec!["sample", "--run", "g", "--n", "2", "--out", "f.png"];
        a.extend_from_slice(flag);
        gantry(dir, &a).fails_with("apply to PPGN runs; this run has method = \"gan\"");
    }
    // a classifier for other data is refused before training starts
    let other = tiny_idx_named(dir, "other-idx", 24, true, 8, true);
    gantry(
        dir,
        &[
            "classifier",
            "train",
            "--data",
            &other.display().to_string(),
            "--out",
            "wrong.safetensors",
            "--epochs",
            "1",
            "--quiet",
        ],
    )
    .ok();
    let mut a = quick("ppgn", &data, "q", "1");
    a.extend(["--set".to_string(), "ppgn.classifier=\"wrong.safetensors\"".to_string()]);
    gantry(dir, &args(&a)).fails_with("trained on");
}
