//! The lead scheduler: the next dialable leads of a campaign, in priority order, claimed with
//! a lease.
//!
//! Order: list kind (hot, warm, cold), list priority, lead priority, due callbacks, new leads of
//! warm lists (speed to lead), then the longest-waiting. Only leads of zones whose calling
//! hours are open are read (zones are checked once per claim, not per lead); every candidate
//! then passes [`compliance::check`] inside the claim transaction. A candidate refused until a
//! known instant (retry delay, rolling limits, UK rules) gets that instant stored as its due
//! time, so later scans skip it; one found on a DNC list is closed as `dnc`.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use super::{LeadsError, Places, Zones, facts, from_ms, ms, place_of};
use crate::campaign::Campaign;
use crate::compliance::{self, Refusal};
use crate::store::{CampaignIds, ClaimDecision, ClaimRequest, LeadRow, Store};

/// Hands out a campaign's leads. Cheap to clone: the daemon gives each claim task its own
/// copy (the settings of that moment), so no lock is held while the store answers.
#[derive(Debug, Clone)]
pub struct Scheduler {
    campaign: Arc<Campaign>,
    campaign_id: i64,
    owner: String,
    lease: Duration,
    zones: Zones,
    places: Places,
}

impl Scheduler {
    /// `owner` names this dialer process in leases; `lease` is how long a claim holds.
    pub fn new(
        campaign: impl Into<Arc<Campaign>>,
        ids: &CampaignIds,
        owner: impl Into<String>,
        lease: Duration,
    ) -> Self {
        Scheduler {
            campaign: campaign.into(),
            campaign_id: ids.id,
            owner: owner.into(),
            lease,
            zones: Zones::default(),
            places: Places::default(),
        }
    }

    pub fn campaign(&self) -> &Campaign {
        &self.campaign
    }

    /// The campaign's store id.
    pub fn campaign_id(&self) -> i64 {
        self.campaign_id
    }

    /// Replace the campaign (after a reload); the store ids stay.
    pub fn set_campaign(&mut self, c: impl Into<Arc<Campaign>>) {
        self.campaign = c.into();
    }

    /// Claim up to `n` leads that may be dialed at `at`.
    pub async fn claim(
        &mut self,
        store: &Store,
        at: Timestamp,
        n: usize,
    ) -> Result<Vec<LeadRow>, LeadsError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let c = &self.campaign;
        // A campaign that scrubs against a registry dials nothing on stale registry data (the
        // check that follows an empty claim, and `dialer plan`, say why).
        let registry = match c.dnc.registry {
            Some(reg) => Some((reg, registry_date(store, reg).await?)),
            None => None,
        };
        if let Some((reg, date)) = registry
            && compliance::registry::fresh(reg, date, at).is_err()
        {
            return Ok(Vec::new());
        }
        let found = store.lead_zones(self.campaign_id).await?;
        // Only the keys whose every candidate zone is open (hours and the regions' day rules).
        let mut open_keys = Vec::new();
        for key in found.keys {
            if let Ok(place) = self.places.get(&key)
                && compliance::place_open(c, &place, at).is_ok()
            {
                open_keys.push(key);
            }
        }
        let mut open = Vec::new();
        let mut zoneless = false;
        for z in found.legacy {
            match z {
                None => {
                    zoneless =
                        compliance::hours(c, &c.hours.timezone, &c.hours.timezone_name, at).is_ok();
                }
                Some(name) => {
                    if let Some(tz) = self.zones.get(&name)
                        && compliance::hours(c, tz, &name, at).is_ok()
                    {
                        open.push(name);
                    }
                }
            }
        }
        let lease_ms = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX / 2);
        let req = ClaimRequest {
            campaign_id: self.campaign_id,
            now_ms: ms(at),
            max_attempts: i32::try_from(c.retry.max_attempts).unwrap_or(i32::MAX),
            zone_keys: &open_keys,
            zones: &open,
            zoneless,
            owner: &self.owner,
            lease_until_ms: ms(at).saturating_add(lease_ms),
            limit: n,
            scan: (n * 4).max(200),
        };
        let zones = &mut self.zones;
        let places = &mut self.places;
        let mut recent = Vec::new();
        let claimed = store
            .claim_leads(&req, |row| {
                let (place, zone, name) = place_of(row, zones, places);
                let f = facts(
                    row,
                    place.as_deref(),
                    zone.as_ref(),
                    name.as_deref(),
                    &mut recent,
                );
                match compliance::check(c, &f, at) {
                    // What the rules saw, stored with the lead's lease and moved to the attempt
                    // row when it is dialed.
                    Ok(()) => match serde_json::to_string(&compliance::evidence::build(
                        c, &f, at, registry,
                    )) {
                        Ok(json) => ClaimDecision::TakeWithEvidence(json),
                        Err(_) => ClaimDecision::Take,
                    },
                    r => decision(r),
                }
            })
            .await?;
        Ok(claimed)
    }
}

impl Scheduler {
    /// Check again, at `at`, a lead this dialer holds (an agent previews it), and renew its
    /// lease. Returns why it may not be dialed now, if it may not (the lease is left alone).
    pub async fn recheck(
        &mut self,
        store: &Store,
        at: Timestamp,
        lead_id: i64,
    ) -> Result<Option<String>, LeadsError> {
        let Some(row) = store.lead(lead_id).await? else {
            return Ok(Some(format!("lead {lead_id} is gone")));
        };
        let now_ms = ms(at);
        let ours = row.lead.lease_owner.as_deref() == Some(self.owner.as_str());
        if !ours && row.lead.lease_until_ms.is_some_and(|u| u > now_ms) {
            return Ok(Some("another dialer holds its lease".into()));
        }
        if let Some(reg) = self.campaign.dnc.registry
            && let Err(r) = compliance::registry::fresh(reg, registry_date(store, reg).await?, at)
        {
            return Ok(Some(r.to_string()));
        }
        let (place, zone, name) = place_of(&row, &mut self.zones, &mut self.places);
        let mut recent = Vec::new();
        let mut f = facts(
            &row,
            place.as_deref(),
            zone.as_ref(),
            name.as_deref(),
            &mut recent,
        );
        f.lease_until = None;
        if let Err(r) = compliance::check(&self.campaign, &f, at) {
            return Ok(Some(r.to_string()));
        }
        let registry = match self.campaign.dnc.registry {
            Some(reg) => Some((reg, registry_date(store, reg).await?)),
            None => None,
        };
        // The evidence of this re-check replaces the claim's: it is the one the dial follows.
        let evidence = serde_json::to_string(&compliance::evidence::build(
            &self.campaign,
            &f,
            at,
            registry,
        ))
        .ok();
        let lease_ms = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX / 2);
        let renewed = store
            .renew_lease(
                lead_id,
                &self.owner,
                now_ms,
                now_ms.saturating_add(lease_ms),
                evidence,
            )
            .await?;
        Ok((!renewed).then(|| "another dialer took its lease".to_owned()))
    }
}

/// The date of the newest loaded data of a registry.
pub async fn registry_date(
    store: &Store,
    reg: compliance::registry::Registry,
) -> Result<Option<Timestamp>, LeadsError> {
    Ok(store.registry_date(reg.as_str()).await?.map(from_ms))
}

fn decision(r: Result<(), Refusal>) -> ClaimDecision {
    match r {
        Ok(()) => ClaimDecision::Take,
        Err(Refusal::Dnc { .. }) => ClaimDecision::MarkDnc,
        Err(
            r @ (Refusal::RetryDelay { .. }
            | Refusal::Callback { .. }
            | Refusal::Per24h { .. }
            | Refusal::StateCap { .. }
            | Refusal::RegF7in7 { .. }
            | Refusal::RegFConversation { .. }
            | Refusal::UkAbandoned { .. }
            | Refusal::UkMachineSameDay { .. }),
        ) => match r.until() {
            Some(t) => ClaimDecision::Defer(ms(t)),
            None => ClaimDecision::Skip,
        },
        Err(_) => ClaimDecision::Skip,
    }
}
