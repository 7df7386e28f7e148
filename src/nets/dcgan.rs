//! DCGAN networks (Radford et al. 2016), parameterised by image size and channels instead of
//! copied per resolution. The image side is halved L times down to a start size of 4–7
//! (28 → 7 with L = 2, 32 → 4 with L = 3, 64 → 4 with L = 4); widths double with depth from
//! `base_channels`. G: linear → norm → ReLU, then L transposed convolutions (k4 s2 p1), norm and
//! ReLU between them and tanh at the end. D mirrors it with LeakyReLU(0.2), no norm on its first
//! layer, and a linear read-out. At 28×28 with base 64 this is the Lucic et al. model; with
//! `g_fc = d_fc = 1024` and a Q head of 128 (`q_hidden`) it is InfoGAN's MNIST model (Chen et
//! al. 2016, Table 1): G = FC 1024 → FC 7·7·128 → up 64 → up 1, D = conv 64 → conv 128 →
//! FC 1024 → logit, Q = FC 128 → codes on D's FC 1024.
use super::minibatch::MinibatchDiscrimination;
use super::{Critic, NormLayer, maybe};
use crate::data::Shape;
use crate::error::{Error, Result};
use crate::nets::{ModelConfig, Norm};
use crate::ops::leaky_relu;
use tch::Tensor;
use tch::nn::{self, ModuleT};

/// The largest image side of the DCGAN networks.
pub const MAX_SIDE: i64 = 128;

/// (L, start size) for an image side, or an error naming the sizes that work.
pub fn plan(size: i64) -> Result<(usize, i64)> {
    if size > MAX_SIDE {
        return Err(Error::Config(format!(
            "DCGAN networks here take image sides up to {MAX_SIDE} (28, 32, 64 and 128 work), not {size}: at larger sides the deepest layer's channels outgrow memory; set data.image_size"
        )));
    }
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
    pre: Option<(nn::Linear, Option<NormLayer>)>,
    fc: nn::Linear,
    fc_norm: Option<NormLayer>,
    start: [i64; 3],
    ups: Vec<(nn::ConvTranspose2D, Option<NormLayer>)>,
    out: nn::ConvTranspose2D,
    /// tanh on the output (a generator); false leaves the last layer linear (BEGAN's decoder).
    tanh: bool,
}

impl Generator {
    /// The generator: z → image in (−1, 1), tanh at the end.
    pub fn new(cfg: &ModelConfig, shape: Shape, p: nn::Path) -> Result<Generator> {
        Generator::build(cfg, shape, p, true)
    }

    /// The same layers with a linear last layer: the decoder half of an autoencoder (BEGAN's
    /// discriminator on the DCGAN networks), reading a code of `cfg.latent_dim`.
    pub fn decoder(cfg: &ModelConfig, shape: Shape, p: nn::Path) -> Result<Generator> {
        Generator::build(cfg, shape, p, false)
    }

    fn build(cfg: &ModelConfig, shape: Shape, p: nn::Path, tanh: bool) -> Result<Generator> {
        let (channels, size) = image_shape(shape)?;
        let (l, s0) = plan(size)?;
        let top = cfg.base_channels << (l - 1);
        let has_norm = cfg.g_norm != Norm::None;
        let dense = |name: &str, i: i64, o: i64| {
            nn::linear(&p / name, i, o, nn::LinearConfig { bias: !has_norm, ..Default::default() })
        };
        let pre = (cfg.g_fc > 0).then(|| {
            (
                dense("pre", cfg.latent_dim, cfg.g_fc),
                NormLayer::with_sync(cfg.sync_bn, &p / "norm_pre", cfg.g_norm, &[cfg.g_fc]),
            )
        });
        let fc = nn::linear(
            &p / "fc",
            if cfg.g_fc > 0 { cfg.g_fc } else { cfg.latent_dim },
            top * s0 * s0,
            nn::LinearConfig { bias: !has_norm, ..Default::default() },
        );
        let fc_norm = NormLayer::with_sync(cfg.sync_bn, &p / "norm_fc", cfg.g_norm, &[top * s0 * s0]);
        let mut ups = vec![];
        let (mut ch, mut side) = (top, s0);
        for i in 0..l - 1 {
            let conv = nn::conv_transpose2d(&p / format!("up{i}"), ch, ch / 2, 4, up(!has_norm));
            side *= 2;
            ups.push((
                conv,
                NormLayer::with_sync(cfg.sync_bn, &p / format!("norm{i}"), cfg.g_norm, &[ch / 2, side, side]),
            ));
            ch /= 2;
        }
        let out = nn::conv_transpose2d(&p / "out", ch, channels, 4, up(true));
        Ok(Generator { pre, fc, fc_norm, start: [top, s0, s0], ups, out, tanh })
    }
}

impl ModuleT for Generator {
    fn forward_t(&self, z: &Tensor, train: bool) -> Tensor {
        let [c, h, w] = self.start;
        let z = match &self.pre {
            Some((lin, norm)) => maybe(norm, z.apply(lin), train).relu(), // [n, 1024]
            None => z.shallow_clone(),
        };
        let mut x = maybe(&self.fc_norm, z.apply(&self.fc), train).relu().view([-1, c, h, w]); // [n, 128, 7, 7] at 28×28
        for (conv, norm) in &self.ups {
            x = maybe(norm, x.apply(conv), train).relu(); // side doubles, width halves
        }
        let x = x.apply(&self.out); // [n, channels, size, size]
        if self.tanh { x.tanh() } else { x }
    }
}

impl super::Staged for Generator {
    fn stages(&self) -> Vec<super::Stage<'_>> {
        use super::Stage;
        let mut s = vec![];
        if let Some((lin, norm)) = &self.pre {
            s.push(Stage::new("pre", move |z| maybe(norm, z.apply(lin), false).relu()));
        }
        let [c, h, w] = self.start;
        s.push(Stage::new("fc", move |z| maybe(&self.fc_norm, z.apply(&self.fc), false).relu().view([-1, c, h, w])));
        for (i, (conv, norm)) in self.ups.iter().enumerate() {
            s.push(Stage::new(format!("up{i}"), move |x| maybe(norm, x.apply(conv), false).relu()));
        }
        s.push(Stage::new("out", |x| {
            let x = x.apply(&self.out);
            if self.tanh { x.tanh() } else { x }
        }));
        s
    }
}

#[derive(Debug)]
pub struct Discriminator {
    first: nn::Conv2D,
    downs: Vec<(nn::Conv2D, Option<NormLayer>)>,
    minibatch: Option<MinibatchDiscrimination>,
    hidden: Option<(nn::Linear, Option<NormLayer>)>,
    out: nn::Linear,
    squeeze: bool,
    q: Option<QHead>,
    /// LeakyReLU's slope for x < 0.
    slope: f64,
}

/// InfoGAN's Q head on D's shared body: dense → norm → LeakyReLU → the codes' outputs.
#[derive(Debug)]
struct QHead {
    hidden: nn::Linear,
    norm: Option<NormLayer>,
    out: nn::Linear,
}

impl QHead {
    fn forward(&self, f: &Tensor, train: bool, slope: f64) -> Tensor {
        leaky_relu(&maybe(&self.norm, f.apply(&self.hidden), train), slope).apply(&self.out)
    }
}

impl Discriminator {
    /// `outputs` values per example, the last `q_outputs` of them from a Q head with a hidden
    /// layer of `q_hidden` when `q_hidden > 0` (else all from the read-out).
    pub fn new(
        cfg: &ModelConfig,
        shape: Shape,
        outputs: i64,
        q_outputs: i64,
        q_hidden: i64,
        p: nn::Path,
    ) -> Result<Discriminator> {
        let (channels, size) = image_shape(shape)?;
        let (l, s0) = plan(size)?;
        let has_norm = cfg.d_norm != Norm::None;
        let first = nn::conv2d(&p / "in", channels, cfg.base_channels, 4, down(true));
        let (mut ch, mut side) = (cfg.base_channels, size / 2);
        let mut downs = vec![];
        for i in 0..l - 1 {
            let conv = nn::conv2d(&p / format!("down{i}"), ch, ch * 2, 4, down(!has_norm));
            side /= 2;
            downs.push((
                conv,
                NormLayer::with_sync(cfg.sync_bn, &p / format!("norm{i}"), cfg.d_norm, &[ch * 2, side, side]),
            ));
            ch *= 2;
        }
        let flat = ch * s0 * s0;
        let minibatch = (cfg.minibatch_kernels > 0)
            .then(|| MinibatchDiscrimination::new(&p / "minibatch", flat, cfg.minibatch_kernels, cfg.minibatch_dims));
        let mut read =
            MinibatchDiscrimination::out_features(flat, if minibatch.is_some() { cfg.minibatch_kernels } else { 0 });
        let dense = |name: &str, i: i64, o: i64| {
            nn::linear(&p / name, i, o, nn::LinearConfig { bias: !has_norm, ..Default::default() })
        };
        let hidden = (cfg.d_fc > 0).then(|| {
            (dense("fc", read, cfg.d_fc), NormLayer::with_sync(cfg.sync_bn, &p / "norm_fc", cfg.d_norm, &[cfg.d_fc]))
        });
        if cfg.d_fc > 0 {
            read = cfg.d_fc;
        }
        let q_outputs = if q_hidden > 0 { q_outputs } else { 0 };
        let q = (q_outputs > 0).then(|| QHead {
            hidden: dense("q_hidden", read, q_hidden),
            norm: NormLayer::with_sync(cfg.sync_bn, &p / "q" / "norm", cfg.d_norm, &[q_hidden]),
            out: nn::linear(&p / "q_out", q_hidden, q_outputs, Default::default()),
        });
        let out = nn::linear(&p / "out", read, outputs - q_outputs, Default::default());
        Ok(Discriminator { first, downs, minibatch, hidden, out, squeeze: outputs == 1, q, slope: cfg.leaky_slope })
    }
}

impl Critic for Discriminator {
    fn forward_features(&self, x: &Tensor, train: bool) -> (Tensor, Vec<Tensor>) {
        let mut h = leaky_relu(&x.apply(&self.first), self.slope); // [n, 64, 14, 14] at 28×28
        let mut features = vec![h.shallow_clone()];
        for (conv, norm) in &self.downs {
            h = leaky_relu(&maybe(norm, h.apply(conv), train), self.slope); // [n, 128, 7, 7]
            features.push(h.shallow_clone());
        }
        let mut f = h.flatten(1, -1); // [n, 6272]
        if let Some(mb) = &self.minibatch {
            f = mb.forward(&f); // [n, 6272 + kernels]
        }
        if let Some((lin, norm)) = &self.hidden {
            f = leaky_relu(&maybe(norm, f.apply(lin), train), self.slope); // [n, 1024]
            features.push(f.shallow_clone());
        }
        let mut y = f.apply(&self.out); // [n, outputs − q_outputs]
        if let Some(q) = &self.q {
            y = Tensor::cat(&[y, q.forward(&f, train, self.slope)], 1); // [n, outputs]
        }
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
    fn sides_past_the_largest_are_refused() {
        assert!(plan(128).is_ok());
        assert!(plan(512).unwrap_err().to_string().contains("up to 128"));
    }

    #[test]
    fn shapes_for_every_size_and_channel_count() {
        use crate::nets::ModelConfig;
        use tch::nn::ModuleT;
        for size in [28, 32, 64] {
            for channels in [1, 3] {
                let cfg = ModelConfig { base_channels: 8, ..Default::default() };
                let shape = Shape::Image { channels, size };
                let vs = nn::VarStore::new(tch::Device::Cpu);
                let g = Generator::new(&cfg, shape, vs.root()).unwrap();
                let d = Discriminator::new(&cfg, shape, 1, 0, 0, vs.root() / "d").unwrap();
                let x = g.forward_t(&Tensor::randn([2, cfg.latent_dim], tch::kind::FLOAT_CPU), true);
                assert_eq!(x.size(), vec![2, channels, size, size]);
                assert_eq!(d.forward_t(&x, true).size(), vec![2]);
            }
        }
    }

    #[test]
    fn infogan_dense_layers_and_q_head() {
        use crate::nets::ModelConfig;
        let cfg = ModelConfig { base_channels: 8, latent_dim: 6, g_fc: 32, d_fc: 16, ..Default::default() };
        let shape = Shape::Image { channels: 1, size: 28 };
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let g = Generator::new(&cfg, shape, vs.root() / "g").unwrap();
        // 1 logit + 12 code outputs, the 12 from the Q head
        let d = Discriminator::new(&cfg, shape, 13, 12, 8, vs.root() / "d").unwrap();
        let x = g.forward_t(&Tensor::randn([4, 6], tch::kind::FLOAT_CPU), true);
        let (y, features) = d.forward_features(&x, true);
        assert_eq!(y.size(), vec![4, 13]);
        assert_eq!(features.last().unwrap().size(), vec![4, 16], "the dense layer is the last feature layer");
        let shapes: std::collections::HashMap<String, Vec<i64>> =
            vs.variables().into_iter().map(|(k, v)| (k, v.size())).collect();
        assert_eq!(shapes["g.pre.weight"], vec![32, 6]);
        assert_eq!(shapes["g.fc.weight"], vec![16 * 7 * 7, 32]);
        assert_eq!(shapes["d.fc.weight"], vec![16, 16 * 7 * 7]);
        assert_eq!(shapes["d.out.weight"], vec![1, 16]);
        assert_eq!(shapes["d.q_hidden.weight"], vec![8, 16]);
        assert_eq!(shapes["d.q_out.weight"], vec![12, 8]);
        // without q_hidden every output comes from the read-out
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let _ = Discriminator::new(&cfg, shape, 13, 12, 0, vs.root()).unwrap();
        assert_eq!(vs.variables()["out.weight"].size(), vec![13, 16]);
    }
}
