//! The contract's only window on the world: a Fabric-style chaincode stub.
//!
//! The same contract runs in-process (the embedded ledger) and on Fabric peers
//! (chaincode as a service), so it sees state, time and the transaction id
//! only through [`Stub`], whose methods mirror the Fabric shim's
//! `GetState`/`PutState`/`DelState`/`GetStateByRange`/
//! `GetStateByRangeWithPagination`/`GetHistoryForKey`/`GetTxID`/
//! `GetTxTimestamp`/`SetEvent`. Semantics follow Fabric:
//!
//! - reads see the state as of the start of the transaction, never the
//!   transaction's own pending writes;
//! - writes take effect only if the transaction succeeds (the invoke returns
//!   `Ok`); an `Err` discards them and commits nothing;
//! - a range read costs what it returns: in a transaction, Fabric's range
//!   iterator, fetched lazily in batches and closed after `limit` rows
//!   ([`Stub::get_state_by_range_limited`]); in a query, Fabric's paginated
//!   range query ([`Stub::get_state_by_range_with_pagination`]), which Fabric
//!   allows only in a read-only transaction: not after a write, and no write
//!   after it;
//! - at most one event per transaction (a second `set_event` replaces the first);
//! - keys are non-empty UTF-8 strings that do not start with `\0` (Fabric
//!   reserves that prefix for composite keys).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A transaction timestamp, as the client proposed it and the peers endorsed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds within the second.
    pub nanos: i32,
}

impl Timestamp {
    /// The system clock's time (the epoch when the clock is set before it).
    pub fn now() -> Self {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp {
            seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
        }
    }
}

/// One entry of a key's history, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyModification {
    /// The transaction that wrote it.
    pub tx_id: String,
    /// That transaction's timestamp.
    pub timestamp: Timestamp,
    /// The value written (empty for a delete).
    pub value: Vec<u8>,
    /// Whether the transaction deleted the key.
    pub is_delete: bool,
}

/// One page of a paginated range query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangePage {
    /// At most the page size of keys, in byte order, with their values.
    pub rows: Vec<(String, Vec<u8>)>,
    /// Where the next page starts (the first key not returned), as Fabric's
    /// `QueryResponseMetadata.bookmark`; empty when the range is exhausted.
    pub bookmark: String,
}

/// A failure of the ledger underneath the stub (not a refusal by the contract).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ledger state unavailable: {0}")]
pub struct StubError(pub String);

/// Checks `key` against the stub's key rule (non-empty, not starting with
/// NUL, which Fabric reserves for composite keys); every stub applies it.
pub fn check_key(key: &str) -> Result<(), StubError> {
    if key.is_empty() || key.starts_with('\0') {
        return Err(StubError(format!(
            "expected a non-empty key not starting with NUL, found {key:?}"
        )));
    }
    Ok(())
}

/// The contract's view of the ledger during one transaction.
pub trait Stub {
    /// The value at `key` before this transaction, if any.
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError>;
    /// Writes `value` at `key` when the transaction commits.
    fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), StubError>;
    /// Deletes `key` when the transaction commits.
    fn del_state(&mut self, key: &str) -> Result<(), StubError>;
    /// Keys in `[start, end)` in byte order, with their values, before this
    /// transaction (`end` empty: no upper bound). Reads the whole range: prefer
    /// [`Stub::get_state_by_range_limited`].
    fn get_state_by_range(
        &mut self,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StubError> {
        self.get_state_by_range_limited(start, end, usize::MAX)
    }
    /// The first `limit` keys in `[start, end)`, as [`Stub::get_state_by_range`]:
    /// Fabric's `GetStateByRange` iterator, fetched lazily and closed after
    /// `limit` rows, so the cost (and the read set) stops there.
    fn get_state_by_range_limited(
        &mut self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StubError>;
    /// Fabric's `GetStateByRangeWithPagination`: at most `page_size` keys of
    /// `[start, end)` from `bookmark` (inclusive; empty: from `start`), and the
    /// bookmark of the next page. Only in a read-only transaction: refused
    /// after a write, and every write after it is refused.
    fn get_state_by_range_with_pagination(
        &mut self,
        start: &str,
        end: &str,
        page_size: usize,
        bookmark: &str,
    ) -> Result<RangePage, StubError>;
    /// Every committed write of `key`, oldest first.
    fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, StubError>;
    /// This transaction's id.
    fn tx_id(&self) -> &str;
    /// This transaction's timestamp.
    fn tx_timestamp(&self) -> Timestamp;
    /// Emits the transaction's event, delivered to subscribers once the block commits.
    fn set_event(&mut self, name: &str, payload: Vec<u8>) -> Result<(), StubError>;
}

/// A contract's refusal of a transaction: nothing is written, the client gets
/// a stable `code` and a message.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ChaincodeError {
    /// HTTP-like status: 400 bad input, 403 refused, 404 unknown object, 409 conflict, 500 ledger failure.
    pub status: u16,
    /// A stable machine-readable code (`signature_invalid`, `replayed_nonce`, …).
    pub code: String,
    /// A human-readable explanation; never contains secrets or record contents.
    pub message: String,
}

impl fmt::Debug for ChaincodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ChaincodeError({} {}: {})",
            self.status, self.code, self.message
        )
    }
}

/// A contract that the ledger runs: one entry point, Fabric style.
pub trait Chaincode: Send + Sync {
    /// Runs `function` with `args` (the transaction's arguments after the
    /// function name) and returns the payload the client receives.
    fn invoke(
        &self,
        stub: &mut dyn Stub,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<Vec<u8>, ChaincodeError>;
}
