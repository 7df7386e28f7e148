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
