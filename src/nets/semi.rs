//! The semi-supervised GAN's networks (Salimans et al. 2016, §5, permutation-invariant MNIST).
//! The discriminator: dense layers with weight normalisation (Salimans & Kingma 2016) and ReLU,
//! Gaussian noise on the input and after every hidden layer while training, and K class logits
//! out. The generator: dense layers with batch norm and softplus, then a weight-normalised
//! read-out whose scale stays fixed, so its pixels cannot be driven into saturation.
//!
//! Weight normalisation writes each unit's weights as w = g · v / ‖v‖. As in the authors' code,
//! g and the bias are set once from data (the first batch's pre-activations get zero mean and
//! unit variance: g = 1/σ, b = −μ/σ); afterwards the hidden layers train v and b, and only the
//! read-out layer also trains its scale g.
use super::Critic;
use crate::data::Shape;
use crate::nets::ModelConfig;
use tch::nn::{self, Init, ModuleT};
use tch::{Kind, Tensor};

#[derive(Debug)]
pub struct WnDense {
    v: Tensor,
    g: Tensor,
    b: Tensor,
}

impl WnDense {
    /// `train_scale`: whether g is a trained parameter (the read-out) or fixed after its
    /// data-dependent initialisation (hidden layers).
    pub fn new(p: nn::Path, input: i64, output: i64, train_scale: bool) -> WnDense {
        let v = p.var("v", &[output, input], Init::Randn { mean: 0.0, stdev: 0.05 });
        let g = if train_scale { p.var("g", &[output], Init::Const(1.0)) } else { p.ones_no_train("g", &[output]) };
        let b = p.var("b", &[output], Init::Const(0.0));
        WnDense { v, g, b }
    }

    /// g · v / ‖v‖, one row per output unit.
    fn weight(&self) -> Tensor {
        let norm = self.v.square().sum_dim_intlist(1, true, Kind::Float).sqrt();
        &self.v * (self.g.unsqueeze(1) / norm)
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.linear(&self.weight(), Some(&self.b))
    }

    /// Sets g and b so that this layer's pre-activations on `x` have zero mean and unit
    /// variance per unit; returns them.
    pub fn init_from(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let norm = self.v.square().sum_dim_intlist(1, true, Kind::Float).sqrt();
            let t = x.linear::<Tensor>(&(&self.v / norm), None);
            let mean = t.mean_dim(0, false, Kind::Float);
            let std = (&t - &mean).square().mean_dim(0, false, Kind::Float).sqrt().clamp_min(1e-8);
            self.g.shallow_clone().copy_(&std.reciprocal());
            self.b.shallow_clone().copy_(&(-&mean / &std));
            (t - mean) / std
        })
    }
}

/// G: z → [linear → batch norm without scale, plus a bias → softplus] per `g_hidden` →
/// weight-normalised linear (trained scale, initially 1) → softplus, in [0, 1] pixel units
/// mapped to gantry's [−1, 1] as 2x − 1. The authors' sigmoid read-out saturates and stalls G
/// (as Sleepychord's PyTorch port also found); the softplus read-out does not. Its output may
/// exceed 1: the discriminator sees it as it is, `generate` clips it for images and metrics.
#[derive(Debug)]
pub struct SemiGenerator {
    hidden: Vec<(nn::Linear, nn::BatchNorm, Tensor)>,
    out: WnDense,
    dims: Vec<i64>,
}

impl SemiGenerator {
    pub fn new(cfg: &ModelConfig, shape: Shape, p: nn::Path) -> SemiGenerator {
        let mut prev = cfg.latent_dim;
        let mut hidden = vec![];
        for (i, &w) in cfg.g_hidden.iter().enumerate() {
            let lin =
                nn::linear(&p / format!("fc{i}"), prev, w, nn::LinearConfig { bias: false, ..Default::default() });
            let bn = nn::batch_norm1d(
                &p / format!("norm{i}"),
                w,
                nn::BatchNormConfig { affine: false, ..Default::default() },
            );
            hidden.push((lin, bn, p.var(&format!("bias{i}"), &[w], Init::Const(0.0))));
            prev = w;
        }
        SemiGenerator { hidden, out: WnDense::new(&p / "out", prev, shape.numel(), true), dims: shape.batch_dims(-1) }
    }

    fn body(&self, z: &Tensor, train: bool) -> Tensor {
        let mut h = z.shallow_clone();
        for (lin, bn, bias) in &self.hidden {
            h = (h.apply(lin).apply_t(bn, train) + bias).softplus();
        }
        h
    }
}

impl ModuleT for SemiGenerator {
    fn forward_t(&self, z: &Tensor, train: bool) -> Tensor {
        (self.out.forward(&self.body(z, train)).softplus() * 2.0 - 1.0).view(self.dims.as_slice())
    }
}

impl super::Staged for SemiGenerator {
    fn stages(&self) -> Vec<super::Stage<'_>> {
        use super::Stage;
        let mut s: Vec<Stage> = self
            .hidden
            .iter()
            .enumerate()
            .map(|(i, (lin, bn, bias))| {
                Stage::new(format!("fc{i}"), move |h| (h.apply(lin).apply_t(bn, false) + bias).softplus())
            })
            .collect();
        s.push(Stage::new("out", |h| (self.out.forward(h).softplus() * 2.0 - 1.0).view(self.dims.as_slice())));
        s
    }
}

#[derive(Debug)]
pub struct SemiDiscriminator {
    hidden: Vec<WnDense>,
    out: WnDense,
    input_noise: f64,
    hidden_noise: f64,
}

fn noisy(x: Tensor, std: f64, train: bool) -> Tensor {
    if !(train && std > 0.0) {
        return x;
    }
    let mut shape = x.size();
    let noise = crate::dist::draw(shape[0], |m| {
        shape[0] = m;
        Tensor::randn(shape.as_slice(), (x.kind(), x.device()))
    });
    &x + noise * std
}

impl SemiDiscriminator {
    /// `noise`: the standard deviations of the Gaussian noise on the input (in [0, 1] pixel
    /// units) and on each hidden layer's output during training.
    pub fn new(cfg: &ModelConfig, shape: Shape, classes: i64, noise: (f64, f64), p: nn::Path) -> SemiDiscriminator {
        let mut prev = shape.numel();
        let mut hidden = vec![];
        for (i, &w) in cfg.d_hidden.iter().enumerate() {
            hidden.push(WnDense::new(&p / format!("fc{i}"), prev, w, false));
            prev = w;
        }
        SemiDiscriminator {
            hidden,
            out: WnDense::new(&p / "out", prev, classes, true),
            input_noise: noise.0,
            hidden_noise: noise.1,
        }
    }

    /// Images in [−1, 1] to the paper's [0, 1] pixels, so the noise levels mean what they did.
    fn input(&self, x: &Tensor, train: bool) -> Tensor {
        noisy((x.flatten(1, -1) + 1.0) * 0.5, self.input_noise, train)
    }

    /// Data-dependent initialisation of every layer in turn on the batch `x` (with the
    /// training noise, as the authors' initialisation pass).
    pub fn init_from(&self, x: &Tensor) {
        let mut h = self.input(x, true);
        for layer in &self.hidden {
            h = noisy(layer.init_from(&h).relu(), self.hidden_noise, true);
        }
        let _ = self.out.init_from(&h);
    }
}

impl Critic for SemiDiscriminator {
    /// Class logits `[n, K]` and each hidden layer's output as the next layer sees it: after its
    /// Gaussian noise in training (the authors match features at the noise layer).
    fn forward_features(&self, x: &Tensor, train: bool) -> (Tensor, Vec<Tensor>) {
        let mut h = self.input(x, train);
        let mut features = Vec::with_capacity(self.hidden.len());
        for layer in &self.hidden {
            h = noisy(layer.forward(&h).relu(), self.hidden_noise, train);
            features.push(h.shallow_clone());
        }
        (self.out.forward(&h), features)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, nn::VarStore};

    #[test]
    fn weight_norm_by_hand() {
        // v = [[3, 4]] has norm 5; with g = 2 the weight is [1.2, 1.6]; b = 0.5.
        // x = [1, 1] gives 1.2 + 1.6 + 0.5 = 3.3.
        let vs = VarStore::new(Device::Cpu);
        let l = WnDense::new(vs.root(), 2, 1, true);
        tch::no_grad(|| {
            l.v.shallow_clone().copy_(&Tensor::from_slice(&[3.0f32, 4.0]).view([1, 2]));
            let _ = l.g.shallow_clone().fill_(2.0);
            let _ = l.b.shallow_clone().fill_(0.5);
        });
        let y = l.forward(&Tensor::from_slice(&[1.0f32, 1.0]).view([1, 2]));
        assert!((y.double_value(&[0, 0]) - 3.3).abs() < 1e-6);
    }

    #[test]
    fn data_dependent_init_standardises_pre_activations() {
        let vs = VarStore::new(Device::Cpu);
        let l = WnDense::new(vs.root(), 20, 7, false);
        let x = Tensor::randn([500, 20], (Kind::Float, Device::Cpu)) * 3.0 + 1.0;
        let _ = l.init_from(&x);
        let y = l.forward(&x);
        let mean = y.mean_dim(0, false, Kind::Float);
        let std = (&y - &mean).square().mean_dim(0, false, Kind::Float).sqrt();
        assert!(mean.abs().max().double_value(&[]) < 1e-4);
        assert!((std - 1.0).abs().max().double_value(&[]) < 1e-4);
        // the hidden layer's scale is not trained; its bias is
        let trainable: Vec<String> =
            vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).map(|(k, _)| k).collect();
        assert_eq!(trainable.len(), 2);
        assert!(!trainable.contains(&"g".to_string()));
    }

    #[test]
    fn noise_only_while_training() {
        let cfg = ModelConfig { d_hidden: vec![8, 8], ..Default::default() };
        let vs = VarStore::new(Device::Cpu);
        let d = SemiDiscriminator::new(&cfg, Shape::Image { channels: 1, size: 4 }, 3, (0.3, 0.5), vs.root());
        let x = Tensor::rand([5, 1, 4, 4], (Kind::Float, Device::Cpu));
        let (a, f) = d.forward_features(&x, false);
        assert_eq!(a.size(), [5, 3]);
        assert_eq!(f.len(), 2);
        assert!((a - d.forward_t(&x, false)).abs().max().double_value(&[]) == 0.0);
        assert!((d.forward_t(&x, true) - d.forward_t(&x, true)).abs().max().double_value(&[]) > 0.0);
        // in training the matched features are the noisy ones the next layer reads: the logits
        // are the read-out of the last feature (so features ≠ their ReLU, which is ≥ 0)
        let (a, f) = d.forward_features(&x, true);
        assert!((a - d.out.forward(&f[1])).abs().max().double_value(&[]) < 1e-6);
        assert!(f[1].min().double_value(&[]) < 0.0);
    }
}
