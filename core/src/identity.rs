//! P-256 identities: the key every actor signs statements with, and the
//! [`ActorId`] derived from its public half.
//!
//! P-256 (not Ed25519) so that a phone can keep the key in the Secure Enclave
//! or StrongBox. The secret scalar zeroizes on drop (p256's `SigningKey` does
//! this itself) and is never printed.

use std::fmt;

use p256::ecdsa;
use p256::pkcs8::EncodePrivateKey as _;
use rand_core::CryptoRngCore;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::ids::{ActorId, b64_serde};

/// Errors from parsing keys.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    /// The secret key bytes were not a valid P-256 scalar.
    #[error("expected a 32-byte P-256 secret scalar in [1, n), found {len} bytes that are not one")]
    InvalidSecretKey {
        /// Length of the input.
        len: usize,
    },
    /// The public key bytes were not a SEC1-encoded point on P-256.
    #[error(
        "expected a SEC1-encoded P-256 point (33 or 65 bytes), found {len} bytes that are not one"
    )]
    InvalidPublicKey {
        /// Length of the input.
        len: usize,
    },
}

/// An actor's secret signing key (ECDSA P-256).
pub struct SigningKey(ecdsa::SigningKey);

impl SigningKey {
    /// Makes a fresh random key.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        SigningKey(ecdsa::SigningKey::random(rng))
    }

    /// Parses a 32-byte big-endian secret scalar.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        if bytes.len() != 32 {
            return Err(IdentityError::InvalidSecretKey { len: bytes.len() });
        }
        ecdsa::SigningKey::from_slice(bytes)
            .map(SigningKey)
            .map_err(|_| IdentityError::InvalidSecretKey { len: bytes.len() })
    }

    /// The 32-byte big-endian secret scalar.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes().into())
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(*self.0.verifying_key())
    }

    /// The id of the actor this key belongs to.
    pub fn actor_id(&self) -> ActorId {
        self.verifying_key().actor_id()
    }

    /// The key as PKCS#8 DER, the form `jsonwebtoken` signs with.
    pub(crate) fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        let der = self
            .0
            .to_pkcs8_der()
            .expect("a valid P-256 scalar always encodes as PKCS#8");
        Zeroizing::new(der.as_bytes().to_vec())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(<redacted>, actor = {})", self.actor_id())
    }
}

/// An actor's public key; serialized as base64url of the compressed SEC1 point.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey(ecdsa::VerifyingKey);

impl VerifyingKey {
    /// Parses a SEC1 point (compressed or uncompressed); the identity point is refused.
    pub fn from_sec1_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        ecdsa::VerifyingKey::from_sec1_bytes(bytes)
            .map(VerifyingKey)
            .map_err(|_| IdentityError::InvalidPublicKey { len: bytes.len() })
    }

    /// The compressed SEC1 encoding (33 bytes).
    pub fn to_sec1_bytes(&self) -> Vec<u8> {
        self.0.to_encoded_point(true).as_bytes().to_vec()
    }

    /// The uncompressed SEC1 encoding (65 bytes), the form `jsonwebtoken` verifies with.
    pub(crate) fn to_uncompressed_sec1(&self) -> Vec<u8> {
        self.0.to_encoded_point(false).as_bytes().to_vec()
    }

    /// The actor id: `cc` + hex of the first 20 bytes of SHA-256(compressed point).
    pub fn actor_id(&self) -> ActorId {
        let digest = Sha256::digest(self.to_sec1_bytes());
        let mut short = [0u8; 20];
        short.copy_from_slice(&digest[..20]);
        ActorId::from_digest(&short)
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({})", self.actor_id())
    }
}

b64_serde!(VerifyingKey, to_sec1_bytes, from_sec1_bytes);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testkeys::rng;

    #[test]
    fn secret_round_trips_and_ids_are_stable() {
        let mut rng = rng(7);
        let key = SigningKey::generate(&mut rng);
        let again = SigningKey::from_bytes(key.to_bytes().as_slice()).unwrap();
        assert_eq!(key.actor_id(), again.actor_id());
        let other = SigningKey::generate(&mut rng);
        assert_ne!(key.actor_id(), other.actor_id());
        assert_eq!(key.actor_id().as_str().len(), 42);
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(
            SigningKey::from_bytes(&[0u8; 32]).unwrap_err(),
            IdentityError::InvalidSecretKey { len: 32 }
        );
        assert!(SigningKey::from_bytes(&[1u8; 31]).is_err());
        assert!(SigningKey::from_bytes(&[0xffu8; 32]).is_err());
        // x = 2^256 − 1 is not a field element, so no point has it.
        let mut not_on_curve = [0xffu8; 33];
        not_on_curve[0] = 2;
        assert_eq!(
            VerifyingKey::from_sec1_bytes(&not_on_curve).unwrap_err(),
            IdentityError::InvalidPublicKey { len: 33 }
        );
        assert!(VerifyingKey::from_sec1_bytes(&[0u8]).is_err());
    }

    #[test]
    fn public_key_serde_round_trips_both_encodings() {
        let mut rng = rng(8);
        let key = SigningKey::generate(&mut rng).verifying_key();
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(serde_json::from_str::<VerifyingKey>(&json).unwrap(), key);
        let uncompressed = VerifyingKey::from_sec1_bytes(&key.to_uncompressed_sec1()).unwrap();
        assert_eq!(uncompressed, key);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let mut rng = rng(9);
        let key = SigningKey::generate(&mut rng);
        let shown = format!("{key:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains(&hex::encode(key.to_bytes().as_slice())));
    }
}
