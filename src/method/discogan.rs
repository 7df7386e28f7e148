//! DiscoGAN (Kim et al. 2017), as the authors' PyTorch code trains it. G_AB and G_BA map
//! between the domains, D_A and D_B tell each domain's real images from translated ones. Each
//! iteration computes, with pixels in [0, 1] and ℓ the binary cross-entropy:
//!
//! - D_X's loss ½ℓ(D_X(x), 1) + ½ℓ(D_X(G(y)), 0) and the generator's ℓ(D_X(G(y)), 1);
//! - feature matching on D_X's normalised layers: Σ_layers mean (E f(x) − E f(G(y)))²;
//! - reconstruction MSE(G_BA(G_AB(a)), a) and MSE(G_AB(G_BA(b)), b);
//! - the generator loss per side (0.1·GAN + 0.9·FM)(1 − r) + r·recon, where r is 0.01 for the
//!   first `curriculum` iterations and 0.5 after (the r schedule);
//!
//! and then updates either both discriminators (every `update_interval`-th iteration, the first
//! included) or both generators, with Adam 2e-4 β (0.5, 0.999) and weight decay 1e-5. One gantry
//! step is one such iteration. `arch` picks the paper's baselines: `gan` (G_AB with D_B alone)
//! and `recongan` (GAN + reconstruction one way: A → B → A).
//!
//! Point data (the 2-D toy) uses fully connected networks (`nets::discogan::DiscoMlp`) on
//! the points as they are.
use super::{Batch, DataInfo, Direction, Method, Metrics, Spec, Translator, section};
use crate::config::Config;
use crate::data::{Data, Shape};
use crate::error::{Error, Result};
use crate::nets::Critic;
use crate::nets::discogan::{DiscoDiscriminator, DiscoGenerator, DiscoMlp};
use crate::objective::improved;
use crate::rng;
use crate::train::checkpoint::{Saved, named_variables};
use crate::train::{optim::Optimizer, schedule};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

pub const SPEC: Spec = Spec {
    name: "discogan",
    about: "DiscoGAN: two generators, two discriminators, reconstruction both ways, feature matching, the r schedule",
    batch: Batch::Unpaired,
    sections: || [section("discogan", &DiscoConfig::default())].into_iter().collect(),
    check,
    build: |cfg, info, device| Ok(Box::new(DiscoGan::new(cfg, info, device)?)),
};

/// Which of the paper's models to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// Both generators, both discriminators, reconstruction both ways.
    Discogan,
    /// G_AB against D_B, plus the reconstruction of A through G_BA.
    Recongan,
    /// G_AB against D_B alone.
    Gan,
}

/// The `[discogan]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoConfig {
    pub arch: Arch,
    /// Channels of the first convolution of G and of D.
    pub ngf: i64,
    pub ndf: i64,
    /// Stride-2 levels of the convolutional networks (4 at 64 px: 64 → 4; 3 at 32 px).
    pub depth: i64,
    /// Hidden widths of the fully connected generators and discriminators of point data.
    pub hidden: Vec<i64>,
    pub d_hidden: Vec<i64>,
    /// Weights of the GAN and feature-matching terms in the generator loss.
    pub gan_weight: f64,
    pub fm_weight: f64,
    /// Iterations with the starting rate r before the default one.
    pub curriculum: u64,
    pub starting_rate: f64,
    pub default_rate: f64,
    /// Every this many iterations the discriminators are updated (the first one included), the
    /// generators at all the others; 1 updates the discriminators and then the generators at
    /// every iteration (the toy notebook's loop).
    pub update_interval: u64,
}

impl Default for DiscoConfig {
    fn default() -> Self {
        DiscoConfig {
            arch: Arch::Discogan,
            ngf: 64,
            ndf: 64,
            depth: 4,
            hidden: vec![128, 128, 128],
            d_hidden: vec![128, 128, 128, 128, 128],
            gan_weight: 0.1,
            fm_weight: 0.9,
            curriculum: 10000,
            starting_rate: 0.01,
            default_rate: 0.5,
            update_interval: 3,
        }
    }
}

fn check(cfg: &Config) -> Result<()> {
    let c: DiscoConfig = cfg.section("discogan")?;
    let bad = |key: &str, why: &str| Err(Error::Config(format!("`discogan.{key}` {why}")));
    if c.ngf < 1 || c.ndf < 1 || !(2..=6).contains(&c.depth) || c.hidden.iter().chain(&c.d_hidden).any(|&w| w < 1)
    {
        return bad("ngf / ndf / depth / hidden / d_hidden", "must be ≥ 1, ≥ 1, 2–6 and widths ≥ 1");
    }
    if c.update_interval < 1 {
        return bad("update_interval", "must be at least 1");
    }
    for (k, v) in [("starting_rate", c.starting_rate), ("default_rate", c.default_rate)] {
        if !(0.0..=1.0).contains(&v) {
            return bad(k, "must lie in [0, 1]");
        }
    }
    if c.gan_weight < 0.0 || c.fm_weight < 0.0 {
        return bad("gan_weight / fm_weight", "must be ≥ 0");
    }
    cfg.refuse_unread(
        &["train.critic_steps", "train.ema", "train.eval_every", "train.classifier", "train.d_lr"],
        "DiscoGAN alternates discriminator and generator iterations (discogan.update_interval) with one learning rate (train.g_lr), and is scored after training with `gantry eval --run RUN`",
    )
}

/// A generator: logits through a sigmoid for images (the reference's [0, 1] pixels), points as
/// they are.
enum Gen {
    Conv(DiscoGenerator),
    Mlp(DiscoMlp),
}

enum Dis {
    Conv(DiscoDiscriminator),
    Mlp(DiscoMlp),
}

/// Images in gantry's [−1, 1] to the reference's [0, 1], and back; points unchanged.
fn to01(x: &Tensor, images: bool) -> Tensor {
    if images { (x + 1.0) * 0.5 } else { x.shallow_clone() }
}

impl Gen {
    /// In the reference's units ([0, 1] pixels).
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            Gen::Conv(g) => g.forward_t(x, train).sigmoid(),
            Gen::Mlp(g) => ModuleT::forward_t(g, x, train),
        }
    }
}

impl Dis {
    fn forward(&self, x: &Tensor, train: bool) -> (Tensor, Vec<Tensor>) {
        match self {
            Dis::Conv(d) => d.forward_features(x, train),
            Dis::Mlp(d) => d.forward_features(x, train),
        }
    }
}

pub struct DiscoGan {
    cfg: Config,
    c: DiscoConfig,
    images: bool,
    channels: (i64, i64),
    device: Device,
    g_vs: VarStore,
    g_ab: Gen,
    g_ba: Gen,
    d_vs: VarStore,
    d_a: Dis,
    d_b: Dis,
    opt_g: Optimizer,
    opt_d: Optimizer,
}

/// ½ℓ(real, 1) + ½ℓ(fake, 0) and ℓ(fake, 1) of logits, ℓ the binary cross-entropy.
fn gan_losses(real: &Tensor, fake: &Tensor) -> (Tensor, Tensor) {
    let d = ((-real).softplus().mean(Kind::Float) + fake.softplus().mean(Kind::Float)) * 0.5;
    (d, (-fake).softplus().mean(Kind::Float))
}

/// Σ over layers of the mean of (E f(real) − E f(fake))², the reference's feature matching.
fn fm_loss(real: &[Tensor], fake: &[Tensor]) -> Tensor {
    real.iter()
        .zip(fake)
        .map(|(r, f)| improved::feature_matching(r, f, crate::objective::FeatureDistance::L2) / r.size()[1..].iter().product::<i64>() as f64)
        .reduce(|a, b| a + b)
        .expect("at least one feature layer")
}

impl DiscoGan {
    pub fn new(cfg: &Config, info: DataInfo, device: Device) -> Result<DiscoGan> {
        let c: DiscoConfig = cfg.section("discogan")?;
        let Some(shape_b) = info.shape_b else {
            return Err(Error::Config("method = \"discogan\" needs two domains (trainA/, trainB/)".into()));
        };
        let (images, ca, cb) = match (info.shape, shape_b) {
            (Shape::Image { channels: a, size }, Shape::Image { channels: b, .. }) => {
                let unit = 1 << c.depth;
                if size % unit != 0 || size / unit < 4 {
                    return Err(Error::Config(format!(
                        "discogan.depth = {} needs images whose side is a multiple of {unit} and at least {}; these are {size} px (set data.load_size, e.g. {}, or lower discogan.depth)",
                        c.depth,
                        4 * unit,
                        (size.max(4 * unit) + unit - 1) / unit * unit
                    )));
                }
                (true, a, b)
            }
            (Shape::Points { dim: a }, Shape::Points { dim: b }) => (false, a, b),
            _ => return Err(Error::Config("the two domains must both be images or both be points".into())),
        };
        rng::seed_torch(cfg.seed, rng::stream::INIT, 0);
        let g_vs = VarStore::new(device);
        let make_g = |p: tch::nn::Path, cin: i64, cout: i64| {
            if images {
                Gen::Conv(DiscoGenerator::new(p, cin, cout, c.ngf, c.depth))
            } else {
                Gen::Mlp(DiscoMlp::new(p, cin, &c.hidden, cout, false))
            }
        };
        let g_ab = make_g(g_vs.root() / "g_ab", ca, cb);
        let g_ba = make_g(g_vs.root() / "g_ba", cb, ca);
        rng::seed_torch(cfg.seed, rng::stream::INIT, 1);
        let d_vs = VarStore::new(device);
        let dis = |p: tch::nn::Path, cin: i64| {
            if images {
                Dis::Conv(DiscoDiscriminator::new(p, cin, c.ndf, c.depth))
            } else {
                Dis::Mlp(DiscoMlp::new(p, cin, &c.d_hidden, 1, true))
            }
        };
        let d_a = dis(d_vs.root() / "d_a", ca);
        let d_b = dis(d_vs.root() / "d_b", cb);
        // the baselines train only some networks: the others get no gradient and no update,
        // as torch.optim skips parameters without one
        let (g_nets, d_nets): (&[&str], &[&str]) = match c.arch {
            Arch::Discogan => (&["g_ab", "g_ba"], &["d_a", "d_b"]),
            Arch::Recongan => (&["g_ab", "g_ba"], &["d_b"]),
            Arch::Gan => (&["g_ab"], &["d_b"]),
        };
        let trainable = |vs: &VarStore, nets: &[&str]| {
            named_variables(vs)
                .into_iter()
                .filter(|(n, t)| t.requires_grad() && nets.iter().any(|net| n.starts_with(&format!("{net}."))))
                .collect()
        };
        Ok(DiscoGan {
            cfg: cfg.clone(),
            images,
            channels: (ca, cb),
            device,
            opt_g: Optimizer::new(&cfg.train, trainable(&g_vs, g_nets)),
            opt_d: Optimizer::new(&cfg.train, trainable(&d_vs, d_nets)),
            c,
            g_vs,
            g_ab,
            g_ba,
            d_vs,
            d_a,
            d_b,
        })
    }

    /// The r of iteration `step`.
    pub fn rate(&self, step: u64) -> f64 {
        if step < self.c.curriculum { self.c.starting_rate } else { self.c.default_rate }
    }

    /// One update of the discriminators (`discriminators`) or of the generators on batches `a`
    /// and `b` (in the reference's units). Both compute the same forward passes, so batch norm
    /// sees what the reference's does; the generators' graph is kept only when they learn.
    fn update(&mut self, discriminators: bool, a: &Tensor, b: &Tensor, step: u64, lr: f64, m: &mut Metrics) {
        let c = &self.c;
        let forward = || {
            let ab = self.g_ab.forward(a, true);
            let ba = self.g_ba.forward(b, true);
            let aba = self.g_ba.forward(&ab, true);
            let bab = self.g_ab.forward(&ba, true);
            (ab, ba, aba, bab)
        };
        let (ab, ba, aba, bab) = if discriminators { tch::no_grad(forward) } else { forward() };
        let recon_a = (&aba - a).square().mean(Kind::Float);
        let recon_b = (&bab - b).square().mean(Kind::Float);
        let (a_real, a_real_f) = self.d_a.forward(a, true);
        let (a_fake, a_fake_f) = self.d_a.forward(&ba, true);
        let (dis_a, gan_a) = gan_losses(&a_real, &a_fake);
        let (b_real, b_real_f) = self.d_b.forward(b, true);
        let (b_fake, b_fake_f) = self.d_b.forward(&ab, true);
        let (dis_b, gan_b) = gan_losses(&b_real, &b_fake);
        if discriminators {
            let loss = match c.arch {
                Arch::Discogan => &dis_a + &dis_b,
                Arch::Recongan | Arch::Gan => dis_b.shallow_clone(),
            };
            let params = self.opt_d.params();
            let grads = crate::dist::gradients(&loss, &params, false);
            self.opt_d.update(&grads, lr);
            m.extend([("d/loss", loss.detach()), ("d_a/loss", dis_a.detach()), ("d_b/loss", dis_b.detach())]);
            return;
        }
        let r = self.rate(step);
        let fm_a = fm_loss(&a_real_f, &a_fake_f);
        let fm_b = fm_loss(&b_real_f, &b_fake_f);
        // A's total trains G_AB adversarially in B and G_BA to reconstruct A
        let side_ab = (&gan_b * c.gan_weight + &fm_b * c.fm_weight) * (1.0 - r);
        let side_ba = (&gan_a * c.gan_weight + &fm_a * c.fm_weight) * (1.0 - r);
        let loss = match c.arch {
            Arch::Discogan => &side_ab + &recon_a * r + &side_ba + &recon_b * r,
            Arch::Recongan => &side_ab + &recon_a * r,
            Arch::Gan => &gan_b * c.gan_weight + &fm_b * c.fm_weight,
        };
        let params = self.opt_g.params();
        let grads = crate::dist::gradients(&loss, &params, false);
        self.opt_g.update(&grads, lr);
        m.extend([
            ("g/loss", loss.detach()),
            ("g/gan_ab", gan_b.detach()),
            ("g/gan_ba", gan_a.detach()),
            ("g/fm_ab", fm_b.detach()),
            ("g/fm_ba", fm_a.detach()),
            ("g/recon_a", recon_a.detach()),
            ("g/recon_b", recon_b.detach()),
        ]);
    }
}

impl Saved for DiscoGan {
    fn stores(&self) -> Vec<(&'static str, &VarStore)> {
        vec![("g", &self.g_vs), ("d", &self.d_vs)]
    }

    fn optimizers(&mut self) -> Vec<(&'static str, &mut Optimizer)> {
        vec![("g", &mut self.opt_g), ("d", &mut self.opt_d)]
    }
}

impl Method for DiscoGan {
    fn train_step(&mut self, step: u64, data: &Data) -> Metrics {
        let (a, b) = data.two().batch(step, self.cfg.data.batch_size, self.cfg.seed);
        let (a, b) = (to01(&a, self.images), to01(&b, self.images));
        let t = &self.cfg.train;
        let lr = schedule::lr(t.g_lr, t.lr_schedule, t.decay_start, step, self.cfg.steps);
        let mut m: Metrics = Vec::with_capacity(12);
        let k = self.c.update_interval;
        if k == 1 || step.is_multiple_of(k) {
            self.update(true, &a, &b, step, lr, &mut m);
        }
        if k == 1 || !step.is_multiple_of(k) {
            self.update(false, &a, &b, step, lr, &mut m);
        }
        m.push(("g/rate", Tensor::from(self.rate(step)).to(self.device)));
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

impl Translator for DiscoGan {
    fn translate(&self, x: &Tensor, dir: Direction) -> Tensor {
        let g = match dir {
            Direction::AtoB => &self.g_ab,
            Direction::BtoA => &self.g_ba,
        };
        let y = tch::no_grad(|| g.forward(&to01(&x.to(self.device), self.images), false));
        if self.images { y * 2.0 - 1.0 } else { y }
    }

    fn channels(&self, dir: Direction) -> (i64, i64) {
        dir.orient(self.channels)
    }

    fn side_multiple(&self) -> i64 {
        1 << self.c.depth
    }

    fn min_side(&self) -> i64 {
        4 << self.c.depth
    }

    fn stages(&self, dir: Direction) -> Vec<crate::nets::Stage<'_>> {
        use crate::nets::{Stage, Staged};
        let g = match dir {
            Direction::AtoB => &self.g_ab,
            Direction::BtoA => &self.g_ba,
        };
        let images = self.images;
        let mut s = vec![Stage::new("to [0, 1]", move |x| to01(x, images))];
        match g {
            Gen::Conv(g) => {
                s.extend(g.stages());
                s.push(Stage::new("sigmoid", |x| x.sigmoid()));
            }
            Gen::Mlp(g) => s.extend(g.stages()),
        }
        if images {
            s.push(Stage::new("to [-1, 1]", |y| y * 2.0 - 1.0));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_by_hand() {
        // logits 0: BCE ln 2 each side, so D's loss is ln 2 and G's ln 2
        let z = Tensor::zeros([3], (Kind::Float, Device::Cpu));
        let (d, g) = gan_losses(&z, &z);
        assert!((d.double_value(&[]) - 2f64.ln()).abs() < 1e-6);
        assert!((g.double_value(&[]) - 2f64.ln()).abs() < 1e-6);
        // feature matching: one layer of 2 features, batch means (1, 2) and (0, 4): ((1 + 4)/2)
        let r = Tensor::from_slice(&[1.0f32, 2.0, 1.0, 2.0]).view([2, 2]);
        let f = Tensor::from_slice(&[0.0f32, 4.0, 0.0, 4.0]).view([2, 2]);
        assert!((fm_loss(&[r], &[f]).double_value(&[]) - 2.5).abs() < 1e-6);
    }

    #[test]
    fn the_r_schedule_and_the_update_cadence() {
        let c = DiscoConfig { curriculum: 3, ..Default::default() };
        let cfg = Config { method: "discogan".into(), ..Default::default() };
        let mut cfg = cfg;
        cfg.sections.insert("discogan".into(), toml::Value::try_from(&c).unwrap());
        let info = DataInfo {
            shape: Shape::Points { dim: 2 },
            classes: 0,
            shape_b: Some(Shape::Points { dim: 2 }),
        };
        let g = DiscoGan::new(&cfg, info, Device::Cpu).unwrap();
        let rates: Vec<f64> = (0..5).map(|s| g.rate(s)).collect();
        assert_eq!(rates, vec![0.01, 0.01, 0.01, 0.5, 0.5]);
        let d_steps: Vec<u64> = (0..7u64).filter(|s| s.is_multiple_of(c.update_interval)).collect();
        assert_eq!(d_steps, vec![0, 3, 6], "D at the first iteration and every third");
        // the steps update the optimisers on that cadence: two D and three G updates in five
        let mut g = g;
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("trainA.csv"), "0,0\n1,1\n2,2\n").unwrap();
        std::fs::write(tmp.path().join("trainB.csv"), "5,5\n6,6\n").unwrap();
        let dc = crate::data::DataConfig { source: tmp.path().display().to_string(), batch_size: 2, ..Default::default() };
        let data = Data::Two(crate::data::unpaired::Unpaired::load(&dc, Device::Cpu).unwrap());
        for s in 0..5 {
            let _ = g.train_step(s, &data);
        }
        assert_eq!((g.opt_d.steps, g.opt_g.steps), (2, 3));
    }
}
