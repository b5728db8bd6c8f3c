//! Ciphertexts and the public-key operations on them.

use core::fmt;

use num_bigint::{BigUint, RandBigInt};
use num_integer::Integer;
use num_traits::{One, Zero};
use rand_core::CryptoRngCore;

use super::keys::{PublicKey, pad_be};
use super::monty::{big_of, limbs_of};
use super::{PaillierError, short_fp};

/// A Paillier ciphertext, an element of Z*_{n²}, tied to the key that made or parsed it.
#[derive(Clone, PartialEq, Eq)]
pub struct Ciphertext {
    /// The value c, 0 < c < n².
    pub(crate) c: BigUint,
    /// Fingerprint of its key; `None` marks a poisoned result of mixing keys.
    pub(crate) key: Option<[u8; 32]>,
    /// Encoded width in bytes: 2·⌈bits/8⌉.
    pub(crate) width: usize,
}

impl fmt::Debug for Ciphertext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self
            .key
            .as_ref()
            .map_or_else(|| "poisoned".to_owned(), short_fp);
        write!(f, "Ciphertext(key = {key}, {} bytes)", self.width)
    }
}

impl Ciphertext {
    /// Fixed-width big-endian encoding: 2·⌈bits/8⌉ bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        pad_be(&self.c, self.width)
    }
}

impl PublicKey {
    /// Wrap a value already known to be a unit below n².
    pub(crate) fn wrap(&self, c: BigUint) -> Ciphertext {
        Ciphertext {
            c,
            key: Some(self.fingerprint),
            width: 2 * self.n_bytes,
        }
    }

    /// Random r ∈ [1, n) with gcd(r, n) = 1.
    fn random_unit(&self, rng: &mut impl CryptoRngCore) -> BigUint {
        loop {
            let r = rng.gen_biguint_below(&self.n);
            if !r.is_zero() && r.gcd(&self.n).is_one() {
                return r;
            }
        }
    }

    /// `(1 + m·n)·r^n mod n²` for `m < n`.
    fn encrypt_reduced(&self, m: &BigUint, rng: &mut impl CryptoRngCore) -> Ciphertext {
        let r = self.random_unit(rng);
        let s = self.ctx_nn.len();
        let rn = self
            .ctx_nn
            .pow_public(&self.ctx_nn.to_mont(&limbs_of(&r, s)), self.ctx_n.modulus());
        // Montgomery product of (r^n·R) and (1 + m·n) is (1 + m·n)·r^n.
        let gm = (m * &self.n + 1u8) % &self.nn;
        let c = self.ctx_nn.mul(&rn, &limbs_of(&gm, s));
        self.wrap(big_of(&c))
    }

    /// Encrypt a `u64` plaintext with fresh randomness: `(1 + m·n)·r^n mod n²`.
    pub fn encrypt(&self, m: u64, rng: &mut impl CryptoRngCore) -> Ciphertext {
        self.encrypt_reduced(&BigUint::from(m), rng)
    }

    /// The encryption of a *public* plaintext with randomness 1:
    /// `(1 + n)^m = 1 + m·n mod n²`. Hides nothing, so only for values anyone
    /// may know (a product's covered code); deterministic, so anyone can
    /// recompute it from `m` and the key.
    pub fn encrypt_public(&self, m: u64) -> Ciphertext {
        self.wrap((BigUint::from(m) * &self.n + 1u8) % &self.nn)
    }

    /// Encrypt an arbitrary plaintext `m < n`.
    pub fn encrypt_big(
        &self,
        m: &BigUint,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Ciphertext, PaillierError> {
        if m >= &self.n {
            return Err(PaillierError::PlaintextTooLarge {
                bound: "the modulus n",
            });
        }
        Ok(self.encrypt_reduced(m, rng))
    }

    /// Result for operands of which one is foreign: poisoned, so every later
    /// fallible operation rejects it.
    fn poisoned(&self, c: BigUint) -> Ciphertext {
        Ciphertext {
            c,
            key: None,
            width: 2 * self.n_bytes,
        }
    }

    /// Homomorphic addition: E(a)·E(b) mod n² = E(a + b mod n).
    ///
    /// An operand of another key yields a poisoned ciphertext (see the module docs).
    pub fn add(&self, a: &Ciphertext, b: &Ciphertext) -> Ciphertext {
        let c = (&a.c * &b.c) % &self.nn;
        if self.check_key(a.key.as_ref()).is_err() || self.check_key(b.key.as_ref()).is_err() {
            return self.poisoned(c);
        }
        self.wrap(c)
    }

    /// Homomorphic subtraction: E(a)·E(b)⁻¹ mod n² = E(a − b mod n).
    pub fn sub(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext, PaillierError> {
        self.check_key(a.key.as_ref())?;
        self.check_key(b.key.as_ref())?;
        // Invert modulo n (half-size, so ~4× cheaper for num-bigint's extended
        // Euclid), then lift: b·x ≡ 1 (mod n) ⇒ x·(2 − b·x) ≡ b⁻¹ (mod n²).
        let x = (&b.c % &self.n)
            .modinv(&self.n)
            .ok_or(PaillierError::Malformed {
                what: "ciphertext",
                expected: "a unit modulo n^2",
                found: "a value sharing a factor with n",
            })?;
        let bx = (&b.c * &x) % &self.nn;
        let inv = (x * ((&self.nn + 2u8 - bx) % &self.nn)) % &self.nn;
        Ok(self.wrap((&a.c * inv) % &self.nn))
    }

    /// Homomorphic scalar multiplication: E(m)^k mod n² = E(k·m mod n).
    ///
    /// A ciphertext of another key yields a poisoned ciphertext (see the module docs).
    pub fn mul_scalar(&self, c: &Ciphertext, k: u64) -> Ciphertext {
        let s = self.ctx_nn.len();
        let base = self.ctx_nn.to_mont(&limbs_of(&c.c, s));
        let r = big_of(&self.ctx_nn.to_normal(&self.ctx_nn.pow_public(&base, &[k])));
        if self.check_key(c.key.as_ref()).is_err() {
            return self.poisoned(r);
        }
        self.wrap(r)
    }

    /// Parse a ciphertext: exactly 2·⌈bits/8⌉ bytes, 0 < c < n², gcd(c, n) = 1.
    pub fn ciphertext_from_bytes(&self, bytes: &[u8]) -> Result<Ciphertext, PaillierError> {
        let c = parse_sized(bytes, 2 * self.n_bytes, "ciphertext")?;
        if c.is_zero() {
            return Err(PaillierError::Malformed {
                what: "ciphertext",
                expected: "0 < c < n^2",
                found: "c = 0",
            });
        }
        if c >= self.nn {
            return Err(PaillierError::Malformed {
                what: "ciphertext",
                expected: "0 < c < n^2",
                found: "c >= n^2",
            });
        }
        self.require_coprime(&c, "ciphertext", "gcd(c, n) = 1")?;
        Ok(self.wrap(c))
    }

    /// Refuses `v` (the `what`, which must satisfy `expected`) when it shares a factor with n.
    pub(super) fn require_coprime(
        &self,
        v: &BigUint,
        what: &'static str,
        expected: &'static str,
    ) -> Result<(), PaillierError> {
        if !v.gcd(&self.n).is_one() {
            return Err(PaillierError::Malformed {
                what,
                expected,
                found: "a value sharing a factor with n",
            });
        }
        Ok(())
    }
}

/// The big-endian integer in `bytes` (the `what`), which must be exactly `width` bytes.
pub(super) fn parse_sized(
    bytes: &[u8],
    width: usize,
    what: &'static str,
) -> Result<BigUint, PaillierError> {
    if bytes.len() != width {
        return Err(PaillierError::Length {
            what,
            expected: width,
            found: bytes.len(),
        });
    }
    Ok(BigUint::from_bytes_be(bytes))
}
