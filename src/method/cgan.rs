//! Conditional GAN (Mirza & Osindero 2014): the class y as a one-hot vector appended to G's
//! noise and as K constant planes appended to D's input, so both players play the game of one
//! class at a time. A variant of the GAN family's step (`gan.rs`).
use super::condition::Classes;
use super::gan::{self, Gan, Variant};
use super::{Batch, FigureContext, Figures, Spec};
use crate::data::Shape;
use crate::error::Result;
use crate::nets::CriticNet;
use tch::{Device, Tensor};

pub const SPEC: Spec = Spec {
    name: "cgan",
    about: "conditional GAN: the class into G's noise and D's input",
    batch: Batch::Labelled,
    sections: gan::family_sections,
    check: |cfg| {
        let (m, o) = gan::check_family(cfg)?;
        gan::check_variant(cfg, &m, &o, true)
    },
    build: |cfg, info, device| Ok(Box::new(Gan::new(cfg, info, Box::new(Cgan(Classes(info.classes))), device)?)),
};

struct Cgan(Classes);

impl Variant for Cgan {
    fn latent_extra(&self) -> i64 {
        self.0.0
    }

    fn d_shape(&self, shape: Shape) -> Shape {
        match shape {
            Shape::Image { channels, size } => Shape::Image { channels: channels + self.0.0, size },
            Shape::Points { dim } => Shape::Points { dim: dim + self.0.0 },
        }
    }

    fn latent_part(&self, n: i64, class: Option<i64>, in_order: bool, device: Device) -> Option<Tensor> {
        Some(self.0.latent_part(n, class, in_order, device))
    }

    fn d_outputs(
        &self,
        d: &CriticNet,
        real: &Tensor,
        labels: Option<&Tensor>,
        fake: &Tensor,
        z: &Tensor,
    ) -> Option<(Tensor, Tensor, Option<(&'static str, Tensor)>)> {
        let y_real = labels.expect("cgan is built only for labelled data");
        let v = d.forward_t(&self.0.planes(real, y_real), true);
        let u = d.forward_t(&self.0.planes(fake, &self.0.labels(z)), true);
        Some((v, u, None))
    }

    fn d_input(&self, fake: &Tensor, z: &Tensor) -> Tensor {
        self.0.planes(fake, &self.0.labels(z))
    }

    fn classes(&self) -> i64 {
        self.0.0
    }

    fn figures(&self, gan: &Gan, ctx: &FigureContext) -> Result<Figures> {
        self.0.figures(gan, ctx)
    }
}
