//! `dialer migrate`: apply the CRM schema migrations to the store and list them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::Global;
use crate::store::{Store, StoreOptions, default_sqlite_url};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print `{"applied":N,"migrations":[...]}` instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let url = store_url(g)?;
    super::runtime()?.block_on(async {
        let mut opts = StoreOptions::new(url.clone());
        opts.migrate = false;
        let store = Store::open_with(opts).await?;
        let applied = store.migrate().await?;
        let all = store.applied_migrations().await?;
        if a.json {
            println!(
                "{}",
                serde_json::json!({ "applied": applied, "migrations": all })
            );
        } else {
            println!(
                "{}: {applied} migration(s) applied, schema at {}",
                url,
                all.last().map(String::as_str).unwrap_or("(none)")
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Where the store and the campaigns are.
pub(crate) struct Setup {
    pub url: String,
    pub campaigns_dir: PathBuf,
}

/// The store URL and campaigns directory: `--db` / `DIALER_DATABASE_URL`, else the daemon
/// config's (`--config`, default `dialer.toml`) when that file exists, else SQLite
/// `dialer.sqlite` in `$DIALER_STATE_DIR` (or the current directory) and `campaigns/`.
pub(crate) fn setup(g: &Global) -> anyhow::Result<Setup> {
    let (url, campaigns_dir) = if g.config.exists() {
        let cfg = crate::daemon::config::load(&g.config).map_err(|p| anyhow::anyhow!("{p}"))?;
        (
            g.db.clone().unwrap_or_else(|| cfg.database_url()),
            cfg.campaigns_dir,
        )
    } else {
        let url = match &g.db {
            Some(u) => u.clone(),
            None => {
                let dir = std::env::var_os("DIALER_STATE_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("."));
                std::fs::create_dir_all(&dir).with_context(|| {
                    format!("cannot create the state directory {}", dir.display())
                })?;
                default_sqlite_url(&dir)
            }
        };
        (url, PathBuf::from("campaigns"))
    };
    Ok(Setup { url, campaigns_dir })
}

/// The store URL (see [`setup`]).
pub(crate) fn store_url(g: &Global) -> anyhow::Result<String> {
    Ok(setup(g)?.url)
}
