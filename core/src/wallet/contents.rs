//! The wallet's plaintext: a versioned binary encoding of its keys and log,
//! only ever held in [`Zeroizing`] buffers and only ever written inside an AEAD.
//!
//! Layout (integers big-endian, `str8`/`bytes32` = u8/u32 length then bytes):
//!
//! ```text
//! version        u8 = 1
//! actor id       str8      checked against the signing key on load
//! signing key    [u8; 32]  P-256 scalar
//! HPKE key       [u8; 32]  P-256 scalar
//! Paillier key   bytes32   `paillier::SecretKey::to_bytes`
//! log length     u32
//! log entries    token bytes32, kind str8, jti str8, iat i64
//! ```
//!
//! A binary format (rather than JSON) keeps every secret byte in one
//! pre-sized buffer: no intermediate strings, no reallocation copies left
//! behind un-zeroized.

use zeroize::Zeroizing;

use super::{LogEntry, Wallet, WalletError};
use crate::envelope::HpkeSecretKey;
use crate::identity::SigningKey;
use crate::paillier;

/// Version of the plaintext layout.
pub(crate) const CONTENTS_VERSION: u8 = 1;

/// Encodes the wallet into a zeroizing buffer allocated once at its final size.
pub(crate) fn encode(wallet: &Wallet) -> Result<Zeroizing<Vec<u8>>, WalletError> {
    let signing = wallet.signing.to_bytes();
    let hpke = wallet.hpke.to_bytes();
    let paillier = wallet.paillier.to_bytes();
    let actor = wallet.actor.as_str().as_bytes();

    let log_len: usize = wallet
        .log
        .iter()
        .map(|e| 4 + e.token.len() + 1 + e.kind.len() + 1 + e.jti.len() + 8)
        .sum();
    let size = 1 + 1 + actor.len() + signing.len() + hpke.len() + 4 + paillier.len() + 4 + log_len;

    let mut out = Zeroizing::new(Vec::with_capacity(size));
    out.push(CONTENTS_VERSION);
    put_str8(&mut out, actor, "actor id")?;
    out.extend_from_slice(signing.as_slice());
    out.extend_from_slice(&hpke);
    put_bytes32(&mut out, &paillier, "Paillier key")?;
    put_u32(&mut out, wallet.log.len(), "log length")?;
    for entry in &wallet.log {
        put_bytes32(&mut out, entry.token.as_bytes(), "log token")?;
        put_str8(&mut out, entry.kind.as_bytes(), "log kind")?;
        put_str8(&mut out, entry.jti.as_bytes(), "log jti")?;
        out.extend_from_slice(&entry.iat.to_be_bytes());
    }
    debug_assert_eq!(out.len(), size, "pre-sized so no copy is reallocated");
    Ok(out)
}

/// Decodes and validates a wallet; every failure is [`WalletError::Corrupted`]
/// or [`WalletError::UnsupportedVersion`], and no reason quotes secret bytes.
pub(crate) fn decode(bytes: &[u8]) -> Result<Wallet, WalletError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let version = r.u8("version")?;
    if version != CONTENTS_VERSION {
        return Err(WalletError::UnsupportedVersion {
            what: "wallet contents",
            expected: CONTENTS_VERSION.into(),
            found: version.into(),
        });
    }
    let actor = r.str8("actor id")?;
    let signing = SigningKey::from_bytes(r.take(32, "signing key")?)
        .map_err(|_| corrupted("the signing key is not a valid P-256 scalar"))?;
    let hpke = HpkeSecretKey::from_bytes(r.take(32, "HPKE key")?)
        .map_err(|_| corrupted("the HPKE key is not a valid P-256 scalar"))?;
    let paillier_len = r.u32("Paillier key length")?;
    let paillier = paillier::SecretKey::from_bytes(r.take(paillier_len, "Paillier key")?)
        .map_err(|_| corrupted("the Paillier key does not parse"))?;
    if signing.actor_id().as_str() != actor {
        return Err(corrupted(
            "the stored actor id does not match the signing key",
        ));
    }

    let count = r.u32("log length")?;
    // Each entry takes at least 14 bytes; refuse counts the input cannot hold
    // before allocating for them.
    if count > r.remaining() / 14 {
        return Err(corrupted("the log length exceeds the data present"));
    }
    let mut log = Vec::with_capacity(count);
    for _ in 0..count {
        let token_len = r.u32("log token length")?;
        let token = utf8(r.take(token_len, "log token")?, "log token")?;
        let kind = r.str8("log kind")?.to_owned();
        let jti = r.str8("log jti")?.to_owned();
        let iat = i64::from_be_bytes(r.array::<8>("log iat")?);
        log.push(LogEntry {
            token,
            kind,
            jti,
            iat,
        });
    }
    if r.remaining() != 0 {
        return Err(corrupted("trailing bytes after the log"));
    }
    Ok(Wallet {
        actor: signing.actor_id(),
        signing,
        hpke,
        paillier,
        log,
    })
}

fn corrupted(reason: &str) -> WalletError {
    WalletError::Corrupted {
        reason: reason.to_owned(),
    }
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, WalletError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| corrupted(&format!("the {what} is not UTF-8")))
}

fn put_str8(out: &mut Vec<u8>, bytes: &[u8], what: &str) -> Result<(), WalletError> {
    let len = u8::try_from(bytes.len())
        .map_err(|_| corrupted(&format!("the {what} is longer than 255 bytes")))?;
    out.push(len);
    out.extend_from_slice(bytes);
    Ok(())
}

fn put_u32(out: &mut Vec<u8>, n: usize, what: &str) -> Result<(), WalletError> {
    let n = u32::try_from(n).map_err(|_| corrupted(&format!("the {what} exceeds 2^32")))?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

fn put_bytes32(out: &mut Vec<u8>, bytes: &[u8], what: &str) -> Result<(), WalletError> {
    put_u32(out, bytes.len(), what)?;
    out.extend_from_slice(bytes);
    Ok(())
}

/// A bounds-checked cursor; running off the end is a `Corrupted` error, never a panic.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], WalletError> {
        if n > self.remaining() {
            return Err(corrupted(&format!(
                "truncated at the {what}: needs {n} bytes, {} left",
                self.remaining()
            )));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], WalletError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8, WalletError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<usize, WalletError> {
        let n = u32::from_be_bytes(self.array::<4>(what)?);
        usize::try_from(n).map_err(|_| corrupted(&format!("the {what} does not fit in memory")))
    }

    fn str8(&mut self, what: &str) -> Result<&'a str, WalletError> {
        let len = usize::from(self.u8(what)?);
        std::str::from_utf8(self.take(len, what)?)
            .map_err(|_| corrupted(&format!("the {what} is not UTF-8")))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use proptest::prelude::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    use super::*;

    /// A wallet with two log entries, encoded once per test binary.
    fn encoded() -> &'static [u8] {
        static ENCODED: OnceLock<Vec<u8>> = OnceLock::new();
        ENCODED.get_or_init(|| {
            let mut rng = ChaCha20Rng::seed_from_u64(1);
            let mut wallet = Wallet::create(2048, &mut rng, &mut |_| {}).unwrap();
            for entry in ["first", "second"] {
                wallet.log.push(LogEntry {
                    token: format!("{entry}.token.sig"),
                    kind: "deny".into(),
                    jti: "AAAAAAAAAAAAAAAAAAAAAA".into(),
                    iat: -5,
                });
            }
            encode(&wallet).unwrap().to_vec()
        })
    }

    #[test]
    fn round_trips() {
        let wallet = decode(encoded()).unwrap();
        assert_eq!(wallet.log.len(), 2);
        assert_eq!(wallet.log[1].token, "second.token.sig");
        assert_eq!(wallet.log[0].iat, -5);
        assert_eq!(encode(&wallet).unwrap().as_slice(), encoded());
    }

    #[test]
    fn wrong_version_and_trailing_bytes_are_refused() {
        let mut bytes = encoded().to_vec();
        bytes[0] = 2;
        assert!(matches!(
            decode(&bytes),
            Err(WalletError::UnsupportedVersion { found: 2, .. })
        ));
        let mut bytes = encoded().to_vec();
        bytes.push(0);
        let err = decode(&bytes).unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupted wallet: trailing bytes after the log"
        );
    }

    #[test]
    fn a_mismatched_actor_id_is_refused() {
        let mut bytes = encoded().to_vec();
        bytes[5] = if bytes[5] == b'0' { b'1' } else { b'0' };
        let err = decode(&bytes).unwrap_err();
        assert!(err.to_string().contains("actor id"), "{err}");
    }

    #[test]
    fn every_truncation_is_corrupted() {
        let bytes = encoded();
        for len in 0..bytes.len() {
            assert!(
                matches!(decode(&bytes[..len]), Err(WalletError::Corrupted { .. })),
                "{len}"
            );
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn single_byte_changes_never_panic(pos in any::<prop::sample::Index>(), xor in 1u8..=255) {
            let mut bytes = encoded().to_vec();
            let i = pos.index(bytes.len());
            bytes[i] ^= xor;
            // Most changes are caught; a few (inside a token) decode to a different log, which
            // is why the contents only ever travel inside the AEAD.
            let _ = decode(&bytes);
        }
    }
}
