//! f-divergences for f-GAN (Nowozin et al. 2016, Table 2): for each divergence the output
//! activation g_f, which maps the critic's raw output v into the domain of the convex conjugate
//! f*, and f* itself. The critic maximises F = E_P[g_f(V(x))] − E_Q[f*(g_f(V(x)))], which at its
//! optimum equals D_f(P‖Q). `conjugate_of_activation` is f*(g_f(v)) simplified by hand so that
//! it stays finite where composing the two would overflow.
use super::DivergenceKind;
use std::f64::consts::LN_2;
use tch::Tensor;

/// g_f(v).
pub fn activation(d: DivergenceKind, v: &Tensor) -> Tensor {
    match d {
        DivergenceKind::Kl | DivergenceKind::Pearson => v.shallow_clone(),
        DivergenceKind::ReverseKl => -(-v).exp(),
        DivergenceKind::Neyman | DivergenceKind::Hellinger => -(-v).exp() + 1.0,
        DivergenceKind::Js => -(-v).softplus() + LN_2,
        DivergenceKind::Gan => -(-v).softplus(),
    }
}

/// f*(t), for t in the domain g_f maps into.
pub fn conjugate(d: DivergenceKind, t: &Tensor) -> Tensor {
    match d {
        DivergenceKind::Kl => (t - 1.0).exp(),
        DivergenceKind::ReverseKl => -(-t).log() - 1.0,
        DivergenceKind::Pearson => t * t / 4.0 + t,
        DivergenceKind::Neyman => (-t + 1.0).sqrt() * -2.0 + 2.0,
        DivergenceKind::Hellinger => t / (-t + 1.0),
        DivergenceKind::Js => -(-t.exp() + 2.0).log(),
        DivergenceKind::Gan => -(-t.exp() + 1.0).log(),
    }
}

/// f*(g_f(v)) in a numerically stable closed form.
pub fn conjugate_of_activation(d: DivergenceKind, v: &Tensor) -> Tensor {
    match d {
        DivergenceKind::Kl => (v - 1.0).exp(),
        // −1 − log(exp(−v)) = v − 1
        DivergenceKind::ReverseKl => v - 1.0,
        DivergenceKind::Pearson => v * v / 4.0 + v,
        // 2 − 2·sqrt(exp(−v)) = 2 − 2·exp(−v/2)
        DivergenceKind::Neyman => (v * -0.5).exp() * -2.0 + 2.0,
        // (1 − e^{−v}) / e^{−v} = e^{v} − 1
        DivergenceKind::Hellinger => v.exp() - 1.0,
        // exp(g) = 2σ(v), so −log(2 − 2σ(v)) = −log 2 + softplus(v)
        DivergenceKind::Js => v.softplus() - LN_2,
        // exp(g) = σ(v), so −log(1 − σ(v)) = softplus(v)
        DivergenceKind::Gan => v.softplus(),
    }
}

pub const ALL: [DivergenceKind; 7] = [
    DivergenceKind::Kl,
    DivergenceKind::ReverseKl,
    DivergenceKind::Pearson,
    DivergenceKind::Neyman,
    DivergenceKind::Hellinger,
    DivergenceKind::Js,
    DivergenceKind::Gan,
];

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn t(v: &[f64]) -> Tensor {
        Tensor::from_slice(v).to_kind(Kind::Double)
    }

    fn close(a: &Tensor, b: &[f64]) {
        let a: Vec<f64> = a.try_into().unwrap();
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn activations_by_hand() {
        // v = [0, 1]: values of Table 2's g_f computed by hand.
        let v = t(&[0.0, 1.0]);
        let e = (-1.0f64).exp();
        close(&activation(DivergenceKind::Kl, &v), &[0.0, 1.0]);
        close(&activation(DivergenceKind::ReverseKl, &v), &[-1.0, -e]);
        close(&activation(DivergenceKind::Neyman, &v), &[0.0, 1.0 - e]);
        close(&activation(DivergenceKind::Js, &v), &[LN_2 - LN_2, LN_2 - (1.0 + e).ln()]);
        close(&activation(DivergenceKind::Gan, &v), &[-LN_2, -(1.0 + e).ln()]);
    }

    #[test]
    fn conjugates_by_hand() {
        // f*(t) at hand-picked points of each domain.
        close(&conjugate(DivergenceKind::Kl, &t(&[1.0, 2.0])), &[1.0, 1f64.exp()]);
        close(&conjugate(DivergenceKind::ReverseKl, &t(&[-1.0, -2.0])), &[-1.0, -1.0 - 2f64.ln()]);
        close(&conjugate(DivergenceKind::Pearson, &t(&[2.0, -2.0])), &[3.0, -1.0]);
        close(&conjugate(DivergenceKind::Neyman, &t(&[0.0, 0.75])), &[0.0, 1.0]);
        close(&conjugate(DivergenceKind::Hellinger, &t(&[0.5, 0.0])), &[1.0, 0.0]);
        close(
            &conjugate(DivergenceKind::Js, &t(&[0.0, LN_2 - 3f64.ln() + 2f64.ln()])),
            &[0.0, -(2.0 - 4.0 / 3.0f64).ln()],
        );
        close(&conjugate(DivergenceKind::Gan, &t(&[-LN_2])), &[LN_2]);
    }

    #[test]
    fn stable_form_equals_composition() {
        let v = t(&[-3.0, -0.5, 0.0, 0.7, 2.5]);
        for d in ALL {
            let direct = conjugate(d, &activation(d, &v));
            let stable = conjugate_of_activation(d, &v);
            let a: Vec<f64> = direct.try_into().unwrap();
            let b: Vec<f64> = stable.try_into().unwrap();
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-9 * (1.0 + y.abs()), "{d:?}: {a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn conjugate_is_fenchel_dual_of_f() {
        // f*(t) = sup_u (u t − f(u)); check at t = f'(u0), where the supremum is at u0, so
        // f*(f'(u0)) = u0 f'(u0) − f(u0). f and f' from Table 2.
        type F = fn(f64) -> f64;
        let cases: [(DivergenceKind, F, F); 7] = [
            (DivergenceKind::Kl, |u| u * u.ln(), |u| u.ln() + 1.0),
            (DivergenceKind::ReverseKl, |u| -u.ln(), |u| -1.0 / u),
            (DivergenceKind::Pearson, |u| (u - 1.0).powi(2), |u| 2.0 * (u - 1.0)),
            (DivergenceKind::Neyman, |u| (1.0 - u).powi(2) / u, |u| 1.0 - 1.0 / (u * u)),
            (DivergenceKind::Hellinger, |u| (u.sqrt() - 1.0).powi(2), |u| 1.0 - 1.0 / u.sqrt()),
            (DivergenceKind::Js, |u| -(u + 1.0) * ((1.0 + u) / 2.0).ln() + u * u.ln(), |u| (2.0 * u / (1.0 + u)).ln()),
            (DivergenceKind::Gan, |u| u * u.ln() - (u + 1.0) * (u + 1.0).ln(), |u| (u / (u + 1.0)).ln()),
        ];
        for (d, f, df) in cases {
            for u0 in [0.5, 1.0, 2.0, 3.0] {
                let tval = df(u0);
                let got = conjugate(d, &t(&[tval])).double_value(&[0]);
                let want = u0 * tval - f(u0);
                assert!((got - want).abs() < 1e-9, "{d:?} u0={u0}: {got} vs {want}");
            }
        }
    }
}
