//! The attribute judge of gantry's captioned scenes: a detector (`nets::judge`) trained on the
//! ground truth of the data's own renders (`scenes.jsonl`: every object's shape, colour, size,
//! fill, stroke, texture, letter and centre), cached per data set and image side, and the
//! scoring of an image against a caption's meaning. A judge of 64 px or more also learns from
//! half its batches brought down to a quarter of the side and back up, so that Stage-I samples,
//! upsampled to be judged beside Stage II's, are judged by what they show.
//!
//! Scoring: the judge's detections (cells whose objectness passes ½, per anchor) are matched to
//! the caption's mentioned objects by the assignment that satisfies most mentioned attributes;
//! each mentioned attribute then counts as right or wrong (a mention left without a detection
//! gets all its attributes wrong), and each stated relation is checked on the matched
//! detections with the rules the captions were written by (`data::scenes::relations`).
use crate::classifier::{read_meta, save_with_meta, weights_hash};
use crate::data::captions::Captioned;
use crate::data::scenes::{
    Caption, Colour, Fill, GLYPHS, Mention, Object, Relation, SIDE, Scene, ShapeKind, Size, Stroke, Texture,
};
use crate::data::{self, DataConfig};
use crate::error::{Error, Result};
use crate::nets::judge::{ANCHORS, Detector, GRID, fits, heads};
use crate::rng;
use crate::train::TrainConfig;
use crate::train::{checkpoint::named_variables, optim::Optimizer, schedule};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

pub const ARCH: &str = "gantry-judge-v1";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub arch: String,
    pub channels: i64,
    pub size: i64,
    pub data: String,
    pub data_hash: String,
    pub steps: u64,
    pub seed: u64,
    /// On the test split's real images: each attribute's accuracy on the true objects, and the
    /// objects found (objectness right per cell and anchor).
    pub test: BTreeMap<String, f64>,
}

pub struct Judge {
    vs: VarStore,
    net: Detector,
    pub meta: Meta,
    /// `gantry-judge-v1:<hash of the weights>`.
    pub identity: String,
}

/// Training targets of a batch of scenes: per image, anchor and cell, whether an object's
/// centre is there, its attribute classes and offsets.
struct Targets {
    object: Tensor,
    classes: Vec<Tensor>,
    /// Where each attribute applies (stroke only to outlines, texture to filled shapes, glyph
    /// to letters).
    masks: Vec<Tensor>,
    offset: Tensor,
}

/// The cell and anchor of an object, and its offsets in the cell.
fn place(o: &Object) -> (i64, i64, i64, f64, f64) {
    let cell = SIDE as f64 / GRID as f64;
    let (fx, fy) = (o.x as f64 / cell, o.y as f64 / cell);
    let (cx, cy) = ((fx.floor() as i64).clamp(0, GRID - 1), (fy.floor() as i64).clamp(0, GRID - 1));
    (i64::from(o.size == Size::Large), cy, cx, fx - cx as f64, fy - cy as f64)
}

fn targets(scenes: &[&Scene], device: Device) -> Targets {
    let n = scenes.len();
    let cells = (ANCHORS * GRID * GRID) as usize;
    let mut object = vec![0f32; n * cells];
    let mut classes = vec![vec![0i64; n * cells]; 6];
    let mut masks = vec![vec![0f32; n * cells]; 6];
    let mut offset = vec![0f32; n * cells * 2];
    for (i, s) in scenes.iter().enumerate() {
        for o in &s.objects {
            let (a, cy, cx, ox, oy) = place(o);
            let k = i * cells + ((a * GRID + cy) * GRID + cx) as usize;
            object[k] = 1.0;
            let attrs = [
                (o.shape.index(), true),
                (o.colour.index(), true),
                (o.fill.index(), true),
                (o.stroke.index(), o.fill == Fill::Outlined),
                (o.texture.index(), o.fill == Fill::Filled && o.shape != ShapeKind::Letter),
                (o.glyph.and_then(|g| GLYPHS.iter().position(|&c| c == g)).unwrap_or(0), o.glyph.is_some()),
            ];
            for (j, (c, on)) in attrs.into_iter().enumerate() {
                classes[j][k] = c as i64;
                masks[j][k] = if on { 1.0 } else { 0.0 };
            }
            offset[k * 2] = ox as f32;
            offset[k * 2 + 1] = oy as f32;
        }
    }
    let shape = [n as i64, ANCHORS, GRID, GRID];
    Targets {
        object: Tensor::from_slice(&object).view(shape).to(device),
        classes: classes.iter().map(|c| Tensor::from_slice(c).view(shape).to(device)).collect(),
        masks: masks.iter().map(|m| Tensor::from_slice(m).view(shape).to(device)).collect(),
        offset: Tensor::from_slice(&offset).view([n as i64, ANCHORS, GRID, GRID, 2]).to(device),
    }
}

/// The heads of raw outputs `[n, anchors, per_anchor, g, g]`, by name, each
/// `[n, anchors, width, g, g]`.
fn split(out: &Tensor) -> BTreeMap<&'static str, Tensor> {
    let mut at = 0;
    heads()
        .into_iter()
        .map(|(name, w)| {
            let t = out.narrow(2, at, w);
            at += w;
            (name, t)
        })
        .collect()
}

fn loss(out: &Tensor, t: &Targets) -> Tensor {
    let h = split(out);
    // objectness: the few cells with an object weigh as much as the many without
    let obj = h["object"].squeeze_dim(2);
    let bce = obj.binary_cross_entropy_with_logits::<Tensor>(&t.object, None, None, tch::Reduction::None);
    let (pos, neg) = (&t.object, 1.0 - &t.object);
    let mut total = (&bce * pos).sum(Kind::Float) / pos.sum(Kind::Float).clamp_min(1.0)
        + (&bce * &neg).sum(Kind::Float) / neg.sum(Kind::Float).clamp_min(1.0);
    for (j, name) in ["shape", "colour", "fill", "stroke", "texture", "glyph"].into_iter().enumerate() {
        // [n, a, w, g, g] → [n·a·g·g, w]
        let logits = h[name].permute([0, 1, 3, 4, 2]).flatten(0, 3);
        let ce =
            logits.cross_entropy_loss::<Tensor>(&t.classes[j].flatten(0, -1), None, tch::Reduction::None, -100, 0.0);
        let m = t.masks[j].flatten(0, -1);
        total += (ce * &m).sum(Kind::Float) / m.sum(Kind::Float).clamp_min(1.0);
    }
    let off = h["offset"].permute([0, 1, 3, 4, 2]).sigmoid();
    let m = t.object.unsqueeze(-1);
    total + ((off - &t.offset).square() * &m).sum(Kind::Float) / m.sum(Kind::Float).clamp_min(1.0) * 2.0
}

/// One detected object.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    pub object: Object,
}

impl Judge {
    fn build(meta: Meta, device: Device) -> Judge {
        let vs = VarStore::new(device);
        let net = Detector::new(vs.root(), meta.channels, meta.size);
        Judge { vs, net, meta, identity: String::new() }
    }

    /// Trains on the train split of gantry's captioned set `source`, read at `size`, and
    /// measures it on the test split.
    pub fn train(source: &str, size: i64, steps: u64, seed: u64, quiet: bool, device: Device) -> Result<Judge> {
        if !fits(size) {
            return Err(Error::Usage(format!(
                "the attribute judge reads images of side 16, 32, 64, 128 or 256, not {size}"
            )));
        }
        let cfg = DataConfig { source: source.to_string(), image_size: size, channels: 3, ..Default::default() };
        let train = Captioned::load(&cfg, "train", device)?;
        let scenes = need_scenes(&train, source)?;
        let meta = Meta {
            arch: ARCH.into(),
            channels: 3,
            size,
            data: source.into(),
            data_hash: data::identity(source)?,
            steps,
            seed,
            test: BTreeMap::new(),
        };
        rng::seed_torch(seed, rng::stream::INIT, 13);
        let mut j = Judge::build(meta, device);
        crate::nets::initialise(&j.vs, crate::nets::Init::Dcgan);
        let params: Vec<(String, Tensor)> =
            named_variables(&j.vs).into_iter().filter(|(_, t)| t.requires_grad()).collect();
        let tc = TrainConfig { beta1: 0.9, beta2: 0.999, ..Default::default() };
        let mut opt = Optimizer::new(&tc, params);
        let bar = crate::progress::bar(steps, "attribute judge", quiet);
        for step in 0..steps {
            rng::seed_torch(seed, rng::stream::STEP, step);
            let idx = train.batch_indices(step, 64, seed);
            let x = train.x.index_select(0, &Tensor::from_slice(&idx).to(device));
            // at 64 px and more, half of each batch is seen as a quarter-side image brought back
            // up (Stage I's resolution), so that upsampled low-resolution samples are judged by
            // what they show, not thrown off by their blur
            let x = if size >= 64 {
                let q = size / 4;
                let low = x.narrow(0, 0, 32).upsample_bilinear2d([q, q], false, None, None);
                Tensor::cat(&[low.upsample_bilinear2d([size, size], false, None, None), x.narrow(0, 32, 32)], 0)
            } else {
                x
            };
            let batch: Vec<&Scene> = idx.iter().map(|&i| &scenes[i as usize]).collect();
            let (_, out) = j.net.forward(&x, true);
            let l = loss(&out, &targets(&batch, device));
            let grads = Tensor::run_backward(&[&l], &opt.params(), false, false);
            opt.step(&grads, schedule::lr(2e-3, crate::train::Schedule::Linear, 0, step, steps));
            bar.inc(1);
        }
        bar.finish_and_clear();
        j.identity = format!("{ARCH}:{}", weights_hash(&j.vs));
        if let Ok(test) = Captioned::load(&cfg, "test", device) {
            let s = need_scenes(&test, source)?;
            j.meta.test = j.accuracy(&test.x, s);
        }
        Ok(j)
    }

    /// Per attribute, the accuracy on the true objects of `scenes` (images `x`), and
    /// `objects`: the fraction of cells × anchors whose objectness is right.
    pub fn accuracy(&self, x: &Tensor, scenes: &[Scene]) -> BTreeMap<String, f64> {
        let dets = self.detect(x);
        let mut right: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        let mut add = |k: &str, ok: bool| {
            let e = right.entry(k.into()).or_insert((0.0, 0.0));
            e.0 += f64::from(u8::from(ok));
            e.1 += 1.0;
        };
        for (s, d) in scenes.iter().zip(&dets) {
            add("objects_found", d.len() == s.objects.len());
            for o in &s.objects {
                let (a, cy, cx, _, _) = place(o);
                let hit = d.iter().find(|p| {
                    let (pa, py, px, _, _) = place(&p.object);
                    (pa, py, px) == (a, cy, cx)
                });
                let Some(p) = hit.map(|p| &p.object) else {
                    add("found", false);
                    continue;
                };
                add("found", true);
                add("shape", p.shape == o.shape);
                add("colour", p.colour == o.colour);
                add("fill", p.fill == o.fill);
                if o.fill == Fill::Outlined {
                    add("stroke", p.stroke == o.stroke);
                }
                if o.fill == Fill::Filled && o.shape != ShapeKind::Letter {
                    add("texture", p.texture == o.texture);
                }
                if o.glyph.is_some() {
                    add("glyph", p.glyph == o.glyph);
                }
            }
        }
        right.into_iter().map(|(k, (r, n))| (k, r / n.max(1.0))).collect()
    }

    /// Features `[n, 128]` (no gradient), images resized to the judge's side.
    pub fn features(&self, x: &Tensor) -> Tensor {
        let x = crate::classifier::adapt(x, self.meta.channels, self.meta.size);
        tch::no_grad(|| {
            Tensor::cat(&x.split(256, 0).iter().map(|p| self.net.forward(p, false).0).collect::<Vec<_>>(), 0)
        })
    }

    /// The objects the judge sees in each image (resized to its side).
    pub fn detect(&self, x: &Tensor) -> Vec<Vec<Detection>> {
        let x = crate::classifier::adapt(x, self.meta.channels, self.meta.size);
        let out = tch::no_grad(|| {
            Tensor::cat(&x.split(256, 0).iter().map(|p| self.net.forward(p, false).1).collect::<Vec<_>>(), 0)
        });
        let h = split(&out.to_device(Device::Cpu));
        let n = out.size()[0];
        let obj = Vec::<f32>::try_from(h["object"].sigmoid().flatten(0, -1)).expect("floats");
        let arg = |name: &str| Vec::<i64>::try_from(h[name].argmax(2, false).flatten(0, -1)).expect("ints");
        let (shape, colour, fill, stroke, texture, glyph) =
            (arg("shape"), arg("colour"), arg("fill"), arg("stroke"), arg("texture"), arg("glyph"));
        let off = Vec::<f32>::try_from(h["offset"].sigmoid().permute([0, 1, 3, 4, 2]).flatten(0, -1)).expect("floats");
        let cell = SIDE as f32 / GRID as f32;
        let per = (ANCHORS * GRID * GRID) as usize;
        (0..n as usize)
            .map(|i| {
                let mut found = vec![];
                for a in 0..ANCHORS {
                    for cy in 0..GRID {
                        for cx in 0..GRID {
                            let k = i * per + ((a * GRID + cy) * GRID + cx) as usize;
                            if obj[k] <= 0.5 {
                                continue;
                            }
                            let shape = ShapeKind::ALL[shape[k] as usize];
                            let size = if a == 1 { Size::Large } else { Size::Small };
                            found.push(Detection {
                                object: Object {
                                    shape,
                                    glyph: (shape == ShapeKind::Letter).then(|| GLYPHS[glyph[k] as usize]),
                                    colour: Colour::ALL[colour[k] as usize],
                                    size,
                                    fill: Fill::ALL[fill[k] as usize],
                                    stroke: Stroke::ALL[stroke[k] as usize],
                                    texture: Texture::ALL[texture[k] as usize],
                                    x: (cx as f32 + off[k * 2]) * cell,
                                    y: (cy as f32 + off[k * 2 + 1]) * cell,
                                    r: if size == Size::Large { 22.0 } else { 11.0 },
                                    inside: None,
                                },
                            });
                        }
                    }
                }
                nest(&mut found);
                found
            })
            .collect()
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        save_with_meta(&self.vs, &serde_json::to_vec(&self.meta).expect("meta serialises"), path)
    }

    pub fn load(path: &Path, device: Device) -> Result<Judge> {
        let bytes = read_meta(path, "attribute judge", "gantry eval --run RUN (it trains on first use)")?;
        let meta: Meta = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Checkpoint { path: path.into(), msg: format!("unreadable metadata ({e})") })?;
        let j = Judge::build(meta, device);
        crate::train::checkpoint::load_store(&j.vs, path)?;
        let identity = format!("{ARCH}:{}", weights_hash(&j.vs));
        Ok(Judge { identity, ..j })
    }
}

/// The scene records of a split, or a clear error for a folder that has none.
pub fn need_scenes<'a>(set: &'a Captioned, source: &str) -> Result<&'a [Scene]> {
    set.scenes.as_deref().ok_or_else(|| Error::Data {
        path: PathBuf::from(source),
        msg: "has no scenes.jsonl beside its images: the attribute judge learns from the ground truth of gantry's own captioned set (`gantry data make shapes-captions`); a caption folder of photographs has none".into(),
    })
}

/// Marks a small detection whose centre lies well within a large one's as inside it.
fn nest(found: &mut [Detection]) {
    for i in 0..found.len() {
        if found[i].object.size != Size::Small {
            continue;
        }
        let (x, y) = (found[i].object.x, found[i].object.y);
        found[i].object.inside = found.iter().position(|o| {
            o.object.size == Size::Large && (o.object.x - x).abs() < 10.0 && (o.object.y - y).abs() < 10.0
        });
    }
}

/// The cached judge of `source` at `size`, trained on first use.
pub fn for_data(source: &str, size: i64, device: Device, quiet: bool) -> Result<Judge> {
    let hash = data::identity(source)?;
    let path = crate::classifier::cache_dir().join("judges").join(format!("{ARCH}-{hash}-{size}.safetensors"));
    if path.is_file() {
        return Judge::load(&path, device);
    }
    if !quiet {
        eprintln!("training the attribute judge for `{source}` at {size} px (first use; cached in {})", path.display());
    }
    let j = Judge::train(source, size, 3000, 0, quiet, device)?;
    j.save(&path)?;
    Ok(j)
}

/// How well images match their captions: counts of checks passed, by kind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub counts: BTreeMap<&'static str, (u64, u64)>,
    pub exact: (u64, u64),
}

impl Tally {
    fn add(&mut self, kind: &'static str, ok: bool) {
        let e = self.counts.entry(kind).or_insert((0, 0));
        e.0 += u64::from(ok);
        e.1 += 1;
    }

    /// The fraction right of `kinds` together.
    pub fn rate(&self, kinds: &[&str]) -> Option<f64> {
        let (r, n) = kinds.iter().filter_map(|k| self.counts.get(k)).fold((0, 0), |(a, b), (r, n)| (a + r, b + n));
        (n > 0).then(|| r as f64 / n as f64)
    }

    /// The figures `gantry eval` reports, keys prefixed.
    pub fn figures(&self, prefix: &str) -> Vec<(String, serde_json::Value)> {
        let attrs = ["colour", "shape", "glyph", "size", "fill", "stroke", "texture", "cell"];
        let mut out = vec![
            (format!("{prefix}attribute_accuracy"), self.rate(&attrs)),
            (format!("{prefix}colour_accuracy"), self.rate(&["colour"])),
            (format!("{prefix}shape_accuracy"), self.rate(&["shape"])),
            (format!("{prefix}fine_accuracy"), self.rate(&["stroke", "texture", "glyph"])),
            (format!("{prefix}relation_accuracy"), self.rate(&["relation"])),
            (format!("{prefix}exact"), (self.exact.1 > 0).then(|| self.exact.0 as f64 / self.exact.1 as f64)),
        ];
        for k in ["size", "fill", "stroke", "texture", "glyph", "cell"] {
            out.push((format!("{prefix}{k}_accuracy"), self.rate(&[k])));
        }
        out.into_iter().map(|(k, v)| (k, v.map_or(serde_json::Value::Null, |v| serde_json::json!(v)))).collect()
    }
}

/// The checks of one mention against one detection: (kind, passed).
fn checks(m: &Mention, d: Option<&Object>) -> Vec<(&'static str, bool)> {
    let mut out = vec![];
    let mut check = |kind: &'static str, said: bool, ok: &dyn Fn(&Object) -> bool| {
        if said {
            out.push((kind, d.is_some_and(ok)));
        }
    };
    check("colour", m.colour.is_some(), &|d| Some(d.colour) == m.colour);
    check("shape", m.shape.is_some(), &|d| Some(d.shape) == m.shape);
    check("glyph", m.glyph.is_some(), &|d| d.glyph == m.glyph);
    check("size", m.size.is_some(), &|d| Some(d.size) == m.size);
    check("fill", m.fill.is_some(), &|d| Some(d.fill) == m.fill);
    check("stroke", m.stroke.is_some(), &|d| d.fill == Fill::Outlined && Some(d.stroke) == m.stroke);
    check("texture", m.texture.is_some(), &|d| d.fill == Fill::Filled && Some(d.texture) == m.texture);
    check("cell", m.cell.is_some(), &|d| d.cell() == m.cell);
    out
}

/// Whether detection `a` bears relation `rel` to detection `b` (indices into `dets`).
fn holds(dets: &[Detection], a: usize, rel: Relation, b: usize) -> bool {
    crate::data::scenes::relations(&dets[a].object, a, &dets[b].object, b).contains(&rel)
}

/// Scores one image's detections against one caption into `tally`.
pub fn score(dets: &[Detection], caption: &Caption, tally: &mut Tally) {
    let k = caption.mentions.len();
    // the injective assignment of mentions to detections (or to none) passing most checks
    let mut best: Option<(usize, Vec<Option<usize>>)> = None;
    let mut assign = vec![None; k];
    fn walk(
        i: usize,
        dets: &[Detection],
        c: &Caption,
        assign: &mut Vec<Option<usize>>,
        best: &mut Option<(usize, Vec<Option<usize>>)>,
    ) {
        if i == c.mentions.len() {
            let passed: usize = c
                .mentions
                .iter()
                .zip(assign.iter())
                .map(|(m, d)| checks(m, d.map(|j| &dets[j].object)).iter().filter(|(_, ok)| *ok).count())
                .sum();
            if best.as_ref().is_none_or(|(b, _)| passed > *b) {
                *best = Some((passed, assign.clone()));
            }
            return;
        }
        for j in (0..dets.len()).map(Some).chain([None]) {
            if j.is_some() && assign[..i].contains(&j) {
                continue;
            }
            assign[i] = j;
            walk(i + 1, dets, c, assign, best);
        }
    }
    walk(0, dets, caption, &mut assign, &mut best);
    let (_, assign) = best.expect("at least the empty assignment");
    let mut all = true;
    for (m, d) in caption.mentions.iter().zip(&assign) {
        for (kind, ok) in checks(m, d.map(|j| &dets[j].object)) {
            tally.add(kind, ok);
            all &= ok;
        }
    }
    let of = |object: usize| caption.mentions.iter().position(|m| m.object == object).and_then(|i| assign[i]);
    for &(a, rel, b) in &caption.relations {
        let ok = matches!((of(a), of(b)), (Some(x), Some(y)) if holds(dets, x, rel, y));
        tally.add("relation", ok);
        all &= ok;
    }
    tally.exact.0 += u64::from(all);
    tally.exact.1 += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(shape: ShapeKind, colour: Colour, size: Size, x: f32, y: f32) -> Object {
        Object {
            shape,
            glyph: None,
            colour,
            size,
            fill: Fill::Filled,
            stroke: Stroke::Solid,
            texture: Texture::Plain,
            x,
            y,
            r: if size == Size::Large { 22.0 } else { 11.0 },
            inside: None,
        }
    }

    fn mention(object: usize, shape: ShapeKind, colour: Colour) -> Mention {
        Mention { object, shape: Some(shape), colour: Some(colour), ..Default::default() }
    }

    #[test]
    fn scoring_by_hand() {
        // "a red circle left of a blue square": the image has a red circle at the left and a
        // green square at the right
        let dets = vec![
            Detection { object: obj(ShapeKind::Square, Colour::Green, Size::Large, 100.0, 60.0) },
            Detection { object: obj(ShapeKind::Circle, Colour::Red, Size::Small, 20.0, 60.0) },
        ];
        let caption = Caption {
            text: String::new(),
            mentions: vec![mention(0, ShapeKind::Circle, Colour::Red), mention(1, ShapeKind::Square, Colour::Blue)],
            relations: vec![(0, Relation::Left, 1)],
        };
        let mut t = Tally::default();
        score(&dets, &caption, &mut t);
        // 3 of 4 attributes (the square's colour is wrong), the relation right, not exact
        assert_eq!(t.rate(&["colour", "shape"]), Some(0.75));
        assert_eq!(t.rate(&["colour"]), Some(0.5));
        assert_eq!(t.rate(&["relation"]), Some(1.0));
        assert_eq!(t.exact, (0, 1));
        // an empty image: every check fails
        let mut e = Tally::default();
        score(&[], &caption, &mut e);
        assert_eq!(e.rate(&["colour", "shape", "relation"]), Some(0.0));
        // the right image: exact
        let mut r = Tally::default();
        let mut good = dets.clone();
        good[0].object.colour = Colour::Blue;
        score(&good, &caption, &mut r);
        assert_eq!(r.exact, (1, 1));
    }

    #[test]
    fn targets_place_objects_by_cell_and_anchor() {
        let s = Scene {
            file: "x".into(),
            objects: vec![obj(ShapeKind::Circle, Colour::Red, Size::Large, 40.0, 72.0)],
            held_out: false,
            captions: vec![],
        };
        let t = targets(&[&s], Device::Cpu);
        // 40 / 16 = 2.5, 72 / 16 = 4.5: cell (4, 2) of the large anchor, offsets ½
        assert_eq!(t.object.sum(Kind::Float).double_value(&[]), 1.0);
        assert_eq!(t.object.double_value(&[0, 1, 4, 2]), 1.0);
        assert_eq!(t.classes[1].int64_value(&[0, 1, 4, 2]), Colour::Red.index() as i64);
        assert!((t.offset.double_value(&[0, 1, 4, 2, 0]) - 0.5).abs() < 1e-6);
        // a filled circle: no stroke target, a texture target
        assert_eq!(t.masks[3].double_value(&[0, 1, 4, 2]), 0.0);
        assert_eq!(t.masks[4].double_value(&[0, 1, 4, 2]), 1.0);
    }
}
