//! `dialer audit ATTEMPT_ID`: why an attempt was allowed, from the evidence stored with it
//! (the candidate zones and their local times at the dial, the windows in force, the attempt
//! counts, the abandon rate of the window, the registry data's date, the rules version).

use std::process::ExitCode;

use anyhow::Context;
use sea_orm::EntityTrait;

use super::Global;
use crate::compliance::evidence::{self, Evidence};
use crate::store::{Store, StoreOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The attempt's id (`call_attempts.id`, as the report and the API name it).
    pub attempt_id: i64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let url = super::migrate::store_url(g)?;
    super::runtime()?.block_on(async {
        let store = Store::open_with(StoreOptions::new(url)).await?;
        let Some(row) = store
            .attempt(a.attempt_id)
            .await
            .with_context(|| format!("reading attempt {}", a.attempt_id))?
        else {
            eprintln!("dialer audit: attempt {} does not exist", a.attempt_id);
            return Ok(ExitCode::FAILURE);
        };
        // How the lead's zones were found at import, for the sentence (gone with the lead).
        let zone_source = crate::store::entity::lead::Entity::find_by_id(row.lead_id)
            .one(store.conn())
            .await
            .with_context(|| format!("reading lead {}", row.lead_id))?
            .and_then(|l| l.zone_source);
        let because = |e: &Evidence| evidence::sentence_with_source(e, zone_source.as_deref());
        let parsed: Option<Result<Evidence, String>> = row
            .evidence
            .as_deref()
            .map(|j| serde_json::from_str(j).map_err(|e| e.to_string()));
        if a.json {
            let ev = match (&parsed, &row.evidence) {
                (Some(Ok(e)), _) => serde_json::to_value(e)?,
                (_, Some(raw)) => serde_json::Value::String(raw.clone()),
                _ => serde_json::Value::Null,
            };
            println!(
                "{}",
                serde_json::json!({
                    "attempt_id": row.id,
                    "lead_id": row.lead_id,
                    "campaign_id": row.campaign_id,
                    "phone": row.phone,
                    "dial_at": rfc3339(row.dial_at_ms),
                    "outcome": row.outcome,
                    "zone_key": row.zone_key,
                    "rules_version": row.rules_version,
                    "because": match &parsed { Some(Ok(e)) => Some(because(e)), _ => None },
                    "evidence": ev,
                })
            );
        } else {
            println!(
                "attempt {} to {} (lead {}, campaign {}) dialed {}, outcome {}",
                row.id,
                row.phone.as_deref().unwrap_or("(erased)"),
                row.lead_id,
                row.campaign_id,
                rfc3339(row.dial_at_ms),
                row.outcome.as_deref().unwrap_or("(in progress)")
            );
            match &parsed {
                Some(Ok(e)) => println!("allowed because: {}", because(e)),
                Some(Err(why)) => println!(
                    "evidence unreadable ({why}); stored as: {}",
                    row.evidence.as_deref().unwrap_or("")
                ),
                None => println!(
                    "no evidence stored (an attempt from before evidence was kept, or dialed \
                     outside the scheduler); zone key {}, rules {}",
                    row.zone_key.as_deref().unwrap_or("(none)"),
                    row.rules_version.as_deref().unwrap_or("(none)")
                ),
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
