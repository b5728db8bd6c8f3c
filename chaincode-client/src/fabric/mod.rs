//! The Fabric side of the ledger client (feature `fabric`): the relay's MSP
//! identity and the signed Gateway messages, built exactly as the official
//! Gateway clients (Go, Node, Java) build them, on the protos of
//! `carechain-fabric-protos` (fabric-protos v0.3.7; Fabric 2.5 LTS and 3.x).
//!
//! The Gateway transport (`Evaluate`, `Endorse`, `Submit`, `CommitStatus`,
//! `ChaincodeEvents`) as a [`Ledger`](crate::Ledger) backend builds on these.

pub mod identity;
pub mod proposal;

pub use identity::{FabricIdentity, IdentityError};
