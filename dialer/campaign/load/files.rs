//! The files a campaign names, as validation sees them: the [`Files`] seam, the real
//! filesystem ([`Disk`]) and an in-memory set ([`FileSet`]); the reader's checks of a
//! referenced file and of a WAV prompt.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::CampaignReader;
use crate::campaign::reader::Ctx;
use crate::listfile::rows::Encoding;

/// What campaign validation asks of the files a campaign names (lists, DNC files, WAV
/// prompts). [`Disk`] answers from the filesystem; a [`FileSet`] from memory.
pub trait Files {
    /// What is at `path`.
    fn kind(&self, path: &Path) -> FileKind;
    /// The column names of a list's header line, read as `dialer import` reads it (UTF-8
    /// byte-order mark skipped, `encoding` decoded); why not.
    fn header(&self, path: &Path, encoding: Encoding) -> Result<Vec<String>, String>;
    /// Whether `path` reads as a WAV file; why not.
    fn wav(&self, path: &Path) -> Result<(), String>;
}

/// What is at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    File,
    Dir,
    /// A device, pipe or socket.
    Other,
    Missing,
    /// It cannot be looked at (permissions …): why.
    Unreadable(String),
}

/// The filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct Disk;

impl Files for Disk {
    fn kind(&self, path: &Path) -> FileKind {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => FileKind::File,
            Ok(m) if m.is_dir() => FileKind::Dir,
            Ok(_) => FileKind::Other,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileKind::Missing,
            Err(e) => FileKind::Unreadable(e.to_string()),
        }
    }

    fn header(&self, path: &Path, encoding: Encoding) -> Result<Vec<String>, String> {
        crate::listfile::read_header(path, encoding).map_err(|e| e.to_string())
    }

    fn wav(&self, path: &Path) -> Result<(), String> {
        hound::WavReader::open(path)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Files given in memory, by path: lists with their header's columns, WAV prompts, other files
/// and directories. Any other path is missing.
#[derive(Debug, Clone, Default)]
pub struct FileSet {
    entries: BTreeMap<PathBuf, Entry>,
}

#[derive(Debug, Clone)]
enum Entry {
    List(Vec<String>),
    Wav,
    File,
    Dir,
}

impl FileSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// A list file whose header line has these columns (already decoded).
    pub fn list(mut self, path: impl Into<PathBuf>, columns: &[&str]) -> Self {
        let columns = columns.iter().map(|c| c.to_string()).collect();
        self.entries.insert(path.into(), Entry::List(columns));
        self
    }

    /// A WAV file that reads.
    pub fn wav(mut self, path: impl Into<PathBuf>) -> Self {
        self.entries.insert(path.into(), Entry::Wav);
        self
    }

    /// Any other file (a DNC list).
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.entries.insert(path.into(), Entry::File);
        self
    }

    /// A directory.
    pub fn dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.entries.insert(path.into(), Entry::Dir);
        self
    }
}

impl Files for FileSet {
    fn kind(&self, path: &Path) -> FileKind {
        match self.entries.get(path) {
            Some(Entry::Dir) => FileKind::Dir,
            Some(_) => FileKind::File,
            None => FileKind::Missing,
        }
    }

    fn header(&self, path: &Path, _encoding: Encoding) -> Result<Vec<String>, String> {
        match self.entries.get(path) {
            Some(Entry::List(columns)) => Ok(columns.clone()),
            _ => Err(format!("{}: no header line", path.display())),
        }
    }

    fn wav(&self, path: &Path) -> Result<(), String> {
        match self.entries.get(path) {
            Some(Entry::Wav) => Ok(()),
            _ => Err("not a WAV file".into()),
        }
    }
}

impl CampaignReader<'_> {
    pub(super) fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// A referenced file that must exist.
    pub(super) fn file(&self, ctx: &mut Ctx, key: &str, p: &str) -> Option<PathBuf> {
        let full = self.resolve(p);
        if p.trim().is_empty() {
            ctx.problem(key, "empty path");
            return None;
        }
        let problem = match self.files.kind(&full) {
            FileKind::File => return Some(full),
            FileKind::Dir => "is a directory, not a file",
            FileKind::Other => "is not a regular file (a device, pipe or socket)",
            FileKind::Missing => {
                ctx.problem(key, format!("file not found: {}", full.display()));
                return None;
            }
            FileKind::Unreadable(e) => {
                ctx.problem(key, format!("cannot read {}: {e}", full.display()));
                return None;
            }
        };
        ctx.problem(key, format!("{} {problem}", full.display()));
        None
    }

    /// A referenced WAV file that must exist and parse.
    pub(super) fn wav(&self, ctx: &mut Ctx, key: &str, p: &str) -> Option<PathBuf> {
        let full = self.file(ctx, key, p)?;
        match self.files.wav(&full) {
            Ok(()) => Some(full),
            Err(e) => {
                ctx.problem(
                    key,
                    format!("{} is not a readable WAV file: {e}", full.display()),
                );
                None
            }
        }
    }
}
