//! Logs: tracing to journald when it is there, stderr otherwise. `RUST_LOG` filters.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Install the global subscriber once; later calls do nothing.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // journald only when systemd started us (JOURNAL_STREAM), so a terminal keeps its output.
    let journald = std::env::var_os("JOURNAL_STREAM").and_then(|_| tracing_journald::layer().ok());
    let registry = tracing_subscriber::registry().with(filter);
    let result = match journald {
        Some(layer) => registry.with(layer).try_init(),
        None => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    // Colours only for a person at a terminal, not in files and pipes.
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .try_init(),
    };
    // Already installed (tests, demo within a daemon): keep the first.
    let _ = result;
}
