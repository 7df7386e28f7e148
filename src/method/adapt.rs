//! Domain adaptation for the weight-sharing methods (CoGAN, UNIT), as their papers do it: a
//! classifier head on the discriminator's shared layers is trained on the labelled source
//! domain's images beside the adversarial game (weight `class_weight`), and classifies the
//! target domain's images through the target's own first layers and the same shared ones.
//!
//! Its baseline trains in the same run on the same source batches: a network of the same
//! architecture (the source's first layers, the shared layers, the head) updated on the
//! classification loss alone, never seeing the target domain, then applied to the target's
//! images through the source's layers (`source_only_accuracy`).
use super::{FigureContext, Figures, Metrics};
use crate::data::Data;
use crate::data::unpaired::{Side, Unpaired};
use crate::error::{Error, Result};
use crate::train::TrainConfig;
use crate::train::checkpoint::named_variables;
use crate::train::optim::Optimizer;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tch::nn::{self, VarStore};
use tch::{Device, Kind, Tensor};

/// `labels_from` of a method's section: which domain's labels train the classifier head.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelsFrom {
    #[default]
    None,
    A,
    B,
}

impl LabelsFrom {
    pub fn side(self) -> Option<Side> {
        match self {
            LabelsFrom::None => None,
            LabelsFrom::A => Some(Side::A),
            LabelsFrom::B => Some(Side::B),
        }
    }
}

/// The head's source domain and classes.
#[derive(Clone, Copy, Debug)]
pub struct Adapt {
    pub source: Side,
    pub classes: i64,
}

impl Adapt {
    /// The adaptation a method's `labels_from` asks for, for data of `classes` classes.
    pub fn new(from: LabelsFrom, classes: i64, method: &str) -> Result<Option<Adapt>> {
        let Some(source) = from.side() else { return Ok(None) };
        if classes < 2 {
            return Err(Error::Config(format!(
                "`{method}.labels_from = \"{}\"` (--labels-from) needs labels: the data has no labels{}.csv with two or more classes (`file,label` lines)",
                source.name().to_lowercase(),
                source.name()
            )));
        }
        Ok(Some(Adapt { source, classes }))
    }

    /// The source labels of batch `step`; the loop has checked the labels file when preparing.
    pub fn labels(&self, data: &Data, step: u64, n: i64, seed: u64) -> Tensor {
        data.two().batch_labels(step, n, seed, self.source).expect("labels checked in prepare")
    }

    /// Refuses data whose source domain has no labels file (or an unlabelled training file).
    pub fn prepare(&self, data: &Data, batch: i64, seed: u64) -> Result<()> {
        data.two().batch_labels(0, batch, seed, self.source).map(|_| ())
    }

    /// Class logits `[n, K]` of a head's output map.
    pub fn logits(map: &Tensor) -> Tensor {
        map.mean_dim([2, 3].as_slice(), false, Kind::Float)
    }

    /// `adaptation_accuracy` (the shared head on the target's test images), `source_accuracy`
    /// (on the source's) and `source_only_accuracy` (the baseline on the target's), for
    /// `classify(x, side)` and `baseline(x)` giving logits.
    pub fn figures(
        &self,
        ctx: &FigureContext,
        classify: &dyn Fn(&Tensor, Side) -> Tensor,
        baseline: &dyn Fn(&Tensor) -> Tensor,
    ) -> Result<Figures> {
        let data = Unpaired::load(ctx.data, ctx.device)?;
        let target = self.source.other();
        let accuracy = |f: &dyn Fn(&Tensor) -> Tensor, x: &Tensor, y: &Tensor| -> f64 {
            let n = x.size()[0];
            let hits: i64 = (0..n)
                .step_by(500)
                .map(|i| {
                    let k = 500.min(n - i);
                    let p = tch::no_grad(|| f(&x.narrow(0, i, k))).argmax(1, false);
                    p.eq_tensor(&y.narrow(0, i, k).to_device(p.device())).sum(Kind::Int64).int64_value(&[])
                })
                .sum();
            hits as f64 / n.max(1) as f64
        };
        let mut out: Figures = vec![("labels_from".into(), json!(self.source.name().to_lowercase()))];
        let labelled = |s: Side| -> Result<Option<(Tensor, Tensor, &'static str)>> {
            if let Some(t) = data.test(s)?.filter(|t| t.labels.is_some()) {
                return Ok(Some((t.x, t.labels.expect("filtered"), "test")));
            }
            Ok(data.labelled_train(s)?.and_then(|t| t.labels.map(|l| (t.x, l, "train"))))
        };
        if let Some((x, y, split)) = labelled(target)? {
            out.push(("adaptation_accuracy".into(), json!(accuracy(&|x| classify(x, target), &x, &y))));
            out.push(("source_only_accuracy".into(), json!(accuracy(baseline, &x, &y))));
            out.push(("target_split".into(), json!(split)));
        }
        if let Some((x, y, _)) = labelled(self.source)? {
            out.push(("source_accuracy".into(), json!(accuracy(&|x| classify(x, self.source), &x, &y))));
        }
        Ok(out)
    }
}

/// Cross-entropy of class logits `[n, K]` against labels.
pub fn class_loss(logits: &Tensor, labels: &Tensor) -> Tensor {
    logits.cross_entropy_for_logits(labels)
}

/// A discriminator whose activations under its last layer a classifier head can read.
pub trait SharedFeatures {
    /// Activations of images `x` of domain `side` (0 = A, 1 = B) through that domain's own
    /// layers and the shared ones, before the logit layer.
    fn features(&self, x: &Tensor, side: usize) -> Tensor;
}

/// A method's adaptation: the head on its discriminator and the source-only baseline (a second
/// discriminator of the same architecture with its own head and optimiser).
pub struct Adaptation<D> {
    pub a: Adapt,
    head: nn::Conv2D,
    base_vs: VarStore,
    base: D,
    base_head: nn::Conv2D,
    opt_base: Optimizer,
}

impl<D: SharedFeatures> Adaptation<D> {
    /// A head of `width` → K under `cls` in `d_vs`; `base` built in `base_vs` the same way as D.
    /// The baseline's optimiser holds what classifies the source: its variables named
    /// `{source}.…`, `shared.…` and `cls.…`, except those of the logit layer (`logit_layer`).
    /// `init` initialises the baseline's store once its head exists.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        a: Adapt,
        d_vs: &VarStore,
        width: i64,
        base_vs: VarStore,
        base: D,
        logit_layer: &str,
        train: &TrainConfig,
        init: &dyn Fn(&VarStore),
    ) -> Self {
        let head = nn::conv2d(d_vs.root() / "cls", width, a.classes, 1, Default::default());
        let base_head = nn::conv2d(base_vs.root() / "cls", width, a.classes, 1, Default::default());
        init(&base_vs);
        let own = format!("{}.", a.source.name().to_lowercase());
        let used = named_variables(&base_vs)
            .into_iter()
            .filter(|(k, t)| {
                t.requires_grad()
                    && (k.starts_with(&own) || k.starts_with("shared.") || k.starts_with("cls."))
                    && !k.contains(logit_layer)
            })
            .collect();
        let opt_base = Optimizer::new(train, used);
        Adaptation { a, head, base_vs, base, base_head, opt_base }
    }

    /// The head's logits of D's features of `x`.
    pub fn classify(&self, d: &D, x: &Tensor, side: usize) -> Tensor {
        Adapt::logits(&d.features(x, side).apply(&self.head))
    }

    /// The head's loss on the source's images `src` of batch `step` (to add to D's loss), after
    /// one update of the baseline on the same batch at learning rate `lr`. `features`: D's
    /// features of `src` when the caller has them from its own pass (else D runs here).
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        d: &D,
        data: &Data,
        src: &Tensor,
        features: Option<&Tensor>,
        step: u64,
        n: i64,
        seed: u64,
        lr: f64,
    ) -> (Tensor, Metrics) {
        let labels = self.a.labels(data, step, n, seed);
        let side = self.a.source as usize;
        let logits = match features {
            Some(f) => Adapt::logits(&f.apply(&self.head)),
            None => self.classify(d, src, side),
        };
        let class = class_loss(&logits, &labels);
        let base = class_loss(&Adapt::logits(&self.base.features(src, side).apply(&self.base_head)), &labels);
        let params = self.opt_base.params();
        let grads = crate::dist::gradients(&base, &params, false);
        self.opt_base.update(&grads, lr);
        let m = vec![("d/class", class.detach()), ("source_only/class", base.detach())];
        (class, m)
    }

    /// The figures of `Adapt::figures` for D on `device`.
    pub fn figures(&self, d: &D, ctx: &FigureContext, device: Device) -> Result<Figures> {
        let src = self.a.source as usize;
        self.a.figures(ctx, &|x, side| self.classify(d, &x.to(device), side as usize), &|x| {
            Adapt::logits(&self.base.features(&x.to(device), src).apply(&self.base_head))
        })
    }

    /// The baseline's network and optimiser, for a checkpoint.
    pub fn store(&self) -> (&'static str, &VarStore) {
        ("source_only", &self.base_vs)
    }

    pub fn optimizer(&mut self) -> (&'static str, &mut Optimizer) {
        ("source_only", &mut self.opt_base)
    }
}

/// What a method with optional adaptation (`ad`) checkpoints beside its G and D stores.
pub fn stores<'a, D: SharedFeatures>(
    g: &'a VarStore,
    d: &'a VarStore,
    ad: &'a Option<Adaptation<D>>,
) -> Vec<(&'static str, &'a VarStore)> {
    let mut s = vec![("g", g), ("d", d)];
    s.extend(ad.as_ref().map(|ad| ad.store()));
    s
}

/// The optimisers matching `stores`.
pub fn optimizers<'a, D: SharedFeatures>(
    g: &'a mut Optimizer,
    d: &'a mut Optimizer,
    ad: &'a mut Option<Adaptation<D>>,
) -> Vec<(&'static str, &'a mut Optimizer)> {
    let mut o = vec![("g", g), ("d", d)];
    o.extend(ad.as_mut().map(|ad| ad.optimizer()));
    o
}

/// `Method::prepare` of a method with optional adaptation: refuses data without the source's labels.
pub fn prepare<D: SharedFeatures>(ad: &Option<Adaptation<D>>, data: &Data, batch: i64, seed: u64) -> Result<()> {
    match ad {
        Some(ad) => ad.a.prepare(data, batch, seed),
        None => Ok(()),
    }
}

/// `Method::figures` of a method whose only figures are adaptation's (none without it).
pub fn figures<D: SharedFeatures>(
    ad: &Option<Adaptation<D>>,
    d: &D,
    ctx: &FigureContext,
    device: Device,
) -> Result<Figures> {
    match ad {
        Some(ad) => ad.figures(d, ctx, device),
        None => Ok(vec![]),
    }
}
