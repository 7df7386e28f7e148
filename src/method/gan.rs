//! The GAN family's training step, shared by GAN, DCGAN, LSGAN, WGAN, WGAN-GP, hinge and f-GAN:
//! they differ only in the adversarial objective and the critic's regulariser.
//!
//! Goodfellow et al. 2014, Algorithm 1: for each generator update, `critic_steps` (k)
//! discriminator updates, each on a fresh real batch and fresh noise; then one generator
//! update on fresh noise. WGAN clips the critic's weights after each of its updates; WGAN-GP
//! adds λ·E[(‖∇D(x̂)‖ − 1)²] to the critic's loss.
//!
//! Gradients are taken with `run_backward` for exactly the variables being updated, so the
//! generator's step computes no discriminator weight gradients and vice versa.
use super::{Method, Metrics};
use crate::config::{Config, GeneratorKind};
use crate::data::{Dataset, Shape};
use crate::error::Result;
use crate::nets::{self, Net};
use crate::objective::{Adversarial, penalty};
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
    d: Net,
    /// Averaged generator (when `train.ema` > 0).
    ema: Option<(VarStore, Net, Ema)>,
    opt_g: Optimizer,
    opt_d: Optimizer,
    d_params: Vec<Tensor>,
    objective: Adversarial,
    /// The critic has no batch norm, so its outputs for one example do not depend on others.
    rows_independent: bool,
}

fn trainable(vs: &VarStore) -> Vec<(String, Tensor)> {
    named_variables(vs).into_iter().filter(|(_, t)| t.requires_grad()).collect()
}

impl Gan {
    pub fn new(cfg: &Config, shape: Shape, device: Device) -> Result<Gan> {
        let m = &cfg.model;
        rng::seed_torch(cfg.seed, rng::stream::INIT, 0);
        let g_vs = VarStore::new(device);
        let g = nets::generator(m, shape, g_vs.root())?;
        nets::initialise(&g_vs, m.init);
        rng::seed_torch(cfg.seed, rng::stream::INIT, 1);
        let d_vs = VarStore::new(device);
        let d = nets::discriminator(m, shape, 1, d_vs.root())?;
        nets::initialise(&d_vs, m.init);
        let ema = if cfg.train.ema > 0.0 && m.generator == GeneratorKind::Net {
            let vs = VarStore::new(device);
            let net = nets::generator(m, shape, vs.root())?;
            let e = Ema::new(cfg.train.ema, &g_vs, &vs);
            Some((vs, net, e))
        } else {
            None
        };
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
            ema,
            opt_g,
            opt_d,
            d_params,
            objective: Adversarial::from_config(&cfg.objective),
            rows_independent: m.d_norm != crate::config::Norm::Batch,
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
        for k in 0..t.critic_steps as u64 {
            let real = data.batch(step * t.critic_steps as u64 + k, n, self.cfg.seed);
            let z = self.latents(n);
            let fake = tch::no_grad(|| self.g.forward_t(&z, true));
            let (v, u, gp) = if self.rows_independent {
                // Without batch norm the critic treats rows independently, so one forward pass
                // over [real; fake; x̂] gives exactly the three separate passes' outputs, in
                // larger and faster matrix products.
                let x_hat = (o.gp_weight > 0.0).then(|| penalty::interpolate(&real, &fake));
                let mut parts = vec![real.shallow_clone(), fake.shallow_clone()];
                parts.extend(x_hat.iter().map(Tensor::shallow_clone));
                let out = self.d.forward_t(&Tensor::cat(&parts, 0), true); // [2n] or [3n]
                let gp = x_hat.map(|x| penalty::gradient_penalty_at(&out.narrow(0, 2 * n, n), &x));
                (out.narrow(0, 0, n), out.narrow(0, n, n), gp)
            } else {
                let v = self.d.forward_t(&real, true); // [n]
                let u = self.d.forward_t(&fake, true); // [n]
                (v, u, None)
            };
            let mut loss = self.objective.d_loss(&v, &u);
            if let Some(gp) = gp {
                loss += &gp * o.gp_weight;
                if k + 1 == t.critic_steps as u64 {
                    metrics.push(("d/gp", gp.detach()));
                }
            }
            let grads = Tensor::run_backward(&[&loss], &self.d_params, false, false);
            self.opt_d.step(&grads, d_lr);
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
            let loss = self.objective.g_loss(&self.d.forward_t(&fake, true));
            let grads = Tensor::run_backward(&[&loss], &self.opt_g.params(), false, false);
            self.opt_g.step(&grads, g_lr);
            if let Some((_, _, ema)) = &self.ema {
                ema.update();
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
        nets::latents(&self.cfg.model, self.shape, n, self.device)
    }

    fn critic(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| self.d.forward_t(x, false))
    }
}
