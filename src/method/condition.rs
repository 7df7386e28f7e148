//! Class conditioning of the GAN step, for the conditional GAN and AC-GAN.
//!
//! Both feed the class to G as a one-hot vector appended to z, so a "latent" of a conditional
//! run is [z; onehot(y)]. The conditional GAN (Mirza & Osindero 2014) also feeds it to D, as K
//! constant planes appended to the image's channels (or K values appended to a point). AC-GAN
//! (Odena et al. 2017, eqs. 2–3) gives D K class logits beside its source logit: with
//! L_S the adversarial loss and L_C = CE(class | real) + CE(class | fake), D minimises
//! L_S + L_C and G minimises its adversarial loss + CE(class | fake).
use crate::config::MethodKind;
use crate::data::Shape;
use tch::{Kind, Tensor};

#[derive(Debug, Clone, Copy)]
pub struct Condition {
    pub kind: MethodKind,
    pub classes: i64,
}

impl Condition {
    /// The shape D sees: the data's, with the class planes for the conditional GAN.
    pub fn d_shape(&self, shape: Shape) -> Shape {
        match (self.kind, shape) {
            (MethodKind::Cgan, Shape::Image { channels, size }) => {
                Shape::Image { channels: channels + self.classes, size }
            }
            (MethodKind::Cgan, Shape::Points { dim }) => Shape::Points { dim: dim + self.classes },
            _ => shape,
        }
    }

    /// D's outputs per example: the source logit, plus the class logits for AC-GAN.
    pub fn d_outputs(&self) -> i64 {
        if self.kind == MethodKind::Acgan { 1 + self.classes } else { 1 }
    }

    pub fn onehot(&self, y: &Tensor) -> Tensor {
        y.onehot(self.classes).to_kind(Kind::Float)
    }

    /// The classes of latents [z; onehot(y)].
    pub fn labels(&self, latents: &Tensor) -> Tensor {
        let l = latents.size()[1];
        latents.narrow(1, l - self.classes, self.classes).argmax(1, false)
    }

    /// D's input for examples `x` of classes `y`.
    pub fn d_input(&self, x: &Tensor, y: &Tensor) -> Tensor {
        if self.kind != MethodKind::Cgan {
            return x.shallow_clone();
        }
        let h = self.onehot(y); // [n, K]
        if x.dim() == 4 {
            let (n, _, hh, ww) = x.size4().expect("images");
            Tensor::cat(&[x, &h.view([n, self.classes, 1, 1]).expand([n, self.classes, hh, ww], false)], 1)
        } else {
            Tensor::cat(&[x, &h], 1)
        }
    }

    /// (source logits [n], class logits [n, K] for AC-GAN) of D's output.
    pub fn split(&self, out: &Tensor) -> (Tensor, Option<Tensor>) {
        if self.kind == MethodKind::Acgan {
            (out.select(1, 0), Some(out.narrow(1, 1, self.classes)))
        } else {
            (out.shallow_clone(), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_planes_and_labels() {
        let c = Condition { kind: MethodKind::Cgan, classes: 3 };
        let x = Tensor::zeros([2, 1, 4, 4], (Kind::Float, tch::Device::Cpu));
        let y = Tensor::from_slice(&[2i64, 0]);
        let d = c.d_input(&x, &y);
        assert_eq!(d.size(), vec![2, 4, 4, 4]);
        // example 0 is class 2: plane 1 + 2 is ones, the others zero
        assert_eq!(d.double_value(&[0, 3, 1, 2]), 1.0);
        assert_eq!(d.double_value(&[0, 1, 1, 2]), 0.0);
        assert_eq!(d.double_value(&[1, 1, 0, 0]), 1.0);
        let z = Tensor::cat(&[Tensor::zeros([2, 5], (Kind::Float, tch::Device::Cpu)), c.onehot(&y)], 1);
        assert_eq!(Vec::<i64>::try_from(c.labels(&z)).unwrap(), vec![2, 0]);
        assert_eq!(c.d_shape(Shape::Image { channels: 1, size: 28 }), Shape::Image { channels: 4, size: 28 });
    }
}
