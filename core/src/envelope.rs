//! Record envelopes: a payload sealed under a fresh per-record data key, and
//! that data key wrapped once per reader with HPKE.
//!
//! # Construction
//!
//! - **Payload:** XChaCha20-Poly1305 under a random 32-byte [`DataKey`] with a
//!   random 24-byte nonce (random nonces are safe at this size, so no counter
//!   has to be kept anywhere). The associated data is
//!   `"carechain/envelope/payload" ‖ 0x01 (version) ‖ len(patient) ‖ patient ‖ record`,
//!   where `patient` is the actor id as ASCII and `record` the 16 UUID bytes, so
//!   a sealed payload cannot be presented as another patient's or another
//!   record's payload.
//! - **Wrapped key:** HPKE (RFC 9180) base mode with the suite
//!   DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM. P-256 is chosen so
//!   that reader keys can live in a phone's Secure Enclave or StrongBox, which
//!   support no other curve. The HPKE `info` is
//!   `"carechain/envelope/wrap" ‖ 0x01 (version) ‖ len(patient) ‖ patient ‖ record`;
//!   since `info` enters the HPKE key schedule, a wrapped key only opens for the
//!   patient and record it was made for and cannot be moved to another record.
//!   The HPKE `aad` is empty (everything to bind is already in `info`).
//!   A [`WrappedKey`] is `enc` (the 65-byte SEC1 uncompressed ephemeral key)
//!   and `ciphertext` (32-byte data key ‖ 16-byte GCM tag).
//!
//! Granting a new reader access is one call, [`WrappedKey::rewrap_for`]: the
//! holder unwraps the data key with its own secret key and wraps it for the
//! new reader; the payload itself is never re-encrypted.
//!
//! # Errors
//!
//! Failures to decrypt are deliberately opaque ([`EnvelopeError::Unwrap`],
//! [`EnvelopeError::Open`]): a wrong key, a wrong patient or record id and a
//! tampered ciphertext are indistinguishable. Malformed input (wrong lengths,
//! points not on the curve) is reported precisely, since its shape is public.

use std::fmt;

use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hpke::aead::{AeadTag, AesGcm256};
use hpke::kdf::HkdfSha256;
use hpke::kem::DhP256HkdfSha256;
use hpke::{Deserializable as _, Kem as _, OpModeR, OpModeS, Serializable as _};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::ids::{ActorId, B64, RecordId, b64_serde};

type Kem = DhP256HkdfSha256;
type HpkeAead = AesGcm256;
type Kdf = HkdfSha256;
type HpkePrivate = <Kem as hpke::Kem>::PrivateKey;
type HpkePublic = <Kem as hpke::Kem>::PublicKey;
type EncappedKey = <Kem as hpke::Kem>::EncappedKey;

/// Domain tag of the payload's associated data.
const PAYLOAD_DOMAIN: &[u8] = b"carechain/envelope/payload";
/// Domain tag of the HPKE `info` used to wrap data keys.
const WRAP_DOMAIN: &[u8] = b"carechain/envelope/wrap";
/// Version of the envelope format, bound into both of the above.
const FORMAT_VERSION: u8 = 1;

/// Length in bytes of a data key.
pub const DATA_KEY_LEN: usize = 32;
/// Length in bytes of a SEC1 uncompressed P-256 public key (and of HPKE `enc`).
pub const PUBLIC_KEY_LEN: usize = 65;
/// Length in bytes of an HPKE P-256 secret key (a big-endian scalar).
pub const SECRET_KEY_LEN: usize = 32;
/// Length in bytes of an XChaCha20-Poly1305 nonce.
pub const NONCE_LEN: usize = 24;
/// Length in bytes of an AEAD tag (both Poly1305 and GCM).
pub const TAG_LEN: usize = 16;
/// Length in bytes of a wrapped key's ciphertext: the data key plus the GCM tag.
pub const WRAPPED_CIPHERTEXT_LEN: usize = DATA_KEY_LEN + TAG_LEN;

/// Errors from sealing, opening, wrapping and unwrapping envelopes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// A wrapped data key did not decrypt. Deliberately opaque.
    #[error("could not unwrap the data key: wrong key, wrong record, or corrupted data")]
    Unwrap,
    /// A sealed payload did not decrypt. Deliberately opaque.
    #[error("could not decrypt the payload: wrong key, wrong record, or corrupted data")]
    Open,
    /// HPKE encapsulation to a reader failed (not expected for a validated key).
    #[error("could not wrap the data key for the reader")]
    Wrap,
    /// A byte string had the wrong length.
    #[error("{what}: expected {expected} bytes, found {found}")]
    InvalidLength {
        /// Which input was malformed.
        what: &'static str,
        /// The required length.
        expected: usize,
        /// The length that was given.
        found: usize,
    },
    /// A byte string was shorter than the minimum.
    #[error("{what}: expected at least {min} bytes, found {found}")]
    TooShort {
        /// Which input was malformed.
        what: &'static str,
        /// The minimum length.
        min: usize,
        /// The length that was given.
        found: usize,
    },
    /// A public key (or HPKE `enc`) was not a SEC1 uncompressed P-256 point.
    #[error(
        "{what}: expected a SEC1 uncompressed P-256 point (0x04 ‖ x ‖ y on the curve), {reason}"
    )]
    InvalidPoint {
        /// Which input was malformed.
        what: &'static str,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// A secret key was zero or not below the P-256 group order.
    #[error("HPKE secret key: expected a P-256 scalar in [1, n), found an out-of-range value")]
    InvalidSecretKey,
}

/// Adapts a rand_core 0.6 RNG (our API) to the rand_core 0.9 traits `hpke` needs.
struct Rng09<'a, R: CryptoRngCore + ?Sized>(&'a mut R);

impl<R: CryptoRngCore + ?Sized> rand_core_09::RngCore for Rng09<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.0.fill_bytes(dst);
    }
}

impl<R: CryptoRngCore + ?Sized> rand_core_09::CryptoRng for Rng09<'_, R> {}

/// Length-prefixed binding of domain, version, patient and record.
fn binding(domain: &[u8], patient: &ActorId, record: &RecordId) -> Vec<u8> {
    let patient = patient.as_str().as_bytes();
    let mut out = Vec::with_capacity(domain.len() + 2 + patient.len() + 16);
    out.extend_from_slice(domain);
    out.push(FORMAT_VERSION);
    // Actor ids are 42 ASCII bytes; the prefix keeps the encoding injective anyway.
    out.push(u8::try_from(patient.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(patient);
    out.extend_from_slice(record.as_bytes());
    out
}

/// Refuses `bytes` (the input called `what`) unless it is `expected` bytes long.
fn check_len(bytes: &[u8], expected: usize, what: &'static str) -> Result<(), EnvelopeError> {
    if bytes.len() != expected {
        return Err(EnvelopeError::InvalidLength {
            what,
            expected,
            found: bytes.len(),
        });
    }
    Ok(())
}

fn parse_point(bytes: &[u8], what: &'static str) -> Result<HpkePublic, EnvelopeError> {
    check_len(bytes, PUBLIC_KEY_LEN, what)?;
    if bytes[0] != 0x04 {
        return Err(EnvelopeError::InvalidPoint {
            what,
            reason: "found a first byte other than 0x04",
        });
    }
    HpkePublic::from_bytes(bytes).map_err(|_| EnvelopeError::InvalidPoint {
        what,
        reason: "found a point that is not on the curve",
    })
}

/// A reader's HPKE secret key (P-256). Zeroized on drop; `Debug` is redacted.
pub struct HpkeSecretKey {
    // `hpke`'s private key wraps `p256::SecretKey`, which zeroizes itself on drop.
    secret: HpkePrivate,
    public: HpkePublicKey,
}

impl HpkeSecretKey {
    /// A fresh random key pair.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let (secret, public) = Kem::gen_keypair(&mut Rng09(rng));
        HpkeSecretKey {
            secret,
            public: HpkePublicKey(public),
        }
    }

    /// The matching public key, to publish so others can wrap keys for us.
    pub fn public_key(&self) -> HpkePublicKey {
        self.public.clone()
    }

    /// The 32-byte big-endian scalar, for sealing into the wallet.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(vec![0u8; SECRET_KEY_LEN]);
        self.secret.write_exact(&mut out);
        out
    }

    /// Restores a key from its 32-byte big-endian scalar.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        check_len(bytes, SECRET_KEY_LEN, "HPKE secret key")?;
        let secret = HpkePrivate::from_bytes(bytes).map_err(|_| EnvelopeError::InvalidSecretKey)?;
        let public = HpkePublicKey(Kem::sk_to_pk(&secret));
        Ok(HpkeSecretKey { secret, public })
    }
}

impl fmt::Debug for HpkeSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HpkeSecretKey(<redacted>)")
    }
}

/// A reader's HPKE public key (P-256); serialized as base64url of the SEC1 uncompressed point.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HpkePublicKey(HpkePublic);

impl HpkePublicKey {
    /// The 65-byte SEC1 uncompressed point.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes().to_vec()
    }

    /// Parses and validates a 65-byte SEC1 uncompressed point.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        parse_point(bytes, "HPKE public key").map(HpkePublicKey)
    }
}

b64_serde!(HpkePublicKey, to_bytes, from_bytes);

/// A record's 32-byte data key. Zeroized on drop, compared in constant time, `Debug` redacted.
#[derive(ZeroizeOnDrop)]
pub struct DataKey([u8; DATA_KEY_LEN]);

impl DataKey {
    /// A fresh random data key.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut key = DataKey([0u8; DATA_KEY_LEN]);
        rng.fill_bytes(&mut key.0);
        key
    }

    /// Wraps this key for `reader`, bound to `patient` and `record`.
    pub fn wrap_for(
        &self,
        reader: &HpkePublicKey,
        patient: &ActorId,
        record: &RecordId,
        rng: &mut impl CryptoRngCore,
    ) -> Result<WrappedKey, EnvelopeError> {
        let info = binding(WRAP_DOMAIN, patient, record);
        // Encrypted in place, so the only plaintext copy is this zeroizing buffer.
        let mut buf = Zeroizing::new(self.0);
        let (enc, tag) = hpke::single_shot_seal_in_place_detached::<HpkeAead, Kdf, Kem, _>(
            &OpModeS::Base,
            &reader.0,
            &info,
            buf.as_mut_slice(),
            &[],
            &mut Rng09(rng),
        )
        .map_err(|_| EnvelopeError::Wrap)?;
        let mut ciphertext = Vec::with_capacity(WRAPPED_CIPHERTEXT_LEN);
        ciphertext.extend_from_slice(buf.as_slice());
        ciphertext.extend_from_slice(&tag.to_bytes());
        Ok(WrappedKey {
            enc: B64(enc.to_bytes().to_vec()),
            ciphertext: B64(ciphertext),
        })
    }
}

impl PartialEq for DataKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for DataKey {}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// A data key wrapped for one reader with HPKE.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct WrappedKey {
    /// HPKE encapsulated key: the 65-byte SEC1 uncompressed ephemeral public key.
    pub enc: B64,
    /// The AES-256-GCM encrypted data key and tag (48 bytes).
    pub ciphertext: B64,
}

impl WrappedKey {
    /// Recovers the data key with the reader's secret key, for `patient` and `record`.
    pub fn unwrap(
        &self,
        reader: &HpkeSecretKey,
        patient: &ActorId,
        record: &RecordId,
    ) -> Result<DataKey, EnvelopeError> {
        let enc_bytes = self.enc.as_bytes();
        // Validate the point ourselves for a precise error, then hand it to hpke.
        parse_point(enc_bytes, "HPKE encapsulated key")?;
        let enc = EncappedKey::from_bytes(enc_bytes).map_err(|_| EnvelopeError::InvalidPoint {
            what: "HPKE encapsulated key",
            reason: "found a point that is not on the curve",
        })?;
        let ct = self.ciphertext.as_bytes();
        check_len(ct, WRAPPED_CIPHERTEXT_LEN, "wrapped key ciphertext")?;
        let (body, tag) = ct.split_at(DATA_KEY_LEN);
        let tag = AeadTag::<HpkeAead>::from_bytes(tag).map_err(|_| EnvelopeError::Unwrap)?;
        let info = binding(WRAP_DOMAIN, patient, record);
        let mut key = DataKey([0u8; DATA_KEY_LEN]);
        key.0.copy_from_slice(body);
        hpke::single_shot_open_in_place_detached::<HpkeAead, Kdf, Kem>(
            &OpModeR::Base,
            &reader.secret,
            &enc,
            &info,
            &mut key.0,
            &[],
            &tag,
        )
        .map_err(|_| EnvelopeError::Unwrap)?;
        Ok(key)
    }

    /// Unwraps with `holder`'s key and wraps the same data key for `new_reader`.
    pub fn rewrap_for(
        &self,
        holder: &HpkeSecretKey,
        new_reader: &HpkePublicKey,
        patient: &ActorId,
        record: &RecordId,
        rng: &mut impl CryptoRngCore,
    ) -> Result<WrappedKey, EnvelopeError> {
        self.unwrap(holder, patient, record)?
            .wrap_for(new_reader, patient, record, rng)
    }
}

/// A record payload encrypted with XChaCha20-Poly1305 under its data key.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SealedPayload {
    /// The random 24-byte nonce.
    pub nonce: B64,
    /// The ciphertext followed by the 16-byte Poly1305 tag.
    pub ciphertext: B64,
}

/// Encrypts `payload` under `key`, bound to `patient` and `record`.
///
/// # Panics
///
/// Only if `payload` exceeds XChaCha20-Poly1305's limit of about 256 GiB.
pub fn seal(
    payload: &[u8],
    key: &DataKey,
    patient: &ActorId,
    record: &RecordId,
    rng: &mut impl CryptoRngCore,
) -> SealedPayload {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let aad = binding(PAYLOAD_DOMAIN, patient, record);
    let ciphertext = XChaCha20Poly1305::new((&key.0).into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: payload,
                aad: &aad,
            },
        )
        .expect("XChaCha20-Poly1305 only fails for payloads over 256 GiB");
    SealedPayload {
        nonce: B64(nonce.to_vec()),
        ciphertext: B64(ciphertext),
    }
}

/// Decrypts a sealed payload with `key`, checking it belongs to `patient` and `record`.
pub fn open(
    sealed: &SealedPayload,
    key: &DataKey,
    patient: &ActorId,
    record: &RecordId,
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    let nonce = sealed.nonce.as_bytes();
    check_len(nonce, NONCE_LEN, "payload nonce")?;
    let ct = sealed.ciphertext.as_bytes();
    if ct.len() < TAG_LEN {
        return Err(EnvelopeError::TooShort {
            what: "payload ciphertext",
            min: TAG_LEN,
            found: ct.len(),
        });
    }
    let aad = binding(PAYLOAD_DOMAIN, patient, record);
    XChaCha20Poly1305::new((&key.0).into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
        .map(Zeroizing::new)
        .map_err(|_| EnvelopeError::Open)
}

/// Seals `payload` under a fresh data key and wraps that key for each reader, in order.
pub fn seal_record(
    payload: &[u8],
    patient: &ActorId,
    record: &RecordId,
    readers: &[&HpkePublicKey],
    rng: &mut impl CryptoRngCore,
) -> Result<(SealedPayload, Vec<WrappedKey>), EnvelopeError> {
    let key = DataKey::generate(rng);
    let sealed = seal(payload, &key, patient, record, rng);
    let wrapped = readers
        .iter()
        .map(|reader| key.wrap_for(reader, patient, record, rng))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((sealed, wrapped))
}
