//! Optimisers on tch tensors with PyTorch's update rules (Adam through torch.optim's fused
//! kernel, RMSProp and SGD as torch.optim's single-tensor paths),
//! owning an explicit list of variables — a generator's optimiser never touches the
//! discriminator — and with state that is saved and restored exactly.
use super::{OptimizerKind, TrainConfig};
use crate::error::{Error, Result};
use tch::Tensor;

pub struct Optimizer {
    kind: OptimizerKind,
    beta1: f64,
    beta2: f64,
    eps: f64,
    alpha: f64,
    weight_decay: f64,
    params: Vec<(String, Tensor)>,
    /// Per parameter: Adam's (exp_avg, exp_avg_sq); RMSProp's (square_avg, momentum buffer);
    /// SGD's (momentum buffer, unused).
    state: Vec<[Tensor; 2]>,
    /// Updates taken so far (Adam's bias correction uses it).
    pub steps: i64,
    /// The same count as one-element tensors, one per parameter, for the fused Adam kernel.
    step_tensors: Vec<Tensor>,
    /// Multiplies every learning rate given to `step`: 1 until a divergence is rolled back
    /// (`train.on_divergence = "rollback"`), and saved with the checkpoint's state.
    pub lr_scale: f64,
}

impl Optimizer {
    pub fn new(cfg: &TrainConfig, params: Vec<(String, Tensor)>) -> Optimizer {
        let state = params.iter().map(|(_, p)| [p.zeros_like(), p.zeros_like()]).collect();
        let step_tensors = params.iter().map(|(_, p)| Tensor::zeros([], (tch::Kind::Float, p.device()))).collect();
        Optimizer {
            kind: cfg.optimizer,
            beta1: cfg.beta1,
            beta2: cfg.beta2,
            eps: cfg.eps,
            alpha: cfg.rmsprop_alpha,
            weight_decay: cfg.weight_decay,
            params,
            state,
            steps: 0,
            step_tensors,
            lr_scale: 1.0,
        }
    }

    /// The variables this optimiser updates.
    pub fn params(&self) -> Vec<Tensor> {
        self.params.iter().map(|(_, p)| p.shallow_clone()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// One update with `grads` (one per parameter, in order) at learning rate `lr`; in
    /// data-parallel training with the mean of the ranks' gradients.
    pub fn step(&mut self, grads: &[Tensor], lr: f64) {
        self.apply(&crate::dist::average(grads), lr)
    }

    /// One update with gradients `dist::gradients` took (and averaged) for this optimiser's
    /// variables.
    pub fn update(&mut self, grads: &crate::dist::Gradients, lr: f64) {
        self.apply(grads.tensors(), lr)
    }

    fn apply(&mut self, grads: &[Tensor], lr: f64) {
        assert_eq!(grads.len(), self.params.len(), "one gradient per parameter");
        let lr = lr * self.lr_scale;
        self.steps += 1;
        if self.kind == OptimizerKind::Adam {
            // torch.optim.Adam(fused=True): one kernel over every parameter.
            let (m, v): (Vec<Tensor>, Vec<Tensor>) =
                self.state.iter().map(|[a, b]| (a.shallow_clone(), b.shallow_clone())).unzip();
            let params = self.params();
            // autograd.grad may return expanded or strided views (the gradient of a sum is a
            // broadcast); the fused kernel walks memory densely, as .grad's layout contract
            // guarantees in PyTorch, so make each gradient dense first (free when it is).
            let grads: Vec<Tensor> = grads.iter().map(|g| g.contiguous()).collect();
            // As torch.optim does, the step count is advanced before the kernel runs.
            tch::no_grad(|| {
                for t in &mut self.step_tensors {
                    let _ = t.fill_(self.steps as f64);
                }
            });
            tch::no_grad(|| {
                crate::ops::fused_adam(
                    &params,
                    &grads,
                    &m,
                    &v,
                    &self.step_tensors,
                    lr,
                    self.beta1,
                    self.beta2,
                    self.weight_decay,
                    self.eps,
                )
            });
            return;
        }
        tch::no_grad(|| {
            for (((_, p), [s0, s1]), g) in self.params.iter().zip(&mut self.state).zip(grads) {
                let mut p = p.shallow_clone();
                // torch.optim's L2 weight decay: the gradient gains λθ
                let decayed;
                let g = if self.weight_decay > 0.0 {
                    decayed = g + &p * self.weight_decay;
                    &decayed
                } else {
                    g
                };
                match self.kind {
                    OptimizerKind::Adam => unreachable!("Adam takes the fused path"),
                    OptimizerKind::Rmsprop => {
                        let _ = s0.g_mul_scalar_(self.alpha).addcmul_(&(g * (1.0 - self.alpha)), g);
                        let mut avg = s0.sqrt();
                        let _ = avg.g_add_scalar_(self.eps);
                        if self.beta1 > 0.0 {
                            let _ = s1.g_mul_scalar_(self.beta1).addcdiv_(g, &avg);
                            let _ = p.g_add_(&(&*s1 * -lr));
                        } else {
                            let _ = p.addcdiv_(&(g * -lr), &avg);
                        }
                    }
                    OptimizerKind::Sgd => {
                        if self.beta1 > 0.0 {
                            // The buffer starts at zero, so the first update sets it to g exactly.
                            let _ = s0.g_mul_scalar_(self.beta1).g_add_(g);
                            let _ = p.g_add_(&(&*s0 * -lr));
                        } else {
                            let _ = p.g_add_(&(g * -lr));
                        }
                    }
                }
            }
        });
    }

    /// The state as named tensors (`<param>.m`, `<param>.v`).
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        self.params
            .iter()
            .zip(&self.state)
            .flat_map(|((n, _), [a, b])| [(format!("{n}.m"), a.shallow_clone()), (format!("{n}.v"), b.shallow_clone())])
            .collect()
    }

    /// Restores state saved by `state_tensors`; `origin` names the file for errors.
    pub fn load_state(&mut self, saved: &[(String, Tensor)], steps: i64, origin: &std::path::Path) -> Result<()> {
        let map: std::collections::HashMap<&str, &Tensor> = saved.iter().map(|(n, t)| (n.as_str(), t)).collect();
        tch::no_grad(|| {
            for ((n, p), state) in self.params.iter().zip(&mut self.state) {
                for (suffix, s) in ["m", "v"].iter().zip(state.iter_mut()) {
                    let key = format!("{n}.{suffix}");
                    let src = map.get(key.as_str()).ok_or_else(|| Error::Checkpoint {
                        path: origin.to_path_buf(),
                        msg: format!("has no optimiser state `{key}`; it was written by another configuration"),
                    })?;
                    if src.size() != p.size() || src.kind() != p.kind() {
                        return Err(Error::Checkpoint {
                            path: origin.to_path_buf(),
                            msg: format!(
                                "optimiser state `{key}` is {:?} {:?}, where the parameter is {:?} {:?}",
                                src.kind(),
                                src.size(),
                                p.kind(),
                                p.size()
                            ),
                        });
                    }
                    s.copy_(src);
                }
            }
            Ok(())
        })?;
        self.steps = steps;
        tch::no_grad(|| {
            for t in &mut self.step_tensors {
                let _ = t.fill_(steps as f64);
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn cfg(kind: OptimizerKind, beta1: f64) -> TrainConfig {
        TrainConfig { optimizer: kind, beta1, beta2: 0.999, eps: 1e-8, rmsprop_alpha: 0.99, ..Default::default() }
    }

    #[test]
    fn adam_handles_broadcast_gradients() {
        // The gradient of q.sum() is an expanded view of one value; every element must move.
        let q = Tensor::ones([2, 2], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
        let mut o = Optimizer::new(&TrainConfig::default(), vec![("q".into(), q.shallow_clone())]);
        let g = Tensor::run_backward(&[q.sum(Kind::Float)], &[&q], false, false);
        o.step(&g, 0.1);
        let v: Vec<f32> = q.detach().flatten(0, -1).try_into().unwrap();
        // Adam's first step moves each element by lr·sign(g) (up to ε): 1 − 0.1 = 0.9.
        assert!(v.iter().all(|x| (x - 0.9).abs() < 1e-6), "{v:?}");
    }

    /// Three updates of p = [1, −2, 3] with gradients g_k = [0.1k, −0.2, 0.3/k], k = 1..3.
    fn run(kind: OptimizerKind, beta1: f64, lr: f64) -> Vec<f64> {
        run_decayed(kind, beta1, lr, 0.0)
    }

    fn run_decayed(kind: OptimizerKind, beta1: f64, lr: f64, weight_decay: f64) -> Vec<f64> {
        let p = Tensor::from_slice(&[1.0f64, -2.0, 3.0]).set_requires_grad(true);
        let mut o =
            Optimizer::new(&TrainConfig { weight_decay, ..cfg(kind, beta1) }, vec![("p".into(), p.shallow_clone())]);
        for k in 1..=3 {
            let kf = k as f64;
            let g = Tensor::from_slice(&[0.1 * kf, -0.2, 0.3 / kf]).to_kind(Kind::Double);
            o.step(&[g], lr);
        }
        p.detach().try_into().unwrap()
    }

    fn close(got: &[f64], want: &[f64]) {
        for (a, b) in got.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{got:?} vs {want:?}");
        }
    }

    // Expected values from PyTorch 2.11.0, float64:
    //   p = torch.tensor([1., -2., 3.], dtype=torch.float64, requires_grad=True)
    //   opt = torch.optim.Adam([p], lr=0.1, betas=(0.5, 0.999), eps=1e-8)  (and fused=True)
    //   (RMSprop(lr=0.01, alpha=0.99, eps=1e-8, momentum=m); SGD(lr=0.1, momentum=m))
    //   for k in (1, 2, 3):
    //       p.grad = torch.tensor([0.1*k, -0.2, 0.3/k], dtype=torch.float64); opt.step()
    #[test]
    fn adam_matches_pytorch() {
        close(&run(OptimizerKind::Adam, 0.5, 0.1), &ADAM);
        close(&run(OptimizerKind::Adam, 0.5, 0.1), &ADAM_FUSED);
    }

    #[test]
    fn rmsprop_matches_pytorch() {
        close(&run(OptimizerKind::Rmsprop, 0.0, 0.01), &RMSPROP);
        close(&run(OptimizerKind::Rmsprop, 0.9, 0.01), &RMSPROP_MOMENTUM);
    }

    #[test]
    fn sgd_matches_pytorch() {
        close(&run(OptimizerKind::Sgd, 0.0, 0.1), &SGD);
        close(&run(OptimizerKind::Sgd, 0.9, 0.1), &SGD_MOMENTUM);
    }

    // The same protocol with weight_decay=0.01 in each optimiser (PyTorch 2.11.0, float64;
    // Adam fused=True, RMSprop momentum 0, SGD momentum 0.9).
    #[test]
    fn weight_decay_matches_pytorch() {
        close(
            &run_decayed(OptimizerKind::Adam, 0.5, 0.1, 0.01),
            &[0.6824594475238671, -1.7002720902108415, 2.738691388390794],
        );
        close(
            &run_decayed(OptimizerKind::Rmsprop, 0.0, 0.01, 0.01),
            &[0.7318674667597477, -1.7714598438187685, 2.8194874953942524],
        );
        close(
            &run_decayed(OptimizerKind::Sgd, 0.9, 0.1, 0.01),
            &[0.8993527889999999, -1.8766855779999998, 2.863513367],
        );
    }

    include!("optim_reference.rs");
}
