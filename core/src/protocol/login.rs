//! The patient's login proof: a compact ES256 JWS by the device key over
//! `{"challenge", "aud", "iat", "exp"}`, answering the relay's challenge.
//! Signed through [`SigningKey`], so the secret scalar never leaves it.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::ProtocolError;
use crate::identity::{SigningKey, VerifyingKey};

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
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ec_der(&key.to_pkcs8_der()),
    )
    .map_err(|e| ProtocolError::Signing(e.to_string()))
}

/// Checks a login proof under `key` for `audience` at `now`; returns its
/// claims, or `None` if the signature, audience, expiry or lifetime is wrong.
pub fn verify_login_proof(
    token: &str,
    key: &VerifyingKey,
    audience: &str,
    now: i64,
) -> Option<LoginProof> {
    let decoding = DecodingKey::from_ec_der(&key.to_uncompressed_sec1());
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "aud"]);
    // Expiry is checked below against the caller's clock.
    validation.validate_exp = false;
    let proof = jsonwebtoken::decode::<LoginProof>(token, &decoding, &validation)
        .ok()?
        .claims;
    let fresh = now <= proof.exp.saturating_add(LOGIN_PROOF_LEEWAY_SECS);
    let short = proof.exp.saturating_sub(proof.iat) <= MAX_LOGIN_PROOF_TTL_SECS;
    (fresh && short).then_some(proof)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testkeys::patient;

    #[test]
    fn a_proof_verifies_under_its_key_and_audience_only() {
        let p = patient(1);
        let token = sign_login_proof(&p.signing, "nonce-1", "relay", 1_000).unwrap();
        let claims = verify_login_proof(&token, &p.signing.verifying_key(), "relay", 1_010);
        assert_eq!(claims.map(|c| c.challenge).as_deref(), Some("nonce-1"));
        let other = patient(2).signing.verifying_key();
        assert_eq!(verify_login_proof(&token, &other, "relay", 1_010), None);
        let key = p.signing.verifying_key();
        assert_eq!(verify_login_proof(&token, &key, "elsewhere", 1_010), None);
    }

    #[test]
    fn an_expired_proof_is_refused() {
        let p = patient(3);
        let token = sign_login_proof(&p.signing, "n", "relay", 1_000).unwrap();
        let key = p.signing.verifying_key();
        let deadline = 1_000 + LOGIN_PROOF_TTL_SECS + LOGIN_PROOF_LEEWAY_SECS;
        assert!(verify_login_proof(&token, &key, "relay", deadline).is_some());
        assert!(verify_login_proof(&token, &key, "relay", deadline + 1).is_none());
    }
}
