//! The tokio shell: the daemon's own config, campaign loops, store writer, signals, systemd.
