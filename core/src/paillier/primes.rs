//! Small-prime tables, trial division, Miller–Rabin and random prime generation.
//!
//! Prime generation is an incremental sieve: a random odd start `x₀` with the
//! top two bits set, a window of `SIEVE_WINDOW` odd candidates `x₀ + 2j` from
//! which every multiple of a prime below 2^16 is struck out, then Miller–Rabin
//! with random bases on the survivors in order. One cheap round rejects almost
//! every composite; a candidate that passes it gets the remaining rounds.

use std::sync::OnceLock;

use rand_core::CryptoRngCore;
use zeroize::{Zeroize, Zeroizing};

use super::monty::{Monty, add_assign, bit_len, cmp, limb_len, sub_assign};

/// Every prime below this bound is a "small prime" (α of the key proof).
pub(crate) const SMALL_PRIME_BOUND: u32 = 1 << 16;

/// Number of odd candidates per sieve window.
const SIEVE_WINDOW: usize = 4096;

/// All primes below [`SMALL_PRIME_BOUND`], in increasing order (6542 of them).
pub(crate) fn small_primes() -> &'static [u32] {
    static PRIMES: OnceLock<Vec<u32>> = OnceLock::new();
    PRIMES.get_or_init(|| {
        let n = SMALL_PRIME_BOUND as usize;
        let mut composite = vec![false; n];
        let mut out = Vec::new();
        for i in 2..n {
            if !composite[i] {
                out.push(i as u32);
                let mut j = i * i;
                while j < n {
                    composite[j] = true;
                    j += i;
                }
            }
        }
        out
    })
}

/// Products of consecutive small primes, each below 2^32, with their primes.
fn prime_products() -> &'static [(u64, Vec<u32>)] {
    static PRODUCTS: OnceLock<Vec<(u64, Vec<u32>)>> = OnceLock::new();
    PRODUCTS.get_or_init(|| {
        let mut out: Vec<(u64, Vec<u32>)> = Vec::new();
        let mut prod = 1u64;
        let mut group = Vec::new();
        for &p in small_primes() {
            if prod * u64::from(p) >= 1 << 32 {
                out.push((prod, std::mem::take(&mut group)));
                prod = 1;
            }
            prod *= u64::from(p);
            group.push(p);
        }
        if !group.is_empty() {
            out.push((prod, group));
        }
        out
    })
}

/// `x mod d` for `d < 2^32`, processing 32-bit halves so only u64 division is used.
fn rem_u32(x: &[u64], d: u64) -> u64 {
    let mut r = 0u64;
    for &limb in x.iter().rev() {
        r = ((r << 32) | (limb >> 32)) % d;
        r = ((r << 32) | (limb & 0xffff_ffff)) % d;
    }
    r
}

/// The smallest prime `p < bound` dividing `x`, if any (`x` is not itself small).
pub(crate) fn small_factor(x: &[u64], bound: u32) -> Option<u32> {
    for (prod, group) in prime_products() {
        if group[0] >= bound {
            break;
        }
        let r = rem_u32(x, *prod);
        for &p in group {
            if p < bound && r.is_multiple_of(u64::from(p)) {
                return Some(p);
            }
        }
    }
    None
}

/// Residues of `x` modulo every small prime, in the order of [`small_primes`].
fn small_residues(x: &[u64]) -> Vec<u32> {
    let mut out = Vec::with_capacity(small_primes().len());
    for (prod, group) in prime_products() {
        let r = rem_u32(x, *prod);
        out.extend(group.iter().map(|&p| (r % u64::from(p)) as u32));
    }
    out
}

/// Miller–Rabin rounds for a random candidate of `bits` bits.
///
/// FIPS 186-5 Table B.1 asks for 5 rounds for 1024-bit and 4 for 1536- and
/// 2048-bit primes (error ≤ 2^-112, 2^-128, 2^-144). We run more: 7 below
/// 1536 bits and 5 from there on, and 40 for small test sizes.
pub(crate) fn mr_rounds(bits: usize) -> usize {
    match bits {
        0..=1023 => 40,
        1024..=1535 => 7,
        _ => 5,
    }
}

/// Uniformly random limbs holding `bits` bits: nothing above bit `bits - 1`.
fn random_bits(bits: usize, rng: &mut impl CryptoRngCore) -> Vec<u64> {
    let s = bits.div_ceil(64);
    let mut v = vec![0u64; s];
    for limb in v.iter_mut() {
        *limb = rng.next_u64();
    }
    let extra = 64 * s - bits;
    if extra > 0 {
        v[s - 1] &= u64::MAX >> extra;
    }
    v
}

/// Random limb vector below `bound` (≥ 2), uniform by rejection.
fn random_below(bound: &[u64], rng: &mut impl CryptoRngCore) -> Vec<u64> {
    let bits = bit_len(bound);
    loop {
        let v = random_bits(bits, rng);
        if cmp(&v, bound) == core::cmp::Ordering::Less {
            return v;
        }
    }
}

/// Whether the odd `x > 3` passes `rounds` Miller–Rabin rounds with random bases.
pub(crate) fn miller_rabin(x: &[u64], rounds: usize, rng: &mut impl CryptoRngCore) -> bool {
    let Some(ctx) = Monty::new(x) else {
        return false;
    };
    let x = ctx.modulus();
    let s = x.len();
    let mut x_minus_1 = Zeroizing::new(x.to_vec());
    sub_assign(&mut x_minus_1, &[1]);
    let tz = {
        let mut tz = 0;
        while (x_minus_1[tz / 64] >> (tz % 64)) & 1 == 0 {
            tz += 1;
        }
        tz
    };
    let mut d = Zeroizing::new(x_minus_1.to_vec());
    shr_assign(&mut d, tz);
    // R mod x and −R mod x reveal x: wiped like everything else here.
    let one = Zeroizing::new(ctx.to_mont(&[1]));
    let minus_one = Zeroizing::new(ctx.to_mont(&x_minus_1));
    // Bases uniform in [2, x − 2].
    let mut bound = Zeroizing::new(x.to_vec());
    sub_assign(&mut bound, &[3]);
    let mut result = true;
    'rounds: for _ in 0..rounds {
        let mut a = random_below(&bound, rng);
        a.resize(s, 0);
        add_assign(&mut a, &[2]);
        let mut y = Zeroizing::new(ctx.pow_fixed(&ctx.to_mont(&a), &d));
        a.zeroize();
        if y == one || y == minus_one {
            continue;
        }
        let mut wide = Zeroizing::new(vec![0u64; 2 * s]);
        for _ in 1..tz {
            ctx.sqr_assign(&mut y, &mut wide);
            if y == minus_one {
                continue 'rounds;
            }
            if y == one {
                break;
            }
        }
        result = false;
        break;
    }
    result
}

/// `x >>= k` for `k` smaller than the bit length.
fn shr_assign(x: &mut [u64], k: usize) {
    let (limbs, bits) = (k / 64, k % 64);
    let n = x.len();
    for i in 0..n {
        let lo = x.get(i + limbs).copied().unwrap_or(0);
        let hi = x.get(i + limbs + 1).copied().unwrap_or(0);
        x[i] = if bits == 0 {
            lo
        } else {
            (lo >> bits) | (hi << (64 - bits))
        };
    }
}

/// Full primality test of an odd candidate with no small factor check done yet.
pub(crate) fn is_probable_prime(x: &[u64], rng: &mut impl CryptoRngCore) -> bool {
    let bits = bit_len(x);
    if bits <= 32 {
        let v = x.first().copied().unwrap_or(0);
        return v >= 2 && (2..).take_while(|d| d * d <= v).all(|d| v % d != 0);
    }
    if x[0] & 1 == 0 || small_factor(x, SMALL_PRIME_BOUND).is_some() {
        return false;
    }
    miller_rabin(&x[..limb_len(x)], mr_rounds(bits), rng)
}

/// Counters reported while searching for primes.
pub(crate) struct Search<'a> {
    /// Miller–Rabin candidates tried so far.
    pub(crate) candidates_tested: u64,
    /// Primes found so far.
    pub(crate) primes_found: u8,
    /// Called after each candidate.
    pub(crate) progress: &'a mut dyn FnMut(super::KeygenProgress),
}

/// A random prime of exactly `bits` bits (≥ 64) with its top two bits set.
pub(crate) fn random_prime(
    bits: usize,
    rng: &mut impl CryptoRngCore,
    search: &mut Search<'_>,
) -> Vec<u64> {
    let rounds = mr_rounds(bits);
    let primes = small_primes();
    loop {
        // Random odd start, top two bits set, nothing above bit `bits - 1`.
        let mut start = random_bits(bits, rng);
        let top = bits - 1;
        start[top / 64] |= 1 << (top % 64);
        start[(top - 1) / 64] |= 1 << ((top - 1) % 64);
        start[0] |= 1;

        // The residues and the sieve reveal the prime's residues: wiped.
        let residues = Zeroizing::new(small_residues(&start));
        let mut struck = Zeroizing::new(vec![false; SIEVE_WINDOW]);
        for (&p, &r) in primes.iter().zip(residues.iter()).skip(1) {
            // start + 2j ≡ 0 (mod p)  ⇔  j ≡ −r·2⁻¹ (mod p).
            let p64 = u64::from(p);
            let inv2 = p64.div_ceil(2);
            let mut j = (((p64 - u64::from(r)) % p64) * inv2 % p64) as usize;
            while j < SIEVE_WINDOW {
                struck[j] = true;
                j += p as usize;
            }
        }
        for (j, _) in struck.iter().enumerate().filter(|(_, s)| !**s) {
            let mut cand = start.clone();
            if add_assign(&mut cand, &[2 * j as u64]) != 0 || bit_len(&cand) != bits {
                cand.zeroize();
                break; // ran past the top: pick a new start
            }
            search.candidates_tested += 1;
            let prime =
                miller_rabin(&cand, 1, rng) && miller_rabin(&cand, rounds.saturating_sub(1), rng);
            (search.progress)(super::KeygenProgress {
                candidates_tested: search.candidates_tested,
                primes_found: search.primes_found + u8::from(prime),
            });
            if prime {
                search.primes_found += 1;
                start.zeroize();
                return cand;
            }
            cand.zeroize();
        }
        start.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;

    #[test]
    fn small_prime_table() {
        let p = small_primes();
        assert_eq!(p.len(), 6542);
        assert_eq!(&p[..5], &[2, 3, 5, 7, 11]);
        assert_eq!(*p.last().unwrap(), 65521);
    }

    #[test]
    fn primality_of_known_numbers() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        // 2^127 − 1 is prime; 2^128 + 1 = 59649589127497217 · 5704689200685129054721 is not.
        let m127 = vec![u64::MAX, u64::MAX >> 1];
        assert!(is_probable_prime(&m127, &mut rng));
        assert!(!is_probable_prime(&[1, 0, 1], &mut rng));
        // Carmichael number 3215031751 = 151·751·28351 (a strong pseudoprime to bases 2,3,5,7).
        assert!(!is_probable_prime(&[3_215_031_751], &mut rng));
        assert!(is_probable_prime(&[65521], &mut rng));
        assert!(!is_probable_prime(&[65521 * 65519], &mut rng));
        // Product of two 70-bit primes survives trial division but not Miller–Rabin.
        let mut prime70 = || {
            random_prime(
                70,
                &mut rng,
                &mut Search {
                    candidates_tested: 0,
                    primes_found: 0,
                    progress: &mut |_| {},
                },
            )
        };
        let (a, b) = (prime70(), prime70());
        let ab = super::super::monty::mul(&a, &b);
        assert!(is_probable_prime(&a, &mut rng));
        assert!(!is_probable_prime(&ab[..limb_len(&ab)], &mut rng));
    }

    #[test]
    fn random_prime_has_requested_shape() {
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let mut calls = 0u64;
        let mut progress = |_p: super::super::KeygenProgress| calls += 1;
        let mut search = Search {
            candidates_tested: 0,
            primes_found: 0,
            progress: &mut progress,
        };
        let p = random_prime(256, &mut rng, &mut search);
        assert_eq!(bit_len(&p), 256);
        assert_eq!(p[3] >> 62, 0b11);
        assert_eq!(search.primes_found, 1);
        assert!(calls >= 1);
        assert!(is_probable_prime(&p, &mut rng));
    }
}
