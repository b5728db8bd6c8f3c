//! HTTP handlers, one file per resource. Handlers parse and authorize, call
//! `db/` repository functions or forward to the ledger, and shape responses.

pub mod admin;
pub mod auth;
pub mod claims;
pub mod health;
pub mod identities;
pub mod patients;
pub mod policies;
pub mod products;
pub mod records;
pub mod requests;

use carechain_core::ledger::{Page, PageArgs, Query};

use crate::error::ApiError;
use crate::types::PageQuery;

/// The `after` and `limit` query arguments as a ledger page.
pub(crate) fn page_args(query: &PageQuery) -> Result<PageArgs, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit: expected 1 to 100, found {limit}"
        )));
    }
    let after = query.after.clone().filter(|a| !a.is_empty());
    if after
        .as_deref()
        .is_some_and(|a| a.len() > 64 || a.contains('/'))
    {
        return Err(ApiError::bad_request("after: not a cursor this API issued"));
    }
    Ok(PageArgs::new(after, limit as usize))
}

/// A page of the caller's own objects from a patient- or insurer-keyed ledger
/// list query, for routes open to both roles (policies, claims).
pub(crate) async fn own_page<T: serde::de::DeserializeOwned>(
    state: &crate::state::AppState,
    caller: &crate::auth::Caller,
    query: &PageQuery,
    for_patient: fn(String, PageArgs) -> Query,
    for_insurer: fn(String, PageArgs) -> Query,
) -> Result<Page<T>, ApiError> {
    use crate::types::AccountRole;
    caller.require(&[AccountRole::Patient, AccountRole::Insurer])?;
    let query_of = match caller.role {
        AccountRole::Patient => for_patient,
        _ => for_insurer,
    };
    let page = page_args(query)?;
    crate::forward::query(state, query_of(caller.actor()?.to_owned(), page)).await
}

/// Checks an id taken from the path is a single plausible segment (else 404).
pub(crate) fn path_id(id: &str) -> Result<&str, ApiError> {
    if id.is_empty() || id.len() > 64 || id.contains('/') {
        return Err(ApiError::NotFound);
    }
    Ok(id)
}

/// What a ledger-bound endpoint accepts.
pub(crate) struct Expect {
    /// Roles allowed to call it.
    pub roles: &'static [crate::types::AccountRole],
    /// The statement's action type.
    pub kind: &'static str,
    /// The success status.
    pub status: actix_web::http::StatusCode,
}

/// The common path of a ledger-bound POST: role check, statement bound to the
/// caller and of `kind`, endpoint-specific `check`, then a forward under the
/// caller's required `Idempotency-Key`.
pub(crate) async fn submit_signed(
    state: &actix_web::web::Data<crate::state::AppState>,
    caller: &crate::auth::Caller,
    idem: crate::idempotency::IdempotencyKey,
    body: crate::types::StatementRequest,
    expect: Expect,
    check: impl FnOnce(&carechain_core::statement::Action) -> Result<(), ApiError>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let Expect {
        roles,
        kind,
        status,
    } = expect;
    caller.require(roles)?;
    let statement = crate::forward::check(caller, &body.statement, kind)?;
    check(&statement.act)?;
    let st = state.clone();
    let token = body.statement.clone();
    idem.once_on_ledger(state, &caller.account, &body, || async move {
        let submitted = crate::forward::submit(&st, &token).await?;
        tracing::info!(kind = statement.act.kind(), tx = %submitted.tx_id, "statement forwarded");
        Ok((status, submitted))
    })
    .await
}
