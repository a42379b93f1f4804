//! The audit trail: what operators did to the running dialer (a campaign started, paused or
//! stopped through the API, a configuration reload, an agent logged out by a supervisor), with
//! who did it, so a call centre can trace each change. The daemon queues them to its store
//! writer; nothing waits on them.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::Query;

use super::{Result, Store};

/// One audit record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEvent {
    pub at_ms: i64,
    pub campaign_id: Option<i64>,
    pub lead_id: Option<i64>,
    pub attempt_id: Option<i64>,
    /// What happened: `campaign_control`, `reload`, `agent_logout`.
    pub kind: String,
    /// One line for people, naming who did it.
    pub message: String,
    /// The details as JSON (`by`, `via`, …).
    pub data: Option<String>,
}

impl Store {
    /// Record an audit event.
    pub async fn audit(&self, e: &AuditEvent) -> Result<()> {
        let q = Query::insert()
            .into_table("audit_events")
            .columns([
                "at_ms",
                "campaign_id",
                "lead_id",
                "attempt_id",
                "kind",
                "message",
                "data",
            ])
            .values_panic([
                e.at_ms.into(),
                e.campaign_id.into(),
                e.lead_id.into(),
                e.attempt_id.into(),
                e.kind.as_str().into(),
                e.message.as_str().into(),
                e.data.clone().into(),
            ])
            .to_owned();
        self.conn().execute(&q).await?;
        Ok(())
    }

    /// The audit events recorded at or after `since_ms`, oldest first.
    pub async fn audit_events(&self, since_ms: i64) -> Result<Vec<AuditEvent>> {
        let rows = self
            .conn()
            .query_all_raw(self.stmt(
                "SELECT at_ms, campaign_id, lead_id, attempt_id, kind, message, data \
                 FROM audit_events WHERE at_ms >= ? ORDER BY at_ms, id",
                vec![since_ms.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEvent {
                    at_ms: r.try_get("", "at_ms")?,
                    campaign_id: r.try_get("", "campaign_id")?,
                    lead_id: r.try_get("", "lead_id")?,
                    attempt_id: r.try_get("", "attempt_id")?,
                    kind: r.try_get("", "kind")?,
                    message: r.try_get("", "message")?,
                    data: r.try_get("", "data")?,
                })
            })
            .collect()
    }
}
