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
//! The labelled subset is `data.labels` examples, class-balanced, drawn by the run's seed; the
//! whole training split serves as unlabelled data (the labelled examples too, as the authors
//! did). With `objective.unlabeled_weight = 0` there is no GAN: D trains on the labelled subset
//! alone, the same architecture's supervised baseline. With `train.ema` > 0 an exponential
//! moving average of D's weights does the classifying (test error), as Polyak averaging.
use super::gan::trainable;
use super::{Method, Metrics};
use crate::config::Config;
use crate::data::{Dataset, Shape};
use crate::error::{Error, Result};
use crate::nets::semi::{SemiDiscriminator, SemiGenerator};
use crate::nets::{self, Critic};
use crate::objective::improved;
use crate::rng;
use crate::train::{ema::Ema, optim::Optimizer, schedule};
use tch::nn::ModuleT;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// Examples of the data-dependent initialisation batch.
const INIT_BATCH: i64 = 500;

pub struct Semi {
    cfg: Config,
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
    pub fn new(cfg: &Config, shape: Shape, classes: i64, device: Device) -> Result<Semi> {
        if classes < 2 || !matches!(shape, Shape::Image { .. }) {
            return Err(Error::Config(format!(
                "method = \"semi\" needs labelled images (an MNIST-format folder with its labels file); the data `{}` has none",
                cfg.data.source
            )));
        }
        rng::seed_torch(cfg.seed, rng::stream::INIT, 0);
        let g_vs = VarStore::new(device);
        let g = SemiGenerator::new(&cfg.model, shape, g_vs.root());
        rng::seed_torch(cfg.seed, rng::stream::INIT, 1);
        let d_vs = VarStore::new(device);
        let d = SemiDiscriminator::new(&cfg.model, shape, classes, d_vs.root());
        let opt_g = Optimizer::new(&cfg.train, trainable(&g_vs));
        let opt_d = Optimizer::new(&cfg.train, trainable(&d_vs));
        let d_avg = (cfg.train.ema > 0.0).then(|| {
            let vs = VarStore::new(device);
            let net = SemiDiscriminator::new(&cfg.model, shape, classes, vs.root());
            let ema = Ema::new(cfg.train.ema, &d_vs, &vs);
            (vs, net, ema)
        });
        Ok(Semi { cfg: cfg.clone(), shape, device, g_vs, g, d_vs, d, opt_g, opt_d, d_avg, labelled: vec![] })
    }

    fn lr(&self, base: f64, step: u64) -> f64 {
        let t = &self.cfg.train;
        schedule::lr(base, t.lr_schedule, t.decay_start, step, self.cfg.steps)
    }

    fn gan(&self) -> bool {
        self.cfg.objective.unlabeled_weight > 0.0
    }
}

impl Method for Semi {
    fn prepare(&mut self, data: &Dataset, fresh: bool) -> Result<()> {
        let n = self.cfg.data.labels;
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

    fn train_step(&mut self, step: u64, data: &Dataset) -> Metrics {
        let n = self.cfg.data.batch_size;
        let seed = self.cfg.seed;
        let w = self.cfg.objective.unlabeled_weight;
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
        let grads = Tensor::run_backward(&[&loss], &d_params, false, false);
        self.opt_d.step(&grads, self.lr(self.cfg.train.d_lr, step));
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
            let loss = if self.cfg.objective.feature_matching {
                let x_real = data.batch(2 * step + 1, n, seed);
                let (_, real_features) = tch::no_grad(|| self.d.forward_features(&x_real, true));
                let layer = improved::layer_index(self.cfg.objective.feature_layer, fake_features.len());
                improved::feature_matching(
                    &real_features[layer],
                    &fake_features[layer],
                    self.cfg.objective.feature_distance,
                )
            } else {
                neg_log_d(&out.logsumexp([1], false)).mean(Kind::Float)
            };
            let g_params = self.opt_g.params();
            let grads = Tensor::run_backward(&[&loss], &g_params, false, false);
            self.opt_g.step(&grads, self.lr(self.cfg.train.g_lr, step));
            metrics.push(("g/loss", loss.detach()));
        }
        metrics
    }

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

    fn generate(&self, z: &Tensor) -> Tensor {
        tch::no_grad(|| self.g.forward_t(z, false)).clamp(-1.0, 1.0)
    }

    fn latents(&self, n: i64) -> Tensor {
        nets::latents(&self.cfg.model, self.shape, n, self.device)
    }

    fn critic(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| self.d.forward_t(x, false)).logsumexp([1], false)
    }

    fn classify(&self, x: &Tensor) -> Option<Tensor> {
        let d = self.d_avg.as_ref().map_or(&self.d, |(_, net, _)| net);
        Some(tch::no_grad(|| d.forward_t(x, false)))
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
