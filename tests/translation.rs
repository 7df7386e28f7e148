//! Translation methods end to end: train on tiny generated domains, resume bit-exactly with a
//! half-full image pool, translate an image larger than the crop and not square, evaluate, and
//! refuse bad input with the file, key or value named.
mod common;
use common::{gantry, tiny_run};
use std::path::Path;

/// A tiny digits-edges folder (random 28×28 "digits" from a generated IDX set).
fn domains(dir: &Path) -> String {
    common::tiny_domains(dir, 44)
}

/// Narrow networks, batch 2, a pool of 10: training stays quick.
const SMALL: &[&str] = &[
    "--set",
    "cyclegan.pool_size=10",
    "--set",
    "train.checkpoint_every=2",
    "--set",
    "train.sample_every=2",
    "--set",
    "train.decay_start=2",
];

fn cyclegan(dir: &Path, data: &str, out: &str, steps: &str, extra: &[&str]) -> common::Run {
    let mut a = vec!["train", "--preset", "cyclegan-small", "--data", data, "--out", out, "--steps", steps, "--quiet"];
    a.extend_from_slice(common::CYCLEGAN_TINY);
    a.extend_from_slice(SMALL);
    a.extend_from_slice(extra);
    gantry(dir, &a)
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn cyclegan_trains_resumes_bit_exactly_translates_and_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = domains(dir);
    cyclegan(dir, &data, "straight", "4", &[]).ok();
    let run = dir.join("straight");
    assert!(run.join("samples/step-0000002.png").is_file());
    let ck = run.join("checkpoints/step-0000004");
    for f in ["g", "d", "opt_g", "opt_d", "state"] {
        assert!(ck.join(format!("{f}.safetensors")).is_file(), "{f}");
    }
    let m = common::metrics(&run);
    for key in ["d/loss", "d_a/loss", "g/loss", "g/cycle_a", "g/idt_b"] {
        assert!(m.iter().any(|l| l[key].is_number()), "{key} logged");
    }
    // the pool is half full after 2 steps of batch 2 (4 of 10) and is checkpointed with them
    cyclegan(dir, &data, "resumed", "2", &[]).ok();
    cyclegan(dir, &data, "resumed", "4", &["--resume"]).ok();
    for f in ["g", "d", "opt_g", "opt_d", "state"] {
        let name = format!("checkpoints/step-0000004/{f}.safetensors");
        assert_eq!(bytes(&run.join(&name)), bytes(&dir.join("resumed").join(&name)), "{f} differs after resume");
    }
    // translate: a 52 × 40 grey image, larger than the 28 px crop and not square
    std::fs::create_dir_all(dir.join("in")).unwrap();
    image::GrayImage::from_fn(52, 40, |x, y| image::Luma([((x * y) % 256) as u8]))
        .save(dir.join("in/odd.png"))
        .unwrap();
    let w = gantry(dir, &["translate", "--run", "straight", "--input", "in", "--out", "out", "--direction", "b2a"])
        .ok()
        .json();
    assert_eq!(w["images"], 1);
    assert_eq!(image::open(dir.join("out/odd.png")).unwrap().to_luma8().dimensions(), (52, 40));
    assert!(std::fs::read_to_string(dir.join("out/index.html")).unwrap().contains("input/odd.png"));
    // eval: both directions, paired figures from the truth folders, accuracies from the labels
    let e = gantry(dir, &["eval", "--run", "straight", "--quiet"]).ok().json();
    assert_eq!(e["run_step"], 4);
    for d in ["a2b", "b2a"] {
        for key in ["cycle_l1", "l1_to_truth", "psnr", "translation_accuracy", "baseline_accuracy", "fcd"] {
            assert!(e[d][key].is_number(), "{d}.{key}: {e}");
        }
        assert_eq!(e[d]["split"], "test");
    }
    // and a run is evaluated the same way at the checkpoint asked for
    let e2 = gantry(dir, &["eval", "--run", "straight", "--step", "2", "--quiet"]).ok().json();
    assert_eq!(e2["run_step"], 2);
}

#[test]
fn translation_input_errors_name_the_file_key_or_value() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = domains(dir);
    // the folder layout
    std::fs::create_dir_all(dir.join("bare")).unwrap();
    cyclegan(dir, "bare", "r1", "1", &[]).fails_with("has no trainA/ folder");
    std::fs::create_dir_all(dir.join("half/trainA")).unwrap();
    std::fs::create_dir_all(dir.join("half/trainB")).unwrap();
    image::GrayImage::new(28, 28).save(dir.join("half/trainA/a.png")).unwrap();
    cyclegan(dir, "half", "r2", "1", &[]).fails_with("trainB: holds no .png or .jpg images");
    std::fs::write(dir.join("half/trainB/cut.png"), &bytes(&dir.join("half/trainA/a.png"))[..30]).unwrap();
    cyclegan(dir, "half", "r3", "1", &[]).fails_with("cut.png: is not a readable PNG or JPEG image");
    assert!(!dir.join("r3/checkpoints").exists(), "nothing was trained");
    // keys that do not apply
    cyclegan(dir, &data, "r4", "1", &["--set", "model.latent_dim=3"])
        .fails_with("[model] is a section of method = \"gan\"");
    cyclegan(dir, &data, "r5", "1", &["--set", "data.image_size=32"]).fails_with("data.image_size");
    cyclegan(dir, &data, "r6", "1", &["--set", "train.critic_steps=5"])
        .fails_with("`train.critic_steps` does not apply");
    cyclegan(dir, &data, "r7", "1", &["--set", "cyclegan.loss=wasserstein"]).fails_with("cyclegan.loss");
    gantry(dir, &["train", "--preset", "dcgan", "--set", "data.crop_size=24", "--dry-run"])
        .fails_with("data.load_size / crop_size / flip");
    // a translation run to sample, a noise run to translate, an unknown direction, too small
    cyclegan(dir, &data, "run", "1", &[]).ok();
    gantry(dir, &["sample", "--run", "run", "--out", "s.png"]).fails_with("use `gantry translate");
    let mnist = dir.join("mnist").display().to_string();
    tiny_run(dir, "dcgan", &mnist, "noise", "1", &[]).ok();
    std::fs::create_dir_all(dir.join("in")).unwrap();
    image::GrayImage::new(28, 28).save(dir.join("in/x.png")).unwrap();
    gantry(dir, &["translate", "--run", "noise", "--input", "in", "--out", "o"])
        .fails_with("does not translate images");
    gantry(dir, &["translate", "--run", "run", "--input", "in", "--out", "o", "--direction", "sideways"])
        .fails_with("--direction `sideways` is not one of a2b, b2a");
    image::GrayImage::new(6, 30).save(dir.join("in/y.png")).unwrap();
    gantry(dir, &["translate", "--run", "run", "--input", "in", "--out", "o"]).fails_with("y.png: is 6x30");
    gantry(dir, &["translate", "--run", "run", "--input", "nothing", "--out", "o"]).fails_with("nothing: no such file");
    // a truth folder whose names do not match the test folder
    std::fs::rename(dir.join("pair/truthB/00000.png"), dir.join("pair/truthB/other.png")).unwrap();
    gantry(dir, &["eval", "--run", "run", "--quiet"]).fails_with("has no 00000.png");
}

#[test]
fn every_translation_preset_trains_a_few_steps() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let images = domains(dir);
    gantry(dir, &["data", "make", "modes5-modes10", "--out", "toy", "--limit", "100"]).ok();
    let listing = gantry(dir, &["presets"]).ok().stdout();
    let presets: Vec<&str> = listing
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .filter(|p| ["cyclegan", "discogan", "unit", "cogan"].iter().any(|m| p.starts_with(m)))
        .collect();
    assert!(presets.len() >= 10, "{listing}");
    for p in presets {
        let (data, narrow): (&str, &[&str]) = match p {
            _ if p.ends_with("-toy") => ("toy", &["--set", "data.batch_size=16"]),
            _ if p.starts_with("cyclegan") => (
                &images,
                &[
                    "--set",
                    "cyclegan.ngf=2",
                    "--set",
                    "cyclegan.ndf=2",
                    "--set",
                    "cyclegan.blocks=1",
                    "--set",
                    "data.batch_size=1",
                ],
            ),
            _ if p.starts_with("unit") => {
                (&images, &["--set", "unit.ch=2", "--set", "unit.d_ch=2", "--set", "data.batch_size=1"])
            }
            _ if p.starts_with("cogan") => (
                &images,
                &[
                    "--set",
                    "cogan.g_channels=[4,4,4,4]",
                    "--set",
                    "cogan.d_channels=[2,2,4]",
                    "--set",
                    "data.batch_size=2",
                ],
            ),
            _ => (&images, &["--set", "discogan.ngf=2", "--set", "discogan.ndf=2", "--set", "data.batch_size=2"]),
        };
        let out = format!("run-{p}");
        let mut a = vec!["train", "--preset", p, "--data", data, "--out", &out, "--steps", "2", "--quiet"];
        a.extend_from_slice(&["--set", "train.sample_every=2", "--set", "train.checkpoint_every=2"]);
        a.extend_from_slice(narrow);
        let s = gantry(dir, &a).ok().json();
        assert_eq!(s["steps"], 2, "{p}");
        assert!(dir.join(&out).join("samples/step-0000002.png").is_file(), "{p}");
        assert!(dir.join(&out).join("checkpoints/step-0000002/g.safetensors").is_file(), "{p}");
    }
}

#[test]
fn the_reference_preset_resolves_with_its_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = gantry(tmp.path(), &["train", "--preset", "cyclegan", "--dry-run"]).ok().stdout();
    for line in ["method = \"cyclegan\"", "load_size = 286", "crop_size = 256", "blocks = 9", "pool_size = 50"] {
        assert!(out.contains(line), "{line} in\n{out}");
    }
}

#[test]
fn discogan_trains_resumes_bit_exactly_and_its_toy_reports_mode_mapping() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = domains(dir);
    let run = |out: &str, steps: &str, extra: &[&str]| {
        let mut a =
            vec!["train", "--preset", "discogan-digits", "--data", &data, "--out", out, "--steps", steps, "--quiet"];
        a.extend_from_slice(&[
            "--set",
            "discogan.ngf=4",
            "--set",
            "discogan.ndf=4",
            "--set",
            "data.batch_size=4",
            "--set",
            "discogan.curriculum=4",
            "--set",
            "train.checkpoint_every=3",
            "--set",
            "train.sample_every=3",
        ]);
        a.extend_from_slice(extra);
        gantry(dir, &a)
    };
    // six iterations cross the r schedule's switch and both kinds of update
    run("straight", "6", &[]).ok();
    run("resumed", "3", &[]).ok();
    run("resumed", "6", &["--resume"]).ok();
    for f in ["g", "d", "opt_g", "opt_d"] {
        let name = format!("checkpoints/step-0000006/{f}.safetensors");
        assert_eq!(bytes(&dir.join("straight").join(&name)), bytes(&dir.join("resumed").join(&name)), "{f}");
    }
    let m = common::metrics(&dir.join("straight"));
    let rates: Vec<f64> = m.iter().filter_map(|l| l["g/rate"].as_f64()).collect();
    assert_eq!(rates.first(), Some(&0.01));
    assert_eq!(rates.last(), Some(&0.5));
    // images resized to 32 for the three stride-2 levels; too few levels for the size is refused
    run("deep", "1", &["--set", "discogan.depth=5"]).fails_with("discogan.depth = 5 needs images");
    let e = gantry(dir, &["eval", "--run", "straight", "--quiet"]).ok().json();
    assert!(e["a2b"]["translation_accuracy"].is_number() && e["b2a"]["l1_to_truth"].is_number(), "{e}");
    // the 2-D toy: point domains, its baselines, the mode figures
    gantry(dir, &["data", "make", "modes5-modes10", "--out", "toy", "--limit", "200"]).ok();
    for arch in ["discogan", "gan"] {
        let out = format!("toy-{arch}");
        gantry(
            dir,
            &[
                "train",
                "--preset",
                "discogan-toy",
                "--data",
                "toy",
                "--out",
                &out,
                "--steps",
                "4",
                "--quiet",
                "--set",
                &format!("discogan.arch=\"{arch}\""),
            ],
        )
        .ok();
        let e = gantry(dir, &["eval", "--run", &out, "--quiet"]).ok().json();
        let hit = e["a2b"]["modes_hit"].as_u64().unwrap();
        assert!((1..=5).contains(&hit), "{e}");
        assert_eq!(e["a2b"]["mapping"].as_array().unwrap().len(), 5);
        assert!(e["b2a"]["mapping_purity"].is_number());
    }
    gantry(dir, &["train", "--preset", "cyclegan-toy", "--data", "toy", "--out", "toy-cg", "--steps", "2", "--quiet"])
        .ok();
    assert!(dir.join("toy-cg/samples/step-0000002.png").is_file());
}

#[test]
fn unit_trains_resumes_bit_exactly_translates_and_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = domains(dir);
    let run = |out: &str, steps: &str, extra: &[&str]| {
        let mut a =
            vec!["train", "--preset", "unit-digits", "--data", &data, "--out", out, "--steps", steps, "--quiet"];
        a.extend_from_slice(&[
            "--set",
            "unit.ch=4",
            "--set",
            "unit.d_ch=4",
            "--set",
            "data.batch_size=2",
            "--set",
            "train.checkpoint_every=2",
            "--set",
            "train.sample_every=2",
        ]);
        a.extend_from_slice(extra);
        gantry(dir, &a)
    };
    run("straight", "4", &[]).ok();
    let m = common::metrics(&dir.join("straight"));
    for key in ["d/loss", "g/loss", "g/recon", "g/cycle", "g/kl", "g/cycle_kl", "g/gan_ab"] {
        assert!(m.iter().any(|l| l[key].is_number()), "{key} logged");
    }
    run("resumed", "2", &[]).ok();
    run("resumed", "4", &["--resume"]).ok();
    for f in ["g", "d", "opt_g", "opt_d"] {
        let name = format!("checkpoints/step-0000004/{f}.safetensors");
        assert_eq!(
            bytes(&dir.join("straight").join(&name)),
            bytes(&dir.join("resumed").join(&name)),
            "{f} differs after resume"
        );
    }
    // translate an image larger than the training size and not square, then score both ways
    std::fs::create_dir_all(dir.join("in")).unwrap();
    image::GrayImage::from_fn(50, 37, |x, y| image::Luma([((x + y) % 256) as u8]))
        .save(dir.join("in/odd.png"))
        .unwrap();
    gantry(dir, &["translate", "--run", "straight", "--input", "in", "--out", "out"]).ok();
    assert_eq!(image::open(dir.join("out/odd.png")).unwrap().to_luma8().dimensions(), (50, 37));
    let e = gantry(dir, &["eval", "--run", "straight", "--quiet"]).ok().json();
    for d in ["a2b", "b2a"] {
        for key in ["cycle_l1", "l1_to_truth", "translation_accuracy", "baseline_accuracy"] {
            assert!(e[d][key].is_number(), "{d}.{key}: {e}");
        }
    }
    run("bad", "1", &["--set", "unit.gen_front=2"]).fails_with("`unit.gen_front` (2) must equal unit.enc_front (3)");
}
