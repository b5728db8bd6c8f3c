//! Byte encoding of secret keys.
//!
//! Format, version 1: `0x01`, then p and q, each as a 2-byte big-endian length
//! followed by that many big-endian bytes (minimal, no leading zero byte).

use zeroize::Zeroizing;

use super::PaillierError;
use super::keys::SecretKey;

/// Version byte of the secret-key encoding.
const VERSION: u8 = 1;
const WHAT: &str = "secret key";

/// Little-endian limbs of a big-endian byte string.
fn limbs_from_be(bytes: &[u8]) -> Zeroizing<Vec<u64>> {
    let mut limbs = Zeroizing::new(vec![0u64; bytes.len().div_ceil(8)]);
    for (i, &b) in bytes.iter().rev().enumerate() {
        limbs[i / 8] |= u64::from(b) << (8 * (i % 8));
    }
    limbs
}

/// Big-endian bytes of little-endian limbs, without leading zeros.
fn be_from_limbs(limbs: &[u64]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(8 * limbs.len()));
    for limb in limbs.iter().rev() {
        out.extend_from_slice(&limb.to_be_bytes());
    }
    let zeros = out.iter().take_while(|&&b| b == 0).count();
    out.drain(..zeros);
    out
}

/// Split one length-prefixed field off the front of `bytes`.
fn field(bytes: &[u8]) -> Result<(&[u8], &[u8]), PaillierError> {
    let [l0, l1, rest @ ..] = bytes else {
        return Err(PaillierError::Length {
            what: WHAT,
            expected: 2,
            found: bytes.len(),
        });
    };
    let len = usize::from(u16::from_be_bytes([*l0, *l1]));
    if rest.len() < len {
        return Err(PaillierError::Length {
            what: WHAT,
            expected: len,
            found: rest.len(),
        });
    }
    let (value, rest) = rest.split_at(len);
    if value.first().is_none_or(|&b| b == 0) {
        return Err(PaillierError::Malformed {
            what: WHAT,
            expected: "minimal big-endian primes",
            found: "an empty field or a leading zero byte",
        });
    }
    Ok((value, rest))
}

impl SecretKey {
    /// Versioned encoding of p and q (length-prefixed, big-endian), wiped on drop.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        // Sized up front: a reallocation would leave an unwiped copy of the primes.
        let len = 1 + [&self.hp.p, &self.hq.p]
            .iter()
            .map(|x| 2 + 8 * x.len())
            .sum::<usize>();
        let mut out = Zeroizing::new(Vec::with_capacity(len));
        out.push(VERSION);
        for prime in [&self.hp.p, &self.hq.p] {
            let b = be_from_limbs(prime);
            out.extend_from_slice(&(b.len() as u16).to_be_bytes());
            out.extend_from_slice(&b);
        }
        out
    }

    /// Parse [`SecretKey::to_bytes`], with the checks of [`SecretKey::from_primes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PaillierError> {
        let Some((&version, rest)) = bytes.split_first() else {
            return Err(PaillierError::Length {
                what: WHAT,
                expected: 1,
                found: 0,
            });
        };
        if version != VERSION {
            return Err(PaillierError::Version {
                what: WHAT,
                expected: VERSION,
                found: version,
            });
        }
        let (p, rest) = field(rest)?;
        let (q, rest) = field(rest)?;
        if !rest.is_empty() {
            return Err(PaillierError::Malformed {
                what: WHAT,
                expected: "nothing after q",
                found: "trailing bytes",
            });
        }
        let (p, q) = (limbs_from_be(p), limbs_from_be(q));
        Self::check_primes(&p, &q)?;
        Self::from_limbs(&p, &q)
    }
}

#[cfg(test)]
mod tests {
    use super::super::monty::big_of;
    use super::*;

    #[test]
    fn limb_byte_round_trip() {
        let limbs = vec![0x0102_0304_0506_0708u64, 0x0a0b];
        let be = be_from_limbs(&limbs);
        assert_eq!(be.as_slice(), &[0x0a, 0x0b, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(limbs_from_be(&be).as_slice(), limbs.as_slice());
        assert_eq!(big_of(&limbs).to_bytes_be(), be.to_vec());
    }
}
