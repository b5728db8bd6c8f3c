//! Access tokens (HS256 JWT, 15 minutes) and opaque rotating refresh tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand_core::{OsRng, RngCore as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::ApiError;
use crate::types::AccountRole;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer: the relay audience.
    pub iss: String,
    /// Audience: the relay audience.
    pub aud: String,
    /// The account id.
    pub sub: String,
    /// The account role.
    pub role: AccountRole,
    /// The account's actor id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<String>,
    /// The session (the refresh-token family) the token was issued in: when
    /// the session is revoked the token stops working with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
}

/// The server's JWT keys and validation rules.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    audience: String,
    ttl_secs: i64,
}

impl JwtKeys {
    /// Keys from a secret, for tokens issued to and by `audience`.
    pub fn new(secret: &[u8], audience: &str, ttl_secs: i64) -> Self {
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            audience: audience.to_owned(),
            ttl_secs,
        }
    }

    /// The access token lifetime.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// Issues an access token at `now` in session `sid`.
    pub fn issue(
        &self,
        account: &str,
        role: AccountRole,
        actor: Option<String>,
        sid: Option<String>,
        now: i64,
    ) -> Result<String, ApiError> {
        let claims = AccessClaims {
            iss: self.audience.clone(),
            aud: self.audience.clone(),
            sub: account.to_owned(),
            role,
            act: actor,
            sid,
            iat: now,
            exp: now + self.ttl_secs,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal(format!("jwt encode: {e}")))
    }

    /// Verifies an access token: HS256 only, our `iss` and `aud`, unexpired.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.audience]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| {
                let reason = match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the access token expired",
                    _ => "the access token is invalid",
                };
                ApiError::Unauthorized(reason.into())
            })
    }
}

/// A fresh opaque refresh token (32 random bytes, base64url) and its SHA-256 hex.
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// SHA-256 hex of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A random nonce for patient login challenges.
pub fn new_nonce() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
