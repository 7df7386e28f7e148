//! Architectures only: a configuration and the data's shape build a generator or a
//! discriminator. No losses and no optimisers live here.
pub mod classifier;
pub mod dcgan;
pub mod inception;
pub mod minibatch;
pub mod mlp;

use crate::config::{Arch, GeneratorKind, Init, ModelConfig, Norm};
use crate::data::Shape;
use crate::error::{Error, Result};
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

/// A network: `forward_t(x, train)`; `train` selects batch statistics in batch norm.
pub type Net = Box<dyn ModuleT>;

/// A discriminator that also shows its hidden activations (for feature matching).
pub trait Critic: std::fmt::Debug + Send {
    /// The output and each hidden layer's activations, first layer first.
    fn forward_features(&self, x: &Tensor, train: bool) -> (Tensor, Vec<Tensor>);

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.forward_features(x, train).0
    }
}

pub type CriticNet = Box<dyn Critic>;

/// A normalisation layer chosen by `Norm`.
#[derive(Debug)]
pub enum NormLayer {
    Batch(nn::BatchNorm),
    Layer(nn::LayerNorm),
}

impl NormLayer {
    /// `shape` is the per-example shape: `[features]` or `[channels, h, w]`.
    pub fn new(p: nn::Path, norm: Norm, shape: &[i64]) -> Option<NormLayer> {
        match norm {
            Norm::None => None,
            Norm::Batch if shape.len() == 1 => {
                Some(NormLayer::Batch(nn::batch_norm1d(p, shape[0], Default::default())))
            }
            Norm::Batch => Some(NormLayer::Batch(nn::batch_norm2d(p, shape[0], Default::default()))),
            Norm::Layer => Some(NormLayer::Layer(nn::layer_norm(p, shape.to_vec(), Default::default()))),
        }
    }
}

impl ModuleT for NormLayer {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            NormLayer::Batch(b) => b.forward_t(x, train),
            NormLayer::Layer(l) => l.forward_t(x, train),
        }
    }
}

/// Applies an optional layer.
pub fn maybe(layer: &Option<NormLayer>, x: Tensor, train: bool) -> Tensor {
    match layer {
        Some(l) => l.forward_t(&x, train),
        None => x,
    }
}

/// A generator with no parameters: `mean + std · z`, z ~ N(0, I) of the data's dimension.
#[derive(Debug)]
pub struct FixedGaussian {
    mean: Tensor,
    std: f64,
}

impl ModuleT for FixedGaussian {
    fn forward_t(&self, z: &Tensor, _train: bool) -> Tensor {
        &self.mean + z * self.std
    }
}

/// Dimension of the generator's input noise.
pub fn latent_dim(cfg: &ModelConfig, shape: Shape) -> i64 {
    match cfg.generator {
        GeneratorKind::Gaussian => shape.numel(),
        GeneratorKind::Net => cfg.latent_dim,
    }
}

/// Noise for `n` samples.
pub fn latents(cfg: &ModelConfig, shape: Shape, n: i64, device: Device) -> Tensor {
    Tensor::randn([n, latent_dim(cfg, shape)], (Kind::Float, device))
}

/// Builds the generator under `p`.
pub fn generator(cfg: &ModelConfig, shape: Shape, p: nn::Path) -> Result<Net> {
    match cfg.generator {
        GeneratorKind::Gaussian => {
            let dim = shape.numel();
            if cfg.gaussian_mean.len() as i64 != dim {
                return Err(Error::Config(format!(
                    "`model.gaussian_mean` has {} values but the data has {dim} dimensions",
                    cfg.gaussian_mean.len()
                )));
            }
            let mean: Vec<f32> = cfg.gaussian_mean.iter().map(|&m| m as f32).collect();
            Ok(Box::new(FixedGaussian { mean: Tensor::from_slice(&mean).to(p.device()), std: cfg.gaussian_std }))
        }
        GeneratorKind::Net => match cfg.arch {
            Arch::Mlp => Ok(Box::new(mlp::Mlp::generator(cfg, shape, p))),
            Arch::Dcgan => Ok(Box::new(dcgan::Generator::new(cfg, shape, p)?)),
        },
    }
}

/// Builds a discriminator with `outputs` logits per example under `p`.
pub fn discriminator(cfg: &ModelConfig, shape: Shape, outputs: i64, p: nn::Path) -> Result<CriticNet> {
    match cfg.arch {
        Arch::Mlp => Ok(Box::new(mlp::Mlp::discriminator(cfg, shape, outputs, p))),
        Arch::Dcgan => Ok(Box::new(dcgan::Discriminator::new(cfg, shape, outputs, p)?)),
    }
}

/// Re-initialises a store's variables by `init` (DCGAN: weights N(0, 0.02), norm scales
/// N(1, 0.02), biases 0). Norm layers are named `norm*`, so their scales are told apart.
pub fn initialise(vs: &nn::VarStore, init: Init) {
    if init == Init::Pytorch {
        return;
    }
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    tch::no_grad(|| {
        for (name, mut t) in vars {
            if !t.requires_grad() {
                continue;
            }
            let leaf = name.rsplit('.').next().unwrap_or("");
            let is_norm = name.rsplit('.').nth(1).is_some_and(|m| m.starts_with("norm"));
            match (leaf, is_norm) {
                ("bias", _) => {
                    let _ = t.zero_();
                }
                ("weight", true) => {
                    let _ = t.normal_(1.0, 0.02);
                }
                ("weight", false) => {
                    let _ = t.normal_(0.0, 0.02);
                }
                _ => {}
            }
        }
    });
}
