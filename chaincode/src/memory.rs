//! An in-memory world state with key history that runs transactions with
//! Fabric's stub semantics; the reference the ledger backends are compared to
//! and the harness of the contract's own tests.

use std::collections::BTreeMap;

use crate::stub::{
    Chaincode, ChaincodeError, KeyModification, Stub, StubError, Timestamp, check_key,
};

/// World state and history held in memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryState {
    state: BTreeMap<String, Vec<u8>>,
    history: BTreeMap<String, Vec<KeyModification>>,
}

/// What a committed transaction produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxOutcome {
    /// The contract's result payload.
    pub payload: Vec<u8>,
    /// The event it emitted, if any: name and payload.
    pub event: Option<(String, Vec<u8>)>,
}

impl MemoryState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current value at `key`.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.state.get(key).map(Vec::as_slice)
    }

    /// Every key and value, in key order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.state.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Runs one transaction; commits its writes only if the contract succeeds.
    pub fn execute(
        &mut self,
        chaincode: &dyn Chaincode,
        tx_id: &str,
        timestamp: Timestamp,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<TxOutcome, ChaincodeError> {
        let mut tx = MemoryTx {
            state: self,
            tx_id,
            timestamp,
            writes: BTreeMap::new(),
            event: None,
        };
        let payload = chaincode.invoke(&mut tx, function, args)?;
        let MemoryTx { writes, event, .. } = tx;
        for (key, value) in writes {
            let modification = KeyModification {
                tx_id: tx_id.to_owned(),
                timestamp,
                value: value.clone().unwrap_or_default(),
                is_delete: value.is_none(),
            };
            self.history
                .entry(key.clone())
                .or_default()
                .push(modification);
            match value {
                Some(value) => self.state.insert(key, value),
                None => self.state.remove(&key),
            };
        }
        Ok(TxOutcome { payload, event })
    }

    /// Runs a read-only query: the contract's writes and event are discarded.
    pub fn query(
        &mut self,
        chaincode: &dyn Chaincode,
        timestamp: Timestamp,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<Vec<u8>, ChaincodeError> {
        let mut tx = MemoryTx {
            state: self,
            tx_id: "query",
            timestamp,
            writes: BTreeMap::new(),
            event: None,
        };
        chaincode.invoke(&mut tx, function, args)
    }
}

struct MemoryTx<'a> {
    state: &'a MemoryState,
    tx_id: &'a str,
    timestamp: Timestamp,
    writes: BTreeMap<String, Option<Vec<u8>>>,
    event: Option<(String, Vec<u8>)>,
}

impl Stub for MemoryTx<'_> {
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        check_key(key)?;
        Ok(self.state.state.get(key).cloned())
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
        if start > end && !end.is_empty() {
            return Ok(Vec::new());
        }
        let range = self.state.state.range(start.to_owned()..);
        Ok(range
            .take_while(|(k, _)| end.is_empty() || k.as_str() < end)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, StubError> {
        check_key(key)?;
        Ok(self.state.history.get(key).cloned().unwrap_or_default())
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
