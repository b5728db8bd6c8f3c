//! `Idempotency-Key` on POSTs: the first request with a key runs and its
//! response is stored; the same key with the same request replays it; the same
//! key with a different request is refused with 422. Failures worth retrying
//! (5xx) release the key.
//!
//! The claim, the stored answer and the release go through the group commit
//! of [`crate::db::group`]: each is durable (a synced commit) before the
//! request goes on, but concurrent requests share one commit and one fsync.

use std::future::{Future, Ready, ready};

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError as _, dev::Payload};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::db::{self, idempotency, models::IdempotencyRecord};
use crate::error::{ApiError, problem_mime};
use crate::state::AppState;

/// The header name.
pub const HEADER: &str = "Idempotency-Key";

/// The `Idempotency-Key` header of a request, with the request's method and path.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    key: Option<String>,
    target: String,
}

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let target = format!("{} {}", req.method(), req.path());
        let key = match req.headers().get(HEADER) {
            None => None,
            Some(value) => match value.to_str() {
                Ok(v) if (1..=255).contains(&v.len()) => Some(v.to_owned()),
                _ => {
                    return ready(Err(ApiError::bad_request(
                        "Idempotency-Key must be 1 to 255 visible ASCII characters",
                    )));
                }
            },
        };
        ready(Ok(IdempotencyKey { key, target }))
    }
}

impl IdempotencyKey {
    /// Runs `f` at most once per (scope, key) and request; see the module docs.
    pub async fn once<T, F, Fut>(
        self,
        state: &AppState,
        scope: &str,
        required: bool,
        request: &impl Serialize,
        f: F,
    ) -> Result<HttpResponse, ApiError>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(StatusCode, T), ApiError>>,
    {
        let Some(key) = self.key else {
            if required {
                return Err(ApiError::IdempotencyKeyRequired);
            }
            let (status, body) = f().await?;
            return Ok(HttpResponse::build(status).json(body));
        };
        let mut hasher = Sha256::new();
        hasher.update(self.target.as_bytes());
        hasher.update([0]);
        hasher.update(serde_json::to_vec(request).unwrap_or_default());
        let request_hash = hex::encode(hasher.finalize());

        let record = IdempotencyRecord {
            account_id: scope.to_owned(),
            idem_key: key.clone(),
            request_hash: request_hash.clone(),
            status: idempotency::IN_PROGRESS.into(),
            status_code: 0,
            response_body: String::new(),
            created_at: db::now(),
        };
        let (scope_owned, key_owned) = (scope.to_owned(), key.clone());
        let existing = state
            .writes
            .run(move |conn| {
                if idempotency::claim(conn, &record)? {
                    Ok(None)
                } else {
                    idempotency::get(conn, &scope_owned, &key_owned)
                }
            })
            .await?;
        if let Some(stored) = existing {
            if stored.request_hash != request_hash {
                return Err(ApiError::IdempotencyKeyReused);
            }
            if stored.status != idempotency::DONE {
                return Err(ApiError::Conflict(
                    "a request with this Idempotency-Key is still in progress".into(),
                ));
            }
            let status = u16::try_from(stored.status_code)
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK);
            let content = if status.is_success() {
                ContentType::json()
            } else {
                ContentType(problem_mime())
            };
            return Ok(HttpResponse::build(status)
                .insert_header(content)
                .insert_header(("Idempotent-Replayed", "true"))
                .body(stored.response_body));
        }

        let outcome = f().await;
        let (scope, key) = (scope.to_owned(), key);
        match outcome {
            Ok((status, body)) => {
                let text = serde_json::to_string(&body)
                    .map_err(|e| ApiError::internal(format!("response: {e}")))?;
                let stored = text.clone();
                let code = i32::from(status.as_u16());
                state
                    .writes
                    .run(move |conn| idempotency::complete(conn, &scope, &key, code, &stored))
                    .await?;
                Ok(HttpResponse::build(status)
                    .insert_header(ContentType::json())
                    .body(text))
            }
            Err(err) if err.status_code().is_client_error() => {
                let text = serde_json::to_string(&err.problem()).unwrap_or_default();
                let code = i32::from(err.status_code().as_u16());
                state
                    .writes
                    .run(move |conn| idempotency::complete(conn, &scope, &key, code, &text))
                    .await?;
                Err(err)
            }
            Err(err) => {
                state
                    .writes
                    .run(move |conn| idempotency::release(conn, &scope, &key))
                    .await?;
                Err(err)
            }
        }
    }
}
