//! A memo of decoded signing keys, shared by every transaction in the process.
//!
//! Every statement's signer is loaded from state, and decoding its stored
//! key means a P-256 point decompression (a field square root) each time. A
//! decoded key depends only on its bytes, so this memo, keyed by the exact
//! stored bytes, returns what decoding would, whatever the state or the
//! transaction: it cannot change a result, only skip repeated work.
//!
//! It is bounded: when full it is emptied and refills with the keys in use.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Deserializer};

use crate::identity::{IdentityError, VerifyingKey};
use crate::ids::B64;

/// Most keys kept (each ~100 bytes with its map entry).
const CAPACITY: usize = 8192;

fn memo() -> &'static Mutex<HashMap<Vec<u8>, VerifyingKey>> {
    static MEMO: OnceLock<Mutex<HashMap<Vec<u8>, VerifyingKey>>> = OnceLock::new();
    MEMO.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Decodes a SEC1 key as [`VerifyingKey::from_sec1_bytes`] does, reusing an earlier decoding.
pub fn decode(bytes: &[u8]) -> Result<VerifyingKey, IdentityError> {
    if let Some(key) = memo().lock().ok().and_then(|m| m.get(bytes).cloned()) {
        return Ok(key);
    }
    let key = VerifyingKey::from_sec1_bytes(bytes)?;
    if let Ok(mut m) = memo().lock() {
        if m.len() >= CAPACITY {
            m.clear();
        }
        m.insert(bytes.to_vec(), key.clone());
    }
    Ok(key)
}

/// Deserializes a base64url SEC1 key through the memo (for `#[serde(deserialize_with)]`).
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VerifyingKey, D::Error> {
    let bytes = B64::deserialize(d)?;
    decode(bytes.as_bytes()).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use crate::identity::SigningKey;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    use super::*;

    #[test]
    fn a_memoised_key_is_the_key_and_bad_bytes_are_refused_every_time() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let key = SigningKey::generate(&mut rng).verifying_key();
        let bytes = key.to_sec1_bytes();
        let first = decode(&bytes).unwrap();
        let second = decode(&bytes).unwrap();
        assert_eq!(first.actor_id(), key.actor_id());
        assert_eq!(second.actor_id(), key.actor_id());
        let mut bad = bytes.clone();
        bad[0] = 0x07;
        assert!(decode(&bad).is_err());
        assert!(decode(&bad).is_err());
    }
}
