//! Integration tests for `carechain_core::wallet`.

use std::time::Instant;

use carechain_core::envelope;
use carechain_core::ids::{RecordId, RequestId};
use carechain_core::statement::{Action, Deny, Revoke, Statement, VerifyPolicy};
use carechain_core::wallet::{KdfParams, Wallet, WalletError};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;

const AUD: &str = "carechain:test-ledger";
const NOW: i64 = 1_790_000_000;
const KEY: [u8; 32] = [7u8; 32];
const PASS: &str = "correct horse battery staple";
mod common;
use common::{CHEAP, base, rng};

/// An owned copy of the base wallet (wallets are not `Clone`; a seal round trip is).
fn fresh() -> Wallet {
    let sealed = base()
        .seal_with_key(&KEY, &mut rng(2))
        .expect("sealing succeeds");
    Wallet::open_with_key(&sealed, &KEY).expect("opening succeeds")
}

fn deny(rng: &mut ChaCha20Rng) -> Action {
    Action::Deny(Deny {
        request: RequestId::random(rng),
    })
}

fn revoke(rng: &mut ChaCha20Rng) -> Action {
    Action::Revoke(Revoke {
        request: RequestId::random(rng),
    })
}

fn policy() -> VerifyPolicy<'static> {
    VerifyPolicy {
        audience: AUD,
        now: NOW + 10,
        max_skew_secs: 300,
        max_lifetime_secs: 3600,
    }
}

fn signed_three() -> Wallet {
    let mut wallet = fresh();
    let mut rng = rng(3);
    for (i, action) in [deny(&mut rng), revoke(&mut rng), deny(&mut rng)]
        .into_iter()
        .enumerate()
    {
        wallet
            .sign(AUD, action, NOW + i as i64, 600, &mut rng)
            .expect("signing succeeds");
    }
    wallet
}

/// `wallet` sealed at rest under [`PASS`] with the cheap test parameters.
fn sealed_cheaply(wallet: &Wallet, seed: u64) -> Vec<u8> {
    wallet
        .seal_with_passphrase_and_params(PASS, CHEAP, &mut rng(seed))
        .expect("sealing succeeds")
}

/// A backup of `wallet` under [`PASS`] with the cheap test parameters.
fn backed_up_cheaply(wallet: &Wallet, seed: u64) -> Vec<u8> {
    wallet
        .export_backup_with_params(PASS, CHEAP, &mut rng(seed))
        .expect("exporting succeeds")
}

fn assert_same_wallet(a: &Wallet, b: &Wallet) {
    assert_eq!(a.actor_id(), b.actor_id());
    assert_eq!(
        *a.signing_key().to_bytes(),
        *b.signing_key().to_bytes(),
        "signing key"
    );
    assert_eq!(*a.hpke_key().to_bytes(), *b.hpke_key().to_bytes());
    assert_eq!(*a.paillier_key().to_bytes(), *b.paillier_key().to_bytes());
    assert_eq!(a.log(), b.log());
}

#[test]
fn create_derives_the_actor_id_from_the_signing_key() {
    let w = base();
    assert_eq!(w.actor_id(), w.signing_key().actor_id());
    assert!(w.log().is_empty());
    let mut calls = 0;
    let mut progress = |_| calls += 1;
    let other = Wallet::create(2048, &mut rng(50), &mut progress).unwrap();
    assert_ne!(other.actor_id(), w.actor_id());
}

#[test]
fn the_log_records_every_signed_statement_in_order() {
    let wallet = signed_three();
    let log = wallet.log();
    assert_eq!(log.len(), 3);
    let kinds: Vec<_> = log.iter().map(|e| e.kind.as_str()).collect();
    let expected: Vec<_> = {
        let mut rng = rng(0);
        [deny(&mut rng), revoke(&mut rng), deny(&mut rng)]
            .iter()
            .map(Action::kind)
            .collect()
    };
    assert_eq!(kinds, expected);
    for (i, entry) in log.iter().enumerate() {
        let st = Statement::verify(
            &entry.token,
            &wallet.signing_key().verifying_key(),
            &policy(),
        )
        .unwrap();
        assert_eq!(st.iss, wallet.actor_id());
        assert_eq!(st.jti, entry.jti);
        assert_eq!(st.iat, entry.iat);
        assert_eq!(st.iat, NOW + i as i64);
        assert_eq!(st.act.kind(), entry.kind);
    }
}

#[test]
fn sign_returns_the_logged_token() {
    let mut wallet = fresh();
    let mut rng = rng(4);
    let token = wallet.sign(AUD, deny(&mut rng), NOW, 60, &mut rng).unwrap();
    assert_eq!(wallet.log().last().unwrap().token, token);
}

#[test]
fn key_sealed_wallet_round_trips_with_its_log() {
    let wallet = signed_three();
    let sealed = wallet.seal_with_key(&KEY, &mut rng(5)).unwrap();
    assert_eq!(&sealed[..8], b"CCWALLET");
    let opened = Wallet::open_with_key(&sealed, &KEY).unwrap();
    assert_same_wallet(&wallet, &opened);
}

#[test]
fn an_opened_wallet_signs_statements_that_verify_under_the_same_actor_id() {
    let sealed = base().seal_with_key(&KEY, &mut rng(6)).unwrap();
    let mut opened = Wallet::open_with_key(&sealed, &KEY).unwrap();
    let mut rng = rng(7);
    let token = opened
        .sign(AUD, deny(&mut rng), NOW, 600, &mut rng)
        .unwrap();
    // Verify with the *original* wallet's public key.
    let st = Statement::verify(&token, &base().signing_key().verifying_key(), &policy()).unwrap();
    assert_eq!(st.iss, base().actor_id());
    // And the HPKE key still opens envelopes wrapped for the original.
    let patient = base().actor_id();
    let record = RecordId::random(&mut rng);
    let (sealed, wrapped) = envelope::seal_record(
        b"payload",
        &patient,
        &record,
        &[&base().hpke_key().public_key()],
        &mut rng,
    )
    .unwrap();
    let key = wrapped[0]
        .unwrap(opened.hpke_key(), &patient, &record)
        .unwrap();
    assert_eq!(
        envelope::open(&sealed, &key, &patient, &record)
            .unwrap()
            .as_slice(),
        b"payload"
    );
}

#[test]
fn passphrase_sealed_wallet_round_trips_and_refuses_wrong_passphrases() {
    let wallet = signed_three();
    let sealed = sealed_cheaply(&wallet, 8);
    let opened = Wallet::open_with_passphrase(&sealed, PASS).unwrap();
    assert_same_wallet(&wallet, &opened);
    assert!(matches!(
        Wallet::open_with_passphrase(&sealed, "correct horse battery stapler"),
        Err(WalletError::WrongPassphraseOrKey)
    ));
    assert!(matches!(
        Wallet::open_with_passphrase(&sealed, ""),
        Err(WalletError::EmptyPassphrase)
    ));
    assert!(matches!(
        wallet.seal_with_passphrase_and_params("", CHEAP, &mut rng(8)),
        Err(WalletError::EmptyPassphrase)
    ));
}

#[test]
fn sealing_twice_gives_different_bytes() {
    let a = base().seal_with_key(&KEY, &mut rng(9)).unwrap();
    let b = base().seal_with_key(&KEY, &mut rng(10)).unwrap();
    assert_ne!(a, b);
}

#[test]
fn wrong_key_is_refused() {
    let sealed = base().seal_with_key(&KEY, &mut rng(11)).unwrap();
    let mut other = KEY;
    other[31] ^= 1;
    let err = Wallet::open_with_key(&sealed, &other).unwrap_err();
    assert!(matches!(err, WalletError::WrongPassphraseOrKey));
    assert_eq!(
        err.to_string(),
        "wrong passphrase or key, or the wallet file was modified"
    );
}

#[test]
fn real_at_rest_parameters_round_trip() {
    let start = Instant::now();
    let sealed = base().seal_with_passphrase(PASS, &mut rng(12)).unwrap();
    let opened = Wallet::open_with_passphrase(&sealed, PASS).unwrap();
    assert_same_wallet(base(), &opened);
    // The parameters are in the header, right after magic, version and protector.
    assert_eq!(&sealed[11..15], &(64u32 * 1024).to_be_bytes());
    assert_eq!(&sealed[15..19], &3u32.to_be_bytes());
    assert_eq!(&sealed[19..23], &1u32.to_be_bytes());
    eprintln!("argon2id 64 MiB t=3, twice: {:?}", start.elapsed());
}

#[test]
fn backups_round_trip_and_are_not_wallet_files() {
    let wallet = signed_three();
    let backup = backed_up_cheaply(&wallet, 13);
    assert_eq!(&backup[..8], b"CCBACKUP");
    let restored = Wallet::import_backup(&backup, PASS).unwrap();
    assert_same_wallet(&wallet, &restored);
    assert!(matches!(
        Wallet::import_backup(&backup, "nope"),
        Err(WalletError::WrongPassphraseOrKey)
    ));

    let err = Wallet::open_with_passphrase(&backup, PASS).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected a wallet file, found a wallet backup"
    );
    let file = sealed_cheaply(&wallet, 14);
    assert!(matches!(
        Wallet::import_backup(&file, PASS),
        Err(WalletError::WrongKind { .. })
    ));
    // Swapping the magic does not help: the header is authenticated.
    let mut forged = file.clone();
    forged[..8].copy_from_slice(b"CCBACKUP");
    assert!(matches!(
        Wallet::import_backup(&forged, PASS),
        Err(WalletError::WrongPassphraseOrKey)
    ));
}

#[test]
fn backup_defaults_are_stronger_than_at_rest() {
    let (r, b) = (KdfParams::AT_REST, KdfParams::BACKUP);
    assert!(b.m_kib > r.m_kib && b.t >= r.t);
    // OWASP floor: m = 19 MiB, t = 2, p = 1.
    assert!(r.m_kib >= 19 * 1024 && r.t >= 2 && r.p >= 1);
}

#[test]
fn the_unlock_method_must_match_the_file() {
    let by_key = base().seal_with_key(&KEY, &mut rng(15)).unwrap();
    let err = Wallet::open_with_passphrase(&by_key, PASS).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected a file sealed with a passphrase, found a file sealed with a platform key"
    );
    let by_pass = sealed_cheaply(base(), 16);
    assert!(matches!(
        Wallet::open_with_key(&by_pass, &KEY),
        Err(WalletError::WrongKind { .. })
    ));
}

#[test]
fn header_problems_get_clear_errors() {
    let sealed = sealed_cheaply(base(), 17);

    let mut v = sealed.clone();
    v[9] = 2;
    let err = Wallet::open_with_passphrase(&v, PASS).unwrap_err();
    assert!(matches!(
        err,
        WalletError::UnsupportedVersion {
            expected: 1,
            found: 2,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "a wallet file: expected format version 1, found 2"
    );

    // Lowered or raised costs are authenticated: a changed header does not open.
    let mut v = sealed.clone();
    v[14] ^= 0x40; // m = 0 KiB, which argon2 refuses
    assert!(Wallet::open_with_passphrase(&v, PASS).is_err());
    let mut v = sealed.clone();
    v[18] = 2; // t = 2
    assert!(matches!(
        Wallet::open_with_passphrase(&v, PASS),
        Err(WalletError::WrongPassphraseOrKey)
    ));
    // A hostile file cannot make us allocate gigabytes.
    let mut v = sealed.clone();
    v[11..15].copy_from_slice(&u32::MAX.to_be_bytes());
    let err = Wallet::open_with_passphrase(&v, PASS).unwrap_err();
    assert!(matches!(err, WalletError::KdfTooCostly { .. }), "{err}");

    let err =
        Wallet::open_with_passphrase(b"hello, world! this is not a wallet", PASS).unwrap_err();
    assert!(matches!(err, WalletError::NotAWallet));
    let mut v = sealed.clone();
    v[10] = 9;
    assert!(matches!(
        Wallet::open_with_passphrase(&v, PASS),
        Err(WalletError::Corrupted { .. })
    ));
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let by_key = base().seal_with_key(&KEY, &mut rng(18)).unwrap();
    for len in 0..by_key.len() {
        let err = Wallet::open_with_key(&by_key[..len], &KEY).unwrap_err();
        assert!(
            matches!(
                err,
                WalletError::Corrupted { .. } | WalletError::WrongPassphraseOrKey
            ),
            "{len}: {err}"
        );
    }
    let err = Wallet::open_with_key(&by_key[..20], &KEY).unwrap_err();
    assert!(
        err.to_string().starts_with("corrupted wallet: truncated"),
        "{err}"
    );
    let by_pass = sealed_cheaply(base(), 19);
    for len in (0..90).chain([by_pass.len() - 1]) {
        assert!(Wallet::open_with_passphrase(&by_pass[..len], PASS).is_err());
    }
}

#[test]
fn debug_shows_only_the_actor_id() {
    let w = signed_three();
    let debug = format!("{w:?}");
    assert_eq!(
        debug,
        format!("Wallet {{ actor_id: {:?}, .. }}", w.actor_id())
    );
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    for secret in [
        hex(w.signing_key().to_bytes().as_slice()),
        hex(&w.hpke_key().to_bytes()),
    ] {
        for text in [
            format!("{w:?}"),
            format!("{:?}", w.signing_key()),
            format!("{:?}", w.hpke_key()),
            format!("{:?}", w.paillier_key()),
        ] {
            assert!(!text.contains(&secret));
        }
    }
    assert!(!format!("{:?}", w.paillier_key()).contains(&hex(&w.paillier_key().to_bytes())));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_bytes_never_open_or_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(Wallet::open_with_key(&bytes, &KEY).is_err());
        prop_assert!(Wallet::open_with_passphrase(&bytes, PASS).is_err());
        prop_assert!(Wallet::import_backup(&bytes, PASS).is_err());
    }

    #[test]
    fn arbitrary_bodies_after_a_valid_magic_never_open(
        rest in proptest::collection::vec(any::<u8>(), 0..256),
        protector in 0u8..4,
    ) {
        let mut bytes = b"CCWALLET\x00\x01".to_vec();
        bytes.push(protector);
        bytes.extend_from_slice(&rest);
        prop_assert!(Wallet::open_with_key(&bytes, &KEY).is_err());
    }

    #[test]
    fn a_single_byte_change_never_opens(pos in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let sealed = base().seal_with_key(&KEY, &mut rng(20)).unwrap();
        let mut bytes = sealed.clone();
        bytes[pos.index(sealed.len())] ^= xor;
        prop_assert!(Wallet::open_with_key(&bytes, &KEY).is_err());
    }

    #[test]
    fn a_single_byte_change_in_a_backup_never_opens(pos in 0usize..120, xor in 1u8..=255) {
        let backup = backed_up_cheaply(base(), 21);
        let mut bytes = backup.clone();
        // Skip the argon2 parameters (bytes 11..23): changing them is covered in
        // `header_problems_get_clear_errors`, and fuzzing them could ask for 1 GiB.
        let pos = if (11..23).contains(&pos) { pos + 12 } else { pos } % backup.len();
        bytes[pos] ^= xor;
        prop_assert!(Wallet::import_backup(&bytes, PASS).is_err());
    }
}
