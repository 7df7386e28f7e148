//! StackGAN (Zhang et al. 2017): text to image in two stages, as hanzhanggit/StackGAN-Pytorch
//! trains them (networks in `nets::stackgan`).
//!
//! - Captions are embedded once by a frozen text encoder (`text`, trained on the data's captions
//!   or given by `stackgan.text_encoder`); each step, each image's condition is the mean
//!   embedding of `stackgan.captions_per_step` of its captions drawn at random.
//! - Conditioning augmentation turns an embedding into (μ, log σ²) and c = μ + σ·ε; G's loss adds
//!   `stackgan.kl_weight` × KL(N(μ, σ²) ‖ N(0, I)) (the reference's 2). With
//!   `stackgan.augment = false` c = μ and there is no KL term (the ablation).
//! - The matching-aware discriminator, conditioned on μ (detached): L_D = BCE(D(x, μ), 1) +
//!   ½[BCE(D(G(z, c), μ), 0) + BCE(D(x_{i+1}, μ_i), 0)], the last term a real image with another
//!   image's caption; L_G = BCE(D(G(z, c), μ), 1) + KL. One D update, then one G update.
//!   With `stackgan.uncond_logit` (the reference's Stage II, and the `stackgan-2` preset) D also
//!   scores realism without the caption, D_u, and as the reference: L_D = ½[BCE(D(x, μ), 1) +
//!   BCE(D_u(x), 1)] + ⅓[BCE(D(G, μ), 0) + BCE(D(x_{i+1}, μ_i), 0) + BCE(D_u(G), 0)],
//!   L_G = BCE(D(G, μ), 1) + BCE(D_u(G), 1) + KL.
//! - Stage I (`stackgan.stage = 1`) draws a low-resolution image from [z ‖ c]. Stage II
//!   (`stage = 2`) trains on a Stage-I run (`stackgan.stage1`): the frozen Stage-I generator
//!   draws from the same caption and z, and Stage II, with its own conditioning augmentation,
//!   refines that image to 4× its side. The Stage-I generator and the text encoder are saved in
//!   every checkpoint, so a run samples without its data or the cache.
use super::{Batch, CaptionSampler, DataInfo, Method, Metrics, Spec, section};
use crate::config::Config;
use crate::data::{Data, Shape};
use crate::error::{Error, Result};
use crate::nets::stackgan::{self, Ca, CaSpec, Discriminator, Stage1G, Stage2G, doublings};
use crate::rng;
use crate::text::TextEncoder;
use crate::train::checkpoint::{Saved, named_variables};
use crate::train::optim::Optimizer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

pub const SPEC: Spec = Spec {
    name: "stackgan",
    about: "StackGAN: text to image in two stages (conditioning augmentation, matching-aware discriminator)",
    batch: Batch::Captioned,
    sections: || [section("stackgan", &StackganConfig::default())].into_iter().collect(),
    check,
    build: |cfg, info, device| Ok(Box::new(Stackgan::new(cfg, info, device)?)),
};

/// The `[stackgan]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StackganConfig {
    /// 1: text → low-resolution image; 2: refine a Stage-I run's images to 4× their side.
    pub stage: i64,
    /// Stage II: the Stage-I run folder.
    pub stage1: String,
    /// A text encoder from `gantry text train`; empty: the cached one of the data (trained on
    /// first use). Stage II uses its Stage-I run's.
    pub text_encoder: String,
    /// Dimensions of z ~ N(0, I) (Stage I).
    pub z_dim: i64,
    /// Dimensions of the conditioning code c.
    pub c_dim: i64,
    /// Conditioning augmentation (c = μ + σ·ε and the KL term); false: c = μ.
    pub augment: bool,
    /// How (μ, log σ²) come from the embedding: "relu" (StackGAN's, μ ≥ 0 and σ ≥ 1) or "glu"
    /// (StackGAN++'s and AttnGAN's gated linear unit, μ and log σ² of either sign).
    pub ca: Ca,
    /// Weight of the KL term in G's loss.
    pub kl_weight: f64,
    /// Captions averaged into one condition per image and step.
    pub captions_per_step: i64,
    /// Stage I: G's channels at 4 × 4 (halved per doubling); Stage II: its encoder's first
    /// width (×4 in the residual blocks).
    pub g_width: i64,
    /// D's first channels (doubled per halving).
    pub d_width: i64,
    /// Stage II's residual blocks.
    pub res_blocks: i64,
    /// Both learning rates halve every this many steps (0: never).
    pub lr_halve_every: u64,
    /// D also gives an unconditional logit, and both losses add its terms (the reference's
    /// Stage-II discriminator; the `stackgan-2` preset sets it).
    pub uncond_logit: bool,
}

impl Default for StackganConfig {
    fn default() -> Self {
        StackganConfig {
            stage: 1,
            stage1: String::new(),
            text_encoder: String::new(),
            z_dim: 100,
            c_dim: 128,
            augment: true,
            ca: Ca::Relu,
            kl_weight: 2.0,
            captions_per_step: 4,
            g_width: 256,
            d_width: 64,
            res_blocks: 2,
            lr_halve_every: 0,
            uncond_logit: false,
        }
    }
}

fn check(cfg: &Config) -> Result<()> {
    let c: StackganConfig = cfg.section("stackgan")?;
    let bad = |key: &str, why: String| Err(Error::Config(format!("`stackgan.{key}` {why}")));
    if !(1..=2).contains(&c.stage) {
        return bad("stage", format!("must be 1 or 2, not {}", c.stage));
    }
    if c.stage == 2 && c.stage1.is_empty() {
        return bad("stage1", "must name the Stage-I run folder a Stage-II run refines (--stage1 RUN)".into());
    }
    if c.stage == 1 && !c.stage1.is_empty() {
        return bad("stage1", "names a Stage-I run, which only a Stage-II run (stackgan.stage = 2) reads".into());
    }
    if c.stage == 2 && !c.text_encoder.is_empty() {
        return bad(
            "text_encoder",
            "does not apply to Stage II: it reads captions with its Stage-I run's encoder, whose embedding that run was trained on".into(),
        );
    }
    for (key, v, hi) in [
        ("z_dim", c.z_dim, 4096),
        ("c_dim", c.c_dim, 4096),
        ("captions_per_step", c.captions_per_step, 64),
        ("g_width", c.g_width, 4096),
        ("d_width", c.d_width, 1024),
    ] {
        if !(1..=hi).contains(&v) {
            return bad(key, format!("must be 1 to {hi}, not {v}"));
        }
    }
    if !(0..=64).contains(&c.res_blocks) {
        return bad("res_blocks", format!("must be 0 to 64, not {}", c.res_blocks));
    }
    if !(c.kl_weight >= 0.0 && c.kl_weight.is_finite()) {
        return bad("kl_weight", format!("must be a finite number ≥ 0, not {}", c.kl_weight));
    }
    cfg.refuse_unread(
        &["train.critic_steps", "train.ema"],
        "StackGAN updates D once and G once per step and keeps no weight average",
    )
}

/// The frozen Stage-I generator a Stage-II run refines, with the settings it was built with.
struct Frozen {
    c: StackganConfig,
    vs: VarStore,
    g: Stage1G,
    side: i64,
}

pub struct Stackgan {
    cfg: Config,
    c: StackganConfig,
    device: Device,
    channels: i64,
    size: i64,
    g_vs: VarStore,
    g1: Option<Stage1G>,
    g2: Option<Stage2G>,
    d_vs: VarStore,
    d: Discriminator,
    opt_g: Optimizer,
    opt_d: Optimizer,
    encoder: Option<TextEncoder>,
    stage1: Option<Frozen>,
    /// Every training caption's embedding, and each image's (first row, count) in it.
    embeddings: Option<(Tensor, Vec<(i64, i64)>)>,
}

/// The text encoder's width (what `CondAug` reads).
const TEXT_DIM: i64 = 256;

/// The conditioning augmentation of a stage built with settings `c`.
fn ca_spec(c: &StackganConfig) -> CaSpec {
    CaSpec { text_dim: TEXT_DIM, c_dim: c.c_dim, kind: c.ca }
}

impl Stackgan {
    pub fn new(cfg: &Config, info: DataInfo, device: Device) -> Result<Stackgan> {
        let c: StackganConfig = cfg.section("stackgan")?;
        let Shape::Image { channels, size } = info.shape else {
            return Err(Error::Config("method = \"stackgan\" trains on images; the data are points".into()));
        };
        if doublings(size).is_none() || (c.stage == 2 && size < 32) {
            return Err(Error::Config(format!(
                "StackGAN draws images of a power-of-two side, at least 8 for Stage I and 32 for Stage II; the data are {size} × {size}: set data.image_size (the presets: 32 for Stage I, 128 for Stage II)"
            )));
        }
        rng::seed_torch(cfg.seed, rng::stream::INIT, 0);
        let g_vs = VarStore::new(device);
        let (g1, g2) = if c.stage == 1 {
            (Some(Stage1G::new(g_vs.root(), c.z_dim, ca_spec(&c), c.g_width, channels, size)), None)
        } else {
            (None, Some(Stage2G::new(g_vs.root(), ca_spec(&c), c.g_width, channels, c.res_blocks as usize)))
        };
        crate::nets::initialise(&g_vs, crate::nets::Init::Dcgan);
        rng::seed_torch(cfg.seed, rng::stream::INIT, 1);
        let d_vs = VarStore::new(device);
        let d = Discriminator::new(d_vs.root(), channels, size, c.d_width, c.c_dim, c.uncond_logit);
        crate::nets::initialise(&d_vs, crate::nets::Init::Dcgan);
        Ok(Stackgan {
            opt_g: Optimizer::new(&cfg.train, super::gan::trainable(&g_vs)),
            opt_d: Optimizer::new(&cfg.train, super::gan::trainable(&d_vs)),
            cfg: cfg.clone(),
            c,
            device,
            channels,
            size,
            g_vs,
            g1,
            g2,
            d_vs,
            d,
            encoder: None,
            stage1: None,
            embeddings: None,
        })
    }

    fn lr(&self, base: f64, step: u64) -> f64 {
        let t = &self.cfg.train;
        let scheduled = crate::train::schedule::lr(base, t.lr_schedule, t.decay_start, step, self.cfg.steps);
        crate::train::schedule::halved(scheduled, step, self.c.lr_halve_every, 0.0)
    }

    fn encoder_ref(&self) -> &TextEncoder {
        self.encoder.as_ref().expect("the text encoder is loaded before training or sampling")
    }

    /// Each image's condition for `step`: the mean embedding of `captions_per_step` of its
    /// captions, drawn with replacement from (seed, step).
    fn conditions(&self, idx: &[i64], step: u64) -> Tensor {
        let (all, spans) = self.embeddings.as_ref().expect("embeddings are made in prepare");
        let k = self.c.captions_per_step;
        let mut r = rng::SplitMix::new(rng::derive(self.cfg.seed, rng::stream::LABELS, step));
        let rows: Vec<i64> = idx
            .iter()
            .flat_map(|&i| {
                let (first, count) = spans[i as usize];
                (0..k).map(|_| first + r.below(count as u64) as i64).collect::<Vec<_>>()
            })
            .collect();
        let picked = all.index_select(0, &Tensor::from_slice(&rows).to(self.device));
        picked.view([idx.len() as i64, k, -1]).mean_dim(1, false, Kind::Float)
    }

    /// The code c of captions `text` and G's added loss: (c, μ, KL term).
    fn code(&self, ca: &stackgan::CondAug, text: &Tensor) -> (Tensor, Tensor, Tensor) {
        if self.c.augment {
            let (c, mu, logvar) = ca.forward(text);
            let kl = stackgan::kl(&mu, &logvar) * self.c.kl_weight;
            (c, mu, kl)
        } else {
            let (mu, _) = ca.moments(text);
            (mu.shallow_clone(), mu, Tensor::zeros([], (Kind::Float, self.device)))
        }
    }

    /// Stage-I images of `text` and `z` from the frozen generator (Stage II), in eval mode.
    fn low(&self, text: &Tensor, z: &Tensor) -> Tensor {
        let f = self.stage1.as_ref().expect("the Stage-I generator is loaded before training or sampling");
        tch::no_grad(|| {
            let c = if f.c.augment { f.g.ca.forward(text).0 } else { f.g.ca.moments(text).0 };
            f.g.from_code(z, &c, false)
        })
    }

    fn z_width(&self) -> i64 {
        match &self.stage1 {
            Some(f) => f.c.z_dim,
            None => self.c.z_dim,
        }
    }

    /// Width of the sampling noise: z, then the ε of each stage's conditioning augmentation
    /// (Stage I's, then Stage II's; none for a stage trained without it).
    fn noise_width(&self) -> i64 {
        let eps = |c: &StackganConfig| if c.augment { c.c_dim } else { 0 };
        self.z_width() + self.stage1.as_ref().map_or(0, |f| eps(&f.c)) + eps(&self.c)
    }

    /// Images for `text` and `z`: (Stage-I images, and Stage II's when a Stage-II run), all in
    /// training mode when `train`.
    fn draw(&self, text: &Tensor, z: &Tensor, train: bool) -> (Tensor, Tensor, Tensor, Option<Tensor>) {
        match (&self.g1, &self.g2) {
            (Some(g1), _) => {
                let (c, mu, kl) = self.code(&g1.ca, text);
                (g1.from_code(z, &c, train), mu, kl, None)
            }
            (None, Some(g2)) => {
                let low = self.low(text, z);
                let (c, mu, kl) = self.code(&g2.ca, text);
                (g2.from_code(&low, &c, train), mu, kl, Some(low))
            }
            (None, None) => unreachable!("one stage is built"),
        }
    }

    /// Loads the Stage-I run a Stage-II run refines: its newest checkpoint's generator and text
    /// encoder; refuses a run that is not Stage I, or that was trained on other data.
    fn load_stage1(&mut self) -> Result<()> {
        let run = PathBuf::from(&self.c.stage1);
        let cfg_path = run.join("config.toml");
        if !cfg_path.is_file() {
            return Err(Error::Usage(format!(
                "`stackgan.stage1` = {}: no run folder there (no config.toml); train Stage I first: gantry train --preset stackgan-1 --data DATA --out {}",
                run.display(),
                run.display()
            )));
        }
        let cfg1 = super::load_config(&cfg_path)?;
        let c1: StackganConfig = if cfg1.method == "stackgan" { cfg1.section("stackgan")? } else { StackganConfig { stage: 0, ..Default::default() } };
        if cfg1.method != "stackgan" || c1.stage != 1 {
            return Err(Error::Usage(format!(
                "`stackgan.stage1` = {} is a {} run, not a StackGAN Stage-I run (method = \"stackgan\", stackgan.stage = 1)",
                run.display(),
                if cfg1.method == "stackgan" { format!("Stage-{} StackGAN", c1.stage) } else { format!("`{}`", cfg1.method) }
            )));
        }
        let (want, have) = (crate::data::identity(&self.cfg.data.source)?, crate::data::identity(&cfg1.data.source)?);
        if want != have {
            return Err(Error::Usage(format!(
                "`stackgan.stage1` = {} was trained on `{}` (data hash {have}), not on `{}` (data hash {want}); Stage II refines the images of a Stage-I run of the same captioned data",
                run.display(),
                cfg1.data.source,
                self.cfg.data.source
            )));
        }
        let (ckpt, state) = crate::train::checkpoint::latest(&run)?.ok_or_else(|| {
            Error::Usage(format!("`stackgan.stage1` = {} has no checkpoint yet; let Stage I train first", run.display()))
        })?;
        let side = state.shape.get(1).copied().unwrap_or(0);
        if side * 4 != self.size {
            return Err(Error::Config(format!(
                "Stage II draws 4× its Stage-I run's side: {} draws {side} × {side}, so set data.image_size = {} (not {})",
                run.display(),
                side * 4,
                self.size
            )));
        }
        let mut vs = VarStore::new(self.device);
        let g = Stage1G::new(vs.root(), c1.z_dim, ca_spec(&c1), c1.g_width, self.channels, side);
        crate::train::checkpoint::load_store(&vs, &ckpt.join("g.safetensors"))?;
        let saved = crate::train::checkpoint::read_state_tensors(&ckpt)?;
        self.encoder = Some(TextEncoder::from_state(&saved, "text.", self.device)?.ok_or_else(|| Error::Checkpoint {
            path: ckpt.clone(),
            msg: "holds no text encoder; it was not written by a StackGAN run of this gantry".into(),
        })?);
        vs.freeze();
        self.stage1 = Some(Frozen { c: c1, vs, g, side });
        Ok(())
    }
}

/// Binary cross-entropy with logits against a constant target.
fn bce(logits: &Tensor, target: f64) -> Tensor {
    logits.binary_cross_entropy_with_logits::<Tensor>(&logits.full_like(target), None, None, tch::Reduction::Mean)
}

/// D's logits for one step: the conditional ones of the right pairs, the mismatched pairs and the
/// generated images, and the unconditional ones of the real and the generated images when D has
/// them.
struct Scores {
    right: Tensor,
    wrong: Tensor,
    fake: Tensor,
    uncond: Option<(Tensor, Tensor)>,
}

impl Scores {
    /// L_D and its named terms (each a BCE; the unconditional ones only when scored).
    fn d_loss(&self) -> (Tensor, Vec<(&'static str, Tensor)>) {
        let (right, wrong, fake) = (bce(&self.right, 1.0), bce(&self.wrong, 0.0), bce(&self.fake, 0.0));
        let (loss, mut terms) = match &self.uncond {
            None => (&right + (&fake + &wrong) * 0.5, vec![]),
            Some((real_u, fake_u)) => {
                let (real_u, fake_u) = (bce(real_u, 1.0), bce(fake_u, 0.0));
                let loss = (&right + &real_u) * 0.5 + (&fake + &wrong + &fake_u) / 3.0;
                (loss, vec![("d/real_uncond", real_u), ("d/fake_uncond", fake_u)])
            }
        };
        terms.splice(0..0, [("d/real", right), ("d/wrong", wrong), ("d/fake", fake)]);
        (loss, terms)
    }
}

/// G's adversarial loss from D's logits of the generated images: the conditional term, plus the
/// unconditional one when D has it.
fn g_adversarial(fake: &Tensor, fake_uncond: Option<&Tensor>) -> Tensor {
    let adv = bce(fake, 1.0);
    match fake_uncond {
        Some(u) => adv + bce(u, 1.0),
        None => adv,
    }
}

impl Saved for Stackgan {
    fn stores(&self) -> Vec<(&'static str, &VarStore)> {
        vec![("g", &self.g_vs), ("d", &self.d_vs)]
    }

    fn optimizers(&mut self) -> Vec<(&'static str, &mut Optimizer)> {
        vec![("g", &mut self.opt_g), ("d", &mut self.opt_d)]
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = self.encoder.as_ref().map_or_else(Vec::new, |e| e.state("text."));
        if let Some(f) = &self.stage1 {
            let about = serde_json::to_vec(&(&f.c, f.side)).expect("settings serialise");
            out.push(("stage1.__config__".into(), Tensor::from_slice(&about)));
            out.extend(named_variables(&f.vs).into_iter().map(|(n, t)| (format!("stage1.{n}"), t)));
        }
        out
    }

    fn load_state(&mut self, saved: &BTreeMap<String, Tensor>) -> Result<()> {
        let missing = |what: &str| Error::Usage(format!("holds no {what}; it was not written by a StackGAN run of this gantry"));
        self.encoder = Some(TextEncoder::from_state(saved, "text.", self.device)?.ok_or_else(|| missing("text encoder"))?);
        if self.c.stage == 2 {
            let about = saved.get("stage1.__config__").ok_or_else(|| missing("Stage-I generator"))?;
            let bytes: Vec<u8> = Vec::try_from(about).map_err(|e: tch::TchError| Error::Usage(e.to_string()))?;
            let (c1, side): (StackganConfig, i64) = serde_json::from_slice(&bytes)
                .map_err(|e| Error::Usage(format!("its Stage-I settings are unreadable ({e})")))?;
            let mut vs = VarStore::new(self.device);
            let g = Stage1G::new(vs.root(), c1.z_dim, ca_spec(&c1), c1.g_width, self.channels, side);
            crate::train::checkpoint::copy_into(&vs, saved, "stage1.", Path::new("state.safetensors"))?;
            vs.freeze();
            self.stage1 = Some(Frozen { c: c1, vs, g, side });
        }
        Ok(())
    }
}

impl Method for Stackgan {
    fn prepare(&mut self, data: &Data, fresh: bool) -> Result<()> {
        if fresh {
            if self.c.stage == 2 {
                self.load_stage1()?;
            } else {
                let e = crate::text::named_or_cached(&self.c.text_encoder, &self.cfg.data.source, self.device, false)?;
                self.encoder = Some(e);
            }
        }
        let set = data.captioned();
        let enc = self.encoder_ref();
        let flat: Vec<String> = set.captions.iter().flatten().cloned().collect();
        let mut spans = vec![];
        let mut first = 0;
        for c in &set.captions {
            spans.push((first, c.len() as i64));
            first += c.len() as i64;
        }
        let all = enc.encode(&flat);
        self.embeddings = Some((all, spans));
        Ok(())
    }

    fn train_step(&mut self, step: u64, data: &Data) -> Metrics {
        let n = self.cfg.data.batch_size;
        let set = data.captioned();
        let idx = set.batch_indices(step, n, self.cfg.seed);
        let real = set.x.index_select(0, &Tensor::from_slice(&idx).to(self.device));
        let text = self.conditions(&idx, step);
        let z = Tensor::randn([n, self.z_width()], (Kind::Float, self.device));
        let (fake, mu, kl, _) = self.draw(&text, &z, true);
        let cond = mu.detach();
        // D: the right caption, a generated image, and a real image with the next one's caption
        let real_h = self.d.features(&real, true);
        let fake_h = self.d.features(&fake.detach(), true);
        let scores = Scores {
            right: self.d.logits(&real_h, &cond, true),
            wrong: self.d.logits(&real_h.narrow(0, 1, n - 1), &cond.narrow(0, 0, n - 1), true),
            fake: self.d.logits(&fake_h, &cond, true),
            uncond: self.d.uncond_logits(&real_h).zip(self.d.uncond_logits(&fake_h)),
        };
        let (loss_d, d_terms) = scores.d_loss();
        let grads = crate::dist::gradients(&loss_d, &self.opt_d.params(), false);
        let t = &self.cfg.train;
        let (lr_d, lr_g) = (self.lr(t.d_lr, step), self.lr(t.g_lr, step));
        self.opt_d.update(&grads, lr_d);
        // G: fool the updated D under the same condition, plus the KL term
        let fake_h = self.d.features(&fake, true);
        let adv = g_adversarial(&self.d.logits(&fake_h, &cond, true), self.d.uncond_logits(&fake_h).as_ref());
        let loss_g = &adv + &kl;
        let grads = crate::dist::gradients(&loss_g, &self.opt_g.params(), false);
        self.opt_g.update(&grads, lr_g);
        let mut out = vec![("d/loss", loss_d.detach())];
        out.extend(d_terms.into_iter().map(|(k, v)| (k, v.detach())));
        out.extend([("g/loss", loss_g.detach()), ("g/adversarial", adv.detach()), ("g/kl", kl.detach())]);
        out
    }

    /// Eight training images' first captions, each with `n / 8` draws of noise: [text ‖ noise].
    fn grid_inputs(&self, data: &Data, n: i64) -> Tensor {
        let set = data.captioned();
        let rows = 8.min(set.len() as i64).max(1);
        let per = (n / rows).max(1);
        let caps: Vec<String> = (0..rows).map(|i| set.captions[i as usize][0].clone()).collect();
        let text = self.encoder_ref().encode(&caps).repeat_interleave_self_int(per, 0, None);
        let noise = Tensor::randn([rows * per, self.noise_width()], (Kind::Float, self.device));
        Tensor::cat(&[text, noise], 1)
    }

    fn write_grid(&self, inputs: &Tensor, _data: &Data, path: &Path, _seed: u64) -> Result<()> {
        let text = inputs.narrow(1, 0, TEXT_DIM);
        let noise = inputs.narrow(1, TEXT_DIM, inputs.size()[1] - TEXT_DIM);
        let stages = CaptionSampler::generate(self, &text, &noise);
        crate::viz::save_grid(&side_by_side(&stages), stages.len() as i64 * (inputs.size()[0] / 8).max(1), path)
    }

    fn captions(&self) -> Option<&dyn CaptionSampler> {
        Some(self)
    }
}

/// Each sample's stages next to each other (Stage-I upsampled to the last stage's side), in
/// sample order: [s1₀, s2₀, s1₁, s2₁, …].
pub fn side_by_side(stages: &[Tensor]) -> Tensor {
    let last = stages.last().expect("at least one stage");
    let side = last.size()[2];
    let up: Vec<Tensor> =
        stages.iter().map(|s| if s.size()[2] == side { s.shallow_clone() } else { s.upsample_nearest2d([side, side], None, None) }).collect();
    let n = last.size()[0];
    Tensor::stack(&up, 1).view([n * stages.len() as i64, last.size()[1], side, side])
}

impl CaptionSampler for Stackgan {
    fn encoder(&self) -> &TextEncoder {
        self.encoder_ref()
    }

    fn noise_dim(&self) -> i64 {
        self.noise_width()
    }

    fn generate(&self, text: &Tensor, noise: &Tensor) -> Vec<Tensor> {
        let (text, noise) = (text.to_device(self.device), noise.to_device(self.device));
        let mut at = self.z_width();
        let z = noise.narrow(1, 0, at);
        let mut eps = |augment: bool, dim: i64| {
            augment.then(|| {
                at += dim;
                noise.narrow(1, at - dim, dim)
            })
        };
        tch::no_grad(|| match (&self.g1, &self.g2) {
            (Some(g1), _) => {
                let e = eps(self.c.augment, self.c.c_dim);
                vec![g1.from_code(&z, &g1.ca.with_noise(&text, e.as_ref()), false)]
            }
            (None, Some(g2)) => {
                let f = self.stage1.as_ref().expect("the Stage-I generator is loaded before sampling");
                let e1 = eps(f.c.augment, f.c.c_dim);
                let low = f.g.from_code(&z, &f.g.ca.with_noise(&text, e1.as_ref()), false);
                let e2 = eps(self.c.augment, self.c.c_dim);
                let high = g2.from_code(&low, &g2.ca.with_noise(&text, e2.as_ref()), false);
                vec![low, high]
            }
            (None, None) => unreachable!("one stage is built"),
        })
    }

    fn export_parts(&self) -> (serde_json::Value, Vec<(String, Tensor)>) {
        let enc = self.encoder_ref();
        let m = &enc.meta;
        // the caption branch only, renamed so that no PyTorch module is called `forward`
        let mut weights: Vec<(String, Tensor)> = named_variables(enc.store())
            .into_iter()
            .filter_map(|(n, t)| {
                let rest = n.strip_prefix("words.")?;
                let rest = rest.strip_prefix("forward.").map_or(rest.to_string(), |r| format!("gru_forward.{r}"));
                let rest = rest.strip_prefix("backward.").map_or(rest.to_string(), |r| format!("gru_backward.{r}"));
                Some((format!("text.{rest}"), t))
            })
            .collect();
        let mut stages = vec![];
        if let Some(f) = &self.stage1 {
            weights.extend(named_variables(&f.vs).into_iter().map(|(n, t)| (format!("stage1.{n}"), t)));
            stages.push(serde_json::json!({"stage": 1, "z_dim": f.c.z_dim, "c_dim": f.c.c_dim,
                "g_width": f.c.g_width, "augment": f.c.augment, "ca": f.c.ca, "side": f.side}));
        }
        let name = format!("stage{}", self.c.stage);
        weights.extend(named_variables(&self.g_vs).into_iter().map(|(n, t)| (format!("{name}.{n}"), t)));
        stages.push(serde_json::json!({"stage": self.c.stage, "z_dim": self.c.z_dim, "c_dim": self.c.c_dim,
            "g_width": self.c.g_width, "res_blocks": self.c.res_blocks, "augment": self.c.augment, "ca": self.c.ca, "side": self.size}));
        let settings = serde_json::json!({
            "text": {"vocab": m.vocab, "word_dim": m.word_dim, "hidden": m.hidden, "dim": m.dim},
            "channels": self.channels,
            "z_dim": self.z_width(),
            "noise_dim": self.noise_width(),
            "stages": stages,
        });
        (settings, weights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matching_aware_loss_with_a_known_mismatch() {
        // right pairs scored +2, the shifted (wrong) pairs −1, fakes −3:
        // L_D = softplus(−2) + ½(softplus(−1) + softplus(−3)), softplus(v) = ln(1 + e^v)
        let sp = |v: f64| (1.0 + v.exp()).ln();
        let right = Tensor::from_slice(&[2f32, 2.0]);
        let wrong = Tensor::from_slice(&[-1f32]);
        let fake = Tensor::from_slice(&[-3f32, -3.0]);
        let mut scores = Scores { right, wrong, fake, uncond: None };
        let (l, terms) = scores.d_loss();
        let want = sp(-2.0) + 0.5 * (sp(-1.0) + sp(-3.0));
        assert!((l.double_value(&[]) - want).abs() < 1e-6, "{l} vs {want}");
        assert_eq!(terms.iter().map(|t| t.0).collect::<Vec<_>>(), ["d/real", "d/wrong", "d/fake"]);
        // with the unconditional logits (real scored +1, fakes −2), as the reference's Stage II:
        // ½[softplus(−2) + softplus(−1)] + ⅓[softplus(−3) + softplus(−1) + softplus(−2)]
        scores.uncond = Some((Tensor::from_slice(&[1f32, 1.0]), Tensor::from_slice(&[-2f32, -2.0])));
        let (l, terms) = scores.d_loss();
        let want = 0.5 * (sp(-2.0) + sp(-1.0)) + (sp(-3.0) + sp(-1.0) + sp(-2.0)) / 3.0;
        assert!((l.double_value(&[]) - want).abs() < 1e-6, "{l} vs {want}");
        assert_eq!(terms.len(), 5);
        // G: softplus(3) for the conditional fake, softplus(2) for the unconditional one
        let g = g_adversarial(&scores.fake, scores.uncond.as_ref().map(|u| &u.1)).double_value(&[]);
        assert!((g - (sp(3.0) + sp(2.0))).abs() < 1e-6, "{g}");
        assert!((g_adversarial(&scores.fake, None).double_value(&[]) - sp(3.0)).abs() < 1e-6);
    }

    #[test]
    fn stages_interleave_beside_each_other() {
        let low = Tensor::zeros([2, 1, 2, 2], (Kind::Float, Device::Cpu));
        let high = Tensor::ones([2, 1, 4, 4], (Kind::Float, Device::Cpu));
        let s = side_by_side(&[low, high]);
        assert_eq!(s.size(), [4, 1, 4, 4]);
        let means: Vec<f64> = (0..4).map(|i| s.get(i).mean(Kind::Float).double_value(&[])).collect();
        assert_eq!(means, [0.0, 1.0, 0.0, 1.0]);
    }
}
