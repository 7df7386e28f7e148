//! TensorBoard event files (`train.tensorboard = true`): every scalar gantry logs to
//! `metrics.jsonl`, and the sample grids as images, at the same steps, under `RUN/tb/`.
//!
//! The format is TensorFlow's: a file of TFRecords (length, masked CRC-32C of the length, the
//! bytes, their masked CRC-32C), each an `Event` protocol buffer. gantry writes the few fields it
//! needs by hand (`Event`: wall_time 1, step 2, file_version 3, summary 5; `Summary.Value`: tag 1,
//! simple_value 2, image 4; `Summary.Image`: height 1, width 2, colorspace 3,
//! encoded_image_string 4), as tensorflow/core/util/event.proto and summary.proto number them.
//! A resumed run opens a new file; TensorBoard reads a folder's files as one run.
use crate::error::{Result, io_err};
use std::io::Write;
use std::path::{Path, PathBuf};

/// An open event file.
pub struct EventWriter {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(field: u32, wire: u8, out: &mut Vec<u8>) {
    varint(((field as u64) << 3) | wire as u64, out);
}

fn bytes_field(field: u32, b: &[u8], out: &mut Vec<u8>) {
    key(field, 2, out);
    varint(b.len() as u64, out);
    out.extend_from_slice(b);
}

fn int_field(field: u32, v: i64, out: &mut Vec<u8>) {
    key(field, 0, out);
    varint(v as u64, out);
}

/// The masked CRC-32C TFRecord stores (so that a CRC of data holding CRCs stays strong).
pub fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c::crc32c(data);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// An `Event` with wall time, step and one summary (or the file version when `summary` is None).
fn event(wall_time: f64, step: i64, summary: Option<&[u8]>) -> Vec<u8> {
    let mut e = vec![];
    key(1, 1, &mut e);
    e.extend_from_slice(&wall_time.to_le_bytes());
    int_field(2, step, &mut e);
    match summary {
        Some(s) => bytes_field(5, s, &mut e),
        None => bytes_field(3, b"brain.Event:2", &mut e),
    }
    e
}

fn scalar_value(tag: &str, v: f32) -> Vec<u8> {
    let mut val = vec![];
    bytes_field(1, tag.as_bytes(), &mut val);
    key(2, 5, &mut val);
    val.extend_from_slice(&v.to_le_bytes());
    val
}

fn image_value(tag: &str, png: &[u8], width: u32, height: u32, channels: u8) -> Vec<u8> {
    let mut img = vec![];
    int_field(1, height as i64, &mut img);
    int_field(2, width as i64, &mut img);
    int_field(3, channels as i64, &mut img);
    bytes_field(4, png, &mut img);
    let mut val = vec![];
    bytes_field(1, tag.as_bytes(), &mut val);
    bytes_field(4, &img, &mut val);
    val
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl EventWriter {
    /// Opens a new event file under `dir` (made if missing).
    pub fn create(dir: &Path) -> Result<EventWriter> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
        let host = if host.is_empty() { "gantry".to_string() } else { host };
        let secs = now() as u64;
        // a second file within the same second (a quick resume) gets the process id too
        let mut path = dir.join(format!("events.out.tfevents.{secs}.{host}"));
        if path.exists() {
            path = dir.join(format!("events.out.tfevents.{secs}.{host}.{}", std::process::id()));
        }
        let file = std::fs::File::create(&path).map_err(io_err(&path))?;
        let mut w = EventWriter { path, file: std::io::BufWriter::new(file) };
        w.record(&event(now(), 0, None))?;
        w.flush()?;
        Ok(w)
    }

    fn record(&mut self, data: &[u8]) -> Result<()> {
        let len = (data.len() as u64).to_le_bytes();
        let mut r = Vec::with_capacity(data.len() + 16);
        r.extend_from_slice(&len);
        r.extend_from_slice(&masked_crc(&len).to_le_bytes());
        r.extend_from_slice(data);
        r.extend_from_slice(&masked_crc(data).to_le_bytes());
        self.file.write_all(&r).map_err(io_err(&self.path))
    }

    /// Scalars of one step, one `Summary` holding them all.
    pub fn scalars(&mut self, step: u64, values: &[(String, f64)]) -> Result<()> {
        let mut summary = vec![];
        for (tag, v) in values {
            bytes_field(1, &scalar_value(tag, *v as f32), &mut summary);
        }
        self.record(&event(now(), step as i64, Some(&summary)))
    }

    /// A PNG file as an image summary.
    pub fn image_file(&mut self, step: u64, tag: &str, png: &Path) -> Result<()> {
        let bytes = std::fs::read(png).map_err(io_err(png))?;
        let (w, h) = image::image_dimensions(png)
            .map_err(|e| crate::error::Error::Data { path: png.into(), msg: format!("unreadable grid ({e})") })?;
        let channels = image::open(png).map(|i| i.color().channel_count()).unwrap_or(3);
        let mut summary = vec![];
        bytes_field(1, &image_value(tag, &bytes, w, h, channels), &mut summary);
        self.record(&event(now(), step as i64, Some(&summary)))
    }

    /// Writes what is buffered to the file, so that TensorBoard sees it while training goes on.
    pub fn flush(&mut self) -> Result<()> {
        self.file.flush().map_err(io_err(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_and_its_mask_match_tensorflow() {
        // CRC-32C("123456789") = 0xE3069283, the standard check value (RFC 3720, B.4)
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        // masked as TensorFlow's crc32c::Mask, ((c >> 15) | (c << 17)) + 0xa282ead8, worked out
        // by hand in Python: 0xC78AB0E5
        assert_eq!(masked_crc(b"123456789"), 0xC78A_B0E5);
    }

    #[test]
    fn varints_and_a_scalar_by_hand() {
        let mut v = vec![];
        varint(300, &mut v);
        assert_eq!(v, [0xac, 0x02]); // the protobuf documentation's example
        // Value{tag: "a", simple_value: 1.0}: 0a 01 61, 15 00 00 80 3f
        assert_eq!(scalar_value("a", 1.0), [0x0a, 0x01, b'a', 0x15, 0x00, 0x00, 0x80, 0x3f]);
    }
}
