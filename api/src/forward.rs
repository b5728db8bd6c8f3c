//! Forwarding signed statements to the ledger and evaluating queries.
//!
//! The relay never signs. Before forwarding it checks only what binds the
//! statement to the caller — the unverified `iss` equals the caller's actor
//! and the action type matches the endpoint — and leaves signature, expiry
//! and nonce to the contract.
//!
//! A statement sent again after it committed (a client's retry after a lost
//! answer, a timeout or a relay crash) is refused by the contract as a
//! replayed nonce; [`submit`] then answers with the transaction that used
//! the nonce, when that transaction ran this very statement. So a retry gets
//! the first answer from the ledger itself, and the relay stores no answer
//! of its own for ledger-bound requests.

use carechain_core::ledger::{ErrorCode, Query, StatementUse};
use carechain_core::statement::{Action, Statement};
use carechain_ledger::{Committed, LedgerError, Proposal};
use serde::de::DeserializeOwned;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::types::Submitted;

/// Longest statement accepted, bytes.
const MAX_STATEMENT: usize = 1024 * 1024;

/// Parses a statement without verifying it (400 if malformed).
pub fn peek(token: &str) -> Result<Statement, ApiError> {
    if token.len() > MAX_STATEMENT {
        return Err(ApiError::PayloadTooLarge(
            "the statement is too large".into(),
        ));
    }
    Statement::peek(token).map_err(|e| ApiError::bad_request(format!("statement: {e}")))
}

/// Checks that `token` is signed (by claim) by the caller and carries an action of `kind`.
pub fn check(caller: &Caller, token: &str, kind: &str) -> Result<Statement, ApiError> {
    let statement = peek(token)?;
    let actor = caller.actor()?;
    if statement.iss.as_str() != actor {
        return Err(ApiError::forbidden(
            "the statement's issuer is not the authenticated account",
        ));
    }
    if statement.act.kind() != kind {
        return Err(ApiError::forbidden(format!(
            "expected a {kind} statement, found {}",
            statement.act.kind()
        )));
    }
    Ok(statement)
}

/// Submits a statement; returns once the transaction is durable. A
/// statement that committed before is answered with that transaction.
pub async fn submit(state: &AppState, token: &str) -> Result<Submitted, ApiError> {
    let proposal = Proposal::new("submit", [token.as_bytes().to_vec()]);
    let committed = match state.ledger.submit(proposal).await {
        Ok(committed) => committed,
        Err(LedgerError::Refused {
            status,
            code,
            message,
        }) if code == ErrorCode::ReplayedNonce.as_str() => {
            match committed_before(state, token).await? {
                Some(committed) => {
                    crate::idempotency::answered_before();
                    committed
                }
                None => {
                    return Err(ApiError::Ledger {
                        status,
                        code,
                        message,
                    });
                }
            }
        }
        Err(e) => return Err(e.into()),
    };
    let result = serde_json::from_slice(&committed.payload).unwrap_or(serde_json::Value::Null);
    Ok(Submitted {
        tx_id: committed.tx_id,
        block: committed.block,
        result,
    })
}

/// The committed transaction that submitted the statement `token`, found
/// through its nonce; `None` when the nonce was used by another statement.
async fn committed_before(state: &AppState, token: &str) -> Result<Option<Committed>, ApiError> {
    let Ok(claims) = Statement::peek(token) else {
        return Ok(None);
    };
    let (iss, jti) = (claims.iss.to_string(), claims.jti);
    let used: StatementUse = match query(
        state,
        Query::Statement {
            issuer: iss.clone(),
            jti: jti.clone(),
        },
    )
    .await
    {
        Ok(used) => used,
        Err(ApiError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let found = state
        .ledger
        .transaction(
            &used.tx_id,
            &carechain_chaincode::model::keys::nonce(&iss, &jti),
        )
        .await?;
    Ok(found
        .filter(|tx| tx.proposal.function == "submit" && tx.proposal.args == [token.as_bytes()])
        .map(|tx| tx.committed))
}

/// Evaluates a query; a ledger `not_found` becomes a plain 404.
pub async fn query<T: DeserializeOwned>(state: &AppState, query: Query) -> Result<T, ApiError> {
    let function = query.name();
    let bytes = match state
        .ledger
        .evaluate(Proposal::new(function, query.args()))
        .await
    {
        Ok(bytes) => bytes,
        Err(carechain_ledger::LedgerError::Refused { status: 404, .. }) => {
            return Err(ApiError::NotFound);
        }
        Err(e) => return Err(e.into()),
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::internal(format!("ledger answered {function} with bad JSON: {e}")))
}

/// A path id that must equal the statement's object id (400 otherwise).
pub fn same_id(path: &str, in_statement: impl std::fmt::Display) -> Result<(), ApiError> {
    if path == in_statement.to_string() {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "the id in the path differs from the statement's",
        ))
    }
}

/// The action of a peeked statement, for endpoint-specific checks.
pub fn action(statement: &Statement) -> &Action {
    &statement.act
}
