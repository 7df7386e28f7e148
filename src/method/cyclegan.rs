//! CycleGAN (Zhu et al. 2017), as the authors' PyTorch code trains it: generators G_AB and G_BA
//! (`nets::resnet`), PatchGAN discriminators D_A and D_B (`nets::patchgan`), per iteration
//!
//! 1. fake_B = G_AB(a), rec_A = G_BA(fake_B), fake_A = G_BA(b), rec_B = G_AB(fake_A);
//! 2. one Adam step of both generators (the discriminators' weights get no gradient) on
//!    ℓ(D_B(fake_B), Gen) + ℓ(D_A(fake_A), Gen) + λ_A‖rec_A − a‖₁ + λ_B‖rec_B − b‖₁
//!    + λ_idt·(λ_B‖G_AB(b) − b‖₁ + λ_A‖G_BA(a) − a‖₁);
//! 3. one Adam step of both discriminators on ½[ℓ(D_B(b), Real) + ℓ(D_B(pool_B(fake_B)), Fake)]
//!    + ½[ℓ(D_A(a), Real) + ℓ(D_A(pool_A(fake_A)), Fake)],
//!
//! with ℓ the least-squares loss by default (`cyclegan.loss`; `objective::Adversarial`), λ_A =
//! λ_B = 10, λ_idt = 0.5, pools of 50 past fakes (`ImagePool`), batch 1, Adam 2e-4 β (0.5,
//! 0.999), N(0, 0.02) weights, and a constant then linear learning rate (`train.lr_schedule`).
//! The pools are training state: checkpoints hold them, so a resumed run repeats a straight one.
use super::{Batch, DataInfo, Direction, Method, Metrics, Spec, Translator, section};
use crate::config::Config;
use crate::data::{Data, Shape};
use crate::error::{Error, Result};
use crate::nets::discogan::DiscoMlp;
use crate::nets::patchgan::PatchGan;
use crate::nets::resnet::{Norm2d, ResnetGenerator, ResnetShape};
use crate::nets::{self, CriticNet, Init};
use crate::objective::{Adversarial, LossKind, ObjectiveConfig, Target};
use crate::rng;
use crate::train::checkpoint::{Saved, named_variables};
use crate::train::{optim::Optimizer, schedule};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

pub const SPEC: Spec = Spec {
    name: "cyclegan",
    about: "CycleGAN: two generators, two PatchGAN discriminators, cycle consistency, image pools",
    batch: Batch::Unpaired,
    sections: || [section("cyclegan", &CycleConfig::default())].into_iter().collect(),
    check,
    build: |cfg, info, device| Ok(Box::new(CycleGan::new(cfg, info, device)?)),
};

/// The `[cyclegan]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CycleConfig {
    /// Channels of the generators' first convolution.
    pub ngf: i64,
    /// Stride-2 down-samplings in the generators (and as many up-samplings).
    pub downs: i64,
    /// Residual blocks of the generators (9 at 256², 6 at 128²).
    pub blocks: i64,
    /// Channels of the discriminators' first convolution.
    pub ndf: i64,
    /// Stride-2 layers of the PatchGAN (3: 70 × 70 patches).
    pub d_layers: i64,
    pub norm: Norm2d,
    /// Hidden widths of the fully connected networks of point domains (the 2-D toy).
    pub hidden: Vec<i64>,
    /// The adversarial loss: `least_squares` (the reference's `lsgan`), `non_saturating`
    /// (`vanilla`) or `hinge`.
    pub loss: LossKind,
    /// Weights of the cycle losses A → B → A and B → A → B.
    pub lambda_a: f64,
    pub lambda_b: f64,
    /// Weight of the identity losses, relative to λ_A and λ_B (0 turns them off; needs the
    /// two domains to have the same channels).
    pub lambda_identity: f64,
    /// Past fakes each discriminator's pool holds (0: no pool).
    pub pool_size: i64,
}

impl Default for CycleConfig {
    fn default() -> Self {
        CycleConfig {
            ngf: 64,
            downs: 2,
            blocks: 9,
            ndf: 64,
            d_layers: 3,
            norm: Norm2d::Instance,
            hidden: vec![128, 128],
            loss: LossKind::LeastSquares,
            lambda_a: 10.0,
            lambda_b: 10.0,
            lambda_identity: 0.5,
            pool_size: 50,
        }
    }
}

fn check(cfg: &Config) -> Result<()> {
    let c: CycleConfig = cfg.section("cyclegan")?;
    let bad = |key: &str, why: &str| Err(Error::Config(format!("`cyclegan.{key}` {why}")));
    if c.ngf < 1 || c.ndf < 1 || c.blocks < 0 || !(1..=5).contains(&c.downs) || !(1..=6).contains(&c.d_layers) {
        return bad("ngf / ndf / blocks / downs / d_layers", "must be ≥ 1, ≥ 1, ≥ 0, 1–5 and 1–6");
    }
    if !matches!(c.loss, LossKind::LeastSquares | LossKind::NonSaturating | LossKind::Hinge) {
        return bad(
            "loss",
            "must be `least_squares`, `non_saturating` or `hinge`: the Wasserstein and f-GAN critics need a penalty or their own output activation, which CycleGAN's discriminators do not have",
        );
    }
    if [c.lambda_a, c.lambda_b, c.lambda_identity].iter().any(|&l| !l.is_finite() || l < 0.0) {
        return bad("lambda_a / lambda_b / lambda_identity", "must be finite and ≥ 0");
    }
    if c.pool_size < 0 {
        return bad("pool_size", "must be ≥ 0 (0: no pool)");
    }
    cfg.refuse_unread(
        &["train.critic_steps", "train.ema", "train.eval_every", "train.classifier"],
        "CycleGAN takes one step of each player per iteration, keeps no weight average, and is scored after training with `gantry eval --run RUN`",
    )
}

/// The discriminators' pools of past fakes (Shrivastava et al. 2017, as the CycleGAN code): while
/// not full, a new image is stored and returned; once full, with probability ½ a random stored
/// image is returned and the new one takes its place, else the new image is returned.
pub struct ImagePool {
    size: usize,
    images: Vec<Tensor>,
}

impl ImagePool {
    pub fn new(size: usize) -> ImagePool {
        ImagePool { size, images: vec![] }
    }

    /// The images D sees for a batch of fakes `[n, c, h, w]`; draws from libtorch's generator.
    pub fn query(&mut self, fakes: &Tensor) -> Tensor {
        if self.size == 0 {
            return fakes.shallow_clone();
        }
        let mut out = vec![];
        for i in 0..fakes.size()[0] {
            let image = fakes.narrow(0, i, 1).detach().copy();
            if self.images.len() < self.size {
                self.images.push(image.shallow_clone());
                out.push(image);
                continue;
            }
            let u = Tensor::rand([1], (Kind::Double, Device::Cpu)).double_value(&[0]);
            if u > 0.5 {
                let j = Tensor::randint(self.size as i64, [1], (Kind::Int64, Device::Cpu)).int64_value(&[0]) as usize;
                out.push(std::mem::replace(&mut self.images[j], image));
            } else {
                out.push(image);
            }
        }
        Tensor::cat(&out, 0)
    }

    pub fn len(&self) -> usize {
        self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// The stored images as one tensor (none: no entry).
    fn saved(&self) -> Option<Tensor> {
        (!self.images.is_empty()).then(|| Tensor::cat(&self.images, 0))
    }

    fn restore(&mut self, t: Option<&Tensor>, device: Device) {
        self.images = t.map_or(vec![], |t| (0..t.size()[0]).map(|i| t.narrow(0, i, 1).to(device).copy()).collect());
    }
}

pub struct CycleGan {
    cfg: Config,
    c: CycleConfig,
    device: Device,
    channels: (i64, i64),
    g_vs: VarStore,
    g_ab: crate::nets::Net,
    g_ba: crate::nets::Net,
    d_vs: VarStore,
    d_a: CriticNet,
    d_b: CriticNet,
    opt_g: Optimizer,
    opt_d: Optimizer,
    pool_a: ImagePool,
    pool_b: ImagePool,
    objective: Adversarial,
}

impl CycleGan {
    pub fn new(cfg: &Config, info: DataInfo, device: Device) -> Result<CycleGan> {
        let c: CycleConfig = cfg.section("cyclegan")?;
        let (images, ca, cb) = match (info.shape, info.shape_b) {
            (Shape::Image { channels: a, .. }, Some(Shape::Image { channels: b, .. })) => (true, a, b),
            (Shape::Points { dim: a }, Some(Shape::Points { dim: b })) => (false, a, b),
            _ => {
                return Err(Error::Config(
                    "method = \"cyclegan\" needs two image domains (trainA/, trainB/) or two point sets (trainA.csv, trainB.csv)".into(),
                ));
            }
        };
        if c.lambda_identity > 0.0 && ca != cb {
            return Err(Error::Config(format!(
                "`cyclegan.lambda_identity` needs both domains to have the same channels, but A has {ca} and B {cb}; set cyclegan.lambda_identity = 0 or data.channels to 1 or 3"
            )));
        }
        let shape = ResnetShape { ngf: c.ngf, downs: c.downs, blocks: c.blocks };
        rng::seed_torch(cfg.seed, rng::stream::INIT, 0);
        let g_vs = VarStore::new(device);
        let make_g = |p: tch::nn::Path, cin: i64, cout: i64| -> crate::nets::Net {
            if images {
                Box::new(ResnetGenerator::new(p, cin, cout, shape, c.norm))
            } else {
                Box::new(DiscoMlp::new(p, cin, &c.hidden, cout, false))
            }
        };
        let g_ab = make_g(g_vs.root() / "g_ab", ca, cb);
        let g_ba = make_g(g_vs.root() / "g_ba", cb, ca);
        nets::initialise(&g_vs, Init::Dcgan);
        rng::seed_torch(cfg.seed, rng::stream::INIT, 1);
        let d_vs = VarStore::new(device);
        let make_d = |p: tch::nn::Path, cin: i64| -> CriticNet {
            if images {
                Box::new(PatchGan::new(p, cin, c.ndf, c.d_layers, c.norm))
            } else {
                Box::new(DiscoMlp::new(p, cin, &c.hidden, 1, true))
            }
        };
        let d_a = make_d(d_vs.root() / "d_a", ca);
        let d_b = make_d(d_vs.root() / "d_b", cb);
        nets::initialise(&d_vs, Init::Dcgan);
        let trainable = |vs: &VarStore| named_variables(vs).into_iter().filter(|(_, t)| t.requires_grad()).collect();
        let objective = Adversarial::from_config(&ObjectiveConfig { loss: c.loss, ..Default::default() });
        Ok(CycleGan {
            cfg: cfg.clone(),
            device,
            channels: (ca, cb),
            opt_g: Optimizer::new(&cfg.train, trainable(&g_vs)),
            opt_d: Optimizer::new(&cfg.train, trainable(&d_vs)),
            pool_a: ImagePool::new(c.pool_size as usize),
            pool_b: ImagePool::new(c.pool_size as usize),
            c,
            g_vs,
            g_ab,
            g_ba,
            d_vs,
            d_a,
            d_b,
            objective,
        })
    }

    fn lr(&self, base: f64, step: u64) -> f64 {
        let t = &self.cfg.train;
        schedule::lr(base, t.lr_schedule, t.decay_start, step, self.cfg.steps)
    }

    /// Whether one pass over the batches `a` and `b` together gives what two passes give: every
    /// layer treats each example alone (no batch norm) and the two batches have one shape.
    fn joint(norm: Norm2d, a: &Tensor, b: &Tensor) -> bool {
        norm != Norm2d::Batch && a.size() == b.size()
    }

    /// `net(x)` and, when `y` is given, `net(y)`: in one pass over both when `joint`.
    fn pass<N: Pass + ?Sized>(net: &N, x: &Tensor, y: Option<&Tensor>, joint: bool) -> (Tensor, Option<Tensor>) {
        match y {
            Some(y) if joint => {
                let both = net.run(&Tensor::cat(&[x, y], 0));
                let n = x.size()[0];
                (both.narrow(0, 0, n), Some(both.narrow(0, n, y.size()[0])))
            }
            Some(y) => (net.run(x), Some(net.run(y))),
            None => (net.run(x), None),
        }
    }

    fn l1(a: &Tensor, b: &Tensor) -> Tensor {
        (a - b).abs().mean(Kind::Float)
    }
}

/// A network of the training step: a generator's images or a discriminator's patch logits.
trait Pass {
    fn run(&self, x: &Tensor) -> Tensor;
}

impl Pass for crate::nets::Net {
    fn run(&self, x: &Tensor) -> Tensor {
        self.forward_t(x, true)
    }
}

impl Pass for CriticNet {
    fn run(&self, x: &Tensor) -> Tensor {
        self.forward_features(x, true).0
    }
}

impl Saved for CycleGan {
    fn stores(&self) -> Vec<(&'static str, &VarStore)> {
        vec![("g", &self.g_vs), ("d", &self.d_vs)]
    }

    fn optimizers(&mut self) -> Vec<(&'static str, &mut Optimizer)> {
        vec![("g", &mut self.opt_g), ("d", &mut self.opt_d)]
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        [("pool_a", &self.pool_a), ("pool_b", &self.pool_b)]
            .into_iter()
            .filter_map(|(k, p)| p.saved().map(|t| (k.to_string(), t)))
            .collect()
    }

    fn load_state(&mut self, saved: &BTreeMap<String, Tensor>) -> Result<()> {
        for (key, pool) in [("pool_a", &mut self.pool_a), ("pool_b", &mut self.pool_b)] {
            let t = saved.get(key);
            if t.is_some_and(|t| t.size()[0] as usize > pool.size) {
                return Err(Error::Config(format!("its {key} holds more images than cyclegan.pool_size")));
            }
            pool.restore(t, self.device);
        }
        Ok(())
    }
}

impl Method for CycleGan {
    fn train_step(&mut self, step: u64, data: &Data) -> Metrics {
        let (real_a, real_b) = data.two().batch(step, self.cfg.data.batch_size, self.cfg.seed);
        let c = &self.c;
        let mut m: Metrics = Vec::with_capacity(12);

        // Generators: D's weights are not among the variables differentiated. With per-example
        // layers (instance norm, or none) a generator's two inputs of the iteration go through it
        // as one batch: the same losses in fewer, larger operations.
        let joint = Self::joint(c.norm, &real_a, &real_b);
        let identity = c.lambda_identity > 0.0;
        let (fake_b, same_b) = Self::pass(&self.g_ab, &real_a, identity.then_some(&real_b), joint);
        let (fake_a, same_a) = Self::pass(&self.g_ba, &real_b, identity.then_some(&real_a), joint);
        let rec_a = self.g_ba.forward_t(&fake_b, true);
        let rec_b = self.g_ab.forward_t(&fake_a, true);
        let gan_a = self.objective.target_loss(&self.d_b.forward_features(&fake_b, true).0, Target::Generator);
        let gan_b = self.objective.target_loss(&self.d_a.forward_features(&fake_a, true).0, Target::Generator);
        let cycle_a = Self::l1(&rec_a, &real_a) * c.lambda_a;
        let cycle_b = Self::l1(&rec_b, &real_b) * c.lambda_b;
        let mut loss_g = &gan_a + &gan_b + &cycle_a + &cycle_b;
        if let (Some(same_b), Some(same_a)) = (same_b, same_a) {
            let idt_a = Self::l1(&same_b, &real_b) * (c.lambda_b * c.lambda_identity);
            let idt_b = Self::l1(&same_a, &real_a) * (c.lambda_a * c.lambda_identity);
            loss_g += &idt_a + &idt_b;
            m.push(("g/idt_a", idt_a.detach()));
            m.push(("g/idt_b", idt_b.detach()));
        }
        let g_params = self.opt_g.params();
        let grads = crate::dist::gradients(&loss_g, &g_params, false);
        self.opt_g.update(&grads, self.lr(self.cfg.train.g_lr, step));

        // Discriminators, on real images and pooled fakes.
        let pooled_b = self.pool_b.query(&fake_b.detach());
        let pooled_a = self.pool_a.query(&fake_a.detach());
        let d_side = |d: &CriticNet, real: &Tensor, fake: &Tensor| {
            let joint = joint && real.size() == fake.size();
            let (on_real, on_fake) = Self::pass(d, real, Some(fake), joint);
            (self.objective.target_loss(&on_real, Target::Real)
                + self.objective.target_loss(&on_fake.expect("asked for"), Target::Fake))
                * 0.5
        };
        let loss_d_b = d_side(&self.d_b, &real_b, &pooled_b);
        let loss_d_a = d_side(&self.d_a, &real_a, &pooled_a);
        let loss_d = &loss_d_a + &loss_d_b;
        let d_params = self.opt_d.params();
        let grads = crate::dist::gradients(&loss_d, &d_params, false);
        self.opt_d.update(&grads, self.lr(self.cfg.train.d_lr, step));

        m.extend([
            ("d/loss", loss_d.detach()),
            ("d_a/loss", loss_d_a.detach()),
            ("d_b/loss", loss_d_b.detach()),
            ("g/loss", loss_g.detach()),
            ("g/gan_ab", gan_a.detach()),
            ("g/gan_ba", gan_b.detach()),
            ("g/cycle_a", cycle_a.detach()),
            ("g/cycle_b", cycle_b.detach()),
        ]);
        m
    }

    fn grid_inputs(&self, data: &Data, n: i64) -> Tensor {
        super::pairs::grid_inputs(data, n)
    }

    fn write_grid(&self, inputs: &Tensor, _data: &Data, path: &Path, _seed: u64) -> Result<()> {
        super::pairs::write_grid(self, inputs, path)
    }

    fn translator(&self) -> Option<&dyn Translator> {
        Some(self)
    }
}

impl Translator for CycleGan {
    fn translate(&self, x: &Tensor, dir: Direction) -> Tensor {
        let g = match dir {
            Direction::AtoB => &self.g_ab,
            Direction::BtoA => &self.g_ba,
        };
        tch::no_grad(|| g.forward_t(&x.to(self.device), false))
    }

    fn channels(&self, dir: Direction) -> (i64, i64) {
        dir.orient(self.channels)
    }

    fn side_multiple(&self) -> i64 {
        1 << self.c.downs
    }

    fn min_side(&self) -> i64 {
        // the bottleneck's reflection padding needs a side of at least 2
        (2i64 << self.c.downs).max(8)
    }

    fn stages(&self, dir: Direction) -> Vec<crate::nets::Stage<'_>> {
        match dir {
            Direction::AtoB => self.g_ab.stages(),
            Direction::BtoA => self.g_ba.stages(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(values: &[f32]) -> Tensor {
        Tensor::from_slice(values).view([-1, 1, 1, 1])
    }

    #[test]
    fn the_pool_fills_then_swaps_half_the_time() {
        tch::manual_seed(0);
        let mut p = ImagePool::new(3);
        // while filling, each image is stored and returned as it is
        let out = p.query(&images(&[1.0, 2.0, 3.0]));
        assert_eq!(Vec::<f32>::try_from(out.flatten(0, -1)).unwrap(), vec![1.0, 2.0, 3.0]);
        assert_eq!(p.len(), 3);
        // once full, a stored image handed out is replaced by the new one: each of the three
        // originals comes back exactly once over many queries, and the pool stays full
        let out = p.query(&images(&[7.0; 400]));
        let old = Vec::<f32>::try_from(out.flatten(0, -1)).unwrap().iter().filter(|&&v| v != 7.0).count();
        assert_eq!(old, 3);
        assert_eq!(p.len(), 3);
        // a full pool of one swaps with probability ½
        let mut swaps = 0;
        for _ in 0..1000 {
            let mut r = ImagePool::new(1);
            let _ = r.query(&images(&[0.0]));
            swaps += i32::from(r.query(&images(&[1.0])).double_value(&[0, 0, 0, 0]) == 0.0);
        }
        assert!((430..=570).contains(&swaps), "swap probability ½: {swaps} of 1000");
    }

    #[test]
    fn one_pass_over_both_inputs_gives_the_two_passes_outputs() {
        // instance norm treats each example alone, so a generator's or a PatchGAN's outputs for
        // [x; y] are its outputs for x and for y (to float rounding: the products are blocked
        // differently); batch norm would mix the two batches, so it is never joined
        tch::manual_seed(1);
        let vs = VarStore::new(Device::Cpu);
        let shape = ResnetShape { ngf: 4, downs: 2, blocks: 1 };
        let g: crate::nets::Net = Box::new(ResnetGenerator::new(vs.root() / "g", 1, 1, shape, Norm2d::Instance));
        let d: CriticNet = Box::new(PatchGan::new(vs.root() / "d", 1, 4, 2, Norm2d::Instance));
        let (x, y) = (Tensor::randn([3, 1, 12, 12], tch::kind::FLOAT_CPU), Tensor::randn([3, 1, 12, 12], tch::kind::FLOAT_CPU));
        assert!(CycleGan::joint(Norm2d::Instance, &x, &y) && CycleGan::joint(Norm2d::None, &x, &y));
        assert!(!CycleGan::joint(Norm2d::Batch, &x, &y), "batch norm: two passes");
        assert!(!CycleGan::joint(Norm2d::Instance, &x, &y.narrow(0, 0, 2).upsample_nearest2d([16, 16], None, None)));
        let (a1, b1) = CycleGan::pass(&g, &x, Some(&y), true);
        let (a2, b2) = CycleGan::pass(&g, &x, Some(&y), false);
        let diff = |u: &Tensor, v: &Tensor| (u - v).abs().max().double_value(&[]);
        assert_eq!(a1.size(), vec![3, 1, 12, 12]);
        assert!(diff(&a1, &a2) < 1e-5 && diff(&b1.unwrap(), &b2.unwrap()) < 1e-5);
        let (p1, q1) = CycleGan::pass(&d, &x, Some(&y), true);
        let (p2, q2) = CycleGan::pass(&d, &x, Some(&y), false);
        assert!(diff(&p1, &p2) < 1e-5 && diff(&q1.unwrap(), &q2.unwrap()) < 1e-5);
        assert!(CycleGan::pass(&g, &x, None, true).1.is_none());
    }

    #[test]
    fn the_pool_survives_a_checkpoint() {
        let mut p = ImagePool::new(4);
        let _ = p.query(&images(&[1.0, 2.0]));
        let saved = p.saved().unwrap();
        let mut q = ImagePool::new(4);
        q.restore(Some(&saved), Device::Cpu);
        assert_eq!(q.len(), 2);
        assert!(q.saved().unwrap().equal(&saved));
        q.restore(None, Device::Cpu);
        assert!(q.is_empty());
        assert!(ImagePool::new(0).query(&images(&[5.0])).equal(&images(&[5.0])), "size 0: no pool");
    }
}
