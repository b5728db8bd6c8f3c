//! Accounts and sessions: sign-up, password login, refresh rotation, the
//! patient challenge login, and `me`.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use carechain_core::identity::VerifyingKey;
use carechain_core::ids::B64;
use carechain_core::ledger::{Identity, Query};
use carechain_core::protocol::login::verify_login_proof;

use crate::auth::{Caller, client_ip, password, tokens};
use crate::db::{self, accounts, models, tokens as token_db};
use crate::error::ApiError;
use crate::forward;
use crate::state::AppState;
use crate::types::{
    AccountRole, AccountView, ChallengeRequest, ChallengeResponse, LoginRequest,
    PatientLoginRequest, RefreshRequest, SignupRequest, TokenResponse, status,
};

/// An account row and its device as the API shows them.
pub(crate) fn view(account: models::Account, device: Option<models::Device>) -> AccountView {
    AccountView {
        role: AccountRole::parse(&account.role).unwrap_or(AccountRole::Patient),
        id: account.id,
        email: account.email,
        actor_id: account.actor_id,
        display_name: account.display_name,
        status: account.status,
        created_at: account.created_at,
        signing_key: device.as_ref().map(|d| d.signing_key.clone()),
        hpke_key: device.map(|d| d.hpke_key),
    }
}

/// Issues an access token and a new refresh token (in `family`, or a new one).
pub(crate) async fn issue(
    state: &AppState,
    account: &models::Account,
    family: Option<String>,
) -> Result<TokenResponse, ApiError> {
    let now = db::now();
    let role = AccountRole::parse(&account.role)
        .ok_or_else(|| ApiError::internal("stored account has an unknown role"))?;
    let family = family.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let access_token = state.jwt.issue(
        &account.id,
        role,
        account.actor_id.clone(),
        Some(family.clone()),
        now,
    )?;
    let (refresh_token, token_hash) = tokens::new_refresh_token();
    let row = models::RefreshToken {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account.id.clone(),
        family,
        token_hash,
        expires_at: now + state.config.refresh_token_ttl_secs,
        used_at: None,
        revoked_at: None,
        created_at: now,
    };
    db::run(&state.pool, move |conn| {
        token_db::insert_refresh(conn, &row)
    })
    .await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: state.jwt.ttl_secs(),
        refresh_token,
    })
}

/// A 200 with `tokens`, which no cache may keep (RFC 6749 §5.1).
fn token_response(tokens: TokenResponse) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((actix_web::http::header::PRAGMA, "no-cache"))
        .json(tokens)
}

/// Whether `c` may not appear in an e-mail address: control characters
/// (NUL, CR, LF…), bidirectional overrides and isolates, and zero-width or
/// invisible format characters, all of which make one address look like
/// another in the admin's approval queue or break a mail header.
fn hidden_character(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{00AD}'
                | '\u{FEFF}'
        )
}

/// A doctor or insurer signs up; the account stays pending until an admin
/// approves it. Rate limited per client and in all.
#[utoipa::path(tag = "auth", request_body = SignupRequest,
    responses((status = 201, body = AccountView), (status = 400, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
#[post("/v1/accounts")]
pub async fn signup(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<SignupRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if !matches!(body.role, AccountRole::Doctor | AccountRole::Insurer) {
        return Err(ApiError::bad_request("role: expected doctor or insurer"));
    }
    let email = body.email.trim().to_lowercase();
    if email.len() > 254 || !email.contains('@') {
        return Err(ApiError::bad_request("email: expected an email address"));
    }
    if email
        .chars()
        .any(|c| hidden_character(c) || c.is_whitespace())
    {
        return Err(ApiError::bad_request(
            "email: expected an address without spaces, control, bidi or zero-width characters",
        ));
    }
    let name = body.display_name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::bad_request(
            "display_name: expected 1 to 200 characters",
        ));
    }
    password::check_policy(&body.password)?;
    let signing = B64::decode(&body.signing_key)
        .ok()
        .and_then(|b| VerifyingKey::from_sec1_bytes(b.as_bytes()).ok())
        .ok_or_else(|| ApiError::bad_request("signing_key: expected a base64url SEC1 P-256 key"))?;
    let hpke = B64::decode(&body.hpke_key)
        .ok()
        .filter(|b| carechain_core::envelope::HpkePublicKey::from_bytes(b.as_bytes()).is_ok())
        .ok_or_else(|| ApiError::bad_request("hpke_key: expected a base64url HPKE public key"))?;
    state.creation.signup(&state.pool, &client_ip(&req)).await?;
    let hash = password::hash(body.password).await?;
    let now = db::now();
    let id = uuid::Uuid::new_v4().to_string();
    let actor = signing.actor_id().to_string();
    let account = models::Account {
        id: id.clone(),
        role: body.role.as_str().into(),
        email: Some(email),
        password_hash: Some(hash),
        actor_id: Some(actor.clone()),
        display_name: name,
        status: status::PENDING.into(),
        created_at: now,
    };
    let device = models::Device {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: id,
        actor_id: actor,
        signing_key: B64(signing.to_sec1_bytes()).encode(),
        hpke_key: hpke.encode(),
        created_at: now,
    };
    let (a, d) = (account.clone(), device.clone());
    db::run(&state.pool, move |conn| {
        accounts::create(conn, &a, Some(&d))
    })
    .await
    .map_err(|e| match e {
        ApiError::Conflict(_) => {
            ApiError::Conflict("an account with this email or key exists".into())
        }
        other => other,
    })?;
    tracing::info!(account = %account.id, role = %account.role, "account signed up");
    Ok(HttpResponse::Created().json(view(account, Some(device))))
}

/// Email and password login (doctors, insurers, admins); failed attempts
/// are rate limited per account and client (see [`crate::auth::limiter`]).
#[utoipa::path(tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
#[post("/v1/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let email = body.email.trim().to_lowercase();
    let attempt = state
        .limiter
        .attempt(&state.pool, &format!("email:{email}"), &client_ip(&req))
        .await?;
    if body.password.len() > password::MAX_LEN * 4 {
        return Err(ApiError::Unauthorized("wrong email or password".into()));
    }
    let lookup = email.clone();
    let account = db::run(&state.pool, move |conn| accounts::by_email(conn, &lookup)).await?;
    let hash = account.as_ref().and_then(|a| a.password_hash.clone());
    if !password::verify(body.password, hash).await? {
        return Err(ApiError::Unauthorized("wrong email or password".into()));
    }
    let account =
        account.ok_or_else(|| ApiError::Unauthorized("wrong email or password".into()))?;
    // The credential is correct: this attempt is no failure.
    state.limiter.succeeded(&state.pool, attempt).await?;
    match account.status.as_str() {
        status::ACTIVE => {}
        status::PENDING => {
            return Err(ApiError::forbidden(
                "this account awaits an admin's approval",
            ));
        }
        _ => return Err(ApiError::forbidden("this account is suspended")),
    }
    Ok(token_response(issue(&state, &account, None).await?))
}

/// What a refresh token's presentation came to.
enum Refreshed {
    /// Rotated: the account and the session to issue in.
    Rotated(models::Account, String),
    /// Unknown, expired, revoked, or used just now by a concurrent request.
    Refused,
    /// Reused after rotation: the session of this account was revoked.
    Revoked(String),
}

/// Rotates a refresh token; reusing a rotated token revokes its whole
/// session, access tokens included (a second use within the configured
/// `refresh_reuse_grace_secs` is a concurrent request and is only refused).
#[utoipa::path(tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = crate::error::Problem)))]
#[post("/v1/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let invalid = || ApiError::Unauthorized("the refresh token is invalid".into());
    let hash = tokens::hash_token(&body.refresh_token);
    let now = db::now();
    let grace = state.config.refresh_reuse_grace_secs;
    let outcome = db::run(&state.pool, move |conn| {
        let Some(token) = token_db::refresh_by_hash(conn, &hash)? else {
            return Ok(Refreshed::Refused);
        };
        if token.revoked_at.is_some() || token.expires_at <= now {
            return Ok(Refreshed::Refused);
        }
        if !token_db::mark_used(conn, &token.id, now)? {
            // Used between our read and our mark, or moments ago: the same
            // client's concurrent refresh, which the other request answered.
            if token.used_at.is_none_or(|used| now - used < grace) {
                return Ok(Refreshed::Refused);
            }
            // Reuse of a rotated token: assume it was stolen and end the session.
            token_db::revoke_family(conn, &token.family, now)?;
            tracing::warn!(account = %token.account_id, "refresh token reused; session revoked");
            return Ok(Refreshed::Revoked(token.account_id));
        }
        let account = accounts::by_id(conn, &token.account_id)?;
        Ok(match account {
            Some(account) => Refreshed::Rotated(account, token.family),
            None => Refreshed::Refused,
        })
    })
    .await?;
    match outcome {
        Refreshed::Rotated(account, family) if account.status == status::ACTIVE => {
            Ok(token_response(issue(&state, &account, Some(family)).await?))
        }
        Refreshed::Revoked(account) => {
            state.active.forget(&account);
            Err(invalid())
        }
        _ => Err(invalid()),
    }
}

/// Issues a single-use login challenge for a patient's device key.
#[utoipa::path(tag = "auth", request_body = ChallengeRequest,
    responses((status = 200, body = ChallengeResponse), (status = 429, body = crate::error::Problem)))]
#[post("/v1/auth/challenge")]
pub async fn challenge(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<ChallengeRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor: carechain_core::ids::ActorId = body
        .actor
        .parse()
        .map_err(|_| ApiError::bad_request("actor: expected an actor id"))?;
    state
        .limiter
        .challenge(&state.pool, &client_ip(&req))
        .await?;
    let now = db::now();
    let row = models::LoginChallenge {
        nonce: tokens::new_nonce(),
        actor_id: actor.to_string(),
        expires_at: now + state.config.challenge_ttl_secs,
        used_at: None,
    };
    let response = ChallengeResponse {
        challenge: row.nonce.clone(),
        audience: state.config.audience.clone(),
        expires_at: row.expires_at,
    };
    db::run(&state.pool, move |conn| {
        token_db::insert_challenge(conn, &row, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(response))
}

/// A patient logs in with a signed challenge; failed attempts are rate
/// limited as password logins are.
#[utoipa::path(tag = "auth", request_body = PatientLoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
#[post("/v1/auth/patient-login")]
pub async fn patient_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<PatientLoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let unauthorized = || ApiError::Unauthorized("the login signature is invalid".into());
    let attempt = state
        .limiter
        .attempt(
            &state.pool,
            &format!("patient:{}", body.actor),
            &client_ip(&req),
        )
        .await?;
    let actor: carechain_core::ids::ActorId = body.actor.parse().map_err(|_| unauthorized())?;
    let identity: Identity = forward::query(
        &state,
        Query::Identity {
            actor: actor.to_string(),
        },
    )
    .await
    .map_err(|e| match e {
        ApiError::NotFound => unauthorized(),
        other => other,
    })?;
    if identity.role != carechain_core::statement::Role::Patient || !identity.active {
        return Err(unauthorized());
    }
    let now = db::now();
    let nonce = verify_login_proof(
        &body.signature,
        &identity.signing_key,
        &state.config.audience,
        now,
    )
    .map_err(|e| ApiError::Unauthorized(e.to_string()))?
    .challenge;
    let actor_id = actor.to_string();
    let account = db::run(&state.pool, move |conn| {
        if !token_db::consume_challenge(conn, &nonce, &actor_id, now)? {
            return Ok(None);
        }
        accounts::by_actor(conn, &actor_id)
    })
    .await?
    .ok_or_else(unauthorized)?;
    // The signed challenge is correct: this attempt is no failure.
    state.limiter.succeeded(&state.pool, attempt).await?;
    if account.status != status::ACTIVE {
        return Err(ApiError::forbidden("this account is suspended"));
    }
    Ok(token_response(issue(&state, &account, None).await?))
}

/// The caller's own account.
#[utoipa::path(tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = AccountView), (status = 401, body = crate::error::Problem)))]
#[get("/v1/me")]
pub async fn me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let id = caller.account.clone();
    let (account, device) = db::run(&state.pool, move |conn| {
        let account = accounts::by_id(conn, &id)?.ok_or(ApiError::NotFound)?;
        let device = accounts::device_of(conn, &id)?;
        Ok((account, device))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(account, device)))
}
