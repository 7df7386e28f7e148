//! Adversarial losses as pure functions of the discriminator's raw outputs (logits, critic
//! values). `d_loss` is minimised by the discriminator, `g_loss` by the generator; `estimate`
//! is the quantity the critic's objective estimates, where it has a meaning (the Wasserstein
//! distance, the f-divergence).
//!
//! With v = D(x) on real data and u = D(G(z)) on generated data:
//! - minimax (Goodfellow et al. 2014, eq. 1): D max E log σ(v) + E log(1 − σ(u)); G min E log(1 − σ(u))
//! - non-saturating (same paper, §3): G max E log σ(u)
//! - least squares (Mao et al. 2017, eq. 2): D min ½E(v − b)² + ½E(u − a)²; G min ½E(u − c)²
//! - Wasserstein (Arjovsky et al. 2017): D max E v − E u; G max E u
//! - hinge: D min E relu(1 − v) + E relu(1 + u); G max E u
//! - f-GAN (Nowozin et al. 2016, eq. 6): D max E g_f(v) − E f*(g_f(u)); G max E g_f(u) or min −E f*(g_f(u))
use super::fdiv;
use super::{FGanGenerator, LossKind, ObjectiveConfig};
use tch::Tensor;

#[derive(Clone, Debug, PartialEq)]
pub enum Adversarial {
    Minimax,
    NonSaturating,
    LeastSquares { a: f64, b: f64, c: f64 },
    Wasserstein,
    Hinge,
    FGan { divergence: super::DivergenceKind, generator: FGanGenerator },
}

/// The target of `Adversarial::target_loss`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The discriminator on real data.
    Real,
    /// The discriminator on generated data.
    Fake,
    /// The generator on its own samples.
    Generator,
}

/// A critic's outputs in fp32 when a bf16 (or fp16) step produced them, so that losses and
/// their means are computed and logged in fp32 (`train.precision`); others as they are.
fn wide(x: &Tensor) -> Tensor {
    if matches!(x.kind(), tch::Kind::BFloat16 | tch::Kind::Half) {
        x.to_kind(tch::Kind::Float)
    } else {
        x.shallow_clone()
    }
}

impl Adversarial {
    pub fn from_config(cfg: &ObjectiveConfig) -> Adversarial {
        match cfg.loss {
            LossKind::Minimax => Adversarial::Minimax,
            LossKind::NonSaturating => Adversarial::NonSaturating,
            LossKind::LeastSquares => Adversarial::LeastSquares { a: cfg.lsgan_a, b: cfg.lsgan_b, c: cfg.lsgan_c },
            LossKind::Wasserstein => Adversarial::Wasserstein,
            LossKind::Hinge => Adversarial::Hinge,
            LossKind::FGan => Adversarial::FGan { divergence: cfg.divergence, generator: cfg.fgan_generator },
        }
    }

    /// The discriminator's loss on outputs for real (`v`) and generated (`u`) batches.
    pub fn d_loss(&self, v: &Tensor, u: &Tensor) -> Tensor {
        let (v, u) = (&wide(v), &wide(u));
        match self {
            // −log σ(v) = softplus(−v); −log(1 − σ(u)) = softplus(u)
            Adversarial::Minimax | Adversarial::NonSaturating => (-v).softplus().mean(None) + u.softplus().mean(None),
            Adversarial::LeastSquares { a, b, .. } => {
                ((v - *b).square().mean(None) + (u - *a).square().mean(None)) * 0.5
            }
            Adversarial::Wasserstein => u.mean(None) - v.mean(None),
            Adversarial::Hinge => (-v + 1.0).relu().mean(None) + (u + 1.0).relu().mean(None),
            Adversarial::FGan { .. } => -self.estimate(v, u).expect("f-GAN has an estimate"),
        }
    }

    /// `d_loss` with one-sided label smoothing (Salimans et al. 2016, §3.4): the real target of
    /// the cross-entropy losses becomes α, −α log σ(v) − (1 − α) log(1 − σ(v)); fake targets
    /// stay 0. α = 1 is `d_loss`; other losses ignore α (configuration refuses the combination).
    pub fn d_loss_smoothed(&self, v: &Tensor, u: &Tensor, alpha: f64) -> Tensor {
        let (v, u) = (&wide(v), &wide(u));
        match self {
            Adversarial::Minimax | Adversarial::NonSaturating if alpha != 1.0 => {
                ((-v).softplus() * alpha + v.softplus() * (1.0 - alpha)).mean(None) + u.softplus().mean(None)
            }
            _ => self.d_loss(v, u),
        }
    }

    /// The generator's loss on the discriminator's outputs `u` for generated samples.
    pub fn g_loss(&self, u: &Tensor) -> Tensor {
        let u = &wide(u);
        match self {
            // log(1 − σ(u)) = −softplus(u)
            Adversarial::Minimax => -u.softplus().mean(None),
            Adversarial::NonSaturating => (-u).softplus().mean(None),
            Adversarial::LeastSquares { c, .. } => (u - *c).square().mean(None) * 0.5,
            Adversarial::Wasserstein | Adversarial::Hinge => -u.mean(None),
            Adversarial::FGan { divergence, generator: FGanGenerator::Alternative } => {
                -fdiv::activation(*divergence, u).mean(None)
            }
            Adversarial::FGan { divergence, generator: FGanGenerator::Saddle } => {
                -fdiv::conjugate_of_activation(*divergence, u).mean(None)
            }
        }
    }

    /// The loss of outputs `x` against one target, as the CycleGAN reference's `GANLoss(x,
    /// target)`: two-player objectives written per side, so a method can weigh and sum them its
    /// own way (CycleGAN's D minimises ½[ℓ(D(real), Real) + ℓ(D(fake), Fake)] and its G
    /// ℓ(D(G(x)), Generator)). Least squares: mean (x − t)² with t = b, a, c; cross-entropy:
    /// −log σ(x) for Real and Generator, −log(1 − σ(x)) for Fake (the minimax generator's
    /// saturating loss for Generator); hinge: mean relu(1 ∓ x), the generator −mean x;
    /// Wasserstein: ∓mean x; f-GAN: −mean g_f(x), mean f*(g_f(x)), and the generator's own.
    pub fn target_loss(&self, x: &Tensor, target: Target) -> Tensor {
        let x = &wide(x);
        match (self, target) {
            (Adversarial::LeastSquares { b, .. }, Target::Real) => (x - *b).square().mean(None),
            (Adversarial::LeastSquares { a, .. }, Target::Fake) => (x - *a).square().mean(None),
            (Adversarial::LeastSquares { c, .. }, Target::Generator) => (x - *c).square().mean(None),
            (Adversarial::Minimax | Adversarial::NonSaturating, Target::Real) => (-x).softplus().mean(None),
            (Adversarial::Minimax | Adversarial::NonSaturating, Target::Fake) => x.softplus().mean(None),
            (Adversarial::Hinge, Target::Real) => (-x + 1.0).relu().mean(None),
            (Adversarial::Hinge, Target::Fake) => (x + 1.0).relu().mean(None),
            (Adversarial::Wasserstein, Target::Real) => -x.mean(None),
            (Adversarial::Wasserstein, Target::Fake) => x.mean(None),
            (Adversarial::FGan { divergence, .. }, Target::Real) => -fdiv::activation(*divergence, x).mean(None),
            (Adversarial::FGan { divergence, .. }, Target::Fake) => {
                fdiv::conjugate_of_activation(*divergence, x).mean(None)
            }
            (_, Target::Generator) => self.g_loss(x),
        }
    }

    /// The estimate the critic's objective makes: E v − E u for the Wasserstein critic (the
    /// Kantorovich–Rubinstein dual), E g_f(v) − E f*(g_f(u)) for f-GAN (a lower bound on
    /// D_f(P‖Q), tight at the optimal critic).
    pub fn estimate(&self, v: &Tensor, u: &Tensor) -> Option<Tensor> {
        let (v, u) = (&wide(v), &wide(u));
        match self {
            Adversarial::Wasserstein => Some(v.mean(None) - u.mean(None)),
            Adversarial::FGan { divergence, .. } => Some(
                fdiv::activation(*divergence, v).mean(None) - fdiv::conjugate_of_activation(*divergence, u).mean(None),
            ),
            _ => None,
        }
    }

    /// Metric key for `estimate`.
    pub fn estimate_key(&self) -> Option<&'static str> {
        match self {
            Adversarial::Wasserstein => Some("d/wasserstein"),
            Adversarial::FGan { .. } => Some("d/divergence"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objective::DivergenceKind;
    use tch::Kind;

    fn t(v: &[f64]) -> Tensor {
        Tensor::from_slice(v).to_kind(Kind::Double)
    }
    fn val(x: Tensor) -> f64 {
        x.double_value(&[])
    }
    fn sp(x: f64) -> f64 {
        (1.0 + x.exp()).ln()
    }

    // Real outputs v = [1, −2], fake outputs u = [0.5, −1]; every expected value below is the
    // formula in the module header evaluated by hand (sp = softplus).
    #[test]
    fn gan_losses_by_hand() {
        let (v, u) = (t(&[1.0, -2.0]), t(&[0.5, -1.0]));
        let d = (sp(-1.0) + sp(2.0)) / 2.0 + (sp(0.5) + sp(-1.0)) / 2.0;
        assert!((val(Adversarial::Minimax.d_loss(&v, &u)) - d).abs() < 1e-12);
        assert!((val(Adversarial::Minimax.g_loss(&u)) + (sp(0.5) + sp(-1.0)) / 2.0).abs() < 1e-12);
        assert!((val(Adversarial::NonSaturating.g_loss(&u)) - (sp(-0.5) + sp(1.0)) / 2.0).abs() < 1e-12);
        // BCE-with-logits identity: −log σ(1) = 0.31326168751822286
        assert!((sp(-1.0) - 0.31326168751822286).abs() < 1e-15);
    }

    #[test]
    fn label_smoothing_by_hand() {
        // α = 0.9: real term 0.9·sp(−v) + 0.1·sp(v), fake term unchanged.
        let (v, u) = (t(&[1.0, -2.0]), t(&[0.5, -1.0]));
        let want = (0.9 * sp(-1.0) + 0.1 * sp(1.0) + 0.9 * sp(2.0) + 0.1 * sp(-2.0)) / 2.0 + (sp(0.5) + sp(-1.0)) / 2.0;
        assert!((val(Adversarial::NonSaturating.d_loss_smoothed(&v, &u, 0.9)) - want).abs() < 1e-12);
        let plain = val(Adversarial::Minimax.d_loss(&v, &u));
        assert!((val(Adversarial::Minimax.d_loss_smoothed(&v, &u, 1.0)) - plain).abs() < 1e-15);
    }

    #[test]
    fn least_squares_by_hand() {
        let (v, u) = (t(&[1.0, -2.0]), t(&[0.5, -1.0]));
        let ls = Adversarial::LeastSquares { a: -1.0, b: 1.0, c: 0.0 };
        // ½·mean((0, 9)) + ½·mean((2.25, 0)) = 2.25 + 0.5625
        assert!((val(ls.d_loss(&v, &u)) - 2.8125).abs() < 1e-12);
        // ½·mean((0.25, 1)) = 0.3125
        assert!((val(ls.g_loss(&u)) - 0.3125).abs() < 1e-12);
    }

    #[test]
    fn wasserstein_and_hinge_by_hand() {
        let (v, u) = (t(&[1.0, -2.0]), t(&[0.5, -1.0]));
        assert!((val(Adversarial::Wasserstein.d_loss(&v, &u)) - (-0.25 + 0.5)).abs() < 1e-12);
        assert!((val(Adversarial::Wasserstein.estimate(&v, &u).unwrap()) + 0.25).abs() < 1e-12);
        assert!((val(Adversarial::Wasserstein.g_loss(&u)) - 0.25).abs() < 1e-12);
        // relu(1 − v) = (0, 3) → 1.5; relu(1 + u) = (1.5, 0) → 0.75
        assert!((val(Adversarial::Hinge.d_loss(&v, &u)) - 2.25).abs() < 1e-12);
    }

    #[test]
    fn fgan_kl_by_hand() {
        let (v, u) = (t(&[1.0, -2.0]), t(&[0.5, -1.0]));
        let f = Adversarial::FGan { divergence: DivergenceKind::Kl, generator: FGanGenerator::Alternative };
        // E v − E exp(u − 1) = −0.5 − (e^{−0.5} + e^{−2})/2
        let want = -0.5 - ((-0.5f64).exp() + (-2.0f64).exp()) / 2.0;
        assert!((val(f.estimate(&v, &u).unwrap()) - want).abs() < 1e-12);
        assert!((val(f.d_loss(&v, &u)) + want).abs() < 1e-12);
        assert!((val(f.g_loss(&u)) + (-0.25)).abs() < 1e-12);
    }

    #[test]
    fn fgan_gan_matches_standard_gan_discriminator() {
        // With the GAN divergence, −F is exactly the minimax discriminator loss.
        let (v, u) = (t(&[1.0, -2.0, 0.3]), t(&[0.5, -1.0, 2.0]));
        let f = Adversarial::FGan { divergence: DivergenceKind::Gan, generator: FGanGenerator::Alternative };
        assert!((val(f.d_loss(&v, &u)) - val(Adversarial::Minimax.d_loss(&v, &u))).abs() < 1e-12);
        // and its alternative generator loss is the non-saturating one.
        assert!((val(f.g_loss(&u)) - val(Adversarial::NonSaturating.g_loss(&u))).abs() < 1e-12);
    }

    #[test]
    fn target_losses_by_hand() {
        // outputs [0, 2]: least squares with (a, b, c) = (0, 1, 1): real (1 + 1)/2 = 1, fake
        // (0 + 4)/2 = 2, generator 1 (the full mean square: CycleGAN's G, not LSGAN's half)
        let x = Tensor::from_slice(&[0.0f32, 2.0]);
        let ls = Adversarial::LeastSquares { a: 0.0, b: 1.0, c: 1.0 };
        let close = |t: Tensor, want: f64| assert!((t.double_value(&[]) - want).abs() < 1e-6, "{t} vs {want}");
        close(ls.target_loss(&x, Target::Real), 1.0);
        close(ls.target_loss(&x, Target::Fake), 2.0);
        close(ls.target_loss(&x, Target::Generator), 1.0);
        // ½(real + fake) is LSGAN's D loss
        close(ls.d_loss(&x, &x), 1.5);
        // cross-entropy: −log σ(0) = ln 2, −log σ(2) = ln(1 + e⁻²); fake: ln 2, ln(1 + e²)
        let ce = Adversarial::NonSaturating;
        close(ce.target_loss(&x, Target::Real), (2f64.ln() + (1.0 + (-2f64).exp()).ln()) / 2.0);
        close(ce.target_loss(&x, Target::Fake), (2f64.ln() + (1.0 + 2f64.exp()).ln()) / 2.0);
        close(ce.target_loss(&x, Target::Generator), (2f64.ln() + (1.0 + (-2f64).exp()).ln()) / 2.0);
        // hinge: relu(1 − x) = [1, 0], relu(1 + x) = [1, 3]
        close(Adversarial::Hinge.target_loss(&x, Target::Real), 0.5);
        close(Adversarial::Hinge.target_loss(&x, Target::Fake), 2.0);
        close(Adversarial::Wasserstein.target_loss(&x, Target::Real), -1.0);
    }
}
