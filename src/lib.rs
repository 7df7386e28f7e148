//! gantry: training, sampling and evaluating generative adversarial networks on libtorch.
//!
//! The crate reads top-down: [`config`] resolves a run's settings; [`data`] serves batches;
//! [`nets`] builds networks; [`objective`] holds the losses and penalties as pure functions;
//! [`method`] composes them into a training step; [`train`] runs the loop, optimisers and
//! checkpoints; [`metrics`] and [`viz`] measure and show the results; [`sample`] drives trained
//! generators, and [`select`] picks among InfoGAN restarts. `docs/ARCHITECTURE.md` maps how a batch flows through them.
pub mod captioning;
pub mod classifier;
pub mod config;
pub mod coupled;
pub mod data;
pub mod datamake;
pub mod dist;
pub mod error;
pub mod evaluate;
pub mod export;
pub mod export_captions;
pub mod export_py;
pub mod export_trace;
pub mod imagefolder;
pub mod judge;
pub mod method;
pub mod metrics;
pub mod nets;
pub mod objective;
pub mod ops;
pub mod progress;
pub mod report;
pub mod rng;
pub mod sample;
pub mod select;
pub mod text;
pub mod threads;
pub mod train;
pub mod translate;
pub mod viz;

pub use config::Config;
pub use error::{Error, Result};
