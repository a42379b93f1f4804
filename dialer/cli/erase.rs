//! `dialer erase --phone NUMBER`: erase a person's data on request. Their recordings are deleted,
//! the lead's attributes (name and list columns), agents' notes and survey answers go; the
//! attempts' times and outcomes, the number, the DNC entry and the opt-out evidence stay, as
//! the law requires. An audit event records the erasure.

use std::process::ExitCode;

use anyhow::Context;

use super::Global;
use crate::store::{Store, StoreOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The person's number (E.164, or national in `--region`).
    #[arg(long)]
    pub phone: String,
    /// The region a national number is read in.
    #[arg(long, default_value = "US")]
    pub region: String,
    /// Who asked for it, for the audit event.
    #[arg(long, default_value = "cli")]
    pub by: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let region: phonenumber::country::Id = a
        .region
        .parse()
        .map_err(|_| anyhow::anyhow!("--region {:?}: not a region code", a.region))?;
    let phone = crate::leads::normalise_phone(&a.phone, region)
        .map_err(|e| anyhow::anyhow!("--phone {:?}: {e}", a.phone))?;
    let url = super::migrate::store_url(g)?;
    super::runtime()?.block_on(async {
        let store = Store::open_with(StoreOptions::new(url)).await?;
        let now = jiff::Timestamp::now().as_millisecond();
        let erased = store
            .erase_phone(&phone, &a.by, now)
            .await
            .with_context(|| format!("erasing {phone}"))?;
        // The store names the files no more; a file already gone is not an error.
        let mut deleted = 0;
        let mut failed = Vec::new();
        for path in &erased.recordings {
            match std::fs::remove_file(path) {
                Ok(()) => deleted += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => failed.push(format!("{path}: {e}")),
            }
        }
        if a.json {
            println!(
                "{}",
                serde_json::json!({
                    "phone": phone,
                    "leads": erased.lead_ids,
                    "recordings_deleted": deleted,
                    "recordings_failed": failed,
                    "survey_answers": erased.survey_answers,
                    "notes": erased.notes,
                })
            );
        } else {
            println!(
                "{phone}: {} lead(s) anonymised, {deleted} recording(s) deleted, {} survey \
                 answer(s) and {} note(s) erased; attempts, outcomes and DNC entries kept",
                erased.lead_ids.len(),
                erased.survey_answers,
                erased.notes
            );
            for f in &failed {
                eprintln!("cannot delete recording {f}");
            }
        }
        Ok(if failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}
