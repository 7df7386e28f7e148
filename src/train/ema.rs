//! An exponential moving average of a network's weights (θ̄ ← d·θ̄ + (1 − d)·θ); buffers such
//! as batch-norm statistics are copied. Sampling from the average calms the swings of a
//! generator from step to step.
use tch::Tensor;

pub struct Ema {
    decay: f64,
    /// (live, averaged, is_trainable)
    pairs: Vec<(Tensor, Tensor, bool)>,
}

impl Ema {
    /// Pairs the variables of two stores of the same network by name and copies live into
    /// averaged.
    pub fn new(decay: f64, live: &tch::nn::VarStore, averaged: &tch::nn::VarStore) -> Ema {
        let avg = averaged.variables();
        let mut names: Vec<_> = live.variables().into_iter().collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        let pairs = names
            .into_iter()
            .map(|(n, t)| {
                let a = avg[&n].shallow_clone();
                tch::no_grad(|| a.shallow_clone().copy_(&t));
                let trainable = t.requires_grad();
                (t, a, trainable)
            })
            .collect();
        Ema { decay, pairs }
    }

    pub fn update(&self) {
        tch::no_grad(|| {
            for (live, avg, trainable) in &self.pairs {
                let mut avg = avg.shallow_clone();
                if *trainable {
                    let _ = avg.lerp_(live, 1.0 - self.decay);
                } else {
                    avg.copy_(live);
                }
            }
        });
    }
}
