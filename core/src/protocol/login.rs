//! The patient's login proof: a compact ES256 JWS by the device key over
//! `{"challenge", "aud", "iat", "exp"}`, answering the relay's challenge.
//! Signed through [`SigningKey`], so the secret scalar never leaves it.
//!
//! Like a statement under the ledger's strict rules, a proof has one valid
//! signature: signing makes it low-S and verifying refuses a high-S twin or
//! any `crit` header.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::ProtocolError;
use crate::identity::{SigningKey, VerifyingKey};
use crate::statement::{StatementError, strict};

/// How long a login proof lives.
pub const LOGIN_PROOF_TTL_SECS: i64 = 60;
/// The longest lifetime a verifier accepts.
pub const MAX_LOGIN_PROOF_TTL_SECS: i64 = 600;
/// Clock skew a verifier tolerates on `exp`.
pub const LOGIN_PROOF_LEEWAY_SECS: i64 = 30;

/// The claims the patient signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginProof {
    /// The relay's nonce.
    pub challenge: String,
    /// The relay audience.
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expiry (Unix seconds).
    pub exp: i64,
}

/// Signs the relay's `challenge` for `audience` at `now`, valid for a minute.
pub fn sign_login_proof(
    key: &SigningKey,
    challenge: &str,
    audience: &str,
    now: i64,
) -> Result<String, ProtocolError> {
    let claims = LoginProof {
        challenge: challenge.to_owned(),
        aud: audience.to_owned(),
        iat: now,
        exp: now.saturating_add(LOGIN_PROOF_TTL_SECS),
    };
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("JWT".to_owned());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ec_der(&key.to_pkcs8_der()),
    )
    .map_err(|e| ProtocolError::Signing(e.to_string()))?;
    strict::normalize(token).map_err(|e| ProtocolError::Signing(e.to_string()))
}

/// Why a login proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginProofError {
    /// Not a compact ES256 JWS signed by the patient's key over the claims.
    #[error("the login signature is invalid")]
    BadSignature,
    /// The signature is the high-S twin (s > n/2) of a valid one.
    #[error("expected a low-S login signature (s <= n/2), found a high-S one")]
    HighS,
    /// The header has a `crit` parameter, naming extensions no verifier here understands.
    #[error("expected no crit header in the login proof, found one")]
    UnknownCritical,
    /// The header's `typ` is present and is not `JWT`.
    #[error("expected a login proof of type JWT, found type {found:?}")]
    WrongType {
        /// The `typ` the header carried.
        found: String,
    },
    /// The proof was signed for another relay.
    #[error("the login proof is for another audience")]
    WrongAudience,
    /// `exp` (plus the leeway) is before the verifier's clock.
    #[error("the login proof expired at {exp}, it is now {now}")]
    Expired {
        /// The proof's expiry.
        exp: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// `iat` is after the verifier's clock (beyond the leeway).
    #[error("the login proof is dated {iat}, after the relay's clock ({now})")]
    IssuedInFuture {
        /// The proof's issue time.
        iat: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// `exp - iat` is longer than [`MAX_LOGIN_PROOF_TTL_SECS`] (or negative).
    #[error(
        "the login proof must live between 0 and {MAX_LOGIN_PROOF_TTL_SECS} seconds, found {lifetime}"
    )]
    TooLong {
        /// `exp - iat`.
        lifetime: i64,
    },
}

/// Checks a login proof under `key` for `audience` at `now` and returns its
/// claims, or the reason it is refused.
pub fn verify_login_proof(
    token: &str,
    key: &VerifyingKey,
    audience: &str,
    now: i64,
) -> Result<LoginProof, LoginProofError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| LoginProofError::BadSignature)?;
    if let Some(typ) = header.typ.filter(|t| !t.eq_ignore_ascii_case("JWT")) {
        return Err(LoginProofError::WrongType { found: typ });
    }
    let decoding = DecodingKey::from_ec_der(&key.to_uncompressed_sec1());
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_required_spec_claims(&["exp", "aud"]);
    // Audience and times are checked below, so each refusal says why.
    validation.validate_aud = false;
    validation.validate_exp = false;
    let proof = jsonwebtoken::decode::<LoginProof>(token, &decoding, &validation)
        .map_err(|_| LoginProofError::BadSignature)?
        .claims;
    strict::check(token).map_err(|err| match err {
        StatementError::HighS => LoginProofError::HighS,
        StatementError::UnknownCritical { .. } => LoginProofError::UnknownCritical,
        _ => LoginProofError::BadSignature,
    })?;
    if proof.aud != audience {
        return Err(LoginProofError::WrongAudience);
    }
    if now > proof.exp.saturating_add(LOGIN_PROOF_LEEWAY_SECS) {
        return Err(LoginProofError::Expired {
            exp: proof.exp,
            now,
        });
    }
    if proof.iat > now.saturating_add(LOGIN_PROOF_LEEWAY_SECS) {
        return Err(LoginProofError::IssuedInFuture {
            iat: proof.iat,
            now,
        });
    }
    let lifetime = proof.exp.saturating_sub(proof.iat);
    if !(0..=MAX_LOGIN_PROOF_TTL_SECS).contains(&lifetime) {
        return Err(LoginProofError::TooLong { lifetime });
    }
    Ok(proof)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testkeys::patient;

    /// Signs arbitrary claims and header type with `key`, as a forger would.
    fn sign_raw(key: &SigningKey, typ: &str, claims: &LoginProof) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_ec_der(&key.to_pkcs8_der()),
        )
        .unwrap()
    }

    fn claims(iat: i64, exp: i64) -> LoginProof {
        LoginProof {
            challenge: "n".into(),
            aud: "relay".into(),
            iat,
            exp,
        }
    }

    #[test]
    fn a_proof_verifies_under_its_key_and_audience_only() {
        let p = patient(1);
        let token = sign_login_proof(&p.signing, "nonce-1", "relay", 1_000).unwrap();
        let claims = verify_login_proof(&token, &p.signing.verifying_key(), "relay", 1_010);
        assert_eq!(claims.map(|c| c.challenge).as_deref(), Ok("nonce-1"));
        let other = patient(2).signing.verifying_key();
        assert_eq!(
            verify_login_proof(&token, &other, "relay", 1_010),
            Err(LoginProofError::BadSignature)
        );
        let key = p.signing.verifying_key();
        assert_eq!(
            verify_login_proof(&token, &key, "elsewhere", 1_010),
            Err(LoginProofError::WrongAudience)
        );
        assert_eq!(
            verify_login_proof("not.a.jws", &key, "relay", 1_010),
            Err(LoginProofError::BadSignature)
        );
    }

    #[test]
    fn proofs_are_low_s_and_a_high_s_twin_or_a_crit_header_is_refused() {
        use crate::statement::strict::twin;
        let p = patient(7);
        let key = p.signing.verifying_key();
        // Deterministic ECDSA: about half of these would be high-S without normalisation.
        for i in 0..16 {
            let token = sign_login_proof(&p.signing, "n", "relay", 1_000 + i).unwrap();
            assert!(strict::check(&token).is_ok(), "proof {i} is high-S");
            assert!(verify_login_proof(&token, &key, "relay", 1_000).is_ok());
            assert_eq!(
                verify_login_proof(&twin(&token), &key, "relay", 1_000),
                Err(LoginProofError::HighS)
            );
        }
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("JWT".to_owned());
        header.crit = Some(vec!["exp".to_owned()]);
        let encoding = EncodingKey::from_ec_der(&p.signing.to_pkcs8_der());
        let critical = jsonwebtoken::encode(&header, &claims(1_000, 1_060), &encoding).unwrap();
        let critical = strict::normalize(critical).unwrap();
        assert_eq!(
            verify_login_proof(&critical, &key, "relay", 1_000),
            Err(LoginProofError::UnknownCritical)
        );
    }

    #[test]
    fn an_expired_proof_is_refused() {
        let p = patient(3);
        let token = sign_login_proof(&p.signing, "n", "relay", 1_000).unwrap();
        let key = p.signing.verifying_key();
        let deadline = 1_000 + LOGIN_PROOF_TTL_SECS + LOGIN_PROOF_LEEWAY_SECS;
        assert!(verify_login_proof(&token, &key, "relay", deadline).is_ok());
        assert_eq!(
            verify_login_proof(&token, &key, "relay", deadline + 1),
            Err(LoginProofError::Expired {
                exp: 1_000 + LOGIN_PROOF_TTL_SECS,
                now: deadline + 1
            })
        );
    }

    #[test]
    fn a_proof_dated_ahead_of_the_clock_is_refused() {
        // A proof dated a day ahead would otherwise sidestep the lifetime cap.
        let p = patient(4);
        let key = p.signing.verifying_key();
        let ahead = sign_raw(&p.signing, "JWT", &claims(87_400, 87_460));
        assert_eq!(
            verify_login_proof(&ahead, &key, "relay", 1_000),
            Err(LoginProofError::IssuedInFuture {
                iat: 87_400,
                now: 1_000
            })
        );
        let within_leeway = sign_raw(&p.signing, "JWT", &claims(1_020, 1_080));
        assert!(verify_login_proof(&within_leeway, &key, "relay", 1_000).is_ok());
    }

    #[test]
    fn a_long_lived_or_backwards_proof_is_refused() {
        let p = patient(5);
        let key = p.signing.verifying_key();
        let long = sign_raw(&p.signing, "JWT", &claims(1_000, 1_000 + 601));
        assert_eq!(
            verify_login_proof(&long, &key, "relay", 1_000),
            Err(LoginProofError::TooLong { lifetime: 601 })
        );
        let backwards = sign_raw(&p.signing, "JWT", &claims(1_010, 1_000));
        assert_eq!(
            verify_login_proof(&backwards, &key, "relay", 1_000),
            Err(LoginProofError::TooLong { lifetime: -10 })
        );
    }

    #[test]
    fn a_proof_of_another_type_is_refused() {
        let p = patient(6);
        let key = p.signing.verifying_key();
        let typed = sign_raw(&p.signing, "at+jwt", &claims(1_000, 1_060));
        assert_eq!(
            verify_login_proof(&typed, &key, "relay", 1_000),
            Err(LoginProofError::WrongType {
                found: "at+jwt".into()
            })
        );
    }
}
