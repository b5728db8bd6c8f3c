//! Checks the envelope construction against an independent implementation of
//! RFC 9180 base mode (DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM)
//! built from `p256`, `hkdf` and `aes-gcm`, with the `info` and payload AAD
//! assembled exactly as `envelope`'s module docs describe them.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use carechain_core::envelope::{self, HpkeSecretKey};
use carechain_core::ids::{ActorId, RecordId};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::Sha256;

const KEM_ID: u16 = 0x0010;
const KDF_ID: u16 = 0x0001;
const AEAD_ID: u16 = 0x0002;

fn labeled_extract(suite_id: &[u8], salt: &[u8], label: &[u8], ikm: &[u8]) -> Vec<u8> {
    let labeled = [b"HPKE-v1".as_slice(), suite_id, label, ikm].concat();
    let (prk, _) = Hkdf::<Sha256>::extract(Some(salt), &labeled);
    prk.to_vec()
}

fn labeled_expand(suite_id: &[u8], prk: &[u8], label: &[u8], info: &[u8], len: u16) -> Vec<u8> {
    let labeled = [
        &len.to_be_bytes(),
        b"HPKE-v1".as_slice(),
        suite_id,
        label,
        info,
    ]
    .concat();
    let mut out = vec![0u8; usize::from(len)];
    Hkdf::<Sha256>::from_prk(prk)
        .expect("PRK is a SHA-256 output")
        .expand(&labeled, &mut out)
        .expect("short output");
    out
}

/// RFC 9180 §4.1 Decap + §5.1 KeySchedule (mode_base) + §5.2 Open (seq = 0).
fn rfc9180_open(sk: &[u8], enc: &[u8], info: &[u8], ct: &[u8]) -> Vec<u8> {
    let sk = p256::SecretKey::from_slice(sk).expect("valid scalar");
    let pk_e = p256::PublicKey::from_sec1_bytes(enc).expect("valid point");
    let dh = p256::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk_e.as_affine());
    let pk_r = {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        sk.public_key().to_encoded_point(false).as_bytes().to_vec()
    };
    let kem_suite = [b"KEM".as_slice(), &KEM_ID.to_be_bytes()].concat();
    let eae_prk = labeled_extract(&kem_suite, b"", b"eae_prk", dh.raw_secret_bytes());
    let kem_context = [enc, &pk_r].concat();
    let shared = labeled_expand(&kem_suite, &eae_prk, b"shared_secret", &kem_context, 32);

    let suite = [
        b"HPKE".as_slice(),
        &KEM_ID.to_be_bytes(),
        &KDF_ID.to_be_bytes(),
        &AEAD_ID.to_be_bytes(),
    ]
    .concat();
    let psk_id_hash = labeled_extract(&suite, b"", b"psk_id_hash", b"");
    let info_hash = labeled_extract(&suite, b"", b"info_hash", info);
    let context = [&[0u8][..], &psk_id_hash, &info_hash].concat();
    let secret = labeled_extract(&suite, &shared, b"secret", b"");
    let key = labeled_expand(&suite, &secret, b"key", &context, 32);
    let nonce = labeled_expand(&suite, &secret, b"base_nonce", &context, 12);
    Aes256Gcm::new_from_slice(&key)
        .expect("32-byte key")
        .decrypt(
            aes_gcm::Nonce::from_slice(&nonce),
            Payload { msg: ct, aad: b"" },
        )
        .expect("wrapped key opens")
}

fn documented_binding(domain: &[u8], patient: &ActorId, record: &RecordId) -> Vec<u8> {
    let p = patient.as_str().as_bytes();
    [domain, &[1u8, 42], p, record.as_bytes()].concat()
}

#[test]
fn wrapped_keys_and_payloads_match_an_independent_rfc9180_implementation() {
    let mut rng = ChaCha20Rng::seed_from_u64(9180);
    let reader = HpkeSecretKey::generate(&mut rng);
    let patient: ActorId = format!("cc{}", "ab".repeat(20)).parse().unwrap();
    let record = RecordId::random(&mut rng);
    let payload = b"{\"resourceType\":\"Condition\"}";
    let (sealed, wrapped) = envelope::seal_record(
        payload,
        &patient,
        &record,
        &[&reader.public_key()],
        &mut rng,
    )
    .unwrap();

    let info = documented_binding(b"carechain/envelope/wrap", &patient, &record);
    let data_key = rfc9180_open(
        &reader.to_bytes(),
        wrapped[0].enc.as_bytes(),
        &info,
        wrapped[0].ciphertext.as_bytes(),
    );
    assert_eq!(data_key.len(), 32);

    let aad = documented_binding(b"carechain/envelope/payload", &patient, &record);
    let plain = XChaCha20Poly1305::new_from_slice(&data_key)
        .unwrap()
        .decrypt(
            XNonce::from_slice(sealed.nonce.as_bytes()),
            chacha20poly1305::aead::Payload {
                msg: sealed.ciphertext.as_bytes(),
                aad: &aad,
            },
        )
        .unwrap();
    assert_eq!(plain, payload);
}
