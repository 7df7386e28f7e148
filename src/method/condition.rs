//! Class conditioning shared by the conditional GAN and AC-GAN: both feed the class to G as a
//! one-hot vector appended to z, so a "latent" of a conditional run is [z; onehot(y)], and both
//! are judged by whether the evaluation classifier sees the class they were asked for.
use super::{FigureContext, Figures, NoiseSampler};
use crate::classifier::Classifier;
use crate::data::Dataset;
use crate::error::Result;
use crate::metrics::image;
use crate::rng;
use serde_json::json;
use tch::{Device, Kind, Tensor};

/// K classes of a conditional generator.
#[derive(Debug, Clone, Copy)]
pub struct Classes(pub i64);

impl Classes {
    pub fn onehot(&self, y: &Tensor) -> Tensor {
        y.onehot(self.0).to_kind(Kind::Float)
    }

    /// The classes of latents [z; onehot(y)].
    pub fn labels(&self, latents: &Tensor) -> Tensor {
        let l = latents.size()[1];
        latents.narrow(1, l - self.0, self.0).argmax(1, false)
    }

    /// The one-hot part of `n` latents: random classes; or all of `class`; or, `in_order`, the
    /// classes in order, one row of n / K samples each.
    pub fn latent_part(&self, n: i64, class: Option<i64>, in_order: bool, device: Device) -> Tensor {
        if class.is_none() && !in_order {
            let y = crate::dist::draw(n, |n| Tensor::randint(self.0, [n], (Kind::Int64, device)));
            return self.onehot(&y);
        }
        let y: Vec<i64> = (0..n).map(|i| class.unwrap_or(i * self.0 / n)).collect();
        self.onehot(&Tensor::from_slice(&y).to(device))
    }

    /// The conditional GAN's D input: K constant planes appended to an image's channels (or K
    /// values appended to a point).
    pub fn planes(&self, x: &Tensor, y: &Tensor) -> Tensor {
        let h = self.onehot(y); // [n, K]
        if x.dim() == 4 {
            let (n, _, hh, ww) = x.size4().expect("images");
            Tensor::cat(&[x, &h.view([n, self.0, 1, 1]).expand([n, self.0, hh, ww], false)], 1)
        } else {
            Tensor::cat(&[x, &h], 1)
        }
    }

    /// `class_accuracy` (and per class), FCD per class and within-class diversity of a
    /// conditional generator, when the images are scored with a classifier.
    pub fn figures(&self, s: &dyn NoiseSampler, ctx: &FigureContext) -> Result<Figures> {
        let Some(c) = ctx.classifier else { return Ok(vec![]) };
        rng::seed_torch(ctx.seed, rng::stream::SAMPLE, 2);
        let n = ctx.samples;
        let z = s.latents_for(n, None);
        let parts: Vec<Tensor> = (0..n).step_by(500).map(|i| s.generate(&z.narrow(0, i, 500.min(n - i)))).collect();
        class_figures(&Tensor::cat(&parts, 0), self.0, c, ctx)
    }
}

/// The class each of `n` samples drawn "in order" was asked for: `n / K` of class 0, then of
/// class 1, … (`latents_for(n, None)` of a conditional sampler).
pub fn wanted(n: i64, classes: i64) -> Vec<i64> {
    (0..n).map(|i| i * classes / n).collect()
}

/// Figures of samples `x` asked for the classes `wanted(n, classes)`, scored by classifier `c`:
/// - `class_accuracy` (and `_per_class`): the fraction `c` assigns to the class asked for;
/// - `fcd_per_class` (and its mean `fcd_class_mean`): the Fréchet distance in `c`'s features
///   between each class's samples and the test images of that class;
/// - `within_class_diversity` (and `_per_class`): the mean distance between two samples'
///   features within a class, over the same for the test images of the class (1: as diverse
///   as the data; small: the class collapsed onto a few images).
///
/// The per-class figures need the data's labelled test split (else its training split); they
/// are left out when the classifier's classes are not the data's.
pub fn class_figures(x: &Tensor, classes: i64, c: &Classifier, ctx: &FigureContext) -> Result<Figures> {
    let n = x.size()[0];
    let (f, logits) = c.embed(x);
    let want = wanted(n, classes);
    let want_t = Tensor::from_slice(&want).to(logits.device());
    let hits = logits.argmax(1, false).eq_tensor(&want_t);
    let hits = Vec::<bool>::try_from(hits.to_device(Device::Cpu)).expect("a vector of hits");
    let mut per = vec![(0.0, 0.0); classes as usize];
    for (&w, &h) in want.iter().zip(&hits) {
        per[w as usize].0 += f64::from(u8::from(h));
        per[w as usize].1 += 1.0;
    }
    let all = hits.iter().filter(|&&h| h).count() as f64 / n.max(1) as f64;
    let per: Vec<f64> = per.into_iter().map(|(h, t)| if t > 0.0 { h / t } else { 0.0 }).collect();
    let mut out: Figures = vec![("class_accuracy".into(), json!(all)), ("class_accuracy_per_class".into(), json!(per))];
    if c.meta.classes != classes {
        return Ok(out);
    }
    let set = match Dataset::load_split(ctx.data, "t10k", ctx.device) {
        Ok(s) => s,
        Err(_) => Dataset::load(ctx.data, ctx.device)?,
    };
    let Some((real, Some(labels))) = set.tensors() else { return Ok(out) };
    let (rf, _) = c.embed(real);
    let labels = labels.to_device(rf.device());
    let (mut fcd, mut div) = (vec![], vec![]);
    for k in 0..classes {
        let mine = f.index_select(0, &want_t.eq(k).nonzero().squeeze_dim(1));
        let theirs = rf.index_select(0, &labels.eq(k).nonzero().squeeze_dim(1));
        if mine.size()[0] < 2 || theirs.size()[0] < 2 {
            return Ok(out);
        }
        fcd.push(image::frechet_of(&mine, &theirs));
        div.push(mean_distance(&mine) / mean_distance(&theirs).max(1e-12));
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    out.push(("fcd_class_mean".into(), json!(mean(&fcd))));
    out.push(("fcd_per_class".into(), json!(fcd)));
    out.push(("within_class_diversity".into(), json!(mean(&div))));
    out.push(("within_class_diversity_per_class".into(), json!(div)));
    Ok(out)
}

/// The mean Euclidean distance between two different rows of `f` (`[n, d]`, n ≥ 2).
pub fn mean_distance(f: &Tensor) -> f64 {
    let f = f.to_kind(Kind::Double);
    let n = f.size()[0];
    let d = Tensor::cdist(&f.unsqueeze(0), &f.unsqueeze(0), 2.0, None).squeeze_dim(0);
    (d.sum(Kind::Double) / (n * (n - 1)) as f64).double_value(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_planes_and_labels() {
        let c = Classes(3);
        let x = Tensor::zeros([2, 1, 4, 4], (Kind::Float, Device::Cpu));
        let y = Tensor::from_slice(&[2i64, 0]);
        let d = c.planes(&x, &y);
        assert_eq!(d.size(), vec![2, 4, 4, 4]);
        // example 0 is class 2: plane 1 + 2 is ones, the others zero
        assert_eq!(d.double_value(&[0, 3, 1, 2]), 1.0);
        assert_eq!(d.double_value(&[0, 1, 1, 2]), 0.0);
        assert_eq!(d.double_value(&[1, 1, 0, 0]), 1.0);
        let z = Tensor::cat(&[Tensor::zeros([2, 5], (Kind::Float, Device::Cpu)), c.onehot(&y)], 1);
        assert_eq!(Vec::<i64>::try_from(c.labels(&z)).unwrap(), vec![2, 0]);
        // six latents in order: two rows of each class
        let ordered = c.labels(&c.latent_part(6, None, true, Device::Cpu));
        assert_eq!(Vec::<i64>::try_from(ordered).unwrap(), vec![0, 0, 1, 1, 2, 2]);
        assert_eq!(wanted(6, 3), vec![0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn mean_distance_by_hand() {
        // three points on a line at 0, 3 and 4: distances 3, 4, 1 → mean 8/3
        let f = Tensor::from_slice(&[0.0f32, 3.0, 4.0]).view([3, 1]);
        assert!((mean_distance(&f) - 8.0 / 3.0).abs() < 1e-9);
    }
}
