//! Counting what a training step asks of libtorch and the GPU, for speed work: with
//! `GANTRY_PROFILE=FROM:TO` in the environment, steps FROM to TO − 1 (counted from 0, as the
//! loop counts them) run under libtorch's profiler, and `RUN/profile.json` gets the counts per
//! step: ATen operators, kernels launched, GPU activities, host synchronisations and copies.
//! `bench/reference/profile_twin.py` counts the PyTorch twins the same way.
use crate::error::{Error, Result, io_err};
use crate::ops::{self, ProfileCounts};
use std::path::Path;

/// The step range `GANTRY_PROFILE` names, if any.
pub fn range_from_env() -> Result<Option<(u64, u64)>> {
    let Ok(text) = std::env::var("GANTRY_PROFILE") else { return Ok(None) };
    let bad = || {
        Error::Usage(format!(
            "GANTRY_PROFILE={text}: expected FROM:TO, two step numbers with FROM < TO (e.g. 10:20); unset it to train without profiling"
        ))
    };
    let (a, b) = text.split_once(':').ok_or_else(bad)?;
    let (a, b): (u64, u64) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
    if a >= b {
        return Err(bad());
    }
    Ok(Some((a, b)))
}

pub fn start(cuda: bool) -> Result<()> {
    ops::profile_start(cuda)
        .map_err(|e| Error::Usage(format!("GANTRY_PROFILE: libtorch's profiler did not start ({e})")))
}

/// Stops the profiler after `steps` steps and writes `path`.
pub fn finish(path: &Path, steps: u64, device: tch::Device) -> Result<ProfileCounts> {
    if let tch::Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
    let c =
        ops::profile_stop().map_err(|e| Error::Usage(format!("GANTRY_PROFILE: libtorch's profiler failed ({e})")))?;
    let per = |n: i64| n as f64 / steps as f64;
    let json = serde_json::json!({
        "steps": steps,
        "totals": c,
        "per_step": {
            "aten_ops": per(c.aten_ops),
            "kernel_launches": per(c.kernel_launches),
            "gpu_activities": per(c.gpu_activities),
            "synchronisations": per(c.synchronisations),
            "copies": per(c.copies),
            "graph_launches": per(c.graph_launches),
        },
    });
    std::fs::write(path, format!("{json:#}\n")).map_err(io_err(path))?;
    Ok(c)
}
