//! `Idempotency-Key` on POSTs: the first request with a key runs and its
//! response is stored; the same key with the same request replays it; the same
//! key with a different request is refused with 422; the same key while its
//! first request still runs gets 409. Failures worth retrying (5xx) store
//! nothing, so a retry runs again.
//!
//! Two ways to hold the key while the request runs:
//! - [`IdempotencyKey::once`], for requests whose effect is in the relay's
//!   own database: a durable claim row (group commit, see
//!   [`crate::db::group`]) taken before the request runs and completed or
//!   released after it;
//! - [`IdempotencyKey::once_on_ledger`], for requests that forward a signed
//!   statement: the contract already refuses a statement's second use (its
//!   one-time `jti`), so a durable claim adds nothing but a synced commit on
//!   the request's path. The key is held in this process's memory, the
//!   stored response is written after the answer (through the group commit,
//!   as [`Durability::Rebuildable`]: without a sync of its own) and the key
//!   is released once it is stored. A request whose response was lost in a
//!   crash runs again on retry, and the contract's nonce check answers it.
//!   A key that [`crate::known_keys`] says was never stored skips the read
//!   of its record.

use std::collections::HashMap;
use std::future::{Future, Ready, ready};
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError as _, dev::Payload};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::db::group::Durability;
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

/// The keys whose ledger-bound request runs in this process, with the
/// record of those that finished and whose record is being stored.
#[derive(Debug, Default, Clone)]
pub struct InFlight(Arc<Mutex<HashMap<(String, String), Busy>>>);

/// Why a key cannot be held now.
#[derive(Debug, Clone)]
enum Busy {
    /// Its request runs.
    Running,
    /// Its request finished; the record is being stored.
    Finished(Arc<IdempotencyRecord>),
}

impl InFlight {
    /// Holds `(scope, key)`, or says what holds it.
    fn hold(&self, scope: &str, key: &str) -> Result<Held, Busy> {
        let entry = (scope.to_owned(), key.to_owned());
        let mut keys = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = keys.get(&entry) {
            return Err(running.clone());
        }
        keys.insert(entry.clone(), Busy::Running);
        Ok(Held {
            keys: self.clone(),
            entry,
        })
    }
}

/// A held key; dropping it releases the key.
#[derive(Debug)]
struct Held {
    keys: InFlight,
    entry: (String, String),
}

impl Held {
    /// Records the finished request's record, answered to retries until released.
    fn finish(&self, record: IdempotencyRecord) {
        let mut keys = self.keys.0.lock().unwrap_or_else(PoisonError::into_inner);
        keys.insert(self.entry.clone(), Busy::Finished(Arc::new(record)));
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut keys = self.keys.0.lock().unwrap_or_else(PoisonError::into_inner);
        keys.remove(&self.entry);
    }
}

/// The answer to a request whose key has a stored record.
fn replay(stored: IdempotencyRecord, request_hash: &str) -> Result<HttpResponse, ApiError> {
    if stored.request_hash != request_hash {
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
        .insert_header(("Idempotent-Replayed", "true"))
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

/// The HTTP answer of a stored outcome.
fn respond(
    status: StatusCode,
    text: String,
    err: Option<ApiError>,
) -> Result<HttpResponse, ApiError> {
    match err {
        Some(err) => Err(err),
        None => Ok(HttpResponse::build(status)
            .insert_header(ContentType::json())
            .body(text)),
    }
}

impl IdempotencyKey {
    /// The key and the hash of method, path and body; `None` without a key.
    fn keyed(&self, request: &impl Serialize) -> Option<(String, String)> {
        let key = self.key.clone()?;
        let mut hasher = Sha256::new();
        hasher.update(self.target.as_bytes());
        hasher.update([0]);
        hasher.update(serde_json::to_vec(request).unwrap_or_default());
        Some((key, hex::encode(hasher.finalize())))
    }

    /// Runs `f` at most once per (scope, key) and request, holding the key by
    /// a durable claim; see the module docs.
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
            request_hash: request_hash.clone(),
            status: idempotency::IN_PROGRESS.into(),
            status_code: 0,
            response_body: String::new(),
            created_at: db::now(),
        };
        state.known.insert(scope, &key);
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
                respond(status, text, err)
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

    /// Runs `f`, which forwards a signed statement, at most once per (scope,
    /// key) and request, holding the key in memory; see the module docs.
    /// The key is required.
    pub async fn once_on_ledger<T, F, Fut>(
        self,
        state: &AppState,
        scope: &str,
        request: &impl Serialize,
        f: F,
    ) -> Result<HttpResponse, ApiError>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(StatusCode, T), ApiError>>,
    {
        let (key, request_hash) = self
            .keyed(request)
            .ok_or(ApiError::IdempotencyKeyRequired)?;
        let held = match state.inflight.hold(scope, &key) {
            Ok(held) => held,
            Err(Busy::Finished(record)) => return replay((*record).clone(), &request_hash),
            Err(Busy::Running) => return Err(in_progress()),
        };
        // A key this relay never stored has no record: skip the read.
        if state.known.may_hold(scope, &key) {
            let (scope_owned, key_owned) = (scope.to_owned(), key.clone());
            let existing = db::run(&state.pool, move |conn| {
                idempotency::get(conn, &scope_owned, &key_owned)
            })
            .await?;
            if let Some(stored) = existing {
                return replay(stored, &request_hash);
            }
        }

        let (status, text, err) = outcome(f().await)?;
        let record = IdempotencyRecord {
            account_id: scope.to_owned(),
            idem_key: key,
            request_hash,
            status: idempotency::DONE.into(),
            status_code: i32::from(status.as_u16()),
            response_body: text.clone(),
            created_at: db::now(),
        };
        // Queued now, stored with the next group commit while the answer
        // goes out; until then a retry is answered from memory.
        held.finish(record.clone());
        state.known.insert(scope, &record.idem_key);
        match state.writes.queue(Durability::Rebuildable, move |conn| {
            idempotency::claim(conn, &record)
        }) {
            Ok(stored) => {
                actix_web::rt::spawn(async move {
                    if let Err(e) = stored.await {
                        tracing::warn!(error = %e, "cannot store an idempotent response");
                    }
                    drop(held);
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot store an idempotent response"),
        }
        respond(status, text, err)
    }
}
