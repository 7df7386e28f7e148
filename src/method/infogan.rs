//! InfoGAN (Chen et al. 2016): latent codes beside z, recovered by a Q head that shares D's
//! body (`codes.rs` has the codes and the mutual-information bound). A variant of the GAN
//! family's step (`gan.rs`); its own keys are the `[infogan]` section.
use super::codes::{self, Codes};
use super::gan::{self, Gan, Variant};
use super::{Batch, FigureContext, Figures, NoiseSampler, Spec, section};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::nets::CriticNet;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tch::{Device, Tensor};

pub const SPEC: Spec = Spec {
    name: "infogan",
    about: "InfoGAN: categorical and continuous codes recovered by a Q head on D",
    batch: Batch::Examples,
    sections: || {
        let mut t = gan::family_sections();
        t.extend([section("infogan", &InfoConfig::default())]);
        t
    },
    check: |cfg| {
        let (m, o) = gan::check_family(cfg)?;
        gan::check_variant(cfg, &m, &o, false)?;
        let c: InfoConfig = cfg.section("infogan")?;
        if c.categorical_codes.iter().any(|&k| k < 2)
            || c.continuous_codes < 0
            || (c.categorical_codes.is_empty() && c.continuous_codes == 0)
        {
            return Err(Error::Config(
                "`infogan.categorical_codes / infogan.continuous_codes`: InfoGAN needs at least one code; each categorical code has at least 2 categories".into(),
            ));
        }
        if c.weight < 0.0 || c.continuous_weight < 0.0 {
            return Err(Error::Config("`infogan.weight / infogan.continuous_weight` must be ≥ 0".into()));
        }
        if c.q_hidden < 0 {
            return Err(Error::Config("`infogan.q_hidden` must be ≥ 0 (0 reads Q out beside D's logit)".into()));
        }
        if c.q_hidden > 0 && m.arch != crate::nets::Arch::Dcgan {
            return Err(Error::Config(
                "`infogan.q_hidden` is a layer of the DCGAN discriminator; set model.arch = \"dcgan\" or leave it 0".into(),
            ));
        }
        Ok(())
    },
    build: |cfg, info, device| {
        let c: InfoConfig = cfg.section("infogan")?;
        let m: crate::nets::ModelConfig = cfg.section("model")?;
        let variant = InfoGan {
            codes: Codes {
                categorical: c.categorical_codes,
                continuous: c.continuous_codes,
                weight: c.weight,
                continuous_weight: c.continuous_weight,
            },
            z_dim: m.latent_dim,
            q_hidden: c.q_hidden,
        };
        Ok(Box::new(Gan::new(cfg, info, Box::new(variant), device)?))
    },
};

/// The `[infogan]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InfoConfig {
    /// The number of categories of each categorical code (e.g. [10]).
    pub categorical_codes: Vec<i64>,
    /// The number of continuous codes, each ~ U(−1, 1).
    pub continuous_codes: i64,
    /// Width of the Q head's hidden layer (dense + norm + LeakyReLU on D's shared body, then
    /// the codes' outputs; the paper's FC 128); 0 reads Q out beside D's logit.
    pub q_hidden: i64,
    /// λ of the mutual-information lower bound's categorical terms.
    pub weight: f64,
    /// λ of the continuous codes' terms (the paper: "a smaller λ is typically used" for them).
    pub continuous_weight: f64,
}

impl Default for InfoConfig {
    fn default() -> Self {
        InfoConfig { categorical_codes: vec![10], continuous_codes: 2, q_hidden: 0, weight: 1.0, continuous_weight: 1.0 }
    }
}

struct InfoGan {
    codes: Codes,
    /// Width of z in front of the codes.
    z_dim: i64,
    q_hidden: i64,
}

impl Variant for InfoGan {
    fn latent_extra(&self) -> i64 {
        self.codes.width()
    }

    fn d_extra(&self) -> (i64, i64, i64) {
        (self.codes.width(), self.codes.width(), self.q_hidden)
    }

    fn latent_part(&self, n: i64, class: Option<i64>, _in_order: bool, device: Device) -> Option<Tensor> {
        Some(self.codes.sample(n, class, device))
    }

    fn d_outputs(
        &self,
        d: &CriticNet,
        real: &Tensor,
        _labels: Option<&Tensor>,
        fake: &Tensor,
        z: &Tensor,
    ) -> Option<(Tensor, Tensor, Option<(&'static str, Tensor)>)> {
        let w = self.codes.width();
        let v = d.forward_t(real, true).select(1, 0);
        let out = d.forward_t(fake, true);
        let info = self.codes.info_loss(&out.narrow(1, 1, w), &z.narrow(1, self.z_dim, w));
        Some((v, out.select(1, 0), Some(("d/info", info))))
    }

    fn g_terms(&self, out: &Tensor, z: &Tensor) -> (Tensor, Option<(Option<&'static str>, Tensor)>) {
        let w = self.codes.width();
        let info = self.codes.info_loss(&out.narrow(1, 1, w), &z.narrow(1, self.z_dim, w));
        (out.select(1, 0), Some((Some("g/info"), info)))
    }

    fn source(&self, out: Tensor) -> Tensor {
        out.select(1, 0)
    }

    fn codes(&self) -> Option<&Codes> {
        Some(&self.codes)
    }

    /// `code_accuracy`: Q's first categorical code on the data's whole labelled test split (the
    /// labelled evaluation sample when the data has none), matched to the labels by the
    /// Hungarian algorithm.
    fn figures(&self, gan: &Gan, ctx: &FigureContext) -> Result<Figures> {
        let Some(&k) = self.codes.categorical.first() else { return Ok(vec![]) };
        let labelled = match Dataset::load_split(ctx.data, "t10k", ctx.device) {
            Ok(set) => set.tensors().and_then(|(x, y)| Some((x.shallow_clone(), y?.shallow_clone()))),
            Err(_) => None,
        };
        let labelled = match labelled {
            Some(l) => Some(l),
            None => {
                let (x, y) = Dataset::load(ctx.data, ctx.device)?.reference_with_labels(ctx.samples, ctx.seed);
                y.map(|y| (x, y))
            }
        };
        let Some((images, labels)) = labelled else { return Ok(vec![]) };
        let total = images.size()[0];
        let parts: Vec<Tensor> = (0..total)
            .step_by(1000)
            .map(|i| {
                let logits = gan.code_logits(&images.narrow(0, i, 1000.min(total - i)));
                logits.expect("InfoGAN has a categorical code").argmax(1, false)
            })
            .collect();
        let pred: Vec<i64> = Vec::try_from(Tensor::cat(&parts, 0).to_device(Device::Cpu)).expect("ints");
        let want: Vec<i64> = Vec::try_from(labels.to_device(Device::Cpu)).expect("ints");
        let classes = (k as usize).max(want.iter().max().map_or(0, |m| *m as usize + 1));
        Ok(vec![
            ("code_accuracy".into(), json!(codes::matched_accuracy(&pred, &want, classes))),
            ("code_samples".into(), json!(total)),
        ])
    }
}
