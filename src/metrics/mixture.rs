//! The PacGAN protocol (Lin et al. 2018, §5) for 2-D Gaussian mixtures: a sample is of high
//! quality when its distance to the nearest mode is under 3 of that mode's standard deviations;
//! a mode is captured when at least one high-quality sample is nearest to it; the reverse KL is
//! that of the histogram of high-quality samples over modes against the uniform distribution.
use crate::data::synthetic::Mixture;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MixtureScore {
    pub modes: usize,
    pub total_modes: usize,
    pub high_quality: f64,
    pub reverse_kl: f64,
    pub samples: usize,
}

pub fn score(points: &[[f64; 2]], m: &Mixture) -> MixtureScore {
    let k = m.centers.len();
    let mut counts = vec![0usize; k];
    let mut hq = 0usize;
    for p in points {
        let (best, dist) = m
            .centers
            .iter()
            .enumerate()
            .map(|(i, c)| (i, ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sqrt()))
            .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
        if dist < 3.0 * m.std {
            hq += 1;
            counts[best] += 1;
        }
    }
    let modes = counts.iter().filter(|&&c| c > 0).count();
    let reverse_kl = if hq == 0 {
        f64::INFINITY
    } else {
        counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / hq as f64;
                p * (p * k as f64).ln()
            })
            .sum()
    };
    MixtureScore {
        modes,
        total_modes: k,
        high_quality: if points.is_empty() { 0.0 } else { hq as f64 / points.len() as f64 },
        reverse_kl,
        samples: points.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_modes() -> Mixture {
        Mixture { centers: vec![[0.0, 0.0], [1.0, 0.0]], std: 0.01 }
    }

    #[test]
    fn all_at_one_mode() {
        // Histogram (1, 0) against uniform over 2: KL = 1·ln(1/0.5) = ln 2.
        let s = score(&[[0.0, 0.0], [0.001, 0.0]], &two_modes());
        assert_eq!(s.modes, 1);
        assert_eq!(s.high_quality, 1.0);
        assert!((s.reverse_kl - std::f64::consts::LN_2).abs() < 1e-12);
    }

    #[test]
    fn balanced_and_outliers() {
        // Two high-quality samples, one per mode (KL 0), and two far away: HQ fraction 0.5.
        let s = score(&[[0.0, 0.0], [1.0, 0.02], [0.5, 0.0], [5.0, 5.0]], &two_modes());
        assert_eq!(s.modes, 2);
        assert_eq!(s.high_quality, 0.5);
        assert!(s.reverse_kl.abs() < 1e-12);
    }

    #[test]
    fn boundary_is_three_stds() {
        let s = score(&[[0.0299, 0.0], [0.0301, 0.0]], &two_modes());
        assert_eq!(s.high_quality, 0.5);
    }
}
