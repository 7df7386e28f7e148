//! StackGAN's networks (Zhang et al. 2017; the hanzhanggit/StackGAN-Pytorch layer plan, with
//! widths as settings):
//!
//! - `CondAug`, conditioning augmentation: a caption embedding → linear → ReLU → (μ, log σ²),
//!   c = μ + σ·ε (StackGAN's; the ReLU keeps μ ≥ 0 and σ ≥ 1), or → linear to twice the width →
//!   gated linear unit → (μ, log σ²) (StackGAN++'s and AttnGAN's, `Ca::Glu`: either sign, any σ);
//! - `Stage1G`: [z ‖ c] → linear (no bias) → batch norm → ReLU → `width` × 4 × 4, then
//!   (nearest ×2, 3×3 conv, batch norm, ReLU) blocks halving the channels up to the image side,
//!   a 3×3 conv to the image channels, tanh;
//! - `Stage2G`: the Stage-I image encoded by a 3×3 conv and two stride-2 4×4 convs (batch norm,
//!   ReLU), joined with its own c tiled over the map by a 3×3 conv, residual blocks, then four
//!   upsampling blocks: 4× the Stage-I side;
//! - `Discriminator`: stride-2 4×4 convs (leaky ReLU 0.2, batch norm after the first) doubling
//!   the channels down to 4 × 4, 3×3 convs halving them back to 8 × the first width when deeper
//!   (Stage-II), then the conditional logit: the map joined with μ tiled, 3×3 conv, batch norm,
//!   leaky ReLU, and a 4×4 conv of stride 4 to one logit; optionally (the reference's Stage II,
//!   `get_uncond_logits`) a second, unconditional logit: a 4×4 conv of stride 4 on the map alone.
//!
//! Batch-norm layers are named `norm…`, so DCGAN initialisation (N(0, 0.02) weights, N(1, 0.02)
//! norm scales), which the reference also uses, applies.
use super::{Norm, NormLayer, maybe};
use serde::{Deserialize, Serialize};
use tch::nn;
use tch::{Kind, Tensor};

/// How conditioning augmentation turns an embedding into (μ, log σ²).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ca {
    /// StackGAN's: ReLU(linear) split in two halves, so μ ≥ 0 and σ ≥ 1.
    #[default]
    Relu,
    /// StackGAN++'s and AttnGAN's: a linear layer to 4 × c, a gated linear unit (a ⊙ sigmoid(b))
    /// to 2 × c, split in two halves: μ and log σ² of either sign.
    Glu,
}

/// What conditioning augmentation reads and makes: the caption embedding's width, c's width and
/// the form.
#[derive(Clone, Copy, Debug)]
pub struct CaSpec {
    pub text_dim: i64,
    pub c_dim: i64,
    pub kind: Ca,
}

fn conv(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64, bias: bool) -> nn::Conv2D {
    let padding = if k == 3 || (k == 4 && stride == 2) { 1 } else { 0 };
    nn::conv2d(p, cin, cout, k, nn::ConvConfig { stride, padding, bias, ..Default::default() })
}

fn norm2d(p: nn::Path, ch: i64) -> Option<NormLayer> {
    NormLayer::new(p, Norm::Batch, &[ch, 1, 1])
}

/// Conditioning augmentation.
#[derive(Debug)]
pub struct CondAug {
    fc: nn::Linear,
    pub c_dim: i64,
    kind: Ca,
}

impl CondAug {
    pub fn new(p: nn::Path, spec: CaSpec) -> CondAug {
        let out = match spec.kind {
            Ca::Relu => 2 * spec.c_dim,
            Ca::Glu => 4 * spec.c_dim,
        };
        CondAug { fc: nn::linear(p / "fc", spec.text_dim, out, Default::default()), c_dim: spec.c_dim, kind: spec.kind }
    }

    /// (μ, log σ²) of caption embeddings `[n, text_dim]`.
    pub fn moments(&self, text: &Tensor) -> (Tensor, Tensor) {
        let h = text.apply(&self.fc);
        let h = match self.kind {
            Ca::Relu => h.relu(),
            Ca::Glu => h.narrow(1, 0, 2 * self.c_dim) * h.narrow(1, 2 * self.c_dim, 2 * self.c_dim).sigmoid(),
        };
        (h.narrow(1, 0, self.c_dim), h.narrow(1, self.c_dim, self.c_dim))
    }

    /// (c, μ, log σ²), c = μ + exp(log σ² / 2)·ε with ε from the global generator.
    pub fn forward(&self, text: &Tensor) -> (Tensor, Tensor, Tensor) {
        let (mu, logvar) = self.moments(text);
        let c = &mu + (&logvar * 0.5).exp() * mu.randn_like();
        (c, mu, logvar)
    }

    /// c for a given ε `[n, c_dim]` (sampling with noise a user can pass again); `None`: c = μ.
    pub fn with_noise(&self, text: &Tensor, eps: Option<&Tensor>) -> Tensor {
        let (mu, logvar) = self.moments(text);
        match eps {
            Some(e) => &mu + (&logvar * 0.5).exp() * e,
            None => mu,
        }
    }
}

/// KL(N(μ, σ²) ‖ N(0, I)), averaged over batch and dimensions (the reference's `KL_loss`):
/// mean(μ² + σ² − 1 − log σ²) / 2.
pub fn kl(mu: &Tensor, logvar: &Tensor) -> Tensor {
    (mu.square() + logvar.exp() - 1.0 - logvar).mean(Kind::Float) * 0.5
}

/// Nearest ×2, 3×3 conv, batch norm, ReLU.
#[derive(Debug)]
struct Up {
    conv: nn::Conv2D,
    norm: Option<NormLayer>,
}

impl Up {
    fn new(p: &nn::Path, i: usize, cin: i64, cout: i64) -> Up {
        Up { conv: conv(p / format!("up{i}"), cin, cout, 3, 1, false), norm: norm2d(p / format!("norm_up{i}"), cout) }
    }

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let s = x.size();
        let x = x.upsample_nearest2d([s[2] * 2, s[3] * 2], None, None);
        maybe(&self.norm, x.apply(&self.conv), train).relu()
    }
}

/// The number of ×2 steps from 4 to `size` (a power of two ≥ 8).
pub fn doublings(size: i64) -> Option<usize> {
    (size >= 8 && (size as u64).is_power_of_two()).then(|| (size / 4).trailing_zeros() as usize)
}

#[derive(Debug)]
pub struct Stage1G {
    pub ca: CondAug,
    fc: nn::Linear,
    norm_fc: Option<NormLayer>,
    ups: Vec<Up>,
    out: nn::Conv2D,
    width: i64,
}

impl Stage1G {
    /// Images of `channels` × `size` (a power of two ≥ 8) from z of `z_dim` and a caption.
    pub fn new(p: nn::Path, z_dim: i64, ca: CaSpec, width: i64, channels: i64, size: i64) -> Stage1G {
        let steps = doublings(size).expect("size checked by the method");
        let mut ups = vec![];
        let mut ch = width;
        for i in 0..steps {
            let next = (ch / 2).max(8);
            ups.push(Up::new(&p, i, ch, next));
            ch = next;
        }
        Stage1G {
            ca: CondAug::new(&p / "ca", ca),
            fc: nn::linear(
                &p / "fc",
                z_dim + ca.c_dim,
                width * 16,
                nn::LinearConfig { bias: false, ..Default::default() },
            ),
            norm_fc: NormLayer::new(&p / "norm_fc", Norm::Batch, &[width * 16]),
            ups,
            out: conv(&p / "out", ch, channels, 3, 1, false),
            width,
        }
    }

    /// (images, μ, log σ²) for noise `z` and caption embeddings `text`.
    pub fn forward(&self, z: &Tensor, text: &Tensor, train: bool) -> (Tensor, Tensor, Tensor) {
        let (c, mu, logvar) = self.ca.forward(text);
        (self.from_code(z, &c, train), mu, logvar)
    }

    /// Images for noise `z` and an augmented code `c`.
    pub fn from_code(&self, z: &Tensor, c: &Tensor, train: bool) -> Tensor {
        let h = maybe(&self.norm_fc, Tensor::cat(&[z, c], 1).apply(&self.fc), train).relu();
        let mut h = h.view([-1, self.width, 4, 4]);
        for up in &self.ups {
            h = up.forward(&h, train);
        }
        h.apply(&self.out).tanh()
    }
}

#[derive(Debug)]
struct ResBlock {
    conv0: nn::Conv2D,
    norm0: Option<NormLayer>,
    conv1: nn::Conv2D,
    norm1: Option<NormLayer>,
}

impl ResBlock {
    fn new(p: &nn::Path, i: usize, ch: i64) -> ResBlock {
        ResBlock {
            conv0: conv(p / format!("res{i}_conv0"), ch, ch, 3, 1, false),
            norm0: norm2d(p / format!("norm_res{i}_0"), ch),
            conv1: conv(p / format!("res{i}_conv1"), ch, ch, 3, 1, false),
            norm1: norm2d(p / format!("norm_res{i}_1"), ch),
        }
    }

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let h = maybe(&self.norm0, x.apply(&self.conv0), train).relu();
        (maybe(&self.norm1, h.apply(&self.conv1), train) + x).relu()
    }
}

#[derive(Debug)]
pub struct Stage2G {
    pub ca: CondAug,
    enc0: nn::Conv2D,
    enc1: nn::Conv2D,
    norm_enc1: Option<NormLayer>,
    enc2: nn::Conv2D,
    norm_enc2: Option<NormLayer>,
    joint: nn::Conv2D,
    norm_joint: Option<NormLayer>,
    res: Vec<ResBlock>,
    ups: Vec<Up>,
    out: nn::Conv2D,
}

impl Stage2G {
    /// 4× a Stage-I image of `channels`; `width` the first encoder conv's channels (the
    /// reference's 128).
    pub fn new(p: nn::Path, ca: CaSpec, width: i64, channels: i64, res_blocks: usize) -> Stage2G {
        let deep = width * 4;
        let mut ups = vec![];
        let mut ch = deep;
        for i in 0..4 {
            let next = (ch / 2).max(8);
            ups.push(Up::new(&p, i, ch, next));
            ch = next;
        }
        Stage2G {
            ca: CondAug::new(&p / "ca", ca),
            enc0: conv(&p / "enc0", channels, width, 3, 1, false),
            enc1: conv(&p / "enc1", width, width * 2, 4, 2, false),
            norm_enc1: norm2d(&p / "norm_enc1", width * 2),
            enc2: conv(&p / "enc2", width * 2, deep, 4, 2, false),
            norm_enc2: norm2d(&p / "norm_enc2", deep),
            joint: conv(&p / "joint", deep + ca.c_dim, deep, 3, 1, false),
            norm_joint: norm2d(&p / "norm_joint", deep),
            res: (0..res_blocks).map(|i| ResBlock::new(&p, i, deep)).collect(),
            ups,
            out: conv(&p / "out", ch, channels, 3, 1, false),
        }
    }

    /// (images, μ, log σ²) from Stage-I images and caption embeddings.
    pub fn forward(&self, low: &Tensor, text: &Tensor, train: bool) -> (Tensor, Tensor, Tensor) {
        let (c, mu, logvar) = self.ca.forward(text);
        (self.from_code(low, &c, train), mu, logvar)
    }

    pub fn from_code(&self, low: &Tensor, c: &Tensor, train: bool) -> Tensor {
        let h = low.apply(&self.enc0).relu();
        let h = maybe(&self.norm_enc1, h.apply(&self.enc1), train).relu();
        let h = maybe(&self.norm_enc2, h.apply(&self.enc2), train).relu();
        // −1 keeps the batch, so a traced export takes any batch size
        let s = h.size();
        let tiled = c.view([-1, c.size()[1], 1, 1]).expand([-1, -1, s[2], s[3]], false);
        let mut h = maybe(&self.norm_joint, Tensor::cat(&[&h, &tiled], 1).apply(&self.joint), train).relu();
        for r in &self.res {
            h = r.forward(&h, train);
        }
        for up in &self.ups {
            h = up.forward(&h, train);
        }
        h.apply(&self.out).tanh()
    }
}

/// The matching-aware discriminator of either stage.
#[derive(Debug)]
pub struct Discriminator {
    downs: Vec<(nn::Conv2D, Option<NormLayer>)>,
    reduce: Vec<(nn::Conv2D, Option<NormLayer>)>,
    joint: nn::Conv2D,
    norm_joint: Option<NormLayer>,
    logit: nn::Conv2D,
    uncond: Option<nn::Conv2D>,
}

impl Discriminator {
    /// `uncond`: also the unconditional logit (the reference's Stage-II discriminator).
    pub fn new(p: nn::Path, channels: i64, size: i64, width: i64, c_dim: i64, uncond: bool) -> Discriminator {
        let steps = doublings(size).expect("size checked by the method");
        let mut downs = vec![];
        let (mut cin, mut ch) = (channels, width);
        for i in 0..steps {
            let norm = (i > 0).then(|| norm2d(&p / format!("norm_down{i}"), ch)).flatten();
            downs.push((conv(&p / format!("down{i}"), cin, ch, 4, 2, false), norm));
            cin = ch;
            ch *= 2;
        }
        let mut reduce = vec![];
        let mut i = 0;
        while cin > width * 8 {
            reduce.push((
                conv(&p / format!("reduce{i}"), cin, cin / 2, 3, 1, false),
                norm2d(&p / format!("norm_reduce{i}"), cin / 2),
            ));
            cin /= 2;
            i += 1;
        }
        Discriminator {
            downs,
            reduce,
            joint: conv(&p / "joint", cin + c_dim, cin, 3, 1, false),
            norm_joint: norm2d(&p / "norm_joint", cin),
            logit: nn::conv2d(&p / "logit", cin, 1, 4, nn::ConvConfig { stride: 4, ..Default::default() }),
            uncond: uncond.then(|| {
                nn::conv2d(&p / "uncond_logit", cin, 1, 4, nn::ConvConfig { stride: 4, ..Default::default() })
            }),
        }
    }

    /// One unconditional logit per row of features `h` (realism whatever the caption), when
    /// built with it.
    pub fn uncond_logits(&self, h: &Tensor) -> Option<Tensor> {
        self.uncond.as_ref().map(|c| h.apply(c).view([-1]))
    }

    /// The image's 4 × 4 feature map.
    pub fn features(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = x.shallow_clone();
        for (c, n) in self.downs.iter().chain(&self.reduce) {
            h = crate::ops::leaky_relu(&maybe(n, h.apply(c), train), 0.2);
        }
        h
    }

    /// One logit per row of features `h` and condition `mu`.
    pub fn logits(&self, h: &Tensor, mu: &Tensor, train: bool) -> Tensor {
        let s = h.size();
        let tiled = mu.view([s[0], -1, 1, 1]).expand([s[0], mu.size()[1], s[2], s[3]], false);
        let j = crate::ops::leaky_relu(
            &maybe(&self.norm_joint, Tensor::cat(&[h, &tiled], 1).apply(&self.joint), train),
            0.2,
        );
        j.apply(&self.logit).view([-1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn kl_by_hand() {
        // μ = (1, 0), log σ² = (0, ln 2): ((1 + 1 − 1 − 0) + (0 + 2 − 1 − ln 2)) / 2 / 2
        let mu = Tensor::from_slice(&[1f32, 0.0]).view([1, 2]);
        let lv = Tensor::from_slice(&[0f32, 2f32.ln()]).view([1, 2]);
        let want = ((1.0) + (1.0 - 2f64.ln())) / 2.0 / 2.0;
        assert!((kl(&mu, &lv).double_value(&[]) - want).abs() < 1e-6);
        // the prior itself costs nothing
        assert_eq!(
            kl(&Tensor::zeros([3, 4], (Kind::Float, Device::Cpu)), &Tensor::zeros([3, 4], (Kind::Float, Device::Cpu)))
                .double_value(&[]),
            0.0
        );
    }

    #[test]
    fn both_conditioning_forms_by_hand() {
        // one embedding dimension, c of 1; fc's weights 1, 2 (relu) or 1, 2, 3, 4 (glu), no bias
        let vs = nn::VarStore::new(Device::Cpu);
        let make = |name: &str, kind: Ca, w: &[f32]| {
            let mut ca = CondAug::new(vs.root() / name, CaSpec { text_dim: 1, c_dim: 1, kind });
            tch::no_grad(|| {
                ca.fc.ws.copy_(&Tensor::from_slice(w).view([w.len() as i64, 1]));
                let _ = ca.fc.bs.as_mut().expect("a bias").zero_();
            });
            ca
        };
        let e = Tensor::from_slice(&[1f32, -1.0]).view([2, 1]);
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        // GLU: h = (w e), μ = h₀ σ(h₂), log σ² = h₁ σ(h₃)
        let (mu, lv) = make("glu", Ca::Glu, &[1.0, 2.0, 3.0, 4.0]).moments(&e);
        let want_mu = [sig(3.0), -sig(-3.0)];
        let want_lv = [2.0 * sig(4.0), -2.0 * sig(-4.0)];
        for i in 0..2 {
            assert!((mu.double_value(&[i as i64, 0]) - want_mu[i]).abs() < 1e-6);
            assert!((lv.double_value(&[i as i64, 0]) - want_lv[i]).abs() < 1e-6);
        }
        // ReLU: μ = max(0, e), log σ² = max(0, 2e): never negative, so σ ≥ 1
        let (mu, lv) = make("relu", Ca::Relu, &[1.0, 2.0]).moments(&e);
        assert_eq!(Vec::<f32>::try_from(mu.view([-1])).unwrap(), [1.0, 0.0]);
        assert_eq!(Vec::<f32>::try_from(lv.view([-1])).unwrap(), [2.0, 0.0]);
    }

    #[test]
    fn shapes_of_both_stages() {
        let vs = nn::VarStore::new(Device::Cpu);
        let ca = CaSpec { text_dim: 16, c_dim: 8, kind: Ca::Relu };
        let g1 = Stage1G::new(vs.root() / "g1", 10, ca, 32, 3, 32);
        let text = Tensor::randn([2, 16], (Kind::Float, Device::Cpu));
        let (x, mu, _) = g1.forward(&Tensor::randn([2, 10], (Kind::Float, Device::Cpu)), &text, true);
        assert_eq!(x.size(), [2, 3, 32, 32]);
        let g2 = Stage2G::new(vs.root() / "g2", CaSpec { kind: Ca::Glu, ..ca }, 8, 3, 2);
        let (y, _, _) = g2.forward(&x, &text, true);
        assert_eq!(y.size(), [2, 3, 128, 128]);
        let d1 = Discriminator::new(vs.root() / "d1", 3, 32, 8, 8, false);
        assert_eq!(d1.logits(&d1.features(&x, true), &mu, true).size(), [2]);
        assert!(d1.uncond_logits(&d1.features(&x, true)).is_none());
        let d2 = Discriminator::new(vs.root() / "d2", 3, 128, 4, 8, true);
        let h = d2.features(&y, true);
        // 128 → 4 in five halvings to 64 channels, reduced to 8 × 4 = 32
        assert_eq!(h.size(), [2, 32, 4, 4]);
        assert_eq!(d2.logits(&h, &mu, true).size(), [2]);
        assert_eq!(d2.uncond_logits(&h).map(|t| t.size()), Some(vec![2]));
        assert_eq!(doublings(32), Some(3));
        assert_eq!(doublings(28), None);
    }
}
