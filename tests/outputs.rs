//! What a run hands to other tools: TensorBoard event files, read back with TensorBoard's own
//! reader (the Python `tensorboard` package, which scripts/test.sh installs).
mod common;
use common::*;
use std::process::Command;

#[test]
fn tensorboard_holds_every_logged_scalar_and_the_grids() {
    let t = tempfile::tempdir().unwrap();
    let data = tiny_idx_named(t.path(), "idx", 32, false, 5, true);
    let extra = [
        "--set",
        "train.tensorboard=true",
        "--set",
        "train.log_every=3",
        "--set",
        "train.sample_every=4",
        "--set",
        "train.eval_every=6",
        "--set",
        "train.eval_samples=16",
        "--set",
        "train.checkpoint_every=6",
    ];
    tiny_run(t.path(), "dcgan", data.to_str().unwrap(), "run", "6", &extra).ok();
    // a resumed run writes a second file; TensorBoard reads the folder as one run
    tiny_run(t.path(), "dcgan", data.to_str().unwrap(), "run", "9", &[&extra[..], &["--resume"]].concat()).ok();
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/tb_read.py"))
        .arg(t.path().join("run/tb"))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "TensorBoard's reader failed (pip install tensorboard): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tb: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut compared = 0;
    for line in metrics(&t.path().join("run")) {
        let step = line["step"].as_u64().unwrap();
        for (k, v) in line.as_object().unwrap() {
            if k == "step" {
                continue;
            }
            let series = tb["scalars"][k].as_array().unwrap_or_else(|| panic!("no `{k}` in TensorBoard: {tb}"));
            let hit = series
                .iter()
                .find(|p| p[0].as_u64() == Some(step))
                .unwrap_or_else(|| panic!("`{k}` lacks step {step}"));
            // TensorBoard keeps scalars as 32-bit floats
            let (a, b) = (hit[1].as_f64().unwrap(), v.as_f64().unwrap());
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "`{k}` at step {step}: {a} vs {b}");
            compared += 1;
        }
    }
    assert!(compared >= 15, "compared {compared} scalars");
    assert!(
        tb["scalars"]["eval/fcd"].is_array()
            || tb["scalars"].as_object().unwrap().keys().any(|k| k.starts_with("eval/"))
    );
    let grids: Vec<u64> = tb["images"]["samples"].as_array().unwrap().iter().map(|p| p[0].as_u64().unwrap()).collect();
    assert_eq!(grids, [4, 6, 8, 9], "a grid at each sample step and at the end of each leg");
    assert_eq!(std::fs::read_dir(t.path().join("run/tb")).unwrap().count(), 2);
}

fn path(dir: &std::path::Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[test]
fn exported_generators_draw_in_pytorch_what_gantry_samples() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let data = tiny_idx_named(d, "idx", 32, false, 5, true);
    let data = data.to_str().unwrap();
    // an unconditional DCGAN and a conditional one (AC-GAN): forward(z) equals gantry sample
    // improved-gan with virtual batch norm: the reference batch rides along in the trace; the
    // 2014 GAN's fully connected generator (with layer norm, to have one) and BEGAN's decoder
    // the semi-supervised GAN's weight-normalised generator; PPGN's generator of codes
    for (preset, classes) in [
        ("dcgan", 0),
        ("acgan", 10),
        ("improved-gan", 0),
        ("gan", 0),
        ("began", 0),
        ("began-dcgan", 0),
        ("improved-gan-semi", 0),
        ("ppgn", 0),
    ] {
        let run = format!("{preset}-run");
        let extra: &[&str] = match preset {
            "improved-gan" => &["--set", "model.g_norm=\"virtual\""],
            "gan" => &["--set", "model.g_norm=\"layer\"", "--set", "model.g_hidden=[64, 32]"],
            "began" | "began-dcgan" => &["--set", "began.width=8", "--set", "began.hidden=16"],
            "improved-gan-semi" => &["--set", "semi.labels=20", "--set", "model.g_hidden=[32]"],
            // PPGN's G reads the classifier's code h (256 wide, no class one-hot): its samples'
            // latents are the codes the chains reached
            "ppgn" => &["--set", "ppgn.sampler.iterations=3"],
            _ => &[],
        };
        if preset.starts_with("began") {
            let mut a = vec!["train", "--preset", preset, "--data", data, "--out", &run, "--steps", "3", "--quiet"];
            a.extend_from_slice(&["--set", "data.batch_size=8"]);
            a.extend_from_slice(extra);
            gantry(d, &a).ok();
        } else {
            tiny_run(d, preset, data, &run, "3", extra).ok();
        }
        let g = path(d, &format!("{preset}.pt"));
        // --check-layers: every layer also traces faithfully alone, and the layers make up G
        let e = gantry(d, &["export", "--run", &run, "--out", &g, "--check-layers"]).ok().json();
        assert_eq!(e["kind"], "noise");
        let (z, x) = (path(d, &format!("{preset}-z.npy")), path(d, &format!("{preset}-x.npy")));
        gantry(d, &["sample", "--run", &run, "--n", "10", "--seed", "7", "--npy", &x, "--latents-npy", &z]).ok();
        let r = python(&["noise", &g, &z, &x]);
        assert!(r["max_abs_diff"].as_f64().unwrap() <= 1e-5, "{preset}: {r}");
        assert_eq!(r["shape"], serde_json::json!([10, 1, 28, 28]));
        let a = &r["attributes"];
        assert_eq!(
            (a["num_classes"].as_i64(), a["prior"].as_str(), a["step"].as_i64()),
            (Some(classes), Some(if preset.starts_with("began") { "uniform" } else { "normal" }), Some(3))
        );
        assert_eq!(a["input_dim"].as_i64().unwrap() - a["latent_dim"].as_i64().unwrap(), classes);
        // the plain module and weights give the same images
        let plain = path(d, &format!("{preset}-plain.pt"));
        // (virtual batch norm's reference latents ride along as a buffer)
        gantry(d, &["export", "--run", &run, "--out", &plain, "--format", "safetensors"]).ok();
        let (py, st) = (path(d, &format!("{preset}-plain.py")), path(d, &format!("{preset}-plain.safetensors")));
        let r = python(&["plain", &py, &st, &z, &x]);
        // the plain module is idiomatic PyTorch, not a trace of gantry's calls: it must agree to
        // float rounding (one CI machine, with PyTorch at its default threads, measured 5.2e-5
        // for the layer-normed 2014 GAN; a wrong layer or weight moves images by tenths)
        assert!(r["max_abs_diff"].as_f64().unwrap() <= 1e-4, "{preset} plain: {r}");
        assert_eq!(r["attributes"]["num_classes"].as_i64(), Some(classes));
        if classes > 0 {
            // gantry sample without --class draws the classes in order, n / K per class
            let r = python(&["labels", &g, &z, "0,1,2,3,4,5,6,7,8,9"]);
            assert_eq!(r["max_abs_diff"].as_f64().unwrap(), 0.0, "{r}");
        }
    }
}

#[test]
fn translation_runs_export_one_module_per_direction() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    tiny_domains(d, 20);
    let mut a = vec!["train", "--preset", "cyclegan-small", "--data", "pair", "--out", "cg", "--steps", "2", "--quiet"];
    a.extend_from_slice(CYCLEGAN_TINY);
    gantry(d, &a).ok();
    let e = gantry(d, &["export", "--run", "cg", "--out", "G.pt", "--check-layers"]).ok().json();
    assert_eq!(e["kind"], "translation");
    assert!(d.join("G-a2b.pt").is_file() && d.join("G-b2a.pt").is_file());
    // DiscoGAN and UNIT too; then each run's plain modules against its TorchScript ones (which
    // are checked against gantry's own networks as they are written)
    let tiny = |preset: &str, out: &str, sets: &[&str]| {
        let mut a = vec!["train", "--preset", preset, "--data", "pair", "--out", out, "--steps", "2", "--quiet"];
        for s in sets {
            a.extend_from_slice(&["--set", s]);
        }
        gantry(d, &a).ok();
        let pt = format!("{out}.pt");
        gantry(d, &["export", "--run", out, "--out", &pt, "--check-layers"]).ok();
    };
    tiny("discogan-digits", "dg", &["discogan.ngf=4", "discogan.ndf=4", "data.batch_size=2"]);
    tiny("unit-digits", "un", &["unit.ch=4", "unit.d_ch=4", "data.batch_size=2"]);
    for (run, stem) in [("cg", "G"), ("dg", "dg"), ("un", "un")] {
        let plain = format!("{stem}-plain.pt");
        let e = gantry(d, &["export", "--run", run, "--out", &plain, "--format", "safetensors"]).ok().json();
        assert_eq!(e["files"].as_array().unwrap().len(), 3, "{e}");
        for dir in ["a2b", "b2a"] {
            let r = python(&[
                "plain-translation",
                &path(d, &format!("{stem}-plain.py")),
                &path(d, &format!("{stem}-plain-{dir}.safetensors")),
                dir,
                &path(d, &format!("{stem}-{dir}.pt")),
            ]);
            assert!(r["max_abs_diff"].as_f64().unwrap() <= 1e-5, "{run} {dir}: {r}");
            assert!(r["odd_diff"].as_f64().unwrap() <= 1e-5, "{run} {dir}: {r}");
            assert_eq!(r["odd_shape"], serde_json::json!([1, 1, 37, 29]), "{run} {dir}: {r}");
        }
    }
    // one test image of A through PyTorch and through `gantry translate`: equal but for the PNG's rounding
    let input = std::fs::read_dir(d.join("pair/testA")).unwrap().next().unwrap().unwrap().path();
    std::fs::create_dir_all(d.join("in")).unwrap();
    std::fs::copy(&input, d.join("in/x.png")).unwrap();
    gantry(d, &["translate", "--run", "cg", "--input", "in", "--out", "out", "--direction", "a2b"]).ok();
    let img = image::open(&input).unwrap().to_luma8();
    let (w, h) = img.dimensions();
    let x =
        tch::Tensor::from_slice(img.as_raw()).view([1, 1, h as i64, w as i64]).to_kind(tch::Kind::Float) / 127.5 - 1.0;
    x.write_npy(d.join("x.npy")).unwrap();
    let r = python(&["translate", &path(d, "G-a2b.pt"), &path(d, "x.npy"), &path(d, "y.npy")]);
    assert_eq!(r["attributes"]["direction"], "a2b");
    let y = tch::Tensor::read_npy(d.join("y.npy")).unwrap();
    let png = image::open(d.join("out/x.png")).unwrap().to_luma8();
    let ours =
        tch::Tensor::from_slice(png.as_raw()).view([1, 1, h as i64, w as i64]).to_kind(tch::Kind::Float) / 127.5 - 1.0;
    let diff = (y - ours).abs().max().double_value(&[]);
    assert!(diff <= 1.0 / 127.5 + 1e-5, "PyTorch's translation differs from gantry's by {diff}");
    // CoGAN on the same folder: one module, the pair stacked
    gantry(
        d,
        &[
            "train",
            "--preset",
            "cogan-digits",
            "--data",
            "pair",
            "--out",
            "co",
            "--steps",
            "2",
            "--quiet",
            "--set",
            "data.batch_size=2",
        ],
    )
    .ok();
    gantry(d, &["export", "--run", "co", "--out", "C.pt", "--check-layers"]).ok();
    gantry(d, &["sample", "--run", "co", "--n", "5", "--npy", "cx.npy", "--latents-npy", "cz.npy"]).ok();
    let r = python(&["pairs", &path(d, "C.pt"), &path(d, "cz.npy"), &path(d, "cx.npy")]);
    assert_eq!(r["shape"], serde_json::json!([2, 5, 1, 28, 28]));
    assert!(r["max_abs_diff"].as_f64().unwrap() <= 1e-5, "{r}");
    gantry(d, &["export", "--run", "co", "--out", "CP.pt", "--format", "safetensors"]).ok();
    let r =
        python(&["plain-pairs", &path(d, "CP.py"), &path(d, "CP.safetensors"), &path(d, "cz.npy"), &path(d, "cx.npy")]);
    assert!(r["max_abs_diff"].as_f64().unwrap() <= 1e-5 && r["pair_diff"].as_f64().unwrap() == 0.0, "{r}");
}

/// Runs `gantry ARGS` under `script`, which gives it a terminal; returns what it drew.
fn on_a_terminal(dir: &std::path::Path, args: &str) -> String {
    let cmd = format!("{} {args}", env!("CARGO_BIN_EXE_gantry"));
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .current_dir(dir)
        .env("OMP_NUM_THREADS", "1")
        .env("GANTRY_CACHE", dir.join(".gantry-cache"))
        .output()
        .expect("script (util-linux) runs");
    assert!(out.status.success(), "{args}: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn progress_bars_show_on_a_terminal_only() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let data = tiny_idx_named(d, "idx", 32, false, 5, true);
    let small = "--set data.batch_size=8 --set model.base_channels=8";
    let drawn = on_a_terminal(d, &format!("train --preset dcgan --data {} --out a --steps 20 {small}", data.display()));
    // the bar redraws at most some times a second, so a fast run may end before it shows 20/20
    assert!(drawn.contains("ETA") && drawn.contains("/20 "), "{drawn}");
    let drawn = on_a_terminal(d, &format!("classifier train --data {} --out c.safetensors --epochs 2", data.display()));
    assert!(drawn.contains("classifier [") && drawn.contains("ETA"), "{drawn}");
    // --quiet on a terminal, and any pipe, draw no bar
    let drawn =
        on_a_terminal(d, &format!("train --preset dcgan --data {} --out b --steps 5 --quiet {small}", data.display()));
    assert!(!drawn.contains("ETA"), "{drawn}");
    let piped = tiny_run(d, "dcgan", data.to_str().unwrap(), "c", "5", &[]).ok();
    assert!(!piped.stderr().contains("ETA"));
    let piped = gantry(
        d,
        &["classifier", "train", "--data", data.to_str().unwrap(), "--out", "c2.safetensors", "--epochs", "1"],
    )
    .ok();
    assert!(!piped.stderr().contains("ETA") && !piped.stderr().contains("classifier ["), "{}", piped.stderr());
}

#[test]
fn a_began_step_equals_its_pytorch_twin() {
    // tests/py/began_twin.py rebuilds BEGAN's networks and step in PyTorch from the paper and the
    // reference code, loads gantry's checkpoint of step a (weights, Adam state, k_t) and repeats
    // step a + 1; the batch is the whole (16-image) set, so its order does not matter. γ = 1 and
    // λ_k = 1 move k_t off 0 at once, so that the k_t·L(G(z)) term is checked too.
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let data = tiny_idx_named(d, "idx", 16, false, 5, false);
    let sets = [
        "began.width=8",
        "began.hidden=16",
        "data.batch_size=16",
        "train.checkpoint_every=1",
        "train.keep_checkpoints=10",
        "began.gamma=1.0",
        "began.lambda_k=1.0",
    ];
    let mut a = vec!["train", "--preset", "began", "--data", data.to_str().unwrap(), "--out", "r", "--steps", "3"];
    a.push("--quiet");
    for s in &sets {
        a.extend(["--set", s]);
    }
    gantry(d, &a).ok();
    for step in [1, 2] {
        let out = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/began_twin.py"))
            .args([&path(d, "r"), &step.to_string(), &path(d, "idx/train-images-idx3-ubyte")])
            .env("OMP_NUM_THREADS", "1")
            .args(["0", "8", "16", "64", "1.0", "1.0", "8e-5"])
            .output()
            .expect("python3 runs");
        assert!(out.status.success(), "the twin failed: {}", String::from_utf8_lossy(&out.stderr));
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["tensors"], 52, "{r}");
        assert!(r["k_before"].as_f64().unwrap() > 0.0, "k_t should have left 0: {r}");
        // Adam divides each update by its gradient's running scale, so rounding in the sums
        // shows as ~2e-4 of the largest update; a missing or wrong term moves it by tens of %
        assert!(r["worst_update_difference"].as_f64().unwrap() < 2e-3, "{r}");
        let (k1, k2) = (r["k_twin"].as_f64().unwrap(), r["k_gantry"].as_f64().unwrap());
        assert!((k1 - k2).abs() < 1e-6, "{r}");
    }
}
