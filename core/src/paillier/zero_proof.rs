//! The decrypts-to-zero proof ρ of the claim protocol.
//!
//! For a well-formed key (gcd(n, φ(n)) = 1), Z*_{n²} ≅ Z_n × Z*_n through
//! (m, r) ↦ (1 + n)^m·r^n, so c encrypts 0 exactly when c is an n-th residue,
//! c = ρ^n mod n². Only the key holder can take n-th roots: ρ = (c mod n)^(n⁻¹ mod
//! φ(n)) mod n, and since ρ^n mod n² depends only on ρ mod n, this ρ satisfies
//! ρ^n ≡ c (mod n²) whenever c encrypts 0. Anyone can check that equation.

use core::fmt;

use num_bigint::BigUint;
use num_traits::Zero;
use zeroize::Zeroizing;

use super::ciphertext::parse_sized;
use super::keys::{PublicKey, SecretKey, pad_be};
use super::monty::{big_of, limbs_of};
use super::{Ciphertext, PaillierError, short_fp};

/// Proof that a ciphertext encrypts 0: the n-th root ρ of c, with 0 < ρ < n.
#[derive(Clone, PartialEq)]
pub struct ZeroProof {
    /// ρ.
    pub(crate) rho: BigUint,
    /// Fingerprint of the key it is for.
    pub(crate) key: [u8; 32],
    /// Encoded width: ⌈bits/8⌉.
    pub(crate) width: usize,
}

impl fmt::Debug for ZeroProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ZeroProof(key = {}, {} bytes)",
            short_fp(&self.key),
            self.width
        )
    }
}

impl ZeroProof {
    /// Fixed-width big-endian encoding of ρ: ⌈bits/8⌉ bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        pad_be(&self.rho, self.width)
    }
}

impl SecretKey {
    /// ρ = (c mod n)^(n⁻¹ mod φ(n)) mod n by CRT over p and q; errors unless c encrypts 0.
    pub fn prove_zero(&self, c: &Ciphertext) -> Result<ZeroProof, PaillierError> {
        self.public.check_key(c.key.as_ref())?;
        let limbs = Zeroizing::new(c.c.to_u64_digits());
        // Plaintext ≡ 0 mod p and mod q ⇔ plaintext = 0 (it lies in [0, n)).
        if !self.hp.is_zero_mod_p(&limbs) || !self.hq.is_zero_mod_p(&limbs) {
            return Err(PaillierError::NotZero);
        }
        let rp = self.hp.nth_root(&self.hp.reduce_pp(&limbs));
        let rq = self.hq.nth_root(&self.hq.reduce_pp(&limbs));
        let rho = big_of(&self.crt(&rp, &rq));
        Ok(ZeroProof {
            rho,
            key: self.public.fingerprint,
            width: self.public.n_bytes,
        })
    }
}

impl PublicKey {
    /// Parse ρ: exactly ⌈bits/8⌉ bytes, 0 < ρ < n, gcd(ρ, n) = 1.
    pub fn zero_proof_from_bytes(&self, bytes: &[u8]) -> Result<ZeroProof, PaillierError> {
        let rho = parse_sized(bytes, self.n_bytes, "zero proof")?;
        if rho.is_zero() || rho >= self.n {
            return Err(PaillierError::Malformed {
                what: "zero proof",
                expected: "0 < rho < n",
                found: "a value out of range",
            });
        }
        self.require_coprime(&rho, "zero proof", "gcd(rho, n) = 1")?;
        Ok(ZeroProof {
            rho,
            key: self.fingerprint,
            width: self.n_bytes,
        })
    }

    /// Check ρ^n ≡ c (mod n²), i.e. that c encrypts 0 (given a well-formed key).
    pub fn verify_zero(&self, c: &Ciphertext, proof: &ZeroProof) -> Result<(), PaillierError> {
        self.check_key(c.key.as_ref())?;
        self.check_key(Some(&proof.key))?;
        if proof.rho.is_zero() || proof.rho >= self.n {
            return Err(PaillierError::ZeroProofInvalid);
        }
        let s = self.ctx_nn.len();
        let base = self.ctx_nn.to_mont(&limbs_of(&proof.rho, s));
        let lhs = self
            .ctx_nn
            .to_normal(&self.ctx_nn.pow_public(&base, self.ctx_n.modulus()));
        if big_of(&lhs) == c.c {
            Ok(())
        } else {
            Err(PaillierError::ZeroProofInvalid)
        }
    }
}
