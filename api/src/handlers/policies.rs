//! Policies: patients purchase; insurers accept (issue) or decline; each
//! party lists its own.

use actix_web::{HttpResponse, get, post, web};
use carechain_core::ledger::{
    ClaimContext, PolicyState, ProductState, Query, RecordState, WrappedKeyState,
};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::forward;
use crate::handlers::{Expect, forward_as_party, forward_new, party, path_id};
use crate::state::AppState;
use crate::types::{AccountRole, ClaimContextQuery};

statement_post! {
    /// A patient buys a product with a signed `purchase_policy`.
    purchase, "/v1/policies", tag = "policies", 201 => forward_new, &[AccountRole::Patient], "purchase_policy"
}

/// The query of policy `policy`.
fn policy_query(policy: String) -> Query {
    Query::Policy { policy }
}

statement_post! {
    /// The insurer accepts purchased policy `id` with a signed `issue_policy`
    /// (no ciphertexts: the ledger computes each covered item's `E(M_i)`).
    issue, "/v1/policies/{id}/issue", tag = "policies", 200, id => forward_as_party::<PolicyState>,
        Expect::ok(&[AccountRole::Insurer], "issue_policy"), policy_query
}

statement_post! {
    /// The insurer declines purchased policy `id` with a signed `decline_policy` and its reason.
    decline, "/v1/policies/{id}/decline", tag = "policies", 200, id => forward_as_party::<PolicyState>,
        Expect::ok(&[AccountRole::Insurer], "decline_policy"), policy_query
}

own_list! {
    /// The caller's policies: a patient's own, or those of an insurer's products.
    list, "/v1/policies", tag = "policies", PolicyState, PoliciesForPatient, PoliciesForInsurer
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
    let policy: PolicyState = party(&state, &caller, &path, policy_query).await?;
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

party_get_one! {
    /// One policy, for its patient or its insurer.
    get_one, "/v1/policies/{id}", tag = "policies", PolicyState, [Patient, Insurer], policy_query
}
