//! The Fabric backend of the ledger client (feature `fabric`): the relay's
//! MSP identity, the signed Gateway messages built exactly as the official
//! Gateway clients (Go, Node, Java) build them, and [`FabricLedger`], the
//! [`Ledger`](crate::Ledger) over a peer's Gateway service, on the protos of
//! `carechain-fabric-protos` (fabric-protos v0.3.7; Fabric 2.5 LTS and 3.x).

pub mod config;
mod events;
pub mod gateway;
pub mod identity;
pub mod proposal;
pub mod qscc;
pub mod status;

pub use config::{Deadlines, FabricConfig};
pub use gateway::{FabricError, FabricLedger};
pub use identity::{FabricIdentity, IdentityError};
