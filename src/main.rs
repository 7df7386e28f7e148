//! `gantry`: the command-line tool. Errors are printed once, as a chain, with a non-zero exit.
mod cli;

use clap::Parser;

fn main() {
    // Rust ignores SIGPIPE, so `gantry presets | head` would panic on the closed pipe; a command
    // line tool should end quietly instead, as cat and ls do.
    // SAFETY: restores the default disposition of one signal before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    if std::env::var_os("CUBLAS_WORKSPACE_CONFIG").is_none() {
        // SAFETY: set before any other thread exists; cuBLAS reads it when it first starts, and
        // needs it to be deterministic (train.deterministic).
        unsafe { std::env::set_var("CUBLAS_WORKSPACE_CONFIG", ":4096:8") };
    }
    // before libtorch does any work: a passive OpenMP wait policy when the machine is busy
    gantry::threads::prepare();
    let parsed = cli::Cli::parse();
    if let Err(e) = cli::run(parsed) {
        let shown = e.to_string();
        eprintln!("error: {shown}");
        // causes the message does not already carry (an I/O error's is part of it)
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let text = s.to_string();
            if !shown.contains(&text) {
                eprintln!("  caused by: {text}");
            }
            source = s.source();
        }
        std::process::exit(e.exit_code());
    }
}
