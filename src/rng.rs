//! Seeds derived from (run seed, stream, index), so that any step's randomness can be recreated
//! without saved generator state: resuming at step N draws exactly what a straight run draws.
use std::f64::consts::TAU;

/// Named streams, so that different uses of the same index never share a seed.
pub mod stream {
    pub const STEP: u64 = 1;
    pub const EPOCH: u64 = 2;
    pub const INIT: u64 = 3;
    pub const FIXED_LATENTS: u64 = 4;
    pub const EVAL: u64 = 5;
    pub const SAMPLE: u64 = 6;
    pub const LABELS: u64 = 7;
    pub const AUGMENT: u64 = 8;
}

/// SplitMix64's finaliser.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A seed for `(seed, stream, index)`.
pub fn derive(seed: u64, stream: u64, index: u64) -> u64 {
    splitmix(splitmix(splitmix(seed) ^ stream.wrapping_mul(0xD6E8_FEB8_6659_FD93)) ^ index)
}

/// Seeds libtorch's global generators (CPU and CUDA) for `(seed, stream, index)`.
pub fn seed_torch(seed: u64, stream: u64, index: u64) {
    tch::manual_seed((derive(seed, stream, index) >> 1) as i64);
}

/// A small deterministic generator for host-side draws (permutations, projections).
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix(self.0)
    }
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
    }
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// A Fisher–Yates permutation of 0..n from `seed`.
pub fn permutation(n: usize, seed: u64) -> Vec<i64> {
    let mut p: Vec<i64> = (0..n as i64).collect();
    let mut r = SplitMix::new(seed);
    for i in (1..n).rev() {
        let j = r.below(i as u64 + 1) as usize;
        p.swap(i, j);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_a_permutation_and_repeats() {
        let mut p = permutation(1000, 7);
        assert_eq!(p, permutation(1000, 7));
        assert_ne!(p, permutation(1000, 8));
        p.sort();
        assert_eq!(p, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn streams_differ() {
        assert_ne!(derive(0, stream::STEP, 5), derive(0, stream::EPOCH, 5));
        assert_ne!(derive(0, stream::STEP, 5), derive(1, stream::STEP, 5));
    }
}
