//! Fully connected networks: the 2014 GAN's and the 2-D toys'. Each hidden layer is
//! linear → norm → activation; maxout takes the maximum over `maxout_pieces` linear pieces.
use super::{NormLayer, maybe};
use crate::config::{Activation, ModelConfig, Norm};
use crate::data::Shape;
use tch::Tensor;
use tch::nn::{self, ModuleT};

#[derive(Debug)]
pub struct Mlp {
    hidden: Vec<(nn::Linear, Option<NormLayer>)>,
    widths: Vec<i64>,
    activation: Activation,
    pieces: i64,
    out: nn::Linear,
    /// Images come out through tanh, reshaped; points come out linear.
    out_image: Option<Vec<i64>>,
    squeeze: bool,
}

impl Mlp {
    fn build(
        p: nn::Path,
        input: i64,
        widths: &[i64],
        act: Activation,
        pieces: i64,
        norm: Norm,
        out: i64,
    ) -> (Vec<(nn::Linear, Option<NormLayer>)>, nn::Linear) {
        let mut hidden = vec![];
        let mut prev = input;
        for (i, &w) in widths.iter().enumerate() {
            let k = if act == Activation::Maxout { pieces } else { 1 };
            let lin = nn::linear(
                &p / format!("fc{i}"),
                prev,
                w * k,
                nn::LinearConfig { bias: norm == Norm::None || k > 1, ..Default::default() },
            );
            let n = NormLayer::new(&p / format!("norm{i}"), norm, &[w * k]);
            hidden.push((lin, n));
            prev = w;
        }
        (hidden, nn::linear(&p / "out", prev, out, Default::default()))
    }

    pub fn generator(cfg: &ModelConfig, shape: Shape, p: nn::Path) -> Mlp {
        let (hidden, out) = Self::build(
            p,
            cfg.latent_dim,
            &cfg.g_hidden,
            cfg.g_activation,
            cfg.maxout_pieces,
            cfg.g_norm,
            shape.numel(),
        );
        let out_image = match shape {
            Shape::Image { .. } => Some(shape.batch_dims(-1)),
            Shape::Points { .. } => None,
        };
        Mlp {
            hidden,
            widths: cfg.g_hidden.clone(),
            activation: cfg.g_activation,
            pieces: cfg.maxout_pieces,
            out,
            out_image,
            squeeze: false,
        }
    }

    pub fn discriminator(cfg: &ModelConfig, shape: Shape, outputs: i64, p: nn::Path) -> Mlp {
        let (hidden, out) =
            Self::build(p, shape.numel(), &cfg.d_hidden, cfg.d_activation, cfg.maxout_pieces, cfg.d_norm, outputs);
        Mlp {
            hidden,
            widths: cfg.d_hidden.clone(),
            activation: cfg.d_activation,
            pieces: cfg.maxout_pieces,
            out,
            out_image: None,
            squeeze: outputs == 1,
        }
    }
}

/// LeakyReLU with slope 0.2 (DCGAN's), as one fused kernel.
pub fn leaky_relu(x: &Tensor) -> Tensor {
    crate::ops::leaky_relu(x, 0.2)
}

/// The activation `act` applied to a hidden layer of width `w`.
pub fn activate(x: Tensor, act: Activation, w: i64, pieces: i64) -> Tensor {
    match act {
        Activation::Relu => x.relu(),
        Activation::LeakyRelu => leaky_relu(&x),
        Activation::Softplus => x.softplus(),
        Activation::Tanh => x.tanh(),
        Activation::Maxout => x.view([-1, w, pieces]).amax([2], false),
    }
}

impl ModuleT for Mlp {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = x.flatten(1, -1);
        for ((lin, norm), &w) in self.hidden.iter().zip(&self.widths) {
            h = activate(maybe(norm, h.apply(lin), train), self.activation, w, self.pieces);
        }
        let y = h.apply(&self.out);
        match (&self.out_image, self.squeeze) {
            (Some(dims), _) => y.tanh().view(dims.as_slice()),
            (None, true) => y.squeeze_dim(1),
            (None, false) => y,
        }
    }
}
