//! The one generic training loop and what it needs: optimisers with saveable state, schedules,
//! the weight average, checkpoints.
pub mod checkpoint;
pub mod ema;
pub mod optim;
pub mod run;
pub mod schedule;
