//! The one generic training loop and what it needs: optimisers with saveable state, schedules,
//! the weight average, checkpoints.
pub mod checkpoint;
pub mod ema;
pub mod fault;
pub mod guard;
pub mod optim;
pub mod profile;
pub mod run;
pub mod schedule;
pub mod tensorboard;

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    Adam,
    Rmsprop,
    Sgd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    Constant,
    /// Constant until `decay_start`, then linear to 0 at the last step.
    Linear,
}

/// What a run does when it diverges (a loss, weight or optimiser value not finite, or a loss
/// beyond `divergence_bound`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDivergence {
    /// Stop, keeping the last good checkpoint and writing nothing after it.
    Stop,
    /// Restore the last good checkpoint, multiply every learning rate by
    /// `rollback_lr_factor` and go on; at most `max_rollbacks` times, then stop.
    Rollback,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Discriminator (critic) updates before each generator update.
    pub critic_steps: i64,
    pub optimizer: OptimizerKind,
    pub g_lr: f64,
    pub d_lr: f64,
    /// Adam's β1 (also SGD's and RMSProp's momentum when non-zero).
    pub beta1: f64,
    /// Adam's β2.
    pub beta2: f64,
    pub eps: f64,
    /// RMSProp's smoothing constant α.
    pub rmsprop_alpha: f64,
    /// L2 weight decay λ as torch.optim applies it: λθ is added to each gradient (DiscoGAN
    /// 1e-5, CoGAN 5e-4, UNIT 1e-4); 0 turns it off.
    pub weight_decay: f64,
    pub lr_schedule: Schedule,
    /// Generator step at which the linear schedule starts decaying.
    pub decay_start: u64,
    /// Decay of an exponential moving average of the generator's weights, used for sampling and
    /// evaluation (for method = "semi": of the discriminator's weights, which classify); 0 turns
    /// it off.
    pub ema: f64,
    pub log_every: u64,
    pub sample_every: u64,
    pub checkpoint_every: u64,
    /// Checkpoints kept; older ones are deleted.
    pub keep_checkpoints: u64,
    /// Images in each progress grid under `samples/`.
    pub grid_samples: i64,
    /// Evaluate every this many steps, logged as `eval/...` in metrics.jsonl; 0 turns it off.
    pub eval_every: u64,
    /// Samples per evaluation during training.
    pub eval_samples: i64,
    /// Classifier file for image metrics during training; empty uses the cached one for the data.
    pub classifier: String,
    /// On CUDA, only deterministic kernels (cuDNN's deterministic algorithms, no autotuning,
    /// ATen's deterministic mode), so a seed gives the same weights to the bit on the same GPU.
    /// `false` lets libtorch pick faster nondeterministic kernels. No effect on CPU, whose
    /// kernels are deterministic; not part of the configuration's hash.
    pub deterministic: bool,
    /// A run diverges when a step's loss is not finite or exceeds this in magnitude (checked on
    /// the device every step, read at logging and checkpoint steps), or when at those steps a
    /// network weight does, or an optimiser value is not finite; 0 checks finiteness only. What
    /// follows is `on_divergence`'s. Not part of the configuration's hash.
    pub divergence_bound: f64,
    /// `stop` or `rollback` (see `OnDivergence`). Not part of the configuration's hash: it
    /// changes nothing until a run diverges, and a checkpoint records the lowered rates.
    pub on_divergence: OnDivergence,
    /// Factor on the learning rates at each rollback, in (0, 1).
    pub rollback_lr_factor: f64,
    /// Rollbacks allowed in a run before it stops.
    pub max_rollbacks: u64,
    /// Write TensorBoard event files under `RUN/tb/`: every scalar of `metrics.jsonl` and the
    /// sample grids, at the same steps. Not part of the configuration's hash.
    pub tensorboard: bool,
    /// Rewrite `RUN/report.html` (`gantry report`) at every sample step and at the end, so the
    /// run can be watched in a browser. Not part of the configuration's hash.
    pub report: bool,
    /// `fp32`, or `bf16`: each training step under autocast to bfloat16 (matrix products and
    /// convolutions in bf16; losses, normalisations, the gradient penalty's norms, the weights and
    /// the optimiser's state in fp32), on a CPU with bf16 instructions (AVX512-BF16 or AMX) or a
    /// GPU of compute capability 8.0 or later. Sampling and evaluation stay in fp32.
    pub precision: Precision,
    /// CPU threads for this run (0: `--threads`, else OMP_NUM_THREADS, else every core). Not part
    /// of the configuration's hash; a resumed run with another count can differ in the last bits.
    pub threads: usize,
    /// Data-parallel training: seconds a rank waits for the others (at the rendezvous and in each
    /// collective) before the job ends, naming the rank. Not part of the configuration's hash.
    pub dist_timeout: u64,
    /// Data-parallel training: the capacity in MiB of the gradient buckets whose sums over the
    /// ranks start while the backward pass runs (PyTorch DDP's `bucket_cap_mb`; the first bucket
    /// holds at most 1 MiB); 0 sums every gradient in one collective after it. Not part of the
    /// configuration's hash.
    pub dist_bucket_mb: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    Fp32,
    Bf16,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            critic_steps: 1,
            optimizer: OptimizerKind::Adam,
            g_lr: 2e-4,
            d_lr: 2e-4,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
            rmsprop_alpha: 0.99,
            weight_decay: 0.0,
            lr_schedule: Schedule::Constant,
            decay_start: 0,
            ema: 0.0,
            log_every: 50,
            sample_every: 500,
            checkpoint_every: 1000,
            keep_checkpoints: 3,
            deterministic: true,
            grid_samples: 64,
            eval_every: 0,
            eval_samples: 1000,
            classifier: String::new(),
            divergence_bound: 1e8,
            on_divergence: OnDivergence::Stop,
            rollback_lr_factor: 0.5,
            max_rollbacks: 3,
            tensorboard: false,
            report: true,
            precision: Precision::Fp32,
            threads: 0,
            dist_timeout: 300,
            dist_bucket_mb: 25.0,
        }
    }
}

impl TrainConfig {
    /// Checks values the types alone do not.
    pub fn check(&self) -> Result<()> {
        let bad = |key: &str, why: &str| Err(Error::Config(format!("`train.{key}` {why}")));
        if self.critic_steps < 1 {
            return bad("critic_steps", "must be at least 1");
        }
        if self.dist_timeout < 1 {
            return bad("dist_timeout", "must be at least 1 (seconds)");
        }
        if !self.dist_bucket_mb.is_finite() || self.dist_bucket_mb < 0.0 {
            return bad("dist_bucket_mb", "must be 0 (one sum after the backward pass) or a positive size in MiB");
        }
        for (key, v) in
            [("g_lr", self.g_lr), ("d_lr", self.d_lr), ("eps", self.eps), ("weight_decay", self.weight_decay)]
        {
            if !v.is_finite() || v < 0.0 {
                return bad(key, &format!("must be a finite number ≥ 0, not {v}"));
            }
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            return bad("beta1 / train.beta2", "must lie in [0, 1)");
        }
        if !(0.0..1.0).contains(&self.ema) {
            return bad("ema", "must lie in [0, 1) (0 turns the average off)");
        }
        if self.log_every == 0 {
            return bad("log_every", "must be at least 1");
        }
        if self.keep_checkpoints == 0 {
            return bad("keep_checkpoints", "must be at least 1");
        }
        if self.eval_every > 0 && self.eval_samples < crate::metrics::image::MIN_SAMPLES {
            return bad("eval_samples", &format!("must be at least {}", crate::metrics::image::MIN_SAMPLES));
        }
        if !self.divergence_bound.is_finite() || self.divergence_bound < 0.0 {
            return bad(
                "divergence_bound",
                &format!("must be a finite number ≥ 0 (0: finiteness only), not {}", self.divergence_bound),
            );
        }
        if !(self.rollback_lr_factor > 0.0 && self.rollback_lr_factor < 1.0) {
            return bad(
                "rollback_lr_factor",
                &format!(
                    "must lie strictly between 0 and 1 (each rollback multiplies the learning rates by it), not {}",
                    self.rollback_lr_factor
                ),
            );
        }
        if !(1..=4096).contains(&self.grid_samples) {
            return bad("grid_samples", &format!("must be 1 to 4,096, not {}", self.grid_samples));
        }
        Ok(())
    }

    /// Refuses `precision = "bf16"` where `device` has no bf16 arithmetic.
    pub fn check_precision(&self, device: tch::Device) -> Result<()> {
        if self.precision == Precision::Fp32 {
            return Ok(());
        }
        let (has, what) = if device.is_cuda() {
            (crate::ops::cuda_has_bf16(), "this GPU has no bfloat16 arithmetic (compute capability 8.0 or later has)")
        } else {
            (cpu_has_bf16(), "this CPU has no bfloat16 instructions (AVX512-BF16 or AMX on x86-64, BF16 on Arm)")
        };
        if has {
            Ok(())
        } else {
            Err(Error::Config(format!(
                "`train.precision = \"bf16\"`: {what}; train with precision = \"fp32\" here, or on a device that has them"
            )))
        }
    }
}

/// Whether the processor lists bfloat16 instructions in /proc/cpuinfo (Linux).
pub fn cpu_has_bf16() -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| lists_bf16(&info))
}

/// Whether a /proc/cpuinfo text lists bfloat16 instructions: x86-64's `avx512_bf16` or
/// `amx_bf16` flags, or Arm's `bf16` feature.
fn lists_bf16(info: &str) -> bool {
    info.lines()
        .filter(|l| l.starts_with("flags") || l.starts_with("Features"))
        .flat_map(|l| l.split_whitespace())
        .any(|f| matches!(f, "avx512_bf16" | "amx_bf16" | "bf16"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn bf16_instructions_are_read_from_cpuinfo() {
        assert!(super::lists_bf16("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 amx_tile\n"));
        assert!(super::lists_bf16("Features\t: fp asimd bf16 i8mm\n"));
        assert!(!super::lists_bf16("flags\t\t: fpu sse avx2 avx512f avx512_vnni\n"));
        // a flag's name inside another line is not a flag
        assert!(!super::lists_bf16("model name\t: bf16 emulator\nflags\t: sse\n"));
    }
}
