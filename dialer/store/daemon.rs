//! Writes the running daemon makes besides attempts: an agent's disposition applied to its
//! lead, and closed agent state intervals.

use sea_orm::ConnectionTrait;

use super::{DncScope, Result, Store, StoreError, stmt};

/// What an agent's disposition does to its lead.
#[derive(Debug, Clone, Default)]
pub struct LeadUpdate<'a> {
    pub lead_id: i64,
    /// `active`, `done`, `dnc`.
    pub status: &'a str,
    pub next_attempt_at_ms: Option<i64>,
    pub callback_at_ms: Option<i64>,
    /// The agent talked with the person (Regulation F's 7-day quiet period starts).
    pub conversation_at_ms: Option<i64>,
    /// The disposition code, stored as the lead's last outcome.
    pub outcome: &'a str,
    pub at_ms: i64,
}

impl Store {
    /// Apply an agent's disposition to its lead; a `dnc` status also puts the number on the
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
                    u.status.into(),
                    u.next_attempt_at_ms.into(),
                    u.callback_at_ms.into(),
                    u.outcome.into(),
                    u.conversation_at_ms.into(),
                    u.at_ms.into(),
                    u.lead_id.into(),
                ],
            ))
            .await?;
        if u.status == "dnc" {
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

    /// Store a closed agent state interval.
    pub async fn insert_agent_interval(
        &self,
        agent_id: &str,
        campaign_id: Option<i64>,
        state: &str,
        started_at_ms: i64,
        ended_at_ms: i64,
        attempt_id: Option<i64>,
    ) -> Result<()> {
        self.conn()
            .execute_raw(self.stmt(
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
        Ok(())
    }
}
