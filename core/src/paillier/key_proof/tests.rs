//! Tests of the key-correctness proof, including crafted bad moduli.
//!
//! The fixed primes come from `core/tests/data/paillier_primes.txt`, written by
//! the ignored test `write_fixture_primes` below (seeded ChaCha20, release build).

use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::One;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use super::super::monty::{big_of, limbs_of};
use super::super::primes::{Search, is_probable_prime, random_prime};
use super::*;

const FIXTURE: &str = include_str!("../../../tests/data/paillier_primes.txt");

/// A named prime from the fixture file.
fn prime(name: &str) -> BigUint {
    FIXTURE
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| BigUint::parse_bytes(v.trim().as_bytes(), 16).unwrap())
        .unwrap_or_else(|| panic!("fixture {name} missing"))
}

/// The best proof a cheater can build for a bad n whose factorisation it knows:
/// y = x^e with e = (n/g)⁻¹ mod (λ/g), g = gcd(n, λ), so y^n = x^g.
fn cheater_proof(n: &BigUint, lambda: &BigUint) -> KeyProof {
    let pk = PublicKey::from_modulus(n.clone()).unwrap();
    let g = n.gcd(lambda);
    assert!(g > BigUint::one(), "modulus is not bad");
    let e = (n / &g).modinv(&(lambda / &g)).unwrap_or_else(BigUint::one);
    let xs = challenges(&pk);
    // The cheater cannot take n-th roots of non-residues; at least one challenge
    // must be a non-residue, or this test would be meaningless.
    let non_residue = xs
        .iter()
        .any(|x| x.modpow(&(lambda / &g), n) != BigUint::one());
    assert!(non_residue);
    let ys = xs.iter().map(|x| x.modpow(&e, n)).collect();
    KeyProof {
        ys,
        width: pk.n_bytes,
    }
}

fn lcm(a: &BigUint, b: &BigUint) -> BigUint {
    a.lcm(b)
}

#[test]
fn rejects_p_squared_q() {
    let (p, q) = (prime("square_p"), prime("square_q"));
    let n = &p * &p * &q;
    let one = BigUint::one();
    let lambda = lcm(&(&p * (&p - &one)), &(&q - &one));
    let pk = PublicKey::from_modulus(n.clone()).unwrap();
    let proof = cheater_proof(&n, &lambda);
    assert!(matches!(
        pk.verify_key_proof(&proof),
        Err(PaillierError::KeyProofInvalid { .. })
    ));
    // Also through the byte encoding.
    let parsed = KeyProof::from_bytes(&proof.to_bytes()).unwrap();
    assert!(pk.verify_key_proof(&parsed).is_err());
}

#[test]
fn rejects_p_dividing_q_minus_1() {
    let (p, q) = (prime("divides_p"), prime("divides_q"));
    let one = BigUint::one();
    assert!(
        ((&q - &one) % &p).bits() == 0,
        "fixture: p must divide q - 1"
    );
    let n = &p * &q;
    let lambda = lcm(&(&p - &one), &(&q - &one));
    let pk = PublicKey::from_modulus(n.clone()).unwrap();
    assert!(pk.verify_key_proof(&cheater_proof(&n, &lambda)).is_err());
    // The honest-key code path refuses such primes too.
    assert!(SecretKey::from_primes(&p, &q).is_err());
}

#[test]
fn rejects_small_factor_even_with_valid_roots() {
    // n = 65521·p·q has gcd(n, φ(n)) = 1, so true roots exist, but 65521 < α.
    let (p, q) = (prime("key2048_p"), prime("key2048_q"));
    let small = BigUint::from(65521u32);
    let n = &small * &p * &q;
    let one = BigUint::one();
    let lambda = lcm(&lcm(&(&small - &one), &(&p - &one)), &(&q - &one));
    assert!(n.gcd(&lambda).is_one());
    let pk = PublicKey::from_modulus(n.clone()).unwrap();
    let d = n.modinv(&lambda).unwrap();
    let xs = challenges(&pk);
    let ys: Vec<BigUint> = xs.iter().map(|x| x.modpow(&d, &n)).collect();
    for (x, y) in xs.iter().zip(&ys) {
        assert_eq!(&y.modpow(&n, &n), x);
    }
    let err = pk
        .verify_key_proof(&KeyProof {
            ys,
            width: pk.n_bytes,
        })
        .unwrap_err();
    assert!(err.to_string().contains("65521"), "{err}");
}

#[test]
fn challenges_are_deterministic_units() {
    let pk = PublicKey::from_modulus(prime("key2048_p") * prime("key2048_q")).unwrap();
    let a = challenges(&pk);
    assert_eq!(a, challenges(&pk));
    assert_eq!(a.len(), KEY_PROOF_ROUNDS);
    for x in &a {
        assert!(x < pk.n() && x.gcd(pk.n()).is_one());
    }
    let distinct: std::collections::BTreeSet<_> = a.iter().collect();
    assert_eq!(distinct.len(), KEY_PROOF_ROUNDS);
    // Limb round trip used by the prover.
    assert_eq!(big_of(&limbs_of(&a[0], 40)), a[0]);
}

/// Writes `core/tests/data/paillier_primes.txt`. Run:
/// `cargo test --release -p carechain-core --lib write_fixture_primes -- --ignored`
#[test]
#[ignore = "regenerates the fixture file"]
fn write_fixture_primes() {
    let mut rng = ChaCha20Rng::seed_from_u64(0xCA4E_C4A1);
    let mut progress = |_| {};
    let mut search = Search {
        candidates_tested: 0,
        primes_found: 0,
        progress: &mut progress,
    };
    let key = SecretKey::generate(2048, &mut rng).unwrap();
    let hex = |l: &[u64]| big_of(l).to_str_radix(16);
    let sp = random_prime(704, &mut rng, &mut search);
    let sq = random_prime(704, &mut rng, &mut search);
    let dp = random_prime(1024, &mut rng, &mut search);
    // q = 2kp + 1 prime, k random 8-bit-and-up.
    let dpb = big_of(&dp);
    let mut k = BigUint::from(1u32 << 8) + BigUint::from(rng.next_u32() >> 24);
    let dq = loop {
        let q = BigUint::from(2u8) * &k * &dpb + 1u8;
        if is_probable_prime(&q.to_u64_digits(), &mut rng) {
            break q;
        }
        k += 1u8;
    };
    let text = format!(
        "# Fixed primes for the Paillier tests (hex). Written by the ignored test\n\
         # paillier::key_proof::tests::write_fixture_primes (ChaCha20 seed 0xCA4EC4A1).\n\
         # key2048: an honest 2048-bit key. square: n = p^2 q. divides: q = 2kp + 1.\n\
         key2048_p = {}\nkey2048_q = {}\nsquare_p = {}\nsquare_q = {}\ndivides_p = {}\ndivides_q = {}\n",
        hex(&key.hp.p),
        hex(&key.hq.p),
        hex(&sp),
        hex(&sq),
        hex(&dp),
        dq.to_str_radix(16),
    );
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/paillier_primes.txt"
    );
    std::fs::write(path, text).unwrap();
}

#[test]
fn fixture_primes_are_prime() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    for name in ["square_p", "square_q", "divides_p", "divides_q"] {
        assert!(
            is_probable_prime(&prime(name).to_u64_digits(), &mut rng),
            "{name}"
        );
    }
}
