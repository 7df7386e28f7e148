//! The image metrics of `gantry eval`, computed on one feature network and reported with it.
use super::image;
use crate::classifier::Classifier;
use crate::error::{Error, Result};
use crate::nets::inception::FidInception;
use serde_json::{Map, Value, json};
use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Tensor};

/// Where pytorch-fid publishes the FID Inception weights.
pub const INCEPTION_URL: &str =
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth";

/// The FID Inception-v3 with its weights.
pub struct Inception {
    vs: VarStore,
    net: FidInception,
    identity: String,
}

impl Inception {
    /// Loads weights converted by `scripts/convert_inception.py`.
    pub fn load(path: &Path, device: Device) -> Result<Inception> {
        if !path.is_file() {
            return Err(Error::Usage(format!(
                "Inception weights {} not found. Get pytorch-fid's weights ({INCEPTION_URL}) and convert them: `python3 scripts/convert_inception.py pt_inception-2015-12-05-6726825d.pth {}`",
                path.display(),
                path.display()
            )));
        }
        let vs = VarStore::new(device);
        let net = FidInception::new(vs.root());
        crate::train::checkpoint::load_store(&vs, path)?;
        let bytes = std::fs::read(path).map_err(crate::error::io_err(path))?;
        use sha2::Digest;
        let hash: String = sha2::Sha256::digest(&bytes).iter().take(6).map(|b| format!("{b:02x}")).collect();
        Ok(Inception { vs, net, identity: format!("pt_inception-2015-12-05:{hash}") })
    }
}

/// The network whose features the metrics compare.
pub enum FeatureNet {
    Classifier(Box<Classifier>),
    Inception(Box<Inception>),
}

impl FeatureNet {
    pub fn identity(&self) -> &str {
        match self {
            FeatureNet::Classifier(c) => &c.identity,
            FeatureNet::Inception(i) => &i.identity,
        }
    }

    /// (features, logits) of images in [−1, 1], in batches.
    pub fn embed(&self, x: &Tensor) -> (Tensor, Tensor) {
        match self {
            FeatureNet::Classifier(c) => c.embed(x),
            FeatureNet::Inception(i) => {
                let n = x.size()[0];
                let (mut f, mut l) = (vec![], vec![]);
                let bar = crate::progress::bar(n as u64, "inception", n < 1000);
                tch::no_grad(|| {
                    for k in (0..n).step_by(50) {
                        bar.inc(50.min(n - k) as u64);
                        let (a, b) = i.net.features_logits(&x.narrow(0, k, 50.min(n - k)).to_device(i.vs.device()));
                        f.push(a);
                        l.push(b);
                    }
                });
                bar.finish_and_clear();
                (Tensor::cat(&f, 0), Tensor::cat(&l, 0))
            }
        }
    }

    /// Keys of the Fréchet distance and the score: FCD and classifier score on the classifier,
    /// FID and Inception score on Inception.
    fn keys(&self) -> (&'static str, &'static str) {
        match self {
            FeatureNet::Classifier(_) => ("fcd", "classifier_score"),
            FeatureNet::Inception(_) => ("fid", "inception_score"),
        }
    }
}

/// Fewest samples per set for which every metric is defined (k = 3 neighbours, KID subsets).
pub use super::image::MIN_SAMPLES;

/// Reference images embedded once, so repeated evaluations (during training) pay only for the
/// samples.
pub struct Reference {
    pub features: Tensor,
}

impl Reference {
    pub fn new(c: &FeatureNet, real: &Tensor) -> Reference {
        Reference { features: c.embed(real).0 }
    }
}

/// FCD (or FID), KID, classifier (or Inception) score, precision/recall/density/coverage and
/// the class histogram of `fake` images (in [−1, 1]) against the reference.
pub fn image_metrics(c: &FeatureNet, fake: &Tensor, reference: &Reference, seed: u64) -> Result<Map<String, Value>> {
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
    let (distance_key, score_key) = c.keys();
    let mut m = Map::new();
    for (k, v) in [
        (distance_key, json!(fcd)),
        ("kid", json!(kid)),
        ("kid_std", json!(kid_std)),
        (score_key, json!(score)),
        (if distance_key == "fcd" { "classifier_score_std" } else { "inception_score_std" }, json!(score_std)),
        ("precision", json!(precision)),
        ("recall", json!(recall)),
        ("density", json!(density)),
        ("coverage", json!(coverage)),
        ("class_histogram", json!(hist)),
        ("class_kl", json!(kl)),
        ("samples", json!(nf)),
        ("reference_samples", json!(nr)),
        ("feature_network", json!(c.identity())),
    ] {
        m.insert(k.into(), v);
    }
    Ok(m)
}
