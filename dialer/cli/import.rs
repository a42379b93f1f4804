//! `dialer import --campaign NAME FILE.csv [--list NAME] [--json]`: load a CSV lead list into a
//! campaign's list in the store.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::Global;
use crate::campaign::{self, Env};
use crate::leads::LeadsError;
use crate::leads::import::{
    ImportOptions, ImportReport, ImportTarget, Rejected, import_file_with, pick_list,
};
use crate::leads::{region, sync_campaign};
use crate::listfile::rows::Encoding;
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign (its `name`), looked up in the campaigns directory.
    #[arg(long)]
    pub campaign: String,
    /// The list of the campaign to import into (default: the list whose file this is, or the
    /// campaign's only list).
    #[arg(long)]
    pub list: Option<String>,
    /// Print `{"data_rows":N,"imported":N,"duplicates":N,"rejected":[{"line":N,"reason":"..."}],
    /// "zones_by":{"number":N,…},"stopped":null}` (`zones_by`: how the zones of the rows offered
    /// to the store were found: column, postal_code, number, campaign_default; `stopped`:
    /// `{"line":N,"reason":"..."}` when the file could not be read to its end).
    #[arg(long)]
    pub json: bool,
    /// How the file's bytes are read: `utf8`, or `latin1` (ISO 8859-1 / Windows-1252); default:
    /// the list's `encoding` (UTF-8 unless the campaign file says otherwise).
    #[arg(long, value_enum)]
    pub encoding: Option<Encoding>,
    /// The CSV file (a header line, then one lead per line).
    pub file: PathBuf,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let setup = super::migrate::setup(g)?;
    let c = campaign::find(&setup.campaigns_dir, &a.campaign, &Env::from_process())
        .map_err(|p| anyhow::anyhow!("{p}"))?;
    let list = pick_list(&c, a.list.as_deref(), &a.file).map_err(|m| anyhow::anyhow!(m))?;
    let reg = region(&list.default_region).with_context(|| {
        format!(
            "{}: list {:?}: unknown default_region {:?}",
            c.source.display(),
            list.name,
            list.default_region
        )
    })?;
    let size = std::fs::metadata(&a.file)
        .with_context(|| format!("cannot read {}", a.file.display()))?
        .len();
    let report = super::runtime()?.block_on(async {
        let store = Store::open(&setup.url).await?;
        let now = jiff::Timestamp::now();
        let ids = sync_campaign(&store, &c, now).await?;
        let list_id = ids
            .list(&list.name)
            .with_context(|| format!("list {:?} is not in the store", list.name))?;
        let dnc = store.dnc_numbers(ids.id, c.dnc.use_global).await?;
        let target = ImportTarget {
            campaign_id: ids.id,
            list_id,
            region: reg,
            columns: list.columns.clone(),
            dnc,
        };
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(size);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {elapsed} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        });
        let options = ImportOptions {
            encoding: a.encoding.unwrap_or(list.encoding),
        };
        let r = import_file_with(&store, target, &a.file, options, |b| {
            if let Some(bar) = &bar {
                bar.set_position(b);
            }
        })
        .await;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        // A file read only up to a line: the rows before it are stored; say so, then fail.
        match r {
            Ok(r) => anyhow::Ok((r, None)),
            Err(LeadsError::Stopped {
                line,
                message,
                report,
                ..
            }) => anyhow::Ok((
                *report,
                Some(Rejected {
                    line,
                    reason: message,
                }),
            )),
            Err(e) => Err(e.into()),
        }
    })?;
    let (report, stopped): (ImportReport, Option<Rejected>) = report;
    if a.json {
        #[derive(serde::Serialize)]
        struct Json<'a> {
            #[serde(flatten)]
            report: &'a ImportReport,
            stopped: &'a Option<Rejected>,
        }
        let j = Json {
            report: &report,
            stopped: &stopped,
        };
        println!("{}", serde_json::to_string(&j)?);
    } else {
        for r in &report.rejected {
            println!("{}:{}: {}", a.file.display(), r.line, r.reason);
        }
        println!(
            "{}: {} rows: {} imported, {} duplicates, {} rejected into {}/{}",
            a.file.display(),
            report.data_rows,
            report.imported,
            report.duplicates,
            report.rejected.len(),
            c.name,
            list.name
        );
        let by: Vec<String> = report
            .zones_by
            .iter()
            .map(|(k, n)| format!("{n} by {k}"))
            .collect();
        if !by.is_empty() {
            println!("zones found: {}", by.join(", "));
        }
    }
    match stopped {
        None => Ok(ExitCode::SUCCESS),
        Some(s) => {
            eprintln!(
                "error: {}:{}: {}; nothing from line {} on was imported (the {} rows before it are counted above)",
                a.file.display(),
                s.line,
                s.reason,
                s.line,
                report.data_rows
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
