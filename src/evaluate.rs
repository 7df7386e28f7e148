//! Scoring a generator: the PacGAN protocol on built-in mixtures, the sliced Wasserstein
//! distance on point data, the critic's own estimate (WGAN distance, f-divergence), and for
//! images the classifier-feature metrics of `metrics::suite`. An `Evaluator` prepares what is
//! fixed (the classifier, the reference features, the data) once, so that evaluating during
//! training costs only the samples.
use crate::classifier::{self, Classifier};
use crate::config::Config;
use crate::data::{self, DataConfig, Dataset, Shape, synthetic::Synthetic};
use crate::error::{Error, Result};
use crate::method::{DataInfo, FigureContext, Method, NoiseSampler};
use crate::metrics::suite::{self, FeatureNet, Inception, Reference};
use crate::metrics::{image, mixture, sliced};
use crate::rng;
use crate::viz::to_rows;
use serde_json::{Map, Value, json};
use std::path::Path;
use tch::{Device, Tensor};

/// Which feature network scores images.
#[derive(Debug, Clone, Default)]
pub enum Features {
    /// The cached evaluation classifier for the data (trained on first use).
    #[default]
    CachedClassifier,
    /// A classifier file from `gantry classifier train`.
    Classifier(std::path::PathBuf),
    /// FID Inception-v3 weights converted by `scripts/convert_inception.py`.
    Inception(std::path::PathBuf),
}

impl Features {
    fn classifier_file(&self) -> Option<&Path> {
        match self {
            Features::Classifier(p) => Some(p),
            _ => None,
        }
    }

    /// The feature network for data `source`.
    pub fn load(&self, source: &str, device: Device, quiet: bool) -> Result<FeatureNet> {
        match self {
            Features::Inception(p) => Ok(FeatureNet::Inception(Box::new(Inception::load(p, device)?))),
            _ => Ok(FeatureNet::Classifier(Box::new(eval_classifier(source, self.classifier_file(), device, quiet)?))),
        }
    }
}

enum Prepared {
    Images {
        net: FeatureNet,
        reference: Reference,
    },
    /// Stacked MNIST: each channel classified by the base digits' classifier.
    Stacked {
        classifier: Classifier,
    },
    Points {
        data: Dataset,
    },
}

pub struct Evaluator {
    prepared: Prepared,
    data: DataConfig,
    device: Device,
}

/// The classifier named by `--classifier` (checked against the data), or the cached one for
/// `source`, trained on first use.
pub fn eval_classifier(source: &str, file: Option<&Path>, device: Device, quiet: bool) -> Result<Classifier> {
    match file {
        Some(p) => {
            let c = Classifier::load(p, device)?;
            c.check_data(source, p)?;
            Ok(c)
        }
        None => Ok(classifier::for_data(source, device, quiet)?.0),
    }
}

/// Up to `n` real images to compare against: the data's `t10k` split when it has one, else
/// its training split.
pub fn reference_images(data: &DataConfig, n: i64, seed: u64, device: Device) -> Result<Tensor> {
    Ok(reference_with_labels(data, n, seed, device)?.0)
}

fn reference_with_labels(data: &DataConfig, n: i64, seed: u64, device: Device) -> Result<(Tensor, Option<Tensor>)> {
    let set = match Dataset::load_split(data, "t10k", device) {
        Ok(s) => s,
        Err(_) => Dataset::load(data, device)?,
    };
    Ok(set.reference_with_labels(n, seed))
}

/// `n` samples of a noise-fed method from `seed`, generated 500 at a time.
pub fn generate_many(s: &dyn NoiseSampler, n: i64, seed: u64) -> Tensor {
    rng::seed_torch(seed, rng::stream::SAMPLE, 0);
    let z = s.latents(n);
    let bar = crate::progress::bar(n as u64, "samples", n < 20_000);
    let parts: Vec<Tensor> = (0..n)
        .step_by(500)
        .map(|i| {
            bar.inc(500.min(n - i) as u64);
            s.generate(&z.narrow(0, i, 500.min(n - i)))
        })
        .collect();
    bar.finish_and_clear();
    Tensor::cat(&parts, 0)
}

/// Modes of Stacked MNIST covered by samples `[n, 3, h, w]` (of 1000) and the KL divergence of
/// their histogram to uniform, each channel's digit read by the base classifier.
pub fn stacked_modes(c: &Classifier, x: &Tensor) -> Map<String, Value> {
    let digits: Vec<Tensor> = (0..3).map(|ch| c.embed(&x.narrow(1, ch, 1)).1.argmax(1, false)).collect();
    let mode = &digits[0] * 100 + &digits[1] * 10 + &digits[2];
    let counts: Vec<i64> = Vec::try_from(mode.to_device(Device::Cpu).bincount::<Tensor>(None, 1000)).expect("counts");
    let mut out = Map::new();
    out.insert("modes".into(), json!(counts.iter().filter(|&&k| k > 0).count()));
    out.insert("total_modes".into(), json!(1000));
    out.insert("kl".into(), json!(image::kl_to_uniform(&counts)));
    out.insert("samples".into(), json!(x.size()[0]));
    out.insert("feature_network".into(), json!(c.identity));
    out
}

impl Evaluator {
    pub fn new(
        cfg: &Config,
        info: DataInfo,
        n: i64,
        seed: u64,
        features: &Features,
        device: Device,
        quiet: bool,
    ) -> Result<Evaluator> {
        let prepared = match info.shape {
            Shape::Image { .. } if data::stacked_base(&cfg.data.source).is_some() => {
                let base = data::stacked_base(&cfg.data.source).expect("checked");
                Prepared::Stacked { classifier: eval_classifier(base, features.classifier_file(), device, quiet)? }
            }
            Shape::Image { .. } => {
                let net = features.load(&cfg.data.source, device, quiet)?;
                let reference = Reference::new(&net, &reference_images(&cfg.data, n, seed, device)?);
                Prepared::Images { net, reference }
            }
            Shape::Points { .. } => Prepared::Points { data: Dataset::load(&cfg.data, device)? },
        };
        Ok(Evaluator { prepared, data: cfg.data.clone(), device })
    }

    /// Scores `n` samples of `method` drawn with `seed`, with the method's own figures.
    pub fn evaluate(&self, method: &dyn Method, n: i64, seed: u64) -> Result<Map<String, Value>> {
        let s = method.noise().ok_or_else(|| {
            Error::Usage("this run has no noise-fed generator to sample; evaluate a translation run with its test folders (gantry eval --run RUN)".into())
        })?;
        let x = generate_many(s, n, seed);
        let classifier = match &self.prepared {
            Prepared::Images { net: FeatureNet::Classifier(c), .. } => Some(c.as_ref()),
            _ => None,
        };
        let ctx =
            FigureContext { data: &self.data, device: self.device, classifier, samples: n, seed, drawn: Some(&x) };
        let mut m = match &self.prepared {
            Prepared::Images { net, reference } => suite::image_metrics(net, &x, reference, seed)?,
            Prepared::Stacked { classifier } => stacked_modes(classifier, &x),
            Prepared::Points { data } => {
                let mut out = Map::new();
                out.insert("samples".into(), json!(n));
                let pts = to_rows(&x)?;
                if let Some(Synthetic::Mixture(m)) = data.synthetic() {
                    let pts2: Vec<[f64; 2]> = pts.iter().map(|p| [p[0], p[1]]).collect();
                    let score = mixture::score(&pts2, m);
                    out.insert("modes".into(), json!(score.modes));
                    out.insert("total_modes".into(), json!(score.total_modes));
                    out.insert("high_quality".into(), json!(score.high_quality));
                    out.insert(
                        "reverse_kl".into(),
                        if score.reverse_kl.is_finite() { json!(score.reverse_kl) } else { Value::Null },
                    );
                }
                let real = data.reference(n, seed);
                if let Some((key, est)) = s.critic_estimate(&real, &x) {
                    // the critic's bound on fresh samples: the divergence (f-GAN) or distance (WGAN)
                    out.insert(key.trim_start_matches("d/").into(), json!(est.double_value(&[])));
                }
                let reference = to_rows(&real)?;
                let m = pts.len().min(reference.len());
                out.insert(
                    "sliced_wasserstein".into(),
                    json!(sliced::sliced_wasserstein(&pts[..m], &reference[..m], 256, seed)),
                );
                out.insert("reference_samples".into(), json!(m));
                out
            }
        };
        // the method's own figures read labelled images (a test split, a classifier)
        if matches!(self.prepared, Prepared::Images { .. }) {
            m.extend(method.figures(&ctx)?);
        }
        Ok(m)
    }
}
