//! The ResNet generator of the CycleGAN reference (Johnson et al.'s architecture): reflect-pad 3,
//! conv 7 → ngf, norm, ReLU; `downs` stride-2 conv 3 (doubling the width each time); `blocks`
//! residual blocks (reflect-pad 1, conv 3, norm, ReLU, reflect-pad 1, conv 3, norm; x + block,
//! no ReLU after the sum); `downs` stride-2 transposed conv 3 with output padding 1 (halving the
//! width); reflect-pad 3, conv 7 → channels, tanh. Instance norm without affine parameters and
//! biased convolutions, as the reference with `--norm instance`. A side must be a multiple of
//! 2^downs for the output to have the input's size.
use serde::{Deserialize, Serialize};
use tch::Tensor;
use tch::nn::{self, ModuleT};

/// The normalisation of the image-to-image networks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Norm2d {
    /// Instance norm without affine parameters (the CycleGAN reference's default).
    Instance,
    /// Batch norm with scale and shift (DiscoGAN, pix2pix's `--norm batch`).
    Batch,
    None,
}

impl Norm2d {
    /// The layer under `p` for `channels`.
    pub fn at(self, p: nn::Path, channels: i64) -> NormLayer2d {
        match self {
            Norm2d::Instance => NormLayer2d::Instance,
            Norm2d::Batch => NormLayer2d::Batch(nn::batch_norm2d(p, channels, Default::default())),
            Norm2d::None => NormLayer2d::None,
        }
    }
}

/// A normalisation layer of the image-to-image networks.
#[derive(Debug)]
pub enum NormLayer2d {
    Instance,
    Batch(nn::BatchNorm),
    None,
}

impl NormLayer2d {
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            // per example and channel, over the spatial dimensions, with no running statistics
            NormLayer2d::Instance => Tensor::instance_norm(
                x,
                None::<Tensor>,
                None::<Tensor>,
                None::<Tensor>,
                None::<Tensor>,
                true,
                0.1,
                1e-5,
                false,
            ),
            NormLayer2d::Batch(b) => x.apply_t(b, train),
            NormLayer2d::None => x.shallow_clone(),
        }
    }
}

/// Widths and depth of a ResNet generator.
#[derive(Clone, Copy, Debug)]
pub struct ResnetShape {
    /// Channels of the first convolution.
    pub ngf: i64,
    /// Stride-2 down-samplings (and as many up-samplings).
    pub downs: i64,
    /// Residual blocks at the bottleneck.
    pub blocks: i64,
}

/// One convolution and its norm.
#[derive(Debug)]
struct ConvNorm {
    conv: nn::Conv2D,
    norm: NormLayer2d,
}

impl ConvNorm {
    fn new(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64, padding: i64, norm: Norm2d) -> ConvNorm {
        let cfg = nn::ConvConfig { stride, padding, bias: true, ..Default::default() };
        ConvNorm { conv: nn::conv2d(&p / "conv", cin, cout, k, cfg), norm: norm.at(&p / "norm", cout) }
    }
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        self.norm.forward(&x.apply(&self.conv), train)
    }
}

#[derive(Debug)]
struct Block {
    a: ConvNorm,
    b: ConvNorm,
}

#[derive(Debug)]
pub struct ResnetGenerator {
    stem: ConvNorm,
    down: Vec<ConvNorm>,
    blocks: Vec<Block>,
    up: Vec<(nn::ConvTranspose2D, NormLayer2d)>,
    head: nn::Conv2D,
}

impl ResnetGenerator {
    /// A generator from `c_in` to `c_out` channels.
    pub fn new(p: nn::Path, c_in: i64, c_out: i64, shape: ResnetShape, norm: Norm2d) -> ResnetGenerator {
        let ResnetShape { ngf, downs, blocks } = shape;
        let stem = ConvNorm::new(&p / "stem", c_in, ngf, 7, 1, 0, norm);
        let down = (0..downs)
            .map(|i| ConvNorm::new(&p / format!("down{i}"), ngf << i, ngf << (i + 1), 3, 2, 1, norm))
            .collect();
        let w = ngf << downs;
        let blocks = (0..blocks)
            .map(|i| Block {
                a: ConvNorm::new(&p / format!("block{i}") / "a", w, w, 3, 1, 0, norm),
                b: ConvNorm::new(&p / format!("block{i}") / "b", w, w, 3, 1, 0, norm),
            })
            .collect();
        let up = (0..downs)
            .map(|i| {
                let (cin, cout) = (ngf << (downs - i), ngf << (downs - i - 1));
                let cfg = nn::ConvTransposeConfig {
                    stride: 2,
                    padding: 1,
                    output_padding: 1,
                    bias: true,
                    ..Default::default()
                };
                let q = &p / format!("up{i}");
                (nn::conv_transpose2d(&q / "conv", cin, cout, 3, cfg), norm.at(&q / "norm", cout))
            })
            .collect();
        let head = nn::conv2d(&p / "head", ngf, c_out, 7, nn::ConvConfig { bias: true, ..Default::default() });
        ResnetGenerator { stem, down, blocks, up, head }
    }
}

impl ModuleT for ResnetGenerator {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = self.stem.forward(&x.reflection_pad2d([3, 3, 3, 3]), train).relu();
        for d in &self.down {
            h = d.forward(&h, train).relu();
        }
        for b in &self.blocks {
            let r = b.a.forward(&h.reflection_pad2d([1, 1, 1, 1]), train).relu();
            let r = b.b.forward(&r.reflection_pad2d([1, 1, 1, 1]), train);
            // not in place: the reflection padding of the block saved h for its backward pass
            h = h.g_add(&r);
        }
        for (conv, norm) in &self.up {
            h = norm.forward(&h.apply(conv), train).relu();
        }
        h.reflection_pad2d([3, 3, 3, 3]).apply(&self.head).tanh()
    }
}

impl super::Staged for ResnetGenerator {
    fn stages(&self) -> Vec<super::Stage<'_>> {
        use super::Stage;
        let mut s = vec![Stage::new("stem", |x| self.stem.forward(&x.reflection_pad2d([3, 3, 3, 3]), false).relu())];
        for (i, d) in self.down.iter().enumerate() {
            s.push(Stage::new(format!("down{i}"), move |h| d.forward(h, false).relu()));
        }
        for (i, b) in self.blocks.iter().enumerate() {
            s.push(Stage::new(format!("block{i}"), move |h| {
                let r = b.a.forward(&h.reflection_pad2d([1, 1, 1, 1]), false).relu();
                h.g_add(&b.b.forward(&r.reflection_pad2d([1, 1, 1, 1]), false))
            }));
        }
        for (i, (conv, norm)) in self.up.iter().enumerate() {
            s.push(Stage::new(format!("up{i}"), move |h| norm.forward(&h.apply(conv), false).relu()));
        }
        s.push(Stage::new("head", |h| h.reflection_pad2d([3, 3, 3, 3]).apply(&self.head).tanh()));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(vs: &nn::VarStore) -> i64 {
        vs.trainable_variables().iter().map(|t| t.numel() as i64).sum()
    }

    #[test]
    fn the_reference_resnet_9_has_its_parameter_count_and_keeps_any_size() {
        // PyTorch's ResnetGenerator(3, 3, 64, InstanceNorm2d, n_blocks=9) has 11,378,179
        // parameters (the CycleGAN reference prints it at start-up); the count by hand:
        // stem 3·64·49 + 64; downs 64·128·9 + 128 and 128·256·9 + 256; 9 blocks of
        // 2 × (256·256·9 + 256); ups 256·128·9 + 128 and 128·64·9 + 64; head 64·3·49 + 3.
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let shape = ResnetShape { ngf: 64, downs: 2, blocks: 9 };
        let _g = ResnetGenerator::new(vs.root(), 3, 3, shape, Norm2d::Instance);
        let want = 3 * 64 * 49
            + 64
            + 64 * 128 * 9
            + 128
            + 128 * 256 * 9
            + 256
            + 9 * 2 * (256 * 256 * 9 + 256)
            + 256 * 128 * 9
            + 128
            + 128 * 64 * 9
            + 64
            + 64 * 3 * 49
            + 3;
        assert_eq!(want, 11_378_179);
        assert_eq!(count(&vs), want);
        // odd sizes that are multiples of 4 come back whole, grey to colour
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let g = ResnetGenerator::new(vs.root(), 1, 3, ResnetShape { ngf: 4, downs: 2, blocks: 1 }, Norm2d::Instance);
        for (h, w) in [(28, 28), (12, 36), (44, 20)] {
            let y = g.forward_t(&Tensor::rand([2, 1, h, w], tch::kind::FLOAT_CPU), false);
            assert_eq!(y.size(), vec![2, 3, h, w]);
            assert!(y.abs().max().double_value(&[]) <= 1.0, "tanh output");
        }
    }

    #[test]
    fn instance_norm_normalises_each_example_and_channel() {
        let x = Tensor::rand([2, 3, 5, 7], tch::kind::FLOAT_CPU) * 4.0 + 3.0;
        let y = NormLayer2d::Instance.forward(&x, true);
        let m = y.mean_dim([2, 3].as_slice(), false, tch::Kind::Float);
        let v = y.var_dim([2, 3].as_slice(), false, false);
        assert!(m.abs().max().double_value(&[]) < 1e-5);
        assert!((v - 1.0).abs().max().double_value(&[]) < 1e-3);
    }
}
