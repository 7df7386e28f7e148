//! Architectures only: a configuration and the data's shape build a generator or a
//! discriminator. No losses and no optimisers live here.
pub mod began;
pub mod classifier;
pub mod cogan;
pub mod dcgan;
pub mod discogan;
pub mod inception;
pub mod judge;
pub mod minibatch;
pub mod mlp;
pub mod patchgan;
pub mod resnet;
pub mod semi;
pub mod stackgan;
pub mod text;
pub mod unit;

use crate::data::Shape;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

/// The `[model]` section: the GAN family's generator and discriminator (noise-fed methods).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// Fully connected networks (the 2014 GAN, the 2-D toys).
    Mlp,
    /// Strided convolutions with DCGAN's rules.
    Dcgan,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneratorKind {
    /// A trained network of `arch`.
    Net,
    /// A fixed Gaussian `mean + std * z` with no parameters: the critic then estimates a
    /// divergence between the data and this known distribution.
    Gaussian,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Relu,
    LeakyRelu,
    Softplus,
    Tanh,
    /// Maxout over `maxout_pieces` linear pieces (discriminator MLPs).
    Maxout,
}

/// The distribution of the noise vector z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatentPrior {
    /// N(0, I).
    Normal,
    /// U(−1, 1) in each dimension (the InfoGAN authors' code).
    Uniform,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    None,
    Batch,
    Layer,
    /// Virtual batch normalisation (Salimans et al. 2016, §3.5), generators only: each example
    /// is normalised with the statistics of a fixed reference batch plus itself.
    Virtual,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// PyTorch's default (Kaiming-uniform) initialisation.
    Pytorch,
    /// DCGAN's N(0, 0.02) weights, N(1, 0.02) norm scales, zero biases.
    Dcgan,
    /// Xavier-uniform weights with gain √2 (bound √2·√(6 / (fan_in + fan_out))), 0.1 biases,
    /// N(1, 0.02) norm scales: the UNIT reference's `xavier_weights_init`, which its
    /// domain-adaptation trainer gives the discriminator.
    Xavier,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    pub arch: Arch,
    pub generator: GeneratorKind,
    /// Dimension of the noise vector z.
    pub latent_dim: i64,
    /// Distribution of z.
    pub latent_prior: LatentPrior,
    /// Hidden widths of the MLP generator.
    pub g_hidden: Vec<i64>,
    /// Hidden widths of the MLP discriminator.
    pub d_hidden: Vec<i64>,
    pub g_activation: Activation,
    pub d_activation: Activation,
    pub maxout_pieces: i64,
    /// Slope of LeakyReLU for x < 0 (DCGAN's 0.2; the InfoGAN authors' code uses 0.01).
    pub leaky_slope: f64,
    /// Normalisation in the generator's hidden layers.
    pub g_norm: Norm,
    /// Normalisation in the discriminator's hidden layers (no batch norm with a gradient
    /// penalty: it makes each sample's gradient depend on the others).
    pub d_norm: Norm,
    /// Channels of DCGAN's widest-resolution layer; deeper layers double it.
    pub base_channels: i64,
    /// Minibatch discrimination kernels B before the discriminator's read-out; 0 turns it off.
    pub minibatch_kernels: i64,
    /// Dimension C of each minibatch-discrimination kernel.
    pub minibatch_dims: i64,
    pub init: Init,
    /// Mean of the fixed Gaussian generator (`generator = "gaussian"`), one per data dimension.
    pub gaussian_mean: Vec<f64>,
    /// Standard deviation of the fixed Gaussian generator.
    pub gaussian_std: f64,
    /// DCGAN generator: width of a dense layer (norm + ReLU) between z and the first
    /// projection (InfoGAN's FC 1024); 0 leaves it out.
    pub g_fc: i64,
    /// DCGAN discriminator: width of a dense layer (norm + LeakyReLU) after the convolutions,
    /// before the read-out (InfoGAN's FC 1024); 0 leaves it out.
    pub d_fc: i64,
    /// Data-parallel training: batch norm over every rank's rows together (PyTorch's
    /// SyncBatchNorm) instead of each rank's own. Not part of the configuration's hash.
    pub sync_bn: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            arch: Arch::Dcgan,
            generator: GeneratorKind::Net,
            latent_dim: 100,
            latent_prior: LatentPrior::Normal,
            g_hidden: vec![256, 256],
            d_hidden: vec![256, 256],
            g_activation: Activation::Relu,
            d_activation: Activation::LeakyRelu,
            maxout_pieces: 5,
            leaky_slope: 0.2,
            g_norm: Norm::Batch,
            d_norm: Norm::Batch,
            base_channels: 64,
            minibatch_kernels: 0,
            minibatch_dims: 5,
            init: Init::Dcgan,
            gaussian_mean: vec![],
            gaussian_std: 1.0,
            g_fc: 0,
            d_fc: 0,
            sync_bn: false,
        }
    }
}

/// One named step of a network's forward pass in eval mode. A network's stages, applied in
/// order, compute what its forward pass computes; `gantry export` traces them one by one to name
/// the layer that a whole-network trace cannot record.
pub struct Stage<'a> {
    /// The layer's name, as its variables are named under the network's store.
    pub name: String,
    pub run: Box<dyn Fn(&Tensor) -> Tensor + 'a>,
}

impl<'a> Stage<'a> {
    pub fn new(name: impl Into<String>, run: impl Fn(&Tensor) -> Tensor + 'a) -> Stage<'a> {
        Stage { name: name.into(), run: Box::new(run) }
    }
}

/// A network whose eval-mode forward pass is a sequence of named stages.
pub trait Staged {
    fn stages(&self) -> Vec<Stage<'_>>;
}

/// Applies `stages` in order (no gradients).
pub fn run_stages(stages: &[Stage], x: &Tensor) -> Tensor {
    tch::no_grad(|| stages.iter().fold(x.shallow_clone(), |h, s| (s.run)(&h)))
}

/// A generator: `forward_t(x, train)` (`train` selects batch statistics in batch norm) and its
/// stages.
pub trait Generator: ModuleT + Staged {}
impl<T: ModuleT + Staged> Generator for T {}

/// A network: `forward_t(x, train)`; `train` selects batch statistics in batch norm.
pub type Net = Box<dyn Generator>;

/// A discriminator that also shows its hidden activations (for feature matching).
pub trait Critic: std::fmt::Debug + Send {
    /// The output and each hidden layer's activations, first layer first.
    fn forward_features(&self, x: &Tensor, train: bool) -> (Tensor, Vec<Tensor>);

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.forward_features(x, train).0
    }
}

pub type CriticNet = Box<dyn Critic>;

/// Size of the fixed reference batch of virtual batch normalisation.
pub const REFERENCE_BATCH: i64 = 64;

/// A normalisation layer chosen by `Norm`.
#[derive(Debug)]
pub enum NormLayer {
    Batch(nn::BatchNorm),
    /// Batch norm whose training statistics cover every rank of a data-parallel run.
    SyncBatch(nn::BatchNorm),
    Layer(nn::LayerNorm),
    Virtual(VirtualBatchNorm),
}

/// Virtual batch normalisation: the first `REFERENCE_BATCH` rows of the input are the
/// reference batch, normalised with their own statistics; every other example with the
/// statistics of the reference batch plus itself, mean = (x̄ᵢ + N·μ_ref)/(N + 1) and likewise
/// for the mean square (the authors' formulation), then scaled and shifted per channel.
#[derive(Debug)]
pub struct VirtualBatchNorm {
    gamma: Tensor,
    beta: Tensor,
}

impl VirtualBatchNorm {
    fn new(p: nn::Path, channels: i64) -> VirtualBatchNorm {
        VirtualBatchNorm {
            gamma: p.var("weight", &[channels], nn::Init::Const(1.0)),
            beta: p.var("bias", &[channels], nn::Init::Const(0.0)),
        }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        let spatial: Vec<i64> = (2..x.dim() as i64).collect();
        let mut ref_dims = vec![0];
        ref_dims.extend(&spatial);
        let mut shape = vec![1, -1];
        shape.extend(std::iter::repeat_n(1, spatial.len()));
        let reference = x.narrow(0, 0, REFERENCE_BATCH);
        let mean_ref = reference.mean_dim(ref_dims.as_slice(), true, None); // [1, C, 1, 1]
        let sq_ref = reference.square().mean_dim(ref_dims.as_slice(), true, None);
        let (mean_i, sq_i) = if spatial.is_empty() {
            (x.shallow_clone(), x.square())
        } else {
            (x.mean_dim(spatial.as_slice(), true, None), x.square().mean_dim(spatial.as_slice(), true, None))
        };
        let w = 1.0 / (REFERENCE_BATCH as f64 + 1.0);
        let mean = &mean_i * w + &mean_ref * (1.0 - w);
        let sq = &sq_i * w + &sq_ref * (1.0 - w);
        // the reference rows use the reference statistics alone
        // (built from the rows past the reference rather than from the batch's size, so that a
        // traced export takes any batch size)
        let rest = x.slice(0, REFERENCE_BATCH, None, 1).flatten(1, -1).select(1, 0);
        let is_ref = Tensor::cat(
            &[
                Tensor::ones([REFERENCE_BATCH], (tch::Kind::Bool, x.device())),
                rest.zeros_like().to_kind(tch::Kind::Bool),
            ],
            0,
        )
        .view(std::iter::once(-1).chain(std::iter::repeat_n(1, x.dim() - 1)).collect::<Vec<_>>().as_slice());
        let mean = mean_ref.expand_as(&mean).where_self(&is_ref, &mean);
        let sq = sq_ref.expand_as(&sq).where_self(&is_ref, &sq);
        let var = (sq - mean.square()).clamp_min(0.0);
        (x - mean) / (var + 1e-5).sqrt() * self.gamma.view(shape.as_slice()) + self.beta.view(shape.as_slice())
    }
}

impl NormLayer {
    /// `shape` is the per-example shape: `[features]` or `[channels, h, w]`.
    pub fn new(p: nn::Path, norm: Norm, shape: &[i64]) -> Option<NormLayer> {
        match norm {
            Norm::None => None,
            Norm::Batch if shape.len() == 1 => {
                Some(NormLayer::Batch(nn::batch_norm1d(p, shape[0], Default::default())))
            }
            Norm::Batch => Some(NormLayer::Batch(nn::batch_norm2d(p, shape[0], Default::default()))),
            Norm::Layer => Some(NormLayer::Layer(nn::layer_norm(p, shape.to_vec(), Default::default()))),
            Norm::Virtual => Some(NormLayer::Virtual(VirtualBatchNorm::new(p, shape[0]))),
        }
    }
}

impl NormLayer {
    /// `new`, with batch norm synchronised over the ranks when `sync` (`model.sync_bn`).
    pub fn with_sync(sync: bool, p: nn::Path, norm: Norm, shape: &[i64]) -> Option<NormLayer> {
        match NormLayer::new(p, norm, shape) {
            Some(NormLayer::Batch(b)) if sync => Some(NormLayer::SyncBatch(b)),
            other => other,
        }
    }
}

impl ModuleT for NormLayer {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            NormLayer::Batch(b) => b.forward_t(x, train),
            // in training, with a group; otherwise it is plain batch norm
            NormLayer::SyncBatch(b) => match crate::dist::group() {
                Some(g) if train => g.sync_batch_norm(x, b),
                _ => b.forward_t(x, train),
            },
            NormLayer::Layer(l) => l.forward_t(x, train),
            NormLayer::Virtual(v) => v.forward(x),
        }
    }
}

/// Applies an optional layer.
pub fn maybe(layer: &Option<NormLayer>, x: Tensor, train: bool) -> Tensor {
    match layer {
        Some(l) => l.forward_t(&x, train),
        None => x,
    }
}

/// A generator with no parameters: `mean + std · z`, z ~ N(0, I) of the data's dimension.
#[derive(Debug)]
pub struct FixedGaussian {
    mean: Tensor,
    std: f64,
}

impl ModuleT for FixedGaussian {
    fn forward_t(&self, z: &Tensor, _train: bool) -> Tensor {
        &self.mean + z * self.std
    }
}

impl Staged for FixedGaussian {
    fn stages(&self) -> Vec<Stage<'_>> {
        vec![Stage::new("gaussian", |z| self.forward_t(z, false))]
    }
}

/// A generator with virtual batch normalisation: its fixed reference latents go through the
/// network in front of every batch, and are cut off again at the output.
#[derive(Debug)]
pub struct WithReference {
    net: Net,
    z_ref: Tensor,
}

impl ModuleT for WithReference {
    fn forward_t(&self, z: &Tensor, train: bool) -> Tensor {
        let out = self.net.forward_t(&Tensor::cat(&[&self.z_ref, z], 0), train);
        // an open-ended slice rather than a length, so a traced export takes any batch size
        out.slice(0, REFERENCE_BATCH, None, 1)
    }
}

impl Staged for WithReference {
    fn stages(&self) -> Vec<Stage<'_>> {
        let mut s = vec![Stage::new("reference latents", |z| Tensor::cat(&[&self.z_ref, z], 0))];
        s.extend(self.net.stages());
        s.push(Stage::new("reference cut", |x| x.slice(0, REFERENCE_BATCH, None, 1)));
        s
    }
}

/// The reference latents: fixed, drawn on the host from a constant seed, so every build of the
/// generator (live, averaged, resumed) shares them.
pub fn reference_latents(dim: i64, device: Device) -> Tensor {
    let mut r = crate::rng::SplitMix::new(0x0005_eed0_f7b1);
    let v: Vec<f32> = (0..REFERENCE_BATCH * dim).map(|_| r.normal() as f32).collect();
    Tensor::from_slice(&v).view([REFERENCE_BATCH, dim]).to(device)
}

/// Dimension of the generator's input noise.
pub fn latent_dim(cfg: &ModelConfig, shape: Shape) -> i64 {
    match cfg.generator {
        GeneratorKind::Gaussian => shape.numel(),
        GeneratorKind::Net => cfg.latent_dim,
    }
}

/// Noise for `n` samples.
/// The name of a prior, as exported generators carry it.
pub fn prior_name(p: LatentPrior) -> &'static str {
    match p {
        LatentPrior::Normal => "normal",
        LatentPrior::Uniform => "uniform",
    }
}

pub fn latents(cfg: &ModelConfig, shape: Shape, n: i64, device: Device) -> Tensor {
    crate::dist::draw(n, |n| {
        let size = [n, latent_dim(cfg, shape)];
        match cfg.latent_prior {
            LatentPrior::Normal => Tensor::randn(size, (Kind::Float, device)),
            LatentPrior::Uniform => Tensor::rand(size, (Kind::Float, device)) * 2.0 - 1.0,
        }
    })
}

/// Builds the generator under `p`.
pub fn generator(cfg: &ModelConfig, shape: Shape, p: nn::Path) -> Result<Net> {
    match cfg.generator {
        GeneratorKind::Gaussian => {
            let dim = shape.numel();
            if cfg.gaussian_mean.len() as i64 != dim {
                return Err(Error::Config(format!(
                    "`model.gaussian_mean` has {} values but the data has {dim} dimensions",
                    cfg.gaussian_mean.len()
                )));
            }
            let mean: Vec<f32> = cfg.gaussian_mean.iter().map(|&m| m as f32).collect();
            Ok(Box::new(FixedGaussian { mean: Tensor::from_slice(&mean).to(p.device()), std: cfg.gaussian_std }))
        }
        GeneratorKind::Net => {
            let device = p.device();
            let net: Net = match cfg.arch {
                Arch::Mlp => Box::new(mlp::Mlp::generator(cfg, shape, p)),
                Arch::Dcgan => Box::new(dcgan::Generator::new(cfg, shape, p)?),
            };
            if cfg.g_norm == Norm::Virtual {
                Ok(Box::new(WithReference { net, z_ref: reference_latents(cfg.latent_dim, device) }))
            } else {
                Ok(net)
            }
        }
    }
}

/// Builds a discriminator with `outputs` logits per example under `p`, the last `q_outputs` of
/// them from InfoGAN's Q head (a hidden layer of `q_hidden` on D's body) when `q_hidden > 0`.
pub fn discriminator(
    cfg: &ModelConfig,
    shape: Shape,
    outputs: i64,
    q_outputs: i64,
    q_hidden: i64,
    p: nn::Path,
) -> Result<CriticNet> {
    match cfg.arch {
        Arch::Mlp => Ok(Box::new(mlp::Mlp::discriminator(cfg, shape, outputs, p))),
        Arch::Dcgan => Ok(Box::new(dcgan::Discriminator::new(cfg, shape, outputs, q_outputs, q_hidden, p)?)),
    }
}

/// Re-initialises a store's variables by `init` (DCGAN: weights N(0, 0.02), norm scales
/// N(1, 0.02), biases 0). Norm layers are named `norm*`, so their scales are told apart.
pub fn initialise(vs: &nn::VarStore, init: Init) {
    if init == Init::Pytorch {
        return;
    }
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    tch::no_grad(|| {
        for (name, mut t) in vars {
            if !t.requires_grad() {
                continue;
            }
            let leaf = name.rsplit('.').next().unwrap_or("");
            let is_norm = name.rsplit('.').nth(1).is_some_and(|m| m.starts_with("norm"));
            match (leaf, is_norm) {
                ("bias", true) => {
                    let _ = t.zero_();
                }
                ("bias", false) => {
                    let _ = t.fill_(if init == Init::Xavier { 0.1 } else { 0.0 });
                }
                ("weight", true) => {
                    let _ = t.normal_(1.0, 0.02);
                }
                ("weight", false) if init == Init::Xavier && t.dim() >= 2 => {
                    let _ = t.uniform_(-xavier_bound(&t.size()), xavier_bound(&t.size()));
                }
                ("weight", false) => {
                    let _ = t.normal_(0.0, 0.02);
                }
                _ => {}
            }
        }
    });
}

/// The bound of `Init::Xavier` for a weight of `shape` (`[out, in, k…]`): gain √2 times
/// √(6 / (fan_in + fan_out)), fan_in = in·k…, fan_out = out·k… (PyTorch's `xavier_uniform_`).
pub fn xavier_bound(shape: &[i64]) -> f64 {
    let field: i64 = shape[2..].iter().product();
    let (fan_in, fan_out) = (shape[1] * field, shape[0] * field);
    2f64.sqrt() * (6.0 / (fan_in + fan_out) as f64).sqrt()
}

/// Asserts that `stages` compute `want` from `x` (tests of each network's stages).
#[cfg(test)]
pub(crate) fn assert_stages(stages: &[Stage], x: &Tensor, want: &Tensor) {
    let got = run_stages(stages, x);
    assert_eq!(got.size(), want.size(), "stages {:?}", stages.iter().map(|s| &s.name).collect::<Vec<_>>());
    let d = (got - want).abs().max().double_value(&[]);
    assert!(d == 0.0, "stages differ from the forward pass by {d}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_batch_norm_by_hand() {
        // Features of one channel: a reference batch of REFERENCE_BATCH values alternating
        // 0 and 2 (mean 1, mean square 2), then one example x = 4. Its statistics:
        // mean = (4 + 64·1)/65, mean square = (16 + 64·2)/65; output (x − mean)/sqrt(var + ε).
        let vs = nn::VarStore::new(Device::Cpu);
        let vbn = VirtualBatchNorm::new(vs.root(), 1);
        let mut v: Vec<f32> = (0..REFERENCE_BATCH).map(|i| if i % 2 == 0 { 0.0 } else { 2.0 }).collect();
        v.push(4.0);
        let out = vbn.forward(&Tensor::from_slice(&v).view([-1, 1]));
        let n = REFERENCE_BATCH as f64;
        let mean = (4.0 + n) / (n + 1.0);
        let var = (16.0 + 2.0 * n) / (n + 1.0) - mean * mean;
        let want = (4.0 - mean) / (var + 1e-5).sqrt();
        assert!((out.double_value(&[REFERENCE_BATCH, 0]) - want).abs() < 1e-5);
        // a reference row uses the reference statistics alone: (2 − 1)/sqrt(1 + ε)
        assert!((out.double_value(&[1, 0]) - 1.0 / (1.0f64 + 1e-5).sqrt()).abs() < 1e-5);
    }

    #[test]
    fn xavier_init_by_hand() {
        // A conv 1 → 64, kernel 5: fan_in 1·25 = 25, fan_out 64·25 = 1600, so the bound is
        // √2·√(6/1625) = 0.085934 (by hand); U(−b, b) has standard deviation b/√3.
        let bound = 2f64.sqrt() * (6.0f64 / 1625.0).sqrt();
        assert!((xavier_bound(&[64, 1, 5, 5]) - bound).abs() < 1e-12);
        assert!((bound - 0.085934).abs() < 1e-6);
        tch::manual_seed(1);
        let vs = nn::VarStore::new(Device::Cpu);
        let conv = nn::conv2d(vs.root() / "c", 1, 64, 5, Default::default());
        let norm = nn::batch_norm2d(vs.root() / "norm0", 4, Default::default());
        initialise(&vs, Init::Xavier);
        let w = &conv.ws;
        assert!(w.abs().max().double_value(&[]) <= bound);
        let std = w.std(true).double_value(&[]);
        assert!((std - bound / 3f64.sqrt()).abs() < 0.05 * bound, "std {std}");
        let bias = conv.bs.as_ref().unwrap();
        assert_eq!(bias.min().double_value(&[]), 0.1f32 as f64);
        assert_eq!(bias.max().double_value(&[]), 0.1f32 as f64);
        // norm layers keep DCGAN's N(1, 0.02) scales and zero shifts
        assert!((norm.ws.as_ref().unwrap().mean(tch::Kind::Float).double_value(&[]) - 1.0).abs() < 0.05);
        assert_eq!(norm.bs.as_ref().unwrap().abs().max().double_value(&[]), 0.0);
    }

    #[test]
    fn virtual_batch_norm_makes_examples_independent_of_their_batch() {
        // With VBN a sample's output does not depend on the other samples in its batch.
        let cfg = ModelConfig { g_norm: Norm::Virtual, base_channels: 8, ..Default::default() };
        let vs = nn::VarStore::new(Device::Cpu);
        let g = generator(&cfg, Shape::Image { channels: 1, size: 28 }, vs.root()).unwrap();
        let z = Tensor::randn([5, cfg.latent_dim], (tch::Kind::Float, Device::Cpu));
        let all = g.forward_t(&z, true);
        let one = g.forward_t(&z.narrow(0, 2, 1), true);
        assert!((all.narrow(0, 2, 1) - one).abs().max().double_value(&[]) < 1e-5);
    }

    #[test]
    fn every_generators_stages_make_up_its_forward_pass() {
        // eval mode, with batch norm statistics moved off their initial values by a train pass
        tch::manual_seed(3);
        let img = Shape::Image { channels: 1, size: 28 };
        let check = |name: &str, stages: Vec<Stage>, x: &Tensor, want: Tensor| {
            assert!(!stages.is_empty(), "{name}");
            assert_stages(&stages, x, &want);
        };
        for (arch, norm, g_fc) in [
            (Arch::Dcgan, Norm::Batch, 0),
            (Arch::Dcgan, Norm::Layer, 64),
            (Arch::Dcgan, Norm::Virtual, 0),
            (Arch::Mlp, Norm::Batch, 0),
            (Arch::Mlp, Norm::Layer, 0),
        ] {
            let cfg = ModelConfig {
                arch,
                g_norm: norm,
                g_fc,
                base_channels: 8,
                g_hidden: vec![32, 16],
                ..Default::default()
            };
            let vs = nn::VarStore::new(Device::Cpu);
            let g = generator(&cfg, img, vs.root()).unwrap();
            let z = Tensor::randn([4, cfg.latent_dim], (Kind::Float, Device::Cpu));
            let _ = g.forward_t(&z, true);
            check(&format!("{arch:?} {norm:?}"), g.stages(), &z, tch::no_grad(|| g.forward_t(&z, false)));
        }
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = ModelConfig { g_hidden: vec![16], ..Default::default() };
        let g = semi::SemiGenerator::new(&cfg, img, vs.root());
        let z = Tensor::randn([4, cfg.latent_dim], (Kind::Float, Device::Cpu));
        let _ = g.forward_t(&z, true);
        check("semi", g.stages(), &z, tch::no_grad(|| g.forward_t(&z, false)));
        let vs = nn::VarStore::new(Device::Cpu);
        let d = began::Decoder::new(&vs.root(), 8, 4, 1, 28).unwrap();
        let h = Tensor::randn([3, 8], (Kind::Float, Device::Cpu));
        check("began", d.stages(), &h, tch::no_grad(|| d.forward(&h)));
        let x = Tensor::rand([3, 1, 32, 32], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        for norm in [resnet::Norm2d::Instance, resnet::Norm2d::Batch] {
            let vs = nn::VarStore::new(Device::Cpu);
            let shape = resnet::ResnetShape { ngf: 4, downs: 2, blocks: 2 };
            let g = resnet::ResnetGenerator::new(vs.root(), 1, 3, shape, norm);
            let _ = g.forward_t(&x, true);
            check("resnet", g.stages(), &x, tch::no_grad(|| g.forward_t(&x, false)));
        }
        let vs = nn::VarStore::new(Device::Cpu);
        let g = discogan::DiscoGenerator::new(vs.root(), 1, 1, 4, 3);
        let _ = g.forward_t(&x, true);
        check("discogan", g.stages(), &x, tch::no_grad(|| g.forward_t(&x, false)));
        let vs = nn::VarStore::new(Device::Cpu);
        let g = discogan::DiscoMlp::new(vs.root(), 2, &[8, 8], 2, false);
        let p = Tensor::randn([5, 2], (Kind::Float, Device::Cpu));
        check("discogan mlp", g.stages(), &p, tch::no_grad(|| ModuleT::forward_t(&g, &p, false)));
        let vs = nn::VarStore::new(Device::Cpu);
        let s = unit::UnitShape {
            ch: 4,
            enc_front: 2,
            enc_res: 1,
            enc_shared: 1,
            gen_shared: 1,
            gen_res: 1,
            gen_front: 2,
            d_ch: 4,
            d_front: 2,
            d_shared: 1,
        };
        let g = unit::UnitGenerator::new(&vs.root(), s, (1, 3));
        let stages = g.stages(0, 1);
        assert_eq!(stages[0].name, "a.enc.in");
        assert_eq!(stages.last().unwrap().name, "b.gen.out");
        check("unit a2b", stages, &x, tch::no_grad(|| g.decode(&g.encode(&x, 0), 1)));
        let vs = nn::VarStore::new(Device::Cpu);
        let g = cogan::CoGenerator::new(&vs.root(), 10, [16, 8, 8, 4], (1, 3), 28, 2);
        let z = Tensor::randn([4, 10], (Kind::Float, Device::Cpu));
        let _ = g.forward_pair(&z, true);
        let (a, b) = tch::no_grad(|| g.forward_pair(&z, false));
        check("cogan", g.stages(), &z, cogan::stack_pair(a, b));
    }

    #[test]
    fn latent_priors_have_their_moments() {
        // N(0, 1): mean 0, variance 1; U(−1, 1): inside [−1, 1], mean 0, variance (b − a)²/12 = 1/3
        tch::manual_seed(0);
        let shape = Shape::Points { dim: 2 };
        for (prior, var) in [(LatentPrior::Normal, 1.0), (LatentPrior::Uniform, 1.0 / 3.0)] {
            let cfg = ModelConfig { latent_dim: 10, latent_prior: prior, ..Default::default() };
            let z = latents(&cfg, shape, 20_000, Device::Cpu);
            assert_eq!(z.size(), [20_000, 10]);
            assert!(z.mean(Kind::Float).double_value(&[]).abs() < 0.01, "{prior:?}");
            assert!((z.var(true).double_value(&[]) - var).abs() < 0.01, "{prior:?}");
            if prior == LatentPrior::Uniform {
                assert!(z.abs().max().double_value(&[]) <= 1.0);
            }
        }
    }
}
