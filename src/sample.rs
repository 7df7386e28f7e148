//! Using a trained run: load its newest checkpoint, draw samples, walk the latent space
//! (spherical interpolation, DCGAN's latent vector arithmetic) and score samples.
use crate::config::Config;
use crate::coupled;
use crate::data::Shape;
use crate::data::unpaired;
use crate::error::{Error, Result};
use crate::evaluate::{Evaluator, Features};
use crate::method::{self, CaptionSampler, DataInfo, Method, NoiseSampler, PairSampler, Translator};
pub use crate::ops::slerp;
use crate::rng;
use crate::train::checkpoint;
use crate::viz;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// What `Trained::caption_rows` drew.
pub struct CaptionRows {
    pub grid: Tensor,
    pub columns: i64,
    /// The last stage's samples, row by row.
    pub last: Tensor,
    /// `[samples, noise_dim]`: z, then each stage's ε.
    pub noise: Tensor,
}

/// A run's generator, ready to sample.
pub struct Trained {
    pub cfg: Config,
    pub shape: Shape,
    pub step: u64,
    pub method: Box<dyn Method>,
    pub device: Device,
}

/// Loads the newest checkpoint of `run`.
pub fn load_run(run: &Path, device: &str) -> Result<Trained> {
    load_run_at(run, device, None)
}

/// Loads `run`'s checkpoint of `step`, or its newest one when `step` is None.
pub fn load_run_at(run: &Path, device: &str, step: Option<u64>) -> Result<Trained> {
    let cfg_path = run.join("config.toml");
    if !cfg_path.is_file() {
        return Err(Error::Usage(format!(
            "{} is not a gantry run folder (it has no config.toml); pass the --out folder of `gantry train`",
            run.display()
        )));
    }
    let mut cfg = method::load_config(&cfg_path)?;
    cfg.device = device.to_string();
    let device = cfg.device()?;
    let (path, state) = match step {
        Some(step) => checkpoint::at(run, step)?,
        None => checkpoint::latest(run)?
            .ok_or_else(|| Error::Usage(format!("{} has no complete checkpoint yet; train it first", run.display())))?,
    };
    let shape = state.data_shape();
    let info = DataInfo { shape, classes: state.classes, shape_b: state.data_shape_b() };
    let mut method = method::build(&cfg, info, device)?;
    checkpoint::load_networks(&path, method.as_mut())?;
    // what a sampler needs beyond the networks (StackGAN's text encoder and Stage-I generator)
    if path.join("state.safetensors").is_file() {
        let saved = checkpoint::read_state_tensors(&path)?;
        method
            .load_state(&saved)
            .map_err(|e| Error::Checkpoint { path: path.join("state.safetensors"), msg: e.to_string() })?;
    }
    Ok(Trained { cfg, shape, step: state.step, method, device })
}

/// What `--sampler ppgn` and its settings ask of a run.
#[derive(Default, Clone, Debug)]
pub struct ChainAsk {
    /// `--sampler ppgn` was given.
    pub named: bool,
    pub iterations: Option<u64>,
    pub eps1: Option<f64>,
    pub eps2: Option<f64>,
    pub eps3: Option<f64>,
    pub lr: Option<f64>,
    pub lr_end: Option<f64>,
    /// Plug and play: the classifier to condition on.
    pub condition: Option<std::path::PathBuf>,
}

impl ChainAsk {
    /// Whether anything of a chain sampler was asked for.
    pub fn any(&self) -> bool {
        self.named
            || self.iterations.is_some()
            || [self.eps1, self.eps2, self.eps3, self.lr, self.lr_end].iter().any(Option::is_some)
            || self.condition.is_some()
    }
}

impl Trained {
    /// Applies `--sampler ppgn` and its settings to a PPGN run's chain sampler; refuses them for
    /// a run that has none.
    pub fn use_chain(&self, ask: &ChainAsk) -> Result<()> {
        let Some(c) = self.method.chain() else {
            if ask.any() {
                return Err(Error::Usage(format!(
                    "--sampler ppgn and its settings (--iterations, --eps1, --eps2, --eps3, --lr, --lr-end, --condition) apply to PPGN runs; this run has method = \"{}\". Train one with `gantry train --preset ppgn`",
                    self.cfg.method
                )));
            }
            return Ok(());
        };
        let mut o = c.options();
        let set = |v: Option<f64>, to: &mut f64| {
            if let Some(v) = v {
                *to = v;
            }
        };
        if let Some(i) = ask.iterations {
            o.iterations = i;
        }
        set(ask.eps1, &mut o.eps1);
        set(ask.eps2, &mut o.eps2);
        set(ask.eps3, &mut o.eps3);
        if let Some(lr) = ask.lr {
            o.lr = lr;
            o.lr_end = ask.lr_end.unwrap_or(lr);
        }
        set(ask.lr_end, &mut o.lr_end);
        c.set_options(o).map_err(|e| Error::Usage(e.to_string().trim_start_matches("configuration: ").to_string()))?;
        if let Some(p) = &ask.condition {
            let cl = crate::classifier::Classifier::load(p, self.device)?;
            if cl.meta.channels != 1 && cl.meta.channels != 3 {
                return Err(Error::Usage(format!(
                    "--condition {}: a classifier of {} channels",
                    p.display(),
                    cl.meta.channels
                )));
            }
            c.set_condition(Some(cl));
        }
        Ok(())
    }

    /// PPGN: `n` chains (of `class`, or the classes in order), each writing its sample every
    /// `every` iterations to `dir/chain-NNNNN/iter-NNNNN.png`, and a picture of all the chains,
    /// one row each, to `dir/chains.png`; returns the chains' last samples.
    pub fn chains(&self, n: i64, seed: u64, class: Option<i64>, every: u64, dir: &Path) -> Result<Tensor> {
        let c = self.method.chain().ok_or_else(|| {
            Error::Usage(format!(
                "--chain-every runs PPGN's chain sampler; this run has method = \"{}\"",
                self.cfg.method
            ))
        })?;
        if every == 0 {
            return Err(Error::Usage("--chain-every must be at least 1".into()));
        }
        let k = c.condition_classes();
        let y: Vec<i64> = (0..n).map(|i| class.unwrap_or(i * k / n)).collect();
        std::fs::create_dir_all(dir).map_err(crate::error::io_err(dir))?;
        rng::seed_torch(seed, rng::stream::SAMPLE, 0);
        // frames[j]: the j-th snapshot of every chain (chains run 500 at a time, one block after another)
        let mut frames: Vec<Vec<Tensor>> = vec![];
        let (mut block, mut j) = (-1, 0usize);
        let mut failed = None;
        let h = c.run(&Tensor::from_slice(&y), every, &mut |i, start, x| {
            if start != block {
                (block, j) = (start, 0);
            }
            for r in 0..x.size()[0] {
                let d = dir.join(format!("chain-{:05}", start + r));
                let out = std::fs::create_dir_all(&d)
                    .map_err(crate::error::io_err(&d))
                    .and_then(|_| viz::save_grid(&x.narrow(0, r, 1), 1, &d.join(format!("iter-{i:05}.png"))));
                if let Err(e) = out {
                    failed.get_or_insert(e);
                }
            }
            if frames.len() <= j {
                frames.push(vec![]);
            }
            frames[j].push(x.shallow_clone());
            j += 1;
        });
        let frames: Vec<Tensor> = frames.iter().map(|f| Tensor::cat(f, 0)).collect();
        if let Some(e) = failed {
            return Err(e);
        }
        // rows: chains; columns: iterations
        let cols = frames.len() as i64;
        let grid = Tensor::stack(&frames, 1).flatten(0, 1);
        viz::save_grid(&grid, cols, &dir.join("chains.png"))?;
        Ok(self.sampler()?.generate(&h))
    }

    /// The run's caption → image sampler; a clear error for a run that has none.
    pub fn caption_sampler(&self) -> Result<&dyn CaptionSampler> {
        self.method.captions().ok_or_else(|| {
            Error::Usage(format!(
                "this run (method = \"{}\") does not draw images from captions; --caption and --captions sample a StackGAN run",
                self.cfg.method
            ))
        })
    }

    /// `n` samples of each caption (checked against the encoder's vocabulary): one row per
    /// caption, each sample's stages side by side (Stage-I upsampled beside Stage-II). Returns
    /// the grid's images, its columns, the last stage's samples and the noise they were drawn
    /// with.
    pub fn caption_rows(&self, captions: &[String], n: i64, seed: u64, origin: &str) -> Result<CaptionRows> {
        let s = self.caption_sampler()?;
        s.encoder().check_words(captions, origin)?;
        let text = s.encoder().encode(captions).repeat_interleave_self_int(n, 0, None);
        rng::seed_torch(seed, rng::stream::SAMPLE, 0);
        let noise = Tensor::randn([text.size()[0], s.noise_dim()], (Kind::Float, self.device));
        let stages = s.generate(&text, &noise);
        let last = stages.last().expect("one stage at least").shallow_clone();
        Ok(CaptionRows { grid: method::stackgan::side_by_side(&stages), columns: n * stages.len() as i64, last, noise })
    }

    /// StackGAN's interpolations (its paper's figure 8), the last stage's images: for two
    /// captions, `rows` noise draws, each a row whose `cols` columns walk the caption embedding
    /// linearly from the first caption to the second; for one caption, each row walks the noise
    /// (slerp between two draws) with the caption fixed.
    pub fn caption_interpolate(
        &self,
        captions: &[String],
        rows: i64,
        cols: i64,
        seed: u64,
        origin: &str,
    ) -> Result<Tensor> {
        let s = self.caption_sampler()?;
        if !(1..=2).contains(&captions.len()) {
            return Err(Error::Usage(format!(
                "{origin}: interpolating a text-to-image run takes one caption (the noise walks) or two (the text walks from the first to the second), not {}",
                captions.len()
            )));
        }
        s.encoder().check_words(captions, origin)?;
        let text = s.encoder().encode(captions);
        rng::seed_torch(seed, rng::stream::SAMPLE, 0);
        let ends = Tensor::randn([2 * rows, s.noise_dim()], (Kind::Float, self.device));
        let (mut texts, mut noise) = (vec![], vec![]);
        for r in 0..rows {
            for c in 0..cols {
                let t = c as f64 / (cols - 1).max(1) as f64;
                if captions.len() == 2 {
                    texts.push(text.get(0) * (1.0 - t) + text.get(1) * t);
                    noise.push(ends.get(2 * r));
                } else {
                    texts.push(text.get(0));
                    noise.push(crate::ops::slerp(&ends.get(2 * r), &ends.get(2 * r + 1), t));
                }
            }
        }
        let stages = s.generate(&Tensor::stack(&texts, 0), &Tensor::stack(&noise, 0));
        Ok(stages.last().expect("one stage at least").shallow_clone())
    }

    /// The run's noise → sample generator; a clear error for a run that has none.
    pub fn sampler(&self) -> Result<&dyn NoiseSampler> {
        if self.method.captions().is_some() {
            return Err(Error::Usage(format!(
                "this run (method = \"{}\") draws images from captions; give one with --caption \"…\" or a file of them with --captions FILE",
                self.cfg.method
            )));
        }
        if self.method.noise().is_none() && self.method.pairs().is_some() {
            return Err(Error::Usage(format!(
                "this run (method = \"{}\") generates pairs of images, one of each domain, from one latent; `gantry sample` and `gantry interpolate` draw them, `gantry eval` scores them",
                self.cfg.method
            )));
        }
        self.method.noise().ok_or_else(|| {
            Error::Usage(format!(
                "this run (method = \"{}\") translates images and has no noise to sample from; use `gantry translate --run RUN --input DIR --out DIR`",
                self.cfg.method
            ))
        })
    }

    /// The run's image → image translator; a clear error for a run that has none.
    pub fn translator(&self) -> Result<&dyn Translator> {
        if self.method.translator().is_none() && self.method.pairs().is_some() {
            return Err(Error::Usage(format!(
                "this run (method = \"{}\") generates pairs of images from noise and has no encoder to map a given image into the other domain; `gantry sample --run RUN` draws its pairs. To translate images, train method = \"unit\" (UNIT adds encoders to CoGAN's weight sharing: `--preset unit-digits` or `unit`), or cyclegan / discogan",
                self.cfg.method
            )));
        }
        self.method.translator().ok_or_else(|| {
            Error::Usage(format!(
                "this run (method = \"{}\") generates from noise and does not translate images; use `gantry sample --run RUN`",
                self.cfg.method
            ))
        })
    }

    /// Latents for `n` samples from `seed` (the same seed gives the same latents); for a
    /// conditional run, of `class`, or of every class in order when `class` is None.
    pub fn latents(&self, n: i64, seed: u64) -> Result<Tensor> {
        self.latents_of(n, seed, None)
    }

    pub fn latents_of(&self, n: i64, seed: u64, class: Option<i64>) -> Result<Tensor> {
        let s = self.sampler()?;
        rng::seed_torch(seed, rng::stream::SAMPLE, 0);
        Ok(s.latents_for(n, class))
    }

    pub fn generate(&self, z: &Tensor) -> Result<Tensor> {
        Ok(self.sampler()?.generate(z))
    }

    fn need_images(&self, what: &str) -> Result<()> {
        match self.shape {
            Shape::Image { .. } => Ok(()),
            Shape::Points { .. } => {
                Err(Error::Usage(format!("{what} needs a run trained on images; this run's data are points")))
            }
        }
    }

    /// Rows of spherical interpolations between pairs of random latents.
    pub fn interpolate(&self, rows: i64, cols: i64, seed: u64) -> Result<Tensor> {
        self.need_images("interpolate")?;
        let ends = self.latents(2 * rows, seed)?;
        let mut zs = vec![];
        for r in 0..rows {
            let (a, b) = (ends.get(2 * r), ends.get(2 * r + 1));
            for c in 0..cols {
                let t = c as f64 / (cols - 1).max(1) as f64;
                zs.push(slerp(&a, &b, t));
            }
        }
        self.generate(&Tensor::stack(&zs, 0))
    }

    /// InfoGAN's code traversal: one row per category of the first categorical code, columns
    /// sweeping continuous code `code` from −2 to 2, with z and the other codes fixed.
    pub fn traverse(&self, code: i64, cols: i64, seed: u64) -> Result<(Tensor, i64)> {
        self.need_images("traverse")?;
        let Some((codes, z_dim)) = self.sampler()?.codes() else {
            return Err(Error::Usage("traverse needs an InfoGAN run (method = \"infogan\")".into()));
        };
        if code < 0 || code >= codes.continuous {
            return Err(Error::Usage(format!(
                "--code {code} does not exist: this run has {} continuous codes (0 to {})",
                codes.continuous,
                codes.continuous - 1
            )));
        }
        let rows = codes.categorical.first().copied().unwrap_or(1);
        let base = self.latents(1, seed)?; // [1, z + codes]
        let cat_width: i64 = codes.categorical.iter().sum();
        let mut zs = vec![];
        for r in 0..rows {
            for c in 0..cols {
                let z = base.copy();
                let first = codes.categorical.first().copied().unwrap_or(0);
                if first > 0 {
                    let _ = z.narrow(1, z_dim, first).fill_(0.0);
                    let _ = z.narrow(1, z_dim + r, 1).fill_(1.0);
                }
                let v = -2.0 + 4.0 * c as f64 / (cols - 1).max(1) as f64;
                let _ = z.narrow(1, z_dim + cat_width, codes.continuous).fill_(0.0);
                let _ = z.narrow(1, z_dim + cat_width + code, 1).fill_(v);
                zs.push(z);
            }
        }
        Ok((self.generate(&Tensor::cat(&zs, 0))?, cols))
    }

    /// DCGAN's latent vector arithmetic on the latents of `gantry sample --seed seed --n n`:
    /// mean(z_A) − mean(z_B) + mean(z_C). Returns a 4-row grid: the A, B and C samples with
    /// their mean latent's image in the last column, then the result and seven variations with
    /// uniform noise of ±0.25 added to its latent, as in Radford et al.'s figure 7.
    pub fn arithmetic(&self, n: i64, seed: u64, groups: [&[i64]; 3]) -> Result<(Tensor, i64)> {
        self.need_images("arithmetic")?;
        let z = self.latents(n, seed)?;
        let cols = 8;
        for g in groups {
            if g.is_empty() || g.len() as i64 > cols - 1 {
                return Err(Error::Usage(format!("each of --a, --b, --c takes 1 to {} sample indices", cols - 1)));
            }
            if let Some(bad) = g.iter().find(|&&i| i < 0 || i >= n) {
                return Err(Error::Usage(format!(
                    "sample index {bad} is outside 0..{n}; indices refer to `gantry sample --n {n} --seed {seed}`"
                )));
            }
        }
        let mean = |g: &[i64]| z.index_select(0, &Tensor::from_slice(g).to(z.device())).mean_dim(0, false, Kind::Float);
        let means: Vec<Tensor> = groups.iter().map(|g| mean(g)).collect();
        let result = &means[0] - &means[1] + &means[2];
        rng::seed_torch(seed, rng::stream::SAMPLE, 1);
        let noise = (Tensor::rand([cols - 1, z.size()[1]], (Kind::Float, z.device())) - 0.5) * 0.5;
        let variants = result.unsqueeze(0) + noise;
        let blank = |k: i64| -> Result<Tensor> {
            let x = self.generate(&z.narrow(0, 0, 1))?;
            Ok(Tensor::full(
                x.size().iter().skip(1).copied().collect::<Vec<_>>().as_slice(),
                -1.0,
                (Kind::Float, x.device()),
            )
            .unsqueeze(0)
            .repeat([k, 1, 1, 1]))
        };
        let mut rows = vec![];
        for (g, m) in groups.iter().zip(&means) {
            let picked = self.generate(&z.index_select(0, &Tensor::from_slice(g).to(z.device())))?;
            rows.push(picked);
            rows.push(blank(cols - 1 - g.len() as i64)?);
            rows.push(self.generate(&m.unsqueeze(0))?);
        }
        rows.push(self.generate(&result.unsqueeze(0))?);
        rows.push(self.generate(&variants)?);
        Ok((Tensor::cat(&rows, 0), cols))
    }

    /// Scores a translation run's translations of its data's test folders (see `translate`),
    /// on Inception's features when `features` names its weights.
    pub fn evaluate_translation(&self, features: &Features, quiet: bool) -> Result<serde_json::Value> {
        let t = self.translator()?;
        let data = crate::data::unpaired::Unpaired::load(&self.cfg.data, self.device)?;
        let inception = match features {
            Features::Inception(p) => Some(crate::metrics::suite::FeatureNet::Inception(Box::new(
                crate::metrics::suite::Inception::load(p, self.device)?,
            ))),
            Features::Classifier(p) => {
                return Err(Error::Usage(format!(
                    "--classifier {}: a translation run's classifier is trained on the target domain's labelled images (labelsA.csv / labelsB.csv); drop --classifier",
                    p.display()
                )));
            }
            Features::CachedClassifier => None,
        };
        let mut out = serde_json::json!({ "run_step": self.step });
        out.as_object_mut().expect("object").extend(crate::translate::evaluate(t, &data, inception.as_ref(), quiet)?);
        self.add_figures(&mut out, 0, 0)?;
        Ok(out)
    }

    /// A sampler of (A, B) pairs from one latent: the run's own (CoGAN), or a two-class
    /// conditional generator trained on a two-domain folder, with the domain as the class.
    pub fn pairs(&self) -> Option<Box<dyn PairSampler + '_>> {
        let two_domain = unpaired::is_two_domain(Path::new(&self.cfg.data.source));
        method::pairs_of(self.method.as_ref()).filter(|_| self.method.pairs().is_some() || two_domain)
    }

    /// Scores a text-to-image run (see `captioning::evaluate`) on its data's held-out captions.
    pub fn evaluate_captions(&self, ask: &crate::captioning::Ask) -> Result<serde_json::Value> {
        let s = self.caption_sampler()?;
        let mut out = serde_json::json!({ "run_step": self.step });
        out.as_object_mut().expect("object").extend(crate::captioning::evaluate(s, &self.cfg.data, ask, self.device)?);
        Ok(out)
    }

    /// Scores a run's pairs (see `coupled::evaluate`) on its two-domain data.
    pub fn evaluate_pairs(&self, ask: &coupled::Ask) -> Result<serde_json::Value> {
        let p = self.pairs().ok_or_else(|| {
            Error::Usage(format!(
                "pixel agreement and --transform need a run that generates a pair of images from one latent (method = \"cogan\", or a two-class \"cgan\" / \"acgan\" trained on a two-domain folder); {} is method = \"{}\" on {}",
                self.cfg.preset, self.cfg.method, self.cfg.data.source
            ))
        })?;
        let data = unpaired::Unpaired::load(&self.cfg.data, self.device)?;
        let mut out = serde_json::json!({ "run_step": self.step });
        out.as_object_mut().expect("object").extend(coupled::evaluate(p.as_ref(), &data, ask)?);
        self.add_figures(&mut out, ask.n, ask.seed)?;
        Ok(out)
    }

    /// Adds the method's own figures (a two-domain run's adaptation accuracies) to `out`.
    fn add_figures(&self, out: &mut serde_json::Value, samples: i64, seed: u64) -> Result<()> {
        let ctx = method::FigureContext {
            data: &self.cfg.data,
            device: self.device,
            classifier: None,
            samples,
            seed,
            drawn: None,
        };
        let figures = self.method.figures(&ctx)?;
        out.as_object_mut().expect("object").extend(figures);
        Ok(())
    }

    /// Scores `n` samples drawn with `seed` (see `evaluate::Evaluator`); a translation run's
    /// translations; a pair run's pairs.
    pub fn evaluate(&self, n: i64, seed: u64, features: &Features, quiet: bool) -> Result<serde_json::Value> {
        if self.method.translator().is_some() {
            return self.evaluate_translation(features, quiet);
        }
        if self.pairs().is_some() {
            return self.evaluate_pairs(&coupled::Ask { n, seed, transform: None, need_agreement: false, quiet });
        }
        let info = DataInfo { shape: self.shape, classes: 0, shape_b: None };
        let ev = Evaluator::new(&self.cfg, info, n, seed, features, self.device, quiet)?;
        let mut out = serde_json::json!({ "run_step": self.step });
        out.as_object_mut().expect("object").extend(ev.evaluate(self.method.as_ref(), n, seed)?);
        Ok(out)
    }
}

/// Writes samples as a grid (images) or a scatter plot / CSV (points).
pub fn save_samples(x: &Tensor, shape: Shape, ncol: i64, path: &Path) -> Result<()> {
    match shape {
        Shape::Image { .. } => viz::save_grid(x, ncol, path),
        Shape::Points { .. } if path.extension().is_some_and(|e| e == "csv") => {
            let rows = viz::to_rows(x)?;
            let text: String =
                rows.iter().map(|r| r.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",") + "\n").collect();
            std::fs::write(path, text).map_err(crate::error::io_err(path))
        }
        Shape::Points { .. } => viz::save_scatter(x, None, path),
    }
}
