//! The FCM sender: Firebase Cloud Messaging's HTTP v1 API.
//!
//! The relay authenticates as a Google service account: it signs an RS256
//! JWT assertion (`iss` = the account's e-mail, `scope` = Firebase
//! messaging, `aud` = the token URI, `iat`, `exp` = `iat` + 1 h) and
//! exchanges it at the account's `token_uri` (OAuth 2.0 JWT bearer grant,
//! RFC 7523) for an access token, cached until shortly before it expires.
//! Each message is `POST /v1/projects/<project>/messages:send` with that
//! token; its `data` carries only the outbox id and the event kind.

use std::sync::Mutex;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::json;
use zeroize::{Zeroize as _, Zeroizing};

use crate::push::native::{
    Alert, NativeError, Notification, http2_client, pem_der, retry_after_of, send_once,
};
use crate::push::webpush::Outcome;

/// FCM's host.
pub const FCM_HOST: &str = "https://fcm.googleapis.com";
/// The OAuth 2.0 scope of FCM sends.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// The JWT bearer grant type (RFC 7523).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// An access token is renewed this long before it expires.
const EARLY: i64 = 60;
/// The longest FCM token accepted (Google documents none; today's are ~160).
pub const MAX_TOKEN_LEN: usize = 4096;

/// The fields of a service-account JSON file the relay uses.
#[derive(Deserialize)]
pub struct ServiceAccount {
    /// The Firebase project.
    pub project_id: String,
    /// The RSA key, PKCS#8 PEM (wiped once parsed).
    pub private_key: String,
    /// The key's id (the assertion's `kid`).
    #[serde(default)]
    pub private_key_id: Option<String>,
    /// The account's e-mail (the assertion's `iss`).
    pub client_email: String,
    /// Where assertions are exchanged for access tokens.
    pub token_uri: String,
}

/// FCM settings.
pub struct FcmConfig {
    /// The service account.
    pub account: ServiceAccount,
    /// `https://fcm.googleapis.com`, or a test server.
    pub base_url: String,
    /// Seconds FCM keeps an undelivered message (`android.ttl`).
    pub ttl_secs: u32,
}

impl FcmConfig {
    /// From `CARECHAIN_FCM_SERVICE_ACCOUNT` (the JSON file's path) and
    /// `CARECHAIN_FCM_HOST` read through `var`; `None` when no file is set.
    pub fn from_env(
        var: &impl Fn(&str) -> Option<String>,
        ttl_secs: u32,
    ) -> Result<Option<FcmConfig>, NativeError> {
        let Some(path) = var("CARECHAIN_FCM_SERVICE_ACCOUNT") else {
            return Ok(None);
        };
        let text = Zeroizing::new(
            std::fs::read_to_string(&path)
                .map_err(|e| NativeError::Config(format!("FCM service account {path}: {e}")))?,
        );
        let account: ServiceAccount = serde_json::from_str(&text).map_err(|e| {
            NativeError::Config(format!(
                "FCM service account {path}: expected a service-account JSON file ({e})"
            ))
        })?;
        let base_url = var("CARECHAIN_FCM_HOST")
            .map(|h| h.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| FCM_HOST.to_owned());
        Ok(Some(FcmConfig {
            account,
            base_url,
            ttl_secs,
        }))
    }
}

/// The FCM sender: its key, the cached access token and an HTTP/2 client.
pub struct Fcm {
    project_id: String,
    client_email: String,
    key_id: Option<String>,
    token_uri: String,
    base_url: String,
    ttl_secs: u32,
    key: EncodingKey,
    access: Mutex<Option<(Zeroizing<String>, i64)>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Fcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fcm")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct AccessToken {
    access_token: String,
    expires_in: i64,
}

impl Fcm {
    /// A sender for `config`; refuses a key that is not an RSA PEM key.
    pub fn new(config: FcmConfig) -> Result<Fcm, NativeError> {
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        use rsa::pkcs8::DecodePrivateKey as _;
        let mut account = config.account;
        let der = pem_der(&account.private_key, "PRIVATE KEY");
        account.private_key.zeroize();
        // jsonwebtoken signs with a PKCS#1 key; Google issues PKCS#8.
        let key = der
            .and_then(|der| rsa::RsaPrivateKey::from_pkcs8_der(&der).ok())
            .and_then(|key| key.to_pkcs1_der().ok())
            .map(|der| EncodingKey::from_rsa_der(der.as_bytes()))
            .ok_or_else(|| {
                NativeError::Config(
                    "FCM service account: private_key: expected a PKCS#8 RSA PEM key".into(),
                )
            })?;
        let fcm = Fcm {
            project_id: account.project_id,
            client_email: account.client_email,
            key_id: account.private_key_id,
            token_uri: account.token_uri,
            base_url: config.base_url,
            ttl_secs: config.ttl_secs,
            key,
            access: Mutex::new(None),
            http: http2_client()?,
        };
        fcm.assertion(0)?;
        Ok(fcm)
    }

    /// The signed JWT assertion at `now` (Unix seconds).
    pub fn assertion(&self, now: i64) -> Result<String, NativeError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&self.key_id);
        let claims = json!({
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + 3600,
        });
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|_| NativeError::Config("FCM key cannot sign".into()))
    }

    /// An access token valid at `now`: the cached one, or one exchanged for
    /// a fresh assertion. `Err` is the outcome to record when the exchange failed.
    async fn access_token(&self, now: i64) -> Result<Zeroizing<String>, Outcome> {
        if let Some((token, until)) = self.cached()
            && now < until
        {
            return Ok(token);
        }
        let assertion = self.assertion(now).map_err(|e| {
            tracing::warn!(error = %e, "FCM assertion");
            Outcome::Retry {
                status: "assertion".into(),
                retry_after: None,
            }
        })?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", GRANT_TYPE)
            .append_pair("assertion", &assertion)
            .finish();
        let res = self
            .http
            .post(&self.token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|_| Outcome::Retry {
                status: "oauth network".into(),
                retry_after: None,
            })?;
        let status = res.status();
        let wait = retry_after_of(res.headers());
        if !status.is_success() {
            tracing::warn!(status = status.as_u16(), "FCM token exchange refused");
            return Err(Outcome::Retry {
                status: format!("oauth {}", status.as_u16()),
                retry_after: wait,
            });
        }
        let bytes = res.bytes().await.map_err(|_| Outcome::Retry {
            status: "oauth network".into(),
            retry_after: None,
        })?;
        let token: AccessToken = serde_json::from_slice(&bytes).map_err(|_| Outcome::Retry {
            status: "oauth body".into(),
            retry_after: None,
        })?;
        let until = now + token.expires_in - EARLY;
        let access = Zeroizing::new(token.access_token);
        *self
            .access
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((access.clone(), until));
        Ok(access)
    }

    fn cached(&self) -> Option<(Zeroizing<String>, i64)> {
        self.access
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn forget_token(&self) {
        *self
            .access
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// The JSON body for `note` to `token`: the alert, and only the id and kind.
    pub fn body(&self, token: &str, note: &Notification, alert: &Alert) -> serde_json::Value {
        json!({
            "message": {
                "token": token,
                "notification": { "title": alert.title, "body": alert.body },
                "data": { "id": note.outbox_id.to_string(), "kind": note.kind },
                "android": {
                    "priority": "HIGH",
                    "ttl": format!("{}s", self.ttl_secs),
                    "collapse_key": note.collapse_id(),
                },
            }
        })
    }

    /// Sends `note` to `token` once.
    pub async fn send(&self, token: &str, note: &Notification, alert: &Alert, now: i64) -> Outcome {
        let access = match self.access_token(now).await {
            Ok(access) => access,
            Err(outcome) => return outcome,
        };
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            self.base_url, self.project_id
        );
        let request = self
            .http
            .post(url)
            .header("authorization", format!("Bearer {}", access.as_str()))
            .header("content-type", "application/json")
            .body(self.body(token, note, alert).to_string());
        let (status, wait, body) = match send_once(request, "FCM").await {
            Ok(answer) => answer,
            Err(outcome) => return outcome,
        };
        let code = error_code(&body);
        match (status, code.as_str()) {
            (200, _) => Outcome::Delivered,
            (404, _) | (_, "UNREGISTERED") => Outcome::Gone,
            (401, _) => {
                self.forget_token();
                Outcome::Retry {
                    status: "401".into(),
                    retry_after: None,
                }
            }
            (429 | 500 | 503, _) => Outcome::Retry {
                status: format!("{status} {code}").trim().to_owned(),
                retry_after: wait,
            },
            _ => Outcome::Refused { status },
        }
    }
}

/// The `FcmError.errorCode` in an error body's `details`, if any.
fn error_code(body: &serde_json::Value) -> String {
    body.pointer("/error/details")
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
        .find_map(|d| d.get("errorCode").and_then(|c| c.as_str()))
        .unwrap_or_default()
        .to_owned()
}

/// Whether `token` has the form of an FCM registration token: opaque, but
/// printable URL-safe characters (letters, digits, `-`, `_`, `:`) and at most
/// [`MAX_TOKEN_LEN`] bytes.
pub fn valid_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fcm_error_code_is_read_from_details() {
        let body = json!({"error": {"code": 404, "status": "NOT_FOUND", "details": [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}});
        assert_eq!(error_code(&body), "UNREGISTERED");
        assert_eq!(error_code(&json!({"error": {"code": 500}})), "");
    }

    #[test]
    fn fcm_tokens_are_bounded_and_url_safe() {
        assert!(valid_token("dGVzdA:APA91b-Ex_1"));
        assert!(!valid_token(""));
        assert!(!valid_token("a b"));
        assert!(!valid_token("a/b"));
        assert!(!valid_token(&"a".repeat(MAX_TOKEN_LEN + 1)));
    }
}
