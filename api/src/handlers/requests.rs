//! Access requests: doctors ask, patients grant, deny and revoke.

use actix_web::{HttpResponse, get, post, web};
use carechain_core::ledger::{
    AccessRequestState, GrantContext, Identity, MAX_PAGE, OwnKey, Page, PageArgs, Query, Reader,
    RequestStatus, parse_scope,
};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::forward;
use crate::handlers::{Expect, as_submitted, forward_new, forward_signed, page_args, party};
use crate::idempotency::IdempotencyKey;
use crate::state::AppState;
use crate::types::{AccountRole, GrantContextQuery, PageQuery, StatementRequest};

statement_post! {
    /// A doctor asks a patient for access with a signed `access_request`.
    create, "/v1/requests", tag = "requests", 201 => forward_new, &[AccountRole::Doctor], "access_request"
}

/// The caller's requests: a patient's (asked of them) or a doctor's (made by them).
#[utoipa::path(operation_id = "requests_list", tag = "requests", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = carechain_core::ledger::Page<carechain_core::ledger::AccessRequestState>), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
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

/// The query of request `request`.
fn request_query(request: String) -> Query {
    Query::Request { request }
}

party_get_one! {
    /// One request, for its patient or its doctor.
    get_one, "/v1/requests/{id}", tag = "requests", AccessRequestState, [Patient, Doctor], request_query
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
    let request: AccessRequestState = party(&state, &caller, &path, request_query).await?;
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
    body: StatementRequest,
    id: String,
    kind: &'static str,
) -> Result<HttpResponse, ApiError> {
    let expect = Expect::ok(&[AccountRole::Patient], kind);
    let (who, request) = (caller.clone(), id.clone());
    forward_signed(
        &state,
        &caller,
        idem,
        body,
        expect,
        Some(&id),
        |st, submitted| async move {
            if let Err(ApiError::Ledger { .. }) = &submitted {
                party::<AccessRequestState>(&st, &who, &request, request_query).await?;
            }
            as_submitted(st, submitted).await
        },
    )
    .await
}

statement_post! {
    /// The patient grants request `id` with a signed `grant`.
    grant, "/v1/requests/{id}/grant", tag = "requests", 200, id => answer, "grant"
}

statement_post! {
    /// The patient denies request `id` with a signed `deny`.
    deny, "/v1/requests/{id}/deny", tag = "requests", 200, id => answer, "deny"
}

statement_post! {
    /// The patient revokes the grant of request `id` with a signed `revoke`.
    revoke, "/v1/requests/{id}/revoke", tag = "requests", 200, id => answer, "revoke"
}
