//! `POST /v1/push/devices` and `DELETE /v1/push/devices/{token}`: the
//! caller's native push registrations (an APNs device token or an FCM
//! registration token, and the app it belongs to).

use actix_web::{HttpResponse, delete, post, web};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db;
use crate::error::ApiError;
use crate::push::device_store::{self, DeviceRow};
use crate::push::native::Platform;
use crate::push::{apns, fcm};
use crate::state::AppState;

/// The longest app id accepted (bundle ids and package names are far shorter).
pub const MAX_APP_ID_LEN: usize = 255;

/// A device to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// `apns` or `fcm`.
    #[schema(example = "apns")]
    pub platform: String,
    /// The token the platform gave the app: for APNs its device token in
    /// hexadecimal (64 digits today), for FCM the registration token.
    pub token: String,
    /// The app's bundle id (the APNs topic) or Android package name.
    #[schema(example = "org.carechain.app")]
    pub app_id: String,
}

/// A registered device.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceRegistered {
    /// `apns` or `fcm`.
    pub platform: String,
    /// The token as stored (APNs tokens in lower case), for `DELETE`.
    pub token: String,
    /// The app id.
    pub app_id: String,
}

/// Checks `body` and returns the platform and the normalised token.
fn validate(body: &NewDevice, topics: &[String]) -> Result<(Platform, String), ApiError> {
    let platform = Platform::parse(&body.platform).ok_or_else(|| {
        ApiError::bad_request(format!(
            "platform: expected apns or fcm, found {:?}",
            body.platform.chars().take(16).collect::<String>()
        ))
    })?;
    let app_ok = !body.app_id.is_empty()
        && body.app_id.len() <= MAX_APP_ID_LEN
        && body
            .app_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !app_ok {
        return Err(ApiError::bad_request(format!(
            "app_id: expected a bundle id or package name (letters, digits, '.', '-', '_'; 1 to \
             {MAX_APP_ID_LEN} bytes), found {} bytes",
            body.app_id.len()
        )));
    }
    let token = match platform {
        Platform::Apns => {
            if !apns::valid_token(&body.token) {
                return Err(ApiError::bad_request(format!(
                    "token: expected an APNs device token in hexadecimal (an even number of \
                     64 to 200 digits), found {} characters",
                    body.token.len()
                )));
            }
            if !topics.is_empty() && !topics.contains(&body.app_id) {
                return Err(ApiError::Unprocessable {
                    code: "push_app_refused",
                    detail: format!(
                        "app_id: expected one of the relay's APNs topics ({}), found {:?}",
                        topics.join(", "),
                        body.app_id
                    ),
                });
            }
            body.token.to_ascii_lowercase()
        }
        Platform::Fcm => {
            if !fcm::valid_token(&body.token) {
                return Err(ApiError::bad_request(format!(
                    "token: expected an FCM registration token (1 to {} letters, digits, '-', \
                     '_' or ':'), found {} bytes",
                    fcm::MAX_TOKEN_LEN,
                    body.token.len()
                )));
            }
            body.token.clone()
        }
    };
    Ok((platform, token))
}

/// Registers (or moves to the caller) a native push token.
#[utoipa::path(operation_id = "push_register_device", tag = "push", security(("bearer" = [])), request_body = NewDevice,
    responses((status = 201, body = DeviceRegistered), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 422, description = "the app id is not one of the relay's APNs topics", body = crate::error::Problem)))]
#[post("/v1/push/devices")]
pub async fn register(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewDevice>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.actor()?.to_owned();
    let body = body.into_inner();
    let topics = state
        .push
        .native
        .apns
        .as_ref()
        .map(|a| a.topics().to_vec())
        .unwrap_or_default();
    let (platform, token) = validate(&body, &topics)?;
    let row = DeviceRow {
        token: token.clone(),
        platform: platform.as_str().to_owned(),
        app_id: body.app_id.clone(),
        account_id: caller.account.clone(),
        actor_id: actor,
        created_at: db::now(),
    };
    db::run(&state.pool, move |c| device_store::register(c, &row)).await?;
    Ok(HttpResponse::Created().json(DeviceRegistered {
        platform: platform.as_str().to_owned(),
        token,
        app_id: body.app_id,
    }))
}

/// Removes one of the caller's native push tokens.
#[utoipa::path(operation_id = "push_unregister_device", tag = "push", security(("bearer" = [])), params(("token" = String, Path)),
    responses((status = 204), (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[delete("/v1/push/devices/{token}")]
pub async fn unregister(
    state: web::Data<AppState>,
    caller: Caller,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let account = caller.account.clone();
    let token = token.into_inner();
    // APNs tokens are stored in lower case.
    let token = if apns::valid_token(&token) {
        token.to_ascii_lowercase()
    } else {
        token
    };
    if db::run(&state.pool, move |c| {
        device_store::unregister(c, &account, &token)
    })
    .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(platform: &str, token: &str, app_id: &str) -> NewDevice {
        NewDevice {
            platform: platform.into(),
            token: token.into(),
            app_id: app_id.into(),
        }
    }

    #[test]
    fn tokens_platforms_and_apps_are_checked() {
        let hex = "AB".repeat(32);
        let ok = validate(&body("apns", &hex, "org.carechain.app"), &[]);
        assert_eq!(ok.ok(), Some((Platform::Apns, "ab".repeat(32))));
        for bad in [
            body("apns", &"ab".repeat(31), "a.b"),
            body("apns", &format!("{}z", "a".repeat(63)), "a.b"),
            body("apns", &"a".repeat(65), "a.b"),
            body("fcm", "has space", "a.b"),
            body("fcm", "", "a.b"),
            body("gcm", "x", "a.b"),
            body("fcm", "x", ""),
            body("fcm", "x", "a/b"),
        ] {
            assert!(
                matches!(validate(&bad, &[]), Err(ApiError::BadRequest(_))),
                "{bad:?}"
            );
        }
        let topics = vec!["org.carechain.app".to_owned()];
        assert!(matches!(
            validate(&body("apns", &hex, "org.other"), &topics),
            Err(ApiError::Unprocessable {
                code: "push_app_refused",
                ..
            })
        ));
        assert!(validate(&body("fcm", "tok:en_1-2", "org.other"), &topics).is_ok());
    }
}
