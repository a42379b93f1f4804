//! Reads for reports: the rows of one campaign's period that `dialer report` computes its
//! figures from, and the whole store's totals that `dialer demo` prints after a run. Plain rows
//! and counts; the arithmetic stays with the callers (`report::compute`, `cli::demo`).

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, QueryResult};

use super::{Result, Store};
use crate::domain::AmdResult;

/// An attempt dialed in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub dial_at_ms: i64,
    /// `None` while the call is not over.
    pub outcome: Option<String>,
    pub live: bool,
    pub abandoned: bool,
}

/// A live answer in the span the abandon windows need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveRow {
    pub dial_at_ms: i64,
    pub abandoned: bool,
}

/// An agent state interval overlapping the period (of any campaign).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalRow {
    pub agent_id: String,
    /// The interval's campaign, else its attempt's campaign.
    pub campaign_id: Option<i64>,
    pub state: String,
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    pub attempt_id: Option<i64>,
}

/// A disposition created in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispositionRow {
    pub code: String,
    pub agent_id: Option<String>,
    pub at_ms: i64,
}

/// A survey answer given in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyRow {
    pub question: String,
    pub answer: String,
}

/// The rows of one campaign a report is computed from ([`Store::report_rows`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportRows {
    pub attempts: Vec<AttemptRow>,
    /// Sorted by `dial_at_ms`.
    pub live: Vec<LiveRow>,
    /// Dial times of attempts AMD called machines, in the span the abandon windows need.
    pub amd_machines: Vec<i64>,
    pub intervals: Vec<IntervalRow>,
    pub dispositions: Vec<DispositionRow>,
    pub survey: Vec<SurveyRow>,
}

/// Totals over the whole store, for `dialer demo`'s summary ([`Store::shift_totals`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShiftTotals {
    pub attempts: u64,
    /// Attempts with no end.
    pub unfinished: u64,
    /// Attempts whose timestamps are out of order (dial ≤ ring ≤ answer ≤ AMD ≤ connect ≤ end).
    pub inconsistent: u64,
    /// Attempts by outcome (`unfinished` for those not ended).
    pub by_outcome: BTreeMap<String, u64>,
    /// Attempts by campaign name.
    pub by_campaign: BTreeMap<String, u64>,
    /// Attempts of the campaigns asked about that name no agent.
    pub without_agent: u64,
    pub live: u64,
    pub abandoned: u64,
    /// Closed agent state intervals by agent and state.
    pub agent_states: Vec<AgentStateTotal>,
}

/// One agent's closed intervals in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStateTotal {
    pub agent_id: String,
    pub state: String,
    /// Their summed length.
    pub ms: i64,
    /// How many.
    pub count: u64,
}

impl Store {
    /// The rows of campaign `campaign_id` for a report of `[since_ms, until_ms)`: its attempts,
    /// dispositions and survey answers of the period, every agent interval overlapping it, and
    /// its live answers and AMD machines from `windows_since_ms` (the earliest abandon window
    /// start the report needs) to `until_ms`.
    pub async fn report_rows(
        &self,
        campaign_id: i64,
        since_ms: i64,
        until_ms: i64,
        windows_since_ms: i64,
    ) -> Result<ReportRows> {
        let db = self.conn();
        let (id, since, until, lo) = (campaign_id, since_ms, until_ms, windows_since_ms);

        let rows = db
            .query_all_raw(self.stmt(
                "SELECT dial_at_ms, outcome, live, abandoned FROM call_attempts \
                 WHERE campaign_id = ? AND dial_at_ms >= ? AND dial_at_ms < ?",
                vec![id.into(), since.into(), until.into()],
            ))
            .await?;
        let attempts = rows
            .iter()
            .map(|r| {
                Ok(AttemptRow {
                    dial_at_ms: r.try_get("", "dial_at_ms")?,
                    outcome: r.try_get("", "outcome")?,
                    live: r.try_get("", "live")?,
                    abandoned: r.try_get("", "abandoned")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;

        let rows = db
            .query_all_raw(self.stmt(
                "SELECT dial_at_ms, abandoned FROM call_attempts \
                 WHERE campaign_id = ? AND live AND dial_at_ms >= ? AND dial_at_ms < ? \
                 ORDER BY dial_at_ms",
                vec![id.into(), lo.into(), until.into()],
            ))
            .await?;
        let live = rows
            .iter()
            .map(|r| {
                Ok(LiveRow {
                    dial_at_ms: r.try_get("", "dial_at_ms")?,
                    abandoned: r.try_get("", "abandoned")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;

        let rows = db
            .query_all_raw(self.stmt(
                "SELECT dial_at_ms FROM call_attempts \
                 WHERE campaign_id = ? AND amd_result = ? AND dial_at_ms >= ? AND dial_at_ms < ?",
                vec![
                    id.into(),
                    AmdResult::Machine.as_str().into(),
                    lo.into(),
                    until.into(),
                ],
            ))
            .await?;
        let amd_machines = rows
            .iter()
            .map(|r| Ok(r.try_get("", "dial_at_ms")?))
            .collect::<Result<Vec<i64>>>()?;

        let rows = db
            .query_all_raw(self.stmt(
                "SELECT i.agent_id, i.campaign_id, a.campaign_id AS attempt_campaign_id, i.state, \
                 i.started_at_ms, i.ended_at_ms, i.attempt_id \
                 FROM agent_state_intervals i LEFT JOIN call_attempts a ON a.id = i.attempt_id \
                 WHERE i.started_at_ms < ? AND (i.ended_at_ms IS NULL OR i.ended_at_ms > ?) \
                 ORDER BY i.agent_id, i.started_at_ms",
                vec![until.into(), since.into()],
            ))
            .await?;
        let intervals = rows.iter().map(interval_row).collect::<Result<Vec<_>>>()?;

        let rows = db
            .query_all_raw(self.stmt(
                "SELECT code, agent_id, created_at_ms FROM dispositions \
                 WHERE campaign_id = ? AND created_at_ms >= ? AND created_at_ms < ?",
                vec![id.into(), since.into(), until.into()],
            ))
            .await?;
        let dispositions = rows
            .iter()
            .map(|r| {
                Ok(DispositionRow {
                    code: r.try_get("", "code")?,
                    agent_id: r.try_get("", "agent_id")?,
                    at_ms: r.try_get("", "created_at_ms")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;

        let rows = db
            .query_all_raw(self.stmt(
                "SELECT question, answer FROM survey_answers \
                 WHERE campaign_id = ? AND answered_at_ms >= ? AND answered_at_ms < ?",
                vec![id.into(), since.into(), until.into()],
            ))
            .await?;
        let survey = rows
            .iter()
            .map(|r| {
                Ok(SurveyRow {
                    question: r.try_get("", "question")?,
                    answer: r.try_get("", "answer")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;

        Ok(ReportRows {
            attempts,
            live,
            amd_machines,
            intervals,
            dispositions,
            survey,
        })
    }

    /// The regime (`us`, `uk`) the store has for a campaign, if it has the campaign.
    pub async fn campaign_regime(&self, name: &str) -> Result<Option<String>> {
        let row = self
            .conn()
            .query_one_raw(self.stmt(
                "SELECT regime FROM campaigns WHERE name = ?",
                vec![name.into()],
            ))
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("", "regime")?),
            None => None,
        })
    }

    /// Totals over every attempt and closed agent interval of the store; `without_agent` counts
    /// the attempts of `campaigns` (by name) that name no agent.
    pub async fn shift_totals(&self, campaigns: &[String]) -> Result<ShiftTotals> {
        let conn = self.conn();
        let q = |sql: &str| self.stmt(sql, vec![]);
        let count = |r: &QueryResult, c: &str| -> Result<u64> {
            let v: Option<i64> = r.try_get("", c)?;
            Ok(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
        };
        let mut t = ShiftTotals::default();
        for r in conn
            .query_all_raw(q(
                "SELECT COALESCE(outcome, 'unfinished') AS o, COUNT(*) AS n FROM call_attempts GROUP BY o",
            ))
            .await?
        {
            t.by_outcome
                .insert(r.try_get::<String>("", "o")?, count(&r, "n")?);
        }
        for r in conn
            .query_all_raw(q(
                "SELECT c.name AS name, COUNT(*) AS n FROM call_attempts a \
                 JOIN campaigns c ON c.id = a.campaign_id GROUP BY c.name",
            ))
            .await?
        {
            t.by_campaign
                .insert(r.try_get::<String>("", "name")?, count(&r, "n")?);
        }
        for name in campaigns {
            let r = conn
                .query_one_raw(self.stmt(
                    "SELECT COUNT(*) AS n FROM call_attempts a JOIN campaigns c \
                     ON c.id = a.campaign_id WHERE c.name = ? AND a.agent_id IS NULL",
                    vec![name.as_str().into()],
                ))
                .await?;
            if let Some(r) = r {
                t.without_agent += count(&r, "n")?;
            }
        }
        let row = conn
            .query_one_raw(q("SELECT COUNT(*) AS attempts, \
                 SUM(CASE WHEN end_at_ms IS NULL THEN 1 ELSE 0 END) AS unfinished, \
                 SUM(CASE WHEN end_at_ms < dial_at_ms OR ring_at_ms < dial_at_ms \
                 OR answer_at_ms < dial_at_ms OR amd_at_ms < answer_at_ms \
                 OR connect_at_ms < answer_at_ms OR end_at_ms < answer_at_ms \
                 OR end_at_ms < connect_at_ms THEN 1 ELSE 0 END) AS inconsistent, \
                 SUM(CASE WHEN live THEN 1 ELSE 0 END) AS live, \
                 SUM(CASE WHEN abandoned THEN 1 ELSE 0 END) AS abandoned \
                 FROM call_attempts"))
            .await?;
        if let Some(r) = row {
            t.attempts = count(&r, "attempts")?;
            t.unfinished = count(&r, "unfinished")?;
            t.inconsistent = count(&r, "inconsistent")?;
            t.live = count(&r, "live")?;
            t.abandoned = count(&r, "abandoned")?;
        }
        for r in conn
            .query_all_raw(q(
                "SELECT agent_id, state, CAST(SUM(ended_at_ms - started_at_ms) AS BIGINT) AS ms, \
                 COUNT(*) AS n \
                 FROM agent_state_intervals WHERE ended_at_ms IS NOT NULL \
                 GROUP BY agent_id, state ORDER BY agent_id, state",
            ))
            .await?
        {
            t.agent_states.push(AgentStateTotal {
                agent_id: r.try_get("", "agent_id")?,
                state: r.try_get("", "state")?,
                ms: r.try_get::<Option<i64>>("", "ms")?.unwrap_or(0),
                count: count(&r, "n")?,
            });
        }
        Ok(t)
    }
}

fn interval_row(r: &QueryResult) -> Result<IntervalRow> {
    let own: Option<i64> = r.try_get("", "campaign_id")?;
    let of_attempt: Option<i64> = r.try_get("", "attempt_campaign_id")?;
    Ok(IntervalRow {
        agent_id: r.try_get("", "agent_id")?,
        campaign_id: own.or(of_attempt),
        state: r.try_get("", "state")?,
        started_at_ms: r.try_get("", "started_at_ms")?,
        ended_at_ms: r.try_get("", "ended_at_ms")?,
        attempt_id: r.try_get("", "attempt_id")?,
    })
}
