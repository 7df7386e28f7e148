//! Reading a folder of PNG/JPEG images as a batch in [−1, 1], so that any tool's samples can be
//! scored with gantry's yardstick.
use crate::error::{Error, Result};
use std::path::Path;
use tch::Tensor;

/// All `.png`, `.jpg` and `.jpeg` files of `dir` (not recursive), sorted by name, as
/// `[n, channels, h, w]`. Colour images are reduced to grey when `channels` is 1 and grey ones
/// repeated when it is 3. Every image must have the same size.
pub fn read(dir: &Path, channels: i64) -> Result<Tensor> {
    let bad = |msg: String| Error::Data { path: dir.to_path_buf(), msg };
    let entries = std::fs::read_dir(dir).map_err(crate::error::io_err(dir))?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(bad("holds no .png or .jpg images".into()));
    }
    let mut size = None;
    let mut data: Vec<u8> = vec![];
    for f in &files {
        let img = crate::data::unpaired::open_image(f)?;
        let (w, h) = (img.width(), img.height());
        match size {
            None => size = Some((w, h, f.clone())),
            Some((w0, h0, ref first)) if (w0, h0) != (w, h) => {
                return Err(bad(format!(
                    "images differ in size: {} is {w0}x{h0} but {} is {w}x{h}; resize them to one size first",
                    first.display(),
                    f.display()
                )));
            }
            _ => {}
        }
        if channels == 1 {
            data.extend(img.to_luma8().into_raw());
        } else {
            data.extend(img.to_rgb8().into_raw());
        }
    }
    let (w, h, _) = size.expect("at least one image");
    let n = files.len() as i64;
    let t = Tensor::from_slice(&data).view([n, h as i64, w as i64, channels]).permute([0, 3, 1, 2]);
    Ok(t.to_kind(tch::Kind::Float) / 127.5 - 1.0)
}
