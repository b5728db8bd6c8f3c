use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;

use super::strict::twin;
use super::*;
use crate::ids::{B64, ClaimId, PolicyId, ProductId, RecordId, RequestId};

const AUD: &str = "carechain:test-ledger";
const NOW: i64 = 1_790_000_000;

fn policy() -> VerifyPolicy<'static> {
    VerifyPolicy {
        audience: AUD,
        now: NOW,
        max_skew_secs: 300,
        max_lifetime_secs: 3600,
    }
}

/// Verifies `token` with `vk` under the test [`policy`].
fn verify_now(token: &str, vk: &VerifyingKey) -> Result<Statement, StatementError> {
    Statement::verify(token, vk, &policy())
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(42)
}

/// `claims` signed by `key` as an ES256 JWT whose header `typ` is `typ`,
/// bypassing [`Statement::sign`] to build tokens it would never produce.
fn es256_token(typ: &str, claims: &impl serde::Serialize, key: &SigningKey) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some(typ.into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_ec_der(&key.to_pkcs8_der()),
    )
    .unwrap()
}

/// The seeded test rng and a signing key drawn from it.
fn signer() -> (ChaCha20Rng, SigningKey) {
    let mut rng = rng();
    let key = SigningKey::generate(&mut rng);
    (rng, key)
}

fn deny(rng: &mut ChaCha20Rng) -> Action {
    Action::Deny(Deny {
        request: RequestId::random(rng),
    })
}

fn signed(key: &SigningKey, act: Action, iat: i64, ttl: i64) -> String {
    let mut rng = rng();
    Statement::new(key.actor_id(), AUD, act, iat, ttl, &mut rng)
        .sign(key)
        .unwrap()
}

fn every_action(rng: &mut ChaCha20Rng) -> Vec<Action> {
    let key = SigningKey::generate(rng);
    let someone = key.actor_id();
    let bytes = B64(vec![1, 2, 3]);
    vec![
        Action::RegisterIdentity(RegisterIdentity {
            role: Role::Patient,
            signing_key: key.verifying_key(),
            hpke_key: bytes.clone(),
            display_name: String::new(),
            paillier: Some(PaillierRegistration {
                public_key: bytes.clone(),
                key_proof: bytes.clone(),
            }),
        }),
        Action::SuspendIdentity(SuspendIdentity {
            actor: someone.clone(),
            reason: "licence withdrawn".into(),
        }),
        Action::AccessRequest(AccessRequest {
            request: RequestId::random(rng),
            patient: someone.clone(),
            actions: vec![AccessAction::Read, AccessAction::Write],
            scope: Scope::Categories(vec![RecordCategory::General, RecordCategory::Laboratory]),
            purpose: PurposeOfUse::Treat,
            duration_secs: 86_400,
        }),
        Action::Grant(Grant {
            request: RequestId::random(rng),
            actions: vec![AccessAction::Read],
            scope: Scope::All,
            expires_at: NOW + 86_400,
            keys: vec![RecordKey {
                record: RecordId::random(rng),
                enc: bytes.clone(),
                ciphertext: bytes.clone(),
            }],
        }),
        deny(rng),
        Action::Revoke(Revoke {
            request: RequestId::random(rng),
        }),
        Action::WriteRecord(WriteRecord {
            record: RecordId::random(rng),
            patient: someone.clone(),
            category: RecordCategory::MentalHealth,
            nonce: bytes.clone(),
            payload: bytes.clone(),
            keys: vec![ReaderKey {
                reader: someone.clone(),
                enc: bytes.clone(),
                ciphertext: bytes.clone(),
            }],
            code: bytes.clone(),
            code_category: bytes.clone(),
            treatment: Some(Treatment {
                date_of_service: NOW - 3_600,
                billed: 12_000,
                currency: "EUR".into(),
            }),
        }),
        Action::ReadRecord(ReadRecord {
            record: RecordId::random(rng),
        }),
        Action::PublishProduct(PublishProduct {
            product: ProductId::random(rng),
            name: "Diabetes cover".into(),
            currency: "EUR".into(),
            premium: 1_000,
            term_days: 365,
            items: vec![CoveredItem {
                code: "E11".into(),
                payout: 50_000,
            }],
        }),
        Action::PurchasePolicy(PurchasePolicy {
            policy: PolicyId::random(rng),
            product: ProductId::random(rng),
        }),
        Action::IssuePolicy(IssuePolicy {
            policy: PolicyId::random(rng),
            items: vec![bytes.clone()],
        }),
        Action::DeclinePolicy(DeclinePolicy {
            policy: PolicyId::random(rng),
            reason: "outside our underwriting area".into(),
        }),
        Action::FileClaim(FileClaim {
            claim: ClaimId::random(rng),
            policy: PolicyId::random(rng),
            record: RecordId::random(rng),
            item: 0,
            proof: bytes,
        }),
        Action::MarkPaid(MarkPaid {
            claim: ClaimId::random(rng),
            reference: "SEPA-0001".into(),
        }),
    ]
}

#[test]
fn every_action_signs_and_verifies_to_the_same_statement() {
    let (mut rng, key) = signer();
    let actions = every_action(&mut rng);
    let kinds: std::collections::HashSet<_> = actions.iter().map(Action::kind).collect();
    assert_eq!(kinds.len(), 14, "one payload per action");
    for act in actions {
        let statement = Statement::new(key.actor_id(), AUD, act, NOW, 600, &mut rng);
        let token = statement.sign(&key).unwrap();
        let verified = verify_now(&token, &key.verifying_key()).unwrap();
        assert_eq!(verified, statement);
        assert_eq!(Statement::peek(&token).unwrap(), statement);
    }
}

#[test]
fn action_wire_name_matches_kind() {
    let mut rng = rng();
    for act in every_action(&mut rng) {
        let json = serde_json::to_value(&act).unwrap();
        assert_eq!(json["type"], act.kind());
    }
}

#[test]
fn tampered_claims_fail() {
    let (mut rng, key) = signer();
    let token = signed(&key, deny(&mut rng), NOW, 600);
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["exp"] = serde_json::json!(NOW + 3000);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
        parts[2]
    );
    assert_eq!(
        verify_now(&forged, &key.verifying_key()),
        Err(StatementError::BadSignature)
    );
}

#[test]
fn every_flipped_signature_byte_fails() {
    let (mut rng, key) = signer();
    let token = signed(&key, deny(&mut rng), NOW, 600);
    let (head, sig) = token.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    for i in 0..sig.len() {
        let mut bad = sig.clone();
        bad[i] ^= 0x01;
        let forged = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&bad));
        assert!(
            verify_now(&forged, &key.verifying_key()).is_err(),
            "byte {i}"
        );
    }
}

#[test]
fn another_key_fails() {
    let (mut rng, key) = signer();
    let other = SigningKey::generate(&mut rng);
    let token = signed(&key, deny(&mut rng), NOW, 600);
    assert_eq!(
        verify_now(&token, &other.verifying_key()),
        Err(StatementError::BadSignature)
    );

    // A statement that names someone else as issuer cannot be signed...
    let statement = Statement::new(other.actor_id(), AUD, deny(&mut rng), NOW, 600, &mut rng);
    assert!(matches!(
        statement.sign(&key),
        Err(StatementError::NotSigner { .. })
    ));
}

#[test]
fn issuer_must_own_the_verifying_key() {
    // ...and one whose iss is another actor's is refused even with a valid signature.
    let (mut rng, key) = signer();
    let other = SigningKey::generate(&mut rng);
    let statement = Statement::new(other.actor_id(), AUD, deny(&mut rng), NOW, 600, &mut rng);
    let token = es256_token(STATEMENT_TYPE, &statement, &key);
    assert!(matches!(
        verify_now(&token, &key.verifying_key()),
        Err(StatementError::IssuerMismatch { .. })
    ));
}

#[test]
fn expired_future_and_overlong_statements_fail() {
    let (mut rng, key) = signer();
    let vk = key.verifying_key();

    let expired = signed(&key, deny(&mut rng), NOW - 700, 600);
    assert_eq!(
        verify_now(&expired, &vk),
        Err(StatementError::Expired {
            exp: NOW - 100,
            now: NOW
        })
    );
    let exactly_at_exp = signed(&key, deny(&mut rng), NOW - 600, 600);
    assert!(matches!(
        verify_now(&exactly_at_exp, &vk),
        Err(StatementError::Expired { .. })
    ));

    let within_skew = signed(&key, deny(&mut rng), NOW + 300, 600);
    assert!(verify_now(&within_skew, &vk).is_ok());
    let future = signed(&key, deny(&mut rng), NOW + 301, 600);
    assert!(matches!(
        verify_now(&future, &vk),
        Err(StatementError::IssuedInFuture { .. })
    ));

    let overlong = signed(&key, deny(&mut rng), NOW, 3601);
    assert_eq!(
        verify_now(&overlong, &vk),
        Err(StatementError::BadLifetime {
            found: 3601,
            max: 3600
        })
    );
    let backwards = signed(&key, deny(&mut rng), NOW, -5);
    assert!(matches!(
        verify_now(&backwards, &vk),
        Err(StatementError::BadLifetime { .. })
    ));
}

#[test]
fn wrong_audience_fails() {
    let (mut rng, key) = signer();
    let token = Statement::new(
        key.actor_id(),
        "carechain:other",
        deny(&mut rng),
        NOW,
        600,
        &mut rng,
    )
    .sign(&key)
    .unwrap();
    assert!(matches!(
        verify_now(&token, &key.verifying_key()),
        Err(StatementError::WrongAudience { .. })
    ));
}

fn with_header(header_json: &str, token: &str) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header_json))
}

#[test]
fn alg_none_and_hmac_are_refused() {
    let (mut rng, key) = signer();
    let vk = key.verifying_key();
    let token = signed(&key, deny(&mut rng), NOW, 600);

    // `alg: none` with an empty signature.
    let (head_and_claims, _) = token.rsplit_once('.').unwrap();
    let none = with_header(
        r#"{"alg":"none","typ":"carechain-statement+jwt"}"#,
        &format!("{head_and_claims}."),
    );
    assert_eq!(
        verify_now(&none, &vk),
        Err(StatementError::WrongAlgorithm {
            found: "none".into()
        })
    );
    assert!(Statement::peek(&none).is_err());

    // HS256 keyed with the public key bytes: the classic algorithm-confusion forgery.
    let statement = Statement::peek(&token).unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some(STATEMENT_TYPE.into());
    let hs = jsonwebtoken::encode(
        &header,
        &statement,
        &EncodingKey::from_secret(&vk.to_uncompressed_sec1()),
    )
    .unwrap();
    assert_eq!(
        verify_now(&hs, &vk),
        Err(StatementError::WrongAlgorithm {
            found: "HS256".into()
        })
    );

    // Same signature, header relabelled.
    for alg in ["ES384", "RS256", "EdDSA", "es256"] {
        let relabelled = with_header(
            &format!(r#"{{"alg":"{alg}","typ":"carechain-statement+jwt"}}"#),
            &token,
        );
        assert!(matches!(
            verify_now(&relabelled, &vk),
            Err(StatementError::WrongAlgorithm { .. })
        ));
    }
}

#[test]
fn wrong_type_is_refused() {
    let (mut rng, key) = signer();
    let statement = Statement::new(key.actor_id(), AUD, deny(&mut rng), NOW, 600, &mut rng);
    let token = es256_token("JWT", &statement, &key);
    assert_eq!(
        verify_now(&token, &key.verifying_key()),
        Err(StatementError::WrongType {
            found: "JWT".into()
        })
    );
}

#[test]
fn malformed_tokens_give_errors_not_panics() {
    let (_, key) = signer();
    let vk = key.verifying_key();
    for bad in [
        "",
        ".",
        "..",
        "a.b.c",
        "a.b.c.d",
        "\u{0}.\u{0}.\u{0}",
        "eyJ.eyJ.e",
    ] {
        assert!(
            matches!(verify_now(bad, &vk), Err(StatementError::Malformed { .. })),
            "{bad:?}"
        );
    }
    // A valid signature over claims with an unknown action type.
    let claims = serde_json::json!({
        "iss": key.actor_id(), "aud": AUD, "jti": "AAAAAAAAAAAAAAAAAAAAAA",
        "iat": NOW, "exp": NOW + 60, "act": {"type": "transfer_funds"}
    });
    let token = es256_token(STATEMENT_TYPE, &claims, &key);
    assert!(matches!(
        verify_now(&token, &vk),
        Err(StatementError::Malformed { .. })
    ));
}

#[test]
fn short_or_odd_nonces_are_refused() {
    let (mut rng, key) = signer();
    for jti in ["short", "has spaces in it here!!", &"x".repeat(65)] {
        let mut statement = Statement::new(key.actor_id(), AUD, deny(&mut rng), NOW, 60, &mut rng);
        statement.jti = jti.into();
        let token = statement.sign(&key).unwrap();
        assert!(matches!(
            verify_now(&token, &key.verifying_key()),
            Err(StatementError::BadNonce { .. })
        ));
    }
}

#[test]
fn scope_containment() {
    use RecordCategory::*;
    let some = Scope::Categories(vec![General, Laboratory]);
    assert!(some.is_within(&Scope::All));
    assert!(!Scope::All.is_within(&some));
    assert!(Scope::Categories(vec![General]).is_within(&some));
    assert!(!Scope::Categories(vec![Genetic]).is_within(&some));
    assert!(some.covers(Laboratory) && !some.covers(MentalHealth));
}

fn is_low_s(token: &str) -> bool {
    let sig = token.rsplit_once('.').unwrap().1;
    let sig = p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
    sig.normalize_s().is_none()
}

#[test]
fn signed_statements_are_low_s_and_their_high_s_twins_are_refused() {
    let (mut rng, key) = signer();
    let vk = key.verifying_key();
    // Deterministic ECDSA: about half of these would be high-S without normalisation.
    for i in 0..16 {
        let token = signed(&key, deny(&mut rng), NOW + i, 600);
        assert!(is_low_s(&token), "statement {i} is high-S");
        assert!(Statement::verify_strict(&token, &vk, &policy()).is_ok());
        let high = twin(&token);
        assert!(!is_low_s(&high));
        assert_eq!(
            Statement::verify_strict(&high, &vk, &policy()).unwrap_err(),
            StatementError::HighS
        );
        // It is a valid signature all the same: the legacy rules (old chains) accept it.
        let legacy = verify_now(&high, &vk);
        assert_eq!(legacy.unwrap(), Statement::peek(&token).unwrap());
    }
}

/// A statement whose protected header is `header`, signed (low-S) outside jsonwebtoken.
fn signed_with_header(header: &serde_json::Value, claims: &Statement, key: &SigningKey) -> String {
    use p256::ecdsa::signature::Signer as _;
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
    );
    let sk = p256::ecdsa::SigningKey::from_slice(key.to_bytes().as_slice()).unwrap();
    let sig: p256::ecdsa::Signature = sk.sign(signing_input.as_bytes());
    let sig = sig.normalize_s().unwrap_or(sig);
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

#[test]
fn any_crit_header_is_refused() {
    let (mut rng, key) = signer();
    let vk = key.verifying_key();
    let claims = Statement::new(key.actor_id(), AUD, deny(&mut rng), NOW, 600, &mut rng);
    let plain = serde_json::json!({"alg": "ES256", "typ": STATEMENT_TYPE});
    assert_eq!(
        Statement::verify_strict(&signed_with_header(&plain, &claims, &key), &vk, &policy())
            .unwrap(),
        claims
    );
    for crit in [
        serde_json::json!(["exp"]),
        serde_json::json!(["b64"]),
        serde_json::json!([]),
    ] {
        let header = serde_json::json!({
            "alg": "ES256", "typ": STATEMENT_TYPE, "crit": crit, "exp": 1, "b64": true
        });
        let token = signed_with_header(&header, &claims, &key);
        let err = Statement::verify_strict(&token, &vk, &policy()).unwrap_err();
        assert_eq!(
            err,
            StatementError::UnknownCritical {
                found: crit.to_string()
            }
        );
        assert!(err.to_string().contains("crit"), "{err}");
    }
}

#[test]
fn an_issue_without_ciphertexts_has_no_items_on_the_wire_and_old_ones_keep_theirs() {
    let policy = PolicyId::random(&mut rng());
    let accept = Action::IssuePolicy(IssuePolicy {
        policy,
        items: Vec::new(),
    });
    let json = serde_json::to_value(&accept).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"type": "issue_policy", "policy": policy})
    );
    assert_eq!(serde_json::from_value::<Action>(json).unwrap(), accept);
    // A rules-1 issue, as stored on old chains, still reads with its ciphertexts.
    let old = serde_json::json!({"type": "issue_policy", "policy": policy, "items": ["AQI"]});
    let Action::IssuePolicy(read) = serde_json::from_value(old.clone()).unwrap() else {
        panic!("expected issue_policy");
    };
    assert_eq!(read.items, vec![B64(vec![1, 2])]);
    assert_eq!(
        serde_json::to_value(Action::IssuePolicy(read)).unwrap(),
        old
    );
}

#[test]
fn a_write_without_treatment_facts_reads_as_before_and_keeps_its_shape() {
    let mut rng = rng();
    let someone = SigningKey::generate(&mut rng).actor_id();
    let old = serde_json::json!({
        "type": "write_record", "record": RecordId::random(&mut rng), "patient": someone,
        "category": "general", "nonce": "AQI", "payload": "AQI", "keys": [],
        "code": "AQI", "code_category": "AQI"
    });
    let Action::WriteRecord(read) = serde_json::from_value(old.clone()).unwrap() else {
        panic!("expected write_record");
    };
    assert_eq!(read.treatment, None);
    assert_eq!(
        serde_json::to_value(Action::WriteRecord(read)).unwrap(),
        old
    );
    let mut with = old;
    with["treatment"] = serde_json::json!({"date_of_service": NOW, "billed": 1, "currency": "EUR"});
    let Action::WriteRecord(read) = serde_json::from_value(with).unwrap() else {
        panic!("expected write_record");
    };
    assert_eq!(read.treatment.map(|t| t.billed), Some(1));
}
