//! Checking many claimed plaintexts at once: the cost of one decryption for
//! any number of ciphertexts, so a phone can check every record it lists.
//!
//! The small-exponents batch test (Bellare, Garay and Rabin, "Fast batch
//! verification for modular exponentiation and digital signatures", 1998):
//! with random 64-bit `r_i`, `Π c_i^(r_i) · (1+n)^(−Σ r_i·m_i)` encrypts
//! `Σ r_i·(M_i − m_i)`, where `M_i` is what `c_i` really encrypts. That is 0
//! when every claim holds; if one does not, it is 0 modulo p for at most one
//! value of that claim's `r_i`, so for at most 2⁻⁶³ of the draws (the `r_i` have
//! their top bit set, so that every product takes the same 64 squarings).

use num_bigint::BigUint;

use super::keys::SecretKey;
use super::monty::{big_of, limbs_of};
use super::{Ciphertext, PaillierError};
use crate::CryptoRngCore;

impl SecretKey {
    /// Whether every ciphertext encrypts its claimed plaintext, checked in one
    /// exponentiation modulo p² plus about 32 multiplications per claim.
    ///
    /// `false` says only that some claim fails (decrypt to learn which); a
    /// wrong claim passes with probability at most 2⁻⁶⁴ over `rng`. Like
    /// [`SecretKey::decrypt`], the test works modulo p: a plaintext that
    /// differs from its claim by a multiple of p would pass, and making one
    /// needs p. Errors on a ciphertext of another key.
    pub fn all_encrypt(
        &self,
        claims: &[(&Ciphertext, u64)],
        rng: &mut impl CryptoRngCore,
    ) -> Result<bool, PaillierError> {
        let half = &self.hp;
        let ctx = &half.ctx_pp;
        let mut bases = Vec::with_capacity(claims.len());
        let mut exponents = Vec::with_capacity(claims.len());
        // Σ r_i·m_i, at most 128 + log2(claims) bits.
        let mut shift = BigUint::default();
        for (c, m) in claims {
            self.public.check_key(c.key.as_ref())?;
            // A random non-zero 64-bit exponent.
            let r = rng.next_u64() | 1 << 63;
            bases.push(ctx.to_mont_wide(&c.c.to_u64_digits()));
            exponents.push(r);
            shift += BigUint::from(r) * BigUint::from(*m);
        }
        // Π c_i^(r_i) by interleaved square-and-multiply: 64 squarings shared
        // by every claim, then one multiplication per set bit.
        let mut acc = ctx.to_mont(&[1]);
        let s = ctx.len();
        let mut t = vec![0u64; s + 1];
        let mut wide = vec![0u64; 2 * s];
        for bit in (0..64).rev() {
            ctx.sqr_assign(&mut acc, &mut wide);
            for (base, r) in bases.iter().zip(&exponents) {
                if (r >> bit) & 1 == 1 {
                    ctx.mul_assign(&mut acc, base, &mut t);
                }
            }
        }
        // (1+n)^(−k) ≡ 1 − k·n (mod n²), hence modulo p² too.
        let pp = big_of(ctx.modulus());
        let kn = (shift * &self.public.n) % &pp;
        let correction = (&pp + 1u32 - kn) % &pp;
        let correction = ctx.to_mont(&limbs_of(&correction, s));
        ctx.mul_assign(&mut acc, &correction, &mut t);
        let product = ctx.to_normal(&acc);
        Ok(half.is_zero_mod_p(&product))
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    use super::*;

    fn key() -> (SecretKey, ChaCha20Rng) {
        let mut rng = ChaCha20Rng::seed_from_u64(41);
        (SecretKey::generate(2048, &mut rng).unwrap(), rng)
    }

    #[test]
    fn true_claims_pass_and_one_false_claim_among_many_fails() {
        let (sk, mut rng) = key();
        let pk = sk.public_key().clone();
        let plaintexts: Vec<u64> = (0..40).map(|i| 1_000_003 * i + 7).collect();
        let cts: Vec<Ciphertext> = plaintexts
            .iter()
            .map(|m| pk.encrypt(*m, &mut rng))
            .collect();
        let claims: Vec<(&Ciphertext, u64)> = cts.iter().zip(plaintexts.iter().copied()).collect();
        assert!(sk.all_encrypt(&claims, &mut rng).unwrap());
        assert!(sk.all_encrypt(&[], &mut rng).unwrap());
        for wrong in [0, 17, 39] {
            let mut bad = claims.clone();
            bad[wrong].1 += 1;
            assert!(!sk.all_encrypt(&bad, &mut rng).unwrap(), "claim {wrong}");
        }
        // Two wrong claims that would cancel in a plain sum do not cancel here.
        let mut bad = claims.clone();
        bad[3].1 += 5;
        bad[4].1 -= 5;
        assert!(!sk.all_encrypt(&bad, &mut rng).unwrap());
        // Extreme plaintexts.
        let edge = [0u64, u64::MAX];
        let cts: Vec<Ciphertext> = edge.iter().map(|m| pk.encrypt(*m, &mut rng)).collect();
        let claims: Vec<(&Ciphertext, u64)> = cts.iter().zip(edge).collect();
        assert!(sk.all_encrypt(&claims, &mut rng).unwrap());
        assert!(!sk.all_encrypt(&[(&cts[1], 0)], &mut rng).unwrap());
    }

    #[test]
    fn a_ciphertext_of_another_key_is_an_error() {
        let (sk, mut rng) = key();
        let other = SecretKey::generate(2048, &mut rng).unwrap();
        let foreign = other.public_key().encrypt(5, &mut rng);
        assert!(matches!(
            sk.all_encrypt(&[(&foreign, 5)], &mut rng),
            Err(PaillierError::KeyMismatch { .. })
        ));
    }
}
