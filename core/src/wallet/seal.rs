//! The sealed container shared by the at-rest wallet file and portable backups.
//!
//! ```text
//! magic        8 bytes   "CCWALLET" (at rest) or "CCBACKUP" (backup)
//! version      u16 BE    1
//! protector    u8        1 = argon2id passphrase, 2 = 32-byte platform key
//! [argon2id:   m_kib u32 BE, t u32 BE, p u32 BE, salt 16 bytes]
//! nonce        24 bytes  random
//! ciphertext   rest      XChaCha20-Poly1305(contents) ‖ 16-byte tag
//! ```
//!
//! Everything before the ciphertext is the AEAD's associated data, so the
//! magic, version, protector and KDF parameters cannot be altered without the
//! open failing. The KDF parameters are stored rather than implied so they can
//! be raised later without breaking existing files. On open they are capped
//! near what this library writes ([`KdfParams::LIMIT`]: the backup's memory,
//! twice its passes) and a header beyond the cap is refused with
//! [`WalletError::KdfTooCostly`] before any argon2 work, so a hostile backup
//! cannot demand gigabytes or minutes of work from the phone. Passphrases are
//! NFKC-normalised first (see `passphrase.rs`). A platform key is used
//! directly as the AEAD key: it is already uniformly random and never used
//! for anything else.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{AeadInPlace as _, KeyInit as _};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::{WalletError, passphrase};

/// Format version of the container.
pub(crate) const CONTAINER_VERSION: u16 = 1;
/// Largest argon2 memory cost accepted (256 MiB, what [`KdfParams::BACKUP`] uses).
pub const MAX_M_KIB: u32 = KdfParams::LIMIT.m_kib;
/// Largest argon2 time cost accepted (twice [`KdfParams::BACKUP`]'s).
pub const MAX_T: u32 = KdfParams::LIMIT.t;
/// Largest argon2 parallelism accepted.
pub const MAX_P: u32 = KdfParams::LIMIT.p;

const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const PROTECTOR_PASSPHRASE: u8 = 1;
const PROTECTOR_KEY: u8 = 2;

/// Argon2id cost parameters, stored in each sealed file's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory cost in KiB.
    pub m_kib: u32,
    /// Number of passes.
    pub t: u32,
    /// Degree of parallelism (lanes).
    pub p: u32,
}

impl KdfParams {
    /// At-rest wallet: 64 MiB, 3 passes, 1 lane (RFC 9106's second
    /// recommendation with one lane; above OWASP's 19 MiB / t=2 floor),
    /// around half a second on a current phone at every unlock.
    pub const AT_REST: KdfParams = KdfParams {
        m_kib: 64 * 1024,
        t: 3,
        p: 1,
    };

    /// Portable backup: 256 MiB, 4 passes, 1 lane. Backups sit in cloud
    /// storage where offline guessing is the threat, and are made rarely.
    pub const BACKUP: KdfParams = KdfParams {
        m_kib: 256 * 1024,
        t: 4,
        p: 1,
    };

    /// The most a file may demand, sealing or opening: the backup's memory
    /// (the most this library writes; more would risk the app being killed on
    /// a phone), twice its passes (room to raise the cost later), four lanes.
    /// At most about twice a backup's unlock time.
    pub const LIMIT: KdfParams = KdfParams {
        m_kib: 256 * 1024,
        t: 8,
        p: 4,
    };

    /// Refuses parameters beyond [`KdfParams::LIMIT`], before any work.
    fn check_limit(self) -> Result<(), WalletError> {
        let max = KdfParams::LIMIT;
        if self.m_kib > max.m_kib || self.t > max.t || self.p > max.p {
            return Err(WalletError::KdfTooCostly { found: self, max });
        }
        Ok(())
    }

    fn to_argon2(self) -> Result<Argon2<'static>, WalletError> {
        self.check_limit()?;
        let params = Params::new(self.m_kib, self.t, self.p, Some(32)).map_err(|err| {
            WalletError::KdfParams {
                reason: format!("m={} KiB, t={}, p={}: {err}", self.m_kib, self.t, self.p),
            }
        })?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Which kind of sealed file: the magic tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Container {
    /// The wallet file on the phone.
    AtRest,
    /// A portable backup.
    Backup,
}

impl Container {
    fn magic(self) -> &'static [u8; 8] {
        match self {
            Container::AtRest => b"CCWALLET",
            Container::Backup => b"CCBACKUP",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Container::AtRest => "a wallet file",
            Container::Backup => "a wallet backup",
        }
    }
}

/// How a container is locked.
pub(crate) enum Lock<'a> {
    /// A passphrase, stretched with argon2id under the given parameters.
    Passphrase(&'a str, KdfParams),
    /// A 32-byte key from the platform keystore.
    Key(&'a [u8; 32]),
}

/// How a container is unlocked.
pub(crate) enum Unlock<'a> {
    /// A passphrase (parameters come from the header).
    Passphrase(&'a str),
    /// A 32-byte key from the platform keystore.
    Key(&'a [u8; 32]),
}

/// The argon2id key for `passphrase` (already normalised, or raw for a legacy file).
fn derive(
    passphrase: &str,
    params: KdfParams,
    salt: &[u8],
) -> Result<Zeroizing<[u8; 32]>, WalletError> {
    let mut key = Zeroizing::new([0u8; 32]);
    params
        .to_argon2()?
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut_slice())
        .map_err(|err| WalletError::KdfParams {
            reason: err.to_string(),
        })?;
    Ok(key)
}

/// Seals `contents` into a container of the given kind.
pub(crate) fn seal(
    container: Container,
    lock: Lock<'_>,
    contents: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, WalletError> {
    let mut header = Vec::with_capacity(8 + 2 + 1 + 12 + SALT_LEN + NONCE_LEN);
    header.extend_from_slice(container.magic());
    header.extend_from_slice(&CONTAINER_VERSION.to_be_bytes());
    let key = match lock {
        Lock::Passphrase(passphrase, params) => {
            let normalized = passphrase::for_new_seal(passphrase)?;
            let mut salt = [0u8; SALT_LEN];
            rng.fill_bytes(&mut salt);
            let key = derive(&normalized, params, &salt)?;
            header.push(PROTECTOR_PASSPHRASE);
            for n in [params.m_kib, params.t, params.p] {
                header.extend_from_slice(&n.to_be_bytes());
            }
            header.extend_from_slice(&salt);
            key
        }
        Lock::Key(key) => {
            header.push(PROTECTOR_KEY);
            Zeroizing::new(*key)
        }
    };
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    header.extend_from_slice(&nonce);

    // Encrypt in place in the output buffer, so no other plaintext copy exists.
    let header_len = header.len();
    let mut out = header;
    out.reserve_exact(contents.len() + TAG_LEN);
    out.extend_from_slice(contents);
    let (aad, body) = out.split_at_mut(header_len);
    let tag = XChaCha20Poly1305::new(key.as_ref().into())
        .encrypt_in_place_detached(XNonce::from_slice(&nonce), aad, body)
        .map_err(|_| WalletError::Corrupted {
            reason: "the wallet is too large to seal".into(),
        })?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens a container of the given kind and returns the decrypted contents.
pub(crate) fn open(
    container: Container,
    unlock: Unlock<'_>,
    bytes: &[u8],
) -> Result<Zeroizing<Vec<u8>>, WalletError> {
    let truncated = |needed: usize| WalletError::Corrupted {
        reason: format!(
            "truncated: expected at least {needed} bytes, found {}",
            bytes.len()
        ),
    };
    let magic = bytes.get(..8).ok_or_else(|| truncated(8))?;
    if magic != container.magic() {
        let other = match container {
            Container::AtRest => Container::Backup,
            Container::Backup => Container::AtRest,
        };
        return Err(if magic == other.magic() {
            WalletError::WrongKind {
                expected: container.name(),
                found: other.name(),
            }
        } else {
            WalletError::NotAWallet
        });
    }
    let version = bytes.get(8..10).ok_or_else(|| truncated(10))?;
    let version = u16::from_be_bytes([version[0], version[1]]);
    if version != CONTAINER_VERSION {
        return Err(WalletError::UnsupportedVersion {
            what: container.name(),
            expected: CONTAINER_VERSION.into(),
            found: version.into(),
        });
    }
    let protector = *bytes.get(10).ok_or_else(|| truncated(11))?;
    let mut pos = 11;
    let mut kdf = None;
    let key = match (protector, unlock) {
        (PROTECTOR_PASSPHRASE, Unlock::Passphrase(passphrase)) => {
            let fixed = bytes
                .get(pos..pos + 12 + SALT_LEN)
                .ok_or_else(|| truncated(pos + 12 + SALT_LEN))?;
            let word =
                |i: usize| u32::from_be_bytes([fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]]);
            let params = KdfParams {
                m_kib: word(0),
                t: word(4),
                p: word(8),
            };
            pos += 12 + SALT_LEN;
            // Refuse a hostile cost and validate the rest of the layout before paying for argon2.
            params.check_limit()?;
            if passphrase.is_empty() {
                return Err(WalletError::EmptyPassphrase);
            }
            if bytes.len() < pos + NONCE_LEN + TAG_LEN {
                return Err(truncated(pos + NONCE_LEN + TAG_LEN));
            }
            let candidates = passphrase::candidates(passphrase);
            let key = derive(&candidates.normalized, params, &fixed[12..])?;
            kdf = Some((candidates.legacy, params, &fixed[12..]));
            key
        }
        (PROTECTOR_KEY, Unlock::Key(key)) => Zeroizing::new(*key),
        (PROTECTOR_PASSPHRASE, Unlock::Key(_)) => {
            return Err(WalletError::WrongKind {
                expected: "a file sealed with a platform key",
                found: "a file sealed with a passphrase",
            });
        }
        (PROTECTOR_KEY, Unlock::Passphrase(_)) => {
            return Err(WalletError::WrongKind {
                expected: "a file sealed with a passphrase",
                found: "a file sealed with a platform key",
            });
        }
        (other, _) => {
            return Err(WalletError::Corrupted {
                reason: format!("unknown protector {other}, expected 1 (passphrase) or 2 (key)"),
            });
        }
    };
    let nonce = bytes
        .get(pos..pos + NONCE_LEN)
        .ok_or_else(|| truncated(pos + NONCE_LEN + TAG_LEN))?;
    pos += NONCE_LEN;
    if bytes.len() < pos + TAG_LEN {
        return Err(truncated(pos + TAG_LEN));
    }
    let (aad, rest) = bytes.split_at(pos);
    let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
    let decrypt = |key: &[u8; 32]| -> Option<Zeroizing<Vec<u8>>> {
        let mut plain = Zeroizing::new(body.to_vec());
        XChaCha20Poly1305::new(key.into())
            .decrypt_in_place_detached(
                XNonce::from_slice(nonce),
                aad,
                plain.as_mut_slice(),
                Tag::from_slice(tag),
            )
            .ok()
            .map(|()| plain)
    };
    if let Some(plain) = decrypt(&key) {
        return Ok(plain);
    }
    // A file sealed before passphrases were normalised: stretch the raw text.
    if let Some((Some(raw), params, salt)) = kdf
        && let Some(plain) = decrypt(&*derive(raw, params, salt)?)
    {
        return Ok(plain);
    }
    Err(WalletError::WrongPassphraseOrKey)
}
