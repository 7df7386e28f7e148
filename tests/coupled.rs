//! CoGAN and its conditional-GAN baseline end to end on tiny generated domains: train, resume
//! bit-exactly, sample pairs, walk both domains, score pixel agreement, and refuse bad input.
mod common;
use common::{gantry, tiny_idx_named};
use std::path::Path;

/// A tiny digits-edges folder (random 28×28 "digits" from a generated IDX set).
fn domains(dir: &Path) -> String {
    let mnist = tiny_idx_named(dir, "mnist", 44, false, 5, true);
    gantry(dir, &["data", "make", "digits-edges", "--mnist", mnist.to_str().unwrap(), "--out", "pair"]).ok();
    dir.join("pair").display().to_string()
}

const NARROW: &[&str] = &[
    "--set",
    "cogan.g_channels=[8,8,8,8]",
    "--set",
    "cogan.d_channels=[4,4,8]",
    "--set",
    "data.batch_size=4",
    "--set",
    "train.checkpoint_every=2",
    "--set",
    "train.sample_every=2",
];

fn cogan(dir: &Path, data: &str, out: &str, steps: &str, extra: &[&str]) -> common::Run {
    let mut a = vec!["train", "--preset", "cogan", "--data", data, "--out", out, "--steps", steps, "--quiet"];
    a.extend_from_slice(NARROW);
    a.extend_from_slice(extra);
    gantry(dir, &a)
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn cogan_trains_resumes_bit_exactly_samples_pairs_and_scores_agreement() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = domains(dir);
    assert_eq!(std::fs::read_to_string(dir.join("pair/transform.txt")).unwrap().trim(), "edges");
    cogan(dir, &data, "straight", "4", &[]).ok();
    let run = dir.join("straight");
    assert!(run.join("samples/step-0000002.png").is_file());
    let m = common::metrics(&run);
    for key in ["d/loss", "g/loss", "d/accuracy"] {
        assert!(m.iter().any(|l| l[key].is_number()), "{key} logged");
    }
    cogan(dir, &data, "resumed", "2", &[]).ok();
    cogan(dir, &data, "resumed", "4", &["--resume"]).ok();
    for f in ["g", "d", "opt_g", "opt_d"] {
        let name = format!("checkpoints/step-0000004/{f}.safetensors");
        assert_eq!(bytes(&run.join(&name)), bytes(&dir.join("resumed").join(&name)), "{f} differs after resume");
    }
    // pairs: A/i.png and B/i.png from one latent each, and a grid of A rows over B rows
    gantry(dir, &["sample", "--run", "straight", "--n", "5", "--out", "pairs.png", "--out-dir", "pairs"]).ok();
    for side in ["A", "B"] {
        for i in 0..5 {
            assert!(dir.join(format!("pairs/{side}/{i:05}.png")).is_file(), "{side} {i}");
        }
    }
    // 5 pairs in rows of 8: one A row over one B row of 28 px images with 2 px gaps
    let (w, h) = image::open(dir.join("pairs.png")).unwrap().to_rgb8().dimensions();
    assert!(h > 28 * 2 && h < 28 * 3 && w >= 5 * 28, "{w}x{h}");
    gantry(dir, &["interpolate", "--run", "straight", "--rows", "2", "--cols", "4", "--out", "walk.png"]).ok();
    // eval: pixel agreement over 10,000 pairs beside its chance level, and per-domain FCD
    let e = gantry(dir, &["eval", "--run", "straight", "--samples", "200", "--quiet"]).ok().json();
    assert_eq!(e["run_step"], 4);
    assert_eq!(e["transform"], "edges");
    assert_eq!(e["pairs"], 10000);
    for key in ["pixel_agreement", "pixel_agreement_chance"] {
        let v = e[key].as_f64().unwrap_or_else(|| panic!("{key}: {e}"));
        assert!((0.0..=1.0).contains(&v), "{key} {v}");
    }
    assert!(e["a"]["fcd"].is_number() && e["b"]["fcd"].is_number(), "{e}");
    // the same z in a sample and in eval is the same pair: sampling twice gives the same files
    gantry(dir, &["sample", "--run", "straight", "--n", "5", "--out-dir", "again"]).ok();
    assert_eq!(bytes(&dir.join("pairs/B/00003.png")), bytes(&dir.join("again/B/00003.png")));
}

#[test]
fn the_conditional_baseline_trains_on_the_domains_as_classes_and_is_scored_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = domains(dir);
    let mut a = vec!["train", "--preset", "cgan", "--data", &data, "--out", "cgan", "--steps", "2", "--quiet"];
    a.extend_from_slice(&[
        "--set",
        "model.base_channels=8",
        "--set",
        "model.g_fc=16",
        "--set",
        "model.d_fc=16",
        "--set",
        "data.batch_size=4",
    ]);
    gantry(dir, &a).ok();
    // class 0 is domain A, class 1 domain B
    gantry(dir, &["sample", "--run", "cgan", "--n", "4", "--class", "1", "--out", "b.png"]).ok();
    let e = gantry(dir, &["eval", "--run", "cgan", "--samples", "200", "--quiet"]).ok().json();
    assert!(e["pixel_agreement"].is_number() && e["pixel_agreement_chance"].is_number(), "{e}");
}

#[test]
fn cogan_input_errors_name_the_key_or_value() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = domains(dir);
    cogan(dir, &data, "r1", "1", &["--set", "cogan.shared_g=5"]).fails_with("`cogan.shared_g` = 5 is not 0 to 4");
    cogan(dir, &data, "r2", "1", &["--set", "cogan.shared_d=4"]).fails_with("`cogan.shared_d` = 4 is not 0 to 3");
    cogan(dir, &data, "r3", "1", &["--set", "train.critic_steps=2"]).fails_with("`train.critic_steps` does not apply");
    cogan(dir, &data, "r4", "1", &["--set", "data.load_size=64"]).fails_with("set data.load_size = 28");
    assert!(!dir.join("r4/checkpoints").exists(), "nothing was trained");
    cogan(dir, &data, "run", "1", &[]).ok();
    // CoGAN has no encoder
    std::fs::create_dir_all(dir.join("in")).unwrap();
    image::GrayImage::new(28, 28).save(dir.join("in/x.png")).unwrap();
    gantry(dir, &["translate", "--run", "run", "--input", "in", "--out", "o"]).fails_with("has no encoder");
    gantry(dir, &["traverse", "--run", "run", "--out", "t.png"]).fails_with("generates pairs of images");
    gantry(dir, &["sample", "--run", "run", "--class", "1", "--out", "s.png"]).fails_with("takes no class");
    gantry(dir, &["eval", "--run", "run", "--transform", "blur"]).fails_with("--transform `blur` is not one of");
    // pixel agreement asked of data that does not say how its domains relate
    std::fs::remove_file(dir.join("pair/transform.txt")).unwrap();
    gantry(dir, &["eval", "--run", "run", "--pixel-agreement", "--quiet"])
        .fails_with("pass --transform edges|negative");
    std::fs::write(dir.join("pair/transform.txt"), "swirl\n").unwrap();
    gantry(dir, &["eval", "--run", "run", "--quiet"]).fails_with("transform.txt: names `swirl`");
    // and of a run that makes no pairs
    let mnist = dir.join("mnist").display().to_string();
    common::tiny_run(dir, "dcgan", &mnist, "noise", "1", &[]).ok();
    gantry(dir, &["eval", "--run", "noise", "--transform", "edges"]).fails_with("need a run that generates a pair");
}

#[test]
fn domain_adaptation_trains_a_shared_head_beside_its_source_only_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = domains(dir);
    cogan(dir, &data, "da", "4", &["--labels-from", "a"]).ok();
    let ck = dir.join("da/checkpoints/step-0000004");
    for f in ["source_only", "opt_source_only"] {
        assert!(ck.join(format!("{f}.safetensors")).is_file(), "{f}");
    }
    let m = common::metrics(&dir.join("da"));
    for key in
        ["d/class", "d/feature_gap", "source_only/class", "eval/adaptation_accuracy", "eval/source_only_accuracy"]
    {
        assert!(m.iter().any(|l| l[key].is_number()), "{key} logged");
    }
    // resume is bit-exact with the baseline's network and optimiser too
    cogan(dir, &data, "da2", "2", &["--labels-from", "a"]).ok();
    cogan(dir, &data, "da2", "4", &["--labels-from", "a", "--resume"]).ok();
    for f in ["d", "source_only", "opt_source_only"] {
        let name = format!("checkpoints/step-0000004/{f}.safetensors");
        assert_eq!(bytes(&dir.join("da").join(&name)), bytes(&dir.join("da2").join(&name)), "{f} differs after resume");
    }
    let e = gantry(dir, &["eval", "--run", "da", "--samples", "200", "--quiet"]).ok().json();
    assert_eq!(e["labels_from"], "a");
    for key in ["adaptation_accuracy", "source_only_accuracy", "source_accuracy"] {
        let v = e[key].as_f64().unwrap_or_else(|| panic!("{key}: {e}"));
        assert!((0.0..=1.0).contains(&v), "{key} {v}");
    }
    // UNIT takes it the same way (its adaptation preset adds the discriminators' feature
    // matching), reports it beside its translation figures, and resumes bit-exactly
    let unit = |out: &str, steps: &str, more: &[&str]| {
        let mut args = vec!["train", "--preset", "unit-digits-da", "--data", &data, "--out", out, "--steps", steps];
        args.extend(["--quiet", "--labels-from", "b", "--set", "unit.ch=4", "--set", "unit.d_ch=4"]);
        args.extend(["--set", "data.batch_size=2"]);
        args.extend(more);
        gantry(dir, &args)
    };
    unit("unit", "4", &[]).ok();
    let m = common::metrics(&dir.join("unit"));
    for key in ["d/gan", "d/class", "d/feature", "source_only/class"] {
        assert!(m.iter().any(|l| l[key].is_number()), "{key} logged");
    }
    let e = gantry(dir, &["eval", "--run", "unit", "--quiet"]).ok().json();
    assert!(e["adaptation_accuracy"].is_number() && e["a2b"]["cycle_l1"].is_number(), "{e}");
    unit("unit2", "2", &[]).ok();
    unit("unit2", "4", &["--resume"]).ok();
    for f in ["g", "d", "source_only", "opt_d", "opt_source_only"] {
        let name = format!("checkpoints/step-0000004/{f}.safetensors");
        assert_eq!(
            bytes(&dir.join("unit").join(&name)),
            bytes(&dir.join("unit2").join(&name)),
            "UNIT {f} differs after resume"
        );
    }
    unit("x0", "1", &["--set", "unit.d_shared=0"])
        .fails_with("`unit.feature_weight` compares the discriminators' shared features");
    unit("x0", "1", &["--set", "unit.d_init=pytorch"]).fails_with("`unit.d_init` must be `dcgan` or `xavier`");
    // bad input: an unknown domain, a method without a head, data without labels, no shared layer
    cogan(dir, &data, "x1", "1", &["--labels-from", "c"]).fails_with("--labels-from `c` is not one of a, b");
    let mnist = dir.join("mnist").display().to_string();
    common::tiny_run(dir, "dcgan", &mnist, "x2", "1", &["--labels-from", "a"])
        .fails_with("this run is method = \"gan\"");
    cogan(dir, &data, "x3", "1", &["--labels-from", "a", "--set", "cogan.shared_d=1"]).fails_with("share at least 2");
    std::fs::remove_file(dir.join("pair/labelsA.csv")).unwrap();
    std::fs::remove_file(dir.join("pair/labelsB.csv")).unwrap();
    cogan(dir, &data, "x4", "1", &["--labels-from", "a"]).fails_with("needs labels: the data has no labelsA.csv");
}
