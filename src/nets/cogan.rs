//! CoGAN's coupled networks (Liu & Tuzel 2016; the authors' PyTorch MNIST code), two of each
//! whose layers may be one set of parameters:
//! - generators, z → 28 × 28: transposed conv 4 (z → c₀) at 4 × 4, then three transposed conv 3
//!   stride 2 (c₁, c₂, c₃) at 7, 13, 25, each batch norm without affine parameters + PReLU, then
//!   a transposed conv 6 (padding 1) to the image at 28 × 28, a sigmoid (here 2σ − 1, for pixels
//!   in [−1, 1]). The first `shared` of these five layers are one module both domains run
//!   (the reference shares the first four); the rest are each domain's own.
//! - discriminators, 28 × 28 → a logit: conv 5 (d₀) + max-pool 2, conv 5 (d₁) + max-pool 2,
//!   conv 4 (d₂) + PReLU, conv 1 → one logit. The last `shared` of these four layers are one
//!   module (the reference shares the last three; its two-way softmax is one logit here).
//!
//! Other square sides from 25 to 40 take a last generator kernel of side − 22 and give the
//! discriminators a small map of logits. A shared layer's variables live once, under
//! `shared.lN`; a domain's own under `a.lN` / `b.lN`.
use tch::Tensor;
use tch::nn::{self, Module, ModuleT};

/// Layers of each generator and each discriminator.
pub const G_LAYERS: i64 = 5;
pub const D_LAYERS: i64 = 4;

/// Image sides the networks take.
pub const SIDES: std::ops::RangeInclusive<i64> = 25..=40;

#[derive(Debug)]
struct PRelu(Tensor);

impl PRelu {
    fn new(p: nn::Path) -> PRelu {
        PRelu(p.var("weight", &[1], nn::Init::Const(0.25)))
    }
}

impl Module for PRelu {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.prelu(&self.0)
    }
}

/// One generator layer: transposed conv, then batch norm + PReLU (all but the last).
#[derive(Debug)]
struct GLayer {
    conv: nn::ConvTranspose2D,
    act: Option<(nn::BatchNorm, PRelu)>,
}

impl ModuleT for GLayer {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let h = x.apply(&self.conv);
        match &self.act {
            Some((bn, pr)) => h.apply_t(bn, train).apply(pr),
            None => h.sigmoid() * 2.0 - 1.0,
        }
    }
}

fn g_layer(p: nn::Path, i: i64, cin: i64, cout: i64, side: i64) -> GLayer {
    let (k, stride, padding) = match i {
        0 => (4, 1, 0),
        4 => (side - 22, 1, 1),
        _ => (3, 2, 1),
    };
    let conv = nn::conv_transpose2d(
        &p / "conv",
        cin,
        cout,
        k,
        nn::ConvTransposeConfig { stride, padding, ..Default::default() },
    );
    let act = (i < G_LAYERS - 1).then(|| {
        let bn = nn::batch_norm2d(&p / "norm", cout, nn::BatchNormConfig { affine: false, ..Default::default() });
        (bn, PRelu::new(&p / "prelu"))
    });
    GLayer { conv, act }
}

/// One discriminator layer.
#[derive(Debug)]
struct DLayer {
    conv: nn::Conv2D,
    pool: bool,
    prelu: Option<PRelu>,
}

impl Module for DLayer {
    fn forward(&self, x: &Tensor) -> Tensor {
        let h = x.apply(&self.conv);
        let h = if self.pool { h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false) } else { h };
        match &self.prelu {
            Some(p) => h.apply(p),
            None => h,
        }
    }
}

fn d_layer(p: nn::Path, i: i64, cin: i64, cout: i64) -> DLayer {
    let k = [5, 5, 4, 1][i as usize];
    let conv = nn::conv2d(&p / "conv", cin, cout, k, Default::default());
    DLayer { conv, pool: i < 2, prelu: (i == 2).then(|| PRelu::new(&p / "prelu")) }
}

/// Layers of a coupled pair: the shared ones, then each domain's own, in order of use.
#[derive(Debug)]
pub struct Coupled<L> {
    /// Layer indices below `split` (generators) or from `split` on (discriminators) are shared.
    pub shared: Vec<L>,
    pub own: [Vec<L>; 2],
}

/// The coupled generators.
#[derive(Debug)]
pub struct CoGenerator {
    layers: Coupled<GLayer>,
}

impl CoGenerator {
    /// `channels` are c₀…c₃; `out` the channels of domains A and B.
    pub fn new(p: &nn::Path, z_dim: i64, channels: [i64; 4], out: (i64, i64), side: i64, shared: i64) -> CoGenerator {
        let widths = |o: i64| [z_dim, channels[0], channels[1], channels[2], channels[3], o];
        let (wa, wb) = (widths(out.0), widths(out.1));
        let shared_layers = (0..shared)
            .map(|i| g_layer(p / "shared" / format!("l{i}"), i, wa[i as usize], wa[i as usize + 1], side))
            .collect();
        let own = |name: &str, w: [i64; 6]| -> Vec<GLayer> {
            (shared..G_LAYERS)
                .map(|i| g_layer(p / name / format!("l{i}"), i, w[i as usize], w[i as usize + 1], side))
                .collect()
        };
        CoGenerator { layers: Coupled { shared: shared_layers, own: [own("a", wa), own("b", wb)] } }
    }

    /// Images of domains A and B for latents `z` [n, z_dim].
    pub fn forward_pair(&self, z: &Tensor, train: bool) -> (Tensor, Tensor) {
        // the batch left to -1, so a traced export takes any batch size
        let mut h = z.view([-1, z.size()[1], 1, 1]);
        for l in &self.layers.shared {
            h = l.forward_t(&h, train);
        }
        let run = |own: &[GLayer]| own.iter().fold(h.shallow_clone(), |x, l| l.forward_t(&x, train));
        (run(&self.layers.own[0]), run(&self.layers.own[1]))
    }
}

/// The pair as one tensor `[2, n, c, h, w]` (A, then B), the narrower domain's channels repeated
/// to the wider's: what `gantry export` writes.
pub fn stack_pair(a: Tensor, b: Tensor) -> Tensor {
    let c = a.size()[1].max(b.size()[1]);
    let widen = |x: Tensor| if x.size()[1] < c { x.repeat([1, c, 1, 1]) } else { x };
    Tensor::stack(&[widen(a), widen(b)], 0)
}

impl super::Staged for CoGenerator {
    /// From latents to the stacked pair (`stack_pair`): the shared layers, then each domain's own
    /// layer of the same depth side by side on the stacked pair.
    fn stages(&self) -> Vec<super::Stage<'_>> {
        use super::Stage;
        let mut s = vec![Stage::new("input", |z| z.view([-1, z.size()[1], 1, 1]))];
        let first = self.layers.shared.len();
        for (i, l) in self.layers.shared.iter().enumerate() {
            s.push(Stage::new(format!("shared.l{i}"), move |h| l.forward_t(h, false)));
        }
        s.push(Stage::new("split", |h| Tensor::stack(&[h, h], 0)));
        let own = &self.layers.own;
        for (k, (la, lb)) in own[0].iter().zip(&own[1]).enumerate() {
            let i = first + k;
            s.push(Stage::new(format!("a.l{i} and b.l{i}"), move |pair| {
                stack_pair(la.forward_t(&pair.get(0), false), lb.forward_t(&pair.get(1), false))
            }));
        }
        s
    }
}

/// The coupled discriminators.
#[derive(Debug)]
pub struct CoDiscriminator {
    layers: Coupled<DLayer>,
}

impl CoDiscriminator {
    /// `channels` are d₀…d₂; `input` the channels of domains A and B.
    pub fn new(p: &nn::Path, channels: [i64; 3], input: (i64, i64), shared: i64) -> CoDiscriminator {
        let widths = |c: i64| [c, channels[0], channels[1], channels[2], 1];
        let first_shared = D_LAYERS - shared;
        let own = |name: &str, w: [i64; 5]| -> Vec<DLayer> {
            (0..first_shared)
                .map(|i| d_layer(p / name / format!("l{i}"), i, w[i as usize], w[i as usize + 1]))
                .collect()
        };
        let w = widths(input.0);
        debug_assert!(first_shared >= 1, "the first layer reads each domain's own image");
        let shared_layers = (first_shared..D_LAYERS)
            .map(|i| d_layer(p / "shared" / format!("l{i}"), i, w[i as usize], w[i as usize + 1]))
            .collect();
        CoDiscriminator {
            layers: Coupled { shared: shared_layers, own: [own("a", widths(input.0)), own("b", widths(input.1))] },
        }
    }

    /// The layers images of domain `side` (0 = A, 1 = B) pass, first to last.
    fn path(&self, side: usize) -> impl Iterator<Item = &DLayer> {
        self.layers.own[side].iter().chain(&self.layers.shared)
    }

    /// The activations of images `x` of domain `side` before the last layer (d₂ channels).
    pub fn features(&self, x: &Tensor, side: usize) -> Tensor {
        self.path(side).take(D_LAYERS as usize - 1).fold(x.shallow_clone(), |h, l| l.forward(&h))
    }

    /// Logits `[n, k]` of images of domain `side` (k = 1 at 28 × 28).
    pub fn forward(&self, x: &Tensor, side: usize) -> Tensor {
        let last = self.path(side).last().expect("four layers");
        last.forward(&self.features(x, side)).flatten(1, -1)
    }

    /// Logits of images of A and of B.
    pub fn forward_pair(&self, a: &Tensor, b: &Tensor) -> (Tensor, Tensor) {
        (self.forward(a, 0), self.forward(b, 1))
    }
}

/// The reference's initialisation: Xavier-uniform weights with gain √2 on every convolution,
/// biases 0.1 (PReLU slopes keep their 0.25).
pub fn initialise(vs: &nn::VarStore) {
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    tch::no_grad(|| {
        for (name, mut t) in vars {
            if !name.contains(".conv.") {
                continue;
            }
            if name.ends_with(".bias") {
                let _ = t.fill_(0.1);
            } else {
                // fan_in = in·k·k, fan_out = out·k·k for either kind of convolution
                let s = t.size();
                let rf: i64 = s[2..].iter().product();
                let (fan_a, fan_b) = (s[0] * rf, s[1] * rf);
                let bound = 2f64.sqrt() * (6.0 / (fan_a + fan_b) as f64).sqrt();
                let _ = t.uniform_(-bound, bound);
            }
        }
    });
}
