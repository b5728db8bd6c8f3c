//! The protocol steps of CareChain as pure functions, each in one place: the
//! phone, the staff client, the test kits and the contract's checks call
//! these rather than composing the primitives themselves.
//!
//! - [`login`]: the patient's login proof over the relay's challenge.
//! - [`record`]: opening a record (unwrap the data key, decrypt the payload).
//! - [`write`]: composing a record write for a set of readers.
//! - [`grant`]: re-wrapping data keys for a grantee.
//! - [`claim`]: finding and proving a claim item, and the contract's check of it.
//! - [`check`]: the phone's checks of a policy's `E(M_i)` and a record's `E(code)`.
//! - [`fhir`]: reading the ICD-10-CM code of a FHIR `Condition`.
//! - [`register`]: composing an identity registration from an actor's keys.
//!
//! No I/O and no clock: the caller passes the time and the RNG.

pub mod check;
pub mod claim;
pub mod fhir;
pub mod grant;
pub mod login;
pub mod record;
pub mod register;
pub mod write;

use crate::envelope::EnvelopeError;
use crate::ids::{ActorId, RecordId};
use crate::paillier::PaillierError;

/// Why a protocol step failed. Crypto failures stay opaque (the envelope's
/// and Paillier's own errors say no more than which input was refused).
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// A data key did not unwrap, a payload did not decrypt, or a key was malformed.
    #[error("record {record}: {source}")]
    Envelope {
        /// The record concerned.
        record: RecordId,
        /// What the envelope refused.
        source: EnvelopeError,
    },
    /// A reader's published HPKE key is not a P-256 point.
    #[error("reader {reader}: published HPKE key: {source}")]
    ReaderKey {
        /// The reader.
        reader: ActorId,
        /// What the envelope refused.
        source: EnvelopeError,
    },
    /// A Paillier ciphertext or key did not parse, or did not fit the key.
    #[error("{what}: {source}")]
    Paillier {
        /// Which value.
        what: &'static str,
        /// What Paillier refused.
        source: PaillierError,
    },
    /// The record belongs to another patient than the one opening it.
    #[error("record {record}: expected patient {expected}, found {found}")]
    WrongPatient {
        /// The record.
        record: RecordId,
        /// The patient opening it.
        expected: ActorId,
        /// The patient the record names.
        found: ActorId,
    },
    /// A decrypted payload is not UTF-8 text.
    #[error("record {record}: expected a UTF-8 payload, found other bytes")]
    NotUtf8 {
        /// The record.
        record: RecordId,
    },
    /// A covered item's code is not an ICD-10-CM code or category.
    #[error("covered item {index}: {source}")]
    CoveredCode {
        /// The item's index.
        index: usize,
        /// What is wrong with the code.
        source: crate::icd10::Icd10Error,
    },
    /// A product has more items than a claim can index.
    #[error("expected at most {max} covered items, found more", max = u32::MAX)]
    TooManyItems,
    /// The signing key could not sign (not expected for a valid key).
    #[error("could not sign: {0}")]
    Signing(String),
}

/// Shorthand for a Paillier failure on `what`.
fn paillier(what: &'static str) -> impl FnOnce(PaillierError) -> ProtocolError {
    move |source| ProtocolError::Paillier { what, source }
}

/// Deterministic keys shared by the protocol tests.
#[cfg(test)]
pub(crate) mod testkeys {
    use std::sync::OnceLock;

    use num_bigint::BigUint;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    use crate::envelope::HpkeSecretKey;
    use crate::identity::SigningKey;
    use crate::paillier::SecretKey;

    /// A seeded RNG.
    pub fn rng(seed: u64) -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(seed)
    }

    /// A patient's signing and HPKE keys.
    pub struct Patient {
        pub signing: SigningKey,
        pub hpke: HpkeSecretKey,
    }

    /// A patient from `seed`.
    pub fn patient(seed: u64) -> Patient {
        let mut rng = rng(seed);
        Patient {
            signing: SigningKey::generate(&mut rng),
            hpke: HpkeSecretKey::generate(&mut rng),
        }
    }

    /// The shared test Paillier key: 2048 bits from the fixture primes of `tests/data`.
    pub fn paillier() -> &'static SecretKey {
        static KEY: OnceLock<SecretKey> = OnceLock::new();
        KEY.get_or_init(|| {
            let fixture = include_str!("../../tests/data/paillier_primes.txt");
            let prime = |name: &str| {
                fixture
                    .lines()
                    .filter_map(|l| l.split_once(" = "))
                    .find(|(k, _)| k.trim() == name)
                    .and_then(|(_, v)| BigUint::parse_bytes(v.trim().as_bytes(), 16))
                    .expect("fixture prime present")
            };
            SecretKey::from_primes(&prime("key2048_p"), &prime("key2048_q")).expect("fixture key")
        })
    }
}
