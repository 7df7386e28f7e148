//! UNIT (Liu, Breuel & Kautz 2017), as the authors' NIPS 2017 code (`COCOGANTrainer`) trains
//! it: two VAE-GANs whose encoders share their last layers and whose generators share their
//! first, so both domains map into one latent space (`nets::unit`). Per iteration
//!
//! 1. one Adam step of both discriminators on λ₀·Σ_domains [ℓ(D(x), Real) + ℓ(D(x̃), Fake)],
//!    x̃_A = G_A(E_B(b) + ε) and x̃_B = G_B(E_A(a) + ε);
//! 2. one Adam step of the encoders and generators on λ₀·[ℓ(D_A(G_A(z_b)), Gen) +
//!    ℓ(D_B(G_B(z_a)), Gen)] + λ₁·[‖G_A(z_a) − a‖₁ + ‖G_B(z_b) − b‖₁] + λ₂·[KL(h_a) +
//!    KL(h_b)] + λ₃·[‖G_A(z_aba) − a‖₁ + ‖G_B(z_bab) − b‖₁] + λ₄·[KL(h_aba) + KL(h_bab)],
//!    where h = E(x), z = h + N(0, I), KL(h) = mean(h²) (the reference's KL of a unit-variance
//!    code, taken here on the noiseless h; its gradient is the same in expectation), and
//!    z_aba = E_B(G_B(z_a)) + ε, the cycle through the latent space,
//!
//! with ℓ the non-saturating loss (the reference's sigmoid + BCE), λ = (10, 100, 0.1, 100, 0.1),
//! Adam 1e-4 β (0.5, 0.999) with weight decay 1e-4 and N(0, 0.02) weights. Translation a → b is
//! G_B(E_A(a)), without noise.
use super::adapt::{self, Adapt, Adaptation, LabelsFrom, SharedFeatures};
use super::{Batch, DataInfo, Direction, FigureContext, Figures, Method, Metrics, Spec, Translator, section};
use crate::config::Config;
use crate::data::unpaired::Side;
use crate::data::{Data, Shape};
use crate::error::{Error, Result};
use crate::nets::unit::{self, UnitDiscriminator, UnitGenerator, UnitShape};
use crate::nets::{self, Init};
use crate::objective::{Adversarial, LossKind, ObjectiveConfig, Target};
use crate::rng;
use crate::train::checkpoint::{Saved, named_variables};
use crate::train::{optim::Optimizer, schedule};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

pub const SPEC: Spec = Spec {
    name: "unit",
    about: "UNIT: coupled VAE-GANs with a shared latent space (encoders share last, generators first layers)",
    batch: Batch::Unpaired,
    sections: || [section("unit", &UnitConfig::default())].into_iter().collect(),
    check,
    build: |cfg, info, device| Ok(Box::new(Unit::new(cfg, info, device)?)),
};

/// The `[unit]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnitConfig {
    /// Channels of the encoders' first convolution (doubled at each down-sampling).
    pub ch: i64,
    /// Encoder front layers: the conv 7 and enc_front − 1 stride-2 convolutions.
    pub enc_front: i64,
    /// Residual blocks of each encoder of its own, then shared.
    pub enc_res: i64,
    pub enc_shared: i64,
    /// Residual blocks shared at the generators' input, then each generator's own.
    pub gen_shared: i64,
    pub gen_res: i64,
    /// Generator front layers: gen_front − 1 stride-2 transposed convolutions and the 1 × 1 one.
    pub gen_front: i64,
    /// Channels of the discriminators' first convolution.
    pub d_ch: i64,
    /// Stride-2 layers of each discriminator of its own, then shared.
    pub d_front: i64,
    pub d_shared: i64,
    pub loss: LossKind,
    /// Domain adaptation (`--labels-from`): `a` or `b` trains a classifier head on the
    /// discriminators' shared layers with that domain's labels (`none`: off).
    pub labels_from: LabelsFrom,
    /// Weight of the head's cross-entropy in D's loss.
    pub class_weight: f64,
    /// Weight of the discriminators' feature consistency (the reference's domain-adaptation
    /// `feature_w`): the squared distance, summed per image, between the last shared features
    /// of a translation (x_ab under D_b) and of the reconstruction of the same code (x_aa under
    /// D_a), both ways; 0 = off.
    pub feature_weight: f64,
    /// Initialisation of the discriminators (and the source-only baseline): `dcgan` (N(0, 0.02),
    /// the reference's image-translation trainer) or `xavier` (its domain-adaptation trainer).
    pub d_init: Init,
    /// λ₀ … λ₄: adversarial, reconstruction L1, KL, cycle L1, cycle KL.
    pub gan_weight: f64,
    pub recon_weight: f64,
    pub kl_weight: f64,
    pub cycle_weight: f64,
    pub cycle_kl_weight: f64,
}

impl Default for UnitConfig {
    fn default() -> Self {
        UnitConfig {
            ch: 64,
            enc_front: 3,
            enc_res: 3,
            enc_shared: 1,
            gen_shared: 1,
            gen_res: 3,
            gen_front: 3,
            d_ch: 64,
            d_front: 2,
            d_shared: 4,
            loss: LossKind::NonSaturating,
            labels_from: LabelsFrom::None,
            class_weight: 10.0,
            feature_weight: 0.0,
            d_init: Init::Dcgan,
            gan_weight: 10.0,
            recon_weight: 100.0,
            kl_weight: 0.1,
            cycle_weight: 100.0,
            cycle_kl_weight: 0.1,
        }
    }
}

impl UnitConfig {
    pub fn shape(&self) -> UnitShape {
        UnitShape {
            ch: self.ch,
            enc_front: self.enc_front,
            enc_res: self.enc_res,
            enc_shared: self.enc_shared,
            gen_shared: self.gen_shared,
            gen_res: self.gen_res,
            gen_front: self.gen_front,
            d_ch: self.d_ch,
            d_front: self.d_front,
            d_shared: self.d_shared,
        }
    }
}

fn check(cfg: &Config) -> Result<()> {
    let c: UnitConfig = cfg.section("unit")?;
    let bad = |key: &str, why: &str| Err(Error::Config(format!("`unit.{key}` {why}")));
    if c.ch < 1 || c.d_ch < 1 || !(1..=6).contains(&c.enc_front) || !(1..=8).contains(&c.d_front) {
        return bad("ch / d_ch / enc_front / d_front", "must be ≥ 1, ≥ 1, 1–6 and 1–8");
    }
    if c.gen_front != c.enc_front {
        return bad(
            "gen_front",
            &format!(
                "({}) must equal unit.enc_front ({}): the generators up-sample as often as the encoders down-sample",
                c.gen_front, c.enc_front
            ),
        );
    }
    if [c.enc_res, c.enc_shared, c.gen_shared, c.gen_res, c.d_shared].iter().any(|&n| !(0..=16).contains(&n)) {
        return bad("enc_res / enc_shared / gen_shared / gen_res / d_shared", "must be 0 to 16");
    }
    if !matches!(c.loss, LossKind::NonSaturating | LossKind::Minimax | LossKind::LeastSquares | LossKind::Hinge) {
        return bad("loss", "must be `non_saturating`, `minimax`, `least_squares` or `hinge`");
    }
    let weights =
        [c.gan_weight, c.recon_weight, c.kl_weight, c.cycle_weight, c.cycle_kl_weight, c.class_weight, c.feature_weight];
    if weights.iter().any(|&w| !w.is_finite() || w < 0.0) {
        return bad(
            "gan_weight / recon_weight / kl_weight / cycle_weight / cycle_kl_weight / class_weight / feature_weight",
            "must be finite and ≥ 0",
        );
    }
    if c.d_init == Init::Pytorch {
        return bad("d_init", "must be `dcgan` or `xavier`");
    }
    if c.feature_weight > 0.0 && c.d_shared < 1 {
        return bad("feature_weight", "compares the discriminators' shared features: needs unit.d_shared ≥ 1");
    }
    if c.labels_from != LabelsFrom::None && c.d_shared < 1 {
        return bad("d_shared", "= 0 leaves no shared layer under the classifier head of --labels-from; share at least 1");
    }
    cfg.refuse_unread(
        &["train.critic_steps", "train.ema", "train.eval_every", "train.classifier"],
        "UNIT takes one step of each player per iteration, keeps no weight average, and is scored after training with `gantry eval --run RUN`",
    )
}

pub struct Unit {
    cfg: Config,
    c: UnitConfig,
    device: Device,
    channels: (i64, i64),
    g_vs: VarStore,
    g: UnitGenerator,
    d_vs: VarStore,
    d: UnitDiscriminator,
    opt_g: Optimizer,
    opt_d: Optimizer,
    objective: Adversarial,
    adapt: Option<Adaptation<UnitDiscriminator>>,
}

impl SharedFeatures for UnitDiscriminator {
    fn features(&self, x: &Tensor, side: usize) -> Tensor {
        UnitDiscriminator::features(self, x, side)
    }
}

impl Unit {
    pub fn new(cfg: &Config, info: DataInfo, device: Device) -> Result<Unit> {
        let c: UnitConfig = cfg.section("unit")?;
        let (ca, cb) = match (info.shape, info.shape_b) {
            (Shape::Image { channels: a, .. }, Some(Shape::Image { channels: b, .. })) => (a, b),
            _ => {
                return Err(Error::Config(
                    "method = \"unit\" needs two image domains (a folder with trainA/ and trainB/ of images)".into(),
                ));
            }
        };
        rng::seed_torch(cfg.seed, rng::stream::INIT, 0);
        let g_vs = VarStore::new(device);
        let g = UnitGenerator::new(&g_vs.root(), c.shape(), (ca, cb));
        nets::initialise(&g_vs, Init::Dcgan);
        rng::seed_torch(cfg.seed, rng::stream::INIT, 1);
        let d_vs = VarStore::new(device);
        let d = UnitDiscriminator::new(&d_vs.root(), c.shape(), (ca, cb));
        // with adaptation, D's classifier head exists before D is initialised
        let adapt = match Adapt::new(c.labels_from, info.classes, "unit")? {
            None => None,
            Some(a) => {
                let base_vs = VarStore::new(device);
                let base = UnitDiscriminator::new(&base_vs.root(), c.shape(), (ca, cb));
                let width = UnitDiscriminator::feature_channels(c.shape());
                let init = |vs: &VarStore| nets::initialise(vs, c.d_init);
                Some(Adaptation::new(a, &d_vs, width, base_vs, base, "out.", &cfg.train, &init))
            }
        };
        nets::initialise(&d_vs, c.d_init);
        let trainable = |vs: &VarStore| -> Vec<(String, Tensor)> {
            named_variables(vs).into_iter().filter(|(_, t)| t.requires_grad()).collect()
        };
        let objective = Adversarial::from_config(&ObjectiveConfig { loss: c.loss, ..Default::default() });
        Ok(Unit {
            adapt,
            cfg: cfg.clone(),
            device,
            channels: (ca, cb),
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

    fn l1(a: &Tensor, b: &Tensor) -> Tensor {
        (a - b).abs().mean(Kind::Float)
    }
}

impl Saved for Unit {
    fn stores(&self) -> Vec<(&'static str, &VarStore)> {
        adapt::stores(&self.g_vs, &self.d_vs, &self.adapt)
    }

    fn optimizers(&mut self) -> Vec<(&'static str, &mut Optimizer)> {
        adapt::optimizers(&mut self.opt_g, &mut self.opt_d, &mut self.adapt)
    }
}

impl Method for Unit {
    fn prepare(&mut self, data: &Data, _fresh: bool) -> Result<()> {
        adapt::prepare(&self.adapt, data, self.cfg.data.batch_size, self.cfg.seed)
    }

    fn figures(&self, ctx: &FigureContext) -> Result<Figures> {
        adapt::figures(&self.adapt, &self.d, ctx, self.device)
    }

    fn train_step(&mut self, step: u64, data: &Data) -> Metrics {
        let (a, b) = data.two().batch(step, self.cfg.data.batch_size, self.cfg.seed);
        let c = &self.c;
        let g = &self.g;

        // Discriminators, on real images and translations from noisy codes.
        let (n, nb) = (a.size()[0], b.size()[0]);
        // The codes h carry no noise, and neither player's step changes the encoders before the
        // generators' step, so one encoder pass serves both steps: the discriminators' step reads
        // the codes detached, the generators' step keeps their graph.
        let (ha_g, hb_g) = g.encode_both(&a, &b);
        let (ha, hb) = (ha_g.detach(), hb_g.detach());
        let side = |out: &Tensor, n_real: i64| {
            let (real, fake) = unit::split(out, n_real);
            self.objective.target_loss(&real, Target::Real) + self.objective.target_loss(&fake, Target::Fake)
        };
        let lr_d = self.lr(self.cfg.train.d_lr, step);
        let (gan_d, feature, src_features) = if c.feature_weight > 0.0 {
            // one pass of the generators over the noisy codes gives every image of the step, as
            // in the reference's domain-adaptation trainer: under D_A [x_aa; x_ba], under D_B
            // [x_ab; x_bb]. The translations are the fakes, and a translation and the
            // reconstruction of the same code should look alike to the shared layers (feature
            // matching). Each discriminator runs once over [real; translation; reconstruction]:
            // the logits of the first two, the features of the last two.
            let (to_a, to_b) = tch::no_grad(|| {
                let (za, zb) = (UnitGenerator::sample(&ha), UnitGenerator::sample(&hb));
                let s = g.decode_shared(&Tensor::cat(&[&za, &zb], 0));
                (g.decode_own(&s, 0), g.decode_own(&s, 1))
            });
            let ((x_aa, x_ba), (x_ab, x_bb)) = (unit::split(&to_a, n), unit::split(&to_b, n));
            let (f_a, f_b) =
                self.d.features_both(&Tensor::cat(&[&a, &x_ba, &x_aa], 0), &Tensor::cat(&[&b, &x_ab, &x_bb], 0));
            let (on_a, on_b) =
                (self.d.logits_of_features(&f_a.narrow(0, 0, n + nb)), self.d.logits_of_features(&f_b.narrow(0, 0, nb + n)));
            let gan_d = side(&on_a, n) + side(&on_b, nb);
            let (f_ba, f_aa) = (f_a.narrow(0, n, nb), f_a.narrow(0, n + nb, n));
            let (f_ab, f_bb) = (f_b.narrow(0, nb, n), f_b.narrow(0, nb + n, nb));
            let per_image = |u: &Tensor, v: &Tensor| (u - v).square().sum(Kind::Float) / u.size()[0] as f64;
            let feature = per_image(&f_ab, &f_aa) + per_image(&f_ba, &f_bb);
            let src = |f: &Tensor, m: i64| f.narrow(0, 0, m);
            (gan_d, Some(feature), Some((src(&f_a, n), src(&f_b, nb))))
        } else {
            // translations from noisy codes; both domains' images go through the shared layers
            // together, as in the reference code (every layer treats each example alone, so this
            // only merges operations)
            let (fake_a, fake_b) = tch::no_grad(|| {
                let (za, zb) = (UnitGenerator::sample(&ha), UnitGenerator::sample(&hb));
                let s = g.decode_shared(&Tensor::cat(&[&za, &zb], 0));
                let (s_a, s_b) = unit::split(&s, n);
                (g.decode_own(&s_b, 0), g.decode_own(&s_a, 1))
            });
            let (on_a, on_b) =
                self.d.forward_both(&Tensor::cat(&[&a, &fake_a], 0), &Tensor::cat(&[&b, &fake_b], 0));
            (side(&on_a, n) + side(&on_b, nb), None, None)
        };
        // the adversarial part alone, logged: 2·ln 4 ≈ 2.77 (non-saturating) is a discriminator at chance
        let mut loss_d = &gan_d * c.gan_weight;
        let mut m: Metrics = vec![("d/gan", gan_d.detach())];
        if let Some(feature) = feature {
            loss_d += &feature * c.feature_weight;
            m.push(("d/feature", feature.detach()));
        }
        if let Some(ad) = &mut self.adapt {
            let (src, f) = if ad.a.source == Side::A { (&a, src_features.map(|f| f.0)) } else { (&b, src_features.map(|f| f.1)) };
            let (class, am) = ad.step(&self.d, data, src, f.as_ref(), step, self.cfg.data.batch_size, self.cfg.seed, lr_d);
            loss_d += &class * c.class_weight;
            m.extend(am);
        }
        let d_params = self.opt_d.params();
        let grads = crate::dist::gradients(&loss_d, &d_params, false);
        self.opt_d.update(&grads, lr_d);

        // Encoders and generators: the shared generator blocks run once over [z_a; z_b], and
        // each domain's own layers once over both codes, as the reference's forward pass.
        let (ha, hb) = (ha_g, hb_g);
        let (za, zb) = (UnitGenerator::sample(&ha), UnitGenerator::sample(&hb));
        let s = g.decode_shared(&Tensor::cat(&[&za, &zb], 0));
        let ((x_aa, x_ba), (x_ab, x_bb)) = (unit::split(&g.decode_own(&s, 0), n), unit::split(&g.decode_own(&s, 1), n));
        let (h_bab, h_aba) = g.encode_both(&x_ba, &x_ab);
        let (z_aba, z_bab) = (UnitGenerator::sample(&h_aba), UnitGenerator::sample(&h_bab));
        let (s_aba, s_bab) = unit::split(&g.decode_shared(&Tensor::cat(&[&z_aba, &z_bab], 0)), n);
        let (x_aba, x_bab) = (g.decode_own(&s_aba, 0), g.decode_own(&s_bab, 1));
        let (on_ba, on_ab) = self.d.forward_both(&x_ba, &x_ab);
        let gan_a = self.objective.target_loss(&on_ba, Target::Generator);
        let gan_b = self.objective.target_loss(&on_ab, Target::Generator);
        let recon = Self::l1(&x_aa, &a) + Self::l1(&x_bb, &b);
        let cycle = Self::l1(&x_aba, &a) + Self::l1(&x_bab, &b);
        let kl = unit::kl(&ha) + unit::kl(&hb);
        let cycle_kl = unit::kl(&h_aba) + unit::kl(&h_bab);
        let loss_g = (&gan_a + &gan_b) * c.gan_weight
            + &recon * c.recon_weight
            + &kl * c.kl_weight
            + &cycle * c.cycle_weight
            + &cycle_kl * c.cycle_kl_weight;
        let g_params = self.opt_g.params();
        let grads = crate::dist::gradients(&loss_g, &g_params, false);
        self.opt_g.update(&grads, self.lr(self.cfg.train.g_lr, step));

        m.extend([
            ("d/loss", loss_d.detach()),
            ("g/loss", loss_g.detach()),
            ("g/gan_ba", gan_a.detach()),
            ("g/gan_ab", gan_b.detach()),
            ("g/recon", recon.detach()),
            ("g/cycle", cycle.detach()),
            ("g/kl", kl.detach()),
            ("g/cycle_kl", cycle_kl.detach()),
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

impl Translator for Unit {
    fn translate(&self, x: &Tensor, dir: Direction) -> Tensor {
        let (from, to) = dir.orient((0, 1));
        tch::no_grad(|| self.g.decode(&self.g.encode(&x.to(self.device), from), to))
    }

    fn channels(&self, dir: Direction) -> (i64, i64) {
        dir.orient(self.channels)
    }

    fn side_multiple(&self) -> i64 {
        1 << (self.c.enc_front - 1)
    }

    fn min_side(&self) -> i64 {
        (2i64 << (self.c.enc_front - 1)).max(8)
    }

    fn stages(&self, dir: Direction) -> Vec<crate::nets::Stage<'_>> {
        let (from, to) = dir.orient((0, 1));
        self.g.stages(from, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Sources;

    fn unit(sets: &[&str]) -> Unit {
        let mut all = vec!["unit.ch=4".to_string(), "unit.d_ch=4".into()];
        all.extend(sets.iter().map(|s| s.to_string()));
        let src = Sources { preset: Some("unit".into()), file: None, sets: all };
        let cfg = super::super::resolve(&src).unwrap();
        let (a, b) = (Shape::Image { channels: 3, size: 32 }, Shape::Image { channels: 1, size: 32 });
        Unit::new(&cfg, DataInfo { shape: a, classes: 0, shape_b: Some(b) }, Device::Cpu).unwrap()
    }

    #[test]
    fn shared_layers_are_stored_once_and_shapes_round_trip() {
        let m = unit(&[]);
        let names: Vec<String> = m.g_vs.variables().into_keys().collect();
        // one shared residual block on each side of the latent space, two convs each
        assert_eq!(names.iter().filter(|n| n.starts_with("shared.enc.")).count(), 4, "{names:?}");
        assert_eq!(names.iter().filter(|n| n.starts_with("shared.gen.")).count(), 4, "{names:?}");
        assert!(names.iter().any(|n| n.starts_with("a.enc.res2")) && !names.iter().any(|n| n.starts_with("a.enc.res3")));
        let d_names: Vec<String> = m.d_vs.variables().into_keys().collect();
        assert!(d_names.iter().any(|n| n.starts_with("shared.down3")) && d_names.iter().any(|n| n == "shared.out.weight"));
        // colour A → grey B and back, at the input's size
        let x = Tensor::rand([2, 3, 32, 32], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        let y = m.translate(&x, Direction::AtoB);
        assert_eq!(y.size(), [2, 1, 32, 32]);
        assert_eq!(m.translate(&y, Direction::BtoA).size(), [2, 3, 32, 32]);
        // a 20 × 28 image, a multiple of 4, passes the encoders and generators
        assert_eq!(m.translate(&x.narrow(2, 0, 20).narrow(3, 0, 28), Direction::AtoB).size(), [2, 1, 20, 28]);
        assert_eq!(m.d.forward(&x, 0).size()[0], 2);
    }

    #[test]
    fn the_joint_passes_compute_the_separate_ones() {
        // the training step runs both domains through the shared layers in one pass; every layer
        // treats each example alone, so this must equal the per-domain functions (to float
        // rounding), colour A and grey B, for the generator and the discriminator
        let m = unit(&[]);
        let a = Tensor::rand([3, 3, 16, 16], (Kind::Float, Device::Cpu));
        let b = Tensor::rand([2, 1, 16, 16], (Kind::Float, Device::Cpu));
        let close = |u: &Tensor, v: &Tensor| {
            assert_eq!(u.size(), v.size());
            assert!((u - v).abs().max().double_value(&[]) < 1e-5);
        };
        let (ha, hb) = m.g.encode_both(&a, &b);
        close(&ha, &m.g.encode(&a, 0));
        close(&hb, &m.g.encode(&b, 1));
        let s = m.g.decode_shared(&Tensor::cat(&[&ha, &hb], 0));
        let (s_a, s_b) = unit::split(&s, 3);
        close(&m.g.decode_own(&s_a, 1), &m.g.decode(&ha, 1));
        close(&m.g.decode_own(&s_b, 0), &m.g.decode(&hb, 0));
        let (da, db) = m.d.forward_both(&a, &b);
        close(&da, &m.d.forward(&a, 0));
        close(&db, &m.d.forward(&b, 1));
        let (fa, fb) = m.d.features_both(&a, &b);
        close(&fa, &m.d.features(&a, 0));
        close(&fb, &m.d.features(&b, 1));
        // the adaptation step's one pass: logits from the features equal `forward`
        close(&m.d.logits_of_features(&fa), &da);
        close(&m.d.logits_of_features(&fb), &db);
        // images of another size each: the codes differ in shape, so the passes stay apart
        let big = Tensor::rand([2, 1, 24, 24], (Kind::Float, Device::Cpu));
        close(&m.g.encode_both(&a, &big).1, &m.g.encode(&big, 1));
        close(&m.d.forward_both(&a, &big).1, &m.d.forward(&big, 1));
    }

    #[test]
    fn both_domains_train_the_shared_blocks() {
        let m = unit(&[]);
        let w = m.g_vs.variables()["shared.enc.res0.conv1.weight"].shallow_clone();
        let a = Tensor::rand([2, 3, 16, 16], (Kind::Float, Device::Cpu));
        let b = Tensor::rand([2, 1, 16, 16], (Kind::Float, Device::Cpu));
        let grad = |x: &Tensor, s: usize| {
            let l = m.g.decode(&m.g.encode(x, s), s).mean(Kind::Float);
            Tensor::run_backward(&[l], &[&w], false, false).remove(0)
        };
        assert!(grad(&a, 0).abs().sum(Kind::Float).double_value(&[]) > 0.0);
        assert!(grad(&b, 1).abs().sum(Kind::Float).double_value(&[]) > 0.0);
    }

    #[test]
    fn the_kl_term_and_the_latent_noise_by_hand() {
        // mean(h²) of [1, −2, 0, 3] = (1 + 4 + 0 + 9) / 4
        let h = Tensor::from_slice(&[1.0f32, -2.0, 0.0, 3.0]);
        assert_eq!(unit::kl(&h).double_value(&[]), 3.5);
        // z = h + N(0, I): over many draws the noise has mean 0 and variance 1
        tch::manual_seed(0);
        let h = Tensor::full([200_000], 2.0, (Kind::Float, Device::Cpu));
        let n = UnitGenerator::sample(&h) - &h;
        assert!(n.mean(Kind::Float).double_value(&[]).abs() < 0.01);
        assert!((n.var(true).double_value(&[]) - 1.0).abs() < 0.01);
    }

    #[test]
    fn unequal_front_depths_are_refused() {
        let src = Sources { preset: Some("unit".into()), file: None, sets: vec!["unit.gen_front=2".into()] };
        let e = super::super::resolve(&src).unwrap_err().to_string();
        assert!(e.contains("`unit.gen_front` (2) must equal unit.enc_front (3)"), "{e}");
    }
}
