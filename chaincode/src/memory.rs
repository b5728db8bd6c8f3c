//! An in-memory world state with key history that runs transactions with
//! Fabric's stub semantics; the reference the ledger backends are compared to
//! and the harness of the contract's own tests.

use std::collections::BTreeMap;

use crate::buffered::{Buffered, StateReader};
use crate::stub::{Chaincode, ChaincodeError, KeyModification, StubError, Timestamp};

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
        let mut tx = Buffered::new(MemoryReader(self), tx_id, timestamp);
        let payload = chaincode.invoke(&mut tx, function, args)?;
        let (writes, event) = tx.take();
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
        let mut tx = Buffered::new(MemoryReader(self), "query", timestamp);
        chaincode.invoke(&mut tx, function, args)
    }
}

/// The committed state a [`Buffered`] stub reads in memory.
struct MemoryReader<'a>(&'a MemoryState);

impl StateReader for MemoryReader<'_> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        Ok(self.0.state.get(key).cloned())
    }

    fn range(
        &mut self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StubError> {
        let range = self.0.state.range(start.to_owned()..);
        Ok(range
            .take_while(|(k, _)| end.is_empty() || k.as_str() < end)
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn history(&mut self, key: &str) -> Result<Vec<KeyModification>, StubError> {
        Ok(self.0.history.get(key).cloned().unwrap_or_default())
    }
}
