//! InfoGAN's latent codes (Chen et al. 2016). G's input is [z; c] with c made of categorical
//! codes (one-hot, uniform over their categories) and continuous codes (U(−1, 1)). D's read-out
//! gains a Q head sharing its body: logits for each categorical code and a mean for each
//! continuous one. The variational lower bound of I(c; G(z, c)) is maximised by minimising
//! λ·L_I = λ·Σ CE(Q_cat, c_cat) + λ_c·Σ ½(c_cont − μ)² (a unit-variance Gaussian's negative
//! log-likelihood up to a constant) in both players' losses (eq. 6), with λ_c the continuous
//! codes' own weight ("a smaller λ is typically used" for them, §6).
use tch::{Device, Kind, Tensor};

#[derive(Debug, Clone)]
pub struct Codes {
    pub categorical: Vec<i64>,
    pub continuous: i64,
    /// λ of the categorical terms.
    pub weight: f64,
    /// λ of the continuous terms.
    pub continuous_weight: f64,
}

impl Codes {
    /// Width of c in G's input (and of the Q head).
    pub fn width(&self) -> i64 {
        self.categorical.iter().sum::<i64>() + self.continuous
    }

    /// Random codes for `n` samples; `first` fixes the first categorical code.
    pub fn sample(&self, n: i64, first: Option<i64>, device: Device) -> Tensor {
        crate::dist::draw(n, |n| self.sample_all(n, first, device))
    }

    fn sample_all(&self, n: i64, first: Option<i64>, device: Device) -> Tensor {
        let mut parts = vec![];
        for (i, &k) in self.categorical.iter().enumerate() {
            let y = match (i, first) {
                (0, Some(c)) => Tensor::full([n], c, (Kind::Int64, device)),
                _ => Tensor::randint(k, [n], (Kind::Int64, device)),
            };
            parts.push(y.onehot(k).to_kind(Kind::Float));
        }
        if self.continuous > 0 {
            parts.push(Tensor::rand([n, self.continuous], (Kind::Float, device)) * 2.0 - 1.0);
        }
        Tensor::cat(&parts, 1)
    }

    /// The weighted L_I for Q's outputs `q` [n, width] and the codes `c` [n, width] that made
    /// the samples.
    pub fn info_loss(&self, q: &Tensor, c: &Tensor) -> Tensor {
        let mut at = 0;
        let mut loss = Tensor::zeros([], (Kind::Float, q.device()));
        for &k in &self.categorical {
            let target = c.narrow(1, at, k).argmax(1, false);
            loss += q.narrow(1, at, k).cross_entropy_for_logits(&target) * self.weight;
            at += k;
        }
        if self.continuous > 0 {
            let d = q.narrow(1, at, self.continuous) - c.narrow(1, at, self.continuous);
            loss +=
                d.square().sum_dim_intlist(1, false, Kind::Float).mean(Kind::Float) * (0.5 * self.continuous_weight);
        }
        loss
    }

    /// Logits of the first categorical code from Q's outputs.
    pub fn first_logits(&self, q: &Tensor) -> Option<Tensor> {
        self.categorical.first().map(|&k| q.narrow(1, 0, k))
    }
}

/// The assignment of rows to columns maximising the total of a square score matrix (Hungarian
/// algorithm, O(n³)); returns `col[row]`.
pub fn best_assignment(score: &[Vec<f64>]) -> Vec<usize> {
    let n = score.len();
    // minimise cost = −score; potentials u (rows), v (cols), 1-based with a dummy column 0
    let inf = f64::INFINITY;
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; n + 1]);
    let (mut p, mut way) = (vec![0usize; n + 1], vec![0usize; n + 1]);
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![inf; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let (mut delta, mut j1) = (inf, 0);
            for j in 1..=n {
                if !used[j] {
                    let cur = -score[i0 - 1][j - 1] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut col = vec![0; n];
    for j in 1..=n {
        if p[j] > 0 {
            col[p[j] - 1] = j - 1;
        }
    }
    col
}

/// Accuracy of predicted categories against labels after matching each category to the label
/// it overlaps most under the optimal one-to-one assignment.
pub fn matched_accuracy(pred: &[i64], labels: &[i64], k: usize) -> f64 {
    let mut counts = vec![vec![0.0; k]; k];
    for (&p, &l) in pred.iter().zip(labels) {
        if (p as usize) < k && (l as usize) < k {
            counts[p as usize][l as usize] += 1.0;
        }
    }
    let assign = best_assignment(&counts);
    let hits: f64 = assign.iter().enumerate().map(|(r, &c)| counts[r][c]).sum();
    hits / pred.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_finds_the_permutation() {
        // categories are labels shifted by one: matching recovers 100 %
        let labels: Vec<i64> = (0..50).map(|i| i % 5).collect();
        let pred: Vec<i64> = labels.iter().map(|l| (l + 1) % 5).collect();
        assert_eq!(matched_accuracy(&pred, &labels, 5), 1.0);
        // by hand: best total of [[1, 9], [8, 2]] takes 9 + 8
        assert_eq!(best_assignment(&[vec![1.0, 9.0], vec![8.0, 2.0]]), vec![1, 0]);
    }

    #[test]
    fn info_loss_by_hand() {
        // one categorical code of 2 (target 1, logits (0, 0): CE = ln 2) and one continuous code
        // (c = 0.5, μ = −0.5: ½·1² = 0.5)
        let codes = Codes { categorical: vec![2], continuous: 1, weight: 1.0, continuous_weight: 1.0 };
        let c = Tensor::from_slice(&[0.0f32, 1.0, 0.5]).view([1, 3]);
        let q = Tensor::from_slice(&[0.0f32, 0.0, -0.5]).view([1, 3]);
        let want = std::f64::consts::LN_2 + 0.5;
        assert!((codes.info_loss(&q, &c).double_value(&[]) - want).abs() < 1e-6);
        // λ = 2, λ_c = 0.1: 2·ln 2 + 0.1·0.5
        let codes = Codes { weight: 2.0, continuous_weight: 0.1, ..codes };
        let want = 2.0 * std::f64::consts::LN_2 + 0.05;
        assert!((codes.info_loss(&q, &c).double_value(&[]) - want).abs() < 1e-6);
    }
}
