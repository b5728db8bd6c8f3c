//! The exclusive lock on a ledger directory.
//!
//! Two ledgers writing one directory would race on block numbers: SQLite
//! serialises their commits, so nothing forks, but the second one's blocks
//! fail and every submitter it serves sees errors long after it started.
//! [`DirLock`] makes the second open fail at once instead. It holds an
//! exclusive advisory lock (`flock` on Unix, `LockFileEx` on Windows, through
//! std's `File::try_lock`) on `dir/LOCK` for as long as the ledger is open;
//! the operating system drops it when the file is closed or the process dies,
//! so a crash never leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::LedgerError;

/// The lock file's name inside the ledger directory.
const LOCK_FILE: &str = "LOCK";

/// An exclusive lock on a ledger directory, released when dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    // Closing the file releases the lock.
    _file: File,
}

impl DirLock {
    /// Creates `dir` if needed and takes its lock, failing at once if it is held.
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock, LedgerError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| LedgerError::storage("creating the ledger directory", e))?;
        let path = dir.join(LOCK_FILE);
        match try_lock_file(&path) {
            Ok(Some(file)) => Ok(DirLock { _file: file }),
            Ok(None) => Err(LedgerError::Locked { dir: absolute(dir) }),
            Err(e) => Err(LedgerError::storage(
                format!("locking {}", path.display()),
                e,
            )),
        }
    }
}

/// Takes an exclusive advisory lock on file `path` (created if missing) for
/// as long as the returned file is open; `Ok(None)` when another holder has it.
pub fn try_lock_file(path: &Path) -> std::io::Result<Option<File>> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

fn absolute(dir: &Path) -> PathBuf {
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned())
}
