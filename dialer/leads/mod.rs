//! Lead lists: CSV import, phone normalisation, time zones, and the lead scheduler.
//!
//! [`sync_campaign`] puts a campaign, its lists and its DNC files into the store;
//! [`import`] loads a CSV list; [`scheduler`] hands out the next dialable leads with a lease;
//! [`plan`] says for each lead whether it may be dialed at an instant and why not.

pub mod import;
pub mod plan;
pub mod registry;
pub mod scheduler;
pub mod status;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::campaign::Campaign;
use crate::compliance::LeadFacts;
use crate::compliance::zones::{self, Place};
use crate::store::{CampaignIds, CampaignRecord, DncScope, LeadRow, ListRecord, Store, StoreError};

pub use crate::listfile::{cut, rows};

/// What can go wrong with lead lists.
#[derive(Debug, thiserror::Error)]
pub enum LeadsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{file}: {message}")]
    File { file: PathBuf, message: String },
    #[error("{file}:{line}: {message}")]
    Line {
        file: PathBuf,
        line: u64,
        message: String,
    },
    /// The import stopped at a line it could not read on from; `report` counts the rows
    /// before it (stored as usual).
    #[error(
        "{file}:{line}: {message}; the {} rows before it: {} imported, {} duplicates, {} rejected; \
         nothing from line {line} on was imported",
        report.data_rows, report.imported, report.duplicates, report.rejected.len()
    )]
    Stopped {
        file: PathBuf,
        line: u64,
        message: String,
        report: Box<import::ImportReport>,
    },
}

/// Unix milliseconds of an instant.
pub fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// The instant of unix milliseconds (clamped to jiff's range).
pub fn from_ms(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// Normalise a phone number to E.164 with a default region; the error is the reason shown
/// to the user.
pub fn normalise_phone(raw: &str, region: phonenumber::country::Id) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("empty phone".into());
    }
    if s.chars().any(|c| c.is_alphabetic()) {
        return Err(format!("not a phone number: {} has letters", cut(s)));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || " +-.()/\t".contains(c))
    {
        return Err(format!("not a phone number: {}", cut(s)));
    }
    let n = phonenumber::parse(Some(region), s)
        .map_err(|_| format!("not a phone number: {}", cut(s)))?;
    if !n.is_valid() {
        return Err(if s.starts_with('+') || s.starts_with("00") {
            format!("not a valid phone number: {}", cut(s))
        } else {
            format!(
                "not a valid number for region {}: {}",
                region.as_ref(),
                cut(s)
            )
        });
    }
    Ok(n.format().mode(phonenumber::Mode::E164).to_string())
}

/// Parse an ISO 3166 region code (`US`, `GB`).
pub fn region(code: &str) -> Option<phonenumber::country::Id> {
    code.trim().to_ascii_uppercase().parse().ok()
}

/// Put a campaign and its lists into the store (insert or update). Returns the store ids.
pub async fn upsert_campaign(
    store: &Store,
    c: &Campaign,
    now_ms: i64,
) -> Result<CampaignIds, StoreError> {
    let source = c.source.display().to_string();
    let record = CampaignRecord {
        name: &c.name,
        kind: c.kind.as_str(),
        regime: c.regime.as_str(),
        source: Some(&source),
        recording_keep_ms: c
            .recording
            .keep
            .map(|k| i64::try_from(k.as_millis()).unwrap_or(i64::MAX)),
        lists: c
            .lists
            .iter()
            .map(|l| ListRecord {
                name: &l.name,
                kind: c.kind.as_str(),
                priority: l.priority,
                default_region: &l.default_region,
            })
            .collect(),
    };
    store.upsert_campaign(&record, now_ms).await
}

/// [`upsert_campaign`], and the campaign's DNC files into its DNC list (entries are never
/// removed). Returns the store ids.
pub async fn sync_campaign(
    store: &Store,
    c: &Campaign,
    now: Timestamp,
) -> Result<CampaignIds, LeadsError> {
    let ids = upsert_campaign(store, c, ms(now)).await?;
    fill_zone_keys(store, c, &ids).await?;
    let default_region = c
        .lists
        .first()
        .and_then(|l| region(&l.default_region))
        .unwrap_or(phonenumber::country::Id::US);
    for f in &c.dnc.files {
        let text = std::fs::read_to_string(f).map_err(|e| LeadsError::File {
            file: f.clone(),
            message: format!("cannot read the DNC file: {e}"),
        })?;
        let mut phones = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let t = line.split('#').next().unwrap_or("").trim();
            if t.is_empty() {
                continue;
            }
            let p = normalise_phone(t, default_region).map_err(|m| LeadsError::Line {
                file: f.clone(),
                line: i as u64 + 1,
                message: m,
            })?;
            phones.push(p);
        }
        let refs: Vec<&str> = phones.iter().map(String::as_str).collect();
        let src = f.display().to_string();
        store
            .add_dnc(DncScope::Campaign(ids.id), &refs, Some(&src), None, ms(now))
            .await?;
    }
    Ok(ids)
}

/// Resolves stored zone names once.
#[derive(Debug, Default, Clone)]
pub struct Zones(HashMap<String, Option<TimeZone>>);

impl Zones {
    pub fn get(&mut self, name: &str) -> Option<&TimeZone> {
        self.0
            .entry(name.to_string())
            .or_insert_with(|| TimeZone::get(name).ok())
            .as_ref()
    }
}

/// Resolves stored zone keys once (`Err`: the key's zone the time-zone database lacks).
#[derive(Debug, Default, Clone)]
pub struct Places(HashMap<String, Result<Arc<Place>, String>>);

impl Places {
    pub fn get(&mut self, key: &str) -> Result<Arc<Place>, String> {
        self.0
            .entry(key.to_string())
            .or_insert_with(|| Place::from_key(key).map(Arc::new))
            .clone()
    }
}

/// A stored lead's place and zone: from its zone key when it has one (an unknown zone in it
/// reads as that zone, refused as unknown), else its stored zone (leads from before zone keys).
pub fn place_of(
    row: &LeadRow,
    zones: &mut Zones,
    places: &mut Places,
) -> (Option<Arc<Place>>, Option<TimeZone>, Option<String>) {
    match row.lead.zone_key.as_deref() {
        Some(key) => match places.get(key) {
            Ok(p) => (Some(p), None, None),
            Err(bad) => (None, None, Some(bad)),
        },
        None => (
            None,
            row.lead
                .timezone
                .as_deref()
                .and_then(|z| zones.get(z).cloned()),
            row.lead.timezone.clone(),
        ),
    }
}

/// Fill in the zone keys of a campaign's leads stored before zone keys (or by a path that did
/// not find them): from the stored zone, the list's postal-code column and the number. Returns
/// how many were filled in.
pub async fn fill_zone_keys(
    store: &Store,
    c: &Campaign,
    ids: &CampaignIds,
) -> Result<u64, LeadsError> {
    let mut after = 0;
    let mut done = 0u64;
    loop {
        let page = store.leads_without_zone_key(ids.id, after, 5000).await?;
        let Some(last) = page.last() else { break };
        after = last.0;
        let mut keys = Vec::with_capacity(page.len());
        for (id, list_id, phone, tz, attrs) in &page {
            let list = ids
                .lists
                .iter()
                .find(|(_, lid)| lid == list_id)
                .and_then(|(name, _)| c.lists.iter().find(|l| &l.name == name));
            let country = list.map_or("US", |l| l.default_region.as_str());
            let postal = list
                .and_then(|l| l.columns.postal_code.as_deref())
                .and_then(|col| {
                    serde_json::from_str::<serde_json::Value>(attrs)
                        .ok()?
                        .get(col)?
                        .as_str()
                        .map(str::to_string)
                });
            let loc = zones::locate(phone, tz.as_deref(), postal.as_deref(), country);
            keys.push((*id, loc.key(), loc.source.as_str().to_string()));
        }
        done += keys.len() as u64;
        store.set_zone_keys(&keys).await?;
    }
    Ok(done)
}

/// The facts the compliance check needs, from a stored lead. `recent` is scratch space for the
/// parsed attempt times.
pub fn facts<'a>(
    row: &'a LeadRow,
    place: Option<&'a Place>,
    zone: Option<&'a TimeZone>,
    zone_name: Option<&'a str>,
    recent: &'a mut Vec<Timestamp>,
) -> LeadFacts<'a> {
    let l = &row.lead;
    recent.clear();
    recent.extend(
        crate::store::attempts::parse_recent(&l.recent_attempts)
            .into_iter()
            .map(from_ms),
    );
    LeadFacts {
        status: l.status.parse().ok(),
        place,
        zone,
        zone_name,
        attempts: u32::try_from(l.attempts).unwrap_or(0),
        last_attempt_at: l.last_attempt_at_ms.map(from_ms),
        last_outcome: l.last_outcome.as_deref(),
        next_attempt_at: l.next_attempt_at_ms.map(from_ms),
        callback_at: l.callback_at_ms.map(from_ms),
        last_conversation_at: l.last_conversation_at_ms.map(from_ms),
        last_abandoned_at: l.last_abandoned_at_ms.map(from_ms),
        last_machine_at: l.last_machine_at_ms.map(from_ms),
        recent_attempts: recent,
        dnc_campaign: row.dnc_campaign,
        dnc_global: row.dnc_global,
        lease_until: l.lease_until_ms.map(from_ms),
    }
}

impl From<crate::listfile::FileError> for LeadsError {
    fn from(e: crate::listfile::FileError) -> Self {
        match e {
            crate::listfile::FileError::File { file, message } => {
                LeadsError::File { file, message }
            }
            crate::listfile::FileError::Line {
                file,
                line,
                message,
            } => LeadsError::Line {
                file,
                line,
                message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_in_messages() {
        assert_eq!(cut("Mars/Base"), "\"Mars/Base\"");
        let long = "é".repeat(500_000);
        let c = cut(&long);
        assert!(
            c.starts_with("\"éé") && c.ends_with("…\" (1000000 bytes)"),
            "{c}"
        );
        assert!(c.chars().count() < 90, "{c}");
        let phone = normalise_phone(&"1".repeat(1_000_000), phonenumber::country::Id::US);
        let reason = phone.expect_err("a million digits");
        assert!(
            reason.len() < 120 && reason.contains("(1000000 bytes)"),
            "{reason}"
        );
    }

    #[test]
    fn phones_normalise_to_e164_or_say_why_not() {
        let us = phonenumber::country::Id::US;
        assert_eq!(
            normalise_phone("(202) 555-0143", us).unwrap(),
            "+12025550143"
        );
        assert_eq!(
            normalise_phone(" 202.555.0143 ", us).unwrap(),
            "+12025550143"
        );
        assert_eq!(
            normalise_phone("+44 20 7946 0018", us).unwrap(),
            "+442079460018"
        );
        assert_eq!(normalise_phone("", us).unwrap_err(), "empty phone");
        assert_eq!(
            normalise_phone("call me", us).unwrap_err(),
            "not a phone number: \"call me\" has letters"
        );
        assert_eq!(
            normalise_phone("123", us).unwrap_err(),
            "not a valid number for region US: \"123\""
        );
        assert_eq!(
            normalise_phone("+1 999 555 0143", us).unwrap_err(),
            "not a valid phone number: \"+1 999 555 0143\""
        );
        assert_eq!(
            normalise_phone("020 7946 0018", region("gb").unwrap()).unwrap(),
            "+442079460018"
        );
    }
}
