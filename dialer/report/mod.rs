//! Campaign reports from the CRM store: what `dialer report` prints and charts.
//!
//! [`build`] reads one campaign's attempts, dispositions and agent state intervals for a period
//! `[since, until)` ([`Store::report_rows`], plain rows) and computes the figures of a
//! [`Report`]; [`table`], [`csv`] and [`svg`] render it. The arithmetic ([`compute`]) is a pure
//! function of the rows, so it is tested on hand-made shifts as well as through the store.
//!
//! # Definitions
//!
//! - **dials**: attempts of the campaign dialed in the period (`dial_at_ms` in `[since, until)`).
//! - **contacts**: those a person answered (`live`); **contact rate** = contacts / dials.
//! - **abandon rate** = abandoned / live answers, over the period and over the campaign's
//!   *regulatory window ending at `until`*: US `rolling_30_days` = `[until − 30 d, until)`;
//!   UK `calendar_day` = from local midnight (campaign zone) of the day holding `until − 1 ms`
//!   to `until`. The cap is the campaign's `abandon.cap`.
//! - **UK estimate of people among AMD machines** (Ofcom): the window's attempts AMD called
//!   machines × the campaign's `abandon.amd_false_positive_rate` (default 2 %, the detector's rate
//!   on its corpus) are people hung up on: the estimate is added to both the abandoned calls and
//!   the live answers of the window's rate (and of the series' window rates), as the pacer's
//!   budget counts them. US rules add nothing (rate 0). The period's own `abandon_rate` is the
//!   plain count.
//! - Agent time comes from `agent_state_intervals`, clipped to the period; an open interval
//!   (no end) runs to `min(until, now)`. States: `ready`, `preview` (looking at a preview
//!   campaign's lead and dialing it, until the answer; the interval names the campaign),
//!   `on_call` (talk), `wrap_up`, `paused`; `connecting` and `logged_out` are not logged-in time.
//! - **Which agent time belongs to the campaign.** An interval counts fully when its
//!   `campaign_id` is the campaign, or, having none, when its `attempt_id` is a call of the
//!   campaign. Intervals of other campaigns never count. Intervals with no campaign at all
//!   (typically `ready` and `paused`: an idle agent serves every campaign of its groups) count
//!   with the agent's *share*: the fraction of its work time (preview + talk + wrap) in the
//!   period that was for this campaign; an agent with no talk or wrap time at all in the period gets share 1 when it
//!   is in the campaign's roster (its agent groups in `dialer.toml`) and 0 otherwise.
//! - **work** = preview + on_call + wrap_up (previewing a lead is work: VICIdial-style manual
//!   dialing counts it as the agent's time on the lead). **occupancy** = work / (ready + work);
//!   **utilization** = work / (ready + work + paused). **shed rate** = dials the pacer hung up
//!   while they rang (outcome `shed`) / dials, reported beside occupancy (it is what the
//!   occupancy of a predictive campaign that sheds costs in short calls).
//! - **handled calls**: distinct attempts with an `on_call` interval of the campaign in the
//!   period (an interval without attempt id counts once); **average handle time** =
//!   (talk + wrap) / handled calls; **talk minutes per agent hour** = talk minutes /
//!   logged-in hours.
//! - **dispositions**: rows of `dispositions` created in the period, by code; **successes** are
//!   those whose code the campaign file marks `success = true`; **successes per agent hour** =
//!   successes / logged-in hours.
//! - **survey answers**: rows of `survey_answers` given in the period, per question and value.
//! - **series**: the period cut into equal buckets (1 min … 1 week, at most 48, aligned to
//!   multiples of the bucket size since the epoch; the first and last are clipped to the period),
//!   each with its dials, live answers, abandons, its own abandon rate, the regulatory window's
//!   abandon rate ending at the bucket's end, and occupancy.
//!
//! Rates whose denominator is zero are `None` (JSON `null`).

mod chart;
pub mod compliance;
mod compute;
mod format;

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::campaign::{AbandonWindow, Campaign};
use crate::store::{Store, StoreError};

pub use crate::store::report::{
    AttemptRow, DispositionRow, IntervalRow, LiveRow, ReportRows, SurveyRow,
};
pub use chart::svg;
pub use compute::{compute, window_range, windows_since};
pub use format::{csv, table};

/// What can go wrong building a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("campaign {0:?} is not in the store (nothing was dialed or imported for it)")]
    UnknownCampaign(String),
    #[error("the period is empty: since {since} is not before until {until}")]
    EmptyPeriod { since: String, until: String },
    #[error("cannot write the report: {0}")]
    Write(String),
}

/// The campaign rules a report needs: abandon window and cap, success codes, zone.
#[derive(Debug, Clone)]
pub struct Policy {
    pub window: AbandonWindow,
    pub cap: f64,
    /// Disposition codes that count as successes.
    pub success: BTreeSet<String>,
    /// The campaign's zone: calendar days (UK window) and chart labels.
    pub timezone: TimeZone,
    /// UK: the share of AMD "machine" results counted as people hung up on; 0 under US rules.
    pub amd_false_positive_rate: f64,
    /// Where these rules came from (a campaign file, or the store's regime).
    pub source: String,
}

impl Policy {
    /// The rules of a loaded campaign file.
    pub fn from_campaign(c: &Campaign) -> Policy {
        Policy {
            window: c.abandon.window,
            cap: c.abandon.cap,
            success: c
                .dispositions
                .iter()
                .filter(|d| d.success)
                .map(|d| d.code.clone())
                .collect(),
            timezone: c.hours.timezone.clone(),
            amd_false_positive_rate: match c.regime {
                crate::campaign::Regime::Uk => c.abandon.amd_false_positive_rate,
                crate::campaign::Regime::Us => 0.0,
            },
            source: c.source.display().to_string(),
        }
    }

    /// The legal defaults of a regime (`us` or `uk`) when the campaign file is not at hand:
    /// cap 3 %, no success codes, the default UK estimate of people among AMD machines.
    pub fn for_regime(regime: &str) -> Policy {
        let (window, zone, fp) = if regime == "uk" {
            (
                AbandonWindow::CalendarDay,
                "Europe/London",
                crate::campaign::UK_AMD_FALSE_POSITIVE_DEFAULT,
            )
        } else {
            (AbandonWindow::Rolling30Days, "America/New_York", 0.0)
        };
        Policy {
            window,
            cap: 0.03,
            success: BTreeSet::new(),
            timezone: TimeZone::get(zone).unwrap_or(TimeZone::UTC),
            amd_false_positive_rate: fp,
            source: format!("defaults of regime {regime:?} (campaign file not found)"),
        }
    }
}

/// What to report on.
#[derive(Debug, Clone)]
pub struct Params {
    pub campaign: String,
    /// Inclusive start, unix ms.
    pub since_ms: i64,
    /// Exclusive end, unix ms.
    pub until_ms: i64,
    /// The present (open intervals run to `min(until, now)`).
    pub now_ms: i64,
    pub policy: Policy,
    /// Agents of the campaign's groups (attribution of idle agents' time); `None`: unknown.
    pub roster: Option<BTreeSet<String>>,
    /// Bucket size of the series; `None` picks one (at most 48 buckets).
    pub bucket_ms: Option<i64>,
}

/// A campaign report. Field names are stable (they are the JSON output).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    pub campaign: String,
    pub campaign_id: i64,
    pub since: String,
    pub until: String,
    pub since_ms: i64,
    pub until_ms: i64,
    /// Where the abandon window, cap and success codes came from.
    pub policy_source: String,
    pub dials: u64,
    pub contacts: u64,
    pub contact_rate: Option<f64>,
    pub abandoned: u64,
    /// Abandoned / live answers over the period.
    pub abandon_rate: Option<f64>,
    pub abandon_window: AbandonWindowReport,
    /// Attempts in the period by outcome (`in_progress` for those not ended).
    pub outcomes: BTreeMap<String, u64>,
    /// Dials the pacer hung up while they rang (outcome `shed`) / dials.
    pub shed_rate: Option<f64>,
    pub agent_time: AgentTime,
    pub occupancy: Option<f64>,
    pub utilization: Option<f64>,
    pub handled_calls: u64,
    pub average_handle_time_s: Option<f64>,
    pub talk_minutes_per_agent_hour: Option<f64>,
    pub dispositions: BTreeMap<String, u64>,
    /// Survey answers given in the period: question → stored value → count.
    pub survey_answers: BTreeMap<String, BTreeMap<String, u64>>,
    pub success_codes: Vec<String>,
    pub successes: u64,
    pub successes_per_agent_hour: Option<f64>,
    pub agents: Vec<AgentReport>,
    pub series: Series,
}

/// The abandon rate over the campaign's regulatory window ending at `until`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AbandonWindowReport {
    /// `rolling_30_days` (US) or `calendar_day` (UK, campaign zone).
    pub kind: String,
    pub since: String,
    pub until: String,
    pub since_ms: i64,
    pub until_ms: i64,
    pub live: u64,
    pub abandoned: u64,
    /// UK: attempts AMD called machines in the window.
    pub amd_machines: u64,
    /// UK: the share of them counted as people (0 under US rules).
    pub amd_false_positive_rate: f64,
    /// `amd_machines × amd_false_positive_rate`: people estimated hung up on as machines.
    pub estimated_people_among_machines: f64,
    /// (abandoned + estimate) / (live + estimate).
    pub rate: Option<f64>,
    pub cap: f64,
    pub over_cap: bool,
}

/// Agent time attributed to the campaign, in seconds.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct AgentTime {
    pub ready_s: f64,
    /// Previewing leads of the campaign (and dialing them, until the answer).
    pub preview_s: f64,
    pub on_call_s: f64,
    pub wrap_up_s: f64,
    pub paused_s: f64,
    /// ready + preview + on_call + wrap_up + paused.
    pub logged_in_s: f64,
}

/// One agent's figures for the campaign.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AgentReport {
    pub agent: String,
    pub calls: u64,
    pub talk_s: f64,
    pub wrap_s: f64,
    pub preview_s: f64,
    pub ready_s: f64,
    pub paused_s: f64,
    pub logged_in_s: f64,
    pub occupancy: Option<f64>,
    pub utilization: Option<f64>,
    pub average_handle_time_s: Option<f64>,
    pub successes: u64,
}

/// The period in buckets, for the chart.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Series {
    pub bucket_s: i64,
    pub buckets: Vec<Bucket>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Bucket {
    pub start: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub dials: u64,
    pub live: u64,
    pub abandoned: u64,
    /// Abandoned / live among this bucket's dials.
    pub abandon_rate: Option<f64>,
    /// The regulatory window's abandon rate (with the UK estimate), the window ending at this
    /// bucket's end.
    pub window_abandon_rate: Option<f64>,
    pub occupancy: Option<f64>,
    /// Dials the pacer hung up while they rang (outcome `shed`) / dials, among this bucket's
    /// dials.
    pub shed_rate: Option<f64>,
    /// Average agents logged in and not paused (ready + on_call + wrap_up time / bucket length).
    pub staffed_agents: f64,
}

/// Read the store and compute the report.
pub async fn build(store: &Store, p: &Params) -> Result<Report, ReportError> {
    if p.since_ms >= p.until_ms {
        return Err(ReportError::EmptyPeriod {
            since: rfc3339(p.since_ms),
            until: rfc3339(p.until_ms),
        });
    }
    let id = store
        .campaign_id(&p.campaign)
        .await?
        .ok_or_else(|| ReportError::UnknownCampaign(p.campaign.clone()))?;
    let rows = store
        .report_rows(id, p.since_ms, p.until_ms, windows_since(p))
        .await?;
    Ok(compute(p, id, &rows))
}

/// Unix ms as RFC 3339 UTC (`2026-11-27T09:00:00Z`).
pub fn rfc3339(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => t.to_string(),
        Err(_) => ms.to_string(),
    }
}

#[cfg(test)]
mod tests;

/// Where the compliance report's rows start: the first abandon window of its first day.
pub fn compliance_since(policy: &Policy, since_ms: i64) -> i64 {
    window_range(policy, since_ms).0.min(since_ms) - 86_400_000
}
