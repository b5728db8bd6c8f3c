//! The staff keystore (admin, doctor, insurer): a signing and an HPKE secret
//! key sealed at rest with an argon2id-derived key (OWASP parameters) and
//! XChaCha20-Poly1305. The relay's `init` writes the admin's in this format.
//!
//! ```text
//! magic "CCADMKS1" (8) ‖ salt (16) ‖ nonce (24) ‖ ciphertext+tag
//! ```
//! The header is the AEAD's associated data. Passphrases are NFKC-normalised
//! like the wallet's, and a keystore sealed before that still opens with the
//! raw text (see `passphrase.rs`); no minimum length is enforced here, the
//! operator's tooling chooses the passphrase.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::passphrase;
use crate::envelope::HpkeSecretKey;
use crate::identity::SigningKey;

const MAGIC: &[u8; 8] = b"CCADMKS1";
const HEADER: usize = 8 + 16 + 24;

/// Why a keystore could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// Wrong passphrase or a damaged file.
    #[error("cannot open the keystore: wrong passphrase or damaged file")]
    Open,
    /// The key derivation failed.
    #[error("key derivation failed")]
    Kdf,
}

#[derive(Serialize, Deserialize)]
struct Contents {
    signing_key: Vec<u8>,
    hpke_key: Vec<u8>,
}

/// A staff member's secret keys (no `Clone`; `Debug` shows the actor id only).
pub struct StaffKeys {
    /// Statement signing key.
    pub signing: SigningKey,
    /// HPKE secret key.
    pub hpke: HpkeSecretKey,
}

impl std::fmt::Debug for StaffKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StaffKeys(<redacted>, actor = {})",
            self.signing.actor_id()
        )
    }
}

fn derive(passphrase: &str, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    let params = Params::new(19_456, 2, 1, Some(32)).map_err(|_| KeystoreError::Kdf)?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .map_err(|_| KeystoreError::Kdf)?;
    Ok(key)
}

impl StaffKeys {
    /// Fresh random keys.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        StaffKeys {
            signing: SigningKey::generate(rng),
            hpke: HpkeSecretKey::generate(rng),
        }
    }

    /// Seals the keys under `passphrase`.
    pub fn seal(
        &self,
        passphrase: &str,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, KeystoreError> {
        let mut out = Vec::with_capacity(HEADER + 128);
        out.extend_from_slice(MAGIC);
        let mut salt_nonce = [0u8; 40];
        rng.fill_bytes(&mut salt_nonce);
        out.extend_from_slice(&salt_nonce);
        let key = derive(&passphrase::normalize(passphrase), &salt_nonce[..16])?;
        let contents = Zeroizing::new(
            serde_json::to_vec(&Contents {
                signing_key: self.signing.to_bytes().to_vec(),
                hpke_key: self.hpke.to_bytes().to_vec(),
            })
            .map_err(|_| KeystoreError::Kdf)?,
        );
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&salt_nonce[16..]),
                Payload {
                    msg: &contents,
                    aad: &out[..HEADER],
                },
            )
            .map_err(|_| KeystoreError::Kdf)?;
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens sealed keys.
    pub fn open(bytes: &[u8], passphrase: &str) -> Result<Self, KeystoreError> {
        if bytes.len() < HEADER + 16 || &bytes[..8] != MAGIC {
            return Err(KeystoreError::Open);
        }
        let decrypt = |passphrase: &str| -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
            let key = derive(passphrase, &bytes[8..24])?;
            let cipher = XChaCha20Poly1305::new(key.as_ref().into());
            cipher
                .decrypt(
                    XNonce::from_slice(&bytes[24..HEADER]),
                    Payload {
                        msg: &bytes[HEADER..],
                        aad: &bytes[..HEADER],
                    },
                )
                .map(Zeroizing::new)
                .map_err(|_| KeystoreError::Open)
        };
        let candidates = passphrase::candidates(passphrase);
        let plain = match (decrypt(&candidates.normalized), candidates.legacy) {
            (Ok(plain), _) => plain,
            // Sealed before normalisation: the raw text.
            (Err(KeystoreError::Open), Some(raw)) => decrypt(raw)?,
            (Err(err), _) => return Err(err),
        };
        let parsed: Contents = serde_json::from_slice(&plain).map_err(|_| KeystoreError::Open)?;
        let signing_bytes = Zeroizing::new(parsed.signing_key);
        let hpke_bytes = Zeroizing::new(parsed.hpke_key);
        Ok(StaffKeys {
            signing: SigningKey::from_bytes(&signing_bytes).map_err(|_| KeystoreError::Open)?,
            hpke: HpkeSecretKey::from_bytes(&hpke_bytes).map_err(|_| KeystoreError::Open)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testkeys::rng;

    #[test]
    fn sealed_keys_open_with_the_passphrase_only() {
        let mut rng = rng(1);
        let keys = StaffKeys::generate(&mut rng);
        let sealed = keys.seal("correct horse", &mut rng).unwrap();
        let opened = StaffKeys::open(&sealed, "correct horse").unwrap();
        assert_eq!(opened.signing.actor_id(), keys.signing.actor_id());
        assert_eq!(opened.hpke.public_key(), keys.hpke.public_key());
        assert!(matches!(
            StaffKeys::open(&sealed, "wrong"),
            Err(KeystoreError::Open)
        ));
        assert!(matches!(
            StaffKeys::open(b"CCADMKS1", "correct horse"),
            Err(KeystoreError::Open)
        ));
    }

    #[test]
    fn composed_and_decomposed_passphrases_open_the_same_keystore() {
        let mut rng = rng(2);
        let keys = StaffKeys::generate(&mut rng);
        let sealed = keys.seal("caf\u{e9} cr\u{e8}me", &mut rng).unwrap();
        let opened = StaffKeys::open(&sealed, "cafe\u{301} cre\u{300}me").unwrap();
        assert_eq!(opened.signing.actor_id(), keys.signing.actor_id());
        assert!(matches!(
            StaffKeys::open(&sealed, "cafe crème"),
            Err(KeystoreError::Open)
        ));
    }
}
