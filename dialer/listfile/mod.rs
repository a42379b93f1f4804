//! List files (CSV as spreadsheets export them): the row reader with its encodings
//! ([`rows`]), the header line, and values quoted and cut for messages. Used by the campaign
//! checks (a list's columns) and the lead import alike, so neither depends on the other.

pub mod rows;

use std::path::{Path, PathBuf};

use rows::{Encoding, Rows, Sniffed};

/// A list file that cannot be read, or a line of it (the texts name the file and line).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{file}: {message}")]
    File { file: PathBuf, message: String },
    #[error("{file}:{line}: {message}")]
    Line {
        file: PathBuf,
        line: u64,
        message: String,
    },
}

/// A value from a file for a message: quoted as `{:?}` would, but cut to about 60
/// characters with "…" and its length in bytes when longer (a 50 MB field is not printed).
pub fn cut(s: &str) -> String {
    const KEEP: usize = 60;
    if s.len() <= KEEP {
        return format!("{s:?}");
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        if out.len() > KEEP {
            out.push_str(&format!("…\" ({} bytes)", s.len()));
            return out;
        }
        out.extend(c.escape_debug());
    }
    out.push('"');
    out
}

/// Read the header line of a list: its column names, trimmed.
pub fn read_header(file: &Path, encoding: Encoding) -> Result<Vec<String>, FileError> {
    let f = std::fs::File::open(file).map_err(|e| FileError::File {
        file: file.to_path_buf(),
        message: format!("cannot open: {e}"),
    })?;
    let mut rows = open_rows(std::io::BufReader::new(f), encoding, file)?;
    header(&mut rows, file)
}

pub fn open_rows<R: std::io::BufRead>(
    reader: R,
    encoding: Encoding,
    file: &Path,
) -> Result<Rows<Sniffed<R>>, FileError> {
    Rows::open(reader, encoding).map_err(|e| FileError::Line {
        file: file.to_path_buf(),
        line: e.line,
        message: e.error.to_string(),
    })
}

pub fn header<R: std::io::BufRead>(
    rows: &mut Rows<R>,
    file: &Path,
) -> Result<Vec<String>, FileError> {
    let row = rows
        .next_row()
        .map_err(|e| FileError::Line {
            file: file.to_path_buf(),
            line: e.line,
            message: format!("cannot read the header line: {}", e.error),
        })?
        .ok_or_else(|| FileError::File {
            file: file.to_path_buf(),
            message: "the file is empty: no header line".into(),
        })?;
    if let Some(n) = row.too_long {
        return Err(FileError::Line {
            file: file.to_path_buf(),
            line: row.line,
            message: format!("the header line is {n} bytes long: not a list header"),
        });
    }
    let headers: Vec<String> = row.fields.iter().map(|h| h.trim().to_string()).collect();
    rows.set_names(headers.clone());
    Ok(headers)
}

/// The names of a header for a message, cut to a readable length.
pub fn column_list(headers: &[String]) -> String {
    let mut out = String::new();
    for (i, h) in headers.iter().enumerate() {
        if out.len() > 100 {
            out.push_str(&format!(", … ({} columns)", headers.len()));
            return out;
        }
        if i > 0 {
            out.push_str(", ");
        }
        let c = cut(h);
        // Short names unquoted, as the header shows them.
        if c.len() == h.len() + 2 {
            out.push_str(h);
        } else {
            out.push_str(&c);
        }
    }
    out
}
