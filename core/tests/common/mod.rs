//! What the wallet test binaries share: cheap argon2 parameters, seeded
//! RNGs and one wallet per binary (Paillier key generation is the slow part).
#![allow(dead_code)]

use std::sync::OnceLock;

use carechain_core::wallet::{KdfParams, Wallet};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// Cheap argon2 parameters so the tests stay fast; one test uses the real ones.
pub const CHEAP: KdfParams = KdfParams {
    m_kib: 64,
    t: 1,
    p: 1,
};

/// A seeded RNG.
pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// One wallet per test binary.
pub fn base() -> &'static Wallet {
    static BASE: OnceLock<Wallet> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut progress = |_| {};
        Wallet::create(2048, &mut rng(1), &mut progress).expect("wallet creation")
    })
}
