//! Answering-machine detection: the sans-IO detector, its settings and the Asterisk baseline live
//! in `dialer_core::amd` and are re-exported here; [`eval`], which reads the labelled corpus from
//! disk, stays in the shell.

pub use dialer_core::amd::*;

pub mod eval;
