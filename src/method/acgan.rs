//! AC-GAN (Odena et al. 2017, eqs. 2–3): G is conditioned on the class (one-hot beside z); D
//! gives K class logits beside its source logit. With L_S the adversarial loss and
//! L_C = CE(class | real) + CE(class | fake), D minimises L_S + L_C and G minimises its
//! adversarial loss + CE(class | fake). A variant of the GAN family's step (`gan.rs`).
use super::condition::Classes;
use super::gan::{self, Gan, Variant};
use super::{Batch, FigureContext, Figures, Spec};
use crate::error::Result;
use crate::nets::CriticNet;
use tch::{Device, Tensor};

pub const SPEC: Spec = Spec {
    name: "acgan",
    about: "AC-GAN: G conditioned on the class, D predicts source and class",
    batch: Batch::Labelled,
    sections: gan::family_sections,
    check: |cfg| {
        let (m, o) = gan::check_family(cfg)?;
        gan::check_variant(cfg, &m, &o, false)
    },
    build: |cfg, info, device| Ok(Box::new(Gan::new(cfg, info, Box::new(Acgan(Classes(info.classes))), device)?)),
};

struct Acgan(Classes);

impl Acgan {
    /// (source logits [n], class logits [n, K]) of D's output.
    fn split(&self, out: &Tensor) -> (Tensor, Tensor) {
        (out.select(1, 0), out.narrow(1, 1, self.0.0))
    }
}

impl Variant for Acgan {
    fn latent_extra(&self) -> i64 {
        self.0.0
    }

    fn d_extra(&self) -> (i64, i64, i64) {
        (self.0.0, 0, 0)
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
        let y_real = labels.expect("acgan is built only for labelled data");
        let y_fake = self.0.labels(z);
        let (v, cv) = self.split(&d.forward_t(real, true));
        let (u, cu) = self.split(&d.forward_t(fake, true));
        let class_loss = cv.cross_entropy_for_logits(y_real) + cu.cross_entropy_for_logits(&y_fake);
        Some((v, u, Some(("d/class", class_loss))))
    }

    fn g_terms(&self, out: &Tensor, z: &Tensor) -> (Tensor, Option<(Option<&'static str>, Tensor)>) {
        let (u, logits) = self.split(out);
        (u, Some((None, logits.cross_entropy_for_logits(&self.0.labels(z)))))
    }

    fn source(&self, out: Tensor) -> Tensor {
        out.select(1, 0)
    }

    fn classes(&self) -> i64 {
        self.0.0
    }

    fn figures(&self, gan: &Gan, ctx: &FigureContext) -> Result<Figures> {
        self.0.figures(gan, ctx)
    }
}
