//! `dialer dnc import --registry us-national|uk-tps|internal FILE… [--date YYYY-MM-DD]`: load
//! registry downloads into the global DNC list and record their data's date.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::Global;
use crate::compliance::registry::Registry;
use crate::leads::region;
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Load registry downloads (one number per line, or area code and number columns) into the
    /// global DNC list, recording each file's date: a campaign with `dnc.registry` dials only
    /// while the newest is young enough (us-national: 31 days, uk-tps: 28).
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// `us-national`, `uk-tps` or `internal`.
    #[arg(long)]
    pub registry: String,
    /// The date of the files' data (YYYY-MM-DD, UTC midnight, or an RFC 3339 instant);
    /// default: each file's modification time.
    #[arg(long)]
    pub date: Option<String>,
    /// The region of numbers without a country code, for `internal` (default US).
    #[arg(long, default_value = "US")]
    pub region: String,
    /// Print one JSON object per file.
    #[arg(long)]
    pub json: bool,
    /// The registry files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

fn parse_date(s: &str) -> anyhow::Result<jiff::Timestamp> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let d: jiff::civil::Date = s
        .parse()
        .with_context(|| format!("--date {s:?} is not YYYY-MM-DD or an RFC 3339 instant"))?;
    Ok(d.to_zoned_datetime(jiff::tz::TimeZone::UTC)?.timestamp())
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let Sub::Import(a) = a.command;
    let registry: Registry = a
        .registry
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--registry: {e}"))?;
    let region = match registry {
        Registry::UsNational => phonenumber::country::Id::US,
        Registry::UkTps => phonenumber::country::Id::GB,
        Registry::Internal => region(&a.region)
            .with_context(|| format!("--region {:?} is not a region code (US, GB)", a.region))?,
    };
    let date = a.date.as_deref().map(parse_date).transpose()?;
    let setup = super::migrate::setup(g)?;
    let mut failed = false;
    super::runtime()?.block_on(async {
        let store = Store::open(&setup.url).await?;
        for f in &a.files {
            let now = jiff::Timestamp::now();
            let r = crate::leads::registry::load(&store, registry, f, date, region, now).await?;
            if a.json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                for b in &r.bad {
                    println!("{}:{b}", f.display());
                }
                println!(
                    "{}: {} numbers, {} new on the global DNC list; {}",
                    f.display(),
                    r.numbers,
                    r.added,
                    match &r.date {
                        Some(d) => format!("{registry} data of {d} recorded"),
                        None => format!(
                            "{} bad lines: the file's date is NOT recorded as {registry} data",
                            r.bad_lines
                        ),
                    }
                );
            }
            failed |= r.date.is_none();
        }
        anyhow::Ok(())
    })?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
