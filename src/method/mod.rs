//! Training methods. Each method is one file: its config sections and their checks, its
//! networks and optimisers, its training step, the samplers it offers and the figures only it
//! can compute. The loop in `train::run`, the evaluator and the checkpoint drive any method
//! through the `Method` trait and the registry below, and never branch on a particular one.
//!
//! Adding a method: a file in this folder with a `SPEC`, its name in `methods!` below, and a
//! preset in `src/presets/`.
pub mod adapt;
pub mod codes;
pub mod condition;
pub mod pairs;

use crate::classifier::Classifier;
use crate::config::{Config, Registry, Sources};
use crate::data::{Data, DataConfig, Shape};
use crate::error::{Error, Result};
use crate::nets::Stage;
use crate::train::checkpoint::Saved;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{Device, Tensor};
use toml::Table;

/// Every method, by the name `method = "…"` gives it.
macro_rules! methods {
    ($($m:ident),* $(,)?) => {
        $(pub mod $m;)*
        /// The registry: every method's specification.
        pub const METHODS: &[&Spec] = &[$(&$m::SPEC),*];
    };
}

methods!(gan, cgan, acgan, infogan, semi, cyclegan, discogan, cogan, unit, began, ppgn, stackgan);

/// Metric key and a scalar tensor, read from the device only at logging steps.
pub type Metrics = Vec<(&'static str, Tensor)>;

/// The kind of batch a method consumes; the loop loads the training data accordingly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batch {
    /// Images or points of one set (labels are used when the set has them).
    Examples,
    /// Images with their class labels: the data must have labels.
    Labelled,
    /// Two unpaired image domains (a folder with trainA/ and trainB/).
    Unpaired,
    /// Images with their captions (a folder with images/ and text/).
    Captioned,
}

/// What a method is built for: the shape of one example and the data's number of classes.
/// Checkpoints record it, so a run is rebuilt without its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataInfo {
    /// One example's shape (domain A's for two domains).
    pub shape: Shape,
    /// 0 without labels.
    pub classes: i64,
    /// Domain B's shape, for two domains.
    pub shape_b: Option<Shape>,
}

/// What the registry knows of a method before building it.
pub struct Spec {
    /// `method = "…"`.
    pub name: &'static str,
    /// One line for `gantry presets` and error messages.
    pub about: &'static str,
    pub batch: Batch,
    /// The method's config sections (beside `[data]` and `[train]`) with their defaults.
    pub sections: fn() -> Table,
    /// Checks the method's sections and the shared keys it reads.
    pub check: fn(&Config) -> Result<()>,
    pub build: fn(&Config, DataInfo, Device) -> Result<Box<dyn Method>>,
}

/// Where a method's own figures come from in `gantry eval` and at evaluation steps.
pub struct FigureContext<'a> {
    pub data: &'a DataConfig,
    pub device: Device,
    /// The evaluation classifier of the data, when images are scored with one.
    pub classifier: Option<&'a Classifier>,
    /// Samples to draw for sample-based figures, and their seed.
    pub samples: i64,
    pub seed: u64,
    /// The samples the evaluator already drew from the method's `NoiseSampler::latents(samples)`
    /// with this seed, for methods whose samples are costly to draw again.
    pub drawn: Option<&'a Tensor>,
}

/// Figures a method reports, by key.
pub type Figures = Vec<(String, serde_json::Value)>;

pub trait Method: Saved {
    /// One generator update at 0-based `step`, with its discriminator updates.
    fn train_step(&mut self, step: u64, data: &Data) -> Metrics;
    /// Called once before training with the training data; `fresh` is false on resume.
    fn prepare(&mut self, data: &Data, fresh: bool) -> Result<()> {
        let _ = (data, fresh);
        Ok(())
    }
    /// The fixed inputs of the run's progress grids (`n` of them); the loop seeds libtorch's
    /// generator before calling this once.
    fn grid_inputs(&self, data: &Data, n: i64) -> Tensor;
    /// Writes the progress grid of `inputs` to `path`.
    fn write_grid(&self, inputs: &Tensor, data: &Data, path: &Path, seed: u64) -> Result<()>;
    /// The noise → sample sampler, for methods that have one.
    fn noise(&self) -> Option<&dyn NoiseSampler> {
        None
    }
    /// The image → image sampler, for translation methods.
    fn translator(&self) -> Option<&dyn Translator> {
        None
    }
    /// The noise → (A, B) sampler, for methods that generate both domains from one latent.
    fn pairs(&self) -> Option<&dyn PairSampler> {
        None
    }
    /// The classifier-steered Markov chain in a latent space, for PPGN.
    fn chain(&self) -> Option<&dyn ChainSampler> {
        None
    }
    /// The caption → image sampler, for text-to-image methods.
    fn captions(&self) -> Option<&dyn CaptionSampler> {
        None
    }
    /// Figures only this method computes (a classifier's test error, a code's accuracy).
    fn figures(&self, ctx: &FigureContext) -> Result<Figures> {
        let _ = ctx;
        Ok(vec![])
    }
}

/// Sampling from noise: the generator of a GAN-family method.
pub trait NoiseSampler {
    /// Samples for latents `z`, from the averaged generator when there is one, in eval mode.
    fn generate(&self, z: &Tensor) -> Tensor;
    /// Generator inputs for `n` samples (noise, and random classes for conditional methods).
    fn latents(&self, n: i64) -> Tensor;
    /// As `latents`, all of `class` when given; otherwise a conditional run's classes in order.
    fn latents_for(&self, n: i64, class: Option<i64>) -> Tensor {
        let _ = class;
        self.latents(n)
    }
    /// Number of classes one can ask samples of (0: unconditional).
    fn classes(&self) -> i64 {
        0
    }
    /// Number of classes whose one-hot code ends the generator's input (`classes()` for the
    /// conditional GANs; 0 for PPGN, which steers its chain by a class instead).
    fn input_classes(&self) -> i64 {
        self.classes()
    }
    /// The distribution of the noise part of the inputs: `normal` (N(0, I)) or `uniform`
    /// (U(−1, 1) per dimension).
    fn prior(&self) -> &'static str {
        "normal"
    }
    /// The discriminator's raw output for `x`, in eval mode.
    fn critic(&self, x: &Tensor) -> Tensor;
    /// The divergence or distance the critic estimates between `real` and `fake` (its metric
    /// key and value), for objectives that have one.
    fn critic_estimate(&self, real: &Tensor, fake: &Tensor) -> Option<(&'static str, Tensor)> {
        let _ = (real, fake);
        None
    }
    /// InfoGAN: its codes and the width of z in front of them.
    fn codes(&self) -> Option<(&codes::Codes, i64)> {
        None
    }
    /// InfoGAN: Q's logits of the first categorical code for images `x`.
    fn code_logits(&self, x: &Tensor) -> Option<Tensor> {
        let _ = x;
        None
    }
    /// `generate` as named stages (`nets::Stage`), for export's layer-by-layer check.
    fn stages(&self) -> Vec<Stage<'_>>;
}

/// Settings of a chain sampler (PPGN): iterations, the weights ε1 (prior), ε2 (condition), ε3
/// (noise's standard deviation) and the step size from `lr` to `lr_end`. The defaults are the
/// Evolving-AI-Lab/ppgn class-sampling script's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainOptions {
    pub iterations: u64,
    pub eps1: f64,
    pub eps2: f64,
    pub eps3: f64,
    pub lr: f64,
    pub lr_end: f64,
}

impl Default for ChainOptions {
    fn default() -> Self {
        ChainOptions { iterations: 200, eps1: 1e-5, eps2: 1.0, eps3: 1e-17, lr: 1.0, lr_end: 1.0 }
    }
}

impl ChainOptions {
    /// Checks the settings; `prefix` names where they came from (`ppgn.` or `--`).
    pub fn check(&self, prefix: &str) -> Result<()> {
        if !(1..=100_000).contains(&self.iterations) {
            return Err(Error::Config(format!("`{prefix}iterations` must be 1 to 100,000, not {}", self.iterations)));
        }
        for (key, v) in
            [("eps1", self.eps1), ("eps2", self.eps2), ("eps3", self.eps3), ("lr", self.lr), ("lr_end", self.lr_end)]
        {
            if !v.is_finite() || v < 0.0 {
                return Err(Error::Config(format!(
                    "`{prefix}{}` must be a finite number ≥ 0, not {v}",
                    key.replace('_', "-")
                )));
            }
        }
        if self.eps1 == 0.0 && self.eps2 == 0.0 && self.eps3 == 0.0 {
            return Err(Error::Config(format!(
                "`{prefix}eps1`, `{prefix}eps2` and `{prefix}eps3` are all 0: the chain would not move"
            )));
        }
        Ok(())
    }
}

/// Sampling by a Markov chain in a latent space, steered by a classifier (PPGN).
pub trait ChainSampler {
    fn options(&self) -> ChainOptions;
    /// Replaces the settings for the samples drawn next (checked).
    fn set_options(&self, o: ChainOptions) -> Result<()>;
    /// Conditions on another classifier (plug and play); None: the run's own.
    fn set_condition(&self, c: Option<Classifier>);
    /// The classes of the classifier conditioned on.
    fn condition_classes(&self) -> i64;
    /// Runs one chain per class in `y` (`[n]`) and returns the codes reached (`generate` them
    /// with the noise sampler); every `every` iterations (0: never) and at the end, calls
    /// `snapshot(iteration, first row, images)` for each block of chains run together.
    fn run(&self, y: &Tensor, every: u64, snapshot: &mut dyn FnMut(u64, i64, &Tensor)) -> Tensor;
}

/// Sampling from captions: a text-to-image method (StackGAN).
pub trait CaptionSampler {
    /// The frozen text encoder that embeds captions (its vocabulary refuses unknown words).
    fn encoder(&self) -> &crate::text::TextEncoder;
    /// Width of the noise each image is drawn with, N(0, I): z, then the ε of each stage's
    /// conditioning augmentation.
    fn noise_dim(&self) -> i64;
    /// The images of caption embeddings `text` and `noise`, in eval mode: one tensor per stage,
    /// the lowest resolution first.
    fn generate(&self, text: &Tensor, noise: &Tensor) -> Vec<Tensor>;
    /// What `gantry export` writes: the text encoder's and each stage's settings, and the
    /// weights by name (`text.…`, `stage1.…`, `stage2.…`).
    fn export_parts(&self) -> (serde_json::Value, Vec<(String, Tensor)>);
}

/// Sampling pairs: one latent, an image of each domain (CoGAN).
pub trait PairSampler {
    /// Latents for `n` pairs.
    fn latents(&self, n: i64) -> Tensor;
    /// The A and B images of latents `z`, in eval mode, with the channels of the wider domain.
    fn generate_pair(&self, z: &Tensor) -> (Tensor, Tensor);
    /// From latents to the pair stacked as `[2, n, c, h, w]`, as named stages.
    fn stages(&self) -> Vec<Stage<'_>>;
}

/// A conditional generator of two classes, read as domains A (class 0) and B (class 1): the
/// pair of a latent [z; onehot(y)] is its z with each class (the conditional GAN baseline of
/// CoGAN's paper, trained on a two-domain folder with the domain as the class).
pub struct ClassPairs<'a>(pub &'a dyn NoiseSampler);

impl PairSampler for ClassPairs<'_> {
    fn latents(&self, n: i64) -> Tensor {
        self.0.latents_for(n, Some(0))
    }

    fn generate_pair(&self, z: &Tensor) -> (Tensor, Tensor) {
        let w = z.size()[1];
        let with = |class: i64| {
            let zc = z.copy();
            let _ = zc.narrow(1, w - 2, 2).fill_(0.0);
            let _ = zc.narrow(1, w - 2 + class, 1).fill_(1.0);
            self.0.generate(&zc)
        };
        (with(0), with(1))
    }

    fn stages(&self) -> Vec<Stage<'_>> {
        vec![Stage::new("class pair", |z| {
            let (a, b) = self.generate_pair(z);
            Tensor::stack(&[a, b], 0)
        })]
    }
}

/// The pair sampler of a method: its own, or a two-class conditional generator's.
pub fn pairs_of(m: &dyn Method) -> Option<Box<dyn PairSampler + '_>> {
    struct Own<'a>(&'a dyn PairSampler);
    impl PairSampler for Own<'_> {
        fn latents(&self, n: i64) -> Tensor {
            self.0.latents(n)
        }
        fn generate_pair(&self, z: &Tensor) -> (Tensor, Tensor) {
            self.0.generate_pair(z)
        }
        fn stages(&self) -> Vec<Stage<'_>> {
            self.0.stages()
        }
    }
    if let Some(p) = m.pairs() {
        return Some(Box::new(Own(p)));
    }
    m.noise().filter(|s| s.input_classes() == 2).map(|s| Box::new(ClassPairs(s)) as Box<dyn PairSampler>)
}

/// Which way a translator maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    AtoB,
    BtoA,
}

impl Direction {
    pub fn parse(s: &str) -> Result<Direction> {
        match s {
            "a2b" => Ok(Direction::AtoB),
            "b2a" => Ok(Direction::BtoA),
            _ => Err(Error::Usage(format!("--direction `{s}` is not one of a2b, b2a"))),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Direction::AtoB => "a2b",
            Direction::BtoA => "b2a",
        }
    }
    /// A pair given as (A's, B's), ordered (source's, target's).
    pub fn orient<T>(self, (a, b): (T, T)) -> (T, T) {
        match self {
            Direction::AtoB => (a, b),
            Direction::BtoA => (b, a),
        }
    }

    pub fn reverse(self) -> Direction {
        match self {
            Direction::AtoB => Direction::BtoA,
            Direction::BtoA => Direction::AtoB,
        }
    }
}

/// Sampling from an image: a translation method's generators.
pub trait Translator {
    /// `x` ([n, c, h, w] in [−1, 1]) mapped into the other domain, in eval mode.
    fn translate(&self, x: &Tensor, dir: Direction) -> Tensor;
    /// Channels of the images `dir` reads and writes.
    fn channels(&self, dir: Direction) -> (i64, i64);
    /// Sides of an image the networks take must be a multiple of this, and at least `min_side`.
    fn side_multiple(&self) -> i64;
    fn min_side(&self) -> i64;
    /// `translate` in direction `dir` as named stages (`nets::Stage`).
    fn stages(&self, dir: Direction) -> Vec<Stage<'_>>;
}

/// The specification of `name`.
pub fn spec(name: &str) -> Result<&'static Spec> {
    METHODS.iter().copied().find(|s| s.name == name).ok_or_else(|| {
        let names: Vec<_> = METHODS.iter().map(|s| s.name).collect();
        Error::Config(format!("unknown method `{name}`; the methods are: {}", names.join(", ")))
    })
}

/// What `config` needs of the registry.
pub const REGISTRY: Registry = Registry {
    sections: |name| Ok((spec(name)?.sections)()),
    owner: |section| METHODS.iter().find(|s| (s.sections)().contains_key(section)).map(|s| s.name),
};

/// Resolves and checks a configuration from its sources.
pub fn resolve(src: &Sources) -> Result<Config> {
    let cfg = Config::resolve_with(src, &REGISTRY)?;
    check(&cfg)?;
    Ok(cfg)
}

/// Reads and checks a run's `config.toml` (an older gantry's too).
pub fn load_config(path: &Path) -> Result<Config> {
    let cfg = Config::load_with(path, &REGISTRY)?;
    check(&cfg)?;
    Ok(cfg)
}

/// Checks the keys every run has, then the method's own.
pub fn check(cfg: &Config) -> Result<()> {
    let s = spec(&cfg.method)?;
    cfg.check_common(s.batch == Batch::Unpaired)?;
    (s.check)(cfg)
}

/// Builds the method a configuration asks for, for data described by `info`.
pub fn build(cfg: &Config, info: DataInfo, device: Device) -> Result<Box<dyn Method>> {
    let s = spec(&cfg.method)?;
    if s.batch == Batch::Labelled && info.classes < 2 {
        let what = if info.classes == 1 { "has one class only" } else { "has none" };
        return Err(Error::Config(format!(
            "method = \"{}\" needs labelled images of two or more classes (an image folder with one sub-folder per class, or an MNIST-format folder with its labels file); the data `{}` {what}",
            s.name, cfg.data.source
        )));
    }
    (s.build)(cfg, info, device)
}

/// A section's defaults as a TOML table entry.
pub fn section<T: serde::Serialize>(name: &str, defaults: &T) -> (String, toml::Value) {
    (name.to_string(), toml::Value::try_from(defaults).expect("defaults serialise"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(preset: &str, sets: &[&str]) -> Sources {
        Sources { preset: Some(preset.into()), file: None, sets: sets.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn every_preset_resolves_to_a_registered_method() {
        for p in crate::config::PRESETS {
            // Stage II names the Stage-I run it refines
            let sets: &[&str] = if p.name == "stackgan-2" { &["stackgan.stage1=\"s1\""] } else { &[] };
            let cfg = resolve(&sources(p.name, sets)).unwrap();
            assert_eq!(cfg.preset, p.name);
            assert!(!cfg.description.is_empty(), "{} lacks a description", p.name);
            assert!(spec(&cfg.method).is_ok());
        }
    }

    #[test]
    fn set_overrides_and_int_to_float() {
        let cfg = resolve(&sources("dcgan", &["train.g_lr=1", "data.source=ring8"])).unwrap();
        assert_eq!(cfg.train.g_lr, 1.0);
        assert_eq!(cfg.data.source, "ring8");
    }

    #[test]
    fn unknown_key_lists_valid_ones() {
        let e = resolve(&sources("dcgan", &["train.lr=1"])).unwrap_err().to_string();
        assert!(e.contains("unknown key `train.lr`"), "{e}");
        assert!(e.contains("g_lr"), "{e}");
    }

    #[test]
    fn another_methods_section_and_moved_keys_are_named() {
        let e = resolve(&sources("dcgan", &["infogan.q_hidden=128"])).unwrap_err().to_string();
        assert!(e.contains("[infogan] is a section of method = \"infogan\""), "{e}");
        let e = resolve(&sources("dcgan", &["model.q_hidden=128"])).unwrap_err().to_string();
        assert!(e.contains("it is now `infogan.q_hidden`"), "{e}");
        let e = resolve(&sources("dcgan", &["method=bogus"])).unwrap_err().to_string();
        assert!(e.contains("unknown method `bogus`") && e.contains("infogan"), "{e}");
    }

    #[test]
    fn wrong_type_is_named() {
        let e = resolve(&sources("dcgan", &["train.critic_steps=\"five\""])).unwrap_err();
        assert!(e.to_string().contains("train.critic_steps"), "{e}");
    }

    #[test]
    fn non_finite_numbers_are_refused_wherever_they_are() {
        for set in ["train.g_lr=nan", "train.beta1=inf", "objective.gp_weight=-inf"] {
            let e = resolve(&sources("wgan-gp", &[set])).unwrap_err().to_string();
            let key = set.split('=').next().unwrap();
            assert!(e.contains(&format!("`{key}` in --set {set} is")) && e.contains("must be finite"), "{e}");
        }
    }

    #[test]
    fn unknown_variant_is_refused() {
        let e = resolve(&sources("dcgan", &["objective.loss=bogus"])).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }

    #[test]
    fn hash_ignores_cadence_only() {
        let a = resolve(&sources("dcgan", &[])).unwrap();
        let b = resolve(&sources("dcgan", &["steps=7", "train.log_every=3"])).unwrap();
        let c = resolve(&sources("dcgan", &["train.g_lr=0.1"])).unwrap();
        // CUDA's deterministic kernels give the same updates up to rounding: a run may resume
        // with the other setting
        let d = resolve(&sources("dcgan", &["train.deterministic=false"])).unwrap();
        assert!(a.train.deterministic && !d.train.deterministic);
        assert_eq!(a.hash(), d.hash());
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
        assert_eq!(a.differences(&c).len(), 1);
        // how a method samples is not how it trains: `[ppgn.sampler]` is left out
        let p = resolve(&sources("ppgn", &[])).unwrap();
        let q = resolve(&sources("ppgn", &["ppgn.sampler.lr=1", "ppgn.sampler.iterations=50"])).unwrap();
        let r = resolve(&sources("ppgn", &["ppgn.code_weight=1"])).unwrap();
        assert_eq!(p.hash(), q.hash());
        assert_ne!(p.hash(), r.hash());
    }

    #[test]
    fn an_older_config_file_loads_with_its_moved_keys() {
        // config.toml of an InfoGAN run written before [infogan] existed
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(
            &p,
            "preset = \"infogan\"\nmethod = \"infogan\"\n[data]\nsource = \"x\"\nlabels = 0\n[model]\nlatent_dim = 62\ncategorical_codes = [4]\nq_hidden = 128\nd_input_noise = 0.3\n[objective]\ninfo_weight = 2.0\nunlabeled_weight = 1.0\n",
        )
        .unwrap();
        let cfg = load_config(&p).unwrap();
        let info: infogan::InfoConfig = cfg.section("infogan").unwrap();
        assert_eq!(info.categorical_codes, vec![4]);
        assert_eq!(info.q_hidden, 128);
        assert_eq!(info.weight, 2.0);
        assert!(!cfg.sections.contains_key("semi"), "the semi-supervised keys of an InfoGAN run are dropped");
    }
}
