//! The PatchGAN discriminator of pix2pix and CycleGAN: conv 4 stride 2 → ndf (no norm,
//! LeakyReLU 0.2), then `layers − 1` more stride-2 conv 4 doubling the width (up to 8·ndf), one
//! stride-1 conv 4, and a stride-1 conv 4 to one map of patch logits; padding 1, no sigmoid.
//! With 3 layers each output sees a 70 × 70 patch.
use super::Critic;
use super::resnet::{Norm2d, NormLayer2d};
use crate::ops::leaky_relu;
use tch::{Tensor, nn};

#[derive(Debug)]
pub struct PatchGan {
    convs: Vec<(nn::Conv2D, Option<NormLayer2d>)>,
    out: nn::Conv2D,
}

impl PatchGan {
    pub fn new(p: nn::Path, c_in: i64, ndf: i64, layers: i64, norm: Norm2d) -> PatchGan {
        let conv = |q: nn::Path, cin: i64, cout: i64, stride: i64| {
            nn::conv2d(q, cin, cout, 4, nn::ConvConfig { stride, padding: 1, bias: true, ..Default::default() })
        };
        let mut convs = vec![(conv(&p / "conv0", c_in, ndf, 2), None)];
        let mut width = ndf;
        for i in 1..=layers {
            let next = ndf * (1 << i).min(8);
            let stride = if i < layers { 2 } else { 1 };
            let q = &p / format!("conv{i}");
            convs.push((conv(&q / "conv", width, next, stride), Some(norm.at(&q / "norm", next))));
            width = next;
        }
        PatchGan { convs, out: conv(&p / "out", width, 1, 1) }
    }
}

impl Critic for PatchGan {
    /// Patch logits `[n, 1, h', w']` and the activations of each hidden layer.
    fn forward_features(&self, x: &Tensor, train: bool) -> (Tensor, Vec<Tensor>) {
        let mut h = x.shallow_clone();
        let mut features = vec![];
        for (conv, norm) in &self.convs {
            h = h.apply(conv);
            if let Some(n) = norm {
                h = n.forward(&h, train);
            }
            h = leaky_relu(&h, 0.2);
            features.push(h.shallow_clone());
        }
        (h.apply(&self.out), features)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_maps_of_the_reference_sizes() {
        // 3 layers at 256²: 128, 64, 32 after the stride-2 convs, 31 and 30 after the stride-1
        // ones (a 30 × 30 map of 70 × 70 patches); 2,764,737 parameters by hand, which the
        // CycleGAN reference prints as 2.765 M for NLayerDiscriminator(3, 64, 3) with instance
        // norm (no affine parameters, biased convolutions)
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let d = PatchGan::new(vs.root(), 3, 64, 3, Norm2d::Instance);
        let (y, f) = d.forward_features(&Tensor::rand([1, 3, 256, 256], tch::kind::FLOAT_CPU), true);
        assert_eq!(y.size(), vec![1, 1, 30, 30]);
        assert_eq!(f.len(), 4);
        let n: i64 = vs.trainable_variables().iter().map(|t| t.numel() as i64).sum();
        let want = 3 * 64 * 16 + 64 + 64 * 128 * 16 + 128 + 128 * 256 * 16 + 256 + 256 * 512 * 16 + 512 + 512 * 16 + 1;
        assert_eq!(n, want);
        assert_eq!(want, 2_764_737);
        // odd sizes: 2 layers on 28 × 36 give (28 → 14 → 7 → 6 → 5) × (36 → 18 → 9 → 8 → 7)
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let d = PatchGan::new(vs.root(), 1, 8, 2, Norm2d::Instance);
        assert_eq!(
            d.forward_features(&Tensor::rand([2, 1, 28, 36], tch::kind::FLOAT_CPU), true).0.size(),
            vec![2, 1, 5, 7]
        );
    }
}
