//! The abandon budget from the store: counts over the campaign's window, so a restart does
//! not reset it. The only part of `pacing` that does IO (one query).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use sea_orm::ConnectionTrait;

use super::budget::{AbandonBudget, Window, WindowCounts, WindowError};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Window(#[from] WindowError),
    #[error("cannot count the campaign's abandoned calls: {0}")]
    Store(#[from] StoreError),
}

/// Live answers, abandoned calls and AMD "machine" results of attempts dialed in
/// `[since_ms, until_ms)`.
pub async fn window_counts(
    store: &Store,
    campaign_id: i64,
    since_ms: i64,
    until_ms: i64,
) -> Result<WindowCounts, StoreError> {
    let row = store
        .conn()
        .query_one_raw(store.stmt(
            "SELECT SUM(CASE WHEN live THEN 1 ELSE 0 END) AS live, \
             SUM(CASE WHEN abandoned THEN 1 ELSE 0 END) AS abandoned, \
             SUM(CASE WHEN amd_result = 'machine' THEN 1 ELSE 0 END) AS machines \
             FROM call_attempts WHERE campaign_id = ? AND dial_at_ms >= ? AND dial_at_ms < ?",
            vec![campaign_id.into(), since_ms.into(), until_ms.into()],
        ))
        .await
        .map_err(StoreError::from)?;
    let Some(r) = row else {
        return Ok(WindowCounts::default());
    };
    let get = |c: &str| -> Result<u64, StoreError> {
        let v: Option<i64> = r.try_get("", c).map_err(StoreError::from)?;
        Ok(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
    };
    Ok(WindowCounts {
        live_answers: get("live")?,
        abandoned: get("abandoned")?,
        amd_machines: get("machines")?,
    })
}

/// The campaign's budget for the window containing `now` (US: the last 30 days; UK: today in
/// `tz`, with `amd_false_positive_rate` of AMD machines counted as abandoned people).
pub async fn load_budget(
    store: &Store,
    campaign_id: i64,
    window: Window,
    now: Timestamp,
    tz: &TimeZone,
    cap: f64,
    amd_false_positive_rate: f64,
) -> Result<AbandonBudget, HistoryError> {
    let since = window.start_ms(now, tz)?;
    let counts = window_counts(store, campaign_id, since, now.as_millisecond() + 1).await?;
    let fp = match window {
        Window::Rolling30Days => 0.0,
        Window::CalendarDay => amd_false_positive_rate,
    };
    Ok(AbandonBudget::from_history(cap, fp, counts))
}
