//! The Paillier key cache: 2048-bit keys take seconds to make, so a few
//! seeded keys are made once per test binary and shared by every world.

use std::sync::{Arc, OnceLock};

use carechain_core::ids::B64;
use carechain_core::paillier::SecretKey;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;

/// How many shared keys there are; slots wrap around.
pub const SHARED: usize = 3;

/// A shared key with its proof of correctness (the proof costs a decryption per round).
struct Shared {
    key: Arc<SecretKey>,
    proof: B64,
}

fn shared() -> &'static [Shared] {
    static KEYS: OnceLock<Vec<Shared>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0xC0FFEE);
        (0..SHARED)
            .map(|_| {
                let key = SecretKey::generate(2048, &mut rng).expect("key generation");
                let proof = B64(key.prove_key_correct().to_bytes());
                Shared {
                    key: Arc::new(key),
                    proof,
                }
            })
            .collect()
    })
}

/// Shared 2048-bit Paillier key `slot` (modulo [`SHARED`]).
pub fn paillier_key(slot: usize) -> Arc<SecretKey> {
    shared()[slot % SHARED].key.clone()
}

/// The proof of correctness of `key`: cached for a shared key, made otherwise.
pub fn key_proof(key: &Arc<SecretKey>) -> B64 {
    shared()
        .iter()
        .find(|s| Arc::ptr_eq(&s.key, key))
        .map_or_else(
            || B64(key.prove_key_correct().to_bytes()),
            |s| s.proof.clone(),
        )
}
