//! Sliced Wasserstein-1 distance between two equal-size point sets: the mean, over random
//! unit directions, of the 1-D Wasserstein distance of the projections (sorted differences).
use crate::rng::SplitMix;

pub fn sliced_wasserstein(a: &[Vec<f64>], b: &[Vec<f64>], projections: usize, seed: u64) -> f64 {
    assert_eq!(a.len(), b.len(), "equal sample counts");
    let dim = a[0].len();
    let mut r = SplitMix::new(seed);
    let mut total = 0.0;
    for _ in 0..projections {
        let mut dir: Vec<f64> = (0..dim).map(|_| r.normal()).collect();
        let norm = dir.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
        dir.iter_mut().for_each(|x| *x /= norm);
        let proj = |s: &[Vec<f64>]| {
            let mut p: Vec<f64> = s.iter().map(|x| x.iter().zip(&dir).map(|(a, b)| a * b).sum()).collect();
            p.sort_by(|x, y| x.total_cmp(y));
            p
        };
        let (pa, pb) = (proj(a), proj(b));
        total += pa.iter().zip(&pb).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64;
    }
    total / projections as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_sets_are_zero() {
        let a: Vec<Vec<f64>> = (0..50).map(|i| vec![i as f64, (i * 7 % 13) as f64]).collect();
        assert_eq!(sliced_wasserstein(&a, &a, 16, 1), 0.0);
    }

    #[test]
    fn shift_in_one_dimension() {
        // 1-D: every projection is ±1 times the data, so SW1 equals the shift.
        let a: Vec<Vec<f64>> = (0..100).map(|i| vec![i as f64 / 10.0]).collect();
        let b: Vec<Vec<f64>> = a.iter().map(|x| vec![x[0] + 0.5]).collect();
        assert!((sliced_wasserstein(&a, &b, 8, 3) - 0.5).abs() < 1e-12);
    }
}
