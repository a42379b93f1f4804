//! Recordings are personal data: the daemon deletes those older than `media.recordings_keep`
//! (counted from the call's end), logging each deletion, and reports the recordings' disk use
//! (`dialer_recordings_bytes`). A sweep runs at start and every [`EVERY`].

use std::path::Path;
use std::time::Duration;

use crate::store::{Result, Store};

/// How often the daemon sweeps.
pub const EVERY: Duration = Duration::from_secs(3600);

/// At most this many deletions per sweep (the next sweep goes on).
const BATCH: u64 = 10_000;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Recordings deleted (or already gone) and no longer named by their attempt.
    pub deleted: u64,
    /// Files that could not be deleted (kept named, tried again next sweep).
    pub failed: u64,
    /// The bytes of the files under the recordings directory afterwards.
    pub bytes: u64,
}

/// Delete the recordings whose call ended more than `keep` before `now_ms` (none when `keep` is
/// `None`), then measure `dir` and publish the gauge.
pub async fn sweep(
    store: &Store,
    dir: &Path,
    keep: Option<Duration>,
    now_ms: i64,
) -> Result<Sweep> {
    let mut s = Sweep::default();
    if let Some(keep) = keep {
        let before = now_ms.saturating_sub(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX));
        for (attempt, path) in store.expired_recordings(before, BATCH).await? {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(attempt, path, error = %e, "cannot delete an expired recording");
                    s.failed += 1;
                    continue;
                }
            }
            store.forget_recording(attempt).await?;
            tracing::info!(
                attempt,
                path,
                "recording deleted: older than media.recordings_keep"
            );
            s.deleted += 1;
        }
    }
    let d = dir.to_path_buf();
    s.bytes = tokio::task::spawn_blocking(move || disk_use(&d))
        .await
        .unwrap_or(0);
    metrics::gauge!("dialer_recordings_bytes").set(s.bytes as f64);
    Ok(s)
}

/// The bytes of the files under `dir` (0 when it does not exist).
fn disk_use(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => disk_use(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}
