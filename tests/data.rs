//! `gantry data make`: the built-in two-domain sets, written from a tiny IDX folder.
mod common;
use common::{gantry, tiny_idx_named};

fn count(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[test]
fn digit_pairs_are_disjoint_halves_with_truth_and_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mnist = tiny_idx_named(dir, "mnist", 40, true, 3, true);
    let m = mnist.to_str().unwrap();
    let made = gantry(dir, &["data", "make", "digits-edges", "--mnist", m, "--out", "edges"]).ok().json();
    assert_eq!(made["counts"], serde_json::json!([20, 20, 10, 10]), "{made}");
    let e = dir.join("edges");
    for (f, n) in [("trainA", 20), ("trainB", 20), ("testA", 10), ("testB", 10), ("truthA", 10), ("truthB", 10)] {
        assert_eq!(count(&e.join(f)), n, "{f}");
    }
    let labels = std::fs::read_to_string(e.join("labelsA.csv")).unwrap();
    assert!(labels.starts_with("file,label\ntrainA/00000.png,"), "{labels}");
    assert_eq!(labels.lines().count(), 1 + 20 + 10);
    // truthB holds each testA image's edge map: dilate₃ₓ₃(x) − x ≥ 0 and 0 where x is brightest
    let a = image::open(e.join("testA/00000.png")).unwrap().to_luma8();
    let t = image::open(e.join("truthB/00000.png")).unwrap().to_luma8();
    let (i, _) = a.pixels().enumerate().max_by_key(|(_, p)| p.0[0]).unwrap();
    assert_eq!(t.pixels().nth(i).unwrap().0[0], 0, "the brightest pixel of A has no edge above it");
    // the same seed writes the same set; a used folder is refused, nothing overwritten
    gantry(dir, &["data", "make", "digits-edges", "--mnist", m, "--out", "edges"]).fails_with("already holds");
    gantry(dir, &["data", "make", "digits-edges", "--mnist", m, "--out", "again"]).ok();
    assert_eq!(
        std::fs::read(e.join("trainB/00003.png")).unwrap(),
        std::fs::read(dir.join("again/trainB/00003.png")).unwrap()
    );
    let neg =
        gantry(dir, &["data", "make", "digits-negative", "--mnist", m, "--out", "neg", "--limit", "5"]).ok().json();
    assert_eq!(neg["counts"], serde_json::json!([5, 5, 5, 5]));
    let typeset = gantry(dir, &["data", "make", "digits-typeset", "--mnist", m, "--out", "type"]).ok().json();
    assert!(typeset["fonts"].as_array().is_some_and(|f| !f.is_empty()), "{typeset}");
    assert!(!dir.join("type/truthB").exists(), "handwriting has no one true typeset form");
    assert_eq!(count(&dir.join("type/trainB")), 20);
}

#[test]
fn data_make_errors_name_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    gantry(dir, &["data", "make", "digits-cats", "--out", "x"]).fails_with("unknown data set `digits-cats`");
    gantry(dir, &["data", "make", "digits-edges", "--mnist", "nowhere", "--out", "x"]).fails_with("nowhere");
}
