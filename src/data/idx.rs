//! Reader for the IDX format of MNIST and Fashion-MNIST (optionally gzip-compressed). The header
//! is checked against the file's length before any large allocation, so a corrupt or hostile
//! header gives an error instead of an out-of-memory abort.
use crate::error::{Error, Result};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

/// An unsigned-byte IDX array: its dimensions and data in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

fn err(path: &Path, msg: impl Into<String>) -> Error {
    Error::Data { path: path.to_path_buf(), msg: msg.into() }
}

/// Reads an IDX file of unsigned bytes with `want_rank` dimensions.
pub fn read(path: &Path, want_rank: usize) -> Result<IdxArray> {
    let raw = std::fs::read(path).map_err(crate::error::io_err(path))?;
    let bytes =
        if path.extension().is_some_and(|e| e == "gz") { inflate(&raw).map_err(|m| err(path, m))? } else { raw };
    parse(&bytes, want_rank).map_err(|m| err(path, m))
}

/// The most data an IDX file may hold (bytes after its header).
pub const MAX_BYTES: usize = 1 << 31;

/// Inflates a gzipped IDX file no further than its header says it holds (plus one byte, so that
/// `parse` sees a longer body), refusing headers that claim more than `MAX_BYTES`.
fn inflate(raw: &[u8]) -> Result<Vec<u8>, String> {
    let unreadable = |e: std::io::Error| {
        format!("not a readable gzip file ({e}); the file is truncated or corrupt, download it again")
    };
    let mut dec = GzDecoder::new(raw);
    let mut out = vec![0u8; 4];
    dec.read_exact(&mut out).map_err(unreadable)?;
    let rank = out[3] as usize;
    let mut dims = vec![0u8; 4 * rank];
    dec.read_exact(&mut dims).map_err(unreadable)?;
    let claimed = dims
        .chunks_exact(4)
        .try_fold(1usize, |acc, d| acc.checked_mul(u32::from_be_bytes(d.try_into().unwrap()) as usize));
    let claimed = match claimed {
        Some(n) if n <= MAX_BYTES => n,
        _ => return Err(format!("its header claims more than {MAX_BYTES} bytes of data, more than gantry reads")),
    };
    out.extend_from_slice(&dims);
    dec.take(claimed as u64 + 1).read_to_end(&mut out).map_err(unreadable)?;
    Ok(out)
}

/// Parses IDX bytes; the error says what is wrong with them.
pub fn parse(bytes: &[u8], want_rank: usize) -> Result<IdxArray, String> {
    if bytes.len() < 4 {
        return Err(format!("{} bytes is too short for an IDX header", bytes.len()));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(format!(
            "wrong magic number {:02x}{:02x}{:02x}{:02x}: not an IDX file",
            bytes[0], bytes[1], bytes[2], bytes[3]
        ));
    }
    if bytes[2] != 0x08 {
        return Err(format!("element type 0x{:02x} is not unsigned byte (0x08)", bytes[2]));
    }
    let rank = bytes[3] as usize;
    if rank != want_rank {
        return Err(format!("has {rank} dimensions where {want_rank} were expected"));
    }
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err("truncated inside its header".into());
    }
    let dims: Vec<usize> =
        (0..rank).map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize).collect();
    let expected = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let body = bytes.len() - header;
    match expected {
        Some(n) if n == body => {}
        _ => {
            return Err(format!(
                "header says {:?} ({} bytes of data) but the file holds {body}; the file is truncated or corrupt",
                dims,
                expected.map_or("an impossible number of".to_string(), |n| n.to_string())
            ));
        }
    }
    Ok(IdxArray { dims, data: bytes[header..].to_vec() })
}

/// Finds `stem` or `stem.gz` in `dir`.
pub fn find(dir: &Path, stem: &str) -> Option<PathBuf> {
    [stem.to_string(), format!("{stem}.gz")].into_iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// Images `[N, H, W]` and labels `[N]` of one split (`train` or `t10k`) of an MNIST-format folder.
pub fn read_split(dir: &Path, split: &str) -> Result<(IdxArray, Option<Vec<u8>>)> {
    let stem = format!("{split}-images-idx3-ubyte");
    let images_path = find(dir, &stem).ok_or_else(|| {
        err(dir, format!("no {stem} or {stem}.gz in this folder; an MNIST-format folder holds {stem}[.gz] and {split}-labels-idx1-ubyte[.gz]"))
    })?;
    let images = read(&images_path, 3)?;
    let labels = match find(dir, &format!("{split}-labels-idx1-ubyte")) {
        None => None,
        Some(p) => {
            let l = read(&p, 1)?;
            if l.dims[0] != images.dims[0] {
                return Err(err(
                    &p,
                    format!(
                        "holds {} labels but {} holds {} images; the two files must come from the same set",
                        l.dims[0],
                        images_path.display(),
                        images.dims[0]
                    ),
                ));
            }
            Some(l.data)
        }
    };
    Ok((images, labels))
}

/// Encodes an IDX file (used by tests and by tools that write data sets).
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&(*d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let a = parse(&encode(&[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), 3).unwrap();
        assert_eq!(a.dims, vec![2, 2, 3]);
        assert_eq!(a.data[11], 12);
    }

    #[test]
    fn wrong_magic() {
        let mut b = encode(&[1], &[7]);
        b[0] = 0x1f;
        assert!(parse(&b, 1).unwrap_err().contains("magic"));
    }

    #[test]
    fn truncated_body_and_header() {
        let b = encode(&[3, 2, 2], &[0; 12]);
        assert!(parse(&b[..b.len() - 1], 3).unwrap_err().contains("truncated"));
        assert!(parse(&b[..6], 3).unwrap_err().contains("header"));
    }

    #[test]
    fn huge_dims_do_not_allocate() {
        let b = encode(&[u32::MAX as usize, u32::MAX as usize, u32::MAX as usize], &[0; 4]);
        assert!(parse(&b, 3).unwrap_err().contains("impossible"));
    }

    #[test]
    fn a_gzip_is_inflated_only_as_far_as_its_header_says() {
        use std::io::Write;
        let gz = |bytes: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
            e.write_all(bytes).unwrap();
            e.finish().unwrap()
        };
        // a header of 4 bytes of data followed by 10 MB of zeros: one byte past the claim is read
        let mut bomb = encode(&[2, 2], &[0; 4]);
        bomb.extend(std::iter::repeat_n(0u8, 10_000_000));
        let out = inflate(&gz(&bomb)).unwrap();
        assert_eq!(out.len(), 4 + 8 + 4 + 1);
        assert!(parse(&out, 2).unwrap_err().contains("the file holds 5"));
        // a header claiming more than gantry reads is refused before inflating
        let claim = encode(&[65_536, 65_536], &[]);
        assert!(inflate(&gz(&claim)).unwrap_err().contains("more than gantry reads"));
        assert_eq!(inflate(&gz(&encode(&[3], &[1, 2, 3]))).unwrap(), encode(&[3], &[1, 2, 3]));
    }

    #[test]
    fn wrong_rank() {
        assert!(parse(&encode(&[2], &[0, 0]), 3).unwrap_err().contains("dimensions"));
    }
}
