//! Two unpaired image domains in the layout of the public CycleGAN datasets: a folder with
//! `trainA/` and `trainB/` (and optionally `testA/`, `testB/`) of PNG or JPEG files of any size,
//! grey or colour. Optional beside them: `truthB/` (for each `testA` file, its true translation
//! under the same file name) and `truthA/` (likewise for `testB`), and `labelsA.csv` /
//! `labelsB.csv` (`file,label` lines; `file` is `trainA/NAME`, `testA/NAME` or a bare NAME that
//! both folders' files of that name share).
//!
//! Preprocessing is the reference's: resize to `data.load_size` (0 keeps the size), a random
//! `data.crop_size` square (0: none), a left–right flip with probability ½ (`data.flip`), and
//! 1 or 3 channels (`data.channels`, 0: the domain's own). An epoch is max(|A|, |B|) pairs: A in
//! order, B through a permutation drawn from (seed, epoch); crops and flips are drawn from
//! (seed, position), so a resumed run sees the same batches as a straight one.
//!
//! Optional `transform.txt` says how the domains relate, B = t(A): `edges` (the 3×3 dilation
//! minus the image) or `negative` (1 − x), as `gantry data make` writes for its digit pairs;
//! CoGAN's pixel agreement needs it.
//!
//! Point domains (the DiscoGAN toy) are `trainA.csv` and `trainB.csv` (optionally `testA.csv`,
//! `testB.csv`) of one point per row instead of the image folders, with an optional
//! `modes.json` (`{"a": [[x, y], …], "b": […], "std": σ}`) naming each domain's mixture
//! components for the mode-mapping figures.
//!
//! Every image is decoded once when the set is opened (in parallel), so an unreadable or
//! truncated file is named before training starts. The resized images are kept as bytes when the
//! whole set takes at most `CACHE_BYTES`; a larger set is decoded again for each batch.
use super::DataConfig;
use crate::error::{Error, Result};
use crate::rng;
use image::imageops::FilterType;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// Decoded training images kept in memory at most (bytes, both domains).
pub const CACHE_BYTES: usize = 1 << 30;

/// Which domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::A => "A",
            Side::B => "B",
        }
    }
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// A known transform relating two domains, B = t(A) (`transform.txt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    /// The outer edge of strokes: dilate₃ₓ₃(x) − x, pixels in [0, 1].
    Edges,
    /// 1 − x.
    Negative,
}

impl Transform {
    pub const NAMES: &[&str] = &["edges", "negative"];

    pub fn parse(s: &str) -> Option<Transform> {
        match s.trim() {
            "edges" => Some(Transform::Edges),
            "negative" => Some(Transform::Negative),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Transform::Edges => "edges",
            Transform::Negative => "negative",
        }
    }

    /// t(x) of images `[n, c, h, w]` in [−1, 1].
    pub fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Transform::Negative => -x,
            Transform::Edges => {
                let p = (x + 1.0) * 0.5;
                let dilated = p.max_pool2d([3, 3], [1, 1], [1, 1], [1, 1], false);
                (dilated - p).clamp_min(0.0) * 2.0 - 1.0
            }
        }
    }

    /// The transform `root/transform.txt` names; None without the file.
    pub fn of_folder(root: &Path) -> Result<Option<Transform>> {
        let p = root.join("transform.txt");
        if !p.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&p).map_err(crate::error::io_err(&p))?;
        Transform::parse(&text).map(Some).ok_or_else(|| Error::Data {
            path: p,
            msg: format!("names `{}`, not one of {}", text.trim(), Transform::NAMES.join(", ")),
        })
    }
}

/// Whether `root` is a two-domain image or point folder.
pub fn is_two_domain(root: &Path) -> bool {
    ["trainA", "trainB", "trainA.csv", "trainB.csv"].iter().any(|d| root.join(d).exists())
}

/// A two-domain image folder read as one labelled set whose class is the domain (A 0, B 1):
/// the conditional GAN baseline of CoGAN's paper. `split` `train` reads trainA/ and trainB/,
/// `t10k` testA/ and testB/. Returns images in [−1, 1] and labels.
pub fn domains_as_classes(cfg: &DataConfig, split: &str, device: Device) -> Result<(Tensor, Tensor)> {
    let u = Unpaired::load(cfg, device)?;
    if u.is_points() {
        return Err(Error::Data {
            path: u.root.clone(),
            msg: "holds point domains; read as one labelled set, the domains must be image folders".into(),
        });
    }
    if u.channels(Side::A) != u.channels(Side::B) {
        return Err(Error::Data {
            path: u.root.clone(),
            msg: "has grey images in one domain and colour in the other; set data.channels to 1 or 3".into(),
        });
    }
    let prefix = if split == "train" { "train" } else { "test" };
    let read = |s: Side| -> Result<Tensor> {
        let name = format!("{prefix}{}", s.name());
        u.folder(&name, s, false)?.map(|f| f.x).ok_or_else(|| Error::Data {
            path: u.root.join(&name),
            msg: "is not there; the domains are read as classes from trainA/ and trainB/ (testA/ and testB/ for the test split)".into(),
        })
    };
    let (a, b) = (read(Side::A)?, read(Side::B)?);
    let opts = (Kind::Int64, device);
    let y = Tensor::cat(&[Tensor::zeros([a.size()[0]], opts), Tensor::ones([b.size()[0]], opts)], 0);
    Ok((Tensor::cat(&[a, b], 0), y))
}

/// The image files of a folder, sorted by name.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(crate::error::io_err(dir))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The longest side of an image gantry decodes: a larger one would take gigabytes to decode.
pub const MAX_SIDE: u32 = 16_384;

/// The most pixels an image gantry decodes may have (64 megapixels: 256 MiB as 8-bit RGBA).
pub const MAX_PIXELS: u64 = 1 << 26;

/// The most memory the decoder may take for one image.
const MAX_DECODE_BYTES: u64 = 1 << 29;

/// Opens and decodes an image file, naming it when it is not a readable PNG or JPEG or is larger
/// than `MAX_SIDE` a side (checked from its header, before decoding).
pub fn open_image(path: &Path) -> Result<image::DynamicImage> {
    let unreadable = |e: image::ImageError| Error::Data {
        path: path.into(),
        msg: format!("is not a readable PNG or JPEG image ({e}); remove or replace it"),
    };
    let reader = || -> Result<_> {
        image::ImageReader::open(path)
            .map_err(crate::error::io_err(path))?
            .with_guessed_format()
            .map_err(crate::error::io_err(path))
    };
    let (w, h) = reader()?.into_dimensions().map_err(unreadable)?;
    if w > MAX_SIDE || h > MAX_SIDE || w as u64 * h as u64 > MAX_PIXELS {
        return Err(Error::Data {
            path: path.into(),
            msg: format!(
                "is {w}x{h}; gantry reads images of at most {MAX_SIDE} pixels a side and {} megapixels, so resize it first",
                MAX_PIXELS >> 20
            ),
        });
    }
    let mut r = reader()?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    r.limits(limits);
    r.decode().map_err(unreadable)
}

/// Decodes `path` with `channels` (1 or 3) as bytes, height-major, channels last.
pub fn decode(path: &Path, channels: i64) -> Result<(Vec<u8>, u32, u32)> {
    let img = open_image(path)?;
    let (w, h) = (img.width(), img.height());
    let raw = if channels == 1 { img.to_luma8().into_raw() } else { img.to_rgb8().into_raw() };
    Ok((raw, w, h))
}

/// Whether an image file is grey (one channel, with or without alpha).
fn is_grey(path: &Path) -> Result<bool> {
    Ok(!open_image(path)?.color().has_color())
}

/// Resizes bytes `(w, h, c)` to `side` × `side` (bicubic, as the reference's PIL resize).
fn resize(raw: Vec<u8>, w: u32, h: u32, channels: i64, side: u32) -> Vec<u8> {
    if w == side && h == side {
        return raw;
    }
    if channels == 1 {
        let img = image::GrayImage::from_raw(w, h, raw).expect("decoded size");
        image::imageops::resize(&img, side, side, FilterType::CatmullRom).into_raw()
    } else {
        let img = image::RgbImage::from_raw(w, h, raw).expect("decoded size");
        image::imageops::resize(&img, side, side, FilterType::CatmullRom).into_raw()
    }
}

/// Bytes `[side, side, c]` to `[c, side, side]` floats in [−1, 1].
pub fn to_tensor(raw: &[u8], side: i64, channels: i64) -> Tensor {
    Tensor::from_slice(raw).view([side, side, channels]).permute([2, 0, 1]).to_kind(Kind::Float) / 127.5 - 1.0
}

/// One domain's training images.
struct Domain {
    files: Vec<PathBuf>,
    channels: i64,
    /// Side after resizing (the load size, or the images' own).
    loaded: u32,
    /// Resized images, when the set fits in memory.
    cache: Option<Vec<Vec<u8>>>,
}

impl Domain {
    fn open(dir: &Path, cfg: &DataConfig, channels: i64, keep: bool) -> Result<Domain> {
        let files = image_files(dir)?;
        if files.is_empty() {
            return Err(Error::Data {
                path: dir.into(),
                msg: "holds no .png or .jpg images; each domain needs at least one training image".into(),
            });
        }
        let load = cfg.load_size as u32;
        let decoded: Vec<(Vec<u8>, u32)> = files
            .par_iter()
            .map(|f| {
                let (raw, w, h) = decode(f, channels)?;
                if load == 0 && w != h {
                    return Err(Error::Data {
                        path: f.clone(),
                        msg: format!("is {w}x{h}; without data.load_size every image must be square (set data.load_size to resize them)"),
                    });
                }
                let side = if load > 0 { load } else { w };
                Ok((if keep { resize(raw, w, h, channels, side) } else { vec![] }, side))
            })
            .collect::<Result<_>>()?;
        let loaded = decoded[0].1;
        if let Some((i, (_, s))) = decoded.iter().enumerate().find(|(_, (_, s))| *s != loaded) {
            return Err(Error::Data {
                path: files[i].clone(),
                msg: format!(
                    "is {s}x{s} but {} is {loaded}x{loaded}; set data.load_size to bring the images to one size",
                    files[0].display()
                ),
            });
        }
        let cache = keep.then(|| decoded.into_iter().map(|(raw, _)| raw).collect());
        Ok(Domain { files, channels, loaded, cache })
    }

    fn image(&self, i: usize) -> Vec<u8> {
        match &self.cache {
            Some(c) => c[i].clone(),
            None => {
                // checked when the set was opened; a file changed since is a user's error too, but
                // training cannot stop cleanly mid-batch, so it says which file
                let (raw, w, h) = decode(&self.files[i], self.channels)
                    .unwrap_or_else(|e| panic!("{e} (it was readable when training started)"));
                resize(raw, w, h, self.channels, self.loaded)
            }
        }
    }
}

/// Labels of a domain's files by name, from `labelsX.csv`; None when the file does not exist.
pub fn read_labels(path: &Path) -> Result<Option<BTreeMap<String, i64>>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(crate::error::io_err(path))?;
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (n == 0 && line.starts_with("file,")) {
            continue;
        }
        let parsed =
            line.split_once(',').and_then(|(f, l)| Some((f.trim().to_string(), l.trim().parse::<i64>().ok()?)));
        match parsed {
            Some((f, l)) if l >= 0 => {
                out.insert(f.trim_start_matches("./").to_string(), l);
            }
            _ => {
                return Err(Error::Data {
                    path: path.into(),
                    msg: format!("line {} (`{line}`) is not `file,label` with a label ≥ 0", n + 1),
                });
            }
        }
    }
    Ok(Some(out))
}

/// A test split of one domain: file names and images at the training side.
pub struct Split {
    pub names: Vec<String>,
    pub x: Tensor,
    /// Labels when the domain has a labels file (every file must be listed).
    pub labels: Option<Tensor>,
}

/// The training crop and flip.
#[derive(Clone, Copy)]
struct Augment {
    side: i64,
    crop: i64,
    flip: bool,
}

/// The mixture components of the two point domains, from `modes.json`.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub struct Modes {
    pub a: Vec<Vec<f64>>,
    pub b: Vec<Vec<f64>>,
    /// Standard deviation of each component.
    pub std: f64,
}

/// Point domains: training points of A and B, test points when present.
struct PointSets {
    train: [Tensor; 2],
    test: [Option<Tensor>; 2],
    modes: Option<Modes>,
}

fn read_points(path: &Path, device: Device) -> Result<Tensor> {
    let p = super::points::read(path)?;
    if p.n == 0 {
        return Err(Error::Data { path: path.into(), msg: "holds no points; each domain needs at least one".into() });
    }
    Ok(Tensor::from_slice(&p.values).view([p.n as i64, p.dim as i64]).to(device))
}

/// Two unpaired domains, ready to serve batches.
pub struct Unpaired {
    pub root: PathBuf,
    a: Domain,
    b: Domain,
    points: Option<PointSets>,
    /// Side of the images the networks see.
    pub side: i64,
    crop: i64,
    flip: bool,
    device: Device,
    labels: [Option<BTreeMap<String, i64>>; 2],
}

impl Unpaired {
    /// Opens `cfg.source` as a two-domain folder.
    pub fn load(cfg: &DataConfig, device: Device) -> Result<Unpaired> {
        let root = PathBuf::from(&cfg.source);
        if !root.is_dir() {
            return Err(Error::Data {
                path: root,
                msg: "is not a folder; a translation method reads a folder with trainA/ and trainB/ of images (`gantry data make digits-edges --out DIR` writes one)".into(),
            });
        }
        if root.join("trainA.csv").is_file() || root.join("trainB.csv").is_file() {
            return Self::load_points(root, device);
        }
        for d in ["trainA", "trainB"] {
            if !root.join(d).is_dir() {
                return Err(Error::Data {
                    path: root.clone(),
                    msg: format!(
                        "has no {d}/ folder; a two-domain folder holds trainA/ and trainB/ of images (and optionally testA/, testB/)"
                    ),
                });
            }
        }
        let channels = |d: &str| -> Result<i64> {
            if cfg.channels > 0 {
                return Ok(cfg.channels);
            }
            let dir = root.join(d);
            let first = image_files(&dir)?.into_iter().next();
            match first {
                Some(f) => Ok(if is_grey(&f)? { 1 } else { 3 }),
                None => Err(Error::Data {
                    path: dir,
                    msg: "holds no .png or .jpg images; each domain needs at least one training image".into(),
                }),
            }
        };
        let (ca, cb) = (channels("trainA")?, channels("trainB")?);
        // estimate the resized size of both domains to decide whether to keep them
        let count = image_files(&root.join("trainA"))?.len() + image_files(&root.join("trainB"))?.len();
        let side_guess = if cfg.load_size > 0 { cfg.load_size as usize } else { 256 };
        let keep = count * side_guess * side_guess * 3 <= CACHE_BYTES;
        let a = Domain::open(&root.join("trainA"), cfg, ca, keep)?;
        let b = Domain::open(&root.join("trainB"), cfg, cb, keep)?;
        if a.loaded != b.loaded {
            return Err(Error::Data {
                path: root,
                msg: format!(
                    "trainA's images are {0}x{0} but trainB's {1}x{1}; set data.load_size to bring both to one size",
                    a.loaded, b.loaded
                ),
            });
        }
        let loaded = a.loaded as i64;
        let side = if cfg.crop_size > 0 { cfg.crop_size } else { loaded };
        if side > loaded {
            return Err(Error::Data {
                path: root,
                msg: format!(
                    "data.crop_size {side} is larger than the images ({loaded}x{loaded} after data.load_size); lower data.crop_size or raise data.load_size"
                ),
            });
        }
        let labels = [read_labels(&root.join("labelsA.csv"))?, read_labels(&root.join("labelsB.csv"))?];
        Ok(Unpaired { root, a, b, points: None, side, crop: cfg.crop_size, flip: cfg.flip, device, labels })
    }

    /// Opens a folder of point domains (`trainA.csv`, `trainB.csv`, …).
    fn load_points(root: PathBuf, device: Device) -> Result<Unpaired> {
        let train = [read_points(&root.join("trainA.csv"), device)?, read_points(&root.join("trainB.csv"), device)?];
        let test_of = |name: &str| -> Result<Option<Tensor>> {
            let p = root.join(name);
            if p.is_file() { Ok(Some(read_points(&p, device)?)) } else { Ok(None) }
        };
        let test = [test_of("testA.csv")?, test_of("testB.csv")?];
        let modes_path = root.join("modes.json");
        let modes = if modes_path.is_file() {
            let text = std::fs::read_to_string(&modes_path).map_err(crate::error::io_err(&modes_path))?;
            Some(serde_json::from_str::<Modes>(&text).map_err(|e| Error::Data {
                path: modes_path.clone(),
                msg: format!("is not {{\"a\": [[x, y], …], \"b\": [[x, y], …], \"std\": σ}} ({e})"),
            })?)
        } else {
            None
        };
        let empty = || Domain { files: vec![], channels: 0, loaded: 0, cache: None };
        let (da, db) = (train[0].size()[1], train[1].size()[1]);
        let (mut a, mut b) = (empty(), empty());
        (a.channels, b.channels) = (da, db);
        Ok(Unpaired {
            root,
            a,
            b,
            points: Some(PointSets { train, test, modes }),
            side: 0,
            crop: 0,
            flip: false,
            device,
            labels: [None, None],
        })
    }

    /// Whether the domains are point sets.
    pub fn is_points(&self) -> bool {
        self.points.is_some()
    }

    /// The point domains' mixture components, when `modes.json` names them.
    pub fn modes(&self) -> Option<&Modes> {
        self.points.as_ref().and_then(|p| p.modes.as_ref())
    }

    fn domain(&self, s: Side) -> &Domain {
        match s {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    /// Channels of a domain's images as the networks see them.
    pub fn channels(&self, s: Side) -> i64 {
        self.domain(s).channels
    }

    /// Training examples of a domain.
    pub fn len(&self, s: Side) -> usize {
        match &self.points {
            Some(p) => p.train[s as usize].size()[0] as usize,
            None => self.domain(s).files.len(),
        }
    }

    /// Pairs per epoch: max(|A|, |B|).
    pub fn epoch_len(&self) -> u64 {
        self.len(Side::A).max(self.len(Side::B)) as u64
    }

    /// Whether the domain has a labels file.
    pub fn has_labels(&self, s: Side) -> bool {
        self.labels[s as usize].is_some()
    }

    /// An example at `pos` of the run: crop and flip drawn from (seed, pos, side).
    fn example(d: &Domain, aug: Augment, s: Side, i: usize, pos: u64, seed: u64) -> Vec<u8> {
        let raw = d.image(i);
        let (l, c, side) = (d.loaded as usize, d.channels as usize, aug.side as usize);
        let mut r = rng::SplitMix::new(rng::derive(seed, rng::stream::AUGMENT, 2 * pos + s as u64));
        let (x0, y0) = if aug.crop > 0 && l > side {
            (r.below((l - side + 1) as u64) as usize, r.below((l - side + 1) as u64) as usize)
        } else {
            (0, 0)
        };
        let flip = aug.flip && r.next_f64() < 0.5;
        let mut out = Vec::with_capacity(side * side * c);
        for y in 0..side {
            for x in 0..side {
                let sx = if flip { x0 + side - 1 - x } else { x0 + x };
                let at = ((y0 + y) * l + sx) * c;
                out.extend_from_slice(&raw[at..at + c]);
            }
        }
        out
    }

    /// The A and B example indices of batch `index`, with each pair's position in the run.
    fn pairs(&self, index: u64, n: i64, seed: u64) -> Vec<(usize, usize, u64)> {
        let len = self.epoch_len();
        let (na, nb) = (self.len(Side::A) as u64, self.len(Side::B) as u64);
        // a rank of a data-parallel run reads its rows of the global batch
        let (first, total) = crate::dist::span(n);
        let start = index * total as u64 + first as u64;
        (start..start + n as u64)
            .map(|pos| {
                let (epoch, k) = (pos / len, pos % len);
                // B walks a fresh permutation of its images each time round
                let round = epoch * len.div_ceil(nb) + k / nb;
                let perm = rng::permutation(nb as usize, rng::derive(seed, rng::stream::EPOCH, round));
                ((k % na) as usize, perm[(k % nb) as usize] as usize, pos)
            })
            .collect()
    }

    /// Classes of the labels files (the largest label + 1; 0 without labels).
    pub fn classes(&self) -> i64 {
        self.labels.iter().flatten().flat_map(|m| m.values()).max().map_or(0, |&m| m + 1)
    }

    /// The labels of domain `s`'s images in batch `index` (as `batch` draws them).
    pub fn batch_labels(&self, index: u64, n: i64, seed: u64, s: Side) -> Result<Tensor> {
        let name = format!("labels{}.csv", s.name());
        let map = self.labels[s as usize]
            .as_ref()
            .ok_or_else(|| Error::Data { path: self.root.clone(), msg: format!("has no {name}") })?;
        let d = self.domain(s);
        let mut out = Vec::with_capacity(n as usize);
        for (i, j, _) in self.pairs(index, n, seed) {
            let f = &d.files[if s == Side::A { i } else { j }];
            let file = f.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            let label = map.get(&format!("train{}/{file}", s.name())).or_else(|| map.get(&file));
            out.push(*label.ok_or_else(|| Error::Data {
                path: self.root.join(&name),
                msg: format!("has no label for train{}/{file}; list every training file", s.name()),
            })?);
        }
        Ok(Tensor::from_slice(&out).to(self.device))
    }

    /// Batch number `index` of the run: `n` images of A and `n` of B, each `[n, c, side, side]`
    /// in [−1, 1] on the device.
    pub fn batch(&self, index: u64, n: i64, seed: u64) -> (Tensor, Tensor) {
        let pairs = self.pairs(index, n, seed);
        if let Some(p) = &self.points {
            let pick = |t: &Tensor, idx: Vec<i64>| t.index_select(0, &Tensor::from_slice(&idx).to(self.device));
            return (
                pick(&p.train[0], pairs.iter().map(|q| q.0 as i64).collect()),
                pick(&p.train[1], pairs.iter().map(|q| q.1 as i64).collect()),
            );
        }
        let aug = Augment { side: self.side, crop: self.crop, flip: self.flip };
        let (da, db) = (&self.a, &self.b);
        let (a, b): (Vec<Vec<u8>>, Vec<Vec<u8>>) = pairs
            .par_iter()
            .map(|&(i, j, pos)| {
                (Self::example(da, aug, Side::A, i, pos, seed), Self::example(db, aug, Side::B, j, pos, seed))
            })
            .unzip();
        let stack = |v: Vec<Vec<u8>>, s: Side| {
            let c = self.channels(s);
            let t: Vec<Tensor> = v.iter().map(|raw| to_tensor(raw, self.side, c)).collect();
            Tensor::stack(&t, 0).to(self.device)
        };
        (stack(a, Side::A), stack(b, Side::B))
    }

    /// The first `n` training images of a domain (no crop offset, no flip) at the training side:
    /// fixed inputs of progress grids.
    pub fn fixed(&self, s: Side, n: i64) -> Tensor {
        if let Some(p) = &self.points {
            let t = &p.train[s as usize];
            return t.narrow(0, 0, n.min(t.size()[0]));
        }
        let d = self.domain(s);
        let t: Vec<Tensor> = (0..(n as usize).min(d.files.len()))
            .map(|i| {
                let raw = d.image(i);
                let l = d.loaded as i64;
                let off = (l - self.side) / 2;
                to_tensor(&raw, l, d.channels).narrow(1, off, self.side).narrow(2, off, self.side)
            })
            .collect();
        Tensor::stack(&t, 0).to(self.device)
    }

    /// A domain's test split (`testA/` or `testB/`), resized to the load size and centre-cropped
    /// to the training side; None when the folder is absent.
    pub fn test(&self, s: Side) -> Result<Option<Split>> {
        if let Some(p) = &self.points {
            return Ok(p.test[s as usize].as_ref().map(|x| Split {
                names: vec![],
                x: x.shallow_clone(),
                labels: None,
            }));
        }
        self.folder(&format!("test{}", s.name()), s, true)
    }

    /// The true translations of the other domain's test split (`truthB/` holds testA's), in
    /// testA's order; None when absent. Every test file must have its truth.
    pub fn truth(&self, of: Side) -> Result<Option<Tensor>> {
        if self.is_points() {
            return Ok(None);
        }
        let dir = self.root.join(format!("truth{}", of.other().name()));
        if !dir.is_dir() {
            return Ok(None);
        }
        let test_dir = self.root.join(format!("test{}", of.name()));
        let names: Vec<String> = image_files(&test_dir)?
            .iter()
            .map(|f| f.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default())
            .collect();
        let files: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
        if let Some(missing) = files.iter().find(|f| !f.is_file()) {
            return Err(Error::Data {
                path: dir.clone(),
                msg: format!(
                    "has no {} for test{}'s file of that name; truth{} must hold one file per test{} file, under the same name",
                    missing.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default(),
                    of.name(),
                    of.other().name(),
                    of.name()
                ),
            });
        }
        Ok(Some(self.images(&files, of.other())?))
    }

    /// Training images of a domain with their labels (for the domain's classifier); None
    /// without a labels file.
    pub fn labelled_train(&self, s: Side) -> Result<Option<Split>> {
        if !self.has_labels(s) {
            return Ok(None);
        }
        self.folder(&format!("train{}", s.name()), s, true)
    }

    fn folder(&self, name: &str, s: Side, with_labels: bool) -> Result<Option<Split>> {
        let dir = self.root.join(name);
        if !dir.is_dir() {
            return Ok(None);
        }
        let files = image_files(&dir)?;
        if files.is_empty() {
            return Err(Error::Data { path: dir, msg: "holds no .png or .jpg images".into() });
        }
        let names: Vec<String> =
            files.iter().map(|f| f.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()).collect();
        let labels = match (&self.labels[s as usize], with_labels) {
            (Some(map), true) => {
                let mut v = Vec::with_capacity(names.len());
                for n in &names {
                    v.push(*map.get(&format!("{name}/{n}")).or_else(|| map.get(n)).ok_or_else(|| Error::Data {
                        path: self.root.join(format!("labels{}.csv", s.name())),
                        msg: format!("has no label for {name}/{n}; list every file of train{0} and test{0}", s.name()),
                    })?);
                }
                Some(Tensor::from_slice(&v).to(self.device))
            }
            _ => None,
        };
        Ok(Some(Split { names, x: self.images(&files, s)?, labels }))
    }

    /// Files decoded with domain `s`'s channels, resized to the load side and centre-cropped.
    fn images(&self, files: &[PathBuf], s: Side) -> Result<Tensor> {
        let d = self.domain(s);
        let (l, c) = (d.loaded, d.channels);
        let t: Vec<Tensor> = files
            .par_iter()
            .map(|f| {
                let (raw, w, h) = decode(f, c)?;
                Ok(resize(raw, w, h, c, l))
            })
            .collect::<Result<Vec<_>>>()?
            .iter()
            .map(|raw| {
                let off = (l as i64 - self.side) / 2;
                to_tensor(raw, l as i64, c).narrow(1, off, self.side).narrow(2, off, self.side)
            })
            .collect();
        Ok(Tensor::stack(&t, 0).to(self.device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, side: u32, value: impl Fn(u32, u32) -> u8) {
        std::fs::create_dir_all(dir).unwrap();
        let img = image::GrayImage::from_fn(side, side, |x, y| image::Luma([value(x, y)]));
        img.save(dir.join(name)).unwrap();
    }

    fn cfg(root: &Path) -> DataConfig {
        DataConfig { source: root.display().to_string(), ..Default::default() }
    }

    #[test]
    fn an_epoch_walks_a_in_order_and_every_b_once() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        // A: 3 images of values 0, 1, 2; B: 5 images of values 10..14
        for i in 0..3u8 {
            write(&r.join("trainA"), &format!("{i}.png"), 4, move |_, _| i);
        }
        for i in 0..5u8 {
            write(&r.join("trainB"), &format!("{i}.png"), 4, move |_, _| 10 + i);
        }
        let d = Unpaired::load(&cfg(r), Device::Cpu).unwrap();
        assert_eq!(d.epoch_len(), 5);
        let value = |t: &Tensor| -> Vec<i64> {
            let v: Vec<f32> =
                Vec::try_from(((t.select(1, 0).select(1, 0).select(1, 0) + 1.0) * 127.5).round()).unwrap();
            v.into_iter().map(|x| x as i64).collect()
        };
        let (a, b) = d.batch(0, 5, 7);
        assert_eq!(value(&a), vec![0, 1, 2, 0, 1], "A in order, wrapping");
        let mut bs = value(&b);
        bs.sort();
        assert_eq!(bs, vec![10, 11, 12, 13, 14], "B: each image once per epoch");
        let (_, b2) = d.batch(0, 5, 7);
        assert_eq!(value(&b), value(&b2), "the same seed draws the same order");
        let (_, b3) = d.batch(0, 5, 8);
        assert_ne!(value(&b), value(&b3), "another seed, another order");
    }

    #[test]
    fn crop_and_flip_follow_the_seed_and_stay_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        // pixel value = 10·y + x on an 8×8 image
        write(&r.join("trainA"), "a.png", 8, |x, y| (10 * y + x) as u8);
        write(&r.join("trainB"), "b.png", 8, |x, y| (10 * y + x) as u8);
        let c = DataConfig { crop_size: 4, flip: true, ..cfg(r) };
        let d = Unpaired::load(&c, Device::Cpu).unwrap();
        let (a, _) = d.batch(0, 16, 1);
        assert_eq!(a.size(), vec![16, 1, 4, 4]);
        let px = ((a + 1.0) * 127.5).round();
        let mut flipped = 0;
        for i in 0..16 {
            let row: Vec<f32> = Vec::try_from(px.get(i).get(0).get(0)).unwrap();
            // a row of a crop: consecutive x, rising or (flipped) falling
            let step = row[1] - row[0];
            assert!(step == 1.0 || step == -1.0, "{row:?}");
            assert!(row.iter().all(|&v| (0.0..=77.0).contains(&v)));
            flipped += i64::from(step < 0.0);
        }
        assert!((2..=14).contains(&flipped), "flips about half the time: {flipped} of 16");
        let again = d.batch(0, 16, 1).0;
        assert!(again.equal(&d.batch(0, 16, 1).0));
    }

    #[test]
    fn bad_folders_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        let e = Unpaired::load(&cfg(r), Device::Cpu).err().unwrap().to_string();
        assert!(e.contains("has no trainA/ folder"), "{e}");
        write(&r.join("trainA"), "a.png", 4, |_, _| 0);
        std::fs::create_dir_all(r.join("trainB")).unwrap();
        let e = Unpaired::load(&cfg(r), Device::Cpu).err().unwrap().to_string();
        assert!(e.contains("trainB") && e.contains("holds no .png"), "{e}");
        std::fs::write(r.join("trainB/broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let e = Unpaired::load(&cfg(r), Device::Cpu).err().unwrap().to_string();
        assert!(e.contains("broken.png") && e.contains("not a readable"), "{e}");
    }

    #[test]
    fn point_domains_are_read_from_csv_files() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        std::fs::write(r.join("trainA.csv"), "x,y\n0,0\n1,1\n").unwrap();
        std::fs::write(r.join("trainB.csv"), "5,5\n6,6\n7,7\n").unwrap();
        std::fs::write(r.join("modes.json"), r#"{"a": [[0, 0]], "b": [[6, 6]], "std": 0.1}"#).unwrap();
        let d = Unpaired::load(&cfg(r), Device::Cpu).unwrap();
        assert!(d.is_points());
        assert_eq!((d.channels(Side::A), d.len(Side::B), d.epoch_len()), (2, 3, 3));
        let (a, b) = d.batch(0, 3, 1);
        assert_eq!(Vec::<f32>::try_from(a.flatten(0, -1)).unwrap(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        let mut bs: Vec<f32> = Vec::try_from(b.select(1, 0)).unwrap();
        bs.sort_by(f32::total_cmp);
        assert_eq!(bs, vec![5.0, 6.0, 7.0]);
        assert_eq!(d.modes().unwrap().b, vec![vec![6.0, 6.0]]);
        assert!(d.test(Side::A).unwrap().is_none());
    }

    #[test]
    fn labels_and_truth_are_read_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        for n in ["x.png", "y.png"] {
            write(&r.join("trainA"), n, 4, |_, _| 0);
            write(&r.join("trainB"), n, 4, |_, _| 0);
            write(&r.join("testA"), n, 4, |_, _| 50);
        }
        write(&r.join("truthB"), "x.png", 4, |_, _| 255);
        std::fs::write(r.join("labelsA.csv"), "file,label\nx.png,3\ny.png,1\n").unwrap();
        let d = Unpaired::load(&cfg(r), Device::Cpu).unwrap();
        let t = d.test(Side::A).unwrap().unwrap();
        assert_eq!(t.names, ["x.png", "y.png"]);
        assert_eq!(Vec::<i64>::try_from(t.labels.unwrap()).unwrap(), vec![3, 1]);
        let e = d.truth(Side::A).err().unwrap().to_string();
        assert!(e.contains("has no y.png"), "{e}");
        write(&r.join("truthB"), "y.png", 4, |_, _| 255);
        assert_eq!(d.truth(Side::A).unwrap().unwrap().size(), vec![2, 1, 4, 4]);
        assert!(d.test(Side::B).unwrap().is_none());
    }
}
