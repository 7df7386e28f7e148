//! Captioned data, the text encoder and StackGAN through the real binary: `gantry data make
//! shapes-captions`, `gantry text train`, both stages a few steps, sampling from captions,
//! resume bit-exact, and the errors a user meets.
mod common;
use common::*;
use std::path::Path;

/// Tiny StackGAN networks on 16 × 16 (Stage I) and 64 × 64 (Stage II) images.
const TINY: &[&str] = &[
    "--set",
    "stackgan.g_width=16",
    "--set",
    "stackgan.d_width=8",
    "--set",
    "stackgan.c_dim=8",
    "--set",
    "stackgan.z_dim=8",
    "--set",
    "data.batch_size=4",
    "--set",
    "train.checkpoint_every=2",
    "--set",
    "train.sample_every=2",
    "--set",
    "train.log_every=1",
    "--set",
    "train.grid_samples=8",
];

/// A 24-scene captioned set and a text encoder of 20 steps on it.
fn setup(dir: &Path) -> (String, String) {
    let made = gantry(dir, &["data", "make", "shapes-captions", "--out", "shapes", "--limit", "24"]).ok().json();
    assert_eq!(made["counts"], serde_json::json!([24, 24]), "{made}");
    let t =
        gantry(dir, &["text", "train", "--data", "shapes", "--out", "text.safetensors", "--steps", "20", "--quiet"])
            .ok()
            .json();
    assert!(t["words"].as_u64().unwrap() > 30, "{t}");
    assert_eq!(t["test_images"], 24);
    ("shapes".into(), format!("stackgan.text_encoder=\"{}\"", dir.join("text.safetensors").display()))
}

fn stage1(dir: &Path, out: &str, steps: &str, encoder: &str, extra: &[&str]) -> Run {
    let mut a = vec!["train", "--preset", "stackgan-1", "--data", "shapes", "--out", out, "--steps", steps, "--quiet"];
    a.extend_from_slice(TINY);
    a.extend_from_slice(&["--set", "data.image_size=16", "--set", encoder]);
    a.extend_from_slice(extra);
    gantry(dir, &a)
}

fn stage2(dir: &Path, out: &str, steps: &str, stage1: &str, extra: &[&str]) -> Run {
    let mut a = vec!["train", "--preset", "stackgan-2", "--data", "shapes", "--out", out, "--steps", steps, "--quiet"];
    a.extend_from_slice(TINY);
    a.extend_from_slice(&["--set", "data.image_size=64", "--set", "stackgan.res_blocks=1", "--stage1", stage1]);
    a.extend_from_slice(extra);
    gantry(dir, &a)
}

fn same_files(a: &Path, b: &Path, names: &[&str]) {
    for n in names {
        assert!(std::fs::read(a.join(n)).unwrap() == std::fs::read(b.join(n)).unwrap(), "{n} differs");
    }
}

#[test]
fn the_captioned_set_holds_images_captions_and_their_meaning() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    gantry(d, &["data", "make", "shapes-captions", "--out", "s", "--limit", "10"]).ok();
    for split in ["train", "test"] {
        let imgs = std::fs::read_dir(d.join("s").join(split).join("images")).unwrap().count();
        assert_eq!(imgs, 10, "{split}");
        let text = std::fs::read_to_string(d.join("s").join(split).join("text/00003.txt")).unwrap();
        assert_eq!(text.lines().count(), 10, "ten captions an image: {text}");
        let scenes = std::fs::read_to_string(d.join("s").join(split).join("scenes.jsonl")).unwrap();
        let first: serde_json::Value = serde_json::from_str(scenes.lines().next().unwrap()).unwrap();
        assert_eq!(first["captions"].as_array().unwrap().len(), 10);
        assert!(first["objects"][0]["colour"].is_string() && first["captions"][0]["mentions"].is_array());
    }
    // the same seed writes the same set
    gantry(d, &["data", "make", "shapes-captions", "--out", "again", "--limit", "10"]).ok();
    same_files(&d.join("s/train"), &d.join("again/train"), &["scenes.jsonl", "images/00007.png", "text/00007.txt"]);
    let img = image::open(d.join("s/train/images/00000.png")).unwrap();
    assert_eq!((img.width(), img.height()), (128, 128));
}

#[test]
fn stackgan_trains_both_stages_samples_and_resumes_bit_exact() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (_, enc) = setup(d);
    let words = gantry(d, &["text", "words", "--encoder", "text.safetensors"]).ok().stdout();
    assert!(words.lines().any(|w| w == "circle") && words.lines().any(|w| w == "left"), "{words}");
    stage1(d, "s1", "4", &enc, &[]).ok();
    let m = metrics(&d.join("s1"));
    let last = m.iter().rev().find(|m| m.get("g/kl").is_some()).unwrap();
    for key in ["d/loss", "d/real", "d/wrong", "d/fake", "g/loss", "g/adversarial", "g/kl"] {
        assert!(last[key].is_number(), "{key}: {last}");
    }
    assert!(d.join("s1/samples/step-0000004.png").is_file());
    // two captions, three samples each: a 3-wide grid of 16-px images; one seed, one picture
    let two = |out: &str| {
        let a = ["sample", "--run", "s1", "--caption", "a small red circle", "--caption", "a big blue box"];
        gantry(d, &[&a[..], &["--n", "3", "--out", out]].concat()).ok();
    };
    two("s1.png");
    let g = image::open(d.join("s1.png")).unwrap();
    assert_eq!((g.width(), g.height()), (3 * 18 + 2, 2 * 18 + 2));
    two("again.png");
    assert!(std::fs::read(d.join("s1.png")).unwrap() == std::fs::read(d.join("again.png")).unwrap());
    std::fs::write(d.join("caps.txt"), "a green triangle above a white letter k\n\na tiny striped orange square\n")
        .unwrap();
    gantry(d, &["sample", "--run", "s1", "--captions", "caps.txt", "--n", "2", "--out-dir", "each"]).ok();
    assert_eq!(std::fs::read_dir(d.join("each")).unwrap().count(), 4);
    // interpolation: two captions walk the text along each row (the noise fixed per row); a
    // caption walked to itself stays put; one caption walks the noise
    let walk = |caps: &[&str], out: &str| {
        let mut a = vec!["interpolate", "--run", "s1", "--rows", "2", "--cols", "4", "--out", out];
        for c in caps {
            a.extend_from_slice(&["--caption", c]);
        }
        gantry(d, &a).ok();
        let g = image::open(d.join(out)).unwrap().to_rgb8();
        assert_eq!(g.dimensions(), (4 * 18 + 2, 2 * 18 + 2));
        // the 16-px cell of row r, column c
        move |r: u32, c: u32| image::imageops::crop_imm(&g, 2 + 18 * c, 2 + 18 * r, 16, 16).to_image().into_raw()
    };
    let moved = walk(&["a small red circle", "a big blue box"], "walk.png");
    let still = walk(&["a small red circle", "a small red circle"], "still.png");
    let noise = walk(&["a small red circle"], "noise.png");
    for r in 0..2 {
        assert_ne!(moved(r, 0), moved(r, 3));
        assert_eq!(still(r, 0), still(r, 3));
        assert_eq!(moved(r, 0), still(r, 0), "both rows start from the first caption and the same noise");
        assert_ne!(noise(r, 0), noise(r, 3));
    }
    gantry(d, &["interpolate", "--run", "s1", "--out", "x.png"]).fails_with("takes one caption");

    // resume: 2 steps then 2 more equal 4 straight, weights and optimiser state
    stage1(d, "split", "2", &enc, &[]).ok();
    let s = stage1(d, "split", "4", &enc, &["--resume"]).ok().json();
    assert_eq!(s["first_step"], 2);
    let files = ["g.safetensors", "d.safetensors", "opt_g.safetensors", "opt_d.safetensors", "state.safetensors"];
    same_files(&d.join("s1/checkpoints/step-0000004"), &d.join("split/checkpoints/step-0000004"), &files);

    // Stage II on the Stage-I run: 4× its side, Stage-I shown beside each refinement; with
    // StackGAN++'s gated conditioning augmentation, so that the exports below check both forms
    let glu = ["--set", "stackgan.ca=\"glu\""];
    stage2(d, "s2", "2", "s1", &glu).ok();
    gantry(d, &["sample", "--run", "s2", "--caption", "a small red circle", "--n", "2", "--out", "s2.png"]).ok();
    let g = image::open(d.join("s2.png")).unwrap();
    assert_eq!((g.width(), g.height()), (4 * 66 + 2, 66 + 2));
    stage2(d, "s2-split", "1", "s1", &glu).ok();
    stage2(d, "s2-split", "2", "s1", &[&glu[..], &["--resume"]].concat()).ok();
    same_files(&d.join("s2/checkpoints/step-0000002"), &d.join("s2-split/checkpoints/step-0000002"), &files);
    // the stackgan-2 preset's discriminator scores realism without the caption too, as the
    // reference's Stage II; Stage I's has the conditional logit only
    let last = metrics(&d.join("s2")).into_iter().rev().find(|m| m.get("g/kl").is_some()).unwrap();
    for key in ["d/real_uncond", "d/fake_uncond"] {
        assert!(last[key].is_number(), "{key}: {last}");
        assert!(m.iter().all(|row| row.get(key).is_none()), "{key} in Stage I's metrics");
    }
    // evaluation: every stage against its captions, with the real and shuffled references
    for side in ["16", "64"] {
        let j = gantry(
            d,
            &[
                "judge",
                "train",
                "--data",
                "shapes",
                "--size",
                side,
                "--out",
                &format!("j{side}.st"),
                "--steps",
                "3",
                "--quiet",
            ],
        )
        .ok()
        .json();
        assert!(j["test"]["found"].is_number(), "{j}");
    }
    let e = gantry(d, &["eval", "--run", "s2", "--samples", "30", "--judge", "j16.st", "--judge", "j64.st", "--quiet"])
        .ok()
        .json();
    assert_eq!(e["caption_samples"], 30, "{e}");
    for key in [
        "caption_attribute_accuracy",
        "caption_colour_accuracy",
        "caption_relation_accuracy",
        "caption_exact",
        "stage1_caption_attribute_accuracy",
        "caption_real_attribute_accuracy",
        "caption_shuffled_attribute_accuracy",
        "fcd",
        "stage1_fcd",
    ] {
        assert!(e[key].is_number(), "{key}: {e}");
    }
    // words seen fewer than twice in the 24 training scenes are read as the unknown word, and counted
    assert!(e["caption_unknown_words"].is_number());
    assert!(d.join("s2/eval/step-0000002.json").is_file());
    gantry(d, &["eval", "--run", "s1", "--samples", "8", "--judge", "j16.st", "--quiet"]).ok();
    // the run samples without its Stage-I run folder
    std::fs::rename(d.join("s1"), d.join("s1-moved")).unwrap();
    gantry(d, &["sample", "--run", "s2", "--caption", "a small red circle", "--n", "2", "--out", "s2b.png"]).ok();
    assert!(std::fs::read(d.join("s2.png")).unwrap() == std::fs::read(d.join("s2b.png")).unwrap());
    exports_draw_in_pytorch_what_gantry_samples(d);
}

/// Both stages exported (TorchScript and plain modules) draw in PyTorch, from the captions'
/// text and gantry's noise, the images `gantry sample` drew.
fn exports_draw_in_pytorch_what_gantry_samples(d: &Path) {
    std::fs::write(d.join("two.txt"), "a small red circle\na green triangle above a white letter k\n").unwrap();
    let p = |name: &str| d.join(name).display().to_string();
    for (run, stages, side) in [("s1-moved", 1, 16), ("s2", 2, 64)] {
        let a = ["sample", "--run", run, "--captions", "two.txt", "--n", "3", "--seed", "5"];
        gantry(d, &[&a[..], &["--npy", &format!("{run}-x.npy"), "--latents-npy", &format!("{run}-z.npy")]].concat())
            .ok();
        let (x, z) = (p(&format!("{run}-x.npy")), p(&format!("{run}-z.npy")));
        let e = gantry(d, &["export", "--run", run, "--out", &format!("{run}.pt")]).ok().json();
        assert_eq!(e["kind"], "captions", "{e}");
        let r =
            python(&["captions", &p(&format!("{run}.pt")), &p(&format!("{run}-text.pt")), &p("two.txt"), "3", &z, &x]);
        // the trace replays gantry's own calls: to float rounding of one thread
        assert!(r["max_abs_diff"].as_f64().unwrap() <= 1e-5, "{run}: {r}");
        assert_eq!(r["shape"], serde_json::json!([6, 3, side, side]), "{r}");
        assert_eq!((r["attributes"]["stages"].as_i64(), r["unknown_refused"].as_bool()), (Some(stages), Some(true)));
        // z 8, then ε 8 per stage
        assert_eq!(r["attributes"]["noise_dim"].as_i64(), Some(8 + 8 * stages));
        gantry(d, &["export", "--run", run, "--out", &format!("{run}-plain.pt"), "--format", "safetensors"]).ok();
        let (py, st) = (p(&format!("{run}-plain.py")), p(&format!("{run}-plain.safetensors")));
        let r = python(&["plain-captions", &py, &st, &p("two.txt"), "3", &z, &x]);
        // idiomatic PyTorch, not a trace: to float rounding (a wrong layer moves images by tenths)
        assert!(r["max_abs_diff"].as_f64().unwrap() <= 1e-4, "{run} plain: {r}");
        let want: Vec<serde_json::Value> =
            [16, 64][..stages as usize].iter().map(|s| serde_json::json!([2, 3, s, s])).collect();
        assert_eq!(r["sample_shapes"], serde_json::Value::Array(want), "{r}");
    }
}

#[test]
fn caption_errors_name_the_file_the_word_or_the_run() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (_, enc) = setup(d);
    stage1(d, "s1", "2", &enc, &[]).ok();
    // words the encoder never saw: named, with the nearest known word
    gantry(d, &["sample", "--run", "s1", "--caption", "a crimson cirle", "--n", "2", "--out", "x.png"])
        .fails_with("never saw `cirle` (did you mean `circle`?), `crimson`");
    gantry(d, &["sample", "--run", "s1", "--caption", " ,. ", "--n", "2", "--out", "x.png"])
        .fails_with("holds no word");
    gantry(d, &["sample", "--run", "s1", "--n", "2", "--out", "x.png"]).fails_with("draws images from captions");
    // a caption folder without gantry's scene records (photographs): R-precision in the text
    // encoder's embedding, FID in Inception's features when asked; no judge
    let scenes = d.join("shapes/test/scenes.jsonl");
    gantry(d, &["judge", "train", "--data", "shapes", "--size", "16", "--out", "j.st", "--steps", "2", "--quiet"]).ok();
    std::fs::rename(&scenes, d.join("kept-scenes.jsonl")).unwrap();
    let e = gantry(d, &["eval", "--run", "s1", "--samples", "12", "--quiet"]).ok().json();
    for key in ["caption_r_precision", "caption_real_r_precision"] {
        let v = e[key].as_f64().unwrap_or(-1.0);
        assert!((0.0..=1.0).contains(&v), "{key}: {e}");
    }
    assert!(e.get("caption_colour_accuracy").is_none() && e.get("judge").is_none(), "{e}");
    let twin = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/reference/inception_twin.py");
    let out = std::process::Command::new("python3").arg(twin).arg(d.join("twin")).output().expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let a =
        ["eval", "--run", "s1", "--samples", "12", "--features", "inception", "--weights", "twin/weights.safetensors"];
    let e = gantry(d, &[&a[..], &["--quiet"]].concat()).ok().json();
    assert!(e["fid"].is_number() && e["inception_score"].is_number() && e["caption_r_precision"].is_number(), "{e}");
    gantry(d, &["eval", "--run", "s1", "--samples", "12", "--judge", "j.st"]).fails_with("has no scenes.jsonl");
    gantry(d, &["eval", "--run", "s1", "--classifier", "c.safetensors"]).fails_with("no class labels");
    std::fs::rename(d.join("kept-scenes.jsonl"), &scenes).unwrap();
    // an image without a caption file, and an empty caption file
    let caption = d.join("shapes/train/text/00005.txt");
    let kept = std::fs::read(&caption).unwrap();
    std::fs::remove_file(&caption).unwrap();
    stage1(d, "bad", "2", &enc, &[]).fails_with("00005.png: has no caption file");
    std::fs::write(&caption, "\n  \n").unwrap();
    stage1(d, "bad", "2", &enc, &[]).fails_with("00005.txt: holds no caption");
    std::fs::write(&caption, kept).unwrap();
    // Stage II on something that is not a Stage-I run
    let idx = tiny_idx(d, 16, false);
    tiny_run(d, "dcgan", idx.to_str().unwrap(), "dc", "1", &[]).ok();
    stage2(d, "s2", "1", "dc", &[]).fails_with("is a `gan` run, not a StackGAN Stage-I run");
    stage2(d, "s2", "1", "nowhere", &[]).fails_with("no run folder there");
    // a Stage-I run of other captions
    gantry(d, &["data", "make", "shapes-captions", "--out", "other", "--limit", "12", "--seed", "3"]).ok();
    let mut a = vec!["train", "--preset", "stackgan-2", "--data", "other", "--out", "s2o", "--steps", "1", "--quiet"];
    let s1 = format!("stackgan.stage1=\"{}\"", d.join("s1").display());
    a.extend_from_slice(TINY);
    a.extend_from_slice(&["--set", "data.image_size=64", "--set", &s1]);
    gantry(d, &a).fails_with("was trained on");
    // the wrong side for Stage II
    stage2(d, "s2w", "1", "s1", &["--set", "data.image_size=32"]).fails_with("set data.image_size = 64");
    // a text encoder of other data
    let other_enc =
        gantry(d, &["text", "train", "--data", "other", "--out", "other.safetensors", "--steps", "2", "--quiet"]);
    other_enc.ok();
    let e = format!("stackgan.text_encoder=\"{}\"", d.join("other.safetensors").display());
    stage1(d, "s1o", "1", &e, &[]).fails_with("was trained on");
    // a judge of other data; --judge on a run without captions; a folder without scene records
    gantry(d, &["judge", "train", "--data", "other", "--size", "16", "--out", "jo.st", "--steps", "2", "--quiet"]).ok();
    gantry(d, &["eval", "--run", "s1", "--samples", "4", "--judge", "jo.st", "--quiet"]).fails_with("was trained on");
    gantry(d, &["eval", "--run", "dc", "--samples", "4", "--judge", "jo.st", "--quiet"])
        .fails_with("--judge scores a text-to-image");
    std::fs::remove_file(d.join("other/train/scenes.jsonl")).unwrap();
    gantry(d, &["judge", "train", "--data", "other", "--size", "16", "--out", "jn.st", "--steps", "2", "--quiet"])
        .fails_with("has no scenes.jsonl");
    // not a captioned folder
    let mut a = vec!["train", "--preset", "stackgan-1", "--data", idx.to_str().unwrap(), "--out", "s1i", "--quiet"];
    a.extend_from_slice(&["--set", "data.image_size=16", "--set", &enc]);
    gantry(d, &a).fails_with("is not a captioned folder");
}
