//! Montgomery arithmetic on little-endian `u64` limbs.
//!
//! This is the hot path of every Paillier operation. It exists because
//! num-bigint's `modpow` uses the same multiplication for squarings and a fixed
//! 4-bit window; a dedicated squaring (≈ 1.5 s² instead of 2 s² limb products)
//! and a sliding window for public exponents make `ρ^n mod n²` measurably faster
//! (see `docs/benchmarks.md`). Secret exponents use [`Monty::pow_fixed`], whose
//! sequence of squarings and multiplications does not depend on the exponent.
//!
//! Timing caveat: like num-bigint, the final conditional subtraction of each
//! Montgomery product and the table lookup of the fixed window depend on data,
//! so secret-exponent operations are not constant-time; they leak no more than
//! num-bigint's `modpow` does.

use num_bigint::BigUint;
use zeroize::{Zeroize, Zeroizing};

/// `a + b·c + carry` as (low, high).
#[inline(always)]
fn mac(a: u64, b: u64, c: u64, carry: u64) -> (u64, u64) {
    // Cannot overflow: (2^64 − 1) + (2^64 − 1)² + (2^64 − 1) = 2^128 − 1.
    let t = (u128::from(b).wrapping_mul(u128::from(c)))
        .wrapping_add(u128::from(a))
        .wrapping_add(u128::from(carry));
    (t as u64, (t >> 64) as u64)
}

/// `a + b + carry` as (sum, carry out).
#[inline(always)]
fn adc(a: u64, b: u64, carry: u64) -> (u64, u64) {
    mac(a, b, 1, carry)
}

/// `a - b - borrow` as (difference, borrow out ∈ {0, 1}).
#[inline(always)]
fn sbb(a: u64, b: u64, borrow: u64) -> (u64, u64) {
    let t = u128::from(a)
        .wrapping_sub(u128::from(b))
        .wrapping_sub(u128::from(borrow));
    (t as u64, ((t >> 64) as u64) & 1)
}

/// Limbs of `x`, zero-padded to `len` (more limbs than `len` are kept).
pub(crate) fn limbs_of(x: &BigUint, len: usize) -> Vec<u64> {
    let mut v = x.to_u64_digits();
    if v.len() < len {
        v.resize(len, 0);
    }
    v
}

/// The integer whose little-endian limbs are `l`.
pub(crate) fn big_of(l: &[u64]) -> BigUint {
    let mut digits = Vec::with_capacity(2 * l.len());
    for &x in l {
        digits.push(x as u32);
        digits.push((x >> 32) as u32);
    }
    BigUint::new(digits)
}

/// Number of significant limbs.
pub(crate) fn limb_len(a: &[u64]) -> usize {
    a.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1)
}

/// Bit length of a limb vector.
pub(crate) fn bit_len(a: &[u64]) -> usize {
    let l = limb_len(a);
    if l == 0 {
        0
    } else {
        64 * l - a[l - 1].leading_zeros() as usize
    }
}

/// Compare two limb vectors as integers (lengths may differ).
pub(crate) fn cmp(a: &[u64], b: &[u64]) -> core::cmp::Ordering {
    let n = a.len().max(b.len());
    for i in (0..n).rev() {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        if x != y {
            return x.cmp(&y);
        }
    }
    core::cmp::Ordering::Equal
}

/// `a -= b` in place (`a.len() >= b.len()`); returns the borrow out.
pub(crate) fn sub_assign(a: &mut [u64], b: &[u64]) -> u64 {
    ripple_assign(a, b, sbb)
}

/// `a += b` in place (`a.len() >= b.len()`); returns the carry out.
pub(crate) fn add_assign(a: &mut [u64], b: &[u64]) -> u64 {
    ripple_assign(a, b, adc)
}

/// `a = a op b` limb by limb (`b` zero-extended), rippling the carry or
/// borrow `op` returns into the next limb; returns the last one.
#[inline(always)]
fn ripple_assign(a: &mut [u64], b: &[u64], op: impl Fn(u64, u64, u64) -> (u64, u64)) -> u64 {
    let mut carry = 0;
    for (i, x) in a.iter_mut().enumerate() {
        let y = b.get(i).copied().unwrap_or(0);
        (*x, carry) = op(*x, y, carry);
    }
    carry
}

/// Schoolbook product `a·b` (length `a.len() + b.len()`).
pub(crate) fn mul(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = vec![0u64; a.len() + b.len()];
    for (i, &ai) in a.iter().enumerate() {
        let mut c = 0;
        for (j, &bj) in b.iter().enumerate() {
            (out[i + j], c) = mac(out[i + j], ai, bj, c);
        }
        out[i + b.len()] = c;
    }
    out
}

/// Low `k` limbs of `a·b`.
pub(crate) fn mul_low(a: &[u64], b: &[u64], k: usize) -> Vec<u64> {
    let mut out = vec![0u64; k];
    for (i, &ai) in a.iter().enumerate().take(k) {
        let mut c = 0;
        for (j, &bj) in b.iter().enumerate().take(k - i) {
            (out[i + j], c) = mac(out[i + j], ai, bj, c);
        }
        if i + b.len() < k {
            out[i + b.len()] = c;
        }
    }
    out
}

/// Inverse of an odd `x` modulo 2^64 (Newton iteration).
fn inv_u64(x: u64) -> u64 {
    let mut inv = x; // correct to 3 bits since x·x ≡ 1 (mod 8)
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(x.wrapping_mul(inv)));
    }
    inv
}

/// Inverse of an odd `x` modulo 2^(64·k), as `k` limbs (for exact division).
pub(crate) fn inv_mod_pow2(x: &[u64], k: usize) -> Vec<u64> {
    // Newton: y ← y·(2 − x·y), doubling the number of correct bits each step.
    let mut y = Zeroizing::new(vec![0u64; k]);
    y[0] = inv_u64(x[0]);
    let mut correct = 64;
    while correct < 64 * k {
        let xy = Zeroizing::new(mul_low(x, &y, k));
        let mut two_minus = Zeroizing::new(vec![0u64; k]);
        two_minus[0] = 2;
        sub_assign(&mut two_minus, &xy);
        y = Zeroizing::new(mul_low(&y, &two_minus, k));
        correct *= 2;
    }
    y.to_vec()
}

/// A Montgomery context for an odd modulus `m` with `s` limbs, R = 2^(64·s).
#[derive(Clone)]
pub(crate) struct Monty {
    /// The modulus.
    m: Vec<u64>,
    /// −m⁻¹ mod 2^64.
    m_inv: u64,
    /// R² mod m.
    r2: Vec<u64>,
    /// R³ mod m (turns a REDC of a wide input into Montgomery form).
    r3: Vec<u64>,
    /// R mod m, i.e. 1 in Montgomery form.
    one: Vec<u64>,
}

impl Drop for Monty {
    fn drop(&mut self) {
        self.m.zeroize();
        self.r2.zeroize();
        self.r3.zeroize();
        self.one.zeroize();
        self.m_inv.zeroize();
    }
}

impl Monty {
    /// Context for the odd modulus with limbs `m` (top limb may not be zero).
    ///
    /// Returns `None` for an even or zero modulus.
    pub(crate) fn new(m: &[u64]) -> Option<Self> {
        let s = limb_len(m);
        if s == 0 || m[0] & 1 == 0 || (s == 1 && m[0] == 1) {
            return None;
        }
        let m = m[..s].to_vec();
        let m_inv = inv_u64(m[0]).wrapping_neg();
        // R² mod m by 128·s modular doublings of 1: no division, no BigUint.
        let mut x = vec![0u64; s];
        x[0] = 1;
        for _ in 0..128 * s {
            let mut carry = 0;
            for limb in x.iter_mut() {
                let top = *limb >> 63;
                *limb = (*limb << 1) | carry;
                carry = top;
            }
            if carry != 0 || cmp(&x, &m) != core::cmp::Ordering::Less {
                sub_assign(&mut x, &m);
            }
        }
        let mut ctx = Monty {
            m,
            m_inv,
            r2: x,
            r3: Vec::new(),
            one: Vec::new(),
        };
        // For a secret modulus, R² mod m reveals m (R² minus it is a multiple of m):
        // every temporary is wiped.
        let mut t = Zeroizing::new(vec![0u64; s + 1]);
        let r2 = Zeroizing::new(ctx.r2.clone());
        let mut r3 = r2.to_vec();
        ctx.mul_assign(&mut r3, &r2, &mut t);
        ctx.r3 = r3;
        let mut one = vec![0u64; s];
        one[0] = 1;
        ctx.mul_assign(&mut one, &r2, &mut t);
        ctx.one = one;
        Some(ctx)
    }

    /// Context for a public modulus given as a `BigUint`.
    pub(crate) fn from_big(m: &BigUint) -> Option<Self> {
        Self::new(&m.to_u64_digits())
    }

    /// Number of limbs of the modulus.
    pub(crate) fn len(&self) -> usize {
        self.m.len()
    }

    /// The modulus limbs.
    pub(crate) fn modulus(&self) -> &[u64] {
        &self.m
    }

    /// Subtract m if `top·R + r ≥ m`.
    #[inline]
    fn final_sub(&self, r: &mut [u64], top: u64) {
        if top != 0 || cmp(r, &self.m) != core::cmp::Ordering::Less {
            sub_assign(r, &self.m);
        }
    }

    /// `acc ← acc·b·R⁻¹ mod m` (CIOS); `t` is scratch of `s + 1` limbs.
    pub(crate) fn mul_assign(&self, acc: &mut [u64], b: &[u64], t: &mut [u64]) {
        let s = self.m.len();
        let m = &self.m[..s];
        let a = &acc[..s];
        let b = &b[..s];
        let t = &mut t[..s + 1];
        t.fill(0);
        for &bi in b {
            let (x, mut c1) = mac(t[0], a[0], bi, 0);
            let u = x.wrapping_mul(self.m_inv);
            let (_, mut c2) = mac(x, u, m[0], 0);
            for j in 1..s {
                let (x, cc1) = mac(t[j], a[j], bi, c1);
                let (y, cc2) = mac(x, u, m[j], c2);
                c1 = cc1;
                c2 = cc2;
                t[j - 1] = y;
            }
            let (x, cc1) = adc(t[s], c1, 0);
            let (y, cc2) = adc(x, c2, 0);
            t[s - 1] = y;
            t[s] = cc1 + cc2;
        }
        let top = t[s];
        acc[..s].copy_from_slice(&t[..s]);
        self.final_sub(&mut acc[..s], top);
    }

    /// REDC of the `2s`-limb value in `w` (must be < m·R); result into `out`.
    fn redc_into(&self, w: &mut [u64], out: &mut [u64]) {
        let s = self.m.len();
        let m = &self.m[..s];
        let w = &mut w[..2 * s];
        let mut top = 0u64;
        for i in 0..s {
            let u = w[i].wrapping_mul(self.m_inv);
            let mut c = 0;
            let row = &mut w[i..i + s];
            for (wj, &mj) in row.iter_mut().zip(m) {
                (*wj, c) = mac(*wj, u, mj, c);
            }
            let (x, c1) = adc(w[i + s], c, top);
            w[i + s] = x;
            top = c1;
        }
        out[..s].copy_from_slice(&w[s..2 * s]);
        self.final_sub(&mut out[..s], top);
    }

    /// `acc ← acc²·R⁻¹ mod m` (full square, then REDC); `w` is scratch of `2s`.
    pub(crate) fn sqr_assign(&self, acc: &mut [u64], w: &mut [u64]) {
        let s = self.m.len();
        let a = &acc[..s];
        let w2 = &mut w[..2 * s];
        w2.fill(0);
        for i in 0..s {
            let ai = a[i];
            let mut c = 0;
            for j in i + 1..s {
                (w2[i + j], c) = mac(w2[i + j], ai, a[j], c);
            }
            w2[i + s] = c;
        }
        // Double the cross products and add the squares of the limbs.
        let mut carry = 0;
        for x in w2.iter_mut() {
            let top = *x >> 63;
            *x = (*x << 1) | carry;
            carry = top;
        }
        let mut c = 0;
        for i in 0..s {
            let sq = u128::from(a[i]) * u128::from(a[i]);
            let (lo, c1) = adc(w2[2 * i], sq as u64, c);
            let (hi, c2) = adc(w2[2 * i + 1], (sq >> 64) as u64, c1);
            w2[2 * i] = lo;
            w2[2 * i + 1] = hi;
            c = c2;
        }
        self.redc_into(w, acc);
    }

    /// Montgomery form `x·R mod m` of any `x` with at most `2s` limbs and `x < m·R`.
    pub(crate) fn to_mont_wide(&self, x: &[u64]) -> Vec<u64> {
        let s = self.m.len();
        let mut w = vec![0u64; 2 * s];
        let l = limb_len(x);
        w[..l].copy_from_slice(&x[..l]);
        let mut out = vec![0u64; s];
        self.redc_into(&mut w, &mut out); // x·R⁻¹
        let mut t = vec![0u64; s + 1];
        self.mul_assign(&mut out, &self.r3, &mut t); // x·R⁻¹·R³·R⁻¹ = x·R
        w.zeroize();
        t.zeroize();
        out
    }

    /// Montgomery form of `x < m` (at most `s` limbs).
    pub(crate) fn to_mont(&self, x: &[u64]) -> Vec<u64> {
        let s = self.m.len();
        let mut out = vec![0u64; s];
        let l = limb_len(x);
        out[..l].copy_from_slice(&x[..l]);
        let mut t = vec![0u64; s + 1];
        self.mul_assign(&mut out, &self.r2, &mut t);
        out
    }

    /// Normal form of a Montgomery-form value.
    pub(crate) fn to_normal(&self, x: &[u64]) -> Vec<u64> {
        let s = self.m.len();
        let mut one = vec![0u64; s];
        one[0] = 1;
        let mut out = x[..s].to_vec();
        let mut t = vec![0u64; s + 1];
        self.mul_assign(&mut out, &one, &mut t);
        t.zeroize();
        out
    }

    /// Product of two Montgomery-form values (Montgomery form).
    pub(crate) fn mul(&self, a: &[u64], b: &[u64]) -> Vec<u64> {
        let mut out = a[..self.m.len()].to_vec();
        let mut t = vec![0u64; self.m.len() + 1];
        self.mul_assign(&mut out, b, &mut t);
        t.zeroize();
        out
    }

    /// `base^exp` for a **public** exponent: left-to-right sliding window.
    /// `base` and the result are in Montgomery form.
    pub(crate) fn pow_public(&self, base: &[u64], exp: &[u64]) -> Vec<u64> {
        let s = self.m.len();
        let bits = bit_len(exp);
        if bits == 0 {
            return self.one.clone();
        }
        let w: usize = match bits {
            0..=24 => 1,
            25..=80 => 3,
            81..=240 => 4,
            241..=672 => 5,
            _ => 6,
        };
        let bit = |i: usize| (exp[i / 64] >> (i % 64)) & 1;
        let mut t = vec![0u64; s + 1];
        let mut wide = vec![0u64; 2 * s];
        // Odd powers base^1, base^3, …, base^(2^w − 1).
        let mut table = Vec::with_capacity(1 << (w - 1));
        table.push(base[..s].to_vec());
        if w > 1 {
            let mut b2 = base[..s].to_vec();
            self.sqr_assign(&mut b2, &mut wide);
            for k in 1..(1 << (w - 1)) {
                let mut next: Vec<u64> = table[k - 1].clone();
                self.mul_assign(&mut next, &b2, &mut t);
                table.push(next);
            }
        }
        let mut acc: Option<Vec<u64>> = None;
        let mut i = bits as isize - 1;
        while i >= 0 {
            let iu = i as usize;
            if bit(iu) == 0 {
                if let Some(a) = acc.as_mut() {
                    self.sqr_assign(a, &mut wide);
                }
                i -= 1;
                continue;
            }
            let mut l = iu.saturating_sub(w - 1);
            while bit(l) == 0 {
                l += 1;
            }
            let mut val = 0usize;
            for k in (l..=iu).rev() {
                val = (val << 1) | bit(k) as usize;
            }
            match acc.as_mut() {
                Some(a) => {
                    for _ in l..=iu {
                        self.sqr_assign(a, &mut wide);
                    }
                    self.mul_assign(a, &table[val >> 1], &mut t);
                }
                None => acc = Some(table[val >> 1].clone()),
            }
            i = l as isize - 1;
        }
        table.zeroize();
        wide.zeroize();
        acc.unwrap_or_else(|| self.one.clone())
    }

    /// `base^exp` for a **secret** exponent: fixed 5-bit window, the same
    /// squarings and multiplications for every exponent of the same length.
    /// `base` and the result are in Montgomery form.
    pub(crate) fn pow_fixed(&self, base: &[u64], exp: &[u64]) -> Vec<u64> {
        const W: usize = 5;
        let s = self.m.len();
        let mut t = vec![0u64; s + 1];
        let mut wide = vec![0u64; 2 * s];
        let mut table: Vec<Vec<u64>> = Vec::with_capacity(1 << W);
        table.push(self.one.clone());
        for k in 1..(1 << W) {
            let mut next: Vec<u64> = table[k - 1].clone();
            self.mul_assign(&mut next, base, &mut t);
            table.push(next);
        }
        let windows = (64 * exp.len()).div_ceil(W);
        let mut acc = self.one.clone();
        for wi in (0..windows).rev() {
            for _ in 0..W {
                self.sqr_assign(&mut acc, &mut wide);
            }
            let mut val = 0usize;
            for k in (0..W).rev() {
                let i = wi * W + k;
                let b = if i < 64 * exp.len() {
                    (exp[i / 64] >> (i % 64)) & 1
                } else {
                    0
                };
                val = (val << 1) | b as usize;
            }
            self.mul_assign(&mut acc, &table[val], &mut t);
        }
        table.zeroize();
        wide.zeroize();
        t.zeroize();
        acc
    }

    /// `x^exp mod m` in normal form for normal-form `x < m·R` (public exponent).
    pub(crate) fn modpow_public(&self, x: &[u64], exp: &[u64]) -> Vec<u64> {
        let b = self.to_mont_wide(x);
        self.to_normal(&self.pow_public(&b, exp))
    }

    /// `x^exp mod m` in normal form for normal-form `x < m·R` (secret exponent).
    pub(crate) fn modpow_secret(&self, x: &[u64], exp: &[u64]) -> Vec<u64> {
        let mut b = self.to_mont_wide(x);
        let mut r = self.pow_fixed(&b, exp);
        let out = self.to_normal(&r);
        b.zeroize();
        r.zeroize();
        out
    }
}

#[cfg(test)]
mod tests;
