//! Using any `PairSampler` (CoGAN, or a two-class conditional GAN read as two domains): pairs
//! to files and grids, interpolations that walk both domains together, and their figures.
//!
//! Pixel agreement (CoGAN's measure of whether one z gives the same content in both domains):
//! for each of `n` latents, the known transform t of the data (`transform.txt`: B = t(A)) is
//! applied to the A image, then t(A) and the B image are binarised at mid-grey (0.5 of the
//! [0, 1] range) and compared pixel by pixel; `pixel_agreement` is the share of pixels that
//! agree over all pairs. The reference code has no such rule; this one counts background pixels
//! too, so unrelated pairs also agree on much of the image: `pixel_agreement_chance` is the same
//! share with each t(A) compared with the B image of the next latent, the level of no
//! correspondence.
use crate::data::unpaired::{Side, Transform, Unpaired};
use crate::error::{Error, Result};
use crate::method::PairSampler;
use crate::metrics::image;
use crate::ops::slerp;
use crate::rng;
use crate::translate;
use serde_json::{Map, Value, json};
use tch::{Device, Kind, Tensor};

/// Pairs generated at once.
const CHUNK: i64 = 500;

/// Pairs `pixel_agreement` is measured over (the paper's 10,000).
pub const AGREEMENT_PAIRS: i64 = 10_000;

/// `n` pairs from the latents of (`seed`, `stream`).
pub fn pairs(p: &dyn PairSampler, n: i64, seed: u64, index: u64) -> (Tensor, Tensor) {
    pairs_of(p, &latents(p, n, seed, index))
}

/// The latents `pairs` draws for (n, seed, index).
pub fn latents(p: &dyn PairSampler, n: i64, seed: u64, index: u64) -> Tensor {
    rng::seed_torch(seed, rng::stream::SAMPLE, index);
    p.latents(n)
}

/// The pairs of latents `z`, generated in chunks.
pub fn pairs_of(p: &dyn PairSampler, z: &Tensor) -> (Tensor, Tensor) {
    let n = z.size()[0];
    let (mut a, mut b) = (vec![], vec![]);
    for i in (0..n).step_by(CHUNK as usize) {
        let (x, y) = p.generate_pair(&z.narrow(0, i, CHUNK.min(n - i)));
        a.push(x);
        b.push(y);
    }
    (Tensor::cat(&a, 0), Tensor::cat(&b, 0))
}

/// The share of pixels of `ta` and `b` (images in [−1, 1]) that agree once binarised at 0.
pub fn agreement(ta: &Tensor, b: &Tensor) -> f64 {
    ta.gt(0.0).eq_tensor(&b.gt(0.0)).to_kind(Kind::Double).mean(Kind::Double).double_value(&[])
}

/// `pixel_agreement` and `pixel_agreement_chance` over `n` pairs.
pub fn pixel_agreement(p: &dyn PairSampler, t: Transform, n: i64, seed: u64) -> (f64, f64) {
    let (a, b) = pairs(p, n, seed, 10);
    let ta = t.apply(&a.narrow(1, 0, 1));
    let b = b.narrow(1, 0, 1);
    (agreement(&ta, &b), agreement(&ta, &b.roll([1], [0])))
}

/// Rows of spherical interpolations between pairs of latents, each A row followed by its B row.
pub fn interpolate(p: &dyn PairSampler, rows: i64, cols: i64, seed: u64) -> Tensor {
    rng::seed_torch(seed, rng::stream::SAMPLE, 0);
    let ends = p.latents(2 * rows);
    let mut out = vec![];
    for r in 0..rows {
        let (u, v) = (ends.get(2 * r), ends.get(2 * r + 1));
        let z: Vec<Tensor> = (0..cols).map(|c| slerp(&u, &v, c as f64 / (cols - 1).max(1) as f64)).collect();
        let (a, b) = p.generate_pair(&Tensor::stack(&z, 0));
        out.push(a.to_device(Device::Cpu));
        out.push(b.to_device(Device::Cpu));
    }
    Tensor::cat(&out, 0)
}

/// What `evaluate` is asked.
pub struct Ask {
    /// Pairs to draw for the per-domain figures.
    pub n: i64,
    pub seed: u64,
    /// The transform relating the domains, over the data's `transform.txt`.
    pub transform: Option<Transform>,
    /// Fail when no transform is known, instead of leaving `pixel_agreement` out.
    pub need_agreement: bool,
    pub quiet: bool,
}

/// The figures of a pair sampler trained on `data`: `pixel_agreement` when the transform
/// relating the domains is known, and per domain the FCD of its samples against its test
/// images on the domain's classifier, when the domain has labels.
pub fn evaluate(p: &dyn PairSampler, data: &Unpaired, ask: &Ask) -> Result<Map<String, Value>> {
    let mut m = Map::new();
    let transform = match ask.transform {
        Some(t) => Some(t),
        None => Transform::of_folder(&data.root)?,
    };
    match transform {
        Some(t) => {
            let (agree, chance) = pixel_agreement(p, t, AGREEMENT_PAIRS, ask.seed);
            m.insert("pixel_agreement".into(), json!(agree));
            m.insert("pixel_agreement_chance".into(), json!(chance));
            m.insert("transform".into(), json!(t.name()));
            m.insert("pairs".into(), json!(AGREEMENT_PAIRS));
        }
        None if ask.need_agreement => {
            return Err(Error::Usage(format!(
                "pixel agreement needs the transform that relates the domains, and {} does not say it (no transform.txt); pass --transform {} when B is that transform of A",
                data.root.display(),
                Transform::NAMES.join("|")
            )));
        }
        None => {}
    }
    let (a, b) = pairs(p, ask.n, ask.seed, 11);
    for (s, x) in [(Side::A, a), (Side::B, b)] {
        let mut d = Map::new();
        let x = x.narrow(1, 0, data.channels(s));
        if let Some(c) = translate::domain_classifier(data, s, ask.quiet)? {
            let (target, split) = translate::split_or_train(data, s)?;
            if x.size()[0] >= image::MIN_SAMPLES && target.x.size()[0] >= image::MIN_SAMPLES {
                d.insert("fcd".into(), json!(image::frechet_of(&c.embed(&x).0, &c.embed(&target.x).0)));
                d.insert("reference".into(), json!(split));
                d.insert("reference_samples".into(), json!(target.x.size()[0]));
                d.insert("feature_network".into(), json!(c.identity));
            }
        }
        d.insert("samples".into(), json!(x.size()[0]));
        m.insert(s.name().to_lowercase(), Value::Object(d));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(v: &[f32]) -> Tensor {
        Tensor::from_slice(v).view([1, 1, 2, 2])
    }

    #[test]
    fn agreement_by_hand() {
        // binarised: ta = [1, 0, 1, 0], b = [1, 1, 0, 0]: two of four pixels agree
        let ta = img(&[0.8, -0.9, 0.1, -0.1]);
        let b = img(&[0.5, 0.2, -0.3, -1.0]);
        assert_eq!(agreement(&ta, &b), 0.5);
        assert_eq!(agreement(&ta, &ta), 1.0);
    }

    #[test]
    fn transforms_by_hand() {
        // negative: 1 − x in [0, 1] is −x in [−1, 1]
        let x = img(&[1.0, -1.0, 0.0, 0.5]);
        assert!(Transform::Negative.apply(&x).equal(&img(&[-1.0, 1.0, -0.0, -0.5])));
        // edges of a single lit pixel in a 3×3 image: its 8 neighbours light up, it goes dark
        let mut v = vec![-1.0f32; 9];
        v[4] = 1.0;
        let e = Transform::Edges.apply(&Tensor::from_slice(&v).view([1, 1, 3, 3]));
        let got: Vec<f32> = e.flatten(0, -1).try_into().unwrap();
        assert_eq!(got, vec![1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0]);
        // the tensor version agrees with the byte version `gantry data make` writes
        let bytes: Vec<u8> = (0..28 * 28).map(|i| if (i * 7919) % 13 < 4 { 255 } else { (i % 5 * 20) as u8 }).collect();
        let want = crate::datamake::edges(&bytes, 28);
        let x = Tensor::from_slice(&bytes).to_kind(Kind::Float).view([1, 1, 28, 28]) / 127.5 - 1.0;
        let got = (Transform::Edges.apply(&x) + 1.0) * 127.5;
        let want = Tensor::from_slice(&want).to_kind(Kind::Float).view([1, 1, 28, 28]);
        assert!((got - want).abs().max().double_value(&[]) < 1.0);
    }

    #[test]
    fn perfect_pairs_agree_fully_and_chance_is_lower() {
        struct Neg;
        impl PairSampler for Neg {
            fn latents(&self, n: i64) -> Tensor {
                Tensor::randn([n, 16], (Kind::Float, Device::Cpu))
            }
            fn generate_pair(&self, z: &Tensor) -> (Tensor, Tensor) {
                let a = z.view([-1, 1, 4, 4]).tanh();
                (a.shallow_clone(), -a)
            }
            fn stages(&self) -> Vec<crate::nets::Stage<'_>> {
                vec![]
            }
        }
        let (agree, chance) = pixel_agreement(&Neg, Transform::Negative, 200, 0);
        assert_eq!(agree, 1.0);
        assert!((0.4..0.6).contains(&chance), "independent random pixels agree half the time: {chance}");
    }
}
