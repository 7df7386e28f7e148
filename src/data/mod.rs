//! Training data: where it comes from (`DATA` in the CLI), what shape the networks see, and the
//! batch for any position in the run, derived from the seed so that a resumed run draws the
//! same batches as a straight one.
pub mod captions;
pub mod folder;
pub mod idx;
pub mod points;
pub mod scenes;
pub mod synthetic;
pub mod unpaired;

use crate::error::{Error, Result};
use crate::rng;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Mutex;
use synthetic::Synthetic;
use tch::{Device, Kind, Tensor};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// A built-in set (`ring8`, `grid25`, `gaussians8`, `gaussians25`, `swissroll`,
    /// `fashion-mnist`), a folder of images (`folder`: one sub-folder per class for labels), a
    /// folder of MNIST-format IDX files, or a `.csv` / `.npy` file of points.
    pub source: String,
    /// Examples per discriminator batch (and noise vectors per generator batch).
    pub batch_size: i64,
    /// Side of the square images the networks see; 0 keeps the data's own size.
    pub image_size: i64,
    /// Channels the networks see (1 or 3); 0 keeps the data's own.
    pub channels: i64,
    /// Two-domain folders: each image is resized to `load_size` × `load_size` (0 keeps its own
    /// size), then a random `crop_size` square is cut (0 crops nothing; the images must then
    /// share one size), as the CycleGAN reference's resize-and-crop.
    pub load_size: i64,
    pub crop_size: i64,
    /// Two-domain folders: flip each training image left–right with probability ½.
    pub flip: bool,
    /// Image folders: skip files that do not decode (counted and reported) instead of stopping.
    pub skip_bad: bool,
    /// Data-parallel training: examples per rank. 0 splits `batch_size` evenly over the ranks
    /// (the global batch stays `batch_size`); otherwise the global batch is this × the ranks.
    pub batch_per_rank: i64,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            source: "fashion-mnist".into(),
            batch_size: 64,
            image_size: 0,
            channels: 0,
            load_size: 0,
            crop_size: 0,
            flip: false,
            skip_bad: false,
            batch_per_rank: 0,
        }
    }
}

impl DataConfig {
    /// The examples each of `ranks` ranks draws per batch (`batch_per_rank`, or `batch_size`
    /// split evenly).
    pub fn per_rank(&self, ranks: i64) -> Result<i64> {
        if self.batch_per_rank > 0 {
            return Ok(self.batch_per_rank);
        }
        if self.batch_size % ranks != 0 {
            return Err(Error::Config(format!(
                "`data.batch_size` = {} does not split evenly over {ranks} ranks; choose a multiple of {ranks}, or set data.batch_per_rank",
                self.batch_size
            )));
        }
        Ok(self.batch_size / ranks)
    }

    /// Checks values the types alone do not; `two_domains` says whether the method reads a
    /// two-domain folder (whose keys are `load_size`, `crop_size` and `flip`).
    pub fn check(&self, two_domains: bool) -> Result<()> {
        let bad = |key: &str, why: &str| Err(Error::Config(format!("`data.{key}` {why}")));
        if self.batch_per_rank < 0 || self.batch_per_rank > MAX_BATCH {
            return bad(
                "batch_per_rank",
                &format!("must be 0 (split batch_size) to {MAX_BATCH}, not {}", self.batch_per_rank),
            );
        }
        if !(1..=MAX_BATCH).contains(&self.batch_size) {
            return bad("batch_size", &format!("must be 1 to {MAX_BATCH}, not {}", self.batch_size));
        }
        if ![0, 1, 3].contains(&self.channels) {
            return bad("channels", "must be 0 (the data's own), 1 or 3");
        }
        if self.image_size < 0 || self.load_size < 0 || self.crop_size < 0 {
            return bad("image_size / load_size / crop_size", "must be 0 (the data's own) or a positive size");
        }
        if two_domains {
            if self.image_size != 0 {
                return bad(
                    "image_size",
                    "does not apply to a two-domain folder; its images are resized by data.load_size and cropped by data.crop_size",
                );
            }
            if self.load_size > 0 && self.crop_size > self.load_size {
                return bad(
                    "crop_size",
                    &format!("({}) must not exceed data.load_size ({})", self.crop_size, self.load_size),
                );
            }
        } else if self.load_size != 0 || self.crop_size != 0 || self.flip {
            return bad(
                "load_size / crop_size / flip",
                "apply to two-domain folders (trainA/, trainB/) of translation methods only; use data.image_size for this method",
            );
        }
        Ok(())
    }
}

/// The largest batch gantry accepts (a larger one is a typo, not a plan: it would not fit).
pub const MAX_BATCH: i64 = 65_536;

/// Where the Debian package `dataset-fashion-mnist` installs Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// What one example looks like to the networks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Image { channels: i64, size: i64 },
    Points { dim: i64 },
}

impl Shape {
    /// Number of values in one example.
    pub fn numel(&self) -> i64 {
        match *self {
            Shape::Image { channels, size } => channels * size * size,
            Shape::Points { dim } => dim,
        }
    }
    /// `[n, ...]` for a batch of n examples.
    pub fn batch_dims(&self, n: i64) -> Vec<i64> {
        match *self {
            Shape::Image { channels, size } => vec![n, channels, size, size],
            Shape::Points { dim } => vec![n, dim],
        }
    }
}

/// The training data of a run, of the kind its method consumes (`method::Batch`).
pub enum Data {
    /// One set of images or points (with labels when it has them).
    One(Dataset),
    /// Two unpaired image domains (translation methods).
    Two(unpaired::Unpaired),
    /// Images with captions (text-to-image methods).
    Captioned(captions::Captioned),
}

impl Data {
    /// The one set of a single-set method. Methods call only the accessor of the kind of batch
    /// they declared, which is what the loop loaded.
    pub fn one(&self) -> &Dataset {
        match self {
            Data::One(d) => d,
            _ => panic!("a single-set method was given two-domain or captioned data"),
        }
    }

    /// The two domains of a translation method.
    pub fn two(&self) -> &unpaired::Unpaired {
        match self {
            Data::Two(d) => d,
            _ => panic!("a translation method was given other data than two domains"),
        }
    }

    /// The captioned images of a text-to-image method.
    pub fn captioned(&self) -> &captions::Captioned {
        match self {
            Data::Captioned(d) => d,
            _ => panic!("a text-to-image method was given data without captions"),
        }
    }

    /// The shape of one example (of domain A for two-domain data).
    pub fn shape(&self) -> Shape {
        match self {
            Data::One(d) => d.shape,
            Data::Two(d) if d.is_points() => Shape::Points { dim: d.channels(unpaired::Side::A) },
            Data::Two(d) => Shape::Image { channels: d.channels(unpaired::Side::A), size: d.side },
            Data::Captioned(d) => d.shape(),
        }
    }

    /// Domain B's shape, for two-domain data.
    pub fn shape_b(&self) -> Option<Shape> {
        match self {
            Data::One(_) | Data::Captioned(_) => None,
            Data::Two(d) if d.is_points() => Some(Shape::Points { dim: d.channels(unpaired::Side::B) }),
            Data::Two(d) => Some(Shape::Image { channels: d.channels(unpaired::Side::B), size: d.side }),
        }
    }

    /// Number of classes of the training labels (0 without labels; both domains' labels files
    /// for two domains).
    pub fn classes(&self) -> i64 {
        match self {
            Data::One(d) => d.classes(),
            Data::Two(d) => d.classes(),
            Data::Captioned(_) => 0,
        }
    }
}

enum Store {
    /// A finite set held on the device: images in [−1, 1] or points.
    Tensor {
        x: Tensor,
        labels: Option<Tensor>,
    },
    Synthetic(synthetic::Sampler),
}

/// A data set ready to serve batches.
pub struct Dataset {
    /// How the set was named (`ring8`, a path, …).
    pub name: String,
    pub shape: Shape,
    store: Store,
    device: Device,
    /// The permutation of the epoch last served, so consecutive batches do not rebuild it.
    epoch_perm: Mutex<Option<(u64, Vec<i64>)>>,
}

/// Resolves `DATA` to a synthetic set, an IDX folder or a point file.
pub fn resolve_source(source: &str) -> Result<(String, Option<Synthetic>, PathBuf)> {
    if let Some(s) = synthetic::by_name(source) {
        return Ok((source.to_string(), Some(s), PathBuf::new()));
    }
    let base = stacked_base(source).unwrap_or(source);
    let path = if base == "fashion-mnist" { PathBuf::from(FASHION_MNIST_DIR) } else { PathBuf::from(base) };
    Ok((source.to_string(), None, path))
}

/// `stacked:DATA` is Stacked MNIST built from DATA: three digit images of DATA stacked as the
/// three channels of one image (1000 modes). Returns DATA.
pub fn stacked_base(source: &str) -> Option<&str> {
    source.strip_prefix("stacked:")
}

/// Stacks three seeded permutations of `x [n, 1, h, w]` as channels; the label of a stacked
/// image is 100·d₀ + 10·d₁ + d₂ (Metz et al. 2017, VEEGAN, PacGAN). The stacking is fixed
/// (seed 0), so every run sees the same set.
fn stack(x: &Tensor, labels: Option<&Tensor>) -> (Tensor, Option<Tensor>) {
    let n = x.size()[0];
    let perms: Vec<Tensor> = (0..3)
        .map(|c| {
            Tensor::from_slice(&rng::permutation(n as usize, rng::derive(0, rng::stream::EPOCH, 1000 + c)))
                .to(x.device())
        })
        .collect();
    let stacked = Tensor::cat(&perms.iter().map(|p| x.index_select(0, p)).collect::<Vec<_>>(), 1);
    let labels = labels.map(|l| {
        perms
            .iter()
            .zip([100, 10, 1])
            .map(|(p, w)| l.index_select(0, p) * w)
            .reduce(|a, b| a + b)
            .expect("three channels")
    });
    (stacked, labels)
}

impl Dataset {
    /// Loads the training split named by `cfg.source`.
    pub fn load(cfg: &DataConfig, device: Device) -> Result<Dataset> {
        Self::load_split(cfg, "train", device)
    }

    /// Loads `split` (`train` or `t10k`; point files and synthetic sets have one split).
    pub fn load_split(cfg: &DataConfig, split: &str, device: Device) -> Result<Dataset> {
        let (name, synth, path) = resolve_source(&cfg.source)?;
        let (shape, store) = if let Some(s) = synth {
            (Shape::Points { dim: 2 }, Store::Synthetic(synthetic::Sampler::new(s, device)))
        } else if path.is_dir() && unpaired::is_two_domain(&path) {
            // a two-domain folder given to a single-set method: the domain is the class
            let (x, labels) = unpaired::domains_as_classes(cfg, split, device)?;
            let x = fit_images(x, cfg)?;
            (Shape::Image { channels: x.size()[1], size: x.size()[2] }, Store::Tensor { x, labels: Some(labels) })
        } else if captions::is_captioned(&path) {
            // a captioned folder given to a method without text: its images, unlabelled
            let x = fit_images(captions::Captioned::load(cfg, split, device)?.x, cfg)?;
            (Shape::Image { channels: x.size()[1], size: x.size()[2] }, Store::Tensor { x, labels: None })
        } else if folder::is_image_folder(&path) {
            let loaded = folder::load(&path, split, cfg, device)?;
            if loaded.skipped > 0 {
                eprintln!(
                    "note: skipped {} unreadable image files of {} (data.skip_bad = true)",
                    loaded.skipped,
                    path.display()
                );
            }
            let x = fit_images(loaded.x, cfg)?;
            (Shape::Image { channels: x.size()[1], size: x.size()[2] }, Store::Tensor { x, labels: loaded.labels })
        } else if path.is_dir() {
            let (images, labels) = idx::read_split(&path, split)?;
            let (n, h, w) = (images.dims[0] as i64, images.dims[1] as i64, images.dims[2] as i64);
            if n == 0 || h != w {
                return Err(Error::Data {
                    path,
                    msg: format!("holds {n} images of {h}x{w}; gantry needs at least one square image"),
                });
            }
            let x = Tensor::from_slice(&images.data).view([n, 1, h, w]).to(device).to_kind(Kind::Float) / 127.5 - 1.0;
            let labels = labels.map(|l| Tensor::from_slice(&l).to_kind(Kind::Int64).to(device));
            let (x, labels) =
                if stacked_base(&cfg.source).is_some() { stack(&x, labels.as_ref()) } else { (x, labels) };
            let x = fit_images(x, cfg)?;
            let size = x.size()[2];
            let channels = x.size()[1];
            (Shape::Image { channels, size }, Store::Tensor { x, labels })
        } else if path.is_file() {
            let p = points::read(&path)?;
            let x = Tensor::from_slice(&p.values).view([p.n as i64, p.dim as i64]).to(device);
            (Shape::Points { dim: p.dim as i64 }, Store::Tensor { x, labels: None })
        } else if cfg.source == "fashion-mnist" {
            return Err(Error::Data {
                path,
                msg: "Fashion-MNIST is not installed; install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or pass --data with a folder of MNIST-format IDX files".into(),
            });
        } else {
            return Err(Error::Data {
                path,
                msg: format!(
                    "no such file or folder; DATA is one of {}, fashion-mnist, a folder of images (one sub-folder per class for labels), a folder of MNIST-format IDX files, or a .csv/.npy file of points",
                    synthetic::NAMES.join(", ")
                ),
            });
        };
        Ok(Dataset { name, shape, store, device, epoch_perm: Mutex::new(None) })
    }

    /// A finite set of images (or points) held as tensors, with optional labels.
    pub fn from_tensors(name: &str, x: Tensor, labels: Option<Tensor>) -> Dataset {
        let shape = match x.size()[..] {
            [_, channels, size, _] => Shape::Image { channels, size },
            [_, dim] => Shape::Points { dim },
            _ => Shape::Points { dim: 0 },
        };
        let device = x.device();
        Dataset { name: name.into(), shape, store: Store::Tensor { x, labels }, device, epoch_perm: Mutex::new(None) }
    }

    /// Number of examples, or `None` for an endless synthetic set.
    pub fn len(&self) -> Option<i64> {
        match &self.store {
            Store::Tensor { x, .. } => Some(x.size()[0]),
            Store::Synthetic(_) => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// Number of classes (largest label + 1), 0 without labels.
    pub fn classes(&self) -> i64 {
        match &self.store {
            Store::Tensor { labels: Some(l), .. } => l.max().int64_value(&[]) + 1,
            _ => 0,
        }
    }

    pub fn synthetic(&self) -> Option<&Synthetic> {
        match &self.store {
            Store::Synthetic(s) => Some(&s.set),
            Store::Tensor { .. } => None,
        }
    }

    /// All examples and labels of a finite set.
    pub fn tensors(&self) -> Option<(&Tensor, Option<&Tensor>)> {
        match &self.store {
            Store::Tensor { x, labels } => Some((x, labels.as_ref())),
            Store::Synthetic(_) => None,
        }
    }

    /// Batch number `index` of the run's stream of batches. A finite set is walked through one
    /// seeded permutation per epoch; a synthetic set is sampled from libtorch's generator, which
    /// the training loop seeds per step.
    pub fn batch(&self, index: u64, batch_size: i64, seed: u64) -> Tensor {
        self.batch_with_labels(index, batch_size, seed).0
    }

    /// `batch` with the examples' labels, when the set has them.
    pub fn batch_with_labels(&self, index: u64, batch_size: i64, seed: u64) -> (Tensor, Option<Tensor>) {
        match &self.store {
            Store::Synthetic(s) => (crate::dist::draw(batch_size, |m| s.sample(m)), None),
            Store::Tensor { x, labels } => {
                let n = x.size()[0] as u64;
                // a rank of a data-parallel run reads its rows of the global batch
                let (first, total) = crate::dist::span(batch_size);
                let start = index * total as u64 + first as u64;
                let mut guard = self.epoch_perm.lock().expect("permutation lock");
                let idx: Vec<i64> = (start..start + batch_size as u64)
                    .map(|pos| {
                        let epoch = pos / n;
                        if guard.as_ref().is_none_or(|(e, _)| *e != epoch) {
                            let perm = rng::permutation(n as usize, rng::derive(seed, rng::stream::EPOCH, epoch));
                            *guard = Some((epoch, perm));
                        }
                        guard.as_ref().unwrap().1[(pos % n) as usize]
                    })
                    .collect();
                let idx = Tensor::from_slice(&idx).to(x.device());
                (x.index_select(0, &idx), labels.as_ref().map(|l| l.index_select(0, &idx)))
            }
        }
    }

    /// A class-balanced labelled subset of `n` examples (n / K of each class), drawn by `seed`:
    /// the semi-supervised GAN's `--labels n`. Returns indices into the set.
    pub fn balanced_subset(&self, n: i64, seed: u64) -> Result<Vec<i64>> {
        let (x, labels) = match &self.store {
            Store::Tensor { x, labels: Some(l) } => (x, l),
            _ => {
                return Err(Error::Config(format!(
                    "data.labels (--labels {n}): the data `{}` has no labels to pick from",
                    self.name
                )));
            }
        };
        let (len, k) = (x.size()[0], self.classes());
        if n > len {
            return Err(Error::Config(format!(
                "data.labels (--labels {n}) is larger than the data set `{}` ({len} training examples); pick at most {len}",
                self.name
            )));
        }
        if n % k != 0 {
            return Err(Error::Config(format!(
                "data.labels (--labels {n}) does not divide into the {k} classes of `{}`; use a multiple of {k}, e.g. {}",
                self.name,
                (n / k).max(1) * k
            )));
        }
        let all: Vec<i64> = Vec::try_from(labels.to_device(Device::Cpu)).expect("integer labels");
        let per_class = n / k;
        let order = rng::permutation(all.len(), rng::derive(seed, rng::stream::LABELS, 0));
        let mut taken = vec![0; k as usize];
        let mut subset = Vec::with_capacity(n as usize);
        for i in order {
            let c = all[i as usize] as usize;
            if taken[c] < per_class {
                taken[c] += 1;
                subset.push(i);
            }
        }
        if let Some(c) = taken.iter().position(|&t| t < per_class) {
            return Err(Error::Config(format!(
                "data.labels (--labels {n}): class {c} of `{}` has only {} examples, fewer than the {per_class} per class asked for",
                self.name, taken[c]
            )));
        }
        subset.sort_unstable();
        Ok(subset)
    }

    /// Batch number `index` of an endless walk through `subset` (indices into the set), one
    /// seeded permutation of the subset per pass, with labels.
    pub fn batch_from(&self, subset: &[i64], index: u64, batch_size: i64, seed: u64) -> (Tensor, Option<Tensor>) {
        let Store::Tensor { x, labels } = &self.store else { unreachable!("subsets are of finite sets") };
        let n = subset.len() as u64;
        let (first, total) = crate::dist::span(batch_size);
        let start = index * total as u64 + first as u64;
        let mut perm: Option<(u64, Vec<i64>)> = None;
        let idx: Vec<i64> = (start..start + batch_size as u64)
            .map(|pos| {
                let pass = pos / n;
                if perm.as_ref().is_none_or(|(p, _)| *p != pass) {
                    perm = Some((pass, rng::permutation(n as usize, rng::derive(seed, rng::stream::LABELS, 1 + pass))));
                }
                subset[perm.as_ref().expect("set above").1[(pos % n) as usize] as usize]
            })
            .collect();
        let idx = Tensor::from_slice(&idx).to(x.device());
        (x.index_select(0, &idx), labels.as_ref().map(|l| l.index_select(0, &idx)))
    }

    /// `n` examples for evaluation, drawn with `seed` (a seeded subset of a finite set, or all of
    /// it when it holds no more than `n`).
    pub fn reference(&self, n: i64, seed: u64) -> Tensor {
        self.reference_with_labels(n, seed).0
    }

    /// `reference` with the examples' labels, when the set has them.
    pub fn reference_with_labels(&self, n: i64, seed: u64) -> (Tensor, Option<Tensor>) {
        match &self.store {
            Store::Synthetic(s) => {
                rng::seed_torch(seed, rng::stream::EVAL, 0);
                (s.sample(n), None)
            }
            Store::Tensor { x, labels } => {
                let len = x.size()[0];
                if n >= len {
                    return (x.shallow_clone(), labels.as_ref().map(Tensor::shallow_clone));
                }
                let perm = rng::permutation(len as usize, rng::derive(seed, rng::stream::EVAL, 1));
                let idx = Tensor::from_slice(&perm[..n as usize]).to(x.device());
                (x.index_select(0, &idx), labels.as_ref().map(|l| l.index_select(0, &idx)))
            }
        }
    }

    /// Where batches are served.
    pub fn device(&self) -> Device {
        self.device
    }
}

/// Resizes and repeats channels as `data.image_size` and `data.channels` ask.
fn fit_images(mut x: Tensor, cfg: &DataConfig) -> Result<Tensor> {
    let size = x.size()[2];
    if cfg.image_size > 0 && cfg.image_size != size {
        x = x.upsample_bilinear2d([cfg.image_size, cfg.image_size], false, None, None).clamp(-1.0, 1.0);
    }
    if cfg.channels == 3 && x.size()[1] == 1 {
        x = x.repeat([1, 3, 1, 1]);
    }
    Ok(x)
}

/// A short hash naming a data source's content, so that a feature network trained on one set
/// is never used to score another: the IDX files' bytes for a folder, the file's bytes for
/// points, the name for a built-in set.
pub fn identity(source: &str) -> Result<String> {
    use sha2::{Digest, Sha256};
    let (name, synth, path) = resolve_source(source)?;
    let mut h = Sha256::new();
    if stacked_base(source).is_some() {
        h.update(b"stacked:");
    }
    if synth.is_some() {
        h.update(name.as_bytes());
    } else if path.is_dir() && unpaired::is_two_domain(&path) {
        for d in ["trainA", "trainB"] {
            for f in unpaired::image_files(&path.join(d))? {
                h.update(f.strip_prefix(&path).unwrap_or(&f).to_string_lossy().as_bytes());
                h.update(std::fs::read(&f).map_err(crate::error::io_err(&f))?);
            }
        }
    } else if captions::is_captioned(&path) {
        h.update(b"captions:");
        folder::hash_into(&path, &mut h)?;
        captions::hash_text_into(&path, &mut h)?;
    } else if folder::is_image_folder(&path) {
        h.update(b"folder:");
        folder::hash_into(&path, &mut h)?;
    } else if path.is_dir() {
        for stem in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"] {
            let f = idx::find(&path, stem)
                .ok_or_else(|| Error::Data { path: path.clone(), msg: format!("no {stem}[.gz] in this folder") })?;
            let bytes = std::fs::read(&f).map_err(crate::error::io_err(&f))?;
            // compressed and uncompressed copies of one set hash alike
            let raw = if f.extension().is_some_and(|e| e == "gz") {
                let mut out = vec![];
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes.as_slice()), &mut out)
                    .map_err(|e| Error::Data { path: f.clone(), msg: format!("unreadable gzip ({e})") })?;
                out
            } else {
                bytes
            };
            h.update(&raw);
        }
    } else {
        let bytes = std::fs::read(&path).map_err(crate::error::io_err(&path))?;
        h.update(&bytes);
    }
    Ok(h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labelled(labels: &[i64]) -> Dataset {
        let n = labels.len() as i64;
        Dataset {
            name: "test".into(),
            shape: Shape::Points { dim: 1 },
            store: Store::Tensor {
                x: Tensor::arange(n, (Kind::Float, Device::Cpu)).view([n, 1]),
                labels: Some(Tensor::from_slice(labels)),
            },
            device: Device::Cpu,
            epoch_perm: Mutex::new(None),
        }
    }

    #[test]
    fn balanced_subset_takes_equal_counts_by_seed() {
        // 3 classes with 10, 5 and 7 examples
        let labels: Vec<i64> = [vec![0; 10], vec![1; 5], vec![2; 7]].concat();
        let d = labelled(&labels);
        let s = d.balanced_subset(12, 3).unwrap();
        let mut counts = [0; 3];
        for &i in &s {
            counts[labels[i as usize] as usize] += 1;
        }
        assert_eq!(counts, [4, 4, 4]);
        assert_eq!(s, d.balanced_subset(12, 3).unwrap(), "same seed, same subset");
        assert_ne!(s, d.balanced_subset(12, 4).unwrap(), "another seed, another subset");
        assert!(d.balanced_subset(13, 3).unwrap_err().to_string().contains("does not divide"));
        assert!(d.balanced_subset(23, 3).unwrap_err().to_string().contains("larger than"));
        assert!(d.balanced_subset(18, 3).unwrap_err().to_string().contains("class 1"));
    }

    #[test]
    fn subset_batches_walk_every_example_once_per_pass() {
        let d = labelled(&[0, 1, 0, 1, 0, 1]);
        let subset = [1, 2, 5];
        // batches of 2 over a subset of 3: positions 0..6 are two passes
        let mut seen: Vec<i64> = (0..3)
            .flat_map(|i| Vec::<f32>::try_from(d.batch_from(&subset, i, 2, 9).0.flatten(0, -1)).unwrap())
            .map(|v| v as i64)
            .collect();
        let (first, second) = seen.split_at_mut(3);
        first.sort_unstable();
        second.sort_unstable();
        assert_eq!(first, [1, 2, 5]);
        assert_eq!(second, [1, 2, 5]);
        let (_, y) = d.batch_from(&subset, 0, 3, 9);
        assert_eq!(y.unwrap().sum(Kind::Int64).int64_value(&[]), 2, "labels follow their examples");
    }
}
