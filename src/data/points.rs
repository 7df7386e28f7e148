//! Low-dimensional point sets from `.csv` (N rows of D numbers, an optional header row) or
//! `.npy` (a 2-D little-endian float32/float64 array in C order).
use crate::error::{Error, Result};
use std::path::Path;

/// Points as a row-major `n × dim` matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Points {
    pub n: usize,
    pub dim: usize,
    pub values: Vec<f32>,
}

fn err(path: &Path, msg: impl Into<String>) -> Error {
    Error::Data { path: path.to_path_buf(), msg: msg.into() }
}

pub fn read(path: &Path) -> Result<Points> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => {
            let text = std::fs::read_to_string(path).map_err(crate::error::io_err(path))?;
            parse_csv(&text).map_err(|m| err(path, m))
        }
        Some("npy") => {
            let bytes = std::fs::read(path).map_err(crate::error::io_err(path))?;
            parse_npy(&bytes).map_err(|m| err(path, m))
        }
        _ => Err(err(path, "a point file must end in .csv or .npy")),
    }
}

pub fn parse_csv(text: &str) -> Result<Points, String> {
    let mut values = vec![];
    let mut dim = 0;
    let mut n = 0;
    // a byte-order mark is not part of the first field
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut first = true;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed: Result<Vec<f32>, _> = fields.iter().map(|f| f.parse::<f32>()).collect();
        // a header is a first row of names: no field of it is a number
        let header = first && fields.iter().all(|f| !f.is_empty() && f.parse::<f32>().is_err());
        first = false;
        let row = match parsed {
            Ok(r) => r,
            Err(_) if header => continue,
            Err(_) => return Err(format!("line {}: `{line}` is not a row of numbers", i + 1)),
        };
        if n == 0 {
            dim = row.len();
        } else if row.len() != dim {
            return Err(format!("line {} has {} values where earlier rows have {dim}", i + 1, row.len()));
        }
        if row.iter().any(|v| !v.is_finite()) {
            return Err(format!("line {} holds a value that is not finite", i + 1));
        }
        values.extend(row);
        n += 1;
    }
    if n == 0 {
        return Err("holds no rows of numbers".into());
    }
    Ok(Points { n, dim, values })
}

pub fn parse_npy(bytes: &[u8]) -> Result<Points, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not an .npy file (wrong magic)".into());
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize, 12),
        v => return Err(format!(".npy version {v} is not supported")),
    };
    let header =
        bytes.get(start..start + hlen).and_then(|h| std::str::from_utf8(h).ok()).ok_or("truncated .npy header")?;
    let field = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
        Some(rest)
    };
    let descr = field("descr").ok_or("no descr in .npy header")?;
    let width = if descr.starts_with("'<f4'") {
        4
    } else if descr.starts_with("'<f8'") {
        8
    } else {
        return Err(format!(
            "dtype {} is not little-endian float32 or float64",
            &descr[..descr.find(',').unwrap_or(descr.len())]
        ));
    };
    if field("fortran_order").is_some_and(|f| f.starts_with("True")) {
        return Err("Fortran-ordered arrays are not supported; save with np.ascontiguousarray".into());
    }
    let shape = field("shape").ok_or("no shape in .npy header")?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.split_once(')'))
        .map(|(inner, _)| inner)
        .ok_or("bad shape in .npy header (expected a tuple such as (N, D))")?;
    let dims: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("bad shape ({inner})")))
        .collect::<Result<_, _>>()?;
    let (n, dim) = match dims[..] {
        [n, d] => (n, d),
        [n] => (n, 1),
        _ => return Err(format!("shape ({inner}) is not N rows of D numbers")),
    };
    let body = &bytes[start + hlen..];
    let bytes_needed =
        n.checked_mul(dim).and_then(|c| c.checked_mul(width)).ok_or(format!("shape ({inner}) overflows"))?;
    if n == 0 || dim == 0 {
        return Err(format!("shape ({inner}) holds no points; a point file needs N ≥ 1 rows of D ≥ 1 numbers"));
    }
    if body.len() != bytes_needed {
        return Err(format!("shape ({inner}) needs {bytes_needed} bytes but the file holds {}", body.len()));
    }
    let values: Vec<f32> = if width == 4 {
        body.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
    } else {
        body.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32).collect()
    };
    if n == 0 || values.iter().any(|v| !v.is_finite()) {
        return Err("holds no points, or a value that is not finite".into());
    }
    Ok(Points { n, dim, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_header() {
        let p = parse_csv("x,y\n1,2\n3.5,-4\n").unwrap();
        assert_eq!((p.n, p.dim), (2, 2));
        assert_eq!(p.values, vec![1.0, 2.0, 3.5, -4.0]);
    }

    #[test]
    fn csv_ragged_rows() {
        assert!(parse_csv("1,2\n3\n").unwrap_err().contains("line 2"));
        // a byte-order mark does not cost the first row; a half-numeric first row is no header
        assert_eq!(parse_csv("\u{feff}1,2\n3,4\n").unwrap().n, 2);
        assert_eq!(parse_csv("\u{feff}x,y\n3,4\n").unwrap().n, 1);
        assert!(parse_csv("1,2x\n3,4\n").unwrap_err().contains("line 1"));
    }

    #[test]
    fn npy_float64() {
        // np.save of np.array([[1., 2.], [3., 4.]]) has this header.
        let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }";
        let mut h = header.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        for v in [1.0f64, 2.0, 3.0, 4.0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let p = parse_npy(&b).unwrap();
        assert_eq!((p.n, p.dim), (2, 2));
        assert_eq!(p.values[3], 4.0);
        assert!(parse_npy(&b[..b.len() - 3]).unwrap_err().contains("bytes"));
        // a shape whose byte count wraps, and an empty one, are refused by name
        let with_shape = |shape: &str| {
            let h = header.replace("(2, 2)", shape);
            let mut c = b"\x93NUMPY\x01\x00".to_vec();
            c.extend_from_slice(&(h.len() as u16).to_le_bytes());
            c.extend_from_slice(h.as_bytes());
            parse_npy(&c).unwrap_err()
        };
        assert!(with_shape("(2305843009213693952, 2)").contains("overflows"));
        assert!(with_shape("(5, 0)").contains("holds no points"));
        // shapes that are not tuples (found by tests/fuzz.rs: they panicked while slicing)
        assert!(with_shape(")4, 2)").contains("bad shape"));
        assert!(with_shape("\u{7b4}l (3, 2)").contains("bad shape"));
    }
}
