//! `dialer plan`: whether each lead of a campaign may be dialed at an instant, and why not.
//!
//! Read-only: runs the same [`compliance::check`] the scheduler runs on every lead. Small
//! campaigns get every lead; above [`DETAIL_LIMIT`] leads, a count per reason with a few
//! sample leads each.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::{LeadsError, Places, Zones, facts, place_of};
use crate::campaign::Campaign;
use crate::compliance::{self, Refusal};
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
    /// The zone whose clock applies (the lead's, else the campaign's); with several candidate
    /// zones, the one that closed the window, else the first.
    pub zone: String,
    /// The lead's local time at the instant (in `zone`).
    pub local_time: String,
    /// Every zone the number may ring in (the rules must hold in each).
    pub zones: Vec<String>,
    /// The regions whose rules apply (`US-FL`; `US-*`: every state's).
    pub regions: Vec<String>,
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
    /// The registry the campaign scrubs against, and how fresh its loaded data are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistryState>,
    /// The version of the shipped state rules.
    pub rules_version: String,
}

/// A campaign's registry as `dialer plan` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegistryState {
    pub registry: String,
    /// The date of the newest loaded data (RFC 3339), if any.
    pub loaded: Option<String>,
    pub max_age_days: Option<i64>,
    pub fresh: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Judge every lead of the campaign at `at`.
pub async fn plan(
    store: &Store,
    c: &Campaign,
    campaign_id: i64,
    at: Timestamp,
) -> Result<Plan, LeadsError> {
    let mut zones = Zones::default();
    let mut places = Places::default();
    let mut recent = Vec::new();
    let (registry, stale) = match c.dnc.registry {
        None => (None, None),
        Some(reg) => {
            let loaded = super::scheduler::registry_date(store, reg).await?;
            let verdict = compliance::registry::fresh(reg, loaded, at).err();
            (
                Some(RegistryState {
                    registry: reg.as_str().to_string(),
                    loaded: loaded.map(|t| t.to_string()),
                    max_age_days: reg.max_age_days(),
                    fresh: verdict.is_none(),
                    problem: verdict.as_ref().map(Refusal::to_string),
                }),
                verdict,
            )
        }
    };
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
            let (place, zone, name) = place_of(row, &mut zones, &mut places);
            let f = facts(
                row,
                place.as_deref(),
                zone.as_ref(),
                name.as_deref(),
                &mut recent,
            );
            let verdict = compliance::check(c, &f, at).and_then(|()| match &stale {
                Some(r) => Err(r.clone()),
                None => Ok(()),
            });
            // The candidate zones, and the one whose clock is shown: the zone that closed the
            // window, else the first candidate.
            let campaign_zone = || (c.hours.timezone_name.clone(), c.hours.timezone.clone());
            let candidates: Vec<(String, jiff::tz::TimeZone)> = match (&place, &zone, &name) {
                (Some(p), _, _) if !p.zones.is_empty() => p.zones.clone(),
                (None, Some(z), Some(n)) => vec![(n.clone(), z.clone())],
                (None, None, Some(_)) => Vec::new(),
                _ => vec![campaign_zone()],
            };
            let closing = match &verdict {
                Err(Refusal::OutsideHours { zone, .. } | Refusal::StateRule { zone, .. }) => {
                    candidates.iter().find(|(n, _)| n == zone).cloned()
                }
                _ => None,
            };
            let shown = closing.or_else(|| candidates.first().cloned());
            let zone_name = match (&shown, &name) {
                (Some((n, _)), _) => n.clone(),
                (None, Some(n)) => n.clone(),
                (None, None) => c.hours.timezone_name.clone(),
            };
            let local_time = shown
                .map(|(_, z)| z.to_datetime(at).strftime("%a %Y-%m-%d %H:%M").to_string())
                .unwrap_or_default();
            let (ok, code, reason) = match verdict {
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
                zones: candidates.into_iter().map(|(n, _)| n).collect(),
                regions: place.map(|p| p.regions.clone()).unwrap_or_default(),
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
        registry,
        rules_version: compliance::states::SHIPPED.version.clone(),
    })
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "campaign {} at {}: {} of {} leads may be dialed (state rules {})",
            self.campaign, self.at, self.dialable, self.total, self.rules_version
        )?;
        if let Some(r) = &self.registry {
            match &r.problem {
                None => writeln!(
                    f,
                    "  registry {}: data of {} (fresh)",
                    r.registry,
                    r.loaded.as_deref().unwrap_or("-")
                )?,
                Some(p) => writeln!(f, "  registry {}: REFUSES TO DIAL: {p}", r.registry)?,
            }
        }
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
                    if v.zones.len() > 1 || !v.regions.is_empty() {
                        writeln!(
                            f,
                            "         zones {}; rules of {}",
                            v.zones.join(", "),
                            if v.regions.is_empty() {
                                "no state".to_string()
                            } else {
                                v.regions.join(", ")
                            }
                        )?;
                    }
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
