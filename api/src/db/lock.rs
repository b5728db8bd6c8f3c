//! The lock that makes a relay process the only one on its SQLite database.
//!
//! A second relay on the same file would interleave its writes with this
//! one's group commits (meeting `SQLITE_BUSY` under load) and could follow
//! another ledger into the same outbox; it fails at start instead. The lock
//! is an OS file lock on `<database>.lock`, released when the process exits,
//! however it exits. PostgreSQL needs none: it serves many relays.

use std::path::{Path, PathBuf};

use carechain_ledger::embedded::try_lock_file;

use crate::error::ApiError;

/// An exclusive lock on the relay's SQLite database, held while the relay
/// runs.
#[derive(Debug)]
pub struct DbLock {
    // Closing the file releases the lock.
    _file: std::fs::File,
}

impl DbLock {
    /// Takes the lock on `database` (through `database.lock` beside it).
    pub fn acquire(database: &Path) -> Result<DbLock, ApiError> {
        let mut name = database.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        match try_lock_file(&path) {
            Ok(Some(file)) => Ok(DbLock { _file: file }),
            Ok(None) => Err(ApiError::internal(format!(
                "another relay process uses the database {}; expected it unused",
                database.display()
            ))),
            Err(e) => Err(ApiError::internal(format!(
                "cannot lock {}: {e}",
                path.display()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("relay.sqlite");
        let first = DbLock::acquire(&db).unwrap();
        let second = DbLock::acquire(&db).unwrap_err().to_string();
        assert!(second.contains("another relay process"), "{second}");
        drop(first);
        DbLock::acquire(&db).unwrap();
    }
}
