//! Non-interactive proof that a modulus n satisfies gcd(n, φ(n)) = 1.
//!
//! Construction: the n-th-root proof of Hazay, Mikkelsen, Rabin, Toft and
//! Nicolosi ("Efficient RSA Key Generation and Threshold Paillier in the
//! Two-Party Setting", J. Cryptology 2019), made non-interactive with
//! Fiat–Shamir as in Goldberg, Reyzin, Sagga and Baldimtsi ("Efficient
//! noninteractive certification of RSA moduli and beyond", ASIACRYPT 2019).
//!
//! - Verifier: checks that n has no prime factor below α = 2^16 (trial division
//!   by all 6542 primes below 2^16), derives m = ⌈128 / log₂ α⌉ = 8 challenges
//!   x_i ∈ Z*_n from SHA-256 (domain "carechain/paillier-key-proof/v1", n, i and
//!   a counter; rejection sampling to [1, n) with gcd(x_i, n) = 1), and accepts
//!   iff y_i^n ≡ x_i (mod n) for every i.
//! - Prover: y_i = x_i^(n⁻¹ mod φ(n)) mod n, by CRT over p and q.
//!
//! Soundness: if gcd(n, φ(n)) ≠ 1, some prime p divides both n and φ(n), and
//! p ≥ α because n has no smaller prime factor. Then Z*_n has an element of
//! order p (Cauchy), which lies in the kernel of x ↦ x^n since p | n, so that
//! map is at least p-to-1 and at most a 1/p ≤ 1/α fraction of Z*_n are n-th
//! residues. With challenges from a random oracle, a cheating prover answers
//! all m of them with probability ≤ α^(−m) = 2^(−128) per modulus it tries; a
//! prover who grinds through 2^t moduli succeeds with probability ≤ 2^(t−128).

use core::fmt;

use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::{One, Zero};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::keys::{PublicKey, SecretKey, pad_be};
use super::monty::{big_of, limbs_of};
use super::primes::{SMALL_PRIME_BOUND, small_factor};
use super::{MAX_MODULUS_BITS, MIN_MODULUS_BITS, PaillierError};

/// α: n must have no prime factor below this bound.
pub const TRIAL_DIVISION_BOUND: u32 = SMALL_PRIME_BOUND;
/// m = ⌈128 / log₂ α⌉: number of challenges.
pub const KEY_PROOF_ROUNDS: usize = 8;
// Soundness α^(−m) ≤ 2^(−128) needs m·log₂ α ≥ 128; with α = 2^16 that is m ≥ 8.
const _: () = assert!(KEY_PROOF_ROUNDS * 16 >= 128 && TRIAL_DIVISION_BOUND == 1 << 16);

/// Domain separator of the challenge derivation.
const DOMAIN: &[u8] = b"carechain/paillier-key-proof/v1";
/// Version byte of the encoding.
const VERSION: u8 = 1;

/// The key-correctness proof: n-th roots y_1..y_m of hash-derived challenges.
#[derive(Clone, PartialEq)]
pub struct KeyProof {
    /// The roots y_i.
    pub(crate) ys: Vec<BigUint>,
    /// Width of each root in bytes (⌈bits/8⌉ of n).
    pub(crate) width: usize,
}

impl fmt::Debug for KeyProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KeyProof({} roots of {} bytes)",
            self.ys.len(),
            self.width
        )
    }
}

impl KeyProof {
    /// Encoding: version (1), count (1), width (2, big-endian), then each root in `width` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.ys.len() * self.width);
        out.push(VERSION);
        out.push(self.ys.len() as u8);
        out.extend_from_slice(&(self.width as u16).to_be_bytes());
        for y in &self.ys {
            out.extend_from_slice(&pad_be(y, self.width));
        }
        out
    }

    /// Parse [`KeyProof::to_bytes`]; range checks against n happen in verification.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PaillierError> {
        let what = "key proof";
        let [version, count, w0, w1, rest @ ..] = bytes else {
            return Err(PaillierError::Length {
                what,
                expected: 4,
                found: bytes.len(),
            });
        };
        if *version != VERSION {
            return Err(PaillierError::Version {
                what,
                expected: VERSION,
                found: *version,
            });
        }
        if usize::from(*count) != KEY_PROOF_ROUNDS {
            return Err(PaillierError::Malformed {
                what,
                expected: "8 roots",
                found: "another number of roots",
            });
        }
        let width = usize::from(u16::from_be_bytes([*w0, *w1]));
        if !(MIN_MODULUS_BITS.div_ceil(8)..=MAX_MODULUS_BITS / 8).contains(&width) {
            return Err(PaillierError::Malformed {
                what,
                expected: "a width of 256..=1024 bytes",
                found: "a width out of range",
            });
        }
        let expected = KEY_PROOF_ROUNDS * width;
        if rest.len() != expected {
            return Err(PaillierError::Length {
                what,
                expected: 4 + expected,
                found: bytes.len(),
            });
        }
        let ys = rest
            .chunks_exact(width)
            .map(BigUint::from_bytes_be)
            .collect();
        Ok(KeyProof { ys, width })
    }
}

/// The challenges x_1..x_m for a public key (deterministic in n).
pub(crate) fn challenges(pk: &PublicKey) -> Vec<BigUint> {
    let n_bytes = pk.to_bytes();
    let len = n_bytes.len();
    let excess_bits = 8 * len - pk.bits;
    (0..KEY_PROOF_ROUNDS as u32)
        .map(|i| {
            let mut ctr = 0u32;
            loop {
                let mut buf = Vec::with_capacity(len.next_multiple_of(32));
                for block in 0u32.. {
                    if buf.len() >= len {
                        break;
                    }
                    let mut h = Sha256::new();
                    h.update(DOMAIN);
                    h.update((len as u32).to_be_bytes());
                    h.update(&n_bytes);
                    h.update(i.to_be_bytes());
                    h.update(ctr.to_be_bytes());
                    h.update(block.to_be_bytes());
                    buf.extend_from_slice(&h.finalize());
                }
                buf.truncate(len);
                buf[0] &= 0xff >> excess_bits;
                let x = BigUint::from_bytes_be(&buf);
                if !x.is_zero() && x < pk.n && x.gcd(&pk.n).is_one() {
                    return x;
                }
                // Each try succeeds with probability > 1/2.
                ctr = ctr.wrapping_add(1);
            }
        })
        .collect()
}

impl SecretKey {
    /// Prove gcd(n, φ(n)) = 1: deterministic, challenges derived from n by hashing.
    pub fn prove_key_correct(&self) -> KeyProof {
        let ys = challenges(&self.public)
            .iter()
            .map(|x| {
                let xl = x.to_u64_digits();
                let yp = self.hp.nth_root(&xl);
                let yq = self.hq.nth_root(&xl);
                let y: Zeroizing<Vec<u64>> = self.crt(&yp, &yq);
                big_of(&y)
            })
            .collect();
        KeyProof {
            ys,
            width: self.public.n_bytes,
        }
    }
}

impl PublicKey {
    /// Verify a key-correctness proof for this n (trial division, then y_i^n ≡ x_i mod n).
    pub fn verify_key_proof(&self, proof: &KeyProof) -> Result<(), PaillierError> {
        let invalid = |expected, found: &str| {
            Err(PaillierError::KeyProofInvalid {
                expected,
                found: found.to_owned(),
            })
        };
        if proof.width != self.n_bytes || proof.ys.len() != KEY_PROOF_ROUNDS {
            return invalid("8 roots of the modulus width", "a proof of another shape");
        }
        if let Some(p) = small_factor(&self.n.to_u64_digits(), TRIAL_DIVISION_BOUND) {
            return Err(PaillierError::KeyProofInvalid {
                expected: "no prime factor of n below 2^16",
                found: format!("the factor {p}"),
            });
        }
        let s = self.ctx_n.len();
        for (i, (x, y)) in challenges(self).iter().zip(&proof.ys).enumerate() {
            if y.is_zero() || y >= &self.n {
                return Err(PaillierError::KeyProofInvalid {
                    expected: "0 < y_i < n",
                    found: format!("y_{i} out of range"),
                });
            }
            let yn = self
                .ctx_n
                .modpow_public(&limbs_of(y, s), self.ctx_n.modulus());
            if big_of(&yn) != *x {
                return Err(PaillierError::KeyProofInvalid {
                    expected: "y_i^n = x_i (mod n)",
                    found: format!("a mismatch at i = {i}"),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
