//! Typed configuration: defaults in one place (`Default` impls below), presets as TOML files
//! embedded in the binary that hold only their differences, then a user TOML file and
//! `--set key=value` overrides on top. Every overlay is checked against the defaults' keys and
//! types, so an unknown or mistyped key is refused with the list of valid ones.
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::Value;

/// A whole run's settings; `config.toml` in a run folder is this, serialised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The preset this configuration started from.
    pub preset: String,
    /// One line saying what the preset trains.
    pub description: String,
    /// Seed of every random draw of the run (weights, batches, noise).
    pub seed: u64,
    /// Total number of generator updates.
    pub steps: u64,
    /// `auto`, `cpu`, `cuda` or `cuda:N`.
    pub device: String,
    /// `gan` (unconditional), `cgan` (the class fed to both players) or `acgan` (the
    /// discriminator also predicts the class).
    pub method: MethodKind,
    pub data: DataConfig,
    pub model: ModelConfig,
    pub objective: ObjectiveConfig,
    pub train: TrainConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// A built-in set (`ring8`, `grid25`, `gaussians8`, `gaussians25`, `swissroll`,
    /// `fashion-mnist`), a folder of MNIST-format IDX files, or a `.csv` / `.npy` file of points.
    pub source: String,
    /// Examples per discriminator batch (and noise vectors per generator batch).
    pub batch_size: i64,
    /// Side of the square images the networks see; 0 keeps the data's own size.
    pub image_size: i64,
    /// Channels the networks see (1 or 3); 0 keeps the data's own.
    pub channels: i64,
    /// Semi-supervised GAN: the size of the class-balanced labelled subset, drawn by seed (the
    /// rest of the training split is used without labels); 0 uses every label.
    pub labels: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodKind {
    Gan,
    /// Conditional GAN (Mirza & Osindero 2014): one-hot class concatenated to z and to D's input.
    Cgan,
    /// AC-GAN (Odena et al. 2017): G conditioned on the class; D predicts source and class.
    Acgan,
    /// InfoGAN (Chen et al. 2016): latent codes beside z, recovered by a Q head on D's body.
    Infogan,
    /// Semi-supervised GAN (Salimans et al. 2016, §5): D is a K-class classifier whose
    /// log-sum-exp is its real-vs-fake logit (the fake class is implicit).
    Semi,
}

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

/// How feature matching measures the gap between E f(x) and E f(G(z)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureDistance {
    /// ‖E f(x) − E f(G(z))‖², the paper's objective (Salimans et al. 2016, §3.1).
    L2,
    /// The mean over features of |E f(x) − E f(G(z))|, the authors' MNIST code.
    L1,
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
    /// InfoGAN: the number of categories of each categorical code (e.g. [10]).
    pub categorical_codes: Vec<i64>,
    /// InfoGAN: the number of continuous codes, each ~ U(−1, 1).
    pub continuous_codes: i64,
    /// DCGAN generator: width of a dense layer (norm + ReLU) between z and the first
    /// projection (InfoGAN's FC 1024); 0 leaves it out.
    pub g_fc: i64,
    /// DCGAN discriminator: width of a dense layer (norm + LeakyReLU) after the convolutions,
    /// before the read-out (InfoGAN's FC 1024); 0 leaves it out.
    pub d_fc: i64,
    /// InfoGAN: width of the Q head's hidden layer (dense + norm + LeakyReLU on D's shared body,
    /// then the codes' outputs; the paper's FC 128); 0 reads Q out beside D's logit.
    pub q_hidden: i64,
    /// Semi-supervised GAN: standard deviation of the Gaussian noise added to D's input (in
    /// [0, 1] pixel units) and to each hidden layer's output during training.
    pub d_input_noise: f64,
    pub d_hidden_noise: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Goodfellow et al.'s minimax game with the saturating generator loss log(1 − D(G(z))).
    Minimax,
    /// The same discriminator with the generator maximising log D(G(z)).
    NonSaturating,
    /// LSGAN with codings (a, b, c).
    LeastSquares,
    /// WGAN's critic difference of means.
    Wasserstein,
    /// Hinge loss (geometric GAN / SAGAN).
    Hinge,
    /// f-GAN with `divergence`.
    FGan,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DivergenceKind {
    Kl,
    ReverseKl,
    Pearson,
    Neyman,
    Hellinger,
    Js,
    Gan,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FGanGenerator {
    /// The generator maximises E_Q[g_f(V(G(z)))] (Nowozin et al.'s recommended heuristic).
    Alternative,
    /// The generator minimises the saddle objective itself, −E_Q[f*(g_f(V(G(z))))].
    Saddle,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObjectiveConfig {
    pub loss: LossKind,
    /// LSGAN target for fake samples in D's loss.
    pub lsgan_a: f64,
    /// LSGAN target for real samples in D's loss.
    pub lsgan_b: f64,
    /// LSGAN value G wants D to give its samples.
    pub lsgan_c: f64,
    pub divergence: DivergenceKind,
    pub fgan_generator: FGanGenerator,
    /// Weight λ of the gradient penalty E[(‖∇D(x̂)‖ − 1)²]; 0 turns it off.
    pub gp_weight: f64,
    /// Critic weights are clipped to [−clip, clip] after each update; 0 turns it off.
    pub clip: f64,
    /// One-sided label smoothing (Salimans et al. 2016): the discriminator's target for real
    /// data; 1 turns it off, 0.9 is the paper's. Minimax and non-saturating losses only.
    pub real_target: f64,
    /// Feature matching: the generator matches E f(x) and E f(G(z)) of this discriminator
    /// hidden layer (0-based; −1 is the last) instead of its adversarial loss.
    pub feature_matching: bool,
    pub feature_layer: i64,
    /// The distance feature matching minimises.
    pub feature_distance: FeatureDistance,
    /// Historical averaging weights: λ‖θ − mean of past θ‖² for each player; 0 turns it off.
    pub g_historical: f64,
    pub d_historical: f64,
    /// InfoGAN's weight λ of the mutual-information lower bound's categorical terms.
    pub info_weight: f64,
    /// InfoGAN's λ of the continuous codes' terms (the paper: "a smaller λ is typically used"
    /// for continuous codes).
    pub info_continuous_weight: f64,
    /// Semi-supervised GAN: weight of the unsupervised (real vs fake) loss beside the supervised
    /// one; 0 trains the discriminator as a plain classifier on the labelled subset (no GAN).
    pub unlabeled_weight: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    Adam,
    Rmsprop,
    Sgd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    Constant,
    /// Constant until `decay_start`, then linear to 0 at the last step.
    Linear,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Discriminator (critic) updates before each generator update.
    pub critic_steps: i64,
    pub optimizer: OptimizerKind,
    pub g_lr: f64,
    pub d_lr: f64,
    /// Adam's β1 (also SGD's and RMSProp's momentum when non-zero).
    pub beta1: f64,
    /// Adam's β2.
    pub beta2: f64,
    pub eps: f64,
    /// RMSProp's smoothing constant α.
    pub rmsprop_alpha: f64,
    pub lr_schedule: Schedule,
    /// Generator step at which the linear schedule starts decaying.
    pub decay_start: u64,
    /// Decay of an exponential moving average of the generator's weights, used for sampling and
    /// evaluation (for method = "semi": of the discriminator's weights, which classify); 0 turns
    /// it off.
    pub ema: f64,
    pub log_every: u64,
    pub sample_every: u64,
    pub checkpoint_every: u64,
    /// Checkpoints kept; older ones are deleted.
    pub keep_checkpoints: u64,
    /// Images in each progress grid under `samples/`.
    pub grid_samples: i64,
    /// Evaluate every this many steps, logged as `eval/...` in metrics.jsonl; 0 turns it off.
    pub eval_every: u64,
    /// Samples per evaluation during training.
    pub eval_samples: i64,
    /// Classifier file for image metrics during training; empty uses the cached one for the data.
    pub classifier: String,
    /// On CUDA, only deterministic kernels (cuDNN's deterministic algorithms, no autotuning,
    /// ATen's deterministic mode), so a seed gives the same weights to the bit on the same GPU.
    /// `false` lets libtorch pick faster nondeterministic kernels. No effect on CPU, whose
    /// kernels are deterministic; not part of the configuration's hash.
    pub deterministic: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            preset: "dcgan".into(),
            description: String::new(),
            seed: 0,
            steps: 2000,
            device: "auto".into(),
            method: MethodKind::Gan,
            data: DataConfig::default(),
            model: ModelConfig::default(),
            objective: ObjectiveConfig::default(),
            train: TrainConfig::default(),
        }
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig { source: "fashion-mnist".into(), batch_size: 64, image_size: 0, channels: 0, labels: 0 }
    }
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
            categorical_codes: vec![10],
            continuous_codes: 2,
            g_fc: 0,
            d_fc: 0,
            q_hidden: 0,
            d_input_noise: 0.3,
            d_hidden_noise: 0.5,
        }
    }
}

impl Default for ObjectiveConfig {
    fn default() -> Self {
        ObjectiveConfig {
            loss: LossKind::NonSaturating,
            lsgan_a: 0.0,
            lsgan_b: 1.0,
            lsgan_c: 1.0,
            divergence: DivergenceKind::Js,
            fgan_generator: FGanGenerator::Alternative,
            gp_weight: 0.0,
            clip: 0.0,
            real_target: 1.0,
            feature_matching: false,
            feature_layer: -1,
            feature_distance: FeatureDistance::L2,
            g_historical: 0.0,
            d_historical: 0.0,
            info_weight: 1.0,
            info_continuous_weight: 1.0,
            unlabeled_weight: 1.0,
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            critic_steps: 1,
            optimizer: OptimizerKind::Adam,
            g_lr: 2e-4,
            d_lr: 2e-4,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
            rmsprop_alpha: 0.99,
            lr_schedule: Schedule::Constant,
            decay_start: 0,
            ema: 0.0,
            log_every: 50,
            sample_every: 500,
            checkpoint_every: 1000,
            keep_checkpoints: 3,
            deterministic: true,
            grid_samples: 64,
            eval_every: 0,
            eval_samples: 1000,
            classifier: String::new(),
        }
    }
}

/// A preset: its name and its TOML (differences from the defaults only).
pub struct Preset {
    pub name: &'static str,
    pub toml: &'static str,
}

macro_rules! presets {
    ($($name:literal),* $(,)?) => {
        &[$(Preset { name: $name, toml: include_str!(concat!("presets/", $name, ".toml")) }),*]
    };
}

/// Every preset shipped in the binary.
pub const PRESETS: &[Preset] = presets![
    "dcgan",
    "gan",
    "gan-minimax",
    "lsgan",
    "wgan",
    "wgan-gp",
    "hinge",
    "improved-gan",
    "cgan",
    "acgan",
    "infogan",
    "improved-gan-semi",
    "fgan-kl",
    "fgan-reverse-kl",
    "fgan-pearson",
    "fgan-neyman",
    "fgan-hellinger",
    "fgan-js",
    "fgan-gan",
    "toy-gan",
    "toy-wgan-gp",
    "fgan-estimate",
];

pub fn preset(name: &str) -> Result<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name).ok_or_else(|| {
        let names: Vec<_> = PRESETS.iter().map(|p| p.name).collect();
        Error::Config(format!("unknown preset `{name}`; the presets are: {} (see `gantry presets`)", names.join(", ")))
    })
}

/// The one-line description of a preset.
pub fn preset_description(p: &Preset) -> String {
    let v: Value = toml::from_str(p.toml).expect("embedded preset parses");
    v.get("description").and_then(Value::as_str).unwrap_or("").to_string()
}

/// Overlays `over` onto `base`, refusing keys that `base` lacks and values whose type differs.
/// `origin` names where the overlay came from, for the message.
fn overlay(base: &mut Value, over: &Value, origin: &str, prefix: &str) -> Result<()> {
    let (Value::Table(bt), Value::Table(ot)) = (&mut *base, over) else {
        unreachable!("overlay is only called on tables")
    };
    for (key, val) in ot {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let Some(slot) = bt.get_mut(key) else {
            let mut valid: Vec<_> = bt.keys().cloned().collect();
            valid.sort();
            return Err(Error::Config(format!(
                "unknown key `{path}` in {origin}; valid keys{}: {}",
                if prefix.is_empty() { String::new() } else { format!(" in [{prefix}]") },
                valid.join(", ")
            )));
        };
        match (&mut *slot, val) {
            (Value::Table(_), Value::Table(_)) => overlay(slot, val, origin, &path)?,
            (Value::Float(_), Value::Integer(i)) => *slot = Value::Float(*i as f64),
            (Value::Array(_), Value::Array(items)) => {
                let elem_float = slot.as_array().and_then(|a| a.first()).is_some_and(Value::is_float);
                let items = items
                    .iter()
                    .map(|v| match v {
                        Value::Integer(i) if elem_float => Value::Float(*i as f64),
                        other => other.clone(),
                    })
                    .collect();
                *slot = Value::Array(items);
            }
            (s, v) if s.type_str() == v.type_str() => *s = v.clone(),
            (s, v) => {
                return Err(Error::Config(format!(
                    "`{path}` in {origin} must be a {}, not a {} ({v})",
                    s.type_str(),
                    v.type_str()
                )));
            }
        }
    }
    Ok(())
}

/// Parses `key=value`; a value that is not TOML (an unquoted word) is taken as a string.
fn parse_set(kv: &str) -> Result<Value> {
    let (key, raw) = kv
        .split_once('=')
        .ok_or_else(|| Error::Config(format!("--set `{kv}` must have the form key=value, e.g. train.g_lr=1e-4")))?;
    let key = key.trim();
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => Value::String(raw.to_string()),
    };
    let mut v = value;
    for part in key.rsplit('.') {
        if part.is_empty() {
            return Err(Error::Config(format!("--set `{kv}`: empty key segment")));
        }
        let mut t = toml::Table::new();
        t.insert(part.to_string(), v);
        v = Value::Table(t);
    }
    Ok(v)
}

/// Where a configuration comes from: preset, then file, then `--set` pairs, in that order.
#[derive(Default, Clone, Debug)]
pub struct Sources {
    pub preset: Option<String>,
    pub file: Option<std::path::PathBuf>,
    pub sets: Vec<String>,
}

impl Config {
    /// Resolves a configuration from its sources and checks it.
    pub fn resolve(src: &Sources) -> Result<Config> {
        let name = src.preset.as_deref().unwrap_or("dcgan");
        let mut v = Value::try_from(Config::default()).expect("defaults serialise");
        let p = preset(name)?;
        let pv: Value = toml::from_str(p.toml).expect("embedded preset parses");
        overlay(&mut v, &pv, &format!("preset `{name}`"), "")?;
        if let Some(path) = &src.file {
            let text = std::fs::read_to_string(path).map_err(crate::error::io_err(path))?;
            let fv: Value = toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
            overlay(&mut v, &fv, &path.display().to_string(), "")?;
        }
        for kv in &src.sets {
            overlay(&mut v, &parse_set(kv)?, &format!("--set {kv}"), "")?;
        }
        v.as_table_mut().expect("table").insert("preset".into(), Value::String(name.into()));
        Config::from_value(v)
    }

    fn from_value(v: Value) -> Result<Config> {
        let text = toml::to_string(&v).expect("value serialises");
        let cfg: Config = toml::from_str(&text).map_err(|e| Error::Config(e.to_string()))?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Reads a run's `config.toml`.
    pub fn load(path: &std::path::Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(crate::error::io_err(path))?;
        let v: Value = toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let mut base = Value::try_from(Config::default()).expect("defaults serialise");
        overlay(&mut base, &v, &path.display().to_string(), "")?;
        Config::from_value(base)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serialises")
    }

    /// Checks values that the types alone do not.
    pub fn check(&self) -> Result<()> {
        let bad = |key: &str, why: &str| Err(Error::Config(format!("`{key}` {why}")));
        let t = &self.train;
        if self.data.batch_size < 1 {
            return bad("data.batch_size", "must be at least 1");
        }
        if ![0, 1, 3].contains(&self.data.channels) {
            return bad("data.channels", "must be 0 (the data's own), 1 or 3");
        }
        if self.data.image_size < 0 {
            return bad("data.image_size", "must be 0 (the data's own) or a positive size");
        }
        if self.model.latent_dim < 1 {
            return bad("model.latent_dim", "must be at least 1");
        }
        if self.model.g_hidden.iter().chain(&self.model.d_hidden).any(|&w| w < 1) {
            return bad("model.g_hidden / model.d_hidden", "widths must be at least 1");
        }
        if self.model.maxout_pieces < 1 {
            return bad("model.maxout_pieces", "must be at least 1");
        }
        if self.model.base_channels < 1 {
            return bad("model.base_channels", "must be at least 1");
        }
        if t.critic_steps < 1 {
            return bad("train.critic_steps", "must be at least 1");
        }
        if t.g_lr < 0.0 || t.d_lr < 0.0 {
            return bad("train.g_lr / train.d_lr", "must not be negative");
        }
        if !(0.0..1.0).contains(&t.beta1) || !(0.0..1.0).contains(&t.beta2) {
            return bad("train.beta1 / train.beta2", "must lie in [0, 1)");
        }
        if !(0.0..1.0).contains(&t.ema) {
            return bad("train.ema", "must lie in [0, 1) (0 turns the average off)");
        }
        if t.log_every == 0 {
            return bad("train.log_every", "must be at least 1");
        }
        if t.keep_checkpoints == 0 {
            return bad("train.keep_checkpoints", "must be at least 1");
        }
        if t.eval_every > 0 && t.eval_samples < crate::metrics::suite::MIN_SAMPLES {
            return bad("train.eval_samples", &format!("must be at least {}", crate::metrics::suite::MIN_SAMPLES));
        }
        if t.grid_samples < 1 {
            return bad("train.grid_samples", "must be at least 1");
        }
        if self.objective.gp_weight < 0.0 || self.objective.clip < 0.0 {
            return bad("objective.gp_weight / objective.clip", "must not be negative");
        }
        if self.objective.gp_weight > 0.0 && self.model.d_norm == Norm::Batch {
            return bad(
                "model.d_norm",
                "cannot be `batch` with a gradient penalty (batch norm mixes the samples whose gradients are penalised); use `layer` or `none`",
            );
        }
        let o = &self.objective;
        if o.real_target != 1.0 && !matches!(o.loss, LossKind::Minimax | LossKind::NonSaturating) {
            return bad(
                "objective.real_target",
                "(one-sided label smoothing) applies to the cross-entropy losses `minimax` and `non_saturating` only; the other losses have no probability target to smooth",
            );
        }
        if !(0.0..=1.0).contains(&o.real_target) || o.real_target == 0.0 {
            return bad("objective.real_target", "must lie in (0, 1]");
        }
        if o.g_historical < 0.0 || o.d_historical < 0.0 {
            return bad("objective.g_historical / objective.d_historical", "must not be negative");
        }
        if self.data.labels < 0 {
            return bad("data.labels", "must not be negative (0 uses every label)");
        }
        if self.data.labels > 0 && self.method != MethodKind::Semi {
            return bad(
                "data.labels",
                "(--labels) picks the labelled subset of the semi-supervised GAN; set method = \"semi\" (preset improved-gan-semi) or leave it 0",
            );
        }
        if self.method == MethodKind::Semi {
            if self.model.arch != Arch::Mlp {
                return bad(
                    "model.arch",
                    "must be `mlp` for method = \"semi\": its discriminator is the paper's permutation-invariant dense classifier",
                );
            }
            let m = &self.model;
            if m.g_activation != Activation::Softplus
                || m.d_activation != Activation::Relu
                || m.g_norm != Norm::Batch
                || m.d_norm != Norm::None
            {
                return bad(
                    "model",
                    "method = \"semi\" builds the paper's networks (G: batch norm + softplus; D: weight norm + ReLU + Gaussian noise); of `model`, only latent_dim, g_hidden, d_hidden, d_input_noise and d_hidden_noise apply",
                );
            }
            if o.loss != LossKind::NonSaturating || o.gp_weight > 0.0 || o.clip > 0.0 || o.real_target != 1.0 {
                return bad(
                    "objective",
                    "method = \"semi\" has its own K+1-class loss; leave objective.loss, gp_weight, clip and real_target at their defaults",
                );
            }
            if self.model.minibatch_kernels > 0 || o.g_historical > 0.0 || o.d_historical > 0.0 {
                return bad(
                    "method",
                    "\"semi\" does not combine with minibatch discrimination or historical averaging in this version",
                );
            }
            if self.model.d_input_noise < 0.0 || self.model.d_hidden_noise < 0.0 || o.unlabeled_weight < 0.0 {
                return bad(
                    "model.d_input_noise / model.d_hidden_noise / objective.unlabeled_weight",
                    "must not be negative",
                );
            }
        }
        if self.method != MethodKind::Gan && self.method != MethodKind::Semi {
            if o.gp_weight > 0.0 || o.feature_matching || self.model.generator == GeneratorKind::Gaussian {
                return bad(
                    "method",
                    "`cgan`, `acgan` and `infogan` do not combine with a gradient penalty, feature matching or a fixed generator in this version; use method = \"gan\" for those",
                );
            }
            if matches!(self.method, MethodKind::Acgan | MethodKind::Infogan) && self.model.minibatch_kernels > 0 {
                return bad("model.minibatch_kernels", "is not available with `acgan` or `infogan`");
            }
            if self.method == MethodKind::Infogan
                && (self.model.categorical_codes.iter().any(|&k| k < 2)
                    || self.model.continuous_codes < 0
                    || (self.model.categorical_codes.is_empty() && self.model.continuous_codes == 0))
            {
                return bad(
                    "model.categorical_codes / model.continuous_codes",
                    "InfoGAN needs at least one code; each categorical code has at least 2 categories",
                );
            }
        }
        if self.model.d_norm == Norm::Virtual {
            return bad(
                "model.d_norm",
                "cannot be `virtual`: virtual batch normalisation is for generators (model.g_norm)",
            );
        }
        if o.info_weight < 0.0 || o.info_continuous_weight < 0.0 {
            return bad("objective.info_weight / objective.info_continuous_weight", "must be ≥ 0");
        }
        if self.model.g_fc < 0 || self.model.d_fc < 0 || self.model.q_hidden < 0 {
            return bad("model.g_fc / model.d_fc / model.q_hidden", "must be ≥ 0 (0 leaves the layer out)");
        }
        if (self.model.g_fc > 0 || self.model.d_fc > 0 || self.model.q_hidden > 0) && self.model.arch != Arch::Dcgan {
            return bad(
                "model.g_fc / model.d_fc / model.q_hidden",
                "are layers of the DCGAN networks; set model.arch = \"dcgan\" or leave them 0 (the MLP's widths are model.g_hidden / model.d_hidden)",
            );
        }
        if self.model.q_hidden > 0 && self.method != MethodKind::Infogan {
            return bad("model.q_hidden", "is InfoGAN's Q head; set method = \"infogan\" or leave it 0");
        }
        if !(0.0..1.0).contains(&self.model.leaky_slope) {
            return bad("model.leaky_slope", "must be in [0, 1)");
        }
        if self.model.minibatch_kernels < 0 || self.model.minibatch_dims < 1 {
            return bad("model.minibatch_kernels / model.minibatch_dims", "must be ≥ 0 and ≥ 1");
        }
        if self.model.minibatch_kernels > 0 && o.gp_weight > 0.0 {
            return bad(
                "model.minibatch_kernels",
                "cannot be combined with a gradient penalty: minibatch discrimination makes each sample's critic value depend on the others",
            );
        }
        if o.feature_matching && self.model.generator == GeneratorKind::Gaussian {
            return bad("objective.feature_matching", "needs a trained generator");
        }
        if self.model.generator == GeneratorKind::Gaussian && self.model.gaussian_std <= 0.0 {
            return bad("model.gaussian_std", "must be positive");
        }
        self.device()?;
        Ok(())
    }

    /// The device named by `device`.
    pub fn device(&self) -> Result<tch::Device> {
        parse_device(&self.device)
    }

    /// Hash of everything that determines the weights; the cadence of logging, sampling and
    /// checkpointing, the step count and the device may change on resume.
    pub fn hash(&self) -> String {
        let mut c = self.clone();
        c.steps = 0;
        c.device = String::new();
        c.description = String::new();
        c.train.log_every = 0;
        c.train.sample_every = 0;
        c.train.checkpoint_every = 0;
        c.train.keep_checkpoints = 0;
        c.train.grid_samples = 0;
        c.train.eval_every = 0;
        c.train.eval_samples = 0;
        c.train.classifier = String::new();
        c.train.deterministic = true;
        let digest = Sha256::digest(c.to_toml().as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// Keys whose values differ between two configurations, for resume errors.
    pub fn differences(&self, other: &Config) -> Vec<String> {
        let a = Value::try_from(self).expect("serialises");
        let b = Value::try_from(other).expect("serialises");
        let mut out = vec![];
        diff_values(&a, &b, "", &mut out);
        out
    }
}

fn diff_values(a: &Value, b: &Value, prefix: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Table(ta), Value::Table(tb)) => {
            for (k, va) in ta {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                match tb.get(k) {
                    Some(vb) => diff_values(va, vb, &path, out),
                    None => out.push(path),
                }
            }
        }
        _ if a != b => out.push(format!("{prefix} ({a} vs {b})")),
        _ => {}
    }
}

/// Parses `auto`, `cpu`, `cuda` or `cuda:N`.
pub fn parse_device(s: &str) -> Result<tch::Device> {
    let cuda_n = |n: usize| {
        if tch::Cuda::is_available() && n < tch::Cuda::device_count() as usize {
            Ok(tch::Device::Cuda(n))
        } else {
            Err(Error::Config(format!(
                "device `{s}` is not available here ({} CUDA devices); use `cpu` or `auto`",
                if tch::Cuda::is_available() { tch::Cuda::device_count() } else { 0 }
            )))
        }
    };
    match s {
        "auto" => Ok(tch::Device::cuda_if_available()),
        "cpu" => Ok(tch::Device::Cpu),
        "cuda" => cuda_n(0),
        _ => match s.strip_prefix("cuda:").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => cuda_n(n),
            None => Err(Error::Config(format!("device `{s}` is not one of auto, cpu, cuda, cuda:N"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(preset: &str, sets: &[&str]) -> Sources {
        Sources { preset: Some(preset.into()), file: None, sets: sets.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn every_preset_resolves() {
        for p in PRESETS {
            let cfg = Config::resolve(&sources(p.name, &[])).unwrap();
            assert_eq!(cfg.preset, p.name);
            assert!(!cfg.description.is_empty(), "{} lacks a description", p.name);
        }
    }

    #[test]
    fn set_overrides_and_int_to_float() {
        let cfg = Config::resolve(&sources("dcgan", &["train.g_lr=1", "data.source=ring8"])).unwrap();
        assert_eq!(cfg.train.g_lr, 1.0);
        assert_eq!(cfg.data.source, "ring8");
    }

    #[test]
    fn unknown_key_lists_valid_ones() {
        let e = Config::resolve(&sources("dcgan", &["train.lr=1"])).unwrap_err().to_string();
        assert!(e.contains("unknown key `train.lr`"), "{e}");
        assert!(e.contains("g_lr"), "{e}");
    }

    #[test]
    fn wrong_type_is_named() {
        let e = Config::resolve(&sources("dcgan", &["train.critic_steps=\"five\""])).unwrap_err();
        assert!(e.to_string().contains("train.critic_steps"), "{e}");
    }

    #[test]
    fn unknown_variant_is_refused() {
        let e = Config::resolve(&sources("dcgan", &["objective.loss=bogus"])).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }

    #[test]
    fn hash_ignores_cadence_only() {
        let a = Config::resolve(&sources("dcgan", &[])).unwrap();
        let b = Config::resolve(&sources("dcgan", &["steps=7", "train.log_every=3"])).unwrap();
        let c = Config::resolve(&sources("dcgan", &["train.g_lr=0.1"])).unwrap();
        // CUDA's deterministic kernels give the same updates up to rounding: a run may resume
        // with the other setting
        let d = Config::resolve(&sources("dcgan", &["train.deterministic=false"])).unwrap();
        assert!(a.train.deterministic && !d.train.deterministic);
        assert_eq!(a.hash(), d.hash());
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
        assert_eq!(a.differences(&c).len(), 1);
    }
}
