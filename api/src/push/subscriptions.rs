//! `POST /v1/push/subscriptions` and `DELETE /v1/push/subscriptions/{id}`:
//! the Web Push subscriptions of the caller (a browser's or UnifiedPush
//! distributor's `endpoint`, `p256dh` and `auth`).

use actix_web::{HttpResponse, delete, post, web};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db;
use crate::error::ApiError;
use crate::push::endpoint;
use crate::push::store::{self, SubscriptionRow};
use crate::push::webpush::{b64, parse_p256dh};
use crate::state::AppState;

/// The keys of a subscription, as `PushSubscription.toJSON()` gives them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SubscriptionKeys {
    /// The user agent's P-256 public key, base64url (65-byte uncompressed point).
    pub p256dh: String,
    /// The 16-byte auth secret, base64url.
    pub auth: String,
}

/// A new subscription.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewSubscription {
    /// The push service URL: `https` on a public address (or a host on the
    /// relay's allow-list).
    pub endpoint: String,
    /// Its keys.
    pub keys: SubscriptionKeys,
    /// Ignored (browsers send it).
    #[serde(rename = "expirationTime", default)]
    #[schema(value_type = Option<i64>)]
    pub expiration_time: Option<serde_json::Value>,
}

/// A stored subscription's id.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubscriptionCreated {
    /// Its id, for `DELETE`.
    pub id: String,
}

/// Registers (or refreshes, by endpoint) a Web Push subscription of the caller.
#[utoipa::path(operation_id = "push_subscribe", tag = "push", security(("bearer" = [])), request_body = NewSubscription,
    responses((status = 201, body = SubscriptionCreated), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, description = "the endpoint is not https on a public address", body = crate::error::Problem)))]
#[post("/v1/push/subscriptions")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewSubscription>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.actor()?.to_owned();
    let body = body.into_inner();
    parse_p256dh(&b64(&body.keys.p256dh)?)?;
    if b64(&body.keys.auth)?.len() != 16 {
        return Err(ApiError::bad_request("auth must be a 16-byte secret"));
    }
    endpoint::check(&body.endpoint, &state.push.config.allow)
        .await
        .map_err(|e| ApiError::Unprocessable {
            code: "push_endpoint_refused",
            detail: e.to_string(),
        })?;
    let row = SubscriptionRow {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: caller.account.clone(),
        actor_id: actor,
        endpoint: body.endpoint,
        p256dh: body.keys.p256dh.trim_end_matches('=').to_owned(),
        auth: body.keys.auth.trim_end_matches('=').to_owned(),
        created_at: db::now(),
    };
    let id = db::run(&state.pool, move |c| store::subscribe(c, &row)).await?;
    Ok(HttpResponse::Created().json(SubscriptionCreated { id }))
}

/// Removes one of the caller's subscriptions.
#[utoipa::path(operation_id = "push_unsubscribe", tag = "push", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[delete("/v1/push/subscriptions/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let account = caller.account.clone();
    let id = id.into_inner();
    if db::run(&state.pool, move |c| store::unsubscribe(c, &account, &id)).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound)
    }
}
