//! Scoring a generator: the PacGAN protocol on built-in mixtures, the sliced Wasserstein
//! distance on point data, the critic's own estimate (WGAN distance, f-divergence), and for
//! images the classifier-feature metrics of `metrics::suite`. An `Evaluator` prepares what is
//! fixed (the classifier, the reference features, the data) once, so that evaluating during
//! training costs only the samples.
use crate::classifier::{self, Classifier};
use crate::config::{Config, DataConfig, MethodKind};
use crate::data::{self, Dataset, Shape, synthetic::Synthetic};
use crate::error::Result;
use crate::method::{Method, codes};
use crate::metrics::suite::{self, FeatureNet, Inception, Reference};
use crate::metrics::{image, mixture, sliced};
use crate::objective::Adversarial;
use crate::rng;
use crate::sample::to_rows;
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
        /// InfoGAN's code accuracy reads these: the whole labelled test split (else the labelled
        /// reference sample, for data without one), whatever the number of samples scored.
        labelled: Option<(Tensor, Tensor)>,
        /// The whole labelled test split, for a semi-supervised run's test error.
        test: Option<(Tensor, Tensor)>,
    },
    /// Stacked MNIST: each channel classified by the base digits' classifier.
    Stacked {
        classifier: Classifier,
    },
    Points {
        data: Dataset,
        objective: Adversarial,
    },
}

pub struct Evaluator {
    prepared: Prepared,
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

/// The labelled test split (`t10k`) of `data`, for the semi-supervised GAN's test error.
pub fn test_split(data: &DataConfig, device: Device) -> Result<(Tensor, Tensor)> {
    let set = Dataset::load_split(data, "t10k", device)?;
    match set.tensors() {
        Some((x, Some(y))) => Ok((x.shallow_clone(), y.shallow_clone())),
        _ => Err(crate::error::Error::Config(format!("the data `{}` has no labelled t10k split", data.source))),
    }
}

/// The fraction of `x` that a classifying method (the semi-supervised GAN's discriminator)
/// labels other than `y`; `None` for methods that do not classify.
pub fn test_error(method: &dyn Method, x: &Tensor, y: &Tensor) -> Option<f64> {
    let n = x.size()[0];
    let mut wrong = 0i64;
    for i in (0..n).step_by(1000) {
        let m = 1000.min(n - i);
        let logits = method.classify(&x.narrow(0, i, m))?;
        wrong += logits.argmax(1, false).ne_tensor(&y.narrow(0, i, m)).sum(tch::Kind::Int64).int64_value(&[]);
    }
    Some(wrong as f64 / n.max(1) as f64)
}

/// `n` samples of `method` from `seed`, generated 500 at a time.
pub fn generate_many(method: &dyn Method, n: i64, seed: u64) -> Tensor {
    rng::seed_torch(seed, rng::stream::SAMPLE, 0);
    let z = method.latents(n);
    let parts: Vec<Tensor> = (0..n).step_by(500).map(|i| method.generate(&z.narrow(0, i, 500.min(n - i)))).collect();
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

/// The fraction of a conditional generator's samples that the classifier assigns to the class
/// they were asked for (`n` samples, the classes in order): overall, then for each class.
pub fn class_accuracy(method: &dyn Method, c: &Classifier, n: i64, classes: i64, seed: u64) -> (f64, Vec<f64>) {
    rng::seed_torch(seed, rng::stream::SAMPLE, 2);
    let z = method.latents_for(n, None);
    let parts: Vec<Tensor> = (0..n).step_by(500).map(|i| method.generate(&z.narrow(0, i, 500.min(n - i)))).collect();
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

impl Evaluator {
    pub fn new(
        cfg: &Config,
        shape: Shape,
        n: i64,
        seed: u64,
        features: &Features,
        device: Device,
        quiet: bool,
    ) -> Result<Evaluator> {
        let prepared = match shape {
            Shape::Image { .. } if data::stacked_base(&cfg.data.source).is_some() => {
                let base = data::stacked_base(&cfg.data.source).expect("checked");
                Prepared::Stacked { classifier: eval_classifier(base, features.classifier_file(), device, quiet)? }
            }
            Shape::Image { .. } => {
                let net = features.load(&cfg.data.source, device, quiet)?;
                let (x, labels) = reference_with_labels(&cfg.data, n, seed, device)?;
                let reference = Reference::new(&net, &x);
                let test = if cfg.method == MethodKind::Semi { Some(test_split(&cfg.data, device)?) } else { None };
                let labelled = if cfg.method == MethodKind::Infogan {
                    test_split(&cfg.data, device).ok().or_else(|| labels.map(|l| (x, l)))
                } else {
                    None
                };
                Prepared::Images { net, reference, labelled, test }
            }
            Shape::Points { .. } => Prepared::Points {
                data: Dataset::load(&cfg.data, device)?,
                objective: Adversarial::from_config(&cfg.objective),
            },
        };
        Ok(Evaluator { prepared })
    }

    /// Scores `n` samples of `method` drawn with `seed`.
    pub fn evaluate(&self, method: &dyn Method, n: i64, seed: u64) -> Result<Map<String, Value>> {
        let x = generate_many(method, n, seed);
        match &self.prepared {
            Prepared::Images { net, reference, labelled, test } => {
                let mut m = suite::image_metrics(net, &x, reference, seed)?;
                if let Some((tx, ty)) = test
                    && let Some(e) = test_error(method, tx, ty)
                {
                    m.insert("test_error".into(), json!(e));
                    m.insert("test_samples".into(), json!(tx.size()[0]));
                }
                if let (Some((images, labels)), Some((codes, _))) = (labelled, method.codes())
                    && let Some(k) = codes.categorical.first()
                {
                    let total = images.size()[0];
                    let parts: Vec<Tensor> = (0..total)
                        .step_by(1000)
                        .map(|i| {
                            let logits = method.code_logits(&images.narrow(0, i, 1000.min(total - i)));
                            logits.expect("InfoGAN has a categorical code").argmax(1, false)
                        })
                        .collect();
                    let pred: Vec<i64> = Vec::try_from(Tensor::cat(&parts, 0).to_device(Device::Cpu)).expect("ints");
                    let want: Vec<i64> = Vec::try_from(labels.to_device(Device::Cpu)).expect("ints");
                    let classes = (*k as usize).max(want.iter().max().map_or(0, |m| *m as usize + 1));
                    m.insert("code_accuracy".into(), json!(codes::matched_accuracy(&pred, &want, classes)));
                    m.insert("code_samples".into(), json!(total));
                }
                if let (k @ 1.., FeatureNet::Classifier(c)) = (method.classes(), net) {
                    let (all, per) = class_accuracy(method, c, n, k, seed);
                    m.insert("class_accuracy".into(), json!(all));
                    m.insert("class_accuracy_per_class".into(), json!(per));
                }
                Ok(m)
            }
            Prepared::Stacked { classifier } => Ok(stacked_modes(classifier, &x)),
            Prepared::Points { data, objective } => {
                let mut out = Map::new();
                out.insert("samples".into(), json!(n));
                let pts = to_rows(&x)?;
                if let Some(Synthetic::Mixture(m)) = data.synthetic() {
                    let pts2: Vec<[f64; 2]> = pts.iter().map(|p| [p[0], p[1]]).collect();
                    let s = mixture::score(&pts2, m);
                    out.insert("modes".into(), json!(s.modes));
                    out.insert("total_modes".into(), json!(s.total_modes));
                    out.insert("high_quality".into(), json!(s.high_quality));
                    out.insert(
                        "reverse_kl".into(),
                        if s.reverse_kl.is_finite() { json!(s.reverse_kl) } else { Value::Null },
                    );
                }
                let real = data.reference(n, seed);
                if let (Some(key), Some(est)) =
                    (objective.estimate_key(), objective.estimate(&method.critic(&real), &method.critic(&x)))
                {
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
                Ok(out)
            }
        }
    }
}
