//! Class conditioning shared by the conditional GAN and AC-GAN: both feed the class to G as a
//! one-hot vector appended to z, so a "latent" of a conditional run is [z; onehot(y)], and both
//! are judged by whether the evaluation classifier sees the class they were asked for.
use super::{FigureContext, Figures, NoiseSampler};
use crate::classifier::Classifier;
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

    /// `class_accuracy` (and per class) of a conditional generator, when the images are scored
    /// with a classifier.
    pub fn figures(&self, s: &dyn NoiseSampler, ctx: &FigureContext) -> Figures {
        let Some(c) = ctx.classifier else { return vec![] };
        let (all, per) = class_accuracy(s, c, ctx.samples, self.0, ctx.seed);
        vec![("class_accuracy".into(), json!(all)), ("class_accuracy_per_class".into(), json!(per))]
    }
}

/// The fraction of a conditional generator's samples that the classifier assigns to the class
/// they were asked for (`n` samples, the classes in order): overall, then for each class.
pub fn class_accuracy(s: &dyn NoiseSampler, c: &Classifier, n: i64, classes: i64, seed: u64) -> (f64, Vec<f64>) {
    rng::seed_torch(seed, rng::stream::SAMPLE, 2);
    let z = s.latents_for(n, None);
    let parts: Vec<Tensor> = (0..n).step_by(500).map(|i| s.generate(&z.narrow(0, i, 500.min(n - i)))).collect();
    let (_, logits) = c.embed(&Tensor::cat(&parts, 0));
    let want: Vec<i64> = (0..n).map(|i| i * classes / n).collect();
    let hits = logits.argmax(1, false).eq_tensor(&Tensor::from_slice(&want).to(logits.device()));
    let hits = Vec::<bool>::try_from(hits.to_device(Device::Cpu)).expect("a vector of hits");
    let mut per = vec![(0.0, 0.0); classes as usize];
    for (&w, &h) in want.iter().zip(&hits) {
        per[w as usize].0 += f64::from(u8::from(h));
        per[w as usize].1 += 1.0;
    }
    let all = hits.iter().filter(|&&h| h).count() as f64 / n.max(1) as f64;
    (all, per.into_iter().map(|(h, t)| if t > 0.0 { h / t } else { 0.0 }).collect())
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
    }
}
