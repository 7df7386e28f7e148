//! DCGAN networks (Radford et al. 2016), parameterised by image size and channels instead of
//! copied per resolution. The image side is halved L times down to a start size of 4–7
//! (28 → 7 with L = 2, 32 → 4 with L = 3, 64 → 4 with L = 4); widths double with depth from
//! `base_channels`. G: linear → norm → ReLU, then L transposed convolutions (k4 s2 p1), norm and
//! ReLU between them and tanh at the end. D mirrors it with LeakyReLU(0.2), no norm on its first
//! layer, and a linear read-out. At 28×28 with base 64 this is the InfoGAN / Lucic et al. model.
use super::minibatch::MinibatchDiscrimination;
use super::mlp::leaky_relu;
use super::{Critic, NormLayer, maybe};
use crate::config::{ModelConfig, Norm};
use crate::data::Shape;
use crate::error::{Error, Result};
use tch::Tensor;
use tch::nn::{self, ModuleT};

/// (L, start size) for an image side, or an error naming the sizes that work.
pub fn plan(size: i64) -> Result<(usize, i64)> {
    let mut l = 0;
    while size % (1 << (l + 1)) == 0 && size / (1 << (l + 1)) >= 4 {
        l += 1;
    }
    if l < 2 {
        return Err(Error::Config(format!(
            "DCGAN networks need an image side divisible by 4 with at least 16 pixels (28, 32 and 64 work), not {size}; set data.image_size"
        )));
    }
    Ok((l, size >> l))
}

fn image_shape(shape: Shape) -> Result<(i64, i64)> {
    match shape {
        Shape::Image { channels, size } => Ok((channels, size)),
        Shape::Points { dim } => Err(Error::Config(format!(
            "model.arch = \"dcgan\" needs image data, but the data are {dim}-D points; use model.arch = \"mlp\""
        ))),
    }
}

/// Kernel 4, stride 2, padding 1: doubles or halves the side.
fn down(bias: bool) -> nn::ConvConfig {
    nn::ConvConfig { stride: 2, padding: 1, bias, ..Default::default() }
}

fn up(bias: bool) -> nn::ConvTransposeConfig {
    nn::ConvTransposeConfig { stride: 2, padding: 1, bias, ..Default::default() }
}

#[derive(Debug)]
pub struct Generator {
    fc: nn::Linear,
    fc_norm: Option<NormLayer>,
    start: [i64; 3],
    ups: Vec<(nn::ConvTranspose2D, Option<NormLayer>)>,
    out: nn::ConvTranspose2D,
}

impl Generator {
    pub fn new(cfg: &ModelConfig, shape: Shape, p: nn::Path) -> Result<Generator> {
        let (channels, size) = image_shape(shape)?;
        let (l, s0) = plan(size)?;
        let top = cfg.base_channels << (l - 1);
        let has_norm = cfg.g_norm != Norm::None;
        let fc = nn::linear(
            &p / "fc",
            cfg.latent_dim,
            top * s0 * s0,
            nn::LinearConfig { bias: !has_norm, ..Default::default() },
        );
        let fc_norm = NormLayer::new(&p / "norm_fc", cfg.g_norm, &[top * s0 * s0]);
        let mut ups = vec![];
        let (mut ch, mut side) = (top, s0);
        for i in 0..l - 1 {
            let conv = nn::conv_transpose2d(&p / format!("up{i}"), ch, ch / 2, 4, up(!has_norm));
            side *= 2;
            ups.push((conv, NormLayer::new(&p / format!("norm{i}"), cfg.g_norm, &[ch / 2, side, side])));
            ch /= 2;
        }
        let out = nn::conv_transpose2d(&p / "out", ch, channels, 4, up(true));
        Ok(Generator { fc, fc_norm, start: [top, s0, s0], ups, out })
    }
}

impl ModuleT for Generator {
    fn forward_t(&self, z: &Tensor, train: bool) -> Tensor {
        let [c, h, w] = self.start;
        let mut x = maybe(&self.fc_norm, z.apply(&self.fc), train).relu().view([-1, c, h, w]); // [n, 128, 7, 7] at 28×28
        for (conv, norm) in &self.ups {
            x = maybe(norm, x.apply(conv), train).relu(); // side doubles, width halves
        }
        x.apply(&self.out).tanh() // [n, channels, size, size]
    }
}

#[derive(Debug)]
pub struct Discriminator {
    first: nn::Conv2D,
    downs: Vec<(nn::Conv2D, Option<NormLayer>)>,
    out: nn::Linear,
    squeeze: bool,
    minibatch: Option<MinibatchDiscrimination>,
}

impl Discriminator {
    pub fn new(cfg: &ModelConfig, shape: Shape, outputs: i64, p: nn::Path) -> Result<Discriminator> {
        let (channels, size) = image_shape(shape)?;
        let (l, s0) = plan(size)?;
        let has_norm = cfg.d_norm != Norm::None;
        let first = nn::conv2d(&p / "in", channels, cfg.base_channels, 4, down(true));
        let (mut ch, mut side) = (cfg.base_channels, size / 2);
        let mut downs = vec![];
        for i in 0..l - 1 {
            let conv = nn::conv2d(&p / format!("down{i}"), ch, ch * 2, 4, down(!has_norm));
            side /= 2;
            downs.push((conv, NormLayer::new(&p / format!("norm{i}"), cfg.d_norm, &[ch * 2, side, side])));
            ch *= 2;
        }
        let flat = ch * s0 * s0;
        let minibatch = (cfg.minibatch_kernels > 0)
            .then(|| MinibatchDiscrimination::new(&p / "minibatch", flat, cfg.minibatch_kernels, cfg.minibatch_dims));
        let read =
            MinibatchDiscrimination::out_features(flat, if minibatch.is_some() { cfg.minibatch_kernels } else { 0 });
        let out = nn::linear(&p / "out", read, outputs, Default::default());
        Ok(Discriminator { first, downs, out, squeeze: outputs == 1, minibatch })
    }
}

impl Critic for Discriminator {
    fn forward_features(&self, x: &Tensor, train: bool) -> (Tensor, Vec<Tensor>) {
        let mut h = leaky_relu(&x.apply(&self.first)); // [n, 64, 14, 14] at 28×28
        let mut features = vec![h.shallow_clone()];
        for (conv, norm) in &self.downs {
            h = leaky_relu(&maybe(norm, h.apply(conv), train)); // [n, 128, 7, 7]
            features.push(h.shallow_clone());
        }
        let mut f = h.flatten(1, -1); // [n, 6272]
        if let Some(mb) = &self.minibatch {
            f = mb.forward(&f); // [n, 6272 + kernels]
        }
        let y = f.apply(&self.out); // [n, outputs]
        (if self.squeeze { y.squeeze_dim(1) } else { y }, features)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        assert_eq!(plan(28).unwrap(), (2, 7));
        assert_eq!(plan(32).unwrap(), (3, 4));
        assert_eq!(plan(64).unwrap(), (4, 4));
        assert!(plan(30).is_err());
    }

    #[test]
    fn shapes_for_every_size_and_channel_count() {
        use crate::config::ModelConfig;
        use tch::nn::ModuleT;
        for size in [28, 32, 64] {
            for channels in [1, 3] {
                let cfg = ModelConfig { base_channels: 8, ..Default::default() };
                let shape = Shape::Image { channels, size };
                let vs = nn::VarStore::new(tch::Device::Cpu);
                let g = Generator::new(&cfg, shape, vs.root()).unwrap();
                let d = Discriminator::new(&cfg, shape, 1, vs.root() / "d").unwrap();
                let x = g.forward_t(&Tensor::randn([2, cfg.latent_dim], tch::kind::FLOAT_CPU), true);
                assert_eq!(x.size(), vec![2, channels, size, size]);
                assert_eq!(d.forward_t(&x, true).size(), vec![2]);
            }
        }
    }
}
