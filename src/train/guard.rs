//! What keeps a run folder safe while it trains: one trainer per folder (an exclusive lock on
//! `RUN/.lock`, which the kernel releases when the process dies, so a killed run never blocks its
//! resume), and a clean stop on Ctrl-C, SIGTERM or SIGHUP (the loop finishes its step, writes a
//! checkpoint and says how to resume; a second signal exits at once, leaving the last complete
//! checkpoint as it was).
use crate::error::{Error, Result, io_err};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

/// The exclusive lock of a run folder, held while the value lives.
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Locks `run` for this process, or names the process that holds it.
    pub fn acquire(run: &Path) -> Result<RunLock> {
        let path = run.join(".lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() { "another process".to_string() } else { format!("process {holder}") };
                return Err(Error::Usage(format!(
                    "{} is in use: {who} is training into it (gantry train holds {} while it runs); wait for it to end or stop it, or choose another --out",
                    run.display(),
                    path.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&path)(e)),
        }
        file.set_len(0).map_err(io_err(&path))?;
        file.rewind().map_err(io_err(&path))?;
        writeln!(file, "{}", std::process::id()).map_err(io_err(&path))?;
        Ok(RunLock { _file: file })
    }
}

/// The signal that asked the loop to stop (0: none).
static STOP: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    if STOP.swap(sig, Ordering::SeqCst) != 0 {
        // a second signal: leave now, as the shell's convention says
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + sig) };
    }
}

const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Catches SIGINT, SIGTERM and SIGHUP while it lives; the previous handlers come back on drop.
pub struct StopSignals {
    previous: Vec<(libc::c_int, libc::sighandler_t)>,
}

impl StopSignals {
    pub fn install() -> StopSignals {
        STOP.store(0, Ordering::SeqCst);
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler only touches an atomic and calls _exit.
        let previous = SIGNALS.iter().map(|&s| (s, unsafe { libc::signal(s, handler) })).collect();
        StopSignals { previous }
    }

    /// The signal received since `install`, if any.
    pub fn received(&self) -> Option<i32> {
        match STOP.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }
}

impl Drop for StopSignals {
    fn drop(&mut self) {
        for &(s, h) in &self.previous {
            // SAFETY: restores the disposition that was in place before `install`.
            unsafe { libc::signal(s, h) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_folder_names_its_holder_and_frees_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let held = RunLock::acquire(dir.path()).unwrap();
        let e = RunLock::acquire(dir.path()).err().expect("second lock refused").to_string();
        assert!(e.contains(&format!("process {}", std::process::id())), "{e}");
        drop(held);
        assert!(RunLock::acquire(dir.path()).is_ok());
    }
}
