//! Inception-v3 as the standard FID computes it: the variant pytorch-fid ports from
//! TensorFlow's 2015-12-05 graph ("pt_inception-2015-12-05"), with its FID-specific blocks
//! (average pools that exclude padding; a max pool in the last block's pool branch) and 1008
//! output classes. Variable names follow torchvision's, so pytorch-fid's state dict loads once
//! converted to safetensors (`scripts/convert_inception.py`). Input: images in [−1, 1], any size,
//! resized bilinearly to 299×299 as pytorch-fid does; output: the 2048 pool features and the
//! 1008 logits.
use tch::Tensor;
use tch::nn::{self, ModuleT};

/// Conv (no bias) + batch norm (ε = 0.001) + ReLU, torchvision's BasicConv2d.
#[derive(Debug)]
struct Basic {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
}

fn basic(p: nn::Path, cin: i64, cout: i64, k: [i64; 2], stride: i64, pad: [i64; 2]) -> Basic {
    let cfg = nn::ConvConfigND::<[i64; 2]> {
        stride: [stride, stride],
        padding: pad,
        dilation: [1, 1],
        groups: 1,
        bias: false,
        ws_init: nn::Init::Const(0.0),
        bs_init: nn::Init::Const(0.0),
        padding_mode: nn::PaddingMode::Zeros,
    };
    let conv = nn::conv(&p / "conv", cin, cout, k, cfg);
    let bn = nn::batch_norm2d(&p / "bn", cout, nn::BatchNormConfig { eps: 0.001, ..Default::default() });
    Basic { conv, bn }
}

fn sq(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64, pad: i64) -> Basic {
    basic(p, cin, cout, [k, k], stride, [pad, pad])
}

impl Basic {
    fn f(&self, x: &Tensor) -> Tensor {
        x.apply(&self.conv).apply_t(&self.bn, false).relu()
    }
}

fn avg3(x: &Tensor) -> Tensor {
    // count_include_pad = false: pytorch-fid's correction to torchvision's blocks
    x.avg_pool2d([3, 3], [1, 1], [1, 1], false, false, None::<i64>)
}

fn max3s2(x: &Tensor) -> Tensor {
    x.max_pool2d([3, 3], [2, 2], [0, 0], [1, 1], false)
}

#[derive(Debug)]
struct A {
    b1: Basic,
    b5_1: Basic,
    b5_2: Basic,
    d1: Basic,
    d2: Basic,
    d3: Basic,
    pool: Basic,
}

fn block_a(p: nn::Path, cin: i64, pool: i64) -> A {
    A {
        b1: sq(&p / "branch1x1", cin, 64, 1, 1, 0),
        b5_1: sq(&p / "branch5x5_1", cin, 48, 1, 1, 0),
        b5_2: sq(&p / "branch5x5_2", 48, 64, 5, 1, 2),
        d1: sq(&p / "branch3x3dbl_1", cin, 64, 1, 1, 0),
        d2: sq(&p / "branch3x3dbl_2", 64, 96, 3, 1, 1),
        d3: sq(&p / "branch3x3dbl_3", 96, 96, 3, 1, 1),
        pool: sq(&p / "branch_pool", cin, pool, 1, 1, 0),
    }
}

impl A {
    fn f(&self, x: &Tensor) -> Tensor {
        Tensor::cat(
            &[self.b1.f(x), self.b5_2.f(&self.b5_1.f(x)), self.d3.f(&self.d2.f(&self.d1.f(x))), self.pool.f(&avg3(x))],
            1,
        )
    }
}

#[derive(Debug)]
struct B {
    b3: Basic,
    d1: Basic,
    d2: Basic,
    d3: Basic,
}

fn block_b(p: nn::Path, cin: i64) -> B {
    B {
        b3: sq(&p / "branch3x3", cin, 384, 3, 2, 0),
        d1: sq(&p / "branch3x3dbl_1", cin, 64, 1, 1, 0),
        d2: sq(&p / "branch3x3dbl_2", 64, 96, 3, 1, 1),
        d3: sq(&p / "branch3x3dbl_3", 96, 96, 3, 2, 0),
    }
}

impl B {
    fn f(&self, x: &Tensor) -> Tensor {
        Tensor::cat(&[self.b3.f(x), self.d3.f(&self.d2.f(&self.d1.f(x))), max3s2(x)], 1)
    }
}

#[derive(Debug)]
struct C {
    b1: Basic,
    s: [Basic; 3],
    d: [Basic; 5],
    pool: Basic,
}

fn block_c(p: nn::Path, cin: i64, c7: i64) -> C {
    let row = |p: nn::Path, i: i64, o: i64| basic(p, i, o, [1, 7], 1, [0, 3]);
    let col = |p: nn::Path, i: i64, o: i64| basic(p, i, o, [7, 1], 1, [3, 0]);
    C {
        b1: sq(&p / "branch1x1", cin, 192, 1, 1, 0),
        s: [
            sq(&p / "branch7x7_1", cin, c7, 1, 1, 0),
            row(&p / "branch7x7_2", c7, c7),
            col(&p / "branch7x7_3", c7, 192),
        ],
        d: [
            sq(&p / "branch7x7dbl_1", cin, c7, 1, 1, 0),
            col(&p / "branch7x7dbl_2", c7, c7),
            row(&p / "branch7x7dbl_3", c7, c7),
            col(&p / "branch7x7dbl_4", c7, c7),
            row(&p / "branch7x7dbl_5", c7, 192),
        ],
        pool: sq(&p / "branch_pool", cin, 192, 1, 1, 0),
    }
}

fn chain(layers: &[Basic], x: &Tensor) -> Tensor {
    layers.iter().fold(x.shallow_clone(), |h, l| l.f(&h))
}

impl C {
    fn f(&self, x: &Tensor) -> Tensor {
        Tensor::cat(&[self.b1.f(x), chain(&self.s, x), chain(&self.d, x), self.pool.f(&avg3(x))], 1)
    }
}

#[derive(Debug)]
struct D {
    b3: [Basic; 2],
    b7: [Basic; 4],
}

fn block_d(p: nn::Path, cin: i64) -> D {
    D {
        b3: [sq(&p / "branch3x3_1", cin, 192, 1, 1, 0), sq(&p / "branch3x3_2", 192, 320, 3, 2, 0)],
        b7: [
            sq(&p / "branch7x7x3_1", cin, 192, 1, 1, 0),
            basic(&p / "branch7x7x3_2", 192, 192, [1, 7], 1, [0, 3]),
            basic(&p / "branch7x7x3_3", 192, 192, [7, 1], 1, [3, 0]),
            sq(&p / "branch7x7x3_4", 192, 192, 3, 2, 0),
        ],
    }
}

impl D {
    fn f(&self, x: &Tensor) -> Tensor {
        Tensor::cat(&[chain(&self.b3, x), chain(&self.b7, x), max3s2(x)], 1)
    }
}

#[derive(Debug)]
struct E {
    b1: Basic,
    b3_1: Basic,
    b3_2a: Basic,
    b3_2b: Basic,
    d1: Basic,
    d2: Basic,
    d3a: Basic,
    d3b: Basic,
    pool: Basic,
    /// FIDInceptionE_2 pools with a max, FIDInceptionE_1 with an average excluding padding.
    max_pool: bool,
}

fn block_e(p: nn::Path, cin: i64, max_pool: bool) -> E {
    E {
        b1: sq(&p / "branch1x1", cin, 320, 1, 1, 0),
        b3_1: sq(&p / "branch3x3_1", cin, 384, 1, 1, 0),
        b3_2a: basic(&p / "branch3x3_2a", 384, 384, [1, 3], 1, [0, 1]),
        b3_2b: basic(&p / "branch3x3_2b", 384, 384, [3, 1], 1, [1, 0]),
        d1: sq(&p / "branch3x3dbl_1", cin, 448, 1, 1, 0),
        d2: sq(&p / "branch3x3dbl_2", 448, 384, 3, 1, 1),
        d3a: basic(&p / "branch3x3dbl_3a", 384, 384, [1, 3], 1, [0, 1]),
        d3b: basic(&p / "branch3x3dbl_3b", 384, 384, [3, 1], 1, [1, 0]),
        pool: sq(&p / "branch_pool", cin, 192, 1, 1, 0),
        max_pool,
    }
}

impl E {
    fn f(&self, x: &Tensor) -> Tensor {
        let b3 = self.b3_1.f(x);
        let b3 = Tensor::cat(&[self.b3_2a.f(&b3), self.b3_2b.f(&b3)], 1);
        let d = self.d2.f(&self.d1.f(x));
        let d = Tensor::cat(&[self.d3a.f(&d), self.d3b.f(&d)], 1);
        let pooled = if self.max_pool { x.max_pool2d([3, 3], [1, 1], [1, 1], [1, 1], false) } else { avg3(x) };
        Tensor::cat(&[self.b1.f(x), b3, d, self.pool.f(&pooled)], 1)
    }
}

/// pytorch-fid's FID Inception-v3.
#[derive(Debug)]
pub struct FidInception {
    stem: [Basic; 5],
    a: [A; 3],
    b: B,
    c: [C; 4],
    d: D,
    e: [E; 2],
    fc: nn::Linear,
}

impl FidInception {
    pub fn new(p: nn::Path) -> FidInception {
        FidInception {
            stem: [
                sq(&p / "Conv2d_1a_3x3", 3, 32, 3, 2, 0),
                sq(&p / "Conv2d_2a_3x3", 32, 32, 3, 1, 0),
                sq(&p / "Conv2d_2b_3x3", 32, 64, 3, 1, 1),
                sq(&p / "Conv2d_3b_1x1", 64, 80, 1, 1, 0),
                sq(&p / "Conv2d_4a_3x3", 80, 192, 3, 1, 0),
            ],
            a: [
                block_a(&p / "Mixed_5b", 192, 32),
                block_a(&p / "Mixed_5c", 256, 64),
                block_a(&p / "Mixed_5d", 288, 64),
            ],
            b: block_b(&p / "Mixed_6a", 288),
            c: [
                block_c(&p / "Mixed_6b", 768, 128),
                block_c(&p / "Mixed_6c", 768, 160),
                block_c(&p / "Mixed_6d", 768, 160),
                block_c(&p / "Mixed_6e", 768, 192),
            ],
            d: block_d(&p / "Mixed_7a", 768),
            e: [block_e(&p / "Mixed_7b", 1280, false), block_e(&p / "Mixed_7c", 2048, true)],
            fc: nn::linear(&p / "fc", 2048, 1008, Default::default()),
        }
    }

    /// (pool features `[n, 2048]`, logits `[n, 1008]`) of images in [−1, 1].
    pub fn features_logits(&self, x: &Tensor) -> (Tensor, Tensor) {
        let x = if x.size()[1] == 1 { x.repeat([1, 3, 1, 1]) } else { x.shallow_clone() };
        // pytorch-fid: input in [0, 1] → bilinear resize to 299 → 2x − 1; on [−1, 1] the affine
        // maps cancel around the (linear) resize.
        let x = x.upsample_bilinear2d([299, 299], false, None, None);
        let [s1, s2, s3, s4, s5] = &self.stem;
        let h = max3s2(&s3.f(&s2.f(&s1.f(&x)))); // [n, 64, 73, 73]
        let h = max3s2(&s5.f(&s4.f(&h))); // [n, 192, 35, 35]
        let h = self.a.iter().fold(h, |h, b| b.f(&h)); // [n, 288, 35, 35]
        let h = self.b.f(&h); // [n, 768, 17, 17]
        let h = self.c.iter().fold(h, |h, b| b.f(&h));
        let h = self.d.f(&h); // [n, 1280, 8, 8]
        let h = self.e.iter().fold(h, |h, b| b.f(&h)); // [n, 2048, 8, 8]
        let pool = h.adaptive_avg_pool2d([1, 1]).flatten(1, -1); // [n, 2048]
        let logits = pool.apply(&self.fc);
        (pool, logits)
    }
}

impl ModuleT for FidInception {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        self.features_logits(x).1
    }
}
