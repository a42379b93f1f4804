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

/// The store URL: `--db` / `DIALER_DATABASE_URL`, else SQLite `dialer.db` in the state
/// directory (`$STATE_DIRECTORY` under systemd, else the current directory). The directory is
/// created when missing.
pub(crate) fn store_url(g: &Global) -> anyhow::Result<String> {
    if let Some(url) = &g.db {
        return Ok(url.clone());
    }
    let dir = std::env::var_os("STATE_DIRECTORY")
        .map(|s| {
            // systemd may pass several, colon-separated: the first is ours.
            let s = s.to_string_lossy().into_owned();
            PathBuf::from(s.split(':').next().unwrap_or(".").to_string())
        })
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
    Ok(default_sqlite_url(&dir))
}
