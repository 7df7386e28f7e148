//! Pure tensor functions: adversarial losses, f-divergences and critic penalties. Networks and
//! optimisers never appear here, so each function is tested against hand-computed values.
pub mod adversarial;
pub mod fdiv;
pub mod improved;
pub mod penalty;

pub use adversarial::Adversarial;
