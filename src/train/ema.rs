//! An exponential moving average of a network's weights (θ̄ ← d·θ̄ + (1 − d)·θ); buffers such
//! as batch-norm statistics are copied. Sampling from the average calms the swings of a
//! generator from step to step.
//!
//! The decay warms up as TensorFlow's `ExponentialMovingAverage(num_updates)` does: update t
//! uses min(d, (1 + t)/(10 + t)), so early averages forget the random initial weights. Without
//! it a decay of 0.999 still gives the initialisation 37 % of the weight after 1,000 updates,
//! and a generator averaged that way draws one blank image whatever z is (measured on AC-GAN).
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

    /// The decay of update `t` (1 for the first).
    pub fn decay_at(&self, t: i64) -> f64 {
        let t = t.max(1) as f64;
        self.decay.min((1.0 + t) / (10.0 + t))
    }

    /// Update `t` (1 for the first after the copy).
    pub fn update(&self, t: i64) {
        let decay = self.decay_at(t);
        tch::no_grad(|| {
            for (live, avg, trainable) in &self.pairs {
                let mut avg = avg.shallow_clone();
                if *trainable {
                    let _ = avg.lerp_(live, 1.0 - decay);
                } else {
                    avg.copy_(live);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::VarStore;

    #[test]
    fn warm_up_then_the_set_decay() {
        let live = VarStore::new(tch::Device::Cpu);
        let w = live.root().var("w", &[1], tch::nn::Init::Const(0.0));
        let averaged = VarStore::new(tch::Device::Cpu);
        let a = averaged.root().var("w", &[1], tch::nn::Init::Const(5.0));
        let ema = Ema::new(0.999, &live, &averaged);
        assert_eq!(a.double_value(&[0]), 0.0, "starts as a copy");
        // by hand: update 1 uses min(0.999, 2/11), update 1000 uses min(0.999, 1001/1010)
        assert!((ema.decay_at(1) - 2.0 / 11.0).abs() < 1e-12);
        assert!((ema.decay_at(1000) - 1001.0 / 1010.0).abs() < 1e-12);
        assert_eq!(ema.decay_at(100_000), 0.999);
        tch::no_grad(|| {
            let _ = w.shallow_clone().fill_(1.0);
        });
        ema.update(1);
        // θ̄ = (2/11)·0 + (9/11)·1
        assert!((a.double_value(&[0]) - 9.0 / 11.0).abs() < 1e-6);
    }
}
