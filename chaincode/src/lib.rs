//! The CareChain smart contract.
//!
//! A deterministic state machine over a Fabric-style [`Stub`]: no clock, no
//! randomness, no I/O of its own. Time is the transaction timestamp; every
//! state change is a signed statement from `carechain-core` that the contract
//! verifies itself.

pub mod memory;
pub mod stub;

pub use stub::{Chaincode, ChaincodeError, KeyModification, Stub, StubError, Timestamp};
