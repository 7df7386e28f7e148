//! Plug & Play Generative Networks (Nguyen, Clune, Bengio, Dosovitskiy & Yosinski 2017), the
//! "noiseless joint PPGN-h" as the Evolving-AI-Lab/ppgn code samples it.
//!
//! A frozen classifier C (gantry's evaluation CNN) gives each image x its code h = C_h(x), the
//! 256 hidden units after ReLU. Training fits a generator G that inverts it, from h to x, with
//! - L_img = mean (G(h) − x)², L_h1 = mean (C_h1(G(h)) − C_h1(x))² (C's last convolution
//!   block), L_h = mean (C_h(G(h)) − h)², and the non-saturating adversarial loss of a DCGAN
//!   discriminator D on images, weighted by `ppgn.image_weight`, `conv_weight`, `code_weight`
//!   and `adversarial_weight`. No noise is added to h (noiseless); D trains as in DCGAN.
//!
//! Sampling runs a chain in h (`ChainSampler`): from h₀ ~ N(0, I),
//!   d = ε1·(C_h(G(h)) − h) + ε2·∂log p(y | G(h))/∂h + N(0, ε3²),
//!   h ← clip(h + s_t·d / mean|d|, 0, 30),
//! the first term being the prior's gradient by the denoising autoencoder h → G → C_h (Alain &
//! Bengio), s_t the step size going linearly from `lr` to `lr_end`, and mean|d| taken per chain
//! (the reference runs one chain at a time). p(y | x) is the softmax of any classifier's logits:
//! the one G inverts, or another (`--condition FILE`, plug and play). The reference back-propagates
//! (1 − p_y) from the class's logit, which leaves out the other classes' share of the softmax;
//! gantry takes the exact gradient of log p(y | x).
//!
//! A run's noise sampler is this chain with the run's `[ppgn]` sampler settings: `latents_for(n,
//! class)` runs n chains and returns the codes they reached, `generate(h)` is G(h).
use super::condition::{class_figures, wanted};
use super::{Batch, ChainOptions, ChainSampler, DataInfo, FigureContext, Figures, Method, Metrics, NoiseSampler, Spec};
use crate::classifier::{self, Classifier, Meta};
use crate::config::Config;
use crate::data::{Data, Dataset, Shape};
use crate::error::{Error, Result};
use crate::metrics::image;
use crate::nets::{self, CriticNet, ModelConfig, Net, classifier::FEATURES};
use crate::objective::adversarial::Adversarial;
use crate::rng;
use super::gan::trainable;
use crate::train::checkpoint::Saved;
use crate::train::optim::Optimizer;
use crate::viz;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

pub const SPEC: Spec = Spec {
    name: "ppgn",
    about: "PPGN: G inverts a frozen classifier's hidden code; samples by a Markov chain in that code, steered by any classifier",
    batch: Batch::Labelled,
    sections: || {
        [super::section("model", &ModelConfig::default()), super::section("ppgn", &PpgnConfig::default())]
            .into_iter()
            .collect()
    },
    check,
    build: |cfg, info, device| Ok(Box::new(Ppgn::new(cfg, info, device)?)),
};

/// The `[ppgn]` section: what G is trained to invert and with which losses, and the chain's
/// default settings (`[ppgn.sampler]`; each can be given at sampling time: `--iterations`,
/// `--eps1` …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PpgnConfig {
    /// A classifier file from `gantry classifier train` trained on this data; empty: the data's
    /// evaluation classifier (cached, trained on first use).
    pub classifier: String,
    pub image_weight: f64,
    pub conv_weight: f64,
    pub code_weight: f64,
    pub adversarial_weight: f64,
    /// The chain's default settings (`[ppgn.sampler]`): sampling only, so not part of the
    /// configuration's hash.
    pub sampler: ChainOptions,
}

impl Default for PpgnConfig {
    fn default() -> Self {
        PpgnConfig {
            classifier: String::new(),
            image_weight: 1.0,
            conv_weight: 0.1,
            code_weight: 0.1,
            adversarial_weight: 0.01,
            sampler: ChainOptions::default(),
        }
    }
}

fn check(cfg: &Config) -> Result<()> {
    let c: PpgnConfig = cfg.section("ppgn")?;
    let m: ModelConfig = cfg.section("model")?;
    for (key, v) in [
        ("image_weight", c.image_weight),
        ("conv_weight", c.conv_weight),
        ("code_weight", c.code_weight),
        ("adversarial_weight", c.adversarial_weight),
    ] {
        if v < 0.0 {
            return Err(Error::Config(format!("`ppgn.{key}` must be ≥ 0, not {v}")));
        }
    }
    c.sampler.check("ppgn.sampler.")?;
    if m.arch != nets::Arch::Dcgan || m.generator != nets::GeneratorKind::Net {
        return Err(Error::Config(
            "PPGN's networks are DCGAN's (`model.arch = \"dcgan\"`, `model.generator = \"net\"`): it generates images".into(),
        ));
    }
    if m.g_norm == nets::Norm::Virtual {
        return Err(Error::Config("`model.g_norm = \"virtual\"` does not apply to PPGN; use batch or none".into()));
    }
    let base = ModelConfig::default();
    for (key, same) in [
        ("latent_dim", m.latent_dim == base.latent_dim),
        ("latent_prior", m.latent_prior == base.latent_prior),
        ("minibatch_kernels", m.minibatch_kernels == base.minibatch_kernels),
    ] {
        if !same {
            return Err(Error::Config(format!(
                "`model.{key}` does not apply to method = \"ppgn\": its generator reads the classifier's {FEATURES} hidden units, not noise; leave it at its default"
            )));
        }
    }
    cfg.refuse_unread(
        &["train.critic_steps", "train.ema"],
        "PPGN updates D and G once each per step and keeps no weight average",
    )
}

/// The chain's update for one iteration: `h + step·d / mean|d|` (per row), clipped to
/// [0, 30], with d = ε1·prior + ε2·condition + noise. A row whose d is all zero stays.
pub fn chain_step(h: &Tensor, prior: &Tensor, condition: &Tensor, noise: &Tensor, o: &ChainOptions, step: f64) -> Tensor {
    let d = prior * o.eps1 + condition * o.eps2 + noise;
    let scale = d.abs().mean_dim(1, true, Kind::Float);
    let scale = scale.where_self(&scale.gt(0.0), &scale.ones_like());
    (h + d / scale * step).clamp(0.0, 30.0)
}

/// The step size of iteration `i` of `o.iterations`: from `lr` to `lr_end` linearly.
pub fn step_size(o: &ChainOptions, i: u64) -> f64 {
    o.lr + (o.lr_end - o.lr) * i as f64 / o.iterations.max(1) as f64
}

/// Runs chains from `h0` for `o.iterations` iterations, with the prior's residual `prior(h)`
/// (C_h(G(h)) − h, no gradient), the condition's gradient `condition(h)` (∂log p(y | G(h))/∂h)
/// and Gaussian noise of standard deviation ε3; calls `snapshot(i, h)` before iteration `i` when
/// `every` divides it, and at the end. Terms whose ε is 0 are not computed.
pub fn run_chain(
    h0: &Tensor,
    o: &ChainOptions,
    prior: &dyn Fn(&Tensor) -> Tensor,
    condition: &dyn Fn(&Tensor) -> Tensor,
    every: u64,
    snapshot: &mut dyn FnMut(u64, &Tensor),
) -> Tensor {
    let mut h = h0.shallow_clone();
    let zero = h0.zeros_like();
    for i in 0..o.iterations {
        if every > 0 && i % every == 0 {
            snapshot(i, &h);
        }
        let p = if o.eps1 != 0.0 { prior(&h) } else { zero.shallow_clone() };
        let c = if o.eps2 != 0.0 { condition(&h) } else { zero.shallow_clone() };
        let noise = if o.eps3 != 0.0 { h.randn_like() * o.eps3 } else { zero.shallow_clone() };
        h = tch::no_grad(|| chain_step(&h, &p, &c, &noise, o, step_size(o, i)));
    }
    snapshot(o.iterations, &h);
    h
}

pub struct Ppgn {
    cfg: Config,
    c: PpgnConfig,
    device: Device,
    shape: Shape,
    g_vs: VarStore,
    g: Net,
    d_vs: VarStore,
    d: CriticNet,
    opt_g: Optimizer,
    opt_d: Optimizer,
    /// C, frozen: the code G inverts and the prior's encoder. Saved with the checkpoint.
    classifier: Classifier,
    /// The sampler's settings and the classifier it conditions on (None: C).
    sampling: RefCell<(ChainOptions, Option<Classifier>)>,
    adversarial: Adversarial,
}

impl Ppgn {
    pub fn new(cfg: &Config, info: DataInfo, device: Device) -> Result<Ppgn> {
        let c: PpgnConfig = cfg.section("ppgn")?;
        let mut model: ModelConfig = cfg.section("model")?;
        let Shape::Image { channels, size } = info.shape else {
            return Err(Error::Config("method = \"ppgn\" trains on images; the data are points".into()));
        };
        model.latent_dim = FEATURES;
        rng::seed_torch(cfg.seed, rng::stream::INIT, 0);
        let g_vs = VarStore::new(device);
        let g = nets::generator(&model, info.shape, g_vs.root())?;
        nets::initialise(&g_vs, model.init);
        rng::seed_torch(cfg.seed, rng::stream::INIT, 1);
        let d_vs = VarStore::new(device);
        let d = nets::discriminator(&model, info.shape, 1, 0, 0, d_vs.root())?;
        nets::initialise(&d_vs, model.init);
        let meta = Meta {
            arch: classifier::ARCH.into(),
            channels,
            size,
            classes: info.classes,
            data: cfg.data.source.clone(),
            data_hash: String::new(),
            test_accuracy: 0.0,
            epochs: 0,
            seed: 0,
        };
        Ok(Ppgn {
            opt_g: Optimizer::new(&cfg.train, trainable(&g_vs)),
            opt_d: Optimizer::new(&cfg.train, trainable(&d_vs)),
            classifier: Classifier::blank(meta, device),
            sampling: RefCell::new((c.sampler.clone(), None)),
            adversarial: Adversarial::NonSaturating,
            cfg: cfg.clone(),
            c,
            device,
            shape: info.shape,
            g_vs,
            g,
            d_vs,
            d,
        })
    }

    /// The classifier G learns to invert: `ppgn.classifier`, or the data's evaluation classifier.
    fn source_classifier(&self) -> Result<Classifier> {
        let Shape::Image { channels, size } = self.shape else { unreachable!("built for images only") };
        let (c, path) = if self.c.classifier.is_empty() {
            classifier::for_data(&self.cfg.data.source, self.device, true).map_err(|e| {
                Error::Usage(format!(
                    "PPGN inverts the data's evaluation classifier, trained on first use on the data's labelled train and test splits (or give one: --set ppgn.classifier=FILE from `gantry classifier train`), and it could not be made: {e}"
                ))
            })?
        } else {
            let p = std::path::PathBuf::from(&self.c.classifier);
            let c = Classifier::load(&p, self.device)?;
            c.check_data(&self.cfg.data.source, &p)?;
            (c, p)
        };
        let m = &c.meta;
        if (m.channels, m.size, m.classes) != (channels, size, self.classifier.meta.classes) {
            return Err(Error::Usage(format!(
                "`ppgn.classifier` {}: it takes {}-channel images of side {} in {} classes, but the data `{}` has {channels}-channel images of side {size} in {} classes; train one on this data with `gantry classifier train --data {} --out FILE`",
                path.display(),
                m.channels,
                m.size,
                m.classes,
                self.cfg.data.source,
                self.classifier.meta.classes,
                self.cfg.data.source
            )));
        }
        Ok(c)
    }

    /// C's (last convolution block, hidden code) of images `x`.
    fn codes(&self, x: &Tensor) -> (Tensor, Tensor) {
        let (h1, h, _) = self.classifier.layers(x);
        (h1, h)
    }

    /// Chains for classes `y` (`[n]`), 500 at a time, with the present settings.
    fn chains(&self, y: &Tensor, every: u64, snapshot: &mut dyn FnMut(u64, i64, &Tensor)) -> Tensor {
        let n = y.size()[0];
        let mut out = vec![];
        for start in (0..n).step_by(500) {
            let m = 500.min(n - start);
            let yy = y.narrow(0, start, m).to_device(self.device);
            let h0 = Tensor::randn([m, FEATURES], (Kind::Float, self.device));
            let opts = self.sampling.borrow().0.clone();
            let h = self.chain_from(&h0, &yy, &opts, every, &mut |i, h| snapshot(i, start, h));
            out.push(h);
        }
        Tensor::cat(&out, 0)
    }

    fn chain_from(
        &self,
        h0: &Tensor,
        y: &Tensor,
        opts: &ChainOptions,
        every: u64,
        snapshot: &mut dyn FnMut(u64, &Tensor),
    ) -> Tensor {
        let sampling = self.sampling.borrow();
        let cond = sampling.1.as_ref().unwrap_or(&self.classifier);
        let prior = |h: &Tensor| tch::no_grad(|| self.codes(&self.g.forward_t(h, false)).1 - h);
        let condition = |h: &Tensor| {
            let h = h.detach().set_requires_grad(true);
            let (_, _, logits) = cond.layers(&self.g.forward_t(&h, false));
            let logp = logits.log_softmax(1, Kind::Float).gather(1, &y.unsqueeze(1), false).sum(Kind::Float);
            Tensor::run_backward(&[&logp], &[&h], false, false).pop().expect("one gradient")
        };
        run_chain(h0, opts, &prior, &condition, every, snapshot)
    }

    /// How well G inverts C, the floor under any chain's samples: G(C_h(x)) of `ctx.samples`
    /// training images, scored like samples (FCD under `c` against the test split) and by their
    /// mean absolute pixel error (images in [−1, 1]). Nothing when the data has no test split,
    /// since reconstructions of the very images they are compared with would flatter G.
    fn reconstruction_figures(&self, c: &Classifier, ctx: &FigureContext) -> Result<Figures> {
        let (Ok(test), Ok(train)) = (Dataset::load_split(ctx.data, "t10k", ctx.device), Dataset::load(ctx.data, ctx.device)) else {
            return Ok(vec![]);
        };
        let (Some((real, _)), Some((x, _))) = (test.tensors(), train.tensors()) else { return Ok(vec![]) };
        let x = x.narrow(0, 0, ctx.samples.min(x.size()[0])).to_device(self.device);
        let mut rec = vec![];
        for i in (0..x.size()[0]).step_by(500) {
            let xi = x.narrow(0, i, 500.min(x.size()[0] - i));
            rec.push(tch::no_grad(|| self.g.forward_t(&self.codes(&xi).1, false)));
        }
        let rec = Tensor::cat(&rec, 0);
        let l1 = (&rec - &x).abs().mean(Kind::Float).double_value(&[]);
        let fcd = image::frechet_of(&c.embed(&rec).0, &c.embed(real).0);
        Ok(vec![
            ("reconstruction_fcd".into(), serde_json::json!(fcd)),
            ("reconstruction_l1".into(), serde_json::json!(l1)),
            ("reconstruction_samples".into(), serde_json::json!(x.size()[0])),
        ])
    }

    fn classes_of_condition(&self) -> i64 {
        self.sampling.borrow().1.as_ref().map_or(self.classifier.meta.classes, |c| c.meta.classes)
    }
}

impl Saved for Ppgn {
    fn stores(&self) -> Vec<(&'static str, &VarStore)> {
        vec![("g", &self.g_vs), ("d", &self.d_vs), ("classifier", self.classifier.store())]
    }

    fn optimizers(&mut self) -> Vec<(&'static str, &mut Optimizer)> {
        vec![("g", &mut self.opt_g), ("d", &mut self.opt_d)]
    }
}

impl Method for Ppgn {
    fn prepare(&mut self, _data: &Data, fresh: bool) -> Result<()> {
        if fresh {
            let c = self.source_classifier()?;
            self.classifier.copy_from(&c)?;
        }
        Ok(())
    }

    fn train_step(&mut self, step: u64, data: &Data) -> Metrics {
        let n = self.cfg.data.batch_size;
        let x = data.one().batch(step, n, self.cfg.seed);
        let (h1_real, h_real) = tch::no_grad(|| self.codes(&x));
        let fake = self.g.forward_t(&h_real, true);
        // D on real images and on G's, detached
        let v = self.d.forward_t(&x, true).view([-1]);
        let u = self.d.forward_t(&fake.detach(), true).view([-1]);
        let loss_d = self.adversarial.d_loss(&v, &u);
        let grads_d = crate::dist::gradients(&loss_d, &self.opt_d.params(), false);
        let t = &self.cfg.train;
        self.opt_d.update(&grads_d, t.d_lr);
        // G: pixels, C's convolution maps and code of G(h), and D
        let (h1_fake, h_fake) = self.codes(&fake);
        let l_img = (&fake - &x).square().mean(Kind::Float);
        let l_h1 = (&h1_fake - &h1_real).square().mean(Kind::Float);
        let l_h = (&h_fake - &h_real).square().mean(Kind::Float);
        let l_adv = self.adversarial.g_loss(&self.d.forward_t(&fake, true).view([-1]));
        let c = &self.c;
        let loss_g = &l_img * c.image_weight
            + &l_h1 * c.conv_weight
            + &l_h * c.code_weight
            + &l_adv * c.adversarial_weight;
        let grads_g = crate::dist::gradients(&loss_g, &self.opt_g.params(), false);
        self.opt_g.update(&grads_g, t.g_lr);
        vec![
            ("d/loss", loss_d.detach()),
            ("d/real", v.detach().mean(Kind::Float)),
            ("d/fake", u.detach().mean(Kind::Float)),
            ("g/loss", loss_g.detach()),
            ("g/image", l_img.detach()),
            ("g/conv", l_h1.detach()),
            ("g/code", l_h.detach()),
            ("g/adversarial", l_adv.detach()),
        ]
    }

    /// Real images, whose reconstructions G(C_h(x)) the progress grid shows beside them.
    fn grid_inputs(&self, data: &Data, n: i64) -> Tensor {
        data.one().reference(n, self.cfg.seed)
    }

    fn write_grid(&self, inputs: &Tensor, _data: &Data, path: &Path, _seed: u64) -> Result<()> {
        let x = inputs.to_device(self.device);
        let rec = tch::no_grad(|| self.g.forward_t(&self.codes(&x).1, false));
        // rows of 8: images, then their reconstructions
        let n = x.size()[0];
        let rows: Vec<Tensor> = (0..n)
            .step_by(8)
            .flat_map(|i| {
                let m = 8.min(n - i);
                [x.narrow(0, i, m), rec.narrow(0, i, m)]
            })
            .collect();
        viz::save_grid(&Tensor::cat(&rows, 0), 8, path)
    }

    fn noise(&self) -> Option<&dyn NoiseSampler> {
        Some(self)
    }

    fn chain(&self) -> Option<&dyn ChainSampler> {
        Some(self)
    }

    /// Class accuracy, FCD per class and within-class diversity of the samples the evaluator
    /// drew (classes in order), under the evaluation classifier.
    fn figures(&self, ctx: &FigureContext) -> Result<Figures> {
        let (Some(c), Some(x)) = (ctx.classifier, ctx.drawn) else { return Ok(vec![]) };
        let mut f = class_figures(x, self.classes_of_condition(), c, ctx)?;
        f.extend(self.reconstruction_figures(c, ctx)?);
        let (o, cond) = &*self.sampling.borrow();
        f.push(("ppgn_sampler".into(), serde_json::to_value(o).expect("options serialise")));
        f.push((
            "ppgn_condition".into(),
            serde_json::json!(cond.as_ref().map_or_else(
                || classifier::weights_identity(self.classifier.store()),
                |c| classifier::weights_identity(c.store())
            )),
        ));
        Ok(f)
    }
}

impl NoiseSampler for Ppgn {
    /// G(h), in eval mode.
    fn generate(&self, h: &Tensor) -> Tensor {
        tch::no_grad(|| self.g.forward_t(&h.to_device(self.device), false))
    }

    /// The codes `n` chains reached, the classes in order.
    fn latents(&self, n: i64) -> Tensor {
        self.latents_for(n, None)
    }

    fn latents_for(&self, n: i64, class: Option<i64>) -> Tensor {
        let k = self.classes_of_condition();
        let y: Vec<i64> = match class {
            Some(c) => vec![c; n as usize],
            None => wanted(n, k),
        };
        self.chains(&Tensor::from_slice(&y), 0, &mut |_, _, _| {})
    }

    fn classes(&self) -> i64 {
        self.classes_of_condition()
    }

    /// G reads the code h alone; the class steers the chain that finds h.
    fn input_classes(&self) -> i64 {
        0
    }

    fn critic(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| self.d.forward_t(&x.to_device(self.device), false).view([-1]))
    }

    fn stages(&self) -> Vec<crate::nets::Stage<'_>> {
        self.g.stages()
    }
}

impl ChainSampler for Ppgn {
    fn options(&self) -> ChainOptions {
        self.sampling.borrow().0.clone()
    }

    fn set_options(&self, o: ChainOptions) -> Result<()> {
        o.check("--")?;
        self.sampling.borrow_mut().0 = o;
        Ok(())
    }

    fn set_condition(&self, c: Option<Classifier>) {
        self.sampling.borrow_mut().1 = c;
    }

    fn condition_classes(&self) -> i64 {
        self.classes_of_condition()
    }

    fn run(&self, y: &Tensor, every: u64, snapshot: &mut dyn FnMut(u64, i64, &Tensor)) -> Tensor {
        self.chains(y, every, &mut |i, start, h| snapshot(i, start, &self.generate(h)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(eps1: f64, eps2: f64, eps3: f64, lr: f64, lr_end: f64, iterations: u64) -> ChainOptions {
        ChainOptions { iterations, eps1, eps2, eps3, lr, lr_end }
    }

    #[test]
    fn one_step_by_hand() {
        // h = [1, 2], prior residual [2, −1] (ε1 = 0.5), condition [0, 3] (ε2 = 1), no noise:
        // d = [1, 2.5], mean|d| = 1.75, step 0.7 → h + 0.4·d = [1.4, 3.0]
        let h = Tensor::from_slice(&[1.0f32, 2.0]).view([1, 2]);
        let p = Tensor::from_slice(&[2.0f32, -1.0]).view([1, 2]);
        let c = Tensor::from_slice(&[0.0f32, 3.0]).view([1, 2]);
        let o = opts(0.5, 1.0, 0.0, 0.7, 0.7, 1);
        let out = chain_step(&h, &p, &c, &h.zeros_like(), &o, 0.7);
        let v = Vec::<f32>::try_from(out.view([-1])).unwrap();
        assert!((v[0] - 1.4).abs() < 1e-6 && (v[1] - 3.0).abs() < 1e-6, "{v:?}");
        // clipped to [0, 30]; a row with no update stays
        let far = chain_step(&h, &(Tensor::from_slice(&[-100.0f32, 100.0]).view([1, 2])), &c.zeros_like(), &h.zeros_like(), &opts(1.0, 0.0, 0.0, 50.0, 50.0, 1), 50.0);
        assert_eq!(Vec::<f32>::try_from(far.view([-1])).unwrap(), vec![0.0, 30.0]);
        let still = chain_step(&h, &h.zeros_like(), &h.zeros_like(), &h.zeros_like(), &o, 0.7);
        assert_eq!(Vec::<f32>::try_from(still.view([-1])).unwrap(), vec![1.0, 2.0]);
        // the step size goes linearly from lr to lr_end
        let o = opts(0.0, 1.0, 0.0, 1.0, 0.0, 4);
        assert_eq!((0..5).map(|i| step_size(&o, i)).collect::<Vec<_>>(), vec![1.0, 0.75, 0.5, 0.25, 0.0]);
    }

    #[test]
    fn the_chain_climbs_a_quadratic_to_its_maximum() {
        // log p = −½‖h − a‖² with a inside [0, 30]: the condition's gradient is a − h; with the
        // step size decaying to 0 the chain ends at a (the prior pulls towards b, ε1 = 0 here)
        let a = Tensor::from_slice(&[3.0f32, 0.5, 7.0, 2.0]).view([1, 4]);
        let b = Tensor::from_slice(&[1.0f32, 1.0, 1.0, 1.0]).view([1, 4]);
        let h0 = Tensor::zeros([1, 4], (Kind::Float, Device::Cpu));
        let cond = |h: &Tensor| &a - h;
        let prior = |h: &Tensor| &b - h;
        let mut seen = vec![];
        let o = opts(0.0, 1.0, 0.0, 0.5, 1e-4, 400);
        let h = run_chain(&h0, &o, &prior, &cond, 100, &mut |i, _| seen.push(i));
        assert!((&h - &a).abs().max().double_value(&[]) < 0.02, "{h}");
        assert_eq!(seen, vec![0, 100, 200, 300, 400]);
        // with both terms equally weighted the chain settles between, at (a + b) / 2
        let o = opts(1.0, 1.0, 0.0, 0.5, 1e-4, 400);
        let h = run_chain(&h0, &o, &prior, &cond, 0, &mut |_, _| {});
        assert!((&h - (&a + &b) / 2.0).abs().max().double_value(&[]) < 0.02, "{h}");
        // noise alone moves the chain; without it nothing moves
        let o = opts(0.0, 0.0, 1.0, 0.1, 0.1, 3);
        tch::manual_seed(0);
        let h = run_chain(&(h0.shallow_clone() + 1.0), &o, &prior, &cond, 0, &mut |_, _| {});
        assert!((&h - 1.0).abs().max().double_value(&[]) > 0.0);
        let o = opts(0.0, 0.0, 0.0, 0.1, 0.1, 3);
        let h = run_chain(&(h0.shallow_clone() + 1.0), &o, &prior, &cond, 0, &mut |_, _| {});
        assert_eq!((&h - 1.0).abs().max().double_value(&[]), 0.0);
    }
}
