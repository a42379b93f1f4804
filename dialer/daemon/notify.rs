//! systemd notifications: READY, RELOADING, STOPPING and a watchdog fed by real progress.
//!
//! Outside systemd (no `NOTIFY_SOCKET`) every call is a no-op. The watchdog is pinged only when
//! the main loop has reported progress since the last ping, so a wedged dialing loop gets the
//! daemon restarted instead of kept alive by a timer that still ticks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sd_notify::NotifyState;

/// Tell systemd the daemon is ready (after start or after a reload).
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tell systemd a reload started (with the monotonic timestamp `Type=notify-reload` wants).
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(usec) => send(&[NotifyState::Reloading, usec]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// Tell systemd the daemon is stopping (draining calls).
pub fn stopping(status: &str) {
    send(&[NotifyState::Stopping, NotifyState::Status(status)]);
}

/// A free-form status line (`systemctl status` shows it).
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

fn send(states: &[NotifyState]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(err) = sd_notify::notify(states) {
        tracing::warn!(%err, "sd_notify failed");
    }
}

/// Progress counter the main loop bumps; the watchdog task pings only when it moved.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat(Arc<AtomicU64>);

impl Heartbeat {
    /// The loop made progress.
    pub fn beat(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// How often to check for progress: half the watchdog period, if systemd asked for one.
pub fn watchdog_period() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 2)
}

/// Ping the watchdog every `period` while `heartbeat` keeps moving and, with `store`, unless
/// the store has been unable to write for longer than its limit (`store.unwritable_watchdog`):
/// dialing is paused then and only a restart may help. Runs until cancelled.
pub async fn watchdog(
    heartbeat: Heartbeat,
    period: Duration,
    store: Option<(super::writer::StoreHealth, Duration)>,
) {
    let mut last = heartbeat.count();
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = heartbeat.count();
        let stuck = store.as_ref().and_then(|(h, limit)| {
            h.unwritable_longer_than(std::time::Instant::now(), *limit)
                .then(|| (*limit, h.unwritable().map(|(_, e)| e).unwrap_or_default()))
        });
        if let Some((limit, err)) = stuck {
            tracing::error!(
                %err,
                "the store has not been able to write for over {limit:?}: watchdog not pinged"
            );
        } else if now != last {
            send(&[NotifyState::Watchdog]);
            last = now;
        } else {
            tracing::warn!("main loop made no progress for {period:?}; watchdog not pinged");
        }
    }
}
