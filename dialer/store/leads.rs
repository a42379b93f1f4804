//! Leads: bulk insert, reading for `dialer plan`, and atomic claims with a lease.

use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{
    ConnectionTrait, DbBackend, FromQueryResult, QueryResult, SqliteTransactionMode,
    TransactionOptions, TransactionTrait, Value,
};

use super::entity::lead;
use super::{Result, Store, stmt};
use crate::domain::LeadStatus;

/// Rows per multi-row INSERT (13 values each: under SQLite's 32766 and PostgreSQL's 65535
/// bind parameters).
const ROWS_PER_INSERT: usize = 2000;

/// A validated lead ready to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLead {
    pub list_id: i64,
    /// E.164.
    pub phone: String,
    /// IANA zone name, when the list gave one.
    pub timezone: Option<String>,
    /// Candidate regions and zones (`compliance::zones::Location::key`); `None`: found later.
    pub zone_key: Option<String>,
    /// How they were found (`compliance::zones::ZoneSource`).
    pub zone_source: Option<String>,
    /// A JSON object of the list's other columns.
    pub attributes: String,
    pub priority: i32,
}

/// What [`Store::lead_zones`] found: the zone keys, and the stored zones of leads without one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadZones {
    pub keys: Vec<String>,
    pub legacy: Vec<Option<String>>,
}

/// A lead with whether its number is on the campaign's or the global DNC list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadRow {
    pub lead: lead::Model,
    pub dnc_campaign: bool,
    pub dnc_global: bool,
}

/// What the scheduler does with a candidate inside a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimDecision {
    /// Claim it (lease it to the claimer).
    Take,
    /// Claim it and keep what the rules saw (JSON) with the lease (`leads.claim_evidence`):
    /// starting its attempt moves it to the attempt row.
    TakeWithEvidence(String),
    /// Leave it as it is.
    Skip,
    /// Not before this instant (unix ms): stored as `next_attempt_at_ms` so the next scans
    /// do not see it again.
    Defer(i64),
    /// Its number is on a DNC list: the lead becomes `dnc` for good.
    MarkDnc,
}

/// A claim: which leads may be looked at and the lease to give the ones taken.
#[derive(Debug, Clone)]
pub struct ClaimRequest<'a> {
    pub campaign_id: i64,
    pub now_ms: i64,
    /// Leads at or above this many attempts are not candidates.
    pub max_attempts: i32,
    /// Only leads whose zone key is one of these (their every candidate zone is open)…
    pub zone_keys: &'a [String],
    /// …or, of the leads with no zone key (stored before zone keys), those whose stored zone
    /// is one of these…
    pub zones: &'a [String],
    /// …or, when true, those with no stored zone (they use the campaign's zone).
    pub zoneless: bool,
    pub owner: &'a str,
    pub lease_until_ms: i64,
    /// Leads to take at most.
    pub limit: usize,
    /// Candidates to look at at most in one claim.
    pub scan: usize,
}

/// The candidate ordering: list kind (hot, warm, cold), list priority, lead priority, due
/// callbacks, new leads of warm lists (speed to lead), then the longest-waiting.
const ORDER: &str = "CASE lists.kind WHEN 'hot' THEN 0 WHEN 'warm' THEN 1 ELSE 2 END, \
    lists.priority DESC, leads.priority DESC, \
    CASE WHEN leads.callback_at_ms IS NOT NULL THEN 0 \
         WHEN leads.attempts = 0 AND lists.kind = 'warm' THEN 1 ELSE 2 END, \
    COALESCE(leads.next_attempt_at_ms, leads.created_at_ms), leads.id";

/// The lead columns, named one by one (`leads.id, leads.campaign_id, …`), not `leads.*`: should
/// SQLite re-prepare a cached `*` statement after the schema changed, its column count would no
/// longer match the one sqlx-sqlite cached, and the driver's worker panics reading past it (such
/// a panic, `row.rs` index out of bounds, was seen once in the month-long simulation, cause not
/// proven); a named list keeps its count.
fn lead_columns() -> &'static str {
    static COLS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use sea_orm::{IdenStatic, Iterable};
        lead::Column::iter()
            .map(|c| format!("leads.{}", c.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    });
    &COLS
}

/// 1: on the campaign's DNC list; 2: on the global list; 3: both.
const DNC_FLAG: &str = "(CASE WHEN EXISTS (SELECT 1 FROM dnc_numbers d WHERE d.phone = leads.phone \
    AND d.campaign_id = leads.campaign_id) THEN 1 ELSE 0 END) + (CASE WHEN EXISTS (SELECT 1 \
    FROM dnc_numbers g WHERE g.phone = leads.phone AND g.campaign_id = 0) THEN 2 ELSE 0 END) \
    AS dnc";

/// The statuses a lead may be dialed in, as SQL literals for `status IN (…)`: `'new', 'active'`.
fn open_statuses() -> String {
    LeadStatus::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn lead_row(r: &QueryResult) -> Result<LeadRow> {
    let lead = lead::Model::from_query_result(r, "")?;
    let dnc = r.try_get::<i32>("", "dnc")?;
    Ok(LeadRow {
        lead,
        dnc_campaign: dnc & 1 != 0,
        dnc_global: dnc & 2 != 0,
    })
}

impl Store {
    /// Insert leads into a campaign in one transaction of multi-row
    /// `INSERT … ON CONFLICT (campaign_id, phone) DO NOTHING`; returns how many were new (the
    /// others were already in the campaign, or twice in `leads`).
    pub async fn insert_leads(
        &self,
        campaign_id: i64,
        leads: &[NewLead],
        now_ms: i64,
    ) -> Result<u64> {
        let txn = self.begin_write().await?;
        let mut inserted = 0;
        for chunk in leads.chunks(ROWS_PER_INSERT) {
            let mut q = Query::insert()
                .into_table("leads")
                .columns([
                    "campaign_id",
                    "list_id",
                    "phone",
                    "timezone",
                    "attributes",
                    "status",
                    "priority",
                    "attempts",
                    "recent_attempts",
                    "created_at_ms",
                    "updated_at_ms",
                    "zone_key",
                    "zone_source",
                ])
                .on_conflict(
                    OnConflict::columns(["campaign_id", "phone"])
                        .do_nothing()
                        .to_owned(),
                )
                .to_owned();
            for l in chunk {
                q.values_panic([
                    campaign_id.into(),
                    l.list_id.into(),
                    l.phone.as_str().into(),
                    l.timezone.clone().into(),
                    l.attributes.as_str().into(),
                    LeadStatus::New.as_str().into(),
                    l.priority.into(),
                    0i32.into(),
                    "".into(),
                    now_ms.into(),
                    now_ms.into(),
                    l.zone_key.clone().into(),
                    l.zone_source.clone().into(),
                ]);
            }
            inserted += txn.execute(&q).await?.rows_affected();
        }
        txn.commit().await?;
        Ok(inserted)
    }

    /// How many leads a campaign has.
    pub async fn count_leads(&self, campaign_id: i64) -> Result<u64> {
        let row = self
            .conn()
            .query_one_raw(self.stmt(
                "SELECT COUNT(*) AS n FROM leads WHERE campaign_id = ?",
                vec![campaign_id.into()],
            ))
            .await?;
        Ok(match row {
            Some(r) => u64::try_from(r.try_get::<i64>("", "n")?).unwrap_or(0),
            None => 0,
        })
    }

    /// One lead by id.
    pub async fn lead(&self, id: i64) -> Result<Option<LeadRow>> {
        let sql = format!(
            "SELECT {}, {DNC_FLAG} FROM leads WHERE leads.id = ?",
            lead_columns()
        );
        let row = self
            .conn()
            .query_one_raw(self.stmt(&sql, vec![id.into()]))
            .await?;
        row.as_ref().map(lead_row).transpose()
    }

    /// A page of a campaign's leads in id order, after `after_id`.
    pub async fn leads_page(
        &self,
        campaign_id: i64,
        after_id: i64,
        limit: u64,
    ) -> Result<Vec<LeadRow>> {
        let sql = format!(
            "SELECT {}, {DNC_FLAG} FROM leads WHERE leads.campaign_id = ? AND leads.id > ? \
             ORDER BY leads.id LIMIT {limit}",
            lead_columns()
        );
        let rows = self
            .conn()
            .query_all_raw(self.stmt(&sql, vec![campaign_id.into(), after_id.into()]))
            .await?;
        rows.iter().map(lead_row).collect()
    }

    /// The distinct zone keys of a campaign's open leads, and for the leads with no zone key
    /// (stored before zone keys), their distinct stored zones (`None`: no zone).
    pub async fn lead_zones(&self, campaign_id: i64) -> Result<LeadZones> {
        let rows = self
            .conn()
            .query_all_raw(self.stmt(
                &format!(
                    "SELECT DISTINCT zone_key, CASE WHEN zone_key IS NULL THEN timezone END AS tz \
                     FROM leads WHERE campaign_id = ? AND status IN ({})",
                    open_statuses()
                ),
                vec![campaign_id.into()],
            ))
            .await?;
        let mut out = LeadZones::default();
        for r in &rows {
            match r.try_get::<Option<String>>("", "zone_key")? {
                Some(k) => out.keys.push(k),
                None => out.legacy.push(r.try_get::<Option<String>>("", "tz")?),
            }
        }
        Ok(out)
    }

    /// Leads of a campaign with no zone key yet, after `after_id`, at most `limit`: (id,
    /// list id, phone, stored zone, attributes).
    pub async fn leads_without_zone_key(
        &self,
        campaign_id: i64,
        after_id: i64,
        limit: u64,
    ) -> Result<Vec<(i64, i64, String, Option<String>, String)>> {
        let rows = self
            .conn()
            .query_all_raw(self.stmt(
                &format!(
                    "SELECT id, list_id, phone, timezone, attributes FROM leads WHERE campaign_id = ? \
                     AND id > ? AND zone_key IS NULL ORDER BY id LIMIT {limit}"
                ),
                vec![campaign_id.into(), after_id.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<i64>("", "id")?,
                    r.try_get::<i64>("", "list_id")?,
                    r.try_get::<String>("", "phone")?,
                    r.try_get::<Option<String>>("", "timezone")?,
                    r.try_get::<String>("", "attributes")?,
                ))
            })
            .collect()
    }

    /// Store leads' zone keys and sources: (id, key, source).
    pub async fn set_zone_keys(&self, keys: &[(i64, String, String)]) -> Result<()> {
        let txn = self.begin_write().await?;
        let backend = self.backend();
        for (id, key, source) in keys {
            txn.execute_raw(stmt(
                backend,
                "UPDATE leads SET zone_key = ?, zone_source = ? WHERE id = ?",
                vec![key.as_str().into(), source.as_str().into(), (*id).into()],
            ))
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Claim leads atomically: inside one transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL:
    /// `FOR UPDATE OF leads SKIP LOCKED`), read the due, unleased candidates in priority order,
    /// ask `decide` about each, and lease the ones taken with a conditional UPDATE whose
    /// returned rows say what was really claimed. An expired lease makes a lead a candidate
    /// again.
    pub async fn claim_leads<F>(
        &self,
        req: &ClaimRequest<'_>,
        mut decide: F,
    ) -> Result<Vec<LeadRow>>
    where
        F: FnMut(&LeadRow) -> ClaimDecision,
    {
        if req.limit == 0 || (req.zone_keys.is_empty() && req.zones.is_empty() && !req.zoneless) {
            return Ok(Vec::new());
        }
        let backend = self.backend();
        let txn = self
            .conn()
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?;
        let mut values: Vec<Value> = vec![
            req.campaign_id.into(),
            req.max_attempts.into(),
            req.now_ms.into(),
            req.now_ms.into(),
        ];
        let mut keyed = String::new();
        if !req.zone_keys.is_empty() {
            keyed.push_str("leads.zone_key IN (");
            for (i, z) in req.zone_keys.iter().enumerate() {
                keyed.push_str(if i == 0 { "?" } else { ", ?" });
                values.push(z.as_str().into());
            }
            keyed.push(')');
        }
        let mut legacy = String::new();
        if !req.zones.is_empty() {
            legacy.push_str("leads.timezone IN (");
            for (i, z) in req.zones.iter().enumerate() {
                legacy.push_str(if i == 0 { "?" } else { ", ?" });
                values.push(z.as_str().into());
            }
            legacy.push(')');
        }
        if req.zoneless {
            if !legacy.is_empty() {
                legacy.push_str(" OR ");
            }
            legacy.push_str("leads.timezone IS NULL");
        }
        let zone_sql = match (keyed.is_empty(), legacy.is_empty()) {
            (false, true) => keyed,
            (true, false) => format!("leads.zone_key IS NULL AND ({legacy})"),
            _ => format!("{keyed} OR (leads.zone_key IS NULL AND ({legacy}))"),
        };
        let lock = if backend == DbBackend::Postgres {
            " FOR UPDATE OF leads SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {cols}, {DNC_FLAG} FROM leads JOIN lists ON lists.id = leads.list_id \
             WHERE leads.campaign_id = ? AND leads.status IN ({open}) \
             AND leads.attempts < ? \
             AND (leads.next_attempt_at_ms IS NULL OR leads.next_attempt_at_ms <= ?) \
             AND (leads.lease_until_ms IS NULL OR leads.lease_until_ms <= ?) \
             AND ({zone_sql}) ORDER BY {ORDER} LIMIT {}{lock}",
            req.scan.max(req.limit),
            open = open_statuses(),
            cols = lead_columns(),
        );
        let rows = txn.query_all_raw(stmt(backend, &sql, values)).await?;
        let mut take = Vec::new();
        let mut taken_rows = std::collections::HashMap::new();
        let mut evidence = std::collections::HashMap::new();
        for r in &rows {
            if take.len() >= req.limit {
                break;
            }
            let row = lead_row(r)?;
            match decide(&row) {
                ClaimDecision::Take => {
                    take.push(row.lead.id);
                    taken_rows.insert(row.lead.id, row);
                }
                ClaimDecision::TakeWithEvidence(json) => {
                    take.push(row.lead.id);
                    evidence.insert(row.lead.id, json);
                    taken_rows.insert(row.lead.id, row);
                }
                ClaimDecision::Skip => {}
                ClaimDecision::Defer(until) => {
                    txn.execute_raw(stmt(
                        backend,
                        "UPDATE leads SET next_attempt_at_ms = ? WHERE id = ?",
                        vec![until.into(), row.lead.id.into()],
                    ))
                    .await?;
                }
                ClaimDecision::MarkDnc => {
                    txn.execute_raw(stmt(
                        backend,
                        "UPDATE leads SET status = ?, updated_at_ms = ? WHERE id = ?",
                        vec![
                            LeadStatus::Dnc.as_str().into(),
                            req.now_ms.into(),
                            row.lead.id.into(),
                        ],
                    ))
                    .await?;
                }
            }
        }
        let mut claimed = Vec::with_capacity(take.len());
        if !take.is_empty() {
            let mut values: Vec<Value> = vec![
                req.owner.into(),
                req.lease_until_ms.into(),
                req.now_ms.into(),
                req.now_ms.into(),
            ];
            let mut ids = String::new();
            for (i, id) in take.iter().enumerate() {
                ids.push_str(if i == 0 { "?" } else { ", ?" });
                values.push((*id).into());
            }
            let sql = format!(
                "UPDATE leads SET lease_owner = ?, lease_until_ms = ?, updated_at_ms = ?, \
                 claim_evidence = NULL \
                 WHERE (lease_until_ms IS NULL OR lease_until_ms <= ?) AND id IN ({ids}) \
                 RETURNING id"
            );
            let got = txn.query_all_raw(stmt(backend, &sql, values)).await?;
            let got: std::collections::HashSet<i64> = got
                .iter()
                .map(|r| r.try_get::<i64>("", "id"))
                .collect::<std::result::Result<_, _>>()?;
            for (id, json) in evidence {
                if got.contains(&id) {
                    txn.execute_raw(stmt(
                        backend,
                        "UPDATE leads SET claim_evidence = ? WHERE id = ?",
                        vec![json.into(), id.into()],
                    ))
                    .await?;
                }
            }
            for id in take {
                if got.contains(&id)
                    && let Some(mut row) = taken_rows.remove(&id)
                {
                    row.lead.lease_owner = Some(req.owner.to_string());
                    row.lead.lease_until_ms = Some(req.lease_until_ms);
                    claimed.push(row);
                }
            }
        }
        txn.commit().await?;
        Ok(claimed)
    }

    /// Extend the lease of a lead `owner` holds (or nobody holds any more) to `until_ms`, with
    /// the evidence of the re-check that allowed it (`leads.claim_evidence`); false when another
    /// holder has it.
    pub async fn renew_lease(
        &self,
        lead_id: i64,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
        evidence: Option<String>,
    ) -> Result<bool> {
        let r = self
            .conn()
            .execute_raw(self.stmt(
                "UPDATE leads SET lease_owner = ?, lease_until_ms = ?, claim_evidence = ? \
                 WHERE id = ? \
                 AND (lease_owner = ? OR lease_until_ms IS NULL OR lease_until_ms <= ?)",
                vec![
                    owner.into(),
                    until_ms.into(),
                    evidence.into(),
                    lead_id.into(),
                    owner.into(),
                    now_ms.into(),
                ],
            ))
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Give a claimed lead back before its lease ends (it was not dialed).
    pub async fn release_lead(&self, lead_id: i64, owner: &str) -> Result<bool> {
        let r = self
            .conn()
            .execute_raw(self.stmt(
                "UPDATE leads SET lease_owner = NULL, lease_until_ms = NULL \
                 WHERE id = ? AND lease_owner = ?",
                vec![lead_id.into(), owner.into()],
            ))
            .await?;
        Ok(r.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn new_and_active_leads_are_dialable() {
        assert_eq!(super::open_statuses(), "'new', 'active'");
    }
}
