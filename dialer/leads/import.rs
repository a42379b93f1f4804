//! CSV lead import: every row validated before anything is stored, then multi-row
//! `INSERT … ON CONFLICT DO NOTHING` in large transactions.
//!
//! A reader thread parses and validates (phone to E.164 with the list's region, optional IANA
//! zone column, other columns kept as JSON attributes, DNC check, duplicates inside the file)
//! while the caller's task inserts the previous batch. A broken row is reported with its line
//! number and reason and costs no other row; numbers already in the campaign count as
//! duplicates, so importing the same file again changes nothing.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;

use super::{LeadsError, normalise_phone};
use crate::campaign::ColumnMap;
use crate::store::{NewLead, Store};

/// Rows handed from the reader thread to the inserter at a time.
const BATCH: usize = 10_000;
/// Rows per insert transaction.
const TRANSACTION: usize = 50_000;

/// What `dialer import --json` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub imported: u64,
    pub duplicates: u64,
    pub rejected: Vec<Rejected>,
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

enum Msg {
    Rows(Vec<NewLead>),
    Progress(u64),
}

struct ReaderResult {
    rejected: Vec<Rejected>,
    duplicates_in_file: u64,
}

/// Import a CSV file. `progress` gets the bytes read so far.
pub async fn import_file(
    store: &Store,
    target: ImportTarget,
    file: &Path,
    progress: impl FnMut(u64),
) -> Result<ImportReport, LeadsError> {
    let f = std::fs::File::open(file).map_err(|e| LeadsError::File {
        file: file.to_path_buf(),
        message: format!("cannot open: {e}"),
    })?;
    import_reader(
        store,
        target,
        std::io::BufReader::with_capacity(1 << 20, f),
        file,
        progress,
    )
    .await
}

/// Import CSV from any reader (`file` names it in errors).
pub async fn import_reader<R: Read + Send + 'static>(
    store: &Store,
    target: ImportTarget,
    reader: R,
    file: &Path,
    mut progress: impl FnMut(u64),
) -> Result<ImportReport, LeadsError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(4);
    let path = file.to_path_buf();
    let campaign_id = target.campaign_id;
    let handle = std::thread::spawn(move || read_rows(target, reader, &path, tx));
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
    Ok(ImportReport {
        imported,
        duplicates: read.duplicates_in_file + (offered - imported),
        rejected: read.rejected,
    })
}

fn read_rows<R: Read>(
    target: ImportTarget,
    reader: R,
    file: &Path,
    tx: tokio::sync::mpsc::Sender<Msg>,
) -> Result<ReaderResult, LeadsError> {
    let file_err = |message: String| LeadsError::File {
        file: file.to_path_buf(),
        message,
    };
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(reader);
    let headers: Vec<String> = csv
        .headers()
        .map_err(|e| file_err(format!("cannot read the header line: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let find = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let phone_col = find(&target.columns.phone).ok_or_else(|| {
        file_err(format!(
            "no phone column {:?} (columns: {})",
            target.columns.phone,
            headers.join(", ")
        ))
    })?;
    let zone_col = match &target.columns.timezone {
        Some(z) => Some(find(z).ok_or_else(|| {
            file_err(format!(
                "no time-zone column {z:?} (columns: {})",
                headers.join(", ")
            ))
        })?),
        None => None,
    };
    let mut zones: std::collections::HashMap<String, bool> = Default::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut rejected = Vec::new();
    let mut duplicates_in_file = 0u64;
    let mut batch = Vec::with_capacity(BATCH);
    let mut record = csv::StringRecord::new();
    let mut last_line = 1u64;
    let mut rows = 0u64;
    loop {
        let more = match csv.read_record(&mut record) {
            Ok(m) => m,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(last_line + 1);
                match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => {
                        rejected.push(Rejected {
                            line,
                            reason: "not valid UTF-8".into(),
                        });
                        last_line = line;
                        continue;
                    }
                    _ => {
                        return Err(LeadsError::Line {
                            file: file.to_path_buf(),
                            line,
                            message: format!("cannot read the CSV: {e}"),
                        });
                    }
                }
            }
        };
        if !more {
            break;
        }
        let line = record.position().map(|p| p.line()).unwrap_or(last_line + 1);
        last_line = line;
        rows += 1;
        if rows.is_multiple_of(BATCH as u64)
            && let Some(p) = record.position()
        {
            let _ = tx.blocking_send(Msg::Progress(p.byte()));
        }
        if record.len() != headers.len() {
            rejected.push(Rejected {
                line,
                reason: format!("expected {} columns, found {}", headers.len(), record.len()),
            });
            continue;
        }
        let phone = match normalise_phone(&record[phone_col], target.region) {
            Ok(p) => p,
            Err(reason) => {
                rejected.push(Rejected { line, reason });
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
                    rejected.push(Rejected {
                        line,
                        reason: format!("unknown time zone {z:?}"),
                    });
                    continue;
                }
                Some(z.to_string())
            }
        };
        if target.dnc.contains(&phone) {
            rejected.push(Rejected {
                line,
                reason: format!("{phone} is on the do-not-call list"),
            });
            continue;
        }
        if !seen.insert(phone.clone()) {
            duplicates_in_file += 1;
            continue;
        }
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
            attributes: serde_json::Value::Object(attrs).to_string(),
            priority: 0,
        });
        if batch.len() >= BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if tx.blocking_send(Msg::Rows(full)).is_err() {
                // The inserter stopped (its error is reported).
                return Ok(ReaderResult {
                    rejected,
                    duplicates_in_file,
                });
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(Msg::Rows(batch));
    }
    Ok(ReaderResult {
        rejected,
        duplicates_in_file,
    })
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
