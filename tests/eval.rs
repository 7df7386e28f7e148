//! Image evaluation end to end: the classifier, `gantry eval` on runs and image folders,
//! evaluation during training, and the bad inputs of each.
mod common;
use common::*;
use serde_json::json;
use std::path::Path;

const KEYS: [&str; 12] = [
    "fcd",
    "kid",
    "kid_std",
    "classifier_score",
    "precision",
    "recall",
    "density",
    "coverage",
    "samples",
    "reference_samples",
    "feature_network",
    "class_kl",
];

fn classifier(dir: &Path, data: &Path, out: &str) -> serde_json::Value {
    gantry(dir, &["classifier", "train", "--data", data.to_str().unwrap(), "--out", out, "--epochs", "1", "--quiet"])
        .ok()
        .json()
}

#[test]
fn classifier_eval_on_runs_folders_and_during_training() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = tiny_idx_named(dir, "a", 64, true, 1, true);
    let c = classifier(dir, &data, "c.safetensors");
    let acc = c["test_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    let id = c["feature_network"].as_str().unwrap().to_string();
    assert!(id.starts_with("gantry-cnn-v1:"), "{id}");

    tiny_run(dir, "dcgan", data.to_str().unwrap(), "r", "2", &[]).ok();
    let e = gantry(dir, &["eval", "--run", "r", "--samples", "40", "--classifier", "c.safetensors"]).ok().json();
    for k in KEYS {
        assert!(!e[k].is_null(), "missing {k}: {e}");
    }
    assert_eq!(e["samples"], 40);
    assert_eq!(e["reference_samples"], 32, "the t10k split holds 32 images");
    assert_eq!(e["feature_network"].as_str(), Some(id.as_str()));
    for k in ["precision", "recall", "density", "coverage"] {
        assert!(e[k].as_f64().unwrap() >= 0.0, "{k}");
    }

    // the same yardstick on a folder of images written by another tool (here: gantry sample)
    gantry(dir, &["sample", "--run", "r", "--n", "20", "--out-dir", "imgs"]).ok();
    let f = gantry(dir, &["eval", "--images", "imgs", "--reference", "a", "--classifier", "c.safetensors"]).ok().json();
    assert_eq!(f["samples"], 20);
    assert_eq!(f["feature_network"].as_str(), Some(id.as_str()));

    // the real-data floor: the training split scored against the test split
    let r =
        gantry(dir, &["eval", "--real", "a", "--reference", "a", "--classifier", "c.safetensors", "--samples", "30"])
            .ok()
            .json();
    assert_eq!(r["samples"], 30);
    assert!(r["fcd"].as_f64().unwrap() >= 0.0);

    // evaluation during training, logged as eval/...
    tiny_run(
        dir,
        "dcgan",
        data.to_str().unwrap(),
        "r2",
        "2",
        &[
            "--set",
            "train.eval_every=2",
            "--set",
            "train.eval_samples=12",
            "--set",
            "train.classifier=\"c.safetensors\"",
        ],
    )
    .ok();
    let m = metrics(&dir.join("r2"));
    assert!(m.iter().any(|l| l["eval/fcd"].is_number() && l["eval/precision"].is_number()), "{m:?}");
}

#[test]
fn cached_classifier_is_trained_on_first_use() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = tiny_idx_named(dir, "a", 32, false, 3, true);
    tiny_run(dir, "dcgan", data.to_str().unwrap(), "r", "2", &[]).ok();
    let cache = dir.join("cache");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gantry"))
            .args(args)
            .current_dir(dir)
            .env("GANTRY_CACHE", &cache)
            .env("OMP_NUM_THREADS", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let first = run(&["eval", "--run", "r", "--samples", "20"]);
    assert!(first.contains("training the evaluation classifier"), "{first}");
    let files: Vec<_> = std::fs::read_dir(cache.join("classifiers")).unwrap().collect();
    assert_eq!(files.len(), 1);
    let second = run(&["eval", "--run", "r", "--samples", "20"]);
    assert!(!second.contains("training"), "{second}");
}

#[test]
fn bad_evaluation_input() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let a = tiny_idx_named(dir, "a", 48, false, 5, true);
    let b = tiny_idx_named(dir, "b", 48, false, 9, true);
    classifier(dir, &a, "ca.safetensors");
    tiny_run(dir, "dcgan", b.to_str().unwrap(), "rb", "2", &[]).ok();
    // a classifier trained on another data set than the run's
    gantry(dir, &["eval", "--run", "rb", "--samples", "20", "--classifier", "ca.safetensors"])
        .fails_with("was trained on");
    // fewer samples than the metrics need
    tiny_run(dir, "dcgan", a.to_str().unwrap(), "ra", "2", &[]).ok();
    gantry(dir, &["eval", "--run", "ra", "--samples", "5", "--classifier", "ca.safetensors"]).fails_with("at least 10");
    // a weights file that is not a gantry classifier
    std::fs::write(dir.join("junk.safetensors"), b"definitely not safetensors").unwrap();
    gantry(dir, &["eval", "--run", "ra", "--classifier", "junk.safetensors"]).fails_with("not a safetensors file");
    // an image folder with no images, then one with mixed sizes
    std::fs::create_dir(dir.join("empty")).unwrap();
    gantry(dir, &["eval", "--images", "empty", "--reference", "a", "--classifier", "ca.safetensors"])
        .fails_with("no .png");
    std::fs::create_dir(dir.join("mixed")).unwrap();
    image::GrayImage::new(28, 28).save(dir.join("mixed/a.png")).unwrap();
    image::GrayImage::new(32, 32).save(dir.join("mixed/b.png")).unwrap();
    gantry(dir, &["eval", "--images", "mixed", "--reference", "a", "--classifier", "ca.safetensors"])
        .fails_with("differ in size");
    // a classifier on data without a test split
    let c = tiny_idx_named(dir, "c", 16, false, 11, false);
    gantry(dir, &["classifier", "train", "--data", c.to_str().unwrap(), "--out", "x.safetensors"]).fails_with("t10k");
}

#[test]
fn stacked_mnist_channels_match_their_labels() {
    // Each image is filled with 20·label, so a stacked image's channels spell its label.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("digits");
    std::fs::create_dir(&d).unwrap();
    let n = 30;
    let labels: Vec<u8> = (0..n).map(|i| (i * 7 % 10) as u8).collect();
    let images: Vec<u8> = labels.iter().flat_map(|&l| std::iter::repeat_n(l * 20, 28 * 28)).collect();
    write(&d, "train-images-idx3-ubyte", &gantry::data::idx::encode(&[n, 28, 28], &images), false);
    write(&d, "train-labels-idx1-ubyte", &gantry::data::idx::encode(&[n], &labels), false);
    let cfg = gantry::data::DataConfig { source: format!("stacked:{}", d.display()), ..Default::default() };
    let set = gantry::data::Dataset::load(&cfg, tch::Device::Cpu).unwrap();
    assert_eq!(set.shape, gantry::data::Shape::Image { channels: 3, size: 28 });
    let (x, y) = set.tensors().unwrap();
    let y = y.unwrap();
    for i in 0..n as i64 {
        let label = y.int64_value(&[i]);
        for (c, w) in [(0, 100), (1, 10), (2, 1)] {
            let pixel = ((x.double_value(&[i, c, 5, 5]) + 1.0) * 127.5).round() as i64;
            assert_eq!(pixel / 20, label / w % 10, "image {i} channel {c}");
        }
    }
}

#[test]
fn stacked_mnist_runs_report_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = tiny_idx_named(dir, "a", 40, false, 21, true);
    classifier(dir, &data, "c.safetensors");
    let stacked = format!("stacked:{}", data.display());
    gantry(
        dir,
        &[
            "train",
            "--preset",
            "dcgan",
            "--data",
            &stacked,
            "--out",
            "s",
            "--steps",
            "2",
            "--quiet",
            "--set",
            "data.batch_size=8",
            "--set",
            "model.base_channels=8",
        ],
    )
    .ok();
    let e = gantry(dir, &["eval", "--run", "s", "--samples", "50", "--classifier", "c.safetensors"]).ok().json();
    let modes = e["modes"].as_u64().unwrap();
    assert!((1..=50).contains(&modes), "{e}");
    assert_eq!(e["total_modes"], 1000);
    assert!(e["kl"].as_f64().unwrap() > 0.0);
}

#[test]
fn conditional_runs_sample_by_class_and_report_class_accuracy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = tiny_idx_named(dir, "a", 40, false, 31, true);
    classifier(dir, &data, "c.safetensors");
    for preset in ["cgan", "acgan"] {
        tiny_run(dir, preset, data.to_str().unwrap(), preset, "2", &[]).ok();
        let e = gantry(dir, &["eval", "--run", preset, "--samples", "20", "--classifier", "c.safetensors"]).ok().json();
        let acc = e["class_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc), "{e}");
        // two samples per class: the overall accuracy is the mean of the ten per-class ones
        let per: Vec<f64> =
            e["class_accuracy_per_class"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(per.len(), 10, "{e}");
        assert!((per.iter().sum::<f64>() / 10.0 - acc).abs() < 1e-9, "{e}");
        gantry(dir, &["sample", "--run", preset, "--n", "20", "--out", "grid.png"]).ok();
        // ten classes, one row each of 20 / 10 = 2 samples
        let img = image::open(dir.join("grid.png")).unwrap();
        assert_eq!((img.width(), img.height()), (2 * 30 + 2, 10 * 30 + 2));
        gantry(dir, &["sample", "--run", preset, "--n", "4", "--class", "3", "--out", "three.png"]).ok();
        gantry(dir, &["sample", "--run", preset, "--n", "4", "--class", "10", "--out", "x.png"])
            .fails_with("out of range");
    }
    tiny_run(dir, "dcgan", data.to_str().unwrap(), "u", "1", &[]).ok();
    gantry(dir, &["sample", "--run", "u", "--class", "1", "--out", "x.png"]).fails_with("not a conditional run");
    gantry(dir, &["train", "--preset", "cgan", "--data", "ring8", "--out", "p", "--steps", "1"])
        .fails_with("needs labelled images");
}

#[test]
fn infogan_traverses_codes_and_reports_code_accuracy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = tiny_idx_named(dir, "a", 40, false, 41, true);
    classifier(dir, &data, "c.safetensors");
    tiny_run(dir, "infogan", data.to_str().unwrap(), "i", "2", &[]).ok();
    let m = metrics(&dir.join("i"));
    assert!(m[0]["d/info"].is_number() && m[0]["g/info"].is_number(), "{:?}", m[0]);
    let e = gantry(dir, &["eval", "--run", "i", "--samples", "20", "--classifier", "c.safetensors"]).ok().json();
    let acc = e["code_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc), "{e}");
    // the whole labelled test split, however many samples the image metrics score
    let f = gantry(dir, &["eval", "--run", "i", "--samples", "12", "--classifier", "c.safetensors"]).ok().json();
    assert_eq!((&e["code_accuracy"], &e["code_samples"]), (&f["code_accuracy"], &f["code_samples"]));
    assert_eq!(e["code_samples"], 20, "{e}");
    gantry(dir, &["traverse", "--run", "i", "--out", "t.png", "--cols", "5"]).ok();
    let img = image::open(dir.join("t.png")).unwrap();
    // ten categories by five steps of the code
    assert_eq!((img.width(), img.height()), (5 * 30 + 2, 10 * 30 + 2));
    gantry(dir, &["traverse", "--run", "i", "--out", "t.png", "--code", "2"]).fails_with("does not exist");
    // --class fixes the first categorical code: one seed, one category, the same images; another
    // category, other images
    for (k, out) in [("3", "a"), ("3", "b"), ("4", "c")] {
        gantry(dir, &["sample", "--run", "i", "--n", "4", "--class", k, "--seed", "7", "--out", &format!("{out}.png")])
            .ok();
    }
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    assert!(read("a.png") == read("b.png") && read("a.png") != read("c.png"));
    gantry(dir, &["sample", "--run", "i", "--class", "10", "--out", "x.png"]).fails_with("categories 0 to 9");
    tiny_run(dir, "dcgan", data.to_str().unwrap(), "u", "1", &[]).ok();
    gantry(dir, &["traverse", "--run", "u", "--out", "t.png"]).fails_with("InfoGAN run");
    // restarts ranked on unlabelled images: every run is scored; by default the chosen one has
    // the most consistent categories among nearest neighbours, with --by centrality the most
    // central; a run agrees fully with itself
    for (out, seed) in [("i2", "5"), ("i3", "6")] {
        tiny_run(dir, "infogan", data.to_str().unwrap(), out, "2", &["--seed", seed]).ok();
    }
    let s = gantry(dir, &["select", "--runs", "i", "i2", "i3", "--samples", "30"]).ok().json();
    let runs = s["runs"].as_array().unwrap();
    assert_eq!(
        (runs.len(), &s["samples"], &s["by"], &s["space"]),
        (3, &json!(30), &json!("consistency"), &json!("deskewed"))
    );
    let f = |r: &serde_json::Value, k: &str| r[k].as_f64().unwrap();
    assert!(runs.iter().all(|r| (0.0..=1.0).contains(&f(r, "consistency"))), "{s}");
    let top = |key: &dyn Fn(&serde_json::Value) -> (f64, f64, f64)| {
        runs.iter().min_by(|a, b| key(a).partial_cmp(&key(b)).unwrap()).unwrap()["run"].clone()
    };
    assert_eq!(s["selected"], top(&|r| (-f(r, "consistency"), -f(r, "centrality"), f(r, "code_entropy"))), "{s}");
    let c = gantry(dir, &["select", "--runs", "i", "i2", "i3", "--samples", "30", "--by", "centrality"]).ok().json();
    // highest centrality, ties broken by the lowest entropy
    assert_eq!(c["selected"], top(&|r| (-f(r, "centrality"), f(r, "code_entropy"), 0.0)), "{c}");
    assert!(
        (0..3).all(|i| s["agreement"][i][i] == 1.0 && s["agreement"][i][(i + 1) % 3] == s["agreement"][(i + 1) % 3][i])
    );
    // neighbours in raw pixels change consistency only
    let p = gantry(dir, &["select", "--runs", "i", "i2", "i3", "--samples", "30", "--space", "pixels"]).ok().json();
    assert_eq!((&p["agreement"], &p["space"]), (&s["agreement"], &json!("pixels")));
    gantry(dir, &["select", "--runs", "i", "i2", "i3", "--samples", "30", "--neighbours", "30"])
        .fails_with("--neighbours 30 must lie between 1 and 29");
    let at = gantry(dir, &["select", "--runs", "i", "i2", "i3", "--samples", "30", "--step", "2"]).ok().json();
    assert_eq!(at, s);
    gantry(dir, &["select", "--runs", "i", "i2", "i3", "--step", "1"])
        .fails_with("i has no checkpoint of step 1; it has 2");
    let e2 = gantry(dir, &["eval", "--run", "i", "--step", "2", "--samples", "20", "--classifier", "c.safetensors"])
        .ok()
        .json();
    assert_eq!(e2, e);
    gantry(dir, &["select", "--runs", "i", "i2"]).fails_with("at least 3 runs");
    gantry(dir, &["select", "--runs", "i", "i2", "u"]).fails_with("u is not an InfoGAN run");
    gantry(dir, &["select", "--runs", "i", "i2", "nowhere"]).fails_with("nowhere is not a gantry run folder");
    tiny_run(dir, "infogan", data.to_str().unwrap(), "i4", "1", &["--set", "infogan.categorical_codes=[4]"]).ok();
    gantry(dir, &["select", "--runs", "i", "i2", "i4"]).fails_with("i4 has 4 categories but i has 10");
}
