//! Writes the running daemon makes besides attempts: an agent's disposition applied to its
//! lead, and closed agent state intervals.

use sea_orm::ConnectionTrait;

use sea_orm::Value;

use super::{DncScope, Result, Store, StoreError, stmt};
use crate::domain::LeadStatus;

/// What an agent's disposition does to its lead.
#[derive(Debug, Clone)]
pub struct LeadUpdate<'a> {
    pub lead_id: i64,
    /// Active (due again), done, DNC.
    pub status: LeadStatus,
    pub next_attempt_at_ms: Option<i64>,
    pub callback_at_ms: Option<i64>,
    /// The agent talked with the person (Regulation F's 7-day quiet period starts).
    pub conversation_at_ms: Option<i64>,
    /// The lead's last outcome as stored: the disposition code, or the call's outcome when the
    /// wrap-up ended without one.
    pub outcome: &'a str,
    pub at_ms: i64,
}

impl Store {
    /// Apply an agent's disposition to its lead; a DNC status also puts the number on the
    /// campaign's DNC list at once.
    pub async fn apply_lead_update(&self, u: &LeadUpdate<'_>) -> Result<()> {
        let backend = self.backend();
        let row = self
            .conn()
            .query_one_raw(stmt(
                backend,
                "SELECT phone, campaign_id FROM leads WHERE id = ?",
                vec![u.lead_id.into()],
            ))
            .await?
            .ok_or_else(|| StoreError::Invalid(format!("lead {} does not exist", u.lead_id)))?;
        let phone: String = row.try_get("", "phone")?;
        let campaign_id: i64 = row.try_get("", "campaign_id")?;
        self.conn()
            .execute_raw(stmt(
                backend,
                "UPDATE leads SET status = ?, next_attempt_at_ms = ?, callback_at_ms = ?, \
                 last_outcome = ?, \
                 last_conversation_at_ms = COALESCE(?, last_conversation_at_ms), \
                 updated_at_ms = ? WHERE id = ?",
                vec![
                    u.status.as_str().into(),
                    u.next_attempt_at_ms.into(),
                    u.callback_at_ms.into(),
                    u.outcome.into(),
                    u.conversation_at_ms.into(),
                    u.at_ms.into(),
                    u.lead_id.into(),
                ],
            ))
            .await?;
        if u.status == LeadStatus::Dnc {
            self.add_dnc(
                DncScope::Campaign(campaign_id),
                &[phone.as_str()],
                Some("agent disposition"),
                Some(u.outcome),
                u.at_ms,
            )
            .await?;
        }
        Ok(())
    }

    /// An agent entered `state` at `started_at_ms` (`None`: logged out, no interval): store it
    /// as an open interval ([`Store::insert_agent_interval`] closes it). An open row of the
    /// agent still there is a state left the instant it was entered: the new state takes that
    /// row over (logging out closes it with no length), so it leaves no interval.
    pub async fn open_agent_interval(
        &self,
        agent_id: &str,
        state: Option<&str>,
        started_at_ms: i64,
        attempt_id: Option<i64>,
    ) -> Result<()> {
        let backend = self.backend();
        let txn = self.begin_write().await?;
        let Some(state) = state else {
            txn.execute_raw(stmt(
                backend,
                "UPDATE agent_state_intervals SET ended_at_ms = started_at_ms \
                 WHERE agent_id = ? AND ended_at_ms IS NULL",
                vec![agent_id.into()],
            ))
            .await?;
            txn.commit().await?;
            return Ok(());
        };
        let taken = txn
            .execute_raw(stmt(
                backend,
                "UPDATE agent_state_intervals SET state = ?, started_at_ms = ?, attempt_id = ?, \
                 campaign_id = NULL WHERE agent_id = ? AND ended_at_ms IS NULL",
                vec![
                    state.into(),
                    started_at_ms.into(),
                    attempt_id.into(),
                    agent_id.into(),
                ],
            ))
            .await?
            .rows_affected();
        if taken == 0 {
            txn.execute_raw(stmt(
                backend,
                "INSERT INTO agent_state_intervals (agent_id, state, started_at_ms, attempt_id) \
                 VALUES (?, ?, ?, ?)",
                vec![
                    agent_id.into(),
                    state.into(),
                    started_at_ms.into(),
                    attempt_id.into(),
                ],
            ))
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The agents' intervals a crash left open (`agents`: this node's, from `dialer.toml`):
    /// each is closed at the last moment the store knows the node was running (the latest time
    /// stored on its attempts or its agents' intervals, never before the interval began), so
    /// the time the daemon was down is nobody's talk or ready time. Run it before
    /// [`Store::close_interrupted`], whose ends are the restart's time. Returns how many.
    pub async fn close_open_intervals(&self, agents: &[String], node: &str) -> Result<u64> {
        if agents.is_empty() {
            return Ok(0);
        }
        let backend = self.backend();
        let txn = self.begin_write().await?;
        let marks = vec!["?"; agents.len()].join(", ");
        let args = || -> Vec<Value> { agents.iter().map(|a| a.as_str().into()).collect() };
        let seen = |r: &Option<sea_orm::QueryResult>, cols: &[&str]| -> Result<i64> {
            let mut best = i64::MIN;
            if let Some(r) = r {
                for c in cols {
                    if let Some(v) = r.try_get::<Option<i64>>("", c)? {
                        best = best.max(v);
                    }
                }
            }
            Ok(best)
        };
        let cols = [
            "dial", "ring", "answer", "amd", "connect", "message", "ended",
        ];
        let attempts = txn
            .query_one_raw(stmt(
                backend,
                "SELECT MAX(dial_at_ms) AS dial, MAX(ring_at_ms) AS ring, \
                 MAX(answer_at_ms) AS answer, MAX(amd_at_ms) AS amd, \
                 MAX(connect_at_ms) AS connect, MAX(message_at_ms) AS message, \
                 MAX(end_at_ms) AS ended FROM call_attempts WHERE node = ?",
                vec![node.into()],
            ))
            .await?;
        let intervals = txn
            .query_one_raw(stmt(
                backend,
                &format!(
                    "SELECT MAX(started_at_ms) AS dial, MAX(ended_at_ms) AS ended \
                     FROM agent_state_intervals WHERE agent_id IN ({marks})"
                ),
                args(),
            ))
            .await?;
        let last = seen(&attempts, &cols)?.max(seen(&intervals, &["dial", "ended"])?);
        // An interval that began after everything else ends where it began.
        let n = txn
            .execute_raw(stmt(
                backend,
                &format!(
                    "UPDATE agent_state_intervals SET ended_at_ms = \
                     CASE WHEN started_at_ms > ? THEN started_at_ms ELSE ? END \
                     WHERE ended_at_ms IS NULL AND agent_id IN ({marks})"
                ),
                {
                    let mut v = vec![last.into(), last.into()];
                    v.extend(args());
                    v
                },
            ))
            .await?
            .rows_affected();
        txn.commit().await?;
        Ok(n)
    }

    /// Store a closed agent state interval (closing its open row when there is one).
    pub async fn insert_agent_interval(
        &self,
        agent_id: &str,
        campaign_id: Option<i64>,
        state: &str,
        started_at_ms: i64,
        ended_at_ms: i64,
        attempt_id: Option<i64>,
    ) -> Result<()> {
        let backend = self.backend();
        let txn = self.begin_write().await?;
        let closed = txn
            .execute_raw(stmt(
                backend,
                "UPDATE agent_state_intervals SET campaign_id = ?, state = ?, ended_at_ms = ?, \
                 attempt_id = ? WHERE agent_id = ? AND started_at_ms = ? AND ended_at_ms IS NULL",
                vec![
                    campaign_id.into(),
                    state.into(),
                    ended_at_ms.into(),
                    attempt_id.into(),
                    agent_id.into(),
                    started_at_ms.into(),
                ],
            ))
            .await?
            .rows_affected();
        if closed > 0 {
            txn.commit().await?;
            return Ok(());
        }
        txn.execute_raw(stmt(
            backend,
            "INSERT INTO agent_state_intervals (agent_id, campaign_id, state, \
                 started_at_ms, ended_at_ms, attempt_id) VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                agent_id.into(),
                campaign_id.into(),
                state.into(),
                started_at_ms.into(),
                ended_at_ms.into(),
                attempt_id.into(),
            ],
        ))
        .await?;
        txn.commit().await?;
        Ok(())
    }
}
