//! Picking one of several InfoGAN restarts without labels. Whether InfoGAN's categorical code
//! lands on the classes depends on the seed: most restarts find part of the classes, merging some
//! (4 with 9) and splitting others by style (slanted and upright 1s). Each run's Q assigns the same
//! unlabelled training images to categories, and two label-free figures rank the runs:
//!
//! - `consistency`: how often an image's nearest neighbours share its category. A split by style
//!   cuts through a dense region of image space, so many neighbours fall on the other side; a
//!   category that follows the classes has few such neighbours. Neighbours are found among the
//!   images themselves after deskewing (each image sheared so that its principal axis of ink is
//!   upright and its centre of ink is centred, from its own moments), which removes slant, the
//!   style most failed runs split on.
//! - `centrality`: each run's mean Hungarian-matched agreement with the others. It favours the
//!   solution most restarts share, which on MNIST is a partial one.
//!
//! The run with the highest `consistency` is chosen by default; Q's mean entropy is reported beside.
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::method::codes;
use crate::sample::{self, Trained};
use serde::Serialize;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// One restart's standing.
#[derive(Debug, Serialize)]
pub struct Candidate {
    pub run: PathBuf,
    pub step: u64,
    /// Mean matched agreement with every other run, in [0, 1].
    pub centrality: f64,
    /// The fraction of (image, neighbour) pairs to which Q gives one category, in [0, 1].
    pub consistency: f64,
    /// Q's mean entropy (nats) over the first categorical code, on the same images.
    pub code_entropy: f64,
}

/// What picks the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Criterion {
    /// Highest consistency, then centrality, then lowest entropy.
    Consistency,
    /// Highest centrality, then lowest entropy.
    Centrality,
}

/// Where the images' nearest neighbours are found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Space {
    /// Pixels after each image is deskewed by its own moments (vector data is used as it is).
    Deskewed,
    /// Raw pixels.
    Pixels,
}

/// How `select` reads and ranks the runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Unlabelled training images to read (all of them when the set is smaller).
    pub samples: i64,
    pub seed: u64,
    pub device: String,
    /// Each run's checkpoint of this step, or its newest.
    pub step: Option<u64>,
    pub by: Criterion,
    pub space: Space,
    /// Nearest neighbours per image for `consistency`.
    pub neighbours: i64,
}

#[derive(Debug, Serialize)]
pub struct Selection {
    /// The best run under `by`.
    pub selected: PathBuf,
    pub by: Criterion,
    /// Unlabelled training images each run's Q read.
    pub samples: i64,
    pub space: Space,
    pub neighbours: i64,
    pub runs: Vec<Candidate>,
    /// `agreement[i][j]`: the fraction of images on which runs i and j agree once j's categories
    /// are matched to i's.
    pub agreement: Vec<Vec<f64>>,
}

/// Each run's mean agreement with the others, given every run's category for the same images.
pub fn centrality(preds: &[Vec<i64>], categories: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = preds.len();
    let mut agree = vec![vec![1.0; n]; n];
    for i in 0..n {
        for j in i + 1..n {
            let a = codes::matched_accuracy(&preds[i], &preds[j], categories);
            agree[i][j] = a;
            agree[j][i] = a;
        }
    }
    let mean = (0..n).map(|i| (0..n).filter(|&j| j != i).map(|j| agree[i][j]).sum::<f64>() / (n - 1) as f64).collect();
    (mean, agree)
}

/// Images sheared upright and centred by their own moments of ink, in [0, 1]: the mean over
/// channels of `(x + 1) / 2` gives each pixel's ink; the shear is the covariance of row and column
/// over the variance of the row (the slope of the principal axis), as in the classic deskewing of
/// digits for nearest-neighbour classifiers. Bilinear resampling; outside the image is blank.
pub fn deskew(x: &Tensor) -> Tensor {
    let (n, c, h, w) = x.size4().expect("images are N x C x H x W");
    let img = (x + 1.0) / 2.0;
    let ink = img.mean_dim(1, false, Kind::Float);
    let opts = (Kind::Float, x.device());
    let rows = Tensor::arange(h, opts).view([1, h, 1]);
    let cols = Tensor::arange(w, opts).view([1, 1, w]);
    let total = ink.sum_dim_intlist([1i64, 2].as_slice(), false, Kind::Float).clamp_min(1e-8);
    let moment = |t: &Tensor| (&ink * t).sum_dim_intlist([1i64, 2].as_slice(), false, Kind::Float) / &total;
    let (mr, mc) = (moment(&rows), moment(&cols));
    let dr = &rows - mr.view([n, 1, 1]);
    let dc = &cols - mc.view([n, 1, 1]);
    let shear = moment(&(&dr * &dc)) / moment(&(&dr * &dr)).clamp_min(1e-8);
    // sampling grid in [-1, 1] coordinates (align_corners): output (u, v) reads input
    // (u + shear * v * half_h / half_w + centre offset, v + centre offset)
    let (hr, hc) = (((h - 1) as f64 / 2.0).max(0.5), ((w - 1) as f64 / 2.0).max(0.5));
    let (one, zero) = (Tensor::ones([n], opts), Tensor::zeros([n], opts));
    let theta = Tensor::stack(&[&one, &(shear * (hr / hc)), &((mc - hc) / hc), &zero, &one, &((mr - hr) / hr)], 1)
        .view([n, 2, 3]);
    let grid = Tensor::affine_grid_generator(&theta, [n, c, h, w], true);
    img.grid_sampler(&grid, 0, 0, true)
}

/// The `k` nearest neighbours (Euclidean) of each row of `f` among the other rows.
pub fn nearest(f: &Tensor, k: i64) -> Vec<Vec<i64>> {
    let n = f.size()[0];
    let f = f.reshape([n, -1]).to_kind(Kind::Float);
    let sq = (&f * &f).sum_dim_intlist(1, false, Kind::Float);
    let mut out = Vec::with_capacity(n as usize);
    for i in (0..n).step_by(1000) {
        let m = 1000.min(n - i);
        let d = sq.narrow(0, i, m).unsqueeze(1) + sq.unsqueeze(0) - f.narrow(0, i, m).matmul(&f.tr()) * 2.0;
        let own = Tensor::arange_start(i, i + m, (Kind::Int64, f.device())).unsqueeze(1);
        let d = d.scatter_value(1, &own, f64::INFINITY);
        let idx = d.topk(k, 1, false, true).1.to_device(Device::Cpu);
        let flat = Vec::<i64>::try_from(idx.reshape([-1])).expect("ints");
        out.extend(flat.chunks(k as usize).map(<[i64]>::to_vec));
    }
    out
}

/// The fraction of (image, neighbour) pairs whose categories are equal.
pub fn consistency(pred: &[i64], nn: &[Vec<i64>]) -> f64 {
    let (same, all) = nn.iter().enumerate().fold((0usize, 0usize), |(s, a), (i, row)| {
        (s + row.iter().filter(|&&j| pred[j as usize] == pred[i]).count(), a + row.len())
    });
    same as f64 / all.max(1) as f64
}

/// The index of the best candidate under `by`; the first among equals.
fn best(c: &[Candidate], by: Criterion) -> usize {
    let key = |x: &Candidate| match by {
        Criterion::Consistency => (x.consistency, x.centrality, -x.code_entropy),
        Criterion::Centrality => (x.centrality, -x.code_entropy, 0.0),
    };
    let mut b = 0;
    for (i, x) in c.iter().enumerate().skip(1) {
        if key(x) > key(&c[b]) {
            b = i;
        }
    }
    b
}

fn categories(t: &Trained, run: &Path) -> Result<i64> {
    t.method.noise().and_then(|s| s.codes()).and_then(|(c, _)| c.categorical.first().copied()).ok_or_else(|| {
        Error::Usage(format!(
            "{} is not an InfoGAN run with a categorical code (its method is `{}`); select compares InfoGAN restarts",
            run.display(),
            t.cfg.method
        ))
    })
}

/// Q's category and entropy for each of `x`'s images, 1000 at a time.
fn read_codes(t: &Trained, x: &Tensor) -> (Vec<i64>, f64) {
    let n = x.size()[0];
    let mut pred = Vec::with_capacity(n as usize);
    let mut entropy = 0.0;
    for i in (0..n).step_by(1000) {
        let logits = t
            .method
            .noise()
            .and_then(|s| s.code_logits(&x.narrow(0, i, 1000.min(n - i))))
            .expect("checked: a categorical code");
        let logp = logits.log_softmax(1, Kind::Float);
        entropy -= (logp.exp() * &logp).sum(Kind::Double).double_value(&[]);
        pred.extend(Vec::<i64>::try_from(logits.argmax(1, false).to_device(Device::Cpu)).expect("ints"));
    }
    (pred, entropy / n.max(1) as f64)
}

/// Ranks `runs` (at least three restarts of one InfoGAN configuration, same data, same number of
/// categories) on unlabelled training images, as `o` says.
pub fn select(runs: &[PathBuf], o: &Options) -> Result<Selection> {
    if runs.len() < 3 {
        return Err(Error::Usage(format!(
            "select needs at least 3 runs to compare (got {}): with two, each agrees with the other equally",
            runs.len()
        )));
    }
    let mut loaded = Vec::new();
    for r in runs {
        let t = sample::load_run_at(r, &o.device, o.step)?;
        let k = categories(&t, r)?;
        loaded.push((t, k));
    }
    let (first, k) = (&loaded[0].0, loaded[0].1);
    for ((t, kt), r) in loaded.iter().zip(runs).skip(1) {
        if !same_source(&t.cfg.data.source, &first.cfg.data.source) {
            return Err(Error::Usage(format!(
                "{} was trained on `{}` but {} on `{}`; select compares restarts on the same data",
                r.display(),
                t.cfg.data.source,
                runs[0].display(),
                first.cfg.data.source
            )));
        }
        if *kt != k {
            return Err(Error::Usage(format!(
                "{} has {kt} categories but {} has {k}; select compares restarts with the same codes",
                r.display(),
                runs[0].display()
            )));
        }
    }
    let x = Dataset::load(&first.cfg.data, first.device)?.reference(o.samples, o.seed);
    let n = x.size()[0];
    if o.neighbours < 1 || o.neighbours >= n {
        return Err(Error::Usage(format!(
            "--neighbours {} must lie between 1 and {} (one less than the {n} images read; raise --samples or lower --neighbours)",
            o.neighbours,
            n - 1
        )));
    }
    let space = match (o.space, x.dim()) {
        (Space::Deskewed, 4) => deskew(&x),
        _ => x.shallow_clone(),
    };
    let nn = nearest(&space, o.neighbours);
    let read: Vec<(Vec<i64>, f64)> = loaded.iter().map(|(t, _)| read_codes(t, &x)).collect();
    let preds: Vec<Vec<i64>> = read.iter().map(|(p, _)| p.clone()).collect();
    let (mean, agreement) = centrality(&preds, k as usize);
    let candidates: Vec<Candidate> = loaded
        .iter()
        .zip(runs)
        .zip(mean.iter().zip(&read))
        .map(|(((t, _), r), (&c, (p, h)))| Candidate {
            run: r.clone(),
            step: t.step,
            centrality: c,
            consistency: consistency(p, &nn),
            code_entropy: *h,
        })
        .collect();
    let selected = candidates[best(&candidates, o.by)].run.clone();
    Ok(Selection {
        selected,
        by: o.by,
        samples: n,
        space: o.space,
        neighbours: o.neighbours,
        runs: candidates,
        agreement,
    })
}

/// Whether two `data.source` values name the same data: equal as written, or the same file or
/// folder once resolved (`/a/b/../data` and `/a/data`). Synthetic sources are compared as written.
fn same_source(a: &str, b: &str) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_folder_written_two_ways_is_the_same_source() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("code")).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let plain = dir.path().join("data").display().to_string();
        let dotted = dir.path().join("code").join("..").join("data").display().to_string();
        assert!(same_source(&plain, &dotted));
        assert!(!same_source(&plain, &dir.path().join("code").display().to_string()));
        assert!(same_source("ring8", "ring8"));
        assert!(!same_source("ring8", "grid25"));
    }

    #[test]
    fn a_relabelled_copy_agrees_fully_and_the_odd_run_out_is_least_central() {
        // hand-computed: b is a with categories 0 and 1 swapped (agreement 1); c differs from a
        // on images 4 and 5 once matched: best matching maps c's 0->0, 1->1, 2->2 for 4 of 6
        let a = vec![0, 0, 1, 1, 2, 2];
        let b = vec![1, 1, 0, 0, 2, 2];
        let c = vec![0, 0, 1, 1, 1, 0];
        let (mean, agree) = centrality(&[a, b, c], 3);
        assert_eq!(agree[0][1], 1.0);
        assert!((agree[0][2] - 4.0 / 6.0).abs() < 1e-12 && (agree[1][2] - 4.0 / 6.0).abs() < 1e-12);
        assert!((mean[0] - (1.0 + 4.0 / 6.0) / 2.0).abs() < 1e-12);
        assert!((mean[2] - 4.0 / 6.0).abs() < 1e-12);
        let cand = |c: f64, k: f64, h: f64| Candidate {
            run: PathBuf::new(),
            step: 0,
            centrality: c,
            consistency: k,
            code_entropy: h,
        };
        let c = [cand(0.8, 0.9, 0.3), cand(0.9, 0.8, 0.5), cand(0.9, 0.8, 0.2), cand(0.7, 0.9, 0.0)];
        assert_eq!(best(&c, Criterion::Centrality), 2);
        // equal consistency: the more central of runs 0 and 3
        assert_eq!(best(&c, Criterion::Consistency), 0);
    }

    #[test]
    fn neighbours_and_their_agreement_by_hand() {
        // points on a line at 0, 1, 3, 7: nearest of 0 is 1, of 1 is 0, of 3 is 1, of 7 is 3
        let f = Tensor::from_slice(&[0.0f32, 1.0, 3.0, 7.0]).view([4, 1]);
        assert_eq!(nearest(&f, 1), vec![vec![1], vec![0], vec![1], vec![2]]);
        assert_eq!(nearest(&f, 2), vec![vec![1, 2], vec![0, 2], vec![1, 0], vec![2, 1]]);
        // categories a a b b: pairs (0,1) (1,0) agree, (2,1) and (3,2): one of the two agrees
        assert!((consistency(&[0, 0, 1, 1], &nearest(&f, 1)) - 3.0 / 4.0).abs() < 1e-12);
        // relabelling the categories changes nothing
        assert_eq!(consistency(&[5, 5, 2, 2], &nearest(&f, 2)), consistency(&[0, 0, 1, 1], &nearest(&f, 2)));
    }

    #[test]
    fn deskewing_stands_a_diagonal_upright_and_leaves_an_upright_bar_alone() {
        let img = |ink: &[f32], h: i64, w: i64| Tensor::from_slice(ink).view([1, 1, h, w]) * 2.0 - 1.0;
        let ink = |t: Tensor| Vec::<f32>::try_from(t.reshape([-1])).unwrap();
        // ink at (0,0) and (2,2): centre (1,1), row variance 1, row-column covariance 1, so the
        // shear is 1 and output (r, c) reads input (r, c + r - 1): the ink lands on (0,1), (2,1)
        let d = ink(deskew(&img(&[1., 0., 0., 0., 0., 0., 0., 0., 1.], 3, 3)));
        let want = [0., 1., 0., 0., 0., 0., 0., 1., 0.];
        assert!(d.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "{d:?}");
        // an upright bar through the centre of a 3 x 5 image: no shear, no shift
        let bar = [0., 0., 1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1., 0., 0.];
        let d = ink(deskew(&img(&bar, 3, 5)));
        assert!(d.iter().zip(bar).all(|(a, b)| (a - b).abs() < 1e-6), "{d:?}");
    }
}
