//! Integration tests of `carechain_core::paillier` through its public API.
//!
//! The main 2048-bit key is loaded from fixed primes in
//! `tests/data/paillier_primes.txt` (see that file for provenance); a second
//! key is generated once per test binary from a seeded ChaCha20.

use std::sync::OnceLock;

use carechain_core::paillier::{
    Ciphertext, DEFAULT_MODULUS_BITS, KeyProof, KeygenProgress, MIN_MODULUS_BITS, PaillierError,
    PublicKey, SecretKey,
};
use num_bigint::BigUint;
use num_traits::One;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

const FIXTURE: &str = include_str!("data/paillier_primes.txt");

fn prime(name: &str) -> BigUint {
    FIXTURE
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = "))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| BigUint::parse_bytes(v.trim().as_bytes(), 16).expect("hex prime"))
        .expect("fixture prime present")
}

fn key() -> &'static SecretKey {
    static KEY: OnceLock<SecretKey> = OnceLock::new();
    KEY.get_or_init(|| {
        SecretKey::from_primes(&prime("key2048_p"), &prime("key2048_q")).expect("fixture key")
    })
}

fn other_key() -> &'static SecretKey {
    static KEY: OnceLock<SecretKey> = OnceLock::new();
    KEY.get_or_init(|| {
        SecretKey::generate(MIN_MODULUS_BITS, &mut ChaCha20Rng::seed_from_u64(99)).expect("keygen")
    })
}

fn pk() -> &'static PublicKey {
    key().public_key()
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

// Case counts are modest: every case costs full-size exponentiations, and the
// tests must stay quick in debug builds (one encryption ≈ 0.3 s there).
proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn decrypt_inverts_encrypt(m: u64, seed: u64) {
        let c = pk().encrypt(m, &mut rng(seed));
        prop_assert_eq!(key().decrypt(&c).unwrap(), m);
        prop_assert_eq!(key().decrypt_full(&c), BigUint::from(m));
        let parsed = pk().ciphertext_from_bytes(&c.to_bytes()).unwrap();
        prop_assert_eq!(parsed, c);
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10))]

    #[test]
    fn homomorphic_ops_match_integers(a: u64, b: u64, k: u64, seed: u64) {
        let mut r = rng(seed);
        let n = pk().n();
        let (ca, cb) = (pk().encrypt(a, &mut r), pk().encrypt(b, &mut r));
        let (ba, bb) = (BigUint::from(a), BigUint::from(b));
        prop_assert_eq!(key().decrypt_full(&pk().add(&ca, &cb)), (&ba + &bb) % n);
        let diff = key().decrypt_full(&pk().sub(&ca, &cb).unwrap());
        prop_assert_eq!(diff, (&ba + n - &bb) % n);
        prop_assert_eq!(key().decrypt_full(&pk().mul_scalar(&ca, k)), (&ba * k) % n);
    }

    #[test]
    fn encrypt_big_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..300), seed: u64) {
        let m = BigUint::from_bytes_be(&bytes) % pk().n();
        let c = pk().encrypt_big(&m, &mut rng(seed)).unwrap();
        prop_assert_eq!(key().decrypt_full(&c), m);
    }

    #[test]
    fn zero_proof_decides_equality(a: u64, b: u64, seed: u64) {
        let mut r = rng(seed);
        // The claim protocol: c = E(M_i)·E(M)⁻¹, provable iff M_i = M.
        let d = pk().encrypt(a, &mut r);
        let same = pk().sub(&pk().encrypt(a, &mut r), &d).unwrap();
        let rho = key().prove_zero(&same).unwrap();
        prop_assert!(pk().verify_zero(&same, &rho).is_ok());
        let parsed = pk().zero_proof_from_bytes(&rho.to_bytes()).unwrap();
        prop_assert_eq!(&parsed, &rho);

        let other = pk().sub(&pk().encrypt(b, &mut r), &d).unwrap();
        if a != b {
            prop_assert!(matches!(key().prove_zero(&other), Err(PaillierError::NotZero)));
        }
        // ρ of one ciphertext never verifies another (other plaintext or other randomness).
        prop_assert!(matches!(pk().verify_zero(&other, &rho), Err(PaillierError::ZeroProofInvalid)));
    }

    #[test]
    fn public_encryption_decides_equality_against_a_random_one(a: u64, b: u64, seed: u64) {
        // The claim protocol under rules 2: c = (1+n)^{M_i}·E(M)⁻¹ with only
        // E(M) randomised; provable iff M_i = M, and ρ binds to E(M)'s randomness.
        let mut r = rng(seed);
        let public = pk().encrypt_public(a);
        prop_assert_eq!(key().decrypt(&public).unwrap(), a);
        prop_assert_eq!(&pk().encrypt_public(a), &public);
        let d = pk().encrypt(a, &mut r);
        let same = pk().sub(&public, &d).unwrap();
        let rho = key().prove_zero(&same).unwrap();
        prop_assert!(pk().verify_zero(&same, &rho).is_ok());
        let again = pk().sub(&public, &pk().encrypt(a, &mut r)).unwrap();
        prop_assert!(pk().verify_zero(&again, &rho).is_err());
        let other = pk().sub(&pk().encrypt_public(b), &d).unwrap();
        if a != b {
            prop_assert!(matches!(key().prove_zero(&other), Err(PaillierError::NotZero)));
            prop_assert!(pk().verify_zero(&other, &rho).is_err());
        }
    }
}

#[test]
fn zero_proof_is_bound_to_its_ciphertext() {
    let mut r = rng(1);
    let z1 = pk().encrypt(0, &mut r);
    let z2 = pk().encrypt(0, &mut r);
    let rho1 = key().prove_zero(&z1).unwrap();
    assert!(pk().verify_zero(&z1, &rho1).is_ok());
    assert!(pk().verify_zero(&z2, &rho1).is_err());
    // Same value, other randomness.
    let d = pk().encrypt(77, &mut r);
    let c1 = pk().sub(&pk().encrypt(77, &mut r), &d).unwrap();
    let c2 = pk().sub(&pk().encrypt(77, &mut r), &d).unwrap();
    let rho = key().prove_zero(&c1).unwrap();
    assert!(pk().verify_zero(&c2, &rho).is_err());
    // A random ρ does not verify, and a ρ of 1 verifies only the trivial ciphertext 1.
    let junk = pk().zero_proof_from_bytes(&pk().encrypt(5, &mut r).to_bytes()[256..]);
    if let Ok(junk) = junk {
        assert!(pk().verify_zero(&c1, &junk).is_err());
    }
    // prove_zero refuses a nonzero ciphertext.
    assert!(matches!(
        key().prove_zero(&pk().encrypt(1, &mut r)),
        Err(PaillierError::NotZero)
    ));
}

#[test]
fn key_proof_accepts_honest_and_rejects_tampered() {
    let proof = key().prove_key_correct();
    assert_eq!(proof, key().prove_key_correct(), "deterministic");
    pk().verify_key_proof(&proof).unwrap();
    let bytes = proof.to_bytes();
    assert_eq!(bytes.len(), 4 + 8 * 256);
    let parsed = KeyProof::from_bytes(&bytes).unwrap();
    pk().verify_key_proof(&parsed).unwrap();

    // Flip one bit in each root in turn.
    for i in 0..8 {
        let mut t = bytes.clone();
        t[4 + i * 256 + 100] ^= 0x10;
        let p = KeyProof::from_bytes(&t).unwrap();
        assert!(matches!(
            pk().verify_key_proof(&p),
            Err(PaillierError::KeyProofInvalid { .. })
        ));
    }
    // Wrong lengths, version, count.
    assert!(KeyProof::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    assert!(KeyProof::from_bytes(&[bytes.clone(), vec![0]].concat()).is_err());
    assert!(KeyProof::from_bytes(&bytes[..3]).is_err());
    let mut v = bytes.clone();
    v[0] = 2;
    assert!(matches!(
        KeyProof::from_bytes(&v),
        Err(PaillierError::Version { .. })
    ));
    let mut v = bytes.clone();
    v[1] = 7;
    assert!(KeyProof::from_bytes(&v).is_err());
    // y_i = 0 and y_i ≥ n.
    let mut v = bytes.clone();
    v[4..4 + 256].fill(0);
    assert!(
        pk().verify_key_proof(&KeyProof::from_bytes(&v).unwrap())
            .is_err()
    );
    let mut v = bytes.clone();
    v[4..4 + 256].fill(0xff);
    assert!(
        pk().verify_key_proof(&KeyProof::from_bytes(&v).unwrap())
            .is_err()
    );

    // A proof for a different n.
    let other = other_key();
    let other_proof = other.prove_key_correct();
    other.public_key().verify_key_proof(&other_proof).unwrap();
    assert!(pk().verify_key_proof(&other_proof).is_err());
    assert!(other.public_key().verify_key_proof(&proof).is_err());
}

#[test]
fn ciphertext_parsing_rejects_bad_values() {
    let width = 2 * 256;
    let c = pk().encrypt(3, &mut rng(2));
    assert_eq!(c.to_bytes().len(), width);
    let err = |b: &[u8]| pk().ciphertext_from_bytes(b).unwrap_err();
    assert!(matches!(
        err(&vec![0u8; width]),
        PaillierError::Malformed { .. }
    ));
    assert!(matches!(
        err(&vec![0xffu8; width]),
        PaillierError::Malformed { .. }
    ));
    let nn = pk().n() * pk().n();
    let enc = |x: &BigUint| {
        let b = x.to_bytes_be();
        [vec![0u8; width - b.len()], b].concat()
    };
    assert!(pk().ciphertext_from_bytes(&enc(&nn)).is_err());
    assert!(pk().ciphertext_from_bytes(&enc(&(&nn - 1u8))).is_ok());
    // Shares the factor p with n.
    assert!(matches!(
        err(&enc(&prime("key2048_p"))),
        PaillierError::Malformed { .. }
    ));
    assert!(matches!(
        err(&enc(pk().n())),
        PaillierError::Malformed { .. }
    ));
    assert!(matches!(
        err(&c.to_bytes()[1..]),
        PaillierError::Length { .. }
    ));
    assert!(matches!(
        err(&[c.to_bytes(), vec![0]].concat()),
        PaillierError::Length { .. }
    ));

    // Zero proofs: 0, n, a multiple of q, wrong length.
    let zp = |b: &[u8]| pk().zero_proof_from_bytes(b);
    assert!(zp(&[0u8; 256]).is_err());
    assert!(zp(&pk().to_bytes()).is_err());
    let q = prime("key2048_q").to_bytes_be();
    assert!(zp(&[vec![0u8; 256 - q.len()], q].concat()).is_err());
    assert!(zp(&[1u8; 255]).is_err());
}

#[test]
fn public_key_parsing() {
    let bytes = pk().to_bytes();
    assert_eq!(bytes.len(), 256);
    assert_eq!(&PublicKey::from_bytes(&bytes).unwrap(), pk());
    assert_eq!(pk().fingerprint(), key().public_key().fingerprint());
    assert_eq!(pk().bits(), 2048);
    let mut even = bytes.clone();
    even[255] &= 0xfe;
    assert!(matches!(
        PublicKey::from_bytes(&even),
        Err(PaillierError::InvalidModulus { .. })
    ));
    // 1024 bits: too small. 8200 bits: too large.
    let small = prime("key2048_p").to_bytes_be();
    assert!(matches!(
        PublicKey::from_bytes(&small),
        Err(PaillierError::ModulusSize { .. })
    ));
    let big = [vec![0x80u8], vec![0x11u8; 1024]].concat();
    assert!(matches!(
        PublicKey::from_bytes(&big),
        Err(PaillierError::ModulusSize { .. })
    ));
    // Divisible by 3.
    let by3 = pk().n() * 3u8;
    assert!(matches!(
        PublicKey::from_bytes(&by3.to_bytes_be()),
        Err(PaillierError::InvalidModulus { .. })
    ));
    assert!(PublicKey::from_bytes(&[&[0u8][..], &bytes].concat()).is_err());
    assert!(PublicKey::from_bytes(&[]).is_err());
    let dbg = format!("{:?}", pk());
    assert!(dbg.contains("2048") && !dbg.contains(&pk().n().to_string()));
}

#[test]
fn secret_key_bytes_round_trip_and_redacted_debug() {
    let bytes = key().to_bytes();
    let again = SecretKey::from_bytes(&bytes).unwrap();
    assert_eq!(again.public_key(), pk());
    let c = pk().encrypt(12345, &mut rng(3));
    assert_eq!(again.decrypt(&c).unwrap(), 12345);

    let dbg = format!("{:?} {:#?}", key(), key());
    assert!(
        dbg.contains("SecretKey(<redacted>, n bits = 2048)"),
        "{dbg}"
    );
    for p in [prime("key2048_p"), prime("key2048_q")] {
        assert!(!dbg.contains(&p.to_str_radix(10)));
        assert!(!dbg.to_lowercase().contains(&p.to_str_radix(16)[..16]));
    }
    // Truncations and single-byte flips are rejected.
    for len in [0, 1, 2, 3, 100, bytes.len() - 1] {
        assert!(SecretKey::from_bytes(&bytes[..len]).is_err(), "len {len}");
    }
    let mut r = rng(4);
    for _ in 0..12 {
        let mut t = bytes.to_vec();
        let i = (r.next_u32() as usize) % t.len();
        t[i] ^= 1 << (r.next_u32() % 8);
        assert!(SecretKey::from_bytes(&t).is_err(), "flip at {i}");
    }
    assert!(SecretKey::from_bytes(&[bytes.to_vec(), vec![0]].concat()).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = SecretKey::from_bytes(&bytes);
        let _ = PublicKey::from_bytes(&bytes);
        let _ = KeyProof::from_bytes(&bytes);
        let _ = pk().ciphertext_from_bytes(&bytes);
        let _ = pk().zero_proof_from_bytes(&bytes);
        // Well-framed secret keys with random contents.
        let mut framed = vec![1u8, 0, 128];
        framed.extend_from_slice(&bytes[..bytes.len().min(128)]);
        framed.extend_from_slice(&[0, 128]);
        framed.extend_from_slice(&bytes[bytes.len().saturating_sub(128)..]);
        prop_assert!(SecretKey::from_bytes(&framed).is_err());
    }
}

#[test]
fn keys_are_bound_to_their_values() {
    let mut r = rng(5);
    let other = other_key();
    let mine = pk().encrypt(1, &mut r);
    let theirs = other.public_key().encrypt(1, &mut r);
    assert!(matches!(
        pk().sub(&mine, &theirs),
        Err(PaillierError::KeyMismatch { .. })
    ));
    assert!(matches!(
        key().decrypt(&theirs),
        Err(PaillierError::KeyMismatch { .. })
    ));
    assert!(matches!(
        key().prove_zero(&theirs),
        Err(PaillierError::KeyMismatch { .. })
    ));
    let zero = pk().encrypt(0, &mut r);
    let rho = key().prove_zero(&zero).unwrap();
    assert!(matches!(
        other.public_key().verify_zero(&zero, &rho),
        Err(PaillierError::KeyMismatch { .. })
    ));
    // Re-parsing under the right key works; ciphertext bytes carry no key.
    let reparsed = other.public_key().ciphertext_from_bytes(&mine.to_bytes());
    assert!(reparsed.is_ok());
}

#[test]
fn decrypt_rejects_large_plaintexts() {
    let m = BigUint::one() << 64u32;
    let c = pk().encrypt_big(&m, &mut rng(6)).unwrap();
    assert!(matches!(
        key().decrypt(&c),
        Err(PaillierError::PlaintextTooLarge { .. })
    ));
    assert_eq!(key().decrypt_full(&c), m);
    assert!(pk().encrypt_big(pk().n(), &mut rng(6)).is_err());
    let max = pk().encrypt(u64::MAX, &mut rng(6));
    assert_eq!(key().decrypt(&max).unwrap(), u64::MAX);
}

#[test]
fn generation_and_from_primes_validate() {
    let mut r = rng(7);
    for bits in [0, 1024, 2047, 2049, 8194] {
        assert!(SecretKey::generate(bits, &mut r).is_err(), "{bits}");
    }
    assert_eq!(DEFAULT_MODULUS_BITS, 3072);
    let key = other_key();
    assert_eq!(key.public_key().bits(), 2048);
    let c = key.public_key().encrypt(42, &mut r);
    assert_eq!(key.decrypt(&c).unwrap(), 42);

    let mut last = KeygenProgress {
        candidates_tested: 0,
        primes_found: 0,
    };
    let mut calls = 0;
    let k = SecretKey::generate_with_progress(2048, &mut rng(8), &mut |p| {
        assert!(p.candidates_tested > last.candidates_tested);
        assert!(p.primes_found >= last.primes_found);
        last = p;
        calls += 1;
    })
    .unwrap();
    assert_eq!(last.primes_found, 2);
    assert!(calls >= 2);
    k.public_key()
        .verify_key_proof(&k.prove_key_correct())
        .unwrap();

    let (p, q) = (prime("key2048_p"), prime("key2048_q"));
    assert!(SecretKey::from_primes(&p, &p).is_err());
    assert!(SecretKey::from_primes(&(&p + 2u8), &q).is_err()); // composite (even+odd checks aside)
    assert!(SecretKey::from_primes(&(&p + 1u8), &q).is_err()); // even
    assert!(SecretKey::from_primes(&prime("square_p"), &prime("square_q")).is_err()); // too small
    assert!(SecretKey::from_primes(&prime("divides_p"), &prime("divides_q")).is_err());
}

#[test]
fn ciphertext_debug_and_equality() {
    let c: Ciphertext = pk().encrypt(9, &mut rng(9));
    let d = format!("{c:?}");
    assert!(d.starts_with("Ciphertext(") && d.len() < 80, "{d}");
    assert_eq!(c.clone(), c);
    assert_ne!(pk().encrypt(9, &mut rng(10)), c);
}

#[test]
fn mixing_keys_poisons_results() {
    let mut r = rng(11);
    let mine = pk().encrypt(2, &mut r);
    let theirs = other_key().public_key().encrypt(3, &mut r);
    for poisoned in [pk().add(&mine, &theirs), pk().mul_scalar(&theirs, 5)] {
        assert!(format!("{poisoned:?}").contains("poisoned"));
        assert!(matches!(
            key().decrypt(&poisoned),
            Err(PaillierError::KeyMismatch { .. })
        ));
        assert!(matches!(
            pk().sub(&poisoned, &mine),
            Err(PaillierError::KeyMismatch { .. })
        ));
        assert!(key().prove_zero(&poisoned).is_err());
        // Poison propagates through further infallible operations.
        assert!(key().decrypt(&pk().add(&poisoned, &mine)).is_err());
    }
}

#[test]
#[should_panic(expected = "decrypt_full")]
fn decrypt_full_panics_on_foreign_ciphertext() {
    let theirs = other_key().public_key().encrypt(3, &mut rng(12));
    let _ = key().decrypt_full(&theirs);
}
