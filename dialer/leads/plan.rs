//! `dialer plan`: whether each lead of a campaign may be dialed at an instant, and why not.
//!
//! Read-only: runs the same [`compliance::check`] the scheduler runs on every lead. Small
//! campaigns get every lead; above [`DETAIL_LIMIT`] leads, a count per reason with a few
//! sample leads each.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::{LeadsError, Zones, facts};
use crate::campaign::Campaign;
use crate::compliance;
use crate::store::Store;

/// Up to this many leads, the plan lists each one.
pub const DETAIL_LIMIT: u64 = 50;
/// Sample leads shown per reason in a summary.
pub const SAMPLES: usize = 3;

/// One lead's verdict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub lead_id: i64,
    pub phone: String,
    /// The zone whose clock applies (the lead's, else the campaign's).
    pub zone: String,
    /// The lead's local time at the instant.
    pub local_time: String,
    pub dialable: bool,
    /// `dialable`, or the refusal code (`outside_hours`, `retry_delay`, …).
    pub code: String,
    pub reason: String,
}

/// Leads with the same verdict code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReasonCount {
    pub code: String,
    pub count: u64,
    pub samples: Vec<Verdict>,
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    pub campaign: String,
    pub at: String,
    pub total: u64,
    pub dialable: u64,
    /// One entry per verdict code, most frequent first.
    pub reasons: Vec<ReasonCount>,
    /// Every lead, when there are at most [`DETAIL_LIMIT`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leads: Option<Vec<Verdict>>,
}

/// Judge every lead of the campaign at `at`.
pub async fn plan(
    store: &Store,
    c: &Campaign,
    campaign_id: i64,
    at: Timestamp,
) -> Result<Plan, LeadsError> {
    let mut zones = Zones::default();
    let mut recent = Vec::new();
    let mut counts: BTreeMap<String, ReasonCount> = BTreeMap::new();
    let mut all = Vec::new();
    let mut total = 0u64;
    let mut dialable = 0u64;
    let mut after = 0i64;
    loop {
        let page = store.leads_page(campaign_id, after, 5000).await?;
        let Some(last) = page.last() else { break };
        after = last.lead.id;
        for row in &page {
            let zone = row
                .lead
                .timezone
                .as_deref()
                .and_then(|z| zones.get(z).cloned());
            let zone_name = match (&zone, &row.lead.timezone) {
                (Some(_), Some(n)) => n.clone(),
                (None, Some(n)) => n.clone(),
                _ => c.hours.timezone_name.clone(),
            };
            let local_time = zone
                .as_ref()
                .or(row.lead.timezone.is_none().then_some(&c.hours.timezone))
                .map(|z| z.to_datetime(at).strftime("%a %Y-%m-%d %H:%M").to_string())
                .unwrap_or_default();
            let f = facts(row, zone.as_ref(), &mut recent);
            let (ok, code, reason) = match compliance::check(c, &f, at) {
                Ok(()) => (true, "dialable".to_string(), "may be dialed".to_string()),
                Err(r) => (false, r.code().to_string(), r.to_string()),
            };
            total += 1;
            if ok {
                dialable += 1;
            }
            let v = Verdict {
                lead_id: row.lead.id,
                phone: row.lead.phone.clone(),
                zone: zone_name,
                local_time,
                dialable: ok,
                code: code.clone(),
                reason,
            };
            let e = counts.entry(code.clone()).or_insert_with(|| ReasonCount {
                code,
                count: 0,
                samples: Vec::new(),
            });
            e.count += 1;
            if e.samples.len() < SAMPLES {
                e.samples.push(v.clone());
            }
            if total <= DETAIL_LIMIT {
                all.push(v);
            }
        }
    }
    let mut reasons: Vec<ReasonCount> = counts.into_values().collect();
    reasons.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
    Ok(Plan {
        campaign: c.name.clone(),
        at: at.to_string(),
        total,
        dialable,
        reasons,
        leads: (total <= DETAIL_LIMIT).then_some(all),
    })
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "campaign {} at {}: {} of {} leads may be dialed",
            self.campaign, self.at, self.dialable, self.total
        )?;
        match &self.leads {
            Some(leads) => {
                for v in leads {
                    writeln!(
                        f,
                        "  {:>6} {:<16} {:<24} {}",
                        v.lead_id,
                        v.phone,
                        format!("{} ({})", v.local_time, v.zone),
                        if v.dialable { "ok" } else { &v.reason }
                    )?;
                }
            }
            None => {
                for r in &self.reasons {
                    writeln!(f, "  {:>8}  {}", r.count, r.code)?;
                    for v in &r.samples {
                        writeln!(
                            f,
                            "            e.g. lead {} {} ({} {}): {}",
                            v.lead_id, v.phone, v.local_time, v.zone, v.reason
                        )?;
                    }
                }
            }
        }
        Ok(())
    }
}
