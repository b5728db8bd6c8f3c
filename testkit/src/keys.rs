//! The Paillier key cache: 2048-bit keys take seconds to make, so a few
//! seeded keys are made once per test binary and shared by every world; and
//! each key's proof of correctness (a decryption per round) is made once.

use std::sync::{Arc, Mutex, OnceLock};

use carechain_core::ids::B64;
use carechain_core::paillier::SecretKey;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;

/// How many shared keys there are; slots wrap around.
pub const SHARED: usize = 3;

fn shared() -> &'static [Arc<SecretKey>] {
    static KEYS: OnceLock<Vec<Arc<SecretKey>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0xC0FFEE);
        (0..SHARED)
            .map(|_| Arc::new(SecretKey::generate(2048, &mut rng).expect("key generation")))
            .collect()
    })
}

/// Shared 2048-bit Paillier key `slot` (modulo [`SHARED`]).
pub fn paillier_key(slot: usize) -> Arc<SecretKey> {
    shared()[slot % SHARED].clone()
}

/// The proof of correctness of `key`, made once per key (the cache holds the
/// key, so its address is never reused by another).
pub fn key_proof(key: &Arc<SecretKey>) -> B64 {
    static PROOFS: Mutex<Vec<(Arc<SecretKey>, B64)>> = Mutex::new(Vec::new());
    let mut proofs = PROOFS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, proof)) = proofs.iter().find(|(k, _)| Arc::ptr_eq(k, key)) {
        return proof.clone();
    }
    let proof = B64(key.prove_key_correct().to_bytes());
    proofs.push((key.clone(), proof.clone()));
    proof
}
