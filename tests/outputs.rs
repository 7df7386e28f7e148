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
