//! Sample-quality measures: the PacGAN protocol for Gaussian mixtures and the sliced
//! Wasserstein distance for point sets.
pub mod image;
pub mod mixture;
pub mod sliced;
pub mod suite;
