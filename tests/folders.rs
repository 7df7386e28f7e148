//! Image folders as training data, and `gantry data export`, through the real binary.
mod common;
use common::*;
use std::path::Path;

fn same_weights(a: &Path, b: &Path) {
    for f in ["g.safetensors", "d.safetensors", "opt_g.safetensors", "opt_d.safetensors"] {
        let (x, y) = (std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap());
        assert!(x == y, "{f} differs between {} and {}", a.display(), b.display());
    }
}

#[test]
fn an_exported_tree_trains_exactly_as_its_idx_files() {
    let t = tempfile::tempdir().unwrap();
    let idx = tiny_idx_named(t.path(), "idx", 40, true, 7, true);
    let done = gantry(t.path(), &["data", "export", idx.to_str().unwrap(), "--out", "tree"]).ok().json();
    assert_eq!(done["counts"], serde_json::json!([40, 20]));
    assert_eq!(done["classes"][9], "9");
    assert!(t.path().join("tree/train/3/00003.png").is_file());
    assert!(t.path().join("tree/test/0/00000.png").is_file());
    // a second export into the same folder is refused, the tree untouched
    gantry(t.path(), &["data", "export", idx.to_str().unwrap(), "--out", "tree"]).fails_with("not empty");
    let set = ["--set", "train.checkpoint_every=6"];
    tiny_run(t.path(), "dcgan", idx.to_str().unwrap(), "from-idx", "6", &set).ok();
    tiny_run(t.path(), "dcgan", "tree", "from-tree", "6", &set).ok();
    same_weights(
        &t.path().join("from-idx/checkpoints/step-0000006"),
        &t.path().join("from-tree/checkpoints/step-0000006"),
    );
    // the labels come from the class folders: a conditional preset trains on the tree, and
    // an unconditional one says that they go unused
    tiny_run(t.path(), "acgan", "tree", "acgan", "2", &[]).ok();
    let r = tiny_run_loud(t.path(), "dcgan", "tree", "noted", "1", &["--set", "data.batch_size=4"]).ok();
    assert!(r.stderr().contains("10 class folders") && r.stderr().contains("not used"), "{}", r.stderr());
    // the evaluation classifier trains on the tree's train/ and scores on its test/
    let c = gantry(t.path(), &["classifier", "train", "--data", "tree", "--out", "c.safetensors", "--epochs", "1"])
        .ok()
        .json();
    assert!(c["test_accuracy"].as_f64().is_some());
}

fn png(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_pixel(w, h, image::Rgb(rgb)).save(path).unwrap();
}

#[test]
fn a_colour_folder_of_mixed_sizes_trains_at_the_asked_size() {
    let t = tempfile::tempdir().unwrap();
    for i in 0..24u32 {
        // photographs of various shapes, in nested folders
        png(&t.path().join(format!("photos/set{}/img{i}.jpg", i % 3)), 40 + i * 3, 30 + i, [(i * 20) as u8, 90, 200]);
    }
    tiny_run(t.path(), "dcgan", "photos", "run", "2", &["--set", "data.image_size=16"]).ok();
    let cfg = std::fs::read_to_string(t.path().join("run/config.toml")).unwrap();
    assert!(cfg.contains("image_size = 16"));
    gantry(t.path(), &["sample", "--run", "run", "--n", "4", "--out", "s.png"]).ok();
    let s = image::open(t.path().join("s.png")).unwrap();
    assert!(s.color().has_color(), "colour data give colour samples");
    // without a size, images of several sizes are refused with what to set
    tiny_run(t.path(), "dcgan", "photos", "run2", "1", &[]).fails_with("data.image_size");
    // the run can be scored: the classifier reads the folder at one side, holding out a sixth
    // of its one split (three class folders here) as its test set
    let e = gantry(t.path(), &["eval", "--run", "run", "--samples", "20", "--quiet"]).ok().json();
    assert!(e["fcd"].as_f64().is_some_and(f64::is_finite), "{e}");
}

#[test]
fn bad_folders_are_refused_with_what_to_do() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("empty/sub")).unwrap();
    tiny_run(t.path(), "dcgan", "empty", "r1", "1", &[]).fails_with("holds no .png");
    // one class only for a conditional preset
    for i in 0..4 {
        png(&t.path().join(format!("one/cats/{i}.png")), 16, 16, [1, 2, 3]);
    }
    tiny_run(t.path(), "acgan", "one", "r2", "1", &[]).fails_with("one class only");
    // a truncated file: named, or skipped with a count under data.skip_bad
    for i in 0..4 {
        png(&t.path().join(format!("bad/{i}.png")), 16, 16, [200, 2, 3]);
    }
    let full = std::fs::read(t.path().join("bad/0.png")).unwrap();
    std::fs::write(t.path().join("bad/9.png"), &full[..full.len() - 20]).unwrap();
    tiny_run(t.path(), "dcgan", "bad", "r3", "1", &[]).fails_with("9.png");
    let r = tiny_run_loud(
        t.path(),
        "dcgan",
        "bad",
        "r4",
        "1",
        &["--set", "data.batch_size=4", "--set", "data.skip_bad=true"],
    )
    .ok();
    assert!(r.stderr().contains("skipped 1 unreadable"), "{}", r.stderr());
    // export of points
    gantry(t.path(), &["data", "export", "ring8", "--out", "x"]).fails_with("only image sets");
}
