//! Pictures: image grids and 2-D scatter plots, written as PNG.
use crate::error::{Error, Result};
use std::path::Path;
use tch::{Kind, Tensor};

/// Writes images `[n, c, h, w]` in [−1, 1] as a grid with `ncol` columns (√n when 0).
pub fn save_grid(images: &Tensor, ncol: i64, path: &Path) -> Result<()> {
    let (n, c, h, w) = images.size4().map_err(Error::Torch)?;
    let ncol = if ncol > 0 { ncol } else { (n as f64).sqrt().ceil() as i64 };
    let nrow = (n + ncol - 1) / ncol;
    let pad = 2;
    let (gh, gw) = (nrow * (h + pad) + pad, ncol * (w + pad) + pad);
    let px = ((images.detach().to_device(tch::Device::Cpu).to_kind(Kind::Float) + 1.0) * 127.5)
        .round()
        .clamp(0.0, 255.0)
        .to_kind(Kind::Uint8)
        .permute([0, 2, 3, 1])
        .contiguous();
    let data: Vec<u8> = Vec::try_from(px.flatten(0, -1)).map_err(Error::Torch)?;
    let mut canvas = vec![0u8; (gh * gw * 3) as usize];
    for i in 0..n {
        let (r, col) = (i / ncol, i % ncol);
        for y in 0..h {
            for x in 0..w {
                let src = (((i * h + y) * w + x) * c) as usize;
                let dst = ((((r * (h + pad) + pad + y) * gw) + col * (w + pad) + pad + x) * 3) as usize;
                for k in 0..3 {
                    canvas[dst + k] = data[src + if c == 3 { k } else { 0 }];
                }
            }
        }
    }
    save_rgb(path, gw as u32, gh as u32, canvas)
}

fn save_rgb(path: &Path, w: u32, h: u32, px: Vec<u8>) -> Result<()> {
    let img = image::RgbImage::from_raw(w, h, px).expect("buffer matches size");
    img.save(path).map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))
}

/// Writes a 2-D scatter plot: `reference` points in grey under `points` in red, framed to fit
/// both with a margin.
pub fn save_scatter(points: &Tensor, reference: Option<&Tensor>, path: &Path) -> Result<()> {
    let to_vec = |t: &Tensor| -> Result<Vec<[f32; 2]>> {
        let t = t.detach().to_device(tch::Device::Cpu).to_kind(Kind::Float).contiguous();
        let v: Vec<f32> =
            Vec::try_from(t.narrow(1, 0, 2.min(t.size()[1])).contiguous().flatten(0, -1)).map_err(Error::Torch)?;
        Ok(v.chunks(2).map(|c| [c[0], *c.get(1).unwrap_or(&0.0)]).collect())
    };
    let p = to_vec(points)?;
    let r = match reference {
        Some(r) => to_vec(r)?,
        None => vec![],
    };
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for q in r.iter().chain(&p).filter(|q| q[0].is_finite() && q[1].is_finite()) {
        lo = lo.min(q[0]).min(q[1]);
        hi = hi.max(q[0]).max(q[1]);
    }
    if !lo.is_finite() {
        lo = -1.0;
        hi = 1.0;
    }
    let margin = 0.08 * (hi - lo).max(1e-3);
    let (lo, hi) = (lo - margin, hi + margin);
    let size = 512u32;
    let mut canvas = vec![255u8; (size * size * 3) as usize];
    let mut dot = |q: &[f32; 2], color: [u8; 3], radius: i64| {
        let x = ((q[0] - lo) / (hi - lo) * (size - 1) as f32) as i64;
        let y = ((hi - q[1]) / (hi - lo) * (size - 1) as f32) as i64;
        for dy in -radius..=radius {
            for dx in -radius..=radius {
                let (xx, yy) = (x + dx, y + dy);
                if xx >= 0 && yy >= 0 && xx < size as i64 && yy < size as i64 {
                    let i = ((yy * size as i64 + xx) * 3) as usize;
                    canvas[i..i + 3].copy_from_slice(&color);
                }
            }
        }
    };
    for q in &r {
        dot(q, [170, 170, 170], 1);
    }
    for q in &p {
        dot(q, [200, 30, 30], 1);
    }
    save_rgb(path, size, size, canvas)
}

/// Rows of a `[n, d]` tensor as f64 vectors.
pub fn to_rows(x: &Tensor) -> crate::error::Result<Vec<Vec<f64>>> {
    let d = x.size()[1] as usize;
    let v: Vec<f64> =
        Vec::try_from(x.to_device(tch::Device::Cpu).to_kind(tch::Kind::Double).contiguous().flatten(0, -1))
            .map_err(crate::error::Error::Torch)?;
    Ok(v.chunks(d).map(|c| c.to_vec()).collect())
}
