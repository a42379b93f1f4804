//! The rows a report reads from the store (SQLite and PostgreSQL alike).

use sea_orm::{ConnectionTrait, QueryResult};

use super::Params;
use super::compute::{buckets, window_range};
use crate::store::{Store, StoreError};

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

/// Everything [`super::compute`] needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Data {
    pub attempts: Vec<AttemptRow>,
    /// Sorted by `dial_at_ms`.
    pub live: Vec<LiveRow>,
    /// Dial times of attempts AMD called machines, in the span the abandon windows need.
    pub amd_machines: Vec<i64>,
    pub intervals: Vec<IntervalRow>,
    pub dispositions: Vec<DispositionRow>,
    pub survey: Vec<SurveyRow>,
}

/// Read the rows of campaign `id` for `p`.
pub async fn load(store: &Store, id: i64, p: &Params) -> Result<Data, StoreError> {
    let db = store.conn();
    let (since, until) = (p.since_ms, p.until_ms);

    let rows = db
        .query_all_raw(store.stmt(
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
        .collect::<Result<Vec<_>, StoreError>>()?;

    // The earliest window start any bucket end (or `until`) needs.
    let lo = buckets(p)
        .iter()
        .map(|&(_, end)| window_range(&p.policy, end).0)
        .chain([window_range(&p.policy, until).0, since])
        .min()
        .unwrap_or(since);
    let rows = db
        .query_all_raw(store.stmt(
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
        .collect::<Result<Vec<_>, StoreError>>()?;

    let rows = db
        .query_all_raw(store.stmt(
            "SELECT dial_at_ms FROM call_attempts \
             WHERE campaign_id = ? AND amd_result = 'machine' AND dial_at_ms >= ? AND dial_at_ms < ?",
            vec![id.into(), lo.into(), until.into()],
        ))
        .await?;
    let amd_machines = rows
        .iter()
        .map(|r| Ok(r.try_get("", "dial_at_ms")?))
        .collect::<Result<Vec<i64>, StoreError>>()?;

    let rows = db
        .query_all_raw(store.stmt(
            "SELECT i.agent_id, i.campaign_id, a.campaign_id AS attempt_campaign_id, i.state, \
             i.started_at_ms, i.ended_at_ms, i.attempt_id \
             FROM agent_state_intervals i LEFT JOIN call_attempts a ON a.id = i.attempt_id \
             WHERE i.started_at_ms < ? AND (i.ended_at_ms IS NULL OR i.ended_at_ms > ?) \
             ORDER BY i.agent_id, i.started_at_ms",
            vec![until.into(), since.into()],
        ))
        .await?;
    let intervals = rows
        .iter()
        .map(interval_row)
        .collect::<Result<Vec<_>, StoreError>>()?;

    let rows = db
        .query_all_raw(store.stmt(
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
        .collect::<Result<Vec<_>, StoreError>>()?;

    let rows = db
        .query_all_raw(store.stmt(
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
        .collect::<Result<Vec<_>, StoreError>>()?;

    Ok(Data {
        attempts,
        live,
        amd_machines,
        intervals,
        dispositions,
        survey,
    })
}

fn interval_row(r: &QueryResult) -> Result<IntervalRow, StoreError> {
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
