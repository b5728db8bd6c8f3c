//! Access requests: doctors ask, patients grant, deny and revoke.

use actix_web::{HttpResponse, get, http::StatusCode, post, web};
use carechain_core::ledger::{
    AccessRequestState, GrantContext, Identity, MAX_PAGE, OwnKey, Page, PageArgs, Query, Reader,
    RequestStatus, parse_scope,
};
use carechain_core::statement::Action;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::forward;
use crate::handlers::{Expect, page_args, path_id, submit_signed};
use crate::idempotency::IdempotencyKey;
use crate::state::AppState;
use crate::types::{AccountRole, GrantContextQuery, PageQuery, StatementRequest, Submitted};

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
    responses((status = 200, body = carechain_core::ledger::Page<carechain_core::ledger::AccessRequestState>), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
#[get("/v1/requests")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Patient, AccountRole::Doctor])?;
    let actor = caller.actor()?.to_owned();
    let query_of = |page: PageArgs| match caller.role {
        AccountRole::Patient => Query::RequestsForPatient {
            patient: actor.clone(),
            page,
        },
        _ => Query::RequestsByDoctor {
            doctor: actor.clone(),
            page,
        },
    };
    let page = page_args(&query)?;
    let Some(wanted) = query.status.as_deref() else {
        let page: Page<AccessRequestState> = forward::query(&state, query_of(page)).await?;
        return Ok(HttpResponse::Ok().json(page));
    };
    let wanted: RequestStatus =
        serde_json::from_value(serde_json::Value::String(wanted.to_owned())).map_err(|_| {
            ApiError::bad_request(format!(
                "status: expected pending, granted, denied or revoked, found {wanted:?}"
            ))
        })?;
    // Filtered: scan full pages until `limit` matches; `next` is the last match.
    let limit = page.limit;
    let mut cursor = page.after;
    let mut items = Vec::new();
    let next = loop {
        let page: Page<AccessRequestState> =
            forward::query(&state, query_of(PageArgs::new(cursor.clone(), MAX_PAGE))).await?;
        for item in page.items {
            if item.status == wanted {
                items.push(item);
                if items.len() == limit {
                    break;
                }
            }
        }
        if items.len() == limit {
            break items.last().map(|r| r.request.to_string());
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break None,
        }
    };
    let page = Page { items, next };
    Ok(HttpResponse::Ok().json(page))
}

/// Loads a request the caller is a party to (404 otherwise).
async fn party_request(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<AccessRequestState, ApiError> {
    let request: AccessRequestState = forward::query(
        state,
        Query::Request {
            request: path_id(id)?.to_owned(),
        },
    )
    .await?;
    let actor = caller.actor()?;
    if request.patient.as_str() != actor && request.doctor.as_str() != actor {
        return Err(ApiError::NotFound);
    }
    Ok(request)
}

/// One request, for its patient or its doctor.
#[utoipa::path(operation_id = "requests_get_one", tag = "requests", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = carechain_core::ledger::AccessRequestState), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[get("/v1/requests/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Patient, AccountRole::Doctor])?;
    Ok(HttpResponse::Ok().json(party_request(&state, &caller, &path).await?))
}

/// What the patient needs to grant request `id` in one answer: the request,
/// the doctor's HPKE key and the patient's own wrapped data keys of every
/// record in `scope` (the request's scope by default), to re-wrap on the phone.
#[utoipa::path(tag = "requests", security(("bearer" = [])), params(("id" = String, Path), GrantContextQuery),
    responses((status = 200, body = carechain_core::ledger::GrantContext), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[get("/v1/requests/{id}/grant-context")]
pub async fn grant_context(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<GrantContextQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Patient])?;
    let request = party_request(&state, &caller, &path).await?;
    let patient = caller.actor()?.to_owned();
    if request.patient.as_str() != patient {
        return Err(ApiError::NotFound);
    }
    let scope = match query.scope.as_deref() {
        None => request.scope.clone(),
        Some(text) => parse_scope(text).map_err(|e| ApiError::bad_request(e.to_string()))?,
    };
    let doctor: Identity = forward::query(
        &state,
        Query::Identity {
            actor: request.doctor.to_string(),
        },
    )
    .await?;
    let keys: Vec<OwnKey> = forward::query(&state, Query::OwnKeys { patient, scope }).await?;
    Ok(HttpResponse::Ok().json(GrantContext {
        request,
        grantee: Reader {
            actor: doctor.actor,
            hpke_key: doctor.hpke_key,
        },
        keys,
    }))
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
