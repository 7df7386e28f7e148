//! Sample-set metrics on feature vectors, all computed in double precision:
//! - Fréchet distance (Heusel et al. 2017): ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁Σ₂)^½, with the
//!   trace of the square root taken from the eigenvalues of the symmetric Σ₁^½ Σ₂ Σ₁^½, which
//!   has the same spectrum as Σ₁Σ₂ and avoids the complex round-off of a general sqrtm;
//! - KID (Bińkowski et al. 2018): unbiased MMD² with k(x, y) = (x·y / d + 1)³, mean and standard
//!   deviation over random subsets;
//! - classifier / Inception score (Salimans et al. 2016): exp E KL(p(y|x) ‖ p(y)), over splits;
//! - precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al. 2020)
//!   from k-nearest-neighbour balls (strict inequalities, as the authors' prdc package);
//! - the class histogram of samples and its KL divergence to uniform.
use crate::rng;
use tch::{Device, Kind, Tensor};

/// Fewest samples (and reference images) the feature metrics accept.
pub const MIN_SAMPLES: i64 = 10;

/// Mean `[d]` and covariance `[d, d]` (unbiased, as numpy.cov) of features `[n, d]`.
pub fn moments(x: &Tensor) -> (Tensor, Tensor) {
    let x = x.to_kind(Kind::Double);
    let n = x.size()[0];
    let mu = x.mean_dim(0, false, Kind::Double);
    let c = &x - &mu;
    let cov = c.tr().matmul(&c) / (n - 1) as f64;
    (mu, cov)
}

/// Symmetric positive semi-definite square root by eigendecomposition (negative round-off
/// eigenvalues clamped to zero).
fn sqrt_psd(a: &Tensor) -> Tensor {
    let (vals, vecs) = a.linalg_eigh("L");
    let s = vals.clamp_min(0.0).sqrt();
    (&vecs * s.unsqueeze(0)).matmul(&vecs.tr())
}

/// The Fréchet distance between N(μ₁, Σ₁) and N(μ₂, Σ₂).
pub fn frechet(mu1: &Tensor, s1: &Tensor, mu2: &Tensor, s2: &Tensor) -> f64 {
    let r1 = sqrt_psd(s1);
    let m = r1.matmul(s2).matmul(&r1);
    let m = (&m + m.tr()) * 0.5; // symmetric up to round-off; make it exactly so
    let tr_sqrt = m.linalg_eigvalsh("L").clamp_min(0.0).sqrt().sum(Kind::Double);
    let d = mu1 - mu2;
    (d.dot(&d) + s1.trace() + s2.trace() - tr_sqrt * 2.0).double_value(&[])
}

/// Fréchet distance between two feature sets.
pub fn frechet_of(a: &Tensor, b: &Tensor) -> f64 {
    let (m1, s1) = moments(a);
    let (m2, s2) = moments(b);
    frechet(&m1, &s1, &m2, &s2)
}

/// KID: unbiased MMD² with the cubic polynomial kernel, averaged over `subsets` random subsets
/// of `subset_size` from each set (drawn with `seed`); returns (mean, standard deviation).
pub fn kid(a: &Tensor, b: &Tensor, subsets: usize, subset_size: i64, seed: u64) -> (f64, f64) {
    let a = a.to_kind(Kind::Double);
    let b = b.to_kind(Kind::Double);
    let m = subset_size.min(a.size()[0]).min(b.size()[0]);
    let d = a.size()[1] as f64;
    let mut vals = Vec::with_capacity(subsets);
    for s in 0..subsets {
        let pick = |x: &Tensor, stream: u64| {
            let n = x.size()[0] as usize;
            let perm = rng::permutation(n, rng::derive(seed, stream, s as u64));
            x.index_select(0, &Tensor::from_slice(&perm[..m as usize]).to(x.device()))
        };
        let (x, y) = (pick(&a, 1), pick(&b, 2));
        let k = |p: &Tensor, q: &Tensor| (p.matmul(&q.tr()) / d + 1.0).pow_tensor_scalar(3);
        let (kxx, kyy, kxy) = (k(&x, &x), k(&y, &y), k(&x, &y));
        let mf = m as f64;
        let off = |t: &Tensor| (t.sum(Kind::Double) - t.diagonal(0, 0, 1).sum(Kind::Double)).double_value(&[]);
        let mmd = off(&kxx) / (mf * (mf - 1.0)) + off(&kyy) / (mf * (mf - 1.0))
            - 2.0 * kxy.sum(Kind::Double).double_value(&[]) / (mf * mf);
        vals.push(mmd);
    }
    mean_std(&vals)
}

/// Population mean and standard deviation.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// exp(E_x KL(p(y|x) ‖ p(y))) from logits `[n, k]`, mean and std over `splits` consecutive splits.
pub fn classifier_score(logits: &Tensor, splits: i64) -> (f64, f64) {
    let logp = logits.to_kind(Kind::Double).log_softmax(1, Kind::Double);
    let n = logp.size()[0];
    let splits = splits.clamp(1, n);
    let mut scores = vec![];
    for s in 0..splits {
        let (lo, hi) = (s * n / splits, (s + 1) * n / splits);
        let part = logp.narrow(0, lo, hi - lo);
        let p = part.exp();
        let log_py = p.mean_dim(0, true, Kind::Double).log();
        let kl = (&p * (&part - log_py)).sum_dim_intlist(1, false, Kind::Double).mean(Kind::Double);
        scores.push(kl.exp().double_value(&[]));
    }
    mean_std(&scores)
}

/// Distance of each row of `x` to its k-th nearest other row of `x`.
fn kth_radius(x: &Tensor, k: i64) -> Tensor {
    let d = pairwise(x, x);
    // the smallest entry of each row is the point itself (0); take the (k+1)-th smallest
    d.topk(k + 1, 1, false, true).0.select(1, k)
}

/// Euclidean distances `[n, m]` between rows of a and b, in chunks to bound memory.
fn pairwise(a: &Tensor, b: &Tensor) -> Tensor {
    let rows: Vec<Tensor> = (0..a.size()[0])
        .step_by(1024)
        .map(|i| {
            let chunk = a.narrow(0, i, 1024.min(a.size()[0] - i));
            let sq = chunk.square().sum_dim_intlist(1, true, Kind::Double) - chunk.matmul(&b.tr()) * 2.0
                + b.square().sum_dim_intlist(1, false, Kind::Double).unsqueeze(0);
            sq.clamp_min(0.0).sqrt()
        })
        .collect();
    Tensor::cat(&rows, 0)
}

/// Precision, recall, density and coverage of `fake` against `real` with k nearest neighbours.
pub fn prdc(real: &Tensor, fake: &Tensor, k: i64) -> [f64; 4] {
    let (real, fake) = (real.to_kind(Kind::Double), fake.to_kind(Kind::Double));
    let r_real = kth_radius(&real, k); // [n_real]
    let r_fake = kth_radius(&fake, k); // [n_fake]
    let d = pairwise(&real, &fake); // [n_real, n_fake]
    let inside_real = d.lt_tensor(&r_real.unsqueeze(1)); // fake j inside real i's ball
    let precision = inside_real.any_dim(0, false).to_kind(Kind::Double).mean(Kind::Double);
    let inside_fake = d.lt_tensor(&r_fake.unsqueeze(0)); // real i inside fake j's ball
    let recall = inside_fake.any_dim(1, false).to_kind(Kind::Double).mean(Kind::Double);
    let density = inside_real.to_kind(Kind::Double).sum(Kind::Double) / (k as f64 * fake.size()[0] as f64);
    let nearest_fake = d.min_dim(1, false).0;
    let coverage = nearest_fake.lt_tensor(&r_real).to_kind(Kind::Double).mean(Kind::Double);
    [precision, recall, density, coverage].map(|t| t.double_value(&[]))
}

/// Histogram of predicted classes (`logits [n, k]`) and its KL divergence to uniform.
pub fn class_histogram(logits: &Tensor) -> (Vec<i64>, f64) {
    let k = logits.size()[1];
    let pred = logits.argmax(1, false).to_device(Device::Cpu);
    let counts = pred.bincount::<Tensor>(None, k);
    let counts: Vec<i64> = Vec::try_from(&counts).expect("counts");
    (counts.clone(), kl_to_uniform(&counts))
}

/// KL(p ‖ uniform) of a histogram.
pub fn kl_to_uniform(counts: &[i64]) -> f64 {
    let total: i64 = counts.iter().sum();
    let k = counts.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / total as f64;
            p * (p * k).ln()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("fid_reference.rs");

    fn feats(rows: &[&[f64]]) -> Tensor {
        let flat: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_slice(&flat).view([rows.len() as i64, -1])
    }

    #[test]
    fn frechet_identical_sets_is_zero() {
        tch::manual_seed(0);
        let a = Tensor::randn([500, 8], (Kind::Double, Device::Cpu));
        assert!(frechet_of(&a, &a).abs() < 1e-9);
    }

    #[test]
    fn frechet_of_shifted_gaussians_is_closed_form() {
        // Same covariance, means apart by δ: FD = ‖δ‖² exactly.
        let s = Tensor::eye(3, (Kind::Double, Device::Cpu)) * 2.0;
        let m1 = Tensor::from_slice(&[0.0f64, 1.0, 2.0]);
        let m2 = Tensor::from_slice(&[1.0f64, 1.0, 0.0]);
        assert!((frechet(&m1, &s, &m2, &s) - 5.0).abs() < 1e-12);
        // Diagonal covariances: FD = ‖δ‖² + Σ (√a − √b)².
        let s1 = Tensor::from_slice(&[1.0f64, 4.0, 9.0]).diag(0);
        let s2 = Tensor::from_slice(&[4.0f64, 4.0, 1.0]).diag(0);
        let want = 5.0 + 1.0 + 0.0 + 4.0;
        assert!((frechet(&m1, &s1, &m2, &s2) - want).abs() < 1e-12);
    }

    #[test]
    fn frechet_matches_scipy_reference() {
        let a = Tensor::from_slice(&FIXTURE_A).view([FIXTURE_N, FIXTURE_D]);
        let b = Tensor::from_slice(&FIXTURE_B).view([FIXTURE_N, FIXTURE_D]);
        let got = frechet_of(&a, &b);
        assert!(((got - SCIPY_FID) / SCIPY_FID).abs() < 1e-6, "{got} vs {SCIPY_FID}");
    }

    #[test]
    fn kid_is_zero_in_expectation_for_identical_sets_and_positive_apart() {
        tch::manual_seed(1);
        let a = Tensor::randn([400, 4], (Kind::Double, Device::Cpu));
        let (same, _) = kid(&a, &a, 10, 200, 0);
        let (apart, _) = kid(&a, &(&a + 3.0), 10, 200, 0);
        assert!(same.abs() < 0.05, "{same}");
        assert!(apart > 1.0, "{apart}");
    }

    #[test]
    fn kid_by_hand_on_two_points() {
        // x = {0, 1}, y = {2, 2} in 1-D, d = 1, k(a, b) = (ab + 1)³.
        // off-diagonal Kxx: 2·k(0,1) = 2 → /2; Kyy: 2·k(2,2) = 250 → /2; Kxy sum: k(0,2)·2 + k(1,2)·2 = 2 + 54
        // MMD² = 1 + 125 − 2·56/4 = 98.
        let x = feats(&[&[0.0], &[1.0]]);
        let y = feats(&[&[2.0], &[2.0]]);
        let (m, s) = kid(&x, &y, 1, 2, 0);
        assert!((m - 98.0).abs() < 1e-9 && s == 0.0, "{m}");
    }

    #[test]
    fn classifier_score_bounds() {
        // Confident, balanced predictions over 4 classes: score = 4. Uniform predictions: 1.
        let mut confident = vec![];
        for i in 0..8 {
            let mut row = [0.0f64; 4];
            row[i % 4] = 60.0;
            confident.extend(row);
        }
        let (s, _) = classifier_score(&Tensor::from_slice(&confident).view([8, 4]), 1);
        assert!((s - 4.0).abs() < 1e-9, "{s}");
        let (u, _) = classifier_score(&Tensor::zeros([8, 4], (Kind::Double, Device::Cpu)), 2);
        assert!((u - 1.0).abs() < 1e-12);
    }

    #[test]
    fn prdc_identical_and_disjoint() {
        tch::manual_seed(2);
        let a = Tensor::randn([300, 5], (Kind::Double, Device::Cpu));
        let [p, r, _, c] = prdc(&a, &a, 3);
        assert_eq!((p, r, c), (1.0, 1.0, 1.0));
        let [p, r, d, c] = prdc(&a, &(&a + 100.0), 3);
        assert_eq!((p, r, d, c), (0.0, 0.0, 0.0, 0.0));
    }

    #[test]
    fn prdc_by_hand() {
        // real = {0, 1, 2, 10} on a line, k = 1: radii 1, 1, 1, 8.
        // fake = {0.5, 20}: 0.5 lies in the balls of 0 and 1 (density counts 2), 20 in none.
        // precision 1/2; density 2 / (1·2) = 1; coverage: reals whose nearest fake is within
        // their radius: 0 (0.5 < 1), 1 (0.5 < 1) → 2/4. Fake radii (k = 1): 19.5 both, so
        // every real lies in some fake ball: recall 1.
        let real = feats(&[&[0.0], &[1.0], &[2.0], &[10.0]]);
        let fake = feats(&[&[0.5], &[20.0]]);
        let [p, r, d, c] = prdc(&real, &fake, 1);
        assert_eq!((p, r, d, c), (0.5, 1.0, 1.0, 0.5));
    }

    #[test]
    fn histogram_kl() {
        let logits = feats(&[&[5.0, 0.0], &[4.0, 1.0], &[0.0, 3.0], &[9.0, 1.0]]);
        let (counts, kl) = class_histogram(&logits);
        assert_eq!(counts, vec![3, 1]);
        let want = 0.75 * (1.5f64).ln() + 0.25 * (0.5f64).ln();
        assert!((kl - want).abs() < 1e-12);
    }
}
