//! A folder of PNG/JPEG images as training data, in the layout torchvision's `ImageFolder` reads:
//!
//! - images anywhere under the folder (recursive): an unlabelled set;
//! - one sub-folder per class, images anywhere under each: labels, classes numbered in the
//!   sub-folders' name order;
//! - `train/` and `test/` side by side, each of either layout: two splits (`test/` is what
//!   evaluation compares with and what `gantry classifier train` scores on).
//!
//! Examples are ordered by file name, then by path, so a tree `gantry data export` wrote (its
//! files numbered in the set's order) loads in the order of the set it came from, and a run from
//! the tree equals a run from the original files.
//!
//! Sizes: when every image is square and of one side no larger than `data.image_size` (or that
//! side is kept, `image_size = 0`), the images are read at their own size and resized as tensors,
//! as every other image set is. Otherwise each image's shorter side is resized to
//! `data.image_size` and the centre square cut, as it is decoded (torchvision's `Resize` then
//! `CenterCrop`), so a folder of large photographs is never held at full size. The preprocessed
//! set is kept in memory as floats; the decoding is spread over the cores.
use super::DataConfig;
use super::unpaired::{MAX_PIXELS, MAX_SIDE, open_image};
use crate::error::{Error, Result};
use image::imageops::FilterType;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// The most memory the preprocessed floats of a folder may take (8 GiB).
const MAX_FLOAT_BYTES: u64 = 8 << 30;

/// Sub-folders deeper than this are not searched (a link loop would otherwise never end).
const MAX_DEPTH: usize = 32;

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

/// Whether `dir` is read as an image folder: a folder that is neither an MNIST-format (IDX) nor
/// a two-domain (trainA/, trainB/) folder.
pub fn is_image_folder(dir: &Path) -> bool {
    dir.is_dir() && super::idx::find(dir, "train-images-idx3-ubyte").is_none() && !super::unpaired::is_two_domain(dir)
}

/// The folder holding `split` (`train` or `t10k`) of an image folder.
pub fn split_dir(root: &Path, split: &str) -> Result<PathBuf> {
    let (train, test) = (root.join("train"), root.join("test"));
    if train.is_dir() {
        return match split {
            "train" => Ok(train),
            _ if test.is_dir() => Ok(test),
            _ => Err(Error::Data {
                path: root.into(),
                msg: "has train/ but no test/ folder beside it; put the held-out images in test/ (same layout)".into(),
            }),
        };
    }
    match split {
        "train" => Ok(root.into()),
        _ => Err(Error::Data {
            path: root.into(),
            msg: "has one split only; for a test split, arrange the images as train/ and test/ folders (each of the same layout)".into(),
        }),
    }
}

/// Image files under `dir`, recursively, as (path, file name) pairs.
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::Data {
            path: dir.into(),
            msg: format!("lies more than {MAX_DEPTH} folders deep; is there a link loop?"),
        });
    }
    for e in std::fs::read_dir(dir).map_err(crate::error::io_err(dir))? {
        let p = e.map_err(crate::error::io_err(dir))?.path();
        if p.is_dir() {
            walk(&p, depth + 1, out)?;
        } else if p.is_file() && is_image(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// What a folder holds: its images in load order, each image's class, and the class names
/// (empty when the folder is unlabelled).
#[derive(Debug)]
pub struct Listing {
    pub files: Vec<PathBuf>,
    pub labels: Vec<i64>,
    pub classes: Vec<String>,
}

/// Lists an image folder (one split). Class sub-folders are recognised when the folder holds no
/// image of its own and two or more sub-folders hold images; a lone sub-folder is one class too.
pub fn list(dir: &Path) -> Result<Listing> {
    let mut own = vec![];
    let mut subdirs = vec![];
    for e in std::fs::read_dir(dir).map_err(crate::error::io_err(dir))? {
        let p = e.map_err(crate::error::io_err(dir))?.path();
        if p.is_dir() {
            subdirs.push(p);
        } else if p.is_file() && is_image(&p) {
            own.push(p);
        }
    }
    subdirs.sort();
    let mut entries: Vec<(PathBuf, i64)> = vec![];
    let mut classes = vec![];
    if own.is_empty() && !subdirs.is_empty() {
        for d in subdirs {
            let mut files = vec![];
            walk(&d, 1, &mut files)?;
            if files.is_empty() {
                continue;
            }
            let c = classes.len() as i64;
            classes.push(d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
            entries.extend(files.into_iter().map(|f| (f, c)));
        }
    } else {
        walk(dir, 0, &mut own)?;
        own.sort();
        own.dedup();
        entries = own.into_iter().map(|f| (f, 0)).collect();
    }
    if entries.is_empty() {
        return Err(Error::Data {
            path: dir.into(),
            msg: "holds no .png, .jpg or .jpeg images (searched recursively) and no MNIST-format train-images-idx3-ubyte[.gz]; point --data at a folder of images (one sub-folder per class for labels) or of IDX files".into(),
        });
    }
    entries.sort_by(|(a, _), (b, _)| a.file_name().cmp(&b.file_name()).then_with(|| a.cmp(b)));
    let labelled = !classes.is_empty();
    let (files, labels) = entries.into_iter().map(|(f, c)| (f, if labelled { c } else { -1 })).unzip();
    Ok(Listing { files, labels, classes })
}

/// A header's facts: size and whether it carries colour.
fn header(path: &Path) -> Result<(u32, u32, bool)> {
    let unreadable = |e: image::ImageError| Error::Data {
        path: path.into(),
        msg: format!(
            "is not a readable PNG or JPEG image ({e}); remove or replace it, or set data.skip_bad = true to skip such files"
        ),
    };
    let reader = image::ImageReader::open(path)
        .map_err(crate::error::io_err(path))?
        .with_guessed_format()
        .map_err(crate::error::io_err(path))?;
    let decoder = reader.into_decoder().map_err(unreadable)?;
    let (w, h) = image::ImageDecoder::dimensions(&decoder);
    let colour = image::ImageDecoder::color_type(&decoder).has_color();
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE || w as u64 * h as u64 > MAX_PIXELS {
        return Err(Error::Data {
            path: path.into(),
            msg: format!(
                "is {w}x{h}; gantry reads images of 1 to {MAX_SIDE} pixels a side and at most {} megapixels",
                MAX_PIXELS >> 20
            ),
        });
    }
    Ok((w, h, colour))
}

/// An image with transparency laid over white (icons and cut-outs keep their look; dropping
/// the alpha channel would show whatever colour the transparent pixels happen to store).
fn over_white(img: image::DynamicImage) -> image::DynamicImage {
    if !img.color().has_alpha() {
        return img;
    }
    let mut rgba = img.to_rgba8();
    for p in rgba.pixels_mut() {
        let a = p[3] as u32;
        for c in 0..3 {
            p[c] = ((p[c] as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
        }
        p[3] = 255;
    }
    image::DynamicImage::ImageRgba8(rgba)
}

/// Whether a folder's (train split's) images need `data.image_size` to be read: they are not
/// all square and of one side.
pub fn needs_size(root: &Path) -> Result<bool> {
    let listing = list(&split_dir(root, "train")?)?;
    let sizes: Vec<(u32, u32)> =
        listing.files.par_iter().filter_map(|f| header(f).ok().map(|(w, h, _)| (w, h))).collect();
    Ok(sizes.first().is_none_or(|&(w, h)| w != h || sizes.iter().any(|&s| s != (w, h))))
}

/// The side the evaluation classifier reads a folder of mixed sizes at.
pub const CLASSIFIER_SIDE: i64 = 64;

/// Decodes one image as `side × side × channels` bytes: kept as it is (`crop = false`, the
/// image already that size) or its shorter side resized to `side` and the centre cut.
/// Transparent pixels become white.
fn decode(path: &Path, channels: i64, side: u32, crop: bool) -> Result<Vec<u8>> {
    let img = over_white(open_image(path)?);
    let img = if crop {
        let (w, h) = (img.width(), img.height());
        let scale = side as f64 / w.min(h) as f64;
        let (rw, rh) = (((w as f64 * scale).round() as u32).max(side), ((h as f64 * scale).round() as u32).max(side));
        let resized = img.resize_exact(rw, rh, FilterType::CatmullRom);
        resized.crop_imm((rw - side) / 2, (rh - side) / 2, side, side)
    } else {
        img
    };
    Ok(if channels == 1 { img.to_luma8().into_raw() } else { img.to_rgb8().into_raw() })
}

/// The images (`[n, c, s, s]` in [−1, 1] on `device`), labels and the number of files skipped.
#[derive(Debug)]
pub struct Loaded {
    pub x: Tensor,
    pub labels: Option<Tensor>,
    pub classes: Vec<String>,
    pub skipped: usize,
}

/// Loads one split of an image folder as `cfg` asks (`data.channels`, `data.image_size`,
/// `data.skip_bad`).
pub fn load(root: &Path, split: &str, cfg: &DataConfig, device: Device) -> Result<Loaded> {
    let dir = split_dir(root, split)?;
    let listing = list(&dir)?;
    let (x, kept) = load_files(&dir, &listing.files, cfg, device)?;
    let skipped = listing.files.len() - kept.len();
    let labels = (!listing.classes.is_empty()).then(|| {
        let l: Vec<i64> = kept.iter().map(|&j| listing.labels[j]).collect();
        Tensor::from_slice(&l).to(device)
    });
    Ok(Loaded { x, labels, classes: listing.classes, skipped })
}

/// Decodes `files` (of folder `dir`) as `cfg` asks: the images (`[n, c, s, s]` in [−1, 1] on
/// `device`) and the indices of the files kept (all but the unreadable ones under
/// `data.skip_bad`).
pub fn load_files(dir: &Path, files: &[PathBuf], cfg: &DataConfig, device: Device) -> Result<(Tensor, Vec<usize>)> {
    let dir = dir.to_path_buf();
    let heads: Vec<Option<(u32, u32, bool)>> = files
        .par_iter()
        .map(|f| match header(f) {
            Ok(h) => Ok(Some(h)),
            Err(_) if cfg.skip_bad => Ok(None),
            Err(e) => Err(e),
        })
        .collect::<Result<_>>()?;
    let good: Vec<usize> = (0..heads.len()).filter(|&i| heads[i].is_some()).collect();
    if good.is_empty() {
        return Err(Error::Data { path: dir, msg: format!("holds {} image files and none is readable", files.len()) });
    }
    let channels = match cfg.channels {
        0 if good.iter().any(|&i| heads[i].expect("kept").2) => 3,
        0 => 1,
        c => c,
    };
    let (w0, h0, _) = heads[good[0]].expect("kept");
    let uniform = w0 == h0 && good.iter().all(|&i| heads[i].is_some_and(|(w, h, _)| (w, h) == (w0, h0)));
    let crop = !(uniform && (cfg.image_size == 0 || w0 as i64 <= cfg.image_size));
    if crop && cfg.image_size == 0 {
        let odd = good
            .iter()
            .find(|&&i| heads[i].is_some_and(|(w, h, _)| (w, h) != (w0, h0) || w != h))
            .expect("not uniform");
        let (w, h, _) = heads[*odd].expect("kept");
        return Err(Error::Data {
            path: files[*odd].clone(),
            msg: format!(
                "is {w}x{h} but {} is {w0}x{h0}; set data.image_size (e.g. --set data.image_size=64) to resize every image's shorter side to it and cut the centre square",
                files[good[0]].display()
            ),
        });
    }
    let side = if crop { cfg.image_size as u32 } else { w0 };
    let per = side as usize * side as usize * channels as usize;
    let floats = good.len() as u64 * per as u64 * 4;
    if floats > MAX_FLOAT_BYTES {
        return Err(Error::Data {
            path: dir,
            msg: format!(
                "would take {:.1} GiB as {} images of {side}x{side}x{channels} floats, more than gantry keeps ({} GiB); lower data.image_size or use a subset",
                floats as f64 / (1u64 << 30) as f64,
                good.len(),
                MAX_FLOAT_BYTES >> 30
            ),
        });
    }
    let mut bytes = vec![0u8; good.len() * per];
    let bar = crate::progress::bar(good.len() as u64, "decoding", good.len() < 20_000);
    let decoded: Vec<bool> = bytes
        .par_chunks_mut(per)
        .zip(good.par_iter())
        .map(|(out, &i)| match decode(&files[i], channels, side, crop).inspect(|_| bar.inc(1)) {
            Ok(raw) => {
                out.copy_from_slice(&raw);
                Ok(true)
            }
            Err(_) if cfg.skip_bad => Ok(false),
            Err(e) => Err(e),
        })
        .collect::<Result<_>>()?;
    // files whose header read but whose body did not (truncated): dropped when skipping
    let kept: Vec<usize> = (0..good.len()).filter(|&j| decoded[j]).collect();
    if kept.is_empty() {
        return Err(Error::Data { path: dir, msg: "holds no image that decodes".into() });
    }
    if kept.len() < good.len() {
        let mut compact = Vec::with_capacity(kept.len() * per);
        for &j in &kept {
            compact.extend_from_slice(&bytes[j * per..(j + 1) * per]);
        }
        bytes = compact;
    }
    let n = kept.len() as i64;
    let (s, c) = (side as i64, channels);
    let x = Tensor::from_slice(&bytes).view([n, s, s, c]).permute([0, 3, 1, 2]).to(device).to_kind(Kind::Float) / 127.5
        - 1.0;
    Ok((x.contiguous(), kept.iter().map(|&j| good[j]).collect()))
}

/// Hashes a folder's image files (relative paths and bytes) into `h`, for the data's identity.
pub fn hash_into(root: &Path, h: &mut impl sha2::Digest) -> Result<()> {
    let mut files = vec![];
    walk(root, 0, &mut files)?;
    files.sort();
    for f in files {
        h.update(f.strip_prefix(root).unwrap_or(&f).to_string_lossy().as_bytes());
        h.update(std::fs::read(&f).map_err(crate::error::io_err(&f))?);
    }
    Ok(())
}

/// Writes `x` (`[n, c, s, s]` in [−1, 1]) as PNG files under `dir`: `dir/CLASS/INDEX.png` with
/// `class_names[label]` when labelled, else `dir/INDEX.png`, the index zero-padded so that file
/// names sort in the set's order.
pub fn write_tree(dir: &Path, x: &Tensor, labels: Option<&Tensor>, class_names: &[String]) -> Result<usize> {
    let size = x.size();
    let (n, c, s) = (size[0], size[1], size[2]);
    let bytes: Vec<u8> = Vec::try_from(
        ((x.to_device(Device::Cpu) + 1.0) * 127.5)
            .round()
            .clamp(0.0, 255.0)
            .to_kind(Kind::Uint8)
            .permute([0, 2, 3, 1])
            .contiguous()
            .flatten(0, -1),
    )
    .expect("bytes");
    let labels: Option<Vec<i64>> = labels.map(|l| Vec::try_from(l.to_device(Device::Cpu)).expect("integer labels"));
    let width = n.max(1).to_string().len().max(5);
    std::fs::create_dir_all(dir).map_err(crate::error::io_err(dir))?;
    for name in class_names {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).map_err(crate::error::io_err(&d))?;
    }
    let per = (c * s * s) as usize;
    let bar = crate::progress::bar(n as u64, "export", n < 5000);
    (0..n as usize).into_par_iter().try_for_each(|i| {
        bar.inc(1);
        let raw = bytes[i * per..(i + 1) * per].to_vec();
        let file = format!("{i:0width$}.png");
        let path = match &labels {
            Some(l) => dir.join(&class_names[l[i] as usize]).join(file),
            None => dir.join(file),
        };
        let colour = if c == 1 { image::ExtendedColorType::L8 } else { image::ExtendedColorType::Rgb8 };
        image::save_buffer(&path, &raw, s as u32, s as u32, colour)
            .map_err(|e| Error::Data { path: path.clone(), msg: format!("cannot be written ({e})") })
    })?;
    Ok(n as usize)
}

/// What `gantry data export` wrote.
#[derive(Debug, serde::Serialize)]
pub struct Exported {
    pub source: String,
    pub out: PathBuf,
    /// Images of train/ and test/ (0 when the set has one split).
    pub counts: [usize; 2],
    /// The class folders, in label order (empty for an unlabelled set).
    pub classes: Vec<String>,
}

/// Fashion-MNIST's class names, in label order.
const FASHION_CLASSES: [&str; 10] =
    ["t-shirt-top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"];

/// Writes a built-in image set or an IDX folder (`source`, as `--data`) as an image-folder tree:
/// `out/train/CLASS/N.png` and `out/test/CLASS/N.png`, classes named `K` (zero-padded) or
/// `K-name` where the set names them, files numbered in the set's order. Training from the tree
/// gives the same run as from the source.
pub fn export(source: &str, out: &Path) -> Result<Exported> {
    if out.exists() && std::fs::read_dir(out).map_err(crate::error::io_err(out))?.next().is_some() {
        return Err(Error::Usage(format!("{} exists and is not empty; choose a new --out", out.display())));
    }
    let cfg = DataConfig { source: source.into(), ..Default::default() };
    let train = super::Dataset::load_split(&cfg, "train", Device::Cpu)?;
    let Some((x, labels)) = train.tensors() else {
        return Err(Error::Usage(format!(
            "`{source}` is an endless synthetic set of points; only image sets can be exported"
        )));
    };
    if x.dim() != 4 {
        return Err(Error::Usage(format!("`{source}` holds points, not images; only image sets can be exported")));
    }
    let test = super::Dataset::load_split(&cfg, "t10k", Device::Cpu).ok();
    let k = labels
        .map_or(0, |l| l.max().int64_value(&[]) + 1)
        .max(test.as_ref().and_then(|t| t.tensors()).and_then(|(_, l)| l).map_or(0, |l| l.max().int64_value(&[]) + 1));
    let digits = (k - 1).max(0).to_string().len();
    let classes: Vec<String> = (0..k as usize)
        .map(|i| match (source == "fashion-mnist" && k == 10).then(|| FASHION_CLASSES[i]) {
            Some(name) => format!("{i:0digits$}-{name}"),
            None => format!("{i:0digits$}"),
        })
        .collect();
    let names = |l: Option<&Tensor>| if l.is_some() { classes.clone() } else { vec![] };
    let n_train = write_tree(&out.join("train"), x, labels, &names(labels))?;
    let n_test = match test.as_ref().and_then(|t| t.tensors()) {
        Some((tx, tl)) => write_tree(&out.join("test"), tx, tl, &names(tl))?,
        None => 0,
    };
    Ok(Exported { source: source.into(), out: out.into(), counts: [n_train, n_test], classes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(path: &Path, w: u32, h: u32, value: impl Fn(u32, u32) -> [u8; 3]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb(value(x, y)));
        img.save(path).unwrap();
    }

    #[test]
    fn class_folders_give_labels_in_name_order_and_files_sort_by_name() {
        let t = tempfile::tempdir().unwrap();
        png(&t.path().join("b-cat/x/002.png"), 4, 4, |_, _| [255; 3]);
        png(&t.path().join("a-dog/001.png"), 4, 4, |_, _| [0; 3]);
        png(&t.path().join("a-dog/003.png"), 4, 4, |_, _| [0; 3]);
        std::fs::create_dir_all(t.path().join("c-empty")).unwrap();
        let l = list(t.path()).unwrap();
        assert_eq!(l.classes, ["a-dog", "b-cat"]);
        let names: Vec<_> = l.files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["001.png", "002.png", "003.png"]);
        assert_eq!(l.labels, [0, 1, 0]);
        let cfg = DataConfig { source: t.path().to_string_lossy().into(), ..Default::default() };
        let d = load(t.path(), "train", &cfg, Device::Cpu).unwrap();
        // grey content in RGB files is still colour by the header: three channels
        assert_eq!(d.x.size(), [3, 3, 4, 4]);
        assert_eq!(Vec::<i64>::try_from(d.labels.unwrap()).unwrap(), [0, 1, 0]);
        assert_eq!(d.x.double_value(&[1, 0, 0, 0]), 1.0);
        assert_eq!(d.x.double_value(&[0, 2, 3, 3]), -1.0);
        assert!(split_dir(t.path(), "t10k").unwrap_err().to_string().contains("one split"));
    }

    #[test]
    fn mixed_sizes_are_resized_by_the_shorter_side_and_centre_cropped() {
        let t = tempfile::tempdir().unwrap();
        // 8x4: left half black, right half white; the centre 4x4 cut of the 8x4 (already side
        // 4 on its shorter side) is columns 2..6, half black and half white
        png(&t.path().join("a.png"), 8, 4, |x, _| if x < 4 { [0; 3] } else { [255; 3] });
        png(&t.path().join("b.png"), 4, 4, |_, _| [255, 0, 0]);
        let mut cfg = DataConfig { source: t.path().to_string_lossy().into(), ..Default::default() };
        let err = load(t.path(), "train", &cfg, Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("a.png") && err.contains("data.image_size"), "{err}");
        cfg.image_size = 4;
        let d = load(t.path(), "train", &cfg, Device::Cpu).unwrap();
        assert_eq!(d.x.size(), [2, 3, 4, 4]);
        assert!(d.labels.is_none());
        let row: Vec<f32> = Vec::try_from(d.x.get(0).get(0).get(0)).unwrap();
        assert_eq!(row, [-1.0, -1.0, 1.0, 1.0]);
        cfg.channels = 1;
        let d = load(t.path(), "train", &cfg, Device::Cpu).unwrap();
        assert_eq!(d.x.size(), [2, 1, 4, 4]);
    }

    #[test]
    fn transparent_pixels_become_white() {
        let t = tempfile::tempdir().unwrap();
        let img = image::RgbaImage::from_fn(2, 1, |x, _| {
            if x == 0 { image::Rgba([0, 0, 0, 0]) } else { image::Rgba([200, 0, 0, 128]) }
        });
        img.save(t.path().join("a.png")).unwrap();
        let raw = decode(&t.path().join("a.png"), 3, 2, false).unwrap();
        // (200·128 + 255·127 + 127) / 255 = 227; (0·128 + 255·127 + 127) / 255 = 127
        assert_eq!(raw, [255, 255, 255, 227, 127, 127]);
    }

    #[test]
    fn bad_files_are_named_or_skipped_with_a_count() {
        let t = tempfile::tempdir().unwrap();
        png(&t.path().join("a.png"), 4, 4, |_, _| [9; 3]);
        std::fs::write(t.path().join("b.png"), b"not a png").unwrap();
        let full = std::fs::read(t.path().join("a.png")).unwrap();
        std::fs::write(t.path().join("c.png"), &full[..full.len() / 2]).unwrap();
        let mut cfg = DataConfig { source: t.path().to_string_lossy().into(), ..Default::default() };
        let err = load(t.path(), "train", &cfg, Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("b.png") && err.contains("skip_bad"), "{err}");
        cfg.skip_bad = true;
        let d = load(t.path(), "train", &cfg, Device::Cpu).unwrap();
        assert_eq!((d.x.size()[0], d.skipped), (1, 2));
        let empty = tempfile::tempdir().unwrap();
        assert!(list(empty.path()).unwrap_err().to_string().contains("no .png"));
    }

    #[test]
    fn a_written_tree_reads_back_exactly_in_order() {
        let t = tempfile::tempdir().unwrap();
        let x = (Tensor::randint(256, [12, 1, 5, 5], (Kind::Int64, Device::Cpu)).to_kind(Kind::Float) / 127.5) - 1.0;
        let y = Tensor::from_slice(&[2i64, 0, 1, 1, 0, 2, 2, 0, 1, 0, 0, 1]);
        let names: Vec<String> = ["0-a", "1-b", "2-c"].map(String::from).to_vec();
        write_tree(&t.path().join("train"), &x, Some(&y), &names).unwrap();
        write_tree(&t.path().join("test"), &x.narrow(0, 0, 3), Some(&y.narrow(0, 0, 3)), &names).unwrap();
        let cfg = DataConfig { source: t.path().to_string_lossy().into(), ..Default::default() };
        let d = load(t.path(), "train", &cfg, Device::Cpu).unwrap();
        assert!(d.x.equal(&x), "the same floats in the same order");
        assert!(d.labels.unwrap().equal(&y));
        assert_eq!(load(t.path(), "t10k", &cfg, Device::Cpu).unwrap().x.size()[0], 3);
    }
}
