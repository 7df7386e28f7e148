//! `gantry data make NAME --out DIR`: two-domain sets in the CycleGAN layout (`data::unpaired`),
//! made from data on the machine; nothing downloads. Each source split is shuffled (seeded) and
//! cut into two disjoint halves, so no image has its partner in the other domain (CoGAN's
//! protocol): the first half is domain A, the second half, transformed, domain B. Each writes
//! `labelsA.csv` / `labelsB.csv` and, where the transform is known, `truthB/` (the transform of
//! each `testA` image), `truthA/` (the untransformed image of each `testB` one) and
//! `transform.txt` naming it.
//!
//! - `digits-edges`: MNIST ↔ edge maps, edge = dilate₃ₓ₃(x) − x (pixels in [0, 1]);
//! - `digits-negative`: MNIST ↔ negatives, 1 − x;
//! - `fashion-edges`: Fashion-MNIST items ↔ their edge maps (an edges2shoes analogue);
//! - `digits-typeset`: MNIST handwriting ↔ digits rendered from the TrueType fonts installed
//!   under /usr/share/fonts (jittered size, position, rotation and stroke), labels both sides,
//!   no truth (a handwritten digit has no one true typeset form);
//! - `modes5-modes10`: DiscoGAN's toy, point sets in `trainA.csv` / `trainB.csv` (and test
//!   files): A a mixture of 5 Gaussians and B of 10, σ = 0.1, their means at multiples of 30° on
//!   circles of radius 2 about (−2, −2) for A (240°…360°) and (2, 2) for B (90°…360°), as the
//!   DiscoGAN-pytorch notebook places its modes, with `modes.json` naming the means;
//! - `shapes-captions`: captioned scenes for text-to-image methods (`scenes`), not a two-domain
//!   set.
pub mod scenes;

use crate::data::{FASHION_MNIST_DIR, idx};
use crate::error::{Error, Result};
use crate::rng;
use ab_glyph::{Font, FontVec, PxScale};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The sets `make` knows.
pub const NAMES: &[&str] =
    &["digits-edges", "digits-negative", "fashion-edges", "digits-typeset", "modes5-modes10", "shapes-captions"];

pub struct Options {
    /// MNIST-format folder of the digit sets (default: `$GANTRY_MNIST`, else
    /// `../shared/data/mnist-10k` beside the working folder).
    pub mnist: Option<PathBuf>,
    /// Images per domain and split at most; 0 takes all.
    pub limit: usize,
    pub seed: u64,
}

/// What `make` wrote.
#[derive(Debug, serde::Serialize)]
pub struct Made {
    pub name: String,
    pub out: PathBuf,
    /// Images of trainA, trainB, testA, testB (of train, test for a captioned set).
    pub counts: Vec<usize>,
    pub source: String,
    /// The fonts of `digits-typeset`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fonts: Vec<String>,
}

/// A 28×28 grey image as bytes.
type Img = Vec<u8>;

/// The 3×3 dilation of `x` minus `x`, clamped at 0: the outer edge of strokes.
pub fn edges(x: &[u8], side: usize) -> Img {
    let mut out = vec![0u8; x.len()];
    for y in 0..side {
        for xx in 0..side {
            let mut m = 0u8;
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (yy, xs) = (y as i64 + dy, xx as i64 + dx);
                    if (0..side as i64).contains(&yy) && (0..side as i64).contains(&xs) {
                        m = m.max(x[yy as usize * side + xs as usize]);
                    }
                }
            }
            out[y * side + xx] = m - x[y * side + xx];
        }
    }
    out
}

pub fn negative(x: &[u8]) -> Img {
    x.iter().map(|&v| 255 - v).collect()
}

fn default_mnist() -> PathBuf {
    std::env::var_os("GANTRY_MNIST").map_or_else(|| PathBuf::from("../shared/data/mnist-10k"), PathBuf::from)
}

/// Images and labels of one split of an MNIST-format folder.
fn read(dir: &Path, split: &str) -> Result<(Vec<Img>, Vec<i64>, usize)> {
    let (images, labels) = idx::read_split(dir, split)?;
    let labels = labels.ok_or_else(|| Error::Data {
        path: dir.into(),
        msg: format!("has no {split}-labels-idx1-ubyte[.gz]; the built-in pairs need labelled digits"),
    })?;
    let (n, h, w) = (images.dims[0], images.dims[1], images.dims[2]);
    if h != w {
        return Err(Error::Data { path: dir.into(), msg: format!("holds {h}x{w} images; square images needed") });
    }
    let imgs = images.data.chunks(h * w).take(n).map(<[u8]>::to_vec).collect();
    Ok((imgs, labels.into_iter().map(i64::from).collect(), h))
}

/// A seeded shuffle of 0..n cut into two disjoint halves, each at most `limit` long.
fn halves(n: usize, seed: u64, stream_index: u64, limit: usize) -> (Vec<usize>, Vec<usize>) {
    let p: Vec<usize> = rng::permutation(n, rng::derive(seed, rng::stream::LABELS, stream_index))
        .into_iter()
        .map(|i| i as usize)
        .collect();
    let (a, b) = p.split_at(n / 2);
    let cap = |v: &[usize]| v.iter().copied().take(if limit > 0 { limit } else { usize::MAX }).collect();
    (cap(a), cap(b))
}

fn save(dir: &Path, name: &str, img: &[u8], side: usize) -> Result<()> {
    let path = dir.join(name);
    image::GrayImage::from_raw(side as u32, side as u32, img.to_vec())
        .expect("a square image")
        .save(&path)
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))
}

/// Writes `folder/NAME.png` for each image (in parallel) and returns the `file,label` lines.
fn write_folder(root: &Path, folder: &str, items: &[(Img, i64)], side: usize) -> Result<String> {
    let dir = root.join(folder);
    std::fs::create_dir_all(&dir).map_err(crate::error::io_err(&dir))?;
    let bar = crate::progress::bar(items.len() as u64, folder, items.len() < 5000);
    items.par_iter().enumerate().try_for_each(|(i, (img, _))| {
        bar.inc(1);
        save(&dir, &format!("{i:05}.png"), img, side)
    })?;
    bar.finish_and_clear();
    Ok(items.iter().enumerate().map(|(i, (_, l))| format!("{folder}/{i:05}.png,{l}\n")).collect())
}

/// Writes a whole set: per split the A items, the B items, and the truths when `transform` is
/// known (truthB: transform(testA); truthA: the untransformed originals of testB).
#[allow(clippy::type_complexity)]
fn write_set(
    out: &Path,
    train: (&[(Img, i64)], &[(Img, i64)]),
    test: (&[(Img, i64)], &[(Img, i64)]),
    truth: Option<(&[(Img, i64)], &[(Img, i64)])>,
    side: usize,
) -> Result<[usize; 4]> {
    if out.join("trainA").exists() || out.join("trainB").exists() {
        return Err(Error::Usage(format!(
            "{} already holds a two-domain set (trainA/ or trainB/); choose another --out or remove it",
            out.display()
        )));
    }
    let mut la = write_folder(out, "trainA", train.0, side)?;
    let mut lb = write_folder(out, "trainB", train.1, side)?;
    la += &write_folder(out, "testA", test.0, side)?;
    lb += &write_folder(out, "testB", test.1, side)?;
    if let Some((truth_b, truth_a)) = truth {
        write_folder(out, "truthB", truth_b, side)?;
        write_folder(out, "truthA", truth_a, side)?;
    }
    for (f, text) in [("labelsA.csv", la), ("labelsB.csv", lb)] {
        let p = out.join(f);
        std::fs::write(&p, format!("file,label\n{text}")).map_err(crate::error::io_err(&p))?;
    }
    Ok([train.0.len(), train.1.len(), test.0.len(), test.1.len()])
}

/// Makes set `name` in `out`.
pub fn make(name: &str, out: &Path, o: &Options) -> Result<Made> {
    let source = match name {
        "modes5-modes10" => return make_modes(out, o),
        "shapes-captions" => {
            let (counts, font) = scenes::make(out, o.limit, o.seed)?;
            return Ok(Made {
                name: name.into(),
                out: out.into(),
                counts,
                source: "generated".into(),
                fonts: vec![font],
            });
        }
        "fashion-edges" => PathBuf::from(FASHION_MNIST_DIR),
        n if NAMES.contains(&n) => o.mnist.clone().unwrap_or_else(default_mnist),
        _ => {
            return Err(Error::Usage(format!(
                "unknown data set `{name}`; `gantry data make` knows: {}",
                NAMES.join(", ")
            )));
        }
    };
    if !source.is_dir() {
        let hint = if name == "fashion-edges" {
            "install it with `apt-get install dataset-fashion-mnist`"
        } else {
            "pass --mnist with an MNIST-format folder (train and t10k images and labels)"
        };
        return Err(Error::Data { path: source, msg: format!("is not there; {hint}") });
    }
    std::fs::create_dir_all(out).map_err(crate::error::io_err(out))?;
    let (tr, tr_y, side) = read(&source, "train")?;
    let (te, te_y, _) = read(&source, "t10k")?;
    let (tra, trb) = halves(tr.len(), o.seed, 0, o.limit);
    let (tea, teb) = halves(te.len(), o.seed, 1, o.limit);
    let pick = |imgs: &[Img], y: &[i64], idx: &[usize]| -> Vec<(Img, i64)> {
        idx.iter().map(|&i| (imgs[i].clone(), y[i])).collect()
    };
    let (a_train, b_orig_train) = (pick(&tr, &tr_y, &tra), pick(&tr, &tr_y, &trb));
    let (a_test, b_orig_test) = (pick(&te, &te_y, &tea), pick(&te, &te_y, &teb));
    let mut fonts = vec![];
    let counts = match name {
        "digits-typeset" => {
            let faces = installed_fonts()?;
            fonts = faces.iter().map(|(p, _)| p.display().to_string()).collect();
            let render = |items: &[(Img, i64)], index: u64| -> Vec<(Img, i64)> {
                items
                    .par_iter()
                    .enumerate()
                    .map(|(i, (_, label))| {
                        let mut r =
                            rng::SplitMix::new(rng::derive(o.seed, rng::stream::AUGMENT, index * 1_000_000 + i as u64));
                        (typeset_digit(&faces, *label, &mut r), *label)
                    })
                    .collect()
            };
            // B's digits keep the labels of the held-out half, so both domains have the same
            // class balance
            write_set(out, (&a_train, &render(&b_orig_train, 0)), (&a_test, &render(&b_orig_test, 1)), None, 28)?
        }
        _ => {
            let f: fn(&[u8], usize) -> Img = if name == "digits-negative" { |x, _| negative(x) } else { edges };
            let map =
                |items: &[(Img, i64)]| -> Vec<(Img, i64)> { items.par_iter().map(|(x, l)| (f(x, side), *l)).collect() };
            let (b_train, b_test) = (map(&b_orig_train), map(&b_orig_test));
            let truth_b = map(&a_test);
            let counts =
                write_set(out, (&a_train, &b_train), (&a_test, &b_test), Some((&truth_b, &b_orig_test)), side)?;
            let p = out.join("transform.txt");
            let t = if name == "digits-negative" { "negative" } else { "edges" };
            std::fs::write(&p, format!("{t}\n")).map_err(crate::error::io_err(&p))?;
            counts
        }
    };
    Ok(Made {
        name: name.into(),
        out: out.into(),
        counts: counts.to_vec(),
        source: source.display().to_string(),
        fonts,
    })
}

/// The toy's mixture means: the points at k·30° on the circle of radius 2 about `centre`, for
/// k = `first`…12.
pub fn circle_modes(first: usize, centre: f64) -> Vec<Vec<f64>> {
    (first..=12)
        .map(|k| {
            let t = k as f64 * std::f64::consts::PI / 6.0;
            vec![centre + 2.0 * t.cos(), centre + 2.0 * t.sin()]
        })
        .collect()
}

/// Training points per domain of `modes5-modes10` (test: a fifth), before `--limit`.
const MODE_POINTS: usize = 10_000;

fn make_modes(out: &Path, o: &Options) -> Result<Made> {
    if out.join("trainA.csv").exists() {
        return Err(Error::Usage(format!(
            "{} already holds trainA.csv; choose another --out or remove it",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(crate::error::io_err(out))?;
    let (a, b, std) = (circle_modes(8, -2.0), circle_modes(3, 2.0), 0.1);
    let n = if o.limit > 0 { o.limit } else { MODE_POINTS };
    let mut counts = [0; 4];
    for (i, (file, modes, count)) in
        [("trainA.csv", &a, n), ("trainB.csv", &b, n), ("testA.csv", &a, n / 5), ("testB.csv", &b, n / 5)]
            .into_iter()
            .enumerate()
    {
        let mut r = rng::SplitMix::new(rng::derive(o.seed, rng::stream::AUGMENT, i as u64));
        let mut text = String::from("x,y\n");
        for _ in 0..count {
            let m = &modes[r.below(modes.len() as u64) as usize];
            text += &format!("{:.6},{:.6}\n", m[0] + std * r.normal(), m[1] + std * r.normal());
        }
        let p = out.join(file);
        std::fs::write(&p, text).map_err(crate::error::io_err(&p))?;
        counts[i] = count;
    }
    let modes = crate::data::unpaired::Modes { a, b, std };
    let p = out.join("modes.json");
    std::fs::write(&p, serde_json::to_string_pretty(&modes).expect("modes serialise"))
        .map_err(crate::error::io_err(&p))?;
    Ok(Made {
        name: "modes5-modes10".into(),
        out: out.into(),
        counts: counts.to_vec(),
        source: "generated".into(),
        fonts: vec![],
    })
}

/// TrueType and OpenType fonts under /usr/share/fonts that have all ten digits, sorted by path;
/// hairline faces (ExtraLight, Thin, Light) and mathematical ones are left out.
pub fn installed_fonts() -> Result<Vec<(PathBuf, FontVec)>> {
    let root = Path::new("/usr/share/fonts");
    let mut paths = vec![];
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "ttf" | "otf"))
                && !["Light", "Thin", "Math"].iter().any(|w| p.to_string_lossy().contains(w))
            {
                paths.push(p);
            }
        }
    }
    paths.sort();
    let fonts: Vec<(PathBuf, FontVec)> = paths
        .into_iter()
        .filter_map(|p| {
            let font = FontVec::try_from_vec(std::fs::read(&p).ok()?).ok()?;
            ('0'..='9').all(|c| font.glyph_id(c).0 != 0).then_some((p, font))
        })
        .collect();
    if fonts.is_empty() {
        return Err(Error::Data {
            path: root.into(),
            msg: "holds no TrueType font with digits; install some, e.g. `apt-get install fonts-dejavu-core fonts-liberation2 fonts-freefont-ttf`".into(),
        });
    }
    Ok(fonts)
}

/// A float canvas, row-major.
struct Canvas {
    w: usize,
    h: usize,
    v: Vec<f32>,
}

impl Canvas {
    fn at(&self, x: i64, y: i64) -> f32 {
        if x < 0 || y < 0 || x >= self.w as i64 || y >= self.h as i64 {
            0.0
        } else {
            self.v[y as usize * self.w + x as usize]
        }
    }

    /// Bilinear sample at (x, y).
    fn sample(&self, x: f32, y: f32) -> f32 {
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        self.at(x0, y0) * (1.0 - fx) * (1.0 - fy)
            + self.at(x0 + 1, y0) * fx * (1.0 - fy)
            + self.at(x0, y0 + 1) * (1.0 - fx) * fy
            + self.at(x0 + 1, y0 + 1) * fx * fy
    }

    /// Grey-level dilation (k > 0) or erosion (k < 0) by a (2|k|+1)² square.
    fn morph(&self, k: i64) -> Canvas {
        let mut v = self.v.clone();
        for y in 0..self.h as i64 {
            for x in 0..self.w as i64 {
                let mut m: f32 = if k > 0 { 0.0 } else { 1.0 };
                for dy in -k.abs()..=k.abs() {
                    for dx in -k.abs()..=k.abs() {
                        let s = self.at(x + dx, y + dy);
                        m = if k > 0 { m.max(s) } else { m.min(s) };
                    }
                }
                v[y as usize * self.w + x as usize] = m;
            }
        }
        Canvas { w: self.w, h: self.h, v }
    }
}

/// One digit rendered MNIST-style: a random font, stroke weight (thickened at 64 px),
/// rotation within ±15°, the longer side of the ink scaled to 16–22 px, centred by its centre of
/// mass in 28 × 28 and shifted by up to ±2 px, white on black.
pub fn typeset_digit(fonts: &[(PathBuf, FontVec)], digit: i64, r: &mut rng::SplitMix) -> Img {
    let (_, font) = &fonts[r.below(fonts.len() as u64) as usize];
    let ch = char::from_digit(digit as u32, 10).expect("a digit");
    let glyph = font.glyph_id(ch).with_scale_and_position(PxScale::from(64.0), ab_glyph::point(16.0, 64.0));
    let mut c = Canvas { w: 96, h: 96, v: vec![0.0; 96 * 96] };
    if let Some(outline) = font.outline_glyph(glyph) {
        let b = outline.px_bounds();
        outline.draw(|x, y, cov| {
            let (px, py) = (b.min.x as i64 + x as i64, b.min.y as i64 + y as i64);
            if (0..96).contains(&px) && (0..96).contains(&py) {
                let i = py as usize * 96 + px as usize;
                c.v[i] = c.v[i].max(cov.min(1.0));
            }
        });
    }
    // MNIST's pen is broad: the outline is thickened by 1 to 3 px at 64 px (0.4 to 1.2 px at 28)
    let stroke = 1 + r.below(3) as i64;
    c = c.morph(stroke);
    // rotate about the canvas centre (inverse mapping)
    let angle = ((r.next_f64() * 30.0 - 15.0) as f32).to_radians();
    let (s, co) = angle.sin_cos();
    let mut rot = Canvas { w: 96, h: 96, v: vec![0.0; 96 * 96] };
    for y in 0..96 {
        for x in 0..96 {
            let (dx, dy) = (x as f32 - 48.0, y as f32 - 48.0);
            rot.v[y * 96 + x] = c.sample(co * dx + s * dy + 48.0, -s * dx + co * dy + 48.0);
        }
    }
    // bounding box of the ink
    let (mut x0, mut y0, mut x1, mut y1) = (96usize, 96usize, 0usize, 0usize);
    for y in 0..96 {
        for x in 0..96 {
            if rot.v[y * 96 + x] > 0.05 {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
        }
    }
    if x1 < x0 {
        return vec![0; 28 * 28];
    }
    let (bw, bh) = ((x1 - x0 + 1) as f32, (y1 - y0 + 1) as f32);
    let target = 16.0 + r.next_f64() as f32 * 6.0;
    let scale = target / bw.max(bh);
    let (ow, oh) = ((bw * scale).round().max(1.0) as usize, (bh * scale).round().max(1.0) as usize);
    // area-average down-sampling of the box into ow × oh
    let mut small = vec![0f32; ow * oh];
    for (oy, row) in small.chunks_mut(ow).enumerate() {
        for (ox, px) in row.iter_mut().enumerate() {
            let (sx0, sy0) = (x0 as f32 + ox as f32 / scale, y0 as f32 + oy as f32 / scale);
            let steps = (1.0 / scale).ceil().max(1.0) as usize;
            let mut acc = 0.0;
            for j in 0..steps {
                for i in 0..steps {
                    acc += rot.sample(
                        sx0 + (i as f32 + 0.5) / scale / steps as f32,
                        sy0 + (j as f32 + 0.5) / scale / steps as f32,
                    );
                }
            }
            *px = acc / (steps * steps) as f32;
        }
    }
    // centre of mass to the image centre, then a jitter of ±2 px
    let (mut mx, mut my, mut mass) = (0f32, 0f32, 0f32);
    for (i, &v) in small.iter().enumerate() {
        mx += v * (i % ow) as f32;
        my += v * (i / ow) as f32;
        mass += v;
    }
    let (cx, cy) = if mass > 0.0 { (mx / mass, my / mass) } else { (ow as f32 / 2.0, oh as f32 / 2.0) };
    let (jx, jy) = (r.below(5) as i64 - 2, r.below(5) as i64 - 2);
    let (ox, oy) = ((14.0 - cx).round() as i64 + jx, (14.0 - cy).round() as i64 + jy);
    let mut out = vec![0u8; 28 * 28];
    for (i, &v) in small.iter().enumerate() {
        let (x, y) = ((i % ow) as i64 + ox, (i / ow) as i64 + oy);
        if (0..28).contains(&x) && (0..28).contains(&y) {
            out[y as usize * 28 + x as usize] = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_and_negatives_by_hand() {
        // a single lit pixel at the centre of 3×3: its dilation lights all nine, so the edge is
        // the ring of eight and the centre 0
        let mut x = vec![0u8; 9];
        x[4] = 200;
        let e = edges(&x, 3);
        assert_eq!(e, vec![200, 200, 200, 200, 0, 200, 200, 200, 200]);
        assert_eq!(negative(&[0, 255, 10]), vec![255, 0, 245]);
    }

    #[test]
    fn the_toy_modes_are_the_notebooks() {
        let a = circle_modes(8, -2.0);
        assert_eq!(a.len(), 5);
        assert_eq!(circle_modes(3, 2.0).len(), 10);
        // 240° and 360° on the circle of radius 2 about (−2, −2)
        assert!((a[0][0] + 3.0).abs() < 1e-12 && (a[0][1] + 2.0 + 3f64.sqrt()).abs() < 1e-12);
        assert!(a[4][0].abs() < 1e-12 && (a[4][1] + 2.0).abs() < 1e-12);
    }

    #[test]
    fn halves_are_disjoint_and_seeded() {
        let (a, b) = halves(11, 3, 0, 0);
        assert_eq!((a.len(), b.len()), (5, 6));
        assert!(a.iter().all(|i| !b.contains(i)));
        assert_eq!(halves(11, 3, 0, 0), (a.clone(), b));
        assert_ne!(halves(11, 4, 0, 0).0, a);
        assert_eq!(halves(11, 3, 0, 2).0, a[..2]);
    }

    #[test]
    fn a_typeset_digit_is_centred_ink_of_mnist_size() {
        let fonts = installed_fonts().expect("the machine has a TrueType font with digits (fonts-dejavu-core)");
        let mut r = rng::SplitMix::new(1);
        for d in 0..10 {
            let img = typeset_digit(&fonts, d, &mut r);
            let ink: Vec<(usize, usize)> = (0..28 * 28).filter(|&i| img[i] > 128).map(|i| (i % 28, i / 28)).collect();
            assert!(ink.len() > 15, "digit {d} has ink");
            let (x0, x1) = (ink.iter().map(|p| p.0).min().unwrap(), ink.iter().map(|p| p.0).max().unwrap());
            let (y0, y1) = (ink.iter().map(|p| p.1).min().unwrap(), ink.iter().map(|p| p.1).max().unwrap());
            assert!((y1 - y0).max(x1 - x0) <= 23, "digit {d} fits MNIST's box");
            assert!(x0 >= 1 && y0 >= 1 && x1 <= 26 && y1 <= 26, "digit {d} inside the frame");
        }
    }
}
