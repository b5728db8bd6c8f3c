//! The in-memory backend: the real contract on [`MemoryState`] with a
//! settable clock and a log of every call (replayed elsewhere, e.g. through
//! the chaincode server, to compare answers). Raw calls with any function
//! name and arguments test the contract's argument checks.

use carechain_chaincode::memory::MemoryState;
use carechain_chaincode::{CareChain, ChaincodeError, Timestamp};
use serde_json::Value;

use crate::driver::{Contract, FixedClock, Outcome};

/// An event: name and payload.
pub type Event = (String, Vec<u8>);

/// One call of the contract and what the reference state answered.
#[derive(Clone, Debug)]
pub struct Call {
    /// The function called.
    pub function: String,
    /// Its arguments.
    pub args: Vec<Vec<u8>>,
    /// The transaction id, or `None` for a read-only query.
    pub tx_id: Option<String>,
    /// The clock at the call (Unix seconds).
    pub now: i64,
    /// Payload and event, or the refusal.
    pub result: Result<(Vec<u8>, Option<Event>), ChaincodeError>,
}

/// The contract on an in-memory state.
#[derive(Debug)]
pub struct MemoryDriver {
    /// The world state.
    pub state: MemoryState,
    /// The clock (Unix seconds), set freely.
    pub now: i64,
    /// The event of the last successful transaction: name and JSON payload.
    pub last_event: Option<(String, Value)>,
    /// Every call made, in order.
    pub log: Vec<Call>,
    tx_counter: u64,
}

impl MemoryDriver {
    /// An empty state whose clock reads `now`.
    pub fn new(now: i64) -> Self {
        Self {
            state: MemoryState::new(),
            now,
            last_event: None,
            log: Vec::new(),
            tx_counter: 0,
        }
    }

    fn timestamp(&self) -> Timestamp {
        Timestamp {
            seconds: self.now,
            nanos: 0,
        }
    }

    /// Every state entry, in key order (to prove a refusal changed nothing).
    pub fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        self.state
            .entries()
            .map(|(k, v)| (k.to_owned(), v.to_vec()))
            .collect()
    }
}

impl Contract for MemoryDriver {
    fn invoke(&mut self, function: &str, args: &[Vec<u8>]) -> Outcome {
        self.tx_counter += 1;
        let tx_id = format!("tx{:06}", self.tx_counter);
        let outcome = self
            .state
            .execute(&CareChain, &tx_id, self.timestamp(), function, args);
        self.log.push(Call {
            function: function.to_owned(),
            args: args.to_vec(),
            tx_id: Some(tx_id),
            now: self.now,
            result: outcome
                .clone()
                .map(|o| (o.payload.clone(), o.event.clone())),
        });
        let outcome = outcome?;
        self.last_event = outcome
            .event
            .map(|(name, payload)| (name, serde_json::from_slice(&payload).expect("event JSON")));
        Ok(serde_json::from_slice(&outcome.payload).expect("result JSON"))
    }

    fn raw_query(&mut self, function: &str, args: &[Vec<u8>]) -> Outcome {
        let result = self
            .state
            .query(&CareChain, self.timestamp(), function, args);
        self.log.push(Call {
            function: function.to_owned(),
            args: args.to_vec(),
            tx_id: None,
            now: self.now,
            result: result.clone().map(|payload| (payload, None)),
        });
        result.map(|bytes| serde_json::from_slice(&bytes).expect("query JSON"))
    }

    fn clock(&self) -> i64 {
        self.now
    }

    fn set_clock(&mut self, seconds: i64) -> Result<(), FixedClock> {
        self.now = seconds;
        Ok(())
    }
}
