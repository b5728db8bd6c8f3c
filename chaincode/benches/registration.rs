//! What an oversized Paillier key costs the contract to refuse.
//!
//! The attack of issue #19: an unauthenticated `POST /v1/patients` with an
//! 8192-bit modulus and a garbage key proof of the right shape. Measured on
//! the contract alone (in-memory state, one thread, so wall time is contract
//! CPU), the whole `submit`.
//!
//! - `capped`: a ledger initialised with `max_paillier_bits = 3072` refuses
//!   from the modulus' encoded length, after parsing the statement and before
//!   its signature or any arithmetic on the key;
//! - `uncapped`: a ledger without the cap (every ledger started before it)
//!   parses the modulus, trial-divides it by the primes below 2^16 and
//!   raises the first root to the n-th power (which fails).
//!
//! Run: `cargo bench -p carechain-chaincode --bench registration`.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha20Rng;

use carechain_core::ids::B64;
use carechain_core::paillier::KEY_PROOF_ROUNDS;
use carechain_core::statement::{Action, RegisterIdentity, Role};
use carechain_testkit::{AUD, MemoryDriver, T0, World};

/// 8192 bits: 1024 bytes.
const WIDTH: usize = 1024;

/// An odd 8192-bit number and a proof-shaped garbage of 8 roots of its width.
fn oversized(rng: &mut ChaCha20Rng) -> (B64, B64) {
    let mut n = vec![0u8; WIDTH];
    rng.fill(n.as_mut_slice());
    n[0] |= 0x80;
    n[WIDTH - 1] |= 1;
    let mut proof = vec![1, KEY_PROOF_ROUNDS as u8, (WIDTH >> 8) as u8, WIDTH as u8];
    let mut roots = vec![0u8; KEY_PROOF_ROUNDS * WIDTH];
    rng.fill(roots.as_mut_slice());
    for root in roots.chunks_mut(WIDTH) {
        root[0] = 0; // below n, so the check reaches the root's power
    }
    proof.extend_from_slice(&roots);
    (B64(n), B64(proof))
}

/// A patient's registration token with an oversized key, signed for `w`,
/// that `w` refuses with a message containing `why`.
fn attack(w: &mut World<MemoryDriver>, rng: &mut ChaCha20Rng, why: &str) -> String {
    loop {
        let patient = w.stranger(Role::Patient);
        let mut registration: RegisterIdentity = patient.registration();
        let (n, proof) = oversized(rng);
        let paillier = registration.paillier.as_mut().unwrap();
        paillier.public_key = n;
        paillier.key_proof = proof;
        let token = w.sign(&patient.key, Action::RegisterIdentity(registration));
        let err = w.submit_token(&token).unwrap_err();
        assert_eq!(err.code, "invalid_payload", "{err:?}");
        // Uncapped, most random moduli fail trial division (up to 2^16)
        // at once; keep one that reaches the roots, as an attacker would.
        if err.message.contains(why) {
            return token;
        }
    }
}

fn registration(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(19);
    let config = format!(r#"{{"audience":"{AUD}","rules":1,"max_paillier_bits":3072}}"#);
    let mut capped = World::memory_with_config(config.as_bytes());
    let token = attack(&mut capped, &mut rng, "at most 3072 bits, found 8192 bits");
    let mut uncapped = World::new(MemoryDriver::new(T0));
    let slow = attack(&mut uncapped, &mut rng, "a mismatch at i = 0");

    let mut group = c.benchmark_group("register_8192_bit_garbage_proof");
    group.sample_size(20);
    group.bench_function("capped", |b| {
        b.iter(|| capped.submit_token(&token).unwrap_err());
    });
    group.bench_function("uncapped", |b| {
        b.iter(|| uncapped.submit_token(&slow).unwrap_err());
    });
    group.finish();
}

criterion_group!(benches, registration);
criterion_main!(benches);
