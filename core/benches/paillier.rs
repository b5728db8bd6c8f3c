//! Criterion benchmarks of `carechain_core::paillier` at 2048 and 3072 bits.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-paillier taskset -c 1 cargo bench -j 2 -p carechain-core --bench paillier`
//! (about 4 minutes). Medians are summarised in `docs/benchmarks.md`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::time::Duration;

use carechain_core::paillier::SecretKey;
use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn paillier(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(2026);
    for bits in [2048usize, 3072] {
        let key = SecretKey::generate(bits, &mut rng).expect("keygen");
        let pk = key.public_key().clone();
        let a = pk.encrypt(123_456, &mut rng);
        let b = pk.encrypt(123_456, &mut rng);
        let zero = pk.sub(&a, &b).expect("sub");
        let rho = key.prove_zero(&zero).expect("prove");
        let proof = key.prove_key_correct();

        let mut g = c.benchmark_group(format!("paillier-{bits}"));
        g.sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4));
        g.bench_function(BenchmarkId::new("keygen", bits), |bn| {
            bn.iter(|| SecretKey::generate(bits, &mut rng).expect("keygen"))
        });
        g.sample_size(20);
        g.bench_function(BenchmarkId::new("encrypt", bits), |bn| {
            bn.iter(|| pk.encrypt(987_654_321, &mut rng))
        });
        g.bench_function(BenchmarkId::new("decrypt", bits), |bn| {
            bn.iter(|| key.decrypt(&a).expect("decrypt"))
        });
        // A phone checking the codes of 100 records' ciphertexts at once.
        let batch: Vec<_> = (0..100u64).map(|m| pk.encrypt(m, &mut rng)).collect();
        let claims: Vec<_> = batch.iter().zip(0..100u64).collect();
        g.bench_function(BenchmarkId::new("all_encrypt_100", bits), |bn| {
            bn.iter(|| key.all_encrypt(&claims, &mut rng).expect("batch"))
        });
        g.bench_function(BenchmarkId::new("decrypt_full", bits), |bn| {
            bn.iter(|| key.decrypt_full(&a))
        });
        g.bench_function(BenchmarkId::new("sub", bits), |bn| {
            bn.iter(|| pk.sub(&a, &b).expect("sub"))
        });
        g.bench_function(BenchmarkId::new("mul_scalar", bits), |bn| {
            bn.iter(|| pk.mul_scalar(&a, u64::MAX))
        });
        g.bench_function(BenchmarkId::new("zero_prove", bits), |bn| {
            bn.iter(|| key.prove_zero(&zero).expect("prove"))
        });
        g.bench_function(BenchmarkId::new("zero_verify", bits), |bn| {
            bn.iter(|| pk.verify_zero(&zero, &rho).expect("verify"))
        });
        // Opening the key from the wallet's bytes: prime checks and the CRT values.
        let bytes = key.to_bytes();
        g.bench_function(BenchmarkId::new("key_open", bits), |bn| {
            bn.iter(|| SecretKey::from_bytes(&bytes).expect("open"))
        });
        g.bench_function(BenchmarkId::new("key_prove", bits), |bn| {
            bn.iter(|| key.prove_key_correct())
        });
        g.bench_function(BenchmarkId::new("key_verify", bits), |bn| {
            bn.iter(|| pk.verify_key_proof(&proof).expect("verify"))
        });
        g.finish();
    }
}

criterion_group!(benches, paillier);
criterion_main!(benches);
