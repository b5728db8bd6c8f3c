//! CareChain core: everything the patient's phone, the doctor's CLI, the
//! contract and the relay agree on.
//!
//! - [`paillier`]: Paillier encryption over a pure-Rust big-integer backend, the
//!   decrypts-to-zero proof of the claim protocol and the key-correctness proof.
//! - [`icd10`]: ICD-10-CM diagnosis codes and their injective integer encoding.
//! - [`identity`]: P-256 identities and the actor ids derived from them.
//! - [`statement`]: compact JWS (ES256) statements, one typed payload per ledger action.
//! - [`envelope`]: record encryption with a per-record data key wrapped per reader with HPKE.
//! - [`ledger`]: the ledger objects, queries, events and refusal codes.
//! - [`wallet`]: the patient's keys and signed-statement log, sealed at rest.
//! - [`protocol`]: the protocol steps as pure functions (login proof, sealing and
//!   opening records, re-wrapping keys, proving a claim, the phone's checks).
//!
//! The crate performs no I/O. Every function that needs randomness takes the
//! RNG as an argument (`&mut impl CryptoRngCore`), so callers and tests decide
//! where entropy comes from.

pub mod envelope;
pub mod icd10;
pub mod identity;
pub mod ids;
pub mod ledger;
pub mod paillier;
pub mod protocol;
pub mod statement;
pub mod wallet;

pub use rand_core::{CryptoRngCore, OsRng};
