//! Stored responses for `Idempotency-Key`.

use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::models::IdempotencyRecord;
use crate::db::schema::idempotency_keys;
use crate::error::ApiError;

/// Status of a claimed key whose request is still running.
pub const IN_PROGRESS: &str = "in_progress";
/// Status of a key with a stored response.
pub const DONE: &str = "done";

/// The record for `(scope, key)`.
pub fn get(
    conn: &mut DbConnection,
    scope: &str,
    key: &str,
) -> Result<Option<IdempotencyRecord>, ApiError> {
    Ok(idempotency_keys::table
        .find((scope, key))
        .select(IdempotencyRecord::as_select())
        .first(conn)
        .optional()?)
}

/// Claims a key for a request; false if it is already taken.
///
/// The claim is committed without waiting for the disk (SQLite
/// `synchronous = NORMAL`, PostgreSQL `synchronous_commit = off`): the
/// [`complete`] that follows is a durable commit and, the log being
/// sequential, makes the claim durable with it. A power loss in between can
/// lose only the in-progress marker of a request whose answer was never
/// stored; its retry then runs again, and a ledger-bound retry is refused by
/// the ledger's own replay check on the statement's `jti`. This halves the
/// synced commits of every idempotent POST.
pub fn claim(conn: &mut DbConnection, record: &IdempotencyRecord) -> Result<bool, ApiError> {
    let insert = |conn: &mut DbConnection| match diesel::insert_into(idempotency_keys::table)
        .values(record)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e),
    };
    // Per-connection settings, restored even when the insert failed: the
    // pooled connection is reused.
    let (relax, restore) = match conn {
        DbConnection::Sqlite(_) => ("PRAGMA synchronous = NORMAL", "PRAGMA synchronous = FULL"),
        DbConnection::Pg(_) => ("SET synchronous_commit TO OFF", "RESET synchronous_commit"),
    };
    conn.batch_execute(relax)?;
    let claimed = insert(conn);
    conn.batch_execute(restore)?;
    let claimed = claimed?;
    Ok(claimed)
}

/// Stores the response of a claimed key.
pub fn complete(
    conn: &mut DbConnection,
    scope: &str,
    key: &str,
    status_code: i32,
    body: &str,
) -> Result<(), ApiError> {
    diesel::update(idempotency_keys::table.find((scope, key)))
        .set((
            idempotency_keys::status.eq(DONE),
            idempotency_keys::status_code.eq(status_code),
            idempotency_keys::response_body.eq(body),
        ))
        .execute(conn)?;
    Ok(())
}

/// Releases a claimed key (the request failed in a way worth retrying).
pub fn release(conn: &mut DbConnection, scope: &str, key: &str) -> Result<(), ApiError> {
    diesel::delete(idempotency_keys::table.find((scope, key))).execute(conn)?;
    Ok(())
}
