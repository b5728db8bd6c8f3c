//! The patient's login proof: a compact ES256 JWS by the device key over
//! `{"challenge", "aud", "iat", "exp"}`, checked against the key the ledger
//! holds for the patient.

use carechain_core::identity::VerifyingKey;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use serde::Deserialize;

use crate::error::ApiError;

/// The claims the patient signs.
#[derive(Debug, Deserialize)]
pub struct LoginProof {
    /// The server's nonce.
    pub challenge: String,
    /// The relay audience.
    pub aud: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
}

/// Verifies a login proof under `key` for `audience`; returns the signed nonce.
pub fn verify(token: &str, key: &VerifyingKey, audience: &str) -> Result<String, ApiError> {
    let bad = || ApiError::Unauthorized("the login signature is invalid".into());
    let point = p256::PublicKey::from_sec1_bytes(&key.to_sec1_bytes()).map_err(|_| bad())?;
    let decoding = DecodingKey::from_ec_der(point.to_encoded_point(false).as_bytes());
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "aud"]);
    validation.leeway = 30;
    let data =
        jsonwebtoken::decode::<LoginProof>(token, &decoding, &validation).map_err(|_| bad())?;
    let proof = data.claims;
    if proof.exp - proof.iat > 600 {
        return Err(ApiError::Unauthorized(
            "the login proof must live at most 600 seconds".into(),
        ));
    }
    Ok(proof.challenge)
}
