//! The APNs sender: Apple's HTTP/2 provider API with token-based
//! authentication.
//!
//! Each request is `POST /3/device/<token>` on `api.push.apple.com` (or
//! `api.sandbox.push.apple.com`) over HTTP/2, with `authorization: bearer
//! <JWT>` — an ES256 JWT whose header names the `.p8` key (`kid`) and whose
//! claims are the team (`iss`) and the issue time (`iat`). Apple refuses a
//! token older than an hour and one renewed more than once every 20
//! minutes, so one token is cached and renewed after [`TOKEN_REFRESH`].
//! The body carries only the outbox id and the event kind besides the alert.

use std::sync::Mutex;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use zeroize::Zeroizing;

use crate::push::native::{Alert, NativeError, Notification, http2_client, pem_der, send_once};
use crate::push::webpush::Outcome;

/// Apple's production host.
pub const PRODUCTION: &str = "https://api.push.apple.com";
/// Apple's sandbox (development) host.
pub const SANDBOX: &str = "https://api.sandbox.push.apple.com";
/// How long one provider token is used before a new one is signed.
pub const TOKEN_REFRESH: Duration = Duration::from_secs(50 * 60);

/// APNs settings.
#[derive(Clone)]
pub struct ApnsConfig {
    /// The `.p8` signing key (PKCS#8 PEM).
    pub key_pem: Zeroizing<String>,
    /// The key's id (the JWT `kid`).
    pub key_id: String,
    /// The developer team id (the JWT `iss`).
    pub team_id: String,
    /// The bundle ids (`apns-topic`) devices may register for; empty: any.
    pub topics: Vec<String>,
    /// `https://api.push.apple.com`, the sandbox host, or a test server.
    pub base_url: String,
    /// Seconds APNs keeps an undelivered notification (`apns-expiration`).
    pub ttl_secs: u32,
}

impl std::fmt::Debug for ApnsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApnsConfig")
            .field("key_id", &self.key_id)
            .field("team_id", &self.team_id)
            .field("topics", &self.topics)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl ApnsConfig {
    /// From `CARECHAIN_APNS_KEY_FILE`, `_KEY_ID`, `_TEAM_ID`, `_TOPIC`
    /// (comma-separated bundle ids) and `_HOST` (`production`, `sandbox` or a
    /// URL) read through `var`; `None` when no key file is set.
    pub fn from_env(
        var: &impl Fn(&str) -> Option<String>,
        ttl_secs: u32,
    ) -> Result<Option<ApnsConfig>, NativeError> {
        let Some(path) = var("CARECHAIN_APNS_KEY_FILE") else {
            return Ok(None);
        };
        let key_pem = Zeroizing::new(
            std::fs::read_to_string(&path)
                .map_err(|e| NativeError::Config(format!("APNs key file {path}: {e}")))?,
        );
        let required = |name: &'static str| {
            var(name).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                NativeError::Config(format!("{name} must be set with CARECHAIN_APNS_KEY_FILE"))
            })
        };
        let base_url = match var("CARECHAIN_APNS_HOST").as_deref() {
            None | Some("production") => PRODUCTION.to_owned(),
            Some("sandbox") => SANDBOX.to_owned(),
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                url.trim_end_matches('/').to_owned()
            }
            Some(other) => {
                return Err(NativeError::Config(format!(
                    "CARECHAIN_APNS_HOST: expected production, sandbox or a URL, found {other:?}"
                )));
            }
        };
        let topics = var("CARECHAIN_APNS_TOPIC")
            .map(|t| {
                t.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(ApnsConfig {
            key_pem,
            key_id: required("CARECHAIN_APNS_KEY_ID")?,
            team_id: required("CARECHAIN_APNS_TEAM_ID")?,
            topics,
            base_url,
            ttl_secs,
        }))
    }
}

/// The APNs sender: its key, the cached provider token and an HTTP/2 client.
pub struct Apns {
    config: ApnsConfig,
    key: EncodingKey,
    token: Mutex<Option<(String, i64)>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Apns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Apns")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Apns {
    /// A sender for `config`; refuses a key that is not a P-256 PKCS#8 key.
    pub fn new(config: ApnsConfig) -> Result<Apns, NativeError> {
        use p256::pkcs8::DecodePrivateKey as _;
        let refused = || NativeError::Config("APNs key: expected a PKCS#8 P-256 .p8 key".into());
        let der = pem_der(&config.key_pem, "PRIVATE KEY").ok_or_else(refused)?;
        p256::SecretKey::from_pkcs8_der(&der).map_err(|_| refused())?;
        let key = EncodingKey::from_ec_der(&der);
        let apns = Apns {
            config,
            key,
            token: Mutex::new(None),
            http: http2_client()?,
        };
        // Fail at start, not at the first push, on a key that cannot sign.
        apns.sign(0)?;
        Ok(apns)
    }

    /// The bundle ids devices may register for (empty: any).
    pub fn topics(&self) -> &[String] {
        &self.config.topics
    }

    fn sign(&self, now: i64) -> Result<String, NativeError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.config.key_id.clone());
        header.typ = None;
        let claims = json!({ "iss": self.config.team_id, "iat": now });
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|_| NativeError::Config("APNs key cannot sign".into()))
    }

    /// The provider token at `now` (Unix seconds): the cached one while it
    /// is younger than [`TOKEN_REFRESH`], else a fresh one.
    pub fn provider_token(&self, now: i64) -> Result<String, NativeError> {
        let mut cached = self
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let refresh = i64::try_from(TOKEN_REFRESH.as_secs()).unwrap_or(3000);
        if let Some((jwt, iat)) = cached.as_ref()
            && now >= *iat
            && now - iat < refresh
        {
            return Ok(jwt.clone());
        }
        let jwt = self.sign(now)?;
        *cached = Some((jwt.clone(), now));
        Ok(jwt)
    }

    fn forget_token(&self) {
        *self
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// The JSON body for `note`: the alert, and only the id and kind.
    pub fn body(note: &Notification, alert: &Alert) -> serde_json::Value {
        json!({
            "aps": {
                "alert": { "title": alert.title, "body": alert.body },
                "sound": "default",
            },
            "id": note.outbox_id,
            "kind": note.kind,
        })
    }

    /// Sends `note` to `token` (for app `topic`) once.
    pub async fn send(
        &self,
        token: &str,
        topic: &str,
        note: &Notification,
        alert: &Alert,
        now: i64,
    ) -> Outcome {
        let jwt = match self.provider_token(now) {
            Ok(jwt) => jwt,
            Err(e) => {
                tracing::warn!(error = %e, "APNs provider token");
                return Outcome::Retry {
                    status: "token".into(),
                    retry_after: None,
                };
            }
        };
        let url = format!("{}/3/device/{token}", self.config.base_url);
        let request = self
            .http
            .post(url)
            .header("authorization", format!("bearer {jwt}"))
            .header("apns-topic", topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            .header(
                "apns-expiration",
                (now + i64::from(self.config.ttl_secs)).to_string(),
            )
            .header("apns-collapse-id", note.collapse_id())
            .header("content-type", "application/json")
            .body(Apns::body(note, alert).to_string());
        match send_once(request, "APNs").await {
            Ok((status, wait, body)) => {
                let reason = body.get("reason").and_then(|r| r.as_str()).unwrap_or("");
                self.outcome(status, reason, wait)
            }
            Err(outcome) => outcome,
        }
    }

    /// What APNs's answer means (Apple's status codes and reasons).
    fn outcome(&self, status: u16, reason: &str, retry_after: Option<Duration>) -> Outcome {
        match (status, reason) {
            (200, _) => Outcome::Delivered,
            (410, _) | (400, "BadDeviceToken" | "Unregistered") => Outcome::Gone,
            // A stale or refused provider token: sign a new one next time.
            (403, "ExpiredProviderToken" | "InvalidProviderToken") => {
                self.forget_token();
                Outcome::Retry {
                    status: format!("403 {reason}"),
                    retry_after: None,
                }
            }
            (429 | 500 | 503, _) => Outcome::Retry {
                status: format!("{status} {reason}").trim().to_owned(),
                retry_after,
            },
            _ => Outcome::Refused { status },
        }
    }
}

/// Whether `token` has the form of an APNs device token: hexadecimal with
/// an even number of digits, 64 today. Apple documents the token as opaque
/// bytes of variable length, so up to 200 digits are accepted.
pub fn valid_token(token: &str) -> bool {
    (64..=200).contains(&token.len())
        && token.len().is_multiple_of(2)
        && token.bytes().all(|b| b.is_ascii_hexdigit())
}
