//! The [`Stub`] the contract runs against, over a SQLite connection, with the
//! semantics of `carechain_chaincode::memory`: reads see the state as of the
//! start of the transaction, writes are buffered and returned to the caller
//! only if the contract succeeds, one event per transaction.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use carechain_chaincode::{Chaincode, KeyModification, Stub, StubError, Timestamp};
use rusqlite::Connection;

use super::block::Write;
use super::store;
use crate::LedgerError;

/// What a successful execution produced (not yet applied to the state).
pub(crate) struct Executed {
    pub(crate) payload: Vec<u8>,
    pub(crate) writes: Vec<Write>,
    pub(crate) event: Option<(String, Vec<u8>)>,
}

/// Runs `function(args)` as transaction `tx_id` against the state in `conn`.
///
/// A contract error or panic becomes [`LedgerError::Refused`] (panics with
/// status 500, code `chaincode_panic`); a storage failure during the run
/// becomes [`LedgerError::Storage`] whatever the contract returned.
pub(crate) fn execute(
    conn: &Connection,
    chaincode: &dyn Chaincode,
    tx_id: &str,
    timestamp: Timestamp,
    function: &str,
    args: &[Vec<u8>],
) -> Result<Executed, LedgerError> {
    let mut stub = SqlStub {
        conn,
        tx_id,
        timestamp,
        writes: BTreeMap::new(),
        event: None,
        failure: None,
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        chaincode.invoke(&mut stub, function, args)
    }));
    if let Some(e) = stub.failure {
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
    Ok(Executed {
        payload,
        writes: stub
            .writes
            .into_iter()
            .map(|(key, value)| Write { key, value })
            .collect(),
        event: stub.event,
    })
}

struct SqlStub<'a> {
    conn: &'a Connection,
    tx_id: &'a str,
    timestamp: Timestamp,
    writes: BTreeMap<String, Option<Vec<u8>>>,
    event: Option<(String, Vec<u8>)>,
    /// The first storage failure; it fails the transaction even if the
    /// contract swallowed the `StubError`.
    failure: Option<rusqlite::Error>,
}

impl SqlStub<'_> {
    fn check<T>(&mut self, r: rusqlite::Result<T>) -> Result<T, StubError> {
        r.map_err(|e| {
            let err = StubError(format!("ledger storage failed: {e}"));
            self.failure.get_or_insert(e);
            err
        })
    }
}

fn check_key(key: &str) -> Result<(), StubError> {
    if key.is_empty() || key.starts_with('\0') {
        return Err(StubError(format!(
            "expected a non-empty key not starting with NUL, found {key:?}"
        )));
    }
    Ok(())
}

impl Stub for SqlStub<'_> {
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        check_key(key)?;
        let r = store::get(self.conn, key);
        self.check(r)
    }

    fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), StubError> {
        check_key(key)?;
        self.writes.insert(key.to_owned(), Some(value));
        Ok(())
    }

    fn del_state(&mut self, key: &str) -> Result<(), StubError> {
        check_key(key)?;
        self.writes.insert(key.to_owned(), None);
        Ok(())
    }

    fn get_state_by_range(
        &mut self,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StubError> {
        let r = store::range(self.conn, start, end);
        self.check(r)
    }

    fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, StubError> {
        check_key(key)?;
        let r = store::history(self.conn, key);
        self.check(r)
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
