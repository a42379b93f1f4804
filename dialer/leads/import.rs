//! CSV lead import: every row validated before anything is stored, then multi-row
//! `INSERT … ON CONFLICT DO NOTHING` in large transactions.
//!
//! A reader thread parses and validates (phone to E.164 with the list's region, optional IANA
//! zone column, other columns kept as JSON attributes, DNC check, duplicates inside the file)
//! while the caller's task inserts the previous batch. A broken row is reported with its line
//! number and reason and costs no other row; numbers already in the campaign count as
//! duplicates, so importing the same file again changes nothing. A file that cannot be read
//! on (an unterminated quote, another encoding) stops the import at that line: the rows before
//! it are stored, and the error says how many.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;

use super::rows::{Encoding, LineError};
use super::{LeadsError, cut, normalise_phone};
use crate::campaign::ColumnMap;
use crate::compliance::zones;
use crate::listfile::{column_list, header, open_rows};
use crate::store::{NewLead, Store};

/// Rows handed from the reader thread to the inserter at a time.
const BATCH: usize = 10_000;
/// Rows per insert transaction.
const TRANSACTION: usize = 50_000;

/// What an import did. Every data row (the rows after the header) is counted once:
/// `data_rows = imported + duplicates + rejected.len()`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub data_rows: u64,
    pub imported: u64,
    pub duplicates: u64,
    pub rejected: Vec<Rejected>,
    /// How the zones of the rows offered to the store (imported, or already in the campaign)
    /// were found: `column`, `postal_code`, `number`, `campaign_default`.
    pub zones_by: std::collections::BTreeMap<String, u64>,
}

/// A row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejected {
    pub line: u64,
    pub reason: String,
}

/// Where the rows go and how to read them.
#[derive(Debug, Clone)]
pub struct ImportTarget {
    pub campaign_id: i64,
    pub list_id: i64,
    pub region: phonenumber::country::Id,
    pub columns: ColumnMap,
    /// Numbers that may not be imported (campaign DNC list, and the global one if honoured).
    pub dnc: HashSet<String>,
}

/// How the file is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    pub encoding: Encoding,
}

enum Msg {
    Rows(Vec<NewLead>),
    Progress(u64),
}

/// What the reader thread found besides the rows it sent.
#[derive(Default)]
struct ReaderResult {
    data_rows: u64,
    rejected: Vec<Rejected>,
    duplicates_in_file: u64,
    zones_by: std::collections::BTreeMap<String, u64>,
    /// The line it could not read on from; the rows before it were sent.
    stopped: Option<LineError>,
}

/// Import a CSV file (UTF-8). `progress` gets the bytes read so far.
///
/// A file that cannot be read to its end (an unterminated quote, bytes that are not in the
/// encoding, a read error) stops the import at that line: the rows before it are stored and
/// the error is [`LeadsError::Stopped`], with the counts of those rows.
pub async fn import_file(
    store: &Store,
    target: ImportTarget,
    file: &Path,
    progress: impl FnMut(u64),
) -> Result<ImportReport, LeadsError> {
    import_file_with(store, target, file, ImportOptions::default(), progress).await
}

/// [`import_file`] with options (the encoding).
pub async fn import_file_with(
    store: &Store,
    target: ImportTarget,
    file: &Path,
    options: ImportOptions,
    progress: impl FnMut(u64),
) -> Result<ImportReport, LeadsError> {
    let f = std::fs::File::open(file).map_err(|e| LeadsError::File {
        file: file.to_path_buf(),
        message: format!("cannot open: {e}"),
    })?;
    import_reader_with(store, target, f, file, options, progress).await
}

/// Import UTF-8 CSV from any reader (`file` names it in errors).
pub async fn import_reader<R: Read + Send + 'static>(
    store: &Store,
    target: ImportTarget,
    reader: R,
    file: &Path,
    progress: impl FnMut(u64),
) -> Result<ImportReport, LeadsError> {
    import_reader_with(
        store,
        target,
        reader,
        file,
        ImportOptions::default(),
        progress,
    )
    .await
}

/// [`import_reader`] with options (the encoding).
pub async fn import_reader_with<R: Read + Send + 'static>(
    store: &Store,
    target: ImportTarget,
    reader: R,
    file: &Path,
    options: ImportOptions,
    mut progress: impl FnMut(u64),
) -> Result<ImportReport, LeadsError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(4);
    let path = file.to_path_buf();
    let campaign_id = target.campaign_id;
    let reader = std::io::BufReader::with_capacity(1 << 20, reader);
    let handle = std::thread::spawn(move || read_rows(target, reader, options, &path, tx));
    let now = jiff::Timestamp::now().as_millisecond();
    let mut imported = 0u64;
    let mut offered = 0u64;
    let mut pending: Vec<NewLead> = Vec::with_capacity(TRANSACTION);
    let mut insert_error = None;
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Progress(b) => progress(b),
            Msg::Rows(rows) => {
                pending.extend(rows);
                if pending.len() >= TRANSACTION {
                    offered += pending.len() as u64;
                    match store.insert_leads(campaign_id, &pending, now).await {
                        Ok(n) => imported += n,
                        Err(e) => {
                            insert_error = Some(e);
                            break;
                        }
                    }
                    pending.clear();
                }
            }
        }
    }
    drop(rx);
    let read = handle.join().map_err(|_| LeadsError::File {
        file: file.to_path_buf(),
        message: "the CSV reader thread panicked".into(),
    })?;
    if let Some(e) = insert_error {
        return Err(e.into());
    }
    let read = read?;
    if !pending.is_empty() {
        offered += pending.len() as u64;
        imported += store.insert_leads(campaign_id, &pending, now).await?;
    }
    let report = ImportReport {
        data_rows: read.data_rows,
        imported,
        duplicates: read.duplicates_in_file + (offered - imported),
        rejected: read.rejected,
        zones_by: read.zones_by,
    };
    match read.stopped {
        None => Ok(report),
        Some(e) => Err(LeadsError::Stopped {
            file: file.to_path_buf(),
            line: e.line,
            message: e.error.to_string(),
            report: Box::new(report),
        }),
    }
}

fn read_rows<R: std::io::BufRead>(
    target: ImportTarget,
    reader: R,
    options: ImportOptions,
    file: &Path,
    tx: tokio::sync::mpsc::Sender<Msg>,
) -> Result<ReaderResult, LeadsError> {
    let file_err = |message: String| LeadsError::File {
        file: file.to_path_buf(),
        message,
    };
    let mut rows = open_rows(reader, options.encoding, file)?;
    let headers = header(&mut rows, file)?;
    let find = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let phone_col = find(&target.columns.phone).ok_or_else(|| {
        file_err(format!(
            "no phone column {} (columns: {})",
            cut(&target.columns.phone),
            column_list(&headers)
        ))
    })?;
    let zone_col = match &target.columns.timezone {
        Some(z) => Some(find(z).ok_or_else(|| {
            file_err(format!(
                "no time-zone column {} (columns: {})",
                cut(z),
                column_list(&headers)
            ))
        })?),
        None => None,
    };
    let postal_col = match &target.columns.postal_code {
        Some(z) => Some(find(z).ok_or_else(|| {
            file_err(format!(
                "no postal-code column {} (columns: {})",
                cut(z),
                column_list(&headers)
            ))
        })?),
        None => None,
    };
    let country = target.region.as_ref().to_string();
    let mut zones: std::collections::HashMap<String, bool> = Default::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut out = ReaderResult::default();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let row = match rows.next_row() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => {
                out.stopped = Some(e);
                break;
            }
        };
        out.data_rows += 1;
        if out.data_rows.is_multiple_of(BATCH as u64) {
            let _ = tx.blocking_send(Msg::Progress(row.end_byte));
        }
        let line = row.line;
        // A row over several lines says so: a stray quote makes one row of many lines.
        let span = if row.last_line > line {
            format!(" (the row runs over lines {line}–{})", row.last_line)
        } else {
            String::new()
        };
        let mut reject = |reason: String| {
            out.rejected.push(Rejected {
                line,
                reason: format!("{reason}{span}"),
            })
        };
        if let Some(n) = row.too_long {
            reject(format!(
                "the row is {n} bytes long (at most {} are read)",
                super::rows::MAX_ROW_BYTES
            ));
            continue;
        }
        let record = &row.fields;
        if record.len() != headers.len() {
            reject(format!(
                "expected {} columns, found {}",
                headers.len(),
                record.len()
            ));
            continue;
        }
        let phone = match normalise_phone(&record[phone_col], target.region) {
            Ok(p) => p,
            Err(reason) => {
                reject(reason);
                continue;
            }
        };
        let timezone = match zone_col.map(|i| record[i].trim()) {
            None | Some("") => None,
            Some(z) => {
                let ok = *zones
                    .entry(z.to_string())
                    .or_insert_with(|| TimeZone::get(z).is_ok());
                if !ok {
                    reject(format!("unknown time zone {}", cut(z)));
                    continue;
                }
                Some(z.to_string())
            }
        };
        if target.dnc.contains(&phone) {
            reject(format!("{phone} is on the do-not-call list"));
            continue;
        }
        if !seen.insert(phone.clone()) {
            out.duplicates_in_file += 1;
            continue;
        }
        let loc = zones::locate(
            &phone,
            timezone.as_deref(),
            postal_col.map(|i| record[i].as_str()),
            &country,
        );
        *out.zones_by
            .entry(loc.source.as_str().to_string())
            .or_default() += 1;
        let mut attrs = serde_json::Map::new();
        for (i, (h, v)) in headers.iter().zip(record.iter()).enumerate() {
            if i != phone_col && Some(i) != zone_col {
                attrs.insert(h.clone(), serde_json::Value::String(v.to_string()));
            }
        }
        batch.push(NewLead {
            list_id: target.list_id,
            phone,
            timezone,
            zone_key: Some(loc.key()),
            zone_source: Some(loc.source.as_str().to_string()),
            attributes: serde_json::Value::Object(attrs).to_string(),
            priority: 0,
        });
        if batch.len() >= BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if tx.blocking_send(Msg::Rows(full)).is_err() {
                // The inserter stopped (its error is reported).
                return Ok(out);
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(Msg::Rows(batch));
    }
    Ok(out)
}

/// The list a file is imported into: `--list NAME`, else the list whose file is this file,
/// else the campaign's only list.
pub fn pick_list<'a>(
    c: &'a crate::campaign::Campaign,
    list: Option<&str>,
    file: &Path,
) -> Result<&'a crate::campaign::ListSpec, String> {
    let names = || {
        c.lists
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(name) = list {
        return c.lists.iter().find(|l| l.name == name).ok_or_else(|| {
            format!(
                "campaign {:?} has no list {name:?} (lists: {})",
                c.name,
                names()
            )
        });
    }
    let canon = |p: &Path| -> PathBuf { p.canonicalize().unwrap_or_else(|_| p.to_path_buf()) };
    let f = canon(file);
    if let Some(l) = c.lists.iter().find(|l| canon(&l.file) == f) {
        return Ok(l);
    }
    match c.lists.as_slice() {
        [only] => Ok(only),
        [] => Err(format!("campaign {:?} has no [[lists]]", c.name)),
        _ => Err(format!(
            "{} is not one of campaign {:?}'s list files: name the list with --list (lists: {})",
            file.display(),
            c.name,
            names()
        )),
    }
}
