//! The abandon window's counts: live answers, abandons and AMD "machine" results of a
//! campaign's attempts dialed in a span.
//!
//! An attempt's counts are final once it has ended, so ended attempts are also counted by the
//! hour of their dial in `attempt_hours`, in the transaction that ends them
//! ([`add_to_hour`]). A span reads its whole hours from there, and only its two ragged ends and
//! the attempts still open from `call_attempts` ([`counts_in`]): every dial's evidence counts a
//! 30-day window, which then costs the same with a month of history as with a day's.

use sea_orm::ConnectionTrait;

use super::attempts::AbandonCounts;
use super::{Result, stmt};
use crate::domain::AmdResult;

/// The tally's bucket.
const HOUR_MS: i64 = 3_600_000;

/// An attempt's part of the counts, or a change to it (an ended attempt ended again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Tally {
    live: i32,
    abandoned: i32,
    machines: i32,
}

impl Tally {
    pub(super) fn of(live: bool, abandoned: bool, amd_result: Option<&str>) -> Tally {
        Tally {
            live: live.into(),
            abandoned: abandoned.into(),
            machines: (amd_result == Some(AmdResult::Machine.as_str())).into(),
        }
    }

    pub(super) fn minus(self, o: Tally) -> Tally {
        Tally {
            live: self.live - o.live,
            abandoned: self.abandoned - o.abandoned,
            machines: self.machines - o.machines,
        }
    }
}

/// The start of the hour holding `ms`.
fn hour_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(HOUR_MS)
}

/// Add an ended attempt's counts (or a change to them) to the hour of its dial.
pub(super) async fn add_to_hour<C: ConnectionTrait>(
    conn: &C,
    campaign_id: i64,
    dial_at_ms: i64,
    t: Tally,
) -> Result<()> {
    if t == Tally::default() {
        return Ok(());
    }
    conn.execute_raw(stmt(
        conn.get_database_backend(),
        "INSERT INTO attempt_hours (campaign_id, hour_ms, live, abandoned, machines) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (campaign_id, hour_ms) DO UPDATE SET \
         live = attempt_hours.live + excluded.live, \
         abandoned = attempt_hours.abandoned + excluded.abandoned, \
         machines = attempt_hours.machines + excluded.machines",
        vec![
            campaign_id.into(),
            hour_of(dial_at_ms).into(),
            t.live.into(),
            t.abandoned.into(),
            t.machines.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The counts of a campaign's attempts dialed in `[since_ms, until_ms)`.
pub(super) async fn counts_in<C: ConnectionTrait>(
    conn: &C,
    campaign_id: i64,
    since_ms: i64,
    until_ms: i64,
) -> Result<AbandonCounts> {
    // The whole hours inside the span.
    let lo = hour_of(since_ms.saturating_add(HOUR_MS - 1));
    let hi = hour_of(until_ms);
    if lo >= hi {
        return attempts_in(conn, campaign_id, since_ms, until_ms, false).await;
    }
    let mut c = attempts_in(conn, campaign_id, since_ms, lo, false).await?;
    add(
        &mut c,
        attempts_in(conn, campaign_id, hi, until_ms, false).await?,
    );
    add(&mut c, attempts_in(conn, campaign_id, lo, hi, true).await?);
    add(
        &mut c,
        sums(
            conn,
            "SELECT SUM(live) AS live, SUM(abandoned) AS abandoned, SUM(machines) AS machines \
             FROM attempt_hours WHERE campaign_id = ? AND hour_ms >= ? AND hour_ms < ?",
            vec![campaign_id.into(), lo.into(), hi.into()],
        )
        .await?,
    );
    Ok(c)
}

fn add(c: &mut AbandonCounts, o: AbandonCounts) {
    c.live += o.live;
    c.abandoned += o.abandoned;
    c.machines += o.machines;
}

/// Counted from the attempts themselves: every attempt dialed in the span, or (`open_only`)
/// those not ended yet.
async fn attempts_in<C: ConnectionTrait>(
    conn: &C,
    campaign_id: i64,
    since_ms: i64,
    until_ms: i64,
    open_only: bool,
) -> Result<AbandonCounts> {
    // The open attempts are found through `ix_attempts_open` (`campaign_id + 0` keeps SQLite
    // from scanning the campaign's range instead): they are few, the span's attempts many.
    let sql = if open_only {
        "SELECT SUM(CASE WHEN live THEN 1 ELSE 0 END) AS live, \
         SUM(CASE WHEN abandoned THEN 1 ELSE 0 END) AS abandoned, \
         SUM(CASE WHEN amd_result = ? THEN 1 ELSE 0 END) AS machines \
         FROM call_attempts WHERE end_at_ms IS NULL AND campaign_id + 0 = ? \
         AND dial_at_ms >= ? AND dial_at_ms < ?"
    } else {
        "SELECT SUM(CASE WHEN live THEN 1 ELSE 0 END) AS live, \
         SUM(CASE WHEN abandoned THEN 1 ELSE 0 END) AS abandoned, \
         SUM(CASE WHEN amd_result = ? THEN 1 ELSE 0 END) AS machines \
         FROM call_attempts WHERE campaign_id = ? AND dial_at_ms >= ? AND dial_at_ms < ?"
    };
    sums(
        conn,
        sql,
        vec![
            AmdResult::Machine.as_str().into(),
            campaign_id.into(),
            since_ms.into(),
            until_ms.into(),
        ],
    )
    .await
}

async fn sums<C: ConnectionTrait>(
    conn: &C,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> Result<AbandonCounts> {
    let row = conn
        .query_one_raw(stmt(conn.get_database_backend(), sql, values))
        .await?;
    let get = |r: &sea_orm::QueryResult, c: &str| -> Result<u64> {
        let v: Option<i64> = r.try_get("", c)?;
        Ok(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
    };
    Ok(match row {
        Some(r) => AbandonCounts {
            live: get(&r, "live")?,
            abandoned: get(&r, "abandoned")?,
            machines: get(&r, "machines")?,
        },
        None => AbandonCounts::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_floor_on_both_sides_of_zero() {
        assert_eq!(hour_of(0), 0);
        assert_eq!(hour_of(HOUR_MS - 1), 0);
        assert_eq!(hour_of(HOUR_MS), HOUR_MS);
        assert_eq!(hour_of(-1), -HOUR_MS);
    }

    #[test]
    fn a_change_is_the_difference() {
        let before = Tally::of(true, false, Some("human"));
        let after = Tally::of(true, true, Some("machine"));
        assert_eq!(
            after.minus(before),
            Tally {
                live: 0,
                abandoned: 1,
                machines: 1
            }
        );
    }
}
