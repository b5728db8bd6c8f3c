//! The write buffering every in-process stub shares: a [`Stub`] over a
//! committed state ([`StateReader`]) that keeps the transaction's writes and
//! event aside until the caller decides to commit them.
//!
//! Fabric's simulator rules, applied here once for the in-memory state
//! (`crate::memory`) and the embedded ledger's SQLite state:
//!
//! - reads see the committed state, never the transaction's own writes;
//! - the last write of a key wins (a delete is a write of nothing);
//! - one event per transaction, the last one set;
//! - a paginated range query is allowed only before any write, and no write
//!   is allowed after one (Fabric's `txSimulator` refuses both: paginated
//!   queries belong to read-only transactions).

use std::collections::BTreeMap;

use crate::stub::{KeyModification, RangePage, Stub, StubError, Timestamp, check_key};

/// The committed state a [`Buffered`] stub reads.
pub trait StateReader {
    /// The committed value at `key`.
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError>;
    /// At most `limit` committed keys in `[start, end)` in byte order, with
    /// their values (`end` empty: no upper bound).
    fn range(
        &mut self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StubError>;
    /// Every committed write of `key`, oldest first.
    fn history(&mut self, key: &str) -> Result<Vec<KeyModification>, StubError>;
}

/// A key's pending write: the value, or `None` for a delete.
pub type Writes = BTreeMap<String, Option<Vec<u8>>>;

/// A transaction's stub over `R`, buffering its writes and event.
#[derive(Debug)]
pub struct Buffered<'a, R> {
    /// The committed state underneath.
    pub reader: R,
    tx_id: &'a str,
    timestamp: Timestamp,
    writes: Writes,
    event: Option<(String, Vec<u8>)>,
    paginated: bool,
}

impl<'a, R: StateReader> Buffered<'a, R> {
    /// A transaction `tx_id` at `timestamp` over `reader`, with nothing written yet.
    pub fn new(reader: R, tx_id: &'a str, timestamp: Timestamp) -> Self {
        Self {
            reader,
            tx_id,
            timestamp,
            writes: Writes::new(),
            event: None,
            paginated: false,
        }
    }

    /// The pending writes and the event, leaving none behind.
    pub fn take(&mut self) -> (Writes, Option<(String, Vec<u8>)>) {
        (std::mem::take(&mut self.writes), self.event.take())
    }

    fn write(&mut self, key: &str, value: Option<Vec<u8>>) -> Result<(), StubError> {
        check_key(key)?;
        if self.paginated {
            return Err(StubError(format!(
                "txid [{}]: unsupported transaction. Transaction has already performed a paginated query. Writes are not allowed",
                self.tx_id
            )));
        }
        self.writes.insert(key.to_owned(), value);
        Ok(())
    }
}

impl<R: StateReader> Stub for Buffered<'_, R> {
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        check_key(key)?;
        self.reader.get(key)
    }

    fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), StubError> {
        self.write(key, Some(value))
    }

    fn del_state(&mut self, key: &str) -> Result<(), StubError> {
        self.write(key, None)
    }

    fn get_state_by_range_limited(
        &mut self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StubError> {
        if limit == 0 || (!end.is_empty() && start >= end) {
            return Ok(Vec::new());
        }
        self.reader.range(start, end, limit)
    }

    fn get_state_by_range_with_pagination(
        &mut self,
        start: &str,
        end: &str,
        page_size: usize,
        bookmark: &str,
    ) -> Result<RangePage, StubError> {
        if !self.writes.is_empty() {
            return Err(StubError(format!(
                "txid [{}]: unsupported transaction. Paginated queries are supported only in a read-only transaction",
                self.tx_id
            )));
        }
        self.paginated = true;
        let from = if bookmark.is_empty() { start } else { bookmark };
        // One row past the page: its key is the bookmark of the next page.
        let mut rows = self.get_state_by_range_limited(from, end, page_size.saturating_add(1))?;
        let bookmark = if rows.len() > page_size {
            rows.pop().map(|(key, _)| key).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(RangePage { rows, bookmark })
    }

    fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, StubError> {
        check_key(key)?;
        self.reader.history(key)
    }

    fn tx_id(&self) -> &str {
        self.tx_id
    }

    fn tx_timestamp(&self) -> Timestamp {
        self.timestamp
    }

    fn set_event(&mut self, name: &str, payload: Vec<u8>) -> Result<(), StubError> {
        self.event = Some((name.to_owned(), payload));
        Ok(())
    }
}
