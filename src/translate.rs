//! Using a translation run: translate image files of any size (`gantry translate`), and score a
//! run's translations of the test folders (`gantry eval` on a translation run). Both work on
//! any method that offers a `Translator`.
//!
//! Figures of one direction S → T, all on the test folders (the training folders when a domain
//! has no test folder), with pixels in [0, 1]:
//! - `cycle_l1`: mean |G_TS(G_ST(s)) − s|;
//! - `l1_to_truth`, `psnr`: against `truthT/` (the true translation of each `testS` file), PSNR
//!   = 10·log10(1 / MSE) over all pixels;
//! - `translation_accuracy`: a classifier trained on T's labelled training images, applied to
//!   the translations of S's labelled test images, beside `baseline_accuracy`, the same
//!   classifier on the untranslated images;
//! - `fcd`: the Fréchet distance between the translations and T's test images on that
//!   classifier's features, or on Inception's with `--weights`.
//!
//! For point domains with `modes.json` (DiscoGAN's toy), each source point belongs to its
//! nearest source mode and each mapped point to its nearest target mode: `mapping` gives, per
//! source mode, the target mode most of its points reach; `modes_hit` counts the distinct
//! target modes in `mapping`; `mapping_purity` is the mean share of a source mode's points that
//! reach its mapped mode; `on_mode` the share of mapped points within 3σ of a target mode.
//! `cycle_l1` is then the mean absolute coordinate error.
use crate::classifier::{self, Classifier};
use crate::data::unpaired::{self, Side, Split, Unpaired};
use crate::error::{Error, Result};
use crate::method::{Direction, Translator};
use crate::metrics::image;
use crate::metrics::suite::FeatureNet;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// `x` translated in batches of 32.
pub fn translate_all(t: &dyn Translator, x: &Tensor, dir: Direction) -> Tensor {
    let n = x.size()[0];
    let parts: Vec<Tensor> = (0..n).step_by(32).map(|i| t.translate(&x.narrow(0, i, 32.min(n - i)), dir)).collect();
    Tensor::cat(&parts, 0)
}

/// Translates one image `[1, c, h, w]` of any size: reflect-padded up to what the networks take
/// (sides a multiple of `side_multiple`), translated, and cropped back to `h` × `w`.
pub fn translate_any_size(t: &dyn Translator, x: &Tensor, dir: Direction) -> Tensor {
    let (_, _, h, w) = x.size4().expect("an image batch");
    let m = t.side_multiple();
    let (ph, pw) = ((m - h % m) % m, (m - w % m) % m);
    let padded = if ph + pw > 0 {
        // reflection needs the pad to be smaller than the side; replicate covers the rest
        if ph < h && pw < w { x.reflection_pad2d([0, pw, 0, ph]) } else { x.replication_pad2d([0, pw, 0, ph]) }
    } else {
        x.shallow_clone()
    };
    t.translate(&padded, dir).narrow(2, 0, h).narrow(3, 0, w)
}

/// What `translate_files` wrote.
#[derive(Debug, serde::Serialize)]
pub struct Written {
    pub images: usize,
    pub out: PathBuf,
    pub index: PathBuf,
}

/// Translates `input` (an image file or a folder of them) into `out`: one PNG per input under
/// its file name (with `.png`), its input beside it under `input/`, and `index.html` showing the
/// pairs.
pub fn translate_files(
    t: &dyn Translator,
    input: &Path,
    out: &Path,
    dir: Direction,
    device: Device,
) -> Result<Written> {
    let files = if input.is_dir() {
        let f = unpaired::image_files(input)?;
        if f.is_empty() {
            return Err(Error::Data { path: input.into(), msg: "holds no .png or .jpg images to translate".into() });
        }
        f
    } else if input.is_file() {
        vec![input.to_path_buf()]
    } else {
        return Err(Error::Usage(format!("--input {}: no such file or folder", input.display())));
    };
    // every input is checked before anything is written
    for f in &files {
        let (w, h) = ::image::image_dimensions(f).map_err(|e| Error::Data {
            path: f.clone(),
            msg: format!("is not a readable PNG or JPEG image ({e}); remove or replace it"),
        })?;
        if (w.min(h) as i64) < t.min_side() {
            return Err(Error::Data {
                path: f.clone(),
                msg: format!(
                    "is {w}x{h}; the networks need images of at least {0}x{0} (enlarge it first)",
                    t.min_side()
                ),
            });
        }
    }
    let (c_in, c_out) = t.channels(dir);
    std::fs::create_dir_all(out.join("input")).map_err(crate::error::io_err(out))?;
    let mut rows = String::new();
    for f in &files {
        let (raw, w, h) = unpaired::decode(f, c_in)?;
        let x = Tensor::from_slice(&raw)
            .view([h as i64, w as i64, c_in])
            .permute([2, 0, 1])
            .to_kind(Kind::Float)
            .unsqueeze(0)
            / 127.5
            - 1.0;
        let y = translate_any_size(t, &x.to(device), dir);
        let stem = f.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        let name = format!("{stem}.png");
        save_image(&x.get(0), &out.join("input").join(&name))?;
        save_image(&y.get(0).to_device(Device::Cpu), &out.join(&name))?;
        debug_assert_eq!(c_out, y.size()[1]);
        rows += &format!(
            "<tr><td>{0}</td><td><img src=\"input/{1}\"></td><td><img src=\"{1}\"></td></tr>\n",
            html_escape(&f.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default()),
            url_escape(&name)
        );
    }
    let index = out.join("index.html");
    let page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>gantry translate ({dir})</title>\n<style>body{{font-family:sans-serif}} img{{image-rendering:pixelated;min-width:128px;max-width:512px}} td{{padding:4px;vertical-align:middle}}</style></head>\n<body><h1>{count} images, {dir}</h1>\n<table><tr><th>file</th><th>input</th><th>output</th></tr>\n{rows}</table></body></html>\n",
        dir = dir.name(),
        count = files.len()
    );
    std::fs::write(&index, page).map_err(crate::error::io_err(&index))?;
    Ok(Written { images: files.len(), out: out.into(), index })
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Writes one image `[c, h, w]` in [−1, 1] as a PNG.
pub fn save_image(x: &Tensor, path: &Path) -> Result<()> {
    let (c, h, w) = x.size3().expect("an image");
    let bytes = ((x.clamp(-1.0, 1.0) + 1.0) * 127.5).round().to_kind(Kind::Uint8).permute([1, 2, 0]).contiguous();
    let raw: Vec<u8> = Vec::try_from(bytes.flatten(0, -1)).map_err(Error::Torch)?;
    let res = if c == 1 {
        ::image::GrayImage::from_raw(w as u32, h as u32, raw).expect("sizes match").save(path)
    } else {
        ::image::RgbImage::from_raw(w as u32, h as u32, raw).expect("sizes match").save(path)
    };
    res.map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))
}

/// A content hash of a domain's labelled training images, naming its cached classifier.
fn domain_hash(data: &Unpaired, s: Side) -> Result<String> {
    let mut h = Sha256::new();
    h.update(format!("domain {} side {} channels {}", s.name(), data.side, data.channels(s)).as_bytes());
    for f in unpaired::image_files(&data.root.join(format!("train{}", s.name())))? {
        h.update(f.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default().as_bytes());
        h.update(std::fs::read(&f).map_err(crate::error::io_err(&f))?);
    }
    let labels = data.root.join(format!("labels{}.csv", s.name()));
    h.update(std::fs::read(&labels).map_err(crate::error::io_err(&labels))?);
    Ok(h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect())
}

/// The classifier of domain `s`, trained on its labelled training images (cached), when it has
/// labels. Its accuracy is measured on the domain's labelled test images, or its training ones.
pub fn domain_classifier(data: &Unpaired, s: Side, quiet: bool) -> Result<Option<Classifier>> {
    let Some(train) = data.labelled_train(s)? else { return Ok(None) };
    let test = data.test(s)?.filter(|t| t.labels.is_some());
    let y = train.labels.as_ref().expect("labelled");
    let (tx, ty) = match &test {
        Some(t) => (&t.x, t.labels.as_ref().expect("filtered")),
        None => (&train.x, y),
    };
    let name = format!("{}/train{}", data.root.display(), s.name());
    Ok(Some(classifier::for_images(&name, &domain_hash(data, s)?, (&train.x, y), (tx, ty), quiet)?))
}

/// A domain's test split, else its training images (unlabelled), and which it is.
pub fn split_or_train(data: &Unpaired, s: Side) -> Result<(Split, &'static str)> {
    if let Some(t) = data.test(s)? {
        return Ok((t, "test"));
    }
    let n = data.len(s) as i64;
    Ok((Split { names: vec![], x: data.fixed(s, n), labels: None }, "train"))
}

/// Mean |a − b| and PSNR of images in [−1, 1], measured in [0, 1] pixel units.
pub fn l1_psnr(a: &Tensor, b: &Tensor) -> (f64, f64) {
    let d = (a - b) * 0.5;
    let l1 = d.abs().mean(Kind::Double).double_value(&[]);
    let mse = d.square().mean(Kind::Double).double_value(&[]);
    (l1, 10.0 * (1.0 / mse.max(1e-12)).log10())
}

/// The nearest of `modes` to each row of `x` and its distance.
fn nearest_modes(x: &Tensor, modes: &[Vec<f64>]) -> (Vec<usize>, Vec<f64>) {
    let rows = crate::viz::to_rows(x).unwrap_or_default();
    rows.iter()
        .map(|p| {
            modes
                .iter()
                .enumerate()
                .map(|(i, m)| (i, p.iter().zip(m).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt()))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .expect("at least one mode")
        })
        .unzip()
}

/// `mapping`, `modes_hit`, `mapping_purity` and `on_mode` of points `x` of source modes mapped
/// to `y` among target modes.
pub fn mode_mapping(x: &Tensor, y: &Tensor, source: &[Vec<f64>], target: &[Vec<f64>], std: f64) -> Map<String, Value> {
    let (from, _) = nearest_modes(x, source);
    let (to, dist) = nearest_modes(y, target);
    let mut counts = vec![vec![0usize; target.len()]; source.len()];
    for (&f, &t) in from.iter().zip(&to) {
        counts[f][t] += 1;
    }
    let (mut mapping, mut purity) = (vec![], vec![]);
    for c in &counts {
        let total: usize = c.iter().sum();
        if total == 0 {
            continue;
        }
        let (best, n) = c.iter().enumerate().max_by_key(|(_, n)| **n).expect("modes");
        mapping.push(best);
        purity.push(*n as f64 / total as f64);
    }
    let mut hit = mapping.clone();
    hit.sort_unstable();
    hit.dedup();
    let mut m = Map::new();
    m.insert("modes_hit".into(), json!(hit.len()));
    m.insert("source_modes".into(), json!(source.len()));
    m.insert("mapping".into(), json!(mapping));
    m.insert("mapping_purity".into(), json!(purity.iter().sum::<f64>() / purity.len().max(1) as f64));
    m.insert(
        "on_mode".into(),
        json!(dist.iter().filter(|&&d| d < 3.0 * std).count() as f64 / dist.len().max(1) as f64),
    );
    m
}

/// The figures of one direction (see the module's documentation).
fn direction(
    t: &dyn Translator,
    data: &Unpaired,
    dir: Direction,
    inception: Option<&FeatureNet>,
    quiet: bool,
) -> Result<Map<String, Value>> {
    let (src, dst) = match dir {
        Direction::AtoB => (Side::A, Side::B),
        Direction::BtoA => (Side::B, Side::A),
    };
    let mut m = Map::new();
    let (s, split) = split_or_train(data, src)?;
    let y = translate_all(t, &s.x, dir);
    let back = translate_all(t, &y, dir.reverse());
    m.insert("split".into(), json!(split));
    m.insert("samples".into(), json!(s.x.size()[0]));
    if data.is_points() {
        m.insert("cycle_l1".into(), json!((&back - &s.x).abs().mean(Kind::Double).double_value(&[])));
        if let Some(modes) = data.modes() {
            let (from, to) = match dir {
                Direction::AtoB => (&modes.a, &modes.b),
                Direction::BtoA => (&modes.b, &modes.a),
            };
            m.extend(mode_mapping(&s.x, &y, from, to, modes.std));
        }
        return Ok(m);
    }
    m.insert("cycle_l1".into(), json!(l1_psnr(&back, &s.x).0));
    if split == "test"
        && let Some(truth) = data.truth(src)?
    {
        let (l1, psnr) = l1_psnr(&y, &truth);
        m.insert("l1_to_truth".into(), json!(l1));
        m.insert("psnr".into(), json!(psnr));
    }
    let clf = domain_classifier(data, dst, quiet)?;
    if let (Some(c), Some(labels)) = (&clf, &s.labels) {
        m.insert("translation_accuracy".into(), json!(c.accuracy(&y, labels)));
        m.insert("baseline_accuracy".into(), json!(c.accuracy(&s.x, labels)));
        m.insert("classifier_test_accuracy".into(), json!(c.meta.test_accuracy));
    }
    let (target, _) = split_or_train(data, dst)?;
    let features = |x: &Tensor| -> Option<(Tensor, String)> {
        match (&clf, inception) {
            (Some(c), _) => Some((c.embed(x).0, c.identity.clone())),
            (None, Some(f)) => Some((f.embed(x).0, f.identity().to_string())),
            (None, None) => None,
        }
    };
    if let (Some((fy, id)), Some((ft, _))) = (features(&y), features(&target.x)) {
        if y.size()[0] >= image::MIN_SAMPLES && target.x.size()[0] >= image::MIN_SAMPLES {
            m.insert("fcd".into(), json!(image::frechet_of(&fy, &ft)));
            m.insert("reference_samples".into(), json!(target.x.size()[0]));
        }
        m.insert("feature_network".into(), json!(id));
    }
    Ok(m)
}

/// Scores a translator on `data`'s test folders in both directions.
pub fn evaluate(
    t: &dyn Translator,
    data: &Unpaired,
    inception: Option<&FeatureNet>,
    quiet: bool,
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for dir in [Direction::AtoB, Direction::BtoA] {
        out.insert(dir.name().into(), Value::Object(direction(t, data, dir, inception, quiet)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Negates images whose sides are multiples of 4 (and refuses others, as a network would
    /// fail on them), grey to grey.
    struct Negate;
    impl Translator for Negate {
        fn translate(&self, x: &Tensor, _dir: Direction) -> Tensor {
            let (_, _, h, w) = x.size4().unwrap();
            assert!(h % 4 == 0 && w % 4 == 0, "{h}x{w} reached the network");
            -x
        }
        fn channels(&self, _dir: Direction) -> (i64, i64) {
            (1, 1)
        }
        fn stages(&self, _dir: Direction) -> Vec<crate::nets::Stage<'_>> {
            vec![crate::nets::Stage::new("negate", |x| -x)]
        }
        fn side_multiple(&self) -> i64 {
            4
        }
        fn min_side(&self) -> i64 {
            8
        }
    }

    #[test]
    fn any_size_is_padded_for_the_network_and_cropped_back() {
        let x = Tensor::rand([1, 1, 10, 13], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        let y = translate_any_size(&Negate, &x, Direction::AtoB);
        assert_eq!(y.size(), vec![1, 1, 10, 13]);
        assert!(y.equal(&-&x), "the padding is cut off again");
    }

    #[test]
    fn files_are_written_under_their_names_with_an_index() {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("in");
        std::fs::create_dir_all(&input).unwrap();
        ::image::GrayImage::from_fn(13, 10, |x, _| ::image::Luma([(x * 10) as u8]))
            .save(input.join("a b.png"))
            .unwrap();
        ::image::RgbImage::from_fn(9, 12, |_, _| ::image::Rgb([0, 0, 255])).save(input.join("c.jpg")).unwrap();
        let w = translate_files(&Negate, &input, &tmp.path().join("out"), Direction::AtoB, Device::Cpu).unwrap();
        assert_eq!(w.images, 2);
        let out = ::image::open(tmp.path().join("out/a b.png")).unwrap().to_luma8();
        assert_eq!(out.dimensions(), (13, 10));
        assert_eq!(out.get_pixel(0, 0).0[0], 255, "negated 0");
        assert_eq!(::image::open(tmp.path().join("out/c.png")).unwrap().to_luma8().dimensions(), (9, 12));
        let page = std::fs::read_to_string(&w.index).unwrap();
        assert!(page.contains("src=\"input/a%20b.png\"") && page.contains("<td>c.jpg</td>"), "{page}");
        // too small for the network: named, and nothing written
        ::image::GrayImage::new(6, 20).save(input.join("tiny.png")).unwrap();
        let e = translate_files(&Negate, &input, &tmp.path().join("out2"), Direction::AtoB, Device::Cpu).unwrap_err();
        assert!(e.to_string().contains("tiny.png") && e.to_string().contains("at least 8x8"), "{e}");
        assert!(!tmp.path().join("out2").exists());
    }

    #[test]
    fn mode_mapping_by_hand() {
        // source modes at 0 and 10, target modes at 0, 5 and 10 (one dimension); the points of
        // source mode 0 land on target 1 twice and target 2 once, those of mode 10 on target 1
        let x = Tensor::from_slice(&[0.1f32, -0.1, 0.0, 10.0]).view([4, 1]);
        let y = Tensor::from_slice(&[5.0f32, 5.1, 9.0, 4.95]).view([4, 1]);
        let m = mode_mapping(&x, &y, &[vec![0.0], vec![10.0]], &[vec![0.0], vec![5.0], vec![10.0]], 0.1);
        assert_eq!(m["mapping"], json!([1, 1]));
        assert_eq!(m["modes_hit"], 1, "both source modes collapse onto target mode 1");
        assert!((m["mapping_purity"].as_f64().unwrap() - (2.0 / 3.0 + 1.0) / 2.0).abs() < 1e-12);
        // within 0.3 of a target mode: 5.0, 5.1, 4.95 but not 9.0
        assert!((m["on_mode"].as_f64().unwrap() - 0.75).abs() < 1e-12);
    }

    #[test]
    fn l1_and_psnr_by_hand() {
        // pixels 0 and 1 against 0.5 and 0.5 (in [−1, 1]: −1, 1 against 0, 0): |d| = 0.5 each,
        // MSE 0.25, PSNR = 10·log10(4) ≈ 6.0206
        let a = Tensor::from_slice(&[-1.0f32, 1.0]);
        let b = Tensor::from_slice(&[0.0f32, 0.0]);
        let (l1, psnr) = l1_psnr(&a, &b);
        assert!((l1 - 0.5).abs() < 1e-9);
        assert!((psnr - 10.0 * 4f64.log10()).abs() < 1e-9);
    }
}
