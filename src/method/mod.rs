//! Training methods: each owns its networks and optimisers and performs one generator step
//! (with its discriminator steps) as the paper states it. The loop in `train::run` drives any
//! method through this trait and never knows which GAN it trains.
pub mod codes;
pub mod condition;
pub mod gan;
pub mod semi;

use crate::config::Config;
use crate::data::{Dataset, Shape};
use crate::error::Result;
use crate::train::optim::Optimizer;
use tch::nn::VarStore;
use tch::{Device, Tensor};

/// Metric key and a scalar tensor, read from the device only at logging steps.
pub type Metrics = Vec<(&'static str, Tensor)>;

pub trait Method {
    /// One generator update at 0-based `step`, with its discriminator updates.
    fn train_step(&mut self, step: u64, data: &Dataset) -> Metrics;
    /// Networks saved in checkpoints, by file name.
    fn stores(&self) -> Vec<(&'static str, &VarStore)>;
    /// Optimisers saved in checkpoints, by file name.
    fn optimizers(&mut self) -> Vec<(&'static str, &mut Optimizer)>;
    /// Samples for latents `z`, from the averaged generator when there is one, in eval mode.
    fn generate(&self, z: &Tensor) -> Tensor;
    /// Generator inputs for `n` samples (noise, and random classes for conditional methods).
    fn latents(&self, n: i64) -> Tensor;
    /// As `latents`, all of `class` when given; otherwise a conditional run's classes in order.
    fn latents_for(&self, n: i64, class: Option<i64>) -> Tensor {
        let _ = class;
        self.latents(n)
    }
    /// Number of classes the generator is conditioned on (0: unconditional).
    fn classes(&self) -> i64 {
        0
    }
    /// The discriminator's raw output for `x`, in eval mode.
    fn critic(&self, x: &Tensor) -> Tensor;
    /// InfoGAN: its codes and the width of z in front of them.
    fn codes(&self) -> Option<(&codes::Codes, i64)> {
        None
    }
    /// InfoGAN: Q's logits of the first categorical code for images `x`.
    fn code_logits(&self, x: &Tensor) -> Option<Tensor> {
        let _ = x;
        None
    }
    /// Called once before training with the training data; `fresh` is false on resume.
    /// The semi-supervised GAN picks its labelled subset here and, when fresh, initialises its
    /// discriminator from data.
    fn prepare(&mut self, data: &Dataset, fresh: bool) -> Result<()> {
        let _ = (data, fresh);
        Ok(())
    }
    /// Semi-supervised GAN: the discriminator's class logits for images `x`, in eval mode.
    fn classify(&self, x: &Tensor) -> Option<Tensor> {
        let _ = x;
        None
    }
}

/// Builds the method a configuration asks for; `classes` is the data's number of classes (0
/// without labels).
pub fn build(cfg: &Config, shape: Shape, classes: i64, device: Device) -> Result<Box<dyn Method>> {
    match cfg.method {
        crate::config::MethodKind::Semi => Ok(Box::new(semi::Semi::new(cfg, shape, classes, device)?)),
        _ => Ok(Box::new(gan::Gan::new(cfg, shape, classes, device)?)),
    }
}
