//! Native push (APNs and FCM) beside Web Push: the senders, the alert texts
//! per event kind, and the pieces both senders share.
//!
//! A native push wakes a closed app; like a Web Push it carries only the
//! outbox id and the event kind (`{"id": …, "kind": …}`), never medical
//! data, and the app fetches the event over its authenticated socket. The
//! visible alert is a fixed text per kind, configurable by the operator.
//! A sender is on only when configured (see [`Native::from_env`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::push::apns::{Apns, ApnsConfig};
use crate::push::fcm::{Fcm, FcmConfig};
use crate::push::webpush::Outcome;

/// The HTTP timeout of one request to APNs, FCM or the token endpoint.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Why native push could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// A setting or key file is missing or malformed.
    #[error("native push: {0}")]
    Config(String),
}

/// A push service a device is registered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Apple Push Notification service.
    Apns,
    /// Firebase Cloud Messaging.
    Fcm,
}

impl Platform {
    /// `apns` or `fcm`, as stored and as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Apns => "apns",
            Platform::Fcm => "fcm",
        }
    }

    /// Parses `apns` or `fcm`.
    pub fn parse(text: &str) -> Option<Platform> {
        match text {
            "apns" => Some(Platform::Apns),
            "fcm" => Some(Platform::Fcm),
            _ => None,
        }
    }
}

/// What a native push announces: an outbox row, by id and kind only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The outbox row id.
    pub outbox_id: i64,
    /// The event kind (e.g. `access_requested`).
    pub kind: String,
}

impl Notification {
    /// The collapse id (APNs `apns-collapse-id`, FCM `collapse_key`): one
    /// per event, so a retried send replaces rather than repeats the alert.
    pub fn collapse_id(&self) -> String {
        format!("carechain-{}", self.outbox_id)
    }
}

/// The visible text of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// The title.
    pub title: String,
    /// The body.
    pub body: String,
}

/// The alert texts: one title, and a body per event kind with a fallback.
#[derive(Debug, Clone)]
pub struct Alerts {
    title: String,
    by_kind: HashMap<String, String>,
    fallback: String,
}

impl Default for Alerts {
    fn default() -> Alerts {
        let by_kind = [
            (
                "access_requested",
                "A doctor asks for access to your records.",
            ),
            ("access_granted", "Your access request was granted."),
            ("access_denied", "Your access request was denied."),
            ("access_revoked", "An access grant was revoked."),
            ("record_written", "A new record is available."),
            ("record_read", "One of your records was read."),
            (
                "policy_purchased",
                "A policy purchase awaits your decision.",
            ),
            ("policy_issued", "Your policy was issued."),
            ("policy_declined", "Your policy purchase was declined."),
            ("claim_decided", "Your claim was decided."),
            ("claim_paid", "Your claim was paid."),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Alerts {
            title: "CareChain".into(),
            by_kind,
            fallback: "You have a new notification.".into(),
        }
    }
}

impl Alerts {
    /// The defaults, with the title from `CARECHAIN_PUSH_ALERT_TITLE` and
    /// bodies from `CARECHAIN_PUSH_ALERTS` (a JSON object from kind to text;
    /// the key `default` replaces the fallback) read through `var`.
    pub fn from_env(var: &impl Fn(&str) -> Option<String>) -> Result<Alerts, NativeError> {
        let mut alerts = Alerts::default();
        if let Some(title) = var("CARECHAIN_PUSH_ALERT_TITLE") {
            alerts.title = title;
        }
        if let Some(json) = var("CARECHAIN_PUSH_ALERTS") {
            let texts: HashMap<String, String> = serde_json::from_str(&json).map_err(|e| {
                NativeError::Config(format!(
                    "CARECHAIN_PUSH_ALERTS: expected a JSON object of kind to text ({e})"
                ))
            })?;
            for (kind, text) in texts {
                if kind == "default" {
                    alerts.fallback = text;
                } else {
                    alerts.by_kind.insert(kind, text);
                }
            }
        }
        Ok(alerts)
    }

    /// The alert for an event of `kind`.
    pub fn for_kind(&self, kind: &str) -> Alert {
        Alert {
            title: self.title.clone(),
            body: self.by_kind.get(kind).unwrap_or(&self.fallback).clone(),
        }
    }
}

/// Native push: the configured senders, the alert texts, and the worker's wake-up.
#[derive(Debug, Default)]
pub struct Native {
    /// The APNs sender, when configured.
    pub apns: Option<Apns>,
    /// The FCM sender, when configured.
    pub fcm: Option<Fcm>,
    /// The alert texts.
    pub alerts: Alerts,
    /// Wakes the native worker when deliveries were enqueued.
    pub wake: Arc<Notify>,
}

impl Native {
    /// The senders and texts configured through `var` (see docs/push.md):
    /// APNs with `CARECHAIN_APNS_KEY_FILE`, FCM with
    /// `CARECHAIN_FCM_SERVICE_ACCOUNT`; neither set, native push is off.
    pub fn from_env(
        var: impl Fn(&str) -> Option<String>,
        ttl_secs: u32,
    ) -> Result<Native, NativeError> {
        let apns = ApnsConfig::from_env(&var, ttl_secs)?
            .map(Apns::new)
            .transpose()?;
        let fcm = FcmConfig::from_env(&var, ttl_secs)?
            .map(Fcm::new)
            .transpose()?;
        Ok(Native {
            apns,
            fcm,
            alerts: Alerts::from_env(&var)?,
            wake: Arc::default(),
        })
    }

    /// Whether any sender is configured.
    pub fn is_on(&self) -> bool {
        self.apns.is_some() || self.fcm.is_some()
    }
}

/// The HTTP/2 client of both senders: HTTP/2 only (ALPN `h2` over TLS,
/// prior knowledge over cleartext to a local test server), no redirects.
pub fn http2_client() -> Result<reqwest::Client, NativeError> {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(SEND_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| NativeError::Config(format!("HTTP/2 client: {e}")))
}

/// Sends `request` once and reads the answer: its status, `Retry-After`
/// and JSON body (`Null` when there is none); a transport failure is the
/// [`Outcome`] to record (retry). `service` names the service in logs.
pub async fn send_once(
    request: reqwest::RequestBuilder,
    service: &str,
) -> Result<(u16, Option<Duration>, serde_json::Value), Outcome> {
    let res = request.send().await.map_err(|e| {
        tracing::debug!(error = %e.without_url(), service, "push transport error");
        Outcome::Retry {
            status: "network".into(),
            retry_after: None,
        }
    })?;
    let status = res.status().as_u16();
    let wait = retry_after_of(res.headers());
    let body = res
        .bytes()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    Ok((status, wait, body))
}

/// The DER inside a PEM block labelled `label` (e.g. `PRIVATE KEY`), if `text` holds one.
pub fn pem_der(text: &str, label: &str) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    use base64::Engine as _;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let b64: zeroize::Zeroizing<String> = zeroize::Zeroizing::new(
        text[start..stop]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect(),
    );
    base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .ok()
        .map(zeroize::Zeroizing::new)
}

/// The `Retry-After` of a response, if present and well-formed.
pub fn retry_after_of(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| crate::push::webpush::retry_after(v, std::time::SystemTime::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_have_defaults_and_take_overrides() {
        let env = |name: &str| match name {
            "CARECHAIN_PUSH_ALERT_TITLE" => Some("Clinic".to_owned()),
            "CARECHAIN_PUSH_ALERTS" => {
                Some(r#"{"access_requested": "Someone asks", "default": "News"}"#.to_owned())
            }
            _ => None,
        };
        let alerts = Alerts::from_env(&env).unwrap_or_default();
        assert_eq!(
            alerts.for_kind("access_requested"),
            Alert {
                title: "Clinic".into(),
                body: "Someone asks".into()
            }
        );
        assert_eq!(alerts.for_kind("claim_paid").body, "Your claim was paid.");
        assert_eq!(alerts.for_kind("unknown").body, "News");
        let bad = |name: &str| (name == "CARECHAIN_PUSH_ALERTS").then(|| "[1]".to_owned());
        assert!(Alerts::from_env(&bad).is_err());
    }

    #[test]
    fn nothing_configured_means_native_push_is_off() {
        let native = Native::from_env(|_| None, 60);
        assert!(native.is_ok_and(|n| !n.is_on()));
        let half = |name: &str| {
            (name == "CARECHAIN_APNS_KEY_FILE").then(|| "/nonexistent/key.p8".to_owned())
        };
        assert!(Native::from_env(half, 60).is_err());
    }
}
