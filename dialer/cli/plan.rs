//! `dialer plan --campaign NAME [--at RFC3339] [--json]`: whether each lead may be dialed at
//! an instant, and why not.

use std::process::ExitCode;

use anyhow::Context;

use super::Global;
use crate::campaign::{self, Env};
use crate::leads::plan::plan;
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign (its `name`), looked up in the campaigns directory.
    #[arg(long)]
    pub campaign: String,
    /// The instant to judge, RFC 3339 (`2026-11-27T15:00:00Z`, `2026-11-27T10:00:00-05:00`);
    /// default: now.
    #[arg(long)]
    pub at: Option<String>,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let setup = super::migrate::setup(g)?;
    let c = campaign::find(&setup.campaigns_dir, &a.campaign, &Env::from_process())
        .map_err(|p| anyhow::anyhow!("{p}"))?;
    let at = match &a.at {
        None => jiff::Timestamp::now(),
        Some(s) => s
            .parse::<jiff::Timestamp>()
            .with_context(|| format!("--at {s:?} is not an RFC 3339 instant"))?,
    };
    let p = super::runtime()?.block_on(async {
        let store = Store::open(&setup.url).await?;
        let id = store.campaign_id(&c.name).await?.with_context(|| {
            format!(
                "campaign {:?} has no leads in the store yet (dialer import)",
                c.name
            )
        })?;
        anyhow::Ok(plan(&store, &c, id, at).await?)
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&p)?);
    } else {
        print!("{p}");
    }
    Ok(ExitCode::SUCCESS)
}
