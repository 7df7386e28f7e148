//! What the two-generator translation methods (CycleGAN, DiscoGAN) share: the progress grid of
//! real A | A → B | A → B → A | real B | B → A | B → A → B rows, or for point domains a scatter
//! of A's points mapped into B over B's points.
use super::{Direction, Translator};
use crate::data::Data;
use crate::data::unpaired::Side;
use crate::error::Result;
use crate::viz;
use std::path::Path;
use tch::{Device, Tensor};

/// The first training images of each domain (at most 8), A then B, with grey images repeated
/// to the wider domain's channels so both fit one tensor.
pub fn grid_inputs(data: &Data, n: i64) -> Tensor {
    let d = data.two();
    if d.is_points() {
        // 512 points of each domain (the first of the training files)
        return Tensor::cat(&[d.fixed(Side::A, 512), d.fixed(Side::B, 512)], 0);
    }
    let k = n.clamp(1, 8);
    let c = d.channels(Side::A).max(d.channels(Side::B));
    let widen = |x: Tensor| if x.size()[1] < c { x.repeat([1, c, 1, 1]) } else { x };
    Tensor::cat(&[widen(d.fixed(Side::A, k)), widen(d.fixed(Side::B, k))], 0)
}

/// Writes rows of real A | fake B | reconstructed A | real B | fake A | reconstructed B for the
/// inputs of `grid_inputs`.
pub fn write_grid(t: &dyn Translator, inputs: &Tensor, path: &Path) -> Result<()> {
    if inputs.dim() == 2 {
        let n = inputs.size()[0] / 2;
        let mapped = t.translate(&inputs.narrow(0, 0, n), Direction::AtoB);
        return viz::save_scatter(
            &mapped.to_device(Device::Cpu),
            Some(&inputs.narrow(0, n, n).to_device(Device::Cpu)),
            path,
        );
    }
    let k = inputs.size()[0] / 2;
    let c = inputs.size()[1];
    let (ca, cb) = t.channels(Direction::AtoB);
    let a = inputs.narrow(0, 0, k).narrow(1, 0, ca);
    let b = inputs.narrow(0, k, k).narrow(1, 0, cb);
    let fake_b = t.translate(&a, Direction::AtoB);
    let rec_a = t.translate(&fake_b, Direction::BtoA);
    let fake_a = t.translate(&b, Direction::BtoA);
    let rec_b = t.translate(&fake_a, Direction::AtoB);
    let widen = |x: &Tensor| if x.size()[1] < c { x.repeat([1, c, 1, 1]) } else { x.shallow_clone() };
    let cols = [&a, &fake_b, &rec_a, &b, &fake_a, &rec_b].map(|x| widen(x).to_device(Device::Cpu));
    let rows: Vec<Tensor> = (0..k).flat_map(|i| cols.iter().map(move |x| x.narrow(0, i, 1))).collect();
    viz::save_grid(&Tensor::cat(&rows, 0), 6, path)
}
