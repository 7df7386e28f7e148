//! The text encoder of text-to-image methods: trained inside gantry on a captioned folder's
//! training split with a joint image–text embedding loss, then frozen; saved with its
//! vocabulary and provenance (a `__meta__` tensor of JSON inside the safetensors file, as the
//! evaluation classifier), cached per data set, and used to embed captions.
//!
//! The loss is symmetric InfoNCE over a batch (each image against every caption of the batch,
//! and each caption against every image; cosine similarity / 0.1): the batch form of Reed et
//! al.'s structured joint embedding, whose compatibility is an inner product of the two
//! embeddings. Words seen fewer than twice in training share the unknown word (index 1), so it
//! is trained; a caption given on the command line with a word outside the vocabulary is
//! refused, naming the word and its nearest known spelling, while a held-out split's unknown
//! words are read as the unknown word and counted.
use crate::data::captions::{Captioned, words};
use crate::data::{self, DataConfig};
use crate::error::{Error, Result, io_err};
use crate::nets::text::{Pixels, Words};
use crate::rng;
use crate::train::TrainConfig;
use crate::train::{checkpoint::named_variables, optim::Optimizer, schedule};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

pub const ARCH: &str = "gantry-text-gru-v1";
/// Padding and the unknown word.
const PAD: i64 = 0;
const UNKNOWN: i64 = 1;
/// The joint embedding's temperature.
const TEMPERATURE: f64 = 0.1;

/// Where an encoder came from, and its vocabulary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub arch: String,
    /// Known words; word i has id i + 2.
    pub vocab: Vec<String>,
    pub word_dim: i64,
    pub hidden: i64,
    /// Width of a caption's embedding.
    pub dim: i64,
    /// The image branch's input.
    pub channels: i64,
    pub size: i64,
    pub data: String,
    pub data_hash: String,
    pub steps: u64,
    pub seed: u64,
    /// Retrieval on the test split (one caption per image, among all test images): the
    /// fraction of captions whose image ranks first, and in the first five.
    pub text_to_image_r1: f64,
    pub text_to_image_r5: f64,
    pub test_images: usize,
}

/// Training settings of `gantry text train`.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub steps: u64,
    pub batch_size: i64,
    pub lr: f64,
    pub seed: u64,
    pub quiet: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions { steps: 3000, batch_size: 64, lr: 1e-3, seed: 0, quiet: false }
    }
}

pub struct TextEncoder {
    vs: VarStore,
    words: Words,
    pixels: Pixels,
    index: HashMap<String, i64>,
    pub meta: Meta,
    /// `gantry-text-gru-v1:<hash of the weights>`.
    pub identity: String,
}

/// Captions as word ids.
pub struct Tokens {
    /// `[n, longest]`, 0 after each caption.
    pub ids: Tensor,
    pub lens: Tensor,
    /// Words read as the unknown word, with how often.
    pub unknown: BTreeMap<String, usize>,
}

/// The edit distance between two words (for suggestions).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(row[j + 1] + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

impl TextEncoder {
    fn build(meta: Meta, device: Device) -> TextEncoder {
        let vs = VarStore::new(device);
        let words = Words::new(vs.root() / "words", meta.vocab.len() as i64 + 2, meta.word_dim, meta.hidden, meta.dim);
        let pixels = Pixels::new(vs.root() / "pixels", meta.channels, meta.size, meta.dim);
        let index = meta.vocab.iter().enumerate().map(|(i, w)| (w.clone(), i as i64 + 2)).collect();
        TextEncoder { identity: String::new(), vs, words, pixels, index, meta }
    }

    /// Word ids of `captions`; unknown words become the unknown word and are counted.
    pub fn tokens(&self, captions: &[String]) -> Tokens {
        let mut unknown = BTreeMap::new();
        let seqs: Vec<Vec<i64>> = captions
            .iter()
            .map(|c| {
                let ids: Vec<i64> = words(c)
                    .into_iter()
                    .map(|w| {
                        *self.index.get(&w).unwrap_or_else(|| {
                            *unknown.entry(w).or_insert(0) += 1;
                            &UNKNOWN
                        })
                    })
                    .collect();
                if ids.is_empty() { vec![UNKNOWN] } else { ids }
            })
            .collect();
        let longest = seqs.iter().map(Vec::len).max().unwrap_or(1);
        let flat: Vec<i64> =
            seqs.iter().flat_map(|s| s.iter().copied().chain(std::iter::repeat_n(PAD, longest - s.len()))).collect();
        let lens: Vec<i64> = seqs.iter().map(|s| s.len() as i64).collect();
        let device = self.vs.device();
        Tokens {
            ids: Tensor::from_slice(&flat).view([seqs.len() as i64, longest as i64]).to(device),
            lens: Tensor::from_slice(&lens).to(device),
            unknown,
        }
    }

    /// Refuses captions (given by a user) with words outside the vocabulary, or with no word.
    pub fn check_words(&self, captions: &[String], origin: &str) -> Result<()> {
        for c in captions {
            if words(c).is_empty() {
                return Err(Error::Usage(format!(
                    "{origin}: the caption {c:?} holds no word; write a caption in words"
                )));
            }
        }
        let t = self.tokens(captions);
        if t.unknown.is_empty() {
            return Ok(());
        }
        let said: Vec<String> = t
            .unknown
            .keys()
            .map(|w| {
                let best = self.meta.vocab.iter().min_by_key(|v| edit_distance(w, v));
                match best.filter(|v| edit_distance(w, v) <= 2) {
                    Some(v) => format!("`{w}` (did you mean `{v}`?)"),
                    None => format!("`{w}`"),
                }
            })
            .collect();
        Err(Error::Usage(format!(
            "{origin}: the text encoder never saw {} in training; an unknown word carries no meaning to it, so gantry refuses it rather than guess. Rephrase with the {} words it knows (`gantry text words --run RUN` lists them)",
            said.join(", "),
            self.meta.vocab.len()
        )))
    }

    /// Embeddings `[n, dim]` of `captions` (no gradient), in chunks.
    pub fn encode(&self, captions: &[String]) -> Tensor {
        tch::no_grad(|| {
            let parts: Vec<Tensor> = captions
                .chunks(1024)
                .map(|c| {
                    let t = self.tokens(c);
                    self.words.forward(&t.ids, &t.lens)
                })
                .collect();
            if parts.is_empty() {
                Tensor::zeros([0, self.meta.dim], (Kind::Float, self.vs.device()))
            } else {
                Tensor::cat(&parts, 0)
            }
        })
    }

    /// Embeddings of word ids `[n, t]` (0 pads), in any-shape operations (`Words::forward_ids`).
    pub fn encode_ids(&self, ids: &Tensor) -> Tensor {
        self.words.forward_ids(ids)
    }

    /// Image embeddings `[n, dim]` (no gradient).
    pub fn encode_images(&self, x: &Tensor) -> Tensor {
        let x = crate::classifier::adapt(x, self.meta.channels, self.meta.size);
        tch::no_grad(|| Tensor::cat(&x.split(512, 0).iter().map(|p| self.pixels.forward(p)).collect::<Vec<_>>(), 0))
    }

    /// Trains on the training split of the captioned folder `source` and measures retrieval on
    /// its test split (when it has one).
    pub fn train(source: &str, opts: &TrainOptions, device: Device) -> Result<TextEncoder> {
        let size = 64;
        let cfg = DataConfig { source: source.to_string(), image_size: size, channels: 3, ..Default::default() };
        let train = Captioned::load(&cfg, "train", device)?;
        let mut counts: HashMap<String, usize> = HashMap::new();
        for c in train.captions.iter().flatten() {
            for w in words(c) {
                *counts.entry(w).or_insert(0) += 1;
            }
        }
        let mut vocab: Vec<String> = counts.into_iter().filter(|(_, n)| *n >= 2).map(|(w, _)| w).collect();
        vocab.sort();
        let data_hash = data::identity(source)?;
        let meta = Meta {
            arch: ARCH.into(),
            vocab,
            word_dim: 64,
            hidden: 128,
            dim: 256,
            channels: 3,
            size,
            data: source.to_string(),
            data_hash,
            steps: opts.steps,
            seed: opts.seed,
            text_to_image_r1: 0.0,
            text_to_image_r5: 0.0,
            test_images: 0,
        };
        rng::seed_torch(opts.seed, rng::stream::INIT, 11);
        let mut enc = TextEncoder::build(meta, device);
        let params: Vec<(String, Tensor)> =
            named_variables(&enc.vs).into_iter().filter(|(_, t)| t.requires_grad()).collect();
        let tc = TrainConfig { beta1: 0.9, beta2: 0.999, ..Default::default() };
        let mut opt = Optimizer::new(&tc, params);
        let bar = crate::progress::bar(opts.steps, "text encoder", opts.quiet);
        for step in 0..opts.steps {
            rng::seed_torch(opts.seed, rng::stream::STEP, step);
            let idx = train.batch_indices(step, opts.batch_size, opts.seed);
            let mut r = rng::SplitMix::new(rng::derive(opts.seed, rng::stream::SAMPLE, step));
            let caps: Vec<String> = idx
                .iter()
                .map(|&i| {
                    let c = &train.captions[i as usize];
                    c[r.below(c.len() as u64) as usize].clone()
                })
                .collect();
            let x = train.x.index_select(0, &Tensor::from_slice(&idx).to(device));
            let t = enc.tokens(&caps);
            let loss = joint_loss(&enc.words.forward(&t.ids, &t.lens), &enc.pixels.forward(&x));
            let grads = Tensor::run_backward(&[&loss], &opt.params(), false, false);
            opt.step(&grads, schedule::lr(opts.lr, crate::train::Schedule::Linear, 0, step, opts.steps));
            bar.inc(1);
            if step % 100 == 0 && !bar.is_hidden() {
                bar.set_message(format!("loss {:.4}", loss.double_value(&[])));
            }
        }
        bar.finish_and_clear();
        enc.identity = format!("{ARCH}:{}", crate::classifier::weights_hash(&enc.vs));
        if let Ok(test) = Captioned::load(&cfg, "test", device) {
            let caps: Vec<String> = test.captions.iter().map(|c| c[0].clone()).collect();
            let (r1, r5) = retrieval(&enc.encode(&caps), &enc.encode_images(&test.x));
            (enc.meta.text_to_image_r1, enc.meta.text_to_image_r5, enc.meta.test_images) = (r1, r5, test.len());
        }
        Ok(enc)
    }

    pub fn store(&self) -> &VarStore {
        &self.vs
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let meta = serde_json::to_vec(&self.meta).expect("meta serialises");
        crate::classifier::save_with_meta(&self.vs, &meta, path)
    }

    pub fn load(path: &Path, device: Device) -> Result<TextEncoder> {
        let bytes = crate::classifier::read_meta(path, "text encoder", "gantry text train --data DIR --out FILE")?;
        let bad = |msg: String| Error::Checkpoint { path: path.to_path_buf(), msg };
        let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| bad(format!("unreadable metadata ({e})")))?;
        if meta.arch != ARCH {
            return Err(bad(format!("holds a `{}` network; this gantry reads text encoders `{ARCH}`", meta.arch)));
        }
        let mut enc = TextEncoder::build(meta, device);
        crate::train::checkpoint::load_store(&enc.vs, path)?;
        enc.identity = format!("{ARCH}:{}", crate::classifier::weights_hash(&enc.vs));
        Ok(enc)
    }

    /// The encoder as a run's training state: its metadata (`PREFIX__meta__`) and weights
    /// (`PREFIX<name>`).
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let meta = serde_json::to_vec(&self.meta).expect("meta serialises");
        let mut out = vec![(format!("{prefix}__meta__"), Tensor::from_slice(&meta))];
        out.extend(named_variables(&self.vs).into_iter().map(|(n, t)| (format!("{prefix}{n}"), t)));
        out
    }

    /// The encoder `state` wrote into a run's state, if there is one.
    pub fn from_state(saved: &BTreeMap<String, Tensor>, prefix: &str, device: Device) -> Result<Option<TextEncoder>> {
        let Some(m) = saved.get(&format!("{prefix}__meta__")) else { return Ok(None) };
        let bytes: Vec<u8> = Vec::try_from(m).map_err(|e: tch::TchError| Error::Usage(e.to_string()))?;
        let meta: Meta = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Usage(format!("its text encoder's metadata is unreadable ({e})")))?;
        let mut enc = TextEncoder::build(meta, device);
        crate::train::checkpoint::copy_into(&enc.vs, saved, prefix, Path::new("state.safetensors"))?;
        enc.vs.freeze();
        Ok(Some(TextEncoder { identity: format!("{ARCH}:{}", crate::classifier::weights_hash(&enc.vs)), ..enc }))
    }

    /// Refuses an encoder trained on other data than `source`.
    pub fn check_data(&self, source: &str, origin: &Path) -> Result<()> {
        let want = data::identity(source)?;
        if want != self.meta.data_hash {
            return Err(Error::Usage(format!(
                "the text encoder {} was trained on `{}` (data hash {}), not on `{source}` (data hash {want}); its vocabulary and embedding belong to that data. Train one with `gantry text train --data {source} --out FILE`, or leave the key empty to use the cached one",
                origin.display(),
                self.meta.data,
                self.meta.data_hash
            )));
        }
        Ok(())
    }
}

/// Symmetric InfoNCE of matching rows of caption and image embeddings.
pub fn joint_loss(text: &Tensor, image: &Tensor) -> Tensor {
    let t = text / text.norm_scalaropt_dim(2, [1], true).clamp_min(1e-8);
    let i = image / image.norm_scalaropt_dim(2, [1], true).clamp_min(1e-8);
    let logits = t.matmul(&i.tr()) / TEMPERATURE;
    let target = Tensor::arange(logits.size()[0], (Kind::Int64, logits.device()));
    (logits.cross_entropy_for_logits(&target) + logits.tr().cross_entropy_for_logits(&target)) / 2.0
}

/// Text-to-image retrieval: for caption i (row i of `text`), the rank of image i among all by
/// cosine similarity; the fractions ranked first and in the first five.
pub fn retrieval(text: &Tensor, image: &Tensor) -> (f64, f64) {
    let t = text / text.norm_scalaropt_dim(2, [1], true).clamp_min(1e-8);
    let i = image / image.norm_scalaropt_dim(2, [1], true).clamp_min(1e-8);
    let sim = t.matmul(&i.tr());
    let own = sim.diagonal(0, 0, 1).unsqueeze(1);
    // rank = images scoring strictly above the right one
    let rank = sim.gt_tensor(&own).sum_dim_intlist([1].as_slice(), false, Kind::Int64);
    let n = rank.size()[0].max(1) as f64;
    let frac = |k: i64| rank.lt(k).sum(Kind::Int64).int64_value(&[]) as f64 / n;
    (frac(1), frac(5))
}

/// The cached text encoder of the captioned folder `source`, trained (and cached) on first use.
pub fn for_data(source: &str, device: Device, quiet: bool) -> Result<(TextEncoder, PathBuf)> {
    let hash = data::identity(source)?;
    let path = crate::classifier::cache_dir().join("text-encoders").join(format!("{ARCH}-{hash}.safetensors"));
    if path.is_file() {
        return Ok((TextEncoder::load(&path, device)?, path));
    }
    if !quiet {
        eprintln!("training the text encoder for `{source}` (first use; cached in {})", path.display());
    }
    let e = TextEncoder::train(source, &TrainOptions { quiet, ..Default::default() }, device)?;
    e.save(&path)?;
    Ok((e, path))
}

/// The encoder a run names (`FILE`, checked against the data), or the cached one of its data.
pub fn named_or_cached(file: &str, source: &str, device: Device, quiet: bool) -> Result<TextEncoder> {
    if file.is_empty() {
        return Ok(for_data(source, device, quiet)?.0);
    }
    let path = PathBuf::from(file);
    let e = TextEncoder::load(&path, device)?;
    e.check_data(source, &path)?;
    Ok(e)
}

/// Writes `path`'s parent folder if needed (for `--out` of `gantry text train`).
pub fn ensure_parent(path: &Path) -> Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => std::fs::create_dir_all(d).map_err(io_err(d)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_by_hand() {
        assert_eq!(edit_distance("circle", "circle"), 0);
        assert_eq!(edit_distance("cirlce", "circle"), 2);
        assert_eq!(edit_distance("red", "reed"), 1);
        assert_eq!(edit_distance("", "box"), 3);
    }

    #[test]
    fn joint_loss_by_hand() {
        // two orthogonal pairs, matched: logits diag 10, off-diagonal 0; loss = ln(1 + e^-10)
        let t = Tensor::from_slice(&[1f32, 0., 0., 2.]).view([2, 2]);
        let i = Tensor::from_slice(&[3f32, 0., 0., 1.]).view([2, 2]);
        let l = joint_loss(&t, &i).double_value(&[]);
        assert!((l - (1.0 + (-10f64).exp()).ln()).abs() < 1e-6, "{l}");
        // swapped images: every caption's image ranks last
        let swapped = Tensor::from_slice(&[0f32, 1., 3., 0.]).view([2, 2]);
        assert!(joint_loss(&t, &swapped).double_value(&[]) > 9.9);
        assert_eq!(retrieval(&t, &i), (1.0, 1.0));
        assert_eq!(retrieval(&t, &swapped).0, 0.0);
    }
}
