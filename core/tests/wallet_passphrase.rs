//! Passphrase hardening of sealed wallets and backups: NFKC normalisation,
//! files sealed before it, the minimum length of new passphrases and the cap
//! on argon2 costs read from a file.

// Test helpers unwrap freely (clippy's allow-unwrap-in-tests does not reach them).
#![allow(clippy::unwrap_used)]

use argon2::{Algorithm, Argon2, Params, Version};
use carechain_core::wallet::{KdfParams, MIN_PASSPHRASE_CHARS, Wallet, WalletError};
use chacha20poly1305::aead::{AeadInPlace as _, KeyInit as _};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};

const KEY: [u8; 32] = [9u8; 32];
/// "crème brûlée café" with precomposed letters (NFC, what Android sends).
const COMPOSED: &str = "cr\u{e8}me br\u{fb}l\u{e9}e caf\u{e9}";
/// The same text decomposed (NFD, what iOS may send): e + U+0300, u + U+0302, e + U+0301.
const DECOMPOSED: &str = "cre\u{300}me bru\u{302}le\u{301}e cafe\u{301}";
mod common;
use common::{CHEAP, base, rng};

/// A file in the documented container layout (`seal.rs`) whose key was
/// stretched from the raw passphrase bytes, as versions before normalisation
/// wrote it. The plaintext comes from a key-sealed copy of the same wallet.
fn legacy_sealed(magic: &[u8; 8], raw_passphrase: &str, seed: u64) -> Vec<u8> {
    let by_key = base().seal_with_key(&KEY, &mut rng(seed)).unwrap();
    let (aad, rest) = by_key.split_at(8 + 2 + 1 + 24);
    let (body, tag) = rest.split_at(rest.len() - 16);
    let mut contents = body.to_vec();
    XChaCha20Poly1305::new((&KEY).into())
        .decrypt_in_place_detached(
            XNonce::from_slice(&aad[11..]),
            aad,
            &mut contents,
            Tag::from_slice(tag),
        )
        .expect("the key-sealed copy opens");

    let salt = [5u8; 16];
    let nonce = [6u8; 24];
    let mut out = magic.to_vec();
    out.extend_from_slice(&1u16.to_be_bytes());
    out.push(1);
    for n in [CHEAP.m_kib, CHEAP.t, CHEAP.p] {
        out.extend_from_slice(&n.to_be_bytes());
    }
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    let mut key = [0u8; 32];
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(CHEAP.m_kib, CHEAP.t, CHEAP.p, Some(32)).unwrap(),
    )
    .hash_password_into(raw_passphrase.as_bytes(), &salt, &mut key)
    .unwrap();
    let header_len = out.len();
    out.extend_from_slice(&contents);
    let (aad, body) = out.split_at_mut(header_len);
    let tag = XChaCha20Poly1305::new((&key).into())
        .encrypt_in_place_detached(XNonce::from_slice(&nonce), aad, body)
        .unwrap();
    out.extend_from_slice(&tag);
    out
}

#[test]
fn composed_and_decomposed_passphrases_open_the_same_wallet_and_backup() {
    assert_ne!(COMPOSED, DECOMPOSED);
    let wallet = base();
    let sealed = wallet
        .seal_with_passphrase_and_params(COMPOSED, CHEAP, &mut rng(2))
        .unwrap();
    let opened = Wallet::open_with_passphrase(&sealed, DECOMPOSED).unwrap();
    assert_eq!(opened.actor_id(), wallet.actor_id());

    let backup = wallet
        .export_backup_with_params(DECOMPOSED, CHEAP, &mut rng(3))
        .unwrap();
    let restored = Wallet::import_backup(&backup, COMPOSED).unwrap();
    assert_eq!(restored.actor_id(), wallet.actor_id());
    assert_eq!(
        *restored.paillier_key().to_bytes(),
        *wallet.paillier_key().to_bytes()
    );

    // Normalisation does not make different text equal.
    assert!(matches!(
        Wallet::import_backup(&backup, "creme brulee cafe"),
        Err(WalletError::WrongPassphraseOrKey)
    ));
}

#[test]
fn files_sealed_before_normalisation_still_open_with_the_raw_passphrase() {
    let file = legacy_sealed(b"CCWALLET", DECOMPOSED, 4);
    let opened = Wallet::open_with_passphrase(&file, DECOMPOSED).unwrap();
    assert_eq!(opened.actor_id(), base().actor_id());
    // Re-sealing migrates it: afterwards either form opens it.
    let resealed = opened
        .seal_with_passphrase_and_params(DECOMPOSED, CHEAP, &mut rng(5))
        .unwrap();
    assert!(Wallet::open_with_passphrase(&resealed, COMPOSED).is_ok());

    let backup = legacy_sealed(b"CCBACKUP", DECOMPOSED, 6);
    assert!(Wallet::import_backup(&backup, DECOMPOSED).is_ok());
    assert!(matches!(
        Wallet::import_backup(&backup, "another passphrase"),
        Err(WalletError::WrongPassphraseOrKey)
    ));

    // A short passphrase from before the length rule still opens its file.
    let short = legacy_sealed(b"CCWALLET", "hunter2", 7);
    assert!(Wallet::open_with_passphrase(&short, "hunter2").is_ok());
}

#[test]
fn new_wallets_and_backups_refuse_short_passphrases() {
    assert_eq!(MIN_PASSPHRASE_CHARS, 12);
    let wallet = base();
    let err = wallet
        .seal_with_passphrase_and_params("hunter2", CHEAP, &mut rng(8))
        .unwrap_err();
    assert!(
        matches!(
            err,
            WalletError::WeakPassphrase {
                min_chars: 12,
                found_chars: 7
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "the passphrase must have at least 12 characters, found 7"
    );
    assert!(matches!(
        wallet.export_backup_with_params("eleven char", CHEAP, &mut rng(9)),
        Err(WalletError::WeakPassphrase {
            found_chars: 11,
            ..
        })
    ));
    assert!(
        wallet
            .export_backup_with_params("twelve chars", CHEAP, &mut rng(9))
            .is_ok()
    );
}

/// `file` with its argon2 parameters (bytes 11..23) replaced.
fn with_params(file: &[u8], m_kib: u32, t: u32, p: u32) -> Vec<u8> {
    let mut v = file.to_vec();
    v[11..15].copy_from_slice(&m_kib.to_be_bytes());
    v[15..19].copy_from_slice(&t.to_be_bytes());
    v[19..23].copy_from_slice(&p.to_be_bytes());
    v
}

#[test]
fn a_hostile_backup_demanding_1_gib_and_64_passes_is_refused_before_any_work() {
    let backup = base()
        .export_backup_with_params(COMPOSED, CHEAP, &mut rng(10))
        .unwrap();
    let hostile = with_params(&backup, 1024 * 1024, 64, 1);
    let err = Wallet::import_backup(&hostile, COMPOSED).unwrap_err();
    assert!(
        matches!(
            err,
            WalletError::KdfTooCostly {
                found: KdfParams {
                    m_kib: 1_048_576,
                    t: 64,
                    p: 1
                },
                max: KdfParams::LIMIT,
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "the file demands argon2id m=1048576 KiB, t=64, p=1; \
         at most m=262144 KiB, t=8, p=4 is accepted"
    );
    // Each bound on its own, on both kinds of file.
    for (m, t, p) in [(256 * 1024 + 1, 1, 1), (64, 9, 1), (64, 1, 5)] {
        assert!(matches!(
            Wallet::import_backup(&with_params(&backup, m, t, p), COMPOSED),
            Err(WalletError::KdfTooCostly { .. })
        ));
    }
    let file = base()
        .seal_with_passphrase_and_params(COMPOSED, CHEAP, &mut rng(11))
        .unwrap();
    assert!(matches!(
        Wallet::open_with_passphrase(&with_params(&file, 64, 1000, 1), COMPOSED),
        Err(WalletError::KdfTooCostly { .. })
    ));
    // The refusal needs no passphrase check: it comes before argon2 runs.
    assert!(matches!(
        Wallet::import_backup(&hostile, "any other passphrase"),
        Err(WalletError::KdfTooCostly { .. })
    ));
}

#[test]
fn what_the_library_writes_is_within_the_limit_and_more_is_not_written() {
    for params in [KdfParams::AT_REST, KdfParams::BACKUP] {
        assert!(params.m_kib <= KdfParams::LIMIT.m_kib);
        assert!(params.t <= KdfParams::LIMIT.t);
        assert!(params.p <= KdfParams::LIMIT.p);
    }
    let too_costly = KdfParams {
        m_kib: 64,
        t: 9,
        p: 1,
    };
    assert!(matches!(
        base().export_backup_with_params(COMPOSED, too_costly, &mut rng(12)),
        Err(WalletError::KdfTooCostly { .. })
    ));
}
