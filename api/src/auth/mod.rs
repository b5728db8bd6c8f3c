//! Authentication: argon2id passwords, HS256 access tokens with pinned
//! `alg`/`iss`/`aud`/`exp`, rotating refresh tokens, the patient's signed
//! login challenge, rate limits shared through the database ([`limiter`]), and
//! the [`Caller`] extractor.

pub mod active;
pub mod client_ip;
pub mod limiter;
pub mod password;
pub mod tokens;

use crate::db::{self, accounts, tokens as token_db};
use crate::types::status;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures::future::LocalBoxFuture;

use crate::error::ApiError;
use crate::state::AppState;
use crate::types::AccountRole;
pub use limiter::LoginLimiter;

/// The authenticated caller of a request, from a valid access token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account id.
    pub account: String,
    /// The account's role.
    pub role: AccountRole,
    /// The account's ledger actor id, if it has one.
    pub actor: Option<String>,
    /// The session the access token was issued in (absent in tokens issued
    /// before sessions were bound).
    pub session: Option<String>,
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

/// Verifies the bearer token, then that the account is still active and its
/// session not revoked (a suspension or a reused refresh token takes effect
/// at once, not when the access token expires; see [`active`] for the
/// one-second memory of what was read as active).
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
            let key = active::key(&caller.account, caller.session.as_deref());
            if state.active.is_active(&key) {
                return Ok(caller);
            }
            let (id, session) = (caller.account.clone(), caller.session.clone());
            let (account, live) = db::run(&state.pool, move |conn| {
                let account = accounts::by_id(conn, &id)?;
                let live = match session {
                    Some(family) => token_db::session_live(conn, &family)?,
                    None => true,
                };
                Ok((account, live))
            })
            .await?;
            match account {
                Some(account) if account.status == status::ACTIVE && live => {
                    state.active.remember(&key);
                    Ok(caller)
                }
                Some(account) if account.status == status::ACTIVE => Err(ApiError::Unauthorized(
                    "this session was revoked; log in again".into(),
                )),
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
        session: claims.sid,
    })
}

/// The client IP the rate limits count: the socket's peer, or behind a
/// trusted proxy the client it names (see [`client_ip`]).
pub fn client_ip(req: &HttpRequest) -> String {
    match req.app_data::<web::Data<AppState>>() {
        Some(state) => state.config.trusted_proxies.client_of(req),
        None => client_ip::TrustedProxies::default().client_of(req),
    }
}
