//! Policies: patients purchase; insurers issue; each party lists its own.

use actix_web::{HttpResponse, get, http::StatusCode, post, web};
use carechain_core::ledger::{
    ClaimContext, Page, PolicyState, ProductState, Query, RecordState, WrappedKeyState,
};
use carechain_core::statement::Action;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::forward;
use crate::handlers::{Expect, own_page, path_id, submit_signed};
use crate::idempotency::IdempotencyKey;
use crate::state::AppState;
use crate::types::{AccountRole, ClaimContextQuery, PageQuery, StatementRequest, Submitted};

/// A patient buys a product with a signed `purchase_policy`.
#[utoipa::path(tag = "policies", security(("bearer" = [])), request_body = StatementRequest,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 201, body = Submitted), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[post("/v1/policies")]
pub async fn purchase(
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
            kind: "purchase_policy",
            status: StatusCode::CREATED,
        },
        |_| Ok(()),
    )
    .await
}

/// Loads a policy the caller is a party to (404 otherwise).
async fn party_policy(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<PolicyState, ApiError> {
    let policy: PolicyState = forward::query(
        state,
        Query::Policy {
            policy: path_id(id)?.to_owned(),
        },
    )
    .await?;
    let actor = caller.actor()?;
    if policy.patient.as_str() != actor && policy.insurer.as_str() != actor {
        return Err(ApiError::NotFound);
    }
    Ok(policy)
}

/// The insurer issues purchased policy `id` with a signed `issue_policy`.
#[utoipa::path(tag = "policies", security(("bearer" = [])), request_body = StatementRequest,
    params(("id" = String, Path), ("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 200, body = Submitted), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[post("/v1/policies/{id}/issue")]
pub async fn issue(
    state: web::Data<AppState>,
    caller: Caller,
    idem: IdempotencyKey,
    path: web::Path<String>,
    body: web::Json<StatementRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Insurer])?;
    let id = path.into_inner();
    party_policy(&state, &caller, &id).await?;
    submit_signed(
        &state,
        &caller,
        idem,
        body.into_inner(),
        Expect {
            roles: &[AccountRole::Insurer],
            kind: "issue_policy",
            status: StatusCode::OK,
        },
        |act| match act {
            Action::IssuePolicy(p) => forward::same_id(&id, p.policy),
            _ => Err(ApiError::forbidden("expected an issue_policy statement")),
        },
    )
    .await
}

/// The caller's policies: a patient's own, or those of an insurer's products.
#[utoipa::path(operation_id = "policies_list", tag = "policies", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = carechain_core::ledger::Page<carechain_core::ledger::PolicyState>), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
#[get("/v1/policies")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page: Page<PolicyState> = own_page(
        &state,
        &caller,
        &query,
        |patient, page| Query::PoliciesForPatient { patient, page },
        |insurer, page| Query::PoliciesForInsurer { insurer, page },
    )
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// What the patient needs to prove a claim under policy `id` for `record`, in
/// one answer: the policy, its product, the record and the patient's data key.
#[utoipa::path(tag = "policies", security(("bearer" = [])), params(("id" = String, Path), ClaimContextQuery),
    responses((status = 200, body = carechain_core::ledger::ClaimContext), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[get("/v1/policies/{id}/claim-context")]
pub async fn claim_context(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<ClaimContextQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Patient])?;
    let policy = party_policy(&state, &caller, &path).await?;
    let patient = caller.actor()?.to_owned();
    let record_id = path_id(&query.record)?.to_owned();
    let record: RecordState = forward::query(
        &state,
        Query::Record {
            record: record_id.clone(),
        },
    )
    .await?;
    if record.patient.as_str() != patient {
        return Err(ApiError::NotFound);
    }
    let product: ProductState = forward::query(
        &state,
        Query::Product {
            product: policy.product.to_string(),
        },
    )
    .await?;
    let key: WrappedKeyState = forward::query(
        &state,
        Query::RecordKey {
            record: record_id,
            reader: patient,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(ClaimContext {
        policy,
        product,
        record,
        key,
    }))
}

/// One policy, for its patient or its insurer.
#[utoipa::path(operation_id = "policies_get_one", tag = "policies", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = carechain_core::ledger::PolicyState), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[get("/v1/policies/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Patient, AccountRole::Insurer])?;
    Ok(HttpResponse::Ok().json(party_policy(&state, &caller, &path).await?))
}
