//! UNIT's networks (Liu, Breuel & Kautz 2017; the authors' NIPS 2017 code, `COCOResGen2` and
//! `COCOSharedDis`), a pair of each sharing the layers next to the latent space:
//! - encoders: per domain a conv 7 (stride 1) to `ch`, `enc_front − 1` stride-2 conv 3 doubling
//!   the channels (each LeakyReLU 0.01), `enc_res` residual blocks; then `enc_shared` residual
//!   blocks both domains run, giving the code h (z = h + N(0, I) while training);
//! - generators: `gen_shared` residual blocks both domains run, then per domain `gen_res`
//!   residual blocks, `gen_front − 1` stride-2 transposed conv 3 halving the channels
//!   (LeakyReLU 0.01) and a 1 × 1 transposed conv to the image, tanh;
//! - residual blocks: conv 3, instance norm, ReLU, conv 3, instance norm, plus the input;
//! - discriminators: per domain a stride-2 conv 7 (`d_ch`) and `d_front − 1` stride-2 conv 3
//!   doubling; then `d_shared` shared stride-2 conv 3 doubling (LeakyReLU 0.01) and a shared 1 × 1
//!   conv to a map of logits (with `d_shared = 0` the 1 × 1 conv is each domain's own).
//!
//! Shared modules live once under `shared.…`; a domain's own under `a.…` / `b.…`.
use super::resnet::NormLayer2d;
use crate::ops::{channels_last, leaky_relu};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

const SLOPE: f64 = 0.01;

/// Sizes of the UNIT networks (the reference's names without `n_…_blk`).
#[derive(Clone, Copy, Debug)]
pub struct UnitShape {
    pub ch: i64,
    pub enc_front: i64,
    pub enc_res: i64,
    pub enc_shared: i64,
    pub gen_shared: i64,
    pub gen_res: i64,
    pub gen_front: i64,
    pub d_ch: i64,
    pub d_front: i64,
    pub d_shared: i64,
}

impl UnitShape {
    /// Channels at the latent space.
    pub fn latent_channels(&self) -> i64 {
        self.ch << (self.enc_front - 1)
    }
}

#[derive(Debug)]
struct ResBlock {
    c1: nn::Conv2D,
    c2: nn::Conv2D,
}

impl ResBlock {
    fn new(p: nn::Path, c: i64) -> ResBlock {
        let cfg = nn::ConvConfig { padding: 1, ..Default::default() };
        ResBlock { c1: nn::conv2d(&p / "conv1", c, c, 3, cfg), c2: nn::conv2d(&p / "conv2", c, c, 3, cfg) }
    }
}

impl Module for ResBlock {
    fn forward(&self, x: &Tensor) -> Tensor {
        let norm = |h: Tensor| NormLayer2d::Instance.forward(&h, true);
        let h = norm(x.apply(&self.c1)).relu();
        x + norm(h.apply(&self.c2))
    }
}

fn blocks(p: &nn::Path, name: &str, n: i64, c: i64) -> Vec<ResBlock> {
    (0..n).map(|i| ResBlock::new(p / format!("{name}{i}"), c)).collect()
}

fn run(x: &Tensor, layers: &[impl Module]) -> Tensor {
    layers.iter().fold(x.shallow_clone(), |h, l| l.forward(&h))
}

/// A layer of the UNIT networks.
#[derive(Debug)]
enum Layer {
    /// A convolution, followed by LeakyReLU 0.01 when the flag is set.
    Conv(nn::Conv2D, bool),
    /// A stride-2 transposed convolution, LeakyReLU 0.01.
    Up(nn::ConvTranspose2D),
    /// The generators' last layer: a 1 × 1 stride-1 transposed convolution to the image, tanh.
    Out(nn::ConvTranspose2D),
    Res(ResBlock),
}

impl Module for Layer {
    fn forward(&self, x: &Tensor) -> Tensor {
        match self {
            Layer::Conv(c, act) => {
                let h = x.apply(c);
                if *act { leaky_relu(&h, SLOPE) } else { h }
            }
            Layer::Up(c) => leaky_relu(&x.apply(c), SLOPE),
            // a 1 × 1 stride-1 transposed convolution is the convolution by its transposed
            // kernel: the same function (and parameters), which libtorch's CPU kernels run 2-3×
            // faster
            Layer::Out(c) => x.conv2d(&c.ws.transpose(0, 1), c.bs.as_ref(), [1, 1], [0, 0], [1, 1], 1).tanh(),
            Layer::Res(r) => r.forward(x),
        }
    }
}

fn conv(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64, act: bool) -> Layer {
    Layer::Conv(nn::conv2d(p, cin, cout, k, nn::ConvConfig { stride, padding: k / 2, ..Default::default() }), act)
}

/// A layer and its name under the store (for `gantry export`'s layer-by-layer check).
#[derive(Debug)]
struct Named(String, Layer);

impl Module for Named {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.1.forward(x)
    }
}

fn named(p: &nn::Path, name: &str, make: impl FnOnce(nn::Path) -> Layer) -> Named {
    let q = p / name;
    Named(q.components().collect::<Vec<_>>().join("."), make(q))
}

/// The encoders and generators.
#[derive(Debug)]
pub struct UnitGenerator {
    enc: [Vec<Named>; 2],
    enc_shared: Vec<ResBlock>,
    gen_shared: Vec<ResBlock>,
    dec: [Vec<Named>; 2],
}

impl UnitGenerator {
    /// `channels` of domains A and B.
    pub fn new(p: &nn::Path, s: UnitShape, channels: (i64, i64)) -> UnitGenerator {
        let top = s.latent_channels();
        let res = |q: &nn::Path, n: i64| -> Vec<Named> {
            (0..n).map(|i| named(q, &format!("res{i}"), |r| Layer::Res(ResBlock::new(r, top)))).collect()
        };
        let enc = |q: nn::Path, cin: i64| -> Vec<Named> {
            let mut l = vec![named(&q, "in", |r| conv(r, cin, s.ch, 7, 1, true))];
            for i in 1..s.enc_front {
                l.push(named(&q, &format!("down{i}"), |r| conv(r, s.ch << (i - 1), s.ch << i, 3, 2, true)));
            }
            l.extend(res(&q, s.enc_res));
            l
        };
        let dec = |q: nn::Path, cout: i64| -> Vec<Named> {
            let mut l = res(&q, s.gen_res);
            for i in 1..s.gen_front {
                let (cin, co) = (top >> (i - 1), top >> i);
                let cfg = nn::ConvTransposeConfig { stride: 2, padding: 1, output_padding: 1, ..Default::default() };
                l.push(named(&q, &format!("up{i}"), |r| Layer::Up(nn::conv_transpose2d(r, cin, co, 3, cfg))));
            }
            let last = top >> (s.gen_front - 1);
            l.push(named(&q, "out", |r| Layer::Out(nn::conv_transpose2d(r, last, cout, 1, Default::default()))));
            l
        };
        let sh = p / "shared";
        UnitGenerator {
            enc: [enc(p / "a" / "enc", channels.0), enc(p / "b" / "enc", channels.1)],
            enc_shared: blocks(&(&sh / "enc"), "res", s.enc_shared, top),
            gen_shared: blocks(&(&sh / "gen"), "res", s.gen_shared, top),
            dec: [dec(p / "a" / "gen", channels.0), dec(p / "b" / "gen", channels.1)],
        }
    }

    /// The code h of images `x` of domain `side` (0 = A, 1 = B): the mean of the latent z.
    pub fn encode(&self, x: &Tensor, side: usize) -> Tensor {
        run(&run(&channels_last(x), &self.enc[side]), &self.enc_shared)
    }

    /// Images of domain `side` from latents `z`.
    pub fn decode(&self, z: &Tensor, side: usize) -> Tensor {
        self.decode_own(&run(z, &self.gen_shared), side)
    }

    /// The codes of `a` (domain A) and `b` (domain B), `(encode(a, 0), encode(b, 1))`, with the
    /// shared blocks run once over both (each example is normalised alone, so this is the
    /// same function in fewer, larger operations).
    pub fn encode_both(&self, a: &Tensor, b: &Tensor) -> (Tensor, Tensor) {
        let (fa, fb) = (run(&channels_last(a), &self.enc[0]), run(&channels_last(b), &self.enc[1]));
        if fa.size()[1..] != fb.size()[1..] {
            return (run(&fa, &self.enc_shared), run(&fb, &self.enc_shared));
        }
        split(&run(&Tensor::cat(&[&fa, &fb], 0), &self.enc_shared), fa.size()[0])
    }

    /// The shared blocks' output for latents `z`: what `decode` hands a domain's own layers.
    pub fn decode_shared(&self, z: &Tensor) -> Tensor {
        run(z, &self.gen_shared)
    }

    /// Images of domain `side` from `decode_shared`'s output: `decode(z, side) =
    /// decode_own(&decode_shared(z), side)`.
    pub fn decode_own(&self, s: &Tensor, side: usize) -> Tensor {
        run(&channels_last(s), &self.dec[side]).contiguous()
    }

    /// The translation from domain `from` to domain `to` (0 = A, 1 = B), `decode(encode(x,
    /// from), to)`, as named stages.
    pub fn stages(&self, from: usize, to: usize) -> Vec<super::Stage<'_>> {
        use super::Stage;
        fn layer(l: &Named) -> Stage<'_> {
            Stage::new(l.0.clone(), move |x| l.forward(x))
        }
        fn shared<'a>(part: &'static str, b: &'a [ResBlock]) -> impl Iterator<Item = Stage<'a>> {
            b.iter().enumerate().map(move |(i, r)| Stage::new(format!("shared.{part}.res{i}"), move |x| r.forward(x)))
        }
        let mut s: Vec<Stage> = self.enc[from].iter().map(layer).collect();
        s.extend(shared("enc", &self.enc_shared));
        s.extend(shared("gen", &self.gen_shared));
        s.extend(self.dec[to].iter().map(layer));
        s
    }

    /// z = h + N(0, I): the latent the generators see while training.
    pub fn sample(h: &Tensor) -> Tensor {
        let mut shape = h.size();
        let noise = crate::dist::draw(shape[0], |m| {
            shape[0] = m;
            Tensor::randn(shape.as_slice(), (h.kind(), h.device()))
        });
        h + noise
    }
}

/// The discriminators.
#[derive(Debug)]
pub struct UnitDiscriminator {
    front: [Vec<Layer>; 2],
    shared: Vec<Layer>,
}

impl UnitDiscriminator {
    pub fn new(p: &nn::Path, s: UnitShape, channels: (i64, i64)) -> UnitDiscriminator {
        let top_front = s.d_ch << (s.d_front - 1);
        let front = |q: nn::Path, cin: i64| -> Vec<Layer> {
            let mut l = vec![conv(&q / "in", cin, s.d_ch, 7, 2, true)];
            for i in 1..s.d_front {
                l.push(conv(&q / format!("down{i}"), s.d_ch << (i - 1), s.d_ch << i, 3, 2, true));
            }
            if s.d_shared == 0 {
                l.push(conv(&q / "out", top_front, 1, 1, 1, false));
            }
            l
        };
        let sh = p / "shared";
        let mut shared: Vec<Layer> = (0..s.d_shared)
            .map(|i| conv(&sh / format!("down{i}"), top_front << i, top_front << (i + 1), 3, 2, true))
            .collect();
        if s.d_shared > 0 {
            shared.push(conv(&sh / "out", top_front << s.d_shared, 1, 1, 1, false));
        }
        UnitDiscriminator { front: [front(p / "a", channels.0), front(p / "b", channels.1)], shared }
    }

    /// Logits `[n, k]` (a map of k patches) of images `x` of domain `side`.
    pub fn forward(&self, x: &Tensor, side: usize) -> Tensor {
        run(&run(&channels_last(x), &self.front[side]), &self.shared).flatten(1, -1)
    }

    /// `(forward(a, 0), forward(b, 1))`, with the shared layers run once over both.
    pub fn forward_both(&self, a: &Tensor, b: &Tensor) -> (Tensor, Tensor) {
        let (o, p) = self.both(a, b, self.shared.len());
        (o.flatten(1, -1), p.flatten(1, -1))
    }

    /// `(features(a, 0), features(b, 1))`, with the shared layers run once over both.
    pub fn features_both(&self, a: &Tensor, b: &Tensor) -> (Tensor, Tensor) {
        self.both(a, b, self.shared.len().saturating_sub(1))
    }

    /// Images `a` of domain A and `b` of domain B through their own layers, then both through the
    /// first `k` shared layers in one pass (no layer here mixes examples).
    fn both(&self, a: &Tensor, b: &Tensor, k: usize) -> (Tensor, Tensor) {
        let (fa, fb) = (run(&channels_last(a), &self.front[0]), run(&channels_last(b), &self.front[1]));
        let shared = |h: Tensor| self.shared.iter().take(k).fold(h, |h, l| l.forward(&h));
        if k == 0 || fa.size()[1..] != fb.size()[1..] {
            return (shared(fa), shared(fb));
        }
        split(&shared(Tensor::cat(&[&fa, &fb], 0)), fa.size()[0])
    }

    /// The activations of images `x` of domain `side` before the 1 × 1 logit layer: the last
    /// shared layer's (`feature_channels` of them).
    pub fn features(&self, x: &Tensor, side: usize) -> Tensor {
        let h = run(&channels_last(x), &self.front[side]);
        let k = self.shared.len().saturating_sub(1);
        self.shared.iter().take(k).fold(h, |h, l| l.forward(&h))
    }

    /// The logits `forward` gives for images whose `features` are `f`: the shared 1 × 1 logit
    /// layer over them. Needs shared layers (with none, `features` are already the logits).
    pub fn logits_of_features(&self, f: &Tensor) -> Tensor {
        self.shared.last().expect("shared layers").forward(f).flatten(1, -1)
    }

    /// Channels of `features` (with shared layers).
    pub fn feature_channels(s: UnitShape) -> i64 {
        (s.d_ch << (s.d_front - 1)) << s.d_shared
    }
}

/// The first `n` rows of `x` and the rest.
pub fn split(x: &Tensor, n: i64) -> (Tensor, Tensor) {
    (x.narrow(0, 0, n), x.narrow(0, n, x.size()[0] - n))
}

/// The reference's KL term of a code with unit variance: mean(h²).
pub fn kl(h: &Tensor) -> Tensor {
    h.square().mean(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_layer_is_its_transposed_convolution() {
        // the generators' 1 × 1 output layer runs as a convolution by the transposed kernel; it
        // must give what the transposed convolution (and so the exported PyTorch module) gives
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let c = nn::conv_transpose2d(vs.root(), 6, 3, 1, Default::default());
        let x = Tensor::randn([2, 6, 5, 7], tch::kind::FLOAT_CPU);
        let want = x.apply(&c).tanh();
        let got = Layer::Out(c).forward(&x);
        assert_eq!(got.size(), vec![2, 3, 5, 7]);
        assert!((got - want).abs().max().double_value(&[]) < 1e-6);
    }
}
