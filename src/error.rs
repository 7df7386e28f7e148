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
        "training stopped at step {step}: {key} is not finite ({value}). {kept}. Lower the learning rate or change the objective (--set), then retrain or resume with --resume; or let the run roll back by itself with --set train.on_divergence=\"rollback\""
    )]
    NonFinite { step: u64, key: String, value: f64, kept: String },
    #[error(
        "stopped by {} after step {step}; checkpoint {} holds it. Continue with: gantry train --out {} --resume",
        signal_name(*signal),
        checkpoint.display(),
        run.display()
    )]
    Interrupted { signal: i32, step: u64, checkpoint: PathBuf, run: PathBuf },
    #[error(
        "training stopped at step {step}: between steps {since} and {step}, {what}. {kept}. Lower the learning rate or change the objective (--set), then retrain or resume with --resume; or let the run roll back by itself with --set train.on_divergence=\"rollback\""
    )]
    Diverged { step: u64, since: u64, what: String, kept: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("libtorch: {}", torch_message(.0))]
    Torch(tch::TchError),
}

// not `#[from]`: that would also make the error its source, and print libtorch's message twice
impl From<tch::TchError> for Error {
    fn from(e: tch::TchError) -> Error {
        Error::Torch(e)
    }
}

/// libtorch's message without the C++ stack it appends ("Exception raised from …", frames).
pub fn torch_message(e: &tch::TchError) -> String {
    let text = e.to_string();
    let cut = ["\nException raised from", "Exception raised from", "\nframe #"]
        .iter()
        .filter_map(|m| text.find(m))
        .min()
        .unwrap_or(text.len());
    text[..cut].trim_end().to_string()
}

/// A stopping signal's name, for messages.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT (Ctrl-C)",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

impl Error {
    /// A divergence error of a run that had already rolled back `n` times: says so.
    pub fn after_rollbacks(self, n: u64) -> Error {
        let note = format!(" (after {n} rollbacks, the most train.max_rollbacks allows)");
        match self {
            Error::Diverged { step, since, what, kept } => Error::Diverged { step, since, what: what + &note, kept },
            Error::NonFinite { step, key, value, kept } => Error::NonFinite { step, key: key + &note, value, kept },
            other => other,
        }
    }

    /// The process's exit status for this error: 128 + the signal for a run stopped by one
    /// (130 for Ctrl-C, 143 for SIGTERM), else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Interrupted { signal, .. } => 128 + signal,
            _ => 1,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a path to an I/O error.
pub fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}

#[cfg(test)]
mod tests {
    #[test]
    fn libtorch_messages_lose_their_cpp_stack() {
        // the shape of a message from a failed ATen call (copied from a real one, shortened)
        let raw = "shape '[2, 3]' is invalid for input of size 5\nException raised from infer_size_impl at /pytorch/aten/src/ATen/InferSize.h:99 (most recent call first):\nframe #0: c10::Error::Error(...) + 0x9b";
        let e = super::Error::from(tch::TchError::Torch(raw.into()));
        let shown = e.to_string();
        assert!(shown.ends_with("shape '[2, 3]' is invalid for input of size 5"), "{shown}");
        assert!(std::error::Error::source(&e).is_none());
    }
}
