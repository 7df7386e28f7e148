//! Minibatch discrimination (Salimans et al. 2016, §3.2): features f(xᵢ) ∈ R^A are multiplied
//! by a tensor T ∈ R^{A×B×C} into matrices Mᵢ ∈ R^{B×C}; for each of the B kernels,
//! o(xᵢ)_b = Σⱼ exp(−‖M_{i,b} − M_{j,b}‖₁) over the batch (j = i included, as in the paper);
//! the B values are concatenated to the features, so the discriminator sees how close a sample
//! is to the rest of its batch.
use tch::Tensor;
use tch::nn::{self, Init};

#[derive(Debug)]
pub struct MinibatchDiscrimination {
    t: Tensor,
    kernels: i64,
    dims: i64,
}

impl MinibatchDiscrimination {
    pub fn new(p: nn::Path, features: i64, kernels: i64, dims: i64) -> MinibatchDiscrimination {
        let t = p.var("T", &[features, kernels * dims], Init::Randn { mean: 0.0, stdev: 0.05 });
        MinibatchDiscrimination { t, kernels, dims }
    }

    /// Width of the output: the features plus one value per kernel.
    pub fn out_features(features: i64, kernels: i64) -> i64 {
        features + kernels
    }

    /// `[n, A]` → `[n, A + B]`.
    pub fn forward(&self, f: &Tensor) -> Tensor {
        let m = f.matmul(&self.t).view([-1, self.kernels, self.dims]); // [n, B, C]
        let l1 = (m.unsqueeze(1) - m.unsqueeze(0)).abs().sum_dim_intlist(3, false, None::<tch::Kind>); // [n, n, B]
        let o = (-l1).exp().sum_dim_intlist(1, false, None::<tch::Kind>); // [n, B]
        Tensor::cat(&[f, &o], 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        // A = 1, B = 1, C = 2, T = [[1, 2]]: M_i = f_i·(1, 2). For f = (0, 1):
        // ‖M_0 − M_1‖₁ = 1 + 2 = 3, so o = (1 + e⁻³, e⁻³ + 1) for both samples.
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let mut mb = MinibatchDiscrimination::new(vs.root(), 1, 1, 2);
        mb.t = Tensor::from_slice(&[1.0f32, 2.0]).view([1, 2]);
        let out = mb.forward(&Tensor::from_slice(&[0.0f32, 1.0]).view([2, 1]));
        let v: Vec<f32> = out.flatten(0, -1).try_into().unwrap();
        let o = 1.0 + (-3.0f32).exp();
        assert_eq!(v.len(), 4);
        assert!((v[1] - o).abs() < 1e-6 && (v[3] - o).abs() < 1e-6 && v[0] == 0.0 && v[2] == 1.0, "{v:?}");
    }
}
