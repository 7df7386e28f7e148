//! Built-in low-dimensional sets: the 2-D Gaussian mixtures of the PacGAN protocol (`ring8`,
//! `grid25`) and of WGAN-GP's gan_toy.py (`gaussians8`, `gaussians25`, `swissroll`). They are
//! sampled afresh for every batch, from libtorch's generator as seeded for the step.
use std::f64::consts::PI;
use tch::{Device, Kind, Tensor};

/// An equal-weight mixture of isotropic Gaussians.
#[derive(Clone, Debug, PartialEq)]
pub struct Mixture {
    pub centers: Vec<[f64; 2]>,
    pub std: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Synthetic {
    Mixture(Mixture),
    /// gan_toy.py's swiss roll: sklearn's make_swiss_roll(noise 0.25), axes 0 and 2, divided by 7.5.
    SwissRoll,
}

pub const NAMES: &[&str] = &["ring8", "grid25", "gaussians8", "gaussians25", "swissroll"];

/// The built-in set called `name`, if there is one.
pub fn by_name(name: &str) -> Option<Synthetic> {
    let grid = |step: f64, scale: f64, std: f64| {
        let mut c = vec![];
        for i in -2..=2 {
            for j in -2..=2 {
                c.push([i as f64 * step / scale, j as f64 * step / scale]);
            }
        }
        Mixture { centers: c, std: std / scale }
    };
    Some(match name {
        // PacGAN: means (cos 2πi/8, sin 2πi/8), std 0.01. (linspace(0, 2π, 8) would give 7 modes.)
        "ring8" => Synthetic::Mixture(Mixture {
            centers: (0..8)
                .map(|i| {
                    let a = 2.0 * PI * i as f64 / 8.0;
                    [a.cos(), a.sin()]
                })
                .collect(),
            std: 0.01,
        }),
        // PacGAN: {−4, −2, 0, 2, 4}², std 0.05.
        "grid25" => Synthetic::Mixture(grid(2.0, 1.0, 0.05)),
        // gan_toy.py: radius 2, std 0.02, all divided by 1.414.
        "gaussians8" => {
            let s = std::f64::consts::FRAC_1_SQRT_2;
            let unit = [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [s, s], [s, -s], [-s, s], [-s, -s]];
            Synthetic::Mixture(Mixture {
                centers: unit.iter().map(|[x, y]| [2.0 * x / 1.414, 2.0 * y / 1.414]).collect(),
                std: 0.02 / 1.414,
            })
        }
        // gan_toy.py: grid {−2..2}·2, std 0.05, all divided by 2.828.
        "gaussians25" => Synthetic::Mixture(grid(2.0, 2.828, 0.05)),
        "swissroll" => Synthetic::SwissRoll,
        _ => return None,
    })
}

/// Draws batches of a built-in set on one device; a mixture's centres are copied there once.
pub struct Sampler {
    pub set: Synthetic,
    centers: Option<Tensor>,
    device: Device,
}

impl Sampler {
    pub fn new(set: Synthetic, device: Device) -> Sampler {
        let centers = match &set {
            Synthetic::Mixture(m) => {
                let flat: Vec<f32> = m.centers.iter().flat_map(|c| [c[0] as f32, c[1] as f32]).collect();
                Some(Tensor::from_slice(&flat).view([-1, 2]).to(device))
            }
            Synthetic::SwissRoll => None,
        };
        Sampler { set, centers, device }
    }

    /// `n` points `[n, 2]` (float) from libtorch's current generator.
    pub fn sample(&self, n: i64) -> Tensor {
        let device = self.device;
        match (&self.set, &self.centers) {
            (Synthetic::Mixture(m), Some(centers)) => {
                let idx = Tensor::randint(m.centers.len() as i64, [n], (Kind::Int64, device));
                centers.index_select(0, &idx) + Tensor::randn([n, 2], (Kind::Float, device)) * m.std
            }
            _ => {
                let u = Tensor::rand([n], (Kind::Float, device));
                let t = (u * 2.0 + 1.0) * (1.5 * PI);
                let xy = Tensor::stack(&[&t * t.cos(), &t * t.sin()], 1);
                (xy + Tensor::randn([n, 2], (Kind::Float, device)) * 0.25) / 7.5
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_has_eight_distinct_modes() {
        let Some(Synthetic::Mixture(m)) = by_name("ring8") else { panic!() };
        assert_eq!(m.centers.len(), 8);
        for (i, a) in m.centers.iter().enumerate() {
            for b in &m.centers[i + 1..] {
                assert!(((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt() > 0.7);
            }
        }
    }

    #[test]
    fn grid_spans_minus_four_to_four() {
        let Some(Synthetic::Mixture(m)) = by_name("grid25") else { panic!() };
        assert_eq!(m.centers.len(), 25);
        assert!(m.centers.contains(&[-4.0, 4.0]));
        assert_eq!(m.std, 0.05);
    }

    #[test]
    fn samples_sit_near_modes() {
        tch::manual_seed(0);
        let s = Sampler::new(by_name("grid25").unwrap(), Device::Cpu).sample(1000);
        assert_eq!(s.size(), vec![1000, 2]);
        let max = s.abs().max().double_value(&[]);
        assert!(max < 4.5 && max > 3.5, "{max}");
    }
}
