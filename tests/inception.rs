//! gantry's FID Inception-v3 against its PyTorch twin (bench/reference/inception_twin.py) with
//! the same random weights and batch-norm statistics: features and logits agree to 1e-4.
use gantry::nets::inception::FidInception;
use std::process::Command;
use tch::{Device, Tensor, nn::VarStore};

fn read(path: &std::path::Path, name: &str) -> Tensor {
    Tensor::read_safetensors(path).unwrap().into_iter().find(|(n, _)| n == name).unwrap().1
}

#[test]
fn fid_inception_matches_pytorch_twin() {
    let tmp = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/reference/inception_twin.py");
    let out = Command::new("python3").arg(script).arg(tmp.path()).output().expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let vs = VarStore::new(Device::Cpu);
    let net = FidInception::new(vs.root());
    gantry::train::checkpoint::load_store(&vs, &tmp.path().join("weights.safetensors")).unwrap();
    let x = read(&tmp.path().join("input.safetensors"), "x");
    let (pool, logits) = tch::no_grad(|| net.features_logits(&x));
    let expected = tmp.path().join("expected.safetensors");
    for (got, name) in [(pool, "pool"), (logits, "logits")] {
        let want = read(&expected, name);
        assert_eq!(got.size(), want.size(), "{name}");
        let err = (&got - &want).abs().max().double_value(&[]);
        let scale = want.abs().max().double_value(&[]).max(1.0);
        assert!(err <= 1e-4 * scale, "{name}: max |difference| {err} (scale {scale})");
    }
}

mod common;
use common::*;

#[test]
fn eval_with_inception_features_and_its_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/reference/inception_twin.py");
    let out = Command::new("python3").arg(script).arg(dir.join("twin")).output().expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let data = tiny_idx_named(dir, "a", 24, false, 4, true);
    tiny_run(dir, "dcgan", data.to_str().unwrap(), "r", "1", &[]).ok();
    let e = gantry(
        dir,
        &["eval", "--run", "r", "--samples", "12", "--features", "inception", "--weights", "twin/weights.safetensors"],
    )
    .ok()
    .json();
    assert!(e["fid"].is_number() && e["inception_score"].is_number() && e["kid"].is_number(), "{e}");
    assert!(e["feature_network"].as_str().unwrap().starts_with("pt_inception-2015-12-05:"), "{e}");
    gantry(dir, &["eval", "--run", "r", "--features", "inception"]).fails_with("pt_inception-2015-12-05-6726825d.pth");
    gantry(dir, &["eval", "--run", "r", "--features", "inception", "--weights", "missing.safetensors"])
        .fails_with("convert_inception.py");
    // a weights file of the wrong network
    gantry(
        dir,
        &[
            "classifier",
            "train",
            "--data",
            data.to_str().unwrap(),
            "--out",
            "c.safetensors",
            "--epochs",
            "1",
            "--quiet",
        ],
    )
    .ok();
    gantry(dir, &["eval", "--run", "r", "--features", "inception", "--weights", "c.safetensors"])
        .fails_with("has no variable");
}
