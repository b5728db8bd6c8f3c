//! Authentication: argon2id passwords, HS256 access tokens with pinned
//! `alg`/`iss`/`aud`/`exp`, rotating refresh tokens, the patient's signed
//! login challenge, login rate limits shared through the database, and the [`Caller`] extractor.

pub mod active;
pub mod password;
pub mod tokens;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures::future::LocalBoxFuture;
use sha2::{Digest as _, Sha256};

use crate::db::limits::{self, Quota};
use crate::db::{self, DbPool, accounts};
use crate::types::status;

use crate::error::ApiError;
use crate::state::AppState;
use crate::types::AccountRole;

/// The authenticated caller of a request, from a valid access token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account id.
    pub account: String,
    /// The account's role.
    pub role: AccountRole,
    /// The account's ledger actor id, if it has one.
    pub actor: Option<String>,
}

impl Caller {
    /// Refuses with 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[AccountRole]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "a {} may not do this",
                self.role.as_str()
            )))
        }
    }

    /// The caller's actor id (403 if the account has none yet).
    pub fn actor(&self) -> Result<&str, ApiError> {
        self.actor
            .as_deref()
            .ok_or_else(|| ApiError::forbidden("this account has no ledger identity yet"))
    }
}

/// Verifies the bearer token, then that the account is still active (a
/// suspension takes effect at once, not when the access token expires; see
/// [`active`] for the one-second memory of active accounts).
impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let caller = state
            .as_ref()
            .ok_or_else(|| ApiError::internal("application state missing"))
            .and_then(|state| authenticate(req, state));
        Box::pin(async move {
            let caller = caller?;
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            if state.active.is_active(&caller.account) {
                return Ok(caller);
            }
            let id = caller.account.clone();
            let account = db::run(&state.pool, move |conn| accounts::by_id(conn, &id)).await?;
            match account {
                Some(account) if account.status == status::ACTIVE => {
                    state.active.remember(&caller.account);
                    Ok(caller)
                }
                _ => Err(ApiError::Unauthorized("this account is not active".into())),
            }
        })
    }
}

fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Caller, ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("expected an Authorization: Bearer token".into()))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::Unauthorized("expected an Authorization: Bearer token".into()))?;
    let claims = state.jwt.verify(token.trim())?;
    Ok(Caller {
        account: claims.sub,
        role: claims.role,
        actor: claims.act,
    })
}

/// Login attempt limits per email, client IP or patient, shared through the
/// database by every relay process on it (see [`db::limits`]).
pub struct LoginLimiter {
    quota: Quota,
}

impl LoginLimiter {
    /// A limiter allowing `per_minute` attempts per key (all at once, then
    /// one every `60 / per_minute` seconds).
    pub fn new(per_minute: u32) -> Self {
        LoginLimiter {
            quota: Quota::per_minute(per_minute),
        }
    }

    /// Counts an attempt for each key; 429 with the wait if any is over its limit.
    ///
    /// Keys are stored as SHA-256 digests: the table holds neither emails
    /// nor addresses, and an attacker's key costs 64 bytes whatever its length.
    pub async fn check(&self, pool: &DbPool, keys: &[String]) -> Result<(), ApiError> {
        let digests: Vec<String> = keys
            .iter()
            .map(|k| hex::encode(Sha256::digest(k.as_bytes())))
            .collect();
        let quota = self.quota;
        let now = db::now_ms();
        let wait = db::run(pool, move |conn| {
            let mut wait: Option<i64> = None;
            for key in &digests {
                if let Some(ms) = limits::take(conn, key, quota, now)? {
                    wait = Some(wait.map_or(ms, |w| w.max(ms)));
                }
            }
            // Expired rows limit nothing; sweep them now and then.
            if rand::random::<u8>() == 0 {
                limits::sweep(conn, now)?;
            }
            Ok(wait)
        })
        .await?;
        match wait {
            None => Ok(()),
            Some(ms) => Err(ApiError::RateLimited {
                retry_after_secs: u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1),
            }),
        }
    }
}

/// The client IP as the socket saw it (no proxy headers are trusted).
pub fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}
