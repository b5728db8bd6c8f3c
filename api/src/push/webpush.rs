//! Web Push (RFC 8030) with message encryption (RFC 8291, `aes128gcm` of
//! RFC 8188: ECDH P-256, HKDF-SHA256, AES-128-GCM, one 4096-byte record)
//! and VAPID (RFC 8292: an ES256 JWT with `aud` = the endpoint's origin).
//!
//! The plaintext is only ever `{"id": <outbox id>}`: the phone wakes up and
//! fetches the event over the authenticated socket.

use std::path::Path;
use std::time::Duration;

use aes_gcm::aead::{Aead as _, KeyInit as _};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::pkcs8::EncodePrivateKey as _;
use p256::{PublicKey, SecretKey};
use rand_core::{OsRng, RngCore as _};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::ApiError;

/// The record size announced in the `aes128gcm` header.
pub const RECORD_SIZE: u32 = 4096;

/// Why a push could not be prepared or sent.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// A subscription field is malformed.
    #[error("invalid subscription: {0}")]
    Invalid(&'static str),
    /// A cryptographic step failed.
    #[error("encryption failed")]
    Crypto,
    /// The VAPID key could not be loaded or stored.
    #[error("VAPID key {0}")]
    Key(String),
    /// A push setting is malformed.
    #[error("{0}")]
    Config(String),
}

impl From<PushError> for ApiError {
    fn from(e: PushError) -> Self {
        match e {
            PushError::Invalid(_) => ApiError::bad_request(e.to_string()),
            other => ApiError::internal(other.to_string()),
        }
    }
}

/// Decodes base64url with or without padding.
pub fn b64(s: &str) -> Result<Vec<u8>, PushError> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| PushError::Invalid("not base64url"))
}

/// Parses a 65-byte uncompressed P-256 point.
pub fn parse_p256dh(bytes: &[u8]) -> Result<PublicKey, PushError> {
    if bytes.len() != 65 || bytes[0] != 4 {
        return Err(PushError::Invalid(
            "p256dh must be a 65-byte uncompressed P-256 point",
        ));
    }
    PublicKey::from_sec1_bytes(bytes).map_err(|_| PushError::Invalid("p256dh is not on P-256"))
}

fn expand<const N: usize>(hk: &Hkdf<Sha256>, info: &[u8]) -> Result<Zeroizing<[u8; N]>, PushError> {
    let mut out = Zeroizing::new([0u8; N]);
    hk.expand(info, out.as_mut())
        .map_err(|_| PushError::Crypto)?;
    Ok(out)
}

/// Encrypts `plaintext` for a user agent (RFC 8291 §3.4) with the sender's
/// ephemeral key `as_secret` and `salt`; returns the whole `aes128gcm` body.
pub fn encrypt(
    plaintext: &[u8],
    ua_public: &PublicKey,
    auth: &[u8],
    as_secret: &SecretKey,
    salt: &[u8; 16],
) -> Result<Vec<u8>, PushError> {
    if auth.len() != 16 {
        return Err(PushError::Invalid("auth must be 16 bytes"));
    }
    // One record: plaintext, the last-record delimiter 0x02, a 16-byte tag.
    if plaintext.len() + 17 > RECORD_SIZE as usize {
        return Err(PushError::Invalid("payload too large for one record"));
    }
    let ua_bytes = ua_public.to_encoded_point(false);
    let as_bytes = as_secret.public_key().to_encoded_point(false);
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua_public.as_affine());
    let mut key_info = Vec::with_capacity(14 + 130);
    key_info.extend_from_slice(b"WebPush: info\0");
    key_info.extend_from_slice(ua_bytes.as_bytes());
    key_info.extend_from_slice(as_bytes.as_bytes());
    let ikm: Zeroizing<[u8; 32]> = expand(
        &Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes()),
        &key_info,
    )?;
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm.as_ref());
    let cek: Zeroizing<[u8; 16]> = expand(&hk, b"Content-Encoding: aes128gcm\0")?;
    let nonce: Zeroizing<[u8; 12]> = expand(&hk, b"Content-Encoding: nonce\0")?;
    let mut record = Zeroizing::new(Vec::with_capacity(plaintext.len() + 1));
    record.extend_from_slice(plaintext);
    record.push(2);
    let cipher = Aes128Gcm::new_from_slice(cek.as_ref()).map_err(|_| PushError::Crypto)?;
    let sealed = cipher
        .encrypt(Nonce::from_slice(nonce.as_ref()), record.as_slice())
        .map_err(|_| PushError::Crypto)?;
    let mut body = Vec::with_capacity(21 + 65 + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(65);
    body.extend_from_slice(as_bytes.as_bytes());
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// Encrypts with a fresh ephemeral key and salt.
pub fn encrypt_fresh(
    plaintext: &[u8],
    ua_public: &PublicKey,
    auth: &[u8],
) -> Result<Vec<u8>, PushError> {
    let as_secret = SecretKey::random(&mut OsRng);
    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    encrypt(plaintext, ua_public, auth, &as_secret, &salt)
}

/// The relay's VAPID signing key.
#[derive(Clone)]
pub struct Vapid {
    key: SecretKey,
}

impl std::fmt::Debug for Vapid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vapid")
            .field("public", &self.public_b64())
            .finish()
    }
}

impl Vapid {
    /// Wraps a key.
    pub fn new(key: SecretKey) -> Vapid {
        Vapid { key }
    }

    /// A key from a base64url scalar (e.g. `CARECHAIN_VAPID_PRIVATE_KEY`).
    pub fn from_b64(s: &str) -> Result<Vapid, PushError> {
        let bytes =
            Zeroizing::new(b64(s.trim()).map_err(|_| PushError::Key("is not base64url".into()))?);
        SecretKey::from_slice(&bytes)
            .map(Vapid::new)
            .map_err(|_| PushError::Key("is not a P-256 scalar".into()))
    }

    /// Loads `path`, or creates it (mode 0600) with a fresh key.
    pub fn load_or_create(path: &Path) -> Result<Vapid, PushError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Vapid::from_b64(&Zeroizing::new(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SecretKey::random(&mut OsRng);
                let text = Zeroizing::new(URL_SAFE_NO_PAD.encode(key.to_bytes()));
                crate::keystore::write_private(path, text.as_bytes(), false)
                    .map_err(|e| PushError::Key(format!("{}: {e}", path.display())))?;
                Ok(Vapid::new(key))
            }
            Err(e) => Err(PushError::Key(format!("{}: {e}", path.display()))),
        }
    }

    /// The public key, base64url of the uncompressed point (the `k=` parameter).
    pub fn public_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.public_key().to_encoded_point(false).as_bytes())
    }

    /// The `Authorization` header value for a push to `origin`, valid `ttl` seconds.
    pub fn authorization(
        &self,
        origin: &str,
        subject: &str,
        now: i64,
        ttl: i64,
    ) -> Result<String, PushError> {
        let der = self.key.to_pkcs8_der().map_err(|_| PushError::Crypto)?;
        let key = jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes());
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some("JWT".into());
        let claims = serde_json::json!({
            "aud": origin,
            "exp": now + ttl.clamp(60, 86_400),
            "sub": subject,
        });
        let jwt = jsonwebtoken::encode(&header, &claims, &key).map_err(|_| PushError::Crypto)?;
        Ok(format!("vapid t={jwt}, k={}", self.public_b64()))
    }
}

/// The outcome of one attempt to hand a push to the push service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The push service accepted it (2xx).
    Delivered,
    /// The subscription is gone (404/410): remove it.
    Gone,
    /// Worth trying again later (429, 5xx, a transport error): the status
    /// (`network` for no response) and the service's `Retry-After`, if any.
    Retry {
        /// The HTTP status, or `network`.
        status: String,
        /// How long the service asked to wait.
        retry_after: Option<Duration>,
    },
    /// Refused for good (another 4xx: a bad request, a VAPID mismatch, too large).
    Refused {
        /// The HTTP status.
        status: u16,
    },
}

/// Parses `Retry-After`: delay seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date: std::time::SystemTime = value
        .parse::<actix_web::http::header::HttpDate>()
        .ok()?
        .into();
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Sends one encrypted push once; the caller decides about retries.
pub async fn send_once(
    http: &reqwest::Client,
    endpoint: reqwest::Url,
    authorization: &str,
    body: Vec<u8>,
    ttl: u32,
) -> Outcome {
    let sent = http
        .post(endpoint)
        .header("Authorization", authorization)
        .header("Content-Encoding", "aes128gcm")
        .header("Content-Type", "application/octet-stream")
        .header("TTL", ttl.to_string())
        .header("Urgency", "high")
        .body(body)
        .send()
        .await;
    match sent {
        Ok(res) if res.status().is_success() => Outcome::Delivered,
        Ok(res) if matches!(res.status().as_u16(), 404 | 410) => Outcome::Gone,
        Ok(res) if res.status().as_u16() == 429 || res.status().is_server_error() => {
            let wait = res
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after(v, std::time::SystemTime::now()));
            Outcome::Retry {
                status: res.status().as_u16().to_string(),
                retry_after: wait,
            }
        }
        Ok(res) => Outcome::Refused {
            status: res.status().as_u16(),
        },
        Err(e) => {
            // Never log the URL: an endpoint is a bearer capability.
            tracing::debug!(error = %e.without_url(), "push transport error");
            Outcome::Retry {
                status: "network".into(),
                retry_after: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Vec<u8> {
        b64(s).unwrap_or_default()
    }

    /// RFC 8291, Appendix A.
    #[test]
    fn rfc8291_appendix_a() {
        let as_secret =
            SecretKey::from_slice(&d("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).expect("key");
        let ua = parse_p256dh(&d("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4")).expect("ua");
        let salt: [u8; 16] = d("DGv6ra1nlYgDCS1FRnbzlw").try_into().expect("salt");
        let body = encrypt(
            b"When I grow up, I want to be a watermelon",
            &ua,
            &d("BTBZMqHH6r4Tts7J_aSIgg"),
            &as_secret,
            &salt,
        )
        .expect("encrypt");
        assert_eq!(
            URL_SAFE_NO_PAD.encode(body),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
        );
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn p256dh_must_be_an_uncompressed_point() {
        assert!(parse_p256dh(&[4u8; 65]).is_err());
        assert!(parse_p256dh(&[4u8; 33]).is_err());
    }
}
