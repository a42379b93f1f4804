//! Recordings are personal data: the daemon deletes each recording older than its campaign's
//! keep (counted from the call's end): the campaign's own `recording.keep` when its file sets
//! one, shorter or longer, else `media.recordings_keep` of `dialer.toml`, else never. It logs
//! each deletion and reports the recordings' disk use (`dialer_recordings_bytes`). A sweep runs
//! at start and every [`EVERY`].

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

/// Delete the recordings whose call ended longer before `now_ms` than their campaign's keep
/// (stored with the campaign from its `recording.keep`; else `default_keep`, none when `None`),
/// then measure `dir` and publish the gauge.
pub async fn sweep(
    store: &Store,
    dir: &Path,
    default_keep: Option<Duration>,
    now_ms: i64,
) -> Result<Sweep> {
    let mut s = Sweep::default();
    let default_ms = default_keep.map(|k| i64::try_from(k.as_millis()).unwrap_or(i64::MAX));
    for r in store.expired_recordings(now_ms, default_ms, BATCH).await? {
        match tokio::fs::remove_file(&r.path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(
                    attempt = r.attempt,
                    path = r.path,
                    error = %e,
                    "cannot delete an expired recording"
                );
                s.failed += 1;
                continue;
            }
        }
        store.forget_recording(r.attempt).await?;
        let keep = humantime::format_duration(Duration::from_millis(r.keep_ms.max(0) as u64));
        let key = if r.own_keep {
            "the campaign's recording.keep"
        } else {
            "media.recordings_keep"
        };
        tracing::info!(
            attempt = r.attempt,
            campaign = r.campaign,
            path = r.path,
            keep = %keep,
            "recording deleted: older than {key}"
        );
        s.deleted += 1;
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
