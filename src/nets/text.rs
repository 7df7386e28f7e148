//! The caption encoder and its image partner, trained together on a joint embedding (Reed et
//! al. 2016's deep structured joint embedding of images and text; here gantry's own small
//! networks, word- rather than character-level).
//!
//! - `Words`: word embeddings (index 0 pads) read by two GRUs, one forward and one over each
//!   caption reversed; the states after each caption's last word, concatenated, go through a
//!   linear layer to the embedding.
//! - `Pixels`: four stride-2 4×4 convolutions with leaky ReLU (32…256 channels), a linear layer
//!   to the same embedding width.
use tch::nn::{self, RNN};
use tch::{Kind, Tensor};

#[derive(Debug)]
pub struct Words {
    embed: nn::Embedding,
    forward: nn::GRU,
    backward: nn::GRU,
    out: nn::Linear,
}

impl Words {
    pub fn new(p: nn::Path, vocab: i64, word_dim: i64, hidden: i64, dim: i64) -> Words {
        let cfg = nn::RNNConfig { batch_first: true, ..Default::default() };
        Words {
            embed: nn::embedding(&p / "embed", vocab, word_dim, Default::default()),
            forward: nn::gru(&p / "forward", word_dim, hidden, cfg),
            backward: nn::gru(&p / "backward", word_dim, hidden, cfg),
            out: nn::linear(&p / "out", 2 * hidden, dim, Default::default()),
        }
    }

    /// Embeddings `[b, dim]` of word ids `[b, t]` (0 after each caption's end) whose lengths
    /// are `lens` `[b]` (each ≥ 1).
    pub fn forward(&self, ids: &Tensor, lens: &Tensor) -> Tensor {
        let (b, t) = (ids.size()[0], ids.size()[1]);
        let device = ids.device();
        let pos = Tensor::arange(t, (Kind::Int64, device)).unsqueeze(0).expand([b, t], false);
        let lens1 = lens.unsqueeze(1);
        // each caption reversed in place (its padding stays at the end)
        let rev = (&lens1 - 1 - &pos).where_self(&pos.lt_tensor(&lens1), &pos);
        let x = ids.apply(&self.embed);
        let xr = ids.gather(1, &rev, false).apply(&self.embed);
        let last = (&lens1 - 1).unsqueeze(2);
        let at_end = |out: Tensor| {
            let h = out.size()[2];
            out.gather(1, &last.expand([b, 1, h], false), false).squeeze_dim(1)
        };
        let (f, _) = self.forward.seq(&x);
        let (r, _) = self.backward.seq(&xr);
        Tensor::cat(&[at_end(f), at_end(r)], 1).apply(&self.out)
    }

    /// `forward` with each caption's length read from its ids (0 pads, every word is ≥ 1), in
    /// operations that take any batch and length, so that a trace of it (the TorchScript
    /// export) holds for every shape: the same values as `forward`.
    pub fn forward_ids(&self, ids: &Tensor) -> Tensor {
        let pos = ids.ones_like().cumsum(1, Kind::Int64) - 1;
        let last = ids.ne(0).sum_dim_intlist(1, true, Kind::Int64) - 1;
        let rev = (&last - &pos).where_self(&pos.le_tensor(&last), &pos);
        let x = ids.apply(&self.embed);
        let xr = ids.gather(1, &rev, false).apply(&self.embed);
        // a zero state shaped from the input (the RNN's own zero state fixes the batch size)
        let hidden = self.out.ws.size()[1] / 2;
        let h0 = (x.select(1, 0).narrow(1, 0, 1) * 0.0).expand([-1, hidden], false).unsqueeze(0);
        // the output after each caption's last word: exact, the other steps times 0
        let at_end = pos.eq_tensor(&last).unsqueeze(2).to_kind(Kind::Float);
        let pick = |out: Tensor| (out * &at_end).sum_dim_intlist(1, false, Kind::Float);
        let (f, _) = self.forward.seq_init(&x, &nn::GRUState(h0.shallow_clone()));
        let (r, _) = self.backward.seq_init(&xr, &nn::GRUState(h0));
        Tensor::cat(&[pick(f), pick(r)], 1).apply(&self.out)
    }
}

#[derive(Debug)]
pub struct Pixels {
    convs: Vec<nn::Conv2D>,
    out: nn::Linear,
}

impl Pixels {
    /// For `channels` × `size` images; `size` a multiple of 16.
    pub fn new(p: nn::Path, channels: i64, size: i64, dim: i64) -> Pixels {
        let mut convs = vec![];
        let mut c = channels;
        for (i, w) in [32, 64, 128, 256].into_iter().enumerate() {
            let cfg = nn::ConvConfig { stride: 2, padding: 1, ..Default::default() };
            convs.push(nn::conv2d(&p / format!("conv{i}"), c, w, 4, cfg));
            c = w;
        }
        let side = size / 16;
        Pixels { convs, out: nn::linear(&p / "out", 256 * side * side, dim, Default::default()) }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = x.shallow_clone();
        for conv in &self.convs {
            h = crate::ops::leaky_relu(&h.apply(conv), 0.2);
        }
        h.flatten(1, -1).apply(&self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn padding_does_not_change_a_captions_embedding() {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let w = Words::new(vs.root(), 10, 8, 6, 4);
        // the same caption alone and padded beside a longer one
        let alone = w.forward(&Tensor::from_slice(&[3i64, 5, 7]).view([1, 3]), &Tensor::from_slice(&[3i64]));
        let ids = Tensor::from_slice(&[3i64, 5, 7, 0, 0, 1, 2, 3, 4, 5]).view([2, 5]);
        let both = w.forward(&ids, &Tensor::from_slice(&[3i64, 5]));
        let d = (both.get(0) - alone.get(0)).abs().max().double_value(&[]);
        assert!(d < 1e-6, "{d}");
        // the length-free form gives the same values
        let free = w.forward_ids(&ids);
        assert_eq!((free - &both).abs().max().double_value(&[]), 0.0);
        // and word order matters
        let swapped = w.forward(&Tensor::from_slice(&[7i64, 5, 3]).view([1, 3]), &Tensor::from_slice(&[3i64]));
        assert!((swapped - alone).abs().max().double_value(&[]) > 1e-4);
    }
}
