//! The tokio shell: the daemon's own config, campaign loops, store writer, signals, systemd.

pub mod api;
pub mod clock;
pub mod config;
pub mod control;
pub mod lists;
pub mod live;
pub mod logging;
pub mod loglimit;
pub mod notify;
pub mod retention;
pub mod run;
pub mod telemetry;
pub mod writer;
