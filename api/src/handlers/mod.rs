//! HTTP handlers, one file per resource. Handlers parse and authorize, call
//! `db/` repository functions or forward to the ledger, and shape responses.

/// Declares a ledger-bound POST: the caller forwards a signed statement
/// under its `Idempotency-Key` and is answered `$status` with the committed
/// transaction. `utoipa` needs the path, the status and the path parameter
/// written out (and sees the route through a `post` imported where the
/// macro is used), so each route is one declaration whose body is one call,
/// `$handler(state, caller, idem, body, [id,] args…)`, of a generic function
/// such as [`forward_new`] or [`forward_as_party`].
macro_rules! statement_post {
    ($(#[doc = $doc:expr])* $name:ident, $path:tt, tag = $tag:tt, $status:tt, id => $handler:path $(, $arg:expr)*) => {
        statement_post! {
            @route [$(#[doc = $doc])*] $name, $path, $tag, $status, [("id" = String, Path),],
            [path: actix_web::web::Path<String>,], $handler, [path.into_inner(), $($arg),*]
        }
    };
    ($(#[doc = $doc:expr])* $name:ident, $path:tt, tag = $tag:tt, $status:tt => $handler:path $(, $arg:expr)*) => {
        statement_post! { @route [$(#[doc = $doc])*] $name, $path, $tag, $status, [], [], $handler, [$($arg),*] }
    };
    (@route [$($doc:tt)*] $name:ident, $path:tt, $tag:tt, $status:tt, [$($param:tt)*], [$($extractor:tt)*], $handler:path, [$($arg:expr),* $(,)?]) => {
        $($doc)*
        #[utoipa::path(tag = $tag, security(("bearer" = [])), request_body = crate::types::StatementRequest,
            params($($param)* ("Idempotency-Key" = String, Header, description = "required")),
            responses((status = $status, body = crate::types::Submitted), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
        #[post($path)]
        pub async fn $name(
            state: actix_web::web::Data<crate::state::AppState>,
            caller: crate::auth::Caller,
            idem: crate::idempotency::IdempotencyKey,
            $($extractor)*
            body: actix_web::web::Json<crate::types::StatementRequest>,
        ) -> Result<actix_web::HttpResponse, crate::error::ApiError> {
            $handler(state, caller, idem, body.into_inner(), $($arg),*).await
        }
    };
}

/// `GET {path}`: one ledger object of type `$state` (fetched by `$query`) for
/// a caller with one of `roles` who is party to it; 404 to anyone else.
macro_rules! party_get_one {
    ($(#[doc = $doc:expr])* $name:ident, $path:tt, tag = $tag:tt, $state:ident, [$($role:ident),+], $query:path) => {
        $(#[doc = $doc])*
        #[utoipa::path(get, path = $path, operation_id = concat!($tag, "_", stringify!($name)), tag = $tag, security(("bearer" = [])), params(("id" = String, Path)),
            responses((status = 200, body = carechain_core::ledger::$state), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
        #[actix_web::get($path)]
        pub async fn $name(
            state: actix_web::web::Data<crate::state::AppState>,
            caller: crate::auth::Caller,
            path: actix_web::web::Path<String>,
        ) -> Result<actix_web::HttpResponse, crate::error::ApiError> {
            let roles = [$(crate::types::AccountRole::$role),+];
            crate::handlers::party_get::<carechain_core::ledger::$state>(&state, &caller, &roles, &path, $query).await
        }
    };
}

/// `GET {path}`: a page of the caller's own `$state` objects, a patient's from
/// query `$for_patient`, an insurer's from `$for_insurer`.
macro_rules! own_list {
    ($(#[doc = $doc:expr])* $name:ident, $path:tt, tag = $tag:tt, $state:ident, $for_patient:ident, $for_insurer:ident) => {
        $(#[doc = $doc])*
        #[utoipa::path(get, path = $path, operation_id = concat!($tag, "_", stringify!($name)), tag = $tag, security(("bearer" = [])), params(crate::types::PageQuery),
            responses((status = 200, body = carechain_core::ledger::Page<carechain_core::ledger::$state>), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
        #[actix_web::get($path)]
        pub async fn $name(
            state: actix_web::web::Data<crate::state::AppState>,
            caller: crate::auth::Caller,
            query: actix_web::web::Query<crate::types::PageQuery>,
        ) -> Result<actix_web::HttpResponse, crate::error::ApiError> {
            use carechain_core::ledger::Query;
            let page: carechain_core::ledger::Page<carechain_core::ledger::$state> = crate::handlers::own_page(
                &state,
                &caller,
                &query,
                |patient, page| Query::$for_patient { patient, page },
                |insurer, page| Query::$for_insurer { insurer, page },
            )
            .await?;
            Ok(actix_web::HttpResponse::Ok().json(page))
        }
    };
}

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

use std::future::{Future, Ready, ready};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use carechain_core::ledger::{AccessRequestState, ClaimState, Page, PageArgs, PolicyState, Query};
use carechain_core::statement::Action;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::forward;
use crate::idempotency::IdempotencyKey;
use crate::state::AppState;
use crate::types::{AccountRole, PageQuery, StatementRequest, Submitted};

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

/// Refuses a `status` filter on a list that has none (400, rather than an
/// answer that silently ignores it).
pub(crate) fn unfiltered(query: &PageQuery) -> Result<(), ApiError> {
    match &query.status {
        None => Ok(()),
        Some(found) => Err(ApiError::bad_request(format!(
            "status: this list has no status filter, found {found:?}"
        ))),
    }
}

/// A page of a ledger list query about the caller (who must have one of
/// `roles`), built by `query_of` from the caller's role, actor and the page.
pub(crate) async fn caller_page<T: DeserializeOwned + Serialize>(
    state: &AppState,
    caller: &Caller,
    roles: &[AccountRole],
    query: &PageQuery,
    query_of: impl FnOnce(AccountRole, String, PageArgs) -> Query,
) -> Result<HttpResponse, ApiError> {
    caller.require(roles)?;
    unfiltered(query)?;
    let page = page_args(query)?;
    let query = query_of(caller.role, caller.actor()?.to_owned(), page);
    let page: Page<T> = forward::query(state, query).await?;
    Ok(HttpResponse::Ok().json(page))
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
    unfiltered(query)?;
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

/// A ledger object two actors are party to, each of whom may read it.
pub(crate) trait Parties: DeserializeOwned {
    /// The two parties' actor ids.
    fn parties(&self) -> [&str; 2];
}

impl Parties for ClaimState {
    fn parties(&self) -> [&str; 2] {
        [self.patient.as_str(), self.insurer.as_str()]
    }
}

impl Parties for PolicyState {
    fn parties(&self) -> [&str; 2] {
        [self.patient.as_str(), self.insurer.as_str()]
    }
}

impl Parties for AccessRequestState {
    fn parties(&self) -> [&str; 2] {
        [self.patient.as_str(), self.doctor.as_str()]
    }
}

/// Loads object `id` (through `query_of`) if the caller is party to it; 404
/// otherwise, as for an id that does not exist.
pub(crate) async fn party<T: Parties>(
    state: &AppState,
    caller: &Caller,
    id: &str,
    query_of: fn(String) -> Query,
) -> Result<T, ApiError> {
    let object: T = forward::query(state, query_of(path_id(id)?.to_owned())).await?;
    if !object.parties().contains(&caller.actor()?) {
        return Err(ApiError::NotFound);
    }
    Ok(object)
}

/// Answers object `id` to a caller with one of `roles` who is party to it.
pub(crate) async fn party_get<T: Parties + Serialize>(
    state: &AppState,
    caller: &Caller,
    roles: &[AccountRole],
    id: &str,
    query_of: fn(String) -> Query,
) -> Result<HttpResponse, ApiError> {
    caller.require(roles)?;
    let object: T = party(state, caller, id, query_of).await?;
    Ok(HttpResponse::Ok().json(object))
}

/// What a ledger-bound endpoint accepts.
pub(crate) struct Expect {
    /// Roles allowed to call it.
    pub roles: &'static [AccountRole],
    /// The statement's action type.
    pub kind: &'static str,
    /// The success status.
    pub status: StatusCode,
}

impl Expect {
    /// A `kind` statement from a caller with one of `roles`, answered 200.
    pub(crate) const fn ok(roles: &'static [AccountRole], kind: &'static str) -> Expect {
        Expect {
            roles,
            kind,
            status: StatusCode::OK,
        }
    }
}

/// Checks that the statement's object is the path's `id` (400 otherwise).
fn bound_to(id: &str, act: &Action) -> Result<(), ApiError> {
    match act {
        Action::IssuePolicy(p) => forward::same_id(id, p.policy),
        Action::DeclinePolicy(p) => forward::same_id(id, p.policy),
        Action::MarkPaid(p) => forward::same_id(id, p.claim),
        Action::Grant(g) => forward::same_id(id, g.request),
        Action::Deny(d) => forward::same_id(id, d.request),
        Action::Revoke(r) => forward::same_id(id, r.request),
        Action::ReadRecord(r) => forward::same_id(id, r.record),
        other => Err(ApiError::forbidden(format!(
            "expected a statement about the object in the path, found {}",
            other.kind()
        ))),
    }
}

/// The ledger's answer as it came, for [`forward_signed`].
pub(crate) fn as_submitted(
    _: web::Data<AppState>,
    submitted: Result<Submitted, ApiError>,
) -> Ready<Result<Submitted, ApiError>> {
    ready(submitted)
}

/// The path every ledger-bound POST shares: role check, statement bound to
/// the caller, of `expect.kind` and about the path's `id` (if any), then a
/// forward under the caller's required `Idempotency-Key`, whose result
/// (answer or refusal) `answer` turns into the response body.
pub(crate) async fn forward_signed<T, A, Fut>(
    state: &web::Data<AppState>,
    caller: &Caller,
    idem: IdempotencyKey,
    body: StatementRequest,
    expect: Expect,
    id: Option<&str>,
    answer: A,
) -> Result<HttpResponse, ApiError>
where
    T: Serialize,
    A: FnOnce(web::Data<AppState>, Result<Submitted, ApiError>) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let Expect {
        roles,
        kind,
        status,
    } = expect;
    caller.require(roles)?;
    let id = id.map(path_id).transpose()?;
    let statement = forward::check(caller, &body.statement, kind)?;
    if let Some(id) = id {
        bound_to(id, &statement.act)?;
    }
    let st = state.clone();
    let token = body.statement.clone();
    idem.once_on_ledger(state, &caller.account, &body, || async move {
        let submitted = forward::submit(&st, &token).await;
        if let Ok(submitted) = &submitted {
            tracing::info!(kind, tx = %submitted.tx_id, "statement forwarded");
        }
        Ok((status, answer(st, submitted).await?))
    })
    .await
}

/// A POST that creates an object: a caller with one of `roles` forwards a
/// signed `kind` statement, answered 201 with the committed transaction.
pub(crate) async fn forward_new(
    state: web::Data<AppState>,
    caller: Caller,
    idem: IdempotencyKey,
    body: StatementRequest,
    roles: &'static [AccountRole],
    kind: &'static str,
) -> Result<HttpResponse, ApiError> {
    let expect = Expect {
        roles,
        kind,
        status: StatusCode::CREATED,
    };
    forward_signed(&state, &caller, idem, body, expect, None, as_submitted).await
}

/// A POST on object `id` (loaded through `query_of`) by a party to it with
/// one of `expect.roles`: a non-party gets 404 before the statement is read;
/// a party's signed statement about `id` is forwarded.
pub(crate) async fn forward_as_party<T: Parties>(
    state: web::Data<AppState>,
    caller: Caller,
    idem: IdempotencyKey,
    body: StatementRequest,
    id: String,
    expect: Expect,
    query_of: fn(String) -> Query,
) -> Result<HttpResponse, ApiError> {
    caller.require(expect.roles)?;
    party::<T>(&state, &caller, &id, query_of).await?;
    forward_signed(&state, &caller, idem, body, expect, Some(&id), as_submitted).await
}
