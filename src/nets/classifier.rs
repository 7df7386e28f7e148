//! The evaluation classifier: a small CNN whose penultimate features and logits feed the
//! image metrics (FCD, KID, classifier score, precision/recall, class histograms). Three
//! conv-BN-ReLU blocks (32, 64, 128 channels, 3×3) each followed by 2×2 max pooling, then a
//! 256-unit hidden layer (the features) with dropout, then the class logits.
use super::NormLayer;
use crate::nets::Norm;
use tch::Tensor;
use tch::nn::{self, ModuleT};

/// Width of the feature vector.
pub const FEATURES: i64 = 256;

#[derive(Debug)]
pub struct Cnn {
    convs: Vec<(nn::Conv2D, Option<NormLayer>)>,
    hidden: nn::Linear,
    out: nn::Linear,
}

impl Cnn {
    pub fn new(p: nn::Path, channels: i64, size: i64, classes: i64) -> Cnn {
        let mut convs = vec![];
        let mut c = channels;
        for (i, w) in [32, 64, 128].into_iter().enumerate() {
            let cfg = nn::ConvConfig { padding: 1, bias: false, ..Default::default() };
            convs.push((
                nn::conv2d(&p / format!("conv{i}"), c, w, 3, cfg),
                NormLayer::new(&p / format!("norm{i}"), Norm::Batch, &[w, 1, 1]),
            ));
            c = w;
        }
        let side = size / 8;
        let hidden = nn::linear(&p / "hidden", 128 * side * side, FEATURES, Default::default());
        let out = nn::linear(&p / "out", FEATURES, classes, Default::default());
        Cnn { convs, hidden, out }
    }

    /// (features `[n, 256]`, logits `[n, classes]`).
    pub fn features_logits(&self, x: &Tensor, train: bool) -> (Tensor, Tensor) {
        let (_, f, logits) = self.layers(x, train);
        (f, logits)
    }

    /// (the last convolution block's pooled maps `[n, 128, s/8, s/8]`, the hidden layer's
    /// features `[n, 256]` after ReLU, logits `[n, classes]`).
    pub fn layers(&self, x: &Tensor, train: bool) -> (Tensor, Tensor, Tensor) {
        let mut h = x.shallow_clone();
        for (conv, norm) in &self.convs {
            h = super::maybe(norm, h.apply(conv), train).relu().max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
        }
        let f = h.flatten(1, -1).apply(&self.hidden).relu(); // [n, 256]
        let logits = self.logits_of(&f, train);
        (h, f, logits)
    }

    /// The logits of hidden features `f` (`[n, 256]`).
    pub fn logits_of(&self, f: &Tensor, train: bool) -> Tensor {
        f.dropout(0.3, train).apply(&self.out)
    }
}

impl ModuleT for Cnn {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.features_logits(x, train).1
    }
}
