//! `Idempotency-Key` on POSTs: the first request with a key runs; the same
//! key with the same request gets the first one's answer; the same key with
//! a different request is refused with 422; the same key while its first
//! request still runs gets 409. Failures worth retrying (5xx) leave nothing
//! behind, so a retry runs again.
//!
//! Two ways to keep that promise:
//! - [`IdempotencyKey::once`], for requests whose effect is in the relay's
//!   own database: a durable claim row (group commit, see
//!   [`crate::db::group`]) taken before the request runs and completed with
//!   the answer, or released, after it;
//! - [`IdempotencyKey::once_on_ledger`], for requests that forward a signed
//!   statement. The ledger already holds what a stored answer would: the
//!   contract runs a statement once (its one-time `jti`), and a statement
//!   sent again is answered with the transaction that ran it (see
//!   [`crate::forward::submit`]), after a lost answer, a timeout or a relay
//!   crash alike. So nothing is stored: the key is held in memory while its
//!   request runs (409 for another) and remembered for a window to refuse
//!   its use with another request (422, see [`recent`]). A refused statement
//!   changed nothing, so its retry runs again. Relays sharing a PostgreSQL
//!   database also bind each key to its request in the database
//!   ([`crate::db::idempotency::bind`]), so the 422 holds on every relay. Rows that earlier relay
//!   versions stored for such requests are no longer read: the ledger gives
//!   the same answer.

use std::cell::Cell;
use std::future::{Future, Ready, ready};

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError as _, dev::Payload};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::db::group::Durability;
use crate::db::{self, idempotency, models::IdempotencyRecord};
use crate::error::{ApiError, problem_mime};
use crate::state::AppState;

pub mod recent;

pub use recent::Recent;

/// The header name.
pub const HEADER: &str = "Idempotency-Key";

tokio::task_local! {
    /// Whether the ledger answered the running ledger-bound request with
    /// the transaction of an earlier one.
    static ANSWERED_BEFORE: Cell<bool>;
}

/// Marks the running ledger-bound request's answer as the replay of an
/// earlier request's (see [`crate::forward::submit`]); outside
/// [`IdempotencyKey::once_on_ledger`] it does nothing.
pub(crate) fn answered_before() {
    let _ = ANSWERED_BEFORE.try_with(|replayed| replayed.set(true));
}

/// Binds `key` of `scope` to the request hashed `request_hash` in the
/// database other relays share; false if another request holds it.
async fn bound_here(
    state: &AppState,
    scope: &str,
    key: &str,
    request_hash: &[u8; 32],
) -> Result<bool, ApiError> {
    let (scope, key, hash) = (scope.to_owned(), key.to_owned(), hex::encode(request_hash));
    let now = db::now();
    let stale = now - i64::try_from(recent::WINDOW.as_secs()).unwrap_or(86_400);
    state
        .writes
        .run(Durability::Rebuildable, move |conn| {
            idempotency::bind(conn, &scope, &key, &hash, now, stale)
        })
        .await
}

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

/// The answer to a request whose key has a stored record.
fn replay(stored: IdempotencyRecord, request_hash: &[u8; 32]) -> Result<HttpResponse, ApiError> {
    if stored.request_hash != hex::encode(request_hash) {
        return Err(ApiError::IdempotencyKeyReused);
    }
    if stored.status != idempotency::DONE {
        return Err(in_progress());
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
    Ok(HttpResponse::build(status)
        .insert_header(content)
        .insert_header(REPLAYED)
        .body(stored.response_body))
}

/// The 409 for a key whose first request still runs.
fn in_progress() -> ApiError {
    ApiError::Conflict("a request with this Idempotency-Key is still in progress".into())
}

/// What a finished request stores and answers: `Ok((status, body text, the
/// 4xx error to answer with))` for an answer worth storing (success or 4xx),
/// `Err` for one that is not (5xx).
type Outcome = Result<(StatusCode, String, Option<ApiError>), ApiError>;

/// The work an idempotency key guards: run once, answering a status and a body.
pub trait Work<T>: FnOnce() -> Self::Answer {
    /// The future of the answer.
    type Answer: Future<Output = Result<(StatusCode, T), ApiError>>;
}

impl<T, F, Fut> Work<T> for F
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(StatusCode, T), ApiError>>,
{
    type Answer = Fut;
}

/// Serializes a request's result into what is stored and answered.
fn outcome<T: Serialize>(result: Result<(StatusCode, T), ApiError>) -> Outcome {
    match result {
        Ok((status, body)) => {
            let text = serde_json::to_string(&body)
                .map_err(|e| ApiError::internal(format!("response: {e}")))?;
            Ok((status, text, None))
        }
        Err(err) if err.status_code().is_client_error() => {
            let text = serde_json::to_string(&err.problem()).unwrap_or_default();
            Ok((err.status_code(), text, Some(err)))
        }
        Err(err) => Err(err),
    }
}

/// The header that marks an answer as the replay of an earlier request's.
const REPLAYED: (&str, &str) = ("Idempotent-Replayed", "true");

/// The HTTP answer of an outcome, marked when it replays an earlier request's.
fn respond(
    status: StatusCode,
    text: String,
    err: Option<ApiError>,
    replayed: bool,
) -> Result<HttpResponse, ApiError> {
    if let Some(err) = err {
        return Err(err);
    }
    let mut answer = HttpResponse::build(status);
    answer.insert_header(ContentType::json());
    if replayed {
        answer.insert_header(REPLAYED);
    }
    Ok(answer.body(text))
}

impl IdempotencyKey {
    /// The key and the hash of method, path and body; `None` without a key.
    fn keyed(&self, request: &impl Serialize) -> Option<(String, [u8; 32])> {
        let key = self.key.clone()?;
        let mut hasher = Sha256::new();
        hasher.update(self.target.as_bytes());
        hasher.update([0]);
        hasher.update(serde_json::to_vec(request).unwrap_or_default());
        Some((key, hasher.finalize().into()))
    }

    /// Runs `f` at most once per (scope, key) and request, holding the key by
    /// a durable claim; see the module docs.
    pub async fn once<T: Serialize>(
        self,
        state: &AppState,
        scope: &str,
        required: bool,
        request: &impl Serialize,
        f: impl Work<T>,
    ) -> Result<HttpResponse, ApiError> {
        let Some((key, request_hash)) = self.keyed(request) else {
            if required {
                return Err(ApiError::IdempotencyKeyRequired);
            }
            let (status, body) = f().await?;
            return Ok(HttpResponse::build(status).json(body));
        };
        let record = IdempotencyRecord {
            account_id: scope.to_owned(),
            idem_key: key.clone(),
            request_hash: hex::encode(request_hash),
            status: idempotency::IN_PROGRESS.into(),
            status_code: 0,
            response_body: String::new(),
            created_at: db::now(),
        };
        let (scope_owned, key_owned) = (scope.to_owned(), key.clone());
        let existing = state
            .writes
            .run(Durability::Synced, move |conn| {
                if idempotency::claim(conn, &record)? {
                    Ok(None)
                } else {
                    idempotency::get(conn, &scope_owned, &key_owned)
                }
            })
            .await?;
        if let Some(stored) = existing {
            return replay(stored, &request_hash);
        }

        let (scope, key) = (scope.to_owned(), key);
        match outcome(f().await) {
            Ok((status, text, err)) => {
                let (stored, code) = (text.clone(), i32::from(status.as_u16()));
                state
                    .writes
                    .run(Durability::Synced, move |conn| {
                        idempotency::complete(conn, &scope, &key, code, &stored)
                    })
                    .await?;
                respond(status, text, err, false)
            }
            Err(err) => {
                state
                    .writes
                    .run(Durability::Synced, move |conn| {
                        idempotency::release(conn, &scope, &key)
                    })
                    .await?;
                Err(err)
            }
        }
    }

    /// Runs `f`, which forwards a signed statement, holding the key in
    /// memory while it runs; see the module docs. The key is required.
    pub async fn once_on_ledger<T: Serialize>(
        self,
        state: &AppState,
        scope: &str,
        request: &impl Serialize,
        f: impl Work<T>,
    ) -> Result<HttpResponse, ApiError> {
        let (key, request_hash) = self
            .keyed(request)
            .ok_or(ApiError::IdempotencyKeyRequired)?;
        let _held = match state.recent.hold(scope, &key, request_hash) {
            Ok(held) => held,
            Err(recent::Busy::Running) => return Err(in_progress()),
            Err(recent::Busy::Reused) => return Err(ApiError::IdempotencyKeyReused),
        };
        if state.shared_database && !bound_here(state, scope, &key, &request_hash).await? {
            return Err(ApiError::IdempotencyKeyReused);
        }
        let run = async {
            let result = f().await;
            (result, ANSWERED_BEFORE.with(Cell::get))
        };
        let (result, replayed) = ANSWERED_BEFORE.scope(Cell::new(false), run).await;
        let (status, text, err) = outcome(result)?;
        respond(status, text, err, replayed)
    }
}
