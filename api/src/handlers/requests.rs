//! Access requests: doctors ask, patients grant, deny and revoke.

use actix_web::{HttpResponse, get, http::StatusCode, post, web};
use carechain_chaincode::model::AccessRequestState;
use carechain_core::statement::Action;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::forward;
use crate::handlers::{Expect, page_args, path_id, submit_signed};
use crate::idempotency::IdempotencyKey;
use crate::state::AppState;
use crate::types::{AccountRole, LedgerPage, PageQuery, StatementRequest, Submitted};

/// A doctor asks a patient for access with a signed `access_request`.
#[utoipa::path(tag = "requests", security(("bearer" = [])), request_body = StatementRequest,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 201, body = Submitted), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[post("/v1/requests")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    idem: IdempotencyKey,
    body: web::Json<StatementRequest>,
) -> Result<HttpResponse, ApiError> {
    submit_signed(
        &state,
        &caller,
        idem,
        body.into_inner(),
        Expect {
            roles: &[AccountRole::Doctor],
            kind: "access_request",
            status: StatusCode::CREATED,
        },
        |_| Ok(()),
    )
    .await
}

/// The caller's requests: a patient's (asked of them) or a doctor's (made by them).
#[utoipa::path(operation_id = "requests_list", tag = "requests", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = LedgerPage), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
#[get("/v1/requests")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Patient, AccountRole::Doctor])?;
    let function = match caller.role {
        AccountRole::Patient => "requests_for_patient",
        _ => "requests_by_doctor",
    };
    let (after, limit) = page_args(&query)?;
    let actor = caller.actor()?;
    let Some(wanted) = query.status.as_deref() else {
        let page: LedgerPage = forward::query(&state, function, &[actor, &after, &limit]).await?;
        return Ok(HttpResponse::Ok().json(page));
    };
    // Filtered: scan full pages until `limit` matches; `next` is the last match.
    let limit: usize = limit.parse().unwrap_or(100);
    let mut cursor = after;
    let mut items = Vec::new();
    let next = loop {
        let page: LedgerPage = forward::query(&state, function, &[actor, &cursor, "100"]).await?;
        for item in page.items {
            if item["status"].as_str() == Some(wanted) {
                items.push(item);
                if items.len() == limit {
                    break;
                }
            }
        }
        if items.len() == limit {
            break items
                .last()
                .and_then(|r| r["request"].as_str())
                .map(str::to_owned);
        }
        match page.next {
            Some(next) => cursor = next,
            None => break None,
        }
    };
    let page = LedgerPage { items, next };
    Ok(HttpResponse::Ok().json(page))
}

/// Loads a request the caller is a party to (404 otherwise).
async fn party_request(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<AccessRequestState, ApiError> {
    let request: AccessRequestState = forward::query(state, "request", &[path_id(id)?]).await?;
    let actor = caller.actor()?;
    if request.patient.as_str() != actor && request.doctor.as_str() != actor {
        return Err(ApiError::NotFound);
    }
    Ok(request)
}

/// One request, for its patient or its doctor.
#[utoipa::path(operation_id = "requests_get_one", tag = "requests", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[get("/v1/requests/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Patient, AccountRole::Doctor])?;
    Ok(HttpResponse::Ok().json(party_request(&state, &caller, &path).await?))
}

/// Forwards a patient's answer (`grant`, `deny` or `revoke`) to request `id`.
///
/// The contract checks that the signer is the request's patient; only when
/// it refuses does the relay look the request up, so that a refusal of a
/// request the caller is no party to is the same 404 as reading it (no
/// oracle for which ids exist) while an accepted answer costs no query.
async fn answer(
    state: web::Data<AppState>,
    caller: Caller,
    idem: IdempotencyKey,
    id: String,
    body: StatementRequest,
    kind: &'static str,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Patient])?;
    path_id(&id)?;
    let statement = forward::check(&caller, &body.statement, kind)?;
    match &statement.act {
        Action::Grant(g) => forward::same_id(&id, g.request)?,
        Action::Deny(d) => forward::same_id(&id, d.request)?,
        Action::Revoke(r) => forward::same_id(&id, r.request)?,
        _ => return Err(ApiError::forbidden("unexpected action")),
    }
    let (st, token, who) = (state.clone(), body.statement.clone(), caller.clone());
    idem.once_on_ledger(&state, &caller.account, &body, || async move {
        match forward::submit(&st, &token).await {
            Ok(submitted) => {
                tracing::info!(kind, tx = %submitted.tx_id, "statement forwarded");
                Ok((StatusCode::OK, submitted))
            }
            Err(refused @ ApiError::Ledger { .. }) => {
                party_request(&st, &who, &id).await?;
                Err(refused)
            }
            Err(e) => Err(e),
        }
    })
    .await
}

/// The patient grants request `id` with a signed `grant`.
#[utoipa::path(tag = "requests", security(("bearer" = [])), request_body = StatementRequest,
    params(("id" = String, Path), ("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 200, body = Submitted), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[post("/v1/requests/{id}/grant")]
pub async fn grant(
    state: web::Data<AppState>,
    caller: Caller,
    idem: IdempotencyKey,
    path: web::Path<String>,
    body: web::Json<StatementRequest>,
) -> Result<HttpResponse, ApiError> {
    answer(
        state,
        caller,
        idem,
        path.into_inner(),
        body.into_inner(),
        "grant",
    )
    .await
}

/// The patient denies request `id` with a signed `deny`.
#[utoipa::path(tag = "requests", security(("bearer" = [])), request_body = StatementRequest,
    params(("id" = String, Path), ("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 200, body = Submitted), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[post("/v1/requests/{id}/deny")]
pub async fn deny(
    state: web::Data<AppState>,
    caller: Caller,
    idem: IdempotencyKey,
    path: web::Path<String>,
    body: web::Json<StatementRequest>,
) -> Result<HttpResponse, ApiError> {
    answer(
        state,
        caller,
        idem,
        path.into_inner(),
        body.into_inner(),
        "deny",
    )
    .await
}

/// The patient revokes the grant of request `id` with a signed `revoke`.
#[utoipa::path(tag = "requests", security(("bearer" = [])), request_body = StatementRequest,
    params(("id" = String, Path), ("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 200, body = Submitted), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[post("/v1/requests/{id}/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: Caller,
    idem: IdempotencyKey,
    path: web::Path<String>,
    body: web::Json<StatementRequest>,
) -> Result<HttpResponse, ApiError> {
    answer(
        state,
        caller,
        idem,
        path.into_inner(),
        body.into_inner(),
        "revoke",
    )
    .await
}
