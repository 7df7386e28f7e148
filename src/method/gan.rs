//! The GAN family's training step, shared by GAN, DCGAN, LSGAN, WGAN, WGAN-GP, hinge and f-GAN:
//! they differ only in the adversarial objective and the critic's regulariser. The conditional
//! GAN, AC-GAN and InfoGAN are their own methods (`cgan.rs`, `acgan.rs`, `infogan.rs`): each is
//! a `Variant` of this step that says what G's input holds beside z, what D sees and what D's
//! extra outputs are trained to predict.
//!
//! Goodfellow et al. 2014, Algorithm 1: for each generator update, `critic_steps` (k)
//! discriminator updates, each on a fresh real batch and fresh noise; then one generator
//! update on fresh noise. WGAN clips the critic's weights after each of its updates; WGAN-GP
//! adds λ·E[(‖∇D(x̂)‖ − 1)²] to the critic's loss.
//!
//! The improved techniques of Salimans et al. 2016 are switches on this step: one-sided label
//! smoothing (the real target α in D's cross-entropy), feature matching (G minimises
//! ‖E f(x) − E f(G(z))‖² on a D layer instead of its adversarial loss), historical averaging
//! (λ‖θ − θ̄‖² added to either player's loss, θ̄ the running mean of its past parameters) and
//! minibatch discrimination (a layer of the discriminator, `nets::minibatch`).
//!
//! Gradients are taken (`dist::gradients`) for exactly the variables being updated, so the
//! generator's step computes no discriminator weight gradients and vice versa.
use super::codes::Codes;
use super::{Batch, DataInfo, Figures, FigureContext, Method, Metrics, NoiseSampler, Spec, section};
use crate::config::Config;
use crate::data::{Data, Shape};
use crate::error::{Error, Result};
use crate::nets::{self, CriticNet, GeneratorKind, ModelConfig, Net, Norm};
use crate::objective::{Adversarial, LossKind, ObjectiveConfig, improved, penalty};
use crate::rng;
use crate::train::checkpoint::{Saved, named_variables};
use crate::train::{ema::Ema, optim::Optimizer, schedule};
use crate::viz;
use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Tensor};

pub const SPEC: Spec = Spec {
    name: "gan",
    about: "the GAN family: one generator from noise, one critic, any adversarial loss",
    batch: Batch::Examples,
    sections: family_sections,
    check: |cfg| {
        check_family(cfg)?;
        Ok(())
    },
    build: |cfg, info, device| Ok(Box::new(Gan::new(cfg, info, Box::new(Plain), device)?)),
};

/// The sections of the GAN family: `[model]` (the networks) and `[objective]` (the loss).
pub fn family_sections() -> toml::Table {
    [section("model", &ModelConfig::default()), section("objective", &ObjectiveConfig::default())]
        .into_iter()
        .collect()
}

/// Checks `[model]` and `[objective]` as every GAN-family method reads them, and returns them.
pub fn check_family(cfg: &Config) -> Result<(ModelConfig, ObjectiveConfig)> {
    let m: ModelConfig = cfg.section("model")?;
    let o: ObjectiveConfig = cfg.section("objective")?;
    let bad = |key: &str, why: &str| Err(Error::Config(format!("`{key}` {why}")));
    if !(1..=65_536).contains(&m.latent_dim) {
        return bad("model.latent_dim", "must be 1 to 65,536");
    }
    if m.g_hidden.iter().chain(&m.d_hidden).any(|&w| w < 1) {
        return bad("model.g_hidden / model.d_hidden", "widths must be at least 1");
    }
    if m.maxout_pieces < 1 {
        return bad("model.maxout_pieces", "must be at least 1");
    }
    if m.base_channels < 1 {
        return bad("model.base_channels", "must be at least 1");
    }
    if o.gp_weight < 0.0 || o.clip < 0.0 {
        return bad("objective.gp_weight / objective.clip", "must not be negative");
    }
    if o.gp_weight > 0.0 && m.d_norm == Norm::Batch {
        return bad(
            "model.d_norm",
            "cannot be `batch` with a gradient penalty (batch norm mixes the samples whose gradients are penalised); use `layer` or `none`",
        );
    }
    if o.real_target != 1.0 && !matches!(o.loss, LossKind::Minimax | LossKind::NonSaturating) {
        return bad(
            "objective.real_target",
            "(one-sided label smoothing) applies to the cross-entropy losses `minimax` and `non_saturating` only; the other losses have no probability target to smooth",
        );
    }
    if !(0.0..=1.0).contains(&o.real_target) || o.real_target == 0.0 {
        return bad("objective.real_target", "must lie in (0, 1]");
    }
    if o.g_historical < 0.0 || o.d_historical < 0.0 {
        return bad("objective.g_historical / objective.d_historical", "must not be negative");
    }
    if m.d_norm == Norm::Virtual {
        return bad("model.d_norm", "cannot be `virtual`: virtual batch normalisation is for generators (model.g_norm)");
    }
    if m.g_fc < 0 || m.d_fc < 0 {
        return bad("model.g_fc / model.d_fc", "must be ≥ 0 (0 leaves the layer out)");
    }
    if (m.g_fc > 0 || m.d_fc > 0) && m.arch != nets::Arch::Dcgan {
        return bad(
            "model.g_fc / model.d_fc",
            "are layers of the DCGAN networks; set model.arch = \"dcgan\" or leave them 0 (the MLP's widths are model.g_hidden / model.d_hidden)",
        );
    }
    if !(0.0..1.0).contains(&m.leaky_slope) {
        return bad("model.leaky_slope", "must be in [0, 1)");
    }
    if m.minibatch_kernels < 0 || m.minibatch_dims < 1 {
        return bad("model.minibatch_kernels / model.minibatch_dims", "must be ≥ 0 and ≥ 1");
    }
    if m.minibatch_kernels > 0 && o.gp_weight > 0.0 {
        return bad(
            "model.minibatch_kernels",
            "cannot be combined with a gradient penalty: minibatch discrimination makes each sample's critic value depend on the others",
        );
    }
    if o.feature_matching && m.generator == GeneratorKind::Gaussian {
        return bad("objective.feature_matching", "needs a trained generator");
    }
    if m.generator == GeneratorKind::Gaussian && m.gaussian_std <= 0.0 {
        return bad("model.gaussian_std", "must be positive");
    }
    Ok((m, o))
}

/// Refuses what the conditional variants (cGAN, AC-GAN, InfoGAN) do not combine with.
pub fn check_variant(cfg: &Config, m: &ModelConfig, o: &ObjectiveConfig, minibatch: bool) -> Result<()> {
    if o.gp_weight > 0.0 || o.feature_matching || m.generator == GeneratorKind::Gaussian {
        return Err(Error::Config(format!(
            "method = \"{}\" does not combine with a gradient penalty, feature matching or a fixed generator in this version; use method = \"gan\" for those",
            cfg.method
        )));
    }
    if !minibatch && m.minibatch_kernels > 0 {
        return Err(Error::Config(format!("`model.minibatch_kernels` is not available with method = \"{}\"", cfg.method)));
    }
    Ok(())
}

/// What a GAN-family method adds to the plain step. The defaults are the plain GAN.
pub trait Variant {
    /// Width appended to z in G's input (a one-hot class, InfoGAN's codes).
    fn latent_extra(&self) -> i64 {
        0
    }
    /// The shape D sees, given the data's.
    fn d_shape(&self, shape: Shape) -> Shape {
        shape
    }
    /// D's outputs beside its source logit, how many of them come from a Q head, and that
    /// head's hidden width.
    fn d_extra(&self) -> (i64, i64, i64) {
        (0, 0, 0)
    }
    /// The part of G's input after z for `n` samples: random when `class` is None and
    /// `in_order` false; else of `class`, or a conditional run's classes in order.
    fn latent_part(&self, n: i64, class: Option<i64>, in_order: bool, device: Device) -> Option<Tensor> {
        let _ = (n, class, in_order, device);
        None
    }
    /// D's source outputs for a real batch (with its labels) and a fake one made from latents
    /// `z`, and the variant's own D loss with its metric key; None for the plain step.
    #[allow(clippy::type_complexity)]
    fn d_outputs(
        &self,
        d: &CriticNet,
        real: &Tensor,
        labels: Option<&Tensor>,
        fake: &Tensor,
        z: &Tensor,
    ) -> Option<(Tensor, Tensor, Option<(&'static str, Tensor)>)> {
        let _ = (d, real, labels, fake, z);
        None
    }
    /// D's input for G's samples made from latents `z`.
    fn d_input(&self, fake: &Tensor, z: &Tensor) -> Tensor {
        let _ = z;
        fake.shallow_clone()
    }
    /// From D's output on G's samples: the source output and the variant's own G loss (with a
    /// metric key when it is logged).
    fn g_terms(&self, out: &Tensor, z: &Tensor) -> (Tensor, Option<(Option<&'static str>, Tensor)>) {
        let _ = z;
        (out.shallow_clone(), None)
    }
    /// The source output in D's output for `x` (critic values in eval mode).
    fn source(&self, out: Tensor) -> Tensor {
        out
    }
    /// Classes the generator is conditioned on.
    fn classes(&self) -> i64 {
        0
    }
    /// InfoGAN's codes.
    fn codes(&self) -> Option<&Codes> {
        None
    }
    /// The variant's own figures (class accuracy, code accuracy).
    fn figures(&self, gan: &Gan, ctx: &FigureContext) -> Result<Figures> {
        let _ = (gan, ctx);
        Ok(vec![])
    }
}

/// The plain GAN: nothing beside z, one source output.
pub struct Plain;
impl Variant for Plain {}

pub struct Gan {
    cfg: Config,
    pub model: ModelConfig,
    objective_cfg: ObjectiveConfig,
    shape: Shape,
    device: Device,
    g_vs: VarStore,
    g: Net,
    d_vs: VarStore,
    pub d: CriticNet,
    /// Running means of each player's past parameters, for historical averaging.
    g_hist: Option<History>,
    d_hist: Option<History>,
    /// Averaged generator (when `train.ema` > 0).
    ema: Option<(VarStore, Net, Ema)>,
    opt_g: Optimizer,
    opt_d: Optimizer,
    d_params: Vec<Tensor>,
    objective: Adversarial,
    /// The critic has no batch norm, so its outputs for one example do not depend on others.
    rows_independent: bool,
    variant: Box<dyn Variant>,
}

/// Historical means of a player's parameters, kept in a store so checkpoints save them.
struct History {
    vs: VarStore,
    means: Vec<Tensor>,
    weight: f64,
}

impl History {
    fn new(params: &[(String, Tensor)], weight: f64, device: Device) -> History {
        let vs = VarStore::new(device);
        let means = params
            .iter()
            .map(|(name, t)| {
                let mut path = vs.root();
                let mut parts: Vec<&str> = name.split('.').collect();
                let leaf = parts.pop().expect("a name");
                for part in parts {
                    path = &path / part;
                }
                let mut m = path.zeros_no_train(leaf, &t.size());
                tch::no_grad(|| m.copy_(t));
                m
            })
            .collect();
        History { vs, means, weight }
    }
}

pub(crate) fn trainable(vs: &VarStore) -> Vec<(String, Tensor)> {
    named_variables(vs).into_iter().filter(|(_, t)| t.requires_grad()).collect()
}

/// The fixed inputs of a noise-fed method's progress grids: its latents in order of class.
pub fn noise_grid_inputs(s: &dyn NoiseSampler, n: i64) -> Tensor {
    s.latents_for(n, None)
}

/// A noise-fed method's progress grid: images in a grid, points as a scatter over the data.
pub fn write_noise_grid(s: &dyn NoiseSampler, z: &Tensor, data: &Data, path: &Path, seed: u64) -> Result<()> {
    let x = s.generate(z);
    match data.shape() {
        Shape::Image { .. } => viz::save_grid(&x, 0, path),
        Shape::Points { .. } => viz::save_scatter(&x, Some(&data.one().reference(x.size()[0], seed)), path),
    }
}

impl Gan {
    pub fn new(cfg: &Config, info: DataInfo, variant: Box<dyn Variant>, device: Device) -> Result<Gan> {
        let shape = info.shape;
        let model: ModelConfig = cfg.section("model")?;
        let objective_cfg: ObjectiveConfig = cfg.section("objective")?;
        // a conditional generator takes [z; extra]
        let mut with_extra = model.clone();
        with_extra.latent_dim += variant.latent_extra();
        let m = &with_extra;
        rng::seed_torch(cfg.seed, rng::stream::INIT, 0);
        let g_vs = VarStore::new(device);
        let g = nets::generator(m, shape, g_vs.root())?;
        nets::initialise(&g_vs, m.init);
        rng::seed_torch(cfg.seed, rng::stream::INIT, 1);
        let d_vs = VarStore::new(device);
        let (extra, q_outputs, q_hidden) = variant.d_extra();
        let d = nets::discriminator(m, variant.d_shape(shape), 1 + extra, q_outputs, q_hidden, d_vs.root())?;
        nets::initialise(&d_vs, m.init);
        let ema = if cfg.train.ema > 0.0 && m.generator == GeneratorKind::Net {
            let vs = VarStore::new(device);
            let net = nets::generator(m, shape, vs.root())?;
            let e = Ema::new(cfg.train.ema, &g_vs, &vs);
            Some((vs, net, e))
        } else {
            None
        };
        let o = &objective_cfg;
        let g_hist = (o.g_historical > 0.0).then(|| History::new(&trainable(&g_vs), o.g_historical, device));
        let d_hist = (o.d_historical > 0.0).then(|| History::new(&trainable(&d_vs), o.d_historical, device));
        let opt_g = Optimizer::new(&cfg.train, trainable(&g_vs));
        let opt_d = Optimizer::new(&cfg.train, trainable(&d_vs));
        let d_params = opt_d.params();
        let plain = variant.latent_extra() == 0 && variant.d_extra() == (0, 0, 0) && variant.d_shape(shape) == shape;
        Ok(Gan {
            cfg: cfg.clone(),
            objective: Adversarial::from_config(o),
            rows_independent: m.d_norm != Norm::Batch && m.minibatch_kernels == 0 && plain,
            objective_cfg,
            model,
            shape,
            device,
            g_vs,
            g,
            d_vs,
            d,
            g_hist,
            d_hist,
            ema,
            opt_g,
            opt_d,
            d_params,
            variant,
        })
    }

    fn lr(&self, base: f64, step: u64) -> f64 {
        let t = &self.cfg.train;
        schedule::lr(base, t.lr_schedule, t.decay_start, step, self.cfg.steps)
    }

    /// Noise and the variant's part for `n` samples.
    fn make_latents(&self, n: i64, class: Option<i64>, in_order: bool) -> Tensor {
        let z = nets::latents(&self.model, self.shape, n, self.device);
        match self.variant.latent_part(n, class, in_order, self.device) {
            Some(extra) => Tensor::cat(&[z, extra], 1),
            None => z,
        }
    }

    /// The run's configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }
}

impl Saved for Gan {
    fn stores(&self) -> Vec<(&'static str, &VarStore)> {
        let mut v = vec![("g", &self.g_vs), ("d", &self.d_vs)];
        if let Some((vs, _, _)) = &self.ema {
            v.push(("g_ema", vs));
        }
        if let Some(h) = &self.g_hist {
            v.push(("g_hist", &h.vs));
        }
        if let Some(h) = &self.d_hist {
            v.push(("d_hist", &h.vs));
        }
        v
    }

    fn optimizers(&mut self) -> Vec<(&'static str, &mut Optimizer)> {
        vec![("g", &mut self.opt_g), ("d", &mut self.opt_d)]
    }
}

impl Method for Gan {
    fn train_step(&mut self, step: u64, data: &Data) -> Metrics {
        let data = data.one();
        let t = &self.cfg.train;
        let o = &self.objective_cfg;
        let n = self.cfg.data.batch_size;
        let mut metrics: Metrics = Vec::with_capacity(8);
        let (d_lr, g_lr) = (self.lr(t.d_lr, step), self.lr(t.g_lr, step));

        // Discriminator: k updates on fresh real batches and fresh noise.
        let mut last_real = None;
        for k in 0..t.critic_steps as u64 {
            let (real, y_real) = data.batch_with_labels(step * t.critic_steps as u64 + k, n, self.cfg.seed);
            last_real = Some(real.shallow_clone());
            let z = self.latents(n);
            let fake = tch::no_grad(|| self.g.forward_t(&z, true));
            let (v, u, gp, extra) = if let Some((v, u, extra)) =
                self.variant.d_outputs(&self.d, &real, y_real.as_ref(), &fake, &z)
            {
                (v, u, None, extra)
            } else if self.rows_independent {
                // Without batch norm the critic treats rows independently, so one forward pass
                // over [real; fake] gives exactly the two separate passes' outputs, in larger and
                // faster matrix products. x̂ keeps its own pass: the penalty's first backward then
                // runs through n rows, not 3n.
                let out = self.d.forward_t(&Tensor::cat(&[&real, &fake], 0), true); // [2n]
                let gp =
                    (o.gp_weight > 0.0).then(|| penalty::gradient_penalty(|x| self.d.forward_t(x, true), &real, &fake));
                (out.narrow(0, 0, n), out.narrow(0, n, n), gp, None)
            } else {
                let v = self.d.forward_t(&real, true); // [n]
                let u = self.d.forward_t(&fake, true); // [n]
                (v, u, None, None)
            };
            let mut loss = self.objective.d_loss_smoothed(&v, &u, o.real_target);
            if let Some((key, lc)) = &extra {
                loss += lc;
                if k + 1 == t.critic_steps as u64 {
                    metrics.push((key, lc.detach()));
                }
            }
            if let Some(h) = &self.d_hist {
                loss += improved::historical_penalty(&self.d_params, &h.means) * h.weight;
            }
            if let Some(gp) = gp {
                loss += &gp * o.gp_weight;
                if k + 1 == t.critic_steps as u64 {
                    metrics.push(("d/gp", gp.detach()));
                }
            }
            let grads = crate::dist::gradients(&loss, &self.d_params, false);
            self.opt_d.update(&grads, d_lr);
            if let Some(h) = &self.d_hist {
                improved::update_means(&self.d_params, &h.means, self.opt_d.steps + 1);
            }
            if o.clip > 0.0 {
                penalty::clip_weights(&self.d_params, o.clip);
            }
            if k + 1 == t.critic_steps as u64 {
                let (v, u) = (v.detach(), u.detach());
                if let (Some(key), Some(est)) = (self.objective.estimate_key(), self.objective.estimate(&v, &u)) {
                    metrics.push((key, est));
                }
                metrics.push(("d/loss", loss.detach()));
                metrics.push(("d/real", v.mean(None)));
                metrics.push(("d/fake", u.mean(None)));
            }
        }

        // Generator: one update on fresh noise (skipped for a fixed generator).
        if !self.opt_g.is_empty() {
            let z = self.latents(n);
            let fake = self.g.forward_t(&z, true);
            let d_in = self.variant.d_input(&fake, &z);
            let (out, fake_features) = self.d.forward_features(&d_in, true);
            let (u, extra) = self.variant.g_terms(&out, &z);
            let mut loss = if o.feature_matching {
                // match the last real batch's activations of the chosen layer
                let real = last_real.expect("at least one critic step");
                let (_, real_features) = tch::no_grad(|| self.d.forward_features(&real, true));
                let i = improved::layer_index(o.feature_layer, fake_features.len());
                improved::feature_matching(&real_features[i], &fake_features[i], o.feature_distance)
            } else {
                self.objective.g_loss(&u)
            };
            if let Some((key, l)) = extra {
                loss += &l;
                if let Some(key) = key {
                    metrics.push((key, l.detach()));
                }
            }
            let g_params = self.opt_g.params();
            if let Some(h) = &self.g_hist {
                loss += improved::historical_penalty(&g_params, &h.means) * h.weight;
            }
            let grads = crate::dist::gradients(&loss, &g_params, false);
            self.opt_g.update(&grads, g_lr);
            if let Some(h) = &self.g_hist {
                improved::update_means(&g_params, &h.means, self.opt_g.steps + 1);
            }
            if let Some((_, _, ema)) = &self.ema {
                ema.update(self.opt_g.steps);
            }
            metrics.push(("g/loss", loss.detach()));
        }
        metrics
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

    fn figures(&self, ctx: &FigureContext) -> Result<Figures> {
        self.variant.figures(self, ctx)
    }
}

impl NoiseSampler for Gan {
    fn generate(&self, z: &Tensor) -> Tensor {
        let g = self.ema.as_ref().map_or(&self.g, |(_, net, _)| net);
        tch::no_grad(|| g.forward_t(z, false))
    }

    fn stages(&self) -> Vec<nets::Stage<'_>> {
        self.ema.as_ref().map_or(&self.g, |(_, net, _)| net).stages()
    }

    fn latents(&self, n: i64) -> Tensor {
        self.make_latents(n, None, false)
    }

    fn latents_for(&self, n: i64, class: Option<i64>) -> Tensor {
        self.make_latents(n, class, true)
    }

    fn classes(&self) -> i64 {
        self.variant.classes()
    }

    fn prior(&self) -> &'static str {
        nets::prior_name(self.model.latent_prior)
    }

    fn critic(&self, x: &Tensor) -> Tensor {
        // point data only (conditional methods need images), so there is no class to feed
        self.variant.source(tch::no_grad(|| self.d.forward_t(x, false)))
    }

    fn critic_estimate(&self, real: &Tensor, fake: &Tensor) -> Option<(&'static str, Tensor)> {
        let key = self.objective.estimate_key()?;
        Some((key, self.objective.estimate(&self.critic(real), &self.critic(fake))?))
    }

    fn codes(&self) -> Option<(&Codes, i64)> {
        self.variant.codes().map(|c| (c, self.model.latent_dim))
    }

    fn code_logits(&self, x: &Tensor) -> Option<Tensor> {
        let codes = self.variant.codes()?;
        let q = tch::no_grad(|| self.d.forward_t(x, false)).narrow(1, 1, codes.width());
        codes.first_logits(&q)
    }
}
