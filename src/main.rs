//! `gantry`: the command-line tool. Errors are printed once, as a chain, with a non-zero exit.
mod cli;

use clap::Parser;

fn main() {
    let parsed = cli::Cli::parse();
    if let Err(e) = cli::run(parsed) {
        eprintln!("error: {e}");
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            eprintln!("  caused by: {s}");
            source = s.source();
        }
        std::process::exit(1);
    }
}
