//! Claims: patients file; the contract decides at once; patient and insurer
//! see decisions; the insurer marks approved claims paid.

use actix_web::{HttpResponse, get, http::StatusCode, post, web};
use carechain_core::ledger::{ClaimState, Page, Query};
use carechain_core::statement::Action;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::forward;
use crate::handlers::{Expect, own_page, path_id, submit_signed};
use crate::idempotency::IdempotencyKey;
use crate::state::AppState;
use crate::types::{AccountRole, PageQuery, StatementRequest, Submitted};

/// A patient files a claim with a signed `file_claim`; the result holds the decision.
#[utoipa::path(tag = "claims", security(("bearer" = [])), request_body = StatementRequest,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 201, body = Submitted), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[post("/v1/claims")]
pub async fn file(
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
            roles: &[AccountRole::Patient],
            kind: "file_claim",
            status: StatusCode::CREATED,
        },
        |_| Ok(()),
    )
    .await
}

/// Loads a claim the caller is a party to (404 otherwise).
async fn party_claim(state: &AppState, caller: &Caller, id: &str) -> Result<ClaimState, ApiError> {
    let claim: ClaimState = forward::query(
        state,
        Query::Claim {
            claim: path_id(id)?.to_owned(),
        },
    )
    .await?;
    let actor = caller.actor()?;
    if claim.patient.as_str() != actor && claim.insurer.as_str() != actor {
        return Err(ApiError::NotFound);
    }
    Ok(claim)
}

/// The caller's claims: a patient's own, or those against an insurer.
#[utoipa::path(operation_id = "claims_list", tag = "claims", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = carechain_core::ledger::Page<carechain_core::ledger::ClaimState>), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
#[get("/v1/claims")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page: Page<ClaimState> = own_page(
        &state,
        &caller,
        &query,
        |patient, page| Query::ClaimsForPatient { patient, page },
        |insurer, page| Query::ClaimsForInsurer { insurer, page },
    )
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One claim and its decision, for its patient or its insurer.
#[utoipa::path(operation_id = "claims_get_one", tag = "claims", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = carechain_core::ledger::ClaimState), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[get("/v1/claims/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Patient, AccountRole::Insurer])?;
    Ok(HttpResponse::Ok().json(party_claim(&state, &caller, &path).await?))
}

/// The insurer marks approved claim `id` paid with a signed `mark_paid`.
#[utoipa::path(tag = "claims", security(("bearer" = [])), request_body = StatementRequest,
    params(("id" = String, Path), ("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 200, body = Submitted), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[post("/v1/claims/{id}/paid")]
pub async fn paid(
    state: web::Data<AppState>,
    caller: Caller,
    idem: IdempotencyKey,
    path: web::Path<String>,
    body: web::Json<StatementRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Insurer])?;
    let id = path.into_inner();
    party_claim(&state, &caller, &id).await?;
    submit_signed(
        &state,
        &caller,
        idem,
        body.into_inner(),
        Expect {
            roles: &[AccountRole::Insurer],
            kind: "mark_paid",
            status: StatusCode::OK,
        },
        |act| match act {
            Action::MarkPaid(p) => forward::same_id(&id, p.claim),
            _ => Err(ApiError::forbidden("expected a mark_paid statement")),
        },
    )
    .await
}
