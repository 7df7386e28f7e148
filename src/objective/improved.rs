//! Generator and regulariser terms of "Improved Techniques for Training GANs" (Salimans et al.
//! 2016) that are pure functions: feature matching (§3.1) and historical averaging (§3.3).
//! Minibatch discrimination is a layer (`nets::minibatch`); one-sided label smoothing is
//! `Adversarial::d_loss_smoothed`.
use super::FeatureDistance;
use tch::{Kind, Tensor};

/// The gap between the batch means of a discriminator layer's activations on real (`real`,
/// treated as a constant) and generated (`fake`) data: ‖E f(x) − E f(G(z))‖² (`L2`, the paper's)
/// or the mean over features of |E f(x) − E f(G(z))| (`L1`, the authors' MNIST code).
pub fn feature_matching(real: &Tensor, fake: &Tensor, distance: FeatureDistance) -> Tensor {
    let mr = real.detach().flatten(1, -1).mean_dim(0, false, Kind::Float);
    let mf = fake.flatten(1, -1).mean_dim(0, false, Kind::Float);
    match distance {
        FeatureDistance::L2 => (mr - mf).square().sum(Kind::Float),
        FeatureDistance::L1 => (mr - mf).abs().mean(Kind::Float),
    }
}

/// The hidden layer `feature_layer` names among `layers` (0-based; negative counts from the
/// last, −1 being the last), clamped to the layers there are.
pub fn layer_index(feature_layer: i64, layers: usize) -> usize {
    let n = layers as i64;
    let i = if feature_layer < 0 { n + feature_layer } else { feature_layer };
    i.clamp(0, n - 1) as usize
}

/// Σ ‖θ − θ̄‖² over parameters and their historical means (constants).
pub fn historical_penalty(params: &[Tensor], means: &[Tensor]) -> Tensor {
    params
        .iter()
        .zip(means)
        .map(|(p, m)| (p - m.detach()).square().sum(Kind::Float))
        .reduce(|a, b| a + b)
        .unwrap_or_else(|| Tensor::zeros([], (Kind::Float, tch::Device::Cpu)))
}

/// Folds the parameters into their running means: θ̄ ← θ̄ + (θ − θ̄)/count, where `count` is the
/// number of parameter values averaged so far including this one (θ̄ starts as θ₀, count 1).
pub fn update_means(params: &[Tensor], means: &[Tensor], count: i64) {
    tch::no_grad(|| {
        for (p, m) in params.iter().zip(means) {
            let mut m = m.shallow_clone();
            let _ = m.g_add_(&((p - &m) / count as f64));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_matching_by_hand() {
        // real means (1, 2), fake means (0, 4): ‖(1, −2)‖² = 5.
        let real = Tensor::from_slice(&[0.0f32, 2.0, 2.0, 2.0]).view([2, 2]);
        let fake = Tensor::from_slice(&[0.0f32, 3.0, 0.0, 5.0]).view([2, 2]);
        assert!((feature_matching(&real, &fake, FeatureDistance::L2).double_value(&[]) - 5.0).abs() < 1e-6);
        // the same means with L1: (|1| + |−2|)/2 = 1.5
        assert!((feature_matching(&real, &fake, FeatureDistance::L1).double_value(&[]) - 1.5).abs() < 1e-6);
    }

    #[test]
    fn running_mean_and_penalty_by_hand() {
        // θ values 1, 3, 8 averaged one by one: means 1, 2, 4; penalty at θ = 6 is (6 − 4)² = 4.
        let p = Tensor::from_slice(&[1.0f32]);
        let m = Tensor::from_slice(&[1.0f32]);
        for (k, v) in [(2, 3.0), (3, 8.0)] {
            let _ = tch::no_grad(|| p.shallow_clone().fill_(v));
            update_means(&[p.shallow_clone()], &[m.shallow_clone()], k);
        }
        assert!((m.double_value(&[0]) - 4.0).abs() < 1e-6);
        let _ = tch::no_grad(|| p.shallow_clone().fill_(6.0));
        assert!((historical_penalty(&[p], &[m]).double_value(&[]) - 4.0).abs() < 1e-6);
    }
}
