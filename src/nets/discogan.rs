//! DiscoGAN's networks (Kim et al. 2017, the authors' PyTorch code), for images in [0, 1]:
//! - generator: an encoder of `depth` stride-2 conv 4 (ngf, 2·ngf, …; LeakyReLU 0.2, batch norm
//!   from the second on) and a decoder of `depth` stride-2 transposed conv 4 back to the input's
//!   size (batch norm + ReLU, the last to the channels), no biases; its output are logits, a
//!   sigmoid away from [0, 1] (at 64 px, depth 4: 64 → 4 → 64);
//! - discriminator: the same encoder, then a conv 4 (stride 1, no padding) to one logit, no
//!   biases; the activations after each normalised layer serve feature matching.
use super::Critic;
use crate::ops::leaky_relu;
use tch::Tensor;
use tch::nn::{self, ModuleT};

fn conv(p: nn::Path, cin: i64, cout: i64, stride: i64, padding: i64) -> nn::Conv2D {
    nn::conv2d(p, cin, cout, 4, nn::ConvConfig { stride, padding, bias: false, ..Default::default() })
}

fn norm(p: nn::Path, c: i64) -> nn::BatchNorm {
    let cfg =
        nn::BatchNormConfig { ws_init: nn::Init::Const(1.0), bs_init: nn::Init::Const(0.0), ..Default::default() };
    nn::batch_norm2d(p, c, cfg)
}

/// `depth` stride-2 convs from `c_in`: ngf, 2·ngf, 4·ngf, …, batch norm from the second on.
fn encoder(p: &nn::Path, c_in: i64, ngf: i64, depth: i64) -> Vec<(nn::Conv2D, Option<nn::BatchNorm>)> {
    (0..depth)
        .map(|i| {
            let (cin, cout) = (if i == 0 { c_in } else { ngf << (i - 1) }, ngf << i);
            let q = p / format!("enc{i}");
            (conv(&q / "conv", cin, cout, 2, 1), (i > 0).then(|| norm(&q / "norm", cout)))
        })
        .collect()
}

fn encode(
    layers: &[(nn::Conv2D, Option<nn::BatchNorm>)],
    x: &Tensor,
    train: bool,
    mut keep: impl FnMut(&Tensor),
) -> Tensor {
    let mut h = x.shallow_clone();
    for (c, n) in layers {
        h = h.apply(c);
        if let Some(n) = n {
            h = h.apply_t(n, train);
        }
        h = leaky_relu(&h, 0.2);
        if n.is_some() {
            keep(&h);
        }
    }
    h
}

#[derive(Debug)]
pub struct DiscoGenerator {
    enc: Vec<(nn::Conv2D, Option<nn::BatchNorm>)>,
    dec: Vec<(nn::ConvTranspose2D, Option<nn::BatchNorm>)>,
}

impl DiscoGenerator {
    pub fn new(p: nn::Path, c_in: i64, c_out: i64, ngf: i64, depth: i64) -> DiscoGenerator {
        let enc = encoder(&p, c_in, ngf, depth);
        let dec = (0..depth)
            .map(|i| {
                let cin = ngf << (depth - 1 - i);
                let last = i == depth - 1;
                let cout = if last { c_out } else { ngf << (depth - 2 - i) };
                let q = &p / format!("dec{i}");
                let cfg = nn::ConvTransposeConfig { stride: 2, padding: 1, bias: false, ..Default::default() };
                (nn::conv_transpose2d(&q / "conv", cin, cout, 4, cfg), (!last).then(|| norm(&q / "norm", cout)))
            })
            .collect();
        DiscoGenerator { enc, dec }
    }
}

impl super::Staged for DiscoGenerator {
    fn stages(&self) -> Vec<super::Stage<'_>> {
        use super::Stage;
        let mut s: Vec<Stage> = self
            .enc
            .iter()
            .enumerate()
            .map(|(i, (c, n))| {
                Stage::new(format!("enc{i}"), move |h| {
                    let h = h.apply(c);
                    let h = match n {
                        Some(n) => h.apply_t(n, false),
                        None => h,
                    };
                    leaky_relu(&h, 0.2)
                })
            })
            .collect();
        for (i, (c, n)) in self.dec.iter().enumerate() {
            s.push(Stage::new(format!("dec{i}"), move |h| {
                let h = h.apply(c);
                match n {
                    Some(n) => h.apply_t(n, false).relu(),
                    None => h,
                }
            }));
        }
        s
    }
}

impl ModuleT for DiscoGenerator {
    /// Logits of the translated image (a sigmoid gives pixels in [0, 1]).
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = encode(&self.enc, x, train, |_| {});
        for (c, n) in &self.dec {
            h = h.apply(c);
            if let Some(n) = n {
                h = h.apply_t(n, train).relu();
            }
        }
        h
    }
}

#[derive(Debug)]
pub struct DiscoDiscriminator {
    enc: Vec<(nn::Conv2D, Option<nn::BatchNorm>)>,
    out: nn::Conv2D,
}

impl DiscoDiscriminator {
    pub fn new(p: nn::Path, c_in: i64, ndf: i64, depth: i64) -> DiscoDiscriminator {
        DiscoDiscriminator { enc: encoder(&p, c_in, ndf, depth), out: conv(&p / "out", ndf << (depth - 1), 1, 1, 0) }
    }
}

impl Critic for DiscoDiscriminator {
    /// One logit per image (the mean over the output map when the image is larger than the
    /// design size) and the normalised layers' activations.
    fn forward_features(&self, x: &Tensor, train: bool) -> (Tensor, Vec<Tensor>) {
        let mut features = vec![];
        let h = encode(&self.enc, x, train, |f| features.push(f.shallow_clone()));
        (h.apply(&self.out).flatten(1, -1).mean_dim(1, false, tch::Kind::Float), features)
    }
}

/// The toy's networks: fully connected with ReLU hidden layers (as the DiscoGAN-pytorch
/// notebook's), for points; a critic (`critic`) reads out one logit per point.
#[derive(Debug)]
pub struct DiscoMlp {
    layers: Vec<nn::Linear>,
    critic: bool,
}

impl DiscoMlp {
    pub fn new(p: nn::Path, input: i64, hidden: &[i64], output: i64, critic: bool) -> DiscoMlp {
        let mut widths = vec![input];
        widths.extend_from_slice(hidden);
        widths.push(output);
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| nn::linear(&p / format!("fc{i}"), w[0], w[1], Default::default()))
            .collect();
        DiscoMlp { layers, critic }
    }
}

impl super::Staged for DiscoMlp {
    fn stages(&self) -> Vec<super::Stage<'_>> {
        let n = self.layers.len();
        self.layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let last = i + 1 == n;
                super::Stage::new(format!("fc{i}"), move |h| {
                    let h = h.apply(l);
                    match (last, self.critic) {
                        (false, _) => h.relu(),
                        (true, true) => h.squeeze_dim(1),
                        (true, false) => h,
                    }
                })
            })
            .collect()
    }
}

impl ModuleT for DiscoMlp {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        self.forward_features(x, false).0
    }
}

impl Critic for DiscoMlp {
    fn forward_features(&self, x: &Tensor, _train: bool) -> (Tensor, Vec<Tensor>) {
        let mut h = x.shallow_clone();
        let mut features = vec![];
        for (i, l) in self.layers.iter().enumerate() {
            h = h.apply(l);
            if i + 1 < self.layers.len() {
                h = h.relu();
                features.push(h.shallow_clone());
            }
        }
        let out = if self.critic { h.squeeze_dim(1) } else { h };
        (out, features)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_networks_at_64_and_at_32() {
        // at 64 px, depth 4: the reference's Generator() and Discriminator() (3 channels):
        // G: 3·64·16 + 64·128·16 + 128·256·16 + 256·512·16 (encoder) + 512·256·16 + 256·128·16 +
        // 128·64·16 + 64·3·16 (decoder) weights, 2·(128 + 256 + 512 + 256 + 128 + 64) norm values
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let g = DiscoGenerator::new(vs.root(), 3, 3, 64, 4);
        let count = |vs: &nn::VarStore| vs.trainable_variables().iter().map(|t| t.numel() as i64).sum::<i64>();
        let conv_w = 16 * (3 * 64 + 64 * 128 + 128 * 256 + 256 * 512 + 512 * 256 + 256 * 128 + 128 * 64 + 64 * 3);
        assert_eq!(count(&vs), conv_w + 2 * (128 + 256 + 512 + 256 + 128 + 64));
        assert_eq!(g.forward_t(&Tensor::rand([2, 3, 64, 64], tch::kind::FLOAT_CPU), true).size(), vec![2, 3, 64, 64]);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let d = DiscoDiscriminator::new(vs.root(), 3, 64, 4);
        let (y, f) = d.forward_features(&Tensor::rand([2, 3, 64, 64], tch::kind::FLOAT_CPU), true);
        assert_eq!(y.size(), vec![2]);
        assert_eq!(f.iter().map(|t| t.size()[1]).collect::<Vec<_>>(), vec![128, 256, 512], "relu2..relu4");
        assert_eq!(count(&vs), 16 * (3 * 64 + 64 * 128 + 128 * 256 + 256 * 512 + 512) + 2 * (128 + 256 + 512));
        // 32 px with depth 3, grey: 32 → 4 → 32, one logit
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let g = DiscoGenerator::new(vs.root() / "g", 1, 1, 16, 3);
        let d = DiscoDiscriminator::new(vs.root() / "d", 1, 16, 3);
        let x = Tensor::rand([2, 1, 32, 32], tch::kind::FLOAT_CPU);
        assert_eq!(g.forward_t(&x, true).size(), vec![2, 1, 32, 32]);
        assert_eq!(d.forward_features(&x, true).0.size(), vec![2]);
    }
}
