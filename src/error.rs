//! Errors a user can cause. Each message names the file, key or value at fault and says what to
//! do; `main` prints the chain once and exits non-zero.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error("data {path}: {msg}")]
    Data { path: PathBuf, msg: String },
    #[error("checkpoint {path}: {msg}")]
    Checkpoint { path: PathBuf, msg: String },
    #[error("{0}")]
    Usage(String),
    #[error(
        "training stopped at step {step}: {key} is not finite ({value}). {kept}. Lower the learning rate or change the objective (--set), then retrain or resume with --resume"
    )]
    NonFinite { step: u64, key: String, value: f64, kept: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a path to an I/O error.
pub fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
