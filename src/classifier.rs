//! The evaluation classifier as a feature network: training it on a labelled set, saving it
//! with its provenance (a `__meta__` tensor of JSON inside the safetensors file), loading it,
//! caching one per data set, and embedding images. Its identity — a hash of its weights — is
//! reported beside every metric computed with it, since Fréchet distances and the like are
//! comparable only under one fixed feature network.
use crate::data::DataConfig;
use crate::data::{self, Dataset};
use crate::error::{Error, Result, io_err};
use crate::nets::classifier::Cnn;
use crate::rng;
use crate::train::TrainConfig;
use crate::train::{checkpoint::named_variables, optim::Optimizer, schedule};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

/// Where a classifier came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub arch: String,
    pub channels: i64,
    pub size: i64,
    pub classes: i64,
    /// The DATA it was trained on, and that data's content hash (`data::identity`).
    pub data: String,
    pub data_hash: String,
    pub test_accuracy: f64,
    pub epochs: u64,
    pub seed: u64,
}

pub const ARCH: &str = "gantry-cnn-v1";

pub struct Classifier {
    vs: VarStore,
    net: Cnn,
    pub meta: Meta,
    /// `gantry-cnn-v1:<hash of the weights>`.
    pub identity: String,
}

/// Training settings of `gantry classifier train`.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub epochs: u64,
    pub batch_size: i64,
    pub lr: f64,
    pub seed: u64,
    pub quiet: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions { epochs: 8, batch_size: 128, lr: 2e-3, seed: 0, quiet: false }
    }
}

/// `gantry-cnn-v1:<hash of the weights>` of a classifier's store.
pub fn weights_identity(vs: &VarStore) -> String {
    format!("{ARCH}:{}", weights_hash(vs))
}

/// A short hash of a store's variables (names and values).
pub fn weights_hash(vs: &VarStore) -> String {
    let mut h = Sha256::new();
    for (name, t) in named_variables(vs) {
        h.update(name.as_bytes());
        let t = t.to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
        let v: Vec<f32> = Vec::try_from(t.flatten(0, -1)).expect("float weights");
        for x in v {
            h.update(x.to_le_bytes());
        }
    }
    h.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Writes a store's variables and a `__meta__` tensor of JSON `meta` as one safetensors file
/// (through a temporary file, so a failed write leaves no half file).
pub fn save_with_meta(vs: &VarStore, meta: &[u8], path: &Path) -> Result<()> {
    let mut tensors = named_variables(vs);
    tensors.push(("__meta__".into(), Tensor::from_slice(meta)));
    let cpu: Vec<(String, Tensor)> =
        tensors.into_iter().map(|(n, t)| (n, t.to_device(Device::Cpu).contiguous())).collect();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let tmp = path.with_extension("tmp");
    Tensor::write_safetensors(&cpu, &tmp).map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// The `__meta__` bytes of a file `save_with_meta` wrote; `what` names the kind of network and
/// `make` the command that makes one, for the errors.
pub fn read_meta(path: &Path, what: &str, make: &str) -> Result<Vec<u8>> {
    let bad = |msg: String| Error::Checkpoint { path: path.to_path_buf(), msg };
    if !path.is_file() {
        return Err(bad(format!("no such {what} file; make one with `{make}`")));
    }
    let saved = Tensor::read_safetensors(path).map_err(|e| bad(format!("not a safetensors file ({e})")))?;
    let meta_t = saved
        .iter()
        .find(|(n, _)| n == "__meta__")
        .ok_or_else(|| bad(format!("has no gantry {what} metadata; it is not a file written by `{make}`")))?;
    Vec::try_from(&meta_t.1).map_err(|e: tch::TchError| bad(e.to_string()))
}

/// Resizes and converts images `[n, c, h, w]` to what a network of `channels` × `size` takes.
pub fn adapt(x: &Tensor, channels: i64, size: i64) -> Tensor {
    let mut x = x.shallow_clone();
    let c = x.size()[1];
    if c != channels {
        x = if channels == 1 { x.mean_dim(1, true, Kind::Float) } else { x.repeat([1, channels, 1, 1]) };
    }
    if x.size()[2] != size || x.size()[3] != size {
        x = x.upsample_bilinear2d([size, size], false, None, None);
    }
    x
}

impl Classifier {
    /// Trains on `source`'s train split and measures accuracy on its `t10k` split. An image
    /// folder of one split holds out a seeded sixth of it (seed 0, so every run of gantry holds
    /// out the same images) as the test split.
    pub fn train(source: &str, opts: &TrainOptions, device: Device) -> Result<Classifier> {
        let mut cfg = DataConfig { source: source.to_string(), ..Default::default() };
        let folder = data::folder::is_image_folder(std::path::Path::new(source));
        if folder && data::folder::needs_size(std::path::Path::new(source))? {
            // images of several sizes: read at one side (inputs are resized to it when scored)
            cfg.image_size = data::folder::CLASSIFIER_SIDE;
        }
        let mut train = Dataset::load_split(&cfg, "train", device)?;
        let one_split = folder && data::folder::split_dir(std::path::Path::new(source), "t10k").is_err();
        let test = if one_split {
            let (x, y) =
                train.tensors().map(|(x, y)| (x.shallow_clone(), y.map(Tensor::shallow_clone))).expect("a finite set");
            let n = x.size()[0];
            let perm =
                Tensor::from_slice(&rng::permutation(n as usize, rng::derive(0, rng::stream::LABELS, 77))).to(device);
            let held = (n / 6).max(1);
            let (test_idx, train_idx) = (perm.narrow(0, 0, held), perm.narrow(0, held, n - held));
            let pick = |i: &Tensor| (x.index_select(0, i), y.as_ref().map(|y| y.index_select(0, i)));
            let (tx, ty) = pick(&test_idx);
            let (rx, ry) = pick(&train_idx);
            train = Dataset::from_tensors(source, rx, ry);
            Dataset::from_tensors(source, tx, ty)
        } else {
            Dataset::load_split(&cfg, "t10k", device)?
        };
        let no_labels = || Error::Data {
            path: PathBuf::from(source),
            msg: "a classifier needs labelled images: an MNIST-format folder with train and t10k images and labels"
                .into(),
        };
        let Some((test_x, Some(test_labels))) = test.tensors() else { return Err(no_labels()) };
        if !matches!(train.tensors(), Some((_, Some(_)))) {
            return Err(no_labels());
        }
        Classifier::train_on(&train, (test_x, test_labels), source, &data::identity(source)?, opts)
    }

    /// Trains on the labelled set `train` and measures accuracy on `test`; `name` and `hash`
    /// say what the data was in the classifier's provenance.
    pub fn train_on(
        train: &Dataset,
        test: (&Tensor, &Tensor),
        name: &str,
        hash: &str,
        opts: &TrainOptions,
    ) -> Result<Classifier> {
        let device = train.device();
        let (test_x, test_labels) = test;
        let no_labels = || Error::Data { path: PathBuf::from(name), msg: "a classifier needs labelled images".into() };
        let Some((_, Some(train_labels))) = train.tensors() else { return Err(no_labels()) };
        let crate::data::Shape::Image { channels, size } = train.shape else { return Err(no_labels()) };
        if size % 8 != 0 && size != 28 {
            return Err(Error::Data {
                path: name.into(),
                msg: format!("images of side {size}: the classifier needs a side of 28 or a multiple of 8"),
            });
        }
        let classes = train_labels.max().int64_value(&[]).max(test_labels.max().int64_value(&[])) + 1;
        rng::seed_torch(opts.seed, rng::stream::INIT, 7);
        let vs = VarStore::new(device);
        let net = Cnn::new(vs.root(), channels, size, classes);
        let params: Vec<(String, Tensor)> =
            named_variables(&vs).into_iter().filter(|(_, t)| t.requires_grad()).collect();
        let tc = TrainConfig { beta1: 0.9, beta2: 0.999, ..Default::default() };
        let mut opt = Optimizer::new(&tc, params);
        let n = train.len().unwrap_or(0);
        let per_epoch = (n / opts.batch_size).max(1) as u64;
        let total = per_epoch * opts.epochs;
        let bar = crate::progress::bar(total, "classifier", opts.quiet);
        for step in 0..total {
            rng::seed_torch(opts.seed, rng::stream::STEP, step);
            let (x, y) = train.batch_with_labels(step, opts.batch_size, opts.seed);
            let y = y.expect("labels checked above");
            // random translation by up to 2 pixels (one shift per batch), background −1
            let mut r = rng::SplitMix::new(rng::derive(opts.seed, rng::stream::SAMPLE, step));
            let (dx, dy) = (r.below(5) as i64, r.below(5) as i64);
            let x = (x + 1.0).constant_pad_nd([2, 2, 2, 2]).narrow(2, dy, size).narrow(3, dx, size) - 1.0;
            let logits = net.forward_t(&x, true);
            let loss = logits.cross_entropy_for_logits(&y);
            let grads = Tensor::run_backward(&[&loss], &opt.params(), false, false);
            opt.step(&grads, schedule::lr(opts.lr, crate::train::Schedule::Linear, 0, step, total));
            bar.inc(1);
            if (step + 1) % per_epoch == 0 && !bar.is_hidden() {
                bar.set_message(format!(
                    "epoch {}/{} loss {:.4}",
                    (step + 1) / per_epoch,
                    opts.epochs,
                    loss.double_value(&[])
                ));
            }
        }
        bar.finish_and_clear();
        let mut c = Classifier {
            identity: weights_identity(&vs),
            vs,
            net,
            meta: Meta {
                arch: ARCH.into(),
                channels,
                size,
                classes,
                data: name.to_string(),
                data_hash: hash.to_string(),
                test_accuracy: 0.0,
                epochs: opts.epochs,
                seed: opts.seed,
            },
        };
        c.meta.test_accuracy = c.accuracy(test_x, test_labels);
        Ok(c)
    }

    /// Fraction of `x` classified as `labels`.
    pub fn accuracy(&self, x: &Tensor, labels: &Tensor) -> f64 {
        let (_, logits) = self.embed(x);
        logits
            .argmax(1, false)
            .eq_tensor(&labels.to_device(logits.device()))
            .to_kind(Kind::Double)
            .mean(Kind::Double)
            .double_value(&[])
    }

    /// (the last convolution block's maps, the hidden features, logits) of images in [−1, 1]
    /// (resized and converted to what the network takes), in eval mode, differentiable.
    pub fn layers(&self, x: &Tensor) -> (Tensor, Tensor, Tensor) {
        self.net.layers(&adapt(x, self.meta.channels, self.meta.size), false)
    }

    /// The logits of hidden features `f` (`[n, 256]`), in eval mode, differentiable.
    pub fn logits_of(&self, f: &Tensor) -> Tensor {
        self.net.logits_of(f, false)
    }

    /// The store of the classifier's weights (a method that carries a classifier in its
    /// checkpoint saves and loads it).
    pub fn store(&self) -> &VarStore {
        &self.vs
    }

    /// A classifier of `meta`'s shape with fresh weights, to load saved weights into.
    pub fn blank(meta: Meta, device: Device) -> Classifier {
        let vs = VarStore::new(device);
        let net = Cnn::new(vs.root(), meta.channels, meta.size, meta.classes);
        Classifier { identity: String::new(), vs, net, meta }
    }

    /// Copies `other`'s weights (of the same shape) into this one and takes its provenance.
    pub fn copy_from(&mut self, other: &Classifier) -> Result<()> {
        self.vs.copy(&other.vs).map_err(|e| Error::Usage(format!("the classifier's weights do not fit: {e}")))?;
        self.meta = other.meta.clone();
        self.identity = other.identity.clone();
        Ok(())
    }

    /// (features, logits) of images in [−1, 1], in batches, in eval mode.
    pub fn embed(&self, x: &Tensor) -> (Tensor, Tensor) {
        let x = adapt(x, self.meta.channels, self.meta.size);
        let n = x.size()[0];
        let (mut f, mut l) = (vec![], vec![]);
        tch::no_grad(|| {
            for i in (0..n).step_by(500) {
                let part = x.narrow(0, i, 500.min(n - i)).to_device(self.vs.device());
                let (a, b) = self.net.features_logits(&part, false);
                f.push(a);
                l.push(b);
            }
        });
        (Tensor::cat(&f, 0), Tensor::cat(&l, 0))
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        save_with_meta(&self.vs, &serde_json::to_vec(&self.meta).expect("meta serialises"), path)
    }

    pub fn load(path: &Path, device: Device) -> Result<Classifier> {
        let bad = |msg: String| Error::Checkpoint { path: path.to_path_buf(), msg };
        let bytes = read_meta(path, "classifier", "gantry classifier train --data DATA --out FILE")?;
        let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| bad(format!("unreadable metadata ({e})")))?;
        if meta.arch != ARCH {
            return Err(bad(format!("holds a `{}` network; this gantry reads `{ARCH}`", meta.arch)));
        }
        let vs = VarStore::new(device);
        let net = Cnn::new(vs.root(), meta.channels, meta.size, meta.classes);
        crate::train::checkpoint::load_store(&vs, path)?;
        Ok(Classifier { identity: weights_identity(&vs), vs, net, meta })
    }

    /// Refuses to score data other than what the classifier was trained on.
    pub fn check_data(&self, source: &str, origin: &Path) -> Result<()> {
        let want = data::identity(source)?;
        if want != self.meta.data_hash {
            return Err(Error::Usage(format!(
                "the classifier {} was trained on `{}` (data hash {}), not on `{source}` (data hash {want}); its features would give meaningless numbers here. Train one with `gantry classifier train --data {source} --out FILE`, or drop --classifier to use the cached one",
                origin.display(),
                self.meta.data,
                self.meta.data_hash
            )));
        }
        Ok(())
    }
}

/// gantry's cache folder: `$GANTRY_CACHE`, else `$XDG_CACHE_HOME/gantry`, else `~/.cache/gantry`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("GANTRY_CACHE") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("gantry");
    }
    std::env::var_os("HOME").map_or_else(|| PathBuf::from(".gantry-cache"), |h| PathBuf::from(h).join(".cache/gantry"))
}

/// The cached classifier for `source`, trained (and cached) on first use.
pub fn for_data(source: &str, device: Device, quiet: bool) -> Result<(Classifier, PathBuf)> {
    let hash = data::identity(source)?;
    let path = cache_dir().join("classifiers").join(format!("{ARCH}-{hash}.safetensors"));
    if path.is_file() {
        return Ok((Classifier::load(&path, device)?, path));
    }
    if !quiet {
        eprintln!("training the evaluation classifier for `{source}` (first use; cached in {})", path.display());
    }
    let c = Classifier::train(source, &TrainOptions { quiet, ..Default::default() }, device)?;
    c.save(&path)?;
    Ok((c, path))
}

/// The cached classifier of a labelled image set known by content hash `hash` (a translation
/// domain's training images), trained on `train` on first use and tested on `test`.
pub fn for_images(
    name: &str,
    hash: &str,
    train: (&Tensor, &Tensor),
    test: (&Tensor, &Tensor),
    quiet: bool,
) -> Result<Classifier> {
    let device = train.0.device();
    let path = cache_dir().join("classifiers").join(format!("{ARCH}-{hash}.safetensors"));
    if path.is_file() {
        return Classifier::load(&path, device);
    }
    if !quiet {
        eprintln!("training the evaluation classifier for {name} (first use; cached in {})", path.display());
    }
    let set = Dataset::from_tensors(name, train.0.shallow_clone(), Some(train.1.shallow_clone()));
    let c = Classifier::train_on(&set, test, name, hash, &TrainOptions { quiet, ..Default::default() })?;
    c.save(&path)?;
    Ok(c)
}
