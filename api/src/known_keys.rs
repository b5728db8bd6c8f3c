//! Which `Idempotency-Key`s may have a stored record, so that a
//! ledger-bound request whose key was never seen skips the database read.
//!
//! A Bloom filter over `(scope, key)`: no false negatives, about 1% false
//! positives (those read the database, as without a filter). It is sound
//! only while this process is the only writer of idempotency records, so
//! [`KnownKeys::owned`] is built only when the relay holds the lock on its
//! SQLite file (see [`DbLock`]) and after loading every stored key. Keys are
//! added before their record is written, and never removed: a released
//! key still "may" be stored, which costs a read, never a wrong answer.
//!
//! The filter grows in layers: when one holds its capacity, a new one with
//! twice the capacity takes the next keys, and a lookup asks every layer.

use std::fs::{File, OpenOptions, TryLockError};
use std::hash::{BuildHasher as _, RandomState};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::error::ApiError;

/// Keys the first layer holds.
const FIRST_CAPACITY: usize = 1 << 16;
/// Bits per key: with [`HASHES`] probes, about 1% false positives.
const BITS_PER_KEY: usize = 10;
/// Probes per key.
const HASHES: u64 = 7;

/// One fixed-size Bloom filter.
#[derive(Debug)]
struct Layer {
    bits: Vec<u64>,
    capacity: usize,
    len: usize,
}

impl Layer {
    fn new(capacity: usize) -> Layer {
        Layer {
            bits: vec![0; (capacity * BITS_PER_KEY).div_ceil(64)],
            capacity,
            len: 0,
        }
    }

    /// The bit positions of a key hashed to `(h1, h2)` (double hashing).
    fn positions(&self, (h1, h2): (u64, u64)) -> impl Iterator<Item = usize> + use<> {
        let size = self.bits.len() as u64 * 64;
        (0..HASHES).map(move |i| {
            // The index is below `size`, which came from a usize.
            usize::try_from(h1.wrapping_add(i.wrapping_mul(h2)) % size).unwrap_or(0)
        })
    }

    fn insert(&mut self, h: (u64, u64)) {
        for p in self.positions(h) {
            self.bits[p / 64] |= 1 << (p % 64);
        }
        self.len += 1;
    }

    fn contains(&self, h: (u64, u64)) -> bool {
        self.positions(h)
            .all(|p| self.bits[p / 64] & (1 << (p % 64)) != 0)
    }
}

#[derive(Debug)]
struct Filter {
    hasher: RandomState,
    /// The layer new keys go into.
    current: Layer,
    /// Earlier layers, each at its capacity.
    full: Vec<Layer>,
}

impl Filter {
    fn hash(&self, scope: &str, key: &str) -> (u64, u64) {
        let h1 = self.hasher.hash_one((scope, key));
        // Odd, so the probes of one key are distinct.
        let h2 = self.hasher.hash_one((h1, scope.len())) | 1;
        (h1, h2)
    }
}

/// The keys that may have a stored record; see the module docs.
#[derive(Debug)]
pub struct KnownKeys(Option<Mutex<Filter>>);

impl KnownKeys {
    /// No filter: every key may be stored (another process may write them).
    pub fn unknown() -> KnownKeys {
        KnownKeys(None)
    }

    /// An empty filter, for a database this process alone writes; the
    /// caller adds every key already stored before serving.
    pub fn owned() -> KnownKeys {
        KnownKeys(Some(Mutex::new(Filter {
            hasher: RandomState::new(),
            current: Layer::new(FIRST_CAPACITY),
            full: Vec::new(),
        })))
    }

    /// Records that `(scope, key)` is, or is about to be, stored.
    pub fn insert(&self, scope: &str, key: &str) {
        let Some(filter) = &self.0 else { return };
        let mut filter = filter.lock().unwrap_or_else(PoisonError::into_inner);
        let h = filter.hash(scope, key);
        if filter.current.len >= filter.current.capacity {
            let next = Layer::new(filter.current.capacity * 2);
            let done = std::mem::replace(&mut filter.current, next);
            filter.full.push(done);
        }
        filter.current.insert(h);
    }

    /// Whether `(scope, key)` may have a stored record (always, without a filter).
    pub fn may_hold(&self, scope: &str, key: &str) -> bool {
        let Some(filter) = &self.0 else { return true };
        let filter = filter.lock().unwrap_or_else(PoisonError::into_inner);
        let h = filter.hash(scope, key);
        filter.current.contains(h) || filter.full.iter().any(|layer| layer.contains(h))
    }
}

/// An exclusive lock on the relay's SQLite database, held while the
/// relay runs: a second relay process on the same file fails at start
/// instead of writing idempotency records the first one's filter misses.
#[derive(Debug)]
pub struct DbLock {
    // Closing the file releases the lock.
    _file: File,
}

impl DbLock {
    /// Takes the lock on `database` (through `database.lock` beside it).
    pub fn acquire(database: &Path) -> Result<DbLock, ApiError> {
        let mut name = database.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| ApiError::internal(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(DbLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(ApiError::internal(format!(
                "another relay process uses the database {}; expected it unused",
                database.display()
            ))),
            Err(TryLockError::Error(e)) => Err(ApiError::internal(format!(
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
    fn inserted_keys_are_always_found_across_layers() {
        let known = KnownKeys::owned();
        let n = FIRST_CAPACITY * 3;
        for i in 0..n {
            known.insert("scope", &format!("key-{i}"));
        }
        assert!((0..n).all(|i| known.may_hold("scope", &format!("key-{i}"))));
        // Three layers: 64k, 128k and the third started.
        let false_positives = (0..10_000)
            .filter(|i| known.may_hold("scope", &format!("other-{i}")))
            .count();
        assert!(
            false_positives < 500,
            "expected about 1-3% false positives, found {false_positives} in 10000"
        );
        assert!(!KnownKeys::owned().may_hold("scope", "key-1"));
    }

    #[test]
    fn without_a_filter_every_key_may_be_stored() {
        let unknown = KnownKeys::unknown();
        unknown.insert("s", "k");
        assert!(unknown.may_hold("s", "never seen"));
    }

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
