//! The CareChain smart contract.
//!
//! A deterministic state machine over a Fabric-style [`Stub`]: no clock, no
//! randomness, no I/O of its own. Time is the transaction timestamp; every
//! state change is a signed statement from `carechain-core` that the contract
//! verifies itself (see [`contract`] for the checks, and the modules per
//! domain for each action's rules):
//!
//! - [`identities`](crate::identities): genesis, registration, suspension;
//! - consent: access requests, grants, denials, revocations;
//! - records: writes and logged reads;
//! - insurance: products, policies, claims decided from a zero proof.
//!
//! With the `ccaas` feature, [`ccaas`] serves the contract to Fabric peers
//! (chaincode as a service, binary `carechain-chaincode`).

#[cfg(feature = "ccaas")]
pub mod ccaas;
mod consent;
pub mod contract;
pub mod error;
mod identities;
mod insurance;
pub mod memory;
pub mod model;
pub mod queries;
mod records;
pub mod stub;

pub use contract::CareChain;
pub use error::ContractError;
pub use stub::{Chaincode, ChaincodeError, KeyModification, Stub, StubError, Timestamp};
