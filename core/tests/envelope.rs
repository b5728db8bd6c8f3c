//! Integration tests for `carechain_core::envelope`.

use carechain_core::envelope::{
    self, DataKey, EnvelopeError, HpkePublicKey, HpkeSecretKey, SealedPayload, WrappedKey,
};
use carechain_core::ids::{ActorId, B64, RecordId};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const PAYLOAD: &[u8] = br#"{"resourceType":"Observation","code":"E11.9"}"#;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn patient(n: u8) -> ActorId {
    format!("cc{}", hex_byte(n).repeat(20))
        .parse()
        .expect("well-formed actor id")
}

fn hex_byte(n: u8) -> String {
    format!("{n:02x}")
}

fn record(n: u8) -> RecordId {
    RecordId(uuid::Uuid::from_bytes([n; 16]))
}

struct Fixture {
    reader: HpkeSecretKey,
    sealed: SealedPayload,
    wrapped: WrappedKey,
}

fn fixture() -> Fixture {
    let mut rng = rng(1);
    let reader = HpkeSecretKey::generate(&mut rng);
    let (sealed, mut wrapped) = envelope::seal_record(
        PAYLOAD,
        &patient(1),
        &record(1),
        &[&reader.public_key()],
        &mut rng,
    )
    .expect("sealing succeeds");
    Fixture {
        reader,
        sealed,
        wrapped: wrapped.remove(0),
    }
}

impl Fixture {
    /// Unwraps (as the reader, for patient 1's record 1) a copy of the wrapped
    /// key after `alter` changed it.
    fn unwrap_altered(
        &self,
        alter: impl FnOnce(&mut WrappedKey),
    ) -> Result<DataKey, EnvelopeError> {
        let mut w = self.wrapped.clone();
        alter(&mut w);
        w.unwrap(&self.reader, &patient(1), &record(1))
    }

    /// Opens, with the correctly unwrapped data key, a copy of the sealed
    /// payload after `alter` changed it.
    fn open_altered(
        &self,
        alter: impl FnOnce(&mut SealedPayload),
    ) -> Result<Vec<u8>, EnvelopeError> {
        let key = self
            .wrapped
            .unwrap(&self.reader, &patient(1), &record(1))
            .expect("the unaltered key unwraps");
        let mut s = self.sealed.clone();
        alter(&mut s);
        envelope::open(&s, &key, &patient(1), &record(1)).map(|p| p.to_vec())
    }
}

fn flip(bytes: &B64, bit: usize) -> B64 {
    let mut out = bytes.0.clone();
    let bit = bit % (out.len() * 8);
    out[bit / 8] ^= 1 << (bit % 8);
    B64(out)
}

#[test]
fn round_trip_for_every_reader_in_order() {
    let mut rng = rng(2);
    let readers: Vec<_> = (0..3).map(|_| HpkeSecretKey::generate(&mut rng)).collect();
    let publics: Vec<_> = readers.iter().map(HpkeSecretKey::public_key).collect();
    let refs: Vec<_> = publics.iter().collect();
    let (sealed, wrapped) =
        envelope::seal_record(PAYLOAD, &patient(1), &record(1), &refs, &mut rng).unwrap();
    assert_eq!(wrapped.len(), 3);
    for (reader, wrapped) in readers.iter().zip(&wrapped) {
        let key = wrapped.unwrap(reader, &patient(1), &record(1)).unwrap();
        let plain = envelope::open(&sealed, &key, &patient(1), &record(1)).unwrap();
        assert_eq!(plain.as_slice(), PAYLOAD);
    }
    assert_eq!(wrapped[0].enc.0.len(), envelope::PUBLIC_KEY_LEN);
    assert_eq!(
        wrapped[0].ciphertext.0.len(),
        envelope::WRAPPED_CIPHERTEXT_LEN
    );
    assert_eq!(sealed.nonce.0.len(), envelope::NONCE_LEN);
    assert_eq!(sealed.ciphertext.0.len(), PAYLOAD.len() + envelope::TAG_LEN);
}

#[test]
fn seal_and_open_with_an_explicit_key_and_an_empty_payload() {
    let mut rng = rng(3);
    let key = DataKey::generate(&mut rng);
    let sealed = envelope::seal(b"", &key, &patient(1), &record(1), &mut rng);
    let plain = envelope::open(&sealed, &key, &patient(1), &record(1)).unwrap();
    assert!(plain.is_empty());
    let other = DataKey::generate(&mut rng);
    assert_ne!(key, other);
    assert_eq!(
        envelope::open(&sealed, &other, &patient(1), &record(1)),
        Err(EnvelopeError::Open)
    );
}

#[test]
fn fresh_nonces_and_keys_each_time() {
    let mut rng = rng(4);
    let key = DataKey::generate(&mut rng);
    let a = envelope::seal(PAYLOAD, &key, &patient(1), &record(1), &mut rng);
    let b = envelope::seal(PAYLOAD, &key, &patient(1), &record(1), &mut rng);
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.ciphertext, b.ciphertext);
}

#[test]
fn unwrap_fails_for_the_wrong_recipient() {
    let f = fixture();
    let stranger = HpkeSecretKey::generate(&mut rng(99));
    let err = f
        .wrapped
        .unwrap(&stranger, &patient(1), &record(1))
        .unwrap_err();
    assert_eq!(err, EnvelopeError::Unwrap);
    assert_eq!(
        err.to_string(),
        "could not unwrap the data key: wrong key, wrong record, or corrupted data"
    );
}

#[test]
fn unwrap_and_open_fail_when_patient_or_record_differ() {
    let f = fixture();
    for (p, r) in [(patient(2), record(1)), (patient(1), record(2))] {
        assert_eq!(
            f.wrapped.unwrap(&f.reader, &p, &r).unwrap_err(),
            EnvelopeError::Unwrap
        );
        let key = f
            .wrapped
            .unwrap(&f.reader, &patient(1), &record(1))
            .unwrap();
        assert_eq!(
            envelope::open(&f.sealed, &key, &p, &r).unwrap_err(),
            EnvelopeError::Open
        );
    }
}

#[test]
fn rewrap_gives_the_new_reader_the_same_plaintext() {
    let f = fixture();
    let mut rng = rng(5);
    let grantee = HpkeSecretKey::generate(&mut rng);
    let rewrapped = f
        .wrapped
        .rewrap_for(
            &f.reader,
            &grantee.public_key(),
            &patient(1),
            &record(1),
            &mut rng,
        )
        .unwrap();
    assert_ne!(rewrapped, f.wrapped);
    let key = rewrapped.unwrap(&grantee, &patient(1), &record(1)).unwrap();
    let original = f
        .wrapped
        .unwrap(&f.reader, &patient(1), &record(1))
        .unwrap();
    assert_eq!(key, original);
    let plain = envelope::open(&f.sealed, &key, &patient(1), &record(1)).unwrap();
    assert_eq!(plain.as_slice(), PAYLOAD);
    // The old reader cannot open the grantee's copy, and a non-holder cannot rewrap.
    assert_eq!(
        rewrapped.unwrap(&f.reader, &patient(1), &record(1)),
        Err(EnvelopeError::Unwrap)
    );
    assert_eq!(
        f.wrapped.rewrap_for(
            &grantee,
            &grantee.public_key(),
            &patient(1),
            &record(1),
            &mut rng
        ),
        Err(EnvelopeError::Unwrap)
    );
}

#[test]
fn wrapped_key_cannot_be_moved_between_records_even_with_rewrap() {
    let f = fixture();
    let mut rng = rng(6);
    let grantee = HpkeSecretKey::generate(&mut rng);
    assert!(
        f.wrapped
            .rewrap_for(
                &f.reader,
                &grantee.public_key(),
                &patient(1),
                &record(7),
                &mut rng
            )
            .is_err()
    );
}

#[test]
fn serde_round_trips_as_base64url_json() {
    let f = fixture();
    let json = serde_json::to_value(&f.wrapped).unwrap();
    assert!(json["enc"].as_str().unwrap().len() > 80);
    let back: WrappedKey = serde_json::from_value(json).unwrap();
    assert_eq!(back, f.wrapped);
    let sealed: SealedPayload =
        serde_json::from_str(&serde_json::to_string(&f.sealed).unwrap()).unwrap();
    assert_eq!(sealed, f.sealed);
    let pk = f.reader.public_key();
    let json = serde_json::to_string(&pk).unwrap();
    assert_eq!(json, format!("\"{}\"", B64(pk.to_bytes()).encode()));
    assert_eq!(serde_json::from_str::<HpkePublicKey>(&json).unwrap(), pk);
}

#[test]
fn public_keys_are_validated_with_precise_errors() {
    let pk = HpkeSecretKey::generate(&mut rng(7)).public_key().to_bytes();
    assert_eq!(pk.len(), 65);
    assert_eq!(pk[0], 0x04);
    assert_eq!(
        HpkePublicKey::from_bytes(&pk[..33]),
        Err(EnvelopeError::InvalidLength {
            what: "HPKE public key",
            expected: 65,
            found: 33
        })
    );
    let mut compressed_tag = pk.clone();
    compressed_tag[0] = 0x02;
    assert!(matches!(
        HpkePublicKey::from_bytes(&compressed_tag),
        Err(EnvelopeError::InvalidPoint { reason, .. }) if reason.contains("0x04")
    ));
    let mut off_curve = pk.clone();
    off_curve[64] ^= 1;
    let err = HpkePublicKey::from_bytes(&off_curve).unwrap_err();
    assert!(matches!(err, EnvelopeError::InvalidPoint { .. }));
    assert!(err.to_string().contains("not on the curve"), "{err}");
    let mut infinity = vec![0u8; 65];
    infinity[0] = 0x04;
    assert!(HpkePublicKey::from_bytes(&infinity).is_err());
    // Deserialization validates too.
    let bad = serde_json::to_string(&B64(off_curve)).unwrap();
    let err = serde_json::from_str::<HpkePublicKey>(&bad).unwrap_err();
    assert!(err.to_string().contains("not on the curve"), "{err}");
    assert!(serde_json::from_str::<HpkePublicKey>("\"AAAA\"").is_err());
}

#[test]
fn secret_keys_round_trip_and_are_validated() {
    let sk = HpkeSecretKey::generate(&mut rng(8));
    let bytes = sk.to_bytes();
    assert_eq!(bytes.len(), 32);
    let back = HpkeSecretKey::from_bytes(&bytes).unwrap();
    assert_eq!(back.public_key(), sk.public_key());
    assert_eq!(
        HpkeSecretKey::from_bytes(&bytes[..31]).unwrap_err(),
        EnvelopeError::InvalidLength {
            what: "HPKE secret key",
            expected: 32,
            found: 31
        }
    );
    assert_eq!(
        HpkeSecretKey::from_bytes(&[0u8; 32]).unwrap_err(),
        EnvelopeError::InvalidSecretKey
    );
    assert_eq!(
        HpkeSecretKey::from_bytes(&[0xff; 32]).unwrap_err(),
        EnvelopeError::InvalidSecretKey
    );
}

#[test]
fn malformed_lengths_are_reported_precisely() {
    let f = fixture();
    assert_eq!(
        f.unwrap_altered(|w| {
            w.enc.0.pop();
        }),
        Err(EnvelopeError::InvalidLength {
            what: "HPKE encapsulated key",
            expected: 65,
            found: 64
        })
    );
    assert_eq!(
        f.unwrap_altered(|w| w.ciphertext.0.push(0)),
        Err(EnvelopeError::InvalidLength {
            what: "wrapped key ciphertext",
            expected: 48,
            found: 49
        })
    );
    assert_eq!(
        f.open_altered(|s| s.nonce.0.truncate(12)),
        Err(EnvelopeError::InvalidLength {
            what: "payload nonce",
            expected: 24,
            found: 12
        })
    );
    let err = f.open_altered(|s| s.ciphertext.0.truncate(15)).unwrap_err();
    assert_eq!(
        err,
        EnvelopeError::TooShort {
            what: "payload ciphertext",
            min: 16,
            found: 15
        }
    );
    assert_eq!(
        err.to_string(),
        "payload ciphertext: expected at least 16 bytes, found 15"
    );
}

#[test]
fn debug_of_secrets_is_redacted() {
    let mut rng = rng(9);
    let sk = HpkeSecretKey::generate(&mut rng);
    let dk = DataKey::generate(&mut rng);
    assert_eq!(format!("{sk:?}"), "HpkeSecretKey(<redacted>)");
    assert_eq!(format!("{dk:?}"), "DataKey(<redacted>)");
    assert_eq!(format!("{sk:#?}"), "HpkeSecretKey(<redacted>)");
    let hex = sk
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    assert!(!format!("{sk:?}").contains(&hex));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_flipped_bit_in_enc_fails(bit in 0usize..(65 * 8)) {
        let f = fixture();
        prop_assert!(f.unwrap_altered(|w| w.enc = flip(&w.enc, bit)).is_err());
    }

    #[test]
    fn a_flipped_bit_in_the_wrapped_ciphertext_fails(bit in 0usize..(48 * 8)) {
        let f = fixture();
        prop_assert_eq!(
            f.unwrap_altered(|w| w.ciphertext = flip(&w.ciphertext, bit)).unwrap_err(),
            EnvelopeError::Unwrap
        );
    }

    #[test]
    fn a_flipped_bit_in_the_sealed_payload_or_its_nonce_fails(
        bit in 0usize..((PAYLOAD.len() + 16) * 8),
    ) {
        let f = fixture();
        // `flip` takes the bit modulo the length, so every nonce bit is reachable too.
        let flips: [fn(&mut SealedPayload, usize); 2] = [
            |s, bit| s.ciphertext = flip(&s.ciphertext, bit),
            |s, bit| s.nonce = flip(&s.nonce, bit),
        ];
        for alter in flips {
            prop_assert_eq!(f.open_altered(|s| alter(s, bit)).unwrap_err(), EnvelopeError::Open);
        }
    }

    #[test]
    fn arbitrary_payloads_round_trip(payload in proptest::collection::vec(any::<u8>(), 0..2048), seed in any::<u64>()) {
        let mut rng = rng(seed);
        let reader = HpkeSecretKey::generate(&mut rng);
        let (sealed, wrapped) = envelope::seal_record(
            &payload, &patient(3), &record(3), &[&reader.public_key()], &mut rng,
        ).unwrap();
        let key = wrapped[0].unwrap(&reader, &patient(3), &record(3)).unwrap();
        let plain = envelope::open(&sealed, &key, &patient(3), &record(3)).unwrap();
        prop_assert_eq!(plain.as_slice(), payload.as_slice());
    }
}
