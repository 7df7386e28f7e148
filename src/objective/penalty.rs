//! Critic regularisers: WGAN-GP's gradient penalty (Gulrajani et al. 2017, eq. 3) and WGAN's
//! weight clipping (Arjovsky et al. 2017, Algorithm 1).
use tch::{Kind, Tensor};

/// x̂ = εx + (1 − ε)G(z) with one ε ~ U[0, 1] per sample, as a leaf that requires grad.
pub fn interpolate(real: &Tensor, fake: &Tensor) -> Tensor {
    let n = real.size()[0];
    let mut eps_shape = vec![n];
    eps_shape.extend(std::iter::repeat_n(1, real.dim() - 1));
    let eps = crate::dist::draw(n, |m| {
        eps_shape[0] = m;
        Tensor::rand(eps_shape.as_slice(), (Kind::Float, real.device()))
    });
    (&eps * real + (-&eps + 1.0) * fake).detach().set_requires_grad(true)
}

/// λ-free gradient penalty E[(‖∇_x̂ D(x̂)‖₂ − 1)²] from the critic's outputs `out` at `x_hat`.
/// The gradient is taken with `create_graph`, so the penalty's own gradient with respect to the
/// critic's weights (a gradient of a gradient) is exact.
pub fn gradient_penalty_at(out: &Tensor, x_hat: &Tensor) -> Tensor {
    let grad = Tensor::run_backward(&[out.sum(Kind::Float)], &[x_hat], true, true).pop().expect("one gradient");
    let norm = grad.flatten(1, -1).norm_scalaropt_dim(2, [1], false);
    (norm - 1.0).square().mean(None)
}

/// The gradient penalty of `critic` at interpolates of `real` and `fake` (see `interpolate`).
pub fn gradient_penalty(critic: impl Fn(&Tensor) -> Tensor, real: &Tensor, fake: &Tensor) -> Tensor {
    let x_hat = interpolate(real, fake);
    gradient_penalty_at(&critic(&x_hat), &x_hat)
}

/// Clamps every variable to [−c, c] in place.
pub fn clip_weights(vars: &[Tensor], c: f64) {
    tch::no_grad(|| {
        for v in vars {
            let _ = v.shallow_clone().clamp_(-c, c);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalty_matches_closed_form_for_linear_critic() {
        // D(x) = w·x has gradient w everywhere: penalty = (‖w‖ − 1)² = (5 − 1)² = 16.
        let w = Tensor::from_slice(&[3.0f32, 4.0]);
        let real = Tensor::randn([8, 2], (Kind::Float, tch::Device::Cpu));
        let fake = Tensor::randn([8, 2], (Kind::Float, tch::Device::Cpu));
        let gp = gradient_penalty(|x| x.matmul(&w), &real, &fake);
        assert!((gp.double_value(&[]) - 16.0).abs() < 1e-4);
    }

    #[test]
    fn penalty_gradient_matches_finite_differences() {
        // Critic D(x) = tanh(x·w)·a; the penalty's gradient in w (a second derivative of D) is
        // compared with central differences of the penalty itself, in double precision, with
        // x̂ fixed by fixed mixing weights (not by reseeding libtorch's global generator, which
        // tests running beside this one draw from).
        let real = Tensor::from_slice(&[0.3f64, -1.2, 0.8, 0.5, -0.4, 1.1]).view([3, 2]);
        let fake = Tensor::from_slice(&[-0.7f64, 0.2, 1.5, -0.3, 0.9, 0.1]).view([3, 2]);
        let a = 1.7;
        let pen = |w: &Tensor| {
            let eps = Tensor::from_slice(&[0.25f64, 0.6, 0.85]).view([3, 1]);
            let x_hat = (&eps * &real + (-&eps + 1.0) * &fake).set_requires_grad(true);
            let out = (x_hat.matmul(w)).tanh() * a;
            let g = Tensor::run_backward(&[out.sum(Kind::Double)], &[&x_hat], true, true).pop().unwrap();
            (g.flatten(1, -1).norm_scalaropt_dim(2, [1], false) - 1.0).square().mean(None)
        };
        let w = Tensor::from_slice(&[0.6f64, -0.9]).set_requires_grad(true);
        let analytic = Tensor::run_backward(&[pen(&w)], &[&w], false, false).pop().unwrap();
        let h = 1e-6;
        for i in 0..2 {
            let mut dw = vec![0.0f64; 2];
            dw[i] = h;
            let d = Tensor::from_slice(&dw);
            let wp = (w.detach() + &d).set_requires_grad(true);
            let wm = (w.detach() - &d).set_requires_grad(true);
            let numeric = (pen(&wp).double_value(&[]) - pen(&wm).double_value(&[])) / (2.0 * h);
            let got = analytic.double_value(&[i as i64]);
            assert!((got - numeric).abs() < 1e-6 * (1.0 + numeric.abs()), "{i}: {got} vs {numeric}");
        }
    }

    #[test]
    fn clipping_bounds_weights() {
        let w = Tensor::from_slice(&[0.5f32, -0.2, 0.003]).set_requires_grad(true);
        clip_weights(&[w.shallow_clone()], 0.01);
        let v: Vec<f32> = w.detach().try_into().unwrap();
        assert_eq!(v, vec![0.01, -0.01, 0.003]);
    }
}
