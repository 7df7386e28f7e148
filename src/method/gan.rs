//! The GAN family's training step, shared by GAN, DCGAN, LSGAN, WGAN, WGAN-GP, hinge and f-GAN:
//! they differ only in the adversarial objective and the critic's regulariser.
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
//! Gradients are taken with `run_backward` for exactly the variables being updated, so the
//! generator's step computes no discriminator weight gradients and vice versa.
use super::codes::Codes;
use super::condition::Condition;
use super::{Method, Metrics};
use crate::config::{Config, GeneratorKind, MethodKind};
use crate::data::{Dataset, Shape};
use crate::error::{Error, Result};
use crate::nets::{self, CriticNet, Net};
use crate::objective::{Adversarial, improved, penalty};
use crate::rng;
use crate::train::{checkpoint::named_variables, ema::Ema, optim::Optimizer, schedule};
use tch::nn::VarStore;
use tch::{Device, Tensor};

pub struct Gan {
    cfg: Config,
    shape: Shape,
    device: Device,
    g_vs: VarStore,
    g: Net,
    d_vs: VarStore,
    d: CriticNet,
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
    /// Class conditioning (conditional GAN, AC-GAN).
    cond: Option<Condition>,
    /// InfoGAN's latent codes and Q head.
    codes: Option<Codes>,
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

impl Gan {
    /// `classes` is the number of classes of the data (0 when it has no labels).
    pub fn new(cfg: &Config, shape: Shape, classes: i64, device: Device) -> Result<Gan> {
        let codes = (cfg.method == MethodKind::Infogan).then(|| Codes {
            categorical: cfg.model.categorical_codes.clone(),
            continuous: cfg.model.continuous_codes,
            weight: cfg.objective.info_weight,
            continuous_weight: cfg.objective.info_continuous_weight,
        });
        let cond = match cfg.method {
            MethodKind::Gan | MethodKind::Infogan => None,
            kind if classes >= 2 && matches!(shape, Shape::Image { .. }) => Some(Condition { kind, classes }),
            kind => {
                return Err(Error::Config(format!(
                    "method = \"{}\" needs labelled images (an MNIST-format folder with its labels file); the data `{}` has none",
                    if kind == MethodKind::Cgan { "cgan" } else { "acgan" },
                    cfg.data.source
                )));
            }
        };
        // a conditional generator takes [z; onehot(y)]
        let mut with_classes = cfg.model.clone();
        with_classes.latent_dim += cond.map_or(0, |c| c.classes) + codes.as_ref().map_or(0, Codes::width);
        let m = &with_classes;
        rng::seed_torch(cfg.seed, rng::stream::INIT, 0);
        let g_vs = VarStore::new(device);
        let g = nets::generator(m, shape, g_vs.root())?;
        nets::initialise(&g_vs, m.init);
        rng::seed_torch(cfg.seed, rng::stream::INIT, 1);
        let d_vs = VarStore::new(device);
        let (d_shape, mut d_outputs) = cond.map_or((shape, 1), |c| (c.d_shape(shape), c.d_outputs()));
        d_outputs += codes.as_ref().map_or(0, Codes::width);
        let d = nets::discriminator(m, d_shape, d_outputs, codes.as_ref().map_or(0, Codes::width), d_vs.root())?;
        nets::initialise(&d_vs, m.init);
        let ema = if cfg.train.ema > 0.0 && m.generator == GeneratorKind::Net {
            let vs = VarStore::new(device);
            let net = nets::generator(m, shape, vs.root())?;
            let e = Ema::new(cfg.train.ema, &g_vs, &vs);
            Some((vs, net, e))
        } else {
            None
        };
        let o = &cfg.objective;
        let g_hist = (o.g_historical > 0.0).then(|| History::new(&trainable(&g_vs), o.g_historical, device));
        let d_hist = (o.d_historical > 0.0).then(|| History::new(&trainable(&d_vs), o.d_historical, device));
        let opt_g = Optimizer::new(&cfg.train, trainable(&g_vs));
        let opt_d = Optimizer::new(&cfg.train, trainable(&d_vs));
        let d_params = opt_d.params();
        Ok(Gan {
            cfg: cfg.clone(),
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
            objective: Adversarial::from_config(&cfg.objective),
            rows_independent: m.d_norm != crate::config::Norm::Batch
                && m.minibatch_kernels == 0
                && cond.is_none()
                && codes.is_none(),
            cond,
            codes,
        })
    }

    fn lr(&self, base: f64, step: u64) -> f64 {
        let t = &self.cfg.train;
        schedule::lr(base, t.lr_schedule, t.decay_start, step, self.cfg.steps)
    }
}

impl Method for Gan {
    fn train_step(&mut self, step: u64, data: &Dataset) -> Metrics {
        let t = &self.cfg.train;
        let o = &self.cfg.objective;
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
            let mut class_loss = None;
            let (v, u, gp) = if let Some(c) = self.cond {
                let y_real = y_real.expect("conditional methods are built only for labelled data");
                let y_fake = c.labels(&z);
                let (v, cv) = c.split(&self.d.forward_t(&c.d_input(&real, &y_real), true));
                let (u, cu) = c.split(&self.d.forward_t(&c.d_input(&fake, &y_fake), true));
                if let (Some(cv), Some(cu)) = (cv, cu) {
                    class_loss = Some(cv.cross_entropy_for_logits(&y_real) + cu.cross_entropy_for_logits(&y_fake));
                }
                (v, u, None)
            } else if let Some(codes) = &self.codes {
                let v = self.d.forward_t(&real, true).select(1, 0);
                let out = self.d.forward_t(&fake, true);
                let c = z.narrow(1, self.cfg.model.latent_dim, codes.width());
                class_loss = Some(codes.info_loss(&out.narrow(1, 1, codes.width()), &c));
                (v, out.select(1, 0), None)
            } else if self.rows_independent {
                // Without batch norm the critic treats rows independently, so one forward pass
                // over [real; fake] gives exactly the two separate passes' outputs, in larger and
                // faster matrix products. x̂ keeps its own pass: the penalty's first backward then
                // runs through n rows, not 3n.
                let out = self.d.forward_t(&Tensor::cat(&[&real, &fake], 0), true); // [2n]
                let gp =
                    (o.gp_weight > 0.0).then(|| penalty::gradient_penalty(|x| self.d.forward_t(x, true), &real, &fake));
                (out.narrow(0, 0, n), out.narrow(0, n, n), gp)
            } else {
                let v = self.d.forward_t(&real, true); // [n]
                let u = self.d.forward_t(&fake, true); // [n]
                (v, u, None)
            };
            let mut loss = self.objective.d_loss_smoothed(&v, &u, o.real_target);
            if let Some(lc) = &class_loss {
                loss += lc;
                if k + 1 == t.critic_steps as u64 {
                    metrics.push((if self.codes.is_some() { "d/info" } else { "d/class" }, lc.detach()));
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
            let grads = Tensor::run_backward(&[&loss], &self.d_params, false, false);
            self.opt_d.step(&grads, d_lr);
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
            let d_in = self.cond.map_or_else(|| fake.shallow_clone(), |c| c.d_input(&fake, &c.labels(&z)));
            let (out, fake_features) = self.d.forward_features(&d_in, true);
            let (u, class_logits) = match (&self.cond, &self.codes) {
                (Some(c), _) => c.split(&out),
                (None, Some(codes)) => (out.select(1, 0), Some(out.narrow(1, 1, codes.width()))),
                (None, None) => (out.shallow_clone(), None),
            };
            let mut loss = if o.feature_matching {
                // match the last real batch's activations of the chosen layer
                let real = last_real.expect("at least one critic step");
                let (_, real_features) = tch::no_grad(|| self.d.forward_features(&real, true));
                let i = improved::layer_index(o.feature_layer, fake_features.len());
                improved::feature_matching(&real_features[i], &fake_features[i], o.feature_distance)
            } else {
                self.objective.g_loss(&u)
            };
            match (self.cond, &self.codes, class_logits) {
                (Some(c), _, Some(logits)) => loss += logits.cross_entropy_for_logits(&c.labels(&z)),
                (None, Some(codes), Some(q)) => {
                    let info = codes.info_loss(&q, &z.narrow(1, self.cfg.model.latent_dim, codes.width()));
                    loss += &info;
                    metrics.push(("g/info", info.detach()));
                }
                _ => {}
            }
            let g_params = self.opt_g.params();
            if let Some(h) = &self.g_hist {
                loss += improved::historical_penalty(&g_params, &h.means) * h.weight;
            }
            let grads = Tensor::run_backward(&[&loss], &g_params, false, false);
            self.opt_g.step(&grads, g_lr);
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

    fn generate(&self, z: &Tensor) -> Tensor {
        let g = self.ema.as_ref().map_or(&self.g, |(_, net, _)| net);
        tch::no_grad(|| g.forward_t(z, false))
    }

    fn latents(&self, n: i64) -> Tensor {
        let z = nets::latents(&self.cfg.model, self.shape, n, self.device);
        if let Some(codes) = &self.codes {
            return Tensor::cat(&[z, codes.sample(n, None, self.device)], 1);
        }
        match self.cond {
            None => z,
            Some(c) => {
                let y = Tensor::randint(c.classes, [n], (tch::Kind::Int64, self.device));
                Tensor::cat(&[z, c.onehot(&y)], 1)
            }
        }
    }

    fn latents_for(&self, n: i64, class: Option<i64>) -> Tensor {
        let z = nets::latents(&self.cfg.model, self.shape, n, self.device);
        if let Some(codes) = &self.codes {
            return Tensor::cat(&[z, codes.sample(n, class, self.device)], 1);
        }
        match self.cond {
            None => z,
            Some(c) => {
                // one class, or the classes in order, one row of n / K samples each
                let y: Vec<i64> = (0..n).map(|i| class.unwrap_or(i * c.classes / n)).collect();
                Tensor::cat(&[z, c.onehot(&Tensor::from_slice(&y).to(self.device))], 1)
            }
        }
    }

    fn classes(&self) -> i64 {
        self.cond.map_or(0, |c| c.classes)
    }

    fn critic(&self, x: &Tensor) -> Tensor {
        // point data only (conditional methods need images), so there is no class to feed
        let out = tch::no_grad(|| self.d.forward_t(x, false));
        if self.codes.is_some() { out.select(1, 0) } else { out }
    }

    fn codes(&self) -> Option<(&Codes, i64)> {
        self.codes.as_ref().map(|c| (c, self.cfg.model.latent_dim))
    }

    fn code_logits(&self, x: &Tensor) -> Option<Tensor> {
        let codes = self.codes.as_ref()?;
        let q = tch::no_grad(|| self.d.forward_t(x, false)).narrow(1, 1, codes.width());
        codes.first_logits(&q)
    }
}
