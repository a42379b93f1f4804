//! Pacing: the sans-IO pacers, estimators and the abandon budget live in `dialer_core::pacing`
//! and are re-exported here; [`history`], which seeds the budget from the store, stays in the
//! shell.

pub use dialer_core::pacing::*;

pub mod history;
