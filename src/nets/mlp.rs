//! Fully connected networks: the 2014 GAN's and the 2-D toys'. Each hidden layer is
//! linear → norm → activation; maxout takes the maximum over `maxout_pieces` linear pieces.
//! A discriminator may put minibatch discrimination before its read-out.
use super::minibatch::MinibatchDiscrimination;
use super::{Critic, NormLayer, maybe};
use crate::data::Shape;
use crate::nets::{Activation, ModelConfig, Norm};
use tch::Tensor;
use tch::nn::{self, ModuleT};

type Hidden = Vec<(nn::Linear, Option<NormLayer>)>;

#[derive(Debug)]
pub struct Mlp {
    hidden: Hidden,
    widths: Vec<i64>,
    activation: Activation,
    pieces: i64,
    /// LeakyReLU's slope for x < 0.
    slope: f64,
    out: nn::Linear,
    /// Images come out through tanh, reshaped; points come out linear.
    out_image: Option<Vec<i64>>,
    squeeze: bool,
    /// Minibatch discrimination before the read-out (discriminators only).
    minibatch: Option<MinibatchDiscrimination>,
}

/// Hidden layers of `widths` after an input of `input` values under `p`; returns them and the
/// width of the last.
fn hidden_layers(
    p: &nn::Path,
    input: i64,
    widths: &[i64],
    act: Activation,
    pieces: i64,
    (norm, sync): (Norm, bool),
) -> (Hidden, i64) {
    let mut hidden = vec![];
    let mut prev = input;
    for (i, &w) in widths.iter().enumerate() {
        let k = if act == Activation::Maxout { pieces } else { 1 };
        let cfg = nn::LinearConfig { bias: norm == Norm::None || k > 1, ..Default::default() };
        let lin = nn::linear(p / format!("fc{i}"), prev, w * k, cfg);
        hidden.push((lin, NormLayer::with_sync(sync, p / format!("norm{i}"), norm, &[w * k])));
        prev = w;
    }
    (hidden, prev)
}

impl Mlp {
    pub fn generator(cfg: &ModelConfig, shape: Shape, p: nn::Path) -> Mlp {
        let (hidden, last) = hidden_layers(
            &p,
            cfg.latent_dim,
            &cfg.g_hidden,
            cfg.g_activation,
            cfg.maxout_pieces,
            (cfg.g_norm, cfg.sync_bn),
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
            slope: cfg.leaky_slope,
            out: nn::linear(&p / "out", last, shape.numel(), Default::default()),
            out_image,
            squeeze: false,
            minibatch: None,
        }
    }

    pub fn discriminator(cfg: &ModelConfig, shape: Shape, outputs: i64, p: nn::Path) -> Mlp {
        let (hidden, last) = hidden_layers(
            &p,
            shape.numel(),
            &cfg.d_hidden,
            cfg.d_activation,
            cfg.maxout_pieces,
            (cfg.d_norm, cfg.sync_bn),
        );
        let minibatch = (cfg.minibatch_kernels > 0)
            .then(|| MinibatchDiscrimination::new(&p / "minibatch", last, cfg.minibatch_kernels, cfg.minibatch_dims));
        let read =
            MinibatchDiscrimination::out_features(last, if minibatch.is_some() { cfg.minibatch_kernels } else { 0 });
        Mlp {
            hidden,
            widths: cfg.d_hidden.clone(),
            activation: cfg.d_activation,
            pieces: cfg.maxout_pieces,
            slope: cfg.leaky_slope,
            out: nn::linear(&p / "out", read, outputs, Default::default()),
            out_image: None,
            squeeze: outputs == 1,
            minibatch,
        }
    }
}

/// The activation `act` applied to a hidden layer of width `w` (LeakyReLU with `slope`).
pub fn activate(x: Tensor, act: Activation, w: i64, pieces: i64, slope: f64) -> Tensor {
    match act {
        Activation::Relu => x.relu(),
        Activation::LeakyRelu => crate::ops::leaky_relu(&x, slope),
        Activation::Softplus => x.softplus(),
        Activation::Tanh => x.tanh(),
        Activation::Maxout => x.view([-1, w, pieces]).amax([2], false),
    }
}

impl Critic for Mlp {
    fn forward_features(&self, x: &Tensor, train: bool) -> (Tensor, Vec<Tensor>) {
        let mut h = x.flatten(1, -1);
        let mut features = Vec::with_capacity(self.hidden.len());
        for ((lin, norm), &w) in self.hidden.iter().zip(&self.widths) {
            h = activate(maybe(norm, h.apply(lin), train), self.activation, w, self.pieces, self.slope);
            features.push(h.shallow_clone());
        }
        if let Some(mb) = &self.minibatch {
            h = mb.forward(&h);
        }
        let y = h.apply(&self.out);
        let y = match (&self.out_image, self.squeeze) {
            (Some(dims), _) => y.tanh().view(dims.as_slice()),
            (None, true) => y.squeeze_dim(1),
            (None, false) => y,
        };
        (y, features)
    }
}

impl ModuleT for Mlp {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.forward_features(x, train).0
    }
}

impl super::Staged for Mlp {
    fn stages(&self) -> Vec<super::Stage<'_>> {
        use super::Stage;
        let mut s = vec![Stage::new("input", |x| x.flatten(1, -1))];
        for (i, ((lin, norm), &w)) in self.hidden.iter().zip(&self.widths).enumerate() {
            s.push(Stage::new(format!("fc{i}"), move |h| {
                activate(maybe(norm, h.apply(lin), false), self.activation, w, self.pieces, self.slope)
            }));
        }
        if let Some(mb) = &self.minibatch {
            s.push(Stage::new("minibatch", |h| mb.forward(h)));
        }
        s.push(Stage::new("out", |h| {
            let y = h.apply(&self.out);
            match (&self.out_image, self.squeeze) {
                (Some(dims), _) => y.tanh().view(dims.as_slice()),
                (None, true) => y.squeeze_dim(1),
                (None, false) => y,
            }
        }));
        s
    }
}
