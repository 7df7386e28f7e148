//! The image metrics of `gantry eval`, computed on one feature network and reported with it.
use super::image;
use crate::classifier::Classifier;
use crate::error::{Error, Result};
use serde_json::{Map, Value, json};
use tch::Tensor;

/// Fewest samples per set for which every metric is defined (k = 3 neighbours, KID subsets).
pub const MIN_SAMPLES: i64 = 10;

/// Reference images embedded once, so repeated evaluations (during training) pay only for the
/// samples.
pub struct Reference {
    pub features: Tensor,
}

impl Reference {
    pub fn new(c: &Classifier, real: &Tensor) -> Reference {
        Reference { features: c.embed(real).0 }
    }
}

/// FCD, KID, classifier score, precision/recall/density/coverage and the class histogram of
/// `fake` images (in [−1, 1]) against the reference.
pub fn image_metrics(c: &Classifier, fake: &Tensor, reference: &Reference, seed: u64) -> Result<Map<String, Value>> {
    let rf = &reference.features;
    let (nf, nr) = (fake.size()[0], rf.size()[0]);
    if nf < MIN_SAMPLES || nr < MIN_SAMPLES {
        return Err(Error::Usage(format!(
            "image metrics need at least {MIN_SAMPLES} samples and {MIN_SAMPLES} reference images, not {nf} and {nr}"
        )));
    }
    let (ff, fl) = c.embed(fake);
    let fcd = image::frechet_of(&ff, rf);
    let (kid, kid_std) = image::kid(&ff, rf, 100, 1000, seed);
    let (score, score_std) = image::classifier_score(&fl, 10);
    let [precision, recall, density, coverage] = image::prdc(rf, &ff, 3);
    let (hist, kl) = image::class_histogram(&fl);
    let mut m = Map::new();
    for (k, v) in [
        ("fcd", json!(fcd)),
        ("kid", json!(kid)),
        ("kid_std", json!(kid_std)),
        ("classifier_score", json!(score)),
        ("classifier_score_std", json!(score_std)),
        ("precision", json!(precision)),
        ("recall", json!(recall)),
        ("density", json!(density)),
        ("coverage", json!(coverage)),
        ("class_histogram", json!(hist)),
        ("class_kl", json!(kl)),
        ("samples", json!(nf)),
        ("reference_samples", json!(nr)),
        ("feature_network", json!(c.identity)),
    ] {
        m.insert(k.into(), v);
    }
    Ok(m)
}
