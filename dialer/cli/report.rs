//! `dialer report --campaign NAME [--since T] [--until T] [--format table|json|csv]
//! [--chart FILE.svg]`: a campaign's figures over a period, from the store.
//!
//! The campaign's rules (abandon window and cap, success dispositions, zone) come from its file,
//! found by name in the config's `campaigns_dir` (or given with `--campaign-file`); without one,
//! the defaults of the regime the store has for the campaign apply, with a note on stderr. The
//! agents of the campaign's groups in `dialer.toml` are its roster (see [`crate::report`]).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use jiff::Timestamp;

use super::Global;
use crate::campaign::{self, Campaign, Env};
use crate::daemon::config::{self as daemon_config, DaemonConfig};
use crate::report::{self, Params, Policy};
use crate::store::{Store, StoreOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign's name.
    #[arg(long)]
    pub campaign: String,
    /// Start (inclusive): RFC 3339 (2026-11-27T08:00:00Z) or a span ago (24h, 90m, 7d).
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// End (exclusive): RFC 3339, a span ago, or `now`.
    #[arg(long, default_value = "now")]
    pub until: String,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Also write a chart of abandon rate and occupancy over time to this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub chart: Option<PathBuf>,
    /// The chart's bucket size (e.g. 15m, 1h); default: at most 48 buckets.
    #[arg(long, value_name = "SPAN")]
    pub bucket: Option<String>,
    /// The campaign file (default: found by name in the config's campaigns_dir).
    #[arg(long, value_name = "FILE")]
    pub campaign_file: Option<PathBuf>,
    /// The compliance report instead: abandon rate per window, calls by local hour, attempts
    /// per lead over 7 days, opt-outs and every exception (table or json).
    #[arg(long)]
    pub compliance: bool,
}

/// A time given on the command line: RFC 3339, `now`, or a span before `now`.
pub fn parse_time(opt: &str, s: &str, now: Timestamp) -> anyhow::Result<Timestamp> {
    let s = s.trim();
    if s == "now" {
        return Ok(now);
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    match humantime::parse_duration(s) {
        Ok(d) => {
            let d = jiff::SignedDuration::try_from(d)
                .with_context(|| format!("{opt}: {s:?} is too long a span"))?;
            now.checked_sub(d)
                .with_context(|| format!("{opt}: {s:?} ago is out of range"))
        }
        Err(_) => bail!(
            "{opt}: cannot read {s:?}: expected RFC 3339 (2026-11-27T08:00:00Z), `now`, \
             or a span ago (24h, 90m, 7d)"
        ),
    }
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let now = Timestamp::now();
    let since = parse_time("--since", &a.since, now)?;
    let until = parse_time("--until", &a.until, now)?;
    if since >= until {
        bail!("--since ({since}) must be before --until ({until})");
    }
    let bucket_ms = match &a.bucket {
        None => None,
        Some(b) => {
            let d = humantime::parse_duration(b)
                .with_context(|| format!("--bucket: cannot read {b:?} (e.g. 15m, 1h)"))?;
            let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
            if ms < 1000 {
                bail!("--bucket: {b:?} is shorter than a second");
            }
            Some(ms)
        }
    };

    let env = Env::from_process();
    let state_default = std::env::var("DIALER_STATE_DIR").ok();
    let config: Option<DaemonConfig> = if g.config.is_file() {
        match daemon_config::load_with(&g.config, &env, state_default.as_deref()) {
            Ok(c) => Some(c),
            Err(ps) => {
                eprintln!("dialer report: {} not used:\n{ps}", g.config.display());
                None
            }
        }
    } else {
        None
    };
    let campaign: Option<Campaign> = match (&a.campaign_file, &config) {
        (Some(f), _) => {
            let c = campaign::load_with(f, &env).map_err(|ps| anyhow::anyhow!("{ps}"))?;
            if c.name != a.campaign {
                bail!(
                    "{} is campaign {:?}, not {:?}",
                    f.display(),
                    c.name,
                    a.campaign
                );
            }
            Some(c)
        }
        (None, Some(cfg)) => match campaign::find(&cfg.campaigns_dir, &a.campaign, &env) {
            Ok(c) => Some(c),
            Err(ps) => {
                eprintln!("dialer report: campaign file not used:\n{ps}");
                None
            }
        },
        (None, None) => None,
    };
    let roster: Option<BTreeSet<String>> = match (&config, &campaign) {
        (Some(cfg), Some(c)) => Some(
            cfg.agents_in(&c.agent_groups)
                .map(|ag| ag.id.to_string())
                .collect(),
        ),
        _ => None,
    };
    let url = match (&g.db, &config) {
        (Some(u), _) => u.clone(),
        (None, Some(cfg)) => cfg.database_url(),
        (None, None) => super::migrate::store_url(g)?,
    };

    let r = super::runtime()?.block_on(async {
        let mut opts = StoreOptions::new(url.clone());
        opts.migrate = false;
        let store = Store::open_with(opts).await?;
        let policy = match &campaign {
            Some(c) => Policy::from_campaign(c),
            None => {
                let regime = campaign_regime(&store, &a.campaign).await?;
                let p = Policy::for_regime(&regime);
                eprintln!(
                    "dialer report: campaign {:?}: no campaign file, using {}",
                    a.campaign, p.source
                );
                p
            }
        };
        if a.compliance {
            let id = store
                .campaign_id(&a.campaign)
                .await?
                .with_context(|| format!("no campaign {:?} in the store", a.campaign))?;
            let from = report::compliance_since(&policy, since.as_millisecond());
            let (attempts, opt_outs) = store
                .compliance_rows(id, from, until.as_millisecond())
                .await
                .with_context(|| format!("cannot report from the store at {}", redact(&url)))?;
            let rep = report::compliance::build(
                &a.campaign,
                &policy,
                since.as_millisecond(),
                until.as_millisecond(),
                &attempts,
                &opt_outs,
            );
            let out = match a.format {
                Format::Json => serde_json::to_string_pretty(&rep)? + "\n",
                Format::Table => report::compliance::text(&rep),
                Format::Csv => bail!("--compliance: --format csv is not offered (table or json)"),
            };
            std::io::stdout().lock().write_all(out.as_bytes())?;
            return Ok(None);
        }
        let params = Params {
            campaign: a.campaign.clone(),
            since_ms: since.as_millisecond(),
            until_ms: until.as_millisecond(),
            now_ms: now.as_millisecond(),
            policy,
            roster,
            bucket_ms,
        };
        let rep = report::build(&store, &params)
            .await
            .with_context(|| format!("cannot report from the store at {}", redact(&url)))?;
        anyhow::Ok(Some((rep, params.policy.timezone)))
    })?;
    let Some((rep, tz)) = r else {
        return Ok(ExitCode::SUCCESS);
    };

    if let Some(path) = &a.chart {
        std::fs::write(path, report::svg(&rep, &tz))
            .with_context(|| format!("cannot write the chart {}", path.display()))?;
    }
    let out = match a.format {
        Format::Table => report::table(&rep),
        Format::Json => serde_json::to_string_pretty(&rep)? + "\n",
        Format::Csv => report::csv(&rep)?,
    };
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// The regime the store has for a campaign (`us` when it has none).
async fn campaign_regime(store: &Store, name: &str) -> anyhow::Result<String> {
    let regime = store
        .campaign_regime(name)
        .await
        .context("cannot read the store's campaigns (has `dialer migrate` run?)")?;
    Ok(regime.unwrap_or_else(|| "us".into()))
}

/// A URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
            Some(c) => format!("{}:***{}", &url[..s + 3 + c], &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_now_or_a_span_ago() {
        let now: Timestamp = "2026-11-27T12:00:00Z".parse().unwrap();
        let t = |s| parse_time("--since", s, now).unwrap().to_string();
        assert_eq!(t("now"), "2026-11-27T12:00:00Z");
        assert_eq!(t("24h"), "2026-11-26T12:00:00Z");
        assert_eq!(t("90m"), "2026-11-27T10:30:00Z");
        assert_eq!(t("7d"), "2026-11-20T12:00:00Z");
        assert_eq!(t("2026-11-27T08:00:00+01:00"), "2026-11-27T07:00:00Z");
        let e = parse_time("--until", "yesterday", now)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--until: cannot read \"yesterday\""), "{e}");
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
