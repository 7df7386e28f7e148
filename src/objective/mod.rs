//! Pure tensor functions: adversarial losses, f-divergences and critic penalties. Networks and
//! optimisers never appear here, so each function is tested against hand-computed values.
pub mod adversarial;
pub mod fdiv;
pub mod improved;
pub mod penalty;

pub use adversarial::{Adversarial, Target};
use serde::{Deserialize, Serialize};

/// The `[objective]` section: the GAN family's adversarial loss and its regularisers.
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
        }
    }
}
