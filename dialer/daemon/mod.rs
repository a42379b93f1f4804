//! The tokio shell: the daemon's own config, campaign loops, store writer, signals, systemd.

pub mod config;
pub mod logging;
pub mod notify;
