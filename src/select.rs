//! Picking one of several InfoGAN restarts without labels. Whether InfoGAN's categorical code
//! lands on the classes depends on the seed; runs that found the classes agree with one another
//! about which real images belong together, while failed runs each fail their own way. So each
//! run's Q assigns unlabelled training images to categories, every pair of runs is compared by
//! Hungarian-matched agreement, and the run with the highest mean agreement with the others (the
//! most central one) is chosen. Q's mean entropy on the same images is reported beside it and
//! breaks ties.
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
    /// Q's mean entropy (nats) over the first categorical code, on the same images.
    pub code_entropy: f64,
}

#[derive(Debug, Serialize)]
pub struct Selection {
    /// The most central run.
    pub selected: PathBuf,
    /// Unlabelled training images each run's Q read.
    pub samples: i64,
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

/// The index of the best candidate: highest centrality, then lowest entropy, then first.
fn best(c: &[Candidate]) -> usize {
    let mut b = 0;
    for (i, x) in c.iter().enumerate().skip(1) {
        let y = &c[b];
        if x.centrality > y.centrality || (x.centrality == y.centrality && x.code_entropy < y.code_entropy) {
            b = i;
        }
    }
    b
}

fn categories(t: &Trained, run: &Path) -> Result<i64> {
    t.method.codes().and_then(|(c, _)| c.categorical.first().copied()).ok_or_else(|| {
        Error::Usage(format!(
            "{} is not an InfoGAN run with a categorical code (its method is `{:?}`); select compares InfoGAN restarts",
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
        let logits = t.method.code_logits(&x.narrow(0, i, 1000.min(n - i))).expect("checked: a categorical code");
        let logp = logits.log_softmax(1, Kind::Float);
        entropy -= (logp.exp() * &logp).sum(Kind::Double).double_value(&[]);
        pred.extend(Vec::<i64>::try_from(logits.argmax(1, false).to_device(Device::Cpu)).expect("ints"));
    }
    (pred, entropy / n.max(1) as f64)
}

/// Ranks `runs` (at least three restarts of one InfoGAN configuration, same data, same number of
/// categories) on `n` training images drawn with `seed`, each at its checkpoint of `step` (its
/// newest when None).
pub fn select(runs: &[PathBuf], n: i64, seed: u64, device: &str, step: Option<u64>) -> Result<Selection> {
    if runs.len() < 3 {
        return Err(Error::Usage(format!(
            "select needs at least 3 runs to compare (got {}): with two, each agrees with the other equally",
            runs.len()
        )));
    }
    let mut loaded = Vec::new();
    for r in runs {
        let t = sample::load_run_at(r, device, step)?;
        let k = categories(&t, r)?;
        loaded.push((t, k));
    }
    let (first, k) = (&loaded[0].0, loaded[0].1);
    for ((t, kt), r) in loaded.iter().zip(runs).skip(1) {
        if t.cfg.data.source != first.cfg.data.source {
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
    let x = Dataset::load(&first.cfg.data, first.device)?.reference(n, seed);
    let read: Vec<(Vec<i64>, f64)> = loaded.iter().map(|(t, _)| read_codes(t, &x)).collect();
    let preds: Vec<Vec<i64>> = read.iter().map(|(p, _)| p.clone()).collect();
    let (mean, agreement) = centrality(&preds, k as usize);
    let candidates: Vec<Candidate> = loaded
        .iter()
        .zip(runs)
        .zip(mean.iter().zip(&read))
        .map(|(((t, _), r), (&c, (_, h)))| Candidate { run: r.clone(), step: t.step, centrality: c, code_entropy: *h })
        .collect();
    let selected = candidates[best(&candidates)].run.clone();
    Ok(Selection { selected, samples: x.size()[0], runs: candidates, agreement })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let cand = |c: f64, h: f64| Candidate { run: PathBuf::new(), step: 0, centrality: c, code_entropy: h };
        assert_eq!(best(&[cand(0.8, 0.3), cand(0.9, 0.5), cand(0.9, 0.2), cand(0.7, 0.0)]), 2);
    }
}
