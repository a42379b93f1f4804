//! Registry downloads into the global DNC list: `dialer dnc import --registry NAME FILE…`.
//!
//! A file holds one number per line, or an area code and a number in two columns (`202,5550143`,
//! the US registry's download format); a first line with letters is a header; `#` starts a
//! comment. Numbers are normalised to E.164 with the registry's country (US for `us-national`,
//! GB for `uk-tps`, the given region for `internal`) and added to the global list in chunks, so
//! a file of any size streams. The file's date (given, else its modification time) is recorded
//! only when every line was read: a file with a bad line still adds its good numbers (a DNC
//! entry too many is safe), but does not count as fresh registry data.

use std::io::BufRead;
use std::path::Path;

use jiff::Timestamp;

use super::{LeadsError, ms, normalise_phone};
use crate::compliance::registry::Registry;
use crate::store::{DncScope, Store};

/// Numbers added per store transaction.
const CHUNK: usize = 50_000;
/// Bad lines listed at most.
const SHOWN: usize = 10;

/// What loading one file did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegistryLoad {
    pub registry: Registry,
    pub file: String,
    /// The date recorded for the file's data (RFC 3339); `None`: not recorded (bad lines).
    pub date: Option<String>,
    pub numbers: u64,
    /// Of them, new to the global list.
    pub added: u64,
    /// Lines that are not numbers: how many, and the first few as `line: reason`.
    pub bad_lines: u64,
    pub bad: Vec<String>,
}

/// Load one registry file into the global DNC list; `date`: the data's date (else the file's
/// modification time); `region`: the country of numbers without one.
pub async fn load(
    store: &Store,
    registry: Registry,
    file: &Path,
    date: Option<Timestamp>,
    region: phonenumber::country::Id,
    now: Timestamp,
) -> Result<RegistryLoad, LeadsError> {
    let err = |message: String| LeadsError::File {
        file: file.to_path_buf(),
        message,
    };
    let f = std::fs::File::open(file).map_err(|e| err(format!("cannot open: {e}")))?;
    let date = match date {
        Some(d) => d,
        None => {
            let m = f
                .metadata()
                .and_then(|m| m.modified())
                .map_err(|e| err(format!("cannot read its date: {e}")))?;
            Timestamp::try_from(m).map_err(|e| err(format!("cannot read its date: {e}")))?
        }
    };
    let source = format!(
        "registry:{}:{}",
        registry.as_str(),
        file.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let mut out = RegistryLoad {
        registry,
        file: file.display().to_string(),
        date: None,
        numbers: 0,
        added: 0,
        bad_lines: 0,
        bad: Vec::new(),
    };
    let mut chunk: Vec<String> = Vec::with_capacity(CHUNK);
    let reader = std::io::BufReader::with_capacity(1 << 20, f);
    for (i, line) in reader.lines().enumerate() {
        let n = i as u64 + 1;
        let line = line.map_err(|e| err(format!("line {n}: cannot read: {e}")))?;
        let t = line.split('#').next().unwrap_or("").trim();
        if t.is_empty() || (n == 1 && t.chars().any(|c| c.is_ascii_alphabetic())) {
            continue;
        }
        let joined: String = t
            .split([',', '\t', ';'])
            .map(|p| p.trim().trim_matches('"'))
            .collect();
        match normalise_phone(&joined, region) {
            Ok(p) => chunk.push(p),
            Err(reason) => {
                out.bad_lines += 1;
                if out.bad.len() < SHOWN {
                    out.bad.push(format!("{n}: {reason}"));
                }
            }
        }
        if chunk.len() >= CHUNK {
            out.numbers += chunk.len() as u64;
            out.added += add(store, &chunk, &source, now).await?;
            chunk.clear();
        }
    }
    out.numbers += chunk.len() as u64;
    out.added += add(store, &chunk, &source, now).await?;
    if out.bad_lines == 0 {
        store
            .record_registry(
                registry.as_str(),
                &out.file,
                ms(date),
                out.numbers,
                out.added,
                ms(now),
            )
            .await?;
        out.date = Some(date.to_string());
    }
    Ok(out)
}

async fn add(
    store: &Store,
    phones: &[String],
    source: &str,
    now: Timestamp,
) -> Result<u64, LeadsError> {
    if phones.is_empty() {
        return Ok(0);
    }
    let refs: Vec<&str> = phones.iter().map(String::as_str).collect();
    Ok(store
        .add_dnc(
            DncScope::Global,
            &refs,
            Some(source),
            Some("registry"),
            ms(now),
        )
        .await?)
}
