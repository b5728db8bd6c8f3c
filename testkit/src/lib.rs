//! CareChain's test kit: one vocabulary of test worlds for every backend.
//!
//! [`actors`] hold deterministic keys, [`keys`] caches the slow Paillier keys,
//! [`statements`] builds the signed statements from the protocol steps of
//! `carechain_core::protocol` (one record-write composer, one claim prover),
//! a [`Driver`] carries them to a backend — the in-memory state
//! ([`MemoryDriver`]), any ledger (`LedgerDriver`, feature `ledger`) or the
//! relay through its HTTP API (`RelayDriver`, feature `relay`) — and a
//! [`World`] writes the scenario steps once over any driver. [`scenario`]
//! holds stories written once and run on each backend; [`process`] runs the
//! real relay binary for end-to-end tests and benchmarks.
//!
//! Dev-only: no crate depends on it outside `[dev-dependencies]`.
#![allow(clippy::unwrap_used)] // A test kit: a failed step is a failed test.

pub mod actors;
pub mod driver;
#[cfg(feature = "fabric")]
pub mod fabric;
pub mod keys;
#[cfg(feature = "ledger")]
pub mod ledger;
pub mod memory;
pub mod process;
#[cfg(feature = "relay")]
pub mod relay;
pub mod scenario;
pub mod statements;
pub mod world;

pub use actors::Actor;
pub use carechain_chaincode::ChaincodeError;
pub use driver::{Contract, Driver, FixedClock, Outcome};
#[cfg(feature = "ledger")]
pub use ledger::LedgerDriver;
pub use memory::{Call, MemoryDriver};
pub use world::World;

/// The audience of the test ledger.
pub const AUD: &str = "carechain:test";
/// The genesis time of a world whose clock is settable.
pub const T0: i64 = 1_800_000_000;
/// One day, in seconds.
pub const DAY: i64 = 86_400;

/// The `init` configuration under storage `rules` (`None`: a config without
/// `rules`, as every ledger before rules existed).
pub fn config(rules: Option<u32>) -> Vec<u8> {
    match rules {
        Some(rules) => format!(r#"{{"audience":"{AUD}","rules":{rules}}}"#),
        None => format!(r#"{{"audience":"{AUD}"}}"#),
    }
    .into_bytes()
}

/// Asserts a refusal with `code` and returns it.
#[track_caller]
pub fn refused(result: Outcome, code: &str) -> ChaincodeError {
    match result {
        Ok(value) => panic!("expected refusal {code}, got success {value}"),
        Err(err) => {
            assert_eq!(err.code, code, "{err:?}");
            err
        }
    }
}

/// The decision of a claim result: decision and reason.
pub fn decision(result: &serde_json::Value) -> (&str, Option<&str>) {
    (
        result["decision"]["decision"].as_str().unwrap(),
        result["decision"]["reason"].as_str(),
    )
}
