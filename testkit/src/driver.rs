//! The one seam between a test world and a backend: submit a signed
//! statement, answer a typed query, and read (or, where the backend allows,
//! set) the ledger's clock. Answers are the contract's JSON; refusals are the
//! contract's [`ChaincodeError`] (status, code, message) on every backend.

use carechain_chaincode::ChaincodeError;
use carechain_core::ledger::Query;
use serde_json::Value;

/// The contract's JSON answer, or its refusal.
pub type Outcome = Result<Value, ChaincodeError>;

/// Why the clock could not be set.
#[derive(Debug, thiserror::Error)]
#[error("the {backend} backend's clock is the wall clock: cannot set it to {wanted}")]
pub struct FixedClock {
    /// Which backend refused.
    pub backend: &'static str,
    /// The time asked for (Unix seconds).
    pub wanted: i64,
}

/// A backend running the CareChain contract.
pub trait Driver {
    /// Runs `init` with `config` and the first admin's self-registration `admin_token`.
    fn init(&mut self, config: &[u8], admin_token: &str) -> Outcome;

    /// Submits a signed statement (the contract's `submit`).
    fn submit(&mut self, token: &str) -> Outcome;

    /// Answers a read-only query.
    fn query(&mut self, query: &Query) -> Outcome;

    /// The ledger's current time (Unix seconds): statements are issued at it.
    fn now(&self) -> i64;

    /// Sets the ledger's time, where the backend allows it.
    fn set_now(&mut self, seconds: i64) -> Result<(), FixedClock>;
}

/// A backend that runs any contract function with raw arguments (the
/// in-memory state and the ledgers; not the relay, whose routes are typed).
/// Each such backend is a [`Driver`] through it.
pub trait Contract {
    /// Runs transaction `function` with raw `args`.
    fn invoke(&mut self, function: &str, args: &[Vec<u8>]) -> Outcome;

    /// Runs query `function` with raw `args` (malformed ones included).
    fn raw_query(&mut self, function: &str, args: &[Vec<u8>]) -> Outcome;

    /// The backend's current time (Unix seconds).
    fn clock(&self) -> i64;

    /// Sets the backend's time, where it allows it.
    fn set_clock(&mut self, seconds: i64) -> Result<(), FixedClock>;
}

impl<C: Contract> Driver for C {
    fn init(&mut self, config: &[u8], admin_token: &str) -> Outcome {
        self.invoke("init", &[config.to_vec(), admin_token.as_bytes().to_vec()])
    }

    fn submit(&mut self, token: &str) -> Outcome {
        self.invoke("submit", &[token.as_bytes().to_vec()])
    }

    fn query(&mut self, query: &Query) -> Outcome {
        self.raw_query(query.name(), &query.args())
    }

    fn now(&self) -> i64 {
        self.clock()
    }

    fn set_now(&mut self, seconds: i64) -> Result<(), FixedClock> {
        self.set_clock(seconds)
    }
}
