//! Why a SQLite store cannot be opened or written, in words an operator can act on: SQLite
//! itself only says "unable to open database file" or "attempt to write a readonly database".

use std::io;
use std::path::{Path, PathBuf};

/// The file a `sqlite:` URL names (`None`: in memory).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.split('&').any(|q| q == "mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// What keeps SQLite from writing `db` and its `-wal`/`-shm` files next to it, if anything:
/// its directory missing, not a directory, on a read-only filesystem or not writable by this
/// user, or the file itself read-only. Probes the directory by creating and removing a file.
pub fn problem(db: &Path) -> Option<String> {
    let dir = match db.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match std::fs::metadata(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Some(format!("the directory {} does not exist", dir.display()));
        }
        Err(e) => return Some(format!("the directory {}: {e}", dir.display())),
        Ok(m) if !m.is_dir() => {
            return Some(format!("{} is not a directory", dir.display()));
        }
        Ok(_) => {}
    }
    let probe = dir.join(format!(".dialer-write-check-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
        }
        Err(e) => return Some(not_writable("the directory", &dir, &e)),
    }
    if db.exists()
        && let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open(db)
    {
        return Some(not_writable("the database file", db, &e));
    }
    None
}

fn not_writable(what: &str, path: &Path, e: &io::Error) -> String {
    let why = match e.raw_os_error() {
        Some(libc::EROFS) => "is on a read-only filesystem".to_owned(),
        Some(libc::EACCES | libc::EPERM) => {
            "is read-only for this user (permission denied)".to_owned()
        }
        _ => format!("cannot be written: {e}"),
    };
    format!(
        "{what} {} {why}; SQLite writes the database and its -wal and -shm files there \
         (set state_dir, or --db, to a writable place)",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_sqlite_urls() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/dialer/dialer.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/dialer/dialer.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:dialer.db"),
            Some(PathBuf::from("dialer.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("sqlite://x.db?mode=memory&cache=shared"), None);
        assert_eq!(sqlite_path("postgres://localhost/x"), None);
    }

    #[test]
    fn a_missing_directory_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("nope/dialer.db");
        let p = problem(&db).unwrap();
        assert!(p.contains("does not exist") && p.contains("nope"), "{p}");
        assert_eq!(problem(&dir.path().join("dialer.db")), None);
    }
}
