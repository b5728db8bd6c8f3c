//! Claims: patients file; the contract decides at once; patient and insurer
//! see decisions; the insurer marks approved claims paid.

use actix_web::{HttpResponse, get, post, web};
use carechain_core::ledger::{ClaimState, Page, Query};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::handlers::{Expect, forward_as_party, forward_new, own_page, party_get};
use crate::state::AppState;
use crate::types::{AccountRole, PageQuery};

statement_post! {
    /// A patient files a claim with a signed `file_claim`; the result holds the decision.
    file, "/v1/claims", tag = "claims", 201 => forward_new, &[AccountRole::Patient], "file_claim"
}

/// The query of claim `claim`.
fn claim_query(claim: String) -> Query {
    Query::Claim { claim }
}

/// The caller's claims: a patient's own, or those against an insurer.
#[utoipa::path(operation_id = "claims_list", tag = "claims", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = carechain_core::ledger::Page<carechain_core::ledger::ClaimState>), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
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
    let roles = [AccountRole::Patient, AccountRole::Insurer];
    party_get::<ClaimState>(&state, &caller, &roles, &path, claim_query).await
}

statement_post! {
    /// The insurer marks approved claim `id` paid with a signed `mark_paid`.
    paid, "/v1/claims/{id}/paid", tag = "claims", 200, id => forward_as_party::<ClaimState>,
        Expect::ok(&[AccountRole::Insurer], "mark_paid"), claim_query
}
