//! CareChain's one client of the relay, shared by the phone library, the
//! `carechain` CLI, the end-to-end tests and the load generator.
//!
//! - [`Session`]: one relay, one account — base URL, reqwest with rustls,
//!   bearer and refresh tokens, `Idempotency-Key` per logical POST (reused on
//!   retry), 401 → log in again once, RFC 9457 problems as [`ClientError`],
//!   paging through `{items, next}`.
//! - [`PatientClient`]: the patient's operations over the wallet
//!   ([`carechain_core::wallet`]); keys never leave it.
//! - [`StaffClient`]: doctor ([`doctor`]), insurer ([`insurer`]) and admin
//!   ([`admin`]) operations over a [`StaffKeys`] keystore.
//! - [`events`]: the live event socket, acknowledged, resumed after a drop.
//!
//! Ledger objects are core's [`carechain_core::ledger`] and the protocol
//! steps (login proof, sealing, re-wrapping, claim proofs, checks) core's
//! [`carechain_core::protocol`]: this crate only moves them over HTTP.

pub mod admin;
pub mod doctor;
mod error;
pub mod events;
pub mod insurer;
pub mod patient;
mod session;
mod staff;
pub mod wire;

pub use carechain_core::wallet::StaffKeys;
pub use error::ClientError;
pub use patient::PatientClient;
pub use session::{Session, SharedWallet};
pub use staff::StaffClient;
