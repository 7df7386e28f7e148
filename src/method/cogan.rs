//! Coupled GAN (Liu & Tuzel 2016), as the authors' PyTorch MNIST code trains it: two GANs, one
//! per domain, whose generators share their first layers and whose discriminators share their
//! last (`nets::cogan`). Each is trained on its own domain only; no image has a partner in the
//! other domain, yet the shared layers make one z give the same content in both. Per iteration
//!
//! 1. one Adam step of both discriminators on ℓ([D_A(a); D_B(b)], Real) + ℓ([D_A(G_A(z₁));
//!    D_B(G_B(z₁))], Fake), the two domains in one batch through the shared layers;
//! 2. one Adam step of both generators on ℓ([D_A(G_A(z₂)); D_B(G_B(z₂))], Generator),
//!
//! with ℓ the non-saturating loss (the reference's two-way softmax is one logit here), z ~
//! N(0, I)¹⁰⁰, batch 64, Adam 2e-4 β (0.5, 0.999) with weight decay 5e-4, Xavier-uniform
//! weights (gain √2) and biases 0.1. How many layers are shared is `cogan.shared_g` /
//! `cogan.shared_d` (0: two independent GANs, the paper's ablation). A shared layer is one set
//! of variables: both domains' gradients add up in it before its one optimiser update, and a
//! checkpoint holds it once.
use super::adapt::{self, Adapt, Adaptation, LabelsFrom, SharedFeatures};
use super::{Batch, DataInfo, FigureContext, Figures, Method, Metrics, PairSampler, Spec, section};
use crate::config::Config;
use crate::data::unpaired::Side;
use crate::data::{Data, Shape};
use crate::error::{Error, Result};
use crate::nets::cogan::{self, CoDiscriminator, CoGenerator, D_LAYERS, G_LAYERS, SIDES};
use crate::objective::{Adversarial, LossKind, ObjectiveConfig, Target};
use crate::rng;
use crate::train::checkpoint::{Saved, named_variables};
use crate::train::{optim::Optimizer, schedule};
use crate::viz;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

pub const SPEC: Spec = Spec {
    name: "cogan",
    about: "coupled GAN: two GANs sharing G's first and D's last layers, pairs from one z",
    batch: Batch::Unpaired,
    sections: || [section("cogan", &CoConfig::default())].into_iter().collect(),
    check,
    build: |cfg, info, device| Ok(Box::new(CoGan::new(cfg, info, device)?)),
};

/// The `[cogan]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoConfig {
    pub latent_dim: i64,
    /// Channels of the generators' four hidden layers.
    pub g_channels: [i64; 4],
    /// Channels of the discriminators' three hidden layers.
    pub d_channels: [i64; 3],
    /// Generator layers shared, from the first (0 to 4; the fifth makes each domain's image).
    pub shared_g: i64,
    /// Discriminator layers shared, from the last (0 to 3; the first reads each domain's image).
    pub shared_d: i64,
    /// `non_saturating` (the reference), `minimax`, `least_squares` or `hinge`.
    pub loss: LossKind,
    /// Domain adaptation (`--labels-from`): `a` or `b` trains a classifier head on D's shared
    /// layers with that domain's labels (`none`: off).
    pub labels_from: LabelsFrom,
    /// Weight of the head's cross-entropy in D's loss (the reference's mnist2usps: 10).
    pub class_weight: f64,
    /// Weight of the squared distance between D's shared features of the A and B images of one
    /// z, with adaptation on (the reference's 0.01).
    pub feature_weight: f64,
}

impl Default for CoConfig {
    fn default() -> Self {
        CoConfig {
            latent_dim: 100,
            g_channels: [1024, 512, 256, 128],
            d_channels: [20, 50, 500],
            shared_g: G_LAYERS - 1,
            shared_d: D_LAYERS - 1,
            loss: LossKind::NonSaturating,
            labels_from: LabelsFrom::None,
            class_weight: 10.0,
            feature_weight: 0.01,
        }
    }
}

fn check(cfg: &Config) -> Result<()> {
    let c: CoConfig = cfg.section("cogan")?;
    let bad = |key: &str, why: String| Err(Error::Config(format!("`cogan.{key}` {why}")));
    if !(1..=65_536).contains(&c.latent_dim) || c.g_channels.iter().chain(&c.d_channels).any(|&w| !(1..=65_536).contains(&w)) {
        return bad("latent_dim / g_channels / d_channels", "must be 1 to 65,536".into());
    }
    if !(0..G_LAYERS).contains(&c.shared_g) {
        return bad(
            "shared_g",
            format!(
                "= {} is not 0 to {}: the generators have {G_LAYERS} layers and the last makes each domain's own image",
                c.shared_g,
                G_LAYERS - 1
            ),
        );
    }
    if !(0..D_LAYERS).contains(&c.shared_d) {
        return bad(
            "shared_d",
            format!(
                "= {} is not 0 to {}: the discriminators have {D_LAYERS} layers and the first reads each domain's own image",
                c.shared_d,
                D_LAYERS - 1
            ),
        );
    }
    if !matches!(c.loss, LossKind::NonSaturating | LossKind::Minimax | LossKind::LeastSquares | LossKind::Hinge) {
        return bad(
            "loss",
            "must be `non_saturating`, `minimax`, `least_squares` or `hinge`: the Wasserstein and f-GAN critics need a penalty or their own output activation".into(),
        );
    }
    if [c.class_weight, c.feature_weight].iter().any(|&w| !w.is_finite() || w < 0.0) {
        return bad("class_weight / feature_weight", "must be finite and ≥ 0".into());
    }
    if c.labels_from != LabelsFrom::None && c.shared_d < 2 {
        return bad(
            "shared_d",
            format!("= {} leaves no shared layer under the classifier head of --labels-from; share at least 2", c.shared_d),
        );
    }
    cfg.refuse_unread(
        &["train.critic_steps", "train.ema", "train.eval_every", "train.classifier"],
        "CoGAN takes one step of each player per iteration, keeps no weight average, and is scored after training with `gantry eval --run RUN`",
    )
}

pub struct CoGan {
    cfg: Config,
    c: CoConfig,
    device: Device,
    g_vs: VarStore,
    g: CoGenerator,
    d_vs: VarStore,
    d: CoDiscriminator,
    opt_g: Optimizer,
    opt_d: Optimizer,
    objective: Adversarial,
    adapt: Option<Adaptation<CoDiscriminator>>,
}

impl SharedFeatures for CoDiscriminator {
    fn features(&self, x: &Tensor, side: usize) -> Tensor {
        CoDiscriminator::features(self, x, side)
    }
}

impl CoGan {
    pub fn new(cfg: &Config, info: DataInfo, device: Device) -> Result<CoGan> {
        let c: CoConfig = cfg.section("cogan")?;
        let (ca, cb, side) = match (info.shape, info.shape_b) {
            (Shape::Image { channels: a, size }, Some(Shape::Image { channels: b, .. })) => (a, b, size),
            _ => {
                return Err(Error::Config(
                    "method = \"cogan\" needs two image domains (a folder with trainA/ and trainB/ of images)".into(),
                ));
            }
        };
        if !SIDES.contains(&side) {
            return Err(Error::Config(format!(
                "method = \"cogan\" has the reference's 28 × 28 networks and takes images of {} to {} pixels, but the data's are {side} × {side}; set data.load_size = 28",
                SIDES.start(),
                SIDES.end()
            )));
        }
        rng::seed_torch(cfg.seed, rng::stream::INIT, 0);
        let g_vs = VarStore::new(device);
        let g = CoGenerator::new(&g_vs.root(), c.latent_dim, c.g_channels, (ca, cb), side, c.shared_g);
        cogan::initialise(&g_vs);
        rng::seed_torch(cfg.seed, rng::stream::INIT, 1);
        let d_vs = VarStore::new(device);
        let d = CoDiscriminator::new(&d_vs.root(), c.d_channels, (ca, cb), c.shared_d);
        // with adaptation, D's classifier head exists before D is initialised, as in the reference
        let adapt = match Adapt::new(c.labels_from, info.classes, "cogan")? {
            None => None,
            Some(a) => {
                let base_vs = VarStore::new(device);
                let base = CoDiscriminator::new(&base_vs.root(), c.d_channels, (ca, cb), c.shared_d);
                let last = format!("l{}.", D_LAYERS - 1);
                Some(Adaptation::new(a, &d_vs, c.d_channels[2], base_vs, base, &last, &cfg.train, &cogan::initialise))
            }
        };
        cogan::initialise(&d_vs);
        let trainable = |vs: &VarStore| -> Vec<(String, Tensor)> {
            named_variables(vs).into_iter().filter(|(_, t)| t.requires_grad()).collect()
        };
        let objective = Adversarial::from_config(&ObjectiveConfig { loss: c.loss, ..Default::default() });
        Ok(CoGan {
            adapt,
            cfg: cfg.clone(),
            device,
            opt_g: Optimizer::new(&cfg.train, trainable(&g_vs)),
            opt_d: Optimizer::new(&cfg.train, trainable(&d_vs)),
            c,
            g_vs,
            g,
            d_vs,
            d,
            objective,
        })
    }

    fn lr(&self, base: f64, step: u64) -> f64 {
        let t = &self.cfg.train;
        schedule::lr(base, t.lr_schedule, t.decay_start, step, self.cfg.steps)
    }

    fn noise(&self, n: i64) -> Tensor {
        crate::dist::draw(n, |n| Tensor::randn([n, self.c.latent_dim], (Kind::Float, self.device)))
    }

    /// Both discriminators' logits of A and B images as one tensor.
    fn judge(&self, a: &Tensor, b: &Tensor) -> Tensor {
        let (la, lb) = self.d.forward_pair(a, b);
        Tensor::cat(&[la, lb], 0)
    }
}

impl Saved for CoGan {
    fn stores(&self) -> Vec<(&'static str, &VarStore)> {
        adapt::stores(&self.g_vs, &self.d_vs, &self.adapt)
    }

    fn optimizers(&mut self) -> Vec<(&'static str, &mut Optimizer)> {
        adapt::optimizers(&mut self.opt_g, &mut self.opt_d, &mut self.adapt)
    }
}

impl Method for CoGan {
    fn prepare(&mut self, data: &Data, _fresh: bool) -> Result<()> {
        adapt::prepare(&self.adapt, data, self.cfg.data.batch_size, self.cfg.seed)
    }

    fn figures(&self, ctx: &FigureContext) -> Result<Figures> {
        adapt::figures(&self.adapt, &self.d, ctx, self.device)
    }

    fn train_step(&mut self, step: u64, data: &Data) -> Metrics {
        let n = self.cfg.data.batch_size;
        let (real_a, real_b) = data.two().batch(step, n, self.cfg.seed);

        // Discriminators: the fakes come from G in training mode (its batch statistics), with no
        // gradient kept for G.
        let z = self.noise(n);
        let (fake_a, fake_b) = tch::no_grad(|| self.g.forward_pair(&z, true));
        let real = self.judge(&real_a, &real_b);
        let fake = self.judge(&fake_a, &fake_b);
        let mut loss_d =
            self.objective.target_loss(&real, Target::Real) + self.objective.target_loss(&fake, Target::Fake);
        let mut m: Metrics = vec![];
        let lr_d = self.lr(self.cfg.train.d_lr, step);
        if let Some(ad) = &mut self.adapt {
            // the head on the source's labelled images, and one z's A and B features drawn together
            let src = if ad.a.source == Side::A { &real_a } else { &real_b };
            let (class, am) = ad.step(&self.d, data, src, None, step, n, self.cfg.seed, lr_d);
            let gap = (self.d.features(&fake_a, 0) - self.d.features(&fake_b, 1)).square().sum(Kind::Float) / n as f64;
            loss_d += &class * self.c.class_weight + &gap * self.c.feature_weight;
            m.extend(am);
            m.push(("d/feature_gap", gap.detach()));
        }
        let d_params = self.opt_d.params();
        let grads = crate::dist::gradients(&loss_d, &d_params, false);
        self.opt_d.update(&grads, lr_d);
        let correct = (real.gt(0.0).to_kind(Kind::Float).mean(Kind::Float) + fake.le(0.0).to_kind(Kind::Float).mean(Kind::Float)) * 0.5;

        // Generators, judged by the updated discriminators.
        let z = self.noise(n);
        let (fake_a, fake_b) = self.g.forward_pair(&z, true);
        let loss_g = self.objective.target_loss(&self.judge(&fake_a, &fake_b), Target::Generator);
        let g_params = self.opt_g.params();
        let grads = crate::dist::gradients(&loss_g, &g_params, false);
        self.opt_g.update(&grads, self.lr(self.cfg.train.g_lr, step));

        m.extend([("d/loss", loss_d.detach()), ("g/loss", loss_g.detach()), ("d/accuracy", correct)]);
        m
    }

    fn grid_inputs(&self, _data: &Data, n: i64) -> Tensor {
        self.noise(n.clamp(1, 32))
    }

    fn write_grid(&self, inputs: &Tensor, _data: &Data, path: &Path, _seed: u64) -> Result<()> {
        let (a, b) = self.generate_pair(inputs);
        viz::save_grid(&pair_rows(&a, &b, 8), 8, path)
    }

    fn pairs(&self) -> Option<&dyn PairSampler> {
        Some(self)
    }
}

impl PairSampler for CoGan {
    fn latents(&self, n: i64) -> Tensor {
        self.noise(n)
    }

    fn generate_pair(&self, z: &Tensor) -> (Tensor, Tensor) {
        let (a, b) = tch::no_grad(|| self.g.forward_pair(&z.to(self.device), false));
        let pair = crate::nets::cogan::stack_pair(a, b);
        (pair.get(0), pair.get(1))
    }

    fn stages(&self) -> Vec<crate::nets::Stage<'_>> {
        use crate::nets::Staged;
        self.g.stages()
    }
}

/// Rows of `cols` A images, each followed by the row of their B partners, for a grid.
pub fn pair_rows(a: &Tensor, b: &Tensor, cols: i64) -> Tensor {
    let n = a.size()[0];
    let mut rows = vec![];
    for start in (0..n).step_by(cols as usize) {
        let k = cols.min(n - start);
        rows.push(a.narrow(0, start, k).to_device(Device::Cpu));
        rows.push(b.narrow(0, start, k).to_device(Device::Cpu));
    }
    Tensor::cat(&rows, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Sources;

    fn cogan(sets: &[&str]) -> CoGan {
        let src = Sources {
            preset: Some("cogan".into()),
            file: None,
            sets: sets.iter().map(|s| s.to_string()).chain(["cogan.g_channels=[8,8,8,8]".into()]).collect(),
        };
        let cfg = super::super::resolve(&src).unwrap();
        let shape = Shape::Image { channels: 1, size: 28 };
        CoGan::new(&cfg, DataInfo { shape, classes: 0, shape_b: Some(shape) }, Device::Cpu).unwrap()
    }

    #[test]
    fn a_shared_layer_is_one_variable_that_both_domains_train() {
        let m = cogan(&[]);
        let names: Vec<String> = m.g_vs.variables().into_keys().collect();
        // four shared layers (conv weight and bias, PReLU slope, batch norm's running mean and
        // variance; no affine parameters) stored once; the last layer twice
        assert_eq!(names.iter().filter(|n| n.starts_with("shared.")).count(), 4 * 5, "{names:?}");
        assert!(names.contains(&"a.l4.conv.weight".to_string()) && names.contains(&"b.l4.conv.weight".to_string()));
        assert!(!names.iter().any(|n| n.starts_with("a.l3") || n.starts_with("b.l0")), "{names:?}");
        let d_names: Vec<String> = m.d_vs.variables().into_keys().collect();
        assert!(d_names.contains(&"a.l0.conv.weight".into()) && d_names.contains(&"shared.l1.conv.weight".into()));
        assert!(!d_names.iter().any(|n| n.starts_with("a.l1")), "{d_names:?}");

        // a loss on A's images alone, and on B's alone, each reach the shared first layer; the
        // gradient of their sum is the sum of the two
        let w = m.g_vs.variables()["shared.l0.conv.weight"].shallow_clone();
        tch::manual_seed(1);
        let z = m.noise(4);
        let grad = |f: &dyn Fn(&Tensor, &Tensor) -> Tensor| {
            let (a, b) = m.g.forward_pair(&z, true);
            Tensor::run_backward(&[f(&a, &b)], &[&w], false, false).remove(0)
        };
        let ga = grad(&|a, _| a.square().mean(Kind::Float));
        let gb = grad(&|_, b| b.abs().mean(Kind::Float));
        let both = grad(&|a, b| a.square().mean(Kind::Float) + b.abs().mean(Kind::Float));
        assert!(ga.abs().sum(Kind::Float).double_value(&[]) > 0.0 && gb.abs().sum(Kind::Float).double_value(&[]) > 0.0);
        assert!(both.allclose(&(&ga + &gb), 1e-5, 1e-7, false));
        // and the optimiser holds it once
        assert_eq!(m.opt_g.params().iter().filter(|p| p.data_ptr() == w.data_ptr()).count(), 1);
    }

    #[test]
    fn no_sharing_makes_two_independent_gans() {
        let m = cogan(&["cogan.shared_g=0", "cogan.shared_d=0"]);
        assert!(!m.g_vs.variables().keys().chain(m.d_vs.variables().keys()).any(|n| n.starts_with("shared.")));
        // A's loss leaves B's generator untouched
        let (a, _) = m.g.forward_pair(&m.noise(2), true);
        let wb = m.g_vs.variables()["b.l0.conv.weight"].shallow_clone();
        let g = Tensor::run_backward(&[a.sum(Kind::Float)], &[&wb], false, true).remove(0);
        assert!(!g.defined() || g.abs().sum(Kind::Float).double_value(&[]) == 0.0);
    }

    #[test]
    fn shapes_of_the_reference_networks() {
        let m = cogan(&[]);
        let (a, b) = m.generate_pair(&m.noise(3));
        assert_eq!(a.size(), [3, 1, 28, 28]);
        assert_eq!(b.size(), [3, 1, 28, 28]);
        assert!(a.abs().max().double_value(&[]) <= 1.0);
        let (la, lb) = m.d.forward_pair(&a, &b.narrow(0, 0, 2));
        assert_eq!((la.size(), lb.size()), (vec![3, 1], vec![2, 1]));
    }

    #[test]
    fn pair_rows_interleave() {
        let a = Tensor::zeros([3, 1, 2, 2], (Kind::Float, Device::Cpu));
        let b = Tensor::ones([3, 1, 2, 2], (Kind::Float, Device::Cpu));
        let r = pair_rows(&a, &b, 2);
        let first: Vec<f32> = r.mean_dim([1, 2, 3].as_slice(), false, Kind::Float).try_into().unwrap();
        assert_eq!(first, vec![0.0, 0.0, 1.0, 1.0, 0.0, 1.0]);
    }
}
