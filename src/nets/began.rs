//! BEGAN's networks (Berthelot et al. 2017, as the carpedm20/BEGAN-tensorflow code builds
//! them): no batch norm, ELU after every hidden convolution, 3×3 kernels throughout.
//!
//! - Decoder (the generator, and the second half of the discriminator): FC h → s₀×s₀×n, then
//!   per level two conv3 of n channels, nearest-neighbour ×2 between levels, and a last conv3 to
//!   the image's channels with no activation.
//! - Encoder: conv3 n, then per level ℓ = 1…L two conv3 of n·ℓ channels and, between levels, a
//!   stride-2 conv3 that keeps them; FC → h.
//! - The discriminator is the autoencoder D(x) = decoder(encoder(x)).
//!
//! The image side is s₀·2^(L−1): 64 = 8·2³ (L = 4, the reference), 32 = 8·2², 28 = 7·2².
//! Weights are Xavier-uniform and biases 0, TF-Slim's defaults.
//!
//! `DcganAutoEncoder` is the discriminator of BEGAN on the DCGAN networks, as Lucic et al. (2018)
//! build it to compare losses on one architecture: the DCGAN discriminator's convolutions (no
//! norm) read out to the code h, and a DCGAN generator's layers (no norm, linear last layer)
//! decode it.
use crate::error::{Error, Result};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// (levels, start side) for an image side: the start side is 4 to 8, halved from the image's.
pub fn plan(side: i64) -> Result<(i64, i64)> {
    let mut levels = 1;
    let mut s = side;
    while s > 8 && s % 2 == 0 {
        s /= 2;
        levels += 1;
    }
    if !(4..=8).contains(&s) || levels < 2 || side > 256 {
        return Err(Error::Config(format!(
            "BEGAN networks need an image side of 4 to 8 times a power of two, from 8 to 256 pixels (28, 32, 64 and 128 work), not {side}; set data.image_size"
        )));
    }
    Ok((levels, s))
}

fn conv(p: nn::Path, c_in: i64, c_out: i64, stride: i64) -> nn::Conv2D {
    nn::conv2d(p, c_in, c_out, 3, nn::ConvConfig { stride, padding: 1, ..Default::default() })
}

pub struct Decoder {
    fc: nn::Linear,
    convs: Vec<(nn::Conv2D, nn::Conv2D)>,
    out: nn::Conv2D,
    width: i64,
    start: i64,
}

impl Decoder {
    pub fn new(p: &nn::Path, hidden: i64, width: i64, channels: i64, side: i64) -> Result<Decoder> {
        let (levels, start) = plan(side)?;
        let fc = nn::linear(p / "fc", hidden, start * start * width, Default::default());
        let convs = (0..levels)
            .map(|l| {
                let q = p / format!("l{l}");
                (conv(&q / "conv0", width, width, 1), conv(&q / "conv1", width, width, 1))
            })
            .collect();
        let out = conv(p / "out", width, channels, 1);
        Ok(Decoder { fc, convs, out, width, start })
    }

    pub fn forward(&self, h: &Tensor) -> Tensor {
        let mut x = self.fc.forward(h).view([-1, self.width, self.start, self.start]);
        for (i, (a, b)) in self.convs.iter().enumerate() {
            x = b.forward(&a.forward(&x).elu()).elu();
            if i + 1 < self.convs.len() {
                let s = x.size();
                x = x.upsample_nearest2d([s[2] * 2, s[3] * 2], None, None);
            }
        }
        self.out.forward(&x)
    }
}

impl super::Staged for Decoder {
    fn stages(&self) -> Vec<super::Stage<'_>> {
        use super::Stage;
        let mut s = vec![Stage::new("fc", |h| self.fc.forward(h).view([-1, self.width, self.start, self.start]))];
        for (i, (a, b)) in self.convs.iter().enumerate() {
            let last = i + 1 == self.convs.len();
            s.push(Stage::new(format!("l{i}"), move |x| {
                let x = b.forward(&a.forward(x).elu()).elu();
                if last {
                    return x;
                }
                let s = x.size();
                x.upsample_nearest2d([s[2] * 2, s[3] * 2], None, None)
            }));
        }
        s.push(Stage::new("out", |x| self.out.forward(x)));
        s
    }
}

pub struct Encoder {
    first: nn::Conv2D,
    /// Per level: two convolutions, and the stride-2 one that follows all but the last.
    levels: Vec<(nn::Conv2D, nn::Conv2D, Option<nn::Conv2D>)>,
    fc: nn::Linear,
}

impl Encoder {
    pub fn new(p: &nn::Path, hidden: i64, width: i64, channels: i64, side: i64) -> Result<Encoder> {
        let (levels, start) = plan(side)?;
        let first = conv(p / "first", channels, width, 1);
        let mut prev = width;
        let mut ls = vec![];
        for l in 0..levels {
            let q = p / format!("l{l}");
            let c = width * (l + 1);
            let down = (l + 1 < levels).then(|| conv(&q / "down", c, c, 2));
            ls.push((conv(&q / "conv0", prev, c, 1), conv(&q / "conv1", c, c, 1), down));
            prev = c;
        }
        let fc = nn::linear(p / "fc", start * start * prev, hidden, Default::default());
        Ok(Encoder { first, levels: ls, fc })
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut x = self.first.forward(x).elu();
        for (a, b, down) in &self.levels {
            x = b.forward(&a.forward(&x).elu()).elu();
            if let Some(d) = down {
                x = d.forward(&x).elu();
            }
        }
        self.fc.forward(&x.flatten(1, -1))
    }
}

/// The discriminator: an autoencoder of images.
pub struct AutoEncoder {
    pub encoder: Encoder,
    pub decoder: Decoder,
}

impl AutoEncoder {
    pub fn new(p: &nn::Path, hidden: i64, width: i64, channels: i64, side: i64) -> Result<AutoEncoder> {
        Ok(AutoEncoder {
            encoder: Encoder::new(&(p / "enc"), hidden, width, channels, side)?,
            decoder: Decoder::new(&(p / "dec"), hidden, width, channels, side)?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.decoder.forward(&self.encoder.forward(x))
    }

    /// Each example's reconstruction error mean|D(x) − x| over its pixels, `[n]`.
    pub fn errors(&self, x: &Tensor) -> Tensor {
        (self.forward(x) - x).abs().flatten(1, -1).mean_dim(1, false, Kind::Float)
    }
}

/// BEGAN's discriminator on the DCGAN networks: encoder = the DCGAN discriminator's layers with
/// no norm and a read-out of `hidden` values (the code h); decoder = the DCGAN generator's layers
/// from h with no norm and a linear last layer. No norm anywhere, so the rows of a batch are
/// independent and one pass over [G(z); x] scores each image alone, as in `AutoEncoder`.
pub struct DcganAutoEncoder {
    pub encoder: super::dcgan::Discriminator,
    pub decoder: super::dcgan::Generator,
}

impl DcganAutoEncoder {
    /// `width`: the DCGAN networks' base channels.
    pub fn new(p: &nn::Path, hidden: i64, width: i64, shape: crate::data::Shape) -> Result<DcganAutoEncoder> {
        let m = super::ModelConfig {
            base_channels: width,
            latent_dim: hidden,
            g_norm: super::Norm::None,
            d_norm: super::Norm::None,
            ..Default::default()
        };
        Ok(DcganAutoEncoder {
            encoder: super::dcgan::Discriminator::new(&m, shape, hidden, 0, 0, p / "enc")?,
            decoder: super::dcgan::Generator::decoder(&m, shape, p / "dec")?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        use super::Critic;
        use tch::nn::ModuleT;
        let (h, _) = self.encoder.forward_features(x, true);
        let h = if h.dim() == 1 { h.unsqueeze(1) } else { h }; // a code of one value is read out squeezed
        self.decoder.forward_t(&h, true)
    }

    /// Each example's reconstruction error mean|D(x) − x| over its pixels, `[n]`.
    pub fn errors(&self, x: &Tensor) -> Tensor {
        (self.forward(x) - x).abs().flatten(1, -1).mean_dim(1, false, Kind::Float)
    }
}

/// Xavier-uniform weights (gain 1) and zero biases for every layer of a store.
pub fn initialise(vs: &nn::VarStore) {
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    tch::no_grad(|| {
        for (name, mut t) in vars {
            if name.ends_with(".bias") {
                let _ = t.zero_();
            } else {
                // fan_in + fan_out is the same for [out, in] and [out, in, k, k] read either way
                let s = t.size();
                let rf: i64 = s[2..].iter().product();
                let bound = (6.0 / ((s[0] + s[1]) * rf) as f64).sqrt();
                let _ = t.uniform_(-bound, bound);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn plans_of_the_usual_sides() {
        assert_eq!(plan(64).unwrap(), (4, 8));
        assert_eq!(plan(32).unwrap(), (3, 8));
        assert_eq!(plan(28).unwrap(), (3, 7));
        assert_eq!(plan(128).unwrap(), (5, 8));
        assert!(plan(30).is_err() && plan(512).is_err() && plan(6).is_err());
    }

    #[test]
    fn shapes_and_the_reference_layout() {
        let vs = nn::VarStore::new(Device::Cpu);
        let d = AutoEncoder::new(&vs.root(), 64, 16, 1, 28).unwrap();
        let x = Tensor::rand([3, 1, 28, 28], (Kind::Float, Device::Cpu));
        assert_eq!(d.encoder.forward(&x).size(), [3, 64]);
        assert_eq!(d.forward(&x).size(), [3, 1, 28, 28]);
        assert_eq!(d.errors(&x).size(), [3]);
        let vars = vs.variables();
        // encoder widths n, 2n, 3n (the stride-2 convs keep them), FC from 7·7·3n
        assert_eq!(vars["enc.l2.conv0.weight"].size(), [48, 32, 3, 3]);
        assert_eq!(vars["enc.l1.down.weight"].size(), [32, 32, 3, 3]);
        assert!(!vars.contains_key("enc.l2.down.weight"));
        assert_eq!(vars["enc.fc.weight"].size(), [64, 7 * 7 * 48]);
        assert_eq!(vars["dec.fc.weight"].size(), [7 * 7 * 16, 64]);
        assert_eq!(vars["dec.out.weight"].size(), [1, 16, 3, 3]);
    }
}
