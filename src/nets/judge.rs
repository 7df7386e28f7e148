//! The attribute judge's network: a small fully convolutional detector on an 8 × 8 grid. Stride-2
//! 3×3 convolutions (32, 64, 128, 128 channels, batch norm, ReLU) bring the image to 8 × 8, two
//! 3×3 convolutions of 128 channels follow, and a 1×1 convolution predicts, for each cell and
//! each of two anchors (small, large objects), an objectness logit, the logits of every
//! attribute and the centre's offset within the cell. Its features (the last hidden map,
//! averaged over the grid) are the feature network of the Fréchet distances of captioned data.
use super::{Norm, NormLayer, maybe};
use crate::data::scenes::{Colour, Fill, GLYPHS, ShapeKind, Stroke, Texture};
use tch::Tensor;
use tch::nn;

/// Cells per side.
pub const GRID: i64 = 8;
/// Anchors per cell: small and large objects.
pub const ANCHORS: i64 = 2;
/// Feature width.
pub const FEATURES: i64 = 128;

/// The per-anchor outputs: (name, width), in order.
pub fn heads() -> [(&'static str, i64); 8] {
    [
        ("object", 1),
        ("shape", ShapeKind::ALL.len() as i64),
        ("colour", Colour::ALL.len() as i64),
        ("fill", Fill::ALL.len() as i64),
        ("stroke", Stroke::ALL.len() as i64),
        ("texture", Texture::ALL.len() as i64),
        ("glyph", GLYPHS.len() as i64),
        ("offset", 2),
    ]
}

/// Outputs per anchor.
pub fn per_anchor() -> i64 {
    heads().iter().map(|(_, w)| w).sum()
}

#[derive(Debug)]
pub struct Detector {
    layers: Vec<(nn::Conv2D, Option<NormLayer>)>,
    out: nn::Conv2D,
}

impl Detector {
    /// For `channels` × `size` images, `size` = 8 · 2^k with k ≥ 1.
    pub fn new(p: nn::Path, channels: i64, size: i64) -> Detector {
        let downs = (size / GRID).trailing_zeros() as usize;
        let widths = [32, 64, 128, 128, 128, 128];
        let mut layers = vec![];
        let mut cin = channels;
        for i in 0..downs + 2 {
            let w = widths[i.min(widths.len() - 1)].max(if i >= downs { FEATURES } else { 0 });
            let stride = if i < downs { 2 } else { 1 };
            let cfg = nn::ConvConfig { stride, padding: 1, bias: false, ..Default::default() };
            layers.push((
                nn::conv2d(&p / format!("conv{i}"), cin, w, 3, cfg),
                NormLayer::new(&p / format!("norm{i}"), Norm::Batch, &[w, 1, 1]),
            ));
            cin = w;
        }
        Detector { layers, out: nn::conv2d(&p / "out", cin, ANCHORS * per_anchor(), 1, Default::default()) }
    }

    /// (features `[n, 128]`, outputs `[n, anchors, per_anchor, 8, 8]`).
    pub fn forward(&self, x: &Tensor, train: bool) -> (Tensor, Tensor) {
        let mut h = x.shallow_clone();
        for (c, n) in &self.layers {
            h = maybe(n, h.apply(c), train).relu();
        }
        let f = h.mean_dim([2, 3].as_slice(), false, None);
        let o = h.apply(&self.out);
        let s = o.size();
        (f, o.view([s[0], ANCHORS, per_anchor(), s[2], s[3]]))
    }
}

/// Whether `size` suits the detector.
pub fn fits(size: i64) -> bool {
    size >= 2 * GRID && size % GRID == 0 && ((size / GRID) as u64).is_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn an_eight_by_eight_grid_at_any_side() {
        for side in [16, 32, 128] {
            let vs = nn::VarStore::new(Device::Cpu);
            let d = Detector::new(vs.root(), 3, side);
            let (f, o) = d.forward(&Tensor::zeros([2, 3, side, side], (Kind::Float, Device::Cpu)), false);
            assert_eq!(f.size(), [2, FEATURES]);
            assert_eq!(o.size(), [2, ANCHORS, per_anchor(), GRID, GRID]);
        }
        assert_eq!(per_anchor(), 1 + 5 + 8 + 2 + 2 + 2 + 8 + 2);
        assert!(fits(32) && fits(128) && !fits(28) && !fits(8));
    }
}
