//! The Paillier key cache: 2048-bit keys take seconds to make, so a few
//! seeded keys are made once per test binary and shared by every world; and
//! each key's proof of correctness (a decryption per round) is made once.

use std::sync::{Arc, Mutex, OnceLock};

use carechain_core::paillier::SecretKey;
use carechain_core::protocol::register::paillier_registration;
use carechain_core::statement::PaillierRegistration;
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

/// `key`'s registration (its modulus and proof of correctness), made once
/// per key (the cache holds the key, so its address is never reused by another).
pub fn registration(key: &Arc<SecretKey>) -> PaillierRegistration {
    static MADE: Mutex<Vec<(Arc<SecretKey>, PaillierRegistration)>> = Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, registration)) = made.iter().find(|(k, _)| Arc::ptr_eq(k, key)) {
        return registration.clone();
    }
    let registration = paillier_registration(key);
    made.push((key.clone(), registration.clone()));
    registration
}
