//! Boundary Equilibrium GAN (Berthelot, Schumm & Metz 2017), as the carpedm20/BEGAN-tensorflow
//! code trains it. The discriminator is an autoencoder (`nets::began`) and an image's score is
//! its reconstruction error L(v) = mean|v − D(v)|. Per iteration, from one forward pass of D over
//! [G(z); x]:
//!
//! - L_D = L(x) − k_t·L(G(z)) for D, L_G = L(G(z)) for G, both gradients taken at the same
//!   weights and then applied (the reference runs both optimisers in one step);
//! - k_{t+1} = clip(k_t + λ_k·(γ·L(x) − L(G(z))), 0, 1), k₀ = 0: the controller that keeps
//!   E[L(G(z))] = γ·E[L(x)], γ the diversity ratio;
//! - M_global = L(x) + |γ·L(x) − L(G(z))|, the paper's convergence measure, logged as
//!   `d/m_global`, k_t as `d/k`, and L(x), L(G(z)) as `d/real`, `d/fake`.
//!
//! z ~ U(−1, 1)⁶⁴, batch 16, Adam 8e-5 β (0.5, 0.999), both learning rates halved every
//! `began.lr_halve_every` steps but not below `began.lr_floor`. k_t lives on the device (no host
//! read per step) and is saved with the checkpoint.
//!
//! `began.arch` picks the networks: `paper` (the reference's ELU autoencoder and decoder,
//! `nets::began`) or `dcgan` (the DCGAN generator with batch norm and tanh, and an autoencoder
//! discriminator made of the DCGAN discriminator's and generator's layers without norm,
//! `began.width` their base channels): BEGAN on the networks the other losses of a comparison
//! share, as Lucic et al. (2018) run it.
use super::gan::{noise_grid_inputs, trainable, write_noise_grid};
use super::{Batch, DataInfo, Method, Metrics, NoiseSampler, Spec, section};
use crate::config::Config;
use crate::data::{Data, Shape};
use crate::error::{Error, Result};
use crate::nets::began::{self, AutoEncoder, DcganAutoEncoder, Decoder};
use crate::nets::{ModelConfig, Norm, dcgan};
use crate::rng;
use crate::train::checkpoint::Saved;
use crate::train::optim::Optimizer;
use crate::train::schedule::halved;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

pub const SPEC: Spec = Spec {
    name: "began",
    about: "BEGAN: autoencoder discriminator, L1 reconstruction losses, the k_t equilibrium controller",
    batch: Batch::Examples,
    sections: || [section("began", &BeganConfig::default())].into_iter().collect(),
    check,
    build: |cfg, info, device| Ok(Box::new(Began::new(cfg, info, device)?)),
};

/// Which networks BEGAN trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BeganArch {
    /// The reference's: ELU decoder generator, ELU autoencoder discriminator (`nets::began`).
    Paper,
    /// The DCGAN generator and an autoencoder of DCGAN layers (`nets::began::DcganAutoEncoder`).
    Dcgan,
}

/// The `[began]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BeganConfig {
    /// The networks: the reference's (`paper`) or the DCGAN ones (`dcgan`).
    pub arch: BeganArch,
    /// Dimensions of z ~ U(−1, 1).
    pub latent_dim: i64,
    /// Dimensions of the autoencoder's code h.
    pub hidden: i64,
    /// Channels n of the convolutions (the reference's 128; 64 is common on small images).
    pub width: i64,
    /// γ = E[L(G(z))] / E[L(x)] the controller aims at: lower trades diversity for quality.
    pub gamma: f64,
    /// λ_k, the controller's gain.
    pub lambda_k: f64,
    /// Both learning rates halve every this many steps (0: never).
    pub lr_halve_every: u64,
    /// The halving stops at this learning rate.
    pub lr_floor: f64,
}

impl Default for BeganConfig {
    fn default() -> Self {
        BeganConfig {
            arch: BeganArch::Paper,
            latent_dim: 64,
            hidden: 64,
            width: 128,
            gamma: 0.5,
            lambda_k: 0.001,
            lr_halve_every: 100_000,
            lr_floor: 2e-5,
        }
    }
}

fn check(cfg: &Config) -> Result<()> {
    let c: BeganConfig = cfg.section("began")?;
    let bad = |key: &str, why: String| Err(Error::Config(format!("`began.{key}` {why}")));
    for (key, v) in [("latent_dim", c.latent_dim), ("hidden", c.hidden), ("width", c.width)] {
        if !(1..=65_536).contains(&v) {
            return bad(key, format!("must be 1 to 65,536, not {v}"));
        }
    }
    if !(c.gamma > 0.0 && c.gamma <= 1.0) {
        return bad("gamma", format!("must lie in (0, 1] (the paper tries 0.3 to 0.7), not {}", c.gamma));
    }
    if !(c.lambda_k > 0.0 && c.lambda_k <= 1.0) {
        return bad("lambda_k", format!("must lie in (0, 1], not {}", c.lambda_k));
    }
    if c.lr_floor < 0.0 {
        return bad("lr_floor", format!("must be ≥ 0, not {}", c.lr_floor));
    }
    cfg.refuse_unread(
        &["train.critic_steps", "train.ema", "train.lr_schedule", "train.decay_start"],
        "BEGAN updates D and G once each per step from one forward pass, keeps no weight average, and halves its learning rates every began.lr_halve_every steps",
    )
}

/// The generator of `began.arch`.
enum Generator {
    Paper(Box<Decoder>),
    Dcgan(Box<dcgan::Generator>),
}

/// The autoencoder discriminator of `began.arch`.
enum Discriminator {
    Paper(Box<AutoEncoder>),
    Dcgan(Box<DcganAutoEncoder>),
}

impl Generator {
    fn forward(&self, z: &Tensor, train: bool) -> Tensor {
        use tch::nn::ModuleT;
        match self {
            Generator::Paper(g) => g.forward(z),
            Generator::Dcgan(g) => g.forward_t(z, train),
        }
    }
}

impl Discriminator {
    #[cfg(test)]
    fn forward(&self, x: &Tensor) -> Tensor {
        match self {
            Discriminator::Paper(d) => d.forward(x),
            Discriminator::Dcgan(d) => d.forward(x),
        }
    }

    fn errors(&self, x: &Tensor) -> Tensor {
        match self {
            Discriminator::Paper(d) => d.errors(x),
            Discriminator::Dcgan(d) => d.errors(x),
        }
    }
}

/// The DCGAN generator's settings under `began.arch = "dcgan"`: the DCGAN defaults (batch norm,
/// ReLU, tanh) with `began.width` base channels and z of `began.latent_dim`.
pub fn dcgan_generator(c: &BeganConfig) -> ModelConfig {
    ModelConfig { base_channels: c.width, latent_dim: c.latent_dim, g_norm: Norm::Batch, ..Default::default() }
}

pub struct Began {
    cfg: Config,
    c: BeganConfig,
    device: Device,
    g_vs: VarStore,
    g: Generator,
    d_vs: VarStore,
    d: Discriminator,
    opt_g: Optimizer,
    opt_d: Optimizer,
    /// k_t, a scalar on the device.
    k: Tensor,
}

impl Began {
    pub fn new(cfg: &Config, info: DataInfo, device: Device) -> Result<Began> {
        let c: BeganConfig = cfg.section("began")?;
        let Shape::Image { channels, size } = info.shape else {
            return Err(Error::Config("method = \"began\" trains on images; the data are points".into()));
        };
        // the reference's Xavier weights, or the DCGAN initialisation of the networks it borrows
        let initialise = |vs: &VarStore| match c.arch {
            BeganArch::Paper => began::initialise(vs),
            BeganArch::Dcgan => crate::nets::initialise(vs, crate::nets::Init::Dcgan),
        };
        rng::seed_torch(cfg.seed, rng::stream::INIT, 0);
        let g_vs = VarStore::new(device);
        let g = match c.arch {
            BeganArch::Paper => Generator::Paper(Box::new(Decoder::new(&g_vs.root(), c.latent_dim, c.width, channels, size)?)),
            BeganArch::Dcgan => Generator::Dcgan(Box::new(dcgan::Generator::new(&dcgan_generator(&c), info.shape, g_vs.root())?)),
        };
        initialise(&g_vs);
        rng::seed_torch(cfg.seed, rng::stream::INIT, 1);
        let d_vs = VarStore::new(device);
        let d = match c.arch {
            BeganArch::Paper => Discriminator::Paper(Box::new(AutoEncoder::new(&d_vs.root(), c.hidden, c.width, channels, size)?)),
            BeganArch::Dcgan => Discriminator::Dcgan(Box::new(DcganAutoEncoder::new(&d_vs.root(), c.hidden, c.width, info.shape)?)),
        };
        initialise(&d_vs);
        Ok(Began {
            // the DCGAN generator's batch-norm statistics are buffers, not parameters
            opt_g: Optimizer::new(&cfg.train, trainable(&g_vs)),
            opt_d: Optimizer::new(&cfg.train, trainable(&d_vs)),
            k: Tensor::zeros([], (Kind::Float, device)),
            cfg: cfg.clone(),
            c,
            device,
            g_vs,
            g,
            d_vs,
            d,
        })
    }

    /// A learning rate at `step`: halved every `lr_halve_every` steps, not below the floor
    /// (a base already below it stays).
    pub fn lr(&self, base: f64, step: u64) -> f64 {
        halved(base, step, self.c.lr_halve_every, self.c.lr_floor)
    }
}


/// One controller update: k + λ_k·(γ·L(x) − L(G(z))), clipped to [0, 1].
pub fn next_k(k: &Tensor, real: &Tensor, fake: &Tensor, gamma: f64, lambda_k: f64) -> Tensor {
    (k + (real * gamma - fake) * lambda_k).clamp(0.0, 1.0)
}

/// The convergence measure L(x) + |γ·L(x) − L(G(z))|.
pub fn m_global(real: &Tensor, fake: &Tensor, gamma: f64) -> Tensor {
    real + (real * gamma - fake).abs()
}

impl Saved for Began {
    fn stores(&self) -> Vec<(&'static str, &VarStore)> {
        vec![("g", &self.g_vs), ("d", &self.d_vs)]
    }

    fn optimizers(&mut self) -> Vec<(&'static str, &mut Optimizer)> {
        vec![("g", &mut self.opt_g), ("d", &mut self.opt_d)]
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        vec![("k".into(), self.k.shallow_clone())]
    }

    fn load_state(&mut self, saved: &BTreeMap<String, Tensor>) -> Result<()> {
        let k = saved.get("k").ok_or_else(|| {
            Error::Usage("holds no k_t (`k`); it was not written by a BEGAN run of this gantry".into())
        })?;
        if k.numel() != 1 || !k.is_floating_point() {
            return Err(Error::Usage(format!("its k_t has shape {:?} and kind {:?}, not one float", k.size(), k.kind())));
        }
        self.k = k.to_kind(Kind::Float).to_device(self.device).reshape([]);
        Ok(())
    }
}

impl Method for Began {
    fn train_step(&mut self, step: u64, data: &Data) -> Metrics {
        let n = self.cfg.data.batch_size;
        let x = data.one().batch(step, n, self.cfg.seed);
        let z = self.latents(n);
        let fake = self.g.forward(&z, true);
        // one pass of D over [G(z); x], as the reference; no batch norm, so rows are independent
        let errors = self.d.errors(&Tensor::cat(&[&fake, &x], 0));
        let loss_fake = errors.narrow(0, 0, n).mean(Kind::Float);
        let loss_real = errors.narrow(0, n, n).mean(Kind::Float);
        let loss_d = &loss_real - &self.k * &loss_fake;
        // both gradients at the present weights, then both updates
        let d_params = self.opt_d.params();
        let g_params = self.opt_g.params();
        let grads_d = crate::dist::gradients(&loss_d, &d_params, true);
        let grads_g = crate::dist::gradients(&loss_fake, &g_params, false);
        let t = &self.cfg.train;
        let (lr_d, lr_g) = (self.lr(t.d_lr, step), self.lr(t.g_lr, step));
        self.opt_d.update(&grads_d, lr_d);
        self.opt_g.update(&grads_g, lr_g);
        // the controller sees the global batch's losses, so that every rank of a data-parallel run
        // keeps the same k_t
        let (real, fake) = match crate::dist::average(&[loss_real.detach(), loss_fake.detach()]).as_slice() {
            [r, f] => (r.shallow_clone(), f.shallow_clone()),
            _ => unreachable!("two losses in, two out"),
        };
        let k = self.k.shallow_clone();
        self.k = tch::no_grad(|| next_k(&self.k, &real, &fake, self.c.gamma, self.c.lambda_k));
        vec![
            ("d/loss", loss_d.detach()),
            ("d/real", real.shallow_clone()),
            ("d/fake", fake.shallow_clone()),
            ("g/loss", fake.shallow_clone()),
            ("d/k", k),
            ("d/m_global", m_global(&real, &fake, self.c.gamma)),
        ]
    }

    fn grid_inputs(&self, _data: &Data, n: i64) -> Tensor {
        noise_grid_inputs(self, n)
    }

    fn write_grid(&self, inputs: &Tensor, data: &Data, path: &Path, seed: u64) -> Result<()> {
        write_noise_grid(self, inputs, data, path, seed)
    }

    fn noise(&self) -> Option<&dyn NoiseSampler> {
        Some(self)
    }
}

impl NoiseSampler for Began {
    fn generate(&self, z: &Tensor) -> Tensor {
        // the generator's last layer is linear, as the reference's; images are clipped to range
        tch::no_grad(|| self.g.forward(&z.to_device(self.device), false)).clamp(-1.0, 1.0)
    }

    fn stages(&self) -> Vec<crate::nets::Stage<'_>> {
        use crate::nets::{Stage, Staged};
        let mut s = match &self.g {
            Generator::Paper(g) => g.stages(),
            Generator::Dcgan(g) => g.stages(),
        };
        s.push(Stage::new("clip", |x| x.clamp(-1.0, 1.0)));
        s
    }

    fn latents(&self, n: i64) -> Tensor {
        crate::dist::draw(n, |n| Tensor::rand([n, self.c.latent_dim], (Kind::Float, self.device)) * 2.0 - 1.0)
    }

    fn prior(&self) -> &'static str {
        "uniform"
    }

    /// Minus each image's reconstruction error: higher is more like the data.
    fn critic(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| -self.d.errors(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Sources;

    fn began(sets: &[&str]) -> Began {
        let src = Sources {
            preset: Some("began".into()),
            file: None,
            sets: sets.iter().map(|s| s.to_string()).chain(["began.width=8".into()]).collect(),
        };
        let cfg = super::super::resolve(&src).unwrap();
        Began::new(&cfg, DataInfo { shape: Shape::Image { channels: 1, size: 28 }, classes: 0, shape_b: None }, Device::Cpu)
            .unwrap()
    }

    #[test]
    fn the_controller_by_hand() {
        // k = 0.3, L(x) = 0.2, L(G(z)) = 0.05, γ = 0.5, λ_k = 0.001:
        // 0.3 + 0.001·(0.5·0.2 − 0.05) = 0.30005; M_global = 0.2 + |0.1 − 0.05| = 0.25
        let s = |v: f64| Tensor::from(v);
        let k = next_k(&s(0.3), &s(0.2), &s(0.05), 0.5, 0.001).double_value(&[]);
        assert!((k - 0.30005).abs() < 1e-12, "{k}");
        assert!((m_global(&s(0.2), &s(0.05), 0.5).double_value(&[]) - 0.25).abs() < 1e-12);
        // clipped to [0, 1] both ways
        assert_eq!(next_k(&s(0.0), &s(0.0), &s(1.0), 0.5, 0.1).double_value(&[]), 0.0);
        assert_eq!(next_k(&s(0.99995), &s(1.0), &s(0.0), 0.5, 0.001).double_value(&[]), 1.0);
    }

    #[test]
    fn learning_rates_halve_to_the_floor() {
        assert_eq!(halved(8e-5, 99_999, 100_000, 2e-5), 8e-5);
        assert_eq!(halved(8e-5, 100_000, 100_000, 2e-5), 4e-5);
        assert_eq!(halved(8e-5, 250_000, 100_000, 2e-5), 2e-5);
        assert_eq!(halved(8e-5, 900_000, 100_000, 2e-5), 2e-5);
        assert_eq!(halved(8e-5, 900_000, 0, 2e-5), 8e-5);
    }

    #[test]
    fn one_step_matches_the_losses_by_hand_and_moves_k() {
        let mut m = began(&["data.batch_size=4"]);
        // the losses of a step, recomputed from the same draws before the update
        let x = Tensor::rand([4, 1, 28, 28], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        let data = Data::One(crate::data::Dataset::from_tensors("t", x.shallow_clone(), None));
        rng::seed_torch(0, rng::stream::STEP, 0);
        let batch = data.one().batch(0, 4, m.cfg.seed);
        let z = m.latents(4);
        let g = tch::no_grad(|| m.g.forward(&z, true));
        let want_real = tch::no_grad(|| (m.d.forward(&batch) - &batch).abs().mean(Kind::Float)).double_value(&[]);
        let want_fake = tch::no_grad(|| (m.d.forward(&g) - &g).abs().mean(Kind::Float)).double_value(&[]);
        rng::seed_torch(0, rng::stream::STEP, 0);
        let metrics: BTreeMap<&str, f64> = m.train_step(0, &data).into_iter().map(|(k, v)| (k, v.double_value(&[]))).collect();
        assert!((metrics["d/real"] - want_real).abs() < 1e-6, "{metrics:?} vs {want_real}");
        assert!((metrics["d/fake"] - want_fake).abs() < 1e-6, "{metrics:?} vs {want_fake}");
        // k₀ = 0, so L_D = L(x); then k moves by λ_k(γ·L(x) − L(G(z))), clipped at 0
        assert_eq!(metrics["d/k"], 0.0);
        assert!((metrics["d/loss"] - want_real).abs() < 1e-6);
        let k1 = (0.001 * (0.5 * metrics["d/real"] - metrics["d/fake"])).clamp(0.0, 1.0);
        assert!((m.k.double_value(&[]) - k1).abs() < 1e-9, "{} vs {k1}", m.k.double_value(&[]));
        // k is saved and restored as training state
        let saved: BTreeMap<String, Tensor> = m.state().into_iter().collect();
        let mut other = began(&["data.batch_size=4"]);
        other.load_state(&saved).unwrap();
        assert_eq!(other.k.double_value(&[]), m.k.double_value(&[]));
        assert!(other.load_state(&BTreeMap::new()).is_err());
    }

    #[test]
    fn the_generator_learns_through_the_discriminator_only_in_its_own_update() {
        let mut m = began(&["data.batch_size=4"]);
        let x = Tensor::rand([8, 1, 28, 28], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        let data = Data::One(crate::data::Dataset::from_tensors("t", x, None));
        let g0 = m.g_vs.variables()["fc.weight"].copy();
        let d0 = m.d_vs.variables()["enc.fc.weight"].copy();
        rng::seed_torch(0, rng::stream::STEP, 0);
        let _ = m.train_step(0, &data);
        assert!((&m.g_vs.variables()["fc.weight"] - g0).abs().max().double_value(&[]) > 0.0);
        assert!((&m.d_vs.variables()["enc.fc.weight"] - d0).abs().max().double_value(&[]) > 0.0);
        assert_eq!(m.generate(&m.latents(3)).size(), [3, 1, 28, 28]);
        assert_eq!(m.critic(&m.generate(&m.latents(3))).size(), [3]);
    }

    #[test]
    fn on_the_dcgan_networks_each_image_is_scored_alone_and_both_players_learn() {
        let mut m = began(&["data.batch_size=4", "began.arch=\"dcgan\"", "began.hidden=16"]);
        // the generator is the DCGAN one (batch norm, tanh), the discriminator has no norm
        let g_names: Vec<String> = m.g_vs.variables().into_keys().collect();
        assert!(g_names.iter().any(|n| n.starts_with("norm_fc")), "{g_names:?}");
        assert!(!m.d_vs.variables().keys().any(|n| n.contains("norm")));
        // one image's reconstruction error is the same alone and inside a batch of others
        let x = Tensor::rand([5, 1, 28, 28], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        let together = tch::no_grad(|| m.d.errors(&x));
        let alone = tch::no_grad(|| m.d.errors(&x.narrow(0, 2, 1)));
        assert!((together.double_value(&[2]) - alone.double_value(&[0])).abs() < 1e-6);
        // the decoder's last layer is linear: reconstructions are not confined to (−1, 1) by a tanh
        let mut bias = m.d_vs.variables()["dec.out.bias"].shallow_clone();
        let d_out = bias.copy();
        tch::no_grad(|| bias.copy_(&Tensor::from_slice(&[5.0f32])));
        assert!(tch::no_grad(|| m.d.forward(&x)).min().double_value(&[]) > 1.0);
        tch::no_grad(|| bias.copy_(&d_out));
        let data = Data::One(crate::data::Dataset::from_tensors("t", x, None));
        let g0 = m.g_vs.variables()["fc.weight"].copy();
        let d0 = m.d_vs.variables()["enc.out.weight"].copy();
        rng::seed_torch(0, rng::stream::STEP, 0);
        let metrics = m.train_step(0, &data);
        assert!(metrics.iter().all(|(_, v)| v.double_value(&[]).is_finite()));
        assert!((&m.g_vs.variables()["fc.weight"] - g0).abs().max().double_value(&[]) > 0.0);
        assert!((&m.d_vs.variables()["enc.out.weight"] - d0).abs().max().double_value(&[]) > 0.0);
        // samples come from G in evaluation mode (running statistics), bounded by its tanh
        let s = m.generate(&m.latents(3));
        assert_eq!(s.size(), [3, 1, 28, 28]);
        assert!(s.abs().max().double_value(&[]) <= 1.0);
    }
}
