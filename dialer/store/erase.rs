//! A person's data erased on request (`dialer erase --phone`): what is kept is what the law
//! requires of a call centre (each attempt's times and outcome, the number dialed, the DNC entry
//! and the opt-out evidence); the lead's attributes (name and every list column), the agents'
//! notes, the survey answers and the recordings go.

use sea_orm::ConnectionTrait;

use super::{Result, Store, stmt};

/// What an erasure touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erased {
    /// The leads with the number, in every campaign.
    pub lead_ids: Vec<i64>,
    /// The recordings' files, no longer named by any attempt: the caller deletes them.
    pub recordings: Vec<String>,
    pub survey_answers: u64,
    pub notes: u64,
}

/// A recording past its campaign's keep (see [`Store::expired_recordings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredRecording {
    pub attempt: i64,
    pub path: String,
    /// The campaign's name.
    pub campaign: String,
    /// The keep that applied, in milliseconds.
    pub keep_ms: i64,
    /// Whether it is the campaign's own `recording.keep` (else the global default).
    pub own_keep: bool,
}

impl Store {
    /// Attempts whose recording's call ended longer ago than its campaign's keep: the
    /// campaign's own `recording.keep` (`campaigns.recording_keep_ms`) when set, else
    /// `default_keep_ms` (`media.recordings_keep`; `None`: such recordings are kept). Oldest
    /// first, at most `limit`.
    pub async fn expired_recordings(
        &self,
        now_ms: i64,
        default_keep_ms: Option<i64>,
        limit: u64,
    ) -> Result<Vec<ExpiredRecording>> {
        let rows = self
            .conn()
            .query_all_raw(self.stmt(
                "SELECT a.id, a.recording_path, c.name, c.recording_keep_ms, \
                 COALESCE(c.recording_keep_ms, ?) AS keep_ms \
                 FROM call_attempts a JOIN campaigns c ON c.id = a.campaign_id \
                 WHERE a.recording_path IS NOT NULL AND a.end_at_ms IS NOT NULL \
                 AND ? - a.end_at_ms > COALESCE(c.recording_keep_ms, ?) \
                 ORDER BY a.end_at_ms LIMIT ?",
                vec![
                    default_keep_ms.into(),
                    now_ms.into(),
                    default_keep_ms.into(),
                    (limit as i64).into(),
                ],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ExpiredRecording {
                    attempt: r.try_get("", "id")?,
                    path: r.try_get("", "recording_path")?,
                    campaign: r.try_get("", "name")?,
                    keep_ms: r.try_get("", "keep_ms")?,
                    own_keep: r.try_get::<Option<i64>>("", "recording_keep_ms")?.is_some(),
                })
            })
            .collect()
    }

    /// The attempt's recording was deleted: the attempt no longer names it.
    pub async fn forget_recording(&self, attempt_id: i64) -> Result<()> {
        self.conn()
            .execute_raw(self.stmt(
                "UPDATE call_attempts SET recording_path = NULL WHERE id = ?",
                vec![attempt_id.into()],
            ))
            .await?;
        Ok(())
    }

    /// Erase what is stored of the person at `phone` (E.164), in one transaction, with an
    /// audit event (kind `erase`) naming what was erased. A number with no lead erases nothing
    /// and writes the event all the same (the request is on record).
    pub async fn erase_phone(&self, phone: &str, by: &str, at_ms: i64) -> Result<Erased> {
        let backend = self.backend();
        let txn = self.begin_write().await?;
        let rows = txn
            .query_all_raw(stmt(
                backend,
                "SELECT id FROM leads WHERE phone = ? ORDER BY id",
                vec![phone.into()],
            ))
            .await?;
        let mut e = Erased::default();
        for r in rows {
            e.lead_ids.push(r.try_get("", "id")?);
        }
        for &lead in &e.lead_ids {
            let recs = txn
                .query_all_raw(stmt(
                    backend,
                    "SELECT recording_path FROM call_attempts \
                     WHERE lead_id = ? AND recording_path IS NOT NULL ORDER BY id",
                    vec![lead.into()],
                ))
                .await?;
            for r in recs {
                e.recordings.push(r.try_get("", "recording_path")?);
            }
            txn.execute_raw(stmt(
                backend,
                "UPDATE call_attempts SET recording_path = NULL WHERE lead_id = ?",
                vec![lead.into()],
            ))
            .await?;
            // Anonymised, and never dialed again (a DNC lead stays DNC).
            txn.execute_raw(stmt(
                backend,
                "UPDATE leads SET attributes = '{}', \
                 status = CASE WHEN status = 'dnc' THEN 'dnc' ELSE 'done' END, \
                 next_attempt_at_ms = NULL, callback_at_ms = NULL, updated_at_ms = ? \
                 WHERE id = ?",
                vec![at_ms.into(), lead.into()],
            ))
            .await?;
            e.notes += txn
                .execute_raw(stmt(
                    backend,
                    "UPDATE dispositions SET notes = NULL WHERE lead_id = ? AND notes IS NOT NULL",
                    vec![lead.into()],
                ))
                .await?
                .rows_affected();
            e.survey_answers += txn
                .execute_raw(stmt(
                    backend,
                    "DELETE FROM survey_answers WHERE lead_id = ?",
                    vec![lead.into()],
                ))
                .await?
                .rows_affected();
        }
        let data = serde_json::json!({
            "by": by,
            "leads": e.lead_ids,
            "recordings": e.recordings.len(),
            "survey_answers": e.survey_answers,
            "notes": e.notes,
        });
        txn.execute_raw(stmt(
            backend,
            "INSERT INTO audit_events (at_ms, kind, message, data) VALUES (?, 'erase', ?, ?)",
            vec![
                at_ms.into(),
                format!(
                    "{by} erased the personal data of {} lead(s): attributes, {} recording(s), \
                     {} survey answer(s), {} note(s); attempts and DNC entries kept",
                    e.lead_ids.len(),
                    e.recordings.len(),
                    e.survey_answers,
                    e.notes
                )
                .into(),
                data.to_string().into(),
            ],
        ))
        .await?;
        txn.commit().await?;
        Ok(e)
    }
}
