//! Administration: list, approve and suspend accounts (approval and
//! suspension forward the admin's signed statements), and the audit trail of
//! ledger transaction metadata — never payloads.

use actix_web::{HttpResponse, get, http::StatusCode, post, web};
use carechain_core::ledger::{ErrorCode, Identity, Query};
use carechain_core::statement::Action;

use crate::auth::Caller;
use crate::db::models::Account;
use crate::db::{self, accounts, tokens as token_db};
use crate::error::ApiError;
use crate::forward;
use crate::handlers::auth::view;
use crate::handlers::path_id;
use crate::idempotency::IdempotencyKey;
use crate::state::AppState;
use crate::types::{
    AccountPage, AccountRole, AuditEntry, AuditPage, PageQuery, StatementRequest, Submitted, status,
};

/// Accounts, optionally filtered by status (e.g. `pending`), with their public keys.
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = AccountPage), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
#[get("/v1/admin/accounts")]
pub async fn list_accounts(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Admin])?;
    let page = crate::handlers::page_args(&query)?;
    let (after, limit) = (page.after.unwrap_or_default(), page.limit as i64);
    let status = query.status.clone();
    if let Some(found) = status.as_deref()
        && ![status::PENDING, status::ACTIVE, status::SUSPENDED].contains(&found)
    {
        return Err(ApiError::bad_request(format!(
            "status: expected pending, active or suspended, found {found:?}"
        )));
    }
    let items = db::run(&state.pool, move |conn| {
        let rows = accounts::list(
            conn,
            status.as_deref(),
            Some(after.as_str()).filter(|a| !a.is_empty()),
            limit,
        )?;
        rows.into_iter()
            .map(|a| {
                let device = accounts::device_of(conn, &a.id)?;
                Ok(view(a, device))
            })
            .collect::<Result<Vec<_>, ApiError>>()
    })
    .await?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|a| a.id.clone()))
        .flatten();
    Ok(HttpResponse::Ok().json(AccountPage { items, next }))
}

/// What an admin does to an account with a signed statement.
#[derive(Clone, Copy)]
enum AccountAct {
    /// Approve a pending doctor or insurer (`register_identity`).
    Approve,
    /// Suspend any account (`suspend_identity`).
    Suspend,
}

impl AccountAct {
    /// The statement's action type.
    fn kind(self) -> &'static str {
        match self {
            Self::Approve => "register_identity",
            Self::Suspend => "suspend_identity",
        }
    }

    /// Checks that `account` may be acted on: only a pending account is approved.
    fn admit(self, account: &Account) -> Result<(), ApiError> {
        match self {
            Self::Approve if account.status != status::PENDING => Err(ApiError::Conflict(format!(
                "the account is {}, not pending",
                account.status
            ))),
            _ => Ok(()),
        }
    }

    /// Checks that the statement's `act` is this act about `account`.
    fn about(self, account: &Account, act: &Action) -> Result<(), ApiError> {
        let actor = account.actor_id.as_deref();
        match (self, act) {
            (Self::Approve, Action::RegisterIdentity(reg)) => {
                let role_matches = AccountRole::parse(&account.role).map(AccountRole::ledger_role)
                    == Some(reg.role);
                if role_matches && actor == Some(reg.signing_key.actor_id().as_str()) {
                    Ok(())
                } else {
                    Err(ApiError::bad_request(
                        "the statement must register this account's signing key and role",
                    ))
                }
            }
            (Self::Suspend, Action::SuspendIdentity(s)) if actor == Some(s.actor.as_str()) => {
                Ok(())
            }
            (Self::Suspend, Action::SuspendIdentity(_)) => Err(ApiError::bad_request(
                "the statement must suspend this account's actor",
            )),
            _ => Err(ApiError::forbidden(format!(
                "expected a {} statement",
                self.kind()
            ))),
        }
    }
}

statement_post! {
    /// Approves a pending doctor or insurer and forwards the admin-signed
    /// `register_identity` of the account's registered keys.
    approve, "/v1/admin/accounts/{id}/approve", tag = "admin", 200, id => account_act, AccountAct::Approve
}

statement_post! {
    /// Suspends an account and forwards the admin-signed `suspend_identity`.
    suspend, "/v1/admin/accounts/{id}/suspend", tag = "admin", 200, id => account_act, AccountAct::Suspend
}

/// The body of [`approve`] and [`suspend`]: checks the account and the
/// admin's statement, forwards it once, then records the account's new status.
async fn account_act(
    state: web::Data<AppState>,
    caller: Caller,
    idem: IdempotencyKey,
    body: StatementRequest,
    id: String,
    act: AccountAct,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Admin])?;
    let id = path_id(&id)?.to_owned();
    let account = db::run(&state.pool, move |conn| accounts::by_id(conn, &id))
        .await?
        .ok_or(ApiError::NotFound)?;
    act.admit(&account)?;
    let statement = forward::check(&caller, &body.statement, act.kind())?;
    act.about(&account, &statement.act)?;
    let st = state.clone();
    let token = body.statement.clone();
    idem.once(&state, &caller.account, true, &body, || async move {
        let submitted = match act {
            AccountAct::Approve => approve_on_ledger(&st, &token, &account).await?,
            AccountAct::Suspend => forward::submit(&st, &token).await?,
        };
        let (id, now) = (account.id.clone(), db::now());
        db::run(&st.pool, move |conn| match act {
            AccountAct::Approve => accounts::set_status(conn, &id, status::ACTIVE).map(drop),
            AccountAct::Suspend => {
                accounts::set_status(conn, &id, status::SUSPENDED)?;
                token_db::revoke_account(conn, &id, now)
            }
        })
        .await?;
        if let AccountAct::Suspend = act {
            st.active.forget(&account.id);
        }
        tracing::info!(account = %account.id, status = act.kind(), "account status changed");
        Ok((StatusCode::OK, submitted))
    })
    .await
}

/// Forwards an approval's `register_identity`. An earlier approval that
/// committed on the ledger but stopped before the account was activated is
/// finished if the ledger holds this account's key in its role.
async fn approve_on_ledger(
    state: &AppState,
    token: &str,
    account: &Account,
) -> Result<Submitted, ApiError> {
    match forward::submit(state, token).await {
        Err(ApiError::Ledger { code, .. }) if code == ErrorCode::AlreadyExists.as_str() => {
            let actor = account.actor_id.clone().unwrap_or_default();
            let identity: Identity = forward::query(
                state,
                Query::Identity {
                    actor: actor.clone(),
                },
            )
            .await?;
            if Some(identity.role)
                != AccountRole::parse(&account.role).map(AccountRole::ledger_role)
            {
                return Err(ApiError::Conflict("another identity holds this key".into()));
            }
            Ok(Submitted {
                tx_id: String::new(),
                block: 0,
                result: serde_json::json!({ "actor": actor, "adopted": true }),
            })
        }
        other => other,
    }
}

/// The audit trail: per transaction its id, time, action kind and signer, by block.
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
#[get("/v1/admin/audit")]
pub async fn audit(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Admin])?;
    crate::handlers::unfiltered(&query)?;
    let page = crate::handlers::page_args(&query)?;
    let (after, limit) = (page.after.unwrap_or_default(), page.limit);
    let first = match after.as_str() {
        "" => 1,
        text => text
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request("after: expected a block number"))?
            .saturating_add(1),
    };
    let limit = limit as u64;
    let height = state.ledger.height().await?;
    // Blocks [first, end) of the height read now: a block committed meanwhile
    // goes to the next page, not this one.
    let end = height.min(first.saturating_add(limit));
    let items = state
        .ledger
        .transactions(first, end.saturating_sub(first))
        .await?
        .into_iter()
        .map(|tx| AuditEntry {
            block: tx.block,
            tx_id: tx.tx_id,
            time: tx.timestamp.seconds,
            action: tx.action,
            signer: tx.creator,
            valid: tx.valid,
            error_code: tx.error_code,
        })
        .collect();
    let next = (end < height && end > first).then(|| (end - 1).to_string());
    Ok(HttpResponse::Ok().json(AuditPage { items, next }))
}
