//! A lead's history for the agent's screen pop: its earlier attempts, newest first, each with
//! the agent's disposition and notes when there was one.

use super::*;

/// Attempts shown at most (the newest).
pub const HISTORY_MAX: usize = 50;

/// One earlier attempt of a lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// When it was dialed.
    pub at_ms: i64,
    /// The call's outcome code.
    pub outcome: String,
    /// The agent's disposition code, if one was given.
    pub disposition: Option<String>,
    pub notes: Option<String>,
    /// The agent who gave the disposition, else the one who talked, if any.
    pub agent: Option<String>,
}

impl Store {
    /// The lead's ended attempts, newest first, at most [`HISTORY_MAX`] (a call still in
    /// progress has no outcome yet and is not history).
    pub async fn lead_history(&self, lead_id: i64) -> Result<Vec<HistoryEntry>> {
        let limit = i64::try_from(HISTORY_MAX).unwrap_or(i64::MAX);
        let rows = self
            .conn()
            .query_all_raw(self.stmt(
                "SELECT a.dial_at_ms, a.outcome, a.agent_id, d.code, d.notes, \
                 d.agent_id AS disposition_agent \
                 FROM call_attempts a LEFT JOIN dispositions d ON d.attempt_id = a.id \
                 WHERE a.lead_id = ? AND a.outcome IS NOT NULL \
                 ORDER BY a.dial_at_ms DESC, a.id DESC, d.id DESC LIMIT ?",
                vec![lead_id.into(), limit.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                let talked: Option<String> = r.try_get("", "agent_id")?;
                let disposed: Option<String> = r.try_get("", "disposition_agent")?;
                Ok(HistoryEntry {
                    at_ms: r.try_get("", "dial_at_ms")?,
                    outcome: r.try_get("", "outcome")?,
                    disposition: r.try_get("", "code")?,
                    notes: r.try_get("", "notes")?,
                    agent: disposed.or(talked),
                })
            })
            .collect()
    }
}
