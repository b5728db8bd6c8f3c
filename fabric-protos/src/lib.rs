//! Hyperledger Fabric's protocol buffers as Rust types: the prost messages
//! and the tonic clients and servers of the services CareChain speaks.
//!
//! The `.proto` files under `protos/` are vendored unchanged from
//! hyperledger/fabric-protos **v0.3.7** (Apache-2.0, the release Fabric 2.5
//! LTS and 3.x peers speak: same field numbers for every message used here).
//! `src/gen/` is generated from them by `regen.sh` with the pure-Rust `protox`
//! compiler and `tonic-prost-build`, and committed, so building this crate
//! needs neither `protoc` nor a build script; `regen.sh` fails when the
//! committed code differs from a fresh generation.
//!
//! Why a crate of its own: both the chaincode server (`carechain-chaincode`,
//! feature `ccaas`: the `protos.Chaincode/Connect` server) and the Fabric
//! backend of the ledger client (`carechain-ledger`, feature `fabric`: the
//! `gateway.Gateway` client) use these types, and the contract itself must
//! stay free of gRPC; one leaf crate compiled once serves both.
//!
//! Modules follow the proto packages, so the generated cross-references
//! (`super::common::Envelope`) resolve.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// `package common`: envelopes, headers, blocks.
pub mod common {
    include!("gen/common.rs");
}
/// `package protos`: chaincode shim messages, proposals, transactions.
pub mod protos {
    include!("gen/protos.rs");
}
/// `package gateway`: the peer's Gateway service.
pub mod gateway {
    include!("gen/gateway.rs");
}
/// `package msp`: serialized identities.
pub mod msp {
    include!("gen/msp.rs");
}
/// `package orderer`: the atomic broadcast messages the gateway refers to.
pub mod orderer {
    include!("gen/orderer.rs");
}
/// `package queryresult`: range and history query results.
pub mod queryresult {
    include!("gen/queryresult.rs");
}
/// `package rwset`: transaction read-write sets.
pub mod rwset {
    include!("gen/rwset.rs");
}
/// `package kvrwset`: key-value read-write sets.
pub mod kvrwset {
    include!("gen/kvrwset.rs");
}

pub use prost;
pub use prost_types;
pub use tonic;
