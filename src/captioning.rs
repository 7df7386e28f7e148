//! Scoring any `CaptionSampler` (StackGAN) on the held-out captions of gantry's captioned set:
//! the figures of `gantry eval --run RUN` for a text-to-image run.
//!
//! One sample is drawn per (test image, caption) pair, cycling through each image's captions.
//! The attribute judge (`judge`) at the data's full side scores every stage's samples (lower
//! stages upsampled) against the caption they were drawn from: `caption_attribute_accuracy`
//! (every mentioned attribute), `caption_colour_accuracy`, `caption_shape_accuracy`,
//! `caption_fine_accuracy` (stroke, texture, letter), `caption_relation_accuracy`,
//! `caption_exact` (everything a caption says, right), and the same on the scenes holding a
//! colour–shape pair training never showed (`caption_held_out_…`). Two references frame them:
//! the real test images scored against their own captions (`caption_real_…`, the judge's
//! ceiling) and the samples scored against another image's caption (`caption_shuffled_…`, the
//! chance level). FCD per stage uses a judge trained at that stage's side as the feature network,
//! against the real test images at that side; a lower stage's samples are also scored upsampled
//! to the last stage's side in its judge's features (`stage1_fcd_upsampled`, comparable with the
//! last stage's `fcd`). Stage-I figures of a Stage-II run carry the prefix `stage1_`.
//!
//! Any captioned folder (photographs too, which have no scene records for a judge) gets
//! R-precision in the run's own text encoder's joint embedding (`caption_r_precision`, with the
//! real images' as the ceiling), and, with a feature network given (`--features inception`), the
//! image metrics of each stage against the test images (FID, Inception score, …).
use crate::data::DataConfig;
use crate::data::captions::Captioned;
use crate::data::scenes::Caption;
use crate::error::{Error, Result};
use crate::judge::{self, Judge, Tally};
use crate::method::CaptionSampler;
use crate::metrics::suite::{FeatureNet, Reference};
use crate::rng;
use serde_json::{Map, Value, json};
use tch::{Device, Kind, Tensor};

/// What to draw: `n` samples (at most one per test image and caption) from `seed`; judges
/// given by the user (`--judge FILE`, one per side), else the cached ones of the data.
pub struct Ask {
    pub n: i64,
    pub seed: u64,
    pub quiet: bool,
    pub judges: Vec<Judge>,
    /// A feature network for the image metrics of the last stage (`--features inception`: FID,
    /// Inception score, KID, precision and recall against the test images).
    pub features: Option<FeatureNet>,
}

/// A judge the user gave, or one from the cache.
enum Held<'a> {
    Given(&'a Judge),
    Cached(Box<Judge>),
}

impl std::ops::Deref for Held<'_> {
    type Target = Judge;
    fn deref(&self) -> &Judge {
        match self {
            Held::Given(j) => j,
            Held::Cached(j) => j,
        }
    }
}

/// The judge of `side`: the user's, else the cached one of the data (trained on first use).
fn judge_at<'a>(ask: &'a Ask, source: &str, side: i64, device: Device) -> Result<Held<'a>> {
    match ask.judges.iter().find(|j| j.meta.size == side) {
        Some(j) => {
            let want = crate::data::identity(source)?;
            if j.meta.data_hash != want {
                return Err(Error::Usage(format!(
                    "the judge {} was trained on `{}` (data hash {}), not on `{source}` (data hash {want}); train one with `gantry judge train --data {source} --size {side} --out FILE`",
                    j.identity, j.meta.data, j.meta.data_hash
                )));
            }
            Ok(Held::Given(j))
        }
        None => Ok(Held::Cached(Box::new(judge::for_data(source, side, device, ask.quiet)?))),
    }
}

fn upsample(x: &Tensor, side: i64) -> Tensor {
    if x.size()[2] == side { x.shallow_clone() } else { x.upsample_bilinear2d([side, side], false, None, None) }
}

/// Scores `s` on the test split of `data` (the run's data settings; its side is the last
/// stage's).
pub fn evaluate(s: &dyn CaptionSampler, data: &DataConfig, ask: &Ask, device: Device) -> Result<Map<String, Value>> {
    let side = if data.image_size > 0 { data.image_size } else { crate::data::scenes::SIDE as i64 };
    let cfg = DataConfig { image_size: side, channels: 3, ..data.clone() };
    let test = Captioned::load(&cfg, "test", device)?;
    let total: usize = test.captions.iter().map(Vec::len).sum();
    let n = (ask.n.max(1) as usize).min(total);
    // (image, caption) pairs: every image once, then every image's second caption, …
    let pairs: Vec<(usize, usize)> = (0..n)
        .map(|k| {
            let i = k % test.len();
            (i, (k / test.len()) % test.captions[i].len())
        })
        .collect();
    let texts: Vec<String> = pairs.iter().map(|&(i, j)| test.captions[i][j].clone()).collect();
    let enc = s.encoder();
    let tokens = enc.tokens(&texts);
    let unknown: usize = tokens.unknown.values().sum();
    let text = enc.encode(&texts);
    rng::seed_torch(ask.seed, rng::stream::EVAL, 0);
    let z = Tensor::randn([n as i64, s.noise_dim()], (Kind::Float, device));
    let mut stages: Vec<Vec<Tensor>> = vec![];
    for (t, zz) in text.split(128, 0).iter().zip(z.split(128, 0).iter()) {
        for (k, x) in s.generate(t, zz).into_iter().enumerate() {
            if stages.len() <= k {
                stages.push(vec![]);
            }
            stages[k].push(x);
        }
    }
    let stages: Vec<Tensor> = stages.iter().map(|parts| Tensor::cat(parts, 0)).collect();
    let last = stages.len() - 1;
    if stages[last].size()[2] != side {
        return Err(Error::Usage(format!(
            "the run draws {0} × {0} images but its data are read at {side}; evaluate with the run's own data settings",
            stages[last].size()[2]
        )));
    }
    let mut out = Map::new();
    out.insert("caption_samples".into(), json!(n));
    out.insert("caption_unknown_words".into(), json!(unknown));
    let prefix = |k: usize| if k == last { String::new() } else { format!("stage{}_", k + 1) };
    // R-precision in the text encoder's joint embedding: any captioned folder
    let flat: Vec<String> = test.captions.iter().flatten().cloned().collect();
    let pool = enc.encode(&flat);
    let owner: Vec<usize> =
        test.captions.iter().enumerate().flat_map(|(i, c)| std::iter::repeat_n(i, c.len())).collect();
    let first_row: Vec<usize> =
        test.captions.iter().scan(0, |at, c| Some(std::mem::replace(at, *at + c.len()))).collect();
    let truth: Vec<(usize, usize)> = pairs.iter().map(|&(i, j)| (i, first_row[i] + j)).collect();
    let real: Vec<i64> = pairs.iter().map(|&(i, _)| i as i64).collect();
    let real = test.x.index_select(0, &Tensor::from_slice(&real).to(device));
    let r_seed = rng::derive(ask.seed, rng::stream::EVAL, 2);
    for (k, x) in stages.iter().enumerate() {
        if let Some(r) = r_precision(&enc.encode_images(x), &pool, &owner, &truth, R_CANDIDATES, r_seed) {
            out.insert(format!("{}caption_r_precision", prefix(k)), json!(r));
        }
    }
    if let Some(r) = r_precision(&enc.encode_images(&real), &pool, &owner, &truth, R_CANDIDATES, r_seed) {
        out.insert("caption_real_r_precision".into(), json!(r));
    }
    // image metrics in a feature network the user chose (Inception: FID)
    if let Some(net) = &ask.features {
        let reference = Reference::new(net, &test.x);
        for (k, x) in stages.iter().enumerate() {
            let m = crate::metrics::suite::image_metrics(net, &upsample(x, side), &reference, ask.seed)?;
            for (key, v) in m {
                if k == last || key == "fid" || key == "inception_score" {
                    out.insert(format!("{}{key}", prefix(k)), v);
                }
            }
        }
    }
    // the attribute judge: gantry's captioned scenes only (their ground truth trains it)
    if test.scenes.is_none() && !ask.judges.is_empty() {
        judge::need_scenes(&test, &data.source)?;
    }
    let Some(scenes) = test.scenes.as_deref() else {
        return Ok(out);
    };
    let meanings: Vec<&Caption> = pairs.iter().map(|&(i, j)| &scenes[i].captions[j]).collect();
    let j = judge_at(ask, &data.source, side, device)?;
    out.insert("judge".into(), json!(j.identity));
    out.insert("judge_test".into(), json!(j.meta.test));
    let held: Vec<bool> = pairs.iter().map(|&(i, _)| scenes[i].held_out).collect();
    let score = |x: &Tensor, shift: usize| -> (Tally, Tally) {
        let dets = j.detect(&upsample(x, side));
        let (mut all, mut held_out) = (Tally::default(), Tally::default());
        for (k, d) in dets.iter().enumerate() {
            let m = meanings[(k + shift) % n];
            judge::score(d, m, &mut all);
            if held[k] && shift == 0 {
                judge::score(d, m, &mut held_out);
            }
        }
        (all, held_out)
    };
    let keep = |out: &mut Map<String, Value>, figures: Vec<(String, Value)>, only: &[&str]| {
        for (k, v) in figures {
            if only.is_empty() || only.iter().any(|o| k.ends_with(o)) {
                out.insert(k, v);
            }
        }
    };
    let headline =
        ["attribute_accuracy", "colour_accuracy", "shape_accuracy", "fine_accuracy", "relation_accuracy", "exact"];
    for (k, x) in stages.iter().enumerate() {
        let prefix = prefix(k);
        let (all, held_out) = score(x, 0);
        keep(&mut out, all.figures(&format!("{prefix}caption_")), &[]);
        keep(&mut out, held_out.figures(&format!("{prefix}caption_held_out_")), &headline);
        // FCD at the stage's own side, with a judge trained at that side
        let s_side = x.size()[2];
        let jf = if s_side == side { None } else { Some(judge_at(ask, &data.source, s_side, device)?) };
        let jk: &Judge = jf.as_deref().unwrap_or(&j);
        let real = upsample(&test.x, s_side);
        let fcd = crate::metrics::image::frechet_of(&jk.features(x), &jk.features(&real));
        out.insert(format!("{prefix}fcd"), json!(fcd));
        if s_side != side {
            // and at the last stage's side, upsampled, in that judge's features: beside its FCD
            let full = crate::metrics::image::frechet_of(&j.features(&upsample(x, side)), &j.features(&test.x));
            out.insert(format!("{prefix}fcd_upsampled"), json!(full));
        }
    }
    let (shuffled, _) = score(&stages[last], 1);
    keep(&mut out, shuffled.figures("caption_shuffled_"), &headline);
    let (ceiling, _) = score(&real, 0);
    keep(&mut out, ceiling.figures("caption_real_"), &headline);
    Ok(out)
}

/// Candidates per R-precision query: the true caption and 99 others (AttnGAN's protocol).
const R_CANDIDATES: usize = 100;

/// R-precision at R = 1: the fraction of `images` (embeddings `[n, d]`) whose own caption —
/// row `truth[i].1` of the caption embeddings `pool` `[m, d]` — scores above `k − 1` captions of
/// other images (drawn with replacement from `seed`; `owner[r]` is row r's image) in cosine
/// similarity. A tie counts as a miss. None when no caption of another image exists.
pub fn r_precision(
    images: &Tensor,
    pool: &Tensor,
    owner: &[usize],
    truth: &[(usize, usize)],
    k: usize,
    seed: u64,
) -> Option<f64> {
    let n = truth.len();
    let unit = |t: &Tensor| t / t.norm_scalaropt_dim(2, [1], true).clamp_min(1e-12);
    let sims = unit(images).mm(&unit(pool).tr()).to_device(Device::Cpu).to_kind(Kind::Float);
    let m = owner.len();
    let sims: Vec<f32> = Vec::try_from(sims.view([-1])).ok()?;
    let mut r = rng::SplitMix::new(seed);
    let mut hits = 0usize;
    for (i, &(img, row)) in truth.iter().enumerate() {
        if owner.iter().all(|&o| o == img) {
            return None;
        }
        let own = sims[i * m + row];
        let mut beaten = false;
        for _ in 1..k {
            let c = loop {
                let c = r.below(m as u64) as usize;
                if owner[c] != img {
                    break c;
                }
            };
            beaten |= sims[i * m + c] >= own;
        }
        hits += usize::from(!beaten);
    }
    Some(hits as f64 / n.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_precision_by_hand() {
        // captions (owner): (1, 0) of image 0, (1, 0.1) of image 0, (0, 1) of 1, (−1, 0) of 2
        let pool = Tensor::from_slice(&[1f32, 0.0, 1.0, 0.1, 0.0, 1.0, -1.0, 0.0]).view([4, 2]);
        let owner = [0, 0, 1, 2];
        // image 0 drawn like its caption (others of other images score 0 and −1): a hit; image 1
        // likewise (cosines 0, 0.0995, 0); image 2's caption (−1, 0) against the image (1, 0)
        // loses to every other caption: a miss
        let images = Tensor::from_slice(&[1f32, 0.0, 0.0, 2.0, 1.0, 0.0]).view([3, 2]);
        let truth = [(0, 0), (1, 2), (2, 3)];
        let r = r_precision(&images, &pool, &owner, &truth, 10, 7).unwrap();
        assert!((r - 2.0 / 3.0).abs() < 1e-12, "{r}");
        // one image's captions only: no other caption to rank against
        assert!(r_precision(&images.narrow(0, 0, 1), &pool.narrow(0, 0, 2), &[0, 0], &[(0, 0)], 10, 7).is_none());
    }
}
