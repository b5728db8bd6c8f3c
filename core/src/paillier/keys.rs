//! Public and secret keys: construction, validation, generation and decryption.

use core::fmt;

use num_bigint::BigUint;
use num_integer::Integer;
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::monty::{
    Monty, add_assign, big_of, bit_len, cmp, inv_mod_pow2, limb_len, mul, mul_low, sub_assign,
};
use super::primes::{Search, is_probable_prime, random_prime, small_factor};
use super::{
    Ciphertext, KeygenProgress, MAX_MODULUS_BITS, MIN_MODULUS_BITS, PaillierError, short_fp,
};

/// Trial-division bound applied when parsing a public modulus.
const PARSE_TRIAL_BOUND: u32 = 1024;

/// A Paillier public key: the modulus n (g = n + 1).
#[derive(Clone)]
pub struct PublicKey {
    /// The modulus.
    pub(crate) n: BigUint,
    /// n².
    pub(crate) nn: BigUint,
    /// Bit length of n.
    pub(crate) bits: usize,
    /// ⌈bits / 8⌉: width of n in bytes.
    pub(crate) n_bytes: usize,
    /// SHA-256 of the big-endian encoding of n.
    pub(crate) fingerprint: [u8; 32],
    /// Montgomery context modulo n.
    pub(crate) ctx_n: Monty,
    /// Montgomery context modulo n².
    pub(crate) ctx_nn: Monty,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n
    }
}
impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey(n bits = {}, fp = {})",
            self.bits,
            short_fp(&self.fingerprint)
        )
    }
}

/// Check that a modulus size is supported.
pub(crate) fn check_size(bits: usize) -> Result<(), PaillierError> {
    if (MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(PaillierError::ModulusSize {
            min: MIN_MODULUS_BITS,
            max: MAX_MODULUS_BITS,
            found: bits,
        })
    }
}

impl PublicKey {
    /// Build a public key from n after checking size, parity and small factors.
    pub(crate) fn from_modulus(n: BigUint) -> Result<Self, PaillierError> {
        let bits = n.bits() as usize;
        check_size(bits)?;
        if n.is_even() {
            return Err(PaillierError::InvalidModulus {
                found: "an even number",
            });
        }
        if small_factor(&n.to_u64_digits(), PARSE_TRIAL_BOUND).is_some() {
            return Err(PaillierError::InvalidModulus {
                found: "a small prime factor",
            });
        }
        let nn = &n * &n;
        let invalid = PaillierError::InvalidModulus {
            found: "an even number",
        };
        let ctx_n = Monty::from_big(&n).ok_or(invalid)?;
        let ctx_nn = Monty::from_big(&nn).ok_or(PaillierError::InvalidModulus {
            found: "an even number",
        })?;
        let n_bytes = bits.div_ceil(8);
        let fingerprint = Sha256::digest(pad_be(&n, n_bytes)).into();
        Ok(PublicKey {
            n,
            nn,
            bits,
            n_bytes,
            fingerprint,
            ctx_n,
            ctx_nn,
        })
    }

    /// Bit length of the modulus n.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// The modulus n.
    pub fn n(&self) -> &BigUint {
        &self.n
    }

    /// n as ⌈bits/8⌉ big-endian bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        pad_be(&self.n, self.n_bytes)
    }

    /// Parse n (big-endian): odd, 2048..=8192 bits, no prime factor below 1024.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PaillierError> {
        if bytes.first() == Some(&0) {
            return Err(PaillierError::Malformed {
                what: "public key",
                expected: "a minimal big-endian encoding",
                found: "a leading zero byte",
            });
        }
        Self::from_modulus(BigUint::from_bytes_be(bytes))
    }

    /// SHA-256 of [`PublicKey::to_bytes`].
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// Reject values made under another key.
    pub(crate) fn check_key(&self, key: Option<&[u8; 32]>) -> Result<(), PaillierError> {
        match key {
            Some(k) if *k == self.fingerprint => Ok(()),
            other => Err(PaillierError::KeyMismatch {
                expected: short_fp(&self.fingerprint),
                found: other.map_or_else(|| "a poisoned result".to_owned(), short_fp),
            }),
        }
    }
}

/// `x` as exactly `len` big-endian bytes (`x` must fit).
pub(crate) fn pad_be(x: &BigUint, len: usize) -> Vec<u8> {
    let b = x.to_bytes_be();
    let mut out = vec![0u8; len.saturating_sub(b.len())];
    out.extend_from_slice(&b);
    out
}

/// One prime's share of the secret key: everything needed to work modulo p and p².
pub(crate) struct PrimeHalf {
    /// The prime p.
    pub(crate) p: Zeroizing<Vec<u64>>,
    /// p − 1.
    pub(crate) p_minus_1: Zeroizing<Vec<u64>>,
    /// Montgomery context modulo p.
    pub(crate) ctx_p: Monty,
    /// Montgomery context modulo p².
    pub(crate) ctx_pp: Monty,
    /// p⁻¹ mod 2^(64·limbs(p)), for the exact division in L_p.
    pub(crate) p_inv_pow2: Zeroizing<Vec<u64>>,
    /// h_p = L_p(g^(p−1) mod p²)⁻¹ mod p, in Montgomery form modulo p.
    pub(crate) h_mont: Zeroizing<Vec<u64>>,
    /// n⁻¹ mod (p − 1): the exponent of the n-th root modulo p.
    pub(crate) root_exp: Zeroizing<Vec<u64>>,
}

impl PrimeHalf {
    /// `L_p(u) = (u − 1)/p` for `u ≡ 1 (mod p)`, `u < p²`, by exact division.
    fn l_function(&self, u: &[u64]) -> Zeroizing<Vec<u64>> {
        let s = self.ctx_p.len();
        let mut u1 = Zeroizing::new(u.to_vec());
        sub_assign(&mut u1, &[1]);
        Zeroizing::new(mul_low(&u1, &self.p_inv_pow2, s))
    }

    /// `c^(p−1) mod p²` for a ciphertext's limbs (`c < n²`).
    fn pow_p_minus_1(&self, c: &[u64]) -> Zeroizing<Vec<u64>> {
        Zeroizing::new(self.ctx_pp.modpow_secret(c, &self.p_minus_1))
    }

    /// The plaintext modulo p of a ciphertext: `L_p(c^(p−1) mod p²)·h_p mod p`.
    fn plaintext_mod_p(&self, c: &[u64]) -> Zeroizing<Vec<u64>> {
        let u = self.pow_p_minus_1(c);
        let l = self.l_function(&u);
        // l < p for a unit c; reduce anyway so a malformed value cannot break CIOS bounds.
        let mut l = Zeroizing::new(reduce_once(&l, &self.p));
        let out = self.ctx_p.mul(&l, &self.h_mont);
        l.zeroize();
        Zeroizing::new(out)
    }
}

/// q⁻¹ mod (p − 1) for distinct odd primes p, q of equal bit length (so
/// p − 1 < 2q; the caller checks it), in limbs
/// that never leave zeroizing buffers (num-bigint's `modinv` would leave
/// copies of p − 1 and q behind). `None` if the inverse does not exist.
///
/// p − 1 is even, so Fermat and Montgomery do not apply modulo p − 1; q is an
/// odd prime, so they do modulo q. With y = (p − 1)⁻¹ mod q (Fermat), the
/// integer k = ((p − 1)·y − 1)/q is exact, 0 < k < p − 1 since y < q, and
/// −k·q ≡ 1 (mod p − 1): the inverse is (p − 1) − k.
pub(crate) fn inv_mod_p_minus_1(q: &[u64], p_minus_1: &[u64]) -> Option<Zeroizing<Vec<u64>>> {
    let s = q.len().max(p_minus_1.len());
    let ctx_q = Monty::new(q)?;
    let mut q_minus_2 = Zeroizing::new(q.to_vec());
    sub_assign(&mut q_minus_2, &[2]);
    // (p − 1) mod q: p − 1 < 2q for primes of equal bit length.
    let a = Zeroizing::new(reduce_once(p_minus_1, q));
    if limb_len(&a) == 0 {
        return None;
    }
    let y = Zeroizing::new(ctx_q.modpow_secret(&a, &q_minus_2));
    let mut num = Zeroizing::new(mul(p_minus_1, &y));
    sub_assign(&mut num, &[1]);
    let q_inv = Zeroizing::new(inv_mod_pow2(q, s));
    let k = Zeroizing::new(mul_low(&num, &q_inv, s));
    let mut x = Zeroizing::new(Vec::with_capacity(s));
    x.extend_from_slice(p_minus_1);
    x.resize(s, 0);
    if limb_len(&k) == 0 || sub_assign(&mut x, &k) != 0 {
        return None;
    }
    let len = limb_len(&x).max(1);
    x.truncate(len);
    Some(x)
}

/// `x mod p` for `x < 2p` (limbs of p's width), in one allocation.
fn reduce_once(x: &[u64], p: &[u64]) -> Vec<u64> {
    let mut v = Vec::with_capacity(p.len().max(x.len()));
    v.extend_from_slice(x);
    v.resize(p.len().max(v.len()), 0);
    if cmp(&v, p) != core::cmp::Ordering::Less {
        sub_assign(&mut v, p);
    }
    v.truncate(p.len());
    v
}

/// A Paillier secret key: the primes p, q and precomputed CRT values, wiped on drop.
///
/// Secret values (p, q, p − 1, q − 1, the CRT coefficient, h_p, h_q and the
/// n-th-root exponents; λ and μ are never formed, the CRT forms replace them)
/// live in limb vectors owned by this struct and are zeroized on drop, and so
/// is every temporary computed from them: no secret passes through a
/// `BigUint`, and buffers are sized before they are filled so no reallocation
/// leaves a copy behind. [`SecretKey::decrypt_full`] returns a `BigUint`
/// (a plaintext, not key material), and [`SecretKey::from_primes`] cannot wipe
/// the caller's own `BigUint` primes.
pub struct SecretKey {
    /// The public key.
    pub(crate) public: PublicKey,
    /// Values modulo p.
    pub(crate) hp: PrimeHalf,
    /// Values modulo q.
    pub(crate) hq: PrimeHalf,
    /// q⁻¹ mod p in Montgomery form modulo p (CRT recombination).
    pub(crate) q_inv_p_mont: Zeroizing<Vec<u64>>,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(<redacted>, n bits = {})", self.public.bits)
    }
}

impl SecretKey {
    /// Generate a key with an n of exactly `bits` bits from two random primes.
    pub fn generate(bits: usize, rng: &mut impl CryptoRngCore) -> Result<Self, PaillierError> {
        Self::generate_with_progress(bits, rng, &mut |_| {})
    }

    /// [`SecretKey::generate`], reporting progress after each tested candidate.
    pub fn generate_with_progress(
        bits: usize,
        rng: &mut impl CryptoRngCore,
        progress: &mut dyn FnMut(KeygenProgress),
    ) -> Result<Self, PaillierError> {
        check_size(bits)?;
        if !bits.is_multiple_of(2) {
            return Err(PaillierError::ModulusSize {
                min: MIN_MODULUS_BITS,
                max: MAX_MODULUS_BITS,
                found: bits,
            });
        }
        let mut search = Search {
            candidates_tested: 0,
            primes_found: 0,
            progress,
        };
        let p = Zeroizing::new(random_prime(bits / 2, rng, &mut search));
        loop {
            let q = Zeroizing::new(random_prime(bits / 2, rng, &mut search));
            if *q == *p {
                search.primes_found -= 1;
                continue;
            }
            // Top two bits set ⇒ n has exactly `bits` bits; equal sizes ⇒ gcd(n, φ) = 1.
            return Self::from_limbs(&p, &q);
        }
    }

    /// Key from two primes of equal bit length with n of 2048..=8192 bits.
    ///
    /// Checks: odd, distinct, primality (Miller–Rabin with bases derived from
    /// the input: a sanity check of the owner's own key, not a defence against
    /// adversarial primes, which the key-correctness proof is for), and
    /// gcd(n, φ(n)) = 1.
    pub fn from_primes(p: &BigUint, q: &BigUint) -> Result<Self, PaillierError> {
        let p = Zeroizing::new(p.to_u64_digits());
        let q = Zeroizing::new(q.to_u64_digits());
        Self::check_primes(&p, &q)?;
        Self::from_limbs(&p, &q)
    }

    /// The primality and shape checks of [`SecretKey::from_primes`].
    pub(crate) fn check_primes(p: &[u64], q: &[u64]) -> Result<(), PaillierError> {
        let (bp, bq) = (bit_len(p), bit_len(q));
        if bp != bq {
            return Err(PaillierError::InvalidPrimes {
                expected: "two primes of equal bit length",
                found: "primes of different lengths",
            });
        }
        let n = mul(p, q);
        check_size(bit_len(&n))?;
        if p[0] & 1 == 0 || q[0] & 1 == 0 {
            return Err(PaillierError::InvalidPrimes {
                expected: "odd primes",
                found: "an even number",
            });
        }
        if cmp(p, q) == core::cmp::Ordering::Equal {
            return Err(PaillierError::InvalidPrimes {
                expected: "distinct primes",
                found: "p = q",
            });
        }
        let mut seed = Sha256::new();
        seed.update(b"carechain/paillier-from-primes/v1");
        for x in [p, q] {
            for limb in x {
                seed.update(limb.to_le_bytes());
            }
        }
        let mut rng =
            <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::from_seed(seed.finalize().into());
        if !is_probable_prime(p, &mut rng) || !is_probable_prime(q, &mut rng) {
            return Err(PaillierError::InvalidPrimes {
                expected: "primes",
                found: "a composite number",
            });
        }
        // Distinct primes of equal bit length: q − 1 < 2p is even and p odd, so
        // p ∤ q − 1 (and symmetrically), hence gcd(n, φ(n)) = 1. Checked anyway.
        for (a, b) in [(p, q), (q, p)] {
            let mut b1 = b.to_vec();
            sub_assign(&mut b1, &[1]);
            let r = Zeroizing::new(reduce_once(&b1, a));
            b1.zeroize();
            if limb_len(&r) == 0 {
                return Err(PaillierError::InvalidPrimes {
                    expected: "gcd(n, phi(n)) = 1",
                    found: "one prime dividing the other minus one",
                });
            }
        }
        Ok(())
    }

    /// Build the key and its precomputed values from checked primes.
    pub(crate) fn from_limbs(p: &[u64], q: &[u64]) -> Result<Self, PaillierError> {
        let p = &p[..limb_len(p)];
        let q = &q[..limb_len(q)];
        let public = PublicKey::from_modulus(big_of(&mul(p, q)))?;
        let bad = || PaillierError::InvalidPrimes {
            expected: "odd primes",
            found: "an even number",
        };
        let half =
            |p: &[u64], q: &[u64]| -> Result<(PrimeHalf, Zeroizing<Vec<u64>>), PaillierError> {
                let s = p.len();
                let ctx_p = Monty::new(p).ok_or_else(bad)?;
                let ctx_pp = Monty::new(&Zeroizing::new(mul(p, p))).ok_or_else(bad)?;
                let mut p_minus_1 = Zeroizing::new(p.to_vec());
                sub_assign(&mut p_minus_1, &[1]);
                let mut p_minus_2 = Zeroizing::new(p.to_vec());
                sub_assign(&mut p_minus_2, &[2]);
                // q⁻¹ mod p by Fermat (q < 2p < p·R).
                let q_inv = Zeroizing::new(ctx_p.modpow_secret(q, &p_minus_2));
                // h_p = L_p((1+n)^(p−1) mod p²)⁻¹ = (−q mod p)⁻¹ = p − q⁻¹ mod p.
                let mut h = Zeroizing::new(p.to_vec());
                sub_assign(&mut h, &q_inv);
                let h = Zeroizing::new(reduce_once(&h, p));
                let h_mont = Zeroizing::new(ctx_p.to_mont(&h));
                // n ≡ q (mod p − 1), so n⁻¹ mod (p − 1) = q⁻¹ mod (p − 1).
                let root_exp =
                    inv_mod_p_minus_1(q, &p_minus_1).ok_or(PaillierError::InvalidPrimes {
                        expected: "gcd(n, phi(n)) = 1",
                        found: "a prime dividing the other minus one",
                    })?;
                let q_inv_mont = Zeroizing::new(ctx_p.to_mont(&q_inv));
                let half = PrimeHalf {
                    p: Zeroizing::new(p.to_vec()),
                    p_minus_1,
                    p_inv_pow2: Zeroizing::new(inv_mod_pow2(p, s)),
                    ctx_p,
                    ctx_pp,
                    h_mont,
                    root_exp,
                };
                Ok((half, q_inv_mont))
            };
        let (hp, q_inv_p_mont) = half(p, q)?;
        let (hq, _) = half(q, p)?;
        Ok(SecretKey {
            public,
            hp,
            hq,
            q_inv_p_mont,
        })
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Ciphertext limbs after checking the key.
    fn limbs(&self, c: &Ciphertext) -> Result<Vec<u64>, PaillierError> {
        self.public.check_key(c.key.as_ref())?;
        Ok(c.c.to_u64_digits())
    }

    /// Decrypt a plaintext known to be a small integer (`u64`), modulo p only.
    ///
    /// One exponentiation modulo p² with the half-size exponent p − 1, half the
    /// work of full CRT decryption. It yields m mod p, which equals m for every
    /// m < p; our plaintexts are `u64` values ≪ p. A party without p cannot
    /// build a ciphertext of an m ≥ p whose residue mod p fits in 64 bits, except
    /// with negligible probability (it would reveal a multiple of p). Errors if
    /// the residue does not fit in a `u64`.
    pub fn decrypt(&self, c: &Ciphertext) -> Result<u64, PaillierError> {
        let c = self.limbs(c)?;
        let m = self.hp.plaintext_mod_p(&c);
        if limb_len(&m) > 1 {
            return Err(PaillierError::PlaintextTooLarge { bound: "2^64" });
        }
        Ok(m.first().copied().unwrap_or(0))
    }

    /// Full plaintext in [0, n) by textbook CRT over p², q² (exponents p − 1, q − 1).
    ///
    /// # Panics
    ///
    /// If `c` belongs to another key or is poisoned (a programming error that
    /// the signature cannot report; any plaintext returned would be a plausible
    /// lie). [`SecretKey::decrypt`] returns an error instead.
    pub fn decrypt_full(&self, c: &Ciphertext) -> BigUint {
        let c = match self.limbs(c) {
            Ok(c) => c,
            Err(e) => panic!("decrypt_full: {e}"),
        };
        let mp = self.hp.plaintext_mod_p(&c);
        let mq = self.hq.plaintext_mod_p(&c);
        big_of(&self.crt(&mp, &mq))
    }

    /// The x < n with x ≡ xp (mod p), x ≡ xq (mod q) (Garner).
    pub(crate) fn crt(&self, xp: &[u64], xq: &[u64]) -> Zeroizing<Vec<u64>> {
        let p = &self.hp.p;
        let q = &self.hq.p;
        let s = p.len();
        let xq_mod_p = Zeroizing::new(reduce_once(xq, p));
        let mut diff = Zeroizing::new(Vec::with_capacity(s.max(xp.len())));
        diff.extend_from_slice(xp);
        diff.resize(s, 0);
        if sub_assign(&mut diff, &xq_mod_p) != 0 {
            add_assign(&mut diff, p);
        }
        let h = Zeroizing::new(self.hp.ctx_p.mul(&diff, &self.q_inv_p_mont));
        let mut x = Zeroizing::new(mul(q, &h));
        add_assign(&mut x, xq);
        x
    }
}

impl PrimeHalf {
    /// `x^(n⁻¹ mod (p−1)) mod p` for `x < p·R_p`: the n-th root modulo p.
    pub(crate) fn nth_root(&self, x: &[u64]) -> Zeroizing<Vec<u64>> {
        Zeroizing::new(self.ctx_p.modpow_secret(x, &self.root_exp))
    }

    /// `x mod p²` for a ciphertext's limbs.
    pub(crate) fn reduce_pp(&self, c: &[u64]) -> Zeroizing<Vec<u64>> {
        let mut m = Zeroizing::new(self.ctx_pp.to_mont_wide(c));
        let out = Zeroizing::new(self.ctx_pp.to_normal(&m));
        m.zeroize();
        out
    }

    /// Whether c's plaintext is ≡ 0 mod p, i.e. `c^(p−1) ≡ 1 (mod p²)`.
    pub(crate) fn is_zero_mod_p(&self, c: &[u64]) -> bool {
        let u = self.pow_p_minus_1(c);
        limb_len(&u) == 1 && u[0] == 1
    }
}

#[cfg(test)]
mod tests {
    use num_bigint::BigUint;
    use rand_core::SeedableRng as _;

    use super::super::monty::big_of;
    use super::super::primes::{Search, random_prime};
    use super::*;

    #[test]
    fn inverse_modulo_p_minus_1_matches_num_bigint() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let mut progress = |_| {};
        let mut search = Search {
            candidates_tested: 0,
            primes_found: 0,
            progress: &mut progress,
        };
        for bits in [64, 128, 192, 512, 1024] {
            for _ in 0..3 {
                let p = random_prime(bits, &mut rng, &mut search);
                let q = random_prime(bits, &mut rng, &mut search);
                if p == q {
                    continue;
                }
                let mut p_minus_1 = p.clone();
                sub_assign(&mut p_minus_1, &[1]);
                let pm1 = big_of(&p_minus_1);
                let want = (big_of(&q) % &pm1).modinv(&pm1);
                let got = inv_mod_p_minus_1(&q, &p_minus_1).map(|x| big_of(&x));
                assert_eq!(got, want, "{bits}-bit primes");
                if let Some(x) = got {
                    assert_eq!(x * big_of(&q) % &pm1, BigUint::from(1u8));
                }
            }
        }
    }
}
