//! The [`Stub`] the contract runs against, over a SQLite connection: the
//! contract crate's [`Buffered`] stub (the semantics of
//! `carechain_chaincode::memory`: reads see the state as of the start of the
//! transaction, writes are buffered and returned to the caller only if the
//! contract succeeds, one event per transaction) over [`SqlReader`]. It also records
//! the transaction's read set, which the parallel executor checks for
//! conflicts with the writes committed before it in the same batch.

use std::collections::BTreeSet;
use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};

use carechain_chaincode::buffered::{Buffered, StateReader};
use carechain_chaincode::{Chaincode, KeyModification, Stub, StubError, Timestamp};
use rusqlite::Connection;

use super::block::Write;
use super::store;
use crate::LedgerError;

/// What a transaction read: the keys (point reads and key histories) and the
/// key ranges `[start, end)` (`end` empty: unbounded above).
#[derive(Debug, Default)]
pub(crate) struct ReadSet {
    keys: BTreeSet<String>,
    ranges: Vec<(String, String)>,
}

impl ReadSet {
    /// Whether any key in `written` was read, or falls in a range that was read.
    pub(crate) fn conflicts(&self, written: &BTreeSet<String>) -> bool {
        if written.is_empty() {
            return false;
        }
        let point = if self.keys.len() <= written.len() {
            self.keys.iter().any(|k| written.contains(k))
        } else {
            written.iter().any(|k| self.keys.contains(k))
        };
        point
            || self.ranges.iter().any(|(start, end)| {
                let upper = if end.is_empty() {
                    Bound::Unbounded
                } else if start.as_str() < end.as_str() {
                    Bound::Excluded(end.as_str())
                } else {
                    return false;
                };
                written
                    .range::<str, _>((Bound::Included(start.as_str()), upper))
                    .next()
                    .is_some()
            })
    }
}

/// A run's result together with what it read (kept for refusals too: a
/// refusal depends on the reads as much as a success does).
pub(crate) struct Outcome {
    pub(crate) reads: ReadSet,
    pub(crate) result: Result<Executed, LedgerError>,
}

/// What a successful execution produced (not yet applied to the state).
pub(crate) struct Executed {
    pub(crate) payload: Vec<u8>,
    pub(crate) writes: Vec<Write>,
    pub(crate) event: Option<(String, Vec<u8>)>,
}

/// One transaction to run: its id and timestamp, the contract function and
/// its arguments.
#[derive(Clone, Copy)]
pub(crate) struct Call<'a> {
    pub(crate) tx_id: &'a str,
    pub(crate) timestamp: Timestamp,
    pub(crate) function: &'a str,
    pub(crate) args: &'a [Vec<u8>],
}

impl<'a> Call<'a> {
    /// `function(args)` as transaction `tx_id` at `timestamp`.
    pub(crate) fn new(
        tx_id: &'a str,
        timestamp: Timestamp,
        function: &'a str,
        args: &'a [Vec<u8>],
    ) -> Self {
        Call {
            tx_id,
            timestamp,
            function,
            args,
        }
    }
}

/// Runs `call` against the state in `conn`.
///
/// A contract error or panic becomes [`LedgerError::Refused`] (panics with
/// status 500, code `chaincode_panic`); a storage failure during the run
/// becomes [`LedgerError::Storage`] whatever the contract returned.
pub(crate) fn execute(
    conn: &Connection,
    chaincode: &dyn Chaincode,
    call: Call<'_>,
) -> Result<Executed, LedgerError> {
    execute_recorded(conn, chaincode, call).result
}

/// As [`execute`], also returning the transaction's read set.
pub(crate) fn execute_recorded(
    conn: &Connection,
    chaincode: &dyn Chaincode,
    call: Call<'_>,
) -> Outcome {
    let reader = SqlReader {
        conn,
        failure: None,
        reads: ReadSet::default(),
    };
    let mut stub = Buffered::new(reader, call.tx_id, call.timestamp);
    let result = run(&mut stub, chaincode, call.function, call.args);
    Outcome {
        reads: stub.reader.reads,
        result,
    }
}

fn run(
    stub: &mut Buffered<'_, SqlReader<'_>>,
    chaincode: &dyn Chaincode,
    function: &str,
    args: &[Vec<u8>],
) -> Result<Executed, LedgerError> {
    let tx_id = stub.tx_id().to_owned();
    let result = catch_unwind(AssertUnwindSafe(|| chaincode.invoke(stub, function, args)));
    if let Some(e) = stub.reader.failure.take() {
        return Err(LedgerError::storage(
            format!("running transaction {tx_id}"),
            e,
        ));
    }
    let payload = match result {
        Ok(Ok(payload)) => payload,
        Ok(Err(refusal)) => return Err(refusal.into()),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            return Err(LedgerError::Refused {
                status: 500,
                code: "chaincode_panic".to_owned(),
                message: format!("the contract panicked in {function}: {message}"),
            });
        }
    };
    let (writes, event) = stub.take();
    Ok(Executed {
        payload,
        writes: writes
            .into_iter()
            .map(|(key, value)| Write { key, value })
            .collect(),
        event,
    })
}

/// The committed state in SQLite, recording what the transaction read.
struct SqlReader<'a> {
    conn: &'a Connection,
    /// The first storage failure; it fails the transaction even if the
    /// contract swallowed the `StubError`.
    failure: Option<rusqlite::Error>,
    reads: ReadSet,
}

impl SqlReader<'_> {
    fn check<T>(&mut self, r: rusqlite::Result<T>) -> Result<T, StubError> {
        r.map_err(|e| {
            let err = StubError(format!("ledger storage failed: {e}"));
            self.failure.get_or_insert(e);
            err
        })
    }
}

impl StateReader for SqlReader<'_> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        self.reads.keys.insert(key.to_owned());
        let r = store::get(self.conn, key);
        self.check(r)
    }

    fn range(
        &mut self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StubError> {
        let r = store::range(self.conn, start, end, limit);
        let rows = self.check(r)?;
        // A range cut at `limit` read only up to its last key: a later write
        // beyond it cannot change what the transaction saw.
        let read_end = match rows.last() {
            Some((last, _)) if rows.len() == limit => format!("{last}\0"),
            _ => end.to_owned(),
        };
        self.reads.ranges.push((start.to_owned(), read_end));
        Ok(rows)
    }

    fn history(&mut self, key: &str) -> Result<Vec<KeyModification>, StubError> {
        // A key's history changes exactly when the key is written.
        self.reads.keys.insert(key.to_owned());
        let r = store::history(self.conn, key);
        self.check(r)
    }
}
