//! Native push registration: the app hands the relay the token its platform
//! gave it (an APNs device token or an FCM registration token), so the relay
//! can wake the app when it is closed. Works for any logged-in account.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ClientError;
use crate::session::Session;

/// A push service a device token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushPlatform {
    /// Apple Push Notification service (iOS, iPadOS, macOS).
    Apns,
    /// Firebase Cloud Messaging (Android).
    Fcm,
}

/// A registration as the relay stored it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushDevice {
    /// The push service.
    pub platform: PushPlatform,
    /// The token as stored (APNs tokens in lower case).
    pub token: String,
    /// The app's bundle id or package name.
    pub app_id: String,
}

impl Session {
    /// Registers `token` of `platform` for app `app_id` (the bundle id, which
    /// is the APNs topic, or the Android package name) for this account.
    pub async fn register_push_token(
        &self,
        platform: PushPlatform,
        token: &str,
        app_id: &str,
    ) -> Result<PushDevice, ClientError> {
        let body = json!({ "platform": platform, "token": token, "app_id": app_id });
        self.post("v1/push/devices", &body).await
    }

    /// Removes this account's registration of `token`.
    pub async fn unregister_push_token(&self, token: &str) -> Result<(), ClientError> {
        let token: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
        self.delete(&format!("v1/push/devices/{token}")).await
    }
}
