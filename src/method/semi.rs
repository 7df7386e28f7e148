//! The semi-supervised GAN of Salimans et al. 2016 (§5). The discriminator is a K-class
//! classifier with logits l(x); the fake class K+1 is implicit with logit 0, so
//! D(x) = Z(x) / (Z(x) + 1) with Z(x) = Σₖ exp lₖ(x), and log Z is the real-vs-fake logit.
//!
//! Per generator step:
//! - D minimises L_sup + w·L_unsup, where L_sup is the cross-entropy of the K logits on a
//!   labelled batch, and L_unsup = ½(E_unl[−log D(x)] + E_G[−log(1 − D(G(z)))])
//!   = ½(−E_unl[log Z] + E_unl[softplus(log Z)] + E_G[softplus(log Z)]), written through
//!   log-sum-exp so it stays finite.
//! - G minimises feature matching on D's last hidden layer (or −log D(G(z)) with
//!   `objective.feature_matching = false`).
//!
//! The labelled subset is `semi.labels` examples, class-balanced, drawn by the run's seed; the
//! whole training split serves as unlabelled data (the labelled examples too, as the authors
//! did). With `semi.unlabeled_weight = 0` there is no GAN: D trains on the labelled subset
//! alone, the same architecture's supervised baseline. With `train.ema` > 0 an exponential
//! moving average of D's weights does the classifying (test error), as Polyak averaging.
use super::gan::{self, noise_grid_inputs, trainable, write_noise_grid};
use super::{Batch, DataInfo, FigureContext, Figures, Method, Metrics, NoiseSampler, Spec, section};
use crate::config::Config;
use crate::data::{Data, Dataset, Shape};
use crate::error::{Error, Result};
use crate::nets::semi::{SemiDiscriminator, SemiGenerator};
use crate::nets::{self, Activation, Arch, Critic, ModelConfig, Norm};
use crate::objective::{LossKind, ObjectiveConfig, improved};
use crate::rng;
use crate::train::checkpoint::Saved;
use crate::train::{ema::Ema, optim::Optimizer, schedule};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::Path;
use std::sync::OnceLock;
use tch::nn::ModuleT;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

pub const SPEC: Spec = Spec {
    name: "semi",
    about: "semi-supervised GAN: D is a K-class classifier whose log-sum-exp is its real-vs-fake logit",
    batch: Batch::Labelled,
    sections: || {
        let mut t = gan::family_sections();
        t.extend([section("semi", &SemiConfig::default())]);
        t
    },
    check,
    build: |cfg, info, device| Ok(Box::new(Semi::new(cfg, info, device)?)),
};

/// The `[semi]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SemiConfig {
    /// The size of the class-balanced labelled subset, drawn by seed (the rest of the training
    /// split is used without labels); 0 uses every label.
    pub labels: i64,
    /// Standard deviation of the Gaussian noise added to D's input (in [0, 1] pixel units) and
    /// to each hidden layer's output during training.
    pub d_input_noise: f64,
    pub d_hidden_noise: f64,
    /// Weight of the unsupervised (real vs fake) loss beside the supervised one; 0 trains the
    /// discriminator as a plain classifier on the labelled subset (no GAN).
    pub unlabeled_weight: f64,
}

impl Default for SemiConfig {
    fn default() -> Self {
        SemiConfig { labels: 0, d_input_noise: 0.3, d_hidden_noise: 0.5, unlabeled_weight: 1.0 }
    }
}

fn check(cfg: &Config) -> Result<()> {
    let m: ModelConfig = cfg.section("model")?;
    let o: ObjectiveConfig = cfg.section("objective")?;
    let s: SemiConfig = cfg.section("semi")?;
    let bad = |key: &str, why: &str| Err(Error::Config(format!("`{key}` {why}")));
    if s.labels < 0 {
        return bad("semi.labels", "must not be negative (0 uses every label)");
    }
    if m.arch != Arch::Mlp {
        return bad(
            "model.arch",
            "must be `mlp` for method = \"semi\": its discriminator is the paper's permutation-invariant dense classifier",
        );
    }
    if m.g_activation != Activation::Softplus
        || m.d_activation != Activation::Relu
        || m.g_norm != Norm::Batch
        || m.d_norm != Norm::None
    {
        return bad(
            "model",
            "method = \"semi\" builds the paper's networks (G: batch norm + softplus; D: weight norm + ReLU + Gaussian noise); of `model`, only latent_dim, g_hidden and d_hidden apply, and the noise levels are semi.d_input_noise and semi.d_hidden_noise",
        );
    }
    if o.loss != LossKind::NonSaturating || o.gp_weight > 0.0 || o.clip > 0.0 || o.real_target != 1.0 {
        return bad(
            "objective",
            "method = \"semi\" has its own K+1-class loss; leave objective.loss, gp_weight, clip and real_target at their defaults",
        );
    }
    if m.minibatch_kernels > 0 || o.g_historical > 0.0 || o.d_historical > 0.0 {
        return bad("method", "\"semi\" does not combine with minibatch discrimination or historical averaging in this version");
    }
    if m.latent_dim < 1 || m.g_hidden.iter().chain(&m.d_hidden).any(|&w| w < 1) {
        return bad("model.latent_dim / model.g_hidden / model.d_hidden", "must be at least 1");
    }
    if s.d_input_noise < 0.0 || s.d_hidden_noise < 0.0 || s.unlabeled_weight < 0.0 {
        return bad("semi.d_input_noise / semi.d_hidden_noise / semi.unlabeled_weight", "must not be negative");
    }
    Ok(())
}

/// Examples of the data-dependent initialisation batch.
const INIT_BATCH: i64 = 500;

pub struct Semi {
    cfg: Config,
    model: ModelConfig,
    objective: ObjectiveConfig,
    semi: SemiConfig,
    shape: Shape,
    device: Device,
    g_vs: VarStore,
    g: SemiGenerator,
    d_vs: VarStore,
    d: SemiDiscriminator,
    opt_g: Optimizer,
    opt_d: Optimizer,
    /// Exponential moving average of D's weights (when `train.ema` > 0); it classifies.
    d_avg: Option<(VarStore, SemiDiscriminator, Ema)>,
    /// Indices of the labelled examples in the training split.
    labelled: Vec<i64>,
    /// The data's labelled test split, read on first use by `figures`.
    test: OnceLock<Option<(Tensor, Tensor)>>,
}

/// −log D(x) for the real-vs-fake logit `lse` = log Z(x): −log(Z/(Z+1)) = −lse + softplus(lse).
fn neg_log_d(lse: &Tensor) -> Tensor {
    -lse + lse.softplus()
}

/// L_unsup = ½(E_unl[−log D(x)] + E_G[−log(1 − D(G(z)))]) from the log-sum-exps of the class
/// logits of unlabelled and generated batches; −log(1 − D) = log(Z + 1) = softplus(lse).
pub fn unsupervised_loss(lse_unl: &Tensor, lse_fake: &Tensor) -> Tensor {
    (neg_log_d(lse_unl).mean(Kind::Float) + lse_fake.softplus().mean(Kind::Float)) * 0.5
}

impl Semi {
    pub fn new(cfg: &Config, info: DataInfo, device: Device) -> Result<Semi> {
        let (shape, classes) = (info.shape, info.classes);
        let model: ModelConfig = cfg.section("model")?;
        let semi: SemiConfig = cfg.section("semi")?;
        let noise = (semi.d_input_noise, semi.d_hidden_noise);
        if classes < 2 || !matches!(shape, Shape::Image { .. }) {
            return Err(Error::Config(format!(
                "method = \"semi\" needs labelled images (an MNIST-format folder with its labels file); the data `{}` has none",
                cfg.data.source
            )));
        }
        rng::seed_torch(cfg.seed, rng::stream::INIT, 0);
        let g_vs = VarStore::new(device);
        let g = SemiGenerator::new(&model, shape, g_vs.root());
        rng::seed_torch(cfg.seed, rng::stream::INIT, 1);
        let d_vs = VarStore::new(device);
        let d = SemiDiscriminator::new(&model, shape, classes, noise, d_vs.root());
        let opt_g = Optimizer::new(&cfg.train, trainable(&g_vs));
        let opt_d = Optimizer::new(&cfg.train, trainable(&d_vs));
        let d_avg = (cfg.train.ema > 0.0).then(|| {
            let vs = VarStore::new(device);
            let net = SemiDiscriminator::new(&model, shape, classes, noise, vs.root());
            let ema = Ema::new(cfg.train.ema, &d_vs, &vs);
            (vs, net, ema)
        });
        Ok(Semi {
            cfg: cfg.clone(),
            objective: cfg.section("objective")?,
            model,
            semi,
            shape,
            device,
            g_vs,
            g,
            d_vs,
            d,
            opt_g,
            opt_d,
            d_avg,
            labelled: vec![],
            test: OnceLock::new(),
        })
    }

    fn lr(&self, base: f64, step: u64) -> f64 {
        let t = &self.cfg.train;
        schedule::lr(base, t.lr_schedule, t.decay_start, step, self.cfg.steps)
    }

    fn gan(&self) -> bool {
        self.semi.unlabeled_weight > 0.0
    }

    /// D's class logits for images `x`, in eval mode (the averaged D when there is one).
    fn classify(&self, x: &Tensor) -> Tensor {
        let d = self.d_avg.as_ref().map_or(&self.d, |(_, net, _)| net);
        tch::no_grad(|| d.forward_t(x, false))
    }

    /// The fraction of `x` that D labels other than `y`.
    pub fn test_error(&self, x: &Tensor, y: &Tensor) -> f64 {
        let n = x.size()[0];
        let mut wrong = 0i64;
        for i in (0..n).step_by(1000) {
            let m = 1000.min(n - i);
            let logits = self.classify(&x.narrow(0, i, m));
            wrong += logits.argmax(1, false).ne_tensor(&y.narrow(0, i, m)).sum(tch::Kind::Int64).int64_value(&[]);
        }
        wrong as f64 / n.max(1) as f64
    }
}

impl Saved for Semi {
    fn stores(&self) -> Vec<(&'static str, &VarStore)> {
        let mut v = vec![("g", &self.g_vs), ("d", &self.d_vs)];
        if let Some((vs, _, _)) = &self.d_avg {
            v.push(("d_ema", vs));
        }
        v
    }

    fn optimizers(&mut self) -> Vec<(&'static str, &mut Optimizer)> {
        vec![("g", &mut self.opt_g), ("d", &mut self.opt_d)]
    }
}

impl Method for Semi {
    fn prepare(&mut self, data: &Data, fresh: bool) -> Result<()> {
        let data = data.one();
        let n = self.semi.labels;
        self.labelled =
            if n > 0 { data.balanced_subset(n, self.cfg.seed)? } else { (0..data.len().unwrap_or(0)).collect() };
        if fresh {
            rng::seed_torch(self.cfg.seed, rng::stream::INIT, 2);
            self.d.init_from(&data.reference(INIT_BATCH, self.cfg.seed));
            if let Some((vs, _, ema)) = &mut self.d_avg {
                // start the average from the initialised weights
                *ema = Ema::new(self.cfg.train.ema, &self.d_vs, vs);
            }
        }
        Ok(())
    }

    fn train_step(&mut self, step: u64, data: &Data) -> Metrics {
        let data = data.one();
        let n = self.cfg.data.batch_size;
        let seed = self.cfg.seed;
        let w = self.semi.unlabeled_weight;
        let mut metrics: Metrics = Vec::with_capacity(8);
        let (x_lab, y_lab) = data.batch_from(&self.labelled, step, n, seed);
        let y_lab = y_lab.expect("the semi-supervised GAN is built only for labelled data");

        // Discriminator: labelled, unlabelled and generated rows in one pass (no batch norm,
        // so rows are independent).
        let (logits_lab, mut loss) = if self.gan() {
            let x_unl = data.batch(2 * step, n, seed);
            let fake = tch::no_grad(|| self.g.forward_t(&self.latents(n), true));
            let out = self.d.forward_t(&Tensor::cat(&[&x_lab, &x_unl, &fake], 0), true);
            let lse_unl = out.narrow(0, n, n).logsumexp([1], false);
            let lse_fake = out.narrow(0, 2 * n, n).logsumexp([1], false);
            let unsup = unsupervised_loss(&lse_unl, &lse_fake);
            metrics.push(("d/unsupervised", unsup.detach()));
            metrics.push(("d/real", lse_unl.detach().sigmoid().mean(Kind::Float)));
            metrics.push(("d/fake", lse_fake.detach().sigmoid().mean(Kind::Float)));
            (out.narrow(0, 0, n), unsup * w)
        } else {
            (self.d.forward_t(&x_lab, true), Tensor::zeros([], (Kind::Float, self.device)))
        };
        let sup = logits_lab.cross_entropy_for_logits(&y_lab);
        loss += &sup;
        let d_params = self.opt_d.params();
        let grads = crate::dist::gradients(&loss, &d_params, false);
        self.opt_d.update(&grads, self.lr(self.cfg.train.d_lr, step));
        if let Some((_, _, ema)) = &self.d_avg {
            ema.update(self.opt_d.steps);
        }
        metrics.push(("d/loss", loss.detach()));
        metrics.push(("d/supervised", sup.detach()));
        let wrong = logits_lab.detach().argmax(1, false).ne_tensor(&y_lab);
        metrics.push(("d/train_error", wrong.to_kind(Kind::Float).mean(Kind::Float)));

        // Generator: feature matching against a fresh unlabelled batch.
        if self.gan() {
            let fake = self.g.forward_t(&self.latents(n), true);
            let (out, fake_features) = self.d.forward_features(&fake, true);
            let loss = if self.objective.feature_matching {
                let x_real = data.batch(2 * step + 1, n, seed);
                let (_, real_features) = tch::no_grad(|| self.d.forward_features(&x_real, true));
                let layer = improved::layer_index(self.objective.feature_layer, fake_features.len());
                improved::feature_matching(&real_features[layer], &fake_features[layer], self.objective.feature_distance)
            } else {
                neg_log_d(&out.logsumexp([1], false)).mean(Kind::Float)
            };
            let g_params = self.opt_g.params();
            let grads = crate::dist::gradients(&loss, &g_params, false);
            self.opt_g.update(&grads, self.lr(self.cfg.train.g_lr, step));
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

    /// `test_error` (and `test_samples`): D's classes on the data's whole labelled test split.
    fn figures(&self, ctx: &FigureContext) -> Result<Figures> {
        let test = self.test.get_or_init(|| match Dataset::load_split(ctx.data, "t10k", ctx.device) {
            Ok(set) => set.tensors().and_then(|(x, y)| Some((x.shallow_clone(), y?.shallow_clone()))),
            Err(e) => {
                eprintln!("note: no test error will be reported ({e})");
                None
            }
        });
        let Some((x, y)) = test else { return Ok(vec![]) };
        Ok(vec![("test_error".into(), json!(self.test_error(x, y))), ("test_samples".into(), json!(x.size()[0]))])
    }
}

impl NoiseSampler for Semi {
    fn generate(&self, z: &Tensor) -> Tensor {
        tch::no_grad(|| self.g.forward_t(z, false)).clamp(-1.0, 1.0)
    }

    fn stages(&self) -> Vec<nets::Stage<'_>> {
        use nets::Staged;
        let mut s = self.g.stages();
        s.push(nets::Stage::new("clip", |x| x.clamp(-1.0, 1.0)));
        s
    }

    fn latents(&self, n: i64) -> Tensor {
        nets::latents(&self.model, self.shape, n, self.device)
    }

    fn prior(&self) -> &'static str {
        nets::prior_name(self.model.latent_prior)
    }

    fn critic(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| self.d.forward_t(x, false)).logsumexp([1], false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupervised_loss_by_hand() {
        // Two classes. Unlabelled logits [0, 0]: Z = 2, D = 2/3, −log D = log 1.5.
        // Generated logits [ln 3, −∞-ish]: Z = 3 (+ e^−30), D = 3/4, −log(1 − D) = log 4.
        // L = ½(log 1.5 + log 4) = ½ log 6.
        let unl = Tensor::from_slice(&[0.0f32, 0.0]).view([1, 2]).logsumexp([1], false);
        let fake = Tensor::from_slice(&[3.0f32.ln(), -30.0]).view([1, 2]).logsumexp([1], false);
        let l = unsupervised_loss(&unl, &fake).double_value(&[]);
        assert!((l - 0.5 * 6.0f64.ln()).abs() < 1e-6, "{l}");
        // large logits stay finite: Z = e^100 gives −log D ≈ e^−100 ≈ 0 and −log(1 − D) ≈ 100
        let big = Tensor::from_slice(&[100.0f32]).view([1, 1]).logsumexp([1], false);
        let l = unsupervised_loss(&big, &big).double_value(&[]);
        assert!((l - 50.0).abs() < 1e-4, "{l}");
    }
}
